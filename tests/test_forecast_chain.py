"""The forecaster as a search chain: NFE counted at the denoiser, reward from context only."""

import inspect

import mlx.core as mx
import numpy as np
import pytest
from tiny_models import tiny_forecaster

import sadt  # noqa: F401  (fast BLAS before mlx)
from sadt.forecaster.chain import ForecastChain
from sadt.forecaster.model import Forecaster, ForecasterConfig
from sadt.methods import late_branching
from sadt.search import SAMPLERS
from sadt.spectral import spectral_reward


@pytest.fixture(scope="module")
def forecaster():
    mx.random.seed(0)
    cfg = ForecasterConfig(
        context_length=64,
        horizon=24,
        num_steps=6,
        encoder_dim=32,
        encoder_hidden=32,
        denoiser_dim=32,
        denoiser_hidden=32,
    )
    model = Forecaster(cfg)
    mx.eval(model.parameters())
    return model


@pytest.fixture
def context():
    t = np.arange(200)
    return 50 + 10 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).standard_normal(200)


def test_chain_is_built_from_context_only():
    params = set(inspect.signature(ForecastChain.__init__).parameters)
    assert not params & {"y", "target", "future", "truth", "actual", "y_true"}


@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_every_sampler_counts_exactly_the_denoiser_calls(forecaster, context, method):
    chain = ForecastChain(forecaster, context)
    before = forecaster.nfe
    result = SAMPLERS[method](chain, 100, seed=0, num_samples=8)
    assert result.nfe == forecaster.nfe - before == chain.nfe
    assert result.nfe <= 100
    assert result.samples.shape[1:] == (24,)


def test_reward_is_the_spectral_reward_of_the_visible_horizon(forecaster, context):
    chain = ForecastChain(forecaster, context, horizon=16, gamma=2.0, band_weights=(1, 0, 3))
    states = np.random.default_rng(1).standard_normal((5, 24))
    original = chain.to_original(states)
    assert original.shape == (5, 16)
    expected = spectral_reward(original, context[-64:], gamma=2.0, band_weights=(1, 0, 3))
    np.testing.assert_allclose(chain.reward(states), expected, rtol=1e-6, atol=1e-9)


def test_same_seed_same_search(forecaster, context):
    runs = [SAMPLERS["dts"](ForecastChain(forecaster, context), 120, seed=3) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].samples, runs[1].samples)


def test_short_context_works(forecaster):
    chain = ForecastChain(forecaster, np.sin(np.arange(20) / 3.0) * 5 + 1)
    result = SAMPLERS["dts_star"](chain, 60, seed=0)
    assert np.isfinite(result.chosen_reward)


def test_bad_horizon_is_a_clear_error(forecaster, context):
    with pytest.raises(ValueError, match="horizon must be at least 1"):
        ForecastChain(forecaster, context, horizon=0)


@pytest.mark.parametrize("branch_every", [1, 2, 5])
def test_every_branching_edge_is_random(forecaster, context, branch_every):
    """Children of one state must differ, or a tree pays NFE for copies: the step from
    level 1 adds no noise, so level 1 may not be a branching level."""
    chain = ForecastChain(forecaster, context, branch_every=branch_every)
    assert chain.levels[0] == 6 and chain.levels[-1] == 0 and 1 not in chain.levels.tolist()
    assert chain.edge_cost(np.arange(chain.depth)).sum() == 6
    rng = np.random.default_rng(0)
    states = chain.initial(1, rng)
    for k in range(chain.depth):
        twins, _ = chain.advance(np.repeat(states, 2, axis=0), np.full(2, k), rng)
        assert np.abs(twins[0] - twins[1]).max() > 1e-6, f"edge {k} is deterministic"
        states = twins[:1]


def test_level_fraction_follows_noise_level_not_edge_count(forecaster, context):
    """The value network reads how far down the chain a node is; two chains that branch
    differently must agree at the same denoising step."""
    every_step = ForecastChain(forecaster, context)
    every_two = ForecastChain(forecaster, context, branch_every=2)
    assert every_step.levels.tolist() == [6, 5, 4, 3, 2, 0]
    assert every_two.levels.tolist() == [6, 4, 2, 0]
    np.testing.assert_allclose(every_step.level_fraction([0, 2, 4, 5]), [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(every_two.level_fraction([0, 1, 2, 3]), [0, 1 / 3, 2 / 3, 1])


def test_explicit_branch_levels_and_late_branching(forecaster, context):
    assert late_branching(20) == [20, 3, 2, 0]
    chain = ForecastChain(forecaster, context, branch_levels=late_branching(6))
    assert chain.levels.tolist() == [6, 3, 2, 0]
    assert chain.edge_cost(np.arange(chain.depth)).tolist() == [3, 1, 2]
    # Level 1 is dropped here too: its step adds no noise.
    assert ForecastChain(forecaster, context, branch_levels=[6, 4, 1, 0]).levels.tolist() == [
        6,
        4,
        0,
    ]
    with pytest.raises(ValueError, match="from 6 .* down to 0"):
        ForecastChain(forecaster, context, branch_levels=[5, 2, 0])
    with pytest.raises(ValueError, match="strictly decrease"):
        ForecastChain(forecaster, context, branch_levels=[6, 2, 3, 0])


@pytest.mark.parametrize("steps, expected", [(3, [3, 2, 0]), (2, [2, 0]), (1, [1, 0])])
def test_late_branching_for_short_chains(steps, expected):
    chain = ForecastChain(
        tiny_forecaster(num_steps=steps), np.arange(30.0), branch_levels=late_branching(steps)
    )
    assert chain.levels.tolist() == expected


class EagerForecastChain(ForecastChain):
    """The same chain computing eagerly: every denoiser call returns numpy at once."""

    def denoise_step(self, states, steps, rng):
        return tuple(np.array(a) for a in super().denoise_step(np.asarray(states), steps, rng))

    def to_numpy(self, array):
        return np.asarray(array)

    def start(self, arrays):
        pass

    def take(self, array, rows):
        return np.asarray(array)[rows]

    def join(self, arrays):
        return np.concatenate(arrays)


@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_lazy_chain_gives_the_same_samples_as_an_eager_one(forecaster, context, method):
    # The tree search launches each call on the last one's outputs before waiting for them,
    # and mixed edge lengths are reordered as MLX arrays: none of it may change a sample.
    levels = late_branching(forecaster.config.num_steps) if method == "dts_star" else None
    lazy = SAMPLERS[method](ForecastChain(forecaster, context, branch_levels=levels), 120, seed=3)
    eager = SAMPLERS[method](
        EagerForecastChain(forecaster, context, branch_levels=levels), 120, seed=3
    )
    np.testing.assert_array_equal(lazy.samples, eager.samples)
    assert lazy.nfe == eager.nfe


@pytest.mark.parametrize("bins", [48, 7, 1])
def test_value_features_resample_like_np_interp(forecaster, context, bins):
    chain = ForecastChain(forecaster, context)
    per_bin = np.random.default_rng(bins).standard_normal((5, bins))
    grid, at = np.linspace(0, 1, chain.VALUE_POINTS), np.linspace(0, 1, bins)
    expected = np.stack([np.interp(grid, at, row) for row in per_bin])
    np.testing.assert_allclose(chain._resample(per_bin), expected, atol=1e-12)


def test_a_step_from_a_known_x0_hat_is_the_denoisers_step(forecaster, context):
    # Same noise, same step: a tree's later children of a node (drawn from the x0_hat it
    # already has, no denoiser call) follow the same law as its first child.
    assert_steps_from_x0_match_the_denoiser(ForecastChain(forecaster, context), lowest=2)


def assert_steps_from_x0_match_the_denoiser(chain, lowest: int) -> None:
    """step_from_x0 with the denoiser's own noise gives its step, at levels S .. lowest."""
    states = chain.initial(5, np.random.default_rng(0))
    for level in range(chain.num_steps, lowest - 1, -1):
        steps = np.full(5, level)
        stepped, x0_hat = chain.denoise_step(states, steps, np.random.default_rng(level))
        stepped, x0_hat = np.array(stepped), np.array(x0_hat)
        drawn = chain.step_from_x0(states, x0_hat, steps, np.random.default_rng(level))
        np.testing.assert_allclose(drawn, stepped, atol=2e-5 * np.abs(stepped).max())
        other = chain.step_from_x0(states, x0_hat, steps, np.random.default_rng(level + 99))
        assert not np.allclose(other, stepped) or level == 1  # a new draw, not a copy
        states = stepped
