"""Where the spectral reward is decided: reward spread among siblings, by branching level.

    python -m bench.reward_by_level --model checkpoints/forecaster [--contexts 4] [--paths 8]

For held-out ETTh1 windows (as in B3), draw ``paths`` ancestral paths; at each branching
index k, continue every path's state ``children`` times to the end and score the leaves.
The figure per level is the mean within-sibling reward std over the std of all those
leaves: 1 means a branch at that level is as varied as a fresh sample, 0 means every
continuation gets the same reward. A tree search gains where this ratio is high for the
NFE a branch costs (the rollout cost, in the last column). Reward weights: gamma 1, equal
bands.
"""

from __future__ import annotations

import argparse

import numpy as np

from bench import common
from bench.forecast_etth1 import etth1_windows
from sadt.forecaster import Forecaster
from sadt.forecaster.chain import ForecastChain


def sibling_spread(chain: ForecastChain, paths: int, children: int, seed: int) -> np.ndarray:
    """(depth,) within-sibling reward std / overall std of the same leaves, per index k."""
    rng = np.random.default_rng(seed)
    x = chain.initial(paths, rng)
    states = [x]
    for k in range(chain.depth - 1):
        x, _ = chain.advance(x, np.full(paths, k), rng)
        states.append(x)
    ratios = []
    for k, at_k in enumerate(states):
        leaves = chain.rollout(np.repeat(at_k, children, axis=0), np.full(paths * children, k), rng)
        rewards = chain.reward(leaves).reshape(paths, children)
        ratios.append(rewards.std(axis=1).mean() / max(rewards.std(), 1e-12))
    return np.array(ratios)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="checkpoints/forecaster")
    parser.add_argument("--data", default=str(common.SHARED_DATA / "ETTh1.csv"))
    parser.add_argument("--contexts", type=int, default=4)
    parser.add_argument("--paths", type=int, default=8)
    parser.add_argument("--children", type=int, default=16)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    forecaster = Forecaster.load(args.model)
    contexts, _ = etth1_windows(args.data, forecaster.config.context_length)
    pick = common.spread(len(contexts), args.contexts)
    chains = [ForecastChain(forecaster, contexts[i], 96) for i in pick]
    spread = np.mean(
        [sibling_spread(c, args.paths, args.children, seed) for seed, c in enumerate(chains)],
        axis=0,
    )
    chain = chains[0]
    rows = [
        {
            "k": k,
            "level": int(chain.levels[k]),
            "sibling_std_ratio": float(spread[k]),
            "branch_cost_nfe": int(chain.rollout_cost(k)),
        }
        for k in range(chain.depth)
    ]
    record = {"model": args.model, "contexts": pick.tolist()}
    return common.report("reward_by_level", rows, record, args.out)


if __name__ == "__main__":
    main()
