"""Which chemistry parameters a run may change, within what physical bounds, over what sourced ranges.

An override is ``{"<section>.<name>": value}`` for a number of ``data/chemistry.toml`` (``"k.<reaction>"`` /
``"Ea.<reaction>"`` [kJ/mol] for the reaction table, ``"agent.<name>"`` for the CDT agent of the run). It
reaches the chemistry through ``ChemistryConditions.overrides`` and, for cohorts and the PSA,
``Assumptions.chemistry_overrides``.

* :func:`known_override_keys` names every key;
* :func:`check_override` refuses a value outside its physical range (a yield outside [0, 1], a negative rate
  constant, a pH outside [0, 14] ...) with an ``InputError`` naming the key and the value;
* :func:`override_ranges` gives the sourced prior range of every key whose data entry has one (``k_range``,
  ``Ea_range`` of a reaction, ``<name>_range`` of another entry): what a probabilistic analysis samples;
* :data:`CHEMISTRY_PRESETS` / :func:`chemistry_preset` are named alternative assumptions (structural
  scenarios), e.g. ``"fenton_ph3_legacy"``: the pH-3 Fenton constant with a full .OH yield.
"""

from __future__ import annotations

import math
from typing import Any

from mhtcdt.datafiles import load_toml
from mhtcdt.errors import InputError

#: data sections whose numeric entries are overridable as "<section>.<name>"
OVERRIDABLE_SECTIONS = ("constants", "cytosol", "fenton", "water", "fenton_model", "ferritin", "ferroptosis")

#: per-run agent parameters (they replace the agent's value, after its size and pH scaling)
AGENT_KEYS = (
    "agent.core_diameter_nm",
    "agent.dissolution_per_s",
    "agent.surface_peroxidase_k_per_M_s",
    "agent.fe2_fraction_released",
    "agent.fenton_metal_equivalent",
)
CDT_KILL_KEYS = ("cdt_kill.heat_ros_sensitisation", "cdt_kill.sterilised_omega")

_INF = math.inf
_FRACTION = (0.0, 1.0, "a fraction must lie in [0, 1]")
_NONNEGATIVE = (0.0, _INF, "must be >= 0")
_POSITIVE = (1e-300, _INF, "must be > 0")
_PH = (0.0, 14.0, "a pH must lie in [0, 14]")
#: physical bounds (inclusive) of keys that need more than "finite and >= 0"
_BOUNDS: dict[str, tuple[float, float, str]] = {
    "constants.pKa_HO2": _PH,
    "constants.lysosomal_pH": _PH,
    "constants.dissolution_pH_order": (0.0, 3.0, "a reaction order in [H+] must lie in [0, 3]"),
    "cytosol.pH": (3.0, 9.0, "the compartment pH must lie in [3, 9]"),
    "cytosol.ionic_strength_M": (0.0, 0.5, "the Davies equation holds for ionic strength in [0, 0.5] M"),
    "fenton.log10_k0_A": (-_INF, _INF, "must be finite"),
    "fenton.log10_k1_A": (-_INF, _INF, "must be finite"),
    "fenton.log10_k1_sqrtI": (-_INF, _INF, "must be finite"),
    "fenton.log10_k1_I": (-_INF, _INF, "must be finite"),
    "fenton.log10_k2_A": (5.0, 15.0, "log10 k2 [1/(M2 s)] must lie in [5, 15]"),
    "fenton.log10_k2_sqrtI": (-_INF, _INF, "must be finite"),
    "fenton.log10_k2_I": (-_INF, _INF, "must be finite"),
    "water.log10_Kw_B": (-_INF, _INF, "must be finite"),
    "fenton_model.ph_dependent": (0.0, 1.0, "must be 1 (pH-dependent Fenton) or 0 (legacy pH-3 constant)"),
    "fenton_model.ligated_oh_fraction": _FRACTION,
    "fenton_model.ferryl_switch_pKa": _PH,
    "ferritin.shell_uM": _POSITIVE,
    "ferritin.iron_per_shell": (1.0, 4500.0, "a ferritin 24-mer holds at most ~4,500 Fe"),
    "ferritin.initial_loading_fraction": (1e-6, 1.0 - 1e-6, "the initial store must lie in (0, 1) of capacity"),
    "ferritin.relaxation_half_time_min": _POSITIVE,
    "ferroptosis.pufa_fraction_of_oh_scavenging": _FRACTION,
    "ferroptosis.pufa_fraction_of_ferryl_reactions": _FRACTION,
    "ferroptosis.lethal_peroxidised_fraction": (1e-6, 1.0, "must lie in (0, 1]"),
    "ferroptosis.chain_length": (0.0, 1e3, "chain length must lie in [0, 1000]"),
    "ferroptosis.death_hill": (0.1, 20.0, "Hill exponent must lie in [0.1, 20]"),
    "ferroptosis.pufa_pool_M": _POSITIVE,
    "ferroptosis.gpx4_Km_looh_M": _POSITIVE,
    "constants.K_gpx_GSH_M": _POSITIVE,
    "constants.glutathione_reductase_Km_M": _POSITIVE,
    "agent.core_diameter_nm": (0.5, 1e4, "core diameter must lie in [0.5, 10000] nm"),
    "agent.fe2_fraction_released": _FRACTION,
    "cdt_kill.sterilised_omega": (1e-3, 700.0, "the sterilised hazard integral must lie in [0.001, 700]"),
}
#: rate constants cannot exceed the diffusion limit by orders of magnitude; activation energies are bounded
_K_MAX = 1e11
_EA_MAX_KJ = 300.0

#: named alternative chemistry assumptions (structural scenarios); values are override dicts
CHEMISTRY_PRESETS: dict[str, dict[str, float]] = {
    # the pre-issue-13 Fenton step: pH-3, 25 C constant (63 1/(M s)) with Arrhenius scaling, every event .OH
    "fenton_ph3_legacy": {"fenton_model.ph_dependent": 0.0},
    # all labile Fe(II) ligated (every Fenton event gives .OH) / none ligated (ferryl near neutral pH)
    "fenton_all_oh": {"fenton_model.ligated_oh_fraction": 1.0},
    "fenton_uncomplexed_iron": {"fenton_model.ligated_oh_fraction": 0.0},
}


def _chemistry_data() -> dict:
    return load_toml("mhtcdt.physics", "data/chemistry.toml")


def known_override_keys() -> set[str]:
    """Every key accepted in ``ChemistryConditions.overrides`` and ``Assumptions.chemistry_overrides``."""
    chem = _chemistry_data()
    reactions = chem["reactions"]
    keys = {f"k.{r}" for r in reactions} | {f"Ea.{r}" for r in reactions}
    for section in OVERRIDABLE_SECTIONS:
        keys |= {f"{section}.{k}" for k, v in chem[section].items() if _is_number(v)}
    return keys | set(CDT_KILL_KEYS) | set(AGENT_KEYS)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_override(key: str, value: Any) -> float:
    """``value`` as a float if ``key`` is known and ``value`` within its physical range; else InputError
    (field ``overrides.<key>``) naming the key and the value."""
    field = f"overrides.{key}"
    if key not in known_override_keys():
        raise InputError(field, value, "unknown parameter; known: " + ", ".join(sorted(known_override_keys())))
    if not (_is_number(value) and math.isfinite(value)):
        raise InputError(field, value, f"{key} must be a finite number")
    v = float(value)
    if key.startswith("k."):
        lo, hi, msg = 0.0, _K_MAX, f"rate constants must lie in [0, {_K_MAX:g}]"
    elif key.startswith("Ea."):
        lo, hi, msg = 0.0, _EA_MAX_KJ, f"activation energies must lie in [0, {_EA_MAX_KJ:g}] kJ/mol"
    else:
        lo, hi, msg = _BOUNDS.get(key, _NONNEGATIVE)
    if not (lo <= v <= hi):
        raise InputError(field, value, f"{key} = {value!r} is outside its physical range: {msg}")
    if key == "fenton_model.ph_dependent" and v not in (0.0, 1.0):
        raise InputError(field, value, f"{key} = {value!r}: {msg}")
    return v


def check_overrides(overrides: dict) -> None:
    """:func:`check_override` for every entry."""
    if not isinstance(overrides, dict):
        raise InputError("overrides", type(overrides).__name__, "must be a dict {parameter: value}")
    for key, value in overrides.items():
        check_override(key, value)


def override_ranges() -> dict[str, tuple[float, float]]:
    """Sourced prior range (low, high) of every override key whose data entry gives one.

    Reactions: ``"k.<r>"`` -> ``k_range`` [1/(M s) or 1/s], ``"Ea.<r>"`` -> ``Ea_range`` [kJ/mol]; other
    sections: ``"<section>.<name>"`` -> ``<name>_range``. The sources are the tables' ``source`` entries.
    """
    chem = _chemistry_data()
    out: dict[str, tuple[float, float]] = {}
    for name, r in chem["reactions"].items():
        out[f"k.{name}"] = (float(r["k_range"][0]), float(r["k_range"][1]))
        out[f"Ea.{name}"] = (float(r["Ea_range"][0]), float(r["Ea_range"][1]))
    for section in (*OVERRIDABLE_SECTIONS, "cdt_kill"):
        table = chem[section]
        for k, v in table.items():
            if _is_number(v) and isinstance(table.get(f"{k}_range"), list):
                lo, hi = table[f"{k}_range"]
                out[f"{section}.{k}"] = (float(lo), float(hi))
    return out


def chemistry_preset(name: str) -> dict[str, float]:
    """The overrides of a named chemistry scenario (:data:`CHEMISTRY_PRESETS`), a copy."""
    if name not in CHEMISTRY_PRESETS:
        raise InputError("chemistry_preset", name, f"unknown chemistry preset; known: {sorted(CHEMISTRY_PRESETS)}")
    return dict(CHEMISTRY_PRESETS[name])
