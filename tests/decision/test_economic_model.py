"""The scenario -> partitioned-survival mapping: arm costs, the time grid, the background-mortality
floor on extrapolated hazards, and the Kaplan-Meier option's honest horizon."""

from __future__ import annotations

import numpy as np
import pytest

from mhtcdt.decision.model.economic_model import (
    ShortFollowUpWarning,
    background_survival,
    evaluate_arms,
    one_off_cost,
    time_grid_months,
)
from mhtcdt.decision.run.pipeline import run_pipeline
from mhtcdt.decision.scenario.loading import default_scenario


@pytest.fixture(scope="module")
def result():
    sc = default_scenario()
    sc = sc.model_copy(update={"cohort": sc.cohort.model_copy(update={"n_screened": 150})})
    return run_pipeline(sc, seed=21)


def test_one_off_cost_adds_the_components_an_arm_receives():
    sc = default_scenario()
    c = sc.economics.costs
    assert one_off_cost(sc, sc.arm("RT alone")) == c.rt_course
    assert one_off_cost(sc, sc.arm("NanoTherm MHT + RT")) == c.rt_course + c.mht_course


def test_time_grid_is_uniform_to_the_horizon():
    sc = default_scenario()
    grid = time_grid_months(sc)
    assert grid[0] == 0 and grid[-1] == pytest.approx(12 * sc.economics.horizon_years)
    assert np.allclose(np.diff(grid), sc.economics.cycle_months)


def _with_source(sc, source: str):
    return sc.model_copy(update={"economics": sc.economics.model_copy(update={"survival_source": source})})


def test_extrapolated_hazards_never_fall_below_background(result):
    curves = evaluate_arms(_with_source(result.scenario, "parametric"), result.trial).curves
    grid = np.sort(curves["time_months"].unique())
    bg = background_survival(result.trial, grid)
    assert bg[0] == pytest.approx(1.0) and np.all(np.diff(bg) < 0)
    for _, g in curves.groupby("arm"):
        os_ = g.sort_values("time_months")["os"].to_numpy()
        alive = os_[:-1] > 1e-12
        assert np.all(os_[1:][alive] / os_[:-1][alive] <= bg[1:][alive] / bg[:-1][alive] + 1e-12)


def test_kaplan_meier_source_cuts_the_horizon_to_follow_up(result):
    km = _with_source(result.scenario, "kaplan_meier")
    with pytest.warns(ShortFollowUpWarning):
        econ = evaluate_arms(km, result.trial)
    assert econ.horizon_months <= result.trial["os_months"].max() + km.economics.cycle_months
    assert econ.horizon_months < 12 * km.economics.horizon_years


def test_default_base_case_is_the_outcome_models_complete_survival(result):
    """One survival source: the default base case curves are the empirical survival functions of the latent
    (uncensored) times of every randomised patient under the arm (the counterfactual table: the strategies on
    the same patients), over the whole horizon (oracle: counting patients still alive)."""
    assert result.scenario.economics.survival_source == "outcome_model"
    curves = result.extras["economic_curves"]
    grid = time_grid_months(result.scenario)
    population = result.extras["counterfactual"]
    for arm, g in curves.groupby("arm"):
        sub = population[population["arm"] == arm]
        assert len(sub) == len(result.trial)
        g = g.sort_values("time_months")
        assert np.array_equal(g["time_months"].to_numpy(), grid)
        for t, pfs, os_ in zip(g["time_months"], g["pfs"], g["os"], strict=True):
            assert pfs == np.count_nonzero(sub["pfs_latent_months"] > t) / len(sub)
            assert os_ == np.count_nonzero(sub["os_latent_months"] > t) / len(sub)
    assert result.parametric.empty  # the fits are an analysis on request, not the economics input


def test_the_base_case_equals_the_psa_at_the_calibrated_point(result):
    """The deterministic base case and the PSA's point share one survival model: same costs and QALYs."""
    from mhtcdt.decision.model.psa import run_psa

    psa = run_psa(result, n_draws=20)
    base = result.economics.set_index("strategy")
    point = psa.point.set_index("strategy")
    for col in ("cost", "qalys", "life_years"):
        assert np.allclose(base[col], point.loc[base.index, col], rtol=1e-12, atol=0)
    assert "One survival source" in psa.notes[-1]


def test_parametric_fits_remain_an_analysis_on_request(result):
    again = run_pipeline(result.scenario, seed=21, fit_parametric=True)
    assert set(again.parametric["endpoint"]) == {"PFS", "OS"} and again.parametric["converged"].any()
    assert again.economics.equals(result.economics)  # the fits do not change the economics input
    fitted = run_pipeline(_with_source(result.scenario, "parametric"), seed=21)
    assert not fitted.parametric.empty
    assert not np.allclose(fitted.economics["qalys"], result.economics["qalys"])
