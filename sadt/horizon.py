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
        # Between two steps, not from an arbitrary day: an anchored offset ("W-SUN")
        # first rolls forward to its anchor.
        first = pd.Timestamp("2001-01-01") + offset
        return (first + offset) - first if offset.n else None
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
        if _business_days(freq):  # four weeks
            horizon = 20
    if horizon is None:
        period = strongest_period(values)
        horizon = int(np.clip(2 * period, 8, 96)) if period else 24
    return max(1, min(horizon, n))


# Calendar offsets measured in months: their steps are not a fixed duration.
_MONTHS_PER_STEP = {"M": 1, "MS": 1, "ME": 1, "SM": 0.5, "SMS": 0.5, "SME": 0.5}
_MONTHS_PER_STEP |= {"Q": 3, "QS": 3, "QE": 3, "BQ": 3, "BQS": 3, "BQE": 3}
_MONTHS_PER_STEP |= {"Y": 12, "YS": 12, "YE": 12, "A": 12, "AS": 12, "BA": 12, "BY": 12}
_MONTHS_PER_STEP |= {"BM": 1, "BMS": 1, "BME": 1}
_UNITS = (  # (name, seconds), shortest first
    ("minute", 60.0),
    ("hour", 3600.0),
    ("day", 86400.0),
    ("week", 7 * 86400.0),
    ("year", 365.25 * 86400.0),
)


def _months_per_step(freq: str | None) -> float | None:
    if not freq:
        return None
    try:
        offset = to_offset(freq)
    except (ValueError, TypeError):
        return None
    per = _MONTHS_PER_STEP.get(offset.name.split("-")[0])
    return None if per is None else per * offset.n


def _whole(value: float) -> bool:
    return abs(value - round(value)) < 0.02


def _count(value: float, unit: str) -> str:
    text = f"{round(value)}" if _whole(value) else f"{value:.1f}"
    return f"{text} {unit}" + ("" if text == "1" else "s")


def steps_as_time(steps: int, freq: str | None) -> str:
    """A number of steps in the series' own time: "48 steps = 2 days" for hourly data,
    "18 steps = 18 months" for monthly, "6 steps = 6 years" for yearly; just "7 steps"
    when the series has no frequency (no timestamps)."""
    steps = int(steps)
    label = f"{steps} step" + ("" if steps == 1 else "s")
    months = _months_per_step(freq)
    if months is not None:
        total = steps * months
        if total >= 24 or (total >= 12 and total % 12 == 0):
            return f"{label} = {_count(total / 12, 'year')}"
        return f"{label} = {_count(total, 'month')}"
    step = step_duration(freq)
    if step is None:
        return label
    if _business_days(freq):  # say so, not calendar days
        return f"{label} = {_count(float(steps), 'business day')}"
    seconds = steps * step.total_seconds()
    counts = [(name, seconds / size) for name, size in _UNITS if seconds / size >= 1]
    if not counts:
        return f"{label} = {_count(seconds, 'second')}"
    # The largest unit with a whole number or at least 2 of them ("36 hours", not "1.5
    # days"), unless a smaller one counts it whole ("30 days", not "4.3 weeks").
    name, count = ([c for c in counts if c[1] >= 2 or _whole(c[1])] or counts)[-1]
    if not _whole(count):
        whole = [(n, c) for n, c in counts if _whole(c) and c <= 100]
        if whole:
            name, count = whole[-1]
    return f"{label} = {_count(count, name)}"


def season_length(values: np.ndarray, freq: str | None = None) -> int:
    """The season of a seasonal-naive forecast: by the calendar (24 for hourly data, 7
    daily, 5 business-daily, 52 weekly, 12 monthly, 4 quarterly, 1 yearly; a day of
    sub-hourly steps, an hour of minute steps), else the strongest cycle found in the
    values, else 1; 1 when the history holds fewer than two seasons."""
    n = len(values)
    months = _months_per_step(freq)
    step = step_duration(freq)
    season = None
    if months is not None:
        season = max(1, round(12 / months)) if months < 12 else 1
    elif step is not None:
        if _business_days(freq):
            season = 5
        elif step <= pd.Timedelta(minutes=1):
            season = round(pd.Timedelta(hours=1) / step)
        elif step < pd.Timedelta(days=1):
            season = round(pd.Timedelta(days=1) / step)
        elif step < pd.Timedelta(days=7):
            season = 7 if step == pd.Timedelta(days=1) else 1
        elif step == pd.Timedelta(days=7):
            season = 52
        else:
            season = 1
    if season is None:
        season = (strongest_period(values) if n >= 8 else None) or 1
    return season if n >= 2 * season else 1


def strongest_period(values: np.ndarray) -> int | None:
    """The strongest cycle of the last 2048 values, in steps (autocorrelation), or None."""
    from sadt.forecaster.bases import detect_periods

    x = np.asarray(values, dtype=np.float64)[-2048:]
    periods = detect_periods((x - x.mean()) / (x.std() or 1.0))
    return int(periods[0][0]) if periods else None


def _business_days(freq: str | None) -> bool:
    """Whether a pandas alias is a business-day one ("B", "BMS", ...): its steps skip weekends."""
    return bool(freq) and freq.upper().startswith("B")
