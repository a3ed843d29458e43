"""Figures of a run, for both front ends (the app's pages and ``mhtcdt run --report``).

Every function takes DataFrames with the documented contract columns and returns a
``matplotlib.figure.Figure``; nothing is computed here beyond arranging the numbers to plot.
Figures are built with the object-oriented API (``Figure``, no pyplot state), so they are safe in
Streamlit's script threads and need no display backend. :func:`result_figures` names every figure of a
run (and of its PSA) for downloads and the run folder; :func:`to_bytes` renders PNG or SVG.
One patient's physics: :mod:`mhtcdt.decision.report.patient_figures`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mhtcdt.decision.report.criteria_text import readable_criterion
from mhtcdt.decision.report.palette import colour_of, styled


def new_figure(width: float = 7.0, height: float = 4.0) -> tuple[Figure, Axes]:
    """A constrained-layout figure of ``width`` x ``height`` inches with one axes."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


@styled
def consort_funnel(flow: pd.DataFrame) -> Figure:
    """Horizontal bars of patients remaining after each step of a CONSORT flow (contract section 1), each
    labelled by its criterion in words (:func:`mhtcdt.decision.report.criteria_text.readable_criterion`)."""
    fig, ax = new_figure(7.0, 0.55 * len(flow) + 1.2)
    labels = [
        str(c) if int(step) == 0 else readable_criterion(str(c))
        for step, c in zip(flow["step"], flow["criterion"], strict=True)
    ]
    remaining = flow["remaining"].to_numpy()
    y = np.arange(len(flow))[::-1]
    ax.barh(y, remaining, color="#4c78a8")
    excluded = flow["excluded"].to_numpy()
    ax.barh(y, excluded, left=remaining, color="#e45756", alpha=0.55, label="excluded at this step")
    for yi, r, e in zip(y, remaining, excluded, strict=True):
        ax.text(r, yi, f" {r:,}" + (f"  (−{e:,})" if e else ""), va="center", fontsize=10)
    ax.set_yticks(y, labels)
    ax.set_xlabel("patients")
    ax.set_xlim(0, max(1, int(flow["n_before"].max())) * 1.25)
    fig.legend(loc="outside lower center", fontsize=10, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


@styled
def covariate_distribution(screened: pd.DataFrame, eligible: pd.DataFrame, column: str, label: str) -> Figure:
    """Screened vs eligible distribution of one covariate: histogram (numeric) or bar chart (categorical)."""
    fig, ax = new_figure(6.0, 3.4)
    s, e = screened[column], eligible[column]
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) and s.nunique() > 12:
        bins = np.histogram_bin_edges(s.dropna(), bins=30)
        ax.hist(s.dropna(), bins=bins, color="#bbbbbb", label=f"screened (n={len(s):,})")
        ax.hist(e.dropna(), bins=bins, color="#4c78a8", alpha=0.85, label=f"eligible (n={len(e):,})")
        ax.set_ylabel("patients")
    else:
        levels = sorted(pd.unique(s.dropna()), key=str)
        x = np.arange(len(levels))
        ps = [float((s == lv).mean()) for lv in levels]
        pe = [float((e == lv).mean()) if len(e) else 0.0 for lv in levels]
        ax.bar(x - 0.2, ps, 0.4, color="#bbbbbb", label=f"screened (n={len(s):,})")
        ax.bar(x + 0.2, pe, 0.4, color="#4c78a8", label=f"eligible (n={len(e):,})")
        ax.set_xticks(x, [str(lv) for lv in levels])
        ax.set_ylabel("proportion")
    ax.set_xlabel(label)
    ax.legend(fontsize=10, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def numbers_at_risk(trial: pd.DataFrame, endpoint: str, times: list[float]) -> pd.DataFrame:
    """Patients still followed (observed time >= t) per arm at each time t; rows arms, columns times."""
    col = f"{endpoint.lower()}_months"
    arms = list(dict.fromkeys(trial["arm"]))
    rows = {arm: [int((trial.loc[trial["arm"] == arm, col] >= t).sum()) for t in times] for arm in arms}
    return pd.DataFrame.from_dict(rows, orient="index", columns=[f"{t:g}" for t in times])


def at_risk_times(curves: pd.DataFrame, endpoint: str) -> list[float]:
    """Evenly spaced times (every 3 or 6 months) covering a curve's follow-up."""
    data = curves[curves["endpoint"] == endpoint]
    t_max = float(data["time_months"].max()) if len(data) else 1.0
    step = 6.0 if t_max > 30 else 3.0
    return [float(t) for t in np.arange(0.0, t_max + 1e-9, step)]


@styled
def kaplan_meier(
    curves: pd.DataFrame, endpoint: str, at_risk: pd.DataFrame | None = None, colours: dict[str, str] | None = None
) -> Figure:
    """Kaplan-Meier step curves per arm with 95% bands (contract section 4) and, if given, a
    numbers-at-risk table (:func:`numbers_at_risk`) under the time axis. ``colours``: arm -> colour
    (:func:`mhtcdt.decision.report.palette.arm_palette`, the same on every page)."""
    data = curves[curves["endpoint"] == endpoint]
    arms = list(colours) if colours else []
    arms = [a for a in arms if a in set(data["arm"])] + [a for a in dict.fromkeys(data["arm"]) if a not in arms]
    fig = Figure(figsize=(8.0, 5.2), layout="constrained")
    gs = fig.add_gridspec(2, 1, height_ratios=[4, 0.35 + 0.28 * len(arms)])
    ax = fig.add_subplot(gs[0])
    tab = fig.add_subplot(gs[1], sharex=ax)
    t_max = float(data["time_months"].max()) if len(data) else 1.0
    for i, arm in enumerate(arms):
        d = data[data["arm"] == arm].sort_values("time_months", kind="stable")
        colour = colour_of(arm, colours, i)
        ax.step(d["time_months"], d["survival"], where="post", color=colour, label=arm, lw=2)
        ax.fill_between(d["time_months"], d["ci_lower"], d["ci_upper"], step="post", color=colour, alpha=0.18)
        if at_risk is not None and arm in at_risk.index:
            for t, n in zip(at_risk.columns, at_risk.loc[arm], strict=True):
                tab.text(float(t), len(arms) - 1 - i, f"{n}", ha="center", va="center", fontsize=10, color=colour)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(f"{endpoint}: probability")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="upper right")
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelbottom=False)
    tab.set_ylim(-0.6, len(arms) - 0.4)
    tab.set_yticks(range(len(arms)), arms[::-1], fontsize=10)
    tab.set_xlabel("months since randomisation")
    tab.set_title("numbers at risk", fontsize=10, loc="left")
    if at_risk is not None:
        tab.set_xticks([float(t) for t in at_risk.columns])
    tab.set_xlim(0, t_max * 1.02)
    for side in ("top", "right", "left"):
        tab.spines[side].set_visible(False)
    tab.tick_params(axis="y", length=0, pad=18)  # keep arm names clear of the numbers at t = 0
    return fig


def to_bytes(fig: Figure, fmt: str = "png", dpi: int = 150) -> bytes:
    """Render a figure to PNG or SVG bytes (constrained layout: long tick labels are not cut off)."""
    fig.set_layout_engine("constrained")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    return buf.getvalue()


@styled
def ce_plane(
    per_strategy: pd.DataFrame,
    reference: str,
    wtp: float,
    currency: str,
    psa_plane: pd.DataFrame | None = None,
    colours: dict[str, str] | None = None,
) -> Figure:
    """The cost-effectiveness plane: incremental cost vs incremental QALYs of each strategy against
    ``reference`` (per-strategy ``strategy``, ``cost``, ``qalys``: contract section 5), with the
    willingness-to-pay line through the origin.

    With ``psa_plane`` (one row per draw and comparison: ``comparison`` "B vs A", ``inc_cost``,
    ``inc_qalys``; :meth:`mhtcdt.decision.model.psa.PSAResult.ce_plane`) every PSA draw is a dot in its
    strategy's colour and the mean of the draws a black cross. The willingness-to-pay line crosses the
    whole plot (below it: cost-effective). ``colours``: arm -> colour (the palette of every page).
    """
    fig, ax = new_figure(6.0, 4.4)
    per = per_strategy.set_index("strategy")
    dq = per["qalys"] - per.at[reference, "qalys"]
    dc = per["cost"] - per.at[reference, "cost"]
    q_all, c_all = [dq.abs().max()], [dc.abs().max()]
    for i, name in enumerate(per.index):
        colour = colour_of(name, colours, i)
        if psa_plane is not None:
            cloud = psa_plane[psa_plane["comparison"] == f"{name} vs {reference}"]
            if len(cloud):
                ax.scatter(cloud["inc_qalys"], cloud["inc_cost"], s=4, alpha=0.3, color=colour, zorder=2)
                ax.plot(
                    cloud["inc_qalys"].mean(),
                    cloud["inc_cost"].mean(),
                    marker="X",
                    color="black",
                    markersize=8,
                    ls="none",
                    zorder=4,
                )
                q_all.append(cloud["inc_qalys"].abs().max())
                c_all.append(cloud["inc_cost"].abs().max())
        ax.scatter(dq[name], dc[name], s=60, color=colour, edgecolor="white", zorder=3, label=name)
    if psa_plane is not None:
        ax.plot([], [], marker="X", color="black", ls="none", label="mean of the PSA draws")
    span = max(float(max(q_all)), 1e-3) * 1.3
    c_span = max(float(max(c_all)), 1.0) * 1.3
    ax.set_xlim(-span, span)
    ax.set_ylim(-c_span, c_span)
    # the WTP line through the origin, drawn across the whole visible plane (clipped by the axes)
    reach = max(span, c_span / max(wtp, 1e-9))
    xs = np.array([-reach, reach])
    ax.plot(xs, wtp * xs, color="#333333", lw=1.2, ls="--", label=f"WTP {currency} {wtp:,.0f}/QALY")
    ax.axhline(0, color="black", lw=0.6)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlim(-span, span)
    ax.set_ylim(-c_span, c_span)
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_xlabel(f"QALYs gained vs {reference}")
    ax.set_ylabel("extra cost per patient")
    ax.text(
        0.98, 0.02, "below the line: cost-effective", transform=ax.transAxes, ha="right", va="bottom", fontsize=9,
        color="#333333",
    )  # fmt: skip
    ax.legend(frameon=False, loc="best", fontsize=9)  # a fixed corner can hide a strategy's point
    return fig


def money_formatter(currency: str):
    """Axis tick labels in currency with thousands (k) and millions (M), never e-notation."""
    from matplotlib.ticker import FuncFormatter

    def fmt(x: float, _pos: int) -> str:
        a = abs(x)
        sign = "−" if x < 0 else ""
        if a >= 1e6:
            return f"{sign}{currency} {a / 1e6:,.1f}M".replace(".0M", "M")
        if a >= 1e3:
            k = a / 1e3
            digits = 1 if k < 10 and abs(k - round(k)) > 1e-9 else 0  # GBP 1.5k, not a second "GBP 2k"
            return f"{sign}{currency} {k:,.{digits}f}k"
        return f"{sign}{currency} {a:,.0f}"

    return FuncFormatter(fmt)


@styled
def power_curve(table: pd.DataFrame, trial_n: int | None = None, target: float = 0.8) -> Figure:
    """Simulated power vs total sample size with its 95 % (Wilson) band; dashed: the target power and
    the size of the scenario's trial."""
    fig, ax = new_figure(7.0, 3.6)
    ax.fill_between(
        table["n_patients"],
        table["power_ci_lower"],
        table["power_ci_upper"],
        color="#4c78a8",
        alpha=0.2,
        label="95% CI (replicates)",
    )
    ax.plot(table["n_patients"], table["power"], marker="o", color="#4c78a8", label="simulated power")
    ax.axhline(target, color="#888888", ls="--", lw=1, label=f"{target:.0%} power")
    if trial_n:
        ax.axvline(trial_n, color="#d62728", ls=":", lw=1.2, label=f"this trial: {trial_n} patients")
    ax.set_ylim(0, 1)
    ax.set_xlabel("patients randomised (total)")
    ax.set_ylabel("power")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=10, frameon=False, loc="best")  # the curve rises from 0.05: no fixed corner stays free
    return fig


def result_figures(result: Any, psa: Any | None = None) -> dict[str, Callable[[], Figure | None]]:
    """Name -> function drawing the figure (drawn only when asked for) of a pipeline result and, if
    given, its PSA result: the names of the files ``mhtcdt run --report`` writes and the app offers.
    Every figure uses the scenario's arm palette; a value-of-information figure that would be flat at zero
    is not offered (its sentence is in the report)."""
    from mhtcdt.decision.model import price
    from mhtcdt.decision.report import decision_figures as dfig
    from mhtcdt.decision.report.palette import scenario_palette

    sc = result.scenario
    reference, wtp, currency = sc.trial.reference_arm, sc.economics.willingness_to_pay, sc.economics.currency
    colours = scenario_palette(sc)

    def km(endpoint: str) -> Callable[[], Figure]:
        def draw() -> Figure:
            times = at_risk_times(result.curves, endpoint)
            return kaplan_meier(result.curves, endpoint, numbers_at_risk(result.trial, endpoint, times), colours)

        return draw

    out: dict[str, Callable[[], Figure | None]] = {
        "kaplan_meier_os": km("OS"),
        "kaplan_meier_pfs": km("PFS"),
        "consort_funnel": lambda: consort_funnel(result.flow),
        "ce_plane": lambda: ce_plane(result.economics, reference, wtp, currency, colours=colours),
    }
    if psa is not None:
        cur, w = psa.currency, psa.willingness_to_pay
        out.update(
            ce_plane_psa=lambda: ce_plane(psa.point, psa.reference, w, cur, psa.ce_plane(), colours),
            ceac=lambda: dfig.ceac(psa.ceac, w, cur, colours),
        )
        if psa.evpi["evpi_per_patient"].max() > dfig.NEGLIGIBLE:
            out["evpi"] = lambda: dfig.evpi(psa.evpi, w, cur)
        if len(psa.evppi) and psa.evppi["evppi"].max() > dfig.NEGLIGIBLE:
            out["evppi"] = lambda: dfig.evppi(psa.evppi, cur)
        if len(psa.tornado):
            out["tornado"] = lambda: dfig.tornado(psa.tornado, cur, psa.focal, psa.reference)
        if psa.value_based_price is not None:
            out["price"] = lambda: dfig.price_curves(
                price.price_table(result, psa), sc.economics.costs.mht_course, w, cur, psa.value_based_price
            )
    return out
