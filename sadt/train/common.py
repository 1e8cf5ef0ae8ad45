"""What the trainers share: a clean stop on Ctrl-C, no silent overwrite of a checkpoint, an
output location checked before any work, a log that matches the checkpoint it resumes, and
the command line's exit codes (0 done, 2 a user mistake, 130 interrupted).

Ctrl-C never cuts a step in half: the first SIGINT only asks the loop to stop, and the loop
does so at its next step boundary, after writing a checkpoint there, by raising
``Interrupted`` (whose text is the one line to print). The checkpoint is an ordinary one, so
``--resume`` continues exactly as it would from a scheduled checkpoint. A second Ctrl-C
stops at once without saving (for a step that takes too long to wait for).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

import mlx.core as mx
import yaml

from sadt.errors import ModelFileError, UsageError
from sadt.files import FORMAT_VERSION, atomic_write, read_safetensors, safetensors_header
from sadt.hub import check_output_folder

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # what a shell reports for a process ended by SIGINT


MAX_SEED = 2**32 - 1  # the trainers' seeds; mx.random.seed takes 64 bits, steps add to it


class Interrupted(Exception):
    """Training stopped on Ctrl-C with its state saved; ``str()`` says where and how to resume."""


class StopOnInterrupt:
    """``with StopOnInterrupt(world) as stop:`` ... ``if stop.requested(): save, raise``.

    Installs a SIGINT handler for the ``with`` block (main thread only; a SIGINT the parent
    set to be ignored stays ignored). ``requested()`` must be called at the same point of
    every step on every rank: under ``mlx.launch`` the ranks agree (any rank's Ctrl-C stops
    all of them at the same step), since a rank that stopped alone would hang the others.
    """

    def __init__(self, world=None) -> None:
        self.world = world
        self._flag = False
        self._installed = False
        self._previous = None

    def __enter__(self) -> StopOnInterrupt:
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:  # None: a handler set outside Python; Python's default then
            previous = self._previous
            # `is None`, not `or`: SIG_DFL is 0, falsy, and must be put back as it was.
            signal.signal(
                signal.SIGINT, signal.default_int_handler if previous is None else previous
            )
            self._installed = False

    def _handle(self, signum, frame) -> None:
        if self._flag:  # the second Ctrl-C: do not wait for the step to end
            raise KeyboardInterrupt
        self._flag = True

    def requested(self) -> bool:
        if self.world is not None and self.world.size > 1:
            return self.world.any_rank(self._flag)
        return self._flag


def interrupted_message(where: str, saved_to: Path | str) -> str:
    return (
        f"interrupted at {where}; checkpoint saved to {saved_to}; rerun with --resume to continue"
    )


# -- files --------------------------------------------------------------------------------------


def checkpoint_metadata(path: Path, key: str) -> dict | None:
    """The JSON under metadata ``key`` of a safetensors file, read from its header alone (no
    arrays loaded); None when the file is unreadable or holds no such entry."""
    try:
        meta = json.loads(safetensors_header(path)[0]["__metadata__"][key])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return meta if isinstance(meta, dict) else None


CHECKPOINT_KEY = "sadt"  # every trainer's checkpoint metadata entry
OLD_DESCRIBER_KEY = "sadt_checkpoint"  # the describer's entry before the trainers shared one
TRAINERS = {"forecaster": "train.forecaster", "value": "train.value", "describer": "train.tslm"}


def write_checkpoint(path: Path, arrays: dict, meta: dict, kind: str) -> None:
    """A training checkpoint, the one format of every trainer: ``arrays`` (prefixed "model.",
    "optimizer.", ...) and ``meta`` (step, RNG state, settings) as JSON metadata with the
    format version and the ``kind`` of run ("forecaster", "value", "describer"), written
    atomically."""
    meta = {"format_version": FORMAT_VERSION, "kind": kind, **meta}
    metadata = {CHECKPOINT_KEY: json.dumps(meta)}
    atomic_write(path, lambda tmp: mx.save_safetensors(tmp, arrays, metadata=metadata))


def read_checkpoint(path: Path, kind: str, needs: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """(arrays, meta) of a checkpoint `write_checkpoint` wrote for ``kind``; one
    ModelFileError when it is another trainer's, lacks one of ``needs`` (checkpoints written
    before the kind was recorded are told apart by these), or is of a newer format."""
    arrays, metadata = read_safetensors(path)
    meta, written = _json_entry(metadata, CHECKPOINT_KEY), None
    if meta is not None:
        # Older forecaster and value checkpoints recorded no kind: their own keys tell.
        written = meta.get("kind") or ("value" if "model_config" in meta else "forecaster")
    elif kind == "describer":
        meta = _json_entry(metadata, OLD_DESCRIBER_KEY)
        written = kind
    if meta is None or (written is not None and written != kind):
        by = f" (it was written by {TRAINERS[written]})" if written in TRAINERS else ""
        raise ModelFileError(f"{path} is not a sadt {kind} training checkpoint{by}")
    missing = [key for key in needs if key not in meta]
    if missing:
        raise ModelFileError(f"{path} is not a sadt {kind} training checkpoint (no {missing[0]})")
    version = meta.get("format_version", FORMAT_VERSION)  # older value checkpoints had none
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has checkpoint format {version!r}; this sadt reads up to "
            f"{FORMAT_VERSION}: upgrade sadt to resume it"
        )
    return arrays, meta


def _json_entry(metadata: dict | None, key: str) -> dict | None:
    try:
        value = json.loads(metadata[key])
    except (KeyError, TypeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def refuse_overwrite(path: Path, where: str, at: str | None, choose: str, then: str = "") -> None:
    """A fresh run (no --resume) must not replace the checkpoint ``path`` of another run;
    ``then`` ends the sentence (what else the other location needs)."""
    if not path.exists():
        return
    held = f"a checkpoint at {at}" if at else f"a checkpoint ({path.name})"
    raise UsageError(
        f"{where} already holds {held}; pass --resume to continue it or choose another {choose}"
        + then
    )


def file_list(value, setting: str) -> list[str]:
    """A setting naming files: one path, a list of paths, or nothing (null, "") -> a list."""
    if value is None or value == "":
        return []
    if isinstance(value, (str, os.PathLike)):
        return [str(value)]
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(v, (str, os.PathLike)) for v in value
    ):
        raise UsageError(
            f"{setting} must be a file path or a list of them, e.g. [a.csv, b.csv], not {value!r}"
        )
    return [str(v) for v in value]


def writable_folder(folder: Path | str, setting: str) -> Path:
    """``sadt.hub.check_output_folder`` as a UsageError: a bad output location (a file, no
    permission) fails before training instead of at its first save."""
    try:
        return check_output_folder(folder, setting)
    except ValueError as err:
        raise UsageError(str(err)) from None


def append_log(path: Path, record: dict) -> None:
    """One JSON line appended to a trainer's log (its folder made when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def trim_log(path: Path, step: int) -> None:
    """Keep the JSON-lines log records of steps <= ``step`` (the step training restarts from):
    records written after the resumed checkpoint are about to be written again, and a torn
    last line (a killed process) is dropped. A fresh run (step 0) starts an empty log."""
    if not path.exists():
        return
    lines = path.read_text().splitlines()
    keep = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("step", 0) <= step:
            keep.append(line)
    if keep != lines:
        text = "".join(line + "\n" for line in keep)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))


# -- command line ----------------------------------------------------------------------------------


def read_config_file(path: str | Path) -> dict:
    """The settings a YAML config file holds (a mapping), or one sentence saying why not."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"the config file {path} does not exist")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise UsageError(f"{path} is not valid YAML ({' '.join(str(err).split())})") from None
    if not isinstance(values, dict):
        raise UsageError(f"{path} must hold a mapping of settings")
    return values


def parse_overrides(
    argv: list[str], description: str, config_help: str, trainer: str
) -> tuple[dict, bool]:
    """``--config FILE [--resume] [--key value ...]`` -> (settings dict, resume).

    Values are parsed as YAML; ``--model.x v`` sets ``model: {x: v}``; dashes in keys are
    underscores (``--out-dir`` is ``out_dir``)."""
    parser = argparse.ArgumentParser(
        prog=f"sadt train {trainer}",
        description=description,
        epilog="Any setting can follow as '--key value' (YAML values): e.g. --steps 500 "
        "--model.horizon 48 --csv '[a.csv, b.csv]'. Ctrl-C saves a checkpoint at the current "
        "step; --resume continues it.",
    )
    parser.add_argument("--config", help=config_help)
    parser.add_argument("--resume", action="store_true", help="continue from out_dir's checkpoint")
    args, rest = parser.parse_known_args(argv)
    values = read_config_file(args.config) if args.config else {}
    for name, value in key_value_pairs(rest):
        set_path(values, name, value)
    return values, args.resume


def setting_value(raw: str, key: str):
    """A setting's text as YAML (numbers, words, [lists], null), as every trainer reads it."""
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise UsageError(f"{key}: {raw!r} is not a value (numbers, words, [lists])") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and ":" in raw:
        value = raw  # YAML 1.1 reads 10:20 as the base-60 number 620; no setting means that
    return value


def key_value_pairs(rest: list[str]) -> list[tuple[str, object]]:
    """``--key value`` pairs (the one override grammar of every trainer) -> [(path, value)];
    dashes in keys are underscores (``--out-dir`` is ``out_dir``), dots name nested settings
    (``--model.horizon 48``, ``--stages.1.steps 500``)."""
    if len(rest) % 2:
        raise UsageError(f"overrides come as '--key value' pairs, got {rest}")
    pairs = []
    for key, raw in zip(rest[::2], rest[1::2], strict=True):
        if not key.startswith("--"):
            raise UsageError(f"expected --key, got {key!r}")
        pairs.append((key[2:].replace("-", "_"), setting_value(raw, key)))
    return pairs


def set_path(tree: dict, path: str, value) -> None:
    """Set ``a.b.0.c`` (mappings by name, lists by index) in a settings tree; a missing or
    empty mapping on the way is made."""
    keys = path.split(".")
    node = tree
    try:
        for depth, key in enumerate(keys[:-1]):
            if isinstance(node, list):
                node = node[int(key)]
                continue
            if node.get(key) is None:  # absent, or "model:" left empty in the file
                node[key] = {}
            if not isinstance(node[key], (dict, list)):
                where = ".".join(keys[: depth + 1])
                raise UsageError(
                    f"--{path} needs {where} to be a mapping of settings, not {node[key]!r}"
                )
            node = node[key]
        if isinstance(node, list):
            node[int(keys[-1])] = value
        else:
            node[keys[-1]] = value
    except UsageError:
        raise
    except (ValueError, IndexError, TypeError, AttributeError):
        raise UsageError(f"--{path}: {path} is not a setting") from None


def checked_config(config_class, values: dict):
    """``config_class.from_dict(values)``, its validation errors as one UsageError, so a
    trainer can report settings mistakes without hiding real bugs' tracebacks."""
    try:
        return config_class.from_dict(values)
    except (TypeError, ValueError) as err:
        raise UsageError(str(err)) from None


def run_main(body, errors: tuple, is_main: bool = True) -> int:
    """Run ``body()`` as a command: 0 when done, 2 with one line for an error in ``errors``,
    130 with one line when interrupted (said by rank 0 alone under mlx.launch)."""
    try:
        body()
    except Interrupted as stop:
        if is_main:
            print(stop, file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        if is_main:
            print(
                "interrupted; stopped without saving (earlier checkpoints are intact)",
                file=sys.stderr,
            )
        return EXIT_INTERRUPTED
    except errors as err:
        print("error: " + " ".join(str(err).split()), file=sys.stderr)  # one line
        return EXIT_USAGE
    return 0
