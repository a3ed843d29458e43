"""Scale-out benchmark: the same work on serial, local processes and a Dask LocalCluster, and the peak
memory of a streamed 1,000,000-patient trial.

Run: ``PYTHONPATH=. python benchmarks/bench_scale.py [--patients 1000000] [--draws 20000]
[--replicates 1000] [--workers 2]``

Workloads
---------
1. **PSA (streamed)** of the default scenario's partitioned-survival cost-utility model: exponential PFS/OS per
   arm with rate ~ Gamma(events, exposure) (conjugate posterior of the exponential fit to a streamed
   virtual trial of the default scenario), state and one-off costs ~ Gamma(mean = scenario value,
   SD = 10 % of it), utilities ~ Beta(mean = scenario value, SD 0.05) (benchmark assumptions, not the
   package's PSA), discounting, counting and horizon of the scenario; draws through
   ``economics.run_partitioned_survival``, streamed into ``stream_psa.PSAAccumulator``.
1b. **Scenario PSA**: the package's own ``decision.model.psa.run_psa`` of the default scenario (calibration
   draws for survival, scenario uncertainty ranges for costs and utilities), in one vectorised call and
   in chunks of draws on each executor.
2. **1,000 replicate trials** of the default scenario (``power.simulate_replicates`` via
   ``chunked.replicate_trials_chunked``; pools from ``arm_chain.pools_from_scenario``, physics not timed).
3. **1,000,000-patient trial** streamed with ``stream_trial.stream_scenario_trial`` on local processes.
   Both arms are radiotherapy only (30 Gy / 15 fractions vs 60 Gy / 30 fractions) because the
   magnetic-hyperthermia physics costs tens of milliseconds per patient (hours for a million on two
   cores); cohort, selection, RT physics, outcome model and follow-up are the package's own. Peak memory
   is the largest summed RSS of this process and its workers (psutil, sampled every 0.1 s), compared with
   the size of the full patient table the run never builds (bytes per patient of one chunk x patients).

Every executor's result is compared with the serial one; the last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mhtcdt.decision.run import chunked, chunking, executors, stream_psa, stream_trial  # noqa: E402  # noqa: E402
from mhtcdt.seeding import root_sequence  # noqa: E402


# ---------------------------------------------------------------------------------------------- PSA
def psa_model(
    params: dict[str, np.ndarray], *, arms: list[str], grid: np.ndarray, mht_arm: list[bool], eco: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised partitioned-survival model over draws: (cost, QALYs), each (draws, arms)."""
    from mhtcdt.economics import Conventions, StateValues, SurvivalCurves, run_partitioned_survival

    n = params["cost_pf_per_month"].shape[0]
    rate_pfs = np.column_stack([params[f"pfs_rate_{i}"] for i in range(len(arms))])  # (D, S) per month
    rate_os = np.column_stack([params[f"os_rate_{i}"] for i in range(len(arms))])
    os_ = np.exp(-rate_os[:, :, None] * grid[None, None, :])
    pfs = np.minimum(np.exp(-rate_pfs[:, :, None] * grid[None, None, :]), os_)
    state_cost = np.stack([params["cost_pf_per_month"], params["cost_pd_per_month"]], axis=-1)[:, None, :]
    utility = np.stack([params["utility_pf"], params["utility_pd"]], axis=-1)[:, None, :]
    one_off = params["rt_course"][:, None] + np.outer(params["mht_course"], np.asarray(mht_arm, float))
    res = run_partitioned_survival(
        SurvivalCurves(arms, grid, (pfs, os_)),
        StateValues(
            costs=state_cost,
            costs_per="months",
            utilities=utility,
            one_off_cost=one_off,
            end_of_life_cost=params["end_of_life"][:, None],
        ),
        Conventions(
            discount_costs=eco["discount_costs"],
            discount_effects=eco["discount_effects"],
            counting=eco["counting"],
            discount_method=eco["discount_method"],
        ),
    )
    assert res.cost.shape == (n, len(arms))
    return res.cost, res.qalys


def psa_setup(seed: int) -> tuple:
    from mhtcdt.decision.scenario.loading import default_scenario
    from mhtcdt.economics import Beta, Gamma

    sc = default_scenario()
    eco = sc.economics
    trial = stream_trial.stream_scenario_trial(sc, sc.cohort.n_screened, seed, executor="serial", chunk_size=250)
    arms = [a.name for a in sc.randomised_arms]
    dists = {}
    for endpoint, table in (("pfs", trial.pfs), ("os", trial.os)):
        tab = table.table()
        for i, arm in enumerate(arms):
            part = tab[tab["arm"] == arm]
            events = float(part["events"].sum())
            exposure = float((part["time_months"] * (part["events"] + part["censored"])).sum())
            dists[f"{endpoint}_rate_{i}"] = Gamma(events / exposure, np.sqrt(events) / exposure)

    def cost(mean: float) -> Gamma:
        return Gamma(mean, 0.1 * mean)

    c = eco.costs
    dists.update(
        cost_pf_per_month=cost(c.progression_free_per_month),
        cost_pd_per_month=cost(c.progressed_per_month),
        rt_course=cost(c.rt_course),
        mht_course=cost(c.mht_course),
        end_of_life=cost(c.end_of_life),
        utility_pf=Beta(eco.utilities.progression_free, 0.05),
        utility_pd=Beta(eco.utilities.progressed, 0.05),
    )
    grid = np.arange(0.0, 12.0 * eco.horizon_years + 1e-9, eco.cycle_months)
    model = functools.partial(
        psa_model,
        arms=arms,
        grid=grid,
        mht_arm=[a.has_mht for a in sc.randomised_arms],
        eco=dict(
            discount_costs=eco.discount_costs,
            discount_effects=eco.discount_effects,
            counting=eco.counting,
            discount_method=eco.discount_method,
        ),
    )
    wtp = np.linspace(0.0, 100_000.0, 41)
    return model, dists, arms, wtp


# ---------------------------------------------------------------------------------------------- helpers
class PeakRSS:
    """Largest summed RSS [bytes] of this process and all its descendants while the block runs."""

    def __init__(self, interval_s: float = 0.1) -> None:
        import psutil

        self._proc = psutil.Process()
        self._interval = interval_s
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for p in [self._proc, *self._proc.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakRSS:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def timed(func, *args, **kwargs):
    t0 = time.perf_counter()
    out = func(*args, **kwargs)
    return out, time.perf_counter() - t0


def rt_only_scenario():
    from mhtcdt.decision.scenario.loading import default_scenario
    from mhtcdt.decision.scenario.schema import Scenario

    data = default_scenario().model_dump()
    ref = data["arms"][0]
    data["arms"] = [ref, dict(ref, name="RT 60 Gy", rt_total_dose_Gy=60.0, rt_n_fractions=30)]
    data["trial"]["allocation"] = {ref["name"]: 1.0, "RT 60 Gy": 1.0}
    return Scenario.model_validate(data)


def compare_executors(title: str, choices: dict, run, same, warmup=None) -> dict[str, tuple[object, float]]:
    """Run ``run(**options)`` on each executor; print wall times, speed-ups and result equality.

    ``warmup(**options)`` (a small run of the same workload) is run first on the warm executors, so
    their timings exclude worker start-up and numba's first-call loading; the cold ``processes``
    timing includes everything, as one CLI call would.
    """
    if warmup is not None:
        for name, opts in choices.items():
            if name.endswith("_warm") or name == "dask" or name == "serial":
                warmup(**opts)
    results = {name: timed(run, **opts) for name, opts in choices.items()}
    serial_out, serial_s = results["serial"]
    identical = all(same(out, serial_out) for out, _ in results.values())
    print(title)
    for name, (_, secs) in results.items():
        print(f"  {name:<16s} {secs:8.2f} s   speed-up vs serial {serial_s / secs:5.2f}")
    print(f"  identical results on every executor: {identical}")
    return results, identical


def record(figures: dict, prefix: str, results: dict, identical: bool) -> None:
    serial_s = results["serial"][1]
    for name, (_, secs) in results.items():
        figures[f"{prefix}_{name}_s"] = round(secs, 3)
        if name != "serial":
            figures[f"{prefix}_speedup_{name}"] = round(serial_s / secs, 3)
    figures[f"{prefix}_identical"] = bool(identical)


def streamed_trial(scenario, n_patients: int, seed: int, workers: int, chunk: int):
    with PeakRSS() as peak:
        acc, secs = timed(
            stream_trial.stream_scenario_trial,
            scenario,
            n_patients,
            seed,
            executor=executors.resolve_executor("processes", n_workers=workers),
            chunk_size=chunk,
        )
    return acc, secs, peak.peak


def main() -> None:
    import pandas as pd
    from distributed import Client

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=20_000)
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--physics-patients", type=int, default=120)
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args()

    figures: dict[str, object] = {"workers": args.workers, "cores": executors.usable_cores()}
    print(f"bench_scale: {args.workers} workers on {executors.usable_cores()} usable cores")
    print("processes = a new local pool per call (start-up included); processes_warm = a pool kept warm;")
    print("dask = a LocalCluster already running (start-up not included)\n")
    cluster = executors.local_dask_cluster(n_workers=args.workers)
    client = Client(cluster)
    pool = executors.local_process_pool(args.workers)
    chunking.map_chunks(_warm, args.workers * 2, 1, 0, pool)  # start the workers and import the package
    client.run(_warm, 0, 1, 0)
    choices = {
        "serial": dict(executor="serial"),
        "processes": dict(executor=executors.resolve_executor("processes", n_workers=args.workers)),
        "processes_warm": dict(executor=pool),
        "dask": dict(executor=client),
    }
    try:
        from mhtcdt.cohorts import apply_criteria, generate_cohort
        from mhtcdt.decision.run.arm_chain import pools_from_scenario
        from mhtcdt.decision.scenario.checks import protocol_for_arm, trial_design
        from mhtcdt.decision.scenario.loading import default_scenario
        from mhtcdt.decision.trial import power

        sc = default_scenario()
        # ---- 1. PSA
        model, dists, arms, wtp = psa_setup(args.seed)
        results, same = compare_executors(
            f"PSA: {args.draws} draws x {len(arms)} strategies (partitioned survival, monthly cycles, "
            f"{len(wtp)} WTP values), chunks of 1,000 draws",
            choices,
            lambda **o: stream_psa.psa_streamed(
                model, dists, args.draws, args.seed, strategies=arms, wtp=wtp, chunk_size=1000, **o
            ),
            lambda a, b: a.summary().equals(b.summary()) and a.ceac().equals(b.ceac()) and a.evpi().equals(b.evpi()),
            lambda **o: stream_psa.psa_streamed(
                model, dists, 2000, args.seed, strategies=arms, wtp=wtp, chunk_size=1000, **o
            ),
        )
        print("  " + results["serial"][0].summary().to_string(index=False).replace("\n", "\n  "))
        record(figures, "psa", results, same)
        figures["psa_draws"] = args.draws

        # ---- 1b. the package's own scenario PSA (mhtcdt.decision.model.psa.run_psa) of the default scenario
        from mhtcdt.decision.model.psa import run_psa
        from mhtcdt.decision.run.pipeline import run_pipeline

        base = run_pipeline(sc)
        n_scen = args.draws
        in_process, in_process_s = timed(run_psa, base, n_scen)
        results, same = compare_executors(
            f"\nScenario PSA (run_psa): {n_scen} draws of the default scenario, chunks of 2,500 "
            f"(vectorised in one call: {in_process_s:.2f} s)",
            choices,
            lambda **o: run_psa(base, n_scen, executor=o["executor"], chunk_size=2500),
            lambda a, b: np.array_equal(a.cost, b.cost) and np.array_equal(a.qalys, b.qalys),
            lambda **o: run_psa(base, 100, executor=o["executor"], chunk_size=50),
        )
        same = same and np.array_equal(results["serial"][0].cost, in_process.cost)
        record(figures, "scenario_psa", results, same)
        figures["scenario_psa_in_process_s"] = round(in_process_s, 3)
        figures["scenario_psa_draws"] = n_scen

        # ---- 2. replicate trials
        ref_arm = sc.trial.reference_arm
        exp_arm = [a for a in sc.trial.allocation if a != ref_arm][0]
        (pools, tm), pool_s = timed(pools_from_scenario, sc, (ref_arm, exp_arm), sc.cohort.n_screened, args.seed)
        n_trial = len(pools[ref_arm])
        trial = power.ReplicateTrial(pools, trial_design(sc), ref_arm, exp_arm, tm)
        results, same = compare_executors(
            f"\nReplicate trials: {args.replicates} trials of {n_trial} patients, chunks of 25 "
            f"(pool physics {pool_s:.1f} s, not timed)",
            choices,
            lambda **o: chunked.replicate_trials_chunked(
                trial, n_trial, args.replicates, args.seed, chunk_size=25, **o
            ),
            lambda a, b: a.equals(b),
            lambda **o: chunked.replicate_trials_chunked(trial, n_trial, 50, args.seed, chunk_size=25, **o),
        )
        figures["replicate_power"] = round(float(results["serial"][0]["reject"].mean()), 4)
        print(f"  power {figures['replicate_power']:.3f}")
        record(figures, "replicates", results, same)
        figures["replicates"] = args.replicates

        # ---- 3. cohort physics (the expensive per-patient part)
        cohort = generate_cohort(sc.cohort.indication, args.physics_patients, args.seed)
        patients = apply_criteria(cohort, sc.cohort.criteria).eligible.reset_index(drop=True)
        protocol = protocol_for_arm(sc.arm(exp_arm))
        results, same = compare_executors(
            f"\nCohort physics: {exp_arm} for {len(patients)} patients, chunks of 10",
            choices,
            lambda **o: chunked.physics_chunked(patients, protocol, args.seed, chunk_size=10, **o),
            lambda a, b: a.equals(b),
            lambda **o: chunked.physics_chunked(patients.head(4), protocol, args.seed, chunk_size=1, **o),
        )
        record(figures, "physics", results, same)
        figures["physics_patients"] = len(patients)
    finally:
        pool.shutdown()
        client.close()
        cluster.close()

    # ---- 4. large streamed trial: memory stays flat as patients grow
    big = rt_only_scenario()
    chunk = 20_000
    sample = stream_trial.scenario_trial_chunk(
        0, 2000, root_sequence(args.seed), scenario=big, n_screened=args.patients
    )
    bytes_per_patient = sample.memory_usage(deep=True).sum() / max(1, len(sample))
    eligible_share = len(sample) / 2000
    small_n = max(2 * args.workers * chunk, args.patients // 10)  # every worker busy: memory at plateau
    print(f"\nStreamed trial (RT 30 Gy vs RT 60 Gy), chunks of {chunk:,} on {args.workers} processes")
    rows = []
    for n in (small_n, args.patients):
        acc, secs, peak = streamed_trial(big, n, args.seed, args.workers, chunk)
        full = bytes_per_patient * eligible_share * n
        rows.append((n, acc, secs, peak, full))
        print(
            f"  {n:>9,} screened, {acc.n_eligible:>9,} randomised: {secs:7.1f} s, peak RSS (this "
            f"process + workers) {peak / 2**20:7.1f} MiB; full patient table it never builds "
            f"{full / 2**20:7.1f} MiB"
        )
    n, acc, secs, peak, full = rows[-1]
    with pd.option_context("display.width", 120):
        print("  " + acc.survival_summary().to_string(index=False).replace("\n", "\n  "))
    lr = acc.os.logrank(big.trial.reference_arm, "RT 60 Gy")
    print(f"  OS log-rank chi2 {lr['chi2']:.1f}, Peto log HR {lr['log_hr_peto']:.4f}")
    figures.update(
        trial_patients=n,
        trial_randomised=acc.n_eligible,
        trial_s=round(secs, 1),
        trial_peak_rss_MiB=round(peak / 2**20, 1),
        trial_full_table_MiB=round(full / 2**20, 1),
        trial_small_patients=rows[0][0],
        trial_small_peak_rss_MiB=round(rows[0][3] / 2**20, 1),
        trial_peak_ratio_large_over_small=round(peak / rows[0][3], 3),
        trial_os_log_hr_peto=round(lr["log_hr_peto"], 5),
    )
    print(json.dumps(figures))


def _warm(start: int, stop: int, seed) -> int:
    """Start the workers and import the package in them."""
    import mhtcdt.decision.trial.power  # noqa: F401
    import mhtcdt.economics  # noqa: F401
    import mhtcdt.physics  # noqa: F401

    return stop - start


if __name__ == "__main__":
    main()
