"""Benchmark: Physics II chemistry fast path vs the scipy oracle, and the full protocol over a cohort.

Measures, in one run:
1. per-patient time of the CDT/ferroptosis chemistry on the fast numba path (QSSA radicals + Rosenbrock,
   one thread) and on the scipy Radau oracle of the full mechanism, for the same patients and the same
   21-day temperature history with 6 heat sessions (3 deposit groups per patient, as simulate_protocol
   runs them); ratio oracle / fast (goal >= 100) and the largest relative difference of the outputs;
2. wall time of ``simulate_protocol`` for the full "MHT + CDT + RT" protocol (6 titrated heat sessions on
   the radial Pennes solver + chemistry + ferroptosis + RT + kill) for ``--n`` patients (goal <= 60 s for
   10,000 on 2 cores), after a warm-up that compiles the numba kernels, and the NanoTherm MHT + RT arm.

Prints a table and, as its LAST line, one JSON object with every figure.
Usage: python benchmarks/bench_cohort_physics.py [--n 10000] [--oracle-patients 2]
The machine is shared: CPU seconds are printed next to wall seconds.
"""

from __future__ import annotations

import argparse
import json
import time

import numba
import numpy as np

from mhtcdt.cohorts import generate_cohort
from mhtcdt.physics import chemistry as ch
from mhtcdt.physics import chemistry_fast as cf
from mhtcdt.physics import protocol_preset, simulate_protocol


def _history() -> tuple[np.ndarray, np.ndarray]:
    """Six 60-min sessions twice weekly (10-min ramp to 45 C, cool-down), 37 C otherwise, 21 days."""
    rec = np.arange(0.0, 4500.0 + 1, 120.0)
    temps = np.where(rec < 600, 37 + 8 * rec / 600, np.where(rec <= 3600, 45.0, 37 + 8 * np.exp(-(rec - 3600) / 200)))
    t = np.concatenate([j * 84 * 3600 + rec for j in range(6)] + [[21 * 86400.0]])
    return t, np.concatenate([temps] * 6 + [[37.0]])


def _conditions(cohort, groups: int = 3) -> list[ch.ChemistryConditions]:
    out = []
    for _, row in cohort.iterrows():
        for g in range(groups):
            out.append(
                ch.ChemistryConditions(
                    ph=float(row["ph_extracellular"]),
                    gsh_mM=float(row["gsh_mM"]),
                    h2o2_production_uM_per_s=float(row["h2o2_production_uM_per_s"]),
                    particle_iron_mM=40.0 + 10.0 * g,
                    agent="gox_hollow_iron_oxide",
                )
            )
    return out


def bench_chemistry(oracle_patients: int, fast_patients: int) -> dict:
    t, temps = _history()
    cohort = generate_cohort("recurrent_glioblastoma", max(oracle_patients, fast_patients), seed=7)
    conds = _conditions(cohort)
    numba.set_num_threads(1)
    cf.solve_fast_many(conds[:3], [t] * 3, [temps] * 3)  # compile / load cache
    m = 3 * fast_patients
    w0, c0 = time.perf_counter(), time.process_time()
    fast = cf.solve_fast_many(conds[:m], [t] * m, [temps] * m)
    fast_wall, fast_cpu = time.perf_counter() - w0, time.process_time() - c0
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    mo = 3 * oracle_patients
    w0, c0 = time.perf_counter(), time.process_time()
    oracle = [ch.solve_oracle(c, t, temps, rtol=1e-8) for c in conds[:mo]]
    oracle_wall, oracle_cpu = time.perf_counter() - w0, time.process_time() - c0
    worst = 0.0
    for f, o in zip(fast[:mo], oracle, strict=True):
        for name in ("oh_cumulative_uM_min", "gsh_nadir_mM", "lipid_peroxide_peak_uM"):
            worst = max(worst, abs(getattr(f, name) / getattr(o, name) - 1))
    per_fast = fast_cpu / fast_patients
    per_oracle = oracle_cpu / oracle_patients
    return {
        "chem_fast_s_per_patient": per_fast,
        "chem_fast_wall_s_per_patient": fast_wall / fast_patients,
        "chem_oracle_s_per_patient": per_oracle,
        "chem_oracle_wall_s_per_patient": oracle_wall / oracle_patients,
        "chem_speedup_oracle_over_fast": per_oracle / per_fast,
        "chem_max_rel_diff_fast_vs_oracle": worst,
        "chem_oracle_patients": oracle_patients,
        "chem_fast_patients": fast_patients,
    }


def bench_protocol(n: int) -> dict:
    cohort = generate_cohort("recurrent_glioblastoma", n, seed=11)
    out = {}
    for key, preset in (
        ("mht_cdt_rt", "mht_cdt_rt"),
        ("nanotherm_mht_rt", "mht_rt_nanotherm"),
        ("rt_alone", "rt_alone"),
    ):
        protocol = protocol_preset(preset)
        simulate_protocol(cohort.iloc[:4], protocol, seed=1)  # warm-up: compile / load numba caches
        w0, c0 = time.perf_counter(), time.process_time()
        df = simulate_protocol(cohort, protocol, seed=1)
        out[f"protocol_{key}_wall_s"] = time.perf_counter() - w0
        out[f"protocol_{key}_cpu_s"] = time.process_time() - c0
        out[f"protocol_{key}_median_log10_kill_total"] = float(df["log10_kill_total"].median())
    out["protocol_patients"] = n
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="patients for the full-protocol timing")
    ap.add_argument("--oracle-patients", type=int, default=2, help="patients for the scipy oracle timing")
    ap.add_argument("--fast-patients", type=int, default=100, help="patients for the fast-path timing")
    args = ap.parse_args()
    chem = bench_chemistry(args.oracle_patients, args.fast_patients)
    prot = bench_protocol(args.n)
    print("Physics II cohort benchmark (shared 2-core machine; CPU s are steadier than wall s)")
    print(f"{'chemistry, fast path (1 thread)':48s} {chem['chem_fast_s_per_patient'] * 1e3:10.2f} ms CPU / patient")
    print(f"{'chemistry, scipy Radau oracle':48s} {chem['chem_oracle_s_per_patient'] * 1e3:10.0f} ms CPU / patient")
    print(f"{'speed-up oracle / fast (goal >= 100)':48s} {chem['chem_speedup_oracle_over_fast']:10.0f} x")
    print(f"{'max relative difference fast vs oracle':48s} {chem['chem_max_rel_diff_fast_vs_oracle']:10.2e}")
    for key in ("mht_cdt_rt", "nanotherm_mht_rt", "rt_alone"):
        label = f"simulate_protocol {key}, {args.n} patients"
        print(f"{label:48s} {prot[f'protocol_{key}_wall_s']:10.1f} s wall  {prot[f'protocol_{key}_cpu_s']:8.1f} s CPU")
    print(json.dumps({**chem, **prot}))


if __name__ == "__main__":
    main()
