"""Benchmark of the Physics I heat kernels (run: ``python benchmarks/bench_physics.py [--patients N]``).

Prints a table and, as the LAST line, one JSON object with every figure:
* seconds per patient-session of the numba radial kernel (cohort settings: dt 10 s, 12 cells across the
  tumour and 12 stretched cells in healthy tissue out to 4 R, 60 min heating + 15 min cooling, Lang
  perfusion in tumour and tissue);
* the same for the scipy method-of-lines reference (``oracle.bioheat_radial_ivp``) at MATCHED accuracy:
  the loosest solve_ivp tolerance whose max error (vs a tight reference) does not exceed the numba
  kernel's, found by bisection in log(rtol) between the last too-loose and the first accurate enough
  tolerance of a decade grid (so scipy is not made more accurate, hence slower, than numba);
* two ratio rows, each at EQUAL threads (thread counts read back from numba and threadpoolctl):
  (a) numba pinned to 1 thread vs scipy in 1 process (1 BLAS thread);
  (b) numba on W threads vs the same scipy solves spread over W worker processes (1 thread each; pool
  started and warmed before the timing; the workers' CPU seconds are measured inside them);
  wall and CPU time, medians of >= 5 runs with min-max;
* wall time for 10,000 patients x one 60-minute session on this machine (numba on W threads);
* the clinical session (stepwise amplitude control on the thermometry track, tolerance ceiling, eddy-current
  heating, heterogeneous deposit: everything the cohort chain now runs) per patient-session, one session;
* the heat part of the model chain (``chain.heat_sessions``: the NanoTherm preset, 6 sessions, on generated
  glioblastoma patients) per patient-session: sessions that repeat the first are copied, not solved again.
Wall times depend on what else runs on the machine, so CPU times and the load average are printed too.
Usage: python benchmarks/bench_physics.py [--patients 10000] [--reference-patients 4] [--threads W] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

from mhtcdt.physics.bioheat_radial import Heating, RadialPatients, simulate_sessions_radial  # noqa: E402
from mhtcdt.physics.oracle.bioheat_radial_ivp import RadialReference  # noqa: E402
from mhtcdt.physics.session import SessionControl, SessionTiming  # noqa: E402
from mhtcdt.physics.tissue import load_tissue, tumour_tissue  # noqa: E402

SESSION_S, COOLDOWN_S, DT_S = 3600.0, 900.0, 10.0


def cohort(n: int, seed: int = 2026):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    radius = rng.uniform(0.008, 0.025, n)
    coverage = rng.uniform(0.3, 1.0, n)
    perfusion = rng.uniform(200.0, 700.0, n)
    q = rng.uniform(1e5, 6e5, n)
    return radius, coverage, perfusion, q


def run_numba(n: int, tum, healthy, seed: int = 2026):
    """Returns (wall s, result); the CPU seconds of the last call are left in ``run_numba.cpu_s``."""
    radius, coverage, perfusion, q = cohort(n, seed)
    c0 = time.process_time()
    t0 = time.perf_counter()
    res = simulate_sessions_radial(
        RadialPatients(radius, coverage, q, tumour_perfusion_mL_per_min_per_kg=perfusion),
        tumour=tum,
        healthy=healthy,
        heating=Heating(field_kA_per_m=10.0),
        timing=SessionTiming(session_s=SESSION_S, cooldown_s=COOLDOWN_S, dt_s=DT_S),
    )
    wall = time.perf_counter() - t0
    run_numba.cpu_s = time.process_time() - c0
    return wall, res


def run_clinical(n: int, tum, healthy, seed: int = 2026):
    """One clinical session per patient (stepwise control, ceiling, eddy, heterogeneity); (wall s, cpu s)."""
    radius, coverage, perfusion, q = cohort(n, seed)
    rng = np.random.default_rng(np.random.SeedSequence(seed + 1))
    control = SessionControl(mode="clinical", target_C=43.0, healthy_cem43_limit_min=15.0, control_interval_s=120.0)
    patients = RadialPatients(
        radius,
        coverage,
        q,
        tumour_perfusion_mL_per_min_per_kg=perfusion,
        field_ceiling_kA_per_m=rng.uniform(7.0, 17.0, n),
        catheter_radius_over_R=np.sqrt(rng.uniform(0.0, 0.9, n)),
        eddy_W_per_m3_per_kA2=np.full(n, 110.0),
        deposit_shell_multipliers=np.exp(0.5 * rng.standard_normal((n, 12))),
    )
    c0, t0 = time.process_time(), time.perf_counter()
    simulate_sessions_radial(
        patients,
        tumour=tum,
        healthy=healthy,
        heating=Heating(field_exponent=1.6, control=control),
        timing=SessionTiming(session_s=SESSION_S, cooldown_s=COOLDOWN_S, dt_s=DT_S),
    )
    return time.perf_counter() - t0, time.process_time() - c0


def run_chain_heat(n: int):
    """The chain's heat part for the NanoTherm preset (6 sessions); (wall s, cpu s, patient-sessions)."""
    from mhtcdt.cohorts import generate_cohort
    from mhtcdt.physics import protocol_preset
    from mhtcdt.physics.chain import heat_sessions

    patients = generate_cohort("recurrent_glioblastoma", n, 11).reset_index(drop=True)
    protocol = protocol_preset("mht_rt_nanotherm")
    dose = np.full(n, 28.0)
    heat_sessions(patients.iloc[:4], protocol, dose[:4], 1)  # compile / load cache
    c0, t0 = time.process_time(), time.perf_counter()
    heat_sessions(patients, protocol, dose, 1)
    return time.perf_counter() - t0, time.process_time() - c0, n * protocol.n_sessions


def _scipy_worker_init() -> None:
    """Each scipy worker process runs single-threaded (BLAS pinned to 1, like the 1-thread row)."""
    h.pin_threads(1)


def _scipy_solve(task: tuple) -> tuple[np.ndarray, float]:
    """One patient's scipy reference session in a worker: (temperatures, CPU s spent in the worker)."""
    radius, coverage, perfusion, q, times, rtol = task
    c0 = time.process_time()
    ref = RadialReference(radius, coverage, TUMOUR, HEALTHY, tumour_perfusion_mL_per_min_per_kg=perfusion)
    sol = ref.session(q, SESSION_S, COOLDOWN_S, times, rtol=rtol, atol=rtol)
    return sol, time.process_time() - c0


TUMOUR = tumour_tissue("brain")
HEALTHY = load_tissue("brain").with_perfusion(559.0, "lang1999_muscle")


def matched_rtol(refs, q, times, exact, target_err: float) -> tuple[tuple, list]:
    """Loosest solve_ivp tolerance (rtol = atol) whose max error vs ``exact`` is <= ``target_err``: a decade
    grid, then 5 bisection steps in log(rtol) between the last too-loose and the first accurate enough one.
    Returns ((rtol, err), tried) with tried = [(rtol, err)]."""

    def error(rtol: float) -> float:
        sols = [r.session(q[i], SESSION_S, COOLDOWN_S, times, rtol=rtol, atol=rtol) for i, r in enumerate(refs)]
        return max(float(np.abs(s[:, :12] - e[:, :12]).max()) for s, e in zip(sols, exact, strict=True))

    tried, loose = [], None
    for rtol in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8):
        err = error(rtol)
        tried.append((rtol, err))
        if err <= target_err:
            break
        loose = rtol
    else:
        return tried[-1], tried
    good = tried[-1]
    if loose is not None:
        lo, hi = math.log10(good[0]), math.log10(loose)
        for _ in range(5):
            mid = 0.5 * (lo + hi)
            err = error(10.0**mid)
            tried.append((10.0**mid, err))
            if err <= target_err:
                lo, good = mid, (10.0**mid, err)
            else:
                hi = mid
    return good, tried


def ratio_row(label: str, t_numba: h.Timing, numba_items: int, t_scipy: h.Timing, scipy_items: int) -> dict:
    """Per patient-session medians and the speed-ups (wall and CPU) of one equal-threads comparison."""
    nw, nc = t_numba.median / numba_items, t_numba.cpu_median / numba_items
    sw, sc = t_scipy.median / scipy_items, t_scipy.cpu_median / scipy_items
    return {
        "label": label,
        "numba_wall": nw,
        "numba_cpu": nc,
        "scipy_wall": sw,
        "scipy_cpu": sc,
        "speedup_wall": sw / nw,
        "speedup_cpu": sc / nc,
        "numba_span": f"{min(t_numba.wall) / numba_items:.3g}-{max(t_numba.wall) / numba_items:.3g}",
        "scipy_span": f"{min(t_scipy.wall) / scipy_items:.3g}-{max(t_scipy.wall) / scipy_items:.3g}",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--reference-patients", type=int, default=4)
    parser.add_argument("--numba-patients", type=int, default=1000, help="patients per timed numba run")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="W: threads / processes")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    tum, healthy = TUMOUR, HEALTHY
    load_start = h.load()

    # accuracy of the numba kernel and the matched-accuracy scipy reference, on a few patients
    h.pin_threads(1)
    run_numba(4, tum, healthy)  # compile / load cache outside the timing
    radius, coverage, perfusion, q = cohort(args.reference_patients, seed=7)
    times = np.arange(0.0, SESSION_S + COOLDOWN_S + 1.0, 60.0)
    _, res = run_numba(args.reference_patients, tum, healthy, seed=7)
    refs = [
        RadialReference(radius[i], coverage[i], tum, healthy, tumour_perfusion_mL_per_min_per_kg=perfusion[i])
        for i in range(args.reference_patients)
    ]
    exact = [r.session(q[i], SESSION_S, COOLDOWN_S, times, rtol=1e-10, atol=1e-10) for i, r in enumerate(refs)]
    numba_err = max(
        float(np.abs(res.tumour_temperature_C[i, 0] - exact[i][:, :12]).max()) for i in range(args.reference_patients)
    )
    (rtol, scipy_err), tried = matched_rtol(refs, q, times, exact, numba_err)

    # (a) 1 thread each: numba pinned to 1 thread, scipy in this process
    threads_a = h.thread_report()
    n_nb = args.numba_patients

    def scipy_serial() -> None:
        for i, r in enumerate(refs):
            r.session(q[i], SESSION_S, COOLDOWN_S, times, rtol=rtol, atol=rtol)

    t_nb1, t_sp1 = h.compare([lambda: run_numba(n_nb, tum, healthy, seed=1), scipy_serial], args.repeats)
    row_a = ratio_row("numba 1 thread vs scipy 1 process", t_nb1, n_nb, t_sp1, args.reference_patients)

    # (b) W threads each: numba on W threads, scipy over W single-threaded worker processes
    w = args.threads
    h.pin_threads(w)
    threads_b = h.thread_report()
    tasks = [(radius[i], coverage[i], perfusion[i], q[i], times, rtol) for i in range(args.reference_patients)]
    tasks = tasks * w  # every worker gets as many solves as the serial row did
    with ProcessPoolExecutor(max_workers=w, initializer=_scipy_worker_init) as pool:
        list(pool.map(_scipy_solve, tasks[:w]))  # start and warm the workers outside the timing
        worker_cpu: list[float] = []
        t_spw = h.Timing([], [])
        for _ in range(max(args.repeats, h.MIN_REPEATS)):
            t0 = time.perf_counter()
            out = list(pool.map(_scipy_solve, tasks))
            t_spw.wall.append(time.perf_counter() - t0)
            t_spw.cpu.append(sum(c for _, c in out))
            worker_cpu.append(t_spw.cpu[-1])
    (t_nbw,) = h.compare([lambda: run_numba(n_nb * w, tum, healthy, seed=1)], args.repeats)
    row_b = ratio_row(f"numba {w} threads vs scipy {w} processes", t_nbw, n_nb * w, t_spw, len(tasks))

    t_big, res_big = run_numba(args.patients, tum, healthy, seed=11)
    cpu_big = run_numba.cpu_s
    run_clinical(4, tum, healthy)
    clin_wall, clin_cpu = run_clinical(1000, tum, healthy, seed=3)
    chain_wall, chain_cpu, chain_ps = run_chain_heat(400)
    load = h.load()
    figures = {
        "threads_row_a": threads_a,
        "threads_row_b": threads_b,
        "numba_threads": threads_b["numba_threads"],
        "numba_max_error_C": numba_err,
        "scipy_rtol_matched": rtol,
        "scipy_max_error_C": scipy_err,
        "scipy_tolerances_tried": [[r, e] for r, e in tried],
        "load_average_start": load_start,
        "load_average_1min": load,
        "cohort_patients": args.patients,
        "cohort_wall_s": t_big,
        "cohort_cpu_s": cpu_big,
        "cohort_wall_s_per_10k": t_big * 10_000 / args.patients,
        "cohort_cpu_s_per_10k": cpu_big * 10_000 / args.patients,
        "goal_10k_in_10s_met_wall": t_big * 10_000 / args.patients <= 10.0,
        "mean_t90_C": float(res_big.t90_C.mean()),
        "clinical_s_per_patient_session": clin_wall / 1000,
        "clinical_cpu_s_per_patient_session": clin_cpu / 1000,
        "chain_heat_s_per_patient_session": chain_wall / chain_ps,
        "chain_heat_cpu_s_per_patient_session": chain_cpu / chain_ps,
    }
    for key, row in (("1thread", row_a), (f"{w}threads", row_b)):
        figures.update(
            {
                f"numba_{key}_s_per_patient_session": row["numba_wall"],
                f"numba_{key}_cpu_s_per_patient_session": row["numba_cpu"],
                f"scipy_{key}_s_per_patient_session": row["scipy_wall"],
                f"scipy_{key}_cpu_s_per_patient_session": row["scipy_cpu"],
                f"speedup_{key}_wall": row["speedup_wall"],
                f"speedup_{key}_cpu": row["speedup_cpu"],
                f"goal_ratio_100_met_{key}_cpu": row["speedup_cpu"] >= 100.0,
            }
        )
    print("Physics I heat kernel benchmark (60 min session + 15 min cooling, dt 10 s, 12 + 12 radial cells)")
    print(f"numba max error vs tight reference {numba_err:.4f} C; scipy (solve_ivp, rtol = atol) tolerances tried:")
    for r, e in tried:
        print(f"  rtol {r:.3g}: max error {e:.4f} C")
    print(f"matched: rtol {rtol:.3g} (error {scipy_err:.4f} C <= numba's {numba_err:.4f} C)")
    print()
    h.table(
        ["ratio row (equal threads)", "numba s/ps med", "[min-max]", "scipy s/ps med", "[min-max]", "x wall", "x CPU"],
        [
            (
                r["label"],
                f"{r['numba_wall']:.3g}",
                r["numba_span"],
                f"{r['scipy_wall']:.3g}",
                r["scipy_span"],
                f"{r['speedup_wall']:.1f}",
                f"{r['speedup_cpu']:.1f}",
            )
            for r in (row_a, row_b)
        ],
    )
    print(f"load average (1 min) {load_start:.2f} at start, {load:.2f} at end")
    print(
        f"{'wall / CPU s for ' + str(args.patients) + ' patient-sessions (numba, ' + str(w) + ' threads)':58s} "
        f"{t_big:.2f} / {cpu_big:.2f}"
    )
    print(f"{'clinical session CPU s / patient-session':58s} {figures['clinical_cpu_s_per_patient_session']:.3e}")
    print(f"{'chain heat CPU s / patient-session':58s} {figures['chain_heat_cpu_s_per_patient_session']:.3e}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
