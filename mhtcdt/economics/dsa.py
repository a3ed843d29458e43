"""One-way deterministic sensitivity analysis (tornado data) and threshold analysis.

The model is any function ``model(params) -> outcome`` taking a mapping name -> 1-D array of
scenarios (all of the same length n) and returning an outcome array (n,) (e.g. incremental net
monetary benefit, an ICER, incremental QALYs).  All 1 + 2K scenarios of a one-way DSA over K
parameters are evaluated in one vectorised call (``vectorised=True``) or one call per scenario.

Tornado DataFrame (one row per parameter, largest swing first):
``parameter`` str, ``low_value``, ``high_value`` float64 (the parameter values), ``outcome_low``,
``outcome_high`` (outcome at the low/high value), ``outcome_base`` float64, ``swing``
float64 (= |outcome_high - outcome_low|).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from mhtcdt.economics.validation import as_finite
from mhtcdt.errors import InputError, ModelError

if TYPE_CHECKING:
    import pandas as pd

Model = Callable[[Mapping[str, np.ndarray]], np.ndarray]


def _evaluate(model: Model, scenarios: dict[str, np.ndarray], vectorised: bool) -> np.ndarray:
    n = len(next(iter(scenarios.values())))
    if vectorised:
        out = np.asarray(model(scenarios), dtype=float)
        if out.shape != (n,):
            raise InputError("model", out.shape, f"a vectorised model must return one outcome per scenario ({n})")
    else:
        out = np.array(
            [float(np.asarray(model({k: v[i : i + 1] for k, v in scenarios.items()})).ravel()[0]) for i in range(n)]
        )
    if not np.all(np.isfinite(out)):
        raise ModelError(
            f"the model returned non-finite outcomes for scenarios {np.flatnonzero(~np.isfinite(out))[:5]}"
        )
    return out


def one_way_dsa(
    model: Model,
    base: Mapping[str, float],
    ranges: Mapping[str, tuple[float, float]],
    *,
    vectorised: bool = True,
) -> pd.DataFrame:
    """One-way DSA: each parameter of ``ranges`` set to its low and high value, the others at base."""
    import pandas as pd  # lazy: ``import mhtcdt.economics`` stays light

    if not ranges:
        raise InputError("ranges", {}, "give at least one parameter range")
    names = list(base)
    for name, rng in ranges.items():
        if name not in base:
            raise InputError(f"ranges.{name}", rng, f"unknown parameter; base has {names}")
        lo, hi = (float(x) for x in rng)
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
            raise InputError(f"ranges.{name}", rng, "needs finite (low, high) with low <= high")
    base_vals = {k: float(as_finite(v, f"base.{k}")) for k, v in base.items()}
    k = len(ranges)
    scen = {name: np.full(1 + 2 * k, v) for name, v in base_vals.items()}
    for j, (name, (lo, hi)) in enumerate(ranges.items()):
        scen[name][1 + 2 * j] = lo
        scen[name][2 + 2 * j] = hi
    out = _evaluate(model, scen, vectorised)
    rows = []
    for j, (name, (lo, hi)) in enumerate(ranges.items()):
        o_lo, o_hi = out[1 + 2 * j], out[2 + 2 * j]
        rows.append((name, float(lo), float(hi), o_lo, o_hi, out[0], abs(o_hi - o_lo)))
    df = pd.DataFrame(
        rows,
        columns=[
            "parameter",
            "low_value",
            "high_value",
            "outcome_low",
            "outcome_high",
            "outcome_base",
            "swing",
        ],
    )
    return df.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


def two_way_dsa(
    model: Model,
    base: Mapping[str, float],
    x: tuple[str, Sequence[float]],
    y: tuple[str, Sequence[float]],
    *,
    vectorised: bool = True,
) -> pd.DataFrame:
    """Two-way DSA over a grid of two parameters (the others at base), all grid points in one
    vectorised call.  Returns a long DataFrame: ``<x name>``, ``<y name>``, ``outcome`` float64."""
    import pandas as pd  # lazy: ``import mhtcdt.economics`` stays light

    (name_x, vals_x), (name_y, vals_y) = x, y
    for name in (name_x, name_y):
        if name not in base:
            raise InputError("parameter", name, f"unknown parameter; base has {list(base)}")
    if name_x == name_y:
        raise InputError("y", name_y, "the two parameters must differ")
    gx = as_finite(vals_x, f"values.{name_x}")
    gy = as_finite(vals_y, f"values.{name_y}")
    if gx.ndim != 1 or gy.ndim != 1 or gx.size == 0 or gy.size == 0:
        raise InputError("values", (gx.shape, gy.shape), "needs two non-empty 1-D value lists")
    xx, yy = np.meshgrid(gx, gy, indexing="ij")
    n = xx.size
    scen = {k: np.full(n, float(v)) for k, v in base.items()}
    scen[name_x] = xx.ravel()
    scen[name_y] = yy.ravel()
    out = _evaluate(model, scen, vectorised)
    return pd.DataFrame({name_x: xx.ravel(), name_y: yy.ravel(), "outcome": out})


def threshold_value(
    model: Model,
    base: Mapping[str, float],
    parameter: str,
    bounds: tuple[float, float],
    *,
    target: float = 0.0,
    xtol: float = 1e-10,
) -> float:
    """Value of ``parameter`` at which the outcome equals ``target`` (e.g. INMB = 0: the
    value-based price), by Brent's method on ``bounds``; ModelError if it is not bracketed."""
    if parameter not in base:
        raise InputError("parameter", parameter, f"unknown parameter; base has {list(base)}")
    lo, hi = (float(b) for b in bounds)
    if not lo < hi:
        raise InputError("bounds", bounds, "needs low < high")
    base_vals = {k: np.array([float(v)]) for k, v in base.items()}

    def f(x: float) -> float:
        scen = dict(base_vals)
        scen[parameter] = np.array([x])
        return float(np.asarray(model(scen)).ravel()[0]) - target

    f_lo, f_hi = f(lo), f(hi)
    if np.sign(f_lo) == np.sign(f_hi):
        raise ModelError(
            f"no threshold for {parameter} in [{lo}, {hi}]: outcome - target is {f_lo:.6g} and {f_hi:.6g} at the ends"
        )
    from scipy.optimize import brentq  # lazy: scipy.optimize costs 0.3 s to import

    return float(brentq(f, lo, hi, xtol=xtol, rtol=1e-14))


def value_based_price(
    inc_cost: float, inc_qalys: float, wtp: float, current_price: float, units_per_patient: float
) -> float:
    """Price of a cost item at which the ICER equals ``wtp`` (incremental NMB = 0), for a cost
    linear in the price: p* = p + (wtp * dE - dC) / units, with ``units_per_patient`` the
    (discounted) number of units of the item per patient in the new strategy net of the comparator."""
    units = float(units_per_patient)
    if not np.isfinite(units) or units <= 0:
        raise InputError("units_per_patient", units_per_patient, "must be > 0")
    if wtp < 0:
        raise InputError("wtp", wtp, "must be >= 0")
    return float(current_price + (wtp * inc_qalys - inc_cost) / units)
