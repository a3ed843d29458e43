"""When does a Dask cluster pay? Crossover size per workload on this machine, and a projection for 4 x 16 cores.

For each workload the **baseline is the plain vectorised call in this process** (every item in one call, the
library's own threads: numba over patients for physics), against the **same work in chunks on a Dask
LocalCluster** of ``--workers`` single-threaded workers (so both sides use the same cores). Results are
checked equal. Workloads:

* ``psa``: the default scenario's PSA (``decision.model.psa.run_psa`` without physics uncertainty: the physics
  emulator is a fixed cost per run, timed by ``bench_physics_psa.py``), items = draws;
* ``replicates``: replicate virtual trials of the default scenario (``power.simulate_replicates`` vs
  ``chunked.replicate_trials_chunked``; pools built once, not timed), items = trials;
* ``physics``: the experimental arm's per-patient physics (``chunked.physics_chunked``, one chunk in process vs
  chunks on Dask), items = patients.

Model (fitted from measurements, then checked against the measured Dask times it was not fitted on):

* vectorised call: ``T_vec(n) = a + b n`` (least squares over the measured sizes);
* one chunk of ``c`` items in one single-threaded process: ``t_chunk(c) = c0 + b1 c`` (two chunk sizes);
* Dask: ``T_dask(n) = o0 + ceil(k / W) (t_chunk(c) + o_task)`` for ``k = ceil(n / c)`` chunks on ``W``
  workers; ``o0`` (submit and gather) and ``o_task`` (scheduling, serialisation, result transfer per chunk)
  fitted to the Dask runs at the two smallest sizes; the largest size is the out-of-fit check.

Projection to a 4-node x 16-core cluster (W = 64): the same c0, b1, o0 and o_task, plus per chunk a network
cost of ``--latency-ms`` (default 0.5 ms) and the chunk's pickled result over ``--bandwidth-GBps`` (default
1.25 GB/s, 10 GbE) -- both assumptions, printed; the baseline is the vectorised call on one 16-core node:
``a + b1 n ((1 - p) + p / 16)`` with the parallel fraction ``p`` from this machine's 1- vs 2-thread times
(Amdahl; numpy-bound workloads measure p ~ 0). Chunk size ``max(c_min, n / (4 W))``.

Usage: python benchmarks/bench_scaleout.py [--workers 2] [--repeats 5] [--workloads psa,replicates,physics]
       [--psa-sizes 2000,8000,32000].
Prints a table and, as its last line, one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import math
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import compare, emit, load, pin_threads, thread_report  # noqa: E402

CLUSTER_WORKERS, NODE_CORES = 64, 16


@dataclass
class Workload:
    """One workload: the vectorised call, the chunked call on an executor, an equality check, sizes."""

    name: str
    item: str
    vectorised: Callable[[int], object]
    chunked: Callable[[int, object, int], object]
    same: Callable[[object, object], bool]
    sizes: tuple[int, int, int]
    chunk_sizes: tuple[int, int]


def workloads(seed: int, psa_sizes: tuple[int, int, int] = (2_000, 8_000, 32_000)) -> list[Workload]:
    """The three workloads of the module docstring, built on the default scenario (``psa_sizes``: the
    draws of the psa workload, smallest first; its chunk sizes are a quarter and the full smallest size)."""
    from mhtcdt.cohorts import apply_criteria, generate_cohort
    from mhtcdt.decision.model.psa import run_psa
    from mhtcdt.decision.run import chunked
    from mhtcdt.decision.run.arm_chain import pools_from_scenario
    from mhtcdt.decision.run.pipeline import run_pipeline
    from mhtcdt.decision.scenario.checks import protocol_for_arm, trial_design
    from mhtcdt.decision.scenario.loading import default_scenario
    from mhtcdt.decision.trial import power

    sc = default_scenario()
    base = run_pipeline(sc)
    ref = sc.trial.reference_arm
    exp = [a for a in sc.trial.allocation if a != ref][0]
    pools, tm = pools_from_scenario(sc, (ref, exp), sc.cohort.n_screened, seed)
    n_trial = len(pools[ref])
    trial = power.ReplicateTrial(pools, trial_design(sc), ref, exp, tm)
    cohort = generate_cohort(sc.cohort.indication, 400, seed)
    patients = apply_criteria(cohort, sc.cohort.criteria).eligible.reset_index(drop=True)
    protocol = protocol_for_arm(sc.arm(exp))
    return [
        Workload(
            "psa",
            "draws",
            lambda n: run_psa(base, n, seed=seed, physics=False),
            lambda n, ex, c: run_psa(base, n, seed=seed, executor=ex, chunk_size=c, physics=False),
            lambda a, b: np.array_equal(a.cost, b.cost) and np.array_equal(a.qalys, b.qalys),
            psa_sizes,
            (max(1, psa_sizes[0] // 4), psa_sizes[0]),
        ),
        Workload(
            "replicates",
            f"trials of {n_trial}",
            lambda n: power.simulate_replicates(trial, n_trial, n, seed),
            lambda n, ex, c: chunked.replicate_trials_chunked(trial, n_trial, n, seed, executor=ex, chunk_size=c),
            lambda a, b: np.array_equal(a["chi2"].to_numpy(), b["chi2"].to_numpy()),
            (200, 800, 3_200),
            (25, 100),
        ),
        Workload(
            "physics",
            "patients",
            lambda n: chunked.physics_chunked(patients.head(n), protocol, seed, executor="serial", chunk_size=n),
            lambda n, ex, c: chunked.physics_chunked(patients.head(n), protocol, seed, executor=ex, chunk_size=c),
            lambda a, b: a.reset_index(drop=True).equals(b.reset_index(drop=True)),
            (16, 48, min(144, len(patients))),
            (4, 16),
        ),
    ]


def dask_time(o0: float, o_task: float, c0: float, b1: float, n: int, chunk: int, workers: int) -> float:
    """Model time of ``n`` items in chunks of ``chunk`` on ``workers`` (see module docstring)."""
    rounds = math.ceil(math.ceil(n / chunk) / workers)
    return o0 + rounds * (c0 + b1 * chunk + o_task)


def crossover(vec: Callable[[int], float], dask: Callable[[int], float], limit: int = 10**9) -> int | None:
    """Smallest n (on a doubling grid, then bisected) at which the Dask model beats the vectorised model."""
    n = 1
    while n <= limit and dask(n) >= vec(n):
        n *= 2
    if n > limit:
        return None
    lo, hi = n // 2, n
    while hi - lo > max(1, lo // 100):
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if dask(mid) >= vec(mid) else (lo, mid)
    return hi


def measure(w: Workload, client: object, workers: int, repeats: int, lat_s: float, bw: float) -> tuple[list, dict]:
    """Measure one workload, fit the model, project; returns table rows and figures."""
    import numba

    fig: dict[str, object] = {}
    sizes, (c_small, c_big) = w.sizes, w.chunk_sizes
    # vectorised call at the library's threads (all cores) and at one thread (for the parallel fraction)
    t_vec = []
    for n in sizes:
        (t,) = compare([lambda n=n: w.vectorised(n)], repeats)
        t_vec.append(t)
    numba.set_num_threads(1)
    pin_threads(1)
    (t_one,) = compare([lambda: w.vectorised(sizes[1])], repeats)
    chunk_t = [compare([lambda c=c: w.vectorised(c)], repeats)[0] for c in (c_small, c_big)]
    pin_threads(workers)
    numba.set_num_threads(workers)
    b, a = np.polyfit(np.array(sizes, float), np.array([t.median for t in t_vec]), 1)
    a = max(a, 0.0)
    b1 = (chunk_t[1].median - chunk_t[0].median) / (c_big - c_small)
    c0 = max(chunk_t[0].median - b1 * c_small, 0.0)
    speedup = t_one.median / t_vec[1].median
    p = min(max(2.0 * (1.0 - 1.0 / speedup), 0.0), 1.0) if workers == 2 else 0.0

    # Dask runs, chunk size so that every worker gets 4 chunks at the middle size
    chunk = max(c_small, sizes[1] // (4 * workers))
    t_dask, identical = [], True
    w.chunked(sizes[0], client, chunk)  # warm the workers (imports, numba cache) for this workload
    for n in sizes:
        out = w.chunked(n, client, chunk)
        identical = identical and w.same(out, w.vectorised(n))
        (t,) = compare([lambda n=n: w.chunked(n, client, chunk)], repeats)
        t_dask.append(t)
    result_bytes = len(pickle.dumps(w.chunked(chunk, "serial", chunk)))
    # fit o0, o_task on the two smallest sizes: T - rounds (c0 + b1 c) = o0 + rounds o_task
    rounds = [math.ceil(math.ceil(n / chunk) / workers) for n in sizes]
    rhs = [t.median - r * (c0 + b1 * chunk) for t, r in zip(t_dask, rounds, strict=True)]
    if rounds[1] != rounds[0]:
        o_task = (rhs[1] - rhs[0]) / (rounds[1] - rounds[0])
        o0 = rhs[0] - rounds[0] * o_task
    else:
        o_task, o0 = 0.0, rhs[0]
    o_task, o0 = max(o_task, 0.0), max(o0, 0.0)
    predicted_big = dask_time(o0, o_task, c0, b1, sizes[2], chunk, workers)

    def vec_here(n: int) -> float:
        return a + b * n

    def dask_here(n: int) -> float:
        return dask_time(o0, o_task, c0, b1, n, max(c_small, n // (4 * workers)), workers)

    net = lat_s + result_bytes / (bw * 1e9)

    def vec_node(n: int) -> float:
        return a + b1 * n * ((1 - p) + p / NODE_CORES)

    def dask_cluster(n: int) -> float:
        c = max(c_small, n // (4 * CLUSTER_WORKERS))
        return dask_time(o0, o_task + net * c / chunk, c0, b1, n, c, CLUSTER_WORKERS)

    n_here, n_cluster = crossover(vec_here, dask_here), crossover(vec_node, dask_cluster)
    million = 1_000_000
    fig.update(
        {
            f"{w.name}_sizes": list(sizes),
            f"{w.name}_vectorised_median_s": [t.median for t in t_vec],
            f"{w.name}_vectorised_min_s": [min(t.wall) for t in t_vec],
            f"{w.name}_vectorised_max_s": [max(t.wall) for t in t_vec],
            f"{w.name}_vectorised_cpu_s": [t.cpu_median for t in t_vec],
            f"{w.name}_dask_median_s": [t.median for t in t_dask],
            f"{w.name}_dask_min_s": [min(t.wall) for t in t_dask],
            f"{w.name}_dask_max_s": [max(t.wall) for t in t_dask],
            f"{w.name}_dask_chunk": chunk,
            f"{w.name}_identical": identical,
            f"{w.name}_a_s": a,
            f"{w.name}_b_s_per_item": b,
            f"{w.name}_b1_s_per_item_one_core": b1,
            f"{w.name}_c0_s": c0,
            f"{w.name}_o0_s": o0,
            f"{w.name}_o_task_s": o_task,
            f"{w.name}_parallel_fraction": p,
            f"{w.name}_result_bytes_per_chunk": result_bytes,
            f"{w.name}_dask_predicted_largest_s": predicted_big,
            f"{w.name}_dask_measured_largest_s": t_dask[2].median,
            f"{w.name}_crossover_here_items": n_here,
            f"{w.name}_crossover_4x16_items": n_cluster,
            f"{w.name}_1M_node_s": vec_node(million),
            f"{w.name}_1M_cluster_s": dask_cluster(million),
        }
    )
    row = (
        w.name,
        w.item,
        " / ".join(f"{n:,}" for n in sizes),
        " / ".join(f"{t.median:.3g}" for t in t_vec),
        " / ".join(f"{t.median:.3g}" for t in t_dask),
        identical,
        f"{predicted_big:.3g} vs {t_dask[2].median:.3g}",
        f"{b1 * 1e3:.3g}",
        f"{o_task * 1e3:.3g}",
        f"{p:.2f}",
        "never" if n_here is None else f"{n_here:,}",
        "never" if n_cluster is None else f"{n_cluster:,}",
        f"{vec_node(million):.3g} / {dask_cluster(million):.3g}",
    )
    return [row], fig


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--workloads", default="psa,replicates,physics")
    ap.add_argument("--seed", type=int, default=20261205)
    ap.add_argument("--psa-sizes", default="2000,8000,32000", help="three draw counts of the psa workload")
    ap.add_argument("--latency-ms", type=float, default=0.5, help="assumed network latency per chunk (projection)")
    ap.add_argument("--bandwidth-GBps", type=float, default=1.25, help="assumed network bandwidth (projection)")
    args = ap.parse_args(argv)
    from distributed import Client

    from mhtcdt.decision.run import executors

    pin_threads(args.workers)
    chosen = set(args.workloads.split(","))
    figures: dict[str, object] = {
        "benchmark": "bench_scaleout",
        "workers": args.workers,
        "cores": executors.usable_cores(),
        "threads": thread_report(),
        "assumed_latency_ms": args.latency_ms,
        "assumed_bandwidth_GBps": args.bandwidth_GBps,
        "load_average_start": load(),
    }
    rows = []
    cluster = executors.local_dask_cluster(n_workers=args.workers)
    client = Client(cluster)
    try:
        psa_sizes = tuple(int(x) for x in args.psa_sizes.split(","))
        if len(psa_sizes) != 3 or list(psa_sizes) != sorted(psa_sizes):
            ap.error("--psa-sizes needs three increasing draw counts")
        for w in workloads(args.seed, psa_sizes):
            if w.name in chosen:
                r, f = measure(w, client, args.workers, args.repeats, args.latency_ms / 1e3, args.bandwidth_GBps)
                rows += r
                figures.update(f)
    finally:
        client.close()
        cluster.close()
    figures["load_average_end"] = load()
    print(
        f"Vectorised call in this process vs the same work in chunks on a Dask LocalCluster of {args.workers} "
        f"single-threaded workers; times s, medians of >= {max(args.repeats, 5)} runs (min-max in the JSON).\n"
        f"Model: T_dask = o0 + ceil(chunks/W) (c0 + b1 c + o_task); 4x16 projection adds {args.latency_ms} ms and "
        f"result bytes / {args.bandwidth_GBps} GB/s per chunk (assumed) and compares with the vectorised call on "
        f"one 16-core node (Amdahl with the measured parallel fraction p)."
    )
    emit(
        (
            "workload",
            "item",
            "sizes",
            "vectorised s",
            "dask s",
            "same",
            "model vs measured (largest)",
            "b1 ms/item",
            "o_task ms",
            "p",
            "dask wins from (here)",
            "from (4x16)",
            "1M: node / cluster s",
        ),
        rows,
        figures,
    )


if __name__ == "__main__":
    main()
