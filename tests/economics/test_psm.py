"""Partitioned survival model: closed forms with exponential curves, crossings, vectorisation, bad input."""

import warnings

import numpy as np
import pytest

from mhtcdt.economics import (
    Conventions,
    CurveCrossingWarning,
    StateValues,
    SurvivalCurves,
    partitioned_occupancy,
    run_partitioned_survival,
)
from mhtcdt.errors import InputError

PFS_RATE = np.array([0.06, 0.04])  # per month
OS_RATE = np.array([0.025, 0.018])
T = np.arange(0.0, 361.0)  # 30 years monthly


def _curves():
    return np.exp(-np.outer(PFS_RATE, T)), np.exp(-np.outer(OS_RATE, T))


def _psm(pfs, os_, conventions=None, grid=T, **values):
    """One parameter set of the three-state model: the first (only) draw as a DataFrame."""
    values.setdefault("costs_per", "months")
    res = run_partitioned_survival(SurvivalCurves(["A", "B"], grid, (pfs, os_)), StateValues(**values), conventions)
    return res.draw(0)


def _closed_form(rate_per_month, r_year, horizon_months):
    """int_0^H exp(-(a + rho) t) dt in years, rho = r / 12 continuous per month."""
    k = rate_per_month + r_year / 12.0
    return (1.0 - np.exp(-k * horizon_months)) / k / 12.0


def test_exponential_psm_matches_closed_form_with_continuous_discounting():
    pfs, os_ = _curves()
    r = 0.035
    c_pf, c_pd, u_pf, u_pd, eol = 1500.0, 2500.0, 0.8, 0.6, 7000.0
    df = _psm(
        pfs,
        os_,
        Conventions(discount_costs=r, discount_effects=r, counting="simpson", discount_method="continuous"),
        costs=[c_pf, c_pd],
        utilities=[u_pf, u_pd],
        end_of_life_cost=eol,
    )
    pf_years = _closed_form(PFS_RATE, r, 360)
    alive_years = _closed_form(OS_RATE, r, 360)
    pd_years = alive_years - pf_years
    np.testing.assert_allclose(df["pf_years"], pf_years, rtol=1e-7)
    np.testing.assert_allclose(df["life_years"], alive_years, rtol=1e-7)
    np.testing.assert_allclose(df["qalys"], u_pf * pf_years + u_pd * pd_years, rtol=1e-7)
    # deaths: int_0^H b e^{-b t} e^{-rho t} dt; midpoint discounting of monthly death mass is O(h^2)
    deaths = OS_RATE * _closed_form(OS_RATE, r, 360) * 12.0
    expected_cost = 12 * (c_pf * pf_years + c_pd * pd_years) + eol * deaths
    np.testing.assert_allclose(df["cost"], expected_cost, rtol=1e-5)
    # undiscounted: r = 0
    np.testing.assert_allclose(df["life_years_undiscounted"], _closed_form(OS_RATE, 0.0, 360), rtol=1e-7)


@pytest.mark.parametrize(
    "counting, rtol", [("trapezoid", 2e-4), ("life_table", 2e-4), ("simpson", 1e-8), ("cycle_average", 2e-4)]
)
def test_counting_methods_converge_to_integral(counting, rtol):
    pfs, os_ = _curves()
    df = _psm(pfs, os_, Conventions(discount_costs=0, discount_effects=0, counting=counting), utilities=[1, 1])
    np.testing.assert_allclose(df["life_years"], _closed_form(OS_RATE, 0.0, 360), rtol=rtol)


def test_beginning_and_end_bracket_the_integral():
    pfs, os_ = _curves()
    begin = _psm(pfs, os_, Conventions(0, 0, counting="beginning"), utilities=[1, 1])["life_years"]
    end = _psm(pfs, os_, Conventions(0, 0, counting="end"), utilities=[1, 1])["life_years"]
    exact = _closed_form(OS_RATE, 0.0, 360)
    assert np.all(end < exact) and np.all(exact < begin)
    # the difference of both is exactly one month times (S(0) - S(H))
    np.testing.assert_allclose(begin - end, (1 - np.exp(-OS_RATE * 360)) / 12, rtol=1e-12)


def test_pfs_above_os_is_capped_with_warning():
    pfs, os_ = _curves()
    pfs_bad = pfs.copy()
    pfs_bad[0, 10:] = np.maximum(pfs_bad[0, 10:], os_[0, 10:] + 0.01).clip(max=1)
    pfs_bad = np.minimum.accumulate(pfs_bad, axis=1)
    kw = dict(costs=[100, 200], utilities=[0.8, 0.6])
    with pytest.warns(CurveCrossingWarning, match="PFS capped at OS"):
        df = _psm(pfs_bad, os_, **kw)
    capped = _psm(np.minimum(pfs_bad, os_), os_, **kw)
    np.testing.assert_allclose(df["qalys"], capped["qalys"])
    assert (df["progressed_years_undiscounted"] >= 0).all()


def test_draws_equal_single_runs():
    pfs, os_ = _curves()
    rng = np.random.default_rng(np.random.SeedSequence(7))
    scale = rng.lognormal(0, 0.2, size=(5, 2, 1))
    util = rng.uniform(0.5, 0.9, size=(5, 1, 2))
    res = run_partitioned_survival(
        SurvivalCurves(["A", "B"], T, (pfs[None] ** scale, os_[None] ** scale)),
        StateValues(costs=[1000, 2000], costs_per="months", utilities=util, one_off_cost=[0.0, 15000.0]),
    )
    assert res.cost.shape == (5, 2)
    for d in range(5):
        single = _psm(
            pfs ** scale[d], os_ ** scale[d], costs=[1000, 2000], utilities=util[d, 0], one_off_cost=[0, 15000]
        )
        np.testing.assert_allclose(res.qalys[d], single["qalys"], rtol=1e-12)
        np.testing.assert_allclose(res.cost[d], single["cost"], rtol=1e-12)
    summary = res.summary()
    np.testing.assert_allclose(summary["cost"], res.cost.mean(axis=0))


def test_cost_categories_sum_to_total():
    pfs, os_ = _curves()
    df = _psm(
        pfs,
        os_,
        costs={"drug": [[500, 0], [900, 0]], "care": [300, 800]},
        utilities=[0.8, 0.6],
        one_off_cost=1000.0,
        end_of_life_cost=4000.0,
    )
    parts = df[["cost_drug", "cost_care", "cost_one_off", "cost_end_of_life"]].sum(axis=1)
    np.testing.assert_allclose(parts, df["cost"], rtol=1e-12)


def test_n_state_partition_matches_three_state():
    pfs, os_ = _curves()
    occ = partitioned_occupancy(np.stack([pfs, os_], axis=1))
    np.testing.assert_allclose(occ[:, 0], pfs)
    np.testing.assert_allclose(occ[:, 1], os_ - pfs)
    np.testing.assert_allclose(occ.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(utilities=[1.2, 0.6]), "utilities"),
        (dict(utilities=[0.8, -0.1]), "utilities"),
        (dict(costs=[-5, 10]), "costs"),
        (dict(costs=[5, 10], costs_per=None), "costs_per"),
        (dict(costs=[5, 10], costs_per="fortnights"), "costs_per"),
        (dict(one_off_cost=[0, -1]), "one_off_cost"),
    ],
)
def test_bad_values_name_the_field(change, field):
    kw = dict(costs=[100, 200], costs_per="months", utilities=[0.8, 0.6])
    kw.update(change)
    with pytest.raises(InputError) as err:
        StateValues(**kw)
    assert err.value.field.startswith(field)


@pytest.mark.parametrize(
    "change, field",
    [
        (dict(discount_costs=1.5), "discount_costs"),
        (dict(counting="simpsons"), "counting"),
        (dict(discount_method="annual"), "discount_method"),
        (dict(counting="cycle_average", cycle_zero="count"), "cycle_zero"),
        (dict(cycle_length=0), "cycle_length"),
        (dict(cycle_unit="fortnights"), "unit"),
    ],
)
def test_bad_conventions_name_the_field(change, field):
    with pytest.raises(InputError) as err:
        Conventions(**change)
    assert err.value.field.startswith(field)


def test_values_that_do_not_fit_the_model_are_refused():
    pfs, os_ = _curves()
    with pytest.raises(InputError, match="one value per alive state") as err:
        _psm(pfs, os_, costs=[100, 200, 300], utilities=[0.8, 0.6])
    assert err.value.field == "values.costs"
    with pytest.raises(InputError) as err:
        _psm(pfs, os_, utilities=[0.8, 0.6], one_off_cost=[1.0, 2.0, 3.0])
    assert err.value.field == "values.one_off_cost"
    with pytest.raises(InputError, match="no transitions"):
        _psm(pfs, os_, utilities=[0.8, 0.6], transition_costs=np.zeros((3, 3)))


def test_negative_utility_allowed_with_flag():
    pfs, os_ = _curves()
    df = _psm(pfs, os_, utilities=[0.5, -0.1], allow_negative_utilities=True)
    assert np.all(df["qalys"] < df["life_years"])


def test_curve_errors():
    pfs, os_ = _curves()
    bad = os_.copy()
    bad[1, 5] = bad[1, 4] + 0.005
    with pytest.raises(InputError, match="increases") as err:
        _psm(pfs, bad, utilities=[1, 1])
    assert err.value.field == "curves.OS[1, 5]"
    with pytest.raises(InputError) as err:
        _psm(pfs[:, :1], os_[:, :1], grid=T[:1], utilities=[1, 1])
    assert err.value.field == "time_months"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match="even number"):
            _psm(pfs[:, :-1], os_[:, :-1], Conventions(counting="simpson"), grid=T[:-1], utilities=[1, 1])
    with pytest.raises(InputError) as err:  # a draw axis: the message names the draw
        run_partitioned_survival(SurvivalCurves(["A", "B"], T, (pfs[None], bad[None])), StateValues(utilities=[1, 1]))
    assert err.value.field == "curves.OS[0, 1, 5]"
    with pytest.raises(InputError) as err:
        SurvivalCurves(["A", "B"], T, (pfs, os_[:, :-1]))
    assert err.value.field == "curves[1]"


def test_n_state_model_equals_three_state_and_extends():
    pfs, os_ = _curves()
    kw = dict(costs_per="months", one_off_cost=[0.0, 9000.0], end_of_life_cost=3000.0)
    three = _psm(
        pfs, os_, costs=[1000, 2000], utilities=[0.8, 0.6], **{k: v for k, v in kw.items() if k != "costs_per"}
    )
    n2 = run_partitioned_survival(
        SurvivalCurves(["A", "B"], T, (pfs, os_), states=("first", "second"), curve_names=("S1", "S2")),
        StateValues(costs=[1000, 2000], utilities=[0.8, 0.6], **kw),
    ).draw(0)
    for col in ("cost", "qalys", "life_years", "cost_undiscounted", "qalys_undiscounted"):
        np.testing.assert_allclose(n2[col], three[col], rtol=1e-12)
    np.testing.assert_allclose(n2["second_years"], three["progressed_years"], rtol=1e-12)
    # 3 alive states: response duration nested inside PFS
    resp = np.exp(-0.1 * T)[None].repeat(2, axis=0)
    n3 = run_partitioned_survival(
        SurvivalCurves(["A", "B"], T, (resp, pfs, os_), states=("resp", "pf", "pd")),
        StateValues(costs=[500, 1000, 2000], costs_per="months", utilities=[0.85, 0.8, 0.6]),
    ).draw(0)
    parts = n3[["resp_years_undiscounted", "pf_years_undiscounted", "pd_years_undiscounted"]].sum(axis=1)
    np.testing.assert_allclose(parts, n3["life_years_undiscounted"], rtol=1e-12)
    np.testing.assert_allclose(n3["life_years"], three["life_years"], rtol=1e-12)
    # the same as occupancies by partitioned_occupancy, integrated by hand (trapezoid, 3.5 % discrete)
    occ = partitioned_occupancy(np.stack([resp, pfs, os_], axis=1))[:, :3]  # (S, 3, T)
    w = np.full(T.size, 1 / 12)
    w[0] = w[-1] = 1 / 24
    years = occ @ (w * 1.035 ** -(T / 12))
    np.testing.assert_allclose(n3["qalys"], years @ np.array([0.85, 0.8, 0.6]), rtol=1e-12)
    np.testing.assert_allclose(n3["cost"], years @ (12 * np.array([500, 1000, 2000])), rtol=1e-12)


def test_one_parameter_set_is_the_first_draw():
    """A single set (curves (S, T)) is the case D = 1 of the one engine: its frame equals draw 0 of the
    same curves given with a draw axis, and its DrawResults has one draw."""
    pfs, os_ = _curves()
    values = StateValues(costs=[1000, 2000], costs_per="months", utilities=[0.8, 0.6], end_of_life_cost=500.0)
    single = run_partitioned_survival(SurvivalCurves(["A", "B"], T, (pfs, os_)), values)
    many = run_partitioned_survival(
        SurvivalCurves(["A", "B"], T, (np.stack([pfs, pfs**1.1]), np.stack([os_, os_]))), values
    )
    assert single.n_draws == 1 and many.n_draws == 2
    np.testing.assert_array_equal(single.draw(0).drop(columns="strategy"), many.draw(0).drop(columns="strategy"))


@pytest.mark.parametrize(
    "unit, factor", [("months", 1.0), ("years", 12.0), ("weeks", 12.0 * 7 / 365.25), ("cycle", 3.0)]
)
def test_cost_units_are_converted_by_one_rule(unit, factor):
    """The same cost rate in another unit gives the same result: 100 per month = 1200 per year = 100 x 12 x 7 /
    365.25 per week = 300 per 3-month cycle."""
    pfs, os_ = _curves()
    monthly = _psm(pfs, os_, costs=[100.0, 250.0], utilities=[0.8, 0.6])
    other = _psm(
        pfs,
        os_,
        Conventions(cycle_length=3, cycle_unit="months"),
        costs=[100.0 * factor, 250.0 * factor],
        costs_per=unit,
        utilities=[0.8, 0.6],
    )
    np.testing.assert_allclose(other["cost"], monthly["cost"], rtol=1e-12)


def test_curve_checks_of_the_one_pass_path():
    """The comparison pass accepts only curves falling step by step with their first and last columns in
    [0, 1]; anything else goes to the full check, which decides: a rise within MONOTONE_TOLERANCE is
    accepted (same result), a NaN or a value outside [0, 1] anywhere is named."""
    pfs, os_ = _curves()
    base = _psm(pfs, os_, utilities=[1, 1])
    tiny = os_.copy()
    tiny[0, 100] = tiny[0, 99] + 1e-12  # a rise far below the tolerance (rounding of a fitted curve)
    change = tiny[0, 100] - os_[0, 100]  # one monthly point: at most change / 12 life-years
    got = _psm(pfs, tiny, utilities=[1, 1])["life_years"].to_numpy()
    assert 0 < got[0] - base["life_years"].iloc[0] <= change / 12 and got[1] == base["life_years"].iloc[1]
    for value, where, match in ((np.nan, (1, 50), "finite|\\[0, 1\\]"), (-0.01, (1, 360), "\\[0, 1\\]")):
        bad = os_.copy()
        bad[where] = value
        with pytest.raises(InputError, match=match) as err:
            _psm(np.minimum(pfs, bad), bad, utilities=[1, 1])
        assert err.value.field in (f"curves.OS{list(where)}", f"curves.PFS{list(where)}")
    above = pfs.copy()
    above[0, 0] = 1.0 + 1e-6
    with pytest.raises(InputError, match="\\[0, 1\\]") as err:
        _psm(above, np.maximum(os_, above), utilities=[1, 1])
    assert err.value.field in ("curves.PFS[0, 0]", "curves.OS[0, 0]")
