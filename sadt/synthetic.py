"""Synthetic series with an exact attribute record: training data for the describe model.

A series is built in *base units* and mapped to realistic units at the end:

    values = level + scale * (smooth + noise + spikes)        # (length,), original scale
    smooth = trend + seasonalities + random_walk + level_shifts, centred to mean 0

Counts and labels are drawn first; the components are then sized so that each label is what a
careful reader of the plot would say. Rules, in base units, with A = sum of seasonal amplitudes
and t = i / (length - 1):

* trend: total change R = s * (1 + A), s ~ U[1.5, 2.5], along a monotone shape on [0, 1]
  (linear t; curved: t**2, or saturating 1 - exp(-k t) normalized, k ~ U[2, 5]); up is +R,
  down is -R. Level shifts in a trending series move with the trend, so they never
  contradict its direction; without a trend two shifts go opposite ways (a bump or a dip,
  never a staircase that reads as a trend).
* seasonalities: sines of amplitude `amplitude` (the dominant ~ U[0.6, 1.5], a second one
  0.4-0.6 times the dominant), random phase, half the time a 2nd harmonic of at most 0.3x.
  A period needs `min_cycles` (2.5) cycles in the series; two periods differ by >= 3x.
* random walk: cumulated Gaussian steps smoothed over length/16 points, minus its
  least-squares line (so it adds no slope and cannot flip the trend label), std ~ U[0.2, 0.4].
* level shifts: steps of size u * (1 + A), u ~ U[1.5, 2.5], at indices in [0.15, 0.85] of
  the length, >= 0.2 length apart; a shift at index i moves `values[i:]`.
* noise: Gaussian, std = r * signal_std with signal_std = std(smooth) (1.0 when smooth is
  identically 0). Label by r: low r < 0.1, medium 0.1 <= r < 0.3, high r >= 0.3; r is drawn
  inside `noise_bands` (default low [0.02, 0.08], medium [0.12, 0.25], high [0.35, 0.5]).
* spikes: single points set to smooth + h, |h| = A + u * max(noise_std, 0.3 * signal_std),
  u ~ U[6, 9], random sign, >= 8 steps apart, >= 4 steps from a level shift and the ends.

Legibility: every seasonal amplitude is >= 1 noise std and every level shift >= 4 noise std.
Sizes, periods, phases and places are redrawn until the noise band allows that (after every
10 failed draws one second cycle or one shift is dropped), and r is drawn below the ceiling.
When there would be nothing but noise (no trend, seasonality or shift), the random walk is
switched on so the noise level is judged against some signal. Overrides are honoured as
given, even when they make a series illegible (pure noise is labelled against a std of 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

NOISE_LEVELS = ("low", "medium", "high")
TRENDS = ("none", "up", "down")
# Component sizes in base units; the module docstring states the rules they enter.
STRUCTURE_FLOOR = 1.0  # trends and shifts scale with (this + A): clear even without cycles
DOMINANT_AMPLITUDE = (0.6, 1.5)
SECOND_AMPLITUDE = (0.4, 0.6)  # relative to the dominant amplitude
TREND_STRENGTH = (1.5, 2.5)  # total trend change / (STRUCTURE_FLOOR + A)
SHIFT_SIZE = (1.5, 2.5)  # |level shift| / (STRUCTURE_FLOOR + A)
RANDOM_WALK_STD = (0.2, 0.4)
SPIKE_SIZE = (6.0, 9.0)  # (|spike| - seasonal amplitudes) / max(noise_std, 0.3 signal_std)
MIN_SEASON_SNR = 1.0  # each seasonal amplitude / noise_std, at least
MIN_SHIFT_SNR = 4.0  # |level shift| / noise_std, at least
MAX_ATTEMPTS = 50


@dataclass(frozen=True)
class Seasonality:
    period: int  # steps per cycle
    amplitude: float  # of the fundamental sine, in base units (before `scale`)


@dataclass(frozen=True)
class SeriesAttributes:
    """The exact record of what `generate` put into one series."""

    length: int
    trend: str  # "none" | "up" | "down"
    trend_shape: str  # "linear" | "curved" | "none"
    seasonalities: tuple[Seasonality, ...]  # 0-2, dominant (largest amplitude) first
    noise: str  # "low" | "medium" | "high", by noise_std / signal_std (module docstring)
    noise_std: float  # base units: the raw noise std is scale * noise_std
    random_walk: bool
    level_shifts: tuple[int, ...]  # first shifted index of each step, ascending
    spikes: tuple[int, ...]  # indices of single-point outliers, ascending
    level: float  # raw offset: the series mean up to noise and spikes
    scale: float  # raw units per base unit

    @property
    def dominant_period(self) -> int | None:
        return self.seasonalities[0].period if self.seasonalities else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["seasonalities"] = [asdict(s) for s in self.seasonalities]
        d["level_shifts"] = list(self.level_shifts)
        d["spikes"] = list(self.spikes)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SeriesAttributes:
        d = dict(d)
        d["seasonalities"] = tuple(Seasonality(**s) for s in d["seasonalities"])
        d["level_shifts"] = tuple(d["level_shifts"])
        d["spikes"] = tuple(d["spikes"])
        return cls(**d)


@dataclass(frozen=True)
class SyntheticConfig:
    """What `generate` draws from; probabilities are per series."""

    min_length: int = 64
    max_length: int = 512
    periods: tuple[int, ...] = (7, 12, 24, 48, 96, 168)
    min_cycles: float = 2.5  # a period is allowed only if length >= min_cycles * period
    p_trend: float = 0.6  # up and down equally likely
    p_curved: float = 0.4  # among trending series
    p_seasonality_count: tuple[float, ...] = (0.25, 0.5, 0.25)  # P(0), P(1), P(2)
    p_random_walk: float = 0.3
    p_level_shift_count: tuple[float, ...] = (0.6, 0.25, 0.15)  # P(0), P(1), P(2)
    p_spike_count: tuple[float, ...] = (0.5, 0.2, 0.15, 0.1, 0.05)  # P(0) .. P(4)
    p_noise: tuple[float, ...] = (1 / 3, 1 / 3, 1 / 3)  # low, medium, high
    noise_thresholds: tuple[float, float] = (0.1, 0.3)  # on noise_std / signal_std
    noise_bands: tuple[tuple[float, float], ...] = ((0.02, 0.08), (0.12, 0.25), (0.35, 0.5))
    level_range: tuple[float, float] = (0.0, 1000.0)
    scale_range: tuple[float, float] = (0.5, 50.0)  # drawn log-uniformly

    def __post_init__(self):
        lo, hi = self.noise_thresholds
        edges = ((0.0, lo), (lo, hi), (hi, np.inf))
        for name, (a, b), (e0, e1) in zip(NOISE_LEVELS, self.noise_bands, edges, strict=True):
            if not (e0 <= a <= b < e1):
                raise ValueError(f"noise band {name}={a, b} is outside its thresholds {e0, e1}")

    def allowed_periods(self, length: int) -> tuple[int, ...]:
        return tuple(p for p in self.periods if length >= self.min_cycles * p)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SyntheticConfig:
        """Inverse of `to_dict` (JSON lists become tuples); unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: _as_tuples(v) for k, v in d.items() if k in known})


def _as_tuples(value: Any) -> Any:
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list) else value


OVERRIDES = (
    "length", "trend", "trend_shape", "seasonalities", "noise", "random_walk",
    "level_shifts", "spikes", "level", "scale",
)  # fmt: skip


def generate(
    rng: np.random.Generator, config: SyntheticConfig | None = None, **overrides: Any
) -> tuple[np.ndarray, SeriesAttributes]:
    """One series (length,) in original units and its attribute record.

    Overrides force attributes: `length`, `trend` ("none"/"up"/"down"), `trend_shape`,
    `seasonalities` (a count, or (period, amplitude) pairs / `Seasonality`s), `noise`,
    `random_walk`, `level_shifts` and `spikes` (a count, or explicit indices), `level`, `scale`.
    """
    unknown = set(overrides) - set(OVERRIDES)
    if unknown:
        raise ValueError(f"unknown overrides {sorted(unknown)}; allowed: {OVERRIDES}")
    cfg = config or SyntheticConfig()
    o = overrides
    n = int(o.get("length", rng.integers(cfg.min_length, cfg.max_length + 1)))
    trend = o.get("trend") or (rng.choice(["up", "down"]) if rng.random() < cfg.p_trend else "none")
    curved = rng.random() < cfg.p_curved
    shape = "none" if trend == "none" else o.get("trend_shape", "curved" if curved else "linear")
    noise = o.get("noise") or NOISE_LEVELS[rng.choice(3, p=cfg.p_noise)]
    for name, value, allowed in (
        ("trend", trend, TRENDS),
        ("noise", noise, NOISE_LEVELS),
        ("trend_shape", shape, ("none", "linear", "curved")),
    ):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    noise_band = cfg.noise_bands[NOISE_LEVELS.index(noise)]

    # Counts are drawn once, so the noise label barely changes how often components occur.
    # Sizes, periods, phases and places are redrawn until the noise band leaves every
    # component legible (every 10 failures one cycle or shift is dropped); the noise ratio
    # is then drawn below that ceiling.
    counts = (cfg.p_seasonality_count, cfg.p_level_shift_count)
    plan = {
        "seasonalities": int(rng.choice(len(counts[0]), p=counts[0])),
        "level_shifts": int(rng.choice(len(counts[1]), p=counts[1])),
        "random_walk": bool(rng.random() < cfg.p_random_walk),
    }
    plan |= {k: o[k] for k in plan if k in o}
    if "random_walk" not in o and trend == "none" and not _some(plan["seasonalities"]):
        # With nothing else to see, the noise label needs some signal to be judged against.
        plan["random_walk"] = plan["random_walk"] or not _some(plan["level_shifts"])
    for attempt in range(1, MAX_ATTEMPTS + 1):
        smooth, seasonalities, shift_sizes, random_walk = _smooth_signal(
            rng, cfg, n, trend, shape, plan
        )
        signal_std = float(smooth.std()) if smooth.std() > 1e-12 else 1.0
        ceiling = _legible_noise(seasonalities, shift_sizes) / signal_std
        if ceiling >= noise_band[0]:
            break
        if attempt % 10 == 0:
            plan = _simplified(plan, o)
    low = noise_band[0]
    noise_std = rng.uniform(low, max(low, min(noise_band[1], ceiling))) * signal_std
    shifts = tuple(shift_sizes)
    x = smooth + rng.normal(0.0, noise_std, n)
    season_total = sum(s.amplitude for s in seasonalities)
    spikes = _count_or_indices(rng, o.get("spikes"), cfg.p_spike_count)
    spikes = _place_spikes(rng, n, spikes, shifts)
    for index in spikes:  # the spike replaces the noise there: its height is exact
        height = season_total + rng.uniform(*SPIKE_SIZE) * max(noise_std, 0.3 * signal_std)
        x[index] = smooth[index] + rng.choice([-1.0, 1.0]) * height

    level = float(o.get("level", rng.uniform(*cfg.level_range)))
    scale = float(o.get("scale", np.exp(rng.uniform(*np.log(cfg.scale_range)))))
    attrs = SeriesAttributes(
        length=n, trend=str(trend), trend_shape=str(shape), seasonalities=seasonalities,
        noise=str(noise), noise_std=float(noise_std), random_walk=bool(random_walk),
        level_shifts=shifts, spikes=spikes, level=level, scale=scale,
    )  # fmt: skip
    return level + scale * x, attrs


def generate_batch(
    n: int, seed: int, config: SyntheticConfig | None = None
) -> list[tuple[np.ndarray, SeriesAttributes]]:
    """`n` independent series; item i depends only on (seed, i), not on `n`."""
    children = np.random.SeedSequence(seed).spawn(n)
    return [generate(np.random.default_rng(child), config) for child in children]


def _smooth_signal(rng, cfg: SyntheticConfig, n: int, trend: str, shape: str, plan: dict):
    """Noise-free signal (n,) centred to mean 0, with what went into it (base units)."""
    seasonalities = _draw_seasonalities(rng, cfg, n, plan["seasonalities"])
    season_total = sum(s.amplitude for s in seasonalities)
    shifts = _place_shifts(rng, n, plan["level_shifts"])
    random_walk = bool(plan["random_walk"])

    smooth = _seasonal_component(rng, np.arange(n), seasonalities)
    if trend != "none":
        rise = rng.uniform(*TREND_STRENGTH) * (STRUCTURE_FLOOR + season_total)
        direction = 1.0 if trend == "up" else -1.0
        smooth += direction * rise * _trend_shape(rng, np.linspace(0.0, 1.0, n), shape)
    if random_walk:
        smooth += _detrended_random_walk(rng, n) * rng.uniform(*RANDOM_WALK_STD)
    # Without a trend, consecutive shifts alternate (a bump or a dip, never a staircase that
    # reads as a trend); with a trend they follow it, so they never contradict it.
    sign = float(rng.choice([-1.0, 1.0])) if trend == "none" else (1.0 if trend == "up" else -1.0)
    shift_sizes = {}
    for index in shifts:
        shift_sizes[index] = sign * rng.uniform(*SHIFT_SIZE) * (STRUCTURE_FLOOR + season_total)
        smooth[index:] += shift_sizes[index]
        sign = -sign if trend == "none" else sign
    return smooth - smooth.mean(), seasonalities, shift_sizes, random_walk


def _legible_noise(seasonalities, shift_sizes: dict) -> float:
    """The largest noise std (base units) through which a reader still sees every cycle and
    every level shift."""
    limits = [s.amplitude / MIN_SEASON_SNR for s in seasonalities]
    limits += [abs(h) / MIN_SHIFT_SNR for h in shift_sizes.values()]
    return min(limits, default=np.inf)


def _draw_seasonalities(rng, cfg: SyntheticConfig, n: int, planned) -> tuple[Seasonality, ...]:
    """`planned` seasonalities: a count, or given (period, amplitude) pairs."""
    if not isinstance(planned, (int, np.integer)):
        items = [s if isinstance(s, Seasonality) else Seasonality(int(s[0]), float(s[1]))
                 for s in planned]  # fmt: skip
        return tuple(sorted(items, key=lambda s: -s.amplitude))
    allowed = cfg.allowed_periods(n)
    count = int(planned)
    pairs = [(a, b) for a in allowed for b in allowed if b >= 3 * a]
    if count >= 2 and pairs:
        periods = list(pairs[rng.integers(len(pairs))])
        rng.shuffle(periods)  # either the short or the long cycle may dominate
    elif count >= 1 and allowed:
        periods = [int(rng.choice(allowed))]
    else:
        return ()
    dominant = rng.uniform(*DOMINANT_AMPLITUDE)
    amplitudes = [dominant] + [dominant * rng.uniform(*SECOND_AMPLITUDE) for _ in periods[1:]]
    return tuple(Seasonality(int(p), float(a)) for p, a in zip(periods, amplitudes, strict=True))


def _seasonal_component(rng, i: np.ndarray, seasonalities) -> np.ndarray:
    out = np.zeros(len(i))
    for s in seasonalities:
        phase = 2 * np.pi * i / s.period + rng.uniform(0, 2 * np.pi)
        harmonic = rng.uniform(0.0, 0.3) if rng.random() < 0.5 else 0.0
        out += s.amplitude * (np.sin(phase) + harmonic * np.sin(2 * phase + rng.uniform(0, 6)))
    return out


def _trend_shape(rng, t: np.ndarray, shape: str) -> np.ndarray:
    """Monotone map [0, 1] -> [0, 1]."""
    if shape == "linear":
        return t
    if rng.random() < 0.5:
        return t**2  # accelerating
    k = rng.uniform(2.0, 5.0)
    return (1 - np.exp(-k * t)) / (1 - np.exp(-k))  # saturating


def _detrended_random_walk(rng, n: int) -> np.ndarray:
    """A slow random wander (n,) of unit std with no least-squares slope.

    The steps are smoothed over ~n/16 points so the walk is smooth at short scales: the
    jaggedness a reader sees is the noise, and the walk cannot flip the trend label.
    """
    width = max(4, n // 16)
    steps = np.convolve(rng.normal(size=n + width - 1), np.ones(width) / width, mode="valid")
    walk = np.cumsum(steps)
    t = np.arange(n)
    walk -= np.polyval(np.polyfit(t, walk, 1), t)
    return walk / max(walk.std(), 1e-12)


def _simplified(plan: dict, overrides: dict) -> dict:
    """`plan` with one fewer second cycle or level shift, never touching an override."""
    if "seasonalities" not in overrides and plan["seasonalities"] == 2:
        return {**plan, "seasonalities": 1}
    if "level_shifts" not in overrides and plan["level_shifts"] > 0:
        return {**plan, "level_shifts": plan["level_shifts"] - 1}
    return plan


def _some(count_or_items) -> bool:
    """Does a planned count, or a given list of items, hold anything?"""
    return (
        count_or_items > 0
        if isinstance(count_or_items, (int, np.integer))
        else bool(count_or_items)
    )


def _count_or_indices(rng, forced, probabilities) -> int | tuple[int, ...]:
    if forced is None:
        return int(rng.choice(len(probabilities), p=probabilities))
    if isinstance(forced, (int, np.integer)):
        return int(forced)
    return tuple(sorted(int(i) for i in forced))


def _place_shifts(rng, n: int, shifts) -> tuple[int, ...]:
    if isinstance(shifts, tuple):
        return shifts
    lo, hi, gap = int(np.ceil(0.15 * n)), int(0.85 * n), int(np.ceil(0.2 * n))
    return _place_apart(rng, np.arange(lo, hi + 1), shifts, gap)


def _place_spikes(rng, n: int, spikes, shifts: tuple[int, ...]) -> tuple[int, ...]:
    if isinstance(spikes, tuple):
        return spikes
    candidates = np.arange(3, n - 3)
    near_shift = np.zeros(len(candidates), dtype=bool)
    for s in shifts:
        near_shift |= np.abs(candidates - s) < 4
    return _place_apart(rng, candidates[~near_shift], spikes, 8)


def _place_apart(rng, candidates: np.ndarray, count: int, gap: int) -> tuple[int, ...]:
    """`count` indices drawn from `candidates`, pairwise at least `gap` apart."""
    chosen: list[int] = []
    for _ in range(count):
        free = [c for c in candidates if all(abs(c - x) >= gap for x in chosen)]
        if not free:
            break
        chosen.append(int(rng.choice(free)))
    return tuple(sorted(chosen))
