"""Validated input widgets built from the scenario schema (bounds and units come from pydantic).

Each widget reads its label unit, minimum, maximum and help text from the ``Field`` of the
scenario model, so the app can never drift from the schema: an inclusive bound (``ge``/``le``)
becomes the widget's limit, a strict bound (``gt``/``lt``) is left to validation, which then
shows its message in the page.
"""

from __future__ import annotations

import re
from typing import Any

import annotated_types as at
import streamlit as st
from pydantic import BaseModel

_UNIT_RE = re.compile(r"\[([^\]]+)\]")


def field_bounds(model: type[BaseModel], name: str) -> tuple[float | None, float | None]:
    """Inclusive (min, max) of a model field from its ``ge``/``le`` constraints (None if open)."""
    lo = hi = None
    for meta in model.model_fields[name].metadata:
        if isinstance(meta, at.Ge):
            lo = meta.ge
        elif isinstance(meta, at.Le):
            hi = meta.le
    return lo, hi


def field_unit(model: type[BaseModel], name: str) -> str | None:
    """The unit written in brackets in the field description, e.g. 'kHz' from '... [kHz].'"""
    desc = model.model_fields[name].description or ""
    m = _UNIT_RE.search(desc)
    return m.group(1).replace("degC", "°C") if m else None


def number_field(
    model: type[BaseModel],
    name: str,
    value: float | int,
    *,
    key: str,
    label: str | None = None,
    unit: str | None = None,
    step: float | int | None = None,
    fmt: str | None = None,
    scale: float = 1.0,
    max_value: float | None = None,
) -> float | int:
    """A number input for ``model.name`` with schema bounds; returns the value in model units.

    ``scale`` shows the value multiplied by it (e.g. 100 to edit a rate as a percentage). ``max_value``
    (model units) lowers the schema's maximum (e.g. to what this server can hold in memory,
    :mod:`mhtcdt.app.limits`); a larger value is lowered to it with a message above the widget.
    """
    lo, hi = field_bounds(model, name)
    if max_value is not None:
        hi = max_value if hi is None else min(hi, max_value)
        if value > max_value:
            st.warning(
                f"{(label or name).capitalize()}: the scenario asks for {value:,}, more than this server can compute "
                f"in memory; the app uses {max_value:,} (the command line can run more).",
                icon=":material/memory:",
            )
            value = type(value)(max_value)
    unit = unit or field_unit(model, name)
    text = label or name.replace("_", " ")
    if unit:
        text = f"{text} [{unit}]"
    integer = isinstance(value, int) and not isinstance(value, bool) and scale == 1.0
    kwargs: dict[str, Any] = {"key": key, "help": model.model_fields[name].description}
    if integer:
        kwargs.update(
            min_value=None if lo is None else int(lo),
            max_value=None if hi is None else int(hi),
            step=int(step or 1),
            value=int(value),
        )
        return int(st.number_input(text, **kwargs))
    kwargs.update(
        min_value=None if lo is None else float(lo) * scale,
        max_value=None if hi is None else float(hi) * scale,
        value=float(value) * scale,
        step=float(step) if step is not None else None,
        format=fmt,
    )
    shown = st.number_input(text, **{k: v for k, v in kwargs.items() if v is not None or k == "min_value"})
    return float(shown) / scale
