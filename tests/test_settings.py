"""sadt.settings.checked: unknown keys rejected, numbers written as text coerced."""

import pytest

from sadt.forecaster.model import ForecasterConfig
from sadt.settings import checked
from sadt.value import ValueConfig


def test_numbers_written_as_text_become_numbers():
    # YAML 1.1 reads "1e-06" as a string: a CLI override must still train.
    config = ForecasterConfig.from_dict({"std_floor": "1e-06", "horizon": "48"})
    assert config.std_floor == 1e-6 and isinstance(config.std_floor, float)
    assert config.horizon == 48 and isinstance(config.horizon, int)


def test_unknown_keys_and_bad_numbers_are_one_clear_error():
    with pytest.raises(ValueError, match=r"unknown forecaster model settings \['horizn'\]"):
        ForecasterConfig.from_dict({"horizn": 48})
    with pytest.raises(ValueError, match="horizon must be a whole number"):
        ForecasterConfig.from_dict({"horizon": 4.5})
    with pytest.raises(ValueError, match="must be a number, not 'fast'"):
        ValueConfig.from_dict({"hidden": "fast"})


def test_non_mappings_are_refused():
    with pytest.raises(ValueError, match="must be a mapping"):
        checked(ValueConfig, ["hidden", 64], "value network")
