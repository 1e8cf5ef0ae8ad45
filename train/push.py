"""Assemble trained parts into a pipeline folder, render its model card, push it to the Hub.

    python -m train.push --forecaster checkpoints/forecaster --tslm checkpoints/tslm \\
        --value checkpoints/value --out checkpoints/pipeline [--repo user/sadt-tiny --private]
    python -m train.push ... --bundle      # write the package's bundled default instead

Metrics for the model card come from the benchmark JSONs in bench/results/ when present
(B1 ETTh1, B2 M4, describe accuracy). ``--half`` stores weights as float16 (they are cast
back to float32 on load), halving the folder; the bundled default uses it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import mlx.core as mx

from sadt.forecaster import Forecaster
from sadt.forecaster.files import ModelFileError
from sadt.hub import BUNDLED, HubError, save_pipeline
from sadt.pipeline import Pipeline, SearchSettings

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"


def card_metrics(results: Path = RESULTS) -> dict:
    """{dataset: {metric: value}} from the benchmark JSONs that exist."""
    metrics: dict = {}

    def rows(name):
        path = results / f"{name}.json"
        return json.loads(path.read_text()).get("rows", []) if path.exists() else []

    for row in rows("forecast_etth1"):
        if str(row.get("method", "")).startswith("sadt"):
            metrics["ETTh1"] = {k: round(row[k], 4) for k in ("crps", "mse", "mae") if k in row}
    for row in rows("forecast_m4"):
        if str(row.get("method", "")).startswith("sadt"):
            metrics["M4-hourly"] = {k: round(row[k], 4) for k in ("wql", "mase") if k in row}
    path = results / "describe_eval.json"
    if path.exists():
        record = json.loads(path.read_text())
        accuracy = record.get("attribute_accuracy_mean") or record.get("mean_attribute_accuracy")
        if accuracy is not None:
            metrics["synthetic-descriptions"] = {"attribute_accuracy": round(accuracy, 4)}
    return metrics


def half(model) -> None:
    """Store a model's floating-point weights as float16."""
    model.set_dtype(mx.float16)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forecaster", required=True, help="Forecaster folder")
    parser.add_argument("--tslm", help="TSLM folder (the describer)")
    parser.add_argument("--value", help="ValueNetwork folder (S-ADT)")
    parser.add_argument("--out", help="pipeline folder to write")
    parser.add_argument("--bundle", action="store_true", help=f"write to {BUNDLED}")
    parser.add_argument("--half", action="store_true", help="store weights as float16")
    parser.add_argument("--repo", help="push to this Hub repo id")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--token", default=None, help="Hub token (default: your login)")
    parser.add_argument("--name", default="sadt-tiny")
    args = parser.parse_args(argv)
    out = BUNDLED if args.bundle else Path(args.out) if args.out else None
    if out is None and not args.repo:
        parser.error("give --out, --bundle or --repo")
    try:
        forecaster = Forecaster.load(args.forecaster)
        tslm = value = None
        if args.tslm:
            from sadt.tslm import TSLM

            tslm = TSLM.load(args.tslm)
        if args.value:
            from sadt.value import ValueNetwork

            value = ValueNetwork.load(args.value)
        if args.half:
            for part in (forecaster, value):
                if part is not None:
                    half(part)
        base = getattr(tslm.config, "base_model", None) if tslm is not None else None
        card = {
            "model_name": args.name,
            "repo_id": args.repo or f"<user>/{args.name}",
            "datasets": ["ETTh1", "M4-hourly", "synthetic"],
            "metrics": card_metrics(),
        }
        if base and "/" in str(base) and not Path(str(base)).exists():
            card["base_model"] = base
        pipe = Pipeline(forecaster, tslm, value, SearchSettings(), card)
        if out is not None:
            save_pipeline(pipe, out)
            size = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
            print(f"wrote {out} ({size / 1e6:.1f} MB)")
        if args.repo:
            url = pipe.push_to_hub(args.repo, private=args.private, token=args.token, folder=out)
            print(f"pushed to {url}")
    except (ModelFileError, HubError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
