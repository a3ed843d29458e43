"""Downloadable files of one run: tables (CSV, one ZIP or one XLSX workbook) and figures (PNG/SVG).

Table names match the files of :func:`mhtcdt.decision.report.run_folder.write_outputs` so a download from the
app and a CLI run look the same.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from mhtcdt.decision.report import figures


def result_tables(result: Any, psa: Any | None = None) -> dict[str, pd.DataFrame]:
    """Name -> DataFrame of every table of a pipeline result (and of its PSA result, if given)."""
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
        from mhtcdt.app.psa_view import summary_table

        tables.update(
            psa_summary=summary_table(psa, psa.willingness_to_pay),
            ceac=psa.ceac,
            ceaf=psa.ceaf,
            evpi=psa.evpi,
            evppi=psa.evppi,
            tornado=psa.tornado,
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
            zf.writestr(f"{name}.csv", df.to_csv(index=False))
    return buf.getvalue()


def xlsx_workbook(tables: dict[str, pd.DataFrame]) -> bytes:
    """One XLSX workbook, one sheet per table (sheet names cut to Excel's 31 characters)."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        for name, df in tables.items():
            out = df.copy()
            for col in out.columns:  # Excel has no categorical/bool dtype issues, but keep text stable
                if isinstance(out[col].dtype, pd.CategoricalDtype):
                    out[col] = out[col].astype(str)
            out.to_excel(writer, sheet_name=name[:31], index=False)
    return buf.getvalue()


def result_figures(result: Any, psa: Any | None = None) -> dict[str, Callable[[], Figure]]:
    """Name -> function drawing the figure (drawn only when asked for)."""
    sc = result.scenario

    def km(endpoint: str) -> Callable[[], Figure]:
        def draw() -> Figure:
            times = figures.at_risk_times(result.curves, endpoint)
            return figures.kaplan_meier(result.curves, endpoint, figures.numbers_at_risk(result.trial, endpoint, times))

        return draw

    out = {
        "kaplan_meier_os": km("OS"),
        "kaplan_meier_pfs": km("PFS"),
        "consort_funnel": lambda: figures.consort_funnel(result.flow),
        "ce_plane": lambda: figures.ce_plane(
            result.economics, sc.trial.reference_arm, sc.economics.willingness_to_pay, sc.economics.currency
        ),
    }
    if psa is not None:
        from mhtcdt.economics import plots

        cur, w = psa.currency, psa.willingness_to_pay
        out.update(
            ce_plane_psa=lambda: plots.ce_plane_figure(psa.ce_plane(), w, currency=cur),
            ceac=lambda: plots.ceac_figure(psa.ceac, currency=cur),
            evpi=lambda: plots.evpi_figure(psa.evpi, currency=cur),
        )
        if len(psa.tornado):
            out["tornado"] = lambda: plots.tornado_figure(psa.tornado, outcome_label=f"incremental NMB [{cur}]")
    return out
