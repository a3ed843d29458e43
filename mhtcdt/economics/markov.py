"""Markov cohort models, vectorised over PSA draws (no loop per draw; one loop over cycles).

Conventions (all explicit arguments)
------------------------------------
* The cohort trace is evaluated at the points t = 0, 1, ..., n (cycles); point t is the
  occupancy after t transitions.  Transition t (t = 1..n) uses the matrix of cycle t.
* ``counting`` gives a weight per point (in cycles, :func:`conventions.counting_weights`):
  ``"end"`` counts points 1..n (cycle 0 not counted; the textbook HIV model), ``"beginning"``
  points 0..n-1, ``"life_table"``/``"trapezoid"`` half-cycle correction, ``"simpson"``, or custom.
* ``state_costs`` are costs **per cycle** spent in a state (convert annual costs explicitly:
  ``annual * cycle_length_years``); ``utilities`` are annual QALY weights (QALYs accrue as
  utility x time in years).  Both broadcast (aligned from the right) to (D, n+1, S): shape (S,) is
  constant, (n+1, S) varies by cycle (row t = point t), (D, 1, S) varies by draw.  A mapping
  ``{category: array}`` of costs adds ``cost_<category>`` columns; a category given as
  :class:`CostCategory` has its own counting rule (e.g. drug costs at the start of each cycle).
* ``transition_costs`` (S, S) or (D, S, S): a one-off cost per patient moving from state i to j
  (off-diagonal; put entry costs in column j), counted at the time of the transition, not weighted
  by ``counting``.  ``initial_cost`` is paid at time 0 (e.g. the therapy course).
* Discount factors use the time of each point in years, t * cycle length (see conventions).
* Life-years = sum_t w_t d_e(t) * (share alive at t) * cycle length in years.

Transition specifications
-------------------------
``transitions`` is one of:
* an array (S, S) -- time-homogeneous; (D, S, S) with ``draws=True``;
* an array (C, S, S) with ``per_cycle=True`` (row c-1 = cycle c, C >= n); (D, C, S, S) with both;
* a callable ``f(cycle) -> (S, S) or (D, S, S)`` for cycle = 1..n (time-varying; e.g. age-dependent
  mortality), evaluated once per cycle for all draws.
Rows must sum to 1 within ``validation.PROBABILITY_ROW_TOLERANCE`` (1e-6) and be >= 0.

Outputs
-------
:class:`MarkovResult` with ``.results`` (per-strategy DataFrame, contract section 5, plus
``cost_<category>``, ``cost_transitions``, ``cost_initial`` columns) for one parameter set, or
``.draws`` (:class:`DrawResults`) when any input has a draw axis; ``.traces`` maps strategy ->
array (D, n+1, S); ``.trace_frame(strategy)`` gives a long DataFrame with columns ``cycle`` int64,
``time_years`` float64, ``state`` str, ``proportion`` float64 (mean over draws).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mhtcdt.economics.conventions import counting_weights, discount_factors, to_years
from mhtcdt.economics.results import DrawResults
from mhtcdt.economics.validation import (
    PROBABILITY_ROW_TOLERANCE,
    as_finite,
    broadcast_param,
    check_costs,
    check_probabilities,
    check_rate,
    check_transition_matrices,
    check_utilities,
)
from mhtcdt.errors import InputError

TransitionSpec = np.ndarray | Callable[[int], np.ndarray]


@dataclass(frozen=True)
class CostCategory:
    """A state-cost category with its own counting rule, e.g. drug acquisition paid at the start
    of each cycle (``counting="beginning"``) while care costs use the half-cycle correction:
    ``state_costs={"drug": CostCategory(drug, "beginning"), "care": care}``."""

    values: np.ndarray | float
    counting: str | Sequence[float] = "beginning"
    cycle_zero: str = "method"


@dataclass
class MarkovStrategy:
    """One strategy of a Markov model (see the module docstring for shapes and units)."""

    name: str
    transitions: TransitionSpec
    state_costs: np.ndarray | Mapping[str, np.ndarray] | float = 0.0
    utilities: np.ndarray | float = 0.0
    transition_costs: np.ndarray | None = None
    initial_cost: np.ndarray | float = 0.0
    per_cycle: bool = False
    draws: bool = False


@dataclass
class MarkovResult:
    """Result of :func:`run_markov`."""

    states: list[str]
    draws: DrawResults
    traces: dict[str, np.ndarray]
    cycle_length_years: float
    has_draw_axis: bool
    attrs: dict = field(default_factory=dict)

    @property
    def results(self) -> pd.DataFrame:
        """Per-strategy DataFrame (one parameter set), or means over draws."""
        return self.draws.draw(0) if not self.has_draw_axis else self.draws.summary()

    def trace_frame(self, strategy: str) -> pd.DataFrame:
        """Long DataFrame of the state occupancy (mean over draws): cycle, time_years, state, proportion."""
        if strategy not in self.traces:
            raise InputError("strategy", strategy, f"unknown strategy; use one of {list(self.traces)}")
        tr = self.traces[strategy].mean(axis=0)  # (n+1, S)
        n1, s = tr.shape
        cycles = np.repeat(np.arange(n1, dtype=np.int64), s)
        return pd.DataFrame(
            {
                "cycle": cycles,
                "time_years": cycles * self.cycle_length_years,
                "state": np.tile(np.array(self.states, dtype=object), n1),
                "proportion": tr.ravel(),
            }
        )


# ---------------------------------------------------------------------------------------------
# Rates and probabilities
# ---------------------------------------------------------------------------------------------


def rate_to_probability(rate, time: float = 1.0) -> np.ndarray:
    """p = 1 - exp(-rate * time) for a constant hazard ``rate`` (per unit of ``time``)."""
    r = as_finite(rate, "rate")
    if np.any(r < 0):
        raise InputError("rate", float(r.min()), "a rate must be >= 0")
    return -np.expm1(-r * time)


def probability_to_rate(probability, time: float = 1.0) -> np.ndarray:
    """rate = -ln(1 - p) / time."""
    p = check_probabilities(probability, "probability")
    if np.any(p >= 1):
        raise InputError("probability", 1.0, "a probability of 1 has no finite rate")
    return -np.log1p(-p) / time


def rescale_probability(probability, from_length: float, to_length: float) -> np.ndarray:
    """Probability over ``to_length`` from one over ``from_length`` assuming a constant hazard:
    1 - (1 - p) ** (to_length / from_length)."""
    p = check_probabilities(probability, "probability")
    if from_length <= 0 or to_length <= 0:
        raise InputError("from_length/to_length", (from_length, to_length), "lengths must be > 0")
    return 1.0 - (1.0 - p) ** (to_length / from_length)


def entry_cost_matrix(states: Sequence[str], entry_costs: Mapping[str, float]) -> np.ndarray:
    """Transition-cost matrix (S, S) charging ``entry_costs[state]`` on every move into ``state``
    from another state (for ``MarkovStrategy.transition_costs``)."""
    names = [str(s) for s in states]
    out = np.zeros((len(names), len(names)))
    for state, cost in entry_costs.items():
        if state not in names:
            raise InputError("entry_costs", state, f"unknown state; use one of {names}")
        value = float(check_costs(cost, f"entry_costs.{state}"))
        j = names.index(state)
        out[:, j] = value
        out[j, j] = 0.0
    return out


# ---------------------------------------------------------------------------------------------
# Tunnel states
# ---------------------------------------------------------------------------------------------


def expand_tunnel_states(
    states: Sequence[str],
    transitions: np.ndarray,
    state: str,
    length: int,
    position_rows: np.ndarray | None = None,
) -> tuple[list[str], np.ndarray]:
    """Replace ``state`` by a chain of ``length`` tunnel states ``state#1 .. state#length``.

    Entries into ``state`` go to ``state#1``; staying in ``state`` moves ``state#j`` to
    ``state#j+1``; ``state#length`` keeps its self-transition.  ``position_rows`` (length, S)
    optionally gives a different outgoing row (in the original state order; its column
    ``state`` is the stay/advance probability) for each position, e.g. a higher risk in the
    first cycle after an event.  ``transitions`` is (..., S, S), time-homogeneous.
    Returns the new state names and matrices (..., S + length - 1, S + length - 1).
    """
    names = [str(s) for s in states]
    if state not in names:
        raise InputError("state", state, f"unknown state; use one of {names}")
    if int(length) < 1:
        raise InputError("length", length, "a tunnel needs length >= 1")
    p = check_transition_matrices(transitions, "transitions", names)
    k = names.index(state)
    n = len(names)
    if position_rows is None:
        rows = np.broadcast_to(p[..., k, :], p.shape[:-2] + (length, n))
    else:
        pr = check_probabilities(position_rows, "position_rows")
        if pr.shape[-2:] != (length, n):
            raise InputError("position_rows", pr.shape, f"needs shape ({length}, {n})")
        sums = pr.sum(axis=-1)
        if np.any(np.abs(sums - 1.0) > PROBABILITY_ROW_TOLERANCE):
            bad = np.unravel_index(int(np.argmax(np.abs(sums - 1.0))), sums.shape)
            raise InputError(f"position_rows{list(map(int, bad))}", float(sums[bad]), "row does not sum to 1")
        rows = np.broadcast_to(pr, p.shape[:-2] + (length, n))
    others = [i for i in range(n) if i != k]
    new_names = [names[i] for i in range(k)] + [f"{state}#{j + 1}" for j in range(length)]
    new_names += [names[i] for i in range(k + 1, n)]
    m = n + length - 1
    idx_other = [i if i < k else i + length - 1 for i in others]  # new index of each other state
    out = np.zeros(p.shape[:-2] + (m, m))
    # rows of the other states: the column of `state` goes to state#1
    for i, ni in zip(others, idx_other, strict=True):
        out[..., ni, idx_other] = p[..., i, others]
        out[..., ni, k] = p[..., i, k]
    for j in range(length):
        r = k + j
        out[..., r, idx_other] = rows[..., j, others]
        nxt = k + min(j + 1, length - 1)
        out[..., r, nxt] += rows[..., j, k]
    return new_names, out


# ---------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------


def _transition_getter(spec: MarkovStrategy, n_states: int, n_cycles: int, states: list[str]):
    """Return (get(cycle) -> (S,S) or (D,S,S), n_draws or None), validating arrays once."""
    field_name = f"strategies[{spec.name}].transitions"
    if callable(spec.transitions):
        first = check_transition_matrices(spec.transitions(1), f"{field_name}(cycle=1)", states)

        def get(c: int) -> np.ndarray:
            # every matrix is checked when it is used, also the same array object returned again (its
            # contents may have changed in place since: no cache keyed on identity); cycle 1 reuses the
            # matrix fetched to learn the draw count, checked again in case it was modified meanwhile
            arr = first if c == 1 else spec.transitions(c)
            return check_transition_matrices(arr, f"{field_name}(cycle={c})", states)

        if first.ndim not in (2, 3):
            raise InputError(f"{field_name}(cycle=1)", first.shape, "a callable must return (S, S) or (D, S, S)")
        return get, (first.shape[0] if first.ndim == 3 else None)
    p = check_transition_matrices(spec.transitions, field_name, states)
    expected = 2 + int(spec.per_cycle) + int(spec.draws)
    if p.ndim != expected:
        raise InputError(
            field_name,
            p.shape,
            f"expected {expected} axes given per_cycle={spec.per_cycle}, draws={spec.draws} ((D,) (C,) S, S)",
        )
    n_draws = p.shape[0] if spec.draws else None
    if spec.per_cycle:
        n_c = p.shape[1] if spec.draws else p.shape[0]
        if n_c < n_cycles:
            raise InputError(field_name, p.shape, f"has {n_c} cycles of matrices, the horizon needs {n_cycles}")
        if spec.draws:
            return (lambda c: p[:, c - 1]), n_draws
        return (lambda c: p[c - 1]), n_draws
    return (lambda c: p), n_draws


def _step(x: np.ndarray, p: np.ndarray, out: np.ndarray) -> np.ndarray:
    """One transition: x (D, S) times p (S, S) or (D, S, S), written into ``out`` (D, S)."""
    if p.ndim == 2:
        return np.matmul(x, p, out=out)
    # batched vector-matrix product; einsum measured faster than batched matmul for small S
    return np.einsum("ds,dsk->dk", x, p, out=out)


class _TraceIntegrator:
    """sum_t weights_t sum_s trace[t, d, s] reward[d, t, s] for a trace (n+1, D, S).

    The weighted occupancy sum_t weights_t trace[t] (D, S) is computed once per weight vector and
    cached, so time-constant rewards cost O(D S); rewards varying by cycle, shape
    (1, n+1, S) or (D, n+1, S), are contracted directly."""

    def __init__(self, trace: np.ndarray) -> None:
        self.trace = trace
        self._cache: dict[bytes, np.ndarray] = {}

    def occupancy(self, weights: np.ndarray) -> np.ndarray:
        key = weights.tobytes()
        if key not in self._cache:
            # einsum, not a BLAS product: a (T,) x (T, D*S) gemv is slower under thread contention
            self._cache[key] = np.einsum("tds,t->ds", self.trace, weights)
        return self._cache[key]

    def sum(self, weights: np.ndarray, reward: np.ndarray) -> np.ndarray:
        if reward.ndim <= 1 or reward.shape[1] == 1:
            r = reward if reward.ndim <= 1 else reward[:, 0, :]
            return (self.occupancy(weights) * r).sum(axis=-1)
        if reward.shape[0] == 1:
            return np.einsum("tds,ts->d", self.trace, reward[0] * weights[:, None])
        return np.einsum("tds,dts->d", self.trace, reward * weights[None, :, None])


def run_markov(
    states: Sequence[str],
    strategies: Sequence[MarkovStrategy],
    start: Sequence[float] | np.ndarray,
    *,
    n_cycles: int | None = None,
    cycle_length: float = 1.0,
    cycle_unit: str = "years",
    dead_states: Sequence[str] = ("dead",),
    discount_costs: float = 0.035,
    discount_effects: float = 0.035,
    counting: str | Sequence[float] = "life_table",
    cycle_zero: str = "method",
    discount_method: str = "discrete",
    stop_when_alive_below: float | None = None,
    max_cycles: int = 10_000,
    allow_negative_utilities: bool = False,
    currency: str | None = None,
) -> MarkovResult:
    """Run a Markov cohort model for several strategies (see the module docstring).

    Parameters
    ----------
    states:
        State names (unique).
    strategies:
        One :class:`MarkovStrategy` per strategy.
    start:
        Initial distribution over states (S,) or per draw (D, S), summing to 1.
    n_cycles:
        Fixed horizon in cycles; or None with ``stop_when_alive_below`` (e.g. 1e-4): run until the
        share alive in every strategy and draw is below it (at most ``max_cycles``).
    cycle_length, cycle_unit:
        Cycle length, converted to years with :func:`conventions.to_years`.
    dead_states:
        Names of the states counted as dead (for life-years and stopping).
    counting, cycle_zero, discount_method:
        See :mod:`mhtcdt.economics.conventions` (``cycle_zero`` = "method", "count" or "skip").
    """
    names = [str(s) for s in states]
    if len(set(names)) != len(names):
        raise InputError("states", names, "state names must be unique")
    n_s = len(names)
    for d in dead_states:
        if d not in names:
            raise InputError("dead_states", d, f"unknown state; use one of {names}")
    alive_mask = np.array([s not in set(dead_states) for s in names])
    if not strategies:
        raise InputError("strategies", [], "needs at least one strategy")
    strat_names = [s.name for s in strategies]
    if len(set(strat_names)) != len(strat_names):
        raise InputError("strategies", strat_names, "strategy names must be unique")
    if cycle_length <= 0 or not np.isfinite(cycle_length):
        raise InputError("cycle_length", cycle_length, "must be > 0")
    cycle_years = float(to_years(float(cycle_length), cycle_unit))
    dc_rate = check_rate(discount_costs, "discount_costs")
    de_rate = check_rate(discount_effects, "discount_effects")
    x0 = check_probabilities(start, "start")
    if x0.shape[-1] != n_s or x0.ndim > 2:
        raise InputError("start", x0.shape, f"needs shape (S,) or (D, S) with S = {n_s}")
    if np.any(np.abs(x0.sum(axis=-1) - 1.0) > START_TOLERANCE):
        raise InputError("start", x0.tolist() if x0.ndim == 1 else x0.shape, "the start distribution must sum to 1")
    if n_cycles is None:
        if stop_when_alive_below is None:
            raise InputError("n_cycles", None, "give n_cycles or stop_when_alive_below")
        if not 0 < stop_when_alive_below < 1:
            raise InputError("stop_when_alive_below", stop_when_alive_below, "must be in (0, 1)")
        horizon = int(max_cycles)
    else:
        if int(n_cycles) != n_cycles or n_cycles < 1:
            raise InputError("n_cycles", n_cycles, "the horizon must be at least one whole cycle")
        horizon = int(n_cycles)

    getters = []
    n_draws = x0.shape[0] if x0.ndim == 2 else None
    for spec in strategies:
        get, nd = _transition_getter(spec, n_s, horizon if n_cycles is not None else 1, names)
        if spec.per_cycle and n_cycles is None:
            raise InputError(f"strategies[{spec.name}]", "per_cycle", "a per-cycle array needs a fixed n_cycles")
        getters.append(get)
        if nd is not None:
            if n_draws is not None and nd != n_draws:
                raise InputError(f"strategies[{spec.name}].transitions", nd, f"draw count differs ({n_draws})")
            n_draws = nd
    # draw axis may also come from rewards only: (D, 1|n+1, S) costs/utilities, (D,) initial cost,
    # (D, S, S) transition costs
    for spec in strategies:
        cats = spec.state_costs if isinstance(spec.state_costs, Mapping) else {"state": spec.state_costs}
        candidates = [(f"state_costs.{k}", v.values if isinstance(v, CostCategory) else v, 3) for k, v in cats.items()]
        candidates += [("utilities", spec.utilities, 3), ("initial_cost", spec.initial_cost, 1)]
        if spec.transition_costs is not None:
            candidates.append(("transition_costs", spec.transition_costs, 3))
        for label, value, ndim in candidates:
            shape = np.shape(value)
            if len(shape) == ndim and shape[0] > 1:
                if n_draws is not None and shape[0] != n_draws:
                    raise InputError(f"strategies[{spec.name}].{label}", shape, f"draw count differs from {n_draws}")
                n_draws = shape[0]
    has_draws = n_draws is not None
    n_d = n_draws or 1

    # --- traces: loop over cycles, all draws and strategies at once per cycle
    # trace buffers (n+1, D, S): a contiguous slab per cycle; grown in chunks when the horizon is open
    cap = horizon + 1 if n_cycles is not None else min(horizon + 1, 256)
    bufs = [np.empty((cap, n_d, n_s)) for _ in strategies]
    for buf in bufs:
        buf[0] = x0
    disc_flow = discount_factors(
        np.arange(horizon + 1) * cycle_years, dc_rate, discount_method, cycle_length_years=cycle_years
    )
    flows_cost = [np.zeros(n_d) for _ in strategies]  # discounted transition costs
    flows_cost_u = [np.zeros(n_d) for _ in strategies]
    tcosts = []
    for spec in strategies:
        if spec.transition_costs is None:
            tcosts.append(None)
        else:
            tc = check_costs(spec.transition_costs, f"strategies[{spec.name}].transition_costs")
            tcosts.append(
                broadcast_param(
                    tc,
                    f"strategies[{spec.name}].transition_costs",
                    tc.shape[:-2] + (n_s, n_s),
                    "(S, S) or (D, S, S)",
                )
            )
    n_done = 0
    for c in range(1, horizon + 1):
        disc_c = float(disc_flow[c])
        if c >= bufs[0].shape[0]:
            bufs = [np.concatenate([b, np.empty_like(b)], axis=0) for b in bufs]
        for k, get in enumerate(getters):
            x_prev = bufs[k][c - 1]
            p = get(c)
            if p.ndim == 3 and p.shape[0] != n_d:
                raise InputError(f"strategies[{strategies[k].name}].transitions", p.shape, f"needs {n_d} draws")
            if tcosts[k] is not None:
                per_source = (p * tcosts[k]).sum(axis=-1)  # (S,) or (D, S): expected cost leaving each state
                cost_c = (x_prev * per_source).sum(axis=-1)
                flows_cost[k] = flows_cost[k] + disc_c * cost_c
                flows_cost_u[k] = flows_cost_u[k] + cost_c
            _step(x_prev, p, bufs[k][c])
        n_done = c
        if n_cycles is None:
            alive = max(float(b[c][:, alive_mask].sum(axis=-1).max()) for b in bufs)
            if alive < stop_when_alive_below and (counting != "simpson" or c % 2 == 0):
                break
    else:
        if n_cycles is None:
            raise InputError("max_cycles", max_cycles, "the cohort was still alive at max_cycles; raise it")

    times_cycles = np.arange(n_done + 1, dtype=float)
    w = counting_weights(times_cycles, counting, cycle_zero)  # in cycles
    t_years = times_cycles * cycle_years
    d_c = discount_factors(t_years, dc_rate, discount_method, cycle_length_years=cycle_years)
    d_e = discount_factors(t_years, de_rate, discount_method, cycle_length_years=cycle_years)
    shape = (n_d, n_done + 1, n_s)

    out = {
        k: np.zeros((n_d, len(strategies)))
        for k in (
            "cost",
            "life_years",
            "qalys",
            "cost_undiscounted",
            "life_years_undiscounted",
            "qalys_undiscounted",
        )
    }
    by_cat: dict[str, np.ndarray] = {}
    traces: dict[str, np.ndarray] = {}
    for k, spec in enumerate(strategies):
        tr = bufs[k][: n_done + 1]  # (n+1, D, S)
        _check_trace(tr, f"strategies[{spec.name}]", names)
        traces[spec.name] = tr.transpose(1, 0, 2)  # (D, n+1, S) view
        integ = _TraceIntegrator(tr)
        alive = tr @ alive_mask.astype(float)  # (n+1, D)
        out["life_years"][:, k] = (w * d_e) @ alive * cycle_years
        out["life_years_undiscounted"][:, k] = w @ alive * cycle_years
        u = check_utilities(spec.utilities, f"strategies[{spec.name}].utilities", allow_negative_utilities)
        u = _reward_array(u, f"strategies[{spec.name}].utilities", shape)
        out["qalys"][:, k] = integ.sum(w * d_e, u) * cycle_years
        out["qalys_undiscounted"][:, k] = integ.sum(w, u) * cycle_years
        cats = spec.state_costs if isinstance(spec.state_costs, Mapping) else {"state": spec.state_costs}
        init = broadcast_param(
            check_costs(spec.initial_cost, f"strategies[{spec.name}].initial_cost"),
            f"strategies[{spec.name}].initial_cost",
            (n_d,),
            "scalar or (D,)",
        )
        total = init + flows_cost[k]
        total_u = init + flows_cost_u[k]
        for cat, spec_values in cats.items():
            fld = f"strategies[{spec.name}].state_costs" + ("" if cat == "state" else f".{cat}")
            values, w_cat = spec_values, w
            if isinstance(spec_values, CostCategory):  # category with its own counting rule
                values = spec_values.values
                w_cat = counting_weights(times_cycles, spec_values.counting, spec_values.cycle_zero)
            cst = _reward_array(check_costs(values, fld), fld, shape)
            disc = integ.sum(w_cat * d_c, cst)
            total = total + disc
            total_u = total_u + integ.sum(w_cat, cst)
            if isinstance(spec.state_costs, Mapping):
                by_cat.setdefault(cat, np.zeros((n_d, len(strategies))))[:, k] = disc
        by_cat.setdefault("transitions", np.zeros((n_d, len(strategies))))[:, k] = flows_cost[k]
        by_cat.setdefault("initial", np.zeros((n_d, len(strategies))))[:, k] = init
        out["cost"][:, k] = total
        out["cost_undiscounted"][:, k] = total_u

    draws = DrawResults(
        strategies=strat_names,
        **out,
        cost_by_category=by_cat,
        attrs={
            "model": "markov",
            "currency": currency,
            "counting": counting if isinstance(counting, str) else "custom",
            "discount_method": discount_method,
            "discount_costs": dc_rate,
            "discount_effects": de_rate,
            "cycle_length_years": cycle_years,
            "n_cycles": n_done,
        },
    )
    return MarkovResult(names, draws, traces, cycle_years, has_draws, attrs=dict(draws.attrs))


START_TOLERANCE = 1e-6
"""Absolute tolerance on |sum of the start distribution - 1|."""


def _check_trace(trace: np.ndarray, field: str, states: list[str]) -> None:
    """Every row of a cohort trace (n+1, D, S) is a distribution: it sums to 1 within the drift the
    tolerances allow (start within START_TOLERANCE, each transition's rows within
    PROBABILITY_ROW_TOLERANCE, so after t cycles (1 + tol)^t - 1, plus round-off). A second line of
    defence behind the matrix checks: an InputError naming the cycle and draw, never a silent trace."""
    n1, n_d, n_s = trace.shape
    sums = trace.reshape(-1, n_s).dot(np.ones(n_s)).reshape(n1, n_d)  # 2-D dot: one BLAS gemv
    t = np.arange(n1, dtype=float)[:, None]
    allowed = START_TOLERANCE + np.expm1(t * np.log1p(PROBABILITY_ROW_TOLERANCE)) + 1e-12 * (t + 1.0)
    off = np.abs(sums - 1.0) > allowed
    if off.any():
        c, d = (int(i) for i in np.unravel_index(int(np.argmax(off)), off.shape))
        raise InputError(
            f"{field}.trace[cycle={c}, draw={d}]",
            float(sums[c, d]),
            f"the cohort over {states} sums to {float(sums[c, d]):.9g}, not 1: a transition matrix lost or "
            "created patients",
        )


def _reward_array(values: np.ndarray, fld: str, shape: tuple[int, int, int]) -> np.ndarray:
    """Validate broadcasting of a state reward to (D, n+1, S); keep the compact shape."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim > 3:
        raise InputError(fld, arr.shape, "at most (D, n+1, S)")
    broadcast_param(arr, fld, shape, "(S,), (n+1, S), (D, 1, S) or (D, n+1, S)")
    if arr.ndim == 0:
        return np.full(shape[-1], float(arr))
    if arr.ndim == 2:
        return arr[None]
    return arr
