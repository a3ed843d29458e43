"""Benchmark of the Physics I heat kernels (run: ``python benchmarks/bench_physics.py [--patients N]``).

Prints a table and, as the LAST line, one JSON object with every figure:
* seconds per patient-session of the numba radial kernel (cohort settings: dt 10 s, 12 cells across the
  tumour and 12 stretched cells in healthy tissue out to 4 R, 60 min heating + 15 min cooling, Lang
  perfusion in tumour and tissue);
* the same for the scipy method-of-lines reference (``oracle.bioheat_radial_ivp``) at MATCHED accuracy:
  the loosest solve_ivp tolerance whose max error (vs a tight reference) does not exceed the numba
  kernel's; their ratio;
* wall time for 10,000 patients x one 60-minute session on this machine (all numba threads);
* the clinical session (stepwise amplitude control on the thermometry track, tolerance ceiling, eddy-current
  heating, heterogeneous deposit: everything the cohort chain now runs) per patient-session, one session;
* the heat part of the model chain (``chain.heat_sessions``: the NanoTherm preset, 6 sessions, on generated
  glioblastoma patients) per patient-session: sessions that repeat the first are copied, not solved again.
Wall times depend on what else runs on the machine, so CPU times and the load average are printed too
(numba wall ~ CPU / threads on an idle machine; the scipy reference is single-threaded).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from mhtcdt.physics.bioheat_radial import Heating, RadialPatients, simulate_sessions_radial
from mhtcdt.physics.oracle.bioheat_radial_ivp import RadialReference
from mhtcdt.physics.session import SessionControl, SessionTiming
from mhtcdt.physics.tissue import load_tissue, tumour_tissue

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--reference-patients", type=int, default=4)
    args = parser.parse_args()
    tum = tumour_tissue("brain")
    healthy = load_tissue("brain").with_perfusion(559.0, "lang1999_muscle")

    run_numba(4, tum, healthy)  # compile / load cache outside the timing
    t_small, _ = run_numba(1000, tum, healthy, seed=1)
    numba_per_ps = t_small / 1000
    numba_cpu_per_ps = run_numba.cpu_s / 1000

    # accuracy of the numba kernel and the matched-accuracy scipy reference, on a few patients
    radius, coverage, perfusion, q = cohort(args.reference_patients, seed=7)
    times = np.arange(0.0, SESSION_S + COOLDOWN_S + 1.0, 60.0)
    _, res = run_numba(args.reference_patients, tum, healthy, seed=7)
    refs = [
        RadialReference(radius[i], coverage[i], tum, healthy, tumour_perfusion_mL_per_min_per_kg=perfusion[i])
        for i in range(args.reference_patients)
    ]
    exact = [r.session(q[i], SESSION_S, COOLDOWN_S, times, rtol=1e-10, atol=1e-10) for i, r in enumerate(refs)]
    numba_err = max(
        np.abs(res.tumour_temperature_C[i, 0] - exact[i][:, :12]).max() for i in range(args.reference_patients)
    )
    chosen = None
    tried = []
    for rtol in (1e-2, 1e-3, 3e-4, 1e-4, 5e-5, 2e-5, 1e-5, 1e-6, 1e-7, 1e-8):
        t0 = time.perf_counter()
        c0 = time.process_time()
        sols = [r.session(q[i], SESSION_S, COOLDOWN_S, times, rtol=rtol, atol=rtol) for i, r in enumerate(refs)]
        elapsed = (time.perf_counter() - t0) / args.reference_patients
        cpu = (time.process_time() - c0) / args.reference_patients
        err = max(np.abs(s[:, :12] - e[:, :12]).max() for s, e in zip(sols, exact, strict=True))
        tried.append((rtol, err, elapsed, cpu))
        if err <= numba_err:
            chosen = (rtol, err, elapsed, cpu)
            break
    if chosen is None:
        chosen = tried[-1]
    scipy_per_ps = chosen[2]

    t_big, res_big = run_numba(args.patients, tum, healthy, seed=11)
    cpu_big = run_numba.cpu_s
    run_clinical(4, tum, healthy)
    clin_wall, clin_cpu = run_clinical(1000, tum, healthy, seed=3)
    chain_wall, chain_cpu, chain_ps = run_chain_heat(400)
    load = os.getloadavg()[0]
    figures = {
        "numba_threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
        "numba_s_per_patient_session": numba_per_ps,
        "numba_max_error_C": float(numba_err),
        "scipy_rtol_matched": chosen[0],
        "scipy_max_error_C": float(chosen[1]),
        "scipy_s_per_patient_session": scipy_per_ps,
        "speedup_numba_vs_scipy": scipy_per_ps / numba_per_ps,
        "numba_cpu_s_per_patient_session": numba_cpu_per_ps,
        "scipy_cpu_s_per_patient_session": chosen[3],
        "speedup_cpu_numba_vs_scipy": chosen[3] / numba_cpu_per_ps,
        "cohort_cpu_s": cpu_big,
        "load_average_1min": load,
        "cohort_patients": args.patients,
        "cohort_wall_s": t_big,
        "cohort_wall_s_per_10k": t_big * 10_000 / args.patients,
        "goal_ratio_met_wall": scipy_per_ps / numba_per_ps >= 100.0,
        "goal_ratio_met_cpu": chosen[3] / numba_cpu_per_ps >= 100.0,
        "goal_10k_in_10s_met_wall": t_big * 10_000 / args.patients <= 10.0,
        "cohort_cpu_s_per_10k": cpu_big * 10_000 / args.patients,
        "mean_t90_C": float(res_big.t90_C.mean()),
        "clinical_s_per_patient_session": clin_wall / 1000,
        "clinical_cpu_s_per_patient_session": clin_cpu / 1000,
        "chain_heat_s_per_patient_session": chain_wall / chain_ps,
        "chain_heat_cpu_s_per_patient_session": chain_cpu / chain_ps,
    }
    print("Physics I heat kernel benchmark (60 min session + 15 min cooling, dt 10 s, 12 + 12 radial cells)")
    print(f"{'quantity':40s} {'value':>14s}")
    print(f"{'numba s / patient-session':40s} {numba_per_ps:14.3e}")
    print(f"{'numba max error vs tight reference (C)':40s} {numba_err:14.4f}")
    for rtol, err, el, _cpu in tried:
        print(f"{'scipy rtol=' + format(rtol, '.0e') + ' s/ps (err C)':40s} {el:14.3e} ({err:.4f})")
    print(f"{'scipy s / patient-session (matched)':40s} {scipy_per_ps:14.3e}")
    print(f"{'speed-up numba vs scipy (wall)':40s} {figures['speedup_numba_vs_scipy']:14.1f}")
    print(f"{'speed-up numba vs scipy (CPU time)':40s} {figures['speedup_cpu_numba_vs_scipy']:14.1f}")
    print(f"{'machine load average (1 min)':40s} {load:14.2f}")
    print(f"{'wall s for ' + str(args.patients) + ' patient-sessions':40s} {t_big:14.2f}")
    print(f"{'clinical session CPU s / patient-session':40s} {figures['clinical_cpu_s_per_patient_session']:14.3e}")
    print(f"{'chain heat CPU s / patient-session':40s} {figures['chain_heat_cpu_s_per_patient_session']:14.3e}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
