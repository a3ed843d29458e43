"""simulate_patient_detail / thermotolerance_by_interval: one patient's time courses agree with the cohort
row of simulate_protocol, with the solver's own dose integrals, with the 3-D solver, and refuse bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mhtcdt.cohorts import generate_cohort
from mhtcdt.errors import InputError
from mhtcdt.physics import (
    PRESETS,
    Assumptions,
    Protocol,
    protocol_preset,
    simulate_patient_detail,
    simulate_protocol,
    thermotolerance_by_interval,
)
from mhtcdt.physics.dose import cem43_minutes

SEED = 5
KILLS = ("log10_kill_rt", "log10_kill_heat", "log10_kill_cdt", "log10_kill_interaction", "log10_kill_total")


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return generate_cohort("recurrent_glioblastoma", 8, seed=11)


@pytest.fixture(scope="module")
def patient(cohort) -> pd.DataFrame:
    return cohort.iloc[[2]]


@pytest.fixture(scope="module")
def titrated(patient):
    """NanoTherm + RT (titrated to 43 C at the margin) and its cohort row."""
    protocol = protocol_preset("mht_rt_nanotherm")
    return simulate_patient_detail(patient, protocol, SEED), simulate_protocol(patient, protocol, SEED).iloc[0]


@pytest.fixture(scope="module")
def cdt(patient):
    """MHT + CDT + RT: three chemistry groups in the deposit."""
    protocol = protocol_preset("mht_cdt_rt")
    return simulate_patient_detail(patient, protocol, SEED), simulate_protocol(patient, protocol, SEED).iloc[0]


@pytest.mark.parametrize("which", ["titrated", "cdt"])
def test_outcome_and_kill_equal_the_simulate_protocol_row(which, request):
    detail, row = request.getfixturevalue(which)
    pd.testing.assert_series_equal(detail.outcome, row, check_names=False, check_exact=True)
    for col in KILLS:
        assert detail.kill_by_mechanism[col] == row[col]
    s = detail.sessions
    assert s["t90_C"].iloc[0] == row.t90_C and s["t50_C"].iloc[0] == row.t50_C and s["t10_C"].iloc[0] == row.t10_C
    assert s["cem43_t90_min"].sum() == pytest.approx(row.cem43_t90_min, rel=1e-12)
    assert s["max_healthy_C"].max() == row.max_healthy_C
    assert s["field_mean_kA_per_m"].mean() == pytest.approx(row.field_kA_per_m_applied, rel=1e-12)


def test_the_same_patient_inside_a_cohort_gives_the_same_numbers(cohort, titrated):
    detail, _ = titrated
    rows = simulate_protocol(cohort, protocol_preset("mht_rt_nanotherm"), SEED)
    row = rows[rows["patient_id"] == detail.patient_id].iloc[0]
    for col in ("t90_C", "cem43_t90_min", *KILLS):
        assert detail.outcome[col] == pytest.approx(row[col], rel=1e-12, abs=1e-14)


def test_series_input_equals_one_row_frame(patient, titrated):
    detail, _ = titrated
    again = simulate_patient_detail(patient.iloc[0], protocol_preset("mht_rt_nanotherm"), SEED, with_3d=False)
    pd.testing.assert_series_equal(again.outcome, detail.outcome, check_exact=True)
    np.testing.assert_array_equal(again.shell_temperature_C, detail.shell_temperature_C)


def test_temperature_history_is_consistent_with_the_solver_summaries(titrated):
    detail, row = titrated
    n_s, n_c = detail.shell_peak_C.shape
    assert detail.shell_temperature_C.shape == (detail.time_min.size, n_c)
    assert np.all(np.diff(detail.time_min) > 0)
    # sessions start at multiples of the protocol spacing (minutes from the first start)
    starts = detail.time_min[np.r_[0, np.flatnonzero(np.diff(detail.session_of_sample)) + 1]]
    np.testing.assert_allclose(starts, np.arange(n_s) * 84.0 * 60.0)
    for s in range(n_s):
        hist = detail.shell_temperature_C[detail.session_of_sample == s]
        # the peak of the recorded history is the solver's per-shell peak (tracked every sub-step)
        np.testing.assert_allclose(hist.max(axis=0), detail.shell_peak_C[s], atol=1e-9)
        assert hist.max(axis=0) @ np.ones(n_c) > 37.0 * n_c  # heated
    # CEM43 from the histories (rectangle rule, dose.cem43_minutes) vs the solver's trapezoid per sub-step
    per_shell = sum(
        cem43_minutes(detail.shell_temperature_C[detail.session_of_sample == s].T, detail.sample_dt_s)
        for s in range(n_s)
    )
    np.testing.assert_allclose(per_shell, detail.cem43_per_shell_min, rtol=5e-3)
    assert cem43_minutes(detail.t90_history_C, detail.sample_dt_s) == pytest.approx(row.cem43_t90_min, rel=5e-3)
    assert detail.cem43_t90_cumulative_min[-1] == pytest.approx(row.cem43_t90_min, rel=5e-3)
    assert np.all(np.diff(detail.cem43_t90_cumulative_min) >= 0)
    # healthy maximum and titrated field over time
    assert detail.healthy_max_history_C.max() <= row.max_healthy_C + 1e-9
    assert detail.healthy_max_history_C.max() > row.max_healthy_C - 0.05
    for s in range(n_s):  # the recorded field averages to the solver's per-session mean amplitude
        on = (detail.session_of_sample == s) & (detail.field_history_kA_per_m > 0)
        assert detail.field_history_kA_per_m[on].mean() == pytest.approx(
            detail.sessions["field_mean_kA_per_m"].iloc[s], rel=1e-2
        )
        assert on.sum() * detail.sample_dt_s == pytest.approx(60.0 * 60.0, abs=2 * detail.sample_dt_s)
    # the radial profile at the peak starts with the tumour shells and ends at the far boundary
    np.testing.assert_array_equal(detail.profile_peak_C[:, :n_c], detail.shell_peak_C)
    assert detail.profile_radius_mm[-1] < detail.domain_radius_mm
    assert detail.deposit_radius_mm < detail.tumour_radius_mm < detail.domain_radius_mm


def test_chemistry_time_courses_end_at_the_cohort_summaries(cdt):
    detail, row = cdt
    g = detail.chemistry_group_weight.size
    assert g == 3 and detail.chemistry_group_weight.sum() == pytest.approx(1.0)
    oh_total = detail.chemistry_group_weight @ detail.oh_cumulative_uM_min[:, -1]
    assert oh_total == pytest.approx(row.oh_cumulative_uM_min, rel=1e-2)
    assert detail.gsh_nadir_mM == pytest.approx(row.gsh_nadir_mM, rel=1e-3)
    assert detail.lipid_peroxide_peak_uM == pytest.approx(row.lipid_peroxide_peak, rel=1e-2)
    for k in range(g):
        alive = np.isfinite(detail.gsh_mM[k])
        assert np.nanmin(detail.gsh_mM[k]) >= detail.gsh_nadir_mM - 1e-12
        # the quasi-steady [.OH] integrated over time gives the integrator's cumulative exposure: the total lies
        # between the sums of the output intervals' lower and upper end-point rectangles ([.OH] monotone within an
        # interval) and the trapezoid rule gives it to 3 % (the stepwise field control makes the temperature, hence
        # [.OH], change faster than the output grid). A sterilised group's last interval is left out: its
        # chemistry is integrated only up to the crossing inside it, where the pH-dependent Fenton chemistry of a
        # CDT deposit runs away within minutes
        t = detail.chemistry_time_min[alive]
        oh_uM = detail.oh_nM[k][alive] * 1e-3
        cum = detail.oh_cumulative_uM_min[k][alive]
        if np.isfinite(detail.chemistry_stop_min[k]):
            t, oh_uM, cum = t[:-1], oh_uM[:-1], cum[:-1]
        dt = np.diff(t)
        lower = (np.minimum(oh_uM[:-1], oh_uM[1:]) * dt).sum()
        upper = (np.maximum(oh_uM[:-1], oh_uM[1:]) * dt).sum()
        assert lower * (1 - 1e-2) <= cum[-1] - cum[0] <= upper * (1 + 1e-2)
        trapezoid = 0.5 * (oh_uM[:-1] + oh_uM[1:]) * dt
        assert trapezoid.sum() == pytest.approx(cum[-1] - cum[0], rel=3e-2)
        if np.isfinite(detail.chemistry_stop_min[k]):  # sterilised group: chemistry stops, exposure frozen
            after = detail.chemistry_time_min > detail.chemistry_stop_min[k]
            assert np.all(np.isnan(detail.oh_nM[k][after]))
            assert np.ptp(detail.oh_cumulative_uM_min[k][after]) == 0.0


@pytest.mark.parametrize(("sigma", "tolerance_C"), [(0.0, 0.1), (0.05, 0.3)])
def test_3d_slice_centre_matches_the_radial_centre_for_a_near_uniform_deposit(patient, sigma, tolerance_C):
    protocol = Protocol(
        **{**PRESETS["mht_alone"], "field_kA_per_m": 4.0, "target_temperature_C": None, "n_sessions": 1}
    )
    uniform = Assumptions(deposit_heterogeneity_sigma_ln=0.0)  # the radial deposit uniform, as the 3-D one
    detail = simulate_patient_detail(patient, protocol, SEED, assumptions=uniform, deposit_sigma=sigma)
    mid = detail.slice_axis_mm.size // 2
    assert detail.slice_axis_mm[mid] == pytest.approx(0.0, abs=1e-9)
    end = np.flatnonzero(np.isclose(detail.time_min, protocol.session_minutes))[0]
    radial_centre = detail.shell_temperature_C[end, 0]
    assert radial_centre > 38.0  # a heating case
    assert detail.slice_temperature_C[mid, mid] == pytest.approx(radial_centre, abs=tolerance_C)
    if sigma == 0.0:
        assert np.allclose(detail.slice_concentration_factor[detail.slice_concentration_factor > 0], 1.0)
        # the map is symmetric for a uniform spherical deposit
        np.testing.assert_allclose(detail.slice_temperature_C, detail.slice_temperature_C.T, atol=1e-6)


def test_3d_heterogeneity_is_keyed_by_patient_and_changes_the_map(cohort):
    protocol = protocol_preset("mht_alone")
    a = simulate_patient_detail(cohort.iloc[[2]], protocol, SEED, deposit_sigma=0.5)
    b = simulate_patient_detail(cohort.iloc[[2]], protocol, SEED, deposit_sigma=0.5)
    np.testing.assert_array_equal(a.slice_temperature_C, b.slice_temperature_C)
    inside = a.slice_concentration_factor > 0
    assert np.std(np.log(a.slice_concentration_factor[inside])) == pytest.approx(0.5, rel=0.3)
    uniform = simulate_patient_detail(cohort.iloc[[2]], protocol, SEED, deposit_sigma=0.0)
    assert np.max(np.abs(uniform.slice_temperature_C - a.slice_temperature_C)) > 0.05
    assert np.max(np.abs(uniform.slice_temperature_C - uniform.slice_temperature_C[::-1, :])) < 1e-6
    pd.testing.assert_series_equal(a.outcome, uniform.outcome)  # the map feeds no kill


def test_no_heat_protocol_has_chemistry_but_no_heat(patient):
    detail = simulate_patient_detail(patient, protocol_preset("rt_alone"), SEED)
    row = simulate_protocol(patient, protocol_preset("rt_alone"), SEED).iloc[0]
    assert not detail.has_heat and detail.slice_temperature_C is None
    assert detail.time_min.size == 0 and detail.sessions.empty
    assert detail.kill_by_mechanism["log10_kill_rt"] == row.log10_kill_rt
    assert detail.chemistry_group_weight @ detail.oh_cumulative_uM_min[:, -1] == pytest.approx(
        row.oh_cumulative_uM_min, rel=1e-2
    )


FAR_APART_H = 24.0 * 60  # the longest session spacing a protocol allows


def test_thermotolerance_by_interval(patient, titrated):
    detail, row = titrated
    protocol = protocol_preset("mht_rt_nanotherm")
    table = thermotolerance_by_interval(patient, protocol, SEED, [6.0, 24.0, 84.0, FAR_APART_H])
    assert list(table.columns) == [
        "interval_hours",
        "log10_kill_heat",
        "log10_kill_total",
        "log10_kill_heat_enhancing",
        "hsp_peak",
        "hsp_peak_shell",
    ]
    at_protocol = table[table["interval_hours"] == 84.0].iloc[0]
    assert at_protocol.log10_kill_heat == row.log10_kill_heat  # simulate_protocol's own number
    assert at_protocol.log10_kill_total == row.log10_kill_total
    # a day apart: HSP induced by the previous session protects; days apart it has decayed (the kernel
    # rises over the first hours, so 6 h and 24 h are not ordered)
    hsp = table.set_index("interval_hours")["hsp_peak"]
    kill = table.set_index("interval_hours")["log10_kill_heat_enhancing"]
    assert hsp[24.0] > 0.1 and hsp[24.0] > hsp[84.0] > hsp[FAR_APART_H]
    assert kill[24.0] < kill[84.0] <= kill[FAR_APART_H] + 1e-12
    # oracle: sessions 60 days apart have no thermotolerance left (HSP kernel ~1e-55 of its peak)
    none = thermotolerance_by_interval(
        patient, protocol, SEED, [FAR_APART_H], assumptions=Assumptions(thermotolerance="none")
    )
    assert table["log10_kill_heat_enhancing"].iloc[-1] == pytest.approx(none["log10_kill_heat_enhancing"].iloc[0])
    assert none["hsp_peak"].iloc[0] == 0.0


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda p: simulate_patient_detail(p.drop(columns=["gsh_mM"]), protocol_preset("mht_alone"), SEED), "patients"),
        (lambda p: simulate_patient_detail(pd.concat([p, p]), protocol_preset("mht_alone"), SEED), "patient"),
        (lambda p: simulate_patient_detail(p.to_dict(), protocol_preset("mht_alone"), SEED), "patient"),
        (lambda p: simulate_patient_detail(p.assign(ph_extracellular=12.0), protocol_preset("rt_alone"), SEED),
         "patients.ph_extracellular[0]"),
        (lambda p: simulate_patient_detail(p, "mht_alone", SEED), "protocol"),
        (lambda p: simulate_patient_detail(p, protocol_preset("mht_alone"), SEED, assumptions={}), "assumptions"),
        (lambda p: simulate_patient_detail(p, protocol_preset("mht_alone"), SEED, deposit_sigma=-1.0), "deposit_sigma"),
        (lambda p: simulate_patient_detail(p, protocol_preset("mht_alone"), SEED, grid_cells_3d=20), "grid_cells_3d"),
        (lambda p: thermotolerance_by_interval(p, protocol_preset("rt_alone"), SEED, [24.0]), "protocol"),
        (lambda p: thermotolerance_by_interval(p, protocol_preset("mht_alone"), SEED, [-4.0]), "intervals_hours"),
        (lambda p: thermotolerance_by_interval(p, protocol_preset("mht_alone"), SEED, [0.5]), "session_minutes"),
    ],
)  # fmt: skip
def test_bad_input_names_the_field(patient, call, field):
    with pytest.raises(InputError) as info:
        call(patient)
    assert info.value.field == field
