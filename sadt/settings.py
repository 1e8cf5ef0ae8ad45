"""Dataclass configs from user dicts (YAML, JSON, ``--key value``): one checked entry point.

Every config class builds through ``checked(cls, d, what)``: an unknown key is an error
that lists the known ones, and a number written as text becomes a number (YAML 1.1 reads
``3e-4`` or ``1e-06`` as a string, which would otherwise fail deep inside training).
"""

from __future__ import annotations

from dataclasses import fields

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
        kind = _NUMBER_TYPES.get(str(known[name].type))
        if kind is None or value is None or isinstance(value, bool):
            continue
        out[name] = _number(kind, value, f"{what} setting {name}")
    return out


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
