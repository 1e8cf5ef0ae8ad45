"""B5 (denoiser part): NFE/s of `Forecaster.step` at batch 1/16/64/256, its GFLOP/s against
numpy GEMMs of the same shapes in the same run, and MLX with vs without the fast BLAS.

    python -m bench.denoiser_speed [--model checkpoints/forecaster] [--repeats 7]

FLOPs count the denoiser's matrix products only (2 * in * out per Linear per row); the
elementwise work (norms, ReLU, FiLM, the DDIM update) is overhead charged to the wall time.
The "no fast BLAS" side runs in a subprocess with SADT_FAST_BLAS=0 on the same weights and
inputs; its outputs must agree with the fast path to float32 tolerance.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common  # first: loads the fast BLAS before mlx.core

# isort: split
import mlx.core as mx
import numpy as np

from sadt.forecaster import Forecaster, ForecasterConfig

BATCHES = (1, 16, 64, 256)


def denoiser_shapes(model: Forecaster) -> list[tuple[int, int]]:
    """(in, out) of every Linear a denoiser call runs, in order."""
    d = model.denoiser
    shapes = [tuple(d.inp.weight.shape[::-1])]
    for block in d.blocks:
        shapes += [tuple(block.up.weight.shape[::-1]), tuple(block.down.weight.shape[::-1])]
    return shapes + [tuple(d.out.weight.shape[::-1])]


def step_inputs(model: Forecaster, batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    context = mx.array(rng.standard_normal((1, model.config.context_length), dtype=np.float32))
    cond = mx.repeat(model.encode(context), batch, axis=0)
    x = mx.array(rng.standard_normal((batch, model.config.horizon), dtype=np.float32))
    levels = mx.array(rng.integers(1, model.config.num_steps + 1, batch).astype(np.int32))
    noise = mx.array(rng.standard_normal((batch, model.config.horizon), dtype=np.float32))
    mx.eval(cond, x, noise)
    return x, levels, cond, noise


def time_calls(fn, calls: int, repeats: int) -> float:
    """Median over `repeats` of the mean seconds per call over `calls` back-to-back calls."""
    return float(np.median(paired_times([fn], calls, repeats)[0]))


def paired_times(fns, calls: int, repeats: int) -> list[list[float]]:
    """Seconds per call of each fn, the fns taking turns in every repeat: on a shared machine
    they then see the same load, so their ratio is fair even when absolute times drift."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times, strict=True):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            out.append((time.perf_counter() - start) / calls)
    return times


def step_fn(model: Forecaster, batch: int):
    x, levels, cond, noise = step_inputs(model, batch)
    return lambda: mx.eval(model.step(x, levels, cond, noise))


def step_seconds(model: Forecaster, batch: int, repeats: int) -> float:
    return time_calls(step_fn(model, batch), _calls(batch), repeats)


def numpy_chain(shapes, batch: int):
    """The denoiser's matrix products in numpy: (batch, in) @ (in, out), in order."""
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(s, dtype=np.float32) * 0.05 for s in shapes]
    x = rng.standard_normal((batch, shapes[0][0]), dtype=np.float32)

    def chain():
        h = x
        for w in weights:
            h = h @ w
        return h

    return chain


def _calls(batch: int) -> int:
    return max(4, 512 // batch)


def agreement_worker(folder: str) -> None:
    """Subprocess side: step outputs and timing under whatever BLAS this process has."""
    from sadt import fast_blas

    model = Forecaster.load(folder)
    x, levels, cond, noise = step_inputs(model, 256)
    out = np.array(model.step(x, levels, cond, noise)[0])
    np.save(Path(folder) / "worker_out.npy", out)
    seconds = step_seconds(model, 256, 5)
    print(json.dumps({"status": fast_blas.status(), "seconds_b256": seconds}))


def blas_comparison(model: Forecaster, repeats: int) -> dict:
    """The same step with SADT_FAST_BLAS=0 in a subprocess: agreement and speed ratio."""
    with tempfile.TemporaryDirectory() as folder:
        model.save(folder)
        env = {**os.environ, "SADT_FAST_BLAS": "0"}
        cmd = [sys.executable, "-m", "bench.denoiser_speed", "--agreement-worker", folder]
        done = subprocess.run(
            cmd,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        worker = json.loads(done.stdout.strip().splitlines()[-1])
        x, levels, cond, noise = step_inputs(model, 256)
        fast = np.array(model.step(x, levels, cond, noise)[0])
        slow = np.load(Path(folder) / "worker_out.npy")
    fast_seconds = step_seconds(model, 256, repeats)
    return {
        "reference_blas_status": worker["status"],
        "max_abs_diff": float(np.abs(fast - slow).max()),
        "max_abs_value": float(np.abs(fast).max()),
        "reference_seconds_b256": worker["seconds_b256"],
        "fast_seconds_b256": fast_seconds,
        "speedup": worker["seconds_b256"] / fast_seconds,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="Forecaster folder (default: untrained)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--skip-blas-off", action="store_true")
    parser.add_argument("--out", default=None)
    parser.add_argument("--agreement-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.agreement_worker:
        agreement_worker(args.agreement_worker)
        return {}

    if args.model:
        model = Forecaster.load(args.model)
    else:  # untrained; a random (not zero) output layer so the BLAS comparison means something
        model = Forecaster(ForecasterConfig())
        model.denoiser.out.weight = mx.random.normal(model.denoiser.out.weight.shape) * 0.05
    shapes = denoiser_shapes(model)
    flops_per_nfe = 2 * sum(i * o for i, o in shapes)
    rows = []
    for batch in BATCHES:
        mlx_t, numpy_t = paired_times(
            [step_fn(model, batch), numpy_chain(shapes, batch)], _calls(batch), args.repeats
        )
        mlx_s, numpy_s = float(np.median(mlx_t)), float(np.median(numpy_t))
        ratio = float(np.median(np.array(numpy_t) / np.array(mlx_t)))  # per repeat, paired
        rows.append(
            {
                "batch": batch,
                "nfe_per_s": batch / mlx_s,
                "step_us": mlx_s * 1e6,
                "gflops": batch * flops_per_nfe / mlx_s / 1e9,
                "numpy_gemm_gflops": batch * flops_per_nfe / numpy_s / 1e9,
                "ratio_vs_numpy": ratio,
            }
        )
    common.print_table(
        rows, ["batch", "nfe_per_s", "step_us", "gflops", "numpy_gemm_gflops", "ratio_vs_numpy"]
    )
    # Plain ancestral sampling of 256 rows (S levels), for the per-level loop's overhead.
    cond = mx.repeat(model.encode(mx.zeros((1, model.config.context_length))), 1, axis=0)
    rng = np.random.default_rng(0)
    sample_s = time_calls(lambda: model.sample_normalized(cond, 256, rng), 1, 3)
    ancestral = 256 * model.config.num_steps / sample_s
    print(f"ancestral sampling, 256 rows x {model.config.num_steps} levels: {ancestral:.0f} NFE/s")
    record = {
        "benchmark": "B5 denoiser throughput",
        "model": args.model or "untrained default",
        "flops_per_nfe": flops_per_nfe,
        "shapes": shapes,
        "rows": rows,
        "ancestral_nfe_per_s_256": ancestral,
        "machine": common.machine(),
    }
    if not args.skip_blas_off:
        record["blas_off"] = blas_comparison(model, args.repeats)
        b = record["blas_off"]
        print(
            f"SADT_FAST_BLAS=0: max |diff| {b['max_abs_diff']:.2e} (values up to "
            f"{b['max_abs_value']:.2f}); batch-256 step {b['reference_seconds_b256'] * 1e3:.2f} "
            f"ms vs {b['fast_seconds_b256'] * 1e3:.2f} ms with it ({b['speedup']:.1f}x)"
        )
    common.write_json("denoiser_speed", record, args.out)
    return record


if __name__ == "__main__":
    main()
