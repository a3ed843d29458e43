"""Trial-layer subcommands of the ``mhtcdt`` CLI: ``calibrate`` and ``power``.

``mhtcdt calibrate [--n-screened N] [--seed S] [--steps K] [--output FILE] [--no-cache]``
    fits the outcome model to the published targets (mhtcdt/decision/model/data/calibration_targets.toml),
    prints simulated vs target for every target and writes the versioned calibration file.
``mhtcdt power [SCENARIO.toml] [--n-patients N] [--replicates R] [--target-power P] ...``
    replicate virtual trials of a scenario: power, type-I error, expected HR and spread, and (with
    ``--target-power``) the sample size reaching that power.

Exit codes: 0 success; 1 the calibration could not meet every target; 2 bad input (one line per
problem on stderr, naming the field and the value; an argument out of range, e.g. ``--pool-size 0`` or
``--seed -1``, is refused with the subcommand's name before any work).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from mhtcdt.decision.cli.output import positive_int, print_problems, probability, seed
from mhtcdt.errors import InputError, InputErrors

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _problems(exc: InputError | InputErrors) -> int:
    return print_problems(exc, header=False)


def add_subcommands(subparsers) -> None:
    """Register ``calibrate`` and ``power`` on the main parser's subparsers."""
    p = subparsers.add_parser("calibrate", help="fit the outcome model to published trial results")
    p.add_argument("--n-screened", type=positive_int, default=3000, help="virtual patients screened per population")
    p.add_argument("--seed", type=seed, default=20261121)
    p.add_argument("--steps", type=positive_int, default=4000, help="ABC-MCMC steps after burn-in")
    p.add_argument("--draws", type=positive_int, default=200, help="accepted parameter draws kept for PSA")
    p.add_argument("--output", default=None, help="calibration file to write (default: the package data file)")
    p.add_argument("--targets", default=None, help="targets TOML (default: the package data file)")
    p.add_argument("--no-cache", action="store_true", help="recompute physics even if cached")
    p.add_argument("--dry-run", action="store_true", help="print the table without writing the file")
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


def cmd_calibrate(args: argparse.Namespace) -> int:
    from mhtcdt.decision.model import calibration
    from mhtcdt.errors import ModelError

    problems = []
    if args.n_screened < 100:
        problems.append(InputError("--n-screened", args.n_screened, "need at least 100"))
    if args.steps < 100:
        problems.append(InputError("--steps", args.steps, "need at least 100 ABC-MCMC steps"))
    if not 1 <= args.draws <= args.steps:
        problems.append(InputError("--draws", args.draws, "must be between 1 and --steps"))
    try:
        calibration.load_targets(args.targets)
    except InputError as exc:
        problems.append(exc)
    if args.output is not None and not args.dry_run:  # checked now, not after the calibration
        problems += _output_file_problems(Path(args.output), "--output")
    if problems:
        return _problems(InputErrors(problems))
    bar = tqdm(total=100, unit="%", bar_format="{l_bar}{bar}| {elapsed}", file=sys.stderr)

    def progress(stage: str, frac: float) -> None:
        bar.set_description_str(stage[:30].ljust(30))
        bar.update(max(0.0, 100 * frac - bar.n))

    try:
        result = calibration.calibrate(
            n_screened=args.n_screened,
            seed=args.seed,
            targets_path=args.targets,
            n_steps=args.steps,
            max_accepted=args.draws,
            use_cache=not args.no_cache,
            progress=progress,
        )
    except (InputError, InputErrors) as exc:
        bar.close()
        return _problems(exc)
    except ModelError as exc:
        bar.close()
        print(f"calibration failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    bar.close()
    print(calibration.format_table(result.table))
    print("fitted:", ", ".join(f"{k} = {v:.4g}" for k, v in result.free.items()))
    print(f"ABC: {result.meta['abc']}")
    if result.meta.get("at_prior_bound"):
        print(f"WARNING: fitted at a prior bound (the targets push beyond the prior): {result.meta['at_prior_bound']}")
    if not args.dry_run:
        path = calibration.write_calibration(result, args.output)
        print(f"wrote {path}")
    return EXIT_OK if bool(result.table["within"].all()) else EXIT_FAILED


def _output_file_problems(path: Path, option: str) -> list[InputError]:
    """A file to be written later: not a folder, in an existing writable folder."""
    import os

    if path.is_dir():
        return [InputError(option, str(path), "is a folder; give a file name")]
    folder = path.parent
    if not folder.is_dir():
        return [InputError(option, str(path), f"its folder {folder} does not exist")]
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return [InputError(option, str(path), "is not writable")]
    return []


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
