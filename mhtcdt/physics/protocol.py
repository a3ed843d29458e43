"""The treatment protocol of one arm: the one schema of an arm's fields, units, bounds and consistency rules.

:class:`Protocol` is a frozen pydantic model. Each field's bounds and description are declared here once;
the scenario's arm (``decision.scenario.ArmSpec``) is this model with a required name, so a new protocol
field is added in one place and the scenario TOML, its validation and the app's input widgets follow.

Validation runs inside pydantic (field constraints, then :meth:`Protocol._consistent` for what needs
several fields or the agent tables), so it also runs when a scenario file validates its ``[[arms]]``.
Constructed directly, a bad protocol raises :class:`~mhtcdt.errors.InputError` naming the field and value
(the first problem); inside a scenario every arm's problem is reported with its dotted path
(``arms[1].n_sessions``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mhtcdt.errors import MISSING, InputError
from mhtcdt.physics import chemistry as ch
from mhtcdt.physics import radiotherapy as rt

#: A protocol's (an arm's) name: shown in tables, figures and reports.
ProtocolName = Annotated[str, Field(min_length=1, max_length=80, description="Arm or protocol name.")]


class Protocol(BaseModel):
    """One arm's treatment protocol (field names fixed by the contract; units in the names).

    Raises :class:`InputError` naming the field and value for any bad entry (unknown agent, negative dose,
    overlapping sessions, field above the H*f limit without permission, ...).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: ProtocolName = "protocol"
    agent: str | None = Field(None, description="Nanoparticle agent key (physics/data/agents.toml); none = no MHT.")
    np_dose_mg_Fe_per_cm3: float | None = Field(
        None, gt=0.0, le=100.0, description="Iron dose per cm3 of tumour [mg Fe/cm3]; omit to plan it per patient."
    )
    field_freq_kHz: float | None = Field(None, gt=0.0, le=2000.0, description="Field frequency [kHz].")
    field_kA_per_m: float | None = Field(
        None, gt=0.0, le=100.0, description="Fixed field amplitude [kA/m]; omit to titrate to target_temperature_C."
    )
    # (37, 60) C: the titration controller's range (session.SessionControl)
    target_temperature_C: float | None = Field(
        None,
        gt=37.0,
        lt=60.0,
        description="Controller target [degC]: the thermometry reading (clinical) or the tumour margin (margin_pi).",
    )
    field_control: Literal["clinical", "margin_pi"] = Field(
        "clinical",
        description="How a titrated amplitude is chosen: 'clinical' = raised in steps until the thermometry target, "
        "the patient's tolerance ceiling or a normal-tissue limit (as practised with NanoTherm); 'margin_pi' = PI "
        "control of the tumour-margin temperature.",
    )
    healthy_max_C: float = Field(43.0, gt=37.0, lt=60.0, description="Healthy-tissue maximum [degC].")
    healthy_cem43_limit_min: float | None = Field(
        None,
        gt=0.0,
        le=1000.0,
        description="Per-session CEM43 limit of the hottest healthy tissue [min]; omit for the host tissue's "
        "sourced threshold (brain 15 min).",
    )
    n_sessions: int = Field(0, ge=0, le=50, description="Heat sessions [count].")
    session_minutes: float = Field(60.0, gt=0.0, le=600.0, description="Session length [min].")
    session_interval_hours: float = Field(84.0, gt=0.0, le=24.0 * 60, description="Start-to-start spacing [h].")
    rt_total_dose_Gy: float = Field(0.0, ge=0.0, le=120.0, description="Total radiotherapy dose [Gy].")
    rt_n_fractions: int = Field(0, ge=0, le=60, description="Radiotherapy fractions [count].")
    rt_fractions_per_week: float = Field(5.0, gt=0.0, le=14.0, description="Fractions per week [1/week].")
    rt_heat_interval_hours: float = Field(
        1.0, ge=0.0, le=72.0, description="Time from end of a heat session to the same day's RT fraction [h]."
    )
    cdt_agent: str | None = Field(None, description="Chemodynamic agent key (physics/data/agents.toml).")
    co_agents: list[str] = Field(default_factory=list, description="Co-agents, e.g. 'buthionine_sulfoximine'.")
    safety_limit: Literal["atkinson_brezovich", "hergt_dutz"] = Field(
        "hergt_dutz", description="H*f limit that the field protocol must respect."
    )
    allow_above_safety_limit: bool = Field(False, description="Explicitly allow a field above the chosen limit.")
    # Systemic therapy: no physics of its own; the outcome model (mhtcdt.decision.model.outcome) gives each its
    # clinical effect, with sources in mhtcdt/decision/model/data/outcome_params.toml [systemic_therapy].
    tmz_concomitant: bool = Field(
        False,
        description="Temozolomide 75 mg/m2 daily from the first to the last day of radiotherapy (Stupp 2005); "
        "needs radiotherapy fractions.",
    )
    tmz_adjuvant_cycles: int = Field(
        0,
        ge=0,
        le=12,
        description="Adjuvant temozolomide cycles, 150-200 mg/m2 on days 1-5 of each 28-day cycle (Stupp 2005: 6) "
        "[count].",
    )
    lomustine: bool = Field(
        False, description="Lomustine 110 mg/m2 every 6 weeks until progression (EORTC 26101 control arm, Wick 2017)."
    )
    bevacizumab: bool = Field(
        False, description="Bevacizumab 10 mg/kg every 2 weeks until progression (EORTC 26101, RTOG 1205)."
    )
    # Pancreas (locally advanced pancreatic cancer): chemotherapy regimens after the induction that precedes entry.
    gemcitabine_cycles: int = Field(
        0,
        ge=0,
        le=12,
        description="Gemcitabine 1000 mg/m2 on days 1, 8 and 15 of each 28-day cycle (LAP07, NEOPAN) [count]; "
        "pancreas only.",
    )
    folfirinox_cycles: int = Field(
        0,
        ge=0,
        le=24,
        description="FOLFIRINOX (oxaliplatin 85, irinotecan 180, leucovorin 400 mg/m2, fluorouracil 400 mg/m2 bolus + "
        "2400 mg/m2 over 46 h) every 14 days (NEOPAN, Conroy 2011) [count]; pancreas only.",
    )

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            cause = err.get("ctx", {}).get("error")
            if isinstance(cause, InputError):  # raised by _consistent: already names its field
                raise cause from None
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
            value = MISSING if err["type"] == "missing" else err.get("input")
            raise InputError(path or "protocol", value, err["msg"]) from None

    # ------------------------------------------------------------------ validation
    @model_validator(mode="after")
    def _consistent(self) -> Protocol:
        """Rules over several fields or the data tables (the field bounds are checked before)."""
        from mhtcdt.physics.field import max_field_within_limit_kA_per_m

        agents = ch.agent_table()
        if self.agent is not None and self.agent not in agents["agents"]:
            raise InputError("agent", self.agent, f"unknown agent; known: {ch.agent_names()}")
        if self.cdt_agent is not None and self.cdt_agent not in agents["agents"]:
            raise InputError("cdt_agent", self.cdt_agent, f"unknown agent; known: {ch.agent_names()}")
        for i, co in enumerate(self.co_agents):
            if co not in agents["co_agents"]:
                raise InputError(f"co_agents[{i}]", co, f"unknown co-agent; known: {ch.co_agent_names()}")
        if self.np_dose_mg_Fe_per_cm3 is not None and self.agent is None and self.cdt_agent is None:
            raise InputError(
                "np_dose_mg_Fe_per_cm3", self.np_dose_mg_Fe_per_cm3, "a particle dose needs an agent or cdt_agent"
            )
        if self.n_sessions > 1 and self.session_minutes * 60.0 >= self.session_interval_hours * 3600.0:
            raise InputError(
                "session_minutes",
                self.session_minutes,
                f"sessions overlap: {self.session_minutes} min sessions every {self.session_interval_hours} h",
            )
        if self.n_sessions > 0:
            if self.agent is None:
                raise InputError("agent", None, f"{self.n_sessions} heat sessions need a nanoparticle agent")
            if self.field_freq_kHz is None:
                raise InputError("field_freq_kHz", None, "heat sessions need a field frequency")
            if self.field_kA_per_m is None and self.target_temperature_C is None:
                raise InputError(
                    "target_temperature_C",
                    None,
                    "heat sessions need field_kA_per_m (fixed) or target_temperature_C (titrated)",
                )
            if self.field_kA_per_m is not None and not self.allow_above_safety_limit:
                h_max = max_field_within_limit_kA_per_m(self.field_freq_kHz, self.safety_limit)
                if self.field_kA_per_m > h_max * (1 + 1e-12):
                    raise InputError(
                        "field_kA_per_m",
                        self.field_kA_per_m,
                        f"H*f above the {self.safety_limit} limit at {self.field_freq_kHz} kHz (max "
                        f"{h_max:.3g} kA/m); set allow_above_safety_limit to run it anyway",
                    )
        rt.check_schedule(self.rt_total_dose_Gy, self.rt_n_fractions, self.rt_fractions_per_week)
        if self.gemcitabine_cycles > 0 and self.folfirinox_cycles > 0:
            raise InputError(
                "folfirinox_cycles",
                self.folfirinox_cycles,
                f"one chemotherapy regimen per arm: this arm already gives {self.gemcitabine_cycles} gemcitabine "
                "cycles",
            )
        if self.tmz_concomitant and self.rt_n_fractions == 0:
            raise InputError(
                "tmz_concomitant", True, "concomitant temozolomide is given with radiotherapy: set rt_n_fractions"
            )
        return self

    # ------------------------------------------------------------------ what the arm contains
    @property
    def has_mht(self) -> bool:
        """True when the arm has magnetic hyperthermia: an agent and at least one heat session."""
        return self.agent is not None and self.n_sessions > 0

    @property
    def has_rt(self) -> bool:
        """True when the arm has radiotherapy fractions."""
        return self.rt_n_fractions > 0

    @property
    def has_cdt(self) -> bool:
        """True when the arm has a chemodynamic (Fenton) agent."""
        return self.cdt_agent is not None

    @property
    def has_temozolomide(self) -> bool:
        """True when the arm has concomitant or adjuvant temozolomide."""
        return self.tmz_concomitant or self.tmz_adjuvant_cycles > 0

    @property
    def has_pancreas_chemotherapy(self) -> bool:
        """True when the arm has gemcitabine or FOLFIRINOX cycles."""
        return self.gemcitabine_cycles > 0 or self.folfirinox_cycles > 0

    @property
    def has_systemic_therapy(self) -> bool:
        """True when the arm has temozolomide, lomustine, bevacizumab, gemcitabine or FOLFIRINOX."""
        return self.has_temozolomide or self.lomustine or self.bevacizumab or self.has_pancreas_chemotherapy

    @property
    def titrated(self) -> bool:
        """True when heat sessions titrate the field to ``target_temperature_C`` (no fixed amplitude)."""
        return self.has_mht and self.field_kA_per_m is None

    def session_start_hours(self) -> np.ndarray:
        """Start time of each heat session from the first one [h], shape (n_sessions,)."""
        return np.arange(self.n_sessions, dtype=np.float64) * self.session_interval_hours
