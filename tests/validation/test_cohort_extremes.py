"""The order statistics behind the glioblastoma range diagnostic (validation/thermometry.py): the hottest and the
coolest of n patients drawn from a simulated arm, against a closed form and against a bootstrap (fast)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from validation import thermometry as th


def test_quantiles_of_the_extremes_match_the_closed_form_of_a_fine_uniform_sample():
    # F(x) = x on [0, 1]: the q-quantile of the max of n is q**(1/n), of the min 1 - (1 - q)**(1/n)
    values = (np.arange(200_000) + 0.5) / 200_000
    levels = (0.05, 0.5, 0.95)
    top = th.extreme_of_cohort_quantiles(values, 14, levels, largest=True)
    bottom = th.extreme_of_cohort_quantiles(values, 14, levels, largest=False)
    np.testing.assert_allclose(top, stats.beta(14, 1).ppf(levels), atol=1e-5)
    np.testing.assert_allclose(bottom, stats.beta(1, 14).ppf(levels), atol=1e-5)


@pytest.mark.parametrize("largest", [True, False])
def test_quantiles_of_the_extremes_match_a_bootstrap_of_cohorts(largest):
    rng = np.random.default_rng(13)
    values = 43.0 + rng.gamma(1.5, 1.2, size=419)  # a skewed arm like the simulated readings
    draws = rng.integers(0, values.size, (200_000, 14))
    cohorts = values[draws]
    extreme = cohorts.max(axis=1) if largest else cohorts.min(axis=1)
    exact = th.extreme_of_cohort_quantiles(values, 14, (0.05, 0.5, 0.95), largest)
    # the bootstrap quantile lands on a neighbouring order statistic of the arm at most
    sorted_values = np.sort(values)
    for q, x in zip((0.05, 0.5, 0.95), exact, strict=True):
        i = int(np.searchsorted(sorted_values, x))
        lo, hi = sorted_values[max(i - 1, 0)], sorted_values[min(i + 1, values.size - 1)]
        assert lo <= np.quantile(extreme, q, method="inverted_cdf") <= hi


def test_probability_of_an_extreme_beyond_the_published_end_matches_a_bootstrap():
    rng = np.random.default_rng(14)
    values = 43.0 + rng.gamma(1.5, 1.2, size=419)
    cohorts = values[rng.integers(0, values.size, (200_000, 14))]
    for bound in (45.0, 47.0, 49.5):
        p = th.probability_extreme_beyond(values, 14, bound, largest=True)
        assert p == pytest.approx(np.mean(cohorts.max(axis=1) >= bound), abs=4e-3)
    for bound in (43.2, 43.5):
        p = th.probability_extreme_beyond(values, 14, bound, largest=False)
        assert p == pytest.approx(np.mean(cohorts.min(axis=1) <= bound), abs=4e-3)


def test_a_cohort_of_one_gives_the_arm_itself():
    values = np.array([41.0, 42.0, 44.0, 49.0])
    assert th.extreme_of_cohort_quantiles(values, 1, (0.5,), largest=True)[0] == 42.0
    assert th.probability_extreme_beyond(values, 1, 44.0) == pytest.approx(0.5)
    assert th.probability_extreme_beyond(values, 1, 42.0, largest=False) == pytest.approx(0.5)
