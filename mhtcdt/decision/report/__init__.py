"""What a run produces for people: the run folder, tables, figures, workbook and the HTML report.

Used by both front ends (the ``mhtcdt`` CLI and the Streamlit app).

* :mod:`.run_folder`  the printed summary and the files of a run folder
* :mod:`.tables`      every result table by name (CSV / ZIP, Excel workbook)
* :mod:`.figures`     matplotlib figures of the result DataFrames
* :mod:`.html`        the self-contained CHEERS 2022 HTML report
"""
