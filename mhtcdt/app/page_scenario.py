"""Scenario page: pick a preset or upload a TOML file, edit the key assumptions, download the result.

Edits are re-validated by the scenario schema (:func:`mhtcdt.decision.scenario.loading.parse_scenario`)
and the cross-layer checks (:func:`mhtcdt.decision.scenario.checks.scenario_problems`); an invalid edit is
shown in the page and the last valid scenario stays in use.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pandas as pd
import streamlit as st

from mhtcdt.app import state
from mhtcdt.app.limits import scenario_limits
from mhtcdt.app.text import md
from mhtcdt.app.widgets import number_field
from mhtcdt.decision.report.labels import parameter_label_with_unit
from mhtcdt.decision.scenario.loading import bundled_scenarios, parse_scenario, parse_scenario_text, scenario_text
from mhtcdt.decision.scenario.reference_case import reference_case, reference_case_notes
from mhtcdt.decision.scenario.schema import (
    ArmSpec,
    CohortSpec,
    CostSpec,
    EconomicsSpec,
    Scenario,
    TrialSpec,
    UtilitySpec,
)
from mhtcdt.errors import InputError, InputErrors


@st.cache_data(show_spinner=False, max_entries=64)
def _cross_layer_problems(toml_text: str) -> list[str]:
    from mhtcdt.decision.scenario.checks import scenario_problems

    return [p.line() for p in scenario_problems(parse_scenario_text(toml_text))]


def _source_picker() -> None:
    st.subheader("1 · Start from a preset or your own file")
    left, right = st.columns(2)
    with left:
        presets = bundled_scenarios()
        preset = st.selectbox("Preset scenario", presets, key="preset_choice")
        if st.button("Load preset", key="load_preset"):
            with state.guard():
                scenario = parse_scenario_text(scenario_text(preset), source=preset)
                state.set_scenario(scenario, preset, reload_widgets=True)
                st.toast(f"Loaded {md(preset)}")
    with right:
        upload = st.file_uploader("…or upload a scenario file (TOML)", type=["toml"], key="scenario_upload")
        if upload is not None and st.session_state.get("applied_upload") != upload.file_id:
            st.session_state["applied_upload"] = upload.file_id
            try:
                text = upload.getvalue().decode("utf-8")
                scenario = parse_scenario_text(text, source=upload.name)
            except UnicodeDecodeError:
                state.show_problem(InputError(upload.name, "<bytes>", "the file is not UTF-8 text"))
                st.session_state["upload_error"] = upload.file_id
            except (InputError, InputErrors) as exc:
                state.show_problem(exc)
                st.session_state["upload_error"] = upload.file_id
            else:
                state.set_scenario(scenario, upload.name, reload_widgets=True)
                st.session_state.pop("upload_error", None)
                st.success(f"Loaded **{md(scenario.name)}** from {md(upload.name)}")


class Edit(NamedTuple):
    """One number field of the editor: the field of ``model`` at ``path`` in the scenario mapping, its
    widget key (after the version prefix) and how it is shown (see :func:`~mhtcdt.app.widgets.number_field`)."""

    path: tuple[str, ...]
    model: type
    key: str
    label: str
    step: float | int | None = None
    unit: str | None = None
    scale: float = 1.0
    fmt: str | None = None
    max_value: float | None = None


def _edit(data: dict[str, Any], edits: list[Edit], prefix: str) -> None:
    """Show each field of ``edits`` and write the edited value back into ``data`` (the scenario mapping)."""
    for e in edits:
        section = data
        for part in e.path[:-1]:
            section = section[part]
        name = e.path[-1]
        section[name] = number_field(
            e.model,
            name,
            section[name],
            key=prefix + e.key,
            label=e.label,
            unit=e.unit,
            step=e.step,
            fmt=e.fmt,
            scale=e.scale,
            max_value=e.max_value,
        )


PERCENT = dict(unit="% per year", scale=100.0)
COHORT_EDITS = [Edit(("cohort", "n_screened"), CohortSpec, "n_screened", "patients screened", 100)]
TRIAL_EDITS = [
    Edit(("trial", "accrual_per_month"), TrialSpec, "accrual", "accrual", 1.0),
    Edit(("trial", "min_follow_up_months"), TrialSpec, "min_fu", "minimum follow-up", 1.0),
    Edit(("trial", "dropout_per_year"), TrialSpec, "dropout", "loss to follow-up", 1.0, **PERCENT),
]
HORIZON_EDITS = [
    Edit(("economics", "horizon_years"), EconomicsSpec, "horizon", "time horizon", 1.0),
    Edit(("economics", "discount_costs"), EconomicsSpec, "disc_c", "discount rate, costs", 0.5, **PERCENT),
    Edit(("economics", "discount_effects"), EconomicsSpec, "disc_e", "discount rate, effects", 0.5, **PERCENT),
]
ARM_HEAT_EDITS = [
    Edit(("n_sessions",), ArmSpec, "n_sessions", "heat sessions"),
    Edit(("session_minutes",), ArmSpec, "session_minutes", "session length", 5.0),
    Edit(("session_interval_hours",), ArmSpec, "session_interval_hours", "session spacing (start to start)", 12.0),
]
ARM_FIELD_EDITS = [  # shown when the arm sets them
    Edit(("target_temperature_C",), ArmSpec, "target_temperature_C", "target temperature", 0.5),
    Edit(("field_kA_per_m",), ArmSpec, "field_kA_per_m", "field amplitude", 0.5),
    Edit(("np_dose_mg_Fe_per_cm3",), ArmSpec, "np_dose", "iron dose", 1.0, unit="mg Fe/cm³"),
]
ARM_HEALTHY_EDIT = Edit(("healthy_max_C",), ArmSpec, "healthy_max_C", "healthy-tissue maximum", 0.5)
ARM_RT_EDITS = [
    Edit(("rt_total_dose_Gy",), ArmSpec, "rt_total_dose_Gy", "total dose", 2.0, unit="Gy"),
    Edit(("rt_n_fractions",), ArmSpec, "rt_n_fractions", "fractions"),
]


def _arm_editor(arm: ArmSpec, i: int, v: int) -> dict[str, Any]:
    d = arm.model_dump(mode="json", exclude_none=True)
    prefix = f"v{v}.arms{i}."
    heat, field, rt = st.columns(3)
    with heat:
        st.markdown("**Heat (MHT)**")
        if arm.has_mht or arm.agent is not None:
            _edit(d, ARM_HEAT_EDITS, prefix)
        else:
            st.caption("No nanoparticle agent in this arm.")
    with field:
        st.markdown("**Field and particles**")
        _edit(d, [e for e in ARM_FIELD_EDITS if e.path[-1] in d], prefix)
        if arm.agent is None:
            st.caption("—")
        else:
            _edit(d, [ARM_HEALTHY_EDIT], prefix)
    with rt:
        st.markdown("**Radiotherapy**")
        _edit(d, ARM_RT_EDITS, prefix)
    return d


def _editors(scenario: Scenario) -> dict[str, Any]:
    """Widgets for the key assumptions; returns the edited scenario as a plain mapping."""
    v = state.scenario_version()
    prefix = f"v{v}."
    data = scenario.model_dump(mode="json", exclude_none=True)
    st.subheader("2 · Key assumptions")
    tabs = st.tabs(["Cohort and trial", *[f"Arm: {md(a.name)}" for a in scenario.arms], "Costs and utilities"])
    limits = scenario_limits(scenario)
    with tabs[0]:
        c1, c2, c3 = st.columns(3)
        with c1:
            _edit(data, [e._replace(max_value=limits.n_screened) for e in COHORT_EDITS], prefix)
            data["seed"] = int(
                st.number_input(
                    "master seed",
                    min_value=0,
                    value=int(scenario.seed),
                    key=f"v{v}.seed",
                    help="Same seed + same scenario = same results.",
                )
            )
        with c2:
            _edit(data, TRIAL_EDITS, prefix)
        with c3:
            _edit(data, HORIZON_EDITS, prefix)
    for i, arm in enumerate(scenario.arms):
        with tabs[1 + i]:
            data["arms"][i] = _arm_editor(arm, i, v)
    with tabs[-1]:
        e = scenario.economics
        cur = md(e.currency)  # shown in widget labels (Markdown)
        st.caption(md(f"Jurisdiction (HTA reference case): {reference_case(e).name}, costs in {e.currency}."))
        for note in reference_case_notes(e):  # PPP-transferred costs, departures from the reference case, threshold
            st.caption(md(note))
        c1, c2, c3 = st.columns(3)
        with c1:
            st.caption(
                f"Willingness to pay ({cur} {state.willingness_to_pay():,.0f} per QALY) and the MHT course price "
                f"({cur} {state.mht_price():,.0f}; list price {cur} {e.costs.mht_course:,.0f}) are set once for every "
                "page, in the sidebar or on the answer page: changing them re-runs nothing."
            )
            _edit(
                data,
                [
                    Edit(
                        ("economics", "utilities", name),
                        UtilitySpec,
                        f"u.{name}",
                        label,
                        0.01,
                        unit="QALY/year",
                        fmt="%.2f",
                    )
                    for name, label in (
                        ("progression_free", "utility, progression-free"),
                        ("progressed", "utility, progressed"),
                    )
                ],
                prefix,
            )
        costs = [
            Edit(
                ("economics", "costs", name),
                CostSpec,
                f"c.{name}",
                name.replace("_", " ").replace("mht", "MHT").replace("rt ", "RT ").replace("cdt", "CDT"),
                100.0,
                unit=(CostSpec.model_fields[name].description or "")
                .rsplit("[", 1)[-1]
                .rstrip("].")
                .replace("currency", cur),
                fmt="%.0f",
            )
            for name in CostSpec.model_fields
            if name != "mht_course"  # a what-if of every page (sidebar), not an editor field
        ]
        half = (len(costs) + 1) // 2
        for col, part in ((c2, costs[:half]), (c3, costs[half:])):
            with col:
                _edit(data, part, prefix)
        _mark_edited_costs_local(scenario, data)
        _uncertainty_editor(scenario, data, v)
    return data


def _mark_edited_costs_local(scenario: Scenario, data: dict[str, Any]) -> None:
    """A cost edited here is the user's own figure in the scenario's currency, no longer a PPP-transferred one:
    add it to ``[economics.cost_transfer] local_inputs`` so that no output calls it transferred."""
    transfer = data["economics"].get("cost_transfer")
    if transfer is None:
        return
    local = transfer.setdefault("local_inputs", [])
    for name, value in data["economics"]["costs"].items():
        if name not in local and value != getattr(scenario.economics.costs, name):
            local.append(name)


def _uncertainty_editor(scenario: Scenario, data: dict[str, Any], v: int) -> None:
    """PSA draws and the 95 % ranges of the uncertain economic inputs (also the one-way DSA ranges)."""
    e = scenario.economics
    st.markdown("**Uncertainty** (probabilistic sensitivity analysis and tornado ranges)")
    limits = scenario_limits(scenario)
    st.caption(md(limits.message()))
    data["economics"]["psa_draws"] = number_field(
        EconomicsSpec,
        "psa_draws",
        e.psa_draws,
        key=f"v{v}.psa_draws",
        label="PSA draws",
        unit="draws",
        step=100,
        max_value=limits.psa_draws,
    )
    if not e.uncertainty:
        st.caption("This scenario gives no uncertainty ranges ([[economics.uncertainty]]).")
        return
    table = pd.DataFrame([u.model_dump() for u in e.uncertainty])
    # The meeting reads plain-language names with units; the scenario file keeps the dotted keys (hidden column,
    # and restored by row below: the editor has a fixed set of rows in the scenario's order).
    table.insert(0, "input", [parameter_label_with_unit(u.parameter, e.currency) for u in e.uncertainty])
    table.insert(2, "scenario value", [e.point_value(u.parameter) for u in e.uncertainty])
    edited = st.data_editor(
        table,
        key=f"v{v}.uncertainty",
        hide_index=True,
        width="stretch",
        disabled=["input", "parameter", "scenario value", "source"],
        column_config={
            "input": st.column_config.TextColumn("uncertain input [unit]", help=UNCERTAINTY_INPUT_HELP),
            "parameter": None,
            "scenario value": st.column_config.NumberColumn("scenario value", format="localized"),
            "distribution": st.column_config.SelectboxColumn(options=["gamma", "beta", "lognormal", "normal"]),
            "low": st.column_config.NumberColumn("low (2.5 %)", format="localized"),
            "high": st.column_config.NumberColumn("high (97.5 %)", format="localized"),
        },
    )
    data["economics"]["uncertainty"] = [
        {
            **{k: (None if pd.isna(val) else val) for k, val in row.items() if k not in ("input", "scenario value")},
            "parameter": u.parameter,
        }
        for u, row in zip(e.uncertainty, edited.to_dict("records"), strict=True)
    ]


UNCERTAINTY_INPUT_HELP = (
    "Plain-language name and unit of the input; the scenario file names it by its key (e.g. costs.mht_course)."
)


def render() -> None:
    st.title("Scenario")
    st.caption(
        "The assumptions of the virtual trial and the cost-effectiveness analysis. Every other page "
        "uses the scenario shown here."
    )
    _source_picker()
    scenario = state.get_scenario()
    st.markdown(f"**Current scenario:** {md(scenario.name)}")
    st.caption(f"source: {md(st.session_state.get(state.SCENARIO_SOURCE_KEY, '?'))}")
    if scenario.description:
        with st.expander("Description"):
            st.markdown(md(scenario.description))

    edited = _editors(scenario)
    try:
        candidate = parse_scenario(edited)
    except InputErrors as exc:
        state.show_problem(exc)
        st.warning(
            "This edit is not applied: every page keeps using the last valid scenario until the problem above is "
            "fixed.",
            icon=":material/undo:",
        )
        candidate = None
    if candidate is not None and candidate != scenario:
        notes_changed = reference_case_notes(candidate.economics) != reference_case_notes(scenario.economics)
        state.set_scenario(candidate)
        scenario = candidate
        if notes_changed:  # the reference-case notes above the cost editors were drawn from the previous scenario
            st.rerun()

    problems = []
    with state.guard():
        problems = _cross_layer_problems(state.scenario_toml(scenario))
    if problems:
        state.show_input_lines(problems)
    elif candidate is not None:  # never "valid" next to an error: only when the edit shown is the one in use
        st.success(
            "Scenario valid: every criterion, arm protocol and trial setting checked.",
            icon=":material/check_circle:",
        )
    with state.guard():
        from mhtcdt.decision.model.whatif import price_range_note

        st.caption(md(price_range_note(scenario, state.effective_scenario())))

    st.subheader("3 · Save")
    toml_text = state.scenario_toml(state.effective_scenario())
    st.download_button(
        "Download the edited scenario (TOML, at the willingness to pay and price in use)",
        toml_text,
        file_name="scenario.toml",
        mime="application/toml",
        key="download_scenario",
    )
    with st.expander("Scenario file"):
        st.code(toml_text, language="toml")


if __name__ == "__main__":
    render()
