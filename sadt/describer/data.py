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
from sadt.errors import DataError

TASKS = ("caption", "mcq", "forecast")
FORECAST_QUESTION = "Describe the forecast."


@dataclass
class Example:
    values: np.ndarray  # (n,) original scale
    question: str | None  # None: describe
    answer: str
    facts: str = ""  # the facts line of the prompt (``sadt.describer.facts``); "" for none


def synthetic_example(
    rng: np.random.Generator,
    task: str,
    synthetic_config=None,
    length: int | None = None,
    caption_stats: bool = True,
    facts: bool = False,
) -> Example:
    """One synthetic series with a caption ("caption"), a multiple-choice question ("mcq")
    or a forecast description ("forecast": the series' end plays the forecast's median).

    ``facts``: captions in slot language (``sadt.describer.captions.slot_caption``) and a
    facts line in every prompt (``sadt.describer.facts``), for describers whose prompt
    config has ``facts`` on; else the step-count captions of earlier describers, which may
    quote the series mean (``caption_stats``).
    """
    from sadt.describer import captions
    from sadt.describer.facts import facts_of_values
    from sadt.synthetic import generate

    overrides = {} if length is None else {"length": length}
    values, attrs = generate(rng, synthetic_config, **overrides)
    if not facts:
        return _plain_example(values, attrs, task, rng, caption_stats)
    step_seconds, months = random_calendar(attrs.dominant_period, rng)
    if task == "forecast":
        return _forecast_example(values, step_seconds, months, rng)
    facts = facts_of_values(values, step_seconds, months)
    if task == "caption":
        return Example(values, None, captions.slot_caption(attrs, facts, rng), facts.prompt_text())
    if task == "mcq":
        q = captions.questions(attrs, rng, n=1)[0]  # a random topic, options shuffled
        # The answer is the option's text, not its letter: the series picks the words
        # and the model copies them from the prompt. A letter first would ask a small
        # model to look up which letter sits before the words it has not written yet.
        return Example(values, q.prompt(), q.options[q.answer], facts.prompt_text())
    raise DataError(f"unknown task {task!r}: use one of {TASKS}.")


def _plain_example(values, attrs, task, rng, caption_stats) -> Example:
    from sadt.describer import captions

    if task == "caption":
        stats = _stats(values) if caption_stats else None
        return Example(values, None, captions.caption(attrs, rng, stats=stats))
    if task == "mcq":
        q = captions.questions(attrs, rng, n=1)[0]
        return Example(values, q.prompt(), q.options[q.answer])
    raise DataError(f"task {task!r} needs a describer with facts (prompt.facts: true).")


# The calendar a synthetic cycle would have in real data: (seconds per step, months per step).
_CALENDARS = {
    4: [(None, 3.0)], 7: [(86400.0, None)], 12: [(None, 1.0)], 24: [(3600.0, None)],
    48: [(1800.0, None)], 52: [(604800.0, None)], 60: [(60.0, None)], 96: [(900.0, None)],
    168: [(3600.0, None)], 288: [(300.0, None)],
}  # fmt: skip
_ANY_CALENDAR = [(3600.0, None), (86400.0, None), (None, 1.0), (None, 3.0), (None, 12.0),
                 (604800.0, None), (300.0, None), (None, None)]  # fmt: skip


def random_calendar(period: int | None, rng: np.random.Generator):
    """A sampling interval for a synthetic series: plain steps 30 % of the time, else one
    in which its dominant cycle is a calendar one (24 steps -> hourly)."""
    if rng.random() < 0.3:
        return None, None
    options = _CALENDARS.get(period) if period else None
    options = options or _ANY_CALENDAR
    return options[int(rng.integers(len(options)))]


@dataclass
class RealSeries:
    """A real training series (never a held-out one) and its calendar."""

    values: np.ndarray
    step_seconds: float | None
    months: float | None
    business_days: bool = False


def read_real_corpus(folder: str | Path) -> list[RealSeries]:
    """The train split of a corpus folder (``MANIFEST.csv`` with a ``split`` column); the
    held-out rows are never read. Files the reader refuses are left out."""
    import csv

    from sadt.describer.facts import calendar_of
    from sadt.series import SeriesError, read_series

    folder = Path(folder)
    manifest = folder / "MANIFEST.csv"
    if not manifest.is_file():
        raise DataError(f"{folder} holds no MANIFEST.csv: name the corpus folder (real_corpus).")
    pool = []
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("split") != "train":
                continue
            try:
                series = read_series(folder / row["file"])
            except SeriesError:
                continue
            cal = calendar_of(series.freq, series.timestamps)
            pool.append(RealSeries(series.values, cal.step_seconds, cal.months, cal.business_days))
    if not pool:
        raise DataError(f"{manifest} lists no readable train-split series.")
    return pool


def real_example(rng: np.random.Generator, real: RealSeries, task: str, length: int) -> Example:
    """A stretch of a real series (``length`` points, or all of a shorter one) captioned by
    what its facts say (``sadt.describer.captions.observed``): real soft tokens next to words
    the calibrated detectors stand behind."""
    from sadt.describer import captions
    from sadt.describer.facts import facts_of_values

    n = len(real.values)
    size = min(n, max(64, length))
    start = int(rng.integers(0, n - size + 1))
    values = np.asarray(real.values[start : start + size], dtype=np.float64)
    if task == "forecast":
        return _forecast_example(values, real.step_seconds, real.months, rng, real.business_days)
    facts = facts_of_values(values, real.step_seconds, real.months,
                            business_days=real.business_days)  # fmt: skip
    text = captions.slot_caption(captions.observed(facts), facts, rng)
    return Example(values, None, text, facts.prompt_text())


def _forecast_example(values, step_seconds, months, rng, business_days=False) -> Example:
    """History + "forecast": the last part of a synthetic series (lightly smoothed) as the
    median, a band that widens or stays, and the forecast caption of their facts."""
    from sadt.describer import captions
    from sadt.describer.facts import facts_of_values, forecast_facts

    n = len(values)
    h = int(rng.integers(max(2, n // 8), max(3, n // 3) + 1))
    history, future = values[:-h], values[-h:]
    median = np.convolve(np.pad(future, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    width0 = float(np.std(np.diff(history))) * rng.uniform(0.5, 2.0) + 1e-9
    growth = rng.choice([0.0, rng.uniform(0.0, 0.3), rng.uniform(1.0, 4.0)])
    half = 0.5 * width0 * (1 + growth * np.arange(h) / max(h - 1, 1))
    facts = facts_of_values(history, step_seconds, months, business_days=business_days)
    ff = forecast_facts(facts, history, median, median - half, median + half)
    text = f"{facts.prompt_text()} {ff.prompt_text()}"
    joined = np.concatenate([history, median])
    return Example(joined, FORECAST_QUESTION, captions.forecast_caption(ff, rng), text)


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
    if example.facts:
        post = f"{example.facts}\n{post}"
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
        facts: bool = False,
        real_series: list[RealSeries] | None = None,
        real_share: float = 0.0,
    ):
        from sadt.synthetic import SyntheticConfig

        self.seed, self.batch_size, self.stage_tasks = seed, batch_size, stage_tasks
        self.synthetic = SyntheticConfig.from_dict(synthetic or {})
        self.user_pairs = user_pairs or []
        self.user_share, self.val_examples = user_share, val_examples
        self.caption_stats = caption_stats
        self.facts = facts
        self.real_series, self.real_share = real_series or [], real_share

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
        real = task in ("caption", "forecast") and self.facts and self.real_series
        if real and rng.random() < self.real_share:
            pick = self.real_series[int(rng.integers(len(self.real_series)))]
            return real_example(rng, pick, task, length or self.synthetic.max_length)
        return synthetic_example(rng, task, self.synthetic, length, self.caption_stats, self.facts)

    def validation(self, stage: int) -> list[Example]:
        """A fixed validation set for a stage (seeds apart from every training batch's)."""
        rng = np.random.default_rng([self.seed, 10_000 + stage])
        tasks = list(self.stage_tasks[stage])
        n = self.val_examples
        return [
            synthetic_example(
                rng, tasks[i % len(tasks)], self.synthetic, None, self.caption_stats, self.facts
            )
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
