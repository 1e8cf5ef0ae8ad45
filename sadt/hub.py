"""Pipeline folders on disk and on the Hugging Face Hub.

A pipeline folder:

    config.json     {"sadt_class": "Pipeline", "format_version": 1, "search": {...},
                     "card": {...}, "parts": {"forecaster": "forecaster", "tslm": "tslm",
                     "value": "value" or null}}
    forecaster/     config.json + model.safetensors         (sadt.forecaster)
    tslm/           the describer (sadt.tslm_io): trainable weights, tokenizer, base LLM
                    embedded in tslm/llm/ or referenced by Hub id
    value/          optional: S-ADT's value network          (sadt.value)
    README.md       the model card, rendered from the top-level model_card.md

Only JSON and safetensors are ever read: nothing is unpickled and no remote code runs.
``load_pipeline(None)`` is the bundled default (sadt/assets/sadt-tiny).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, fields
from pathlib import Path

from sadt.forecaster.files import ModelFileError, atomic_write

FORMAT_VERSION = 1
BUNDLED = Path(__file__).resolve().parent / "assets" / "sadt-tiny"
TEMPLATE = Path(__file__).resolve().parents[1] / "model_card.md"
# What a pipeline repo may contain; anything else on the Hub is never downloaded.
ALLOWED = ["*.json", "*.safetensors", "*.md", "*.txt", "*.model", "*.jinja"]


class HubError(ValueError):
    """A pipeline could not be found or fetched; the message says what to do."""


# -- writing --------------------------------------------------------------------------------------
def save_pipeline(pipe, folder: str | Path) -> Path:
    """Write ``pipe`` to ``folder`` (created; existing part folders are replaced)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    parts = {"forecaster": "forecaster", "tslm": None, "value": None}
    _replace_dir(folder / "forecaster", pipe.forecaster.save)
    if pipe.tslm is not None:
        parts["tslm"] = "tslm"
        _replace_dir(folder / "tslm", pipe.tslm.save)
    if pipe.value is not None:
        parts["value"] = "value"
        _replace_dir(folder / "value", pipe.value.save)
    config = {
        "sadt_class": "Pipeline",
        "format_version": FORMAT_VERSION,
        "parts": parts,
        "search": asdict(pipe.search),
        "card": pipe.card,
    }
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    atomic_write(folder / "config.json", lambda tmp: Path(tmp).write_text(text))
    card = render_model_card(pipe)
    atomic_write(folder / "README.md", lambda tmp: Path(tmp).write_text(card))
    return folder


def _replace_dir(target: Path, save) -> None:
    """Save into a fresh sibling folder, then swap it in (no half-written part folder)."""
    staging = target.with_name(f".{target.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    save(staging)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)


# -- reading --------------------------------------------------------------------------------------
def resolve(repo_or_path, revision: str | None = None) -> Path:
    """A local pipeline folder for a path, a Hub id (through the HF cache), or None."""
    if repo_or_path is None:
        if not (BUNDLED / "config.json").exists():
            raise HubError(
                f"the bundled default model is missing from {BUNDLED}; reinstall sadt "
                "or rebuild it with `python -m train.push --bundle`"
            )
        return BUNDLED
    path = Path(str(repo_or_path)).expanduser()
    if path.exists():
        if not path.is_dir():
            raise HubError(f"{path} is a file; give the folder that holds config.json")
        return path
    repo_id = str(repo_or_path)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id):
        raise HubError(
            f"{repo_or_path!r} is neither an existing folder nor a Hub id like 'user/sadt-model'"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=ALLOWED))
    except LocalEntryNotFoundError:
        raise HubError(
            f"{repo_id} is not in the local Hugging Face cache and the Hub cannot be "
            "reached (offline); connect once or pass a local folder"
        ) from None
    except (RepositoryNotFoundError, GatedRepoError):
        raise HubError(
            f"{repo_id} was not found on the Hub (or needs a token you do not have); "
            "check the id or log in with `hf auth login`"
        ) from None
    except RevisionNotFoundError:
        raise HubError(f"{repo_id} has no revision {revision!r}") from None


def read_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.is_file():
        raise ModelFileError(f"{path} is missing: {folder} is not a sadt pipeline folder")
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path} is not valid JSON ({err}); the file is corrupted") from None
    if not isinstance(config, dict) or config.get("sadt_class") != "Pipeline":
        raise ModelFileError(f"{path} does not describe a sadt Pipeline")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {version!r}; this sadt reads up to "
            f"{FORMAT_VERSION}: upgrade sadt (pip install -U sadt)"
        )
    return config


def load_pipeline(repo_or_path=None, revision: str | None = None, describer: bool = True):
    """Load a Pipeline from a folder, a Hub id, or (None) the bundled default."""
    from sadt.forecaster import Forecaster
    from sadt.pipeline import Pipeline, SearchSettings

    folder = resolve(repo_or_path, revision)
    config = read_config(folder)
    parts = config.get("parts") or {}
    known = {f.name for f in fields(SearchSettings)}
    search = SearchSettings(**{k: v for k, v in (config.get("search") or {}).items() if k in known})
    forecaster = Forecaster.load(_part(folder, parts, "forecaster"))
    tslm = value = None
    if describer and parts.get("tslm"):
        from sadt.tslm import TSLM

        tslm = TSLM.load(_part(folder, parts, "tslm"))
    if parts.get("value"):
        from sadt.value import ValueNetwork

        value = ValueNetwork.load(_part(folder, parts, "value"))
    return Pipeline(forecaster, tslm, value, search, config.get("card") or {})


def _part(folder: Path, parts: dict, name: str) -> Path:
    sub = parts.get(name)
    if not isinstance(sub, str) or "/" in sub or sub.startswith("."):
        raise ModelFileError(f"{folder / 'config.json'} names no valid {name} folder")
    path = folder / sub
    if not path.is_dir():
        raise ModelFileError(f"{path} is missing: the pipeline folder is incomplete")
    return path


# -- the Hub ---------------------------------------------------------------------------------------
def push_pipeline(
    pipe,
    repo_id: str,
    private: bool = False,
    token: str | None = None,
    folder: str | Path | None = None,
    commit_message: str = "Upload sadt pipeline",
) -> str:
    """Save (or reuse ``folder``) and upload with ``HfApi.upload_folder``; returns the URL.

    (``mlx_lm.upload`` relies on ``upload_large_folder``, gone in huggingface-hub 2.x.)
    """
    import tempfile

    from huggingface_hub import HfApi

    api = HfApi(token=token)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(folder) if folder else save_pipeline(pipe, Path(tmp) / "pipeline")
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(source),
            commit_message=commit_message,
            repo_type="model",
        )
    return str(getattr(info, "commit_url", info))


# -- the model card --------------------------------------------------------------------------------
def render_model_card(pipe, template: Path = TEMPLATE) -> str:
    """Fill the ``{{ name }}`` fields of the model card template from the pipeline.

    ``pipe.card`` may hold: model_name, repo_id, license, base_model (a Hub id),
    datasets (list), metrics ({dataset: {metric: value}}).
    """
    text = template.read_text() if template.is_file() else _FALLBACK_CARD
    card = pipe.card or {}
    fc = pipe.forecaster.config
    base = card.get("base_model")
    if base is None and pipe.tslm is not None:
        base = getattr(pipe.tslm.config, "base_model", None)
    describer = "none"
    if pipe.tslm is not None:
        describer = f"TSLM on {base}" if _is_hub_id(base) else "TSLM on an embedded tiny Llama"
    metrics = card.get("metrics", {})
    values = {
        "model_name": card.get("model_name", "sadt pipeline"),
        "base_model_line": f"base_model: {base}" if _is_hub_id(base) else "",
        "license": card.get("license", "apache-2.0"),
        "datasets": "\n".join(f"- {d}" for d in card.get("datasets", [])) or "- synthetic",
        "model_index": _model_index(metrics),
        "metrics_table": _metrics_table(metrics),
        "context_length": fc.context_length,
        "horizon": fc.horizon,
        "num_steps": fc.num_steps,
        "describer": describer,
        "value_network": "yes" if pipe.value is not None else "no",
        "methods": ", ".join(pipe.methods),
        "repo_id": card.get("repo_id", "<user>/<repo>"),
    }
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: str(values.get(m.group(1), m.group(0))), text)
    return re.sub(r"\n{3,}", "\n\n", text.replace("---\n\n", "---\n", 1))


def _is_hub_id(name) -> bool:
    return isinstance(name, str) and re.fullmatch(r"[\w.-]+/[\w.-]+", name) is not None


def _model_index(metrics: dict) -> str:
    """model-index results: one entry per dataset, its metrics listed."""
    lines = []
    for dataset, values in sorted(metrics.items()):
        lines += [
            "  - task:",
            "      type: time-series-forecasting",
            "    dataset:",
            f"      name: {dataset}",
            f"      type: {dataset}",
            "    metrics:",
        ]
        for name, value in sorted(values.items()):
            lines += [f"    - type: {name}", f"      value: {value}"]
    return "\n".join(lines) or "  []"


def _metrics_table(metrics: dict) -> str:
    rows = [
        f"| {dataset} | {name} | {value} |"
        for dataset, values in sorted(metrics.items())
        for name, value in sorted(values.items())
    ]
    return (
        "\n".join(["| dataset | metric | value |", "|---|---|---|", *rows])
        if rows
        else ("(not measured yet)")
    )


_FALLBACK_CARD = """---
library_name: mlx
pipeline_tag: time-series-forecasting
license: {{ license }}
base_model: {{ base_model }}
---
# {{ model_name }}
"""
