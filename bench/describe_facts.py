"""How the describer's facts (sadt/describer/facts.py) agree with known truth.

    python -m bench.describe_facts --n 1500

* Synthetic series (``sadt.synthetic``, whose generator records the truth): the dominant
  period among the facts' clear or weak cycles (within 15 %), cycles claimed on series
  without one, level-shift and spike recall and false claims (random walks apart), and
  how often "ends higher / lower / level" matches the generator's trend.
* The corpus's train split (``../shared/data/corpus``, no truth): how many series get a
  shift or spike verdict, and the facts' time per series (median, max).

The thresholds in facts.py were set on these figures (never on the held-out split).
Writes bench/results/describe_facts.json.
"""

from __future__ import annotations

import argparse
import csv
import time

import numpy as np

from bench.common import SHARED_DATA, write_json


def synthetic(n: int, seed: int) -> dict:
    from sadt.describer.facts import facts_of_values
    from sadt.synthetic import generate

    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        values, attrs = generate(rng)
        rows.append((attrs, facts_of_values(values)))

    def rate(pred, subset) -> float:
        pool = [pred(a, f) for a, f in rows if subset(a)]
        return float(np.mean(pool)) if pool else float("nan")

    def said_cycle(f) -> bool:
        return bool(f.cycles) and f.cycles[0].clarity != "none"

    def period_found(a, f) -> bool:
        p = a.dominant_period
        return any(c.clarity != "none" and abs(c.steps - p) <= 0.15 * p for c in f.cycles)

    words = {"up": "higher", "down": "lower", "none": "level"}
    return {
        "n": n,
        "period_found": rate(period_found, lambda a: a.seasonalities),
        "cycle_claimed_without_one": rate(
            lambda a, f: said_cycle(f), lambda a: not a.seasonalities
        ),
        "shift_recall": rate(lambda a, f: bool(f.shifts), lambda a: a.level_shifts),
        "shift_false": rate(lambda a, f: bool(f.shifts), lambda a: not a.level_shifts),
        "shift_false_random_walk": rate(
            lambda a, f: bool(f.shifts), lambda a: not a.level_shifts and a.random_walk
        ),
        "spike_recall": rate(lambda a, f: bool(f.spikes), lambda a: a.spikes),
        "spike_false": rate(lambda a, f: bool(f.spikes), lambda a: not a.spikes),
        "trend_matches": rate(lambda a, f: words[a.trend] == f.trend, lambda a: True),
    }


def corpus_train() -> dict | None:
    from sadt.describer.facts import compute_facts
    from sadt.series import SeriesError, read_series

    manifest = SHARED_DATA / "corpus" / "MANIFEST.csv"
    if not manifest.is_file():
        return None
    rows = [r for r in csv.DictReader(open(manifest)) if r["split"] == "train"]
    shifts = spikes = read = 0
    seconds = []
    for row in rows:
        try:
            series = read_series(SHARED_DATA / "corpus" / row["file"])
        except SeriesError:
            continue  # a file the reader refuses (e.g. a long outage) says so elsewhere
        tic = time.perf_counter()
        facts = compute_facts(series)
        seconds.append(time.perf_counter() - tic)
        read += 1
        shifts += bool(facts.shifts)
        spikes += bool(facts.spikes)
    return {
        "series": read,
        "with_shift": shifts / read,
        "with_spikes": spikes / read,
        "seconds_median": float(np.median(seconds)),
        "seconds_max": float(np.max(seconds)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1500, help="synthetic series")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    result = {"synthetic": synthetic(args.n, args.seed), "corpus_train": corpus_train()}
    for part, figures in result.items():
        if figures is None:
            print(f"{part}: the corpus is absent")
            continue
        for key, value in figures.items():
            print(f"{part:<14}{key:<28}{value:.3f}" if isinstance(value, float) else
                  f"{part:<14}{key:<28}{value}")  # fmt: skip
    write_json("describe_facts", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
