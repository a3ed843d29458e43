"""Markov cohort models, vectorised over PSA draws (no loop per draw; one loop over cycles).

Model = states + strategies + start (input data), each strategy a transition specification plus its
:class:`~mhtcdt.economics.values.StateValues` (parameters); the conventions
(:class:`~mhtcdt.economics.conventions.Conventions`: counting, discounting, cycle length) are one
argument. The same objects drive :func:`mhtcdt.economics.run_partitioned_survival`.

Conventions
-----------
* The cohort trace is evaluated at the points t = 0, 1, ..., n (cycles); point t is the
  occupancy after t transitions.  Transition t (t = 1..n) uses the matrix of cycle t.
* ``counting`` gives a weight per point (in cycles, :func:`conventions.counting_weights`):
  ``"end"`` counts points 1..n (cycle 0 not counted; the textbook HIV model), ``"beginning"``
  points 0..n-1, ``"life_table"``/``"trapezoid"`` half-cycle correction, ``"simpson"``,
  ``"cycle_average"`` (heemod's life-table method: cycle k counts (x_{k-1} + x_k) / 2 with the values
  and one discount factor of cycle k), or custom.
* State values broadcast (aligned from the right) to (D, n+1, S): shape (S,) is constant, (n+1, S)
  varies by cycle (row t = point t), (D, 1, S) varies by draw. State costs are rates, converted to
  costs per cycle by the unit rule of :mod:`mhtcdt.economics.values` (``costs_per="cycle"`` is used
  as given); utilities are QALY weights per year (QALYs accrue as utility x time in years). A
  mapping ``{category: array}`` of costs adds ``cost_<category>`` columns; a category given as
  :class:`~mhtcdt.economics.values.CostCategory` has its own counting rule.
* ``transition_costs`` (S, S) or (D, S, S): a one-off cost per patient moving from state i to j
  (off-diagonal; put entry costs in column j), counted at the time of the transition, not weighted
  by ``counting``; ``end_of_life_cost`` is charged the same way on every move from an alive into a
  dead state.  ``one_off_cost`` is paid at time 0 (e.g. the therapy course).
* Discount factors use the time of each point in years, t * cycle length (see conventions).
* Life-years = sum_t w_t d_e(t) * (share alive at t) * cycle length in years.

Transition specifications
-------------------------
``transitions`` is one of:
* an array (S, S) -- time-homogeneous; (D, S, S) with ``draws=True``;
* an array (C, S, S) with ``per_cycle=True`` (row c-1 = cycle c, C >= n); (D, C, S, S) with both;
* a callable ``f(cycle) -> (S, S) or (D, S, S)`` for cycle = 1..n (time-varying; e.g. age-dependent
  mortality from :class:`~mhtcdt.economics.lifetables.LifeTable`), evaluated once per cycle for all
  draws.
Rows must sum to 1 within ``validation.PROBABILITY_ROW_TOLERANCE`` (1e-6) and be >= 0. Every matrix
is checked when it is used (also an array object a callable returns again: it may have been changed
in place), and every row of every trace must sum to 1.

Outputs
-------
:class:`MarkovResult` with ``.results`` (per-strategy DataFrame, contract section 5, plus
``cost_<category>``, ``cost_transitions``, ``cost_end_of_life``, ``cost_one_off`` columns) for one
parameter set, or ``.draws`` (:class:`DrawResults`) when any input has a draw axis; ``.traces`` maps
strategy -> array (D, n+1, S) when the per-draw traces were kept (``keep_traces``: by default when
they take at most TRACE_KEEP_BYTES), ``.mean_traces`` strategy -> (n+1, S) always;
``.trace_frame(strategy)`` gives a long DataFrame with columns ``cycle`` int64, ``time_years``
float64, ``state`` str, ``proportion`` float64 (mean over draws).

Scale: with a fixed horizon the draws run in blocks (:mod:`.markov_trace`), so time and memory per
draw stay flat as D grows; a large PSA is best sampled, built and run block by block with
:func:`mhtcdt.economics.run_in_blocks` (the (D, S, S) matrices are then never held at once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from mhtcdt.economics import markov_trace as kernel
from mhtcdt.economics.conventions import Conventions, discount_factors
from mhtcdt.economics.markov_trace import START_TOLERANCE
from mhtcdt.economics.results import RESULT_COLUMNS, DrawResults
from mhtcdt.economics.validation import (
    PROBABILITY_ROW_TOLERANCE,
    as_finite,
    broadcast_param,
    check_costs,
    check_probabilities,
    check_transition_matrices,
)
from mhtcdt.economics.values import CostCategory, StateValues
from mhtcdt.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

TransitionSpec = np.ndarray | Callable[[int], np.ndarray]


@dataclass
class MarkovStrategy:
    """One strategy of a Markov model: its transitions and its state values (see the module docstring
    for shapes and units)."""

    name: str
    transitions: TransitionSpec
    values: StateValues = field(default_factory=StateValues)
    per_cycle: bool = False
    draws: bool = False


TRACE_KEEP_BYTES = 64 * 2**20
"""``keep_traces=None`` keeps the per-draw traces of a strategy when they take at most this many bytes."""


@dataclass
class MarkovResult:
    """Result of :func:`run_markov`.

    ``traces`` maps strategy -> trace (D, n+1, S) when the per-draw traces were kept (``keep_traces``);
    ``mean_traces`` maps strategy -> mean trace over draws (n+1, S), always."""

    states: list[str]
    draws: DrawResults
    kept_traces: dict[str, np.ndarray] | None
    mean_traces: dict[str, np.ndarray]
    cycle_length_years: float
    has_draw_axis: bool
    attrs: dict = field(default_factory=dict)

    @property
    def traces(self) -> dict[str, np.ndarray]:
        """Per-draw traces, strategy -> (D, n+1, S); InputError if they were not kept."""
        if self.kept_traces is None:
            raise InputError(
                "keep_traces",
                False,
                "the per-draw traces were not kept (they exceed TRACE_KEEP_BYTES or keep_traces=False); "
                "run with keep_traces=True, or use mean_traces / trace_frame",
            )
        return self.kept_traces

    @property
    def results(self) -> pd.DataFrame:
        """Per-strategy DataFrame (one parameter set), or means over draws."""
        return self.draws.draw(0) if not self.has_draw_axis else self.draws.summary()

    def trace_frame(self, strategy: str) -> pd.DataFrame:
        """Long DataFrame of the state occupancy (mean over draws): cycle, time_years, state, proportion."""
        import pandas as pd  # lazy: ``import mhtcdt.economics`` stays light

        if strategy not in self.mean_traces:
            raise InputError("strategy", strategy, f"unknown strategy; use one of {list(self.mean_traces)}")
        tr = self.mean_traces[strategy]  # (n+1, S)
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


def rate_to_probability(rate: ArrayLike, time: float = 1.0) -> np.ndarray:
    """p = 1 - exp(-rate * time) for a constant hazard ``rate`` (per unit of ``time``)."""
    r = as_finite(rate, "rate")
    if np.any(r < 0):
        raise InputError("rate", float(r.min()), "a rate must be >= 0")
    return -np.expm1(-r * time)


def probability_to_rate(probability: ArrayLike, time: float = 1.0) -> np.ndarray:
    """rate = -ln(1 - p) / time."""
    p = check_probabilities(probability, "probability")
    if np.any(p >= 1):
        raise InputError("probability", 1.0, "a probability of 1 has no finite rate")
    return -np.log1p(-p) / time


def rescale_probability(probability: ArrayLike, from_length: float, to_length: float) -> np.ndarray:
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
# The engine (the trace kernel is in markov_trace)
# ---------------------------------------------------------------------------------------------


@dataclass
class _Flows:
    """Costs counted at transitions of one strategy, (D,) each: discounted and undiscounted."""

    transitions: np.ndarray
    transitions_undiscounted: np.ndarray
    end_of_life: np.ndarray
    end_of_life_undiscounted: np.ndarray


def _check_model(
    states: Sequence[str], dead_states: Sequence[str], strategies: Sequence[MarkovStrategy], start: ArrayLike
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """State names, alive mask (S,) and start distribution (S,) or (D, S), all checked."""
    names = [str(s) for s in states]
    if len(set(names)) != len(names):
        raise InputError("states", names, "state names must be unique")
    for d in dead_states:
        if d not in names:
            raise InputError("dead_states", d, f"unknown state; use one of {names}")
    alive_mask = np.array([s not in set(dead_states) for s in names])
    if not strategies:
        raise InputError("strategies", [], "needs at least one strategy")
    strat_names = [s.name for s in strategies]
    if len(set(strat_names)) != len(strat_names):
        raise InputError("strategies", strat_names, "strategy names must be unique")
    x0 = check_probabilities(start, "start")
    if x0.shape[-1] != len(names) or x0.ndim > 2:
        raise InputError("start", x0.shape, f"needs shape (S,) or (D, S) with S = {len(names)}")
    if np.any(np.abs(x0.sum(axis=-1) - 1.0) > START_TOLERANCE):
        raise InputError("start", x0.tolist() if x0.ndim == 1 else x0.shape, "the start distribution must sum to 1")
    return names, alive_mask, x0


def _horizon(n_cycles: int | None, stop_when_alive_below: float | None, max_cycles: int) -> int:
    if n_cycles is None:
        if stop_when_alive_below is None:
            raise InputError("n_cycles", None, "give n_cycles or stop_when_alive_below")
        if not 0 < stop_when_alive_below < 1:
            raise InputError("stop_when_alive_below", stop_when_alive_below, "must be in (0, 1)")
        return int(max_cycles)
    if int(n_cycles) != n_cycles or n_cycles < 1:
        raise InputError("n_cycles", n_cycles, "the horizon must be at least one whole cycle")
    return int(n_cycles)


def _value_draws(spec: MarkovStrategy, n_draws: int | None) -> int | None:
    """The draw count implied by a strategy's values ((D, 1|n+1, S) rewards, (D,) event costs,
    (D, S, S) transition costs), checked against ``n_draws``."""
    v = spec.values
    candidates = [(f"costs.{k}", a, 3) for k, a in v.cost_arrays().items()]
    candidates += [("utilities", v.utilities, 3), ("one_off_cost", v.one_off_cost, 1)]
    candidates += [("end_of_life_cost", v.end_of_life_cost, 1)]
    if v.transition_costs is not None:
        candidates.append(("transition_costs", v.transition_costs, 3))
    for label, value, ndim in candidates:
        shape = np.shape(value)
        if len(shape) == ndim and shape[0] > 1:
            if n_draws is not None and shape[0] != n_draws:
                raise InputError(f"strategies[{spec.name}].values.{label}", shape, f"draw count differs from {n_draws}")
            n_draws = shape[0]
    return n_draws


def _event_costs(spec: MarkovStrategy, n_s: int, n_d: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Transition-cost matrices (S, S) or (S, S, D) (draws last) and end-of-life cost (D,) (None where
    none is given)."""
    fld = f"strategies[{spec.name}].values"
    tc = spec.values.transition_costs
    if tc is not None:
        tc = kernel.draws_last(
            broadcast_param(tc, f"{fld}.transition_costs", tc.shape[:-2] + (n_s, n_s), "(S, S) or (D, S, S)")
        )
    eol = broadcast_param(spec.values.end_of_life_cost, f"{fld}.end_of_life_cost", (n_d,), "scalar or (D,)")
    return tc, (eol if np.any(eol != 0) else None)


@dataclass
class _Values:
    """The state values of one strategy, checked once for all draws and kept compact (a reward (S,),
    (1, n+1, S) or (D|1, 1|n+1, S), event costs (D,) and draws-last (S, S[, D])); ``block`` slices the
    draws of a block. ``costs``: (category, counting rule or None for the model's rule, costs per cycle)."""

    utilities: np.ndarray
    costs: list[tuple[str, tuple[str | Sequence[float], str] | None, np.ndarray]]
    one_off: np.ndarray
    transition_costs: np.ndarray | None
    end_of_life: np.ndarray | None

    def block(self, a: int, b: int) -> _Values:
        def rows(r: np.ndarray) -> np.ndarray:
            return r[a:b] if r.ndim == 3 and r.shape[0] != 1 else r

        tc = self.transition_costs
        return _Values(
            rows(self.utilities),
            [(cat, rule, rows(c)) for cat, rule, c in self.costs],
            self.one_off[a:b],
            None if tc is None or tc.ndim == 2 else tc[..., a:b],
            None if self.end_of_life is None else self.end_of_life[a:b],
        )


def _prepare_values(spec: MarkovStrategy, shape: tuple[int, int, int], cycle_years: float) -> _Values:
    """Check the values of one strategy against (D, n+1, S) and convert state costs to costs per cycle."""
    n_d, _, n_s = shape
    fld = f"strategies[{spec.name}].values"
    u = kernel.reward_array(spec.values.utilities, f"{fld}.utilities", shape)
    one_off = broadcast_param(spec.values.one_off_cost, f"{fld}.one_off_cost", (n_d,), "scalar or (D,)")
    factor = spec.values.cost_factor("cycle", cycle_years)
    costs = []
    for cat, cost in spec.values.categories().items():
        rule = None
        if isinstance(cost, CostCategory):  # category with its own counting rule
            rule = (cost.counting, cost.cycle_zero)
            cost = cost.values
        cat_fld = f"{fld}.costs" + (f".{cat}" if spec.values.categorised else "")
        costs.append((cat, rule, kernel.reward_array(cost if factor == 1.0 else factor * cost, cat_fld, shape)))
    tc, eol = _event_costs(spec, n_s, n_d)
    return _Values(u, costs, one_off, tc, eol)


def _run_cohort(
    strategies: Sequence[MarkovStrategy],
    getters: list[kernel.Getter],
    x0: np.ndarray,
    model: tuple[list[str], np.ndarray, list[_Values]],
    run: tuple[int, float | None, bool],
    conv: Conventions,
    first_draw: int = 0,
    buffers: list[np.ndarray] | None = None,
) -> tuple[list[np.ndarray], list[_Flows], int]:
    """Traces (n+1, S, B) of every strategy for one block of B draws (one loop over cycles, all strategies
    at once per cycle; draws last, see :mod:`.markov_trace`), the costs counted at transitions, and the
    number of cycles run. ``run`` = (horizon, stop_when_alive_below (stops early when given), one block of
    several: its trace is checked once, at the end, while it is in cache). ``model``: (names, alive
    mask, the block's values of each strategy); ``x0`` (S, B); ``getters`` give the block's matrices;
    ``first_draw`` is the index of the block's first draw (in messages); ``buffers`` (n+1, S, >= B) trace
    buffers reused from block to block (fresh memory for every block costs a page fault per 4 KiB).
    Every matrix and every trace row is checked."""
    names, alive_mask, values = model
    horizon, stop_when_alive_below, in_blocks = run
    n_s, n_d = x0.shape
    open_horizon = stop_when_alive_below is not None
    # trace buffers (n+1, S, B): a contiguous slab per cycle; grown in chunks when the horizon is open
    cap = min(horizon + 1, 256) if open_horizon else horizon + 1
    if buffers is None or open_horizon:
        bufs = [np.empty((cap, n_s, n_d)) for _ in strategies]
    else:
        bufs = [buf[:, :, :n_d] for buf in buffers]
    for buf in bufs:
        buf[0] = x0
    cycle_years = conv.cycle_length_years
    disc_flow = discount_factors(
        np.arange(horizon + 1) * cycle_years, conv.discount_costs, conv.discount_method, cycle_length_years=cycle_years
    )
    flows = [_Flows(*(np.zeros(n_d) for _ in range(4))) for _ in strategies]
    dying = (alive_mask[:, None] & ~alive_mask[None, :]).astype(float)  # moves from an alive into a dead state
    allowed = kernel.trace_tolerance(horizon)
    check_each_cycle = not in_blocks and n_s * n_d >= kernel.TRACE_CHECK_PER_CYCLE_VALUES
    fields = [f"strategies[{spec.name}]" for spec in strategies]
    n_done = 0
    for c in range(1, horizon + 1):
        disc_c = float(disc_flow[c])
        if c >= bufs[0].shape[0]:
            bufs = [np.concatenate([b, np.empty_like(b)], axis=0) for b in bufs]
        for k, get in enumerate(getters):
            x_prev = bufs[k][c - 1]
            p = get(c)
            if p.ndim == 3 and p.shape[-1] != n_d:
                raise InputError(f"{fields[k]}.transitions", p.shape, f"needs {n_d} draws")
            tc, eol = values[k].transition_costs, values[k].end_of_life
            if tc is not None:
                cost_c = (x_prev * kernel.leaving(p, tc)).sum(axis=0)  # (B,)
                flows[k].transitions += disc_c * cost_c
                flows[k].transitions_undiscounted += cost_c
            if eol is not None:
                deaths = (x_prev * kernel.leaving(p, dying)).sum(axis=0)  # (B,) moving alive -> dead
                flows[k].end_of_life += disc_c * eol * deaths
                flows[k].end_of_life_undiscounted += eol * deaths
            kernel.step(x_prev, p, bufs[k][c])
            if check_each_cycle:
                kernel.check_trace(bufs[k][c : c + 1], c, allowed[c : c + 1], fields[k], names, first_draw)
        n_done = c
        if open_horizon:
            alive = max(float(b[c][alive_mask].sum(axis=0).max()) for b in bufs)
            if alive < stop_when_alive_below and (conv.counting != "simpson" or c % 2 == 0):
                break
    else:
        if open_horizon:
            raise InputError("max_cycles", horizon, "the cohort was still alive at max_cycles; raise it")
    traces = [b[: n_done + 1] for b in bufs]
    if not check_each_cycle:
        for fld, tr in zip(fields, traces, strict=True):
            kernel.check_trace(tr, 0, allowed[: n_done + 1], fld, names, first_draw)
    return traces, flows, n_done


def _integrate(
    values: _Values,
    trace: np.ndarray,
    flows: _Flows,
    weights: tuple[np.ndarray, tuple[np.ndarray, np.ndarray]],
    conv: Conventions,
    categorised: bool,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Costs, life-years and QALYs (B,) of one strategy from its trace (n+1, S, B) and the block's
    values, and its costs by category. ``weights`` = (alive mask (S,), (cost discount, effect discount)
    at the points)."""
    alive_mask, (d_c, d_e) = weights
    cycle_years = conv.cycle_length_years
    rules = kernel.CountingRules(trace)
    integ, w = rules.rule(conv.counting, conv.cycle_zero)
    alive = alive_mask.astype(float)
    u = values.utilities
    out = {
        # life-years: the alive states weighted 1, from the weighted occupancies QALYs use as well
        "life_years": integ.sum(w * d_e, alive) * cycle_years,
        "life_years_undiscounted": integ.sum(w, alive) * cycle_years,
        "qalys": integ.sum(w * d_e, u) * cycle_years,
        "qalys_undiscounted": integ.sum(w, u) * cycle_years,
        "cost": values.one_off + flows.transitions + flows.end_of_life,
        "cost_undiscounted": values.one_off + flows.transitions_undiscounted + flows.end_of_life_undiscounted,
    }
    by_cat = {}
    for cat, rule, cst in values.costs:
        cat_integ, w_cat = (integ, w) if rule is None else rules.rule(*rule)
        disc = cat_integ.sum(w_cat * d_c, cst)
        out["cost"] = out["cost"] + disc
        out["cost_undiscounted"] = out["cost_undiscounted"] + cat_integ.sum(w_cat, cst)
        if categorised:
            by_cat[cat] = disc
    by_cat.update(transitions=flows.transitions, end_of_life=flows.end_of_life, one_off=values.one_off)
    return out, by_cat


def _constant_categories(values: list[_Values], n_d: int) -> dict[str, np.ndarray]:
    """Cost categories the same for every draw, as read-only (D, strategies) views of one row (no memory
    per draw): transition and end-of-life costs no strategy has (zeros), one-off costs without a draw axis."""
    rows = {}
    if all(v.transition_costs is None for v in values):
        rows["transitions"] = np.zeros(len(values))
    if all(v.end_of_life is None for v in values):
        rows["end_of_life"] = np.zeros(len(values))
    if all(v.one_off.strides == (0,) or n_d == 1 for v in values):
        rows["one_off"] = np.array([float(v.one_off[0]) for v in values])
    return {cat: np.broadcast_to(row, (n_d, len(values))) for cat, row in rows.items()}


def _discounts(conv: Conventions, n_done: int) -> tuple[np.ndarray, np.ndarray]:
    """Discount factors for costs and effects at the points 0..n_done."""
    cycle_years = conv.cycle_length_years
    t_years = np.arange(n_done + 1, dtype=float) * cycle_years
    return (
        discount_factors(t_years, conv.discount_costs, conv.discount_method, cycle_length_years=cycle_years),
        discount_factors(t_years, conv.discount_effects, conv.discount_method, cycle_length_years=cycle_years),
    )


def run_markov(
    states: Sequence[str],
    strategies: Sequence[MarkovStrategy],
    start: ArrayLike,
    conventions: Conventions | None = None,
    *,
    n_cycles: int | None = None,
    dead_states: Sequence[str] = ("dead",),
    stop_when_alive_below: float | None = None,
    max_cycles: int = 10_000,
    keep_traces: bool | None = None,
) -> MarkovResult:
    """Run a Markov cohort model for several strategies (see the module docstring).

    Parameters
    ----------
    states:
        State names (unique).
    strategies:
        One :class:`MarkovStrategy` per strategy (transitions and :class:`StateValues`).
    start:
        Initial distribution over states (S,) or per draw (D, S), summing to 1.
    conventions:
        Counting, discounting, cycle length and currency (default :class:`Conventions`\\ ()).
    n_cycles:
        Fixed horizon in cycles; or None with ``stop_when_alive_below`` (e.g. 1e-4): run until the
        share alive in every strategy and draw is below it (at most ``max_cycles``).
    dead_states:
        Names of the states counted as dead (for life-years, end-of-life costs and stopping).
    keep_traces:
        Keep the per-draw traces (``MarkovResult.traces``, D x (n+1) x S values per strategy); None keeps
        them when they take at most TRACE_KEEP_BYTES per strategy. The results do not need them: with a
        fixed horizon the draws run in blocks of ``markov_trace.BLOCK_DRAWS`` (the trace of a block is
        integrated and dropped), so memory and time per draw stay flat as the number of draws grows.
    """
    conv = Conventions() if conventions is None else conventions
    names, alive_mask, x0 = _check_model(states, dead_states, strategies, start)
    horizon = _horizon(n_cycles, stop_when_alive_below, max_cycles)
    fixed = n_cycles is not None
    getters = []
    random_access = True
    n_draws = x0.shape[0] if x0.ndim == 2 else None
    for spec in strategies:
        if spec.per_cycle and not fixed:
            raise InputError(f"strategies[{spec.name}]", "per_cycle", "a per-cycle array needs a fixed n_cycles")
        get, nd, any_order = kernel.transition_getter(
            spec.transitions,
            (spec.per_cycle, spec.draws),
            horizon if fixed else 1,
            f"strategies[{spec.name}].transitions",
            names,
            prefetch=fixed,
        )
        getters.append((get, any_order))
        random_access = random_access and any_order
        if nd is not None:
            if n_draws is not None and nd != n_draws:
                raise InputError(f"strategies[{spec.name}].transitions", nd, f"draw count differs ({n_draws})")
            n_draws = nd
    for spec in strategies:  # the draw axis may also come from the values alone
        n_draws = _value_draws(spec, n_draws)
    n_d, n_s = n_draws or 1, len(names)
    stop = None if fixed else stop_when_alive_below
    values = [_prepare_values(spec, (n_d, horizon + 1, n_s), conv.cycle_length_years) for spec in strategies]
    x0_last = np.broadcast_to(x0[:, None] if x0.ndim == 1 else x0.T, (n_s, n_d))  # (S, D)
    # blocks of draws (all cycles of a block before the next block) need a fixed horizon and matrices
    # that can be fetched for any cycle; otherwise one block of all draws, cycle by cycle
    block = kernel.BLOCK_DRAWS if fixed and random_access else n_d
    n_blocks = -(-n_d // block)
    keep = keep_traces if keep_traces is not None else n_d * (horizon + 1) * n_s * 8 <= TRACE_KEEP_BYTES
    keep = keep or n_blocks == 1  # the trace of a single block is the whole trace: free to keep
    out = {k: np.zeros((n_d, len(strategies))) for k in RESULT_COLUMNS[1:]}
    by_cat: dict[str, np.ndarray] = {}
    trace_sums = [np.zeros((horizon + 1, n_s)) for _ in strategies]
    constant = _constant_categories(values, n_d)
    kept: list[np.ndarray] = []
    n_done = horizon
    buffers = [np.empty((horizon + 1, n_s, block)) for _ in strategies] if n_blocks > 1 else None
    for a in range(0, n_d, block):
        b = min(n_d, a + block)
        block_get = [kernel.BlockMatrices(g, a, b) if any_order else g for g, any_order in getters]
        block_values = [v.block(a, b) for v in values] if n_blocks > 1 else values
        model = (names, alive_mask, block_values)
        traces, flows, n_done = _run_cohort(
            strategies, block_get, x0_last[:, a:b], model, (horizon, stop, n_blocks > 1), conv, a, buffers
        )
        discount = _discounts(conv, n_done)
        for k, spec in enumerate(strategies):
            res, categories = _integrate(
                block_values[k], traces[k], flows[k], (alive_mask, discount), conv, spec.values.categorised
            )
            for name, value in res.items():
                out[name][a:b, k] = value
            for cat, value in categories.items():
                if cat not in by_cat:
                    by_cat[cat] = constant[cat] if cat in constant else np.zeros((n_d, len(strategies)))
                if cat not in constant:
                    by_cat[cat][a:b, k] = value
            trace_sums[k][: n_done + 1] += traces[k].sum(axis=2)  # for the mean trace
        if keep:
            if n_blocks == 1:
                kept = traces
            else:
                if not kept:
                    kept = [np.empty((n_done + 1, n_s, n_d)) for _ in strategies]
                for full, tr in zip(kept, traces, strict=True):
                    full[:, :, a:b] = tr
    cycle_years = conv.cycle_length_years
    attrs = {"model": "markov", **conv.attrs(), "cycle_length_years": cycle_years, "n_cycles": n_done}
    draws = DrawResults(strategies=[s.name for s in strategies], **out, cost_by_category=by_cat, attrs=attrs)
    names_s = [spec.name for spec in strategies]
    mean_traces = {name: tr[: n_done + 1] / n_d for name, tr in zip(names_s, trace_sums, strict=True)}
    kept_views = (
        {name: tr.transpose(2, 0, 1) for name, tr in zip(names_s, kept, strict=True)} if keep else None
    )  # (D, n+1, S)
    return MarkovResult(names, draws, kept_views, mean_traces, cycle_years, n_draws is not None, attrs=dict(attrs))
