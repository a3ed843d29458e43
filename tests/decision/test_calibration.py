"""Calibration: targets copied faithfully, procedure reproduces targets, versioned file, CLI errors."""

import argparse
import copy
import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w

from mhtcdt.datafiles import load_toml
from mhtcdt.decision.cli import trial as cli_trial
from mhtcdt.decision.model import calibration, outcome

REFERENCE = Path("/work/shared/reference/clinical_targets.toml")


def lq_test_physics(patients, fields, seed):
    """Test double for the physics layer: LQ radiotherapy kill (alpha 0.12/Gy, beta 0.015/Gy^2) plus a
    heat kill of 4 log10 x deposit coverage when particles are used. Not the project's physics."""
    n, dose = fields.get("rt_n_fractions", 0), fields.get("rt_total_dose_Gy", 0.0)
    d = dose / n if n else 0.0
    k_rt = np.full(len(patients), n * (0.12 * d + 0.015 * d * d) / math.log(10))
    k_heat = 4.0 * patients["deposit_coverage_fraction"].to_numpy() if fields.get("agent") else 0.0 * k_rt
    return pd.DataFrame(
        dict(
            patient_id=patients["patient_id"].to_numpy(),
            log10_kill_rt=k_rt,
            log10_kill_heat=k_heat,
            log10_kill_total=k_rt + k_heat,
        )
    )


def test_targets_are_copied_faithfully_from_the_reference():
    if not REFERENCE.exists():
        pytest.skip("shared reference folder not available")
    ref = tomllib.loads(REFERENCE.read_text())
    _, targets = calibration.load_targets()
    t = {x.name: x for x in targets}
    mh = t["maier_hauff_2011_median_os"]
    assert mh.value == ref["maier_hauff_2011"]["median_os_from_first_recurrence"]
    assert [mh.lower, mh.upper] == ref["maier_hauff_2011"]["median_os_from_first_recurrence_ci95"]
    assert t["stupp_2005_rt_median_os"].value == ref["stupp_2005_rt_arm"]["median_os_rt"]
    assert t["stupp_2005_rt_os_24_months"].value == ref["stupp_2005_rt_arm"]["os_24_months_rt"]
    assert t["stupp_2005_rt_median_pfs"].value == ref["stupp_2005_rt_arm"]["median_pfs_rt"]
    assert t["stupp_2005_rt_median_os"].lower == pytest.approx(12.1 * 0.9)
    assert t["rt_alone_recurrent_median_os"].lower == 8.0 and t["rt_alone_recurrent_median_os"].upper == 10.0
    assert ref["dutch_recurrent_gbm_cohort"]["median_os_reirradiation"] == pytest.approx(9.2)
    assert mh.verified and not t["stupp_2005_rt_median_pfs"].verified


def test_procedure_reproduces_targets_generated_from_known_parameters(tmp_path):
    """Targets computed at a known parameter point are met again by the fitted point and every draw."""
    arms_spec, targets = calibration.load_targets()
    truth = dict(
        volume_doubling_time_days=40.0,
        growth_log_sd=0.5,
        log10_kill_effectiveness=0.5,
        infiltrative_fraction=0.02,
        pps_median_months_recurrent=7.0,
        pps_median_months_newly_diagnosed=8.0,
        pps_weibull_shape=1.6,
    )
    base = outcome.load_outcome_params(calibrated=False)
    pop = {}
    arms = {}
    for name, spec in sorted(arms_spec.items()):
        key = spec.get("derived_from", spec["indication"])
        pop.setdefault(
            key + str(spec["criteria"]),
            calibration.build_population(spec, 800, np.random.SeedSequence(5, spawn_key=(3, len(pop)))),
        )
        arms[name] = calibration.arm_with_physics(name, spec, pop[key + str(spec["criteria"])], 5, lq_test_physics)
    problem = calibration.CalibrationProblem(arms, targets, base, 5)
    values = problem.stats(truth)
    raw = copy.deepcopy(load_toml(outcome.DATA_PACKAGE, calibration.TARGETS_FILE))
    for t, v in zip(raw["targets"], values, strict=True):
        t["value"] = float(v)
        t.pop("ci95", None)
        t.pop("range", None)
        t["tolerance_relative"] = 0.1
    path = tmp_path / "targets.toml"
    path.write_bytes(tomli_w.dumps(raw).encode())
    res = calibration.calibrate(
        n_screened=800,
        seed=5,
        targets_path=path,
        physics_fn=lq_test_physics,
        n_steps=300,
        max_accepted=50,
        restarts=1,
    )
    assert res.table["within"].all()
    assert res.meta["draws_all_within"] == 1.0
    assert len(res.draws) == 50 and res.draws.nunique().min() > 5
    assert 0.2 < res.meta["covariate_scale"] < 1.5


def test_real_targets_met_with_lq_test_physics_and_file_roundtrip(tmp_path):
    res = calibration.calibrate(
        n_screened=1000, seed=3, physics_fn=lq_test_physics, n_steps=300, max_accepted=40, restarts=1
    )
    assert res.table["within"].all(), calibration.format_table(res.table)
    out = calibration.write_calibration(res, tmp_path / "cal.toml")
    p = outcome.load_outcome_params(out)
    assert p.free == pytest.approx(res.free)
    assert len(p.draws) == 40
    assert p.covariate_scale == pytest.approx(res.meta["covariate_scale"])
    assert p.draw(3).free["pps_weibull_shape"] == pytest.approx(res.draws["pps_weibull_shape"].iloc[3])
    text = calibration.format_table(res.table)
    assert "No randomised NanoTherm evidence" in text
    for name in res.table["target"]:
        assert name in text


def test_versioned_calibration_file_meets_every_target():
    path = outcome.DEFAULT_CALIBRATION_PATH
    if not path.exists():
        pytest.fail("the versioned calibration file is missing: run `mhtcdt calibrate`")
    doc = tomllib.loads(path.read_text())
    assert doc["meta"]["physics"] == "real"
    assert all(t["within"] for t in doc["targets"])
    assert len(doc["draws"]) >= 50
    p = outcome.load_outcome_params()
    # free parameters added after the file was written load with their legacy defaults
    assert p.free == pytest.approx({**outcome.LEGACY_FREE_DEFAULTS, **doc["free"]})
    for t in doc["targets"]:
        assert t["lower"] <= t["simulated"] <= t["upper"]


def _parser():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli_trial.add_subcommands(sub)
    return parser


def test_cli_bad_input_one_line_per_problem(capsys):
    args = _parser().parse_args(["calibrate", "--n-screened", "5", "--steps", "10"])
    assert args.handler(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: --") for line in err)
    # power's arguments are typed: a bad value is refused while parsing, exit 2 with one line naming it
    from mhtcdt.decision.cli.main import main

    for argv, option in ((["--alpha", "1.5"], "--alpha"), (["--replicates", "0"], "--replicates")):
        with pytest.raises(SystemExit) as info:
            main(["power", *argv])
        assert info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"argument {option}" in err[0], err


@pytest.mark.slow
def test_versioned_calibration_reproduced_with_the_real_physics():
    """Re-simulate every calibration arm with the real physics and the calibrated parameters: each target
    is inside its acceptance interval (slow: runs the physics unless its cache is current)."""
    doc = tomllib.loads(outcome.DEFAULT_CALIBRATION_PATH.read_text())
    seed, n_screened = doc["meta"]["seed"], doc["meta"]["n_screened"]
    arms_spec, targets = calibration.load_targets()
    pops, arms = {}, {}
    for name in sorted({t.arm for t in targets}):
        spec = arms_spec[name]
        key = (
            spec.get("derived_from", spec["indication"]),
            tuple(spec["criteria"]),
            tuple(sorted(spec.get("set_columns", {}).items())),
        )
        if key not in pops:
            pops[key] = calibration.build_population(
                spec, n_screened, np.random.SeedSequence(seed, spawn_key=(3, len(pops)))
            )
        arms[name] = calibration.arm_with_physics(name, spec, pops[key], seed)
    params = outcome.load_outcome_params()
    problem = calibration.CalibrationProblem(arms, targets, params, seed)
    table = calibration.targets_table(problem, params.free)
    assert table["within"].all(), calibration.format_table(table)
