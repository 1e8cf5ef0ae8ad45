"""B3 (+ S-ADT, + the B5 DTS-vs-ancestral timing): reward, Spec-W1 and CRPS against NFE.

    python -m bench.search_efficiency --model checkpoints/forecaster [--value checkpoints/value]
        [--budgets 100 200 400 500 1000 2000] [--contexts 14] [--settings 3] [--seeds 1]

Held-out ETTh1 test windows (rows >= 11520, never seen by the forecaster or the value
network), horizon 96. For every reward-weight setting, method and budget: the mean reward
of the output samples (budget / S of them for every method, as many as ancestral sampling
affords), the reward of the chosen path, Spec-W1 (samples' mean), CRPS of the
samples against the truth (the truth is used for scoring only, never by a sampler), NFE
and wall time (F_phi calls included), averaged over contexts (and over ``--seeds`` runs
per context, seeded 0, 1000, ... above the context's own). Then, per setting: the NFE each
method needs to reach Best-of-N's chosen reward at its largest budget, DTS's wall time over
ancestral's (and that ratio for their denoiser calls replayed alone), and the NFE S-ADT
needs to reach DTS's sample reward and Spec-W1 at 2000 NFE.

The wall-time ratio comes from its own paired pass (``--timing-repeats``): per context,
ancestral sampling and DTS at the largest budget run alternately, the ratio of their
median times is taken, and the median over contexts is reported. Timing the methods in
separate blocks, as the table's seconds are, let a busy minute on the shared machine
move the ratio from 1.07 to 1.66 between runs of the same code.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench import common
from bench.forecast_etth1 import etth1_windows
from sadt.forecaster import Forecaster
from sadt.forecaster.chain import ForecastChain
from sadt.methods import METHODS
from sadt.metrics import crps
from sadt.search.dts import TreeSearchConfig
from sadt.spectral import spec_w1

SETTINGS = [  # (gamma, band weights, lam): what the app's sliders set
    {"gamma": 1.0, "band_weights": (1.0, 1.0, 1.0), "lam": 5.0},
    {"gamma": 2.0, "band_weights": (0.2, 1.0, 1.0), "lam": 3.0},
    {"gamma": 1.0, "band_weights": (1.0, 1.0, 0.2), "lam": 10.0},
]


def run_method(method, forecaster, value, context, target, budget, setting, seed, tree_cfg):
    spec = METHODS[method]
    levels = spec.branch_levels(forecaster.config.num_steps)
    chain = ForecastChain(
        forecaster, context, 96, setting["gamma"], setting["band_weights"], branch_levels=levels
    )
    # Every method returns as many samples as ancestral sampling affords at this budget:
    # the sample-based CRPS is biased upward for small ensembles (by about E|X - X'| / 2n),
    # so unequal counts would compare ensemble sizes, not samplers.
    # The registry's settings, as the pipeline runs them (Best-of-N resamples by exp(lam r)).
    start = time.perf_counter()
    result = spec.run(
        chain,
        budget,
        tree_config=tree_cfg,
        value=value,
        lam=setting["lam"],
        num_samples=budget // chain.num_steps,
        seed=seed,
    )
    seconds = time.perf_counter() - start
    samples = chain.to_original(result.samples)
    return {
        "reward": float(result.rewards.mean()),
        "chosen_reward": float(result.chosen_reward),
        "best_reward": float(result.stats.get("best_leaf_reward") or result.rewards.max()),
        "spec_w1": float(spec_w1(samples, context).mean()),
        "crps": float(crps(samples, target).mean()),
        "nfe": result.nfe,
        "seconds": seconds,
        "call_rows": chain.call_rows,  # rows of each denoiser call, for replay_calls
    }


def nfe_to_reach(curve: list[tuple[int, float]], goal: float) -> int | None:
    """Smallest budget whose value reaches ``goal`` (higher is better), or None."""
    return next((b for b, v in sorted(curve) if v >= goal - 1e-12), None)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="checkpoints/forecaster")
    parser.add_argument("--value", default=None, help="ValueNetwork folder (S-ADT rows)")
    parser.add_argument("--data", default=str(common.SHARED_DATA / "ETTh1.csv"))
    parser.add_argument("--budgets", type=int, nargs="+", default=[100, 200, 400, 500, 1000, 2000])
    parser.add_argument("--contexts", type=int, default=14, help="held-out windows (spread)")
    parser.add_argument("--settings", type=int, default=3)
    parser.add_argument("--methods", nargs="+", default=None)
    parser.add_argument("--seeds", type=int, default=1, help="runs per context, averaged")
    parser.add_argument("--batch", type=int, default=0, help="in-flight rollouts (0: auto)")
    parser.add_argument(
        "--timing-repeats", type=int, default=3, help="alternating runs per context (0: none)"
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")

    forecaster = Forecaster.load(args.model)
    value = None
    if args.value:
        from sadt.value import ValueNetwork

        value = ValueNetwork.load(args.value)
    contexts, targets = etth1_windows(args.data, forecaster.config.context_length)
    pick = common.spread(len(contexts), args.contexts)
    methods = args.methods or ["ancestral", "best_of_n", "smc", "dts", "dts_star"] + (
        ["sadt", "sadt_smc"] if value is not None else []
    )
    tree_cfg = TreeSearchConfig(batch=args.batch)
    rows = []
    for s, setting in enumerate(SETTINGS[: args.settings]):
        for method in methods:
            for budget in args.budgets:
                runs = [
                    run_method(
                        method,
                        forecaster,
                        value,
                        contexts[i],
                        targets[i],
                        budget,
                        setting,
                        seed + 1000 * repeat,
                        tree_cfg,
                    )
                    for repeat in range(args.seeds)
                    for seed, i in enumerate(pick)
                ]
                row = {"setting": s, "method": method, "budget": budget}
                row |= {
                    k: float(np.mean([r[k] for r in runs])) for k in runs[0] if k != "call_rows"
                }
                rows.append(row)
                print(
                    f"setting {s} {method:9s} {budget:5d} NFE: reward {row['reward']:.4f} "
                    f"chosen {row['chosen_reward']:.4f} spec_w1 {row['spec_w1']:.4f} "
                    f"crps {row['crps']:.4f} {row['seconds']:.3f} s",
                    flush=True,
                )
    summary = summarize(rows, args.budgets, methods)
    if args.timing_repeats > 0 and {"ancestral", "dts"} <= set(methods):
        for s, setting in enumerate(SETTINGS[: args.settings]):
            summary[s] |= paired_wall_ratio(
                forecaster, [contexts[i] for i in pick], [targets[i] for i in pick],
                max(args.budgets), setting, tree_cfg, args.timing_repeats,
            )  # fmt: skip
    print()
    common.print_table(
        rows,
        [
            "setting",
            "method",
            "budget",
            "reward",
            "chosen_reward",
            "spec_w1",
            "crps",
            "nfe",
            "seconds",
        ],
    )
    print()
    common.print_table(summary, list(summary[0]))
    record = {
        "machine": common.machine(),
        "model": args.model,
        "value": args.value,
        "settings": SETTINGS[: args.settings],
        "contexts": pick.tolist(),
        "rows": rows,
        "summary": summary,
    }
    common.write_json("search_efficiency", record, args.out)
    return record


def replay_calls(forecaster, context, call_rows: list[int], seed: int = 0) -> float:
    """Seconds to make the same denoiser calls (rows per call, in order) with no sampler
    around them, each fed the last one's output and started at once: what the calls alone
    cost. (mx.async_eval returns only once the call before has finished, so at most two
    calls are in flight here, as in a search.)"""
    chain = ForecastChain(forecaster, context)
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    states = chain.initial(call_rows[0], rng)
    for rows in call_rows:
        if len(states) != rows:
            states = chain.initial(rows, rng)
        states, x0_hat = chain.denoise_step(states, np.full(rows, chain.num_steps), rng)
        chain.start([states, x0_hat])
    chain.to_numpy(states)
    return time.perf_counter() - start


def paired_wall_ratio(forecaster, contexts, targets, budget, setting, tree_cfg, repeats) -> dict:
    """DTS's wall time over ancestral sampling's at ``budget``, measured in pairs: per context
    the two run alternately ``repeats`` times each (same seed), and the ratios of their median
    seconds are summarized by their median over contexts.

    The split: each method's denoiser calls are replayed alone (``replay_calls``), in the
    same alternation. Their ratio is what DTS's sequence of calls costs (more calls than
    ancestral's, and emptier ones); what DTS takes beyond its replay is its tree's
    bookkeeping that did not overlap a call."""
    ratios, calls_alone, tree_share = [], [], []
    for seed, (context, target) in enumerate(zip(contexts, targets, strict=True)):
        times = {"ancestral": [], "dts": []}
        replays = {"ancestral": [], "dts": []}
        for _ in range(repeats):
            for method in times:
                run = run_method(
                    method, forecaster, None, context, target, budget, setting, seed, tree_cfg
                )
                times[method].append(run["seconds"])
                replays[method].append(replay_calls(forecaster, context, run["call_rows"], seed))
        dts, anc = np.median(times["dts"]), np.median(times["ancestral"])
        ratios.append(dts / anc)
        calls_alone.append(np.median(replays["dts"]) / np.median(replays["ancestral"]))
        tree_share.append((dts - np.median(replays["dts"])) / anc)
    return {
        "dts_over_ancestral_seconds": float(np.median(ratios)),
        "dts_over_ancestral_seconds_range": [
            round(float(min(ratios)), 3),
            round(float(max(ratios)), 3),
        ],
        "dts_calls_alone_over_ancestral_calls": float(np.median(calls_alone)),
        "dts_tree_over_ancestral": float(np.median(tree_share)),
    }


def summarize(rows, budgets, methods) -> list[dict]:
    top = max(budgets)
    out = []
    for s in sorted({r["setting"] for r in rows}):
        at = {(r["method"], r["budget"]): r for r in rows if r["setting"] == s}

        def curve(m, key, at=at):
            return [(b, at[(m, b)][key]) for b in budgets if (m, b) in at]

        entry = {"setting": s}
        if ("best_of_n", top) in at:
            goal = at[("best_of_n", top)]["chosen_reward"]
            for m in methods:
                entry[f"nfe_to_bon@{top}_{m}"] = nfe_to_reach(curve(m, "chosen_reward"), goal)
            entry[f"nfe_to_bon@{top}_dts_star_best_leaf"] = nfe_to_reach(
                curve("dts_star", "best_reward"), goal
            )
        if ("dts", top) in at and ("ancestral", top) in at:
            dts, anc = at[("dts", top)], at[("ancestral", top)]
            entry["dts_over_ancestral_seconds"] = dts["seconds"] / anc["seconds"]
            entry["dts_spec_w1_gain"] = (
                at[("ancestral", top)]["spec_w1"] - at[("dts", top)]["spec_w1"]
            )
            entry["dts_crps_change"] = at[("dts", top)]["crps"] / at[("ancestral", top)]["crps"] - 1
        for m in ("sadt", "sadt_smc"):
            if ("dts", top) in at and (m, top) in at:
                goal_r = at[("dts", top)]["reward"]
                goal_w = -at[("dts", top)]["spec_w1"]
                reach_r = nfe_to_reach(curve(m, "reward"), goal_r)
                neg_w = [(b, -v) for b, v in curve(m, "spec_w1")]
                reach_w = nfe_to_reach(neg_w, goal_w)
                entry[f"{m}_nfe_to_dts@{top}_reward"] = reach_r
                entry[f"{m}_nfe_to_dts@{top}_spec_w1"] = reach_w
        out.append(entry)
    return out


if __name__ == "__main__":
    main()
