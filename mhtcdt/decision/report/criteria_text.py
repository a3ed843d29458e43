"""Eligibility criteria as a meeting reads them: ``tumour_volume_cm3 <= 100`` becomes ``tumour volume ≤ 100 cm³``.

The text is rebuilt from the criteria tokenizer (:func:`mhtcdt.cohorts.criteria.tokenize`, the same tokens the
evaluator reads), so it says what the expression does: column names become plain words, the unit of a column
moves behind the number it is compared with, operators become ``≤ ≥ ≠ =``, ``not pacemaker`` becomes
``no pacemaker``, ``true``/``false`` become ``yes``/``no``. The exact expression stays beside it (the
CONSORT tables keep both columns).
"""

from __future__ import annotations

import pandas as pd

from mhtcdt.cohorts.criteria import CriteriaError, Token, tokenize

#: covariate column -> (plain name, unit or ""); other columns fall back to :data:`UNIT_SUFFIXES`.
COVARIATE_WORDS: dict[str, tuple[str, str]] = {
    "age_years": ("age", "years"),
    "kps": ("Karnofsky performance status", ""),
    "tumour_volume_cm3": ("tumour volume", "cm³"),
    "eloquent_location": ("eloquent / deep location", ""),
    "mgmt_methylated": ("MGMT promoter methylated", ""),
    "months_since_diagnosis": ("time since diagnosis", "months"),
    "recurrence_number": ("recurrence number", ""),
    "tumour_perfusion_mL_per_min_per_kg": ("tumour perfusion", "mL/min/kg"),
    "gsh_mM": ("intracellular glutathione", "mM"),
    "h2o2_production_uM_per_s": ("H₂O₂ production", "µM/s"),
    "ph_extracellular": ("extracellular pH", ""),
    "deposit_coverage_fraction": ("nanoparticle deposit coverage", "fraction of tumour"),
    "metal_implant": ("metal implant near the field", ""),
    "pacemaker": ("pacemaker", ""),
    "body_circumference_cm": ("body circumference", "cm"),
    "ca19_9_U_per_mL": ("CA 19-9", "U/mL"),
    "psa_ng_per_mL": ("PSA", "ng/mL"),
    "gleason_grade_group": ("Gleason grade group", ""),
    "prior_chemotherapy": ("prior chemotherapy", ""),
    "prior_radiotherapy": ("prior radiotherapy", ""),
}

#: name suffix -> unit, for columns without an entry in :data:`COVARIATE_WORDS` (longest suffix first).
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_per_min_per_kg", "per min per kg"),
    ("_U_per_mL", "U/mL"),
    ("_ng_per_mL", "ng/mL"),
    ("_uM_per_s", "µM/s"),
    ("_fraction", "fraction"),
    ("_months", "months"),
    ("_years", "years"),
    ("_cm3", "cm³"),
    ("_cm", "cm"),
    ("_mM", "mM"),
)

_OPERATORS = {"<=": "≤", ">=": "≥", "!=": "≠", "==": "=", "<": "<", ">": ">", "&&": "and", "||": "or", "!": "not"}


def covariate_words(column: str) -> tuple[str, str]:
    """(plain name, unit) of a cohort column: ``tumour_volume_cm3`` -> ``("tumour volume", "cm³")``."""
    if column in COVARIATE_WORDS:
        return COVARIATE_WORDS[column]
    for suffix, unit in UNIT_SUFFIXES:
        if column.endswith(suffix) and len(column) > len(suffix):
            return column[: -len(suffix)].replace("_", " "), unit
    return column.replace("_", " "), ""


def readable_criterion(expression: str) -> str:
    """``expression`` in plain words with units (see the module docstring); the expression itself if it does
    not tokenize (an invalid criterion is shown as written, with its error elsewhere)."""
    try:
        tokens = [t for t in tokenize(expression) if t.kind != "end"]
    except CriteriaError:
        return expression
    words: list[str] = []
    pending_unit = ""  # the unit of the last column, written after the number it is compared with
    sign = ""  # a unary minus, written onto the number that follows it
    for i, t in enumerate(tokens):
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if t.kind == "name":
            name, unit = covariate_words(t.text)
            words.append(name)
            pending_unit = unit
        elif t.text in ("not", "!") and _negates_a_column(following, tokens[i + 2 : i + 3]):
            words.append("no")
        elif t.kind == "op" and t.text == "-" and following is not None and following.kind == "number":
            sign = "−"
        elif t.kind == "op" and t.text in _OPERATORS:
            words.append(_OPERATORS[t.text])
        elif t.kind == "number":
            words.append(sign + _number_text(t) + (f" {pending_unit}" if pending_unit else ""))
            sign = ""
        elif t.kind == "keyword" and t.text in ("true", "false"):
            words.append("yes" if t.text == "true" else "no")
        elif t.kind == "string":
            words.append(str(t.value))
        else:
            words.append(t.text)
    return _join(words)


def _negates_a_column(following: Token | None, after: list[Token]) -> bool:
    """``not X`` where X is a bare (boolean) column: ``no X``; ``not (..)`` or ``not kps >= 60`` keep ``not``."""
    if following is None or following.kind != "name":
        return False
    return not after or after[0].kind in ("keyword", "end") or after[0].text in (")", "&&", "||")


def _number_text(t: Token) -> str:
    value = t.value
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"


def _join(words: list[str]) -> str:
    """Words with single spaces, none inside brackets nor before a comma."""
    text = ""
    for w in words:
        glued = not text or text.endswith(("(", "[")) or w in (")", "]", ",")
        text += w if glued else " " + w
    return text


def consort_display(flow: pd.DataFrame) -> pd.DataFrame:
    """A CONSORT flow (:func:`mhtcdt.cohorts.apply_criteria`) for people: the readable criterion first, the
    exact expression beside it (``—`` for the screened row), the counts under their plain-language headers
    (the ``n_before`` etc. of the CSV files are data names)."""
    exact = ["—" if int(s) == 0 else str(c) for s, c in zip(flow["step"], flow["criterion"], strict=True)]
    readable = [
        "all screened patients" if int(s) == 0 else readable_criterion(str(c))
        for s, c in zip(flow["step"], flow["criterion"], strict=True)
    ]
    return pd.DataFrame(
        {
            "step": [f"{int(s):,}" for s in flow["step"]],
            "criterion": readable,
            "as written in the scenario": exact,
            "patients before this step": [f"{int(v):,}" for v in flow["n_before"]],
            "excluded": [f"{int(v):,}" for v in flow["excluded"]],
            "remaining": [f"{int(v):,}" for v in flow["remaining"]],
        }
    )
