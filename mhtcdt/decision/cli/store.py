"""``mhtcdt runs``: read the results store (:mod:`mhtcdt.decision.run.store`).

Commands::

    mhtcdt runs list    [--all] [--status S] [--limit N] [--store DB]  recorded runs, newest first
    mhtcdt runs show    RUN [--table NAME] [--rows N] [--scenario] [--store DB]
    mhtcdt runs compare RUN_A RUN_B [--table NAME ...] [--rows N] [--all-rows] [--store DB]
    mhtcdt runs export  RUN --out DIR [--format csv|parquet] [--store DB]

``RUN`` is a run id or a unique prefix of one. ``--store`` defaults to ``$MHTCDT_STORE`` or the user's
store (``~/.local/share/mhtcdt/runs.duckdb``). ``list`` hides failed attempts (typos, interrupted runs)
unless ``--all`` or ``--status failed``. ``compare`` matches the rows of each table by their keys
(strategy, willingness to pay, time, endpoint, arm ...) and prints plain-language tables with formatted
numbers (:mod:`mhtcdt.decision.run.run_comparison`). Text from the store is printed with control
characters escaped; exported CSVs cannot start a spreadsheet formula. Exit codes: 0 success; 2 bad input
(unknown run or table, a store path that is missing or not a store), one line per problem on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pandas as pd

from mhtcdt.decision.cli.output import EXIT_OK, positive_int, print_problems
from mhtcdt.decision.extras import EXTRAS, require
from mhtcdt.decision.report.cells import spreadsheet_safe, terminal_safe, terminal_table
from mhtcdt.errors import InputError, InputErrors


def _handler(func):
    def run(args: argparse.Namespace) -> int:
        try:
            for module in EXTRAS["store"]:
                require(module, "store", "mhtcdt runs")
            return func(args)
        except (InputError, InputErrors) as exc:
            return print_problems(exc, header=False)

    return run


def _frame_text(df: pd.DataFrame, rows: int) -> str:
    with pd.option_context("display.max_columns", 30, "display.width", 160, "display.max_colwidth", 60):
        text = terminal_table(df.head(rows)).to_string(index=False)
    if len(df) > rows:
        text += f"\n... {len(df) - rows} more rows (use --rows or `runs export`)"
    return text


def _cmd_list(args: argparse.Namespace) -> int:
    from mhtcdt.decision.run import store

    if args.store is None and not os.path.lexists(store.default_store_path()):
        # the user's own store before their first run: nothing recorded yet (a --store path that is missing
        # is a typo: exit 2 below)
        print(
            terminal_safe(
                f"no runs recorded yet in {store.default_store_path()} (mhtcdt demo or mhtcdt run records one)"
            )
        )
        return EXIT_OK
    path = store.check_store_path(args.store)  # a missing store or a non-store file: exit 2
    runs = store.list_runs(path, status=args.status, limit=args.limit, include_failed=args.all)
    if runs.empty:
        which = f" with status {args.status}" if args.status else "" if args.all else " (failed attempts: --all)"
        print(terminal_safe(f"no runs{which} in {path}"))
        return EXIT_OK
    shown = pd.DataFrame(
        {
            "run": runs["run_id"],
            "status": runs["status"],
            "scenario": runs["scenario_name"].fillna(""),
            "seed": runs["seed"],
            "started (UTC)": runs["started_utc"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "seconds": runs["duration_s"].round(1),
            "tables": runs["n_tables"],
            "commit": runs["git_commit"].fillna("").str.slice(0, 10),
        }
    )
    if args.all or args.status == "failed":
        shown["error"] = runs["error"].fillna("").str.slice(0, 60)
    print(_frame_text(shown, len(shown)))
    hidden = "" if args.all or args.status else " (failed attempts hidden: --all shows them)"
    print(terminal_safe(f"\n{len(runs)} run(s) in {path}{hidden}"))
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    from mhtcdt.decision.run import store

    run = store.get_run(args.run, store.check_store_path(args.store))
    if args.table:
        print(_frame_text(store.load_table(run["run_id"], args.table, args.store), args.rows))
        return EXIT_OK
    for key, value in run.items():
        if key not in ("scenario_text", "summary_text", "timings_json") and value is not None:
            print(terminal_safe(f"{key:<16s} {value}"))
    tables = store.run_tables(run["run_id"], args.store)
    if len(tables):
        print("\ntables")
        for row in tables.itertuples(index=False):
            print(f"  {row.table_name:<20s} {row.n_rows:>9d} rows x {row.n_cols} columns")
    if args.scenario:
        print("\nscenario\n" + terminal_safe(run["scenario_text"]))
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from mhtcdt.decision.run import run_comparison, store

    cmp = store.compare_runs(args.run_a, args.run_b, store.check_store_path(args.store), tables=args.table or None)
    print(terminal_safe(f"A = {cmp.run_a}\nB = {cmp.run_b}\n"))
    meta = cmp.metadata.set_index("what")
    short = cmp.metadata[cmp.metadata["what"] != "verdict"].copy()
    for column in ("run A", "run B"):  # long values (commands, folders) cut to keep one line per field
        short[column] = short[column].map(lambda v: v if len(v) <= 48 else v[:45] + "...")
    print(_frame_text(short, len(short)))
    if "verdict" in meta.index:
        for run in ("run A", "run B"):
            print(terminal_safe(f"\nVerdict, {run}: {meta.loc['verdict', run]}"))
    print(
        "\nScenario: " + ("identical text" if not cmp.scenario_diff else "differs\n" + terminal_safe(cmp.scenario_diff))
    )
    for name, table in cmp.tables.items():
        rows = table if args.all_rows else run_comparison.changed(table)
        print(
            terminal_safe(
                f"\n{cmp.titles[name]} ({name}): {len(run_comparison.changed(table))} of {len(table)} values differ"
            )
        )
        if len(rows):
            print(_frame_text(run_comparison.readable(rows), args.rows))
    for name, why in cmp.not_compared.items():
        print(terminal_safe(f"\n{name}: not compared ({why})"))
    for label, names in (("only in A", cmp.only_in_a), ("only in B", cmp.only_in_b)):
        if names:
            print(f"\ntables {label}: {', '.join(names)}")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from mhtcdt.decision.run import store

    run = store.get_run(args.run, store.check_store_path(args.store))
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("--out", str(out), "exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("--out", str(out), f"cannot be created: {exc.strerror or exc}") from None
    written = []
    for name, table in store.load_tables(run["run_id"], args.store).items():
        path = out / f"{name}.{args.format}"
        if args.format == "csv":
            spreadsheet_safe(table).to_csv(path, index=False)
        else:
            table.to_parquet(path, index=False)
        written.append(path)
    (out / "scenario.toml").write_text(run["scenario_text"], encoding="utf-8")
    if run.get("summary_text"):
        (out / "summary.txt").write_text(run["summary_text"] + "\n", encoding="utf-8")
    meta = {k: v for k, v in run.items() if k not in ("scenario_text", "summary_text")}
    (out / "run.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
    print(terminal_safe(f"exported run {run['run_id']}: {len(written)} tables, scenario.toml and run.json to {out}"))
    return EXIT_OK


def add_subcommands(subparsers) -> None:
    """Add ``runs list|show|compare|export`` to the ``mhtcdt`` command's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store",
        default=None,
        metavar="DB",
        help="results database (default $MHTCDT_STORE or ~/.local/share/mhtcdt/runs.duckdb)",
    )

    runs = subparsers.add_parser("runs", help="list, show, compare and export recorded runs")
    runs.set_defaults(parser=runs)
    sub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", parents=[common], help="recorded runs, newest first")
    p.add_argument("--status", choices=("running", "completed", "failed"), default=None)
    p.add_argument("--all", action="store_true", help="also list failed attempts")
    p.add_argument("--limit", type=positive_int, default=None)
    p.set_defaults(handler=_handler(_cmd_list), parser=p)

    p = sub.add_parser("show", parents=[common], help="provenance and tables of one run")
    p.add_argument("run", help="run id or unique prefix")
    p.add_argument("--table", default=None, help="print this stored table")
    p.add_argument("--rows", type=positive_int, default=50, help="rows to print (default 50)")
    p.add_argument("--scenario", action="store_true", help="print the scenario text as run")
    p.set_defaults(handler=_handler(_cmd_show), parser=p)

    p = sub.add_parser("compare", parents=[common], help="two runs side by side, tables matched by their keys")
    p.add_argument("run_a")
    p.add_argument("run_b")
    p.add_argument("--table", action="append", default=None, help="compare only this table (repeatable)")
    p.add_argument("--rows", type=positive_int, default=40, help="rows to print per table (default 40)")
    p.add_argument("--all-rows", action="store_true", help="also print the values that are the same")
    p.set_defaults(handler=_handler(_cmd_compare), parser=p)

    p = sub.add_parser("export", parents=[common], help="write a run's tables, scenario and metadata")
    p.add_argument("run")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.set_defaults(handler=_handler(_cmd_export), parser=p)
