"""Physics layer: per-patient nanoparticle heating, Pennes bioheat, thermal dose and
thermotolerance, Fenton/CDT chemistry and ferroptosis, radiotherapy, and combined tumour kill.

Knows nothing of scenario files, the CLI or the app; imports only the leaf modules ``mhtcdt.errors``,
``mhtcdt.seeding`` and ``mhtcdt.datafiles``.

Cohort API (contract section 2): :class:`Protocol` (the arm schema, :mod:`~mhtcdt.physics.protocol`),
:func:`simulate_protocol` (the model chain, :mod:`~mhtcdt.physics.chain`); presets via
:func:`protocol_preset` (:mod:`~mhtcdt.physics.presets`); uncertain inputs for scenarios/sensitivity via
:class:`Assumptions` (:mod:`~mhtcdt.physics.assumptions`; the heat fields with their valid and PSA ranges and
sources in :data:`HEAT_FIELDS`); agent tables via :func:`load_agents`. One
patient's time courses and maps: :func:`simulate_patient_detail` (:mod:`mhtcdt.physics.detail`).

Models, one module each: ``particles`` (SLP), ``field`` (H*f safety), ``tissue`` (thermal properties,
perfusion), ``bioheat_radial`` / ``bioheat_3d`` (Pennes, numba; kernels take named tuples grouped by
meaning), ``session`` (session timing, PI titration and the clinical stepwise control), ``heat_delivery``
(per-patient tolerance ceiling, thermometry track, deposit heterogeneity, eddy heating, normal-tissue dose
limits), ``dose`` (CEM43, Arrhenius, T90), ``thermotolerance``,
``chemistry`` (scipy oracle) / ``chemistry_fast`` (numba), ``ferroptosis``, ``radiotherapy``, ``kill``,
``planning``; ``records`` reads typed records from ``data/*.toml``.
"""

from mhtcdt.physics.assumptions import HEAT_FIELDS, Assumptions
from mhtcdt.physics.chain import simulate_protocol
from mhtcdt.physics.chemistry import agent_names, agent_table, co_agent_names
from mhtcdt.physics.detail import PatientDetail, simulate_patient_detail, thermotolerance_by_interval
from mhtcdt.physics.presets import PRESETS, protocol_preset
from mhtcdt.physics.protocol import Protocol, ProtocolName


def load_agents() -> dict:
    """Agents and co-agents with their chemical parameters and sources (``data/agents.toml``)."""
    return agent_table()


__all__ = [
    "HEAT_FIELDS",
    "PRESETS",
    "Assumptions",
    "PatientDetail",
    "Protocol",
    "ProtocolName",
    "agent_names",
    "co_agent_names",
    "load_agents",
    "protocol_preset",
    "simulate_patient_detail",
    "simulate_protocol",
    "thermotolerance_by_interval",
]
