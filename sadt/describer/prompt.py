"""The TSLM prompt: what the LLM reads around the soft tokens, and training batches.

Layout (OpenTSLM-SoftPrompt):

    [pre text][series text "... mean m std s:"][soft tokens][facts][post text] answer</s>

The series is z-scored before the encoder sees it; its raw mean and std go into the
text, so a description can quote the series' numbers in the user's units. A series
longer than the encoder reads is reduced first (its last points, or block means) and
the series text says how, so the model can say what it looked at.

Batches pad only at the end; the loss reads only answer tokens (the caption, the
multiple-choice answer, and the closing end-of-sequence token).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import mlx.core as mx
import numpy as np

from sadt.describer.patch_encoder import PatchEncoderConfig, pad_to_patches
from sadt.settings import checked

SOFT_MARK = "<|series|>"  # stands for the soft tokens while a chat template renders


@dataclass
class PromptConfig:
    pre_text: str = "Time series"
    describe_text: str = "Describe the series."
    max_series_length: int | None = None  # None: what the encoder's positions cover
    long_series: str = "last"  # "last": the latest points | "mean": block means of all
    use_chat_template: bool = True  # when the tokenizer has one (instruct models)
    facts: bool = False  # a facts line (sadt.describer.facts) and slot language in answers

    @classmethod
    def from_dict(cls, d: dict) -> PromptConfig:
        return cls(**checked(cls, d, "prompt"))

    def to_dict(self) -> dict:
        return asdict(self)


def format_number(x: float, digits: int = 3) -> str:
    """``digits`` significant digits, never an exponent: 437, 0.532, 12300, -3.2.

    The rule ``sadt.describer.captions`` writes numbers with too, so a caption's "mean 437"
    is a copy of the prompt's digits.
    """
    if not math.isfinite(x):
        return str(x)
    return np.format_float_positional(x, precision=digits, unique=False, fractional=False, trim="-")


@dataclass
class SeriesView:
    """The part of a series the encoder reads, z-scored, with its original-scale stats.

    values  # (n,) float32, z-scored (mean 0, std 1 unless constant)
    """

    values: np.ndarray
    mean: float  # of the points read, original units
    std: float
    original_length: int
    reduction: str  # "" (read whole), "last" or "mean"
    block: int = 1  # points per block mean when reduction == "mean"

    @property
    def text(self) -> str:
        """The series text: length, reduction (when any), mean and std."""
        n, total = len(self.values), self.original_length
        if self.reduction == "last":
            span = f"the last {n} of {total} points"
        elif self.reduction == "mean":
            span = f"{total} points as {n} means of {self.block}"
        else:
            span = f"{n} points"
        return f" of {span}, mean {format_number(self.mean)} std {format_number(self.std)}:"

    @property
    def note(self) -> str:
        """One sentence for the reader when the model did not read every point."""
        if self.reduction == "last":
            return f"(Read the last {len(self.values)} of {self.original_length} points.) "
        if self.reduction == "mean":
            return (
                f"(Read {self.original_length} points as {len(self.values)} means of "
                f"{self.block}.) "
            )
        return ""


def series_view(values: np.ndarray, max_length: int, long_series: str = "last") -> SeriesView:
    """Reduce (when longer than ``max_length``) and z-score one series (n,), original scale."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    total = len(values)
    reduction, block = "", 1
    if total > max_length:
        if long_series == "last":
            values, reduction = values[-max_length:], "last"
        elif long_series == "mean":
            # Blocks end on the last point so the most recent data is never averaged away.
            block = math.ceil(total / max_length)
            usable = (total // block) * block
            values = values[total - usable :].reshape(-1, block).mean(axis=1)
            reduction = "mean"
        else:
            raise ValueError(f"long_series must be 'last' or 'mean', not {long_series!r}")
    mean, std = float(values.mean()), float(values.std())
    scaled = (values - mean) / (std if std > 1e-12 else 1.0)
    return SeriesView(scaled.astype(np.float32), mean, std, total, reduction, block)


@dataclass
class PromptTokens:
    """Token ids of one prompt; the soft tokens go between ``prefix`` and ``suffix``."""

    prefix: list[int]
    n_soft: int
    suffix: list[int]
    series: np.ndarray  # (L,) z-scored points the encoder reads, a whole number of patches

    @property
    def length(self) -> int:
        return len(self.prefix) + self.n_soft + len(self.suffix)


class PromptBuilder:
    """Turns (series, question, answer) into token ids for one tokenizer and encoder."""

    def __init__(self, tokenizer, config: PromptConfig, encoder: PatchEncoderConfig):
        self.tokenizer = tokenizer
        self.config = config
        self.encoder = encoder
        self.max_length = min(config.max_series_length or encoder.max_length, encoder.max_length)
        template = getattr(tokenizer, "chat_template", None)
        self.chat = bool(config.use_chat_template and template)
        self.pad_id = _pad_id(tokenizer)

    def view(self, values: np.ndarray) -> SeriesView:
        return series_view(values, self.max_length, self.config.long_series)

    def prompt(
        self, view: SeriesView, question: str | None = None, facts: str = ""
    ) -> PromptTokens:
        """Prompt ids for a series view; ``question`` None asks for a description; ``facts``
        (a line of ``sadt.describer.facts``) goes between the soft tokens and the question."""
        post = question if question else self.config.describe_text
        if facts:
            post = f"{facts}\n{post}"
        head = self.config.pre_text + view.text
        series = pad_to_patches(view.values, self.encoder)
        n_soft = self.encoder.num_tokens(len(series))  # patches, then spectral tokens
        if self.chat:
            messages = [{"role": "user", "content": f"{head}{SOFT_MARK}\n{post}"}]
            text = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
            before, after = text.split(SOFT_MARK)
            prefix = self._encode(before)
            suffix = self._encode(after)
        else:
            bos = self.tokenizer.bos_token_id
            prefix = ([bos] if bos is not None else []) + self._encode(head)
            suffix = self._encode(f"\n{post}\n")
        return PromptTokens(prefix, n_soft, suffix, series)

    def answer(self, text: str) -> list[int]:
        """Answer ids, closed by end-of-sequence (the model must learn to stop)."""
        eos = self.tokenizer.eos_token_id
        return self._encode(text) + ([eos] if eos is not None else [])

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))


def _pad_id(tokenizer) -> int:
    pad = getattr(tokenizer, "pad_token_id", None)
    if pad is None:
        pad = tokenizer.eos_token_id
    return int(pad if pad is not None else 0)


@dataclass
class Batch:
    """Arrays for one training / scoring step (B examples, pad at the end only).

    tokens            # (B, T) int32 input ids; soft slots hold the pad id
    soft_slots        # (B, T) int32 flat index into the encoder's (B * tokens) outputs, or -1
    series            # (B, L) float32 z-scored points, right-padded
    series_mask       # (B, L) bool, True on real points
    target_positions  # (B, A) int32 input positions whose next token is an answer token
    targets           # (B, A) int32 those answer tokens
    target_mask       # (B, A) float32 1 on real answer tokens, 0 on padding
    """

    tokens: mx.array
    soft_slots: mx.array
    series: mx.array
    series_mask: mx.array
    target_positions: mx.array
    targets: mx.array
    target_mask: mx.array
    num_tokens: int  # real (unpadded) tokens the LLM reads, soft ones included

    def arrays(self) -> tuple[mx.array, ...]:
        """The arrays in the order ``answer_loss`` and the compiled step take them."""
        return (
            self.tokens,
            self.soft_slots,
            self.series,
            self.series_mask,
            self.target_positions,
            self.targets,
            self.target_mask,
        )


def _bucket(n: int, step: int) -> int:
    # Few distinct shapes keep mx.compile from retracing on every batch.
    return max(step, math.ceil(n / step) * step)


def collate(
    prompts: list[PromptTokens],
    answers: list[list[int]],
    encoder: PatchEncoderConfig,
    pad_id: int,
    token_bucket: int = 16,
) -> Batch:
    """Stack examples into one padded Batch (numpy work; one copy to MLX at the end)."""
    b = len(prompts)
    seq_lengths = [p.length + len(a) - 1 for p, a in zip(prompts, answers, strict=True)]
    t = _bucket(max(seq_lengths), token_bucket)
    a_max = _bucket(max(len(a) for a in answers), 8)
    l_max = max(len(p.series) for p in prompts)
    # Whole patches, and a multiple of 8 patches to bound the number of shapes.
    p_max = _bucket(encoder.num_patches(l_max), 8)
    l_pad = (p_max - 1) * encoder.stride + encoder.patch_size
    k = encoder.spectral_tokens
    width = p_max + k  # encoder tokens per row: patches (some padding), then spectral ones

    tokens = np.full((b, t), pad_id, dtype=np.int32)
    soft_slots = np.full((b, t), -1, dtype=np.int32)
    series = np.zeros((b, l_pad), dtype=np.float32)
    series_mask = np.zeros((b, l_pad), dtype=bool)
    positions = np.zeros((b, a_max), dtype=np.int32)
    targets = np.zeros((b, a_max), dtype=np.int32)
    target_mask = np.zeros((b, a_max), dtype=np.float32)
    for i, (p, answer) in enumerate(zip(prompts, answers, strict=True)):
        start = len(p.prefix)
        seq = p.prefix + [pad_id] * p.n_soft + p.suffix + answer
        tokens[i, : len(seq) - 1] = seq[:-1]
        n_patches = p.n_soft - k
        soft_slots[i, start : start + n_patches] = i * width + np.arange(n_patches)
        soft_slots[i, start + n_patches : start + p.n_soft] = i * width + p_max + np.arange(k)
        series[i, : len(p.series)] = p.series
        series_mask[i, : len(p.series)] = True
        first = p.length  # index of the first answer token in seq
        positions[i, : len(answer)] = np.arange(first - 1, first - 1 + len(answer))
        targets[i, : len(answer)] = answer
        target_mask[i, : len(answer)] = 1.0
    return Batch(
        mx.array(tokens),
        mx.array(soft_slots),
        mx.array(series),
        mx.array(series_mask),
        mx.array(positions),
        mx.array(targets),
        mx.array(target_mask),
        num_tokens=int(sum(seq_lengths)),
    )
