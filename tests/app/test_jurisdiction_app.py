"""The app with another jurisdiction: the scenario picker offers the jurisdiction presets, and a Dutch run's
headline speaks euro, never pounds (except where the transfer note says where the costs came from)."""

from __future__ import annotations

import tomllib

from mhtcdt.decision.scenario.loading import parse_scenario, scenario_text
from tests.app.conftest import app_test, open_page, small_scenario, texts


def _small_dutch(n_screened: int = 110):
    data = tomllib.loads(scenario_text("default_netherlands.toml"))
    data["cohort"]["n_screened"] = n_screened
    data["economics"]["psa_draws"] = 200
    data["seed"] = 99
    return parse_scenario(data)


def test_the_picker_offers_and_loads_every_jurisdiction_preset():
    at = open_page(app_test(small_scenario()), "page_scenario.py")
    options = at.selectbox(key="preset_choice").options
    for key in ("netherlands", "germany", "france", "united_states"):
        assert f"default_{key}.toml" in options
    at.selectbox(key="preset_choice").set_value("default_netherlands.toml").run()
    at.button(key="load_preset").click().run()
    assert not at.exception, [e.value for e in at.exception]
    sc = at.session_state["scenario"]
    assert sc.economics.jurisdiction == "netherlands" and sc.economics.currency == "EUR"
    labels = [n.label for n in at.number_input]
    assert any("[EUR per QALY]" in lab for lab in labels) and not any("GBP" in lab for lab in labels)
    assert "Costs transferred from English NHS 2017 GBP by PPP" in texts(at)


def test_a_dutch_headline_is_in_euro_and_never_in_pounds():
    at = app_test(_small_dutch(), timeout_s=400, autostart=True)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "The answer"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics, "the headline was not shown"
    for label, value in metrics.items():
        assert "GBP" not in str(value), (label, value)
    assert any("EUR" in str(v) for v in metrics.values()), metrics
    page = texts(at)
    assert "EUR" in page
    gbp_lines = [line for line in page.splitlines() if "GBP" in line]
    assert all("transferred from English NHS" in line for line in gbp_lines), gbp_lines
    assert "reference case societal" in page  # the payer run says it departs from the Dutch reference case


def test_a_cost_edited_in_a_transferred_scenario_is_no_longer_called_transferred():
    """A Dutch preset's costs are English costs moved by PPP; a cost the user types in is a euro figure of their
    own, so the transfer note lists it among the inputs given in EUR (and an untouched cost stays transferred)."""
    at = open_page(app_test(small_scenario()), "page_scenario.py")
    at.selectbox(key="preset_choice").set_value("default_netherlands.toml").run()
    at.button(key="load_preset").click().run()
    before = at.session_state["scenario"].economics
    assert before.cost_transfer.local_inputs == ["mht_course"]
    rt = [n for n in at.number_input if n.key and n.key.endswith("c.rt_course")][0]
    rt.set_value(5_000.0).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    after = at.session_state["scenario"].economics
    assert after.costs.rt_course == 5_000.0
    assert after.cost_transfer.local_inputs == ["mht_course", "rt_course"]
    assert "Given in EUR instead: mht_course, rt_course." in texts(at).replace("\\_", "_")
    assert after.costs.end_of_life == before.costs.end_of_life  # untouched: still the transferred value
