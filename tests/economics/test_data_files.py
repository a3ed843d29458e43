"""Data hygiene: every cost item has a source and a verified flag; copies match the shared reference."""

import tomllib
from pathlib import Path

import pytest

from mhtcdt.datafiles import load_toml, provenance_problems
from mhtcdt.economics import cost_data, jurisdiction

REFERENCE = Path("/work/shared/reference/economics_parameters.toml")
DATA_DIR = Path(__file__).resolve().parents[2] / "mhtcdt" / "economics" / "data"


@pytest.mark.parametrize("name", sorted(p.name for p in DATA_DIR.glob("*.toml")))
def test_every_data_file_obeys_the_provenance_rule(name):
    """Every table holding values has a source and a boolean verified flag (mhtcdt.datafiles rule)."""
    assert provenance_problems(load_toml("mhtcdt.economics", f"data/{name}"), name) == []


def test_every_item_has_source_and_verified_flag():
    data = cost_data()
    for section in ("reference", "utilities", "mht_micro_costing"):
        for key, item in data[section].items():
            assert "source" in item, f"{section}.{key} has no source"
            assert isinstance(item.get("verified"), bool), f"{section}.{key} has no verified flag"
    for key, item in data["mht_micro_costing"].items():
        lo, hi = item["range"]
        assert lo <= item["value"] <= hi, key
        assert "unit" in item, key


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared reference folder not available")
def test_copies_match_the_shared_reference():
    with REFERENCE.open("rb") as fh:
        ref = tomllib.load(fh)
    data = cost_data()
    for key in (
        "nanotherm_course",
        "radiotherapy_course_england",
        "temozolomide_recurrence_cycle",
        "radiotherapy_by_fractions_ireland",
        "nanoparticle_material_at_scale",
    ):
        for field, value in ref["costs"][key].items():
            if field in ("source", "unit"):
                continue
            assert data["reference"][key][field] == value, (key, field)
    assert data["utilities"]["glioblastoma"]["progressed_range"] == ref["utilities"]["glioblastoma"]["progressed_range"]
    for key, conv in ref["hta_conventions"].items():
        j = jurisdiction(key)
        assert (j.discount_costs, j.discount_effects) == (conv["discount_costs"], conv["discount_effects"])
        assert j.verified == conv["verified"]
