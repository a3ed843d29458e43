"""Cohorts layer: virtual patients per indication (Gaussian copula over documented
marginals), safe selection-criteria expressions and the CONSORT flow.

Imports no other mhtcdt layer. Public API:

- :func:`generate_cohort` (indication, n, seed, start=0) -> patients DataFrame
- :func:`apply_criteria` (cohort, criteria) -> :class:`Selection` (eligible, flow)
- :func:`evaluate_criterion`, :func:`parse_criterion`: the safe expression grammar
- :func:`known_indications`, :func:`load_indication`, :func:`covariate_table`, :func:`correlation_matrix`
- :func:`criteria_preset`, :func:`list_criteria_presets`, :func:`criteria_presets_table`: sourced presets
- :func:`prognostic_effects`, :func:`prognostic_design`, :func:`prognostic_log_hazard`,
  :func:`park_score`, :func:`park_group`: published prognostic structure for the trial layer
"""

from mhtcdt.cohorts.consort import EmptySelectionWarning, Selection, apply_criteria, format_flow
from mhtcdt.cohorts.criteria import evaluate_criterion, parse_criterion, referenced_columns
from mhtcdt.cohorts.generator import CONTRACT_COLUMNS, generate_cohort
from mhtcdt.cohorts.presets import (
    CriteriaPreset,
    criteria_preset,
    criteria_presets_table,
    list_criteria_presets,
)
from mhtcdt.cohorts.prognosis import (
    park_group,
    park_median_os_months,
    park_score,
    prognostic_design,
    prognostic_effects,
    prognostic_log_hazard,
)
from mhtcdt.cohorts.spec import (
    IndicationSpec,
    correlation_matrix,
    covariate_table,
    known_indications,
    load_indication,
)

__all__ = [
    "CONTRACT_COLUMNS",
    "CriteriaPreset",
    "EmptySelectionWarning",
    "IndicationSpec",
    "Selection",
    "apply_criteria",
    "correlation_matrix",
    "covariate_table",
    "criteria_preset",
    "criteria_presets_table",
    "evaluate_criterion",
    "format_flow",
    "generate_cohort",
    "known_indications",
    "list_criteria_presets",
    "load_indication",
    "park_group",
    "park_median_os_months",
    "park_score",
    "parse_criterion",
    "prognostic_design",
    "prognostic_effects",
    "prognostic_log_hazard",
    "referenced_columns",
]
