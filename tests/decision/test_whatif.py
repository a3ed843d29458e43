"""Willingness to pay and MHT price as what-ifs: the results without a new run equal a fresh run.

Oracle: the pipeline and the PSA run from scratch on the changed scenario (its price range scaled as
``with_price`` sets it); the what-if must give the same costs, QALYs, verdict, probability of being
cost-effective, EVPPI, tornado and value-based price.
"""

from __future__ import annotations

import numpy as np
import pytest

from mhtcdt.decision.model import whatif
from mhtcdt.decision.model.psa import run_psa
from mhtcdt.decision.run.pipeline import run_pipeline
from mhtcdt.decision.scenario.loading import default_scenario
from mhtcdt.errors import InputError

SEED = 5
DRAWS = 200


def _small():
    sc = default_scenario()
    return sc.model_copy(update={"cohort": sc.cohort.model_copy(update={"n_screened": 150})})


@pytest.fixture(scope="module")
def base():
    result = run_pipeline(_small(), seed=SEED)
    return result, run_psa(result, n_draws=DRAWS)


def _fresh(scenario):
    result = run_pipeline(scenario, seed=SEED)
    return result, run_psa(result, n_draws=DRAWS)


@pytest.mark.parametrize(("wtp", "price"), [(100_000.0, 2_000.0), (30_000.0, 45_000.0), (250_000.0, 0.0)])
def test_what_if_equals_a_fresh_run(base, wtp, price):
    result, psa = base
    got = whatif.apply(result, psa, willingness_to_pay=wtp, price=price)
    target = whatif.with_price(whatif.with_willingness_to_pay(result.scenario, wtp), price)
    assert got.scenario == target
    fresh, fresh_psa = _fresh(target)
    assert np.allclose(got.result.economics["cost"], fresh.economics["cost"], rtol=1e-12)
    assert np.allclose(got.result.economics["qalys"], fresh.economics["qalys"], rtol=0, atol=0)
    assert got.result.verdict == fresh.verdict
    assert got.result.incremental["status"].tolist() == fresh.incremental["status"].tolist()
    assert np.allclose(got.psa.cost, fresh_psa.cost, rtol=1e-9)
    assert np.array_equal(got.psa.qalys, fresh_psa.qalys)
    assert got.psa.focal == fresh_psa.focal
    assert got.psa.probability_cost_effective(wtp).equals(fresh_psa.probability_cost_effective(wtp))
    assert got.psa.verdict(wtp) == fresh_psa.verdict(wtp)
    a = got.psa.evppi.set_index("parameter").sort_index()
    b = fresh_psa.evppi.set_index("parameter").sort_index()
    assert list(a.index) == list(b.index)
    assert np.allclose(a["evppi"], b["evppi"], rtol=1e-6, atol=1e-6)
    ta = got.psa.tornado.set_index("parameter").sort_index()
    tb = fresh_psa.tornado.set_index("parameter").sort_index()
    assert np.allclose(ta[["low_value", "high_value", "outcome_low", "outcome_high"]], tb[ta.columns[:4]])
    if fresh_psa.value_based_price is None:
        assert got.psa.value_based_price is None
    else:
        assert got.psa.value_based_price == pytest.approx(fresh_psa.value_based_price, rel=1e-9)


def test_the_value_based_price_does_not_depend_on_the_price_asked(base):
    """Value-based price: the price at which the expected ICER equals the WTP (closed form, linear costs), the
    same whichever price the scenario asks (the price's range follows it); at that price the expected
    incremental net monetary benefit is zero."""
    result, psa = base
    prices = [whatif.apply(result, psa, price=p).psa.value_based_price for p in (1_000.0, 5_000.0, 90_000.0)]
    assert max(prices) - min(prices) < 1e-6 * max(1.0, abs(prices[0]))
    if prices[0] > 0:
        at = whatif.apply(result, psa, price=prices[0]).psa
        j, r = at.strategies.index(at.focal), at.strategies.index(at.reference)
        w = at.willingness_to_pay
        inmb = w * (at.qalys[:, j] - at.qalys[:, r]) - (at.cost[:, j] - at.cost[:, r])
        assert abs(inmb.mean()) < 1e-6 * w


def test_price_range_follows_the_price_and_says_so():
    sc = default_scenario()
    cheap = whatif.with_price(sc, 2_000.0)
    spec = next(u for u in cheap.economics.uncertainty if u.parameter == "costs.mht_course")
    old = next(u for u in sc.economics.uncertainty if u.parameter == "costs.mht_course")
    factor = 2_000.0 / sc.economics.costs.mht_course
    assert spec.low == pytest.approx(old.low * factor) and spec.high == pytest.approx(old.high * factor)
    assert spec.low < 2_000.0 < spec.high
    note = whatif.price_range_note(sc, cheap)
    assert "follows the price" in note and "GBP 1,304" in note
    free = whatif.with_price(sc, 0.0)
    assert all(u.parameter != "costs.mht_course" for u in free.economics.uncertainty)
    assert "fixed" in whatif.price_range_note(sc, free)


def test_decision_inputs_text_ignores_wtp_and_price_only():
    sc = default_scenario()
    text = whatif.decision_inputs_text(sc)
    assert whatif.decision_inputs_text(whatif.with_price(whatif.with_willingness_to_pay(sc, 90_000), 2_000)) == text
    other = sc.model_copy(update={"economics": sc.economics.model_copy(update={"discount_costs": 0.015})})
    assert whatif.decision_inputs_text(other) != text


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "cheap"])
def test_bad_prices_name_the_field(bad):
    with pytest.raises(InputError) as err:
        whatif.with_price(default_scenario(), bad)
    assert err.value.field == "costs.mht_course"


@pytest.mark.parametrize("bad", [0.0, -5.0, 2e7, float("nan")])
def test_bad_willingness_to_pay_names_the_field(bad):
    with pytest.raises(InputError) as err:
        whatif.with_willingness_to_pay(default_scenario(), bad)
    assert err.value.field == "willingness_to_pay"


def test_wtp_grid_covers_the_icer_and_holds_the_wtp():
    grid = whatif.wtp_grid(30_000.0, [390_000.0])
    assert grid[0] == 0 and grid[-1] >= 1.5 * 390_000.0 and 30_000.0 in grid
    assert whatif.wtp_grid(30_000.0, [float("nan"), -5.0])[-1] == pytest.approx(120_000.0)
