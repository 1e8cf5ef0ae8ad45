"""The fake Hub (tests/fake_hub.py) against the real huggingface_hub client code paths."""

from __future__ import annotations

import os
from pathlib import Path

import huggingface_hub.constants as hf_constants
import pytest
from fake_hub import FakeHub, git_blob_oid, set_offline
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

REPO = "fake-user/tiny-model"
TOKEN = "test-token"
WEIGHTS = os.urandom(5 * 1024 * 1024 + 123)  # ~5 MB, not a multiple of any chunk size
FILES = {
    "config.json": b'{"sadt_class": "Pipeline", "format_version": 1}\n',
    "README.md": b"---\nlicense: apache-2.0\ntags:\n- time-series\n---\n# Tiny model\n",
    "sub/model.safetensors": WEIGHTS,
    "notes.txt": b"plain text\n",
}


@pytest.fixture
def hub(monkeypatch, tmp_path_factory):
    # An upload with hf_xet installed opens a process-wide XetSession, which writes its logs under
    # HF_XET_CACHE (default ~/.cache/huggingface/xet): keep them out of the home folder.
    monkeypatch.setenv("HF_XET_CACHE", str(tmp_path_factory.mktemp("xet-cache")))
    set_offline(monkeypatch, False)  # conftest.py turns offline mode on for the whole suite
    with FakeHub() as fake:
        yield fake


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "model"
    for name, data in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _upload(hub: FakeHub, folder: Path, repo_id: str = REPO, **kwargs) -> HfApi:
    api = HfApi(endpoint=hub.url, token=TOKEN)
    api.create_repo(repo_id, exist_ok=True, **kwargs)
    api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="upload")
    return api


def _tree(folder: str | Path) -> dict[str, bytes]:
    root = Path(folder)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("xet", [True, False], ids=["upload-pipeline", "create-commit"])
def test_upload_then_snapshot_download_is_byte_identical(hub, folder, tmp_path, monkeypatch, xet):
    # hf_xet installed: upload_folder uses the streamed pipeline; disabled: plain create_commit.
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_XET", not xet)
    api = _upload(hub, folder)
    assert hub.files(REPO) == FILES
    assert ("POST", f"/api/models/{REPO}/preupload/main") in hub.requests
    assert ("POST", f"/api/models/{REPO}/commit/main") in hub.requests
    assert f"Bearer {TOKEN}" in hub.authorizations

    info = api.model_info(REPO, files_metadata=True)
    assert info.sha == hub.commit_oids(REPO)[0]
    assert {s.rfilename: s.size for s in info.siblings} == {k: len(v) for k, v in FILES.items()}
    assert info.card_data.license == "apache-2.0"

    path = snapshot_download(REPO, cache_dir=tmp_path / "cache", endpoint=hub.url, token=TOKEN)
    assert Path(path).name == info.sha
    assert _tree(path) == FILES
    head = [p for m, p in hub.requests if m == "HEAD"]
    assert f"/{REPO}/resolve/{info.sha}/sub/model.safetensors" in head


def test_allow_patterns_filter_the_download(hub, folder, tmp_path):
    _upload(hub, folder)
    path = snapshot_download(
        REPO,
        cache_dir=tmp_path / "cache",
        endpoint=hub.url,
        allow_patterns=["*.json", "*.md"],
    )
    assert set(_tree(path)) == {"config.json", "README.md"}
    assert not any(p.endswith(".safetensors") for m, p in hub.requests if m == "GET")


def test_cached_snapshot_is_served_offline_and_when_the_hub_is_down(
    hub, folder, tmp_path, monkeypatch
):
    _upload(hub, folder)
    cache = tmp_path / "cache"
    online = snapshot_download(REPO, cache_dir=cache, endpoint=hub.url)
    seen = len(hub.requests)

    set_offline(monkeypatch, True)  # what tests/conftest.py sets for the suite
    assert snapshot_download(REPO, cache_dir=cache, endpoint=hub.url) == online
    assert _tree(online) == FILES
    assert len(hub.requests) == seen  # nothing was sent

    set_offline(monkeypatch, False)
    with hub.unreachable():  # online but connection refused: falls back to the cache too
        assert snapshot_download(REPO, cache_dir=cache, endpoint=hub.url) == online
    assert len(hub.requests) == seen


def test_uncached_repo_offline_or_unreachable_raises_local_entry_not_found(
    hub, folder, tmp_path, monkeypatch
):
    _upload(hub, folder)
    cache = tmp_path / "cache"
    set_offline(monkeypatch, True)
    with pytest.raises(LocalEntryNotFoundError):
        snapshot_download(REPO, cache_dir=cache, endpoint=hub.url)
    with pytest.raises(LocalEntryNotFoundError):
        hf_hub_download(REPO, "config.json", cache_dir=cache, endpoint=hub.url)
    assert hub.requests[-1] == ("POST", f"/api/models/{REPO}/commit/main")  # none sent offline

    set_offline(monkeypatch, False)
    with hub.unreachable(), pytest.raises(LocalEntryNotFoundError):
        snapshot_download(REPO, cache_dir=cache, endpoint=hub.url)
    hub.force_status = 503  # reachable but failing: also a LocalEntryNotFoundError
    with pytest.raises(LocalEntryNotFoundError):
        snapshot_download(REPO, cache_dir=cache, endpoint=hub.url)


def test_patch_client_reaches_the_fake_without_endpoint_arguments(
    hub, folder, tmp_path, monkeypatch
):
    hub.patch_client(monkeypatch, cache_dir=tmp_path / "default-cache")
    api = HfApi(token=TOKEN)
    url = api.create_repo("tiny", private=True)  # no namespace: the token's user
    assert url.repo_id == "fake-user/tiny" and url.startswith(hub.url)
    assert hub.is_private("fake-user/tiny")
    api.upload_folder(repo_id="fake-user/tiny", folder_path=folder)
    path = snapshot_download("fake-user/tiny", token=TOKEN)  # default cache, default endpoint
    assert Path(path).is_relative_to(tmp_path / "default-cache")
    assert _tree(path) == FILES
    with pytest.raises(RepositoryNotFoundError):  # private: no token, no access
        snapshot_download("fake-user/tiny", token=False, cache_dir=tmp_path / "other")


def test_hub_errors_map_to_the_client_exceptions(hub, folder, tmp_path):
    api = _upload(hub, folder)
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo(REPO)  # exists, and no exist_ok
    assert err.value.response.status_code == 409
    kwargs = {"cache_dir": tmp_path / "cache", "endpoint": hub.url}
    with pytest.raises(RepositoryNotFoundError):
        snapshot_download("fake-user/missing", **kwargs)
    with pytest.raises(RevisionNotFoundError):
        snapshot_download(REPO, revision="no-such-branch", **kwargs)
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(REPO, "absent.json", **kwargs)
    with pytest.raises(ValueError, match="Invalid metadata in README.md"):
        bad = tmp_path / "bad"
        bad.mkdir()
        (bad / "README.md").write_text("---\nlicense: [unclosed\n---\n")
        api.upload_folder(repo_id=REPO, folder_path=bad)


def test_new_commits_update_main_and_old_revisions_stay_downloadable(hub, folder, tmp_path):
    api = _upload(hub, folder)
    first = hub.commit_oids(REPO)[0]
    api.upload_folder(repo_id=REPO, folder_path=folder)  # nothing changed: no empty commit
    assert hub.commit_oids(REPO)[0] == first

    (folder / "notes.txt").write_bytes(b"changed\n")
    (folder / "sub" / "model.safetensors").unlink()
    api.upload_folder(repo_id=REPO, folder_path=folder, delete_patterns=["*.safetensors"])
    files = hub.files(REPO)
    assert files["notes.txt"] == b"changed\n" and "sub/model.safetensors" not in files
    assert api.list_repo_refs(REPO).branches[0].target_commit == hub.commit_oids(REPO)[0]
    assert [c.commit_id for c in api.list_repo_commits(REPO)] == hub.commit_oids(REPO)
    old = snapshot_download(REPO, revision=first, cache_dir=tmp_path / "cache", endpoint=hub.url)
    assert _tree(old) == FILES
    etag = api.get_paths_info(REPO, ["config.json"])[0].blob_id
    assert etag == git_blob_oid(FILES["config.json"])
