"""The Chain interface every sampler runs on, and the result every sampler returns.

A chain is a reverse diffusion process seen as a tree: states at *branching
levels* ``levels[0] > levels[1] > ... > levels[-1] == 0`` (in denoising steps),
a batched transition that moves each state one branching edge down, and a
reward on final states. One denoiser call on one state is 1 NFE; an edge that
spans several denoising steps costs that many NFE. The chain counts NFE itself,
so no sampler can under-report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class SearchResult:
    """What a sampler returns. States are in the chain's own space (normalized for forecasts)."""

    method: str
    samples: np.ndarray  # (n, *state_shape) final states drawn from the sampler's output law
    rewards: np.ndarray  # (n,) reward of each sample
    chosen: np.ndarray  # (*state_shape,) the single path the method picks
    chosen_reward: float
    nfe: int  # denoiser calls used; never above the budget
    wall_time: float  # seconds
    stats: dict = field(default_factory=dict)  # tree size, depth, ESS, resamples, ...


def result_from(method, states, rewards, pick, chain_nfe_used, clock, stats) -> SearchResult:
    """A SearchResult whose samples are ``states[pick]`` and whose chosen path is the best."""
    best = int(np.argmax(rewards))
    return SearchResult(
        method,
        states[pick],
        rewards[pick],
        states[best],
        float(rewards[best]),
        chain_nfe_used,
        clock.elapsed(),
        stats,
    )


class BudgetError(ValueError):
    """The NFE budget cannot pay for even one complete sample."""


class Chain:
    """Base class: subclasses implement ``initial``, ``denoise_step`` and ``reward``.

    ``levels`` are the branching levels in denoising steps, strictly decreasing, ending at 0;
    ``levels[0]`` is the number of denoising steps S of one full sample.
    """

    levels: np.ndarray
    state_shape: tuple[int, ...]
    state_dtype = np.float64  # what the tree stores states in (the denoiser's own dtype)

    def __init__(self, levels) -> None:
        levels = np.asarray(levels, dtype=np.int64)
        if levels.ndim != 1 or len(levels) < 2 or levels[-1] != 0 or np.any(np.diff(levels) >= 0):
            raise ValueError(f"branching levels must strictly decrease to 0, got {levels.tolist()}")
        self.levels = levels
        self.nfe = 0
        # Wall time spent inside denoise_step: what a sampler's time costs in the denoiser,
        # apart from its own bookkeeping (bench.search_efficiency reports the split).
        self.denoise_seconds = 0.0
        self.on_nfe = None  # optional callback(nfe) after every denoiser call (progress bars)

    # -- to implement -------------------------------------------------------------------------
    def initial(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` states at the top level ``levels[0]`` (pure noise). Costs no NFE."""
        raise NotImplementedError

    def denoise_step(self, states: np.ndarray, steps: np.ndarray, rng: np.random.Generator):
        """One denoising step for each row: from step ``steps[i]`` to ``steps[i] - 1``.

        Returns ``(next_states, x0_hat)`` where ``x0_hat`` is the denoised (Tweedie)
        estimate of each *input* state from the same denoiser call. One NFE per row.
        """
        raise NotImplementedError

    def reward(self, final_states: np.ndarray) -> np.ndarray:
        """Reward of final states (level 0), shape (n,). Never sees any future truth."""
        raise NotImplementedError

    # -- shared machinery ---------------------------------------------------------------------
    @property
    def num_steps(self) -> int:
        """Denoising steps (NFE) of one complete sample from the top level."""
        return int(self.levels[0])

    @property
    def depth(self) -> int:
        """Number of branching edges from the top level to level 0."""
        return len(self.levels) - 1

    def level_fraction(self, k) -> np.ndarray:
        """How far down the chain branching index ``k`` sits: 0 at the top, 1 at level 0,
        in denoising steps (so it means the same noise level whatever the branching)."""
        return 1.0 - self.levels[np.asarray(k)] / self.levels[0]

    def edge_cost(self, k) -> np.ndarray:
        """NFE of the edge from branching index ``k`` to ``k + 1``."""
        k = np.asarray(k)
        return self.levels[k] - self.levels[k + 1]

    def rollout_cost(self, k) -> np.ndarray:
        """NFE to take a state at branching index ``k`` all the way to level 0."""
        return self.levels[np.asarray(k)]

    def advance(self, states: np.ndarray, k: np.ndarray, rng: np.random.Generator):
        """Move each row one branching edge down: from ``levels[k[i]]`` to ``levels[k[i] + 1]``.

        Rows may sit at different branching indices; all rows that still need a
        denoising step go through the denoiser together. Returns
        ``(next_states, x0_hat)`` with ``x0_hat`` the denoised estimate of each
        *input* state (from the edge's first denoiser call), for Tweedie potentials.
        """
        k = np.asarray(k, dtype=np.int64)
        if len(states) == 0:
            return states.copy(), states.copy()
        if np.any(k < 0) or np.any(k >= self.depth):
            raise ValueError("advance() called on a state at or below level 0")
        step = self.levels[k].copy()
        stop = self.levels[k + 1]
        # Levels strictly decrease, so every row takes the first step: that call's
        # denoised estimates belong to the input states.
        out, x0_hat = self._denoise(np.asarray(states), step, rng)
        step -= 1
        while True:
            active = np.flatnonzero(step > stop)
            if active.size == 0:
                return out, x0_hat
            out[active], _ = self._denoise(out[active], step[active], rng)
            step[active] -= 1

    def _denoise(self, states: np.ndarray, steps: np.ndarray, rng: np.random.Generator):
        """denoise_step, counted (NFE) and timed."""
        start = time.perf_counter()
        out = self.denoise_step(states, steps, rng)
        self.denoise_seconds += time.perf_counter() - start
        self._count(len(states))
        return out

    def _count(self, rows: int) -> None:
        self.nfe += rows
        if self.on_nfe is not None:
            self.on_nfe(self.nfe)

    def rollout(self, states: np.ndarray, k: np.ndarray, rng: np.random.Generator):
        """Take rows at branching indices ``k`` all the way to level 0 (no tree bookkeeping)."""
        k = np.asarray(k, dtype=np.int64).copy()
        out = np.array(states, copy=True)
        while True:
            active = np.flatnonzero(k < self.depth)
            if active.size == 0:
                return out
            out[active], _ = self.advance(out[active], k[active], rng)
            k[active] += 1


def systematic_resample(weights: np.ndarray, rng: np.random.Generator, count: int | None = None):
    """``count`` (default: as many as weights) indices drawn by systematic resampling: one
    uniform offset, evenly spaced positions on the weights' CDF. In random order, each index
    has the law ``weights``, and index i appears floor or ceil of count * w_i times, where
    i.i.d. draws duplicate some indices and miss others. Indices come out sorted."""
    count = len(weights) if count is None else count
    cumulative = np.cumsum(weights)
    if not (np.isfinite(cumulative[-1]) and cumulative[-1] > 0) or np.any(weights < 0):
        raise ValueError("resampling weights must be finite, non-negative and not all zero")
    positions = (rng.random() + np.arange(count)) / count
    return np.minimum(np.searchsorted(cumulative, positions * cumulative[-1]), len(weights) - 1)


class Stopwatch:
    """Wall time of one sampler call, including reward evaluations."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def check_budget(chain: Chain, budget_nfe: int, per_sample: int | None = None) -> int:
    """How many complete samples ``budget_nfe`` pays for; one clear error when none."""
    per_sample = chain.num_steps if per_sample is None else per_sample
    if not isinstance(budget_nfe, (int, np.integer)) or budget_nfe < per_sample:
        raise BudgetError(
            f"a budget of {budget_nfe} NFE cannot pay for one sample, which costs "
            f"{per_sample} denoiser calls; raise the budget to at least {per_sample}"
        )
    return int(budget_nfe) // per_sample
