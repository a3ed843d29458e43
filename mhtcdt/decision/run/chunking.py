"""Chunked work: split items into index chunks, run them on an executor, get the results in index
order, with results identical bit for bit whichever executor and worker count is used.

Model of work
-------------
A *chunk function* ``func(start, stop, seed, *extra)`` computes items ``start .. stop-1`` (patients,
PSA draws, trial replicates). It must draw its randomness per item from
:func:`mhtcdt.seeding.child_sequence` ``(seed, index)`` (keyed by the item's global index), never from
one stream shared by the chunk, so that its output does not depend on where the chunk boundaries
fall. :func:`map_chunks` submits the chunks, retries chunks whose worker died, and returns the chunk
results **in index order**; :func:`fold_chunks` streams them, still in index order, into an
accumulator (``.add(result)``) so a run never holds every item at once. Because every item's random
stream and every floating-point reduction order is fixed by the index alone, serial, 2-process and
n-worker Dask runs agree exactly.

Faults: a chunk whose worker dies is resubmitted up to ``retries`` times; its result is stored once
under its chunk index, so nothing is lost or counted twice. Errors raised by the chunk function
itself (``InputError``, ``ModelError``, any exception from user code) are deterministic and
propagate at once without retry. A chunk computed by other code than the client's is refused
(:mod:`mhtcdt.decision.run.code_identity`).

Chunk functions must be picklable: module-level functions or ``functools.partial`` of them.

Public API: ``map_chunks(func, n_items, chunk_size=None, seed=0, executor=None, **options) -> list``
(index order); ``fold_chunks(func, n_items, accumulator, chunk_size=None, seed=0, executor=None,
**options)``; ``iter_chunks(...)`` (generator); options: ``chunk_args``, ``retries``,
``max_in_flight``, ``progress``; ``executor`` as :func:`mhtcdt.decision.run.executors.open_backend`.
``chunk_bounds``, ``default_chunk_size``, ``concat_results``.
"""

from __future__ import annotations

import math
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from mhtcdt.decision.run.code_identity import loaded_code_hashes, mismatched_modules
from mhtcdt.decision.run.executors import open_backend
from mhtcdt.errors import InputError, InputErrors, ModelError
from mhtcdt.seeding import SeedLike, root_sequence

DEFAULT_RETRIES = 3


def chunk_bounds(n_items: int, chunk_size: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``0 .. n_items-1`` in order, each at most ``chunk_size`` long."""
    if isinstance(n_items, bool) or int(n_items) < 0:
        raise InputError("n_items", n_items, "number of items must be an integer >= 0")
    if isinstance(chunk_size, bool) or int(chunk_size) < 1:
        raise InputError("chunk_size", chunk_size, "chunk size must be an integer >= 1")
    return [(s, min(s + chunk_size, n_items)) for s in range(0, n_items, chunk_size)]


def default_chunk_size(n_items: int, n_workers: int, per_worker: int = 4, max_size: int | None = None) -> int:
    """About ``per_worker`` chunks per worker (load balance, retry granularity), capped at ``max_size``."""
    size = max(1, math.ceil(n_items / max(1, per_worker * n_workers)))
    return min(size, max_size) if max_size else size


@dataclass(frozen=True)
class _ChunkFailure:
    """A package error raised in a worker, carried back as data.

    ``InputError``/``ModelError`` keep extra constructor arguments that default exception pickling
    loses (unpickling them in the parent would fail and break the process pool), so the worker
    returns their fields and the parent raises the same error again.
    """

    kind: str
    items: tuple[tuple[str, Any, str], ...] = ()
    text: str = ""

    @classmethod
    def of(cls, exc: BaseException) -> _ChunkFailure:
        if isinstance(exc, InputError):
            return cls("InputError", ((exc.field, _picklable(exc.value), exc.message),))
        if isinstance(exc, InputErrors):
            return cls("InputErrors", tuple((e.field, _picklable(e.value), e.message) for e in exc.errors))
        return cls("ModelError", (), str(exc))

    def reraise(self) -> None:
        if self.kind == "InputError":
            raise InputError(*self.items[0])
        if self.kind == "InputErrors":
            raise InputErrors([InputError(*item) for item in self.items])
        raise ModelError(self.text)


def _picklable(value: Any) -> Any:
    import pickle

    try:
        pickle.dumps(value)
        return value
    except Exception:  # noqa: BLE001 - any unpicklable value is shown by its repr instead
        return repr(value)


@dataclass(frozen=True)
class _ChunkResult:
    value: Any
    code: dict[str, str] | None


def _run_chunk(
    func: Callable[..., Any],
    start: int,
    stop: int,
    seed: SeedLike,
    extra: tuple,
    numba_threads: int | None,
    check_code: bool = False,
) -> Any:
    """Runs in the worker: limit numba threads, then compute items ``start .. stop-1``."""
    if numba_threads:
        if "numba" in sys.modules:
            import numba

            numba.set_num_threads(min(numba_threads, numba.config.NUMBA_NUM_THREADS))
        else:
            os.environ.setdefault("NUMBA_NUM_THREADS", str(numba_threads))
    try:
        value = func(start, stop, seed, *extra)
        return _ChunkResult(value, loaded_code_hashes() if check_code else None)
    except (InputError, InputErrors, ModelError) as exc:
        return _ChunkFailure.of(exc)


def iter_chunks(
    func: Callable[..., Any],
    n_items: int,
    chunk_size: int | None = None,
    seed: SeedLike = 0,
    executor: Any = None,
    *,
    chunk_args: Callable[[int, int], tuple] | None = None,
    retries: int = DEFAULT_RETRIES,
    max_in_flight: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> Iterator[Any]:
    """Yield the results of ``func(start, stop, seed, *chunk_args(start, stop))`` chunk by chunk, in
    index order, whatever order the workers finish in.

    ``chunk_args`` (evaluated in the calling process) supplies per-chunk data, e.g. the slice of a
    patient table. At most ``max_in_flight`` chunks (default ``2 * workers + 1``) are submitted or
    waiting to be yielded at once, which bounds memory for streaming runs.
    """
    seed = root_sequence(seed)
    backend = open_backend(executor)
    numba_threads = None if backend.name == "serial" else 1
    # Serial chunks run the code already imported here; other workers must prove they run the same.
    expected_code = None if backend.name == "serial" else loaded_code_hashes()
    try:
        size = int(chunk_size) if chunk_size is not None else default_chunk_size(n_items, backend.n_workers)
        bounds = chunk_bounds(n_items, size)
        limit = max_in_flight or (2 * backend.n_workers + 1)
        token = uuid.uuid4().hex[:12]
        fname = getattr(func, "__name__", None) or getattr(getattr(func, "func", None), "__name__", "chunk")
        attempts = [0] * len(bounds)
        queue = list(range(len(bounds)))[::-1]  # pop() from the end gives chunks in index order
        in_flight: dict[Any, int] = {}
        ready: dict[int, Any] = {}
        next_out = 0

        def submit(i: int) -> None:
            start, stop = bounds[i]
            extra = tuple(chunk_args(start, stop)) if chunk_args is not None else ()
            key = f"mhtcdt-{fname}-{token}-c{i}-a{attempts[i]}"
            args = (func, start, stop, seed, extra, numba_threads, expected_code is not None)
            in_flight[backend.submit(_run_chunk, args, key)] = i

        while next_out < len(bounds):
            # the next chunk to yield is always let through, so a full buffer cannot stall the run
            while queue and (len(in_flight) + len(ready) < limit or queue[-1] == next_out):
                submit(queue.pop())
            for fut in backend.wait_first(list(in_flight)):
                if fut not in in_flight:  # requeued after a pool failure handled earlier in this batch
                    continue
                i = in_flight.pop(fut)
                try:
                    result = fut.result()
                except BaseException as exc:
                    if not backend.is_infrastructure_error(exc):
                        raise
                    attempts[i] += 1
                    if attempts[i] > retries:
                        raise ModelError(
                            f"chunk {i} (items {bounds[i][0]}..{bounds[i][1] - 1}) failed "
                            f"{attempts[i]} times on the {backend.name} executor: {type(exc).__name__}: {exc}"
                        ) from exc
                    if backend.name == "processes":
                        # A broken pool fails every pending future: requeue them all on a fresh pool.
                        for other, j in list(in_flight.items()):
                            other.cancel()
                            attempts[j] += 1
                            queue.append(j)
                        in_flight.clear()
                        backend.recover()
                    queue.append(i)
                    queue.sort(reverse=True)
                    continue
                if isinstance(result, _ChunkFailure):
                    result.reraise()
                differing = mismatched_modules(expected_code, result.code) if expected_code is not None else []
                if differing:
                    raise ModelError(
                        f"a {backend.name} worker runs different code for {', '.join(differing[:5])} than "
                        "this process: install the same mhtcdt on every worker and do not edit the "
                        "package during a run"
                    )
                result = result.value
                if i not in ready and i >= next_out:  # a chunk is stored once: never counted twice
                    ready[i] = result
            while next_out in ready:
                yield ready.pop(next_out)
                next_out += 1
                if progress is not None:
                    progress(next_out / len(bounds))
    finally:
        backend.close()


def map_chunks(
    func: Callable[..., Any],
    n_items: int,
    chunk_size: int | None = None,
    seed: SeedLike = 0,
    executor: Any = None,
    **options: Any,
) -> list[Any]:
    """Run ``func(start, stop, seed, ...)`` over chunks of ``range(n_items)``; the results in index order.

    ``executor``: ``"serial"``, ``"processes"``, ``"dask"``, an
    :class:`~mhtcdt.decision.run.executors.ExecutorSpec` (worker count, scheduler address: see
    :func:`~mhtcdt.decision.run.executors.resolve_executor`), a ``ProcessPoolExecutor`` or a
    ``distributed.Client``. Other options as :func:`iter_chunks` (``chunk_args``, ``retries``,
    ``max_in_flight``, ``progress``).
    """
    return list(iter_chunks(func, n_items, chunk_size, seed, executor, **options))


class Accumulator(Protocol):
    def add(self, chunk_result: Any) -> None: ...


def fold_chunks(
    func: Callable[..., Any],
    n_items: int,
    accumulator: Accumulator,
    chunk_size: int | None = None,
    seed: SeedLike = 0,
    executor: Any = None,
    **options: Any,
) -> Accumulator:
    """Like :func:`map_chunks` but streams each chunk result, in index order, into ``accumulator.add``
    and drops it, so memory holds only the accumulator and the chunks in flight. Returns ``accumulator``."""
    for result in iter_chunks(func, n_items, chunk_size, seed, executor, **options):
        accumulator.add(result)
    return accumulator


def concat_results(results: Sequence[Any]) -> Any:
    """Concatenate chunk results: DataFrames row-wise (fresh index), arrays along axis 0."""
    if not results:
        raise InputError("results", results, "no chunk results to concatenate")
    first = results[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(results, axis=0)
    import pandas as pd

    if isinstance(first, pd.DataFrame):
        return pd.concat(results, ignore_index=True)
    raise InputError("results", type(first).__name__, "can only concatenate numpy arrays or DataFrames")
