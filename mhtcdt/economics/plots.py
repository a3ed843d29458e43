"""Matplotlib figures of the economic results (object-oriented API, no pyplot global state, so
they are safe in the Streamlit app and in report generation).  Every function returns a
``matplotlib.figure.Figure``; inputs are the DataFrames documented in the other modules.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from mhtcdt.errors import InputError


def _need(df: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(name, list(df.columns), f"missing column(s) {missing}")


def ce_plane_figure(plane: pd.DataFrame, wtp: float | None = None, *, currency: str = "") -> Figure:
    """Scatter of incremental cost vs incremental QALYs per comparison (``nmb.ce_plane`` output),
    with the willingness-to-pay line through the origin if given."""
    _need(plane, ["comparison", "inc_cost", "inc_qalys"], "plane")
    fig = Figure(figsize=(6.4, 4.8))
    ax = fig.add_subplot()
    for comp, grp in plane.groupby("comparison", sort=False):
        ax.scatter(grp["inc_qalys"], grp["inc_cost"], s=4, alpha=0.35, label=str(comp))
        ax.plot(grp["inc_qalys"].mean(), grp["inc_cost"].mean(), marker="X", color="black", markersize=8)
    if wtp is not None:
        x = np.array(ax.get_xlim())
        ax.plot(x, wtp * x, color="grey", linestyle="--", label=f"WTP {wtp:,.0f} {currency}/QALY".strip())
    ax.axhline(0, color="black", linewidth=0.6)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel("Incremental QALYs")
    ax.set_ylabel(f"Incremental cost {currency}".strip())
    ax.set_title("Cost-effectiveness plane")
    ax.legend(loc="best", fontsize="small")
    return fig


def ceac_figure(ceac_table: pd.DataFrame, *, currency: str = "", show_frontier: bool = True) -> Figure:
    """CEAC lines per strategy (``nmb.ceac`` output); the CEAF drawn as thick markers if asked."""
    _need(ceac_table, ["wtp", "strategy", "probability", "optimal"], "ceac_table")
    fig = Figure(figsize=(6.4, 4.8))
    ax = fig.add_subplot()
    for strat, grp in ceac_table.groupby("strategy", sort=False):
        ax.plot(grp["wtp"], grp["probability"], label=str(strat))
    if show_frontier:
        front = ceac_table[ceac_table["optimal"]]
        ax.plot(
            front["wtp"],
            front["probability"],
            linestyle="none",
            marker="o",
            markersize=4,
            color="black",
            label="frontier (CEAF)",
        )
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"Willingness to pay per QALY {currency}".strip())
    ax.set_ylabel("Probability cost-effective")
    ax.set_title("Cost-effectiveness acceptability")
    ax.legend(loc="best", fontsize="small")
    return fig


def tornado_figure(tornado: pd.DataFrame, *, outcome_label: str = "Outcome") -> Figure:
    """Horizontal bars from the outcome at the low to the high value (``dsa.one_way_dsa`` output)."""
    _need(tornado, ["parameter", "outcome_low", "outcome_high", "outcome_base"], "tornado")
    fig = Figure(figsize=(6.4, 0.4 * len(tornado) + 1.5))
    ax = fig.add_subplot()
    y = np.arange(len(tornado))[::-1]
    base = float(tornado["outcome_base"].iloc[0])
    lo = tornado["outcome_low"].to_numpy(float)
    hi = tornado["outcome_high"].to_numpy(float)
    ax.barh(y, lo - base, left=base, color="tab:blue", label="low value")
    ax.barh(y, hi - base, left=base, color="tab:orange", label="high value")
    ax.axvline(base, color="black", linewidth=0.8)
    ax.set_yticks(y, tornado["parameter"].astype(str))
    ax.set_xlabel(outcome_label)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # wide money values: few ticks, thousands separators
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_title("One-way sensitivity analysis")
    ax.legend(loc="best", fontsize="small")
    return fig


def evpi_figure(curve: pd.DataFrame, *, population: bool = False, currency: str = "") -> Figure:
    """EVPI against willingness to pay (``voi.evpi_curve`` output)."""
    col = "evpi_population" if population else "evpi_per_patient"
    _need(curve, ["wtp", col], "curve")
    fig = Figure(figsize=(6.4, 4.8))
    ax = fig.add_subplot()
    ax.plot(curve["wtp"], curve[col])
    ax.set_xlabel(f"Willingness to pay per QALY {currency}".strip())
    ax.set_ylabel(f"EVPI {'(population)' if population else 'per patient'} {currency}".strip())
    ax.set_title("Expected value of perfect information")
    return fig


def occupancy_figure(
    time: np.ndarray,
    occupancy: np.ndarray,
    states: Sequence[str],
    *,
    time_label: str = "Time (months)",
    title: str = "State occupancy",
) -> Figure:
    """Stacked area of state occupancy (T,) x (T, S) -- a Markov trace or PSM partition."""
    t = np.asarray(time, dtype=float)
    occ = np.asarray(occupancy, dtype=float)
    if occ.shape != (t.size, len(states)):
        raise InputError("occupancy", occ.shape, f"needs shape ({t.size}, {len(states)})")
    fig = Figure(figsize=(6.4, 4.8))
    ax = fig.add_subplot()
    ax.stackplot(t, occ.T, labels=list(states), alpha=0.85)
    ax.set_xlim(t[0], t[-1])
    ax.set_ylim(0, 1)
    ax.set_xlabel(time_label)
    ax.set_ylabel("Proportion of cohort")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize="small")
    return fig


def trace_figure(trace: pd.DataFrame, *, title: str = "Markov trace") -> Figure:
    """Markov trace from ``MarkovResult.trace_frame`` (columns cycle, time_years, state, proportion)."""
    _need(trace, ["time_years", "state", "proportion"], "trace")
    wide = trace.pivot_table(index="time_years", columns="state", values="proportion", sort=False)
    return occupancy_figure(
        wide.index.to_numpy(), wide.to_numpy(), list(wide.columns), time_label="Time (years)", title=title
    )
