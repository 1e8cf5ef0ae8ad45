"""A local fake of the Hugging Face Hub HTTP API, for tests that cannot reach the real Hub.

``FakeHub`` is a real HTTP server (``http.server.ThreadingHTTPServer`` on 127.0.0.1, free port,
background thread) that answers the requests the *real* ``huggingface_hub`` client makes for

* ``HfApi.create_repo`` / ``delete_repo``         POST /api/repos/create, DELETE /api/repos/delete
* ``HfApi.upload_folder`` / ``create_commit``     POST /api/validate-yaml (README.md front matter),
                                                  POST /api/{type}s/{id}/preupload/{rev},
                                                  POST /api/{type}s/{id}/commit/{rev} (NDJSON)
* ``HfApi.repo_info`` / ``model_info``            GET /api/{type}s/{id}[/revision/{rev}]
* ``HfApi.list_repo_tree`` / ``list_repo_files``  GET /api/{type}s/{id}/tree/{rev}[/{path}]
* ``HfApi.get_paths_info``                        POST /api/{type}s/{id}/paths-info/{rev}
* ``HfApi.list_repo_refs`` / ``list_repo_commits``  GET /api/{type}s/{id}/refs, .../commits/{rev}
* ``HfApi.whoami``                                GET /api/whoami-v2
* ``hf_hub_download`` / ``snapshot_download``     HEAD and GET /[{type}s/]{id}/resolve/{rev}/{path}

Every file is stored as a plain git blob: ``preupload`` answers ``"regular"`` for all files, so
the client sends their bytes base64-encoded inside the NDJSON commit payload, and no Xet or LFS
header or field is ever advertised. With ``hf_xet`` installed, ``upload_folder`` goes through
``huggingface_hub._upload_pipeline`` (an ``"lfs"`` answer would be treated as a Xet upload there),
without it (or with ``HF_HUB_DISABLE_XET=1``) through ``create_commit``: both work with "regular".
Downloads therefore always use plain HTTP GETs of ``/resolve/``.

Pointing the client at the fake: ``huggingface_hub.constants`` reads ``HF_ENDPOINT`` and
``HF_HUB_OFFLINE`` once, at import, so setting the environment variables in a test is too late.
Either pass ``endpoint=hub.url`` to ``HfApi`` / ``snapshot_download`` / ``hf_hub_download`` and
turn offline mode off with ``set_offline(monkeypatch, False)``, or call
``hub.patch_client(monkeypatch)``, which also makes calls *without* ``endpoint=`` (e.g.
``sadt.hub``) reach the fake.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_USER = "fake-user"
_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_API_REPO_RE = re.compile(
    r"^/api/(models|datasets|spaces)/([^/]+)/([^/]+)"
    r"(?:/(revision|preupload|commit|tree|refs|commits|paths-info)(?:/([^/]+)(?:/(.*))?)?)?/?$"
)
_RESOLVE_RE = re.compile(r"^/(?:(datasets|spaces)/)?([^/]+)/([^/]+)/resolve/([^/]+)/(.+)$")


def git_blob_oid(data: bytes) -> str:
    """The git object id of a blob (what the Hub reports as a regular file's oid and ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def set_offline(monkeypatch, offline: bool) -> None:
    """Turn ``huggingface_hub``'s offline mode on or off for one test.

    ``constants.HF_HUB_OFFLINE`` is computed at import time; every request goes through
    ``constants.is_offline_mode()``, which reads that attribute, so patching it is what counts.
    The environment variable is set too, for code (or subprocesses) that read it directly.
    Going online also keeps the test hermetic: no "AI agent" registry fetch from the real Hub
    (see below) and no proxy from the environment for 127.0.0.1.
    """
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1" if offline else "0")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
    if not offline:
        # Online, the first request's User-Agent asks {constants.ENDPOINT}/api/agent-harnesses
        # (the real Hub unless patched) for an "AI agent" registry and caches it under HF_HOME:
        # pin the in-process registry to empty so tests stay hermetic.
        try:
            import huggingface_hub.utils._detect_agent as detect_agent
        except ImportError:  # other huggingface_hub versions
            return
        if hasattr(detect_agent, "_registry"):
            empty = {"standardEnvVars": [], "harnesses": {}}
            monkeypatch.setattr(detect_agent, "_registry", empty)
        _bypass_proxies(monkeypatch)


def _bypass_proxies(monkeypatch) -> None:
    """Add 127.0.0.1 to NO_PROXY; the shared HTTP client reads the proxy settings when built."""
    proxied = any(
        os.environ.get(var) for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
    )
    for var in ("NO_PROXY", "no_proxy"):
        hosts = [h for h in os.environ.get(var, "").split(",") if h]
        if "127.0.0.1" not in hosts:
            monkeypatch.setenv(var, ",".join([*hosts, "127.0.0.1", "localhost"]))
    if proxied:  # rebuild huggingface_hub's shared httpx client with the new NO_PROXY
        from huggingface_hub.utils._http import close_session

        close_session()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _front_matter(text: str) -> tuple[dict | None, str | None]:
    """(metadata, error) of a README's YAML front matter; (None, None) when there is none."""
    if not text.startswith("---"):
        return None, None
    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, re.DOTALL)
    if match is None:
        return None, "the YAML front matter is not closed by a '---' line"
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml is a sadt dependency
        return {}, None
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        return None, f"invalid YAML: {err}"
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return None, "the YAML front matter must be a mapping"
    return data, None


class _Commit:
    def __init__(self, oid: str, parent: str | None, title: str, message: str, files: dict):
        self.oid = oid
        self.parent = parent
        self.title = title
        self.message = message
        self.files: dict[str, str] = files  # path -> blob oid
        self.date = _now()


class _Repo:
    def __init__(self, repo_type: str, repo_id: str, private: bool):
        self.repo_type = repo_type
        self.repo_id = repo_id
        self.private = private
        self.created_at = _now()
        self.commits: dict[str, _Commit] = {}
        self.branches: dict[str, str] = {}
        self.tags: dict[str, str] = {}

    def resolve(self, revision: str) -> _Commit | None:
        oid = self.branches.get(revision) or self.tags.get(revision)
        if oid is None and _COMMIT_RE.fullmatch(revision):
            oid = revision
        return self.commits.get(oid) if oid else None


class _HttpError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers=None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers = dict(headers or {})


class FakeHub:
    """A fake Hugging Face Hub on ``http://127.0.0.1:PORT``; use as a context manager.

    ``root`` is where uploaded blobs are stored (a temporary folder, removed on exit, by default);
    repo metadata lives in memory, so a new ``FakeHub`` always starts empty.

    Test hooks: ``requests`` logs ``(method, path)`` of every request (path unquoted, without the
    query string) and ``authorizations`` the matching ``Authorization`` header (or None);
    ``stop()`` / ``start()`` / ``unreachable()`` make the Hub unreachable (connection refused) and
    back; ``force_status = 503`` makes every request fail with that status until reset to None.
    """

    def __init__(self, root: Path | None = None, *, user: str = DEFAULT_USER):
        self._tmp = None if root is not None else tempfile.mkdtemp(prefix="fake-hub-")
        self.root = Path(root) if root is not None else Path(self._tmp)
        self.user = user
        self.requests: list[tuple[str, str]] = []
        self.authorizations: list[str | None] = []
        self.force_status: int | None = None
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._lock = threading.RLock()
        self._counter = itertools.count()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self.url = ""

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> FakeHub:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def start(self) -> None:
        """Serve (again, on the same port after a ``stop()``)."""
        if self._server is not None:
            return
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
        server.daemon_threads = True
        server.hub = self  # type: ignore[attr-defined]
        self._server = server
        self._port = server.server_address[1]
        self.url = f"http://127.0.0.1:{self._port}"
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fake-hub", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving: connections to ``url`` are then refused (the Hub is unreachable)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    @contextlib.contextmanager
    def unreachable(self) -> Iterator[None]:
        """Within the block, the server is stopped (connection refused); restarted afterwards."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def patch_client(self, monkeypatch, *, cache_dir: Path | str | None = None) -> None:
        """Point ``huggingface_hub`` at this fake for one test, without ``endpoint=`` arguments.

        Patches ``constants.ENDPOINT`` (read by ``HfApi()`` when it is built) and
        ``constants.HUGGINGFACE_CO_URL_TEMPLATE`` (read by ``hf_hub_url``, i.e. the downloads),
        sets ``HF_ENDPOINT``, turns offline mode off (``set_offline``), and optionally points the
        default cache (``constants.HF_HUB_CACHE``) at ``cache_dir``.
        """
        import huggingface_hub.constants as constants

        monkeypatch.setenv("HF_ENDPOINT", self.url)
        monkeypatch.setattr(constants, "ENDPOINT", self.url)
        monkeypatch.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            self.url + "/{repo_id}/resolve/{revision}/{filename}",
        )
        if cache_dir is not None:
            monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache_dir))
        set_offline(monkeypatch, False)

    # -- inspection -----------------------------------------------------------------------------
    def files(
        self, repo_id: str, repo_type: str = "model", revision: str = "main"
    ) -> dict[str, bytes]:
        """``{path: bytes}`` of ``repo_id`` at ``revision`` (the latest commit of main)."""
        with self._lock:
            repo = self._repos.get((repo_type, repo_id))
            if repo is None:
                raise KeyError(f"no {repo_type} repo {repo_id!r} on the fake Hub")
            commit = repo.resolve(revision)
            if commit is None:
                raise KeyError(f"{repo_id!r} has no revision {revision!r}")
            return {path: self._read_blob(oid) for path, oid in sorted(commit.files.items())}

    def repo_ids(self, repo_type: str = "model") -> list[str]:
        with self._lock:
            return sorted(rid for (rtype, rid) in self._repos if rtype == repo_type)

    def commit_oids(self, repo_id: str, repo_type: str = "model") -> list[str]:
        """Commit ids of ``main``, newest first (the first one is the empty initial commit)."""
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            return [c.oid for c in self._history(repo, repo.commits[repo.branches["main"]])]

    def is_private(self, repo_id: str, repo_type: str = "model") -> bool:
        with self._lock:
            return self._repos[(repo_type, repo_id)].private

    # -- storage --------------------------------------------------------------------------------
    def _write_blob(self, data: bytes) -> str:
        oid = git_blob_oid(data)
        path = self.root / "blobs" / oid
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{oid}.{next(self._counter)}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return oid

    def _blob_path(self, oid: str) -> Path:
        return self.root / "blobs" / oid

    def _read_blob(self, oid: str) -> bytes:
        return self._blob_path(oid).read_bytes()

    def _new_commit(self, repo: _Repo, parent: str | None, title: str, message: str, files: dict):
        seed = json.dumps([repo.repo_id, parent, title, files, next(self._counter), _now()])
        commit = _Commit(hashlib.sha1(seed.encode()).hexdigest(), parent, title, message, files)
        repo.commits[commit.oid] = commit
        return commit

    @staticmethod
    def _history(repo: _Repo, commit: _Commit) -> list[_Commit]:
        out = []
        while commit is not None:
            out.append(commit)
            commit = repo.commits.get(commit.parent) if commit.parent else None
        return out

    # -- request handling (called from the handler threads) ------------------------------------
    def _repo_url(self, repo: _Repo) -> str:
        return f"{self.url}/{_URL_PREFIX[repo.repo_type]}{repo.repo_id}"

    def _get_repo(self, repo_type: str, repo_id: str, auth: str | None) -> _Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None:
            raise _HttpError(404, "Repository not found", "RepoNotFound")
        if repo.private and not auth:
            raise _HttpError(401, "Invalid username or password.", "RepoNotFound")
        return repo

    @staticmethod
    def _require_token(auth: str | None) -> None:
        if not auth or not auth.lower().startswith("bearer ") or not auth[7:].strip():
            raise _HttpError(401, "Invalid credentials in Authorization header")

    @staticmethod
    def _get_commit(repo: _Repo, revision: str) -> _Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise _HttpError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    def handle(self, method: str, raw_path: str, query: dict, headers, body: bytes):
        """Returns (status, headers, body bytes | Path | None)."""
        auth = headers.get("Authorization")
        path = raw_path
        if path == "/api/whoami-v2" and method == "GET":
            self._require_token(auth)
            return self._json(
                {
                    "type": "user",
                    "name": self.user,
                    "fullname": "Fake User",
                    "orgs": [],
                    "auth": {"type": "access_token", "accessToken": {"role": "write"}},
                }
            )
        if path == "/api/validate-yaml" and method == "POST":
            payload = json.loads(body or b"{}")
            _, error = _front_matter(payload.get("content", ""))
            if error:
                return self._json({"errors": [{"message": error}], "warnings": []}, 400)
            return self._json({"errors": [], "warnings": []})
        if path == "/api/repos/create" and method == "POST":
            return self._create_repo(json.loads(body or b"{}"), auth)
        if path == "/api/repos/delete" and method == "DELETE":
            return self._delete_repo(json.loads(body or b"{}"), auth)
        match = _API_REPO_RE.match(path)
        if match:
            kind, ns, name, action, rev, rest = match.groups()
            repo = self._get_repo(_TYPES[kind], f"{unquote(ns)}/{unquote(name)}", auth)
            rev = unquote(rev) if rev else None
            rest = unquote(rest) if rest else ""
            if action is None and method == "GET":
                return self._info(repo, "main", query)
            if action == "revision" and method == "GET" and rev:
                return self._info(repo, rev + ("/" + rest if rest else ""), query)
            if action == "preupload" and method == "POST" and rev:
                return self._preupload(repo, rev, query, json.loads(body or b"{}"), auth)
            if action == "commit" and method == "POST" and rev:
                return self._commit(repo, rev, query, body, auth)
            if action == "tree" and method == "GET" and rev:
                return self._tree(repo, rev, rest, query)
            if action == "paths-info" and method == "POST" and rev:
                form = parse_qs(body.decode("utf-8"))
                return self._paths_info(repo, rev, form.get("paths", []))
            if action == "refs" and method == "GET":
                return self._refs(repo)
            if action == "commits" and method == "GET" and rev:
                return self._commits(repo, rev)
            raise _HttpError(404, f"FakeHub does not implement {method} {path}")
        match = _RESOLVE_RE.match(path)
        if match and method in ("GET", "HEAD"):
            kind, ns, name, rev, filename = match.groups()
            repo_type = _TYPES[kind] if kind else "model"
            repo = self._get_repo(repo_type, f"{unquote(ns)}/{unquote(name)}", auth)
            return self._resolve(repo, unquote(rev), unquote(filename), headers)
        raise _HttpError(404, f"FakeHub does not implement {method} {path}")

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict | None = None):
        return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(data)

    def _create_repo(self, payload: dict, auth: str | None):
        self._require_token(auth)
        repo_type = payload.get("type") or "model"
        if repo_type not in _URL_PREFIX:
            raise _HttpError(400, f"FakeHub does not support repo type {repo_type!r}")
        name = payload.get("name") or ""
        repo_id = f"{payload.get('organization') or self.user}/{name}"
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id):
            raise _HttpError(400, f"Invalid repo id {repo_id!r}")
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        repo = self._repos.get((repo_type, repo_id))
        if repo is not None:
            body = {"error": "You already created this repo", "url": self._repo_url(repo)}
            return self._json(body, 409)
        repo = _Repo(repo_type, repo_id, private)
        repo.branches["main"] = self._new_commit(repo, None, "initial commit", "", {}).oid
        self._repos[(repo_type, repo_id)] = repo
        return self._json({"url": self._repo_url(repo), "name": repo_id, "id": repo_id})

    def _delete_repo(self, payload: dict, auth: str | None):
        self._require_token(auth)
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or self.user}/{payload.get('name')}"
        if self._repos.pop((repo_type, repo_id), None) is None:
            raise _HttpError(404, "Repository not found", "RepoNotFound")
        return self._json({})

    def _info(self, repo: _Repo, revision: str, query: dict):
        commit = self._get_commit(repo, revision)
        blobs = query.get("blobs", [""])[0].lower() in ("1", "true")
        siblings = []
        for path, oid in sorted(commit.files.items()):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                sibling.update(size=self._blob_path(oid).stat().st_size, blobId=oid)
            siblings.append(sibling)
        info: dict[str, Any] = {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.oid,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "lastModified": commit.date,
            "createdAt": repo.created_at,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
        }
        if "README.md" in commit.files:
            card, _ = _front_matter(self._read_blob(commit.files["README.md"]).decode("utf-8"))
            if card is not None:
                info["cardData"] = card
        if repo.repo_type == "space":
            info["sdk"] = "gradio"
        return self._json(info)

    def _preupload(self, repo: _Repo, revision: str, query: dict, payload: dict, auth):
        self._require_token(auth)
        if query.get("create_pr"):
            raise _HttpError(400, "FakeHub does not support create_pr")
        commit = self._get_commit(repo, revision)
        files = [
            {
                "path": item["path"],
                "uploadMode": "regular",  # never "lfs": the xet/LFS upload paths are not faked
                "shouldIgnore": False,
                "oid": commit.files.get(item["path"]),
            }
            for item in payload.get("files", [])
        ]
        return self._json({"files": files, "commitOid": commit.oid})

    def _commit(self, repo: _Repo, revision: str, query: dict, body: bytes, auth):
        self._require_token(auth)
        if query.get("create_pr"):
            raise _HttpError(400, "FakeHub does not support create_pr")
        if revision not in repo.branches:
            if repo.resolve(revision) is not None:
                raise _HttpError(400, f"Can only commit to a branch, not {revision!r}")
            raise _HttpError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        head = repo.commits[repo.branches[revision]]
        files = dict(head.files)
        header: dict = {}
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item.get("key"), item.get("value") or {}
            if key == "header":
                header = value
            elif key == "file":
                content = value.get("content", "")
                if value.get("encoding") == "base64":
                    data = base64.b64decode(content)
                else:
                    data = content.encode("utf-8")
                files[value["path"]] = self._write_blob(data)
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise _HttpError(
                        404, "A file with this name doesn't exist", "EntryNotFound"
                    )  # the Hub's wording
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                for path in [p for p in files if p.startswith(prefix)]:
                    del files[path]
            elif key == "lfsFile":
                raise _HttpError(400, "FakeHub does not implement LFS files (preupload is regular)")
            else:
                raise _HttpError(400, f"Unknown commit operation {key!r}")
        parent = header.get("parentCommit")
        if parent and parent != head.oid:
            raise _HttpError(412, f"parentCommit {parent} is not the head of {revision}")
        commit = self._new_commit(
            repo, head.oid, header.get("summary") or "", header.get("description") or "", files
        )
        repo.branches[revision] = commit.oid
        return self._json(
            {
                "success": True,
                "commitOid": commit.oid,
                "commitUrl": f"{self._repo_url(repo)}/commit/{commit.oid}",
                "hookOutput": "",
                "pullRequestUrl": None,
            }
        )

    def _tree(self, repo: _Repo, revision: str, subpath: str, query: dict):
        commit = self._get_commit(repo, revision)
        recursive = query.get("recursive", [""])[0].lower() in ("1", "true")
        prefix = subpath.strip("/") + "/" if subpath.strip("/") else ""
        if prefix and prefix.rstrip("/") in commit.files:
            raise _HttpError(400, f"{subpath} is a file, not a folder")
        entries: dict[str, dict] = {}
        for path, oid in sorted(commit.files.items()):
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix) :].split("/")
            for depth in range(1, len(parts)):
                folder = prefix + "/".join(parts[:depth])
                if depth == 1 or recursive:
                    folder_oid = hashlib.sha1(f"tree {commit.oid} {folder}".encode()).hexdigest()
                    entries.setdefault(folder, {"type": "directory", "oid": folder_oid})
            if len(parts) == 1 or recursive:
                size = self._blob_path(oid).stat().st_size
                entries[path] = {"type": "file", "oid": oid, "size": size}
        if prefix and not entries:
            raise _HttpError(404, f"{subpath} does not exist at {revision}", "EntryNotFound")
        return self._json([{**entry, "path": path} for path, entry in sorted(entries.items())])

    def _paths_info(self, repo: _Repo, revision: str, paths: list[str]):
        commit = self._get_commit(repo, revision)
        out = []
        for path in paths:
            path = path.strip("/")
            if path in commit.files:
                oid = commit.files[path]
                size = self._blob_path(oid).stat().st_size
                out.append({"type": "file", "path": path, "oid": oid, "size": size})
            elif any(p.startswith(path + "/") for p in commit.files):
                folder_oid = hashlib.sha1(f"tree {commit.oid} {path}".encode()).hexdigest()
                out.append({"type": "directory", "path": path, "oid": folder_oid})
        return self._json(out)

    def _refs(self, repo: _Repo):
        def ref(kind: str, name: str, oid: str) -> dict:
            return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": oid}

        return self._json(
            {
                "branches": [ref("heads", n, o) for n, o in sorted(repo.branches.items())],
                "converts": [],
                "tags": [ref("tags", n, o) for n, o in sorted(repo.tags.items())],
                "pullRequests": [],
            }
        )

    def _commits(self, repo: _Repo, revision: str):
        head = self._get_commit(repo, revision)
        author = [{"user": repo.repo_id.split("/")[0]}]
        return self._json(
            [
                {
                    "id": c.oid,
                    "authors": author,
                    "date": c.date,
                    "title": c.title,
                    "message": c.message,
                }
                for c in self._history(repo, head)
            ]
        )

    def _resolve(self, repo: _Repo, revision: str, filename: str, headers):
        commit = self._get_commit(repo, revision)
        oid = commit.files.get(filename)
        if oid is None:
            raise _HttpError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.oid})
        blob = self._blob_path(oid)
        size = blob.stat().st_size
        out = {
            "Content-Type": "application/octet-stream",
            "ETag": f'"{oid}"',
            "X-Repo-Commit": commit.oid,
            "Accept-Ranges": "bytes",
            "Content-Disposition": f'inline; filename="{filename.rsplit("/", 1)[-1]}"',
        }
        start, end = 0, size - 1
        status = 200
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", headers.get("Range") or "")
        if match and size > 0 and (match.group(1) or match.group(2)):
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            else:  # suffix range: the last N bytes
                start = max(size - int(match.group(2)), 0)
            if start > end:
                raise _HttpError(416, "Range not satisfiable", None, {"Content-Range": f"*/{size}"})
            status = 206
            out["Content-Range"] = f"bytes {start}-{end}/{size}"
        return status, out, (blob, start, end - start + 1)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so stop() really cuts every client off (no pooled
    # keep-alive connection can reach a handler thread of a stopped server).
    protocol_version = "HTTP/1.0"
    server_version = "FakeHub/1.0"

    def log_message(self, format, *args):  # noqa: A002 - silence the default stderr log
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self, method: str) -> None:
        hub: FakeHub = self.server.hub  # type: ignore[attr-defined]
        split = urlsplit(self.path)
        path = split.path
        with hub._lock:
            hub.requests.append((method, unquote(path)))
            hub.authorizations.append(self.headers.get("Authorization"))
        body = self._body() if method in ("POST", "PUT", "DELETE") else b""
        try:
            if hub.force_status is not None:
                raise _HttpError(hub.force_status, "forced failure (FakeHub.force_status)")
            with hub._lock:
                status, headers, payload = hub.handle(
                    method, path, parse_qs(split.query), self.headers, body
                )
        except _HttpError as err:
            headers = {"Content-Type": "application/json", **err.headers}
            if err.code:
                headers["X-Error-Code"] = err.code
            headers["X-Error-Message"] = err.message
            status, payload = err.status, json.dumps({"error": err.message})
        except Exception as err:  # a bug in the fake: answer 500 with the reason
            status, headers = 500, {"Content-Type": "application/json"}
            payload = json.dumps({"error": f"FakeHub error: {err!r}"})
        self._send(method, status, headers, payload)

    def _send(self, method: str, status: int, headers: dict, payload) -> None:
        if isinstance(payload, tuple):  # (blob path, offset, length): stream a file
            blob, offset, length = payload
        else:
            data = payload.encode("utf-8") if isinstance(payload, str) else payload or b""
            length = len(data)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")
        self.end_headers()
        if method == "HEAD":
            return
        try:
            if isinstance(payload, tuple):
                with open(blob, "rb") as f:
                    f.seek(offset)
                    remaining = length
                    while remaining > 0:
                        chunk = f.read(min(remaining, 1 << 20))
                        if not chunk:
                            break
                        self.wfile.write(chunk)
                        remaining -= len(chunk)
            else:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):  # noqa: N802
        self._serve("GET")

    def do_HEAD(self):  # noqa: N802
        self._serve("HEAD")

    def do_POST(self):  # noqa: N802
        self._serve("POST")

    def do_PUT(self):  # noqa: N802
        self._serve("PUT")

    def do_DELETE(self):  # noqa: N802
        self._serve("DELETE")
