"""Every result table of a run by name, for both front ends: the app's downloads and the run folder.

One name per table everywhere (:data:`RUN_TABLES`): the run folder's ``<name>.csv``
(:func:`mhtcdt.decision.report.run_folder.write_outputs`), the results store
(``mhtcdt runs show RUN --table <name>``), ``mhtcdt runs export`` and the app's downloads (which add
``psa_draws``, every draw, and a ``p_cost_effective`` column to ``psa_summary``). :func:`csv_zip` packs
them as one ZIP of CSVs; the Excel workbook is :func:`mhtcdt.decision.report.workbook.xlsx_workbook`.
Text cells that a spreadsheet would run as formulas are neutralised in both
(:func:`mhtcdt.decision.report.cells.spreadsheet_safe`).
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pandas as pd

from mhtcdt.decision.report.cells import spreadsheet_safe

#: the tables of a run (PSA tables only when a PSA ran), in the order they are written
PIPELINE_TABLES = (
    "consort",
    "patients",
    "survival_summary",
    "comparison",
    "parametric_fits",
    "km_curves",
    "economics",
    "incremental",
)
PSA_TABLES = ("psa_summary", "ceac", "ceaf", "evpi", "evppi", "tornado")
#: added when the PSA samples physics and structural inputs
PHYSICS_PSA_TABLES = ("decision_drivers", "structural", "psa_inputs")
RUN_TABLES = PIPELINE_TABLES + PSA_TABLES + PHYSICS_PSA_TABLES


def psa_summary_table(psa: Any, wtp: float) -> pd.DataFrame:
    """Per strategy: mean cost and QALYs with 95 % intervals over the PSA draws
    (:meth:`~mhtcdt.decision.model.psa.PSAResult.summary`) and ``p_cost_effective`` at ``wtp``."""
    table = psa.summary()
    prob = psa.probability_cost_effective(float(wtp))
    table["p_cost_effective"] = table["strategy"].map(prob).astype(float)
    return table


def run_tables(result: Any, psa: Any | None = None) -> dict[str, pd.DataFrame]:
    """Name -> DataFrame of the tables of :data:`RUN_TABLES` (those of the PSA when ``psa`` is given): what
    the run folder and the results store keep."""
    tables = {
        "consort": result.flow,
        "patients": result.trial,
        "survival_summary": result.survival_summary,
        "comparison": result.comparison,
        "parametric_fits": result.parametric,
        "km_curves": result.curves,
        "economics": result.economics,
        "incremental": result.incremental,
    }
    if psa is not None:
        tables.update(
            psa_summary=psa.summary(),
            ceac=psa.ceac,
            ceaf=psa.ceaf,
            evpi=psa.evpi,
            evppi=psa.evppi,
            tornado=psa.tornado,
            **(
                {
                    "decision_drivers": psa.drivers,
                    "structural": psa.structural,
                    "psa_inputs": psa.physics.inputs_table(),
                }
                if getattr(psa, "physics", None) is not None
                else {}
            ),
        )
    return tables


def result_tables(result: Any, psa: Any | None = None) -> dict[str, pd.DataFrame]:
    """Name -> DataFrame of every table of a pipeline result (and of its PSA result, if given): the
    :func:`run_tables` with ``p_cost_effective`` in ``psa_summary`` and every draw in ``psa_draws``."""
    tables = run_tables(result, psa)
    if psa is not None:
        tables.update(
            psa_summary=psa_summary_table(psa, psa.willingness_to_pay),
            psa_draws=pd.concat(
                [
                    pd.DataFrame(psa.cost, columns=[f"cost[{s}]" for s in psa.strategies]),
                    pd.DataFrame(psa.qalys, columns=[f"qalys[{s}]" for s in psa.strategies]),
                    psa.parameters.reset_index(drop=True),
                ],
                axis=1,
            ),
        )
    return tables


def csv_zip(tables: dict[str, pd.DataFrame]) -> bytes:
    """A ZIP archive with one UTF-8 CSV per table."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, df in tables.items():
            zf.writestr(f"{name}.csv", spreadsheet_safe(df).to_csv(index=False))
    return buf.getvalue()
