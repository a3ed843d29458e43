"""``mhtcdt evsi``: exit 2 with one line per problem naming the option and the value (before any work), and a
small end-to-end run writing its tables, summary and JSON headline."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import tomli_w

from mhtcdt.decision.cli.main import main
from mhtcdt.decision.scenario.loading import scenario_text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--n", "0,100"], "--n = 0"),
        (["--n", "-50"], "--n = -50"),
        (["--n", "abc"], "--n = 'abc'"),
        (["--trial-cost", "-1", "100"], "--trial-cost (fixed) = -1"),
        (["--trial-cost", "1000", "-5"], "--trial-cost (per patient) = -5"),
        (["--population", "0"], "--population = 0"),
        (["--horizon", "0"], "--horizon = 0"),
        (["--endpoints", "QoL"], "--endpoints = 'QOL'"),
        (["--endpoints", "OS@24"], "--endpoints = 24"),  # the landmark needs 24 months of follow-up
        (["--informs", "costs"], "--informs = 'costs'"),
        (["--wtp", "-3"], "--wtp = -3"),
    ],
)
def test_bad_input_exits_2_naming_the_option(argv, expected, capsys):
    assert main(["evsi", *argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert expected in err, err
    assert "Traceback" not in err


def test_several_problems_are_all_listed(capsys):
    assert main(["evsi", "--n", "0", "--trial-cost", "-1", "-1", "--horizon", "0", "--quiet"]) == 2
    err = capsys.readouterr().err
    for option in ("--n", "--trial-cost (fixed)", "--trial-cost (per patient)", "--horizon"):
        assert option in err


def test_small_run_writes_tables_and_json(tmp_path: Path, capsys):
    data = tomllib.loads(scenario_text())
    data["cohort"]["n_screened"] = 120
    scenario = tmp_path / "small.toml"
    scenario.write_text(tomli_w.dumps(data), encoding="utf-8")
    out = tmp_path / "out"
    argv = [
        "evsi",
        str(scenario),
        "--n",
        "50,200",
        "--psa-draws",
        "120",
        "--methods",
        "regression",
        "--bootstrap",
        "3",
        "--price",
        "0",
        "--out",
        str(out),
        "--json",
        "--quiet",
    ]
    assert main(argv) == 0
    headline = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    curve = pd.read_csv(out / "trial_value_curve.csv")
    assert list(curve["n_patients"]) == [50, 200]
    assert headline["optimal_n"] in (0, 50, 200)
    assert headline["mf1001_n"] == 270 and headline["mf1001_evsi"] >= 0.0
    assert json.loads((out / "trial_value.json").read_text()) == headline
    assert "optimal n" in (out / "summary.txt").read_text()
