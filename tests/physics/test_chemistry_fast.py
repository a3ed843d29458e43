"""Fast numba path (QSSA radicals + Rosenbrock) against the scipy Radau oracle of the full mechanism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mhtcdt.errors import ModelError
from mhtcdt.physics import chemistry as ch
from mhtcdt.physics import chemistry_fast as cf

METRICS = (
    "oh_cumulative_uM_min",
    "ferryl_cumulative_uM_min",
    "gsh_nadir_mM",
    "lipid_peroxide_peak_uM",
    "labile_fe2_peak_uM",
)


def _session_history(peak_C: float, hours: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """One 60-min heat session (10-min ramp, 15-min cool-down) then 37 C until ``hours``."""
    t = np.array([0.0, 600.0, 3600.0, 3900.0, 4500.0, hours * 3600.0])
    temps = np.array([37.0, peak_C, peak_C, 39.0, 37.0, 37.0])
    return t, temps


def _compare(cond: ch.ChemistryConditions, t: np.ndarray, temps: np.ndarray, tol: float = 0.01) -> None:
    fast = cf.solve_fast(cond, t, temps)
    oracle = ch.solve_oracle(cond, t, temps, rtol=1e-9)
    for name in METRICS:
        a, b = getattr(fast, name), getattr(oracle, name)
        if name == "ferryl_cumulative_uM_min" and b == 0.0:  # legacy option: no ferryl
            assert a == 0.0
            continue
        assert a == pytest.approx(b, rel=tol), f"{name}: fast {a} vs oracle {b} for {cond}"
    # ferroptotic hazard integral where it is not negligible
    if oracle.omega_ferroptosis > 1e-6:
        assert fast.omega_ferroptosis == pytest.approx(oracle.omega_ferroptosis, rel=tol)


# grid over the reference ranges: temperature, compartment pH (cytosol 7.1-7.4, and an acidified 6.5), GSH
# (1-10 mM), H2O2 production (0.05-20 uM/s)
GRID = list(itertools.product([37.0, 46.0], [6.5, 7.4], [1.0, 8.0], [0.1, 5.0]))


@pytest.mark.parametrize(("peak", "ph", "gsh", "h2o2"), GRID)
def test_fast_path_matches_oracle_within_1_percent(peak: float, ph: float, gsh: float, h2o2: float) -> None:
    cond = ch.ChemistryConditions(
        ph=ph, gsh_mM=gsh, h2o2_production_uM_per_s=h2o2, particle_iron_mM=30.0, agent="gox_hollow_iron_oxide"
    )
    _compare(cond, *_session_history(peak))


@pytest.mark.parametrize("preset", sorted(ch.CHEMISTRY_PRESETS))
def test_fast_path_matches_oracle_for_every_chemistry_preset(preset: str) -> None:
    cond = ch.ChemistryConditions(
        gsh_mM=4.0, particle_iron_mM=30.0, agent="ultrasmall_fe3o4", overrides=ch.chemistry_preset(preset)
    )
    _compare(cond, *_session_history(45.0, hours=12.0))


def test_fast_path_matches_oracle_once_ferritin_is_full() -> None:
    """A small ferritin store (0.01 uM shells, 45 uM Fe) fills within the run: labile iron then climbs."""
    cond = ch.ChemistryConditions(
        gsh_mM=6.0,
        h2o2_production_uM_per_s=0.2,
        particle_iron_mM=5.0,
        agent="nanotherm_mfl_as1",
        overrides={"ferritin.shell_uM": 0.01, "ferroptosis.chain_length": 2.0},
    )
    t, temps = _session_history(44.0, hours=48.0)
    _compare(cond, t, temps)
    res = cf.solve_fast(cond, t, temps)
    k_ref, ea, t_refs, s = ch.pack_parameters(cond)
    assert res.final_state[cf.F_FT] == pytest.approx(s[ch.P_FT_CAPACITY], rel=0.05)  # store (nearly) full


@pytest.mark.parametrize(
    "cond",
    [
        ch.ChemistryConditions(gsh_mM=4.0, particle_iron_mM=60.0, agent="ultrasmall_fe3o4"),
        ch.ChemistryConditions(
            gsh_mM=4.0,
            particle_iron_mM=60.0,
            agent="gox_hollow_iron_oxide",
            co_agents=("buthionine_sulfoximine", "gpx4_inhibitor"),
        ),
        ch.ChemistryConditions(ph=7.2, gsh_mM=2.0, particle_iron_mM=0.0),
        ch.ChemistryConditions(gsh_mM=3.0, particle_iron_mM=20.0, agent="mnfe2o4"),
    ],
    ids=["ultrasmall", "gox+bso+gpx4i (ferroptotic runaway)", "endogenous", "mnfe2o4 at cytosolic pH"],
)
def test_fast_path_matches_oracle_over_two_sessions(cond: ch.ChemistryConditions) -> None:
    t = np.array([0.0, 600.0, 3600.0, 4500.0, 4 * 3600.0, 4 * 3600.0 + 600.0, 5 * 3600.0, 8 * 3600.0])
    temps = np.array([37.0, 45.0, 45.0, 37.0, 37.0, 44.0, 44.0, 37.0])
    _compare(cond, t, temps)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("peak", "ph", "gsh", "h2o2"),
    list(itertools.product([37.0, 42.0, 46.0], [6.5, 7.2, 7.4], [1.0, 4.0, 10.0], [0.05, 1.0, 20.0])),
)
def test_fast_path_matches_oracle_full_grid(peak: float, ph: float, gsh: float, h2o2: float) -> None:
    cond = ch.ChemistryConditions(
        ph=ph, gsh_mM=gsh, h2o2_production_uM_per_s=h2o2, particle_iron_mM=40.0, agent="ultrasmall_fe3o4"
    )
    _compare(cond, *_session_history(peak, hours=24.0))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ligated", "ferritin_uM", "ph"),
    list(itertools.product([0.2, 1.0], [0.01, 1.0], [7.1, 7.4])),
)
def test_fast_path_matches_oracle_over_the_new_chemistry_priors(ligated: float, ferritin_uM: float, ph: float) -> None:
    """The ends of the sourced ranges of the .OH yield, the ferritin store and the cytosolic pH, with the
    legacy Fenton option and the fast ferritin relaxation, over a six-session history."""
    t = np.concatenate([j * 84 * 3600.0 + np.array([0.0, 600.0, 3600.0, 4500.0]) for j in range(3)] + [[12 * 86400.0]])
    temps = np.concatenate([[37.0, 45.0, 45.0, 37.0]] * 3 + [[37.0]])
    for overrides in (
        {"fenton_model.ligated_oh_fraction": ligated, "ferritin.shell_uM": ferritin_uM, "cytosol.pH": ph},
        {"fenton_model.ph_dependent": 0.0, "ferritin.shell_uM": ferritin_uM, "ferritin.relaxation_half_time_min": 10},
    ):
        cond = ch.ChemistryConditions(
            gsh_mM=4.0, particle_iron_mM=40.0, agent="gox_hollow_iron_oxide", overrides=overrides
        )
        _compare(cond, t, temps)


def test_qssa_radicals_match_the_oracle_radical_levels() -> None:
    cond = ch.ChemistryConditions(
        ph=6.0, gsh_mM=2.0, h2o2_production_uM_per_s=5.0, particle_iron_mM=30.0, agent="fe3o4_pd_janus"
    )
    t, temps = np.array([0.0, 1800.0]), np.array([43.0, 43.0])
    oracle = ch.solve_oracle(cond, t, temps, rtol=1e-10)
    k_ref, ea, t_refs, s = ch.pack_parameters(cond)
    k = ch.rate_constants(k_ref, ea, t_refs, 43.0, s)
    y_fast = cf.fast_initial_state(oracle.final_state)
    oh, so, feo = cf.radicals_qssa(y_fast, k, s)
    assert oh == pytest.approx(oracle.final_state[ch.S_OH], rel=1e-4)
    assert so == pytest.approx(oracle.final_state[ch.S_SO], rel=1e-4)
    assert feo == pytest.approx(oracle.final_state[ch.S_FEO], rel=1e-4)
    assert feo > 0.0


def test_solver_failure_raises_instead_of_returning_nan() -> None:
    cond = ch.ChemistryConditions(particle_iron_mM=10.0, agent="ultrasmall_fe3o4")
    k_ref, ea, t_refs, s = ch.pack_parameters(cond)
    y0 = cf.fast_initial_state(ch.initial_state(k_ref, ea, t_refs, s, 10e-3))
    t, temps = _session_history(45.0)
    with pytest.raises(ModelError, match="too many steps"):
        cf.run_prepared(k_ref[None], ea[None], t_refs[None], s[None], y0[None], [t], [temps], max_steps=5)


def _fast(gsh: float = 4.0, h2o2: float = 1.0, peak: float = 37.0, iron: float = 40.0):
    cond = ch.ChemistryConditions(
        gsh_mM=gsh, h2o2_production_uM_per_s=h2o2, particle_iron_mM=iron, agent="ultrasmall_fe3o4"
    )
    return cf.solve_fast(cond, *_session_history(peak))


@settings(max_examples=20, deadline=None)
@given(gsh=st.floats(1.0, 9.0), drop=st.floats(0.05, 0.9))
def test_less_gsh_never_gives_less_ferroptotic_kill(gsh: float, drop: float) -> None:
    """Kill is monotone; the LOOH peak and PUFA left are not once both runs are in the runaway regime (set by
    PUFA exhaustion), so the peak is checked below the autocatalytic threshold only."""
    high = _fast(gsh=gsh)
    low = _fast(gsh=gsh * (1 - drop))
    assert low.omega_ferroptosis >= high.omega_ferroptosis * (1 - 1e-3) - 1e-15
    assert low.gsh_nadir_mM <= high.gsh_nadir_mM
    sub_high = _fast(gsh=gsh, iron=2.0)
    sub_low = _fast(gsh=gsh * (1 - drop), iron=2.0)
    assert sub_low.lipid_peroxide_peak_uM >= sub_high.lipid_peroxide_peak_uM * (1 - 1e-4)


@settings(max_examples=20, deadline=None)
@given(peak=st.floats(37.0, 47.0), extra=st.floats(0.5, 5.0), h2o2=st.floats(0.05, 10.0))
def test_more_heat_never_gives_less_oh_or_ferroptotic_kill(peak: float, extra: float, h2o2: float) -> None:
    cool = _fast(peak=peak, h2o2=h2o2)
    hot = _fast(peak=peak + extra, h2o2=h2o2)
    cap = ch.chemistry_parameters()["cdt_kill"]["sterilised_omega"]
    if hot.omega_ferroptosis < cap:  # a sterilised element's chemistry stops there (dead cells)
        assert hot.oh_cumulative_uM_min >= cool.oh_cumulative_uM_min * (1 - 1e-6)
    assert hot.omega_ferroptosis >= cool.omega_ferroptosis * (1 - 1e-3) - 1e-15


@settings(max_examples=20, deadline=None)
@given(iron=st.floats(1.0, 80.0), factor=st.floats(1.1, 3.0))
def test_more_iron_never_gives_less_oh_or_kill(iron: float, factor: float) -> None:
    more, less = _fast(iron=iron * factor), _fast(iron=iron)
    assert more.omega_ferroptosis >= less.omega_ferroptosis * (1 - 1e-3) - 1e-15
    if more.omega_ferroptosis < ch.chemistry_parameters()["cdt_kill"]["sterilised_omega"]:
        assert more.oh_cumulative_uM_min >= less.oh_cumulative_uM_min * (1 - 1e-6)


@pytest.mark.parametrize("legacy", [False, True])
def test_analytic_jacobian_matches_central_differences(legacy: bool) -> None:
    """jacobian_k (chain rule through the quasi-steady radicals) against central differences of rhs_k at
    perturbed states, rows scaled by their largest entry."""
    rng = np.random.default_rng(11)
    for trial, agent in enumerate(["gox_hollow_iron_oxide", "mnfe2o4", "ultrasmall_fe3o4"] * 4):
        overrides = ch.chemistry_preset("fenton_ph3_legacy") if legacy else {}
        cond = ch.ChemistryConditions(gsh_mM=4.0, particle_iron_mM=30.0, agent=agent, overrides=overrides)
        k_ref, ea, t_refs, s = ch.pack_parameters(cond)
        y = cf.fast_initial_state(ch.initial_state(k_ref, ea, t_refs, s, 0.03))
        y[: cf.N_COUPLED] *= np.exp(rng.normal(0.0, 1.5, cf.N_COUPLED))
        y[cf.F_LH] = min(y[cf.F_LH], s[ch.P_LH0]) * rng.uniform(0.3, 1.0)  # some peroxidation: hazard on
        y[cf.F_FT] = min(y[cf.F_FT], 0.99 * s[ch.P_FT_CAPACITY])
        temp = float(rng.uniform(37.0, 50.0))
        k = ch.rate_constants(k_ref, ea, t_refs, temp, s)
        analytic = np.empty((cf.N_FAST, cf.N_COUPLED))
        cf.jacobian_k(y, k, s, temp, analytic, np.empty((cf.N_JAC_SCRATCH, cf.N_COUPLED)))
        numeric = np.empty_like(analytic)
        f_plus, f_minus = np.empty(cf.N_FAST), np.empty(cf.N_FAST)
        for j in range(cf.N_COUPLED):
            d = 1e-5 * abs(y[j])
            yp, ym = y.copy(), y.copy()
            yp[j] += d
            ym[j] -= d
            cf.rhs_k(yp, k, s, temp, f_plus)
            cf.rhs_k(ym, k, s, temp, f_minus)
            numeric[:, j] = (f_plus - f_minus) / (2 * d)
        scale = np.abs(numeric).max(axis=1, keepdims=True) + 1e-300
        assert np.max(np.abs(analytic - numeric) / scale) < 2e-3, f"trial {trial}"
