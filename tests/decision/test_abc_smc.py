"""ABC-SMC with a Gaussian kernel at eps = 1 samples the exact posterior of a normal likelihood."""

import numpy as np
import pytest

from mhtcdt.decision.model.abc_smc import SMCSettings, abc_smc
from mhtcdt.errors import InputError


def test_linear_gaussian_posterior_is_recovered():
    """Two observations of a linear model with a flat prior on the box: posterior mean and covariance in closed
    form (the box truncation is > 6 SD away), compared with the particles."""
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    y = np.array([0.40, 1.00])
    se = np.array([0.05, 0.08])

    def d2(u):
        return float(np.sum(((a @ u - y) / se) ** 2))

    res = abc_smc(d2, 2, SMCSettings(n_particles=400, n_moves=3, final_moves=6), seed=3)
    prec = a.T @ np.diag(1 / se**2) @ a
    cov = np.linalg.inv(prec)
    mean = cov @ a.T @ np.diag(1 / se**2) @ y
    assert res.generations[-1]["eps"] == pytest.approx(1.0)
    p = res.particles
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(p.mean(axis=0) - mean) < 3 * sd / np.sqrt(50))  # effective size well above 50
    assert p.std(axis=0) == pytest.approx(sd, rel=0.2)
    assert np.corrcoef(p.T)[0, 1] == pytest.approx(cov[0, 1] / (sd[0] * sd[1]), abs=0.15)


def test_reproducible_and_bad_input():
    def d2(u):
        return float(((u[0] - 0.3) / 0.1) ** 2)

    a = abc_smc(d2, 1, SMCSettings(n_particles=50), seed=5)
    b = abc_smc(d2, 1, SMCSettings(n_particles=50), seed=5)
    assert np.array_equal(a.particles, b.particles)
    with pytest.raises(InputError):
        abc_smc(d2, 1, SMCSettings(n_particles=5))
