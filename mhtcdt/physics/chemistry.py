"""Fenton / chemodynamic (CDT) reaction network with GSH buffering, ferritin storage and lipid peroxidation.

The full mechanism (every radical an explicit species) solved with scipy's Radau at tight tolerance;
this is the oracle for the fast numba path in :mod:`mhtcdt.physics.chemistry_fast`.

Species (molar, one well-mixed cytosolic volume at the cytosolic pH; particle iron referred to cell water)::

    Fe2, Fe3      labile Fe2+ / Fe3+
    H2O2          hydrogen peroxide (flux balance: production - catalase - GPx - reactions)
    OH            hydroxyl radical
    SO            superoxide, HO2. + O2.- (acid-base split by pKa 4.8 at the compartment pH)
    GSH, GSSG     glutathione pool (GSH + 2 GSSG conserved by every reaction but synthesis/turnover)
    LOOH, LH      lipid hydroperoxide and oxidisable PUFA chains (ferroptosis, see ferroptosis.py)
    FeP           iron still in the particle lattice (dissolves into Fe2+/Fe3+ in endolysosomes)
    O2            dissolved oxygen (released by eqns 3, catalase, dismutation; relaxes to tissue level)
    FeO           ferryl Fe(IV)=O, the Fenton product of uncomplexed Fe(II) near neutral pH
    FeT           iron stored in ferritin (capacity-limited; Fe2 + Fe3 + FeP + FeO + FeT is conserved)

Reactions (review 000 eqns (1)-(8) and the other steps; constants in data/chemistry.toml)::

    (1)  Fe2 + H2O2 -> Y (Fe3 + OH) + (1 - Y) FeO     rate k(pH, T) (fenton.py: Millero & Sotolongo 1989),
         .OH yield Y(pH, ligation); legacy option: the pH-3 constant with Y = 1
         FeO + Fe2 -> 2 Fe3 ; FeO + GSH -> Fe3 + 1/2 GSSG ; FeO + biomolecules -> Fe3 (a share starts
         lipid peroxidation)
         Fenton-like: Fe3 + H2O2 -> Fe2 + SO
    (2)  OH + H2O2 -> SO                   (3)  Fe3 + HO2 -> Fe2 + O2 ;  Fe3 + O2- -> Fe2 + O2
    spontaneous dismutation: HO2 + HO2 and HO2 + O2- -> H2O2 + O2
    (4)  Fe2 + HO2 -> Fe3 + H2O2 ;  Fe2 + O2- -> Fe3 + H2O2
    (5)  Fe2 + OH -> Fe3                   terminations: 2 OH -> H2O2 ; 2 HO2 -> H2O2 + O2 ;
                                           OH + HO2 -> O2 ; OH + O2- -> O2
    (7)  GSH + Fe3 -> Fe2 + 1/2 GSSG       (8)  GSH + OH -> 1/2 GSSG ; 2 GSH + H2O2 -> GSSG
    OH + biomolecules (pseudo-first order; a fraction initiates lipid peroxidation)
    SOD: SO -> 1/2 H2O2 + 1/2 O2 ; catalase: H2O2 -> 1/2 O2 ; GPx: H2O2 + 2 GSH -> GSSG
    glutathione reductase: GSSG -> 2 GSH ; GSH synthesis/turnover toward the (co-agent modified) pool
    particle dissolution (first order, rate ~ (12 nm/d) [H+]^n at the lysosomal pH, Arrhenius); surface
    peroxidase-like OH production k (12 nm/d) [FeP][H2O2]
    ferritin: Fe_i -> FeT at k_in Fe_i (1 - FeT/C), FeT -> Fe_i at k_out,i FeT/C (capacity C; the basal
    labile pool is its steady state, excesses relax with the K562 half-time; a full store takes no more)

Every constant follows Arrhenius ``k(T) = k_ref exp(-Ea/R (1/T - 1/T_ref))`` with its own Ea, driven by the
temperature history, so heat accelerates CDT; the pH-dependent Fenton constant follows its own temperature law
(fenton.py). CDT has no clinical evidence; its kill is a scenario assumption (ferroptosis.py).

Public API
----------
``ChemistryConditions`` (per run inputs), ``chemistry_parameters()`` (data file), ``pack_parameters``,
``initial_state``, ``arrhenius``, ``rate_constants``, ``full_rhs``, ``solve_oracle`` -> ``ChemistryResult``;
the override keys, bounds, ranges and presets of :mod:`mhtcdt.physics.chemistry_overrides`
(``known_override_keys``, ``override_ranges``, ``chemistry_preset``) are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from scipy.integrate import solve_ivp

from mhtcdt.datafiles import load_toml
from mhtcdt.errors import InputError, ModelError
from mhtcdt.physics import fenton
from mhtcdt.physics import ferroptosis as fp
from mhtcdt.physics.chemistry_overrides import (
    CHEMISTRY_PRESETS,
    check_overrides,
    chemistry_preset,
    known_override_keys,
    override_ranges,
)
from mhtcdt.physics.dose import GAS_CONSTANT_J_PER_MOL_K, KELVIN_OFFSET

__all__ = [
    "CHEMISTRY_PRESETS",
    "ChemistryConditions",
    "ChemistryResult",
    "agent_names",
    "agent_table",
    "arrhenius",
    "chemistry_parameters",
    "chemistry_preset",
    "co_agent_names",
    "full_rhs",
    "initial_state",
    "initial_states",
    "initial_states_approximate",
    "known_override_keys",
    "override_ranges",
    "pack_parameters",
    "rate_constants",
    "solve_oracle",
]

GAS_CONSTANT = GAS_CONSTANT_J_PER_MOL_K  # [J/(mol K)], CODATA 2018 (one value for the package)
KELVIN = KELVIN_OFFSET
BODY_TEMPERATURE_C = 37.0
FE_MOLAR_MASS_G_PER_MOL = 55.845
SECONDS_PER_DAY = 86400.0
REFERENCE_CORE_NM = 12.0  # agent dissolution and surface constants are quoted for 12 nm cores

# ---------------------------------------------------------------- reaction indices (rate-constant table)
REACTION_KEYS = (
    "fe2_h2o2",
    "fe3_h2o2",
    "oh_h2o2",
    "fe3_ho2",
    "fe3_o2minus",
    "fe2_ho2",
    "fe2_o2minus",
    "fe2_oh",
    "oh_oh",
    "ho2_ho2",
    "oh_ho2",
    "oh_o2minus",
    "gsh_oh",
    "gsh_h2o2",
    "gsh_fe3",
    "oh_biomolecules",
    "sod",
    "catalase",
    "gpx_h2o2",
    "ho2_o2minus",
    "ferryl_fe2",
    "ferryl_gsh",
    "ferryl_biomolecules",
)
R_FE2_H2O2, R_FE3_H2O2, R_OH_H2O2, R_FE3_HO2, R_FE3_O2M, R_FE2_HO2, R_FE2_O2M, R_FE2_OH = range(8)
R_OH_OH, R_HO2_HO2, R_OH_HO2, R_OH_O2M, R_GSH_OH, R_GSH_H2O2, R_GSH_FE3, R_OH_BIO = range(8, 16)
R_SOD, R_CAT, R_GPX, R_HO2_O2M = 16, 17, 18, 19
R_FERRYL_FE2, R_FERRYL_GSH, R_FERRYL_BIO = 20, 21, 22
# extra temperature-dependent processes (not in the [reactions] table)
R_GR, R_FE2_LOOH, R_GPX4, R_DISS, R_SURF = 23, 24, 25, 26, 27
N_RATES = 28

# ---------------------------------------------------------------- scalar parameter indices
(
    P_F_HO2,
    P_GSH_POOL0,
    P_TURNOVER,
    P_K_GPX_GSH,
    P_KM_GR,
    P_FE2_BASAL,
    P_FE3_BASAL,
    P_FT_K_IN,
    P_O2_0,
    P_K_O2,
    P_H2O2_PROD,
    P_F_PUFA,
    P_CHAIN,
    P_BASAL_INIT,
    P_KM_LOOH,
    P_GPX4_ACTIVE,
    P_LETHAL_FRACTION,
    P_HILL,
    P_HMAX,
    P_HEAT_ROS,
    P_FE2_FRAC_RELEASE,
    P_METAL_EQ,
    P_LH0,
    P_K_REPAIR,
    P_OMEGA_CAP,
    P_P_BASAL,
    P_PH,
    P_FENTON_PH_DEPENDENT,
    P_OH_YIELD,
    P_F_PUFA_FERRYL,
    P_FT_CAPACITY,
    P_FT_K_OUT2,
    P_FT_K_OUT3,
    P_FT0,
) = range(34)
P_FENTON0 = 34  # fenton.N_COEF coefficients of the Millero-Sotolongo rate (fenton.pack_coefficients)
N_SCALARS = P_FENTON0 + fenton.N_COEF

# ---------------------------------------------------------------- state indices (full mechanism)
S_FE2, S_FE3, S_H2O2, S_OH, S_SO, S_GSH, S_GSSG, S_LOOH, S_LH, S_FEP, S_O2, S_FEO, S_FT = range(13)
S_OH_CUM, S_FEO_CUM, S_OMEGA_F, S_OMEGA_I = 13, 14, 15, 16
N_FULL = 17
N_SPECIES = 13
OH_CUM_SCALE = 1.0e9  # the OH-exposure state integrates 1e9*[OH] (M) so it has the magnitude of concentrations
FEO_CUM_SCALE = 1.0e6  # the ferryl-exposure state integrates 1e6*[FeO] (M)
SPECIES_NAMES = ("Fe2", "Fe3", "H2O2", "OH", "SO", "GSH", "GSSG", "LOOH", "LH", "FeP", "O2", "FeO", "FeT")


def arrhenius(k_ref: float, ea_J_per_mol: float, t_ref_K: float, temperature_C: float) -> float:
    """Rate constant at ``temperature_C``: ``k_ref * exp(-Ea/R * (1/T - 1/T_ref))`` (T in kelvin)."""
    t = temperature_C + KELVIN
    return k_ref * math.exp(-ea_J_per_mol / GAS_CONSTANT * (1.0 / t - 1.0 / t_ref_K))


def _chemistry_data() -> dict:
    """The shared parsed ``data/chemistry.toml`` (read-only; :func:`chemistry_parameters` gives a copy)."""
    return load_toml("mhtcdt.physics", "data/chemistry.toml")


def chemistry_parameters() -> dict:
    """The parsed ``data/chemistry.toml`` (copy; callers may modify it for sensitivity runs)."""
    chem = _chemistry_data()
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in chem.items()}


def agent_table() -> dict:
    """The parsed ``data/agents.toml``: ``{"agents": {...}, "co_agents": {...}}`` (cached and shared: read-only)."""
    return load_toml("mhtcdt.physics", "data/agents.toml")


def agent_names() -> list[str]:
    """Keys of the nanoparticle / chemodynamic agents in ``data/agents.toml``."""
    return sorted(agent_table()["agents"])


def co_agent_names() -> list[str]:
    """Keys of the co-agents (e.g. ``buthionine_sulfoximine``) in ``data/agents.toml``."""
    return sorted(agent_table()["co_agents"])


@dataclass(frozen=True)
class ChemistryConditions:
    """Inputs of one chemistry run (one patient, one tumour element).

    Attributes
    ----------
    ph: pH of the compartment where the radical chemistry runs (3..9); None = the cytosolic pH of the data
        file (``cytosol.pH``, 7.2, or its override). The patient's extracellular pH does not belong here.
    gsh_mM: baseline intracellular GSH before co-agents [mM].
    h2o2_production_uM_per_s: endogenous intracellular H2O2 production flux [uM/s].
    particle_iron_mM: internalised particle iron referred to cell water [mM] (0 = no particles).
    agent: key of the CDT agent in agents.toml (None = endogenous chemistry only).
    co_agents: keys in agents.toml [co_agents].
    overrides: {parameter name: value} replacing entries of chemistry.toml, e.g. ``{"k.fe3_ho2": 2e3,
        "fenton_model.ligated_oh_fraction": 0.3, "ferroptosis.chain_length": 5}`` (keys and physical bounds:
        :mod:`mhtcdt.physics.chemistry_overrides`); for scenarios, tests and sensitivity runs.
    """

    ph: float | None = None
    gsh_mM: float = 4.0
    h2o2_production_uM_per_s: float = 1.0
    particle_iron_mM: float = 0.0
    agent: str | None = None
    co_agents: tuple[str, ...] = ()
    overrides: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_conditions(self)

    @property
    def compartment_ph(self) -> float:
        """The pH the chemistry runs at: ``ph`` or the (overridden) cytosolic pH."""
        if self.ph is not None:
            return float(self.ph)
        return float(self.overrides.get("cytosol.pH", _chemistry_data()["cytosol"]["pH"]))


def validate_conditions(c: ChemistryConditions) -> None:
    """Raise InputError naming the field for non-physical inputs."""
    if c.ph is not None and not (isinstance(c.ph, int | float) and math.isfinite(c.ph) and 3.0 <= c.ph <= 9.0):
        raise InputError("ph", c.ph, "pH must lie in [3, 9]")
    if not (math.isfinite(c.gsh_mM) and 0.01 <= c.gsh_mM <= 50.0):
        raise InputError("gsh_mM", c.gsh_mM, "intracellular GSH must lie in [0.01, 50] mM (viable cells)")
    if not (math.isfinite(c.h2o2_production_uM_per_s) and 0.0 <= c.h2o2_production_uM_per_s <= 1000.0):
        raise InputError("h2o2_production_uM_per_s", c.h2o2_production_uM_per_s, "must lie in [0, 1000] uM/s")
    if not (math.isfinite(c.particle_iron_mM) and 0.0 <= c.particle_iron_mM <= 5000.0):
        raise InputError("particle_iron_mM", c.particle_iron_mM, "must lie in [0, 5000] mM")
    check_overrides(c.overrides)
    agents = agent_table()
    if c.agent is not None and c.agent not in agents["agents"]:
        raise InputError("agent", c.agent, f"unknown agent; known: {agent_names()}")
    for i, name in enumerate(c.co_agents):
        if name not in agents["co_agents"]:
            raise InputError(f"co_agents[{i}]", name, f"unknown co-agent; known: {co_agent_names()}")


def pack_parameters(c: ChemistryConditions) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arrays for the solvers: ``(k_ref, ea_J_per_mol, t_ref_K, scalars)``.

    Rate-constant overrides use keys ``"k.<reaction>"`` and ``"Ea.<reaction>"`` (kJ/mol); other keys are
    ``"<section>.<name>"`` of chemistry.toml (checked by :func:`validate_conditions`).
    """
    chem, agents = _chemistry_data(), agent_table()
    ov = c.overrides

    def value(section: str, name: str) -> float:
        return float(ov.get(f"{section}.{name}", chem[section][name]))

    t_ref = chem["conventions"]["reference_temperature_C"] + KELVIN
    body = BODY_TEMPERATURE_C + KELVIN
    k_ref = np.zeros(N_RATES)
    ea = np.zeros(N_RATES)
    t_refs = np.full(N_RATES, t_ref)
    for i, key in enumerate(REACTION_KEYS):
        r = chem["reactions"][key]
        k_ref[i] = float(ov.get(f"k.{key}", r["k"]))
        ea[i] = float(ov.get(f"Ea.{key}", r["Ea_kJ_per_mol"])) * 1e3
    # enzymes (catalase, GPx, SOD) are quoted at body temperature
    for i in (R_SOD, R_CAT, R_GPX):
        t_refs[i] = body

    k_ref[R_GR] = value("constants", "glutathione_reductase_Vmax_M_per_s")
    ea[R_GR] = value("constants", "glutathione_reductase_Ea_kJ_per_mol") * 1e3
    t_refs[R_GR] = body
    k_ref[R_FE2_LOOH] = value("ferroptosis", "k_fe2_looh")
    ea[R_FE2_LOOH] = value("ferroptosis", "fe2_looh_Ea_kJ_per_mol") * 1e3
    k_ref[R_GPX4] = value("ferroptosis", "gpx4_Vmax_M_per_s")
    ea[R_GPX4] = value("ferroptosis", "gpx4_Ea_kJ_per_mol") * 1e3
    t_refs[R_GPX4] = body

    # agent and co-agents
    gsh_inhibition = 0.0
    gpx4_active = 1.0
    for name in c.co_agents:
        co = agents["co_agents"][name]
        gsh_inhibition = 1.0 - (1.0 - gsh_inhibition) * (1.0 - co["gsh_synthesis_inhibition"])
        gpx4_active *= 1.0 - co["gpx4_inhibition"]
    h2o2_boost = 0.0
    fe2_frac = 1.0 / 3.0
    metal_eq = 0.0
    if c.agent is not None:
        a = agents["agents"][c.agent]
        size = REFERENCE_CORE_NM / float(ov.get("agent.core_diameter_nm", a["core_diameter_nm"]))
        ph_lys = value("constants", "lysosomal_pH")
        k_diss_body = (
            a["dissolution_per_day_12nm_pH4p75"]
            / SECONDS_PER_DAY
            * size
            * 10.0 ** (-value("constants", "dissolution_pH_order") * (ph_lys - 4.75))
        )
        k_ref[R_DISS] = float(ov.get("agent.dissolution_per_s", k_diss_body))
        k_ref[R_SURF] = float(
            ov.get("agent.surface_peroxidase_k_per_M_s", a["surface_peroxidase_k_12nm_per_M_s"] * size)
        )
        h2o2_boost = a["h2o2_production_boost_uM_per_s"] * 1e-6
        fe2_frac = a["fe2_fraction_released"]
        metal_eq = a["fenton_metal_equivalent"]
    ea[R_DISS] = value("constants", "dissolution_Ea_kJ_per_mol") * 1e3
    t_refs[R_DISS] = body
    ea[R_SURF] = ea[R_FE2_H2O2]  # heterogeneous peroxidase-like step: the Fenton table's Ea

    ph = c.compartment_ph
    s = np.zeros(N_SCALARS)
    s[P_PH] = ph
    s[P_F_HO2] = 1.0 / (1.0 + 10.0 ** (ph - value("constants", "pKa_HO2")))
    s[P_GSH_POOL0] = c.gsh_mM * 1e-3 * (1.0 - gsh_inhibition)
    s[P_TURNOVER] = value("constants", "gsh_turnover_per_s")
    s[P_K_GPX_GSH] = value("constants", "K_gpx_GSH_M")
    s[P_KM_GR] = value("constants", "glutathione_reductase_Km_M")
    s[P_FE2_BASAL] = value("constants", "labile_fe2_M")
    s[P_FE3_BASAL] = value("constants", "labile_fe3_M")
    s[P_O2_0] = value("constants", "o2_baseline_M")
    s[P_K_O2] = value("constants", "o2_exchange_per_s")
    s[P_H2O2_PROD] = c.h2o2_production_uM_per_s * 1e-6 + h2o2_boost
    s[P_F_PUFA] = value("ferroptosis", "pufa_fraction_of_oh_scavenging")
    s[P_F_PUFA_FERRYL] = value("ferroptosis", "pufa_fraction_of_ferryl_reactions")
    s[P_CHAIN] = value("ferroptosis", "chain_length")
    s[P_BASAL_INIT] = value("ferroptosis", "basal_initiation_M_per_s")
    s[P_KM_LOOH] = value("ferroptosis", "gpx4_Km_looh_M")
    s[P_GPX4_ACTIVE] = gpx4_active
    s[P_LETHAL_FRACTION] = value("ferroptosis", "lethal_peroxidised_fraction")
    s[P_HILL] = value("ferroptosis", "death_hill")
    s[P_HMAX] = value("ferroptosis", "max_death_rate_per_h") / 3600.0
    s[P_HEAT_ROS] = value("cdt_kill", "heat_ros_sensitisation")
    s[P_FE2_FRAC_RELEASE] = float(ov.get("agent.fe2_fraction_released", fe2_frac))
    s[P_METAL_EQ] = float(ov.get("agent.fenton_metal_equivalent", metal_eq))
    s[P_LH0] = value("ferroptosis", "pufa_pool_M")
    s[P_K_REPAIR] = value("ferroptosis", "membrane_repair_per_s")
    s[P_OMEGA_CAP] = value("cdt_kill", "sterilised_omega")
    _pack_fenton(s, chem, ov, ph)
    _pack_ferritin(s, chem, ov)
    s[P_P_BASAL] = basal_peroxidised_fraction(k_ref, ea, t_refs, s, c.gsh_mM * 1e-3, c.h2o2_production_uM_per_s * 1e-6)
    return k_ref, ea, t_refs, s


def _pack_fenton(s: np.ndarray, chem: dict, ov: dict, ph: float) -> None:
    """The Fenton option, its Millero-Sotolongo coefficients and the .OH yield at ``ph`` into ``s``."""
    sections = {name: {k: ov.get(f"{name}.{k}", v) for k, v in chem[name].items()} for name in ("fenton", "water")}
    ionic = float(ov.get("cytosol.ionic_strength_M", chem["cytosol"]["ionic_strength_M"]))
    s[P_FENTON0 : P_FENTON0 + fenton.N_COEF] = fenton.pack_coefficients(sections["fenton"], sections["water"], ionic)
    model = chem["fenton_model"]
    dependent = float(ov.get("fenton_model.ph_dependent", model["ph_dependent"]))
    s[P_FENTON_PH_DEPENDENT] = dependent
    lig = float(ov.get("fenton_model.ligated_oh_fraction", model["ligated_oh_fraction"]))
    pka = float(ov.get("fenton_model.ferryl_switch_pKa", model["ferryl_switch_pKa"]))
    s[P_OH_YIELD] = fenton.oh_yield(ph, lig, pka) if dependent > 0.5 else 1.0


def _pack_ferritin(s: np.ndarray, chem: dict, ov: dict) -> None:
    """Ferritin capacity [M], initial store [M] and uptake/release constants (data/chemistry.toml [ferritin])."""
    table = chem["ferritin"]
    names = ("shell_uM", "iron_per_shell", "initial_loading_fraction", "relaxation_half_time_min")
    f = {k: float(ov.get(f"ferritin.{k}", table[k])) for k in names}
    capacity = f["shell_uM"] * 1e-6 * f["iron_per_shell"]
    phi0 = f["initial_loading_fraction"]
    k_relax = math.log(2.0) / (f["relaxation_half_time_min"] * 60.0)
    s[P_FT_CAPACITY] = capacity
    s[P_FT0] = phi0 * capacity
    s[P_FT_K_IN] = k_relax / (1.0 - phi0)
    s[P_FT_K_OUT2] = k_relax * s[P_FE2_BASAL] / phi0
    s[P_FT_K_OUT3] = k_relax * s[P_FE3_BASAL] / phi0


@njit(cache=True)
def arrhenius_groups(k_ref: np.ndarray, ea: np.ndarray, t_refs: np.ndarray) -> np.ndarray:
    """For each rate constant, the index of the first non-zero constant with the same (Ea, T_ref): they share
    one Arrhenius factor, so :func:`set_rate_constants` evaluates one exp per group (~8 for ~28 constants)."""
    n = k_ref.shape[0]
    first = np.empty(n, dtype=np.int64)
    for i in range(n):
        first[i] = i
        for j in range(i):
            if ea[j] == ea[i] and t_refs[j] == t_refs[i] and k_ref[j] != 0.0 and first[j] == j:
                first[i] = j
                break
    return first


@njit(cache=True)
def set_rate_constants(
    k_ref: np.ndarray,
    ea: np.ndarray,
    t_refs: np.ndarray,
    s: np.ndarray,
    temperature_C: float,
    k: np.ndarray,
    groups: np.ndarray,
) -> None:
    """All rate constants at ``temperature_C`` into ``k``: Arrhenius for each (``groups`` from
    :func:`arrhenius_groups`), then the pH-dependent Fenton constant
    (:func:`mhtcdt.physics.fenton.rate_constant`) unless the legacy option is chosen."""
    t = temperature_C + KELVIN
    for i in range(k_ref.shape[0]):
        j = groups[i]
        if j < i:
            k[i] = k_ref[i] * (k[j] / k_ref[j])
        else:
            k[i] = k_ref[i] * math.exp(-ea[i] / GAS_CONSTANT * (1.0 / t - 1.0 / t_refs[i]))
    if s[P_FENTON_PH_DEPENDENT] > 0.5:
        k[R_FE2_H2O2] = fenton.rate_constant(t, s[P_PH], s[P_FENTON0 : P_FENTON0 + fenton.N_COEF])


def rate_constants(
    k_ref: np.ndarray, ea: np.ndarray, t_refs: np.ndarray, temperature_C: float, s: np.ndarray | None = None
) -> np.ndarray:
    """All rate constants at ``temperature_C`` (vector form of :func:`arrhenius`); with the scalar vector
    ``s`` of the run, the Fenton constant follows its option (pH-dependent by default)."""
    if s is None:
        t = temperature_C + KELVIN
        return k_ref * np.exp(-ea / GAS_CONSTANT * (1.0 / t - 1.0 / t_refs))
    k = np.empty(k_ref.shape[0])
    s = np.ascontiguousarray(s, dtype=np.float64)
    set_rate_constants(k_ref, ea, t_refs, s, float(temperature_C), k, arrhenius_groups(k_ref, ea, t_refs))
    return k


def untreated_scalars(
    s: np.ndarray, gsh_M: np.ndarray | float, h2o2_production_M_per_s: np.ndarray | float
) -> np.ndarray:
    """Rows of ``s`` for the UNTREATED cell: the patient's GSH pool and endogenous H2O2 production, no
    co-agent (GSH synthesis and GPX4 intact); particles play no role in the steady state (no FeP)."""
    u = np.array(np.atleast_2d(s), dtype=np.float64)
    u[:, P_GSH_POOL0] = np.broadcast_to(np.asarray(gsh_M, dtype=np.float64), (u.shape[0],))
    u[:, P_H2O2_PROD] = np.broadcast_to(np.asarray(h2o2_production_M_per_s, dtype=np.float64), (u.shape[0],))
    u[:, P_GPX4_ACTIVE] = 1.0
    return u


def basal_peroxidised_fraction(
    k_ref: np.ndarray,
    ea: np.ndarray,
    t_refs: np.ndarray,
    s: np.ndarray,
    gsh_M: np.ndarray | float,
    h2o2_production_M_per_s: np.ndarray | float,
) -> np.ndarray:
    """Peroxidised PUFA share of the UNTREATED cell at 37 C (basal labile iron, the patient's GSH and H2O2
    production, no particles or co-agents): the homeostatic level the ferroptotic hazard is measured from,
    so untreated cells have no treatment kill. The steady state of the reduced mechanism (radicals and ferryl
    at QSSA) solved by Newton's method (:func:`mhtcdt.physics.chemistry_fast.homeostatic_states`); vectorised
    over the rows of ``s`` with ``gsh_M`` / ``h2o2_production_M_per_s`` per row. A cell whose steady state has
    more than half its PUFA peroxidised (above the autocatalytic threshold at baseline) has no homeostatic
    level: measured from zero."""
    from mhtcdt.physics.chemistry_fast import F_LH, homeostatic_states  # the fast path builds on this module

    u = untreated_scalars(s, gsh_M, h2o2_production_M_per_s)
    y, converged = homeostatic_states(k_ref, ea, t_refs, u, initial_states_approximate(k_ref, ea, t_refs, u, 0.0))
    basal = 1.0 - y[:, F_LH] / u[:, P_LH0]
    out = np.where(converged & (basal <= 0.5), np.maximum(basal, 0.0), 0.0)
    return out if np.ndim(s) == 2 else out[0]


def initial_state(
    k_ref: np.ndarray, ea: np.ndarray, t_refs: np.ndarray, s: np.ndarray, particle_iron_M: float
) -> np.ndarray:
    """Pre-treatment state at 37 C (one run): see :func:`initial_states`."""
    return initial_states(k_ref, ea, t_refs, np.asarray(s)[None, :], np.array([particle_iron_M]))[0]


def initial_states(
    k_ref: np.ndarray, ea: np.ndarray, t_refs: np.ndarray, s: np.ndarray, particle_iron_M: np.ndarray | float
) -> np.ndarray:
    """Pre-treatment states at 37 C, one row per row of ``s`` (runs sharing ``k_ref``/``ea``/``t_refs``, the
    Fenton option and the pH): the steady state of the cell with its co-agents (given >= 24 h before the first
    session) before any particle iron dissolves, plus the particle iron ``particle_iron_M`` [M]. Solved by
    Newton's method on the reduced mechanism; radicals and ferryl start at zero (they reach their quasi-steady
    levels within microseconds), O2 at its tissue level. Where Newton fails, the algebraic approximation of
    :func:`initial_states_approximate` (its residual transient is then part of the compared solutions)."""
    from mhtcdt.physics.chemistry_fast import FULL_INDEX_OF_FAST, N_COUPLED, homeostatic_states

    s = np.atleast_2d(np.asarray(s, dtype=np.float64))
    approx = initial_states_approximate(k_ref, ea, t_refs, s, particle_iron_M)
    y, converged = homeostatic_states(k_ref, ea, t_refs, s, approx)
    full = approx.copy()
    for j in range(N_COUPLED):
        full[:, FULL_INDEX_OF_FAST[j]] = np.where(converged, y[:, j], approx[:, FULL_INDEX_OF_FAST[j]])
    full[:, S_FEP] = np.broadcast_to(np.asarray(particle_iron_M, dtype=np.float64), (s.shape[0],))
    return full


def initial_states_approximate(
    k_ref: np.ndarray, ea: np.ndarray, t_refs: np.ndarray, s: np.ndarray, particle_iron_M: np.ndarray | float
) -> np.ndarray:
    """Algebraic approximation of the pre-treatment states (the start of the Newton solve): basal labile iron,
    ferritin at its initial loading, H2O2 at its flux balance, GSH pool at its (co-agent modified) steady state
    split by the glutathione-reductase balance, basal LOOH."""
    s = np.atleast_2d(np.asarray(s, dtype=np.float64))
    k = rate_constants(k_ref, ea, t_refs, BODY_TEMPERATURE_C, s[0])
    y = np.zeros((s.shape[0], N_FULL))
    y[:, S_FE2] = s[:, P_FE2_BASAL]
    y[:, S_FE3] = s[:, P_FE3_BASAL]
    y[:, S_FT] = s[:, P_FT0]
    pool = s[:, P_GSH_POOL0]
    gsh = pool
    sat = gsh / (s[:, P_K_GPX_GSH] + gsh)
    clear = k[R_CAT] + k[R_GPX] * sat + k[R_FE2_H2O2] * y[:, S_FE2]
    h2o2 = s[:, P_H2O2_PROD] / clear
    # GSSG from GR balance with GPx flux (GR is Michaelis-Menten: v = V g/(Km + g))
    v_ox = k[R_GPX] * sat * h2o2 + k[R_GSH_FE3] * gsh * y[:, S_FE3]
    v_gr = k[R_GR]
    gssg = np.where(v_gr > v_ox, s[:, P_KM_GR] * v_ox / np.maximum(v_gr - v_ox, 1e-30), pool / 4.0)
    gssg = np.minimum(gssg, pool / 4.0)
    y[:, S_GSH] = pool - 2.0 * gssg
    y[:, S_GSSG] = gssg
    y[:, S_H2O2] = h2o2
    capacity = k[R_GPX4] * s[:, P_GPX4_ACTIVE] * y[:, S_GSH] / (s[:, P_K_GPX_GSH] + y[:, S_GSH]) / s[:, P_KM_LOOH]
    y[:, S_LOOH] = np.minimum(s[:, P_BASAL_INIT] * s[:, P_CHAIN] / np.maximum(capacity, 1e-30), 1e-3 * s[:, P_LH0])
    y[:, S_LH] = s[:, P_LH0] * (1.0 - s[:, P_P_BASAL])
    y[:, S_FEP] = np.broadcast_to(np.asarray(particle_iron_M, dtype=np.float64), (s.shape[0],))
    y[:, S_O2] = s[:, P_O2_0]
    return y


def full_rates(y: np.ndarray, k: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reaction rates r [M/s], stoichiometry matrix N [species x reactions]) of the full mechanism.

    Written as an explicit reaction table (independent of the hand-coded fast path).
    """
    fe2, fe3, h2o2, oh, so, gsh, gssg, looh, lh, fep, o2, feo, ft = (max(v, 0.0) for v in y[:N_SPECIES])
    f = s[P_F_HO2]
    ho2, o2m = f * so, (1.0 - f) * so
    gpx_sat = gsh / (s[P_K_GPX_GSH] + gsh)
    chain = s[P_CHAIN] * lh / s[P_LH0]
    v_gpx4 = fp.gpx4_rate(k[R_GPX4] * s[P_GPX4_ACTIVE], gsh, s[P_K_GPX_GSH], looh, s[P_KM_LOOH])
    v_fel = k[R_FE2_LOOH] * fe2 * looh
    release = k[R_DISS] * fep
    fe2_rel = s[P_FE2_FRAC_RELEASE]
    pool_target = s[P_GSH_POOL0]
    y_oh = s[P_OH_YIELD]
    r_fenton = k[R_FE2_H2O2] * fe2 * h2o2
    r_ferryl_bio = k[R_FERRYL_BIO] * feo
    phi = ft / s[P_FT_CAPACITY]
    # (reaction, rate, {species: coefficient})
    table = [
        (y_oh * r_fenton, {S_FE2: -1, S_FE3: 1, S_H2O2: -1, S_OH: 1}),  # Fenton, .OH branch
        ((1.0 - y_oh) * r_fenton, {S_FE2: -1, S_H2O2: -1, S_FEO: 1}),  # Fenton, ferryl branch
        (k[R_FERRYL_FE2] * feo * fe2, {S_FEO: -1, S_FE2: -1, S_FE3: 2}),
        (k[R_FERRYL_GSH] * feo * gsh, {S_FEO: -1, S_FE3: 1, S_GSH: -1, S_GSSG: 0.5}),
        (r_ferryl_bio, {S_FEO: -1, S_FE3: 1}),  # ferryl + biomolecules (lipid initiation below)
        (k[R_FE3_H2O2] * fe3 * h2o2, {S_FE3: -1, S_FE2: 1, S_H2O2: -1, S_SO: 1}),
        (k[R_OH_H2O2] * oh * h2o2, {S_OH: -1, S_H2O2: -1, S_SO: 1}),
        (k[R_FE3_HO2] * fe3 * ho2, {S_FE3: -1, S_FE2: 1, S_SO: -1, S_O2: 1}),
        (k[R_FE3_O2M] * fe3 * o2m, {S_FE3: -1, S_FE2: 1, S_SO: -1, S_O2: 1}),
        (k[R_FE2_HO2] * fe2 * ho2, {S_FE2: -1, S_FE3: 1, S_SO: -1, S_H2O2: 1}),
        (k[R_FE2_O2M] * fe2 * o2m, {S_FE2: -1, S_FE3: 1, S_SO: -1, S_H2O2: 1}),
        (k[R_FE2_OH] * fe2 * oh, {S_FE2: -1, S_FE3: 1, S_OH: -1}),
        (k[R_OH_OH] * oh * oh, {S_OH: -2, S_H2O2: 1}),
        (k[R_HO2_HO2] * ho2 * ho2, {S_SO: -2, S_H2O2: 1, S_O2: 1}),
        (k[R_HO2_O2M] * ho2 * o2m, {S_SO: -2, S_H2O2: 1, S_O2: 1}),  # spontaneous dismutation
        (k[R_OH_HO2] * oh * ho2, {S_OH: -1, S_SO: -1, S_O2: 1}),
        (k[R_OH_O2M] * oh * o2m, {S_OH: -1, S_SO: -1, S_O2: 1}),
        (k[R_GSH_OH] * gsh * oh, {S_GSH: -1, S_GSSG: 0.5, S_OH: -1}),
        (k[R_GSH_H2O2] * gsh * h2o2, {S_GSH: -2, S_GSSG: 1, S_H2O2: -1}),
        (k[R_GSH_FE3] * gsh * fe3, {S_GSH: -1, S_GSSG: 0.5, S_FE3: -1, S_FE2: 1}),
        (k[R_OH_BIO] * oh, {S_OH: -1}),
        (k[R_SOD] * so, {S_SO: -1, S_H2O2: 0.5, S_O2: 0.5}),
        (k[R_CAT] * h2o2, {S_H2O2: -1, S_O2: 0.5}),
        (k[R_GPX] * h2o2 * gpx_sat, {S_H2O2: -1, S_GSH: -2, S_GSSG: 1}),
        (k[R_GR] * gssg / (s[P_KM_GR] + gssg), {S_GSSG: -1, S_GSH: 2}),
        (s[P_TURNOVER] * pool_target, {S_GSH: 1}),  # synthesis
        (s[P_TURNOVER] * gsh, {S_GSH: -1}),  # turnover of GSH
        (s[P_TURNOVER] * gssg, {S_GSSG: -1}),  # export of GSSG
        (s[P_H2O2_PROD], {S_H2O2: 1}),  # endogenous + agent production
        (k[R_SURF] * fep * h2o2, {S_H2O2: -1, S_OH: 1}),  # surface peroxidase-like
        (release, {S_FEP: -1, S_FE2: fe2_rel + s[P_METAL_EQ], S_FE3: 1.0 - fe2_rel}),  # dissolution
        (s[P_FT_K_IN] * fe2 * (1.0 - phi), {S_FE2: -1, S_FT: 1}),  # ferritin uptake (capacity-limited)
        (s[P_FT_K_IN] * fe3 * (1.0 - phi), {S_FE3: -1, S_FT: 1}),
        (s[P_FT_K_OUT2] * phi, {S_FT: -1, S_FE2: 1}),  # ferritin release
        (s[P_FT_K_OUT3] * phi, {S_FT: -1, S_FE3: 1}),
        (s[P_K_O2] * (s[P_O2_0] - o2), {S_O2: 1}),  # O2 supply/consumption
        (s[P_F_PUFA] * k[R_OH_BIO] * oh, {S_LOOH: chain, S_LH: -chain}),  # .OH initiation + propagation
        (s[P_F_PUFA_FERRYL] * r_ferryl_bio, {S_LOOH: chain, S_LH: -chain}),  # ferryl initiation + propagation
        (s[P_BASAL_INIT], {S_LOOH: chain, S_LH: -chain}),  # basal (enzymatic) initiation
        (s[P_K_REPAIR] * (s[P_LH0] - lh), {S_LH: 1}),  # membrane PUFA repair / resynthesis
        (v_fel, {S_FE2: -1, S_FE3: 1, S_LOOH: chain - 1.0, S_LH: -chain}),  # Fe2+-driven LOOH branching
        (v_gpx4, {S_LOOH: -1, S_GSH: -2, S_GSSG: 1}),  # GPX4
    ]
    r = np.array([row[0] for row in table])
    n = np.zeros((N_FULL, len(table)))
    for j, (_, coeffs) in enumerate(table):
        for sp, c in coeffs.items():
            n[sp, j] = c
    return r, n


#: columns of :func:`full_rates` that change GSH + 2 GSSG (synthesis, turnover, export); every column
#: conserves total iron Fe2 + Fe3 + FeP + FeO + FeT
GLUTATHIONE_CHANGING_REACTIONS = frozenset({25, 26, 27})


def full_rhs(
    t: float,
    y: np.ndarray,
    k_ref: np.ndarray,
    ea: np.ndarray,
    t_refs: np.ndarray,
    s: np.ndarray,
    temperature_of_t: Callable[[float], float],
) -> np.ndarray:
    """dy/dt [M/s] of the full mechanism at time ``t`` [s] incl. the exposure integrals (OH and ferryl
    exposure, ferroptosis hazards); ``temperature_of_t`` gives T [C] (e.g. :func:`temperature_interpolant`)."""
    temp = temperature_of_t(t)
    k = rate_constants(k_ref, ea, t_refs, temp, s)
    r, n = full_rates(y, k, s)
    dy = n @ r
    peroxidised = 1.0 - max(y[S_LH], 0.0) / s[P_LH0]
    h = fp.death_hazard(peroxidised - s[P_P_BASAL], s[P_LETHAL_FRACTION], s[P_HILL], s[P_HMAX])
    dy[S_OH_CUM] = OH_CUM_SCALE * max(y[S_OH], 0.0)
    dy[S_FEO_CUM] = FEO_CUM_SCALE * max(y[S_FEO], 0.0)
    dy[S_OMEGA_F] = h
    dy[S_OMEGA_I] = h * fp.heat_ros_factor(temp, s[P_HEAT_ROS])
    return dy


@dataclass(frozen=True)
class ChemistryResult:
    """Summary of one chemistry run.

    oh_cumulative_uM_min: integral of [.OH] over the run [uM*min]; ferryl_cumulative_uM_min: of [Fe(IV)=O]
    gsh_nadir_mM: minimum GSH [mM]; lipid_peroxide_peak_uM: maximum LOOH [uM]; labile_fe2_peak_uM: maximum
        labile Fe2+ [uM]
    omega_ferroptosis / omega_interaction: ferroptotic death-hazard integrals (ln kill), the second the
        extra hazard from heat sensitising cells to ROS; final_state: state vector at the end (full mechanism
        for the oracle, the fast state for the fast path).
    A run stops early when omega_ferroptosis reaches ``cdt_kill.sterilised_omega`` (the element is dead; its
    chemistry is not followed further), so exposures are then integrals up to that time.
    """

    oh_cumulative_uM_min: float
    ferryl_cumulative_uM_min: float
    gsh_nadir_mM: float
    lipid_peroxide_peak_uM: float
    labile_fe2_peak_uM: float
    omega_ferroptosis: float
    omega_interaction: float
    final_state: np.ndarray


def temperature_interpolant(t_nodes_s: np.ndarray, temp_nodes_C: np.ndarray) -> Callable[[float], float]:
    """Piecewise-linear T(t) [C] of time [s] through the nodes, constant beyond the ends."""
    t_nodes_s = np.asarray(t_nodes_s, dtype=float)
    temp_nodes_C = np.asarray(temp_nodes_C, dtype=float)
    check_temperature_history(t_nodes_s, temp_nodes_C)

    def temp(t: float) -> float:
        return float(np.interp(t, t_nodes_s, temp_nodes_C))

    return temp


def check_temperature_history(t_nodes_s: np.ndarray, temp_nodes_C: np.ndarray) -> None:
    """InputError unless the nodes are >= 2 increasing finite times [s] with finite temperatures [C]."""
    if t_nodes_s.ndim != 1 or t_nodes_s.shape != temp_nodes_C.shape or t_nodes_s.size < 2:
        raise InputError("temperature_history", t_nodes_s.shape, "need >= 2 matching (time, temperature) nodes")
    if np.any(np.diff(t_nodes_s) <= 0) or not np.all(np.isfinite(t_nodes_s)):
        raise InputError("temperature_history.t_s", "non-increasing", "times must be finite and increasing")
    if not np.all(np.isfinite(temp_nodes_C)) or np.any(temp_nodes_C < 20.0) or np.any(temp_nodes_C > 100.0):
        raise InputError(
            "temperature_history.T_C",
            float(np.nanmax(temp_nodes_C)),
            "temperatures must be finite and within [20, 100] C",
        )


def solve_oracle(
    conditions: ChemistryConditions,
    t_nodes_s: np.ndarray,
    temp_nodes_C: np.ndarray,
    *,
    rtol: float = 1e-9,
    method: str = "Radau",
) -> ChemistryResult:
    """Full mechanism (explicit radicals and ferryl) with scipy Radau/BDF, segment by segment between
    temperature nodes so that kinks of T(t) are never stepped over. Slow; the reference for the fast path.
    """
    k_ref, ea, t_refs, s = pack_parameters(conditions)
    t_nodes = np.asarray(t_nodes_s, dtype=float)
    temps = np.asarray(temp_nodes_C, dtype=float)
    temp_of_t = temperature_interpolant(t_nodes, temps)
    y = initial_state(k_ref, ea, t_refs, s, conditions.particle_iron_mM * 1e-3)
    # absolute tolerances per species (M): far below each species' scale
    atol = np.full(N_FULL, 1e-16)
    atol[S_OH] = 1e-28
    atol[S_SO] = 1e-22
    atol[S_FEO] = 1e-22
    atol[S_LOOH] = 1e-17
    gsh_min = y[S_GSH]
    looh_max = y[S_LOOH]
    fe2_max = y[S_FE2]

    def sterilised(t, yy, *args):
        return yy[S_OMEGA_F] - s[P_OMEGA_CAP]

    sterilised.terminal = True
    sterilised.direction = 1.0
    for a, b in zip(t_nodes[:-1], t_nodes[1:], strict=True):
        # scipy's finite-difference Jacobian overflows harmlessly on the zero columns of the exposure integrals
        with np.errstate(over="ignore"):
            sol = solve_ivp(
                full_rhs,
                (a, b),
                y,
                method=method,
                rtol=rtol,
                atol=atol,
                dense_output=True,
                events=sterilised,
                args=(k_ref, ea, t_refs, s, temp_of_t),
            )
        if not sol.success:
            raise ModelError(f"chemistry oracle failed on [{a}, {b}] s: {sol.message}")
        grid = np.linspace(a, sol.t[-1], 9)
        dense = sol.sol(grid)
        gsh_min = min(gsh_min, float(dense[S_GSH].min()), float(sol.y[S_GSH].min()))
        looh_max = max(looh_max, float(dense[S_LOOH].max()), float(sol.y[S_LOOH].max()))
        fe2_max = max(fe2_max, float(dense[S_FE2].max()), float(sol.y[S_FE2].max()))
        y = sol.y[:, -1].copy()
        if sol.status == 1:  # element sterilised: the chemistry of dead cells is not followed
            break
    if not np.all(np.isfinite(y)):
        raise ModelError("chemistry oracle produced non-finite values")
    return ChemistryResult(
        oh_cumulative_uM_min=float(y[S_OH_CUM] / OH_CUM_SCALE * 1e6 / 60.0),
        ferryl_cumulative_uM_min=float(y[S_FEO_CUM] / FEO_CUM_SCALE * 1e6 / 60.0),
        gsh_nadir_mM=float(gsh_min * 1e3),
        lipid_peroxide_peak_uM=float(looh_max * 1e6),
        labile_fe2_peak_uM=float(fe2_max * 1e6),
        omega_ferroptosis=float(y[S_OMEGA_F]),
        omega_interaction=float(y[S_OMEGA_I]),
        final_state=y,
    )
