"""Any English NICE scenario re-expressed in another jurisdiction (``in_jurisdiction``, ``mhtcdt transfer``).

Oracles: the hand-made presets ``default_<jurisdiction>.toml`` (written from default.toml by hand, field by field,
before the function existed); hand arithmetic from the PPP table (World Bank WDI, ppp.toml) and the ECB rates."""

from __future__ import annotations

import tomllib

import pytest

from mhtcdt.decision.cli import main as cli
from mhtcdt.decision.scenario.checks import scenario_problems
from mhtcdt.decision.scenario.jurisdiction_transfer import course_price, in_jurisdiction
from mhtcdt.decision.scenario.loading import default_scenario, parse_scenario, parse_scenario_text, scenario_text
from mhtcdt.decision.scenario.reference_case import reference_case_notes
from mhtcdt.decision.scenario.schema import CostTransferSpec
from mhtcdt.errors import InputError

JURISDICTIONS = ("netherlands", "germany", "france", "united_states")


def _preset(name: str):
    return parse_scenario_text(scenario_text(f"{name}.toml"), source=name)


def _differences(a, b, path=""):
    """Every leaf where two model_dump trees differ, as (path, a, b)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [(path, a, b)]


@pytest.mark.parametrize("key", JURISDICTIONS)
def test_default_in_a_jurisdiction_equals_the_hand_made_preset_field_by_field(key):
    hand = _preset(f"default_{key}")
    wtp = None
    if key in ("germany", "france"):  # no threshold: the presets use NICE's GBP 30,000 moved by the PPP, by hand
        wtp = {"germany": round(30000 * 0.75 / 0.685, 2), "france": round(30000 * 0.79 / 0.685, 2)}[key]
        assert wtp == hand.economics.willingness_to_pay
    made = in_jurisdiction(default_scenario(), key, willingness_to_pay=wtp)
    diffs = _differences(made.model_dump(), hand.model_dump())
    # only the wording of the NanoTherm range's source may differ (the presets each phrase it by hand)
    assert [d[0] for d in diffs] in ([], [".economics.uncertainty[0].source"]), diffs
    assert made.economics.uncertainty[0].parameter == "costs.mht_course"
    assert made.name == hand.name and made.description == hand.description


def test_numbers_by_hand():
    nl = in_jurisdiction(default_scenario(), "netherlands").economics
    # RT course GBP 3,672 x 0.782 / 0.685 = 4191.9766 -> 4191.98; its range 2,754-4,590 -> 3143.98-5239.97
    assert nl.costs.rt_course == 4191.98
    rt = next(u for u in nl.uncertainty if u.parameter == "costs.rt_course")
    assert (rt.low, rt.high) == (3143.98, 5239.97)
    assert nl.costs.mht_course == 23000.0  # the euro quote, not 20163 / 0.87667 = 22999.76
    us = in_jurisdiction(default_scenario(), "united_states").economics
    assert us.costs.mht_course == 25983.1  # EUR 23,000 x 1.1297 USD per EUR (ECB 2017)
    assert (us.discount_costs, us.discount_effects, us.willingness_to_pay) == (0.03, 0.03, 150000.0)
    assert us.utilities == default_scenario().economics.utilities  # utilities are not transferred
    # a course that is not the packaged quote's conversion: GBP 18,000 / 0.87667 = 20532.24 EUR
    assert course_price(18000.0, "EUR") == 20532.24
    assert course_price(18000.0, "USD") == round(18000.0 / 0.87667 * 1.1297, 2)


@pytest.mark.parametrize("preset", ["prostate_recurrent", "pancreas_locally_advanced"])
def test_other_indications_in_the_netherlands_validate_and_say_transferred(preset):
    source = _preset(preset)
    made = in_jurisdiction(source, "netherlands")
    again = parse_scenario(tomllib.loads(cli_toml(made)))  # the TOML round trip
    assert again == made and scenario_problems(again) == []
    e = made.economics
    assert (e.jurisdiction, e.currency, e.price_year) == ("netherlands", "EUR", 2020)
    assert e.cost_transfer == CostTransferSpec(from_jurisdiction="nice", from_price_year=2020)
    # 2020 PPPs: UK 0.689, Netherlands 0.774 GBP / EUR per international dollar (World Bank WDI)
    factor = 0.774 / 0.689
    assert e.costs.end_of_life == round(source.economics.costs.end_of_life * factor, 2)
    assert e.costs.progressed_per_month == round(source.economics.costs.progressed_per_month * factor, 2)
    notes = reference_case_notes(e)
    assert any(n.startswith("Costs transferred from English NHS 2020 GBP by PPP") for n in notes), notes
    assert any("reference case societal" in n for n in notes), notes
    assert made.name == f"{source.name} (Netherlands, EUR)"


def cli_toml(scenario) -> str:
    from mhtcdt.decision.scenario.loading import scenario_to_toml

    return scenario_to_toml(scenario)


def _refusal(scenario, key, **kw) -> InputError:
    with pytest.raises(InputError) as exc:
        in_jurisdiction(scenario, key, **kw)
    return exc.value


def test_refusals_name_their_fields():
    d = default_scenario()
    assert _refusal(_preset("default_netherlands"), "germany").field == "economics.jurisdiction"
    back = in_jurisdiction(d, "netherlands").model_dump(mode="json", exclude_none=True)
    back["economics"].update(jurisdiction="nice", currency="GBP", willingness_to_pay=30000.0)
    back["economics"]["cost_transfer"]["from_jurisdiction"] = "netherlands"  # euro costs moved to England
    assert _refusal(parse_scenario(back), "france").field == "economics.cost_transfer"
    assert _refusal(d, "belgium").field == "jurisdiction"
    assert _refusal(d, "nice").field == "jurisdiction"
    for key in ("germany", "france"):
        assert _refusal(d, key).field == "willingness_to_pay"
    assert _refusal(_preset("prostate_recurrent"), "germany").field == "economics.price_year"  # PPP 2017 only
    with pytest.raises(Exception) as exc:  # a threshold the schema refuses
        in_jurisdiction(d, "germany", willingness_to_pay=-5.0)
    assert "economics.willingness_to_pay" in str(exc.value)


def test_cli_transfer_writes_a_valid_scenario_and_exits_2_naming_the_field(tmp_path, capsys):
    out = tmp_path / "nl.toml"
    assert cli.main(["transfer", "prostate_recurrent", "--to", "netherlands", "--out", str(out)]) == 0
    assert "Costs transferred from English NHS 2020 GBP" in capsys.readouterr().out
    assert cli.main(["validate", str(out)]) == 0
    assert parse_scenario(tomllib.loads(out.read_text())) == in_jurisdiction(
        _preset("prostate_recurrent"), "netherlands"
    )
    capsys.readouterr()
    assert cli.main(["transfer", "default", "--to", "netherlands", "--out", str(out)]) == 2  # never overwritten
    assert "--out" in capsys.readouterr().err
    de = tmp_path / "de.toml"
    assert cli.main(["transfer", "default", "--to", "germany", "--out", str(de)]) == 2
    assert "--willingness-to-pay" in capsys.readouterr().err and not de.exists()
    assert cli.main(["transfer", str(out), "--to", "germany", "--out", str(de)]) == 2
    assert "economics.jurisdiction" in capsys.readouterr().err
    assert cli.main(["transfer", "default", "--to", "mars", "--out", str(de)]) == 2
    assert "--to" in capsys.readouterr().err
    args = ["transfer", "default", "--to", "germany", "--willingness-to-pay", "40000", "--out", str(de)]
    assert cli.main(args) == 0
    assert parse_scenario(tomllib.loads(de.read_text())).economics.willingness_to_pay == 40000.0
