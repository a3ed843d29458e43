"""Ready-made chunked drivers: cohort generation, physics and replicate trials split over chunks of
items by :mod:`mhtcdt.decision.run.chunking`, each equal to one unchunked call (randomness keyed by
patient id or replicate index).

``cohort_chunked(indication, n, seed, executor)`` (= ``generate_cohort``),
``physics_chunked(patients, protocol, seed, executor)`` (= ``simulate_protocol``),
``replicate_trials_chunked(...)`` (``power.simulate_replicates`` rows, ``replicate`` = global index).
PSA and large trials: :mod:`mhtcdt.decision.run.stream_psa`, :mod:`mhtcdt.decision.run.stream_trial`.
"""

from __future__ import annotations

import functools
from typing import Any

from mhtcdt.decision.run.chunking import concat_results, map_chunks
from mhtcdt.seeding import SeedLike


def _cohort_chunk(start: int, stop: int, seed: Any, indication: str, cohort_seed: Any) -> Any:
    from mhtcdt.cohorts import generate_cohort

    return generate_cohort(indication, stop - start, cohort_seed, start=start)


def cohort_chunked(
    indication: str, n: int, seed: SeedLike, executor: Any = None, chunk_size: int | None = None, **options: Any
) -> Any:
    """``mhtcdt.cohorts.generate_cohort(indication, n, seed)`` computed in chunks (same DataFrame)."""
    func = functools.partial(_cohort_chunk, indication=indication, cohort_seed=seed)
    return concat_results(map_chunks(func, n, chunk_size, 0, executor, **options))


def _physics_chunk(
    start: int, stop: int, seed: Any, patients: Any, protocol: Any, physics_seed: Any, assumptions: Any = None
) -> Any:
    from mhtcdt.physics import simulate_protocol

    return simulate_protocol(patients, protocol, physics_seed, assumptions=assumptions)


def physics_chunked(
    patients: Any,
    protocol: Any,
    seed: SeedLike,
    executor: Any = None,
    chunk_size: int | None = None,
    assumptions: Any = None,
    **options: Any,
) -> Any:
    """``mhtcdt.physics.simulate_protocol(patients, protocol, seed, assumptions=assumptions)`` over patient chunks.

    Each worker receives only its slice of ``patients``; the physics layer keys its randomness by
    ``patient_id`` (contract section 2), so the result equals one call, row for row.
    """
    n = len(patients)
    if n == 0:
        from mhtcdt.physics import simulate_protocol

        return simulate_protocol(patients, protocol, seed, assumptions=assumptions)
    func = functools.partial(_physics_chunk, protocol=protocol, physics_seed=seed, assumptions=assumptions)
    parts = map_chunks(
        func,
        n,
        chunk_size,
        0,
        executor,
        chunk_args=lambda a, b: (patients.iloc[a:b].reset_index(drop=True),),
        **options,
    )
    return concat_results(parts)


REPLICATE_BLOCK = 25


def _replicates_chunk(
    start: int, stop: int, seed: Any, trial: Any, n_patients: int, trial_seed: int, null: bool
) -> Any:
    from mhtcdt.decision.trial.power import simulate_replicates

    return simulate_replicates(trial, n_patients, stop - start, trial_seed, null=null, first_replicate=start)


def replicate_trials_chunked(
    trial: Any,
    n_patients: int,
    n_replicates: int,
    seed: int,
    *,
    null: bool = False,
    executor: Any = None,
    chunk_size: int = REPLICATE_BLOCK,
    **options: Any,
) -> Any:
    """``mhtcdt.decision.trial.power.simulate_replicates(trial, ...)`` split over replicate chunks; one row
    per replicate.

    ``trial``: a :class:`~mhtcdt.decision.trial.power.ReplicateTrial`. The engine seeds replicate ``r``
    by its global index (``first_replicate``), so the result equals one unchunked call for any chunk
    size, executor and worker count. ``options``: chunking options (``retries``, ``max_in_flight``,
    ``progress``).
    """
    func = functools.partial(
        _replicates_chunk, trial=trial, n_patients=int(n_patients), trial_seed=int(seed), null=bool(null)
    )
    parts = map_chunks(func, int(n_replicates), int(chunk_size), 0, executor, **options)
    return concat_results(parts)
