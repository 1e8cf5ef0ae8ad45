"""Train the diffusion forecaster.

    sadt train forecaster --config train/configs/forecaster.yaml [--key value ...] [--resume]

Every knob is a field of `TrainConfig` (model knobs under `model`, e.g. `--model.horizon 48`);
the YAML file sets them and `--key value` pairs override it (values parsed as YAML).
Data: CSVs (every numeric column is a series; `split` keeps a row range for training and
`val_split` gives validation rows), M4-style wide files, optional synthetic series.
Writes to `out_dir`, atomically, every `checkpoint_every` steps and at the end:
`checkpoint.safetensors` (full state: model, EMA, optimizer, step, data RNG, config) and the
EMA weights as a `Forecaster` folder (config.json + model.safetensors), the final model once
`steps` is reached; plus `log.jsonl`, one line per logged step.
Ctrl-C stops at the end of the current step with a checkpoint there (exit code 130) and
`--resume` continues exactly; a run without `--resume` refuses to replace a checkpoint.
"""

from __future__ import annotations

import sadt  # noqa: F401  (first: loads the fast BLAS before mlx.core)

# isort: split
import resource
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
from mlx.utils import tree_flatten, tree_map, tree_unflatten

from sadt import files
from sadt.errors import ModelFileError, SadtError
from sadt.forecaster import Forecaster, ForecasterConfig
from sadt.forecaster import data as fdata
from sadt.settings import at_least, at_most, checked, fraction, number_list, positive
from sadt.train import common, distributed, loop

CHECKPOINT = "checkpoint.safetensors"
KIND = "forecaster"  # the checkpoint's kind (sadt/train/common.py)


@dataclass
class TrainConfig:
    out_dir: str = "checkpoints/forecaster"
    seed: int = 0
    # data
    csv: list | str | None = field(default_factory=list)  # CSVs: every numeric column a series
    split: str | None = None  # training rows of every CSV, "start:stop"
    val_split: str | None = None  # validation rows of every CSV (targets there)
    wide: list | str | None = field(default_factory=list)  # M4-style files (a series per row)
    wide_holdout: int = 0  # last points of each wide series kept out of training, for validation
    synthetic_series: int = 0  # extra series from sadt.synthetic (0 = none)
    synthetic_length: int = 2048
    corpus: str | None = None  # real-series corpus folder (its `train` rows; one source per
    #                            calendar frequency group)
    corpus_aggregates: bool = False  # the corpus series also at a coarser step (block means)
    kernel_synth_series: int = 0  # KernelSynth-style series (sadt.forecaster.kernel_synth)
    min_future: int | None = None  # shortest future a window may have (None: the horizon)
    balance_sources: bool = True  # every file (and the synthetic set) drawn equally often
    source_weights: list | None = None  # or at these relative rates (csv, wide, synthetic order)
    min_context: int = 32
    short_context_prob: float = 0.1
    value_clip: float = 20.0  # |normalized value| cap on training windows
    mixup_prob: float = 0.0  # share of windows that are convex mixes of two (TSMixup)
    # optimization
    steps: int = 10000
    batch_size: int = 128  # contexts per step
    noise_per_context: int = 4  # noise levels per context (one encoder pass serves them)
    time_draws: int = 32  # distinct diffusion times per step (the time MLP runs on these only)
    lr: float = 1e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 300
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    mean_loss_weight: float = 1.0
    ema_decay: float = 0.999
    # bookkeeping
    log_every: int = 50
    val_every: int = 1000
    val_windows: int = 512
    checkpoint_every: int = 1000
    stop_at: int | None = None  # stop (with a checkpoint) at this step; `--resume` continues
    model: dict = field(default_factory=dict)  # ForecasterConfig fields

    def __post_init__(self):
        """Every setting checked when the config is built (not at the step that would fail)."""
        self.csv, self.wide = common.file_list(self.csv, "csv"), common.file_list(self.wide, "wide")
        at_least(self, 1, "steps", "batch_size", "noise_per_context", "time_draws", "stop_at")
        at_least(self, 1, "log_every", "val_every", "val_windows", "checkpoint_every")
        at_least(self, 1, "min_context", "synthetic_length")
        at_least(self, 0, "seed", "warmup_steps", "wide_holdout", "synthetic_series")
        at_most(self, common.MAX_SEED, "seed")  # mx.random.seed takes 64 bits; each step adds to it
        at_least(self, 0, "weight_decay", "mean_loss_weight")
        positive(self, "lr", "grad_clip", "value_clip")
        fraction(self, "min_lr_ratio", "short_context_prob", "mixup_prob", "ema_decay")
        for name in ("split", "val_split"):  # a bad row range is refused now, not at load_data
            fdata.parse_rows(getattr(self, name), name)
        if self.source_weights is not None:
            weights = number_list(self.source_weights, float, "source_weights", "[2, 1]")
            if min(weights) <= 0:
                raise ValueError(f"source_weights must all be > 0, not {self.source_weights}")
        model = self.model_config()
        context = model.context_length
        if self.synthetic_series and self.synthetic_length < self.min_context + model.horizon:
            raise ValueError(  # no training window (context + horizon) would fit in one
                f"synthetic_length ({self.synthetic_length}) must be at least min_context + "
                f"model.horizon ({self.min_context} + {model.horizon})"
            )
        if self.min_context > context:  # no window could hold min_context observed points
            raise ValueError(
                f"min_context ({self.min_context}) must not exceed model.context_length ({context})"
            )

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return cls(**checked(cls, d, "training"))

    def model_config(self) -> ForecasterConfig:
        model = self.model
        return ForecasterConfig.from_dict(dict(model) if isinstance(model, dict) else model)


# -- data ---------------------------------------------------------------------------------


def load_data(cfg: TrainConfig):
    """(WindowSampler over the training series, {source name: validation (context, future)})."""
    mcfg = cfg.model_config()
    train, val = [], {}
    rows, val_rows = fdata.parse_rows(cfg.split, "split"), fdata.parse_rows(cfg.val_split)
    for source, path in enumerate(cfg.csv):
        for values in fdata.read_csv_columns(path).values():
            part = values[slice(*rows)] if rows else values
            train += [(s, source) for s in fdata.clean_segments(part)]
            if val_rows:
                val.setdefault(Path(path).stem, []).append((values[: val_rows[1]], val_rows[0]))
    for source, path in enumerate(cfg.wide, start=len(cfg.csv)):
        for values in fdata.read_wide_series(path):
            keep = values[: values.size - cfg.wide_holdout]
            train += [(s, source) for s in fdata.clean_segments(keep)]
            if cfg.wide_holdout >= mcfg.horizon:
                val.setdefault(Path(path).stem, []).append((values, values.size - cfg.wide_holdout))
    source = len(cfg.csv) + len(cfg.wide)
    if cfg.synthetic_series:
        from sadt.synthetic import SyntheticConfig, generate_batch

        synth = SyntheticConfig(min_length=cfg.synthetic_length, max_length=cfg.synthetic_length)
        for values, _ in generate_batch(cfg.synthetic_series, cfg.seed, synth):
            train.append((values.astype(np.float32), source))
        source += 1
    if cfg.kernel_synth_series:
        from sadt.forecaster.kernel_synth import kernel_batch

        for values in kernel_batch(cfg.kernel_synth_series, cfg.seed):
            train.append((values, source))
        source += 1
    if cfg.corpus:
        corpus = fdata.read_corpus(cfg.corpus, aggregate=cfg.corpus_aggregates)
        for _, group in sorted(corpus.items()):
            for values in group:
                train += [(s, source) for s in fdata.clean_segments(values)]
            source += 1
    if not train:
        raise fdata.DataError("no training data: give at least one of csv, wide, synthetic_series")
    options = fdata.WindowOptions(
        cfg.min_context,
        cfg.short_context_prob,
        cfg.value_clip,
        mcfg.std_floor,
        cfg.balance_sources,
        cfg.mixup_prob,
        tuple(cfg.source_weights) if cfg.source_weights else None,
        cfg.min_future,
        mcfg.blend_bases,
        mcfg.scaling,
    )
    sampler = fdata.WindowSampler(
        [s for s, _ in train], [g for _, g in train], mcfg.context_length, mcfg.horizon, options
    )
    pairs = {
        name: fdata.validation_windows(series, mcfg.context_length, mcfg.horizon, cfg.val_windows)
        for name, series in val.items()
    }
    return sampler, {name: p for name, p in pairs.items() if p}


def noise_inputs(rng: np.random.Generator, batch: int, k: int, horizon: int, draws: int):
    """Diffusion inputs: `draws` times (G,) in (0, 1], each row's pick among them (B, K), and
    standard normal noise (B, K, H). Every row's time is still uniform on (0, 1]."""
    times = 1.0 - rng.random(draws, dtype=np.float32)
    index = rng.integers(0, draws, size=(batch, k), dtype=np.int32)
    return times, index, rng.standard_normal((batch, k, horizon), dtype=np.float32)


# -- training -----------------------------------------------------------------------------


class Trainer:
    """Model, EMA copy, optimizer and data stream; `run()` trains and checkpoints."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.out = Path(cfg.out_dir)
        self.sampler, val_pairs = load_data(cfg)
        mx.random.seed(cfg.seed)  # weight init
        self.model = Forecaster(cfg.model_config()).train()
        self.ema = Forecaster(cfg.model_config())
        self.ema.update(tree_map(lambda p: p, self.model.parameters()))
        self.optimizer = optim.AdamW(self._schedule(), weight_decay=cfg.weight_decay)
        self.optimizer.init(self.model.trainable_parameters())
        self.rng = np.random.default_rng(cfg.seed)
        self.step = 0
        self.world = distributed.init()
        self.val_batches = {}  # source name -> fixed inputs of `_loss`
        for name, pairs in val_pairs.items():
            batch = self.sampler.normalize(pairs)
            diffusion = noise_inputs(
                np.random.default_rng(cfg.seed + 1),
                len(pairs),
                cfg.noise_per_context,
                self.model.config.horizon,
                cfg.time_draws,
            )
            arrays = (batch.context, batch.mask, batch.future, batch.future_mask, *diffusion)
            self.val_batches[name] = [mx.array(a) for a in (*arrays, *(batch.bases or ()))]
        self._train_step = None

    def _schedule(self):
        cfg = self.cfg
        warmup = optim.linear_schedule(cfg.lr / max(cfg.warmup_steps, 1), cfg.lr, cfg.warmup_steps)
        decay = optim.cosine_decay(
            cfg.lr, max(cfg.steps - cfg.warmup_steps, 1), cfg.lr * cfg.min_lr_ratio
        )
        return optim.join_schedules([warmup, decay], [cfg.warmup_steps])

    def _loss(self, model, context, mask, future, future_mask, times, time_index, noise, *bases):
        diffusion, mean = model.loss(
            context, mask, future, times, time_index, noise, future_mask, tuple(bases) or None
        )
        return diffusion + self.cfg.mean_loss_weight * mean, diffusion, mean

    def _build_step(self):
        """The one place where the gradient is computed and applied (compiled, explicit state).
        mx.random.state holds dropout's key; train_step seeds it from (seed, step) before each
        call, so a resumed run draws the same masks without saving MLX's RNG."""
        step, _ = loop.compiled_step(
            self.model,
            self._loss,
            self.optimizer,
            grad_clip=self.cfg.grad_clip,
            ema=self.ema,
            ema_decay=self.cfg.ema_decay,
        )
        return step

    def validate(self) -> dict | None:
        """EMA model's losses on each source's fixed validation windows (fixed times, noise).

        `val_loss` is the mean over sources of diffusion + weighted mean-path loss.
        """
        if not self.val_batches:
            return None
        record, totals = {}, []
        for name, batch in self.val_batches.items():
            total, diffusion, mean = self._loss(self.ema, *batch)
            mx.eval(total, diffusion, mean)
            totals.append(total.item())
            record[f"val_{name}_diffusion"] = diffusion.item()
            record[f"val_{name}_mean_mse"] = mean.item()
        return {"val_loss": float(np.mean(totals)), **record}

    # -- checkpoints ----------------------------------------------------------------------

    def save_checkpoint(self) -> None:
        arrays = {f"model.{k}": v for k, v in tree_flatten(self.model.parameters())}
        arrays |= {f"ema.{k}": v for k, v in tree_flatten(self.ema.parameters())}
        arrays |= {f"optimizer.{k}": v for k, v in tree_flatten(self.optimizer.state)}
        meta = {
            "step": self.step,
            "rng": self.rng.bit_generator.state,
            "config": asdict(self.cfg),
            "written_by_rank": self.world.rank,
            "world_size": self.world.size,
        }
        common.write_checkpoint(self.out / CHECKPOINT, arrays, meta, kind=KIND)

    def load_checkpoint(self) -> None:
        """Restore everything `save_checkpoint` wrote; one clear error when it does not fit."""
        path = self.out / CHECKPOINT
        arrays, meta = common.read_checkpoint(path, KIND, needs=("config",))
        saved = meta["config"]
        try:
            there = ForecasterConfig.from_dict(saved.get("model") or {}).to_dict()
        except (TypeError, ValueError) as err:
            raise ModelFileError(
                f"{path} holds model settings this sadt cannot use: {err}"
            ) from None
        here = self.model.config.to_dict()
        changed = [k for k in here if there.get(k) != here[k]]  # only these: a full dict hides them
        if changed:
            diff = ", ".join(f"{k} {there.get(k)!r} there vs {here[k]!r} now" for k in changed)
            raise ModelFileError(
                f"{path} was written for a different model config ({diff}); resume with its "
                "model settings or choose another out_dir"
            )
        for prefix, target in (("model.", self.model), ("ema.", self.ema)):
            part = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            files.check_weights(path, part, dict(tree_flatten(target.parameters())))
            target.update(tree_unflatten(list(part.items())))
        opt = [(k[len("optimizer.") :], v) for k, v in arrays.items() if k.startswith("optimizer.")]
        files.check_weights(path, dict(opt), dict(tree_flatten(self.optimizer.state)))
        _set_leaves(self.optimizer.state, opt)  # in place: the compiled step holds this tree
        self.rng.bit_generator.state = meta["rng"]
        self.step = int(meta["step"])

    # -- the loop's job (sadt/train/loop.py) -------------------------------------------------

    name = "forecaster"

    @property
    def checkpoint_path(self) -> str:
        return str(self.out)

    def where(self, step: int) -> str:
        return f"step {step}"

    def run(self, log=print, on_step=None) -> list[dict]:
        """Train from `self.step` to `steps` (or `stop_at`); returns the records, one per step.

        Ctrl-C: the step under way finishes, a checkpoint is written at it and
        `common.Interrupted` is raised. `on_step(step)` is called after every step.
        """
        cfg = self.cfg
        end = min(cfg.steps, cfg.stop_at) if cfg.stop_at else cfg.steps
        self._train_step = self._train_step or self._build_step()
        if self.world.is_main:  # records past this step belong to a run being replaced
            common.trim_log(self.out / "log.jsonl", self.step)
        mx.reset_peak_memory()
        self.clock = loop.Clock(self.step)
        cadence = loop.Cadence(cfg.log_every, cfg.val_every, cfg.checkpoint_every)
        history = loop.train_loop(
            self, self.step, end, cfg.steps, cadence, self.world, on_step=on_step
        )
        if self.step >= cfg.steps and self.world.is_main:
            log(
                f"saved EMA weights to {self.out} ({self.step} steps, "
                f"{self.clock.rate(self.step):.1f} it/s, peak MLX memory "
                f"{mx.get_peak_memory() / 1e9:.2f} GB, max RSS {_max_rss_gb():.2f} GB)"
            )
        return history

    def train_step(self, index: int) -> dict:
        """One optimizer step on a fresh batch (every rank draws the same global batch and
        keeps its rows: sadt/train/distributed.py)."""
        cfg = self.cfg
        batch = self.sampler.sample(self.rng, cfg.batch_size)
        times, index_, noise = noise_inputs(
            self.rng,
            cfg.batch_size,
            cfg.noise_per_context,
            self.model.config.horizon,
            cfg.time_draws,
        )
        rows = self.world.shard(cfg.batch_size)
        arrays = (
            batch.context[rows],
            batch.mask[rows],
            batch.future[rows],
            batch.future_mask[rows],
            times,
            index_[rows],
            noise[rows],
            *(b[rows] for b in batch.bases or ()),
        )
        inputs = [mx.array(a) for a in arrays]
        mx.random.seed(cfg.seed * 1_000_003 + index)
        loss, diffusion, mean = self._train_step(*inputs)
        loss, diffusion, mean = (self.world.mean(v) for v in (loss, diffusion, mean))
        mx.eval(loss, self.model.state, self.ema.state, self.optimizer.state, mx.random.state)
        self.step = index + 1
        return {"loss": loss.item(), "diffusion": diffusion.item(), "mean_mse": mean.item()}

    def evaluate(self) -> dict | None:
        return self.validate()

    def log(self, record: dict) -> None:
        record["lr"] = self.optimizer.learning_rate.item()
        record["elapsed_s"] = self.clock.elapsed()
        record["peak_memory_gb"] = mx.get_peak_memory() / 1e9
        record["max_rss_gb"] = _max_rss_gb()
        common.append_log(self.out / "log.jsonl", record)

    def checkpoint(self, step: int) -> None:
        if self.world.is_main:  # rank 0 alone writes
            self.save_checkpoint()
            self.ema.save(self.out)  # the latest EMA weights are always loadable


def _max_rss_gb() -> float:
    """The process's peak resident memory (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1e9 if sys.platform == "darwin" else 1e6)


def _set_leaves(tree, flat: list[tuple[str, mx.array]]) -> None:
    """Assign `tree_flatten`-style ("a.0.b", value) pairs into an existing nested tree."""
    for key, value in flat:
        node, *path = tree, *key.split(".")
        for part in path[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(path[-1]) if isinstance(node, list) else path[-1]] = value


# -- command line ---------------------------------------------------------------------------


def parse_config(argv: list[str]) -> tuple[TrainConfig, bool]:
    values, resume = common.parse_overrides(
        argv, __doc__.split("\n\n")[0], "YAML file of TrainConfig fields", "forecaster"
    )
    return common.checked_config(TrainConfig, values), resume


def prepare(cfg: TrainConfig, resume: bool) -> None:
    """Before training: out_dir can be written, and a checkpoint there is continued or kept."""
    out = Path(cfg.out_dir)
    common.writable_folder(out, "out_dir")
    checkpoint = out / CHECKPOINT
    if resume:
        if not checkpoint.exists():
            raise common.UsageError(f"--resume: {out} holds no {CHECKPOINT} to continue")
        return
    meta = common.checkpoint_metadata(checkpoint, "sadt")
    common.refuse_overwrite(checkpoint, str(out), meta and f"step {meta.get('step')}", "out_dir")


def main(argv: list[str] | None = None) -> int:
    def body():
        cfg, resume = parse_config(sys.argv[1:] if argv is None else argv)
        trainer = Trainer(cfg)  # data errors first: they need no output folder
        prepare(cfg, resume)
        if resume:
            trainer.load_checkpoint()
        trainer.run()

    # Settings errors surface as UsageError from parse_config; any other ValueError or
    # TypeError is a bug and keeps its traceback.
    errors = (SadtError, FileNotFoundError)
    return common.run_main(body, errors, distributed.init().is_main)


if __name__ == "__main__":
    sys.exit(main())
