"""The cohort-trace kernel of :func:`mhtcdt.economics.run_markov`: transitions, checks and integrals.

Layout: draws last. A trace is stored (n+1, S, D) (point, state, draw) and a per-draw transition matrix
(S, S, D), so every elementwise operation runs over contiguous draws: one transition of 10,000 draws of
a 4-state model is an einsum over (4, 4, 10,000) four times faster than over (10,000, 4, 4), and the sum
of a trace row over states is a vectorised add instead of numpy's slow reduction over a short last
axis. No BLAS products in the step: with few states their threads cost more than the arithmetic
(measured 10-50x slower on a loaded 2-core machine). The public shapes stay draw-first: matrices
(D, S, S) are transposed block by block (:class:`BlockMatrices`), traces are returned as (D, n+1, S)
views.

Blocks of draws: with a fixed horizon the engine runs BLOCK_DRAWS draws through all cycles before the
next block, so the block's matrices and trace stay in cache and no (D, n+1, S) trace is built unless it
is asked for. A transition function is therefore evaluated for all cycles up front (:func:`_prefetch`,
kept by reference with a fingerprint per array); if it changes an array it returned, or its arrays
exceed PREFETCH_BYTES, all draws run cycle by cycle (:class:`CheckedTransitions`).

numpy, not numba: a numba kernel would fuse the step and the sums, but importing numba costs about
0.4 s, more than the whole 0.35 s budget of a 10,000-draw PSA process (issue 18); the blocked numpy
kernel is used at every size, so results do not depend on the number of draws.

Checks: every matrix is checked when it is used, and every row of every trace must sum to 1
(:func:`check_trace`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mhtcdt.economics.conventions import counting_weights, cycle_average_trace
from mhtcdt.economics.validation import PROBABILITY_ROW_TOLERANCE, broadcast_param, check_transition_matrices
from mhtcdt.errors import InputError

START_TOLERANCE = 1e-6
"""Absolute tolerance on |sum of the start distribution - 1|."""

Getter = Callable[[int], np.ndarray]


def draws_last(p: np.ndarray, contiguous: bool = True) -> np.ndarray:
    """Per-draw matrices (D, S, S) as (S, S, D): a contiguous copy, or a view when the matrices are used
    once (a copy only pays when they are used again); (S, S) unchanged (shared by draws)."""
    if p.ndim == 2:
        return p
    view = p.transpose(1, 2, 0)
    return np.ascontiguousarray(view) if contiguous else view


class CheckedTransitions:
    """The matrices a transition function returns, each checked when it is used, in draws-last layout.

    An array object returned again is neither checked nor transposed again only if its contents equal,
    exactly, a copy taken when it was checked (a comparison costs a third of a check; copies, and the
    draws-last copy, are made from the second sight on, so a function returning a new array every cycle
    costs no copies: its matrices are used through a draws-last view); changed contents are checked
    again. So no matrix modified in place is ever accepted unchecked."""

    MAX_KEPT = 8

    def __init__(self, field: str, states: list[str]) -> None:
        self.field = field
        self.states = states
        # id -> (array as returned, copy when checked (from the second sight on) or None, draws-last
        # matrices); the array itself is held, so its id is not reused while it is kept
        self._kept: dict[int, tuple[np.ndarray, np.ndarray | None, np.ndarray]] = {}

    def __call__(self, arr: np.ndarray, cycle: int) -> np.ndarray:
        kept = self._kept.get(id(arr))
        seen = kept is not None and kept[0] is arr
        if seen:
            _, copy, last = kept
            if copy is not None and arr.shape == copy.shape and bool((arr == copy).all()):
                return last
        checked = check_transition_matrices(arr, f"{self.field}(cycle={cycle})", self.states)
        if checked.ndim not in (2, 3):
            raise InputError(f"{self.field}(cycle={cycle})", checked.shape, "must return (S, S) or (D, S, S)")
        if checked is not arr:  # converted (e.g. from a list): a new object every time, not kept
            return draws_last(checked, contiguous=False)
        if not seen:
            self._kept[id(arr)] = (arr, None, arr)
            if len(self._kept) > self.MAX_KEPT:
                del self._kept[next(iter(self._kept))]  # the oldest
            return draws_last(arr, contiguous=False)
        last = draws_last(arr)
        self._kept[id(arr)] = (arr, arr.copy(), last)
        return last


PREFETCH_BYTES = 256 * 2**20
"""A transition function is evaluated for all cycles up front (so the engine can run block of draws by
block of draws) while the distinct arrays it returns take at most this many bytes (they are kept by
reference until the run ends); beyond it the engine runs all draws cycle by cycle."""

BLOCK_DRAWS = 4096
"""Draws per block of the Markov engine: the matrices (S, S, B) and the block trace (n+1, S, B) of a
4-state model stay in the 1 MiB L2 / 16 MiB L3 cache across all cycles (one einsum step of 4,096 draws
costs 7 ns a draw against 17 ns a draw over 65,536, measured on this machine)."""


_FINGERPRINT_WEIGHTS = np.random.default_rng(np.random.SeedSequence(18)).uniform(1.0, 2.0, 4096)


def _fingerprint(arr: np.ndarray) -> np.ndarray:
    """Per matrix, a weighted sum of its entries with fixed pseudo-random weights in [1, 2): a change of
    any entry changes it (unless smaller than its rounding, ~1e-16 relative, far below any check
    tolerance). One pass, (..., S, S) -> (...,), by einsum rather than a BLAS product, whose threads cost
    10x more than the arithmetic on a loaded 2-core machine; a copy of the contents instead would double
    the memory of the matrices."""
    m = arr.shape[-1] * arr.shape[-2]
    return np.einsum("dj,j->d", np.ascontiguousarray(arr).reshape(-1, m), _FINGERPRINT_WEIGHTS[:m])


def _prefetch(
    transitions: Callable[[int], np.ndarray], first: np.ndarray, n_cycles: int, field: str, states: list[str]
) -> list[np.ndarray] | None:
    """The checked matrices of every cycle 1..n of a transition function (``first`` = its value at cycle
    1), kept by reference: each distinct array checked once, and its fingerprint taken at every return and
    once more after the last call. None if any array kept changed meanwhile (a buffer refilled in place,
    or an earlier array modified by a later call) or the distinct arrays exceed PREFETCH_BYTES: the engine
    then runs the cohort cycle by cycle, checking each matrix when the function returns it."""
    kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id -> (array as returned, fingerprint when checked)
    by_cycle: list[np.ndarray] = []
    total = 0
    for c in range(1, n_cycles + 1):
        arr = first if c == 1 else transitions(c)
        seen = kept.get(id(arr))
        if seen is not None and seen[0] is arr:
            if not np.array_equal(_fingerprint(arr), seen[1]):
                return None
            by_cycle.append(arr)
            continue
        checked = check_transition_matrices(arr, f"{field}(cycle={c})", states)
        if checked.ndim not in (2, 3):
            raise InputError(f"{field}(cycle={c})", checked.shape, "must return (S, S) or (D, S, S)")
        total += checked.nbytes
        if total > PREFETCH_BYTES:
            return None
        if checked is arr:  # the caller's array: may change later; a converted value (e.g. a list) is ours
            kept[id(arr)] = (arr, _fingerprint(arr))
        by_cycle.append(checked)
    if any(not np.array_equal(_fingerprint(arr), fp) for arr, fp in kept.values()):
        return None
    return by_cycle


def transition_getter(
    transitions: np.ndarray | Callable[[int], np.ndarray],
    flags: tuple[bool, bool],
    n_cycles: int,
    field: str,
    states: list[str],
    prefetch: bool = False,
) -> tuple[Getter, int | None, bool]:
    """(get(cycle) -> checked matrices, number of draws or None, random access) of one strategy.

    With random access (arrays, and transition functions evaluated up front with ``prefetch`` for a fixed
    horizon) ``get`` may be called for any cycle, in any order and repeatedly, and returns (S, S) or
    (D, S, S) arrays that do not change during the run (take blocks with :class:`BlockMatrices`);
    otherwise (a transition function evaluated as the cohort runs) only once per cycle, in order, and it
    returns draws-last matrices (S, S) or (S, S, D).

    ``flags`` = (per_cycle, draws) of an array specification (see :mod:`mhtcdt.economics.markov`)."""
    per_cycle, draws = flags
    if callable(transitions):
        checked = CheckedTransitions(field, states)
        fetched = transitions(1)
        by_cycle = _prefetch(transitions, fetched, n_cycles, field, states) if prefetch else None
        if by_cycle is not None:  # checked by the prefetch
            return (lambda c: by_cycle[c - 1]), (by_cycle[0].shape[0] if by_cycle[0].ndim == 3 else None), True
        first = checked(fetched, 1) if not prefetch else checked(transitions(1), 1)
        n_draws = first.shape[-1] if first.ndim == 3 else None

        def get(c: int) -> np.ndarray:
            # cycle 1 uses the matrix fetched to learn the draw count (the function is called once per
            # cycle), checked again when used: it may have been modified meanwhile; after a prefetch the
            # function is called again from cycle 1 (the prefetch's later calls may have changed it)
            return checked(transitions(c) if c > 1 or prefetch else fetched, c)

        return get, n_draws, False
    p = check_transition_matrices(transitions, field, states)
    expected = 2 + int(per_cycle) + int(draws)
    if p.ndim != expected:
        raise InputError(
            field, p.shape, f"expected {expected} axes given per_cycle={per_cycle}, draws={draws} ((D,) (C,) S, S)"
        )
    n_draws = p.shape[0] if draws else None
    if per_cycle:
        n_c = p.shape[1] if draws else p.shape[0]
        if n_c < n_cycles:
            raise InputError(field, p.shape, f"has {n_c} cycles of matrices, the horizon needs {n_cycles}")
        return ((lambda c: p[:, c - 1]) if draws else (lambda c: p[c - 1])), n_draws, True
    return (lambda c: p), n_draws, True


class BlockMatrices:
    """Draws ``a:b`` of the matrices of a random-access getter, draws last (S, S, B) (contiguous copies,
    cache-sized), each distinct source array transposed once per block (sources do not change during a
    run: arrays checked once, or copies taken by the prefetch); (S, S) is shared by all draws."""

    def __init__(self, get: Getter, a: int, b: int) -> None:
        self.get, self.a, self.b = get, a, b
        self._memo: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id -> (source, block); holds the source

    def __call__(self, c: int) -> np.ndarray:
        p = self.get(c)
        if p.ndim == 2:
            return p
        hit = self._memo.get(id(p))
        if hit is None or hit[0] is not p:
            hit = (p, np.ascontiguousarray(p[self.a : self.b].transpose(1, 2, 0)))
            self._memo[id(p)] = hit
        return hit[1]


def step(x: np.ndarray, p: np.ndarray, out: np.ndarray) -> np.ndarray:
    """One transition: x (S, D) times p (S, S) or (S, S, D), written into ``out`` (S, D)."""
    if p.ndim == 2:
        return np.einsum("sk,sd->kd", p, x, out=out)
    return np.einsum("sd,skd->kd", x, p, out=out)


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


TRACE_CHECK_PER_CYCLE_VALUES = 8192
"""Trace rows of at least this many values (states x draws) are checked cycle by cycle, while they are
in cache; smaller ones all at once at the end (fewer numpy calls). Measured on the benchmark's HIV
(4 x 10,000) and 5-state (5 x 1,000) models."""


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


class TraceIntegrator:
    """sum_t weights_t sum_s trace[t, s, d] reward[d, t, s] for a trace (n+1, S, D).

    The weighted occupancy sum_t weights_t trace[t] (S, D) is computed once per weight vector and
    cached, so time-constant rewards cost O(S D); rewards varying by cycle, shape (1, n+1, S) or
    (D, n+1, S), are contracted directly."""

    def __init__(self, trace: np.ndarray) -> None:
        self.trace = trace
        self._cache: dict[bytes, np.ndarray] = {}

    def occupancy(self, weights: np.ndarray) -> np.ndarray:
        key = weights.tobytes()
        if key not in self._cache:
            self._cache[key] = np.einsum("tsd,t->sd", self.trace, weights)
        return self._cache[key]

    def sum(self, weights: np.ndarray, reward: np.ndarray) -> np.ndarray:
        """(D,) for a reward (S,), (D|1, 1, S), (1, n+1, S) or (D, n+1, S) (see :func:`reward_array`)."""
        if reward.ndim <= 1:
            return (self.occupancy(weights) * reward[:, None]).sum(axis=0)
        if reward.shape[1] == 1:
            return (self.occupancy(weights) * reward[:, 0, :].T).sum(axis=0)
        if reward.shape[0] == 1:
            return np.einsum("tsd,ts->d", self.trace, reward[0] * weights[:, None])
        return np.einsum("tsd,dts->d", self.trace, reward * weights[None, :, None])


class CountingRules:
    """The integrators and weights of the counting rules one strategy uses: point rules weight the
    trace, ``"cycle_average"`` the cycle-average trace (built on first use)."""

    def __init__(self, trace: np.ndarray) -> None:
        self.trace = trace
        self.times = np.arange(trace.shape[0], dtype=float)  # in cycles
        self._integrators: dict[bool, TraceIntegrator] = {}

    def rule(self, counting: str | Sequence[float], cycle_zero: str) -> tuple[TraceIntegrator, np.ndarray]:
        averaged = isinstance(counting, str) and counting == "cycle_average"
        if averaged not in self._integrators:
            self._integrators[averaged] = TraceIntegrator(cycle_average_trace(self.trace) if averaged else self.trace)
        return self._integrators[averaged], counting_weights(self.times, counting, cycle_zero)


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
