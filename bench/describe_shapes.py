"""Classic shapes, generated: what the describer says of series built like the well-known
ones (airline passengers, CO2, sunspots, a river's level shift, lynx cycles, a stock
price, hourly load, daily temperature, quarterly production), and how often the facts'
whole-series step test claims a step on series without one.

    python -m bench.describe_shapes [--model DIR] [--trials 300]

Every series here is drawn by this file (seeded); none is real data. Each shape states
what a person would say of it (period in steps, direction, a shift or not), and the bench
scores the description with ``sadt.describer.captions.parse_description``.
The step simulation draws ``--trials`` series of each kind and length (facts only).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Shape:
    name: str
    values: np.ndarray
    start: str
    freq: str
    period: int | None  # the cycle a person names, in steps (None: no cycle)
    trend: str  # "up" | "down" | "none"
    shift: bool


def shapes(seed: int = 0) -> list[Shape]:
    rng = np.random.default_rng(seed)
    out = []
    t = np.arange(144)
    season = 1 + 0.2 * np.sin(2 * np.pi * (t - 3) / 12) + 0.08 * np.sin(4 * np.pi * t / 12)
    air = (100 + 2.2 * t) * season * np.exp(rng.normal(0, 0.03, t.size))
    out.append(Shape("passengers", np.round(air), "1949-01-01", "MS", 12, "up", False))
    t = np.arange(468)
    co2 = 315 + 0.07 * t + 0.00012 * t**2 + 3 * np.sin(2 * np.pi * (t - 2) / 12)
    out.append(Shape("co2_ppm", co2 + rng.normal(0, 0.3, t.size), "1959-01-01", "MS", 12,
                     "up", False))  # fmt: skip
    t = np.arange(289)
    phase = np.cumsum(2 * np.pi / rng.uniform(9.5, 12.5, t.size))
    amplitude = 60 + 40 * np.sin(2 * np.pi * t / 90) + rng.normal(0, 5, t.size)
    sun = np.maximum(0, amplitude * (1 - np.cos(phase)) + rng.normal(0, 8, t.size))
    out.append(Shape("sunspots", np.round(sun, 1), "1700-01-01", "YS", 11, "none", False))
    t = np.arange(100)
    flow = np.where(t < 28, 1100, 850) + rng.normal(0, 130, t.size)
    out.append(Shape("river_flow", np.round(flow), "1871-01-01", "YS", None, "down", True))
    t = np.arange(114)
    lynx = np.exp(6.5 + 1.5 * np.sin(2 * np.pi * t / 9.6) + rng.normal(0, 0.4, t.size))
    out.append(Shape("lynx_trappings", np.round(lynx), "1821-01-01", "YS", 10, "none", False))
    price = 50 * np.exp(np.cumsum(rng.normal(0.0006, 0.012, 2000)))
    trend = "up" if price[-200:].mean() > 1.2 * price[:200].mean() else "none"
    out.append(Shape("close", np.round(price, 2), "2015-01-02", "B", None, trend, False))
    t = np.arange(24 * 7 * 8)
    weekday = ((t // 24) % 7) < 5
    load = 1000 + 200 * np.sin(2 * np.pi * t / 24) + 100 * weekday + rng.normal(0, 30, t.size)
    out.append(Shape("load_mw", np.round(load), "2020-01-06", "h", 24, "none", False))
    t = np.arange(3650)
    temp = 10 + 8 * np.sin(2 * np.pi * (t - 100) / 365.25) + rng.normal(0, 2.5, t.size)
    out.append(Shape("temperature", np.round(temp, 1), "1981-01-01", "D", 365, "none", False))
    t = np.arange(60)
    beer = 150 + 25 * np.sin(2 * np.pi * (t - 1) / 4) + rng.normal(0, 5, t.size) - 0.6 * t
    out.append(Shape("beer_ml", np.round(beer), "2000-01-01", "QS", 4, "down", False))
    return out


def describe_shapes(model: str | None) -> list[dict]:
    import sadt
    from sadt.describer.captions import parse_description

    pipe = sadt.from_pretrained(model)
    rows = []
    for shape in shapes():
        stamps = pd.date_range(shape.start, periods=shape.values.size, freq=shape.freq)
        text = pipe.describe(pd.Series(shape.values, index=stamps, name=shape.name))
        said = parse_description(text)
        period = said["period"]
        if shape.period is None:
            period_right = period is None
        else:
            period_right = period is not None and abs(period - shape.period) <= 0.15 * shape.period
        rows.append({
            "shape": shape.name,
            "period_right": bool(period_right),
            "trend_right": said["trend"] == shape.trend,
            "shift_right": bool(said["level_shifts"]) == shape.shift,
            "text": text,
        })  # fmt: skip
    return rows


def _null(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import lfilter

    t = np.arange(n)
    noise = rng.normal(0, 1, n)
    return {
        "line": 0.02 * t * rng.normal() + noise,
        "parabola": 12 * (t / n - 0.5) ** 2 + noise,
        "AR(1) 0.5": lfilter([1], [1, -0.5], noise),
        "slow wave": np.sin(2 * np.pi * t / (n / 1.5)) + noise,
        "S-curve": 3 / (1 + np.exp(-(t - n / 2) / (n / 10))) + noise,
        "step 1.9 sd": np.where(t < 0.3 * n, 1.9, 0.0) + noise,
    }[kind]


def step_rates(trials: int) -> dict[str, dict[int, float]]:
    from sadt.describer.facts import _single_step, step_noise

    rng = np.random.default_rng(0)
    rates = {}
    for kind in ("line", "parabola", "AR(1) 0.5", "slow wave", "S-curve", "step 1.9 sd"):
        rates[kind] = {}
        for n in (60, 100, 300):
            hits = 0
            for _ in range(trials):
                y = _null(kind, n, rng)
                hits += _single_step(y, step_noise(y)) is not None
            rates[kind][n] = hits / trials
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="pipeline folder or repo (bundled)")
    parser.add_argument("--trials", type=int, default=300, help="series per kind and length")
    args = parser.parse_args(argv)
    rows = describe_shapes(args.model)
    for row in rows:
        marks = " ".join(
            f"{k[0].upper()}{'+' if row[k] else '-'}"
            for k in ("period_right", "trend_right", "shift_right")
        )
        print(f"{row['shape']:15s} {marks}  {row['text']}")
    for key in ("period_right", "trend_right", "shift_right"):
        print(f"{key:13s} {np.mean([r[key] for r in rows]):.2f}")
    print("\nwhole-series step test: share of series given a step (n = 60, 100, 300)")
    for kind, by_n in step_rates(args.trials).items():
        print(f"  {kind:12s} " + "  ".join(f"{v:.3f}" for v in by_n.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
