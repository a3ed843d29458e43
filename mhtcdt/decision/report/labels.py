"""Words and number formats for people: plain-language names of inputs and table columns, and the
formatting of stakeholder tables (thousands separators, currency, percentages, never e-notation).

The CSV and Excel files keep the raw column names and full precision (they are data); what a meeting sees
(app tables, the HTML report, the printed summary) goes through :func:`stakeholder_table`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import pandas as pd

from mhtcdt.decision.model.psa import OUTCOME_GROUP

PARAMETER_LABELS: dict[str, str] = {
    "costs.mht_course": "MHT course price",
    "costs.rt_course": "radiotherapy course cost",
    "costs.cdt_agent_course": "CDT agent course cost",
    "costs.gemcitabine_cycle": "gemcitabine cost per cycle",
    "costs.folfirinox_cycle": "FOLFIRINOX cost per cycle",
    "costs.progression_free_per_month": "care while progression-free, per month",
    "costs.progressed_per_month": "care after progression, per month",
    "costs.end_of_life": "end-of-life care",
    "utilities.progression_free": "quality of life while progression-free (utility)",
    "utilities.progressed": "quality of life after progression (utility)",
    OUTCOME_GROUP: "survival model (calibration uncertainty)",
}


def parameter_label(name: str) -> str:
    """Plain-language name of an uncertain input (dotted scenario path or PSA group)."""
    if name in PARAMETER_LABELS:
        return PARAMETER_LABELS[name]
    if name.startswith("outcome."):
        return "survival model: " + name.removeprefix("outcome.").replace("_", " ")
    return name.split(".")[-1].replace("_", " ")


def parameter_unit(name: str, currency: str) -> str:
    """Unit of an uncertain economic input: the currency (per month for the monthly care costs) or the utility
    weight (QALY per year lived in that state, 1 = full health); empty for other inputs."""
    if name.startswith("costs."):
        return f"{currency}/month" if name.endswith("_per_month") else currency
    if name.startswith("utilities."):
        return "QALY/year"
    return ""


def parameter_label_with_unit(name: str, currency: str) -> str:
    """:func:`parameter_label` followed by the unit in brackets: ``MHT course price [GBP]``."""
    unit = parameter_unit(name, currency)
    return f"{parameter_label(name)} [{unit}]" if unit else parameter_label(name)


def parameter_value(name: str, value: float, currency: str) -> str:
    """An input's value with its unit: costs in currency, utilities as QALY weights."""
    if name.startswith("costs."):
        return money(value, currency)
    if name.startswith("utilities."):
        return f"{value:.2f}"
    return number(value)


def money(value: float | None, currency: str, signed: bool = False) -> str:
    """``GBP 12,345`` (``−`` for negatives, ``—`` for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if not math.isfinite(value):
        return "not defined"
    sign = "+" if signed and value > 0 else ""
    text = f"{abs(value):,.0f}"
    return f"{'−' if value < 0 else sign}{currency} {text}"


def price_text(value: float | None, currency: str) -> str:
    """A value-based price for a payer: ``GBP 12,345``; ``none`` when it is 0 or below (not cost-effective
    even if the course were free: a negative price would mean paying the hospital to use it); ``—`` missing."""
    if value is not None and math.isfinite(value) and value <= 0:
        return "none"
    return money(value, currency)


def icer_cell(inc_cost: float, inc_qalys: float, currency: str) -> str:
    """An ICER for a table cell, with the quadrants named: ``GBP 12,345`` (QALYs gained at a cost),
    ``dominant`` (more QALYs, no extra cost), ``dominated`` (no more QALYs, no saving), or ``saves GBP 1,234 per
    QALY lost`` (cheaper and less effective: cost-effective only if that exceeds the WTP)."""
    if not (math.isfinite(inc_cost) and math.isfinite(inc_qalys)):
        return "—"
    if inc_qalys > 0:
        return money(inc_cost / inc_qalys, currency) if inc_cost > 0 else "dominant"
    if inc_cost >= 0:
        return "dominated"
    if inc_qalys == 0:
        return "dominant"
    return f"saves {money(inc_cost / inc_qalys, currency)} per QALY lost"


def icer_cells(table, basis: str, currency: str) -> list[str]:
    """:func:`icer_cell` of each row of a price table (:func:`mhtcdt.decision.model.price.price_table`);
    ``basis``: ``"probabilistic"`` or ``"deterministic"``."""
    return [
        icer_cell(float(c), float(q), currency)
        for c, q in zip(table[f"inc_cost_{basis}"], table[f"inc_qalys_{basis}"], strict=True)
    ]


def threshold_text(value: float, currency: str) -> str:
    """A threshold willingness to pay (an ICER): ``GBP 12,345 per QALY``, or ``none`` when it is not defined
    (NaN: the new strategy gains no QALYs, so no willingness to pay per QALY gained makes it cost-effective), or
    ``any`` when it is 0 or below (dominant)."""
    if value is None or not math.isfinite(value):
        return "none (no QALYs gained)"
    if value <= 0:
        return "any (dominant: more QALYs at no extra cost)"
    return f"{money(value, currency)} per QALY"


def number(value: float | None, digits: int = 3) -> str:
    """A number for reading: thousands separators, ``digits`` significant decimals, no e-notation."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not math.isfinite(value):
        return "not defined"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if value == 0:
        return "0"
    if abs(value) < 10 ** (-digits):
        return f"< {10 ** (-digits):.{digits}f}" if value > 0 else f"> −{10 ** (-digits):.{digits}f}"
    return f"{value:,.{digits}f}"


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def significant(value: float | None, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits as people write it: ``1,520``, ``8.09``, ``0.0123``; below
    0.001 as a power of ten (``1.2 × 10⁻⁵``), never the e-notation of ``:g``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if not math.isfinite(value):
        return "not defined"
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    if exponent < -3:
        mantissa = f"{value / 10**exponent:.{max(0, digits - 1)}f}".rstrip("0").rstrip(".")
        return f"{mantissa} × 10{str(exponent).translate(_SUPERSCRIPTS)}"
    decimals = max(0, digits - 1 - exponent)
    return f"{round(value, decimals):,.{decimals}f}"


def percent(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * value:.{digits}f} %"


def p_value(value: float | None) -> str:
    """A p-value as clinicians read it: ``< 0.001`` instead of e-notation."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


#: column -> (plain label, kind); kind: money, number, count, percent, p, years, months, text, qaly, icer, yes/no
COLUMNS: dict[str, tuple[str, str]] = {
    "strategy": ("strategy", "text"),
    "arm": ("arm", "text"),
    "endpoint": ("endpoint", "text"),
    "comparison": ("comparison", "text"),
    "status": ("status", "text"),
    "criterion": ("criterion", "text"),
    "step": ("step", "count"),
    "n_before": ("patients before this step", "count"),
    "excluded": ("excluded", "count"),
    "remaining": ("remaining", "count"),
    "n": ("patients", "count"),
    "events": ("events", "count"),
    "cost": ("cost per patient", "money"),
    "qalys": ("QALYs per patient", "qaly"),
    "life_years": ("life-years per patient", "qaly"),
    "inc_cost": ("incremental cost", "money"),
    "inc_qalys": ("incremental QALYs", "qaly"),
    "icer": ("ICER (per QALY gained)", "icer"),
    "cost_mean": ("mean cost", "money"),
    "cost_low": ("cost, 2.5 %", "money"),
    "cost_high": ("cost, 97.5 %", "money"),
    "qalys_mean": ("mean QALYs", "qaly"),
    "qalys_low": ("QALYs, 2.5 %", "qaly"),
    "qalys_high": ("QALYs, 97.5 %", "qaly"),
    "life_years_mean": ("mean life-years", "qaly"),
    "p_cost_effective": ("probability cost-effective", "percent"),
    "parameter": ("uncertain input", "parameter"),
    "evppi": ("EVPPI per patient", "money"),
    "evppi_se": ("± (standard error)", "money"),
    "evpi": ("EVPI per patient", "money"),
    "low_value": ("low value", "value"),
    "high_value": ("high value", "value"),
    "outcome_low": ("incremental NMB at the low value", "money"),
    "outcome_high": ("incremental NMB at the high value", "money"),
    "outcome_base": ("incremental NMB, base case", "money"),
    "swing": ("swing", "money"),
    "hazard_ratio": ("hazard ratio", "number"),
    "hr_ci_lower": ("HR 95 % CI, lower", "number"),
    "hr_ci_upper": ("HR 95 % CI, upper", "number"),
    "logrank_p": ("log-rank p", "p"),
    "ph_test_p": ("proportional-hazards test p", "p"),
    "rmst_difference_months": ("RMST difference [months]", "number"),
    "rmst_tau_months": ("RMST horizon [months]", "number"),
    "median_months": ("median [months]", "number"),
    "median_ci_lower": ("median 95 % CI, lower [months]", "number"),
    "median_ci_upper": ("median 95 % CI, upper [months]", "number"),
    # the calibration the run used (provenance: tables.calibration_table; meanings in data_dictionary.py)
    "calibration_id": ("outcome calibration used", "text"),
    "calibration_sha256": ("fingerprint of the calibration file (SHA-256)", "text"),
    "calibration_path": ("calibration file read from", "text"),
    "physics_source_hash": ("fingerprint of the physics and cohort code it was fitted with", "text"),
    "physics_matches": ("fitted with the physics and cohort code running now", "yes/no"),
    "indications": ("disease settings it was fitted for", "text"),
    "calibrated_effects": ("treatment effects fitted to published trials", "text"),
    "assumed_effects": ("treatment effects assumed without trial data (at their priors)", "text"),
}


#: table or figure name (also its file name) -> what it shows, for pickers; others: underscores as spaces
OUTPUT_TITLES: dict[str, str] = {
    "consort": "CONSORT flow (eligibility criteria)",
    "patients": "patients (one row per patient)",
    "survival_summary": "survival summary (medians)",
    "comparison": "arm comparison (hazard ratios, log-rank, RMST)",
    "parametric_fits": "parametric survival fits",
    "km_curves": "Kaplan-Meier curves (data)",
    "economics": "costs and QALYs per strategy",
    "incremental": "incremental analysis (ICERs)",
    "calibration": "calibration used (provenance)",
    "psa_summary": "probabilistic results per strategy",
    "ceac": "probability cost-effective against the willingness to pay (CEAC)",
    "ceaf": "cost-effectiveness acceptability frontier",
    "evpi": "expected value of perfect information (EVPI)",
    "evppi": "value of information per input (EVPPI)",
    "tornado": "tornado (one-way sensitivity)",
    "decision_drivers": "what drives the decision",
    "structural": "structural assumptions",
    "psa_inputs": "sampled inputs of the PSA",
    "kaplan_meier_os": "Kaplan-Meier, overall survival",
    "kaplan_meier_pfs": "Kaplan-Meier, progression-free survival",
    "consort_funnel": "CONSORT funnel",
    "ce_plane": "cost-effectiveness plane (base case)",
    "ce_plane_psa": "cost-effectiveness plane (PSA draws)",
    "price": "ICER and probability cost-effective against the price",
}


def output_title(name: str) -> str:
    """What a table or figure of a run shows, in words (its file name stays ``name``)."""
    return OUTPUT_TITLES.get(name, name.replace("_", " "))


def _formatter(kind: str, currency: str, row_parameter: str | None = None) -> Callable[[object], str]:
    if kind == "money":
        return lambda v: money(_float(v), currency)
    if kind == "qaly":
        return lambda v: number(_float(v), 3)
    if kind == "icer":
        return lambda v: money(_float(v), currency)
    if kind == "percent":
        return lambda v: percent(_float(v))
    if kind == "p":
        return lambda v: p_value(_float(v))
    if kind == "count":
        return lambda v: f"{int(v):,}"
    if kind == "number":
        return lambda v: number(_float(v), 2)
    if kind == "parameter":
        return lambda v: parameter_label(str(v))
    if kind == "yes/no":
        return lambda v: {True: "yes", False: "no"}.get(v, str(v)) if isinstance(v, bool) else _yes_no_text(v)
    return str


def _yes_no_text(v: object) -> str:
    """A truth value read back from a CSV or the store ("True", "false", 1) as yes/no; anything else as is."""
    text = str(v).strip().lower()
    return "yes" if text in ("true", "1", "yes") else "no" if text in ("false", "0", "no") else str(v)


def _float(v: object) -> float | None:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def stakeholder_table(
    df: pd.DataFrame, currency: str, columns: Mapping[str, tuple[str, str]] | None = None
) -> pd.DataFrame:
    """``df`` with plain-language headers and every number formatted as text (see the module docstring).

    Columns not in :data:`COLUMNS` (or ``columns``) keep their name with underscores as spaces and are
    formatted as numbers. A ``low_value``/``high_value`` pair is formatted by the row's ``parameter``."""
    spec = {**COLUMNS, **(columns or {})}
    out = {}
    for col in df.columns:
        label, kind = spec.get(col, (str(col).replace("_", " "), "auto"))
        values = df[col]
        if kind == "value" and "parameter" in df.columns:
            out[label] = [
                parameter_value(str(p), float(v), currency) for p, v in zip(df["parameter"], values, strict=True)
            ]
            continue
        if kind == "auto":
            if pd.api.types.is_bool_dtype(values):
                out[label] = values.map(lambda v: "yes" if v else "no")
            elif pd.api.types.is_numeric_dtype(values):
                out[label] = values.map(lambda v: number(_float(v)))
            else:
                out[label] = values.astype(str)
            continue
        out[label] = values.map(_formatter(kind, currency))
    return pd.DataFrame(out)
