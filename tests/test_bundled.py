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


def test_the_bundled_describer_speaks_in_the_series_own_time_and_units():
    """A monthly series with timestamps and a name: the description names the yearly cycle
    with its months, the span in dates and the levels in the data's units, and claims no
    event the series does not have; the forecast gets its own description."""
    import pandas as pd

    from sadt.describer.captions import parse_description
    from sadt.series import Series

    t = np.arange(240)
    values = 200 + 1.5 * t + 20 * np.sin(2 * np.pi * t / 12)
    values += np.random.default_rng(0).normal(0, 2, t.size)
    stamps = pd.date_range("2000-01-01", periods=240, freq="MS")
    series = Series(values, stamps, "MS", "sales")
    pipe = sadt.from_pretrained()
    text = pipe.describe(series)
    found = parse_description(text)
    assert "yearly cycle of 12 months" in text and "between Jan 2000 and Dec 2019" in text
    assert found["trend"] == "up" and found["period"] == 12
    assert found["spikes"] is not True and found["level_shifts"] is not True
    assert "[" not in text
    forecast = pipe.forecast(series, horizon=24, method="ancestral", budget=32 * 20, seed=0)
    about = pipe.describe_forecast(forecast)
    assert "forecast" in about.lower() and "[" not in about and "band" in about
