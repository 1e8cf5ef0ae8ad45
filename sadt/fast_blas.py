"""A fast BLAS under MLX on Linux CPUs.

The ``mlx[cpu]`` wheel links the reference (netlib) BLAS: its matrix products run
at ~6 GFLOP/s on a machine where numpy's OpenBLAS does ~150. ``libmlx.so`` takes
``cblas_sgemm`` / ``cblas_dgemm`` / ``cblas_cgemm`` from whichever loaded library
defines them first, so loading an optimized BLAS with ``RTLD_GLOBAL`` *before*
``import mlx.core`` makes MLX use it. Nothing else changes: same wheel, same API.

Where the optimized BLAS comes from, first match wins:

1. ``SADT_BLAS=/path/to/libblas.so`` — any library exporting ``cblas_sgemm``.
2. The ``scipy-openblas32`` wheel (a dependency of sadt on Linux). Its symbols
   carry a ``scipy_`` prefix, so a 30-line forwarding shim is compiled once with
   the system C compiler into ``~/.cache/sadt`` (skipped when no compiler exists).
3. The system's OpenBLAS (Debian/Ubuntu ``libopenblas0``; Fedora ``openblas``).

``SADT_FAST_BLAS=0`` turns all of this off. ``status()`` says what was loaded.

Threads: MLX's BLAS runs with ``SADT_BLAS_THREADS`` threads (default 1). The matrices
of a denoiser call are small, and OpenBLAS's worker threads busy-wait: on a 2-core
machine with anything else running, a 2-thread (16×256)·(256×512) product measured
~300 ms instead of ~0.7 ms. Raise it for large-batch training on an idle machine.
It is a no-op on macOS (MLX uses Accelerate and Metal there) and when
``mlx.core`` is already imported (too late to interpose; a warning says so).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

_SYSTEM_OPENBLAS = (
    "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",
    "/usr/lib/aarch64-linux-gnu/openblas-pthread/libblas.so.3",
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
    "/usr/lib64/libopenblas.so.0",
    "/usr/lib64/libopenblasp.so.0",
)

# Forwards the three CBLAS entry points libmlx.so imports to the prefixed wheel.
_SHIM_SOURCE = r"""
typedef int I;
extern void scipy_cblas_sgemm(I, I, I, I, I, I, float, const float *, I, const float *, I,
                              float, float *, I);
extern void scipy_cblas_dgemm(I, I, I, I, I, I, double, const double *, I, const double *, I,
                              double, double *, I);
extern void scipy_cblas_cgemm(I, I, I, I, I, I, const void *, const void *, I, const void *, I,
                              const void *, void *, I);
void cblas_sgemm(I o, I ta, I tb, I m, I n, I k, float al, const float *a, I lda,
                 const float *b, I ldb, float be, float *c, I ldc) {
  scipy_cblas_sgemm(o, ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc);
}
void cblas_dgemm(I o, I ta, I tb, I m, I n, I k, double al, const double *a, I lda,
                 const double *b, I ldb, double be, double *c, I ldc) {
  scipy_cblas_dgemm(o, ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc);
}
void cblas_cgemm(I o, I ta, I tb, I m, I n, I k, const void *al, const void *a, I lda,
                 const void *b, I ldb, const void *be, void *c, I ldc) {
  scipy_cblas_cgemm(o, ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc);
}
"""

_status: dict = {"enabled": False, "library": None, "source": None, "reason": "not attempted"}
_handles: list = []  # keep loaded libraries alive for the process


def status() -> dict:
    """What ``enable()`` did: ``{"enabled", "library", "source", "reason"}``."""
    return dict(_status)


def _exports_sgemm(handle: ctypes.CDLL) -> bool:
    return hasattr(handle, "cblas_sgemm")


def _system_openblas() -> str | None:
    for path in _SYSTEM_OPENBLAS:
        if os.path.exists(path):
            return path
    return ctypes.util.find_library("openblas")


def _wheel_shim() -> str | None:
    """Path to the compiled shim over scipy-openblas32, building it once if needed."""
    try:
        import scipy_openblas32
    except ImportError:
        return None
    lib_dir = Path(scipy_openblas32.get_lib_dir())
    lib_name = scipy_openblas32.get_library()  # "scipy_openblas"
    if not (lib_dir / f"lib{lib_name}.so").exists():
        return None
    key = hashlib.sha256(f"{_SHIM_SOURCE}{lib_dir}{lib_name}".encode()).hexdigest()[:16]
    cache = Path(os.environ.get("SADT_CACHE", Path.home() / ".cache" / "sadt"))
    shim = cache / f"libsadt_cblas_{key}.so"
    if shim.exists():
        return str(shim)
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        return None
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        source = Path(tmp) / "shim.c"
        source.write_text(_SHIM_SOURCE)
        built = Path(tmp) / shim.name
        cmd = [
            compiler,
            "-shared",
            "-fPIC",
            "-O2",
            str(source),
            "-o",
            str(built),
            f"-L{lib_dir}",
            f"-l{lib_name}",
            f"-Wl,-rpath,{lib_dir}",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            return None
        os.replace(built, shim)  # atomic: concurrent imports never see a half-written file
    return str(shim)


def _set_threads(handle: ctypes.CDLL) -> int | None:
    """Apply SADT_BLAS_THREADS (default 1) to the loaded OpenBLAS; None if it has no knob."""
    raw = os.environ.get("SADT_BLAS_THREADS", "1").strip()
    threads = int(raw) if raw.isdigit() and int(raw) > 0 else 1
    for name in ("scipy_openblas_set_num_threads", "openblas_set_num_threads"):
        if hasattr(handle, name):
            getattr(handle, name)(ctypes.c_int(threads))
            return threads
    return None


def _candidates():
    explicit = os.environ.get("SADT_BLAS")
    if explicit:
        yield explicit, "SADT_BLAS"
        return
    shim = _wheel_shim()
    if shim:
        yield shim, "scipy-openblas32 wheel"
    system = _system_openblas()
    if system:
        yield system, "system OpenBLAS"


def enable() -> dict:
    """Load an optimized CBLAS globally so MLX's CPU matmuls use it. Safe to call twice."""
    if _status["enabled"]:
        return status()
    if os.environ.get("SADT_FAST_BLAS", "1").strip().lower() in ("0", "false", "no", "off"):
        _status.update(reason="disabled by SADT_FAST_BLAS=0")
        return status()
    if not sys.platform.startswith("linux"):
        _status.update(reason="not Linux: MLX uses Accelerate/Metal")
        return status()
    if "mlx.core" in sys.modules:
        _status.update(reason="mlx.core was imported before sadt; import sadt first")
        warnings.warn(
            "sadt could not speed up MLX's BLAS because mlx.core was imported first; "
            "import sadt before mlx (or set SADT_FAST_BLAS=0 to silence this).",
            stacklevel=3,
        )
        return status()
    for path, source in _candidates():
        try:
            handle = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        if _exports_sgemm(handle):
            _handles.append(handle)
            threads = _set_threads(handle)
            _status.update(
                enabled=True, library=path, source=source, reason="loaded", threads=threads
            )
            return status()
    _status.update(reason="no optimized BLAS found (install libopenblas0 or scipy-openblas32)")
    return status()
