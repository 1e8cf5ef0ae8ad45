"""The Pipeline: forecasts in original units with timestamps, every method, clear errors,
save/load round trips, corrupted folders, predict_df and the CLI."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from tiny_models import hourly_csv, tiny_pipeline

import sadt
from sadt import cli
from sadt.errors import BaseLLMError, MissingModelFile, ModelFileError
from sadt.hub import HubError
from sadt.methods import late_branching
from sadt.pipeline import Pipeline, SearchSettings


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    return tiny_pipeline(tmp_path_factory.mktemp("pipe"))


@pytest.fixture(scope="module")
def saved(pipe, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved") / "pipeline"
    pipe.save_pretrained(folder)
    return folder


@pytest.fixture
def csv(tmp_path):
    return hourly_csv(tmp_path / "load.csv")


def test_forecast_is_in_original_units_with_continued_timestamps(pipe, csv):
    fc = pipe.forecast(csv, horizon=16, method="dts", budget=120, num_samples=10, seed=1)
    assert fc.samples.shape == (10, 16) and fc.chosen.shape == (16,) and fc.median.shape == (16,)
    assert fc.nfe <= 120
    assert np.all(np.diff(fc.quantiles, axis=0) >= -1e-9)  # quantiles ordered
    assert 0 < np.median(fc.samples) < 200  # near the series' level (~20), not z-scores
    frame = fc.to_dataframe()
    assert list(frame.columns[:2]) == ["timestamp", "mean"] and "0.1" in frame and "0.9" in frame
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2024-01-01") + pd.Timedelta(hours=300)
    assert (frame["timestamp"].diff().dropna() == pd.Timedelta(hours=1)).all()
    assert {"tree_size", "spec_w1", "spec_w1_chosen"} <= set(fc.stats)


def test_array_input_gets_steps_instead_of_timestamps(pipe):
    fc = pipe.forecast(np.sin(np.arange(100) / 4.0) + 3, horizon=8, method="ancestral", budget=60)
    frame = fc.to_dataframe()
    assert frame["step"].tolist() == list(range(100, 108))


@pytest.mark.parametrize(
    "method", ["ancestral", "best_of_n", "smc", "dts", "dts_star", "sadt", "sadt_smc"]
)
def test_every_method_runs_within_budget_and_reproduces(pipe, csv, method):
    a = pipe.forecast(csv, horizon=12, method=method, budget=90, num_samples=6, seed=3)
    b = pipe.forecast(csv, horizon=12, method=method, budget=90, num_samples=6, seed=3)
    assert a.nfe <= 90
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.method == method


def test_progress_reports_fractions(pipe, csv):
    seen = []
    pipe.forecast(csv, horizon=8, budget=60, progress=lambda f, text: seen.append(f))
    assert seen and 0 < seen[-1] <= 1.0 and seen == sorted(seen)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "magic"}, "unknown method 'magic'.*available: dts, dts_star"),
        ({"horizon": 5000}, "horizon must be a whole number from 1 to 2000"),
        ({"horizon": 0}, "horizon must be"),
        ({"horizon": 24, "budget": 2}, "budget must be a whole number of denoiser calls from 6"),
        ({"horizon": 25, "budget": 6}, r"from 12 \(one sample of 25 steps\)"),
        ({"budget": 10**9}, "budget must be"),
        ({"gamma": -1.0}, "gamma must be a number between 0 and 100"),
        ({"gamma": "1"}, "gamma must be a number between 0 and 100, got '1'"),
        ({"lam": 0.0}, "lam must be a number above 0"),
        ({"lam": "3"}, "lam must be a number above 0 and at most 100, got '3'"),
        ({"lam": None}, "lam must be a number"),
        ({"num_samples": 0}, "num_samples must be"),
        ({"seed": -1}, "seed must be a whole number from 0"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"band_weights": (0, 0, 0)}, "band weights must be three numbers"),
        ({"band_weights": (1, 2)}, "band weights"),
        ({"band_weights": ("1", 1, 1)}, "band weights must be three numbers"),
        ({"band_weights": "abc"}, "band weights must be three numbers"),
    ],
)
def test_bad_parameters_get_one_clear_sentence(pipe, csv, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipe.forecast(csv, **kwargs)


def test_sadt_methods_need_a_value_network(tmp_path, csv):
    plain = tiny_pipeline(tmp_path, with_value=False)
    assert "sadt" not in plain.methods
    with pytest.raises(ValueError, match="S-ADT methods need a value network"):
        plain.forecast(csv, method="sadt")


def test_describe_returns_text_and_streams(pipe, csv):
    # An untrained describer writes arbitrary tokens: what is checked is the plumbing.
    text = pipe.describe(csv, max_tokens=12)
    assert isinstance(text, str) and "[" not in text  # slots filled, whatever was written
    assert text == "".join(pipe.stream_describe(csv, max_tokens=12))
    answer = "".join(pipe.stream_describe(csv, "Is there a trend?", max_tokens=8))
    assert isinstance(answer, str) and "[" not in answer


def test_describe_forecast_reads_the_forecast(pipe, csv):
    forecast = pipe.forecast(csv, horizon=12, method="ancestral", budget=64, seed=1)
    text = pipe.describe_forecast(forecast, max_tokens=12)
    assert isinstance(text, str)
    assert text == "".join(pipe.stream_describe_forecast(forecast, max_tokens=12)).strip()


def test_save_then_load_gives_identical_forecasts(pipe, saved, csv):
    loaded = Pipeline.from_pretrained(saved)
    a = pipe.forecast(csv, horizon=12, method="dts", budget=80, seed=5)
    b = loaded.forecast(csv, horizon=12, method="dts", budget=80, seed=5)
    np.testing.assert_allclose(a.samples, b.samples, rtol=1e-6)
    assert loaded.value is not None and loaded.tslm is not None
    assert pipe.describe(csv, max_tokens=10) == loaded.describe(csv, max_tokens=10)
    card = (saved / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: mlx\npipeline_tag: time-series-forecasting\n")
    assert "base_model: mlx-community/Llama-3.2-1B-Instruct-4bit" in card


def test_only_json_and_safetensors_are_written(saved):
    suffixes = {p.suffix for p in saved.rglob("*") if p.is_file()}
    assert suffixes <= {".json", ".safetensors", ".md", ".txt", ".jinja"}, suffixes


def _broken(saved, tmp_path, breaker):
    folder = tmp_path / "broken"
    shutil.copytree(saved, folder)
    breaker(folder)
    return folder


def test_missing_part_folder_names_it(saved, tmp_path):
    folder = _broken(saved, tmp_path, lambda f: shutil.rmtree(f / "forecaster"))
    with pytest.raises(ModelFileError, match="forecaster"):
        Pipeline.from_pretrained(folder)


def test_truncated_weights_name_the_file(saved, tmp_path):
    def truncate(folder):
        weights = folder / "forecaster" / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:1000])

    with pytest.raises(ModelFileError, match="forecaster/model.safetensors"):
        Pipeline.from_pretrained(_broken(saved, tmp_path, truncate))


def test_newer_format_version_says_upgrade(saved, tmp_path):
    def bump(folder):
        config = json.loads((folder / "config.json").read_text())
        config["format_version"] = 99
        (folder / "config.json").write_text(json.dumps(config))

    with pytest.raises(ModelFileError, match="format version 99.*upgrade"):
        Pipeline.from_pretrained(_broken(saved, tmp_path, bump))


def test_shape_mismatch_names_the_file(saved, tmp_path):
    def widen(folder):
        config = json.loads((folder / "forecaster" / "config.json").read_text())
        config["denoiser_hidden"] = 48
        (folder / "forecaster" / "config.json").write_text(json.dumps(config))

    with pytest.raises(ModelFileError, match="model.safetensors does not match its config"):
        Pipeline.from_pretrained(_broken(saved, tmp_path, widen))


def test_pickles_are_never_loaded(saved, tmp_path):
    def plant(folder):
        (folder / "forecaster" / "model.safetensors").unlink()
        (folder / "forecaster" / "model.pkl").write_bytes(b"\x80\x04K\x01.")

    with pytest.raises(MissingModelFile, match="model.safetensors"):
        Pipeline.from_pretrained(_broken(saved, tmp_path, plant))


def test_unknown_source_is_a_clear_error(tmp_path):
    with pytest.raises(HubError, match="neither an existing folder nor a Hub id"):
        Pipeline.from_pretrained("not a repo!")
    with pytest.raises(HubError, match="not in the local Hugging Face cache"):
        Pipeline.from_pretrained("nobody/not-cached-anywhere")


def test_predict_df_forecasts_each_series(pipe):
    rows = []
    for item, shift in (("a", 0.0), ("b", 50.0)):
        for i in range(120):
            rows.append(
                {
                    "item_id": item,
                    "timestamp": pd.Timestamp("2024-01-01") + pd.Timedelta(hours=i),
                    "target": shift + np.sin(i / 3.0) + 0.01 * i,
                }
            )
    out = pipe.predict_df(pd.DataFrame(rows), horizon=8, method="ancestral", budget=60)
    assert out.groupby("item_id").size().to_dict() == {"a": 8, "b": 8}
    assert out[out.item_id == "b"]["0.5"].mean() > out[out.item_id == "a"]["0.5"].mean() + 20


def test_cli_forecast_writes_csv_and_errors_exit_2(saved, csv, tmp_path, capsys):
    out = tmp_path / "fc.csv"
    code = cli.main(
        [
            "forecast",
            str(csv),
            "--model",
            str(saved),
            "--horizon",
            "12",
            "--budget",
            "60",
            "--out",
            str(out),
        ]
    )
    assert code == 0 and len(pd.read_csv(out)) == 12
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\nx,y\n")
    assert cli.main(["forecast", str(bad), "--model", str(saved)]) == 2
    assert "error:" in capsys.readouterr().err
    assert cli.main(["describe", str(csv), "--model", str(saved)]) == 0


def test_read_series_is_exported():
    assert sadt.read_series([1.0, 2.0] * 20).values.shape == (40,)


def test_half_precision_bundle_stores_float16_and_computes_in_float32(saved, csv, tmp_path):
    import mlx.core as mx
    from mlx.utils import tree_flatten

    from sadt.train import push

    out = tmp_path / "half"
    parts = [f"--{name}={saved / name}" for name in ("forecaster", "tslm", "value")]
    assert push.main([*parts, "--out", str(out), "--half"]) == 0
    stored = mx.load(str(out / "forecaster" / "model.safetensors"))
    assert {v.dtype for v in stored.values()} == {mx.float16}  # half the bytes on disk
    full, half = Pipeline.from_pretrained(saved), Pipeline.from_pretrained(out)
    for part in (half.forecaster, half.value):
        assert {v.dtype for _, v in tree_flatten(part.parameters())} == {mx.float32}
    a = full.forecast(csv, horizon=12, method="ancestral", budget=80, seed=3)
    b = half.forecast(csv, horizon=12, method="ancestral", budget=80, seed=3)
    # float16 rounding of the weights only: the same forecast to well under 1% of its scale.
    scale = np.abs(a.samples).max()
    assert np.abs(a.samples - b.samples).max() < 0.01 * scale
    assert not np.array_equal(a.samples, b.samples)  # the stored weights really changed


def test_dts_star_searches_on_late_branching_levels(pipe, csv):
    """DTS* branches only at new samples and the last steps; the other methods at every step."""
    steps = pipe.forecaster.config.num_steps
    star = pipe.forecast(csv, horizon=12, method="dts_star", budget=90, seed=0)
    dts = pipe.forecast(csv, horizon=12, method="dts", budget=90, seed=0)
    # "depth" counts branching levels: S, 3, 2, 0 here; every step but the noiseless 1 there.
    assert star.stats["depth"] == len(late_branching(steps)) == 4
    assert dts.stats["depth"] == steps


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"batch": "big"}, "search setting batch must be a number, not 'big'"),
        ({"bach": 16}, r"unknown search settings \['bach'\]"),
        ({"batch": -2}, "batch must be a whole number >= 0"),
        ({"batch": True}, "batch must be a whole number"),
        ({"widen_alpha": 1.5}, "widen_alpha must be a number between 0 and 1"),
        ({"prior_visits": None}, "prior_visits must be a number"),
        ({"branch_every": 99}, "branch_every must be at most the forecaster's 6 steps"),
        ([16], "search settings must be a mapping"),
    ],
)
def test_search_settings_in_config_json_are_checked(saved, tmp_path, search, message):
    def rewrite(folder):
        config = json.loads((folder / "config.json").read_text())
        config["search"] = search
        (folder / "config.json").write_text(json.dumps(config))

    with pytest.raises(ModelFileError, match=f"config.json: .*{message}"):
        Pipeline.from_pretrained(_broken(saved, tmp_path, rewrite))


def test_search_settings_in_text_form_still_load(saved, tmp_path):
    def rewrite(folder):  # YAML 1.1 and hand edits write numbers as text: same rule as training
        config = json.loads((folder / "config.json").read_text())
        config["search"] = {"batch": "16", "widen_c": "1.5"}
        (folder / "config.json").write_text(json.dumps(config))

    search = Pipeline.from_pretrained(_broken(saved, tmp_path, rewrite)).search
    assert (search.batch, search.widen_c) == (16, 1.5)


def test_search_settings_refuse_bad_values_in_python():
    with pytest.raises(ValueError, match="search setting branch_every must be a whole number"):
        SearchSettings(branch_every=0)


def test_truncated_embedded_llm_is_a_model_file_error_naming_it(saved, tmp_path):
    def truncate(folder):
        weights = folder / "tslm" / "llm" / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:5000])

    folder = _broken(saved, tmp_path, truncate)
    with pytest.raises(ModelFileError, match="tslm/llm/model.safetensors is truncated") as err:
        Pipeline.from_pretrained(folder)
    assert isinstance(err.value, BaseLLMError)
    # forecasting does not need the describer
    assert Pipeline.from_pretrained(folder, describer=False).tslm is None


def test_missing_embedded_llm_is_named_not_looked_up_on_the_hub(saved, tmp_path):
    folder = _broken(saved, tmp_path, lambda f: shutil.rmtree(f / "tslm" / "llm"))
    with pytest.raises(ModelFileError, match=r"tslm/llm is missing") as err:
        Pipeline.from_pretrained(folder)
    assert "LocalEntryNotFoundError" not in str(err.value)


def test_missing_value_weights_are_a_model_file_error(saved, tmp_path):
    folder = _broken(saved, tmp_path, lambda f: (f / "value" / "model.safetensors").unlink())
    with pytest.raises(ModelFileError, match="value/model.safetensors"):
        Pipeline.from_pretrained(folder)


def test_value_network_for_other_inputs_is_refused(saved, tmp_path):
    from sadt.value import ValueConfig, ValueNetwork

    def replace_value(folder):  # a consistent folder, shaped for a toy chain
        shutil.rmtree(folder / "value")
        ValueNetwork(ValueConfig(feature_dim=3, weight_dim=2, hidden=8)).save(folder / "value")

    with pytest.raises(ModelFileError, match="value/config.json has feature_dim 3"):
        Pipeline.from_pretrained(_broken(saved, tmp_path, replace_value))


def test_a_card_without_metrics_is_valid_hub_metadata(pipe):
    import yaml

    from sadt.hub import render_model_card
    from sadt.pipeline import Pipeline

    bare = Pipeline(pipe.forecaster, card={"model_name": "bare"})
    front = yaml.safe_load(render_model_card(bare).split("---")[1])
    assert "model-index" not in front and front["library_name"] == "mlx"
    assert "(not measured yet)" in render_model_card(bare)


def test_forecast_timestamps_of_mid_month_data_stay_on_their_day():
    from sadt.pipeline import future_timestamps

    stamps = pd.date_range("2010-01-01", periods=30, freq="MS") + pd.Timedelta(days=14)
    series = sadt.read_series(pd.DataFrame({"date": stamps, "v": np.arange(30.0) % 7}))
    future = future_timestamps(series, 3)
    assert list(future) == list(pd.to_datetime(["2012-07-15", "2012-08-15", "2012-09-15"]))
