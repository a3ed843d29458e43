"""The value of a randomised trial (issue 17): study designs, simulated trial summaries, EVSI/ENBS of a scenario.

Oracles: the Kaplan-Meier landmark against lifelines; the ENBS identity (EVSI x discounted population - cost -
forgone); EVSI <= EVPPI of the informed inputs <= EVPI within Monte Carlo error; no information at n -> the data
carry nothing when the informed inputs do not vary; the regression EVSI against moment matching on the default
scenario (slow). Bad input: every problem named with its field and value.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from mhtcdt.decision.model.outcome import load_outcome_params
from mhtcdt.decision.model.psa import run_psa
from mhtcdt.decision.run.pipeline import run_pipeline
from mhtcdt.decision.scenario.loading import default_scenario
from mhtcdt.decision.trial import study_design as sd
from mhtcdt.decision.trial import trial_data as tdm
from mhtcdt.decision.trial.trial_value import TrialValueRequest, defaults, trial_value
from mhtcdt.economics import evsi
from mhtcdt.errors import InputError, InputErrors


def small(n_screened: int = 160):
    sc = default_scenario()
    return sc.model_copy(update={"cohort": sc.cohort.model_copy(update={"n_screened": n_screened})})


@pytest.fixture(scope="module")
def run():
    return run_pipeline(small(), seed=5)


@pytest.fixture(scope="module")
def psa(run):
    return run_psa(run, n_draws=300)


def _inb(arrays, psa):
    j, r = psa.strategies.index(psa.focal), psa.strategies.index(psa.reference)
    nb = arrays.net_benefit()
    return nb[:, j] - nb[:, r]


@pytest.fixture(scope="module")
def uncertain(run, psa):
    """(price, WTP) at which the decision is a coin toss (expected incremental NMB 0): the value-based price at
    the scenario's WTP when it is positive; otherwise (the MHT arm not cost-effective even free) a free course
    and the WTP at which its savings buy its QALY change (E[dC] / E[dQ] at price 0)."""
    from mhtcdt.decision.trial.trial_value import decision_at

    if psa.value_based_price is not None and psa.value_based_price > 0:
        return float(psa.value_based_price), float(psa.willingness_to_pay)
    free = decision_at(run, psa, TrialValueRequest(price=0.0), ["outcome"])
    j, r = psa.strategies.index(psa.focal), psa.strategies.index(psa.reference)
    d_cost = float((free.cost[:, j] - free.cost[:, r]).mean())
    d_qalys = float((free.qalys[:, j] - free.qalys[:, r]).mean())
    assert d_cost / d_qalys > 0, "no price >= 0 and WTP > 0 makes this decision uncertain"
    return 0.0, d_cost / d_qalys


@pytest.fixture(scope="module")
def tv(run, psa, uncertain):
    """Two sizes, all three estimators, the MF1001 design, where the decision is uncertain (``uncertain``)."""
    price, wtp = uncertain
    request = TrialValueRequest(
        sample_sizes=(60, 400),
        price=price,
        willingness_to_pay=wtp,
        synthetic_replicates=8,
        n_bootstrap=10,
    )
    return trial_value(run, psa, request)


# --------------------------------------------------------------------------------------------- designs


def test_parse_endpoint_and_design_labels():
    assert sd.parse_endpoint("os") == ("OS", "log_rank", None)
    assert sd.parse_endpoint("PFS@6") == ("PFS", "landmark", 6.0)
    d = sd.with_endpoint(sd.StudyDesign(), "OS@12")
    assert d.endpoint_label == "OS@12" and "12 mo" in d.describe()
    with pytest.raises(InputError, match="design.endpoint"):
        sd.parse_endpoint("OS@twelve")


@pytest.mark.parametrize(
    ("design", "field"),
    [
        (sd.StudyDesign(endpoint="QoL"), "design.endpoint"),
        (sd.StudyDesign(analysis="bayes"), "design.analysis"),
        (sd.StudyDesign(arms=("reference",)), "design.arms"),
        (sd.StudyDesign(allocation=(1.0, -1.0)), "design.allocation"),
        (sd.StudyDesign(analysis="landmark"), "design.landmark_months"),
        (sd.StudyDesign(min_follow_up_months=0.0), "design.min_follow_up_months"),
        (sd.StudyDesign(arms=("reference", "no such arm")), "design.arms"),
    ],
)
def test_bad_designs_name_the_field(design, field):
    with pytest.raises(InputError) as err:
        sd.resolve(design, default_scenario())
    assert err.value.field == field


def test_landmark_beyond_follow_up_is_refused():
    design = sd.with_endpoint(sd.StudyDesign(min_follow_up_months=6.0), "OS@12")
    with pytest.raises(InputError, match=r"design.landmark_months = 12"):
        sd.resolve(design, default_scenario())


def test_mf1001_design_resolves_to_three_arms_with_a_derived_mht_alone_arm():
    sc = default_scenario()
    r = sd.resolve(sd.mf1001_design(), sc)
    assert r.arms[0] == sc.trial.reference_arm and r.arms[2] == sd.MHT_ALONE_NAME
    assert r.derived == (sd.MHT_ALONE_NAME,)
    alone = r.scenario.arm(sd.MHT_ALONE_NAME)
    assert alone.rt_total_dose_Gy == 0.0 and alone.has_mht
    assert r.summary_names() == tuple(f"km_12m[{a}]" for a in r.arms)
    assert 260 <= sd.mf1001_sample_size() <= 290  # 269-280 planned (clinical_targets.toml)
    # months to report: accrual of n at the scenario's rate + 12 months follow-up + the lag
    months = r.months_to_report(270, 6.0)
    assert months == pytest.approx(r.trial_design.expected_accrual_months(270) + 12.0 + 6.0)


def test_arm_sizes_follow_the_allocation():
    assert tdm.arm_sizes(300, (1.0, 1.0)) == [300]
    assert tdm.arm_sizes(270, (1.0, 1.0, 1.0)) == [180, 90]
    assert sum(tdm.arm_sizes(101, (2.0, 1.0, 1.0))) == 101


# --------------------------------------------------------------------------------------------- summaries


def test_km_landmark_matches_lifelines():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(np.random.SeedSequence(4))
    times = np.round(rng.exponential(10.0, (6, 80)), 1)  # ties on purpose
    events = rng.random((6, 80)) < 0.7
    mask = rng.random((6, 80)) < 0.5
    got = tdm.km_at(times, events, mask, 9.0)
    for r in range(6):
        kmf = KaplanMeierFitter().fit(times[r, mask[r]], events[r, mask[r]])
        assert got[r] == pytest.approx(float(kmf.survival_function_at_times(9.0).iloc[0]), abs=1e-12)


def test_informed_columns_by_group_and_name(psa):
    cols = tdm.informed_columns(psa.parameters, ["outcome"])
    assert cols and all(c.startswith("outcome.") for c in cols)
    assert tdm.informed_columns(psa.parameters, [cols[0]]) == [cols[0]]
    with pytest.raises(InputError, match="informs"):
        tdm.informed_columns(psa.parameters, ["costs"])  # a survival trial does not observe costs
    with pytest.raises(InputError, match="not an input of this PSA"):
        tdm.informed_columns(psa.parameters, ["outcome.no_such_parameter"])


def test_draw_states_are_generic_over_the_free_parameters(psa):
    params = load_outcome_params()
    states = tdm.draw_states(psa.parameters, ["outcome"], params)
    assert states.index.size == psa.n_draws and states.prior.sum() == pytest.approx(1.0)
    for k in (0, states.n_states - 1):
        row = psa.parameters.loc[states.index == k, list(states.informed)].iloc[0]
        for col, value in row.items():
            assert states.params[k].free[col.split(".", 1)[1]] == value


def test_simulated_summaries_use_common_random_numbers_and_see_the_effect(run, psa):
    params = load_outcome_params()
    states = tdm.draw_states(psa.parameters, ["outcome"], params)
    r = sd.resolve(sd.StudyDesign(), run.scenario)
    world = tdm.build_world(run.scenario, r.arms, 5)
    seed = np.random.SeedSequence(9)
    a = tdm.simulate_summaries(world, r, states, 200, seed)
    b = tdm.simulate_summaries(world, r, states, 200, seed)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (psa.n_draws, 2) and np.all(np.isfinite(a))
    # larger trials: smaller standard errors of the log hazard ratio (SE ~ 2 / sqrt(events))
    c = tdm.simulate_summaries(world, r, states, 800, seed)
    assert np.median(c[:, 1]) < 0.6 * np.median(a[:, 1])


# --------------------------------------------------------------------------------------------- requests


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (dict(sample_sizes=(0, 100)), "sample_sizes"),
        (dict(sample_sizes=(-50,)), "sample_sizes"),
        (dict(sample_sizes=(10.5,)), "sample_sizes"),
        (dict(informs=("costs",)), "informs"),
        (dict(informs=()), "informs"),
        (dict(methods=("moment_matching",)), "methods"),
        (dict(willingness_to_pay=0.0), "willingness_to_pay"),
        (dict(price=-1.0), "price"),
        (dict(synthetic_replicates=2), "synthetic_replicates"),
        (dict(designs=(sd.StudyDesign(endpoint="QoL"),)), "design.endpoint"),
    ],
)
def test_bad_requests_name_the_field(change, field):
    problems = dataclasses.replace(TrialValueRequest(), **change).problems()
    assert [p.field for p in problems] == [field]


def test_bad_population_and_costs_name_the_field():
    with pytest.raises(InputError, match=r"population.horizon_years = 0"):
        evsi.DecisionPopulation(725.0, 0.0)
    with pytest.raises(InputError, match=r"population.patients_per_year = 0"):
        evsi.DecisionPopulation(0.0, 10.0)
    with pytest.raises(InputError, match=r"trial_cost.per_patient = -5"):
        evsi.TrialCost(1e6, -5.0)


def test_trial_value_refuses_a_bad_request_before_any_work(run, psa):
    bad = TrialValueRequest(sample_sizes=(0,), designs=(sd.StudyDesign(endpoint="response"),))
    with pytest.raises(InputErrors) as err:
        trial_value(run, psa, bad)
    assert {e.field for e in err.value.errors} == {"sample_sizes", "design.endpoint"}


def test_sourced_defaults():
    d = defaults()
    assert d.patients_per_year == pytest.approx(2530.0 * 0.61 * 0.47)
    assert d.per_patient_cost == pytest.approx(41413.0 * 0.777)
    assert d.horizon_years > 0 and d.fixed_cost >= 0


# --------------------------------------------------------------------------------------------- the analysis


def test_value_of_a_trial_on_a_small_scenario(tv):
    assert list(tv.curve["n_patients"]) == [60, 400]
    assert tv.mf1001 is not None and int(tv.mf1001["n_patients"].iloc[0]) == sd.mf1001_sample_size()
    assert tv.evpi > 0  # at the value-based price the decision is uncertain
    rows = pd.concat([tv.curve, tv.mf1001])
    for r in rows.itertuples(index=False):
        # EVSI <= EVPPI(informed) <= EVPI within Monte Carlo error, never negative
        assert 0.0 <= r.evsi <= tv.evppi + 3.0 * np.hypot(r.evsi_se, tv.evppi_se)
        assert 0.0 <= r.evsi_mm <= tv.evppi + 1e-9  # moment matching shrinks the EVPPI's fitted values
        assert 0.0 <= r.evsi_is <= tv.evpi + 3.0 * r.evsi_is_se
        assert 0.0 <= r.p_decision_change <= 1.0
        # ENBS = EVSI x discounted patients after the report - trial cost - forgone net benefit
        mult = tv.population.multiplier(r.months_to_report / 12.0)
        assert r.population_multiplier == pytest.approx(mult)
        assert r.trial_cost == pytest.approx(tv.trial_cost.fixed + tv.trial_cost.per_patient * r.n_patients)
        assert r.enbs == pytest.approx(r.evsi * mult - r.trial_cost - r.forgone_net_benefit)
        assert r.forgone_net_benefit >= 0.0
    assert tv.curve["months_to_report"].is_monotonic_increasing
    assert tv.evppi <= tv.evpi + 3.0 * tv.evppi_se
    opt = tv.optimal.iloc[0]
    best = tv.curve.loc[tv.curve["enbs"].idxmax()]
    assert int(opt["n_optimal"]) == (int(best["n_patients"]) if best["enbs"] > 0 else 0)
    assert opt["band_low"] <= opt["band_high"]
    s = tv.summary()
    assert s["mf1001_evsi"] == pytest.approx(float(tv.mf1001["evsi"].iloc[0]))
    assert isinstance(tv.verdict(), str) and tv.currency in tv.verdict()
    assert list(tv.by_wtp.columns) == ["wtp", "evpi", "evppi", "evsi_mf1001"]


def test_where_the_decision_is_uncertain_a_trial_has_clear_value_below_the_evppi(run, psa, uncertain, tv):
    """Issue 17's discriminating case. At the scenario's own price and WTP the decision is certain (EVSI ~ 0,
    optimal n 0), which an estimator returning 0 would pass. Where the expected incremental NMB is 0 (the
    value-based price, :func:`mhtcdt.decision.model.psa.value_based_price_of`, or a free course at the WTP that
    balances it) the decision is close to a coin toss: the EVPPI of the outcome inputs and the EVSI of a
    400-patient trial are clearly positive (more than 3 Monte Carlo SEs from 0) and the EVSI stays below the
    EVPPI, the 60-patient trial's no larger than the 400-patient trial's."""
    from mhtcdt.decision.trial.trial_value import decision_at

    price, wtp = uncertain
    inb = _inb(decision_at(run, psa, TrialValueRequest(price=price, willingness_to_pay=wtp), ["outcome"]), psa)
    assert abs(inb.mean()) < 1e-6 * wtp
    assert 0.2 < (inb > 0).mean() < 0.8
    assert tv.evppi > 3.0 * tv.evppi_se
    curve = tv.curve.sort_values("n_patients")
    big, small_n = curve.iloc[-1], curve.iloc[0]
    assert big.evsi > 3.0 * big.evsi_se, (big.evsi, big.evsi_se)
    assert big.evsi <= tv.evppi + 3.0 * np.hypot(big.evsi_se, tv.evppi_se)
    assert small_n.evsi <= big.evsi + 3.0 * np.hypot(small_n.evsi_se, big.evsi_se)


def test_no_uncertainty_in_the_informed_inputs_no_value(run, psa):
    """A PSA whose outcome parameters are all at their calibrated point: the trial has nothing to learn."""
    fixed = dataclasses.replace(psa, parameters=psa.parameters.copy())
    cols = [c for c in fixed.parameters.columns if c.startswith("outcome.")]
    fixed.parameters[cols] = fixed.parameters[cols].iloc[0].to_numpy()
    request = TrialValueRequest(
        sample_sizes=(100,),
        methods=("regression",),
        n_bootstrap=0,
        include_mf1001=False,
        price=max(psa.value_based_price, 0.0),
    )
    out = trial_value(run, fixed, request)
    assert out.evppi == 0.0 and out.curve["evsi"].iloc[0] == 0.0
    assert out.optimal["n_optimal"].iloc[0] == 0


def test_report_section_and_tables(tv):
    from mhtcdt.decision.report import trial_value as report

    page = report.section_html(tv)
    assert f"id='{report.SECTION_ID}'" in page
    assert "MF1001" in page and page.count("<svg") >= 2  # the ENBS and EVSI figures
    assert f"{int(tv.optimal['n_optimal'].iloc[0])}" in page
    tables = report.result_tables(tv)
    assert set(tables) >= {"trial_value_curve", "trial_value_optimal", "trial_value_by_wtp", "trial_value_mf1001"}
    assert tables["trial_value_curve"] is tv.curve
    lines = "\n".join(report.summary_lines(tv))
    assert "optimal n" in lines and tv.verdict() in lines


@pytest.mark.slow
def test_regression_agrees_with_moment_matching_on_the_default_scenario():
    """Issue 17 oracle: the regression EVSI with the trial simulator and the moment-matching EVSI agree within
    their combined standard errors on the default scenario (at its value-based price, where the decision is
    uncertain; 1,000 draws)."""
    result = run_pipeline(default_scenario())
    psa = run_psa(result)
    request = TrialValueRequest(
        designs=(sd.StudyDesign(),),
        sample_sizes=(100, 400),
        price=max(psa.value_based_price, 0.0),
        methods=("regression", "moment_matching"),
        n_bootstrap=0,
    )
    out = trial_value(result, psa, request)
    rows = pd.concat([out.curve, out.mf1001])
    for r in rows.itertuples(index=False):
        assert abs(r.evsi - r.evsi_mm) <= 3.0 * np.hypot(r.evsi_se, r.evsi_mm_se), r


def test_subgroups_complementary_shares_and_bounds(run, psa):
    from mhtcdt.decision.trial.evsi_subgroups import SUBGROUPS, subgroup_value

    mgmt = tuple(s for s in SUBGROUPS if s[0] == "MGMT promoter")
    request = TrialValueRequest(price=max(psa.value_based_price, 0.0))
    table = subgroup_value(run, psa, request, sd.StudyDesign(), 200, subgroups=mgmt)
    assert list(table["subgroup"]) == ["methylated", "unmethylated"]
    assert table["share"].sum() == pytest.approx(1.0)  # complementary criteria split the pool
    analysed = table[table["note"] == ""]
    assert len(analysed) >= 1
    for r in analysed.itertuples(index=False):
        assert 0.0 <= r.evsi <= r.evppi + 3.0 * np.hypot(r.evsi_se, r.evppi_se)
        assert r.evppi <= r.evpi + 3.0 * r.evppi_se
        trial_cost = evsi.TrialCost(defaults().fixed_cost, defaults().per_patient_cost)(200)
        assert r.forgone_net_benefit >= 0.0  # trial patients on a worse arm lose net benefit
        assert r.enbs == pytest.approx(r.evsi_population - trial_cost - r.forgone_net_benefit)
    with pytest.raises(InputError, match="n_patients"):
        subgroup_value(run, psa, request, sd.StudyDesign(), 0, subgroups=mgmt)
