"""The end-to-end pipeline: scenario -> cohort -> selection -> randomisation -> physics ->
outcomes -> follow-up -> survival analysis -> cost-effectiveness -> verdict.

Data passed between stages (contracts in docs/architecture.md):

* ``cohort``  one row per screened virtual patient (``mhtcdt.cohorts.generate_cohort``)
* ``flow``    CONSORT flow: step, criterion, n_before, excluded, remaining
* ``trial``   one row per randomised patient: cohort columns + ``arm``, ``stratum``, ``entry_months``,
  the physics outputs of the arm received (``log10_kill_total`` ...), latent and observed
  ``pfs_months``/``os_months`` with ``pfs_event``/``os_event``
* ``curves``  Kaplan-Meier curves: arm, endpoint, time_months, survival, ci_lower, ci_upper, at_risk
* ``economics`` per-strategy cost, life_years, qalys (discounted and undiscounted)
* ``incremental`` incremental analysis with dominance and ICERs

Randomness: one ``SeedSequence(seed)`` whose fixed children feed each stage, so a run is a pure
function of (scenario, seed, package version). Stages that draw per patient key their streams
by ``patient_id``, so results do not depend on chunking or worker count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import pandas as pd

from mhtcdt.decision.run.progress import ProgressCallback, sub_progress
from mhtcdt.decision.scenario.schema import Scenario
from mhtcdt.errors import InputError


class Stream(IntEnum):
    """Fixed child keys of the master SeedSequence: never renumber (it would change every result)."""

    COHORT = 0
    RANDOMISE = 1
    PHYSICS = 2
    OUTCOME = 3
    FOLLOW_UP = 4
    PSA = 5


def stage_seed(seed: int, stream: int, *extra: int) -> np.random.SeedSequence:
    """The SeedSequence of one pipeline stage (and optional sub-key, e.g. the arm index)."""
    return np.random.SeedSequence(entropy=seed, spawn_key=(int(stream), *extra))


def cohort_seed(seed: int) -> np.random.SeedSequence:
    """Seed of the screened cohort of a run."""
    return stage_seed(seed, Stream.COHORT)


def physics_seed(seed: int, arm_index: int) -> np.random.SeedSequence:
    """Seed of the physics of the randomised arm at ``arm_index`` (order of ``scenario.randomised_arms``)."""
    return stage_seed(seed, Stream.PHYSICS, arm_index)


def outcome_seed(seed: int) -> np.random.SeedSequence:
    """Seed of the per-patient outcome draws (common to every arm)."""
    return stage_seed(seed, Stream.OUTCOME)


def screen(scenario: Scenario, seed: int | None = None):
    """The screened cohort and its selection (``mhtcdt.cohorts.Selection``) of a run."""
    from mhtcdt.cohorts import apply_criteria, generate_cohort

    seed = scenario.seed if seed is None else int(seed)
    cohort = generate_cohort(scenario.cohort.indication, scenario.cohort.n_screened, cohort_seed(seed))
    return cohort, apply_criteria(cohort, scenario.cohort.criteria)


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
) -> PipelineResult:
    """Run one scenario end to end. ``seed`` overrides ``scenario.seed``.

    ``executor``: ``None`` runs the physics in this process (numba threads over patients); an
    :class:`mhtcdt.decision.run.executors.ExecutorSpec` (serial, local processes or a Dask cluster) splits
    each arm's patients into chunks. Results are identical either way (randomness keyed by patient).
    """
    from mhtcdt.decision.model import outcome
    from mhtcdt.decision.model.economic_model import evaluate_arms, verdict_text
    from mhtcdt.decision.scenario.checks import protocol_for_arm, trial_design
    from mhtcdt.decision.trial import survival
    from mhtcdt.decision.trial.design import apply_follow_up, randomise
    from mhtcdt.physics import simulate_protocol

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
            "cohort.criteria", scenario.cohort.criteria,
            f"no patient of {len(cohort)} screened meets every criterion; relax the criteria",
        )
    lap("cohort")

    sub_progress(progress, "randomisation", 0.05, 0.08)(0.0)
    design = trial_design(scenario)
    randomised = randomise(eligible, design, stage_seed(seed, Stream.RANDOMISE))
    lap("randomise")

    arms = scenario.randomised_arms
    parts = []
    span = 0.6 / max(1, len(arms))
    for i, arm in enumerate(arms):
        patients = randomised[randomised["arm"] == arm.name]
        if len(patients) == 0:
            continue
        arm_report = sub_progress(progress, f"physics: {arm.name}", 0.08 + i * span, 0.08 + (i + 1) * span)
        to_treat = patients.drop(columns=["arm", "stratum", "entry_months"])
        if executor is None:
            physics = simulate_protocol(to_treat, protocol_for_arm(arm), physics_seed(seed, i), progress=arm_report)
        else:
            from mhtcdt.decision.run.chunked import physics_chunked

            physics = physics_chunked(to_treat, protocol_for_arm(arm), physics_seed(seed, i), executor=executor,
                                      progress=arm_report)
        physics["treatment_months"] = outcome.treatment_months(arm)  # regrowth starts when treatment ends
        parts.append(patients.merge(physics, on="patient_id", how="left", validate="one_to_one"))
    treated = pd.concat(parts, ignore_index=True).sort_values("patient_id", kind="stable").reset_index(drop=True)
    lap("physics")

    sub_progress(progress, "outcomes and follow-up", 0.68, 0.75)(0.0)
    params = outcome.load_outcome_params()
    latent = outcome.simulate_outcomes(treated, params, outcome_seed(seed))
    observed = apply_follow_up(latent, design, stage_seed(seed, Stream.FOLLOW_UP))
    lap("outcomes")

    sub_progress(progress, "survival analysis", 0.75, 0.85)(0.0)
    analysis = survival.analyse(
        observed, reference_arm=scenario.trial.reference_arm, horizon_months=scenario.trial.rmst_horizon_months
    )
    lap("survival")

    sub_progress(progress, "cost-effectiveness", 0.85, 0.99)(0.0)
    econ = evaluate_arms(scenario, observed, analysis)
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
        extras={"economic_curves": econ.curves, "economic_details": econ},
    )
