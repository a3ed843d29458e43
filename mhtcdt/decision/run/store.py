"""The results store: every run, with what is needed to reproduce it, in an embedded DuckDB file.

Recording a run (how ``mhtcdt run``/``demo`` use it)::

    from mhtcdt.decision.run import store

    with store.record_run(scenario_text, seed=seed, scenario_name=sc.name, executor="processes(2)",
                          command="mhtcdt run my.toml", db_path=None) as run:   # row 'running'
        result = run_pipeline(scenario, seed)
        run.add_pipeline_result(result)        # or run.add_table("name", df) per table
    # leaving the block: ONE transaction marks the row 'completed' and inserts every table;
    # an exception instead marks it 'failed' with the error text and is re-raised.
    print(run.run_id)

Default database file: ``$MHTCDT_STORE`` if set, else ``mhtcdt-results/runs.duckdb`` (next to the run
folders written by the report); every function takes ``db_path`` to choose another file.

Tables (SQL schema, DuckDB types)
---------------------------------
``runs`` one row per run:
  run_id VARCHAR (primary key, ``YYYYmmdd-HHMMSS-s<seed>-<hash8>`` plus ``-2``, ``-3`` on collisions),
  status VARCHAR ('running' | 'completed' | 'failed'), scenario_name VARCHAR, scenario_sha256 VARCHAR,
  scenario_text VARCHAR (the full text as run), seed BIGINT, mhtcdt_version VARCHAR,
  git_commit VARCHAR (NULL when not in a git checkout; suffix ``+dirty`` with local changes),
  code_sha256 VARCHAR (:func:`mhtcdt.decision.run.code_identity.code_fingerprint` of the modules the run loaded,
  set when it completes: identifies the exact code even in a dirty checkout),
  python_version VARCHAR, hostname VARCHAR, pid INTEGER, executor VARCHAR (e.g. ``processes(2)``),
  command VARCHAR, started_utc TIMESTAMP, finished_utc TIMESTAMP, duration_s DOUBLE,
  error VARCHAR (failed runs), verdict VARCHAR.
``run_tables`` one row per result table of a completed run:
  run_id VARCHAR, table_name VARCHAR, n_rows BIGINT, n_cols INTEGER, columns VARCHAR (JSON list of
  [name, dtype]), data BLOB (the DataFrame as Parquet bytes: dtypes survive the round trip).

Reading: :func:`list_runs` (DataFrame with the ``runs`` columns except scenario_text, newest first,
plus ``n_tables``), :func:`get_run` (dict of one row), :func:`run_tables` (table catalogue),
:func:`load_table` (DataFrame), :func:`resolve_run_id` (unique prefix -> id).

Concurrency and atomicity: DuckDB admits one writing process per file, so every access takes an
``fcntl.flock`` on the sidecar ``<db>.lock`` (exclusive for writes, shared for reads), opens the
database, does one short transaction and closes it before releasing the lock; lock conflicts wait
(``timeout_s``). A run's final write is a single transaction, so a crash leaves either the complete
run or its 'running' row; rows left 'running' by a process that no longer exists on this host are
marked 'failed' ("process ended without finishing") by :func:`reap_stale_runs`, which readers call.
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
DEFAULT_STORE = Path("mhtcdt-results") / "runs.duckdb"
STATUSES = ("running", "completed", "failed")
LOCK_TIMEOUT_S = 120.0

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
    "python_version, "
    "hostname, pid, executor, command, started_utc, finished_utc, duration_s, error, verdict"
)


def default_store_path() -> Path:
    """``$MHTCDT_STORE`` if set, else ``mhtcdt-results/runs.duckdb`` relative to the working directory."""
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE)


def _path(db_path: str | os.PathLike | None) -> Path:
    return Path(db_path) if db_path is not None else default_store_path()


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
    shared lock and need an existing file (``InputError`` naming ``store`` otherwise).
    """
    duckdb = require("duckdb", "store", "the run store")
    path = _path(db_path)
    if not write and not path.exists():
        raise InputError("store", str(path), "no results store at this path (no run recorded yet?)")
    path.parent.mkdir(parents=True, exist_ok=True)
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

    def add_table(self, name: str, table: pd.DataFrame) -> None:
        """Keep ``table`` under ``name`` (letters, digits, ``_``); replaces a table of the same name."""
        if not name or not name.replace("_", "").isalnum():
            raise InputError("table_name", name, "table names use letters, digits and '_' only")
        if not isinstance(table, pd.DataFrame):
            raise InputError(f"tables.{name}", type(table).__name__, "a result table must be a DataFrame")
        self.tables[name] = table

    def add_pipeline_result(self, result: Any) -> None:
        """Keep every table of a ``PipelineResult`` (names as the report's CSV files) and the verdict."""
        for name in (
            "flow",
            "trial",
            "curves",
            "survival_summary",
            "comparison",
            "parametric",
            "economics",
            "incremental",
        ):
            table = getattr(result, name, None)
            if isinstance(table, pd.DataFrame):
                self.add_table("consort" if name == "flow" else name, table)
        timings = getattr(result, "timings_s", None)
        if timings:
            stages = pd.DataFrame({"stage": list(timings), "seconds": [float(v) for v in timings.values()]})
            self.add_table("timings", stages)
        self.verdict = getattr(result, "verdict", None)


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
    """Insert the 'running' row of a new run and return its handle (prefer :func:`record_run`)."""
    from mhtcdt.decision.report.run_folder import run_id as make_run_id
    from mhtcdt.decision.report.run_folder import scenario_hash

    if not isinstance(scenario_text, str):
        raise InputError("scenario_text", type(scenario_text).__name__, "the scenario must be given as text")
    started = _now()
    wanted = run_id or make_run_id(scenario_text, int(seed or 0), started.replace(tzinfo=UTC))
    path = _path(db_path)
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


def finish_run(record: RunRecord) -> None:
    """Mark the run 'completed' and write all its tables in ONE transaction (all or nothing)."""
    from mhtcdt.decision.run.code_identity import code_fingerprint

    fingerprint = code_fingerprint()
    blobs = [
        (name, len(df), df.shape[1], json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]), _to_parquet(df))
        for name, df in record.tables.items()
    ]
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
                "duration_s = date_diff('microsecond', started_utc, ?) / 1e6 WHERE run_id = ?",
                [finished, record.verdict, fingerprint, finished, record.run_id],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    record.status = "completed"


def fail_run(record: RunRecord, error: str) -> None:
    """Mark the run 'failed' with ``error`` (no result tables are kept)."""
    finished = _now()
    with connect(record.db_path, write=True) as con:
        con.execute(
            "UPDATE runs SET status = 'failed', finished_utc = ?, error = ?, "
            "duration_s = date_diff('microsecond', started_utc, ?) / 1e6 WHERE run_id = ?",
            [finished, error[:4000], finished, record.run_id],
        )
    record.status = "failed"


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
    (with the exception text; the exception is re-raised). See the module docstring for an example."""
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
        fail_run(record, f"{type(exc).__name__}: {exc}")
        raise
    try:
        finish_run(record)
    except BaseException as exc:
        fail_run(record, f"could not store the results: {type(exc).__name__}: {exc}")
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
    stale = [rid for rid, pid in rows if pid is not None and not _pid_alive(int(pid))]
    if stale:
        with connect(path, write=True) as con:
            for rid in stale:
                con.execute(
                    "UPDATE runs SET status = 'failed', error = 'process ended without finishing' "
                    "WHERE run_id = ? AND status = 'running'",
                    [rid],
                )
    return stale


def list_runs(
    db_path: str | os.PathLike | None = None, *, status: str | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Runs, newest first (``runs`` columns except ``scenario_text``, plus ``n_tables``)."""
    if status is not None and status not in STATUSES:
        raise InputError("status", status, f"choose one of {', '.join(STATUSES)}")
    if limit is not None and (isinstance(limit, bool) or int(limit) < 1):
        raise InputError("limit", limit, "limit must be an integer >= 1")
    reap_stale_runs(db_path)
    sql = (
        f"SELECT {', '.join('r.' + c.strip() for c in _LIST_COLUMNS.split(','))}, "
        "count(t.table_name) AS n_tables FROM runs r LEFT JOIN run_tables t USING (run_id)"
    )
    params: list[Any] = []
    if status:
        sql += " WHERE r.status = ?"
        params.append(status)
    sql += " GROUP BY ALL ORDER BY r.started_utc DESC, r.run_id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    with connect(db_path) as con:
        return con.execute(sql, params).df()


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
_PROVENANCE_FIELDS = (
    "status",
    "scenario_name",
    "scenario_sha256",
    "seed",
    "mhtcdt_version",
    "git_commit",
    "code_sha256",
    "python_version",
    "hostname",
    "executor",
    "command",
    "started_utc",
    "duration_s",
    "verdict",
)


def compare_table(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Numeric differences between two versions of one result table, long format.

    Rows are matched on the non-numeric (key) columns when they identify rows uniquely in both
    tables, otherwise by position (key column ``row``). Returns columns: the key columns,
    ``column`` (str), ``value_a``, ``value_b``, ``difference`` (= b - a; float64, NaN where a row
    exists in one run only).
    """
    numeric = [
        c
        for c in a.columns
        if c in b.columns
        and pd.api.types.is_numeric_dtype(a[c])
        and pd.api.types.is_numeric_dtype(b[c])
        and not pd.api.types.is_bool_dtype(a[c])
    ]
    keys = [c for c in a.columns if c in b.columns and c not in numeric]
    if not keys or a.duplicated(keys).any() or b.duplicated(keys).any():
        a, b = a.assign(row=range(len(a))), b.assign(row=range(len(b)))
        keys = ["row"]
    a_long = a[keys + numeric].melt(id_vars=keys, var_name="column", value_name="value_a")
    b_long = b[keys + numeric].melt(id_vars=keys, var_name="column", value_name="value_b")
    for frame in (a_long, b_long):
        for k in keys:
            frame[k] = frame[k].astype(str) if k != "row" else frame[k]
    merged = a_long.merge(b_long, on=[*keys, "column"], how="outer", sort=False)
    merged["value_a"] = merged["value_a"].astype("float64")
    merged["value_b"] = merged["value_b"].astype("float64")
    merged["difference"] = merged["value_b"] - merged["value_a"]
    return merged


@dataclass
class RunComparison:
    """Result of :func:`compare_runs`.

    ``metadata``: DataFrame field, run_a, run_b, same (bool). ``scenario_diff``: unified diff of the
    scenario texts ('' if identical). ``tables``: {name: :func:`compare_table` DataFrame} for tables
    in both runs; ``only_in_a`` / ``only_in_b``: table names stored by one run only.
    """

    run_a: str
    run_b: str
    metadata: pd.DataFrame
    scenario_diff: str
    tables: dict[str, pd.DataFrame]
    only_in_a: list[str]
    only_in_b: list[str]


def compare_runs(
    run_a: str, run_b: str, db_path: str | os.PathLike | None = None, tables: list[str] | None = None
) -> RunComparison:
    """Compare provenance, scenario text and result tables of two runs (ids or unique prefixes)."""
    import difflib

    ra, rb = get_run(run_a, db_path), get_run(run_b, db_path)
    meta = pd.DataFrame(
        {
            "field": list(_PROVENANCE_FIELDS),
            "run_a": [str(ra[f]) for f in _PROVENANCE_FIELDS],
            "run_b": [str(rb[f]) for f in _PROVENANCE_FIELDS],
        }
    )
    meta["same"] = meta["run_a"] == meta["run_b"]
    diff = "".join(
        difflib.unified_diff(
            ra["scenario_text"].splitlines(keepends=True),
            rb["scenario_text"].splitlines(keepends=True),
            fromfile=ra["run_id"],
            tofile=rb["run_id"],
        )
    )
    names_a = set(run_tables(ra["run_id"], db_path)["table_name"])
    names_b = set(run_tables(rb["run_id"], db_path)["table_name"])
    wanted = sorted(names_a & names_b)
    if tables:
        for name in tables:
            if name not in names_a or name not in names_b:
                common = ", ".join(wanted) or "none"
                raise InputError("table", name, f"not stored by both runs; common tables: {common}")
        wanted = list(tables)
    compared = {
        name: compare_table(load_table(ra["run_id"], name, db_path), load_table(rb["run_id"], name, db_path))
        for name in wanted
    }
    return RunComparison(
        ra["run_id"], rb["run_id"], meta, diff, compared, sorted(names_a - names_b), sorted(names_b - names_a)
    )
