"""Data hygiene of the cohorts layer: every value of an indication file and of the criteria presets has a
source and a verified flag (read through the package's one TOML loader)."""

from __future__ import annotations

import pytest

from mhtcdt.cohorts import known_indications
from mhtcdt.datafiles import load_toml, provenance_problems


@pytest.mark.parametrize("indication", known_indications())
def test_indication_files_have_sources(indication):
    name = f"indications/{indication}.toml"
    assert provenance_problems(load_toml("mhtcdt.cohorts", name), name) == []


def test_criteria_presets_have_sources():
    assert provenance_problems(load_toml("mhtcdt.cohorts", "criteria_presets.toml"), "criteria_presets.toml") == []
