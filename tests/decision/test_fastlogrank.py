"""The numba log-rank / KM-median kernel equals lifelines on the same data."""

import numpy as np
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test

from mhtcdt.decision.trial.fastlogrank import logrank_replicates
from mhtcdt.errors import InputError


def _data(r=25, n=120, seed=0, round_to=0.5):
    rng = np.random.default_rng(seed)
    g = (rng.random((r, n)) < 0.5).astype(np.int64)
    t = rng.exponential(10, (r, n)) * np.where(g == 1, 1.4, 1.0)
    c = rng.uniform(0, 25, (r, n))
    e = t <= c
    t = np.round(np.minimum(t, c) / round_to) * round_to  # many ties, events and censorings at equal times
    return t, e, g


@pytest.mark.parametrize("round_to", [1e-9, 0.5, 2.0])
def test_equals_lifelines_logrank_and_km_median(round_to):
    t, e, g = _data(round_to=round_to)
    res = logrank_replicates(t, e, g)
    for k in range(t.shape[0]):
        m1, m0 = g[k] == 1, g[k] == 0
        lr = logrank_test(t[k][m1], t[k][m0], e[k][m1], e[k][m0])
        assert res.chi2[k] == pytest.approx(lr.test_statistic, rel=1e-10, abs=1e-12)
        assert res.p_value[k] == pytest.approx(lr.p_value, rel=1e-8, abs=1e-14)
        for grp, col in ((m0, "median_0_months"), (m1, "median_1_months")):
            km = KaplanMeierFitter().fit(t[k][grp], e[k][grp])
            assert res[col][k] == km.median_survival_time_
            assert res["events_" + col[7]][k] == e[k][grp].sum()


def test_median_not_reached_is_inf_like_lifelines():
    t = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    e = np.array([[True, False, False, False, False, False]])
    g = np.array([[0, 0, 0, 1, 1, 1]])
    res = logrank_replicates(t, e, g)
    assert np.isinf(res.median_0_months[0]) and np.isinf(res.median_1_months[0])
    assert np.isinf(KaplanMeierFitter().fit(t[0][:3], e[0][:3]).median_survival_time_)


def test_peto_hr_close_to_cox():
    t, e, g = _data(r=1, n=2000, seed=3, round_to=1e-9)
    res = logrank_replicates(t, e, g)
    import pandas as pd

    cox = CoxPHFitter().fit(pd.DataFrame(dict(t=t[0], e=e[0], g=g[0])), "t", "e").hazard_ratios_["g"]
    assert np.exp(res.log_hr_peto[0]) == pytest.approx(cox, rel=0.03)


def test_bad_input():
    with pytest.raises(InputError):
        logrank_replicates(np.ones((2, 3)), np.ones((2, 2), bool), np.zeros((2, 3), int))
    with pytest.raises(InputError):
        logrank_replicates(np.array([[1.0, np.nan]]), np.array([[True, True]]), np.array([[0, 1]]))
    with pytest.raises(InputError):
        logrank_replicates(np.array([[1.0, 2.0]]), np.array([[True, True]]), np.array([[0, 2]]))


def test_stratified_logrank_sums_per_stratum_statistics():
    t, e, g = _data(r=10, n=300, seed=4)
    rng = np.random.default_rng(4)
    strata = rng.integers(0, 3, t.shape)
    res = logrank_replicates(t, e, g, strata)
    for k in range(t.shape[0]):
        oe = var = 0.0
        for s in range(3):
            m = strata[k] == s
            part = logrank_replicates(t[k][m], e[k][m], g[k][m])
            oe += part.o_minus_e[0]
            var += part.variance[0]
        assert res.o_minus_e[k] == pytest.approx(oe, rel=1e-12, abs=1e-12)
        assert res.chi2[k] == pytest.approx(oe**2 / var, rel=1e-12)
    plain = logrank_replicates(t, e, g)
    assert np.array_equal(res.median_0_months, plain.median_0_months)
