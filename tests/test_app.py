"""The app as its users meet it: `python app.py` on a tiny real pipeline, driven through
gradio_client over HTTP. Every endpoint, the happy paths, every malformed upload in
tests/fixtures/malformed (one clear message each, and the server keeps serving), absurd
parameters, the upload size limit, ten concurrent forecasts, no outbound connection and a
clean shutdown."""

from __future__ import annotations

import base64
import importlib.metadata
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from packaging.requirements import Requirement
from tiny_models import hourly_csv, tiny_pipeline

from sadt.app.examples import EXAMPLES
from sadt.describer.facts import SLOT

ROOT = Path(__file__).resolve().parents[1]
MALFORMED = Path(__file__).resolve().parent / "fixtures" / "malformed"
ENDPOINTS = {"/columns", "/preview", "/describe", "/forecast", "/describe_forecast", "/backtest"}
ENDPOINTS |= {"/horizon_note", "/stop"}
EXAMPLE = "Hourly electricity load (daily and weekly cycle)"
NO_STAMPS = "Noisy cycle without timestamps"

# Runs app.py as `python app.py ...` would, with an audit hook that reports every connection
# (and name lookup) that leaves this machine.
LAUNCHER = """
import runpy, sys
LOCAL = ("127.0.0.1", "::1", "localhost", "0.0.0.0", None)
def audit(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple) and args[1][0] not in LOCAL:
        print("OUTBOUND connect", args[1], file=sys.stderr, flush=True)
    elif event == "socket.getaddrinfo" and args[0] not in LOCAL:
        print("OUTBOUND lookup", args[0], file=sys.stderr, flush=True)
sys.addaudithook(audit)
sys.argv = ["app.py", *sys.argv[1:]]
runpy.run_path("app.py", run_name="__main__")
"""


@dataclass
class AppServer:
    url: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, as a container stop sends; the app shuts down cleanly on it."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_app(model: Path, workdir: Path, timeout: float = 120) -> AppServer:
    """`python app.py --model model` on 127.0.0.1 and a free port, ready to serve.

    The environment has neither GRADIO_ANALYTICS_ENABLED nor HF_HUB_OFFLINE: app.py must
    stay offline by itself."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("GRADIO_ANALYTICS_ENABLED",)}
    env.pop("HF_HUB_OFFLINE", None)
    env["GRADIO_TEMP_DIR"] = str(workdir / "gradio")
    log = workdir / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, "--model", str(model), "--host", "127.0.0.1"]
        + ["--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    server = AppServer(f"http://127.0.0.1:{port}/", process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(server.url, timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"app.py did not answer within {timeout} s:\n{server.output()}")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("app-model")
    tiny_pipeline(folder / "build").save_pretrained(folder / "pipeline")
    return folder / "pipeline"


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    app = launch_app(model_dir, tmp_path_factory.mktemp("app-server"))
    yield app
    assert app.stop() == 0, f"app.py did not shut down cleanly:\n{app.output()}"


@pytest.fixture(scope="module")
def client(server, tmp_path_factory):
    downloads = tmp_path_factory.mktemp("downloads")
    app = Client(server.url, verbose=False, download_files=str(downloads), analytics_enabled=False)
    yield app
    app.close()  # an open connection would hold up the server's shutdown


def forecast_args(file=None, example=EXAMPLE, column=None, **overrides) -> list:
    """/forecast's inputs in order, at the app's defaults (horizon 24 = the tiny model's)."""
    args = {
        "horizon": 24,
        "method": "dts",
        "budget": 1000,
        "gamma": 1.0,
        "low": 1.0,
        "mid": 1.0,
        "high": 1.0,
        "lam": 1.0,
        "paths": 16,
        "seed": 0,
        "with_history": False,
    } | overrides
    return [file, example, column, *args.values()]


def backtest_args(file=None, example=EXAMPLE, column=None, windows=3, **overrides) -> list:
    """/backtest's inputs in order: the forecast's settings (no paths) and the windows."""
    args = forecast_args(file, example, column, **overrides)
    del args[11]  # paths to show
    return [*args[:-1], windows]


def traces(plot: dict) -> list[dict]:
    assert plot["type"] == "plotly"
    return json.loads(plot["plot"])["data"]


def coordinates(trace: dict, axis: str) -> list:
    """A trace's x or y as a list; plotly writes numeric arrays as base64 typed arrays."""
    data = trace[axis]
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def assert_clear(message: str) -> None:
    """A message for a person: one short statement, no traceback, no server path."""
    assert message and len(message) < 400, message
    assert "Traceback" not in message and 'File "' not in message, message
    assert "/tmp" not in message and "gradio" not in message.lower(), message


# -- start-up -------------------------------------------------------------------------------------
def test_app_without_a_usable_model_says_so_and_exits_nonzero(tmp_path):
    done = subprocess.run(
        [sys.executable, "app.py", "--model", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("sadt app: cannot load the model:")
    assert "config.json is missing" in done.stderr and "Traceback" not in done.stderr


def test_space_card_runs_app_py_on_the_installed_gradio_major():
    front_matter = yaml.safe_load((ROOT / "README.md").read_text().split("---")[1])
    assert front_matter["sdk"] == "gradio" and front_matter["app_file"] == "app.py"
    installed = importlib.metadata.version("gradio")
    assert str(front_matter["sdk_version"]).split(".")[0] == installed.split(".")[0]


def test_space_requirements_are_the_package_dependencies_on_linux():
    """The Space installs requirements.txt before the repository is copied in, so it lists
    the package's Linux dependencies itself; gradio comes from the card's sdk_version."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    linux = {"sys_platform": "linux", "platform_system": "Linux"}
    wanted = set()
    for line in project["dependencies"] + project["optional-dependencies"]["app"]:
        requirement = Requirement(line)
        if requirement.name != "gradio" and (
            requirement.marker is None or requirement.marker.evaluate(linux)
        ):
            requirement.marker = None
            wanted.add(str(requirement))
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    listed = {str(Requirement(ln)) for ln in lines if ln.strip() and not ln.startswith("#")}
    assert listed == wanted


def test_every_action_is_a_named_endpoint(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == ENDPOINTS
    assert not api["unnamed_endpoints"]


# -- happy paths ----------------------------------------------------------------------------------
def test_forecast_on_an_example_draws_fan_and_spectra_within_budget(client):
    fan, spectrum, table, stats, csv_path, paths_path = client.predict(
        *forecast_args(), api_name="/forecast"
    )
    names = [t.get("name") for t in traces(fan)]
    assert names == ["history", "sample paths (16)", "10%", "10–90% band", "median", "chosen path"]
    history = traces(fan)[0]
    assert pd.Timestamp(coordinates(history, "x")[-1]) == pd.Timestamp(
        "2024-01-30 23:00"
    )  # real timestamps
    spectra = {t["name"] for t in traces(spectrum)}
    assert spectra == {"sample paths (16)", "history (reference)", "chosen path", "mean forecast"}
    assert stats["method"] == "DTS" and 0 < stats["NFE used"] <= stats["NFE budget"] == 1000
    assert stats["tree size (nodes)"] > 0 and stats["tree depth"] >= 2
    assert stats["reward (chosen path)"] >= stats["reward (mean of samples)"] - 1e-9
    assert 0 <= stats["Spec-W1 (chosen path)"] < 0.5 and stats["search time (s)"] > 0
    assert stats["your wait (s)"] >= stats["search time (s)"]
    frame = pd.read_csv(csv_path)
    assert len(frame) == 24 and frame["timestamp"].iloc[0] == "2024-01-31 00:00:00"


def test_uploaded_csv_with_timestamps_end_to_end(client, tmp_path):
    upload = handle_file(str(hourly_csv(tmp_path / "load.csv")))
    picker = client.predict(upload, api_name="/columns")
    assert picker["choices"] == [["load", "load"]] and picker["value"] == "load"
    chart, summary = client.predict(upload, None, "load", api_name="/preview")
    assert [t["name"] for t in traces(chart)] == ["history"]
    assert summary.startswith("**load**: 300 values, from 2024-01-01 00:00:00")
    assert "(every hour)" in summary  # words, not the pandas alias "h"
    description = client.predict(upload, None, "load", api_name="/describe")
    assert isinstance(description, str) and not SLOT.search(description)  # slots filled

    fan, spectrum, table, stats, csv_path, paths_path = client.predict(
        *forecast_args(upload, None, "load", horizon=16, paths=5), api_name="/forecast"
    )
    assert stats["NFE used"] <= 1000
    assert "sample paths (5)" in [t.get("name") for t in traces(fan)]
    frame = pd.read_csv(csv_path, parse_dates=["timestamp"])
    quantiles = [f"0.{k}" for k in range(1, 10)]
    assert list(frame.columns) == ["series", "timestamp", "mean", *quantiles, "chosen"]
    start = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=300)  # right after the history
    assert list(frame["timestamp"]) == list(pd.date_range(start, periods=16, freq="h"))
    assert np.all(np.diff(frame[quantiles].to_numpy(), axis=1) >= -1e-9)
    assert 5 < frame["0.5"].median() < 60  # the series' own units (level ~20)

    about_forecast = client.predict(api_name="/describe_forecast")
    assert isinstance(about_forecast, str) and not SLOT.search(about_forecast)


def test_an_outage_leaves_out_the_history_before_it_and_says_so(client, tmp_path):
    stamps = pd.date_range("2024-01-01", periods=200, freq="h")
    frame = pd.DataFrame({"time": stamps, "load": 20 + 5 * np.sin(np.arange(200) / 4)})
    frame.loc[100:129, "load"] = np.nan  # a 30-hour outage: too long to draw a line across
    frame.to_csv(tmp_path / "outage.csv", index=False)
    upload = handle_file(str(tmp_path / "outage.csv"))
    _, summary = client.predict(upload, None, None, api_name="/preview")
    assert summary.startswith("**load**: 70 values, from 2024-01-06 10:00:00")
    assert "the 130 rows before a gap too long to fill were left out" in summary


def test_a_series_without_timestamps_gets_numbered_steps(client):
    fan, _, _, _, csv_path, _ = client.predict(
        *forecast_args(example=NO_STAMPS), api_name="/forecast"
    )
    assert coordinates(traces(fan)[0], "x")[-1] == 399
    assert pd.read_csv(csv_path)["step"].tolist() == list(range(400, 424))


@pytest.mark.parametrize(
    ("method", "label", "stat"),
    [
        ("dts", "DTS", "waves"),
        ("dts_star", "DTS*", "waves"),
        ("sadt", "S-ADT", "waves"),
        ("sadt_smc", "S-ADT (SMC)", "particles"),
        ("best_of_n", "Best-of-N", "particles"),
        ("smc", "SMC", "particles"),
        ("ancestral", "ancestral", "NFE used"),
    ],
)
def test_every_method_runs_from_the_app(client, method, label, stat):
    _, _, _, stats, *_ = client.predict(
        *forecast_args(method=method, budget=120), api_name="/forecast"
    )
    assert stats["method"] == label and stats["NFE used"] <= 120 and stats[stat] > 0


def test_spectral_weights_reach_the_search(client):
    def reward(**weights):
        _, _, _, stats, *_ = client.predict(*forecast_args(**weights), api_name="/forecast")
        return stats["reward (chosen path)"]

    assert reward(gamma=0.0) == 0.0  # no steering: every path scores 0
    assert reward(low=1.0, mid=0.0, high=0.0) != reward(low=0.0, mid=0.0, high=1.0)


def test_backtest_overlays_each_window_and_compares_with_seasonal_naive(client):
    chart, text = client.predict(*backtest_args(budget=120), api_name="/backtest")
    names = {t.get("name") for t in traces(chart)}
    assert {"what happened", "10–90% band", "median forecast", "seasonal naive"} <= names
    medians = [t for t in traces(chart) if t.get("name") == "median forecast"]
    assert len(medians) == 3 and all(len(coordinates(t, "y")) == 24 for t in medians)
    assert text.startswith("Backtest on the last 3 stretches of 24 steps")
    assert re.search(r"\d+% (better|worse) than repeating the last season", text)
    assert "fell inside the 10–90% band" in text
    off_chart, off = client.predict(*backtest_args(windows=0), api_name="/backtest")
    assert off_chart is None and off.startswith("Backtest off")


def test_a_yearly_series_gets_its_six_year_forecast_backtest_and_words(client, tmp_path):
    # The default horizon of yearly data (6) is shorter than a spectrum's 8 steps.
    years = pd.date_range("1960-01-01", periods=60, freq="YS")
    values = 100 + 3 * np.arange(60) + np.random.default_rng(0).normal(0, 4, 60)
    pd.DataFrame({"year": years, "gdp": values}).to_csv(tmp_path / "gdp.csv", index=False)
    upload = handle_file(str(tmp_path / "gdp.csv"))
    fan, spectra, _, stats, csv_path, _ = client.predict(
        *forecast_args(upload, None, horizon=0), api_name="/forecast"
    )
    assert len(pd.read_csv(csv_path)) == 6
    assert "at least 8 steps" in json.dumps(spectra)
    assert stats["reward (chosen path)"] == "not used: a spectrum needs 8 steps"
    chart, text = client.predict(*backtest_args(upload, None, horizon=0), api_name="/backtest")
    assert text.startswith("Backtest on the last 3 stretches of 6 steps")
    words = client.predict(api_name="/describe_forecast")
    assert isinstance(words, str) and words and not SLOT.search(words)  # no error


def test_a_series_too_short_to_backtest_says_so_and_still_forecasts(client, tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("value\n" + "".join(f"{v}\n" for v in (3, 1, 4, 1, 5, 9, 2, 6, 5)))
    upload = handle_file(str(short))
    chart, text = client.predict(*backtest_args(upload, None, horizon=0), api_name="/backtest")
    assert chart is None and text.startswith("No backtest: the series has 9 values")
    _, _, _, stats, csv_path, _ = client.predict(
        *forecast_args(upload, None, horizon=0, budget=120), api_name="/forecast"
    )
    assert len(pd.read_csv(csv_path)) == 9  # the default horizon: never beyond the history


def test_horizon_reads_in_the_series_time(client):
    assert client.predict(None, EXAMPLE, None, 0, api_name="/horizon_note") == (
        "Automatic horizon: 48 steps = 2 days."
    )
    assert client.predict(None, EXAMPLE, None, 96, api_name="/horizon_note") == "96 steps = 4 days."
    longer = client.predict(None, NO_STAMPS, None, 500, api_name="/horizon_note")
    assert longer == "500 steps: longer than the history (400 values)."


def test_downloads_are_named_rounded_and_carry_history_and_paths(client):
    *_, table, stats, csv_path, paths_path = client.predict(
        *forecast_args(with_history=True), api_name="/forecast"
    )
    assert Path(csv_path).name == "load-kw-dts-forecast.csv"
    assert Path(paths_path).name == "load-kw-dts-paths.csv"
    frame = pd.read_csv(csv_path)
    assert frame["series"].eq("load_kw").all() and frame["observed"].notna().sum() == 720
    decimals = (
        frame["0.5"].dropna().map(lambda v: len(str(v).split(".")[-1]) if "." in str(v) else 0)
    )
    assert decimals.max() <= 4  # the data's precision, not 15 digits
    paths = pd.read_csv(paths_path)
    assert len(paths) == 64 * 24 and paths["path"].nunique() == 64
    # the table says the same as the JSON, in plain words with an explanation on hover
    assert "Model calls used" in table and 'title="Denoiser evaluations' in table
    assert f"<td>{stats['NFE used']}</td>" in table


def app_module():
    """The app's module (its functions, without starting a server)."""
    return importlib.import_module("sadt.app.server")


def test_an_upload_is_parsed_once_refusals_included(tmp_path):
    from sadt.series import SeriesError

    app, calls = app_module(), []

    def reader(handle, **options):
        calls.append(handle.read())
        raise SeriesError("not a series")

    upload = tmp_path / "bad.csv"
    upload.write_text("x")
    for _ in range(3):
        with pytest.raises(SeriesError, match="not a series"):
            app._cached(reader, str(upload))
    assert calls == [b"x"]
    upload.write_text("xy")  # a new upload at the same path is read again
    with pytest.raises(SeriesError):
        app._cached(reader, str(upload))
    assert calls == [b"x", b"xy"]


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_each_example_shows_what_its_name_promises_where_the_model_reads(name):
    """The bundled model reads the last 512 points of a series. An example whose spikes lay
    before them, and whose random walk hid its 96-step cycle there, was described as having
    no spikes and a 168-step cycle (the sensor example with seed 13)."""
    from sadt.describer.patch_encoder import PatchEncoderConfig
    from sadt.hub import BUNDLED
    from sadt.synthetic import generate

    encoder = json.loads((BUNDLED / "tslm" / "config.json").read_text())["encoder"]
    window = PatchEncoderConfig(**encoder).max_length
    example = EXAMPLES[name]
    values, truth = generate(np.random.default_rng(example.seed), **example.attributes)
    first_read = max(len(values) - window, 0)
    assert all(at >= first_read for at in truth.spikes + truth.level_shifts), truth
    read = values[first_read:]
    steps = np.arange(len(read))
    residual = read - np.polyval(np.polyfit(steps, read, 2), steps)  # trends are not cycles
    power = np.abs(np.fft.rfft(residual)) ** 2
    strongest = len(read) / (1 + int(np.argmax(power[1:])))
    assert strongest == pytest.approx(truth.dominant_period, rel=0.2), (strongest, truth)


def test_statistics_say_when_a_method_coincides_with_another(model_dir):
    # The stats a user reads name the cases where two methods give the same paths.
    app = app_module()
    import sadt
    from sadt.app.examples import load_example

    pipe, series = sadt.from_pretrained(model_dir), load_example(EXAMPLE)

    def stats(method, budget, **kwargs):
        result = pipe.forecast(series, 24, method, budget, num_samples=64, **kwargs)
        return app.search_summary(result, budget)

    # The tiny pipeline keeps 8 rollouts in flight: 6 all run at once, 300 grow a tree.
    no_tree, tree = stats("dts", 36), stats("dts", 6 * 300)
    assert "no tree formed" in no_tree["note"] and "steps drawn without NFE" not in no_tree
    assert no_tree["search tree"].startswith("not formed") and "tree size (nodes)" not in no_tree
    assert no_tree["waves"] == 1.0
    assert "note" not in tree and tree["search tree"].startswith("formed:")
    assert tree["waves"] > 2 and tree["tree size (nodes)"] > 0
    assert 1 <= tree["effective sample size"] <= tree["leaves"]
    # a node's later children reuse its denoiser output, at no NFE
    assert tree["steps drawn without NFE"] > 0
    assert "never resampled" in stats("smc", 600, gamma=0.0)["note"]  # rewards all 0
    ancestral = stats("ancestral", 6000)
    assert "rest of the budget" in ancestral["note"] and ancestral["NFE used"] == 64 * 6
    assert ancestral["distinct paths"] == 64
    one_path = stats("dts", 6)
    assert one_path["distinct paths"] == 1  # one rollout, drawn 64 times
    assert list(one_path)[0] == "warning" and "1 distinct paths among 64" in one_path["warning"]
    assert "warning" not in ancestral


# -- bad input ------------------------------------------------------------------------------------
# The message each malformed file gets: from sadt.read_series through gr.Error, or (for a
# file type the upload does not take) from gradio.
MALFORMED_MESSAGES = {
    "all_missing_tokens.csv": "No column holds numbers",
    "all_nan.csv": "No column holds numbers",
    "binary_junk.csv": r"not a text file \(Excel or other binary\?\)",
    "constant.csv": "The series is constant",
    "duplicate_timestamps.csv": "appears 2 times .* each timestamp must appear once",
    "empty.csv": "The input is empty",
    "excel_errors.csv": r"column 'ratio' holds '#DIV/0!' in row 1, and only 13 of its 40",
    "excel_renamed.csv": "not a text file",
    "header_only.csv": "No column holds numbers",
    "html_login_page.csv": "The file is a web page",
    "json_api_error.json": "error reply, not data .*Rate limit exceeded",
    "inf_value.csv": "Value inf at row 41 is infinite or too large",
    "invalid_json.json": "looks like JSON but is not valid JSON",
    "json_booleans.json": "No column holds numbers",
    "json_deeply_nested.json": "Could not read a series from the input",
    "json_dict_of_scalars.json": "holds no list of values",
    "json_empty_list.json": "The input list is empty",
    "json_empty_object.json": "holds no list of values",
    "json_mixed_list.json": "mixes numbers with records or lists",
    "json_null.json": "holds no data",
    "json_ragged_columns.json": "different lengths",
    "json_records_without_numbers.json": "No column holds numbers",
    "json_strings.json": "No column holds numbers",
    "json_too_short.json": "has 4 values after cleaning; at least 8 are needed",
    "long_format_two_items.csv": r"2 series stacked in long format \(column 'store'",
    "long_gap.csv": "gap of 15 missing values",
    "mostly_missing.csv": r"are missing; at most 20% can be filled",
    "negative_inf.tsv": "Value -inf at row 11 is infinite",
    "no_numeric_column.csv": "No column holds numbers",
    "nul_bytes_in_text.csv": "not a text file",
    "only_timestamps.csv": "No column holds numbers",
    "outage_5min.csv": "from 2024-03-01 04:55:00 to 2024-03-03 12:00:00.*keep the 30 rows",
    "overflowing_value.csv": "is infinite or too large",
    "png_renamed.json": "not a text file",
    "single_row.csv": "at least 8 are needed",
    "sparse_timestamps.csv": "30 of the 130 steps have no row",
    "spreadsheet.xlsx": r"Invalid file type\. Please upload a file that is one of these formats",
    "text_only.tsv": "No column holds numbers",
    "too_short.csv": "has 5 values after cleaning; at least 8 are needed",
    "utf16_text_only.csv": "No column holds numbers",
    "whitespace_only.csv": "The input is empty",
}


def test_the_malformed_corpus_is_complete():
    files = sorted(p.name for p in MALFORMED.iterdir())
    assert len(files) >= 40 and files == sorted(MALFORMED_MESSAGES)


@pytest.mark.parametrize("name", sorted(MALFORMED_MESSAGES))
def test_malformed_upload_gets_one_clear_message(client, name):
    upload = handle_file(str(MALFORMED / name))
    try:  # the column picker may already refuse it, with the same kind of message
        client.predict(upload, api_name="/columns")
    except AppError as err:
        assert_clear(str(err))
    with pytest.raises(AppError) as err:
        client.predict(upload, None, None, api_name="/describe")
    assert re.search(MALFORMED_MESSAGES[name], str(err.value)), str(err.value)
    assert_clear(str(err.value))
    with pytest.raises(AppError, match=MALFORMED_MESSAGES[name]):
        client.predict(*forecast_args(upload, None), api_name="/forecast")
    # ... and the app still serves.
    assert client.predict(None, NO_STAMPS, None, api_name="/preview")[1].startswith("**value**")


def test_upload_over_the_size_limit_is_refused_and_the_app_keeps_serving(server, client, tmp_path):
    huge = tmp_path / "huge.csv"
    with huge.open("w") as file:
        file.write("value\n")
        while file.tell() < 11 * 2**20:  # over the app's 10 MB limit
            file.write("123456.789\n" * 10_000)
    with huge.open("rb") as file:
        answer = httpx.post(
            server.url + "gradio_api/upload", files={"files": ("huge.csv", file)}, timeout=60
        )
    assert answer.status_code == 413 and "maximum allowed size" in answer.text
    with pytest.raises(ValueError, match="exceeds the maximum file size"):  # the client checks too
        client.predict(handle_file(str(huge)), api_name="/columns")
    assert client.predict(None, NO_STAMPS, None, api_name="/preview")[1].startswith("**value**")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"horizon": 10**6}, "Value 1000000 is greater than maximum value 720"),
        ({"horizon": 12.5}, "horizon must be a whole number from 0 to 720, got 12.5"),
        ({"budget": 0}, "Value 0 is less than minimum value 6"),
        ({"budget": 10**9}, "greater than maximum value 20000"),
        ({"gamma": -1}, "less than minimum value 0"),
        ({"lam": 0}, "less than minimum value 0.1"),
        ({"low": 0, "mid": 0, "high": 0}, "not all zero: set at least one band above 0"),
        ({"paths": 10**4}, "greater than maximum value 64"),
        ({"seed": -3}, "seed must be a whole number from 0 to 4294967295, got -3"),
        ({"seed": None}, "The seed box is empty: enter a whole number"),
        ({"method": "magic"}, "magic"),
    ],
)
def test_absurd_parameters_get_clear_messages(server, client, overrides, message):
    tracebacks = server.output().count("Traceback")
    with pytest.raises(AppError) as err:
        client.predict(*forecast_args(**overrides), api_name="/forecast")
    assert message in str(err.value)
    assert_clear(str(err.value))
    assert server.output().count("Traceback") == tracebacks, server.output()[-3000:]


def test_wrong_column_or_missing_source_is_explained(client, tmp_path):
    upload = handle_file(str(hourly_csv(tmp_path / "load.csv")))
    with pytest.raises(AppError, match=r"Column 'price' cannot be used \(absent\).*'load'"):
        client.predict(upload, None, "price", api_name="/describe")
    with pytest.raises(AppError, match="Upload a CSV, TSV or JSON file, or pick an example"):
        client.predict(None, None, None, api_name="/describe")
    client.reset_session()  # a fresh session has made no forecast
    with pytest.raises(AppError, match="Make a forecast first"):
        client.predict(api_name="/describe_forecast")


# -- load -----------------------------------------------------------------------------------------
def test_ten_concurrent_forecasts_all_complete(client):
    jobs = [
        client.submit(*forecast_args(seed=seed, budget=300), api_name="/forecast")
        for seed in range(10)
    ]
    results = [job.result(timeout=120) for job in jobs]
    assert all(stats["NFE used"] <= 300 for _, _, _, stats, _, _ in results)
    chosen = {pd.read_csv(path)["chosen"].to_numpy().round(6).tobytes() for *_, path, _ in results}
    assert len(chosen) == 10  # ten seeds, ten searches


def test_forecast_reports_progress(client):
    job = client.submit(*forecast_args(budget=20_000), api_name="/forecast")
    seen = []
    while not job.done():
        progress = job.status().progress_data
        if progress:
            seen.append(progress[0].desc)
        time.sleep(0.02)
    job.result()
    assert any(desc and "/20000 NFE" in desc for desc in seen), seen
    assert any(desc and desc.endswith(" s left") for desc in seen), seen  # an estimate


def test_stop_ends_a_long_search_with_what_it_found(client):
    job = client.submit(*forecast_args(method="dts_star", budget=20_000), api_name="/forecast")
    while not (job.status().progress_data or job.done()):
        time.sleep(0.02)
    client.predict(api_name="/stop")
    _, _, table, stats, *_ = job.result(timeout=120)
    assert "Stopped on request after" in stats["warning"] and stats["NFE used"] < 20_000
    assert "Stopped on request" in table
    # the next request runs in full: the flag was this search's only
    _, _, _, stats, *_ = client.predict(*forecast_args(budget=300), api_name="/forecast")
    assert "warning" not in stats and stats["NFE used"] > 200


def test_a_long_search_yields_to_requests_waiting_behind_it(client):
    long = client.submit(*forecast_args(method="dts_star", budget=20_000), api_name="/forecast")
    while not (long.status().progress_data or long.done()):
        time.sleep(0.02)
    waiting = [
        client.submit(*forecast_args(budget=300, seed=s), api_name="/forecast") for s in (1, 2)
    ]
    _, _, _, stats, *_ = long.result(timeout=120)
    assert "waiting request(s) run" in stats["warning"] and stats["NFE used"] < 20_000
    for job in waiting:  # they ran in full
        assert "warning" not in job.result(timeout=120)[3]


def test_an_adjusted_budget_says_so(client):
    # 720 steps of a 24-step model: 30 blocks x 20000 NFE would pass the pipeline's cap
    _, _, table, stats, *_ = client.predict(
        *forecast_args(horizon=720, budget=20_000, method="ancestral"), api_name="/forecast"
    )
    assert "capped at 100000" in stats["budget note"] and "Budget" in table
    _, _, _, stats, *_ = client.predict(*forecast_args(budget=300), api_name="/forecast")
    assert "budget note" not in stats


def test_the_server_made_no_outbound_connection(server):
    assert "OUTBOUND" not in server.output(), server.output()


def test_real_series_exported_as_people_export_them_load_in_the_app(client, tmp_path):
    from bench.corpus_inputs import CORPUS, exports

    source = CORPUS / "series" / "jbrownlee__nottingham_monthly_mean_temp.csv"
    if not source.is_file():
        pytest.skip(f"no corpus at {CORPUS}")
    texts = exports(pd.read_csv(source))
    for name in ("excel_eu.csv", "dayfirst.csv", "api.json"):
        path = tmp_path / name
        path.write_text(texts[name], encoding="utf-8")
        upload = handle_file(str(path))
        _, summary = client.predict(upload, None, None, api_name="/preview")
        assert "240 values, from 1920-01-01" in summary and "(every month)" in summary, summary
        note = client.predict(upload, None, None, 0, api_name="/horizon_note")
        assert note == "Automatic horizon: 18 steps = 18 months."
