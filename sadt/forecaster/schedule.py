"""The noise schedule and the stochastic DDIM (eta = 1) transition of the forecaster's DDPM.

Continuous time t in [0, 1]; the cosine schedule is written in log-SNR form
(Hoogeboom et al., "simple diffusion"): logsnr(t) = -2 log tan(a t + b), so that
logsnr(0) = logsnr_max and logsnr(1) = logsnr_min, and alpha_bar(t) = sigmoid(logsnr(t)).
The forward process is x_t = sqrt(alpha_bar) x_0 + sqrt(1 - alpha_bar) eps.

Sampling uses S levels: level k in 0..S sits at t = k / S; level 0 is the clean sample
(alpha_bar = 1 exactly), level S the top (alpha_bar ~ 5e-5 with the default logsnr_min = -10,
so x_S ~ N(0, I) up to a negligible mismatch).
"""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np


def cosine_logsnr(t: mx.array, logsnr_min: float, logsnr_max: float) -> mx.array:
    """log(alpha_bar / (1 - alpha_bar)) of the cosine schedule at times t in [0, 1]."""
    b = math.atan(math.exp(-0.5 * logsnr_max))
    a = math.atan(math.exp(-0.5 * logsnr_min)) - b
    return -2.0 * mx.log(mx.tan(a * t + b))


def level_alpha_bars(num_steps: int, logsnr_min: float, logsnr_max: float) -> np.ndarray:
    """alpha_bar at the S + 1 sampling levels: (S + 1,) float64, index 0 = clean (1.0)."""
    t = np.arange(num_steps + 1, dtype=np.float64) / num_steps
    b = math.atan(math.exp(-0.5 * logsnr_max))
    a = math.atan(math.exp(-0.5 * logsnr_min)) - b
    logsnr = -2.0 * np.log(np.tan(a * t + b))
    alpha_bars = 1.0 / (1.0 + np.exp(-logsnr))
    alpha_bars[0] = 1.0  # level 0 is the data itself
    return alpha_bars


def level_times(num_steps: int) -> np.ndarray:
    """Continuous time of each sampling level: (S + 1,) float32, t_k = k / S."""
    return (np.arange(num_steps + 1) / num_steps).astype(np.float32)


def ddim_coefficients(num_steps: int, logsnr_min: float, logsnr_max: float) -> np.ndarray:
    """Per-level coefficients of the eta = 1 DDIM transition from level k to k - 1.

    Returns (S + 1, 5) float32 rows [sqrt(ab_k), sqrt(1 - ab_k), sqrt(ab_{k-1}), c_eps, sigma]
    (row 0 unused), where sigma^2 = (1 - ab_{k-1}) / (1 - ab_k) * (1 - ab_k / ab_{k-1}) is the
    DDPM posterior variance of the skipped-step chain and c_eps = sqrt(1 - ab_{k-1} - sigma^2).
    From level 1, ab_0 = 1 so sigma = c_eps = 0: the last step adds no noise.
    """
    ab = level_alpha_bars(num_steps, logsnr_min, logsnr_max)
    rows = np.zeros((num_steps + 1, 5))
    for k in range(1, num_steps + 1):
        ab_t, ab_s = ab[k], ab[k - 1]
        var = (1.0 - ab_s) / (1.0 - ab_t) * (1.0 - ab_t / ab_s)
        c_eps = math.sqrt(max(1.0 - ab_s - var, 0.0))
        rows[k] = (math.sqrt(ab_t), math.sqrt(1.0 - ab_t), math.sqrt(ab_s), c_eps, math.sqrt(var))
    return rows.astype(np.float32)


def ddim_transition(
    x0_hat: mx.array, eps_hat: mx.array, coefficients: mx.array, noise: mx.array
) -> mx.array:
    """x_{k-1} from the denoiser's (x0_hat, eps_hat) for rows at their own levels k.

    x0_hat, eps_hat, noise: (B, H); coefficients: (B, 5) rows of `ddim_coefficients` gathered
    by each row's level. Returns x_prev (B, H): sqrt(ab_{k-1}) x0_hat + c_eps eps_hat + sigma noise.
    Plain arithmetic: numpy arrays work too (ForecastChain.step_from_x0 uses it in float64).
    """
    sqrt_ab_prev, c_eps, sigma = (coefficients[:, i : i + 1] for i in (2, 3, 4))
    return sqrt_ab_prev * x0_hat + c_eps * eps_hat + sigma * noise
