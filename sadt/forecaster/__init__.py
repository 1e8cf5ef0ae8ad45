"""The diffusion forecaster: `Forecaster`, its config, and the context normalization."""

from sadt.forecaster.model import Forecaster, ForecasterConfig, normalize_context

__all__ = ["Forecaster", "ForecasterConfig", "normalize_context"]
