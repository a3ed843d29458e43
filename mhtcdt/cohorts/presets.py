"""Eligibility-criteria presets (``criteria_presets.toml``) with a source and verified flag per criterion.

``criteria_presets_table()`` returns one row per criterion:

| column | dtype | meaning |
|---|---|---|
| preset | object (str) | preset key, e.g. "mf1001_drks00005476" |
| indication | object (str) | indication the preset applies to |
| step | int64 | 1-based order of the criterion within the preset |
| expression | object (str) | criterion in the criteria grammar |
| rationale | object (str) | what it encodes and where it comes from |
| verified | bool | False = recalled or a modelling proxy |
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pandas as pd

from mhtcdt.cohorts.criteria import parse_criterion
from mhtcdt.cohorts.generator import generate_cohort
from mhtcdt.datafiles import load_toml
from mhtcdt.errors import InputError

PRESETS_FILE = "criteria_presets.toml"  # in the mhtcdt.cohorts package


@dataclass(frozen=True)
class CriteriaPreset:
    """A named, sourced list of criteria for one indication."""

    name: str
    label: str
    indication: str
    source: str
    verified: bool
    criteria: tuple[str, ...]
    rationales: tuple[str, ...]
    verified_each: tuple[bool, ...]


@functools.cache
def _all_presets() -> dict[str, CriteriaPreset]:
    raw = load_toml("mhtcdt.cohorts", PRESETS_FILE)
    presets = {}
    for name, spec in raw.items():
        field = f"{PRESETS_FILE}.{name}"
        for key in ("label", "indication", "source", "verified", "criteria"):
            if key not in spec:
                raise InputError(f"{field}.{key}", None, "required key missing")
        empty = generate_cohort(spec["indication"], 0, seed=0)
        items = spec["criteria"]
        for i, item in enumerate(items):
            parse_criterion(item["expression"], list(empty.columns), field=f"{field}.criteria[{i}]")
        presets[name] = CriteriaPreset(
            name=name,
            label=spec["label"],
            indication=spec["indication"],
            source=spec["source"],
            verified=bool(spec["verified"]),
            criteria=tuple(item["expression"] for item in items),
            rationales=tuple(item["rationale"] for item in items),
            verified_each=tuple(bool(item["verified"]) for item in items),
        )
    return presets


def list_criteria_presets(indication: str | None = None) -> list[str]:
    """Preset names, optionally only those for ``indication``."""
    return sorted(n for n, p in _all_presets().items() if indication is None or p.indication == indication)


def criteria_preset(name: str) -> CriteriaPreset:
    """The preset called ``name``; unknown names raise InputError listing the known ones."""
    presets = _all_presets()
    if not isinstance(name, str) or name not in presets:
        raise InputError("criteria_preset", name, f"unknown preset; known: {sorted(presets)}")
    return presets[name]


def criteria_presets_table() -> pd.DataFrame:
    """All presets, one row per criterion (columns in the module docstring)."""
    rows = []
    for p in _all_presets().values():
        for step, (expr, why, ok) in enumerate(zip(p.criteria, p.rationales, p.verified_each, strict=True), 1):
            rows.append((p.name, p.indication, step, expr, why, ok))
    return pd.DataFrame(rows, columns=["preset", "indication", "step", "expression", "rationale", "verified"])
