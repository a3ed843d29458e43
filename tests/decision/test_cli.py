"""CLI exit codes and messages: 0 on success, 2 with one line per problem on bad input, never a traceback."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from mhtcdt import __version__
from mhtcdt.decision.cli.main import main
from mhtcdt.decision.scenario.loading import scenario_text


def write(tmp_path: Path, data: dict, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def data() -> dict:
    return tomllib.loads(scenario_text())


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"mhtcdt {__version__}"


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_validate_default_scenario_is_ok(tmp_path, data, capsys):
    assert main(["validate", str(write(tmp_path, data))]) == 0
    assert "valid scenario" in capsys.readouterr().out


def test_missing_file_exit_2_names_path(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    assert main(["validate", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    assert main(["run", str(missing)]) == 2


def test_malformed_toml_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[cohort\n", encoding="utf-8")
    assert main(["validate", str(bad)]) == 2
    assert "malformed TOML" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["economics"]["costs"].__setitem__("rt_course", -1.0), "economics.costs.rt_course = -1.0"),
        (
            lambda d: d["economics"]["utilities"].__setitem__("progression_free", 1.1),
            "economics.utilities.progression_free = 1.1",
        ),
        (lambda d: d["economics"].__setitem__("discount_effects", 0.25), "economics.discount_effects = 0.25"),
        (lambda d: d["cohort"].pop("indication"), "cohort.indication = <missing>"),
        (lambda d: d["cohort"].__setitem__("n_screened", "ten"), "cohort.n_screened = 'ten'"),
        (lambda d: d["cohort"].__setitem__("indication", "melanoma"), "cohort.indication = 'melanoma'"),
        (lambda d: d["arms"][1].__setitem__("agent", "unobtainium"), "arms[1]"),
        (lambda d: d["cohort"].__setitem__("criteria", ["kps >>= 70"]), "cohort.criteria[0] = 'kps >>= 70'"),
        (lambda d: d["cohort"].__setitem__("criteria", ["karnofsky >= 70"]), "cohort.criteria[0]"),
        (lambda d: d["trial"].__setitem__("stratify_by", ["blood_group"]), "trial.stratify_by[0] = 'blood_group'"),
    ],
)
def test_bad_scenarios_exit_2_with_field_and_value(tmp_path, data, capsys, edit, expected):
    edit(data)
    path = write(tmp_path, data)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "Traceback" not in err


def test_run_refuses_bad_scenario_before_any_work(tmp_path, data, capsys):
    data["economics"]["costs"]["mht_course"] = -10.0
    out = tmp_path / "out"
    assert main(["run", str(write(tmp_path, data)), "--out", str(out), "--quiet"]) == 2
    assert not out.exists()


def test_console_script_bad_input_has_no_traceback(tmp_path, data):
    data["economics"]["utilities"]["progressed"] = 2.0
    path = write(tmp_path, data)
    proc = subprocess.run(
        [sys.executable, "-m", "mhtcdt.decision.cli.main", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "economics.utilities.progressed = 2.0" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_app_command_serves_the_streamlit_front_end():
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mhtcdt.decision.cli.main", "app", "--headless", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        body = b""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    body = r.read()
                    break
            except OSError:
                time.sleep(0.5)
        assert body == b"ok"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
