"""Assemble trained parts into a pipeline folder, render its model card, push it to the Hub.

    sadt train push --forecaster checkpoints/forecaster --tslm checkpoints/tslm \\
        --value checkpoints/value --out checkpoints/pipeline [--repo user/sadt-tiny --private]
    sadt train push ... --bundle      # write the package's bundled default instead

Model-card metrics are opt-in: ``--metrics bench/results`` reads the benchmark JSONs there
(B1 ETTh1, B2 M4, describe accuracy) and keeps only those whose recorded model folder is
the one being pushed (``--forecaster`` for B1/B2, ``--tslm`` for the describer). ``--half``
stores weights as float16 (they are cast back to float32 on load), halving the folder; the
bundled default uses it. Exit codes: 2 for bad input (one sentence), 1 when the push to
the Hub fails (the folder given with --out is written by then).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import mlx.core as mx

from sadt.files import ModelFileError
from sadt.forecaster import Forecaster
from sadt.hub import (
    BUNDLED,
    HubError,
    check_output_folder,
    check_repo_id,
    check_value_fits,
    save_pipeline,
)
from sadt.pipeline import Pipeline, SearchSettings
from sadt.train.common import checkpoint_metadata

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TOY_CHAINS = ("toy-1d", "toy-2d")  # train.value's stand-ins for a forecaster


def same_folder(recorded, given) -> bool:
    """Whether a path written by a benchmark or trainer names the folder ``given``.

    Relative paths were recorded from where the command ran: the working directory or,
    as the README's commands do, the project root.
    """
    if not isinstance(recorded, str) or not recorded or given is None:
        return False
    target = Path(given).resolve()
    return any(c.resolve() == target for c in _candidates(recorded))


def _candidates(recorded: str) -> list[Path]:
    path = Path(recorded).expanduser()
    return [path] if path.is_absolute() else [Path.cwd() / path, ROOT / path]


def card_metrics(results: Path, forecaster: Path, tslm: Path | None = None) -> tuple[dict, list]:
    """({dataset: {metric: value}}, skipped notes) from the benchmark JSONs in ``results``.

    A benchmark counts only when the model folder it recorded is the one pushed: figures
    of another checkpoint would misdescribe this model.
    """
    metrics: dict = {}
    skipped: list[str] = []

    def record(name: str, key: str, part) -> dict:
        path = results / f"{name}.json"
        if not path.exists():
            return {}
        data = json.loads(path.read_text())
        if same_folder(data.get(key), part):
            return data
        skipped.append(f"{path.name} (measured {data.get(key)!r}, not {part})")
        return {}

    for row in record("forecast_etth1", "model", forecaster).get("rows", []):
        if str(row.get("method", "")).startswith("sadt"):
            metrics["ETTh1"] = {k: round(row[k], 4) for k in ("crps", "mse", "mae") if k in row}
    for row in record("forecast_m4", "model", forecaster).get("rows", []):
        if str(row.get("method", "")).startswith("sadt"):
            metrics["M4-hourly"] = {k: round(row[k], 4) for k in ("wql", "mase") if k in row}
    if tslm is not None:
        described = record("describe_eval", "describer", tslm)
        accuracy = described.get("attribute_accuracy")
        if isinstance(accuracy, dict):  # {"series": ..., "zeros": ...}: the real series
            accuracy = accuracy.get("series")
        if isinstance(accuracy, (int, float)):
            metrics["synthetic-descriptions"] = {"attribute_accuracy": round(accuracy, 4)}
    return metrics, skipped


def check_value_for(value_dir: Path, forecaster_dir: Path) -> str | None:
    """Refuse a value network trained for another forecaster; a note when it cannot tell.

    A saved value network records only its input sizes; the training checkpoint that
    train.value leaves beside it names the forecaster its trees were harvested from.
    """
    checkpoint = value_dir / "checkpoint.safetensors"
    trained_for = _checkpoint_forecaster(checkpoint)
    if trained_for is None:
        return (
            f"note: {value_dir} has no training checkpoint naming its forecaster; only its "
            "input sizes were checked against the forecast chain"
        )
    if trained_for in TOY_CHAINS:
        raise ModelFileError(f"{checkpoint} says it was trained on the {trained_for} toy chain")
    if same_folder(trained_for, forecaster_dir):
        return None
    found = [c for c in _candidates(trained_for) if (c / "model.safetensors").is_file()]
    if not found:
        return (
            f"note: {value_dir} was trained for the forecaster in {trained_for}, which is not "
            f"here, so its match with {forecaster_dir} could not be checked"
        )
    if (found[0] / "model.safetensors").read_bytes() == (
        forecaster_dir / "model.safetensors"
    ).read_bytes():
        return None  # a copy of the same forecaster
    raise ModelFileError(
        f"{value_dir} was trained for the forecaster in {trained_for}, not {forecaster_dir}: "
        "pass that forecaster, or train a value network for this one (sadt train value)"
    )


def _checkpoint_forecaster(checkpoint: Path) -> str | None:
    """The ``forecaster`` setting in a train.value checkpoint's metadata, or None."""
    if not checkpoint.is_file():
        return None
    config = (checkpoint_metadata(checkpoint, "sadt") or {}).get("config")
    forecaster = config.get("forecaster") if isinstance(config, dict) else None
    if not isinstance(forecaster, str):
        raise ModelFileError(
            f"{checkpoint} is not a readable value-network checkpoint (truncated or foreign?)"
        )
    return forecaster


def training_datasets(forecaster_dir: Path) -> list[str]:
    """What the forecaster was trained on, from its train.forecaster checkpoint's settings
    (the card's `datasets`); the ETTh1 + M4 default when there is no checkpoint."""
    meta = checkpoint_metadata(Path(forecaster_dir) / "checkpoint.safetensors", "sadt") or {}
    config = meta.get("config") if isinstance(meta.get("config"), dict) else None
    if config is None:
        return ["ETTh1", "M4-hourly", "synthetic"]
    names = [Path(p).stem for p in config.get("csv") or []]
    names += ["M4-hourly" if "M4" in str(p) else Path(p).stem for p in config.get("wide") or []]
    if config.get("corpus"):
        names.append("sadt real-series corpus (train split)")
    if config.get("kernel_synth_series"):
        names.append("KernelSynth-style synthetic")
    if config.get("synthetic_series"):
        names.append("synthetic")
    return names


def half(model) -> None:
    """Store a model's floating-point weights as float16."""
    model.set_dtype(mx.float16)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sadt train push",
        description=__doc__.splitlines()[0],
        epilog="Exit codes: 2 for bad input, 1 when the push to the Hub fails.",
    )
    parser.add_argument("--forecaster", required=True, help="Forecaster folder")
    parser.add_argument("--tslm", help="TSLM folder (the describer)")
    parser.add_argument(
        "--value",
        help="ValueNetwork folder (S-ADT); refused when its training checkpoint names "
        "another forecaster",
    )
    parser.add_argument("--out", help="pipeline folder to write")
    parser.add_argument("--bundle", action="store_true", help=f"write to {BUNDLED}")
    parser.add_argument("--half", action="store_true", help="store weights as float16")
    parser.add_argument("--repo", help="push to this Hub repo id")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--token", default=None, help="Hub token (default: your login)")
    parser.add_argument(
        "--name",
        default=None,
        help="model name on the card (default: the repo's name, else the --out folder's; "
        "sadt-tiny with --bundle)",
    )
    parser.add_argument(
        "--metrics",
        metavar="DIR",
        default=None,
        help="benchmark JSONs for the card, e.g. bench/results; only results recorded for "
        "these --forecaster / --tslm folders are used (default: no metrics)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    out = BUNDLED if args.bundle else Path(args.out) if args.out else None
    if out is None and not args.repo:
        parser.error("give --out, --bundle or --repo")
    try:
        if args.repo:  # before any work: a bad id would otherwise fail only at the push
            check_repo_id(args.repo)
        name = args.name or _default_name(args, out)
        if out is not None:
            check_output_folder(out, "--out")
        if args.metrics and not Path(args.metrics).is_dir():
            raise ValueError(f"--metrics {args.metrics} is not a folder of benchmark JSONs")
        pipe = _assemble(args, name)
    except (ModelFileError, HubError, FileNotFoundError, ValueError) as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2
    if out is not None:
        try:
            save_pipeline(pipe, out)
        except OSError as err:  # checked above; a full disk or a race can still fail here
            print(f"error: cannot write {out}: {_one_line(err)}", file=sys.stderr)
            return 2
        size = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
        print(f"wrote {out} ({size / 1e6:.1f} MB)")
    if args.repo:
        try:
            url = pipe.push_to_hub(args.repo, private=args.private, token=args.token, folder=out)
        except HubError as err:
            kept = f"the model folder was written to {out}" if out else "pass --out to keep it"
            print(f"error: {_one_line(err)}; {kept}", file=sys.stderr)
            return 1
        print(f"pushed to {url}")
    return 0


def _default_name(args, out: Path | None) -> str:
    """The card's model name: the repo's name, else sadt-tiny (--bundle) or --out's name."""
    if args.repo:
        return args.repo.split("/")[-1]
    return "sadt-tiny" if args.bundle else out.resolve().name


def _assemble(args, name: str) -> Pipeline:
    """The pipeline of the given parts, each checked, with its model card."""
    forecaster = Forecaster.load(args.forecaster)
    tslm = value = None
    if args.tslm:
        from sadt.describer.model import TSLM

        tslm = TSLM.load(args.tslm)
    if args.value:
        from sadt.value import ValueNetwork

        value = ValueNetwork.load(args.value)
        check_value_fits(value, Path(args.value))
        note = check_value_for(Path(args.value), Path(args.forecaster))
        if note:
            print(note, file=sys.stderr)
    if args.half:
        for part in (forecaster, value):
            if part is not None:
                half(part)
    metrics: dict = {}
    if args.metrics:
        metrics, skipped = card_metrics(Path(args.metrics), Path(args.forecaster), args.tslm)
        for item in skipped:
            print(f"note: card metrics skip {item}", file=sys.stderr)
    base = getattr(tslm.config, "base_model", None) if tslm is not None else None
    card = {
        "model_name": name,
        "repo_id": args.repo or f"<user>/{name}",
        "datasets": training_datasets(Path(args.forecaster)),
        "metrics": metrics,
    }
    if base and "/" in str(base) and not Path(str(base)).exists():
        card["base_model"] = base
    return Pipeline(forecaster, tslm, value, SearchSettings(), card)


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


if __name__ == "__main__":
    sys.exit(main())
