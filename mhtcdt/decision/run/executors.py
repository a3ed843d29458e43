"""The executor seam: split work into index chunks and run them serially, on local processes or on a
Dask distributed cluster, with results identical bit for bit whichever is used.

Model of work
-------------
A *chunk function* ``func(start, stop, seed, *extra)`` computes items ``start .. stop-1`` (patients,
PSA draws, trial replicates). It must draw its randomness per item from :func:`item_sequence`
(``SeedSequence`` keyed by the item's global index), never from one stream shared by the chunk, so
that its output does not depend on where the chunk boundaries fall. :func:`map_chunks` submits the
chunks, retries chunks whose worker died, and returns the chunk results **in index order**;
:func:`fold_chunks` streams them, still in index order, into an accumulator (``.add(result)``) so a
run never holds every item at once. Because every item's random stream and every floating-point
reduction order is fixed by the index alone, serial, 2-process and n-worker Dask runs agree exactly.

Executors (:func:`resolve_executor`)
------------------------------------
* ``"serial"``     in this process (debugging, tiny runs);
* ``"processes"``  ``concurrent.futures.ProcessPoolExecutor`` with the ``forkserver`` start method
  (``spawn`` where unavailable), one worker per usable core: the default on one machine;
* ``"dask"``       a Dask distributed cluster: chosen by ``scheduler="tcp://host:8786"`` or the
  ``DASK_SCHEDULER_ADDRESS`` environment variable. Dask is imported lazily, only here; the core
  layers (physics, cohorts, economics) never import it.
A ``concurrent.futures.Executor`` or a ``distributed.Client`` object may also be passed directly.

Threads inside workers: each worker process runs one chunk at a time and numba inside it is limited
to ``numba_threads`` threads (default 1 for processes and Dask: numba's default ``workqueue``
threading layer is not safe when several threads of one process call parallel kernels, and the
``tbb`` layer is not installed here). Dask submissions use ``pure=False`` and a key containing the
chunk index and attempt, so identical-looking calls are never deduplicated.

Faults: a chunk whose worker dies (``BrokenProcessPool`` for local processes; a lost worker for Dask,
which the scheduler first reschedules itself) is resubmitted up to ``retries`` times; its result is
stored once under its chunk index, so nothing is lost or counted twice. Errors raised by the chunk
function itself (``InputError``, ``ModelError``, any exception from user code) are deterministic and
propagate at once without retry.

Code identity: every worker returns, with each chunk, the SHA-256 of each ``mhtcdt`` module it has
loaded (:func:`loaded_code_hashes`); a chunk computed by different code than the client's (another
installed version on a cluster node, or a package edited while the run was under way) is refused
with a ``ModelError`` instead of being mixed into the result.

Chunk functions must be picklable: module-level functions or ``functools.partial`` of them.

Public API
----------
``map_chunks(func, n_items, chunk_size=None, seed=0, executor=None, **options) -> list`` (index order);
``fold_chunks(func, n_items, accumulator, chunk_size=None, seed=0, executor=None, **options)``;
``iter_chunks(...)`` (generator); options: ``scheduler``, ``n_workers``, ``chunk_args``, ``retries``,
``max_in_flight``, ``progress``. ``item_sequence(seed, index)``, ``item_rng(seed, index)``,
``root_sequence(seed)``, ``chunk_bounds``, ``default_chunk_size``, ``concat_results``.
``resolve_executor(executor=None, scheduler=None, n_workers=None) -> ExecutorSpec``,
``add_executor_arguments(parser)`` / ``executor_from_args(args)`` (``--executor``, ``--scheduler``,
``--workers``), ``local_process_pool(n_workers)``, ``local_dask_cluster(n_workers)``,
``code_fingerprint()``.
Drivers: ``cohort_chunked(indication, n, seed, executor)`` (= ``generate_cohort``),
``physics_chunked(patients, protocol, seed, executor)`` (= ``simulate_protocol``),
``replicate_trials_chunked(pools, design, n_patients, n_replicates, seed, *, reference_arm,
experimental_arm, executor, chunk_size=25, **engine_kwargs)`` (``power.simulate_replicates`` rows,
``replicate`` = global index). PSA and large trials: :mod:`mhtcdt.decision.run.stream_trial`.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from mhtcdt.errors import InputError, InputErrors, ModelError

SeedLike = int | np.random.SeedSequence

EXECUTOR_KINDS = ("serial", "processes", "dask")
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
DEFAULT_RETRIES = 3
_THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# --------------------------------------------------------------------------------------------------
# Keyed seeding
# --------------------------------------------------------------------------------------------------
def root_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """The ``SeedSequence`` of a run: ``seed`` itself, or ``SeedSequence(seed)`` for a non-negative int."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise InputError("seed", seed, "seed must be a non-negative integer or a numpy SeedSequence")
    return np.random.SeedSequence(int(seed))


def item_sequence(seed: SeedLike, index: int) -> np.random.SeedSequence:
    """The ``SeedSequence`` of item ``index`` (patient, draw or replicate) of a run.

    Equal to ``root_sequence(seed).spawn(index + 1)[index]`` (same entropy, spawn key extended by the
    index) but computed directly, so any worker can build item ``index`` without the others.
    """
    root = root_sequence(seed)
    if index < 0:
        raise InputError("index", index, "item index must be >= 0")
    return np.random.SeedSequence(
        entropy=root.entropy, spawn_key=(*root.spawn_key, int(index)), pool_size=root.pool_size
    )


def item_rng(seed: SeedLike, index: int) -> np.random.Generator:
    """A PCG64 ``Generator`` for item ``index`` (see :func:`item_sequence`)."""
    return np.random.Generator(np.random.PCG64(item_sequence(seed, index)))


# --------------------------------------------------------------------------------------------------
# Code identity: workers must run the same mhtcdt as the client
# --------------------------------------------------------------------------------------------------
_MODULE_HASHES: dict[str, str] = {}


def loaded_code_hashes() -> dict[str, str]:
    """SHA-256 of the source file of every ``mhtcdt`` module loaded in this process, by module name.

    A module is hashed the first time it is seen loaded and the hash is kept: it stands for the code
    the process runs even if the file is edited later. Workers return theirs with each chunk and the
    client refuses a chunk whose modules differ from its own (e.g. a Dask worker with another
    installed version, or a worker started after the package was edited), since its results would
    not be those of the client's code.
    """
    import hashlib

    for name, module in list(sys.modules.items()):
        if name in _MODULE_HASHES or not (name == "mhtcdt" or name.startswith("mhtcdt.")):
            continue
        path = getattr(module, "__file__", None)
        if path and path.endswith(".py") and os.path.exists(path):
            with open(path, "rb") as handle:
                _MODULE_HASHES[name] = hashlib.sha256(handle.read()).hexdigest()
    return dict(_MODULE_HASHES)


def code_fingerprint() -> str:
    """One SHA-256 over :func:`loaded_code_hashes` (for provenance records)."""
    import hashlib

    digest = hashlib.sha256()
    for name, value in sorted(loaded_code_hashes().items()):
        digest.update(f"{name}={value};".encode())
    return digest.hexdigest()


def _code_mismatch(client: dict[str, str], worker: dict[str, str]) -> list[str]:
    return sorted(name for name in client.keys() & worker.keys() if client[name] != worker[name])


# --------------------------------------------------------------------------------------------------
# Executor choice
# --------------------------------------------------------------------------------------------------
def usable_cores() -> int:
    """Cores this process may run on (CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ExecutorSpec:
    """Which executor to use: ``kind`` in ``EXECUTOR_KINDS``, worker count, scheduler address."""

    kind: str
    n_workers: int
    scheduler_address: str | None = None
    numba_threads: int | None = 1

    def describe(self) -> str:
        """Short text for logs and the results store, e.g. ``dask(tcp://h:8786)`` or ``processes(2)``."""
        if self.kind == "dask":
            return f"dask({self.scheduler_address})"
        return f"{self.kind}({self.n_workers})"


def resolve_executor(
    executor: str | ExecutorSpec | None = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
) -> ExecutorSpec:
    """Decide the executor: explicit ``executor`` > ``scheduler`` > ``$DASK_SCHEDULER_ADDRESS`` > processes.

    ``executor="dask"`` without an address (argument or environment) is an error; so is a scheduler
    address that is not ``tcp://``, ``tls://``, ``inproc://`` or ``ucx://`` followed by a host.
    """
    if isinstance(executor, ExecutorSpec):
        return executor
    if executor is not None and executor not in EXECUTOR_KINDS:
        raise InputError("executor", executor, f"unknown executor; choose one of {', '.join(EXECUTOR_KINDS)}")
    if n_workers is not None and (isinstance(n_workers, bool) or int(n_workers) < 1):
        raise InputError("workers", n_workers, "number of workers must be an integer >= 1")
    address = scheduler or (os.environ.get(SCHEDULER_ENV) or None if executor in (None, "dask") else None)
    kind = executor or ("dask" if address else "processes")
    if kind == "dask":
        if not address:
            raise InputError(
                "scheduler", address,
                f"the dask executor needs --scheduler tcp://host:port or ${SCHEDULER_ENV}",
            )
        _check_address(address)
        return ExecutorSpec("dask", n_workers or 0, address)
    if scheduler:
        raise InputError(
            "scheduler", scheduler, f"a scheduler address only applies to the dask executor, not {kind}"
        )
    if kind == "serial":
        return ExecutorSpec("serial", 1, None, None)
    return ExecutorSpec("processes", int(n_workers or usable_cores()))


def _check_address(address: str) -> None:
    scheme, sep, rest = address.partition("://")
    if not sep or scheme not in ("tcp", "tls", "inproc", "ucx") or not rest:
        raise InputError("scheduler", address, "expected a Dask scheduler address such as tcp://host:8786")


def add_executor_arguments(parser: Any) -> None:
    """Add ``--executor``, ``--scheduler`` and ``--workers`` to an ``argparse`` (sub)parser."""
    parser.add_argument(
        "--executor", choices=EXECUTOR_KINDS, default=None,
        help="where chunks run (default: dask if a scheduler address is given, else local processes)",
    )
    parser.add_argument(
        "--scheduler", default=None, metavar="ADDRESS",
        help=f"Dask scheduler address, e.g. tcp://host:8786 (default ${SCHEDULER_ENV})",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="local worker processes (default: one per core)"
    )


def executor_from_args(args: Any) -> ExecutorSpec:
    """The :class:`ExecutorSpec` chosen by the options of :func:`add_executor_arguments`."""
    return resolve_executor(
        getattr(args, "executor", None), getattr(args, "scheduler", None), getattr(args, "workers", None)
    )


# --------------------------------------------------------------------------------------------------
# Backends: a tiny common interface over serial, process pool and Dask
# --------------------------------------------------------------------------------------------------
class _Backend(Protocol):
    name: str
    n_workers: int

    def submit(self, fn: Callable[..., Any], args: tuple, key: str) -> Any: ...
    def wait_first(self, futures: Sequence[Any]) -> list[Any]: ...
    def is_infrastructure_error(self, exc: BaseException) -> bool: ...
    def recover(self) -> None: ...
    def close(self) -> None: ...


class _SerialBackend:
    name = "serial"
    n_workers = 1

    def submit(self, fn, args, key):
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future like other backends
            fut.set_exception(exc)
        return fut

    def wait_first(self, futures):
        return list(futures)

    def is_infrastructure_error(self, exc):
        return False

    def recover(self):
        pass

    def close(self):
        pass


def _worker_init(numba_threads: int | None) -> None:
    """Process-pool initializer: cap BLAS/OpenMP/numba threads before any numerical import."""
    if numba_threads:
        os.environ["NUMBA_NUM_THREADS"] = str(numba_threads)
        for var in _THREAD_ENV_VARS:
            os.environ.setdefault(var, "1")


def _mp_context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    # forkserver: workers start from a clean server process (no inherited threads or locks, unlike
    # fork); spawn where forkserver does not exist (Windows, macOS default).
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class _ProcessBackend:
    name = "processes"

    def __init__(self, n_workers: int, numba_threads: int | None, pool: cf.Executor | None = None) -> None:
        self.n_workers = n_workers
        self._numba_threads = numba_threads
        self._owned = pool is None
        self._pool = pool or self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            max_workers=self.n_workers, mp_context=_mp_context(),
            initializer=_worker_init, initargs=(self._numba_threads,),
        )

    def submit(self, fn, args, key):
        return self._pool.submit(fn, *args)

    def wait_first(self, futures):
        done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def is_infrastructure_error(self, exc):
        from concurrent.futures.process import BrokenProcessPool

        return isinstance(exc, BrokenProcessPool)

    def recover(self):
        if not self._owned:
            raise ModelError("the caller's process pool broke (a worker died); cannot restart it")
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def close(self):
        if self._owned:
            self._pool.shutdown(wait=True, cancel_futures=True)


class _DaskBackend:
    name = "dask"

    def __init__(self, client: Any, owned: bool) -> None:
        self._client = client
        self._owned = owned
        try:
            self.n_workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
        except TypeError:  # older distributed: no n_workers argument
            self.n_workers = max(1, len(client.scheduler_info()["workers"]))

    def submit(self, fn, args, key):
        # pure=False and a unique key: Dask must never merge two chunks (or two attempts) into one task.
        return self._client.submit(fn, *args, key=key, pure=False, retries=0)

    def wait_first(self, futures):
        from distributed import wait

        done, _ = wait(list(futures), return_when="FIRST_COMPLETED")
        return list(done)

    def is_infrastructure_error(self, exc):
        from distributed.scheduler import KilledWorker

        try:
            from distributed.comm.core import CommClosedError
        except ImportError:  # pragma: no cover - layout of older distributed
            CommClosedError = OSError  # noqa: N806
        return isinstance(exc, (KilledWorker, CommClosedError))

    def recover(self):
        pass

    def close(self):
        if self._owned:
            self._client.close()


def _is_dask_client(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "distributed" and hasattr(obj, "scheduler_info")


def _open_backend(executor: Any, scheduler: str | None, n_workers: int | None) -> _Backend:
    if _is_dask_client(executor):
        return _DaskBackend(executor, owned=False)
    if isinstance(executor, cf.ProcessPoolExecutor):
        return _ProcessBackend(getattr(executor, "_max_workers", 1), 1, pool=executor)
    if isinstance(executor, cf.Executor):
        raise InputError("executor", type(executor).__name__,
                         "only ProcessPoolExecutor, a distributed.Client or an executor name are accepted")
    spec = resolve_executor(executor, scheduler, n_workers)
    if spec.kind == "serial":
        return _SerialBackend()
    if spec.kind == "processes":
        return _ProcessBackend(spec.n_workers, spec.numba_threads)
    from distributed import Client  # lazy: only the dask executor needs Dask

    try:
        client = Client(spec.scheduler_address, timeout="20s")
    except OSError as exc:
        raise InputError(
            "scheduler", spec.scheduler_address, f"cannot reach the Dask scheduler: {exc}"
        ) from exc
    return _DaskBackend(client, owned=True)


def local_process_pool(n_workers: int | None = None, numba_threads: int | None = 1) -> cf.ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` set up like the ``"processes"`` executor (forkserver/spawn, thread caps),
    to keep warm across several :func:`map_chunks` calls (pass it as ``executor``). Shut it down after use."""
    return cf.ProcessPoolExecutor(max_workers=n_workers or usable_cores(), mp_context=_mp_context(),
                                  initializer=_worker_init, initargs=(numba_threads,))


def local_dask_cluster(n_workers: int = 2, **kwargs: Any) -> Any:
    """A ``distributed.LocalCluster`` set up for this package: one thread per worker process and
    ``NUMBA_NUM_THREADS=1`` (plus OpenMP/BLAS) in each worker's environment. Close it after use."""
    from distributed import LocalCluster

    env = {"NUMBA_NUM_THREADS": "1", **{v: "1" for v in _THREAD_ENV_VARS}}
    options = dict(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                   env=env, silence_logs=40)
    options.update(kwargs)
    return LocalCluster(**options)


# --------------------------------------------------------------------------------------------------
# Chunking
# --------------------------------------------------------------------------------------------------
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


def _run_chunk(func: Callable[..., Any], start: int, stop: int, seed: SeedLike, extra: tuple,
               numba_threads: int | None, check_code: bool = False) -> Any:
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
    scheduler: str | None = None,
    n_workers: int | None = None,
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
    backend = _open_backend(executor, scheduler, n_workers)
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
                differing = _code_mismatch(expected_code, result.code) if expected_code is not None else []
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


def map_chunks(func: Callable[..., Any], n_items: int, chunk_size: int | None = None, seed: SeedLike = 0,
               executor: Any = None, **options: Any) -> list[Any]:
    """Run ``func(start, stop, seed, ...)`` over chunks of ``range(n_items)``; the results in index order.

    ``executor``: ``"serial"``, ``"processes"``, ``"dask"``, an :class:`ExecutorSpec`, a
    ``ProcessPoolExecutor`` or a ``distributed.Client``; default from :func:`resolve_executor`.
    Other options as :func:`iter_chunks` (``scheduler``, ``n_workers``, ``chunk_args``, ``retries``,
    ``max_in_flight``, ``progress``).
    """
    return list(iter_chunks(func, n_items, chunk_size, seed, executor, **options))


class Accumulator(Protocol):
    def add(self, chunk_result: Any) -> None: ...


def fold_chunks(func: Callable[..., Any], n_items: int, accumulator: Accumulator,
                chunk_size: int | None = None, seed: SeedLike = 0, executor: Any = None,
                **options: Any) -> Accumulator:
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


# --------------------------------------------------------------------------------------------------
# Ready-made chunked drivers
# --------------------------------------------------------------------------------------------------
def _cohort_chunk(start: int, stop: int, seed: Any, indication: str, cohort_seed: Any) -> Any:
    from mhtcdt.cohorts import generate_cohort

    return generate_cohort(indication, stop - start, cohort_seed, start=start)


def cohort_chunked(indication: str, n: int, seed: SeedLike, executor: Any = None,
                   chunk_size: int | None = None, **options: Any) -> Any:
    """``mhtcdt.cohorts.generate_cohort(indication, n, seed)`` computed in chunks (same DataFrame)."""
    import functools

    func = functools.partial(_cohort_chunk, indication=indication, cohort_seed=seed)
    return concat_results(map_chunks(func, n, chunk_size, 0, executor, **options))


def _physics_chunk(start: int, stop: int, seed: Any, patients: Any, protocol: Any, physics_seed: Any) -> Any:
    from mhtcdt.physics import simulate_protocol

    return simulate_protocol(patients, protocol, physics_seed)


def physics_chunked(patients: Any, protocol: Any, seed: SeedLike, executor: Any = None,
                    chunk_size: int | None = None, **options: Any) -> Any:
    """``mhtcdt.physics.simulate_protocol(patients, protocol, seed)`` over patient chunks.

    Each worker receives only its slice of ``patients``; the physics layer keys its randomness by
    ``patient_id`` (contract section 2), so the result equals one call, row for row.
    """
    import functools

    n = len(patients)
    if n == 0:
        from mhtcdt.physics import simulate_protocol

        return simulate_protocol(patients, protocol, seed)
    func = functools.partial(_physics_chunk, protocol=protocol, physics_seed=seed)
    parts = map_chunks(func, n, chunk_size, 0, executor,
                       chunk_args=lambda a, b: (patients.iloc[a:b].reset_index(drop=True),), **options)
    return concat_results(parts)


REPLICATE_BLOCK = 25


def _replicates_chunk(start: int, stop: int, seed: Any, trial_seed: int, arguments: dict[str, Any]) -> Any:
    from mhtcdt.decision.trial import power

    return power.simulate_replicates(n_replicates=stop - start, seed=trial_seed, first_replicate=start, **arguments)


def replicate_trials_chunked(pools: Any, design: Any, n_patients: int, n_replicates: int, seed: int, *,
                             executor: Any = None, reference_arm: str, experimental_arm: str,
                             chunk_size: int = REPLICATE_BLOCK, **kwargs: Any) -> Any:
    """``mhtcdt.decision.trial.power.simulate_replicates`` split over replicate chunks; one row per replicate.

    The engine seeds replicate ``r`` by its global index (``first_replicate``), so the result equals one
    unchunked call for any chunk size, executor and worker count.
    Other keyword arguments (``params``, ``endpoint``, ``alpha``, ``null``, ``treatment_months``) are
    passed to the engine; ``executor`` options (``scheduler``, ``n_workers``, ``retries``) too.
    """
    import functools

    executor_keys = ("scheduler", "n_workers", "retries", "max_in_flight", "progress")
    run_options = {k: kwargs.pop(k) for k in executor_keys if k in kwargs}
    arguments = dict(pools=dict(pools), design=design, n_patients=n_patients, reference_arm=reference_arm,
                     experimental_arm=experimental_arm, **kwargs)
    func = functools.partial(_replicates_chunk, trial_seed=int(seed), arguments=arguments)
    parts = map_chunks(func, int(n_replicates), int(chunk_size), 0, executor, **run_options)
    return concat_results(parts)
