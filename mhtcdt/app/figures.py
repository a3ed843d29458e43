"""Matplotlib figures the app draws from the package's result DataFrames (presentation only).

Every function takes a DataFrame with the documented contract columns and returns a
``matplotlib.figure.Figure``; nothing is computed here beyond arranging the numbers to plot.
The ``Agg`` backend is used (no display; safe in Streamlit's script threads).
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

ARM_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def _new(width: float = 7.0, height: float = 4.0) -> tuple[Figure, plt.Axes]:
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def consort_funnel(flow: pd.DataFrame) -> Figure:
    """Horizontal bars of patients remaining after each step of a CONSORT flow (contract section 1)."""
    fig, ax = _new(7.0, 0.55 * len(flow) + 1.2)
    labels = [str(c) for c in flow["criterion"]]
    remaining = flow["remaining"].to_numpy()
    y = np.arange(len(flow))[::-1]
    ax.barh(y, remaining, color="#4c78a8")
    excluded = flow["excluded"].to_numpy()
    ax.barh(y, excluded, left=remaining, color="#e45756", alpha=0.55, label="excluded at this step")
    for yi, r, e in zip(y, remaining, excluded, strict=True):
        ax.text(r, yi, f" {r:,}" + (f"  (−{e:,})" if e else ""), va="center", fontsize=9)
    ax.set_yticks(y, labels)
    ax.set_xlabel("patients")
    ax.set_xlim(0, max(1, int(flow["n_before"].max())) * 1.25)
    fig.legend(loc="outside lower center", fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def covariate_distribution(screened: pd.DataFrame, eligible: pd.DataFrame, column: str, label: str) -> Figure:
    """Screened vs eligible distribution of one covariate: histogram (numeric) or bar chart (categorical)."""
    fig, ax = _new(6.0, 3.4)
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
    ax.legend(fontsize=8, frameon=False)
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


def kaplan_meier(curves: pd.DataFrame, endpoint: str, at_risk: pd.DataFrame | None = None) -> Figure:
    """Kaplan-Meier step curves per arm with 95% bands (contract section 4) and, if given, a
    numbers-at-risk table (:func:`numbers_at_risk`) under the time axis."""
    data = curves[curves["endpoint"] == endpoint]
    arms = list(dict.fromkeys(data["arm"]))
    fig = Figure(figsize=(8.0, 5.2), layout="constrained")
    gs = fig.add_gridspec(2, 1, height_ratios=[4, 0.35 + 0.28 * len(arms)])
    ax = fig.add_subplot(gs[0])
    tab = fig.add_subplot(gs[1], sharex=ax)
    t_max = float(data["time_months"].max()) if len(data) else 1.0
    for i, arm in enumerate(arms):
        d = data[data["arm"] == arm].sort_values("time_months", kind="stable")
        colour = ARM_COLOURS[i % len(ARM_COLOURS)]
        ax.step(d["time_months"], d["survival"], where="post", color=colour, label=arm, lw=2)
        ax.fill_between(d["time_months"], d["ci_lower"], d["ci_upper"], step="post", color=colour, alpha=0.18)
        if at_risk is not None and arm in at_risk.index:
            for t, n in zip(at_risk.columns, at_risk.loc[arm], strict=True):
                tab.text(float(t), len(arms) - 1 - i, f"{n}", ha="center", va="center", fontsize=8, color=colour)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(f"{endpoint}: probability")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="upper right")
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelbottom=False)
    tab.set_ylim(-0.6, len(arms) - 0.4)
    tab.set_yticks(range(len(arms)), arms[::-1], fontsize=8)
    tab.set_xlabel("months since randomisation")
    tab.set_title("numbers at risk", fontsize=8, loc="left")
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


def ce_plane(per_strategy: pd.DataFrame, reference: str, wtp: float, currency: str) -> Figure:
    """Incremental cost vs incremental QALYs of each strategy against ``reference`` (contract section 5),
    with the willingness-to-pay line through the origin."""
    fig, ax = _new(6.0, 4.2)
    per = per_strategy.set_index("strategy")
    dq = per["qalys"] - per.at[reference, "qalys"]
    dc = per["cost"] - per.at[reference, "cost"]
    for i, name in enumerate(per.index):
        ax.scatter(dq[name], dc[name], s=60, color=ARM_COLOURS[i % len(ARM_COLOURS)], zorder=3, label=name)
    span = max(float(dq.abs().max()), 1e-3) * 1.6
    xs = np.array([-span, span])
    ax.plot(xs, wtp * xs, color="#555555", lw=1, ls="--", label=f"WTP {currency} {wtp:,.0f}/QALY")
    ax.axhline(0, color="black", lw=0.6)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlim(-span, span)
    c_span = max(float(dc.abs().max()), 1.0) * 1.6
    ax.set_ylim(-c_span, c_span)
    ax.set_xlabel(f"incremental QALYs vs {reference}")
    ax.set_ylabel(f"incremental cost [{currency}]")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.grid(alpha=0.3)
    return fig


MECHANISMS = (
    ("log10_kill_rt", "radiotherapy", "#4c78a8"),
    ("log10_kill_heat", "heat", "#e45756"),
    ("log10_kill_cdt", "chemodynamic (·OH, ferroptosis)", "#54a24b"),
    ("log10_kill_interaction", "interaction", "#b279a2"),
)


def kill_by_mechanism(outcome: pd.Series) -> Figure:
    """Stacked bar of one patient's tumour log10 kill by mechanism (physics contract columns)."""
    fig, ax = _new(6.0, 2.4)
    left = 0.0
    for col, label, colour in MECHANISMS:
        v = float(outcome[col])
        ax.barh([0], [v], left=left, color=colour, label=f"{label}: {v:.2f}")
        left += v
    ax.set_yticks([])
    ax.set_xlabel("tumour log10 cell kill")
    ax.set_xlim(0, max(left, 0.1) * 1.05)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    ax.spines[["top", "right", "left"]].set_visible(False)
    return fig


def kill_versus_spacing(table: pd.DataFrame, current_hours: float) -> Figure:
    """Heat and total log10 kill vs session spacing (rows of simulate_protocol + session_interval_hours)."""
    fig, ax = _new(7.0, 3.4)
    t = table.sort_values("session_interval_hours")
    ax.plot(t["session_interval_hours"], t["log10_kill_heat"], marker="o", color="#e45756", label="heat")
    ax.plot(t["session_interval_hours"], t["log10_kill_total"], marker="s", color="#333333", label="total")
    ax.axvline(current_hours, color="#888888", ls="--", lw=1, label=f"scenario: {current_hours:g} h")
    ax.set_xlabel("session spacing, start to start [h]")
    ax.set_ylabel("tumour log10 kill")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return fig


def power_curve(table: pd.DataFrame, trial_n: int | None = None, target: float = 0.8) -> Figure:
    """Simulated power vs total sample size with its 95 % (Wilson) band; dashed: the target power and
    the size of the scenario's trial."""
    fig, ax = _new(7.0, 3.6)
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
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return fig
