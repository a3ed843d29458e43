"""Benchmark: the chemistry fast path against the scipy Radau oracle, and the full protocol over a cohort.

Measures, with the shared harness (medians of >= 5 alternating runs, min-max, wall and CPU time, threads
pinned and read back from the libraries):

1. chemistry, one thread each (``numba.set_num_threads(1)``; scipy's Radau is single-threaded): the fast
   numba path (quasi-steady radicals, Rosenbrock 2(3), analytic Jacobian, its default rtol) and the scipy
   Radau solution of the full mechanism at MATCHED accuracy (the loosest rtol of 1e-2, 3e-3, ... whose largest
   relative error against a tight Radau reference, rtol 1e-9, does not exceed the fast path's) on the same
   runs: ``--oracle-patients`` patients x 3 deposit groups, each with the 21-day history of six 60-min heat
   sessions (ramp to 45 C) of the default CDT agent. Both errors are printed with the times. A larger set
   (``--fast-patients``) gives the fast path's time per patient with less noise.
2. ``simulate_protocol`` wall and CPU time for ``--n`` glioblastoma patients (all numba threads): the full
   "MHT + CDT + RT" protocol (goal: <= 20 s for 10,000 patients, issue 18 item 4), the NanoTherm MHT + RT arm
   and RT alone; and a profile of the full protocol (heat sessions, chemistry, the rest) from one run of
   each step on the same cohort.

Baselines, in one line each: the scipy Radau oracle solves the same chemistry (every radical explicit) at
the same relative tolerance on the same runs and thread count; the protocol has no external baseline (its
figure is a goal). The machine is shared: the load average is printed with the timings.
Prints a table and, as its LAST line, one JSON object with every figure.
Usage: python benchmarks/bench_cohort_physics.py [--n 10000] [--oracle-patients 2] [--fast-patients 200]
       [--repeats 5] [--protocol-repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import compare, emit, load, pin_threads, span, thread_report  # noqa: E402

from mhtcdt.cohorts import generate_cohort  # noqa: E402
from mhtcdt.physics import chain, protocol_preset, simulate_protocol  # noqa: E402
from mhtcdt.physics import chemistry as ch  # noqa: E402
from mhtcdt.physics import chemistry_fast as cf  # noqa: E402
from mhtcdt.physics.assumptions import DEFAULT_ASSUMPTIONS  # noqa: E402

OUTPUTS = ("oh_cumulative_uM_min", "gsh_nadir_mM", "lipid_peroxide_peak_uM", "labile_fe2_peak_uM")
RADAU_RTOLS = (1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5)  # tried loosest first for the matched-accuracy oracle


def _history() -> tuple[np.ndarray, np.ndarray]:
    """Six 60-min sessions twice weekly (10-min ramp to 45 C, cool-down), 37 C otherwise, 21 days."""
    rec = np.arange(0.0, 4500.0 + 1, 120.0)
    temps = np.where(rec < 600, 37 + 8 * rec / 600, np.where(rec <= 3600, 45.0, 37 + 8 * np.exp(-(rec - 3600) / 200)))
    t = np.concatenate([j * 84 * 3600 + rec for j in range(6)] + [[21 * 86400.0]])
    return t, np.concatenate([temps] * 6 + [[37.0]])


def _conditions(cohort, groups: int = 3) -> list[ch.ChemistryConditions]:
    """The default CDT agent at 40-60 mM internalised iron (the deposit groups), each patient's GSH and H2O2."""
    out = []
    for _, row in cohort.iterrows():
        for g in range(groups):
            out.append(
                ch.ChemistryConditions(
                    gsh_mM=float(row["gsh_mM"]),
                    h2o2_production_uM_per_s=float(row["h2o2_production_uM_per_s"]),
                    particle_iron_mM=40.0 + 10.0 * g,
                    agent="gox_hollow_iron_oxide",
                )
            )
    return out


def _row(what: str, patients: int, timing, cpu_per_patient_s: float, last: str) -> list:
    return [what, f"{patients} pts", span(timing), f"{timing.cpu_median:.4g}", f"{cpu_per_patient_s * 1e3:.4g}", last]


def _worst_error(results: list[ch.ChemistryResult], reference: list[ch.ChemistryResult]) -> float:
    worst = 0.0
    for r, ref in zip(results, reference, strict=True):
        for name in OUTPUTS:
            b = getattr(ref, name)
            if b != 0.0:
                worst = max(worst, abs(getattr(r, name) / b - 1.0))
    return worst


def bench_chemistry(oracle_patients: int, fast_patients: int, repeats: int) -> tuple[list, dict]:
    t, temps = _history()
    cohort = generate_cohort("recurrent_glioblastoma", max(oracle_patients, fast_patients), seed=7)
    conds = _conditions(cohort)
    pin_threads(1)
    threads = thread_report()
    mo, mf = 3 * oracle_patients, 3 * fast_patients
    reference = [ch.solve_oracle(c, t, temps, rtol=1e-9) for c in conds[:mo]]

    def fast_small():
        return cf.solve_fast_many(conds[:mo], [t] * mo, [temps] * mo)

    def fast_large():
        return cf.solve_fast_many(conds[:mf], [t] * mf, [temps] * mf)

    fast_err = _worst_error(fast_small(), reference)
    # matched accuracy: the loosest Radau tolerance whose error does not exceed the fast path's
    matched, radau_err = RADAU_RTOLS[-1], None
    for rtol in RADAU_RTOLS:
        err = _worst_error([ch.solve_oracle(c, t, temps, rtol=rtol) for c in conds[:mo]], reference)
        if err <= fast_err:
            matched, radau_err = rtol, err
            break
    if radau_err is None:
        radau_err = err

    def radau_matched():
        return [ch.solve_oracle(c, t, temps, rtol=matched) for c in conds[:mo]]

    t_fast, t_radau = compare([fast_small, radau_matched], repeats)
    (t_large,) = compare([fast_large], repeats)
    pin_threads(numba.config.NUMBA_NUM_THREADS)
    per = {
        "fast": t_fast.cpu_median / oracle_patients,
        "radau": t_radau.cpu_median / oracle_patients,
        "fast_large": t_large.cpu_median / fast_patients,
    }
    rows = [
        _row("chemistry fast path (1 thread)", oracle_patients, t_fast, per["fast"], f"{fast_err:.2e}"),
        _row(f"scipy Radau rtol {matched:g} (1 thread)", oracle_patients, t_radau, per["radau"], f"{radau_err:.2e}"),
        _row("chemistry fast path (1 thread)", fast_patients, t_large, per["fast_large"], ""),
    ]
    figures = {
        **t_fast.figures("chem_fast"),
        **t_radau.figures("chem_radau_matched"),
        **t_large.figures("chem_fast_large"),
        "chem_fast_cpu_s_per_patient": per["fast_large"],
        "chem_radau_matched_cpu_s_per_patient": per["radau"],
        "chem_speedup_radau_over_fast_cpu": per["radau"] / per["fast"],
        "chem_fast_max_rel_error_vs_tight_reference": fast_err,
        "chem_radau_matched_max_rel_error_vs_tight_reference": radau_err,
        "chem_fast_rtol": cf.DEFAULT_RTOL,
        "chem_radau_matched_rtol": matched,
        "chem_oracle_patients": oracle_patients,
        "chem_fast_patients": fast_patients,
        "chem_threads": threads,
    }
    return rows, figures


def profile_protocol(cohort, preset: str) -> dict:
    """One run of each step of ``simulate_protocol`` for the cohort: heat sessions, chemistry, total."""
    protocol = protocol_preset(preset)
    n = len(cohort)
    dose = np.full(n, float(protocol.np_dose_mg_Fe_per_cm3))
    coverage = cohort["deposit_coverage_fraction"].to_numpy(np.float64)
    out = {}
    c0, t0 = time.process_time(), time.perf_counter()
    heat = chain.heat_sessions(cohort, protocol, dose, 1, DEFAULT_ASSUMPTIONS)
    out["heat"] = (time.perf_counter() - t0, time.process_time() - c0)
    particle = chain._particle_iron_mM(protocol, dose, coverage)
    c0, t0 = time.process_time(), time.perf_counter()
    chem = chain._run_chemistry(cohort, protocol, heat, particle, {})
    out["chemistry"] = (time.perf_counter() - t0, time.process_time() - c0)
    out["labile_fe2_peak_uM_percentiles_5_50_95"] = np.percentile(chem["fe2_peak_uM"], [5, 50, 95]).tolist()
    return out


def bench_protocol(n: int, repeats: int) -> tuple[list, dict]:
    cohort = generate_cohort("recurrent_glioblastoma", n, seed=11)
    threads = thread_report()
    rows, figures = [], {}
    for key, preset in (
        ("mht_cdt_rt", "mht_cdt_rt"),
        ("nanotherm_mht_rt", "mht_rt_nanotherm"),
        ("rt_alone", "rt_alone"),
    ):
        protocol = protocol_preset(preset)
        simulate_protocol(cohort.iloc[:4], protocol, seed=1)  # compile / load numba caches
        result = {}

        def run(protocol=protocol, result=result):
            result["df"] = simulate_protocol(cohort, protocol, seed=1)

        (timing,) = compare([run], repeats)
        rows.append(_row(f"simulate_protocol {key}", n, timing, timing.cpu_median / n, ""))
        figures.update(timing.figures(f"protocol_{key}"))
        figures[f"protocol_{key}_median_log10_kill_total"] = float(result["df"]["log10_kill_total"].median())
    prof = profile_protocol(cohort, "mht_cdt_rt")
    total = figures["protocol_mht_cdt_rt_cpu_median_s"]  # shares of CPU time: steadier than wall when shared
    for step in ("heat", "chemistry"):
        wall, cpu = prof[step]
        share = f"CPU {cpu / total:.0%}"
        per_patient_ms = f"{cpu / n * 1e3:.4g}"
        rows.append([f"  profile mht_cdt_rt: {step}", f"{n} pts", f"{wall:.4g}", f"{cpu:.4g}", per_patient_ms, share])
        figures[f"profile_mht_cdt_rt_{step}_wall_s"] = wall
        figures[f"profile_mht_cdt_rt_{step}_cpu_s"] = cpu
    rest = max(total - prof["heat"][1] - prof["chemistry"][1], 0.0)
    rest_share = f"CPU {rest / total:.0%}"
    rows.append(["  profile mht_cdt_rt: rest", f"{n} pts", "", f"{rest:.4g}", f"{rest / n * 1e3:.4g}", rest_share])
    figures["profile_mht_cdt_rt_labile_fe2_peak_uM_p5_p50_p95"] = prof["labile_fe2_peak_uM_percentiles_5_50_95"]
    figures["protocol_patients"] = n
    figures["protocol_goal_s"] = 20.0
    figures["protocol_threads"] = threads
    return rows, figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="patients for the full-protocol timing")
    ap.add_argument("--oracle-patients", type=int, default=2, help="patients for the scipy oracle timing")
    ap.add_argument("--fast-patients", type=int, default=200, help="patients for the fast-path timing")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of each chemistry solver (>= 5)")
    ap.add_argument("--protocol-repeats", type=int, default=5, help="timed runs of each protocol (>= 5)")
    args = ap.parse_args()
    load0 = load()
    chem_rows, chem = bench_chemistry(args.oracle_patients, args.fast_patients, args.repeats)
    prot_rows, prot = bench_protocol(args.n, args.protocol_repeats)
    print(f"Cohort physics benchmark (shared 2-core machine; load average {load0:.2f} at start, {load():.2f} at end)")
    emit(
        ["what", "size", "wall s median [min-max]", "CPU s median", "CPU ms/patient", "max rel error / share"],
        chem_rows + prot_rows,
        {**chem, **prot, "load_average_start": load0, "load_average_end": load()},
    )


if __name__ == "__main__":
    main()
