"""Patient selection: counterfactual gains, benefit-score recovery, criteria comparison, bad input."""

import numpy as np
import pandas as pd
import pytest

from mhtcdt.decision.model import outcome
from mhtcdt.decision.trial import selection
from mhtcdt.decision.trial.design import TrialDesign
from mhtcdt.decision.trial.power import ReplicateTrial
from mhtcdt.errors import InputError


def _pools(n=1500, seed=2):
    """Test data: the experimental arm kills more in small tumours (a known effect modifier)."""
    rng = np.random.default_rng(seed)
    base = pd.DataFrame(
        dict(
            patient_id=np.arange(n, dtype=np.int64),
            indication="recurrent_glioblastoma",
            tumour_volume_cm3=rng.lognormal(np.log(25), 0.7, n),
            kps=rng.choice([60, 70, 80, 90, 100], n),
            age_years=rng.normal(56, 10, n),
            eloquent_location=rng.random(n) < 0.4,
            mgmt_methylated=rng.random(n) < 0.4,
            deposit_coverage_fraction=rng.uniform(0.3, 1.0, n),
        )
    )
    extra = np.where(base.tumour_volume_cm3 < 20, 3.0, 0.5)
    return {
        "RT": base.assign(log10_kill_total=1.9, log10_kill_rt=1.9),
        "MHT": base.assign(log10_kill_total=1.9 + extra, log10_kill_rt=1.9),
    }


@pytest.fixture(scope="module")
def params():
    return outcome.load_outcome_params(calibrated=False)


def test_gain_is_exactly_zero_for_identical_arms(params):
    pools = _pools(300)
    g = selection.individual_gain({"A": pools["RT"], "B": pools["RT"]}, "A", "B", 1, params, n_draws=3)
    assert np.all(g["gain_months"] == 0.0)


def test_effect_modifier_shows_in_gains_and_criteria_comparison(params):
    pools = _pools()
    g = selection.individual_gain(pools, "RT", "MHT", 1, params, n_draws=4)
    small = pools["RT"].tumour_volume_cm3 < 20
    assert g["gain_months"][small.to_numpy()].mean() > 2 * g["gain_months"][~small.to_numpy()].mean()
    design = TrialDesign(allocation={"RT": 1, "MHT": 1}, block_size=2, accrual_per_month=20.0)
    table = selection.compare_criteria(
        ReplicateTrial(pools, design, "RT", "MHT", params=params),
        {"all": [], "small": ["tumour_volume_cm3 < 20"]},
        300,
        4,
        gains=g,
        n_replicates=200,
        nmb_fn=lambda sub: 1000.0 * len(sub["RT"]),
    ).set_index("criteria_set")
    assert table.loc["small", "expected_hr"] < table.loc["all", "expected_hr"]
    assert table.loc["small", "power"] > table.loc["all", "power"]
    assert table.loc["small", "n_eligible"] == int(small.sum())
    assert table.loc["all", "nmb"] == 1000.0 * 1500


def test_benefit_score_recovers_a_known_linear_gain():
    rng = np.random.default_rng(0)
    pats = _pools(800)["RT"]
    true = 1.0 + 0.5 * np.log(pats.tumour_volume_cm3) - 0.8 * pats.eloquent_location + 0.02 * pats.kps
    gains = pd.DataFrame(dict(patient_id=pats.patient_id, gain_months=true + 0 * rng.random(len(pats))))
    score = selection.fit_benefit_score(pats, gains, ("log_tumour_volume_cm3", "eloquent_location", "kps"))
    assert score.coefficients == pytest.approx([0.5, -0.8, 0.02], abs=1e-9)
    assert score.intercept == pytest.approx(1.0, abs=1e-9)
    assert score.r2_test == pytest.approx(1.0) and score.calibration_slope_test == pytest.approx(1.0)
    nomo = score.nomogram().set_index("feature")
    assert nomo["max_points"].max() == pytest.approx(100.0)
    assert nomo.loc["eloquent_location", "value_at_0_points"] == 1.0  # eloquent = less gain = 0 points
    assert np.allclose(score.predict(pats), true)


def test_benefit_score_on_simulated_gains_is_informative(params):
    pools = _pools()
    # without durable responders (a threshold far above any kill here) the known effect modifier is the
    # only patient-level source of the gain besides the outcome draws
    no_tail = params.with_free(durable_control_log10_kill_50=10.0, durable_control_log10_kill_sd=0.1)
    g = selection.individual_gain(pools, "RT", "MHT", 1, no_tail, n_draws=4)
    score = selection.fit_benefit_score(pools["RT"], g)
    assert score.r2_test > 0.3
    assert score.coefficients[list(score.features).index("log_tumour_volume_cm3")] < 0


def test_bad_input(params):
    pools = _pools(200)
    design = TrialDesign(allocation={"RT": 1, "MHT": 1}, block_size=2)
    trial = ReplicateTrial(pools, design, "RT", "MHT", params=params)
    with pytest.raises(InputError, match="zero patients"):
        selection.compare_criteria(trial, {"none": ["tumour_volume_cm3 < 0"]}, 50, 1, n_replicates=10)
    with pytest.raises(InputError, match="criteria_sets.bad"):
        selection.compare_criteria(trial, {"bad": ["no_such_column > 1"]}, 50, 1, n_replicates=10)
    with pytest.raises(InputError, match="features"):
        selection.fit_benefit_score(pools["RT"], pd.DataFrame(dict(patient_id=[0], gain_months=[1.0])), ("nope",))


def test_scenario_nmb_equals_minus_extra_cost_when_outcomes_are_identical(params):
    """Both arms with the same physics: equal QALYs, so the incremental NMB is minus the difference of the
    arms' one-off treatment costs (the economics layer's own costing)."""
    from mhtcdt.decision.model.economic_model import one_off_cost
    from mhtcdt.decision.scenario.loading import default_scenario

    sc = default_scenario()
    ref = sc.trial.reference_arm
    exp = next(a for a in sc.trial.allocation if a != ref)
    pools = _pools(300)
    same = {ref: pools["RT"], exp: pools["RT"]}
    nmb = selection.scenario_nmb_fn(sc, ref, exp, 3, params)(same)
    extra = one_off_cost(sc, sc.arm(exp)) - one_off_cost(sc, sc.arm(ref))
    assert extra > 0
    assert nmb == pytest.approx(-extra, rel=1e-9)
    better = {ref: pools["RT"], exp: pools["MHT"]}
    assert selection.scenario_nmb_fn(sc, ref, exp, 3, params)(better) > nmb
