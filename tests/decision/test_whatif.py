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
    assert got.psa.evppi["parameter"].tolist() == fresh_psa.evppi["parameter"].tolist()
    assert np.allclose(got.psa.evppi["evppi_se"], fresh_psa.evppi["evppi_se"], rtol=1e-6, atol=1e-6)
    # the drivers' numbers; their ranks are an ordering of near-zero EVPPIs and variance shares here, which the
    # what-if's repriced costs (fresh costs + a shift, equal to 1e-9) may break differently: not compared
    da = got.psa.drivers.drop(columns="rank").set_index("parameter").sort_index()
    db = fresh_psa.drivers.drop(columns="rank").set_index("parameter").sort_index()
    assert list(da.index) == list(db.index)
    numeric = [c for c in db.columns if np.issubdtype(db[c].dtype, np.number)]
    assert np.allclose(da[numeric].to_numpy(float), db[numeric].to_numpy(float), rtol=1e-6, atol=1e-6, equal_nan=True)
    # structural alternatives: the base row exactly; a preset's costs and ICER by linearity in the price
    sa = got.psa.structural.set_index("preset")
    sb = fresh_psa.structural.set_index("preset")
    assert list(sa.index) == list(sb.index)
    cols = ["cost_focal", "cost_reference", "inc_cost", "inc_qalys", "icer"]
    assert np.allclose(sa[cols].to_numpy(float), sb[cols].to_numpy(float), rtol=1e-9, equal_nan=True)
    assert sa["icer_status"].tolist() == sb["icer_status"].tolist()
    assert sa.at["base", "p_cost_effective"] == sb.at["base", "p_cost_effective"]
    presets = sa.index[(sa.index != "base") & sa["evaluated"].astype(bool)]
    assert sa.loc[presets, "p_cost_effective"].isna().all()
    assert (sa.loc[presets, "note"] == whatif.STRUCTURAL_RERUN_NOTE).all()
    ta = got.psa.tornado.set_index("parameter").sort_index()
    tb = fresh_psa.tornado.set_index("parameter").sort_index()
    assert np.allclose(ta[["low_value", "high_value", "outcome_low", "outcome_high"]], tb[ta.columns[:4]])
    if fresh_psa.value_based_price is None:
        assert got.psa.value_based_price is None
    elif price == 0:  # the fresh scenario at 0 has no price range; the what-if keeps the run's relative one
        units = psa.price_range.units
        assert fresh_psa.price_range is None and got.psa.price_range is psa.price_range
        assert got.psa.value_based_price == pytest.approx(fresh_psa.value_based_price / units, rel=1e-9)
    else:
        assert got.psa.value_based_price == pytest.approx(fresh_psa.value_based_price, rel=1e-9)


def _assert_same_table(got, want, keys):
    a = got.set_index(keys).sort_index()
    b = want.set_index(keys).sort_index()
    assert list(a.index) == list(b.index)
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        if np.issubdtype(b[col].dtype, np.number):
            assert np.allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=1e-9, atol=1e-9, equal_nan=True), (
                col
            )
        else:
            assert a[col].tolist() == b[col].tolist(), col


def test_what_if_at_the_scenarios_own_values_is_the_fresh_run_table_by_table(base):
    """At the run's own WTP and price, every table of the what-if's PSA is the fresh PSA's (the fresh run is
    the base PSA itself): EVPPI with the physics and structural rows, the decision drivers, the structural
    alternatives, the tornado, the value-based price, and the CEAC/CEAF/EVPI at the WTPs both grids hold
    (the what-if's grid is widened to cover the ICER)."""
    result, psa = base
    assert psa.physics is not None and any(p.startswith("physics.") for p in psa.evppi["parameter"])
    got = whatif.apply(
        result, psa, willingness_to_pay=psa.willingness_to_pay, price=result.scenario.economics.costs.mht_course
    )
    assert got.scenario == result.scenario
    g = got.psa
    assert g.focal == psa.focal and g.willingness_to_pay == psa.willingness_to_pay
    assert np.array_equal(g.cost, psa.cost) and np.array_equal(g.qalys, psa.qalys)
    assert g.evppi["parameter"].tolist() == psa.evppi["parameter"].tolist()  # same rows in the same order
    _assert_same_table(g.evppi, psa.evppi, ["parameter"])
    _assert_same_table(g.drivers, psa.drivers, ["parameter"])
    _assert_same_table(g.structural, psa.structural, ["preset"])
    _assert_same_table(g.tornado, psa.tornado, ["parameter"])
    _assert_same_table(g.parameters.reset_index(), psa.parameters.reset_index(), ["index"])
    assert g.value_based_price == psa.value_based_price
    assert g.drivers_text() == psa.drivers_text()
    common = np.intersect1d(g.wtp_grid, psa.wtp_grid)
    assert common.size >= 10
    for name in ("ceac", "ceaf", "evpi"):
        a, b = getattr(g, name), getattr(psa, name)
        _assert_same_table(
            a[a["wtp"].isin(common)], b[b["wtp"].isin(common)], [c for c in ("wtp", "strategy") if c in b]
        )


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
    far = whatif.wtp_grid(30_000.0, [2_500_000.0])  # a far ICER keeps the fresh PSA's 1,500 steps near the WTP
    assert np.isin(np.linspace(0.0, 120_000.0, 81), far).all() and far[-1] >= 3_750_000.0


# ------------------------------------------------------------------ value-based price (issue 17's convention)


def _brute_force_inmb(psa, scenario, list_price: float, scale_draws: bool) -> float:
    """Expected incremental NMB (focal vs reference) of ``psa``'s draws at ``list_price``, recosted from the
    draws themselves: the sampled course prices scaled by list price / scenario price (``scale_draws``) or
    shifted by list price - scenario price (the additive convention, for contrast)."""
    run_price = float(scenario.economics.costs.mht_course)
    drawn = (
        psa.parameters["costs.mht_course"].to_numpy(float)
        if "costs.mht_course" in psa.parameters
        else np.full(psa.n_draws, run_price)
    )
    charged = drawn * (list_price / run_price) if scale_draws else drawn + (list_price - run_price)
    specs = {a.name: a for a in scenario.arms}
    mht = np.array([1.0 if specs[s].has_mht else 0.0 for s in psa.strategies])
    cost = psa.cost + mht[None, :] * (charged - drawn)[:, None]
    j, r = psa.strategies.index(psa.focal), psa.strategies.index(psa.reference)
    w = psa.willingness_to_pay
    return float((w * (psa.qalys[:, j] - psa.qalys[:, r]) - (cost[:, j] - cost[:, r])).mean())


@pytest.mark.parametrize("wtp", [30_000.0, 150_000.0, 400_000.0])
def test_value_based_price_is_the_root_of_the_expected_inmb_over_the_price_draws(base, wtp):
    """One convention: the value-based price is the list price at which the expected incremental NMB over the
    PSA draws is 0 with the price's uncertainty kept (the sampled prices scale with the list price, as
    ``with_price``, every what-if and ``trial_value.decision_at`` move them). Oracle: scipy's root finder on
    the draws recosted by hand; the additive convention gives another root whenever mean(draws) != price."""
    from scipy.optimize import brentq

    from mhtcdt.decision.model.psa import value_based_price_of
    from mhtcdt.decision.trial.trial_value import TrialValueRequest, decision_at

    result, psa = base
    at = whatif.apply(result, psa, willingness_to_pay=wtp)
    sc = at.scenario
    vbp = value_based_price_of(at.psa, sc)
    assert vbp is not None and at.psa.value_based_price == vbp
    root = brentq(lambda p: _brute_force_inmb(at.psa, sc, p, True), -1e7, 1e8, xtol=1e-9, rtol=1e-14)
    assert vbp == pytest.approx(root, rel=1e-9, abs=1e-6)
    additive = brentq(lambda p: _brute_force_inmb(at.psa, sc, p, False), -1e7, 1e8, xtol=1e-9, rtol=1e-14)
    units = at.psa.parameters["costs.mht_course"].mean() / sc.economics.costs.mht_course
    assert additive - sc.economics.costs.mht_course == pytest.approx((vbp - sc.economics.costs.mht_course) * units)
    # the value of a trial prices the decision the same way: at the value-based price its expected INMB is 0
    if vbp > 0:
        arrays = decision_at(result, at.psa, TrialValueRequest(willingness_to_pay=wtp, price=vbp), ["outcome"])
        j, r = at.psa.strategies.index(at.psa.focal), at.psa.strategies.index(at.psa.reference)
        inb = arrays.net_benefit()[:, j] - arrays.net_benefit()[:, r]
        assert abs(inb.mean()) < 1e-6 * wtp
        # and a what-if at that price agrees
        there = whatif.apply(result, psa, willingness_to_pay=wtp, price=vbp).psa
        inb2 = wtp * (there.qalys[:, j] - there.qalys[:, r]) - (there.cost[:, j] - there.cost[:, r])
        assert np.allclose(inb2, inb, rtol=1e-12, atol=1e-6)


def test_value_based_price_at_a_price_of_zero_is_the_root_over_the_runs_relative_draws(base):
    """After a what-if at price 0 the scenario has no price range, but the PSA keeps the run's relative one: a
    price p costs p x (draw / list price) in each draw, and the value-based price is the root on the draws."""
    from scipy.optimize import brentq

    from mhtcdt.decision.model.psa import value_based_price_of

    result, psa = base
    free = whatif.apply(result, psa, price=0.0, willingness_to_pay=200_000.0)
    assert "costs.mht_course" not in free.psa.parameters
    vbp = value_based_price_of(free.psa, free.scenario)
    sc = free.scenario

    def inmb(p):
        j, r = free.psa.strategies.index(free.psa.focal), free.psa.strategies.index(free.psa.reference)
        c = free.psa.cost[:, j] - free.psa.cost[:, r] + p * psa.price_range.relative_draws
        return float((200_000.0 * (free.psa.qalys[:, j] - free.psa.qalys[:, r]) - c).mean())

    assert sc.economics.costs.mht_course == 0.0
    assert vbp == pytest.approx(brentq(inmb, -1e7, 1e8, xtol=1e-9, rtol=1e-14), rel=1e-9, abs=1e-6)


def test_value_based_price_is_the_same_at_every_price_zero_included(base):
    """One scale of the price draws (the run's mean price draw / its list price) at every price: the value-based
    price at prices 0, 1, 5,000 and the list price is one number (it was 1 % off at 0), and it is the closed form
    (WTP dE - dC without the course) / units over the run's own draws."""
    result, psa = base
    sc = result.scenario
    list_price = float(sc.economics.costs.mht_course)
    got = [whatif.apply(result, psa, price=p).psa.value_based_price for p in (0.0, 1.0, 5_000.0, list_price)]
    assert max(got) - min(got) < 1e-6 * abs(got[-1])
    j, r = psa.strategies.index(psa.focal), psa.strategies.index(psa.reference)
    draws = psa.parameters[whatif.MHT_PRICE].to_numpy(float)
    units = draws.mean() / list_price
    d_cost_without = (psa.cost[:, j] - psa.cost[:, r]).mean() - draws.mean()
    d_qalys = (psa.qalys[:, j] - psa.qalys[:, r]).mean()
    assert got[0] == pytest.approx((sc.economics.willingness_to_pay * d_qalys - d_cost_without) / units, rel=1e-9)


def test_what_if_chain_through_a_price_of_zero_equals_the_direct_what_if(base):
    """0 -> 5,000 restores the run's relative price range: the same scenario, draws, costs, value-based price and
    EVPPI as a direct what-if at 5,000, and the note says the range follows the price (not 'no range')."""
    result, psa = base
    zero = whatif.apply(result, psa, price=0.0)
    assert "comes back at any positive price" in " ".join(zero.notes)
    chain = whatif.apply(zero.result, zero.psa, price=5_000.0)
    direct = whatif.apply(result, psa, price=5_000.0)
    assert chain.scenario.economics.uncertainty == direct.scenario.economics.uncertainty
    assert "gives it no range" not in " ".join(chain.notes) and "follows the price" in " ".join(chain.notes)
    np.testing.assert_allclose(chain.psa.cost, direct.psa.cost, rtol=1e-12, atol=1e-6)
    assert list(chain.psa.parameters.columns) == list(direct.psa.parameters.columns)
    np.testing.assert_allclose(
        chain.psa.parameters[whatif.MHT_PRICE], direct.psa.parameters[whatif.MHT_PRICE], rtol=1e-12
    )
    assert chain.psa.value_based_price == pytest.approx(direct.psa.value_based_price, rel=1e-12)
    ev = chain.psa.evppi.set_index("parameter")["evppi"]
    assert ev.to_numpy() == pytest.approx(direct.psa.evppi.set_index("parameter")["evppi"].loc[ev.index].to_numpy())
