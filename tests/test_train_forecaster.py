"""The forecaster training script: data loading, loss goes down, exact resume, clear errors."""

import sadt  # noqa: F401  (first: fast BLAS before mlx.core)

# isort: split
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sadt.forecaster import Forecaster
from sadt.forecaster import data as fdata
from sadt.train import common
from sadt.train import forecaster as train

ROOT = Path(__file__).resolve().parents[1]

TINY_MODEL = dict(
    context_length=48,
    horizon=12,
    num_steps=4,
    encoder_dim=32,
    encoder_hidden=64,
    encoder_blocks=1,
    denoiser_dim=32,
    denoiser_hidden=64,
    denoiser_blocks=1,
    time_features=16,
    encoder_dropout=0.1,  # exercises the dropout RNG in the exact-resume test
)


@pytest.fixture
def sine_csv(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(600)
    a = 10 + 3 * np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=t.size)
    b = -5 + np.cos(2 * np.pi * t / 12) + 0.1 * rng.normal(size=t.size)
    lines = ["date,a,b,label"] + [f"2020-01-01 {i % 24:02d}:00,{a[i]:.5f},{b[i]:.5f},x" for i in t]
    path = tmp_path / "sine.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def config(tmp_path, csv, **overrides) -> train.TrainConfig:
    values = dict(
        out_dir=str(tmp_path / "run"),
        csv=[str(csv)],
        split="0:480",
        val_split="480:600",
        steps=8,
        batch_size=16,
        noise_per_context=2,
        time_draws=8,
        warmup_steps=2,
        log_every=1,
        val_every=4,
        checkpoint_every=100,
        val_windows=16,
        model=TINY_MODEL,
    )
    return train.TrainConfig.from_dict({**values, **overrides})


def test_csv_numeric_columns_are_series_and_split_keeps_train_rows(sine_csv, tmp_path):
    sampler, val = train.load_data(config(tmp_path, sine_csv))
    assert [s.size for s in sampler.series] == [480, 480]  # "date" and "label" are not numeric
    assert list(val) == ["sine"] and all(f.size == 12 for _, f in val["sine"])
    batch = sampler.sample(np.random.default_rng(0), 8)
    assert batch.context.shape == batch.mask.shape == (8, 48) and batch.future.shape == (8, 12)


def test_mixed_windows_are_normalized_like_plain_ones(sine_csv, tmp_path):
    sampler, _ = train.load_data(config(tmp_path, sine_csv, mixup_prob=1.0, short_context_prob=0))
    batch = sampler.sample(np.random.default_rng(0), 32)
    assert np.isfinite(batch.context).all() and np.isfinite(batch.future).all()
    for context, mask in zip(batch.context, batch.mask, strict=True):
        observed = context[mask > 0]  # windows near a series' start have shorter contexts
        assert abs(observed.mean()) < 1e-4 and abs(observed.std() - 1) < 1e-3


def test_wide_file_rows_are_ragged_series(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text('"V1","V2","V3","V4"\n"H1",1,2,3\n"H2",4,5,\n')
    assert [s.tolist() for s in fdata.read_wide_series(path)] == [[1, 2, 3], [4, 5]]


def test_training_a_tiny_model_on_a_sine_lowers_the_loss(sine_csv, tmp_path):
    cfg = config(tmp_path, sine_csv, steps=150, lr=3e-3, warmup_steps=10, val_every=150)
    history = train.Trainer(cfg).run(log=lambda _: None)
    losses = [r["loss"] for r in history]
    assert np.mean(losses[-20:]) < 0.6 * np.mean(losses[:10])
    model = Forecaster.load(tmp_path / "run")  # the final EMA weights
    assert model.sample(np.arange(48.0), 4, seed=0).shape == (4, 12)


def test_resume_continues_exactly_like_an_uninterrupted_run(sine_csv, tmp_path):
    # Dropout (TINY_MODEL) and mixup draw randomness too: all of it must resume exactly.
    mix = {"mixup_prob": 0.3}
    whole = train.Trainer(config(tmp_path / "a", sine_csv, **mix)).run(log=lambda _: None)
    first = train.Trainer(config(tmp_path / "b", sine_csv, stop_at=3, **mix)).run(
        log=lambda _: None
    )
    resumed = train.Trainer(config(tmp_path / "b", sine_csv, **mix))
    resumed.load_checkpoint()
    assert resumed.step == 3
    rest = resumed.run(log=lambda _: None)
    np.testing.assert_allclose(
        [r["loss"] for r in first + rest], [r["loss"] for r in whole], rtol=1e-6, atol=1e-7
    )
    a = Forecaster.load(tmp_path / "a" / "run")
    b = Forecaster.load(tmp_path / "b" / "run")
    np.testing.assert_allclose(
        a.sample(np.arange(48.0), 4, 0), b.sample(np.arange(48.0), 4, 0), rtol=1e-5, atol=1e-5
    )


def test_cli_overrides_the_yaml_and_reports_bad_input_with_exit_code_2(sine_csv, tmp_path, capsys):
    yaml_path = tmp_path / "c.yaml"
    yaml_path.write_text(f"csv: [{sine_csv}]\nsteps: 5\nmodel: {{horizon: 24}}\n")
    cfg, resume = train.parse_config(
        ["--config", str(yaml_path), "--steps", "7", "--model.context_length", "64", "--resume"]
    )
    assert (cfg.steps, cfg.model, resume) == (7, {"horizon": 24, "context_length": 64}, True)

    assert train.main(["--csv", str(tmp_path / "missing.csv")]) == 2
    assert "no such data file" in capsys.readouterr().err
    text = tmp_path / "text.csv"
    text.write_text("name,city\nann,paris\nbob,rome\n")
    assert train.main(["--csv", str(text)]) == 2
    assert "no numeric column" in capsys.readouterr().err
    assert train.main(["--csv", str(sine_csv), "--no-such-knob", "1"]) == 2
    assert "unknown training settings" in capsys.readouterr().err


def test_corrupted_or_mismatched_checkpoint_gives_one_clear_sentence(sine_csv, tmp_path, capsys):
    args = [
        "--csv",
        str(sine_csv),
        "--out-dir",
        str(tmp_path / "run"),
        "--steps",
        "2",
        "--batch-size",
        "8",
        "--model",
        json.dumps(TINY_MODEL),
    ]
    assert train.main(args) == 0
    capsys.readouterr()  # the progress bar
    other = json.dumps({**TINY_MODEL, "denoiser_dim": 16})
    assert train.main(args[:-1] + [other, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "different model config (denoiser_dim 32 there vs 16 now)" in err  # only what differs
    assert "encoder_dim" not in err and err.count("\n") == 1
    checkpoint = tmp_path / "run" / train.CHECKPOINT
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])
    assert train.main(args + ["--resume"]) == 2
    err = capsys.readouterr().err
    assert "checkpoint.safetensors" in err and "Traceback" not in err


def test_etth1_train_split_gives_seven_series_of_8640_rows(shared_data, tmp_path):
    cfg = train.TrainConfig.from_dict(
        dict(
            csv=[str(shared_data / "ETTh1.csv")],
            split=[0, 8640],
            val_split=[8640, 11520],
            model=TINY_MODEL,
        )
    )
    sampler, val = train.load_data(cfg)
    assert [s.size for s in sampler.series] == [8640] * 7
    assert len(val["ETTh1"]) == cfg.val_windows


# -- Ctrl-C, resume, overwrite, settings ------------------------------------------------------


def _sigint_at(step):
    """An `on_step` hook that sends this process a real SIGINT after `step`."""
    return lambda done: done == step and signal.raise_signal(signal.SIGINT)


def _log(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]


def test_ctrl_c_saves_the_current_step_and_resume_equals_an_uninterrupted_run(sine_csv, tmp_path):
    whole = config(tmp_path / "a", sine_csv, mixup_prob=0.3)
    train.Trainer(whole).run(log=lambda _: None)
    cut = config(tmp_path / "b", sine_csv, mixup_prob=0.3, log_every=2)
    with pytest.raises(common.Interrupted, match=r"interrupted at step 3; checkpoint saved to "):
        train.Trainer(cut).run(log=lambda _: None, on_step=_sigint_at(3))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    assert _log(tmp_path / "b" / "run")[-1]["step"] == 3  # the stop is logged, odd step or not
    resumed = train.Trainer(cut)
    resumed.load_checkpoint()
    assert resumed.step == 3
    resumed.run(log=lambda _: None)
    a, b = _log(tmp_path / "a" / "run"), _log(tmp_path / "b" / "run")
    assert [r["step"] for r in b] == [2, 3, 4, 6, 8]  # no step twice
    assert {r["step"]: r["loss"] for r in b} == {
        r["step"]: r["loss"] for r in a if r["step"] in (2, 3, 4, 6, 8)
    }
    x = np.arange(48.0)
    np.testing.assert_array_equal(
        Forecaster.load(tmp_path / "a" / "run").sample(x, 4, 0),
        Forecaster.load(tmp_path / "b" / "run").sample(x, 4, 0),
    )


def _cli_args(csv, out, *extra) -> list[str]:
    tiny = json.dumps(TINY_MODEL)
    return ["--csv", str(csv), "--out-dir", str(out), "--batch-size", "8", "--log-every", "1",
            "--model", tiny, *extra]  # fmt: skip


def test_sigint_from_outside_exits_130_with_one_line_and_resume_goes_on(sine_csv, tmp_path):
    out, err_file = tmp_path / "run", tmp_path / "stderr.txt"
    args = _cli_args(sine_csv, out, "--steps", "100000")  # far more than run before the signal
    with open(err_file, "w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "train.forecaster", *args], cwd=ROOT, stderr=err
        )
    try:
        deadline = time.monotonic() + 120
        log = out / "log.jsonl"
        while not log.exists() or log.read_text().count("\n") < 2:  # two whole records
            assert process.poll() is None and time.monotonic() < deadline, err_file.read_text()
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    finally:
        process.kill()
    err, step = err_file.read_text(), _log(out)[-1]["step"]
    assert process.returncode == 130, err
    lines = [line for line in err.splitlines() if line.startswith("interrupted")]
    resume = f"checkpoint saved to {out}; rerun with --resume to continue"
    assert lines == [f"interrupted at step {step}; {resume}"] and "Traceback" not in err
    assert common.checkpoint_metadata(out / train.CHECKPOINT, "sadt")["step"] == step
    # Forgetting --resume keeps the checkpoint; --resume continues from it (log not repeated).
    assert train.main(args) == 2
    assert common.checkpoint_metadata(out / train.CHECKPOINT, "sadt")["step"] == step
    assert train.main([*args, "--stop_at", str(step + 2), "--resume"]) == 0
    assert [r["step"] for r in _log(out)] == list(range(1, step + 3))


def test_without_resume_an_existing_checkpoint_is_refused_not_replaced(sine_csv, tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main(_cli_args(sine_csv, out, "--steps", "4")) == 0
    before = (out / train.CHECKPOINT).read_bytes()
    capsys.readouterr()
    assert train.main(_cli_args(sine_csv, out, "--steps", "2")) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {out} already holds a checkpoint at step 4; pass --resume to continue it or "
        "choose another out_dir\n"
    )
    assert (out / train.CHECKPOINT).read_bytes() == before


def test_resume_drops_log_records_written_after_the_checkpoint(sine_csv, tmp_path):
    # A run killed (not interrupted) at step 6 whose last checkpoint is at step 4.
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert train.main(_cli_args(sine_csv, whole, "--steps", "8")) == 0
    assert train.main(_cli_args(sine_csv, killed, "--steps", "8", "--stop_at", "4")) == 0
    later = (whole / "log.jsonl").read_text().splitlines()[4:6]
    with open(killed / "log.jsonl", "a") as f:
        f.write("\n".join(later) + '\n{"step": 7, "lo')  # and a torn last line
    assert train.main(_cli_args(sine_csv, killed, "--steps", "8", "--resume")) == 0
    assert [r["step"] for r in _log(killed)] == list(range(1, 9))
    assert [r["loss"] for r in _log(killed)] == [r["loss"] for r in _log(whole)]


@pytest.mark.parametrize(
    "override, message",
    [
        (["--checkpoint_every", "0"], "checkpoint_every must be >= 1, not 0"),
        (["--log_every", "0"], "log_every must be >= 1, not 0"),
        (["--val_every", "0"], "val_every must be >= 1, not 0"),
        (["--steps", "-5"], "steps must be >= 1, not -5"),
        (["--steps", "0"], "steps must be >= 1, not 0"),
        (["--batch_size", "0"], "batch_size must be >= 1, not 0"),
        (["--batch_size", "-4"], "batch_size must be >= 1, not -4"),
        (["--split", "5"], "split must look like '0:8640' or [0, 8640]"),
        (["--model.context_length", "8"], "min_context (32) must not exceed model.context_length"),
        (["--lr", "-1"], "lr must be > 0, not -1"),
        (["--mixup_prob", "1.5"], "mixup_prob must be between 0 and 1, not 1.5"),
        (["--source_weights", "3"], "source_weights must be a list of numbers"),
        (["--steps", "null"], "training setting steps must be a number, not empty (null)"),
        (["--split", "[0, .inf]"], "split must look like '0:8640' or [0, 8640]"),
        (["--csv", "5"], "csv must be a file path or a list of them, e.g. [a.csv, b.csv], not 5"),
        (["--wide", "[a.csv, 3]"], "wide must be a file path or a list of them"),
        (["--lr", ".nan"], "lr must be a finite number, not nan"),
        (["--weight_decay", ".nan"], "weight_decay must be a finite number, not nan"),
        (["--seed", "18446744073709551616"], "seed must be <= 4294967295"),
        (
            ["--synthetic_series", "4", "--synthetic_length", "1"],
            "synthetic_length (1) must be at least min_context + model.horizon (32 + 96)",
        ),
        (["--model", "5", "--model.horizon", "48"], "--model.horizon needs model to be a mapping"),
    ],
)
def test_bad_settings_are_one_sentence_naming_the_setting(
    sine_csv, tmp_path, capsys, override, message
):
    assert train.main(["--csv", str(sine_csv), "--out_dir", str(tmp_path / "run"), *override]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()  # nothing made, nothing trained


def test_a_bug_inside_training_keeps_its_traceback(sine_csv, tmp_path, monkeypatch):
    """Only settings mistakes become one-line errors: a ValueError raised by the code
    itself is a bug, and the exit-2 sentence would hide where it came from."""

    def broken(self, *args, **kwargs):
        raise ValueError("shapes (3,) and (4,) do not match")

    monkeypatch.setattr(train.Trainer, "run", broken)
    with pytest.raises(ValueError, match="do not match"):
        train.main(_cli_args(sine_csv, tmp_path / "run", "--steps", "2"))


def test_an_output_location_that_cannot_hold_files_fails_before_training(
    sine_csv, tmp_path, capsys
):
    taken = tmp_path / "a_file"
    taken.write_text("not a folder")
    assert train.main(_cli_args(sine_csv, taken, "--steps", "2")) == 2
    assert f"out_dir {taken} is a file, not a folder" in capsys.readouterr().err
    assert train.main(_cli_args(sine_csv, taken / "run", "--steps", "2")) == 2
    assert f"{taken} is a file" in capsys.readouterr().err
    assert taken.read_text() == "not a folder"


def test_a_second_ctrl_c_stops_at_once_without_saving(capsys):
    def body():
        with common.StopOnInterrupt() as stop:
            signal.raise_signal(signal.SIGINT)
            assert stop.requested()  # the first only asks the loop to stop at its next step
            signal.raise_signal(signal.SIGINT)  # the second does not wait
            raise AssertionError("not reached")

    assert common.run_main(body, (ValueError,)) == 130
    assert capsys.readouterr().err == (
        "interrupted; stopped without saving (earlier checkpoints are intact)\n"
    )
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_row_range_on_the_command_line_is_text_not_a_base_60_number(sine_csv, tmp_path):
    # YAML 1.1 reads an unquoted 10:20 as 620; no setting means a base-60 number.
    cfg, _ = train.parse_config(["--csv", str(sine_csv), "--split", "10:50", "--val_split",
                                 "1:30", "--model", json.dumps(TINY_MODEL)])  # fmt: skip
    assert (cfg.split, cfg.val_split) == ("10:50", "1:30")


def test_leaving_the_block_restores_sig_dfl():
    # SIG_DFL is 0: `previous or default_int_handler` put Python's handler in its place.
    previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        with common.StopOnInterrupt():
            assert signal.getsignal(signal.SIGINT) is not signal.SIG_DFL
        assert signal.getsignal(signal.SIGINT) == signal.SIG_DFL
    finally:
        signal.signal(signal.SIGINT, previous)


GENERAL = {**TINY_MODEL, "blend_bases": True, "scaled_residual": True}


def test_the_general_model_resumes_exactly_with_synthetic_and_short_windows(sine_csv, tmp_path):
    """KernelSynth series, futures shorter than the horizon, base forecasts, scaled residual:
    a stopped and resumed run equals an uninterrupted one, and a second run repeats it."""
    extra = dict(model=GENERAL, kernel_synth_series=20, min_future=4, min_context=8, mixup_prob=0.3)
    whole = train.Trainer(config(tmp_path / "a", sine_csv, **extra)).run(log=lambda _: None)
    again = train.Trainer(config(tmp_path / "c", sine_csv, **extra)).run(log=lambda _: None)
    first = train.Trainer(config(tmp_path / "b", sine_csv, stop_at=3, **extra)).run(
        log=lambda _: None
    )
    resumed = train.Trainer(config(tmp_path / "b", sine_csv, **extra))
    resumed.load_checkpoint()
    rest = resumed.run(log=lambda _: None)
    losses = [r["loss"] for r in whole]
    assert np.all(np.isfinite(losses))
    assert [r["loss"] for r in again] == losses  # deterministic for a seed
    np.testing.assert_allclose([r["loss"] for r in first + rest], losses, rtol=1e-6, atol=1e-7)


def test_the_corpus_trains_on_its_train_split_only(shared_data, tmp_path):
    corpus = shared_data / "corpus"
    groups = fdata.read_corpus(corpus)
    held = fdata.read_corpus(corpus, split="heldout")
    train_sizes = {v.size for g in groups.values() for v in g}
    assert sum(map(len, groups.values())) == 171 and sum(map(len, held.values())) == 70
    assert set(groups) >= {"minutes", "hourly", "daily", "weekly", "monthly", "yearly"}
    cfg = config(tmp_path, shared_data / "ETTh1.csv", corpus=str(corpus), split="0:8640")
    sampler, _ = train.load_data(cfg)
    used = {s.tobytes() for s in sampler.series}
    assert {s.size for s in sampler.series} & train_sizes  # corpus series are in the sampler
    for group in held.values():  # ... and no held-out one (B6's)
        for values in group:
            assert not any(seg.tobytes() in used for seg in fdata.clean_segments(values))
    with pytest.raises(fdata.DataError, match="MANIFEST"):
        fdata.read_corpus(tmp_path)


def test_corpus_aggregates_are_block_means_in_the_coarser_group(tmp_path):
    # Block means aligned to the end; a block with under half its points is missing.
    means = fdata.block_means(np.array([9.0, 1, 3, 5, 7, np.nan, np.nan, 2, 4]), 2)
    np.testing.assert_array_equal(means, [2.0, 6.0, np.nan, 3.0])
    series = tmp_path / "series"
    series.mkdir()
    rows = ["file,frequency,split"]
    for name, freq, n in (("m", "MS", 90), ("q", "QS", 40), ("held", "MS", 90)):
        values = np.arange(n, dtype=float)
        pd.DataFrame({"value": values}).to_csv(series / f"{name}.csv", index=False)
        rows.append(f"series/{name}.csv,{freq},{'heldout' if name == 'held' else 'train'}")
    (tmp_path / "MANIFEST.csv").write_text("\n".join(rows) + "\n")
    plain = fdata.read_corpus(tmp_path)
    grown = fdata.read_corpus(tmp_path, aggregate=True)
    assert {k: len(v) for k, v in plain.items()} == {"monthly": 1, "quarterly": 1}
    # The monthly series becomes a 30-quarter one; the 40-quarter one only 10 years (< 24
    # points, dropped); nothing comes from the held-out row.
    assert {k: len(v) for k, v in grown.items()} == {"monthly": 1, "quarterly": 2}
    np.testing.assert_array_equal(grown["quarterly"][0], np.arange(30) * 3 + 1.0)


def test_checkpoints_carry_a_format_version_and_newer_ones_are_refused(tmp_path):
    import mlx.core as mx

    from sadt.errors import ModelFileError
    from sadt.files import FORMAT_VERSION

    path = tmp_path / "checkpoint.safetensors"
    common.write_checkpoint(path, {"model.w": mx.ones(3)}, {"step": 7, "config": {}}, "forecaster")
    arrays, meta = common.read_checkpoint(path, "forecaster", needs=("config",))
    assert meta["format_version"] == FORMAT_VERSION and meta["step"] == 7
    assert meta["kind"] == "forecaster"
    assert np.array_equal(np.array(arrays["model.w"]), np.ones(3))
    for kind, needs in (("value", ()), ("describer", ("progress",))):
        with pytest.raises(ModelFileError, match=f"is not a sadt {kind} training checkpoint "
                           r"\(it was written by train.forecaster\)"):  # fmt: skip
            common.read_checkpoint(path, kind, needs=needs)
    common.write_checkpoint(path, {}, {"format_version": FORMAT_VERSION + 1}, "forecaster")
    with pytest.raises(ModelFileError, match="upgrade sadt to resume it"):
        common.read_checkpoint(path, "forecaster")


def test_checkpoints_written_before_the_kind_was_recorded_still_read(tmp_path):
    import json

    import mlx.core as mx

    from sadt.errors import ModelFileError

    path = tmp_path / "checkpoint.safetensors"
    # The describer's trainer kept its metadata under its own entry before.
    old_describer = {"sadt_checkpoint": json.dumps({"version": 1, "progress": {}, "config": {}})}
    mx.save_safetensors(str(path), {"x": mx.zeros(1)}, old_describer)
    _, meta = common.read_checkpoint(path, "describer", needs=("progress", "config"))
    assert meta["progress"] == {}
    with pytest.raises(ModelFileError, match="not a sadt forecaster training checkpoint"):
        common.read_checkpoint(path, "forecaster")
    # Value checkpoints without a kind are told from forecaster ones by their model_config.
    mx.save_safetensors(str(path), {}, {"sadt": json.dumps({"step": 1, "model_config": {}})})
    assert common.read_checkpoint(path, "value")[1]["step"] == 1
    with pytest.raises(ModelFileError, match=r"\(it was written by train.value\)"):
        common.read_checkpoint(path, "forecaster", needs=("config",))
