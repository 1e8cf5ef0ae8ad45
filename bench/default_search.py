"""Does a real tree pay at the default budget, and what does steering buy? DTS with all, a
quarter or an eighth of its rollouts in flight (1, ~4, ~6 waves), and DTS tilted harder
(gamma x lambda 3 and 9), against ancestral sampling, on B6's windows.

    python -m bench.default_search                      # corpus train rows, 3 windows each
    python -m bench.default_search --budget 2000 --limit 5

Design checks run on the corpus's *train* rows (B6's windows of the training series): the
held-out rows are for reporting only. Prints WQL and MASE relative to seasonal naive
(geometric mean over data sets), the median Spec-W1 and high-band power ratio of the
samples, wall time and the mean number of waves.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

import sadt
from bench import common
from bench import zeroshot as z

# (method, gamma, lambda, share of the rollouts in flight)
VARIANTS = [
    ("ancestral", 1.0, 1.0, 1.0),
    ("dts", 1.0, 1.0, 1.0),
    ("dts", 1.0, 1.0, 0.25),
    ("dts", 1.0, 1.0, 0.125),
    ("dts", 1.0, 3.0, 1.0),
    ("dts", 3.0, 3.0, 1.0),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--budget", type=int, default=None, help="NFE (default: pipeline's)")
    parser.add_argument("--limit", type=int, default=3, help="windows per data set")
    parser.add_argument("--split", default="train", choices=("train", "heldout"))
    args = parser.parse_args(argv)
    datasets = z.corpus_datasets(common.SHARED_DATA / "corpus", args.limit, args.split)
    naive = z.run("seasonal naive", z.seasonal_naive, datasets)
    pipe = sadt.from_pretrained(args.model, describer=False)
    settings = pipe.search.tree_config()
    rows = []
    for method, gamma, lam, share in VARIANTS:
        waves = []

        def forecast(
            window, horizon, method=method, gamma=gamma, lam=lam, share=share, waves=waves
        ):
            pipe.search.tree_config = lambda: replace(settings, batch_share=share)
            fc = pipe.forecast(
                window.history, horizon, method=method, budget=args.budget, gamma=gamma, lam=lam
            )
            waves.append(fc.stats.get("waves", 0.0))
            return fc.quantiles, fc.samples

        tic = time.perf_counter()
        scores = z.run(f"{method} {gamma} {lam} {share}", forecast, datasets)
        label = "ancestral" if method == "ancestral" else f"dts γ{gamma:g} λ{lam:g} {share:g}"
        rows.append(
            {
                "method (share in flight)": label,
                "waves": float(np.mean(waves)),
                "WQL": z.geometric_mean([scores[k].wql() / naive[k].wql() for k in datasets]),
                "MASE": z.geometric_mean([scores[k].mase() / naive[k].mase() for k in datasets]),
                "Spec-W1": float(np.median([v for k in datasets for v in scores[k].spec_w1])),
                "high band": float(np.median([v for k in datasets for v in scores[k].high_band])),
                "wall_s": time.perf_counter() - tic,
            }
        )
    print(f"default search, corpus {args.split} rows, {args.limit} windows per data set")
    columns = ["method (share in flight)", "waves", "WQL", "MASE", "Spec-W1", "high band"]
    common.print_table(rows, [*columns, "wall_s"])


if __name__ == "__main__":
    main()
