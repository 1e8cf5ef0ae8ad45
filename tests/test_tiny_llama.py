"""The tiny Llama: a Hugging Face folder that mlx_lm.load reads, a digit-splitting
tokenizer, pretraining that learns, and a 4-bit copy."""

import sadt  # noqa: F401  (fast BLAS before mlx.core)

# isort: split
import json

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest

from train.tiny_llama import BOS, EOS, TinyLlamaConfig, build, pretrain, quantize

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
