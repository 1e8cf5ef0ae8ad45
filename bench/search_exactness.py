"""B4: sampler exactness on the toy chain with an exact score.

W1 (1-D) or sliced W1 (2-D) between each sampler's samples and the exact tilted target
p(x) exp(lam r(x)) computed on a grid, as the NFE budget grows. DTS must converge;
ancestral sampling must not (it samples the untilted prior exactly).

    python -m bench.search_exactness [--budgets 200 1000 5000 20000] [--seeds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import machine, print_table, write_json
from sadt.search import SAMPLERS, TreeSearchConfig
from sadt.search.toy import bimodal_1d, ring_2d, sliced_w1_to_grid, target_grid

TOYS = {"1d_bimodal": bimodal_1d, "2d_ring": ring_2d}
METHODS = {
    "ancestral": {},
    "best_of_n": {"mode": "resample"},
    "smc": {},
    # 16 rollouts in flight (the default grows the batch with the budget, which trades a
    # little adaptivity for wall time; here the question is convergence).
    "dts": {"config": TreeSearchConfig(batch=16)},
    # The paper's bare selection rule, for comparison with the default shrinkage.
    "dts_n0=0": {"config": TreeSearchConfig(batch=16, prior_visits=0.0)},
}


def run(budgets, seeds, lam, num_samples) -> list[dict]:
    rows = []
    for toy_name, make in TOYS.items():
        chain = make()
        grid = target_grid(chain)
        target = chain.tilted_target(lam, grid)
        for budget in budgets:
            for method, kwargs in METHODS.items():
                sampler = SAMPLERS[method.split("_n0")[0]]
                w1s, times = [], []
                for seed in range(seeds):
                    start = time.perf_counter()
                    result = sampler(
                        chain, budget, lam=lam, num_samples=num_samples, seed=seed, **kwargs
                    )
                    times.append(time.perf_counter() - start)
                    w1s.append(sliced_w1_to_grid(result.samples, grid, target))
                rows.append(
                    {
                        "toy": toy_name,
                        "budget": budget,
                        "method": method,
                        "w1_median": float(np.median(w1s)),
                        "w1_mean": float(np.mean(w1s)),
                        "seconds": float(np.median(times)),
                    }
                )
            print(f"{toy_name} budget {budget} done", flush=True)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budgets", type=int, nargs="+", default=[200, 500, 1000, 2000, 5000, 10000, 20000, 50000]
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lam", type=float, default=1.0)
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    rows = run(args.budgets, args.seeds, args.lam, args.num_samples)
    print_table(rows, ["toy", "budget", "method", "w1_median", "w1_mean", "seconds"])
    summary = []
    for toy in TOYS:
        top = max(args.budgets)
        at = {r["method"]: r["w1_median"] for r in rows if r["toy"] == toy and r["budget"] == top}
        dts_curve = [r["w1_median"] for r in rows if r["toy"] == toy and r["method"] == "dts"]
        summary.append(
            {
                "toy": toy,
                "budget": top,
                "dts_over_ancestral": at["dts"] / at["ancestral"],
                "dts_curve_falls": bool(dts_curve[-1] < dts_curve[0]),
            }
        )
    print()
    print_table(summary, ["toy", "budget", "dts_over_ancestral", "dts_curve_falls"])
    write_json(
        "search_exactness",
        {"machine": machine(), "lam": args.lam, "rows": rows, "summary": summary},
        args.out,
    )


if __name__ == "__main__":
    main()
