"""For whom: subgroup results and eligibility rules against independent computations.

Oracles: the PSA itself run on a subgroup's counterfactual patients (same seeds: the subgroup's draws must
be the PSA's draws restricted to its patients), the economic model on outcomes simulated by
``simulate_outcomes`` (a second path to the calibrated point), the linearity of the partitioned survival
model for the value of an eligibility rule, and lifelines' Cox model for the hazard ratio's direction.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from mhtcdt.cohorts import evaluate_criterion, park_score
from mhtcdt.decision.model import outcome, subgroups
from mhtcdt.decision.model.economic_model import evaluate_arms
from mhtcdt.decision.model.psa import run_psa
from mhtcdt.decision.run.pipeline import COUNTERFACTUAL, run_pipeline
from mhtcdt.decision.scenario.loading import default_scenario
from mhtcdt.decision.streams import outcome_seed

SEED = 3
DRAWS = 120


@pytest.fixture(scope="module")
def run():
    sc = default_scenario()
    sc = sc.model_copy(update={"cohort": sc.cohort.model_copy(update={"n_screened": 150})})
    result = run_pipeline(sc, seed=SEED)
    psa = run_psa(result, n_draws=DRAWS)
    return result, psa, subgroups.analyse_subgroups(result, psa)


def _counterfactual_trial(result, mask=None) -> pd.DataFrame:
    pools = subgroups.counterfactual_pool(result)
    parts = []
    for arm, pool in pools.items():
        rows = pool if mask is None else pool[mask]
        parts.append(rows.assign(arm=arm))
    return pd.concat(parts, ignore_index=True)


def _restricted(result, patient_ids):
    """The run restricted to some patients: its trial and its counterfactual table (the PSA's population)."""
    table = result.extras[COUNTERFACTUAL]
    return dataclasses.replace(
        result,
        trial=result.trial[result.trial["patient_id"].isin(patient_ids)],
        extras={**result.extras, COUNTERFACTUAL: table[table["patient_id"].isin(patient_ids)]},
    )


def test_pool_rows_under_the_randomised_arm_are_the_trial_rows(run):
    result, _, _ = run
    pools = subgroups.counterfactual_pool(result)
    trial = result.trial.set_index("patient_id")
    for arm, pool in pools.items():
        assert pool["patient_id"].tolist() == sorted(trial.index)
        own = pool[pool["patient_id"].map(trial["arm"]) == arm].set_index("patient_id")
        for col in ("log10_kill_total", "log10_kill_rt", "t90_C", "treatment_months"):
            assert np.array_equal(own[col].to_numpy(), trial.loc[own.index, col].to_numpy()), (arm, col)


def test_subgroup_draws_are_the_psa_restricted_to_its_patients(run):
    result, psa, analysis = run
    first = subgroups.counterfactual_pool(result)[psa.strategies[0]]
    frame = first.assign(park_score=park_score(first).to_numpy())
    for key, criterion in (("MGMT promoter|methylated", "mgmt_methylated"), ("all eligible patients|all", "true")):
        mask = evaluate_criterion(frame, criterion)
        sub = _restricted(result, first["patient_id"].to_numpy()[np.asarray(mask, bool)])
        oracle = run_psa(sub, n_draws=DRAWS)
        assert np.allclose(analysis.cost[key], oracle.cost, rtol=1e-12)
        assert np.allclose(analysis.qalys[key], oracle.qalys, rtol=1e-12)


def test_point_estimate_of_all_patients_by_a_second_path(run):
    """simulate_outcomes + evaluate_arms (outcome-model source) on the counterfactual cohort."""
    result, psa, analysis = run
    trial = _counterfactual_trial(result)
    simulated = outcome.simulate_outcomes(trial, outcome.load_outcome_params(), outcome_seed(SEED))
    econ = evaluate_arms(result.scenario, simulated).per_strategy.set_index("strategy")
    key = "all eligible patients|all"
    for j, s in enumerate(analysis.strategies):
        assert analysis.point_cost[key][j] == pytest.approx(econ.at[s, "cost"], rel=1e-12)
        assert analysis.point_qalys[key][j] == pytest.approx(econ.at[s, "qalys"], rel=1e-12)


def test_hazard_ratio_agrees_with_cox_on_the_same_times(run):
    from lifelines import CoxPHFitter

    result, psa, analysis = run
    trial = _counterfactual_trial(result)
    simulated = outcome.simulate_outcomes(trial, outcome.load_outcome_params(), outcome_seed(SEED))
    df = pd.DataFrame(
        {
            "T": simulated["os_latent_months"],
            "E": 1,
            "new": (simulated["arm"] == analysis.new).astype(float),
        }
    )
    cox = float(np.exp(CoxPHFitter().fit(df, "T", "E").params_["new"]))
    hr = analysis.hazard_ratio["all eligible patients|all"][0]
    assert hr == pytest.approx(cox, rel=0.05)  # Peto one-step vs partial likelihood, same data


def test_table_has_every_subgroup_with_uncertainty(run):
    _, _, analysis = run
    table = analysis.table(100_000.0)
    assert list(zip(table["covariate"], table["subgroup"], strict=True)) == [(c, s) for c, s, _ in subgroups.SUBGROUPS]
    done = table[table["n"] >= subgroups.MIN_PATIENTS]
    assert (done["qaly_gain_low"] <= done["qaly_gain"]).all() and (done["qaly_gain"] <= done["qaly_gain_high"]).all()
    assert (done["p_ce_low"] <= done["p_cost_effective"]).all()
    assert table.loc[table["covariate"] == "recurrence", "note"].str.contains("not an outcome-model covariate").all()
    small = table[table["n"] < subgroups.MIN_PATIENTS]
    assert small["qaly_gain"].isna().all() if "qaly_gain" in small else True


def test_rule_value_is_linear_in_the_curves(run):
    """INMB of treating only rule R vs treating nobody = share(R) x INMB(R): check by costing the mixed cohort."""
    result, psa, analysis = run
    rules = analysis.rules_table(100_000.0)
    assert rules["p_best"].sum() == pytest.approx(1.0)
    every = rules.set_index("rule").loc["every eligible patient", "expected_inmb"]
    all_table = analysis.table(100_000.0).iloc[0]
    inc_q = all_table["qaly_gain"]
    assert every == pytest.approx(100_000.0 * inc_q - all_table["incremental_cost"])
    assert rules.set_index("rule").loc["nobody (reference arm for all)", "expected_inmb"] == 0.0
    assert rules["best"].sum() >= 1 and rules.iloc[0]["best"]


def test_pool_without_the_counterfactual_table_is_the_pipelines_table(run):
    """The fallback for a result without the counterfactual table (built by hand, or streamed) simulates it
    again the pipeline's way: each patient's own physics stream and the scenario's assumptions under every arm,
    so its pools equal the pools of the pipeline's table for the same run, column for column."""
    result, _, _ = run
    want = subgroups.counterfactual_pool(result)
    bare = dataclasses.replace(result, extras={k: v for k, v in result.extras.items() if k != COUNTERFACTUAL})
    got = subgroups.counterfactual_pool(bare)
    assert list(got) == list(want)
    for arm in want:
        assert sorted(got[arm].columns) == sorted(want[arm].columns)
        pd.testing.assert_frame_equal(got[arm][list(want[arm].columns)], want[arm], check_exact=True)
