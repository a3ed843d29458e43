"""Executors: where chunks of work run (serial, local processes or a Dask cluster) and the backend
interface the chunk scheduler (:mod:`mhtcdt.decision.run.chunking`) drives.

Executors (:func:`resolve_executor`)
------------------------------------
* ``"serial"``     in this process (debugging, tiny runs);
* ``"processes"``  ``concurrent.futures.ProcessPoolExecutor`` with the ``forkserver`` start method
  (``spawn`` where unavailable), one worker per usable core: the default on one machine;
* ``"dask"``       a Dask distributed cluster: chosen by ``scheduler="tcp://host:8786"`` or the
  ``DASK_SCHEDULER_ADDRESS`` environment variable. Dask is imported lazily, only here (install
  ``mhtcdt[dask]``); the core layers (physics, cohorts, economics) never import it.
A ``concurrent.futures.ProcessPoolExecutor`` or a ``distributed.Client`` object may also be passed
directly (:func:`open_backend`).

Threads inside workers: each worker process runs one chunk at a time and numba inside it is limited
to ``numba_threads`` threads (default 1 for processes and Dask: numba's default ``workqueue``
threading layer is not safe when several threads of one process call parallel kernels, and the
``tbb`` layer is not installed here). Dask submissions use ``pure=False`` and a key containing the
chunk index and attempt, so identical-looking calls are never deduplicated.

Faults: :meth:`Backend.is_infrastructure_error` tells a dead worker (``BrokenProcessPool`` for local
processes; a lost worker for Dask, which the scheduler first reschedules itself) from an error of
the chunk function; :meth:`Backend.recover` replaces a broken local pool.

Public API: ``resolve_executor(executor=None, scheduler=None, n_workers=None) -> ExecutorSpec``,
``add_executor_arguments(parser)`` / ``executor_from_args(args)`` (``--executor``, ``--scheduler``,
``--workers``), ``open_backend(executor)``, ``local_process_pool(n_workers)``,
``local_dask_cluster(n_workers)``, ``usable_cores()``.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mhtcdt.decision.extras import require
from mhtcdt.errors import InputError, ModelError

EXECUTOR_KINDS = ("serial", "processes", "dask")
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
_THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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
                "scheduler",
                address,
                f"the dask executor needs --scheduler tcp://host:port or ${SCHEDULER_ENV}",
            )
        _check_address(address)
        return ExecutorSpec("dask", n_workers or 0, address)
    if scheduler:
        raise InputError("scheduler", scheduler, f"a scheduler address only applies to the dask executor, not {kind}")
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
        "--executor",
        choices=EXECUTOR_KINDS,
        default=None,
        help="where chunks run (default: dask if a scheduler address is given, else local processes)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help=f"Dask scheduler address, e.g. tcp://host:8786 (default ${SCHEDULER_ENV})",
    )
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: one per core)")


def executor_from_args(args: Any) -> ExecutorSpec:
    """The :class:`ExecutorSpec` chosen by the options of :func:`add_executor_arguments`."""
    return resolve_executor(
        getattr(args, "executor", None), getattr(args, "scheduler", None), getattr(args, "workers", None)
    )


# --------------------------------------------------------------------------------------------------
# Backends: a tiny common interface over serial, process pool and Dask
# --------------------------------------------------------------------------------------------------
class Backend(Protocol):
    """What the chunk scheduler needs from an executor."""

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
            max_workers=self.n_workers,
            mp_context=_mp_context(),
            initializer=_worker_init,
            initargs=(self._numba_threads,),
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


def open_backend(executor: Any) -> Backend:
    """The backend of ``executor``: a name, an :class:`ExecutorSpec`, a ``ProcessPoolExecutor`` or a
    ``distributed.Client`` (see :func:`resolve_executor` for names and the default)."""
    if _is_dask_client(executor):
        return _DaskBackend(executor, owned=False)
    if isinstance(executor, cf.ProcessPoolExecutor):
        return _ProcessBackend(getattr(executor, "_max_workers", 1), 1, pool=executor)
    if isinstance(executor, cf.Executor):
        raise InputError(
            "executor",
            type(executor).__name__,
            "only ProcessPoolExecutor, a distributed.Client or an executor name are accepted",
        )
    spec = resolve_executor(executor)
    if spec.kind == "serial":
        return _SerialBackend()
    if spec.kind == "processes":
        return _ProcessBackend(spec.n_workers, spec.numba_threads)
    Client = require("distributed", "dask", "the dask executor").Client  # noqa: N806 - lazy: only Dask needs it
    try:
        client = Client(spec.scheduler_address, timeout="20s")
    except OSError as exc:
        raise InputError("scheduler", spec.scheduler_address, f"cannot reach the Dask scheduler: {exc}") from exc
    return _DaskBackend(client, owned=True)


def local_process_pool(n_workers: int | None = None, numba_threads: int | None = 1) -> cf.ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` set up like the ``"processes"`` executor (forkserver/spawn, thread caps),
    to keep warm across several :func:`map_chunks` calls (pass it as ``executor``). Shut it down after use."""
    return cf.ProcessPoolExecutor(
        max_workers=n_workers or usable_cores(),
        mp_context=_mp_context(),
        initializer=_worker_init,
        initargs=(numba_threads,),
    )


def local_dask_cluster(n_workers: int = 2, **kwargs: Any) -> Any:
    """A ``distributed.LocalCluster`` set up for this package: one thread per worker process and
    ``NUMBA_NUM_THREADS=1`` (plus OpenMP/BLAS) in each worker's environment. Close it after use."""
    LocalCluster = require("distributed", "dask", "a local Dask cluster").LocalCluster  # noqa: N806
    env = {"NUMBA_NUM_THREADS": "1", **{v: "1" for v in _THREAD_ENV_VARS}}
    options = dict(
        n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0", env=env, silence_logs=40
    )
    options.update(kwargs)
    return LocalCluster(**options)
