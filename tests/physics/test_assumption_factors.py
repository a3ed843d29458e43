"""Assumptions multipliers (SLP, coverage, perfusion, thermal enhancement) against independent equivalents, the
solve/combine split of the chain, and the cached per-patient draws."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mhtcdt.cohorts import generate_cohort
from mhtcdt.errors import InputError
from mhtcdt.physics import Assumptions, Protocol, chain, simulate_protocol
from mhtcdt.physics import radiotherapy as rt
from mhtcdt.seeding import child_rng

HEAT_COLUMNS = ["t90_C", "t50_C", "t10_C", "cem43_t90_min", "max_healthy_C", "log10_kill_heat"]


@pytest.fixture(scope="module")
def patients():
    return generate_cohort("recurrent_glioblastoma", 12, seed=11).reset_index(drop=True)


def _fixed(**changes) -> Protocol:
    base = dict(
        name="fixed",
        agent="nanotherm_mfl_as1",
        np_dose_mg_Fe_per_cm3=20.0,
        field_freq_kHz=100.0,
        field_kA_per_m=8.0,
        n_sessions=2,
        session_minutes=30.0,
        session_interval_hours=48.0,
        rt_total_dose_Gy=30.0,
        rt_n_fractions=15,
        rt_fractions_per_week=5.0,
        safety_limit="hergt_dutz",
    )
    return Protocol(**{**base, **changes})


def test_defaults_are_the_data_files(patients):
    a = simulate_protocol(patients, _fixed(), 3)
    b = simulate_protocol(patients, _fixed(), 3, assumptions=Assumptions(slp_factor=1.0, coverage_factor=1.0))
    pd.testing.assert_frame_equal(a, b)


def test_slp_factor_equals_a_proportionally_larger_iron_dose(patients):
    """q = SLP x dose / coverage: doubling the SLP heats exactly as doubling the iron dose (no CDT agent, so the
    iron has no chemical role)."""
    doubled_slp = simulate_protocol(patients, _fixed(), 3, assumptions=Assumptions(slp_factor=2.0))
    doubled_iron = simulate_protocol(patients, _fixed(np_dose_mg_Fe_per_cm3=40.0), 3)
    for col in HEAT_COLUMNS:
        assert doubled_slp[col].to_numpy() == pytest.approx(doubled_iron[col].to_numpy(), rel=1e-12, abs=1e-12)
    base = simulate_protocol(patients, _fixed(), 3)
    assert (doubled_slp["t90_C"] >= base["t90_C"] - 1e-9).all() and (doubled_slp["t90_C"] > base["t90_C"]).any()


def test_coverage_and_perfusion_factors_equal_edited_cohort_columns(patients):
    a = Assumptions(coverage_factor=2.0, perfusion_factor=0.7)
    c = patients["deposit_coverage_fraction"].to_numpy()
    edited = patients.assign(
        deposit_coverage_fraction=2.0 * c / (1.0 + c),  # odds doubled
        tumour_perfusion_mL_per_min_per_kg=patients["tumour_perfusion_mL_per_min_per_kg"] * 0.7,
    )
    pd.testing.assert_frame_equal(
        simulate_protocol(patients, _fixed(), 3, assumptions=a), simulate_protocol(edited, _fixed(), 3)
    )
    odds = c / (1 - c)
    new = chain.apply_assumption_factors(patients, a)["deposit_coverage_fraction"].to_numpy()
    assert new / (1 - new) == pytest.approx(2.0 * odds)


def test_thermal_enhancement_factor_scales_the_interaction(patients):
    p = _fixed(field_kA_per_m=4.0, np_dose_mg_Fe_per_cm3=8.0, rt_heat_interval_hours=0.5)
    kills = [
        simulate_protocol(patients, p, 3, assumptions=Assumptions(thermal_enhancement_factor=s))[
            "log10_kill_interaction"
        ].to_numpy()
        for s in (0.0, 0.5, 1.0, 2.0)
    ]
    assert np.all(kills[0] == 0.0)  # no radiosensitisation (heat x ROS is 0 by default)
    assert np.all(np.diff(np.array(kills), axis=0) >= -1e-12) and kills[3].max() > kills[1].max()
    default = simulate_protocol(patients, p, 3)["log10_kill_interaction"].to_numpy()
    centre = simulate_protocol(
        patients, p, 3, assumptions=Assumptions(thermal_enhancement_factor=rt.thermal_enhancement_factor_default())
    )["log10_kill_interaction"].to_numpy()
    assert np.array_equal(centre, default)  # the default is the centre of the PSA distribution (0.875), not 1
    assert np.all(kills[1] <= default + 1e-12) and np.all(default <= kills[2] + 1e-12)


def test_post_solve_inputs_recombine_without_a_new_solve(patients):
    """combine_stage of one solve with another thermotolerance preset, radiosensitisation scale or infiltrative
    share equals simulating the chain from scratch with those assumptions."""
    p = _fixed(n_sessions=3, session_interval_hours=24.0)
    base = Assumptions()
    solved = chain.solve_stages(patients, p, 5, base)
    for changed in (
        replace(base, thermotolerance="seed_review"),
        replace(base, thermotolerance="none"),
        replace(base, thermal_enhancement_factor=0.3),
        replace(base, infiltrative_clonogen_fraction=0.2),
    ):
        direct = simulate_protocol(patients, p, 5, assumptions=changed)
        recombined = chain.combine_stage(patients, p, 5, changed, solved)
        pd.testing.assert_frame_equal(direct, recombined)


def test_chemistry_only_resolve_reuses_the_heat(patients):
    p = _fixed()
    a = Assumptions(chemistry_overrides={"k.fe2_h2o2": 5e3})
    first = chain.solve_stages(patients, p, 5, Assumptions())
    again = chain.solve_stages(patients, p, 5, a, reuse=first, stages=("chemistry",))
    assert again["heat"] is first["heat"]
    pd.testing.assert_frame_equal(
        chain.combine_stage(patients, p, 5, a, again), simulate_protocol(patients, p, 5, assumptions=a)
    )
    with pytest.raises(InputError, match="stages"):
        chain.solve_stages(patients, p, 5, a, stages=("chemistry",))


def test_infiltrative_fractions_are_the_per_patient_lognormal_at_each_median(patients):
    rb = chain.rt.radiobiology("recurrent_glioblastoma")
    medians = [None, 0.0, 0.2]
    f = chain.infiltrative_fractions(patients, 9, medians)
    assert np.array_equal(f[0], chain._infiltrative_fraction(patients, rb, 9))
    assert np.all(f[1] == 0.0)
    z = np.array([child_rng(9, 2, int(i)).standard_normal() for i in patients["patient_id"]])
    sigma = np.log(rb.infiltrative_clonogen_fraction_range[1] / rb.infiltrative_clonogen_fraction_range[0]) / 3.92
    assert f[2] == pytest.approx(np.clip(0.2 * np.exp(sigma * z), 1e-4, 0.9), rel=1e-3)


def test_patient_normals_are_the_keyed_draws_and_cached(patients):
    ids = patients["patient_id"].to_numpy()
    expected = np.array([child_rng(4, 3, int(i)).standard_normal() for i in ids])
    first = chain.patient_normals(4, 3, ids)
    first[0] = 99.0  # a copy: mutating it must not change the cache
    assert np.array_equal(chain.patient_normals(4, 3, ids), expected)


@pytest.mark.parametrize(
    ("field", "value"),
    [("slp_factor", 0.0), ("slp_factor", -1.0), ("coverage_factor", float("nan")), ("perfusion_factor", 1e9)],
)
def test_factor_out_of_range_names_the_field(field, value):
    with pytest.raises(InputError) as exc:
        Assumptions(**{field: value})
    assert exc.value.field == f"assumptions.{field}"
