"""Learn S-ADT's value network F_phi from DTS search trees.

    sadt train value --config train/configs/value.yaml [--key value ...] [--resume]

Two phases, both resumable:
1. harvest: run DTS on many training contexts, each with randomly drawn reward weights
   (gamma, band weights, lam, horizon), and append every tree's nodes to a buffer folder
   (sadt.value.data). Items already in the buffer's manifest are skipped.
2. train: visit-weighted soft-value regression + relative trajectory balance on paths
   (sadt.value), both reported on held-out trees; full-state checkpoints written atomically.
The trained network is saved as a ValueNetwork folder in `out_dir`.
`forecaster: toy-1d` (or toy-2d) harvests the exact toy chains instead (tests, B4).
Ctrl-C in either phase keeps what is done (the harvested trees; a checkpoint at the current
step) and exits with code 130; `--resume` continues. Without `--resume` a run refuses to
replace a checkpoint in `out_dir`.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
from mlx.utils import tree_flatten, tree_unflatten
from tqdm import tqdm

from sadt import files
from sadt.errors import SadtError
from sadt.forecaster import data as fdata
from sadt.search.dts import TreeSearch, TreeSearchConfig
from sadt.settings import at_least, at_most, checked, fraction, number_list, positive
from sadt.train import common, distributed, loop
from sadt.value import (
    ValueConfig,
    ValueNetwork,
    path_balance_loss,
    soft_value_loss,
    visit_weights,
)
from sadt.value.data import BufferWriter, ValueBuffer, harvest_tree

CHECKPOINT = "checkpoint.safetensors"
KIND = "value"  # the checkpoint's kind (sadt/train/common.py)


@dataclass
class ValueTrainConfig:
    out_dir: str = "checkpoints/value"
    buffer_dir: str | None = None  # default: <out_dir>/buffer
    seed: int = 0
    # harvest
    forecaster: str = "toy-1d"  # a Forecaster folder, or toy-1d / toy-2d
    csv: list | str | None = field(default_factory=list)  # contexts come from these series
    split: str | None = None  # rows of every CSV to draw contexts from, "start:stop"
    wide: list | str | None = field(default_factory=list)  # M4-style wide files
    wide_holdout: int = 0  # last points of each wide series never used
    corpus: str | None = None  # real-series corpus folder: its `train` rows are contexts too
    trees: int = 200  # harvested trees (one context + one weight draw each)
    budget: int = 1000  # NFE of each harvest search
    horizons: list = field(default_factory=lambda: [96])
    gamma_range: list = field(default_factory=lambda: [0.3, 3.0])  # log-uniform
    lam_range: list = field(default_factory=lambda: [0.3, 3.0])  # log-uniform
    search_batch: int = 16
    # training
    steps: int = 2000
    batch_size: int = 512
    paths: int = 16
    path_loss_weight: float = 0.1
    lr: float = 2e-3
    weight_decay: float = 1e-4
    held_out: float = 0.1
    log_every: int = 100
    eval_every: int = 500
    checkpoint_every: int = 500
    stop_at: int | None = None
    model: dict = field(default_factory=dict)  # ValueConfig overrides (hidden, layers)

    def __post_init__(self):
        """Every setting checked when the config is built (not at the step that would fail)."""
        self.csv, self.wide = common.file_list(self.csv, "csv"), common.file_list(self.wide, "wide")
        at_least(self, 1, "trees", "budget", "search_batch", "steps", "batch_size", "paths")
        at_least(self, 1, "log_every", "eval_every", "checkpoint_every", "stop_at")
        at_least(self, 0, "seed", "wide_holdout", "weight_decay", "path_loss_weight")
        at_most(self, common.MAX_SEED, "seed")  # mx.random.seed takes 64 bits
        positive(self, "lr")
        fraction(self, "held_out", open_interval=True)  # both sides need trees
        fdata.parse_rows(self.split, "split")
        self.horizons = number_list(self.horizons, int, "horizons", "[24, 48, 96]", minimum=8)
        for name in ("gamma_range", "lam_range"):  # drawn log-uniformly: both ends > 0
            bounds = getattr(self, name)
            low, high = number_list(bounds, float, name, "[0.3, 3.0]", length=2)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be [low, high] with 0 < low <= high, not {bounds}")
            setattr(self, name, [low, high])
        if not isinstance(self.model, dict):
            raise ValueError(f"model must be a mapping such as {{hidden: 128}}, not {self.model!r}")
        # The widths come from the harvested buffer; the rest is checked now, not after it.
        ValueConfig.from_dict({"feature_dim": 1, "weight_dim": 0} | self.model)

    @classmethod
    def from_dict(cls, d: dict) -> ValueTrainConfig:
        return cls(**checked(cls, d, "training"))

    @property
    def buffer(self) -> Path:
        return Path(self.buffer_dir or Path(self.out_dir) / "buffer")


# -- harvest ----------------------------------------------------------------------------------
def _log_uniform(rng, bounds) -> float:
    lo, hi = (float(b) for b in bounds)
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _context_pool(cfg: ValueTrainConfig, context_length: int) -> list[np.ndarray]:
    rows = fdata.parse_rows(cfg.split, "split")
    pool = []
    for path in cfg.csv:
        for values in fdata.read_csv_columns(path).values():
            part = values[slice(*rows)] if rows else values
            pool += [s for s in fdata.clean_segments(part) if s.size >= 64]
    for path in cfg.wide:
        for values in fdata.read_wide_series(path):
            keep = values[: values.size - cfg.wide_holdout]
            pool += [s for s in fdata.clean_segments(keep) if s.size >= 64]
    if cfg.corpus:
        for group in fdata.read_corpus(cfg.corpus).values():
            for values in group:
                pool += [s for s in fdata.clean_segments(values) if s.size >= 64]
    if not pool:
        raise fdata.DataError("no contexts to harvest from: give csv, wide or corpus")
    return pool


def _toy_chain(name: str):
    """The exact-score toy chain a ``forecaster`` setting of toy-1d / toy-2d names."""
    from sadt.search.toy import bimodal_1d, ring_2d

    return bimodal_1d() if name == "toy-1d" else ring_2d()


def make_chain(cfg: ValueTrainConfig, rng: np.random.Generator, forecaster, pool):
    """One harvest item: a chain (context + reward weights) and its lam."""
    lam = _log_uniform(rng, cfg.lam_range)
    if cfg.forecaster in ("toy-1d", "toy-2d"):
        return _toy_chain(cfg.forecaster), lam
    from sadt.forecaster.chain import ForecastChain

    series = pool[rng.integers(len(pool))]
    length = forecaster.config.context_length
    end = int(rng.integers(min(64, series.size), series.size + 1))
    context = series[max(0, end - length) : end]
    horizon = int(rng.choice(cfg.horizons))
    band = rng.dirichlet(np.ones(3)) + 0.05
    chain = ForecastChain(
        forecaster, context, horizon, gamma=_log_uniform(rng, cfg.gamma_range), band_weights=band
    )
    return chain, lam


def harvest(cfg: ValueTrainConfig, log=print, on_tree=None) -> None:
    """Harvest the trees the buffer lacks. Ctrl-C: the tree under way finishes, every tree so
    far is written to the buffer and `common.Interrupted` is raised (a second Ctrl-C stops at
    once, keeping the finished trees). `on_tree(i)` is called after tree i."""
    forecaster = pool = None
    if cfg.forecaster not in ("toy-1d", "toy-2d"):
        from sadt.forecaster import Forecaster

        forecaster = Forecaster.load(cfg.forecaster)
        pool = _context_pool(cfg, forecaster.config.context_length)
    _check_harvest_settings(cfg, forecaster)
    writer = BufferWriter(cfg.buffer)
    todo = [i for i in range(cfg.trees) if not writer.done(f"tree-{i}")]
    if not todo:
        return
    start = time.perf_counter()
    try:
        stopped = _harvest_trees(cfg, writer, todo, forecaster, pool, on_tree)
    finally:  # whatever ends the loop (a second Ctrl-C, an error), finished trees are kept
        writer.flush()
    if stopped:  # even after the last tree: the user asked to stop, not to start training
        raise common.Interrupted(
            f"interrupted during the harvest with {len(writer.manifest['items'])} of "
            f"{cfg.trees} trees saved to {cfg.buffer}; rerun with --resume to continue"
        )
    log(f"harvested {len(todo)} trees in {time.perf_counter() - start:.0f} s into {cfg.buffer}")


def _check_harvest_settings(cfg: ValueTrainConfig, forecaster) -> None:
    """The settings that depend on the forecaster, checked before the first tree."""
    if forecaster is None:
        steps, name = _toy_chain(cfg.forecaster).num_steps, f"the {cfg.forecaster} chain"
    else:
        steps, name = forecaster.config.num_steps, f"the forecaster at {cfg.forecaster}"
        too_long = [h for h in cfg.horizons if h > forecaster.config.horizon]
        if too_long:
            raise common.UsageError(
                f"horizons {too_long} exceed the {forecaster.config.horizon} steps {name} "
                f"forecasts; use horizons up to {forecaster.config.horizon}"
            )
    if cfg.budget < steps:
        raise common.UsageError(
            f"budget {cfg.budget} cannot pay for one sample of {name} ({steps} denoising steps); "
            f"use a budget of at least {steps}"
        )


def _harvest_trees(cfg, writer, todo, forecaster, pool, on_tree) -> bool:
    """Search and add the trees ``todo``; True when a Ctrl-C stopped the loop after a tree."""
    bar = tqdm(todo, desc="harvest", dynamic_ncols=True, mininterval=1.0)
    with bar, common.StopOnInterrupt() as stop:
        for i in bar:
            rng = np.random.default_rng([cfg.seed, i])  # item i is the same whenever it runs
            chain, lam = make_chain(cfg, rng, forecaster, pool)
            writer.set_value_base(getattr(chain, "VALUE_BASE", None))
            search = TreeSearch(chain, TreeSearchConfig(lam=lam, batch=cfg.search_batch), rng)
            search.run(cfg.budget)
            writer.add(f"tree-{i}", harvest_tree(search, lam))
            if on_tree is not None:
                on_tree(i)
            if stop.requested():
                return True
    return False


# -- training -----------------------------------------------------------------------------------
def _arrays(rows: dict) -> tuple[mx.array, ...]:
    return tuple(mx.array(rows[k]) for k in ("features", "fraction", "weights"))


class Trainer:
    def __init__(self, cfg: ValueTrainConfig) -> None:
        self.cfg = cfg
        self.out = Path(cfg.out_dir)
        buffer = ValueBuffer.load(cfg.buffer)
        self.train_set, self.held_out = buffer.split(cfg.held_out, seed=cfg.seed)
        if len(self.train_set) == 0:  # held_out took every tree
            raise fdata.DataError(
                f"the buffer's {buffer.num_trees} tree(s) are too few to hold out held_out="
                f"{cfg.held_out} of them and train on the rest; harvest more or lower held_out"
            )
        a = buffer.arrays
        base = buffer.value_base or [None, -1.0]
        model_cfg = ValueConfig(
            feature_dim=a["features"].shape[1],
            weight_dim=a["weights"].shape[1],
            base_feature=base[0],
            base_scale=base[1],
        )
        self.model_config = ValueConfig.from_dict(model_cfg.to_dict() | cfg.model)
        mx.random.seed(cfg.seed)
        self.model = ValueNetwork(self.model_config)
        schedule = optim.cosine_decay(cfg.lr, cfg.steps, cfg.lr * 0.05)
        self.optimizer = optim.AdamW(learning_rate=schedule, weight_decay=cfg.weight_decay)
        self.rng = np.random.default_rng(cfg.seed)
        self.step = 0
        self.world = distributed.init()
        self.grad_fn = nn.value_and_grad(self.model, self._loss)

    def _loss(self, nodes, paths, mean_weight=None):
        targets, visits = mx.array(nodes["target"]), mx.array(nodes["visits"])
        regression = soft_value_loss(
            self.model, *_arrays(nodes), targets, visits, mean_weight=mean_weight
        )
        balance = self._path_loss(paths)
        return regression + self.cfg.path_loss_weight * balance, (regression, balance)

    def _path_loss(self, paths):
        node, child = paths["node"], paths["child"]
        return path_balance_loss(
            self.model,
            mx.array(node["lam_scale"]),
            *_arrays(node),
            mx.array(child["target"]),
            mx.array(child["leaf"]),
            *_arrays(child),
            mx.array(paths["child_segment"]),
            mx.array(paths["node_path"]),
            paths["num_paths"],
        )

    def evaluate(self) -> dict:
        rng = np.random.default_rng(12345)  # the same held-out batch every time
        nodes = self.held_out.node_batch(rng, 4096)
        paths = self.held_out.path_batch(rng, 256)
        _, (regression, balance) = self._loss(nodes, paths)
        return {"held_out_value_loss": regression.item(), "held_out_path_loss": balance.item()}

    def save_checkpoint(self) -> None:
        arrays = {f"model.{k}": v for k, v in tree_flatten(self.model.parameters())}
        arrays |= {f"optimizer.{k}": v for k, v in tree_flatten(self.optimizer.state)}
        meta = {
            "step": self.step,
            "rng": self.rng.bit_generator.state,
            "config": asdict(self.cfg),
            "model_config": self.model_config.to_dict(),
            "written_by_rank": self.world.rank,
            "world_size": self.world.size,
        }
        common.write_checkpoint(self.out / CHECKPOINT, arrays, meta, kind=KIND)

    def load_checkpoint(self) -> None:
        path = self.out / CHECKPOINT
        # A forecaster checkpoint has the same metadata entry but no model_config.
        arrays, meta = common.read_checkpoint(path, KIND, needs=("model_config",))
        if meta.get("model_config") != self.model_config.to_dict():
            raise files.ModelFileError(
                f"{path} was written for a different value network ({meta.get('model_config')})"
            )
        model = {k[6:]: v for k, v in arrays.items() if k.startswith("model.")}
        files.check_weights(path, model, dict(tree_flatten(self.model.parameters())))
        self.model.update(tree_unflatten(list(model.items())))
        state = [(k[10:], v) for k, v in arrays.items() if k.startswith("optimizer.")]
        self.optimizer.state = tree_unflatten(state)
        self.rng.bit_generator.state = meta["rng"]
        self.step = int(meta["step"])

    # -- the loop's job (sadt/train/loop.py) -------------------------------------------------

    name = "value"

    @property
    def checkpoint_path(self) -> str:
        return str(self.out)

    def where(self, step: int) -> str:
        return f"step {step}"

    def run(self, log=print, on_step=None) -> list[dict]:
        """Train to `steps` (or `stop_at`). Ctrl-C: the step under way finishes, a checkpoint
        is written at it and `common.Interrupted` is raised. `on_step(step)` follows each step."""
        cfg, world = self.cfg, self.world
        end = min(cfg.steps, cfg.stop_at) if cfg.stop_at else cfg.steps
        if world.is_main:  # records past this step belong to a run being replaced
            common.trim_log(self.out / "log.jsonl", self.step)
        cadence = loop.Cadence(cfg.log_every, cfg.eval_every, cfg.checkpoint_every)
        history = loop.train_loop(
            self, self.step, end, cfg.steps, cadence, world, on_step=on_step, log_first=True
        )
        if self.step >= cfg.steps and world.is_main:
            self.model.save(self.out)
            log(f"saved the value network to {self.out}: " + json.dumps(self.evaluate()))
        return history

    def train_step(self, index: int) -> dict:
        """One optimizer step (not compiled: the path batches change shape every step). Every
        rank draws the same global batch and keeps its shard (sadt/train/distributed.py)."""
        cfg, world = self.cfg, self.world
        nodes = self.train_set.node_batch(self.rng, cfg.batch_size)
        mean_weight = mx.mean(visit_weights(nodes["visits"]))
        nodes = distributed.take(world, nodes)
        paths = self.train_set.path_batch(self.rng, cfg.paths, world.shard(cfg.paths))
        (loss, (regression, balance)), grads = self.grad_fn(nodes, paths, mean_weight)
        self.optimizer.update(self.model, world.average(grads))
        regression, balance = world.mean(regression), world.mean(balance)
        mx.eval(self.model.parameters(), self.optimizer.state, loss, regression, balance)
        self.step = index + 1
        return {"value_loss": regression.item(), "path_loss": balance.item()}

    def log(self, record: dict) -> None:
        common.append_log(self.out / "log.jsonl", record)

    def checkpoint(self, step: int) -> None:
        if self.world.is_main:  # rank 0 alone writes
            self.save_checkpoint()


# -- command line -------------------------------------------------------------------------------
def parse_config(argv: list[str]) -> tuple[ValueTrainConfig, bool]:
    values, resume = common.parse_overrides(
        argv, __doc__.split("\n\n")[0], "YAML file of ValueTrainConfig fields", "value"
    )
    return common.checked_config(ValueTrainConfig, values), resume


def prepare(cfg: ValueTrainConfig, resume: bool) -> None:
    """Before the harvest: the output folders can be written, and a checkpoint in out_dir is
    continued (--resume) or kept. A buffer alone is always reused: harvesting is resumable."""
    out = common.writable_folder(cfg.out_dir, "out_dir")
    common.writable_folder(cfg.buffer, "buffer_dir")
    if not resume:
        meta = common.checkpoint_metadata(out / CHECKPOINT, "sadt")
        at = meta and f"step {meta.get('step')}"
        keep = ""
        if not cfg.buffer_dir:  # the default <out_dir>/buffer: a new out_dir alone harvests again
            keep = (
                f" (add --buffer_dir {cfg.buffer} to train on the same trees without "
                "harvesting them again)"
            )
        common.refuse_overwrite(out / CHECKPOINT, str(out), at, "out_dir", keep)


def main(argv: list[str] | None = None) -> int:
    def body():
        cfg, resume = parse_config(sys.argv[1:] if argv is None else argv)
        prepare(cfg, resume)
        world = distributed.init()
        failure = None
        if world.is_main:  # harvesting is cheap next to training: rank 0 does it
            try:
                harvest(cfg)
            except BaseException as err:  # an error or a Ctrl-C: the other ranks hear first
                failure = err
        # Every rank meets here (rank 0 may still have been writing the buffer), and a harvest
        # that stopped on rank 0 stops the others too instead of leaving them in a collective.
        if world.any_rank(failure is not None):
            if failure is not None:
                raise failure
            raise common.Interrupted("rank 0 stopped during the harvest")  # rank 0 says why
        trainer = Trainer(cfg)
        if resume and (Path(cfg.out_dir) / CHECKPOINT).exists():
            trainer.load_checkpoint()
        trainer.run()

    errors = (SadtError, FileNotFoundError)
    return common.run_main(body, errors, distributed.init().is_main)


if __name__ == "__main__":
    sys.exit(main())
