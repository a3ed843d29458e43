"""The engine of :func:`mhtcdt.economics.run_markov`: state values, what is integrated, and the cohort runs.

Every result is a linear functional of the trace: sum_t sum_s x_t[s] R_t[s] for a reward R (a state value
x a counting weight x a discount factor, per point t). Rewards constant in time only need the weighted
occupancy sum_t v_t x_t (S,) per distinct weight vector v (counting rule x discounting); rewards that vary
by cycle are contracted point by point. ``"cycle_average"`` counting (cycle k counts (x_{k-1} + x_k) / 2
with the values and discount factor of cycle k) is folded into the weights the same way: point t gets
(c_t R_t + c_{t+1} R_{t+1}) / 2 with c the ``"end"`` weight x discount. So the engine integrates each
trace point once, while it is in cache (:class:`~.markov_trace.TraceIntegrals`), and keeps no trace.

Runs (:func:`run_fixed`, fixed horizon): strategies whose matrices allow random access (arrays, transition
functions evaluated up front) run block of draws by block of draws (BLOCK_DRAWS), one strategy through all
cycles at a time, sharing the block's checked draws-last matrices; a transition function building new
per-draw matrices every cycle runs over all draws, cycle by cycle (one cycle of its matrices alive at a
time). :func:`run_open` (``stop_when_alive_below``) runs all strategies together cycle by cycle, keeping
their traces (the weights of the last points depend on when the cohort stops), and integrates at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mhtcdt.economics import markov_trace as kernel
from mhtcdt.economics.conventions import Conventions, counting_weights, discount_factors
from mhtcdt.economics.markov_trace import Integrands, TraceIntegrals
from mhtcdt.economics.results import RESULT_COLUMNS
from mhtcdt.economics.validation import broadcast_param
from mhtcdt.economics.values import CostCategory
from mhtcdt.errors import InputError

if TYPE_CHECKING:
    from mhtcdt.economics.markov import MarkovStrategy

Rule = tuple[str | Sequence[float], str]


@dataclass
class Flows:
    """Costs counted at transitions of one strategy, (B,) each: discounted and undiscounted."""

    transitions: np.ndarray
    transitions_undiscounted: np.ndarray
    end_of_life: np.ndarray
    end_of_life_undiscounted: np.ndarray

    @classmethod
    def zeros(cls, n: int) -> Flows:
        return cls(*(np.zeros(n) for _ in range(4)))


def event_costs(spec: MarkovStrategy, n_s: int, n_d: int) -> tuple[np.ndarray | None, np.ndarray | None]:
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
class Values:
    """The state values of one strategy, checked once for all draws and kept compact (a reward (S,),
    (1, n+1, S) or (D|1, 1|n+1, S), event costs (D,) and draws-last (S, S[, D])); ``block`` slices the
    draws of a block. ``costs``: (category, counting rule or None for the model's rule, costs per cycle)."""

    utilities: np.ndarray
    costs: list[tuple[str, Rule | None, np.ndarray]]
    one_off: np.ndarray
    transition_costs: np.ndarray | None
    end_of_life: np.ndarray | None

    def block(self, a: int, b: int) -> Values:
        def rows(r: np.ndarray) -> np.ndarray:
            return r[a:b] if r.ndim == 3 and r.shape[0] != 1 else r

        tc = self.transition_costs
        return Values(
            rows(self.utilities),
            [(cat, rule, rows(c)) for cat, rule, c in self.costs],
            self.one_off[a:b],
            None if tc is None or tc.ndim == 2 else tc[..., a:b],
            None if self.end_of_life is None else self.end_of_life[a:b],
        )


def prepare_values(spec: MarkovStrategy, shape: tuple[int, int, int], cycle_years: float) -> Values:
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
    tc, eol = event_costs(spec, n_s, n_d)
    return Values(u, costs, one_off, tc, eol)


# ---------------------------------------------------------------------------------------------
# What is integrated
# ---------------------------------------------------------------------------------------------


def _discounts(conv: Conventions, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Discount factors for costs and effects at the points 0..n."""
    cycle_years = conv.cycle_length_years
    t_years = np.arange(n + 1, dtype=float) * cycle_years
    return (
        discount_factors(t_years, conv.discount_costs, conv.discount_method, cycle_length_years=cycle_years),
        discount_factors(t_years, conv.discount_effects, conv.discount_method, cycle_length_years=cycle_years),
    )


@dataclass
class Term:
    """One integral of a strategy: ``quantity`` ("life_years", "qalys", "cost", each also "_undiscounted")
    of cost ``category`` (None for effects); a reward constant in time (``weight`` = row of the weights,
    ``reward`` (S,) or (D|1, 1, S)) or varying by cycle (``weight`` = -1 - index into the varying rewards)."""

    quantity: str
    category: str | None
    weight: int
    reward: np.ndarray | None


@dataclass
class Plan:
    """The integrals of one strategy for a horizon of n cycles, and how they are contracted with the
    weighted occupancies: ``shared`` rewards (one per draw-independent term) grouped by weight row,
    (row, term indices, rewards (T, S)), one einsum per row; ``per_draw`` rewards draws last,
    (row, term index, reward (S, D))."""

    integrands: Integrands
    terms: list[Term]
    shared: list[tuple[int, list[int], np.ndarray]]
    per_draw: list[tuple[int, int, np.ndarray]]


class PlanCache:
    """What the plans of one call's strategies share: discount factors, counting weights by rule, and the
    draws-last copies (S, D) of per-draw rewards (keyed by the reward array, which is held)."""

    def __init__(self, conv: Conventions, n: int) -> None:
        self.discounts = _discounts(conv, n)
        self.by_rule: dict[tuple, np.ndarray] = {}
        self.last: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def reward_last(self, r: np.ndarray) -> np.ndarray:
        hit = self.last.get(id(r))
        if hit is None or hit[0] is not r:
            hit = (r, np.ascontiguousarray(r[:, 0, :].T))
            self.last[id(r)] = hit
        return hit[1]


def plan(values: Values, alive_mask: np.ndarray, conv: Conventions, n: int, cache: PlanCache | None = None) -> Plan:
    """The weights and rewards of every integral of one strategy (see the module docstring); ``cache``: what
    the strategies of one call share (:class:`PlanCache`)."""
    cache = cache or PlanCache(conv, n)
    times = np.arange(n + 1, dtype=float)
    d_c, d_e = cache.discounts
    ones = np.ones(n + 1)
    rows: dict[bytes, int] = {}
    weights: list[np.ndarray] = []
    varying: list[tuple[np.ndarray, int, int]] = []
    terms: list[Term] = []
    by_rule = cache.by_rule

    def add(quantity: str, category: str | None, rule: Rule, discount: np.ndarray, reward: np.ndarray) -> None:
        counting, cycle_zero = rule
        averaged = isinstance(counting, str) and counting == "cycle_average"
        key = (counting if isinstance(counting, str) else tuple(counting), cycle_zero)
        if key not in by_rule:
            by_rule[key] = counting_weights(times, counting, cycle_zero)
        c = by_rule[key] * discount  # per point, in cycles
        if reward.ndim == 1 or reward.shape[1] == 1:  # constant in time
            v = c
            if averaged:  # point t counts half in cycles t and t + 1
                v = np.zeros_like(c)
                v[:-1] = 0.5 * c[1:]
                v[1:] += 0.5 * c[1:]
            key = v.tobytes()
            if key not in rows:
                rows[key] = len(weights)
                weights.append(v)
            terms.append(Term(quantity, category, rows[key], reward))
            return
        r = reward * c[None, :, None]  # (1|D, n+1, S)
        if averaged:
            shifted = np.zeros_like(r)
            shifted[:, :-1] = r[:, 1:]
            r = 0.5 * (r + shifted)  # point t: (c_t R_t + c_{t+1} R_{t+1}) / 2 (c_0 = 0)
        nonzero = np.flatnonzero(np.any(r != 0.0, axis=(0, 2)))
        lo, hi = (int(nonzero[0]), int(nonzero[-1])) if nonzero.size else (0, -1)
        varying.append((r, lo, hi))
        terms.append(Term(quantity, category, -len(varying), None))

    model_rule = (conv.counting, conv.cycle_zero)
    alive = alive_mask.astype(float)
    add("life_years", None, model_rule, d_e, alive)
    add("life_years_undiscounted", None, model_rule, ones, alive)
    add("qalys", None, model_rule, d_e, values.utilities)
    add("qalys_undiscounted", None, model_rule, ones, values.utilities)
    for cat, rule, cost in values.costs:
        add("cost", cat, rule or model_rule, d_c, cost)
        add("cost_undiscounted", cat, rule or model_rule, ones, cost)
    shared: dict[int, tuple[list[int], list[np.ndarray]]] = {}
    per_draw: list[tuple[int, int, np.ndarray]] = []
    for i, term in enumerate(terms):
        r = term.reward
        if r is None:
            continue
        if r.ndim == 1 or r.shape[0] == 1:
            idx, rewards = shared.setdefault(term.weight, ([], []))
            idx.append(i)
            rewards.append(r if r.ndim == 1 else r[0, 0])
        else:
            per_draw.append((term.weight, i, cache.reward_last(r)))
    groups = [(w, idx, np.array(rewards)) for w, (idx, rewards) in shared.items()]
    return Plan(Integrands(np.array(weights), varying), terms, groups, per_draw)


def _term_values(strategy_plan: Plan, integ: TraceIntegrals, a: int, b: int) -> list[np.ndarray]:
    """The integral (B,) of every term over the block of draws a:b."""
    out: list[np.ndarray | None] = [None] * len(strategy_plan.terms)
    occupancy = integ.occupancy
    for w, idx, rewards in strategy_plan.shared:
        values = kernel._einsum("sd,ts->td", occupancy[w], rewards)  # (T, B)
        for j, i in enumerate(idx):
            out[i] = values[j]
    for w, i, reward in strategy_plan.per_draw:
        out[i] = kernel._einsum("sd,sd->d", occupancy[w], reward[:, a:b])
    for i, term in enumerate(strategy_plan.terms):
        if term.weight < 0:
            out[i] = integ.varying_sums[-1 - term.weight]
    return out


def results(
    values: Values,
    strategy_plan: Plan,
    integ: TraceIntegrals,
    flows: Flows,
    block: tuple[int, int],
    model: Model,
    k: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Costs, life-years and QALYs (B,) of strategy k over the block of draws a:b, and its discounted costs
    by category (if categorised; always the transition, end-of-life and one-off costs)."""
    cycle_years = model.conv.cycle_length_years
    out = {
        "cost": values.one_off + flows.transitions + flows.end_of_life,
        "cost_undiscounted": values.one_off + flows.transitions_undiscounted + flows.end_of_life_undiscounted,
    }
    by_cat: dict[str, np.ndarray] = {}
    for term, value in zip(strategy_plan.terms, _term_values(strategy_plan, integ, *block), strict=True):
        if term.category is None:
            out[term.quantity] = value * cycle_years
            continue
        out[term.quantity] = out[term.quantity] + value
        if term.quantity == "cost" and model.categorised[k]:
            by_cat[term.category] = value
    by_cat.update(transitions=flows.transitions, end_of_life=flows.end_of_life, one_off=values.one_off)
    return out, by_cat


# ---------------------------------------------------------------------------------------------
# The runs
# ---------------------------------------------------------------------------------------------

Fetch = Callable[[int], np.ndarray]


@dataclass
class Model:
    """What every run of one call needs: state names, alive mask, conventions, horizon, the trace tolerance,
    the strategies' fields (in messages), whether each reports its costs by category, the matrix that
    counts deaths (alive -> dead moves) and the cost discount factor of each transition (points 0..n)."""

    names: list[str]
    alive_mask: np.ndarray
    conv: Conventions
    horizon: int
    allowed: np.ndarray
    fields: list[str]
    categorised: list[bool]
    dying: np.ndarray
    flow_discount: np.ndarray

    @classmethod
    def build(
        cls,
        names: list[str],
        alive_mask: np.ndarray,
        conv: Conventions,
        horizon: int,
        strategies: Sequence[MarkovStrategy],
    ) -> Model:
        dying = (alive_mask[:, None] & ~alive_mask[None, :]).astype(float)
        years = conv.cycle_length_years
        flow_discount = discount_factors(
            np.arange(horizon + 1) * years, conv.discount_costs, conv.discount_method, cycle_length_years=years
        )
        fields = [f"strategies[{spec.name}]" for spec in strategies]
        categorised = [spec.values.categorised for spec in strategies]
        allowed = kernel.trace_tolerance(horizon)
        return cls(names, alive_mask, conv, horizon, allowed, fields, categorised, dying, flow_discount)


def _count_flows(x_prev: np.ndarray, m: np.ndarray, values: Values, model: Model, flows: Flows, c: int) -> None:
    """Transition and end-of-life costs of cycle c (counted at the transition, discounted at its time)."""
    tc, eol = values.transition_costs, values.end_of_life
    disc_c = float(model.flow_discount[c])
    if tc is not None:
        cost_c = (x_prev * kernel.leaving(m, tc)).sum(axis=0)  # (B,)
        flows.transitions += disc_c * cost_c
        flows.transitions_undiscounted += cost_c
    if eol is not None:
        deaths = (x_prev * kernel.leaving(m, model.dying)).sum(axis=0)  # (B,) moving alive -> dead
        flows.end_of_life += disc_c * eol * deaths
        flows.end_of_life_undiscounted += eol * deaths


@dataclass
class Output:
    """Everything the strategies' runs write: results (D, strategies) by column, costs by category, the mean
    traces' sums over draws (n+1, S) per strategy and the kept traces (n+1, S, D) per strategy (or None)."""

    columns: dict[str, np.ndarray]
    by_cat: dict[str, np.ndarray]
    constant: dict[str, np.ndarray]
    trace_sums: list[np.ndarray | None]
    kept: list[np.ndarray] | None

    @classmethod
    def allocate(
        cls,
        values: list[Values],
        model: Model,
        n_d: int,
        keep: bool,
        means: bool = True,
        out: Mapping[str, np.ndarray] | None = None,
    ) -> Output:
        """Arrays for every result (every draw and strategy is written by the runs, so not zeroed), cost
        categories in the order the strategies report them (constant ones, the same for every draw, as
        read-only views of one row; zeros where a strategy does not report one), traces kept or not, mean
        traces or not. ``out``: destination arrays (D, strategies) by column name (``cost``, ...,
        ``cost_<category>``) used instead of new ones where the shape fits (see ``run_markov``)."""
        n_k, n_s, n1 = len(values), len(model.names), model.horizon + 1
        given = dict(out or {})

        def array(key: str, zeros: bool) -> np.ndarray:
            dest = given.get(key)
            if (
                isinstance(dest, np.ndarray)
                and dest.shape == (n_d, n_k)
                and dest.dtype == np.float64
                and dest.flags.writeable
            ):
                if zeros:
                    dest[...] = 0.0
                return dest
            return np.zeros((n_d, n_k)) if zeros else np.empty((n_d, n_k))

        columns = {k: array(k, False) for k in RESULT_COLUMNS[1:]}
        constant = _constant_categories(values, n_d)
        by_cat: dict[str, np.ndarray] = {}
        reported = [
            {c for c, _, _ in vals.costs} if categorised else set()
            for vals, categorised in zip(values, model.categorised, strict=True)
        ]
        for vals, categorised in zip(values, model.categorised, strict=True):
            for cat in [c for c, _, _ in vals.costs if categorised] + ["transitions", "end_of_life", "one_off"]:
                if cat not in by_cat:
                    everyone = cat in ("transitions", "end_of_life", "one_off") or all(cat in r for r in reported)
                    by_cat[cat] = constant[cat] if cat in constant else array(f"cost_{cat}", not everyone)
        kept = [np.empty((n1, n_s, n_d)) for _ in values] if keep else None
        sums = [np.zeros((n1, n_s)) for _ in values] if means else [None for _ in values]
        return cls(columns, by_cat, constant, sums, kept)

    def put(self, k: int, block: tuple[int, int], res: dict[str, np.ndarray], cats: dict[str, np.ndarray]) -> None:
        a, b = block
        for name, value in res.items():
            self.columns[name][a:b, k] = value
        for cat, value in cats.items():
            if cat not in self.constant:
                self.by_cat[cat][a:b, k] = value


def _constant_categories(values: list[Values], n_d: int) -> dict[str, np.ndarray]:
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


def _run_strategy(
    k: int,
    fetch: Fetch,
    x0: np.ndarray,
    values: Values,
    strategy_plan: Plan,
    block: tuple[int, int],
    model: Model,
    output: Output,
    chunk: np.ndarray | None,
) -> None:
    """Strategy k over the draws a:b of ``block``: all cycles, its trace integrated a chunk of points at a
    time (in ``chunk`` (K+1, S, >= B), or in its kept trace), results written into ``output``."""
    a, b = block
    n_s, n_b = x0.shape
    horizon = model.horizon
    varying = [r if r.shape[0] == 1 else r[a:b] for r, _, _ in strategy_plan.integrands.varying]
    check = (model.allowed, model.fields[k], model.names, a)
    integ = TraceIntegrals(strategy_plan.integrands, varying, (n_s, n_b), check, output.trace_sums[k])
    if output.kept is not None:
        buf, points = output.kept[k][:, :, a:b], horizon
    else:
        buf, points = chunk[:, :, :n_b], chunk.shape[0] - 1
    buf[0] = x0
    flows = Flows.zeros(n_b)
    events = values.transition_costs is not None or values.end_of_life is not None
    rows = list(buf)  # the views of the points, made once
    step = kernel.step
    pos, t_first, lo = 0, 0, 0
    for c in range(1, horizon + 1):
        m = fetch(c)
        if m.ndim == 3 and m.shape[-1] != n_b:
            raise InputError(f"{model.fields[k]}.transitions", m.shape, f"needs {n_b} draws")
        if events:
            _count_flows(rows[pos], m, values, model, flows, c)
        step(rows[pos], m, rows[pos + 1])
        m = None  # a streamed function's matrices are freed before it builds the next cycle's
        pos += 1
        if pos == points or c == horizon:
            integ.add(buf[lo : pos + 1], t_first + lo)
            if c < horizon:
                buf[0] = rows[pos]
                t_first, pos, lo = t_first + pos, 0, 1
    res, cats = results(values, strategy_plan, integ, flows, block, model, k)
    output.put(k, block, res, cats)


def run_fixed(
    fetchers: list[kernel.Transitions],
    x0: np.ndarray,
    values: list[Values],
    plans: list[Plan],
    model: Model,
    output: Output,
) -> None:
    """All strategies over all draws for a fixed horizon: random-access strategies block by block (the
    block's matrices shared), streamed ones over all draws (see the module docstring). ``x0`` (S, D)."""
    n_s, n_d = x0.shape
    random = [k for k, t in enumerate(fetchers) if t.get is not None]
    streamed = [k for k, t in enumerate(fetchers) if t.get is None]
    if random:
        block = kernel.BLOCK_DRAWS
        n_blocks = -(-n_d // block)
        width = min(block, n_d)
        chunk = None
        if output.kept is None:
            chunk = np.empty((kernel.chunk_points(n_s, width, model.horizon) + 1, n_s, width))
        for a in range(0, n_d, block):
            b = min(n_d, a + block)
            mats = kernel.BlockMatrices(a, b, n_d, model.names)
            for k in random:
                vals = values[k].block(a, b) if n_blocks > 1 else values[k]
                get = fetchers[k].get

                def fetch(c: int, get=get, mats=mats) -> np.ndarray:
                    return mats(get(c))

                _run_strategy(k, fetch, x0[:, a:b], vals, plans[k], (a, b), model, output, chunk)
    for k in streamed:
        chunk = None
        if output.kept is None:
            chunk = np.empty((kernel.chunk_points(n_s, n_d, model.horizon) + 1, n_s, n_d))
        _run_strategy(k, fetchers[k].stream, x0, values[k], plans[k], (0, n_d), model, output, chunk)


def run_open(
    fetchers: list[kernel.Transitions],
    x0: np.ndarray,
    values: list[Values],
    model: Model,
    stop_when_alive_below: float,
) -> tuple[list[np.ndarray], list[Flows], int]:
    """All strategies together, cycle by cycle over all draws, until the share alive in every strategy and
    draw is below ``stop_when_alive_below`` (at most ``model.horizon`` cycles; an even number with Simpson
    counting): the traces (n_done+1, S, D), the costs counted at transitions and n_done."""
    n_s, n_d = x0.shape
    mats = kernel.BlockMatrices(0, n_d, n_d, model.names)
    fetch = [t.stream if t.get is None else (lambda c, get=t.get: mats(get(c))) for t in fetchers]
    cap = min(model.horizon + 1, 256)
    bufs = [np.empty((cap, n_s, n_d)) for _ in fetchers]
    for buf in bufs:
        buf[0] = x0
    flows = [Flows.zeros(n_d) for _ in fetchers]
    for c in range(1, model.horizon + 1):
        if c >= bufs[0].shape[0]:
            bufs = [np.concatenate([buf, np.empty_like(buf)], axis=0) for buf in bufs]
        for k, get in enumerate(fetch):
            m = get(c)
            if m.ndim == 3 and m.shape[-1] != n_d:
                raise InputError(f"{model.fields[k]}.transitions", m.shape, f"needs {n_d} draws")
            if values[k].transition_costs is not None or values[k].end_of_life is not None:
                _count_flows(bufs[k][c - 1], m, values[k], model, flows[k], c)
            kernel.step(bufs[k][c - 1], m, bufs[k][c])
        alive = max(float(buf[c][model.alive_mask].sum(axis=0).max()) for buf in bufs)
        if alive < stop_when_alive_below and (model.conv.counting != "simpson" or c % 2 == 0):
            return [buf[: c + 1] for buf in bufs], flows, c
    raise InputError("max_cycles", model.horizon, "the cohort was still alive at max_cycles; raise it")


def integrate_traces(
    traces: list[np.ndarray], flows: list[Flows], values: list[Values], plans: list[Plan], model: Model, output: Output
) -> None:
    """Integrate whole traces (n+1, S, D) (an open horizon), results written into ``output``."""
    for k, (trace, values_k, plan_k) in enumerate(zip(traces, values, plans, strict=True)):
        n_d = trace.shape[2]
        varying = [r for r, _, _ in plan_k.integrands.varying]
        check = (model.allowed, model.fields[k], model.names, 0)
        integ = TraceIntegrals(plan_k.integrands, varying, trace.shape[1:], check, output.trace_sums[k])
        integ.add(trace, 0)
        res, cats = results(values_k, plan_k, integ, flows[k], (0, n_d), model, k)
        output.put(k, (0, n_d), res, cats)
