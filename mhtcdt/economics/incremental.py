"""Incremental cost-effectiveness analysis over any number of strategies.

Incremental table (contract section 5), one row per strategy, sorted by cost (ties: more effect first):

| column | dtype | meaning |
|---|---|---|
| strategy | str | |
| cost | float64 | mean discounted cost per patient |
| qalys | float64 | mean discounted effect per patient (QALYs, or whatever ``effect`` names) |
| inc_cost | float64 | cost minus cost of the previous frontier strategy; NaN for reference/dominated |
| inc_qalys | float64 | the same for the effect |
| icer | float64 | inc_cost / inc_qalys along the frontier; NaN for reference and dominated rows |
| status | str | "reference" (cheapest non-dominated), "non-dominated", "dominated", "extendedly dominated" |

Algorithm: sort by cost; a strategy is (strongly) dominated if another costs no more and
yields at least as much with one inequality strict (an exact duplicate of an earlier row is
marked dominated too); among the rest, repeatedly remove the strategy whose ICER versus the
previous one exceeds the ICER of the next one versus it (extended dominance) until ICERs increase
along the frontier.  The result is the lower-right convex frontier of the cost-effect plane.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mhtcdt.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

STATUSES = ("reference", "non-dominated", "dominated", "extendedly dominated")


def efficient_frontier(cost: np.ndarray, effect: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Indices of frontier strategies (in increasing cost) and a status code per strategy.

    Status codes: 0 reference, 1 non-dominated, 2 dominated, 3 extendedly dominated.

    Ties: strategies are scanned by increasing cost and, at equal cost, by *decreasing* effect, so of
    two strategies with the same cost the less effective is strongly dominated (it can never be the
    reference or give a frontier ICER of 0); at equal effect the dearer one is dominated (no infinite
    ICER); of exact copies the first listed is kept. Along the frontier cost and effect both
    increase strictly. (Reversing the cost tie-break is caught by tests/economics/test_incremental.py.)
    """
    cost = np.asarray(cost, dtype=float)
    effect = np.asarray(effect, dtype=float)
    n = cost.size
    order = np.lexsort((-effect, cost))  # by cost, then higher effect first
    status = np.full(n, -1)
    kept: list[int] = []
    best_effect = -np.inf
    for i in order:
        if effect[i] > best_effect:
            kept.append(int(i))
            best_effect = effect[i]
        else:
            status[i] = 2
    changed = True
    while changed and len(kept) > 2:
        changed = False
        for k in range(1, len(kept) - 1):
            a, b, c = kept[k - 1], kept[k], kept[k + 1]
            icer_ab = (cost[b] - cost[a]) / (effect[b] - effect[a])
            icer_bc = (cost[c] - cost[b]) / (effect[c] - effect[b])
            if icer_ab > icer_bc:
                status[b] = 3
                del kept[k]
                changed = True
                break
    status[kept[0]] = 0
    for i in kept[1:]:
        status[i] = 1
    return kept, status


def incremental_analysis(
    results: pd.DataFrame, *, cost: str = "cost", effect: str = "qalys", strategy: str = "strategy"
) -> pd.DataFrame:
    """Incremental table with strong and extended dominance (see module docstring).

    ``results`` is a per-strategy DataFrame (contract section 5) or any frame with the named
    columns.  The effect column keeps its name (``qalys`` by default; pass ``effect="life_years"``
    for cost per life-year, the columns are then ``life_years``, ``inc_life_years``).
    """
    import pandas as pd  # lazy: ``import mhtcdt.economics`` stays light

    for col in (strategy, cost, effect):
        if col not in results.columns:
            raise InputError("results", list(results.columns), f"missing column {col!r}")
    if len(results) == 0:
        raise InputError("results", 0, "needs at least one strategy")
    names = results[strategy].astype(str).to_numpy()
    if len(set(names)) != len(names):
        raise InputError(strategy, list(names), "strategy names must be unique")
    c = results[cost].to_numpy(dtype=float)
    e = results[effect].to_numpy(dtype=float)
    for arr, col in ((c, cost), (e, effect)):
        bad = ~np.isfinite(arr)
        if bad.any():
            k = int(np.argmax(bad))
            raise InputError(f"{col}[{names[k]}]", float(arr[k]), "must be finite")
    kept, status = efficient_frontier(c, e)
    inc_c = np.full(c.size, np.nan)
    inc_e = np.full(c.size, np.nan)
    icer = np.full(c.size, np.nan)
    for prev, cur in zip(kept[:-1], kept[1:], strict=True):
        inc_c[cur] = c[cur] - c[prev]
        inc_e[cur] = e[cur] - e[prev]
        icer[cur] = inc_c[cur] / inc_e[cur]
    order = np.lexsort((-e, c))
    out = pd.DataFrame(
        {
            "strategy": names[order],
            "cost": c[order],
            effect: e[order],
            "inc_cost": inc_c[order],
            f"inc_{effect}": inc_e[order],
            "icer": icer[order],
            "status": [STATUSES[s] for s in status[order]],
        }
    ).reset_index(drop=True)
    out.attrs.update(results.attrs)
    return out
