"""The headline answer and the price analysis on one small run: statements that never contradict each other.

Oracles: counts of PSA draws (the probability), ratios of mean costs and QALYs (the ICER), scipy's Wilson
interval, a fresh what-if at the value-based price (expected incremental NMB zero), monotonicity in price
and in effect size (common random numbers).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from mhtcdt.decision.model import price, whatif
from mhtcdt.decision.model.psa import run_psa
from mhtcdt.decision.report.headline import Population, build_headline, build_preliminary, probability_text
from mhtcdt.decision.run.pipeline import run_pipeline
from mhtcdt.decision.scenario import presets
from mhtcdt.decision.scenario.loading import default_scenario

WTPS = [10_000.0, 30_000.0, 100_000.0, 200_000.0, 250_000.0, 300_000.0, 350_000.0, 400_000.0, 600_000.0, 2e6]


@pytest.fixture(scope="module")
def run():
    sc = default_scenario()
    sc = sc.model_copy(update={"cohort": sc.cohort.model_copy(update={"n_screened": 200})})
    result = run_pipeline(sc, seed=11)
    return result, run_psa(result, n_draws=300)


def _at(run, wtp, price_=None):
    result, psa = run
    return whatif.apply(result, psa, willingness_to_pay=wtp, price=price_)


@pytest.mark.parametrize("wtp", WTPS)
def test_no_contradictory_statement_at_any_wtp(run, wtp):
    w = _at(run, wtp)
    h = build_headline(w.result, w.psa)
    psa = w.psa
    n = psa.n_draws
    nmb = wtp * psa.qalys - psa.cost
    # the decision is the strategy with the highest mean NMB; the deterministic one the base case's
    assert h.decision == psa.strategies[int(np.argmax(nmb.mean(axis=0)))]
    per = w.result.economics.set_index("strategy")
    assert h.deterministic_decision == str((wtp * per["qalys"] - per["cost"]).idxmax())
    assert f"'{h.deterministic_decision}' has the highest net monetary benefit" in w.result.verdict
    # probability: a count of draws
    k = int((nmb.argmax(axis=1) == psa.strategies.index(h.new)).sum())
    assert h.probability == k / n
    ci = binomtest(k, n).proportion_ci(method="wilson")
    assert h.probability_interval == pytest.approx((ci.low, ci.high), abs=1e-9)
    assert ("none of the" in h.probability_text) == (k == 0) and ("in all" in h.probability_text) == (k == n)
    # traffic light and verdict agree with the decision and with each other
    if h.light == "green":
        assert h.decision == h.new == h.deterministic_decision and "is cost-effective" in h.verdict
    elif h.light == "red":
        assert h.decision == h.reference == h.deterministic_decision and "not cost-effective" in h.verdict
    else:
        assert "Uncertain" in h.verdict and f"'{h.decision}' is the better choice" in h.verdict
    # the two analyses: either they agree, or the screen says why they do not
    if h.decision == h.deterministic_decision:
        assert h.agrees and "same decision" in h.agreement
    else:
        assert not h.agrees and h.light == "amber"
        assert f"would choose '{h.deterministic_decision}'" in h.agreement and f"chooses '{h.decision}'" in h.agreement
    # no overconfident bare numbers
    for sentence in h.sentences():
        assert "GBP 0 per patient (EVPI)" not in sentence and "e+" not in sentence and "e-0" not in sentence


@pytest.mark.parametrize("wtp", WTPS)
@pytest.mark.parametrize("asked", [None, 2_000.0])
def test_the_preliminary_base_case_never_contradicts_the_headline(run, wtp, asked):
    """The app's first stage (the base case while the PSA runs) chooses what the headline's base case chooses,
    with the same ICER and price, and never reads as the verdict."""
    result, _ = run
    w = _at(run, wtp, asked)
    h = build_headline(w.result, w.psa, list_price=w.list_price)
    p = build_preliminary(whatif.apply(result, willingness_to_pay=wtp, price=asked).result, list_price=w.list_price)
    assert p.decision == h.deterministic_decision and p.reference == h.reference
    if p.new == h.new:
        assert (p.inc_cost, p.inc_qalys) == pytest.approx((h.inc_cost_deterministic, h.inc_qalys_deterministic))
    assert p.price == h.price
    assert f"it would choose '{p.decision}'." in p.text and "not yet the verdict" in p.text
    assert f"GBP {wtp:,.0f} per QALY" in p.text and f"price asked GBP {h.price:,.0f}, " in p.text
    assert ("the list price" in p.text) == (asked is None) and p.text.count("(") == p.text.count(")")
    for word in ("is cost-effective", "is not cost-effective", "Uncertain"):
        assert word not in p.text


def test_icer_and_evpi_are_the_ratio_of_means_and_the_mean_regret(run):
    w = _at(run, 300_000.0)
    h = build_headline(w.result, w.psa, population=Population(500, 4))
    j, r = w.psa.strategies.index(h.new), w.psa.strategies.index(h.reference)
    dc = (w.psa.cost[:, j] - w.psa.cost[:, r]).mean()
    dq = (w.psa.qalys[:, j] - w.psa.qalys[:, r]).mean()
    assert h.icer == pytest.approx(dc / dq)
    nmb = 300_000.0 * w.psa.qalys - w.psa.cost
    regret = (nmb.max(axis=1) - nmb[:, int(np.argmax(nmb.mean(axis=0)))]).mean()
    assert h.evpi_per_patient == pytest.approx(regret)
    discount = sum(500 / 1.035**y for y in range(4))
    assert h.evpi_population == pytest.approx(regret * discount)


def test_probability_text_counts_draws():
    text, (lo, hi) = probability_text(0, 1000)
    assert "none of the 1,000 draws" in text and lo == 0 and 0 < hi < 0.005
    text, _ = probability_text(1000, 1000)
    assert "in all 1,000 draws" in text
    text, _ = probability_text(370, 1000)
    assert text.startswith("37 %") and "370 of 1,000" in text


def test_price_table_agrees_with_the_what_if_and_is_monotone(run):
    result, psa = run
    w = _at(run, 100_000.0)
    vbp = w.psa.value_based_price
    assert vbp is not None
    table = price.price_table(w.result, w.psa, [0.0, 1_000.0, 10_000.0, 20_163.0, max(vbp, 0.0), 60_000.0])
    assert (np.diff(table.sort_values("price")["p_cost_effective"]) <= 1e-12).all()
    assert (np.diff(table.sort_values("price")["expected_inmb"]) < 0).all()
    for row in table.itertuples():
        fresh = whatif.apply(result, psa, willingness_to_pay=100_000.0, price=row.price)
        p = fresh.psa.probability_cost_effective(100_000.0)[fresh.psa.focal]
        assert row.p_cost_effective == pytest.approx(p)
        det = fresh.result.incremental.set_index("strategy").at[fresh.psa.focal, "icer"]
        if row.inc_qalys_deterministic > 0:
            assert row.icer_deterministic == pytest.approx(det)
        else:  # a QALY loss: no ICER, whatever the ratio of the increments
            assert math.isnan(row.icer_deterministic)
        if row.inc_qalys_probabilistic > 0:
            assert row.icer_probabilistic == pytest.approx(row.inc_cost_probabilistic / row.inc_qalys_probabilistic)
        else:
            assert math.isnan(row.icer_probabilistic)
        assert row.p_ce_lower <= row.p_cost_effective <= row.p_ce_upper
    if vbp > 0:
        at_vbp = table[table["price"] == vbp].iloc[0]
        assert abs(at_vbp.expected_inmb) < 1e-6 * 100_000.0
        assert at_vbp.icer_probabilistic == pytest.approx(100_000.0)


@pytest.mark.parametrize(
    ("d_cost", "d_qalys", "cell"),
    [
        (30_000.0, 0.1, "GBP 300,000"),
        (-500.0, 0.1, "dominant"),
        (0.0, 0.1, "dominant"),
        (500.0, -0.1, "dominated"),
        (500.0, 0.0, "dominated"),
        (-1_500.0, -0.1, "saves GBP 15,000 per QALY lost"),
        (-1_500.0, 0.0, "dominant"),
    ],
)
def test_icer_cells_name_the_quadrant_and_never_show_a_negative_icer(d_cost, d_qalys, cell):
    from mhtcdt.decision.report.labels import icer_cell, threshold_text

    assert icer_cell(d_cost, d_qalys, "GBP") == cell
    icer = price.icer_of(d_cost, d_qalys)
    # one rule: an ICER number only for QALYs gained at an extra cost; every other quadrant is named, not priced
    assert (icer == d_cost / d_qalys) if d_qalys > 0 and d_cost > 0 else math.isnan(icer)
    assert cell.startswith("GBP ") == math.isfinite(icer)
    words = threshold_text(price.threshold_of(d_cost, d_qalys), "GBP")
    if d_qalys <= 0:
        assert words == "none (no QALYs gained)"
    else:
        assert words == (f"GBP {icer:,.0f} per QALY" if d_cost > 0 else "any (dominant: more QALYs at no extra cost)")


def test_threshold_wtp_is_the_icer_only_where_qalys_are_gained(run):
    result, psa = run
    t = price.threshold_wtp(result, psa)
    j, r = psa.strategies.index(psa.focal), psa.strategies.index(psa.reference)
    dq = float((psa.qalys[:, j] - psa.qalys[:, r]).mean())
    dc = float((psa.cost[:, j] - psa.cost[:, r]).mean())
    assert t["probabilistic"] == pytest.approx(max(0.0, dc / dq)) if dq > 0 else math.isnan(t["probabilistic"])


def test_headroom_sentence_states_the_cut(run):
    w = _at(run, 30_000.0)
    room = price.headroom(w.result, w.psa)
    assert room.value_based_price == pytest.approx(w.psa.value_based_price)
    text = room.sentence()
    if room.value_based_price < room.price:
        assert "cut" in text or "Even at a price of 0" in text


def test_two_way_effect_size_is_monotone_and_one_is_the_base_case(run):
    w = _at(run, 30_000.0)
    table = price.two_way_price_effect(w.result, w.psa, prices=[0.0, 20_163.0], effect_shares=(0.0, 0.5, 1.0, 1.5))
    gains = table.groupby("effect_share")["qaly_gain"].first()
    assert (np.diff(gains.to_numpy()) >= -1e-12).all()  # more kill never less survival (same random numbers)
    # without the kill beyond RT the MHT arm is RT alone on the same patients (same RT, same random numbers):
    # exactly no QALY gain; the table must not be flat (it was when only the trial was shifted)
    assert gains[0.0] == pytest.approx(0.0, abs=1e-9)
    assert gains[1.5] > gains[0.0]
    per = w.result.economics.set_index("strategy")
    base = table[(table["effect_share"] == 1.0) & (table["price"] == 20_163.0)].iloc[0]
    assert base.qaly_gain == pytest.approx(per.at[w.psa.focal, "qalys"] - per.at[w.psa.reference, "qalys"])
    assert base.incremental_cost == pytest.approx(per.at[w.psa.focal, "cost"] - per.at[w.psa.reference, "cost"])
    assert math.isclose(base.inmb, 30_000.0 * base.qaly_gain - base.incremental_cost)


@pytest.mark.parametrize(
    ("preset", "focal", "expected"),
    [
        ("default.toml", "NanoTherm MHT + RT", []),
        ("recurrent_nanotherm_vs_bsc.toml", None, ["parametric fit to the randomised trial"]),
        ("prostate_recurrent.toml", None, ["has no radiotherapy"]),
    ],
)
def test_two_way_says_what_its_survival_rests_on(preset, focal, expected):
    """The two-way table is the outcome model at its calibrated point: a parametric base case and an arm without
    RT are said in words (review of the price page: its 100 % row differed from the base case unannounced)."""
    from types import SimpleNamespace

    from mhtcdt.decision.scenario.loading import load_scenario

    sc = load_scenario(Path(presets.__file__).parent / preset)
    focal = focal or next(a.name for a in sc.randomised_arms if a.name != sc.trial.reference_arm and a.has_mht)
    notes = price.two_way_basis(SimpleNamespace(scenario=sc), focal)
    assert len(notes) == len(expected)
    for note, words in zip(notes, expected, strict=True):
        assert words in note


def _dominated_base_case(psa):
    """A base case in which the focal strategy is dominated (fewer QALYs at a higher cost)."""
    import pandas as pd

    per = pd.DataFrame({"strategy": psa.strategies, "cost": 0.0, "qalys": 0.0}).set_index("strategy")
    per.loc[psa.focal, ["cost", "qalys"]] = [5_000.0, -0.05]
    return per


@pytest.mark.parametrize(
    ("source", "basis"),
    [("outcome_model", "the model at its calibrated point"), ("parametric", "parametric fits to the virtual trial")],
)
def test_disagreement_sentence_names_the_quadrant_and_decides_by_net_benefit(run, source, basis):
    """A dominated base case is 'not cost-effective' (its NMB, not the sign of a negative ratio, decides), its
    ICER is named 'dominated' (never a negative amount of money), and the basis follows the survival source."""
    from mhtcdt.decision.report.headline import _agreement

    _, psa = run
    new, ref = psa.focal, psa.reference
    text = _agreement(psa, _dominated_base_case(psa), new, ref, new, ref, 0.1, 50_000.0, "EUR", source)
    assert "ICER dominated" in text and "not cost-effective at the willingness to pay" in text
    assert "EUR -" not in text.replace("EUR -7,500", "")  # the NMB 50,000 x -0.05 - 5,000 may be negative
    assert "net monetary benefit EUR -7,500 per patient" in text
    assert f"deterministic base case ({basis})" in text and "below the willingness" not in text


def test_comparison_and_subgroup_tables_never_show_a_negative_icer(run):
    """Every displayed ICER cell goes through labels.icer_cell: the quadrant's name, never a negative amount."""
    import dataclasses
    from types import SimpleNamespace

    import pandas as pd

    from mhtcdt.decision.report.decision_html import comparison_table, subgroup_table

    result, psa = run
    h = build_headline(result, psa)
    cases = [(500.0, -0.1, "dominated"), (-1_500.0, 0.1, "dominant"), (-1_500.0, -0.1, "saves GBP 15,000 per")]
    for d_cost, d_qalys, word in cases:
        hd = dataclasses.replace(
            h,
            currency="GBP",
            inc_cost=d_cost,
            inc_qalys=d_qalys,
            inc_cost_deterministic=d_cost,
            inc_qalys_deterministic=d_qalys,
            icer=price.icer_of(d_cost, d_qalys),
            icer_deterministic=price.icer_of(d_cost, d_qalys),
        )
        row = comparison_table([SimpleNamespace(label="s")], [hd]).iloc[0]
        assert row["ICER, base case"].startswith(word) and row["ICER (mean of draws)"].startswith(word)
        assert math.isnan(hd.icer)
    sub = pd.DataFrame(
        {
            "covariate": ["age", "age"],
            "subgroup": ["young", "old"],
            "n": [10, 12],
            "hazard_ratio": [1.1, 0.9],
            "hr_low": [0.8, 0.7],
            "hr_high": [1.4, 1.2],
            "qaly_gain": [-0.1, 0.2],
            "qaly_gain_low": [-0.2, 0.1],
            "qaly_gain_high": [0.0, 0.3],
            "incremental_cost": [1_000.0, 2_000.0],
            "icer": [price.icer_of(1_000.0, -0.1), price.icer_of(2_000.0, 0.2)],
            "p_cost_effective": [0.1, 0.9],
            "p_ce_low": [0.05, 0.85],
            "p_ce_high": [0.15, 0.95],
            "value_based_price": [None, 5_000.0],
            "note": [None, None],
        }
    )
    assert list(subgroup_table(sub, "GBP")["ICER (mean of draws)"]) == ["dominated", "GBP 10,000"]


def test_summary_says_none_for_a_negative_value_based_price(run):
    """The text summary words a negative value-based price as the app and the headline do ("none ... even at 0"),
    never as a negative amount; a non-negative one is printed as money."""
    import dataclasses

    from mhtcdt.decision.report.summary import format_summary

    result, psa = run
    negative = format_summary(result, dataclasses.replace(psa, value_based_price=-60_408.0))
    line = next(s for s in negative.splitlines() if "value-based price of the MHT course" in s)
    assert "none (not cost-effective even at GBP 0)" in line and "-60,408" not in line
    positive = format_summary(result, dataclasses.replace(psa, value_based_price=1_523.0))
    assert "GBP 1,523 (scenario:" in next(s for s in positive.splitlines() if "value-based price of the MHT" in s)
