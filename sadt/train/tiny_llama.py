"""Build and language-pretrain the tiny Llama behind the bundled describer.

    sadt train tiny_llama --out checkpoints/tiny-llama            # build + pretrain
    sadt train tiny_llama --out /tmp/t --steps 0 --texts 200      # build only (tests)

1. Corpus: captions and multiple-choice questions of synthetic series, written in the
   TSLM prompt layout without the soft tokens ("Time series of 240 points, mean 3.21
   std 0.845:\\nDescribe the series.\\n<caption>"), plus the digits.
2. Tokenizer: byte-level BPE trained with ``tokenizers``; digits are split one per
   token, so the model can copy any number from the prompt digit by digit.
3. Model: an mlx-lm ``llama`` config (a few layers, hidden 128-256), tied embeddings.
4. Pretraining: next-token loss on the corpus, every weight trains (this is before
   the TSLM freezes the model). The text alone cannot tell which attributes a series
   has, so the model learns the language and the number copying; the TSLM's encoder
   and LoRA later make the soft tokens choose the content.
5. Output: Hugging Face layout loadable by ``mlx_lm.load(path)``: config.json (with
   ``tie_word_embeddings`` explicit), model.safetensors, tokenizer.json,
   tokenizer_config.json, special_tokens_map.json. Stored as float16 (half the bytes;
   ``TSLM`` casts to float32 on CPUs).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from dataclasses import asdict, dataclass, fields
from functools import partial
from pathlib import Path

import sadt  # noqa: F401  (loads the fast BLAS; must come before mlx.core)

# isort: split
import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np

from sadt.cli import whole_at_least
from sadt.describer.files import save_llm_weights, write_llm_config
from sadt.hub import check_output_folder
from sadt.settings import checked

SPECIAL_TOKENS = ("<pad>", "<s>", "</s>")  # ids 0, 1, 2
PAD, BOS, EOS = 0, 1, 2
MIN_VOCAB = 256 + len(SPECIAL_TOKENS)  # byte-level BPE always keeps every byte


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class TinyLlamaConfig:
    # Sized for CPUs: MLX's CPU exp is slow (softmax, SiLU and the vocabulary's
    # log-sum-exp dominate a step), so few heads, a small vocabulary and MLP.
    hidden_size: int = 192
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 384
    vocab_size: int = 512  # the BPE target (the caption language saturates near 700)
    max_position_embeddings: int = 1024
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = True

    def __post_init__(self) -> None:
        """Refuse a shape mlx-lm would only reject later, at load or at the first step."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (not _is_int(value) or value < 1):
                raise ValueError(f"{f.name} must be a whole number >= 1, got {value!r}")
        if self.vocab_size < MIN_VOCAB:
            raise ValueError(
                f"vocab_size must be at least {MIN_VOCAB} (256 bytes + "
                f"{len(SPECIAL_TOKENS)} special tokens), got {self.vocab_size}"
            )
        heads, kv = self.num_attention_heads, self.num_key_value_heads
        if self.hidden_size % heads or (self.hidden_size // heads) % 2:
            raise ValueError(
                f"hidden_size {self.hidden_size} must split into {heads} attention heads "
                "of an even size (RoPE rotates pairs), e.g. a multiple of "
                f"{2 * heads}"
            )
        if heads % kv:
            raise ValueError(
                f"num_attention_heads {heads} must be a multiple of num_key_value_heads {kv}"
            )
        theta = self.rope_theta
        if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not theta > 0:
            raise ValueError(f"rope_theta must be a number above 0, got {theta!r}")
        if not math.isfinite(theta):
            raise ValueError(f"rope_theta must be finite, got {theta!r}")
        if not isinstance(self.tie_word_embeddings, bool):
            raise ValueError(
                f"tie_word_embeddings must be true or false, got {self.tie_word_embeddings!r}"
            )

    @classmethod
    def from_dict(cls, d: dict) -> TinyLlamaConfig:
        """From user JSON: unknown keys are refused (a typo would silently be the default)."""
        return cls(**checked(cls, d, "tiny Llama"))

    def to_dict(self) -> dict:
        return asdict(self)

    def llama_config(self, vocab_size: int) -> dict:
        """The mlx-lm / Hugging Face ``config.json`` of this model."""
        d = self.to_dict()
        d.update(
            model_type="llama",
            architectures=["LlamaForCausalLM"],
            vocab_size=vocab_size,
            rms_norm_eps=1e-5,
            bos_token_id=BOS,
            eos_token_id=EOS,
            pad_token_id=PAD,
            torch_dtype="float16",
        )
        return d


def train_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE over ``texts`` with single-digit number tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    digits = " ".join("0123456789") + " -0.5 +1.25"
    tokenizer.train_from_iterator(list(texts) + [digits], trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", BOS)]
    )
    return tokenizer


def save_tokenizer(tokenizer, folder: Path, max_length: int) -> None:
    """tokenizer.json + the two small files ``transformers.AutoTokenizer`` reads."""
    tokenizer.save(str(folder / "tokenizer.json"))
    special = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}
    config = dict(special, tokenizer_class="PreTrainedTokenizerFast", model_max_length=max_length)
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2))


def build(folder: str | Path, texts: list[str], config: TinyLlamaConfig, seed: int = 0) -> Path:
    """A randomly initialised tiny Llama + tokenizer trained on ``texts`` in ``folder``."""
    from mlx_lm.models.llama import Model, ModelArgs

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(texts, config.vocab_size)
    save_tokenizer(tokenizer, folder, config.max_position_embeddings)
    llama_config = config.llama_config(tokenizer.get_vocab_size())
    mx.random.seed(seed)
    model = Model(ModelArgs.from_dict(llama_config))
    write_llm_config(llama_config, folder, tied=config.tie_word_embeddings)
    save_llm_weights(model, folder, dtype="float32")
    return folder


def quantize(src: str | Path, dst: str | Path, bits: int = 4, group_size: int = 32) -> Path:
    """A quantized copy of an mlx-lm model folder (e.g. a 4-bit tiny base for tests)."""
    from mlx_lm import load
    from mlx_lm.utils import load_config, quantize_model

    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    model, _ = load(str(src))
    config = load_config(src)
    model, config = quantize_model(model, config, group_size=group_size, bits=bits)
    write_llm_config(config, dst, tied=config.get("tie_word_embeddings", True))
    save_llm_weights(model, dst)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(src / name, dst / name)
    return dst


def token_batches(ids: list[list[int]], batch_size: int, seed: int):
    """Endless (inputs (B, T), targets (B, T), mask (B, T)) batches, pad at the end only.

    A corpus smaller than ``batch_size`` gives batches of all its texts (B = len(ids)).
    """
    if not ids:
        raise ValueError("no texts to pretrain on")
    batch_size = min(batch_size, len(ids))
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(ids))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            rows = [ids[i] for i in order[start : start + batch_size]]
            t = int(math.ceil(max(len(r) for r in rows) / 16) * 16)
            seq = np.full((batch_size, t + 1), PAD, dtype=np.int32)
            mask = np.zeros((batch_size, t), dtype=np.float32)
            for i, r in enumerate(rows):
                seq[i, : len(r)] = r
                mask[i, : len(r) - 1] = 1.0
            yield mx.array(seq[:, :-1]), mx.array(seq[:, 1:]), mx.array(mask)


def pretrain(
    folder: str | Path,
    texts: list[str],
    steps: int,
    batch_size: int = 32,
    learning_rate: float = 2e-3,
    seed: int = 0,
    save_dtype: str = "float16",
) -> list[float]:
    """Next-token pretraining of the model in ``folder`` on ``texts``; saves it back."""
    from mlx_lm import load
    from mlx_lm.utils import load_config

    folder = Path(folder)
    model, tokenizer = load(str(folder))
    model.set_dtype(mx.float32)
    ids = [tokenizer.encode(t) + [EOS] for t in texts]  # encode() adds <s>

    def lm_loss(model, inputs, targets, mask):
        ce = nn.losses.cross_entropy(model(inputs), targets) * mask
        return ce.sum() / mask.sum()

    warmup = max(1, steps // 20)
    schedule = optim.join_schedules(
        [
            optim.linear_schedule(1e-6, learning_rate, warmup),
            optim.cosine_decay(learning_rate, max(1, steps - warmup), learning_rate / 20),
        ],
        [warmup],
    )
    optimizer = optim.AdamW(learning_rate=schedule, weight_decay=0.01)
    loss_and_grad = nn.value_and_grad(model, lm_loss)
    state = [model.state, optimizer.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(inputs, targets, mask):
        loss, grads = loss_and_grad(model, inputs, targets, mask)
        optimizer.update(model, grads)
        return loss

    losses, batches, tic = [], token_batches(ids, batch_size, seed), time.perf_counter()
    for it in range(1, steps + 1):
        loss = step(*next(batches))
        mx.eval(state, loss)
        losses.append(loss.item())
        if it % 50 == 0 or it == steps:
            rate = it / (time.perf_counter() - tic)
            recent = float(np.mean(losses[-50:]))
            print(f"pretrain {it}/{steps} loss {recent:.3f} {rate:.2f} it/s", flush=True)
    config = load_config(folder)
    save_llm_weights(model, folder, dtype=save_dtype)
    write_llm_config(config, folder, tied=config.get("tie_word_embeddings", True))
    return losses


def corpus(n: int, seed: int) -> list[str]:
    """Pretraining texts: TSLM prompts (no soft tokens) + answers for synthetic series."""
    from sadt.describer.data import synthetic_examples, text_of_example

    return [text_of_example(e) for e in synthetic_examples(n, seed, tasks=("caption", "mcq"))]


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {text!r}")
    return value


def _usage_error(message: str) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sadt train tiny_llama", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", required=True, help="output folder (Hugging Face layout)")
    parser.add_argument(
        "--texts", type=whole_at_least(1), default=20000, help="corpus size (examples, >= 1)"
    )
    parser.add_argument(
        "--steps", type=whole_at_least(0), default=600, help="pretraining steps (0: none)"
    )
    parser.add_argument(
        "--batch-size",
        type=whole_at_least(1),
        default=32,
        help="texts per step (a smaller corpus: all of it)",
    )
    parser.add_argument("--learning-rate", type=_positive, default=2e-3)
    parser.add_argument("--seed", type=whole_at_least(0), default=0)
    parser.add_argument(
        "--model",
        default="{}",
        help="JSON overrides of TinyLlamaConfig, e.g. '{\"hidden_size\": 128}'",
    )
    args = parser.parse_args(argv)
    try:
        config = TinyLlamaConfig.from_dict(json.loads(args.model))
    except json.JSONDecodeError as e:
        return _usage_error(f"--model must be a JSON object of TinyLlamaConfig fields ({e})")
    except ValueError as e:
        return _usage_error(f"--model: {e}")
    try:
        check_output_folder(args.out, "--out")
    except ValueError as e:
        return _usage_error(f"--out: {e}")
    tic = time.perf_counter()
    # Held-out seeds for evaluation are far from these (see bench/describe_eval.py).
    texts = corpus(args.texts, args.seed + 1_000)
    build(args.out, texts, config, seed=args.seed)
    print(f"built {args.out} ({time.perf_counter() - tic:.0f} s)", flush=True)
    if args.steps > 0:
        pretrain(args.out, texts, args.steps, args.batch_size, args.learning_rate, args.seed)
    print(f"done in {time.perf_counter() - tic:.0f} s: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
