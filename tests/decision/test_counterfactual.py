"""The decision model compares the strategies on the same patients (issue 14 item 6).

Oracles: (a) a patient's counterfactual row under its own arm is its trial row, bit for bit (the arm chain
that the trial used before, :func:`simulate_arms`); (b) dominance under common random numbers: where an arm's
kill is at least the other's for every patient and the heat/RT ratio is positive, every PSA draw gives it at
least as many QALYs; (c) executor and chunk invariance; (d) a second method: the randomised per-arm estimate
of the QALY gain is an unbiased estimate of the counterfactual gain of the same population, within its Monte
Carlo error (Neyman's conservative variance var1/n1 + var0/n0 of per-patient QALYs, which are exact because
the partitioned survival model is linear in the empirical survival curves).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mhtcdt.decision.model.economic_model import evaluate_arms, time_grid_months
from mhtcdt.decision.model.psa import run_psa
from mhtcdt.decision.run.arm_chain import RANDOMISED_ARM, ArmSeeds, simulate_arms, simulate_counterfactual, trial_rows
from mhtcdt.decision.run.pipeline import COUNTERFACTUAL, decision_population, run_pipeline
from mhtcdt.decision.scenario.loading import default_scenario
from mhtcdt.decision.streams import Stream, outcome_seed
from mhtcdt.seeding import child_sequence


def small(n_screened: int = 160):
    sc = default_scenario()
    return sc.model_copy(update={"cohort": sc.cohort.model_copy(update={"n_screened": n_screened})})


@pytest.fixture(scope="module")
def base():
    return run_pipeline(small(), seed=5)


@pytest.fixture(scope="module")
def randomised(base):
    keep = ("patient_id", "arm", "stratum", "entry_months", *base.cohort.columns)
    return base.trial[[c for c in base.trial.columns if c in keep]]


def _seeds(seed: int) -> ArmSeeds:
    return ArmSeeds(physics=child_sequence(seed, Stream.PHYSICS), outcome=outcome_seed(seed))


def test_trial_rows_are_the_counterfactual_rows_of_their_own_arm(base, randomised):
    """(a) The arm chain as the trial ran it before (each patient under its own arm only) gives exactly the
    rows of the counterfactual table with arm == randomised arm; the pipeline's trial is those rows."""
    sc = base.scenario
    direct = simulate_arms(randomised, sc.randomised_arms, _seeds(5), assumptions=sc.physics_assumptions())
    cf = base.extras[COUNTERFACTUAL]
    pd.testing.assert_frame_equal(trial_rows(cf), direct)
    pd.testing.assert_frame_equal(base.trial[direct.columns], direct)
    arms = [a.name for a in sc.randomised_arms]
    n = len(base.trial)
    assert len(cf) == n * len(arms)
    assert sorted(cf["arm"].unique()) == sorted(arms)
    for arm in arms:  # every randomised patient once under every arm, in patient order
        rows = cf[cf["arm"] == arm]
        assert rows["patient_id"].tolist() == sorted(base.trial["patient_id"])
        assert (rows[RANDOMISED_ARM].to_numpy() == base.trial.sort_values("patient_id")["arm"].to_numpy()).all()
    # the outcome draws are the patient's in every arm: an arm without heat gives the same times whoever it is
    rt = cf[cf["arm"] == sc.trial.reference_arm].set_index("patient_id")
    assert (rt["log10_kill_total"] == rt["log10_kill_rt"]).all()
    heat = cf[cf["arm"] != sc.trial.reference_arm].set_index("patient_id")
    # each patient's physics stream is its own under every arm: the same RT kill, more kill with heat added
    np.testing.assert_allclose(heat.loc[rt.index, "log10_kill_rt"].to_numpy(), rt["log10_kill_rt"], rtol=0, atol=1e-12)
    assert (heat.loc[rt.index, "log10_kill_total"].to_numpy() > rt["log10_kill_total"].to_numpy()).all()
    assert decision_population(base) is cf


def test_counterfactual_is_executor_and_chunk_invariant(base, randomised):
    """(c) The physics in 4 serial chunks gives the same table as one call."""
    sc = base.scenario
    chunked = simulate_counterfactual(
        randomised, sc.randomised_arms, _seeds(5), executor="serial", assumptions=sc.physics_assumptions()
    )
    pd.testing.assert_frame_equal(chunked, base.extras[COUNTERFACTUAL])


def test_base_case_is_the_mean_of_paired_per_patient_qalys(base):
    """The deterministic base case (``outcome_model``) evaluates every arm on the same patients: its QALYs are
    the means of per-patient QALYs over all randomised patients (second method: the PSM run on each patient's
    own step-function survival curves)."""
    q = _per_patient_qalys(base, base.extras[COUNTERFACTUAL])
    per = base.economics.set_index("strategy")["qalys"]
    for arm, values in q.items():
        assert per[arm] == pytest.approx(values.mean(), rel=1e-12)
    # the trial-only evaluation (what the base case was before) is a different number in general
    trial_only = evaluate_arms(base.scenario, base.trial).per_strategy.set_index("strategy")["qalys"]
    assert not np.allclose(trial_only.to_numpy(), per.loc[trial_only.index].to_numpy(), rtol=0, atol=1e-9)


def _per_patient_qalys(result, table: pd.DataFrame) -> dict[str, np.ndarray]:
    """QALYs of each row of ``table`` per arm (patients in ``patient_id`` order): the PSM of the scenario on
    the patient's own survival curves 1{T > t} (draws axis = patients)."""
    from mhtcdt.decision.model.psa import evaluate_curves

    sc = result.scenario
    grid = time_grid_months(sc)
    out = {}
    for arm in [a.name for a in sc.randomised_arms]:
        rows = table[table["arm"] == arm].sort_values("patient_id")
        pfs = (rows["pfs_latent_months"].to_numpy(float)[:, None] > grid[None, :]).astype(float)
        os_ = (rows["os_latent_months"].to_numpy(float)[:, None] > grid[None, :]).astype(float)
        res = evaluate_curves(sc, [arm], grid, pfs[:, None, :], os_[:, None, :], {}, len(rows))
        out[arm] = res.qalys[:, 0]
    return out


def _randomised_vs_counterfactual(result) -> tuple[float, float, float]:
    """(randomised estimate of the QALY gain, counterfactual gain, Neyman SE of the randomised estimate)."""
    sc = result.scenario
    ref = sc.trial.reference_arm
    new = next(a.name for a in sc.randomised_arms if a.name != ref)
    cf = result.extras[COUNTERFACTUAL]
    q = _per_patient_qalys(result, cf)
    assigned = cf[cf["arm"] == new].sort_values("patient_id")[RANDOMISED_ARM].to_numpy()
    q_new, q_ref = q[new][assigned == new], q[ref][assigned == ref]
    randomised = q_new.mean() - q_ref.mean()
    se = np.sqrt(q_new.var(ddof=1) / q_new.size + q_ref.var(ddof=1) / q_ref.size)
    econ = result.economics.set_index("strategy")["qalys"]
    counterfactual = float(econ[new] - econ[ref])
    assert counterfactual == pytest.approx(float((q[new] - q[ref]).mean()), abs=1e-12)
    # the old base case (each arm on its own randomised patients) is the randomised estimate
    old = evaluate_arms(sc, result.trial).per_strategy.set_index("strategy")["qalys"]
    assert float(old[new] - old[ref]) == pytest.approx(randomised, abs=1e-12)
    return randomised, counterfactual, float(se)


def test_randomised_estimate_agrees_with_the_counterfactual_within_its_error(base):
    """(d), small cohort: the randomised per-arm QALY gain is within 3 Neyman SEs of the counterfactual gain."""
    randomised, counterfactual, se = _randomised_vs_counterfactual(base)
    assert abs(randomised - counterfactual) < 3 * se


@pytest.mark.slow
def test_randomised_estimate_converges_to_the_counterfactual_on_a_large_cohort():
    """(d), 3,000 screened: the same agreement, with an SE a quarter of the small cohort's."""
    result = run_pipeline(small(3000), seed=11)
    randomised, counterfactual, se = _randomised_vs_counterfactual(result)
    assert se < 0.05
    assert abs(randomised - counterfactual) < 3 * se


@pytest.fixture(scope="module")
def psa(base):
    return run_psa(base, n_draws=200)


def test_dominance_holds_in_every_psa_draw(base, psa):
    """(b) Common random numbers: the heat arm's emulated kill is at least the reference arm's for every
    patient in every draw (same patients, each with its own physics stream under both arms: the RT kill is
    shared), so with a positive heat/RT ratio every draw gives
    the heat arm at least the reference arm's QALYs (the outcome model is monotone in the kill)."""
    from mhtcdt.decision.model.physics_psa import PARAMETER_PREFIX

    assert psa.physics is not None
    sc = base.scenario
    ref = sc.trial.reference_arm
    new = next(a for a in psa.strategies if a != ref)
    names = [c[len(PARAMETER_PREFIX) :] for c in psa.parameters.columns if str(c).startswith(PARAMETER_PREFIX)]
    values = {}
    for name in names:
        column = psa.parameters[PARAMETER_PREFIX + name]
        values[name] = np.array([psa.physics.value_of(name, v) for v in column], dtype=float)
    kills = psa.physics.kill(values, psa.n_draws)
    dominates = (kills[new] >= kills[ref]).all(axis=1)
    ratio = psa.parameters.get("outcome.heat_kill_effectiveness_ratio")
    positive = np.ones(psa.n_draws, bool) if ratio is None else ratio.to_numpy(float) > 0
    checked = dominates & positive
    assert dominates.all()  # each patient's RT kill is the same under both arms (its own physics stream)
    assert checked.mean() > 0.9
    j, r = psa.strategies.index(new), psa.strategies.index(ref)
    gain = psa.qalys[:, j] - psa.qalys[:, r]
    assert (gain[checked] >= -1e-12).all()
