"""The arm chain: cohort rows of an arm -> the arm's physics -> outcome draws.

One implementation used by the pipeline (:func:`mhtcdt.decision.run.pipeline.run_pipeline`), the
streamed trial (:func:`mhtcdt.decision.run.stream_trial.scenario_trial_chunk`) and the counterfactual
patient pools of replicate trials and patient selection (:func:`pools_from_scenario`).

* :func:`treated_under` one group of patients treated with one arm: the rows plus the physics outputs
  of :func:`mhtcdt.physics.simulate_protocol` (contract section 2), keyed by ``patient_id``;
* :func:`treat_arms` every randomised patient treated with the arm in its ``arm`` column (arm ``i``
  of ``arms`` draws from child ``i`` of the physics seed) plus ``treatment_months`` (regrowth starts
  when treatment ends);
* :func:`simulate_arms` :func:`treat_arms` then the latent PFS/OS of
  :func:`mhtcdt.decision.model.outcome.simulate_outcomes` (draws keyed by patient, common to every arm);
* :func:`simulate_counterfactual` every randomised patient treated with every arm and its latent PFS/OS
  (the decision model's population: the strategies compared on the same patients); :func:`trial_rows` the
  randomised trial inside it (each patient's row under its own arm);
* :func:`pools_from_scenario` every eligible patient of a scenario treated with each of two arms.

Randomness: the caller passes the stage seeds (:class:`ArmSeeds`); the keys of each front end are in
:mod:`mhtcdt.decision.streams`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mhtcdt.decision.progress import ProgressCallback, sub_progress
from mhtcdt.errors import InputError
from mhtcdt.seeding import SeedLike, child_sequence

#: columns added by randomisation; the physics sees only the cohort columns
RANDOMISATION_COLUMNS = ("arm", "stratum", "entry_months")


@dataclass(frozen=True)
class ArmSeeds:
    """Stage seeds of the arm chain: arm ``i`` draws its physics from ``child_sequence(physics, i)``;
    the outcome draws of every arm come from ``outcome`` (keyed by patient id)."""

    physics: np.random.SeedSequence
    outcome: np.random.SeedSequence


def treated_under(
    patients: pd.DataFrame,
    arm: Any,
    seed: SeedLike,
    *,
    executor: Any = None,
    progress: Callable[[float], None] | None = None,
    assumptions: Any = None,
) -> pd.DataFrame:
    """``patients`` (cohort rows, any extra columns kept) treated with ``arm`` (a scenario arm).

    The physics runs in this process (numba threads over patients) when ``executor`` is None, else in
    chunks on that executor (:func:`mhtcdt.decision.run.chunked.physics_chunked`); both give the same
    rows because the physics keys its randomness by ``patient_id``. Returns the input rows with the
    physics columns appended, in the input order. ``assumptions``: the
    :class:`mhtcdt.physics.Assumptions` of the run (None: the data files; a scenario's
    :meth:`~mhtcdt.decision.scenario.schema.Scenario.physics_assumptions`).
    """
    from mhtcdt.decision.scenario.checks import protocol_for_arm
    from mhtcdt.physics import simulate_protocol

    protocol = protocol_for_arm(arm)
    cohort_rows = patients.drop(columns=[c for c in RANDOMISATION_COLUMNS if c in patients.columns])
    if executor is None:
        physics = simulate_protocol(cohort_rows, protocol, seed, progress=progress, assumptions=assumptions)
    else:
        from mhtcdt.decision.run.chunked import physics_chunked

        physics = physics_chunked(
            cohort_rows, protocol, seed, executor=executor, progress=progress, assumptions=assumptions
        )
    new = [c for c in physics.columns if c not in patients.columns or c == "patient_id"]
    return patients.merge(physics[new], on="patient_id", how="left", validate="one_to_one")


def treat_arms(
    randomised: pd.DataFrame,
    arms: Sequence[Any],
    physics_seed: SeedLike,
    *,
    executor: Any = None,
    progress: ProgressCallback | None = None,
    assumptions: Any = None,
) -> pd.DataFrame:
    """Every randomised patient (column ``arm``) treated with its arm, sorted by ``patient_id``.

    ``arms``: the scenario's randomised arms in file order (arm ``i`` draws from
    ``child_sequence(physics_seed, i)``); ``treatment_months`` is the arm's treatment duration
    (:func:`mhtcdt.decision.model.outcome.treatment_months`) and the systemic-therapy columns are the arm's
    (:func:`mhtcdt.decision.model.outcome.systemic_columns`). ``progress(stage, fraction)`` is
    reported per arm over [0, 1].
    """
    from mhtcdt.decision.model.outcome import systemic_columns, treatment_months

    parts = []
    span = 1.0 / max(1, len(arms))
    for i, arm in enumerate(arms):
        patients = randomised[randomised["arm"] == arm.name]
        if len(patients) == 0:
            continue
        report = sub_progress(progress, f"physics: {arm.name}", i * span, (i + 1) * span)
        treated = treated_under(
            patients, arm, child_sequence(physics_seed, i), executor=executor, progress=report, assumptions=assumptions
        )
        treated["treatment_months"] = treatment_months(arm)  # regrowth starts when treatment ends
        for column, value in systemic_columns(arm).items():  # the arm's systemic therapy (outcome model)
            treated[column] = value
        parts.append(treated)
    if not parts:
        raise InputError("arm", sorted(set(randomised["arm"])), "no randomised patient is in any of the arms")
    return pd.concat(parts, ignore_index=True).sort_values("patient_id", kind="stable").reset_index(drop=True)


def simulate_arms(
    randomised: pd.DataFrame,
    arms: Sequence[Any],
    seeds: ArmSeeds,
    params: Any = None,
    *,
    executor: Any = None,
    progress: ProgressCallback | None = None,
    lap: Callable[[str], None] | None = None,
    assumptions: Any = None,
) -> pd.DataFrame:
    """:func:`treat_arms` then the latent PFS/OS of every patient (contract section 3 before follow-up).

    ``params``: :class:`mhtcdt.decision.model.outcome.OutcomeParams` (None: the calibrated default).
    ``lap("physics")`` is called when the physics of every arm is done (stage timings).
    """
    from mhtcdt.decision.model.outcome import simulate_outcomes

    treated = treat_arms(randomised, arms, seeds.physics, executor=executor, progress=progress, assumptions=assumptions)
    if lap is not None:
        lap("physics")
    if progress is not None:
        progress("outcomes", 1.0)
    return simulate_outcomes(treated, params, seeds.outcome)


#: column of the counterfactual table naming the arm a patient was randomised to (``arm``: the arm treated with)
RANDOMISED_ARM = "randomised_arm"


def simulate_counterfactual(
    randomised: pd.DataFrame,
    arms: Sequence[Any],
    seeds: ArmSeeds,
    params: Any = None,
    *,
    executor: Any = None,
    progress: ProgressCallback | None = None,
    lap: Callable[[str], None] | None = None,
    assumptions: Any = None,
) -> pd.DataFrame:
    """Every randomised patient treated with every arm that has randomised patients, then the latent PFS/OS.

    One row per (arm, patient): ``arm`` is the arm the row is treated with, :data:`RANDOMISED_ARM` the arm of
    randomisation; rows by arm in ``arms`` order, then by ``patient_id``.

    Common random numbers, physics and outcome: a patient's physics draws (radiosensitivity, infiltrative
    share, particle distribution ...) come from **its own stream** under every arm, the stream of the arm it was
    randomised to (arm ``i``: ``child_sequence(seeds.physics, i)``, keyed by ``patient_id``), and its outcome
    draws are keyed by ``patient_id`` (common to every arm). So a patient's row under its own arm is its row of
    :func:`simulate_arms` exactly (:func:`trial_rows`), and its rows under the other arms differ from it only
    by the treatment: the same RT kill under RT alone and under MHT + RT, a kill at least as high wherever
    an arm adds to another. Costs n_patients x n_arms physics runs instead of n_patients.
    """
    from mhtcdt.decision.model.outcome import simulate_outcomes, systemic_columns, treatment_months

    present = [arm for arm in arms if (randomised["arm"] == arm.name).any()]
    if not present:
        raise InputError("arm", sorted(set(randomised["arm"])), "no randomised patient is in any of the arms")
    stream = {arm.name: i for i, arm in enumerate(arms)}
    groups = [(arm.name, randomised[randomised["arm"] == arm.name]) for arm in present]
    n_steps = len(present) * len(groups)
    parts = []
    for k, arm in enumerate(present):
        treated_parts = []
        for g, (group, patients) in enumerate(groups):
            step = k * len(groups) + g
            report = sub_progress(progress, f"physics: {arm.name}", step / n_steps, (step + 1) / n_steps)
            treated_parts.append(
                treated_under(
                    patients,
                    arm,
                    child_sequence(seeds.physics, stream[group]),  # the patient's own stream
                    executor=executor,
                    progress=report,
                    assumptions=assumptions,
                )
            )
        treated = pd.concat(treated_parts, ignore_index=True)
        treated["treatment_months"] = treatment_months(arm)  # regrowth starts when treatment ends
        for column, value in systemic_columns(arm).items():  # the arm's systemic therapy (outcome model)
            treated[column] = value
        treated[RANDOMISED_ARM] = treated["arm"]
        treated["arm"] = arm.name
        parts.append(treated.sort_values("patient_id", kind="stable").reset_index(drop=True))
    if lap is not None:
        lap("physics")
    if progress is not None:
        progress("outcomes", 1.0)
    table = pd.concat(parts, ignore_index=True)
    out = simulate_outcomes(table.drop(columns=[RANDOMISED_ARM]), params, seeds.outcome)
    out[RANDOMISED_ARM] = table[RANDOMISED_ARM].to_numpy()
    return out


def trial_rows(counterfactual: pd.DataFrame) -> pd.DataFrame:
    """The randomised trial inside a :func:`simulate_counterfactual` table: each patient's row under the arm it
    was randomised to, sorted by ``patient_id`` (the columns and rows of :func:`simulate_arms`)."""
    own = counterfactual[counterfactual["arm"] == counterfactual[RANDOMISED_ARM]]
    return own.drop(columns=[RANDOMISED_ARM]).sort_values("patient_id", kind="stable").reset_index(drop=True)


def pools_from_scenario(
    scenario: Any,
    arms: tuple[str, str],
    n_screened: int,
    seed: int,
    progress: Callable[[float], None] | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """Patient pools for replicate trials and patient selection: one eligible cohort, each patient
    treated with each of ``arms`` (counterfactuals).

    The cohort and the physics use the pipeline's streams (:func:`~mhtcdt.decision.streams.cohort_seed`,
    :func:`~mhtcdt.decision.streams.physics_seed` with the arm's index in ``arms``). Returns
    ({arm: cohort + physics DataFrame, same patients in the same order}, {arm: treatment_months}).
    """
    from mhtcdt.cohorts import apply_criteria, generate_cohort
    from mhtcdt.decision.model.outcome import systemic_columns, treatment_months
    from mhtcdt.decision.model.setting import apply_setting
    from mhtcdt.decision.streams import cohort_seed, physics_seed

    cohort = generate_cohort(scenario.cohort.indication, n_screened, cohort_seed(seed))
    cohort = apply_setting(cohort, scenario.cohort.disease_setting)
    eligible = apply_criteria(cohort, scenario.cohort.criteria).eligible.reset_index(drop=True)
    if len(eligible) == 0:
        raise InputError(
            "cohort.criteria",
            scenario.cohort.criteria,
            f"zero patients of {n_screened} screened remain after selection",
        )
    pools, months = {}, {}
    for i, name in enumerate(arms):
        arm = scenario.arm(name)
        pools[name] = treated_under(
            eligible, arm, physics_seed(seed, i), assumptions=scenario.physics_assumptions()
        ).assign(**systemic_columns(arm))
        months[name] = treatment_months(arm)
        if progress is not None:
            progress((i + 1) / len(arms))
    return pools, months
