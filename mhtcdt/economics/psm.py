"""Partitioned survival models (PSM): one engine, vectorised over PSA draws x strategies x time.

Input data (:class:`SurvivalCurves`): K nested survival curves S_1 <= S_2 <= ... <= S_K on a time
grid in months, per strategy and (optionally) per draw; S_K is overall survival (OS). They partition
the cohort into K alive states and death: state k holds S_k - S_{k-1} (S_0 = 0), dead 1 - S_K. The
usual three-state model is K = 2 (PFS, OS): progression-free PF = PFS, progressed PD = OS - PFS. A
curve above a later one is capped at it (running minimum from OS down), with a CurveCrossingWarning.

Parameters (:class:`~mhtcdt.economics.values.StateValues`) and conventions
(:class:`~mhtcdt.economics.conventions.Conventions`) as for the Markov engine. Time integrals use
the counting weights of the conventions on the grid (time converted from months to years with
1 month = 1/12 year) and discount factors at each point:

* life-years   = sum_t w_t d_e(t) OS(t)
* QALYs        = sum_t w_t d_e(t) sum_k u_k state_k(t)                   (utilities per year)
* state costs  = sum_t w_t d_c(t) sum_k c_k state_k(t)                   (costs per year, unit rule)
* one-off cost at t = 0 (undiscounted), e.g. the therapy course;
* end-of-life cost on the deaths of each interval, OS(t_{i-1}) - OS(t_i), discounted at the
  interval midpoint.

With ``counting="cycle_average"`` the weights apply to the interval means (S(t_{i-1}) + S(t_i)) / 2
(heemod's life-table method, see :mod:`~mhtcdt.economics.conventions`).

Returns :class:`~mhtcdt.economics.results.DrawResults` with (D, S) arrays for every draw; one
parameter set is the case D = 1 (``.draw(0)`` is its per-strategy DataFrame, contract section 5).
Extra float64 columns: ``<state>_years`` (discounted at the effects rate) and
``<state>_years_undiscounted`` for each alive state, ``cost_one_off``, ``cost_end_of_life`` and
``cost_<category>`` for categorised state costs (all discounted).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mhtcdt.economics.conventions import Conventions, check_time_grid, discount_factors
from mhtcdt.economics.results import DrawResults
from mhtcdt.economics.survival import NestedWeibull
from mhtcdt.economics.validation import as_finite, broadcast_param
from mhtcdt.economics.values import CostCategory, StateValues
from mhtcdt.errors import InputError

MONOTONE_TOLERANCE = 1e-9
CHUNK_ELEMENTS = 1 << 16  # curve values per block of draws (~0.5 MB per array, cache-sized)
CROSSING_TOLERANCE = 1e-9


class CurveCrossingWarning(UserWarning):
    """A partitioning curve (e.g. PFS) lies above the next one (OS) somewhere; it was capped there."""


CurveFunction = Callable[[int, int], Sequence[np.ndarray]]


@dataclass(frozen=True)
class SurvivalCurves:
    """Input data of a partitioned survival model (see the module docstring).

    Attributes
    ----------
    strategies:
        S unique names.
    time_months:
        Grid (T,) in months starting at 0 (uniform for ``counting="simpson"``).
    curves:
        K survival curves, each (S, T) (one parameter set) or (D, S, T) (PSA draws), nested
        S_1 <= ... <= S_K = OS; e.g. ``(pfs, os)``. Values in [0, 1], non-increasing over time
        (checked by the engine, block by block). Or a function ``curves(start, stop)`` returning the K
        curves of draws ``start .. stop - 1``, each (stop - start, S, T), with ``n_draws`` = D: the engine
        evaluates it block by block (a few hundred draws at a time), so the (D, S, T) curves of a large
        PSA are never held at once (e.g. parametric curves from coefficient draws, see
        :mod:`mhtcdt.economics.survival`). It is called once at construction for draw 0 (to learn K).
        Or a :class:`~mhtcdt.economics.survival.NestedWeibull` (the K curves by their Weibull coefficients,
        (S,) or (D, S) each; D from them): the engine evaluates it block by block, and its values need no
        check (valid and nested in closed form, proved on the coefficients when it was built).
    states:
        Names of the K alive states (default ``("pf", "progressed")`` for K = 2).
    curve_names:
        Names of the K curves in messages (default ``("PFS", "OS")`` for K = 2).
    n_draws:
        D when ``curves`` is a function (None for arrays: D comes from their shape).
    """

    strategies: Sequence[str]
    time_months: Sequence[float] | np.ndarray
    curves: Sequence[np.ndarray] | CurveFunction
    states: Sequence[str] = ("pf", "progressed")
    curve_names: Sequence[str] | None = None
    n_draws: int | None = None
    n_curves: int = field(init=False, default=0)  # K, set from the curves

    def __post_init__(self) -> None:
        names = tuple(str(s) for s in self.strategies)
        if len(set(names)) != len(names):
            raise InputError("strategies", list(names), "strategy names must be unique")
        t = check_time_grid(self.time_months, "time_months")
        if isinstance(self.curves, NestedWeibull):
            if self.curves.n_strategies != len(names):
                raise InputError("curves", self.curves.n_strategies, f"needs coefficients of {len(names)} strategies")
            if self.n_draws is not None:
                raise InputError("n_draws", self.n_draws, "a NestedWeibull gives the number of draws itself")
            object.__setattr__(self, "n_draws", self.curves.n_draws or 1)
            arrays = (None,) * self.curves.n_curves  # K, evaluated block by block by the engine
        elif callable(self.curves):
            if self.n_draws is None or int(self.n_draws) != self.n_draws or self.n_draws < 1:
                raise InputError("n_draws", self.n_draws, "a curve function needs the number of draws (an int >= 1)")
            object.__setattr__(self, "n_draws", int(self.n_draws))
            arrays = _evaluated(self.curves, 0, 1, len(names), t.size)
        else:
            if isinstance(self.curves, np.ndarray) or len(self.curves) == 0:
                raise InputError(
                    "curves", type(self.curves).__name__, "give a sequence of K >= 1 arrays, e.g. (pfs, os)"
                )
            if self.n_draws is not None:
                raise InputError("n_draws", self.n_draws, "give n_draws only with a curve function")
            arrays = tuple(np.asarray(c, dtype=float) for c in self.curves)  # finiteness: checked by the engine
            _check_shapes(arrays, len(names), t.size)
            object.__setattr__(self, "curves", arrays)
            object.__setattr__(self, "n_draws", arrays[0].shape[0] if arrays[0].ndim == 3 else 1)
        states = tuple(str(s) for s in self.states)
        if len(states) != len(arrays) or len(set(states)) != len(states):
            raise InputError("states", list(states), f"needs {len(arrays)} unique names (one per curve)")
        labels = self.curve_names
        if labels is None:
            labels = ("PFS", "OS") if len(arrays) == 2 else tuple(f"S_{k + 1}" for k in range(len(arrays)))
        if len(labels) != len(arrays):
            raise InputError("curve_names", list(labels), f"needs {len(arrays)} names")
        object.__setattr__(self, "strategies", names)
        object.__setattr__(self, "time_months", t)
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "curve_names", tuple(str(x) for x in labels))
        object.__setattr__(self, "n_curves", len(arrays))

    @property
    def has_draw_axis(self) -> bool:
        """True if the curves are given per draw, (D, S, T) or by a function of the draws."""
        if isinstance(self.curves, NestedWeibull):
            return self.curves.n_draws is not None
        return callable(self.curves) or self.curves[0].ndim == 3

    @property
    def valid_by_construction(self) -> bool:
        """True if the curves are in [0, 1], non-increasing and nested in closed form (a NestedWeibull), so
        their evaluated values need no check."""
        return isinstance(self.curves, NestedWeibull)

    def block(self, start: int, stop: int) -> tuple[np.ndarray, ...]:
        """The K curves of draws ``start .. stop - 1``, each (stop - start, S, T) ((1, S, T) without a draw
        axis, whatever the range)."""
        if isinstance(self.curves, NestedWeibull):
            return self.curves.evaluate(self.time_months, start, stop)
        if callable(self.curves):
            return _evaluated(self.curves, start, stop, len(self.strategies), self.time_months.size, self.n_curves)
        if not self.has_draw_axis:
            return tuple(c[None] for c in self.curves)
        return tuple(c[start:stop] for c in self.curves)


def _check_shapes(arrays: Sequence[np.ndarray], n_s: int, n_t: int, n_rows: int | None = None) -> None:
    """K arrays of one shape, (S, T) or (D, S, T) (``n_rows`` draws when given)."""
    shape = arrays[0].shape
    wanted = "(S, T) or (D, S, T)" if n_rows is None else f"({n_rows}, S, T)"
    ok = arrays[0].ndim in (2, 3) if n_rows is None else shape[:1] == (n_rows,) and arrays[0].ndim == 3
    if not ok or shape[-2:] != (n_s, n_t):
        raise InputError("curves[0]", shape, f"needs shape {wanted} with S = {n_s} strategies and T = {n_t} times")
    for k, arr in enumerate(arrays[1:], start=1):
        if arr.shape != shape:
            raise InputError(f"curves[{k}]", arr.shape, f"must have the shape of curves[0] {shape}")


def _evaluated(
    fn: CurveFunction, start: int, stop: int, n_s: int, n_t: int, n_k: int | None = None
) -> tuple[np.ndarray, ...]:
    """The K curves a curve function returns for draws ``start .. stop - 1``, shapes checked."""
    got = fn(start, stop)
    if isinstance(got, np.ndarray) or len(got) == 0 or (n_k is not None and len(got) != n_k):
        raise InputError(
            f"curves({start}, {stop})", type(got).__name__, f"must return a sequence of {n_k or 'K >= 1'} arrays"
        )
    arrays = tuple(np.asarray(c, dtype=float) for c in got)
    _check_shapes(arrays, n_s, n_t, stop - start)
    return arrays


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
    # the steps in one pass (np.diff writes them, max reads them; no NaN is left after the range check)
    steps = np.diff(curve, axis=-1)
    if steps.size and steps.max() > MONOTONE_TOLERANCE:
        rise = steps > MONOTONE_TOLERANCE
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(rise)), rise.shape))
        nxt = idx[:-1] + (idx[-1] + 1,)
        raise InputError(
            f"{field}{_where(nxt, offset)}",
            float(curve[nxt]),
            f"survival increases over time (previous {float(curve[idx]):.6g})",
        )


def _curve_ok(curve: np.ndarray, falls: np.ndarray) -> bool:
    """True if ``curve`` (B, S, T) is in [0, 1] and non-increasing (what :func:`_check_curve` checks), by one
    comparison pass: every point is <= the one before (written into the boolean buffer ``falls``
    (B, S, T-1); NaN compares false), so each curve's largest value is its first and its smallest its last,
    and those columns are in [0, 1]. False (then :func:`_check_curve` decides and names the first bad value)
    when a point rises, even within MONOTONE_TOLERANCE. A comparison reads the curve once and writes a
    byte per point, where the steps' subtraction and maximum write and read eight (17 % of a Weibull PSA
    against 4 % measured: the curves and their steps do not fit in L2 together)."""
    if not np.less_equal(curve[..., 1:], curve[..., :-1], out=falls).all():
        return False
    return bool(curve[..., 0].max() <= 1.0 and curve[..., -1].min() >= 0.0)


def _where(idx: tuple[int, ...], offset: int | None) -> str:
    if offset is None:
        return str(list(idx[1:]) if len(idx) == 3 else list(idx))
    return str([idx[0] + offset, *idx[1:]])


def _cap(lower: np.ndarray, upper: np.ndarray, names: tuple[str, str], below: np.ndarray | None = None) -> np.ndarray:
    """min(lower, upper), with a CurveCrossingWarning if ``lower`` exceeds ``upper`` beyond CROSSING_TOLERANCE.

    ``lower`` itself (no copy) when it is nowhere above ``upper``, the usual case: one comparison pass (into
    ``below`` when given, a boolean buffer of their shape) and a reduction instead of a minimum, a comparison
    and a reduction over the curves."""
    if np.less_equal(lower, upper, out=below).all():
        return lower
    excess = np.subtract(lower, upper)
    worst = excess.max(initial=-np.inf)
    if not worst > 0.0:
        return lower
    capped = np.minimum(lower, upper)
    if worst > CROSSING_TOLERANCE:
        n_cross = int(np.count_nonzero(excess > CROSSING_TOLERANCE))
        lo, hi = names
        warnings.warn(
            f"{lo} above {hi} at {n_cross} point(s) (largest excess {float(excess.max()):.4g}); "
            f"{lo} capped at {hi} there (a nested state cannot outlast the next curve)",
            CurveCrossingWarning,
            stacklevel=4,
        )
    return capped


def partitioned_occupancy(curves: np.ndarray, *, warn: bool = True) -> np.ndarray:
    """State occupancy from nested curves (..., K, T) with S_1 <= ... <= S_K (S_K = overall survival).

    Returns (..., K + 1, T): alive states 1..K then dead. A curve above a later one is capped at it
    (running minimum from the last curve backwards, as the engine does), with a CurveCrossingWarning.
    """
    c = as_finite(curves, "curves")
    if c.ndim < 2:
        raise InputError("curves", c.shape, "needs shape (..., K, T)")
    _check_curve(c, "curves")
    capped = np.empty_like(c)
    capped[..., -1, :] = c[..., -1, :]
    for k in range(c.shape[-2] - 2, -1, -1):
        if warn:
            capped[..., k, :] = _cap(c[..., k, :], capped[..., k + 1, :], (f"curve {k + 1}", f"curve {k + 2}"))
        else:
            capped[..., k, :] = np.minimum(c[..., k, :], capped[..., k + 1, :])
    lower = np.concatenate([np.zeros_like(capped[..., :1, :]), capped[..., :-1, :]], axis=-2)
    return np.concatenate([capped - lower, 1.0 - capped[..., -1:, :]], axis=-2)


def _time_weights(t_y: np.ndarray, conventions: Conventions) -> tuple[np.ndarray, np.ndarray]:
    """Weights (T, 3) (years: undiscounted, costs-, effects-discounted) for integrals of a curve, and
    (T, 2) for its deaths (undiscounted, discounted at interval midpoints), both linear functionals."""
    w = conventions.weights(t_y)  # years
    d_c = discount_factors(t_y, conventions.discount_costs, conventions.discount_method)
    d_e = discount_factors(t_y, conventions.discount_effects, conventions.discount_method)
    weights = np.column_stack([w, w * d_c, w * d_e])
    if conventions.counting == "cycle_average":
        # sum_i u_i (S_{i-1} + S_i) / 2 = sum_j S_j (u_j + u_{j+1}) / 2 (u_0 = 0 and u_{T} = 0)
        shifted = np.zeros_like(weights)
        shifted[:-1] = weights[1:]
        weights = 0.5 * (weights + shifted)
    # Deaths in interval i, S(t_{i-1}) - S(t_i), weighted by m_i (discount at its midpoint), summed
    # over i, equal sum_i S(t_i) v_i with v_0 = m_1, v_i = m_{i+1} - m_i, v_{T-1} = -m_{T-1}
    # (summation by parts): the deaths are a linear functional of OS as well, one matmul each.
    mid = 0.5 * (t_y[1:] + t_y[:-1])
    v = np.zeros((t_y.size, 2))
    mid_discount = discount_factors(mid, conventions.discount_costs, conventions.discount_method)
    for j, m in enumerate((np.ones_like(mid), mid_discount)):
        v[0, j] = m[0]
        v[1:-1, j] = m[1:] - m[:-1]
        v[-1, j] = -m[-1]
    return weights, v


def _integrate(curves: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
    """out (m, S, W) = curves (m, S, T) @ weights (T, W), as one (m S, T) x (T, W) product: one BLAS call,
    where the stacked product calls it once per draw (66 us against 155 us for (90, 3, 241) x (241, 5),
    measured on this machine with one thread)."""
    flat = curves.reshape(-1, curves.shape[-1])
    if out.flags.c_contiguous:
        np.matmul(flat, weights, out=out.reshape(-1, weights.shape[1]))
    else:  # pragma: no cover - the engine's outputs are C-contiguous blocks of draws
        out[...] = (flat @ weights).reshape(out.shape)


def _curve_integrals(data: SurvivalCurves, weights: np.ndarray, deaths: np.ndarray) -> list[np.ndarray]:
    """Integrals of the capped curves: K - 1 arrays (D, S, 3) and, last, OS with its deaths (D, S, 5).

    The curves are evaluated (a curve function, or a NestedWeibull), checked and integrated in blocks of
    draws small enough to stay in cache (a loop over blocks, not over draws). Curves valid by construction
    (:attr:`SurvivalCurves.valid_by_construction`) skip the value checks and the capping: their range,
    monotonicity and nesting were proved on the coefficients, once."""
    n_d, n_s, n_t = data.n_draws, len(data.strategies), data.time_months.size
    n_k = data.n_curves
    names = data.curve_names
    os_weights = np.column_stack([weights, deaths])  # (T, 5)
    out = [np.empty((n_d, n_s, 3)) for _ in range(n_k - 1)] + [np.empty((n_d, n_s, 5))]
    step = max(1, CHUNK_ELEMENTS // (n_s * n_t))
    offset = None if not data.has_draw_axis else 0
    valid = data.valid_by_construction
    if valid:  # S(0) = 1: the curves after 0 integrated, plus the weights at 0
        after_os, after = os_weights[1:], weights[1:]
        for a in range(0, n_d, step):
            b = min(n_d, a + step)
            blocks = data.curves.after_zero(data.time_months, a, b)
            _integrate(blocks[-1], after_os, out[-1][a:b])
            out[-1][a:b] += os_weights[0]
            for k in range(n_k - 1):
                _integrate(blocks[k], after, out[k][a:b])
                out[k][a:b] += weights[0]
        return out
    falls = np.empty((min(step, n_d), n_s, max(n_t - 1, 0)), dtype=bool)  # buffers reused by every block
    below = np.empty((min(step, n_d), n_s, n_t), dtype=bool)
    for a in range(0, n_d, step):
        b = min(n_d, a + step)
        blocks = data.block(a, b)
        m = blocks[0].shape[0]  # b - a, or 1 for curves without a draw axis
        for k, block in enumerate(blocks):
            if not _curve_ok(block, falls[:m]):
                _check_curve(block, f"curves.{names[k]}", offset=None if offset is None else a)
        capped = blocks[-1]
        _integrate(capped, os_weights, out[-1][a:b])
        for k in range(n_k - 2, -1, -1):
            capped = _cap(blocks[k], capped, (names[k], names[k + 1]), below[:m])
            _integrate(capped, weights, out[k][a:b])
    return out


def _state_value(value: np.ndarray, field: str, lead: tuple[int, ...], n_k: int) -> np.ndarray:
    if value.ndim > 0 and value.shape[-1] != n_k:
        raise InputError(field, value.shape, f"needs one value per alive state as the last axis (length {n_k})")
    return broadcast_param(value, field, lead + (n_k,), "per state [per strategy [per draw]]")


def run_partitioned_survival(
    data: SurvivalCurves, values: StateValues, conventions: Conventions | None = None
) -> DrawResults:
    """Partitioned survival model of every strategy and draw at once (see the module docstring).

    Parameters
    ----------
    data:
        The survival curves (:class:`SurvivalCurves`), (S, T) or (D, S, T) each.
    values:
        State costs (per ``values.costs_per``) and utilities (per year) broadcasting to (D, S, K),
        e.g. shape (K,), (S, K) or (D, 1, K); ``one_off_cost`` and ``end_of_life_cost`` broadcasting to
        (D, S). No ``transition_costs`` (a PSM has no transitions), no per-category counting.
    conventions:
        Discounting and counting (default :class:`Conventions`\\ ()); ``cycle_length`` only converts
        costs given per cycle.

    Returns
    -------
    :class:`DrawResults` with (D, S) arrays (D = 1 for curves without a draw axis: ``.draw(0)`` is the
    per-strategy DataFrame); conventions in ``attrs``.
    """
    conv = Conventions() if conventions is None else conventions
    if values.transition_costs is not None:
        raise InputError("values.transition_costs", "given", "a partitioned survival model has no transitions")
    n_k = data.n_curves
    lead = (data.n_draws, len(data.strategies))
    factor = values.cost_factor("years", conv.cycle_length_years)
    categories = {}
    for name, cost in values.categories().items():
        fld = "values.costs" if not values.categorised else f"values.costs.{name}"
        if isinstance(cost, CostCategory):
            raise InputError(fld, "CostCategory", "per-category counting is a Markov-model option")
        categories[name] = factor * _state_value(cost, fld, lead, n_k)  # cost per year
    u = _state_value(values.utilities, "values.utilities", lead, n_k)
    one_off = broadcast_param(values.one_off_cost, "values.one_off_cost", lead, "per strategy [per draw]")
    eol = broadcast_param(values.end_of_life_cost, "values.end_of_life_cost", lead, "per strategy [per draw]")

    t_y = data.time_months / 12.0
    weights, deaths_weights = _time_weights(t_y, conv)
    integrals = _curve_integrals(data, weights, deaths_weights)
    life = integrals[-1][..., :3]
    deaths = integrals[-1][..., 3:]  # (D, S, 2): deaths undiscounted, discounted
    # years in each state (D, S, 3): state k = curve k - curve k-1 (PD = OS - PF is never integrated)
    bounds = integrals[:-1] + [life]
    years = [bounds[0]] + [bounds[k] - bounds[k - 1] for k in range(1, n_k)]

    cost_disc = one_off + eol * deaths[..., 1]
    cost_undisc = one_off + eol * deaths[..., 0]
    by_category = {}
    for name, c_year in categories.items():
        disc = c_year[..., 0] * years[0][..., 1]
        for k in range(1, n_k):
            disc = disc + c_year[..., k] * years[k][..., 1]
        by_category[name] = disc
        cost_disc = cost_disc + disc
        for k in range(n_k):
            cost_undisc = cost_undisc + c_year[..., k] * years[k][..., 0]
    if not values.categorised:
        by_category = {}
    # a one-off cost without a draw axis stays a read-only view of one row per strategy (no memory per draw)
    by_category["one_off"] = np.broadcast_to(np.array(values.one_off_cost, dtype=float, copy=True), lead)
    by_category["end_of_life"] = eol * deaths[..., 1]
    qaly_disc = u[..., 0] * years[0][..., 2]
    qaly_undisc = u[..., 0] * years[0][..., 0]
    for k in range(1, n_k):
        qaly_disc = qaly_disc + u[..., k] * years[k][..., 2]
        qaly_undisc = qaly_undisc + u[..., k] * years[k][..., 0]
    extra = {f"{s}_years": years[k][..., 2] for k, s in enumerate(data.states)}
    extra.update({f"{s}_years_undiscounted": years[k][..., 0] for k, s in enumerate(data.states)})
    return DrawResults(
        strategies=list(data.strategies),
        cost=cost_disc,
        life_years=life[..., 2],
        qalys=qaly_disc,
        cost_undiscounted=cost_undisc,
        life_years_undiscounted=life[..., 0],
        qalys_undiscounted=qaly_undisc,
        cost_by_category=by_category,
        extra=extra,
        attrs={
            "model": "partitioned_survival",
            "states": list(data.states),
            **conv.attrs(),
            "horizon_months": float(data.time_months[-1]),
        },
    )
