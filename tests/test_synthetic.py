"""The synthetic series carry exactly what their attribute record says, checked from the numbers."""

import json

import numpy as np
import pytest

from sadt.synthetic import (
    Seasonality,
    SeriesAttributes,
    SyntheticConfig,
    generate,
    generate_batch,
)

CONFIG = SyntheticConfig()


@pytest.fixture(scope="module")
def batch():
    return generate_batch(600, seed=7)


def base_units(x, a):
    """The series in base units (level removed, scale divided out)."""
    return (x - a.level) / a.scale


def design(a, *, trend_degree=3, seasonal=True, spikes=False):
    """Least-squares regressors for the components the record names: (length, k)."""
    n, i = a.length, np.arange(a.length)
    t = np.linspace(-1.0, 1.0, n)
    cols = [t**k for k in range(trend_degree + 1)]
    cols += [(i >= s).astype(float) for s in a.level_shifts]
    for s in a.seasonalities if seasonal else ():
        for harmonic in (1, 2):
            w = 2 * np.pi * harmonic * i / s.period
            cols += [np.sin(w), np.cos(w)]
    cols += [(i == s).astype(float) for s in (a.spikes if spikes else ())]
    return np.stack(cols, axis=1)


def fit(z, X):
    beta, *_ = np.linalg.lstsq(X, z, rcond=None)
    return beta, z - X @ beta


def without_spikes(z, a):
    z = z.copy()
    for s in a.spikes:
        z[s] = np.median(z[max(0, s - 3) : s + 4])
    return z


def strongest_period(z, nuisance, periods):
    """The candidate period with the largest sine amplitude when `z` is fitted jointly by the
    `nuisance` regressors (trend, steps) and a sine and cosine at every candidate period: a
    least-squares line spectrum, which a polynomial detrend cannot bias against long cycles."""
    w = 2 * np.pi * np.arange(len(z))[:, None] / np.asarray(periods)
    beta, _ = fit(z, np.column_stack([nuisance, np.sin(w), np.cos(w)]))
    sines = beta[nuisance.shape[1] :].reshape(2, len(periods))
    return periods[int(np.argmax(np.hypot(*sines)))]


# --- reproducibility and records ------------------------------------------------------------


def test_same_seed_gives_identical_series_and_attributes():
    x1, a1 = generate(np.random.default_rng(3))
    x2, a2 = generate(np.random.default_rng(3))
    np.testing.assert_array_equal(x1, x2)
    assert a1 == a2


def test_different_seeds_give_different_series():
    x1, _ = generate(np.random.default_rng(1), length=100)
    x2, _ = generate(np.random.default_rng(2), length=100)
    assert not np.allclose(x1, x2)


def test_batch_item_depends_only_on_seed_and_index():
    short, long = generate_batch(3, seed=11), generate_batch(6, seed=11)
    for (x1, a1), (x2, a2) in zip(short, long[:3], strict=True):
        np.testing.assert_array_equal(x1, x2)
        assert a1 == a2


def test_attributes_round_trip_through_json(batch):
    for _, a in batch[:50]:
        assert SeriesAttributes.from_dict(json.loads(json.dumps(a.to_dict()))) == a


def test_config_round_trips_through_dict():
    cfg = SyntheticConfig(max_length=300, periods=(7, 24, 96))
    assert SyntheticConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_config_rejects_a_noise_band_that_crosses_its_threshold():
    with pytest.raises(ValueError, match="noise band"):
        SyntheticConfig(noise_bands=((0.02, 0.15), (0.15, 0.25), (0.35, 0.5)))


def test_unknown_override_is_rejected():
    with pytest.raises(ValueError, match="unknown overrides"):
        generate(np.random.default_rng(0), periodicity=24)


def test_overrides_force_the_attributes():
    x, a = generate(
        np.random.default_rng(0),
        length=200, trend="up", trend_shape="linear", seasonalities=[(24, 1.0)], noise="low",
        random_walk=False, level_shifts=(90,), spikes=0, level=50.0, scale=2.0,
    )  # fmt: skip
    assert x.shape == (200,)
    assert (a.trend, a.trend_shape, a.noise, a.random_walk) == ("up", "linear", "low", False)
    assert a.seasonalities == (Seasonality(24, 1.0),)
    assert a.dominant_period == 24
    assert (a.level_shifts, a.spikes, a.level, a.scale) == ((90,), (), 50.0, 2.0)


def test_counts_as_overrides_place_that_many_components():
    for seed in range(20):
        _, a = generate(np.random.default_rng(seed), length=400, seasonalities=2, level_shifts=2,
                        spikes=4)  # fmt: skip
        assert (len(a.seasonalities), len(a.level_shifts), len(a.spikes)) == (2, 2, 4)


def test_default_batch_covers_every_attribute_value(batch):
    attrs = [a for _, a in batch]
    assert {a.trend for a in attrs} == {"none", "up", "down"}
    assert {a.trend_shape for a in attrs} == {"none", "linear", "curved"}
    assert {a.noise for a in attrs} == {"low", "medium", "high"}
    assert {len(a.seasonalities) for a in attrs} == {0, 1, 2}
    assert {len(a.level_shifts) for a in attrs} == {0, 1, 2}
    assert {len(a.spikes) for a in attrs} == {0, 1, 2, 3, 4}
    assert {a.random_walk for a in attrs} == {False, True}


def test_values_are_in_realistic_units(batch):
    for x, a in batch:
        assert CONFIG.min_length <= len(x) == a.length <= CONFIG.max_length
        assert CONFIG.level_range[0] <= a.level <= CONFIG.level_range[1]
        assert CONFIG.scale_range[0] <= a.scale <= CONFIG.scale_range[1]
        assert np.all(np.isfinite(x))


def test_level_is_the_series_mean_up_to_noise():
    for seed in range(50):
        x, a = generate(np.random.default_rng(seed), spikes=0)
        assert abs(x.mean() - a.level) <= 5 * a.scale * a.noise_std / np.sqrt(a.length)


# --- each attribute is visible in the numbers ------------------------------------------------


def test_seasonalities_are_sorted_distinct_and_fit_in_the_series(batch):
    for _, a in batch:
        amplitudes = [s.amplitude for s in a.seasonalities]
        assert amplitudes == sorted(amplitudes, reverse=True)
        assert all(a.length >= CONFIG.min_cycles * s.period for s in a.seasonalities)
        if len(a.seasonalities) == 2:
            short, long = sorted(s.period for s in a.seasonalities)
            assert long >= 3 * short


def test_dominant_period_has_the_largest_fitted_amplitude_among_candidate_periods(batch):
    seasonal = [(x, a) for x, a in batch if a.seasonalities]
    for x, a in seasonal:
        z = without_spikes(base_units(x, a), a)
        candidates = CONFIG.allowed_periods(a.length)
        assert strongest_period(z, design(a, seasonal=False), candidates) == a.dominant_period, a


def test_a_single_cycle_is_the_peak_of_the_plain_periodogram():
    rng = np.random.default_rng(4)
    for _ in range(100):
        x, a = generate(rng, trend="none", seasonalities=1, level_shifts=0, random_walk=False)
        power = np.abs(np.fft.rfft(x - x.mean())) ** 2  # bin k: k cycles per series
        assert abs(np.argmax(power) - a.length / a.dominant_period) <= 1, a


def test_every_cycle_stands_above_the_noise(batch):
    for _, a in batch:
        assert all(s.amplitude >= a.noise_std for s in a.seasonalities)


def test_up_and_down_trends_separate_the_first_and_last_fifths():
    rng = np.random.default_rng(5)
    for trend, sign in (("up", 1.0), ("down", -1.0)):
        for _ in range(150):
            x, a = generate(rng, trend=trend)
            fifth = a.length // 5
            change = x[-fifth:].mean() - x[:fifth].mean()
            assert sign * change > 1.0 * x.std(), a


def test_no_trend_means_a_small_least_squares_slope():
    rng = np.random.default_rng(6)
    for _ in range(300):
        x, a = generate(rng, trend="none", level_shifts=0)
        z = without_spikes(base_units(x, a), a)
        beta, _ = fit(z, design(a, trend_degree=1))
        assert abs(beta[1] * 2) < 0.75 * z.std(), a  # change across t in [-1, 1]


def test_noise_label_matches_the_noise_to_signal_ratio():
    low, high = CONFIG.noise_thresholds
    rng = np.random.default_rng(8)
    for _ in range(150):
        # The exact model for these: a line, sines and harmonics, steps and spike indicators.
        x, a = generate(rng, trend_shape="linear", random_walk=False, length=1024)
        if a.trend == "none" and not a.seasonalities and not a.level_shifts:
            continue  # pure noise: no signal to judge it against (documented)
        z = base_units(x, a)
        X = design(a, trend_degree=1, spikes=True)
        beta, residual = fit(z, X)
        noise_std = residual.std() * np.sqrt(a.length / (a.length - X.shape[1]))
        smooth = X[:, : X.shape[1] - len(a.spikes)] @ beta[: X.shape[1] - len(a.spikes)]
        ratio = noise_std / smooth.std()
        label = "low" if ratio < low else "medium" if ratio < high else "high"
        assert label == a.noise, (ratio, a)
        assert noise_std == pytest.approx(a.noise_std, rel=0.1)


def test_spikes_are_the_largest_residuals_by_over_four_noise_std(batch):
    for x, a in batch:
        if not a.spikes:
            continue
        z = base_units(x, a)
        _, residual = fit(z, design(a))
        # A running median removes what the cubic leaves of curved trends and random walks.
        padded = np.pad(residual, 4, mode="edge")
        local = np.median(np.lib.stride_tricks.sliding_window_view(padded, 9), axis=1)
        outlier = np.abs(residual - local)
        largest = np.argsort(outlier)[::-1][: len(a.spikes)]
        assert set(largest.tolist()) == set(a.spikes), a
        assert np.all(outlier[list(a.spikes)] > 4 * a.noise_std)


def test_level_shifts_sit_where_the_level_steps(batch):
    for x, a in batch:
        n = a.length
        assert all(0.15 * n <= s <= 0.85 * n for s in a.level_shifts)
        assert np.all(np.diff(a.level_shifts) >= 0.2 * n)
        if not a.level_shifts:
            continue
        z = without_spikes(base_units(x, a), a)
        X = design(a)
        beta, residual = fit(z, X)
        for k, shift in enumerate(a.level_shifts):
            step = beta[4 + k]  # the steps follow the four cubic-trend columns
            assert abs(step) > 1.5 * a.noise_std  # >= 4 when built; the fit shares it with the walk
            # Moving this one step a few places off its index fits clearly worse.
            with_step = residual + step * X[:, 4 + k]
            sse = {c: np.sum((with_step - step * (np.arange(n) >= c)) ** 2)
                   for c in range(shift - 10, shift + 11)}  # fmt: skip
            assert abs(min(sse, key=sse.get) - shift) <= 2, (shift, a)
