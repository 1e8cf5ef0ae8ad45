"""Training examples for the describer: synthetic series with captions or questions.

An ``Example`` is (series, question, answer): ``question`` None asks for a
description (the answer is a ``sadt.describer.captions.caption``); otherwise it is a
multiple-choice prompt (``sadt.describer.captions.questions``) answered with the right
option's text ("Low noise").
Users can add their own (series, caption) pairs from a CSV.

``ExampleSource.batch(stage, step, rank)`` is a pure function of its seeds, so a
resumed training run sees exactly the batches an uninterrupted one would, and
data-parallel ranks see different ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sadt.describer.prompt import PromptConfig, series_view

TASKS = ("caption", "mcq")


class DataError(ValueError):
    """A user mistake in training data or settings; the message says what to fix."""


@dataclass
class Example:
    values: np.ndarray  # (n,) original scale
    question: str | None  # None: describe
    answer: str


def synthetic_example(
    rng: np.random.Generator,
    task: str,
    synthetic_config=None,
    length: int | None = None,
    caption_stats: bool = True,
) -> Example:
    """One synthetic series with a caption ("caption") or a multiple-choice question ("mcq").

    ``caption_stats``: captions may quote the series mean (the prompt states it); off
    for models that cannot copy numbers from their prompt reliably.
    """
    from sadt.describer import captions
    from sadt.synthetic import generate

    overrides = {} if length is None else {"length": length}
    values, attrs = generate(rng, synthetic_config, **overrides)
    if task == "caption":
        stats = _stats(values) if caption_stats else None
        return Example(values, None, captions.caption(attrs, rng, stats=stats))
    if task == "mcq":
        q = captions.questions(attrs, rng, n=1)[0]  # a random topic, options shuffled
        # The answer is the option's text, not its letter: the series picks the words
        # and the model copies them from the prompt. A letter first would ask a small
        # model to look up which letter sits before the words it has not written yet.
        return Example(values, q.prompt(), q.options[q.answer])
    raise DataError(f"unknown task {task!r}: use one of {TASKS}.")


def _stats(values: np.ndarray) -> tuple[float, float]:
    """(mean, std) of the raw series: the numbers the prompt text states."""
    view = series_view(values, max_length=len(values))
    return view.mean, view.std


def synthetic_examples(n: int, seed: int, tasks=("caption",), synthetic_config=None) -> list:
    """``n`` examples, tasks in turn; item i depends only on (seed, i)."""
    return [
        synthetic_example(np.random.default_rng([seed, i]), tasks[i % len(tasks)], synthetic_config)
        for i in range(n)
    ]


def text_of_example(example: Example, prompt: PromptConfig | None = None) -> str:
    """The prompt text (no soft tokens) + answer: what the tiny Llama pretrains on."""
    prompt = prompt or PromptConfig()
    view = series_view(example.values, max_length=len(example.values))
    post = example.question or prompt.describe_text
    return f"{prompt.pre_text}{view.text}\n{post}\n{example.answer}"


def read_pairs_csv(path: str) -> list[Example]:
    """User (series, caption) pairs: a CSV with a "series" column (numbers separated by
    spaces, commas or semicolons, optionally in brackets) and a "caption" column."""
    import pandas as pd

    file = Path(path)
    if not file.exists():
        raise DataError(f"the caption CSV {file} does not exist.")
    try:
        table = pd.read_csv(file)
    except Exception as e:
        raise DataError(f"{file} is not a readable CSV ({e}).") from e
    if not {"series", "caption"} <= set(table.columns):
        raise DataError(f"{file} needs columns 'series' and 'caption' (has {list(table.columns)}).")
    examples = []
    rows = zip(table["series"], table["caption"], strict=True)
    for line, (series, caption) in enumerate(rows, start=2):
        text = str(series).strip().strip("[]").replace(";", " ").replace(",", " ")
        try:
            values = np.array([float(x) for x in text.split()], dtype=np.float64)
        except ValueError:
            raise DataError(f"{file} line {line}: the series is not a list of numbers.") from None
        if len(values) < 2 or not np.isfinite(values).all() or not str(caption).strip():
            raise DataError(f"{file} line {line}: need >= 2 finite values and a caption.")
        examples.append(Example(values, None, str(caption).strip()))
    if not examples:
        raise DataError(f"{file} holds no (series, caption) rows.")
    return examples


class ExampleSource:
    """Batches of examples per curriculum stage, each a pure function of its seeds.

    ``stage_tasks[s]`` maps task ("caption" / "mcq") -> share of stage ``s``'s batches.
    Caption examples come from ``user_pairs`` with probability ``user_share``.
    """

    def __init__(
        self,
        seed: int,
        batch_size: int,
        stage_tasks: list[dict],
        synthetic: dict | None = None,
        user_pairs: list[Example] | None = None,
        user_share: float = 0.5,
        val_examples: int = 64,
        caption_stats: bool = True,
    ):
        from sadt.synthetic import SyntheticConfig

        self.seed, self.batch_size, self.stage_tasks = seed, batch_size, stage_tasks
        self.synthetic = SyntheticConfig.from_dict(synthetic or {})
        self.user_pairs = user_pairs or []
        self.user_share, self.val_examples = user_share, val_examples
        self.caption_stats = caption_stats

    def batch(self, stage: int, step: int, rank: int = 0) -> list[Example]:
        rng = np.random.default_rng([self.seed, stage, step, rank])
        tasks = self.stage_tasks[stage]
        names, shares = list(tasks), np.array(list(tasks.values()), dtype=float)
        picks = rng.choice(len(names), size=self.batch_size, p=shares / shares.sum())
        # One length per batch: no padding of series or soft tokens, and the length
        # distribution over batches is still the generator's.
        length = int(rng.integers(self.synthetic.min_length, self.synthetic.max_length + 1))
        return [self.example(rng, names[i], length) for i in picks]

    def example(self, rng: np.random.Generator, task: str, length: int | None = None) -> Example:
        if task == "caption" and self.user_pairs and rng.random() < self.user_share:
            return self.user_pairs[int(rng.integers(len(self.user_pairs)))]
        return synthetic_example(rng, task, self.synthetic, length, self.caption_stats)

    def validation(self, stage: int) -> list[Example]:
        """A fixed validation set for a stage (seeds apart from every training batch's)."""
        rng = np.random.default_rng([self.seed, 10_000 + stage])
        tasks = list(self.stage_tasks[stage])
        n = self.val_examples
        return [
            synthetic_example(rng, tasks[i % len(tasks)], self.synthetic, None, self.caption_stats)
            for i in range(n)
        ]


# ---- attribute labels (the encoder warm-up) -----------------------------------------

ATTRIBUTE_NAMES = ("trend", "noise", "period", "spikes", "level_shifts", "seasonalities")


def attribute_classes(periods: tuple[int, ...]) -> tuple[int, ...]:
    """Number of classes per ``ATTRIBUTE_NAMES`` entry (period: none + each period)."""
    return (3, 3, 1 + len(periods), 4, 3, 3)


def attribute_targets(attrs, periods: tuple[int, ...]) -> list[int]:
    """Class indices of a ``SeriesAttributes`` record, in ``ATTRIBUTE_NAMES`` order;
    counts are capped as the questions cap them (spikes "three or more")."""
    period = 0 if not attrs.seasonalities else 1 + periods.index(attrs.dominant_period)
    return [
        ("none", "up", "down").index(attrs.trend),
        ("low", "medium", "high").index(attrs.noise),
        period,
        min(len(attrs.spikes), 3),
        min(len(attrs.level_shifts), 2),
        min(len(attrs.seasonalities), 2),
    ]


def attribute_batch(seed: int, step: int, batch_size: int, synthetic=None):
    """(series list, targets (B, 6) int) for warm-up step ``step``; one length per batch."""
    from sadt.synthetic import SyntheticConfig, generate

    config = synthetic or SyntheticConfig()
    rng = np.random.default_rng([seed, 20_000, step])  # apart from the stage batch seeds
    length = int(rng.integers(config.min_length, config.max_length + 1))
    series, targets = [], []
    for _ in range(batch_size):
        values, attrs = generate(rng, config, length=length)
        series.append(values)
        targets.append(attribute_targets(attrs, tuple(config.periods)))
    return series, np.array(targets, dtype=np.int32)
