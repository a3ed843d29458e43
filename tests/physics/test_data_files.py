"""Provenance of the physics data: every table of ``physics/data/*.toml`` that holds values carries a source
and a boolean ``verified`` flag (the rule of :func:`mhtcdt.datafiles.provenance_problems`), and the physical
constants marked verified agree with scipy's copy of CODATA (an independent source)."""

from __future__ import annotations

from importlib import resources

import pytest
import scipy.constants as sc

from mhtcdt.datafiles import load_toml, provenance_problems

DATA_DIR = resources.files("mhtcdt.physics").joinpath("data")
DATA_FILES = sorted(f.name for f in DATA_DIR.iterdir() if f.name.endswith(".toml"))


def test_every_physics_data_file_is_checked():
    assert {"agents.toml", "chemistry.toml", "magnetics.toml", "radiobiology.toml", "tissues.toml"} <= set(DATA_FILES)


@pytest.mark.parametrize("name", DATA_FILES)
def test_every_table_has_a_source_and_a_verified_flag(name: str):
    assert provenance_problems(load_toml("mhtcdt.physics", f"data/{name}"), name) == []


def test_verified_physical_constants_agree_with_codata():
    """k_B and R are exact in the 2019 SI; mu0 is CODATA 2018 in the file, and scipy >= 1.15 ships CODATA 2022,
    which differs by 7e-10 relative (within 4 standard uncertainties), so mu0 is compared to 1e-9."""
    magnetics = load_toml("mhtcdt.physics", "data/magnetics.toml")["constants"]
    chemistry = load_toml("mhtcdt.physics", "data/chemistry.toml")["conventions"]
    assert magnetics["verified"] and chemistry["verified"]
    assert magnetics["mu0_H_per_m"] == pytest.approx(sc.mu_0, rel=1e-9, abs=0.0)
    assert magnetics["boltzmann_J_per_K"] == sc.k
    assert magnetics["body_temperature_K"] == pytest.approx(37.0 + sc.zero_Celsius, rel=1e-15, abs=0.0)
    # the file keeps the 10 significant digits CODATA 2018 prints for the exact R = N_A k_B
    assert chemistry["gas_constant_J_per_mol_K"] == pytest.approx(sc.R, rel=1e-10, abs=0.0)
