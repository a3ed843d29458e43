"""Partitioned survival model: closed forms with exponential curves, crossings, vectorisation, bad input."""

import warnings

import numpy as np
import pytest

from mhtcdt.economics import (
    CurveCrossingWarning,
    partitioned_occupancy,
    run_partitioned_survival,
    run_partitioned_survival_draws,
)
from mhtcdt.errors import InputError

PFS_RATE = np.array([0.06, 0.04])  # per month
OS_RATE = np.array([0.025, 0.018])
T = np.arange(0.0, 361.0)  # 30 years monthly


def _curves():
    return np.exp(-np.outer(PFS_RATE, T)), np.exp(-np.outer(OS_RATE, T))


def _closed_form(rate_per_month, r_year, horizon_months):
    """int_0^H exp(-(a + rho) t) dt in years, rho = r / 12 continuous per month."""
    k = rate_per_month + r_year / 12.0
    return (1.0 - np.exp(-k * horizon_months)) / k / 12.0


def test_exponential_psm_matches_closed_form_with_continuous_discounting():
    pfs, os_ = _curves()
    r = 0.035
    c_pf, c_pd, u_pf, u_pd, eol = 1500.0, 2500.0, 0.8, 0.6, 7000.0
    df = run_partitioned_survival(
        ["A", "B"],
        T,
        pfs,
        os_,
        state_cost_per_month=[c_pf, c_pd],
        utilities_per_year=[u_pf, u_pd],
        end_of_life_cost=eol,
        discount_costs=r,
        discount_effects=r,
        counting="simpson",
        discount_method="continuous",
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


@pytest.mark.parametrize("counting, rtol", [("trapezoid", 2e-4), ("life_table", 2e-4), ("simpson", 1e-8)])
def test_counting_methods_converge_to_integral(counting, rtol):
    pfs, os_ = _curves()
    df = run_partitioned_survival(
        ["A", "B"],
        T,
        pfs,
        os_,
        state_cost_per_month=[0, 0],
        utilities_per_year=[1, 1],
        discount_costs=0,
        discount_effects=0,
        counting=counting,
    )
    np.testing.assert_allclose(df["life_years"], _closed_form(OS_RATE, 0.0, 360), rtol=rtol)


def test_beginning_and_end_bracket_the_integral():
    pfs, os_ = _curves()
    kw = dict(state_cost_per_month=[0, 0], utilities_per_year=[1, 1], discount_costs=0, discount_effects=0)
    begin = run_partitioned_survival(["A", "B"], T, pfs, os_, counting="beginning", **kw)["life_years"]
    end = run_partitioned_survival(["A", "B"], T, pfs, os_, counting="end", **kw)["life_years"]
    exact = _closed_form(OS_RATE, 0.0, 360)
    assert np.all(end < exact) and np.all(exact < begin)
    # the difference of both is exactly one month times (S(0) - S(H))
    np.testing.assert_allclose(begin - end, (1 - np.exp(-OS_RATE * 360)) / 12, rtol=1e-12)


def test_pfs_above_os_is_capped_with_warning():
    pfs, os_ = _curves()
    pfs_bad = pfs.copy()
    pfs_bad[0, 10:] = np.maximum(pfs_bad[0, 10:], os_[0, 10:] + 0.01).clip(max=1)
    pfs_bad = np.minimum.accumulate(pfs_bad, axis=1)
    kw = dict(state_cost_per_month=[100, 200], utilities_per_year=[0.8, 0.6])
    with pytest.warns(CurveCrossingWarning, match="capped"):
        df = run_partitioned_survival(["A", "B"], T, pfs_bad, os_, **kw)
    capped = run_partitioned_survival(["A", "B"], T, np.minimum(pfs_bad, os_), os_, **kw)
    np.testing.assert_allclose(df["qalys"], capped["qalys"])
    assert (df["progressed_years_undiscounted"] >= 0).all()


def test_draws_equal_single_runs():
    pfs, os_ = _curves()
    rng = np.random.default_rng(np.random.SeedSequence(7))
    scale = rng.lognormal(0, 0.2, size=(5, 2, 1))
    util = rng.uniform(0.5, 0.9, size=(5, 1, 2))
    res = run_partitioned_survival_draws(
        ["A", "B"],
        T,
        pfs[None] ** scale,
        os_[None] ** scale,
        state_cost_per_month=[1000, 2000],
        utilities_per_year=util,
        one_off_cost=[0.0, 15000.0],
    )
    assert res.cost.shape == (5, 2)
    for d in range(5):
        single = run_partitioned_survival(
            ["A", "B"],
            T,
            pfs ** scale[d],
            os_ ** scale[d],
            state_cost_per_month=[1000, 2000],
            utilities_per_year=util[d, 0],
            one_off_cost=[0.0, 15000.0],
        )
        np.testing.assert_allclose(res.qalys[d], single["qalys"], rtol=1e-12)
        np.testing.assert_allclose(res.cost[d], single["cost"], rtol=1e-12)
    summary = res.summary()
    np.testing.assert_allclose(summary["cost"], res.cost.mean(axis=0))


def test_cost_categories_sum_to_total():
    pfs, os_ = _curves()
    df = run_partitioned_survival(
        ["A", "B"],
        T,
        pfs,
        os_,
        state_cost_per_month={"drug": [[500, 0], [900, 0]], "care": [300, 800]},
        utilities_per_year=[0.8, 0.6],
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
        (dict(utilities_per_year=[1.2, 0.6]), "utilities_per_year"),
        (dict(utilities_per_year=[0.8, -0.1]), "utilities_per_year"),
        (dict(state_cost_per_month=[-5, 10]), "state_cost_per_month"),
        (dict(one_off_cost=[0, -1]), "one_off_cost"),
        (dict(discount_costs=1.5), "discount_costs"),
        (dict(counting="simpsons"), "counting"),
        (dict(discount_method="annual"), "discount_method"),
    ],
)
def test_bad_input_names_field(change, field):
    pfs, os_ = _curves()
    kw = dict(state_cost_per_month=[100, 200], utilities_per_year=[0.8, 0.6])
    kw.update(change)
    with pytest.raises(InputError) as err:
        run_partitioned_survival(["A", "B"], T, pfs, os_, **kw)
    assert err.value.field.startswith(field)


def test_negative_utility_allowed_with_flag():
    pfs, os_ = _curves()
    df = run_partitioned_survival(
        ["A", "B"],
        T,
        pfs,
        os_,
        state_cost_per_month=[0, 0],
        utilities_per_year=[0.5, -0.1],
        allow_negative_utilities=True,
    )
    assert np.all(df["qalys"] < df["life_years"])


def test_curve_errors():
    pfs, os_ = _curves()
    bad = os_.copy()
    bad[1, 5] = bad[1, 4] + 0.005
    with pytest.raises(InputError, match="increases"):
        run_partitioned_survival(["A", "B"], T, pfs, bad, state_cost_per_month=[0, 0], utilities_per_year=[1, 1])
    with pytest.raises(InputError) as err:
        run_partitioned_survival(
            ["A", "B"], T[:1], pfs[:, :1], os_[:, :1], state_cost_per_month=[0, 0], utilities_per_year=[1, 1]
        )
    assert err.value.field == "time_months"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match="even number"):
            run_partitioned_survival(
                ["A", "B"],
                T[:-1],
                pfs[:, :-1],
                os_[:, :-1],
                state_cost_per_month=[0, 0],
                utilities_per_year=[1, 1],
                counting="simpson",
            )


def test_n_state_runner_equals_three_state_and_extends():
    from mhtcdt.economics.psm import run_partitioned_survival_nstate

    pfs, os_ = _curves()
    kw = dict(one_off_cost=[0.0, 9000.0], end_of_life_cost=3000.0)
    three = run_partitioned_survival(
        ["A", "B"], T, pfs, os_, state_cost_per_month=[1000, 2000], utilities_per_year=[0.8, 0.6], **kw
    )
    n2 = run_partitioned_survival_nstate(
        ["A", "B"],
        T,
        np.stack([pfs, os_], axis=1),
        ["pf", "pd"],
        state_cost_per_month=[1000, 2000],
        utilities_per_year=[0.8, 0.6],
        **kw,
    )
    for col in ("cost", "qalys", "life_years", "cost_undiscounted", "qalys_undiscounted"):
        np.testing.assert_allclose(n2[col], three[col], rtol=1e-12)
    # 3 alive states: response duration nested inside PFS
    resp = np.exp(-0.1 * T)[None].repeat(2, axis=0)
    n3 = run_partitioned_survival_nstate(
        ["A", "B"],
        T,
        np.stack([resp, pfs, os_], axis=1),
        ["resp", "pf", "pd"],
        state_cost_per_month=[500, 1000, 2000],
        utilities_per_year=[0.85, 0.8, 0.6],
    )
    parts = n3[["resp_years_undiscounted", "pf_years_undiscounted", "pd_years_undiscounted"]].sum(axis=1)
    np.testing.assert_allclose(parts, n3["life_years_undiscounted"], rtol=1e-12)
    np.testing.assert_allclose(n3["life_years"], three["life_years"], rtol=1e-12)
