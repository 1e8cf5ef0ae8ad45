"""B6: zero-shot across frequencies (protocol in ../shared/BENCHMARKS.md).

    python -m bench.zeroshot [--model sadt/assets/sadt-tiny] [--methods dts] [--baselines ...]

Every `heldout` row of the corpus manifest, grouped into data sets by source and frequency
(`vega/MS`, `prophet/h`, ...), plus two in-domain reference rows (ETTh1's B1 test windows and
M4 hourly; not in the aggregate). Per data set: WQL over q = 0.1 .. 0.9 and MASE of the
median, each divided by seasonal naive's on the same windows; the aggregate is the geometric
mean over data sets (Chronos's Benchmark II). Side by side in the same run: seasonal naive,
AutoETS (statsforecast, last 1000 points of history) and fracast (its pip wheel holds its
weights); a baseline whose package is missing is skipped with a note. Also the samples'
texture: the ratio of their power in the top third of frequencies to the history's reference
spectrum (the spectral reward's estimator), and their Spec-W1, medians over windows.
sadt runs through `Pipeline.forecast` (the product's path: default budget, non-negativity).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench import common
from sadt.metrics import DEFAULT_QUANTILES, mase, quantile_loss
from sadt.spectral import MIN_LENGTH, periodogram, reference_spectrum, spec_w1

HORIZONS = {"5min": 96, "10min": 96, "30min": 48, "h": 48, "D": 30, "B": 20, "W": 13}
HORIZONS |= {"MS": 18, "QS": 8, "YS": 6, "min": 96}
PERIODS = {"5min": 288, "10min": 144, "30min": 48, "h": 24, "D": 7, "B": 5, "W": 52}
PERIODS |= {"MS": 12, "QS": 4, "YS": 1, "min": 60}
MAX_WINDOWS = 5
MIN_HISTORY = 32


@dataclass
class Window:
    history: np.ndarray  # finite (gaps filled by interpolation)
    target: np.ndarray  # may hold NaN: scored where finite
    period: int
    freq: str


@dataclass
class Score:
    """Dataset-level sums for one method: WQL numerator / denominator, MASEs, texture."""

    loss: float = 0.0
    abs_y: float = 0.0
    mases: list = field(default_factory=list)
    high_band: list = field(default_factory=list)
    spec_w1: list = field(default_factory=list)
    seconds: float = 0.0

    def add(self, window: Window, quantiles: np.ndarray, samples: np.ndarray | None) -> None:
        y, ok = window.target, np.isfinite(window.target)
        if not ok.any():
            return
        self.loss += float(quantile_loss(quantiles[:, ok], y[ok]).mean())
        self.abs_y += float(np.abs(y[ok]).sum())
        self.mases.append(mase(quantiles[4][ok], y[ok], window.history, window.period))
        if samples is not None and samples.shape[1] >= MIN_LENGTH:
            self.high_band.append(high_band_ratio(samples, window.history))
            self.spec_w1.append(float(np.median(spec_w1(samples, window.history[-2048:]))))

    def wql(self) -> float:
        return self.loss / self.abs_y if self.abs_y > 0 else float("nan")  # nan: not run

    def mase(self) -> float:
        finite = [m for m in self.mases if np.isfinite(m)]
        return float(np.mean(finite)) if finite else float("nan")


def high_band_ratio(samples: np.ndarray, history: np.ndarray) -> float:
    """Samples' power in the top third of frequencies over the history's (reference spectrum
    at the forecast's length): 1 = the texture of the history; >> 1 rougher."""
    h = samples.shape[1]
    ref = reference_spectrum(history[-4096:], h)
    top = slice(2 * (h // 2) // 3, None)
    return float(periodogram(samples).mean(axis=0)[top].sum() / max(ref[top].sum(), 1e-300))


def freq_key(freq: str) -> str:
    return "W" if freq.startswith("W") else freq


TRANSFORMS = ("reversed", "aggregated")


def corpus_datasets(
    folder, limit: int | None = None, split: str = "heldout", transform: str | None = None
):
    """Held-out corpus series -> {"source/freq": windows}: the last min(5, n // H - 1)
    non-overlapping windows of each series, history everything before (>= 32 points).
    ``split="train"`` gives the same windows of the training series (for design checks that
    must not look at the held-out rows). Those series are in-sample for a model trained on
    the corpus; ``transform`` makes series no model trained on: "reversed" (time runs
    backwards) or "aggregated" (block means at the next coarser calendar step,
    `sadt.forecaster.data.AGGREGATES`; series with no coarser step are left out). A model
    trained with ``corpus_aggregates`` has seen the aggregated ones."""
    from sadt.forecaster.data import AGGREGATES, block_means

    manifest = pd.read_csv(folder / "MANIFEST.csv")
    out: dict[str, list[Window]] = {}
    for row in manifest[manifest["split"] == split].itertuples():
        values = pd.read_csv(folder / row.file)["value"].to_numpy(np.float64)
        frequency = row.frequency
        if transform == "reversed":
            values = values[::-1].copy()
        elif transform == "aggregated":
            if frequency not in AGGREGATES:
                continue
            frequency, factor = AGGREGATES[frequency]
            values = block_means(values, factor)
        key = freq_key(frequency)
        horizon, period = HORIZONS[key], PERIODS[key]
        source = row.file.split("/")[-1].split("__")[0]
        windows = out.setdefault(f"{source}/{key}", [])
        for w in series_windows(values, horizon, period, key):
            windows.append(w)
    if limit:
        out = {k: v[:limit] for k, v in out.items()}
    return {k: v for k, v in out.items() if v}


def series_windows(values: np.ndarray, horizon: int, period: int, freq: str) -> list[Window]:
    n = values.size
    count = min(MAX_WINDOWS, n // horizon - 1)
    windows = []
    for i in range(count, 0, -1):
        start = n - i * horizon
        history = fill_gaps(values[:start])
        if history.size < MIN_HISTORY:
            continue
        m = period if history.size >= 2 * period else 1
        windows.append(Window(history, values[start : start + horizon], m, freq))
    return windows


def fill_gaps(x: np.ndarray) -> np.ndarray:
    """Interior NaN filled linearly, leading/trailing NaN dropped (as sadt.read_series does)."""
    ok = np.flatnonzero(np.isfinite(x))
    if ok.size == 0:
        return x[:0]
    x = x[ok[0] : ok[-1] + 1]
    bad = ~np.isfinite(x)
    if bad.any():
        idx = np.arange(x.size)
        x = x.copy()
        x[bad] = np.interp(idx[bad], idx[~bad], x[~bad])
    return x


def in_domain_datasets(limit: int | None = None) -> dict[str, list[Window]]:
    """ETTh1's B1 test windows (30 x 7 series, context 512) and M4 hourly (414, h = 48)."""
    out = {}
    ett = common.SHARED_DATA / "ETTh1.csv"
    if ett.is_file():
        table = pd.read_csv(ett).select_dtypes("number").to_numpy(np.float64)
        windows = []
        for start in range(11520, 14400 - 96 + 1, 96):
            for c in range(table.shape[1]):
                windows.append(
                    Window(table[start - 512 : start, c], table[start : start + 96, c], 24, "h")
                )
        out["ETTh1 (in-domain)"] = windows
    train, test = (common.SHARED_DATA / f"M4-Hourly-{p}.csv" for p in ("train", "test"))
    if train.is_file() and test.is_file():
        from sadt.forecaster.data import read_wide_series

        out["M4 hourly (in-domain)"] = [
            Window(h, y, 24, "h")
            for h, y in zip(read_wide_series(train), read_wide_series(test), strict=True)
        ]
    if limit:
        out = {k: v[:limit] for k, v in out.items()}
    return out


# -- forecasters: window -> (quantiles (9, H), samples (n, H) or None) ------------------------


def seasonal_naive(window: Window, horizon: int):
    point = common.seasonal_naive(window.history, horizon, window.period)
    return np.repeat(point[None], len(DEFAULT_QUANTILES), axis=0), None


def auto_ets(window: Window, horizon: int):
    history = window.history[-1000:]
    m = window.period if history.size >= 2 * window.period and window.period <= 52 else 1
    try:
        _, quantiles = common.statsforecast_quantiles("AutoETS", history, horizon, m)
    except Exception:  # statsforecast refuses some short or flat series: fall back to m = 1
        _, quantiles = common.statsforecast_quantiles("AutoETS", history, horizon, 1)
    return np.nan_to_num(quantiles, nan=float(history[-1])), None


def fracast_forecaster():
    from fracast import FracastModel

    model = FracastModel.from_pretrained()

    def forecast(window: Window, horizon: int):
        return np.asarray(model.forecast(window.history, horizon=horizon), np.float64).T, None

    return forecast


def sadt_forecaster(model: str | None, method: str, budget: int | None, samples: int, seed: int):
    import sadt

    pipe = sadt.from_pretrained(model, describer=False)

    def forecast(window: Window, horizon: int):
        fc = pipe.forecast(
            window.history, horizon, method=method, budget=budget, num_samples=samples, seed=seed
        )
        return fc.quantiles, fc.samples

    return forecast


def run(name: str, forecast, datasets: dict[str, list[Window]], skip=()) -> dict[str, Score]:
    scores = {}
    for key, windows in datasets.items():
        score = scores[key] = Score()
        if key in skip:
            continue
        start = time.perf_counter()
        for window in windows:
            quantiles, samples = forecast(window, window.target.size)
            score.add(window, np.asarray(quantiles, np.float64), samples)
        score.seconds = time.perf_counter() - start
    total = sum(s.seconds for s in scores.values())
    count = sum(len(w) for key, w in datasets.items() if key not in skip)
    print(f"  {name}: {count} windows in {total:.1f} s ({count / max(total, 1e-9):.1f} series/s)")
    return scores


def _ratio(a: float, b: float) -> float:
    """a / b; NaN where seasonal naive is exact (b = 0: a flat stretch), which the geometric
    mean then leaves out."""
    return a / b if b > 0 else float("nan")


def geometric_mean(values) -> float:
    values = [v for v in values if np.isfinite(v) and v > 0]
    return float(np.exp(np.mean(np.log(values)))) if values else float("nan")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default=None, help="pipeline folder or Hub id (default: bundled)"
    )
    parser.add_argument("--methods", default="dts", help="sadt methods, comma-separated")
    parser.add_argument("--budget", type=int, default=None, help="NFE (default: the pipeline's)")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baselines", default="AutoETS,fracast")
    parser.add_argument("--corpus", default=str(common.SHARED_DATA / "corpus"))
    parser.add_argument("--no-in-domain", action="store_true", help="skip ETTh1 and M4 rows")
    parser.add_argument(
        "--split",
        default="heldout",
        choices=("heldout", "train"),
        help="corpus rows to score (train: design checks on seen series, not B6)",
    )
    parser.add_argument(
        "--transform",
        choices=TRANSFORMS,
        default=None,
        help="score series no model trained on, made from the rows: reversed or aggregated",
    )
    parser.add_argument("--limit", type=int, default=None, help="windows per data set (quick)")
    parser.add_argument(
        "--ets-in-domain",
        action="store_true",
        help="run AutoETS on the in-domain rows too (10+ min; B1 and B2 report it)",
    )
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/)")
    args = parser.parse_args(argv)

    from pathlib import Path

    corpus = Path(args.corpus)
    if not (corpus / "MANIFEST.csv").is_file():
        parser.error(f"no corpus at {corpus} (expected its MANIFEST.csv)")
    datasets = corpus_datasets(corpus, args.limit, args.split, args.transform)
    in_domain = {} if args.no_in_domain else in_domain_datasets(args.limit)
    everything = {**datasets, **in_domain}
    print(f"{len(datasets)} {args.split} data sets, {sum(map(len, datasets.values()))} windows")

    forecasters = {"seasonal naive": seasonal_naive}
    for method in filter(None, args.methods.split(",")):
        forecasters[f"sadt {method}"] = sadt_forecaster(
            args.model, method.strip(), args.budget, args.samples, args.seed
        )
    notes = []
    for name in filter(None, args.baselines.split(",")):
        name = name.strip()
        try:
            forecasters[name] = auto_ets if name == "AutoETS" else fracast_forecaster()
            if name == "AutoETS":
                import statsforecast  # noqa: F401
        except ImportError as err:
            forecasters.pop(name, None)
            notes.append(f"{name} skipped: {err} (pip install -e '.[bench]')")
            print(notes[-1])
    ets_skip = () if args.ets_in_domain else tuple(in_domain)
    scores = {
        name: run(name, f, everything, ets_skip if name == "AutoETS" else ())
        for name, f in forecasters.items()
    }

    naive = scores["seasonal naive"]
    rows_name = "held-out" if args.split == "heldout" else f"{args.split} rows"
    if args.transform:
        rows_name += f", {args.transform}"
    rows = []
    for key in everything:
        row = {"dataset": key, "windows": len(everything[key])}
        for name, score in scores.items():
            if name == "seasonal naive":
                continue
            row[f"{name} WQL"] = _ratio(score[key].wql(), naive[key].wql())
            row[f"{name} MASE"] = _ratio(score[key].mase(), naive[key].mase())
        rows.append(row)
    aggregate = {
        "dataset": f"geometric mean ({rows_name})",
        "windows": sum(map(len, datasets.values())),
    }
    for column in rows[0]:
        if column not in ("dataset", "windows"):
            aggregate[column] = geometric_mean(r[column] for r in rows if r["dataset"] in datasets)
    rows.append(aggregate)
    texture = []
    for name, score in scores.items():
        bands = [b for k in datasets for b in score[k].high_band]
        w1 = [w for k in datasets for w in score[k].spec_w1]
        if bands:
            texture.append(
                {
                    "method": name,
                    "high-band power ratio (median)": float(np.median(bands)),
                    "Spec-W1 (median)": float(np.median(w1)),
                    "series/s": sum(map(len, datasets.values()))
                    / max(sum(score[k].seconds for k in datasets), 1e-9),
                }
            )
    speed = [
        {
            "method": name,
            f"series/s ({rows_name})": sum(map(len, datasets.values()))
            / max(sum(score[k].seconds for k in datasets), 1e-9),
        }
        for name, score in scores.items()
    ]
    print("\nrelative to seasonal naive (lower is better)")
    common.print_table(rows, list(rows[0]))
    if texture:
        print(f"\nsample texture on the {rows_name} windows (1 = the history's)")
        common.print_table(texture, list(texture[0]))
    print()
    common.print_table(speed, list(speed[0]))
    record = {
        "benchmark": "B6 zero-shot across frequencies",
        "model": args.model or "bundled sadt-tiny",
        "methods": args.methods,
        "budget": args.budget,
        "samples": args.samples,
        "notes": notes,
        "machine": common.machine(),
        "rows": rows,
        "texture": texture,
        "speed": speed,
    }
    common.write_json("zeroshot", record, args.out)
    return record


if __name__ == "__main__":
    main()
