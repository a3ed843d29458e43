"""Thermotolerance: kernel timing presets, no effect on the first session, interval dependence."""

import numpy as np
import pytest

from mhtcdt.errors import InputError
from mhtcdt.physics.thermotolerance import (
    ThermotoleranceModel,
    heat_surviving_fraction_with_tolerance,
    hsp_level,
    kill_versus_interval,
    session_start_hours,
    thermotolerance_preset,
)


@pytest.mark.parametrize(("preset", "peak", "baseline"), [("seed_review", 19.0, 24.0), ("literature", 16.0, 72.0)])
def test_presets_have_the_stated_timing(preset, peak, baseline):
    m = thermotolerance_preset(preset)
    assert m.kernel(np.array([peak]))[0] == pytest.approx(1.0)
    assert m.kernel(np.array([baseline]))[0] == pytest.approx(0.05, rel=1e-9)
    grid = np.linspace(0.1, 200.0, 20000)
    assert grid[np.argmax(m.kernel(grid))] == pytest.approx(peak, abs=0.02)
    assert m.kernel(np.array([-1.0, 0.0]))[0] == 0.0


def test_first_session_is_unaffected_and_later_ones_are_protected():
    m = thermotolerance_preset("literature")
    omega = np.full((3, 2), 2.0)
    cem = np.full((3, 2), 30.0)
    times = session_start_hours(3, 24.0)
    level = hsp_level(cem, times, m)
    assert np.all(level[0] == 0.0) and np.all(level[1:] > 0.5)
    sf_tol = heat_surviving_fraction_with_tolerance(omega, cem, times, m)
    sf_none = heat_surviving_fraction_with_tolerance(omega, cem, times, None)
    np.testing.assert_allclose(sf_none, np.exp(-6.0))
    assert np.all(sf_tol > sf_none)
    # exact: Omega_eff = 2 + 2 * 2 / (1 + (F - 1) H)
    expected = np.exp(-(2.0 + np.sum(2.0 / (1.0 + (m.max_protection - 1.0) * level[1:]), axis=0)))
    np.testing.assert_allclose(sf_tol, expected, rtol=1e-12)


def test_interval_changes_kill_differently_for_the_two_presets():
    omega = np.full((4, 3), 2.0)
    cem = np.full((4, 3), 40.0)
    w = np.array([0.2, 0.3, 0.5])
    intervals = np.array([19.0, 48.0, 84.0, 336.0])
    seed = kill_versus_interval(omega, cem, w, intervals, thermotolerance_preset("seed_review"))
    lit = kill_versus_interval(omega, cem, w, intervals, thermotolerance_preset("literature"))
    assert list(seed.columns) == ["interval_hours", "log10_kill_heat"]
    full = 8.0 / np.log(10.0)  # no tolerance: sum Omega = 8 per shell
    # seed timing: protection only near 19 h, none at 48 h or later
    assert seed.log10_kill_heat[0] < full - 0.5
    np.testing.assert_allclose(seed.log10_kill_heat[1:], full, rtol=1e-9)
    # literature timing: still protected at 48 h, fading by 84 h, gone by two weeks
    k = lit.log10_kill_heat.to_numpy()
    assert k[0] < k[1] < k[2] < full
    assert k[3] == pytest.approx(full, rel=1e-6)


def test_hsp_suppression_restores_kill():
    m = thermotolerance_preset("literature")
    omega = np.full((2, 1), 3.0)
    cem = np.full((2, 1), 50.0)
    t = session_start_hours(2, 24.0)
    none = heat_surviving_fraction_with_tolerance(omega, cem, t, None)
    blocked = heat_surviving_fraction_with_tolerance(omega, cem, t, m, hsp_expression_scale=0.0)
    half = heat_surviving_fraction_with_tolerance(omega, cem, t, m, hsp_expression_scale=0.5)
    full = heat_surviving_fraction_with_tolerance(omega, cem, t, m)
    np.testing.assert_allclose(blocked, none)
    assert none[0] < half[0] < full[0]


def test_bad_thermotolerance_input():
    with pytest.raises(InputError) as info:
        ThermotoleranceModel("x", peak_h=20.0, baseline_h=10.0, max_protection=2.0, induction_cem43_min=5.0)
    assert info.value.field == "thermotolerance.baseline_h"
    with pytest.raises(InputError) as info:
        thermotolerance_preset("nope")
    assert info.value.field == "thermotolerance"
    with pytest.raises(InputError) as info:
        session_start_hours(3, 0.0)
    assert info.value.field == "session_interval_hours"
