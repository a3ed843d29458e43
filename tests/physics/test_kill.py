"""Combined kill: multiplicative survival per element, volume averaging, sequential attribution."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mhtcdt.errors import InputError
from mhtcdt.physics.kill import combine_kill

LN10 = math.log(10)


def test_single_element_is_the_sum_of_log_kills() -> None:
    out = combine_kill(
        np.ones((1, 1)),
        np.array([-4.5]),
        np.array([[-2.0]]),
        np.array([[-1.0]]),
        np.array([[-5.0]]),
        np.array([[-0.3]]),
    )
    assert out["log10_kill_rt"][0] == pytest.approx(4.5 / LN10)
    assert out["log10_kill_heat"][0] == pytest.approx(2.0 / LN10)
    assert out["log10_kill_cdt"][0] == pytest.approx(1.0 / LN10)
    assert out["log10_kill_interaction"][0] == pytest.approx((0.5 + 0.3) / LN10)
    assert out["log10_kill_total"][0] == pytest.approx(8.3 / LN10)
    assert out["surviving_fraction"][0] == pytest.approx(math.exp(-8.3))


def test_unheated_element_caps_the_heat_kill() -> None:
    w = np.array([[0.95, 0.05]])
    out = combine_kill(w, np.zeros(1), np.array([[-1000.0, 0.0]]), np.zeros((1, 2)))
    assert out["log10_kill_heat"][0] == pytest.approx(-math.log10(0.05), rel=1e-9)
    assert np.isfinite(out["log10_kill_total"][0])


@settings(max_examples=50, deadline=None)
@given(
    w=st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3),
    rt=st.floats(-10, 0),
    heat=st.lists(st.floats(-50, 0), min_size=3, max_size=3),
    cdt=st.lists(st.floats(-20, 0), min_size=3, max_size=3),
    extra=st.floats(0.0, 5.0),
    more=st.floats(0.0, 20.0),
)
def test_attribution_sums_to_total_and_more_damage_never_less_kill(w, rt, heat, cdt, extra, more) -> None:
    weights = np.array([w])
    heat_a = np.array([heat])
    cdt_a = np.array([cdt])
    out = combine_kill(weights, np.array([rt]), heat_a, cdt_a, np.array([[rt - extra] * 3]))
    parts = sum(out[k] for k in ("log10_kill_rt", "log10_kill_heat", "log10_kill_cdt", "log10_kill_interaction"))
    assert parts[0] == pytest.approx(out["log10_kill_total"][0], rel=1e-12, abs=1e-12)
    for k in ("log10_kill_rt", "log10_kill_heat", "log10_kill_cdt", "log10_kill_interaction"):
        assert out[k][0] >= 0.0
    hotter = combine_kill(weights, np.array([rt]), heat_a - more, cdt_a, np.array([[rt - extra] * 3]))
    assert hotter["log10_kill_total"][0] >= out["log10_kill_total"][0] - 1e-12
    higher_dose = combine_kill(weights, np.array([rt - more]), heat_a, cdt_a, np.array([[rt - more - extra] * 3]))
    assert higher_dose["log10_kill_total"][0] >= out["log10_kill_total"][0] - 1e-12


def test_bad_input_is_refused() -> None:
    with pytest.raises(InputError):
        combine_kill(np.ones((1, 2)), np.zeros(1), np.array([[np.nan, 0.0]]), np.zeros((1, 2)))
    with pytest.raises(InputError):
        combine_kill(np.array([[-1.0, 2.0]]), np.zeros(1), np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(InputError):
        combine_kill(np.ones((1, 2)), np.zeros(1), np.array([[0.5, 0.0]]), np.zeros((1, 2)))
