"""From the virtual trial to the cost-utility analysis of a scenario.

Maps a scenario's ``[economics]`` section and the trial's survival onto
:func:`mhtcdt.economics.run_partitioned_survival` (progression-free, progressed, dead):

* survival per arm on a grid of ``cycle_months`` from 0 to ``horizon_years``, by the scenario's
  ``survival_source``:

  - ``"outcome_model"`` (default): the empirical survival function of the outcome model's complete
    (uncensored) latent PFS and OS times, S(t) = share of patients with time > t (:func:`empirical_survival`),
    of **every randomised patient treated with the arm** (the counterfactual table of the pipeline,
    :func:`mhtcdt.decision.run.arm_chain.simulate_counterfactual`): the strategies are compared on the same
    N patients with the same random numbers, so chance imbalance of prognostic covariates between the
    randomised arms (which the virtual trial keeps, as a real trial would) does not enter the decision.
    Without the table (a trial given by hand) the arm's own trial patients are used. The trial was simulated
    at the calibrated point of the outcome model, and the PSA (:mod:`mhtcdt.decision.model.psa`) evaluates
    the same patients with the same random numbers under each calibration draw, so the deterministic base
    case and the PSA share one survival model: they differ only as the point estimate differs from the mean
    over the draws. Other-cause deaths are part of the outcome model; no extrapolation is needed (every
    time is observed);
  - ``"parametric"``: the best-AIC parametric fit per arm and endpoint to the censored trial,
    extrapolated to the horizon, its hazard kept at or above the general-population (other-cause) hazard
    of the trial's patients (:mod:`mhtcdt.decision.trial.parametric`), as an HTA submission would fit a
    trial;
  - ``"kaplan_meier"``: the Kaplan-Meier curve, defined only up to the last follow-up: the horizon is
    then cut there and a warning says so (KM curves are never extended by assumption);
* one-off cost per arm at time 0 = MHT course (if the arm has heat sessions) + RT course (if it has
  RT) + CDT agent course (if it has a CDT agent), all from ``[economics.costs]``;
* state costs per month (progression-free, progressed), an end-of-life cost per death;
* utilities per year (progression-free, progressed); separate discount rates for costs and effects.

Output: :class:`EconomicEvaluation` with the per-strategy table and the incremental analysis
(contract section 5) and the curves used (``time_months``, ``arm``, ``pfs``, ``os``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mhtcdt.decision.scenario.schema import ArmSpec, Scenario
from mhtcdt.economics import Conventions, StateValues, SurvivalCurves, incremental_analysis, run_partitioned_survival


class ShortFollowUpWarning(UserWarning):
    """Kaplan-Meier curves end before the horizon: the analysis horizon was cut to the follow-up."""


@dataclass
class EconomicEvaluation:
    per_strategy: pd.DataFrame
    incremental: pd.DataFrame
    curves: pd.DataFrame
    reference: str
    willingness_to_pay: float
    currency: str
    horizon_months: float


def one_off_cost(scenario: Scenario, arm: ArmSpec) -> float:
    """Treatment cost of an arm at time 0 [scenario currency]."""
    c = scenario.economics.costs
    total = 0.0
    if arm.has_mht:
        total += c.mht_course
    if arm.has_rt:
        total += c.rt_course
    if arm.has_cdt:
        total += c.cdt_agent_course
    return total + systemic_cost(scenario, arm)


def systemic_cost(scenario: Scenario, arm: ArmSpec, *, chemotherapy: bool = True) -> float:
    """Systemic-therapy cost of an arm at time 0 [scenario currency]: the temozolomide course cost times the
    arm's share of a Stupp course (:func:`mhtcdt.decision.model.outcome.temozolomide_courses`), plus the
    lomustine and bevacizumab course costs when given, plus the cost per gemcitabine or FOLFIRINOX cycle times the
    arm's cycles (pancreas; ``chemotherapy=False`` leaves them out, for callers that price them per PSA draw with
    :func:`chemotherapy_cost`)."""
    from mhtcdt.decision.model.outcome import base_params, temozolomide_courses

    c = scenario.economics.costs
    total = c.temozolomide_course * temozolomide_courses(arm, base_params()) if arm.has_temozolomide else 0.0
    total += c.lomustine_course * arm.lomustine + c.bevacizumab_course * arm.bevacizumab
    if chemotherapy:
        total += chemotherapy_cost(arm, c.gemcitabine_cycle, c.folfirinox_cycle)
    return total


def chemotherapy_cost(arm: ArmSpec, gemcitabine_cycle: float | np.ndarray, folfirinox_cycle: float | np.ndarray) -> Any:
    """Pancreas chemotherapy cost of an arm [scenario currency]: cost per cycle times the arm's cycles (the costs
    may be arrays of PSA draws)."""
    return gemcitabine_cycle * arm.gemcitabine_cycles + folfirinox_cycle * arm.folfirinox_cycles


def conventions(scenario: Scenario) -> Conventions:
    """The economic conventions of a scenario (discount rates and method, counting, currency)."""
    eco = scenario.economics
    return Conventions(
        discount_costs=eco.discount_costs,
        discount_effects=eco.discount_effects,
        discount_method=eco.discount_method,
        counting=eco.counting,
        cycle_length=eco.cycle_months,
        cycle_unit="months",
        currency=eco.currency,
    )


def time_grid_months(scenario: Scenario, horizon_months: float | None = None) -> np.ndarray:
    """Uniform grid 0, h, 2h, ... up to the horizon (h = cycle length in months)."""
    h = scenario.economics.cycle_months
    horizon = 12.0 * scenario.economics.horizon_years if horizon_months is None else horizon_months
    n = max(1, int(np.floor(horizon / h + 1e-9)))
    return h * np.arange(n + 1)


def _km_on_grid(times: np.ndarray, events: np.ndarray, grid: np.ndarray) -> np.ndarray:
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter().fit(times, events)
    return km.survival_function_at_times(grid).to_numpy(dtype=float)


def background_survival(trial: pd.DataFrame, grid_months: np.ndarray) -> np.ndarray:
    """General-population survival of the trial's patients on the grid: the mean over patients of the
    Gompertz other-cause survival from their entry age (the outcome model's other-cause mortality), so
    no extrapolated curve can have a lower hazard than people of the same ages without the tumour."""
    from mhtcdt.decision.model.outcome import load_outcome_params
    from mhtcdt.decision.trial.parametric import background_survival_on_grid

    params = load_outcome_params()
    ages = trial["age_years"].to_numpy(float)
    curves = [
        background_survival_on_grid(grid_months, float(a), params.other_cause_a_per_year, params.other_cause_b_per_year)
        for a in ages
    ]
    return np.mean(curves, axis=0)


def empirical_survival(times_months: np.ndarray, grid_months: np.ndarray) -> np.ndarray:
    """S(t) on ``grid_months`` of complete (uncensored) times: the share of times greater than t.

    With every event observed this is the Kaplan-Meier estimate itself (no censoring to correct for)."""
    times = np.asarray(times_months, dtype=float)
    return (times[:, None] > np.asarray(grid_months, dtype=float)[None, :]).mean(axis=0)


def survival_on_grid(
    scenario: Scenario, trial: pd.DataFrame, analysis, counterfactual: pd.DataFrame | None = None
) -> tuple[np.ndarray, dict, dict]:
    """PFS and OS per arm on the economic time grid, by the scenario's ``survival_source``.

    ``counterfactual``: every randomised patient under every arm (rows by ``arm``, latent times); the
    ``"outcome_model"`` source uses it when given (the strategies on the same patients), else the trial."""
    arms = [a.name for a in scenario.randomised_arms if (trial["arm"] == a.name).any()]
    if scenario.economics.survival_source == "outcome_model":
        grid = time_grid_months(scenario)
        population = trial if counterfactual is None else counterfactual
        pfs, os_ = {}, {}
        for arm in arms:
            sub = population[population["arm"] == arm]
            pfs[arm] = empirical_survival(sub["pfs_latent_months"].to_numpy(float), grid)
            os_[arm] = empirical_survival(sub["os_latent_months"].to_numpy(float), grid)
        return grid, pfs, os_
    if scenario.economics.survival_source == "parametric":
        from mhtcdt.decision.trial.parametric import extrapolate

        fits = None
        if analysis is not None and "parametric" in getattr(analysis, "models", {}):
            fits = (analysis.parametric, analysis.models["parametric"])
        long = extrapolate(
            trial[trial["arm"].isin(arms)],
            horizon_months=12.0 * scenario.economics.horizon_years,
            step_months=scenario.economics.cycle_months,
            fits=fits,
            background_survival=background_survival(trial, time_grid_months(scenario)),
        )
        grid = np.sort(long["time_months"].unique())
        pfs, os_ = {}, {}
        for arm in arms:
            sel = long[long["arm"] == arm]
            pfs[arm] = sel.loc[sel["endpoint"] == "PFS", "survival"].to_numpy()
            os_[arm] = sel.loc[sel["endpoint"] == "OS", "survival"].to_numpy()
        return grid, pfs, os_
    follow_up = min(float(trial.loc[trial["arm"] == a, "os_months"].max()) for a in arms)
    horizon = min(12.0 * scenario.economics.horizon_years, follow_up)
    if horizon < 12.0 * scenario.economics.horizon_years:
        warnings.warn(
            f"Kaplan-Meier curves end at {follow_up:.1f} months, before the {scenario.economics.horizon_years:g}-year "
            "horizon: the horizon was cut to the follow-up (use survival_source = 'parametric' to extrapolate)",
            ShortFollowUpWarning,
            stacklevel=2,
        )
    grid = time_grid_months(scenario, horizon)
    pfs, os_ = {}, {}
    for arm in arms:
        sub = trial[trial["arm"] == arm]
        pfs[arm] = _km_on_grid(sub["pfs_months"].to_numpy(), sub["pfs_event"].to_numpy(), grid)
        os_[arm] = _km_on_grid(sub["os_months"].to_numpy(), sub["os_event"].to_numpy(), grid)
    return grid, pfs, os_


def evaluate_arms(
    scenario: Scenario, trial: pd.DataFrame, analysis=None, *, counterfactual: pd.DataFrame | None = None
) -> EconomicEvaluation:
    """Cost-utility analysis of every randomised arm of ``scenario`` from its virtual trial (``"parametric"``
    and ``"kaplan_meier"`` sources) or its counterfactual population (``"outcome_model"``: every randomised
    patient under every arm, when given; see :func:`survival_on_grid`)."""
    eco = scenario.economics
    grid, pfs, os_ = survival_on_grid(scenario, trial, analysis, counterfactual)
    arms = list(pfs)
    arm_specs = {a.name: a for a in scenario.arms}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        per = run_partitioned_survival(
            SurvivalCurves(arms, grid, (np.vstack([pfs[a] for a in arms]), np.vstack([os_[a] for a in arms]))),
            StateValues(
                costs=np.array([eco.costs.progression_free_per_month, eco.costs.progressed_per_month]),
                costs_per="months",
                utilities=np.array([eco.utilities.progression_free, eco.utilities.progressed]),
                one_off_cost=np.array([one_off_cost(scenario, arm_specs[a]) for a in arms]),
                end_of_life_cost=eco.costs.end_of_life,
            ),
            conventions(scenario),
        ).draw(0)
    for w in caught:  # re-emit (e.g. PFS/OS crossing) so callers see them once
        warnings.warn(w.message, w.category, stacklevel=2)
    inc = incremental_analysis(per)
    curves = pd.concat(
        [pd.DataFrame({"arm": a, "time_months": grid, "pfs": pfs[a], "os": os_[a]}) for a in arms],
        ignore_index=True,
    )
    return EconomicEvaluation(
        per_strategy=per,
        incremental=inc,
        curves=curves,
        reference=scenario.trial.reference_arm,
        willingness_to_pay=eco.willingness_to_pay,
        currency=eco.currency,
        horizon_months=float(grid[-1]),
    )


def verdict_text(scenario: Scenario, econ: EconomicEvaluation) -> str:
    """Plain-language interpretation of the deterministic results at the scenario's willingness to pay."""
    per = econ.per_strategy.set_index("strategy")
    ref = econ.reference
    wtp = econ.willingness_to_pay
    cur = econ.currency
    nmb = wtp * per["qalys"] - per["cost"]
    best = str(nmb.idxmax())
    parts = []
    for name in per.index:
        if name == ref:
            continue
        d_cost = per.at[name, "cost"] - per.at[ref, "cost"]
        d_qaly = per.at[name, "qalys"] - per.at[ref, "qalys"]
        if d_qaly > 0 and d_cost <= 0:
            judgement = "dominates the reference (more QALYs at lower cost)"
        elif d_qaly <= 0 and d_cost >= 0:
            judgement = "is dominated by the reference (no more QALYs at no lower cost)"
        elif d_qaly > 0:
            icer = d_cost / d_qaly
            side = "below" if icer <= wtp else "above"
            judgement = (
                f"costs {cur} {d_cost:,.0f} more for {d_qaly:.3f} more QALYs: ICER {cur} {icer:,.0f} per QALY, "
                f"{side} the willingness to pay of {cur} {wtp:,.0f}"
            )
        else:
            icer = d_cost / d_qaly
            judgement = (
                f"saves {cur} {-d_cost:,.0f} for {-d_qaly:.3f} fewer QALYs ({cur} {icer:,.0f} saved per QALY lost)"
            )
        parts.append(f"{name} vs {ref}: {judgement}.")
    parts.append(
        f"At {cur} {wtp:,.0f} per QALY (the willingness to pay) '{best}' has the highest net monetary benefit"
        + _margin(nmb, best, ref, cur)
    )
    return " ".join(parts)


def _margin(nmb: pd.Series, best: str, reference: str, currency: str) -> str:
    """How far ahead the best strategy is, in incremental net monetary benefit per patient (never a
    strategy's absolute NMB, which depends on the arbitrary zero of costs and reads as a loss)."""
    if len(nmb) < 2:
        return "."
    if best == reference:
        runner = str(nmb.drop(best).idxmax())
        return (
            f": '{runner}' would have {currency} {nmb[best] - nmb[runner]:,.0f} less net monetary benefit per patient "
            f"than '{reference}'."
        )
    return f", {currency} {nmb[best] - nmb[reference]:,.0f} per patient more than '{reference}'."
