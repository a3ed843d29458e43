"""Chemotherapy comparators for locally advanced pancreatic cancer (issue 15, item 2): gemcitabine and FOLFIRINOX
cycles as arm fields, refused outside the pancreas; their kill in the outcome model; their costs; LAP07 and NEOPAN
targets inside their acceptance; the comparator preset validates and runs."""

import json
import math
import tomllib

import numpy as np
import pandas as pd
import pytest

from mhtcdt.decision.cli import main as cli
from mhtcdt.decision.model import economic_model, outcome
from mhtcdt.decision.scenario.checks import scenario_problems, validate_scenario_text
from mhtcdt.decision.scenario.loading import bundled_scenarios, parse_scenario_text, scenario_text
from mhtcdt.errors import InputError, InputErrors
from mhtcdt.physics import Protocol

PRESET = "pancreas_chemotherapy_comparators.toml"


# ----------------------------------------------------------------------------- the arm fields
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"gemcitabine_cycles": -1}, "gemcitabine_cycles"),
        ({"folfirinox_cycles": 25}, "folfirinox_cycles"),
        ({"gemcitabine_cycles": 1.5}, "gemcitabine_cycles"),
        ({"gemcitabine_cycles": 2, "folfirinox_cycles": 4}, "folfirinox_cycles"),  # one regimen per arm
    ],
)
def test_bad_chemotherapy_fields_name_the_field(fields, field):
    with pytest.raises(InputError) as info:
        Protocol(**fields)
    assert info.value.field == field


def test_chemotherapy_fields_mark_systemic_therapy():
    assert Protocol(gemcitabine_cycles=2).has_systemic_therapy
    assert Protocol(folfirinox_cycles=4).has_pancreas_chemotherapy
    assert not Protocol(rt_total_dose_Gy=50.4, rt_n_fractions=28).has_systemic_therapy


def _fields(problems: InputErrors) -> set[str]:
    return {e.field for e in problems.errors}


def test_glioblastoma_drug_in_a_pancreas_arm_is_refused_naming_the_field():
    text = scenario_text(PRESET).replace("gemcitabine_cycles = 2", "gemcitabine_cycles = 2\nlomustine = true")
    with pytest.raises(InputErrors) as info:
        validate_scenario_text(text)
    assert "arms[2].lomustine" in _fields(info.value)
    message = next(e.message for e in info.value.errors if e.field == "arms[2].lomustine")
    assert "recurrent_glioblastoma" in message and "pancreas" in message


def test_pancreas_chemotherapy_in_a_glioblastoma_arm_is_refused_naming_the_field():
    text = scenario_text("default.toml")
    assert "[[arms]]" in text
    text = text.replace("[[arms]]", "[[arms]]\nfolfirinox_cycles = 4", 1)
    with pytest.raises(InputErrors) as info:
        validate_scenario_text(text)
    assert "arms[0].folfirinox_cycles" in _fields(info.value)


def test_validate_cli_exit_2_on_a_foreign_drug(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(scenario_text(PRESET).replace("folfirinox_cycles = 4", "folfirinox_cycles = 4\nbevacizumab = true"))
    assert cli.main(["validate", str(path)]) == 2
    assert "arms[3].bevacizumab" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the outcome model
def test_chemotherapy_kill_is_per_cycle_and_reaches_the_whole_burden():
    """Without physics kill, the surviving fraction is 10^-(k x cycles) in the bulk and outside the local treatment
    alike (closed form), and the cycles set the treatment phase (28 or 14 days each)."""
    params = outcome.base_params("outcome_params_pancreas.toml").with_free(
        gemcitabine_log10_kill_per_cycle=0.7, folfirinox_log10_kill_per_cycle=0.3, infiltrative_fraction=0.5
    )
    n = 4
    patients = pd.DataFrame(
        {
            "patient_id": np.arange(n),
            "tumour_volume_cm3": np.full(n, 30.0),
            "kps": np.full(n, 90),
            "age_years": np.full(n, 60.0),
            "log10_kill_total": np.zeros(n),
            "log10_kill_rt": np.zeros(n),
            "indication": ["pancreas"] * n,
            "gemcitabine_cycles": [0, 2, 0, 0],
            "folfirinox_cycles": [0, 0, 4, 12],
        }
    )
    out = outcome.simulate_outcomes(patients, params, seed=3)
    expected = [0.0, 1.4, 1.2, 3.6]
    np.testing.assert_allclose(out["effective_log10_kill"], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out["surviving_burden_cm3"], 30.0 * 10.0 ** -np.array(expected), rtol=1e-12)
    assert outcome.treatment_months(Protocol(gemcitabine_cycles=2)) == pytest.approx(56 / (365.25 / 12))
    assert outcome.treatment_months(Protocol(folfirinox_cycles=12)) == pytest.approx(168 / (365.25 / 12))
    assert outcome.protocol_effects(Protocol(folfirinox_cycles=1)) == ["folfirinox"]


def test_other_indications_hold_the_chemotherapy_kill_at_zero():
    """Base files and calibrations without the pancreas parameters load them at 0 (no effect), with a 'not used'
    prior; a negative kill is refused."""
    glioblastoma = outcome.base_params()
    assert glioblastoma.free["gemcitabine_log10_kill_per_cycle"] == 0.0
    assert glioblastoma.priors["folfirinox_log10_kill_per_cycle"]["range"] == [0.0, 0.001]
    with pytest.raises(InputError) as info:
        glioblastoma.with_free(gemcitabine_log10_kill_per_cycle=-0.1)
    assert info.value.field == "free.gemcitabine_log10_kill_per_cycle"


# ----------------------------------------------------------------------------- costs
def test_chemotherapy_costs_per_cycle():
    scenario = parse_scenario_text(scenario_text(PRESET), source=PRESET)
    costs = scenario.economics.costs
    # 3 doses x (GBP 162.76 + 4 x 32.55) + SB13Z 307.58 + 2 x SB15Z 332.83 (preset notes)
    assert costs.gemcitabine_cycle == round(3 * (162.76 + 4 * 32.55) + 307.58 + 2 * 332.83)
    assert economic_model.one_off_cost(scenario, scenario.arm("Gemcitabine")) == 2 * costs.gemcitabine_cycle
    assert economic_model.one_off_cost(scenario, scenario.arm("FOLFIRINOX")) == 4 * costs.folfirinox_cycle
    assert economic_model.one_off_cost(scenario, scenario.arm("Chemoradiation")) == costs.rt_course


# ----------------------------------------------------------------------------- calibration and preset
def test_packaged_pancreas_calibration_fits_lap07_and_neopan_in_and_out_of_sample():
    doc = tomllib.loads(outcome.default_calibration_path("pancreas").read_text())
    assert {"gemcitabine", "folfirinox"} <= set(doc["meta"]["calibrated_effects"])
    for table in ("targets", "out_of_sample"):
        rows = {t["target"]: t for t in doc[table]}
        for name in ("lap07_crt_vs_gemcitabine_hr_os", "neopan_folfirinox_vs_gemcitabine_hr_pfs"):
            t = rows[name]
            assert t["lower"] <= t["simulated"] <= t["upper"], (table, name, t["simulated"])
            assert t["mc_ratio"] < 0.25, (table, name, t["mc_ratio"])
    # the published intervals (LAP07: 2/sqrt(221 deaths) on the log scale; NEOPAN: the 95 % CI 0.5-1.0)
    rows = {t["target"]: t for t in doc["targets"]}
    lap07 = rows["lap07_crt_vs_gemcitabine_hr_os"]
    assert lap07["upper"] == pytest.approx(1.03 * math.exp(1.959964 * 2 / math.sqrt(221)), rel=1e-4)
    assert (
        rows["neopan_folfirinox_vs_gemcitabine_hr_pfs"]["lower"],
        rows["neopan_folfirinox_vs_gemcitabine_hr_pfs"]["upper"],
    ) == (0.5, 1.0)
    # each chemotherapy kill is informed by its target: the posterior is narrower than its prior range
    priors = outcome.base_params("outcome_params_pancreas.toml").priors
    for key in ("gemcitabine_log10_kill_per_cycle", "folfirinox_log10_kill_per_cycle"):
        draws = np.array([d[key] for d in doc["draws"]])
        lo, hi = np.quantile(draws, [0.025, 0.975])
        low, high = priors[key]["range"]
        assert hi - lo < 0.95 * (high - low), (key, lo, hi)


def test_comparator_preset_is_shipped_valid_and_names_its_arms():
    assert PRESET in bundled_scenarios()  # the app's scenario picker lists bundled_scenarios()
    scenario = parse_scenario_text(scenario_text(PRESET), source=PRESET)
    assert scenario_problems(scenario) == []
    arms = {a.name: a for a in scenario.arms}
    assert arms["Gemcitabine"].gemcitabine_cycles == 2 and not arms["Gemcitabine"].has_rt
    assert arms["FOLFIRINOX"].folfirinox_cycles == 4
    assert arms["NanoTherm MHT + chemoradiation"].has_mht and scenario.trial.reference_arm == "Chemoradiation"


@pytest.mark.slow
def test_comparator_preset_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "pancreas_chemo"
    argv = ["demo", "--preset", PRESET.removesuffix(".toml"), "--psa-draws", "20", "--no-store", "--quiet"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    meta = json.loads((out / "run.json").read_text())
    assert meta["calibration"]["indications"] == ["pancreas"]
    summary = (out / "survival_summary.csv").read_text()
    for arm in ("Chemoradiation", "NanoTherm MHT + chemoradiation", "Gemcitabine", "FOLFIRINOX"):
        assert arm in summary
    assert "FOLFIRINOX" in (out / "incremental.csv").read_text()
