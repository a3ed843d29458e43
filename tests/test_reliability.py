"""Reliability (issue 19): every bad-input class found by probing the CLI, the Python API and the app,
each a clear error (exit code 2 or ``InputError``) naming the field, with no file and no store row left
behind; provenance that never lies; output that cannot inject formulas or escape sequences.

Scenario files are refused by ``validate`` and by ``run`` alike, before any compute (``run_pipeline`` is
replaced by a function that fails the test if it is reached). Runs that do compute use a small scenario
whose pipeline and PSA are computed once per module and served to the CLI in place of the real ones.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w

from mhtcdt.decision.cli.main import main
from mhtcdt.decision.model.outcome import DEFAULT_CALIBRATION_PATH
from mhtcdt.decision.scenario.loading import scenario_text
from mhtcdt.errors import InputError, InputErrors
from tests.processes import alive, descendants

ROOT = Path(__file__).resolve().parents[1]


def _data() -> dict:
    return tomllib.loads(scenario_text())


def _write(folder: Path, data: dict | str, name: str = "s.toml") -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else tomli_w.dumps(data), encoding="utf-8")
    return path


def _set(path: str, value):
    """An edit of the default scenario mapping: set the dotted ``path`` (list indices as ``[i]``)."""

    def edit(data: dict) -> None:
        parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
        cur = data
        for part in parts[:-1]:
            cur = cur[int(part[1:-1])] if part.startswith("[") else cur[part]
        last = parts[-1]
        if last.startswith("["):
            cur[int(last[1:-1])] = value
        else:
            cur[last] = value

    return edit


def _many(*edits):
    def edit(data: dict) -> None:
        for e in edits:
            e(data)

    return edit


@pytest.fixture
def no_compute(monkeypatch):
    """Fail the test if a run reaches the pipeline: every check here must come before any compute."""

    def refuse(*args, **kwargs):
        raise AssertionError("the pipeline ran: the problem was not found before any compute")

    monkeypatch.setattr("mhtcdt.decision.run.pipeline.run_pipeline", refuse)


# --------------------------------------------------------------------------------------------------
# Scenario files: validate == run, every problem at once, field named, nothing left behind
# --------------------------------------------------------------------------------------------------
SCENARIO_CASES = [
    ("psa_draws below the EVPPI minimum", _set("economics.psa_draws", 15), "economics.psa_draws = 15"),
    (
        "normal cost range that samples negative costs",
        _many(
            _set("economics.uncertainty[4].distribution", "normal"),
            _set("economics.uncertainty[4].low", 100.0),
            _set("economics.uncertainty[4].high", 14900.0),
        ),
        "economics.uncertainty[4].distribution = 'normal'",
    ),
    (
        "utility range above 1",
        _many(_set("economics.uncertainty[5].distribution", "normal"), _set("economics.uncertainty[5].high", 1.2)),
        "economics.uncertainty[5].high = 1.2",
    ),
    (
        "cost range below 0",
        _many(_set("economics.uncertainty[4].distribution", "normal"), _set("economics.uncertainty[4].low", -100.0)),
        "economics.uncertainty[4].low = -100.0",
    ),
    (
        "indication its calibration was not made for",
        _many(_set("cohort.indication", "pancreas"), _set("calibration", str(DEFAULT_CALIBRATION_PATH))),
        "cohort.indication = 'pancreas'",
    ),
    (
        "glioblastoma marker in a prostate cohort",
        _many(_set("cohort.indication", "prostate"), _set("cohort.criteria", ["ecog <= 1"])),
        "trial.stratify_by[0] = 'mgmt_methylated': mgmt_methylated is a marker of recurrent_glioblastoma only",
    ),
    ("utility below 0", _set("economics.utilities.progressed", -0.3), "economics.utilities.progressed = -0.3"),
    (
        "reference arm not randomised",
        _many(
            lambda d: d["arms"].append(dict(d["arms"][1], name="Third")),
            _set("trial.allocation", {"NanoTherm MHT + RT": 1, "Third": 1}),
        ),
        "trial.reference_arm = 'RT alone': is not randomised",
    ),
    ("reference arm not an arm", _set("trial.reference_arm", "Placebo"), "trial.reference_arm = 'Placebo'"),
    (
        "Simpson with an odd number of cycles",
        _many(_set("economics.counting", "simpson"), _set("economics.horizon_years", 0.25)),
        "economics.counting = 'simpson'",
    ),
    (
        "Simpson with Kaplan-Meier curves",
        _many(_set("economics.counting", "simpson"), _set("economics.survival_source", "kaplan_meier")),
        "economics.counting = 'simpson'",
    ),
    ("horizon shorter than one cycle", _set("economics.horizon_years", 0.05), "economics.horizon_years = 0.05"),
    ("true for a number of sessions", _set("arms[1].n_sessions", True), "arms[1].n_sessions = True"),
    ("true for the willingness to pay", _set("economics.willingness_to_pay", True), "economics.willingness_to_pay"),
    (
        "field above the device range",
        _many(
            _set("arms[1].field_kA_per_m", 80.0),
            _set("arms[1].allow_above_safety_limit", True),
            lambda d: d["arms"][1].pop("target_temperature_C"),
        ),
        "arms[1].field_kA_per_m = 80.0",
    ),
    ("control characters in the name", _set("name", "evil\x1b[2J\x07"), "name = 'evil\\x1b[2J\\x07'"),
    ("not a currency code", _set("economics.currency", "$$$"), "economics.currency = '$$$'"),
    ("an unknown key", _set("cohort.n_screend", 10), "cohort.n_screend = 10: unknown field"),
    ("a criterion that does not parse", _set("cohort.criteria[0]", "kps >>= 60"), "cohort.criteria[0] = 'kps >>= 60'"),
]


@pytest.mark.parametrize("edit, expected", [c[1:] for c in SCENARIO_CASES], ids=[c[0] for c in SCENARIO_CASES])
def test_bad_scenario_is_refused_by_validate_and_run_before_any_compute(
    tmp_path, capsys, monkeypatch, no_compute, edit, expected
):
    data = _data()
    edit(data)
    path = _write(tmp_path, data)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err, err
    assert "Traceback" not in err and "{'schema_version'" not in err and "<section>" not in err
    monkeypatch.chdir(tmp_path)
    out, db = tmp_path / "out", tmp_path / "runs.duckdb"
    assert main(["run", str(path), "--out", str(out), "--store", str(db), "--quiet"]) == 2
    assert expected in capsys.readouterr().err
    assert not out.exists() and not db.exists() and not (tmp_path / "mhtcdt-results").exists()


def test_every_problem_of_every_stage_is_reported_at_once(tmp_path, capsys, no_compute):
    data = _data()
    for edit in (
        _set("cohort.n_screened", -5),  # a field error
        _set("arms[1].n_sessions", True),  # a strict type
        _set("trial.reference_arm", "RT alon"),  # a cross-field rule
        _set("economics.psa_draws", 12),  # a rule against another layer's minimum
        lambda d: d["cohort"]["criteria"].append("kps >>= 3"),  # a criterion (the probe cohort)
        lambda d: d["trial"]["stratify_by"].append("nope"),  # a stratum
    ):
        edit(data)
    assert main(["validate", str(_write(tmp_path, data))]) == 2
    err = capsys.readouterr().err
    for field in (
        "cohort.n_screened = -5",
        "arms[1].n_sessions = True",
        "trial.reference_arm = 'RT alon'",
        "economics.psa_draws = 12",
        "cohort.criteria[4] = 'kps >>= 3'",
        "trial.stratify_by[2] = 'nope'",
    ):
        assert field in err, (field, err)
    assert err.startswith("error: 6 problem(s):")


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.toml"
    os.mkfifo(path)
    return path


FILE_CASES = [
    ("a FIFO (would block)", _fifo, "is not a regular file"),
    ("/dev/zero", lambda tmp: Path("/dev/zero"), "is not a regular file"),
    ("a folder", lambda tmp: tmp, "is a folder"),
    ("a missing file", lambda tmp: tmp / "nope.toml", "no such file"),
    ("2 MB", lambda tmp: _write(tmp, "# " + "x" * 2_000_000 + "\n"), "at most 1,000,000 are accepted"),
    ("not UTF-8", lambda tmp: (tmp / "latin.toml").write_bytes(b"name = '\xe9'\n") and tmp / "latin.toml", "UTF-8"),
    ("nested 5,000 deep", lambda tmp: _write(tmp, "a = " + "[" * 5000 + "]" * 5000 + "\n"), "nest at most 16 deep"),
    ("nested 40 deep", lambda tmp: _write(tmp, "a = " + "[" * 40 + "]" * 40 + "\n"), "nest at most 16 deep"),
    ("20,000 keys", lambda tmp: _write(tmp, "".join(f"k{i} = 1\n" for i in range(20_000))), "at most 10,000 keys"),
    (
        "500,000 unknown keys",
        lambda tmp: _write(tmp, "".join(f"k{i} = 1\n" for i in range(500_000))),
        "at most 1,000,000 are accepted",
    ),
]


@pytest.mark.parametrize("make, expected", [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_irregular_or_oversized_scenario_files_exit_2_at_once(tmp_path, capsys, make, expected):
    path = make(tmp_path)
    for command in ("validate", "run"):
        t0 = time.monotonic()
        assert (
            main([command, str(path), "--out", str(tmp_path / "o")] if command == "run" else [command, str(path)]) == 2
        )
        assert time.monotonic() - t0 < 30
        err = capsys.readouterr().err
        assert expected in err and len(err.splitlines()) == 2, err  # header + one problem
    assert not (tmp_path / "o").exists()


def test_many_problems_give_a_bounded_message(tmp_path, capsys):
    """5,000 unknown keys: the first 20 problems and how many more, not megabytes of errors."""
    data = tomllib.loads(scenario_text())
    data.update({f"unknown_{i}": 1 for i in range(5000)})
    path = _write(tmp_path, data)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "error: 5,000 problem(s):" and err[-1].strip() == "... and 4,980 more problem(s)"
    assert len(err) == 22


# --------------------------------------------------------------------------------------------------
# Arguments: one line, exit 2, before any work
# --------------------------------------------------------------------------------------------------
ARGUMENT_CASES = [
    (["demo", "--seed", "-1"], "mhtcdt demo: error: argument --seed"),
    (["demo", "--seed", str(2**64)], "mhtcdt demo: error: argument --seed"),
    (["demo", "--psa-draws", "5"], "mhtcdt demo: error: argument --psa-draws"),
    (["power", "--pool-size", "0"], "mhtcdt power: error: argument --pool-size"),
    (["power", "--alpha", "1.5"], "mhtcdt power: error: argument --alpha"),
    (["power", "--bogus"], "mhtcdt power: error: unrecognized arguments: --bogus"),
    (["calibrate", "--particles", "0"], "mhtcdt calibrate: error: argument --particles"),
    (["app", "--port", "0"], "mhtcdt app: error: argument --port"),
    (["runs", "list", "--limit", "0"], "mhtcdt runs list: error: argument --limit"),
    (["subgroups", "--seed", "-1"], "mhtcdt subgroups: error: argument --seed"),
    (["subgroups", "--wtp", "-5"], "mhtcdt subgroups: error: argument --wtp"),
    (["subgroups", "--psa-draws", "0"], "mhtcdt subgroups: error: argument --psa-draws"),
    (["compare", "default.toml", "--decision-years", "0"], "mhtcdt compare: error: argument --decision-years"),
    (["compare", "default.toml", "--patients-per-year", "nan"], "mhtcdt compare: error: argument --patients-per-year"),
]


@pytest.mark.parametrize("argv, expected", ARGUMENT_CASES, ids=[" ".join(a) for a, _ in ARGUMENT_CASES])
def test_bad_argument_is_one_line_and_exit_2(capsys, no_compute, argv, expected):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(expected), err


def test_power_accepts_quiet():
    from mhtcdt.decision.cli.main import build_parser

    args = build_parser().parse_args(["power", "--quiet", "--replicates", "10"])
    assert args.quiet and args.replicates == 10


def _existing_file(tmp: Path) -> Path:
    path = tmp / "a_file"
    path.write_text("x")
    return path


def _not_a_store(tmp: Path) -> Path:
    path = tmp / "notes.duckdb"
    path.write_text("not a database")
    return path


OUTPUT_CASES = [
    ("--out an existing file", lambda t: ["--out", str(_existing_file(t))], "--out = "),
    ("--out a folder with files", lambda t: ["--out", str(_existing_file(t).parent)], "already holds files"),
    ("--out under a file", lambda t: ["--out", str(_existing_file(t) / "sub")], "--out = "),
    ("--out in /proc", lambda t: ["--out", "/proc/mhtcdt/x"], "cannot be created"),
    ("--store a folder", lambda t: ["--store", str(t)], "--store = "),
    ("--store not a DuckDB file", lambda t: ["--store", str(_not_a_store(t))], "is not a DuckDB results store"),
]


@pytest.mark.parametrize("make, expected", [c[1:] for c in OUTPUT_CASES], ids=[c[0] for c in OUTPUT_CASES])
def test_unusable_output_is_refused_before_the_run(tmp_path, capsys, no_compute, monkeypatch, make, expected):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["demo", "--quiet", *make(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.splitlines()) == 2, err
    after = sorted(p.name for p in tmp_path.iterdir())
    assert after == before or set(after) - set(before) <= {"a_file", "notes.duckdb"}


def test_runs_list_of_a_missing_or_foreign_store_exits_2_and_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "nonexistent" / "x.duckdb"
    assert main(["runs", "list", "--store", str(missing)]) == 2
    assert "no results store" in capsys.readouterr().err
    foreign = _not_a_store(tmp_path)
    assert main(["runs", "list", "--store", str(foreign)]) == 2
    assert "not a DuckDB results store" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.duckdb"]  # no .lock next to it


def test_runs_list_before_the_first_run_says_so_and_creates_nothing(tmp_path, capsys, monkeypatch):
    default = tmp_path / "data" / "mhtcdt" / "runs.duckdb"
    monkeypatch.setenv("MHTCDT_STORE", str(default))
    assert main(["runs", "list"]) == 0
    assert "no runs recorded yet" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------------
# The Python API: InputError naming the field, never NaN for bad input
# --------------------------------------------------------------------------------------------------
def _api_cases():
    from mhtcdt import economics, physics
    from mhtcdt.cohorts import criteria_preset, parse_criterion
    from mhtcdt.decision.trial import survival

    nan = float("nan")

    def trial_with_nan_time():
        rng = np.random.default_rng(0)
        trial = pd.DataFrame(
            {
                "arm": ["a"] * 10 + ["b"] * 10,
                "pfs_months": rng.exponential(5, 20),
                "pfs_event": True,
                "os_months": rng.exponential(9, 20),
                "os_event": True,
            }
        )
        trial.loc[3, "os_months"] = nan
        return survival.analyse(trial, reference_arm="a")

    def protocol_with(volume):
        from mhtcdt.cohorts import generate_cohort

        patients = generate_cohort("recurrent_glioblastoma", 3, seed=1)
        patients.loc[1, "tumour_volume_cm3"] = volume
        return physics.simulate_protocol(patients, physics.protocol_preset("rt_alone"), 1)

    return [
        ("value_based_price NaN cost", lambda: economics.value_based_price(nan, 0.1, 3e4, 2e4, 1.0), "inc_cost"),
        (
            "value_based_price infinite cost",
            lambda: economics.value_based_price(np.inf, 0.1, 3e4, 2e4, 1.0),
            "inc_cost",
        ),
        ("value_based_price array", lambda: economics.value_based_price([1.0, 2.0], 0.1, 3e4, 2e4, 1.0), "inc_cost"),
        ("discount_factors NaN time", lambda: economics.discount_factors(np.array([0.0, nan]), 0.035), "time_years"),
        ("discount_factors negative time", lambda: economics.discount_factors(np.array([-1.0]), 0.035), "time_years"),
        ("discount_factors text", lambda: economics.discount_factors(["a"], 0.035), "time_years"),
        ("discount_factors array rate", lambda: economics.discount_factors([1.0], [0.03, 0.04]), "discount_rate"),
        ("ceac with 0 draws", lambda: economics.ceac(np.empty((0, 2)), np.empty((0, 2)), 3e4), "cost"),
        ("evpi with 0 draws", lambda: economics.evpi(np.empty((0, 2)), np.empty((0, 2)), 3e4), "cost"),
        ("equivalent_annual_cost NaN", lambda: economics.equivalent_annual_cost(nan, 10.0, 0.035), "capital"),
        (
            "equivalent_annual_cost lifetime 0",
            lambda: economics.equivalent_annual_cost(1e5, 0.0, 0.0),
            "lifetime_years",
        ),
        ("one_way_dsa ranges not a mapping", lambda: economics.one_way_dsa(sum, {"a": 1.0}, np.array([])), "ranges"),
        ("population_multiplier 2-D", lambda: economics.population_multiplier(np.ones((2, 2))), "patients_per_year"),
        ("life_table of a list", lambda: economics.life_table(["uk"]), "life_table"),
        ("jurisdiction of a list", lambda: economics.jurisdiction(["nice"]), "jurisdiction"),
        ("protocol_preset of a list", lambda: physics.protocol_preset(["rt_alone"]), "preset"),
        ("criteria_preset of a list", lambda: criteria_preset(["x"]), "criteria_preset"),
        ("parse_criterion with columns NaN", lambda: parse_criterion("kps > 1", nan), "columns"),
        ("survival.analyse NaN time", trial_with_nan_time, "trial.os_months[3]"),
        ("simulate_protocol NaN tumour volume", lambda: protocol_with(nan), "patients.tumour_volume_cm3[1]"),
        ("simulate_protocol negative tumour volume", lambda: protocol_with(-3.0), "patients.tumour_volume_cm3[1]"),
    ]


@pytest.mark.parametrize("index", range(len(_api_cases())), ids=[c[0] for c in _api_cases()])
def test_public_api_raises_input_error_naming_the_field(index):
    _, call, field = _api_cases()[index]
    with pytest.raises((InputError, InputErrors)) as info:
        call()
    fields = [e.field for e in info.value.errors] if isinstance(info.value, InputErrors) else [info.value.field]
    assert any(f.startswith(field) for f in fields), fields


def test_runaway_field_above_the_safety_limit_is_an_input_error_not_a_non_finite_result():
    from mhtcdt import physics
    from mhtcdt.cohorts import generate_cohort

    base = physics.protocol_preset("mht_rt_nanotherm").model_dump()
    protocol = physics.Protocol(
        **{
            **base,
            "field_kA_per_m": 30.0,
            "field_freq_kHz": 300.0,
            "allow_above_safety_limit": True,
            "target_temperature_C": None,
        }
    )
    patients = generate_cohort("recurrent_glioblastoma", 40, seed=3)
    with pytest.raises(InputError) as info:
        physics.simulate_protocol(patients, protocol, 1)
    assert info.value.field == "field_kA_per_m" and "overflows" in info.value.message


# --------------------------------------------------------------------------------------------------
# Runs, their folders and the store
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """(scenario file, pipeline result, PSA result) of a small scenario, computed once."""
    import warnings

    from mhtcdt.decision.model.psa import run_psa
    from mhtcdt.decision.run.pipeline import run_pipeline
    from mhtcdt.decision.scenario.loading import parse_scenario

    data = _data()
    data["cohort"]["n_screened"] = 90
    data["economics"]["psa_draws"] = 30
    path = _write(tmp_path_factory.mktemp("scenario"), data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_pipeline(parse_scenario(data))
        psa = run_psa(result)
    return path, result, psa


@pytest.fixture
def fast_runs(small_run, monkeypatch):
    """The CLI's pipeline and PSA answer at once with the small run's results."""
    _, result, psa = small_run
    monkeypatch.setattr("mhtcdt.decision.run.pipeline.run_pipeline", lambda *a, **k: result)
    monkeypatch.setattr("mhtcdt.decision.model.psa.run_psa", lambda *a, **k: psa)
    return small_run[0]


def _runs(db: Path, **kwargs) -> pd.DataFrame:
    from mhtcdt.decision.run import store

    return store.list_runs(db, **kwargs)


def test_run_is_recorded_completed_only_after_its_files(tmp_path, monkeypatch, capsys, fast_runs):
    from mhtcdt.decision.report import run_folder

    real = run_folder.write_outputs

    def full_disk(result, text, out, **kwargs):
        (Path(out) / "scenario.toml").write_text(text)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_folder, "write_outputs", full_disk)
    db, out = tmp_path / "runs.duckdb", tmp_path / "out"
    assert main(["run", str(fast_runs), "--quiet", "--out", str(out), "--store", str(db)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert not out.exists()  # the partial folder is removed
    assert _runs(db, include_failed=False).empty  # hidden from `runs list` ...
    failed = _runs(db)
    assert list(failed["status"]) == ["failed"] and "No space left" in failed.loc[0, "error"]  # ... recorded
    assert failed.loc[0, "n_tables"] == 0

    monkeypatch.setattr(run_folder, "write_outputs", real)
    assert main(["run", str(fast_runs), "--quiet", "--out", str(out), "--store", str(db)]) == 0
    done = _runs(db, include_failed=False)
    assert list(done["status"]) == ["completed"] and done.loc[0, "out_dir"] == str(out.resolve())
    assert (out / "run.json").exists() and json.loads((out / "run.json").read_text())["run_id"] == done.loc[0, "run_id"]
    assert main(["runs", "list", "--store", str(db)]) == 0
    listed = capsys.readouterr().out
    assert "completed" in listed and "failed" not in listed.split("\n\n")[0]
    assert main(["runs", "list", "--all", "--store", str(db)]) == 0
    assert "No space left" in capsys.readouterr().out


def test_runs_never_share_a_folder_and_the_store_is_the_users(tmp_path, monkeypatch, capsys, fast_runs):
    from mhtcdt.decision.report import run_folder
    from mhtcdt.decision.run import store

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(run_folder, "run_id", lambda text, seed, when=None: "20260101-000000-s1-abcdef12")
    for _ in range(2):  # the same scenario and seed in the same second
        assert main(["run", str(fast_runs), "--quiet"]) == 0
    printed = capsys.readouterr().out
    folders = sorted(p.name for p in (tmp_path / "mhtcdt-results").iterdir())
    assert folders == ["20260101-000000-s1-abcdef12", "20260101-000000-s1-abcdef12-2"]
    db = store.default_store_path()
    assert db.parent == store.user_data_dir() and not (tmp_path / "mhtcdt-results" / "runs.duckdb").exists()
    recorded = _runs(db)
    assert set(folders) <= set(recorded["run_id"])  # the store's id is the folder's name
    assert f"in the results store {db}" in printed


def test_a_terminated_run_is_marked_failed_with_the_signal(tmp_path, monkeypatch, capsys, fast_runs):
    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("SIGTERM did not stop the run")

    monkeypatch.setattr("mhtcdt.decision.run.pipeline.run_pipeline", terminated)
    db, out = tmp_path / "runs.duckdb", tmp_path / "out"
    assert main(["run", str(fast_runs), "--quiet", "--out", str(out), "--store", str(db)]) == 128 + signal.SIGTERM
    assert "interrupted by SIGTERM" in capsys.readouterr().err
    runs = _runs(db)
    assert list(runs["status"]) == ["failed"] and runs.loc[0, "error"] == "interrupted by SIGTERM"
    assert not out.exists()


def test_a_killed_run_is_marked_failed_on_the_next_start(tmp_path):
    from mhtcdt.decision.run import store

    db = tmp_path / "runs.duckdb"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    record = store.start_run("x = 1\n", seed=1, db_path=db)
    with store.connect(db, write=True) as con:  # as if its process had been killed
        con.execute("UPDATE runs SET pid = ? WHERE run_id = ?", [dead.pid, record.run_id])
    store.start_run("x = 2\n", seed=2, db_path=db)  # the next start
    row = store.get_run(record.run_id, db)
    assert row["status"] == "failed" and f"process {dead.pid}" in row["error"] and "killed or crashed" in row["error"]


def test_broken_pipe_ends_quietly(tmp_path):
    from mhtcdt.decision.run import store

    db = tmp_path / "runs.duckdb"
    for seed in range(30):
        with store.record_run("x = 1\n", seed=seed, scenario_name="s" * 40, db_path=db) as run:
            run.add_table("economics", pd.DataFrame({"strategy": ["a"], "cost": [1.0]}))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = f"{sys.executable} -m mhtcdt.decision.cli.main runs list --store {db} | head -n0; echo $PIPESTATUS"
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, timeout=120)
    assert proc.stdout.strip() == "0" and proc.stderr == "", proc.stderr


def test_terminal_output_escapes_control_characters(tmp_path, capsys):
    from mhtcdt.decision.run import store

    db = tmp_path / "runs.duckdb"
    with store.record_run("x = 1\n", seed=1, scenario_name="evil\x1b[2J\x07\x00name", db_path=db) as run:
        run.verdict = "ok"
    assert main(["runs", "list", "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\x00" not in out
    assert "evil\\x1b[2J\\x07\\x00name" in out


def _hostile(result, psa):
    """The small run with its arms renamed to spreadsheet formulas."""
    names = {"RT alone": '=HYPERLINK("http://evil.invalid","click")', "NanoTherm MHT + RT": "+cmd|' /C calc'!A0"}

    def rename(df: pd.DataFrame) -> pd.DataFrame:
        out = df.copy()
        for column in ("arm", "strategy", "comparison", "reference"):
            if column in out.columns:
                text = out[column].astype(str)
                for old, new in names.items():
                    text = text.str.replace(old, new, regex=False)
                out[column] = text
        return out

    sc = result.scenario
    scenario = sc.model_copy(
        update={
            "arms": [a.model_copy(update={"name": names.get(a.name, a.name)}) for a in sc.arms],
            "trial": sc.trial.model_copy(
                update={
                    "reference_arm": names.get(sc.trial.reference_arm, sc.trial.reference_arm),
                    "allocation": {names.get(k, k): v for k, v in sc.trial.allocation.items()},
                }
            ),
        }
    )
    res = dataclasses.replace(
        result,
        scenario=scenario,
        **{f: rename(getattr(result, f)) for f in ("trial", "curves", "survival_summary", "comparison", "parametric")},
        economics=rename(result.economics),
        incremental=rename(result.incremental),
    )
    ps = copy.copy(psa)
    ps.ceac, ps.ceaf, ps.tornado = rename(psa.ceac), rename(psa.ceaf), rename(psa.tornado)
    # the PSA names its strategies too (the summary and the headline look them up in the run's tables)
    ps.strategies = [names.get(s, s) for s in psa.strategies]
    ps.reference, ps.focal = names.get(psa.reference, psa.reference), names.get(psa.focal, psa.focal)
    ps.point = rename(psa.point)
    return res, ps


def test_csv_and_workbook_cells_cannot_start_a_formula(tmp_path, small_run):
    import openpyxl

    from mhtcdt.decision.report import run_folder, tables, workbook

    _, result, psa = small_run
    res, ps = _hostile(result, psa)
    run_folder.write_outputs(res, "name = 'x'\n", tmp_path / "out", psa=ps)
    for path in (tmp_path / "out").glob("*.csv"):
        for row in pd.read_csv(path, dtype=str, keep_default_na=False).itertuples(index=False):
            for cell in row:
                assert not (cell.startswith(("=", "+", "@", "\t", "\r")) or re.match(r"-[^\d.]", cell)), (
                    path.name,
                    cell,
                )
    patients = pd.read_csv(tmp_path / "out" / "patients.csv")
    assert set(patients["arm"]) == {'\'=HYPERLINK("http://evil.invalid","click")', "'+cmd|' /C calc'!A0"}
    book = openpyxl.load_workbook(__import__("io").BytesIO(workbook.xlsx_workbook(tables.result_tables(res, ps))))
    assert all(c.data_type != "f" for sheet in book for row in sheet.iter_rows() for c in row)


def test_run_folder_has_a_data_dictionary_of_every_column(tmp_path, small_run):
    from mhtcdt.decision.report import run_folder

    _, result, psa = small_run
    run_folder.write_outputs(result, "name = 'x'\n", tmp_path / "out", psa=psa)
    dictionary = pd.read_csv(tmp_path / "out" / "columns.csv", keep_default_na=False)
    documented = set(zip(dictionary["table"], dictionary["column"], strict=True))
    for path in (tmp_path / "out").glob("*.csv"):
        if path.name == "columns.csv":
            continue
        for column in pd.read_csv(path, nrows=0).columns:
            assert (path.stem, column) in documented, (path.stem, column)
    assert (dictionary["unit"] != "").all() and (dictionary["meaning"].str.len() > 5).all()
    assert dictionary.set_index(["table", "column"]).loc[("economics", "cost"), "unit"] == "GBP per patient"


def test_report_rounds_numbers_for_reading(tmp_path, small_run):
    from mhtcdt.decision.report import run_folder

    _, result, psa = small_run
    run_folder.write_outputs(result, "name = 'x'\n", tmp_path, psa=psa, report=True)
    html = (tmp_path / "report.html").read_text()
    text = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
    text = re.sub(r"<pre>.*?</pre>|<code>.*?</code>", "", text, flags=re.S)  # the scenario file and its hash
    long_decimals = re.findall(r"\d\.\d{5,}", text)
    assert not long_decimals, long_decimals[:5]
    # the CSVs keep full precision (read back exactly: pandas' default float parser may differ by 1 ulp)
    csv = pd.read_csv(tmp_path / "economics.csv", float_precision="round_trip")
    assert csv["qalys"].tolist() == result.economics["qalys"].tolist()
    assert {p.suffix for p in (tmp_path / "figures").iterdir()} == {".png", ".svg"}


def test_kaplan_meier_horizon_cut_is_stated_in_summary_and_run_json(tmp_path):
    import warnings

    from mhtcdt.decision.report import run_folder
    from mhtcdt.decision.run.pipeline import run_pipeline
    from mhtcdt.decision.scenario.loading import parse_scenario

    data = _data()
    data["cohort"]["n_screened"] = 80
    data["economics"].update(survival_source="kaplan_meier", horizon_years=60.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_pipeline(parse_scenario(data))
    run_folder.write_outputs(result, tomli_w.dumps(data), tmp_path / "out")
    computed = json.loads((tmp_path / "out" / "run.json").read_text())["computed"]
    assert computed["horizon_months_asked"] == 720.0 and computed["horizon_months_computed"] < 720.0
    assert "Kaplan-Meier" in computed["horizon_cut"]
    summary = (tmp_path / "out" / "summary.txt").read_text()
    assert f"horizon {computed['horizon_months_computed']:.1f} months" in summary
    assert "horizon 60 years" not in summary and "cut from the 60 years asked" in summary


def test_code_identity_covers_the_data_files():
    from mhtcdt import datafiles
    from mhtcdt.decision.run import code_identity

    datafiles.load_toml("mhtcdt.physics", "data/magnetics.toml")
    hashes = code_identity.loaded_code_hashes()
    assert "data:mhtcdt.physics/data/magnetics.toml" in hashes
    before = code_identity.code_fingerprint()
    key = "mhtcdt.physics/data/magnetics.toml"
    saved = datafiles._LOADED_SHA256[key]
    try:
        datafiles._LOADED_SHA256[key] = "0" * 64  # as if the file had other content
        assert code_identity.code_fingerprint() != before
        worker = code_identity.loaded_code_hashes()
    finally:
        datafiles._LOADED_SHA256[key] = saved
    assert code_identity.mismatched_modules(code_identity.loaded_code_hashes(), worker) == [f"data:{key}"]


def test_code_fingerprint_does_not_depend_on_what_a_run_imported():
    """Two processes of the same installation, one importing little, one loading the report and data files
    (as a run with --report does): one fingerprint, so runs of the same code compare as the same."""
    import subprocess
    import sys

    few = "from mhtcdt.decision.run import code_identity as c; print(c.code_fingerprint())"
    many = (
        "import mhtcdt.decision.report.html, mhtcdt.decision.report.figures; from mhtcdt import datafiles; "
        "datafiles.load_toml('mhtcdt.physics', 'data/magnetics.toml'); "
        "from mhtcdt.decision.run import code_identity as c; print(c.code_fingerprint())"
    )
    prints = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        for code in (few, many)
    ]
    assert len(prints[0]) == 64 and prints[0] == prints[1]


def test_same_table_names_in_folder_store_and_export(tmp_path, monkeypatch, fast_runs):
    from mhtcdt.decision.report.tables import PIPELINE_TABLES, PSA_TABLES, RUN_TABLES
    from mhtcdt.decision.run import store

    db, out, exported = tmp_path / "runs.duckdb", tmp_path / "out", tmp_path / "exported"
    assert main(["run", str(fast_runs), "--quiet", "--out", str(out), "--store", str(db)]) == 0
    rid = _runs(db).loc[0, "run_id"]
    assert main(["runs", "export", rid, "--out", str(exported), "--store", str(db)]) == 0
    folder = {p.stem for p in out.glob("*.csv")} - {"columns"}
    assert folder == set(store.run_tables(rid, db)["table_name"])
    assert set(PIPELINE_TABLES + PSA_TABLES) <= folder <= set(RUN_TABLES)
    assert {p.stem for p in exported.glob("*.csv")} == folder


def test_runs_compare_matches_rows_by_keys_not_position(tmp_path, small_run, capsys):
    from mhtcdt.decision.run import run_comparison, store

    _, result, psa = small_run
    db = tmp_path / "runs.duckdb"
    ids = []
    for shuffle in (False, True):
        with store.record_run("x = 1\n", seed=int(shuffle), db_path=db) as run:
            run.add_result(result, psa)
            if shuffle:  # the same results, rows in another order
                for name, table in list(run.tables.items()):
                    run.tables[name] = table.sample(frac=1.0, random_state=1).reset_index(drop=True)
        ids.append(run.run_id)
    cmp = store.compare_runs(*ids, db)
    for name, table in cmp.tables.items():
        assert run_comparison.changed(table).empty, (name, run_comparison.changed(table).head())
    assert set(cmp.tables) >= {"economics", "km_curves", "ceac", "patients", "tornado"}
    assert main(["runs", "compare", *ids, "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Costs and effects per patient (economics): 0 of" in out and "e+" not in out


# --------------------------------------------------------------------------------------------------
# The app: defaults, signals, uploads
# --------------------------------------------------------------------------------------------------
def test_streamlit_config_and_the_launcher_agree():
    from mhtcdt.decision.cli.app_server import SERVER_OPTIONS, streamlit_command

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    flat = {f"{section}.{key}": value for section, values in config.items() for key, value in values.items()}
    assert flat == SERVER_OPTIONS
    cmd = streamlit_command(8501)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--client.toolbarMode") + 1] in ("minimal", "viewer")
    assert int(cmd[cmd.index("--server.maxUploadSize") + 1]) <= 10


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list the app's processes")
def test_app_ends_with_every_process_it_started_on_sigterm(tmp_path):
    pytest.importorskip("streamlit")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "mhtcdt.decision.cli.main", "app", "--headless", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, body = time.monotonic() + 120, b""
        while time.monotonic() < deadline and body != b"ok":
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    body = r.read()
            except OSError:
                time.sleep(0.5)
        assert body == b"ok"
        started = descendants(proc.pid)
        assert started  # the Streamlit server
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(alive(p) for p in started):
            time.sleep(0.2)
        assert not [p for p in started if alive(p)]
    finally:
        if proc.poll() is None:
            proc.kill()


def _scenario_page():
    """An AppTest on the Scenario page (where files are uploaded); the app does not start a run on opening."""
    from tests.app.conftest import app_test, open_page, small_scenario

    return open_page(app_test(small_scenario()), "page_scenario.py")


def test_app_shows_hostile_names_as_text(tmp_path):
    from mhtcdt.app.text import md
    from tests.app import hostile

    at = _scenario_page()
    at.get("file_uploader")[0].upload(hostile.FILE_NAME, hostile.hostile_scenario().encode(), "application/toml").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["scenario"].name == hostile.NAME
    sources = [str(el.value) for kind in ("markdown", "success", "caption") for el in getattr(at, kind)]
    assert any(md(hostile.NAME) in s for s in sources)
    assert not any(hostile.NAME in s for s in sources)  # never the raw markup


def test_app_clamps_sizes_to_the_servers_memory_with_a_message(monkeypatch):
    from mhtcdt.app import limits

    monkeypatch.setattr(limits, "available_memory_bytes", lambda: 2 * 10**9)  # 1 GB budget
    data = _data()
    data["cohort"]["n_screened"] = 5_000_000
    data["economics"]["psa_draws"] = 1_000_000
    at = _scenario_page()
    at.get("file_uploader")[0].upload("big.toml", tomli_w.dumps(data).encode(), "application/toml").run()
    assert not at.exception, [e.value for e in at.exception]
    expected = limits.limits_for(memory_bytes=2 * 10**9)
    assert at.session_state["scenario"].cohort.n_screened == expected.n_screened
    warnings = " ".join(w.value for w in at.warning)
    assert "5,000,000" in warnings and "more than this server can compute in memory" in warnings
    with pytest.raises(InputErrors) as info:
        limits.check_scenario_fits(
            at.session_state["scenario"].model_copy(
                update={"cohort": at.session_state["scenario"].cohort.model_copy(update={"n_screened": 5_000_000})}
            )
        )
    assert info.value.errors[0].field == "cohort.n_screened"


def test_app_upload_of_a_deeply_nested_file_is_an_input_error():
    at = _scenario_page()
    at.get("file_uploader")[0].upload("deep.toml", ("a = " + "[" * 3000 + "]" * 3000).encode(), "text/plain").run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "nest at most 16 deep" in errors and "Something went wrong" not in errors


def test_runs_started_in_the_app_are_recorded(small_run, monkeypatch, tmp_path):
    from mhtcdt.app import tasks
    from mhtcdt.decision.report.tables import RUN_TABLES
    from mhtcdt.decision.run import store

    path, result, psa = small_run
    own = dataclasses.replace(result, extras=dict(result.extras))
    monkeypatch.setattr("mhtcdt.decision.run.pipeline.run_pipeline", lambda *a, **k: own)
    monkeypatch.setattr("mhtcdt.decision.model.psa.run_psa", lambda *a, **k: psa)
    db = tmp_path / "runs.duckdb"
    monkeypatch.setenv("MHTCDT_STORE", str(db))
    returned = tasks.run_pipeline_task(path.read_text(), progress=lambda stage, fraction: None)
    rid = returned.extras[tasks.STORE_RUN_ID]
    row = store.get_run(rid, db)
    assert row["status"] == "completed" and row["command"] == "mhtcdt app" and row["out_dir"] is None
    tasks.run_psa_task(returned, progress=lambda stage, fraction: None)
    from mhtcdt.decision.report.tables import run_tables

    assert set(store.run_tables(rid, db)["table_name"]) == set(run_tables(result, psa)) <= set(RUN_TABLES)
