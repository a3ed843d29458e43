"""Data hygiene of the decision layer: every parameter has a source and a verified flag, read through the
package's one TOML loader; the generated calibration file names its generator and date."""

from __future__ import annotations

from datetime import datetime

import pytest

from mhtcdt.datafiles import load_toml, provenance_problems
from mhtcdt.decision.model import calibration_targets, outcome


@pytest.mark.parametrize("name", [outcome.PARAMS_FILE, calibration_targets.TARGETS_FILE])
def test_every_parameter_has_source_and_verified_flag(name):
    assert provenance_problems(load_toml(outcome.DATA_PACKAGE, name), name) == []


def test_provenance_rule_catches_a_missing_source():
    """The check above can fail: a prior without its source is reported."""
    data = load_toml(outcome.DATA_PACKAGE, outcome.PARAMS_FILE)
    broken = {
        **data,
        "free": {
            **data["free"],
            "growth_log_sd": {k: v for k, v in data["free"]["growth_log_sd"].items() if k != "source"},
        },
    }
    assert provenance_problems(broken) == ["free.growth_log_sd: no source (values: default, prior, range)"]


def test_generated_calibration_names_its_generator_and_date():
    """outcome_calibration.toml is written by `mhtcdt calibrate` (exempt from the source rule: its values
    are fitted, its sources are the targets), so it must say what generated it and when."""
    doc = load_toml(outcome.DATA_PACKAGE, outcome.CALIBRATION_FILE)
    assert doc["generated_by"].startswith("mhtcdt calibrate")
    created = datetime.fromisoformat(doc["meta"]["created_utc"].replace("Z", "+00:00"))
    assert created.year >= 2024
    assert {t["target"] for t in doc["targets"]} == {t.name for t in calibration_targets.load_targets().targets}
