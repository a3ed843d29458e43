"""The ``mhtcdt`` command line.

Commands::

    mhtcdt demo [--preset NAME] [--seed N] [--out DIR] [--report]
                                                   run the embedded default scenario (or a preset) end to end
    mhtcdt run SCENARIO.toml [--seed N] [--out DIR] [--report]
    mhtcdt validate SCENARIO.toml                  check a scenario: everything `run` checks, every problem
    mhtcdt dose-response [SCENARIO.toml] [--arm A] [--patients N] [--out FILE.csv]
                                                   one lever at a time -> kill, OS and QALY gain, ICER
    mhtcdt app [--port P] [--address A]            start the Streamlit front end (127.0.0.1 unless --address)
    mhtcdt calibrate | power ...                   trial-layer commands (see ``--help``)
    mhtcdt runs list | show | compare | export     the results store
    mhtcdt evsi [SCENARIO.toml] --n 100,200 ...    value of a randomised trial: EVSI, ENBS, optimal n
    mhtcdt subgroups | compare ...                 for whom; up to four scenarios side by side
    mhtcdt transfer SCENARIO --to KEY --out F.toml  a NICE scenario in another jurisdiction (PPP costs)
    mhtcdt warmup                                  compile the kernels and compute the default answer (caches)
    mhtcdt --version

Exit codes: 0 success; 2 bad input (an invalid scenario, a missing or irregular file, an argument out of
range, an output folder that exists or cannot be written, a store path that is not a store), with one
line per problem on stderr naming the field and the value (at most 20, then how many more), or a
command that needs an optional dependency not installed (one line naming the extra, e.g. ``pip install
'mhtcdt[app]'``); 1 an unexpected internal error (one line, ``--debug`` shows the traceback); 128 + N
after signal N (130 for Ctrl-C). A bad argument is checked before any work.

A run (``run``/``demo``) writes its folder (``--out``, default ``./mhtcdt-results/<run id>/``: a new
folder per run, never shared) and records the run in the user's results store (``--store``,
``$MHTCDT_STORE``, default ``~/.local/share/mhtcdt/runs.duckdb``): 'running' while it computes, 'completed'
only after every file is written, 'failed' with the reason otherwise (an error, SIGTERM, Ctrl-C; a
killed run is marked on the next start). A run that fails leaves no folder behind. Without the ``store``
extra a run is still computed and written; one line says it was not recorded.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from mhtcdt import __version__
from mhtcdt.decision.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_OK,
    Parser,
    port,
    print_problems,
    psa_draws,
    quiet_broken_pipe,
    seed,
)
from mhtcdt.decision.extras import MissingExtra, installed, require
from mhtcdt.decision.report.cells import terminal_safe
from mhtcdt.errors import InputError, InputErrors, ModelError

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERNAL", "EXIT_OK", "build_parser", "main"]

RESULTS_ROOT = Path("mhtcdt-results")


class Interrupted(BaseException):
    """A run stopped by a signal (SIGTERM, SIGHUP): recorded as failed with the signal's name.

    A ``BaseException`` like ``KeyboardInterrupt``, so that no ``except Exception`` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.signal_name = signal.Signals(signum).name


def _raise_interrupted(signum, _frame) -> None:
    raise Interrupted(signum)


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Map errors to exit codes: bad input -> 2, anything else -> 1; never a traceback by default."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except MissingExtra as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except (InputError, InputErrors) as exc:
            return print_problems(exc)
        except ModelError as exc:
            print(f"error: the model failed: {terminal_safe(exc)}", file=sys.stderr)
            if getattr(args, "debug", False):
                raise
            return EXIT_INTERNAL
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 128 + signal.SIGINT
        except Interrupted as exc:
            print(f"interrupted by {exc.signal_name}", file=sys.stderr)
            return 128 + exc.signum
        except BrokenPipeError:
            raise  # the reader of our output has gone: handled quietly by main()
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if getattr(args, "debug", False):
                raise
            print(
                f"internal error: {type(exc).__name__}: {terminal_safe(exc)} (rerun with --debug for details)",
                file=sys.stderr,
            )
            return EXIT_INTERNAL

    return run


def _cmd_validate(args: argparse.Namespace) -> int:
    from mhtcdt.decision.scenario.loading import load_scenario
    from mhtcdt.decision.scenario.reference_case import reference_case_notes

    scenario = load_scenario(args.scenario)  # everything `run` checks before any compute, all at once
    print(
        terminal_safe(
            f"{args.scenario}: valid scenario '{scenario.name}' ({len(scenario.arms)} arms, "
            f"indication {scenario.cohort.indication}, {scenario.cohort.n_screened} screened)"
        )
    )
    for note in reference_case_notes(scenario.economics):  # jurisdiction, PPP transfer, departures, threshold
        print(terminal_safe(f"  {note}"))
    return EXIT_OK


# --------------------------------------------------------------------------------------------------
# Where a run goes: its folder and its store, checked before any compute
# --------------------------------------------------------------------------------------------------
def _check_writable(folder: Path, option: str) -> None:
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise InputError(option, str(folder), f"is not writable: {exc.strerror or exc}") from None


def _new_folder(path: Path, option: str) -> bool:
    """Create ``path`` (and its parents); True if it was created, False if it existed (empty)."""
    if path.exists() and not path.is_dir():
        raise InputError(option, str(path), "exists and is not a folder")
    if path.is_dir() and any(path.iterdir()):
        raise InputError(option, str(path), "already holds files: a run folder is written once; choose a new folder")
    existed = path.is_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(option, str(path), f"cannot be created: {exc.strerror or exc}") from None
    _check_writable(path, option)
    return not existed


def _output_folder(args: argparse.Namespace, scenario_text: str, run_seed: int) -> tuple[Path, bool]:
    """The run folder, created now: ``--out`` (new or empty) or a new ``mhtcdt-results/<run id>[-k]``
    (created atomically, so two runs in the same second never share one). Returns (folder, created)."""
    from mhtcdt.decision.report.run_folder import run_id

    if args.out:
        out = Path(args.out)
        return out, _new_folder(out, "--out")
    try:
        RESULTS_ROOT.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("--out", str(RESULTS_ROOT), f"cannot be created: {exc.strerror or exc}") from None
    _check_writable(RESULTS_ROOT, "--out")
    base = run_id(scenario_text, run_seed)
    for k in range(1, 10_000):
        out = RESULTS_ROOT / (base if k == 1 else f"{base}-{k}")
        try:
            out.mkdir()
        except FileExistsError:
            continue
        return out, True
    raise InputError("--out", str(RESULTS_ROOT), f"holds 10,000 folders named {base}-k")


def _store_path(args: argparse.Namespace) -> tuple[Path | None, str | None]:
    """(store to record the run in, or None; why the run will not be recorded, or None), checked now."""
    if args.no_store:
        return None, None
    if not installed("store"):
        return None, MissingExtra("store", "recording the run", "duckdb").message
    from mhtcdt.decision.run import store

    try:
        return store.check_store_path(args.store, write=True), None
    except InputError as exc:
        import os

        field = "--store" if args.store else "$MHTCDT_STORE" if os.environ.get(store.STORE_ENV) else "store"
        raise InputError(field, exc.value, exc.message) from None


def _remove_outputs(out: Path, created: bool) -> None:
    """Leave nothing behind after a failed run: the folder if this run created it, else its files."""
    if created:
        shutil.rmtree(out, ignore_errors=True)
    elif out.is_dir():
        for child in out.iterdir():
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)


def _run_and_report(scenario, scenario_text: str, args: argparse.Namespace) -> int:
    from mhtcdt.decision.scenario.checks import check_scenario

    check_scenario(scenario)
    if args.report:  # fail before the run, not after it
        require("openpyxl", "report", "--report (the Excel workbook)")
    run_seed = scenario.seed if args.seed is None else args.seed
    executor = _executor(args)
    db_path, not_recorded = _store_path(args)
    out, created = _output_folder(args, scenario_text, run_seed)
    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        record, psa, result, written = _record_and_run(scenario, scenario_text, run_seed, executor, out, db_path, args)
    except BaseException:
        _remove_outputs(out, created)
        raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    from mhtcdt.decision.report.summary import format_summary

    print(terminal_safe(format_summary(result, psa)))
    print(terminal_safe(f"\nWrote {len(written)} files to {out}"))
    if record is not None:
        hint = "mhtcdt runs list" + ("" if args.store is None else f" --store {db_path}")
        print(terminal_safe(f"Recorded run {record.run_id} in the results store {db_path} (see: {hint})"))
    elif not_recorded is not None:
        print(f"The run was not recorded: {not_recorded}")
    return EXIT_OK


def _record_and_run(scenario, scenario_text: str, run_seed: int, executor, out: Path, db_path, args):
    """Compute, write the folder and, last, record the run as completed (one transaction)."""
    import contextlib

    from mhtcdt.decision.progress import TqdmProgress
    from mhtcdt.decision.report.run_folder import run_id, write_outputs
    from mhtcdt.decision.run.pipeline import run_pipeline

    # the store's id of a run in a new mhtcdt-results/ folder is the folder's name
    wanted_id = None if args.out else out.name
    recorder = (
        contextlib.nullcontext(None)
        if db_path is None
        else _recorder(scenario, scenario_text, run_seed, executor, wanted_id, db_path)
    )
    psa = None
    with recorder as record, TqdmProgress(disable=args.quiet) as progress:
        result = run_pipeline(  # the parametric fits of the trial are an analysis in the run folder and report
            scenario, seed=run_seed, progress=lambda s, f: progress(s, 0.9 * f), executor=executor, fit_parametric=True
        )
        if args.psa_draws != 0:
            from mhtcdt.decision.model.psa import run_psa

            psa = run_psa(
                result,
                n_draws=args.psa_draws,
                progress=lambda s, f: progress(s, 0.9 + 0.1 * f),
                physics=False if args.no_psa_physics else None,
                emulator_cache=True,  # identical results; builds the app's default answer's emulators too
            )
        progress("writing the run folder", 0.99)
        rid = record.run_id if record is not None else (run_id(scenario_text, run_seed) if args.out else out.name)
        written = write_outputs(result, scenario_text, out, psa=psa, report=args.report, run_id=rid)
        if record is not None:
            record.add_result(result, psa)
            record.out_dir = out
        progress("done", 1.0)
    return record, psa, result, written


def _recorder(scenario, scenario_text: str, run_seed: int, executor, wanted_id: str | None, db_path: Path):
    from mhtcdt.decision.run import store

    return store.record_run(
        scenario_text,
        seed=run_seed,
        scenario_name=scenario.name,
        executor="in-process (numba threads)" if executor is None else executor.describe(),
        command=" ".join(["mhtcdt", *sys.argv[1:]]),
        run_id=wanted_id,
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


#: ``mhtcdt demo --indication NAME``: the preset scenario of each indication with an outcome calibration
INDICATION_PRESETS = {
    "glioblastoma": "default",
    "prostate": "prostate_recurrent",
    "pancreas": "pancreas_locally_advanced",
}


def _cmd_demo(args: argparse.Namespace) -> int:
    from mhtcdt.decision.scenario.loading import bundled_scenarios, parse_scenario_text, scenario_text

    preset = args.preset or "default"
    if getattr(args, "indication", None) is not None:
        if args.preset is not None:
            raise InputError("--indication", args.indication, "give either --indication or --preset, not both")
        preset = INDICATION_PRESETS[args.indication]
    name = preset if preset.endswith(".toml") else f"{preset}.toml"
    if name not in bundled_scenarios():
        known = ", ".join(n.removesuffix(".toml") for n in bundled_scenarios())
        raise InputError("--preset", preset, f"no such preset; presets: {known}")
    text = scenario_text(name)
    return _run_and_report(parse_scenario_text(text, source=name), text, args)


def _cmd_run(args: argparse.Namespace) -> int:
    from mhtcdt.decision.scenario.checks import validate_scenario_text
    from mhtcdt.decision.scenario.loading import read_scenario_file

    text = read_scenario_file(args.scenario)  # read once: the text run is the text recorded
    return _run_and_report(validate_scenario_text(text, source=args.scenario), text, args)


def _cmd_dose_response(args: argparse.Namespace) -> int:
    from mhtcdt.decision.model.dose_response import dose_response, format_dose_response
    from mhtcdt.decision.progress import TqdmProgress
    from mhtcdt.decision.scenario.checks import check_scenario
    from mhtcdt.decision.scenario.loading import default_scenario, load_scenario

    scenario = default_scenario() if args.scenario is None else load_scenario(args.scenario)
    check_scenario(scenario)
    if args.patients is not None and args.patients < 10:
        raise InputError("--patients", args.patients, "needs at least 10 patients")
    with TqdmProgress(disable=args.quiet) as progress:
        result = dose_response(
            scenario,
            arm=args.arm,
            n_patients=args.patients,
            seed=args.seed,
            progress=lambda f: progress("dose-response", f),
        )
    out = Path(args.out) if args.out else Path("dose_response.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(out)
    print(format_dose_response(result, scenario.economics.currency))
    print(f"\nWrote {out}")
    return EXIT_OK


def _cmd_app(args: argparse.Namespace) -> int:
    from mhtcdt.decision.cli.app_server import serve

    require("streamlit", "app", "mhtcdt app")
    return serve(args.port, args.address, args.headless)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=seed, default=None, help="master seed, 0 to 2^63 - 1 (default: the scenario's)")
    p.add_argument(
        "--out", default=None, help="output folder, new or empty (default ./mhtcdt-results/<run id>/, a new one)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--psa-draws",
        type=psa_draws,
        default=None,
        help="probabilistic sensitivity analysis draws (default: the scenario's; 0 = no PSA)",
    )
    p.add_argument(
        "--store",
        default=None,
        help="DuckDB results store (default $MHTCDT_STORE or ~/.local/share/mhtcdt/runs.duckdb)",
    )
    p.add_argument("--no-store", action="store_true", help="do not record the run in the store")
    p.add_argument(
        "--no-psa-physics",
        action="store_true",
        help="leave the physics and structural inputs out of the PSA (default: the scenario's [psa] physics)",
    )
    p.add_argument(
        "--report",
        action="store_true",
        help="also write report.html, tables.xlsx and figures/ (PNG and SVG) into the run folder",
    )
    from mhtcdt.decision.run.executors import add_executor_arguments

    add_executor_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="mhtcdt",
        description="Virtual clinical trials and cost-per-QALY analyses for MHT-CDT.",
    )
    parser.add_argument("--version", action="version", version=f"mhtcdt {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="run the embedded default scenario (or another preset) end to end")
    p.add_argument(
        "--preset",
        default=None,
        help="scenario preset shipped with the package: default, newly_diagnosed_stupp, "
        "recurrent_nanotherm_vs_lomustine, recurrent_nanotherm_vs_bsc, recurrent_all_comparators, "
        "prostate_recurrent, pancreas_locally_advanced, pancreas_chemotherapy_comparators; the default in other "
        "jurisdictions: default_netherlands, default_germany, default_france, default_united_states",
    )
    p.add_argument(
        "--indication",
        choices=sorted(INDICATION_PRESETS),
        default=None,
        help="run the preset of an indication: "
        + ", ".join(f"{k} -> {v}" for k, v in sorted(INDICATION_PRESETS.items())),
    )
    _add_run_options(p)
    p.set_defaults(handler=_cmd_demo, parser=p)

    p = sub.add_parser("run", help="run a scenario file end to end")
    p.add_argument("scenario", help="scenario TOML file")
    _add_run_options(p)
    p.set_defaults(handler=_cmd_run, parser=p)

    p = sub.add_parser("validate", help="check a scenario file: everything `run` checks, every problem at once")
    p.add_argument("scenario", help="scenario TOML file")
    p.set_defaults(handler=_cmd_validate, parser=p)

    from mhtcdt.decision.cli.app_server import DEFAULT_ADDRESS

    p = sub.add_parser(
        "dose-response",
        help="heat sessions, iron dose, field, GSH depletion and spacing of the MHT arm -> kill, OS, QALYs, ICER",
    )
    p.add_argument("scenario", nargs="?", default=None, help="scenario TOML file (default: the embedded default)")
    p.add_argument("--arm", default=None, help="the MHT arm to vary (default: the first randomised arm with heat)")
    p.add_argument(
        "--patients", type=int, default=200, help="eligible patients treated with every variant (default 200)"
    )
    p.add_argument("--seed", type=int, default=None, help="master seed (default: the scenario's seed)")
    p.add_argument("--out", default=None, help="CSV file of the table (default ./dose_response.csv)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_dose_response)

    p = sub.add_parser("app", help="start the Streamlit front end")
    p.add_argument("--port", type=port, default=8501)
    p.add_argument(
        "--address",
        default=DEFAULT_ADDRESS,
        help=f"interface to listen on (default {DEFAULT_ADDRESS}, this computer only; the app has no login)",
    )
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.set_defaults(handler=_cmd_app, parser=p)

    _add_layer_subcommands(sub)
    return parser


def _add_layer_subcommands(sub) -> None:
    """Subcommands owned by the other CLI modules (trial calibration and power, trial value, run store,
    subgroups, compare and warmup)."""
    from mhtcdt.decision.cli import decision, evsi, store, trial

    trial.add_subcommands(sub)
    evsi.add_subcommands(sub)
    store.add_subcommands(sub)
    decision.add_subcommands(sub)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings are one readable line on stderr (no source-code echo)."""
    print(f"warning: {terminal_safe(message)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    warnings.showwarning = _show_warning
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported by the subcommand's own parser, with its own usage
        getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        code = _guarded(args.handler)(args)
        sys.stdout.flush()
    except BrokenPipeError:
        return quiet_broken_pipe()
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
