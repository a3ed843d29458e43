"""The ``mhtcdt`` command line.

Commands::

    mhtcdt demo [--seed N] [--out DIR]             run the embedded default scenario end to end
    mhtcdt run SCENARIO.toml [--seed N] [--out DIR]
    mhtcdt validate SCENARIO.toml                  check a scenario, one line per problem
    mhtcdt app [--port P]                          start the Streamlit front end
    mhtcdt calibrate | power ...                   trial-layer commands (see ``--help``)
    mhtcdt --version

Exit codes: 0 success; 2 bad input (invalid scenario, missing file, impossible request), with one
line per problem on stderr naming the field and the value; 1 an unexpected internal error (one line,
``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mhtcdt import __version__
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
    from mhtcdt.decision.checks import check_scenario
    from mhtcdt.decision.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    check_scenario(scenario)
    print(f"{args.scenario}: valid scenario '{scenario.name}' ({len(scenario.arms)} arms, "
          f"indication {scenario.cohort.indication}, {scenario.cohort.n_screened} screened)")
    return EXIT_OK


def _run_and_report(scenario, scenario_text: str, args: argparse.Namespace) -> int:
    from mhtcdt.decision.checks import check_scenario
    from mhtcdt.decision.pipeline import run_pipeline
    from mhtcdt.decision.progress import TqdmProgress
    from mhtcdt.decision.report import default_out_dir, format_summary, write_outputs

    check_scenario(scenario)
    psa = None
    with TqdmProgress(disable=args.quiet) as progress:
        result = run_pipeline(scenario, seed=args.seed, progress=lambda s, f: progress(s, 0.9 * f))
        if args.psa_draws != 0:
            from mhtcdt.decision.psa import run_psa

            psa = run_psa(result, n_draws=args.psa_draws, progress=lambda s, f: progress(s, 0.9 + 0.1 * f))
        progress("done", 1.0)
    out = Path(args.out) if args.out else default_out_dir(scenario_text, result.seed)
    written = write_outputs(result, scenario_text, out, psa=psa)
    print(format_summary(result, psa))
    print(f"\nWrote {len(written)} files to {out}")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from mhtcdt.decision.scenario import default_scenario, scenario_text

    return _run_and_report(default_scenario(), scenario_text(), args)


def _cmd_run(args: argparse.Namespace) -> int:
    from mhtcdt.decision.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    text = Path(args.scenario).read_text(encoding="utf-8")
    return _run_and_report(scenario, text, args)


def _cmd_app(args: argparse.Namespace) -> int:
    import subprocess

    app = Path(__file__).resolve().parent.parent / "app" / "router.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port),
           "--server.headless", "true" if args.headless else "false", "--browser.gatherUsageStats", "false"]
    print("starting:", " ".join(cmd))
    return subprocess.call(cmd)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=None, help="master seed (default: the scenario's seed)")
    p.add_argument("--out", default=None, help="output folder (default ./mhtcdt-results/<run id>/)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--psa-draws", type=int, default=None,
                   help="probabilistic sensitivity analysis draws (default: the scenario's; 0 = no PSA)")


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
    """Subcommands owned by other decision modules (trial calibration and power, run store)."""
    import importlib

    for module in ("mhtcdt.decision.cli_trial", "mhtcdt.decision.cli_store"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.add_subcommands(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    return _guarded(args.handler)(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
