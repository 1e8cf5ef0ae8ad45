"""Diffusion Tree Sampling (DTS) and Diffusion Tree Search (DTS*), batched.

Jain et al. 2025 (arXiv 2506.20701), as ARCHITECTURE.md §5 states it:

* selection: from the root, while a node is "full" (progressive widening:
  |C(n)| >= C * N(n)^alpha), move to a child drawn ∝ exp(lam * v(child)) (DTS) or
  the child with the best UCT score on soft values (DTS*);
* expansion: at the first node that is not full, draw one new child from p_theta
  (from the node's stored denoiser output when the chain can: its first step is then
  free, see ``TreeSearchConfig.reuse_x0``);
* rollout: continue that child to level 0, adding every branching-level state;
* backup: leaf value = r(x0); every internal node on the path gets
  v(n) = (1/lam) * (logsumexp(lam * v(C(n))) - log |C(n)|) and N(n) += 1.

Batching: each iteration selects ``batch`` traversals one after another, with
virtual visits and pending children so they spread out, then advances all their
rollouts together (one denoiser call per denoising step for the whole batch).

Output: DTS draws samples by Boltzmann descent (free); DTS* descends by argmax.
The learned value of S-ADT plugs in through ``value_prior`` (see sadt.value.samplers).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, replace

import numpy as np

from sadt.search.chain import Chain, SearchResult, Stopwatch, check_budget
from sadt.search.tree import Tree


@dataclass
class TreeSearchConfig:
    """Knobs of DTS / DTS*. Defaults follow the paper's ranges."""

    lam: float = 1.0  # inverse temperature of the target p(x) exp(lam r(x))
    widen_c: float = 2.0  # progressive widening: expand while |C(n)| < widen_c * N(n)^widen_alpha
    widen_alpha: float = 0.7
    batch: int = 0  # rollouts in flight, advanced together; 0: automatic (auto_batch)
    batch_share: float = 1.0  # automatic batch: this share of the samples the budget buys...
    batch_min: int = 8  # ...but at least this many (and at most 64)
    uct_c: float = 0.5  # DTS* exploration constant (rewards rescaled to [0, 1])
    greedy: bool = False  # False: DTS (Boltzmann selection); True: DTS* (UCT selection)
    # Selection (never the backup or the output) uses (N v + n0 prior) / (N + n0): a child
    # seen N times is trusted in proportion to N. The prior is the parent's soft value, or
    # the learned value F_phi under S-ADT. n0 = 0 is the paper's rule exp(lam v) alone.
    # Why: with n0 = 0 a child whose first rollout was unlucky is starved of visits and
    # keeps its low value, a pre-asymptotic bias measured on the exact toy chain
    # (W1 to the tilted target rose from 0.13 to 0.66 as the budget went 2k -> 100k NFE);
    # with n0 = 16 it fell to 0.06. The weight n0 / (n0 + N) -> 0, so exactness holds.
    prior_visits: float = 16.0
    # Widening grows (S / expansion cost)^bias times faster at cheap, low-noise nodes: the
    # search spends more of its budget on late branches (0 = the paper's uniform rule).
    widen_depth_bias: float = 0.0
    # A new child of a node the search has already stepped from reuses that step's denoiser
    # output (the chain's step_from_x0): the same law, one NFE less per expansion. Only where
    # the new rollout still needs a denoiser call, so every traversal costs at least one NFE.
    reuse_x0: bool = True
    # DTS* only: the tree's soft values (backups, UCT, argmax descent) use lam times this. A
    # search for the best forecast wants what the best of a subtree holds, not its tilted
    # average: at 100 x lam log-mean-exp is nearly a max. Its samples are still drawn at lam
    # (Tree.boltzmann_samples). DTS must keep 1: its values define its target.
    search_lam_scale: float = 1.0

    @property
    def value_lam(self) -> float:
        """The inverse temperature of the tree's soft values."""
        return self.lam * self.search_lam_scale

    def validate(self) -> None:
        if not (math.isfinite(self.lam) and self.lam > 0):
            raise ValueError(f"lam must be a positive number, got {self.lam}")
        if not (math.isfinite(self.search_lam_scale) and self.search_lam_scale >= 1):
            raise ValueError(f"search_lam_scale must be >= 1, got {self.search_lam_scale}")
        if self.search_lam_scale != 1 and not self.greedy:
            raise ValueError(
                "search_lam_scale is DTS*'s: DTS samples p(x) exp(lam r(x)) only with soft "
                "values at lam (search_lam_scale = 1)"
            )
        if self.widen_c <= 0 or not 0 < self.widen_alpha < 1:
            raise ValueError("widening needs widen_c > 0 and 0 < widen_alpha < 1")
        if self.prior_visits < 0:
            raise ValueError(f"prior_visits must be >= 0, got {self.prior_visits}")
        if self.batch < 0:
            raise ValueError(f"batch must be >= 0 (0: automatic), got {self.batch}")
        if not 0 < self.batch_share <= 1 or not 1 <= self.batch_min <= 64:
            raise ValueError("batch_share must be in (0, 1] and batch_min in 1..64")


# DTS* keeps a fifth of the samples in flight (4 at 400 NFE): a search must see its first
# results before it spends most of the budget, or it is Best-of-N. Its UCT reads the soft
# values as they are (the paper's rule): shrinking a child seen once toward its parent's
# value, which keeps DTS's samples honest early on, hid a search its best finds. Its values
# are backed up at 100 x lam, nearly the best leaf below a node: at lam the argmax descent
# followed a subtree's tilted average and picked 0.03-0.05 below the best leaf the search
# had seen, and UCT explored toward averages too. With sharp values a small exploration
# constant and slower widening win at every budget (all measured on 28 held-out ETTh1
# windows that are not B3's, README "Search: what the figures say").
DTS_STAR_DEFAULTS = {
    "widen_c": 0.5,
    "widen_alpha": 0.4,
    "widen_depth_bias": 1.0,
    "batch_share": 0.2,
    "batch_min": 4,
    "prior_visits": 0.0,
    "search_lam_scale": 100.0,
    "uct_c": 0.1,
}


def auto_batch(budget_nfe: int, chain: Chain, share: float = 1.0, minimum: int = 8) -> int:
    """In-flight rollouts for a budget: ``share`` of the samples it pays for, clipped to
    ``minimum``..64.

    Measured on ETTh1 (21 held-out windows, lam = 5): the batch changed DTS's sample reward
    and Spec-W1 by less than their seed noise at 1000-2000 NFE, while fewer, fuller denoiser
    calls cut wall time by a third (64 vs 16 in flight)."""
    return int(np.clip(int(share * (budget_nfe // chain.num_steps)), minimum, 64))


def may_expand(num_children: int, visits: int, c: float, alpha: float) -> bool:
    """Progressive widening: a node with no child always expands; otherwise while
    |C(n)| < c * N(n)^alpha. N counts finished traversals through n; children still in flight
    count in |C(n)|, so a batch of traversals does not pile new children onto one node."""
    return num_children == 0 or num_children < c * visits**alpha


class TreeSearch:
    """One DTS / DTS* run over a chain. Use :func:`dts` / :func:`dts_star` to call it.

    Continuous batching: up to ``batch`` rollouts are in flight at once and every launch
    advances all of them one branching edge. When a rollout reaches level 0 its leaf is
    scored, its path backed up and its slot given a new traversal, which joins the launch
    after next (the next one is already computing), so calls stay full instead of waiting
    for the slowest rollout of a wave. In-flight traversals leave virtual visits on their
    path and a pending child at their target, and their new nodes stay unlinked (invisible
    to selection) until their leaf has a value. The next call is launched before the tree
    books the last one (see :meth:`run`).
    """

    def __init__(
        self, chain: Chain, config: TreeSearchConfig, rng: np.random.Generator, value_prior=None
    ) -> None:
        config.validate()
        self.chain, self.cfg, self.rng = chain, config, rng
        self.tree = Tree(chain.state_shape, leaf_index=chain.depth, dtype=chain.state_dtype)
        self.value_prior = value_prior  # S-ADT: supplies prior values of new nodes
        self.traversals = 0
        self.launches = 0  # edge advances launched (each one denoiser call per step)
        self.steps_from_x0 = 0  # steps drawn from a node's known x0_hat, no NFE
        self.reward_low, self.reward_high = np.inf, -np.inf  # range of leaf rewards seen
        self.selection_cdf: dict[int, tuple] = {}  # DTS: node -> (children, CDF), until a backup
        # Per branching index, as Python ints for the refill loop: NFE of a rollout from it,
        # whether an expansion there reuses its target's denoiser output, and what an
        # expansion costs (one NFE less when it does), the root's (-1: a fresh sample) first.
        rollout_nfe = chain.rollout_cost(np.arange(chain.depth)).tolist()
        reuse = config.reuse_x0 and chain.steps_from_x0
        self.reuses_x0 = [reuse and nfe >= 2 for nfe in rollout_nfe]
        self.expansion_nfe = [rollout_nfe[0]] + [
            nfe - reused for nfe, reused in zip(rollout_nfe, self.reuses_x0, strict=True)
        ]
        self.cheapest_expansion = min(self.expansion_nfe)
        # Widening scale per branching index (-1 = root): (S / cost of an expansion)^bias.
        # bias > 0 lets cheap low-noise nodes branch more than costly high-noise ones.
        cost = np.maximum(np.array(self.expansion_nfe, dtype=float), 1.0)
        self.widen_scale = (chain.num_steps / cost) ** config.widen_depth_bias

    # -- selection ------------------------------------------------------------------------------
    def selection_values(self, node: int, kids) -> np.ndarray:
        """Children's soft values shrunk toward a prior while they have few visits."""
        tree = self.tree
        n = tree.visits[kids]
        prior = tree.prior_value[kids] if self.value_prior is not None else tree.value[node]
        n0 = self.cfg.prior_visits
        weight = n0 / (n0 + n) if n0 > 0 else np.zeros(len(kids))
        return (1.0 - weight) * tree.value[kids] + weight * prior

    def _select_child(self, node: int) -> int:
        tree, cfg = self.tree, self.cfg
        if cfg.greedy:
            kids = np.array(tree.children[node])  # one conversion for the lookups below
            values = self.selection_values(node, kids)
            # UCT on soft values rescaled to [0, 1] by the range of leaf rewards seen so far
            # (as MuZero does), so uct_c means the same whatever the reward's units.
            # In-flight traversals count as visits that scored the lowest reward seen
            # ("virtual loss"), so a batch of traversals spreads over the tree.
            span = max(self.reward_high - self.reward_low, 1e-12)
            n_kids = tree.visits[kids] + tree.virtual[kids]
            scaled = (values - self.reward_low) / span * tree.visits[kids] / np.maximum(n_kids, 1)
            n_parent = tree.visits[node] + tree.virtual[node]
            bonus = cfg.uct_c * np.sqrt(np.log(n_parent + 1.0) / np.maximum(n_kids, 1))
            return int(kids[int(np.argmax(scaled + bonus))])
        # Between backups DTS's selection law at a node does not change (it reads no virtual
        # visits), so a refill's traversals share one CDF per node.
        cached = self.selection_cdf.get(node)
        if cached is None or len(cached[0]) != len(tree.children[node]):
            kids = np.array(tree.children[node])  # one conversion for the lookups below
            logits = cfg.lam * self.selection_values(node, kids)
            cumulative = np.cumsum(np.exp(logits - logits.max()))
            cached = self.selection_cdf[node] = (kids.tolist(), cumulative.tolist())
        kids, cumulative = cached
        # Inverse-CDF draw: the same law as rng.choice(p=...), at a fraction of its overhead
        # (bisect on Python lists: np.searchsorted costs ~15 us a call at these sizes).
        pick = bisect.bisect_right(cumulative, self.rng.random() * cumulative[-1])
        return kids[min(pick, len(kids) - 1)]

    def _traverse(self) -> list[int]:
        """Walk from the root to the first node that may get a new child (or to a leaf).
        Returns the path; its last node is the expansion target (or the leaf reached)."""
        tree, cfg = self.tree, self.cfg
        node, path = 0, [0]
        while not tree.is_leaf(node):
            # A node whose only children are still in flight has nothing to select yet.
            if not tree.children[node] or may_expand(
                len(tree.children[node]) + tree.pending[node],
                tree.visits[node],
                cfg.widen_c * self.widen_scale[tree.k[node] + 1],
                cfg.widen_alpha,
            ):
                break
            tree.virtual[node] += 1
            node = self._select_child(node)
            path.append(node)
        return path

    # -- the loop -------------------------------------------------------------------------------
    def run(self, budget_nfe: int) -> None:
        """Search until the budget cannot pay for another rollout; never exceeds it.

        Each iteration first launches the next denoiser call: the rollouts of the call in
        flight that go on (fed its outputs as they are computed, without waiting) and the
        new traversals waiting in their slots. Only then does it wait for the call in
        flight, store its states, score and back up the finished rollouts and select new
        traversals for the free slots. On a lazy chain (the forecaster in MLX) the next
        call is computed meanwhile, so the tree's bookkeeping costs little wall time.
        """
        check_budget(self.chain, budget_nfe)
        chain, tree, cfg = self.chain, self.tree, self.cfg
        if cfg.batch == 0:  # few in flight at small budgets, so later rollouts are informed
            cfg = replace(cfg, batch=auto_batch(budget_nfe, chain, cfg.batch_share, cfg.batch_min))
            self.cfg = cfg
        tree._grow(tree.size + budget_nfe + 2)  # about one node per NFE: allocate once
        self.budget_end = chain.nfe + budget_nfe
        self.leaf_hits = 0  # free revisits in a row, over refills (see _refill)
        # One slot per rollout: the last node of it in the tree, the branching index it will
        # be at once its launched calls return, whether it is in a call, and the path it was
        # selected along (ending at its expansion target). The nodes a rollout creates are
        # the chain from its current node up to the target, so they need no list of their own.
        self.slot_node = np.full(cfg.batch, -1, dtype=np.int64)
        self.slot_k = np.full(cfg.batch, chain.depth, dtype=np.int64)
        self.slot_path: list[list[int]] = [[] for _ in range(cfg.batch)]
        self.flying = np.zeros(cfg.batch, dtype=bool)
        # A slot whose first step was drawn from its target's x0_hat waits one step into its
        # edge (entered), with its state here rather than in the tree.
        self.entered = np.zeros(cfg.batch, dtype=bool)
        self.entry_state = np.zeros((cfg.batch, *chain.state_shape), dtype=chain.state_dtype)
        in_flight = None  # (PendingAdvance, its slots, which of them entered their edge)
        while True:
            launched = self._launch_next(in_flight)
            if in_flight is not None:
                self._book(*in_flight)
            in_flight = launched
            self._refill()  # new traversals join the next call
            if in_flight is None and not np.any(self.slot_node >= 0):
                break

    def _launch_next(self, in_flight):
        """Launch one call for the rollouts of ``in_flight`` that go on (on its outputs, not
        waiting for them) and the new traversals waiting in their slots; None if there are
        none. Returns (PendingAdvance, its slots, which of them entered their edge)."""
        chain, tree = self.chain, self.tree
        inputs, slots = [], []
        if in_flight is not None:
            pending, flown, _ = in_flight
            going = np.flatnonzero(self.slot_k[flown] < chain.depth)
            if going.size:
                lazy = pending.lazy_states()
                inputs.append(lazy if going.size == len(flown) else chain.take(lazy, going))
                slots.append(flown[going])
        waiting = np.flatnonzero((self.slot_node >= 0) & ~self.flying)
        if waiting.size:
            states = tree.states[self.slot_node[waiting]]
            entered = self.entered[waiting]
            if entered.any():
                states[entered] = self.entry_state[waiting[entered]]
            inputs.append(states)
            slots.append(waiting)
        if not slots:
            return None
        slots = np.concatenate(slots)
        entered = self.entered[slots]
        states = inputs[0] if len(inputs) == 1 else chain.join(inputs)
        pending = chain.launch(states, self.slot_k[slots], self.rng, entered)
        self.slot_k[slots] += 1
        self.flying[waiting] = True
        self.entered[waiting] = False
        self.launches += 1
        return pending, slots, entered

    def _book(self, pending, slots, entered) -> None:
        """Wait for a call, add its states to the tree and finish the rollouts it ended."""
        tree = self.tree
        parents = self.slot_node[slots]
        states, x0_hat = pending.result()
        # An entered row's estimate is of its state one step into the edge, not of its parent
        # (whose own x0_hat the tree already holds: it was reused).
        tree.x0_hat[parents[~entered]] = x0_hat[~entered]
        new = tree.add(states, tree.k[parents] + 1, parents, link=False)
        self.slot_node[slots] = new
        done = slots[tree.k[new] == self.chain.depth]
        if done.size:
            self._finish(done)
            self.slot_node[done] = -1
            self.flying[done] = False

    def _refill(self) -> None:
        """Give free slots new traversals while the budget left, after what launched and
        waiting rollouts will still spend, pays for the chosen expansion."""
        chain, tree, cfg = self.chain, self.tree, self.cfg
        slot_node, slot_k = self.slot_node, self.slot_k
        busy = slot_node >= 0
        left = self.budget_end - chain.nfe - int(chain.rollout_cost(slot_k[busy]).sum())
        left += int(np.count_nonzero(self.entered))  # their first step is drawn already
        cheapest = self.cheapest_expansion
        from_prior: list[int] = []  # slots whose target is the dummy root
        from_x0: list[int] = []  # slots whose target's denoiser output is reused
        free = np.flatnonzero(~busy).tolist()
        while free:
            if left < cheapest or self.leaf_hits > 50 * cfg.batch or chain.stop_requested:
                break
            path = self._traverse()
            target = path[-1]
            if tree.is_leaf(target):  # nothing to expand: free revisits
                self._release(path)
                # As many visits at once as the path's nearest-to-widen node needs: one at a
                # time, a saturated tree took ~|C|^(1/alpha) traversals per new child, so
                # wall time grew much faster than the budget (DTS* 10000 NFE: 11 s, 5000: 0.8).
                tree.backup([path], cfg.value_lam, times=self._visits_to_widen(path))
                self.selection_cdf.clear()
                self.leaf_hits += 1
                continue
            k_target = int(tree.k[target])  # -1: the dummy root
            cost = self.expansion_nfe[k_target + 1]
            if cost > left:
                self._release(path)
                break
            left -= cost
            self.leaf_hits = 0  # only an unbroken run of free revisits means the tree is stuck
            slot = free.pop()
            tree.virtual[target] += 1
            tree.pending[target] += 1
            self.slot_path[slot] = path
            slot_k[slot] = max(k_target, 0)
            if target == 0:  # a child of the dummy root: a prior draw, no NFE
                from_prior.append(slot)
            else:
                slot_node[slot] = target
                if self.reuses_x0[k_target]:
                    from_x0.append(slot)
            self.traversals += 1
        if from_prior:  # draw all new x_T at once
            n = len(from_prior)
            zeros = np.zeros(n, dtype=np.int64)
            slot_node[from_prior] = tree.add(chain.initial(n, self.rng), zeros, zeros, link=False)
        if from_x0:
            self._step_from_x0(np.array(from_x0))

    def _visits_to_widen(self, path: list[int]) -> int:
        """The fewest visits after which some node on ``path`` (root to a leaf, none of
        them allowed a new child now) may expand under progressive widening; at least 1."""
        tree, cfg = self.tree, self.cfg
        need = None
        for node in path[:-1]:
            scale = cfg.widen_c * self.widen_scale[tree.k[node] + 1]
            kids = len(tree.children[node]) + tree.pending[node]
            # may_expand once kids < scale * N^alpha, i.e. N > (kids / scale)^(1 / alpha)
            enough = math.floor((kids / scale) ** (1.0 / cfg.widen_alpha)) + 1
            more = enough - int(tree.visits[node])
            need = more if need is None else min(need, more)
        return max(1, need or 1)

    def _release(self, path: list[int]) -> None:
        """Take back the virtual visits a traversal left on its way down (not its target)."""
        for node in path[:-1]:
            self.tree.virtual[node] -= 1

    def _step_from_x0(self, slots: np.ndarray) -> None:
        """Draw the first step of these slots' rollouts from their targets' known x0_hat. A
        one-step edge then ends at a new (unlinked) node; a longer one waits, entered."""
        chain, tree = self.chain, self.tree
        targets, k = self.slot_node[slots], self.slot_k[slots]
        states = chain.step_from_x0(
            tree.states[targets], tree.x0_hat[targets], chain.levels[k], self.rng
        )
        self.steps_from_x0 += len(slots)
        whole = chain.edge_cost(k) == 1
        if whole.any():
            self.slot_node[slots[whole]] = tree.add(
                states[whole], k[whole] + 1, targets[whole], link=False
            )
            self.slot_k[slots[whole]] += 1
        self.entered[slots[~whole]] = True
        self.entry_state[slots[~whole]] = states[~whole]

    def _finish(self, done) -> None:
        """Score finished rollouts, give their chains the leaf's value, link them under their
        targets, release virtual visits and back the values up the selection paths."""
        tree = self.tree
        leaves = self.slot_node[done]
        rewards = self.chain.reward(tree.states[leaves])
        tree.x0_hat[leaves] = tree.states[leaves]
        self.reward_low = min(self.reward_low, float(rewards.min()))
        self.reward_high = max(self.reward_high, float(rewards.max()))
        paths = [self.slot_path[slot] for slot in done.tolist()]
        targets = np.array([path[-1] for path in paths], dtype=np.int64)
        # Walk every rollout's chain from its leaf up to (not including) its target. The
        # chains have a single child each, and log-mean-exp of one child is the leaf's value.
        made, node, reward = [], leaves, rewards
        while node.size:
            made.append(node)
            tree.value[node] = reward
            parent = tree.parent[node]
            below = parent != targets
            node, reward, targets = parent[below], reward[below], targets[below]
        made = np.sort(np.concatenate(made))  # creation order: parents before children
        if self.value_prior is not None:  # every new node now has its denoised estimate
            tree.prior_value[made] = self.value_prior.initial_values(
                tree.states[made], tree.k[made], tree.x0_hat[made]
            )
        tree.visits[made] = 1
        tree.link(made)  # each head goes under its target
        np.subtract.at(tree.pending, [path[-1] for path in paths], 1)
        np.subtract.at(tree.virtual, np.fromiter((n for p in paths for n in p), dtype=np.int64), 1)
        tree.backup(paths, self.cfg.value_lam)
        self.selection_cdf.clear()


def run_tree_search(
    method: str,
    chain: Chain,
    budget_nfe: int,
    config: TreeSearchConfig,
    seed: int,
    num_samples: int,
    value_prior=None,
) -> SearchResult:
    """Run one search and package its output: ``num_samples`` Boltzmann-descent samples and
    the argmax-descent path as the chosen one."""
    clock, start, calls_before = Stopwatch(), chain.nfe, len(chain.call_rows)
    search = TreeSearch(chain, config, np.random.default_rng(seed), value_prior=value_prior)
    search.run(budget_nfe)
    tree = search.tree
    # Samples descend at the target's lam, also from a DTS* tree backed up sharper.
    ids = tree.boltzmann_samples(num_samples, config.lam, search.rng)
    best = tree.argmax_leaf()
    stats = tree.stats() | {
        "traversals": search.traversals,
        "in_flight": search.cfg.batch,  # rollouts advanced together (traversals <= it: no tree)
        # Waves of rollouts: a tree forms only when later rollouts start from what earlier
        # ones backed up, i.e. with more than one wave.
        "waves": search.traversals / max(min(search.cfg.batch, search.traversals), 1),
        "tree_formed": search.traversals > search.cfg.batch,
        "effective_samples": tree.effective_samples(config.lam),
        "launches": search.launches,
        "steps_from_x0": search.steps_from_x0,
        "denoiser_calls": len(chain.call_rows) - calls_before,
    }
    return SearchResult(
        method,
        tree.states[ids].copy(),
        tree.value[ids].copy(),
        tree.states[best].copy(),
        float(tree.value[best]),
        chain.nfe - start,
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
) -> SearchResult:
    """Diffusion Tree Sampling: samples from p(x) exp(lam r(x)) by Boltzmann descent."""
    cfg = replace(config or TreeSearchConfig(), lam=lam, greedy=False)
    return run_tree_search("dts", chain, budget_nfe, cfg, seed, num_samples)


def dts_star(
    chain: Chain,
    budget_nfe: int,
    lam: float = 1.0,
    num_samples: int = 64,
    seed: int = 0,
    config: TreeSearchConfig | None = None,
) -> SearchResult:
    """Diffusion Tree Search: UCT on soft values while searching, argmax descent for the pick.

    Its default widening is narrow at the costly high-noise levels and wide at the cheap
    low-noise ones, with a fifth of the samples in flight, and its soft values are backed up
    at 100 x lam, nearly a max (``DTS_STAR_DEFAULTS``): on ETTh1 with the spectral reward,
    late branches of the best paths are where a search finds better forecasts per NFE. Its
    samples are Boltzmann draws at lam. For forecasts, give it a chain on ``late_branching``
    levels (the pipeline does). ``stats["best_leaf_reward"]`` is the best sample it saw.
    """
    cfg = replace(config or TreeSearchConfig(**DTS_STAR_DEFAULTS), lam=lam, greedy=True)
    return run_tree_search("dts_star", chain, budget_nfe, cfg, seed, num_samples)
