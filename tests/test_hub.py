"""Pipelines through a (local, fake) Hugging Face Hub: push, load by repo id, offline cache.

The Hub's network side is the only fake in the suite (tests/fake_hub.py): the real
huggingface_hub client talks HTTP to a server on 127.0.0.1 started by the test.
"""

import numpy as np
import pytest
import yaml
from fake_hub import FakeHub, set_offline
from tiny_models import hourly_csv, tiny_pipeline

import sadt
from sadt.hub import HubError

REPO = "fake-user/sadt-test"


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    return tiny_pipeline(tmp_path_factory.mktemp("pipe"))


@pytest.fixture
def hub(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("HF_XET_CACHE", str(tmp_path_factory.mktemp("xet")))
    with FakeHub() as fake:
        fake.patch_client(monkeypatch, cache_dir=tmp_path_factory.mktemp("hf-cache"))
        monkeypatch.setenv("HF_TOKEN", "test-token")
        yield fake


def test_push_then_load_by_repo_id_gives_identical_forecasts(pipe, hub, tmp_path):
    url = pipe.push_to_hub(REPO, token="test-token")
    assert REPO in url
    files = hub.files(REPO)
    assert {"config.json", "README.md", "forecaster/model.safetensors", "value/config.json"} <= set(
        files
    )
    assert not [name for name in files if name.endswith((".pkl", ".bin", ".pt", ".py"))]

    loaded = sadt.from_pretrained(REPO)
    csv = hourly_csv(tmp_path / "load.csv")
    a = pipe.forecast(csv, horizon=12, method="dts", budget=80, seed=2)
    b = loaded.forecast(csv, horizon=12, method="dts", budget=80, seed=2)
    np.testing.assert_allclose(a.samples, b.samples, rtol=1e-6)
    assert pipe.describe(csv, max_tokens=8) == loaded.describe(csv, max_tokens=8)


def test_pushed_model_card_has_the_hub_metadata(pipe, hub):
    pipe.push_to_hub(REPO, token="test-token")
    readme = hub.files(REPO)["README.md"].decode()
    front = yaml.safe_load(readme.split("---")[1])
    assert front["library_name"] == "mlx"
    assert front["pipeline_tag"] == "time-series-forecasting"
    assert front["base_model"] == "mlx-community/Llama-3.2-1B-Instruct-4bit"
    assert front["license"] == "apache-2.0"
    assert "time-series" in front["tags"] and front["datasets"] == ["synthetic"]
    metrics = front["model-index"][0]["results"][0]["metrics"]
    assert metrics == [{"type": "crps", "value": 0.5}]
    assert "sadt.from_pretrained" in readme


def test_cached_repo_loads_offline_and_uncached_gives_one_sentence(pipe, hub, monkeypatch):
    pipe.push_to_hub(REPO, token="test-token")
    sadt.from_pretrained(REPO)  # fills the cache
    set_offline(monkeypatch, True)
    with hub.unreachable():
        assert sadt.from_pretrained(REPO).forecaster is not None
        with pytest.raises(HubError, match="not in the local Hugging Face cache"):
            sadt.from_pretrained("fake-user/never-pushed")


def test_missing_repo_online_is_a_clear_error(hub):
    with pytest.raises(HubError, match="was not found on the Hub"):
        sadt.from_pretrained("fake-user/does-not-exist")


def test_push_while_offline_is_one_sentence(pipe, hub, monkeypatch):
    set_offline(monkeypatch, True)
    with pytest.raises(HubError, match=r"cannot push to fake-user/sadt-test: offline mode is on"):
        pipe.push_to_hub(REPO, token="test-token")
    assert REPO not in hub.repo_ids()


def test_push_to_an_unreachable_hub_is_one_sentence(pipe, hub):
    with hub.unreachable(), pytest.raises(HubError, match="the Hub cannot be reached"):
        pipe.push_to_hub(REPO, token="test-token")


def test_a_locked_cache_is_not_called_an_unreachable_hub(hub, tmp_path):
    """filelock's Timeout is a TimeoutError: matching errors by class name made a cache
    held by another download read as "the Hub cannot be reached"."""
    from filelock import Timeout

    from sadt.hub import hub_error

    lock = str(tmp_path / "model.lock")
    error = hub_error(Timeout(lock), "download fake-user/x")
    assert isinstance(error, HubError) and "cannot be reached" not in str(error)
    assert f"another process holds the Hugging Face cache lock {lock}" in str(error)
    unrelated = TimeoutError("a slow disk")
    assert hub_error(unrelated, "download fake-user/x") is unrelated


@pytest.mark.parametrize(
    ("status", "message"),
    [(401, r"needs a valid token \(HTTP 401\); log in with `hf auth login` or set HF_TOKEN"),
     (503, r"the Hub answered HTTP 503")],
)  # fmt: skip
def test_hub_http_errors_on_push_are_one_sentence(pipe, hub, status, message):
    hub.force_status = status
    with pytest.raises(HubError, match=message):
        pipe.push_to_hub(REPO, token="test-token")


def test_train_push_offline_keeps_the_folder_and_says_so(pipe, hub, monkeypatch, tmp_path, capsys):
    from sadt.train import push

    parts = tmp_path / "parts"
    pipe.save_pretrained(parts)
    out = tmp_path / "out"
    set_offline(monkeypatch, True)
    args = [f"--{name}={parts / name}" for name in ("forecaster", "tslm", "value")]
    assert push.main([*args, "--out", str(out), "--repo", REPO]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: cannot push to fake-user/sadt-test: offline mode is on")
    assert err.endswith(f"the model folder was written to {out}")
    assert (out / "config.json").is_file()

    set_offline(monkeypatch, False)
    assert push.main([*args, "--out", str(out), "--repo", REPO]) == 0
    readme = hub.files(REPO)["README.md"].decode()
    assert "\n# sadt-test\n" in readme  # named after the repo, not "sadt-tiny"
    assert "model-index" not in yaml.safe_load(readme.split("---")[1])  # no --metrics given


@pytest.mark.parametrize("repo", ["a/b/c", "user/", "bad id!/x", "no-namespace"])
def test_push_to_a_bad_repo_id_is_one_sentence_before_any_request(pipe, repo):
    with pytest.raises(HubError, match=r"is not a Hub repo id like 'user/sadt-model'"):
        pipe.push_to_hub(repo, token="test-token")  # no Hub: refused before any request
