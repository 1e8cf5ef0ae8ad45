"""The `sadt` command: forecast or describe a series file from the shell.

sadt forecast load.csv --horizon 48 --method dts --budget 1000 --out forecast.csv
sadt describe load.csv [--question "Is there a trend?"]
"""

from __future__ import annotations

import argparse
import sys

from sadt.series import SeriesError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sadt", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("forecast", "describe"):
        p = sub.add_parser(name)
        p.add_argument("file", help="CSV, TSV or JSON series file")
        p.add_argument("--column", help="value column (default: the last numeric column)")
        p.add_argument("--model", default=None, help="Hub id or folder (default: bundled)")
    fc = sub.choices["forecast"]
    fc.add_argument("--horizon", type=int, default=None)
    fc.add_argument("--method", default="dts")
    fc.add_argument("--budget", type=int, default=1000, help="denoiser calls (NFE)")
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
    fc.add_argument("--samples", type=int, default=64)
    fc.add_argument("--seed", type=int, default=0)
    fc.add_argument("--out", help="write the forecast CSV here (default: print it)")
    sub.choices["describe"].add_argument("--question", default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import sadt

    try:
        series = sadt.read_series(args.file, column=args.column)
        pipe = sadt.from_pretrained(args.model, describer=args.command == "describe")
        if args.command == "describe":
            for piece in pipe.stream_describe(series, args.question):
                print(piece, end="", flush=True)
            print()
            return 0
        forecast = pipe.forecast(
            series,
            args.horizon,
            args.method,
            args.budget,
            args.gamma,
            tuple(args.bands),
            args.lam,
            args.samples,
            args.seed,
        )
        frame = forecast.to_dataframe()
        if args.out:
            frame.to_csv(args.out, index=False)
            print(
                f"wrote {len(frame)} forecast steps to {args.out} "
                f"({forecast.nfe} NFE, {forecast.wall_time:.2f} s)"
            )
        else:
            print(frame.to_csv(index=False), end="")
    except (SeriesError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
