"""Scenario PSA: distributions honour their specification, the arrays agree with a direct
deterministic evaluation, the tornado and value-based price obey closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mhtcdt.decision.model.psa import distribution_for, run_psa
from mhtcdt.decision.run.pipeline import run_pipeline
from mhtcdt.decision.scenario.loading import default_scenario
from mhtcdt.decision.scenario.schema import UncertainParameter


def small(scenario=None, **economics):
    sc = scenario or default_scenario()
    return sc.model_copy(
        update={
            "cohort": sc.cohort.model_copy(update={"n_screened": 160}),
            "economics": sc.economics.model_copy(update=economics),
        }
    )


@pytest.fixture(scope="module")
def base():
    return run_pipeline(small(), seed=5)


@pytest.fixture(scope="module")
def psa(base):
    return run_psa(base, n_draws=400)


@pytest.mark.parametrize(
    ("dist", "low", "high", "point"),
    [("gamma", 500.0, 2000.0, 1000.0), ("beta", 0.59, 0.73, 0.66), ("normal", 10.0, 30.0, 20.0)],
)
def test_distribution_mean_and_interval_width(dist, low, high, point):
    spec = UncertainParameter(parameter="costs.end_of_life", distribution=dist, low=low, high=high)
    d = distribution_for(spec, point)
    x = d.sample(np.random.default_rng(1), 200_000)
    assert x.mean() == pytest.approx(point, rel=0.01)
    assert x.std() == pytest.approx((high - low) / 3.92, rel=0.02)


def test_lognormal_has_the_point_as_median():
    spec = UncertainParameter(parameter="costs.end_of_life", distribution="lognormal", low=5000, high=10000)
    x = distribution_for(spec, 7071.0).sample(np.random.default_rng(2), 200_000)
    assert np.median(x) == pytest.approx(7071.0, rel=0.01)


def test_ceac_probabilities_sum_to_one_and_match_counts(psa):
    sums = psa.ceac.groupby("wtp")["probability"].sum()
    assert np.allclose(sums, 1.0)
    w = psa.willingness_to_pay
    nmb = w * psa.qalys - psa.cost
    winners = np.argmax(nmb, axis=1)
    expected = {s: float(np.mean(winners == j)) for j, s in enumerate(psa.strategies)}
    got = psa.probability_cost_effective()
    for s in psa.strategies:
        assert got[s] == pytest.approx(expected[s])


def test_evppi_between_zero_and_evpi(psa):
    assert (psa.evppi["evppi"] >= -1e-9).all()
    assert (psa.evppi["evppi"] <= psa.evppi["evpi"] + 3 * psa.evppi["evppi_se"].fillna(0) + 1e-6).all()


def test_without_uncertainty_every_draw_equals_the_point_model(base):
    from dataclasses import replace

    from mhtcdt.decision.model.economic_model import time_grid_months
    from mhtcdt.decision.model.outcome import load_outcome_params
    from mhtcdt.economics import Conventions, StateValues, SurvivalCurves, run_partitioned_survival

    point = load_outcome_params()
    point = replace(point, draws=point.draws.iloc[0:0])  # the calibrated point, no calibration draws
    with pytest.warns(UserWarning, match="no calibration draws"):
        fixed = run_psa(run_pipeline(small(uncertainty=[]), seed=5), n_draws=20, params=point, physics=False)
    assert fixed.parameters.empty
    assert np.ptp(fixed.cost, axis=0).max() == 0.0
    # second method: the same PSM from the latent-time curves, evaluated once
    sc = small(uncertainty=[])
    trial = base.extras["counterfactual"]  # the decision population: every randomised patient under every arm
    grid = time_grid_months(sc)
    arms = fixed.strategies
    pfs = np.vstack([(trial.loc[trial.arm == a, "pfs_latent_months"].to_numpy()[:, None] > grid).mean(0) for a in arms])
    os_ = np.vstack([(trial.loc[trial.arm == a, "os_latent_months"].to_numpy()[:, None] > grid).mean(0) for a in arms])
    eco = sc.economics
    direct = run_partitioned_survival(
        SurvivalCurves(arms, grid, (pfs, os_)),
        StateValues(
            costs=[eco.costs.progression_free_per_month, eco.costs.progressed_per_month],
            costs_per="months",
            utilities=[eco.utilities.progression_free, eco.utilities.progressed],
            one_off_cost=[eco.costs.rt_course + (eco.costs.mht_course if "MHT" in a else 0.0) for a in arms],
            end_of_life_cost=eco.costs.end_of_life,
        ),
        Conventions(
            discount_costs=eco.discount_costs,
            discount_effects=eco.discount_effects,
            counting=eco.counting,
            discount_method=eco.discount_method,
        ),
    ).draw(0)
    assert np.allclose(fixed.cost[0], direct["cost"].to_numpy(), rtol=1e-12)
    assert np.allclose(fixed.qalys[0], direct["qalys"].to_numpy(), rtol=1e-12)


def test_tornado_swing_of_the_course_price_is_its_range(psa):
    row = psa.tornado.set_index("parameter").loc["costs.mht_course"]
    # the course is paid once at time 0: the incremental NMB falls one for one with its price
    assert row["outcome_low"] - row["outcome_high"] == pytest.approx(row["high_value"] - row["low_value"], rel=1e-9)


def test_value_based_price_makes_expected_incremental_nmb_zero(base, psa):
    sc = base.scenario
    priced = sc.economics.costs.model_copy(update={"mht_course": psa.value_based_price})
    specs = [u for u in sc.economics.uncertainty if u.parameter != "costs.mht_course"]
    again = run_psa(
        base.__class__(**{**base.__dict__, "scenario": small(sc, costs=priced, uncertainty=specs)}), n_draws=400
    )
    j = again.strategies.index(again.focal)
    r = again.strategies.index(again.reference)
    nmb = again.willingness_to_pay * again.qalys - again.cost
    # the price is fixed now (its draws no longer vary): expected incremental NMB is zero up to MC noise
    # of the remaining inputs, which enter both arms
    assert abs((nmb[:, j] - nmb[:, r]).mean()) < 0.02 * sc.economics.willingness_to_pay


def test_psa_is_reproducible(base, psa):
    again = run_psa(base, n_draws=400)
    assert np.array_equal(again.cost, psa.cost) and np.array_equal(again.qalys, psa.qalys)


def test_chunked_psa_equals_one_call(base, psa):
    from mhtcdt.decision.run.executors import resolve_executor

    chunked = run_psa(base, n_draws=400, executor=resolve_executor("serial"), chunk_size=70)
    assert np.array_equal(chunked.cost, psa.cost) and np.array_equal(chunked.qalys, psa.qalys)
    pd.testing.assert_frame_equal(chunked.parameters, psa.parameters)


# ---------------------------------------------------------------------------- physics and structural uncertainty
def test_physics_inputs_are_in_the_parameters_and_the_evppi_table_with_labels(psa):
    assert psa.physics is not None
    for name in ("slp_factor", "coverage_factor", "perfusion_factor", "infiltrative_share", "thermotolerance"):
        assert f"physics.{name}" in psa.parameters.columns
        assert f"physics.{name}" in set(psa.evppi["parameter"])
        row = psa.drivers.set_index("parameter").loc[f"physics.{name}"]
        assert row["label"] != f"physics.{name}" and row["kind"] == "physics"
    assert "outcome.log10_kill_effectiveness" in set(psa.drivers["parameter"])
    assert set(psa.parameters["physics.thermotolerance"]) <= {"literature", "seed_review"}
    assert psa.drivers["rank"].tolist() == list(range(1, len(psa.drivers) + 1))
    assert psa.drivers_text()[0].startswith("At GBP")


def test_physics_draws_follow_their_distributions(psa):
    from mhtcdt.decision.scenario.uncertain_inputs import registry

    x = psa.parameters["physics.slp_factor"].to_numpy()
    d = registry()["slp_factor"].distribution
    assert np.median(x) == pytest.approx(d.median, rel=0.1)
    assert np.quantile(x, 0.975) == pytest.approx(d.ppf(np.array(0.975)), rel=0.2)
    share = psa.parameters["physics.infiltrative_share"].to_numpy()
    assert 0 < share.min() and share.max() < 1


def test_structural_presets_side_by_side_follow_the_physics(psa):
    """Same draws, one structural choice changed: a larger infiltrative share (more tumour outside the heated
    volume) never gives a larger QALY gain, and linked effectiveness (ratio 1) gives less than the separate
    factor 1.7 (the heat component is multiplied by the ratio)."""
    t = psa.structural.set_index("preset")
    assert t.loc["base", "evaluated"]
    gains = [t.loc[p, "inc_qalys"] for p in ("infiltrative_low", "infiltrative_central", "infiltrative_high")]
    assert gains[0] > gains[1] > gains[2]
    assert t.loc["effectiveness_linked", "inc_qalys"] < t.loc["effectiveness_separate", "inc_qalys"]
    # the reference arm has no heat: its QALYs do not depend on heat-side structure
    assert t["qalys_reference"].max() - t["qalys_reference"].min() < 1e-3
    assert t.loc["base", "inc_qalys"] > 0
    assert t.loc["base", "icer"] == pytest.approx(t.loc["base", "inc_cost"] / t.loc["base", "inc_qalys"])
    j, r = psa.strategies.index(psa.focal), psa.strategies.index(psa.reference)
    assert t.loc["base", "inc_qalys"] == pytest.approx((psa.qalys[:, j] - psa.qalys[:, r]).mean())


def test_discrete_evppi_and_variance_share_against_brute_force():
    from mhtcdt.decision.model.drivers import discrete_evppi, variance_share

    rng = np.random.default_rng(4)
    n = 20_000
    level = rng.integers(0, 3, n)
    noise = rng.normal(0, 1.0, n)
    # NB of strategy 1 minus strategy 0 depends on the level: -1, +0.5, +2 (wtp 1, cost 0)
    effect = np.column_stack([np.zeros(n), np.array([-1.0, 0.5, 2.0])[level] + noise])
    cost = np.zeros((n, 2))
    known = np.mean([max(0.0, v) for v in (-1.0, 0.5, 2.0)])  # choose the best once the level is known
    now = max(0.0, np.mean([-1.0, 0.5, 2.0]))
    assert discrete_evppi(cost, effect, level, 1.0) == pytest.approx(known - now, abs=0.03)
    x = rng.normal(0, 1, n)
    y = 2.0 * x + rng.normal(0, 1, n)  # share of x = 4 / 5
    assert variance_share(y, x) == pytest.approx(0.8, abs=0.02)
    assert variance_share(rng.normal(0, 1, n), x) == pytest.approx(0.0, abs=0.01)


def test_psa_without_physics_keeps_the_economic_draws(base, psa):
    plain = run_psa(base, n_draws=400, physics=False)
    assert plain.physics is None and plain.drivers.empty
    for col in ("costs.mht_course", "utilities.progressed", "outcome.log10_kill_effectiveness"):
        assert np.array_equal(plain.parameters[col].to_numpy(), psa.parameters[col].to_numpy())


def test_drivers_rank_evppi_as_shown_then_by_variance_share():
    """EVPPIs below one currency unit per patient show as 0 and are regression noise: they tie, and the input
    that explains most of the INB variance ranks first (a 0.004 must not outrank it); a real EVPPI still leads."""
    from mhtcdt.decision.model.drivers import drivers_table, variance_share

    rng = np.random.default_rng(3)
    n = 4000
    price, share, noise, hsp = (rng.normal(size=n) for _ in range(4))
    inb = 5.0 * price + 1.0 * share + 0.1 * noise
    evppi = pd.DataFrame(
        {
            "parameter": ["hsp", "price", "share", "big"],
            "evppi": [0.004, 0.0, 0.0, 12.0],
            "evppi_se": [0.01, 0.0, 0.0, 1.0],
            "evpi": [20.0] * 4,
        }
    )
    columns = {"hsp": (hsp, False), "price": (price, False), "share": (share, False), "big": (noise, False)}
    table = drivers_table(evppi, inb, inb / 1e4, columns, {}, {})
    assert list(table["parameter"]) == ["big", "price", "share", "hsp"]
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert table.set_index("parameter").loc["price", "inb_variance_share"] == pytest.approx(
        variance_share(inb, price), rel=1e-12
    )
