"""Net benefit, CEAC/CEAF, EVPI closed forms and EVPPI bounds."""

import numpy as np
import pytest
from scipy import stats

from mhtcdt.economics import ceac, ceaf, evpi, evpi_curve, evppi, net_monetary_benefit, population_multiplier


def _normal_inb(mu, sigma, n=200_000, seed=3):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    inb = rng.normal(mu, sigma, n)
    cost = np.column_stack([np.zeros(n), -inb])  # wtp = 0: NB = -cost
    effect = np.zeros((n, 2))
    return cost, effect, inb


@pytest.mark.parametrize("mu, sigma", [(0.0, 1000.0), (500.0, 1000.0), (-2000.0, 1500.0)])
def test_evpi_normal_closed_form(mu, sigma):
    cost, effect, inb = _normal_inb(mu, sigma)
    # EVPI = E[max(INB, 0)] - max(E[INB], 0) with INB ~ N(mu, sigma^2)
    z = mu / sigma
    exact = mu * stats.norm.cdf(z) + sigma * stats.norm.pdf(z) - max(mu, 0.0)
    # compare with the same expression on the sample (exact for the sample) and the analytic value
    sample = np.maximum(inb, 0).mean() - max(inb.mean(), 0.0)
    assert evpi(cost, effect, 0.0) == pytest.approx(sample, rel=1e-10)
    assert evpi(cost, effect, 0.0) == pytest.approx(exact, abs=4 * sigma / np.sqrt(len(inb)))


def test_evpi_zero_when_one_strategy_always_wins():
    rng = np.random.default_rng(np.random.SeedSequence(1))
    e = rng.normal(2, 0.1, (1000, 1)) + np.array([[0.0, 0.5]])
    c = np.column_stack([rng.normal(10000, 100, 1000), rng.normal(9000, 100, 1000)])
    assert evpi(c, e, [0, 20000, 50000]) == pytest.approx([0, 0, 0], abs=1e-9)
    curve = ceac(c, e, [0.0, 20000.0], ["old", "new"])
    assert curve.loc[curve.strategy == "new", "probability"].tolist() == [1.0, 1.0]


def test_nmb_shapes_and_ceac_sums():
    rng = np.random.default_rng(np.random.SeedSequence(2))
    c = rng.gamma(20, 1000, (500, 3))
    e = rng.normal([1.0, 1.2, 1.3], 0.2, (500, 3))
    nmb = net_monetary_benefit(c, e, [0.0, 1e5])
    assert nmb.shape == (2, 500, 3)
    np.testing.assert_allclose(nmb[1], 1e5 * e - c)
    table = ceac(c, e, np.linspace(0, 2e5, 11), ["a", "b", "c"])
    np.testing.assert_allclose(table.groupby("wtp")["probability"].sum(), 1.0)
    front = ceaf(c, e, np.linspace(0, 2e5, 11), ["a", "b", "c"])
    exp_nmb = np.linspace(0, 2e5, 11)[:, None] * e.mean(0) - c.mean(0)
    assert front["strategy"].tolist() == [["a", "b", "c"][i] for i in exp_nmb.argmax(1)]


def test_population_evpi():
    mult = population_multiplier(1000, years=3, discount_rate=0.035)
    assert mult == pytest.approx(1000 * (1 + 1 / 1.035 + 1 / 1.035**2))
    cost, effect, _ = _normal_inb(0.0, 1000.0, n=10_000)
    df = evpi_curve(cost, effect, [0.0], patients_per_year=[1000, 1000, 1000])
    assert df["evpi_population"].iloc[0] == pytest.approx(df["evpi_per_patient"].iloc[0] * mult)


def test_evppi_between_zero_and_evpi_and_recovers_linear_case():
    # INB = a * x + noise(y): EVPPI(x) has a closed form when x ~ N(0, 1), a*x ~ N(0, a^2):
    # E[max(a x, 0)] = a / sqrt(2 pi).  EVPPI(y) ~ 0 for an irrelevant parameter.
    rng = np.random.default_rng(np.random.SeedSequence(11))
    n = 10_000
    x = rng.standard_normal(n)
    y = rng.standard_normal(n)
    noise = rng.normal(0, 500, n)
    a = 1000.0
    inb = a * x + noise
    cost = np.column_stack([np.zeros(n), -inb])
    effect = np.zeros((n, 2))
    res_x = evppi(cost, effect, x, 0.0)
    res_y = evppi(cost, effect, y, 0.0)
    total = evpi(cost, effect, 0.0)
    assert 0 <= res_x["evppi"].iloc[0] <= total
    assert 0 <= res_y["evppi"].iloc[0] <= total
    exact = a / np.sqrt(2 * np.pi) - max(inb.mean(), 0)
    assert res_x["evppi"].iloc[0] == pytest.approx(exact, abs=3 * res_x["evppi_se"].iloc[0] + 10)
    assert res_y["evppi"].iloc[0] < 0.1 * res_x["evppi"].iloc[0]
    # group of both = at least each alone
    both = evppi(cost, effect, np.column_stack([x, y]), 0.0)["evppi"].iloc[0]
    assert both >= res_x["evppi"].iloc[0] - 3 * res_x["evppi_se"].iloc[0]
    assert res_x["evppi_se"].iloc[0] > 0


def test_evppi_pair_with_interaction_recovers_product_effect():
    # INB = 1000 x y: additive fits see nothing (E[INB | x] = 0), the pair's EVPPI is
    # E[max(1000 x y, 0)] = 1000 E|xy| / 2 = 1000 / pi for independent standard normals
    rng = np.random.default_rng(np.random.SeedSequence(31))
    n = 10_000
    x = rng.standard_normal(n)
    y = rng.standard_normal(n)
    inb = 1000 * x * y + rng.normal(0, 200, n)
    cost = np.column_stack([np.zeros(n), -inb])
    effect = np.zeros((n, 2))
    pair = evppi(cost, effect, {"x": x, "y": y}, 0.0)
    additive = evppi(cost, effect, {"x": x, "y": y}, 0.0, interaction=False)
    exact = 1000 / np.pi - max(inb.mean(), 0)
    assert pair["evppi"].iloc[0] == pytest.approx(exact, rel=0.03)
    assert additive["evppi"].iloc[0] < 0.2 * pair["evppi"].iloc[0]
    assert pair["parameters"].iloc[0] == "x,y"


def test_evppi_of_a_binary_parameter_equals_group_means():
    # for a two-valued parameter the conditional expectation is the group mean: EVPPI is exact
    rng = np.random.default_rng(np.random.SeedSequence(41))
    n = 5000
    phi = (rng.random(n) < 0.3).astype(float)
    inb = np.where(phi == 1, 1000.0, -200.0) + rng.normal(0, 300, n)
    cost = np.column_stack([np.zeros(n), -inb])
    res = evppi(cost, np.zeros((n, 2)), phi, 0.0)
    p = phi.mean()
    exact = p * max(inb[phi == 1].mean(), 0) + (1 - p) * max(inb[phi == 0].mean(), 0) - max(inb.mean(), 0)
    assert res["evppi"].iloc[0] == pytest.approx(exact, rel=1e-6)


def test_evppi_standard_error_is_calibrated_across_replicate_psas():
    # three strategies, nonlinear in phi: the spread of EVPPI over independent PSA samples should
    # match the reported standard error (ratio within sampling noise of 30 replicates)
    est, ses = [], []
    for r in range(30):
        rng = np.random.default_rng(np.random.SeedSequence(700 + r))
        n = 2000
        x = rng.standard_normal(n)
        y = rng.standard_normal(n)
        cost = np.column_stack([np.zeros(n), -(300 * x + 500 * y), -(400 * x**2 - 300 + 500 * y)])
        out = evppi(cost, np.zeros((n, 3)), x, 0.0, n_se_samples=60)
        est.append(out["evppi"].iloc[0])
        ses.append(out["evppi_se"].iloc[0])
    ratio = np.std(est, ddof=1) / np.mean(ses)
    assert 0.6 < ratio < 1.6


def test_evppi_with_few_draws_uses_a_smaller_basis():
    rng = np.random.default_rng(np.random.SeedSequence(51))
    n = 30
    x = rng.standard_normal(n)
    inb = 1000 * x + rng.normal(0, 100, n)
    cost = np.column_stack([np.zeros(n), -inb])
    res = evppi(cost, np.zeros((n, 2)), x, [0.0, 1.0])
    assert np.all(res["evppi"] >= 0) and np.all(res["evppi"] <= res["evpi"] + 1e-9)
    assert np.all(np.isfinite(res["evppi_se"]))
    from mhtcdt.errors import InputError

    with pytest.raises(InputError, match="at least 20"):
        evppi(cost[:10], np.zeros((10, 2)), x[:10], 0.0)


def test_evpi_is_never_negative_from_round_off():
    # one strategy wins every draw: EVPI is exactly zero; large, irregular values make the two means
    # differ in their last bits, which must not show as a negative value of information
    rng = np.random.default_rng(4)
    cost = np.column_stack([rng.gamma(50, 500, 5000), rng.gamma(50, 500, 5000) + 30000.0])
    effect = np.column_stack([rng.beta(5, 3, 5000), rng.beta(5, 3, 5000)])
    from mhtcdt.economics.voi import evpi

    curve = evpi(cost, effect, np.linspace(0, 1e4, 101))
    assert np.all(curve == 0.0)
