"""Reports in the package: the run folder's report files leave the CSVs unchanged, the merged CE plane
draws the numbers it is given, and the workbook holds every table."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from mhtcdt.decision.model.psa import run_psa
from mhtcdt.decision.report import figures, tables, workbook
from mhtcdt.decision.report.run_folder import write_outputs
from mhtcdt.decision.run.pipeline import run_pipeline
from mhtcdt.decision.scenario.loading import default_scenario, scenario_text


@pytest.fixture(scope="module")
def run():
    base = default_scenario()
    sc = base.model_copy(update={"cohort": base.cohort.model_copy(update={"n_screened": 150})})
    result = run_pipeline(sc, seed=5)
    return result, run_psa(result, n_draws=40)


def test_report_files_leave_the_csv_outputs_identical(run, tmp_path):
    result, psa = run
    plain = write_outputs(result, scenario_text(), tmp_path / "plain", psa=psa)
    full = write_outputs(result, scenario_text(), tmp_path / "full", psa=psa, report=True)
    for path in plain:
        if path.name != "run.json":  # holds the time it was written
            assert (tmp_path / "full" / path.name).read_bytes() == path.read_bytes(), path.name
    extra = {p.relative_to(tmp_path / "full").as_posix() for p in full} - {p.name for p in plain}
    names = set(figures.result_figures(result, psa))
    assert extra == {"report.html", "tables.xlsx"} | {f"figures/{n}.{f}" for n in names for f in ("png", "svg")}
    assert (tmp_path / "full" / "figures" / "ce_plane_psa.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "full" / "figures" / "kaplan_meier_os.svg").read_text(encoding="utf-8")
    html = (tmp_path / "full" / "report.html").read_text(encoding="utf-8")
    assert "CHEERS 2022 checklist" in html and result.scenario.name in html
    sheets = pd.read_excel(tmp_path / "full" / "tables.xlsx", sheet_name=None)
    assert set(sheets) == set(tables.result_tables(result, psa))
    assert sheets["incremental"]["strategy"].tolist() == result.incremental["strategy"].tolist()


def test_ce_plane_draws_each_strategy_and_each_draw(run):
    result, psa = run
    ref = result.scenario.trial.reference_arm
    per = result.economics.set_index("strategy")
    fig = figures.ce_plane(result.economics, ref, 30_000.0, "GBP")
    points = np.vstack([c.get_offsets() for c in fig.axes[0].collections])
    expected = np.column_stack([per["qalys"] - per.at[ref, "qalys"], per["cost"] - per.at[ref, "cost"]])
    np.testing.assert_allclose(np.sort(points, axis=0), np.sort(expected, axis=0))

    plane = psa.ce_plane()
    fig = figures.ce_plane(psa.point, psa.reference, 30_000.0, "GBP", plane)
    clouds = [c.get_offsets() for c in fig.axes[0].collections if len(c.get_offsets()) == psa.n_draws]
    assert len(clouds) == len(psa.strategies) - 1
    np.testing.assert_allclose(clouds[0], plane[["inc_qalys", "inc_cost"]].to_numpy()[: psa.n_draws])
    means = [line.get_xydata()[0] for line in fig.axes[0].lines if line.get_marker() == "X" and len(line.get_xydata())]
    np.testing.assert_allclose(means[0], plane[["inc_qalys", "inc_cost"]].mean().to_numpy())


def test_workbook_round_trips_every_table(run):
    result, psa = run
    named = tables.result_tables(result, psa)
    sheets = pd.read_excel(io.BytesIO(workbook.xlsx_workbook(named)), sheet_name=None)
    assert set(sheets) == {n[:31] for n in named}
    assert len(sheets["psa_draws"]) == psa.n_draws
