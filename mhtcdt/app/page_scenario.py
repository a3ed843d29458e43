"""Scenario page: pick a preset or upload a TOML file, edit the key assumptions, download the result.

Edits are re-validated by the scenario schema (:func:`mhtcdt.decision.scenario.loading.parse_scenario`)
and the cross-layer checks (:func:`mhtcdt.decision.scenario.checks.scenario_problems`); an invalid edit is
shown in the page and the last valid scenario stays in use.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from mhtcdt.app import state
from mhtcdt.app.widgets import number_field
from mhtcdt.decision.scenario.loading import bundled_scenarios, parse_scenario, parse_scenario_text, scenario_text
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
                st.toast(f"Loaded {preset}")
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
                st.success(f"Loaded **{scenario.name}** from {upload.name}")


def _arm_editor(arm: ArmSpec, i: int, v: int) -> dict[str, Any]:
    d = arm.model_dump(mode="json", exclude_none=True)
    k = f"v{v}.arms{i}."
    c1, c2, c3 = st.columns(3)
    with c1:
        st.markdown("**Heat (MHT)**")
        if arm.has_mht or arm.agent is not None:
            d["n_sessions"] = number_field(
                ArmSpec, "n_sessions", arm.n_sessions, key=k + "n_sessions", label="heat sessions"
            )
            d["session_minutes"] = number_field(
                ArmSpec,
                "session_minutes",
                arm.session_minutes,
                key=k + "session_minutes",
                label="session length",
                step=5.0,
            )
            d["session_interval_hours"] = number_field(
                ArmSpec,
                "session_interval_hours",
                arm.session_interval_hours,
                key=k + "session_interval_hours",
                label="session spacing (start to start)",
                step=12.0,
            )
        else:
            st.caption("No nanoparticle agent in this arm.")
    with c2:
        st.markdown("**Field and particles**")
        if arm.target_temperature_C is not None:
            d["target_temperature_C"] = number_field(
                ArmSpec,
                "target_temperature_C",
                arm.target_temperature_C,
                key=k + "target_temperature_C",
                label="target temperature",
                step=0.5,
            )
        if arm.field_kA_per_m is not None:
            d["field_kA_per_m"] = number_field(
                ArmSpec,
                "field_kA_per_m",
                arm.field_kA_per_m,
                key=k + "field_kA_per_m",
                label="field amplitude",
                step=0.5,
            )
        if arm.np_dose_mg_Fe_per_cm3 is not None:
            d["np_dose_mg_Fe_per_cm3"] = number_field(
                ArmSpec,
                "np_dose_mg_Fe_per_cm3",
                arm.np_dose_mg_Fe_per_cm3,
                key=k + "np_dose",
                label="iron dose",
                unit="mg Fe/cm³",
                step=1.0,
            )
        if arm.agent is None:
            st.caption("—")
        else:
            d["healthy_max_C"] = number_field(
                ArmSpec,
                "healthy_max_C",
                arm.healthy_max_C,
                key=k + "healthy_max_C",
                label="healthy-tissue maximum",
                step=0.5,
            )
    with c3:
        st.markdown("**Radiotherapy**")
        d["rt_total_dose_Gy"] = number_field(
            ArmSpec,
            "rt_total_dose_Gy",
            arm.rt_total_dose_Gy,
            key=k + "rt_total_dose_Gy",
            label="total dose",
            unit="Gy",
            step=2.0,
        )
        d["rt_n_fractions"] = number_field(
            ArmSpec, "rt_n_fractions", arm.rt_n_fractions, key=k + "rt_n_fractions", label="fractions"
        )
    return d


def _editors(scenario: Scenario) -> dict[str, Any]:
    """Widgets for the key assumptions; returns the edited scenario as a plain mapping."""
    v = state.scenario_version()
    data = scenario.model_dump(mode="json", exclude_none=True)
    st.subheader("2 · Key assumptions")
    tabs = st.tabs(["Cohort and trial", *[f"Arm: {a.name}" for a in scenario.arms], "Costs and utilities"])
    with tabs[0]:
        c1, c2, c3 = st.columns(3)
        with c1:
            data["cohort"]["n_screened"] = number_field(
                CohortSpec,
                "n_screened",
                scenario.cohort.n_screened,
                key=f"v{v}.n_screened",
                label="patients screened",
                step=100,
            )
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
            t = scenario.trial
            data["trial"]["accrual_per_month"] = number_field(
                TrialSpec,
                "accrual_per_month",
                t.accrual_per_month,
                key=f"v{v}.accrual",
                label="accrual",
                step=1.0,
            )
            data["trial"]["min_follow_up_months"] = number_field(
                TrialSpec,
                "min_follow_up_months",
                t.min_follow_up_months,
                key=f"v{v}.min_fu",
                label="minimum follow-up",
                step=1.0,
            )
            data["trial"]["dropout_per_year"] = number_field(
                TrialSpec,
                "dropout_per_year",
                t.dropout_per_year,
                key=f"v{v}.dropout",
                label="loss to follow-up",
                unit="% per year",
                scale=100.0,
                step=1.0,
            )
        with c3:
            e = scenario.economics
            data["economics"]["horizon_years"] = number_field(
                EconomicsSpec,
                "horizon_years",
                e.horizon_years,
                key=f"v{v}.horizon",
                label="time horizon",
                step=1.0,
            )
            data["economics"]["discount_costs"] = number_field(
                EconomicsSpec,
                "discount_costs",
                e.discount_costs,
                key=f"v{v}.disc_c",
                label="discount rate, costs",
                unit="% per year",
                scale=100.0,
                step=0.5,
            )
            data["economics"]["discount_effects"] = number_field(
                EconomicsSpec,
                "discount_effects",
                e.discount_effects,
                key=f"v{v}.disc_e",
                label="discount rate, effects",
                unit="% per year",
                scale=100.0,
                step=0.5,
            )
    for i, arm in enumerate(scenario.arms):
        with tabs[1 + i]:
            data["arms"][i] = _arm_editor(arm, i, v)
    with tabs[-1]:
        e = scenario.economics
        cur = e.currency
        c1, c2, c3 = st.columns(3)
        with c1:
            data["economics"]["willingness_to_pay"] = number_field(
                EconomicsSpec,
                "willingness_to_pay",
                e.willingness_to_pay,
                key=f"v{v}.wtp",
                label="willingness to pay",
                unit=f"{cur} per QALY",
                step=1000.0,
                fmt="%.0f",
            )
            for name, label in (
                ("progression_free", "utility, progression-free"),
                ("progressed", "utility, progressed"),
            ):
                data["economics"]["utilities"][name] = number_field(
                    UtilitySpec,
                    name,
                    getattr(e.utilities, name),
                    key=f"v{v}.u.{name}",
                    label=label,
                    unit="QALY/year",
                    step=0.01,
                    fmt="%.2f",
                )
        cost_fields = list(CostSpec.model_fields)
        half = (len(cost_fields) + 1) // 2
        for col, names in ((c2, cost_fields[:half]), (c3, cost_fields[half:])):
            with col:
                for name in names:
                    unit = (CostSpec.model_fields[name].description or "").rsplit("[", 1)[-1].rstrip("].")
                    unit = unit.replace("currency", cur)
                    data["economics"]["costs"][name] = number_field(
                        CostSpec,
                        name,
                        getattr(e.costs, name),
                        key=f"v{v}.c.{name}",
                        label=name.replace("_", " ").replace("mht", "MHT").replace("rt ", "RT ").replace("cdt", "CDT"),
                        unit=unit,
                        step=100.0,
                        fmt="%.0f",
                    )
        _uncertainty_editor(scenario, data, v)
    return data


def _uncertainty_editor(scenario: Scenario, data: dict[str, Any], v: int) -> None:
    """PSA draws and the 95 % ranges of the uncertain economic inputs (also the one-way DSA ranges)."""
    e = scenario.economics
    st.markdown("**Uncertainty** (probabilistic sensitivity analysis and tornado ranges)")
    data["economics"]["psa_draws"] = number_field(
        EconomicsSpec, "psa_draws", e.psa_draws, key=f"v{v}.psa_draws", label="PSA draws", unit="draws", step=100
    )
    if not e.uncertainty:
        st.caption("This scenario gives no uncertainty ranges ([[economics.uncertainty]]).")
        return
    table = pd.DataFrame([u.model_dump() for u in e.uncertainty])
    table.insert(1, "scenario value", [e.point_value(u.parameter) for u in e.uncertainty])
    edited = st.data_editor(
        table,
        key=f"v{v}.uncertainty",
        hide_index=True,
        width="stretch",
        disabled=["parameter", "scenario value", "source"],
        column_config={
            "distribution": st.column_config.SelectboxColumn(options=["gamma", "beta", "lognormal", "normal"]),
            "low": st.column_config.NumberColumn("low (2.5 %)"),
            "high": st.column_config.NumberColumn("high (97.5 %)"),
        },
    )
    data["economics"]["uncertainty"] = [
        {k: (None if pd.isna(val) else val) for k, val in row.items() if k != "scenario value"}
        for row in edited.to_dict("records")
    ]


def render() -> None:
    st.title("Scenario")
    st.caption(
        "The assumptions of the virtual trial and the cost-effectiveness analysis. Every other page "
        "uses the scenario shown here."
    )
    _source_picker()
    scenario = state.get_scenario()
    st.markdown(
        f"**Current scenario:** {scenario.name}  \n"
        f"<small>source: {st.session_state.get(state.SCENARIO_SOURCE_KEY, '?')}</small>",
        unsafe_allow_html=True,
    )
    if scenario.description:
        with st.expander("Description"):
            st.write(scenario.description)

    edited = _editors(scenario)
    try:
        candidate = parse_scenario(edited)
    except InputErrors as exc:
        state.show_problem(exc)
        st.info("The last valid scenario stays in use until the problem is fixed.")
        candidate = None
    if candidate is not None and candidate != scenario:
        state.set_scenario(candidate)
        scenario = candidate

    problems = []
    with state.guard():
        problems = _cross_layer_problems(state.scenario_toml(scenario))
    if problems:
        state.show_input_lines(problems)
    else:
        st.success(
            "Scenario valid: every criterion, arm protocol and trial setting checked.",
            icon=":material/check_circle:",
        )

    st.subheader("3 · Save")
    toml_text = state.scenario_toml(scenario)
    st.download_button(
        "Download the edited scenario (TOML)",
        toml_text,
        file_name="scenario.toml",
        mime="application/toml",
        key="download_scenario",
    )
    with st.expander("Scenario file"):
        st.code(toml_text, language="toml")


if __name__ == "__main__":
    render()
