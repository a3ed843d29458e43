"""Keyed random streams: the one place that turns a run's seed into ``SeedSequence`` s and generators.

Every random draw of a run comes from ``SeedSequence(entropy, spawn_key=(*root.spawn_key, *key))``
where ``root`` is the run's root sequence and ``key`` names what is drawn (a pipeline stage, an arm,
a patient id, a PSA draw, a replicate). Keying by *what* rather than by *order of use* is what makes
a run the same on 1 or N workers and under any chunking: a worker builds the stream of item ``k``
without drawing items ``0 .. k-1`` (numpy's ``SeedSequence.spawn`` gives the same children, but only
sequentially).

This is a leaf module (numpy and :mod:`mhtcdt.errors` only) so that every layer can use it.
"""

from __future__ import annotations

import numbers

import numpy as np

from mhtcdt.errors import InputError

SeedLike = int | np.integer | np.random.SeedSequence


def root_sequence(seed: SeedLike, field: str = "seed") -> np.random.SeedSequence:
    """The root ``SeedSequence`` of a run: ``seed`` itself, or ``SeedSequence(seed)`` for an int >= 0.

    Raises :class:`~mhtcdt.errors.InputError` naming ``field`` for a negative, non-integer or boolean
    seed (``True`` is an int to Python but never a seed a user meant).
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise InputError(field, seed, "must be a non-negative integer or a numpy.random.SeedSequence")
    return np.random.SeedSequence(int(seed))


def child_sequence(seed: SeedLike, *key: int) -> np.random.SeedSequence:
    """The ``SeedSequence`` keyed by ``key`` under the root of ``seed``.

    ``child_sequence(s, k)`` equals ``root_sequence(s).spawn(k + 1)[k]`` (same entropy, spawn key
    extended by ``k``; tested), computed directly. Keys are non-negative integers.
    """
    if type(seed) is int and seed >= 0 and all(type(k) is int and k >= 0 for k in key):
        # the common case, without building the root (same entropy, pool size and spawn key): a third of the
        # cost of a keyed stream, which a PSA creates for every parameter and sampling block
        return np.random.SeedSequence(entropy=seed, spawn_key=key)
    root = root_sequence(seed)
    for k in key:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or int(k) < 0:
            raise InputError("key", k, "seed keys must be non-negative integers")
    return np.random.SeedSequence(
        entropy=root.entropy, spawn_key=(*root.spawn_key, *(int(k) for k in key)), pool_size=root.pool_size
    )


def child_rng(seed: SeedLike, *key: int) -> np.random.Generator:
    """A PCG64 ``Generator`` on :func:`child_sequence` ``(seed, *key)``."""
    return np.random.Generator(np.random.PCG64(child_sequence(seed, *key)))
