"""The scenario page's "Jurisdiction" select: the current English NICE scenario re-expressed in another
jurisdiction (as ``mhtcdt transfer``): euro labels, the transfer note, and a headline with no pounds."""

from __future__ import annotations

from mhtcdt.decision.scenario.jurisdiction_transfer import in_jurisdiction
from mhtcdt.decision.scenario.loading import parse_scenario_text, scenario_text
from tests.app.conftest import app_test, open_page, small_scenario, texts


def _small_prostate(n_screened: int = 120):
    sc = parse_scenario_text(scenario_text("prostate_recurrent.toml"))
    return sc.model_copy(
        update={
            "cohort": sc.cohort.model_copy(update={"n_screened": n_screened}),
            "economics": sc.economics.model_copy(update={"psa_draws": 200}),
        }
    )


def _pick(at, key: str, wtp: float | None = None):
    at.selectbox(key="jurisdiction_choice").set_value(key).run()
    if wtp is not None:
        at.number_input(key="jurisdiction_wtp").set_value(wtp).run()
    at.button(key="apply_jurisdiction").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_netherlands_on_the_prostate_preset_speaks_euro_and_says_transferred():
    prostate = _small_prostate()
    at = _pick(open_page(app_test(prostate), "page_scenario.py"), "netherlands")
    sc = at.session_state["scenario"]
    assert sc == in_jurisdiction(prostate, "netherlands")  # the same re-expression as the API and the CLI
    labels = [n.label for n in at.number_input]
    assert any("[EUR" in lab for lab in labels) and not any("GBP" in lab for lab in labels), labels
    page = texts(at)
    assert "Costs transferred from English NHS 2020 GBP by PPP" in page
    assert "Netherlands (Zorginstituut)" in page
    # the headline of the re-expressed scenario: euro, never pounds
    answer = app_test(sc, timeout_s=500, autostart=True)
    answer.run()
    assert not answer.exception, [e.value for e in answer.exception]
    metrics = {m.label: m.value for m in answer.metric}
    assert metrics, "the headline was not shown"
    assert not [v for v in metrics.values() if "GBP" in str(v)], metrics
    assert any("EUR" in str(v) for v in metrics.values()), metrics


def test_germany_needs_the_users_threshold_and_a_transferred_scenario_is_not_moved_again():
    at = open_page(app_test(small_scenario()), "page_scenario.py")
    at = _pick(at, "germany")  # no threshold given: refused in the page, the scenario unchanged
    assert at.session_state["scenario"].economics.jurisdiction == "nice"
    assert any("willingness_to_pay" in e.value.replace("\\_", "_") for e in at.error), [e.value for e in at.error]
    at = _pick(at, "germany", wtp=40000.0)
    e = at.session_state["scenario"].economics
    assert (e.jurisdiction, e.currency, e.willingness_to_pay) == ("germany", "EUR", 40000.0)
    assert "willingness to pay of EUR 40,000 per QALY is the user's" in texts(at)
    assert not any(s.key == "jurisdiction_choice" for s in at.selectbox)
    assert "Only an English NICE scenario can be re-expressed" in texts(at)
