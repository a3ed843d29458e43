"""The scenario-level power call shared by ``mhtcdt power`` and the app: one engine, checked against the
library called directly on the same pools, and every bad request reported at once."""

from __future__ import annotations

import argparse
import json

import pytest

from mhtcdt.decision.cli import trial as cli_trial
from mhtcdt.decision.run.arm_chain import pools_from_scenario
from mhtcdt.decision.scenario.checks import trial_design
from mhtcdt.decision.scenario.loading import default_scenario
from mhtcdt.decision.trial import power
from mhtcdt.decision.trial.power_analysis import PowerRequest, power_analysis
from mhtcdt.errors import InputErrors

POOL = 150


@pytest.fixture(scope="module")
def scenario():
    return default_scenario()


@pytest.fixture(scope="module")
def analysis(scenario):
    request = PowerRequest(n_replicates=60, n_patients=80, pool_size=POOL, curve_sizes=(40, 80))
    return power_analysis(scenario, request)


def test_power_at_n_is_the_curve_point_at_n(analysis):
    """Power at a size and the curve at that size use the same replicate seeds: the same numbers."""
    row = analysis.curve.set_index("n_patients").loc[80]
    assert row["power"] == analysis.power.power
    assert row["expected_hr"] == analysis.power.expected_hr
    assert list(analysis.curve["n_patients"]) == [40, 80]


def test_matches_the_library_on_the_same_pools(scenario, analysis):
    ref = scenario.trial.reference_arm
    exp = next(a for a in scenario.trial.allocation if a != ref)
    pools, months = pools_from_scenario(scenario, (ref, exp), POOL, scenario.seed)
    trial = power.ReplicateTrial(pools, trial_design(scenario), ref, exp, months)
    direct = power.power_at(trial, 80, 60, scenario.seed)
    null = power.power_at(trial, 80, 60, scenario.seed + 1, null=True)
    assert analysis.power.power == direct.power and analysis.power.expected_hr == direct.expected_hr
    assert analysis.type_one_error.power == null.power
    assert analysis.comparison == f"{exp} vs {ref}" and analysis.n_patients == 80


def test_every_bad_request_field_is_reported(scenario):
    bad = PowerRequest(experimental_arm="nope", n_replicates=0, alpha=2.0, n_patients=1, target_power=1.5)
    with pytest.raises(InputErrors) as info:
        power_analysis(scenario, bad)
    fields = {e.field for e in info.value.errors}
    assert fields == {"experimental_arm", "n_replicates", "alpha", "n_patients", "target_power"}


def test_cli_power_json_is_the_same_analysis(scenario, analysis, capsys):
    parser = argparse.ArgumentParser()
    cli_trial.add_subcommands(parser.add_subparsers())
    args = parser.parse_args(["power", "--replicates", "60", "--n-patients", "80", "--pool-size", str(POOL), "--json"])
    assert args.handler(args) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["power"] == analysis.power.power and out["type1_error"] == analysis.type_one_error.power
    assert out["comparison"] == analysis.comparison and "sample_size" not in out
