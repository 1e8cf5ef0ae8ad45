"""Training data for the forecaster: series from files, and random (context, horizon) windows.

Files: a CSV whose every numeric column is one univariate series (rows optionally restricted
to a range, e.g. ETTh1's train rows [0, 8640)), and M4-style wide files (one series per row,
an id in the first column, ragged rows ending in empty cells). Values stay in their original
scale here; each window is z-scored by its own context (`context_scale`) when it is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sadt.errors import DataError
from sadt.forecaster.bases import base_forecasts
from sadt.forecaster.model import context_scale


def parse_rows(rows, name: str = "a row range") -> tuple[int, int | None] | None:
    """A row range from "0:8640", [0, 8640] or None (all rows) -> (start, stop) or None.

    Bounds are Python slice bounds ("0:-96": all but the last 96 rows). Anything else (a bare
    number, a word, three bounds, an empty range) is a DataError that names ``name``."""
    if rows is None or rows == "":
        return None
    problem = DataError(
        f"{name} must look like '0:8640' or [0, 8640] (start, stop), not {rows!r}"
        + _sexagesimal_hint(rows)
    )
    if isinstance(rows, str):
        parts = rows.split(":")
    elif isinstance(rows, (list, tuple)):
        parts = list(rows)
    else:
        raise problem
    if len(parts) != 2:
        raise problem
    try:
        start, stop = (_row(p) for p in parts)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        raise problem from None
    start = start or 0
    if stop is not None and 0 <= start and 0 <= stop <= start:  # negatives count from the end
        raise problem
    return start, stop


def _sexagesimal_hint(rows) -> str:
    """YAML 1.1 reads an unquoted 10:20 as the base-60 number 620: say what was likely meant."""
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 60:
        return ""
    start, stop = divmod(rows, 60)
    return (
        f" (YAML reads an unquoted {start}:{stop} as the base-60 number {rows}: "
        f"write '\"{start}:{stop}\"' in quotes or [{start}, {stop}])"
    )


def _row(part) -> int | None:
    if part is None or (isinstance(part, str) and not part.strip()):
        return None
    if isinstance(part, bool) or float(part) != int(float(part)):
        raise ValueError(part)
    return int(float(part))


def read_csv_columns(path: str | Path) -> dict[str, np.ndarray]:
    """Every numeric column of a CSV as a float64 series (NaN kept), in file order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such data file: {path}")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{path} is not a readable CSV file: {err}") from None
    numeric = table.select_dtypes("number")
    if numeric.shape[1] == 0:
        raise DataError(f"{path} has no numeric column to train on")
    return {str(c): numeric[c].to_numpy(np.float64) for c in numeric.columns}


def read_wide_series(path: str | Path) -> list[np.ndarray]:
    """M4-style wide file: one series per row after the id column; trailing empties dropped."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such data file: {path}")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{path} is not a readable CSV file: {err}") from None
    values = table.iloc[:, 1:].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    series = [row[: _last_finite(row) + 1] for row in values]
    series = [s for s in series if s.size > 0]
    if not series:
        raise DataError(f"{path} holds no numeric series (expected: id, v1, v2, ... per row)")
    return series


def _last_finite(row: np.ndarray) -> int:
    finite = np.flatnonzero(np.isfinite(row))
    return int(finite[-1]) if finite.size else -1


def clean_segments(values: np.ndarray) -> list[np.ndarray]:
    """Split a series at missing values into its runs of finite values (float32)."""
    finite = np.isfinite(values)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], finite.astype(np.int8), [0]])))
    return [values[a:b].astype(np.float32) for a, b in zip(edges[::2], edges[1::2], strict=True)]


@dataclass
class Batch:
    """Normalized training windows: context, mask (B, L); future, future_mask (B, H);
    bases (base forecasts (B, K, H), features (B, F)) when the model blends them."""

    context: np.ndarray
    mask: np.ndarray
    future: np.ndarray
    future_mask: np.ndarray | None = None
    bases: tuple | None = None


@dataclass
class WindowOptions:
    """How `WindowSampler` draws windows (see its docstring)."""

    min_context: int = 32
    short_context_prob: float = 0.1
    value_clip: float = 20.0  # |normalized value| cap
    std_floor: float = 1e-9  # as ForecasterConfig.std_floor
    balance_sources: bool = True
    mixup_prob: float = 0.0
    source_weights: tuple[float, ...] | None = None  # relative draw rate of each source
    # Windows may end with fewer future points than the horizon (down to this many; None:
    # the whole horizon): short series (yearly, quarterly) train on the steps they have.
    min_future: int | None = None
    bases: bool = False  # compute the base forecasts (ForecasterConfig.blend_bases)
    scaling: str = "context"  # as ForecasterConfig.scaling


class WindowSampler:
    """Draws windows from a set of series; the caller's numpy Generator is the only randomness.

    A window's horizon ends inside its series and its context holds between `min_context`
    and L observed points (fewer at a series' start, or when shortened on purpose with
    probability `short_context_prob` to a log-uniform length, so short user contexts are
    in-distribution).
    `groups` gives each series a source index; with `balance_sources` every source is
    drawn equally often (or at the rates `source_weights` gives, in source order), otherwise
    every window is equally likely. With probability
    `mixup_prob` a window is a random convex mix of two windows, each z-scored by its own
    context first (TSMixup, as in Chronos): new series that regularize the encoder.
    """

    def __init__(self, series, groups, context_length, horizon, options: WindowOptions):
        self.L, self.H, self.options = context_length, horizon, options
        min_context = options.min_context
        self.min_future = (
            horizon if options.min_future is None else min(options.min_future, horizon)
        )
        need = min_context + self.min_future
        keep = [i for i, s in enumerate(series) if s.size >= need]
        if not keep:
            raise DataError(
                f"no series is long enough for one window (min_context {min_context} + "
                f"future {self.min_future} = {need} points)"
            )
        self.series = [series[i] for i in keep]
        counts = np.array([s.size - self.min_future - min_context + 1 for s in self.series], float)
        group = np.array([groups[i] for i in keep])
        if options.balance_sources:
            totals = {g: counts[group == g].sum() for g in np.unique(group)}
            rates = options.source_weights or [1.0] * (max(totals) + 1)
            if len(rates) <= max(totals):
                raise DataError(
                    f"source_weights has {len(rates)} entries for {max(totals) + 1} sources"
                )
            counts = (
                counts / np.array([totals[g] for g in group]) * np.array([rates[g] for g in group])
            )
        self.probabilities = counts / counts.sum()

    def _draw(self, rng: np.random.Generator, batch_size: int) -> list:
        """Raw (context (n_i,), future (H,)) pairs in original scale."""
        opts = self.options
        index = rng.choice(len(self.series), size=batch_size, p=self.probabilities)
        ends = [
            int(rng.integers(opts.min_context, self.series[i].size - self.min_future + 1))
            for i in index
        ]
        shorten = rng.random(batch_size) < opts.short_context_prob
        # Log-uniform lengths: a user's 12 yearly points are as likely as 700 hourly ones.
        low, high = np.log(opts.min_context), np.log(self.L + 1)
        lengths = np.exp(rng.uniform(low, high, size=batch_size)).astype(np.int64)
        windows = []
        for i, end, short, length in zip(index, ends, shorten, lengths, strict=True):
            n_ctx = min(self.L, end, int(length) if short else self.L)
            windows.append((self.series[i][end - n_ctx : end], self.series[i][end : end + self.H]))
        return windows

    def sample(self, rng: np.random.Generator, batch_size: int) -> Batch:
        windows = self._draw(rng, batch_size)
        mixed = np.flatnonzero(rng.random(batch_size) < self.options.mixup_prob)
        if mixed.size:
            partners = self._draw(rng, mixed.size)
            weights = rng.uniform(0.0, 1.0, mixed.size)
            for row, partner, w in zip(mixed, partners, weights, strict=True):
                windows[row] = self._mix(windows[row], partner, w)
        return self.normalize(windows)

    def _mix(self, a, b, weight: float):
        """weight * a + (1 - weight) * b, each z-scored by its own context; shorter context."""
        n, m = min(a[0].size, b[0].size), min(a[1].size, b[1].size)
        parts = []
        for context, future in (a, b):
            scale = context_scale(
                context[None],
                np.ones((1, context.size)),
                self.options.std_floor,
                self.options.scaling,
            )
            mean, std = float(scale[0][0]), float(scale[1][0])
            parts.append(((context[-n:] - mean) / std, (future[:m] - mean) / std))
        return tuple(weight * x + (1.0 - weight) * y for x, y in zip(*parts, strict=True))

    def normalize(self, windows) -> Batch:
        """[(context (n_i,), future (<= H,)) original scale] -> a normalized, left-padded Batch
        (futures right-padded with zeros, future_mask 0 there)."""
        b = len(windows)
        context, mask = np.zeros((b, self.L)), np.zeros((b, self.L))
        future, future_mask = np.zeros((b, self.H)), np.zeros((b, self.H))
        for row, (c, f) in enumerate(windows):
            context[row, self.L - c.size :], mask[row, self.L - c.size :] = c, 1.0
            future[row, : f.size], future_mask[row, : f.size] = f, 1.0
        mean, std = context_scale(context, mask, self.options.std_floor, self.options.scaling)
        context = (context - mean[:, None]) / std[:, None] * mask
        future = (future - mean[:, None]) / std[:, None] * future_mask
        clip = self.options.value_clip
        context = np.clip(context, -clip, clip).astype(np.float32)
        mask = mask.astype(np.float32)
        bases = base_forecasts(context, mask, self.H) if self.options.bases else None
        return Batch(
            context,
            mask,
            np.clip(future, -clip, clip).astype(np.float32),
            future_mask.astype(np.float32),
            bases,
        )


def validation_windows(series, context_length, horizon, max_windows, stride=None):
    """Evenly spaced (context, future) pairs whose future lies in each series' held-out tail.

    `series` holds (values, first_target_index) pairs: futures start at or after that index.
    At most `max_windows` pairs overall, spread evenly over everything available.
    """
    stride = stride or horizon
    pairs = []
    for values, first in series:
        for start in range(max(first, 1), values.size - horizon + 1, stride):
            context = values[max(0, start - context_length) : start]
            pairs.append((context, values[start : start + horizon]))
    if len(pairs) > max_windows:
        pick = np.linspace(0, len(pairs) - 1, max_windows).round().astype(int)
        pairs = [pairs[i] for i in pick]
    return pairs


# Calendar frequency groups of the real corpus: each is one source for balancing, so a few
# short yearly series are drawn as often as forty long 5-minute ones.
FREQUENCY_GROUPS = {
    "min": "minutes",
    "5min": "minutes",
    "10min": "minutes",
    "30min": "minutes",
    "h": "hourly",
    "D": "daily",
    "B": "daily",
    "W-SUN": "weekly",
    "W-FRI": "weekly",
    "MS": "monthly",
    "QS": "quarterly",
    "YS": "yearly",
}


# Temporal aggregation: a series seen again at a coarser calendar step (block means), in
# that step's group. The corpus has few quarterly, yearly and weekly series; its monthly,
# daily and minute series, aggregated, are real series at those steps.
AGGREGATES = {
    "min": ("h", 60),
    "5min": ("h", 12),
    "10min": ("h", 6),
    "30min": ("h", 2),
    "h": ("D", 24),
    "D": ("W-SUN", 7),
    "B": ("W-SUN", 5),
    "MS": ("QS", 3),
    "QS": ("YS", 4),
}
MIN_AGGREGATE = 24  # fewest points an aggregate keeps


def block_means(values: np.ndarray, factor: int) -> np.ndarray:
    """Means of whole blocks of ``factor`` points, the blocks aligned to the series' end (its
    newest block is whole); a block with fewer than half its points is missing (NaN)."""
    n = values.size // factor * factor
    blocks = values[values.size - n :].reshape(-1, factor)
    finite = np.isfinite(blocks)
    sums = np.where(finite, blocks, 0.0).sum(axis=1)
    counts = finite.sum(axis=1)
    out = np.full(blocks.shape[0], np.nan)
    enough = counts * 2 >= factor
    out[enough] = sums[enough] / counts[enough]
    return out


def read_corpus(
    folder: str | Path, split: str = "train", aggregate: bool = False
) -> dict[str, list[np.ndarray]]:
    """The real-series corpus (``MANIFEST.csv`` + ``series/*.csv``): the rows of ``split``
    only, grouped by calendar frequency -> {group: [series (float64, NaN kept)]}; with
    ``aggregate``, each series also at the coarser step of ``AGGREGATES`` (in that group).

    Held-out rows (``split`` "heldout") exist for the zero-shot benchmark B6 alone: the
    trainer never asks for them."""
    folder = Path(folder)
    manifest = folder / "MANIFEST.csv"
    if not manifest.is_file():
        raise DataError(f"{folder} has no MANIFEST.csv: is it the corpus folder?")
    table = pd.read_csv(manifest)
    groups: dict[str, list[np.ndarray]] = {}
    for row in table[table["split"] == split].itertuples():
        values = pd.read_csv(folder / row.file)["value"].to_numpy(np.float64)
        group = FREQUENCY_GROUPS.get(row.frequency, "other")
        groups.setdefault(group, []).append(values)
        if aggregate and row.frequency in AGGREGATES:
            coarser, factor = AGGREGATES[row.frequency]
            coarse = block_means(values, factor)
            if np.isfinite(coarse).sum() >= MIN_AGGREGATE:
                groups.setdefault(FREQUENCY_GROUPS[coarser], []).append(coarse)
    if not groups:
        raise DataError(f"{manifest} lists no series with split {split!r}")
    return groups
