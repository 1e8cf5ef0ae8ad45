"""TSLM: a time-series language model (OpenTSLM-SoftPrompt style) on an mlx-lm Llama.

One ``nn.Module`` owns the patch encoder, the projector and the mlx-lm model, so
``nn.value_and_grad(tslm, answer_loss)`` differentiates all of them at once and the
optimizer updates the very arrays the forward pass read. The LLM is frozen
(``freeze()``); only the encoder, the projector and optional LoRA adapters
(``mlx_lm.tuner.utils.linear_to_lora_layers``, which also wraps 4-bit layers)
train. No new LM head: the LLM's own (tied or untied) head reads the answers.

    series (n,) --z-score--> PatchEncoder --> Projector --> soft tokens (P, d_llm)
    [pre][series text][soft tokens][post] answer  --> llm(None, input_embeddings=h)

Save / load live in ``sadt.describer.files``; the prompt and batches in ``sadt.describer.prompt``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from mlx.utils import tree_flatten

from sadt.describer import files
from sadt.describer.patch_encoder import PatchEncoder, PatchEncoderConfig
from sadt.describer.prompt import PromptBuilder, PromptConfig, PromptTokens
from sadt.files import ModelFileError
from sadt.settings import checked

DEFAULT_BASE_MODEL = "mlx-community/Llama-3.2-1B-Instruct-4bit"
# Families whose outer Model only applies the LM head to the inner model's output,
# so the head can run on answer positions alone (a 128k-vocab head is most of the cost).
_HEAD_ONLY_FAMILIES = ("llama", "mistral", "qwen2", "qwen3")


@dataclass
class LoRAConfig:
    rank: int = 8
    scale: float = 20.0  # mlx-lm's name for alpha / rank
    dropout: float = 0.0
    num_layers: int = -1  # adapt the last N transformer blocks; -1: all
    keys: list[str] | None = None  # e.g. ["self_attn.q_proj"]; None: every linear layer

    @classmethod
    def from_dict(cls, d: dict) -> LoRAConfig:
        return cls(**checked(cls, d, "lora"))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TSLMConfig:
    base_model: str = DEFAULT_BASE_MODEL  # Hub id, local path, or a folder inside the save
    encoder: PatchEncoderConfig = field(default_factory=PatchEncoderConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    lora: LoRAConfig | None = None
    projector_dropout: float = 0.0
    # "auto": float32 on the CPU backend (the fast BLAS is float32), as stored elsewhere.
    llm_dtype: str = "auto"

    @classmethod
    def from_dict(cls, d: dict) -> TSLMConfig:
        d = checked(cls, d, "TSLM")
        d["encoder"] = PatchEncoderConfig.from_dict(d.get("encoder", {}))
        d["prompt"] = PromptConfig.from_dict(d.get("prompt", {}))
        lora = d.get("lora")
        d["lora"] = LoRAConfig.from_dict(lora) if isinstance(lora, dict) else None
        return cls(**d)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lora"] = self.lora.to_dict() if self.lora else None
        return d


class Projector(nn.Module):
    """OpenTSLM MLP projector: LayerNorm -> Linear(channels -> d_llm) -> GELU -> Dropout."""

    def __init__(self, channels: int, d_llm: int, dropout: float = 0.0):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.linear = nn.Linear(channels, d_llm)
        self.dropout = nn.Dropout(dropout)

    def __call__(self, x: mx.array) -> mx.array:  # (B, P, C) -> (B, P, d_llm)
        return self.dropout(nn.gelu(self.linear(self.norm(x))))


def llm_hidden_size(llm: nn.Module) -> int:
    args = getattr(llm, "args", None)
    if args is not None and getattr(args, "hidden_size", None):
        return int(args.hidden_size)
    return int(llm.model.norm.weight.shape[0])


class TSLM(nn.Module):
    """Encoder + projector + frozen mlx-lm LLM (+ LoRA). Build with ``from_base`` or ``load``."""

    def __init__(self, config: TSLMConfig, llm: nn.Module, tokenizer):
        super().__init__()
        self.config = config
        self.encoder = PatchEncoder(config.encoder)
        self.projector = Projector(
            config.encoder.channels, llm_hidden_size(llm), config.projector_dropout
        )
        llm.freeze()  # before LoRA, so only the adapters' new arrays are trainable
        if config.lora is not None:
            from mlx_lm.tuner.utils import linear_to_lora_layers

            lora = config.lora
            spec = {"rank": lora.rank, "scale": lora.scale, "dropout": lora.dropout}
            if lora.keys:
                spec["keys"] = list(lora.keys)
            linear_to_lora_layers(llm, lora.num_layers, spec)
        self.llm = llm
        self.tokenizer = tokenizer
        self.prompts = PromptBuilder(tokenizer, config.prompt, config.encoder)
        family = getattr(getattr(llm, "args", None), "model_type", "")
        self._head_only = family in _HEAD_ONLY_FAMILIES
        self.base_path: str | None = None  # local folder of the base LLM, when there is one
        self.fused = False  # LoRA merged into the base (for generation; see fuse_lora)
        self._unfused: dict[str, mx.array] = {}

    @classmethod
    def from_base(cls, config: TSLMConfig, base: str | Path | None = None) -> TSLM:
        """A fresh TSLM (random encoder / projector / LoRA) on a base LLM.

        ``base``: local path or Hub id in mlx-lm format; default ``config.base_model``.
        """
        base = str(base or config.base_model)
        llm, tokenizer = files.load_llm(base, config.llm_dtype)
        tslm = cls(replace(config, base_model=base), llm, tokenizer)
        tslm.base_path = base if Path(base).is_dir() else None
        return tslm

    @classmethod
    def load(cls, path: str | Path, base: str | Path | None = None, fuse: bool = True) -> TSLM:
        """Load a saved TSLM folder; ``base`` overrides the base LLM it names.

        ``fuse``: merge LoRA into full-precision base layers (``fuse_lora``) for fast
        generation (saving still writes the adapters); pass False to train further.
        """
        path = Path(path)
        config_file = path / "config.json"
        raw = files.read_tslm_config(path)
        try:
            config = TSLMConfig.from_dict(raw)
        except (TypeError, ValueError) as e:
            raise ModelFileError(f"{config_file}: {e}") from e
        base = base or files.saved_base(path, config.base_model, config_file)
        llm, tokenizer = files.load_llm(str(base), config.llm_dtype)
        tslm = cls(config, llm, tokenizer)
        tslm.base_path = str(base) if Path(base).is_dir() else None
        files.load_trainable(tslm, path / "model.safetensors", config_file)
        tslm.eval()
        return tslm.fuse_lora() if fuse else tslm

    def save(self, path: str | Path, embed_llm: bool | None = None) -> Path:
        """Save trainable weights + config (see ``sadt.describer.files.save_tslm``)."""
        return files.save_tslm(self, path, embed_llm=embed_llm)

    def trainable_weights(self) -> dict[str, mx.array]:
        """What a save writes: encoder, projector and LoRA (as they were before a fuse)."""
        if self.fused:
            return dict(self._unfused)
        return dict(tree_flatten(self.trainable_parameters()))

    def fuse_lora(self) -> TSLM:
        """Merge LoRA adapters into full-precision base layers, for generation speed.

        Decoding a small model is bound by the number of ops, and unfused LoRA adds two
        matmuls to every adapted layer. Exact up to float rounding; adapters over
        quantized layers stay separate (re-quantizing would change the base model).
        """
        from mlx.utils import tree_unflatten
        from mlx_lm.tuner.lora import LoRALinear

        if self.fused:
            return self
        # Saving stays possible: keep the adapters as trained (they are small).
        self._unfused = dict(tree_flatten(self.trainable_parameters()))
        fused = [
            (name, module.fuse())
            for name, module in self.llm.named_modules()
            if isinstance(module, LoRALinear) and not isinstance(module.linear, nn.QuantizedLinear)
        ]
        if fused:
            self.llm.update_modules(tree_unflatten(fused))
            self.llm.freeze()
        self.fused = True
        return self

    # ---- forward -------------------------------------------------------------------

    def soft_tokens(self, series: mx.array, series_mask: mx.array) -> mx.array:
        """(B, L) z-scored points + (B, L) mask -> (B, P + K, d_llm) soft tokens."""
        features, _ = self.encoder(series, series_mask)
        return self.projector(features)

    def _embed_tokens(self, tokens: mx.array) -> mx.array:
        return self.llm.model.embed_tokens(tokens)

    def input_embeddings(self, tokens, soft_slots, series, series_mask) -> mx.array:
        """Token embeddings with the soft tokens spliced in at ``soft_slots`` -> (B, T, d)."""
        text = self._embed_tokens(tokens)
        soft = self.soft_tokens(series, series_mask).astype(text.dtype)
        soft = soft.reshape(-1, soft.shape[-1])[mx.maximum(soft_slots, 0)]  # (B, T, d)
        return mx.where((soft_slots >= 0)[..., None], soft, text)

    def __call__(self, tokens, soft_slots, series, series_mask, target_positions) -> mx.array:
        """Logits (B, A, vocab) at ``target_positions`` (the inputs before answer tokens)."""
        h = self.input_embeddings(tokens, soft_slots, series, series_mask)
        if self._head_only:
            hidden = self.llm.model(None, input_embeddings=h)
            hidden = mx.take_along_axis(hidden, target_positions[..., None], axis=1)
            if hasattr(self.llm, "lm_head"):
                return self.llm.lm_head(hidden)
            return self.llm.model.embed_tokens.as_linear(hidden)
        logits = self.llm(None, input_embeddings=h)
        return mx.take_along_axis(logits, target_positions[..., None], axis=1)

    # ---- describe ------------------------------------------------------------------

    def _prompt_embeddings(self, p: PromptTokens, zero_soft_tokens: bool):
        """(ids (T,), embeddings (T, d)) of one prompt, soft tokens spliced in."""
        ids = p.prefix + [self.prompts.pad_id] * p.n_soft + p.suffix
        text = self._embed_tokens(mx.array(ids))
        series = mx.array(p.series)[None]
        soft = self.soft_tokens(series, mx.ones(series.shape, dtype=mx.bool_))[0, : p.n_soft]
        if zero_soft_tokens:  # ablation: the prompt text alone
            soft = mx.zeros_like(soft)
        start = len(p.prefix)
        h = mx.concatenate([text[:start], soft.astype(text.dtype), text[start + p.n_soft :]])
        return mx.array(ids), h

    def generate(
        self,
        series,
        question: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        zero_soft_tokens: bool = False,
        logits_processors: list | None = None,
        facts: str = "",
    ):
        """mlx-lm ``GenerationResponse``s (text piece, token, tokens/s, ...) for a series.

        ``series``: a ``sadt.Series``, or anything ``sadt.read_series`` reads (array, list,
        CSV path, DataFrame, ...); ``facts`` the prompt's facts line. Returns (note,
        responses): ``note`` is non-empty when the series was longer than the encoder
        reads and only its last points were read.
        """
        from mlx_lm.generate import stream_generate
        from mlx_lm.sample_utils import make_sampler

        self.eval()
        view = self.prompts.view(_series_values(series))
        prompt = self.prompts.prompt(view, question, facts)
        ids, h = self._prompt_embeddings(prompt, zero_soft_tokens)
        if seed is not None:
            mx.random.seed(seed)
        sampler = make_sampler(temp=temperature, top_p=top_p if temperature > 0 else 0.0)
        responses = stream_generate(
            self.llm,
            self.tokenizer,
            ids,
            max_tokens=max_tokens,
            sampler=sampler,
            logits_processors=logits_processors,
            input_embeddings=h,
        )
        return (view.note if view.reduction == "last" else ""), responses

    def stream_describe(
        self,
        series,
        question: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        **kwargs,
    ) -> Iterator[str]:
        """Yield the description (or the answer to ``question``) piece by piece.

        A describer with facts (``prompt.facts``) reads the facts of the whole series
        (``sadt.describer.facts``) and its slots are filled with the series' own dates,
        units and calendar. An older one notes first when it read only the last points.
        ``kwargs``: ``top_p``, ``seed``, ``zero_soft_tokens``, ``logits_processors``,
        ``facts`` (a ``SeriesFacts`` to use in place of computing them; see ``generate``).
        """
        from sadt.describer.facts import compute_facts

        given = kwargs.pop("facts", None)
        if not self.prompts.config.facts:
            note, responses = self.generate(series, question, max_tokens, temperature, **kwargs)
            if note:
                yield note
            for response in responses:
                if response.text:
                    yield response.text
            return
        facts = given if given is not None else compute_facts(_as_series(series))
        yield from self._stream_slots(
            series, question, facts.prompt_text(), facts.slots(), max_tokens, temperature, kwargs
        )

    def stream_describe_forecast(
        self,
        history,
        median,
        low,
        high,
        future_labels: list[str] | None = None,
        max_tokens: int = 160,
        temperature: float = 0.0,
        **kwargs,
    ) -> Iterator[str]:
        """Yield a description of a forecast (median and 10-90 % band, each (h,)) after
        ``history``: whether it carries the cycle on, where it peaks next, where it ends,
        how wide the band grows. Needs a describer trained with facts."""
        from sadt.describer.data import FORECAST_QUESTION
        from sadt.describer.facts import compute_facts, forecast_facts

        if not self.prompts.config.facts:
            raise ValueError(
                "this describer was trained without facts and cannot describe a forecast; "
                "use one whose prompt config has facts: true (the bundled sadt-tiny has)."
            )
        history = _as_series(history)
        facts = compute_facts(history)
        ff = forecast_facts(facts, history.values, median, low, high, future_labels)
        joined = np.concatenate([history.values, np.asarray(median, dtype=np.float64)])
        text = f"{facts.prompt_text()} {ff.prompt_text()}"
        # The forecast's cycle is its own facts' ([P1] only when they name one).
        slots = {k: v for k, v in facts.slots().items() if k not in ("P1", "P2")}
        slots |= ff.slots()
        yield from self._stream_slots(
            joined, FORECAST_QUESTION, text, slots, max_tokens, temperature, kwargs
        )

    def _stream_slots(self, series, question, facts_text, slots, max_tokens, temperature, kw):
        from sadt.describer.facts import SlotStream

        _, responses = self.generate(
            series, question, max_tokens, temperature, facts=facts_text, **kw
        )
        stream = SlotStream(slots)
        for response in responses:
            piece = stream.feed(response.text) if response.text else ""
            if piece:
                yield piece
            if stream.repeated:  # a sentence said twice: the rest would loop
                break
        rest = stream.close()
        if rest:
            yield rest

    def describe(
        self,
        series,
        question: str | None = None,
        max_tokens: int = 256,
        temperature: float = 0.0,
        **kwargs,
    ) -> str:
        """The whole description (or answer) as one string; see ``stream_describe``."""
        return "".join(self.stream_describe(series, question, max_tokens, temperature, **kwargs))


def answer_loss(tslm: TSLM, tokens, soft_slots, series, series_mask, positions, targets, mask):
    """Mean cross-entropy over answer tokens -> (loss, number of answer tokens).

    Arguments are ``Batch.arrays()``; prompt and padding positions carry no loss.
    """
    logits = tslm(tokens, soft_slots, series, series_mask, positions)
    ce = nn.losses.cross_entropy(logits.astype(mx.float32), targets) * mask
    n = mask.sum()
    return ce.sum() / mx.maximum(n, 1.0), n


def _as_series(series):
    """A ``sadt.Series`` (timestamps and name kept) from anything ``read_series`` reads."""
    from sadt.series import Series, read_series

    if isinstance(series, Series):
        return series
    return read_series(series, min_length=2)


def _series_values(series) -> np.ndarray:
    """Original-scale values (n,) of a Series or anything ``read_series`` accepts."""
    from sadt.series import Series, read_series

    if isinstance(series, Series):
        return series.values
    return read_series(series, min_length=2).values
