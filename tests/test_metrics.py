"""Specification of the forecast metrics (sadt.metrics)."""

import numpy as np
import properscoring
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from sadt.metrics import (
    DEFAULT_QUANTILES,
    WQLAccumulator,
    crps,
    mae,
    mase,
    mean_crps,
    mse,
    quantile_loss,
    sample_quantiles,
    seasonal_scale,
    smape,
    wql,
    wql_dataset,
    wql_from_samples,
)


@pytest.mark.parametrize("n", [1, 2, 3, 10, 101, 400])
def test_crps_agrees_with_properscoring_crps_ensemble(n):
    rng = np.random.default_rng(n)
    samples = rng.normal(size=(n, 24)) * 2.0 + 1.0
    y = rng.normal(size=24) * 2.0
    expected = properscoring.crps_ensemble(y, samples.T)
    assert np.allclose(crps(samples, y), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("n", [1, 4, 50])
def test_crps_agrees_with_properscoring_with_ties(n):
    rng = np.random.default_rng(100 + n)
    samples = rng.integers(-2, 3, size=(n, 30)).astype(float)
    y = rng.integers(-2, 3, size=30).astype(float)  # ties between y and members too
    expected = properscoring.crps_ensemble(y, samples.T)
    assert np.allclose(crps(samples, y), expected, rtol=0, atol=1e-9)


def test_crps_of_one_member_is_absolute_error_and_scalar_y_gives_float():
    assert crps(np.array([[3.0, -1.0]]), np.array([1.0, 1.0])) == pytest.approx([2.0, 2.0])
    value = crps(np.array([0.0, 1.0]), 0.0)
    assert isinstance(value, float)
    assert value == pytest.approx(0.5 - 0.5 * 0.5)  # mean|X - y| - 0.5 mean|X - X'|


def test_crps_is_the_energy_form_over_all_pairs():
    rng = np.random.default_rng(1)
    samples, y = rng.normal(size=(7, 5)), rng.normal(size=5)
    pairs = np.abs(samples[:, None, :] - samples[None, :, :]).mean(axis=(0, 1))
    assert np.allclose(crps(samples, y), np.abs(samples - y).mean(axis=0) - 0.5 * pairs)


def gaussian_crps(mu, sigma, y):
    z = (y - mu) / sigma
    return sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))


@pytest.mark.parametrize("n", [100, 1_000, 10_000, 100_000])
def test_crps_of_gaussian_ensemble_approaches_closed_form(n):
    rng = np.random.default_rng(n)
    mu, sigma = 1.5, 2.0
    y = mu + sigma * np.linspace(-3.0, 3.0, 16)
    samples = rng.normal(mu, sigma, size=(n, y.size))
    error = np.abs(crps(samples, y) - gaussian_crps(mu, sigma, y))
    assert error.max() < 5.0 * sigma / np.sqrt(n)
    assert mean_crps(samples, y) == pytest.approx(
        gaussian_crps(mu, sigma, y).mean(), abs=3.0 * sigma / np.sqrt(n)
    )


def test_crps_rejects_mismatched_shapes_and_nan():
    with pytest.raises(ValueError, match="shape"):
        crps(np.zeros((4, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        crps(np.zeros((4, 3)), np.array([0.0, np.nan, 0.0]))


def wql_by_loops(quantile_preds, y, quantiles):
    per_level = []
    for i, q in enumerate(quantiles):
        loss = 0.0
        for t in range(len(y)):
            pred = quantile_preds[i][t]
            loss += 2 * abs((y[t] - pred) * ((1.0 if y[t] <= pred else 0.0) - q))
        per_level.append(loss / sum(abs(v) for v in y))
    return sum(per_level) / len(per_level)


def test_wql_matches_hand_computed_tiny_example():
    # q=0.1, preds [0, 0]: 2 (0.1 + 0.2) / 3 = 0.2;  q=0.5, preds [2, 2]: 2 (0.5 + 0) / 3 = 1/3
    preds, y = np.array([[0.0, 0.0], [2.0, 2.0]]), np.array([1.0, 2.0])
    assert wql(preds, y, quantiles=(0.1, 0.5)) == pytest.approx((0.2 + 1 / 3) / 2)
    assert quantile_loss(preds, y, quantiles=(0.1, 0.5)) == pytest.approx([0.6, 1.0])


def test_wql_matches_a_direct_loop_implementation():
    rng = np.random.default_rng(2)
    for _ in range(5):
        y = rng.normal(size=48) + 3.0
        preds = np.sort(rng.normal(size=(9, 48)), axis=0) + 3.0
        expected = wql_by_loops(preds, y, DEFAULT_QUANTILES)
        assert wql(preds, y) == pytest.approx(expected, rel=1e-12)


def test_wql_of_perfect_quantiles_is_zero():
    y = np.random.default_rng(3).normal(size=48) + 10.0
    assert wql(np.tile(y, (9, 1)), y) == 0.0


def test_wql_from_samples_uses_numpy_quantiles():
    rng = np.random.default_rng(4)
    samples, y = rng.normal(size=(100, 48)) + 5.0, rng.normal(size=48) + 5.0
    preds = np.quantile(samples, DEFAULT_QUANTILES, axis=0)
    assert np.allclose(sample_quantiles(samples), preds)
    assert wql_from_samples(samples, y) == pytest.approx(wql(preds, y))


def test_dataset_wql_sums_numerators_and_denominators_before_dividing():
    rng = np.random.default_rng(5)
    series = [(rng.normal(size=(9, 24)) * s, rng.normal(size=24) * s) for s in (1.0, 10.0, 0.1)]
    pooled_preds = np.concatenate([p for p, _ in series], axis=1)
    pooled_y = np.concatenate([y for _, y in series])
    assert wql_dataset(series) == pytest.approx(wql(pooled_preds, pooled_y))
    assert wql_dataset(series) != pytest.approx(np.mean([wql(p, y) for p, y in series]))
    acc = WQLAccumulator()
    acc.add(*series[0])
    acc.add_samples(rng.normal(size=(50, 24)), series[1][1])
    assert acc.n_series == 2 and np.isfinite(acc.value())


def test_wql_rejects_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        wql(np.zeros((3, 5)), np.ones(5))  # 3 rows for 9 default levels
    with pytest.raises(ValueError, match="zero"):
        wql(np.zeros((9, 5)), np.zeros(5))
    with pytest.raises(ValueError, match="quantiles"):
        wql(np.zeros((1, 5)), np.ones(5), quantiles=(1.5,))
    with pytest.raises(ValueError, match="empty"):
        WQLAccumulator().value()


def test_mase_matches_hand_computed_values():
    history = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert mase(np.array([6.0, 7.0]), np.array([6.0, 8.0]), history, m=1) == pytest.approx(0.5)
    seasonal = np.array([1.0, 3.0, 1.0, 3.0, 2.0])  # lag-2 gaps 0, 0, 1
    assert seasonal_scale(seasonal, 2) == pytest.approx(1 / 3)
    assert mase(np.array([0.0]), np.array([1.0]), seasonal, m=2) == pytest.approx(3.0)


def test_mase_falls_back_to_lag_one_when_history_is_shorter_than_the_period():
    history = np.array([1.0, 4.0, 2.0])  # lag-1 gaps 3, 2
    assert seasonal_scale(history, 24) == pytest.approx(2.5)
    assert mase(np.array([0.0, 0.0]), np.array([5.0, 5.0]), history, m=24) == pytest.approx(2.0)


def test_mase_with_zero_scale_is_zero_when_exact_and_inf_otherwise():
    flat = np.full(10, 4.0)
    assert mase(np.array([4.0, 4.0]), np.array([4.0, 4.0]), flat, m=2) == 0.0
    assert mase(np.array([4.0, 5.0]), np.array([4.0, 4.0]), flat, m=2) == np.inf


def test_mase_rejects_too_short_history_and_bad_period():
    with pytest.raises(ValueError, match="history"):
        mase(np.zeros(2), np.zeros(2), np.zeros(1), m=1)
    with pytest.raises(ValueError, match="period"):
        mase(np.zeros(2), np.zeros(2), np.zeros(10), m=0)


def test_smape_hand_values_and_zero_over_zero():
    assert smape(np.array([1.0]), np.array([1.0])) == 0.0
    assert smape(np.array([0.0]), np.array([0.0])) == 0.0
    assert smape(np.array([1.0]), np.array([-1.0])) == pytest.approx(200.0)
    assert smape(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(50.0)


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(np.float64, 12, elements=st.floats(-1e6, 1e6)),
    hnp.arrays(np.float64, 12, elements=st.floats(-1e6, 1e6)),
)
def test_smape_stays_within_0_and_200(point, y):
    assert 0.0 <= smape(point, y) <= 200.0


def test_mse_and_mae_and_shape_checks():
    point, y = np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 1.0])
    assert mse(point, y) == pytest.approx(13 / 3)
    assert mae(point, y) == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="shape"):
        mae(np.zeros(3), np.zeros(4))
