"""lifelines analysis: recovery of known hazards, CI coverage, 'not reached', RMST against closed forms."""

import math

import numpy as np
import pandas as pd
import pytest

from mhtcdt.decision.trial import survival
from mhtcdt.decision.trial.fastlogrank import logrank_replicates
from mhtcdt.errors import InputError

LN2 = math.log(2)


def _exp_trial(n=400, hr=0.7, rate=LN2 / 9.0, seed=0, censor_max=40.0):
    """Two arms with exponential OS (reference median 9 months) and uniform censoring."""
    rng = np.random.default_rng(seed)
    arm = np.where(np.arange(n) % 2 == 0, "ref", "exp")
    lam = np.where(arm == "exp", rate * hr, rate)
    os_ = rng.exponential(1 / lam)
    pfs = np.minimum(rng.exponential(1 / (3 * lam)), os_)
    c = rng.uniform(0, censor_max, n) if censor_max else np.full(n, np.inf)
    return pd.DataFrame(
        dict(
            arm=arm,
            kps=rng.choice([70, 80, 90], n),
            age_years=rng.normal(55, 10, n),
            os_months=np.minimum(os_, c),
            os_event=os_ <= c,
            pfs_months=np.minimum(pfs, c),
            pfs_event=pfs <= c,
        )
    )


@pytest.fixture(scope="module")
def analysis():
    return survival.analyse(_exp_trial(2000, seed=1), "ref", 24.0, distributions=("exponential", "weibull"))


def test_hazard_ratio_and_medians_recovered(analysis):
    os_row = analysis.comparison.set_index("endpoint").loc["OS"]
    assert os_row.hr_ci_lower < 0.7 < os_row.hr_ci_upper
    assert os_row.hazard_ratio == pytest.approx(0.7, rel=0.1)
    assert os_row.adjusted_hazard_ratio == pytest.approx(0.7, rel=0.1)
    assert os_row.logrank_p < 1e-4
    assert os_row.ph_test_p > 0.001  # proportional by construction
    med = analysis.summary.set_index(["arm", "endpoint"])["median_months"]
    assert med[("ref", "OS")] == pytest.approx(9.0, rel=0.12)
    assert med[("exp", "OS")] == pytest.approx(9.0 / 0.7, rel=0.12)


def test_rmst_difference_matches_closed_form():
    df = _exp_trial(8000, seed=2, censor_max=None)
    km = survival.kaplan_meier(df)[2]
    lam = math.log(2) / 9.0

    def rmst(rate, tau=24.0):
        return (1 - math.exp(-rate * tau)) / rate

    got = survival.compare(df, "ref", 24.0, km).set_index("endpoint").loc["OS", "rmst_difference_months"]
    assert got == pytest.approx(rmst(lam * 0.7) - rmst(lam), abs=0.3)


def test_curves_contract(analysis):
    c = analysis.curves
    assert list(c.columns) == [
        "arm",
        "endpoint",
        "time_months",
        "survival",
        "ci_lower",
        "ci_upper",
        "at_risk",
    ]
    assert c["at_risk"].dtype == np.int64 and c["time_months"].dtype == np.float64
    first = c.groupby(["arm", "endpoint"]).head(1)
    assert (first["time_months"] == 0).all() and (first["survival"] == 1).all() and (first["at_risk"] == 1000).all()
    assert (c["ci_lower"] <= c["survival"] + 1e-12).all() and (c["survival"] <= c["ci_upper"] + 1e-12).all()
    for _, g in c.groupby(["arm", "endpoint"]):
        assert np.all(np.diff(g["survival"]) <= 1e-12)


def test_hr_confidence_interval_coverage_near_95_percent():
    hits = 0
    n_rep = 150
    for k in range(n_rep):
        df = _exp_trial(200, hr=0.7, seed=100 + k)
        data = pd.DataFrame(dict(t=df.os_months, e=df.os_event.astype(int), treated=(df.arm == "exp").astype(float)))
        s = survival._cox(data, "t", "e", ["treated"]).summary.loc["treated"]  # the Cox fit analyse() uses
        hits += s["exp(coef) lower 95%"] <= 0.7 <= s["exp(coef) upper 95%"]
    assert 0.89 <= hits / n_rep <= 0.99


def test_type_one_error_near_five_percent_under_no_effect():
    rng = np.random.default_rng(5)
    r, n = 4000, 200
    g = (np.arange(n)[None, :] % 2).repeat(r, axis=0)
    t = rng.exponential(9.0, (r, n))
    c = rng.uniform(0, 30, (r, n))
    res = logrank_replicates(np.minimum(t, c), t <= c, g)
    assert res["p_value"].lt(0.05).mean() == pytest.approx(0.05, abs=0.012)


def test_median_not_reached_is_reported_as_such():
    df = _exp_trial(300, seed=3, censor_max=3.0)  # heavy early censoring
    a = survival.analyse(df, "ref", 24.0, distributions=("exponential",))
    os_rows = a.summary[a.summary.endpoint == "OS"]
    assert not os_rows["median_reached"].any()
    assert os_rows["median_months"].isna().all()
    text = a.summary_text()
    assert "not reached" in text
    assert survival.format_median(float("nan"), False) == "not reached"
    assert survival.format_median(12.345, True) == "12.3"


def test_bad_input():
    df = _exp_trial(100)
    with pytest.raises(InputError, match="reference_arm"):
        survival.analyse(df, "nope", 24.0)
    with pytest.raises(InputError, match="no trial patients"):
        survival.analyse(df.iloc[:0], "ref", 24.0)
    with pytest.raises(InputError, match="missing columns"):
        survival.analyse(df.drop(columns="pfs_event"), "ref", 24.0)
    with pytest.raises(InputError, match="horizon"):
        survival.analyse(df, "ref", -1.0)


def test_arm_without_events_is_reported_not_crashed():
    df = _exp_trial(200, seed=4)
    df.loc[df.arm == "exp", "pfs_event"] = False
    a = survival.analyse(df, "ref", 24.0, distributions=("exponential", "weibull"))
    row = a.summary.set_index(["arm", "endpoint"]).loc[("exp", "PFS")]
    assert row["events"] == 0 and not row["median_reached"]
    fits = a.parametric[(a.parametric.arm == "exp") & (a.parametric.endpoint == "PFS")]
    assert not fits["converged"].any() and fits["aic"].isna().all()


def test_weibull_proportional_hazards_recovered():
    """Weibull arms with a common shape k are PH with HR = (scale_ref / scale_exp)^k; medians closed form."""
    rng = np.random.default_rng(8)
    n, k, s_ref, s_exp = 3000, 1.6, 10.0, 13.0
    arm = np.where(np.arange(n) % 2 == 0, "ref", "exp")
    os_ = rng.weibull(k, n) * np.where(arm == "exp", s_exp, s_ref)
    c = rng.uniform(0, 40, n)
    df = pd.DataFrame(dict(arm=arm, os_months=np.minimum(os_, c), os_event=os_ <= c))
    df["pfs_months"], df["pfs_event"] = df["os_months"], df["os_event"]
    km = survival.kaplan_meier(df)
    row = survival.compare(df, "ref", 24.0, km[2]).set_index("endpoint").loc["OS"]
    hr_true = (s_ref / s_exp) ** k
    assert row.hr_ci_lower < hr_true < row.hr_ci_upper
    med = km[1].set_index(["arm", "endpoint"])["median_months"]
    assert med[("exp", "OS")] == pytest.approx(s_exp * LN2 ** (1 / k), rel=0.06)
    assert med[("ref", "OS")] == pytest.approx(s_ref * LN2 ** (1 / k), rel=0.06)
