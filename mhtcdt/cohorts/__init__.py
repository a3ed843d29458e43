"""Cohorts layer: virtual patients per indication (Gaussian copula over documented
marginals), safe selection-criteria expressions and the CONSORT flow.

Imports no other mhtcdt layer. Public API:

- :func:`generate_cohort` (indication, n, seed, start=0) -> patients DataFrame
- :func:`apply_criteria` (cohort, criteria) -> :class:`Selection` (eligible, flow)
- :func:`evaluate_criterion`, :func:`parse_criterion`: the safe expression grammar
- :func:`known_indications`, :func:`load_indication`
"""

from mhtcdt.cohorts.consort import EmptySelectionWarning, Selection, apply_criteria, format_flow
from mhtcdt.cohorts.criteria import evaluate_criterion, parse_criterion, referenced_columns
from mhtcdt.cohorts.generator import CONTRACT_COLUMNS, generate_cohort
from mhtcdt.cohorts.spec import IndicationSpec, known_indications, load_indication

__all__ = [
    "CONTRACT_COLUMNS",
    "EmptySelectionWarning",
    "IndicationSpec",
    "Selection",
    "apply_criteria",
    "evaluate_criterion",
    "format_flow",
    "generate_cohort",
    "known_indications",
    "load_indication",
    "parse_criterion",
    "referenced_columns",
]
