"""Text from users in files and terminals: cells that cannot become spreadsheet formulas, lines that
cannot move the cursor.

* :func:`spreadsheet_safe`: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return is read as a formula by Excel, LibreOffice and Google Sheets (CSV/formula injection: an arm named
  ``=HYPERLINK("http://evil", "click")`` would run when the file is opened). Such cells get a leading
  apostrophe, the spreadsheets' own marker for "text" (OWASP, "CSV Injection"). Numbers are untouched
  (``-6785.3`` stays a number). Every CSV and XLSX the package writes goes through it: the run folder,
  the app's downloads, ``mhtcdt runs export`` and the workbook.
* :func:`terminal_safe`: control characters (ANSI escape sequences, bell, NUL, C1 controls) shown as
  ``\\xNN`` escapes, so a scenario or arm name cannot clear a screen, ring a bell or fake output in
  ``mhtcdt runs list``, the printed summary or ``summary.txt``. Line breaks are kept in running text
  and escaped inside a table cell (:func:`terminal_cell`).
"""

from __future__ import annotations

import re

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_IN_CELL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def spreadsheet_cell(value: object) -> object:
    """``value`` with a leading apostrophe if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def spreadsheet_safe(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose text cells and column names cannot start a formula (the same table
    when nothing needs changing). Categorical columns become text columns only when one changes."""
    out = table
    for i in range(table.shape[1]):
        series = table.iloc[:, i]
        if not (pd.api.types.is_object_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype)):
            continue
        text = series.astype(object)
        risky = text.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_PREFIXES))
        if risky.any():
            if out is table:
                out = table.copy()
            out.isetitem(i, text.map(spreadsheet_cell))
    names = [spreadsheet_cell(c) for c in table.columns]
    if names != list(table.columns):
        out = out.copy() if out is table else out
        out.columns = names
    return out


def terminal_safe(text: object) -> str:
    """``text`` with control characters other than newline and tab as ``\\xNN`` escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def terminal_cell(text: object) -> str:
    """One table cell for a terminal: every control character, newlines and tabs too, escaped."""
    return _CONTROL_IN_CELL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def terminal_table(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose text cells and column names are :func:`terminal_cell` (for ``to_string``)."""
    out = table.copy()
    for i in range(out.shape[1]):
        series = out.iloc[:, i]
        if pd.api.types.is_object_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype):
            out.isetitem(i, series.astype(object).map(lambda v: terminal_cell(v) if isinstance(v, str) else v))
    out.columns = [terminal_cell(c) for c in out.columns]
    return out
