"""Saving and loading a TSLM: trainable weights + config; the LLM by reference or embedded.

A saved TSLM is a folder:

    config.json          {"sadt_class": "TSLM", "format_version": 1, "base_model": ...,
                          "tokenizer": ..., "encoder": {...}, "prompt": {...}, "lora": ...}
    model.safetensors    encoder, projector and LoRA arrays only (never the frozen LLM)
    llm/                 optional: a small base LLM in mlx-lm / Hugging Face layout
                         (config.json, model.safetensors, tokenizer files)

``base_model`` is a Hub id, an absolute local path, or "llm" (the embedded folder).
Only safetensors are read or written. Every error a user can cause names the file and is
a ``ModelFileError`` (``sadt.errors``): ``MissingModelFile`` for a missing one,
``BaseLLMError`` for a base LLM that cannot be loaded.

mlx-lm reads a missing ``tie_word_embeddings`` as True and then silently drops an
untied ``lm_head``; every LLM config written here states it explicitly, and loading
refuses a config that omits it while its weights carry an ``lm_head``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from sadt import files
from sadt.errors import BaseLLMError, MissingModelFile, ModelFileError
from sadt.files import FORMAT_VERSION, safetensors_header

EMBEDDED_LLM = "llm"
EMBED_LIMIT_BYTES = 64 * 1024 * 1024  # embed a local base LLM smaller than this by default
_LLM_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
_DTYPES = {"float32": mx.float32, "float16": mx.float16, "bfloat16": mx.bfloat16}


def check_safetensors(file: Path) -> None:
    """Refuse a safetensors file whose header or data is cut short (names the file)."""
    total = file.stat().st_size
    try:
        header, size = safetensors_header(file)
        tensors = [t for k, t in header.items() if k != "__metadata__"]
        end = max((int(t["data_offsets"][1]) for t in tensors), default=0)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        raise ModelFileError(f"{file} is not a readable safetensors file: {e}") from None
    if total < 8 + size + end:
        raise ModelFileError(
            f"{file} is truncated ({total} of {8 + size + end} bytes); copy or download it again"
        )


def safetensors_keys(file: Path) -> list[str]:
    """Tensor names in a safetensors file, read from its header only."""
    return [k for k in safetensors_header(file)[0] if k != "__metadata__"]


def check_tie_word_embeddings(folder: Path, config: dict) -> None:
    """Refuse an LLM whose config omits ``tie_word_embeddings`` but has an untied head."""
    if "tie_word_embeddings" in config:
        return
    for file in sorted(folder.glob("model*.safetensors")):
        if "lm_head.weight" in safetensors_keys(file):
            raise ModelFileError(
                f"{folder / 'config.json'} omits tie_word_embeddings but {file.name} holds an "
                'lm_head: mlx-lm would silently drop it. Add "tie_word_embeddings": false.'
            )


def write_llm_config(config: dict, folder: Path, tied: bool) -> None:
    """Write an mlx-lm LLM config.json with ``tie_word_embeddings`` stated explicitly."""
    config = dict(config, tie_word_embeddings=bool(tied))
    _atomic_write_text(folder / "config.json", json.dumps(config, indent=2, sort_keys=True))


def save_llm_weights(model: nn.Module, folder: Path, dtype: str | None = None) -> None:
    """Write an mlx-lm model's arrays as ``model.safetensors`` (floats cast to ``dtype``)."""
    weights = dict(tree_flatten(model.parameters()))
    if dtype is not None:
        target = _DTYPES[dtype]
        weights = {
            k: v.astype(target) if mx.issubdtype(v.dtype, mx.floating) else v
            for k, v in weights.items()
        }
    _atomic_save_safetensors(folder / "model.safetensors", weights)


def load_llm(base: str, dtype: str = "auto"):
    """(model, tokenizer) of an mlx-lm model from a local folder or a Hub id."""
    from mlx_lm import load

    folder = Path(base)
    if folder.is_dir():
        check_llm_folder(folder)
    elif folder.is_absolute() or folder.exists():
        raise BaseLLMError(f"cannot load the base LLM {base!r}: there is no folder at {folder}")
    try:
        model, tokenizer = load(base)
    except Exception as e:  # the border: offline Hub, missing files, bad configs
        raise BaseLLMError(
            f"cannot load the base LLM {base!r} ({type(e).__name__}: {e}). Give a local "
            "folder in mlx-lm format, or a Hub id that is in the local cache when offline."
        ) from e
    if dtype == "auto":
        dtype = "float32" if mx.default_device() == mx.cpu else "keep"
    if dtype != "keep":
        model.set_dtype(_DTYPES[dtype])
    mx.eval(model.parameters())
    return model, tokenizer


def check_llm_folder(folder: Path) -> None:
    """A local base LLM folder's config and weights, checked before mlx-lm reads them."""
    config_file = folder / "config.json"
    if not config_file.exists():
        raise MissingModelFile(f"{config_file} not found: {folder} is not an mlx-lm model.")
    weights = sorted(folder.glob("model*.safetensors"))
    if not weights:
        raise MissingModelFile(f"{folder / 'model.safetensors'} not found: the base LLM's weights.")
    try:
        for file in weights:
            check_safetensors(file)
        check_tie_word_embeddings(folder, _read_json(config_file))
    except ModelFileError as e:
        raise BaseLLMError(f"cannot load the base LLM in {folder}: {e}") from None


def save_tslm(tslm, path: str | Path, embed_llm: bool | None = None) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (trainable arrays only) to ``path``.

    ``embed_llm``: copy the base LLM folder into ``path/llm`` (default: when the base is
    a local folder under 64 MB, e.g. the bundled tiny Llama); otherwise reference it.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    base_dir = getattr(tslm, "base_path", None)
    local = base_dir is not None and Path(base_dir).is_dir()
    if embed_llm is None:
        embed_llm = local and _folder_bytes(Path(base_dir)) < EMBED_LIMIT_BYTES
    if embed_llm and not local:
        raise ValueError("embed_llm needs a base LLM loaded from a local folder.")
    base_model = tslm.config.base_model
    if embed_llm:
        _copy_llm(Path(base_dir), path / EMBEDDED_LLM)
        base_model = EMBEDDED_LLM
    elif local:
        base_model = str(Path(base_dir).resolve())
    config = tslm.config.to_dict()
    config["base_model"] = base_model
    header = {"sadt_class": "TSLM", "format_version": FORMAT_VERSION, "tokenizer": base_model}
    _atomic_write_text(path / "config.json", json.dumps(header | config, indent=2))
    _atomic_save_safetensors(path / "model.safetensors", tslm.trainable_weights())
    return path


def read_tslm_config(path: Path) -> dict:
    """The config a saved TSLM folder holds, checked for class and format version; its
    (``saved_base`` finds the LLM it names)."""
    config_file = path / "config.json"
    if not config_file.exists():
        raise MissingModelFile(
            f"{config_file} not found: a saved TSLM folder holds config.json and "
            "model.safetensors (written by TSLM.save)."
        )
    raw = _read_json(config_file)
    if not isinstance(raw, dict) or raw.pop("sadt_class", None) != "TSLM":
        raise ModelFileError(f"{config_file} is not a TSLM config (sadt_class is not 'TSLM').")
    version = raw.pop("format_version", None)
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{config_file} has format_version {version!r}; this sadt reads {FORMAT_VERSION}."
        )
    raw.pop("tokenizer", None)  # always the base model's tokenizer
    return raw


def saved_base(path: Path, base_model: str, config_file: Path) -> str:
    """The base LLM a saved TSLM names: its embedded folder, a local path, or a Hub id."""
    if not isinstance(base_model, str) or not base_model:
        raise ModelFileError(f"{config_file} names no base_model")
    embedded = path / base_model
    if not Path(base_model).is_absolute() and embedded.is_dir():
        return str(embedded)
    if base_model == EMBEDDED_LLM:  # not a Hub id: the folder should be here
        raise MissingModelFile(
            f"{embedded} is missing: {config_file} names the embedded base LLM "
            f"{EMBEDDED_LLM!r}; copy the whole TSLM folder again"
        )
    if Path(base_model).is_absolute() and not Path(base_model).is_dir():
        raise MissingModelFile(
            f"{base_model} is missing: {config_file} names it as the base LLM folder; "
            "restore it or pass another base"
        )
    return base_model


def load_trainable(tslm, weights_file: Path, config_file: Path | None = None) -> None:
    """Load exactly the trainable arrays of ``tslm`` from ``weights_file`` (checked)."""
    if not weights_file.exists():
        raise MissingModelFile(f"{weights_file} not found: the TSLM's trained weights.")
    try:
        weights = mx.load(str(weights_file))
    except Exception as e:
        raise ModelFileError(
            f"{weights_file} cannot be read as safetensors (truncated or corrupt?): {e}"
        ) from e
    against = f"the model built from {config_file}" if config_file else "the model"
    set_trainable(tslm, weights, f"{weights_file}", against)


def set_trainable(tslm, weights: dict, source: str, against: str = "the model") -> None:
    """Set the trainable arrays of ``tslm`` from ``weights``: same names, same shapes."""
    expected = dict(tree_flatten(tslm.trainable_parameters()))
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise ModelFileError(
            f"{source} does not match {against}: {len(missing)} arrays missing "
            f"(e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {unexpected[:2]})."
        )
    for k, v in expected.items():
        if weights[k].shape != v.shape:
            raise ModelFileError(
                f"{source}: {k} has shape {tuple(weights[k].shape)}, {against} "
                f"expects {tuple(v.shape)}."
            )
    tslm.load_weights([(k, weights[k].astype(expected[k].dtype)) for k in expected], strict=False)
    mx.eval(tslm.parameters())


def _copy_llm(src: Path, dst: Path) -> None:
    if src.resolve() == dst.resolve():
        return
    dst.mkdir(parents=True, exist_ok=True)
    for file in sorted(src.glob("model*.safetensors")) + [src / n for n in _LLM_FILES[1:]]:
        if file.exists():
            shutil.copyfile(file, dst / file.name)
    config = _read_json(src / "config.json")
    check_tie_word_embeddings(src, config)
    write_llm_config(config, dst, tied=config.get("tie_word_embeddings", True))


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.glob("model*.safetensors"))


def _read_json(file: Path) -> dict:
    try:
        return json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{file} is not readable JSON: {e}") from e


def _atomic_write_text(file: Path, text: str) -> None:
    files.atomic_write(file, lambda tmp: Path(tmp).write_text(text))


def _atomic_save_safetensors(file: Path, arrays: dict, metadata: dict | None = None) -> None:
    files.atomic_write(
        file, lambda tmp: mx.save_safetensors(tmp, arrays, metadata=metadata or {"format": "mlx"})
    )
