"""A toy chain with an exact score: DDPM over a Gaussian mixture in 1-D or 2-D.

For isotropic Gaussian-mixture data every noised marginal of the forward process is
again a Gaussian mixture, and so is the exact reverse transition
``q(x_{t-1} | x_t)``: pick a component by its posterior responsibility, then draw
from that component's Gaussian posterior. Ancestral sampling through this chain
therefore draws *exactly* from the data law with any number of steps, and the
tilted target ``p(x) exp(lambda r(x))`` can be computed on a grid. That makes it
the yardstick for sampler exactness (benchmark B4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sadt.search.chain import Chain


def cosine_alpha_bar(num_steps: int, s: float = 0.008) -> np.ndarray:
    """Cumulative signal fraction ``alpha_bar[t]`` for t = 0..num_steps; alpha_bar[0] = 1."""
    t = np.arange(num_steps + 1) / num_steps
    f = np.cos((t + s) / (1 + s) * np.pi / 2) ** 2
    return np.clip(f / f[0], 1e-5, 1.0)


@dataclass(frozen=True)
class GaussianMixture:
    """Isotropic mixture: ``weights`` (m,), ``means`` (m, d), ``stds`` (m,)."""

    weights: np.ndarray
    means: np.ndarray
    stds: np.ndarray

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def density(self, points: np.ndarray) -> np.ndarray:
        """Density at ``points`` (p, d)."""
        return np.exp(_mixture_log_density(points, self.weights, self.means, self.stds**2))


def _component_log_density(x: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """log N(x; mean_i, var_i I) for x (n, d) and every component: (n, m)."""
    d = x.shape[1]
    sq = ((x[:, None, :] - means[None, :, :]) ** 2).sum(-1)
    return -0.5 * sq / variances - 0.5 * d * np.log(2 * np.pi * variances)


def _mixture_log_density(x, weights, means, variances) -> np.ndarray:
    log_joint = _component_log_density(x, means, variances) + np.log(weights)
    peak = log_joint.max(axis=1, keepdims=True)
    return (peak + np.log(np.exp(log_joint - peak).sum(axis=1, keepdims=True)))[:, 0]


class GaussianMixtureChain(Chain):
    """Exact reverse DDPM over a Gaussian mixture, tilted by a reward ``r(x0)``.

    ``reward_fn`` maps (n, d) final states to (n,) rewards; keep it bounded.
    ``branch_every`` sets the branching levels (every k-th denoising step).
    """

    def __init__(
        self, mixture: GaussianMixture, reward_fn, num_steps: int = 20, branch_every: int = 1
    ) -> None:
        super().__init__(list(range(num_steps, 0, -branch_every)) + [0])
        self.mixture = mixture
        self.reward_fn = reward_fn
        self.alpha_bar = cosine_alpha_bar(num_steps)
        self.state_shape = (mixture.dim,)

    def _marginal(self, t: np.ndarray):
        """Per-row component means (n, m, d) and variances (n, m) of q(x_t)."""
        a = np.sqrt(self.alpha_bar[t])[:, None]
        var = a**2 * self.mixture.stds[None, :] ** 2 + (1 - self.alpha_bar[t])[:, None]
        return a[:, :, None] * self.mixture.means[None], var

    def initial(self, n: int, rng: np.random.Generator) -> np.ndarray:
        t = np.full(n, self.num_steps)
        means, var = self._marginal(t)
        comp = rng.choice(len(self.mixture.weights), size=n, p=self.mixture.weights)
        rows = np.arange(n)
        noise = rng.standard_normal((n, self.mixture.dim))
        return means[rows, comp] + np.sqrt(var[rows, comp])[:, None] * noise

    def _posterior_weights(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        means, var = self._marginal(t)
        sq = ((x[:, None, :] - means) ** 2).sum(-1)
        log_joint = np.log(self.mixture.weights) - 0.5 * sq / var - 0.5 * x.shape[1] * np.log(var)
        log_joint -= log_joint.max(axis=1, keepdims=True)
        resp = np.exp(log_joint)
        return resp / resp.sum(axis=1, keepdims=True)

    def denoised(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Exact E[x0 | x_t] (Tweedie), (n, d)."""
        resp = self._posterior_weights(x, t)
        a = np.sqrt(self.alpha_bar[t])[:, None]
        s2 = self.mixture.stds[None, :] ** 2
        gain = a * s2 / (a**2 * s2 + (1 - self.alpha_bar[t])[:, None])  # (n, m)
        mu = self.mixture.means[None]  # (1, m, d)
        comp_mean = mu + gain[:, :, None] * (x[:, None, :] - a[:, :, None] * mu)
        return (resp[:, :, None] * comp_mean).sum(1)

    def denoise_step(self, states, steps, rng):
        x, t = np.asarray(states, dtype=np.float64), np.asarray(steps)
        resp = self._posterior_weights(x, t)
        comp = (rng.random(len(x))[:, None] > np.cumsum(resp, axis=1)).sum(1)
        comp = np.minimum(comp, resp.shape[1] - 1)
        ab_t, ab_prev = self.alpha_bar[t], self.alpha_bar[t - 1]
        alpha = ab_t / ab_prev
        var_prev = ab_prev * self.mixture.stds[comp] ** 2 + (1 - ab_prev)  # q(x_{t-1} | comp)
        post_var = 1.0 / (1.0 / var_prev + alpha / (1 - alpha))
        mean_prev = np.sqrt(ab_prev)[:, None] * self.mixture.means[comp]
        post_mean = post_var[:, None] * (
            mean_prev / var_prev[:, None] + (np.sqrt(alpha) / (1 - alpha))[:, None] * x
        )
        nxt = post_mean + np.sqrt(post_var)[:, None] * rng.standard_normal(x.shape)
        return nxt, self.denoised(x, t)

    def reward(self, final_states: np.ndarray) -> np.ndarray:
        return np.asarray(self.reward_fn(np.asarray(final_states)), dtype=np.float64)

    # -- what the value network F_phi sees (sadt.value) ------------------------------------------
    value_scale = 1.0

    def value_weights(self, lam: float) -> np.ndarray:
        return np.array([np.log(lam)])

    def value_features(self, states: np.ndarray, k: np.ndarray, x0_hat: np.ndarray) -> np.ndarray:
        """The state and its exact denoised estimate: (n, 2 d)."""
        return np.concatenate([states, x0_hat], axis=1).astype(np.float64)

    # -- exact target ---------------------------------------------------------------------------
    def tilted_target(self, lam: float, grid: np.ndarray) -> np.ndarray:
        """Normalized weights of ``p(x) exp(lam r(x))`` on grid points (p, d)."""
        log_w = _mixture_log_density(
            grid, self.mixture.weights, self.mixture.means, self.mixture.stds**2
        ) + lam * self.reward(grid)
        w = np.exp(log_w - log_w.max())
        return w / w.sum()


def bimodal_1d(num_steps: int = 20, branch_every: int = 1) -> GaussianMixtureChain:
    """Prior 80/20 on modes at -2 and +2; the reward prefers the minority mode."""
    mixture = GaussianMixture(
        weights=np.array([0.8, 0.2]), means=np.array([[-2.0], [2.0]]), stds=np.array([0.5, 0.5])
    )

    def reward(x):  # bounded bump around +2.5
        return 4.0 * np.exp(-0.5 * ((x[:, 0] - 2.5) / 1.0) ** 2)

    return GaussianMixtureChain(mixture, reward, num_steps, branch_every)


def ring_2d(num_steps: int = 20, branch_every: int = 1) -> GaussianMixtureChain:
    """Eight modes on a circle of radius 3; the reward prefers the upper-right quadrant."""
    angles = np.arange(8) * 2 * np.pi / 8
    mixture = GaussianMixture(
        weights=np.full(8, 1 / 8),
        means=3.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1),
        stds=np.full(8, 0.35),
    )
    target = np.array([2.2, 2.2])

    def reward(x):  # bounded bump
        return 4.0 * np.exp(-0.5 * ((x - target) ** 2).sum(-1) / 1.5**2)

    return GaussianMixtureChain(mixture, reward, num_steps, branch_every)


# -- distances to the exact target -----------------------------------------------------------
def w1_to_grid_1d(samples: np.ndarray, grid: np.ndarray, weights: np.ndarray) -> float:
    """W1 between equally weighted 1-D samples and a weighted grid law (grid sorted, (p,))."""
    x = np.sort(np.asarray(samples, dtype=np.float64).reshape(-1))
    cdf_target = np.cumsum(weights)
    cdf_samples = np.searchsorted(x, grid, side="right") / len(x)
    return float(np.sum(np.abs(cdf_samples - cdf_target)[:-1] * np.diff(grid)))


def sliced_w1_to_grid(samples, grid, weights, num_projections: int = 64, seed: int = 0) -> float:
    """Sliced W1 (mean over fixed random directions) between samples (n, d) and a grid law."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.shape[1] == 1:
        order = np.argsort(grid[:, 0])
        return w1_to_grid_1d(samples[:, 0], grid[order, 0], weights[order])
    rng = np.random.default_rng(seed)
    dirs = rng.standard_normal((num_projections, samples.shape[1]))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    total = 0.0
    for direction in dirs:
        g = grid @ direction
        order = np.argsort(g)
        lo, hi = g[order[0]], g[order[-1]]
        # Bin the projected grid law onto a fine line so both CDFs share one support.
        line = np.linspace(lo, hi, 2001)
        cum = np.concatenate([[0.0], np.cumsum(weights[order])])
        cdf_target = cum[np.searchsorted(g[order], line, side="right")]
        proj = np.sort(samples @ direction)
        cdf_samples = np.searchsorted(proj, line, side="right") / len(proj)
        total += np.sum(np.abs(cdf_samples - cdf_target)[:-1] * np.diff(line))
    return float(total / num_projections)


def target_grid(chain: GaussianMixtureChain, points_per_axis: int | None = None) -> np.ndarray:
    """A grid covering the mixture's support: (p, d)."""
    d = chain.mixture.dim
    points_per_axis = points_per_axis or (4001 if d == 1 else 241)
    lo = (chain.mixture.means - 5 * chain.mixture.stds[:, None]).min(0)
    hi = (chain.mixture.means + 5 * chain.mixture.stds[:, None]).max(0)
    axes = [np.linspace(lo[i], hi[i], points_per_axis) for i in range(d)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
