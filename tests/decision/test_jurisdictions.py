"""Jurisdictions: the HTA reference case a scenario selects (economics.jurisdiction), the PPP transfer of the
English costs, the glioblastoma presets of the Netherlands, Germany, France and the United States, the refusals
at the door and the notes every output prints.

Oracles: hand arithmetic from the PPP table; the closed-form geometric sum of the discount factors at the Dutch
3 % / 1.5 %; the NICE run's own patients re-costed (QALYs at the Dutch rates; costs x the PPP factor)."""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mhtcdt.decision.cli import main as cli
from mhtcdt.decision.model.economic_model import conventions, evaluate_arms
from mhtcdt.decision.run.pipeline import COUNTERFACTUAL, run_pipeline
from mhtcdt.decision.scenario.checks import scenario_problems
from mhtcdt.decision.scenario.loading import default_scenario, parse_scenario, scenario_text
from mhtcdt.decision.scenario.reference_case import reference_case_notes
from mhtcdt.economics import StateValues, SurvivalCurves, jurisdiction, ppp, ppp_transfer, run_partitioned_survival
from mhtcdt.errors import InputErrors

JURISDICTIONS = ("netherlands", "germany", "france", "united_states")


def _preset(key: str) -> dict:
    return tomllib.loads(scenario_text(f"default_{key}.toml"))


def _default_data() -> dict:
    return tomllib.loads(scenario_text("default.toml"))


def _problems(data: dict) -> list[str]:
    with pytest.raises(InputErrors) as exc:
        parse_scenario(data)
    return [e.line() for e in exc.value.errors]


# ------------------------------------------------------------------------------------------- PPP transfer
def test_ppp_factor_is_the_ratio_of_the_table_entries_by_hand():
    # ppp.toml: United Kingdom 0.685, Netherlands 0.782 GBP / EUR per international dollar in 2017 (World Bank WDI)
    nl = ppp_transfer("nice", "netherlands", 2017)
    assert nl.factor == pytest.approx(0.782 / 0.685, rel=1e-12)
    # the ESTRO-HERO RT course, GBP 3,672: 3672 x 0.782 = 2871.504; / 0.685 = 4191.9766...
    assert nl.apply(3672.0) == pytest.approx(4191.9766, abs=1e-4)
    # to US dollars (PPP 1 by definition): 3672 / 0.685 = 5360.5839...
    assert ppp_transfer("nice", "united_states", 2017).apply(3672.0) == pytest.approx(5360.5839, abs=1e-4)
    # and back: a round trip is the identity
    back = ppp_transfer("netherlands", "nice", 2017)
    assert back.apply(nl.apply(1000.0)) == pytest.approx(1000.0, rel=1e-12)


def test_ppp_table_has_source_and_verified_per_jurisdiction():
    for key in ("nice", *JURISDICTIONS):
        entry = ppp(key, 2017)
        assert entry.currency == jurisdiction(key).currency
        assert entry.source and isinstance(entry.verified, bool)
    assert ppp("nice", 2017).verified and ppp("netherlands", 2017).verified
    assert not ppp("germany", 2017).verified  # recalled, and says so


def test_a_year_without_a_ppp_names_the_field():
    with pytest.raises(Exception) as exc:
        ppp("germany", 2019)
    assert exc.value.field == "price_year"


# ------------------------------------------------------------------------------------------------ presets
@pytest.mark.parametrize("key", JURISDICTIONS)
def test_preset_is_the_default_with_the_jurisdictions_reference_case_and_ppp_costs(key):
    data, base = _preset(key), _default_data()
    for section in ("cohort", "arms", "trial", "seed"):
        assert data[section] == base[section], section  # the same patients and arms
    eco, ref = data["economics"], jurisdiction(key)
    assert eco["jurisdiction"] == key and eco["currency"] == ref.currency
    assert (eco["discount_costs"], eco["discount_effects"]) == (ref.discount_costs, ref.discount_effects)
    transfer = ppp_transfer("nice", key, eco["cost_transfer"]["from_price_year"])
    local = set(eco["cost_transfer"]["local_inputs"])
    assert local == {"mht_course"}
    for name, gbp in base["economics"]["costs"].items():
        if name not in local:
            assert eco["costs"][name] == pytest.approx(gbp * transfer.factor, abs=0.006), name
    base_ranges = {u["parameter"]: u for u in base["economics"]["uncertainty"]}
    for u in eco["uncertainty"]:
        if u["parameter"].startswith("costs.") and u["parameter"] != "costs.mht_course":
            b = base_ranges[u["parameter"]]
            assert u["low"] == pytest.approx(b["low"] * transfer.factor, abs=0.006)
            assert u["high"] == pytest.approx(b["high"] * transfer.factor, abs=0.006)
        elif u["parameter"].startswith("utilities."):
            assert (u["low"], u["high"]) == (base_ranges[u["parameter"]]["low"], base_ranges[u["parameter"]]["high"])
    scenario = parse_scenario(data)
    assert scenario_problems(scenario) == []


def test_nanotherm_price_is_the_quoted_euro_price_or_its_dollar_exchange():
    assert _preset("netherlands")["economics"]["costs"]["mht_course"] == 23000.0  # review 000 section 7.1
    assert _preset("united_states")["economics"]["costs"]["mht_course"] == pytest.approx(23000.0 * 1.1297, abs=0.01)


def test_willingness_to_pay_defaults_to_the_jurisdictions_threshold():
    data = _preset("netherlands")
    data["economics"].pop("willingness_to_pay")
    assert parse_scenario(data).economics.willingness_to_pay == 80000.0
    data = _preset("united_states")
    data["economics"].pop("willingness_to_pay")
    assert parse_scenario(data).economics.willingness_to_pay == 150000.0
    base = _default_data()
    base["economics"].pop("willingness_to_pay")
    assert parse_scenario(base).economics.willingness_to_pay == 30000.0


# ----------------------------------------------------------------------------------------------- refusals
def test_unknown_jurisdiction_is_named():
    data = _preset("netherlands")
    data["economics"]["jurisdiction"] = "belgium"
    (line,) = [p for p in _problems(data) if p.startswith("economics.jurisdiction")]
    assert "belgium" in line


def test_currency_other_than_the_jurisdictions_is_refused():
    data = _default_data()
    data["economics"]["jurisdiction"] = "netherlands"  # English GBP costs under the Dutch reference case
    lines = _problems(data)
    assert any(p.startswith("economics.currency = 'GBP'") and "EUR" in p for p in lines), lines
    data = _preset("united_states")
    data["economics"]["currency"] = "EUR"
    assert any(p.startswith("economics.currency = 'EUR'") and "USD" in p for p in _problems(data))


def test_societal_perspective_is_refused_because_it_is_not_modelled():
    data = _preset("netherlands")
    data["economics"]["perspective"] = "societal"
    (line,) = _problems(data)
    assert line.startswith("economics.perspective = 'societal'") and "not modelled" in line


@pytest.mark.parametrize("key", ["germany", "france"])
def test_no_threshold_jurisdiction_needs_the_users_willingness_to_pay(key):
    data = _preset(key)
    data["economics"].pop("willingness_to_pay")
    lines = [p for p in _problems(data) if p.startswith("economics.willingness_to_pay")]
    assert lines and any("sets no QALY threshold" in p for p in lines), lines


def test_cost_transfer_across_price_years_is_refused():
    data = _preset("netherlands")
    data["economics"]["cost_transfer"]["from_price_year"] = 2015
    (line,) = _problems(data)
    assert line.startswith("economics.cost_transfer.from_price_year = 2015") and "price index" in line


def test_cost_transfer_from_the_own_jurisdiction_is_refused():
    data = _preset("netherlands")
    data["economics"]["cost_transfer"]["from_jurisdiction"] = "netherlands"
    (line,) = _problems(data)
    assert line.startswith("economics.cost_transfer.from_jurisdiction = 'netherlands'")


def test_validate_exits_2_naming_the_field(tmp_path, capsys):
    import tomli_w

    data = _preset("germany")
    data["economics"]["currency"] = "GBP"
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(data))
    assert cli.main(["validate", str(path)]) == 2
    assert "economics.currency = 'GBP'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ notes
def test_the_default_english_run_prints_no_reference_case_note():
    assert reference_case_notes(default_scenario().economics) == []


def test_notes_say_transfer_deviation_and_threshold():
    nl = parse_scenario(_preset("netherlands")).economics
    notes = "\n".join(reference_case_notes(nl))
    assert "Costs transferred from English NHS 2017 GBP by PPP" in notes and "not local tariffs" in notes
    assert "payer perspective" in notes and "reference case societal" in notes
    de = parse_scenario(_preset("germany")).economics
    assert any("sets no QALY threshold" in n for n in reference_case_notes(de))
    # a changed discount rate is printed as a departure, never a silent mix
    off = nl.model_copy(update={"discount_effects": 0.035})
    assert any("discount rate for effects 3.5 %" in n and "1.5 %" in n for n in reference_case_notes(off))


# ----------------------------------------------------------------------------------- discounting oracle
def test_dutch_discounting_against_the_closed_form():
    """Everyone alive and progression-free for the 10-year horizon, utility 1 and cost 1 per month: with the
    life-table (trapezoid) count on the monthly grid t_k = k/12 years, k = 0..n, the discounted totals are
    h [sum_k q^k - (1 + q^n) / 2], h = 1/12 year, q = (1 + r)^(-1/12), sum_k q^k = (1 - q^(n+1)) / (1 - q)."""
    scenario = parse_scenario(_preset("netherlands"))
    conv = conventions(scenario)
    assert (conv.discount_costs, conv.discount_effects) == (0.03, 0.015)
    n = 120
    grid = np.arange(n + 1, dtype=float)  # months
    ones = np.ones((1, n + 1))
    per = run_partitioned_survival(
        SurvivalCurves(["all"], grid, (ones, ones)),
        StateValues(costs=np.array([1.0, 1.0]), costs_per="months", utilities=np.array([1.0, 1.0])),
        conv,
    ).draw(0)

    def closed(rate: float, per_unit: float) -> float:
        q = (1.0 + rate) ** (-1.0 / 12.0)
        return per_unit * ((1.0 - q ** (n + 1)) / (1.0 - q) - 0.5 * (1.0 + q**n))

    assert float(per["qalys"].iloc[0]) == pytest.approx(closed(0.015, 1.0 / 12.0), rel=1e-10)
    assert float(per["cost"].iloc[0]) == pytest.approx(closed(0.03, 1.0), rel=1e-10)  # 1 per month, in months
    assert float(per["cost"].iloc[0]) < 120.0 and float(per["qalys"].iloc[0]) < 10.0


# --------------------------------------------------------------------------- same patients, re-costed
@pytest.fixture(scope="module")
def runs():
    """The NICE default and the Dutch preset on the same small population and seed."""
    small = {"n_screened": 150}
    nice = default_scenario()
    nice = nice.model_copy(update={"cohort": nice.cohort.model_copy(update=small)})
    nl = parse_scenario(_preset("netherlands"))
    nl = nl.model_copy(update={"cohort": nl.cohort.model_copy(update=small)})
    return run_pipeline(nice, seed=21), run_pipeline(nl, seed=21)


def _with_economics(scenario, **update):
    return scenario.model_copy(update={"economics": scenario.economics.model_copy(update=update)})


def test_dutch_run_has_the_same_patients_and_the_nice_qalys_at_dutch_rates(runs):
    nice, nl = runs
    assert nice.trial.equals(nl.trial)  # the jurisdiction changes no patient
    recomputed = evaluate_arms(
        _with_economics(nice.scenario, discount_costs=0.03, discount_effects=0.015),
        nice.trial,
        counterfactual=nice.extras[COUNTERFACTUAL],
    ).per_strategy
    assert np.allclose(nl.economics["qalys"].to_numpy(), recomputed["qalys"].to_numpy(), rtol=1e-12, atol=0)
    assert np.allclose(nl.economics["life_years"].to_numpy(), recomputed["life_years"].to_numpy(), rtol=1e-12)
    # and the Dutch 1.5 % for effects gives more discounted QALYs than NICE's 3.5 %
    assert np.all(nl.economics["qalys"].to_numpy() > nice.economics["qalys"].to_numpy())


def test_costs_are_the_nice_costs_times_the_ppp_factor_when_discount_rates_match(runs):
    nice, nl = runs
    factor = ppp_transfer("nice", "netherlands", 2017).factor
    base = nice.scenario.economics
    every_cost_moved = base.costs.model_copy(update={k: v * factor for k, v in base.costs.model_dump().items()})
    nl_at_nice_rates = _with_economics(
        nl.scenario, discount_costs=base.discount_costs, discount_effects=base.discount_effects, costs=every_cost_moved
    )
    moved = evaluate_arms(nl_at_nice_rates, nl.trial, counterfactual=nl.extras[COUNTERFACTUAL]).per_strategy
    assert np.allclose(moved["cost"].to_numpy(), factor * nice.economics["cost"].to_numpy(), rtol=1e-12, atol=0)
    assert np.allclose(moved["qalys"].to_numpy(), nice.economics["qalys"].to_numpy(), rtol=1e-12, atol=0)
    # the ICER moves by the same factor
    icer_nice = nice.incremental["icer"].dropna().to_numpy()
    icer_moved = evaluate_arms(nl_at_nice_rates, nl.trial, counterfactual=nl.extras[COUNTERFACTUAL]).incremental
    assert np.allclose(icer_moved["icer"].dropna().to_numpy(), factor * icer_nice, rtol=1e-10)


def test_the_dutch_summary_is_in_euro(runs):
    from mhtcdt.decision.report.summary import format_summary

    _, nl = runs
    text = format_summary(nl, None)
    assert "EUR" in text and "Costs transferred from English NHS 2017 GBP by PPP" in text
    # GBP appears only where the transfer says where the numbers came from
    assert all("transferred from English NHS" in line for line in text.splitlines() if "GBP" in line)
    assert not math.isnan(float(nl.economics["cost"].iloc[0]))


def test_a_copy_of_the_preset_data_is_unchanged_by_parsing():
    data = _preset("france")
    before = copy.deepcopy(data)
    parse_scenario(data)
    assert data == before


# ------------------------------------------------------------------------------------------------ compare
def test_compare_prints_each_scenario_in_its_own_currency_and_one_plane_per_currency(tmp_path, capsys):
    import tomli_w

    from mhtcdt.decision.run.compare import currency_groups

    files = []
    for name, data in (("england", _default_data()), ("dutch", _preset("netherlands"))):
        data["cohort"]["n_screened"] = 110
        path = tmp_path / f"{name}.toml"
        path.write_text(tomli_w.dumps(data))
        files.append(str(path))
    out = tmp_path / "out"
    assert cli.main(["compare", *files, "--psa-draws", "20", "--quiet", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    england, dutch = text.split("[dutch]")[0], text.split("[dutch]")[1]
    assert "GBP 30,000" in england and "EUR" not in england.split("[england]")[1]
    assert "EUR 80,000" in dutch and "Costs transferred from English NHS 2017 GBP by PPP" in dutch
    money_lines = [line for line in dutch.splitlines() if "GBP" in line]
    assert all("transferred from English NHS" in line for line in money_lines), money_lines
    planes = sorted(p.name for p in out.glob("comparison_plane_*.png"))
    assert planes == ["comparison_plane_EUR.png", "comparison_plane_GBP.png"]
    runs = [type("Run", (), {"scenario": parse_scenario(tomllib.loads(Path(f).read_text()))})() for f in files]
    assert currency_groups(runs) == {"GBP": [0], "EUR": [1]}


def test_a_jurisdiction_scenario_survives_the_round_trip_to_toml():
    from mhtcdt.decision.scenario.loading import parse_scenario_text, scenario_to_toml

    for key in JURISDICTIONS:
        scenario = parse_scenario(_preset(key))
        again = parse_scenario_text(scenario_to_toml(scenario))
        assert again == scenario, key


def test_validate_prints_the_reference_case_notes_of_a_valid_scenario(tmp_path, capsys):
    import tomli_w

    path = tmp_path / "dutch.toml"
    path.write_text(tomli_w.dumps(_preset("netherlands")))
    assert cli.main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "valid scenario" in out and "Costs transferred from English NHS 2017 GBP by PPP" in out
    assert "reference case societal" in out


def test_trial_costs_of_the_value_of_a_trial_move_by_the_same_ppp():
    from mhtcdt.decision.trial.trial_value import defaults

    english = defaults()
    assert english.currency == "GBP" and english.note == ""
    assert english.fixed_cost == 1_500_000.0  # trial_value.toml fixed_gbp
    assert english.per_patient_cost == pytest.approx(41413.0 * 0.777)  # per_patient_usd x usd_to_gbp
    nl = defaults(parse_scenario(_preset("netherlands")).economics)
    factor = 0.782 / 0.685
    assert nl.currency == "EUR" and "England" in nl.note and "PPP" in nl.note
    assert nl.fixed_cost == pytest.approx(1_500_000.0 * factor, rel=1e-12)
    assert nl.per_patient_cost == pytest.approx(41413.0 * 0.777 * factor, rel=1e-12)
    assert nl.patients_per_year == english.patients_per_year  # the population stays England's, and says so


def test_a_shared_currency_plane_draws_each_scenarios_own_threshold():
    """Dutch (EUR 80,000) and German (a user's EUR 32,847) runs share a EUR plane: each threshold is drawn, with
    the slope of its value and the scenario judged at it named; one shared value gives one unlabelled line."""
    from mhtcdt.decision.report.decision_figures import comparison_plane

    cloud = pd.DataFrame({"inc_qalys": [0.02, 0.04, 0.06], "inc_cost": [20_000.0, 23_000.0, 26_000.0]})
    planes = {"default_netherlands": cloud, "default_germany": cloud + 100.0}
    points = {k: (0.04, 23_000.0) for k in planes}
    fig = comparison_plane(planes, points, {"default_netherlands": 80_000.0, "default_germany": 32_847.0}, "EUR")
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("WTP")}
    assert set(lines) == {"WTP EUR 32,847/QALY (default_germany)", "WTP EUR 80,000/QALY (default_netherlands)"}
    for label, value in (("(default_germany)", 32_847.0), ("(default_netherlands)", 80_000.0)):
        x, y = next(ln for k, ln in lines.items() if k.endswith(label)).get_data()
        assert (y[1] - y[0]) / (x[1] - x[0]) == pytest.approx(value, rel=1e-12)
    one = comparison_plane(planes, points, 80_000.0, "EUR")
    assert [ln.get_label() for ln in one.axes[0].get_lines() if ln.get_label().startswith("WTP")] == [
        "WTP EUR 80,000/QALY"
    ]
