"""Typed records from the physics data tables: one way to turn a TOML table into a frozen dataclass.

The loaders of ``particles``, ``tissue``, ``thermotolerance``, ``dose`` and ``radiotherapy`` look an entry up
by key (:func:`table_entry`: an unknown key is an :class:`~mhtcdt.errors.InputError` listing the known ones)
and build their dataclass from it (:func:`table_record`: each field read under its own name and converted to
its declared type), so a new parameter is one dataclass field and one TOML key.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from mhtcdt.errors import InputError

T = TypeVar("T")
_CONVERT: dict[Any, Any] = {float: float, int: int, str: str, bool: bool}


def table_entry(table: Mapping[str, Any], key: str, field: str, what: str) -> Mapping[str, Any]:
    """``table[key]``; for an unknown key, an InputError naming ``field`` and the sorted known keys."""
    if key not in table:
        raise InputError(field, key, f"unknown {what}; known: {sorted(table)}")
    return table[key]


def table_record(cls: type[T], values: Mapping[str, Any], **given: Any) -> T:
    """The dataclass ``cls`` with the fields in ``given`` as given and every other field read from
    ``values[field name]`` and converted to its declared type (float, int, str or bool); a field missing
    from ``values`` keeps its default."""
    hints = typing.get_type_hints(cls)
    kwargs = dict(given)
    for f in dataclasses.fields(cls):
        if f.name in kwargs or (f.name not in values and f.default is not dataclasses.MISSING):
            continue
        kwargs[f.name] = _CONVERT[hints[f.name]](values[f.name])
    return cls(**kwargs)
