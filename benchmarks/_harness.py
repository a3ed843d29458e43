"""Shared timing harness for the benchmarks (issue 18): what a sceptical reviewer asks of a ratio.

* ``pin_threads(n)`` limits BLAS/OpenMP (threadpoolctl) and numba to the same n threads for the library
  and its baseline, and ``thread_report()`` reads the counts back from the libraries themselves
  (threadpoolctl, ``numba.get_num_threads()``), not from environment variables.
* ``compare(fns, repeats)`` runs the functions alternately (so both see the same machine load) at least
  5 times each and returns, per function, the median and min-max of wall time (``time.perf_counter``)
  and of CPU time of the process (``time.process_time``, all threads).
* ``peak_memory(fn)`` runs a function once under ``tracemalloc`` and returns the peak of traced memory
  above the level before the call: every numpy array and Python object allocated during the call
  (numpy reports its data buffers to tracemalloc); not memory allocated outside Python's and numpy's
  allocators (a numba kernel's own arrays, BLAS work buffers).
* ``startup(code)`` times a fresh ``python -c code`` process (median and min-max).
* ``load()`` is the 1-minute load average (the machine is shared: quote it with every timing).
* ``table(header, rows)`` prints a table; ``emit(header, rows, figures)`` prints one and, last, one JSON line
  with every figure.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MIN_REPEATS = 5


@dataclass
class Timing:
    """Wall and CPU times (s) of the repeated runs of one function."""

    wall: list[float]
    cpu: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    def figures(self, prefix: str) -> dict[str, float | int]:
        return {
            f"{prefix}_wall_median_s": self.median,
            f"{prefix}_wall_min_s": min(self.wall),
            f"{prefix}_wall_max_s": max(self.wall),
            f"{prefix}_cpu_median_s": self.cpu_median,
            f"{prefix}_runs": len(self.wall),
        }


def load() -> float:
    """1-minute load average."""
    return os.getloadavg()[0]


def pin_threads(n: int) -> None:
    """Limit numba and the BLAS/OpenMP pools (threadpoolctl, process-wide) to ``n`` threads; numba is
    imported first so that the OpenMP runtime it loads is limited too."""
    try:
        import numba
    except ImportError:
        pass
    else:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # reported as unknown by thread_report
        return
    threadpool_limits(limits=n)


def thread_report() -> dict[str, object]:
    """Thread counts as the libraries report them."""
    out: dict[str, object] = {}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        out["blas_threads"] = "unknown (threadpoolctl not installed)"
    else:
        pools = threadpool_info()
        out["blas_threads"] = {
            f"{p['internal_api']}:{os.path.basename(p['filepath'])}": p["num_threads"] for p in pools
        }
    try:
        import numba
    except ImportError:
        out["numba_threads"] = None
    else:
        out["numba_threads"] = numba.get_num_threads()
    return out


def compare(fns: Sequence[Callable[[], object]], repeats: int = MIN_REPEATS) -> list[Timing]:
    """Time each function ``max(repeats, 5)`` times, alternating between them (after one untimed warm-up
    call each)."""
    repeats = max(int(repeats), MIN_REPEATS)
    for fn in fns:
        fn()
    timings = [Timing([], []) for _ in fns]
    for _ in range(repeats):
        for fn, timing in zip(fns, timings, strict=True):
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            timing.wall.append(time.perf_counter() - t0)
            timing.cpu.append(time.process_time() - c0)
    return timings


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak bytes traced by tracemalloc during one call, above the traced level before it."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def startup(code: str, repeats: int = 9, env: dict[str, str] | None = None) -> Timing:
    """Wall time of fresh ``python -c code`` processes (CPU time of the children from os.times)."""
    timing = Timing([], [])
    for _ in range(max(repeats, MIN_REPEATS)):
        before = os.times()
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)
        timing.wall.append(time.perf_counter() - t0)
        after = os.times()
        timing.cpu.append(
            (after.children_user - before.children_user) + (after.children_system - before.children_system)
        )
    return timing


def span(t: Timing) -> str:
    """'median [min-max]' of the wall times, in s."""
    return f"{t.median:.4g} [{min(t.wall):.4g}-{max(t.wall):.4g}]"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a fixed-width table."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(str(h).rjust(w) for h, w in zip(header, widths, strict=True)))
    for r in rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True)))


def emit(header: Sequence[str], rows: Sequence[Sequence[object]], figures: dict[str, object]) -> None:
    """Print a fixed-width table, then the final single-line JSON object."""
    table(header, rows)

    def clean(v: object) -> object:
        if isinstance(v, float):
            return float(f"{v:.6g}")
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        return v

    print(json.dumps({k: clean(v) for k, v in figures.items()}))
