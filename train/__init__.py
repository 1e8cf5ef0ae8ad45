"""Training entry points: `python -m train.<name>`."""

import sadt  # noqa: F401  (loads the fast BLAS before any module imports mlx.core)
