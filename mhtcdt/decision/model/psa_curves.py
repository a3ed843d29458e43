"""The survival curves and partitioned-survival results of PSA draws (used by :mod:`mhtcdt.decision.model.psa`).

Per arm, the trial's patients (:class:`ArmData`) go through the outcome model
(:func:`mhtcdt.decision.model.outcome.latent_times`) with the trial's own per-patient random numbers
(common random numbers); PFS and OS of an arm are the empirical survival functions of the latent
(uncensored) times on the economic grid, S(t) = share of patients with time > t. :func:`curves` evaluates D
draws at once (free parameters as (D, 1) columns, :func:`draw_params`; physics draws as (D, n) kills);
:func:`arm_curves` one parameter set on the trial's own kill. :func:`psm` runs the partitioned survival model
of the scenario over the draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from mhtcdt.decision.model import outcome
from mhtcdt.decision.model.economic_model import chemotherapy_cost, conventions, systemic_cost
from mhtcdt.decision.scenario.schema import Scenario
from mhtcdt.decision.streams import outcome_seed
from mhtcdt.economics import StateValues, SurvivalCurves, run_partitioned_survival


@dataclass(frozen=True)
class ArmData:
    """An arm's trial patients as the outcome model needs them (computed once per PSA chunk)."""

    volume: np.ndarray
    kill_total: np.ndarray
    kill_rt: np.ndarray
    age: np.ndarray
    lp: np.ndarray
    pps_key: np.ndarray
    treatment_months: np.ndarray | float
    draws: outcome.PatientDraws
    systemic: outcome.Systemic | None = None


def arm_data(trial: pd.DataFrame, arms: list[str], params: outcome.OutcomeParams, trial_seed: int) -> dict:
    """Per arm, the trial's patients as the outcome model needs them: covariates, kills, the post-progression
    setting (:func:`mhtcdt.decision.model.outcome.outcome_settings`), the systemic-therapy columns
    (:func:`mhtcdt.decision.model.outcome.systemic_from`) and the per-patient random numbers (including the
    durable-control thresholds) of the trial."""
    draws_by_arm = trial_draws(trial, arms, trial_seed)
    out = {}
    for arm in arms:
        sub = trial[trial["arm"] == arm]
        ind = outcome.outcome_settings(sub)
        outcome.pps_median_for(sub, params)  # checks the indications once
        out[arm] = ArmData(
            volume=sub["tumour_volume_cm3"].to_numpy(float),
            kill_total=sub["log10_kill_total"].to_numpy(float),
            kill_rt=np.minimum(sub["log10_kill_rt"].to_numpy(float), sub["log10_kill_total"].to_numpy(float)),
            age=sub["age_years"].to_numpy(float),
            lp=outcome.linear_predictor(sub, params),
            pps_key=np.array([outcome.PPS_KEY_BY_INDICATION[i] for i in np.broadcast_to(ind, (len(sub),))]),
            treatment_months=sub["treatment_months"].to_numpy(float) if "treatment_months" in sub else 0.0,
            draws=draws_by_arm[arm],
            systemic=outcome.systemic_from(sub),
        )
    return out


def draw_params(
    params: outcome.OutcomeParams, cal_index: np.ndarray, free: Mapping[str, np.ndarray]
) -> outcome.OutcomeParams:
    """Outcome parameters of D draws at once: every free parameter a (D, 1) column (the draw's calibration
    draw, or the calibrated point without draws, overridden by ``free``), which
    :func:`mhtcdt.decision.model.outcome.latent_times` broadcasts over the patients. The values were checked
    when the calibration was loaded and when the physics inputs were drawn (registry supports)."""
    n = cal_index.size
    if len(params.draws):
        table = params.draws.iloc[cal_index]
        columns = {k: table[k].to_numpy(np.float64)[:, None] for k in outcome.FREE_PARAMETERS}
    else:
        columns = {k: np.full((n, 1), float(params.free[k])) for k in outcome.FREE_PARAMETERS}
    for k, v in free.items():
        columns[k] = np.asarray(v, dtype=np.float64).reshape(n, 1)
    return replace(params, free=columns)


def curves(
    data: Mapping[str, ArmData],
    arms: list[str],
    params: outcome.OutcomeParams,
    grid: np.ndarray,
    kill_total: Mapping[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Empirical PFS and OS (D, S, T) of each arm's latent times for D draws at once: ``params`` with (D, 1)
    free parameters (:func:`draw_params`), ``kill_total`` per arm (D, n) (a physics draw per row)."""
    n_draws = next(iter(kill_total.values())).shape[0]
    pfs = np.empty((n_draws, len(arms), grid.size))
    os_ = np.empty_like(pfs)
    for j, arm in enumerate(arms):
        times = draw_latent_times(data[arm], kill_total[arm], params)
        pfs[:, j] = survival_on_grid(times["pfs_latent_months"], grid)
        os_[:, j] = survival_on_grid(times["os_latent_months"], grid)
    return pfs, os_


def draw_latent_times(d: ArmData, kill_total: np.ndarray, params: outcome.OutcomeParams) -> dict[str, np.ndarray]:
    """Latent times (D, n) of one arm's patients ``d`` for D draws at once: ``kill_total`` (D, n) a physics draw
    per row, ``params`` with (D, 1) free parameters (:func:`draw_params`); each patient's post-progression
    median is the draw's value for the patient's setting (``d.pps_key``); RT kill capped at the total kill as
    :func:`mhtcdt.decision.model.outcome.simulate_outcomes` does."""
    pps = np.empty(kill_total.shape)
    for key in np.unique(d.pps_key):
        pps[:, d.pps_key == key] = params.free[key]
    return outcome.latent_times(
        d.volume,
        kill_total,
        np.minimum(d.kill_rt, kill_total),
        d.age,
        d.lp,
        pps,
        d.draws,
        params,
        d.treatment_months,
        systemic=d.systemic,
    )


def survival_on_grid(times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Share of each row of ``times`` (D, n) above each grid time: the empirical S(t) = P(T > t), (D, T)."""
    ordered = np.sort(times, axis=1)
    n = ordered.shape[1]
    return np.stack([(n - np.searchsorted(row, grid, side="right")) / n for row in ordered])


def arm_curves(
    trial: pd.DataFrame, arms: list[str], params: outcome.OutcomeParams, draws_by_arm: dict, grid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Empirical PFS and OS (S, T) of each arm's latent times under ``params``."""
    pfs = np.empty((len(arms), grid.size))
    os_ = np.empty((len(arms), grid.size))
    for j, arm in enumerate(arms):
        sub = trial[trial["arm"] == arm]
        times = outcome.latent_times_for(sub, params, draws_by_arm[arm])
        pfs[j] = (times["pfs_latent_months"][:, None] > grid[None, :]).mean(axis=0)
        os_[j] = (times["os_latent_months"][:, None] > grid[None, :]).mean(axis=0)
    return pfs, os_


def economic_arrays(scenario: Scenario, arms: list[str], values: dict[str, np.ndarray], n: int) -> StateValues:
    """Per-draw state values of the PSM from sampled (or point) inputs."""
    eco = scenario.economics

    def value(name: str) -> np.ndarray:
        return values[name] if name in values else np.full(n, eco.point_value(name))

    specs = {a.name: a for a in scenario.arms}
    mht, rt, cdt = value("costs.mht_course"), value("costs.rt_course"), value("costs.cdt_agent_course")
    gem, ffx = value("costs.gemcitabine_cycle"), value("costs.folfirinox_cycle")
    one_off = np.stack(
        [
            mht * specs[a].has_mht
            + rt * specs[a].has_rt
            + cdt * specs[a].has_cdt
            + systemic_cost(scenario, specs[a], chemotherapy=False)
            + chemotherapy_cost(specs[a], gem, ffx)
            for a in arms
        ],
        axis=1,
    )
    return StateValues(
        costs=np.stack([value("costs.progression_free_per_month"), value("costs.progressed_per_month")], axis=1)[
            :, None, :
        ],
        costs_per="months",
        utilities=np.stack([value("utilities.progression_free"), value("utilities.progressed")], axis=1)[:, None, :],
        one_off_cost=one_off,
        end_of_life_cost=value("costs.end_of_life")[:, None],
    )


def psm(
    scenario: Scenario,
    arms: list[str],
    grid: np.ndarray,
    pfs: np.ndarray,
    os_: np.ndarray,
    values: dict[str, np.ndarray],
    n: int,
):
    return run_partitioned_survival(
        SurvivalCurves(arms, grid, (pfs, os_)), economic_arrays(scenario, arms, values, n), conventions(scenario)
    )


def trial_draws(trial: pd.DataFrame, arms: list[str], trial_seed: int) -> dict[str, outcome.PatientDraws]:
    """The trial's own per-patient outcome random numbers, per arm (common random numbers)."""
    return {
        arm: outcome.patient_draws(trial.loc[trial["arm"] == arm, "patient_id"].to_numpy(), outcome_seed(trial_seed))
        for arm in arms
    }
