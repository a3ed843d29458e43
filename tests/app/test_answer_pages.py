"""The stakeholder answer in the app: the headline on the first screen, one WTP, the price what-if, price and
threshold, for whom, compare scenarios.

Each widget change must change exactly what it should: the WTP and the price re-derive results from the
stored run (no new job in the worker), and every page shows the same verdict. Oracles: the package API
called directly on the stored run (``whatif.apply`` + ``build_headline``), and the arithmetic of a price
change (costs move by the price difference in MHT arms only).
"""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from mhtcdt.decision.model import whatif
from mhtcdt.decision.report.headline import build_headline
from tests.app.conftest import app_test, small_scenario, texts

N_SCREENED = 110
WTPS = [20_000.0, 100_000.0, 250_000.0, 320_000.0, 450_000.0, 1_500_000.0]


@pytest.fixture(scope="module")
def scenario():
    return small_scenario(N_SCREENED).model_copy(update={"seed": 99})


def _app(scenario, page: str | None = None) -> AppTest:
    at = app_test(scenario, timeout_s=300, autostart=True)  # the answer computed as the app opens (the default)
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(scope="module")
def stored(scenario):
    """The run and PSA the app stored for the scenario (computed by opening the answer page)."""
    from mhtcdt.app import psa_view, state

    _app(scenario)
    result, psa = state.pipeline_done(scenario), psa_view.psa_done(scenario)
    assert result is not None and psa is not None, "the answer page did not compute the run and its PSA"
    return result, psa


def _oracle(stored, wtp=None, price=None):
    result, psa = stored
    w = whatif.apply(result, psa, willingness_to_pay=wtp, price=price)
    return build_headline(w.result, w.psa, list_price=result.scenario.economics.costs.mht_course)


def _jobs() -> list[str]:
    from mhtcdt.app import state

    return state.job_manager().keys()


def _table(at, column: str):
    """The first table on the page with ``column`` (st.dataframe keeps no user key without selections)."""
    tables = [d.value for d in at.dataframe if column in d.value.columns]
    assert tables, f"no table with a column {column!r}"
    return tables[0]


def _wtp(at):
    return at.number_input(key="wtp")


def _price(at):
    return at.number_input(key="mht_price")


def test_the_answer_is_the_first_screen(scenario, stored):
    at = _app(scenario)
    assert at.title[0].value == "The answer"
    h = _oracle(stored)
    page = texts(at)
    assert h.verdict.replace("'", "\\'") in page or h.verdict in page.replace("\\", "")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["probability cost-effective"] == f"{100 * h.probability:.0f} %"
    assert metrics["value-based price"] == f"GBP {h.value_based_price:,.0f}"
    label = {"green": "Cost-effective", "amber": "Uncertain", "red": "Not cost-effective"}[h.light]
    badges = [m.value for m in at.markdown if "-badge[" in m.value]  # st.badge is native markdown
    assert len(badges) == 1 and label in badges[0], badges  # one traffic light, the headline's
    assert len(at.get("image")) >= 2  # CEAC and CE plane


@pytest.mark.parametrize("wtp", WTPS)
def test_wtp_sweep_no_contradictory_statement_and_no_new_run(scenario, stored, wtp):
    at = _app(scenario)
    before = _jobs()
    _wtp(at).set_value(wtp).run()
    assert not at.exception
    assert _jobs() == before  # nothing re-run
    # the box's value with thousands separators beside it (a number input cannot group them)
    assert f"GBP {wtp:,.0f} per QALY" in [c.value for c in at.caption]
    h = _oracle(stored, wtp=wtp)
    page = texts(at).replace("\\", "")
    assert h.verdict in page
    assert f"{100 * h.probability:.0f} %" == {m.label: m.value for m in at.metric}["probability cost-effective"]
    if h.agrees:
        assert "reach the same decision" in page and not at.warning
    else:  # the two analyses disagree: the screen says so and why, in a warning box
        warning = "\n".join(w.value for w in at.warning).replace("\\", "")
        assert f"would choose '{h.deterministic_decision}'" in warning and f"chooses '{h.decision}'" in warning
    assert "GBP 0 per patient" not in page
    assert not re.search(r"\d\.\d+e[+-]\d", page)  # no e-notation anywhere on the page
    # the same verdict on the cost-effectiveness page, without a new run either
    at.switch_page("page_economics.py").run()
    assert not at.exception
    assert h.verdict in texts(at).replace("\\", "")
    assert _jobs() == before


def test_price_what_if_updates_every_result_without_a_new_run(scenario, stored):
    result, psa = stored
    at = _app(scenario)
    before = _jobs()
    list_price = scenario.economics.costs.mht_course
    _price(at).set_value(2_000.0).run()
    assert not at.exception and _jobs() == before
    assert "GBP 2,000 per course" in [c.value for c in at.caption]
    h = _oracle(stored, price=2_000.0)
    page = texts(at).replace("\\", "")
    assert h.verdict in page and "price asked GBP 2,000" in page
    # value-based price: a property of the evidence, not of the price asked
    assert {m.label: m.value for m in at.metric}["value-based price"] == f"GBP {h.value_based_price:,.0f}"
    # cost-effectiveness page: the MHT arm's cost moved by exactly the price difference, the reference's not
    at.switch_page("page_economics.py").run()
    table = _table(at, "cost [GBP]")
    shown = dict(zip(table["strategy"], table["cost [GBP]"], strict=True))
    base = result.economics.set_index("strategy")["cost"]
    for strategy, cost in base.items():
        moved = cost + (2_000.0 - list_price) * scenario.arm(strategy).has_mht
        assert shown[strategy] == f"GBP {moved:,.0f}"
    # the scenario page: no contradiction (no error next to "valid"), the range follows the price
    at.switch_page("page_scenario.py").run()
    assert not at.error, [e.value for e in at.error]
    assert "follows the price" in texts(at)
    assert "GBP 1,304" in texts(at) or "1,304" in texts(at)
    code = at.code[0].value
    assert "mht_course = 2000.0" in code
    # the report offers the same verdict at the same price
    at.switch_page("page_report.py").run()
    assert not at.exception and _jobs() == before
    assert "GBP 2,000" in texts(at).replace("GBP 2,000 per course", "")  # not only the price box's caption


def test_invalid_edit_never_shows_valid(scenario):
    at = _app(scenario, "page_scenario.py")
    matches = [n for n in at.number_input if n.key and n.key.endswith("arms1.session_interval_hours")]
    matches[0].set_value(0.5).run()
    assert at.error and not at.success
    assert any("not applied" in w.value for w in at.warning)


def test_price_page(scenario, stored):
    at = _app(scenario, "page_price.py")
    assert not at.error, [e.value for e in at.error]
    h = _oracle(stored)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["value-based price"] == f"GBP {h.value_based_price:,.0f}"
    assert metrics["price asked"] == f"GBP {scenario.economics.costs.mht_course:,.0f}"
    two_way = [d.value for d in at.dataframe if "share of the modelled extra kill" in d.value.columns]
    assert two_way and len(two_way[0]) == 7
    assert len(at.get("image")) >= 2


def test_for_whom_page(scenario, stored):
    from mhtcdt.decision.model.subgroups import SUBGROUPS

    at = _app(scenario, "page_subgroups.py")
    assert not at.error, [e.value for e in at.error]
    table = _table(at, "subgroup")
    assert len(table) == len(SUBGROUPS)
    assert any("eligibility rule with the highest expected net benefit" in i.value.replace("\\", "") for i in at.info)
    rules = _table(at, "give the new arm to")
    assert (rules["best"] == "best").sum() >= 1


def test_compare_page_two_scenarios_share_one_trial(scenario, stored):
    at = _app(scenario, "page_compare.py")
    box = at.multiselect(key="compare_choice")
    box.set_value([box.options[0], box.options[1]]).run()
    at.button(key="compare_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = _table(at, "answer")
    assert len(table) == 2
    assert "same trial as 'current scenario'" in texts(at).replace("\\", "")
