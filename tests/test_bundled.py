"""The bundled default (sadt/assets/sadt-tiny): small, loads offline, describes and forecasts."""

import numpy as np

import sadt
from sadt.hub import BUNDLED


def test_the_bundled_default_is_small_and_complete():
    files = {p.relative_to(BUNDLED).as_posix(): p.stat().st_size for p in BUNDLED.rglob("*")}
    assert {"forecaster/model.safetensors", "tslm/model.safetensors", "README.md"} <= set(files)
    assert any(name.startswith("tslm/llm/") for name in files)  # the Llama travels with it
    assert sum(files.values()) < 12e6  # a few MB in git


def test_the_bundled_default_describes_and_forecasts():
    pipe = sadt.from_pretrained()
    t = np.arange(400)
    series = 10 + 0.01 * t + 3 * np.sin(2 * np.pi * t / 24)
    text = pipe.describe(series, max_tokens=60)
    assert len(text.split()) >= 5
    forecast = pipe.forecast(series, horizon=24, method="dts", budget=400, num_samples=8)
    assert forecast.samples.shape == (8, 24) and forecast.nfe <= 400
    # A trained forecaster continues the daily cycle: the forecast's swing is of the
    # history's order (an untrained one would give noise or a flat line).
    swing = np.ptp(forecast.median)
    assert 2.0 < swing < 12.0
