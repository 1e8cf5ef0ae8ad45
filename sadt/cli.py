"""The `sadt` command: forecast or describe a series file from the shell.

sadt forecast load.csv --horizon 48 --method dts --budget 1000 --out forecast.csv
sadt forecast load.csv --backtest 3     # first: how it would have done on the last 3 horizons
sadt forecast load.csv --describe       # and the describer's words about the forecast
sadt describe load.csv [--question "Is there a trend?"]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from sadt.series import MIN_LENGTH, SeriesError, read_forecast_series
from sadt.train import TRAINERS


def whole_at_least(low: int):
    """argparse type: a whole number >= ``low`` (argparse names the flag, exit code 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {low}, not {text!r}")
        return value

    return parse


def _methods_help() -> str:
    from sadt.methods import METHODS

    plain = [m.name for m in METHODS.values() if not m.needs_value]
    amortized = [m.name for m in METHODS.values() if m.needs_value]
    return (
        f"search method: {', '.join(plain)}; with a value network also "
        f"{', '.join(amortized)} (default: %(default)s)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sadt", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("forecast", "describe"):
        p = sub.add_parser(name)
        p.add_argument("file", help="CSV, TSV or JSON series file")
        p.add_argument("--column", help="value column (default: the last numeric column)")
        p.add_argument("--model", default=None, help="Hub id or folder (default: bundled)")
    fc = sub.choices["forecast"]
    fc.add_argument(
        "--horizon",
        type=int,
        default=None,
        help="steps to forecast, 1 to 2000 (default: by the series' frequency, e.g. 48 for "
        "hourly, 18 for monthly data, never longer than the history)",
    )
    fc.add_argument("--method", default="dts", help=_methods_help())
    fc.add_argument(
        "--budget",
        type=int,
        default=None,
        help="denoiser calls (NFE); default 1000 per block of the model's native horizon",
    )
    fc.add_argument("--gamma", type=float, default=1.0, help="spectral reward weight")
    fc.add_argument(
        "--bands",
        type=float,
        nargs=3,
        default=(1.0, 1.0, 1.0),
        metavar=("LOW", "MID", "HIGH"),
        help="band weights of the reward",
    )
    fc.add_argument("--lam", type=float, default=1.0, help="inverse temperature")
    fc.add_argument("--samples", type=int, default=64, help="sample paths, 1 to 1000")
    fc.add_argument(
        "--seed", type=whole_at_least(0), default=0, help="random seed, a whole number >= 0"
    )
    fc.add_argument(
        "--nonnegative",
        choices=("auto", "yes", "no"),
        default="auto",
        help="clip the forecast at 0 (auto: when the history never goes below 0)",
    )
    fc.add_argument("--out", help="write the forecast CSV here (default: print it)")
    fc.add_argument(
        "--history", action="store_true", help="put the observed values before the forecast"
    )
    fc.add_argument("--paths", help="also write every sample path here (CSV, long format)")
    fc.add_argument(
        "--backtest",
        type=whole_at_least(0),
        default=0,
        metavar="WINDOWS",
        help="first forecast the last WINDOWS stretches of the horizon from the history "
        "before each, and print how that went against seasonal naive (default: 0, none)",
    )
    fc.add_argument(
        "--describe",
        action="store_true",
        help="also print the describer's words about the forecast (on stderr)",
    )
    sub.choices["describe"].add_argument("--question", default=None)
    train = sub.add_parser(
        "train",
        help="train a part: sadt train {forecaster,value,tslm,tiny_llama,push} --help",
        add_help=False,  # `sadt train forecaster --help` is the trainer's own help
    )
    train.add_argument("trainer", nargs="?", help=", ".join(TRAINERS))
    train.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _train(trainer: str | None, rest: list[str]) -> int:
    """``sadt train NAME ...``: run the trainer ``sadt.train.NAME`` with the rest."""
    if trainer in (None, "-h", "--help"):
        print(f"usage: sadt train {{{','.join(TRAINERS)}}} [settings ...]  (each has --help)")
        return 0 if trainer else 2
    if trainer not in TRAINERS:
        print(f"error: no trainer {trainer!r}; pick one of {', '.join(TRAINERS)}", file=sys.stderr)
        return 2
    import importlib

    return importlib.import_module(f"sadt.train.{trainer}").main(rest)


@contextmanager
def stop_on_ctrl_c():
    """While inside: a first Ctrl-C sets the yielded event (the search stops and its result
    is written as usual); a second one interrupts as Ctrl-C always does."""
    asked = threading.Event()

    def handler(signum, frame):
        if asked.is_set():
            raise KeyboardInterrupt
        asked.set()
        print(
            "stopping: writing what the search found so far (Ctrl-C again to quit)", file=sys.stderr
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield asked
    finally:
        signal.signal(signal.SIGINT, previous)


def check_out_file(path: str) -> Path:
    """Where --out will write, checked before any work is done (one sentence otherwise)."""
    out = Path(path).expanduser()
    if out.is_dir():
        raise ValueError(f"--out {path} is a folder; give a file name such as {out / 'fc.csv'}")
    folder = out.parent
    if not folder.is_dir():
        raise ValueError(f"--out {path}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"--out {path}: the folder {folder} is not writable")
    return out


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "train":
        return _train(args.trainer, args.rest)
    import sadt

    try:
        out = check_out_file(args.out) if getattr(args, "out", None) else None
        paths = check_out_file(args.paths) if getattr(args, "paths", None) else None
        if args.command == "describe":
            series = sadt.read_series(args.file, column=args.column)
        else:  # a forecast starts from any length (random walks under MIN_LENGTH values)
            series = read_forecast_series(args.file, column=args.column)
            if len(series.values) < MIN_LENGTH:
                print(
                    f"note: {len(series.values)} values are too few for the model; the "
                    "forecast is random walks from the last value",
                    file=sys.stderr,
                )
        if series.dropped:  # stderr: stdout stays the forecast CSV
            print(
                f"note: the {series.dropped} rows before a gap too long to fill were left out",
                file=sys.stderr,
            )
        wants_words = args.command == "describe" or getattr(args, "describe", False)
        pipe = sadt.from_pretrained(args.model, describer=wants_words)
        if args.command == "describe":
            for piece in pipe.stream_describe(series, args.question):
                print(piece, end="", flush=True)
            print()
            return 0
        settings = {
            "method": args.method,
            "budget": args.budget,
            "gamma": args.gamma,
            "band_weights": tuple(args.bands),
            "lam": args.lam,
            "num_samples": args.samples,
            "seed": args.seed,
            "nonnegative": {"auto": None, "yes": True, "no": False}[args.nonnegative],
        }
        if args.backtest:  # on stderr: stdout stays the forecast CSV
            backtest = pipe.backtest(series, args.horizon, args.backtest, **settings)
            print(backtest.summary(), file=sys.stderr)
        with stop_on_ctrl_c() as asked:  # Ctrl-C: the search ends with what it found
            forecast = pipe.forecast(
                series, args.horizon, progress=lambda *_: asked.is_set(), **settings
            )
        if "stopped" in forecast.stats:
            print(f"note: {forecast.stats['stopped']}", file=sys.stderr)
        if args.describe and pipe.tslm is not None:  # stderr: stdout stays the forecast CSV
            print(pipe.describe_forecast(forecast), file=sys.stderr)
        if paths is not None:
            forecast.paths_to_csv(paths)
        if out is not None:
            forecast.to_csv(out, history=args.history)
            print(
                f"wrote {forecast.horizon} forecast steps to {out} "
                f"({forecast.nfe} NFE, {forecast.wall_time:.2f} s)"
            )
        else:
            print(forecast.to_csv(history=args.history), end="")
    except (SeriesError, ValueError, OSError) as err:  # OSError: missing or unwritable files
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
