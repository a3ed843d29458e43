"""Marginals and copula dependence of generated cohorts against independent oracles.

Oracles: scipy.stats distributions (Kolmogorov-Smirnov), the declared level probabilities
(binomial standard errors), Spearman's rho of a Gaussian copula, rho_S = (6/pi) asin(rho/2)
(exact for continuous margins), the polyserial identity E[ns * m(level)] = rho E[m(level)^2]
for a discrete-continuous pair, and the bivariate normal CDF (scipy) for discrete-discrete pairs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from mhtcdt.cohorts import generate_cohort, known_indications, load_indication
from mhtcdt.cohorts.marginals import ECOG_TO_KPS, Marginal, kps_to_ecog

N = 40_000
KS_CRITICAL = 1.95 / math.sqrt(N)  # two-sided KS critical value at alpha = 0.001


@pytest.fixture(scope="module", params=known_indications())
def generated(request):
    spec = load_indication(request.param)
    return spec, generate_cohort(request.param, N, seed=20261121)


def _groups(spec, df, var):
    if var.by is None:
        yield "all", var.marginal, df[var.name]
    else:
        for level, marginal in var.cases.items():
            yield level, marginal, df.loc[df[var.by].astype(object) == level, var.name]


def test_continuous_marginals_match_scipy_reference(generated) -> None:
    spec, df = generated
    checked = 0
    for var in spec.variables:
        for level, marginal, values in _groups(spec, df, var):
            if marginal.is_discrete or len(values) < 1000:
                continue
            ref = marginal.reference_distribution()
            d = stats.kstest(values.to_numpy(), ref.cdf).statistic
            assert d < 1.95 / math.sqrt(len(values)), (var.name, level, d)
            lower, upper = marginal.bounds()
            assert values.min() >= lower and values.max() <= upper, (var.name, level)
            checked += 1
    assert checked >= 9


def test_continuous_means_match_reference_moments(generated) -> None:
    spec, df = generated
    for var in spec.variables:
        for level, marginal, values in _groups(spec, df, var):
            if marginal.is_discrete or len(values) < 1000:
                continue
            ref = marginal.reference_distribution()
            se = values.std() / math.sqrt(len(values))
            assert abs(values.mean() - ref.mean()) < 5 * se, (var.name, level)


def test_discrete_marginals_match_declared_probabilities(generated) -> None:
    spec, df = generated
    for var in spec.variables:
        for level, marginal, values in _groups(spec, df, var):
            if not marginal.is_discrete:
                continue
            levels, probs = marginal.levels_and_probabilities()
            observed = values.astype(object).value_counts(normalize=True)
            for lv, p in zip(levels, probs, strict=True):
                freq = float(observed.get(lv, 0.0))
                se = math.sqrt(max(p * (1 - p), 1e-12) / len(values))
                assert abs(freq - p) < 5 * se + 1e-12, (var.name, level, lv, freq, p)


def test_ecog_distribution_for_ecog_indications() -> None:
    for indication in known_indications():
        spec = load_indication(indication)
        kps_var = spec.variable("kps")
        if kps_var.marginal.kind != "kps_from_ecog":
            continue
        df = generate_cohort(indication, N, seed=4)
        declared = kps_var.marginal.params["ecog_probabilities"]
        freq = df["ecog"].value_counts(normalize=True)
        for grade, p in enumerate(declared):
            assert abs(freq.get(grade, 0.0) - p) < 5 * math.sqrt(p * (1 - p) / N) + 1e-12


def test_kps_to_ecog_conversion_table() -> None:
    for grade, (hi, lo) in ECOG_TO_KPS.items():
        assert kps_to_ecog(np.array([hi, lo])).tolist() == [grade, grade]


def _normal_scores(x: np.ndarray) -> np.ndarray:
    return special.ndtri(stats.rankdata(x) / (len(x) + 1))


def _level_means(marginal: Marginal) -> dict:
    """m(level) = E[w | level] for the latent w of a discrete marginal."""
    levels, probs = marginal.levels_and_probabilities()
    cuts = np.concatenate([[-np.inf], special.ndtri(np.cumsum(probs)[:-1]), [np.inf]])
    pdf = stats.norm.pdf(cuts)
    pairs = enumerate(zip(levels, probs, strict=True))
    return {lv: (pdf[k] - pdf[k + 1]) / p for k, (lv, p) in pairs if p > 0}


def test_pairwise_dependence_matches_latent_correlation(generated) -> None:
    spec, df = generated
    for item in spec.correlations:
        a, b = item["pair"]
        rho = item["rho"]
        va, vb = spec.variable(a), spec.variable(b)
        if va.by or vb.by:
            continue
        ma, mb = va.marginal, vb.marginal
        if not ma.is_discrete and not mb.is_discrete:
            rs = stats.spearmanr(df[a], df[b]).statistic
            assert abs(rs - 6 / math.pi * math.asin(rho / 2)) < 0.02, (a, b, rs)
        elif ma.is_discrete != mb.is_discrete:
            disc, cont = (va, b) if ma.is_discrete else (vb, a)
            m = df[disc.name].astype(object).map(_level_means(disc.marginal)).to_numpy(dtype=float)
            ns = _normal_scores(df[cont].to_numpy())
            estimate = np.mean(ns * m) / np.mean(m**2)
            assert abs(estimate - rho) < 0.04, (a, b, estimate, rho)
        else:
            # P(both in their top level) against the bivariate normal CDF
            la, pa = ma.levels_and_probabilities()
            lb, pb = mb.levels_and_probabilities()
            ta, tb = special.ndtri(1 - pa[-1]), special.ndtri(1 - pb[-1])
            expected = stats.multivariate_normal(cov=[[1, rho], [rho, 1]]).cdf([-ta, -tb])
            observed = np.mean((df[a].astype(object) == la[-1]) & (df[b].astype(object) == lb[-1]))
            assert abs(observed - expected) < 5 * math.sqrt(expected * (1 - expected) / N) + 1e-4, (a, b)


def test_uncorrelated_pairs_are_independent(generated) -> None:
    spec, df = generated
    listed = {frozenset(item["pair"]) for item in spec.correlations}
    continuous = [v.name for v in spec.variables if v.by is None and not v.marginal.is_discrete]
    all_pairs = [(x, y) for i, x in enumerate(continuous) for y in continuous[i + 1 :]]
    pairs = [(x, y) for x, y in all_pairs if frozenset((x, y)) not in listed]
    assert len(pairs) >= 5
    for x, y in pairs:
        assert abs(stats.spearmanr(df[x], df[y]).statistic) < 0.03, (x, y)


def test_conditional_marginal_uses_level_parameters() -> None:
    df = generate_cohort("recurrent_glioblastoma", N, seed=9)
    means = df.groupby(df["sex"].astype(str))["body_circumference_cm"].mean()
    case = load_indication("recurrent_glioblastoma").variable("body_circumference_cm").cases
    for sex in ("female", "male"):
        assert abs(means[sex] - case[sex].reference_distribution().mean()) < 0.05
    np.testing.assert_allclose(df["body_radius_cm"], df["body_circumference_cm"] / (2 * np.pi))


def test_truncated_normal_matches_scipy_ppf_pointwise() -> None:
    spec = {"distribution": "normal", "mean": 56, "sd": 11, "lower": 18, "upper": 85}
    m = Marginal.from_spec("x", spec, "x")
    z = np.linspace(-5, 5, 101)
    expected = stats.truncnorm((18 - 56) / 11, (85 - 56) / 11, loc=56, scale=11).ppf(stats.norm.cdf(z))
    np.testing.assert_allclose(m.from_latent(z), expected, rtol=1e-9, atol=1e-9)


def test_lognormal_and_beta_match_scipy_ppf_pointwise() -> None:
    z = np.linspace(-4, 4, 81)
    u = stats.norm.cdf(z)
    ln = Marginal.from_spec("v", {"distribution": "lognormal", "median": 20, "sigma_log": 0.9}, "v")
    np.testing.assert_allclose(ln.from_latent(z), stats.lognorm(0.9, scale=20).ppf(u), rtol=1e-9)
    be = Marginal.from_spec("c", {"distribution": "beta", "a": 6, "b": 3}, "c")
    np.testing.assert_allclose(be.from_latent(z), stats.beta(6, 3).ppf(u), rtol=1e-8)


@pytest.mark.parametrize("a, b", [(6, 3), (4, 3), (2, 9), (0.3, 4), (0.5, 0.5), (1, 1), (30, 2), (0.7, 0.9)])
def test_fast_beta_quantile_matches_scipy_to_machine_precision(a, b) -> None:
    """Interpolation + bracketed Newton vs scipy's ppf (lower half) and isf (upper half)."""
    z = np.linspace(-8.3, 8.3, 20001)
    d = stats.beta(a, b)
    reference = np.where(z <= 0, d.ppf(stats.norm.cdf(z)), d.isf(stats.norm.cdf(-z)))
    got = Marginal.from_spec("c", {"distribution": "beta", "a": a, "b": b}, "c").from_latent(z)
    np.testing.assert_allclose(got, np.maximum(reference, np.nextafter(0, 1)), rtol=1e-11, atol=0)
    assert np.all(np.diff(got) >= 0)  # monotone, as a quantile function must be


@pytest.mark.parametrize(
    "spec, field",
    [
        ({"distribution": "gamma"}, "x.distribution"),
        ({"distribution": "normal", "mean": 1}, "x"),
        ({"distribution": "normal", "mean": 1, "sd": -2}, "x.sd"),
        ({"distribution": "normal", "mean": 1, "sd": 2, "lower": 5, "upper": 3}, "x.lower"),
        ({"distribution": "bernoulli", "p": 1.5}, "x.p"),
        ({"distribution": "ordinal", "levels": [1, 2], "probabilities": [0.5, 0.6]}, "x.probabilities"),
        ({"distribution": "ordinal", "levels": [2, 1], "probabilities": [0.5, 0.5]}, "x.levels"),
        ({"distribution": "lognormal", "median": 0, "sigma_log": 1}, "x.median"),
    ],
)
def test_bad_marginal_specs_raise_input_error(spec, field) -> None:
    from mhtcdt.errors import InputError

    with pytest.raises(InputError) as info:
        Marginal.from_spec("x", spec, "x")
    assert info.value.field == field


def test_bounds_respected_at_one_million_scale_extremes() -> None:
    """Extreme latent scores (|z| up to 40, where Phi underflows) stay inside every declared support."""
    spec = load_indication("recurrent_glioblastoma")
    z = np.array([-40.0, -8.3, -6.0, 0.0, 6.0, 8.3, 40.0])
    for var in spec.variables:
        marginals = [var.marginal] if var.by is None else list(var.cases.values())
        for m in marginals:
            values = m.from_latent(z)
            if not m.is_discrete:
                lower, upper = m.bounds()
                assert np.all(values >= lower) and np.all(values <= upper) and np.all(np.isfinite(values))
                if m.kind == "beta":  # deposit coverage must stay in (0, 1]
                    assert np.all(values > lower)


def test_cohort_level_invariants() -> None:
    for indication in known_indications():
        df = generate_cohort(indication, 5000, seed=1)
        assert (df["deposit_coverage_fraction"] > 0).all() and (df["deposit_coverage_fraction"] <= 1).all()
        assert (df["tumour_volume_cm3"] > 0).all() and (df["body_radius_cm"] > 5).all()
        assert df["ph_extracellular"].between(6.0, 7.6).all()
        if indication != "recurrent_glioblastoma":
            assert not df["mgmt_methylated"].any()
        assert isinstance(df["sex"].dtype, pd.CategoricalDtype)
