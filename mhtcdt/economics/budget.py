"""Budget impact over (by default) 5 years for an eligible population with uptake of a new strategy.

Method (ISPOR budget-impact good practice: undiscounted, payer budget per calendar year): each
year's incident eligible patients start treatment that year; a patient who started in year k costs
``cost_by_year_since_start[j]`` in calendar year k + j.  With uptake u_k of the new strategy in
year k (the rest receive the current mix), the budget in year y is

    B(y) = sum_{k <= y} N_k [u_k c_new(y - k) + (1 - u_k) c_cur(y - k)],

and the budget impact is B(y) minus the same sum with u = 0.

DataFrame (one row per year): ``year`` int64 (1..Y), ``eligible`` float64 (incident patients),
``treated_new`` float64, ``budget_current`` float64 (world without the new strategy),
``budget_new`` float64 (world with it), ``budget_impact`` float64, ``cumulative_budget_impact`` float64.

:func:`annual_costs_from_curves` gives the undiscounted per-patient cost by year since start
from survival curves (the same occupancy and cost rules as the partitioned survival model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from mhtcdt.economics.conventions import check_time_grid
from mhtcdt.economics.validation import as_finite, check_costs, check_probabilities
from mhtcdt.errors import InputError

if TYPE_CHECKING:
    import pandas as pd


def budget_impact(
    eligible_per_year: ArrayLike,
    uptake_per_year: ArrayLike,
    cost_by_year_new: ArrayLike,
    cost_by_year_current: ArrayLike,
    *,
    years: int = 5,
) -> pd.DataFrame:
    """Budget impact table (see module docstring).

    eligible_per_year, uptake_per_year: length ``years`` (uptake in [0, 1]);
    cost_by_year_new / _current: per-patient cost in year 0, 1, ... since starting (any length;
    missing later years count as 0).
    """
    import pandas as pd  # lazy: ``import mhtcdt.economics`` stays light

    if int(years) != years or years < 1:
        raise InputError("years", years, "must be an integer >= 1")
    n = as_finite(eligible_per_year, "eligible_per_year")
    u = check_probabilities(uptake_per_year, "uptake_per_year")
    if n.shape != (years,):
        raise InputError("eligible_per_year", n.shape, f"needs {years} values")
    if u.shape != (years,):
        raise InputError("uptake_per_year", u.shape, f"needs {years} values")
    if np.any(n < 0):
        raise InputError("eligible_per_year", float(n.min()), "must be >= 0")
    c_new = np.zeros(years)
    c_cur = np.zeros(years)
    for arr, name, out in (
        (cost_by_year_new, "cost_by_year_new", c_new),
        (cost_by_year_current, "cost_by_year_current", c_cur),
    ):
        c = check_costs(arr, name)
        if c.ndim != 1:
            raise InputError(name, c.shape, "needs a 1-D profile by year since start")
        m = min(years, c.size)
        out[:m] = c[:m]
    # B(y) = sum_k N_k x c(y - k): a convolution truncated to the horizon
    treated_new = n * u
    budget_cur = np.convolve(n, c_cur)[:years]
    budget_new = np.convolve(treated_new, c_new)[:years] + np.convolve(n - treated_new, c_cur)[:years]
    impact = budget_new - budget_cur
    return pd.DataFrame(
        {
            "year": np.arange(1, years + 1, dtype=np.int64),
            "eligible": n,
            "treated_new": treated_new,
            "budget_current": budget_cur,
            "budget_new": budget_new,
            "budget_impact": impact,
            "cumulative_budget_impact": np.cumsum(impact),
        }
    )


def annual_costs_from_curves(
    time_months: ArrayLike,
    pfs: ArrayLike,
    os: ArrayLike,
    *,
    state_cost_per_month: ArrayLike,
    one_off_cost: float = 0.0,
    end_of_life_cost: float = 0.0,
    years: int = 5,
) -> np.ndarray:
    """Undiscounted per-patient cost in years 0..years-1 since start, from PFS/OS (T,) on a grid in
    months (trapezoid rule; the grid must reach 12 * years months).  Returns (years,)."""
    t = check_time_grid(time_months, "time_months")
    pf = np.minimum(as_finite(pfs, "pfs"), as_finite(os, "os"))
    osv = as_finite(os, "os")
    if pf.shape != t.shape or osv.shape != t.shape:
        raise InputError("pfs", pf.shape, f"needs one value per grid point ({t.size})")
    if t[-1] < 12 * years - 1e-9:
        raise InputError("time_months", float(t[-1]), f"the grid must reach {12 * years} months")
    c = check_costs(state_cost_per_month, "state_cost_per_month")
    if c.shape != (2,):
        raise InputError("state_cost_per_month", c.shape, "needs (progression-free, progressed)")
    rate = c[0] * pf + c[1] * (osv - pf)  # cost per month at each grid point
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(t))])
    deaths_cum = osv[0] - osv
    edges = 12.0 * np.arange(years + 1)
    state = np.diff(np.interp(edges, t, cum))
    eol = end_of_life_cost * np.diff(np.interp(edges, t, deaths_cum))
    out = state + eol
    out[0] += one_off_cost
    return out
