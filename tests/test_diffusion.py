"""The diffusion forecaster: shapes, the DDIM transition the tree samplers call, files."""

import sadt  # noqa: F401  (first: fast BLAS before mlx.core)

# isort: split
import json

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten, tree_map

from sadt.errors import MissingModelFile, ModelFileError
from sadt.forecaster import Forecaster, ForecasterConfig, normalize_context
from sadt.forecaster.schedule import ddim_coefficients, level_alpha_bars

TINY = dict(
    context_length=48,
    horizon=16,
    num_steps=5,
    encoder_dim=32,
    encoder_hidden=64,
    encoder_blocks=1,
    denoiser_dim=32,
    denoiser_hidden=64,
    denoiser_blocks=2,
    time_features=16,
)


def tiny(**overrides) -> Forecaster:
    mx.random.seed(0)
    model = Forecaster(ForecasterConfig(**{**TINY, **overrides}))
    # Non-zero output layer, so the denoiser's output depends on its inputs.
    model.denoiser.out.weight = mx.random.normal(model.denoiser.out.weight.shape) * 0.1
    return model


def sine(n: int, level: float = 50.0, amplitude: float = 5.0) -> np.ndarray:
    return level + amplitude * np.sin(2 * np.pi * np.arange(n) / 12)


def rows(model: Forecaster, batch: int, level: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    context = mx.array(rng.standard_normal((1, model.config.context_length), dtype=np.float32))
    cond = mx.repeat(model.encode(context), batch, axis=0)
    x = mx.array(rng.standard_normal((batch, model.config.horizon), dtype=np.float32))
    return x, mx.full((batch,), level, dtype=mx.int32), cond


def noise_like(x: mx.array, seed: int) -> mx.array:
    return mx.array(np.random.default_rng(seed).standard_normal(x.shape, dtype=np.float32))


def test_config_round_trips_and_rejects_unknown_keys():
    config = ForecasterConfig(**TINY)
    assert ForecasterConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown forecaster model settings"):
        ForecasterConfig.from_dict({**TINY, "hidden": 3})
    with pytest.raises(ValueError, match="prediction"):
        ForecasterConfig(prediction="x0")


def test_normalize_context_pads_short_and_keeps_the_last_points_of_long():
    values, mask, mean, std = normalize_context(np.arange(10.0), 16)
    assert values.shape == mask.shape == (16,) and values.dtype == np.float32
    assert mask.tolist() == [0.0] * 6 + [1.0] * 10 and np.all(values[:6] == 0)
    assert mean == pytest.approx(4.5) and std == pytest.approx(np.arange(10.0).std())
    long, mask, mean, _ = normalize_context(np.arange(100.0), 16)
    assert mask.all() and mean == pytest.approx(np.arange(84, 100).mean())
    _, _, _, std = normalize_context(np.full(30, 7.0), 16)
    assert std > 0  # a flat context still has a usable scale


@pytest.mark.parametrize("scaling", ["context", "recent"])
@pytest.mark.parametrize("scale, offset", [(1e-9, 0.0), (1e12, 0.0), (0.22, 1e6), (1e-7, 3e-6)])
def test_normalized_context_is_the_same_in_any_unit(scale, offset, scaling):
    # A series' forecast must not depend on its unit: an absolute std floor once turned a
    # 1e-7-scale series into noise around 0.
    x = np.sin(np.arange(300) / 5.0) + 0.1 * np.random.default_rng(0).standard_normal(300)
    reference, _, _, ref_std = normalize_context(x, 256, scaling=scaling)
    values, mask, mean, std = normalize_context(offset + scale * x, 256, scaling=scaling)
    np.testing.assert_allclose(values, reference, atol=1e-4)
    np.testing.assert_allclose(std, scale * ref_std, rtol=1e-6)
    if scaling == "context":
        np.testing.assert_allclose(ref_std, x[-256:].std(), rtol=1e-6)
    else:
        np.testing.assert_allclose(ref_std, x[-128:].std(), rtol=1e-6)  # the recent half


def test_recent_scaling_keeps_recent_points_apart_under_a_huge_old_value():
    # A yearly count series with one disaster year 1000x its usual level, long ago.
    rng = np.random.default_rng(1)
    x = 50.0 + 10.0 * rng.standard_normal(60)
    x[5] = 1e5
    whole, _, _, _ = normalize_context(x, 64)
    recent, _, _, std = normalize_context(x, 64, scaling="recent", clip=20.0)
    assert np.ptp(whole[-30:]) < 0.01  # the z-score squashes the recent half flat
    assert np.ptp(recent[-30:]) > 2.0 and std == pytest.approx(x[-32:].std(), rel=1e-6)
    assert recent.max() == 20.0  # the old value is capped as the trainer caps its windows


def test_recent_scaling_falls_back_when_the_recent_half_is_flat():
    # An intermittent series whose recent half is all zeros still gets the whole history's
    # spread, not a vanishing scale that would blow the old counts up.
    x = np.r_[np.tile([0.0, 0.0, 4.0], 30), np.zeros(90)]
    _, _, mean, std = normalize_context(x, 256, scaling="recent")
    assert mean == 0.0 and std == pytest.approx(x.std(), rel=1e-6)
    with pytest.raises(ValueError, match="scaling"):
        normalize_context(x, 256, scaling="median")
    with pytest.raises(ValueError, match="scaling"):
        ForecasterConfig(scaling="median")


@pytest.mark.parametrize("scaling", ["context", "recent"])
def test_constant_context_normalizes_to_zeros(scaling):
    for level in (0.0, 5.0, -1e9):
        values, mask, mean, std = normalize_context(np.full(64, level), 64, scaling=scaling)
        assert np.all(values == 0) and mean == level and np.isfinite(std) and std > 0


def test_schedule_runs_from_clean_to_almost_pure_noise():
    alpha_bars = level_alpha_bars(20, -10.0, 10.0)
    assert alpha_bars[0] == 1.0 and np.all(np.diff(alpha_bars) < 0)
    assert alpha_bars[-1] == pytest.approx(1 / (1 + np.exp(10.0)), rel=1e-6)
    coefficients = ddim_coefficients(20, -10.0, 10.0)
    assert coefficients[1, 3] == 0 and coefficients[1, 4] == 0  # last step: no noise
    # eta = 1: the variance kept plus the noise added equals 1 - alpha_bar of the next level.
    np.testing.assert_allclose(
        coefficients[2:, 3] ** 2 + coefficients[2:, 4] ** 2, 1 - alpha_bars[1:-1], rtol=1e-5
    )


@pytest.mark.parametrize(
    ("prediction", "feature_mean", "denoiser_film"),
    [("epsilon", True, True), ("v", False, False), ("v", True, True)],
)
def test_encode_and_step_shapes_and_dtypes(prediction, feature_mean, denoiser_film):
    model = tiny(prediction=prediction, feature_mean=feature_mean, denoiser_film=denoiser_film)
    x, level, cond = rows(model, 8, 3)
    assert cond.shape == (8, 16 + model.config.modulation_dim) and cond.dtype == mx.float32
    x_prev, x0_hat = model.step(x, level, cond, noise_like(x, 1))
    assert x_prev.shape == x0_hat.shape == (8, 16)
    assert x_prev.dtype == x0_hat.dtype == mx.float32
    assert np.isfinite(np.array(x_prev)).all()


def test_step_is_stochastic_and_seeded_by_the_callers_noise():
    model = tiny()
    x, level, cond = rows(model, 4, 3)
    a, _ = model.step(x, level, cond, noise_like(x, 1))
    b, _ = model.step(x, level, cond, noise_like(x, 1))
    c, _ = model.step(x, level, cond, noise_like(x, 2))
    assert np.array_equal(np.array(a), np.array(b))
    assert not np.allclose(np.array(a), np.array(c))


def test_last_step_returns_the_denoised_sample_without_noise():
    model = tiny()
    x, level, cond = rows(model, 4, 1)
    a, x0_hat = model.step(x, level, cond, noise_like(x, 1))
    b, _ = model.step(x, level, cond, noise_like(x, 2))
    np.testing.assert_array_equal(np.array(a), np.array(b))
    np.testing.assert_array_equal(np.array(a), np.array(x0_hat))


def test_rows_at_different_levels_equal_separate_calls():
    model = tiny()
    x, _, cond = rows(model, 5, 1)
    levels = mx.array([5, 4, 3, 2, 1], dtype=mx.int32)
    noise = noise_like(x, 3)
    together, together_x0 = model.step(x, levels, cond, noise)
    for i in range(5):
        alone, alone_x0 = model.step(
            x[i : i + 1], levels[i : i + 1], cond[i : i + 1], noise[i : i + 1]
        )
        np.testing.assert_allclose(np.array(alone), np.array(together[i : i + 1]), atol=1e-5)
        np.testing.assert_allclose(np.array(alone_x0), np.array(together_x0[i : i + 1]), atol=1e-5)


def test_compiled_step_equals_eager_and_follows_new_weights():
    model = tiny()
    x, level, cond = rows(model, 6, 4)
    noise = noise_like(x, 1)
    first = np.array(model.step(x, level, cond, noise)[0])  # a new batch size runs eagerly
    compiled = np.array(model.step(x, level, cond, noise)[0])
    np.testing.assert_allclose(first, compiled, atol=1e-5)
    model.use_compile = False
    np.testing.assert_allclose(compiled, np.array(model.step(x, level, cond, noise)[0]), atol=1e-5)
    model.use_compile = True
    model.update(tree_map(lambda p: p * 1.5, model.parameters()))
    changed = np.array(model.step(x, level, cond, noise)[0])  # compiled, with the new weights
    model.use_compile = False
    np.testing.assert_allclose(changed, np.array(model.step(x, level, cond, noise)[0]), atol=1e-5)
    assert not np.allclose(changed, compiled)


def test_nfe_accounting_counts_every_denoiser_row(monkeypatch):
    model = tiny()
    model.use_compile = False  # eager, so every denoiser call runs Python we can count
    calls = []
    original = type(model.denoiser).__call__

    def counting(self, u, modulation):
        calls.append(u.shape[0])
        return original(self, u, modulation)

    monkeypatch.setattr(type(model.denoiser), "__call__", counting)
    model.sample(sine(60), n=7, seed=0)
    assert model.nfe == sum(calls) == 7 * model.config.num_steps
    assert len(calls) == model.config.num_steps  # one batched call per level
    x, level, cond = rows(model, 3, 2)
    model.step(x, level, cond, noise_like(x, 0))
    assert model.nfe == sum(calls) == 7 * model.config.num_steps + 3


def test_sample_is_seeded_and_in_the_original_scale():
    model = tiny()
    context = sine(100, level=1000.0, amplitude=10.0)
    a = model.sample(context, n=16, seed=3)
    assert a.shape == (16, 16) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, model.sample(context, n=16, seed=3))
    assert not np.allclose(a, model.sample(context, n=16, seed=4))
    assert abs(np.median(a) - 1000.0) < 200.0  # mapped back around the context's level


def test_sample_many_matches_sample_for_one_context():
    model = tiny()
    context = sine(70)
    np.testing.assert_allclose(
        model.sample_many([context], 4, seed=1)[0], model.sample(context, 4, seed=1)
    )


def test_dropout_acts_in_training_mode_only():
    model = tiny(encoder_dropout=0.5)
    context = mx.array(np.random.default_rng(0).standard_normal((2, 48), dtype=np.float32))
    assert np.array_equal(np.array(model.encode(context)), np.array(model.encode(context)))
    model.train()
    assert not np.array_equal(np.array(model.encode(context)), np.array(model.encode(context)))


def test_short_context_of_40_points_works():
    model = tiny(context_length=64)
    samples = model.sample(sine(40), n=8, seed=0)
    assert samples.shape == (8, 16) and np.isfinite(samples).all()


def test_save_load_round_trip_gives_identical_samples(tmp_path):
    model = tiny()
    model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["sadt_class"] == "Forecaster" and config["format_version"] == 1
    loaded = Forecaster.load(tmp_path / "m")
    assert loaded.config == model.config
    for (k, a), (_, b) in zip(
        tree_flatten(model.parameters()), tree_flatten(loaded.parameters()), strict=True
    ):
        assert np.array_equal(np.array(a), np.array(b)), k
    np.testing.assert_array_equal(
        model.sample(sine(50), 8, seed=5), loaded.sample(sine(50), 8, seed=5)
    )


def test_load_names_the_bad_file(tmp_path):
    with pytest.raises(MissingModelFile, match="config.json"):
        Forecaster.load(tmp_path / "nothing")
    tiny().save(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelFileError, match="model.safetensors.*truncated or corrupted"):
        Forecaster.load(tmp_path / "m")
    weights.unlink()
    with pytest.raises(MissingModelFile, match="model.safetensors"):
        Forecaster.load(tmp_path / "m")

    tiny().save(tmp_path / "m")
    config_path = tmp_path / "m" / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "horizon": 24}))
    with pytest.raises(ModelFileError, match="model.safetensors does not match its config"):
        Forecaster.load(tmp_path / "m")
    config_path.write_text(json.dumps({**config, "sadt_class": "ValueNetwork"}))
    with pytest.raises(ModelFileError, match="'ValueNetwork' model"):
        Forecaster.load(tmp_path / "m")
    config_path.write_text("{not json")
    with pytest.raises(ModelFileError, match="config.json is not valid JSON"):
        Forecaster.load(tmp_path / "m")
