"""A self-contained HTML report of one run, organised by the CHEERS 2022 checklist.

:func:`build_html_report` writes every section from the run's own numbers (scenario, CONSORT flow,
survival analysis, cost-effectiveness, PSA when available) and ends with the CHEERS 2022 checklist
(items from :func:`mhtcdt.economics.conventions.cheers_items`, Husereau et al. 2022): for each item
the section that reports it, or why it does not apply / is left to the analyst. Items this
automatic report cannot know (funding, conflicts of interest, engagement with patients) are marked
"to be completed by the analyst", never invented. Figures are embedded as inline SVG; the file
needs no network access.
"""

from __future__ import annotations

import hashlib
import html
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from mhtcdt.decision.report import figures
from mhtcdt.decision.report.criteria_text import consort_display
from mhtcdt.decision.scenario.reference_case import reference_case_notes, transfer_note

REPORTED = "reported"
NOT_APPLICABLE = "not applicable"
ANALYST = "to be completed by the analyst"


@dataclass(frozen=True)
class ChecklistEntry:
    item: str
    status: str  # REPORTED, NOT_APPLICABLE or ANALYST
    where: str  # section anchor (REPORTED) or the reason


def _e(x: Any) -> str:
    return html.escape(str(x))


def _table(df: pd.DataFrame, digits: int = 3) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "—" if math.isnan(v) else f"{v:,.{digits}f}" if abs(v) < 1e4 else f"{v:,.0f}"
        return _e(v)

    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def figures_caption(fig, caption: str) -> str:
    """A figure as inline SVG with its caption."""
    return f"<figure>{_svg(fig)}<figcaption>{_e(caption)}</figcaption></figure>"


def _svg(fig) -> str:
    svg = figures.to_bytes(fig, "svg").decode("utf-8")
    return svg[svg.index("<svg") :]  # drop the XML prologue and doctype: inline SVG


def _arm_description(arm) -> str:
    parts = []
    if arm.has_mht:
        amp = (
            f"field titrated to a {arm.target_temperature_C:g} °C margin target"
            if arm.field_kA_per_m is None
            else f"{arm.field_kA_per_m:g} kA/m"
        )
        dose = (
            "iron dose planned per patient"
            if arm.np_dose_mg_Fe_per_cm3 is None
            else f"{arm.np_dose_mg_Fe_per_cm3:g} mg Fe/cm³ tumour"
        )
        parts.append(
            f"magnetic hyperthermia with {_e(arm.agent)} ({dose}), {arm.n_sessions} × "
            f"{arm.session_minutes:g} min sessions every {arm.session_interval_hours:g} h at "
            f"{arm.field_freq_kHz:g} kHz, {amp}, healthy tissue ≤ {arm.healthy_max_C:g} °C"
        )
    if arm.has_cdt:
        parts.append(f"chemodynamic agent {_e(arm.cdt_agent)}")
    if arm.co_agents:
        parts.append("co-agents " + ", ".join(_e(a) for a in arm.co_agents))
    if arm.has_rt:
        parts.append(
            f"radiotherapy {arm.rt_total_dose_Gy:g} Gy in {arm.rt_n_fractions} fractions "
            f"({arm.rt_fractions_per_week:g}/week)"
        )
    return "; ".join(parts) if parts else "no active treatment"


def checklist(has_psa: bool) -> list[ChecklistEntry]:
    """Where each CHEERS 2022 item is answered in this report (order of :func:`cheers_items`)."""
    from mhtcdt.economics.conventions import cheers_items

    where = {
        "Title": (REPORTED, "title"),
        "Abstract": (REPORTED, "abstract"),
        "Background and objectives": (REPORTED, "background"),
        "Health economic analysis plan": (REPORTED, "plan"),
        "Study population": (REPORTED, "population"),
        "Setting and location": (REPORTED, "setting"),
        "Comparators": (REPORTED, "comparators"),
        "Perspective": (REPORTED, "setting"),
        "Time horizon": (REPORTED, "setting"),
        "Discount rate": (REPORTED, "setting"),
        "Selection of outcomes": (REPORTED, "outcomes"),
        "Measurement of outcomes": (REPORTED, "outcomes"),
        "Valuation of outcomes": (REPORTED, "outcomes"),
        "Measurement and valuation of resources and costs": (REPORTED, "costs"),
        "Currency, price date, and conversion": (REPORTED, "costs"),
        "Rationale and description of model": (REPORTED, "model"),
        "Analytics and assumptions": (REPORTED, "model"),
        "Characterising heterogeneity": (REPORTED, "population"),
        "Characterising distributional effects": (
            NOT_APPLICABLE,
            "no distributional (equity) analysis was performed in this run",
        ),
        "Characterising uncertainty": (REPORTED, "uncertainty")
        if has_psa
        else (ANALYST, "no probabilistic sensitivity analysis was available for this run; see 'uncertainty'"),
        "Approach to engagement with patients and others affected by the study": (
            ANALYST,
            "an automatic report cannot know how patients or others were engaged",
        ),
        "Study parameters": (REPORTED, "parameters"),
        "Summary of main results": (REPORTED, "results"),
        "Effect of uncertainty": (REPORTED, "uncertainty")
        if has_psa
        else (ANALYST, "no probabilistic sensitivity analysis was available for this run"),
        "Effect of engagement with patients and others affected by the study": (
            ANALYST,
            "an automatic report cannot know the effect of engagement",
        ),
        "Study findings, limitations, generalisability, and current knowledge": (REPORTED, "discussion"),
        "Source of funding": (ANALYST, "not known to the software"),
        "Conflicts of interest": (ANALYST, "not known to the software"),
    }
    out = []
    for item in cheers_items():
        status, loc = where.get(item, (ANALYST, "not mapped by this report"))
        out.append(ChecklistEntry(item, status, loc))
    return out


def build_html_report(
    result: Any,
    psa: Any | None = None,
    when: datetime | None = None,
    trial_value: Any | None = None,
    *,
    subgroups: Any | None = None,
    population: Any | None = None,
    list_price: float | None = None,
) -> str:
    """The CHEERS 2022-organised HTML report of a :class:`~mhtcdt.decision.run.pipeline.PipelineResult`.

    ``psa`` (optional): the :class:`~mhtcdt.decision.model.psa.PSAResult` of the same run; without it the
    uncertainty section says that no probabilistic analysis was run. With it the report opens with the
    headline answer (:mod:`mhtcdt.decision.report.headline`; ``population``: patients per year and decision
    years of the population EVPI, ``list_price``: the price before a what-if) and has a price and threshold
    section. ``subgroups``: a :class:`~mhtcdt.decision.model.subgroups.SubgroupAnalysis` of the run (its
    section at the run's WTP and price). ``trial_value`` (optional): the
    :class:`~mhtcdt.decision.trial.trial_value.TrialValue` of the run, reported in a section of its own
    (:mod:`mhtcdt.decision.report.trial_value`).
    """
    from mhtcdt import __version__
    from mhtcdt.decision.report import decision_figures as dfig
    from mhtcdt.decision.report import decision_html as dh
    from mhtcdt.decision.report.palette import scenario_palette
    from mhtcdt.decision.run.pipeline import population_sentence

    sc = result.scenario
    eco = sc.economics
    cur = eco.currency
    when = when or datetime.now(UTC)
    counts = result.trial.groupby("arm", sort=False).size()
    n_screened = int(result.flow["n_before"].iloc[0])
    n_eligible = int(result.flow["remaining"].iloc[-1])
    s = []
    add = s.append
    add(f"<h1 id='title'>Cost-utility analysis: {_e(sc.name)}</h1>")
    add(
        f"<p class='meta'>mhtcdt {_e(__version__)} · seed {result.seed} · generated "
        f"{when:%Y-%m-%d %H:%M} UTC · a virtual trial and model-based economic evaluation</p>"
    )
    add("<h2 id='abstract'>Abstract</h2>")
    add(
        f"<p>A virtual randomised trial of {len(counts)} strategies in "
        f"{_e(sc.cohort.indication.replace('_', ' '))} ({int(counts.sum()):,} virtual patients randomised of "
        f"{n_screened:,} screened) with a partitioned-survival cost-utility model "
        f"({_e(cur)} {eco.price_year}, {_e(eco.perspective)} perspective, "
        f"{eco.horizon_years:g}-year horizon).</p>"
    )
    add(f"<p class='verdict'><strong>Result (deterministic base case).</strong> {_e(result.verdict)}</p>")
    for note in reference_case_notes(eco):
        add(f"<p><em>{_e(note)}</em></p>")
    add(f"<p><em>{_e(population_sentence(result))}</em></p>")
    colours = scenario_palette(sc)
    if psa is not None:
        from mhtcdt.decision.report.headline import build_headline

        add(dh.headline_section(build_headline(result, psa, list_price=list_price, population=population)))
    add("<h2 id='background'>Background and objectives</h2>")
    add(
        f"<p>{_e(sc.description or sc.name)}</p><p>Objective: to estimate the expected costs, life-years and "
        "QALYs of each strategy and whether the new strategy is cost-effective at the stated willingness to "
        f"pay of {_e(cur)} {eco.willingness_to_pay:,.0f} per QALY.</p>"
    )
    from mhtcdt.decision.scenario.loading import scenario_to_toml

    sha = hashlib.sha256(scenario_to_toml(sc).encode("utf-8")).hexdigest()
    add(
        "<h2 id='plan'>Health economic analysis plan</h2><p>The analysis is defined entirely by the scenario "
        f"file reproduced in the appendix (SHA-256 <code>{sha}</code>) and the package version above. Whether "
        "it was fixed before the results were seen is for the analyst to state.</p>"
    )
    add("<h2 id='population'>Study population</h2>")
    add(
        "<p>Eligibility criteria, applied in order (CONSORT flow; the exact expression of the scenario file "
        "beside each):</p>" + _table(consort_display(result.flow))
    )
    add(
        f"<p>{n_eligible:,} of {n_screened:,} screened virtual patients were eligible; randomised: "
        + ", ".join(f"{_e(a)} {int(n):,}" for a, n in counts.items())
        + ".</p>"
    )
    add(
        "<figure>" + _svg(figures.consort_funnel(result.flow)) + "<figcaption>CONSORT flow of the virtual "
        "cohort.</figcaption></figure>"
    )
    if sc.trial.stratify_by:
        add(
            f"<p>Heterogeneity: randomisation was stratified by {_e(', '.join(sc.trial.stratify_by))}; "
            "covariate-adjusted hazard ratios are given with the results. "
            + (
                "Subgroup cost-effectiveness: see 'For whom'."
                if subgroups is not None
                else "No subgroup cost-effectiveness was estimated in this report (mhtcdt subgroups)."
            )  # fmt: skip
            + "</p>"
        )
    add("<h2 id='setting'>Setting, perspective, time horizon and discounting</h2>")
    add(
        f"<ul><li>Currency and price year: {_e(cur)} {eco.price_year}</li>"
        f"<li>Perspective: {_e(eco.perspective)}"
        f"</li><li>Time horizon: {eco.horizon_years:g} years; cycle length {eco.cycle_months:g} months "
        f"({_e(eco.counting.replace('_', ' '))} counting)</li>"
        f"<li>Discount rates: costs {eco.discount_costs:.1%}"
        f", effects {eco.discount_effects:.1%} per year</li>"
        + "".join(f"<li>{_e(note)}</li>" for note in reference_case_notes(eco))
        + "</ul>"
    )
    add("<h2 id='comparators'>Comparators</h2><ul>")
    for arm in sc.randomised_arms:
        ref = " (reference)" if arm.name == sc.trial.reference_arm else ""
        add(f"<li><strong>{_e(arm.name)}</strong>{ref}: {_arm_description(arm)}</li>")
    add("</ul>")
    add("<h2 id='outcomes'>Outcomes: selection, measurement and valuation</h2>")
    add(
        "<p>Outcomes are life-years and quality-adjusted life-years (QALYs). Progression-free and overall "
        "survival were measured in the virtual trial (Kaplan-Meier, Cox hazard ratios, log-rank tests, "
        "restricted mean survival time). QALYs weight time in each health state by the utilities below "
        f"(progression-free {eco.utilities.progression_free:g}, progressed {eco.utilities.progressed:g} "
        "QALY per year).</p>"
    )
    add("<h2 id='costs'>Resources and costs</h2>")
    costs = pd.DataFrame(
        {
            "item": list(type(eco.costs).model_fields),
            "value": [getattr(eco.costs, k) for k in type(eco.costs).model_fields],
        }
    )
    costs["value"] = costs["value"].map(lambda v: f"{cur} {v:,.0f}")
    transfer = transfer_note(eco)  # CHEERS 2022 item 15: currency, price date and conversion
    add(
        _table(costs)
        + f"<p>All costs in {_e(cur)} at {eco.price_year} prices, as given in the scenario "
        + (f"({_e(transfer)})</p>" if transfer else "(conversions, where any, are documented in its comments).</p>")
    )
    add("<h2 id='model'>Model: rationale, analytics and assumptions</h2>")
    add(
        "<p>A mechanistic model links each virtual patient's treatment (heating, thermal dose, chemistry, "
        "radiotherapy) to tumour cell kill and then to progression and death times; a three-state "
        "partitioned-survival model (progression-free, progressed, dead) turns the arms' survival curves "
        f"into costs and QALYs. Survival source: {_e(eco.survival_source.replace('_', '-'))} curves"
        + {
            "parametric": " (best-AIC parametric fit per arm, extrapolated to the horizon).",
            "kaplan_meier": " (Kaplan-Meier, not extrapolated).",
        }.get(
            eco.survival_source,
            " (the outcome model's complete survival of the trial's patients at its calibrated point; the "
            "probabilistic analysis uses the same model over its calibration draws: one survival source).",
        )
        + "</p>"
    )
    if len(result.parametric):
        role = "the economics input" if eco.survival_source == "parametric" else "an analysis, not the economics input"
        add(f"<p>Parametric fits to the censored virtual trial ({role}):</p>" + _table(result.parametric))
    add("<h2 id='parameters'>Study parameters</h2>")
    add(
        f"<p>Utilities (QALY per year): progression-free {eco.utilities.progression_free:g}, progressed "
        f"{eco.utilities.progressed:g}. Costs: see 'Resources and costs'. Clinical and physical parameters, "
        "with their sources and whether each source was verified, are in the package's data files (the "
        "bundled scenario files cite theirs in comments, which the copy in the appendix does not keep).</p>"
    )
    if eco.uncertainty:
        ranges = pd.DataFrame(
            [
                {
                    "parameter": u.parameter,
                    "value": eco.point_value(u.parameter),
                    "distribution": u.distribution,
                    "low (2.5 %)": u.low,
                    "high (97.5 %)": u.high,
                    "source": u.source,
                }
                for u in eco.uncertainty
            ]
        )
        add(
            "<p>Uncertain economic inputs (probabilistic distributions; the same ranges for the one-way "
            "analysis):</p>" + _table(ranges)
        )
    add("<h2 id='results'>Main results</h2>")
    for endpoint in ("OS", "PFS"):
        times = figures.at_risk_times(result.curves, endpoint)
        at_risk = figures.numbers_at_risk(result.trial, endpoint, times)
        fig = figures.kaplan_meier(result.curves, endpoint, at_risk, colours)
        add(
            f"<figure>{_svg(fig)}<figcaption>Kaplan-Meier {endpoint} with 95% confidence bands "
            "and numbers at risk.</figcaption></figure>"
        )
    add("<p>Survival:</p>" + dh.stakeholder(result.survival_summary, cur))
    add("<p>Comparisons:</p>" + dh.stakeholder(result.comparison, cur))
    per = result.economics[["strategy", "cost", "life_years", "qalys"]]
    add("<p>Costs and effects per patient (discounted):</p>" + dh.stakeholder(per, cur))
    inc = result.incremental[["strategy", "cost", "qalys", "inc_cost", "inc_qalys", "icer", "status"]]
    add("<p>Incremental analysis:</p>" + dh.stakeholder(inc, cur))
    add(
        "<figure>"
        + _svg(figures.ce_plane(result.economics, sc.trial.reference_arm, eco.willingness_to_pay, cur, colours=colours))
        + "<figcaption>Cost-effectiveness plane (deterministic base case).</figcaption></figure>"
    )
    add("<h2 id='uncertainty'>Uncertainty</h2>")
    if psa is not None:
        from mhtcdt.decision.report.tables import psa_summary_table

        w = psa.willingness_to_pay
        add(f"<p>Probabilistic sensitivity analysis with {psa.n_draws:,} draws. {_e(psa.verdict(w))}</p>")
        for note in psa.notes:
            if note != population_sentence(result):  # said once, under the abstract's result
                add(f"<p><em>{_e(note)}</em></p>")
        add(dh.stakeholder(psa_summary_table(psa, w), cur))
        add(
            "<figure>"
            + _svg(figures.ce_plane(psa.point, psa.reference, w, cur, psa.ce_plane(), colours))
            + "<figcaption>Cost-effectiveness plane, one point per draw; large dots: the model at the calibrated "
            "point; crosses: the mean of the draws.</figcaption></figure>"
        )
        add(
            "<figure>"
            + _svg(dfig.ceac(psa.ceac, w, cur, colours))
            + "<figcaption>Probability of being cost-effective against the willingness to pay (the WTP in use "
            "marked; pale band: the strategy with the highest expected net benefit).</figcaption></figure>"
        )
        tornado = dfig.tornado(psa.tornado, cur, psa.focal, psa.reference)
        if tornado is not None:
            add(
                "<figure>"
                + _svg(tornado)
                + f"<figcaption>One-way sensitivity of the incremental net monetary benefit of "
                f"{_e(psa.focal)} vs {_e(psa.reference)} at {_e(cur)} {w:,.0f}/QALY (each input over its "
                "range, the others at their base value).</figcaption></figure>"
            )
        evpi_fig = dfig.evpi(psa.evpi, w, cur)
        if evpi_fig is None:
            add(
                "<p>Expected value of perfect information: below 1 per patient at every willingness to pay "
                "shown: resolving the sampled uncertainty would not change the decision.</p>"
            )
        else:
            add(
                "<figure>"
                + _svg(evpi_fig)
                + "<figcaption>Expected value of perfect information per patient.</figcaption></figure>"
            )
        evppi_fig = dfig.evppi(psa.evppi, cur)
        if evppi_fig is not None:
            add(figures_caption(evppi_fig, "Expected value of partial perfect information per patient."))
        add(
            "<p>Expected value of partial perfect information per patient:</p>"
            + dh.stakeholder(psa.evppi[["parameter", "evppi", "evppi_se"]], cur)
        )
        if getattr(psa, "physics", None) is not None:
            add(_physics_uncertainty_html(psa))
        add(dh.price_section(result, psa))
    else:
        add(
            "<p>No probabilistic sensitivity analysis was available for this run: the results above are "
            "deterministic and their uncertainty is not characterised here. Sampling uncertainty of the "
            "virtual trial is shown by the confidence intervals.</p>"
        )
    if subgroups is not None:
        add(dh.subgroups_section(subgroups, eco.willingness_to_pay, eco.costs.mht_course))
    if trial_value is not None:
        from mhtcdt.decision.report.trial_value import section_html

        add(section_html(trial_value))
    add("<h2 id='discussion'>Findings, limitations and generalisability</h2>")
    add(
        "<p>The comparative effect is a model prediction, not evidence: there is no randomised trial of "
        "NanoTherm magnetic hyperthermia (the MF1001 trial closed early) and no clinical evidence for "
        "chemodynamic therapy. Parameters marked unverified in the scenario are priors. The results apply to "
        "the virtual population defined above and to the stated costs and willingness to pay.</p>"
    )
    add("<h2 id='funding'>Funding and conflicts of interest</h2><p>To be completed by the analyst.</p>")
    add(
        "<h2 id='cheers'>CHEERS 2022 checklist</h2><table><thead><tr><th>#</th><th>item</th><th>status</th>"
        "<th>where / why</th></tr></thead><tbody>"
    )
    for i, entry in enumerate(checklist(psa is not None), start=1):
        loc = f"<a href='#{entry.where}'>{entry.where}</a>" if entry.status == REPORTED else _e(entry.where)
        add(
            f"<tr class='{entry.status.replace(' ', '-')}'><td>{i}</td><td>{_e(entry.item)}</td>"
            f"<td>{_e(entry.status)}</td><td>{loc}</td></tr>"
        )
    add("</tbody></table>")
    add("<h2 id='appendix'>Appendix: scenario file</h2><pre>" + _e(scenario_to_toml(sc)) + "</pre>")
    body = "\n".join(s)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(sc.name)}</title><style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


def _physics_uncertainty_html(psa: Any) -> str:
    """Physics and structural inputs of the PSA (with sources), the decision drivers with plain-language
    labels, the structural alternatives side by side and how each arm's physics was emulated."""
    cur = psa.currency
    parts = ["<h3 id='physics-uncertainty'>Physics and structural uncertainty</h3>"]
    parts.append(
        "<p>Physics and structural inputs sampled in every draw (distributions and sources; the physics is "
        "emulated per arm from runs of the model chain on the trial's own patients):</p>"
    )
    parts.append(_table(psa.physics.inputs_table().drop(columns=["target"])))
    emu = pd.DataFrame(
        [
            {
                "arm": r.arm,
                "patients": r.n_patients,
                "emulated over": ", ".join(r.dims) or "-",
                "additive": ", ".join(r.weak) or "-",
                "without effect in this arm": ", ".join(r.dropped) or "-",
                "physics solves": r.n_solves,
                "seconds": r.seconds,
            }
            for r in psa.physics.reports
        ]
    )
    parts.append("<p>Emulators:</p>" + _table(emu, digits=1))
    parts.append("<h3 id='drivers'>Which uncertain inputs drive the decision</h3>")
    parts.append("<p>" + "<br>".join(_e(line) for line in psa.drivers_text()) + "</p>")
    shown = psa.drivers[
        ["rank", "label", "kind", "evppi", "evppi_se", "inb_variance_share", "qaly_gain_variance_share"]
    ].rename(columns={"evppi": f"EVPPI ({cur}/patient)", "evppi_se": "EVPPI SE"})
    parts.append(_table(shown))
    if len(psa.structural):
        parts.append(
            f"<h3 id='structural'>Structural alternatives</h3><p>{_e(psa.focal)} vs {_e(psa.reference)}: the PSA "
            "re-run with each structural choice held fixed and every other input drawn as in the base PSA "
            "(the same draws), expected values.</p>"
        )
        table = psa.structural[
            ["label", "fixed", "inc_cost", "inc_qalys", "icer", "icer_status", "p_cost_effective", "note"]
        ]
        parts.append(_table(table))
    return "\n".join(parts)


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; }
th { background: #f2f2f2; } .meta { color: #666; font-size: 0.85rem; }
.verdict { background: #eef5ff; padding: 0.6rem; border-left: 4px solid #1f77b4; }
tr.to-be-completed-by-the-analyst td { background: #fff7e6; } tr.not-applicable td { color: #777; }
figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; }
pre { background: #f7f7f7; padding: 0.5rem; overflow-x: auto; font-size: 0.8rem; }
"""
