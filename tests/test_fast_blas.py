"""The fast BLAS under MLX: numerically the same products, and a switch that turns it off."""

import sadt  # noqa: F401  (first: decides which BLAS MLX binds to)

# isort: split
import json
import os
import subprocess
import sys

import mlx.core as mx
import numpy as np
import pytest

from sadt import fast_blas

STATUS = "import json, sadt; from sadt import fast_blas; print(json.dumps(fast_blas.status()))"


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter; env values of None unset those variables."""
    merged = {**os.environ, **env}
    merged = {k: v for k, v in merged.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-c", code], env=merged, capture_output=True, text=True, check=True
    )


@pytest.mark.parametrize("shape", [(1, 64, 96), (256, 256, 512), (33, 17, 5)])
def test_mlx_matmul_agrees_with_numpy_to_float32_tolerance(shape):
    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    got = np.array(mx.array(a.astype(np.float32)) @ mx.array(b.astype(np.float32)))
    np.testing.assert_allclose(got, a @ b, rtol=1e-4, atol=1e-4 * np.sqrt(k))
    # Transposed views: MLX passes them to sgemm as transpose flags, not copies.
    got_t = np.array(mx.array(b.astype(np.float32)).T @ mx.array(a.astype(np.float32)).T)
    np.testing.assert_allclose(got_t, (a @ b).T, rtol=1e-4, atol=1e-4 * np.sqrt(k))


def test_status_reports_what_was_loaded():
    status = fast_blas.status()
    assert {"enabled", "library", "source", "reason"} <= set(status)
    if sys.platform.startswith("linux") and not status["enabled"]:
        pytest.skip(f"no optimized BLAS on this machine: {status['reason']}")
    if status["enabled"]:
        assert status["library"] and status["reason"] == "loaded"
    assert fast_blas.enable() == status  # a second call changes nothing


def test_blas_threads_default_to_one_and_follow_the_environment():
    if not fast_blas.status()["enabled"]:
        pytest.skip("no optimized BLAS loaded")
    default = json.loads(run_python(STATUS, SADT_BLAS_THREADS=None).stdout)
    assert default.get("threads") in (1, None)
    two = json.loads(run_python(STATUS, SADT_BLAS_THREADS="2").stdout)
    assert two.get("threads") in (2, None)  # None: a library without a thread knob


def test_sadt_fast_blas_0_turns_it_off_in_a_fresh_process():
    status = json.loads(run_python(STATUS, SADT_FAST_BLAS="0").stdout)
    assert status["enabled"] is False and "SADT_FAST_BLAS=0" in status["reason"]
    # MLX still works (on its own reference BLAS) and gives the same product.
    code = "import sadt, mlx.core as mx; print((mx.ones((8, 8)) @ mx.ones((8, 8))).sum().item())"
    assert float(run_python(code, SADT_FAST_BLAS="0").stdout) == 512.0


def test_importing_mlx_before_sadt_warns_and_says_why():
    if not sys.platform.startswith("linux"):
        pytest.skip("the fast BLAS loader only acts on Linux")
    done = run_python("import mlx.core; " + STATUS)
    status = json.loads(done.stdout)
    assert status["enabled"] is False and "imported before sadt" in status["reason"]
    assert "import sadt before mlx" in done.stderr
