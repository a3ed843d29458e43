"""A large trial reduced chunk by chunk: each worker turns its chunk of screened patients into
event tables and arm means (:mod:`mhtcdt.decision.run.event_tables`), so the full patient table never
exists in memory.

:class:`TrialAccumulator` merges, in chunk index order (:func:`mhtcdt.decision.run.chunking.fold_chunks`),
the :class:`TrialChunkSummary` of each chunk made by :func:`summarise_trial_chunk`: screened/eligible
counts, PFS and OS event tables, arm means.

Drivers: :func:`stream_trial` (any trial chunk function, chunked over screened patients) and
:func:`stream_scenario_trial` (a scenario's trial with every draw keyed by patient, through
:func:`scenario_trial_chunk`; simple randomisation and constant screening rate, see there).
A 1,000,000-patient trial streamed in chunks of 20,000 holds only the chunks in flight plus the
event tables (about 24 bytes per distinct time per arm and endpoint, or a fixed grid with
``resolution_months``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mhtcdt.decision.run import chunking
from mhtcdt.decision.run.event_tables import ArmMeans, EventTable
from mhtcdt.decision.streams import TrialStream
from mhtcdt.errors import InputError
from mhtcdt.seeding import child_rng, child_sequence


@dataclass
class TrialChunkSummary:
    """What a worker sends back for one chunk of screened patients (small, whatever the chunk size)."""

    n_screened: int
    n_eligible: int
    pfs: EventTable
    os: EventTable
    means: ArmMeans


def summarise_trial_chunk(
    trial: pd.DataFrame, n_screened: int, *, mean_columns: Sequence[str] = (), resolution_months: float | None = None
) -> TrialChunkSummary:
    """Reduce trial patients (contract section 3: ``arm``, ``pfs_months``, ``pfs_event``, ``os_months``,
    ``os_event``) to event tables and arm means."""
    pfs, os_ = EventTable(resolution_months), EventTable(resolution_months)
    for arm, part in trial.groupby("arm", sort=True, observed=True):
        pfs.add_arm_data(str(arm), part["pfs_months"].to_numpy(), part["pfs_event"].to_numpy())
        os_.add_arm_data(str(arm), part["os_months"].to_numpy(), part["os_event"].to_numpy())
    means = ArmMeans()
    means.add_frame(trial, [c for c in mean_columns if c in trial.columns])
    return TrialChunkSummary(int(n_screened), len(trial), pfs, os_, means)


class TrialAccumulator:
    """Merges :class:`TrialChunkSummary` objects in chunk order."""

    def __init__(self, resolution_months: float | None = None) -> None:
        self.n_screened = 0
        self.n_eligible = 0
        self.pfs = EventTable(resolution_months)
        self.os = EventTable(resolution_months)
        self.means = ArmMeans()

    def add(self, chunk: TrialChunkSummary) -> None:
        self.n_screened += chunk.n_screened
        self.n_eligible += chunk.n_eligible
        self.pfs.merge(chunk.pfs)
        self.os.merge(chunk.os)
        self.means.merge(chunk.means)

    def survival_summary(self) -> pd.DataFrame:
        """arm, endpoint, n, events, median_months (KM; inf if not reached)."""
        rows = []
        for endpoint, table in (("PFS", self.pfs), ("OS", self.os)):
            for arm in table.arms:
                _, d, c, _ = table._arm(arm)
                rows.append((arm, endpoint, int(d.sum() + c.sum()), int(d.sum()), table.median(arm)))
        return pd.DataFrame(rows, columns=["arm", "endpoint", "n", "events", "median_months"])


def stream_trial(
    chunk_func: Callable[..., pd.DataFrame],
    n_screened: int,
    seed: int | np.random.SeedSequence,
    *,
    executor: Any = None,
    chunk_size: int = 50_000,
    mean_columns: Sequence[str] = (),
    resolution_months: float | None = None,
    **options: Any,
) -> TrialAccumulator:
    """A trial of ``n_screened`` screened patients, chunked over patients and streamed into a
    :class:`TrialAccumulator`; the full patient table never exists in memory.

    ``chunk_func(start, stop, seed)`` returns the randomised, followed-up trial patients (contract
    section 3) among screened patients ``start .. stop-1``, with every random draw keyed by
    ``patient_id``: see :func:`scenario_trial_chunk`. Each worker reduces its chunk to event tables
    and arm means before sending it back.
    """
    func = functools.partial(
        _trial_chunk, chunk_func=chunk_func, mean_columns=tuple(mean_columns), resolution_months=resolution_months
    )
    acc = TrialAccumulator(resolution_months)
    return chunking.fold_chunks(func, int(n_screened), acc, chunk_size, seed, executor, **options)


def _trial_chunk(
    start: int,
    stop: int,
    seed: Any,
    chunk_func: Callable[..., pd.DataFrame],
    mean_columns: tuple[str, ...],
    resolution_months: float | None,
) -> TrialChunkSummary:
    trial = chunk_func(start, stop, seed)
    return summarise_trial_chunk(trial, stop - start, mean_columns=mean_columns, resolution_months=resolution_months)


def scenario_trial_chunk(
    start: int, stop: int, seed: Any, *, scenario: Any, n_screened: int, screened_per_month: float | None = None
) -> pd.DataFrame:
    """Trial patients (contract section 3) among screened patients ``start .. stop-1`` of a scenario,
    every random draw keyed by ``patient_id`` so that any chunking gives the same trial.

    Differences from :func:`mhtcdt.decision.run.pipeline.run_pipeline` (whose permuted blocks and
    Poisson accrual are sequential over the whole trial and cannot be chunked):

    * simple randomisation with the scenario's allocation ratio, one keyed uniform per patient
      (no blocks, no strata; ``stratum`` is ``"all"``);
    * screening at a constant ``screened_per_month`` (default: the scenario's
      ``accrual_per_month``): patient ``i`` enters at ``i / screened_per_month`` months and the data
      cut-off is ``n_screened / screened_per_month + min_follow_up_months``, known to every chunk.

    Cohort (``generate_cohort(..., start=start)``), the arm chain (:func:`mhtcdt.decision.run.arm_chain.simulate_arms`:
    physics keyed by patient, outcomes) and follow-up (``design.apply_follow_up``) are the package's
    own; this function only randomises and chains them per chunk. Seeds: :class:`TrialStream` keys.
    """
    from dataclasses import replace

    from mhtcdt.cohorts import apply_criteria, generate_cohort
    from mhtcdt.decision.run.arm_chain import ArmSeeds, simulate_arms
    from mhtcdt.decision.scenario.checks import trial_design
    from mhtcdt.decision.trial.design import apply_follow_up

    rate = float(screened_per_month or scenario.trial.accrual_per_month)
    if not (rate > 0 and math.isfinite(rate)):
        raise InputError("screened_per_month", screened_per_month, "must be a positive number")
    design = replace(trial_design(scenario), data_cutoff_months=n_screened / rate + scenario.trial.min_follow_up_months)
    cohort = generate_cohort(
        scenario.cohort.indication, stop - start, child_sequence(seed, TrialStream.COHORT), start=start
    )
    eligible = apply_criteria(cohort, scenario.cohort.criteria).eligible.reset_index(drop=True)
    del cohort
    if len(eligible) == 0:
        return eligible.assign(
            arm=pd.Series(dtype=str),
            pfs_months=pd.Series(dtype=float),
            pfs_event=pd.Series(dtype=bool),
            os_months=pd.Series(dtype=float),
            os_event=pd.Series(dtype=bool),
        )
    pid = eligible["patient_id"].to_numpy(np.int64)
    arms = scenario.randomised_arms
    weights = np.array([float(scenario.trial.allocation[a.name]) for a in arms])
    edges = np.cumsum(weights / weights.sum())
    rand = child_sequence(seed, TrialStream.RANDOMISE)
    u = np.array([child_rng(rand, int(i)).random() for i in pid])
    arm_index = np.minimum(np.searchsorted(edges, u, side="right"), len(arms) - 1)
    randomised = eligible.assign(
        arm=np.array([a.name for a in arms], dtype=object)[arm_index].astype(str),
        stratum="all",
        entry_months=pid.astype(float) / rate,
    )
    seeds = ArmSeeds(
        physics=child_sequence(seed, TrialStream.PHYSICS), outcome=child_sequence(seed, TrialStream.OUTCOME)
    )
    latent = simulate_arms(randomised, arms, seeds, assumptions=scenario.physics_assumptions())
    return apply_follow_up(latent, design, child_sequence(seed, TrialStream.FOLLOW_UP))


def stream_scenario_trial(
    scenario: Any,
    n_screened: int,
    seed: int,
    *,
    executor: Any = None,
    chunk_size: int = 20_000,
    screened_per_month: float | None = None,
    mean_columns: Sequence[str] = ("log10_kill_total", "t90_C", "age_years"),
    resolution_months: float | None = None,
    **options: Any,
) -> TrialAccumulator:
    """A scenario's trial with ``n_screened`` screened patients, streamed (see
    :func:`scenario_trial_chunk` for how it differs from the pipeline's trial)."""
    if isinstance(n_screened, bool) or int(n_screened) < 1:
        raise InputError("n_screened", n_screened, "must be an integer >= 1")
    func = functools.partial(
        scenario_trial_chunk, scenario=scenario, n_screened=int(n_screened), screened_per_month=screened_per_month
    )
    return stream_trial(
        func,
        int(n_screened),
        seed,
        executor=executor,
        chunk_size=chunk_size,
        mean_columns=mean_columns,
        resolution_months=resolution_months,
        **options,
    )
