"""Scenario presets: the standard of care and the recurrent comparators validate and run end to end."""

import json

import pytest

from mhtcdt.decision.cli import main as cli
from mhtcdt.decision.model import calibration_file
from mhtcdt.decision.run import store
from mhtcdt.decision.scenario.checks import scenario_problems
from mhtcdt.decision.scenario.loading import bundled_scenarios, parse_scenario_text, scenario_text

PRESETS = [
    "default.toml",
    "newly_diagnosed_stupp.toml",
    "recurrent_nanotherm_vs_lomustine.toml",
    "recurrent_nanotherm_vs_bsc.toml",
    "recurrent_all_comparators.toml",
    "prostate_recurrent.toml",
    "pancreas_locally_advanced.toml",
    "pancreas_chemotherapy_comparators.toml",
]


def test_every_preset_is_shipped_and_valid():
    assert set(PRESETS) <= set(bundled_scenarios())
    for name in PRESETS:
        scenario = parse_scenario_text(scenario_text(name), source=name)
        assert scenario_problems(scenario) == [], name


def test_presets_express_the_comparators():
    stupp = parse_scenario_text(scenario_text("newly_diagnosed_stupp.toml"))
    assert stupp.cohort.disease_setting == "newly_diagnosed"
    tmz = stupp.arm("RT + temozolomide")
    assert tmz.tmz_concomitant and tmz.tmz_adjuvant_cycles == 6 and tmz.rt_total_dose_Gy == 60
    four = parse_scenario_text(scenario_text("recurrent_all_comparators.toml"))
    names = {a.name: a for a in four.arms}
    assert names["Lomustine"].lomustine and not names["Best supportive care"].has_rt
    assert names["Re-irradiation"].rt_total_dose_Gy == 30 and names["NanoTherm MHT + RT"].has_mht
    default = parse_scenario_text(scenario_text("default.toml"))
    assert default.trial.reference_arm == "RT alone"  # the default keeps its comparator


@pytest.mark.parametrize(
    ("preset", "reference", "experimental"),
    [
        ("newly_diagnosed_stupp", "RT alone", "RT + temozolomide"),
        ("recurrent_nanotherm_vs_lomustine", "Lomustine", "NanoTherm MHT + RT"),
    ],
)
def test_preset_runs_end_to_end(tmp_path, capsys, preset, reference, experimental):
    out, db = tmp_path / preset, tmp_path / "runs.duckdb"
    argv = ["demo", "--preset", preset, "--psa-draws", "40", "--store", str(db), "--quiet", "--out", str(out)]
    assert cli.main(argv) == 0
    meta = json.loads((out / "run.json").read_text())
    cal = meta["calibration"]
    assert cal["calibration_id"]
    assert cal["physics_matches"] == (cal["physics_source_hash"] == calibration_file.physics_source_hash())
    assert len(meta["calibration"]["calibration_sha256"]) == 64
    # the store records the same calibration as run.json
    run_id = store.list_runs(db)["run_id"].iloc[0]
    stored = store.load_table(run_id, "calibration", db).iloc[0]
    assert stored["calibration_id"] == meta["calibration"]["calibration_id"]
    assert stored["calibration_sha256"] == meta["calibration"]["calibration_sha256"]
    summary = (out / "survival_summary.csv").read_text()
    assert reference in summary and experimental in summary
    text = capsys.readouterr().out
    assert experimental in text


def test_unknown_preset_exit_2(capsys):
    assert cli.main(["demo", "--preset", "no_such_preset"]) == 2
    assert "--preset = 'no_such_preset'" in capsys.readouterr().err
