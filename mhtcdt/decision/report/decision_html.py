"""HTML sections of the decision for the report (:mod:`mhtcdt.decision.report.html`) and the scenario
comparison report (``mhtcdt compare``): the headline answer, the price and threshold analysis, the
subgroups and eligibility rules, and compared scenarios side by side.

Every table is a stakeholder table (:func:`mhtcdt.decision.report.labels.stakeholder_table`: plain headers,
formatted numbers); every figure is inline SVG.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import pandas as pd

from mhtcdt.decision.report import decision_figures as dfig
from mhtcdt.decision.report.figures import to_bytes
from mhtcdt.decision.report.labels import (
    icer_cell,
    icer_cells,
    money,
    number,
    percent,
    price_text,
    stakeholder_table,
    threshold_text,
)
from mhtcdt.decision.scenario.reference_case import reference_case_notes

LIGHT_COLOURS = {"green": "#1a7f37", "amber": "#b45309", "red": "#b42318"}
LIGHT_WORDS = {"green": "cost-effective", "amber": "uncertain", "red": "not cost-effective"}


def _e(x: object) -> str:
    return html.escape(str(x))


def svg(fig) -> str:
    """A figure as inline SVG (no XML prologue)."""
    text = to_bytes(fig, "svg").decode("utf-8")
    return text[text.index("<svg") :]


def text_table(df: pd.DataFrame) -> str:
    """A table of already formatted strings as HTML (every cell escaped)."""
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r) + "</tr>" for r in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def figure(fig, caption: str) -> str:
    return f"<figure>{svg(fig)}<figcaption>{_e(caption)}</figcaption></figure>"


def headline_section(headline) -> str:
    """The answer at a glance: traffic light, verdict and the sentences of :class:`Headline`."""
    colour = LIGHT_COLOURS[headline.light]
    parts = [
        "<h2 id='answer'>The answer at a glance</h2>",
        f"<p class='light' style='border-left: 8px solid {colour}; padding: 0.5rem 0.8rem; background: #fafafa'>"
        f"<strong style='color: {colour}'>● {_e(LIGHT_WORDS[headline.light].upper())}</strong> "
        f"<strong>{_e(headline.verdict)}.</strong></p>",
        "<ul>" + "".join(f"<li>{_e(s)}</li>" for s in headline.sentences()[1:]) + "</ul>",
    ]
    return "\n".join(parts)


def price_section(result, psa) -> str:
    """Price and threshold analysis: headroom, ICER and P(cost-effective) against price, two-way table."""
    from mhtcdt.decision.model import price

    sc = result.scenario
    cur = sc.economics.currency
    room = price.headroom(result, psa)
    parts = ["<h2 id='price'>Price and threshold analysis</h2>", f"<p>{_e(room.sentence())}</p>"]
    thresholds = price.threshold_wtp(result, psa)
    parts.append(
        f"<p>Threshold willingness to pay (the ICER of '{_e(psa.focal)}' vs '{_e(psa.reference)}'): "
        f"{_e(threshold_text(thresholds['probabilistic'], cur))} (mean of the draws); "
        f"{_e(threshold_text(thresholds['deterministic'], cur))} (base case).</p>"
    )
    if room.value_based_price is None:
        return "\n".join(parts)
    table = price.price_table(result, psa)
    parts.append(figure(dfig.price_curves(table, room.price, room.willingness_to_pay, cur, room.value_based_price),
                        "ICER and probability of being cost-effective against the MHT course price."))  # fmt: skip
    step = max(1, len(table) // 10)
    shown = table.iloc[::step].copy()
    parts.append(
        text_table(
            pd.DataFrame(
                {
                    "MHT course price": shown["price"].map(lambda v: money(v, cur)),
                    "ICER, mean of draws": icer_cells(shown, "probabilistic", cur),
                    "ICER, base case": icer_cells(shown, "deterministic", cur),
                    "probability cost-effective": [
                        f"{percent(p)} ({percent(lo)}-{percent(hi)})"
                        for p, lo, hi in zip(
                            shown["p_cost_effective"], shown["p_ce_lower"], shown["p_ce_upper"], strict=True
                        )  # fmt: skip
                    ],
                    "expected INMB per patient": shown["expected_inmb"].map(lambda v: money(v, cur)),
                }
            )
        )
    )
    parts.append(
        two_way_table_html(price.two_way_price_effect(result, psa), cur, price.two_way_basis(result, psa.focal))
    )
    return "\n".join(parts)


def two_way_table(two_way: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The two-way analysis as a grid of formatted ICERs: rows = effect size (with its QALY gain),
    columns = price; a cell says 'cost-effective' when the INMB is positive at the WTP."""
    rows = []
    for share, grp in two_way.groupby("effect_share", sort=True):
        row = {"share of the modelled extra kill": f"{share:.0%} (QALY gain {number(grp['qaly_gain'].iloc[0])})"}
        for r in grp.itertuples():
            icer = money(r.icer, currency) if r.icer == r.icer else "no QALY gain"
            row[money(r.price, currency)] = f"{icer} {'✓' if r.cost_effective else '✗'}"
        rows.append(row)
    return pd.DataFrame(rows)


def two_way_table_html(two_way: pd.DataFrame, currency: str, notes: Sequence[str] = ()) -> str:
    """The two-way grid with its caption; ``notes`` (:func:`mhtcdt.decision.model.price.two_way_basis`) say what
    its survival rests on when that is not the base case (escaped: they name user arms)."""
    basis = "outcome model at its calibrated point" if notes else "base case"
    return (
        f"<p>Two-way analysis, {basis}: ICER over the MHT course price (columns) and the effect size "
        "(rows: the share of the model's extra tumour kill over radiotherapy that is realised); ✓ = "
        "cost-effective at the willingness to pay. "
        + " ".join(_e(n) for n in notes)
        + "</p>"
        + text_table(two_way_table(two_way, currency))
    )


def subgroup_table(table: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The subgroup table for people (one row per subgroup, intervals written out)."""

    def interval(v, lo, hi, fmt):
        return "—" if v != v else f"{fmt(v)} ({fmt(lo)} to {fmt(hi)})"

    out = pd.DataFrame(
        {
            "covariate": table["covariate"],
            "subgroup": table["subgroup"],
            "patients": table["n"].map(lambda n: f"{int(n):,}"),
        }
    )
    if "qaly_gain" in table:
        out["OS hazard ratio (95 % interval)"] = [
            interval(v, lo, hi, lambda x: f"{x:.2f}")
            for v, lo, hi in zip(table["hazard_ratio"], table["hr_low"], table["hr_high"], strict=True)
        ]
        out["QALY gain (95 % interval)"] = [
            interval(v, lo, hi, number)
            for v, lo, hi in zip(table["qaly_gain"], table["qaly_gain_low"], table["qaly_gain_high"], strict=True)
        ]
        out["ICER (mean of draws)"] = [
            icer_cell(float(c), float(q), currency)
            for c, q in zip(table["incremental_cost"], table["qaly_gain"], strict=True)
        ]
        out["probability cost-effective"] = [
            interval(v, lo, hi, percent)
            for v, lo, hi in zip(table["p_cost_effective"], table["p_ce_low"], table["p_ce_high"], strict=True)
        ]
        out["value-based price"] = table["value_based_price"].map(lambda v: price_text(v, currency))
    out["note"] = table["note"].fillna("")
    return out


def rules_table(rules: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Eligibility rules for people, best first."""
    return pd.DataFrame(
        {
            "give the new arm to": rules["rule"],
            "share of eligible patients": rules["share_treated"].map(percent),
            "expected INMB per eligible patient (95 % interval)": [
                f"{money(v, currency)} ({money(lo, currency)} to {money(hi, currency)})"
                for v, lo, hi in zip(rules["expected_inmb"], rules["inmb_low"], rules["inmb_high"], strict=True)
            ],
            "probability it is the best rule": [
                f"{percent(p)} ({percent(lo)}-{percent(hi)})"
                for p, lo, hi in zip(rules["p_best"], rules["p_best_low"], rules["p_best_high"], strict=True)
            ],
            "best": rules["best"].map(lambda b: "best" if b else ""),
        }
    )


def best_rule_sentence(rules: pd.DataFrame, currency: str) -> str:
    best = rules.iloc[0]
    return (
        f"The eligibility rule with the highest expected net benefit is '{best['rule']}' "
        f"({percent(best['share_treated'])} of eligible patients; expected INMB "
        f"{money(best['expected_inmb'], currency)} per eligible patient); it is the best rule in "
        f"{percent(best['p_best'])} of the PSA draws."
    )


def subgroups_section(analysis, willingness_to_pay: float, price: float) -> str:
    """Subgroup results and eligibility rules at ``willingness_to_pay`` and ``price``."""
    cur = analysis.scenario.economics.currency
    table = analysis.table(willingness_to_pay, price)
    rules = analysis.rules_table(willingness_to_pay, price)
    parts = [
        "<h2 id='subgroups'>For whom: subgroups and eligibility</h2>",
        f"<p>At {_e(money(willingness_to_pay, cur))} per QALY and an MHT course price of {_e(money(price, cur))}. "
        + " ".join(_e(n) for n in analysis.notes)
        + "</p>",
        text_table(subgroup_table(table, cur)),
    ]
    fig = dfig.subgroup_forest(table, cur)
    if fig is not None:
        parts.append(figure(fig, "QALY gain per subgroup with its 95 % interval over the PSA draws."))
    parts.append(f"<p><strong>{_e(best_rule_sentence(rules, cur))}</strong></p>")
    parts.append(text_table(rules_table(rules, cur)))
    return "\n".join(parts)


def comparison_table(runs: Sequence, headlines: Sequence) -> pd.DataFrame:
    """Compared scenarios side by side: one row each with its headline answer."""
    rows = []
    for run, h in zip(runs, headlines, strict=True):
        cur = h.currency
        rows.append(
            {
                "scenario": run.label,
                "answer": f"{LIGHT_WORDS[h.light]}: {h.verdict}",
                "new vs comparator": f"{h.new} vs {h.reference}",
                "WTP per QALY": money(h.willingness_to_pay, cur),
                "extra cost per patient": money(h.inc_cost, cur),
                "QALYs gained": number(h.inc_qalys),
                "ICER (mean of draws)": icer_cell(h.inc_cost, h.inc_qalys, cur),
                "ICER, base case": icer_cell(h.inc_cost_deterministic, h.inc_qalys_deterministic, cur),
                "probability cost-effective": h.probability_text,
                "MHT price / value-based price": f"{money(h.price, cur)} / {price_text(h.value_based_price, cur)}",
                "EVPI per patient": money(h.evpi_per_patient, cur)
                if h.evpi_per_patient >= 0.5
                else f"below {cur} 1 (research would not change the choice)",
            }
        )
    return pd.DataFrame(rows)


def comparison_report(runs: Sequence, headlines: Sequence, plane_fig) -> str:
    """A self-contained HTML page comparing scenarios (``mhtcdt compare --out``); ``plane_fig``: one figure, or
    one per currency (``{currency: figure}``) when the scenarios' costs are in different currencies."""
    from mhtcdt import __version__
    from mhtcdt.decision.report.html import _CSS

    parts = [
        "<h1>Scenario comparison</h1>",
        f"<p class='meta'>mhtcdt {_e(__version__)} · {len(runs)} scenarios, each with its own probabilistic "
        "sensitivity analysis</p>",
        text_table(comparison_table(runs, headlines)),
    ]
    figs = plane_fig if isinstance(plane_fig, Mapping) else {headlines[0].currency: plane_fig}
    for cur, fig in figs.items():
        parts.append(
            figure(
                fig,
                f"One cost-effectiveness plane ({cur}): each scenario's PSA draws (new arm vs its comparator), "
                "the mean of its draws (cross) and its base case (dot)"
                + (": scenarios in other currencies have their own plane." if len(figs) > 1 else "."),
            )
        )
    for run, h in zip(runs, headlines, strict=True):
        shared = f" (re-costed from '{_e(run.shared_with)}': same trial)" if run.shared_with else ""
        parts.append(f"<h2>{_e(run.label)}</h2><p>{_e(run.scenario.name)}{shared}</p>")
        parts.extend(f"<p><em>{_e(note)}</em></p>" for note in reference_case_notes(run.scenario.economics))
        parts.append(headline_section(h).replace("<h2 id='answer'>The answer at a glance</h2>", ""))
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>Scenario comparison</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


def stakeholder(df: pd.DataFrame, currency: str) -> str:
    """Any result table as a stakeholder table in HTML."""
    return text_table(stakeholder_table(df, currency))
