"""For whom would a trial be worth most: EVPPI and EVSI by subgroup of the scenario's eligible patients.

Subgroups are criteria over the clinicians' covariates (MGMT promoter methylation, Karnofsky performance status,
tumour volume, age, the Park score of Park et al. J Clin Oncol 2010;28:3838, the recurrence number), written in the
safe criteria grammar of :func:`mhtcdt.cohorts.evaluate_criterion`. They are the same criteria as the
stakeholder-answer analysis (issue 16) uses; when its module is on main, :data:`SUBGROUPS` should be read from it.

For each subgroup, as if the decision were taken for that subgroup alone:

* its PSA is the run's PSA restricted to its patients (:func:`mhtcdt.decision.model.psa.run_psa` on the run with
  the trial restricted to them: the same draws of every input, the same patients' random numbers);
* EVPI and the EVPPI of the inputs a trial informs (regression, costs and utilities as control covariates);
* the EVSI of a trial that enrols only that subgroup (its patients are the trial pool), by the regression method
  of :mod:`mhtcdt.decision.trial.trial_value` for one design and size;
* its share of the eligible patients (of the pool), which scales the decision population, and the expected net
  benefit of sampling of that trial.

Subgroups with fewer than :data:`MIN_PATIENTS` patients per arm in the run's trial are listed but not analysed.
The recurrence number is not an outcome-model covariate: its subgroups differ only through correlated covariates.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mhtcdt.decision.model.subgroups import SUBGROUPS as STAKEHOLDER_SUBGROUPS
from mhtcdt.decision.trial import study_design as sd
from mhtcdt.decision.trial import trial_data as tdm
from mhtcdt.decision.trial import trial_value as tv
from mhtcdt.economics import evsi
from mhtcdt.seeding import child_sequence

#: (covariate, subgroup, criterion), in the order shown: the stakeholder answer's subgroups
#: (:data:`mhtcdt.decision.model.subgroups.SUBGROUPS`) without the whole population
SUBGROUPS: tuple[tuple[str, str, str], ...] = tuple(g for g in STAKEHOLDER_SUBGROUPS if g[2] != "true")
MIN_PATIENTS = 10
COLUMNS = [
    "covariate",
    "subgroup",
    "criterion",
    "n_trial",
    "share",
    "evpi",
    "evppi",
    "evppi_se",
    "evsi",
    "evsi_se",
    "p_decision_change",
    "evsi_population",
    "forgone_net_benefit",
    "enbs",
    "enbs_se",
    "note",
]


def _with_park_score(df: pd.DataFrame) -> pd.DataFrame:
    from mhtcdt.cohorts import park_score

    return df if "park_score" in df.columns else df.assign(park_score=park_score(df).to_numpy())


def subgroup_ids(patients: pd.DataFrame, criterion: str) -> np.ndarray:
    """Patient ids of ``patients`` satisfying ``criterion`` (the safe criteria grammar)."""
    from mhtcdt.cohorts import evaluate_criterion

    frame = _with_park_score(patients)
    return frame.loc[evaluate_criterion(frame, criterion, field="subgroup"), "patient_id"].to_numpy()


def subgroup_value(
    result: Any,
    psa: Any,
    request: tv.TrialValueRequest,
    design: sd.StudyDesign,
    n_patients: int,
    *,
    params: Any | None = None,
    world: tdm.TrialWorld | None = None,
    subgroups: Sequence[tuple[str, str, str]] = SUBGROUPS,
    progress: Callable[[str, float], None] | None = None,
) -> pd.DataFrame:
    """One row per subgroup (:data:`COLUMNS`, money per patient of the subgroup except ``evsi_population`` and
    ``enbs``) for a trial of ``design`` with ``n_patients`` enrolling only that subgroup (module docstring)."""
    from mhtcdt.decision.model.calibration_file import scenario_params
    from mhtcdt.decision.model.psa import run_psa

    evsi.check_sample_sizes([n_patients], "n_patients")
    params = scenario_params(result.scenario) if params is None else params
    sc = result.scenario
    resolved = sd.resolve(design, sc)
    d = tv.defaults()
    population = request.population or evsi.DecisionPopulation(
        d.patients_per_year, d.horizon_years, float(sc.economics.discount_costs)
    )
    cost = request.trial_cost or evsi.TrialCost(d.fixed_cost, d.per_patient_cost)
    lag = d.reporting_lag_months if request.reporting_lag_months is None else request.reporting_lag_months
    seed = int(result.seed if request.seed is None else request.seed)
    if world is None:
        world = tdm.build_world(resolved.scenario, resolved.arms, seed, request.pool_size)
    pool_ids = world.pools[resolved.arms[0]]["patient_id"].to_numpy()
    pool_frame = world.pools[resolved.arms[0]]
    rows = []
    with evsi.single_blas_thread():
        for i, (covariate, label, criterion) in enumerate(subgroups):
            if progress is not None:
                progress(f"subgroup {label}", i / len(subgroups))
            row = dict(covariate=covariate, subgroup=label, criterion=criterion, note="")
            trial_ids = subgroup_ids(result.trial, criterion)
            trial_sub = result.trial[result.trial["patient_id"].isin(trial_ids)]
            per_arm = trial_sub.groupby("arm").size().reindex(psa.strategies, fill_value=0)
            pool_sub = subgroup_ids(pool_frame, criterion)
            row.update(n_trial=int(len(trial_sub)), share=float(np.isin(pool_ids, pool_sub).mean()))
            if per_arm.min() < MIN_PATIENTS or len(pool_sub) < 2:
                row["note"] = f"fewer than {MIN_PATIENTS} patients in an arm of the run's trial: not analysed"
                rows.append(row)
                continue
            sub_psa = run_psa(dataclasses.replace(result, trial=trial_sub), n_draws=psa.n_draws, params=params)
            row.update(_one_subgroup(sub_psa, result, request, resolved, world, pool_sub, n_patients, params, seed))
            # a trial enrolling only this subgroup accrues at share x the scenario's rate: n patients take as long
            # as n / share patients of the whole population
            months = resolved.months_to_report(n_patients / max(row["share"], 1e-12), lag)
            mult = population.multiplier(months / 12.0) * row["share"]
            per_patient = row.pop("forgone_per_patient")
            forgone = n_patients * per_patient if request.forgone_benefit else 0.0
            row["forgone_net_benefit"] = forgone
            row["evsi_population"] = row["evsi"] * mult
            row["enbs"] = row["evsi"] * mult - float(cost(n_patients)) - forgone
            row["enbs_se"] = row["evsi_se"] * mult
            if not math.isfinite(row["evsi_se"]):
                row["note"] = "EVSI standard error not estimable (too few distinct draws)"
            if covariate == "recurrence":
                row["note"] = "not an outcome-model covariate: differences come only from correlated covariates"
            rows.append(row)
    if progress is not None:
        progress("subgroups", 1.0)
    return pd.DataFrame(rows, columns=COLUMNS)


def _one_subgroup(sub_psa, result, request, resolved, world, pool_sub, n_patients, params, seed) -> dict[str, float]:
    """EVPI, EVPPI and EVSI of one subgroup's decision and trial (nine arguments: one subgroup's pieces)."""
    states = tdm.draw_states(sub_psa.parameters, request.informs, params)
    decision = tv.decision_at(result, sub_psa, request, states.informed)
    phi = sub_psa.parameters[list(states.informed)].to_numpy(float)
    ceiling = evsi.fit_conditional_nb(decision.cost, decision.qalys, phi, decision.wtp, adjust=decision.adjust)
    sub_world = world.restricted_to(pool_sub)
    root = child_sequence(seed, tv.TRIAL_VALUE_STREAM)
    summ = tdm.simulate_summaries(sub_world, resolved, states, n_patients, root)
    fit = evsi.fit_conditional_nb(decision.cost, decision.qalys, summ, decision.wtp, adjust=decision.adjust)
    evppi = float(ceiling.value[0])
    return dict(
        evpi=float(ceiling.evpi[0]),
        evppi=evppi,
        evppi_se=float(ceiling.se[0]),
        evsi=min(float(fit.value[0]), max(evppi, 0.0)),  # a trial learns at most the informed inputs' EVPPI
        evsi_se=float(fit.se[0]),
        p_decision_change=float(fit.probability_decision_changes()[0]),
        forgone_per_patient=tv._forgone_per_patient(resolved, decision, result.scenario),
    )
