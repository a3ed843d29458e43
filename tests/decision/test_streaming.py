"""Streaming aggregates against patient-level / all-draws oracles (lifelines, mhtcdt.economics)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test

from mhtcdt.decision.run import chunking, event_tables, executors, stream_psa, stream_trial
from mhtcdt.economics import Beta, Gamma, Normal, ceac, evpi, sample_psa
from mhtcdt.errors import InputError
from mhtcdt.seeding import child_rng, root_sequence

TWO_PROCESSES = executors.resolve_executor("processes", n_workers=2)

DISTRIBUTIONS = {
    "cost_soc": Gamma(20_000.0, 4_000.0),
    "cost_new": Gamma(45_000.0, 9_000.0),
    "qaly_soc": Beta(0.55, 0.08),
    "qaly_gain": Normal(0.25, 0.15),
}
WTP = np.array([0.0, 20_000.0, 50_000.0, 100_000.0, 150_000.0])


def two_strategy_model(params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A vectorised toy decision model: (draws, 2) costs and QALYs."""
    cost = np.column_stack([params["cost_soc"], params["cost_new"]])
    effect = np.column_stack([params["qaly_soc"], params["qaly_soc"] + params["qaly_gain"]])
    return cost, effect


def _all_draws(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return two_strategy_model(sample_psa(DISTRIBUTIONS, n, seed))


@pytest.fixture(scope="module")
def pool():
    """One warm 2-process pool shared by the tests of this module."""
    with executors.local_process_pool(2) as shared:
        yield shared


# ------------------------------------------------------------------ PSA
def test_psa_accumulator_equals_all_draw_ceac_and_evpi():
    cost, effect = _all_draws(5000, 17)
    acc = stream_psa.PSAAccumulator(["soc", "new"], WTP)
    for a, b in chunking.chunk_bounds(5000, 777):
        acc.add((cost[a:b], effect[a:b]))
    expected = ceac(cost, effect, WTP, ["soc", "new"])
    got = acc.ceac()
    pd.testing.assert_frame_equal(
        got[["wtp", "strategy", "probability", "optimal"]], expected[["wtp", "strategy", "probability", "optimal"]]
    )
    np.testing.assert_allclose(got["expected_nmb"], expected["expected_nmb"], rtol=1e-12)
    np.testing.assert_allclose(acc.evpi()["evpi_per_patient"], evpi(cost, effect, WTP), rtol=1e-9, atol=1e-7)
    summary = acc.summary()
    np.testing.assert_allclose(summary["mean_cost"], cost.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(summary["sd_effect"], effect.std(axis=0, ddof=1), rtol=1e-11)
    assert (summary["n_draws"] == 5000).all()


def test_psa_streamed_processes_equal_serial_bit_for_bit(pool):
    kwargs = dict(strategies=["soc", "new"], wtp=WTP, chunk_size=500)
    serial = stream_psa.psa_streamed(two_strategy_model, DISTRIBUTIONS, 3000, 5, executor="serial", **kwargs)
    procs = stream_psa.psa_streamed(two_strategy_model, DISTRIBUTIONS, 3000, 5, executor=pool, **kwargs)
    pd.testing.assert_frame_equal(procs.summary(), serial.summary(), check_exact=True)
    pd.testing.assert_frame_equal(procs.evpi(), serial.evpi(), check_exact=True)
    # and equal to one big call (up to summation order across chunk sizes)
    cost, effect = _all_draws(3000, 5)
    np.testing.assert_allclose(serial.summary()["mean_effect"], effect.mean(axis=0), rtol=1e-13)


def test_psa_accumulator_rejects_bad_chunks():
    acc = stream_psa.PSAAccumulator(["a", "b"], [1.0])
    with pytest.raises(InputError):
        acc.add((np.zeros((3, 2)), np.zeros((3, 3))))
    with pytest.raises(InputError):
        acc.add((np.full((3, 2), np.nan), np.zeros((3, 2))))
    with pytest.raises(InputError):
        acc.summary()  # nothing accumulated


# ------------------------------------------------------------------ event tables vs lifelines
def _survival_data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    arm = rng.choice(["soc", "mht"], n)
    latent = rng.exponential(np.where(arm == "mht", 14.0, 10.0))
    censor = rng.uniform(3.0, 30.0, n)
    times = np.round(np.minimum(latent, censor), 1)  # ties, and censorings at event times
    return arm, times, latent <= censor


def test_event_table_km_median_and_logrank_equal_lifelines():
    arm, times, events = _survival_data(600, 4)
    table = event_tables.EventTable()
    for a, b in chunking.chunk_bounds(600, 97):  # streamed in chunks
        part = event_tables.EventTable()
        for name in ("soc", "mht"):
            m = arm[a:b] == name
            part.add_arm_data(name, times[a:b][m], events[a:b][m])
        table.merge(part)
    curves = table.kaplan_meier("OS")
    for name in ("soc", "mht"):
        m = arm == name
        kmf = KaplanMeierFitter().fit(times[m], events[m])
        mine = curves[curves["arm"] == name].set_index("time_months")
        ref = kmf.survival_function_.iloc[:, 0]
        ref = ref.reindex(mine.index).to_numpy()
        np.testing.assert_allclose(mine["survival"].to_numpy(), ref, rtol=1e-12)
        ci = kmf.confidence_interval_.reindex(mine.index)
        np.testing.assert_allclose(mine["ci_lower"].to_numpy(), ci.iloc[:, 0].to_numpy(), rtol=1e-9)
        np.testing.assert_allclose(mine["ci_upper"].to_numpy(), ci.iloc[:, 1].to_numpy(), rtol=1e-9)
        assert table.median(name) == kmf.median_survival_time_
        assert table.n_patients(name) == m.sum()
    ref = logrank_test(times[arm == "soc"], times[arm == "mht"], events[arm == "soc"], events[arm == "mht"])
    mine = table.logrank("soc", "mht")
    assert mine["chi2"] == pytest.approx(ref.test_statistic, rel=1e-10)
    assert mine["p_value"] == pytest.approx(ref.p_value, rel=1e-8)
    assert mine["log_hr_peto"] < 0  # mht lives longer: fewer observed than expected deaths


def test_event_table_grid_bounds_memory_and_stays_close():
    arm, times, events = _survival_data(20_000, 9)
    exact, grid = event_tables.EventTable(), event_tables.EventTable(resolution_months=0.5)
    for t in (exact, grid):
        t.add_arm_data("all", times, events)
    assert len(grid.table()) <= 61  # 30 months / 0.5
    assert abs(grid.median("all") - exact.median("all")) <= 0.5


def test_arm_means_merge_equals_pooled():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"arm": rng.choice(["a", "b"], 1000), "x": rng.normal(3, 2, 1000)})
    means = event_tables.ArmMeans()
    for a, b in chunking.chunk_bounds(1000, 133):
        means.add_frame(df.iloc[a:b], ["x"])
    got = means.frame().set_index("arm")
    ref = df.groupby("arm")["x"].agg(["count", "mean", "std"])
    np.testing.assert_allclose(got["mean"], ref["mean"], rtol=1e-13)
    np.testing.assert_allclose(got["sd"], ref["std"], rtol=1e-12)
    assert list(got["n"]) == list(ref["count"])


# ------------------------------------------------------------------ streamed trials
def synthetic_trial_chunk(start: int, stop: int, seed) -> pd.DataFrame:
    """Cohort chunk (real generator) with per-patient keyed arms and exponential outcomes."""
    from mhtcdt.cohorts import generate_cohort

    cohort = generate_cohort("recurrent_glioblastoma", stop - start, 7, start=start)
    cohort = cohort[cohort["kps"] >= 70].reset_index(drop=True)
    pid = cohort["patient_id"].to_numpy()
    u = np.array([child_rng(seed, int(i)).random(3) for i in pid]).reshape(-1, 3)
    arm = np.where(u[:, 0] < 0.5, "soc", "mht")
    os_latent = -np.log(u[:, 1]) * np.where(arm == "mht", 12.0, 9.0)
    censor = 24.0 * u[:, 2]
    pfs_latent = os_latent * 0.5
    return cohort.assign(
        arm=arm,
        os_months=np.minimum(os_latent, censor),
        os_event=os_latent <= censor,
        pfs_months=np.minimum(pfs_latent, censor),
        pfs_event=pfs_latent <= censor,
    )


def test_stream_trial_equals_whole_trial_and_across_executors(pool):
    whole = synthetic_trial_chunk(0, 3000, root_sequence(21))
    serial = stream_trial.stream_trial(
        synthetic_trial_chunk, 3000, 21, executor="serial", chunk_size=400, mean_columns=["age_years"]
    )
    procs = stream_trial.stream_trial(
        synthetic_trial_chunk, 3000, 21, executor=pool, chunk_size=400, mean_columns=["age_years"]
    )
    assert serial.n_screened == 3000 and serial.n_eligible == len(whole)
    pd.testing.assert_frame_equal(serial.os.table(), procs.os.table(), check_exact=True)
    pd.testing.assert_frame_equal(serial.means.frame(), procs.means.frame(), check_exact=True)
    for name in ("soc", "mht"):
        part = whole[whole["arm"] == name]
        kmf = KaplanMeierFitter().fit(part["os_months"], part["os_event"])
        assert serial.os.median(name) == kmf.median_survival_time_
    summary = serial.survival_summary()
    assert summary["n"].sum() == 2 * len(whole)


def rt_only_scenario():
    """The default scenario with both arms radiotherapy only (fast physics): 30 Gy vs 60 Gy."""
    from mhtcdt.decision.scenario.loading import default_scenario
    from mhtcdt.decision.scenario.schema import Scenario

    data = default_scenario().model_dump()
    ref = data["arms"][0]
    boost = dict(ref, name="RT 60 Gy", rt_total_dose_Gy=60.0, rt_n_fractions=30)
    data["arms"] = [ref, boost]
    data["trial"]["allocation"] = {ref["name"]: 1.0, "RT 60 Gy": 1.0}
    return Scenario.model_validate(data)


def _same_trial(a: stream_trial.TrialAccumulator, b: stream_trial.TrialAccumulator) -> None:
    for endpoint in ("pfs", "os"):
        pd.testing.assert_frame_equal(getattr(a, endpoint).table(), getattr(b, endpoint).table(), check_exact=True)
    pd.testing.assert_frame_equal(a.means.frame(), b.means.frame(), rtol=1e-12)
    assert (a.n_screened, a.n_eligible) == (b.n_screened, b.n_eligible)


def test_scenario_trial_is_chunk_and_executor_invariant(pool):
    from mhtcdt.decision.scenario.loading import default_scenario

    sc = default_scenario()  # the real MHT arm: heat, chemistry and RT physics per patient
    a = stream_trial.stream_scenario_trial(sc, 60, 3, executor="serial", chunk_size=60)
    b = stream_trial.stream_scenario_trial(sc, 60, 3, executor="serial", chunk_size=17)
    _same_trial(a, b)
    assert a.n_screened == 60 and 0 < a.n_eligible <= 60
    assert set(a.os.arms) == {"RT alone", "NanoTherm MHT + RT"}
    means = a.means.frame().set_index(["arm", "column"])["mean"]
    assert means[("NanoTherm MHT + RT", "t90_C")] > means[("RT alone", "t90_C")] == 37.0
    fast = rt_only_scenario()
    _same_trial(
        stream_trial.stream_scenario_trial(fast, 400, 3, executor="serial", chunk_size=400),
        stream_trial.stream_scenario_trial(fast, 400, 3, executor=pool, chunk_size=70),
    )


@pytest.mark.slow
def test_mht_scenario_trial_on_processes_equals_serial():
    from mhtcdt.decision.scenario.loading import default_scenario

    sc = default_scenario()
    _same_trial(
        stream_trial.stream_scenario_trial(sc, 90, 3, executor="serial", chunk_size=90),
        stream_trial.stream_scenario_trial(sc, 90, 3, executor=TWO_PROCESSES, chunk_size=25),
    )


def test_scenario_trial_chunk_is_keyed_by_patient_and_censored_at_cutoff():
    """A chunk equals the same patients of a bigger chunk; censoring respects the known cut-off."""
    sc = rt_only_scenario()
    chunk = stream_trial.scenario_trial_chunk(40, 80, root_sequence(8), scenario=sc, n_screened=80)
    assert chunk["patient_id"].between(40, 79).all() and chunk["patient_id"].is_monotonic_increasing
    assert (chunk["entry_months"] == chunk["patient_id"] / sc.trial.accrual_per_month).all()
    assert (chunk["os_months"] <= chunk["os_latent_months"]).all()
    assert (chunk["pfs_months"] <= chunk["os_months"] + 1e-12).all()
    cutoff = 80 / sc.trial.accrual_per_month + sc.trial.min_follow_up_months
    assert (chunk["os_months"] <= cutoff - chunk["entry_months"] + 1e-9).all()
    whole = stream_trial.scenario_trial_chunk(0, 80, root_sequence(8), scenario=sc, n_screened=80)
    pd.testing.assert_frame_equal(whole[whole["patient_id"] >= 40].reset_index(drop=True), chunk)
