"""Fast survival summaries against lifelines and numpy."""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from mhtcdt.decision.model import survival_statistics as ss
from mhtcdt.errors import InputError


def test_cox_coefficient_binary_equals_lifelines():
    rng = np.random.default_rng(1)
    n = 800
    x = (rng.random(n) < 0.4).astype(float)
    t = rng.weibull(1.4, n) * np.exp(-0.5 * x / 1.4) * 10
    ref = CoxPHFitter().fit(pd.DataFrame(dict(t=t, e=1, x=x)), "t", "e").params_["x"]
    assert ss.cox_coefficient(t, x) == pytest.approx(ref, abs=1e-6)


def test_cox_coefficient_continuous_equals_lifelines():
    rng = np.random.default_rng(2)
    n = 600
    x = rng.normal(0, 0.7, n)
    t = rng.exponential(1.0, n) * np.exp(-0.8 * x)
    ref = CoxPHFitter().fit(pd.DataFrame(dict(t=t, e=1, x=x)), "t", "e").params_["x"]
    assert ss.cox_coefficient(t, x) == pytest.approx(ref, abs=1e-6)
    assert ss.cox_coefficient(t, x + 5.0) == pytest.approx(ref, abs=1e-6)  # invariant to a shift of x


def test_median_and_landmark():
    t = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    assert ss.median(t) == 3.0
    assert ss.survival_at(t, 3.5) == pytest.approx(0.4)
    with pytest.raises(InputError):
        ss.median(np.array([]))
    with pytest.raises(InputError, match="vary"):
        ss.cox_coefficient(t, np.ones(5))
