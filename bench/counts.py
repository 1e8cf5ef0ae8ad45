"""Generated count series: intermittent demand, small Poisson counts, seasonal counts and a
baseline with rare huge bursts, which real uploads hold and the benchmarks' data sets
barely do (generated here, so the rules allow designing on them).

    python -m bench.counts [--model FOLDER] [--series 40]

Each kind: ``--series`` histories of 40-200 values, 12 steps ahead, WQL over q = 0.1..0.9
averaged over series (lower is better), for sadt (the app's default method), fracast when
installed, the last value and the history's median (each as all nine quantiles).
"""

from __future__ import annotations

import argparse

import numpy as np

from bench import common
from sadt.metrics import DEFAULT_QUANTILES, wql

HORIZON = 12


def kinds(rng: np.random.Generator) -> dict:
    """name -> n -> one generated series of n values."""
    return {
        "intermittent (80 % zeros)": lambda n: rng.poisson(2, n) * (rng.random(n) < 0.2),
        "Poisson(0.5)": lambda n: rng.poisson(0.5, n),
        "Poisson(5), 12-step cycle": lambda n: rng.poisson(
            5 * (1 + 0.6 * np.sin(2 * np.pi * np.arange(n) / 12))
        ),
        "bursty (baseline 75, 5 % bursts)": lambda n: np.round(
            np.where(rng.random(n) < 0.05, rng.lognormal(8, 1, n), rng.normal(75, 15, n).clip(0))
        ),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="pipeline folder (default: bundled)")
    parser.add_argument("--series", type=int, default=40, help="series per kind")
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/)")
    args = parser.parse_args(argv)

    import sadt

    pipe = sadt.from_pretrained(args.model, describer=False)
    forecasters = {
        "sadt": lambda h, i: pipe.forecast(h, HORIZON, num_samples=64, seed=i).quantiles,
        "last value": lambda h, i: np.full((9, HORIZON), h[-1]),
        "history's median": lambda h, i: np.full((9, HORIZON), np.median(h)),
    }
    try:
        from fracast import FracastModel

        fracast = FracastModel.from_pretrained()
        forecasters["fracast"] = lambda h, i: (
            np.asarray(fracast.forecast(h, horizon=HORIZON), float).T
        )
    except ImportError:
        print("fracast skipped (pip install -e '.[bench]')")
    rng = np.random.default_rng(0)
    rows = []
    for name, make in kinds(rng).items():
        losses = {method: [] for method in forecasters}
        for i in range(args.series):
            n = int(rng.integers(40, 200))
            y = make(n + HORIZON).astype(float)
            history, future = y[:n], y[n:]
            if np.abs(future).sum() == 0:
                continue
            for method, forecast in forecasters.items():
                losses[method].append(wql(forecast(history, i), future, DEFAULT_QUANTILES))
        rows.append({"kind": name} | {m: float(np.mean(v)) for m, v in losses.items()})
    print("\nWQL, mean over series (lower is better)")
    common.print_table(rows, list(rows[0]))
    record = {"benchmark": "generated counts", "series": args.series, "rows": rows}
    common.write_json("counts", record, args.out)
    return record


if __name__ == "__main__":
    main()
