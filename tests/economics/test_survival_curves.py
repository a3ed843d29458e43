"""Parametric survival curves against scipy.stats survival functions; entry-cost helper."""

import numpy as np
import pytest
from scipy import stats

from mhtcdt.economics import entry_cost_matrix
from mhtcdt.economics import survival as sv
from mhtcdt.errors import InputError

T = np.linspace(0, 120, 241)


def test_curves_match_scipy():
    np.testing.assert_allclose(sv.exponential(T, 0.05), stats.expon(scale=20).sf(T), rtol=1e-12)
    np.testing.assert_allclose(sv.weibull(T, 1.3, 15.0), stats.weibull_min(1.3, scale=15).sf(T), rtol=1e-12)
    np.testing.assert_allclose(sv.loglogistic(T, 2.0, 12.0), stats.fisk(2.0, scale=12).sf(T), rtol=1e-12)
    np.testing.assert_allclose(sv.lognormal(T, np.log(14), 0.8), stats.lognorm(0.8, scale=14).sf(T), rtol=1e-10)
    g, b = 0.02, 0.01
    hazard_integral = b / g * np.expm1(g * T)
    np.testing.assert_allclose(sv.gompertz(T, g, b), np.exp(-hazard_integral), rtol=1e-12)
    np.testing.assert_allclose(sv.gompertz(T, 0.0, b), sv.exponential(T, b), rtol=1e-12)
    # negative shape: cure fraction exp(b / g)
    assert sv.gompertz(np.array([1e4]), -0.05, 0.01)[0] == pytest.approx(np.exp(0.01 / -0.05), rel=1e-9)


def test_curves_vectorise_over_draws_and_strategies():
    shape = np.array([[1.1, 1.2, 1.3]] * 4)
    scale = np.linspace(10, 20, 12).reshape(4, 3)
    curves = sv.weibull(T, shape, scale)
    assert curves.shape == (4, 3, T.size)
    np.testing.assert_allclose(curves[2, 1], sv.weibull(T, shape[2, 1], scale[2, 1]))
    np.testing.assert_allclose(sv.weibull_from_coefficients(T, np.log(1.2), np.log(15.0)), sv.weibull(T, 1.2, 15.0))
    with pytest.raises(InputError):
        sv.weibull(T, -1.0, 10.0)
    with pytest.raises(InputError):
        sv.exponential(np.array([-1.0, 2.0]), 0.1)


def test_entry_cost_matrix():
    m = entry_cost_matrix(["well", "sick", "dead"], {"sick": 500.0, "dead": 7000.0})
    np.testing.assert_allclose(m, [[0, 500, 7000], [0, 0, 7000], [0, 500, 0]])
    with pytest.raises(InputError):
        entry_cost_matrix(["well"], {"gone": 1.0})
