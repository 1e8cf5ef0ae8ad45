"""Every method's samples for a fixed seed are what they were when recorded (before the
layout moves): a refactor must not change what users get. tests/record_samples.py wrote
the record from the committed tiny models in tests/fixtures/recorded/."""

import json

import numpy as np
import pytest
from record_samples import FOLDER, SETTINGS, samples_by_method

from sadt.methods import METHODS


@pytest.fixture(scope="module")
def now():
    return samples_by_method()


@pytest.fixture(scope="module")
def recorded():
    return json.loads((FOLDER / "samples.json").read_text())


def test_the_record_covers_every_method_with_its_settings(recorded):
    assert sorted(recorded["samples"]) == sorted(METHODS)
    assert recorded["settings"] == SETTINGS


@pytest.mark.parametrize("method", sorted(METHODS))
def test_samples_are_as_recorded(method, now, recorded):
    want = np.array(recorded["samples"][method])
    assert want.shape == (SETTINGS["num_samples"], SETTINGS["horizon"])
    assert np.unique(want, axis=0).shape[0] > 1  # a real fan, not one repeated path
    # float32 GEMMs may round differently on another CPU's kernels: 1e-5, not bits
    np.testing.assert_allclose(now[method], want, rtol=1e-5, atol=1e-6)
