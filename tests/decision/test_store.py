"""Results store: provenance, atomic completion, failed and crashed runs, concurrent writers, CLI."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from mhtcdt import __version__
from mhtcdt.decision.cli.main import main as cli_main
from mhtcdt.decision.run import store
from mhtcdt.errors import InputError

SCENARIO = 'name = "store test"\nseed = 11\n[cohort]\nindication = "recurrent_glioblastoma"\n'


def _tables(seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    return {
        "economics": pd.DataFrame(
            {"strategy": ["soc", "mht"], "cost": rng.uniform(1e4, 5e4, 2), "qalys": rng.uniform(0.5, 1.5, 2)}
        ),
        "trial": pd.DataFrame(
            {
                "patient_id": np.arange(50, dtype=np.int64),
                "arm": rng.choice(["a", "b"], 50),
                "os_months": rng.exponential(12, 50),
                "os_event": rng.random(50) < 0.7,
            }
        ),
    }


def _record(db, seed: int, text: str = SCENARIO, run_id: str | None = None) -> str:
    with store.record_run(
        text, seed=seed, scenario_name="store test", executor="serial", run_id=run_id, db_path=db
    ) as run:
        for name, table in _tables(seed).items():
            run.add_table(name, table)
        run.verdict = f"verdict {seed}"
    return run.run_id


def test_completed_run_keeps_provenance_and_tables(tmp_path):
    db = tmp_path / "runs.duckdb"
    rid = _record(db, 5)
    row = store.get_run(rid, db)
    assert row["status"] == "completed"
    assert row["scenario_text"] == SCENARIO
    assert row["scenario_sha256"] == hashlib.sha256(SCENARIO.encode()).hexdigest()
    assert row["seed"] == 5 and row["mhtcdt_version"] == __version__ and row["executor"] == "serial"
    assert row["finished_utc"] >= row["started_utc"] and row["duration_s"] >= 0
    assert row["verdict"] == "verdict 5"
    from mhtcdt.decision.run.code_identity import code_fingerprint

    assert row["code_sha256"] == code_fingerprint()
    for name, table in _tables(5).items():
        pd.testing.assert_frame_equal(store.load_table(rid, name, db), table)  # dtypes survive
    assert list(store.run_tables(rid, db)["table_name"]) == ["economics", "trial"]


def test_run_ids_are_unique_and_prefixes_resolve(tmp_path):
    db = tmp_path / "runs.duckdb"
    same = "20260101-000000-s1-2ac9cab0"  # as two runs started within one second
    a, b = _record(db, 1, run_id=same), _record(db, 1, run_id=same)
    assert a == same and b == same + "-2"
    with pytest.raises(InputError, match="ambiguous"):
        store.resolve_run_id(a[:9], db)
    assert store.resolve_run_id(a, db) == a
    with pytest.raises(InputError) as err:
        store.get_run("nope", db)
    assert err.value.field == "run_id"


def test_failed_run_is_marked_failed_without_tables(tmp_path):
    db = tmp_path / "runs.duckdb"
    with pytest.raises(RuntimeError, match="solver diverged"):
        with store.record_run(SCENARIO, seed=2, db_path=db) as run:
            run.add_table("economics", _tables(2)["economics"])
            raise RuntimeError("solver diverged")
    row = store.get_run(run.run_id, db)
    assert row["status"] == "failed" and "solver diverged" in row["error"]
    assert store.run_tables(run.run_id, db).empty


CRASH_SCRIPT = textwrap.dedent(
    """
    import contextlib, os, signal, sys
    import numpy as np, pandas as pd
    from mhtcdt.decision.run import store

    db, when = sys.argv[1], sys.argv[2]
    real_connect = store.connect

    class KillingConnection:
        # kills the process after the 2nd table insert of the final transaction
        def __init__(self, con):
            self.con, self.inserts = con, 0
        def execute(self, sql, *args):
            if sql.startswith("INSERT INTO run_tables"):
                self.inserts += 1
                if self.inserts == 2:
                    os.kill(os.getpid(), signal.SIGKILL)
            return self.con.execute(sql, *args)

    @contextlib.contextmanager
    def connect(*args, **kwargs):
        with real_connect(*args, **kwargs) as con:
            yield KillingConnection(con)

    with store.record_run("x = 1\\n", seed=1, db_path=db) as run:
        print(run.run_id, flush=True)
        for k in range(3):
            run.add_table(f"t{k}", pd.DataFrame({"v": np.arange(10.0)}))
        if when == "during_run":
            os.kill(os.getpid(), signal.SIGKILL)
        store.connect = connect
    """
)


@pytest.mark.parametrize("when", ["during_run", "during_final_write"])
def test_crashed_run_leaves_failed_row_not_half_written(tmp_path, when):
    db = tmp_path / "runs.duckdb"
    proc = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(db), when], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -9, proc.stderr  # really killed
    rid = proc.stdout.split()[0]
    runs = store.list_runs(db)
    assert list(runs["run_id"]) == [rid]
    assert runs.loc[0, "status"] == "failed" and "ended without finishing (killed or crashed)" in runs.loc[0, "error"]
    assert runs.loc[0, "n_tables"] == 0  # the interrupted transaction left no table behind


def _writer(db: str, worker: int, n_runs: int) -> None:
    for k in range(n_runs):
        _record(db, 1000 * worker + k)


def test_concurrent_writers_do_not_corrupt_the_store(tmp_path):
    db = str(tmp_path / "runs.duckdb")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(db, w, 4)) for w in range(3)]
    for p in procs:
        p.start()
    seen = 0
    while any(p.is_alive() for p in procs):  # read while they write
        try:
            seen = max(seen, len(store.list_runs(db)))
        except InputError:  # the file does not exist yet
            pass
        time.sleep(0.05)
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    runs = store.list_runs(db)
    assert len(runs) == 12 and set(runs["status"]) == {"completed"}
    assert runs["run_id"].is_unique and (runs["n_tables"] == 2).all()
    for row in runs.itertuples(index=False):
        pd.testing.assert_frame_equal(store.load_table(row.run_id, "trial", db), _tables(row.seed)["trial"])


def test_compare_table_matches_rows_on_keys():
    """Rows are matched on the table's keys (here the strategy), whatever their order."""
    from mhtcdt.decision.run.run_comparison import compare_table

    a = pd.DataFrame({"strategy": ["soc", "mht"], "cost": [100.0, 250.0], "qalys": [1.0, 1.2]})
    b = pd.DataFrame({"strategy": ["mht", "soc"], "cost": [260.0, 100.0], "qalys": [1.2, 1.0]})
    diff = compare_table("economics", a, b).set_index(["row", "quantity"])["change"]
    assert diff[("mht", "cost (discounted)")] == pytest.approx(10.0)
    assert diff[("soc", "cost (discounted)")] == 0.0 and diff[("mht", "QALYs (discounted)")] == 0.0


def test_cli_runs_list_show_compare_export(tmp_path, capsys):
    db = tmp_path / "runs.duckdb"
    a = _record(db, 1)
    b = _record(db, 2, SCENARIO.replace("seed = 11", "seed = 12"))
    assert cli_main(["runs", "list", "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert a in out and b in out and "2 run(s)" in out

    assert cli_main(["runs", "show", a, "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert "scenario_sha256" in out and "economics" in out

    assert cli_main(["runs", "compare", a, b, "--store", str(db), "--table", "economics"]) == 0
    out = capsys.readouterr().out
    assert "-seed = 11" in out and "+seed = 12" in out
    assert "Costs and effects per patient (economics): 4 of 4 values differ" in out

    assert cli_main(["runs", "export", b, "--out", str(tmp_path / "exp"), "--store", str(db)]) == 0
    exported = pd.read_csv(tmp_path / "exp" / "economics.csv")
    pd.testing.assert_frame_equal(exported, _tables(2)["economics"])
    assert (tmp_path / "exp" / "scenario.toml").read_text() == SCENARIO.replace("seed = 11", "seed = 12")


def test_cli_bad_input_gives_one_line_and_exit_2(tmp_path, capsys):
    db = tmp_path / "runs.duckdb"
    _record(db, 1)
    assert cli_main(["runs", "show", "zzz", "--store", str(db)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run_id = 'zzz'" in err[0]
    missing_store = str(tmp_path / "none.duckdb")
    assert cli_main(["runs", "show", "2", "--table", "missing", "--store", missing_store]) == 2
    assert "no results store" in capsys.readouterr().err
    rid = store.list_runs(db)["run_id"][0]
    assert cli_main(["runs", "show", rid, "--table", "nope", "--store", str(db)]) == 2
    assert "economics, trial" in capsys.readouterr().err


PAGE = str(__import__("pathlib").Path(__file__).resolve().parents[2] / "mhtcdt" / "app" / "page_runs.py")


def test_runs_page_lists_shows_and_compares(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "runs.duckdb"
    monkeypatch.setenv("MHTCDT_STORE", str(db))  # the page lists the stores of this folder
    a = _record(db, 1)
    b = _record(db, 2, SCENARIO.replace("seed = 11", "seed = 12"))
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="runs_store_choice").value == db
    listed = [d.value for d in at.dataframe if "run" in d.value.columns][0]
    assert set(listed["run"]) == {a, b}
    shown = [d.value for d in at.dataframe if "strategy" in d.value.columns][0]  # newest run's economics
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), _tables(2)["economics"])
    meta = [d.value for d in at.dataframe if "what" in d.value.columns][0]  # only what differs
    assert "seed" in set(meta["what"]) and "mhtcdt version" not in set(meta["what"])
    assert any("+seed = 12" in c.value for c in at.code)
    compared = [d.value for d in at.dataframe if "quantity" in d.value.columns]
    assert compared and all(
        list(t.columns) == ["row", "quantity", "run A", "run B", "change", "change %"] for t in compared
    )


def test_runs_page_without_store_says_so(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MHTCDT_STORE", str(tmp_path / "none.duckdb"))
    (tmp_path / "other.duckdb").write_text("not a store")  # never opened: not a DuckDB file
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    assert any("No runs recorded yet" in i.value for i in at.info)
    assert not (tmp_path / "other.duckdb.lock").exists()


def test_pipeline_result_tables_are_kept_under_report_names(tmp_path):
    from types import SimpleNamespace

    tables = _tables(4)
    flow = pd.DataFrame(
        {
            "step": [0, 1],
            "criterion": ["screened", "kps >= 60"],
            "n_before": [10, 10],
            "excluded": [0, 2],
            "remaining": [10, 8],
        }
    )
    result = SimpleNamespace(
        flow=flow,
        trial=tables["trial"],
        economics=tables["economics"],
        curves=None,
        timings_s={"cohort": 0.25, "physics": 1.5},
        verdict="not cost-effective",
    )
    db = tmp_path / "runs.duckdb"
    with store.record_run(SCENARIO, seed=4, db_path=db) as run:
        run.add_pipeline_result(result)
    # the run folder's names: consort.csv, patients.csv, economics.csv
    assert list(store.run_tables(run.run_id, db)["table_name"]) == ["consort", "economics", "patients"]
    pd.testing.assert_frame_equal(store.load_table(run.run_id, "consort", db), flow)
    row = store.get_run(run.run_id, db)
    assert json.loads(row["timings_json"]) == {"cohort": 0.25, "physics": 1.5}
    assert row["verdict"] == "not cost-effective"
