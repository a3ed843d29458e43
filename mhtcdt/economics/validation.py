"""Input checks shared by the economics models; every failure is an InputError naming the item and value."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from mhtcdt.errors import InputError

PROBABILITY_ROW_TOLERANCE = 1e-6
"""Absolute tolerance on |sum of a transition-matrix row - 1|."""

START_TOLERANCE = 1e-6
"""Absolute tolerance on |sum of a Markov model's start distribution - 1|."""


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def _refuse_where(arr: np.ndarray, bad: np.ndarray, field: str, message: str) -> None:
    """InputError naming the first element of ``arr`` where ``bad`` holds (index appended to ``field``)."""
    if bad.any():
        idx = _first_bad(bad) if arr.ndim else ()
        raise InputError(f"{field}{list(idx) if idx else ''}", float(arr[idx]), message)


def as_finite(value: ArrayLike, field: str) -> np.ndarray:
    """``value`` as a float array; InputError naming the first NaN or infinite element."""
    arr = np.asarray(value, dtype=float)
    if not np.isfinite(arr).all():  # one pass in the usual case; the mask only to name the bad element
        _refuse_where(arr, ~np.isfinite(arr), field, "must be a finite number")
    return arr


def check_costs(value: ArrayLike, field: str) -> np.ndarray:
    """Finite, non-negative costs."""
    arr = as_finite(value, field)
    _refuse_where(arr, arr < 0, field, "costs must be >= 0 (model savings as a separate arm)")
    return arr


def check_utilities(value: ArrayLike, field: str, allow_negative: bool = False) -> np.ndarray:
    """Utilities <= 1; below 0 (states worse than death) only with ``allow_negative``."""
    arr = as_finite(value, field)
    _refuse_where(arr, arr > 1.0, field, "a utility cannot exceed 1 (full health)")
    if not allow_negative:
        message = "utility below 0 (worse than death); pass allow_negative_utilities=True if intended"
        _refuse_where(arr, arr < 0.0, field, message)
    return arr


def check_probabilities(value: ArrayLike, field: str) -> np.ndarray:
    """Finite probabilities in [0, 1]."""
    arr = as_finite(value, field)
    _refuse_where(arr, (arr < 0) | (arr > 1), field, "a probability must be in [0, 1]")
    return arr


@lru_cache(maxsize=64)
def _ones(n: int) -> np.ndarray:
    """A read-only vector of n ones (the row-sum check runs every cycle: no allocation each time)."""
    ones = np.ones(n)
    ones.flags.writeable = False
    return ones


def check_transition_matrices(value: ArrayLike, field: str, states: Sequence[str] | None = None) -> np.ndarray:
    """Arrays (..., S, S) with entries in [0, 1] and rows summing to 1 within PROBABILITY_ROW_TOLERANCE."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim >= 2 and arr.shape[-1] == arr.shape[-2] and (states is None or arr.shape[-1] == len(states)):
        # fast path (one comparison pass + one row sum); NaN fails ">= 0" and lands in the slow path
        # (row sums by a matmul with ones: a reduction over a short last axis is slow in numpy)
        if arr.min() >= 0:
            sums = arr.reshape(-1, arr.shape[-1]).dot(_ones(arr.shape[-1]))  # 2-D dot: BLAS gemv
            if sums.max() <= 1.0 + PROBABILITY_ROW_TOLERANCE and sums.min() >= 1.0 - PROBABILITY_ROW_TOLERANCE:
                return arr
    arr = as_finite(arr, field)
    if arr.ndim < 2 or arr.shape[-1] != arr.shape[-2]:
        raise InputError(field, arr.shape, "a transition matrix must be square (..., S, S)")
    if states is not None and arr.shape[-1] != len(states):
        raise InputError(field, arr.shape, f"matrix has {arr.shape[-1]} states but {len(states)} were named")
    neg = arr < 0
    if neg.any():
        idx = _first_bad(neg)
        raise InputError(f"{field}{_name(idx, states)}", float(arr[idx]), "negative transition probability")
    sums = arr.sum(axis=-1)
    off = np.abs(sums - 1.0) > PROBABILITY_ROW_TOLERANCE
    if off.any():
        idx = _first_bad(off)
        row = idx[-1]
        label = f"row {states[row]!r}" if states is not None else f"row {row}"
        raise InputError(
            f"{field}{list(idx)}",
            float(sums[idx]),
            f"{label} sums to {float(sums[idx]):.9g}, not 1 (tolerance {PROBABILITY_ROW_TOLERANCE:g})",
        )
    return arr


def _name(idx: tuple[int, ...], states: Sequence[str] | None) -> str:
    if states is None or len(idx) < 2:
        return str(list(idx))
    return str(list(idx[:-2]) + [states[idx[-2]], states[idx[-1]]])


def check_rate(rate: float, field: str) -> float:
    r = float(rate)
    if not np.isfinite(r) or r < 0 or r >= 1:
        raise InputError(field, rate, "an annual discount rate must be in [0, 1), e.g. 0.035")
    return r


def broadcast_param(value: ArrayLike, field: str, target: tuple[int, ...], what: str) -> np.ndarray:
    """Broadcast ``value`` (aligned from the right) to ``target``; InputError naming the shapes otherwise."""
    arr = np.asarray(value, dtype=float)
    try:
        return np.broadcast_to(arr, target)
    except ValueError:
        raise InputError(field, arr.shape, f"cannot broadcast to {target} ({what})") from None
