"""The keys of a run's random streams: which :func:`mhtcdt.seeding.child_sequence` each stage draws from.

A run is a pure function of (scenario, calibration, seed, version) because every stage draws from
``child_sequence(seed, key...)`` with a fixed key, and within a stage by patient id, PSA draw or
replicate index. Keys are part of the results: never renumber them (every number would change).

:class:`Stream`       the pipeline's stages (``run_pipeline``, the PSA, the power pools)
:class:`TrialStream`  the streamed (chunkable) trial of :mod:`mhtcdt.decision.run.stream_trial`, distinct
                      from the pipeline's keys because it is a different trial (simple randomisation)
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from mhtcdt.seeding import SeedLike, child_sequence


class Stream(IntEnum):
    """Child keys of the pipeline's root sequence."""

    COHORT = 0
    RANDOMISE = 1
    PHYSICS = 2  # + the arm's index in ``scenario.randomised_arms``
    OUTCOME = 3
    FOLLOW_UP = 4
    PSA = 5


class TrialStream(IntEnum):
    """Child keys of the streamed scenario trial's root sequence."""

    COHORT = 100
    RANDOMISE = 101  # + patient id
    PHYSICS = 102  # + the arm's index in ``scenario.randomised_arms``
    OUTCOME = 103
    FOLLOW_UP = 104


def cohort_seed(seed: SeedLike) -> np.random.SeedSequence:
    """Seed of the screened cohort of a run (the app draws the same patients with it)."""
    return child_sequence(seed, Stream.COHORT)


def physics_seed(seed: SeedLike, arm_index: int) -> np.random.SeedSequence:
    """Seed of the physics of the randomised arm at ``arm_index`` (order of ``scenario.randomised_arms``)."""
    return child_sequence(seed, Stream.PHYSICS, arm_index)


def outcome_seed(seed: SeedLike) -> np.random.SeedSequence:
    """Seed of the per-patient outcome draws (common to every arm)."""
    return child_sequence(seed, Stream.OUTCOME)
