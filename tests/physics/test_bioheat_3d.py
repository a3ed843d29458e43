"""3-D solver: agreement with the radial solver on a spherically symmetric case; heterogeneous deposit."""

import numpy as np
import pytest

from mhtcdt.errors import InputError
from mhtcdt.physics.bioheat_3d import simulate_session_3d, sphere_fraction_map
from mhtcdt.physics.bioheat_radial import Heating, RadialGrid, RadialPatients, simulate_sessions_radial
from mhtcdt.physics.session import SessionTiming
from mhtcdt.physics.tissue import load_tissue, tumour_tissue

R = 0.01
N = 31
HALF = 3 * R


@pytest.fixture(scope="module")
def symmetric_pair():
    tum, healthy = tumour_tissue("brain"), load_tissue("brain")
    frac = sphere_fraction_map(N, HALF, (R, R, R))
    timing = SessionTiming(session_s=900.0, cooldown_s=300.0, dt_s=15.0)
    res3 = simulate_session_3d(frac, 3e5 * frac, HALF, tumour=tum, healthy=healthy, timing=timing)
    res1 = simulate_sessions_radial(
        RadialPatients([R], [1.0], [3e5]),
        tumour=tum,
        healthy=healthy,
        heating=Heating(field_kA_per_m=10.0),
        timing=timing,
        grid=RadialGrid(cells_in_tumour=20, far_factor=3.0),
    )
    return res3, res1


def test_3d_matches_radial_profile(symmetric_pair):
    res3, res1 = symmetric_pair
    centre = N // 2
    x = np.abs(res3.axis_m[centre:]) / R  # voxel centres along +x
    for rec in (5, 15, 20):  # mid-heating, end of heating, cooling
        radial = np.interp(x, res1.cell_radius_over_R[:20], res1.tumour_temperature_C[0, 0, rec])
        inside = x < 0.9
        line = res3.centre_line_C[rec, centre:]
        assert np.max(np.abs(line[inside] - radial[inside])) < 0.1
    assert res3.centre_line_C[15, centre] > 43.0  # a real heating case


def test_3d_dose_summaries_match_radial(symmetric_pair):
    res3, res1 = symmetric_pair
    assert res3.t50_C == pytest.approx(res1.t50_C[0, 0], abs=0.15)
    assert res3.baseline_C[N // 2, N // 2, N // 2] == pytest.approx(res1.baseline_C[0, 0], abs=0.01)


def test_heterogeneous_deposit_heats_off_centre():
    tum, healthy = tumour_tissue("brain"), load_tissue("brain")
    frac = sphere_fraction_map(21, HALF, (R, R, R))
    blob = sphere_fraction_map(21, HALF, (0.4 * R, 0.4 * R, 0.4 * R), centre_m=(0.5 * R, 0.0, 0.0))
    res = simulate_session_3d(
        frac, 2e6 * blob, HALF, tumour=tum, healthy=healthy, timing=SessionTiming(600.0, 0.0, 15.0, 60.0)
    )
    hottest = np.unravel_index(np.argmax(res.peak_C), res.peak_C.shape)
    assert res.axis_m[hottest[0]] > 0.2 * R
    assert res.t10_C > res.t50_C > res.t90_C


def test_3d_bad_input():
    tum, healthy = tumour_tissue("brain"), load_tissue("brain")
    frac = sphere_fraction_map(9, HALF, (R, R, R))
    with pytest.raises(InputError) as info:
        simulate_session_3d(frac, -frac, HALF, tumour=tum, healthy=healthy)
    assert info.value.field == "power_W_per_m3"
    with pytest.raises(InputError) as info:
        simulate_session_3d(frac[:, :, :5], frac[:, :, :5], HALF, tumour=tum, healthy=healthy)
    assert info.value.field == "tumour_fraction"
