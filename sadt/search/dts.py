"""Diffusion Tree Sampling (DTS) and Diffusion Tree Search (DTS*), batched.

Jain et al. 2025 (arXiv 2506.20701), as ARCHITECTURE.md §5 states it:

* selection: from the root, while a node is "full" (progressive widening:
  |C(n)| >= C * N(n)^alpha), move to a child drawn ∝ exp(lam * v(child)) (DTS) or
  the child with the best UCT score on soft values (DTS*);
* expansion: at the first node that is not full, draw one new child from p_theta;
* rollout: continue that child to level 0, adding every branching-level state;
* backup: leaf value = r(x0); every internal node on the path gets
  v(n) = (1/lam) * (logsumexp(lam * v(C(n))) - log |C(n)|) and N(n) += 1.

Batching: each iteration selects ``batch`` traversals one after another, with
virtual visits and pending children so they spread out, then advances all their
rollouts together (one denoiser call per denoising step for the whole batch).

Output: DTS draws samples by Boltzmann descent (free); DTS* descends by argmax.
The learned value of S-ADT plugs in through ``value_prior`` (see sadt.search.amortized).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sadt.search.chain import Chain, SearchResult, Stopwatch, check_budget
from sadt.search.tree import Tree


@dataclass
class TreeSearchConfig:
    """Knobs of DTS / DTS*. Defaults follow the paper's ranges."""

    lam: float = 1.0  # inverse temperature of the target p(x) exp(lam r(x))
    widen_c: float = 2.0  # progressive widening: expand while |C(n)| < widen_c * N(n)^widen_alpha
    widen_alpha: float = 0.7
    batch: int = 16  # traversals per iteration, advanced in one denoiser call
    uct_c: float = 1.0  # DTS* exploration constant (in reward units)
    greedy: bool = False  # False: DTS (Boltzmann selection); True: DTS* (UCT selection)
    # Selection (never the backup or the output) uses (N v + n0 prior) / (N + n0): a child
    # seen N times is trusted in proportion to N. The prior is the parent's soft value, or
    # the learned value F_phi under S-ADT. n0 = 0 is the paper's rule exp(lam v) alone.
    # Why: with n0 = 0 a child whose first rollout was unlucky is starved of visits and
    # keeps its low value, a pre-asymptotic bias measured on the exact toy chain
    # (W1 to the tilted target rose from 0.13 to 0.66 as the budget went 2k -> 100k NFE);
    # with n0 = 16 it fell to 0.06. The weight n0 / (n0 + N) -> 0, so exactness holds.
    prior_visits: float = 16.0

    def validate(self) -> None:
        if not (math.isfinite(self.lam) and self.lam > 0):
            raise ValueError(f"lam must be a positive number, got {self.lam}")
        if self.widen_c <= 0 or not 0 < self.widen_alpha < 1:
            raise ValueError("widening needs widen_c > 0 and 0 < widen_alpha < 1")
        if self.prior_visits < 0:
            raise ValueError(f"prior_visits must be >= 0, got {self.prior_visits}")
        if self.batch < 1:
            raise ValueError(f"batch must be at least 1, got {self.batch}")


def may_expand(num_children: int, visits: int, c: float, alpha: float) -> bool:
    """Progressive widening: a node with no child always expands; otherwise while
    |C(n)| < c * N(n)^alpha, with N counting traversals through n (virtual ones included)."""
    return num_children == 0 or num_children < c * visits**alpha


class TreeSearch:
    """One DTS / DTS* run over a chain. Use :func:`dts` / :func:`dts_star` to call it."""

    def __init__(
        self, chain: Chain, config: TreeSearchConfig, rng: np.random.Generator, value_prior=None
    ) -> None:
        config.validate()
        self.chain, self.cfg, self.rng = chain, config, rng
        self.tree = Tree(chain.state_shape, leaf_index=chain.depth)
        self.value_prior = value_prior  # S-ADT: object with .initial_values and .mix_weight
        self.iterations = 0

    # -- selection ------------------------------------------------------------------------------
    def selection_values(self, node: int, kids: list[int]) -> np.ndarray:
        """Children's soft values shrunk toward a prior while they have few visits."""
        tree = self.tree
        n = tree.visits[kids]
        prior = tree.prior_value[kids] if self.value_prior is not None else tree.value[node]
        n0 = self.cfg.prior_visits
        weight = n0 / (n0 + n) if n0 > 0 else np.zeros(len(kids))
        return (1.0 - weight) * tree.value[kids] + weight * prior

    def _select_child(self, node: int, virtual: np.ndarray) -> int:
        tree, cfg = self.tree, self.cfg
        kids = tree.children[node]
        values = self.selection_values(node, kids)
        if cfg.greedy:
            n_parent = tree.visits[node] + virtual[node]
            n_kids = tree.visits[kids] + virtual[kids]
            bonus = cfg.uct_c * np.sqrt(np.log(n_parent + 1.0) / np.maximum(n_kids, 1))
            return kids[int(np.argmax(values + bonus))]
        logits = cfg.lam * values
        p = np.exp(logits - logits.max())
        return kids[int(self.rng.choice(len(kids), p=p / p.sum()))]

    def _plan(self, budget_left: int) -> tuple[list[list[int]], list[int]]:
        """Select up to ``batch`` traversals. Returns their paths and the nodes to expand
        (-1 when a traversal ended on an existing leaf)."""
        tree, cfg, chain = self.tree, self.cfg, self.chain
        virtual = np.zeros(tree.size, dtype=np.int64)
        pending = np.zeros(tree.size, dtype=np.int64)
        paths, expand = [], []
        for _ in range(cfg.batch):
            node, path = 0, [0]
            while True:
                if tree.is_leaf(node):
                    target = -1
                    break
                n_children = len(tree.children[node]) + pending[node]
                n_visits = tree.visits[node] + virtual[node]
                # A node whose only children are still pending in this batch has nothing
                # to select yet, so it gets another new child.
                no_real_child = not tree.children[node]
                if no_real_child or may_expand(n_children, n_visits, cfg.widen_c, cfg.widen_alpha):
                    target = node
                    break
                virtual[node] += 1
                node = self._select_child(node, virtual)
                path.append(node)
            if target >= 0:
                cost = int(chain.rollout_cost(max(tree.k[target], 0)))
                if cost > budget_left:
                    break  # this traversal cannot be paid for; stop planning
                budget_left -= cost
                pending[target] += 1
            virtual[node] += 1
            paths.append(path)
            expand.append(target)
        return paths, expand

    # -- expansion and rollout ------------------------------------------------------------------
    def _expand_and_roll_out(self, expand: list[int]) -> None:
        """Give each target one new child and roll it to level 0, adding every
        branching-level state. New nodes form single-child chains, so each takes its
        leaf's reward as soft value (log-mean-exp of one child) and one visit."""
        tree, chain, rng = self.tree, self.chain, self.rng
        parents = np.array([node for node in expand if node >= 0], dtype=np.int64)
        if parents.size == 0:
            return
        k = tree.k[parents]
        states = np.empty((len(parents), *chain.state_shape), dtype=tree.states.dtype)
        from_root = k < 0
        if from_root.any():  # children of the dummy root are fresh prior draws (no NFE)
            states[from_root] = chain.initial(int(from_root.sum()), rng)
        if (~from_root).any():
            states[~from_root], _ = chain.advance(
                tree.states[parents[~from_root]], k[~from_root], rng
            )
        k = k + 1
        nodes = tree.add(states, k, parents)
        created, owner = [nodes.copy()], [np.arange(len(parents))]
        while True:
            active = np.flatnonzero(k < chain.depth)
            if active.size == 0:
                break
            nxt, _ = chain.advance(tree.states[nodes[active]], k[active], rng)
            k[active] += 1
            nodes[active] = tree.add(nxt, k[active], nodes[active])
            created.append(nodes[active].copy())
            owner.append(active)
        leaf_reward = chain.reward(tree.states[nodes])
        created, owner = np.concatenate(created), np.concatenate(owner)
        tree.value[created] = leaf_reward[owner]
        tree.visits[created] = 1
        if self.value_prior is not None:
            tree.prior_value[created] = self.value_prior.initial_values(
                tree.states[created], tree.k[created]
            )

    # -- the loop -------------------------------------------------------------------------------
    def run(self, budget_nfe: int) -> None:
        check_budget(self.chain, budget_nfe)
        start = self.chain.nfe
        stalled = 0
        while True:
            left = budget_nfe - (self.chain.nfe - start)
            if left < int(self.chain.edge_cost(self.chain.depth - 1)):
                break
            paths, expand = self._plan(left)
            if not paths:
                break
            self._expand_and_roll_out(expand)
            self.tree.backup(paths, self.cfg.lam)
            self.iterations += 1
            # Traversals that only revisit leaves cost nothing but still widen the tree;
            # stop if the budget left cannot pay for any expansion the tree asks for.
            stalled = stalled + 1 if all(e < 0 for e in expand) else 0
            if stalled > 1000:
                break


def _tree_result(
    method: str, search: TreeSearch, num_samples: int, start_nfe: int, clock: Stopwatch
) -> SearchResult:
    tree, chain = search.tree, search.chain
    ids = tree.boltzmann_samples(num_samples, search.cfg.lam, search.rng)
    best = tree.argmax_leaf()
    stats = tree.stats() | {"iterations": search.iterations}
    return SearchResult(
        method,
        tree.states[ids].copy(),
        tree.value[ids].copy(),
        tree.states[best].copy(),
        float(tree.value[best]),
        chain.nfe - start_nfe,
        clock.elapsed(),
        stats,
    )


def dts(
    chain: Chain,
    budget_nfe: int,
    lam: float = 1.0,
    num_samples: int = 64,
    seed: int = 0,
    config: TreeSearchConfig | None = None,
    **_,
) -> SearchResult:
    """Diffusion Tree Sampling: samples from p(x) exp(lam r(x)) by Boltzmann descent."""
    cfg = config or TreeSearchConfig()
    cfg = TreeSearchConfig(**{**cfg.__dict__, "lam": lam, "greedy": False})
    clock, start = Stopwatch(), chain.nfe
    search = TreeSearch(chain, cfg, np.random.default_rng(seed))
    search.run(budget_nfe)
    return _tree_result("dts", search, num_samples, start, clock)


def dts_star(
    chain: Chain,
    budget_nfe: int,
    lam: float = 1.0,
    num_samples: int = 64,
    seed: int = 0,
    config: TreeSearchConfig | None = None,
    **_,
) -> SearchResult:
    """Diffusion Tree Search: UCT on soft values while searching, argmax descent for the pick."""
    cfg = config or TreeSearchConfig()
    cfg = TreeSearchConfig(**{**cfg.__dict__, "lam": lam, "greedy": True})
    clock, start = Stopwatch(), chain.nfe
    search = TreeSearch(chain, cfg, np.random.default_rng(seed))
    search.run(budget_nfe)
    return _tree_result("dts_star", search, num_samples, start, clock)
