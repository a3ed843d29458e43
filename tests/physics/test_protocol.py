"""Protocol validation and the cohort API simulate_protocol (contract section 2)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mhtcdt.cohorts import generate_cohort
from mhtcdt.errors import InputError
from mhtcdt.physics import PRESETS, Assumptions, Protocol, chain, protocol_preset, simulate_protocol
from mhtcdt.physics import radiotherapy as rt
from mhtcdt.physics.particles import load_agent

CONTRACT = {
    "patient_id": "int64",
    "t90_C": "float64",
    "t50_C": "float64",
    "t10_C": "float64",
    "cem43_t90_min": "float64",
    "max_healthy_C": "float64",
    "field_kA_per_m_applied": "float64",
    "oh_cumulative_uM_min": "float64",
    "gsh_nadir_mM": "float64",
    "lipid_peroxide_peak": "float64",
    "log10_kill_heat": "float64",
    "log10_kill_cdt": "float64",
    "log10_kill_rt": "float64",
    "log10_kill_interaction": "float64",
    "log10_kill_total": "float64",
    "surviving_fraction": "float64",
    "safety_ok": "bool",
    "dose_mg_Fe_per_cm3_applied": "float64",
    "peak_tumour_C": "float64",
    "thermometry_max_C": "float64",
    "thermometry_min_C": "float64",
    "healthy_cem43_max_min": "float64",
    "healthy_cem43_course_min": "float64",
    "field_ceiling_kA_per_m": "float64",
    "field_stop_reason": "object",
}


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return generate_cohort("recurrent_glioblastoma", 8, seed=11)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"agent": "magnetite_dust"}, "agent"),
        ({"cdt_agent": "fairy_powder"}, "cdt_agent"),
        ({"co_agents": ["buthionine_sulfoximine", "snake_oil"]}, "co_agents[1]"),
        ({"np_dose_mg_Fe_per_cm3": -3.0}, "np_dose_mg_Fe_per_cm3"),
        ({"np_dose_mg_Fe_per_cm3": float("inf")}, "np_dose_mg_Fe_per_cm3"),
        ({"session_minutes": 200.0, "session_interval_hours": 3.0}, "session_minutes"),
        ({"rt_total_dose_Gy": -30.0}, "rt_total_dose_Gy"),
        ({"field_kA_per_m": 60.0}, "field_kA_per_m"),
        ({"n_sessions": -1}, "n_sessions"),
        ({"target_temperature_C": 90.0}, "target_temperature_C"),
        ({"safety_limit": "whatever"}, "safety_limit"),
        # the bounds kept from the scenario schema where it was the tighter one
        ({"n_sessions": 51}, "n_sessions"),
        ({"session_interval_hours": 24.0 * 60 + 1}, "session_interval_hours"),
        ({"session_minutes": 60.0, "session_interval_hours": 1.0}, "session_minutes"),  # back to back
        ({"rt_total_dose_Gy": 121.0, "rt_n_fractions": 61}, "rt_total_dose_Gy"),
        ({"rt_heat_interval_hours": 73.0}, "rt_heat_interval_hours"),
        ({"healthy_max_C": 60.0}, "healthy_max_C"),  # the titration controller needs < 60 C
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
def test_bad_protocols_name_field_and_value(changes: dict, field: str) -> None:
    with pytest.raises(InputError) as exc:
        protocol_preset("mht_rt_nanotherm", **changes)
    assert exc.value.field == field
    if field == "agent":
        assert "nanotherm_mfl_as1" in exc.value.message  # lists the known agents


def test_bad_protocol_name_and_nested_paths_are_named() -> None:
    with pytest.raises(InputError) as exc:
        Protocol(name="")
    assert exc.value.field == "name"
    with pytest.raises(InputError) as exc:
        Protocol(co_agents=["buthionine_sulfoximine", 7])
    assert (exc.value.field, exc.value.value) == ("co_agents[1]", 7)


def test_field_above_limit_runs_only_when_allowed_and_is_flagged(cohort: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="atkinson_brezovich"):
        protocol_preset("mht_alone", field_kA_per_m=10.0, safety_limit="atkinson_brezovich")
    p = protocol_preset(
        "mht_alone", field_kA_per_m=10.0, safety_limit="atkinson_brezovich", allow_above_safety_limit=True, n_sessions=1
    )
    out = simulate_protocol(cohort.iloc[:3], p, seed=1)
    assert not out["safety_ok"].any()


def test_all_presets_are_valid_protocols() -> None:
    for name in PRESETS:
        assert isinstance(protocol_preset(name), Protocol)


def test_slp_factor_draws_are_lognormal_and_keyed_by_patient() -> None:
    gsd = load_agent("mnfe2o4").calibration.gsd
    ids = np.arange(20000)
    draws = chain.slp_factors(gsd, 1, ids)
    assert np.std(np.log(draws)) == pytest.approx(math.log(gsd), rel=0.03)
    assert abs(np.log(np.median(draws))) < 0.05 * math.log(gsd)  # median 1 (standard error 0.009 log(gsd))
    # a patient's draw depends on its id, not on which other patients are drawn with it
    np.testing.assert_array_equal(chain.slp_factors(gsd, 1, ids[[7, 3]]), draws[[7, 3]])
    assert not np.array_equal(chain.slp_factors(gsd, 2, ids[:10]), draws[:10])


def test_bad_patient_values_are_refused(cohort: pd.DataFrame) -> None:
    bad = cohort.copy()
    bad.loc[bad.index[3], "ph_extracellular"] = 2.0
    with pytest.raises(InputError) as exc:
        simulate_protocol(bad, protocol_preset("rt_alone"), seed=0)
    assert exc.value.field == "patients.ph_extracellular[3]" and exc.value.value == 2.0
    with pytest.raises(InputError, match="missing columns"):
        simulate_protocol(cohort.drop(columns=["gsh_mM"]), protocol_preset("rt_alone"), seed=0)


def test_rt_alone_gives_the_lq_kill_and_no_heat(cohort: pd.DataFrame) -> None:
    out = simulate_protocol(cohort, protocol_preset("rt_alone"), seed=0)
    assert dict(out.dtypes.astype(str)) == CONTRACT
    assert list(out["patient_id"]) == list(cohort["patient_id"])
    rb = rt.radiobiology("recurrent_glioblastoma")
    alpha = chain._patient_alpha(cohort, rb, 0, Assumptions())
    expected = 15 * (alpha * 2.0 + alpha / 8.0 * 4.0) / math.log(10)  # LQ, alpha/beta = 8 Gy, per patient
    np.testing.assert_allclose(out["log10_kill_rt"], expected, rtol=1e-9)
    fixed = simulate_protocol(
        cohort,
        protocol_preset("rt_alone"),
        seed=0,
        assumptions=Assumptions(rt_alpha_heterogeneity=False),
    )
    np.testing.assert_allclose(fixed["log10_kill_rt"], 4.5 / math.log(10), rtol=1e-9)  # Pedicini alpha = 0.12
    np.testing.assert_allclose(out["log10_kill_total"], out["log10_kill_rt"] + out["log10_kill_cdt"], rtol=1e-12)
    assert (out["log10_kill_heat"] == 0).all() and (out["t90_C"] == 37.0).all()
    # untreated cells sit at their homeostatic peroxidation level: no ferroptotic kill without treatment
    assert (out["log10_kill_cdt"] < 1e-6).all()
    assert (out["field_kA_per_m_applied"] == 0).all() and (out["dose_mg_Fe_per_cm3_applied"] == 0).all()


def test_nanotherm_arm_heats_within_limits_and_adds_kill(cohort: pd.DataFrame) -> None:
    rt_only = simulate_protocol(cohort, protocol_preset("rt_alone"), seed=0)
    out = simulate_protocol(cohort, protocol_preset("mht_rt_nanotherm"), seed=0)
    assert dict(out.dtypes.astype(str)) == CONTRACT
    assert (out["t10_C"] >= out["t50_C"]).all() and (out["t50_C"] >= out["t90_C"]).all()
    assert (out["t90_C"] > 38.0).all()
    # the stepwise control respects the healthy limit (it cuts one step at the next action: a brief overshoot)
    assert (out["max_healthy_C"] <= 43.0 + 0.5).all()
    assert out["safety_ok"].all()  # no patient's healthy tissue above its per-session CEM43 limit
    assert (out["healthy_cem43_max_min"] <= 15.0 + 1e-6).all()  # brain: Ikeda 1994
    assert (out["field_kA_per_m_applied"] > 0).all() and (out["field_kA_per_m_applied"] <= 18.0 + 1e-9).all()
    assert (out["log10_kill_total"] > rt_only["log10_kill_total"]).all()
    parts = out[["log10_kill_heat", "log10_kill_cdt", "log10_kill_rt", "log10_kill_interaction"]].sum(axis=1)
    np.testing.assert_allclose(parts, out["log10_kill_total"], rtol=1e-10)
    np.testing.assert_allclose(out["surviving_fraction"], 10.0 ** -out["log10_kill_total"], rtol=1e-10)
    # heat and CDT cannot reach the clonogens infiltrating beyond the enhancing volume: a ceiling
    rb = rt.radiobiology("recurrent_glioblastoma")
    f_inf = chain._infiltrative_fraction(cohort, rb, 0)
    assert (out["log10_kill_total"] <= rt_only["log10_kill_total"] - np.log10(f_inf) + 1e-9).all()


def test_infiltrative_fraction_is_lognormal_around_its_median() -> None:
    rb = rt.radiobiology("recurrent_glioblastoma")
    fake = pd.DataFrame({"patient_id": np.arange(4000, dtype=np.int64)})
    f = chain._infiltrative_fraction(fake, rb, 9)
    # the data file's population median and its 2.5-97.5 % range of patients (lognormal; clipped at 0.9)
    assert rb.infiltrative_clonogen_fraction == 0.2 and rb.infiltrative_clonogen_fraction_range == (0.045, 0.9)
    assert np.median(f) == pytest.approx(0.2, rel=0.08)
    lo, hi = np.quantile(f, [0.025, 0.975])
    assert lo == pytest.approx(0.045, rel=0.2) and hi == pytest.approx(0.9, rel=0.2)
    assert f.max() <= 0.9
    np.testing.assert_array_equal(f[:10], chain._infiltrative_fraction(fake.iloc[:10], rb, 9))


def test_deterministic_and_independent_of_chunking(cohort: pd.DataFrame, monkeypatch) -> None:
    p = protocol_preset("mht_cdt_rt", n_sessions=2)
    whole = simulate_protocol(cohort, p, seed=5)
    again = simulate_protocol(cohort, p, seed=5)
    pd.testing.assert_frame_equal(whole, again)
    monkeypatch.setattr(chain, "CHUNK_PATIENTS", 3)
    chunked = simulate_protocol(cohort, p, seed=5)
    pd.testing.assert_frame_equal(whole, chunked)
    halves = pd.concat(
        [simulate_protocol(cohort.iloc[:5], p, seed=5), simulate_protocol(cohort.iloc[5:], p, seed=5)],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(whole, halves)
    other_seed = simulate_protocol(cohort, p, seed=6)
    assert not np.allclose(whole["t90_C"], other_seed["t90_C"])  # the SLP draw depends on the seed


def test_cdt_alone_has_particles_but_no_heat(cohort: pd.DataFrame) -> None:
    out = simulate_protocol(cohort, protocol_preset("cdt_alone"), seed=0)
    endogenous = simulate_protocol(cohort, protocol_preset("rt_alone"), seed=0)
    assert (out["t90_C"] == 37.0).all() and (out["log10_kill_rt"] == 0).all()
    assert (out["dose_mg_Fe_per_cm3_applied"] == 10.0).all()
    # the deposit's .OH exposure exceeds the endogenous one although its cells die within hours (their chemistry
    # stops there), and its ferroptotic kill is far above the untreated level
    assert (out["oh_cumulative_uM_min"] > endogenous["oh_cumulative_uM_min"]).all()
    assert (out["log10_kill_cdt"] > endogenous["log10_kill_cdt"] + 0.1).all()


def test_gsh_synthesis_inhibitor_lowers_the_gsh_nadir(cohort: pd.DataFrame) -> None:
    a = simulate_protocol(cohort, protocol_preset("cdt_alone"), seed=0)
    b = simulate_protocol(cohort, protocol_preset("cdt_alone", co_agents=["buthionine_sulfoximine"]), seed=0)
    assert (b["gsh_nadir_mM"] < 0.5 * a["gsh_nadir_mM"]).all()
    assert (b["log10_kill_total"] >= a["log10_kill_total"] - 1e-12).all()


def test_more_rt_dose_never_less_kill(cohort: pd.DataFrame) -> None:
    low = simulate_protocol(cohort, protocol_preset("rt_alone", rt_total_dose_Gy=20.0, rt_n_fractions=10), seed=0)
    high = simulate_protocol(cohort, protocol_preset("rt_alone", rt_total_dose_Gy=30.0, rt_n_fractions=15), seed=0)
    assert (high["log10_kill_total"] > low["log10_kill_total"]).all()


def test_empty_cohort_returns_contract_columns(cohort: pd.DataFrame) -> None:
    out = simulate_protocol(cohort.iloc[:0], protocol_preset("rt_alone"), seed=0)
    assert list(out.columns) == list(CONTRACT) and len(out) == 0


def test_assumptions_are_validated_and_change_results(cohort: pd.DataFrame) -> None:
    with pytest.raises(InputError) as exc:
        Assumptions(chemistry_overrides={"k.fe2_h2o2_typo": 70.0})
    assert exc.value.field == "overrides.k.fe2_h2o2_typo"
    with pytest.raises(InputError):
        Assumptions(thermotolerance="eternal")
    p = protocol_preset("mht_alone", n_sessions=3)
    base = simulate_protocol(cohort.iloc[:3], p, seed=0)
    no_cap = simulate_protocol(cohort.iloc[:3], p, seed=0, assumptions=Assumptions(infiltrative_clonogen_fraction=0.0))
    assert (no_cap["log10_kill_heat"] > base["log10_kill_heat"]).all()
    no_tt = simulate_protocol(
        cohort.iloc[:3],
        p,
        seed=0,
        assumptions=Assumptions(thermotolerance="none", infiltrative_clonogen_fraction=0.0),
    )
    assert (no_tt["log10_kill_heat"] >= no_cap["log10_kill_heat"] - 1e-9).all()
    cdt = protocol_preset("cdt_alone")
    # the ends of the sourced range of the Millero-Sotolongo k2 (the default, pH-dependent Fenton rate)
    slow_fenton = simulate_protocol(
        cohort.iloc[:3], cdt, seed=0, assumptions=Assumptions(chemistry_overrides={"fenton.log10_k2_A": 11.61})
    )
    fast_fenton = simulate_protocol(
        cohort.iloc[:3], cdt, seed=0, assumptions=Assumptions(chemistry_overrides={"fenton.log10_k2_A": 11.83})
    )
    assert (fast_fenton["oh_cumulative_uM_min"] > slow_fenton["oh_cumulative_uM_min"]).all()
    with pytest.raises(InputError) as exc:
        Assumptions(chemistry_overrides={"fenton_model.ligated_oh_fraction": 1.5})
    assert exc.value.field == "overrides.fenton_model.ligated_oh_fraction" and exc.value.value == 1.5


def test_field_sessions_in_contraindicated_patients_are_flagged(cohort: pd.DataFrame) -> None:
    c = cohort.iloc[:3].copy()
    c["metal_implant"] = [True, False, False]
    c["pacemaker"] = [False, True, False]
    out = simulate_protocol(c, protocol_preset("mht_alone", n_sessions=1), seed=0)
    assert list(out["safety_ok"]) == [False, False, True]
    assert simulate_protocol(c, protocol_preset("rt_alone"), seed=0)["safety_ok"].all()  # no field, no issue


def test_radiosensitivity_is_drawn_over_the_pedicini_range() -> None:
    rb = rt.radiobiology("recurrent_glioblastoma")
    fake = pd.DataFrame({"patient_id": np.arange(4000, dtype=np.int64)})
    alpha = chain._patient_alpha(fake, rb, 3, Assumptions())
    assert np.mean(alpha) == pytest.approx(0.12, abs=0.001)
    lo, hi = np.quantile(alpha, [0.025, 0.975])
    assert lo == pytest.approx(0.10, abs=0.003) and hi == pytest.approx(0.14, abs=0.003)
