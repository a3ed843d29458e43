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


def test_extrapolated_hazards_never_fall_below_background(result):
    curves = result.extras["economic_curves"]
    grid = np.sort(curves["time_months"].unique())
    bg = background_survival(result.trial, grid)
    assert bg[0] == pytest.approx(1.0) and np.all(np.diff(bg) < 0)
    for _, g in curves.groupby("arm"):
        os_ = g.sort_values("time_months")["os"].to_numpy()
        alive = os_[:-1] > 1e-12
        assert np.all(os_[1:][alive] / os_[:-1][alive] <= bg[1:][alive] / bg[:-1][alive] + 1e-12)


def test_kaplan_meier_source_cuts_the_horizon_to_follow_up(result):
    sc = result.scenario
    km = sc.model_copy(update={"economics": sc.economics.model_copy(update={"survival_source": "kaplan_meier"})})
    with pytest.warns(ShortFollowUpWarning):
        econ = evaluate_arms(km, result.trial)
    assert econ.horizon_months <= result.trial["os_months"].max() + km.economics.cycle_months
    assert econ.horizon_months < 12 * km.economics.horizon_years
