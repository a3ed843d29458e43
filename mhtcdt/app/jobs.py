"""Heavy work off the Streamlit script thread: one worker process, progress polling, result store.

Why a process and not a thread: the pipeline is CPU-bound (numba, numpy, lifelines); in a
thread it would hold the GIL for long stretches and freeze every session's UI. The worker is a
``ProcessPoolExecutor`` started with the ``forkserver`` method (``spawn`` where forkserver does not
exist): the Streamlit server is multi-threaded, and ``fork`` from a threaded process can copy a
held lock into the child. The forkserver preloads ``mhtcdt`` once, so every job after the first
starts warm.

Jobs are identified by a caller-chosen ``key`` (a hash of the inputs): submitting a key that is
already running or finished does not start a second run, so a page that is left and revisited
picks up the same job, and a finished result is returned at once. Results are kept in a small
least-recently-used store; callers must treat them as read-only.

Progress: the task receives ``progress(stage: str, fraction: float)``; reports travel through a
multiprocessing queue handed to the worker at start-up and are drained by :meth:`JobManager.status`.

Nothing here calls ``st.*``: the pages poll :meth:`JobManager.status` from their own script thread.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import queue
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

_WORKER_QUEUE: Any = None  # set in the worker process by _init_worker


def _init_worker(progress_queue: Any) -> None:
    global _WORKER_QUEUE
    _WORKER_QUEUE = progress_queue


def _run_task(job_key: str, target: str, args: tuple, kwargs: dict) -> Any:
    """Run ``module:function`` in the worker with a progress callback feeding the queue.

    Exceptions travel back pickled; anything that might not pickle is turned into a
    ``JobFailure`` carrying its type, message and (for the log, never shown to users) traceback.
    """
    module_name, func_name = target.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    last = [0.0]

    def progress(stage: str, fraction: float) -> None:
        now = time.monotonic()
        # Throttle: at most ~10 reports per second plus the final one.
        if fraction < 1.0 and now - last[0] < 0.1:
            return
        last[0] = now
        if _WORKER_QUEUE is not None:
            _WORKER_QUEUE.put((job_key, str(stage), float(fraction)))

    try:
        return func(*args, progress=progress, **kwargs)
    except Exception as exc:
        raise JobFailure.from_exception(exc) from None


class JobFailure(RuntimeError):
    """A job's error carried back as plain strings (always picklable; our own error types are not).

    ``kind`` is 'input' (bad user input: ``lines`` name each field and value), 'model' (a
    computation failed) or 'internal' (a bug; ``trace`` is for the log, never shown to users).
    """

    def __init__(self, kind: str, lines: list[str], trace: str = "") -> None:
        super().__init__(kind, list(lines), trace)
        self.kind = kind
        self.lines = list(lines)
        self.trace = trace

    @classmethod
    def from_exception(cls, exc: BaseException) -> JobFailure:
        from mhtcdt.errors import InputError, InputErrors, ModelError

        if isinstance(exc, JobFailure):
            return exc
        if isinstance(exc, InputErrors):
            return cls("input", exc.lines())
        if isinstance(exc, InputError):
            return cls("input", [exc.line()])
        if isinstance(exc, ModelError):
            return cls("model", [str(exc)])
        return cls("internal", [f"{type(exc).__name__}: {exc}"], traceback.format_exc())

    def __str__(self) -> str:
        return "; ".join(self.lines)


@dataclass
class JobStatus:
    """Snapshot of one job: ``state`` is 'running', 'done' or 'failed'."""

    key: str
    state: str
    stage: str = "queued"
    fraction: float = 0.0
    elapsed_s: float = 0.0
    result: Any = None
    error: BaseException | None = None


@dataclass
class _Job:
    key: str
    future: Future
    started: float
    stage: str = "queued"
    fraction: float = 0.0
    finished: float | None = None
    meta: dict = field(default_factory=dict)


class JobManager:
    """One worker process shared by every session (hold it with ``st.cache_resource``)."""

    def __init__(self, max_workers: int = 1, keep_results: int = 24) -> None:
        methods = mp.get_all_start_methods()
        self._ctx = mp.get_context("forkserver" if "forkserver" in methods else "spawn")
        if self._ctx.get_start_method() == "forkserver":
            self._ctx.set_forkserver_preload(["mhtcdt.app.jobs", "mhtcdt.decision.run.pipeline"])
        self._max_workers = max_workers
        self._keep = keep_results
        self._lock = threading.RLock()
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._queue = self._ctx.Queue()
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._max_workers,
                mp_context=self._ctx,
                initializer=_init_worker,
                initargs=(self._queue,),
            )
        return self._pool

    def submit(self, key: str, target: str, *args: Any, **kwargs: Any) -> None:
        """Start ``target`` ('package.module:function') unless ``key`` is already known.

        A failed job is forgotten on resubmission, so the user can try again.
        """
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and not (job.future.done() and job.future.exception() is not None):
                self._jobs.move_to_end(key)
                return
            try:
                future = self._executor().submit(_run_task, key, target, args, kwargs)
            except (BrokenProcessPool, RuntimeError):
                # A dead worker (killed, out of memory) breaks the pool: start a fresh one.
                self._pool = None
                future = self._executor().submit(_run_task, key, target, args, kwargs)
            self._jobs[key] = _Job(key=key, future=future, started=time.monotonic())
            self._trim()

    def _trim(self) -> None:
        while len(self._jobs) > self._keep:
            oldest_key, oldest = next(iter(self._jobs.items()))
            if not oldest.future.done():
                break
            del self._jobs[oldest_key]

    def _drain(self) -> None:
        while True:
            try:
                key, stage, fraction = self._queue.get_nowait()
            except (queue.Empty, EOFError, OSError):
                return
            job = self._jobs.get(key)
            if job is not None and fraction >= job.fraction:
                job.stage, job.fraction = stage, fraction

    def known(self, key: str) -> bool:
        with self._lock:
            return key in self._jobs

    def keys(self) -> list[str]:
        """Keys of the jobs known (running or stored), oldest first."""
        with self._lock:
            return list(self._jobs)

    def status(self, key: str) -> JobStatus | None:
        """Current state of job ``key`` (None if never submitted or evicted)."""
        with self._lock:
            self._drain()
            job = self._jobs.get(key)
            if job is None:
                return None
            now = time.monotonic()
            if not job.future.done():
                return JobStatus(key, "running", job.stage, job.fraction, now - job.started)
            if job.finished is None:
                job.finished = now
            self._jobs.move_to_end(key)
            elapsed = job.finished - job.started
            exc = job.future.exception()
            if exc is not None:
                if isinstance(exc, BrokenProcessPool):
                    self._pool = None
                return JobStatus(key, "failed", job.stage, job.fraction, elapsed, error=exc)
            return JobStatus(key, "done", "done", 1.0, elapsed, result=job.future.result())

    def wait(
        self,
        key: str,
        on_progress: Callable[[JobStatus], None] | None = None,
        poll_s: float = 0.25,
        timeout_s: float | None = None,
    ) -> JobStatus:
        """Poll ``key`` until it finishes, calling ``on_progress`` on every poll (caller's thread)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            st = self.status(key)
            if st is None:
                raise KeyError(key)
            if st.state != "running":
                return st
            if on_progress is not None:
                on_progress(st)
            if deadline is not None and time.monotonic() > deadline:
                return st
            time.sleep(poll_s)

    def shutdown(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
