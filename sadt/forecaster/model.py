"""The conditional diffusion forecaster: a DDPM over the normalized horizon given the context.

Scales. A context is z-scored by its own location and scale (`normalize_context`, by the
whole context or its recent half: `ForecasterConfig.scaling`); the horizon is
modelled in that same normalized space and mapped back to the original scale only in
`sample` / `sample_many`. Every array below is normalized unless its name says otherwise.

Architecture (all MLPs: cheap on a CPU, and they batch well):

* `ContextEncoder`: [context * mask, mask] (2L) -> residual MLP (dropout while training)
  -> features (D).
* mean path: mu = Linear(L -> H)(context) [+ Linear(D -> H)(features)], trained by its own
  MSE loss: the point forecast the diffusion is centred on (a linear map of a z-scored context
  is a strong forecaster on ETTh1; DLinear/RLinear).
* `Denoiser`: input u = x_t - sqrt(ab) mu, i.e. the noised *residual* x_0 - mu at the same
  noise level, so the DDPM over x_0 is exactly a DDPM over the residual shifted by a known
  mean: honest ancestral transitions whose noise only has to model the spread around mu.
  Residual MLP blocks conditioned by a modulation = (context part + time part): a per-row
  shift added inside each block's first GEMM (or LayerNorm + FiLM with `denoiser_film`).
  Both parts are additive, so the context part is computed once per context in `encode` and
  the time part once per sampling level: a denoiser call costs little beyond its matmuls.
* The network predicts v (or eps); step() turns it into eps_hat and x0_hat exactly, so the
  transition is the usual eps-form DDIM/DDPM step either way.

`encode` returns cond = [mu (H) | context modulation (M)]: (B, H + M); `mean_path(cond)` is mu.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from mlx.utils import tree_flatten

from sadt import files
from sadt.forecaster.bases import NUM_BASES, NUM_FEATURES, base_forecasts
from sadt.forecaster.schedule import cosine_logsnr, ddim_coefficients, ddim_transition, level_times
from sadt.settings import checked

PREDICTIONS = ("epsilon", "v")
LOG_SCALE_MIN, LOG_SCALE_MAX = -9.0, 3.0  # the residual spread s, normalized units
RESIDUAL_CLIP = 20.0  # |scaled residual| cap while training (a spread far too small early)


@dataclass
class ForecasterConfig:
    context_length: int = 512  # L: longer contexts keep their last L points, shorter are padded
    horizon: int = 96  # H
    num_steps: int = 20  # S: DDIM levels used by step() / sample() (the tree's depth)
    encoder_dim: int = 256  # D: context feature width
    encoder_hidden: int = 512
    encoder_blocks: int = 2
    encoder_dropout: float = 0.0  # on the encoder's hidden units and features, training only
    feature_mean: bool = True  # mean path = linear map + a term from the encoder's features
    denoiser_dim: int = 256
    denoiser_hidden: int = 512
    denoiser_blocks: int = 3
    # False: each block's first matmul adds a per-row shift inside the GEMM (addmm), no norm:
    # 0.68-0.78x numpy GEMM throughput at batch 64-256. True: LayerNorm + FiLM (shift, scale)
    # per block: 0.56-0.62x, same ETTh1 CRPS, M4 WQL 0.031 vs 0.034 (bench/results, B5).
    denoiser_film: bool = False
    time_features: int = 64  # sinusoidal features of t before the time MLP
    # Network target; either way step() forms eps_hat and x0_hat from it exactly. "v" is the
    # default: with "epsilon", x0_hat = (x_t - sqrt(1-ab) eps_hat) / sqrt(ab) multiplies a 1%
    # eps error by ~150 at the top level and the samples blow up (measured on ETTh1).
    prediction: str = "v"
    logsnr_min: float = -10.0  # at t = 1 (alpha_bar ~ 4.5e-5)
    logsnr_max: float = 10.0  # at t = 0
    # Relative std floor of the context z-score: max(std, f * |mean|). Relative only, so a
    # series forecasts the same in any unit (an absolute floor made 1e-7-scale series noise).
    std_floor: float = 1e-9
    # How a context is scaled (`context_scale`): "context" (its whole mean and std) or
    # "recent" (its last half, robustly floored: old outliers do not squash recent points).
    scaling: str = "context"
    # |normalized context| cap at inference; set it to the trainer's value_clip, so a
    # context is seen as the trainer's windows were (None: no cap, as older folders had).
    input_clip: float | None = None
    # True: the mean path blends classical base forecasts (sadt.forecaster.bases: naive,
    # seasonal naive at the context's own periods, drift, ...) with per-step learned weights,
    # and the encoder reads them too. Frequency-free structure: what lets one model forecast
    # minutes to years. False: the mean path is a linear map over absolute positions.
    blend_bases: bool = False
    # Training loss of the mean path: "mse" (its mean) or "l1" (its median: robust to the
    # jumps and outliers of real series, and the point MASE scores).
    mean_loss: str = "mse"
    # True: a scale head predicts a per-step spread s (B, H) beside the mean path (both
    # trained by the Laplace likelihood |y - mu| / s + log s: mu the median, s its mean
    # absolute deviation), as a multiple of the naive forecast's error h steps ahead in the
    # context (with blend_bases), and the diffusion runs on (x_0 - mu) / s. Every
    # context's residual is then of unit size, smooth series or noisy, so the denoiser's
    # noise matches the history's texture from the start; mean_loss is then unused.
    scaled_residual: bool = False

    def __post_init__(self):
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {self.prediction!r}")
        if self.scaled_residual and self.prediction != "v":
            raise ValueError("scaled_residual needs prediction 'v'")
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {SCALINGS}, got {self.scaling!r}")
        if self.mean_loss not in ("mse", "l1"):
            raise ValueError(f"mean_loss must be 'mse' or 'l1', got {self.mean_loss!r}")
        for name in ("context_length", "horizon", "num_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def modulation_dim(self) -> int:
        """Input bias + per block (shift, scale) [film] or a hidden-unit shift [no film]."""
        per_block = 2 * self.denoiser_dim if self.denoiser_film else self.denoiser_hidden
        return self.denoiser_dim + self.denoiser_blocks * per_block

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ForecasterConfig:
        return cls(**checked(cls, d, "forecaster model"))


SCALINGS = ("context", "recent")
RECENT_MIN = 32  # "recent" scaling reads at least this many points (or all there are)
ROBUST_FLOOR = 0.1  # "recent" std floor, as a fraction of the whole context's robust std
# "recent": a window whose std is over BURSTY x its robust std while its last points sit in
# its bulk is bursty (web traffic, network bytes: a baseline with rare huge bursts); it is
# scaled by its median and robust std, or the bursts set the scale and the forecast's median
# lands at their mean, far above the baseline the series returns to.
BURSTY = 3.0


def context_scale(context: np.ndarray, mask: np.ndarray, std_floor: float, scaling="context"):
    """Per-row location and scale of the observed context: (B, L), (B, L) -> (B,), (B,) float64.

    ``"context"``: the mean and std of the whole observed context. ``"recent"``: those of its
    last half (at least `RECENT_MIN` points), the std floored at `ROBUST_FLOOR` x the whole
    context's robust std (1.4826 MAD), so a few huge old values (a disaster year, a crash)
    no longer squash the recent points together, and a calm recent stretch of a wild series
    does not blow up; a bursty window is scaled by its median and robust std
    (`_unless_bursty`). Either way the std is floored at ``std_floor * |location|`` (float
    noise on a near-constant series must not become a signal), a row whose window has no
    spread falls back to the whole context's std, and one with no spread at all gets 1."""
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
    mask = np.asarray(mask, dtype=np.float64)
    count = np.maximum(mask.sum(axis=1), 1.0)
    mean = (context * mask).sum(axis=1) / count
    full_std = np.sqrt((((context - mean[:, None]) * mask) ** 2).sum(axis=1) / count)
    if scaling == "context":
        std = full_std
    else:
        # Rank of each observed point counted from the end: 1 for the last one.
        rank = np.cumsum(mask[:, ::-1], axis=1)[:, ::-1]
        width = np.maximum(np.minimum(count, RECENT_MIN), np.floor(count / 2))
        window = mask * (rank <= width[:, None])
        wcount = np.maximum(window.sum(axis=1), 1.0)
        mean = (context * window).sum(axis=1) / wcount
        std = np.sqrt((((context - mean[:, None]) * window) ** 2).sum(axis=1) / wcount)
        mean, std = _unless_bursty(context, window, rank, mean, std)
        observed = np.where(mask > 0, context, np.nan)
        with np.errstate(all="ignore"):
            median = np.nanmedian(observed, axis=1)
            mad = np.nanmedian(np.abs(observed - median[:, None]), axis=1)
        std = np.maximum(std, ROBUST_FLOOR * 1.4826 * np.nan_to_num(mad))
    std = np.maximum(std, std_floor * np.abs(mean))
    std = np.where(std > 0, std, full_std)
    return mean, np.where(std > 0, std, 1.0)


def _unless_bursty(context, window, rank, mean, std):
    """(location, scale) of each row's window: its median and robust std (1.4826 MAD) when
    it is bursty (`BURSTY`) and its last 5 points' median lies within 2 robust stds of its
    median (a climb, gold's prices or a GDP, ends at the edge of its values: not bursty);
    else the given mean and std."""
    inside = np.where(window > 0, context, np.nan)
    last = np.where((window > 0) & (rank <= 5), context, np.nan)
    with np.errstate(all="ignore"):
        median = np.nanmedian(inside, axis=1)
        robust = np.nan_to_num(1.4826 * np.nanmedian(np.abs(inside - median[:, None]), axis=1))
        now = np.nanmedian(last, axis=1)
    bursty = (robust > 0) & (std > BURSTY * robust) & (np.abs(now - median) <= 2 * robust)
    return np.where(bursty, median, mean), np.where(bursty, robust, std)


def normalize_context(
    context: np.ndarray,
    length: int,
    std_floor: float = 1e-9,
    scaling: str = "context",
    clip: float | None = None,
):
    """Raw context (L',) original scale -> (values (L,), mask (L,), mean, std).

    Scaled by `context_scale` (``scaling``) and clipped to +-``clip`` when given (the
    trainer clips its windows so); contexts longer than `length` keep their last `length`
    points, shorter ones are left-padded with zeros and mask 0 (values float32).
    """
    c = np.asarray(context, dtype=np.float64).reshape(-1)[-length:]
    if c.size == 0:
        raise ValueError("the context is empty")
    values, mask = np.zeros(length), np.zeros(length)
    values[length - c.size :], mask[length - c.size :] = c, 1.0
    mean, std = context_scale(values[None], mask[None], std_floor, scaling)
    values = (values - mean[0]) / std[0] * mask
    if clip is not None:
        values = np.clip(values, -clip, clip)
    return values.astype(np.float32), mask.astype(np.float32), float(mean[0]), float(std[0])


class ResidualMLP(nn.Module):
    """z + W2 relu(W1 (LN(z) * (1 + scale) + shift)): (B, dim) -> (B, dim).

    ReLU, not GELU/SiLU: MLX's CPU backend evaluates exp/erf/tanh at ~25 ns per element,
    which would cost more than the matmuls at these sizes.
    """

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim, affine=False)
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def __call__(self, z: mx.array, shift=None, scale=None) -> mx.array:
        h = self.norm(z)
        if shift is not None:
            h = h * (1.0 + scale) + shift
        h = nn.relu(self.up(h))
        return z + self.down(self.dropout(h) if self.dropout is not None else h)


class ContextEncoder(nn.Module):
    """Normalized context and its mask (B, L), (B, L) -> features (B, D)."""

    def __init__(self, cfg: ForecasterConfig):
        super().__init__()
        extra = NUM_BASES * cfg.horizon + NUM_FEATURES if cfg.blend_bases else 0
        self.embed = nn.Linear(2 * cfg.context_length + extra, cfg.encoder_dim)
        self.blocks = [
            ResidualMLP(cfg.encoder_dim, cfg.encoder_hidden, cfg.encoder_dropout)
            for _ in range(cfg.encoder_blocks)
        ]
        self.norm = nn.LayerNorm(cfg.encoder_dim)
        self.dropout = nn.Dropout(cfg.encoder_dropout) if cfg.encoder_dropout > 0 else None

    def __call__(self, context: mx.array, mask: mx.array, extra=None) -> mx.array:
        parts = [context * mask, mask] + ([] if extra is None else [extra])
        z = self.embed(mx.concatenate(parts, axis=-1))
        for block in self.blocks:
            z = block(z)
        z = self.norm(z)
        return self.dropout(z) if self.dropout is not None else z


class ShiftedMLP(nn.Module):
    """z + W2 relu(W1 z + shift): (B, dim), shift (B, hidden) -> (B, dim).

    The shift (it carries W1's bias) enters as addmm's C matrix, i.e. inside the GEMM.
    """

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.up = nn.Linear(dim, hidden, bias=False)
        self.down = nn.Linear(hidden, dim)

    def __call__(self, z: mx.array, shift: mx.array) -> mx.array:
        return z + self.down(nn.relu(mx.addmm(shift, z, self.up.weight.T)))


class Denoiser(nn.Module):
    """Noised residual u (B, H) and modulation (B, M) -> network output (B, H)."""

    def __init__(self, cfg: ForecasterConfig):
        super().__init__()
        dim, hidden = cfg.denoiser_dim, cfg.denoiser_hidden
        self.film = cfg.denoiser_film
        self.inp = nn.Linear(cfg.horizon, dim)
        block = ResidualMLP if self.film else ShiftedMLP
        self.blocks = [block(dim, hidden) for _ in range(cfg.denoiser_blocks)]
        if self.film:
            self.out_norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, cfg.horizon)
        self.out.weight = mx.zeros_like(self.out.weight)  # start as "predict 0"

    def __call__(self, u: mx.array, modulation: mx.array) -> mx.array:
        dim = self.inp.weight.shape[0]
        z = self.inp(u) + modulation[:, :dim]
        lo = dim
        for block in self.blocks:
            if self.film:
                z = block(z, modulation[:, lo : lo + dim], modulation[:, lo + dim : lo + 2 * dim])
                lo += 2 * dim
            else:
                hidden = block.up.weight.shape[0]
                z = block(z, modulation[:, lo : lo + hidden])
                lo += hidden
        return self.out(self.out_norm(z) if self.film else z)


class TimeEmbedding(nn.Module):
    """Times t in [0, 1] (B,) -> time part of the modulation (B, M)."""

    def __init__(self, cfg: ForecasterConfig):
        super().__init__()
        half = cfg.time_features // 2
        self._freqs = np.exp(-math.log(1000.0) * np.arange(half) / half).astype(np.float32)
        self.hidden = nn.Linear(cfg.time_features, cfg.denoiser_dim)
        self.proj = nn.Linear(cfg.denoiser_dim, cfg.modulation_dim)

    def __call__(self, t: mx.array) -> mx.array:
        angles = (1000.0 * t)[:, None] * mx.array(self._freqs)[None]
        features = mx.concatenate([mx.sin(angles), mx.cos(angles)], axis=-1)
        return self.proj(nn.silu(self.hidden(features)))


class _LevelTable:
    """Per-level time modulation, rebuilt whenever the time MLP's weights are new arrays."""

    def __init__(self, coefficients: np.ndarray):
        self.coefficients = mx.array(coefficients)  # (S + 1, 5), fixed by the config
        self.weights: tuple = ()
        self.table: mx.array | None = None
        self.calls_by_rows: dict[int, int] = {}  # step() batch sizes seen so far


class Forecaster(nn.Module):
    """Conditional DDPM forecaster; see the module docstring for scales and shapes."""

    def __init__(self, config: ForecasterConfig):
        super().__init__()
        self.config = config
        cfg = config
        self.encoder = ContextEncoder(cfg)
        self.linear_mean = nn.Linear(cfg.context_length, cfg.horizon)
        if cfg.feature_mean:
            self.feature_mean = nn.Linear(cfg.encoder_dim, cfg.horizon)
        if cfg.scaled_residual:  # log of the per-step spread over the naive error's
            self.scale_head = nn.Linear(cfg.encoder_dim, cfg.horizon)
            self.scale_head.weight = mx.zeros_like(self.scale_head.weight)
        if cfg.blend_bases:  # per-step weights over the bases; zero init: half on naive
            self.base_logits = nn.Linear(cfg.encoder_dim, NUM_BASES * cfg.horizon)
            self.base_logits.weight = mx.zeros_like(self.base_logits.weight)
            bias = np.zeros((NUM_BASES, cfg.horizon), np.float32)
            bias[0] = np.log(NUM_BASES - 1)  # naive: the safest start for any series
            self.base_logits.bias = mx.array(bias.reshape(-1))
        self.context_modulation = nn.Linear(cfg.encoder_dim, cfg.modulation_dim)
        self.time_embedding = TimeEmbedding(cfg)
        self.denoiser = Denoiser(cfg)
        coefficients = ddim_coefficients(cfg.num_steps, cfg.logsnr_min, cfg.logsnr_max)
        self._level_table = _LevelTable(coefficients)  # a plain object: not a parameter
        self.nfe = 0  # denoiser evaluations (rows) through step(); sample() counts here too
        self.use_compile = True
        self.eval()  # inference by default (no dropout); the trainer calls .train()
        self._compiled_step = mx.compile(self._step_rows, inputs=self.state)

    # -- conditioning -------------------------------------------------------------------

    def encode(self, context: mx.array, mask: mx.array | None = None, bases=None) -> mx.array:
        """Normalized context (B, L) (+ mask, 1 = observed) -> cond (B, H + M); once per context.

        ``bases``: (base forecasts (B, K, H), their features (B, F), naive error scales
        (B, H)) from `sadt.forecaster.bases.base_forecasts`, computed here when not given
        (the trainer computes them with its batches)."""
        cfg = self.config
        if mask is None:
            mask = mx.ones_like(context)
        extra, log_naive = None, 0.0
        if cfg.blend_bases:
            if bases is None:
                bases = base_forecasts(np.array(context), np.array(mask), cfg.horizon)
            base, base_features, naive_scale = (
                mx.array(b) if not isinstance(b, mx.array) else b for b in bases
            )
            extra = mx.concatenate([base.reshape(base.shape[0], -1), base_features], axis=-1)
            log_naive = mx.log(naive_scale)
        features = self.encoder(context, mask, extra)
        mean = self.linear_mean(context * mask)
        if cfg.feature_mean:
            mean = mean + self.feature_mean(features)
        if cfg.blend_bases:
            logits = self.base_logits(features).reshape(-1, NUM_BASES, cfg.horizon)
            mean = mean + mx.sum(mx.softmax(logits, axis=1) * base, axis=1)
        parts = [mean]
        if cfg.scaled_residual:
            log_scale = log_naive + self.scale_head(features)  # a multiple of the naive error
            parts.append(mx.clip(log_scale, LOG_SCALE_MIN, LOG_SCALE_MAX))
        return mx.concatenate([*parts, self.context_modulation(features)], axis=-1)

    @property
    def _modulation_start(self) -> int:
        """Where the modulation starts in cond: after mu (H) [and log s (H)]."""
        return self.config.horizon * (2 if self.config.scaled_residual else 1)

    def residual_scale(self, cond: mx.array) -> mx.array:
        """The per-step spread s (B, H) of a scaled-residual model (ones otherwise)."""
        h = self.config.horizon
        if not self.config.scaled_residual:
            return mx.ones_like(cond[:, :h])
        return mx.exp(cond[:, h : 2 * h])

    def mean_path(self, cond: mx.array) -> mx.array:
        """The point forecast the diffusion is centred on: cond (B, H + M) -> (B, H) normalized."""
        return cond[:, : self.config.horizon]

    def _predict(self, x_t, cond, time_modulation, sqrt_ab, sqrt_one_minus_ab):
        """Denoiser call -> (x0_hat, eps_hat), (B, H) each; sqrt_ab etc. are (B, 1)."""
        modulation = cond[:, self._modulation_start :] + time_modulation
        if self.config.scaled_residual:  # x_t is the noised residual (x_0 - mu) / s itself
            out = self.denoiser(x_t, modulation)
            eps_hat = sqrt_ab * out + sqrt_one_minus_ab * x_t
            return sqrt_ab * x_t - sqrt_one_minus_ab * out, eps_hat
        mean = mx.stop_gradient(self.mean_path(cond))
        u = x_t - sqrt_ab * mean  # the noised residual x_0 - mean
        out = self.denoiser(u, modulation)
        if self.config.prediction == "epsilon":
            eps_hat = out
            x0_hat = (x_t - sqrt_one_minus_ab * eps_hat) / sqrt_ab
        else:  # v = sqrt(ab) eps - sqrt(1 - ab) (x_0 - mean)
            eps_hat = sqrt_ab * out + sqrt_one_minus_ab * u
            x0_hat = mean + sqrt_ab * u - sqrt_one_minus_ab * out
        return x0_hat, eps_hat

    # -- sampling -----------------------------------------------------------------------

    def _time_table(self) -> mx.array:
        """Time modulation at every sampling level: (S + 1, M), cached per set of weights."""
        te, cache = self.time_embedding, self._level_table
        weights = (te.hidden.weight, te.hidden.bias, te.proj.weight, te.proj.bias)
        stale = len(cache.weights) != len(weights)
        if stale or any(a is not b for a, b in zip(cache.weights, weights, strict=True)):
            cache.table = te(mx.array(level_times(self.config.num_steps)))
            mx.eval(cache.table)
            cache.weights = weights
        return cache.table

    def _step_rows(self, x_t, level, cond, noise, time_table, coefficients):
        rows = coefficients[level]  # (B, 5)
        x0_hat, eps_hat = self._predict(x_t, cond, time_table[level], rows[:, 0:1], rows[:, 1:2])
        x_prev = ddim_transition(x0_hat, eps_hat, rows, noise)
        if self.config.scaled_residual:  # back to the forecast: estimates, and final samples
            mean, scale = self.mean_path(cond), self.residual_scale(cond)
            x_prev = mx.where((level == 1)[:, None], mean + scale * x_prev, x_prev)
            x0_hat = mean + scale * x0_hat
        return x_prev, x0_hat

    def step(self, x_t: mx.array, level: mx.array, cond: mx.array, noise: mx.array):
        """One stochastic DDIM (eta = 1) transition per row from `level` to `level - 1`.

        x_t (B, H) normalized; level (B,) int32 in 1..S (rows may differ); cond (B, H + M)
        from `encode`; noise (B, H) standard normal from the caller. Returns (x_prev, x0_hat),
        (B, H) each: x0_hat is the Tweedie estimate of the same denoiser call; from level 1,
        x_prev is the final sample (no noise added). Exactly one NFE per row.
        With ``scaled_residual`` the states above level 0 are residuals (x_0 - mu) / s, while
        final samples and x0_hat are forecasts in the normalized space, as without it.
        """
        rows = int(x_t.shape[0])
        self.nfe += rows
        # mx.compile traces once per batch size (~10-100 ms): worth it for sizes a sampler
        # repeats, not for one-off sizes, which run eagerly (same math, to float rounding).
        seen = self._level_table.calls_by_rows
        seen[rows] = seen.get(rows, 0) + 1
        fn = self._compiled_step if self.use_compile and seen[rows] > 1 else self._step_rows
        if level.dtype != mx.int32:
            level = level.astype(mx.int32)
        table = self._time_table()
        return fn(x_t, level, cond, noise, table, self._level_table.coefficients)

    def normalize(self, context: np.ndarray):
        """Raw context (L',) -> (values (L,), mask (L,), mean, std) as this model reads it."""
        cfg = self.config
        return normalize_context(
            context, cfg.context_length, cfg.std_floor, cfg.scaling, cfg.input_clip
        )

    def sample_normalized(self, cond: mx.array, n: int, rng: np.random.Generator) -> mx.array:
        """Ancestral sampling for each cond row: cond (B, C) -> x_0 (B, n, H) normalized."""
        batch, steps, horizon = cond.shape[0], self.config.num_steps, self.config.horizon
        rows = batch * n
        cond_rows = mx.repeat(cond, n, axis=0)
        x = mx.array(rng.standard_normal((rows, horizon), dtype=np.float32))
        noise = rng.standard_normal((steps, rows, horizon), dtype=np.float32)
        for level in range(steps, 0, -1):
            levels = mx.full((rows,), level, dtype=mx.int32)
            x, _ = self.step(x, levels, cond_rows, mx.array(noise[steps - level]))
            mx.eval(x)
        return x.reshape(batch, n, horizon)

    def sample_many(self, contexts, n: int, seed: int, chunk: int = 64) -> np.ndarray:
        """Raw contexts (a list of (L_i,) arrays, original scale) -> samples (N, n, H) original."""
        rng = np.random.default_rng(seed)
        out = []
        for start in range(0, len(contexts), chunk):
            scaled = [self.normalize(c) for c in contexts[start : start + chunk]]
            values, masks, means, stds = (np.stack(column) for column in zip(*scaled, strict=True))
            cond = self.encode(mx.array(values), mx.array(masks))
            x = np.array(self.sample_normalized(cond, n, rng), dtype=np.float64)
            out.append(x * stds[:, None, None] + means[:, None, None])
        return np.concatenate(out, axis=0)

    def sample(self, context: np.ndarray, n: int, seed: int) -> np.ndarray:
        """Plain batched ancestral sampling: raw context (L',) -> samples (n, H) original scale.

        Costs n * S NFE; the same (context, n, seed) gives the same samples.
        """
        return self.sample_many([np.asarray(context)], n, seed)[0]

    # -- training -----------------------------------------------------------------------

    def loss(
        self, context, mask, future, times, time_index, noise, future_mask=None, bases=None
    ) -> tuple[mx.array, mx.array]:
        """(diffusion loss, mean-path MSE) for one batch, all normalized.

        context, mask (B, L); future (B, H); times (G,) in (0, 1]; time_index (B, K) int32
        picks each row's time among `times` (few distinct times keep the time MLP cheap);
        noise (B, K, H): K noise levels per context share one encoder pass. ``future_mask``
        (B, H), 1 where the future is known: short series train on the steps they have.
        """
        batch, k = time_index.shape
        cond = self.encode(context, mask, bases)
        if future_mask is None:
            future_mask = mx.ones_like(future)
        known = mx.maximum(mx.sum(future_mask), 1.0)
        error = self.mean_path(cond) - future
        if self.config.scaled_residual:  # Laplace likelihood: the median and its spread
            log_scale = cond[:, self.config.horizon : 2 * self.config.horizon]
            error = mx.abs(error) * mx.exp(-log_scale) + log_scale
        else:
            error = mx.abs(error) if self.config.mean_loss == "l1" else error**2
        mean_loss = mx.sum(future_mask * error) / known
        target = future
        if self.config.scaled_residual:  # the diffusion's data: the scaled residual
            mean = mx.stop_gradient(self.mean_path(cond))
            scale = mx.stop_gradient(self.residual_scale(cond))
            target = mx.clip((future - mean) / scale, -RESIDUAL_CLIP, RESIDUAL_CLIP) * future_mask
        cond = mx.repeat(cond, k, axis=0)
        x0 = mx.repeat(target, k, axis=0)
        index = time_index.reshape(-1)
        noise = noise.reshape(batch * k, -1)
        logsnr = cosine_logsnr(times, self.config.logsnr_min, self.config.logsnr_max)
        alpha_bar = mx.sigmoid(logsnr)[index]
        sqrt_ab, sqrt_one_minus_ab = mx.sqrt(alpha_bar)[:, None], mx.sqrt(1 - alpha_bar)[:, None]
        x_t = sqrt_ab * x0 + sqrt_one_minus_ab * noise
        time_modulation = self.time_embedding(times)[index]
        x0_hat, eps_hat = self._predict(x_t, cond, time_modulation, sqrt_ab, sqrt_one_minus_ab)
        if self.config.prediction == "epsilon":
            error = (eps_hat - noise) ** 2
        else:  # the v error, written through x0_hat: v - v_hat = (x0_hat - x0) / sqrt(1 - ab)
            error = ((x0_hat - x0) / sqrt_one_minus_ab) ** 2
        diffusion_loss = mx.sum(mx.repeat(future_mask, k, axis=0) * error) / (k * known)
        return diffusion_loss, mean_loss

    # -- files --------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the folder `path`: config.json + model.safetensors."""
        weights = dict(tree_flatten(self.parameters()))
        return files.save_model_folder(path, "Forecaster", self.config.to_dict(), weights)

    @classmethod
    def load(cls, path: str | Path) -> Forecaster:
        """Read a folder written by `save`; one clear error naming the bad file otherwise."""
        folder = Path(path)
        try:
            config = ForecasterConfig.from_dict(files.read_config(folder, "Forecaster"))
        except (TypeError, ValueError) as err:
            if isinstance(err, files.ModelFileError):
                raise
            raise files.ModelFileError(f"{folder / files.CONFIG_FILE}: {err}") from None
        model = cls(config)
        weights_path = folder / files.WEIGHTS_FILE
        weights, _ = files.read_safetensors(weights_path)
        files.check_weights(weights_path, weights, dict(tree_flatten(model.parameters())))
        model.load_weights(list(weights.items()))
        model.set_dtype(mx.float32)  # weights may be stored as float16; compute in float32
        mx.eval(model.parameters())
        return model
