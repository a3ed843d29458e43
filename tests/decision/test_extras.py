"""Optional dependencies: the core path imports none of them, and every command that needs one says which
extra to install (exit 2), while a run without the store extra is still computed and written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mhtcdt.decision.extras import EXTRAS, MissingExtra, require
from mhtcdt.decision.scenario.loading import scenario_text

OPTIONAL = ("streamlit", "dask", "distributed", "duckdb", "openpyxl")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The default scenario with 60 screened patients and a 20-draw PSA (a run of a few seconds)."""
    text = scenario_text().replace("n_screened = 500", "n_screened = 60").replace("psa_draws = 1000", "psa_draws = 20")
    assert "n_screened = 60" in text
    path = tmp_path_factory.mktemp("tiny") / "tiny.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _cli(args: list[str], blocked: tuple[str, ...] = ()) -> tuple[int, str, str, list[str]]:
    """Run ``mhtcdt ARGS`` in a fresh interpreter with ``blocked`` modules made unimportable; returns the
    exit code, stdout, stderr and the optional modules imported by then."""
    code = (
        "import json, sys\n"
        f"for name in {list(blocked)!r}: sys.modules[name] = None\n"
        "from mhtcdt.decision.cli.main import main\n"
        f"rc = main({args!r})\n"
        f"loaded = sorted({{m.split('.')[0] for m, v in sys.modules.items() if v is not None}} & {set(OPTIONAL)!r})\n"
        "print('RESULT ' + json.dumps([rc, loaded]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert line, proc.stderr
    rc, loaded = json.loads(line[-1][len("RESULT ") :])
    return rc, proc.stdout, proc.stderr, loaded


def test_core_commands_import_no_optional_dependency(tiny, tmp_path):
    rc, _, err, loaded = _cli(["validate", str(tiny)])
    assert rc == 0, err
    assert loaded == []
    rc, _, err, loaded = _cli(["run", str(tiny), "--no-store", "--quiet", "--out", str(tmp_path / "run")])
    assert rc == 0, err
    assert loaded == []
    assert (tmp_path / "run" / "incremental.csv").exists()


def test_run_without_the_store_extra_is_written_but_not_recorded(tiny, tmp_path):
    out, db = tmp_path / "run", tmp_path / "runs.duckdb"
    rc, stdout, err, _ = _cli(["run", str(tiny), "--quiet", "--out", str(out), "--store", str(db)], blocked=("duckdb",))
    assert rc == 0, err
    assert (out / "patients.csv").exists() and not db.exists()
    note = [line for line in stdout.splitlines() if "not recorded" in line]
    assert len(note) == 1 and "pip install 'mhtcdt[store]'" in note[0]


@pytest.mark.parametrize(
    "args, blocked, extra",
    [
        (["app", "--headless"], ("streamlit",), "app"),
        (["runs", "list"], ("duckdb",), "store"),
        (["run", "TINY", "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1"], ("distributed",), "dask"),
        (["demo", "--report"], ("openpyxl",), "report"),
    ],
)
def test_a_command_needing_an_extra_names_it(tiny, args, blocked, extra):
    """Exit 2 with one line naming the extra, before any work (no run folder, no server)."""
    rc, stdout, err, _ = _cli([str(tiny) if a == "TINY" else a for a in args], blocked=blocked)
    assert rc == 2
    assert f"pip install 'mhtcdt[{extra}]'" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "Wrote" not in stdout


def test_require_names_the_extra_and_refuses_unknown_pairs():
    assert require("duckdb", "store", "x").__name__ == "duckdb"
    with pytest.raises(ValueError):
        require("duckdb", "app", "x")
    err = MissingExtra("report", "an Excel workbook", "openpyxl")
    assert err.line() == "an Excel workbook needs openpyxl: pip install 'mhtcdt[report]'"
    assert set(EXTRAS) == {"app", "dask", "store", "report"}
