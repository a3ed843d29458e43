"""PSA distributions: moments against scipy, chunk independence, stream isolation, bad parameters."""

import numpy as np
import pytest
from scipy import stats

from mhtcdt.economics.psa import (
    Beta,
    Dirichlet,
    EmpiricalDraws,
    Fixed,
    Gamma,
    LogNormal,
    MultivariateNormal,
    Normal,
    Uniform,
    dirichlet_matrix,
    sample_psa,
)
from mhtcdt.errors import InputError

N = 40_000


def test_moments_match_scipy_parameterisation():
    dists = {
        "g": Gamma(2000.0, 500.0),
        "b": Beta(0.7, 0.05),
        "ln": LogNormal.from_ci(0.509, 0.365, 0.710),
        "n": Normal(-3.0, 2.0),
        "u": Uniform(1.0, 3.0),
    }
    draws = sample_psa(dists, N, seed=1)
    ref = {
        "g": stats.gamma(a=(2000 / 500) ** 2, scale=500**2 / 2000),
        "b": stats.beta(*dists["b"].alpha_beta),
        "ln": stats.lognorm(s=dists["ln"].sdlog, scale=np.exp(dists["ln"].meanlog)),
        "n": stats.norm(-3, 2),
        "u": stats.uniform(1, 2),
    }
    for k, dist in ref.items():
        x = draws[k]
        assert x.shape == (N,)
        assert x.mean() == pytest.approx(dist.mean(), abs=4 * dist.std() / np.sqrt(N))
        assert x.std() == pytest.approx(dist.std(), rel=0.03)
        assert stats.kstest(x, dist.cdf).pvalue > 1e-4
    assert ref["b"].mean() == pytest.approx(0.7) and ref["b"].std() == pytest.approx(0.05)
    assert ref["g"].mean() == pytest.approx(2000) and ref["g"].std() == pytest.approx(500)
    # lognormal from a CI: the CI is the 2.5% / 97.5% quantile pair
    assert ref["ln"].ppf([0.025, 0.975]) == pytest.approx([0.365, 0.710], rel=0.01)
    ln2 = LogNormal.from_mean_sd(3.0, 1.5)
    assert ln2.mean == pytest.approx(3.0)


ALL_KINDS = {
    "g": Gamma(10, 2),
    "g_small_shape": Gamma(1, 3),  # shape < 1 branch of the gamma sampler
    "b": Beta(0.3, 0.1),
    "ln": LogNormal(0.0, 0.5),
    "n": Normal(1.0, 2.0),
    "u": Uniform(0.0, 1.0),
    "d": Dirichlet([10, 5, 0, 1]),
    "d_small": Dirichlet([0.3, 0.2, 0.5]),
    "m": MultivariateNormal([0, 1], [[1, 0.5], [0.5, 2]]),
    "e": EmpiricalDraws(np.arange(20.0).reshape(10, 2)),
}


@pytest.mark.parametrize("total, cuts", [(10_000, (3_000, 6_000, 9_000)), (70_000, (1, 65_535, 65_537))])
def test_chunked_sampling_equals_one_call(total, cuts):
    full = sample_psa(ALL_KINDS, total, seed=9)
    edges = (0, *cuts, total)
    parts = [sample_psa(ALL_KINDS, b - a, seed=9, start=a) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    for k in ALL_KINDS:
        np.testing.assert_array_equal(np.concatenate([p[k] for p in parts]), full[k])


def test_adding_a_parameter_keeps_other_streams():
    a = sample_psa({"x": Normal(0, 1)}, 100, seed=3)
    b = sample_psa({"y": Gamma(1, 1), "x": Normal(0, 1)}, 100, seed=3)
    np.testing.assert_array_equal(a["x"], b["x"])
    c = sample_psa({"x": Normal(0, 1)}, 100, seed=4)
    assert not np.allclose(a["x"], c["x"])


def test_dirichlet_and_mvn():
    d = sample_psa({"row": Dirichlet([1251, 350, 116, 17]), "z": Dirichlet([0, 0, 5])}, N, seed=2)
    row = d["row"]
    np.testing.assert_allclose(row.sum(axis=1), 1.0)
    alpha = np.array([1251, 350, 116, 17.0])
    np.testing.assert_allclose(row.mean(axis=0), alpha / alpha.sum(), rtol=0.01)
    ref_var = stats.dirichlet(alpha).var()
    np.testing.assert_allclose(row.var(axis=0), ref_var, rtol=0.05)
    np.testing.assert_array_equal(d["z"], np.tile([0, 0, 1.0], (N, 1)))
    cov = np.array([[0.04, -0.01], [-0.01, 0.09]])
    m = sample_psa({"w": MultivariateNormal([0.2, 3.0], cov)}, N, seed=5)["w"]
    np.testing.assert_allclose(np.cov(m.T), cov, rtol=0.05, atol=1e-4)
    assert len(dirichlet_matrix([[1, 2], [0, 3]])) == 2


def test_empirical_draws():
    table = np.arange(30.0).reshape(10, 3)
    seq = sample_psa({"cal": EmpiricalDraws(table, resample=False)}, 4, seed=1, start=2)["cal"]
    np.testing.assert_array_equal(seq, table[2:6])
    res = sample_psa({"cal": EmpiricalDraws(table)}, 1000, seed=1)["cal"]
    assert set(res[:, 0].tolist()) <= set(table[:, 0].tolist()) and res.shape == (1000, 3)
    with pytest.raises(InputError, match="fewer rows"):
        sample_psa({"cal": EmpiricalDraws(table, resample=False)}, 11, seed=1)
    assert np.all(sample_psa({"f": Fixed(2.5)}, 3, seed=0)["f"] == 2.5)


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: Beta(1.2, 0.1), "Beta.mean"),
        (lambda: Beta(0.0, 0.1), "Beta.mean"),
        (lambda: Beta(0.5, 0.6), "Beta.sd"),
        (lambda: Gamma(-1, 1), "Gamma.mean"),
        (lambda: Gamma(1, 0), "Gamma.sd"),
        (lambda: LogNormal(0, -1), "LogNormal.sdlog"),
        (lambda: LogNormal.from_ci(0.5, 0.6, 0.9), "LogNormal.lower/upper"),
        (lambda: Normal(np.nan, 1), "Normal.mean"),
        (lambda: Uniform(2, 1), "Uniform.high"),
        (lambda: Dirichlet([1, -1, 2]), "Dirichlet.alpha"),
        (lambda: MultivariateNormal([0, 0], [[1, 2], [2, 1]]), "MultivariateNormal.cov"),
        (lambda: dirichlet_matrix([[1, 2], [0, -3]]), "counts[1]"),
    ],
)
def test_impossible_parameters(make, field):
    with pytest.raises(InputError) as err:
        make()
    assert err.value.field == field


def test_sample_arguments_checked():
    with pytest.raises(InputError):
        sample_psa({"x": Normal(0, 1)}, 0, seed=1)
    with pytest.raises(InputError):
        sample_psa({"x": 3.0}, 5, seed=1)


def test_streams_are_the_documented_keyed_seed_sequences():
    """Draw d of parameter ``name`` comes from SeedSequence(seed, spawn_key=(crc32(name), d // 65536))
    through PCG64 (mhtcdt.seeding): bit-identical to building that stream by hand."""
    import zlib

    got = sample_psa({"cost": Gamma(100.0, 20.0), "p": Beta(0.3, 0.1)}, 50, seed=7, start=3)
    for name, dist in (("cost", Gamma(100.0, 20.0)), ("p", Beta(0.3, 0.1))):
        rng = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(zlib.crc32(name.encode()), 0)))
        np.testing.assert_array_equal(got[name], dist.sample(rng, 53)[3:])
