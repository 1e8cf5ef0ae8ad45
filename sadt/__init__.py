"""sadt: describe and forecast time series with an MLX time-series language model and
diffusion forecasts steered by tree search toward a spectral reward.

    import sadt
    pipe = sadt.from_pretrained()           # bundled sadt-tiny; or a Hub id / local folder
    pipe.describe(series)                   # text
    pipe.forecast(series, horizon=48)       # sadt.Forecast (samples, quantiles, chosen path)
"""

# Must run before anything imports mlx.core: it decides which BLAS MLX binds to.
from sadt import fast_blas

fast_blas.enable()

from sadt.series import Series, SeriesError, list_columns, read_series  # noqa: E402

__version__ = "0.1.0"


def from_pretrained(repo_or_path=None, **kwargs):
    """Load a :class:`sadt.Pipeline`: ``None`` = the bundled default, else a Hub id or folder."""
    from sadt.pipeline import Pipeline

    return Pipeline.from_pretrained(repo_or_path, **kwargs)


def __getattr__(name):  # heavy modules (MLX models) load on first use
    if name in ("Pipeline", "Forecast"):
        import sadt.pipeline

        return getattr(sadt.pipeline, name)
    raise AttributeError(f"module 'sadt' has no attribute {name!r}")


__all__ = [
    "Forecast",
    "Pipeline",
    "Series",
    "SeriesError",
    "from_pretrained",
    "list_columns",
    "read_series",
]
