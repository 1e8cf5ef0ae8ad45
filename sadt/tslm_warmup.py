"""Encoder warm-up: teach the patch encoder the synthetic attributes before the curriculum.

Through the LLM, a caption supervises each attribute with one token in ~45 whose
wording is random, and a multiple-choice question gives one label per example.
Directly, every series labels all six attributes (``sadt.tslm_data.ATTRIBUTE_NAMES``)
and a step costs ~10x less (no LLM). Measured on the tiny describer after the same
2000 curriculum steps (bench/describe_eval.py): without warm-up only the trend was
stated right more often than the prompt text alone manages (mean attribute accuracy
0.51 vs 0.40 with zeroed soft tokens, 60 series); with 3000 warm-up steps (8 min on
2 CPU cores) 0.92 vs 0.34 (200 series).

A throwaway ``AttributeHead`` (mean of the encoder's real tokens -> one linear layer)
reads the encoder during warm-up and is never saved; the TSLM keeps the encoder.
Every batch and random state is a function of (seed, step), like the curriculum's.
"""

from __future__ import annotations

import time
from functools import partial

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
from mlx.nn.utils import average_gradients

from sadt.patch_encoder import pad_to_patches
from sadt.tslm_data import ATTRIBUTE_NAMES, attribute_batch, attribute_classes

WARMUP_STREAM = 20_000  # seed stream of the warm-up, apart from the curriculum stages


def warmup_cosine(lr: float, warmup: int, steps: int):
    """Learning rate: linear warmup to ``lr``, then cosine decay to 5% of it at ``steps``."""
    warmup = max(1, min(warmup, steps))
    decay = optim.cosine_decay(lr, max(1, steps - warmup), lr * 0.05)
    return optim.join_schedules([optim.linear_schedule(0.0, lr, warmup), decay], [warmup])


def step_seed(seed: int, stream: int, step: int) -> int:
    """The random seed of one training step (dropout masks), from its coordinates."""
    return int(np.random.SeedSequence([seed, stream, step]).generate_state(1)[0])


class AttributeHead(nn.Module):
    """Mean of the encoder's real tokens -> logits of every attribute (warm-up only)."""

    def __init__(self, encoder, classes: tuple[int, ...]):
        super().__init__()
        self.encoder = encoder  # the TSLM's own encoder: warm-up updates it in place
        self.linear = nn.Linear(encoder.config.channels, sum(classes))

    def __call__(self, series, mask) -> mx.array:  # (B, L), (B, L) -> (B, sum(classes))
        features, token_mask = self.encoder(series, mask)
        m = token_mask.astype(features.dtype)[..., None]
        return self.linear((features * m).sum(axis=1) / m.sum(axis=1))


def warm_up_encoder(
    tslm,
    steps: int,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.01,
    seed: int = 0,
    synthetic: dict | None = None,
    report_every: int = 100,
    shard: slice = slice(None),
    verbose: bool = True,
) -> dict:
    """Train ``tslm.encoder`` to classify the attributes; returns held-out accuracy each.

    Data-parallel ranks pass ``shard``, their rows of each (global) batch: equal shares,
    so the mean of the ranks' gradients (``average_gradients``) is the global batch's.
    """
    from sadt.synthetic import SyntheticConfig

    config = SyntheticConfig.from_dict(synthetic or {})
    classes = attribute_classes(tuple(config.periods))
    edges = list(zip(np.cumsum((0, *classes))[:-1], np.cumsum(classes), strict=True))
    model = AttributeHead(tslm.encoder, classes)

    def attribute_loss(model, series, mask, targets):
        logits = model(series, mask)
        losses = [
            nn.losses.cross_entropy(logits[:, a:b], targets[:, i]).mean()
            for i, (a, b) in enumerate(edges)
        ]
        return sum(losses) / len(losses)

    schedule = warmup_cosine(learning_rate, steps // 20, steps)
    optimizer = optim.AdamW(learning_rate=schedule, weight_decay=weight_decay)
    loss_and_grad = nn.value_and_grad(model, attribute_loss)
    state = [model.state, optimizer.state, mx.random.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(series, mask, targets):
        loss, grads = loss_and_grad(model, series, mask, targets)
        optimizer.update(model, average_gradients(grads))
        return loss

    def arrays(values: list) -> tuple[mx.array, mx.array]:
        rows = [pad_to_patches(tslm.prompts.view(v).values, tslm.config.encoder) for v in values]
        series = mx.array(np.stack(rows))  # one length per batch: no padding
        return series, mx.ones(series.shape, dtype=mx.bool_)

    tslm.train()
    losses, tic = [], time.perf_counter()
    for k in range(steps):
        values, targets = attribute_batch(seed, k, batch_size, config)
        values, targets = values[shard], targets[shard]
        mx.random.seed(step_seed(seed, WARMUP_STREAM, k))
        loss = step(*arrays(values), mx.array(targets))
        mx.eval(state, loss)
        losses.append(loss.item())
        if verbose and ((k + 1) % report_every == 0 or k + 1 == steps):
            rate = (k + 1) / (time.perf_counter() - tic)
            print(f"[encoder warm-up {k + 1}/{steps}] loss {np.mean(losses[-50:]):.3f} "
                  f"it/s {rate:.2f}", flush=True)  # fmt: skip
    tslm.eval()
    hits = []
    for k in range(4):  # held-out batches (another seed)
        values, targets = attribute_batch(seed + 1, 10_000 + k, 64, config)
        logits = model(*arrays(values))
        hits.append([
            (mx.argmax(logits[:, a:b], axis=1) == mx.array(targets[:, i])).tolist()
            for i, (a, b) in enumerate(edges)
        ])  # fmt: skip
    accuracy = {
        name: float(np.mean([h[i] for h in hits])) for i, name in enumerate(ATTRIBUTE_NAMES)
    }
    if verbose:
        print("[encoder warm-up] held-out accuracy " + " ".join(
        f"{k} {v:.2f}" for k, v in accuracy.items()), flush=True)  # fmt: skip
    return accuracy
