"""The ``mhtcdt`` command line.

Commands::

    mhtcdt demo [--seed N] [--out DIR] [--report]  run the embedded default scenario end to end
    mhtcdt run SCENARIO.toml [--seed N] [--out DIR] [--report]
    mhtcdt validate SCENARIO.toml                  check a scenario, one line per problem
    mhtcdt app [--port P]                          start the Streamlit front end
    mhtcdt calibrate | power ...                   trial-layer commands (see ``--help``)
    mhtcdt subgroups | compare ...                 for whom; up to four scenarios side by side
    mhtcdt --version

Exit codes: 0 success; 2 bad input (invalid scenario, missing file, impossible request), with one
line per problem on stderr naming the field and the value, or a command that needs an optional
dependency not installed (one line naming the extra, e.g. ``pip install 'mhtcdt[app]'``); 1 an
unexpected internal error (one line, ``--debug`` shows the traceback). Without the ``store`` extra a
run is still computed and written; one line says it was not recorded.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mhtcdt import __version__
from mhtcdt.decision.extras import MissingExtra, installed, require
from mhtcdt.errors import InputError, InputErrors, ModelError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2


def _print_problems(exc: InputError | InputErrors, stream=None) -> None:
    stream = stream or sys.stderr
    lines = exc.lines() if isinstance(exc, InputErrors) else [exc.line()]
    print(f"error: {len(lines)} problem(s):", file=stream)
    for line in lines:
        print(f"  {line}", file=stream)


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Map errors to exit codes: bad input -> 2, anything else -> 1; never a traceback by default."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except MissingExtra as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except (InputError, InputErrors) as exc:
            _print_problems(exc)
            return EXIT_BAD_INPUT
        except ModelError as exc:
            print(f"error: the model failed: {exc}", file=sys.stderr)
            if getattr(args, "debug", False):
                raise
            return EXIT_INTERNAL
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if getattr(args, "debug", False):
                raise
            print(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)", file=sys.stderr)
            return EXIT_INTERNAL

    return run


def _cmd_validate(args: argparse.Namespace) -> int:
    from mhtcdt.decision.scenario.checks import check_scenario
    from mhtcdt.decision.scenario.loading import load_scenario

    scenario = load_scenario(args.scenario)
    check_scenario(scenario)
    print(
        f"{args.scenario}: valid scenario '{scenario.name}' ({len(scenario.arms)} arms, "
        f"indication {scenario.cohort.indication}, {scenario.cohort.n_screened} screened)"
    )
    return EXIT_OK


def _run_and_report(scenario, scenario_text: str, args: argparse.Namespace) -> int:
    from mhtcdt.decision.progress import TqdmProgress
    from mhtcdt.decision.report.run_folder import run_id, write_outputs
    from mhtcdt.decision.report.summary import format_summary
    from mhtcdt.decision.run.pipeline import run_pipeline
    from mhtcdt.decision.scenario.checks import check_scenario

    check_scenario(scenario)
    if args.report:  # fail before the run, not after it
        require("openpyxl", "report", "--report (the Excel workbook)")
    seed = scenario.seed if args.seed is None else args.seed
    out = Path(args.out) if args.out else Path("mhtcdt-results") / run_id(scenario_text, seed)
    executor = _executor(args)
    db_path = None if args.no_store else Path(args.store) if args.store else _default_store(out)
    not_recorded = None
    if db_path is not None and not installed("store"):
        not_recorded = MissingExtra("store", "recording the run", "duckdb").message
        db_path = None
    recorder = (
        contextlib.nullcontext(None)
        if db_path is None
        else _recorder(scenario, scenario_text, seed, executor, out, db_path)
    )
    psa = None
    with recorder as record, TqdmProgress(disable=args.quiet) as progress:
        result = run_pipeline(  # the parametric fits of the trial are an analysis in the run folder and report
            scenario, seed=seed, progress=lambda s, f: progress(s, 0.9 * f), executor=executor, fit_parametric=True
        )
        if args.psa_draws != 0:
            from mhtcdt.decision.model.psa import run_psa

            psa = run_psa(result, n_draws=args.psa_draws, progress=lambda s, f: progress(s, 0.9 + 0.1 * f))
        progress("done", 1.0)
        if record is not None:
            record.add_pipeline_result(result)
            if psa is not None:
                record.add_table("psa_summary", psa.summary())
                record.add_table("ceac", psa.ceac)
                record.add_table("evppi", psa.evppi)
    written = write_outputs(result, scenario_text, out, psa=psa, report=args.report)
    print(format_summary(result, psa))
    print(f"\nWrote {len(written)} files to {out}")
    if record is not None:
        print(f"Recorded run {record.run_id} in {db_path} (see: mhtcdt runs list)")
    elif not_recorded is not None:
        print(f"The run was not recorded: {not_recorded}")
    return EXIT_OK


def _recorder(scenario, scenario_text: str, seed: int, executor, out: Path, db_path: Path):
    from mhtcdt.decision.run import store

    return store.record_run(
        scenario_text,
        seed=seed,
        scenario_name=scenario.name,
        executor="in-process (numba threads)" if executor is None else executor.describe(),
        command=" ".join(["mhtcdt", *sys.argv[1:]]),
        run_id=out.name,
        db_path=db_path,
    )


def _executor(args: argparse.Namespace):
    """The chosen executor, or None (in-process numba threads) unless --executor/--scheduler or
    $DASK_SCHEDULER_ADDRESS ask for chunked execution."""
    import os

    from mhtcdt.decision.run import executors

    if args.executor is None and args.scheduler is None and not os.environ.get(executors.SCHEDULER_ENV):
        return None
    spec = executors.executor_from_args(args)
    if spec.kind == "dask":  # fail before the run, not at its first chunk
        require("distributed", "dask", "the dask executor")
    return spec


def _default_store(out: Path) -> Path:
    """``$MHTCDT_STORE`` if set, else ``runs.duckdb`` beside the run folder (``mhtcdt-results/``)."""
    import os

    env = os.environ.get("MHTCDT_STORE")
    return Path(env) if env else out.resolve().parent / "runs.duckdb"


def _cmd_demo(args: argparse.Namespace) -> int:
    from mhtcdt.decision.scenario.loading import default_scenario, scenario_text

    return _run_and_report(default_scenario(), scenario_text(), args)


def _cmd_run(args: argparse.Namespace) -> int:
    from mhtcdt.decision.scenario.loading import load_scenario

    scenario = load_scenario(args.scenario)
    text = Path(args.scenario).read_text(encoding="utf-8")
    return _run_and_report(scenario, text, args)


def _cmd_app(args: argparse.Namespace) -> int:
    import subprocess

    require("streamlit", "app", "mhtcdt app")
    app = Path(__file__).resolve().parents[2] / "app" / "router.py"
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(args.port),
        "--server.headless",
        "true" if args.headless else "false",
        "--browser.gatherUsageStats",
        "false",
        "--client.showErrorDetails",
        "none",
    ]  # pages show errors themselves; never a traceback
    print("starting:", " ".join(cmd))
    return subprocess.call(cmd)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=None, help="master seed (default: the scenario's seed)")
    p.add_argument("--out", default=None, help="output folder (default ./mhtcdt-results/<run id>/)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--psa-draws",
        type=int,
        default=None,
        help="probabilistic sensitivity analysis draws (default: the scenario's; 0 = no PSA)",
    )
    p.add_argument(
        "--store", default=None, help="DuckDB run store (default $MHTCDT_STORE or runs.duckdb beside the run folder)"
    )
    p.add_argument("--no-store", action="store_true", help="do not record the run in the store")
    p.add_argument(
        "--report",
        action="store_true",
        help="also write report.html, tables.xlsx and figures/ (PNG and SVG) into the run folder",
    )
    from mhtcdt.decision.run.executors import add_executor_arguments

    add_executor_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mhtcdt",
        description="Virtual clinical trials and cost-per-QALY analyses for MHT-CDT.",
    )
    parser.add_argument("--version", action="version", version=f"mhtcdt {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="run the embedded default scenario end to end")
    _add_run_options(p)
    p.set_defaults(handler=_cmd_demo)

    p = sub.add_parser("run", help="run a scenario file end to end")
    p.add_argument("scenario", help="scenario TOML file")
    _add_run_options(p)
    p.set_defaults(handler=_cmd_run)

    p = sub.add_parser("validate", help="check a scenario file and explain every problem")
    p.add_argument("scenario", help="scenario TOML file")
    p.set_defaults(handler=_cmd_validate)

    p = sub.add_parser("app", help="start the Streamlit front end")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.set_defaults(handler=_cmd_app)

    _add_layer_subcommands(sub)
    return parser


def _add_layer_subcommands(sub) -> None:
    """Subcommands owned by the other CLI modules (trial calibration and power, run store)."""
    from mhtcdt.decision.cli import decision, store, trial

    trial.add_subcommands(sub)
    store.add_subcommands(sub)
    decision.add_subcommands(sub)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings are one readable line on stderr (no source-code echo)."""
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    warnings.showwarning = _show_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    return _guarded(args.handler)(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
