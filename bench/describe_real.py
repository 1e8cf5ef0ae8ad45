"""Describer accuracy on real series with known structure (the corpus's held-out sources).

    python -m bench.describe_real                       # the bundled describer, held-out
    python -m bench.describe_real --labels train        # the development set (train split)
    python -m bench.describe_real --model path/or/repo --limit 20

Each row of ``bench/data/heldout_structure.csv`` annotates one held-out series of
``../shared/data/corpus`` by what the series is known to be (its source and domain, checked
against the data by hand): its seasonal periods in steps (strongest first, empty for none),
the direction of its long-run change (up / down / none) and its lasting level shifts with
dates. The describer writes a description of the whole file (greedy, as the app does), and
``sadt.describer.captions.parse_description`` reads it back:

* period right: a series with a cycle gets a stated period within 15 % of an annotated one
  (descriptions state the step count beside the calendar word: "a yearly cycle of 52
  weeks"); a series without one gets no cycle claimed.
* trend right: the stated direction equals the annotation ("none" for no clear trend).
* false event claims: a description that claims a level shift where none is annotated, or
  claims spikes: the annotations mark no isolated outliers, so every spike claim is counted
  against the describer (strict).

These series are for evaluation only: nothing here trains or tunes on them. Design work uses
``--labels train`` (``bench/data/train_structure.csv``: 74 train-split series annotated the
same way); the describer trains on train-split series too (captioned by their facts), so
that set flatters it.
Writes bench/results/describe_real.json (or describe_real_train.json with --labels train).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from bench.common import SHARED_DATA, write_json

LABELS = {
    "heldout": Path(__file__).resolve().parent / "data" / "heldout_structure.csv",
    "train": Path(__file__).resolve().parent / "data" / "train_structure.csv",
}
CORPUS = SHARED_DATA / "corpus"


def read_annotations(path: Path = LABELS["heldout"]) -> list[dict]:
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            periods = [int(p) for p in row["periods"].split(";") if p.strip()]
            shifts = [s for s in row["shifts"].split(";") if s.strip()]
            rows.append({**row, "periods": periods, "shifts": shifts})
    return rows


def score(text: str, row: dict) -> dict:
    """Per-description scores against one annotation row (see the module docstring)."""
    from sadt.describer.captions import parse_description

    found = parse_description(text)
    period = found["period"]
    claims_cycle = period is not None or found["seasonal"] is True
    if row["periods"]:
        period_right = period is not None and any(
            abs(period - p) <= 0.15 * p for p in row["periods"]
        )
        main_right = (
            period is not None and abs(period - row["periods"][0]) <= 0.15 * row["periods"][0]
        )
    else:
        period_right = main_right = not claims_cycle
    shift_claim = found["level_shifts"] is True
    spike_claim = found["spikes"] is True
    return {
        "period_right": bool(period_right),
        "main_period_right": bool(main_right),
        "trend_right": found["trend"] == row["trend"],
        "stated_trend": found["trend"],
        "stated_period": period,
        "false_shift": bool(shift_claim and not row["shifts"]),
        "true_shift": bool(shift_claim and row["shifts"]),
        "missed_shift": bool(row["shifts"] and not shift_claim),
        "spike_claim": bool(spike_claim),
        "false_event": bool((shift_claim and not row["shifts"]) or spike_claim),
    }


class FactsOnly:
    """A baseline with no language model: the caption the facts alone give
    (``captions.slot_caption`` of ``captions.observed(facts)``, slots filled)."""

    def describe(self, series) -> str:
        from sadt.describer import captions
        from sadt.describer.facts import compute_facts, fill_slots

        facts = compute_facts(series)
        rng = np.random.default_rng(0)
        return fill_slots(
            captions.slot_caption(captions.observed(facts), facts, rng), facts.slots()
        )


def evaluate(pipe, rows: list[dict]) -> dict:
    from sadt.series import read_series

    results, seconds = [], []
    for row in rows:
        path = CORPUS / row["file"]
        series = read_series(path)
        tic = time.perf_counter()
        text = pipe.describe(series)
        seconds.append(time.perf_counter() - tic)
        scores = score(text, row)
        results.append({"file": row["file"], "frequency": row["frequency"], "length": len(series),
                        "text": text, "annotation": {k: row[k] for k in ("periods", "trend",
                        "shifts")}, **scores})  # fmt: skip
        print(f"{row['file'][7:60]:54s} P{'+' if scores['period_right'] else '-'} "
              f"T{'+' if scores['trend_right'] else '-'} "
              f"E{'!' if scores['false_event'] else ' '}  {text[:110]}")  # fmt: skip

    def share(key: str, subset=None) -> float:
        pool = [r for r in results if subset is None or subset(r)]
        return float(np.mean([r[key] for r in pool])) if pool else float("nan")

    return {
        "n_series": len(results),
        "period_right": share("period_right"),
        "period_right_seasonal": share("period_right", lambda r: r["annotation"]["periods"]),
        "no_cycle_right_nonseasonal": share(
            "period_right", lambda r: not r["annotation"]["periods"]
        ),
        "main_period_right_seasonal": share(
            "main_period_right", lambda r: r["annotation"]["periods"]
        ),
        "trend_right": share("trend_right"),
        "false_event_claims": share("false_event"),
        "false_shift_claims": share("false_shift"),
        "spike_claims": share("spike_claim"),
        "shifts_found": share("true_shift", lambda r: r["annotation"]["shifts"]),
        "seconds_median": float(np.median(seconds)),
        "seconds_max": float(np.max(seconds)),
        "series": results,
    }


def speed(pipe, repeats: int = 5) -> dict:
    """Warm seconds (median) to describe a 5000-point hourly series, and to describe a
    96-step forecast of it (the forecast itself not counted)."""
    import pandas as pd

    from sadt.series import Series

    rng = np.random.default_rng(0)
    t = np.arange(5000)
    values = 100 + 10 * np.sin(2 * np.pi * t / 24) + 0.002 * t + rng.normal(0, 1, t.size)
    series = Series(values, pd.date_range("2024-01-01", periods=t.size, freq="h"), "h", "load")
    forecast = pipe.forecast(series, horizon=96, method="ancestral", budget=32 * 20, seed=0)
    timings = {"describe": [], "describe_forecast": []}
    for _ in range(repeats):
        calls = {
            "describe": lambda: pipe.describe(series),
            "describe_forecast": lambda: pipe.describe_forecast(forecast),
        }
        for key, call in calls.items():
            tic = time.perf_counter()
            call()
            timings[key].append(time.perf_counter() - tic)
    return {f"{k}_seconds_5000": float(np.median(v)) for k, v in timings.items()}


def main(argv: list[str] | None = None) -> int:
    import sadt

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default=None, help="a pipeline folder or Hub id (default: bundled)"
    )
    parser.add_argument("--limit", type=int, default=None, help="first N annotated series")
    parser.add_argument(
        "--labels",
        choices=sorted(LABELS),
        default="heldout",
        help="which annotated set (train: the development set)",
    )
    parser.add_argument(
        "--facts-only",
        action="store_true",
        help="the baseline without a language model: the facts' own caption",
    )
    parser.add_argument("--out", help="JSON path (default bench/results/describe_real.json)")
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"The corpus is not at {CORPUS}: nothing to evaluate.")
        return 0
    rows = read_annotations(LABELS[args.labels])[: args.limit]
    if args.facts_only:
        result = evaluate(FactsOnly(), rows)
        result["model"] = "facts only"
    else:
        pipe = sadt.from_pretrained(args.model) if args.model else sadt.from_pretrained()
        if pipe.tslm is None:
            print("This model has no describer.")
            return 1
        pipe.describe(np.sin(np.arange(64) / 3.0))  # warm
        result = evaluate(pipe, rows)
        result.update(speed(pipe))
        result["model"] = args.model or "bundled"
    print()
    for key in ("period_right", "period_right_seasonal", "no_cycle_right_nonseasonal",
                "main_period_right_seasonal", "trend_right", "false_event_claims",
                "false_shift_claims", "spike_claims", "shifts_found", "seconds_median",
                "describe_seconds_5000", "describe_forecast_seconds_5000"):  # fmt: skip
        if key in result:
            print(f"{key:<28}{result[key]:.3f}")
    print(f"series: {result['n_series']}")
    result["labels"] = args.labels
    name = "describe_real" if args.labels == "heldout" else "describe_real_train"
    name += "_facts_only" if args.facts_only else ""
    write_json(name, result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
