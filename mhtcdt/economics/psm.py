"""Partitioned survival models (PSM), vectorised over PSA draws.

States: progression-free (PF), progressed (PD), dead.  Occupancy at time t from the
survival curves: PF(t) = min(PFS(t), OS(t)) (a PFS curve above OS is capped, with a warning),
PD(t) = OS(t) - PF(t), dead = 1 - OS(t).  :func:`partitioned_occupancy` generalises this to N
nested curves S_1 <= S_2 <= ... <= S_K (state k occupancy = S_k - S_{k-1}).

Time integrals use :func:`mhtcdt.economics.conventions.counting_weights` on the grid, and
discount factors from :func:`mhtcdt.economics.conventions.discount_factors` at each point
(time converted from months to years with 1 month = 1/12 year).

* life-years   = sum_k w_k d_e(t_k) OS(t_k)
* QALYs        = sum_k w_k d_e(t_k) [u_PF PF(t_k) + u_PD PD(t_k)]          (utilities per year)
* state costs  = sum_k w_k d_c(t_k) [c_PF PF(t_k) + c_PD PD(t_k)] * 12     (costs per month)
* one-off cost at t = 0 (undiscounted), e.g. the MHT course;
* end-of-life cost on the deaths of each interval, OS(t_{k-1}) - OS(t_k), discounted at the
  interval midpoint.

Returns the per-strategy DataFrame of :mod:`mhtcdt.economics.results` (contract section 5),
with extra float64 columns ``pf_years``, ``progressed_years`` (discounted at the effects rate),
``pf_years_undiscounted``, ``progressed_years_undiscounted`` (years in each state),
``cost_one_off``, ``cost_end_of_life`` and ``cost_<category>`` for categorised state costs
(all discounted).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from mhtcdt.economics.conventions import check_time_grid, counting_weights, discount_factors
from mhtcdt.economics.results import DrawResults
from mhtcdt.economics.validation import (
    as_finite,
    broadcast_param,
    check_costs,
    check_rate,
    check_utilities,
)
from mhtcdt.errors import InputError

MONOTONE_TOLERANCE = 1e-9
CHUNK_ELEMENTS = 1 << 16  # curve values per block of draws (~0.5 MB per array, cache-sized)
CROSSING_TOLERANCE = 1e-9


class CurveCrossingWarning(UserWarning):
    """A PFS curve lies above its OS curve somewhere; PFS was capped at OS there."""


def _check_curve(curve: np.ndarray, field: str, offset: int | None = None) -> None:
    """Values in [0, 1] (NaN fails too) and non-increasing over the last axis.

    ``offset``: index of the first draw of this block (error messages name the global draw index);
    None for arrays without a draw axis (the leading axis of length 1 is then not named)."""
    # fast path: two reductions without temporaries; NaN propagates through min/max and fails
    lo, hi = curve.min(initial=np.inf), curve.max(initial=-np.inf)
    if not (lo >= 0.0 and hi <= 1.0):
        bad = ~((curve >= 0) & (curve <= 1))
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))
        raise InputError(f"{field}{_where(idx, offset)}", float(curve[idx]), "survival must be in [0, 1]")
    rise = np.greater(curve[..., 1:], curve[..., :-1] + MONOTONE_TOLERANCE)
    if rise.any():
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(rise)), rise.shape))
        nxt = idx[:-1] + (idx[-1] + 1,)
        raise InputError(
            f"{field}{_where(nxt, offset)}",
            float(curve[nxt]),
            f"survival increases over time (previous {float(curve[idx]):.6g})",
        )


def _where(idx: tuple[int, ...], offset: int | None) -> str:
    if offset is None:
        return str(list(idx[1:]) if len(idx) == 3 else list(idx))
    return str([idx[0] + offset, *idx[1:]])


def _cap_pfs(pfs: np.ndarray, os: np.ndarray) -> np.ndarray:
    """min(PFS, OS), with a CurveCrossingWarning if PFS exceeds OS beyond CROSSING_TOLERANCE."""
    pf = np.minimum(pfs, os)
    if np.greater(pfs, pf + CROSSING_TOLERANCE).any():
        excess = pfs - os
        n_cross = int(np.count_nonzero(excess > CROSSING_TOLERANCE))
        warnings.warn(
            f"PFS above OS at {n_cross} point(s) (largest excess {float(excess.max()):.4g}); "
            "PFS capped at OS there (progression-free time cannot exceed survival)",
            CurveCrossingWarning,
            stacklevel=4,
        )
    return pf


def psm_occupancy(pfs: np.ndarray, os: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occupancy (PF, PD, dead) from PFS and OS of the same shape (..., T).

    Where PFS > OS (beyond CROSSING_TOLERANCE) PFS is capped at OS and a CurveCrossingWarning
    names how many points and the largest excess.
    """
    pf = _cap_pfs(np.asarray(pfs, float), np.asarray(os, float))
    return pf, os - pf, 1.0 - np.asarray(os, float)


def partitioned_occupancy(curves: np.ndarray, *, warn: bool = True) -> np.ndarray:
    """N-state partition: curves (..., K, T) with S_1 <= ... <= S_K (S_K = overall survival).

    Returns occupancy (..., K + 1, T): states 1..K then dead.  A curve above a later one is capped
    (running minimum taken from the last curve backwards), with a CurveCrossingWarning.
    """
    c = as_finite(curves, "curves")
    if c.ndim < 2:
        raise InputError("curves", c.shape, "needs shape (..., K, T)")
    _check_curve(c, "curves")
    capped = np.minimum.accumulate(c[..., ::-1, :], axis=-2)[..., ::-1, :]
    if warn and np.any(c - capped > CROSSING_TOLERANCE):
        warnings.warn(
            "a partitioning curve lies above a later one; capped at the later curve",
            CurveCrossingWarning,
            stacklevel=2,
        )
    lower = np.concatenate([np.zeros_like(capped[..., :1, :]), capped[..., :-1, :]], axis=-2)
    states = capped - lower
    dead = 1.0 - capped[..., -1:, :]
    return np.concatenate([states, dead], axis=-2)


def _state_pair(value, field: str, lead: tuple[int, ...], checker) -> np.ndarray:
    arr = checker(value, field)
    if arr.ndim == 0 or arr.shape[-1] != 2:
        raise InputError(field, arr.shape, "needs (progression-free, progressed) as the last axis of length 2")
    return broadcast_param(arr, field, lead + (2,), "(pf, progressed) per strategy [per draw]")


def _psm_arrays(
    strategies: Sequence[str],
    time_months,
    pfs,
    os,
    state_cost_per_month,
    one_off_cost,
    end_of_life_cost,
    utilities_per_year,
    discount_costs: float,
    discount_effects: float,
    counting,
    discount_method: str,
    allow_negative_utilities: bool,
    currency: str | None,
) -> DrawResults:
    t_m = check_time_grid(time_months, "time_months")
    pfs_a = np.asarray(pfs, dtype=float)  # finiteness is checked by _check_curve
    os_a = np.asarray(os, dtype=float)
    n_s = len(strategies)
    if len(set(map(str, strategies))) != n_s:
        raise InputError("strategies", list(strategies), "strategy names must be unique")
    if os_a.shape != pfs_a.shape:
        raise InputError("os", os_a.shape, f"must have the shape of pfs {pfs_a.shape}")
    if pfs_a.ndim not in (2, 3) or pfs_a.shape[-2:] != (n_s, t_m.size):
        raise InputError(
            "pfs",
            pfs_a.shape,
            f"needs shape (S, T) or (D, S, T) with S = {n_s} strategies and T = {t_m.size} times",
        )
    squeeze = pfs_a.ndim == 2
    if squeeze:
        pfs_a, os_a = pfs_a[None], os_a[None]
    n_d = pfs_a.shape[0]
    lead = (n_d, n_s)
    dc_rate = check_rate(discount_costs, "discount_costs")
    de_rate = check_rate(discount_effects, "discount_effects")

    if isinstance(state_cost_per_month, Mapping):
        categories = {
            str(k): _state_pair(v, f"state_cost_per_month.{k}", lead, check_costs)
            for k, v in state_cost_per_month.items()
        }
        if not categories:
            raise InputError("state_cost_per_month", {}, "give at least one cost category")
    else:
        categories = {"state": _state_pair(state_cost_per_month, "state_cost_per_month", lead, check_costs)}
    u = _state_pair(
        utilities_per_year,
        "utilities_per_year",
        lead,
        lambda v, f: check_utilities(v, f, allow_negative_utilities),
    )
    one_off = broadcast_param(check_costs(one_off_cost, "one_off_cost"), "one_off_cost", lead, "per strategy")
    eol = broadcast_param(check_costs(end_of_life_cost, "end_of_life_cost"), "end_of_life_cost", lead, "per strategy")

    t_y = t_m / 12.0
    w = counting_weights(t_y, counting)  # years
    d_c = discount_factors(t_y, dc_rate, discount_method)
    d_e = discount_factors(t_y, de_rate, discount_method)
    # Deaths in interval k, OS(t_{k-1}) - OS(t_k), weighted by m_k (discount at its midpoint), summed
    # over k, equal sum_k OS(t_k) v_k with v_0 = m_1, v_k = m_{k+1} - m_k, v_{T-1} = -m_{T-1}
    # (summation by parts), so every quantity is a linear functional of PF or OS: one matmul each
    # over the time axis (PD = OS - PF is never formed).
    mid = 0.5 * (t_y[1:] + t_y[:-1])
    v = np.zeros((t_y.size, 2))
    for j, m in enumerate((np.ones_like(mid), discount_factors(mid, dc_rate, discount_method))):
        v[0, j] = m[0]
        v[1:-1, j] = m[1:] - m[:-1]
        v[-1, j] = -m[-1]
    weights = np.column_stack([w, w * d_c, w * d_e])  # (T, 3)
    os_weights = np.column_stack([weights, v])  # (T, 5)
    pf_int = np.empty((n_d, n_s, 3))  # years in PF (undiscounted, costs-, effects-discounted)
    os_int = np.empty((n_d, n_s, 5))
    # blocks of draws small enough to stay in cache (a loop over blocks, not over draws)
    step = max(1, CHUNK_ELEMENTS // (n_s * t_m.size))
    for a in range(0, n_d, step):
        b = min(n_d, a + step)
        pfs_b, os_b = pfs_a[a:b], os_a[a:b]
        _check_curve(pfs_b, "pfs", offset=a if not squeeze else None)
        _check_curve(os_b, "os", offset=a if not squeeze else None)
        np.matmul(_cap_pfs(pfs_b, os_b), weights, out=pf_int[a:b])
        np.matmul(os_b, os_weights, out=os_int[a:b])
    life = os_int[..., :3]
    pd_int = life - pf_int
    deaths_int = os_int[..., 3:]  # (D, S, 2): deaths undiscounted, discounted

    cost_by_cat = {}
    cost_disc = one_off + eol * deaths_int[..., 1]
    cost_undisc = one_off + eol * deaths_int[..., 0]
    for name, c in categories.items():
        c_year = 12.0 * c
        disc = c_year[..., 0] * pf_int[..., 1] + c_year[..., 1] * pd_int[..., 1]
        cost_by_cat[name] = disc
        cost_disc = cost_disc + disc
        cost_undisc = cost_undisc + c_year[..., 0] * pf_int[..., 0] + c_year[..., 1] * pd_int[..., 0]
    if not isinstance(state_cost_per_month, Mapping):
        cost_by_cat = {}
    cost_by_cat["one_off"] = np.array(one_off, copy=True)
    cost_by_cat["end_of_life"] = eol * deaths_int[..., 1]
    qaly_disc = u[..., 0] * pf_int[..., 2] + u[..., 1] * pd_int[..., 2]
    qaly_undisc = u[..., 0] * pf_int[..., 0] + u[..., 1] * pd_int[..., 0]
    res = DrawResults(
        strategies=[str(s) for s in strategies],
        cost=cost_disc,
        life_years=life[..., 2],
        qalys=qaly_disc,
        cost_undiscounted=cost_undisc,
        life_years_undiscounted=life[..., 0],
        qalys_undiscounted=qaly_undisc,
        cost_by_category=cost_by_cat,
        extra={
            "pf_years": pf_int[..., 2],
            "progressed_years": pd_int[..., 2],
            "pf_years_undiscounted": pf_int[..., 0],
            "progressed_years_undiscounted": pd_int[..., 0],
        },
        attrs={
            "model": "partitioned_survival",
            "currency": currency,
            "counting": counting if isinstance(counting, str) else "custom",
            "discount_method": discount_method,
            "discount_costs": dc_rate,
            "discount_effects": de_rate,
            "horizon_months": float(t_m[-1]),
        },
    )
    return res, squeeze


def run_partitioned_survival(
    strategies: Sequence[str],
    time_months: Sequence[float] | np.ndarray,
    pfs: np.ndarray,
    os: np.ndarray,
    *,
    state_cost_per_month,
    utilities_per_year,
    one_off_cost=0.0,
    end_of_life_cost=0.0,
    discount_costs: float = 0.035,
    discount_effects: float = 0.035,
    counting: str | Sequence[float] = "trapezoid",
    discount_method: str = "discrete",
    allow_negative_utilities: bool = False,
    currency: str | None = None,
) -> pd.DataFrame:
    """Three-state partitioned survival model for S strategies and one parameter set.

    Parameters
    ----------
    strategies:
        S unique names.
    time_months:
        Grid (T,) in months starting at 0 (uniform for ``counting="simpson"``).
    pfs, os:
        Survival probabilities (S, T) on that grid (Kaplan-Meier steps evaluated at the grid, or
        extrapolated parametric curves). PFS above OS is capped with a CurveCrossingWarning.
    state_cost_per_month:
        (progression-free, progressed) cost per month, shape (2,) or (S, 2); or a mapping
        category -> such array (e.g. ``{"drug": ..., "care": ...}``) giving ``cost_<category>`` columns.
    utilities_per_year:
        (progression-free, progressed) utility, shape (2,) or (S, 2); <= 1, >= 0 unless
        ``allow_negative_utilities``.
    one_off_cost:
        Cost at time 0 per strategy (scalar or (S,)), e.g. the therapy course.
    end_of_life_cost:
        Cost per death (scalar or (S,)), on the deaths of each interval, discounted at its midpoint.
    discount_costs, discount_effects:
        Annual rates (e.g. 0.035); see ``conventions.jurisdiction`` for presets.
    counting, discount_method:
        See :mod:`mhtcdt.economics.conventions`.

    Returns
    -------
    DataFrame, contract section 5 (columns in :mod:`mhtcdt.economics.results`), plus the extra
    columns listed in the module docstring; conventions in ``df.attrs``.
    """
    res, squeeze = _psm_arrays(
        strategies,
        time_months,
        pfs,
        os,
        state_cost_per_month,
        one_off_cost,
        end_of_life_cost,
        utilities_per_year,
        discount_costs,
        discount_effects,
        counting,
        discount_method,
        allow_negative_utilities,
        currency,
    )
    if not squeeze:
        raise InputError("pfs", np.shape(pfs), "has a draw axis: use run_partitioned_survival_draws")
    return res.draw(0)


def run_partitioned_survival_draws(
    strategies: Sequence[str],
    time_months: Sequence[float] | np.ndarray,
    pfs: np.ndarray,
    os: np.ndarray,
    *,
    state_cost_per_month,
    utilities_per_year,
    one_off_cost=0.0,
    end_of_life_cost=0.0,
    discount_costs: float = 0.035,
    discount_effects: float = 0.035,
    counting: str | Sequence[float] = "trapezoid",
    discount_method: str = "discrete",
    allow_negative_utilities: bool = False,
    currency: str | None = None,
) -> DrawResults:
    """As :func:`run_partitioned_survival`, all PSA draws at once, without a loop per draw.

    ``pfs`` and ``os`` have shape (D, S, T); the cost/utility parameters broadcast against
    (D, S, 2) (e.g. per-draw utilities with shape (D, 1, 2) or (D, S, 2)), ``one_off_cost`` and
    ``end_of_life_cost`` against (D, S).  Returns :class:`DrawResults` with (D, S) arrays;
    ``.summary()`` is the per-strategy DataFrame of means.
    """
    pfs_a = np.asarray(pfs, dtype=float)
    if pfs_a.ndim != 3:
        raise InputError("pfs", pfs_a.shape, "needs shape (D, S, T) for draws; use run_partitioned_survival for (S, T)")
    res, _ = _psm_arrays(
        strategies,
        time_months,
        pfs_a,
        os,
        state_cost_per_month,
        one_off_cost,
        end_of_life_cost,
        utilities_per_year,
        discount_costs,
        discount_effects,
        counting,
        discount_method,
        allow_negative_utilities,
        currency,
    )
    return res


def run_partitioned_survival_nstate(
    strategies: Sequence[str],
    time_months: Sequence[float] | np.ndarray,
    curves: np.ndarray,
    states: Sequence[str],
    *,
    state_cost_per_month,
    utilities_per_year,
    one_off_cost=0.0,
    end_of_life_cost=0.0,
    discount_costs: float = 0.035,
    discount_effects: float = 0.035,
    counting: str | Sequence[float] = "trapezoid",
    discount_method: str = "discrete",
    allow_negative_utilities: bool = False,
    currency: str | None = None,
) -> pd.DataFrame | DrawResults:
    """N-state partitioned survival: K nested curves S_1 <= ... <= S_K (S_K = OS) define K alive
    states (state k occupancy S_k - S_{k-1}, see :func:`partitioned_occupancy`) and death.

    ``curves`` has shape (S, K, T) -> per-strategy DataFrame, or (D, S, K, T) -> DrawResults;
    ``states`` names the K alive states; ``state_cost_per_month`` and ``utilities_per_year``
    broadcast to (D, S, K).  Extra columns ``<state>_years_undiscounted``.  Other conventions as
    :func:`run_partitioned_survival`.
    """
    t_m = check_time_grid(time_months, "time_months")
    c = as_finite(curves, "curves")
    names = [str(s) for s in states]
    n_s, n_k = len(strategies), len(names)
    if c.ndim not in (3, 4) or c.shape[-3:] != (n_s, n_k, t_m.size):
        raise InputError("curves", c.shape, f"needs (S, K, T) or (D, S, K, T) with S={n_s}, K={n_k}, T={t_m.size}")
    squeeze = c.ndim == 3
    if squeeze:
        c = c[None]
    n_d = c.shape[0]
    lead = (n_d, n_s, n_k)
    dc_rate = check_rate(discount_costs, "discount_costs")
    de_rate = check_rate(discount_effects, "discount_effects")
    cost = broadcast_param(
        check_costs(state_cost_per_month, "state_cost_per_month"),
        "state_cost_per_month",
        lead,
        "one per alive state",
    )
    util = broadcast_param(
        check_utilities(utilities_per_year, "utilities_per_year", allow_negative_utilities),
        "utilities_per_year",
        lead,
        "one per alive state",
    )
    one_off = broadcast_param(check_costs(one_off_cost, "one_off_cost"), "one_off_cost", lead[:2], "per strategy")
    eol = broadcast_param(
        check_costs(end_of_life_cost, "end_of_life_cost"), "end_of_life_cost", lead[:2], "per strategy"
    )
    occ = partitioned_occupancy(c)[..., :-1, :]  # (D, S, K, T) alive states
    t_y = t_m / 12.0
    w = counting_weights(t_y, counting)
    d_c = discount_factors(t_y, dc_rate, discount_method)
    d_e = discount_factors(t_y, de_rate, discount_method)
    ints = occ @ np.column_stack([w, w * d_c, w * d_e])  # (D, S, K, 3) years in each state
    os_curve = occ.sum(axis=-2)  # (D, S, T)
    mid = 0.5 * (t_y[1:] + t_y[:-1])
    deaths = -np.diff(os_curve, axis=-1) @ np.column_stack(
        [np.ones_like(mid), discount_factors(mid, dc_rate, discount_method)]
    )
    extra = {f"{s}_years_undiscounted": ints[..., k, 0] for k, s in enumerate(names)}
    res = DrawResults(
        strategies=[str(s) for s in strategies],
        cost=one_off + eol * deaths[..., 1] + 12.0 * (cost * ints[..., 1]).sum(-1),
        life_years=ints[..., 2].sum(-1),
        qalys=(util * ints[..., 2]).sum(-1),
        cost_undiscounted=one_off + eol * deaths[..., 0] + 12.0 * (cost * ints[..., 0]).sum(-1),
        life_years_undiscounted=ints[..., 0].sum(-1),
        qalys_undiscounted=(util * ints[..., 0]).sum(-1),
        extra=extra,
        attrs={
            "model": "partitioned_survival_nstate",
            "states": names,
            "currency": currency,
            "counting": counting if isinstance(counting, str) else "custom",
            "discount_method": discount_method,
            "discount_costs": dc_rate,
            "discount_effects": de_rate,
            "horizon_months": float(t_m[-1]),
        },
    )
    return res.draw(0) if squeeze else res
