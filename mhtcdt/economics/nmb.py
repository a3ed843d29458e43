"""Net benefit, cost-effectiveness acceptability curve (CEAC) and frontier (CEAF), CE-plane samples.

Arrays: ``cost`` and ``effect`` have shape (D, S) (PSA draw x strategy) or (S,) for one
parameter set; ``wtp`` (willingness to pay per unit of effect, e.g. per QALY) is a scalar or
a 1-D array of W values.

DataFrames returned
-------------------
``ceac``: long format, one row per (wtp, strategy):
    ``wtp`` float64, ``strategy`` str, ``probability`` float64 (share of draws in which the
    strategy has the highest net monetary benefit; ties go to the first strategy),
    ``expected_nmb`` float64, ``optimal`` bool (highest expected NMB at that wtp: the CEAF).
``ceaf``: one row per wtp: ``wtp``, ``strategy`` (optimal by expected NMB), ``probability``
    (its probability of being cost-effective), ``expected_nmb``.
``ce_plane``: one row per (draw, comparison): ``draw`` int64, ``comparison`` str ("B vs A"),
    ``inc_cost``, ``inc_qalys`` float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from mhtcdt.economics.validation import as_finite
from mhtcdt.errors import InputError

if TYPE_CHECKING:
    import pandas as pd


def _wtp_array(wtp: ArrayLike) -> np.ndarray:
    w = as_finite(wtp, "wtp")
    if w.ndim > 1:
        raise InputError("wtp", w.shape, "must be a scalar or a 1-D array")
    if np.any(w < 0):
        raise InputError("wtp", float(w.min()), "willingness to pay must be >= 0")
    return w


def _ce_arrays(cost: ArrayLike, effect: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    c = as_finite(cost, "cost")
    e = as_finite(effect, "effect")
    if c.shape != e.shape:
        raise InputError("effect", e.shape, f"must have the shape of cost {c.shape}")
    if c.ndim == 1:
        c, e = c[None], e[None]
    if c.ndim != 2:
        raise InputError("cost", c.shape, "needs shape (D, S) or (S,)")
    return c, e


def net_monetary_benefit(cost: ArrayLike, effect: ArrayLike, wtp: ArrayLike) -> np.ndarray | float:
    """NMB = wtp * effect - cost.  Shape: broadcast of cost with a leading wtp axis if wtp is 1-D.

    cost, effect (..., S); wtp scalar -> (..., S); wtp (W,) -> (W, ..., S).
    """
    c = as_finite(cost, "cost")
    e = as_finite(effect, "effect")
    w = _wtp_array(wtp)
    if w.ndim == 0:
        return float(w) * e - c
    return w.reshape((-1,) + (1,) * e.ndim) * e[None] - c[None]


def _strategy_names(strategies: Sequence[str] | None, n: int) -> list[str]:
    if strategies is None:
        return [f"strategy_{i}" for i in range(n)]
    names = [str(s) for s in strategies]
    if len(names) != n:
        raise InputError("strategies", names, f"needs {n} names (one per column of cost)")
    return names


def max_nmb_over_strategies(cost: np.ndarray, effect: np.ndarray, wtp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(max over strategies of NMB, index of the first maximiser), each (W, D), for cost/effect (D, S).

    Strategies are scanned one by one with elementwise comparisons: numpy reductions over a short
    last axis are several times slower than this for the usual 2-5 strategies."""
    w = wtp[:, None]
    best_val = w * effect[None, :, 0] - cost[None, :, 0]
    best_idx = np.zeros(best_val.shape, dtype=np.int64)
    for s in range(1, cost.shape[1]):
        val = w * effect[None, :, s] - cost[None, :, s]
        better = val > best_val
        best_idx[better] = s
        np.maximum(best_val, val, out=best_val)
    return best_val, best_idx


def ceac(cost: ArrayLike, effect: ArrayLike, wtp: ArrayLike, strategies: Sequence[str] | None = None) -> pd.DataFrame:
    """Cost-effectiveness acceptability curves (and frontier flag), see module docstring."""
    import pandas as pd  # lazy: ``import mhtcdt.economics`` stays light

    c, e = _ce_arrays(cost, effect)
    w = np.atleast_1d(_wtp_array(wtp))
    names = _strategy_names(strategies, c.shape[1])
    n_d, n_s = c.shape
    best = max_nmb_over_strategies(c, e, w)[1]  # (W, D): index of the first maximiser
    counts = np.zeros((w.size, n_s))
    for s in range(n_s):  # loop over strategies (few), not draws
        counts[:, s] = np.count_nonzero(best == s, axis=1)
    prob = counts / n_d
    exp_nmb = w[:, None] * e.mean(axis=0)[None] - c.mean(axis=0)[None]  # (W, S)
    optimal = exp_nmb.argmax(axis=1)
    return pd.DataFrame(
        {
            "wtp": np.repeat(w, n_s),
            "strategy": np.tile(np.array(names, dtype=object), w.size),
            "probability": prob.ravel(),
            "expected_nmb": exp_nmb.ravel(),
            "optimal": (np.arange(n_s)[None, :] == optimal[:, None]).ravel(),
        }
    )


def ceaf(cost: ArrayLike, effect: ArrayLike, wtp: ArrayLike, strategies: Sequence[str] | None = None) -> pd.DataFrame:
    """Cost-effectiveness acceptability frontier: the strategy with the highest expected NMB per wtp."""
    table = ceac(cost, effect, wtp, strategies)
    front = table[table["optimal"]].drop(columns="optimal").reset_index(drop=True)
    return front[["wtp", "strategy", "probability", "expected_nmb"]]


def ce_plane(
    cost: ArrayLike, effect: ArrayLike, strategies: Sequence[str] | None = None, reference: int | str = 0
) -> pd.DataFrame:
    """Incremental cost and effect of every strategy versus ``reference`` for every draw."""
    import pandas as pd  # lazy: ``import mhtcdt.economics`` stays light

    c, e = _ce_arrays(cost, effect)
    names = _strategy_names(strategies, c.shape[1])
    if isinstance(reference, str):
        if reference not in names:
            raise InputError("reference", reference, f"unknown strategy; use one of {names}")
        ref = names.index(reference)
    else:
        ref = int(reference)
        if not 0 <= ref < len(names):
            raise InputError("reference", reference, f"index out of range 0..{len(names) - 1}")
    frames = []
    for s in range(c.shape[1]):
        if s == ref:
            continue
        frames.append(
            pd.DataFrame(
                {
                    "draw": np.arange(c.shape[0], dtype=np.int64),
                    "comparison": f"{names[s]} vs {names[ref]}",
                    "inc_cost": c[:, s] - c[:, ref],
                    "inc_qalys": e[:, s] - e[:, ref],
                }
            )
        )
    if not frames:
        raise InputError("strategies", names, "a CE plane needs at least two strategies")
    return pd.concat(frames, ignore_index=True)
