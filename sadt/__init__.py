"""sadt: describe and forecast time series with an MLX time-series language model
and diffusion forecasts steered by tree search toward a spectral reward."""

# Must run before anything imports mlx.core: it decides which BLAS MLX binds to.
from sadt import fast_blas

fast_blas.enable()

__version__ = "0.1.0"
