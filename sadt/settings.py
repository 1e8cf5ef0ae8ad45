"""Dataclass configs from user dicts (YAML, JSON, ``--key value``): one checked entry point.

Every config class builds through ``checked(cls, d, what)``: an unknown key is an error
that lists the known ones, and a number written as text becomes a number (YAML 1.1 reads
``3e-4`` or ``1e-06`` as a string, which would otherwise fail deep inside training), and
an empty value (YAML ``null``) is refused unless the field's annotation allows None.
The bound checks below (``at_least``, ``positive``, ``fraction``, ``number_list``) are what
the configs' ``__post_init__`` use, so every out-of-range value is caught the same way.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields, is_dataclass

_NUMBER_TYPES = {"int": int, "float": float, "int | None": int, "float | None": float}


def checked(cls, d: dict, what: str) -> dict:
    """``d`` as keyword arguments for ``cls``: keys checked, numeric fields coerced."""
    if not isinstance(d, dict):
        raise ValueError(f"the {what} settings must be a mapping, not {type(d).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise ValueError(f"unknown {what} settings {unknown}; known: {sorted(known)}")
    out = dict(d)
    for name, value in d.items():
        kind = _NUMBER_TYPES.get(_type_text(known[name].type))
        if value is None and not _allows_none(known[name].type):
            need = "a number" if kind else "set"
            raise ValueError(f"{what} setting {name} must be {need}, not empty (null)")
        if kind is None or value is None or isinstance(value, bool):
            continue
        out[name] = _number(kind, value, f"{what} setting {name}")
    return out


def _type_text(annotation) -> str:
    """A field annotation as written: a string under ``from __future__ import annotations``,
    else ``int`` for the class int and ``int | None`` for that union."""
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)


def _allows_none(annotation) -> bool:
    """Whether a field annotation admits None: ``int | None``, ``Optional[str]``, ``Any``."""
    words = set(re.findall(r"\w+", _type_text(annotation)))
    return bool({"None", "NoneType", "Optional", "Any"} & words)


def _number(kind, value, where: str):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must be a number, not {value!r}") from None
    if kind is int:
        if not number.is_integer():
            raise ValueError(f"{where} must be a whole number, not {value!r}")
        return int(number)
    return number


# -- bounds -----------------------------------------------------------------------------------
# Config dataclasses call these from ``__post_init__``: a bad value is one sentence naming the
# setting when the config is built, not a crash (a modulo by zero, a log of 0) deep inside a run.
# ``where`` prefixes the name (e.g. "stage 'mcq': "); None is unset and passes where the field's
# annotation allows it. NaN and infinity are refused: NaN fails every comparison, so it would
# pass any bound unnoticed.


def at_least(config, minimum, *names: str, where: str = "") -> None:
    """Every setting in ``names`` is a number >= ``minimum``."""
    for name in names:
        value = _value(config, name, where)
        if value is not None and value < minimum:
            raise ValueError(f"{where}{name} must be >= {minimum}, not {value!r}")


def at_most(config, maximum, *names: str, where: str = "") -> None:
    """Every setting in ``names`` is a number <= ``maximum``."""
    for name in names:
        value = _value(config, name, where)
        if value is not None and value > maximum:
            raise ValueError(f"{where}{name} must be <= {maximum}, not {value!r}")


def positive(config, *names: str, where: str = "") -> None:
    """Every setting in ``names`` is a number > 0."""
    for name in names:
        value = _value(config, name, where)
        if value is not None and value <= 0:
            raise ValueError(f"{where}{name} must be > 0, not {value!r}")


def fraction(config, *names: str, where: str = "", open_interval: bool = False) -> None:
    """Every setting in ``names`` lies in [0, 1] (in (0, 1) with ``open_interval``)."""
    for name in names:
        value = _value(config, name, where)
        if value is None:
            continue
        inside = 0 < value < 1 if open_interval else 0 <= value <= 1
        if not inside:
            bounds = "> 0 and < 1" if open_interval else "between 0 and 1"
            raise ValueError(f"{where}{name} must be {bounds}, not {value!r}")


def _value(config, name: str, where: str):
    value = getattr(config, name)
    if value is None:
        if is_dataclass(config) and not _allows_none(_annotation(config, name)):
            raise ValueError(f"{where}{name} must be a number, not empty (null)")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}{name} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where}{name} must be a finite number, not {value!r}")
    return value


def _annotation(config, name: str):
    return next((f.type for f in fields(config) if f.name == name), "None")


def number_list(value, kind, where: str, example: str, minimum=None, length=None) -> list:
    """``value`` as a list of ``kind`` (int or float) numbers, each >= ``minimum`` and
    ``length`` of them when given; anything else (a bare number where a list belongs, a word)
    is one sentence that shows ``example``."""
    noun = "whole numbers" if kind is int else "numbers"
    noun = noun if minimum is None else f"{noun} >= {minimum}"
    count = "" if length is None else f"{length} "
    problem = ValueError(f"{where} must be a list of {count}{noun}, e.g. {example}, not {value!r}")
    if not isinstance(value, (list, tuple)) or not value or any(isinstance(v, bool) for v in value):
        raise problem
    try:
        numbers = [_number(kind, v, where) for v in value]
    except ValueError:
        raise problem from None
    if not all(math.isfinite(n) for n in numbers):  # NaN would pass the minimum unnoticed
        raise problem
    if (length is not None and len(numbers) != length) or (
        minimum is not None and min(numbers) < minimum
    ):
        raise problem
    return numbers
