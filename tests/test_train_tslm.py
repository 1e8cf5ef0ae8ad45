"""train/tslm.py: a tiny curriculum run end to end, exact resume, deterministic batches,
user CSV pairs, and bad input as one sentence with exit code 2."""

import sadt  # noqa: F401  (fast BLAS before mlx.core)

# isort: split
import json
import signal

import mlx.core as mx
import numpy as np
import pandas as pd
import pytest
import yaml

from sadt.describer.data import (
    DataError,
    ExampleSource,
    read_pairs_csv,
    synthetic_examples,
    text_of_example,
)
from sadt.describer.model import TSLM
from sadt.train import common
from sadt.train import tslm as train_tslm
from sadt.train.tiny_llama import TinyLlamaConfig, build

TINY_LLM = TinyLlamaConfig(
    hidden_size=48, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
    intermediate_size=96, vocab_size=400, max_position_embeddings=512,
)  # fmt: skip


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    texts = synthetic_examples(60, seed=5, tasks=("caption", "mcq"))
    folder = tmp_path_factory.mktemp("base") / "tiny"
    return build(folder, [text_of_example(e) for e in texts], TINY_LLM)


def config_file(tmp_path, base, **changes) -> str:
    config = {
        "base_model": str(base),
        "out": str(tmp_path / "describer"),
        "checkpoint": str(tmp_path / "ckpt.safetensors"),
        "batch_size": 3,
        "val_examples": 3,
        "val_every": 2,
        "checkpoint_every": 2,
        "report_every": 2,
        "synthetic": {"min_length": 64, "max_length": 96},
        "encoder_warmup_steps": 3,
        "encoder_warmup_batch_size": 4,
        "model": {
            "encoder": {
                "patch_size": 8,
                "stride": 8,
                "channels": 16,
                "num_layers": 1,
                "num_heads": 2,
                "ff_dims": 32,
                "max_patches": 16,
            },  # fmt: skip
            "lora": {"rank": 2, "scale": 4.0},
        },
        "stages": [
            {"name": "mcq", "tasks": {"mcq": 1.0}, "steps": 3, "warmup": 1},
            {"name": "captions", "tasks": {"caption": 0.5, "mcq": 0.5}, "steps": 3, "warmup": 1},
        ],
    } | changes
    file = tmp_path / "config.yaml"
    file.write_text(yaml.safe_dump(config))
    return str(file)


def trained_weights(folder) -> dict:
    return {k: np.array(v) for k, v in mx.load(str(folder / "model.safetensors")).items()}


def test_a_curriculum_run_saves_a_describer_and_a_full_checkpoint(base, tmp_path):
    assert train_tslm.main(["--config", config_file(tmp_path, base)]) == 0
    describer = TSLM.load(tmp_path / "describer")
    assert isinstance(describer.describe(np.sin(np.arange(80) / 3.0), max_tokens=5), str)
    arrays, meta = train_tslm.read_checkpoint(tmp_path / "ckpt.safetensors")
    assert meta["progress"]["stage"] == 1 and meta["progress"]["step"] == 3
    assert meta["progress"]["encoder_warmed_up"]
    assert set(meta["progress"]["encoder_warmup_accuracy"]) >= {"trend", "noise", "period"}
    assert any(k.startswith("optimizer.") for k in arrays)
    assert any(k.startswith("model.encoder.") for k in arrays)
    assert not list(tmp_path.glob("*.tmp*"))  # atomic writes leave no temp files
    saved = json.loads((tmp_path / "describer" / "config.json").read_text())
    assert saved["sadt_class"] == "TSLM" and saved["base_model"] == "llm"


def test_init_from_fine_tunes_a_trained_describer(base, tmp_path, capsys):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    assert train_tslm.main(["--config", config_file(first, base)]) == 0
    trained = trained_weights(first / "describer")
    # Zero steps of training: the run's describer is the one it started from, exactly.
    no_steps = [{"name": "captions", "tasks": {"caption": 1.0}, "steps": 1, "lr_encoder": 0.0,
                 "lr_projector": 0.0, "lr_lora": 0.0, "warmup": 1}]  # fmt: skip
    config = config_file(second, base, encoder_warmup_steps=0, stages=no_steps)
    args = ["--config", config, "--init-from", str(first / "describer")]
    assert train_tslm.main(args) == 0
    assert f"started from the trained weights of {first / 'describer'}" in capsys.readouterr().out
    tuned = trained_weights(second / "describer")
    assert tuned.keys() == trained.keys()
    assert all(np.allclose(tuned[k], trained[k], atol=1e-6) for k in trained)
    fresh = second / "fresh"
    fresh.mkdir()
    assert train_tslm.main(["--config", config_file(fresh, base, encoder_warmup_steps=0,
                                                    stages=no_steps)]) == 0  # fmt: skip
    untuned = trained_weights(fresh / "describer")
    assert not all(np.allclose(untuned[k], trained[k]) for k in trained)  # init_from mattered


def test_init_from_a_folder_that_does_not_fit_is_one_sentence(base, tmp_path, capsys):
    config = config_file(tmp_path, base, encoder_warmup_steps=0)
    assert train_tslm.main(["--config", config, "--init-from", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert "init_from" in err and "is not a TSLM folder" in err and err.count("\n") == 1
    other = tmp_path / "other"
    other.mkdir()
    mx.save_safetensors(str(other / "model.safetensors"), {"projector.w": mx.zeros((2, 2))})
    assert train_tslm.main(["--config", config, "--init-from", str(other)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: init_from: ") and "does not match" in err
    assert err.count("\n") == 1


def test_resume_equals_an_uninterrupted_run(base, tmp_path, capsys):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    whole.mkdir(), parts.mkdir()
    assert train_tslm.main(["--config", config_file(whole, base)]) == 0
    config = config_file(parts, base)
    # --max-steps counts the 3 encoder warm-up steps too: 2 stop inside the warm-up...
    assert train_tslm.main(["--config", config, "--max-steps", "2"]) == 0
    assert "stopped at encoder warm-up step 2; --resume continues" in capsys.readouterr().out
    _, meta = train_tslm.read_checkpoint(parts / "ckpt.safetensors")
    assert meta["progress"]["warmup_step"] == 2
    # ...and 5 more are its last step, the 3 mcq steps and the first captions step.
    assert train_tslm.main(["--config", config, "--resume", "--max-steps", "5"]) == 0
    assert "stopped at captions step 1; --resume continues" in capsys.readouterr().out
    assert not (parts / "describer").exists()
    assert train_tslm.main(["--config", config, "--resume"]) == 0
    a, b = trained_weights(whole / "describer"), trained_weights(parts / "describer")
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_batches_depend_only_on_seed_stage_and_step(base, tmp_path):
    config = train_tslm.load_config(config_file(tmp_path, base), [])
    tasks = [stage.tasks for stage in config.stages]
    source = ExampleSource(config.seed, config.batch_size, tasks, config.synthetic)
    a, b = source.batch(1, 7), source.batch(1, 7)
    assert [e.answer for e in a] == [e.answer for e in b]
    assert all(np.array_equal(x.values, y.values) for x, y in zip(a, b, strict=True))
    assert len({len(e.values) for e in a}) == 1  # one length per batch: no padding
    assert [e.answer for e in source.batch(1, 8)] != [e.answer for e in a]


def test_user_csv_pairs_join_the_caption_examples(tmp_path):
    csv = tmp_path / "pairs.csv"
    csv.write_text('series,caption\n"1 2 3 4 5",Rises.\n"[5, 4, 3, 2]",Falls.\n"1;1;2;1",Flat.\n')
    pairs = read_pairs_csv(str(csv))
    assert [p.answer for p in pairs] == ["Rises.", "Falls.", "Flat."]
    np.testing.assert_array_equal(pairs[1].values, [5, 4, 3, 2])
    source = ExampleSource(0, 4, [{"caption": 1.0}], user_pairs=pairs, user_share=1.0)
    assert all(e.answer in {"Rises.", "Falls.", "Flat."} for e in source.batch(0, 0))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "no/such.yaml"], "does not exist"),
        (["--set", "stages.0.stepz=3"], "unknown stage settings"),
        (["--set", "model.encoder.chanels=3"], "model settings"),
        (["--set", "stages.0.tasks={essay: 1.0}"], "tasks among caption / mcq"),
        (["--csv", "no/such.csv"], "does not exist"),
        (["--base-model", "/no/such/model"], "cannot load the base LLM"),
        (["--resume", "--checkpoint", "/no/such.safetensors"], "does not exist"),
        (["--set", "stages.0.lr_encoder=-1"], "stage 'mcq': lr_encoder must be >= 0, not -1"),
        (["--set", "encoder_warmup_steps=-5"], "encoder_warmup_steps must be >= 0, not -5"),
        (["--set", "checkpoint_every=0"], "checkpoint_every must be >= 1, not 0"),
        (["--max-steps", "-3"], "--max-steps must be >= 1, not -3"),
        (["--max-steps", "0"], "--max-steps must be >= 1, not 0"),  # no step: nothing to resume
        (["--set", "batch_size=null"], "training setting batch_size must be a number, not empty"),
        (["--set", "stages.0.steps=null"], "stage setting steps must be a number, not empty"),
        (["--set", "weight_decay=.nan"], "weight_decay must be a finite number, not nan"),
        # the grammar every trainer shares: --key value, dots for nested settings
        (["--stages.0.lr_encoder", "-1"], "stage 'mcq': lr_encoder must be >= 0, not -1"),
        (["--checkpoint_every", "0"], "checkpoint_every must be >= 1, not 0"),
        (["--stages.9.steps", "5"], "--stages.9.steps: stages.9.steps is not a setting"),
        (["--steps"], "overrides come as '--key value' pairs"),
        (["--set", "steps"], "--set 'steps': use key.path=value."),
    ],
)
def test_bad_input_is_one_sentence_and_exit_code_2(args, message, capsys):
    assert train_tslm.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_bad_csv_rows_are_named(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("series,caption\n1 2 x,Rises.\n")
    with pytest.raises(DataError, match="line 2"):
        read_pairs_csv(str(csv))
    csv.write_text("values,text\n1 2,Rises.\n")
    with pytest.raises(DataError, match="needs columns"):
        read_pairs_csv(str(csv))


def test_captions_quote_the_mean_only_when_asked():
    with_stats = ExampleSource(0, 24, [{"caption": 1.0}], caption_stats=True).batch(0, 0)
    without = ExampleSource(0, 24, [{"caption": 1.0}], caption_stats=False).batch(0, 0)
    assert any("mean" in e.answer or "hover" in e.answer for e in with_stats)
    assert not any("mean" in e.answer or "hover" in e.answer for e in without)


def test_ctrl_c_in_the_warm_up_and_in_a_stage_then_resume_equals_an_uninterrupted_run(
    base, tmp_path, capsys
):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    whole.mkdir(), parts.mkdir()
    assert train_tslm.main(["--config", config_file(whole, base)]) == 0
    config = train_tslm.load_config(config_file(parts, base), [])

    def sigint_at(phase, step):  # a real SIGINT after that step
        return lambda p, k: (p, k) == (phase, step) and signal.raise_signal(signal.SIGINT)

    # Warm-up step 1 (its checkpoints come every 2 steps), then captions step 1 of 3.
    with pytest.raises(common.Interrupted, match="at encoder warm-up step 1; checkpoint saved"):
        train_tslm.train(config, on_step=sigint_at("encoder warm-up", 1))
    _, meta = train_tslm.read_checkpoint(parts / "ckpt.safetensors")
    assert meta["progress"]["warmup_step"] == 1
    with pytest.raises(common.Interrupted, match="at captions step 1; checkpoint saved"):
        train_tslm.train(config, resume=True, on_step=sigint_at("captions", 1))
    capsys.readouterr()
    assert train_tslm.main(["--config", config_file(parts, base)]) == 2  # forgot --resume
    err = capsys.readouterr().err
    assert "already holds a checkpoint at captions step 1; pass --resume to continue it" in err
    assert train_tslm.main(["--config", config_file(parts, base), "--resume"]) == 0
    a, b = trained_weights(whole / "describer"), trained_weights(parts / "describer")
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_a_checkpoint_of_another_trainer_is_named_as_such(tmp_path, capsys):
    other = tmp_path / "checkpoint.safetensors"  # metadata as train.forecaster writes it
    mx.save_safetensors(str(other), {"x": mx.zeros(1)}, {"sadt": json.dumps({"step": 5})})
    assert train_tslm.main(["--resume", "--checkpoint", str(other)]) == 2
    err = capsys.readouterr().err
    assert (
        f"{other} is not a sadt describer training checkpoint (it was written by train.forecaster"
        in err
    )


def test_max_steps_ending_at_a_stage_boundary_leaves_a_resumable_checkpoint(base, tmp_path, capsys):
    # Without the warm-up, 3 steps are exactly the mcq stage: the stop is at its last checkpoint.
    config = config_file(tmp_path, base, encoder_warmup_steps=0)
    assert train_tslm.main(["--config", config, "--max-steps", "3"]) == 0
    assert "stopped at mcq step 3; --resume continues" in capsys.readouterr().out
    _, meta = train_tslm.read_checkpoint(tmp_path / "ckpt.safetensors")
    assert (meta["progress"]["stage"], meta["progress"]["step"]) == (0, 3)
    assert train_tslm.main(["--config", config, "--resume"]) == 0
    assert (tmp_path / "describer" / "model.safetensors").is_file()


def test_a_describer_with_facts_trains_on_forecasts_and_fills_its_slots(base, tmp_path):
    """prompt.facts: the facts line goes into every prompt, the forecast task trains, and
    what the describer writes comes out with its slots filled (no "[P1]" left)."""
    import pandas as pd

    from sadt.describer.facts import SLOT
    from sadt.series import Series

    model = json.loads(json.dumps(yaml.safe_load(open(config_file(tmp_path, base)))["model"]))
    model["prompt"] = {"facts": True, "long_series": "mean"}
    stages = [{"name": "all", "tasks": {"caption": 0.4, "forecast": 0.3, "mcq": 0.3}, "steps": 3,
               "warmup": 1}]  # fmt: skip
    file = config_file(tmp_path, base, model=model, stages=stages, encoder_warmup_steps=0)
    assert train_tslm.main(["--config", file]) == 0
    tslm = TSLM.load(tmp_path / "describer")
    assert tslm.prompts.config.facts
    t = np.arange(300)
    series = Series(10 + np.sin(2 * np.pi * t / 12) + 0.01 * t,
                    pd.date_range("1990-01-01", periods=300, freq="MS"), "MS", "sales")  # fmt: skip
    view = tslm.prompts.view(series.values)
    prompt = tslm.prompts.prompt(view, None, "Monthly. Cycles: [P1] clear.")
    assert "Cycles: [P1] clear." in tslm.tokenizer.decode(prompt.suffix)
    text = tslm.describe(series, max_tokens=24)
    assert isinstance(text, str) and not SLOT.search(text)
    future = np.full(24, 13.0)
    words = "".join(tslm.stream_describe_forecast(series, future, future - 1, future + 1,
                                                  max_tokens=24))  # fmt: skip
    assert isinstance(words, str) and not SLOT.search(words)


def test_forecast_task_needs_a_describer_with_facts():
    from sadt.describer.data import synthetic_example

    with pytest.raises(DataError, match="facts"):
        synthetic_example(np.random.default_rng(0), "forecast")
    example = synthetic_example(np.random.default_rng(0), "forecast", facts=True)
    assert example.question == "Describe the forecast." and "Forecast." in example.facts


FACTS_CONFIGS = ("tslm.yaml", "tslm_tiny_facts.yaml", "tslm_tiny_facts_polish.yaml")


@pytest.mark.parametrize("name", [*FACTS_CONFIGS, "tslm_tiny.yaml", "tslm_tiny_finetune.yaml"])
def test_the_shipped_describer_configs_are_valid(name):
    from pathlib import Path

    configs = Path(__file__).resolve().parents[1] / "train" / "configs"
    config = train_tslm.load_config(str(configs / name), [])
    facts = config.tslm_config().prompt.facts
    # The 1B route and the bundled describer's last stage speak the facts language.
    assert facts == (name in FACTS_CONFIGS)
    tasks = {t for stage in config.stages for t in stage.tasks}
    assert ("forecast" in tasks) == facts


def test_the_real_corpus_reads_only_its_train_split(tmp_path):
    """Held-out rows are never opened (their file here is not even a CSV), and real
    stretches are captioned by their facts in slot language."""
    from sadt.describer.data import read_real_corpus, real_example

    corpus = tmp_path / "corpus"
    (corpus / "series").mkdir(parents=True)
    t = np.arange(240)
    stamps = pd.date_range("2000-01-01", periods=240, freq="MS").strftime("%Y-%m-%d")
    values = 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12)
    pd.DataFrame({"timestamp": stamps, "value": values}).to_csv(
        corpus / "series/a.csv", index=False
    )
    (corpus / "series/b.csv").write_bytes(b"\x00 not a csv")
    (corpus / "MANIFEST.csv").write_text(
        "file,frequency,split\nseries/a.csv,MS,train\nseries/b.csv,D,heldout\n"
    )
    pool = read_real_corpus(corpus)
    assert len(pool) == 1 and pool[0].months == 1.0
    example = real_example(np.random.default_rng(0), pool[0], "caption", 512)
    assert example.facts.startswith("Monthly. Cycles: [P1] clear. Ends higher.")
    assert "[P1]" in example.answer and "[START]" in example.answer
    with pytest.raises(DataError, match="MANIFEST"):
        read_real_corpus(tmp_path)
