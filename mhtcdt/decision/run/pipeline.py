"""The end-to-end pipeline: scenario -> cohort -> selection -> randomisation -> physics ->
outcomes -> follow-up -> survival analysis -> cost-effectiveness -> verdict.

Data passed between stages (contracts in docs/architecture.md):

* ``cohort``  one row per screened virtual patient (``mhtcdt.cohorts.generate_cohort``)
* ``flow``    CONSORT flow: step, criterion, n_before, excluded, remaining
* ``trial``   one row per randomised patient: cohort columns + ``arm``, ``stratum``, ``entry_months``,
  the physics outputs of the arm received (``log10_kill_total`` ...), latent and observed
  ``pfs_months``/``os_months`` with ``pfs_event``/``os_event``
* ``curves``  Kaplan-Meier curves: arm, endpoint, time_months, survival, ci_lower, ci_upper, at_risk
* ``extras["counterfactual"]`` the decision model's population: every randomised patient under every
  randomised arm (one row per arm and patient, ``arm`` = the arm treated with, ``randomised_arm`` = the arm of
  randomisation; :func:`mhtcdt.decision.run.arm_chain.simulate_counterfactual`); ``trial`` is its rows with
  ``arm == randomised_arm`` plus follow-up
* ``economics`` per-strategy cost, life_years, qalys (discounted and undiscounted)
* ``incremental`` incremental analysis with dominance and ICERs

Randomness: one ``SeedSequence(seed)`` whose fixed children (:mod:`mhtcdt.decision.streams`) feed
each stage, so a run is a pure function of (scenario, calibration, seed, package version). Stages that
draw per patient key their streams by ``patient_id``, so results do not depend on chunking or worker
count. The arms are treated and their outcomes drawn by the arm chain
(:mod:`mhtcdt.decision.run.arm_chain`), shared with the streamed trial.

Two comparisons, on purpose: the virtual trial (KM, HR, log-rank, RMST) is the randomised trial, with its
chance imbalance of prognostic covariates between arms; the economics (``survival_source = "outcome_model"``,
the PSA and everything built on it) compares the strategies on the same patients, every randomised patient
under every arm with the same random numbers (:data:`COUNTERFACTUAL`, :func:`decision_population`), because a
decision model compares expected outcomes in one population.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd

from mhtcdt.decision.progress import ProgressCallback, sub_progress
from mhtcdt.decision.run.arm_chain import ArmSeeds, simulate_counterfactual, trial_rows
from mhtcdt.decision.scenario.schema import Scenario
from mhtcdt.decision.streams import Stream, cohort_seed, outcome_seed
from mhtcdt.errors import InputError
from mhtcdt.seeding import child_sequence


def screen(scenario: Scenario, seed: int | None = None):
    """The screened cohort and its selection (``mhtcdt.cohorts.Selection``) of a run."""
    from mhtcdt.cohorts import apply_criteria, generate_cohort
    from mhtcdt.decision.model.setting import apply_setting

    seed = scenario.seed if seed is None else int(seed)
    cohort = generate_cohort(scenario.cohort.indication, scenario.cohort.n_screened, cohort_seed(seed))
    cohort = apply_setting(cohort, scenario.cohort.disease_setting)
    return cohort, apply_criteria(cohort, scenario.cohort.criteria)


#: key of the counterfactual table (patients x arms) in :attr:`PipelineResult.extras`
COUNTERFACTUAL = "counterfactual"


@dataclass
class PipelineResult:
    """Everything one run produced (DataFrame contracts in the module docstring)."""

    scenario: Scenario
    seed: int
    cohort: pd.DataFrame
    flow: pd.DataFrame
    trial: pd.DataFrame
    curves: pd.DataFrame
    survival_summary: pd.DataFrame
    comparison: pd.DataFrame
    parametric: pd.DataFrame
    economics: pd.DataFrame
    incremental: pd.DataFrame
    verdict: str
    timings_s: dict[str, float] = field(default_factory=dict)
    extras: dict[str, object] = field(default_factory=dict)


def run_pipeline(
    scenario: Scenario,
    seed: int | None = None,
    progress: ProgressCallback | None = None,
    executor=None,
    fit_parametric: bool | None = None,
) -> PipelineResult:
    """Run one scenario end to end. ``seed`` overrides ``scenario.seed``.

    ``fit_parametric``: fit parametric survival curves to the censored trial (the ``parametric`` table, as
    an HTA submission would fit a trial). ``None`` fits them only when the economics uses them
    (``survival_source = "parametric"``); the fits take most of the survival-analysis time.

    ``executor``: ``None`` runs the physics in this process (numba threads over patients); an
    :class:`mhtcdt.decision.run.executors.ExecutorSpec` (serial, local processes or a Dask cluster) splits
    each arm's patients into chunks. Results are identical either way (randomness keyed by patient).
    """
    from mhtcdt.decision.model.calibration_file import scenario_params
    from mhtcdt.decision.model.economic_model import evaluate_arms, verdict_text
    from mhtcdt.decision.scenario.checks import trial_design
    from mhtcdt.decision.trial import survival
    from mhtcdt.decision.trial.design import apply_follow_up, randomise

    seed = scenario.seed if seed is None else int(seed)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    report = sub_progress(progress, "virtual cohort", 0.0, 0.05)
    report(0.0)
    cohort, selection = screen(scenario, seed)
    eligible = selection.eligible
    if len(eligible) == 0:
        raise InputError(
            "cohort.criteria",
            scenario.cohort.criteria,
            f"no patient of {len(cohort)} screened meets every criterion; relax the criteria",
        )
    lap("cohort")

    sub_progress(progress, "randomisation", 0.05, 0.08)(0.0)
    design = trial_design(scenario)
    randomised = randomise(eligible, design, child_sequence(seed, Stream.RANDOMISE))
    lap("randomise")

    params = scenario_params(scenario)
    seeds = ArmSeeds(physics=child_sequence(seed, Stream.PHYSICS), outcome=outcome_seed(seed))
    counterfactual = simulate_counterfactual(
        randomised,
        scenario.randomised_arms,
        seeds,
        params,
        executor=executor,
        lap=lap,
        progress=None if progress is None else (lambda stage, f: progress(stage, 0.08 + 0.6 * f)),
        assumptions=scenario.physics_assumptions(),
    )
    latent = trial_rows(counterfactual)
    sub_progress(progress, "outcomes and follow-up", 0.68, 0.75)(0.0)
    observed = apply_follow_up(latent, design, child_sequence(seed, Stream.FOLLOW_UP))
    lap("outcomes")

    sub_progress(progress, "survival analysis", 0.75, 0.85)(0.0)
    if fit_parametric is None:
        fit_parametric = scenario.economics.survival_source == "parametric"
    analysis = survival.analyse(
        observed,
        reference_arm=scenario.trial.reference_arm,
        horizon_months=scenario.trial.rmst_horizon_months,
        **({} if fit_parametric else {"distributions": ()}),
    )
    lap("survival")

    sub_progress(progress, "cost-effectiveness", 0.85, 0.99)(0.0)
    econ = evaluate_arms(scenario, observed, analysis, counterfactual=counterfactual)
    lap("economics")
    if progress is not None:
        progress("done", 1.0)

    return PipelineResult(
        scenario=scenario,
        seed=seed,
        cohort=cohort,
        flow=selection.flow,
        trial=observed,
        curves=analysis.curves,
        survival_summary=analysis.summary,
        comparison=analysis.comparison,
        parametric=analysis.parametric,
        economics=econ.per_strategy,
        incremental=econ.incremental,
        verdict=verdict_text(scenario, econ),
        timings_s=timings,
        extras={
            "economic_curves": econ.curves,
            "economic_details": econ,
            "calibration": dict(params.provenance),
            COUNTERFACTUAL: counterfactual,
        },
    )


def decision_population(result: PipelineResult) -> pd.DataFrame:
    """The patients the decision model evaluates each strategy on: every randomised patient under every arm
    (``extras["counterfactual"]``, one row per arm and patient with its latent times), or the randomised trial
    itself for a result without it (a result built by hand, or streamed)."""
    table = result.extras.get(COUNTERFACTUAL)
    return result.trial if table is None else table


def population_sentence(result: PipelineResult) -> str:
    """The one sentence (summary, report, PSA notes) that says in which population the economics compares
    the strategies."""
    population = decision_population(result)
    if population is result.trial:
        return "The economics evaluates each strategy on its own randomised trial patients."
    n = int(population["patient_id"].nunique())
    same = (
        f"compares the strategies on the same {n:,} patients (every randomised patient under every arm, with the "
        "same random numbers), while the virtual trial is randomised (its chance imbalance between arms is what a "
        "trial would show, not the model's expected effect)."
    )
    source = result.scenario.economics.survival_source
    if source == "outcome_model":
        return "The economics " + same
    return f"The deterministic base case fits the randomised trial (survival_source = '{source}'); the PSA " + same
