"""The search tree in flat arrays: node states, branching index, parent, soft value, visits.

Node 0 is a dummy root above the prior (branching index -1): its children are
i.i.d. draws of x_T, so the search never fixes the initial noise. A node's
children are always i.i.d. draws from p_theta(. | node), which is why soft values
back up by log-MEAN-exp and selection weights are exp(lam * v) alone.

Nodes are appended, so a parent's id is always smaller than its children's ids.
"""

from __future__ import annotations

import math

import numpy as np

from sadt.search.chain import systematic_resample


class Tree:
    """Growable flat-array tree. ``k`` is the branching index (-1 root ... depth = leaves)."""

    def __init__(
        self, state_shape: tuple[int, ...], leaf_index: int, dtype=np.float64, capacity: int = 256
    ) -> None:
        self.leaf_index = leaf_index
        self.states = np.zeros((capacity, *state_shape), dtype=dtype)
        # Denoised (Tweedie) estimate of each node's state, from the call that advanced it;
        # a leaf's is its own state. What the value network reads besides the state.
        self.x0_hat = np.zeros((capacity, *state_shape), dtype=dtype)
        self.k = np.full(capacity, -1, dtype=np.int64)
        self.parent = np.full(capacity, -1, dtype=np.int64)
        self.value = np.zeros(capacity, dtype=np.float64)
        self.prior_value = np.zeros(capacity, dtype=np.float64)  # learned init (S-ADT), else 0
        self.visits = np.zeros(capacity, dtype=np.int64)
        self.virtual = np.zeros(capacity, dtype=np.int64)  # in-flight traversals through a node
        self.pending = np.zeros(capacity, dtype=np.int64)  # in-flight new children of a node
        # One (initially empty) list per allocated node, so appending nodes touches no lists.
        self.children: list[list[int]] = [[] for _ in range(capacity)]
        self.size = 1  # the dummy root

    def _grow(self, needed: int) -> None:
        cap = len(self.k)
        if needed <= cap:
            return
        new = max(needed, 2 * cap)
        for name, fill in (
            ("states", 0),
            ("x0_hat", 0),
            ("k", -1),
            ("parent", -1),
            ("value", 0.0),
            ("prior_value", 0.0),
            ("virtual", 0),
            ("pending", 0),
            ("visits", 0),
        ):
            old = getattr(self, name)
            shape = (new, *old.shape[1:])
            arr = np.zeros(shape, old.dtype) if fill == 0 else np.full(shape, fill, old.dtype)
            arr[:cap] = old
            setattr(self, name, arr)
        self.children.extend([] for _ in range(new - cap))

    def add(self, states: np.ndarray, k: np.ndarray, parents: np.ndarray, link: bool = True):
        """Append nodes (one per row) under ``parents``; returns their ids. With
        ``link=False`` the parent does not list them yet (see :meth:`link`)."""
        n = len(states)
        self._grow(self.size + n)
        ids = np.arange(self.size, self.size + n)
        self.states[ids] = states
        self.k[ids] = k
        self.parent[ids] = parents
        self.size += n
        if link:
            self.link(ids)
        return ids

    def link(self, nodes: np.ndarray) -> None:
        """Make ``nodes`` visible as children of their parents, in the order given (a parent
        listed in ``nodes`` before its child keeps creation order)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        for node, parent in zip(nodes.tolist(), self.parent[nodes].tolist(), strict=True):
            self.children[parent].append(node)

    def is_leaf(self, node: int) -> bool:
        return self.k[node] == self.leaf_index

    # -- soft values ---------------------------------------------------------------------------
    def soft_value(self, node: int, lam: float) -> float:
        """log-MEAN-exp of the children's values: (1/lam)(logsumexp(lam v) - log |C|)."""
        kids = self.children[node]
        if len(kids) == 1:  # the mean of one: most nodes below a branching point
            return float(self.value[kids[0]])
        vals = self.value[kids]
        peak = vals.max()
        return float(peak + math.log(np.mean(np.exp(lam * (vals - peak)))) / lam)

    def backup(self, paths: list[list[int]], lam: float, times: int = 1) -> None:
        """Add ``times`` visits along every selection path (root to the expanded node or the
        leaf reached) and recompute the soft values on them, deepest first, so children are
        updated before parents. Newly created nodes were valued when their leaf was scored."""
        on_paths = np.fromiter((node for path in paths for node in path), dtype=np.int64)
        np.add.at(self.visits, on_paths, times)
        touched = np.unique(on_paths)
        touched = touched[self.k[touched] != self.leaf_index]
        for node in touched[np.argsort(-self.k[touched], kind="stable")].tolist():
            self.value[node] = self.soft_value(node, lam)

    # -- output --------------------------------------------------------------------------------
    def leaves(self) -> np.ndarray:
        return np.flatnonzero(self.k[: self.size] == self.leaf_index)

    def descent_log_probs(self, lam: float) -> np.ndarray:
        """log P(reach each node) when descending from the root with P(c | n) ∝ exp(lam v(c)).

        With log-mean-exp values, P(c | n) = exp(lam v(c) - lam v(n)) / |C(n)|, so this
        telescopes: log P(leaf) = lam (r(leaf) - v(root)) - sum over ancestors of log |C|.
        Computed in one vectorized pass per depth; parents precede children in id order.
        Internal nodes' figures hold for values backed up at this ``lam``; leaves' hold for
        any backup up to one shared constant (see :meth:`boltzmann_samples`).
        """
        n = self.size
        num_children = np.fromiter(map(len, self.children[:n]), dtype=np.float64, count=n)
        logp = np.full(n, -np.inf)
        logp[0] = 0.0
        by_depth = np.argsort(self.k[:n], kind="stable")  # one sort, then a slice per depth
        bounds = np.searchsorted(self.k[by_depth], np.arange(self.leaf_index + 2))
        for depth in range(self.leaf_index + 1):
            nodes = by_depth[bounds[depth] : bounds[depth + 1]]
            par = self.parent[nodes]
            logp[nodes] = (
                logp[par] + lam * (self.value[nodes] - self.value[par]) - np.log(num_children[par])
            )
        return logp

    def boltzmann_samples(self, count: int, lam: float, rng: np.random.Generator) -> np.ndarray:
        """Leaf ids drawn by Boltzmann descent (DTS output); costs no NFE.

        The ``count`` draws are systematic, in random order: each has the descent law, and a
        leaf appears about count * P(leaf) times. I.i.d. draws duplicate some leaves beyond
        their law and drop others, which widens a forecast ensemble for nothing.

        A leaf's law, exp(lam r(leaf)) / prod of |C| over its ancestors up to one constant,
        reads no internal value: a tree backed up at a sharper lam (DTS*) draws at ``lam``
        all the same, its log-probabilities shifted by one constant the resampler removes."""
        leaves = self.leaves()
        logp = self.descent_log_probs(lam)[leaves]
        picks = systematic_resample(np.exp(logp - logp.max()), rng, count)
        return leaves[rng.permutation(picks)]

    def effective_samples(self, lam: float) -> float:
        """The output law's effective sample size over the leaves, 1 / sum P(leaf)^2: the
        number of equally likely paths it is worth (1: every draw is the same path)."""
        logp = self.descent_log_probs(lam)[self.leaves()]
        p = np.exp(logp - logp.max())
        p /= p.sum()
        return float(1.0 / np.sum(p**2))

    def argmax_leaf(self) -> int:
        """Descend by argmax soft value (DTS* output)."""
        node = 0
        while not self.is_leaf(node):
            kids = self.children[node]
            node = kids[int(np.argmax(self.value[kids]))]
        return node

    def stats(self) -> dict:
        n = self.size
        num_children = np.fromiter(map(len, self.children[1:n]), dtype=np.int64, count=n - 1)
        internal = num_children[num_children > 0]
        leaves = self.leaves()
        return {
            "tree_size": n - 1,
            "leaves": int(len(leaves)),
            "root_children": len(self.children[0]),
            "depth": self.leaf_index + 1,
            "mean_branching": float(internal.mean()) if internal.size else 0.0,
            "root_value": float(self.value[0]),
            "best_leaf_reward": float(self.value[leaves].max()) if n > 1 else None,
            "root_visits": int(self.visits[0]),
        }
