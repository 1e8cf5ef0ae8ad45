"""The diffusion forecaster as a Chain, rewarded by the spectral reward.

States are forecasts in the context's normalized space (z-scored by the context's own
mean and std), shape (H_model,). The reward compares the first ``horizon`` steps of a
final state with the normalized context; the spectral distance is unchanged by a
common affine map, so this equals the reward in original units. The chain is built
from the context alone: nothing here can see a future truth.

Horizons beyond the model's native block H_model are *continued*: the chain runs
``blocks`` = ceil(horizon / H_model) reverse diffusions one after the other, each
conditioned on the context followed by the path's own earlier blocks (joint paths, not
medians fed back). A state then holds every block, (blocks * H_model,): finished blocks
in the context's normalized space, the block in progress in its own space (its extended
context z-scored again, so a trending path stays in range), later blocks their starting
noise. The chain's levels run over all blocks (blocks * S denoising steps), so every
sampler and the tree searches steer the whole horizon; NFE count every block's calls.
The spectral reward needs 8 points of horizon and context: below that it steps aside
(every path scores 0, and the samplers draw plain model samples).
"""

from __future__ import annotations

import functools

import mlx.core as mx
import numpy as np

from sadt.forecaster.model import Forecaster
from sadt.forecaster.schedule import ddim_coefficients, ddim_transition
from sadt.search.chain import Chain
from sadt.spectral import MIN_LENGTH, SpectralReward


@functools.lru_cache(maxsize=8)
def _interpolation_matrix(bins: int, points: int) -> np.ndarray:
    """(bins, points): values at ``bins`` evenly spaced fractions of [0, 1] times this are
    their linear interpolation at ``points`` evenly spaced fractions, np.interp's rule as one
    matrix product (the value network's features resample thousands of rows per search)."""
    grid, at = np.linspace(0.0, 1.0, points), np.linspace(0.0, 1.0, bins)
    matrix = np.stack([np.interp(grid, at, unit) for unit in np.eye(bins)])
    matrix.setflags(write=False)  # shared by every chain through the cache
    return matrix


class ForecastChain(Chain):
    """Reverse diffusion of ``forecaster`` for one context, branching every ``branch_every``
    denoising steps, or at ``branch_levels`` (S, ..., 0) when given. ``horizon`` (≤ the
    model's) is the part the user sees and the reward scores; ``gamma`` and
    ``band_weights`` are the spectral reward's weights."""

    state_dtype = np.float32  # the denoiser's dtype: the tree stores states without casts
    steps_from_x0 = True

    def __init__(
        self,
        forecaster: Forecaster,
        context: np.ndarray,
        horizon: int | None = None,
        gamma: float = 1.0,
        band_weights=(1.0, 1.0, 1.0),
        branch_every: int = 1,
        branch_levels=None,
    ) -> None:
        cfg = forecaster.config
        self.horizon = cfg.horizon if horizon is None else int(horizon)
        if self.horizon < 1:
            raise ValueError(f"horizon must be at least 1, got {horizon}")
        self.blocks = -(-self.horizon // cfg.horizon)
        total = self.blocks * cfg.num_steps
        if branch_levels is not None:  # explicit levels (e.g. late_branching) win
            levels = [int(level) for level in branch_levels]
            if len(levels) < 2 or levels[0] != total or levels[-1] != 0:
                raise ValueError(
                    f"branch_levels must run from {total} (the chain's steps) down to 0, "
                    f"got {levels}"
                )
        elif branch_every < 1 or branch_every > cfg.num_steps:
            raise ValueError(f"branch_every must be in 1..{cfg.num_steps}, got {branch_every}")
        else:
            levels = list(range(total, 0, -branch_every)) + [0]
        # The step from a block's level 1 adds no noise (ab_0 = 1), so every child of such a
        # state is the same forecast: branching there only buys copies. Make that edge longer.
        no_noise = {j * cfg.num_steps + 1 for j in range(self.blocks)}
        levels = [
            lv for i, lv in enumerate(levels) if i in (0, len(levels) - 1) or lv not in no_noise
        ]
        super().__init__(levels)
        self.forecaster = forecaster
        self.block = cfg.horizon
        self.state_shape = (self.blocks * cfg.horizon,)
        if self.blocks > 1:
            self.steps_from_x0 = False  # a block's step is drawn in its own space
        self._coefficients = np.asarray(
            ddim_coefficients(cfg.num_steps, cfg.logsnr_min, cfg.logsnr_max), dtype=np.float64
        )
        values, mask, self.mean, self.std = forecaster.normalize(context)
        self.cond = forecaster.encode(mx.array(values[None]), mx.array(mask[None]))
        mx.eval(self.cond)
        self.observed = np.asarray(values[mask > 0], dtype=np.float64)
        self._block_cache: dict[bytes, tuple] = {}  # earlier blocks -> (cond, mean, std)
        self.spectral = None
        if self.horizon >= MIN_LENGTH and self.observed.size >= MIN_LENGTH:
            self.spectral = SpectralReward.from_context(
                self.observed, self.horizon, gamma=gamma, band_weights=band_weights
            )
        self.gamma, self.band_weights = gamma, band_weights

    def initial(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, *self.state_shape), dtype=np.float32)

    def denoise_step(self, states, steps, rng):
        if self.blocks > 1:
            return self._denoise_blocks(states, np.asarray(steps), rng)
        # Lazy: returns MLX arrays at once (states may be the last call's, still computing).
        n = len(steps)
        noise = rng.standard_normal((n, *self.state_shape), dtype=np.float32)
        if not isinstance(states, mx.array):
            states = mx.array(states, dtype=mx.float32)
        return self.forecaster.step(
            states,
            mx.array(np.asarray(steps, dtype=np.int32)),
            mx.broadcast_to(self.cond, (n, self.cond.shape[1])),
            mx.array(noise),
        )

    # -- continuation over several blocks -------------------------------------------------------
    def block_of(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Global denoising steps (n,) -> (block index, the step within that block 1..S)."""
        s = self.forecaster.config.num_steps
        block = (self.blocks * s - np.asarray(steps)) // s
        return block, np.asarray(steps) - (self.blocks - 1 - block) * s

    def _block_condition(self, prefix: np.ndarray) -> tuple:
        """(cond (1, C), mean, std) of the context continued by ``prefix`` (earlier finished
        blocks, normalized), the continued context z-scored again; cached per prefix."""
        key = prefix.tobytes()
        if key not in self._block_cache:
            extended = np.concatenate([self.observed, prefix.astype(np.float64)])
            values, mask, mean, std = self.forecaster.normalize(extended)
            cond = self.forecaster.encode(mx.array(values[None]), mx.array(mask[None]))
            mx.eval(cond)
            self._block_cache[key] = (cond, mean, std)
        return self._block_cache[key]

    def _denoise_blocks(self, states, steps: np.ndarray, rng):
        """denoise_step for a chain of several blocks (eager: numpy in, numpy out)."""
        h, n = self.block, len(steps)
        x = np.array(self.to_numpy(states), dtype=np.float32, copy=True)
        noise = rng.standard_normal((n, h), dtype=np.float32)
        block, inner = self.block_of(steps)
        conds, shift, scale = [], np.zeros((n, 1)), np.ones((n, 1))
        for i in range(n):
            b = int(block[i])
            if b == 0:
                conds.append(self.cond)
            else:
                cond, shift[i], scale[i] = self._block_condition(x[i, : b * h])
                conds.append(cond)
        rows = block[:, None] * h + np.arange(h)[None]  # each row's block in the state
        current = np.take_along_axis(x, rows, axis=1)
        x_prev, x0 = self.forecaster.step(
            mx.array(current),
            mx.array(inner.astype(np.int32)),
            mx.concatenate(conds, axis=0),
            mx.array(noise),
        )
        x_prev, x0 = np.array(x_prev, dtype=np.float64), np.array(x0, dtype=np.float64)
        done = inner == 1  # the block is finished: store it in the context's space
        x_prev[done] = x_prev[done] * scale[done] + shift[done]
        np.put_along_axis(x, rows, x_prev.astype(np.float32), axis=1)
        # x0_hat as a whole state: earlier blocks as they are, this block's estimate in the
        # context's space, later blocks (not drawn yet) repeating it.
        x0_state = x.copy()
        x0_orig = (x0 * scale + shift).astype(np.float32)
        for i in range(n):
            b = int(block[i])
            x0_state[i, b * h :] = np.resize(x0_orig[i], (self.blocks - b) * h)
        return x, x0_state

    def step_from_x0(self, states, x0_hat, steps, rng):
        # The model's step is ddim_transition(x0_hat, eps_hat, ...), and x_k = sqrt(ab_k)
        # x0_hat + sqrt(1 - ab_k) eps_hat holds exactly for its outputs, so (x_k, x0_hat)
        # give eps_hat. The same transition in numpy float64; noise drawn as denoise_step's.
        n = len(steps)
        noise = rng.standard_normal((n, *self.state_shape), dtype=np.float32)
        steps = np.asarray(steps)
        rows = self._coefficients[steps]
        x = np.asarray(states, dtype=np.float64)
        x0 = np.asarray(x0_hat, dtype=np.float64)
        mean, scale = self._residual_frame()
        x0 = (x0 - mean) / scale  # a scaled-residual model steps in the residual's space
        eps_hat = (x - rows[:, 0:1] * x0) / rows[:, 1:2]
        out = ddim_transition(x0, eps_hat, rows, noise)
        final = steps == 1
        out[final] = mean + scale * out[final]
        return out.astype(np.float32)

    def _residual_frame(self) -> tuple[np.ndarray, np.ndarray]:
        """(mu, s) of a scaled-residual forecaster's block 0 ((0, 1) otherwise): its states
        above level 0 are (x - mu) / s."""
        if not hasattr(self, "_frame"):
            f = self.forecaster
            if f.config.scaled_residual:
                mean = np.array(f.mean_path(self.cond)[0], dtype=np.float64)
                scale = np.array(f.residual_scale(self.cond)[0], dtype=np.float64)
                self._frame = (mean, scale)
            else:
                self._frame = (np.zeros(1), np.ones(1))
        return self._frame

    def to_numpy(self, array) -> np.ndarray:
        return np.asarray(array) if isinstance(array, np.ndarray) else np.array(array)

    def start(self, arrays) -> None:
        mx.async_eval(*[a for a in arrays if isinstance(a, mx.array)])

    def take(self, array, rows: np.ndarray):
        if isinstance(array, mx.array):
            return array[mx.array(np.asarray(rows, dtype=np.int64))]
        return np.asarray(array)[rows]

    def join(self, arrays: list):
        return mx.concatenate([a if isinstance(a, mx.array) else mx.array(a) for a in arrays])

    def reward(self, final_states: np.ndarray) -> np.ndarray:
        if self.spectral is None:  # too short to have a spectrum: the reward steps aside
            return np.zeros(len(final_states))
        return self.spectral(np.asarray(final_states, dtype=np.float64)[:, : self.horizon])

    # -- what the value network F_phi sees (sadt.value) ------------------------------------------
    VALUE_POINTS = 24  # the log-spectrum gap is resampled to this many frequencies, any horizon
    VALUE_FEATURES = 2 * (2 * VALUE_POINTS + 1) + VALUE_POINTS
    VALUE_WEIGHTS = 5
    VALUE_BASE = (2 * VALUE_POINTS, -1.0)  # D of x0_hat, negated: the Tweedie potential / gamma

    @property
    def value_scale(self) -> float:
        """The reward is linear in gamma, so F_phi predicts V / gamma."""
        return max(self.gamma, 1e-12)

    def value_weights(self, lam: float) -> np.ndarray:
        """[log(lam * gamma), band weights normalized to sum 1, horizon / model horizon]: (5,)."""
        band = np.asarray(self.band_weights, dtype=np.float64)
        visible = self.horizon / self.forecaster.config.horizon
        return np.concatenate([[np.log(lam * self.value_scale)], band / band.sum(), [visible]])

    def value_features(self, states: np.ndarray, k: np.ndarray, x0_hat: np.ndarray) -> np.ndarray:
        """Per state, from its denoised (Tweedie) estimate x0_hat: the signed and absolute
        log-spectrum gap to the reference at 24 fixed frequency fractions and the distance D
        (so -gamma D is the Tweedie potential SMC uses); the same gap and D of the noisy state
        itself; and the gap of the model's mean path: (n, VALUE_FEATURES). All zeros when
        the horizon is too short for a spectrum."""
        if self.spectral is None:
            return np.zeros((len(states), self.VALUE_FEATURES))
        out = []
        for x in (x0_hat, states):
            x = np.asarray(x, dtype=np.float64)[:, : self.horizon]
            gap = self.spectral.log_gap(x)
            out += [self._resample(gap), self._resample(np.abs(gap))]
            out.append((np.abs(gap) @ self.spectral.weights)[:, None])
        mean_gap = self._mean_gap()
        out.append(np.broadcast_to(mean_gap, (len(states), len(mean_gap))))
        return np.concatenate(out, axis=1)

    def _resample(self, per_bin: np.ndarray) -> np.ndarray:
        """(n, H // 2) per-bin values -> (n, 24) at fixed frequency fractions (any horizon)."""
        return per_bin @ _interpolation_matrix(per_bin.shape[1], self.VALUE_POINTS)

    def _mean_gap(self) -> np.ndarray:
        if not hasattr(self, "_mean_gap_cache"):
            mean_path = np.array(self.forecaster.mean_path(self.cond)[0], dtype=np.float64)
            mean_path = np.resize(mean_path, max(self.horizon, mean_path.size))  # blocks > 1
            gap = self.spectral.log_gap(mean_path[None, : self.horizon])
            self._mean_gap_cache = self._resample(gap)[0]
        return self._mean_gap_cache

    def to_original(self, states: np.ndarray) -> np.ndarray:
        """Normalized states (n, H_model) -> forecasts (n, horizon) in original units."""
        return np.asarray(states, dtype=np.float64)[:, : self.horizon] * self.std + self.mean
