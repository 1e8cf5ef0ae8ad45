"""App latency: request to result through the app's HTTP API, warm, at default settings.

    python -m bench.app_latency --model PIPELINE_DIR_OR_HUB_ID     # starts `python app.py`
    python -m bench.app_latency --url http://127.0.0.1:7860/       # an app already running

What one press of "Describe & forecast" costs, as a client sees it: /describe (the series'
description), /forecast (search + plots + CSV), /backtest (the last 3 horizons forecast
from the history before each, against seasonal naive) and /describe_forecast (history +
chosen path), each timed from request to result by gradio_client, on the default example at the
app's defaults (H = min(96, the model's horizon), DTS, 1000 NFE, 16 paths shown). The first
rounds warm the app up (MLX kernels, caches) and are not counted; then the median of
`--repeats` rounds is reported, with the pipeline's own search time (`search time (s)` of
the statistics) beside the forecast request so the app's overhead shows.
Targets: describe + forecast <= 2 s on the 2-core CPU machine with the default model; the
backtest adds <= 1 s.

Writes bench/results/app_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import machine, print_table, write_json

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = "Hourly electricity load (daily and weekly cycle)"
TARGET_SECONDS = 2.0
BACKTEST_TARGET_SECONDS = 1.0
BACKTEST_WINDOWS = 3  # the app's default


def start_app(model: str, timeout: float = 180) -> tuple[subprocess.Popen, str]:
    """`python app.py --model model` on a free local port: (process, url) once it answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "app.py", "--model", model, "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")},
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"app.py exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"app.py did not answer within {timeout} s")


def default_horizon(client) -> int:
    """The horizon slider's default, read from the app's API description."""
    api = client.view_api(print_info=False, return_format="dict")
    parameters = api["named_endpoints"]["/forecast"]["parameters"]
    return int(next(p for p in parameters if p["parameter_name"] == "horizon")["parameter_default"])


def one_round(client, horizon: int, budget: int, seed: int) -> dict:
    """One press of the button: describe, forecast, describe history + forecast (seconds)."""
    source = (None, EXAMPLE, None)
    times = {}
    tic = time.perf_counter()
    client.predict(*source, api_name="/describe")
    times["describe"] = time.perf_counter() - tic
    tic = time.perf_counter()
    settings = (horizon, "dts", budget, 1.0, 1.0, 1.0, 1.0, 1.0)
    _, _, _, stats, *_ = client.predict(*source, *settings, 16, seed, False, api_name="/forecast")
    times["forecast"] = time.perf_counter() - tic
    tic = time.perf_counter()
    client.predict(*source, *settings, seed, BACKTEST_WINDOWS, api_name="/backtest")
    times["backtest"] = time.perf_counter() - tic
    tic = time.perf_counter()
    client.predict(api_name="/describe_forecast")
    times["describe_forecast"] = time.perf_counter() - tic
    times["search"] = stats["search time (s)"]
    times["nfe"] = stats["NFE used"]
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--model", help="pipeline folder or Hub id to start app.py with")
    where.add_argument("--url", help="an app that is already running")
    parser.add_argument("--budget", type=int, default=1000, help="NFE per forecast")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/...)")
    args = parser.parse_args(argv)

    from gradio_client import Client

    process, url = start_app(args.model) if args.model else (None, args.url)
    try:
        client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        horizon = default_horizon(client)
        for seed in range(args.warmup):
            one_round(client, horizon, args.budget, seed)
        rounds = [one_round(client, horizon, args.budget, 100 + i) for i in range(args.repeats)]
        client.close()
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)

    def median(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    rows = [
        {"step": name, "median_s": median(name), "max_s": max(r[name] for r in rounds)}
        for name in ("describe", "forecast", "backtest", "describe_forecast")
    ]
    rows.append({"step": "  of which search", "median_s": median("search")})
    request = [r["describe"] + r["forecast"] for r in rounds]
    press = [
        sum(r[k] for k in ("describe", "forecast", "backtest", "describe_forecast")) for r in rounds
    ]
    rows.append({"step": "describe + forecast", "median_s": statistics.median(request)})
    rows.append({"step": "whole button press", "median_s": statistics.median(press)})
    print(f"app latency, H={horizon}, DTS, {args.budget} NFE, {args.repeats} warm rounds")
    print_table(rows, ["step", "median_s", "max_s"])
    verdict = "meets" if statistics.median(request) <= TARGET_SECONDS else "misses"
    print(f"describe + forecast {verdict} the {TARGET_SECONDS:g} s target")
    verdict = "meets" if median("backtest") <= BACKTEST_TARGET_SECONDS else "misses"
    print(f"the backtest {verdict} its {BACKTEST_TARGET_SECONDS:g} s target")
    write_json(
        "app_latency",
        {
            "model": args.model or args.url,
            "horizon": horizon,
            "method": "dts",
            "budget_nfe": args.budget,
            "repeats": args.repeats,
            "median_s": {row["step"].strip(): row["median_s"] for row in rows},
            "rounds": rounds,
            "target_s": TARGET_SECONDS,
            "load_average": os.getloadavg(),
            "machine": machine(),
        },
        args.out,
    )
    print(json.dumps({"describe_plus_forecast_s": round(statistics.median(request), 3)}))


if __name__ == "__main__":
    main()
