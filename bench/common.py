"""What the forecasting benchmarks share: the machine record, baselines, tables, JSON output."""

from __future__ import annotations

import sadt  # noqa: F401  (first: loads the fast BLAS before mlx.core)

# isort: split
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from sadt import fast_blas
from sadt.metrics import DEFAULT_QUANTILES, quantile_loss

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
# Central intervals whose ends are the quantiles 0.1 .. 0.9 (statsforecast's `level`).
LEVELS = (20, 40, 60, 80)


def machine() -> dict:
    """nproc, CPU model and the BLAS MLX uses: the context every figure needs."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "fast_blas": fast_blas.status(),
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
    }


def seasonal_naive(history: np.ndarray, horizon: int, period: int = 24) -> np.ndarray:
    """Repeat the last `period` values: (T,) -> (horizon,)."""
    last = np.asarray(history, dtype=np.float64)[-period:]
    return np.resize(last, horizon)


def statsforecast_quantiles(name: str, history: np.ndarray, horizon: int, period: int = 24):
    """A classical model's (mean (H,), quantiles (9, H) at q = 0.1 .. 0.9)."""
    from statsforecast.models import AutoETS, AutoTheta

    model = {"AutoETS": AutoETS, "AutoTheta": AutoTheta}[name](season_length=period)
    out = model.forecast(y=np.asarray(history, dtype=np.float64), h=horizon, level=list(LEVELS))
    lows = [out[f"lo-{lv}"] for lv in reversed(LEVELS)]  # q = 0.1, 0.2, 0.3, 0.4
    highs = [out[f"hi-{lv}"] for lv in LEVELS]  # q = 0.6, 0.7, 0.8, 0.9
    quantiles = np.stack(lows + [out["mean"]] + highs)
    return np.asarray(out["mean"]), np.sort(quantiles, axis=0)


def quantile_crps(quantiles: np.ndarray, y: np.ndarray) -> float:
    """CRPS approximated from 9 quantiles: mean over q and steps of 2 * pinball loss."""
    return float(quantile_loss(quantiles, y, DEFAULT_QUANTILES).mean() / y.size)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def spread(total: int, count: int) -> np.ndarray:
    """``count`` indices spread evenly over 0 .. total - 1 (B3's held-out ETTh1 windows)."""
    return np.linspace(0, total - 1, count).round().astype(int)


def report(name: str, rows: list[dict], record: dict, out: str | None = None) -> dict:
    """Print ``rows`` as a table and write them, with the machine and ``record``, as JSON."""
    print_table(rows, list(rows[0]))
    record = {"machine": machine(), **record, "rows": rows}
    write_json(name, record, out)
    return record


def print_table(rows: list[dict], columns: list[str]) -> None:
    """A plain aligned table of dict rows (floats to 4 significant digits)."""

    def cell(v):
        return f"{v:.4g}" if isinstance(v, float) else "" if v is None else str(v)

    table = [columns] + [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    for i, row in enumerate(table):
        print(
            "  ".join(
                v.rjust(w) if j else v.ljust(w)
                for j, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))


def write_json(name: str, record: dict, out: str | None = None) -> Path:
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, default=float) + "\n")
    print(f"wrote {path}")
    return path
