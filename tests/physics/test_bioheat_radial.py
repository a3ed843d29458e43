"""Radial Pennes solver against closed forms, the scipy method-of-lines reference, and convergence."""

import numpy as np
import pytest

from mhtcdt.errors import InputError
from mhtcdt.physics.bioheat_radial import Heating, RadialGrid, RadialPatients, simulate_sessions_radial
from mhtcdt.physics.oracle.analytic import heated_sphere_steady_rise, uniform_heating_rise
from mhtcdt.physics.oracle.bioheat_radial_ivp import RadialReference
from mhtcdt.physics.session import SessionTiming
from mhtcdt.physics.tissue import TissueProperties, load_blood, load_tissue, tumour_tissue

BLOOD = load_blood()


def homogeneous(perfusion_mL_per_min_per_kg: float, model: str = "constant") -> TissueProperties:
    """Brain thermal properties, no metabolic heat, chosen perfusion (the closed forms assume Q_met = 0)."""
    b = load_tissue("brain")
    return TissueProperties(
        "test",
        b.density_kg_per_m3,
        b.specific_heat_J_per_kg_K,
        b.conductivity_W_per_m_K,
        perfusion_mL_per_min_per_kg,
        0.0,
        model,
    )


def run(tissue, radius, q, *, coverage=1.0, heating=None, session_s=3600.0, dt_s=10.0, record_every_s=60.0, grid=None):
    """One tumour in a homogeneous tissue, one session without cooling, fixed field 10 kA/m by default."""
    return simulate_sessions_radial(
        RadialPatients([radius], [coverage], [q]),
        tumour=tissue,
        healthy=tissue,
        heating=heating or Heating(field_kA_per_m=10.0),
        timing=SessionTiming(session_s, 0.0, dt_s, record_every_s),
        grid=grid,
    )


def sink(tissue):
    return BLOOD.volumetric_heat_capacity_J_per_m3_K * tissue.perfusion_per_s


def test_steady_heated_sphere_perfused_matches_closed_form_within_1_percent():
    tissue = homogeneous(559.0)
    a, q = 0.015, 3e5
    res = run(tissue, a, q, session_s=6 * 3600.0, dt_s=10.0, grid=RadialGrid(12, 12, 4.0))
    r = res.cell_radius_over_R * a
    rise = res.peak_C[0, 0] - BLOOD.arterial_temperature_C
    exact_finite = heated_sphere_steady_rise(r, a, q, tissue.conductivity_W_per_m_K, sink(tissue), far_radius_m=4 * a)
    exact_infinite = heated_sphere_steady_rise(r, a, q, tissue.conductivity_W_per_m_K, sink(tissue))
    assert np.max(np.abs(rise - exact_finite)) < 0.01 * exact_finite.max()
    assert np.max(np.abs(rise - exact_infinite)) < 0.01 * exact_infinite.max()
    assert exact_infinite.max() > 5.0  # a real heating case, not a trivial one


def test_steady_heated_sphere_without_perfusion_matches_closed_form():
    tissue = homogeneous(0.0)
    a, q = 0.005, 2e5
    res = run(tissue, a, q, session_s=4 * 3600.0, dt_s=10.0, grid=RadialGrid(12, 12, 4.0))
    r = res.cell_radius_over_R * a
    rise = res.peak_C[0, 0] - BLOOD.arterial_temperature_C
    exact = heated_sphere_steady_rise(r, a, q, tissue.conductivity_W_per_m_K, 0.0, far_radius_m=4 * a)
    assert np.max(np.abs(rise - exact)) < 0.01 * exact.max()


def test_uniform_heating_transient_and_early_slope():
    a, q = 0.5, 2e5  # so large that the centre sees uniform heating for an hour
    for perf in (559.0, 0.0):
        tissue = homogeneous(perf)
        # dt well below the perfusion time constant rho c / (rho_b c_b omega) ~ 100 s
        res = run(tissue, a, q, session_s=3600.0, dt_s=2.0, grid=RadialGrid(50, 50, 2.0))
        centre = res.tumour_temperature_C[0, 0, :, 0] - BLOOD.arterial_temperature_C
        exact = uniform_heating_rise(res.record_times_s, q, tissue.volumetric_heat_capacity_J_per_m3_K, sink(tissue))
        assert np.max(np.abs(centre - exact)) < 1e-3 * exact.max()
    # no perfusion: slope q / (rho c) from the first record on (exact for backward Euler and BDF2)
    slope = (centre[1] - centre[0]) / res.record_times_s[1]
    assert slope == pytest.approx(q / tissue.volumetric_heat_capacity_J_per_m3_K, rel=1e-6)


def test_deposit_power_is_conserved_for_partial_coverage():
    """Energy stored = q * deposit volume * t before heat reaches the boundary (no perfusion)."""
    tissue = homogeneous(0.0)
    a, q, cov, t_end = 0.02, 4e5, 0.3, 120.0
    res = run(
        tissue,
        a,
        q,
        coverage=cov,
        session_s=t_end,
        dt_s=5.0,
        grid=RadialGrid(cells_in_tumour=16, far_factor=4.0),
        record_every_s=t_end,
    )
    assert res.deposit_fraction.sum() > 0
    r_edges = res.face_radius_over_R * a
    vol = 4.0 / 3.0 * np.pi * np.diff(r_edges**3)
    energy = np.sum(tissue.volumetric_heat_capacity_J_per_m3_K * vol * (res.peak_C[0, 0] - res.baseline_C[0]))
    expected = q * cov * 4.0 / 3.0 * np.pi * a**3 * t_end
    assert energy == pytest.approx(expected, rel=1e-6)


@pytest.fixture(scope="module")
def nonlinear_case():
    tum = tumour_tissue("brain")
    healthy = load_tissue("brain").with_perfusion(559.0, "lang1999_muscle")
    ref = RadialReference(0.015, 0.5, tum, healthy, tumour_perfusion_mL_per_min_per_kg=300.0)
    times = np.arange(0.0, 4500.0 + 1.0, 60.0)
    return tum, healthy, ref.session(4e5, 3600.0, 900.0, times), times


def _numba_case(tum, healthy, dt, cells=12):
    return simulate_sessions_radial(
        RadialPatients([0.015], [0.5], [4e5], tumour_perfusion_mL_per_min_per_kg=300.0),
        tumour=tum,
        healthy=healthy,
        heating=Heating(field_kA_per_m=10.0),
        timing=SessionTiming(session_s=3600.0, cooldown_s=900.0, dt_s=dt),
        grid=RadialGrid(cells_in_tumour=cells),
    )


def test_numba_kernel_matches_scipy_reference_within_0_01_C(nonlinear_case):
    tum, healthy, reference, times = nonlinear_case
    res = _numba_case(tum, healthy, 2.5)
    assert np.allclose(res.record_times_s, times)
    diff = np.abs(res.tumour_temperature_C[0, 0] - reference[:, :12])
    assert diff.max() < 0.01
    assert reference[:, 0].max() > 50.0  # the case crosses both Lang perfusion knees
    # field-off steady state agrees with scipy.optimize.root
    assert np.max(np.abs(res.baseline_C[0, :12] - reference[0, :12])) < 1e-8


def test_time_step_refinement_converges_at_second_order(nonlinear_case):
    """BDF2 with extrapolated lagged perfusion: order ~2; the Lang tumour curve has a kink at 42 C (its slope
    jumps), which costs order at coarse steps: > 1.5 (> 1.8 asymptotically) nonlinear, > 1.8 smooth."""
    tum, healthy, reference, _ = nonlinear_case
    errors = [
        np.abs(_numba_case(tum, healthy, dt).tumour_temperature_C[0, 0] - reference[:, :12]).max()
        for dt in (20.0, 10.0, 5.0)
    ]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 1.5) and orders[-1] > 1.8, (errors, orders)

    smooth_t = tum.with_perfusion(300.0, "constant")
    smooth_h = healthy.with_perfusion(559.0, "constant")
    ref = RadialReference(0.015, 0.5, smooth_t, smooth_h).session(4e5, 3600.0, 900.0, np.arange(0.0, 4501.0, 60.0))
    errors = [
        np.abs(_numba_case(smooth_t, smooth_h, dt).tumour_temperature_C[0, 0] - ref[:, :12]).max()
        for dt in (20.0, 10.0, 5.0)
    ]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 1.8), (errors, orders)


def test_grid_refinement_is_second_order():
    tissue = homogeneous(559.0)
    a, q = 0.015, 3e5
    errors = []
    for cells in (6, 12, 24):
        res = run(tissue, a, q, session_s=6 * 3600.0, dt_s=10.0, grid=RadialGrid(cells, cells, 4.0))
        rise = res.peak_C[0, 0] - BLOOD.arterial_temperature_C
        # error of the volume-average rise over the tumour (a grid-independent functional)
        r_edges = np.arange(cells + 1) / cells * a
        w = np.diff(r_edges**3)
        fine_r = np.linspace(0, a, 4001)
        exact_mean = (
            np.trapezoid(
                heated_sphere_steady_rise(fine_r, a, q, tissue.conductivity_W_per_m_K, sink(tissue), 4 * a) * fine_r**2,
                fine_r,
            )
            * 3
            / a**3
        )
        errors.append(abs(np.sum(rise[:cells] * w) / w.sum() - exact_mean))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 1.8), (errors, orders)


def test_patients_are_independent_and_vectorised():
    tum, healthy = tumour_tissue("prostate"), load_tissue("prostate")
    radii = np.array([0.01, 0.02, 0.015])
    cov = np.array([1.0, 0.4, 0.7])
    q = np.array([2e5, 5e5, 0.0])
    field = Heating(field_kA_per_m=8.0)
    together = simulate_sessions_radial(RadialPatients(radii, cov, q), tumour=tum, healthy=healthy, heating=field)
    alone = simulate_sessions_radial(
        RadialPatients(radii[1:2], cov[1:2], q[1:2]), tumour=tum, healthy=healthy, heating=field
    )
    np.testing.assert_array_equal(together.peak_C[1], alone.peak_C[0])
    # no particles: temperatures stay at the field-off steady state
    np.testing.assert_allclose(together.peak_C[2, 0], together.baseline_C[2], atol=1e-9)
    assert together.t90_C[0, 0] > together.t90_C[2, 0] + 1.0


def test_field_exponent_scaling_of_power():
    tissue = homogeneous(559.0)
    a = 0.01
    r1 = run(tissue, a, 1e5, heating=Heating(10.0, 2.0, field_kA_per_m=10.0), session_s=600)
    r2 = run(tissue, a, 4e5, heating=Heating(10.0, 2.0, field_kA_per_m=5.0), session_s=600)
    np.testing.assert_allclose(r1.peak_C, r2.peak_C, atol=1e-10)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: RadialPatients([-0.01], [1.0], [1e5]), "patients.tumour_radius_m[0]"),
        (lambda: RadialPatients([0.0], [1.0], [1e5]), "patients.tumour_radius_m[0]"),
        (lambda: RadialPatients([0.01], [1.5], [1e5]), "patients.coverage_fraction[0]"),
        (lambda: RadialPatients([0.01], [0.0], [1e5]), "patients.coverage_fraction[0]"),
        (lambda: RadialPatients([0.01, 0.02], [1.0, 1.0, 1.0], [1e5]), "patients.coverage_fraction"),
        (lambda: RadialPatients([0.01], [1.0], [-1.0]), "patients.deposit_power_W_per_m3[0]"),
        (
            lambda: RadialPatients([0.01], [1.0], [1e5], tumour_perfusion_mL_per_min_per_kg=[-5.0]),
            "patients.tumour_perfusion_mL_per_min_per_kg[0]",
        ),
        (
            lambda: RadialPatients([0.01], [1.0], [1e5], tumour_perfusion_mL_per_min_per_kg=[0.0]),
            "patients.tumour_perfusion_mL_per_min_per_kg[0]",
        ),
        (lambda: SessionTiming(dt_s=0.0), "timing.dt_s"),
        (lambda: SessionTiming(session_s=-60.0), "timing.session_s"),
        (lambda: SessionTiming(cooldown_s=float("nan")), "timing.cooldown_s"),
        (lambda: SessionTiming(record_every_s=7.0), "timing.record_every_s"),
        (lambda: RadialGrid(cells_in_healthy=1), "grid.cells_in_healthy"),
        (lambda: RadialGrid(far_factor=1.5), "grid.far_factor"),
        (lambda: Heating(field_exponent=0.0), "heating.field_exponent"),
        (lambda: Heating(field_kA_per_m=-3.0).fixed_amplitudes(1, 1), "heating.field_kA_per_m[0, 0]"),
        (lambda: Heating(field_kA_per_m=500.0).fixed_amplitudes(1, 1), "heating.field_kA_per_m[0, 0]"),
        (lambda: Heating(field_kA_per_m=[1.0, 2.0, 3.0]).fixed_amplitudes(2, 1), "heating.field_kA_per_m"),
    ],
)
def test_bad_input_names_the_parameter(build, field):
    with pytest.raises(InputError) as info:
        build()
    assert info.value.field == field


def test_bad_session_count_and_argument_types_are_named():
    patients = RadialPatients([0.01], [1.0], [1e5])
    tissues = dict(tumour=tumour_tissue("brain"), healthy=load_tissue("brain"))
    for kw, field in (
        (dict(heating=Heating(field_kA_per_m=10.0), n_sessions=0), "n_sessions"),
        (dict(heating=10.0), "heating"),
    ):
        with pytest.raises(InputError) as info:
            simulate_sessions_radial(patients, **tissues, **kw)
        assert info.value.field == field
    with pytest.raises(InputError) as info:
        simulate_sessions_radial([0.01], **tissues, heating=Heating(field_kA_per_m=10.0))
    assert info.value.field == "patients"


def test_runaway_heating_is_refused_naming_the_field():
    """Heating so strong that the thermal dose overflows (CEM43 = 2^(T - 43) per minute beyond ~1,067 C) is
    bad input naming the field amplitude, never a non-finite result (issue 19: a field far above the
    safety limit, allowed with allow_above_safety_limit)."""
    with pytest.raises(InputError) as info:
        simulate_sessions_radial(
            RadialPatients([0.01, 0.01], [1.0, 1.0], [1e5, 1e306]),
            tumour=tumour_tissue("brain"),
            healthy=load_tissue("brain"),
            heating=Heating(field_kA_per_m=10.0),
            timing=SessionTiming(session_s=60.0),
        )
    assert info.value.field == "field_kA_per_m" and info.value.value == 10.0
    assert "patient index 1 " in info.value.message and "overflows" in info.value.message


def test_arterial_temperature_below_zero_is_rejected():
    from mhtcdt.physics.tissue import Blood

    with pytest.raises(InputError) as info:
        Blood(1050.0, 3617.0, -2.0)
    assert info.value.field == "blood.arterial_temperature_C"


def test_negative_tissue_property_is_rejected():
    with pytest.raises(InputError) as info:
        TissueProperties("x", 1000.0, 3600.0, -0.5, 500.0, 0.0)
    assert info.value.field == "x.conductivity_W_per_m_K"
