"""Train a TSLM: a curriculum of multiple-choice questions, then captions.

    sadt train tslm --config train/configs/tslm_tiny.yaml            # bundled describer
    sadt train tslm --config train/configs/tslm.yaml                 # Llama-3.2-1B 4-bit
    sadt train tslm --config ... --set stages.1.steps=500 --resume   # overrides, resume

Data come from the synthetic generator (``sadt.synthetic``) with captions and
questions (``sadt.describer.captions``); an optional CSV of (series, caption) pairs joins the
caption examples. Batch ``k`` of stage ``s`` depends only on (seed, s, k), so a
resumed run sees exactly the batches an uninterrupted one would.

One place computes and applies gradients (``make_train_step``). Under ``mlx.launch``
(see `sadt/train/distributed.py`) every rank draws the same global batch of ``batch_size``
examples and keeps its share; gradients are summed over ranks weighted by each rank's
answer tokens, so N ranks take exactly the step one process takes on the whole batch.
``batch_size`` is the global batch, and the learning rates are set for it: no rescaling
when the number of ranks changes, and a checkpoint resumes on any number of ranks.
Only rank 0 prints, writes checkpoints and saves the TSLM.

Checkpoints hold the full state (trainable weights, optimizer, stage, step, best
validation loss, config) in one safetensors file written atomically; the random
state needs no saving, as every step reseeds from (seed, stage, step). The final
model is ``TSLM.save``'d (trainable weights + config + base LLM reference or copy).
The encoder warm-up is checkpointed too (with its throwaway head and optimizer).
Ctrl-C stops at the end of the current step with a checkpoint there (exit code 130);
``--resume`` continues exactly. Without ``--resume`` a run refuses to replace a checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sadt  # noqa: F401  (loads the fast BLAS; must come before mlx.core)

# isort: split
import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
from mlx.utils import tree_flatten, tree_map, tree_unflatten

from sadt.describer.data import TASKS, Example, ExampleSource, read_pairs_csv
from sadt.describer.files import load_trainable
from sadt.describer.model import TSLM, TSLMConfig, answer_loss
from sadt.describer.prompt import collate
from sadt.describer.warmup import EncoderWarmup, step_seed, warmup_cosine
from sadt.errors import DataError, ModelFileError, SadtError, UsageError
from sadt.settings import at_least, at_most, checked, fraction, positive
from sadt.train import common, distributed, loop
from sadt.train.distributed import World


@dataclass
class StageConfig:
    name: str = "captions"
    tasks: dict = field(default_factory=lambda: {"caption": 1.0})  # task -> share of batch
    steps: int = 1000
    lr_encoder: float = 1e-3
    lr_projector: float = 1e-3
    lr_lora: float = 5e-4
    warmup: int = 50

    def __post_init__(self):
        where = f"stage {self.name!r}: "
        at_least(self, 1, "steps", where=where)
        at_least(self, 0, "warmup", where=where)
        at_least(self, 0, "lr_encoder", "lr_projector", "lr_lora", where=where)  # 0 freezes
        tasks = self.tasks
        shares = list(tasks.values()) if isinstance(tasks, dict) else []
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in shares)
        if not shares or set(tasks) - set(TASKS) or not numbers or min(shares) <= 0:
            raise ValueError(
                f"{where}tasks among {' / '.join(TASKS)} with shares > 0, e.g. "
                f"{{caption: 0.8, mcq: 0.2}}, not {tasks!r}"
            )

    @classmethod
    def from_dict(cls, d: dict) -> StageConfig:
        return _built(cls, _known(cls, d, "stage"))


@dataclass
class TrainConfig:
    base_model: str = "mlx-community/Llama-3.2-1B-Instruct-4bit"
    out: str = "checkpoints/tslm"
    checkpoint: str = "checkpoints/tslm.ckpt.safetensors"
    model: dict = field(default_factory=dict)  # TSLMConfig fields (encoder, prompt, lora, ...)
    stages: list = field(default_factory=lambda: [StageConfig("mcq", {"mcq": 1.0}), StageConfig()])
    batch_size: int = 16
    seed: int = 0
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    val_examples: int = 64
    val_every: int = 200
    checkpoint_every: int = 200
    report_every: int = 20
    csv: str | None = None  # user (series, caption) pairs
    csv_share: float = 0.5  # share of caption examples drawn from the CSV
    # A TSLM folder (what train.tslm writes to ``out``) whose trained encoder, projector and
    # LoRA start this run: fine-tune an existing describer (e.g. on your own captions).
    init_from: str | None = None
    synthetic: dict = field(default_factory=dict)  # SyntheticConfig overrides
    # A real corpus (a folder with MANIFEST.csv; only its train split is read) whose series,
    # captioned by their facts, make up ``real_share`` of caption and forecast examples
    # (describers with facts only). Absent folder: synthetic data only, said at the start.
    real_corpus: str | None = None
    real_share: float = 0.0
    caption_stats: bool = True  # captions may quote the series mean the prompt states
    # Encoder warm-up before the curriculum (``warm_up`` below, sadt.describer.warmup);
    # 0 steps: none.
    encoder_warmup_steps: int = 0
    encoder_warmup_batch_size: int = 32
    encoder_warmup_lr: float = 1e-3

    def __post_init__(self):
        """Every setting checked when the config is built (not at the step that would fail)."""
        at_least(self, 1, "batch_size", "val_examples", "encoder_warmup_batch_size")
        at_least(self, 1, "val_every", "checkpoint_every", "report_every")
        at_least(self, 0, "seed", "weight_decay", "max_grad_norm", "encoder_warmup_steps")
        at_most(self, common.MAX_SEED, "seed")  # mx.random.seed takes 64 bits
        positive(self, "encoder_warmup_lr")
        fraction(self, "csv_share")
        fraction(self, "real_share")
        if not isinstance(self.stages, list) or not self.stages:
            raise ValueError("stages must be a list of at least one stage")
        for name in ("model", "synthetic"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(
                    f"{name} must be a mapping of settings, not {getattr(self, name)!r}"
                )

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = _known(cls, d, "training")
        stages = d.get("stages")
        if isinstance(stages, list):
            d["stages"] = [
                s if isinstance(s, StageConfig) else StageConfig.from_dict(s) for s in stages
            ]
        return _built(cls, d)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stages"] = [asdict(s) for s in self.stages]
        return d

    def tslm_config(self) -> TSLMConfig:
        return TSLMConfig.from_dict(dict(self.model, base_model=self.base_model))


def _known(cls, d: dict, what: str) -> dict:
    """``d`` checked against ``cls``'s fields (``sadt.settings.checked``), as a UsageError."""
    try:
        return checked(cls, d, what)
    except ValueError as e:
        raise UsageError(f"{e}.") from None


def _built(cls, kwargs: dict):
    """``cls(**kwargs)``, a bad value its ``__post_init__`` finds as a UsageError."""
    try:
        return cls(**kwargs)
    except UsageError:
        raise
    except ValueError as e:
        raise UsageError(f"{e}.") from None


def make_batch(tslm: TSLM, examples: list[Example]):
    prompts, answers = [], []
    for e in examples:
        facts = e.facts if tslm.prompts.config.facts else ""
        prompts.append(tslm.prompts.prompt(tslm.prompts.view(e.values), e.question, facts))
        answers.append(tslm.prompts.answer(e.answer))
    return collate(prompts, answers, tslm.config.encoder, tslm.prompts.pad_id)


# ---- optimisation -------------------------------------------------------------------


def make_optimizer(stage: StageConfig, weight_decay: float) -> optim.MultiOptimizer:
    """AdamW per parameter group (encoder, projector, LoRA): warmup then cosine decay."""
    groups = [stage.lr_encoder, stage.lr_projector, stage.lr_lora]
    return optim.MultiOptimizer(
        [
            optim.AdamW(
                learning_rate=warmup_cosine(lr, stage.warmup, stage.steps),
                weight_decay=weight_decay,
            )
            for lr in groups
        ],
        filters=[
            lambda path, _: path.startswith("encoder."),
            lambda p, _: p.startswith("projector."),
        ],
    )


def make_train_step(tslm: TSLM, optimizer, max_grad_norm: float, world: World | None = None):
    """The compiled training step and the state it reads and writes (one process by default)."""
    world = world or World(0, 1, None)

    def across_ranks(outputs, grads):
        # The loss is a mean over this rank's answer tokens; weighting by token counts
        # makes the global step the mean over every answer token of the global batch.
        if world.size == 1:
            return outputs, grads
        loss, n_answer = outputs
        total = mx.distributed.all_sum(n_answer, group=world.group)
        weight = n_answer / total
        grads = tree_map(lambda g: mx.distributed.all_sum(g * weight, group=world.group), grads)
        return (mx.distributed.all_sum(loss * weight, group=world.group), total), grads

    return loop.compiled_step(
        tslm, answer_loss, optimizer, grad_clip=max_grad_norm, reduce=across_ranks
    )


def evaluate_loss(tslm: TSLM, examples: list[Example], batch_size: int) -> float:
    """Mean answer-token loss over ``examples`` (eval mode, no gradients)."""
    tslm.eval()
    total, count = 0.0, 0.0
    for i in range(0, len(examples), batch_size):
        loss, n = answer_loss(tslm, *make_batch(tslm, examples[i : i + batch_size]).arrays())
        total, count = total + loss.item() * n.item(), count + n.item()
    tslm.train()
    return total / max(count, 1.0)


# ---- checkpoints --------------------------------------------------------------------


def save_checkpoint(
    file: Path,
    tslm: TSLM,
    optimizer,
    progress: dict,
    config: TrainConfig,
    written_by=None,
    warmup: EncoderWarmup | None = None,
):
    """Full training state in the trainers' one checkpoint format (`common.write_checkpoint`):
    the curriculum's ``optimizer``, or during the encoder warm-up ``warmup``'s state."""
    arrays = {f"model.{k}": v for k, v in tree_flatten(tslm.trainable_parameters())}
    if optimizer is not None:
        arrays |= {f"optimizer.{k}": v for k, v in tree_flatten(optimizer.state)}
    if warmup is not None:
        arrays |= {f"warmup.{k}": v for k, v in warmup.state().items()}
    meta = {"progress": progress, "config": config.to_dict()} | (written_by or {})
    common.write_checkpoint(file, arrays, meta, kind="describer")


def read_checkpoint(file: Path) -> tuple[dict, dict]:
    if not file.exists():
        raise UsageError(f"--resume: the checkpoint {file} does not exist.")
    try:
        return common.read_checkpoint(file, "describer", needs=("progress", "config"))
    except ModelFileError as err:
        raise UsageError(str(err)) from None


def restore(arrays: dict, tslm: TSLM, optimizer, file: Path) -> None:
    """Put checkpointed weights and optimizer state back in place (checked)."""
    restore_weights(arrays, tslm, file)
    optimizer.state = tree_unflatten(_part(arrays, "optimizer."))
    mx.eval(tslm.parameters(), optimizer.state)


def restore_weights(arrays: dict, tslm: TSLM, file: Path) -> None:
    from sadt.describer.files import set_trainable

    try:
        set_trainable(tslm, dict(_part(arrays, "model.")), str(file), "the model of this config")
    except ValueError as e:
        raise UsageError(str(e)) from None


def _part(arrays: dict, prefix: str) -> list:
    return [(k.removeprefix(prefix), v) for k, v in arrays.items() if k.startswith(prefix)]


def position(progress: dict, config: dict) -> str | None:
    """Where a run is, in words ("mcq step 120", "encoder warm-up step 40"), from a
    checkpoint's progress and (``to_dict``) config; None when they do not say."""
    try:
        if config.get("encoder_warmup_steps") and not progress.get("encoder_warmed_up"):
            return f"encoder warm-up step {progress.get('warmup_step', 0)}"
        return f"{config['stages'][progress['stage']]['name']} step {progress['step']}"
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def _check_resumable(meta: dict, config: TrainConfig, file: Path) -> None:
    saved = TrainConfig.from_dict(meta["config"]).to_dict()
    now = config.to_dict()
    keys = ("base_model", "model", "stages", "batch_size", "seed", "weight_decay", "csv")
    keys += ("synthetic", "caption_stats", "init_from")
    keys += ("encoder_warmup_steps", "encoder_warmup_batch_size", "encoder_warmup_lr")
    for key in keys:
        if saved[key] != now[key]:
            raise UsageError(f"--resume: {file} was trained with a different {key!r} setting.")


# ---- the loop -----------------------------------------------------------------------


def train(config: TrainConfig, resume: bool = False, max_steps: int | None = None, on_step=None):
    """Run every stage (resuming from ``config.checkpoint`` when asked) and save the TSLM.

    ``max_steps`` stops this run after that many optimizer steps (encoder warm-up steps
    count too) with a checkpoint, as an interruption would (``--resume`` continues it);
    the TSLM is then not saved.
    Ctrl-C: the step under way finishes, a checkpoint is written at it and
    ``common.Interrupted`` is raised. ``on_step(phase, step)`` follows every step.
    Returns the TSLM, or None when stopped early.
    """
    if max_steps is not None and max_steps < 1:  # 0 would stop with no checkpoint to resume
        raise UsageError(f"--max-steps must be >= 1, not {max_steps}.")
    world = distributed.init()
    try:  # a clear error now if the ranks do not divide a batch
        world.shard(config.batch_size)
        if config.encoder_warmup_steps:
            world.shard(config.encoder_warmup_batch_size)
    except ValueError as e:
        raise UsageError(str(e)) from None
    user_pairs = read_pairs_csv(config.csv) if config.csv else []
    ckpt = Path(config.checkpoint)
    arrays, progress = None, {"stage": 0, "step": 0, "best_val": float("inf")}
    if resume:
        arrays, meta = read_checkpoint(ckpt)
        _check_resumable(meta, config, ckpt)
        progress = meta["progress"]
    prepare(config, resume)  # before the base LLM loads (a download, maybe)
    mx.random.seed(config.seed)
    tslm = TSLM.from_base(config.tslm_config())
    if config.init_from and arrays is None:  # a resumed run has its own weights
        init_trainable(tslm, config.init_from)
        world.say(f"started from the trained weights of {config.init_from}")
    source = ExampleSource(
        seed=config.seed,
        batch_size=config.batch_size,
        stage_tasks=[stage.tasks for stage in config.stages],
        synthetic=config.synthetic,
        user_pairs=user_pairs,
        user_share=config.csv_share,
        val_examples=config.val_examples,
        caption_stats=config.caption_stats,
        facts=tslm.prompts.config.facts,
        real_series=real_pool(config, world.say),
        real_share=config.real_share,
    )
    n_trainable = sum(v.size for _, v in tree_flatten(tslm.trainable_parameters()))
    say = world.say
    say(f"trainable parameters: {n_trainable / 1e6:.2f}M (encoder, projector, LoRA)")
    if world.size > 1:
        say(f"data-parallel on {world.size} ranks: {config.batch_size // world.size} examples each")
    budget = max_steps if max_steps is not None else float("inf")  # steps left to this run
    with common.StopOnInterrupt(world) as stop:
        if config.encoder_warmup_steps and not progress.get("encoder_warmed_up"):
            budget -= warm_up(config, tslm, progress, arrays, world, stop, budget, on_step)
            arrays = None  # a checkpoint of the warm-up has no curriculum state
        for s in range(progress["stage"], len(config.stages)):
            # At a stage boundary (or the warm-up's end) the last checkpoint is exactly here.
            if stop.requested() and (s > progress["stage"] or progress.get("encoder_warmed_up")):
                raise common.Interrupted(
                    common.interrupted_message(position(progress, config.to_dict()), ckpt)
                )
            if budget <= 0:  # --max-steps, spent in the warm-up or a stage before this one
                return _stopped_early(world, progress, config, stop)
            optimizer = make_optimizer(config.stages[s], config.weight_decay)
            optimizer.init(tslm.trainable_parameters())
            if arrays is not None:  # the stage the checkpoint was written in
                restore(arrays, tslm, optimizer, ckpt)
                arrays = None
            else:
                progress.update(stage=s, step=0, best_val=float("inf"))  # best of this stage
            budget -= run_stage(
                config, s, tslm, optimizer, source, progress, ckpt, budget, world, stop, on_step
            )
            if progress["step"] < config.stages[s].steps:  # --max-steps ended it mid-stage
                return _stopped_early(world, progress, config, stop)
    if not world.is_main:
        return tslm
    out = tslm.save(config.out)
    print(f"saved {out} (best validation loss of the last stage {progress['best_val']:.4f})")
    return tslm


def _stopped_early(world: World, progress: dict, config: TrainConfig, stop) -> None:
    """--max-steps is spent: the checkpoint written at its last step is where a resume starts
    (a Ctrl-C during that step still ends the run as an interruption, exit code 130)."""
    where = position(progress, config.to_dict())
    if stop.requested():
        raise common.Interrupted(common.interrupted_message(where, config.checkpoint))
    world.say(f"stopped at {where}; --resume continues")


def real_pool(config: TrainConfig, say) -> list:
    """The real corpus's train-split series, or [] (said) when the folder is absent."""
    from sadt.describer.data import read_real_corpus

    if not config.real_corpus or config.real_share <= 0:
        return []
    folder = Path(config.real_corpus)
    if not folder.is_dir():
        say(f"real_corpus {folder} is absent: training on synthetic series only")
        return []
    try:
        pool = read_real_corpus(folder)
    except DataError as err:
        raise UsageError(str(err)) from None
    say(f"real corpus: {len(pool)} train-split series from {folder} ({config.real_share:.0%} "
        "of caption and forecast examples)")  # fmt: skip
    return pool


def init_trainable(tslm, folder: str | Path) -> None:
    """Set ``tslm``'s trainable arrays from a TSLM folder; one sentence when they do not fit."""
    folder = Path(folder)
    try:
        load_trainable(tslm, folder / "model.safetensors", folder / "config.json")
    except ModelFileError as err:
        raise UsageError(
            f"init_from: {err} Start from a TSLM trained with the same model settings."
        ) from None


def prepare(config: TrainConfig, resume: bool) -> None:
    """The output locations can be written, and a checkpoint at ``config.checkpoint`` is
    continued (``--resume``) or kept."""
    ckpt = Path(config.checkpoint)
    if ckpt.is_dir():
        raise UsageError(f"the checkpoint {ckpt} is a folder; name a .safetensors file.")
    common.writable_folder(ckpt.parent, "the checkpoint's folder")
    common.writable_folder(config.out, "out")
    if config.init_from and not (Path(config.init_from) / "model.safetensors").is_file():
        raise UsageError(
            f"init_from {config.init_from} is not a TSLM folder (no model.safetensors there); "
            "name the folder train.tslm wrote with --out"
        )
    if not resume:
        meta = (
            common.checkpoint_metadata(ckpt, common.CHECKPOINT_KEY)
            or common.checkpoint_metadata(ckpt, common.OLD_DESCRIBER_KEY)
            or {}
        )
        at = position(meta.get("progress"), meta.get("config"))
        common.refuse_overwrite(ckpt, str(ckpt), at, "--checkpoint")


def warm_up(config, tslm, progress, arrays, world, stop, budget=float("inf"), on_step=None) -> int:
    """The encoder warm-up, checkpointed every ``checkpoint_every`` steps, on Ctrl-C and when
    ``budget`` steps are done, continued from ``arrays`` when they are a checkpoint written
    during it. Returns the number of steps run; ``progress`` says whether it finished."""
    ckpt = Path(config.checkpoint)
    total = config.encoder_warmup_steps
    warmup = EncoderWarmup(
        tslm,
        steps=total,
        batch_size=config.encoder_warmup_batch_size,
        learning_rate=config.encoder_warmup_lr,
        weight_decay=config.weight_decay,
        seed=config.seed,
        synthetic=config.synthetic,
        shard=world.shard(config.encoder_warmup_batch_size),
    )
    if arrays is not None and "warmup_step" in progress:
        restore_weights(arrays, tslm, ckpt)
        try:
            warmup.load_state(dict(_part(arrays, "warmup.")), progress["warmup_step"])
        except ValueError as e:
            raise UsageError(f"{ckpt}: {e}.") from None

    first = warmup.step
    last = int(min(total, first + budget))
    job = _WarmupJob(warmup, config, tslm, progress, world)
    cadence = loop.Cadence(config.report_every * 4, total, config.checkpoint_every)
    phase = None if on_step is None else (lambda step: on_step("encoder warm-up", step))
    loop.train_loop(job, first, last, total, cadence, world, stop=stop, on_step=phase, quiet=True)
    if warmup.step < total:  # the budget ended it; the checkpoint above is at this step
        return warmup.step - first
    progress["encoder_warmup_accuracy"] = warmup.accuracy(verbose=world.is_main)
    progress["encoder_warmed_up"] = True
    progress.pop("warmup_step", None)
    optimizer = make_optimizer(config.stages[0], config.weight_decay)
    optimizer.init(tslm.trainable_parameters())  # a fresh state: resuming matches this
    if world.is_main:
        save_checkpoint(ckpt, tslm, optimizer, progress, config, _writer(world))
    return warmup.step - first


def _writer(world: World) -> dict:
    return {"written_by_rank": world.rank, "world_size": world.size}


class _WarmupJob:
    """The encoder warm-up as the training loop's job (sadt/train/loop.py)."""

    name = "encoder warm-up"

    def __init__(self, warmup: EncoderWarmup, config, tslm, progress: dict, world) -> None:
        self.warmup, self.config, self.tslm = warmup, config, tslm
        self.progress, self.world = progress, world
        self.checkpoint_path = config.checkpoint
        self.clock = loop.Clock(warmup.step)

    def train_step(self, index: int) -> dict:
        return self.warmup.train_step(index)

    def evaluate(self) -> None:
        return None  # its held-out accuracy is measured once, at the end

    def log(self, record: dict) -> None:
        step, loss = record["step"], np.mean(self.warmup.losses[-50:])
        print(f"[encoder warm-up {step}/{self.warmup.steps}] loss {loss:.3f} "
              f"it/s {self.clock.rate(step):.2f}", flush=True)  # fmt: skip

    def checkpoint(self, step: int) -> None:
        self.progress["warmup_step"] = step
        if step < self.warmup.steps and self.world.is_main:  # the end is saved warmed up
            save_checkpoint(
                Path(self.config.checkpoint),
                self.tslm,
                None,
                self.progress,
                self.config,
                _writer(self.world),
                self.warmup,
            )

    def where(self, step: int) -> str:
        return f"encoder warm-up step {step}"


class _StageJob:
    """One curriculum stage as the training loop's job: the next batch is built while the
    current step runs."""

    def __init__(self, config, s, tslm, optimizer, source, progress, last, world) -> None:
        self.config, self.s, self.tslm, self.optimizer = config, s, tslm, optimizer
        self.source, self.progress, self.last, self.world = source, progress, last, world
        self.stage = config.stages[s]
        self.name = self.stage.name
        self.checkpoint_path = config.checkpoint
        self.step_fn, self.state = make_train_step(tslm, optimizer, config.max_grad_norm, world)
        self.validation = source.validation(s)
        self.next: tuple[int, object] | None = None
        self.losses: list[float] = []
        self.tokens = 0
        self.clock = loop.Clock(progress["step"])

    def batch(self, k: int):  # every rank draws the global batch and keeps its share
        rows = self.world.shard(self.config.batch_size)
        return make_batch(self.tslm, self.source.batch(self.s, k)[rows])

    def train_step(self, index: int) -> dict:
        held = self.next
        batch = held[1] if held is not None and held[0] == index else self.batch(index)
        mx.random.seed(step_seed(self.config.seed, self.s, index))  # dropout: the step's
        loss, _ = self.step_fn(*batch.arrays())
        mx.async_eval(self.state, loss)
        self.tokens += batch.num_tokens
        self.next = (index + 1, self.batch(index + 1)) if index + 1 < self.last else None
        self.losses.append(loss.item())
        return {"loss": self.losses[-1]}

    def evaluate(self) -> dict:
        val = evaluate_loss(self.tslm, self.validation, self.config.batch_size)
        self.progress["best_val"] = min(self.progress["best_val"], val)
        return {"val_loss": val}

    def log(self, record: dict) -> None:
        every, elapsed = self.config.report_every, self.clock.elapsed()
        report = {
            "loss": f"{np.mean(self.losses[-every:]):.3f}",
            "it/s": f"{self.clock.rate(record['step']):.2f}",
            "tok/s": f"{self.tokens / elapsed:.0f}",
            "peak_GB": f"{mx.get_peak_memory() / 1e9:.2f}",
        }
        if "val_loss" in record:
            report["val_loss"] = f"{record['val_loss']:.4f}"
        line = " ".join(f"{key} {value}" for key, value in report.items())
        self.world.say(f"[{self.name} {record['step']}/{self.stage.steps}] {line}", flush=True)

    def checkpoint(self, step: int) -> None:
        self.progress.update(stage=self.s, step=step)
        if self.world.is_main:  # rank 0 alone writes
            ckpt = Path(self.config.checkpoint)
            save_checkpoint(
                ckpt, self.tslm, self.optimizer, self.progress, self.config, _writer(self.world)
            )

    def where(self, step: int) -> str:
        return f"{self.name} step {step}"


def run_stage(
    config, s, tslm, optimizer, source, progress, ckpt, budget, world, stop=None, on_step=None
) -> int:
    """Train stage ``s`` from ``progress["step"]`` to its end (or ``budget`` steps)."""
    stage = config.stages[s]
    first = progress["step"]
    last = int(min(stage.steps, first + budget))
    tslm.train()
    job = _StageJob(config, s, tslm, optimizer, source, progress, last, world)
    cadence = loop.Cadence(config.report_every, config.val_every, config.checkpoint_every)
    phase = None if on_step is None else (lambda step: on_step(stage.name, step))
    # In a log file the report lines say it all; a bar is for terminals.
    quiet = not sys.stderr.isatty()
    loop.train_loop(job, first, last, stage.steps, cadence, world, stop=stop, on_step=phase,
                    quiet=quiet)  # fmt: skip
    return last - first


def _assignment(text: str) -> tuple[str, object]:
    """``--set a.b.0.c=value`` (the older spelling of ``--a.b.0.c value``) -> (path, value)."""
    if "=" not in text:
        raise UsageError(f"--set {text!r}: use key.path=value.")
    path, raw = text.split("=", 1)
    return path, common.setting_value(raw, f"--set {path}")


def load_config(path: str | None, overrides: list[tuple[str, object]]) -> TrainConfig:
    """YAML config (or the defaults) + (setting path, value) overrides, validated."""
    raw = common.read_config_file(path) if path else {}
    if overrides and "stages" not in raw:
        raw["stages"] = [asdict(s) for s in TrainConfig().stages]
    for name, value in overrides:
        common.set_path(raw, name, value)
    config = TrainConfig.from_dict(raw)  # every setting checked (``__post_init__``)
    try:
        config.tslm_config()
    except (TypeError, ValueError) as e:
        raise UsageError(f"model settings: {e}") from e
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sadt train tslm",
        description=__doc__.split("\n\n")[0],
        epilog="Any setting can follow as '--key value' (YAML values), as in every trainer: "
        "e.g. --stages.1.steps 500 --model.lora.rank 16 (--set stages.1.steps=500 is the same).",
    )
    parser.add_argument("--config", help="YAML file of TrainConfig settings")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. stages.1.steps=500 (= --stages.1.steps 500)",
    )
    parser.add_argument("--base-model", help="local mlx-lm folder or Hub id")
    parser.add_argument("--out", help="folder for the trained TSLM")
    parser.add_argument("--checkpoint", help="full-state checkpoint file (.safetensors)")
    parser.add_argument("--csv", help="CSV of user (series, caption) pairs")
    parser.add_argument("--init-from", help="TSLM folder whose trained weights start this run")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    parser.add_argument(
        "--max-steps",
        type=int,
        help="stop this run after N optimizer steps, encoder warm-up steps included "
        "(checkpointed; --resume continues)",
    )
    args, rest = parser.parse_known_args(argv)
    flags = {"base_model": args.base_model, "out": args.out, "checkpoint": args.checkpoint}
    flags["csv"], flags["init_from"] = args.csv, args.init_from

    def body():
        overrides = [_assignment(text) for text in args.set] + common.key_value_pairs(rest)
        overrides += [(k, v) for k, v in flags.items() if v is not None]
        config = load_config(args.config, overrides)
        train(config, resume=args.resume, max_steps=args.max_steps)

    errors = (SadtError, OSError)
    return common.run_main(body, errors, distributed.init().is_main)


if __name__ == "__main__":
    raise SystemExit(main())
