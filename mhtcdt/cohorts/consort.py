"""Patient selection and its CONSORT flow.

``apply_criteria(cohort, criteria)`` applies criteria expressions (see
:mod:`mhtcdt.cohorts.criteria`) in the given order and records how many patients each one
excludes among those still eligible.

``Selection.flow`` (CONSORT DataFrame, contract section 1):

| column | dtype | meaning |
|---|---|---|
| step | int64 | 0 = screened, then 1, 2, ... in criterion order |
| criterion | object (str) | "screened" or the criterion expression |
| n_before | int64 | patients still eligible before this step |
| excluded | int64 | patients this step removes (among those still eligible) |
| remaining | int64 | patients still eligible after this step |

``Selection.eligible`` has the cohort's columns and the rows meeting every criterion (original
order and index); ``Selection.mask`` is the matching boolean array over the cohort rows;
``Selection.failed_any`` counts, per criterion, every patient failing it regardless of order.
If nobody remains, an :class:`EmptySelectionWarning` carrying the flow is issued (not an error).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mhtcdt.cohorts.criteria import evaluate_criterion
from mhtcdt.errors import InputError, InputErrors

FLOW_COLUMNS = ("step", "criterion", "n_before", "excluded", "remaining")


class EmptySelectionWarning(UserWarning):
    """The criteria excluded every patient; ``flow`` shows which step did it."""

    def __init__(self, message: str, flow: pd.DataFrame) -> None:
        super().__init__(message)
        self.flow = flow


@dataclass(frozen=True)
class Selection:
    """Result of :func:`apply_criteria`."""

    eligible: pd.DataFrame
    flow: pd.DataFrame
    mask: np.ndarray
    failed_any: pd.Series  # criterion -> number of screened patients failing it (order-free)

    @property
    def n_screened(self) -> int:
        return int(self.flow["n_before"].iloc[0])

    @property
    def n_eligible(self) -> int:
        return int(self.flow["remaining"].iloc[-1])


def normalise_criteria(criteria: Sequence[str] | str | None) -> list[str]:
    """A single string is one criterion; None or [] means no criteria. Validates the types."""
    if criteria is None:
        return []
    if isinstance(criteria, str):
        return [criteria]
    if not isinstance(criteria, Sequence):
        raise InputError("criteria", criteria, "must be a string or a list of strings")
    out = []
    for i, c in enumerate(criteria):
        if not isinstance(c, str):
            raise InputError(f"criteria[{i}]", c, "each criterion must be a string expression")
        if not c.strip():
            raise InputError(f"criteria[{i}]", c, "empty criterion")
        out.append(c)
    return out


def apply_criteria(cohort: pd.DataFrame, criteria: Sequence[str] | str | None) -> Selection:
    """Apply ``criteria`` in order to ``cohort``; return eligible rows and the CONSORT flow.

    Every expression is parsed and checked before any is applied, so a typo in the last
    criterion is reported without work; errors are ``InputError(field="criteria[i]", ...)``, every bad
    criterion at once (one error: that InputError; several: :class:`InputErrors`).
    """
    if not isinstance(cohort, pd.DataFrame):
        raise InputError("cohort", type(cohort).__name__, "must be a pandas DataFrame")
    items = normalise_criteria(criteria)
    masks, problems = [], []
    for i, expr in enumerate(items):
        try:
            masks.append(evaluate_criterion(cohort, expr, field=f"criteria[{i}]"))
        except InputError as exc:
            problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InputErrors(problems)

    n = len(cohort)
    keep = np.ones(n, dtype=bool)
    rows = [(0, "screened", n, 0, n)]
    for step, (expr, m) in enumerate(zip(items, masks, strict=True), start=1):
        before = int(keep.sum())
        keep &= m
        after = int(keep.sum())
        rows.append((step, expr, before, before - after, after))
    flow = pd.DataFrame(rows, columns=list(FLOW_COLUMNS)).astype(
        {"step": "int64", "n_before": "int64", "excluded": "int64", "remaining": "int64"}
    )
    failed_any = pd.Series([int((~m).sum()) for m in masks], index=items, name="failed_any", dtype="int64")
    if n > 0 and not keep.any():
        warnings.warn(
            EmptySelectionWarning("the criteria exclude every patient:\n" + format_flow(flow), flow),
            stacklevel=2,
        )
    return Selection(eligible=cohort.loc[keep], flow=flow, mask=keep, failed_any=failed_any)


def format_flow(flow: pd.DataFrame) -> str:
    """Plain-text CONSORT table (one line per step)."""
    width = max(len(str(c)) for c in flow["criterion"])
    lines = [f"{'step':>4}  {'criterion':<{width}}  {'before':>9}  {'excluded':>9}  {'remaining':>9}"]
    for r in flow.itertuples(index=False):
        lines.append(f"{r.step:>4}  {r.criterion:<{width}}  {r.n_before:>9}  {r.excluded:>9}  {r.remaining:>9}")
    return "\n".join(lines)
