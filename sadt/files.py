"""Model folders on disk: ``config.json`` + ``model.safetensors``, written atomically.

A folder written here never exists half-written under its final names: each file goes to a
temporary name in the same directory first and is moved into place with ``os.replace``.
Reading checks what a user can get wrong (a missing, truncated or foreign file; weights that
do not fit the config) and says so in one sentence that names the file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import mlx.core as mx

from sadt.errors import MissingModelFile, ModelFileError

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def atomic_write(path: Path, write) -> None:
    """Call ``write(temp_path)`` then move the result onto ``path`` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_model_folder(
    folder: str | Path, sadt_class: str, config: dict, weights: dict[str, mx.array]
) -> Path:
    """Write ``config.json`` (with ``sadt_class`` and ``format_version``) and the weights."""
    folder = Path(folder)
    record = {"sadt_class": sadt_class, "format_version": FORMAT_VERSION, **config}
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    atomic_write(folder / CONFIG_FILE, lambda tmp: Path(tmp).write_text(text))
    atomic_write(folder / WEIGHTS_FILE, lambda tmp: mx.save_safetensors(tmp, weights))
    return folder


def read_config(folder: str | Path, sadt_class: str) -> dict:
    """The config dict of a model folder, without ``sadt_class`` / ``format_version``."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise MissingModelFile(f"no model config at {path}: expected a folder written by save()")
    try:
        record = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path} is not valid JSON ({err}); the file is corrupted") from None
    if not isinstance(record, dict) or record.get("sadt_class") != sadt_class:
        found = record.get("sadt_class") if isinstance(record, dict) else None
        raise ModelFileError(f"{path} describes a {found!r} model, not a {sadt_class!r} model")
    version = record.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format_version {version!r}; this sadt reads version {FORMAT_VERSION}"
        )
    return {k: v for k, v in record.items() if k not in ("sadt_class", "format_version")}


def safetensors_header(path: str | Path) -> tuple[dict, int]:
    """(header, its byte length) of a safetensors file, read without loading any array.
    OSError / ValueError (json included) when the file cannot hold one."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        if not 0 < size <= os.fstat(f.fileno()).st_size - 8:
            raise ValueError("its header runs past the end of the file")
        header = json.loads(f.read(size))
    if not isinstance(header, dict):
        raise ValueError("its header is not a JSON object")
    return header, size


def read_safetensors(path: str | Path) -> tuple[dict[str, mx.array], dict[str, str]]:
    """(arrays, metadata) of a safetensors file; a clear error when it is missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise MissingModelFile(f"missing weights file {path}")
    try:
        arrays, metadata = mx.load(str(path), format="safetensors", return_metadata=True)
    except Exception as err:  # MLX raises a bare RuntimeError/ValueError on bad bytes
        raise ModelFileError(
            f"{path} is not a readable safetensors file (truncated or corrupted?): {err}"
        ) from None
    return arrays, metadata


def check_weights(
    path: str | Path, loaded: dict[str, mx.array], expected: dict[str, mx.array]
) -> None:
    """Raise one sentence naming ``path`` when names or shapes differ from the model's."""
    missing = sorted(set(expected) - set(loaded))
    unexpected = sorted(set(loaded) - set(expected))
    wrong = sorted(k for k in set(expected) & set(loaded) if expected[k].shape != loaded[k].shape)
    if not (missing or unexpected or wrong):
        return
    parts = []
    if missing:
        parts.append(f"missing {_names(missing)}")
    if unexpected:
        parts.append(f"unexpected {_names(unexpected)}")
    if wrong:
        k = wrong[0]
        parts.append(
            f"{len(wrong)} shape mismatch(es), e.g. {k}: file {tuple(loaded[k].shape)} "
            f"vs config {tuple(expected[k].shape)}"
        )
    raise ModelFileError(f"{path} does not match its config: " + "; ".join(parts))


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:3])
    return f"{len(keys)} tensor(s) ({shown}{', ...' if len(keys) > 3 else ''})"
