"""Patch encoder: shapes, padding invariance, patch alignment, config round trip."""

import sadt  # noqa: F401  (fast BLAS before mlx.core)

# isort: split
import mlx.core as mx
import numpy as np
import pytest

from sadt.describer.patch_encoder import (
    PatchEncoder,
    PatchEncoderConfig,
    log_spectrum,
    pad_to_patches,
)

SMALL = PatchEncoderConfig(
    channels=16, num_layers=2, num_heads=4, ff_dims=32, max_patches=32, spectral_tokens=6
)


def test_default_shapes_are_opentslm_sp():
    c = PatchEncoderConfig()
    assert (c.patch_size, c.stride, c.channels) == (4, 4, 128)
    assert (c.num_layers, c.num_heads, c.ff_dims) == (6, 8, 1024)
    encoder = PatchEncoder(c)
    # MLX Conv1d weight is (C_out, K, C_in); the inputs are the values and their differences.
    assert encoder.patch_embed.weight.shape == (128, 4, 2)


def test_output_has_one_vector_per_patch_then_the_spectral_tokens():
    mx.random.seed(0)
    encoder = PatchEncoder(SMALL)
    features, token_mask = encoder(mx.random.normal((3, 40)))
    assert features.shape == (3, 10 + 6, 16) and SMALL.num_tokens(40) == 16
    assert token_mask.shape == (3, 16) and bool(token_mask.all())


def test_a_series_encodes_the_same_alone_and_in_a_padded_batch():
    mx.random.seed(1)
    encoder = PatchEncoder(SMALL)
    short = mx.random.normal((1, 24))
    alone, _ = encoder(short)
    batch = mx.concatenate([mx.pad(short, [(0, 0), (0, 40)], constant_values=9.0),
                            mx.random.normal((1, 64))])  # fmt: skip
    mask = mx.array(np.arange(64)[None] < np.array([[24], [64]]))
    padded, token_mask = encoder(batch, mask)
    real = np.flatnonzero(np.asarray(token_mask[0]))
    np.testing.assert_array_equal(real, [0, 1, 2, 3, 4, 5, 16, 17, 18, 19, 20, 21])
    np.testing.assert_allclose(np.asarray(padded[0])[real], np.asarray(alone[0]), atol=1e-4)


def test_log_spectrum_peaks_at_the_period_and_ignores_trend_and_padding():
    periods = SMALL.spectral_periods()
    assert periods[0] == 4 and periods[-1] == SMALL.max_length / 2
    t = np.arange(100)
    for period in (6.0, 20.0, 45.0):
        x = np.sin(2 * np.pi * t / period) + 0.05 * t  # a strong trend on top
        spectrum = np.asarray(log_spectrum(mx.array(x[None]), mx.ones((1, 100)), periods))[0]
        assert abs(np.log(periods[spectrum.argmax()] / period)) < 0.5
    x = mx.array(np.sin(t / 3.0)[None])
    padded = mx.concatenate([x, mx.full((1, 28), 7.0)], axis=1)
    mask = mx.array(np.arange(128)[None] < 100)
    np.testing.assert_allclose(
        np.asarray(log_spectrum(padded, mask, periods)),
        np.asarray(log_spectrum(x, mx.ones((1, 100)), periods)),
        atol=1e-3,
    )


@pytest.mark.parametrize("n", [1, 3, 4, 5, 17, 64])
def test_pad_to_patches_keeps_the_last_point_at_a_patch_end(n):
    values = np.arange(1, n + 1, dtype=np.float32)
    padded = pad_to_patches(values, SMALL)
    assert len(padded) % SMALL.patch_size == 0 and len(padded) >= SMALL.patch_size
    assert padded[-1] == n and np.all(padded[: len(padded) - n] == 1.0)  # edge padding


def test_config_round_trips_and_rejects_unknown_keys():
    assert PatchEncoderConfig.from_dict(SMALL.to_dict()) == SMALL
    with pytest.raises(ValueError, match="unknown"):
        PatchEncoderConfig.from_dict({"chanels": 3})
    assert SMALL.max_length == 128 and SMALL.num_patches(128) == 32
