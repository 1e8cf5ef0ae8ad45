"""Built-in example series for the app: seeded synthetic series that look like real data.

Each example is drawn by `sadt.synthetic.generate` with fixed attributes and a fixed seed, so
every visitor sees the same series, and goes through `read_series` like an upload does. The
seeds are chosen so that what an example's name promises (its cycles, shifts and spikes) lies
in the last 512 points, the part the bundled model reads (tests/test_app.py checks this).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from sadt.series import Series, read_series
from sadt.synthetic import generate


@dataclass(frozen=True)
class Example:
    column: str  # the value column's name, as a CSV header would give it
    start: str | None  # first timestamp; None for a series without timestamps
    freq: str | None  # pandas offset alias of the timestamps
    seed: int
    attributes: dict  # overrides for sadt.synthetic.generate


EXAMPLES = {
    "Hourly electricity load (daily and weekly cycle)": Example(
        "load_kw", "2024-01-01", "h", 11,
        {"length": 720, "trend": "none", "seasonalities": ((24, 1.0), (168, 0.45)),
         "noise": "low", "random_walk": False, "level_shifts": 0, "spikes": 0,
         "level": 520.0, "scale": 40.0},
    ),
    "Daily website visits (upward trend, weekly cycle)": Example(
        "visits", "2023-01-01", "D", 12,
        {"length": 365, "trend": "up", "trend_shape": "linear", "seasonalities": ((7, 1.0),),
         "noise": "medium", "random_walk": False, "level_shifts": 0, "spikes": 0,
         "level": 1200.0, "scale": 60.0},
    ),
    "15-minute sensor (level shift and spikes)": Example(
        "temperature", "2024-03-01", "15min", 45,
        {"length": 960, "trend": "none", "seasonalities": ((96, 1.0),), "noise": "low",
         "random_walk": True, "level_shifts": 1, "spikes": 2, "level": 21.0, "scale": 1.5},
    ),
    "Noisy cycle without timestamps": Example(
        "value", None, None, 14,
        {"length": 400, "trend": "down", "trend_shape": "curved", "seasonalities": ((12, 1.0),),
         "noise": "high", "random_walk": False, "level_shifts": 0, "spikes": 0,
         "level": 50.0, "scale": 4.0},
    ),
}  # fmt: skip
DEFAULT_EXAMPLE = next(iter(EXAMPLES))


def example_names() -> list[str]:
    return list(EXAMPLES)


def example_frame(name: str) -> pd.DataFrame:
    """The example as the table a user would upload: [timestamp,] value column."""
    if name not in EXAMPLES:
        raise KeyError(f"unknown example {name!r}; the examples are {example_names()}")
    example = EXAMPLES[name]
    values, _ = generate(np.random.default_rng(example.seed), **example.attributes)
    frame = pd.DataFrame({example.column: np.round(values, 3)})
    if example.start is not None:
        stamps = pd.date_range(example.start, periods=len(values), freq=example.freq)
        frame.insert(0, "timestamp", stamps)
    return frame


@lru_cache(maxsize=len(EXAMPLES))
def load_example(name: str) -> Series:
    """The example as a validated `Series` (cached: examples never change)."""
    return read_series(example_frame(name))
