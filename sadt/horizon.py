"""The default forecast horizon: what a user most likely wants when they give none.

By the series' calendar step, the horizons the M4 competition and GIFT-Eval use for that
frequency (2 days of hourly data, 30 days of daily data, 18 months of monthly data, ...);
without timestamps, two cycles of the strongest period found in the values (8 to 96 steps),
else 24. Never more than the history: a forecast longer than what it is based on would
claim more than the data can support.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

# (longest step, horizon): the first row whose step is at least the series' step.
_BY_STEP = (
    (pd.Timedelta(minutes=30), 96),  # minutes to half hours: up to 96 steps, at most a day
    (pd.Timedelta(hours=1), 48),  # hourly: two days
    (pd.Timedelta(days=1), 30),  # daily: a month
    (pd.Timedelta(days=7), 13),  # weekly: a quarter
    (pd.Timedelta(days=31), 18),  # monthly: a year and a half
    (pd.Timedelta(days=92), 8),  # quarterly: two years
    (pd.Timedelta(days=366), 6),  # yearly: six years
)


def step_duration(freq: str | None) -> pd.Timedelta | None:
    """The nominal length of one step of a pandas frequency alias ("MS" -> ~30 days)."""
    if not freq:
        return None
    try:
        offset = to_offset(freq)
        start = pd.Timestamp("2001-01-01")
        return (start + offset) - start if offset.n else None
    except (ValueError, TypeError):
        return None


def default_horizon(values: np.ndarray, freq: str | None = None) -> int:
    """The horizon to forecast when the user gives none (see the module docstring)."""
    n = len(values)
    step = step_duration(freq)
    horizon = None
    if step is not None:
        for longest, steps in _BY_STEP:
            if step <= longest:
                per_day = pd.Timedelta(days=1) / step
                horizon = int(min(steps, per_day)) if longest <= pd.Timedelta(minutes=30) else steps
                break
        else:
            horizon = 6
        if freq and freq.upper().startswith("B"):  # business days: four weeks
            horizon = 20
    if horizon is None:
        from sadt.forecaster.bases import detect_periods

        x = np.asarray(values, dtype=np.float64)[-2048:]
        scale = x.std() or 1.0
        periods = detect_periods((x - x.mean()) / scale)
        horizon = int(np.clip(2 * periods[0][0], 8, 96)) if periods else 24
    return max(1, min(horizon, n))
