"""Search cost against budget: every method's wall time at 2000 and 20000 NFE.

    python -m bench.search_scaling [--model DIR] [--windows 3]

Forecasts ETTh1 windows (OT, the last rows of its test part; H = 96) with each method at
both budgets, the fastest of `--repeats` runs per window (a busy moment on a shared
machine only ever adds time, and 0.1 s runs are easily doubled), and reports the median
over windows and the ratio wall(20000) / wall(2000): a
method whose cost grows at most linearly with its budget stays at or below 10 (issue 20's
target is <= 12 for every method). Ancestral sampling spends only what its samples cost,
so its ratio is ~1. Writes bench/results/search_scaling.json.
"""

from __future__ import annotations

import argparse
import statistics
import time

import sadt
from bench.common import SHARED_DATA, machine, print_table, write_json
from sadt.methods import METHODS

BUDGETS = (2000, 20000)
HORIZON = 96
TARGET = 12.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="pipeline folder (default: bundled)")
    parser.add_argument("--windows", type=int, default=3, help="ETTh1 windows per figure")
    parser.add_argument("--repeats", type=int, default=3, help="runs per window (fastest)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    pipe = sadt.from_pretrained(args.model, describer=False)
    series = sadt.read_series(SHARED_DATA / "ETTh1.csv", column="OT")
    ends = [len(series) - i * HORIZON for i in range(1, args.windows + 1)]
    pipe.forecast(series.head(ends[0]), HORIZON, method="dts", budget=200)  # warm up
    rows = []
    for name in METHODS:
        if name not in pipe.methods:
            continue
        walls = {}
        for budget in BUDGETS:
            times = []
            for end in ends:
                runs = []
                for seed in range(args.repeats):
                    tic = time.perf_counter()
                    pipe.forecast(series.head(end), HORIZON, method=name, budget=budget, seed=seed)
                    runs.append(time.perf_counter() - tic)
                times.append(min(runs))
            walls[budget] = statistics.median(times)
        ratio = walls[BUDGETS[1]] / walls[BUDGETS[0]]
        rows.append(
            {
                "method": name,
                "wall_2000_s": walls[BUDGETS[0]],
                "wall_20000_s": walls[BUDGETS[1]],
                "ratio": ratio,
                "linear": ratio <= TARGET,
            }
        )
    print(
        f"search wall time vs budget, ETTh1 OT, H={HORIZON}, median of {args.windows} windows "
        f"(fastest of {args.repeats} runs each)"
    )
    print_table(rows, ["method", "wall_2000_s", "wall_20000_s", "ratio", "linear"])
    write_json(
        "search_scaling",
        {"budgets": BUDGETS, "horizon": HORIZON, "rows": rows, "machine": machine()},
        args.out,
    )


if __name__ == "__main__":
    main()
