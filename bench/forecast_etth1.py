"""B1: ETTh1, horizon 96 (protocol in ../shared/BENCHMARKS.md).

    python -m bench.forecast_etth1 --model checkpoints/forecaster [--samples 32] [--context 512]

Channels z-scored with the train rows' mean/std; test windows start at 11520, 11616, ...
(30 x 7 = 210 series); metrics in that z-space. The forecaster, seasonal naive and
statsforecast's AutoETS / AutoTheta run side by side on the same windows.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from bench import common
from sadt.forecaster import Forecaster
from sadt.metrics import crps, mae, mse
from sadt.spectral import spec_w1

TRAIN_ROWS, TEST_START, TEST_STOP, HORIZON = 8640, 11520, 14400, 96


def etth1_windows(path, context_length: int):
    """(contexts (210, C), targets (210, 96)) in the train-z-scored space."""
    table = pd.read_csv(path)
    values = table.select_dtypes("number").to_numpy(np.float64)
    train = values[:TRAIN_ROWS]
    z = (values - train.mean(axis=0)) / train.std(axis=0)
    contexts, targets = [], []
    for channel in range(z.shape[1]):
        for start in range(TEST_START, TEST_STOP - HORIZON + 1, HORIZON):
            contexts.append(z[start - context_length : start, channel])
            targets.append(z[start : start + HORIZON, channel])
    return np.stack(contexts), np.stack(targets)


def score_samples(name, samples, contexts, targets, seconds, nfe=None) -> dict:
    """samples (N, n, H) -> the B1 row: CRPS, MSE/MAE of the median, Spec-W1."""
    median = np.median(samples, axis=1)
    return {
        "method": name,
        "crps": float(np.mean([crps(s, y).mean() for s, y in zip(samples, targets, strict=True)])),
        "mse": float(np.mean([mse(m, y) for m, y in zip(median, targets, strict=True)])),
        "mae": float(np.mean([mae(m, y) for m, y in zip(median, targets, strict=True)])),
        "spec_w1": float(
            np.mean([spec_w1(s, c).mean() for s, c in zip(samples, contexts, strict=True)])
        ),
        "seconds": seconds,
        "nfe": nfe,
    }


def score_point(name, points, quantiles, contexts, targets, seconds) -> dict:
    """A point forecast (N, H) and optional quantiles (N, 9, H) -> the B1 row."""
    row = {
        "method": name,
        "mse": float(np.mean([mse(p, y) for p, y in zip(points, targets, strict=True)])),
        "mae": float(np.mean([mae(p, y) for p, y in zip(points, targets, strict=True)])),
        "spec_w1": float(np.mean([spec_w1(p, c) for p, c in zip(points, contexts, strict=True)])),
        "seconds": seconds,
    }
    if quantiles is None:  # a point forecast's CRPS is its MAE
        row["crps"] = row["mae"]
    else:
        row["crps"] = float(
            np.mean([common.quantile_crps(q, y) for q, y in zip(quantiles, targets, strict=True)])
        )
        row["crps_note"] = "from 9 quantiles"
    return row


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="checkpoints/forecaster", help="Forecaster folder")
    parser.add_argument("--data", default=str(common.SHARED_DATA / "ETTh1.csv"))
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--context", type=int, default=None, help="default: the model's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baselines", default="naive,AutoETS,AutoTheta")
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/)")
    args = parser.parse_args(argv)

    model = Forecaster.load(args.model)
    context_length = args.context or model.config.context_length
    contexts, targets = etth1_windows(args.data, context_length)
    rows = []
    with common.Timer() as timer:
        samples = model.sample_many(list(contexts), args.samples, args.seed)
    rows.append(
        score_samples(
            f"sadt diffusion ({args.samples} samples)",
            samples[..., :HORIZON],
            contexts,
            targets,
            timer.seconds,
            model.nfe,
        )
    )
    baselines = [b.strip() for b in args.baselines.split(",") if b.strip()]
    if "naive" in baselines:
        with common.Timer() as timer:
            points = np.stack([common.seasonal_naive(c, HORIZON) for c in contexts])
        rows.append(
            score_point("seasonal naive (24)", points, None, contexts, targets, timer.seconds)
        )
    for name in (b for b in baselines if b != "naive"):
        with common.Timer() as timer:
            fits = [common.statsforecast_quantiles(name, c, HORIZON) for c in contexts]
        points, quantiles = np.stack([f[0] for f in fits]), np.stack([f[1] for f in fits])
        rows.append(
            score_point(f"{name} (24)", points, quantiles, contexts, targets, timer.seconds)
        )
    naive_mae = next((r["mae"] for r in rows if r["method"].startswith("seasonal")), None)
    if naive_mae:
        for r in rows:
            r["crps_over_naive_mae"] = r["crps"] / naive_mae
    common.print_table(
        rows, ["method", "crps", "crps_over_naive_mae", "mse", "mae", "spec_w1", "seconds", "nfe"]
    )
    record = {
        "benchmark": "B1 ETTh1 h=96",
        "model": args.model,
        "context_length": context_length,
        "samples": args.samples,
        "series": len(targets),
        "machine": common.machine(),
        "rows": rows,
    }
    common.write_json("forecast_etth1", record, args.out)
    return record


if __name__ == "__main__":
    main()
