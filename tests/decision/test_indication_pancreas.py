"""Locally advanced pancreatic cancer (issue 15): own base file and calibration (comparator targets only; the heat
effect declared as assumed, kept at its prior), the preset runs end to end."""

import json
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from mhtcdt.decision.cli import main as cli
from mhtcdt.decision.model import calibration_file, calibration_targets, outcome
from mhtcdt.decision.scenario.checks import scenario_problems
from mhtcdt.decision.scenario.loading import parse_scenario_text, scenario_text
from mhtcdt.errors import InputError

TARGETS = str(resources.files(outcome.DATA_PACKAGE) / "data" / "calibration_targets_pancreas.toml")
PRESET = "pancreas_locally_advanced.toml"


def test_targets_and_assumed_heat_effect():
    ts = calibration_targets.load_targets(TARGETS)
    by = {t.name: t for t in ts.targets}
    # SCALOP CAP-CRT (Hurt 2017 abstract): median OS 17.6 (14.6-22.7), PFS 12.0 (10.0-15.2)
    assert (by["scalop_cap_crt_median_os"].value, by["scalop_cap_crt_median_os"].lower) == (17.6, 14.6)
    assert by["scalop_cap_crt_median_pfs"].upper == 15.2
    assert calibration_targets.calibrated_effects(ts) == ["folfirinox", "gemcitabine", "radiotherapy"]
    assert set(ts.assumed_effects) == {"heat"}
    assert outcome.base_params(ts.outcome_params_file).rano_volume_ratio == pytest.approx(1.2**3, abs=1e-3)


def test_bad_assumed_effect_names_the_field(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(Path(TARGETS).read_text().replace("[assumed_effects]\nheat =", "[assumed_effects]\nsurgery ="))
    with pytest.raises(InputError) as info:
        calibration_targets.load_targets(path)
    assert info.value.field == "targets.assumed_effects.surgery"


def test_packaged_pancreas_calibration_in_and_out_of_sample_and_heat_at_its_prior():
    doc = tomllib.loads(outcome.default_calibration_path("pancreas").read_text())
    meta = doc["meta"]
    assert meta["indications"] == ["pancreas"] and set(meta["assumed_effects"]) == {"heat"}
    for table in ("targets", "out_of_sample"):
        assert len(doc[table]) == 4  # SCALOP OS and PFS medians, LAP07 OS HR, NEOPAN PFS HR
        for t in doc[table]:
            assert t["lower"] <= t["simulated"] <= t["upper"], (table, t["target"], t["simulated"])
            assert t["mc_ratio"] < 0.25, (table, t["target"], t["mc_ratio"])
    assert all(meta["out_of_sample_patients_per_arm"][a] >= 5 * n for a, n in meta["patients_per_arm"].items())
    # the heat ratio is not informed by any target: its posterior spans most of the prior 1/3-3 (log scale)
    heat = np.log([d["heat_kill_effectiveness_ratio"] for d in doc["draws"]])
    lo, hi = np.quantile(heat, [0.05, 0.95])
    assert hi - lo > 0.6 * (2 * np.log(3.0)), (np.exp(lo), np.exp(hi))


def test_preset_valid_with_its_own_calibration_and_runs(tmp_path, capsys):
    scenario = parse_scenario_text(scenario_text(PRESET), source=PRESET)
    assert scenario_problems(scenario) == []
    params = calibration_file.scenario_params(scenario)
    assert params.provenance["indications"] == ["pancreas"] and params.provenance["assumed_effects"] == ["heat"]
    out = tmp_path / "pancreas"
    argv = ["demo", "--indication", "pancreas", "--psa-draws", "20", "--no-store", "--quiet", "--out", str(out)]
    assert cli.main(argv) == 0
    meta = json.loads((out / "run.json").read_text())
    assert meta["calibration"]["indications"] == ["pancreas"]
    summary = (out / "survival_summary.csv").read_text()
    assert "Chemoradiation" in summary and "NanoTherm MHT + chemoradiation" in summary
    assert "NanoTherm MHT + chemoradiation" in capsys.readouterr().out
