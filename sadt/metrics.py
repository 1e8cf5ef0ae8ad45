"""Forecast accuracy metrics: CRPS, WQL, MASE, sMAPE, MSE, MAE (numpy, vectorized).

Conventions follow what Chronos / GluonTS report, so numbers compare with published ones:

* `crps` is the exact CRPS of the ensemble's empirical CDF (what properscoring's
  `crps_ensemble` computes): mean|X - y| - 0.5 mean|X - X'| over all n^2 pairs, i = j included.
* `wql` is GluonTS's mean weighted sum quantile loss over q = 0.1 .. 0.9, normalized by
  sum |y|; `WQLAccumulator` / `wql_dataset` sum numerators and denominators over many series
  before dividing, which is the dataset-level number Chronos reports.
* `mase` scales by the in-sample seasonal naive MAE of the history (GluonTS's seasonal error).

Metrics are computed in whatever scale the caller passes (original or normalized).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

DEFAULT_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def crps(samples: np.ndarray, y: np.ndarray | float) -> np.ndarray | float:
    """Sample-based CRPS per step: samples (n, *S), y (*S) -> (*S) (a float when y is scalar).

    The energy ("NRG") form mean_i|x_i - y| - 1/(2 n^2) sum_ij |x_i - x_j|, i.e. the exact
    CRPS of the empirical CDF (not the "fair" n(n-1) variant). The pair term is computed in
    O(n log n) by sorting: sum_ij |x_i - x_j| = 2 sum_k (2k - n + 1) x_(k), k = 0 .. n-1.
    """
    x = _finite(samples, "samples")
    y = _finite(y, "y")
    if x.ndim != y.ndim + 1 or x.shape[1:] != y.shape or x.shape[0] < 1:
        raise ValueError(f"samples must have shape (n, *{y.shape}) with n >= 1, got {x.shape}")
    n = x.shape[0]
    spread_weights = (2.0 * np.arange(n) - n + 1).reshape((n,) + (1,) * y.ndim)
    spread = (np.sort(x, axis=0) * spread_weights).sum(axis=0) / n**2
    score = np.abs(x - y).mean(axis=0) - spread
    return float(score) if y.ndim == 0 else score


def mean_crps(samples: np.ndarray, y: np.ndarray) -> float:
    """CRPS averaged over all steps: samples (n, H), y (H,) -> float."""
    return float(np.mean(crps(samples, y)))


def sample_quantiles(
    samples: np.ndarray, quantiles: Iterable[float] = DEFAULT_QUANTILES
) -> np.ndarray:
    """Empirical quantiles of a sample ensemble: (n, H) -> (Q, H) (np.quantile, linear)."""
    x = _finite(samples, "samples")
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"samples must have shape (n, H) with n >= 1, got {x.shape}")
    return np.quantile(x, _check_quantiles(quantiles), axis=0)


def quantile_loss(
    quantile_preds: np.ndarray, y: np.ndarray, quantiles: Iterable[float] = DEFAULT_QUANTILES
) -> np.ndarray:
    """Un-normalized quantile loss per level: 2 sum_t |(y_t - q̂_t)(1{y_t <= q̂_t} - q)| -> (Q,)."""
    q = _check_quantiles(quantiles)
    y = _finite(y, "y")
    preds = _finite(quantile_preds, "quantile_preds")
    if y.ndim != 1 or preds.shape != (q.size, y.size):
        raise ValueError(
            f"quantile_preds must have shape (Q, H) = ({q.size}, {y.size}) for y of shape (H,); "
            f"got quantile_preds {preds.shape}, y {y.shape}"
        )
    indicator = (y <= preds).astype(np.float64)
    return 2.0 * np.abs((y - preds) * (indicator - q[:, None])).sum(axis=1)


def wql(
    quantile_preds: np.ndarray, y: np.ndarray, quantiles: Iterable[float] = DEFAULT_QUANTILES
) -> float:
    """Mean weighted quantile loss of one series: quantile_preds (Q, H), y (H,) -> float.

    mean_q [2 sum_t |(y_t - q̂_t)(1{y_t <= q̂_t} - q)| / sum_t |y_t|] (GluonTS / Chronos).
    """
    acc = WQLAccumulator(tuple(_check_quantiles(quantiles)))
    acc.add(quantile_preds, y)
    return acc.value()


def wql_from_samples(
    samples: np.ndarray, y: np.ndarray, quantiles: Iterable[float] = DEFAULT_QUANTILES
) -> float:
    """`wql` with quantiles taken from a sample ensemble (n, H) by `sample_quantiles`."""
    return wql(sample_quantiles(samples, quantiles), y, quantiles)


@dataclass
class WQLAccumulator:
    """Dataset-level WQL: sums each level's loss and sum |y| over series, divides at the end."""

    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    loss_sums: np.ndarray = field(init=False)  # (Q,)
    abs_target_sum: float = field(init=False, default=0.0)
    n_series: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.quantiles = tuple(float(q) for q in _check_quantiles(self.quantiles))
        self.loss_sums = np.zeros(len(self.quantiles))

    def add(self, quantile_preds: np.ndarray, y: np.ndarray) -> None:
        """Add one series: quantile_preds (Q, H), y (H,)."""
        self.loss_sums = self.loss_sums + quantile_loss(quantile_preds, y, self.quantiles)
        self.abs_target_sum += float(np.abs(np.asarray(y, dtype=np.float64)).sum())
        self.n_series += 1

    def add_samples(self, samples: np.ndarray, y: np.ndarray) -> None:
        """Add one series from a sample ensemble (n, H)."""
        self.add(sample_quantiles(samples, self.quantiles), y)

    def value(self) -> float:
        """mean_q (sum over series of the q-loss) / (sum over series of sum |y|)."""
        if self.n_series == 0:
            raise ValueError("WQL of an empty set of series is undefined; add series first")
        if self.abs_target_sum == 0:
            raise ValueError("WQL is undefined when every target value is zero (sum |y| = 0)")
        return float(np.mean(self.loss_sums / self.abs_target_sum))


def wql_dataset(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]],
    quantiles: Iterable[float] = DEFAULT_QUANTILES,
) -> float:
    """Dataset-level WQL of (quantile_preds (Q, H), y (H,)) pairs, one pair per series."""
    acc = WQLAccumulator(tuple(_check_quantiles(quantiles)))
    for quantile_preds, y in pairs:
        acc.add(quantile_preds, y)
    return acc.value()


def seasonal_scale(history: np.ndarray, m: int) -> float:
    """In-sample seasonal naive MAE: mean_t |h_t - h_{t-m}|; m = 1 when len(history) <= m."""
    h = _finite(history, "history")
    if h.ndim != 1 or h.size < 2:
        raise ValueError(f"history must be 1-D with at least 2 values, got shape {h.shape}")
    if int(m) != m or m < 1:
        raise ValueError(f"seasonal period m must be an integer >= 1, got {m}")
    lag = int(m) if m < h.size else 1
    return float(np.abs(h[lag:] - h[:-lag]).mean())


def mase(point: np.ndarray, y: np.ndarray, history: np.ndarray, m: int = 1) -> float:
    """Mean absolute scaled error: MAE(point, y) / `seasonal_scale(history, m)`.

    Zero scale (a history that repeats exactly with period m, e.g. a constant): the result is
    0.0 when the forecast is exact and inf otherwise.
    """
    error = mae(point, y)
    scale = seasonal_scale(history, m)
    if scale == 0:
        return 0.0 if error == 0 else float("inf")
    return error / scale


def smape(point: np.ndarray, y: np.ndarray) -> float:
    """Symmetric MAPE in [0, 200]: 200 mean(|y - p| / (|y| + |p|)), with 0 / 0 := 0."""
    p, y = _pair(point, y)
    denom = np.abs(y) + np.abs(p)
    ratio = np.abs(y - p) / np.where(denom > 0, denom, 1.0)
    return float(200.0 * ratio.mean())


def mse(point: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error over all steps."""
    p, y = _pair(point, y)
    return float(np.mean((p - y) ** 2))


def mae(point: np.ndarray, y: np.ndarray) -> float:
    """Mean absolute error over all steps."""
    p, y = _pair(point, y)
    return float(np.mean(np.abs(p - y)))


def _finite(a: np.ndarray | float, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a


def _pair(point: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, y = _finite(point, "point forecast"), _finite(y, "y")
    if p.shape != y.shape or y.size == 0:
        raise ValueError(
            f"point forecast and y must have one non-empty shape: {p.shape} vs {y.shape}"
        )
    return p, y


def _check_quantiles(quantiles: Iterable[float]) -> np.ndarray:
    q = np.asarray(tuple(quantiles), dtype=np.float64)
    if q.ndim != 1 or q.size == 0 or not np.all((q > 0) & (q < 1)):
        raise ValueError(f"quantiles must be a non-empty list of levels in (0, 1), got {q}")
    return q
