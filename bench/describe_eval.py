"""Describer accuracy on held-out synthetic series, with a zero-soft-token ablation.

    python -m bench.describe_eval --describer checkpoints/sadt-tiny-describer --n 200

For each held-out series (``sadt.synthetic.generate_batch(n, seed)``; the training
scripts never draw from this seed's streams) the describer writes a description
(greedy). ``sadt.describer.captions.score_description(text, attrs)`` parses the text back
into attributes (trend direction, dominant period, noise level, spikes, level
shifts, ...) and says, per attribute, whether the text states the generator's
record correctly; an attribute the text leaves out counts as wrong. Accuracy per
attribute is the share of series where it is right; the headline number is their
mean.

Multiple choice: ``--questions`` questions per series (``sadt.describer.captions.questions``,
distinct topics, four shuffled options) are put to the describer with
``describe(series, question=q.prompt())``; an answer counts when its first line
names the right letter ("B", "B)", "B) Low noise") or is the right option's text.

Numbers: where a description states the mean ("a mean level of about 437"), is it
the prompt's mean (three significant digits) exactly?

Ablation: the same prompts with every soft token replaced by zeros. The text then
still holds the length, mean and std, so whatever the ablation gets right comes
from the prompt text; the gap to the full model is what the series itself carries.

Writes bench/results/describe_eval.json (per-attribute table, examples).
"""

from __future__ import annotations

import argparse
import re
import time

import sadt  # noqa: F401  (loads the fast BLAS; must come before mlx.core)

# isort: split
import numpy as np

from bench.common import write_json

HELD_OUT_SEED = 20_250_601


_MEAN = re.compile(
    r"(?:mean(?: level)?(?: is| of)? (?:about|roughly) |hover around )(-?\d[\d.]*\d|-?\d)"
)


def stated_mean(text: str) -> float | None:
    """The mean a description states ("a mean level of about 437"), if any."""
    match = _MEAN.search(text)
    return float(match.group(1)) if match else None


def mcq_correct(answer: str, q) -> bool:
    """Does a generated answer pick the right option? Accepts "B", "B)", "B) Low noise"
    and the bare option text ("Low noise"); only the first line counts."""
    lines = answer.strip().splitlines()
    first = lines[0].strip() if lines else ""
    match = re.match(r"^\(?([A-D])\)?(?:[\s.:]|$)", first)
    if match:
        return match.group(1) == q.answer_letter
    return first.rstrip(".").lower() == q.options[q.answer].lower()


def evaluate(tslm, n: int, seed: int, max_tokens: int, questions_per_series: int) -> dict:
    """Attribute and multiple-choice accuracy, with and without the series."""
    from sadt.describer import captions
    from sadt.describer.prompt import format_number
    from sadt.synthetic import generate_batch

    pairs = generate_batch(n, seed)
    rows = {"series": [], "zeros": []}
    near = {"series": [], "zeros": []}  # period within 15 % (the real-series rule)
    mcq = {"series": [], "zeros": []}
    chance, examples, topics = [], [], {}
    means = []  # (stated, true) where a description states a mean
    for i, (values, attrs) in enumerate(pairs):
        for mode, zero in (("series", False), ("zeros", True)):
            text = tslm.describe(values, max_tokens=max_tokens, zero_soft_tokens=zero)
            scores = captions.score_description(text, attrs)
            rows[mode].append(scores)
            period = captions.parse_description(text)["period"]
            near[mode].append(
                scores["period"]
                or (bool(attrs.seasonalities) and period is not None
                    and abs(period - attrs.dominant_period) <= 0.15 * attrs.dominant_period)
            )  # fmt: skip
            if mode == "series" and stated_mean(text) is not None:
                means.append((stated_mean(text), float(format_number(float(values.mean())))))
            if i < 5:
                examples.append({"mode": mode, "text": text, "attributes": attrs.to_dict()})
        rng = np.random.default_rng([seed, i])
        for q in captions.questions(attrs, rng, n=questions_per_series):
            chance.append(1.0 / len(q.options))
            for mode, zero in (("series", False), ("zeros", True)):
                answer = tslm.describe(values, question=q.prompt(), max_tokens=12,
                                       zero_soft_tokens=zero)  # fmt: skip
                mcq[mode].append(mcq_correct(answer, q))
                topics.setdefault(q.topic, {"series": [], "zeros": []})[mode].append(mcq[mode][-1])
    names = sorted({k for r in rows["series"] for k in r})
    table = {}
    for name in names:
        table[name] = {
            mode: float(np.mean([r.get(name, False) for r in rows[mode]])) for mode in rows
        }
    mean = {mode: float(np.mean([table[a][mode] for a in names])) for mode in rows}
    return {
        "n_series": n,
        "seed": seed,
        "attributes": table,
        "attribute_accuracy": mean,
        "ablation_gap_points": 100 * (mean["series"] - mean["zeros"]),
        "period_within_15pct": {m: float(np.mean(v)) for m, v in near.items()},
        "mcq_accuracy": {m: float(np.mean(v)) if v else None for m, v in mcq.items()},
        "mcq_questions": len(mcq["series"]),
        "mcq_chance": float(np.mean(chance)) if chance else None,
        "mcq_by_topic": {
            t: {m: float(np.mean(v)) for m, v in by_mode.items()} for t, by_mode in topics.items()
        },
        "mean_stated_share": len(means) / n,
        "mean_stated_exact": float(np.mean([a == b for a, b in means])) if means else None,
        "mean_stated_within_1pct": float(np.mean([abs(a - b) <= 0.01 * abs(b) for a, b in means]))
        if means
        else None,  # fmt: skip
        "examples": examples,
    }


def main(argv: list[str] | None = None) -> int:
    from sadt.describer.model import TSLM

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--describer", required=True, help="a saved TSLM folder")
    parser.add_argument("--n", type=int, default=200, help="held-out series")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    parser.add_argument("--max-tokens", type=int, default=120)
    parser.add_argument("--questions", type=int, default=2, help="questions per series")
    parser.add_argument("--out", help="JSON path (default bench/results/...)")
    args = parser.parse_args(argv)

    tic = time.perf_counter()
    tslm = TSLM.load(args.describer)
    result = evaluate(tslm, args.n, args.seed, args.max_tokens, args.questions)
    result["describer"] = args.describer
    result["seconds"] = time.perf_counter() - tic
    print(f"{'attribute':<16}{'series':>8}{'zeros':>8}")
    for name, row in result["attributes"].items():
        print(f"{name:<16}{row['series']:>8.3f}{row['zeros']:>8.3f}")
    acc = result["attribute_accuracy"]
    print(f"{'mean':<16}{acc['series']:>8.3f}{acc['zeros']:>8.3f}")
    print(f"ablation gap: {result['ablation_gap_points']:.1f} points")
    near = result["period_within_15pct"]
    print(
        f"period within 15 % (the real-series rule): {near['series']:.3f} "
        f"(zeros {near['zeros']:.3f})"
    )
    m = result["mcq_accuracy"]
    print(f"multiple choice: {m['series']:.3f} (zeros {m['zeros']:.3f}, chance "
          f"{result['mcq_chance']:.3f}, {result['mcq_questions']} questions)")  # fmt: skip
    if result["mean_stated_exact"] is not None:
        share, exact = result["mean_stated_share"], result["mean_stated_exact"]
        print(f"numbers: {share:.0%} of descriptions state the mean, {exact:.0%} of them exactly")
    write_json("describe_eval", result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
