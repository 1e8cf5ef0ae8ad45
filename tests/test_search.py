"""The samplers, pinned down: DTS's backup, widening, selection and output rules, NFE
accounting and budgets for every sampler, seeding, and exactness on the toy chain."""

import math
from dataclasses import replace

import numpy as np
import pytest

from sadt.search import SAMPLERS, BudgetError, TreeSearchConfig, dts, smc
from sadt.search.chain import Chain, systematic_resample
from sadt.search.dts import DTS_STAR_DEFAULTS, TreeSearch, auto_batch, may_expand
from sadt.search.toy import bimodal_1d, ring_2d, sliced_w1_to_grid, target_grid
from sadt.search.tree import Tree


class CountingChain(Chain):
    """A cheap chain that counts denoiser rows itself, independent of Chain.nfe."""

    def __init__(self, levels=(6, 4, 3, 1, 0)):
        super().__init__(levels)
        self.state_shape = (3,)
        self.rows_denoised = 0

    def initial(self, n, rng):
        return rng.standard_normal((n, 3))

    def denoise_step(self, states, steps, rng):
        self.rows_denoised += len(states)
        nxt = 0.9 * states + 0.1 * rng.standard_normal(states.shape)
        return nxt, 0.9 * states

    def reward(self, final_states):
        return -np.abs(final_states).sum(axis=1)


def _tree_with_values(child_values, lam=1.0):
    """Root -> one x_T node -> leaves with the given values."""
    tree = Tree((1,), leaf_index=1)
    top = tree.add(np.zeros((1, 1)), np.array([0]), np.array([0]))[0]
    leaves = tree.add(
        np.zeros((len(child_values), 1)),
        np.ones(len(child_values), int),
        np.full(len(child_values), top),
    )
    tree.value[leaves] = child_values
    tree.backup([[0, top]], lam)
    return tree, top, leaves


# -- the backup rule ------------------------------------------------------------------------------
@pytest.mark.parametrize("lam", [0.5, 1.0, 4.0])
def test_backup_is_log_mean_exp_not_log_sum_exp(lam):
    tree, top, _ = _tree_with_values([1.3, 1.3], lam)
    assert tree.value[top] == pytest.approx(1.3)  # log-sum-exp would give 1.3 + log(2) / lam


def test_backup_matches_log_mean_exp_formula():
    values = np.array([0.2, -1.0, 3.0])
    tree, top, _ = _tree_with_values(values, lam=2.0)
    expected = (np.log(np.mean(np.exp(2.0 * values)))) / 2.0
    assert tree.value[top] == pytest.approx(expected)


# -- progressive widening -------------------------------------------------------------------------
def test_may_expand_follows_c_n_alpha():
    assert may_expand(0, 0, 2.0, 0.7)  # no child yet: always expand
    assert may_expand(2, 2, 2.0, 0.7)  # 2 < 2 * 2^0.7 = 3.25
    assert not may_expand(4, 2, 2.0, 0.7)
    assert not may_expand(1, 1, 1.0, 0.5)  # 1 < 1 is false
    assert may_expand(1, 2, 1.0, 0.5)  # 1 < 1.414


def test_widening_adds_children_exactly_at_the_right_visit_counts():
    """With one traversal per iteration, every expansion happens when |C| < c N^a held,
    and every pass-through happens when it did not."""
    cfg = TreeSearchConfig(widen_c=1.0, widen_alpha=0.5, batch=1, prior_visits=0.0)
    events = []

    class Recorder(TreeSearch):
        def _select_child(self, node):
            events.append(("select", len(self.tree.children[node]), self.tree.visits[node]))
            return super()._select_child(node)

        def _traverse(self):
            path = super()._traverse()
            target = path[-1]
            if not self.tree.is_leaf(target):
                children, visits = len(self.tree.children[target]), self.tree.visits[target]
                events.append(("expand", children, visits))
            return path

    search = Recorder(CountingChain(), cfg, np.random.default_rng(0))
    search.run(600)
    assert sum(e[0] == "expand" for e in events) > 50
    assert sum(e[0] == "select" for e in events) > 50
    for kind, n_children, visits in events:
        rule = n_children == 0 or n_children < 1.0 * visits**0.5
        assert rule == (kind == "expand"), (kind, n_children, visits)


def test_a_saturated_tree_revisits_in_one_jump_so_cost_stays_linear():
    """When a traversal reaches a leaf, the visits its path needs before some node may widen
    are added at once: the walks from the root stay about one per new rollout, however
    large the budget (one visit at a time, they grew like |C|^(1/alpha))."""
    walks = []

    class Counting(TreeSearch):
        def _traverse(self):
            walks.append(1)
            return super()._traverse()

    def walks_per_rollout(budget):
        walks.clear()
        cfg = replace(TreeSearchConfig(**DTS_STAR_DEFAULTS), greedy=True, batch=4)
        search = Counting(CountingChain(levels=(3, 2, 1, 0)), cfg, np.random.default_rng(0))
        search.run(budget)
        return len(walks) / search.traversals, search

    small, _ = walks_per_rollout(300)
    large, search = walks_per_rollout(6000)
    assert large < 3 and large < 2 * small, (small, large)
    # and the jump is the exact count: one visit fewer would not let the node widen
    path = search._traverse()
    search._release(path)
    if search.tree.is_leaf(path[-1]):
        need = search._visits_to_widen(path)
        tree, cfg = search.tree, search.cfg
        opened = [
            may_expand(
                len(tree.children[n]) + tree.pending[n],
                tree.visits[n] + need,
                cfg.widen_c * search.widen_scale[tree.k[n] + 1],
                cfg.widen_alpha,
            )
            for n in path[:-1]
        ]
        assert any(opened)
        if need > 1:
            assert not any(
                may_expand(
                    len(tree.children[n]) + tree.pending[n],
                    tree.visits[n] + need - 1,
                    cfg.widen_c * search.widen_scale[tree.k[n] + 1],
                    cfg.widen_alpha,
                )
                for n in path[:-1]
            )


# -- selection and output -------------------------------------------------------------------------
def test_boltzmann_selection_probabilities_are_softmax_of_soft_values():
    tree, top, leaves = _tree_with_values([0.0, 1.0, 2.0], lam=1.5)
    search = TreeSearch(
        CountingChain((1, 0)), TreeSearchConfig(lam=1.5, prior_visits=0.0), np.random.default_rng(0)
    )
    search.tree = tree
    picks = [search._select_child(top) for _ in range(20000)]
    freq = np.array([picks.count(leaf) for leaf in leaves]) / len(picks)
    expected = np.exp(1.5 * np.array([0.0, 1.0, 2.0]))
    np.testing.assert_allclose(freq, expected / expected.sum(), atol=0.015)


def test_selection_prior_weight_decays_to_zero_with_visits():
    tree, top, leaves = _tree_with_values([0.0, 2.0], lam=1.0)
    search = TreeSearch(
        CountingChain((1, 0)), TreeSearchConfig(prior_visits=16.0), np.random.default_rng(0)
    )
    search.tree = tree
    shrunk = search.selection_values(top, list(leaves))
    assert shrunk[1] - shrunk[0] < 2.0  # few visits: pulled toward the parent's value
    tree.visits[leaves] = 10**9
    np.testing.assert_allclose(search.selection_values(top, list(leaves)), [0.0, 2.0], atol=1e-6)


def test_dts_star_uct_reads_soft_values_unshrunk():
    """A search must see its best find at once: DTS*'s UCT uses a child's soft value as it
    is, not pulled toward the parent's as DTS's sampling does while visits are few."""
    tree, top, leaves = _tree_with_values([0.0, 2.0], lam=1.0)
    tree.visits[leaves] = 1
    search = TreeSearch(
        CountingChain((1, 0)),
        replace(TreeSearchConfig(**DTS_STAR_DEFAULTS), greedy=True),
        np.random.default_rng(0),
    )
    search.tree = tree
    np.testing.assert_allclose(search.selection_values(top, list(leaves)), [0.0, 2.0])
    search.reward_low, search.reward_high = 0.0, 2.0
    assert search._select_child(top) == leaves[1]  # equal visits: the better value wins


def test_dts_star_picks_the_argmax_descent():
    tree, top, leaves = _tree_with_values([0.5, 3.0, 1.0])
    assert tree.argmax_leaf() == leaves[1]


def test_dts_star_searches_on_sharp_values_and_samples_at_lam():
    """DTS* backs up at lam * search_lam_scale, nearly the best leaf below a node, yet its
    Boltzmann draws follow exp(lam r(leaf)) / prod |C(ancestor)|, the law at lam itself."""
    cfg = replace(TreeSearchConfig(**DTS_STAR_DEFAULTS), greedy=True, lam=2.0)
    assert cfg.value_lam == 2.0 * DTS_STAR_DEFAULTS["search_lam_scale"] > 2.0
    search = TreeSearch(bimodal_1d(), cfg, np.random.default_rng(0))
    search.run(900)
    tree = search.tree
    leaves = tree.leaves()
    best = tree.value[leaves].max()
    assert best - 0.05 < tree.value[0] <= best
    assert tree.value[0] > _soft_root(tree, 2.0) + 0.1  # at lam = 2 log-mean-exp sits far below
    log_law = np.zeros(len(leaves))
    for j, leaf in enumerate(leaves.tolist()):
        node = leaf
        while node != 0:
            node = int(tree.parent[node])
            log_law[j] -= math.log(len(tree.children[node]))
    law = np.exp(2.0 * tree.value[leaves] + log_law)
    ids = tree.boltzmann_samples(1000, 2.0, np.random.default_rng(1))
    counts = np.array([np.sum(ids == leaf) for leaf in leaves])
    assert np.all(np.abs(counts - 1000 * law / law.sum()) < 1.0 + 1e-9)
    # ...and dts_star hands them lam, not the sharp one: draws at 100 x lam pile onto the
    # best leaves (28 distinct over these seeds instead of 90)
    results = [SAMPLERS["dts_star"](bimodal_1d(), 900, lam=2.0, seed=seed) for seed in range(5)]
    assert sum(len(np.unique(r.samples, axis=0)) for r in results) >= 60


def _soft_root(tree, lam):
    """The root's soft value had the tree been backed up at ``lam``, from the leaves up."""

    def value(node):
        kids = tree.children[node]
        if not kids:
            return float(tree.value[node])
        vals = np.array([value(kid) for kid in kids])
        return float(vals.max() + math.log(np.mean(np.exp(lam * (vals - vals.max())))) / lam)

    return value(0)


def test_dts_refuses_a_sharpened_backup():
    with pytest.raises(ValueError, match="search_lam_scale is DTS\\*'s"):
        dts(bimodal_1d(), 200, config=TreeSearchConfig(search_lam_scale=10.0))
    for bad in (0.5, float("nan")):
        with pytest.raises(ValueError, match="search_lam_scale must be >= 1"):
            TreeSearchConfig(search_lam_scale=bad, greedy=True).validate()


def test_boltzmann_descent_is_a_probability_law_over_leaves():
    result_tree = TreeSearch(CountingChain(), TreeSearchConfig(), np.random.default_rng(3))
    result_tree.run(900)
    tree = result_tree.tree
    logp = tree.descent_log_probs(1.0)[tree.leaves()]
    assert np.exp(logp).sum() == pytest.approx(1.0, abs=1e-9)


def test_output_draws_follow_the_descent_law_without_multinomial_duplicates():
    search = TreeSearch(bimodal_1d(), TreeSearchConfig(lam=2.0), np.random.default_rng(3))
    search.run(2000)
    tree = search.tree
    leaves = tree.leaves()
    expected = 1000 * np.exp(tree.descent_log_probs(2.0)[leaves])
    draws = [tree.boltzmann_samples(1000, 2.0, np.random.default_rng(seed)) for seed in range(3)]
    for ids in draws:
        counts = np.array([np.sum(ids == leaf) for leaf in leaves])
        # Systematic draws: every leaf within one of its expected count (i.i.d. draws stray by
        # about sqrt(expected), several counts here), in random order.
        assert np.all(np.abs(counts - expected) < 1.0 + 1e-9)
    assert not np.array_equal(np.sort(draws[0]), draws[0])
    assert not np.array_equal(draws[0], draws[1])


@pytest.mark.parametrize("weights", [[0.0, 0.0], [np.nan, 1.0], [1.0, -0.5], [np.inf, 1.0]])
def test_resampling_refuses_weights_that_are_not_a_law(weights):
    # i.i.d. draws (rng.choice) raised here; a silent index 0 would hide a NaN reward.
    with pytest.raises(ValueError, match="resampling weights must be finite"):
        systematic_resample(np.array(weights), np.random.default_rng(0), 4)


# -- budgets, NFE, seeds --------------------------------------------------------------------------
@pytest.mark.parametrize("method", sorted(SAMPLERS))
@pytest.mark.parametrize("budget", [6, 7, 50, 333, 1000])
def test_nfe_is_exact_and_never_exceeds_the_budget(method, budget):
    chain = CountingChain()
    result = SAMPLERS[method](chain, budget, seed=1)
    assert result.nfe == chain.rows_denoised == chain.nfe
    assert 0 < result.nfe <= budget
    assert len(result.samples) == len(result.rewards) > 0


@pytest.mark.parametrize("method", ["dts", "dts_star"])
def test_free_draws_from_x0_never_let_a_tree_overspend(method):
    # A rollout that reuses its target's x0_hat costs one NFE less, but only below the root.
    for budget in range(20, 100):
        chain = ReusingLineageChain((20, 3, 2, 0))
        result = SAMPLERS[method](chain, budget, seed=budget, config=TreeSearchConfig(batch=2))
        assert result.nfe == chain.nfe == sum(chain.call_rows) <= budget


@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_budget_below_one_sample_is_a_clear_error(method):
    with pytest.raises(BudgetError, match="at least 6"):
        SAMPLERS[method](CountingChain(), 5)


@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_same_seed_same_result_different_seed_different_result(method):
    a = SAMPLERS[method](CountingChain(), 300, seed=7)
    b = SAMPLERS[method](CountingChain(), 300, seed=7)
    c = SAMPLERS[method](CountingChain(), 300, seed=8)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.nfe == b.nfe
    assert not np.array_equal(a.samples, c.samples)


def test_tree_search_spends_most_of_its_budget():
    result = dts(CountingChain(), 1000, seed=0)
    assert result.nfe >= 1000 - 6  # the leftover cannot pay for one more rollout
    assert result.stats["tree_size"] > 100


def test_chain_records_the_rows_of_every_denoiser_call():
    chain = CountingChain()
    result = dts(chain, 300, seed=0)
    assert sum(chain.call_rows) == chain.nfe == result.nfe == chain.rows_denoised
    assert len(chain.call_rows) == result.stats["denoiser_calls"] >= result.stats["launches"]
    plain = CountingChain()
    SAMPLERS["ancestral"](plain, 60, seed=0)
    assert plain.call_rows == [10] * 6  # ancestral: one call of every sample per step


def test_multi_step_edges_cost_their_number_of_steps():
    chain = CountingChain(levels=(6, 3, 0))
    states = chain.initial(4, np.random.default_rng(0))
    chain.advance(states, np.array([0, 0, 1, 1]), np.random.default_rng(0))
    assert chain.nfe == 3 + 3 + 3 + 3


def test_mixed_edges_come_back_in_input_order():
    class Countdown(CountingChain):  # deterministic: each step subtracts 1, x0_hat is -state
        def denoise_step(self, states, steps, rng):
            return states - 1.0, -states

    chain = Countdown(levels=(6, 3, 2, 0))
    states = np.arange(5, dtype=float)[:, None].repeat(3, axis=1)
    k = np.array([2, 0, 1, 0, 2])  # edges of 2, 3, 1, 3 and 2 steps
    out, x0_hat = chain.advance(states, k, np.random.default_rng(0))
    np.testing.assert_array_equal(out[:, 0], [0 - 2, 1 - 3, 2 - 1, 3 - 3, 4 - 2])
    np.testing.assert_array_equal(x0_hat[:, 0], -np.arange(5))  # the input states' estimates
    assert chain.nfe == 2 + 3 + 1 + 3 + 2


class RecordingChain(CountingChain):
    """Logs when each call is launched and when its result is waited for."""

    def __init__(self):
        super().__init__()
        self.events = []

    def launch(self, states, k, rng, entered=None):
        pending, call = super().launch(states, k, rng, entered), len(self.events)
        self.events.append(("launch", call))
        result = pending.result

        def waited():
            self.events.append(("wait", call))
            return result()

        pending.result = waited
        return pending


def test_tree_search_launches_the_next_call_before_waiting_for_the_last():
    chain = RecordingChain()
    dts(chain, 600, seed=0, config=TreeSearchConfig(batch=8))
    open_calls, overlapped, waits = set(), 0, 0
    for kind, call in chain.events:
        if kind == "launch":
            open_calls.add(call)
        else:
            waits += 1
            overlapped += len(open_calls) > 1  # a later call was already on its way
            open_calls.discard(call)
    assert waits == sum(kind == "launch" for kind, _ in chain.events) > 20  # all waited for
    assert overlapped >= 0.8 * waits


class LineageChain(Chain):
    """States carry their level and their rollout's lineage, so a test sees that every row
    is stepped from the level it sits at and stays in its own rollout."""

    def __init__(self, levels):
        super().__init__(levels)
        self.state_shape = (4,)

    def initial(self, n, rng):
        x = rng.standard_normal((n, 4))
        x[:, 2], x[:, 3] = self.levels[0], rng.random(n)
        return x

    def denoise_step(self, states, steps, rng):
        states = np.asarray(states)
        np.testing.assert_array_equal(states[:, 2], steps)  # stepped from its own level
        nxt = 0.9 * states + 0.1 * rng.standard_normal(states.shape)
        nxt[:, 2], nxt[:, 3] = steps - 1, states[:, 3]
        return nxt, 0.9 * states

    def reward(self, final_states):
        return -np.abs(final_states[:, :2]).sum(axis=1)


class ReusingLineageChain(LineageChain):
    """Also draws steps from a known x0_hat, checking it is the one of the state given."""

    steps_from_x0 = True

    def __init__(self, levels):
        super().__init__(levels)
        self.drawn_from_x0 = 0

    def step_from_x0(self, states, x0_hat, steps, rng):
        np.testing.assert_array_equal(states[:, 2], steps)
        np.testing.assert_array_equal(x0_hat, 0.9 * states)  # this state's own estimate
        self.drawn_from_x0 += len(steps)
        nxt = 0.9 * states + 0.1 * rng.standard_normal(states.shape)
        nxt[:, 2], nxt[:, 3] = steps - 1, states[:, 3]
        return nxt


class CheckedCacheSearch(TreeSearch):
    """Compares every cached selection CDF with a freshly computed one."""

    def _select_child(self, node):
        cached = self.selection_cdf.get(node)
        if cached is not None:
            kids = np.array(self.tree.children[node])
            logits = self.cfg.lam * self.selection_values(node, kids)
            fresh = np.cumsum(np.exp(logits - logits.max()))
            np.testing.assert_array_equal(cached[0], kids)
            cumulative = np.asarray(cached[1])
            np.testing.assert_allclose(cumulative / cumulative[-1], fresh / fresh[-1], rtol=1e-12)
        return super()._select_child(node)


@pytest.mark.parametrize("levels", [(20, 3, 2, 0), (6, 4, 3, 1, 0)])
@pytest.mark.parametrize("greedy", [False, True])
@pytest.mark.parametrize("batch", [1, 3, 8])
@pytest.mark.parametrize("reuse", [False, True])
def test_tree_search_books_every_rollout_in_its_own_place(levels, greedy, batch, reuse):
    chain = ReusingLineageChain(levels) if reuse else LineageChain(levels)
    base = TreeSearchConfig(**DTS_STAR_DEFAULTS) if greedy else TreeSearchConfig()
    cfg = replace(base, greedy=greedy, batch=batch, lam=2.0)
    search = CheckedCacheSearch(chain, cfg, np.random.default_rng(batch))
    budget = 12 * levels[0] + 5
    search.run(budget)
    tree, n = search.tree, search.tree.size
    # Every tree edge is denoised once, by a call or (reusing its parent's x0_hat) by a free
    # draw; a free draw happens at every later child of a node whose rollout needs a call.
    nodes = np.arange(1, n)
    stepped = nodes[tree.k[nodes] >= 1]
    steps = int(chain.edge_cost(tree.k[stepped] - 1).sum())
    drawn = chain.drawn_from_x0 if reuse else 0
    assert search.steps_from_x0 == drawn
    assert chain.nfe + drawn == steps and chain.nfe == sum(chain.call_rows) <= budget
    later = sum(
        len(tree.children[p]) - 1
        for p in range(1, n)
        if tree.children[p] and chain.rollout_cost(tree.k[p]) >= 2
    )
    assert drawn == (later if reuse else 0)
    assert not tree.virtual[:n].any() and not tree.pending[:n].any()
    assert sorted(c for kids in tree.children[:n] for c in kids) == list(range(1, n))
    nodes = np.arange(1, n)
    np.testing.assert_array_equal(tree.k[nodes], tree.k[tree.parent[nodes]] + 1)
    below = nodes[tree.k[nodes] >= 1]
    np.testing.assert_array_equal(tree.states[below, 2], chain.levels[tree.k[below]])
    np.testing.assert_array_equal(tree.states[below, 3], tree.states[tree.parent[below], 3])
    leaves = tree.leaves()
    assert len(leaves) == search.traversals
    np.testing.assert_allclose(tree.value[leaves], chain.reward(tree.states[leaves]))
    for node in range(n):
        kids = tree.children[node]
        if kids and not tree.is_leaf(node):
            # a visit per child created, plus every later pass through a child
            assert tree.visits[node] == len(kids) + sum(tree.visits[c] - 1 for c in kids)
            assert tree.value[node] == pytest.approx(tree.soft_value(node, cfg.value_lam))


# -- SMC ------------------------------------------------------------------------------------------
def test_smc_keeps_weights_when_it_does_not_resample():
    chain = bimodal_1d()
    no_resampling = smc(chain, 20 * 400, ess_threshold=0.0, num_samples=2000, seed=0)
    assert no_resampling.stats["resamples"] == 0
    grid = target_grid(chain)
    target = chain.tilted_target(1.0, grid)
    # Without resampling SMC is importance sampling with weights exp(lam r(x0)):
    # it must still land near the tilted target, not the prior.
    assert sliced_w1_to_grid(no_resampling.samples, grid, target) < 0.6


@pytest.mark.parametrize("reuse", [False, True])
def test_smc_gives_each_copy_of_a_resampled_parent_its_own_child(reuse):
    class Chain(ReusingLineageChain if reuse else LineageChain):
        def reward(self, final_states):
            self.particles = np.array(final_states)  # SMC scores its final particles once
            return super().reward(final_states)

    chain = Chain(list(range(8, -1, -1)))
    result = smc(chain, 8 * 50, lam=4.0, ess_threshold=1.0, seed=0)
    assert result.stats["resamples"] == chain.depth and result.nfe == chain.nfe == 8 * 50
    distinct = len(np.unique(chain.particles, axis=0))
    redrawn = result.stats["steps_from_x0"]
    if reuse:  # every copy drawn anew: the last resampling leaves no two particles equal
        assert redrawn == chain.drawn_from_x0 > 0 and distinct == 50
    else:
        assert redrawn == 0 and distinct < 50


def test_smc_resamples_when_ess_drops():
    result = smc(bimodal_1d(), 20 * 200, seed=0)
    assert result.stats["resamples"] >= 1


# -- exactness on the toy chain (cheap version of benchmark B4) -----------------------------------
@pytest.mark.parametrize("make_chain", [bimodal_1d, ring_2d])
def test_dts_approaches_the_exact_tilted_target_and_ancestral_does_not(make_chain):
    chain = make_chain()
    grid = target_grid(chain, 2001 if chain.mixture.dim == 1 else 121)
    target = chain.tilted_target(1.0, grid)

    def w1(method, budget, seed):
        # A fixed in-flight batch: the property pinned here is convergence with budget.
        config = TreeSearchConfig(batch=16) if method == "dts" else None
        result = SAMPLERS[method](
            chain, budget, lam=1.0, num_samples=2000, seed=seed, config=config
        )
        return sliced_w1_to_grid(result.samples, grid, target, num_projections=16)

    small, large = [], []
    # 8 seeds: over 32 seeds, 4-seed means of large / small ranged 0.17-0.68 (so a 4-seed
    # test passed or failed by luck) while 8-seed means stayed at 0.22-0.50.
    for seed in range(8):
        ancestral_w1 = w1("ancestral", 6000, seed)
        small.append(w1("dts", 600, seed))
        large.append(w1("dts", 6000, seed))
        assert large[-1] <= ancestral_w1 / 3, (seed, large[-1], ancestral_w1)
    # Single runs are noisy at small budgets; on average ten times the budget must help a lot.
    assert np.mean(large) < 0.6 * np.mean(small), (small, large)


def test_toy_chain_samples_the_data_law_exactly():
    chain = bimodal_1d()
    grid = target_grid(chain, 2001)
    prior = chain.tilted_target(1e-12, grid)
    result = SAMPLERS["ancestral"](chain, 20 * 4000, seed=0)
    assert sliced_w1_to_grid(result.samples, grid, prior) < 0.08
    assert math.isclose(prior.sum(), 1.0)


def test_in_flight_batch_follows_budget_share_and_bounds():
    chain = CountingChain()  # S = 6
    assert auto_batch(120, chain) == 20  # DTS: every sample the budget buys...
    assert auto_batch(12, chain) == 8  # ...at least 8...
    assert auto_batch(6000, chain) == 64  # ...at most 64
    star = TreeSearchConfig(**DTS_STAR_DEFAULTS)
    assert auto_batch(120, chain, star.batch_share, star.batch_min) == 4  # a fifth, at least 4
    assert auto_batch(600, chain, star.batch_share, star.batch_min) == 20
    search = TreeSearch(chain, replace(star, greedy=True), np.random.default_rng(0))
    search.run(600)
    assert search.cfg.batch == 20
    for bad in ({"batch_share": 0.0}, {"batch_min": 0}, {"batch_min": 65}):
        with pytest.raises(ValueError, match="batch_share .* batch_min"):
            TreeSearchConfig(**bad).validate()


def test_samplers_refuse_a_misspelt_keyword():
    from sadt.methods import METHODS

    for name in ("ancestral", "best_of_n", "smc", "dts", "dts_star"):
        with pytest.raises(TypeError, match="confg"):
            METHODS[name].sampler(CountingChain(), 300, confg=TreeSearchConfig())


def test_the_registry_runs_each_method_with_its_defaults():
    from sadt.methods import METHODS, method

    assert METHODS["best_of_n"].defaults == {"mode": "resample"}
    assert METHODS["dts_star"].branch_levels(20) == [20, 3, 2, 0]
    assert METHODS["dts"].branch_levels(20) is None
    with pytest.raises(ValueError, match="needs a value network"):
        METHODS["sadt"].run(CountingChain(), 300)
    with pytest.raises(ValueError, match="unknown method 'dtss'; available: dts, dts_star"):
        method("dtss")
    a = METHODS["best_of_n"].run(CountingChain(), 300, seed=3)
    b = SAMPLERS["best_of_n"](CountingChain(), 300, seed=3, mode="resample")
    np.testing.assert_array_equal(a.samples, b.samples)
