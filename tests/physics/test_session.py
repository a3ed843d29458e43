"""Session control: titration to a margin target under a healthy-tissue maximum."""

import numpy as np
import pytest

from mhtcdt.errors import InputError
from mhtcdt.physics.bioheat_radial import Heating, RadialPatients, simulate_sessions_radial
from mhtcdt.physics.session import SessionControl, SessionTiming, Titration, TitrationLaw, titration_step
from mhtcdt.physics.tissue import load_tissue, tumour_tissue


def titrated(q, control, cov=1.0, radius=0.015, host="brain"):
    return simulate_sessions_radial(
        RadialPatients([radius], [cov], [q]),
        tumour=tumour_tissue(host),
        healthy=load_tissue(host),
        heating=Heating(field_exponent=1.43, control=control),
        timing=SessionTiming(session_s=3600.0, cooldown_s=600.0),
    )


def test_titration_reaches_margin_target_without_overshoot():
    ctl = SessionControl(mode="titrate", target_C=42.0, healthy_max_C=43.0, field_max_kA_per_m=18.0)
    res = titrated(3e5, ctl)
    i_end = int(3600 / 60)
    # margin temperature = healthy maximum here (hottest healthy point is the margin)
    assert res.healthy_max_record_C[0, 0, i_end] == pytest.approx(42.0, abs=0.02)
    assert res.max_healthy_C[0, 0] < 42.0 + 0.2
    assert 2.0 < res.field_mean_kA_per_m[0, 0] < 18.0
    # the amplitude is held within the applicator bounds throughout
    on = res.field_record_kA_per_m[0, 0, :i_end]
    assert np.all((on >= 2.0 - 1e-12) & (on <= 18.0 + 1e-12))


def test_healthy_limit_binds_before_target():
    ctl = SessionControl(mode="titrate", target_C=45.0, healthy_max_C=41.0, field_max_kA_per_m=18.0)
    res = titrated(3e5, ctl)
    assert res.max_healthy_C[0, 0] < 41.0 + 0.2
    assert res.margin_peak_C[0, 0] < 45.0 - 3.0


def test_weak_heating_saturates_at_maximum_amplitude():
    ctl = SessionControl(mode="titrate", target_C=43.0, healthy_max_C=44.0, field_max_kA_per_m=15.0)
    res = titrated(2e4, ctl)
    assert res.field_mean_kA_per_m[0, 0] == pytest.approx(15.0)
    assert res.margin_peak_C[0, 0] < 43.0


def test_final_titrated_amplitude_holds_the_target_when_fixed():
    """The amplitude the controller settles on, applied as a fixed field, must hold the margin at target
    (plant and controller agree; the settled value is not an artefact of the control law)."""
    ctl = SessionControl(mode="titrate", target_C=41.5, healthy_max_C=43.0)
    res = titrated(3e5, ctl, cov=0.6)
    settled = res.field_record_kA_per_m[0, 0, 59]  # amplitude during the last minute of heating
    fixed = simulate_sessions_radial(
        RadialPatients([0.015], [0.6], [3e5]),
        tumour=tumour_tissue("brain"),
        healthy=load_tissue("brain"),
        heating=Heating(field_exponent=1.43, field_kA_per_m=settled),
        timing=SessionTiming(session_s=3600.0, cooldown_s=0.0),
    )
    assert fixed.healthy_max_record_C[0, 0, -1] == pytest.approx(41.5, abs=0.05)
    assert res.t50_C[0, 0] > 41.5  # the deposit inside is hotter than the margin


def test_pi_step_cuts_power_above_limit_and_does_not_wind_up():
    # target 42 C, healthy maximum 43 C, Kp 0.5, control every 60 s, Ti 300 s, band 0.5 K; gains 5 K per unit
    # power, feed-forward u 0.6, u_min 0.05 (SessionControl.law gives the same law for a session)
    law = TitrationLaw(42.0, 43.0, 0.5, 60.0, 300.0, 0.5)
    plan = Titration(gain_margin=5.0, gain_healthy=5.0, u_ff=0.6, u_min=0.05)
    assert SessionControl(mode="titrate", target_C=42.0, healthy_max_C=43.0).law(6, 10.0) == law
    # above the healthy limit: proportional cut, below u_ff
    u, integral = titration_step(43.0, 43.5, law, plan, 0.0)
    assert u < 0.6 and integral == 0.0  # error -0.5 K is at the band edge: not integrated beyond it
    # far below target: no proportional push, no integration (outside the band)
    u, integral = titration_step(38.0, 38.0, law, plan, 0.0)
    assert u == pytest.approx(0.6) and integral == 0.0
    # near target: integrates e dt / (G Ti)
    u, integral = titration_step(41.8, 41.8, law, plan, 0.0)
    assert integral == pytest.approx(0.2 * 60.0 / (5.0 * 300.0))


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        (dict(mode="titrate"), "control.target_C"),
        (dict(mode="titrate", target_C=70.0), "control.target_C"),
        (dict(mode="bang_bang"), "control.mode"),
        (dict(field_min_kA_per_m=-1.0), "control.field_min_kA_per_m"),
        (dict(field_min_kA_per_m=5.0, field_max_kA_per_m=4.0), "control.field_max_kA_per_m"),
        (dict(healthy_max_C=30.0), "control.healthy_max_C"),
        (dict(field_max_kA_per_m=300.0), "control.field_max_kA_per_m"),
    ],
)
def test_bad_control(kw, field):
    with pytest.raises(InputError) as info:
        SessionControl(**kw)
    assert info.value.field == field


def test_fixed_mode_needs_an_amplitude():
    with pytest.raises(InputError) as info:
        simulate_sessions_radial(
            RadialPatients([0.01], [1.0], [1e5]),
            tumour=tumour_tissue("brain"),
            healthy=load_tissue("brain"),
            heating=Heating(),
        )
    assert info.value.field == "heating.field_kA_per_m"
