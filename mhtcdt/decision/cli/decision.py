"""Decision subcommands of the ``mhtcdt`` CLI: ``subgroups`` and ``compare``.

``mhtcdt subgroups [SCENARIO] [--wtp X] [--price P] [--psa-draws N] [--seed S] [--out DIR]``
    for whom: subgroup results (OS hazard ratio, QALY gain, ICER, probability cost-effective, value-based
    price, with their uncertainty) and the eligibility rule with the highest expected net benefit with the
    probability that it is the best rule (:mod:`mhtcdt.decision.model.subgroups`).
``mhtcdt warmup``
    compiles every numba kernel into numba's on-disk cache (run once after installing: fast first start).
``mhtcdt compare SCENARIO SCENARIO [SCENARIO [SCENARIO]] [--psa-draws N] [--seed S] [--out DIR]``
    up to four scenarios side by side: one table of headline answers and one cost-effectiveness plane
    (:mod:`mhtcdt.decision.run.compare`). A SCENARIO is a TOML file or a bundled preset name
    (``default.toml``), optionally followed by variants: ``@price=10000`` (the MHT course price),
    ``@wtp=50000``, ``@cdt`` (the new arm replaced by MHT + CDT + RT), ``@bsc`` (best supportive care as
    the comparator), e.g. ``mhtcdt compare default.toml default.toml@price=5000 default.toml@cdt``.

``mhtcdt transfer SCENARIO --to KEY --out FILE.toml [--willingness-to-pay X]``
    an English NICE scenario (file or preset name) re-expressed in another jurisdiction's reference case
    (:func:`mhtcdt.decision.scenario.jurisdiction_transfer.in_jurisdiction`: PPP-transferred costs, the euro
    quote of the NanoTherm course, the reference case's discounting and threshold), written as a new TOML file
    and its reference-case notes printed; ``mhtcdt run FILE.toml`` then runs it.

Subgroups and compare print plain-language tables; ``--out DIR`` also writes CSV files, an HTML page and the
figures (PNG, SVG). Exit codes as every ``mhtcdt`` command: 0 success, 2 bad input (field and value named), 1 internal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mhtcdt.decision.cli import output
from mhtcdt.decision.report.cells import spreadsheet_safe, terminal_safe, terminal_table
from mhtcdt.errors import InputError, InputErrors


def _psa_draws(text: str) -> int:
    """The PSA draws of a decision command: :func:`mhtcdt.decision.cli.output.psa_draws` without 0 (the
    answer, the subgroups and the comparison are probabilistic)."""
    value = output.psa_draws(text)
    if value == 0:
        raise argparse.ArgumentTypeError("this command needs a probabilistic analysis: 0 draws is not possible")
    return value


def _positive_number(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def add_subcommands(subparsers) -> None:
    """Register ``subgroups`` and ``compare`` on the main parser's subparsers."""
    p = subparsers.add_parser("subgroups", help="for whom: subgroup cost-effectiveness and the best eligibility rule")
    p.add_argument(
        "scenario", nargs="?", default=None, help="scenario TOML or preset name (default: the embedded default)"
    )
    _common(p)
    p.add_argument(
        "--wtp", type=_positive_number, default=None, help="willingness to pay per QALY (default: the scenario's)"
    )
    p.add_argument("--price", type=float, default=None, help="MHT course price (default: the scenario's)")
    p.set_defaults(handler=cmd_subgroups)

    p = subparsers.add_parser(
        "warmup",
        help="compile the numba kernels into their cache and compute the default answer (its run, PSA and PSA "
        "emulators) into the result and emulator caches (once after installing: the app then starts warm)",
    )
    p.add_argument("--kernels-only", action="store_true", help="only compile the kernels (not the default answer)")
    p.set_defaults(handler=cmd_warmup)

    p = subparsers.add_parser("compare", help="up to four scenarios side by side (one table, one CE plane)")
    p.add_argument(
        "scenarios", nargs="+", help="TOML files or preset names, each optionally with @price=, @wtp=, @cdt, @bsc"
    )
    _common(p)
    p.set_defaults(handler=cmd_compare)

    from mhtcdt.economics import jurisdictions

    p = subparsers.add_parser(
        "transfer", help="an English NICE scenario re-expressed in another jurisdiction (PPP costs), as a TOML file"
    )
    p.add_argument("scenario", help="scenario TOML or preset name (English NICE, GBP)")
    p.add_argument("--to", required=True, help=f"jurisdiction: {', '.join(k for k in jurisdictions() if k != 'nice')}")
    p.add_argument("--out", required=True, help="the new scenario file (TOML; must not exist)")
    p.add_argument(
        "--willingness-to-pay",
        type=_positive_number,
        default=None,
        help="per QALY in the target currency (default: the jurisdiction's threshold; Germany and France set none)",
    )
    p.set_defaults(handler=cmd_transfer)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=output.seed, default=None, help="master seed (default: each scenario's)")
    p.add_argument("--psa-draws", type=_psa_draws, default=None, help="PSA draws (default: the scenario's)")
    p.add_argument(
        "--patients-per-year", type=_positive_number, default=None, help="population of the EVPI (illustrative default)"
    )
    p.add_argument(
        "--decision-years",
        type=output.positive_int,
        default=None,
        help="years the decision holds (illustrative default)",
    )
    p.add_argument("--out", default=None, help="folder for CSV, HTML and figures (not written without it)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _population(args: argparse.Namespace):
    from mhtcdt.decision.report.headline import DEFAULT_DECISION_YEARS, DEFAULT_PATIENTS_PER_YEAR, Population

    return Population(
        DEFAULT_PATIENTS_PER_YEAR if args.patients_per_year is None else args.patients_per_year,
        DEFAULT_DECISION_YEARS if args.decision_years is None else args.decision_years,
    )


def load_named(name: str):
    """A scenario from a file path, or a bundled preset name (``default.toml``)."""
    from mhtcdt.decision.scenario.loading import bundled_scenarios, load_scenario, parse_scenario_text, scenario_text

    preset = name if name.endswith(".toml") else f"{name}.toml"  # a preset by its bare name too
    if not Path(name).exists() and preset in bundled_scenarios():
        return parse_scenario_text(scenario_text(preset), source=preset)
    return load_scenario(name)


#: The API's argument names as the command's options (the scenario's own fields keep their names).
_TRANSFER_OPTIONS = {"jurisdiction": "--to", "willingness_to_pay": "--willingness-to-pay"}


def cmd_transfer(args: argparse.Namespace) -> int:
    from mhtcdt.decision.scenario.jurisdiction_transfer import in_jurisdiction
    from mhtcdt.decision.scenario.loading import scenario_to_toml
    from mhtcdt.decision.scenario.reference_case import reference_case_notes

    out = Path(args.out)
    if out.exists():
        raise InputError("--out", args.out, "exists; give a new file name (an existing scenario is never overwritten)")
    if not out.parent.is_dir():
        raise InputError("--out", args.out, "its folder does not exist")
    scenario = load_named(args.scenario)
    try:
        moved = in_jurisdiction(scenario, args.to, willingness_to_pay=args.willingness_to_pay)
    except InputError as exc:
        raise InputError(_TRANSFER_OPTIONS.get(exc.field, exc.field), exc.value, exc.message) from None
    notes = reference_case_notes(moved.economics)
    header = "".join(f"# {line}\n" for line in [f"mhtcdt transfer {args.scenario} --to {args.to}", *notes])
    out.write_text(header + scenario_to_toml(moved), encoding="utf-8")
    print(terminal_safe(f"Wrote {out}: '{moved.name}'"))
    for note in notes:
        print(terminal_safe(f"  {note}"))
    return 0


def parse_variant(spec: str) -> tuple[str, object]:
    """``FILE[@price=P][@wtp=W][@cdt][@bsc]`` -> (label, scenario); bad variants are InputErrors."""
    from mhtcdt.decision.run import compare

    head, *variants = spec.split("@")
    scenario = load_named(head)
    problems = []
    for v in variants:
        key, _, value = v.partition("=")
        try:
            if key == "price":
                scenario = compare.price_variant(scenario, float(value))
            elif key == "wtp":
                from mhtcdt.decision.model.whatif import with_willingness_to_pay

                scenario = with_willingness_to_pay(scenario, float(value))
            elif key == "cdt" and not value:
                scenario = compare.arm_variant(scenario)
            elif key == "bsc" and not value:
                scenario = compare.comparator_variant(scenario)
            else:
                problems.append(
                    InputError(f"scenarios.{spec}", v, "unknown variant; use @price=N, @wtp=N, @cdt or @bsc")
                )
        except ValueError:
            problems.append(InputError(f"scenarios.{spec}", v, "the value must be a number"))
        except InputError as exc:
            problems.append(InputError(f"scenarios.{spec}.{exc.field}", exc.value, exc.message))
    if problems:
        raise InputErrors(problems)
    label = Path(head).stem + "".join(f" @{v}" for v in variants)
    return label, scenario


def _progress(args: argparse.Namespace):
    from mhtcdt.decision.progress import TqdmProgress

    return TqdmProgress(disable=args.quiet)


def _print_table(df) -> None:
    with __import__("pandas").option_context("display.max_colwidth", 60, "display.width", 200):
        print(terminal_table(df).to_string(index=False))


def _say(text: str) -> None:
    """Print running text with control characters escaped (scenario and arm names come from users)."""
    print(terminal_safe(text))


def cmd_subgroups(args: argparse.Namespace) -> int:
    from mhtcdt.decision.model import whatif
    from mhtcdt.decision.model.psa import run_psa
    from mhtcdt.decision.model.subgroups import analyse_subgroups
    from mhtcdt.decision.report import decision_html as dh
    from mhtcdt.decision.run.pipeline import run_pipeline
    from mhtcdt.decision.scenario.checks import check_scenario
    from mhtcdt.decision.scenario.loading import default_scenario

    scenario = default_scenario() if args.scenario is None else load_named(args.scenario)
    check_scenario(scenario)
    wtp = whatif.check_willingness_to_pay(scenario.economics.willingness_to_pay if args.wtp is None else args.wtp)
    price = whatif.check_price(scenario.economics.costs.mht_course if args.price is None else args.price)
    out = _out_dir(args.out)
    with _progress(args) as progress:
        result = run_pipeline(scenario, seed=args.seed, progress=lambda s, f: progress(s, 0.5 * f))
        psa = run_psa(result, n_draws=args.psa_draws, progress=lambda s, f: progress(s, 0.5 + 0.2 * f))
        at = whatif.apply(result, psa, willingness_to_pay=wtp, price=price)
        analysis = analyse_subgroups(result, psa, progress=lambda s, f: progress(s, 0.7 + 0.3 * f))
        progress("done", 1.0)
    cur = scenario.economics.currency
    table = analysis.table(wtp, price)
    rules = analysis.rules_table(wtp, price)
    _say(
        f"For whom: '{at.psa.focal}' vs '{at.psa.reference}' at {cur} {wtp:,.0f} per QALY, "
        f"MHT course {cur} {price:,.0f}"
    )
    for note in analysis.notes:
        _say(f"  {note}")
    print()
    _print_table(dh.subgroup_table(table, cur))
    print()
    _say(dh.best_rule_sentence(rules, cur))
    _print_table(dh.rules_table(rules, cur))
    if out is not None:
        spreadsheet_safe(table).to_csv(out / "subgroups.csv", index=False)
        spreadsheet_safe(rules).to_csv(out / "eligibility_rules.csv", index=False)
        from mhtcdt.decision.report import decision_figures as dfig
        from mhtcdt.decision.report.figures import to_bytes

        fig = dfig.subgroup_forest(table, cur)
        if fig is not None:
            for fmt in ("png", "svg"):
                (out / f"subgroups.{fmt}").write_bytes(to_bytes(fig, fmt))
        _say(f"\nWrote subgroups.csv, eligibility_rules.csv and the figure to {out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from mhtcdt.decision.report import decision_figures as dfig
    from mhtcdt.decision.report import decision_html as dh
    from mhtcdt.decision.report.figures import to_bytes
    from mhtcdt.decision.report.headline import build_headline
    from mhtcdt.decision.run import compare
    from mhtcdt.decision.scenario.reference_case import reference_case_notes

    problems: list[InputError] = []
    labelled = []
    for spec in args.scenarios:
        try:
            labelled.append(parse_variant(spec))
        except InputErrors as exc:
            problems.extend(exc.errors)
        except InputError as exc:
            problems.append(exc)
    if problems:
        raise InputErrors(problems)
    compare.check_labels(labelled)
    out = _out_dir(args.out)
    population = _population(args)
    with _progress(args) as progress:
        runs = compare.run_scenarios(labelled, n_draws=args.psa_draws, seed=args.seed, progress=progress)
        progress("done", 1.0)
    headlines = [build_headline(r.result, r.psa, population=population) for r in runs]
    table = dh.comparison_table(runs, headlines)
    for r, row in zip(runs, table.to_dict("records"), strict=True):
        shared = f" (same trial as '{r.shared_with}', re-costed)" if r.shared_with else ""
        _say(f"[{row.pop('scenario')}]{shared}")
        for key, value in row.items():
            _say(f"  {key:<30s} {value}")
        for warning in compare.unpriced_agents(r.scenario):
            _say(f"  note: {warning}")
        for note in reference_case_notes(r.scenario.economics):  # jurisdiction, PPP transfer, departures
            _say(f"  note: {note}")
        print()
    for r, h in zip(runs, headlines, strict=True):
        _say(f"[{r.label}] {h.agreement}")
    if out is not None:
        spreadsheet_safe(table).to_csv(out / "comparison.csv", index=False)
        figs = dfig.comparison_planes(runs, headlines)  # one plane per currency: never money across currencies
        for cur in figs:
            stem = "comparison_plane" if len(figs) == 1 else f"comparison_plane_{cur}"
            for fmt in ("png", "svg"):
                (out / f"{stem}.{fmt}").write_bytes(to_bytes(figs[cur], fmt))
        (out / "comparison.html").write_text(dh.comparison_report(runs, headlines, figs), encoding="utf-8")
        planes_written = "comparison_plane" if len(figs) == 1 else "one comparison_plane_<currency>"
        _say(f"\nWrote comparison.csv, comparison.html and {planes_written}.png/.svg to {out}")
    return 0


def cmd_warmup(args: argparse.Namespace) -> int:
    """Compile every numba kernel into numba's cache (``$NUMBA_CACHE_DIR`` or ``__pycache__``) and, unless
    ``--kernels-only``, compute the default scenario's run and PSA into the result cache and its PSA emulators
    into theirs (both under ``$MHTCDT_CACHE_DIR``)."""
    import os

    from mhtcdt.decision.model import emulator_cache
    from mhtcdt.decision.progress import TqdmProgress
    from mhtcdt.decision.run import result_cache
    from mhtcdt.decision.warmup import warm_up

    answer = not args.kernels_only and (emulator_cache.enabled() or result_cache.enabled())
    with TqdmProgress() as progress:
        seconds = warm_up(progress, answer=answer)
    where = os.environ.get("NUMBA_CACHE_DIR") or "__pycache__ beside the package modules"
    done = f"Kernels compiled and cached ({where})"
    if answer:
        done += (
            f" and the default answer computed (run and PSA: {result_cache.cache_dir()}; "
            f"PSA emulators: {emulator_cache.cache_dir()})"
        )
    print(f"{done} in {seconds:.1f} s; the app and the CLI now start warm.")
    return 0


def _out_dir(path: str | None) -> Path | None:
    if path is None:
        return None
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError("--out", str(out), "exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("--out", str(out), f"cannot be created: {exc.strerror}") from None
    return out


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the mhtcdt command: mhtcdt subgroups | mhtcdt compare")
