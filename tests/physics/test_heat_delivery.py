"""Clinical heat delivery: stepwise amplitude control, tolerance ceilings, thermometry, heterogeneous deposits,
eddy-current heating and the normal-tissue thermal-dose limit, against closed forms and their own definitions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mhtcdt.cohorts import generate_cohort
from mhtcdt.errors import InputError
from mhtcdt.physics import PRESETS, Assumptions, Protocol, protocol_preset, simulate_protocol
from mhtcdt.physics import heat_delivery as hd
from mhtcdt.physics.assumptions import HEAT_FIELDS
from mhtcdt.physics.bioheat_radial import Heating, RadialGrid, RadialPatients, simulate_sessions_radial
from mhtcdt.physics.field import eddy_current_power_W_per_m3, max_field_within_limit_kA_per_m
from mhtcdt.physics.oracle.analytic import uniform_heating_rise
from mhtcdt.physics.particles import load_magnetics
from mhtcdt.physics.session import SessionControl, SessionTiming, TitrationLaw, clinical_step
from mhtcdt.physics.tissue import TissueProperties, load_blood, load_tissue, tumour_tissue

BLOOD = load_blood()
LAW = TitrationLaw(43.0, 43.0, 0.5, 120.0, 300.0, 0.5, 0.5, 15.0)


def homogeneous(perfusion: float) -> TissueProperties:
    b = load_tissue("brain")
    return TissueProperties(
        "test", b.density_kg_per_m3, b.specific_heat_J_per_kg_K, b.conductivity_W_per_m_K, perfusion, 0.0
    )


# ---------------------------------------------------------------------- the control law, branch by branch
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # field, reading, healthy max, dose so far, dose projected, ceiling
        ((5.0, 40.0, 40.0, 0.0, 0.0, 10.0), (6.0, 0)),  # below every limit: one step up
        ((9.5, 40.0, 40.0, 0.0, 0.0, 10.0), (10.0, 0)),  # up to the ceiling, not beyond
        ((10.0, 40.0, 40.0, 0.0, 0.0, 10.0), (10.0, 2)),  # at the ceiling: hold
        ((18.0, 40.0, 40.0, 0.0, 0.0, 30.0), (18.0, 5)),  # the device maximum binds before the ceiling
        ((5.0, 43.2, 40.0, 0.0, 0.0, 10.0), (5.0, 1)),  # at the target (within the band): hold
        ((5.0, 43.6, 40.0, 0.0, 0.0, 10.0), (4.0, 1)),  # above target + band: one step down
        ((5.0, 40.0, 43.1, 0.0, 0.0, 10.0), (4.0, 3)),  # healthy tissue above its maximum: down
        ((5.0, 40.0, 40.0, 1.0, 16.0, 10.0), (4.0, 4)),  # projected session dose above the limit: down
        ((5.0, 40.0, 40.0, 15.0, 20.0, 10.0), (0.0, 4)),  # the limit reached: field off
        ((0.0, 40.0, 40.0, 0.0, 0.0, 10.0), (2.5, 0)),  # restart from the start amplitude
    ],
)
def test_clinical_step_follows_its_rule(args, expected):
    field, reading, healthy, dose, projected, ceiling = args
    out = clinical_step(field, reading, healthy, dose, projected, ceiling, 2.5, 1.0, 18.0, LAW)
    assert out == pytest.approx(expected)


def test_session_control_validates_the_clinical_fields():
    SessionControl(mode="clinical", target_C=43.0, healthy_cem43_limit_min=15.0)
    with pytest.raises(InputError) as exc:
        SessionControl(mode="clinical", target_C=None)
    assert exc.value.field == "control.target_C"
    with pytest.raises(InputError) as exc:
        SessionControl(mode="clinical", target_C=43.0, healthy_cem43_limit_min=-1.0)
    assert exc.value.field == "control.healthy_cem43_limit_min"
    with pytest.raises(InputError) as exc:
        SessionControl(mode="clinical", target_C=43.0, step_kA_per_m=0.0)
    assert exc.value.field == "control.step_kA_per_m"


# ---------------------------------------------------------------------- kernel: eddy, deposit, thermometry
def test_uniform_eddy_heating_gives_the_uniform_pennes_rise():
    """No particles, eddy power e H^2 everywhere: far from any boundary effect the tissue (and the lumped far
    node) follows dT/dt = (q - rho_b c_b omega T) / rho c, the closed form of uniform heating."""
    tissue = homogeneous(559.0)
    coef, h = 50.0, 10.0  # 5 kW/m3 at 10 kA/m
    res = simulate_sessions_radial(
        RadialPatients([0.5], [1.0], [0.0], eddy_W_per_m3_per_kA2=coef),
        tumour=tissue,
        healthy=tissue,
        heating=Heating(field_kA_per_m=h),
        timing=SessionTiming(3600.0, 0.0, 2.0, 60.0),
        grid=RadialGrid(20, 20, 2.0),
    )
    q = coef * h * h
    sink = BLOOD.volumetric_heat_capacity_J_per_m3_K * tissue.perfusion_per_s
    exact = uniform_heating_rise(res.record_times_s, q, tissue.volumetric_heat_capacity_J_per_m3_K, sink)
    rise = res.tumour_temperature_C[0, 0] - BLOOD.arterial_temperature_C  # (records, shells)
    assert np.max(np.abs(rise - exact[:, None])) < 2e-3 * exact.max()
    assert exact.max() == pytest.approx(q / sink, rel=1e-3)  # ~0.13 K: the eddy rise is small but present


def test_eddy_coefficient_is_the_cross_section_mean_of_the_surface_formula():
    r_cm, f = 9.0, 100.0
    coef = hd.eddy_coefficient_W_per_m3_per_kA2(np.array([r_cm]), f, 0.4)[0]
    surface = eddy_current_power_W_per_m3(1.0, f, r_cm / 100.0, 0.4)
    assert coef == pytest.approx(surface / 2.0, rel=1e-12)  # <r^2> over a disc = R^2 / 2
    mu0 = 4e-7 * math.pi
    assert coef == pytest.approx(0.4 * (math.pi * f * 1e3 * mu0 * 1e3) ** 2 * (r_cm / 100) ** 2 / 4, rel=1e-6)


def test_heterogeneous_deposit_conserves_the_deposited_energy():
    """Before heat leaves the tumour (no perfusion, 120 s) the stored energy is q x deposit volume x t, whatever the
    shell multipliers: the kernel renormalises them over the deposit."""
    tissue = homogeneous(0.0)
    a, q, cov, t_end = 0.02, 4e5, 0.6, 120.0
    mult = np.exp(0.8 * np.random.default_rng(3).standard_normal((1, 16)))
    res = simulate_sessions_radial(
        RadialPatients([a], [cov], [q], deposit_shell_multipliers=mult),
        tumour=tissue,
        healthy=tissue,
        heating=Heating(field_kA_per_m=10.0),
        timing=SessionTiming(t_end, 0.0, 5.0, t_end),
        grid=RadialGrid(cells_in_tumour=16, far_factor=4.0),
    )
    vol = 4.0 / 3.0 * np.pi * np.diff((res.face_radius_over_R * a) ** 3)
    energy = np.sum(tissue.volumetric_heat_capacity_J_per_m3_K * vol * (res.peak_C[0, 0] - res.baseline_C[0]))
    assert energy == pytest.approx(q * cov * 4.0 / 3.0 * np.pi * a**3 * t_end, rel=1e-6)


def test_constant_multipliers_change_nothing_and_spread_widens_the_temperature_distribution():
    tum, healthy = tumour_tissue("brain"), load_tissue("brain")
    n = 40
    rng = np.random.default_rng(5)
    base = dict(tumour_perfusion_mL_per_min_per_kg=np.full(n, 300.0))

    def go(mult):
        return simulate_sessions_radial(
            RadialPatients(np.full(n, 0.015), np.full(n, 0.7), np.full(n, 3e5), deposit_shell_multipliers=mult, **base),
            tumour=tum,
            healthy=healthy,
            heating=Heating(field_kA_per_m=8.0),
            timing=SessionTiming(1800.0, 0.0, 10.0, 60.0),
        )

    uniform = go(None)
    np.testing.assert_allclose(go(np.full((n, 12), 3.0)).peak_C, uniform.peak_C, rtol=1e-12)
    spread = go(np.exp(1.0 * rng.standard_normal((n, 12))))
    assert np.mean(spread.t10_C - spread.t90_C) > np.mean(uniform.t10_C - uniform.t90_C)


def test_thermometry_track_reads_the_centre_and_cools_with_its_distance():
    tum, healthy = tumour_tissue("brain"), load_tissue("brain")
    b = np.array([0.0, 0.3, 0.6, 0.9])
    res = simulate_sessions_radial(
        RadialPatients(np.full(4, 0.015), np.ones(4), np.full(4, 3e5), catheter_radius_over_R=b),
        tumour=tum,
        healthy=healthy,
        heating=Heating(field_kA_per_m=8.0),
        timing=SessionTiming(1800.0, 600.0, 10.0, 60.0),
    )
    hottest = res.peak_C[:, 0, :12].max(axis=1)
    assert res.thermometry_max_C[0, 0] == pytest.approx(hottest[0], abs=1e-9)  # a track through the centre
    assert np.all(np.diff(res.thermometry_max_C[:, 0]) < 0)  # a uniform deposit: hotter towards the centre
    assert np.all(res.thermometry_min_C[:, 0] <= res.thermometry_max_C[:, 0])
    assert np.all(res.thermometry_record_C[:, 0].max(axis=1) <= res.thermometry_max_C[:, 0] + 1e-9)


def test_clinical_control_stops_at_the_target_the_ceiling_or_the_dose_limit():
    tum, healthy = tumour_tissue("brain"), load_tissue("brain")
    n = 3
    ceiling = np.array([18.0, 3.0, 18.0])
    limits = {0: 1e9, 1: 1e9, 2: 0.2}  # patient 2: a tiny healthy-tissue dose limit and a high target
    targets = {0: 44.0, 1: 44.0, 2: 50.0}
    out = []
    for p in range(n):
        control = SessionControl(
            mode="clinical",
            target_C=targets[p],
            healthy_max_C=45.0,
            field_min_kA_per_m=2.5,
            control_interval_s=120.0,
            healthy_cem43_limit_min=limits[p],
        )
        out.append(
            simulate_sessions_radial(
                RadialPatients([0.015], [0.8], [3e5], field_ceiling_kA_per_m=ceiling[p]),
                tumour=tum,
                healthy=healthy,
                heating=Heating(field_exponent=1.6, control=control),
                n_sessions=2,
                timing=SessionTiming(3600.0, 900.0, 10.0, 60.0),
            )
        )
    target, capped, dosed = out
    assert target.stop_reason[0, 0] == 1 and target.thermometry_max_C[0, 0] >= 44.0
    assert target.thermometry_max_C[0, 0] < 44.0 + 1.5  # one step of overshoot at most
    assert capped.stop_reason[0, 0] == 2 and capped.field_peak_kA_per_m[0, 0] == pytest.approx(3.0)
    assert capped.thermometry_max_C[0, 0] < 44.0
    assert dosed.stop_reason[0, 0] == 4
    assert dosed.healthy_cem43_max_min[0, 0] <= 0.2 * 1.1  # the projection keeps it near the limit
    assert dosed.thermometry_max_C[0, 0] < 50.0
    # the second session is the first one again (same start, same law): copied, not re-solved
    for res in out:
        np.testing.assert_array_equal(res.peak_C[:, 1], res.peak_C[:, 0])


def test_copied_sessions_equal_solved_ones_for_fixed_amplitudes():
    tum, healthy = tumour_tissue("brain"), load_tissue("brain")

    def go(fields):
        return simulate_sessions_radial(
            RadialPatients([0.012], [0.6], [3e5]),
            tumour=tum,
            healthy=healthy,
            heating=Heating(field_kA_per_m=np.array([fields])),
            n_sessions=len(fields),
            timing=SessionTiming(1200.0, 300.0, 10.0, 60.0),
        )

    three = go([5.0, 7.0, 5.0])
    np.testing.assert_array_equal(three.peak_C[0, 2], three.peak_C[0, 0])
    np.testing.assert_allclose(three.peak_C[0, 1], go([7.0]).peak_C[0, 0], rtol=1e-13)
    assert three.stop_reason[0, 0] == 6  # fixed amplitude


# ---------------------------------------------------------------------- per-patient draws and ceilings
def test_tolerance_ceiling_scales_as_h_times_r_over_radius_and_frequency():
    u = np.array([0.0, 1.0, 0.5])
    h = hd.tolerance_ceilings_kA_per_m(np.array(["prostate"] * 3), np.array([15.0, 15.0, 30.0]), 100.0, u)
    lo, hi = hd.tolerance_h_times_r_A("prostate")
    np.testing.assert_allclose(h, [lo / 0.15 / 1e3, hi / 0.15 / 1e3, (lo + hi) / 2 / 0.30 / 1e3])
    # the pelvic anchors read in the Johannsen 2005/2007 abstracts: 4-5.4 kA/m at r ~ 0.15-0.18 m
    assert 3.3 <= lo / 0.18 / 1e3 <= 4.0 and 5.0 <= hi / 0.15 / 1e3 <= 6.0
    half = hd.tolerance_ceilings_kA_per_m(np.array(["prostate"]), np.array([15.0]), 200.0, np.array([0.0]))
    assert half[0] == pytest.approx(h[0] / 2)  # constant E at the body surface
    with pytest.raises(InputError) as exc:
        hd.tolerance_ceilings_kA_per_m(np.array(["brain"]), np.array([-1.0]), 100.0, np.array([0.5]))
    assert exc.value.field == "patients.body_radius_cm[0]"
    with pytest.raises(InputError):
        hd.body_region("liver")


def test_hergt_dutz_never_binds_at_100_kHz():
    """At 100 kHz the Hergt-Dutz H*f limit allows 50 kA/m, above the 18 kA/m applicator: the binding limits are
    the device maximum and the patient's tolerance ceiling (dossier section 4a)."""
    device = load_magnetics()["nanotherm_applicator"]["field_max_kA_per_m"]
    assert max_field_within_limit_kA_per_m(100.0, "hergt_dutz") == pytest.approx(50.0)
    assert max_field_within_limit_kA_per_m(100.0, "hergt_dutz") > device
    for tissue in ("brain", "prostate", "pancreas"):
        lo, hi = hd.tolerance_h_times_r_A(tissue)
        assert hi / (hd.default_body_radius_cm(tissue) / 100) / 1e3 < 50.0


def test_draws_are_keyed_by_patient_and_distributed_as_documented():
    ids = np.arange(20_000)
    a = hd.patient_draws(7, ids, 12)
    b = hd.patient_draws(7, ids[::-1], 12)
    np.testing.assert_array_equal(a.u_catheter, b.u_catheter[::-1])  # independent of order and chunking
    cath = hd.catheter_impact_over_R(a.u_catheter)
    # a line placed through a sphere without aim: b/R = sqrt(U), so P(b/R < x) = x^2
    for x in (0.3, 0.6, 0.9):
        assert np.mean(cath < x) == pytest.approx(x * x, abs=0.01)
    assert cath.max() <= 0.95
    assert np.std(np.log(hd.deposit_shell_multipliers(a.z_shells, 0.5))) == pytest.approx(0.5, rel=0.02)


# ---------------------------------------------------------------------- chain, protocol and assumptions
@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return generate_cohort("recurrent_glioblastoma", 8, 21).reset_index(drop=True)


def test_chain_reports_delivery_and_flags_a_dose_above_the_limit(cohort):
    fixed = Protocol(**{**PRESETS["mht_alone"], "field_kA_per_m": 15.0, "target_temperature_C": None, "n_sessions": 2})
    out = simulate_protocol(cohort, fixed, seed=1)
    assert (out["field_stop_reason"] == "fixed_amplitude").all()
    hot = out["healthy_cem43_max_min"] > 15.0  # brain limit (Ikeda 1994)
    assert hot.any()
    assert not out.loc[hot, "safety_ok"].any()
    assert (out["healthy_cem43_course_min"] >= out["healthy_cem43_max_min"] - 1e-9).all()
    assert (out["peak_tumour_C"] >= out["thermometry_max_C"] - 1e-9).all()
    clinical = simulate_protocol(cohort, protocol_preset("mht_alone"), seed=1)
    assert set(clinical["field_stop_reason"]) <= set(hd.STOP_REASONS.values())
    assert (clinical["field_ceiling_kA_per_m"] > 0).all()
    assert clinical["safety_ok"].all()
    assert (clinical["healthy_cem43_max_min"] <= 15.0 * (1 + 1e-6)).all()


def test_assumptions_move_the_heat_in_the_physical_direction(cohort):
    p = protocol_preset("mht_alone", n_sessions=1, target_temperature_C=59.0)  # raised to tolerance
    base = simulate_protocol(cohort, p, seed=2)
    low_ceiling = simulate_protocol(cohort, p, seed=2, assumptions=Assumptions(tolerance_ceiling_scale=0.5))
    np.testing.assert_allclose(low_ceiling["field_ceiling_kA_per_m"], base["field_ceiling_kA_per_m"] * 0.5)
    assert low_ceiling["peak_tumour_C"].mean() < base["peak_tumour_C"].mean()
    weak = simulate_protocol(cohort, p, seed=2, assumptions=Assumptions(slp_factor=0.5))
    assert weak["peak_tumour_C"].mean() < base["peak_tumour_C"].mean()
    fixed = simulate_protocol(cohort, p, seed=2, assumptions=Assumptions(tolerance_ceiling_kA_per_m=4.0))
    assert (fixed["field_ceiling_kA_per_m"] == 4.0).all()


@pytest.mark.parametrize("name", sorted(HEAT_FIELDS))
def test_heat_assumptions_outside_their_range_name_field_and_value(name):
    spec = HEAT_FIELDS[name]
    lo, hi = spec.valid
    assert lo <= spec.psa_range[0] < spec.psa_range[1] <= hi
    for bad in (lo - abs(lo) * 0.5 - 1.0, hi * 2 + 1.0, float("nan")):
        with pytest.raises(InputError) as exc:
            Assumptions(**{name: bad})
        assert exc.value.field == f"assumptions.{name}"
        assert exc.value.value is bad or (math.isnan(bad) and math.isnan(exc.value.value))
    Assumptions(**{name: spec.psa_range[0]})  # the sampling range is valid
    assert spec.source and isinstance(spec.verified, bool)


@pytest.mark.parametrize(("field", "value"), [("healthy_cem43_limit_min", 0.0), ("healthy_cem43_limit_min", 5000.0)])
def test_protocol_thermal_dose_limit_outside_its_range_is_refused(field, value):
    with pytest.raises(InputError) as exc:
        protocol_preset("mht_rt_nanotherm", **{field: value})
    assert exc.value.field == field and exc.value.value == value


def test_coverage_factor_multiplies_the_odds_once_and_keeps_the_cohort_at_one(cohort):
    from mhtcdt.physics.chain import apply_assumption_factors, effective_coverage

    cov = cohort["deposit_coverage_fraction"].to_numpy()
    np.testing.assert_array_equal(effective_coverage(apply_assumption_factors(cohort, Assumptions())), cov)
    for k in (0.1, 3.0, 1000.0):
        seen = effective_coverage(apply_assumption_factors(cohort, Assumptions(coverage_factor=k)))
        odds = seen / (1.0 - seen)
        np.testing.assert_allclose(odds, k * cov / (1.0 - cov), rtol=1e-9)  # closed form of the odds
        assert np.all((seen > 0) & (seen <= 1.0))


# ---------------------------------------------------------------- issue 15 item 5: readings, deposit, target
def test_each_body_region_names_how_its_session_is_read():
    assert hd.thermometry_reading("brain") == "catheter"
    assert hd.thermometry_reading("prostate") == "catheter"
    assert hd.thermometry_reading("pancreas") == "computed_maximum"
    u = np.array([0.04, 0.25, 0.81, 0.99])
    tissues = np.array(["brain", "pancreas", "prostate", "pancreas"])
    b = hd.thermometry_track_over_R(tissues, u)
    np.testing.assert_allclose(b, [0.2, 0.0, 0.9, 0.0])  # sqrt(u) for a catheter, the centre for the computed
    with pytest.raises(InputError):
        hd.thermometry_reading("liver")


def test_computed_maximum_reading_is_the_hottest_tumour_temperature():
    # Where the session is read on the computed distribution (pancreas), the reading the controller sees is the
    # hottest tumour point, so the reported maximum reading equals the hottest tumour shell (sampled at whole
    # steps: never above it, and within the change of one step).
    from mhtcdt.physics.chain import heat_sessions

    p = generate_cohort("pancreas", 24, 11)
    proto = protocol_preset("mht_alone", n_sessions=1)
    h = heat_sessions(p, proto, np.full(len(p), 28.0), 11)
    assert np.all(h["thermometry_max"] <= h["peak_tumour"] + 1e-9)
    np.testing.assert_allclose(h["thermometry_max"], h["peak_tumour"], atol=0.05)


def test_deposit_is_never_denser_than_the_injected_fluid():
    from mhtcdt.physics import chemistry as ch
    from mhtcdt.physics.chain import fluid_limited_coverage

    c_fluid = ch.agent_table()["agents"]["nanotherm_mfl_as1"]["iron_concentration_mg_per_mL"]
    cov = np.array([0.05, 0.2, 0.25, 0.6, 1.0])
    dose = np.array([28.0, 28.0, 28.0, 28.0, 200.0])
    seen = fluid_limited_coverage(cov, dose, "nanotherm_mfl_as1")
    np.testing.assert_allclose(seen, [0.25, 0.25, 0.25, 0.6, 1.0])  # max(c, dose / 112 mg/mL), at most 1
    assert np.all(dose[:4] / seen[:4] <= c_fluid + 1e-12)  # mean deposit concentration <= the fluid's


def test_heated_target_is_the_deposit_target_volume_when_the_cohort_gives_one():
    from mhtcdt.physics.chain import HEAT_TARGET_COLUMN, heat_sessions, heated_radius_cm

    p = generate_cohort("prostate", 12, 5)
    assert HEAT_TARGET_COLUMN in p.columns
    v = np.maximum(p[HEAT_TARGET_COLUMN], p["tumour_volume_cm3"]).to_numpy()
    np.testing.assert_allclose(heated_radius_cm(p), (3 * v / (4 * math.pi)) ** (1 / 3), rtol=1e-12)
    gbm = generate_cohort("recurrent_glioblastoma", 5, 5)
    np.testing.assert_array_equal(heated_radius_cm(gbm), gbm["tumour_radius_cm"].to_numpy())
    # a target equal to the tumour is the tumour: the same heat as without the column
    proto = protocol_preset("mht_alone", n_sessions=1)
    same = p.assign(**{HEAT_TARGET_COLUMN: p["tumour_volume_cm3"]})
    a = heat_sessions(same, proto, np.full(12, 28.0), 5)
    b = heat_sessions(same.drop(columns=[HEAT_TARGET_COLUMN]), proto, np.full(12, 28.0), 5)
    np.testing.assert_array_equal(a["thermometry_max"], b["thermometry_max"])
