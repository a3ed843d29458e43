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


def cohort_chunked(indication: str, n: int, seed: SeedLike, executor: Any = None,
                   chunk_size: int | None = None, **options: Any) -> Any:
    """``mhtcdt.cohorts.generate_cohort(indication, n, seed)`` computed in chunks (same DataFrame)."""
    func = functools.partial(_cohort_chunk, indication=indication, cohort_seed=seed)
    return concat_results(map_chunks(func, n, chunk_size, 0, executor, **options))


def _physics_chunk(start: int, stop: int, seed: Any, patients: Any, protocol: Any, physics_seed: Any) -> Any:
    from mhtcdt.physics import simulate_protocol

    return simulate_protocol(patients, protocol, physics_seed)


def physics_chunked(patients: Any, protocol: Any, seed: SeedLike, executor: Any = None,
                    chunk_size: int | None = None, **options: Any) -> Any:
    """``mhtcdt.physics.simulate_protocol(patients, protocol, seed)`` over patient chunks.

    Each worker receives only its slice of ``patients``; the physics layer keys its randomness by
    ``patient_id`` (contract section 2), so the result equals one call, row for row.
    """
    n = len(patients)
    if n == 0:
        from mhtcdt.physics import simulate_protocol

        return simulate_protocol(patients, protocol, seed)
    func = functools.partial(_physics_chunk, protocol=protocol, physics_seed=seed)
    parts = map_chunks(func, n, chunk_size, 0, executor,
                       chunk_args=lambda a, b: (patients.iloc[a:b].reset_index(drop=True),), **options)
    return concat_results(parts)


REPLICATE_BLOCK = 25


def _replicates_chunk(start: int, stop: int, seed: Any, trial_seed: int, arguments: dict[str, Any]) -> Any:
    from mhtcdt.decision.trial import power

    return power.simulate_replicates(n_replicates=stop - start, seed=trial_seed, first_replicate=start, **arguments)


def replicate_trials_chunked(pools: Any, design: Any, n_patients: int, n_replicates: int, seed: int, *,
                             executor: Any = None, reference_arm: str, experimental_arm: str,
                             chunk_size: int = REPLICATE_BLOCK, **kwargs: Any) -> Any:
    """``mhtcdt.decision.trial.power.simulate_replicates`` split over replicate chunks; one row per replicate.

    The engine seeds replicate ``r`` by its global index (``first_replicate``), so the result equals one
    unchunked call for any chunk size, executor and worker count.
    Other keyword arguments (``params``, ``endpoint``, ``alpha``, ``null``, ``treatment_months``) are
    passed to the engine; chunking options (``retries``, ``max_in_flight``, ``progress``) too.
    """
    executor_keys = ("retries", "max_in_flight", "progress")
    run_options = {k: kwargs.pop(k) for k in executor_keys if k in kwargs}
    arguments = dict(pools=dict(pools), design=design, n_patients=n_patients, reference_arm=reference_arm,
                     experimental_arm=experimental_arm, **kwargs)
    func = functools.partial(_replicates_chunk, trial_seed=int(seed), arguments=arguments)
    parts = map_chunks(func, int(n_replicates), int(chunk_size), 0, executor, **run_options)
    return concat_results(parts)
