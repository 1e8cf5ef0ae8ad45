"""Synthetic training series for a general forecaster, in the spirit of KernelSynth.

KernelSynth (Ansari et al. 2024, Chronos) draws a random composition of Gaussian-process
kernels from a bank (linear, RBF, rational quadratic, periodic, white noise, constant) and
samples a series from the GP. Exact GP sampling costs O(n^3) per series; here each kernel
is sampled *constructively* in O(n log n) instead, which is exact for sums:

* the sum of independent GP draws is a draw of the GP with the summed kernel;
* a product of draws (e.g. periodic x linear) is not the product-kernel GP, but it is the
  multiplicative structure it stands for (a cycle whose amplitude grows with the level).

Components: periodic (harmonics with an RBF-like decay over the harmonic index, at periods
of real calendars at every frequency), RBF (white noise filtered by a Gaussian in the
frequency domain), rational quadratic (a scale mixture of RBFs), linear, white noise,
constant; plus random walks, level shifts, spikes, heteroscedastic noise, and a count /
intermittent transform. `kernel_series(rng)` returns one series; `kernel_batch(n, seed)` many.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Periods (in steps) of real calendars: hourly (24, 168), half-hourly (48, 336), 15-minute
# (96), daily (7, 30.4, 365.25), weekly (52), monthly (12), quarterly (4), minutely (60, 1440),
# 5-minute (288), business days (5, 21), 10-minute (144).
CALENDAR_PERIODS = (24, 168, 48, 336, 96, 7, 30.4, 365.25, 52, 12, 4, 60, 1440, 288, 5, 21, 144)
KERNELS = ("linear", "rbf", "rq", "periodic", "white", "constant")


@dataclass
class KernelSynthConfig:
    min_length: int = 40
    max_length: int = 4096
    max_kernels: int = 5  # 1..max_kernels kernels combined by random + and *
    periodic_prob: float = 0.7  # chance that a series has at least one periodic kernel
    count_prob: float = 0.1  # Poisson counts of exp(signal) (intermittent when the rate is low)
    random_walk_prob: float = 0.15
    shift_prob: float = 0.1
    spike_prob: float = 0.05
    hetero_prob: float = 0.1  # noise std following the level


def periodic(rng: np.random.Generator, t: np.ndarray, period: float) -> np.ndarray:
    """A draw with period `period` (steps): harmonics k = 1..K, random phases, amplitudes
    decaying like the periodic kernel's spectrum exp(-(k l)^2 / 2); unit variance."""
    lengthscale = rng.uniform(0.15, 0.8)
    k_max = max(1, min(12, int(period // 2)))
    k = np.arange(1, k_max + 1)
    amp = np.exp(-0.5 * (k * lengthscale) ** 2) * rng.standard_normal(k_max)
    amp[0] = np.sign(amp[0] or 1.0) * max(abs(amp[0]), 0.5)  # the fundamental is always present
    if k_max > 1:  # ... and the strongest, so the series' period is `period`, not a harmonic's
        amp[1:] *= min(1.0, 0.8 * abs(amp[0]) / np.abs(amp[1:]).max())
    phase = rng.uniform(0, 2 * np.pi, k_max)
    x = (amp[:, None] * np.cos(2 * np.pi * k[:, None] * t[None] / period + phase[:, None])).sum(0)
    return x / (np.std(x) + 1e-12)


def rbf(rng: np.random.Generator, n: int, lengthscale: float) -> np.ndarray:
    """A stationary GP draw with an RBF kernel (unit variance): white noise filtered by the
    kernel's Gaussian spectrum (circulant embedding over 2n points)."""
    m = 2 * n
    freqs = np.fft.rfftfreq(m)
    spectrum = np.exp(-2 * (np.pi * freqs * lengthscale) ** 2)
    noise = rng.standard_normal(m // 2 + 1) + 1j * rng.standard_normal(m // 2 + 1)
    x = np.fft.irfft(noise * np.sqrt(spectrum), m)[:n]
    return (x - x.mean()) / (np.std(x) + 1e-12)


def kernel_draw(rng: np.random.Generator, kind: str, n: int, period: float | None = None):
    """One component of kind `kind` over n steps (unit scale, except `constant`)."""
    t = np.arange(n, dtype=np.float64)
    if kind == "linear":
        return rng.normal(0.0, 1.0) * (t / n - rng.uniform(0, 1))
    if kind == "rbf":
        return rbf(rng, n, n * 10 ** rng.uniform(-2.3, -0.5))
    if kind == "rq":  # rational quadratic = a scale mixture of RBFs
        scales = n * 10 ** rng.uniform(-2.3, -0.3, 3)
        return sum(rng.gamma(2.0) * rbf(rng, n, s) for s in scales) / 3.0
    if kind == "periodic":
        return periodic(rng, t, period if period is not None else draw_period(rng, n))
    if kind == "white":
        return rng.standard_normal(n) * rng.uniform(0.05, 0.5)
    if kind == "constant":
        return np.full(n, rng.normal(0.0, 1.0))
    raise ValueError(f"unknown kernel {kind!r}; one of {KERNELS}")


def draw_period(rng: np.random.Generator, n: int) -> float:
    """A calendar period with at least two cycles in n steps (or a random short one)."""
    fits = [p for p in CALENDAR_PERIODS if 2 * p <= n]
    if not fits or rng.random() < 0.1:
        return float(rng.uniform(2.5, max(3.0, n / 3)))
    return float(rng.choice(fits))


def kernel_series(rng: np.random.Generator, cfg: KernelSynthConfig | None = None) -> np.ndarray:
    """One synthetic series (length in [min_length, max_length], log-uniform), float32."""
    cfg = cfg or KernelSynthConfig()
    n = int(np.exp(rng.uniform(np.log(cfg.min_length), np.log(cfg.max_length + 1))))
    count = int(rng.integers(1, cfg.max_kernels + 1))
    kinds = list(rng.choice(["linear", "rbf", "rq", "white", "constant"], size=count))
    if rng.random() < cfg.periodic_prob:
        kinds[int(rng.integers(count))] = "periodic"
        if count > 1 and rng.random() < 0.3:  # a second cycle (e.g. daily + weekly)
            kinds[int(rng.integers(count))] = "periodic"
    x = kernel_draw(rng, kinds[0], n)
    for kind in kinds[1:]:
        part = kernel_draw(rng, kind, n)
        if rng.random() < 0.3 and kind != "white":
            x = x * (1.0 + 0.5 * part)  # multiplicative structure
        else:
            x = x + part * rng.uniform(0.2, 1.0)
    # Observation noise from nearly none (a 5-minute temperature) to a third of the signal.
    x = x + rng.standard_normal(n) * 10 ** rng.uniform(-3, -0.5) * (np.std(x) + 1e-3)
    x = _extras(rng, x, cfg)
    if rng.random() < cfg.count_prob:
        x = _counts(rng, x)
    else:
        x = rng.normal(0, 5) + x * 10 ** rng.uniform(-1, 3)  # any level, any unit
    return x.astype(np.float32)


def _extras(rng: np.random.Generator, x: np.ndarray, cfg: KernelSynthConfig) -> np.ndarray:
    n, scale = x.size, np.std(x) + 1e-3
    if rng.random() < cfg.random_walk_prob:
        x = x + np.cumsum(rng.standard_normal(n)) * scale * rng.uniform(0.02, 0.2)
    if rng.random() < cfg.shift_prob and n > 20:
        at = int(rng.integers(n // 10, n - n // 10))
        x[at:] += rng.choice([-1, 1]) * rng.uniform(1, 3) * scale
    if rng.random() < cfg.spike_prob:
        idx = rng.integers(0, n, size=int(rng.integers(1, 4)))
        x[idx] += rng.choice([-1, 1], size=idx.size) * rng.uniform(4, 8) * scale
    if rng.random() < cfg.hetero_prob:
        level = (x - x.min()) / (np.ptp(x) + 1e-9)
        x = x + rng.standard_normal(n) * scale * 0.3 * (0.2 + level)
    return x


def _counts(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Poisson counts whose log-rate follows the signal; a low mean rate makes them sparse."""
    z = (x - x.mean()) / (np.std(x) + 1e-9)
    log_rate = rng.uniform(-2.0, 4.0) + z * rng.uniform(0.1, 0.8)
    return rng.poisson(np.exp(np.clip(log_rate, -10, 10))).astype(np.float64)


def kernel_batch(count: int, seed: int, cfg: KernelSynthConfig | None = None) -> list[np.ndarray]:
    """`count` series from one seed (deterministic)."""
    rng = np.random.default_rng(seed)
    return [kernel_series(rng, cfg) for _ in range(count)]
