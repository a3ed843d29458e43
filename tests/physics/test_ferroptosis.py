"""Ferroptosis: GPX4 capacity, death hazard, and the Fe2+ autocatalysis threshold in the full chemistry."""

from __future__ import annotations

import numpy as np
import pytest

from mhtcdt.physics import chemistry as ch
from mhtcdt.physics import chemistry_fast as cf
from mhtcdt.physics import ferroptosis as fp


def test_gpx4_rate_closed_form_and_collapse_with_gsh() -> None:
    assert fp.gpx4_rate(1e-5, 4e-3, 1e-3, 1e-6, 1e-6) == pytest.approx(1e-5 * 0.8 * 0.5)
    assert fp.gpx4_rate(1e-5, 0.0, 1e-3, 1e-6, 1e-6) == 0.0
    rates = [fp.gpx4_rate(1e-5, g, 1e-3, 1e-6, 1e-6) for g in (4e-3, 1e-3, 1e-4)]
    assert rates[0] > rates[1] > rates[2]


def test_death_hazard_half_maximal_at_the_lethal_fraction() -> None:
    assert fp.death_hazard(0.05, 0.05, 4.0, 2.0) == pytest.approx(1.0)
    assert fp.death_hazard(0.0, 0.05, 4.0, 2.0) == 0.0
    assert fp.death_hazard(0.5, 0.05, 4.0, 2.0) == pytest.approx(2.0 * 1e4 / (1 + 1e4))


def test_heat_ros_factor_default_off_and_linear() -> None:
    assert fp.heat_ros_factor(45.0, 0.0) == 0.0
    assert fp.heat_ros_factor(36.0, 1.0) == 0.0
    assert fp.heat_ros_factor(43.0, 0.5) == pytest.approx(0.5)


def _clamped_iron_run(fe2_M: float) -> ch.ChemistryResult:
    """Labile Fe2+ held at ``fe2_M`` (its basal level, with a fast ferritin exchange: 0.01 min half-time; no
    particles), 37 C, 2 h. The slow legacy Fenton constant keeps radical initiation small, so the Fe2+-LOOH
    branching that the threshold is about decides the outcome (the threshold does not involve Fenton)."""
    cond = ch.ChemistryConditions(
        ph=7.2,
        gsh_mM=4.0,
        h2o2_production_uM_per_s=1.0,
        overrides={
            "constants.labile_fe2_M": fe2_M,
            "ferritin.relaxation_half_time_min": 0.01,
            **ch.chemistry_preset("fenton_ph3_legacy"),
        },
    )
    return ch.solve_oracle(cond, np.array([0.0, 7200.0]), np.array([37.0, 37.0]), rtol=1e-8)


def test_fe2_autocatalysis_threshold_matches_closed_form() -> None:
    cond = ch.ChemistryConditions(ph=7.2, gsh_mM=4.0)
    k_ref, ea, t_refs, s = ch.pack_parameters(cond)
    k = ch.rate_constants(k_ref, ea, t_refs, 37.0)
    y0 = ch.initial_state(k_ref, ea, t_refs, s, 0.0)
    threshold = fp.autocatalysis_threshold_fe2_M(
        s[ch.P_CHAIN], k[ch.R_FE2_LOOH], k[ch.R_GPX4], s[ch.P_KM_LOOH], y0[ch.S_GSH], s[ch.P_K_GPX_GSH]
    )
    below = _clamped_iron_run(0.5 * threshold)
    above = _clamped_iron_run(2.0 * threshold)
    assert below.lipid_peroxide_peak_uM < 1e-2  # stays near the basal level
    assert above.lipid_peroxide_peak_uM > 100 * below.lipid_peroxide_peak_uM  # runaway
    assert above.omega_ferroptosis > 1.0 > 1e3 * below.omega_ferroptosis


@pytest.mark.parametrize("co_agent", ["buthionine_sulfoximine", "gpx4_inhibitor"])
def test_gsh_depletion_and_gpx4_inhibition_raise_lipid_peroxidation(co_agent: str) -> None:
    t, temps = np.array([0.0, 600.0, 3600.0, 4500.0, 6 * 3600.0]), np.array([37.0, 44.0, 44.0, 37.0, 37.0])
    base = ch.ChemistryConditions(gsh_mM=4.0, particle_iron_mM=40.0, agent="gox_hollow_iron_oxide")
    with_co = ch.ChemistryConditions(
        gsh_mM=4.0, particle_iron_mM=40.0, agent="gox_hollow_iron_oxide", co_agents=(co_agent,)
    )
    a, b = cf.solve_fast(base, t, temps), cf.solve_fast(with_co, t, temps)
    assert b.lipid_peroxide_peak_uM > a.lipid_peroxide_peak_uM
    assert b.omega_ferroptosis >= a.omega_ferroptosis
    if co_agent == "buthionine_sulfoximine":
        assert b.gsh_nadir_mM < 0.5 * a.gsh_nadir_mM
