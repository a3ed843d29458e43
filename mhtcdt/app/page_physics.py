"""Treatment physics page: one virtual patient's treatment as the physics layer simulates it.

Shows, for an eligible patient and an arm of the scenario, :func:`mhtcdt.physics.simulate_patient_detail`
(run in the worker, stored by its inputs): the patient's row of :func:`mhtcdt.physics.simulate_protocol`
(contract section 2: T90/T50/T10, CEM43 at T90, healthy-tissue maximum, field, iron dose, chemistry
summary, log10 kill by mechanism) and the time courses behind it: shell temperatures, T90, healthy
maximum and applied field during a session; the radial peak-temperature profile; a 3-D mid-plane
temperature map with a heterogeneous deposit; CEM43 over time and per shell; .OH and GSH over time;
and the effect of session spacing on heat kill (:func:`mhtcdt.physics.thermotolerance_by_interval`); for an MHT
arm, on request, the arm's dose-response table with its computed explanations
(:func:`mhtcdt.decision.model.dose_response.dose_response`, run in the worker).
The patient's physics seed is the one the trial uses, so the numbers equal that patient's row in the
trial. Plotting only: every number comes from the physics layer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from mhtcdt.app import state
from mhtcdt.decision.report import patient_figures as figures
from mhtcdt.decision.report.labels import number, significant

PATIENT_FIELDS = (
    ("tumour_volume_cm3", "tumour volume [cm³]"),
    ("tumour_radius_cm", "equivalent-sphere radius [cm]"),
    ("deposit_coverage_fraction", "particle deposit coverage [fraction of tumour]"),
    ("tumour_perfusion_mL_per_min_per_kg", "tumour perfusion at 37 °C [mL/min/kg]"),
    ("h2o2_production_uM_per_s", "H₂O₂ production [µM/s]"),
    ("gsh_mM", "glutathione [mM]"),
    ("ph_extracellular", "extracellular pH"),
    ("body_radius_cm", "body-region radius in the applicator [cm]"),
)
SPACINGS_HOURS = (6.0, 12.0, 24.0, 48.0, 72.0, 84.0, 120.0, 168.0)


def _physics_seed(scenario, arm_name: str):
    """The SeedSequence the pipeline gives this arm's physics (so results match the trial)."""
    from mhtcdt.decision.streams import physics_seed

    names = [a.name for a in scenario.randomised_arms]
    index = names.index(arm_name) if arm_name in names else len(names)
    return physics_seed(scenario.seed, index)


@st.cache_data(show_spinner=False, max_entries=64)
def _eligible(indication: str, n_screened: int, seed: int, criteria: tuple[str, ...]) -> pd.DataFrame:
    from mhtcdt.cohorts import apply_criteria

    return apply_criteria(state.screened_cohort(indication, n_screened, seed), list(criteria)).eligible


def _intervals(arm) -> tuple[float, ...]:
    return tuple(sorted({*SPACINGS_HOURS, float(arm.session_interval_hours)}))


def _physics(scenario, arm_name: str, patient: pd.DataFrame) -> dict | None:
    """simulate_patient_detail (+ the spacing table) for one patient, in the worker, stored by its inputs."""
    from mhtcdt.decision.scenario.checks import protocol_for_arm

    arm = scenario.arm(arm_name)
    text = state.scenario_toml(scenario)
    intervals = _intervals(arm)
    pid = int(patient["patient_id"].iloc[0])
    key = "physics-" + state.input_key(text, arm_name, pid, intervals)
    return state.run_job(
        key,
        "mhtcdt.app.tasks:patient_physics_task",
        patient,
        protocol_for_arm(arm),
        _physics_seed(scenario, arm_name),
        intervals,
        scenario.physics_assumptions(),
        label="Simulating this patient's treatment",
    )


def _patient_label(row: pd.Series) -> str:
    return (
        f"#{int(row.patient_id)} · {row.tumour_volume_cm3:.0f} cm³ · KPS {int(row.kps)} · "
        f"perfusion {row.tumour_perfusion_mL_per_min_per_kg:.0f} mL/min/kg"
    )


def render() -> None:
    st.title("Treatment physics")
    scenario = state.get_scenario()
    st.caption(
        "One virtual patient's treatment as the physics model computes it. CDT has no clinical "
        "evidence: its kill follows from the scenario's assumptions."
    )
    try:
        eligible = _eligible(
            scenario.cohort.indication,
            scenario.cohort.n_screened,
            scenario.seed,
            tuple(scenario.cohort.criteria),
        )
    except Exception as exc:  # noqa: BLE001 - shown in the page
        state.show_problem(exc)
        return
    if eligible.empty:
        st.warning("No eligible patient: relax the criteria on the Patients page.", icon=":material/warning:")
        return

    c1, c2 = st.columns([3, 2])
    shown = eligible.head(200)
    with c1:
        pid = st.selectbox(
            "Patient (eligible, first 200)",
            list(shown["patient_id"]),
            key="physics_patient",
            format_func=lambda p: _patient_label(shown[shown["patient_id"] == p].iloc[0]),
        )
    arms = [a.name for a in scenario.arms]
    default_arm = next((i for i, a in enumerate(scenario.arms) if a.has_mht), 0)
    with c2:
        arm_name = st.selectbox("Arm", arms, index=default_arm, key="physics_arm")
    arm = scenario.arm(arm_name)
    row = shown[shown["patient_id"] == pid].iloc[0]
    with st.expander("This patient's characteristics that drive the physics"):
        st.dataframe(
            pd.DataFrame(
                [
                    {"characteristic": label, "value": significant(float(row[col]))}
                    for col, label in PATIENT_FIELDS
                    if col in row.index
                ]
            ),
            hide_index=True,
            width="stretch",
        )

    physics = None
    with state.guard():
        physics = _physics(scenario, arm_name, shown[shown["patient_id"] == pid])
    if physics is None:
        return
    detail = physics["detail"]
    base = detail.outcome

    st.subheader("Heating and thermal dose")
    m = st.columns(4)
    m[0].metric("T90 (first session)", f"{base.t90_C:.1f} °C", help="Temperature exceeded by 90 % of the tumour.")
    m[1].metric("T50", f"{base.t50_C:.1f} °C", help="Median tumour temperature at the session peak.")
    m[2].metric("T10", f"{base.t10_C:.1f} °C", help="Temperature exceeded by the hottest 10 % of the tumour.")
    m[3].metric("CEM43 at T90, all sessions", f"{base.cem43_t90_min:.1f} min")
    m = st.columns(4)
    m[0].metric(
        "healthy-tissue maximum",
        f"{base.max_healthy_C:.1f} °C",
        delta=None if base.safety_ok else "safety limit exceeded",
        delta_color="inverse",
    )
    m[1].metric("applied field", f"{base.field_kA_per_m_applied:.1f} kA/m")
    m[2].metric("iron dose", f"{base.dose_mg_Fe_per_cm3_applied:.1f} mg/cm³")
    m[3].metric("sessions", f"{arm.n_sessions} × {arm.session_minutes:g} min" if arm.has_mht else "none")
    if detail.has_heat:
        _heat_section(detail)
    else:
        st.caption("This arm has no heat sessions: no temperature time courses or thermal dose.")

    st.subheader("Chemistry and cell kill")
    left, right = st.columns([2, 3])
    with left:
        if arm.has_cdt:
            st.metric("cumulative ·OH exposure", f"{number(base.oh_cumulative_uM_min)} µM·min")
            st.metric("GSH nadir", f"{base.gsh_nadir_mM:.2f} mM")
            st.metric("lipid-peroxide peak", f"{number(base.lipid_peroxide_peak)} µM")
        st.metric(
            "total tumour kill",
            f"{base.log10_kill_total:.2f} log10",
            help=f"surviving fraction {significant(base.surviving_fraction, 2)}",
        )
    with right:
        st.pyplot(figures.kill_by_mechanism(base))
    if not arm.has_cdt:
        st.caption(
            "No CDT in this arm: it has no chemodynamic agent, so there is no Fenton chemistry to show (the "
            "background ·OH of the model is negligible here and takes no part in the kill)."
        )
    else:
        _chemistry(detail)
    _spacing(arm, physics)
    if arm.has_mht and arm.name != scenario.trial.reference_arm:
        _dose_response_section(scenario, arm.name)


def _chemistry(detail) -> None:
    st.pyplot(figures.chemistry_over_time(detail))
    st.caption(
        "Fenton/CDT chemistry over the exposure window (fast path, the trial's own inputs): "
        + ("the particle deposit split into equal-volume thirds, each on its own temperature history. "
           if len(detail.chemistry_group_label) > 1 else "one tumour-mean history. ")
        + "A line that ends (×) is a group whose cells were all killed: the model stops its chemistry there."
    )  # fmt: skip


def _spacing(arm, physics) -> None:
    if arm.has_mht and arm.n_sessions > 1:
        st.subheader("Session spacing and thermotolerance")
        st.caption(
            "The same patient and protocol with the sessions spaced differently (start to start). "
            "Heat shock proteins induced by one session protect cells during the next ones; the whole-tumour "
            "heat kill is capped by the clonogens infiltrating beyond the heated volume."
        )
        if physics["spacing"] is not None:
            st.pyplot(figures.kill_versus_spacing(physics["spacing"], arm.session_interval_hours))
    elif not arm.has_mht:
        st.caption("This arm has no heat sessions: choose an MHT arm to see the effect of session spacing.")


def _dose_response_section(scenario, arm_name: str) -> None:
    """The arm's dose-response table (:func:`mhtcdt.decision.model.dose_response.dose_response`, in the worker)
    with each lever's computed explanation; nothing is estimated here."""
    st.subheader("Dose-response of this arm")
    st.caption(
        "One lever at a time (heat sessions, iron dose, field amplitude, GSH depletion, session spacing), the same "
        f"patients and random numbers in every row, against '{scenario.trial.reference_arm}': mean heat and CDT "
        "kill, OS gain, QALY gain and ICER (the same table as `mhtcdt dose-response`)."
    )
    c1, c2 = st.columns([1, 2])
    n = int(c1.number_input("patients", min_value=10, max_value=400, value=40, step=10, key="dose_response_n"))
    if not c2.toggle("compute the dose-response table", key="dose_response_on"):
        return
    text = state.scenario_toml(scenario)
    result = None
    with state.guard():
        result = state.run_job(
            "dose-response-" + state.input_key(text, arm_name, n),
            "mhtcdt.app.tasks:dose_response_task",
            text,
            arm_name,
            n,
            label="Dose-response",
        )
    if result is None:
        return
    shown = result.table[
        ["lever_label", "setting", "scenario_setting", "heat_kill_log10", "cdt_kill_log10", "os_gain_months",
         "qaly_gain", "icer"]
    ]  # fmt: skip
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        key="dose_response_table",
        column_config={
            "lever_label": "lever",
            "scenario_setting": st.column_config.CheckboxColumn("scenario's"),
            "heat_kill_log10": st.column_config.NumberColumn("heat kill [log10]", format="%.2f"),
            "cdt_kill_log10": st.column_config.NumberColumn("CDT kill [log10]", format="%.3f"),
            "os_gain_months": st.column_config.NumberColumn("OS gain [months]", format="%.2f"),
            "qaly_gain": st.column_config.NumberColumn("QALY gain", format="%.4f"),
            "icer": st.column_config.NumberColumn(f"ICER [{scenario.economics.currency}/QALY]", format="%.0f"),
        },
    )
    for lever, explanation in result.explanations.items():
        st.info(f"**{lever.replace('_', ' ')}**: {explanation}")
    st.download_button(
        "Download the table (CSV)",
        result.table.assign(explanation=result.table["lever"].map(result.explanations)).to_csv(index=False),
        file_name="dose_response.csv",
        mime="text/csv",
        key="dose_response_csv",
    )


def _heat_section(detail) -> None:
    """Temperatures during a session, radial profile, 3-D map, thermal dose (plots of ``detail``)."""
    st.subheader("Temperatures during the sessions")
    n_sessions = len(detail.sessions)
    n_shells = detail.shell_temperature_C.shape[1]
    edge = np.searchsorted(detail.shell_outer_radius_mm, detail.deposit_radius_mm)
    deposit_edge = int(np.clip(edge, 0, n_shells - 1))
    c1, c2 = st.columns([1, 3])
    session = c1.selectbox(
        "Session", list(range(n_sessions)), key="physics_session", format_func=lambda s: f"session {s + 1}"
    )
    shells = c2.multiselect(
        "Tumour shells",
        list(range(n_shells)),
        default=sorted({0, deposit_edge, n_shells - 1}),
        key="physics_shells",
        format_func=lambda c: figures.shell_label(detail, c),
    )
    st.pyplot(figures.temperature_history(detail, int(session), list(shells)))
    st.caption(
        "Radial solver: tumour shells (centre outwards), T90 of the tumour, and the hottest healthy tissue, which "
        "is the tumour margin while the field is on (no heat source outside the tumour); grey: the applied "
        "field (titrated sessions adjust it to hold the margin at the target)."
    )
    left, right = st.columns(2)
    with left:
        st.pyplot(figures.radial_profile(detail, int(session)))
    with right:
        if detail.slice_temperature_C is not None:
            st.pyplot(figures.midplane_map(detail))
    st.caption(
        "Left: radial solver (the trial's model), peak temperature of each cell out to its far boundary. "
        "Right: 3-D solver, first session at its time-mean particle power, with the deposit's iron "
        f"concentration varying from voxel to voxel (lognormal, log-SD {detail.deposit_sigma:g}; an "
        "illustrative assumption, not a measured distribution; the map does not enter the kill)."
    )
    st.markdown("**Thermal dose**")
    st.pyplot(figures.cem43_over_time(detail))
    table = detail.sessions.assign(session=detail.sessions["session"] + 1, start_h=detail.sessions["start_min"] / 60.0)
    st.dataframe(
        table[list(SESSION_COLUMNS)].round(2).rename(columns=SESSION_COLUMNS),
        hide_index=True,
        width="stretch",
        key="physics_sessions",
    )  # fmt: skip


#: the per-session table: physics column -> plain-language header with its unit
SESSION_COLUMNS = {
    "session": "session",
    "start_h": "start [h from the first session]",
    "t90_C": "T90 [°C]",
    "t50_C": "T50 [°C]",
    "t10_C": "T10 [°C]",
    "margin_peak_C": "tumour margin, peak [°C]",
    "max_healthy_C": "healthy tissue, maximum [°C]",
    "field_mean_kA_per_m": "field, mean [kA/m]",
    "cem43_t90_min": "CEM43 at T90 [min]",
}


if __name__ == "__main__":
    render()
