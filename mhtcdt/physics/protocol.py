"""The treatment protocol of one arm: the schema every layer uses (fields, units, bounds, consistency).

:class:`Protocol` is a frozen pydantic model; the scenario's arm (``decision.scenario.ArmSpec``) is this
model plus its name. Field names carry their units. Bad input raises
:class:`~mhtcdt.errors.InputError` naming the field and value.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mhtcdt.errors import InputError
from mhtcdt.physics import chemistry as ch
from mhtcdt.physics import radiotherapy as rt


class Protocol(BaseModel):
    """One arm's treatment protocol (field names fixed by the contract; units in the names).

    Raises :class:`InputError` naming the field and value for any bad entry (unknown agent, negative dose,
    overlapping sessions, field above the H*f limit without permission, ...).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "protocol"
    agent: str | None = None
    np_dose_mg_Fe_per_cm3: float | None = None
    field_freq_kHz: float | None = None
    field_kA_per_m: float | None = None
    target_temperature_C: float | None = None
    healthy_max_C: float = 43.0
    n_sessions: int = 0
    session_minutes: float = 60.0
    session_interval_hours: float = 84.0
    rt_total_dose_Gy: float = 0.0
    rt_n_fractions: int = 0
    rt_fractions_per_week: float = 5.0
    rt_heat_interval_hours: float = 1.0
    cdt_agent: str | None = None
    co_agents: list[str] = Field(default_factory=list)
    safety_limit: Literal["atkinson_brezovich", "hergt_dutz"] = "hergt_dutz"
    allow_above_safety_limit: bool = False

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            loc = ".".join(str(p) for p in err["loc"]) or "protocol"
            raise InputError(loc, err.get("input"), err["msg"]) from None
        self._check()

    # ------------------------------------------------------------------ validation
    def _check(self) -> None:
        from mhtcdt.physics.field import max_field_within_limit_kA_per_m

        agents = ch.agent_table()
        if self.agent is not None and self.agent not in agents["agents"]:
            raise InputError("agent", self.agent, f"unknown agent; known: {ch.agent_names()}")
        if self.cdt_agent is not None and self.cdt_agent not in agents["agents"]:
            raise InputError("cdt_agent", self.cdt_agent, f"unknown agent; known: {ch.agent_names()}")
        for i, co in enumerate(self.co_agents):
            if co not in agents["co_agents"]:
                raise InputError(f"co_agents[{i}]", co, f"unknown co-agent; known: {ch.co_agent_names()}")
        if self.np_dose_mg_Fe_per_cm3 is not None:
            d = self.np_dose_mg_Fe_per_cm3
            if not (math.isfinite(d) and 0.0 < d <= 100.0):
                raise InputError("np_dose_mg_Fe_per_cm3", d, "iron dose must lie in (0, 100] mg Fe per cm3 tumour")
            if self.agent is None and self.cdt_agent is None:
                raise InputError("np_dose_mg_Fe_per_cm3", d, "a particle dose needs an agent or cdt_agent")
        if self.field_freq_kHz is not None and not (
            math.isfinite(self.field_freq_kHz) and 0 < self.field_freq_kHz <= 2000
        ):
            raise InputError("field_freq_kHz", self.field_freq_kHz, "frequency must lie in (0, 2000] kHz")
        if self.field_kA_per_m is not None and not (
            math.isfinite(self.field_kA_per_m) and 0 < self.field_kA_per_m <= 100
        ):
            raise InputError("field_kA_per_m", self.field_kA_per_m, "amplitude must lie in (0, 100] kA/m")
        if self.target_temperature_C is not None and not (37.0 < self.target_temperature_C < 60.0):
            raise InputError("target_temperature_C", self.target_temperature_C, "must lie in (37, 60) C")
        if not (37.0 < self.healthy_max_C <= 60.0):
            raise InputError("healthy_max_C", self.healthy_max_C, "must lie in (37, 60] C")
        if self.n_sessions < 0 or self.n_sessions > 100:
            raise InputError("n_sessions", self.n_sessions, "must lie in [0, 100]")
        if not (math.isfinite(self.session_minutes) and 0 < self.session_minutes <= 600):
            raise InputError("session_minutes", self.session_minutes, "must lie in (0, 600] min")
        if not (math.isfinite(self.session_interval_hours) and self.session_interval_hours > 0):
            raise InputError("session_interval_hours", self.session_interval_hours, "must be > 0 h")
        if self.n_sessions > 1 and self.session_minutes * 60.0 > self.session_interval_hours * 3600.0:
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
        if not (math.isfinite(self.rt_heat_interval_hours) and self.rt_heat_interval_hours >= 0):
            raise InputError("rt_heat_interval_hours", self.rt_heat_interval_hours, "must be >= 0 h")
        if self.rt_total_dose_Gy < 0:
            raise InputError("rt_total_dose_Gy", self.rt_total_dose_Gy, "dose must be >= 0 Gy")
        rt.check_schedule(self.rt_total_dose_Gy, self.rt_n_fractions, self.rt_fractions_per_week)

    # ------------------------------------------------------------------ what the arm contains
    @property
    def has_heat(self) -> bool:
        return self.agent is not None and self.n_sessions > 0

    @property
    def has_rt(self) -> bool:
        return self.rt_n_fractions > 0

    @property
    def has_cdt(self) -> bool:
        return self.cdt_agent is not None

    @property
    def titrated(self) -> bool:
        return self.has_heat and self.field_kA_per_m is None

    def session_start_hours(self) -> np.ndarray:
        return np.arange(self.n_sessions, dtype=np.float64) * self.session_interval_hours
