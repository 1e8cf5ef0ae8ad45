"""The value network F_phi of S-ADT: the soft value of a partial state, learned from DTS trees.

F_phi(x_t, level, context, weights) predicts V(x_t) = (1/lam) log E[exp(lam r(x_0)) | x_t]
under the forecaster's own reverse chain. It sees a state through its chain's
``value_features`` (for forecasts: the log-spectrum of x_t against the context's
reference spectrum, pooled into fixed sub-bands so any horizon works), the level, and
the reward weights a user sets (log(lam * gamma) and the band weights), so one trained
network serves every slider setting. It predicts V / scale (scale = gamma for the
spectral reward, which is linear in gamma), which keeps targets O(1).

Two losses (both on harvested trees):
* soft-value regression, visit-weighted: nodes backed up from many rollouts are trusted more;
* relative trajectory balance on root-to-leaf paths. With F as the twist of the chain,
  q(x_{t-1}|x_t) = p(x_{t-1}|x_t) exp(lam F(x_{t-1}) - lam F(x_t)) / C(x_t), and with
  log Z = lam F(x_T) and F(x_0) = r(x_0) the RTB residual
  log Z + sum log q - sum log p - lam r telescopes to -sum_t log C(x_t). C(x_t) is
  estimated by the node's children in the tree (i.i.d. draws of p(.|x_t)), so the loss is
  (sum over the path of lam F(x_t) - log mean_c exp(lam F~(c)))^2, F~ = r at leaves.
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
from sadt.settings import at_least, checked


@dataclass
class ValueConfig:
    feature_dim: int  # width of the chain's value_features
    weight_dim: int  # width of the reward-weight vector
    hidden: int = 128
    layers: int = 2
    level_features: int = 8  # sinusoidal features of the level fraction (0 top, 1 clean)
    # Residual form: output = MLP + base_scale * features[:, base_feature]. The forecast
    # chain points it at D(x0_hat) with scale -1, i.e. the Tweedie potential r(x0_hat)/gamma,
    # which is already right near level 0; the MLP learns the correction. None: plain MLP.
    base_feature: int | None = None
    base_scale: float = -1.0

    def __post_init__(self):
        at_least(self, 1, "feature_dim", "hidden", "layers", where="value network ")
        at_least(self, 0, "weight_dim", "level_features", where="value network ")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ValueConfig:
        return cls(**checked(cls, d, "value network"))


def level_embedding(fraction: mx.array, width: int) -> mx.array:
    """Sinusoidal features of the level fraction in [0, 1]: (B,) -> (B, width)."""
    freqs = mx.array([math.pi * 2**i for i in range(width // 2)], dtype=mx.float32)
    angles = fraction[:, None] * freqs[None, :]
    return mx.concatenate([mx.sin(angles), mx.cos(angles)], axis=-1)


class ValueNetwork(nn.Module):
    """MLP over [state features, level embedding, reward weights] -> V / scale: (B,)."""

    def __init__(self, config: ValueConfig) -> None:
        super().__init__()
        self.config = config
        width = config.feature_dim + config.level_features + config.weight_dim
        dims = [width] + [config.hidden] * config.layers
        self.layers = [nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True)]
        self.head = nn.Linear(config.hidden, 1)

    def __call__(self, features: mx.array, level_fraction: mx.array, weights: mx.array):
        h = mx.concatenate(
            [features, level_embedding(level_fraction, self.config.level_features), weights],
            axis=-1,
        )
        for layer in self.layers:
            h = nn.relu(layer(h))
        out = self.head(h)[:, 0]
        if self.config.base_feature is not None:
            out = out + self.config.base_scale * features[:, self.config.base_feature]
        return out

    # -- files ---------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` + ``model.safetensors`` to the folder ``path``."""
        weights = dict(tree_flatten(self.parameters()))
        return files.save_model_folder(path, "ValueNetwork", self.config.to_dict(), weights)

    @classmethod
    def load(cls, path: str | Path) -> ValueNetwork:
        """Read a folder written by :meth:`save`; one clear error naming the bad file otherwise."""
        folder = Path(path)
        try:
            config = ValueConfig.from_dict(files.read_config(folder, "ValueNetwork"))
        except TypeError as err:
            raise files.ModelFileError(f"{folder / files.CONFIG_FILE}: {err}") from None
        model = cls(config)
        weights_path = folder / files.WEIGHTS_FILE
        weights, _ = files.read_safetensors(weights_path)
        files.check_weights(weights_path, weights, dict(tree_flatten(model.parameters())))
        model.load_weights(list(weights.items()))
        model.set_dtype(mx.float32)  # weights may be stored as float16; compute in float32
        mx.eval(model.parameters())
        return model


# -- losses -------------------------------------------------------------------------------------
MAX_VISIT_WEIGHT = 32.0


def visit_weights(visits) -> mx.array:
    """A node backed up from N rollouts weighs min(N, 32): more rollouts, surer target."""
    return mx.minimum(mx.array(visits).astype(mx.float32), MAX_VISIT_WEIGHT)


def soft_value_loss(model, features, fraction, weights, targets, visits, mean_weight=None):
    """Visit-weighted squared error between F and the tree's backed-up soft values.

    ``mean_weight`` (the mean visit weight of the whole global batch) makes shards of one
    batch on several ranks average to exactly the single-process loss; default: this batch's.
    """
    w = visit_weights(visits)
    err = model(features, fraction, weights) - targets
    norm = mx.mean(w) if mean_weight is None else mean_weight
    return mx.mean(w * err**2) / norm


def path_balance_loss(
    model,
    lam_scale,
    node_features,
    node_fraction,
    node_weights,
    child_values,
    child_is_leaf,
    child_features,
    child_fraction,
    child_weights,
    child_segment,
    node_path,
    num_paths,
):
    """Relative trajectory balance on root-to-leaf paths (see the module docstring).

    Nodes (N rows) are internal nodes on sampled paths; each has children (C rows, with
    ``child_segment`` the node row they belong to). A child's value is the net's prediction
    unless it is a leaf (then ``child_values`` holds its reward / scale). ``lam_scale`` (N,)
    is lam * scale per node. Residuals are summed per path (``node_path``) and squared.
    """
    f_node = model(node_features, node_fraction, node_weights)
    f_child = model(child_features, child_fraction, child_weights)
    f_child = mx.where(child_is_leaf, child_values, f_child)
    # log mean_c exp(lam * scale * F(c)) per node, stabilized by a per-node maximum.
    scaled = lam_scale[child_segment] * f_child
    peak = mx.stop_gradient(_segment_max(scaled, child_segment, f_node.shape[0]))
    summed = _segment_sum(mx.exp(scaled - peak[child_segment]), child_segment, f_node.shape[0])
    counts = _segment_sum(mx.ones_like(scaled), child_segment, f_node.shape[0])
    log_mean = peak + mx.log(summed / counts)
    residual = (lam_scale * f_node - log_mean) / lam_scale  # in value units
    per_path = _segment_sum(residual, node_path, num_paths)
    return mx.mean(per_path**2)


def _segment_sum(values: mx.array, segment: mx.array, n: int) -> mx.array:
    return mx.zeros((n,), dtype=values.dtype).at[segment].add(values)


def _segment_max(values: mx.array, segment: mx.array, n: int) -> mx.array:
    return mx.full((n,), -1e30, dtype=values.dtype).at[segment].maximum(values)


# -- the prior the tree search uses -------------------------------------------------------------
class ValuePrior:
    """F_phi bound to one chain and one setting of the weights: the search's view of it.

    ``initial_values(states, k) -> (n,)`` values in reward units (no NFE; wall time counted).
    """

    def __init__(self, network: ValueNetwork, chain, lam: float) -> None:
        self.network, self.chain = network, chain
        self.scale = float(chain.value_scale)
        w = np.asarray(chain.value_weights(lam), dtype=np.float32)
        self.weights = mx.array(w[None, :])
        self.calls = 0

    def initial_values(self, states: np.ndarray, k: np.ndarray, x0_hat: np.ndarray) -> np.ndarray:
        """Values of states at branching indices ``k`` given their denoised estimates."""
        n = len(states)
        if n == 0:
            return np.zeros(0)
        features = mx.array(self.chain.value_features(states, k, x0_hat).astype(np.float32))
        fraction = mx.array(self.chain.level_fraction(k).astype(np.float32))
        out = self.network(
            features, fraction, mx.broadcast_to(self.weights, (n, self.weights.shape[1]))
        )
        self.calls += 1
        return np.array(out, dtype=np.float64) * self.scale
