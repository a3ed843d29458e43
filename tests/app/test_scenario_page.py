"""Scenario page: presets, uploads (valid and invalid), validated edits, download."""

from __future__ import annotations

import tomllib

from mhtcdt.decision.scenario.loading import scenario_to_toml
from tests.app.conftest import open_page, small_scenario, texts


def _number(at, key_suffix: str):
    matches = [n for n in at.number_input if n.key and n.key.endswith(key_suffix)]
    assert matches, f"no number input ending with {key_suffix!r}: {[n.key for n in at.number_input]}"
    return matches[0]


def test_scenario_page_shows_editors_and_download(app):
    at = open_page(app, "page_scenario.py")
    assert at.title[0].value == "Scenario"
    assert at.selectbox(key="preset_choice").options  # bundled presets listed
    labels = [n.label for n in at.number_input]
    # units are shown in the labels
    assert any("[GBP per QALY]" in lab for lab in labels)  # the sidebar's willingness to pay
    assert any("[kHz]" in lab or "[°C]" in lab or "[degC]" in lab for lab in labels)
    assert any("[h]" in lab for lab in labels)
    assert at.get("download_button"), "download button missing"
    assert "Scenario valid" in texts(at) or at.error, texts(at)


def test_edit_changes_the_scenario_and_download(app):
    at = open_page(app, "page_scenario.py")
    at.number_input(key="wtp").set_value(20000.0).run()  # the one WTP of every page (sidebar)
    assert not at.exception
    assert at.session_state["wtp"] == 20000.0
    _number(at, ".disc_c").set_value(1.5).run()  # shown in percent
    assert abs(at.session_state["scenario"].economics.discount_costs - 0.015) < 1e-12
    # The scenario file shown for download is the edited one (at the WTP in use) and parses back to it.
    code = at.code[0].value
    data = tomllib.loads(code)
    assert data["economics"]["willingness_to_pay"] == 20000.0
    assert data["economics"]["discount_costs"] == 0.015


def test_invalid_edit_shows_error_and_keeps_last_valid(app):
    at = open_page(app, "page_scenario.py")
    before = at.session_state["scenario"]
    # Twice-weekly 60-min sessions cannot be spaced 0.5 h apart: the schema rejects the overlap.
    _number(at, "arms1.session_interval_hours").set_value(0.5).run()
    assert not at.exception
    err = "\n".join(e.value for e in at.error)
    assert "overlap" in err and "arms[1]" in err, err
    assert at.session_state["scenario"] == before


def test_upload_valid_and_invalid_toml(app):
    at = open_page(app, "page_scenario.py")
    sc = small_scenario(200).model_copy(update={"name": "Uploaded test scenario"})
    at.get("file_uploader")[0].upload("mine.toml", scenario_to_toml(sc).encode(), "application/toml").run()
    assert not at.exception
    assert at.session_state["scenario"].name == "Uploaded test scenario"
    # A malformed file and an out-of-range value: clear messages, scenario unchanged, no traceback.
    at.get("file_uploader")[0].upload("bad.toml", b"name = [unclosed", "application/toml").run()
    assert not at.exception
    assert "malformed TOML" in "\n".join(e.value for e in at.error)
    bad = scenario_to_toml(sc).replace("n_screened = 200", "n_screened = -5")
    at.get("file_uploader")[0].upload("range.toml", bad.encode(), "application/toml").run()
    err = "\n".join(e.value for e in at.error)
    assert "cohort.n_screened" in err and "-5" in err, err
    assert at.session_state["scenario"].name == "Uploaded test scenario"


def test_load_preset_resets_editors(app):
    at = open_page(app, "page_scenario.py")
    at.number_input(key="wtp").set_value(21000.0).run()
    _number(at, ".disc_c").set_value(1.5).run()
    at.button(key="load_preset").click().run()
    assert not at.exception
    from mhtcdt.decision.scenario.loading import default_scenario

    assert at.session_state["scenario"] == default_scenario()
    assert _number(at, ".disc_c").value == 100 * default_scenario().economics.discount_costs
    assert at.number_input(key="wtp").value == default_scenario().economics.willingness_to_pay


def test_price_outside_its_range_is_valid_and_its_range_follows(app):
    """Issue 16: a price what-if of 2,000 showed a red error (outside the PSA range) and a green 'valid' below
    it. The price is a what-if of every page whose PSA range follows it: no error; a cost outside its own
    range is still an error, and then nothing says 'valid'."""
    at = open_page(app, "page_scenario.py")
    sc = at.session_state["scenario"]
    at.number_input(key="mht_price").set_value(2_000.0).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "follows the price" in texts(at) and any("Scenario valid" in x.value for x in at.success)
    data = tomllib.loads(at.code[0].value)
    spec = [u for u in data["economics"]["uncertainty"] if u["parameter"] == "costs.mht_course"][0]
    assert spec["low"] < 2_000.0 < spec["high"]
    high = [u for u in sc.economics.uncertainty if u.parameter == "costs.progressed_per_month"][0].high
    _number(at, "c.progressed_per_month").set_value(high * 2).run()
    err = "\n".join(e.value for e in at.error)
    assert "costs.progressed_per_month" in err and "does not contain" in err, err
    assert not at.success  # never "valid" next to an error
    assert at.session_state["scenario"] == sc
    _number(at, "c.progressed_per_month").set_value(sc.economics.costs.progressed_per_month).run()
    _number(at, ".psa_draws").set_value(200).run()
    assert not at.exception and not at.error
    assert at.session_state["scenario"].economics.psa_draws == 200


def test_upload_with_a_psa_distribution_or_assumption_outside_its_support_is_reported(app):
    """Issue 13 bad input in the app: a share above 1 in a PSA distribution and a negative SLP factor in the
    [assumptions] table name the field and the value; the scenario is unchanged and there is no traceback."""
    at = open_page(app, "page_scenario.py")
    before = at.session_state["scenario"]
    text = scenario_to_toml(small_scenario(200))
    assert "\ninputs = []\n" in text and "\n[assumptions]\n" in text
    share = text.replace(
        "\ninputs = []\n", '\ninputs = [{name = "infiltrative_share", distribution = "beta", low = 0.2, high = 1.3}]\n'
    )
    at.get("file_uploader")[0].upload("share.toml", share.encode(), "application/toml").run()
    assert not at.exception
    err = "\n".join(e.value for e in at.error)
    assert "psa.inputs[0].high" in err and "1.3" in err, err
    assert at.session_state["scenario"] == before
    slp = text.replace("\n[assumptions]\n", "\n[assumptions]\nslp_factor = -0.5\n")
    at.get("file_uploader")[0].upload("slp.toml", slp.encode(), "application/toml").run()
    assert not at.exception
    err = "\n".join(e.value for e in at.error)
    assert "assumptions.slp_factor" in err and "-0.5" in err, err
    assert at.session_state["scenario"] == before


def test_uncertainty_table_shows_plain_labels_with_units_and_the_file_keeps_the_keys(app):
    """Issue 16 item 6: the uncertainty editor showed raw keys (``costs.mht_course``). It shows the labels of the
    tornado (:func:`mhtcdt.decision.report.labels.parameter_label`) with the unit; the key column is hidden and
    the downloaded scenario still names every range by its key, unchanged."""
    import json

    at = open_page(app, "page_scenario.py")
    sc = at.session_state["scenario"]
    (editor,) = [d for d in at.dataframe if "input" in d.value.columns]
    config = json.loads(editor.proto.columns)
    assert config["parameter"].get("hidden") is True
    assert config["input"]["label"] == "uncertain input [unit]"
    shown = dict(zip(editor.value["parameter"], editor.value["input"], strict=True))
    assert shown["costs.mht_course"] == "MHT course price [GBP]"
    assert shown["costs.progressed_per_month"] == "care after progression, per month [GBP/month]"
    assert shown["utilities.progressed"] == "quality of life after progression (utility) [QALY/year]"
    assert not any("." in label.split(" [")[0] for label in shown.values())  # no dotted key in a visible cell
    data = tomllib.loads(at.code[0].value)
    assert [u["parameter"] for u in data["economics"]["uncertainty"]] == [u.parameter for u in sc.economics.uncertainty]
    assert not any("input" in u or "scenario value" in u for u in data["economics"]["uncertainty"])
