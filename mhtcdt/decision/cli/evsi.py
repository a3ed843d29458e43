"""``mhtcdt evsi``: is a randomised trial worth running, and how big (EVSI, ENBS, optimal sample size).

``mhtcdt evsi [SCENARIO.toml] --n 100,200,400,800 [--endpoints OS,PFS,OS@12] [--follow-up 6,12,24]
[--trial-cost FIXED PER_PATIENT] [--population N] [--horizon YEARS] [--wtp W] [--price P|value-based]
[--informs outcome] [--subgroups] [--out DIR] [--report] [--json]``

Runs the scenario (pipeline and PSA), then :func:`mhtcdt.decision.trial.trial_value.trial_value`: the EVSI of
each design and size by regression with moment-matching and importance-sampling cross-checks, the expected net
benefit of sampling, the optimal size with its band, and the closed MF1001 trial's design. Every option is
checked before any work: bad input exits with 2 and one line per problem naming the option and the value.
``--out DIR`` writes the tables as CSV, ``summary.txt`` and ``trial_value.json``; ``--report`` also the HTML report
of the run with its "Value of further research" section.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

from mhtcdt.errors import InputError, InputErrors

EXIT_OK, EXIT_BAD_INPUT = 0, 2

#: request fields -> the option that sets them (so error lines name what the user typed)
OPTIONS = {
    "sample_sizes": "--n",
    "designs": "--endpoints",
    "design.endpoint": "--endpoints",
    "design.landmark_months": "--endpoints",
    "design.min_follow_up_months": "--follow-up",
    "informs": "--informs",
    "willingness_to_pay": "--wtp",
    "price": "--price",
    "trial_cost.fixed": "--trial-cost (fixed)",
    "trial_cost.per_patient": "--trial-cost (per patient)",
    "population.patients_per_year": "--population",
    "population.horizon_years": "--horizon",
    "population.discount_rate": "--discount",
    "reporting_lag_months": "--reporting-lag",
    "methods": "--methods",
    "synthetic_replicates": "--synthetic-replicates",
    "n_bootstrap": "--bootstrap",
    "psa_draws": "--psa-draws",
    "subgroup_n": "--subgroup-n",
}


def add_subcommands(subparsers) -> None:
    """Register ``evsi`` on the main parser's subparsers."""
    p = subparsers.add_parser("evsi", help="value of a randomised trial: EVSI, ENBS and the optimal sample size")
    p.add_argument("scenario", nargs="?", default=None, help="scenario TOML (default: the embedded default)")
    p.add_argument("--n", default="100,200,400,800", help="total sample sizes, comma-separated")
    p.add_argument(
        "--endpoints", default="OS", help="designs by endpoint, comma-separated: OS, PFS, or a landmark as OS@12"
    )
    p.add_argument("--follow-up", default=None, help="minimum follow-up [months], comma-separated (design axis)")
    p.add_argument(
        "--trial-cost",
        nargs=2,
        type=float,
        default=None,
        metavar=("FIXED", "PER_PATIENT"),
        help="trial cost in the scenario currency (default: data/trial_value.toml)",
    )
    p.add_argument("--population", type=float, default=None, help="patients per year the decision concerns")
    p.add_argument("--horizon", type=float, default=None, help="decision horizon [years]")
    p.add_argument("--discount", type=float, default=None, help="annual discount rate of the population")
    p.add_argument("--reporting-lag", type=float, default=None, help="months from the data cut-off to results")
    p.add_argument("--wtp", type=float, default=None, help="willingness to pay per QALY (default: scenario)")
    p.add_argument("--price", default=None, help="MHT course price, or 'value-based' (the PSA's value-based price)")
    p.add_argument("--informs", default="outcome", help="PSA inputs or groups the trial informs, comma-separated")
    p.add_argument(
        "--methods",
        default="regression,importance_sampling,moment_matching",
        help="EVSI estimators: regression plus any cross-checks",
    )
    p.add_argument("--psa-draws", type=int, default=None, help="PSA draws (default: the scenario's)")
    p.add_argument("--synthetic-replicates", type=int, default=30, help="trials per parameter state (cross-checks)")
    p.add_argument("--bootstrap", type=int, default=100, help="resamples for the optimal-size band (0: none)")
    p.add_argument("--no-mf1001", action="store_true", help="do not value the closed MF1001 design")
    p.add_argument("--no-forgone", action="store_true", help="ignore the net benefit forgone by trial patients")
    p.add_argument("--subgroups", action="store_true", help="also EVPPI and EVSI by subgroup")
    p.add_argument("--subgroup-n", type=int, default=None, help="trial size for the subgroups (default: best n)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--out", default=None, help="write tables, summary.txt and trial_value.json into this folder")
    p.add_argument("--report", action="store_true", help="with --out: also report.html with the trial section")
    p.add_argument("--json", action="store_true", help="print the headline numbers as one JSON line")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_evsi)


def _numbers(text: str | None, option: str, cast=float) -> tuple:
    if text is None:
        return ()
    try:
        values = tuple(cast(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise InputError(option, text, "give comma-separated numbers, e.g. 100,200,400") from None
    if not values:
        raise InputError(option, text, "give at least one value")
    return values


def _sizes(text: str) -> tuple[int, ...]:
    values = _numbers(text, "--n", float)
    bad = [v for v in values if not (math.isfinite(v) and v > 0 and v == int(v))]
    if bad:
        raise InputError("--n", bad[0], "sample sizes must be positive whole numbers of patients")
    return tuple(int(v) for v in values)


def build_request(args: argparse.Namespace, value_based_price: float | None = None):
    """The :class:`TrialValueRequest` of the options (InputErrors naming the options)."""
    from mhtcdt.decision.trial import study_design as sd
    from mhtcdt.decision.trial.trial_value import TrialValueRequest, defaults
    from mhtcdt.economics.evsi import DecisionPopulation, TrialCost

    problems: list[InputError] = []

    def attempt(fn, *a):
        try:
            return fn(*a)
        except InputErrors as exc:
            problems.extend(exc.errors)
        except InputError as exc:
            problems.append(exc)
        return None

    sizes = attempt(_sizes, args.n) or ()
    follow = attempt(_numbers, args.follow_up, "--follow-up") or ()
    designs = []
    for text in [t for t in str(args.endpoints).split(",") if t.strip()] or ["OS"]:
        d = attempt(sd.with_endpoint, sd.StudyDesign(), text)
        if d is None:
            continue
        for fu in follow or (None,):
            designs.append(d if fu is None else dataclasses.replace(d, min_follow_up_months=fu))
    cost = None
    if args.trial_cost is not None:
        cost = attempt(TrialCost, *args.trial_cost)
    d = defaults()
    population = None
    if args.population is not None or args.horizon is not None or args.discount is not None:
        population = attempt(
            DecisionPopulation,
            d.patients_per_year if args.population is None else args.population,
            d.horizon_years if args.horizon is None else args.horizon,
            0.035 if args.discount is None else args.discount,
        )
    price = None
    if args.price is not None:
        if str(args.price).strip().lower() in ("value-based", "vbp"):
            price = value_based_price
            if price is None:
                problems.append(InputError("--price", args.price, "the PSA has no value-based price for this scenario"))
            elif price < 0:
                problems.append(
                    InputError(
                        "--price",
                        round(price, 2),
                        "the value-based price is negative (MHT is not cost-effective at this WTP even if free): "
                        "give a price",
                    )
                )
                price = None
        else:
            try:
                price = float(args.price)
            except ValueError:
                problems.append(InputError("--price", args.price, "give a number or 'value-based'"))
    if args.psa_draws is not None and args.psa_draws < 10:
        problems.append(InputError("psa_draws", args.psa_draws, "needs at least 10 draws"))
    if args.subgroup_n is not None and args.subgroup_n < 2:
        problems.append(InputError("subgroup_n", args.subgroup_n, "needs at least 2 patients"))
    request = TrialValueRequest(
        designs=tuple(designs) or (sd.StudyDesign(),),
        sample_sizes=sizes or (100,),
        informs=tuple(s.strip() for s in str(args.informs).split(",") if s.strip()),
        willingness_to_pay=args.wtp,
        price=price,
        population=population,
        trial_cost=cost,
        reporting_lag_months=args.reporting_lag,
        forgone_benefit=not args.no_forgone,
        methods=tuple(s.strip() for s in str(args.methods).split(",") if s.strip()),
        synthetic_replicates=args.synthetic_replicates,
        n_bootstrap=args.bootstrap,
        include_mf1001=not args.no_mf1001,
        seed=args.seed,
    )
    seen = {(e.field, repr(e.value)) for e in problems}
    problems.extend(e for e in request.problems() if (e.field, repr(e.value)) not in seen)
    if problems:
        raise InputErrors(problems)
    return request


def _relabel(exc: InputError | InputErrors) -> InputErrors:
    errors = exc.errors if isinstance(exc, InputErrors) else [exc]
    return InputErrors([InputError(OPTIONS.get(e.field, e.field), e.value, e.message) for e in errors])


def cmd_evsi(args: argparse.Namespace) -> int:
    from mhtcdt.decision.progress import TqdmProgress
    from mhtcdt.decision.scenario.checks import check_scenario
    from mhtcdt.decision.scenario.loading import default_scenario, load_scenario
    from mhtcdt.decision.trial import study_design as sd

    scenario = load_scenario(args.scenario) if args.scenario else default_scenario()
    check_scenario(scenario)
    try:
        request = build_request(args, value_based_price=0.0)  # every check before any work
        for d in request.designs:
            sd.resolve(d, scenario)
    except (InputError, InputErrors) as exc:
        raise _relabel(exc) from None
    if args.report and not args.out:
        raise InputError("--report", True, "needs --out DIR (the folder to write report.html into)")

    from mhtcdt.decision.model.psa import run_psa
    from mhtcdt.decision.run.pipeline import run_pipeline
    from mhtcdt.decision.trial.evsi_subgroups import subgroup_value
    from mhtcdt.decision.trial.trial_value import trial_value

    seed = scenario.seed if args.seed is None else args.seed
    with TqdmProgress(disable=args.quiet) as progress:
        result = run_pipeline(scenario, seed=seed, progress=lambda s, f: progress(s, 0.3 * f))
        psa = run_psa(result, n_draws=args.psa_draws, progress=lambda s, f: progress(s, 0.3 + 0.05 * f))
        if args.price is not None:
            try:
                request = build_request(args, value_based_price=psa.value_based_price)
            except (InputError, InputErrors) as exc:
                raise _relabel(exc) from None
        span = 0.6 if args.subgroups else 0.65
        tv = trial_value(result, psa, request, progress=lambda s, f: progress(s, 0.35 + span * f))
        if args.subgroups:
            best = tv.best()
            n = args.subgroup_n or (int(best["n_optimal"]) or int(request.sample_sizes[0]))
            design = next(d for d in request.designs if d.describe() == best["design"])
            tv.subgroups = subgroup_value(
                result, psa, request, design, n, progress=lambda s, f: progress(s, 0.95 + 0.05 * f)
            )
        progress("done", 1.0)
    return _print_and_write(tv, result, psa, args)


def _print_and_write(tv, result, psa, args: argparse.Namespace) -> int:
    from mhtcdt.decision.report import trial_value as report

    lines = report.summary_lines(tv)
    if tv.subgroups is not None:
        lines += ["", "  For whom (a trial enrolling one subgroup):"]
        for r in tv.subgroups.itertuples(index=False):
            lines.append(
                f"  {r.covariate[:28]:<28} {r.subgroup[:20]:<20} share {r.share:5.2f}  EVPPI {r.evppi:9,.1f}  "
                f"EVSI {r.evsi:9,.1f} (SE {r.evsi_se:6,.1f})  ENBS {r.enbs:14,.0f}  {r.note}"
            )
    if args.json:
        print(json.dumps(tv.summary()))
    else:
        print("\n".join(lines))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in report.result_tables(tv).items():
            table.to_csv(out / f"{name}.csv", index=False)
        (out / "summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (out / "trial_value.json").write_text(json.dumps(tv.summary(), indent=2) + "\n", encoding="utf-8")
        if args.report:
            from mhtcdt.decision.report.html import build_html_report

            (out / "report.html").write_text(build_html_report(result, psa, trial_value=tv), encoding="utf-8")
        if not args.json:
            print(f"\nWrote the trial-value tables to {out}")
    return EXIT_OK
