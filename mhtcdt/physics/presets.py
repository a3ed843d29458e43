"""Preset protocols: the clinical NanoTherm schedule (Maier-Hauff 2011) and scenario-only CDT arms."""

from __future__ import annotations

from typing import Any

from mhtcdt.errors import InputError
from mhtcdt.physics.protocol import Protocol

# Maier-Hauff K et al. J Neurooncol 2011;103:317: NanoTherm 0.25 mL/cm3 x 112 mg Fe/mL = 28 mg Fe/cm3, MFH 300F
# applicator at 100 kHz, 6 x 60 min twice weekly (schedule recalled). Amplitude raised in steps (clinical
# control, heat_delivery.toml) until the thermometry reading reaches 43 C, the patient's tolerance ceiling or a
# normal-tissue limit (healthy tissue <= 43 C, per-session CEM43 <= the host tissue's threshold). 43 C is the
# conventional hyperthermia threshold (the CEM43 breakpoint, Sapareto & Dewey IJROBP 1984;10:787); the
# thermometry rule of the NanoTherm studies was not read (validation: docs/validation.md).
_NANOTHERM_HEAT = dict(
    agent="nanotherm_mfl_as1",
    np_dose_mg_Fe_per_cm3=28.0,
    field_freq_kHz=100.0,
    target_temperature_C=43.0,
    healthy_max_C=43.0,
    n_sessions=6,
    session_minutes=60.0,
    session_interval_hours=84.0,
)
# Maier-Hauff 2011 RT: median 30 Gy in 2 Gy fractions, 5 per week (15 fractions), 1 h after the heat session.
_RT_MAIER_HAUFF = dict(rt_total_dose_Gy=30.0, rt_n_fractions=15, rt_fractions_per_week=5.0, rt_heat_interval_hours=1.0)
# Scenario only (no clinical CDT evidence): GOx-loaded hollow iron oxide, which both heats and catalyses Fenton
# chemistry, at 10 mg Fe/cm3.
_CDT = dict(cdt_agent="gox_hollow_iron_oxide")
_CDT_HEAT = {**_NANOTHERM_HEAT, "agent": "gox_hollow_iron_oxide", "np_dose_mg_Fe_per_cm3": 10.0}

#: Preset protocols by key: the fields of :class:`Protocol`.
PRESETS: dict[str, dict] = {
    "rt_alone": dict(name="RT alone", **_RT_MAIER_HAUFF),
    "mht_alone": dict(name="NanoTherm MHT alone", **_NANOTHERM_HEAT),
    "mht_rt_nanotherm": dict(name="NanoTherm MHT + RT", **_NANOTHERM_HEAT, **_RT_MAIER_HAUFF),
    "cdt_alone": dict(name="CDT alone", np_dose_mg_Fe_per_cm3=10.0, **_CDT),
    "mht_cdt": dict(name="MHT + CDT", **_CDT_HEAT, **_CDT),
    "mht_cdt_rt": dict(name="MHT + CDT + RT", **_CDT_HEAT, **_CDT, **_RT_MAIER_HAUFF),
}


def protocol_preset(name: str, **changes: Any) -> Protocol:
    """A preset protocol (``rt_alone``, ``mht_alone``, ``mht_rt_nanotherm``, ``cdt_alone``, ``mht_cdt``,
    ``mht_cdt_rt``), optionally with fields changed."""
    if not isinstance(name, str) or name not in PRESETS:
        raise InputError("preset", name, f"unknown protocol preset; known: {sorted(PRESETS)}")
    return Protocol(**{**PRESETS[name], **changes})
