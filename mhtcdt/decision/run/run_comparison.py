"""Two recorded runs side by side, for a reader rather than a developer.

Rows are matched by what they are, never by their position: each table has its keys (strategy,
willingness to pay, time, endpoint, arm, criterion, parameter ...) in :data:`TABLES`. Two runs of
different trials have different patients and different Kaplan-Meier event times, so those two tables
are compared through what they mean: the patients per arm (numbers, events, mean kill) and survival
read off each curve at fixed months (:data:`KM_MONTHS`). A table whose rows no key identifies is
reported as not compared, never matched row by row.

Every comparison is a table with plain-language headers: ``row`` (the keys in words), ``quantity``,
``run A``, ``run B``, ``change`` (B - A) and ``change %``; :func:`readable` formats its numbers for
reading (thousands separators, no e-notation). ``mhtcdt runs compare`` and the app's Recorded runs page
show the same tables.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mhtcdt.errors import InputError

#: months at which two runs' Kaplan-Meier curves are read and compared
KM_MONTHS = (3.0, 6.0, 12.0, 18.0, 24.0, 36.0, 60.0)
COLUMNS = ["row", "quantity", "run A", "run B", "change", "change %"]


def _km_at_months(curves: pd.DataFrame) -> pd.DataFrame:
    """Survival of each arm and endpoint at :data:`KM_MONTHS` (the step function of the curve; empty
    after its last time: that month was not followed)."""
    rows = []
    for (arm, endpoint), curve in curves.groupby(["arm", "endpoint"], sort=False):
        curve = curve.sort_values("time_months")
        times, surv = curve["time_months"].to_numpy(float), curve["survival"].to_numpy(float)
        for month in KM_MONTHS:
            i = np.searchsorted(times, month, side="right") - 1
            value = surv[i] if 0 <= i and month <= times[-1] else np.nan
            rows.append({"endpoint": endpoint, "arm": arm, "month": month, "survival": value})
    return pd.DataFrame(rows)


def _patients_per_arm(trial: pd.DataFrame) -> pd.DataFrame:
    """Per arm: patients, events and mean treatment effect (two trials have different patients)."""
    groups = trial.groupby("arm", sort=False)
    out = pd.DataFrame({"patients": groups.size()})
    for column, how in (
        ("pfs_event", "sum"),
        ("os_event", "sum"),
        ("log10_kill_total", "mean"),
        ("t90_C", "mean"),
        ("age_years", "mean"),
    ):
        if column in trial.columns:
            out[column] = groups[column].agg(how).astype(float)
    return out.reset_index()


@dataclass(frozen=True)
class TableSpec:
    """How one stored table is compared: its title, its key columns and the values shown (column -> label);
    ``derive`` first turns the stored table into the compared one."""

    title: str
    keys: tuple[str, ...]
    values: dict[str, str]
    derive: Callable[[pd.DataFrame], pd.DataFrame] | None = None


TABLES: dict[str, TableSpec] = {
    "consort": TableSpec(
        "Patient flow (CONSORT)",
        ("criterion",),
        {"n_before": "patients before", "excluded": "excluded", "remaining": "remaining"},
    ),
    "patients": TableSpec(
        "Randomised patients per arm",
        ("arm",),
        {
            "patients": "patients",
            "pfs_event": "progressions or deaths observed",
            "os_event": "deaths observed",
            "log10_kill_total": "mean tumour kill [log10]",
            "t90_C": "mean T90 [C]",
            "age_years": "mean age [years]",
        },
        _patients_per_arm,
    ),
    "survival_summary": TableSpec(
        "Median survival",
        ("endpoint", "arm"),
        {
            "n": "patients",
            "events": "events",
            "median_months": "median [months]",
            "median_ci_lower": "median, 95% CI low",
            "median_ci_upper": "median, 95% CI high",
        },
    ),
    "comparison": TableSpec(
        "Treatment effect",
        ("endpoint", "comparison"),
        {
            "hazard_ratio": "hazard ratio",
            "hr_ci_lower": "hazard ratio, 95% CI low",
            "hr_ci_upper": "hazard ratio, 95% CI high",
            "logrank_p": "log-rank p",
            "rmst_difference_months": "RMST difference [months]",
        },
    ),
    "parametric_fits": TableSpec(
        "Parametric survival fits",
        ("endpoint", "arm", "distribution"),
        {"aic": "AIC", "delta_aic": "AIC above the best fit", "median_months": "median [months]"},
    ),
    "km_curves": TableSpec(
        "Kaplan-Meier survival at fixed months",
        ("endpoint", "arm", "month"),
        {"survival": "survival"},
        _km_at_months,
    ),
    "economics": TableSpec(
        "Costs and effects per patient",
        ("strategy",),
        {
            "cost": "cost (discounted)",
            "life_years": "life-years (discounted)",
            "qalys": "QALYs (discounted)",
            "cost_undiscounted": "cost (undiscounted)",
            "qalys_undiscounted": "QALYs (undiscounted)",
        },
    ),
    "incremental": TableSpec(
        "Incremental analysis",
        ("strategy",),
        {
            "inc_cost": "extra cost",
            "inc_qalys": "extra QALYs",
            "icer": "ICER (cost per QALY gained)",
        },
    ),
    "psa_summary": TableSpec(
        "Probabilistic results (mean and 95% interval)",
        ("strategy",),
        {
            "cost_mean": "mean cost",
            "cost_low": "cost, 2.5%",
            "cost_high": "cost, 97.5%",
            "qalys_mean": "mean QALYs",
            "qalys_low": "QALYs, 2.5%",
            "qalys_high": "QALYs, 97.5%",
        },
    ),
    "ceac": TableSpec(
        "Probability cost-effective",
        ("wtp", "strategy"),
        {"probability": "probability cost-effective", "expected_nmb": "expected net monetary benefit"},
    ),
    "ceaf": TableSpec(
        "Acceptability frontier",
        ("wtp",),
        {"probability": "probability cost-effective", "expected_nmb": "expected net monetary benefit"},
    ),
    "evpi": TableSpec("Value of perfect information", ("wtp",), {"evpi_per_patient": "EVPI per patient"}),
    "evppi": TableSpec(
        "Value of information per input",
        ("parameter",),
        {"evppi": "EVPPI per patient", "evppi_se": "EVPPI standard error"},
    ),
    "tornado": TableSpec(
        "One-way sensitivity (incremental net monetary benefit)",
        ("parameter",),
        {
            "low_value": "input, low",
            "high_value": "input, high",
            "outcome_low": "result at low input",
            "outcome_high": "result at high input",
            "swing": "swing",
        },
    ),
}

_KEY_LABELS = {"wtp": "WTP {}/QALY", "month": "month {}"}


def _key_text(name: str, value: object) -> str:
    if isinstance(value, float | np.floating):
        value = format_number(float(value))
    template = _KEY_LABELS.get(name)
    return template.format(value) if template else str(value)


def _generic_spec(name: str, a: pd.DataFrame, b: pd.DataFrame) -> TableSpec | str:
    """Keys = the text columns, when they identify the rows of both tables; else why it is not compared."""
    common = [c for c in a.columns if c in b.columns]
    numeric = [
        c
        for c in common
        if pd.api.types.is_numeric_dtype(a[c]) and pd.api.types.is_numeric_dtype(b[c]) and a[c].dtype != bool
    ]
    keys = tuple(c for c in common if c not in numeric)
    if not keys or a.duplicated(list(keys)).any() or b.duplicated(list(keys)).any():
        return "no column identifies its rows, and rows are never matched by position"
    return TableSpec(name, keys, {c: c.replace("_", " ") for c in numeric})


def compare_table(name: str, a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """One stored table of two runs, matched on its keys (:data:`TABLES`): a long table with
    :data:`COLUMNS`. A row present in one run only has the other run's value empty.

    Raises ``InputError`` (field ``table``) when no key identifies the rows."""
    spec = TABLES.get(name) or _generic_spec(name, a, b)
    if isinstance(spec, str):
        raise InputError("table", name, spec)
    if spec.derive is not None:
        a, b = spec.derive(a), spec.derive(b)
    keys = list(spec.keys)
    values = [c for c in spec.values if c in a.columns or c in b.columns]
    frames = []
    for frame in (a, b):
        frame = frame.copy()
        for c in values:
            frame[c] = frame[c].astype(float) if c in frame.columns else np.nan
        for k in keys:
            if not pd.api.types.is_numeric_dtype(frame[k]) or frame[k].dtype == bool:
                frame[k] = frame[k].astype(str)
        if frame.duplicated(keys).any():
            raise InputError("table", name, f"its keys {keys} do not identify its rows")
        frames.append(frame[keys + values])
    order = pd.concat([f[keys] for f in frames]).drop_duplicates()  # run A's rows first, then B's own
    merged = order.merge(frames[0], on=keys, how="left").merge(frames[1], on=keys, how="left", suffixes=(" A", " B"))
    rows = []
    for record in merged.to_dict("records"):
        label = " · ".join(_key_text(k, record[k]) for k in keys)
        for column in values:
            va, vb = float(record[f"{column} A"]), float(record[f"{column} B"])
            change = vb - va
            pct = change / abs(va) * 100.0 if math.isfinite(va) and va != 0.0 else np.nan
            rows.append((label, spec.values[column], va, vb, change, pct))
    return pd.DataFrame(rows, columns=COLUMNS)


_PROVENANCE = {
    "status": "status",
    "scenario_name": "scenario",
    "scenario_sha256": "scenario text (SHA-256)",
    "seed": "seed",
    "mhtcdt_version": "mhtcdt version",
    "git_commit": "git commit",
    "code_sha256": "code and data fingerprint",
    "python_version": "Python",
    "hostname": "computer",
    "executor": "executor",
    "command": "command",
    "started_utc": "started (UTC)",
    "duration_s": "duration [s]",
    "verdict": "verdict",
    "out_dir": "run folder",
}


@dataclass
class RunComparison:
    """Result of :func:`compare_runs`.

    ``metadata``: ``what``, ``run A``, ``run B``, ``same``. ``scenario_diff``: unified diff of the scenario
    texts ('' if identical). ``tables``: {name: :func:`compare_table`} for tables both runs stored;
    ``titles``: their plain names; ``not_compared``: {name: why}; ``only_in_a`` / ``only_in_b``: tables one
    run stored.
    """

    run_a: str
    run_b: str
    metadata: pd.DataFrame
    scenario_diff: str
    tables: dict[str, pd.DataFrame]
    titles: dict[str, str] = field(default_factory=dict)
    not_compared: dict[str, str] = field(default_factory=dict)
    only_in_a: list[str] = field(default_factory=list)
    only_in_b: list[str] = field(default_factory=list)


def compare_runs(
    run_a: str, run_b: str, db_path: str | os.PathLike | None = None, tables: list[str] | None = None
) -> RunComparison:
    """Compare provenance, scenario text and result tables of two runs (ids or unique prefixes)."""
    from mhtcdt.decision.run import store

    ra, rb = store.get_run(run_a, db_path), store.get_run(run_b, db_path)
    shown = [f for f in _PROVENANCE if f in ra and f in rb]
    meta = pd.DataFrame(
        {
            "what": [_PROVENANCE[f] for f in shown],
            "run A": ["" if ra[f] is None else str(ra[f]) for f in shown],
            "run B": ["" if rb[f] is None else str(rb[f]) for f in shown],
        }
    )
    meta["same"] = meta["run A"] == meta["run B"]
    diff = "".join(
        difflib.unified_diff(
            ra["scenario_text"].splitlines(keepends=True),
            rb["scenario_text"].splitlines(keepends=True),
            fromfile=f"A {ra['run_id']}",
            tofile=f"B {rb['run_id']}",
        )
    )
    names_a = list(store.run_tables(ra["run_id"], db_path)["table_name"])
    names_b = list(store.run_tables(rb["run_id"], db_path)["table_name"])
    both = [n for n in names_a if n in names_b]
    if tables:
        for name in tables:
            if name not in both:
                raise InputError("table", name, f"not stored by both runs; common tables: {', '.join(both) or 'none'}")
        both = list(tables)
    compared, titles, skipped = {}, {}, {}
    for name in sorted(both, key=lambda n: list(TABLES).index(n) if n in TABLES else len(TABLES)):
        a, b = store.load_table(ra["run_id"], name, db_path), store.load_table(rb["run_id"], name, db_path)
        try:
            compared[name] = compare_table(name, a, b)
            titles[name] = TABLES[name].title if name in TABLES else name
        except InputError as exc:
            skipped[name] = exc.message
    return RunComparison(
        ra["run_id"],
        rb["run_id"],
        meta,
        diff,
        compared,
        titles,
        skipped,
        [n for n in names_a if n not in names_b],
        [n for n in names_b if n not in names_a],
    )


def format_number(x: float | None) -> str:
    """A number for reading: thousands separators, at most 4 decimals, no e-notation; '—' when empty."""
    if x is None or not math.isfinite(x):
        return "—"
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    size = abs(x)
    if size >= 1000:
        return f"{x:,.0f}"
    if size >= 10:
        return f"{x:,.1f}"
    if size >= 0.0001:
        return f"{x:.4f}".rstrip("0").rstrip(".")
    return "< 0.0001" if x > 0 else "> -0.0001"


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """A :func:`compare_table` result with its numbers as text for reading (``change %`` as ``+12.3 %``)."""
    out = table.copy()
    for column in ("run A", "run B"):
        out[column] = out[column].map(format_number)
    same = _same(table["run A"], table["run B"])
    out["change"] = [
        "—" if not math.isfinite(c) else ("0" if s else ("+" if c > 0 else "") + format_number(c))
        for c, s in zip(table["change"], same, strict=True)
    ]
    out["change %"] = [
        "" if not math.isfinite(p) or s else f"{p:+.1f} %" for p, s in zip(table["change %"], same, strict=True)
    ]
    return out


#: values closer than this (relative) are the same: floating-point round-off is not a change
SAME_RELATIVE = 1e-9


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    scale = np.maximum(np.maximum(a.abs(), b.abs()), 1.0)
    return (a == b) | ((a - b).abs() <= SAME_RELATIVE * scale) | (a.isna() & b.isna())  # a == b: equal infinities


def changed(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a :func:`compare_table` result whose value differs (beyond round-off) or exists in one
    run only."""
    return table[~_same(table["run A"], table["run B"])]
