"""B2: M4 hourly (protocol in ../shared/BENCHMARKS.md).

    python -m bench.forecast_m4 --model checkpoints/forecaster [--samples 100]

Each of the 414 series is forecast 48 steps from the end of its train part (the model reads
its last `context_length` points); its first 48 horizon steps are scored. WQL is the
dataset-level mean weighted quantile loss over q = 0.1 .. 0.9 (Chronos's number), MASE (m = 24)
and sMAPE of the median are averaged over series. Baselines run on the same series.
"""

from __future__ import annotations

import argparse

import numpy as np

from bench import common
from sadt.forecaster import Forecaster
from sadt.forecaster.data import read_wide_series
from sadt.metrics import WQLAccumulator, mase, sample_quantiles, smape

HORIZON, PERIOD = 48, 24


def score(name, medians, quantiles, histories, targets, seconds, nfe=None) -> dict:
    """medians (N, 48), quantiles (N, 9, 48) original scale -> the B2 row."""
    wql = WQLAccumulator()
    for q, y in zip(quantiles, targets, strict=True):
        wql.add(q, y)
    triples = zip(medians, targets, histories, strict=True)
    return {
        "method": name,
        "wql": wql.value(),
        "mase": float(np.mean([mase(p, y, h, PERIOD) for p, y, h in triples])),
        "smape": float(np.mean([smape(p, y) for p, y in zip(medians, targets, strict=True)])),
        "seconds": seconds,
        "nfe": nfe,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="checkpoints/forecaster", help="Forecaster folder")
    parser.add_argument("--train", default=str(common.SHARED_DATA / "M4-Hourly-train.csv"))
    parser.add_argument("--test", default=str(common.SHARED_DATA / "M4-Hourly-test.csv"))
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baselines", default="naive,AutoETS,AutoTheta")
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/)")
    args = parser.parse_args(argv)

    model = Forecaster.load(args.model)
    if model.config.horizon < HORIZON:
        parser.error(f"the model's horizon {model.config.horizon} is shorter than M4's {HORIZON}")
    histories = read_wide_series(args.train)
    targets = np.stack(read_wide_series(args.test))
    rows = []
    with common.Timer() as timer:
        samples = model.sample_many(histories, args.samples, args.seed)[..., :HORIZON]
    quantiles = np.stack([sample_quantiles(s) for s in samples])
    rows.append(
        score(
            f"sadt diffusion ({args.samples} samples)",
            np.median(samples, axis=1),
            quantiles,
            histories,
            targets,
            timer.seconds,
            model.nfe,
        )
    )
    baselines = [b.strip() for b in args.baselines.split(",") if b.strip()]
    if "naive" in baselines:
        with common.Timer() as timer:
            points = np.stack([common.seasonal_naive(h, HORIZON, PERIOD) for h in histories])
        point_quantiles = np.repeat(points[:, None, :], 9, axis=1)  # a point forecast's WQL
        rows.append(
            score("seasonal naive (24)", points, point_quantiles, histories, targets, timer.seconds)
        )
    for name in (b for b in baselines if b != "naive"):
        with common.Timer() as timer:
            fits = [common.statsforecast_quantiles(name, h, HORIZON, PERIOD) for h in histories]
        medians = np.stack([f[1][4] for f in fits])
        rows.append(
            score(
                f"{name} (24)",
                medians,
                np.stack([f[1] for f in fits]),
                histories,
                targets,
                timer.seconds,
            )
        )
    common.print_table(rows, ["method", "wql", "mase", "smape", "seconds", "nfe"])
    record = {
        "benchmark": "B2 M4 hourly h=48",
        "model": args.model,
        "context_length": model.config.context_length,
        "samples": args.samples,
        "series": len(targets),
        "machine": common.machine(),
        "rows": rows,
    }
    common.write_json("forecast_m4", record, args.out)
    return record


if __name__ == "__main__":
    main()
