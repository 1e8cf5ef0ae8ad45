"""The one training loop. The forecaster, the value network and the describer (its encoder
warm-up and each curriculum stage) plug a `Job` into `train_loop`, the way
``mlx_lm.tuner.trainer.train`` takes a model, a loss and batches: the job runs one optimizer
step, evaluates, logs and checkpoints; the loop decides when, draws the progress bar, stops
cleanly on Ctrl-C (a checkpoint at the step where it stopped, then ``common.Interrupted``)
and keeps data-parallel ranks in step.

`compiled_step` builds the job's optimizer step the same way for every model: loss and
gradients, the data-parallel reduction, clipping, the update and an optional EMA copy, as one
compiled function over explicit state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
from mlx.utils import tree_map
from tqdm import tqdm

from sadt.train import common


@dataclass(frozen=True)
class Cadence:
    """Every how many steps the loop logs, evaluates and writes a checkpoint."""

    log_every: int
    eval_every: int
    checkpoint_every: int


class Job(Protocol):
    """What a trainer plugs into `train_loop`."""

    name: str  # the progress bar's label

    def train_step(self, index: int) -> dict[str, float]:
        """Run optimizer step ``index + 1`` (0-based ``index``); its scalars, the same on
        every rank."""

    def evaluate(self) -> dict | None:
        """Held-out figures for the log (None: nothing to evaluate)."""

    def log(self, record: dict) -> None:
        """Write or print one log record (rank 0 only)."""

    def checkpoint(self, step: int) -> None:
        """Save the training state: called on every rank at a checkpoint (the ranks agree
        on where they are); rank 0 alone writes the file."""

    def where(self, step: int) -> str:
        """The position in words for messages ("step 120", "captions step 120")."""

    @property
    def checkpoint_path(self) -> str: ...


def train_loop(
    job: Job,
    first: int,
    end: int,
    total: int,
    cadence: Cadence,
    world,
    *,
    stop: common.StopOnInterrupt | None = None,
    on_step: Callable[[int], None] | None = None,
    log_first: bool = False,
    quiet: bool = False,
) -> list[dict]:
    """Train steps ``first + 1 .. end`` of a run of ``total`` steps; the records, one per step.

    Evaluates every ``eval_every`` steps and at ``total``; logs every ``log_every`` steps, at
    an evaluation, at ``end`` and at a stop (and at step 1 with ``log_first``); checkpoints
    every ``checkpoint_every`` steps, at ``end`` and at ``total``. Ctrl-C: the step under way
    finishes, a checkpoint is written at it, and ``common.Interrupted`` is raised (``stop``
    is the caller's handler when it spans several loops). ``on_step(step)`` follows each step.
    """
    history: list[dict] = []
    bar = tqdm(
        total=total,
        initial=first,
        desc=job.name,
        dynamic_ncols=True,
        mininterval=1.0,
        disable=quiet or not world.is_main,
    )
    handler = nullcontext(stop) if stop is not None else common.StopOnInterrupt(world)
    with bar, handler as stop:
        for index in range(first, end):
            step = index + 1
            record = {"step": step, **job.train_step(index)}
            bar.update(1)
            if on_step is not None:
                on_step(step)
            # Asked on every rank at every step, so that all ranks stop at the same one.
            stopping = stop.requested() and step < end
            evaluated = step % cadence.eval_every == 0 or step == total
            if evaluated:
                record |= job.evaluate() or {}
            log_now = step % cadence.log_every == 0 or evaluated or step == end or stopping
            if (log_now or (log_first and step == 1)) and world.is_main:
                bar.set_postfix(_postfix(record))
                job.log(record)
            if step % cadence.checkpoint_every == 0 or step in (end, total) or stopping:
                job.checkpoint(step)
            history.append(record)
            if stopping:
                where = job.where(step)
                raise common.Interrupted(common.interrupted_message(where, job.checkpoint_path))
    return history


def _postfix(record: dict) -> dict:
    """The bar's few figures: the training losses and the validation total, not every
    source's."""
    shown = {
        k: f"{v:.4g}"
        for k, v in record.items()
        if isinstance(v, float) and (not k.startswith(("val_", "held_out_")) or k == "val_loss")
    }
    return dict(list(shown.items())[:4])


class Clock:
    """Elapsed time and rate since a loop began (for log records)."""

    def __init__(self, first_step: int) -> None:
        self.tic, self.first = time.perf_counter(), first_step

    def elapsed(self) -> float:
        return time.perf_counter() - self.tic

    def rate(self, step: int) -> float:
        return (step - self.first) / max(self.elapsed(), 1e-9)


# -- the optimizer step ----------------------------------------------------------------------


def average_across_ranks(outputs: tuple, grads):
    """The default data-parallel reduction: the mean of the ranks' gradients (a no-op on one
    process); the outputs are this rank's."""
    return outputs, nn.average_gradients(grads)


def compiled_step(
    model: nn.Module,
    loss: Callable,
    optimizer: optim.Optimizer,
    *,
    grad_clip: float = 0.0,
    reduce: Callable = average_across_ranks,
    ema: nn.Module | None = None,
    ema_decay: float = 0.999,
) -> tuple[Callable, list]:
    """``(step, state)``: ``step(*batch)`` computes ``loss(model, *batch)`` (a tuple whose
    first entry is differentiated) and its gradients, reduces them across ranks with
    ``reduce(outputs, grads)``, clips their global norm to ``grad_clip`` (0: no clipping),
    updates ``model`` and, given ``ema``, moves that copy towards it (decay
    ``min(ema_decay, (1 + t) / (10 + t))`` at optimizer step t). It returns the outputs.
    ``state`` lists what the compiled function reads and writes; ``mx.random.state`` (dropout)
    is part of it, so seeding it before each call makes a run repeatable."""
    loss_and_grad = nn.value_and_grad(model, loss)
    state = [model.state, optimizer.state, mx.random.state]
    if ema is not None:
        state.insert(1, ema.state)

    @partial(mx.compile, inputs=state, outputs=state)
    def step(*batch):
        outputs, grads = loss_and_grad(model, *batch)
        outputs, grads = reduce(outputs, grads)
        if grad_clip > 0:
            grads, _ = optim.clip_grad_norm(grads, grad_clip)
        optimizer.update(model, grads)
        if ema is not None:
            t = optimizer.state["step"].astype(mx.float32)
            decay = mx.minimum(ema_decay, (1.0 + t) / (10.0 + t))
            ema.update(
                tree_map(
                    lambda e, p: decay * e + (1.0 - decay) * p, ema.parameters(), model.parameters()
                )
            )
        return outputs

    return step, state
