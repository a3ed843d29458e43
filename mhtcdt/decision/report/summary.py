"""The plain-text summary of a run: what ``mhtcdt run``/``demo`` print and write to ``summary.txt``.

CONSORT flow, per-arm median PFS and OS with 95 % CI, hazard ratios with log-rank p and RMST
difference, per-arm discounted costs, life-years and QALYs, the incremental analysis and verdict, and
the PSA (mean and 95 % interval, probability of being cost-effective, value-based price) when one ran.
"""

from __future__ import annotations

import pandas as pd

from mhtcdt import __version__
from mhtcdt.decision.run.pipeline import PipelineResult, population_sentence
from mhtcdt.decision.scenario.reference_case import reference_case_notes
from mhtcdt.decision.trial.survival import format_median


def _fmt_ci(lo: float, hi: float) -> str:
    return f"({format_median(lo)} to {format_median(hi)})"


def format_money(value: float, currency: str) -> str:
    return f"{currency} {value:,.0f}"


def computed_horizon(result: PipelineResult) -> tuple[float, float, str | None]:
    """(horizon the scenario asks [months], horizon computed [months], why they differ or None).

    With ``survival_source = "kaplan_meier"`` the economic model stops at the last follow-up (KM curves
    are never extended by assumption), so the computed horizon can be shorter than the one asked."""
    asked = 12.0 * result.scenario.economics.horizon_years
    details = result.extras.get("economic_details") if isinstance(result.extras, dict) else None
    done = float(getattr(details, "horizon_months", asked))
    if done < asked - 1e-9:
        return asked, done, "Kaplan-Meier curves end at the last follow-up; they are not extrapolated"
    return asked, done, None


def _headline_basis() -> str:
    from mhtcdt.decision.report.headline import DEFAULT_DECISION_YEARS, DEFAULT_PATIENTS_PER_YEAR

    return (
        f"population EVPI for an illustrative {DEFAULT_PATIENTS_PER_YEAR:,} patients a year over "
        f"{DEFAULT_DECISION_YEARS} years; mhtcdt compare/subgroups take --patients-per-year, --decision-years"
    )


def format_summary(result: PipelineResult, psa=None) -> str:
    """A readable plain-text summary of one run."""
    sc = result.scenario
    eco = sc.economics
    lines: list[str] = []
    add = lines.append
    add("=" * 78)
    add(f"mhtcdt {__version__}  |  {sc.name}  |  seed {result.seed}")
    add("=" * 78)

    add("\nCONSORT flow")
    for row in result.flow.itertuples(index=False):
        excl = f"excluded {row.excluded:>6d}" if row.step > 0 else " " * 15
        add(f"  {row.criterion:<46s} {excl}   remaining {row.remaining:>6d}")
    counts = result.trial.groupby("arm", sort=False).size()
    add("  randomised: " + ", ".join(f"{arm} {n}" for arm, n in counts.items()))

    add("\nSurvival from randomisation (months; median with 95% CI)")
    summ = result.survival_summary
    for endpoint in ("PFS", "OS"):
        for row in summ[summ["endpoint"] == endpoint].itertuples(index=False):
            reached = bool(getattr(row, "median_reached", True))
            add(
                f"  {endpoint:<3s} {row.arm:<28s} n={row.n:<4d} events={row.events:<4d} median "
                f"{format_median(row.median_months, reached):>11s} {_fmt_ci(row.median_ci_lower, row.median_ci_upper)}"
            )
    add("\nComparisons (vs reference arm " + sc.trial.reference_arm + ")")
    for row in result.comparison.itertuples(index=False):
        add(
            f"  {row.endpoint:<3s} {row.comparison:<40s} HR {row.hazard_ratio:.2f} "
            f"(95% CI {row.hr_ci_lower:.2f}-{row.hr_ci_upper:.2f}), log-rank p = {row.logrank_p:.3g}, "
            f"RMST difference {row.rmst_difference_months:+.1f} months"
        )

    asked, done, cut = computed_horizon(result)
    horizon = f"horizon {eco.horizon_years:g} years" if cut is None else f"horizon {done:.1f} months"
    add(
        f"\nCost-effectiveness ({eco.currency} {eco.price_year}, {eco.perspective} perspective, "
        f"discount {eco.discount_costs:.1%} costs / {eco.discount_effects:.1%} effects, "
        f"{horizon})"
    )
    for note in reference_case_notes(eco):
        add(f"  {note}")
    if cut is not None:
        add(f"  note: the horizon was cut from the {eco.horizon_years:g} years asked to {done:.1f} months: {cut}")
    population = population_sentence(result)
    add("  " + population)
    for row in result.economics.itertuples(index=False):
        add(
            f"  {row.strategy:<28s} cost {format_money(row.cost, eco.currency):>14s}   "
            f"life-years {row.life_years:6.3f}   QALYs {row.qalys:6.3f}"
        )
    add("\nIncremental analysis")
    for row in result.incremental.itertuples(index=False):
        icer = "" if pd.isna(row.icer) else f"ICER {format_money(row.icer, eco.currency)}/QALY"
        add(f"  {row.strategy:<28s} {row.status:<22s} {icer}")
    add("\nVerdict (deterministic)")
    add("  " + result.verdict)
    if psa is not None:
        add(f"\nProbabilistic sensitivity analysis ({psa.n_draws} draws)")
        prob = psa.probability_cost_effective()
        for row in psa.summary().itertuples(index=False):
            add(
                f"  {row.strategy:<28s} cost {format_money(row.cost_mean, eco.currency):>14s} "
                f"({row.cost_low:,.0f}-{row.cost_high:,.0f})   QALYs {row.qalys_mean:.3f} "
                f"({row.qalys_low:.3f}-{row.qalys_high:.3f})   P(cost-effective) {prob[row.strategy]:.2f}"
            )
        if psa.value_based_price is not None:
            # a negative root is no price: the course loses net benefit even when given away (issue 16's rule,
            # as the app and the headline word it)
            vbp = psa.value_based_price
            vbp_text = (
                format_money(vbp, eco.currency)
                if vbp >= 0
                else f"none (not cost-effective even at {format_money(0.0, eco.currency)})"
            )
            add(
                f"  value-based price of the MHT course at {format_money(eco.willingness_to_pay, eco.currency)}/QALY: "
                f"{vbp_text} (scenario: {format_money(eco.costs.mht_course, eco.currency)})"
            )
        for note in psa.notes:
            if note != population:  # said once, under cost-effectiveness
                add("  note: " + note)
        if getattr(psa, "physics", None) is not None:
            lines.extend(physics_uncertainty_lines(psa))
        add("\nThe answer at a glance (" + _headline_basis() + ")")
        from mhtcdt.decision.report.headline import build_headline

        headline = build_headline(result, psa)
        add(f"  [{headline.light.upper()}] " + headline.sentences()[0])
        for sentence in headline.sentences()[1:]:
            add("  - " + sentence)
    add(
        "\nNote: no randomised evidence exists for NanoTherm and no clinical evidence for CDT; the "
        "comparative effect is a model prediction calibrated to single-arm and reference-arm results."
    )
    return "\n".join(lines)


def physics_uncertainty_lines(psa) -> list[str]:
    """The summary's physics sections: the emulators, which inputs drive the decision (EVPPI with labels)
    and the structural alternatives side by side."""
    from mhtcdt.decision.model.structural import format_structural

    cur = psa.currency
    lines = ["", "Physics and structural uncertainty in the PSA (emulated physics, see run.json psa_physics)"]
    for r in psa.physics.reports:
        weak = f" (+ additive: {', '.join(r.weak)})" if r.weak else ""
        lines.append(
            f"  {r.arm}: {r.n_patients} patients; emulated over {', '.join(r.dims) or 'no input'}{weak}; "
            f"{r.n_solves} physics solves, {r.seconds:.1f} s; not moving this arm: {', '.join(r.dropped) or 'none'}"
        )
    loaded = getattr(psa.physics, "loaded_from_cache", 0)
    if loaded:
        lines.append(
            f"  ({loaded} of {len(psa.physics.reports)} emulators loaded from the emulator cache: built by an earlier "
            "run with the same inputs and code; the solves and seconds are that build's)"
        )
    lines += ["", "Which uncertain inputs drive the decision"]
    lines += ["  " + line for line in psa.drivers_text()]
    lines.append(f"  EVPPI per patient at {cur} {psa.willingness_to_pay:,.0f}/QALY (top 10):")
    for r in psa.drivers.head(10).itertuples(index=False):
        share = "" if r.inb_variance_share != r.inb_variance_share else f"  INB variance {r.inb_variance_share:5.1%}"
        lines.append(f"    {r.rank:>2d}. {r.label[:62]:<62s} {cur} {r.evppi:>9,.0f}{share}")
    if len(psa.structural):
        lines += ["", f"Structural alternatives ({psa.focal} vs {psa.reference}; same draws, expected values)"]
        lines += format_structural(psa.structural, cur, psa.focal, psa.reference)
    return lines
