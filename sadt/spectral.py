"""Spectral reward and Spec-W1: how close is a forecast's spectrum to its history's?

One PSD estimator is used everywhere (`periodogram`): remove the mean, apply a periodic Hann
window, take the one-sided power spectral density and drop the DC bin. A series of length H
has H // 2 bins at frequencies k / H, k = 1 .. H // 2 (cycles per sample), for odd and even H.

The reference spectrum is the same estimator averaged over windows of the forecast's length
cut from the end of the context, so forecast and reference always share one frequency grid.
When the context is shorter than the forecast, its whole-series periodogram is interpolated
in log-power onto the forecast's grid instead (see `reference_spectrum`).

Nothing here takes a ground-truth future: every function sees only forecasts and context.

* `spectral_distance` / `spectral_reward` are scale-aware: the spectra are compared in log
  power, not normalized, so a forecast with 10x the history's amplitude or a flat line
  scores badly.
* `spec_w1` is shape-only: both spectra are normalized to distributions over frequency, so
  it is invariant to the forecast's scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MIN_LENGTH = 8  # shortest context and horizon: 4 frequency bins, one per band at least
EPS_REL = 1e-3  # PSD floor, relative to the reference's mean power per bin
DEFAULT_MAX_WINDOWS = 64
_ABS_FLOOR = float(np.finfo(np.float64).tiny)  # floor when the context is exactly constant

BandWeights = tuple[float, float, float]


def frequencies(length: int) -> np.ndarray:
    """Frequency grid of `periodogram` for a series of `length`: (length // 2,), cycles/sample."""
    return np.arange(1, length // 2 + 1) / length


def periodogram(x: np.ndarray) -> np.ndarray:
    """Hann-windowed one-sided PSD of the last axis, DC bin dropped: (..., H) -> (..., H // 2).

    Each series' mean is removed before windowing so a level offset does not leak into the
    lowest bins. Density scaling (power per cycle/sample) keeps white noise of variance s^2 at
    a level of about 2 s^2 whatever H is, so spectra of different lengths are comparable.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or x.shape[-1] < 2:
        raise ValueError(f"periodogram needs series of length >= 2, got shape {x.shape}")
    h = x.shape[-1]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(h) / h)  # periodic Hann
    coef = np.fft.rfft((x - x.mean(axis=-1, keepdims=True)) * window, axis=-1)[..., 1:]
    spec = (coef.real**2 + coef.imag**2) * (2.0 / (window @ window))
    if h % 2 == 0:
        spec[..., -1] *= 0.5  # the Nyquist bin has no negative-frequency twin
    return spec


def reference_spectrum(
    context: np.ndarray, length: int, max_windows: int = DEFAULT_MAX_WINDOWS
) -> np.ndarray:
    """Reference PSD of `context` on the grid of a forecast of `length`: (length // 2,).

    Context >= length: the mean `periodogram` of windows of `length` with a 50% hop
    (max(length // 2, 1)), placed from the end of the context backwards so the most recent
    data is used, at most `max_windows` of them.

    Context < length: the periodogram of the whole context, floored like the reward floors
    spectra, interpolated linearly in log-power onto `frequencies(length)`. Grid points outside
    the context's grid (below 1 / len(context), or above its last bin) take the nearest edge
    value. Both context and length must be >= 8.
    """
    context = _as_context(context)
    length = _check_length(length, "forecast length")
    if max_windows < 1:
        raise ValueError(f"max_windows must be >= 1, got {max_windows}")
    c = context.size
    if c >= length:
        hop = max(length // 2, 1)
        n_windows = min(max_windows, (c - length) // hop + 1)
        starts = c - length - hop * np.arange(n_windows)
        return periodogram(context[starts[:, None] + np.arange(length)]).mean(axis=0)
    spec = periodogram(context)
    log_spec = np.log(np.maximum(spec, _floor(spec)))
    return np.exp(np.interp(frequencies(length), frequencies(c), log_spec))


def band_masks(n_freq: int) -> np.ndarray:
    """Boolean (3, n_freq) masks of the low / mid / high thirds of the frequency bins."""
    if n_freq < 3:
        raise ValueError(f"band_masks needs at least 3 frequency bins, got {n_freq}")
    band = np.minimum(3 * np.arange(n_freq) // n_freq, 2)
    return band[None, :] == np.arange(3)[:, None]


@dataclass(frozen=True, eq=False)
class SpectralReward:
    """Spectral reward for one context, precomputed once; call it on forecasts many times.

    reward = -gamma * D, D = sum_f w(f) |log S_x(f) - log S_ref(f)| / sum_f w(f), where both
    spectra are floored at EPS_REL * mean(S_ref) and w(f) is the weight of f's band.
    """

    horizon: int
    reference: np.ndarray  # (horizon // 2,) reference PSD before the floor
    gamma: float = 1.0
    band_weights: BandWeights = (1.0, 1.0, 1.0)
    floor: float = field(init=False)
    log_reference: np.ndarray = field(init=False)  # (horizon // 2,) floored, log
    weights: np.ndarray = field(init=False)  # (horizon // 2,) per-bin weights, sum 1

    @classmethod
    def from_context(
        cls,
        context: np.ndarray,
        horizon: int,
        gamma: float = 1.0,
        band_weights: BandWeights = (1.0, 1.0, 1.0),
        max_windows: int = DEFAULT_MAX_WINDOWS,
    ) -> SpectralReward:
        reference = reference_spectrum(context, horizon, max_windows)
        return cls(horizon, reference, gamma, band_weights)

    def __post_init__(self) -> None:
        horizon = _check_length(self.horizon, "horizon")
        reference = np.array(self.reference, dtype=np.float64)
        if reference.shape != (horizon // 2,) or not np.all(np.isfinite(reference)):
            raise ValueError(f"reference must be finite with shape ({horizon // 2},)")
        if not (np.isfinite(self.gamma) and self.gamma >= 0):
            raise ValueError(f"gamma must be finite and >= 0, got {self.gamma}")
        band = _check_band_weights(self.band_weights)
        weights = band @ band_masks(horizon // 2)
        floor = _floor(reference)
        log_reference = np.log(np.maximum(reference, floor))
        reference.flags.writeable = False
        log_reference.flags.writeable = False
        weights = weights / weights.sum()
        weights.flags.writeable = False
        object.__setattr__(self, "horizon", horizon)
        object.__setattr__(self, "reference", reference)
        object.__setattr__(self, "band_weights", tuple(float(b) for b in band))
        object.__setattr__(self, "floor", floor)
        object.__setattr__(self, "log_reference", log_reference)
        object.__setattr__(self, "weights", weights)

    def log_gap(self, forecasts: np.ndarray) -> np.ndarray:
        """Signed per-bin gap log S_x - log S_ref (both floored): (n, H) or (H,) -> (n, H // 2)."""
        x = _as_forecasts(forecasts, self.horizon)
        return np.log(np.maximum(periodogram(x), self.floor)) - self.log_reference

    def distance(self, forecasts: np.ndarray) -> np.ndarray:
        """Weighted mean absolute log-PSD gap: (n, H) or (H,) -> (n,), >= 0."""
        return np.abs(self.log_gap(forecasts)) @ self.weights

    def __call__(self, forecasts: np.ndarray) -> np.ndarray:
        """Rewards -gamma * D: (n, H) or (H,) -> (n,); higher is closer to the history."""
        return -self.gamma * self.distance(forecasts)


def spectral_distance(
    forecasts: np.ndarray, context: np.ndarray, band_weights: BandWeights = (1.0, 1.0, 1.0)
) -> np.ndarray:
    """D for each forecast against the context's reference spectrum: (n, H) or (H,) -> (n,)."""
    horizon = np.shape(forecasts)[-1] if np.ndim(forecasts) else 0
    reward = SpectralReward.from_context(context, horizon, band_weights=band_weights)
    return reward.distance(forecasts)


def spectral_reward(
    forecasts: np.ndarray,
    context: np.ndarray,
    gamma: float = 1.0,
    band_weights: BandWeights = (1.0, 1.0, 1.0),
) -> np.ndarray:
    """r = -gamma * D: (n, H) or (H,) -> (n,). Build a `SpectralReward` once to call it often."""
    horizon = np.shape(forecasts)[-1] if np.ndim(forecasts) else 0
    return SpectralReward.from_context(context, horizon, gamma, band_weights)(forecasts)


def spec_w1(forecasts: np.ndarray, context: np.ndarray) -> np.ndarray:
    """Wasserstein-1 between forecast and reference PSDs as distributions over frequency.

    Shape-only (scale-invariant): each PSD (DC dropped) is normalized to sum 1; a forecast with
    zero power (a flat line) counts as the uniform distribution. W1 = sum_f |CDF_x - CDF_ref|
    * (1 / H), frequency in cycles per sample, so it lies in [0, 0.5). (n, H) or (H,) -> (n,).
    """
    horizon = np.shape(forecasts)[-1] if np.ndim(forecasts) else 0
    x = _as_forecasts(forecasts, _check_length(horizon, "forecast length"))
    ref = reference_spectrum(context, horizon)
    spec = periodogram(x)
    total = spec.sum(axis=-1, keepdims=True)
    n_freq = spec.shape[-1]
    p_x = np.where(total > 0, spec / np.where(total > 0, total, 1.0), 1.0 / n_freq)
    ref_total = ref.sum()
    p_ref = ref / ref_total if ref_total > 0 else np.full(n_freq, 1.0 / n_freq)
    gap = np.cumsum(p_x, axis=-1) - np.cumsum(p_ref)
    return np.abs(gap).sum(axis=-1) / horizon


def _floor(reference: np.ndarray) -> float:
    return max(EPS_REL * float(reference.mean()), _ABS_FLOOR)


def _check_length(length: int, name: str) -> int:
    if int(length) != length or length < MIN_LENGTH:
        raise ValueError(f"{name} must be an integer >= {MIN_LENGTH}, got {length}")
    return int(length)


def _check_band_weights(band_weights: BandWeights) -> np.ndarray:
    band = np.asarray(band_weights, dtype=np.float64)
    if band.shape != (3,):
        raise ValueError(f"band_weights must be 3 numbers (low, mid, high), got {band_weights}")
    if not np.all(np.isfinite(band)) or np.any(band < 0) or not np.any(band > 0):
        raise ValueError(
            f"band_weights must be finite, >= 0 and not all zero, got {tuple(band.tolist())}"
        )
    return band


def _as_context(context: np.ndarray) -> np.ndarray:
    context = np.asarray(context, dtype=np.float64)
    if context.ndim != 1:
        raise ValueError(f"context must be 1-D (length,), got shape {context.shape}")
    _check_length(context.size, "context length")
    if not np.all(np.isfinite(context)):
        raise ValueError("context contains NaN or inf; fill or drop missing values first")
    return context


def _as_forecasts(forecasts: np.ndarray, horizon: int) -> np.ndarray:
    x = np.asarray(forecasts, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != horizon:
        raise ValueError(f"forecasts must have shape (n, {horizon}) or ({horizon},), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("forecasts contain NaN or inf")
    return x
