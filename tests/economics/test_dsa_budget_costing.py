"""DSA/threshold, budget impact, MHT micro-costing: checked against hand computations."""

import numpy as np
import pytest

from mhtcdt.economics import StateValues, SurvivalCurves, run_partitioned_survival
from mhtcdt.economics.budget import annual_costs_from_curves, budget_impact
from mhtcdt.economics.costing import (
    breakeven_annual_volume,
    course_components,
    default_mht_inputs,
    equivalent_annual_cost,
    mht_course_cost,
    mht_course_total,
    micro_costing_ranges,
    threshold_particle_price,
)
from mhtcdt.economics.dsa import one_way_dsa, threshold_value, value_based_price
from mhtcdt.errors import InputError, ModelError


def _inmb_model(p):
    """INMB = wtp * dQ - dC with dC = price + care, dQ = gain * utility."""
    return 30000.0 * p["gain"] * p["utility"] - (p["price"] + p["care"])


BASE = {"gain": 0.5, "utility": 0.7, "price": 8000.0, "care": 1000.0}


def test_one_way_dsa_matches_hand_values_and_loop():
    ranges = {"gain": (0.3, 0.7), "utility": (0.6, 0.8), "price": (4000.0, 12000.0)}
    tor = one_way_dsa(_inmb_model, BASE, ranges)
    loop = one_way_dsa(_inmb_model, BASE, ranges, vectorised=False)
    np.testing.assert_allclose(tor[["outcome_low", "outcome_high"]], loop[["outcome_low", "outcome_high"]])
    row = tor.set_index("parameter")
    assert row.loc["gain", "outcome_low"] == pytest.approx(30000 * 0.3 * 0.7 - 9000)
    assert row.loc["price", "swing"] == pytest.approx(8000.0)
    assert row.loc["gain", "swing"] == pytest.approx(30000 * 0.4 * 0.7)
    assert tor["parameter"].tolist() == ["gain", "price", "utility"]  # sorted by swing
    assert (tor["outcome_base"] == 30000 * 0.35 - 9000).all()
    with pytest.raises(InputError):
        one_way_dsa(_inmb_model, BASE, {"nope": (0, 1)})


def test_threshold_and_value_based_price_agree():
    price = threshold_value(_inmb_model, BASE, "price", (0.0, 50000.0))
    assert price == pytest.approx(30000 * 0.35 - 1000.0, abs=1e-6)
    analytic = value_based_price(
        inc_cost=9000.0, inc_qalys=0.35, wtp=30000.0, current_price=8000.0, units_per_patient=1.0
    )
    assert analytic == pytest.approx(price)
    with pytest.raises(ModelError, match="no threshold"):
        threshold_value(_inmb_model, BASE, "price", (0.0, 100.0))


def test_budget_impact_hand_computed():
    eligible = [100, 110, 120, 130, 140]
    uptake = [0.1, 0.2, 0.3, 0.4, 0.5]
    new = [20000, 5000, 1000]
    cur = [8000, 4000]
    df = budget_impact(eligible, uptake, new, cur)
    for y in range(5):  # slow twin: explicit cohort sums
        with_new = sum(
            eligible[k]
            * (uptake[k] * (new[y - k] if y - k < 3 else 0) + (1 - uptake[k]) * (cur[y - k] if y - k < 2 else 0))
            for k in range(y + 1)
        )
        without = sum(eligible[k] * (cur[y - k] if y - k < 2 else 0) for k in range(y + 1))
        assert df["budget_new"].iloc[y] == pytest.approx(with_new)
        assert df["budget_impact"].iloc[y] == pytest.approx(with_new - without)
    assert df["cumulative_budget_impact"].iloc[-1] == pytest.approx(df["budget_impact"].sum())
    with pytest.raises(InputError):
        budget_impact(eligible, [0.1, 0.2, 0.3, 0.4, 1.5], new, cur)


def test_annual_costs_from_curves_sum_to_undiscounted_psm_cost():
    t = np.arange(0.0, 121.0)
    pfs = np.exp(-0.08 * t)
    os_ = np.exp(-0.03 * t)
    yearly = annual_costs_from_curves(
        t, pfs, os_, state_cost_per_month=[1000, 2500], one_off_cost=5000, end_of_life_cost=8000, years=10
    )
    df = run_partitioned_survival(
        SurvivalCurves(["x"], t, (pfs[None], os_[None])),
        StateValues(costs=[1000, 2500], costs_per="months", utilities=[1, 1], one_off_cost=5000, end_of_life_cost=8000),
    ).draw(0)
    assert yearly.sum() == pytest.approx(df["cost_undiscounted"].iloc[0], rel=1e-10)
    assert yearly[0] > yearly[1] > yearly[-1] > 0


def test_equivalent_annual_cost():
    # annuity factor at 3.5% over 10 years = 8.316605; EAC = capital / factor
    assert equivalent_annual_cost(1_000_000, 10, 0.035) == pytest.approx(1_000_000 / 8.316605323, rel=1e-9)
    assert equivalent_annual_cost(1_000_000, 10, 0.0, 0.05) == pytest.approx(150_000)


def test_mht_micro_costing_components_and_breakeven():
    inp = default_mht_inputs(tumour_volume_cm3=30.0, dose_mg_Fe_per_cm3=30.0, n_sessions=6, session_minutes=60.0)
    table = mht_course_cost(inp)
    comps = dict(zip(table["component"], table["cost_EUR"], strict=True))
    assert comps["particles"] == pytest.approx(30 * 30 * inp.particle_price_EUR_per_mg_Fe)
    assert comps["staff"] == pytest.approx(6 * (60 + inp.session_setup_minutes) / 60 * inp.staff_cost_EUR_per_hour)
    eac = equivalent_annual_cost(
        inp.applicator_capital_EUR,
        inp.applicator_lifetime_years,
        inp.capital_discount_rate,
        inp.applicator_maintenance_fraction_per_year,
    )
    assert comps["applicator"] == pytest.approx(eac / inp.annual_patients)
    assert table.attrs["total_EUR"] == pytest.approx(mht_course_total(inp))
    societal = mht_course_cost(inp, "societal")
    assert societal.attrs["total_EUR"] > table.attrs["total_EUR"]
    assert set(societal["component"]) >= {"patient_time", "productivity"}
    # break-even volume reproduces the target exactly
    target = 20000.0
    v = breakeven_annual_volume(inp, target)
    assert mht_course_total(
        default_mht_inputs(
            tumour_volume_cm3=30.0,
            dose_mg_Fe_per_cm3=30.0,
            n_sessions=6,
            session_minutes=60.0,
            annual_patients=float(v),
        )
    ) == pytest.approx(target)
    price = threshold_particle_price(inp, target)
    assert mht_course_total(
        default_mht_inputs(
            tumour_volume_cm3=30.0,
            dose_mg_Fe_per_cm3=30.0,
            n_sessions=6,
            session_minutes=60.0,
            particle_price_EUR_per_mg_Fe=float(price),
        )
    ) == pytest.approx(target)
    with pytest.raises(InputError, match="no volume"):
        breakeven_annual_volume(inp, 100.0)
    # vectorised over PSA draws
    arr = default_mht_inputs(
        tumour_volume_cm3=np.array([10.0, 30.0]), dose_mg_Fe_per_cm3=30.0, n_sessions=6, session_minutes=60.0
    )
    assert course_components(arr)["particles"].shape == (2,)
    assert all(lo <= hi for lo, hi in micro_costing_ranges().values())


def test_costing_bad_input():
    with pytest.raises(InputError) as err:
        default_mht_inputs(tumour_volume_cm3=-1.0, dose_mg_Fe_per_cm3=30.0, n_sessions=6, session_minutes=60.0)
    assert err.value.field == "tumour_volume_cm3"
    with pytest.raises(InputError):
        default_mht_inputs(
            tumour_volume_cm3=1.0,
            dose_mg_Fe_per_cm3=30.0,
            n_sessions=6,
            session_minutes=60.0,
            particle_price=3,
        )
    with pytest.raises(InputError):
        mht_course_cost(
            default_mht_inputs(tumour_volume_cm3=1.0, dose_mg_Fe_per_cm3=3.0, n_sessions=6, session_minutes=60.0),
            perspective="hospital",
        )


def test_dsa_of_a_psm_runs_all_scenarios_as_draws():
    t = np.arange(0.0, 121.0)
    pfs = np.exp(-np.outer([0.08, 0.06], t))
    os_ = np.exp(-np.outer([0.03, 0.025], t))

    def inmb(p):
        n = len(p["u_pf"])
        util = np.stack([p["u_pf"], p["u_pd"]], axis=1)[:, None, :]
        res = run_partitioned_survival(
            SurvivalCurves(
                ["soc", "new"], t, (np.broadcast_to(pfs, (n, 2, t.size)), np.broadcast_to(os_, (n, 2, t.size)))
            ),
            StateValues(
                costs=[1000, 2000],
                costs_per="months",
                utilities=util,
                one_off_cost=np.stack([np.zeros(n), p["price"]], axis=1),
            ),
        )
        return 30000 * (res.qalys[:, 1] - res.qalys[:, 0]) - (res.cost[:, 1] - res.cost[:, 0])

    base = {"u_pf": 0.8, "u_pd": 0.6, "price": 20000.0}
    ranges = {"u_pf": (0.73, 0.89), "u_pd": (0.59, 0.73), "price": (10000.0, 30000.0)}
    fast = one_way_dsa(inmb, base, ranges)
    slow = one_way_dsa(inmb, base, ranges, vectorised=False)
    np.testing.assert_allclose(fast[["outcome_low", "outcome_high"]], slow[["outcome_low", "outcome_high"]], rtol=1e-12)
    assert fast.set_index("parameter").loc["price", "swing"] == pytest.approx(20000.0)
    price = threshold_value(inmb, base, "price", (0.0, 200000.0))
    assert inmb({k: np.array([v]) for k, v in {**base, "price": price}.items()})[0] == pytest.approx(0, abs=1e-6)


def test_two_way_dsa_grid():
    from mhtcdt.economics import two_way_dsa

    out = two_way_dsa(_inmb_model, BASE, ("gain", [0.3, 0.5, 0.7]), ("price", [5000.0, 10000.0]))
    assert len(out) == 6 and list(out.columns) == ["gain", "price", "outcome"]
    row = out[(out["gain"] == 0.7) & (out["price"] == 10000.0)]
    assert row["outcome"].iloc[0] == pytest.approx(30000 * 0.7 * 0.7 - 11000)
    loop = two_way_dsa(_inmb_model, BASE, ("gain", [0.3, 0.5, 0.7]), ("price", [5000.0, 10000.0]), vectorised=False)
    np.testing.assert_allclose(loop["outcome"], out["outcome"])
    with pytest.raises(InputError):
        two_way_dsa(_inmb_model, BASE, ("gain", [0.3]), ("gain", [0.5]))


def test_draw_results_uncertainty_table():
    from mhtcdt.economics import DrawResults

    rng = np.random.default_rng(np.random.SeedSequence(3))
    arrays = {
        k: rng.normal(10, 2, (4000, 2))
        for k in ("cost", "life_years", "qalys", "cost_undiscounted", "life_years_undiscounted", "qalys_undiscounted")
    }
    table = DrawResults(strategies=["a", "b"], **arrays).uncertainty()
    row = table[(table["strategy"] == "b") & (table["quantity"] == "qalys")].iloc[0]
    assert row["mean"] == pytest.approx(arrays["qalys"][:, 1].mean())
    assert row["lower"] == pytest.approx(np.quantile(arrays["qalys"][:, 1], 0.025))
    assert row["lower"] < row["mean"] < row["upper"]
    assert len(table) == 2 * 6
