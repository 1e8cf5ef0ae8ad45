"""The command lines (`sadt`, `python -m train.push`): user mistakes are one sentence and
exit code 2, found before the work is done; nothing is written where it should not be."""

import io
import json
import shutil

import mlx.core as mx
import pandas as pd
import pytest
from tiny_models import hourly_csv, tiny_forecaster, tiny_pipeline

from sadt import cli
from sadt.train import push


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved") / "pipeline"
    tiny_pipeline(tmp_path_factory.mktemp("parts")).save_pretrained(folder)
    return folder


@pytest.fixture
def csv(tmp_path):
    return hourly_csv(tmp_path / "load.csv")


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one line, no traceback
    return err


def _forecast(csv, saved, *args):
    return cli.main(["forecast", str(csv), "--model", str(saved), "--budget", "60", *args])


def test_forecast_out_in_a_missing_folder_is_refused(saved, csv, tmp_path, capsys):
    out = tmp_path / "no" / "dir" / "fc.csv"
    assert _forecast(csv, saved, "--out", str(out)) == 2
    assert f"the folder {out.parent} does not exist" in _error(capsys)
    assert not out.parent.exists()


def test_forecast_out_that_is_a_folder_is_refused(saved, csv, tmp_path, capsys):
    assert _forecast(csv, saved, "--out", str(tmp_path)) == 2
    assert "is a folder; give a file name" in _error(capsys)


def test_negative_seed_names_the_flag(saved, csv, capsys):
    with pytest.raises(SystemExit) as exit_:
        _forecast(csv, saved, "--seed", "-1")
    assert exit_.value.code == 2
    assert "argument --seed: must be a whole number >= 0" in capsys.readouterr().err


def test_forecast_help_lists_the_methods_and_the_horizon_default(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["forecast", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for method in ("ancestral", "best_of_n", "smc", "dts_star", "sadt", "sadt_smc"):
        assert method in text
    assert "default: by the series' frequency" in text


def _copy(saved, tmp_path, breaker):
    folder = tmp_path / "broken"
    shutil.copytree(saved, folder)
    breaker(folder)
    return folder


def _truncate_llm(folder):
    weights = folder / "tslm" / "llm" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])


def test_describe_with_a_truncated_base_llm_is_one_sentence(saved, csv, tmp_path, capsys):
    folder = _copy(saved, tmp_path, _truncate_llm)
    assert cli.main(["describe", str(csv), "--model", str(folder)]) == 2
    assert "tslm/llm/model.safetensors is truncated" in _error(capsys)


def test_describe_with_a_missing_base_llm_names_the_folder(saved, csv, tmp_path, capsys):
    folder = _copy(saved, tmp_path, lambda f: shutil.rmtree(f / "tslm" / "llm"))
    assert cli.main(["describe", str(csv), "--model", str(folder)]) == 2
    err = _error(capsys)
    assert f"{folder}/tslm/llm is missing" in err and "LocalEntryNotFound" not in err


# -- train.push -------------------------------------------------------------------------------
def _push(saved, *args, parts=("forecaster", "tslm", "value")):
    return push.main([*(f"--{name}={saved / name}" for name in parts), *args])


def test_push_refuses_an_existing_file_as_out(saved, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    assert _push(saved, "--out", str(taken)) == 2
    assert "is a file, not a folder" in _error(capsys)
    assert taken.read_text() == "mine"


def test_push_with_a_broken_describer_is_one_sentence(saved, tmp_path, capsys):
    folder = _copy(saved, tmp_path, lambda f: shutil.rmtree(f / "tslm" / "llm"))
    assert _push(folder, "--out", str(tmp_path / "out")) == 2
    assert "tslm/llm is missing" in _error(capsys)
    assert not (tmp_path / "out").exists()


def _value_trained_for(saved, tmp_path, forecaster: str):
    """A value folder as train.value leaves it: the network plus its training checkpoint."""
    value = tmp_path / "value"
    shutil.copytree(saved / "value", value)
    meta = {"step": 1, "config": {"forecaster": forecaster}}
    mx.save_safetensors(
        str(value / "checkpoint.safetensors"), {"model.x": mx.zeros(1)}, {"sadt": json.dumps(meta)}
    )
    return value


def test_push_refuses_a_value_network_trained_for_another_forecaster(saved, tmp_path, capsys):
    other = tiny_forecaster(seed=7).save(tmp_path / "other-forecaster")
    value = _value_trained_for(saved, tmp_path, str(other))
    out = tmp_path / "out"
    args = [f"--value={value}", "--out", str(out)]
    assert _push(saved, *args, parts=("forecaster",)) == 2
    assert f"was trained for the forecaster in {other}, not" in _error(capsys)
    assert not out.exists()
    assert push.main([f"--forecaster={other}", *args]) == 0  # its own forecaster is fine


def test_push_accepts_a_copy_of_the_forecaster_the_value_network_names(saved, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(saved / "forecaster", copy)
    value = _value_trained_for(saved, tmp_path, str(copy))
    assert (
        _push(saved, f"--value={value}", "--out", str(tmp_path / "o"), parts=("forecaster",)) == 0
    )


def test_push_refuses_a_toy_chain_value_network(saved, tmp_path, capsys):
    value = _value_trained_for(saved, tmp_path, "toy-1d")
    assert (
        _push(saved, f"--value={value}", "--out", str(tmp_path / "o"), parts=("forecaster",)) == 2
    )
    assert "toy-1d toy chain" in _error(capsys)


def test_push_notes_when_the_forecaster_cannot_be_checked(saved, tmp_path, capsys):
    assert _push(saved, "--out", str(tmp_path / "o")) == 0
    assert "only its input sizes were checked" in capsys.readouterr().err


def _results(tmp_path, model: str):
    folder = tmp_path / "results"
    folder.mkdir(parents=True)
    rows = [{"method": "sadt diffusion", "crps": 0.31234567, "mse": 0.4, "mae": 0.5}]
    record = {"benchmark": "B1", "model": model, "rows": rows}
    (folder / "forecast_etth1.json").write_text(json.dumps(record))
    return folder


def _card(out) -> dict:
    return json.loads((out / "config.json").read_text())["card"]


def test_push_card_has_no_metrics_unless_asked(saved, tmp_path):
    out = tmp_path / "my-model"
    assert _push(saved, "--out", str(out)) == 0
    card = _card(out)
    assert card["metrics"] == {} and card["model_name"] == "my-model"  # not "sadt-tiny"
    assert "(not measured yet)" in (out / "README.md").read_text()


def test_push_card_takes_only_metrics_measured_on_this_forecaster(saved, tmp_path, capsys):
    mine = _results(tmp_path / "a", str(saved / "forecaster"))
    out = tmp_path / "out"
    assert _push(saved, "--out", str(out), "--metrics", str(mine)) == 0
    assert _card(out)["metrics"] == {"ETTh1": {"crps": 0.3123, "mse": 0.4, "mae": 0.5}}

    theirs = _results(tmp_path / "b", "checkpoints/some-other-forecaster")
    assert _push(saved, "--out", str(out), "--metrics", str(theirs)) == 0
    assert _card(out)["metrics"] == {}
    assert "skip forecast_etth1.json (measured 'checkpoints/some-other-forecaster'" in (
        capsys.readouterr().err
    )


def test_push_metrics_must_be_a_folder(saved, tmp_path, capsys):
    assert _push(saved, "--out", str(tmp_path / "o"), "--metrics", str(tmp_path / "nope")) == 2
    assert "is not a folder of benchmark JSONs" in _error(capsys)


@pytest.mark.parametrize("repo", ["bad id!/x", "a/b/c", "user/", "user/x--y"])
@pytest.mark.parametrize("out", [True, False])
def test_push_refuses_a_bad_repo_id_before_any_work(saved, tmp_path, capsys, repo, out):
    # The Hub client's own check failed only at the push, as a traceback; "user/" without
    # --out crashed naming the model after the missing folder.
    args = ["--out", str(tmp_path / "out")] if out else []
    assert _push(saved, *args, "--repo", repo) == 2
    assert f"{repo!r} is not a Hub repo id like 'user/sadt-model'" in _error(capsys)
    assert not (tmp_path / "out").exists()


def test_push_names_an_unreadable_value_checkpoint(saved, tmp_path, capsys):
    value = _value_trained_for(saved, tmp_path, "checkpoints/forecaster")
    checkpoint = value / "checkpoint.safetensors"
    checkpoint.write_bytes(checkpoint.read_bytes()[:20])
    assert (
        _push(saved, f"--value={value}", "--out", str(tmp_path / "o"), parts=("forecaster",)) == 2
    )
    assert f"{checkpoint} is not a readable value-network checkpoint" in _error(capsys)


def test_forecast_backtests_first_and_writes_paths_and_history(saved, csv, tmp_path, capsys):
    out, paths = tmp_path / "fc.csv", tmp_path / "paths.csv"
    code = _forecast(
        csv,
        saved,
        "--horizon",
        "12",
        "--backtest",
        "2",
        "--history",
        "--out",
        str(out),
        "--paths",
        str(paths),
        "--samples",
        "3",
        "--method",
        "ancestral",
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "Backtest on the last 2 stretches of 12 steps" in captured.err
    assert "seasonal naive (a season of 24 steps)" in captured.err
    frame = pd.read_csv(out)
    assert frame["series"].nunique() == 1 and frame["observed"].notna().sum() == 300
    assert len(frame) == 312 and frame["0.5"].notna().sum() == 12
    assert len(pd.read_csv(paths)) == 3 * 12


def test_a_too_short_series_for_its_backtest_is_one_sentence(saved, tmp_path, capsys):
    short = tmp_path / "short.csv"
    short.write_text("value\n" + "".join(f"{v}\n" for v in (1, 3, 2, 5, 4, 6, 5, 8, 7)))
    assert _forecast(short, saved, "--backtest", "3") == 2
    assert "a backtest needs at least 11" in _error(capsys)


def test_ctrl_c_asks_the_search_to_stop_and_a_second_one_interrupts():
    import os
    import signal

    with cli.stop_on_ctrl_c() as asked:
        os.kill(os.getpid(), signal.SIGINT)
        assert asked.is_set()  # the first: a request to stop, no KeyboardInterrupt
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_forecast_describe_prints_the_words_on_stderr_and_the_csv_on_stdout(csv, capsys):
    """With the bundled model: the describer's words about the forecast go to stderr."""
    code = cli.main(
        ["forecast", str(csv), "--horizon", "24", "--method", "ancestral", "--samples", "4",
         "--describe"]
    )  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "forecast" in captured.err.lower() and "band" in captured.err
    assert "[" not in captured.err
    frame = pd.read_csv(io.StringIO(captured.out))
    assert len(frame) == 24 and "0.5" in frame.columns


def test_forecast_after_an_outage_notes_what_was_left_out(saved, tmp_path, capsys):
    frame = pd.read_csv(hourly_csv(tmp_path / "load.csv"))
    frame.loc[100:139, frame.columns[-1]] = float("nan")  # 40 hours lost; 160 follow
    frame.to_csv(tmp_path / "outage.csv", index=False)
    assert _forecast(tmp_path / "outage.csv", saved, "--horizon", "8") == 0
    captured = capsys.readouterr()
    assert "note: the 140 rows before a gap too long to fill were left out" in captured.err
    assert len(pd.read_csv(io.StringIO(captured.out))) == 8


# -- sadt train ------------------------------------------------------------------------------------
def test_sadt_train_runs_the_installed_trainer(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["train", "value", "--help"])
    assert done.value.code == 0
    assert "usage: sadt train value" in capsys.readouterr().out


def test_sadt_train_names_the_trainers_when_one_is_unknown(capsys):
    assert cli.main(["train", "forcaster"]) == 2
    assert _error(capsys) == (
        "error: no trainer 'forcaster'; pick one of forecaster, value, tslm, tiny_llama, push\n"
    )
    assert cli.main(["train"]) == 2
    assert "usage: sadt train {forecaster,value,tslm,tiny_llama,push}" in capsys.readouterr().out


def test_sadt_train_passes_settings_through(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "forecaster", "--out_dir", str(out), "--steps", "0"]) == 2
    assert "steps" in _error(capsys)  # the trainer's own one-sentence check, not argparse's


def test_five_yearly_values_forecast_as_random_walks_and_say_so(saved, tmp_path, capsys):
    short = tmp_path / "visitors.csv"
    short.write_text("year,visitors\n2019,50\n2020,70\n2021,60\n2022,90\n2023,100\n")
    assert _forecast(short, saved, "--horizon", "3") == 0
    captured = capsys.readouterr()
    assert "5 values are too few for the model" in captured.err
    frame = pd.read_csv(io.StringIO(captured.out))
    assert len(frame) == 3 and frame["timestamp"].iloc[0].startswith("2024")
    assert (frame["0.1"] <= frame["0.5"]).all() and (frame["0.5"] <= frame["0.9"]).all()
    assert cli.main(["describe", str(short), "--model", str(saved)]) == 2  # words need 8
    assert "at least 8" in _error(capsys)
