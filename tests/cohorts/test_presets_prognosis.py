"""Criteria presets (sourced) and the prognostic structure (effects table, design, Park scale)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mhtcdt.cohorts import (
    apply_criteria,
    criteria_preset,
    criteria_presets_table,
    generate_cohort,
    known_indications,
    list_criteria_presets,
    park_group,
    park_median_os_months,
    park_score,
    prognostic_design,
    prognostic_effects,
    prognostic_log_hazard,
)
from mhtcdt.errors import InputError


@pytest.fixture(scope="module")
def gbm():
    return generate_cohort("recurrent_glioblastoma", 20000, seed=77)


def test_required_presets_exist_with_sources() -> None:
    names = list_criteria_presets("recurrent_glioblastoma")
    assert {"nanotherm_gbm_maier_hauff_2011", "mf1001_drks00005476", "pipeline_default"} <= set(names)
    mf = criteria_preset("mf1001_drks00005476")
    assert "DRKS00005476" in mf.source and mf.verified is False
    assert "kps >= 70" in mf.criteria
    mh = criteria_preset("nanotherm_gbm_maier_hauff_2011")
    assert "Maier-Hauff" in mh.source and "kps >= 60" in mh.criteria
    assert criteria_preset("pipeline_default").criteria == (
        "kps >= 60",
        "not metal_implant",
        "not pacemaker",
        "tumour_volume_cm3 <= 100",
    )
    table = criteria_presets_table()
    assert list(table.columns) == ["preset", "indication", "step", "expression", "rationale", "verified"]
    assert (table["rationale"].str.len() > 5).all()
    assert set(table["indication"]) == set(known_indications())


@pytest.mark.parametrize("name", list_criteria_presets())
def test_every_preset_applies_to_its_indication(name: str) -> None:
    preset = criteria_preset(name)
    cohort = generate_cohort(preset.indication, 5000, seed=3)
    sel = apply_criteria(cohort, list(preset.criteria))
    assert len(sel.flow) == len(preset.criteria) + 1
    assert 0 < sel.n_eligible < len(cohort)


def test_unknown_preset_lists_known() -> None:
    with pytest.raises(InputError) as info:
        criteria_preset("nanotherm_2099")
    assert info.value.field == "criteria_preset" and "mf1001_drks00005476" in info.value.message


def test_mf1001_keeps_only_first_recurrence_after_standard_therapy(gbm) -> None:
    sel = apply_criteria(gbm, list(criteria_preset("mf1001_drks00005476").criteria))
    e = sel.eligible
    assert (e["recurrence_number"] == 1).all() and e["prior_radiotherapy"].all() and e["prior_chemotherapy"].all()
    assert (e["kps"] >= 70).all() and not e["metal_implant"].any() and (e["tumour_volume_cm3"] <= 65).all()


def test_park_score_matches_direct_count(gbm) -> None:
    score = park_score(gbm)
    direct = (
        (gbm["kps"] <= 80).astype(int)
        + (gbm["tumour_volume_cm3"] >= 50).astype(int)
        + gbm["eloquent_location"].astype(int)
    )
    np.testing.assert_array_equal(score.to_numpy(), direct.to_numpy())
    assert score.dtype == np.int64 and score.name == "park_score"
    groups = park_group(gbm)
    assert (groups.astype(str)[score == 0] == "0").all()
    assert (groups.astype(str)[score.between(1, 2)] == "1-2").all()
    assert (groups.astype(str)[score == 3] == "3").all()
    assert park_median_os_months() == {"0": 10.8, "1-2": 4.5, "3": 1.0}


def test_park_boundaries() -> None:
    df = pd.DataFrame(
        {
            "kps": [80, 90, 90, 80],
            "tumour_volume_cm3": [50.0, 49.9, 10.0, 80.0],
            "eloquent_location": [True, False, False, True],
        }
    )
    assert park_score(df).tolist() == [3, 0, 0, 3]


@pytest.mark.parametrize("indication", known_indications())
def test_prognostic_effects_table(indication: str) -> None:
    eff = prognostic_effects(indication)
    assert len(eff) >= 3
    np.testing.assert_allclose(eff["log_hr"], np.log(eff["hazard_ratio"]))
    assert ((eff["hr_ci_lower"] <= eff["hazard_ratio"]) & (eff["hazard_ratio"] <= eff["hr_ci_upper"])).all()
    assert (eff["endpoint"] == "OS").all() and (eff["source"].str.len() > 10).all()
    assert eff["verified"].dtype == bool


def test_gbm_effects_cover_required_covariates() -> None:
    eff = prognostic_effects("recurrent_glioblastoma").set_index("covariate")
    assert {"kps_le_80", "volume_ge_50", "eloquent_location", "age_per_10_years", "mgmt_methylated"} <= set(eff.index)
    assert eff.loc["mgmt_methylated", "hazard_ratio"] < 1 < eff.loc["kps_le_80", "hazard_ratio"]


def test_log_hazard_equals_hand_computation(gbm) -> None:
    eff = prognostic_effects("recurrent_glioblastoma").set_index("covariate")["log_hr"]
    manual = (
        (gbm["kps"] <= 80) * eff["kps_le_80"]
        + (gbm["tumour_volume_cm3"] >= 50) * eff["volume_ge_50"]
        + gbm["eloquent_location"] * eff["eloquent_location"]
        + (gbm["age_years"] - 56.0) / 10.0 * eff["age_per_10_years"]
        + gbm["mgmt_methylated"] * eff["mgmt_methylated"]
    )
    np.testing.assert_allclose(prognostic_log_hazard(gbm).to_numpy(), manual.to_numpy(), rtol=1e-12, atol=1e-12)


def test_log2_per_unit_design_for_psa() -> None:
    df = generate_cohort("prostate", 200, seed=1)
    x = prognostic_design(df)["psa_per_doubling"]
    np.testing.assert_allclose(x, np.log2(df["psa_ng_per_mL"] / 7.5))
    hr = prognostic_effects("prostate").set_index("covariate")["hazard_ratio"]
    manual = (
        (df["gleason_grade_group"] >= 3) * math.log(hr["grade_group_ge_3"])
        + np.log2(df["psa_ng_per_mL"] / 7.5) * math.log(hr["psa_per_doubling"])
        + (df["age_years"] - 68.0) / 10.0 * math.log(hr["age_per_10_years"])
        + (df["ecog"] >= 1) * math.log(hr["ecog_ge_1"])
    )
    np.testing.assert_allclose(prognostic_log_hazard(df).to_numpy(), manual.to_numpy(), rtol=1e-12)


def test_mixed_indications_need_explicit_indication() -> None:
    mixed = pd.concat([generate_cohort("prostate", 5, 1), generate_cohort("pancreas", 5, 1)], ignore_index=True)
    with pytest.raises(InputError) as info:
        prognostic_log_hazard(mixed)
    assert info.value.field == "cohort.indication"
