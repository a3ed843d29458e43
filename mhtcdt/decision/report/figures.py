"""Matplotlib figures the app draws from the package's result DataFrames (presentation only).

Every function takes a DataFrame with the documented contract columns (or, for one patient's physics, a
:class:`mhtcdt.physics.PatientDetail`) and returns a ``matplotlib.figure.Figure``; nothing is computed
here beyond arranging the numbers to plot.
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
    """Heat kill and HSP level vs session spacing (``physics.thermotolerance_by_interval`` columns)."""
    fig, ax = _new(7.0, 3.6)
    t = table.sort_values("interval_hours")
    x = t["interval_hours"]
    ax.plot(x, t["log10_kill_heat_enhancing"], marker="o", color="#e45756", label="heat alone, heated volume")
    ax.plot(x, t["log10_kill_heat"], marker="s", color="#9c2a2a", label="heat, whole tumour (trial model)")
    ax.plot(x, t["log10_kill_total"], marker="^", color="#333333", label="all mechanisms, whole tumour")
    ax.axvline(current_hours, color="#888888", ls="--", lw=1, label=f"scenario: {current_hours:g} h")
    ax.set_xscale("log")
    ax.set_xticks(x, [f"{v:g}" for v in x])
    ax.minorticks_off()
    ax.set_xlabel("session spacing, start to start [h]")
    ax.set_ylabel("log10 cell kill")
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(x, t["hsp_peak"], color="#f58518", ls=":", marker=".", label="HSP level at a session start (max)")
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("heat-shock protein level (0–1)")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    return fig


# ---------------------------------------------------------------- one patient's physics (PatientDetail)
TUMOUR_EDGE = "#1f77b4"
DEPOSIT = "#ff7f0e"


def _boundaries(ax: plt.Axes, detail) -> None:
    ax.axvspan(0.0, detail.deposit_radius_mm, color=DEPOSIT, alpha=0.12, label="particle deposit")
    ax.axvline(detail.tumour_radius_mm, color=TUMOUR_EDGE, ls="--", lw=1, label="tumour edge")


def shell_label(detail, shell: int) -> str:
    """'shell at r = 3.2 mm' (shell centre radius) for widgets and legends."""
    return f"shell at r = {detail.shell_radius_mm[shell]:.1f} mm"


def temperature_history(detail, session: int, shells: list[int]) -> Figure:
    """Temperatures during one session of a ``physics.PatientDetail``: the chosen tumour shells, T90 and the
    hottest healthy tissue (tumour margin or beyond) vs minutes from the session start; applied field on
    the right axis."""
    fig, ax = _new(7.5, 3.9)
    sel = detail.session_of_sample == session
    t = detail.time_min[sel] - detail.time_min[sel][0]
    cmap = plt.get_cmap("plasma")
    n_shells = detail.shell_temperature_C.shape[1]
    for c in shells:  # dark (centre) to orange (edge); yellow is avoided (invisible on white)
        ax.plot(t, detail.shell_temperature_C[sel, c], color=cmap(0.75 * c / max(n_shells - 1, 1)), lw=1.6,
                label=shell_label(detail, c))  # fmt: skip
    ax.plot(t, detail.t90_history_C[sel], color="black", ls="--", lw=1.4, label="T90 of the tumour")
    ax.plot(t, detail.healthy_max_history_C[sel], color="#2ca02c", ls=":", lw=2.0,
            label="hottest healthy tissue (margin)")  # fmt: skip
    ax.axhline(43.0, color="#d62728", lw=0.8, alpha=0.5)
    ax.set_xlabel(f"minutes from the start of session {session + 1}")
    ax.set_ylabel("temperature [°C]")
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(t, detail.field_history_kA_per_m[sel], color="#7f7f7f", lw=1.0, alpha=0.7, label="applied field")
    ax2.set_ylabel("field amplitude [kA/m]")
    ax2.set_ylim(0, max(1.0, float(detail.field_history_kA_per_m.max())) * 1.1)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return fig


def radial_profile(detail, session: int) -> Figure:
    """Per-cell peak temperature of one session vs distance from the tumour centre, out to the radial
    solver's far boundary, with the field-off baseline."""
    fig, ax = _new(5.2, 3.9)
    r = detail.profile_radius_mm
    ax.plot(r, detail.profile_peak_C[session], marker=".", color="#d62728", label=f"peak, session {session + 1}")
    ax.plot(r, detail.profile_baseline_C, color="#7f7f7f", lw=1, label="field off")
    _boundaries(ax, detail)
    ax.set_xlim(0, float(detail.domain_radius_mm))
    ax.set_xlabel("distance from the tumour centre [mm]")
    ax.set_ylabel("temperature [°C]")
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    return fig


def midplane_map(detail) -> Figure:
    """3-D solver mid-plane (z = 0) temperature at the end of the first session's heating, with the tumour
    outline, the deposit outline and the 43 °C isotherm."""
    from matplotlib.patches import Circle

    fig, ax = _new(5.2, 4.3)
    x = detail.slice_axis_mm
    h = float(x[1] - x[0])
    extent = (x[0] - h / 2, x[-1] + h / 2, x[0] - h / 2, x[-1] + h / 2)
    temps = detail.slice_temperature_C.T  # rows = y
    im = ax.imshow(temps, origin="lower", extent=extent, cmap="inferno", interpolation="nearest")
    if temps.min() < 43.0 < temps.max():
        ax.contour(x, x, temps, levels=[43.0], colors="#00e5ff", linewidths=1.2, linestyles=":")
    ax.add_patch(Circle((0, 0), detail.tumour_radius_mm, fill=False, ec="#7CFC00", lw=1.5, label="tumour outline"))
    ax.add_patch(Circle((0, 0), detail.deposit_radius_mm, fill=False, ec=DEPOSIT, lw=1.2, ls="--",
                        label="particle deposit"))  # fmt: skip
    ax.plot([], [], color="#00e5ff", lw=1.2, ls=":", label="43 °C isotherm")
    view = 1.6 * detail.tumour_radius_mm  # the tumour and its surroundings (the grid spans 3 radii)
    ax.set_xlim(-view, view)
    ax.set_ylim(-view, view)
    ax.set_xlabel("x [mm]")
    ax.set_ylabel("y [mm]")
    ax.set_aspect("equal")
    fig.colorbar(im, ax=ax, label="temperature, end of heating [°C]")
    fig.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return fig


def cem43_over_time(detail) -> Figure:
    """Left: CEM43 at T90 accumulated over the sessions; right: CEM43 per tumour shell after all sessions."""
    fig = Figure(figsize=(8.0, 3.4), layout="constrained")
    ax, bx = fig.subplots(1, 2, width_ratios=[3, 2])
    hours = detail.time_min / 60.0
    ax.plot(hours, detail.cem43_t90_cumulative_min, color="#e45756")
    for start in detail.sessions["start_min"]:
        ax.axvline(start / 60.0, color="#bbbbbb", lw=0.8, zorder=0)
    ax.set_xlabel("hours from the first session start (grey: session starts)")
    ax.set_ylabel("CEM43 at T90 [min]")
    ax.grid(alpha=0.3)
    bx.bar(detail.shell_radius_mm, np.maximum(detail.cem43_per_shell_min, 1e-6),
           width=0.8 * np.diff(np.r_[0.0, detail.shell_outer_radius_mm]), color="#e45756")  # fmt: skip
    bx.set_yscale("log")
    _boundaries(bx, detail)
    bx.set_xlim(0, detail.tumour_radius_mm * 1.05)
    bx.set_xlabel("shell radius [mm]")
    bx.set_ylabel("CEM43, all sessions [min]")
    bx.legend(fontsize=7, frameon=False)
    return fig


def chemistry_over_time(detail) -> Figure:
    """Quasi-steady [.OH] and GSH vs time from the first session start, one line per chemistry group;
    a group whose cells are all killed stops (x). Hours when everything stops within 3 days, else days."""
    fig = Figure(figsize=(8.0, 3.4), layout="constrained")
    ax, bx = fig.subplots(1, 2, sharex=True)
    stops = np.asarray(detail.chemistry_stop_min, dtype=float)
    end_min = float(detail.chemistry_time_min[-1])
    if stops.size and np.all(np.isfinite(stops)):
        end_min = min(end_min, 1.15 * float(stops.max()))
    unit, per = ("hours", 60.0) if end_min < 3 * 1440.0 else ("days", 1440.0)
    x = detail.chemistry_time_min / per
    cmap = plt.get_cmap("viridis")
    n = len(detail.chemistry_group_label)
    for g, label in enumerate(detail.chemistry_group_label):
        colour = cmap(0.8 * g / max(n - 1, 1))
        oh, gsh = detail.oh_nM[g] * 1e-9, detail.gsh_mM[g]
        ax.plot(x, oh, color=colour, lw=1.2, label=label)
        bx.plot(x, gsh, color=colour, lw=1.2)
        if np.isfinite(stops[g]):
            alive = np.isfinite(gsh)
            ax.plot([x[alive][-1]], [oh[alive][-1]], marker="x", color=colour, ms=8)
            bx.plot([x[alive][-1]], [gsh[alive][-1]], marker="x", color=colour, ms=8)
    for axis in (ax, bx):
        for start in detail.sessions["start_min"]:
            if start <= end_min:
                axis.axvline(start / per, color="#bbbbbb", lw=0.8, zorder=0)
        axis.set_xlim(0, end_min / per)
        axis.set_xlabel(f"{unit} from the first session start")
        axis.grid(alpha=0.3)
    ax.set_yscale("log")
    ax.set_ylabel("[·OH] (quasi-steady) [mol/L]")
    bx.ticklabel_format(axis="y", useOffset=False)
    bx.set_ylabel("GSH [mM]")
    fig.legend(loc="outside lower center", ncols=min(n, 3), fontsize=8, frameon=False)
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
