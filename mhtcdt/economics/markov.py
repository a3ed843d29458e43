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
* a list or tuple of n arrays with ``per_cycle=True``, one per cycle, each (S, S), or (D, S, S) with
  ``draws=True``; the same array object may stand for several cycles (``[comb] * 2 + [mono] * 18``):
  each distinct array is checked once, and no function is called, so nothing needs fingerprinting
  (the cheapest form of matrices that change in some cycles only);
* a callable ``f(cycle) -> (S, S) or (D, S, S)`` for cycle = 1..n (time-varying; e.g. age-dependent
  mortality from :class:`~mhtcdt.economics.lifetables.LifeTable`), evaluated once per cycle for all
  draws (up front, each returned array fingerprinted, when it returns arrays it keeps; cycle by cycle
  when it builds new per-draw matrices every cycle, see :mod:`.markov_trace`).
``draws_last=True`` stores per-draw matrices draws last: (S, S, D), (C, S, S, D) per cycle, and a
callable returns (S, S, D). It is the engine's own layout (a block of draws is a view, not a transposed
copy), and the layout in which a model's matrices are built fastest (every elementwise operation, and a
row sum, runs over contiguous draws).
Rows must sum to 1 within ``validation.PROBABILITY_ROW_TOLERANCE`` (1e-6) and be >= 0. Every matrix
is checked when it is used (also an array object a callable returns again: it may have been changed
in place), and every row of every trace must sum to 1.

Outputs
-------
:class:`MarkovResult` with ``.results`` (per-strategy DataFrame, contract section 5, plus
``cost_<category>``, ``cost_transitions``, ``cost_end_of_life``, ``cost_one_off`` columns) for one
parameter set, or ``.draws`` (:class:`DrawResults`) when any input has a draw axis; ``.traces`` maps
strategy -> array (D, n+1, S) when the per-draw traces were kept (``keep_traces``: by default when
they take at most TRACE_KEEP_BYTES), ``.mean_traces`` strategy -> (n+1, S) (unless ``mean_traces=False``:
a PSA that needs only the per-draw results skips their sums over draws, a few % of its time);
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

from mhtcdt.economics.conventions import Conventions
from mhtcdt.economics.results import DrawResults
from mhtcdt.economics.validation import (
    PROBABILITY_ROW_TOLERANCE,
    START_TOLERANCE,
    as_finite,
    check_costs,
    check_probabilities,
    check_transition_matrices,
)
from mhtcdt.economics.values import StateValues
from mhtcdt.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

TransitionSpec = np.ndarray | Sequence[np.ndarray] | Callable[[int], np.ndarray]


@dataclass
class MarkovStrategy:
    """One strategy of a Markov model: its transitions and its state values (see the module docstring
    for shapes and units); ``draws_last``: per-draw matrices stored (S, S, D)."""

    name: str
    transitions: TransitionSpec
    values: StateValues = field(default_factory=StateValues)
    per_cycle: bool = False
    draws: bool = False
    draws_last: bool = False


TRACE_KEEP_BYTES = 64 * 2**20
"""``keep_traces=None`` keeps the per-draw traces of a strategy when they take at most this many bytes."""


@dataclass
class MarkovResult:
    """Result of :func:`run_markov`.

    ``traces`` maps strategy -> trace (D, n+1, S) when the per-draw traces were kept (``keep_traces``);
    ``mean_traces`` maps strategy -> mean trace over draws (n+1, S) unless ``mean_traces=False``."""

    states: list[str]
    draws: DrawResults
    kept_traces: dict[str, np.ndarray] | None
    computed_mean_traces: dict[str, np.ndarray] | None
    cycle_length_years: float
    has_draw_axis: bool
    attrs: dict = field(default_factory=dict)

    @property
    def mean_traces(self) -> dict[str, np.ndarray]:
        """Mean traces over draws, strategy -> (n+1, S); InputError if run with ``mean_traces=False``."""
        if self.computed_mean_traces is None:
            raise InputError("mean_traces", False, "the mean traces were not computed (run with mean_traces=True)")
        return self.computed_mean_traces

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
# Checks of the model (the engine is in markov_engine, its trace kernel in markov_trace)
# ---------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class UntilAliveBelow:
    """An open horizon: run until the share alive in every strategy and draw is below ``share`` (e.g. 1e-4),
    at most ``max_cycles`` cycles (an :class:`InputError` if the cohort is still alive then)."""

    share: float
    max_cycles: int = 10_000

    def __post_init__(self) -> None:
        if not 0 < self.share < 1:
            raise InputError("until_alive_below.share", self.share, "must be in (0, 1)")
        if int(self.max_cycles) != self.max_cycles or self.max_cycles < 1:
            raise InputError("until_alive_below.max_cycles", self.max_cycles, "must be a whole number of cycles >= 1")


def _horizon(n_cycles: int | None, until: UntilAliveBelow | None) -> int:
    if n_cycles is None:
        if until is None:
            raise InputError("n_cycles", None, "give n_cycles or until_alive_below")
        return int(until.max_cycles)
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


def run_markov(
    states: Sequence[str],
    strategies: Sequence[MarkovStrategy],
    start: ArrayLike,
    conventions: Conventions | None = None,
    *,
    n_cycles: int | None = None,
    dead_states: Sequence[str] = ("dead",),
    until_alive_below: UntilAliveBelow | None = None,
    keep_traces: bool | None = None,
    mean_traces: bool = True,
    out: Mapping[str, np.ndarray] | None = None,
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
        Fixed horizon in cycles; or None with ``until_alive_below`` (:class:`UntilAliveBelow`, e.g.
        ``UntilAliveBelow(1e-4)``): run until the share alive in every strategy and draw is below it (at most its
        ``max_cycles``).
    dead_states:
        Names of the states counted as dead (for life-years, end-of-life costs and stopping).
    keep_traces:
        Keep the per-draw traces (``MarkovResult.traces``, D x (n+1) x S values per strategy); None keeps
        them when they take at most TRACE_KEEP_BYTES per strategy. The results do not need them: with a
        fixed horizon the draws run in blocks of ``markov_trace.BLOCK_DRAWS`` (the trace of a block is
        integrated and dropped), so memory and time per draw stay flat as the number of draws grows.
    mean_traces:
        Compute the mean trace over draws of each strategy (``MarkovResult.mean_traces``, ``trace_frame``);
        False skips it (a PSA run in blocks, :func:`mhtcdt.economics.run_in_blocks`, keeps only the draws).
    out:
        Destination arrays (D, strategies) by result column (``cost``, ``life_years``, ..., and
        ``cost_<category>``), written in place and returned in the results instead of new arrays (those of
        another shape or dtype are ignored): the rows of a whole PSA's results that
        :func:`~mhtcdt.economics.run_in_blocks` gives a model taking ``out``, so no block is copied.
    """
    # the engine is imported on first use: ``import mhtcdt.economics`` stays light (issue 18)
    from mhtcdt.economics import markov_engine as engine
    from mhtcdt.economics import markov_trace as kernel

    conv = Conventions() if conventions is None else conventions
    names, alive_mask, x0 = _check_model(states, dead_states, strategies, start)
    horizon = _horizon(n_cycles, until_alive_below)
    fixed = n_cycles is not None
    fetchers = []
    n_draws = x0.shape[0] if x0.ndim == 2 else None
    checked: kernel.SourceCache = {}  # arrays several strategies share are checked once
    for spec in strategies:
        if spec.per_cycle and not fixed:
            raise InputError(f"strategies[{spec.name}]", "per_cycle", "a per-cycle array needs a fixed n_cycles")
        if spec.draws_last and not spec.draws and not callable(spec.transitions):
            raise InputError(f"strategies[{spec.name}].draws_last", True, "draws_last needs draws=True")
        fetcher = kernel.transition_getter(
            spec.transitions,
            (spec.per_cycle, spec.draws, spec.draws_last),
            horizon if fixed else 1,
            f"strategies[{spec.name}].transitions",
            names,
            prefetch=fixed,
            cache=checked,
        )
        fetchers.append(fetcher)
        if fetcher.n_draws is not None:
            if n_draws is not None and fetcher.n_draws != n_draws:
                raise InputError(
                    f"strategies[{spec.name}].transitions", fetcher.n_draws, f"draw count differs ({n_draws})"
                )
            n_draws = fetcher.n_draws
    for spec in strategies:  # the draw axis may also come from the values alone
        n_draws = _value_draws(spec, n_draws)
    n_d, n_s = n_draws or 1, len(names)
    values = [engine.prepare_values(spec, (n_d, horizon + 1, n_s), conv.cycle_length_years) for spec in strategies]
    x0_last = np.broadcast_to(x0[:, None] if x0.ndim == 1 else x0.T, (n_s, n_d))  # (S, D)
    keep = keep_traces if keep_traces is not None else n_d * (horizon + 1) * n_s * 8 <= TRACE_KEEP_BYTES
    model = engine.Model.build(names, alive_mask, conv, horizon, strategies)
    if fixed:
        output = engine.Output.allocate(values, model, n_d, keep, mean_traces, out)
        cache = engine.PlanCache(conv, horizon)
        plans = [engine.plan(v, alive_mask, conv, horizon, cache) for v in values]
        engine.run_fixed(fetchers, x0_last, values, plans, model, output)
        n_done = horizon
    else:
        traces, flows, n_done = engine.run_open(fetchers, x0_last, values, model, until_alive_below.share)
        model = engine.Model.build(names, alive_mask, conv, n_done, strategies)
        output = engine.Output.allocate(values, model, n_d, False, mean_traces, out)
        plans = [engine.plan(v, alive_mask, conv, n_done) for v in values]
        engine.integrate_traces(traces, flows, values, plans, model, output)
        output.kept = traces if keep else None
    cycle_years = conv.cycle_length_years
    attrs = {"model": "markov", **conv.attrs(), "cycle_length_years": cycle_years, "n_cycles": n_done}
    draws = DrawResults(
        strategies=[s.name for s in strategies], **output.columns, cost_by_category=output.by_cat, attrs=attrs
    )
    names_s = [spec.name for spec in strategies]
    means = {name: tr / n_d for name, tr in zip(names_s, output.trace_sums, strict=True)} if mean_traces else None
    kept_views = (
        {name: tr.transpose(2, 0, 1) for name, tr in zip(names_s, output.kept, strict=True)}
        if output.kept is not None
        else None
    )  # (D, n+1, S)
    return MarkovResult(names, draws, kept_views, means, cycle_years, n_draws is not None, attrs=dict(attrs))
