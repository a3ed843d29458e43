"""Structural alternatives side by side: the PSA re-run with named presets of the uncertain inputs held fixed.

A preset (``decision/scenario/data/structural_presets.toml``, e.g. infiltrative share low / high, linked vs
separate kill effectiveness, thermotolerance timing) fixes some inputs of the registry; every other input
keeps its distribution and the *same* draws (common random numbers), so the differences between rows are
the structural choice, not Monte Carlo noise. Each row gives the expected cost and QALYs of the compared
strategies, the incremental values, the ICER of the expected values and the probability that the focal
strategy is cost-effective at the willingness to pay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mhtcdt.decision.scenario.uncertain_inputs import StructuralPreset, structural_presets

BASE_ROW = "base"


def _row(cost: np.ndarray, qalys: np.ndarray, arms: list[str], focal: str, reference: str, wtp: float) -> dict:
    j_f, j_r = arms.index(focal), arms.index(reference)
    inc_c = float((cost[:, j_f] - cost[:, j_r]).mean())
    inc_q = float((qalys[:, j_f] - qalys[:, j_r]).mean())
    nb = wtp * qalys - cost
    p_ce = float(np.mean(nb[:, j_f] >= nb[:, j_r]))
    if inc_q > 0:
        icer, status = inc_c / inc_q, "ICER"
    elif inc_c <= 0:
        icer, status = np.nan, "dominant" if inc_q >= 0 else "cheaper, less effective"
    else:
        icer, status = np.nan, "dominated"
    return {
        "cost_reference": float(cost[:, j_r].mean()),
        "cost_focal": float(cost[:, j_f].mean()),
        "qalys_reference": float(qalys[:, j_r].mean()),
        "qalys_focal": float(qalys[:, j_f].mean()),
        "inc_cost": inc_c,
        "inc_qalys": inc_q,
        "icer": icer,
        "icer_status": status,
        "p_cost_effective": p_ce,
    }


def structural_table(
    evaluate: Callable[[Mapping[str, Any]], tuple[np.ndarray, np.ndarray]],
    base: tuple[np.ndarray, np.ndarray],
    uncertain: Sequence[str],
    arms: list[str],
    focal: str,
    reference: str,
    wtp: float,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row for the base PSA and one per preset (``names``; default every preset of the package).

    ``evaluate(fixed)`` returns (cost, qalys) (D, S) of the PSA with the inputs ``fixed`` held; ``base`` the
    base PSA's; ``uncertain``: the inputs sampled in this PSA (a preset fixing any other input is listed as
    not evaluated). Columns: ``preset``, ``label``, ``fixed``, ``evaluated``, then the expected costs and
    QALYs, ``inc_cost``, ``inc_qalys``, ``icer``, ``icer_status``, ``p_cost_effective``."""
    presets: dict[str, StructuralPreset] = structural_presets()
    chosen = list(presets) if names is None else list(names)
    rows = [
        {
            "preset": BASE_ROW,
            "label": "base PSA (every input uncertain)",
            "fixed": "",
            "evaluated": True,
            **_row(*base, arms, focal, reference, wtp),
        }
    ]
    for name in chosen:
        preset = presets[name]
        fixed_text = ", ".join(
            f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in preset.values.items()
        )
        missing = [k for k in preset.values if k not in uncertain]
        if missing or focal == reference:
            why = "not uncertain in this PSA: " + ", ".join(missing) if missing else "no comparison"
            rows.append({"preset": name, "label": preset.label, "fixed": fixed_text, "evaluated": False, "note": why})
            continue
        cost, qalys = evaluate(preset.values)
        rows.append(
            {
                "preset": name,
                "label": preset.label,
                "fixed": fixed_text,
                "evaluated": True,
                **_row(cost, qalys, arms, focal, reference, wtp),
            }
        )
    table = pd.DataFrame(rows)
    if "note" not in table:
        table["note"] = ""
    table["note"] = table["note"].fillna("")
    return table


def format_structural(table: pd.DataFrame, currency: str, focal: str, reference: str) -> list[str]:
    """Plain-text lines of the side-by-side table (CLI summary)."""
    lines = [
        f"  {'structure':<52s} {'inc. cost':>12s} {'inc. QALYs':>10s} {'ICER':>16s} {'P(CE)':>6s}",
    ]
    for r in table.itertuples(index=False):
        if not r.evaluated:
            lines.append(f"  {r.label:<52s} not evaluated ({r.note})")
            continue
        icer = f"{currency} {r.icer:,.0f}" if r.icer_status == "ICER" else r.icer_status
        lines.append(
            f"  {r.label:<52s} {r.inc_cost:>12,.0f} {r.inc_qalys:>10.3f} {icer:>16s} {r.p_cost_effective:>6.0%}"
        )
    return lines
