"""Oracle: one PSA with a published EVPI (and EVPPI) reproduced with mhtcdt.economics.

Model: the chemotherapy side-effects model of Heath, Kunst & Jackson (eds.), *Value of
Information for Healthcare Decision-Making* (CRC, 2024; doi:10.1201/9781003156109), chapter 3
case study, re-implemented from its public specification in ``tests/economics/chemo_model.py``
(see that module for the sources of the structure and of every distribution).  Inputs are
sampled with :func:`mhtcdt.economics.sample_psa` from mhtcdt PSA distributions, the Markov part
runs through :func:`mhtcdt.economics.run_markov`, and VoI through
:func:`mhtcdt.economics.evpi` / :func:`mhtcdt.economics.evppi`.

Published numbers (all at a willingness to pay of GBP 20,000 per QALY, per patient):

1. EVPI = 368.6051: voi package vignette "voi for Value of Information calculation: package
   overview", section on the BART method (``evpi(chemo_nb)``), rendered at
   https://chjackson.github.io/voi/articles/voi.html (source github.com/chjackson/voi,
   ``docs/articles/voi.html``, commit b43b895).  ``chemo_nb`` is a PSA of 10,000 draws
   (voi ``data-raw/chemo.R``, ``set.seed(1)``).
2. Single-parameter EVPPIs (GAM regression), e.g. logor_side_effects 329.0098,
   p_side_effects_t2 260.9055, u_home_care 103.7762, and the group (p_side_effects_t1,
   logor_side_effects) 330.62: "VoI book code: Case study and guidelines for estimating EVPPI
   using regression in R", voi package ``inst/book_misc/evppi_reg.Rmd`` / ``evppi_reg.pdf``
   (first two output tables), from the book repository's PSA of 5,000 draws
   (github.com/convoigroup/Chemotherapy_Book ``04_analysis/01_model_run.R``, ``set.seed(123)``).
3. Mean costs and QALYs of that 5,000-draw PSA (model check, independent of VoI):
   Chemotherapy_Book ``07_tables/Mean_Costs_Effects.csv`` and ``07_tables/ICER.csv``.

Every published value is itself a Monte Carlo estimate from a PSA of n = 10,000 or 5,000 draws
(R's RNG, which we cannot and do not reproduce).  So each test replicates the published design:
the large mhtcdt PSA is cut into B independent batches of the published size n, the estimator is
applied to each batch, and the published value must lie within 3 standard deviations of the mean
of the B replicate estimates, sd * sqrt(1 + 1/B) (the sd covers the published value's own MC
error; sd / sqrt(B) is the error of our replicate mean).  Estimating at the published n (not only
with a huge PSA) also reproduces the small-sample bias of the estimators.  Measured with the
default sizes (seed 20241122, 200,000 draws): EVPI replicates at n = 10,000 have mean 366.1 and
sd 5.3 (1.4% of the EVPI; 20 replicates), tolerance 16.4 (4.4%); single-parameter EVPPI
replicates at n = 5,000 (40 replicates) have means 328.8 / 260.4 / 104.4 (logor / p2 /
u_home_care) with sd 7.4 / 7.7 / 7.4, tolerances 22-24 (7%, 9%, 22% of the published values);
the side-effects group 330.0, sd 7.2.  The large-PSA estimates (all 200,000 draws) are EVPI
366.13 and EVPPI 329.17 / 260.79 / 104.94 (evppi SE 1.3).  The tests also assert that the
tolerances stay below 5% (EVPI), 10% (group) or 25% (single parameters) of the published value,
so they keep their power: by hand, changing the sd of the log odds ratio from 0.3 to 0.36, or
reading the variance of u_home_care or of rate_longterm as its sd, makes the EVPI test fail.

Default runtime about 12 s on the shared 2-core machine; the slow test (1,000,000 draws, ~20 s)
checks all 14 single-parameter EVPPIs.
"""

from __future__ import annotations

import numpy as np
import pytest

from mhtcdt.economics import evpi, evppi

from . import chemo_model

WTP = 20_000.0
SEED = 20241122
N_DRAWS = 200_000
N_PUBLISHED_EVPI = 10_000  # voi::chemo_nb
N_PUBLISHED_BOOK = 5_000  # Chemotherapy_Book 04_analysis/01_model_run.R
Z = 3.0

PUBLISHED_EVPI = 368.6051
# evppi_reg.Rmd, single-parameter table (GAM), 5,000 draws
PUBLISHED_EVPPI = {
    "p_side_effects_t1": 24.7915,
    "p_side_effects_t2": 260.9055,
    "c_home_care": 0.0,
    "c_hospital": 0.0032,
    "c_death": 0.0,
    "u_recovery": 7.7910,
    "u_home_care": 103.7762,
    "u_hospital": 2.6355,
    "logor_side_effects": 329.0098,
    "p_hospitalised_total": 21.8343,
    "p_died": 41.5116,
    "lambda_home": 10.0146,
    "lambda_hosp": 21.7919,
    "rate_longterm": 38.9335,
}
PUBLISHED_EVPPI_SIDE_EFFECTS_GROUP = 330.62  # ("p_side_effects_t1", "logor_side_effects")
# Chemotherapy_Book 07_tables (5,000 draws): (SoC, Novel)
PUBLISHED_MEAN_COST = (1451.1465730369, 3284.60123960153)
PUBLISHED_MEAN_QALYS = (13.4515824327261, 13.5445599377089)
PUBLISHED_ICER = 19719.3360577305


def _batches(n_total: int, size: int) -> list[slice]:
    return [slice(i, i + size) for i in range(0, n_total - size + 1, size)]


def _evppi_replicates(cost, effect, phi, slices: list[slice]) -> np.ndarray:
    """EVPPI of ``phi`` ((D,) array or {name: (D,)}) on each batch of draws (no SE samples)."""

    def take(s):
        return {k: v[s] for k, v in phi.items()} if isinstance(phi, dict) else phi[s]

    return np.array([evppi(cost[s], effect[s], take(s), WTP, n_se_samples=0)["evppi"].iloc[0] for s in slices])


def _replicate_check(published: float, replicates: np.ndarray) -> tuple[float, float, float]:
    """(replicate mean, sd of one replicate, tolerance Z * sd * sqrt(1 + 1/B))."""
    b = replicates.size
    mean, sd = float(replicates.mean()), float(replicates.std(ddof=1))
    return mean, sd, Z * sd * np.sqrt(1.0 + 1.0 / b)


@pytest.fixture(scope="module")
def psa():
    cost, effect, params = chemo_model.run_psa(N_DRAWS, SEED)
    return cost, effect, params


def test_model_reproduces_published_mean_costs_and_qalys(psa):
    """Model check against the book repository's 5,000-draw PSA means (07_tables)."""
    cost, effect, _ = psa
    slices = _batches(cost.shape[0], N_PUBLISHED_BOOK)
    for k in range(2):
        reps = np.array([cost[s, k].mean() for s in slices])
        mean, sd, tol = _replicate_check(PUBLISHED_MEAN_COST[k], reps)
        assert abs(PUBLISHED_MEAN_COST[k] - mean) <= tol, (k, mean, sd)
        assert tol < 0.02 * PUBLISHED_MEAN_COST[k]
        reps = np.array([effect[s, k].mean() for s in slices])
        mean, sd, tol = _replicate_check(PUBLISHED_MEAN_QALYS[k], reps)
        assert abs(PUBLISHED_MEAN_QALYS[k] - mean) <= tol, (k, mean, sd)
        assert tol < 0.03 * PUBLISHED_MEAN_QALYS[k]
    icers = np.array([(cost[s, 1] - cost[s, 0]).mean() / (effect[s, 1] - effect[s, 0]).mean() for s in slices])
    mean, sd, tol = _replicate_check(PUBLISHED_ICER, icers)
    assert abs(PUBLISHED_ICER - mean) <= tol, (mean, sd)
    assert tol < 0.05 * PUBLISHED_ICER
    # the drug costs are fixed, so the mean incremental cost is tightly determined
    inc_cost = (cost[:, 1] - cost[:, 0]).mean()
    assert inc_cost == pytest.approx(PUBLISHED_MEAN_COST[1] - PUBLISHED_MEAN_COST[0], rel=0.005)


def test_evpi_matches_voi_vignette(psa):
    """EVPI 368.6051 (voi vignette, 10,000 draws) within 3 sd of the 10,000-draw estimator."""
    cost, effect, _ = psa
    reps = np.array([evpi(cost[s], effect[s], WTP) for s in _batches(cost.shape[0], N_PUBLISHED_EVPI)])
    mean, sd, tol = _replicate_check(PUBLISHED_EVPI, reps)
    assert abs(PUBLISHED_EVPI - mean) <= tol, (mean, sd, tol)
    assert tol < 0.05 * PUBLISHED_EVPI  # the test can detect a 5% error in the EVPI
    # the estimate from all draws agrees with the replicate mean (EVPI estimator's small-n bias
    # at n = 10,000 is well below its sd)
    full = evpi(cost, effect, WTP)
    assert full == pytest.approx(mean, abs=2.0 * sd)
    # EVPI at the grid of the book (0..50,000) peaks near the ICER (~GBP 19,700/QALY)
    grid = np.linspace(0.0, 50_000.0, 51)
    curve = evpi(cost, effect, grid)
    assert 15_000.0 <= grid[int(np.argmax(curve))] <= 25_000.0


@pytest.mark.parametrize("name", ["logor_side_effects", "p_side_effects_t2", "u_home_care"])
def test_single_parameter_evppi_matches_book_code(psa, name):
    """Published GAM EVPPIs (5,000 draws) within 3 sd of mhtcdt's spline EVPPI at 5,000 draws."""
    cost, effect, params = psa
    slices = _batches(cost.shape[0], N_PUBLISHED_BOOK)
    reps = _evppi_replicates(cost, effect, params[name], slices)
    published = PUBLISHED_EVPPI[name]
    mean, sd, tol = _replicate_check(published, reps)
    assert abs(published - mean) <= tol, (name, mean, sd, tol)
    assert tol < 0.25 * published
    # the standard error evppi reports for one 5,000-draw PSA matches the replicate spread
    reported = evppi(cost[slices[0]], effect[slices[0]], params[name][slices[0]], WTP)["evppi_se"].iloc[0]
    assert 0.6 * sd <= reported <= 1.6 * sd
    # large-PSA EVPPI: close to the replicate mean and below the EVPI
    big = evppi(cost, effect, params[name], WTP, n_se_samples=20)
    assert abs(big["evppi"].iloc[0] - mean) <= 3.0 * np.hypot(big["evppi_se"].iloc[0], sd / np.sqrt(len(slices)))
    assert big["evppi"].iloc[0] <= big["evpi"].iloc[0]


def test_side_effects_group_evppi_matches_book_code(psa):
    """Group EVPPI of (p_side_effects_t1, logor_side_effects) 330.62 (tensor-product spline)."""
    cost, effect, params = psa
    group = ("p_side_effects_t1", "logor_side_effects")
    slices = _batches(cost.shape[0], N_PUBLISHED_BOOK)
    reps = _evppi_replicates(cost, effect, {g: params[g] for g in group}, slices)
    mean, sd, tol = _replicate_check(PUBLISHED_EVPPI_SIDE_EFFECTS_GROUP, reps)
    assert abs(PUBLISHED_EVPPI_SIDE_EFFECTS_GROUP - mean) <= tol, (mean, sd, tol)
    assert tol < 0.1 * PUBLISHED_EVPPI_SIDE_EFFECTS_GROUP
    # p2 is a function of (p1, logor), so the group carries at least the value of p2 alone
    single = _evppi_replicates(cost, effect, params["p_side_effects_t2"], slices)
    assert mean > single.mean() + 3.0 * np.std(reps - single, ddof=1) / np.sqrt(len(slices))


@pytest.mark.slow
def test_all_single_parameter_evppis_and_evpi_large_psa():
    """1,000,000 draws: EVPI (100 replicates of 10,000) and all 14 published single-parameter
    EVPPIs (200 replicates of 5,000).  With 15 comparisons the band is 3.5 sd (a false alarm rate
    of about 0.7% for the set).  The published ranking of the three most valuable parameters
    (logor_side_effects > p_side_effects_t2 > u_home_care > the rest) is reproduced."""
    n = 1_000_000
    cost, effect, params = chemo_model.run_psa(n, SEED + 1)
    reps = np.array([evpi(cost[s], effect[s], WTP) for s in _batches(n, N_PUBLISHED_EVPI)])
    mean, sd, _ = _replicate_check(PUBLISHED_EVPI, reps)
    assert abs(PUBLISHED_EVPI - mean) <= 3.5 * sd * np.sqrt(1 + 1 / reps.size)
    slices = _batches(n, N_PUBLISHED_BOOK)
    means = {}
    for name, published in PUBLISHED_EVPPI.items():
        reps = _evppi_replicates(cost, effect, params[name], slices)
        mean, sd, _ = _replicate_check(published, reps)
        means[name] = mean
        assert abs(published - mean) <= 3.5 * sd * np.sqrt(1 + 1 / reps.size), (name, published, mean, sd)
    ranked = sorted(means, key=means.get, reverse=True)
    assert ranked[:3] == ["logor_side_effects", "p_side_effects_t2", "u_home_care"]
