"""Which uncertain inputs drive the decision: the PSA's inputs ranked by EVPPI, with plain-language labels.

Two measures per input (or group), both from the same PSA draws:

* **EVPPI** per patient at the scenario's willingness to pay (Strong-Oakley regression,
  :func:`mhtcdt.economics.voi.evppi`; exact conditional means for a discrete input: the expected gain from
  choosing the best strategy knowing the input's level). It is what resolving the input is worth, and it is
  0 for every input when no information could change the decision (EVPI = 0).
* **Share of the variance of the incremental net benefit** (focal strategy vs the reference) that the
  input explains on its own: ``Var(E[INB | x]) / Var(INB)``, estimated by the mean of the INB in 20
  equal-count bins of ``x`` (levels for a discrete input), less the bins' own sampling variance
  (first-order sensitivity index, "given data" estimator). It ranks the inputs even when the decision is
  certain.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from mhtcdt.economics import voi

N_BINS = 20
EVPI_NEGLIGIBLE = 1.0  # currency per patient: below this the decision is treated as certain


def discrete_evppi(cost: np.ndarray, qalys: np.ndarray, levels: np.ndarray, wtp: float) -> float:
    """EVPPI of a discrete input, exactly: ``E_level[max_s E[NB_s | level]] - max_s E[NB_s]`` (per patient)."""
    nb = wtp * np.asarray(qalys) - np.asarray(cost)
    levels = np.asarray(levels)
    best_now = float(nb.mean(axis=0).max())
    known = sum((levels == v).mean() * float(nb[levels == v].mean(axis=0).max()) for v in np.unique(levels))
    return max(0.0, float(known) - best_now)


def variance_share(inb: np.ndarray, x: np.ndarray, discrete: bool = False, n_bins: int = N_BINS) -> float:
    """First-order share of ``Var(inb)`` explained by ``x`` (see the module docstring), in [0, 1]."""
    inb = np.asarray(inb, dtype=np.float64)
    total = float(inb.var())
    if total <= 0 or np.ptp(x) == 0:
        return 0.0
    if discrete:
        groups = np.unique(np.asarray(x), return_inverse=True)[1].ravel()
    else:
        order = np.argsort(np.asarray(x, dtype=np.float64), kind="stable")
        groups = np.empty(inb.size, dtype=np.int64)
        groups[order] = np.minimum(np.arange(inb.size) * n_bins // inb.size, n_bins - 1)
    between = 0.0
    noise = 0.0
    for g in np.unique(groups):
        y = inb[groups == g]
        w = y.size / inb.size
        between += w * (y.mean() - inb.mean()) ** 2
        if y.size > 1:
            noise += w * y.var(ddof=1) / y.size
    return float(np.clip((between - noise) / total, 0.0, 1.0))


def drivers_table(
    evppi: pd.DataFrame,
    inb: np.ndarray,
    inc_qalys: np.ndarray,
    columns: Mapping[str, tuple[np.ndarray, bool]],
    labels: Mapping[str, str],
    kinds: Mapping[str, str],
) -> pd.DataFrame:
    """The ranked table: ``parameter``, ``label``, ``kind`` (economic, physics, outcome, group), ``evppi``,
    ``evppi_se``, ``share_of_evpi``, ``inb_variance_share`` and ``qaly_gain_variance_share`` (the shares of
    the variance of the incremental net benefit and of the incremental QALYs; NaN for groups), ``rank`` (by
    EVPPI in whole currency units, then by the INB share). ``columns``: parameter -> (its draws, discrete?)."""
    evpi = float(evppi["evpi"].iloc[0]) if len(evppi) else 0.0
    rows = []
    for r in evppi.itertuples(index=False):
        x = columns.get(r.parameter)
        rows.append(
            {
                "parameter": r.parameter,
                "label": labels.get(r.parameter, r.parameter),
                "kind": kinds.get(r.parameter, "group"),
                "evppi": float(r.evppi),
                "evppi_se": float(r.evppi_se),
                "share_of_evpi": float(r.evppi) / evpi if evpi > 0 else 0.0,
                "inb_variance_share": variance_share(inb, x[0], x[1]) if x is not None else np.nan,
                "qaly_gain_variance_share": variance_share(inc_qalys, x[0], x[1]) if x is not None else np.nan,
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table.assign(rank=pd.Series(dtype="int64"))
    # EVPPIs are ranked as every table shows them, in whole currency units: below one unit per patient the
    # regression estimates are noise (a 0.001 would otherwise rank an input with 0 % of the INB variance first,
    # above ones that explain most of it), so displayed ties are ordered by the share of INB variance.
    table = (
        table.assign(_evppi_shown=table["evppi"].round(0))
        .sort_values(
            ["_evppi_shown", "inb_variance_share"], ascending=[False, False], na_position="last", kind="stable"
        )
        .drop(columns="_evppi_shown")
        .reset_index(drop=True)
    )
    table["rank"] = np.arange(1, len(table) + 1)
    return table


def decision_drivers_text(
    table: pd.DataFrame, evpi: float, wtp: float, currency: str, focal: str, reference: str, p_best: float, best: str
) -> list[str]:
    """Plain-language answer to "which uncertain inputs drive the decision" (one string per line)."""
    singles = table[table["kind"] != "group"]
    lines = []
    if evpi > EVPI_NEGLIGIBLE:
        top = singles[singles["evppi"] > 0].head(5)
        lines.append(
            f"At {currency} {wtp:,.0f} per QALY the choice between '{focal}' and '{reference}' is uncertain "
            f"('{best}' is best in {p_best:.0%} of draws; perfect information is worth {currency} {evpi:,.0f} "
            "per patient). The uncertain inputs worth resolving, by EVPPI per patient:"
        )
        for i, r in enumerate(top.itertuples(index=False), start=1):
            lines.append(f"  {i}. {r.label}: {currency} {r.evppi:,.0f} ({r.share_of_evpi:.0%} of EVPI)")
        if top.empty:
            lines.append("  none alone: only inputs taken together matter (see the groups in the EVPPI table)")
    else:
        lines.append(
            f"At {currency} {wtp:,.0f} per QALY no uncertain input can change the decision: '{best}' is best in "
            f"{p_best:.0%} of draws and perfect information is worth {currency} {max(evpi, 0.0):,.0f} per patient "
            f"(EVPI). What moves the incremental net benefit of '{focal}' vs '{reference}' most (share of its "
            "variance explained by the input alone):"
        )
        top = singles.sort_values("inb_variance_share", ascending=False).head(5)
        for i, r in enumerate(top.itertuples(index=False), start=1):
            lines.append(f"  {i}. {r.label}: {r.inb_variance_share:.0%}")
    gain = singles.sort_values("qaly_gain_variance_share", ascending=False).head(5)
    gain = gain[gain["qaly_gain_variance_share"] > 0]
    if len(gain):
        lines.append(
            f"What moves the QALY gain of '{focal}' most (share of its variance explained by the input alone):"
        )
        for i, r in enumerate(gain.itertuples(index=False), start=1):
            lines.append(f"  {i}. {r.label}: {r.qaly_gain_variance_share:.0%}")
    return lines


def evppi_row(cost: np.ndarray, qalys: np.ndarray, x: np.ndarray, wtp: float, discrete: bool) -> tuple[float, float]:
    """(EVPPI, its standard error) of one input: exact for a discrete input (standard error 0), regression
    (:func:`mhtcdt.economics.voi.evppi`) otherwise; 0 for an input that does not vary."""
    if np.ptp(x) == 0:
        return 0.0, 0.0
    if discrete:
        return discrete_evppi(cost, qalys, x, wtp), 0.0
    row = voi.evppi(cost, qalys, x, wtp).iloc[0]
    return float(row["evppi"]), float(row["evppi_se"])
