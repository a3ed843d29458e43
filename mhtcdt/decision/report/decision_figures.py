"""Figures of the decision (app pages and report): acceptability curve with the WTP marked, value of
information, tornado with plain labels, price curves, subgroups and compared scenarios.

Like :mod:`mhtcdt.decision.report.figures`, nothing is computed here beyond arranging numbers to plot;
colours come from :func:`mhtcdt.decision.report.palette.arm_palette`. A figure that would be empty or flat
(EVPI of zero everywhere) is not drawn: the functions return ``None`` and the caller shows a sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mhtcdt.decision.report.figures import money_formatter, new_figure
from mhtcdt.decision.report.labels import money, parameter_label, parameter_value
from mhtcdt.decision.report.palette import SCENARIO_COLOURS, colour_of, styled

NEGLIGIBLE = 0.5  # [currency per patient]: value of information below this is "zero"


@styled
def ceac(ceac_table: pd.DataFrame, wtp: float, currency: str, colours: Mapping[str, str] | None = None) -> Figure:
    """Probability that each strategy is cost-effective against the willingness to pay (``nmb.ceac``
    table), the frontier (strategy with the highest expected NMB) as a wide pale band under the curves, and
    the WTP in use marked with its probabilities."""
    fig, ax = new_figure(6.0, 3.8)
    for i, (name, grp) in enumerate(ceac_table.groupby("strategy", sort=False)):
        colour = colour_of(str(name), colours, i)
        front = grp["probability"].where(grp["optimal"])
        ax.plot(grp["wtp"], front, color=colour, lw=9, alpha=0.18, solid_capstyle="butt")
        ax.plot(grp["wtp"], grp["probability"], color=colour, lw=2, label=str(name))
        at = grp.loc[(grp["wtp"] - wtp).abs().idxmin(), "probability"]
        ax.plot([wtp], [at], marker="o", color=colour, ms=7, zorder=5)
        ax.annotate(f"{at:.0%}", (wtp, at), textcoords="offset points", xytext=(6, 4 if at < 0.5 else -12))
    ax.axvline(wtp, color="#333333", ls="--", lw=1)
    ax.text(wtp, 1.04, f" WTP {money(wtp, currency)}", transform=ax.get_xaxis_transform(), fontsize=9)
    ax.plot([], [], color="#999999", lw=9, alpha=0.3, label="best on expected net benefit")
    ax.set_xlim(0, float(ceac_table["wtp"].max()))
    ax.set_ylim(-0.02, 1.02)
    ax.xaxis.set_major_formatter(money_formatter(currency))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # currency labels are wide: at most 6 ticks
    ax.yaxis.set_major_formatter(lambda y, _p: f"{y:.0%}")
    ax.set_xlabel("willingness to pay per QALY")
    ax.set_ylabel("probability cost-effective")
    ax.legend(frameon=False, loc="center right", fontsize=9)
    return fig


@styled
def evpi(curve: pd.DataFrame, wtp: float, currency: str) -> Figure | None:
    """EVPI per patient against the willingness to pay, from 0, WTP marked; ``None`` when it is zero at every
    WTP of the grid (the caller says so in a sentence)."""
    y = curve["evpi_per_patient"].to_numpy(float)
    if not np.nanmax(y) > NEGLIGIBLE:
        return None
    fig, ax = new_figure(6.0, 3.4)
    ax.plot(curve["wtp"], y, color="#0072B2", lw=2)
    ax.axvline(wtp, color="#333333", ls="--", lw=1)
    at = float(np.interp(wtp, curve["wtp"], y))
    ax.plot([wtp], [at], marker="o", color="#0072B2")
    ax.annotate(money(at, currency), (wtp, at), textcoords="offset points", xytext=(6, 6))
    ax.set_ylim(0, float(np.nanmax(y)) * 1.15)
    ax.set_xlim(0, float(curve["wtp"].max()))
    ax.xaxis.set_major_formatter(money_formatter(currency))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # currency labels are wide: at most 6 ticks
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_xlabel("willingness to pay per QALY")
    ax.set_ylabel("EVPI per patient")
    return fig


@styled
def evppi(table: pd.DataFrame, currency: str) -> Figure | None:
    """EVPPI per patient of each uncertain input (plain names, ± one standard error), largest first, with
    the EVPI for scale; ``None`` when every value is (about) zero."""
    if table is None or len(table) == 0 or not table["evppi"].max() > NEGLIGIBLE:
        return None
    t = table.sort_values("evppi", ascending=True)
    fig, ax = new_figure(6.0, 0.42 * len(t) + 1.4)
    y = np.arange(len(t))
    err = t["evppi_se"].to_numpy(float) if "evppi_se" in t else None
    ax.barh(y, t["evppi"], xerr=err, color="#0072B2", alpha=0.85, error_kw={"lw": 1, "capsize": 2})
    ax.set_yticks(y, [parameter_label(str(p)) for p in t["parameter"]])
    if "evpi" in t:
        ax.axvline(float(t["evpi"].iloc[0]), color="#D55E00", ls="--", lw=1.2, label="EVPI (all inputs)")
        ax.legend(frameon=False, loc="lower right", fontsize=9)
    ax.set_xlim(left=0)
    ax.xaxis.set_major_formatter(money_formatter(currency))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # currency labels are wide: at most 6 ticks
    ax.set_xlabel("EVPPI per patient (± standard error)")
    ax.grid(axis="y", visible=False)
    return fig


@styled
def tornado(table: pd.DataFrame, currency: str, focal: str, reference: str) -> Figure | None:
    """One-way sensitivity of the incremental NMB (focal vs reference): a bar per input from its low to its
    high value, labelled in plain words with the input values; the base case as a line and zero marked."""
    if table is None or len(table) == 0:
        return None
    t = table.iloc[::-1]
    fig, ax = new_figure(6.4, 0.5 * len(t) + 1.6)
    base = float(t["outcome_base"].iloc[0])
    y = np.arange(len(t))
    lo, hi = t["outcome_low"].to_numpy(float), t["outcome_high"].to_numpy(float)
    ax.barh(y, lo - base, left=base, color="#56B4E9", label="input at its low value")
    ax.barh(y, hi - base, left=base, color="#E69F00", label="input at its high value")
    labels = [
        f"{parameter_label(str(p))}\n{parameter_value(str(p), float(a), currency)} to "
        f"{parameter_value(str(p), float(b), currency)}"
        for p, a, b in zip(t["parameter"], t["low_value"], t["high_value"], strict=True)
    ]
    ax.set_yticks(y, labels, fontsize=9)
    ax.axvline(base, color="#333333", lw=1)
    ax.axvline(0, color="#D55E00", lw=1, ls=":", label="break-even (INMB = 0)")
    ax.xaxis.set_major_formatter(money_formatter(currency))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # currency labels are wide: at most 6 ticks
    ax.set_xlabel("incremental net monetary benefit per patient")
    ax.set_title(f"{focal} vs {reference}", fontsize=10, loc="left")
    ax.grid(axis="y", visible=False)
    fig.legend(frameon=False, loc="outside lower center", ncol=3, fontsize=8)
    return fig


@styled
def price_curves(
    table: pd.DataFrame, price: float, wtp: float, currency: str, value_based_price: float | None = None
) -> Figure:
    """Two panels against the course price: the ICER (probabilistic and deterministic; where QALYs are gained)
    with the WTP, and the probability of being cost-effective with its Monte Carlo 95 % interval; the price
    asked and the value-based price marked."""
    fig = Figure(figsize=(6.4, 5.6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    x = table["price"].to_numpy(float)
    if table[["icer_probabilistic", "icer_deterministic"]].isna().all().all():
        top.set_yticks([])
        top.set_ylabel("ICER per QALY")
        top.text(0.5, 0.5, "no ICER at any price: the new strategy gains no QALYs", transform=top.transAxes,
                 ha="center", va="center", fontsize=10, color="#555555")  # fmt: skip
    else:
        top.plot(x, table["icer_probabilistic"], color="#0072B2", lw=2, label="ICER, mean of the draws")
        top.plot(x, table["icer_deterministic"], color="#0072B2", lw=1.2, ls=":", label="ICER, base case")
        top.axhline(wtp, color="#333333", ls="--", lw=1, label=f"WTP {money(wtp, currency)}")
        top.yaxis.set_major_formatter(money_formatter(currency))
        top.set_ylabel("ICER per QALY")
        top.legend(frameon=False, fontsize=9, loc="upper left")
    bottom.fill_between(x, table["p_ce_lower"], table["p_ce_upper"], color="#009E73", alpha=0.25, lw=0)
    bottom.plot(x, table["p_cost_effective"], color="#009E73", lw=2)
    bottom.set_ylim(-0.02, 1.02)
    bottom.yaxis.set_major_formatter(lambda y, _p: f"{y:.0%}")
    bottom.set_ylabel("probability cost-effective")
    bottom.set_xlabel("MHT course price")
    bottom.xaxis.set_major_formatter(money_formatter(currency))
    bottom.xaxis.set_major_locator(MaxNLocator(nbins=5))
    for ax in (top, bottom):
        ax.axvline(price, color="#333333", lw=1)
        if value_based_price is not None and value_based_price > 0:
            ax.axvline(value_based_price, color="#D55E00", lw=1, ls="--")
    bottom.text(price, 1.0, " price asked", fontsize=9, va="top")
    if value_based_price is not None and value_based_price > 0:
        bottom.text(value_based_price, 0.05, " value-based price", fontsize=9, color="#D55E00", va="bottom")
    return fig


@styled
def subgroup_forest(table: pd.DataFrame, currency: str) -> Figure | None:
    """QALY gain per subgroup with its 95 % interval over the PSA draws (a forest plot), the value-based
    price written beside each; ``None`` when no subgroup was analysed."""
    done = table.dropna(subset=["qaly_gain"]) if "qaly_gain" in table else table.iloc[0:0]
    if done.empty:
        return None
    t = done.iloc[::-1]
    fig, ax = new_figure(6.4, 0.38 * len(t) + 1.4)
    y = np.arange(len(t))
    ax.errorbar(
        t["qaly_gain"],
        y,
        xerr=[t["qaly_gain"] - t["qaly_gain_low"], t["qaly_gain_high"] - t["qaly_gain"]],
        fmt="o",
        color="#0072B2",
        ecolor="#0072B2",
        capsize=3,
    )
    overall = table.iloc[0]
    if pd.notna(overall.get("qaly_gain")):
        ax.axvline(float(overall["qaly_gain"]), color="#999999", ls="--", lw=1)
    labels = [f"{c}: {s} (n={int(n)})" if c != "all eligible patients" else f"all (n={int(n)})" for c, s, n in zip(
        t["covariate"], t["subgroup"], t["n"], strict=True)]  # fmt: skip
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_xlabel("QALYs gained per patient (95 % interval over the PSA draws)")
    ax.grid(axis="y", visible=False)
    return fig


@styled
def comparison_plane(
    planes: Mapping[str, pd.DataFrame],
    points: Mapping[str, tuple[float, float]],
    wtp: float | Mapping[str, float],
    currency: str,
) -> Figure:
    """One cost-effectiveness plane for compared scenarios: each scenario's PSA draws (new vs its reference,
    ``inc_qalys``/``inc_cost``) in its colour, the mean of its draws (cross) and its base case (dot).

    ``wtp``: one willingness to pay [currency per QALY] for every scenario, or each scenario's own (label ->
    value); one threshold line per distinct value, labelled with the scenarios judged at it when they differ
    (scenarios of two jurisdictions may share a currency and not a threshold)."""
    fig, ax = new_figure(6.4, 4.6)
    q_all, c_all = [1e-3], [1.0]
    for i, (label, cloud) in enumerate(planes.items()):
        colour = SCENARIO_COLOURS[i % len(SCENARIO_COLOURS)]
        ax.scatter(cloud["inc_qalys"], cloud["inc_cost"], s=4, alpha=0.25, color=colour)
        ax.plot(cloud["inc_qalys"].mean(), cloud["inc_cost"].mean(), marker="X", color=colour, ms=10, mec="black",
                ls="none", label=label)  # fmt: skip
        if label in points:
            ax.plot(*points[label], marker="o", color=colour, ms=7, mec="white", ls="none")
        q_all.append(float(cloud["inc_qalys"].abs().max()))
        c_all.append(float(cloud["inc_cost"].abs().max()))
    span, c_span = max(q_all) * 1.3, max(c_all) * 1.3
    by_value: dict[float, list[str]] = {}
    for label in planes:
        by_value.setdefault(float(wtp[label] if isinstance(wtp, Mapping) else wtp), []).append(label)
    for k, (value, labels) in enumerate(sorted(by_value.items())):
        reach = max(span, c_span / max(value, 1e-9))
        who = "" if len(by_value) == 1 else f" ({', '.join(labels)})"
        ax.plot([-reach, reach], [-value * reach, value * reach], color="#333333", ls=("--", ":", "-.")[k % 3],
                lw=1.2, label=f"WTP {money(value, currency)}/QALY{who}")  # fmt: skip
    ax.axhline(0, color="black", lw=0.6)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlim(-span, span)
    ax.set_ylim(-c_span, c_span)
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_xlabel("QALYs gained vs each scenario's comparator")
    ax.set_ylabel("extra cost per patient")
    ax.plot([], [], marker="o", color="#999999", ls="none", label="base case (calibrated point)")
    ax.legend(frameon=False, loc="upper left", fontsize=8)
    return fig


def comparison_planes(runs: Sequence, headlines: Sequence) -> dict[str, Figure]:
    """One :func:`comparison_plane` per currency of the compared runs (``mhtcdt compare`` and the app's compare
    page): money is never plotted across currencies; within one, each scenario at its own willingness to pay.
    ``runs``: :class:`~mhtcdt.decision.run.compare.ScenarioRun`; ``headlines``: their headlines, in order."""
    from mhtcdt.decision.run.compare import currency_groups

    figs = {}
    for cur, members in currency_groups(runs).items():
        planes, points, wtps = {}, {}, {}
        for i in members:
            r, h = runs[i], headlines[i]
            cloud = r.psa.ce_plane()
            planes[r.label] = cloud[cloud["comparison"] == f"{r.psa.focal} vs {r.psa.reference}"]
            points[r.label] = (h.inc_qalys_deterministic, h.inc_cost_deterministic)
            wtps[r.label] = h.willingness_to_pay
        figs[cur] = comparison_plane(planes, points, wtps, cur)
    return figs
