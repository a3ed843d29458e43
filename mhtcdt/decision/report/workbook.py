"""One Excel workbook with every table of a run (one sheet per table).

Needs openpyxl, an optional dependency: ``pip install 'mhtcdt[report]'``. Without it
:func:`xlsx_workbook` raises :class:`~mhtcdt.decision.extras.MissingExtra` naming the extra.
"""

from __future__ import annotations

import io

import pandas as pd

from mhtcdt.decision.extras import require
from mhtcdt.decision.report.cells import spreadsheet_safe


def xlsx_workbook(tables: dict[str, pd.DataFrame]) -> bytes:
    """One XLSX workbook, one sheet per table (sheet names cut to Excel's 31 characters; categorical
    columns written as their text; text that Excel would run as a formula, such as an arm named
    ``=HYPERLINK(...)``, written as text: :func:`~mhtcdt.decision.report.cells.spreadsheet_safe`)."""
    require("openpyxl", "report", "an Excel workbook")
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        for name, df in tables.items():
            out = df.copy()
            for col in out.columns:
                if isinstance(out[col].dtype, pd.CategoricalDtype):
                    out[col] = out[col].astype(str)
            spreadsheet_safe(out).to_excel(writer, sheet_name=name[:31], index=False)
    return buf.getvalue()
