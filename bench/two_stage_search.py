"""How few NFE can reach Best-of-N@2000 here: a hand-made two-stage search, for B3's windows.

    python -m bench.two_stage_search --model checkpoints/forecaster [--contexts 14] [--repeats 2]

Stage 1 draws ``fresh`` ancestral samples, keeping each one's state two steps from the end
and that state's denoiser output. Stage 2 takes the ``top`` best of them by reward and
draws ``branches`` more endings under each from the kept output (``step_from_x0``, no
call), each finished by one denoiser call. The best leaf's reward is compared with
Best-of-N's chosen reward at 2000 NFE (best of 100 fresh samples) on the same windows and
reward settings as B3. Every schedule spends ``20 * fresh + top * branches`` NFE.

A schedule that knows where the reward is decided (``bench.reward_by_level``) and spends
nothing on bookkeeping is an upper bound on what a tree search finds at its budget; the
best of several schedules on the same windows is an optimistic one.
"""

from __future__ import annotations

import argparse

import numpy as np

from bench import common
from bench.forecast_etth1 import etth1_windows
from bench.search_efficiency import SETTINGS
from sadt.forecaster import Forecaster
from sadt.search.forecast_chain import ForecastChain

SCHEDULES = [
    (15, 4, 25),
    (16, 2, 40),
    (14, 2, 60),
    (10, 2, 100),
    (100, 0, 0),
]  # fresh, top, branches
LEVEL = 2  # where stage 2 branches: the last step that adds noise starts here


def two_stage(chain: ForecastChain, rng, fresh: int, top: int, branches: int) -> float:
    """Best leaf reward of one two-stage search."""
    x = chain.initial(fresh, rng)
    for level in range(chain.num_steps, LEVEL, -1):
        x, _ = chain.denoise_step(x, np.full(fresh, level), rng)
    kept = np.array(x)
    x, x0_hat = chain.denoise_step(kept, np.full(fresh, LEVEL), rng)
    x0_hat = np.array(x0_hat)
    for level in range(LEVEL - 1, 0, -1):
        x, _ = chain.denoise_step(x, np.full(fresh, level), rng)
    rewards = chain.reward(np.array(x))
    best = float(rewards.max())
    for i in np.argsort(-rewards)[:top]:
        rows = np.full(branches, i)
        y = chain.step_from_x0(kept[rows], x0_hat[rows], np.full(branches, LEVEL), rng)
        for level in range(LEVEL - 1, 0, -1):
            y, _ = chain.denoise_step(y, np.full(branches, level), rng)
        best = max(best, float(chain.reward(np.array(y)).max()))
    return best


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="checkpoints/forecaster")
    parser.add_argument("--data", default=str(common.SHARED_DATA / "ETTh1.csv"))
    parser.add_argument("--contexts", type=int, default=14)
    parser.add_argument("--repeats", type=int, default=2, help="seeds per window")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    forecaster = Forecaster.load(args.model)
    contexts, _ = etth1_windows(args.data, forecaster.config.context_length)
    pick = common.spread(len(contexts), args.contexts)
    rows = []
    for s, setting in enumerate(SETTINGS):
        found = {schedule: [] for schedule in SCHEDULES}
        for repeat in range(args.repeats):
            for seed, i in enumerate(pick):
                chain = ForecastChain(
                    forecaster, contexts[i], 96, setting["gamma"], setting["band_weights"]
                )
                for schedule in SCHEDULES:
                    rng = np.random.default_rng(seed + 1000 * repeat)
                    found[schedule].append(two_stage(chain, rng, *schedule))
        for (fresh, top, branches), best in found.items():
            rows.append(
                {
                    "setting": s,
                    "fresh": fresh,
                    "top": top,
                    "branches": branches,
                    "nfe": forecaster.config.num_steps * fresh + top * branches,
                    "best_leaf_reward": round(float(np.mean(best)), 4),
                }
            )
    record = {"model": args.model, "contexts": pick.tolist()}
    return common.report("two_stage_search", rows, record, args.out)


if __name__ == "__main__":
    main()
