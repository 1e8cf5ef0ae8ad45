"""sadt.settings: unknown keys rejected, numbers written as text coerced, bounds named."""

import re
from dataclasses import dataclass

import pytest

from sadt.forecaster.data import DataError, parse_rows
from sadt.forecaster.model import ForecasterConfig
from sadt.settings import at_least, checked, fraction, number_list, positive
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


def test_bounds_name_the_setting_and_pass_unset_values():
    @dataclass
    class Knobs:
        steps: int = 0
        lr: float = -1.0
        share: float = 1.5
        stop_at: int | None = None
        word: str = "fast"

    knobs = Knobs()
    with pytest.raises(ValueError, match=r"^steps must be >= 1, not 0$"):
        at_least(knobs, 1, "stop_at", "steps")  # None (unset) passes
    at_least(knobs, 0, "steps")
    with pytest.raises(ValueError, match=r"^stage 'x': lr must be > 0, not -1.0$"):
        positive(knobs, "lr", where="stage 'x': ")
    with pytest.raises(ValueError, match=r"^share must be between 0 and 1, not 1.5$"):
        fraction(knobs, "share")
    knobs.share = 1.0
    fraction(knobs, "share")
    with pytest.raises(ValueError, match=r"^share must be > 0 and < 1, not 1.0$"):
        fraction(knobs, "share", open_interval=True)
    with pytest.raises(ValueError, match="word must be a number, not 'fast'"):
        at_least(knobs, 0, "word")


def test_number_lists_refuse_a_bare_number_and_coerce_text():
    assert number_list(["24", 48.0], int, "horizons", "[24, 48]", minimum=8) == [24, 48]
    message = r"horizons must be a list of whole numbers >= 8, e\.g\. \[24, 48\], not 24$"
    with pytest.raises(ValueError, match=message):
        number_list(24, int, "horizons", "[24, 48]", minimum=8)
    for bad in ([4, 24], [24.5], [True], [], ["many"]):
        with pytest.raises(ValueError, match="horizons must be a list"):
            number_list(bad, int, "horizons", "[24, 48]", minimum=8)
    with pytest.raises(ValueError, match="lam_range must be a list of 2 numbers"):
        number_list([1.0, 2.0, 3.0], float, "lam_range", "[0.3, 3.0]", length=2)


def test_row_ranges_are_slices_and_anything_else_is_named():
    assert parse_rows("0:8640") == parse_rows([0, 8640]) == (0, 8640)
    assert parse_rows(":-96") == (0, -96) and parse_rows("100:") == (100, None)
    assert parse_rows(None) is None and parse_rows("") is None
    for bad in (5, "a:b", [1, 2, 3], "100:5", [0.5, 3], True):
        with pytest.raises(DataError, match=r"^split must look like '0:8640' or \[0, 8640\]"):
            parse_rows(bad, "split")


def test_null_is_refused_unless_the_annotation_allows_it():
    # YAML `null` (`--steps null`) used to pass and crash later in arithmetic.
    @dataclass
    class Knobs:
        steps: int = 1
        out_dir: str = "run"
        stop_at: int | None = None

    with pytest.raises(ValueError, match=r"^training setting steps must be a number, not empty"):
        checked(Knobs, {"steps": None}, "training")
    with pytest.raises(ValueError, match=r"^training setting out_dir must be set, not empty"):
        checked(Knobs, {"out_dir": None}, "training")
    assert checked(Knobs, {"stop_at": None}, "training") == {"stop_at": None}
    # String annotations (``from __future__ import annotations``) are read the same way.
    with pytest.raises(ValueError, match="value network setting hidden must be a number"):
        ValueConfig.from_dict({"feature_dim": 2, "weight_dim": 1, "hidden": None})
    assert ValueConfig.from_dict({"feature_dim": 2, "weight_dim": 1, "base_feature": None})
    # A config built directly, past checked(), is still caught by the bounds.
    with pytest.raises(ValueError, match=r"^steps must be a number, not empty \(null\)$"):
        at_least(Knobs(steps=None), 1, "steps")
    at_least(Knobs(), 1, "stop_at")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_bounds_refuse_nan_and_infinity(bad):
    # NaN fails every comparison, so `nan < minimum` let it through every bound.
    @dataclass
    class Knobs:
        lr: float = bad

    for check in (lambda k: at_least(k, 0, "lr"), lambda k: positive(k, "lr"),
                  lambda k: fraction(k, "lr")):  # fmt: skip
        with pytest.raises(ValueError, match=r"^lr must be a finite number, not -?(nan|inf)$"):
            check(Knobs())
    with pytest.raises(ValueError, match="source_weights must be a list of numbers"):
        number_list([1.0, bad], float, "source_weights", "[2, 1]")


def test_row_ranges_with_infinity_or_a_base_60_reading_are_one_sentence():
    for bad in ("0:inf", [0, float("inf")], [float("-inf"), 5], "0:nan"):
        with pytest.raises(DataError, match=r"^split must look like '0:8640'"):
            parse_rows(bad, "split")  # int(inf) raised OverflowError past the DataError
    # YAML 1.1 reads an unquoted 10:20 as 620: the message says how to write it.
    hint = """(YAML reads an unquoted 10:20 as the base-60 number 620: write '"10:20"' in """
    with pytest.raises(DataError, match=re.escape(f"not 620 {hint}quotes or [10, 20])")):
        parse_rows(620, "split")
