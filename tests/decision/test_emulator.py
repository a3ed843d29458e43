"""The per-arm emulator of the physics: exact at its design, the infiltrative mixing against the physics'
combination, relevance screening, and (slow) its error against direct simulation on held-out draws."""

from __future__ import annotations

import numpy as np
import pytest

from mhtcdt.decision.model.emulator import AXIAL_SCORE, ArmEmulator, assumptions_for
from mhtcdt.decision.model.physics_psa import psa_inputs
from mhtcdt.decision.run.pipeline import run_pipeline
from mhtcdt.decision.scenario.loading import default_scenario
from mhtcdt.decision.scenario.uncertain_inputs import resolve_inputs
from mhtcdt.decision.streams import physics_seed
from mhtcdt.physics import kill


@pytest.fixture(scope="module")
def setting():
    sc = default_scenario()
    sc = sc.model_copy(update={"cohort": sc.cohort.model_copy(update={"n_screened": 60})})
    result = run_pipeline(sc, seed=3)
    return sc, result


def _arm(setting, index):
    sc, result = setting
    arm = sc.randomised_arms[index]
    rows = result.trial[result.trial["arm"] == arm.name]
    return arm, rows[list(result.cohort.columns)].reset_index(drop=True), physics_seed(3, index), rows


@pytest.fixture(scope="module")
def mht(setting):
    sc, _ = setting
    arm, patients, seed, rows = _arm(setting, 1)
    return ArmEmulator(arm.name, patients, arm, seed, sc.physics_assumptions(), psa_inputs(sc)), rows


def _scenario_values(emu):
    """The scenario's own values of the emulated inputs (the trial was simulated with them)."""
    from mhtcdt.physics import chemistry as ch

    values = {}
    for name, item in emu.sampled.items():
        if item.target_kind == "assumptions":
            v = getattr(emu.base, item.target_name)
            if v is not None:
                values[name] = np.array([item.distribution.choices.index(v) if item.distribution.is_discrete else v])
        elif item.target_kind == "chemistry":
            section, key = item.target_name.split(".", 1)
            table = ch.chemistry_parameters()
            v = table["reactions"][key]["k"] if section == "k" else table[section][key]
            values[name] = np.array([float(v)])
    return values


def _design_point(emu, name, score):
    """Every emulated input at its median (a continuous kill input at its middle node), ``name`` at ``score``."""
    values = {k: np.array([float(emu.sampled[k].distribution.from_score(np.array(0.0)))]) for k in emu.dims + emu.weak}
    values.update({k: np.array([float(emu.sampled[k].distribution.from_score(np.array(0.0)))]) for k in emu.kill_dims})
    for k in emu.kill_discrete:
        values[k] = np.array([float(np.argmax(emu.sampled[k].distribution.probabilities))])
    values[name] = np.array([float(emu.sampled[name].distribution.from_score(np.array(score)))])
    return values


def test_total_kill_is_the_physics_combination_of_core_and_infiltrative_clonogens(mht):
    emu, _ = mht
    rng = np.random.default_rng(1)
    y = rng.uniform(0, emu.cap, (4, emu.n))
    shares = np.array([0.01, 0.05, 0.2, 0.45])
    got = emu.total_kill(y, shares, 4)
    from mhtcdt.physics import chain

    f = chain.infiltrative_fractions(emu.patients, emu.seed, shares)
    ln10 = np.log(10.0)
    oracle = kill.combine_kill(
        np.column_stack([1 - f.ravel(), f.ravel()]),
        np.tile(-emu.log10_kill_rt * ln10, 4),
        np.column_stack([-y.ravel() * ln10, np.zeros(y.size)]),
        np.zeros((y.size, 2)),
    )["log10_kill_total"].reshape(4, emu.n)
    assert got == pytest.approx(oracle, rel=1e-12, abs=1e-12)


def test_emulator_reproduces_the_trial_at_the_scenario_values(mht):
    """With the scenario's values of every input the emulated kill is the trial's (the heat factors sit at the
    centre of the design, where the emulator is exact; the chemistry enters through its small additive term)."""
    emu, rows = mht
    got = emu.predict(_scenario_values(emu), 1)[0]
    # close, not exact: the scenario's thermal-enhancement scale (1.0) lies between the emulator's nodes of that
    # input (with clinical dosing and the 43 C cap of thermal radiosensitisation it moves the kill of most
    # patients by a few thousandths of a log) and its Fenton rate at the edge of its distribution (the weak
    # additive term); the emulator's error against direct simulation is checked on held-out draws elsewhere
    err = np.abs(got - rows["log10_kill_total"].to_numpy())
    assert np.median(err) < 0.01
    assert err.max() < 0.02


@pytest.mark.parametrize("score", [-AXIAL_SCORE, AXIAL_SCORE])
def test_emulator_is_exact_at_its_axial_design_points(mht, score):
    emu, _ = mht
    for name in emu.dims:
        values = _design_point(emu, name, score)
        direct = emu.direct_kill({k: v[0] for k, v in values.items()})
        got = emu.predict(values, 1)[0]
        # exact up to the cap of the core kill (1e-4 log10 at most) and the solver's own rounding
        assert np.max(np.abs(got - direct)) < 1e-3, name


def test_rt_only_arm_drops_the_heat_inputs(setting):
    sc, _ = setting
    arm, patients, seed, rows = _arm(setting, 0)
    emu = ArmEmulator(arm.name, patients, arm, seed, sc.physics_assumptions(), psa_inputs(sc))
    for name in ("slp_factor", "coverage_factor", "perfusion_factor", "thermal_enhancement_factor"):
        assert name in emu.report_.dropped
    assert emu.dims == [] and emu.report_.n_solves <= 12
    assert np.allclose(emu.log10_kill_rt, rows["log10_kill_rt"].to_numpy())


def test_assumptions_for_maps_every_target():
    inputs = resolve_inputs("recurrent_glioblastoma")
    a = assumptions_for(
        default_scenario().physics_assumptions(),
        inputs,
        {"slp_factor": 2.0, "thermotolerance": 1.0, "fenton_rate": 500.0, "heat_kill_effectiveness_ratio": 2.0},
    )
    assert a.slp_factor == 2.0 and a.thermotolerance == "seed_review"
    assert a.chemistry_overrides == {"k.fe2_h2o2": 500.0}


@pytest.mark.slow
def test_emulator_error_against_direct_simulation_on_held_out_draws():
    """>= 50 held-out draws of the default scenario (seed 7): per-patient log10 kill and per-arm QALYs."""
    from mhtcdt.decision.model.emulator_check import check_emulators
    from mhtcdt.decision.model.physics_psa import PhysicsUncertainty

    sc = default_scenario()
    result = run_pipeline(sc, seed=7)
    arms = [a.name for a in sc.randomised_arms]
    from mhtcdt.decision.run.pipeline import decision_population

    # the PSA's emulators: every randomised patient under every arm (run_psa builds them the same way)
    physics = PhysicsUncertainty(sc, decision_population(result), arms, 7, list(result.cohort.columns))
    chk = check_emulators(result, physics, n_draws=50)
    kills = chk.kill_errors().set_index("arm")
    qalys = chk.qaly_errors().set_index("qalys_of")
    assert kills["rms_log10"].max() < 0.1
    assert abs(kills["mean_log10"]).max() < 0.02
    for arm in arms:
        row = qalys.loc[arm]
        assert row["rms"] < max(0.25 * row["direct_sd"], 1e-3)
        assert abs(row["mean"]) < 0.005
