"""Benchmark: the analysis of replicate virtual trials (log-rank test + KM median per arm), package vs lifelines.

The same work on both sides: for each replicate trial of ``--patients-per-trial`` patients (two arms, OS),
the two-group log-rank chi-square and the Kaplan-Meier median of each arm.

* **package**: ``decision.trial.fastlogrank.logrank_replicates`` (numba, one sort and one pass per replicate,
  parallel over replicates);
* **baseline**: lifelines ``logrank_test`` plus one ``KaplanMeierFitter`` per arm, per replicate (what a user
  would write; lifelines has no batched form). Agreement is checked at every size: max |chi2 difference| and
  identical medians.

Both run on the same pre-generated data (``power.replicate_data``), with the same number of threads
(``--threads``, default 1: lifelines is single-threaded; numba and BLAS are pinned and read back from the
libraries), medians of >= 5 alternating runs with min-max, wall and CPU time, from 1,000 to 1,000,000
patients in total. lifelines costs milliseconds per trial in a Python loop whose cost is the same for every
trial, so above ``--baseline-max-trials`` (default 100) it runs on that many of the trials and its time is
scaled by trials / timed trials (the table says so in its ``baseline trials`` column); the ratios are per
trial. Peak memory is tracemalloc's (numpy buffers and Python objects; a numba kernel's
internal scratch arrays are not traced, so the package's figure is a lower bound).

The trial engine itself (patient resampling, stratified block randomisation, accrual, outcome model,
censoring, analysis: ``power.simulate_replicates``) has no like-for-like baseline (lifelines simulates no
trials); its time per patient is reported on its own, never as a ratio against the analysis-only baseline.
The patient pool is synthetic cohort-like data with fixed kills (the benchmark is about the trial engine,
not the physics).

Usage: python benchmarks/bench_trial.py [--sizes 1000,10000,100000,1000000] [--patients-per-trial 300]
[--threads 1] [--repeats 5]. Prints a table and, as its last line, one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import compare, emit, load, peak_memory, pin_threads, span, thread_report  # noqa: E402

POOL = 3000


def pools(seed: int = 1) -> dict[str, pd.DataFrame]:
    """Two synthetic patient pools (RT alone, MHT + RT) with fixed log10 kills."""
    rng = np.random.default_rng(seed)
    base = pd.DataFrame(
        dict(
            patient_id=np.arange(POOL, dtype=np.int64),
            indication="recurrent_glioblastoma",
            tumour_volume_cm3=rng.lognormal(np.log(25), 0.7, POOL),
            kps=rng.choice([60, 70, 80, 90, 100], POOL),
            age_years=rng.normal(56, 10, POOL),
            eloquent_location=rng.random(POOL) < 0.4,
            mgmt_methylated=rng.random(POOL) < 0.4,
        )
    )
    return {
        "RT": base.assign(log10_kill_total=1.95, log10_kill_rt=1.95),
        "MHT": base.assign(log10_kill_total=6.0, log10_kill_rt=1.95),
    }


def replicate_trial():
    """The replicate-trial model: unstratified 1:1 (lifelines has no stratified log-rank to compare with)."""
    from mhtcdt.decision.model import outcome
    from mhtcdt.decision.trial import power
    from mhtcdt.decision.trial.design import TrialDesign

    design = TrialDesign(
        allocation={"RT": 1, "MHT": 1},
        stratify_by=[],
        block_size=4,
        accrual_per_month=12.0,
        min_follow_up_months=12.0,
        dropout_per_year=0.05,
    )
    return power.ReplicateTrial(pools(), design, "RT", "MHT", params=outcome.load_outcome_params())


def lifelines_analysis(times: np.ndarray, events: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Baseline: per replicate, lifelines' log-rank chi2 and the KM median of each arm; (R, 3)."""
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test

    out = np.empty((times.shape[0], 3))
    for r in range(times.shape[0]):
        g1, g0 = group[r] == 1, group[r] == 0
        out[r, 0] = logrank_test(times[r][g1], times[r][g0], events[r][g1], events[r][g0]).test_statistic
        out[r, 1] = KaplanMeierFitter().fit(times[r][g0], events[r][g0]).median_survival_time_
        out[r, 2] = KaplanMeierFitter().fit(times[r][g1], events[r][g1]).median_survival_time_
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000,1000000", help="total patients per size, comma-separated")
    ap.add_argument("--patients-per-trial", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1, help="threads for numba and BLAS (lifelines uses one)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--baseline-max-trials", type=int, default=100, help="trials lifelines is timed on per size")
    args = ap.parse_args(argv)

    import lifelines  # noqa: F401  (loaded before the thread pools are pinned, so its BLAS is pinned too)

    from mhtcdt.decision.trial import power
    from mhtcdt.decision.trial.fastlogrank import logrank_replicates

    pin_threads(args.threads)

    trial = replicate_trial()
    n = args.patients_per_trial
    power.simulate_replicates(trial, 20, 2, 0)  # numba compile / cache load, not timed

    rows, figures = [], {"benchmark": "bench_trial", "patients_per_trial": n, "threads": thread_report()}
    figures["load_average_start"] = load()
    for size in [int(s) for s in args.sizes.split(",")]:
        reps = max(1, size // n)
        times, events, group, _ = power.replicate_data(trial, n, reps, 7)

        def package(t=times, e=events, g=group):
            return logrank_replicates(t, e, g)

        timed = min(reps, args.baseline_max_trials)

        def baseline(t=times[:timed], e=events[:timed], g=group[:timed]):
            return lifelines_analysis(t, e, g)

        fast, slow = package(), baseline()
        max_chi2_diff = float(np.max(np.abs(slow[:, 0] - fast["chi2"].to_numpy()[:timed])))
        medians_identical = bool(
            np.array_equal(slow[:, 1], fast["median_0_months"].to_numpy()[:timed])
            and np.array_equal(slow[:, 2], fast["median_1_months"].to_numpy()[:timed])
        )
        t_pkg, t_base = compare([package, baseline], args.repeats)
        scale = reps / timed
        t_base.wall[:] = [w * scale for w in t_base.wall]
        t_base.cpu[:] = [c * scale for c in t_base.cpu]
        mem_pkg, mem_base = peak_memory(package), peak_memory(baseline)
        (t_engine,) = compare([lambda r=reps: power.simulate_replicates(trial, n, r, 7)], args.repeats)
        mem_engine = peak_memory(lambda r=reps: power.simulate_replicates(trial, n, r, 7))
        patients = reps * n
        rows.append(
            (
                f"{patients:,}",
                reps,
                timed,
                span(t_pkg),
                span(t_base),
                f"{t_base.median / t_pkg.median:.0f}x",
                f"{t_base.cpu_median / t_pkg.cpu_median:.0f}x",
                f"{mem_pkg / 2**20:.1f}",
                f"{mem_base / 2**20:.1f}",
                f"{max_chi2_diff:.1e}",
                medians_identical,
                span(t_engine),
                f"{1e6 * t_engine.median / patients:.2f}",
                f"{mem_engine / 2**20:.1f}",
            )
        )
        key = f"n{patients}"
        figures.update(t_pkg.figures(f"{key}_package"))
        figures.update(t_base.figures(f"{key}_lifelines"))
        figures.update(t_engine.figures(f"{key}_engine"))
        figures[f"{key}_replicates"] = reps
        figures[f"{key}_lifelines_timed_trials"] = timed
        figures[f"{key}_ratio_wall"] = t_base.median / t_pkg.median
        figures[f"{key}_ratio_cpu"] = t_base.cpu_median / t_pkg.cpu_median
        figures[f"{key}_package_peak_MiB"] = mem_pkg / 2**20
        figures[f"{key}_lifelines_peak_MiB"] = mem_base / 2**20
        figures[f"{key}_engine_peak_MiB"] = mem_engine / 2**20
        figures[f"{key}_engine_us_per_patient"] = 1e6 * t_engine.median / patients
        figures[f"{key}_max_chi2_diff"] = max_chi2_diff
        figures[f"{key}_medians_identical"] = medians_identical
    figures["load_average_end"] = load()

    print(
        f"Log-rank + KM median per arm of replicate trials of {n} patients; package = numba kernel, "
        f"baseline = lifelines per replicate (scaled from 'baseline trials'), same data, same threads; "
        f"times s median [min-max] of >= {max(args.repeats, 5)} runs; "
        "engine = whole replicate-trial simulation incl. analysis (no baseline)"
    )
    emit(
        (
            "patients",
            "trials",
            "baseline trials",
            "package s",
            "lifelines s",
            "wall",
            "cpu",
            "pkg MiB",
            "lifelines MiB",
            "max|dchi2|",
            "medians=",
            "engine s",
            "engine us/pt",
            "engine MiB",
        ),
        rows,
        figures,
    )


if __name__ == "__main__":
    main()
