"""Field safety: H*f limits, refusal, eddy-current heating."""

import math

import pytest

from mhtcdt.errors import InputError
from mhtcdt.physics.field import (
    eddy_current_power_W_per_m3,
    enforce_field_safety,
    field_safety,
    max_field_within_limit_kA_per_m,
)


def test_h_times_f_against_both_limits():
    r = field_safety(18.0, 100.0, 0.085)
    assert r.h_times_f_A_per_m_s == pytest.approx(1.8e9)
    assert r.atkinson_brezovich_ratio == pytest.approx(1.8e9 / 4.85e8)
    assert r.hergt_dutz_ratio == pytest.approx(0.36)
    assert r.within_chosen_limit  # Hergt-Dutz by default
    assert not field_safety(18.0, 100.0, 0.085, "atkinson_brezovich").within_chosen_limit


def test_refusal_names_field_and_allows_explicit_override():
    with pytest.raises(InputError) as info:
        enforce_field_safety(10.0, 100.0, 0.15, "atkinson_brezovich")
    assert info.value.field == "field_kA_per_m"
    assert "Atkinson-Brezovich" in info.value.message and "allow_above_safety_limit" in info.value.message
    report = enforce_field_safety(10.0, 100.0, 0.15, "atkinson_brezovich", allow_above_limit=True)
    assert not report.within_chosen_limit
    with pytest.raises(InputError):
        enforce_field_safety(45.0, 150.0, 0.15, "hergt_dutz")


def test_eddy_current_power_hand_calculation():
    # E = pi f mu0 H r = pi * 1e5 * 4 pi 1e-7 * 1e4 * 0.15 = 592.2 V/m; p = 0.4/2 * E^2
    e = math.pi * 1e5 * 1.25663706212e-6 * 1e4 * 0.15
    assert eddy_current_power_W_per_m3(10.0, 100.0, 0.15, 0.4) == pytest.approx(0.2 * e * e, rel=1e-12)
    # scales with (f H r)^2
    assert eddy_current_power_W_per_m3(10.0, 100.0, 0.30, 0.4) == pytest.approx(4 * 0.2 * e * e, rel=1e-12)
    assert (
        field_safety(10.0, 100.0, 0.15).eddy_power_at_body_radius_W_per_m3
        > field_safety(10.0, 100.0, 0.085).eddy_power_at_body_radius_W_per_m3
    )


def test_max_field_within_limit():
    assert max_field_within_limit_kA_per_m(100.0, "atkinson_brezovich") == pytest.approx(4.85)
    assert max_field_within_limit_kA_per_m(100.0, "hergt_dutz") == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((10.0, 20.0, 0.1), "freq_kHz"),
        ((0.1, 100.0, 0.1), "field_kA_per_m"),
        ((10.0, 100.0, -0.1), "body_radius_m"),
    ],
)
def test_out_of_range(args, field):
    with pytest.raises(InputError) as info:
        field_safety(*args)
    assert info.value.field == field
