"""Tiny real models for pipeline, hub, CLI and app tests, built in seconds.

Nothing here is a mock: a forecaster, a TSLM on a tiny Llama (built with the project's own
train/tiny_llama.py) and a value network, all untrained but complete, saved as a real
pipeline folder.
"""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np

from sadt.describer.model import TSLM, TSLMConfig
from sadt.describer.patch_encoder import PatchEncoderConfig
from sadt.describer.prompt import PromptConfig
from sadt.forecaster import Forecaster, ForecasterConfig
from sadt.forecaster.chain import ForecastChain
from sadt.pipeline import Pipeline, SearchSettings
from sadt.train.tiny_llama import TinyLlamaConfig, build
from sadt.value import ValueConfig, ValueNetwork

TEXTS = [
    f"Time series of {n} points, mean {m} std {s}:\nDescribe the series.\n"
    f"The series {w} with a cycle of {p} steps and {z} noise."
    for n in (64, 128)
    for m in (1.5, -20.25)
    for s in (0.5, 3.75)
    for w in ("rises", "falls", "stays flat")
    for p in (7, 12, 24)
    for z in ("low", "high")
]


def tiny_forecaster(
    seed: int = 0,
    horizon: int = 24,
    num_steps: int = 6,
    blend_bases: bool = False,
    scaled_residual: bool = False,
    **settings,
) -> Forecaster:
    """A forecaster of a few thousand weights; ``settings`` override ForecasterConfig's."""
    mx.random.seed(seed)
    cfg = ForecasterConfig(
        blend_bases=blend_bases,
        scaled_residual=scaled_residual,
        context_length=settings.pop("context_length", 96),
        horizon=horizon,
        num_steps=num_steps,
        encoder_dim=32,
        encoder_hidden=32,
        encoder_blocks=1,
        denoiser_dim=32,
        denoiser_hidden=32,
        denoiser_blocks=1,
        time_features=16,
        **settings,
    )
    model = Forecaster(cfg)
    mx.eval(model.parameters())
    return model


def tiny_tslm(folder: Path, seed: int = 0) -> TSLM:
    llm = build(
        folder / "llm-src",
        TEXTS,
        TinyLlamaConfig(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            intermediate_size=64,
            vocab_size=300,
            max_position_embeddings=512,
        ),
        seed=seed,
    )
    mx.random.seed(seed)
    encoder = PatchEncoderConfig(channels=16, num_layers=1, num_heads=2, ff_dims=32, max_patches=32)
    # As the bundled describer: a facts line in the prompt, long series read as block means.
    prompt = PromptConfig(facts=True, long_series="mean")
    return TSLM.from_base(TSLMConfig(encoder=encoder, prompt=prompt), llm)


def tiny_value(seed: int = 0) -> ValueNetwork:
    """An untrained value network shaped for the forecast chain's features and weights."""
    feature_dim, weight_dim = ForecastChain.VALUE_FEATURES, ForecastChain.VALUE_WEIGHTS
    mx.random.seed(seed)
    model = ValueNetwork(ValueConfig(feature_dim=feature_dim, weight_dim=weight_dim, hidden=16))
    mx.eval(model.parameters())
    return model


def tiny_pipeline(folder: Path, with_value: bool = True) -> Pipeline:
    card = {
        "model_name": "sadt-test",
        "base_model": "mlx-community/Llama-3.2-1B-Instruct-4bit",
        "datasets": ["synthetic"],
        "metrics": {"ETTh1": {"crps": 0.5}},
    }
    return Pipeline(
        tiny_forecaster(),
        tiny_tslm(folder),
        tiny_value() if with_value else None,
        SearchSettings(batch=8),
        card,
    )


def hourly_csv(path: Path, n: int = 300, seed: int = 0) -> Path:
    """A CSV with timestamps and a daily cycle, like a user's upload."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 20 + 5 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.5, n)
    stamps = np.datetime64("2024-01-01T00:00") + t.astype("timedelta64[h]")
    lines = ["timestamp,load"] + [f"{s},{v:.4f}" for s, v in zip(stamps, values, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path
