"""Scenario schema: the default scenario is valid, and each kind of invalid input is reported
with the field path and the bad value."""

from __future__ import annotations

import tomllib

import pytest

from mhtcdt.decision.scenario.loading import (
    bundled_scenarios,
    default_scenario,
    parse_scenario,
    parse_scenario_text,
    scenario_text,
    scenario_to_toml,
)
from mhtcdt.decision.scenario.schema import ArmSpec
from mhtcdt.errors import InputErrors
from mhtcdt.physics import Protocol


@pytest.fixture
def data() -> dict:
    return tomllib.loads(scenario_text())


def problems(data: dict) -> list[str]:
    with pytest.raises(InputErrors) as info:
        parse_scenario(data)
    return info.value.lines()


def test_default_scenario_is_valid_and_bundled():
    sc = default_scenario()
    assert "default.toml" in bundled_scenarios()
    assert sc.cohort.indication == "recurrent_glioblastoma"
    assert [a.name for a in sc.arms] == ["RT alone", "NanoTherm MHT + RT"]
    assert sc.arm("NanoTherm MHT + RT").has_mht and not sc.arm("RT alone").has_mht
    assert sc.trial.reference_arm == "RT alone"


def test_round_trip_through_toml_is_lossless():
    sc = default_scenario()
    again = parse_scenario_text(scenario_to_toml(sc))
    assert again == sc


def test_missing_field_is_named(data):
    del data["economics"]["price_year"]
    lines = problems(data)
    assert lines == ["economics.price_year = <missing>: required field is missing"]


def test_missing_willingness_to_pay_takes_the_jurisdictions_threshold(data):
    # NICE (the default jurisdiction) publishes GBP 20,000-30,000 per QALY; the default is the upper end
    # (economics/data/hta.toml); Germany and France publish none (tests/decision/test_jurisdictions.py)
    del data["economics"]["willingness_to_pay"]
    assert parse_scenario(data).economics.willingness_to_pay == 30000.0


def test_wrong_type_is_named(data):
    data["cohort"]["n_screened"] = "many"
    (line,) = problems(data)
    assert line.startswith("cohort.n_screened = 'many':")


def test_negative_cost_is_named(data):
    data["economics"]["costs"]["rt_course"] = -5.0
    (line,) = problems(data)
    assert line.startswith("economics.costs.rt_course = -5.0:") and "greater than or equal to 0" in line


def test_utility_above_one_is_named(data):
    data["economics"]["utilities"]["progressed"] = 1.2
    (line,) = problems(data)
    assert line.startswith("economics.utilities.progressed = 1.2:")


@pytest.mark.parametrize("rate", [-0.01, 0.21, 0.5])
def test_discount_rate_outside_0_to_0_2(data, rate):
    data["economics"]["discount_costs"] = rate
    (line,) = problems(data)
    assert line.startswith(f"economics.discount_costs = {rate}:")


def test_every_problem_is_reported_not_only_the_first(data):
    data["economics"]["utilities"]["progressed"] = 1.5
    data["economics"]["costs"]["mht_course"] = -1.0
    data["cohort"]["n_screened"] = 0
    lines = problems(data)
    assert len(lines) == 3
    assert {line.split(" = ")[0] for line in lines} == {
        "economics.utilities.progressed",
        "economics.costs.mht_course",
        "cohort.n_screened",
    }


def test_unknown_key_is_an_error_not_ignored(data):
    data["economics"]["discount_cost"] = 0.03  # typo of discount_costs
    (line,) = problems(data)
    assert line.startswith("economics.discount_cost = 0.03: unknown field")


def test_arm_errors_carry_the_arm_index(data):
    data["arms"][1]["rt_n_fractions"] = 0  # dose without fractions
    (line,) = problems(data)
    assert line.startswith("arms[1]") and "rt_n_fractions" in line


def test_arm_is_the_physics_protocol_with_a_required_name():
    """One arm schema: every field, bound and description of an arm is the physics Protocol's."""
    assert issubclass(ArmSpec, Protocol)
    assert list(ArmSpec.model_fields) == list(Protocol.model_fields)
    for name, spec in Protocol.model_fields.items():
        arm = ArmSpec.model_fields[name]
        assert (arm.metadata, arm.description, arm.annotation) == (spec.metadata, spec.description, spec.annotation)
    assert ArmSpec.model_fields["name"].is_required() and not Protocol.model_fields["name"].is_required()


def test_every_problem_of_an_arm_is_named_with_its_path(data):
    data["arms"][1]["n_sessions"] = 60
    data["arms"][1]["healthy_max_C"] = 61.0
    data["arms"][0]["agent"] = "unobtainium"
    lines = problems(data)
    assert {line.split(" = ")[0] for line in lines} == {"arms[1].n_sessions", "arms[1].healthy_max_C", "arms[0].agent"}
    assert any(line.startswith("arms[0].agent = 'unobtainium': unknown agent") for line in lines)


def test_overlapping_sessions_are_refused(data):
    data["arms"][1]["session_minutes"] = 300.0
    data["arms"][1]["session_interval_hours"] = 4.0
    (line,) = problems(data)
    assert "overlap" in line


def test_reference_arm_must_exist(data):
    data["trial"]["reference_arm"] = "Placebo"
    (line,) = problems(data)  # the field is named, never the whole scenario
    assert line.startswith("trial.reference_arm = 'Placebo': is not an arm")


def test_allocation_weights_must_be_positive(data):
    data["trial"]["allocation"]["RT alone"] = 0
    (line,) = problems(data)
    assert line.startswith("trial.allocation") and "positive" in line


def test_malformed_toml_names_the_source():
    with pytest.raises(InputErrors) as info:
        parse_scenario_text("name = 'x'\n[cohort\n", source="bad.toml")
    (line,) = info.value.lines()
    assert line.startswith("bad.toml") and "malformed TOML" in line and "line 2" in line
