"""Treatment physics page: one virtual patient's treatment as the physics layer simulates it.

Shows, for an eligible patient and an arm of the scenario, the outputs of
:func:`mhtcdt.physics.simulate_protocol` (contract section 2): tumour temperatures (T90/T50/T10),
thermal dose (CEM43 at T90), healthy-tissue maximum, applied field and iron dose, the chemistry
summary (cumulative .OH exposure, GSH nadir, lipid-peroxide peak) and the tumour log10 kill by
mechanism; and the effect of session spacing on heat kill (thermotolerance) by re-running the same
patient with other ``session_interval_hours``. The patient's physics seed is the one the trial uses,
so the numbers equal that patient's row in the trial.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mhtcdt.app import figures, state

PATIENT_FIELDS = (
    ("tumor_volume_cm3", "tumour volume [cm³]"),
    ("tumor_radius_cm", "equivalent-sphere radius [cm]"),
    ("deposit_coverage_fraction", "particle deposit coverage [fraction of tumour]"),
    ("tumor_perfusion_mL_per_min_per_kg", "tumour perfusion at 37 °C [mL/min/kg]"),
    ("h2o2_production_uM_per_s", "H₂O₂ production [µM/s]"),
    ("gsh_mM", "glutathione [mM]"),
    ("ph_extracellular", "extracellular pH"),
    ("body_radius_cm", "body-region radius in the applicator [cm]"),
)
SPACINGS_HOURS = (6.0, 12.0, 24.0, 48.0, 72.0, 84.0, 120.0, 168.0)


def _physics_seed(scenario, arm_name: str):
    """The SeedSequence the pipeline gives this arm's physics (so results match the trial)."""
    from mhtcdt.decision import pipeline

    names = [a.name for a in scenario.randomised_arms]
    index = names.index(arm_name) if arm_name in names else len(names)
    return pipeline.physics_seed(scenario.seed, index)


@st.cache_data(show_spinner=False, max_entries=64)
def _eligible(indication: str, n_screened: int, seed: int, criteria: tuple[str, ...]) -> pd.DataFrame:
    from mhtcdt.cohorts import apply_criteria

    return apply_criteria(state.screened_cohort(indication, n_screened, seed), list(criteria)).eligible


@st.cache_data(show_spinner=False, max_entries=256)
def _outcome(scenario_toml: str, arm_name: str, patient_id: int, intervals: tuple[float, ...]) -> pd.DataFrame:
    """simulate_protocol for one patient, once per session spacing (rows in ``intervals`` order)."""
    from mhtcdt.decision.checks import protocol_for_arm
    from mhtcdt.decision.scenario import parse_scenario_text
    from mhtcdt.physics import simulate_protocol

    scenario = parse_scenario_text(scenario_toml)
    arm = scenario.arm(arm_name)
    eligible = _eligible(
        scenario.cohort.indication, scenario.cohort.n_screened, scenario.seed, tuple(scenario.cohort.criteria)
    )
    patient = eligible[eligible["patient_id"] == patient_id]
    seed = _physics_seed(scenario, arm_name)
    rows = []
    for interval in intervals:
        spec = arm if interval <= 0 else arm.model_copy(update={"session_interval_hours": float(interval)})
        out = simulate_protocol(patient, protocol_for_arm(spec), seed)
        rows.append(out.assign(session_interval_hours=arm.session_interval_hours if interval <= 0 else interval))
    return pd.concat(rows, ignore_index=True)


def _patient_label(row: pd.Series) -> str:
    return (
        f"#{int(row.patient_id)} · {row.tumor_volume_cm3:.0f} cm³ · KPS {int(row.kps)} · "
        f"perfusion {row.tumor_perfusion_mL_per_min_per_kg:.0f} mL/min/kg"
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
                    {"characteristic": label, "value": f"{row[col]:.3g}"}
                    for col, label in PATIENT_FIELDS
                    if col in row.index
                ]
            ),
            hide_index=True,
            width="stretch",
        )

    text = state.scenario_toml(scenario)
    with st.spinner("Simulating this patient's treatment…"):
        try:
            base = _outcome(text, arm_name, int(pid), (0.0,)).iloc[0]
        except Exception as exc:  # noqa: BLE001 - shown in the page
            state.show_problem(exc)
            return

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

    st.subheader("Chemistry and cell kill")
    left, right = st.columns([2, 3])
    with left:
        st.metric("cumulative ·OH exposure", f"{base.oh_cumulative_uM_min:.3g} µM·min")
        st.metric("GSH nadir", f"{base.gsh_nadir_mM:.2f} mM")
        st.metric("lipid-peroxide peak", f"{base.lipid_peroxide_peak:.3g} µM")
        st.metric(
            "total tumour kill",
            f"{base.log10_kill_total:.2f} log10",
            help=f"surviving fraction {base.surviving_fraction:.2e}",
        )
    with right:
        st.pyplot(figures.kill_by_mechanism(base))

    if arm.has_mht and arm.n_sessions > 1:
        st.subheader("Session spacing and thermotolerance")
        st.caption(
            "The same patient and protocol with the sessions spaced differently (start to start). "
            "Heat shock proteins induced by one session protect cells during the next ones."
        )
        with st.spinner("Re-simulating with other spacings…"):
            try:
                spacing = _outcome(text, arm_name, int(pid), SPACINGS_HOURS)
            except Exception as exc:  # noqa: BLE001 - shown in the page
                state.show_problem(exc)
                spacing = None
        if spacing is not None:
            st.pyplot(figures.kill_versus_spacing(spacing, arm.session_interval_hours))
    elif not arm.has_mht:
        st.caption("This arm has no heat sessions: choose an MHT arm to see the effect of session spacing.")


if __name__ == "__main__":
    render()
