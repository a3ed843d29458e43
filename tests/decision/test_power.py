"""Replicate trials: type-I error, power against Schoenfeld, keyed replicates, sample size."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mhtcdt.decision.model import outcome
from mhtcdt.decision.trial import power
from mhtcdt.decision.trial.design import TrialDesign
from mhtcdt.errors import InputError


def synthetic_pools(n=2000, seed=1, kill_ref=1.9, kill_exp=4.0):
    """Cohort-like patients with the physics columns of two arms (test data, not the physics layer)."""
    rng = np.random.default_rng(seed)
    base = pd.DataFrame(
        dict(
            patient_id=np.arange(n, dtype=np.int64),
            indication="recurrent_glioblastoma",
            tumour_volume_cm3=rng.lognormal(np.log(25), 0.7, n),
            kps=rng.choice([60, 70, 80, 90, 100], n),
            age_years=rng.normal(56, 10, n),
            eloquent_location=rng.random(n) < 0.4,
            mgmt_methylated=rng.random(n) < 0.4,
        )
    )
    return {
        "RT": base.assign(log10_kill_total=kill_ref, log10_kill_rt=kill_ref),
        "MHT": base.assign(log10_kill_total=kill_exp, log10_kill_rt=kill_ref),
    }


@pytest.fixture(scope="module")
def setup():
    params = outcome.load_outcome_params(calibrated=False)
    design = TrialDesign(
        allocation={"RT": 1, "MHT": 1},
        stratify_by=["mgmt_methylated"],
        block_size=4,
        accrual_per_month=12.0,
        min_follow_up_months=12.0,
        dropout_per_year=0.05,
    )
    return synthetic_pools(), design, params


def _trial(setup, **kw):
    pools, design, params = setup
    return power.ReplicateTrial(pools, design, "RT", "MHT", params=params, **kw)


def _run(setup, n=300, reps=500, seed=7, null=False, **kw):
    return power.simulate_replicates(_trial(setup, **kw), n, reps, seed, null=null)


def test_type_one_error_near_alpha_under_null(setup):
    reps = _run(setup, reps=2000, null=True)
    s = power.summarise(reps, 300, 0.05, "OS")
    assert s.power == pytest.approx(0.05, abs=0.015)
    assert s.expected_hr == pytest.approx(1.0, abs=0.02)


def test_power_agrees_with_schoenfeld_for_the_simulated_effect(setup):
    reps = _run(setup, reps=1000)
    s = power.summarise(reps, 300, 0.05, "OS")
    assert s.expected_hr < 0.95
    # Schoenfeld: z = |ln HR| sqrt(D p (1-p)) - z_{1-a/2}
    z = abs(math.log(s.expected_hr)) * math.sqrt(s.mean_events * 0.25) - stats.norm.ppf(0.975)
    assert s.power == pytest.approx(stats.norm.cdf(z), abs=0.08)
    lo, hi = s.power_ci
    assert lo < s.power < hi


def test_replicates_are_keyed_not_chunk_dependent(setup):
    a = _run(setup, reps=40)
    b = _run(setup, reps=80)
    pd.testing.assert_frame_equal(a, b.iloc[:40])


def test_power_grows_with_sample_size(setup):
    p_small = power.summarise(_run(setup, n=100, reps=400), 100, 0.05, "OS").power
    p_large = power.summarise(_run(setup, n=600, reps=400), 600, 0.05, "OS").power
    assert p_large > p_small + 0.2


def test_sample_size_reaches_target_and_is_near_schoenfeld(setup):
    res = power.sample_size(_trial(setup), 0.8, 3, n_replicates=300)
    assert res.power >= 0.8
    assert 0.7 * res.schoenfeld_n < res.n_patients < 1.4 * res.schoenfeld_n
    below = res.searched[res.searched.n_patients < res.n_patients]
    assert (below["power"] < 0.8).any()


def test_schoenfeld_events_textbook_value():
    # HR 0.75, 80 % power, alpha 0.05, 1:1 -> 4 (1.96 + 0.8416)^2 / ln(0.75)^2 = 379.1 events
    assert power.schoenfeld_events(0.75, 0.8) == pytest.approx(379.1, abs=0.5)


def test_bad_input(setup):
    pools, design, params = setup
    with pytest.raises(InputError, match="n_patients"):
        _run(setup, n=1)
    with pytest.raises(InputError, match="endpoint"):
        _run(setup, endpoint="QOL")
    with pytest.raises(InputError, match="no patient pool"):
        power.ReplicateTrial(pools, design, "RT", "X", params=params)
    with pytest.raises(InputError, match="alpha"):
        _trial(setup, alpha=1.5)
    same = power.ReplicateTrial({"RT": pools["RT"], "MHT": pools["RT"]}, design, "RT", "MHT", params=params)
    with pytest.raises(InputError, match="indistinguishable from 1"):
        power.sample_size(same, 0.8, 1, n_replicates=200)


def test_stratified_analysis_keeps_type_one_error_with_prognostic_strata(setup):
    """Randomisation stratified on a strong prognostic factor: the stratified log-rank holds alpha, the
    unstratified test is conservative (known theory: the strata variance is ignored)."""
    pools, _, params = setup
    design = TrialDesign(
        allocation={"RT": 1, "MHT": 1},
        stratify_by=["eloquent_location", "kps"],
        block_size=2,
        accrual_per_month=12.0,
        min_follow_up_months=12.0,
    )
    strat = power.simulate_replicates(
        power.ReplicateTrial(pools, design, "RT", "MHT", params=params), 300, 2000, 5, null=True
    )
    plain = power.simulate_replicates(
        power.ReplicateTrial(pools, design, "RT", "MHT", params=params, stratified_analysis=False),
        300,
        2000,
        5,
        null=True,
    )
    assert strat["reject"].mean() == pytest.approx(0.05, abs=0.015)
    assert plain["reject"].mean() < strat["reject"].mean()
