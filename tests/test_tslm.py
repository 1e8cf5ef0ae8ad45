"""TSLM: gradients reach exactly the trainable parts, the loss reads only answers,
LoRA works on a 4-bit base, describe streams text, save/load round-trips and fails
clearly. Tiny models are built in a temporary folder (seconds)."""

import sadt  # noqa: F401  (fast BLAS before mlx.core)

# isort: split
import json
from functools import partial

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
import pytest
from mlx.utils import tree_flatten

from sadt.describer.model import TSLM, LoRAConfig, TSLMConfig, answer_loss
from sadt.describer.patch_encoder import PatchEncoderConfig
from sadt.describer.prompt import collate, format_number
from sadt.errors import BaseLLMError, MissingModelFile, ModelFileError, SadtError
from sadt.train.tiny_llama import TinyLlamaConfig, build, quantize

TEXTS = [
    f"Time series of {n} points, mean {m} std {s}:\nDescribe the series.\n"
    f"The series {w} with a cycle of {p} steps and {z} noise."
    for n in (64, 128, 200)
    for m in (1.5, -20.25)
    for s in (0.5, 3.75)
    for w in ("rises", "falls", "stays flat")
    for p in (7, 12, 24)
    for z in ("low", "high")
]
TINY_LLM = TinyLlamaConfig(
    hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
    intermediate_size=128, vocab_size=320, max_position_embeddings=512,
)  # fmt: skip
TINY_ENCODER = PatchEncoderConfig(
    channels=32, num_layers=1, num_heads=4, ff_dims=64, max_patches=64, spectral_tokens=4
)


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory):
    return build(tmp_path_factory.mktemp("llm") / "tiny", TEXTS, TINY_LLM, seed=0)


@pytest.fixture(scope="module")
def llm_4bit_dir(llm_dir, tmp_path_factory):
    return quantize(llm_dir, tmp_path_factory.mktemp("llm4") / "tiny-4bit", bits=4, group_size=32)


def make_tslm(base, lora=True, seed=0) -> TSLM:
    mx.random.seed(seed)
    config = TSLMConfig(encoder=TINY_ENCODER, lora=LoRAConfig(rank=4) if lora else None)
    return TSLM.from_base(config, base)


def make_batch(tslm, n=4, seed=0, answer="The series rises with a cycle of 12 steps."):
    rng = np.random.default_rng(seed)
    prompts = [tslm.prompts.prompt(tslm.prompts.view(rng.normal(size=rng.integers(30, 200))))
               for _ in range(n)]  # fmt: skip
    answers = [tslm.prompts.answer(answer) for _ in prompts]
    return collate(prompts, answers, tslm.config.encoder, tslm.prompts.pad_id)


def sgd_steps(tslm, batch, steps, lr=1e-3):
    optimizer = optim.Adam(learning_rate=lr)
    loss_and_grad = nn.value_and_grad(tslm, answer_loss)
    state = [tslm.state, optimizer.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(*arrays):
        (loss, _), grads = loss_and_grad(tslm, *arrays)
        optimizer.update(tslm, grads)
        return loss

    losses = []
    for _ in range(steps):
        loss = step(*batch.arrays())
        mx.eval(state, loss)
        losses.append(loss.item())
    return losses


def frozen_llm_arrays(tslm) -> dict:
    trainable = {f"llm.{k}" for k, _ in tree_flatten(tslm.llm.trainable_parameters())}
    return {f"llm.{k}": np.array(v) for k, v in tree_flatten(tslm.llm.parameters())
            if f"llm.{k}" not in trainable}  # fmt: skip


def test_only_encoder_projector_and_lora_are_trainable(llm_dir):
    tslm = make_tslm(llm_dir)
    names = [k for k, _ in tree_flatten(tslm.trainable_parameters())]
    assert any(k.startswith("encoder.") for k in names)
    assert any(k.startswith("projector.") for k in names)
    assert all(k.startswith(("encoder.", "projector.")) or "lora_" in k for k in names)
    assert not hasattr(tslm.llm, "lm_head")  # tied base: no new LM head appears


def test_every_trainable_tensor_gets_a_gradient_and_frozen_ones_get_none(llm_dir):
    tslm = make_tslm(llm_dir)
    batch = make_batch(tslm)
    sgd_steps(tslm, batch, 1)  # LoRA's A gets zero gradient until B leaves its zero init
    _, grads = nn.value_and_grad(tslm, answer_loss)(tslm, *batch.arrays())
    flat = dict(tree_flatten(grads))
    assert set(flat) == {k for k, _ in tree_flatten(tslm.trainable_parameters())}
    zero = [k for k, g in flat.items() if float(mx.abs(g).max()) == 0.0]
    assert zero == []


def test_frozen_llm_weights_are_bit_identical_after_training(llm_dir):
    tslm = make_tslm(llm_dir)
    before = frozen_llm_arrays(tslm)
    sgd_steps(tslm, make_batch(tslm), 3)
    after = frozen_llm_arrays(tslm)
    assert before.keys() == after.keys() and len(before) > 10
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_encoder_gradient_matches_finite_difference(llm_dir):
    tslm = make_tslm(llm_dir, lora=False)
    batch = make_batch(tslm, n=2)
    _, grads = nn.value_and_grad(tslm, answer_loss)(tslm, *batch.arrays())
    analytic = grads["encoder"]["patch_embed"]["weight"][3, 1, 0].item()
    weight = tslm.encoder.patch_embed.weight
    eps, losses = 1e-2, []
    for sign in (1, -1):
        w = np.array(weight)
        w[3, 1, 0] += sign * eps
        tslm.encoder.patch_embed.weight = mx.array(w)
        losses.append(answer_loss(tslm, *batch.arrays())[0].item())
    tslm.encoder.patch_embed.weight = weight
    numeric = (losses[0] - losses[1]) / (2 * eps)
    assert abs(analytic) > 1e-5
    assert numeric == pytest.approx(analytic, rel=0.05, abs=1e-4)


def test_loss_falls_when_overfitting_one_batch(llm_dir):
    tslm = make_tslm(llm_dir)
    losses = sgd_steps(tslm, make_batch(tslm), 30, lr=1e-3)
    assert losses[-1] < 0.5 * losses[0]


def test_lora_on_a_4bit_base_trains(llm_4bit_dir):
    tslm = make_tslm(llm_4bit_dir)
    assert isinstance(tslm.llm.model.layers[0].self_attn.q_proj.linear, nn.QuantizedLinear)
    before = frozen_llm_arrays(tslm)
    batch = make_batch(tslm)
    lora_b = np.array(tslm.llm.model.layers[0].self_attn.q_proj.lora_b)
    losses = sgd_steps(tslm, batch, 20)
    assert losses[-1] < 0.7 * losses[0]
    assert not np.array_equal(lora_b, np.array(tslm.llm.model.layers[0].self_attn.q_proj.lora_b))
    after = frozen_llm_arrays(tslm)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_loss_reads_only_answer_tokens_and_ignores_padding(llm_dir):
    tslm = make_tslm(llm_dir)
    first = tslm.prompts.prompt(tslm.prompts.view(np.random.default_rng(3).normal(size=90)))
    answer = tslm.prompts.answer("The series rises with a cycle of 12 steps.")
    other = tslm.prompts.prompt(tslm.prompts.view(np.sin(np.arange(300.0))))
    long = tslm.prompts.answer("The series falls with a cycle of 24 steps and high noise " * 3)
    one = collate([first], [answer], tslm.config.encoder, tslm.prompts.pad_id)
    two = collate([first, other], [answer, long], tslm.config.encoder, tslm.prompts.pad_id)
    assert two.tokens.shape[1] > one.tokens.shape[1]  # the first row is padded at the end
    loss_one, n_one = answer_loss(tslm, *one.arrays())
    ce = nn.losses.cross_entropy(tslm(*two.arrays()[:5]), two.targets) * two.target_mask
    assert n_one.item() == len(answer) == two.target_mask[0].sum().item()
    assert ce[0].sum().item() / n_one.item() == pytest.approx(loss_one.item(), rel=1e-4)
    np.testing.assert_array_equal(np.array(one.targets[0, : len(answer)]), answer)


def test_prompt_puts_stats_in_text_and_soft_tokens_before_the_question(llm_dir):
    tslm = make_tslm(llm_dir, lora=False)
    values = 100.0 + 5.0 * np.sin(np.arange(64) / 3.0)
    view = tslm.prompts.view(values)
    assert abs(view.values.mean()) < 1e-5 and abs(view.values.std() - 1) < 1e-4
    p = tslm.prompts.prompt(view, "Is there a trend?")
    text = tslm.tokenizer.decode(p.prefix)
    std = format_number(float(values.std()))
    assert text.endswith(f"Time series of 64 points, mean 100 std {std}:")
    assert "Is there a trend?" in tslm.tokenizer.decode(p.suffix)
    assert p.n_soft == 16 + 4  # patches, then spectral tokens
    batch = collate([p], [tslm.prompts.answer("No.")], tslm.config.encoder, tslm.prompts.pad_id)
    slots = np.array(batch.soft_slots[0])
    soft = np.flatnonzero(slots >= 0)
    assert soft[0] == len(p.prefix) and np.all(np.diff(soft) == 1) and len(soft) == 20


def test_soft_tokens_carry_the_series_into_the_logits(llm_dir):
    tslm = make_tslm(llm_dir, lora=False)
    a, b = make_batch(tslm, n=2, seed=0), make_batch(tslm, n=2, seed=0)
    b.series = b.series * -1.0
    assert not np.allclose(np.array(tslm(*a.arrays()[:5])), np.array(tslm(*b.arrays()[:5])))


def test_head_on_answer_positions_matches_the_full_forward(llm_dir):
    tslm = make_tslm(llm_dir)
    batch = make_batch(tslm)
    fast = tslm(*batch.arrays()[:5])
    tslm._head_only = False  # the generic path: llm(None, input_embeddings=h)
    full = tslm(*batch.arrays()[:5])
    np.testing.assert_allclose(np.array(fast), np.array(full), atol=1e-4)


def test_describe_returns_text_for_a_series_and_for_a_question(llm_dir):
    tslm = make_tslm(llm_dir)
    series = np.cumsum(np.random.default_rng(0).normal(size=150))
    text = tslm.describe(series, max_tokens=12)
    answer = tslm.describe(series, question="Does the series rise?", max_tokens=6)
    assert isinstance(text, str) and len(text) > 0
    assert isinstance(answer, str) and len(answer) > 0
    pieces = list(tslm.stream_describe(list(series), max_tokens=5, temperature=0.8, seed=1))
    assert pieces and all(isinstance(p, str) for p in pieces)


def test_describe_reduces_a_long_series_and_says_so(llm_dir):
    tslm = make_tslm(llm_dir)
    series = np.sin(np.arange(5000) / 10.0)
    first = next(iter(tslm.stream_describe(series, max_tokens=3)))
    assert "last 256 of 5000 points" in first
    view = tslm.prompts.view(series)
    assert len(view.values) == TINY_ENCODER.max_length and "last 256 of 5000" in view.text


def test_save_load_round_trip_gives_the_same_logits(llm_dir, tmp_path):
    tslm = make_tslm(llm_dir)
    batch = make_batch(tslm)
    sgd_steps(tslm, batch, 2)
    tslm.save(tmp_path / "describer")
    saved = json.loads((tmp_path / "describer" / "config.json").read_text())
    assert saved["sadt_class"] == "TSLM" and saved["base_model"] == "llm"
    weights = mx.load(str(tmp_path / "describer" / "model.safetensors"))
    assert set(weights) == {k for k, _ in tree_flatten(tslm.trainable_parameters())}
    loaded = TSLM.load(tmp_path / "describer", fuse=False)
    np.testing.assert_allclose(
        np.array(loaded(*batch.arrays()[:5])), np.array(tslm(*batch.arrays()[:5])), atol=1e-5
    )
    fused = TSLM.load(tmp_path / "describer")  # LoRA merged for generation speed
    assert not any("lora" in k for k, _ in tree_flatten(fused.parameters()))
    np.testing.assert_allclose(
        np.array(fused(*batch.arrays()[:5])), np.array(tslm(*batch.arrays()[:5])), atol=1e-4
    )
    series = np.sin(np.arange(120) / 4.0)
    assert fused.describe(series, max_tokens=8) == loaded.describe(series, max_tokens=8)


def test_tie_word_embeddings_is_explicit_in_saved_configs(llm_dir, tmp_path):
    from mlx_lm import load

    untied = TinyLlamaConfig(**{**TINY_LLM.to_dict(), "tie_word_embeddings": False})
    folder = build(tmp_path / "untied", TEXTS, untied)
    assert json.loads((folder / "config.json").read_text())["tie_word_embeddings"] is False
    assert json.loads((llm_dir / "config.json").read_text())["tie_word_embeddings"] is True
    model, _ = load(str(folder))
    head = mx.load(str(folder / "model.safetensors"))["lm_head.weight"]
    assert np.array_equal(np.array(model.lm_head.weight), np.array(head))
    # A saved TSLM embeds the LLM with the flag stated, and the untied head survives.
    tslm = make_tslm(folder)
    tslm.save(tmp_path / "describer")
    embedded = json.loads((tmp_path / "describer" / "llm" / "config.json").read_text())
    assert embedded["tie_word_embeddings"] is False
    assert hasattr(TSLM.load(tmp_path / "describer").llm, "lm_head")
    # A config that omits the flag while the weights hold an lm_head is refused, by name.
    config = json.loads((folder / "config.json").read_text())
    del config["tie_word_embeddings"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"config\.json omits tie_word_embeddings"):
        make_tslm(folder)


def test_load_errors_name_the_file(llm_dir, tmp_path):
    with pytest.raises(MissingModelFile, match="config.json"):
        TSLM.load(tmp_path / "nothing")
    tslm = make_tslm(llm_dir)
    folder = tslm.save(tmp_path / "d")
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"model\.safetensors cannot be read"):
        TSLM.load(folder)
    weights.unlink()
    with pytest.raises(MissingModelFile, match=r"model\.safetensors"):
        TSLM.load(folder)
    weights.write_bytes(data)
    config = json.loads((folder / "config.json").read_text())
    config["lora"]["rank"] = 8
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"model\.safetensors: .* has shape"):
        TSLM.load(folder)
    config["lora"] = None
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="unexpected"):
        TSLM.load(folder)
    (folder / "config.json").write_text(json.dumps({**config, "sadt_class": "Forecaster"}))
    with pytest.raises(ValueError, match="not a TSLM config"):
        TSLM.load(folder)
    (folder / "config.json").write_text("{")
    with pytest.raises(ValueError, match="not readable JSON"):
        TSLM.load(folder)


def test_a_fused_describer_saves_its_adapters_and_reloads_identically(llm_dir, tmp_path):
    trained = make_tslm(llm_dir, lora=True, seed=1)
    sgd_steps(trained, make_batch(trained), 3)  # LoRA's B leaves zero: fusing changes weights
    trained.save(tmp_path / "first")
    fused = TSLM.load(tmp_path / "first")  # fused for generation
    assert fused.fused
    fused.save(tmp_path / "second")  # e.g. from_pretrained(...).save_pretrained(...)
    a = mx.load(str(tmp_path / "first" / "model.safetensors"))
    b = mx.load(str(tmp_path / "second" / "model.safetensors"))
    assert a.keys() == b.keys() and any("lora" in k for k in a)
    assert all(np.array_equal(np.array(a[k]), np.array(b[k])) for k in a)
    series = np.sin(np.arange(90) / 4.0)
    assert TSLM.load(tmp_path / "second").describe(series, max_tokens=6) == fused.describe(
        series, max_tokens=6
    )


def test_a_broken_base_llm_names_its_file(llm_dir, tmp_path):
    import shutil

    base = tmp_path / "base"
    shutil.copytree(llm_dir, base)
    weights = base / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) - 100])
    with pytest.raises(BaseLLMError, match=r"base/model\.safetensors is truncated") as err:
        make_tslm(base)
    assert isinstance(err.value, ValueError) and isinstance(err.value, SadtError)
    weights.write_bytes(data[:4])  # not even a header
    with pytest.raises(BaseLLMError, match=r"model\.safetensors is not a readable safetensors"):
        make_tslm(base)
    weights.unlink()
    with pytest.raises(MissingModelFile, match=r"base/model\.safetensors not found"):
        make_tslm(base)
    with pytest.raises(BaseLLMError, match="there is no folder at /no/such/llm"):
        make_tslm("/no/such/llm")


def test_a_missing_embedded_llm_is_named_not_fetched(llm_dir, tmp_path):
    import shutil

    folder = make_tslm(llm_dir).save(tmp_path / "d", embed_llm=True)
    shutil.rmtree(folder / "llm")
    with pytest.raises(MissingModelFile, match=r"d/llm is missing: .*config\.json names"):
        TSLM.load(folder)
