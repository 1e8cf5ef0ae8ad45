"""Classical base forecasts that the general forecaster blends: frequency-free structure.

A network that reads a context by absolute position learns the cycles of the data it was
trained on (ETTh1's 24 hours) and nothing else. What carries over to any frequency is
structure found in the context itself: its dominant periods (from the autocorrelation), the
last value, the last seasons, the local slope. `base_forecasts` computes, per context, a
small set of classical forecasts from those (naive, seasonal naive at the two strongest
periods, seasonal average, level, drift, seasonal naive with drift) and a few scalar
features (periods, their autocorrelation, the observed length); the model learns, per
horizon step, how much to trust each and what to add. Everything is in the context's
normalized space; nothing here is learned.
"""

from __future__ import annotations

import numpy as np

NUM_BASES = 8
NUM_FEATURES = 10 + NUM_BASES  # ..., and each base's backtest error
SCALE_LAGS = (1, 2, 4, 8, 16, 32, 64, 128, 256)  # lags the naive error scale is measured at
MIN_SCALE = 1e-4  # floor of the naive error scale (normalized units)
# ... and of its far lags, relative to its one-step error: a short intermittent context
# (40 counts, mostly 0) has |x_t - x_{t-39}| = 0 from its one pair, and a spread of 0 that
# far out sent the model's scale head to its limit (medians of 9 from a history of 0s and 1s).
RELATIVE_SCALE_FLOOR = 0.25
MIN_ACF = 0.2  # a period needs at least this autocorrelation to count


def autocorrelation(y: np.ndarray) -> np.ndarray:
    """Autocorrelation of ``y`` (already centred) at lags 0 .. n - 1, by FFT; lag 0 is 1."""
    n = y.size
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(y, size)
    return np.fft.irfft(f * np.conj(f), size)[:n] / (float(y @ y) or 1.0)


def detect_periods(x: np.ndarray, max_periods: int = 2) -> list[tuple[int, float]]:
    """The strongest seasonal periods of x (observed, 1-D): [(lag, autocorrelation)], the
    strongest first, at most `max_periods`; lags 2..n/2 at local maxima of the
    autocorrelation of the linearly detrended series, each at least MIN_ACF and standing out
    of the dip before it."""
    n = x.size
    if n < 8:
        return []
    t = np.arange(n)
    y = x - np.polyval(np.polyfit(t, x, 1), t)
    if float(y @ y) <= 1e-12:
        return []
    acf = autocorrelation(y)[: n // 2 + 2]
    found = []
    running_min = np.minimum.accumulate(acf)
    for lag in range(2, min(n // 2, acf.size - 1)):
        a = acf[lag]
        if a >= MIN_ACF and a >= acf[lag - 1] and a > acf[lag + 1] and a - running_min[lag] > 0.05:
            found.append((lag, float(a)))
    if not found:
        return []
    found.sort(key=lambda item: -item[1])
    periods = [found[0]]
    # The second period: the strongest shorter one (daily inside weekly), else the strongest
    # longer one that is not near a multiple of the first.
    best = found[0][0]
    shorter = [item for item in found if item[0] < best]
    longer = [item for item in found[1:] if abs(item[0] / best - round(item[0] / best)) > 0.1]
    for pool in (shorter, longer):
        if pool and len(periods) < max_periods:
            periods.append(pool[0])
    return periods[:max_periods]


def _seasonal(x: np.ndarray, period: int, horizon: int, seasons: int) -> np.ndarray:
    """Average over the last `seasons` seasons of the value one season before each step."""
    n, h = x.size, np.arange(horizon)
    out = np.zeros(horizon)
    for k in range(1, seasons + 1):
        out += x[n - k * period + (h % period)]
    return out / seasons


def naive_error_scale(x: np.ndarray, horizon: int) -> np.ndarray:
    """How far the series moves in h steps: mean |x_t - x_{t-h}| over the context for
    h = 1..H (measured at SCALE_LAGS, interpolated in log-log between them; lags the context
    cannot hold take the longest it can), floored at MIN_SCALE and at
    RELATIVE_SCALE_FLOOR x the one-step error: (H,).

    The error of a naive forecast h steps ahead: a frequency-free prior for the spread of
    the forecast, tiny for a smooth series, large for a noisy one."""
    n = x.size
    if n < 2:
        return np.ones(horizon)
    lags = sorted({min(lag, n - 1) for lag in SCALE_LAGS if lag <= max(horizon, 1)} | {1})
    errors = np.array([np.abs(x[lag:] - x[:-lag]).mean() for lag in lags])
    errors = np.maximum(errors, max(MIN_SCALE, RELATIVE_SCALE_FLOOR * errors[0]))
    h = np.arange(1, horizon + 1)
    if len(lags) == 1:
        return np.full(horizon, errors[0])
    return np.exp(np.interp(np.log(h), np.log(lags), np.log(errors)))


def _candidates(x: np.ndarray, horizon: int, p1: int, p2: int) -> tuple[np.ndarray, float]:
    """The NUM_BASES classical forecasts of x (n,) at periods p1, p2: ((K, H), slope)."""
    n = x.size
    h = np.arange(1, horizon + 1)
    last = x[-1]
    window = int(min(n, max(8, p1)))
    level = x[-window:].mean()
    span = int(min(n - 1, max(2 * p1, 16)))
    slope = (x[-1] - x[-1 - span]) / span if span >= 1 else 0.0
    if p1 > 1:
        seasonal = _seasonal(x, p1, horizon, 1)
        average = _seasonal(x, p1, horizon, max(1, min(4, n // p1)))
        last_mean = x[-p1:].mean()
        prev_mean = x[-2 * p1 : -p1].mean() if n >= 2 * p1 else last_mean
        drifted = seasonal + np.ceil(h / p1) * (last_mean - prev_mean)
    else:
        seasonal = average = drifted = np.full(horizon, last)
    second = _seasonal(x, p2, horizon, 1) if p2 > 1 else np.full(horizon, last)
    bases = np.stack(
        [
            np.full(horizon, last),
            seasonal,
            second,
            average,
            np.full(horizon, level),
            last + slope * h,
            drifted,
            np.full(horizon, x.mean()),
        ]
    )
    return bases, slope


def base_forecasts_one(x: np.ndarray, horizon: int, length: int):
    """Observed normalized context x (n,) -> bases (NUM_BASES, H), features (NUM_FEATURES,),
    naive error scale (H,)."""
    n = x.size
    periods = detect_periods(x)
    p1, a1 = periods[0] if periods else (1, 0.0)
    p2, a2 = periods[1] if len(periods) > 1 else (p1, 0.0)
    bases, slope = _candidates(x, horizon, p1, p2)
    scale = naive_error_scale(x, horizon)
    # How each base would have done on the context's own last steps, from the points before
    # them (relative to the naive error there): classical model selection, at any frequency.
    held = max(1, min(horizon, n // 3))
    backtest = np.zeros(NUM_BASES)
    if n - held >= 4:
        past, _ = _candidates(x[:-held], held, p1, p2)
        errors = np.abs(past - x[-held:]).mean(axis=1)
        backtest = np.log((errors + 1e-6) / (naive_error_scale(x, held)[-1] + 1e-6))
    lag1 = float(np.corrcoef(x[:-1], x[1:])[0, 1]) if n > 3 and np.std(x) > 0 else 0.0
    diff_std = float(np.std(np.diff(x))) if n > 2 else 0.0
    features = np.array(
        [
            np.log(p1) / np.log(length),
            a1,
            np.log(p2) / np.log(length),
            a2,
            n / length,
            np.nan_to_num(lag1),
            diff_std,
            slope * horizon,
            np.log(scale[0]),
            np.log(scale[-1]),
            *backtest,
        ]
    )
    return np.clip(bases, -20.0, 20.0), np.clip(features, -20.0, 20.0), scale


def base_forecasts(values: np.ndarray, mask: np.ndarray, horizon: int):
    """Normalized, left-padded contexts (B, L) and masks -> bases (B, NUM_BASES, H),
    features (B, NUM_FEATURES) and naive error scales (B, H), float32. Only each row's
    observed points are read."""
    values, mask = np.asarray(values, np.float64), np.asarray(mask)
    rows, length = values.shape
    bases = np.zeros((rows, NUM_BASES, horizon), np.float32)
    features = np.zeros((rows, NUM_FEATURES), np.float32)
    scales = np.ones((rows, horizon), np.float32)
    for i in range(rows):
        x = values[i][mask[i] > 0]
        if x.size == 0:
            continue
        bases[i], features[i], scales[i] = base_forecasts_one(x, horizon, length)
    return bases, features, scales
