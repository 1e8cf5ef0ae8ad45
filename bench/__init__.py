"""Benchmarks: `python -m bench.<name>` (protocols in ../shared/BENCHMARKS.md)."""

import os

# numpy's OpenBLAS reads this once, when numpy loads (sadt imports numpy): run it with the
# thread count MLX's BLAS uses (sadt.fast_blas: SADT_BLAS_THREADS, default 1), so MLX-vs-numpy
# figures compare like with like, and oversubscribed BLAS threads on a shared machine (10x+
# slower products, measured) do not distort any benchmark. Set OPENBLAS_NUM_THREADS to override.
os.environ.setdefault("OPENBLAS_NUM_THREADS", os.environ.get("SADT_BLAS_THREADS", "1"))

import sadt  # noqa: E402, F401  (loads the fast BLAS before any module imports mlx.core)
