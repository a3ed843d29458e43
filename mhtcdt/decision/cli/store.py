"""``mhtcdt runs``: read the results store (:mod:`mhtcdt.decision.run.store`).

Commands::

    mhtcdt runs list    [--status S] [--limit N] [--store DB]      recorded runs, newest first
    mhtcdt runs show    RUN [--table NAME] [--rows N] [--scenario] [--store DB]
    mhtcdt runs compare RUN_A RUN_B [--table NAME ...] [--rows N] [--store DB]
    mhtcdt runs export  RUN --out DIR [--format csv|parquet] [--store DB]

``RUN`` is a run id or a unique prefix of one. ``--store`` defaults to ``$MHTCDT_STORE`` or
``mhtcdt-results/runs.duckdb``. Exit codes: 0 success; 2 bad input (unknown run or table, missing
store), one line per problem on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from mhtcdt.decision.extras import EXTRAS, require
from mhtcdt.errors import InputError, InputErrors

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def _problems(exc: InputError | InputErrors) -> int:
    lines = exc.lines() if isinstance(exc, InputErrors) else [exc.line()]
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _handler(func):
    def run(args: argparse.Namespace) -> int:
        try:
            for module in EXTRAS["store"]:
                require(module, "store", "mhtcdt runs")
            return func(args)
        except (InputError, InputErrors) as exc:
            return _problems(exc)

    return run


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _frame_text(df: pd.DataFrame, rows: int) -> str:
    with pd.option_context("display.max_columns", 30, "display.width", 160, "display.max_colwidth", 40):
        text = df.head(rows).to_string(index=False)
    if len(df) > rows:
        text += f"\n... {len(df) - rows} more rows (use --rows or `runs export`)"
    return text


def _cmd_list(args: argparse.Namespace) -> int:
    from mhtcdt.decision.run import store

    path = Path(args.store) if args.store else store.default_store_path()
    if not path.exists():
        print(f"no runs recorded in {path}")
        return EXIT_OK
    runs = store.list_runs(path, status=args.status, limit=args.limit)
    if runs.empty:
        print(f"no runs{f' with status {args.status}' if args.status else ''} in {path}")
        return EXIT_OK
    shown = pd.DataFrame(
        {
            "run_id": runs["run_id"],
            "status": runs["status"],
            "scenario": runs["scenario_name"].fillna(""),
            "seed": runs["seed"],
            "started_utc": runs["started_utc"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "duration_s": runs["duration_s"].round(1),
            "executor": runs["executor"].fillna(""),
            "tables": runs["n_tables"],
            "commit": runs["git_commit"].fillna("").str.slice(0, 10),
        }
    )
    print(shown.to_string(index=False))
    print(f"\n{len(runs)} run(s) in {path}")
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    from mhtcdt.decision.run import store

    run = store.get_run(args.run, args.store)
    if args.table:
        print(_frame_text(store.load_table(run["run_id"], args.table, args.store), args.rows))
        return EXIT_OK
    for key, value in run.items():
        if key != "scenario_text" and value is not None:
            print(f"{key:<16s} {value}")
    tables = store.run_tables(run["run_id"], args.store)
    if len(tables):
        print("\ntables")
        for row in tables.itertuples(index=False):
            print(f"  {row.table_name:<20s} {row.n_rows:>9d} rows x {row.n_cols} columns")
    if args.scenario:
        print("\nscenario\n" + run["scenario_text"])
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from mhtcdt.decision.run import store

    cmp = store.compare_runs(args.run_a, args.run_b, args.store, tables=args.table or None)
    print(f"A = {cmp.run_a}\nB = {cmp.run_b}\n")
    print(cmp.metadata.to_string(index=False))
    print("\nscenario: " + ("identical text" if not cmp.scenario_diff else "differs\n" + cmp.scenario_diff))
    for name, diff in cmp.tables.items():
        changed = diff[(diff["difference"].abs() > 0) | diff["difference"].isna()]
        print(f"\ntable {name}: {len(changed)} of {len(diff)} numeric values differ")
        if len(changed):
            print(_frame_text(changed, args.rows))
    for label, names in (("only in A", cmp.only_in_a), ("only in B", cmp.only_in_b)):
        if names:
            print(f"\ntables {label}: {', '.join(names)}")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from mhtcdt.decision.run import store

    run = store.get_run(args.run, args.store)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("out", str(out), "exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in store.load_tables(run["run_id"], args.store).items():
        path = out / f"{name}.{args.format}"
        if args.format == "csv":
            table.to_csv(path, index=False)
        else:
            table.to_parquet(path, index=False)
        written.append(path)
    (out / "scenario.toml").write_text(run["scenario_text"], encoding="utf-8")
    meta = {k: v for k, v in run.items() if k != "scenario_text"}
    (out / "run.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"exported run {run['run_id']}: {len(written)} tables, scenario.toml and run.json to {out}")
    return EXIT_OK


def add_subcommands(subparsers) -> None:
    """Add ``runs list|show|compare|export`` to the ``mhtcdt`` command's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store",
        default=None,
        metavar="DB",
        help="results database (default $MHTCDT_STORE or mhtcdt-results/runs.duckdb)",
    )

    runs = subparsers.add_parser("runs", help="list, show, compare and export recorded runs")
    sub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", parents=[common], help="recorded runs, newest first")
    p.add_argument("--status", choices=("running", "completed", "failed"), default=None)
    p.add_argument("--limit", type=_positive, default=None)
    p.set_defaults(handler=_handler(_cmd_list))

    p = sub.add_parser("show", parents=[common], help="provenance and tables of one run")
    p.add_argument("run", help="run id or unique prefix")
    p.add_argument("--table", default=None, help="print this stored table")
    p.add_argument("--rows", type=_positive, default=50, help="rows to print (default 50)")
    p.add_argument("--scenario", action="store_true", help="print the scenario text as run")
    p.set_defaults(handler=_handler(_cmd_show))

    p = sub.add_parser("compare", parents=[common], help="differences between two runs")
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--table", action="append", default=None, help="compare only this table (repeatable)")
    p.add_argument("--rows", type=_positive, default=40, help="differing values to print per table")
    p.set_defaults(handler=_handler(_cmd_compare))

    p = sub.add_parser("export", parents=[common], help="write a run's tables, scenario and metadata")
    p.add_argument("run")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.set_defaults(handler=_handler(_cmd_export))
