"""Thermal dose: CEM43 and Arrhenius against closed forms, volume percentiles, kernel accumulation."""

import numpy as np
import pytest

from mhtcdt.errors import InputError
from mhtcdt.physics.bioheat_radial import Heating, RadialPatients, simulate_sessions_radial
from mhtcdt.physics.dose import (
    arrhenius_omega,
    arrhenius_set,
    cem43_minutes,
    exceeded_temperature,
    exceeded_temperature_inplace,
    heat_surviving_fraction,
    tumour_log10_kill,
    volume_percentile_temperature,
)
from mhtcdt.physics.oracle.analytic import arrhenius_constant, cem43_constant
from mhtcdt.physics.session import SessionTiming
from mhtcdt.physics.tissue import load_tissue, tumour_tissue


@pytest.mark.parametrize("temp", [39.0, 42.5, 43.0, 44.0, 47.5])
def test_cem43_of_constant_temperature(temp):
    minutes = 37.0
    samples = np.full(int(minutes * 6), temp)  # every 10 s
    assert cem43_minutes(samples, 10.0) == pytest.approx(cem43_constant(temp, minutes), rel=1e-12)


def test_cem43_reference_values():
    # one hour at 43 C is 60 CEM43 min; 44 C doubles it; 42 C quarters it (Sapareto-Dewey R values)
    assert cem43_minutes(np.full(60, 43.0), 60.0) == pytest.approx(60.0)
    assert cem43_minutes(np.full(60, 44.0), 60.0) == pytest.approx(120.0)
    assert cem43_minutes(np.full(60, 42.0), 60.0) == pytest.approx(15.0)


def test_arrhenius_constant_temperature():
    s = arrhenius_set("he_bischof_2003_at1")
    omega = arrhenius_omega(np.full(360, 45.0), 10.0, s.a_per_s, s.ea_J_per_mol)
    assert omega == pytest.approx(arrhenius_constant(45.0, 3600.0, s.a_per_s, s.ea_J_per_mol), rel=1e-12)
    # doubling the time doubles the damage; raising T raises it
    assert arrhenius_omega(np.full(720, 45.0), 10.0, s.a_per_s, s.ea_J_per_mol) == pytest.approx(2 * omega)
    assert arrhenius_omega(np.full(360, 46.0), 10.0, s.a_per_s, s.ea_J_per_mol) > omega


def test_percentiles_against_fine_sampling():
    rng = np.random.default_rng(np.random.SeedSequence(7))
    temps = rng.uniform(38.0, 48.0, 4000)
    weights = np.ones_like(temps)
    # equal weights and many elements: Tx is the (1 - x) quantile of the sample
    assert volume_percentile_temperature(temps, weights, 0.9) == pytest.approx(np.quantile(temps, 0.1), abs=0.02)
    assert volume_percentile_temperature(temps, weights, 0.5) == pytest.approx(np.quantile(temps, 0.5), abs=0.02)
    # weights: the same value duplicated k times equals weight k
    t = np.array([40.0, 41.0, 42.0, 43.0])
    w = np.array([1.0, 2.0, 3.0, 4.0])
    assert volume_percentile_temperature(t, w, 0.5) == pytest.approx(
        volume_percentile_temperature(np.repeat(t, [1, 2, 3, 4]), np.ones(10), 0.5), abs=0.3
    )
    # T90 <= T50 <= T10
    t90, t50, t10 = (volume_percentile_temperature(temps, weights, x) for x in (0.9, 0.5, 0.1))
    assert t90 <= t50 <= t10


def test_inplace_percentile_equals_reference():
    rng = np.random.default_rng(np.random.SeedSequence(3))
    order = np.arange(12, dtype=np.int64)
    w = rng.uniform(0.1, 2.0, 12)
    for _ in range(50):  # reused order buffer across calls, as in the kernel's time loop
        t = rng.uniform(37.0, 50.0, 12)
        for x in (0.9, 0.5, 0.1):
            assert exceeded_temperature_inplace(t, w, x, order) == exceeded_temperature(t, w, x)


def test_kernel_accumulates_cem43_and_arrhenius_of_its_constant_baseline():
    """With no particles the temperature stays at the field-off steady state, so the kernel's per-cell
    CEM43 and damage must equal the closed forms at that constant temperature."""
    s = arrhenius_set("he_bischof_2003_at1")
    res = simulate_sessions_radial(
        RadialPatients([0.012], [1.0], [0.0]),
        tumour=tumour_tissue("brain"),
        healthy=load_tissue("brain"),
        heating=Heating(field_kA_per_m=10.0),
        timing=SessionTiming(session_s=1800.0, cooldown_s=600.0),
    )
    base = res.baseline_C[0]
    expected_cem = np.array([cem43_constant(t, 40.0) for t in base])
    expected_omega = np.array([arrhenius_constant(t, 2400.0, s.a_per_s, s.ea_J_per_mol) for t in base])
    np.testing.assert_allclose(res.cem43_min[0, 0], expected_cem, rtol=1e-9)
    np.testing.assert_allclose(res.arrhenius_omega[0, 0], expected_omega, rtol=1e-9)
    assert res.cem43_t90_min[0, 0] == pytest.approx(cem43_constant(res.t90_C[0, 0], 40.0), rel=1e-6)


def test_kernel_cem43_matches_numpy_on_recorded_history():
    res = simulate_sessions_radial(
        RadialPatients([0.015], [0.6], [5e5]),
        tumour=tumour_tissue("brain"),
        healthy=load_tissue("brain"),
        heating=Heating(field_kA_per_m=10.0),
        timing=SessionTiming(session_s=1800, cooldown_s=600, dt_s=5.0, record_every_s=5.0),
    )
    hist = res.tumour_temperature_C[0, 0]  # (n_records, shells), every step
    # trapezoid rule in the kernel = mean of the rectangle rules on both ends; the kernel also integrates
    # over its sub-steps after the two source jumps (start, switch-off), hence rtol 2e-4 rather than exact
    rect_left = cem43_minutes(hist[:-1].T, 5.0)
    rect_right = cem43_minutes(hist[1:].T, 5.0)
    np.testing.assert_allclose(res.tumour_cem43_min[0, 0], 0.5 * (rect_left + rect_right), rtol=2e-4)
    assert res.tumour_cem43_min[0, 0, 0] > 10.0


def test_tumour_log10_kill_counts_unheated_shells():
    sf = np.array([1e-6, 1e-6, 1.0])
    w = np.array([0.25, 0.25, 0.5])
    assert tumour_log10_kill(sf, w) == pytest.approx(-np.log10(0.5 + 0.5e-6))
    assert heat_surviving_fraction(np.array([0.0, np.log(10.0)])) == pytest.approx([1.0, 0.1])


def test_bad_dose_input():
    with pytest.raises(InputError) as info:
        cem43_minutes(np.array([40.0, -3.0]), 10.0)
    assert info.value.field == "temperature_C"
    with pytest.raises(InputError) as info:
        cem43_minutes(np.array([40.0]), 0.0)
    assert info.value.field == "dt_s"
    with pytest.raises(InputError):
        arrhenius_set("no_such_set")
    with pytest.raises(InputError):
        volume_percentile_temperature([40.0, 41.0], [1.0, 0.0], 0.9)
