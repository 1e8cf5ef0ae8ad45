"""Backtest: how a forecast would have done on the series' own recent past.

The last ``windows`` stretches of ``horizon`` steps are hidden in turn; each is forecast
from the history before it with the method and settings the user chose, and scored
against what happened and against seasonal naive (repeating the last season, the usual
yardstick: MASE and the B6 benchmark are relative to it). What a user reads:

    bt = pipe.backtest("sales.csv", windows=3)
    print(bt.summary())   # MAE, coverage of the 10-90 % band, x % better than naive
    bt.to_dataframe()     # every window's actuals, quantiles and the naive forecast
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sadt.metrics import wql
from sadt.series import Series

MIN_HISTORY = 8  # the fewest points a backtest window forecasts from (the forecaster's own)


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Repeat the last ``season`` values (the last value when season is 1): (horizon,)."""
    last = np.asarray(history, dtype=np.float64)[-max(int(season), 1) :]
    return np.resize(last, horizon)


@dataclass
class BacktestWindow:
    """One held-back stretch: the forecast made without it, what happened, and the naive
    forecast from the same history."""

    start: int  # index in the series of the window's first step
    forecast: object  # a sadt.Forecast from series[:start]
    actual: np.ndarray  # (H,)
    naive: np.ndarray  # (H,) seasonal naive

    @property
    def coverage(self) -> float:
        low, high = self.forecast.quantiles[0], self.forecast.quantiles[-1]
        return float(np.mean((self.actual >= low) & (self.actual <= high)))


@dataclass
class Backtest:
    """Rolling-origin backtest of one series (oldest window first)."""

    series: Series
    windows: list[BacktestWindow]
    season: int  # seasonal naive's season, in steps
    requested_horizon: int  # what was asked; `horizon` is shorter when the series is short

    @property
    def horizon(self) -> int:
        return len(self.windows[0].actual)

    @property
    def method(self) -> str:
        return self.windows[0].forecast.method

    @property
    def mae(self) -> float:
        """Mean absolute error of the forecast median, over every window step."""
        return float(np.mean([np.abs(w.forecast.median - w.actual) for w in self.windows]))

    @property
    def naive_mae(self) -> float:
        return float(np.mean([np.abs(w.naive - w.actual) for w in self.windows]))

    @property
    def relative_mae(self) -> float:
        """MAE over seasonal naive's: below 1 is better than repeating the last season."""
        if self.naive_mae == 0:
            return 1.0 if self.mae == 0 else float("inf")
        return self.mae / self.naive_mae

    @property
    def coverage(self) -> float:
        """Share of actual values inside the 10-90 % band (0.8 when calibrated)."""
        return float(np.mean([w.coverage for w in self.windows]))

    @property
    def wql(self) -> float:
        """Weighted quantile loss of the 9 quantiles, all windows together."""
        quantiles = np.concatenate([w.forecast.quantiles for w in self.windows], axis=1)
        actual = np.concatenate([w.actual for w in self.windows])
        return wql(quantiles, actual)

    def summary(self) -> str:
        """The backtest in two plain sentences."""
        count = len(self.windows)
        span = (
            f"the last {self.horizon} steps"
            if count == 1
            else (f"the last {count} stretches of {self.horizon} steps")
        )
        if self.naive_mae == 0 and self.mae == 0:
            versus = "as good as repeating the last season (both exact)"
        else:
            change = 1.0 - self.relative_mae
            word = "better" if change >= 0 else "worse"
            versus = f"{abs(change):.0%} {word} than repeating the last season"
        season = "the last value" if self.season == 1 else f"a season of {self.season} steps"
        text = (
            f"Backtest on {span}, each forecast without it: mean absolute error "
            f"{_figure(self.mae)} against {_figure(self.naive_mae)} for seasonal naive "
            f"({season}), {versus}. {self.coverage:.0%} of what happened fell inside the "
            "10–90% band (80% is calibrated)."
        )
        if self.horizon < self.requested_horizon:
            text += (
                f" The series is short, so each window is {self.horizon} steps, not "
                f"{self.requested_horizon}."
            )
        return text

    def to_dataframe(self) -> pd.DataFrame:
        """One row per window step: ``window``, ``timestamp`` (or ``step``), ``actual``,
        the quantiles ``"0.1"`` … ``"0.9"`` and ``seasonal_naive``."""
        frames = []
        for number, w in enumerate(self.windows, 1):
            frame = w.forecast.to_dataframe().drop(columns=["mean", "chosen"])
            frame.insert(0, "window", number)
            frame.insert(2, "actual", w.actual)
            frame["seasonal_naive"] = w.naive
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def __repr__(self) -> str:
        return (
            f"Backtest({self.method!r}, {len(self.windows)} window(s) of {self.horizon} steps, "
            f"MAE {self.mae:.4g} vs seasonal naive {self.naive_mae:.4g}, "
            f"coverage {self.coverage:.0%}, of {self.series!r})"
        )


def backtest_horizon(length: int, horizon: int, windows: int) -> int:
    """The window length a backtest uses: ``horizon``, shortened so that the first window
    is still forecast from half the series (and at least `MIN_HISTORY` points): a
    forecast from a sliver of the history would judge the model on what users never
    give it. 0 when the series is too short for any window."""
    history = max(MIN_HISTORY, length // 2)
    return max(0, min(horizon, (length - history) // windows))


def _figure(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e5 else f"{value:.4g}"
