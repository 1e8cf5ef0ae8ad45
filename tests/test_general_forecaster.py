"""The general forecaster: synthetic kernels, base forecasts, masks, continuation past the
native horizon, non-negativity and the default horizon."""

import mlx.core as mx
import numpy as np
import pandas as pd
import pytest
from test_forecast_chain import assert_steps_from_x0_match_the_denoiser
from tiny_models import tiny_forecaster

from sadt.forecaster.bases import NUM_BASES, base_forecasts, detect_periods, naive_error_scale
from sadt.forecaster.chain import ForecastChain
from sadt.forecaster.data import WindowOptions, WindowSampler
from sadt.forecaster.kernel_synth import KernelSynthConfig, kernel_batch, kernel_series, periodic
from sadt.forecaster.model import normalize_context
from sadt.horizon import default_horizon
from sadt.pipeline import Pipeline, SearchSettings, intermittent_zeros
from sadt.search import SAMPLERS
from sadt.series import Series, read_series
from sadt.spectral import periodogram


@pytest.mark.parametrize("period", [4, 7, 12, 24, 52, 168])
def test_periodic_kernel_peaks_at_its_period(period):
    n = 8 * period
    x = periodic(np.random.default_rng(period), np.arange(n, dtype=float), period)
    peak = int(np.argmax(periodogram(x))) + 1  # bin k is frequency k / n
    assert peak == n // period


def test_kernel_series_are_finite_varied_and_reproducible():
    cfg = KernelSynthConfig(min_length=40, max_length=600)
    a, b = kernel_batch(30, seed=5, cfg=cfg), kernel_batch(30, seed=5, cfg=cfg)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    lengths = [x.size for x in a]
    assert min(lengths) >= 40 and max(lengths) <= 600 and len(set(lengths)) > 10
    assert all(np.isfinite(x).all() and x.std() > 0 for x in a)
    counts = kernel_series(np.random.default_rng(0), KernelSynthConfig(count_prob=1.0))
    assert np.all(counts >= 0) and np.array_equal(counts, np.round(counts))


def test_detect_periods_finds_the_cycle_and_none_in_a_trend():
    t = np.arange(120.0)
    monthly = np.sin(2 * np.pi * t / 12) + 0.02 * t
    assert detect_periods(monthly)[0][0] == 12
    both = np.sin(2 * np.pi * np.arange(1000) / 24) + np.sin(2 * np.pi * np.arange(1000) / 168)
    assert sorted(p for p, _ in detect_periods(both)) == [24, 168]
    assert detect_periods(0.5 * t) == []


def test_seasonal_naive_base_repeats_the_last_cycle():
    x = np.tile(np.arange(7.0), 10)
    mask = np.ones((1, x.size))
    bases, features, scales = base_forecasts(x[None], mask, 14)
    assert bases.shape == (1, NUM_BASES, 14) and scales.shape == (1, 14)
    np.testing.assert_allclose(bases[0, 1], np.tile(np.arange(7.0), 2))


def test_naive_error_scale_of_a_short_intermittent_series_does_not_vanish():
    counts = np.zeros(40)
    counts[[4, 6, 7, 12, 18, 26, 32, 34, 36, 37]] = [1, 1, 1, 1, 1, 2, 2, 1, 4, 1]
    scale = naive_error_scale(counts, 40)  # lag 39 has one pair, 0 - 0
    assert scale.min() >= 0.25 * scale[0] > 0


def test_naive_error_scale_is_small_for_smooth_series_and_grows_like_a_random_walk():
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.standard_normal(20000))
    scale = naive_error_scale(walk, 64)
    # E|x_t - x_{t-h}| = sqrt(2 h / pi) for a unit random walk.
    for h in (1, 4, 16, 64):
        assert abs(scale[h - 1] / np.sqrt(2 * h / np.pi) - 1) < 0.1
    smooth = np.sin(np.arange(2000) * 2 * np.pi / 288)
    assert naive_error_scale(smooth, 8)[0] < 0.03 < naive_error_scale(walk, 8)[0]


def test_masked_positions_do_not_change_the_forecast():
    """A short history is left-padded; whatever sits in the padding, samples are the same."""
    model = tiny_forecaster(blend_bases=True)
    history = np.sin(np.arange(40) / 3.0) * 4 + 10
    values, mask, _, _ = normalize_context(history, model.config.context_length)
    junk = np.where(mask > 0, values, np.random.default_rng(1).normal(0, 50, values.shape))
    draws = []
    for context in (values, junk.astype(np.float32)):
        cond = model.encode(mx.array(context[None]), mx.array(mask[None]))
        draws.append(np.array(model.sample_normalized(cond, 8, np.random.default_rng(3))))
    np.testing.assert_array_equal(draws[0], draws[1])
    np.testing.assert_array_equal(draws[0][0], model.sample(history, 8, 3) * 0 + draws[0][0])


@pytest.mark.parametrize("method", ["ancestral", "best_of_n", "smc", "dts", "dts_star"])
def test_continuation_gives_joint_paths_with_exact_nfe(method):
    model = tiny_forecaster(blend_bases=True)  # native horizon 24, 6 steps
    history = np.sin(np.arange(90) / 3.0) * 4 + 10
    chain = ForecastChain(model, history, horizon=60)
    assert chain.blocks == 3 and chain.state_shape == (72,) and chain.num_steps == 18
    budget = 18 * 8
    result = SAMPLERS[method](chain, budget, seed=0)
    assert result.nfe == chain.nfe <= budget
    out = chain.to_original(result.samples)
    assert out.shape[1] == 60 and np.isfinite(out).all()
    if method == "ancestral":
        assert result.nfe == budget  # 8 paths x 3 blocks x 6 steps, every call counted


def test_each_block_is_conditioned_on_its_own_path():
    model = tiny_forecaster(blend_bases=True)
    chain = ForecastChain(model, np.sin(np.arange(90) / 3.0) * 4 + 10, horizon=48)
    a = chain._block_condition(np.zeros(24, np.float32))
    b = chain._block_condition(np.full(24, 2.0, np.float32))
    again = chain._block_condition(np.zeros(24, np.float32))
    assert a is again  # cached per prefix
    assert not np.allclose(np.array(a[0]), np.array(b[0]))
    block, inner = chain.block_of(np.array([12, 7, 6, 1]))
    assert block.tolist() == [0, 0, 1, 1] and inner.tolist() == [6, 1, 6, 1]


def test_short_horizons_work_and_the_reward_steps_aside():
    pipe = Pipeline(tiny_forecaster(blend_bases=True), search=SearchSettings(batch=8))
    fc = pipe.forecast(np.arange(60.0) + 5, horizon=3, method="dts", budget=60)
    assert fc.samples.shape[1] == 3 and np.all(fc.rewards == 0)


def test_nonnegative_history_gives_nonnegative_forecasts_unless_switched_off():
    pipe = Pipeline(tiny_forecaster(blend_bases=True), search=SearchSettings(batch=8))
    counts = np.random.default_rng(0).poisson(0.4, 80).astype(float)
    auto = pipe.forecast(counts, horizon=24, method="ancestral", budget=6 * 32)
    off = pipe.forecast(counts, horizon=24, method="ancestral", budget=6 * 32, nonnegative=False)
    assert auto.stats["nonnegative"] and auto.samples.min() >= 0 and auto.quantiles.min() >= 0
    assert off.samples.min() < 0  # the untrained model's spread reaches below zero
    signed = pipe.forecast(counts - 1, horizon=24, method="ancestral", budget=6 * 32)
    assert not signed.stats["nonnegative"]
    with pytest.raises(ValueError, match="nonnegative must be"):
        pipe.forecast(counts, horizon=24, budget=60, nonnegative="yes")


def test_whole_number_histories_get_whole_number_forecasts():
    pipe = Pipeline(tiny_forecaster(blend_bases=True), search=SearchSettings(batch=8))
    counts = np.random.default_rng(0).poisson(0.4, 80).astype(float)
    for method in ("ancestral", "dts"):
        fc = pipe.forecast(counts, horizon=12, method=method, budget=6 * 32)
        assert fc.stats["whole_numbers"] and np.all(fc.samples == np.round(fc.samples))
        assert np.all(fc.chosen == np.round(fc.chosen))
    (batched,) = pipe.forecast_many([counts], horizon=12, method="ancestral", budget=6 * 32)
    assert np.all(batched.samples == np.round(batched.samples))
    rare = np.zeros(80)
    rare[[9, 50]] = 1.0  # almost always 0: many paths round to all zeros, which is no collapse
    sparse = pipe.forecast(rare, horizon=12, method="ancestral", budget=6 * 32)
    assert "collapsed" not in sparse.stats
    measured = pipe.forecast(counts + 0.25, horizon=12, method="ancestral", budget=6 * 32)
    assert not measured.stats["whole_numbers"]
    assert not np.all(measured.samples == np.round(measured.samples))


def test_intermittent_histories_keep_their_share_of_zeros():
    rng = np.random.default_rng(1)
    demand = rng.poisson(2, 150) * (rng.random(150) < 0.25)  # ~80 % zeros, scattered
    share = intermittent_zeros(Series(demand.astype(float)))
    assert share == pytest.approx(np.mean(demand == 0))
    pipe = Pipeline(tiny_forecaster(blend_bases=True), search=SearchSettings(batch=8))
    fc = pipe.forecast(demand.astype(float), horizon=12, method="ancestral", budget=6 * 64)
    zeros = np.mean(fc.samples == 0, axis=0)
    assert np.all(zeros >= int(share * 64) / 64)  # every step keeps the history's zeros
    assert np.all(fc.quantiles[: int(share * 10) - 1] == 0)
    assert fc.samples.max() > 0  # the nonzero tail is still the model's


def test_zeros_in_runs_are_not_intermittent():
    hours = np.arange(24 * 10)
    solar = np.maximum(0.0, np.sin(2 * np.pi * (hours % 24 - 6) / 24)) * 100  # 0 at night
    assert np.mean(solar == 0) > 0.4 and intermittent_zeros(Series(solar)) is None
    closed = np.r_[np.full(60, 5.0), np.zeros(60), np.full(60, 7.0)]  # a closed season
    assert intermittent_zeros(Series(closed)) is None
    rare = np.ones(100)
    rare[::10] = 0  # 10 % zeros: too few to count
    assert intermittent_zeros(Series(rare)) is None


@pytest.mark.parametrize(
    ("freq", "expected"),
    [("5min", 96), ("30min", 48), ("h", 48), ("D", 30), ("B", 20), ("W-SUN", 13)]
    + [("MS", 18), ("QS-JAN", 8), ("YS-JAN", 6)],
)
def test_default_horizon_by_frequency(freq, expected):
    assert default_horizon(np.arange(500.0), freq) == expected


def test_default_horizon_never_exceeds_the_history_and_reads_cycles():
    assert default_horizon(np.arange(10.0), "h") == 10
    assert default_horizon(np.sin(np.arange(200) * 2 * np.pi / 12)) == 24  # two cycles
    assert default_horizon(np.arange(200.0)) == 24
    stamps = pd.date_range("2000-01-01", periods=60, freq="MS")
    series = Series(np.arange(60.0), stamps, "MS")
    pipe = Pipeline(tiny_forecaster(blend_bases=True))
    assert pipe.default_horizon(series) == 18
    assert pipe.forecast(series, method="ancestral", budget=6 * 4).horizon == 18


def test_short_series_train_on_the_future_they_have():
    series = [np.arange(40, dtype=np.float32) + i for i in range(4)]
    opts = WindowOptions(min_context=32, min_future=4, bases=True)
    sampler = WindowSampler(series, [0] * 4, 96, 24, opts)
    batch = sampler.sample(np.random.default_rng(0), 16)
    known = batch.future_mask.sum(axis=1)
    assert (
        known.min() >= 4 and known.max() <= 8 and np.all(batch.future[batch.future_mask == 0] == 0)
    )
    model = tiny_forecaster(blend_bases=True)
    k, h = 2, 24
    args = [mx.array(a) for a in (batch.context, batch.mask, batch.future)]
    times = mx.array(np.array([0.3, 0.7], np.float32))
    index = mx.array(np.zeros((16, k), np.int32))
    noise = mx.array(np.random.default_rng(1).standard_normal((16, k, h)).astype(np.float32))
    bases = tuple(mx.array(b) for b in batch.bases)
    fmask = mx.array(batch.future_mask)
    base = model.loss(*args, times, index, noise, fmask, bases)
    junk_future = mx.array(np.where(batch.future_mask > 0, batch.future, 99.0).astype(np.float32))
    junk = model.loss(args[0], args[1], junk_future, times, index, noise, fmask, bases)
    assert np.allclose([v.item() for v in base], [v.item() for v in junk], rtol=1e-5)


def test_forecast_many_batches_ancestral_sampling_in_order():
    pipe = Pipeline(tiny_forecaster(blend_bases=True))
    t = np.arange(80.0)
    series = [np.sin(t / 3) + 5, np.sin(t / 3) * 100 + 1000, np.sin(t / 3) - 5]
    out = pipe.forecast_many(series, 10, method="ancestral", budget=6 * 16)
    assert [f.samples.shape for f in out] == [(16, 10)] * 3
    assert all(f.stats["batched"] for f in out)
    assert out[0].stats["nonnegative"] and not out[2].stats["nonnegative"]
    assert 500 < np.median(out[1].samples) < 1500 and np.median(out[2].samples) < 0
    single = pipe.forecast_many(series, 10, method="dts", budget=6 * 16)
    assert not any(f.stats.get("batched") for f in single)


def scaled_model(seed: int = 0):
    """A general model: base forecasts blended, diffusion on the scaled residual; its scale
    head is given weights so that the spread really varies over the horizon."""
    model = tiny_forecaster(seed, blend_bases=True, scaled_residual=True)
    head = model.scale_head
    head.weight = mx.random.normal(head.weight.shape) * 0.3
    head.bias = mx.linspace(-2.0, 0.5, head.bias.shape[0])
    model.denoiser.out.bias = mx.zeros_like(model.denoiser.out.bias)  # output 0: v = 0
    mx.eval(model.parameters())
    return model


def test_scaled_residual_steps_from_a_known_x0_hat_like_the_denoiser():
    """States above level 0 are residuals, final samples and x0_hat are forecasts: a tree's
    step from a stored x0_hat still follows the denoiser's law, the last step included."""
    chain = ForecastChain(scaled_model(), np.sin(np.arange(120) / 3.0) * 4 + 10)
    assert_steps_from_x0_match_the_denoiser(chain, lowest=1)  # the last step decodes


def test_scaled_residual_spread_sets_the_samples_spread():
    model = scaled_model()
    history = np.sin(np.arange(120) / 3.0) * 4 + 10
    values, mask, mean, std = normalize_context(history, model.config.context_length)
    cond = model.encode(mx.array(values[None]), mx.array(mask[None]))
    spread = np.array(model.residual_scale(cond))[0]
    centre = np.array(model.mean_path(cond))[0]
    x = np.array(model.sample_normalized(cond, 400, np.random.default_rng(0)))[0]
    # Untrained denoiser (zero output layer: unit Gaussian residuals, up to the 6-step
    # discretization): the samples are centre + spread * the same noise at every step.
    assert np.all(np.abs(x.mean(0) - centre) < 0.2 * spread)
    ratio = x.std(0) / spread
    assert spread.max() / spread.min() > 5  # the spread really varies over the horizon
    assert 0.5 < ratio.mean() < 1.5 and ratio.std() < 0.1 * ratio.mean()


def test_a_constant_history_forecasts_the_constant_and_short_ones_forecast():
    pipe = Pipeline(tiny_forecaster(blend_bases=True))
    flat = pipe.forecast(np.full(40, 7.0), horizon=5)
    assert flat.stats["constant"] and flat.nfe == 0 and np.all(flat.samples == 7.0)
    short = pipe.forecast(np.array([3.0, 4, 6, 5, 7, 8, 7, 9]), horizon=4, method="ancestral")
    assert short.samples.shape[1] == 4 and np.isfinite(short.samples).all()
    # Fewer values than the model reads (a tourism-style yearly series of 5): random walks
    # from the last value with the history's step-to-step spread, said in the stats.
    tiny = pipe.forecast(np.array([10.0, 12, 11, 14, 13]), horizon=3, seed=1)
    assert "too few for the model" in tiny.stats["short_history"] and tiny.nfe == 0
    steps = np.sqrt(np.mean(np.diff([10.0, 12, 11, 14, 13]) ** 2))  # 2.18
    assert np.allclose(tiny.samples.mean(axis=0), 13, atol=3 * steps / 8)  # centred on 13
    spread = tiny.samples.std(axis=0)
    assert spread[0] == pytest.approx(steps, rel=0.3) and spread[2] > 1.4 * spread[0]
    assert np.all(tiny.samples == np.round(tiny.samples))  # whole numbers stay whole
    assert pipe.default_horizon([3.0, 4, 2]) == 3  # never longer than the history
    frame = pd.DataFrame({
        "item_id": ["short"] * 5 + ["long"] * 40,
        "timestamp": [*pd.date_range("2000", periods=5, freq="YS"),
                      *pd.date_range("2000", periods=40, freq="MS")],
        "target": [1.0, 3, 2, 4, 5, *np.sin(np.arange(40))],
    })  # fmt: skip
    out = pipe.predict_df(frame, horizon=2, method="ancestral")
    assert out.groupby("item_id").size().to_dict() == {"short": 2, "long": 2}
    with pytest.raises(ValueError, match="at least 8"):  # describing still needs the model
        read_series(np.arange(5.0))


def test_series_and_forecast_print_in_one_short_line():
    stamps = pd.date_range("2024-01-01", periods=500, freq="h")
    series = Series(np.sin(np.arange(500) / 4.0) + 3, stamps, "h", "load")
    assert repr(series) == (
        "Series('load', 500 values, freq='h', 2024-01-01 00:00:00 … 2024-01-21 19:00:00)"
    )
    fc = Pipeline(tiny_forecaster(blend_bases=True)).forecast(series, 12, method="ancestral")
    text = repr(fc)
    assert text.startswith("Forecast('ancestral', horizon 12, 64 paths, 384 NFE, median ")
    assert "\n" not in text and len(text) < 200


def test_a_collapsed_fan_says_so():
    pipe = Pipeline(tiny_forecaster(blend_bases=True), search=SearchSettings(batch=8))
    history = np.sin(np.arange(120) / 3.0) * 4 + 10
    steered = pipe.forecast(history, 24, method="best_of_n", budget=60, gamma=10, lam=50)
    assert "distinct paths" in steered.stats["collapsed"]
    plain = pipe.forecast(history, 24, method="ancestral", budget=60)
    assert "collapsed" not in plain.stats


def test_forecast_many_takes_a_constant_series_like_forecast():
    pipe = Pipeline(tiny_forecaster(blend_bases=True))
    series = [np.full(40, 3.0), np.sin(np.arange(80.0) / 3) + 5]
    out = pipe.forecast_many(series, 10, method="ancestral", budget=6 * 16)
    assert out[0].stats["constant"] and np.all(out[0].samples == 3.0)
    assert out[1].samples.shape == (16, 10) and np.isfinite(out[1].samples).all()
    with pytest.raises(ValueError, match="nonnegative must be"):
        pipe.forecast_many(series[1:], 10, method="ancestral", budget=60, nonnegative="yes")


def test_training_windows_are_scaled_as_inference_scales_contexts():
    # The trainer's windows and the model's input must agree, or the model sees at
    # inference a scale it never trained on (the recent-half scaling, with its clip).
    rng = np.random.default_rng(3)
    series = [np.r_[rng.standard_normal(30) * 1e4, 5.0 + rng.standard_normal(90)] for _ in range(2)]
    opts = WindowOptions(min_context=8, value_clip=20.0, scaling="recent")
    sampler = WindowSampler(series, [0, 0], 128, 8, opts)
    context, future = series[0][:112], series[0][112:120]
    batch = sampler.normalize([(context, future)])
    model = tiny_forecaster(context_length=128, horizon=8, scaling="recent", input_clip=20.0)
    values, mask, mean, std = model.normalize(context)
    np.testing.assert_allclose(batch.context[0], values, atol=1e-5)
    np.testing.assert_allclose(batch.future[0], (future - mean) / std, rtol=1e-5, atol=1e-5)
    assert np.abs(values).max() == 20.0 and np.ptp(values[-56:]) > 2.0


def test_a_bursty_context_is_scaled_by_its_baseline_and_a_climb_is_not():
    rng = np.random.default_rng(0)
    traffic = rng.normal(75.0, 15.0, 200).clip(0)
    traffic[rng.choice(190, 10, replace=False)] = 2e5  # rare huge bursts, none at the end
    _, _, location, scale = normalize_context(traffic, 256, scaling="recent")
    assert abs(location - 75) < 5 and 10 < scale < 20  # median and robust std: the baseline
    gdp = 1e9 * np.exp(np.arange(60) / 8.0)  # ends far above its window's median
    _, _, location, scale = normalize_context(gdp, 256, scaling="recent")
    window = gdp[-32:]
    np.testing.assert_allclose([location, scale], [window.mean(), window.std()])
