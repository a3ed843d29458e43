"""The cohort-trace kernel of :func:`mhtcdt.economics.run_markov`: matrices, checks, the step, the integrals.

Layout: draws last. A trace point is stored (S, B) (state, draw) and a per-draw transition matrix
(S, S, B), so every elementwise operation runs over contiguous draws: one transition of 4,096 draws of
a 4-state model is an einsum over (4, 4, 4,096), four times faster than over (4,096, 4, 4), and a sum
over states is a vectorised add instead of numpy's slow reduction over a short last axis. No BLAS in
the kernel: with few states its threads cost more than the arithmetic (measured 10-50x slower on a
loaded 2-core machine). The public shapes stay draw-first: matrices (D, S, S) are transposed block by
block (:class:`BlockMatrices`), traces are returned as (D, n+1, S) views.

Blocks of draws: with a fixed horizon the engine runs BLOCK_DRAWS draws of one strategy through all
cycles before the next strategy and block, so the block's matrices stay in cache, and integrates the
trace as it goes (:class:`TraceIntegrals`, a few points at a time): no (n+1, S, D) trace is built
unless it is kept (``keep_traces``). A transition function is therefore evaluated for all cycles up
front (:func:`_prefetch`, kept by reference with a fingerprint per return) while it returns arrays
that someone else holds too (its own matrices: keeping them costs no memory); a function that builds
new per-draw matrices every cycle runs cycle by cycle over all draws instead (:class:`CheckedTransitions`),
so at most one cycle of its matrices is alive.

numpy, not numba: a numba kernel would fuse the step and the sums, but importing numba costs about
0.4 s, more than the whole 0.35 s budget of a 10,000-draw PSA process (issue 18); this kernel is used
at every size, so results do not depend on the number of draws.

Checks: every matrix is checked when it is used (a block of per-draw matrices when it is transposed
into the engine's own copy, which is what the step reads; entries >= 0 and rows summing to 1), and
every trace must keep summing to 1 (tested at the last point of every chunk of points, which inherits any
earlier point's error, :meth:`TraceIntegrals.add`).
"""

from __future__ import annotations

import sys
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from mhtcdt.economics.validation import (
    PROBABILITY_ROW_TOLERANCE,
    START_TOLERANCE,
    broadcast_param,
    check_transition_matrices,
)
from mhtcdt.errors import InputError

try:  # numpy >= 2
    from numpy._core.multiarray import c_einsum as _einsum
except ImportError:  # pragma: no cover - numpy 1.x
    try:
        from numpy.core.multiarray import c_einsum as _einsum
    except ImportError:
        _einsum = np.einsum
# ``np.einsum`` is a Python wrapper (array-function dispatch, keyword handling) around ``c_einsum``; called
# directly the step saves 2-3 us per call, 10 % of a 4,096-draw step of a 4-state model. Same arithmetic.

BLOCK_DRAWS = 4096
"""Draws per block of the Markov engine: the matrices (S, S, B) of a 4-state model (128 KiB each) and the
trace points being integrated stay in the 1 MiB L2 cache across all cycles (one step of 4,096 draws costs
7 ns a draw against 17 ns a draw over 65,536, measured on this machine)."""

CHUNK_BYTES = 1 << 20
"""The trace points a block keeps before integrating them (:class:`TraceIntegrals`): at most this many
bytes, and at most CHUNK_POINTS points (the integrals are one einsum per chunk, so fewer, larger chunks
cost fewer calls; smaller ones less memory)."""

CHUNK_POINTS = 8

PREFETCH_BYTES = 256 * 2**20
"""A transition function is evaluated for all cycles up front while the distinct arrays it returns take
at most this many bytes (they are kept by reference until the run ends)."""

Getter = Callable[[int], "Source"]


class Source(NamedTuple):
    """The matrices of one cycle as a getter gives them: ``array`` (S, S), or per draw (D, S, S) draws first
    or (S, S, D) draws last (``last``); ``field`` names it in messages. (S, S) and draws-last arrays are
    checked when the getter is made (one contiguous pass each, ``checked``); draws-first ones are checked
    block by block, on the engine's transposed copy (:class:`BlockMatrices`)."""

    array: np.ndarray
    field: str
    last: bool = False
    checked: bool = False


def draws_last(p: np.ndarray, contiguous: bool = True) -> np.ndarray:
    """Per-draw matrices (D, S, S) as (S, S, D): a contiguous copy, or a view when the matrices are used
    once (a copy only pays when they are used again); (S, S) unchanged (shared by draws)."""
    if p.ndim == 2:
        return p
    view = p.transpose(1, 2, 0)
    return np.ascontiguousarray(view) if contiguous else view


def check_draws_last(m: np.ndarray, field: str, states: Sequence[str], source: np.ndarray) -> None:
    """Entries >= 0 and rows summing to 1 (within PROBABILITY_ROW_TOLERANCE) of draws-last matrices
    m (S, S, B): one min pass and one row sum over contiguous draws (NaN fails the first test).
    On failure :func:`check_transition_matrices` of ``source`` (the matrices as given, draws first) names
    the first bad entry; should it accept them (a row sum on the tolerance, rounded the other way), so
    does this."""
    if m.min() >= 0.0:
        sums = m.sum(axis=1)  # (S, B): the rows
        if sums.max() <= 1.0 + PROBABILITY_ROW_TOLERANCE and sums.min() >= 1.0 - PROBABILITY_ROW_TOLERANCE:
            return
    check_transition_matrices(source, field, states)


class BlockMatrices:
    """Draws ``a:b`` of the matrices of random-access getters, draws last (S, S, B): contiguous, checked
    copies (the engine's own, cache-sized), made once per distinct source array and block and shared by
    every strategy using that array (sources do not change during a run: arrays, or a transition
    function's returns fingerprinted by the prefetch); (S, S) matrices are shared by all draws."""

    MAX_KEPT = 8

    def __init__(self, a: int, b: int, n_draws: int, states: list[str]) -> None:
        self.a, self.b, self.n_draws, self.states = a, b, n_draws, states
        # id -> (source array, block (S, S, B)); holds the source (its id is not reused)
        self._memo: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def __call__(self, src: Source) -> np.ndarray:
        arr = src.array
        if src.checked and arr.ndim == 2:
            return arr
        n_d = arr.shape[-1] if src.last else arr.shape[0]
        if n_d != self.n_draws:
            raise InputError(src.field, arr.shape, f"needs {self.n_draws} draws")
        key = id(arr)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is arr:
            self._memo.move_to_end(key)
            return hit[1]
        if src.checked:  # draws last: the block is a view
            m = arr[:, :, self.a : self.b]
        else:
            m = np.ascontiguousarray(arr[self.a : self.b].transpose(1, 2, 0))
            check_draws_last(m, src.field, self.states, arr)
        self._memo[key] = (arr, m)
        if len(self._memo) > self.MAX_KEPT:
            self._memo.popitem(last=False)  # the least recently used
        return m


class CheckedTransitions:
    """The matrices a transition function returns cycle by cycle, each checked when it is used, draws last.

    An array object returned again is neither checked nor transposed again only if its contents equal,
    exactly, a copy taken when it was checked (a comparison costs a third of a check; copies, and the
    draws-last copy, are made from the second sight on, so a function returning a new array every cycle
    costs no copies, and its arrays are held by weak reference only: at most one cycle of them is alive);
    changed contents are checked again. So no matrix modified in place is ever accepted unchecked."""

    MAX_KEPT = 8

    def __init__(self, field: str, states: list[str], last: bool = False) -> None:
        self.field = field
        self.states = states
        self.last = last  # the function returns per-draw matrices draws last, (S, S, D)
        # id -> (weak reference to the array as returned, copy when checked (from the second sight on) or
        # None, draws-last matrices or None); a dead reference means the id may belong to a new array
        self._kept: dict[int, tuple[weakref.ref, np.ndarray | None, np.ndarray | None]] = {}

    def __call__(self, arr: np.ndarray, cycle: int) -> np.ndarray:
        kept = self._kept.get(id(arr))
        seen = kept is not None and kept[0]() is arr
        if seen:
            _, copy, last = kept
            if copy is not None and arr.shape == copy.shape and bool((arr == copy).all()):
                return last
        field = f"{self.field}(cycle={cycle})"
        n_s = len(self.states)
        checked = np.asarray(arr, dtype=float)
        if self.last and checked.ndim == 3:  # (S, S, D)
            first = np.moveaxis(checked, -1, 0)
            if checked.shape[:2] != (n_s, n_s):
                check_transition_matrices(first, field, self.states)  # names the shape error
            check_draws_last(checked, field, self.states, first)
            to_last = checked
        elif checked.ndim == 3 and checked.shape[1:] == (n_s, n_s) and checked.transpose(1, 2, 0).flags.c_contiguous:
            to_last = checked.transpose(1, 2, 0)  # e.g. the transpose of matrices built draws last
            check_draws_last(to_last, field, self.states, checked)
        else:
            checked = check_transition_matrices(checked, field, self.states)
            if checked.ndim not in (2, 3):
                raise InputError(field, checked.shape, "must return (S, S) or (D, S, S)")
            to_last = draws_last(checked, contiguous=False)
        if checked is not arr or not _weakrefable(arr):  # converted (e.g. from a list): new every time
            return to_last
        if not seen:
            self._kept[id(arr)] = (weakref.ref(arr), None, None)
            if len(self._kept) > self.MAX_KEPT:
                del self._kept[next(iter(self._kept))]  # the oldest
            return to_last
        last = np.ascontiguousarray(to_last)
        self._kept[id(arr)] = (weakref.ref(arr), arr.copy(), last)
        return last


def _weakrefable(arr: object) -> bool:
    try:
        weakref.ref(arr)
    except TypeError:
        return False
    return True


_FINGERPRINT_WEIGHTS = np.random.default_rng(np.random.SeedSequence(18)).uniform(1.0, 2.0, 64)


def _fingerprint(arr: np.ndarray) -> np.ndarray:
    """A weighted sum of the entries with fixed pseudo-random weights in [1, 2): the memory of the array
    as R rows (R = 64, 16, 4 or 1, dividing its size), f = sum_r w_r row_r, so a change of any entry, or
    an exchange of two, changes it (unless smaller than its rounding, ~1e-16 relative, far below any
    check tolerance). One pass with the contiguous axis innermost (0.3 ns an entry, half the cost of
    weighting each matrix's S x S entries), by einsum rather than a BLAS product, whose threads cost 10x
    more than the arithmetic on a loaded 2-core machine; a copy of the contents would double the memory."""
    flat = np.ascontiguousarray(arr).reshape(-1)
    rows = next(r for r in (64, 16, 4, 1) if flat.size % r == 0)
    return _einsum("rd,r->d", flat.reshape(rows, -1), _FINGERPRINT_WEIGHTS[:rows])


def _fresh(refcount: int, ours: int) -> bool:
    """True if an object returned by a call is referenced only by the caller (``ours`` references, plus the
    argument of ``sys.getrefcount``): built for that call, so keeping it costs memory."""
    return refcount <= ours + 1


SourceCache = dict[tuple[int, bool, bool], tuple[object, Source]]


def _source(
    arr: object, field: str, states: list[str], per_draw: bool, last: bool, cache: SourceCache | None = None
) -> Source:
    """``arr`` as float matrices of the expected shape, (S, S), or per draw (D, S, S), or (S, S, D) when
    ``last``. (S, S) and draws-last matrices are checked here (one contiguous pass), draws-first ones later,
    block by block (:class:`BlockMatrices`). ``cache``: the arrays of one run already checked (an array that
    several strategies use, or several cycles, is checked once; held, so its id is not reused)."""
    key = (id(arr), per_draw, last)
    if cache is not None and key in cache and cache[key][0] is arr:
        return cache[key][1]
    src = _checked_source(arr, field, states, per_draw, last)
    if cache is not None:
        cache[key] = (arr, src)
    return src


def _checked_source(arr: object, field: str, states: list[str], per_draw: bool, last: bool) -> Source:
    mats = np.asarray(arr, dtype=float)
    n_s = len(states)
    square = (n_s, n_s)
    ok = mats.ndim == 2 and mats.shape == square
    if per_draw:
        ok = ok or (mats.ndim == 3 and (mats.shape[:2] if last else mats.shape[1:]) == square)
    if not ok:
        check_transition_matrices(np.moveaxis(mats, -1, 0) if last and mats.ndim == 3 else mats, field, states)
        wanted = "(S, S, D)" if last else "(D, S, S)"
        raise InputError(field, mats.shape, f"must be (S, S){f' or {wanted}' if per_draw else ''}")
    if mats.ndim == 2:
        return Source(check_transition_matrices(mats, field, states), field, False, True)
    if last:
        check_draws_last(mats, field, states, np.moveaxis(mats, -1, 0))
        return Source(mats, field, True, True)
    return Source(mats, field)


def _prefetch(
    transitions: Callable[[int], np.ndarray],
    first: np.ndarray,
    n_cycles: int,
    where: tuple[str, list[str]],
    last: bool = False,
) -> list[Source] | None:
    """The matrices of every cycle 1..n of a transition function (``first`` = its value at cycle 1), kept by
    reference: (S, S) arrays checked here, per-draw arrays checked block by block when used; a fingerprint
    of each array the caller's function returns is taken at every return and once more after the last call.
    None if any array kept changed meanwhile (a buffer refilled in place, or an earlier array modified by a
    later call), if the distinct arrays exceed PREFETCH_BYTES, or if the function builds a new per-draw array
    for a cycle (no one else holds it: keeping one per cycle would cost the memory of all cycles): the
    engine then runs the cohort cycle by cycle, checking each matrix when the function returns it.
    ``where`` = (field, states); ``last``: per-draw matrices are returned draws last, (S, S, D)."""
    field, states = where
    kept: dict[int, list] = {}  # id -> [array as returned, fingerprint, last cycle returned, Source]
    by_cycle: list[Source] = []
    total = 0
    for c in range(1, n_cycles + 1):
        arr = first if c == 1 else transitions(c)
        fresh = c > 1 and _fresh(sys.getrefcount(arr), 1)
        seen = kept.get(id(arr))
        if seen is not None and seen[0] is arr:
            if not np.array_equal(_fingerprint(arr), seen[1]):
                return None
            seen[2] = c
            by_cycle.append(seen[3])
            continue
        label = f"{field}(cycle={c})"
        if fresh and np.ndim(arr) == 3:
            return None
        src = _source(arr, label, states, True, last)
        mats = src.array
        total += mats.nbytes
        if total > PREFETCH_BYTES:
            return None
        if mats is arr:  # the caller's array: may change later; a converted value (e.g. a list) is ours
            kept[id(arr)] = [arr, _fingerprint(arr), c, src]
        by_cycle.append(src)
    if any(cycle < n_cycles and not np.array_equal(_fingerprint(a), fp) for a, fp, cycle, _ in kept.values()):
        return None  # an array returned before the last call was changed by a later one
    return by_cycle


class Transitions(NamedTuple):
    """How a strategy's matrices are fetched (:func:`transition_getter`)."""

    get: Callable[[int], Source] | None  # random access: any cycle, any order, repeatedly
    stream: Callable[[int], np.ndarray] | None  # cycle by cycle, in order: draws-last matrices
    n_draws: int | None


def _draw_count(mats: np.ndarray, last: bool) -> int | None:
    return None if mats.ndim == 2 else int(mats.shape[-1] if last else mats.shape[0])


def transition_getter(
    transitions: np.ndarray | Sequence[np.ndarray] | Callable[[int], np.ndarray],
    flags: tuple[bool, bool, bool],
    n_cycles: int,
    field: str,
    states: list[str],
    prefetch: bool = False,
    cache: SourceCache | None = None,
) -> Transitions:
    """The matrices of one strategy: random access (arrays, sequences of arrays per cycle, and transition
    functions evaluated up front with ``prefetch`` for a fixed horizon), ``get(cycle) -> Source`` whose
    arrays do not change during the run (take blocks with :class:`BlockMatrices`); or a stream (a transition
    function evaluated as the cohort runs), ``stream(cycle) -> draws-last matrices (S, S) or (S, S, D)``
    called once per cycle, in order.

    ``flags`` = (per_cycle, draws, draws_last) of the specification (see :mod:`mhtcdt.economics.markov`).
    Per-draw arrays are checked block by block when used; (S, S) and (C, S, S) arrays here. ``cache``: the
    arrays of the run's strategies checked so far (:func:`_source`)."""
    per_cycle, draws, last = flags
    if callable(transitions):
        fetched = transitions(1)
        builds = _fresh(sys.getrefcount(fetched), 1) and np.ndim(fetched) == 3
        if prefetch and not builds:
            by_cycle = _prefetch(transitions, fetched, n_cycles, (field, states), last)
            if by_cycle is not None:  # checked by the prefetch and the blocks
                n_draws = _draw_count(by_cycle[0].array, last)
                return Transitions((lambda c: by_cycle[c - 1]), None, n_draws)
            fetched = transitions(1)  # called again from cycle 1: later calls may have changed it
        checked = CheckedTransitions(field, states, last)
        first = checked(fetched, 1)
        n_draws = first.shape[-1] if first.ndim == 3 else None
        pending = [first]

        def stream(c: int) -> np.ndarray:
            # cycle 1 is the matrix fetched to learn the draw count (the function is called once per cycle),
            # checked when fetched: no call of the function came in between
            if c == 1 and pending:
                return pending.pop()
            return checked(transitions(c), c)

        return Transitions(None, stream, n_draws)
    if per_cycle and isinstance(transitions, (list, tuple)):  # one array per cycle, objects may repeat
        if len(transitions) < n_cycles:
            raise InputError(field, len(transitions), f"has {len(transitions)} cycles of matrices, needs {n_cycles}")
        distinct: dict[int, Source] = {}
        per: list[Source] = []
        for c, arr in enumerate(transitions[:n_cycles], start=1):
            if id(arr) not in distinct:
                distinct[id(arr)] = _source(arr, f"{field}[{c - 1}]", states, draws, last, cache)
            per.append(distinct[id(arr)])
        counts = {_draw_count(src.array, last) for src in distinct.values()} - {None}
        if len(counts) > 1:
            raise InputError(field, sorted(counts), "the per-draw matrices of the cycles differ in draw count")
        return Transitions(lambda c: per[c - 1], None, counts.pop() if counts else None)
    p = np.asarray(transitions, dtype=float)
    expected = 2 + int(per_cycle) + int(draws)
    n_s = len(states)
    square = p.shape[:2] if draws and last and p.ndim >= 2 else p.shape[-2:]
    if per_cycle and draws and last and p.ndim == 4:
        square = p.shape[1:3]  # (C, S, S, D)
    if p.ndim < 2 or square != (n_s, n_s):
        check_transition_matrices(p, field, states)  # names the shape error
        raise InputError(field, p.shape, f"needs {n_s} x {n_s} matrices")
    if p.ndim != expected:
        layout = "(S, S[, C], D)" if last else "((D,) (C,) S, S)"
        raise InputError(
            field, p.shape, f"expected {expected} axes given per_cycle={per_cycle}, draws={draws} {layout}"
        )
    if not draws:
        p = check_transition_matrices(p, field, states)
    n_draws = (p.shape[-1] if last else p.shape[0]) if draws else None
    if per_cycle:
        n_c = p.shape[0] if (last or not draws) else p.shape[1]
        if n_c < n_cycles:
            raise InputError(field, p.shape, f"has {n_c} cycles of matrices, the horizon needs {n_cycles}")
        if draws and not last:  # views, made once; checked block by block
            per = [Source(p[:, c], f"{field}[:, {c}]") for c in range(n_cycles)]
        else:
            per = [_source(p[c], f"{field}[{c}]", states, draws, last) for c in range(n_cycles)]
        return Transitions(lambda c: per[c - 1], None, n_draws)
    whole = _source(transitions, field, states, draws, last, cache) if draws else Source(p, field, False, True)
    return Transitions(lambda c: whole, None, n_draws)


def step(x: np.ndarray, m: np.ndarray, out: np.ndarray) -> np.ndarray:
    """One transition: x (S, B) times m (S, S) or (S, S, B), written into ``out`` (S, B). (Carrying the
    occupancy of absorbing states over instead of multiplying their rows saves nothing: the extra call
    costs what the skipped quarter of a 4-state step saves, measured at 256 to 4,096 draws.)"""
    return _einsum("sk,sd->kd" if m.ndim == 2 else "skd,sd->kd", m, x, out=out)


def leaving(p: np.ndarray, per_move: np.ndarray) -> np.ndarray:
    """Expected value per patient leaving each state, sum_k p[s, k] v[s, k]: (S, 1) or (S, D), for
    p (S, S) or (S, S, D) and per-move values v (S, S) or (S, S, D)."""
    p3 = p if p.ndim == 3 else p[..., None]
    v3 = per_move if per_move.ndim == 3 else per_move[..., None]
    return (p3 * v3).sum(axis=1)


def trace_tolerance(n_cycles: int) -> np.ndarray:
    """Allowed |row sum - 1| of the trace at points 0..n: the start within START_TOLERANCE, and each
    transition's rows within PROBABILITY_ROW_TOLERANCE, so a drift of (1 + tol)^t - 1 after t cycles,
    plus round-off."""
    t = np.arange(n_cycles + 1, dtype=float)
    return START_TOLERANCE + np.expm1(t * np.log1p(PROBABILITY_ROW_TOLERANCE)) + 1e-12 * (t + 1.0)


def check_trace(
    rows: np.ndarray, first: int, allowed: np.ndarray, field: str, states: Sequence[str], first_draw: int = 0
) -> None:
    """The trace points ``first .. first + m - 1``, ``rows`` (m, S, D), are distributions (each sums to 1
    within ``allowed`` (m,) for every draw): a second line of defence behind the matrix checks, an
    InputError naming the first bad cycle and its draw (``first_draw`` = index of the block's first draw)."""
    sums = rows.sum(axis=1)  # (m, D)
    if np.all(sums.min(axis=1) >= 1.0 - allowed) and np.all(sums.max(axis=1) <= 1.0 + allowed):  # NaN fails
        return
    bad = ~(np.abs(sums - 1.0) <= allowed[:, None])
    c, d = (int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))
    sum_cd = float(sums[c, d])
    d += first_draw
    raise InputError(
        f"{field}.trace[cycle={first + c}, draw={d}]",
        sum_cd,
        f"the cohort over {list(states)} sums to {sum_cd:.9g}, not 1: a transition matrix lost or created patients",
    )


@dataclass
class Integrands:
    """What one strategy integrates over its trace, for a horizon of n cycles (built by the engine from its
    state values and counting rules): ``weights`` (W, n+1), one weight per trace point for each distinct
    counting rule x discounting of rewards constant in time; ``varying`` rewards that change by cycle, as
    (reward x weight per point (1|D, n+1, S), first and last point where it is not 0)."""

    weights: np.ndarray
    varying: list[tuple[np.ndarray, int, int]]


class TraceIntegrals:
    """The integrals of one strategy over one block of draws, fed with consecutive trace points.

    ``add(rows, t0)`` takes the points t0 .. t0 + m - 1 (m, S, B), checks that the cohort still sums to 1 (a
    quick min/max test of the chunk's last point, which inherits any earlier point's error; the exact test
    of every point, :func:`check_trace`, only if it fails) and adds them to: the weighted occupancies
    sum_t w_t x_t (W, S, B) (one einsum for every weight vector), the cycle-varying rewards (B,) each (only
    over the points where they are not 0), and the mean trace's sums over draws ``mean_sums`` (n+1, S)
    (None: not wanted). A chunk of points is
    integrated while it is in cache, so no (n+1, S, B) trace is needed."""

    def __init__(
        self,
        integrands: Integrands,
        varying: list[np.ndarray],
        shape: tuple[int, int],
        check: tuple[np.ndarray, str, Sequence[str], int],
        mean_sums: np.ndarray | None,
    ) -> None:
        n_s, n_b = shape
        self.weights = integrands.weights
        self.varying = [(r, lo, hi) for r, (_, lo, hi) in zip(varying, integrands.varying, strict=True)]
        self.occupancy = np.empty((self.weights.shape[0], n_s, n_b))  # written by the first chunk (t0 = 0)
        self._part = np.empty((n_s, n_b))
        self.varying_sums = [np.zeros(n_b) for _ in self.varying]
        self.allowed, self.field, self.states, self.first_draw = check
        self.mean_sums = mean_sums

    def add(self, rows: np.ndarray, t0: int) -> None:
        m = rows.shape[0]
        # The cohort's size is invariant under a transition whose rows sum to 1 (sum_k sum_s x_s p_sk =
        # sum_s x_s), and NaN or inf carry forward, so a point that lost or created patients leaves the
        # last point of its chunk off 1 too: testing that point alone (1/m of the pass over the chunk, 9 %
        # of a 100,000-draw HIV PSA when every point was summed) catches it; then the exact test of
        # check_trace over the chunk names the first bad cycle and draw. (Two bad matrices whose errors
        # cancel within a chunk would pass this second line of defence: the matrix checks are the first.)
        last = np.add.reduce(rows[m - 1], axis=0)  # (B,)
        tol = self.allowed[t0 + m - 1]
        if not (last.min() >= 1.0 - tol and last.max() <= 1.0 + tol):  # NaN fails
            check_trace(rows, t0, self.allowed[t0 : t0 + m], self.field, self.states, self.first_draw)
        if t0 == 0:  # the first chunk: straight into the occupancies
            _einsum("tsd,wt->wsd", rows, self.weights[:, :m], out=self.occupancy)
        else:  # one weight vector at a time: a temporary (S, B), not (W, S, B); the same cost
            for w, occupancy in enumerate(self.occupancy):
                _einsum("tsd,t->sd", rows, self.weights[w, t0 : t0 + m], out=self._part)
                occupancy += self._part
        if self.mean_sums is not None:
            self.mean_sums[t0 : t0 + m] += _einsum("tsd->ts", rows)
        for k, (reward, lo, hi) in enumerate(self.varying):
            a, b = max(lo, t0), min(hi + 1, t0 + m)
            if a >= b:
                continue
            sub = rows[a - t0 : b - t0]
            if reward.shape[0] == 1:
                self.varying_sums[k] += _einsum("tsd,ts->d", sub, reward[0, a:b])
            else:
                self.varying_sums[k] += _einsum("tsd,dts->d", sub, reward[:, a:b])


def chunk_points(n_states: int, n_draws: int, n_cycles: int) -> int:
    """Trace points per chunk of :class:`TraceIntegrals` (CHUNK_BYTES, CHUNK_POINTS), at least 1."""
    return int(max(1, min(CHUNK_POINTS, n_cycles, CHUNK_BYTES // (8 * n_states * max(n_draws, 1)) - 1)))


def reward_array(values: np.ndarray, fld: str, shape: tuple[int, int, int]) -> np.ndarray:
    """Check that a state reward broadcasts to (D, n+1, S); keep the compact shape ((S,) or 3-D)."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim > 3:
        raise InputError(fld, arr.shape, "at most (D, n+1, S)")
    broadcast_param(arr, fld, shape, "(S,), (n+1, S), (D, 1, S) or (D, n+1, S)")
    if arr.ndim == 0:
        return np.full(shape[-1], float(arr))
    if arr.ndim == 2:
        return arr[None]
    return arr
