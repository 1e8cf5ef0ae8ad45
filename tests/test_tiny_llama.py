"""The tiny Llama: a Hugging Face folder that mlx_lm.load reads, a digit-splitting
tokenizer, pretraining that learns, and a 4-bit copy."""

import sadt  # noqa: F401  (fast BLAS before mlx.core)

# isort: split
import json
import subprocess
import sys
import threading
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest

from sadt.train import tiny_llama
from sadt.train.tiny_llama import (
    BOS,
    EOS,
    TinyLlamaConfig,
    build,
    pretrain,
    quantize,
    token_batches,
)

TEXTS = [
    f"Time series of {n} points, mean {m} std {s}:\nDescribe the series.\n"
    f"The series {w} with a cycle of {p} steps."
    for n in (64, 200, 512)
    for m in (3.21, -40.5)
    for s in (0.845, 12.0)
    for w in ("rises", "falls", "stays flat")
    for p in (7, 24, 168)
]
SMALL = TinyLlamaConfig(
    hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
    intermediate_size=128, vocab_size=300, max_position_embeddings=256,
)  # fmt: skip


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build(tmp_path_factory.mktemp("tiny") / "llm", TEXTS, SMALL, seed=0)


def test_folder_has_the_hugging_face_layout_and_loads_with_mlx_lm(folder):
    from mlx_lm import load

    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json"} <= names  # fmt: skip
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "llama" and config["tie_word_embeddings"] is True
    assert config["num_hidden_layers"] == 2 and config["hidden_size"] == 64
    model, tokenizer = load(str(folder))
    assert tokenizer.bos_token_id == BOS and EOS in tokenizer.eos_token_ids
    logits = model(mx.array([tokenizer.encode("Time series of 64 points")]))
    assert logits.shape[-1] == config["vocab_size"]


def test_tokenizer_splits_digits_and_round_trips(folder):
    from mlx_lm import load

    _, tokenizer = load(str(folder))
    text = "Time series of 512 points, mean -40.5 std 0.845:"
    ids = tokenizer.encode(text, add_special_tokens=False)
    pieces = [tokenizer.decode([i]) for i in ids]
    assert all(not (any(c.isdigit() for c in p) and len(p.strip()) > 1) for p in pieces)
    assert tokenizer.decode(ids) == text
    assert tokenizer.encode(text)[0] == BOS


def test_pretraining_lowers_the_loss_and_saves_float16(folder, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    losses = pretrain(copy, TEXTS, steps=40, batch_size=8, learning_rate=3e-3)
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])
    weights = mx.load(str(copy / "model.safetensors"))
    assert all(v.dtype == mx.float16 for v in weights.values())
    assert json.loads((copy / "config.json").read_text())["tie_word_embeddings"] is True


def test_quantized_copy_is_4bit_and_loads(folder, tmp_path):
    from mlx_lm import load

    q = quantize(folder, tmp_path / "q4", bits=4, group_size=32)
    config = json.loads((q / "config.json").read_text())
    assert config["quantization"]["bits"] == 4 and "tie_word_embeddings" in config
    model, tokenizer = load(str(q))
    assert isinstance(model.model.layers[0].mlp.up_proj, nn.QuantizedLinear)
    assert model(mx.array([tokenizer.encode("Time series")])).shape[-1] == config["vocab_size"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hidden_size": -1}, "hidden_size must be a whole number >= 1"),
        ({"hidden_size": 30}, "hidden_size 30 must split into 4 attention heads"),
        ({"hidden_size": 36}, "of an even size"),  # head size 9: RoPE needs pairs
        ({"num_key_value_heads": 3}, "num_attention_heads 4 must be a multiple of"),
        ({"vocab_size": 100}, "vocab_size must be at least 259"),
        ({"rope_theta": 0}, "rope_theta must be a number above 0"),
        ({"hiden_size": 64}, r"unknown tiny Llama settings \['hiden_size'\]"),
        ({"num_hidden_layers": "two"}, "num_hidden_layers must be a number"),
    ],
)
def test_config_refuses_shapes_mlx_lm_would_reject_later(changes, message):
    with pytest.raises(ValueError, match=message):
        TinyLlamaConfig.from_dict({**SMALL.to_dict(), **changes})


def test_config_from_json_reads_numbers_written_as_text():
    assert TinyLlamaConfig.from_dict({"hidden_size": "64"}).hidden_size == 64


def test_a_corpus_smaller_than_the_batch_gives_whole_corpus_batches():
    ids = [[BOS, 5, 6, EOS], [BOS, 7, EOS], [BOS, 8, 9, 10, EOS]]
    batches = token_batches(ids, batch_size=32, seed=0)
    drawn: list = []  # in a thread: the old code looped forever looking for 32 texts
    worker = threading.Thread(target=lambda: drawn.extend(next(batches) for _ in range(3)))
    worker.daemon = True
    worker.start()
    worker.join(timeout=60)
    assert len(drawn) == 3, "token_batches never yielded a batch"
    for inputs, targets, mask in drawn:
        assert inputs.shape[0] == 3 and targets.shape == inputs.shape
        assert mask.sum().item() == sum(len(r) - 1 for r in ids)
    with pytest.raises(ValueError, match="no texts"):
        next(token_batches([], 4, 0))


@pytest.mark.parametrize(
    "args",
    [
        ["--texts", "0"],
        ["--batch-size", "0"],
        ["--steps", "-3"],
        ["--learning-rate", "-1"],
    ],
)
def test_bad_numbers_are_refused_naming_the_flag(args, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        tiny_llama.main(["--out", str(tmp_path / "o"), *args])
    assert exit_.value.code == 2
    assert f"argument {args[0]}: must be" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", '{"hidden_size": -1}'], "error: --model: hidden_size must be"),
        (["--model", "[1]"], "error: --model: the tiny Llama settings must be a mapping"),
        (["--model", "nope"], "error: --model must be a JSON object"),
    ],
)
def test_bad_model_json_is_one_sentence(args, message, tmp_path, capsys):
    assert tiny_llama.main(["--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_an_existing_file_as_out_is_refused_before_any_work(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    assert tiny_llama.main(["--out", str(taken)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert tiny_llama.main(["--out", str(taken / "sub")]) == 2
    assert taken.read_text() == "mine"


def test_pretraining_a_corpus_smaller_than_the_batch_finishes(tmp_path):
    """Ten texts, batch 32: it used to loop forever after "built"; a subprocess with a timeout."""
    model = json.dumps({**SMALL.to_dict(), "num_hidden_layers": 1})
    command = [sys.executable, "-m", "train.tiny_llama", "--out", str(tmp_path / "t")]
    command += ["--texts", "10", "--steps", "2", "--batch-size", "32", "--model", model]
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "pretrain 2/2" in done.stdout and (tmp_path / "t" / "model.safetensors").exists()
