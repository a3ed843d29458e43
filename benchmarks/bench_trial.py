"""Benchmark: 1,000 replicate virtual trials of 300 patients with log-rank and KM median per arm.

Measured in one run:
- ``simulate_s``: the whole replicate engine (patient resampling, stratified block randomisation,
  accrual, outcome model, dropout/cut-off censoring) plus the numba log-rank/median kernel;
- ``analysis_fast_s``: the numba kernel alone on the generated data;
- ``analysis_lifelines_s``: the baseline, lifelines ``logrank_test`` + two ``KaplanMeierFitter``
  medians per replicate on the same data (agreement checked: max |chi2 difference|, medians equal);
- ratios baseline / fast.
The patient pool is synthetic cohort-like data with fixed kills (the benchmark is about the trial
engine, not the physics). The numba compilation is timed separately (``jit_warmup_s``).
Last line: one JSON object with every figure.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test

from mhtcdt.decision.model import outcome
from mhtcdt.decision.trial import power
from mhtcdt.decision.trial.design import TrialDesign
from mhtcdt.decision.trial.fastlogrank import logrank_replicates

N_REPLICATES, N_PATIENTS, POOL = 1000, 300, 3000


def pools(seed: int = 1) -> dict[str, pd.DataFrame]:
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


def main() -> None:
    p = pools()
    params = outcome.load_outcome_params()
    design = TrialDesign(
        allocation={"RT": 1, "MHT": 1},
        stratify_by=[],  # unstratified: lifelines has no stratified log-rank to compare with
        block_size=4,
        accrual_per_month=12.0,
        min_follow_up_months=12.0,
        dropout_per_year=0.05,
    )
    trial = power.ReplicateTrial(p, design, "RT", "MHT", params=params)

    t0 = time.perf_counter()
    power.simulate_replicates(trial, 20, 2, 0)  # numba compile / cache load
    jit = time.perf_counter() - t0

    t0 = time.perf_counter()
    reps = power.simulate_replicates(trial, N_PATIENTS, N_REPLICATES, 7)
    simulate_s = time.perf_counter() - t0

    times, events, group, _ = power.replicate_data(trial, N_PATIENTS, N_REPLICATES, 7)
    t0 = time.perf_counter()
    fast = logrank_replicates(times, events, group)
    fast_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    chi2, med0, med1 = np.empty(N_REPLICATES), np.empty(N_REPLICATES), np.empty(N_REPLICATES)
    for r in range(N_REPLICATES):
        g1, g0 = group[r] == 1, group[r] == 0
        chi2[r] = logrank_test(times[r][g1], times[r][g0], events[r][g1], events[r][g0]).test_statistic
        med0[r] = KaplanMeierFitter().fit(times[r][g0], events[r][g0]).median_survival_time_
        med1[r] = KaplanMeierFitter().fit(times[r][g1], events[r][g1]).median_survival_time_
    lifelines_s = time.perf_counter() - t0

    max_chi2_diff = float(np.max(np.abs(chi2 - fast["chi2"].to_numpy())))
    medians_equal = bool(
        np.array_equal(med0, fast["median_0_months"].to_numpy())
        and np.array_equal(med1, fast["median_1_months"].to_numpy())
    )
    same_as_engine = bool(np.allclose(reps["chi2"].to_numpy(), fast["chi2"].to_numpy()))
    s = power.summarise(reps, N_PATIENTS, 0.05, "OS")

    rows = [
        ("replicate engine + numba log-rank/median", simulate_s),
        ("numba log-rank/median kernel only", fast_s),
        ("lifelines logrank_test + 2 KM per replicate", lifelines_s),
    ]
    print(f"{N_REPLICATES} replicate trials x {N_PATIENTS} patients (OS, log-rank + KM median per arm)")
    print(f"{'step':<46} {'seconds':>9}")
    for name, sec in rows:
        print(f"{name:<46} {sec:>9.3f}")
    print(f"numba JIT / cache load (excluded)              {jit:>9.3f}")
    print(f"speed-up, kernel vs lifelines:        {lifelines_s / fast_s:8.1f} x")
    print(f"speed-up, whole engine vs lifelines analysis only: {lifelines_s / simulate_s:8.1f} x")
    print(f"agreement: max |chi2 diff| = {max_chi2_diff:.2e}, medians identical = {medians_equal}")
    print(f"(power {s.power:.3f}, expected HR {s.expected_hr:.3f}; goal: whole engine <= 10 s)")
    print(
        json.dumps(
            dict(
                benchmark="bench_trial",
                n_replicates=N_REPLICATES,
                n_patients=N_PATIENTS,
                jit_warmup_s=round(jit, 4),
                simulate_s=round(simulate_s, 4),
                analysis_fast_s=round(fast_s, 4),
                analysis_lifelines_s=round(lifelines_s, 4),
                ratio_lifelines_vs_fast_kernel=round(lifelines_s / fast_s, 1),
                ratio_lifelines_vs_whole_engine=round(lifelines_s / simulate_s, 2),
                max_chi2_diff=max_chi2_diff,
                medians_identical=medians_equal,
                engine_matches_kernel=same_as_engine,
                goal_s=10.0,
                goal_met=simulate_s <= 10.0,
            )
        )
    )


if __name__ == "__main__":
    main()
