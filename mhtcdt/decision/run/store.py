"""The results store: every run, with what is needed to reproduce it, in an embedded DuckDB file.

Recording a run (how ``mhtcdt run``/``demo`` use it)::

    from mhtcdt.decision.run import store

    with store.record_run(scenario_text, seed=seed, scenario_name=sc.name, executor="processes(2)",
                          command="mhtcdt run my.toml", db_path=None) as run:   # row 'running'
        result = run_pipeline(scenario, seed)
        write_outputs(result, text, folder)     # the files first ...
        run.add_result(result, psa)             # ... then the tables (or run.add_table("name", df))
        run.out_dir = folder
    # leaving the block: ONE transaction marks the row 'completed' and inserts every table;
    # an exception instead marks it 'failed' with the error text and is re-raised.
    print(run.run_id)

A run is 'completed' only when everything inside the block succeeded, so the CLI writes the run folder
inside it: a run whose files could not be written is 'failed', never 'completed'.

One store per user: ``$MHTCDT_STORE`` if set, else ``$XDG_DATA_HOME/mhtcdt/runs.duckdb`` (default
``~/.local/share/mhtcdt/runs.duckdb``), wherever the run folders are written; every function takes
``db_path`` to choose another file. A path that is a folder, or an existing file that is not a DuckDB
store, is an :class:`~mhtcdt.errors.InputError` (``store``) before anything is created, and reading a
missing store is one too; the lock file ``<db>.lock`` is only ever created next to a store.

Tables (SQL schema, DuckDB types)
---------------------------------
``runs`` one row per run:
  run_id VARCHAR (primary key, ``YYYYmmdd-HHMMSS-s<seed>-<hash8>`` plus ``-2``, ``-3`` on collisions),
  status VARCHAR ('running' | 'completed' | 'failed'), scenario_name VARCHAR, scenario_sha256 VARCHAR,
  scenario_text VARCHAR (the full text as run), seed BIGINT, mhtcdt_version VARCHAR,
  git_commit VARCHAR (NULL when not in a git checkout; suffix ``+dirty`` with local changes),
  code_sha256 VARCHAR (:func:`mhtcdt.decision.run.code_identity.code_fingerprint` of the modules and data
  files the run loaded, set when it completes: identifies the exact code and data even in a dirty checkout),
  python_version VARCHAR, hostname VARCHAR, pid INTEGER, executor VARCHAR (e.g. ``processes(2)``),
  command VARCHAR, started_utc TIMESTAMP, finished_utc TIMESTAMP, duration_s DOUBLE,
  error VARCHAR (failed runs: what happened, e.g. ``interrupted by SIGTERM``), verdict VARCHAR,
  out_dir VARCHAR (the run folder, absolute; NULL for runs without one, e.g. from the app),
  summary_text VARCHAR (the printed summary, as in ``summary.txt``),
  timings_json VARCHAR (seconds per pipeline stage, JSON object).
``run_tables`` one row per result table of a completed run:
  run_id VARCHAR, table_name VARCHAR, n_rows BIGINT, n_cols INTEGER, columns VARCHAR (JSON list of
  [name, dtype]), data BLOB (the DataFrame as Parquet bytes: dtypes survive the round trip).
  Table names are the run folder's CSV names (:data:`mhtcdt.decision.report.tables.RUN_TABLES`).

Reading: :func:`list_runs` (DataFrame with the ``runs`` columns except the texts, newest first,
plus ``n_tables``; failed attempts on request), :func:`get_run` (dict of one row), :func:`run_tables`
(table catalogue), :func:`load_table` (DataFrame), :func:`resolve_run_id` (unique prefix -> id); comparing
two runs: :mod:`mhtcdt.decision.run.run_comparison`.

Concurrency and atomicity: DuckDB admits one writing process per file, so every access takes an
``fcntl.flock`` on the sidecar ``<db>.lock`` (exclusive for writes, shared for reads), opens the
database, does one short transaction and closes it before releasing the lock; lock conflicts wait
(``timeout_s``). A run's final write is a single transaction, so a crash leaves either the complete
run or its 'running' row; rows left 'running' by a process that no longer exists on this host are
marked 'failed' (``process <pid> ended without finishing (killed or crashed)``) by
:func:`reap_stale_runs`, which readers and every new run call.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from mhtcdt import __version__
from mhtcdt.decision.extras import require
from mhtcdt.errors import InputError, ModelError

STORE_ENV = "MHTCDT_STORE"
STORE_FILE = "runs.duckdb"
STATUSES = ("running", "completed", "failed")
LOCK_TIMEOUT_S = 120.0
_DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    status VARCHAR NOT NULL,
    scenario_name VARCHAR,
    scenario_sha256 VARCHAR NOT NULL,
    scenario_text VARCHAR NOT NULL,
    seed BIGINT,
    mhtcdt_version VARCHAR,
    git_commit VARCHAR,
    code_sha256 VARCHAR,
    python_version VARCHAR,
    hostname VARCHAR,
    pid INTEGER,
    executor VARCHAR,
    command VARCHAR,
    started_utc TIMESTAMP NOT NULL,
    finished_utc TIMESTAMP,
    duration_s DOUBLE,
    error VARCHAR,
    verdict VARCHAR
);
ALTER TABLE runs ADD COLUMN IF NOT EXISTS out_dir VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS summary_text VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS timings_json VARCHAR;
CREATE TABLE IF NOT EXISTS run_tables (
    run_id VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    n_rows BIGINT,
    n_cols INTEGER,
    columns VARCHAR,
    data BLOB,
    PRIMARY KEY (run_id, table_name)
);
"""

_LIST_COLUMNS = (
    "run_id, status, scenario_name, scenario_sha256, seed, mhtcdt_version, git_commit, code_sha256, "
    "python_version, hostname, pid, executor, command, started_utc, finished_utc, duration_s, error, verdict, out_dir"
)


def user_data_dir() -> Path:
    """``$XDG_DATA_HOME/mhtcdt`` (default ``~/.local/share/mhtcdt``): where this user's store lives."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "mhtcdt"


def default_store_path() -> Path:
    """``$MHTCDT_STORE`` if set, else ``runs.duckdb`` in :func:`user_data_dir`: one store per user,
    independent of the working directory and of where run folders are written."""
    env = os.environ.get(STORE_ENV)
    return Path(env).expanduser() if env else user_data_dir() / STORE_FILE


def store_folder() -> Path:
    """The folder whose ``*.duckdb`` stores the app's Recorded runs page lists: that of the default store."""
    return default_store_path().parent


def _path(db_path: str | os.PathLike | None) -> Path:
    return Path(db_path).expanduser() if db_path is not None else default_store_path()


def is_store_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a regular file that starts like a DuckDB database."""
    p = Path(path)
    try:
        if not p.is_file():
            return False
        with open(p, "rb") as handle:
            return handle.read(12)[8:12] == _DUCKDB_MAGIC
    except OSError:
        return False


def check_store_path(db_path: str | os.PathLike | None = None, *, write: bool = False) -> Path:
    """The store path, checked before anything is created next to it: not a folder, an existing file must
    be a DuckDB store; for reading it must exist, for writing its folder must be creatable. InputError
    (field ``store``) otherwise."""
    path = _path(db_path)
    if path.is_dir():
        raise InputError("store", str(path), f"is a folder; give a database file such as {path / STORE_FILE}")
    if path.exists():
        if not path.is_file():
            raise InputError("store", str(path), "is not a regular file")
        if not is_store_file(path):
            raise InputError("store", str(path), "exists and is not a DuckDB results store")
        return path
    if not write:
        raise InputError("store", str(path), "no results store at this path (no run recorded yet?)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("store", str(path), f"its folder cannot be created: {exc.strerror or exc}") from None
    if not os.access(path.parent, os.W_OK):
        raise InputError("store", str(path), "its folder is not writable")
    return path


# --------------------------------------------------------------------------------------------------
# Locked connections
# --------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _file_lock(lock_path: Path, exclusive: bool, timeout_s: float) -> Iterator[None]:
    import fcntl

    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + timeout_s
        delay = 0.005
        while True:
            try:
                fcntl.flock(handle.fileno(), mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ModelError(f"results store {lock_path} stayed locked for {timeout_s:g} s") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def connect(
    db_path: str | os.PathLike | None = None, *, write: bool = False, timeout_s: float = LOCK_TIMEOUT_S
) -> Iterator[Any]:
    """A DuckDB connection held under the store's file lock; closed (and unlocked) on exit.

    ``write=True`` takes the exclusive lock, creates the file and schema if needed; reads take the
    shared lock and need an existing store (``InputError`` naming ``store`` otherwise: :func:`check_store_path`).
    """
    duckdb = require("duckdb", "store", "the run store")
    path = check_store_path(db_path, write=write)  # before the lock file is created next to it
    lock = path.with_name(path.name + ".lock")
    deadline = time.monotonic() + timeout_s
    while True:
        with _file_lock(lock, exclusive=write, timeout_s=timeout_s):
            try:
                con = duckdb.connect(str(path), read_only=not write)
            except duckdb.IOException as exc:
                # A process that ignores our lock (e.g. a DuckDB shell) holds the file: wait and retry.
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise ModelError(f"cannot open results store {path}: {exc}") from exc
                con = None
            if con is not None:
                try:
                    if write:
                        con.execute(_SCHEMA)
                    yield con
                    return
                finally:
                    con.close()
        time.sleep(0.05)


# --------------------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------------------
def git_commit(repo_dir: str | os.PathLike | None = None) -> str | None:
    """Commit of the package's source checkout (``+dirty`` if it has local changes); None outside git."""
    where = Path(repo_dir) if repo_dir else Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "") if head else None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # stored as naive UTC TIMESTAMP


def _to_parquet(df: pd.DataFrame) -> bytes:
    require("pyarrow", "store", "the run store (tables as Parquet)")
    buffer = io.BytesIO()
    frame = df.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------------
@dataclass
class RunRecord:
    """Handle of a run being recorded: collect result tables, they are written when the block ends."""

    run_id: str
    db_path: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    verdict: str | None = None
    status: str = "running"
    out_dir: Path | None = None
    summary_text: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)

    def add_table(self, name: str, table: pd.DataFrame) -> None:
        """Keep ``table`` under ``name`` (letters, digits, ``_``); replaces a table of the same name."""
        if not name or not name.replace("_", "").isalnum():
            raise InputError("table_name", name, "table names use letters, digits and '_' only")
        if not isinstance(table, pd.DataFrame):
            raise InputError(f"tables.{name}", type(table).__name__, "a result table must be a DataFrame")
        self.tables[name] = table

    def add_result(self, result: Any, psa: Any | None = None) -> None:
        """Keep every table of a run under its run-folder name
        (:func:`mhtcdt.decision.report.tables.run_tables`), the verdict, the stage timings and the summary."""
        from mhtcdt.decision.report.cells import terminal_safe
        from mhtcdt.decision.report.summary import format_summary
        from mhtcdt.decision.report.tables import run_tables

        for name, table in run_tables(result, psa).items():
            self.add_table(name, table)
        self.verdict = result.verdict
        self.timings_s = {k: float(v) for k, v in (result.timings_s or {}).items()}
        self.summary_text = terminal_safe(format_summary(result, psa))

    def add_pipeline_result(self, result: Any) -> None:
        """Keep the tables of a pipeline result that it has (run-folder names), its verdict and timings."""
        names = {"flow": "consort", "trial": "patients", "curves": "km_curves", "parametric": "parametric_fits"}
        for attr in ("flow", "trial", "survival_summary", "comparison", "parametric", "curves", "economics"):
            table = getattr(result, attr, None)
            if isinstance(table, pd.DataFrame):
                self.add_table(names.get(attr, attr), table)
        table = getattr(result, "incremental", None)
        if isinstance(table, pd.DataFrame):
            self.add_table("incremental", table)
        self.verdict = getattr(result, "verdict", None)
        self.timings_s = {k: float(v) for k, v in (getattr(result, "timings_s", None) or {}).items()}


def _unique_run_id(con: Any, wanted: str) -> str:
    rows = con.execute("SELECT run_id FROM runs WHERE starts_with(run_id, ?)", [wanted]).fetchall()
    taken = {r[0] for r in rows}
    if wanted not in taken:
        return wanted
    k = 2
    while f"{wanted}-{k}" in taken:
        k += 1
    return f"{wanted}-{k}"


def start_run(
    scenario_text: str,
    *,
    seed: int | None,
    scenario_name: str | None = None,
    executor: str | None = None,
    command: str | None = None,
    run_id: str | None = None,
    db_path: str | os.PathLike | None = None,
) -> RunRecord:
    """Insert the 'running' row of a new run and return its handle (prefer :func:`record_run`).

    Rows left 'running' by processes of this host that no longer exist are marked 'failed' first."""
    from mhtcdt.decision.report.run_folder import run_id as make_run_id
    from mhtcdt.decision.report.run_folder import scenario_hash

    if not isinstance(scenario_text, str):
        raise InputError("scenario_text", type(scenario_text).__name__, "the scenario must be given as text")
    started = _now()
    wanted = run_id or make_run_id(scenario_text, int(seed or 0), started.replace(tzinfo=UTC))
    path = check_store_path(db_path, write=True)
    reap_stale_runs(path)
    commit = git_commit()
    with connect(path, write=True) as con:
        con.execute("BEGIN TRANSACTION")
        rid = _unique_run_id(con, wanted)
        con.execute(
            "INSERT INTO runs (run_id, status, scenario_name, scenario_sha256, scenario_text, seed, "
            "mhtcdt_version, git_commit, python_version, hostname, pid, executor, command, started_utc) "
            "VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                rid,
                scenario_name,
                scenario_hash(scenario_text),
                scenario_text,
                seed,
                __version__,
                commit,
                platform.python_version(),
                socket.gethostname(),
                os.getpid(),
                executor,
                command,
                started,
            ],
        )
        con.execute("COMMIT")
    return RunRecord(rid, path)


def _blobs(tables: Mapping[str, pd.DataFrame]) -> list[tuple[str, int, int, str, bytes]]:
    return [
        (name, len(df), df.shape[1], json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]), _to_parquet(df))
        for name, df in tables.items()
    ]


def finish_run(record: RunRecord) -> None:
    """Mark the run 'completed' and write all its tables in ONE transaction (all or nothing)."""
    from mhtcdt.decision.run.code_identity import code_fingerprint

    fingerprint = code_fingerprint()
    blobs = _blobs(record.tables)
    out_dir = None if record.out_dir is None else str(Path(record.out_dir).resolve())
    with connect(record.db_path, write=True) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM run_tables WHERE run_id = ?", [record.run_id])
            for name, n_rows, n_cols, cols, data in blobs:
                con.execute(
                    "INSERT INTO run_tables VALUES (?, ?, ?, ?, ?, ?)",
                    [record.run_id, name, n_rows, n_cols, cols, data],
                )
            finished = _now()
            con.execute(
                "UPDATE runs SET status = 'completed', finished_utc = ?, verdict = ?, code_sha256 = ?, "
                "out_dir = ?, summary_text = ?, timings_json = ?, "
                "duration_s = date_diff('microsecond', started_utc, ?) / 1e6 WHERE run_id = ?",
                [
                    finished,
                    record.verdict,
                    fingerprint,
                    out_dir,
                    record.summary_text,
                    json.dumps(record.timings_s) if record.timings_s else None,
                    finished,
                    record.run_id,
                ],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    record.status = "completed"


def add_tables(run_id: str, tables: Mapping[str, pd.DataFrame], db_path: str | os.PathLike | None = None) -> None:
    """Add tables to a completed run in one transaction (the app records the PSA of a run when it is done);
    a table of the same name is replaced."""
    for name, table in tables.items():
        RunRecord(run_id, _path(db_path)).add_table(name, table)  # the same name and type rules
    blobs = _blobs(tables)
    rid = resolve_run_id(run_id, db_path)
    with connect(db_path, write=True) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            for name, n_rows, n_cols, cols, data in blobs:
                con.execute("DELETE FROM run_tables WHERE run_id = ? AND table_name = ?", [rid, name])
                con.execute("INSERT INTO run_tables VALUES (?, ?, ?, ?, ?, ?)", [rid, name, n_rows, n_cols, cols, data])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def fail_run(record: RunRecord, error: str) -> None:
    """Mark the run 'failed' with ``error`` (what happened; no result tables are kept)."""
    finished = _now()
    with connect(record.db_path, write=True) as con:
        con.execute(
            "UPDATE runs SET status = 'failed', finished_utc = ?, error = ?, "
            "duration_s = date_diff('microsecond', started_utc, ?) / 1e6 WHERE run_id = ?",
            [finished, error[:4000], finished, record.run_id],
        )
    record.status = "failed"


def failure_text(exc: BaseException) -> str:
    """What to record for a run that ended with ``exc`` (an interruption says which signal)."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (SIGINT, Ctrl-C)"
    signame = getattr(exc, "signal_name", None)
    if signame:
        return f"interrupted by {signame}"
    return f"{type(exc).__name__}: {exc}"


@contextlib.contextmanager
def record_run(
    scenario_text: str,
    *,
    seed: int | None,
    scenario_name: str | None = None,
    executor: str | None = None,
    command: str | None = None,
    run_id: str | None = None,
    db_path: str | os.PathLike | None = None,
) -> Iterator[RunRecord]:
    """Record one run: 'running' row on entry; on exit 'completed' with the added tables, or 'failed'
    (with :func:`failure_text` of the exception, which is re-raised). See the module docstring."""
    record = start_run(
        scenario_text,
        seed=seed,
        scenario_name=scenario_name,
        executor=executor,
        command=command,
        run_id=run_id,
        db_path=db_path,
    )
    try:
        yield record
    except BaseException as exc:
        fail_run(record, failure_text(exc))
        raise
    try:
        finish_run(record)
    except BaseException as exc:
        fail_run(record, f"could not store the results: {failure_text(exc)}")
        raise


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale_runs(db_path: str | os.PathLike | None = None) -> list[str]:
    """Mark 'failed' the 'running' rows of this host whose process no longer exists; their ids."""
    path = _path(db_path)
    if not path.exists():
        return []
    host = socket.gethostname()
    with connect(path) as con:
        rows = con.execute("SELECT run_id, pid FROM runs WHERE status = 'running' AND hostname = ?", [host]).fetchall()
    stale = [(rid, pid) for rid, pid in rows if pid is not None and not _pid_alive(int(pid))]
    if stale:
        with connect(path, write=True) as con:
            for rid, pid in stale:
                con.execute(
                    "UPDATE runs SET status = 'failed', error = ? WHERE run_id = ? AND status = 'running'",
                    [f"process {pid} on {host} ended without finishing (killed or crashed)", rid],
                )
    return [rid for rid, _ in stale]


def list_runs(
    db_path: str | os.PathLike | None = None,
    *,
    status: str | None = None,
    limit: int | None = None,
    include_failed: bool = True,
) -> pd.DataFrame:
    """Runs, newest first (``runs`` columns except the scenario and summary texts, plus ``n_tables``).

    ``include_failed=False`` leaves out failed attempts (a typo, an interrupted run) unless ``status``
    asks for them."""
    if status is not None and status not in STATUSES:
        raise InputError("status", status, f"choose one of {', '.join(STATUSES)}")
    if limit is not None and (isinstance(limit, bool) or int(limit) < 1):
        raise InputError("limit", limit, "limit must be an integer >= 1")
    reap_stale_runs(db_path)
    sql = "SELECT r.*, count(t.table_name) AS n_tables FROM runs r LEFT JOIN run_tables t USING (run_id)"
    params: list[Any] = []
    if status:
        sql += " WHERE r.status = ?"
        params.append(status)
    elif not include_failed:
        sql += " WHERE r.status <> 'failed'"
    sql += " GROUP BY ALL ORDER BY r.started_utc DESC, r.run_id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    with connect(db_path) as con:
        runs = con.execute(sql, params).df()
    return runs.drop(columns=[c for c in ("scenario_text", "summary_text", "timings_json") if c in runs.columns])


def resolve_run_id(run_id: str, db_path: str | os.PathLike | None = None, field_name: str = "run_id") -> str:
    """The full id of the run whose id is ``run_id`` or starts with it (must be unique)."""
    with connect(db_path) as con:
        exact = con.execute("SELECT run_id FROM runs WHERE run_id = ?", [run_id]).fetchall()
        if exact:
            return exact[0][0]
        rows = con.execute("SELECT run_id FROM runs WHERE starts_with(run_id, ?) ORDER BY run_id", [run_id])
        hits = [r[0] for r in rows.fetchall()]
    if not hits:
        raise InputError(field_name, run_id, "no run with this id (see `mhtcdt runs list`)")
    if len(hits) > 1:
        raise InputError(field_name, run_id, f"ambiguous prefix: matches {', '.join(hits[:5])}")
    return hits[0]


def get_run(run_id: str, db_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Every column of one run (id or unique prefix) as a dict, with ``scenario_text``."""
    reap_stale_runs(db_path)
    rid = resolve_run_id(run_id, db_path)
    with connect(db_path) as con:
        cur = con.execute("SELECT * FROM runs WHERE run_id = ?", [rid])
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchone(), strict=True))


def run_tables(run_id: str, db_path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Catalogue of a run's tables: table_name, n_rows, n_cols, columns (JSON [name, dtype] list)."""
    rid = resolve_run_id(run_id, db_path)
    with connect(db_path) as con:
        return con.execute(
            "SELECT table_name, n_rows, n_cols, columns FROM run_tables WHERE run_id = ? ORDER BY table_name", [rid]
        ).df()


def load_table(run_id: str, table_name: str, db_path: str | os.PathLike | None = None) -> pd.DataFrame:
    """One stored result table of a run, with the dtypes it was stored with."""
    rid = resolve_run_id(run_id, db_path)
    with connect(db_path) as con:
        row = con.execute(
            "SELECT data FROM run_tables WHERE run_id = ? AND table_name = ?", [rid, table_name]
        ).fetchone()
        if row is None:
            names = [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM run_tables WHERE run_id = ? ORDER BY table_name", [rid]
                ).fetchall()
            ]
    if row is None:
        known = ", ".join(names) or "none"
        raise InputError("table", table_name, f"run {rid} has no such table; it has: {known}")
    return pd.read_parquet(io.BytesIO(row[0]))


def load_tables(run_id: str, db_path: str | os.PathLike | None = None) -> Mapping[str, pd.DataFrame]:
    """All stored tables of a run, by name."""
    return {name: load_table(run_id, name, db_path) for name in run_tables(run_id, db_path)["table_name"]}


# --------------------------------------------------------------------------------------------------
# Comparing two runs
# --------------------------------------------------------------------------------------------------
def compare_runs(run_a: str, run_b: str, db_path: str | os.PathLike | None = None, tables: list[str] | None = None):
    """Compare two runs: :func:`mhtcdt.decision.run.run_comparison.compare_runs` (tables aligned by their keys)."""
    from mhtcdt.decision.run.run_comparison import compare_runs as compare

    return compare(run_a, run_b, db_path, tables)
