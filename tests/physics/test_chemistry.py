"""Full Fenton/CDT mechanism (scipy oracle): stoichiometry, conservation, initial rates, Arrhenius, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mhtcdt.datafiles import load_toml
from mhtcdt.errors import InputError
from mhtcdt.physics import chemistry as ch
from mhtcdt.physics import chemistry_fast as cf

R_GAS = 8.314462618


def _table() -> dict:
    return load_toml("mhtcdt.physics", "data/chemistry.toml")


def _state(**values: float) -> np.ndarray:
    y = np.zeros(ch.N_FULL)
    names = dict(zip(ch.SPECIES_NAMES, range(11), strict=True))
    for k, v in values.items():
        y[names[k]] = v
    return y


def test_arrhenius_scaling_of_every_constant() -> None:
    cond = ch.ChemistryConditions(agent="ultrasmall_fe3o4", particle_iron_mM=10.0)
    k_ref, ea, t_refs, _ = ch.pack_parameters(cond)
    for temp in (25.0, 37.0, 45.0):
        k = ch.rate_constants(k_ref, ea, t_refs, temp)
        tk = temp + 273.15
        expected = k_ref * np.exp(-ea / R_GAS * (1 / tk - 1 / t_refs))
        np.testing.assert_allclose(k, expected, rtol=1e-12)
    # a 10 K rise multiplies each constant by exp(Ea/R (1/T1 - 1/T2)); Fenton (39 kJ/mol) by ~1.63 at 37->47 C
    k37 = ch.rate_constants(k_ref, ea, t_refs, 37.0)
    k47 = ch.rate_constants(k_ref, ea, t_refs, 47.0)
    ratio = k47[ch.R_FE2_H2O2] / k37[ch.R_FE2_H2O2]
    assert ratio == pytest.approx(math.exp(39e3 / R_GAS * (1 / 310.15 - 1 / 320.15)), rel=1e-12)
    assert 1.55 < ratio < 1.7
    # at its reference temperature each constant equals the tabulated value
    table = _table()["reactions"]
    k25 = ch.rate_constants(k_ref, ea, t_refs, 25.0)
    for i, key in enumerate(ch.REACTION_KEYS):
        if key in ("sod", "catalase", "gpx_h2o2"):  # quoted at 37 C
            assert k37[i] == pytest.approx(table[key]["k"], rel=1e-12)
        else:
            assert k25[i] == pytest.approx(table[key]["k"], rel=1e-12)


def test_initial_rates_equal_k_times_reactants() -> None:
    cond = ch.ChemistryConditions(ph=7.0, agent="nanotherm_mfl_as1", particle_iron_mM=5.0)
    k_ref, ea, t_refs, s = ch.pack_parameters(cond)
    table = _table()["reactions"]
    temp = 40.0
    k = ch.rate_constants(k_ref, ea, t_refs, temp)
    y = _state(Fe2=2e-6, Fe3=3e-6, H2O2=1e-7, GSH=4e-3, GSSG=1e-5, LOOH=1e-9, LH=1e-2, FeP=5e-3, O2=5e-5)
    r, _ = ch.full_rates(y, k, s)
    tk = temp + 273.15

    def k_at(key: str) -> float:
        d = table[key]
        return d["k"] * math.exp(-d["Ea_kJ_per_mol"] * 1e3 / R_GAS * (1 / tk - 1 / 298.15))

    assert r[0] == pytest.approx(k_at("fe2_h2o2") * 2e-6 * 1e-7, rel=1e-12)  # eqn (1)
    assert r[1] == pytest.approx(k_at("fe3_h2o2") * 3e-6 * 1e-7, rel=1e-12)  # Fenton-like
    assert r[14] == pytest.approx(k_at("gsh_h2o2") * 4e-3 * 1e-7, rel=1e-12)  # eqn (8), H2O2
    assert r[15] == pytest.approx(k_at("gsh_fe3") * 4e-3 * 3e-6, rel=1e-12)  # eqn (7)
    # with no radicals present, d[OH]/dt = Fenton + surface peroxidase production exactly
    dy = ch.full_rhs(0.0, y, k_ref, ea, t_refs, s, lambda t: temp)
    expected_oh = k_at("fe2_h2o2") * 2e-6 * 1e-7 + k[ch.R_SURF] * 5e-3 * 1e-7
    assert dy[ch.S_OH] == pytest.approx(expected_oh, rel=1e-12)


def test_every_reaction_conserves_iron_and_glutathione_except_declared_sources() -> None:
    cond = ch.ChemistryConditions(agent="gox_hollow_iron_oxide", particle_iron_mM=5.0)
    k_ref, ea, t_refs, s = ch.pack_parameters(cond)
    k = ch.rate_constants(k_ref, ea, t_refs, 37.0)
    y = _state(
        Fe2=2e-6, Fe3=3e-6, H2O2=1e-7, OH=1e-18, SO=1e-12, GSH=4e-3, GSSG=1e-5, LOOH=1e-9, LH=1e-2, FeP=5e-3, O2=5e-5
    )
    _, n = ch.full_rates(y, k, s)
    iron = n[ch.S_FE2] + n[ch.S_FE3] + n[ch.S_FEP]
    glutathione = n[ch.S_GSH] + 2 * n[ch.S_GSSG]
    # reaction columns 21-23 are GSH synthesis/turnover/export, 27-28 labile iron sequestration
    iron_sinks = {27, 28}
    gsh_sinks = {21, 22, 23}
    for j in range(n.shape[1]):
        if j not in iron_sinks:
            assert iron[j] == pytest.approx(0.0, abs=1e-12), f"reaction {j} changes total iron"
        if j not in gsh_sinks:
            assert glutathione[j] == pytest.approx(0.0, abs=1e-12), f"reaction {j} changes GSH + 2 GSSG"


@pytest.mark.parametrize("solver", ["oracle", "fast"])
def test_conservation_when_sources_and_sinks_are_off(solver: str) -> None:
    overrides = {"constants.gsh_turnover_per_s": 0.0, "constants.iron_sequestration_per_s": 0.0}
    cond = ch.ChemistryConditions(
        ph=6.6,
        gsh_mM=3.0,
        h2o2_production_uM_per_s=5.0,
        particle_iron_mM=20.0,
        agent="ultrasmall_fe3o4",
        overrides=overrides,
    )
    k_ref, ea, t_refs, s = ch.pack_parameters(cond)
    y0 = ch.initial_state(k_ref, ea, t_refs, s, 20e-3)
    t = np.array([0.0, 600.0, 3600.0, 4200.0, 2 * 3600.0])
    temps = np.array([37.0, 45.0, 45.0, 37.0, 37.0])
    if solver == "oracle":
        res = ch.solve_oracle(cond, t, temps, rtol=1e-9)
        y = res.final_state
        fe = y[ch.S_FE2] + y[ch.S_FE3] + y[ch.S_FEP]
        g = y[ch.S_GSH] + 2 * y[ch.S_GSSG]
    else:
        res = cf.solve_fast(cond, t, temps, rtol=1e-6)
        y = res.final_state
        fe = y[cf.F_FE2] + y[cf.F_FE3] + y[cf.F_FEP]
        g = y[cf.F_GSH] + 2 * y[cf.F_GSSG]
    fe0 = y0[ch.S_FE2] + y0[ch.S_FE3] + y0[ch.S_FEP]
    g0 = y0[ch.S_GSH] + 2 * y0[ch.S_GSSG]
    assert fe == pytest.approx(fe0, rel=1e-6)
    assert g == pytest.approx(g0, rel=1e-6)
    # the run did something: particles dissolved and iron moved into the labile pool
    assert y0[ch.S_FEP] - (y[ch.S_FEP] if solver == "oracle" else y[cf.F_FEP]) > 1e-6


def test_heat_accelerates_cdt() -> None:
    cond = ch.ChemistryConditions(ph=6.8, gsh_mM=4.0, particle_iron_mM=30.0, agent="gox_hollow_iron_oxide")
    t = np.array([0.0, 3600.0])
    cold = ch.solve_oracle(cond, t, np.array([37.0, 37.0]), rtol=1e-8)
    hot = ch.solve_oracle(cond, t, np.array([45.0, 45.0]), rtol=1e-8)
    assert hot.oh_cumulative_uM_min > 1.2 * cold.oh_cumulative_uM_min


def test_h2o2_is_a_flux_balance() -> None:
    """Without particles, H2O2 settles at production / (catalase + GPx + Fenton) clearance."""
    cond = ch.ChemistryConditions(ph=7.2, gsh_mM=4.0, h2o2_production_uM_per_s=2.0)
    res = ch.solve_oracle(cond, np.array([0.0, 1800.0]), np.array([37.0, 37.0]), rtol=1e-9)
    k_ref, ea, t_refs, s = ch.pack_parameters(cond)
    k = ch.rate_constants(k_ref, ea, t_refs, 37.0)
    y = res.final_state
    gsh = y[ch.S_GSH]
    clearance = (
        k[ch.R_CAT]
        + k[ch.R_GPX] * gsh / (s[ch.P_K_GPX_GSH] + gsh)
        + k[ch.R_FE2_H2O2] * y[ch.S_FE2]
        + k[ch.R_FE3_H2O2] * y[ch.S_FE3]
        + k[ch.R_GSH_H2O2] * gsh
    )
    assert y[ch.S_H2O2] == pytest.approx(2e-6 / clearance, rel=1e-3)
    # doubling production doubles the steady level
    cond2 = ch.ChemistryConditions(ph=7.2, gsh_mM=4.0, h2o2_production_uM_per_s=4.0)
    res2 = ch.solve_oracle(cond2, np.array([0.0, 1800.0]), np.array([37.0, 37.0]), rtol=1e-9)
    assert res2.final_state[ch.S_H2O2] == pytest.approx(2 * y[ch.S_H2O2], rel=2e-3)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"ph": 2.5}, "ph"),
        ({"ph": 9.5}, "ph"),
        ({"gsh_mM": -1.0}, "gsh_mM"),
        ({"h2o2_production_uM_per_s": float("nan")}, "h2o2_production_uM_per_s"),
        ({"particle_iron_mM": -3.0}, "particle_iron_mM"),
        ({"agent": "unobtainium"}, "agent"),
        ({"co_agents": ("buthionine_sulfoximine", "magic")}, "co_agents[1]"),
    ],
)
def test_bad_conditions_name_field_and_value(kwargs: dict, field: str) -> None:
    with pytest.raises(InputError) as exc:
        ch.ChemistryConditions(**kwargs)
    assert exc.value.field == field
    if field == "agent":
        assert "nanotherm_mfl_as1" in exc.value.message


def test_bad_temperature_history_is_refused() -> None:
    cond = ch.ChemistryConditions()
    with pytest.raises(InputError):
        ch.solve_oracle(cond, np.array([0.0, 10.0, 5.0]), np.array([37.0, 37.0, 37.0]))
    with pytest.raises(InputError):
        cf.solve_fast(cond, np.array([0.0, 10.0]), np.array([37.0, float("nan")]))


def test_size_effect_is_of_the_published_order() -> None:
    """Tian et al. 2022 (via review 004): <5 nm Fe3O4 gave 11.99-fold more .OH than 100 nm particles in vitro.
    The model's 1/d dissolution scaling, at equal iron over a day, must land within a factor 3 of that."""
    t, temps = np.array([0.0, 86400.0]), np.array([37.0, 37.0])
    small = ch.ChemistryConditions(ph=6.8, particle_iron_mM=10.0, agent="ultrasmall_fe3o4")
    k_ref, _, _, _ = ch.pack_parameters(small)
    d_small = ch.agent_table()["agents"]["ultrasmall_fe3o4"]["core_diameter_nm"]
    big = ch.ChemistryConditions(
        ph=6.8,
        particle_iron_mM=10.0,
        agent="ultrasmall_fe3o4",
        overrides={"agent.dissolution_per_s": k_ref[ch.R_DISS] * d_small / 100.0},
    )
    ratio = cf.solve_fast(small, t, temps).oh_cumulative_uM_min / cf.solve_fast(big, t, temps).oh_cumulative_uM_min
    assert 11.99 / 3 < ratio < 11.99 * 3
