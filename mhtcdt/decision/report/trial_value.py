"""The value of a trial for people: tables, figures, the printed summary and the HTML report section of a
:class:`~mhtcdt.decision.trial.trial_value.TrialValue` (``mhtcdt evsi``, the app's "Value of a trial" page and
the report). Nothing is computed here beyond arranging the numbers.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mhtcdt.decision.report.figures import new_figure
from mhtcdt.decision.report.palette import ARM_COLOURS

SECTION_ID = "trial-value"


def _money(x: float, currency: str) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{currency} {x:,.0f}"


def enbs_figure(tv: Any) -> Figure:
    """ENBS (population, millions) against the total sample size, one line per design with its +-2 SE band;
    the optimal size of each design marked; the MF1001 design as a point."""
    fig, ax = new_figure(7.0, 3.8)
    cur = tv.currency
    for i, (design, part) in enumerate(tv.curve.groupby("design", sort=False)):
        colour = ARM_COLOURS[i % len(ARM_COLOURS)]
        part = part.sort_values("n_patients")
        n = part["n_patients"].to_numpy(float)
        y = part["enbs"].to_numpy(float) / 1e6
        band = 2.0 * part["enbs_se"].to_numpy(float) / 1e6
        ax.fill_between(n, y - band, y + band, color=colour, alpha=0.15)
        ax.plot(n, y, marker="o", color=colour, label=design)
        opt = tv.optimal[tv.optimal["design"] == design]
        if len(opt) and int(opt["n_optimal"].iloc[0]) > 0:
            k = int(np.argmax(y))
            ax.plot(n[k], y[k], marker="*", markersize=14, color=colour, ls="none")
    if tv.mf1001 is not None:
        m = tv.mf1001.iloc[0]
        ax.errorbar(
            [m["n_patients"]],
            [m["enbs"] / 1e6],
            yerr=[2.0 * m["enbs_se"] / 1e6],
            marker="D",
            color="#444444",
            ls="none",
            label=f"MF1001 design ({int(m['n_patients'])} patients)",
        )
    ax.axhline(0.0, color="#888888", lw=1, ls="--")
    ax.set_xlabel("patients randomised (total)")
    ax.set_ylabel(f"ENBS [{cur} million]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="best")
    return fig


def evsi_figure(tv: Any) -> Figure:
    """EVSI per patient against sample size (regression with +-2 SE, and the cross-checks), with the EVPPI of
    the inputs the trial informs as the ceiling."""
    fig, ax = new_figure(7.0, 3.6)
    for i, (design, part) in enumerate(tv.curve.groupby("design", sort=False)):
        colour = ARM_COLOURS[i % len(ARM_COLOURS)]
        part = part.sort_values("n_patients")
        n = part["n_patients"].to_numpy(float)
        ax.errorbar(n, part["evsi"], yerr=2 * part["evsi_se"], marker="o", color=colour, label=f"{design}: regression")
        if part["evsi_mm"].notna().any():
            ax.plot(n, part["evsi_mm"], ls="--", marker="x", color=colour, label="moment matching")
        if part["evsi_is"].notna().any():
            ax.plot(n, part["evsi_is"], ls=":", marker="+", color=colour, label="importance sampling")
    ax.axhline(tv.evppi, color="#444444", lw=1, ls="-.", label="EVPPI of the informed inputs")
    ax.set_xlabel("patients randomised (total)")
    ax.set_ylabel(f"EVSI per patient [{tv.currency}]")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    return fig


def curve_table(tv: Any) -> pd.DataFrame:
    """The ENBS grid for people: design, n, EVSI per patient (three methods), population EVSI, costs, ENBS."""
    c = tv.curve
    cur = tv.currency
    out = pd.DataFrame(
        {
            "design": c["design"],
            "n": c["n_patients"],
            "results after [months]": c["months_to_report"].round(0).astype(int),
            f"EVSI per patient [{cur}] (SE)": [
                f"{e:,.1f} ({s:,.1f})" for e, s in zip(c["evsi"], c["evsi_se"], strict=True)
            ],
            "moment matching": c["evsi_mm"].round(1),
            "importance sampling": c["evsi_is"].round(1),
            "P(decision changes)": c["p_decision_change"].round(3),
            f"population EVSI [{cur}]": c["evsi_population"].round(0),
            f"trial cost [{cur}]": c["trial_cost"].round(0),
            f"forgone net benefit [{cur}]": c["forgone_net_benefit"].round(0),
            f"ENBS [{cur}] (SE)": [f"{e:,.0f} ({s:,.0f})" for e, s in zip(c["enbs"], c["enbs_se"], strict=True)],
        }
    )
    return out


def optimal_table(tv: Any) -> pd.DataFrame:
    """Per design: the optimal number of patients (0 = no trial) with its bootstrap 95 % band."""
    o = tv.optimal
    return pd.DataFrame(
        {
            "design": o["design"],
            "optimal n (0 = no trial)": o["n_optimal"],
            "95% band": [f"{lo}-{hi}" for lo, hi in zip(o["band_low"], o["band_high"], strict=True)],
            "P(no trial is worth it)": o["p_no_trial"].round(3),
            f"ENBS [{tv.currency}] (SE)": [
                f"{e:,.0f} ({s:,.0f})" for e, s in zip(o["enbs"], o["enbs_se"], strict=True)
            ],
        }
    )


def result_tables(tv: Any) -> dict[str, pd.DataFrame]:
    """Every table of the analysis by file name (``mhtcdt evsi --out``)."""
    tables = {"trial_value_curve": tv.curve, "trial_value_optimal": tv.optimal, "trial_value_by_wtp": tv.by_wtp}
    if tv.mf1001 is not None:
        tables["trial_value_mf1001"] = tv.mf1001
    if tv.subgroups is not None:
        tables["trial_value_subgroups"] = tv.subgroups
    return tables


def summary_lines(tv: Any) -> list[str]:
    """The printed summary of ``mhtcdt evsi``."""
    cur = tv.currency
    pop = tv.population
    lines = [
        f"Value of a randomised trial: {tv.scenario_name}",
        f"  decision at {cur} {tv.willingness_to_pay:,.0f}/QALY, MHT course {cur} {tv.price:,.0f}: "
        f"'{tv.current_best}' is the best choice now ({tv.n_draws} PSA draws, {tv.n_states} parameter states)",
        f"  EVPI {_money(tv.evpi, cur)} per patient; EVPPI of what a trial informs {_money(tv.evppi, cur)} "
        f"(SE {tv.evppi_se:,.1f})",
        f"  population: {pop.patients_per_year:,.0f} patients/year over {pop.horizon_years:g} years at "
        f"{pop.discount_rate:.1%}; trial cost {_money(tv.trial_cost.fixed, cur)} + "
        f"{_money(tv.trial_cost.per_patient, cur)} per patient",
        "",
        f"  {'design':<34} {'n':>5} {'EVSI (SE)':>16} {'MM':>8} {'IS':>8} {'P(chg)':>7} {'ENBS (SE)':>26}",
    ]
    for r in tv.curve.itertuples(index=False):
        lines.append(
            f"  {r.design[:34]:<34} {r.n_patients:>5} {r.evsi:>8,.1f} ({r.evsi_se:>5,.1f}) {r.evsi_mm:>8,.1f} "
            f"{r.evsi_is:>8,.1f} {r.p_decision_change:>7.3f} {r.enbs:>15,.0f} ({r.enbs_se:>8,.0f})"
        )
    lines.append("")
    for r in tv.optimal.itertuples(index=False):
        lines.append(
            f"  optimal n, {r.design}: {r.n_optimal} (95% band {r.band_low}-{r.band_high}; "
            f"P(no trial) {r.p_no_trial:.2f}); ENBS {_money(r.enbs, cur)} (SE {r.enbs_se:,.0f})"
        )
    if tv.mf1001 is not None:
        m = tv.mf1001.iloc[0]
        lines.append(
            f"  MF1001 design ({int(m['n_patients'])} patients, 3 arms, 12-month survival): EVSI "
            f"{_money(m['evsi'], cur)} per patient (SE {m['evsi_se']:,.1f}; moment matching {m['evsi_mm']:,.1f}, "
            f"importance sampling {m['evsi_is']:,.1f}), population {_money(m['evsi_population'], cur)}, "
            f"ENBS {_money(m['enbs'], cur)} (SE {m['enbs_se']:,.0f}), P(decision changes) "
            f"{m['p_decision_change']:.3f}"
        )
    lines += ["", "  " + tv.verdict()]
    lines += [f"  note: {n}" for n in tv.notes]
    lines.append("  Every number is a model prediction: there is no randomised NanoTherm evidence.")
    return lines


def _svg(fig: Figure) -> str:
    from mhtcdt.decision.report.html import _svg as svg

    return svg(fig)


def _table(df: pd.DataFrame) -> str:
    from mhtcdt.decision.report.html import _table as table

    return table(df)


def section_html(tv: Any) -> str:
    """The report section "Value of further research: a randomised trial" (escaped HTML)."""
    e = html.escape
    cur = tv.currency
    parts = [f"<h2 id='{SECTION_ID}'>Value of further research: a randomised trial</h2>"]
    parts.append(
        "<p>Expected value of sample information (EVSI) of randomised trials simulated by the virtual-trial "
        "engine from each PSA draw's parameters: regression on the trial's summary statistics (Strong, Oakley, "
        "Brennan, Breeze. Med Decis Making 2015;35:570-583), checked by moment matching (Heath, Manolopoulou, "
        "Baio. Med Decis Making 2018;38:163-173) and importance sampling (Menzies. Med Decis Making "
        "2016;36:308-320); expected net benefit of sampling (ENBS; Ades, Lu, Claxton. Med Decis Making "
        f"2004;24:207-227) for {tv.population.patients_per_year:,.0f} patients a year over "
        f"{tv.population.horizon_years:g} years, counted from the trial's report, minus the trial's cost "
        f"({e(_money(tv.trial_cost.fixed, cur))} + {e(_money(tv.trial_cost.per_patient, cur))} per patient) "
        "and the net benefit forgone by its patients.</p>"
    )
    parts.append(f"<p class='verdict'>{e(tv.verdict())}</p>")
    parts.append(
        f"<p>EVPI {e(_money(tv.evpi, cur))} per patient; EVPPI of the inputs a trial informs "
        f"({e(', '.join(tv.informed))}) {e(_money(tv.evppi, cur))} (SE {tv.evppi_se:,.1f}).</p>"
    )
    parts.append(_table(optimal_table(tv)))
    parts.append(
        "<figure>" + _svg(enbs_figure(tv)) + "<figcaption>Expected net benefit of sampling by sample size "
        "(band: 2 standard errors; star: optimal size).</figcaption></figure>"
    )
    parts.append(
        "<figure>" + _svg(evsi_figure(tv)) + "<figcaption>EVSI per patient by sample size, three methods, "
        "with the EVPPI of the informed inputs as the ceiling.</figcaption></figure>"
    )
    parts.append(_table(curve_table(tv)))
    if tv.mf1001 is not None:
        m = tv.mf1001.iloc[0]
        parts.append(
            f"<p>The closed MF1001 trial as planned ({int(m['n_patients'])} patients, three arms, 12-month survival): "
            f"EVSI {e(_money(m['evsi'], cur))} per patient (SE {m['evsi_se']:,.1f}), ENBS "
            f"{e(_money(m['enbs'], cur))} (SE {m['enbs_se']:,.0f}).</p>"
        )
    if tv.subgroups is not None:
        parts.append("<p>For whom: EVPPI and EVSI by subgroup (a trial enrolling only that subgroup).</p>")
        parts.append(_table(tv.subgroups.drop(columns=["criterion"])))
    for note in tv.notes:
        parts.append(f"<p><em>{e(note)}</em></p>")
    return "\n".join(parts)
