"""Trial-layer subcommands of the ``mhtcdt`` CLI: ``calibrate`` and ``power``.

``mhtcdt calibrate [--output FILE | --in-place] [--n-patients N] [--particles N] [--seed S] [--oos-factor K] ...``
    fits the outcome model to the published targets (mhtcdt/decision/model/data/calibration_targets.toml) by
    ABC-SMC, prints simulated vs target for every target (in sample and on a fresh population ``--oos-factor``
    times larger), the Monte Carlo error of each, and the identifiability report, and writes the calibration
    file with its report beside it (``FILE.report.txt``): to ``--output FILE`` (default
    ``./outcome_calibration.toml``), or over the packaged calibration only with ``--in-place``.
``mhtcdt power [SCENARIO.toml] [--n-patients N] [--replicates R] [--target-power P] ...``
    replicate virtual trials of a scenario: power, type-I error, expected HR and spread, and (with
    ``--target-power``) the sample size reaching that power.

Exit codes: 0 success; 1 the calibration could not put every target inside its acceptance (the file is
still written, and says so); 2 bad input (one line per problem on stderr, naming the field and the value; an
argument out of range, e.g. ``--pool-size 0`` or ``--seed -1``, is refused before any work).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tqdm import tqdm

from mhtcdt.decision.cli.output import positive_int, print_problems, probability, seed
from mhtcdt.errors import InputError, InputErrors

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_OUTPUT = "outcome_calibration.toml"


def _problems(exc: InputError | InputErrors) -> int:
    return print_problems(exc, header=False)


def add_subcommands(subparsers) -> None:
    """Register ``calibrate`` and ``power`` on the main parser's subparsers."""
    p = subparsers.add_parser("calibrate", help="fit the outcome model to published trial results (ABC-SMC)")
    p.add_argument(
        "--output",
        default=None,
        help=f"calibration file to write (default ./{DEFAULT_OUTPUT}); use it with `calibration = FILE` in a scenario",
    )
    p.add_argument("--in-place", action="store_true", help="overwrite the packaged calibration file instead")
    p.add_argument(
        "--n-patients",
        type=positive_int,
        default=3000,
        help="virtual patients per calibration population (times its size_factor in the targets file)",
    )
    p.add_argument("--particles", type=positive_int, default=200, help="ABC-SMC particles (= posterior draws kept)")
    p.add_argument("--seed", type=seed, default=20261121)
    p.add_argument("--oos-factor", type=int, default=5, help="out-of-sample population size / n-patients (0: skip)")
    p.add_argument("--polish", type=int, default=1200, help="Nelder-Mead evaluations polishing the posterior mode")
    p.add_argument("--targets", default=None, help="targets TOML (default: the package data file)")
    p.add_argument("--no-cache", action="store_true", help="recompute physics even if cached")
    p.add_argument("--dry-run", action="store_true", help="print the report without writing the file")
    p.set_defaults(handler=cmd_calibrate, parser=p)

    p = subparsers.add_parser("power", help="replicate virtual trials: power, type-I error, sample size")
    p.add_argument("scenario", nargs="?", default=None, help="scenario TOML (default: the embedded default)")
    p.add_argument(
        "--n-patients", type=positive_int, default=None, help="patients per trial (default: scenario's eligible)"
    )
    p.add_argument("--replicates", type=positive_int, default=1000)
    p.add_argument("--alpha", type=probability, default=0.05, help="two-sided significance level")
    p.add_argument("--endpoint", choices=("OS", "PFS"), default="OS")
    p.add_argument("--experimental-arm", default=None, help="default: the first non-reference arm")
    p.add_argument("--target-power", type=probability, default=None, help="also search the sample size for this power")
    p.add_argument(
        "--pool-size", type=positive_int, default=None, help="patients screened for the pool (default: scenario)"
    )
    p.add_argument("--seed", type=seed, default=None)
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_power, parser=p)


def _output_problems(args: argparse.Namespace) -> tuple[list[InputError], Path | None]:
    """Where the calibration goes, checked before any work."""
    from mhtcdt.decision.model import outcome

    if args.in_place and args.output is not None:
        return [InputError("--in-place", True, "give either --output or --in-place, not both")], None
    if args.dry_run:
        return [], None
    path = outcome.DEFAULT_CALIBRATION_PATH if args.in_place else Path(args.output or DEFAULT_OUTPUT)
    if path.is_dir():
        return [InputError("--output", str(path), "is a directory; name a file")], None
    parent = path.resolve().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        return [InputError("--output", str(path), "its folder does not exist or is not writable")], None
    return [], path


def cmd_calibrate(args: argparse.Namespace) -> int:
    from mhtcdt.decision.model import calibration
    from mhtcdt.decision.model.calibration_targets import load_targets
    from mhtcdt.errors import ModelError

    problems, path = _output_problems(args)
    try:
        settings = calibration.Settings(
            n_patients=args.n_patients,
            seed=args.seed,
            n_particles=args.particles,
            oos_factor=args.oos_factor,
            polish_evaluations=args.polish,
        )
    except InputErrors as exc:
        options = {"n_particles": "--particles", "polish_evaluations": "--polish"}
        for e in exc.errors:
            problems.append(InputError(options.get(e.field, f"--{e.field}".replace("_", "-")), e.value, e.message))
    if not 0 <= args.seed < 2**63:
        problems.append(InputError("--seed", args.seed, "must be in 0 .. 2**63 - 1"))
    try:
        load_targets(args.targets)
    except InputError as exc:
        problems.append(exc)
    if problems:
        return _problems(InputErrors(problems))
    bar = tqdm(total=100, unit="%", bar_format="{l_bar}{bar}| {elapsed}<{remaining}", file=sys.stderr)

    def progress(stage: str, frac: float) -> None:
        bar.set_description_str(stage[:34].ljust(34))
        bar.update(max(0.0, 100 * frac - bar.n))

    try:
        result = calibration.calibrate(
            settings, targets_path=args.targets, use_cache=not args.no_cache, progress=progress
        )
    except (InputError, InputErrors) as exc:
        bar.close()
        return _problems(exc)
    except ModelError as exc:
        bar.close()
        print(f"calibration failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    bar.close()
    if path is not None:
        calibration.write_calibration(result, path)
    print(calibration.format_result(result))
    print("timings [s]: " + ", ".join(f"{k} {v:g}" for k, v in result.meta["timings_s"].items()))
    if path is not None:
        print(f"wrote {path} (id {result.meta['calibration_id']}) and {calibration.report_path(path)}")
        if not args.in_place:
            print(f'use it: `calibration = "{path.resolve()}"` in a scenario; the packaged calibration is unchanged')
    if not result.all_within:
        print("WARNING: not every target is inside its acceptance (see the tables above)", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


#: request field -> the ``mhtcdt power`` option that sets it (error lines name the option)
POWER_OPTIONS = {
    "experimental_arm": "--experimental-arm",
    "n_patients": "--n-patients",
    "n_replicates": "--replicates",
    "alpha": "--alpha",
    "endpoint": "--endpoint",
    "target_power": "--target-power",
    "pool_size": "--pool-size",
}


def cmd_power(args: argparse.Namespace) -> int:
    from mhtcdt.decision.progress import TqdmProgress
    from mhtcdt.decision.scenario.loading import default_scenario, load_scenario
    from mhtcdt.decision.trial.power_analysis import PowerRequest, power_analysis

    request = PowerRequest(
        experimental_arm=args.experimental_arm,
        n_patients=args.n_patients,
        n_replicates=args.replicates,
        alpha=args.alpha,
        endpoint=args.endpoint,
        target_power=args.target_power,
        pool_size=args.pool_size,
        seed=args.seed,
    )
    try:
        scenario = load_scenario(args.scenario) if args.scenario else default_scenario()
        with TqdmProgress(disable=args.quiet) as progress:
            analysis = power_analysis(scenario, request, progress)
    except (InputError, InputErrors) as exc:
        errors = exc.errors if isinstance(exc, InputErrors) else [exc]
        return _problems(
            InputErrors([InputError(POWER_OPTIONS.get(e.field, e.field), e.value, e.message) for e in errors])
        )
    if args.json:
        print(json.dumps(analysis.summary()))
        return EXIT_OK
    s, t1, ss, n = analysis.power, analysis.type_one_error, analysis.sample_size, analysis.n_patients
    print(f"Virtual trial power: {analysis.comparison}, {args.endpoint}, {n} patients, {args.replicates} replicates")
    print(
        f"  power                {s.power:.3f} (95% CI {s.power_ci[0]:.3f}-{s.power_ci[1]:.3f}) at alpha {args.alpha}"
    )
    print(f"  type-I error (null)  {t1.power:.3f} (95% CI {t1.power_ci[0]:.3f}-{t1.power_ci[1]:.3f})")
    print(f"  expected HR          {s.expected_hr:.3f} (2.5-97.5%: {s.hr_quantiles[0]:.3f}-{s.hr_quantiles[2]:.3f})")
    print(
        f"  median {args.endpoint} months     reference {s.median_reference_months:.1f}, "
        f"experimental {s.median_experimental_months:.1f}; mean events {s.mean_events:.0f}"
    )
    if ss is not None:
        print(
            f"  sample size for power {ss.target_power:.2f}: {ss.n_patients} patients (simulated power "
            f"{ss.power:.3f}; Schoenfeld {ss.schoenfeld_n})"
        )
    print("NOTE: the effect is a model prediction from a calibrated model; there is no randomised NanoTherm evidence.")
    return EXIT_OK
