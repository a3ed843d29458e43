"""Figures of one virtual patient's treatment physics (the app's Treatment physics page).

Every function takes the physics layer's own outputs (a row of :func:`mhtcdt.physics.simulate_protocol`,
:func:`mhtcdt.physics.thermotolerance_by_interval`, or a :class:`mhtcdt.physics.PatientDetail`) and
returns a ``matplotlib.figure.Figure``; nothing is computed here beyond arranging the numbers to plot.
Run-level figures (KM, CONSORT, CE plane, power) are in :mod:`mhtcdt.decision.report.figures`.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mhtcdt.decision.report.figures import new_figure

MECHANISMS = (
    ("log10_kill_rt", "radiotherapy", "#4c78a8"),
    ("log10_kill_heat", "heat", "#e45756"),
    ("log10_kill_cdt", "chemodynamic (·OH, ferroptosis)", "#54a24b"),
    ("log10_kill_interaction", "interaction", "#b279a2"),
)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(value: float, _position=None) -> str:
    """A log-axis tick as plain text, ``10⁸`` or ``10⁻²¹`` (matplotlib's default, ``$\\mathdefault{10^{8}}$``,
    needs mathtext, which the app turns off so that a '$' in a scenario's names is a dollar sign)."""
    if not np.isfinite(value) or value <= 0:
        return ""
    exponent = np.log10(value)
    if abs(exponent - round(exponent)) > 1e-9:
        return ""
    return "10" + str(int(round(exponent))).translate(_SUPERSCRIPT)


def _plain_log_ticks(axis) -> None:
    """Decade ticks labelled by :func:`power_of_ten` and no minor labels on a log-scaled ``axis``."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(power_of_ten))
    axis.set_minor_formatter(NullFormatter())


def kill_by_mechanism(outcome: pd.Series) -> Figure:
    """Stacked bar of one patient's tumour log10 kill by mechanism (physics contract columns)."""
    fig, ax = new_figure(6.0, 2.4)
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
    fig, ax = new_figure(7.0, 3.6)
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


def _boundaries(ax: Axes, detail) -> None:
    ax.axvspan(0.0, detail.deposit_radius_mm, color=DEPOSIT, alpha=0.12, label="particle deposit")
    ax.axvline(detail.tumour_radius_mm, color=TUMOUR_EDGE, ls="--", lw=1, label="tumour edge")


def shell_label(detail, shell: int) -> str:
    """'shell at r = 3.2 mm' (shell centre radius) for widgets and legends."""
    return f"shell at r = {detail.shell_radius_mm[shell]:.1f} mm"


def temperature_history(detail, session: int, shells: list[int]) -> Figure:
    """Temperatures during one session of a ``physics.PatientDetail``: the chosen tumour shells, T90 and the
    hottest healthy tissue (tumour margin or beyond) vs minutes from the session start; applied field on
    the right axis."""
    fig, ax = new_figure(7.5, 3.9)
    sel = detail.session_of_sample == session
    t = detail.time_min[sel] - detail.time_min[sel][0]
    cmap = matplotlib.colormaps["plasma"]
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
    fig, ax = new_figure(5.2, 3.9)
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

    fig, ax = new_figure(5.2, 4.3)
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
    _plain_log_ticks(bx.yaxis)
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
    cmap = matplotlib.colormaps["viridis"]
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
    _plain_log_ticks(ax.yaxis)
    ax.set_ylabel("[·OH] (quasi-steady) [mol/L]")
    bx.ticklabel_format(axis="y", useOffset=False)
    bx.set_ylabel("GSH [mM]")
    fig.legend(loc="outside lower center", ncols=min(n, 3), fontsize=8, frameon=False)
    return fig
