"""Published prognostic structure carried by each indication, for the trial layer.

The ``[[prognosis]]`` tables of an indication file hold hazard ratios for overall survival per
covariate, each with its source and ``verified`` flag. Two kinds:

- ``indicator``: HR for patients where ``expression`` (criteria grammar) is true vs false;
  design value x = 1 or 0.
- ``per_unit``: HR per ``per`` units of ``column`` above ``reference``; design value
  x = (c - reference) / per, or with ``transform = "log2"`` x = (log2 c - log2 reference) / per.

The log relative hazard of a patient is ``sum_k x_k * log(HR_k)`` (a proportional-hazards
combination of the published effects; the effects come from different studies and are assumed
independent, which is itself a modelling assumption to vary).

``prognostic_effects(indication)`` columns:

| column | dtype | meaning |
|---|---|---|
| indication | object (str) | |
| covariate | object (str) | effect name, also the column name in ``prognostic_design`` |
| kind | object (str) | "indicator" or "per_unit" |
| expression | object (str) | indicator definition ("" for per_unit) |
| column | object (str) | per_unit column ("" for indicator) |
| transform | object (str) | "identity" or "log2" |
| per | float64 | units per HR step (NaN for indicator) |
| reference | float64 | reference value (NaN for indicator) |
| endpoint | object (str) | "OS" |
| hazard_ratio, hr_ci_lower, hr_ci_upper | float64 | published HR and 95 % CI |
| log_hr | float64 | natural log of the hazard ratio |
| source | object (str) | citation |
| verified | bool | False = recalled |

``park_score(cohort)`` returns the Park 2010 scale (0-3 points, int64 Series named
``park_score``); ``park_group(cohort)`` the categories "0", "1-2", "3".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mhtcdt.cohorts.criteria import evaluate_criterion
from mhtcdt.cohorts.spec import load_indication
from mhtcdt.errors import InputError

EFFECT_COLUMNS = (
    "indication", "covariate", "kind", "expression", "column", "transform", "per", "reference",
    "endpoint", "hazard_ratio", "hr_ci_lower", "hr_ci_upper", "log_hr", "source", "verified",
)  # fmt: skip


def prognostic_effects(indication: str) -> pd.DataFrame:
    """The published prognostic effects of ``indication`` (columns in the module docstring)."""
    spec = load_indication(indication)
    rows = []
    for item in spec.prognosis:
        ci = item.get("hr_ci95", [np.nan, np.nan])
        per_unit = item["kind"] == "per_unit"
        rows.append(
            (
                spec.name,
                item["covariate"],
                item["kind"],
                item.get("expression", ""),
                item.get("column", ""),
                item.get("transform", "identity"),
                float(item["per"]) if per_unit else np.nan,
                float(item["reference"]) if per_unit else np.nan,
                item["endpoint"],
                float(item["hazard_ratio"]),
                float(ci[0]),
                float(ci[1]),
                float(np.log(item["hazard_ratio"])),
                item["source"],
                bool(item["verified"]),
            )
        )
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))


def _single_indication(cohort: pd.DataFrame, indication: str | None) -> str:
    if indication is not None:
        return indication
    if "indication" not in cohort.columns:
        raise InputError("cohort", list(cohort.columns), "has no 'indication' column; pass indication=")
    values = pd.unique(cohort["indication"].astype(str))
    if len(values) != 1:
        raise InputError("cohort.indication", list(values), "need exactly one indication; pass indication=")
    return str(values[0])


def prognostic_design(cohort: pd.DataFrame, indication: str | None = None) -> pd.DataFrame:
    """Design values x_k per patient (one float64 column per prognostic covariate, cohort index)."""
    effects = prognostic_effects(_single_indication(cohort, indication))
    out = {}
    for e in effects.itertuples(index=False):
        if e.kind == "indicator":
            mask = evaluate_criterion(cohort, e.expression, field=f"prognosis.{e.covariate}")
            out[e.covariate] = mask.astype(np.float64)
        else:
            if e.column not in cohort.columns:
                raise InputError(f"prognosis.{e.covariate}.column", e.column, "column missing from the cohort")
            values = cohort[e.column].to_numpy(dtype=np.float64)
            if e.transform == "log2":
                if np.any(values <= 0):
                    raise InputError(f"cohort.{e.column}", float(values.min()), "log2 transform needs values > 0")
                out[e.covariate] = (np.log2(values) - np.log2(e.reference)) / e.per
            else:
                out[e.covariate] = (values - e.reference) / e.per
    return pd.DataFrame(out, index=cohort.index, columns=list(effects["covariate"]))


def prognostic_log_hazard(cohort: pd.DataFrame, indication: str | None = None) -> pd.Series:
    """Log relative hazard for OS, sum_k x_k log(HR_k) (float64 Series named ``log_relative_hazard``)."""
    indication = _single_indication(cohort, indication)
    effects = prognostic_effects(indication)
    design = prognostic_design(cohort, indication)
    lp = design.to_numpy() @ effects["log_hr"].to_numpy()
    return pd.Series(lp, index=cohort.index, name="log_relative_hazard")


def _park_items() -> list[str]:
    scale = load_indication("recurrent_glioblastoma").park_scale
    if scale is None:
        raise InputError("recurrent_glioblastoma.park_scale", None, "Park scale missing from the indication file")
    return list(scale["items"])


def park_score(cohort: pd.DataFrame) -> pd.Series:
    """Park 2010 scale for recurrent glioblastoma: 1 point each for KPS <= 80, tumour volume >= 50 cm3
    and eloquent/critical location (Park JK et al. J Clin Oncol 2010;28:3838). int64 Series, 0..3."""
    score = np.zeros(len(cohort), dtype=np.int64)
    for i, item in enumerate(_park_items()):
        score += evaluate_criterion(cohort, item, field=f"park_scale.items[{i}]").astype(np.int64)
    return pd.Series(score, index=cohort.index, name="park_score")


def park_group(cohort: pd.DataFrame) -> pd.Series:
    """Park prognostic group: "0" (good), "1-2" (intermediate), "3" (poor); categorical Series."""
    score = park_score(cohort).to_numpy()
    labels = np.where(score == 0, "0", np.where(score == 3, "3", "1-2"))
    return pd.Series(pd.Categorical(labels, categories=["0", "1-2", "3"]), index=cohort.index, name="park_group")


def park_median_os_months() -> dict[str, float]:
    """Published median OS (months) per Park group in the derivation cohort (Park 2010, verified)."""
    scale = load_indication("recurrent_glioblastoma").park_scale
    assert scale is not None
    return {k: float(v) for k, v in scale["median_os_months_by_points"].items()}
