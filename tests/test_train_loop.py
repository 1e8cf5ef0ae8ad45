"""The one training loop (sadt/train/loop.py): when it evaluates, logs and checkpoints, how it
stops, and the compiled optimizer step every trainer builds with it."""

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
import pytest

from sadt.train import common, distributed, loop


class CountingJob:
    """A job that records what the loop asked of it (its 'step' is arithmetic)."""

    name = "count"
    checkpoint_path = "nowhere"

    def __init__(self) -> None:
        self.steps, self.evaluations, self.logged, self.checkpoints = [], [], [], []

    def train_step(self, index):
        self.steps.append(index)
        return {"loss": 1.0 / (index + 1)}

    def evaluate(self):
        self.evaluations.append(len(self.steps))
        return {"val_loss": 0.5}

    def log(self, record):
        self.logged.append(record["step"])

    def checkpoint(self, step):
        self.checkpoints.append(step)

    def where(self, step):
        return f"count step {step}"


def test_the_loop_runs_its_steps_on_cadence():
    job, world = CountingJob(), distributed.init()
    cadence = loop.Cadence(log_every=4, eval_every=5, checkpoint_every=3)
    history = loop.train_loop(job, 2, 9, 10, cadence, world, quiet=True)
    assert job.steps == list(range(2, 9))  # steps 3..9 of a run of 10
    assert [r["step"] for r in history] == list(range(3, 10))
    assert job.evaluations == [3]  # step 5 (the third step of this call); 10 is not reached
    assert history[2]["val_loss"] == 0.5 and "val_loss" not in history[1]
    assert job.logged == [4, 5, 8, 9]  # every 4, the evaluation, the end
    assert job.checkpoints == [3, 6, 9]  # every 3 and the end


def test_the_last_step_of_a_run_evaluates_and_checkpoints():
    job = CountingJob()
    cadence = loop.Cadence(log_every=100, eval_every=100, checkpoint_every=100)
    loop.train_loop(job, 0, 7, 7, cadence, distributed.init(), quiet=True, log_first=True)
    assert job.evaluations == [7] and job.checkpoints == [7] and job.logged == [1, 7]


def test_a_stop_request_checkpoints_where_it_stopped_and_says_how_to_resume():
    job = CountingJob()
    cadence = loop.Cadence(log_every=100, eval_every=100, checkpoint_every=100)
    with common.StopOnInterrupt() as stop:

        def on_step(step):
            if step == 4:
                stop._handle(None, None)  # what Ctrl-C does

        with pytest.raises(common.Interrupted, match="at count step 4; checkpoint saved to "):
            loop.train_loop(job, 0, 10, 10, cadence, distributed.init(), stop=stop,
                            on_step=on_step, quiet=True)  # fmt: skip
    assert job.steps == [0, 1, 2, 3] and job.checkpoints == [4] and job.logged == [4]


def test_the_compiled_step_clips_updates_and_keeps_an_ema():
    mx.random.seed(0)
    model, ema = nn.Linear(3, 1), nn.Linear(3, 1)
    ema.update(model.parameters())
    start = {k: np.array(v) for k, v in dict(_flat(model)).items()}

    def loss(m, x, y):
        error = m(x) - y
        return (error.square().mean(), error.abs().mean())

    optimizer = optim.SGD(learning_rate=0.1)
    step, _ = loop.compiled_step(model, loss, optimizer, grad_clip=0.01, ema=ema, ema_decay=0.9)
    x, y = mx.ones((4, 3)), mx.full((4, 1), 100.0)
    value, aux = step(x, y)
    mx.eval(value, aux, model.parameters(), ema.parameters())
    moved = {k: np.array(v) - start[k] for k, v in dict(_flat(model)).items()}
    # The gradient's global norm is clipped to 0.01: SGD moves the weights by 0.1 x that.
    norm = np.sqrt(sum(float((d**2).sum()) for d in moved.values()))
    assert norm == pytest.approx(0.001, rel=1e-3)
    assert float(aux) > 99  # the loss's second output comes back as it was computed
    # The EMA starts at decay min(0.9, (1 + 1) / (10 + 1)) after the first update.
    decay = min(0.9, 2 / 11)
    for key, weights in dict(_flat(ema)).items():
        expected = decay * start[key] + (1 - decay) * (start[key] + moved[key])
        np.testing.assert_allclose(np.array(weights), expected, rtol=1e-5, atol=1e-7)


def _flat(module):
    from mlx.utils import tree_flatten

    return tree_flatten(module.parameters())
