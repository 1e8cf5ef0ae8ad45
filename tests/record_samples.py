"""Record every method's samples from a committed tiny pipeline, so a refactor that changes
what users get shows up (tests/test_recorded_samples.py compares against the record).

    python tests/record_samples.py          # rebuild the models only if they are missing,
                                            # then (re)write recorded/samples.json

Re-record only for a change that is meant to alter samples, and say so in the commit."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FOLDER = HERE / "fixtures" / "recorded"
SETTINGS = {"horizon": 24, "budget": 120, "num_samples": 8, "seed": 3}


def history() -> np.ndarray:
    """300 hourly-like values: a daily cycle, a slow trend and noise (fixed)."""
    t = np.arange(300.0)
    noise = np.random.default_rng(7).normal(0, 0.4, t.size)
    return 20 + 0.01 * t + 5 * np.sin(2 * np.pi * t / 24) + noise


def build_models() -> None:
    """A tiny blended, scaled-residual forecaster with random (not zero) output layers and
    a tiny value network, saved as model folders (float32; ~150 KB)."""
    import mlx.core as mx
    from tiny_models import tiny_forecaster, tiny_value

    forecaster = tiny_forecaster(seed=11, blend_bases=True, scaled_residual=True)
    out = forecaster.denoiser.out
    out.weight = 0.05 * mx.random.normal(out.weight.shape, key=mx.random.key(12))
    forecaster.save(FOLDER / "forecaster")
    tiny_value(seed=13).save(FOLDER / "value")


def pipeline():
    from sadt.forecaster import Forecaster
    from sadt.pipeline import Pipeline, SearchSettings
    from sadt.value import ValueNetwork

    forecaster = Forecaster.load(FOLDER / "forecaster")
    value = ValueNetwork.load(FOLDER / "value")
    return Pipeline(forecaster, None, value, SearchSettings(batch=8))


def samples_by_method() -> dict[str, np.ndarray]:
    from sadt.methods import METHODS

    pipe = pipeline()
    return {m: pipe.forecast(history(), method=m, **SETTINGS).samples for m in sorted(METHODS)}


def main() -> None:
    sys.path.insert(0, str(HERE))
    if not (FOLDER / "forecaster").is_dir():
        build_models()
    record = {m: s.tolist() for m, s in samples_by_method().items()}
    (FOLDER / "samples.json").write_text(json.dumps({"settings": SETTINGS, "samples": record}))
    print(f"recorded {', '.join(record)} in {FOLDER / 'samples.json'}")


if __name__ == "__main__":
    import sadt  # noqa: F401  (the fast BLAS first)

    main()
