"""The Chain interface every sampler runs on, and the result every sampler returns.

A chain is a reverse diffusion process seen as a tree: states at *branching
levels* ``levels[0] > levels[1] > ... > levels[-1] == 0`` (in denoising steps),
a batched transition that moves each state one branching edge down, and a
reward on final states. One denoiser call on one state is 1 NFE; an edge that
spans several denoising steps costs that many NFE. The chain counts NFE itself,
so no sampler can under-report.

A chain may compute lazily (the forecaster builds MLX graphs): ``launch`` starts an
edge and returns at once, ``PendingAdvance.result()`` waits, and a call can be fed the
last one's outputs before they exist. Samplers use that to do their bookkeeping while
the denoiser computes; ``advance`` is launch-and-wait.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from sadt.errors import BudgetError


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


class Chain:
    """Base class: subclasses implement ``initial``, ``denoise_step`` and ``reward``; a lazy
    chain also ``to_numpy``, ``start``, ``take`` and ``join`` (the defaults are numpy's).

    ``levels`` are the branching levels in denoising steps, strictly decreasing, ending at 0;
    ``levels[0]`` is the number of denoising steps S of one full sample.
    """

    levels: np.ndarray
    state_shape: tuple[int, ...]
    state_dtype = np.float64  # what the tree stores states in (the denoiser's own dtype)
    # True when ``step_from_x0`` can draw a step from a known denoiser output (see there).
    steps_from_x0 = False

    def __init__(self, levels) -> None:
        levels = np.asarray(levels, dtype=np.int64)
        if levels.ndim != 1 or len(levels) < 2 or levels[-1] != 0 or np.any(np.diff(levels) >= 0):
            raise ValueError(f"branching levels must strictly decrease to 0, got {levels.tolist()}")
        self.levels = levels
        self.nfe = 0
        # Rows of every denoiser call, in order: bench.search_efficiency replays a sampler's
        # calls without the sampler to split its wall time (calls vs bookkeeping).
        self.call_rows: list[int] = []
        self.on_nfe = None  # optional callback(nfe) after every denoiser call (progress bars)
        # Set (by on_nfe, a signal handler, ...) to end a tree search early: it launches no
        # new rollout and returns what its finished ones found. One-pass samplers (ancestral,
        # Best-of-N, SMC) finish their pass.
        self.stop_requested = False

    # -- to implement -------------------------------------------------------------------------
    def initial(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` states at the top level ``levels[0]`` (pure noise). Costs no NFE."""
        raise NotImplementedError

    def denoise_step(self, states: np.ndarray, steps: np.ndarray, rng: np.random.Generator):
        """One denoising step for each row: from step ``steps[i]`` to ``steps[i] - 1``.

        Returns ``(next_states, x0_hat)`` where ``x0_hat`` is the denoised (Tweedie)
        estimate of each *input* state from the same denoiser call. One NFE per row. Must not
        modify ``states``: a sampler may still hold them. A lazy chain returns its own
        arrays, may be given them back as ``states``, and must accept any array that
        supports ``len`` and slicing of rows.
        """
        raise NotImplementedError

    def reward(self, final_states: np.ndarray) -> np.ndarray:
        """Reward of final states (level 0), shape (n,). Never sees any future truth."""
        raise NotImplementedError

    def step_from_x0(self, states, x0_hat, steps, rng: np.random.Generator) -> np.ndarray:
        """Optional (set ``steps_from_x0``): another draw of ``denoise_step`` for states whose
        denoiser output ``x0_hat`` is already known, with no denoiser call (0 NFE). A tree
        that has stepped a node once draws its next children this way: the step's law is
        fixed by the state and its denoiser output, only the noise is new."""
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

    def to_numpy(self, array) -> np.ndarray:
        """A state array as numpy, waiting for it if the chain computes lazily."""
        return np.asarray(array)

    def start(self, arrays) -> None:
        """Begin computing lazily built arrays in the background (no-op for eager chains)."""

    def take(self, array, rows: np.ndarray):
        """``array[rows]`` for a state array, without waiting for a lazy one."""
        return np.asarray(array)[rows]

    def join(self, arrays: list):
        """State arrays stacked along rows, without waiting for lazy ones."""
        return np.concatenate([np.asarray(a) for a in arrays])

    def launch(
        self, states, k: np.ndarray, rng: np.random.Generator, entered=None
    ) -> PendingAdvance:
        """Start moving each row one branching edge down, from ``levels[k[i]]`` to
        ``levels[k[i] + 1]``; returns at once with a :class:`PendingAdvance`.

        NFE are counted here. A lazy chain (the forecaster in MLX) computes while the caller
        goes on with its own bookkeeping; ``result()`` waits. Rows may sit at different
        branching indices: they are ordered by edge length, longest first, so every
        denoising step runs on a prefix of the rows in one denoiser call.

        ``entered`` (bool per row) marks rows already one step into an edge of two or more
        steps (drawn by ``step_from_x0``): they sit at ``levels[k[i]] - 1`` and cost one NFE
        less. The x0_hat returned is always the estimate of each row's state as given.
        """
        k = np.asarray(k, dtype=np.int64)
        if len(k) == 0:
            empty = np.array(self.to_numpy(states), copy=True)
            return PendingAdvance(self, [empty], empty.copy(), None)
        if np.any(k < 0) or np.any(k >= self.depth):
            raise ValueError("advance() called on a state at or below level 0")
        step = self.levels[k]
        cost = step - self.levels[k + 1]
        if entered is not None:
            entered = np.asarray(entered, dtype=bool)
            if np.any(cost[entered] < 2):
                raise ValueError("a row one step into a one-step edge has no step left")
            step, cost = step - entered, cost - entered
        order = None
        if cost.min() != cost.max():
            order = np.argsort(-cost, kind="stable")
            states, step, cost = self.take(states, order), step[order], cost[order]
        pieces, current, rows, x0_hat = [], states, len(k), None
        for j in range(int(cost[0])):
            still = int(np.count_nonzero(cost > j))
            if still < rows:  # the shorter edges are done: set their rows aside
                pieces.append(current[still:])
                current, rows = current[:still], still
            current, x0 = self.denoise_step(current, step[:rows] - j, rng)
            self._count(rows)
            # The first call sees every row: its estimates belong to the input states.
            x0_hat = x0 if x0_hat is None else x0_hat
        pieces.append(current)
        pieces.reverse()  # back to edge-length order
        self.start([*pieces, x0_hat])
        return PendingAdvance(self, pieces, x0_hat, order)

    def advance(self, states, k: np.ndarray, rng: np.random.Generator):
        """Move each row one branching edge down and wait for it: ``(next_states, x0_hat)``
        with ``x0_hat`` the denoised estimate of each *input* state (from the edge's first
        denoiser call), for Tweedie potentials."""
        return self.launch(states, k, rng).result()

    def _count(self, rows: int) -> None:
        self.nfe += rows
        self.call_rows.append(rows)
        if self.on_nfe is not None:
            self.on_nfe(self.nfe)

    def rollout(self, states, k: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Take rows at branching indices ``k`` all the way to level 0 (no tree bookkeeping)."""
        k = np.asarray(k, dtype=np.int64).copy()
        if k.size and np.all(k == k[0]) and k[0] < self.depth:
            # All rows on one level: chain the edges without waiting in between, so a lazy
            # chain builds the next call while the last one computes.
            out = states
            for level in range(int(k[0]), self.depth - 1):
                out = self.launch(out, np.full(len(k), level), rng).lazy_states()
            return self.launch(out, np.full(len(k), self.depth - 1), rng).result()[0]
        out = np.array(self.to_numpy(states), copy=True)
        while True:
            active = np.flatnonzero(k < self.depth)
            if active.size == 0:
                return out
            out[active], _ = self.advance(out[active], k[active], rng)
            k[active] += 1


class PendingAdvance:
    """Rows on their way one branching edge down (see :meth:`Chain.launch`)."""

    def __init__(self, chain: Chain, pieces: list, x0_hat, order) -> None:
        self.chain, self.pieces, self.x0_hat = chain, pieces, x0_hat
        # Where each input row sits in the pieces (None: in input order already).
        self.inverse = None
        if order is not None:
            self.inverse = np.empty_like(order)
            self.inverse[order] = np.arange(len(order))

    def lazy_states(self):
        """The next states as the chain computes them, without waiting (rows in input order)."""
        out = self.pieces[0] if len(self.pieces) == 1 else self.chain.join(self.pieces)
        if self.inverse is None:
            # An eager chain's array is the one result() returns: a copy keeps it safe from a
            # denoise_step that breaks the contract and writes into its input.
            return out.copy() if isinstance(out, np.ndarray) else out
        return self.chain.take(out, self.inverse)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """Wait for the edge: ``(next_states, x0_hat)`` as numpy, rows in input order."""
        chain = self.chain
        parts = [chain.to_numpy(piece) for piece in self.pieces]
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        x0_hat = chain.to_numpy(self.x0_hat)
        if self.inverse is not None:
            out, x0_hat = out[self.inverse], x0_hat[self.inverse]
        return out, x0_hat


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
