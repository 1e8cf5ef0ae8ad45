"""Data-parallel scaling: training steps/s on 1 process vs N ranks under `mlx.launch`.

    python -m bench.distributed_scaling                   # forecaster, 1 vs 2 ranks
    python -m bench.distributed_scaling --ranks 1 2 --steps 80 --batch-size 128

Trains the default forecaster architecture (train/configs/forecaster.yaml's model) on a
synthetic CSV written to a temporary folder, at the same *global* batch for every rank
count, and reads steps/s from the trainer's own log (the first logged interval is left
out: it holds compilation). Efficiency = (steps/s on N ranks) / (N x steps/s on 1).

On one machine the ranks share its cores and memory bandwidth: with 2 cores, one process
already keeps both busy (MLX's CPU ops use a thread pool), so expect an efficiency near
or below 1/N x (single-rank speedup per core), plus the ring's all_sum of every gradient
(~4 MB per step here) over loopback TCP. The figure that matters for users is across
machines, where each rank brings its own cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from bench.common import machine, write_json

ROOT = Path(__file__).resolve().parents[1]


def _synthetic_csv(path: Path, length: int = 4000) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(length)
    columns = {
        f"s{i}": 5 * i + 3 * np.sin(2 * np.pi * t / p) + 0.3 * rng.normal(size=length)
        for i, p in enumerate((24, 12, 168, 48))
    }
    header = ",".join(columns)
    rows = np.stack(list(columns.values()), axis=1)
    path.write_text(header + "\n" + "\n".join(",".join(f"{v:.4f}" for v in r) for r in rows))
    return path


def _launcher() -> str:
    found = shutil.which("mlx.launch", path=str(Path(sys.executable).parent))
    found = found or shutil.which("mlx.launch")
    if found is None:
        raise SystemExit("mlx.launch is not installed (it comes with the mlx package).")
    return found


def run(ranks: int, steps: int, batch_size: int, log_every: int, csv: Path) -> dict:
    model = yaml.safe_load((ROOT / "train/configs/forecaster.yaml").read_text())["model"]
    out = csv.parent / f"ranks{ranks}"
    args = [
        "-m", "train.forecaster",
        "--out_dir", str(out),
        "--csv", f"[{csv}]",
        "--split", "0:3600",
        "--val_split", "3600:4000",
        "--wide", "[]",
        "--steps", str(steps),
        "--batch_size", str(batch_size),
        "--log_every", str(log_every),
        "--val_every", str(10 * steps),
        "--checkpoint_every", str(10 * steps),
        "--warmup_steps", "10",
    ]  # fmt: skip
    for key, value in model.items():
        args += [f"--model.{key}", str(value)]
    cmd = [sys.executable, *args]
    if ranks > 1:
        port = str(5600 + os.getpid() % 300 * 4)
        cmd = [_launcher(), "--hosts", "127.0.0.1", "-n", str(ranks), "--backend", "ring"]
        cmd += ["--starting-port", port, sys.executable, *args]
    tic = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - tic
    if done.returncode != 0:
        raise SystemExit(f"{ranks}-rank run failed:\n{done.stderr[-2000:]}")
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    first, last = log[0], log[-1]  # the first interval holds compilation: left out
    rate = (last["step"] - first["step"]) / (last["elapsed_s"] - first["elapsed_s"])
    return {"ranks": ranks, "steps_per_s": rate, "wall_s": wall, "final_loss": last["loss"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=128, help="global batch")
    parser.add_argument("--log-every", type=int, default=20)
    parser.add_argument("--out", help="JSON path (default bench/results/...)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        csv = _synthetic_csv(Path(tmp) / "series.csv")
        rows = [run(n, args.steps, args.batch_size, args.log_every, csv) for n in args.ranks]
    base = next((r["steps_per_s"] for r in rows if r["ranks"] == 1), None)
    print(f"forecaster training, global batch {args.batch_size}, {os.cpu_count()} cores")
    print(f"{'ranks':>5} {'steps/s':>8} {'speed-up':>8} {'efficiency':>10}")
    for r in rows:
        if base:
            r["speedup"] = r["steps_per_s"] / base
            r["efficiency"] = r["speedup"] / r["ranks"]
        print(
            f"{r['ranks']:>5} {r['steps_per_s']:>8.2f} {r.get('speedup', float('nan')):>8.2f} "
            f"{r.get('efficiency', float('nan')):>10.2f}"
        )
    record = {"machine": machine(), "batch_size": args.batch_size, "runs": rows}
    write_json("distributed_scaling", record, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
