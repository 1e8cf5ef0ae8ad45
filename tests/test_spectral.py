"""Specification of the spectral reward and Spec-W1 (sadt.spectral)."""

import inspect
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from sadt import spectral
from sadt.spectral import (
    SpectralReward,
    band_masks,
    frequencies,
    periodogram,
    reference_spectrum,
    spec_w1,
    spectral_distance,
    spectral_reward,
)

PERIOD = 24


def seasonal_series(length, rng, noise=0.3, start=0):
    t = np.arange(start, start + length)
    return (
        np.sin(2 * np.pi * t / PERIOD)
        + 0.5 * np.sin(4 * np.pi * t / PERIOD)
        + noise * (rng.standard_normal(length))
    )


@pytest.fixture
def context():
    return seasonal_series(512, np.random.default_rng(0))


@pytest.mark.parametrize("h", [8, 9, 24, 96, 97])
def test_periodogram_matches_scipy_hann_density_without_dc(h):
    x = np.random.default_rng(h).standard_normal((3, h)) + 5.0
    _, expected = signal.periodogram(x, window="hann", detrend="constant", axis=-1)
    assert np.allclose(periodogram(x), expected[:, 1:])
    assert periodogram(x).shape == (3, h // 2) == (3, frequencies(h).size)


def test_periodogram_ignores_level_offset():
    x = np.random.default_rng(1).standard_normal(96)
    assert np.allclose(periodogram(x + 100.0), periodogram(x))


@pytest.mark.parametrize("h", [8, 24, 96, 97])
@pytest.mark.parametrize("context_length", [8, 13, 50, 512])
def test_reference_and_forecast_grids_agree_for_any_lengths(h, context_length):
    rng = np.random.default_rng(h * 1000 + context_length)
    ctx = seasonal_series(context_length, rng)
    forecasts = seasonal_series(h, rng, start=context_length) + rng.standard_normal((5, h))
    ref = reference_spectrum(ctx, h)
    assert ref.shape == periodogram(forecasts[0]).shape == (h // 2,)
    assert np.all(np.isfinite(ref)) and np.all(ref > 0)
    rewards = spectral_reward(forecasts, ctx)
    assert rewards.shape == (5,)
    assert np.all(np.isfinite(rewards)) and len(np.unique(rewards)) == 5
    assert np.all(np.isfinite(spec_w1(forecasts, ctx)))


def test_reference_uses_most_recent_windows(context):
    ctx = np.concatenate([np.random.default_rng(2).standard_normal(400) * 100.0, context[-96:]])
    assert np.allclose(reference_spectrum(ctx, 96, max_windows=1), periodogram(context[-96:]))


def test_short_context_reference_is_interpolated_in_log_power():
    ctx = np.random.default_rng(3).standard_normal(48)
    ref = reference_spectrum(ctx, 96)
    # the forecast grid contains every context bin (k / 48 = 2k / 96) exactly
    assert np.allclose(ref[1::2], periodogram(ctx))
    assert np.allclose(np.log(ref[2:-1:2]), 0.5 * (np.log(ref[1:-2:2]) + np.log(ref[3::2])))


def test_spectral_reward_differs_for_different_forecasts(context):
    forecasts = np.random.default_rng(4).standard_normal((1000, 96))
    rewards = spectral_reward(forecasts, context)
    assert rewards.shape == (1000,)
    assert len(np.unique(rewards)) >= 900


def test_spectral_reward_is_scale_aware(context):
    rng = np.random.default_rng(5)
    matched = seasonal_series(96, rng, start=512)
    assert spectral_reward(matched, context) > spectral_reward(10.0 * matched, context)
    assert spectral_reward(matched, context) > spectral_reward(0.1 * matched, context)
    assert spectral_reward(matched, context) - spectral_reward(10.0 * matched, context) > 2.0


def test_history_like_texture_beats_white_noise_and_flat_line(context):
    rng = np.random.default_rng(6)
    continuation = np.stack([seasonal_series(96, rng, start=512) for _ in range(50)])
    white = rng.standard_normal((50, 96)) * continuation.std()
    flat = np.full((1, 96), context.mean())
    r_cont = spectral_reward(continuation, context)
    r_white = spectral_reward(white, context)
    assert np.mean(r_cont[:, None] > r_white[None, :]) > 0.99  # pairwise wins
    assert np.median(r_cont) - np.median(r_white) > 0.5
    assert r_cont.min() > spectral_reward(flat, context)[0]
    # a flat line is floored at 1e-3 of the reference's mean power: several nats off per bin
    assert spectral_distance(flat, context)[0] > 4.0 > 3 * np.median(-r_cont)


def test_band_weights_flip_which_mismatch_is_punished():
    rng = np.random.default_rng(7)
    t = np.arange(512 + 96)
    low = np.sin(2 * np.pi * t / 48)  # bin 2 of 48: low band
    high = 0.5 * np.sin(2 * np.pi * t / 2.5)  # 0.4 cycles/sample: high band
    series = low + high + 0.05 * rng.standard_normal(t.size)
    ctx, future = series[:512], series[512:]
    wrong_high = future - high[512:]  # right low band, missing high component
    wrong_low = future - low[512:]  # right high band, missing low component
    forecasts = np.stack([wrong_high, wrong_low])
    d_high = spectral_distance(forecasts, ctx, band_weights=(0.0, 0.0, 1.0))
    d_low = spectral_distance(forecasts, ctx, band_weights=(1.0, 0.0, 0.0))
    assert d_high[0] > d_high[1]
    assert d_low[1] > d_low[0]


@pytest.mark.parametrize("bad", [(1.0, 1.0), (0.0, 0.0, 0.0), (1.0, -1.0, 1.0), (np.nan, 1, 1)])
def test_invalid_band_weights_raise(context, bad):
    with pytest.raises(ValueError, match="band_weights"):
        spectral_reward(np.zeros(96), context, band_weights=bad)


def test_band_masks_split_bins_into_three_contiguous_thirds():
    for n_freq in [4, 12, 48, 49]:
        masks = band_masks(n_freq)
        assert masks.shape == (3, n_freq)
        assert np.all(masks.sum(axis=0) == 1) and np.all(masks.sum(axis=1) >= 1)
        band = masks.argmax(axis=0)
        assert np.all(np.diff(band) >= 0)


def test_reward_is_minus_gamma_times_distance(context):
    forecasts = np.random.default_rng(8).standard_normal((10, 96))
    d = spectral_distance(forecasts, context, band_weights=(1.0, 2.0, 3.0))
    r = spectral_reward(forecasts, context, gamma=2.5, band_weights=(1.0, 2.0, 3.0))
    assert np.all(d >= 0)
    assert np.allclose(r, -2.5 * d)
    reward = SpectralReward.from_context(context, 96, gamma=2.5, band_weights=(1.0, 2.0, 3.0))
    assert np.allclose(reward(forecasts), r)
    assert np.allclose(reward(forecasts[0]), r[:1])


def test_precomputed_reward_does_not_leak_between_contexts(context):
    other = 3.0 * np.random.default_rng(9).standard_normal(512)
    forecasts = np.random.default_rng(10).standard_normal((4, 96))
    first = spectral_reward(forecasts, context)
    spectral_reward(forecasts, other)
    assert np.array_equal(spectral_reward(forecasts, context), first)
    reward = SpectralReward.from_context(context, 96)
    with pytest.raises(ValueError):
        reward.reference[0] = 0.0


def test_reward_sees_only_forecasts_and_context():
    forbidden = re.compile(r"^(y|y_true|target|targets|future|truth|ground_truth|actual|label)")
    for fn in [spectral_reward, spectral_distance, spec_w1, reference_spectrum]:
        for name in inspect.signature(fn).parameters:
            assert not forbidden.match(name), f"{fn.__name__} takes {name!r}"
    for name in inspect.signature(SpectralReward.from_context).parameters:
        assert not forbidden.match(name)
    assert list(inspect.signature(SpectralReward.__call__).parameters) == ["self", "forecasts"]


def test_module_has_no_trapz_and_no_broad_except():
    source = Path(spectral.__file__).read_text()
    assert "trapz" not in source
    assert not re.search(r"except\s*:", source)
    assert not re.search(r"except\s+(BaseException|Exception)\b", source)
    assert "try:" not in source


@pytest.mark.parametrize(
    "forecasts, ctx_length", [(np.zeros(7), 512), (np.zeros(96), 7), (np.zeros((2, 2, 96)), 512)]
)
def test_too_short_or_misshaped_inputs_raise(forecasts, ctx_length):
    with pytest.raises(ValueError):
        spectral_reward(forecasts, np.random.default_rng(0).standard_normal(ctx_length))


def test_non_finite_inputs_raise(context):
    with pytest.raises(ValueError, match="NaN"):
        spectral_reward(np.full(96, np.nan), context)
    with pytest.raises(ValueError, match="NaN"):
        spectral_reward(np.zeros(96), np.where(np.arange(512) == 3, np.nan, context))


def test_constant_context_gives_finite_rewards_favoring_flat_forecasts():
    ctx = np.full(64, 2.0)
    rewards = spectral_reward(np.stack([np.full(24, 2.0), np.sin(np.arange(24))]), ctx)
    assert np.all(np.isfinite(rewards)) and rewards[0] > rewards[1]


def test_spec_w1_is_zero_for_identical_spectra_and_positive_otherwise(context):
    window = context[-96:]
    assert spec_w1(window, context[-96:]) == pytest.approx(0.0, abs=1e-15)
    noise = np.random.default_rng(11).standard_normal((5, 96))
    w1 = spec_w1(noise, context)
    assert np.all(w1 > 0) and np.all(w1 < 0.5)


def test_spec_w1_is_shape_only_while_reward_is_scale_aware(context):
    forecasts = np.random.default_rng(12).standard_normal((5, 96))
    assert np.allclose(spec_w1(7.0 * forecasts + 3.0, context), spec_w1(forecasts, context))
    assert np.allclose(spec_w1(forecasts, 5.0 * context), spec_w1(forecasts, context))
    assert not np.allclose(
        spectral_reward(7.0 * forecasts, context), spectral_reward(forecasts, context)
    )


def test_spec_w1_matches_a_direct_cdf_computation(context):
    forecasts = np.random.default_rng(13).standard_normal((3, 97))
    p = periodogram(forecasts)
    p /= p.sum(axis=1, keepdims=True)
    r = reference_spectrum(context, 97)
    r /= r.sum()
    expected = [sum(abs(np.cumsum(row) - np.cumsum(r))) / 97 for row in p]
    assert np.allclose(spec_w1(forecasts, context), expected)


def test_spec_w1_moves_with_the_distance_between_peaks():
    t = np.arange(96)
    ctx = np.sin(2 * np.pi * np.arange(512) * 10 / 96)
    near, far = np.sin(2 * np.pi * t * 12 / 96), np.sin(2 * np.pi * t * 30 / 96)
    w1 = spec_w1(np.stack([near, far]), ctx)
    assert w1[0] == pytest.approx(2 / 96, rel=0.05)
    assert w1[1] == pytest.approx(20 / 96, rel=0.05)


if __name__ == "__main__":
    import time

    ctx = seasonal_series(512, np.random.default_rng(0))
    forecasts = np.random.default_rng(1).standard_normal((1000, 96))
    times = []
    for _ in range(21):
        start = time.perf_counter()
        spectral_reward(forecasts, ctx)
        times.append(time.perf_counter() - start)
    print(f"spectral_reward 1000x96, context 512: median {1e3 * np.median(times):.2f} ms")
