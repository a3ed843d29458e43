"""EVSI and ENBS (mhtcdt.economics.evsi) against exact preposterior answers.

Oracles: the normal-normal model with known sampling variance and a linear incremental net benefit has a closed
form EVSI, EVPPI and EVPI (Raiffa and Schlaifer); both EVSI methods (regression, and moment matching / importance
sampling with the exact likelihood) must be within Monte Carlo error of it over a range of n; EVSI is 0 without
data, grows with n towards the EVPPI of the informed parameter, and EVSI <= EVPPI <= EVPI (property tests). The
three-strategy case is checked against a 10^6-draw preposterior simulation; the synthetic likelihood against scipy.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from mhtcdt.economics import evsi, voi
from mhtcdt.errors import InputError, InputErrors

A, B, TAU, SIGMA, OMEGA = 0.3, 1.0, 1.0, 2.0, 3.0  # INB = A + B theta + eps; theta ~ N(0, TAU); x ~ N(theta, SIGMA/n)


def _draws(d: int, seed: int):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    theta = rng.normal(0.0, TAU, d)
    eps = rng.normal(0.0, OMEGA, d)
    z = rng.normal(0.0, 1.0, d)  # the data noise, scaled by SIGMA / sqrt(n): common random numbers over n
    inb = A + B * theta + eps
    cost = np.column_stack([np.zeros(d), -inb])  # wtp 0: NB = -cost
    return theta, eps, z, cost, np.zeros((d, 2))


def _exact_normal_loglik(x: np.ndarray, theta: np.ndarray, n: float) -> np.ndarray:
    return -0.5 * n * (x[:, None] - theta[None, :]) ** 2 / SIGMA**2


def test_regression_without_covariates_is_voi_evppi_number_for_number():
    theta, eps, z, cost, eff = _draws(1500, 1)
    mine = evsi.fit_conditional_nb(cost, eff, theta, [0.0, 1.0])
    ref = voi.evppi(cost, eff, theta, [0.0, 1.0])
    np.testing.assert_array_equal(mine.value, ref["evppi"].to_numpy())
    np.testing.assert_array_equal(mine.se, ref["evppi_se"].to_numpy())
    np.testing.assert_array_equal(mine.evpi, ref["evpi"].to_numpy())


@pytest.mark.parametrize("n", [1, 4, 16, 64, 400])
def test_both_methods_match_the_exact_preposterior_evsi(n):
    d = 3000
    theta, eps, z, cost, eff = _draws(d, 11)
    x = theta + SIGMA / np.sqrt(n) * z
    exact = evsi.normal_normal_evsi(A, B, TAU, SIGMA, n, noise_sd=OMEGA)["evsi"]
    # regression on the data summary, the independent noise absorbed as a control covariate
    reg = evsi.fit_conditional_nb(cost, eff, x, 0.0, adjust=eps)
    assert abs(reg.value[0] - exact) <= 3.0 * reg.se[0], (reg.value, reg.se, exact)
    # importance sampling over the draws themselves with the exact likelihood (Menzies 2016)
    loglik = _exact_normal_loglik(x, theta, n)
    state_inb = (A + B * theta)[:, None, None]
    is_ = evsi.evsi_importance_sampling(state_inb, np.full(d, 1.0 / d), loglik)
    assert abs(is_.value[0] - exact) <= 3.0 * is_.se[0] + 0.01, (is_.value, is_.se, exact)
    # moment matching (Heath 2018): fitted E(INB | theta) rescaled by the preposterior variance
    ceiling = evsi.fit_conditional_nb(cost, eff, theta, 0.0, adjust=eps)
    _, post_cov = evsi.weighted_moments(ceiling.fitted, evsi.posterior_weights(loglik, np.full(d, 1.0 / d)))
    mm = evsi.evsi_moment_matching(ceiling.fitted, post_cov, n_bootstrap=100)
    assert abs(mm.value[0] - exact) <= 3.0 * mm.se[0], (mm.value, mm.se, exact)


def test_control_covariates_keep_the_estimand_and_cut_the_error():
    theta, eps, z, cost, eff = _draws(3000, 5)
    x = theta + SIGMA / 4.0 * z
    plain = evsi.fit_conditional_nb(cost, eff, x, 0.0)
    adjusted = evsi.fit_conditional_nb(cost, eff, x, 0.0, adjust=eps)
    assert adjusted.se[0] < 0.5 * plain.se[0]
    assert abs(adjusted.value[0] - plain.value[0]) <= 3.0 * np.hypot(adjusted.se[0], plain.se[0])


def test_no_data_no_value_and_the_limit_is_the_evppi():
    theta, eps, z, cost, eff = _draws(2000, 7)
    assert evsi.normal_normal_evsi(A, B, TAU, SIGMA, 0)["evsi"] == 0.0
    nothing = evsi.fit_conditional_nb(cost, eff, np.ones(2000), 0.0, adjust=eps)  # a study that observes nothing
    assert nothing.value[0] == 0.0 and nothing.se[0] == 0.0
    assert nothing.probability_decision_changes()[0] == 0.0
    ceiling = evsi.fit_conditional_nb(cost, eff, theta, 0.0, adjust=eps)
    values = []
    for n in [1, 10, 100, 1000, 10**6]:
        fit = evsi.fit_conditional_nb(cost, eff, theta + SIGMA / np.sqrt(n) * z, 0.0, adjust=eps)
        values.append(fit.value[0])
    assert np.all(np.diff(values) > -0.01 * ceiling.value[0])  # grows with n (common random numbers)
    assert values[-1] == pytest.approx(ceiling.value[0], rel=0.01)  # n -> infinity: the EVPPI of theta


def test_three_strategies_moment_matching_and_importance_sampling():
    """INB_1 = 0.2 + theta_1 + e1, INB_2 = 0.1 + 0.5 theta_1 + theta_2 + e2; a study observes theta_1 only.
    Oracle: E max(0, m) - max(0, E m) over 10^6 draws of the exact preposterior mean m."""
    rng = np.random.default_rng(np.random.SeedSequence(31))
    d, n, s = 3000, 5.0, 1.5
    t1, t2 = rng.normal(0, 1, d), rng.normal(0, 1, d)
    e = rng.normal(0, 2, (d, 2))
    inb = np.column_stack([0.2 + t1, 0.1 + 0.5 * t1 + t2]) + e
    cost = np.column_stack([np.zeros(d), -inb])
    eff = np.zeros((d, 3))
    big = np.random.default_rng(np.random.SeedSequence(32)).normal(0, 1, 10**6)
    shrink = 1.0 / (1.0 + s**2 / n)  # posterior mean of theta_1 = shrink * x; its sd = sqrt(shrink)
    m1 = np.sqrt(shrink) * big
    oracle = np.maximum(0, np.maximum(0.2 + m1, 0.1 + 0.5 * m1)).mean() - max(0.0, 0.2, 0.1)
    x = t1 + s / np.sqrt(n) * rng.normal(0, 1, d)
    loglik = -0.5 * n * (x[:, None] - t1[None, :]) ** 2 / s**2
    state = np.column_stack([0.2 + t1, 0.1 + 0.5 * t1])[:, None, :]
    is_ = evsi.evsi_importance_sampling(state, np.full(d, 1.0 / d), loglik)
    assert abs(is_.value[0] - oracle) <= 3.0 * is_.se[0] + 0.01
    ceiling = evsi.fit_conditional_nb(cost, eff, np.column_stack([t1, t2]), 0.0, adjust=e)
    only_t1 = evsi.fit_conditional_nb(cost, eff, t1, 0.0, adjust=np.column_stack([e, t2]))
    _, post = evsi.weighted_moments(only_t1.fitted, evsi.posterior_weights(loglik, np.full(d, 1.0 / d)))
    mm = evsi.evsi_moment_matching(only_t1.fitted, post, n_bootstrap=100)
    assert abs(mm.value[0] - oracle) <= 3.0 * mm.se[0] + 0.01, (mm.value, mm.se, oracle)
    reg = evsi.fit_conditional_nb(cost, eff, x, 0.0, adjust=np.column_stack([e, t2]))
    assert abs(reg.value[0] - oracle) <= 3.0 * reg.se[0]
    assert mm.value[0] <= only_t1.value[0] + 1e-12 <= ceiling.value[0] + 3 * ceiling.se[0]


@settings(max_examples=200, deadline=None)
@given(
    mean=st.floats(-3, 3),
    slope=st.floats(-2, 2),
    prior_sd=st.floats(0.01, 3),
    sampling_sd=st.floats(0.01, 10),
    noise_sd=st.floats(0, 5),
    n1=st.integers(0, 2000),
    n2=st.integers(0, 2000),
)
def test_exact_ordering_evsi_evppi_evpi(mean, slope, prior_sd, sampling_sd, noise_sd, n1, n2):
    r = evsi.normal_normal_evsi(mean, slope, prior_sd, sampling_sd, [min(n1, n2), max(n1, n2)], noise_sd=noise_sd)
    lo, hi = r["evsi"]
    assert 0.0 <= lo <= hi + 1e-12 <= r["evppi"] + 2e-12 <= r["evpi"] + 3e-12


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mean=st.floats(-1.5, 1.5),
    slope=st.floats(0.2, 2.0),
    noise_sd=st.floats(0.0, 3.0),
    n=st.integers(1, 500),
    seed=st.integers(0, 10**6),
)
def test_estimated_ordering_on_every_case(mean, slope, noise_sd, n, seed):
    """EVSI <= EVPPI <= EVPI for the estimators on random cases: moment matching exactly (it shrinks the EVPPI's
    own fitted values), regression within three Monte Carlo standard errors."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    d = 600
    theta = rng.normal(0, 1, d)
    eps = rng.normal(0, noise_sd, d) if noise_sd > 0 else np.zeros(d)
    cost = np.column_stack([np.zeros(d), -(mean + slope * theta + eps)])
    eff = np.zeros((d, 2))
    x = theta + 2.0 / np.sqrt(n) * rng.normal(0, 1, d)
    adjust = eps[:, None] if noise_sd > 0 else None
    ceiling = evsi.fit_conditional_nb(cost, eff, theta, 0.0, adjust=adjust, n_se_samples=50)
    reg = evsi.fit_conditional_nb(cost, eff, x, 0.0, adjust=adjust, n_se_samples=50)
    loglik = -0.5 * n * (x[:, None] - theta[None, :]) ** 2 / 4.0
    _, post = evsi.weighted_moments(ceiling.fitted, evsi.posterior_weights(loglik, np.full(d, 1.0 / d)))
    mm = evsi.evsi_moment_matching(ceiling.fitted, post, n_bootstrap=0)
    assert 0.0 <= mm.value[0] <= ceiling.value[0] + 1e-9
    assert reg.value[0] <= ceiling.value[0] + 3.0 * np.hypot(reg.se[0], ceiling.se[0]) + 1e-9
    assert ceiling.value[0] <= ceiling.evpi[0] + 3.0 * ceiling.se[0] + 1e-9


def test_synthetic_loglik_is_the_multivariate_normal_density():
    rng = np.random.default_rng(np.random.SeedSequence(3))
    t, means = rng.normal(size=(7, 2)), rng.normal(size=(4, 2))
    pooled = np.array([[1.0, 0.3], [0.3, 0.5]])
    per = np.stack([pooled * (1 + k) for k in range(4)])
    got = evsi.gaussian_synthetic_loglik(t, means, per)
    for k in range(4):
        np.testing.assert_allclose(got[:, k], stats.multivariate_normal(means[k], per[k]).logpdf(t), rtol=1e-12)
    got = evsi.gaussian_synthetic_loglik(t, means, pooled)
    ref = np.column_stack([stats.multivariate_normal(m, pooled).logpdf(t) for m in means])
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    w = evsi.posterior_weights(got, np.array([0.1, 0.2, 0.3, 0.4]))
    direct = np.exp(ref) * np.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(w, direct / direct.sum(axis=1, keepdims=True), rtol=1e-10)
    with pytest.raises(InputError, match="positive definite"):
        evsi.gaussian_synthetic_loglik(t, means, np.zeros((2, 2)))


def test_population_multiplier_with_and_without_delay():
    pop = evsi.DecisionPopulation(725.0, 10.0, 0.035)
    assert pop.multiplier() == pytest.approx(voi.population_multiplier(725.0, 10, 0.035), rel=1e-14)
    # results after 2.5 years: half of year 2 and years 3..9, discounted by (1.035)^-y
    manual = 725.0 * (0.5 * 1.035**-2 + sum(1.035**-y for y in range(3, 10)))
    assert pop.multiplier(2.5) == pytest.approx(manual, rel=1e-14)
    assert pop.multiplier(10.0) == 0.0 == pop.multiplier(12.0)
    assert evsi.DecisionPopulation(100.0, 2.5, 0.0).multiplier() == pytest.approx(250.0)


def test_bad_population_costs_and_sizes_name_the_field():
    with pytest.raises(InputErrors) as err:
        evsi.DecisionPopulation(0.0, 0.0, 0.035)
    assert [e.field for e in err.value.errors] == ["population.patients_per_year", "population.horizon_years"]
    with pytest.raises(InputError, match="population.discount_rate"):
        evsi.DecisionPopulation(10.0, 5.0, 1.5)
    with pytest.raises(InputError, match=r"trial_cost.fixed = -1"):
        evsi.TrialCost(-1.0, 100.0)
    with pytest.raises(InputErrors):
        evsi.TrialCost(-1.0, float("nan"))
    for bad in ([0, 100], [-5], [2.5], []):
        with pytest.raises(InputError, match="sample_sizes"):
            evsi.check_sample_sizes(bad)
    assert evsi.TrialCost(1000.0, 10.0)(np.array([1, 50])).tolist() == [1010.0, 1500.0]


def test_optimal_sample_size_and_its_band():
    sizes = [100, 200, 400]
    opt = evsi.optimal_sample_size(sizes, [1.0, 3.0, 2.0], [[1.0, 3.0, 2.0], [-1, -1, -2], [0, 1, 5]])
    assert opt.n == 200 and opt.enbs == 3.0
    assert opt.p_no_study == pytest.approx(1 / 3)
    assert opt.p_optimal == {0: pytest.approx(1 / 3), 200: pytest.approx(1 / 3), 400: pytest.approx(1 / 3)}
    assert opt.band == (0, 400)
    none = evsi.optimal_sample_size(sizes, [-1.0, -2.0, -3.0], [[-1.0, -2.0, -3.0]])
    assert none.n == 0 and none.enbs == 0.0 and none.p_no_study == 1.0
