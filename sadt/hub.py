"""Pipeline folders on disk and on the Hugging Face Hub.

A pipeline folder:

    config.json     {"sadt_class": "Pipeline", "format_version": 1, "search": {...},
                     "card": {...}, "parts": {"forecaster": "forecaster", "tslm": "tslm",
                     "value": "value" or null}}
    forecaster/     config.json + model.safetensors         (sadt.forecaster)
    tslm/           the describer (sadt.describer.files): trainable weights, tokenizer, base LLM
                    embedded in tslm/llm/ or referenced by Hub id
    value/          optional: S-ADT's value network          (sadt.value)
    README.md       the model card, rendered from sadt/model_card.md (package data)

Only JSON and safetensors are ever read: nothing is unpickled and no remote code runs.
``load_parts(None)`` reads the bundled default (sadt/assets/sadt-tiny).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from sadt.errors import HubError, MissingModelFile, ModelFileError
from sadt.files import FORMAT_VERSION, atomic_write

BUNDLED = Path(__file__).resolve().parent / "assets" / "sadt-tiny"
# Package data (a wheel ships it); the repository's top-level model_card.md links here.
TEMPLATE = Path(__file__).resolve().parent / "model_card.md"
# What a pipeline repo may contain; anything else on the Hub is never downloaded.
ALLOWED = ["*.json", "*.safetensors", "*.md", "*.txt", "*.model", "*.jinja"]


LOGIN = "log in with `hf auth login` or set HF_TOKEN"


def hub_error(err: Exception, action: str) -> Exception:
    """One sentence for a failed Hub request; ``err`` itself when it is not a Hub/network one."""
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalTokenNotFoundError,
        OfflineModeIsEnabled,
    )

    if isinstance(err, LocalTokenNotFoundError):
        return HubError(f"cannot {action}: no Hub token was found; {LOGIN}")
    if isinstance(err, OfflineModeIsEnabled):
        return HubError(
            f"cannot {action}: offline mode is on (HF_HUB_OFFLINE=1); unset it and connect"
        )
    if isinstance(err, HfHubHTTPError):
        status = getattr(err.response, "status_code", None)
        if status in (401, 403):
            return HubError(
                f"cannot {action}: the Hub needs a valid token (HTTP {status}); {LOGIN}"
            )
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return HubError(f"cannot {action}: the Hub answered HTTP {status} ({first})")
    if isinstance(err, _lock_timeout()):
        return HubError(
            f"cannot {action}: another process holds the Hugging Face cache lock "
            f"{getattr(err, 'lock_file', '')}; wait for it to finish (or delete the lock file "
            "if no download is running) and try again"
        )
    if isinstance(err, _network_errors()):
        return HubError(f"cannot {action}: the Hub cannot be reached (no network?): {err}")
    return err


def _lock_timeout() -> tuple[type, ...]:
    """filelock's Timeout (a TimeoutError), which the Hub client raises on a busy cache."""
    try:
        from filelock import Timeout
    except ImportError:
        return ()
    return (Timeout,)


def _network_errors() -> tuple[type, ...]:
    """Connection refused, DNS, timeouts: the transport errors of the Hub client's HTTP library
    (httpx2 in huggingface_hub 2.x, httpx in 1.x, requests before), matched by class, not by
    name (a filelock Timeout on the cache is not a network error)."""
    import importlib

    kinds: list[type] = [ConnectionError]  # the builtin one: refused, reset, aborted
    for module, names in (
        ("httpx2", ("TransportError",)),
        ("httpx", ("TransportError",)),
        ("requests.exceptions", ("ConnectionError", "Timeout")),
    ):
        try:
            found = importlib.import_module(module)
        except ImportError:
            continue
        kinds += [getattr(found, name) for name in names if hasattr(found, name)]
    return tuple(kinds)


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
                "or rebuild it with `sadt train push --bundle`"
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
            f"check the id or {LOGIN}"
        ) from None
    except RevisionNotFoundError:
        raise HubError(f"{repo_id} has no revision {revision!r}") from None
    except Exception as err:  # the network border: offline mode, refused, HTTP errors
        mapped = hub_error(err, f"download {repo_id}")
        if mapped is err:
            raise
        raise mapped from None


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


@dataclass
class PipelineParts:
    """What a pipeline folder holds, loaded; `sadt.Pipeline.from_pretrained` assembles it."""

    folder: Path
    forecaster: object  # sadt.forecaster.Forecaster
    tslm: object | None  # sadt.describer.model.TSLM
    value: object | None  # sadt.value.ValueNetwork
    search: dict  # the search settings as saved
    card: dict


def load_parts(repo_or_path=None, revision: str | None = None, describer: bool = True):
    """The parts of a pipeline folder, a Hub id, or (None) the bundled default."""
    from sadt.forecaster import Forecaster

    folder = resolve(repo_or_path, revision)
    config = read_config(folder)
    parts = config.get("parts") or {}
    forecaster = _load_part(Forecaster.load, _part(folder, parts, "forecaster"))
    tslm = value = None
    if describer and parts.get("tslm"):
        from sadt.describer.model import TSLM

        tslm = _load_part(TSLM.load, _part(folder, parts, "tslm"))
    if parts.get("value"):
        from sadt.value import ValueNetwork

        path = _part(folder, parts, "value")
        value = _load_part(ValueNetwork.load, path)
        check_value_fits(value, path)
    search = config.get("search") or {}
    return PipelineParts(folder, forecaster, tslm, value, search, config.get("card") or {})


def _load_part(load, path: Path):
    """``load(path)``, every file problem as a ModelFileError (a missing file stays one too)."""
    try:
        return load(path)
    except ModelFileError:
        raise
    except FileNotFoundError as err:
        raise MissingModelFile(f"{err} (the pipeline folder {path.parent} is incomplete)") from None
    except OSError as err:  # unreadable: permissions, a folder where a file should be, ...
        raise ModelFileError(f"cannot read {path}: {err}") from None


def check_value_fits(value, path: Path) -> None:
    """Refuse a value network whose inputs are not the forecast chain's (e.g. a toy chain's)."""
    from sadt.forecaster.chain import ForecastChain

    cfg = value.config
    expected = {
        "feature_dim": ForecastChain.VALUE_FEATURES,
        "weight_dim": ForecastChain.VALUE_WEIGHTS,
    }
    for name, want in expected.items():
        if getattr(cfg, name) != want:
            raise ModelFileError(
                f"{path / 'config.json'} has {name} {getattr(cfg, name)}, but forecasts give the "
                f"value network {want}: it was not trained on a sadt forecaster"
            )
    if cfg.base_feature is not None and not 0 <= cfg.base_feature < cfg.feature_dim:
        raise ModelFileError(
            f"{path / 'config.json'} has base_feature {cfg.base_feature}, "
            f"outside 0..{cfg.feature_dim - 1}"
        )


def _part(folder: Path, parts: dict, name: str) -> Path:
    sub = parts.get(name)
    if not isinstance(sub, str) or "/" in sub or sub.startswith("."):
        raise ModelFileError(f"{folder / 'config.json'} names no valid {name} folder")
    path = folder / sub
    if not path.is_dir():
        raise ModelFileError(f"{path} is missing: the pipeline folder is incomplete")
    return path


# -- the Hub ---------------------------------------------------------------------------------------
def check_repo_id(repo_id) -> str:
    """``repo_id`` when it can name a Hub model repo ('user/name'), else one HubError sentence:
    checked before any work, as the Hub client's own check would fail only at the push."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    problem = HubError(
        f"{repo_id!r} is not a Hub repo id like 'user/sadt-model' (letters, digits, '-', '_' "
        "and '.', neither starting nor ending with '-' or '.', at most 96 characters)"
    )
    if not _is_hub_id(repo_id):
        raise problem
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise problem from None
    return repo_id


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

    check_repo_id(repo_id)
    api = HfApi(token=token)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(folder) if folder else save_pipeline(pipe, Path(tmp) / "pipeline")
        try:
            api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            info = api.upload_folder(
                repo_id=repo_id,
                folder_path=str(source),
                commit_message=commit_message,
                repo_type="model",
            )
        except Exception as err:  # the network border; anything else is re-raised as is
            mapped = hub_error(err, f"push to {repo_id}")
            if mapped is err:
                raise
            raise mapped from None
    return str(getattr(info, "commit_url", info))


def check_output_folder(path: str | Path, setting: str = "the output folder") -> Path:
    """``path`` as a folder files can be written in (made when missing), or one ValueError
    sentence naming ``setting`` and saying why not; nothing is created here, so a run that
    stops on a later error leaves no empty folders. The trainers' check too."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{setting} {path} is a file, not a folder; choose a folder")
    existing = path.absolute()
    while not existing.exists():  # the folder that would hold the new ones
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{setting} {path} cannot be made: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write to {setting} {path}: {existing} is not writable")
    return path


# -- the model card --------------------------------------------------------------------------------
def render_model_card(pipe, template: Path = TEMPLATE) -> str:
    """Fill the ``{{ name }}`` fields of the model card template from the pipeline.

    ``pipe.card`` may hold: model_name, repo_id, license, base_model (a Hub id),
    datasets (list), metrics ({dataset: {metric: value}}).
    """
    text = template.read_text()
    card = pipe.card or {}
    fc = pipe.forecaster.config
    base = card.get("base_model")
    if base is None and pipe.tslm is not None:
        base = getattr(pipe.tslm.config, "base_model", None)
    describer = "none"
    if pipe.tslm is not None:
        describer = f"TSLM on {base}" if _is_hub_id(base) else "TSLM on an embedded tiny Llama"
        if pipe.tslm.prompts.config.facts:
            describer += (
                "; reads the whole series with facts computed from it (calendar, cycles, "
                "level, jumps, outliers) and describes forecasts too"
            )
    metrics = card.get("metrics", {})
    if not metrics:  # an empty model-index is invalid metadata: the Hub refuses the README
        text = re.sub(r"model-index:\n(?:.*\n)*?\{\{\s*model_index\s*\}\}\n", "", text)
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
    return "\n".join(lines)


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
