"""Thermometry validation (slow): the NanoTherm arms reproduce the published intratumoral temperatures
(validation/thermometry.py; published numbers and sources in validation/data/thermometry_targets.toml)."""

from __future__ import annotations

import numpy as np
import pytest

from validation import thermometry as th

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def arms():
    gbm = th.glioblastoma_arm()
    fixed, raised = th.prostate_arms()
    return gbm, fixed, raised


@pytest.fixture(scope="module")
def table(arms):
    return th.thermometry_table(*arms).set_index("quantity")


def test_glioblastoma_arm_is_the_default_scenarios_eligible_patients(arms):
    gbm, _, _ = arms
    assert len(gbm.patients) >= th.targets()["glioblastoma"]["arm"]["min_patients"]
    assert (gbm.patients["indication"].astype(str) == "recurrent_glioblastoma").all()


def test_glioblastoma_median_maximum_temperature_within_1_5_C_of_maier_hauff_2007(arms):
    gbm, _, _ = arms
    published = th.targets()["glioblastoma"]["maier_hauff_2007"]["median_max_intratumoral_temperature_C"]
    assert abs(np.median(gbm.column("thermometry_max")) - published) <= 1.5


def test_glioblastoma_published_lower_end_inside_the_simulated_range(arms):
    gbm, _, _ = arms
    lo, _ = th.targets()["glioblastoma"]["maier_hauff_2007"]["max_intratumoral_temperature_range_C"]
    assert np.quantile(gbm.column("thermometry_max"), 0.05) <= lo


@pytest.mark.xfail(
    strict=True,
    reason="the stepwise control holds the thermometry reading near its 43 C target, so the simulated 95th "
    "percentile (~46.4 C) stays below the published 49.5 C (the hottest of 14 simulated patients reaches it "
    "with probability ~0.03); no sourced input reaches it with the median within 1.5 C and the lower end kept "
    "(python -m validation.thermometry_drivers; docs/validation.md)",
)
def test_glioblastoma_published_upper_end_inside_the_simulated_range(arms):
    gbm, _, _ = arms
    _, hi = th.targets()["glioblastoma"]["maier_hauff_2007"]["max_intratumoral_temperature_range_C"]
    assert np.quantile(gbm.column("thermometry_max"), 0.95) >= hi


def test_prostate_patient_1_sessions_1_and_6_inside_the_simulated_range(table):
    rows = table.loc[[q for q in table.index if q.startswith("prostate patient 1")]]
    assert len(rows) == 4 and rows["ok"].all(), rows


def test_prostate_cohort_maximum_of_55_C_in_10_patients(table):
    row = table.loc[[q for q in table.index if q.startswith("prostate cohort")]]
    assert row["ok"].all(), row


def test_prostate_amplitudes_match_the_tolerated_25_to_30_percent_of_18_kA_per_m(arms):
    gbm, _, raised = arms
    fields = th.field_table(gbm, raised).set_index("indication")
    assert fields.loc["prostate (raised to tolerance)", "ok"]
    peak = raised.column("field_peak")
    assert 4.5 - 1.0 <= np.median(peak) <= 5.4 + 1.0
    assert (gbm.column("field_peak") <= 18.0 + 1e-9).all()  # the device maximum


def test_driver_table_baseline_row_is_the_validation_arm(arms):
    """The driver sweep's unchanged row reproduces the validation arm exactly (its input patches are undone)."""
    from validation import thermometry_drivers as drv

    gbm, _, _ = arms
    g = gbm.column("thermometry_max")
    baseline, target_44, target_45 = drv.driver_table(drv.DRIVERS[:3]).to_dict("records")
    for key, q in (("p5", 0.05), ("p50", 0.5), ("p95", 0.95)):
        assert baseline[key] == round(float(np.quantile(g, q)), 1)
    # its order statistics of 14 patients are those the validation script prints beside the criterion
    extremes = th.cohort_extremes_table(gbm).set_index("quantity")
    hottest = extremes.loc[[q for q in extremes.index if "hottest" in q]].iloc[0]
    assert baseline["max14_5_95"] in hottest["simulated"]
    assert baseline["P_max14_ge_published"] == pytest.approx(float(hottest["P(as extreme as published)"]), abs=1e-3)
    # a higher thermometry target raises the median reading by about the difference (the controller follows it)
    assert baseline["p50"] < target_44["p50"] < target_45["p50"]
    assert 0.5 <= target_45["p50"] - baseline["p50"] <= 3.0
