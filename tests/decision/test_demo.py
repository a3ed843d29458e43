"""End to end: `mhtcdt demo` writes consistent outputs, and a run is a pure function of (scenario, seed)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mhtcdt.decision.cli.main import main
from mhtcdt.decision.run.pipeline import run_pipeline
from mhtcdt.decision.scenario.loading import default_scenario, scenario_text


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--quiet", "--report"]) == 0
    return out


def read(out, name) -> pd.DataFrame:
    return pd.read_csv(out / name)


def test_demo_writes_every_table_and_the_scenario(demo_out):
    for name in (
        "scenario.toml",
        "run.json",
        "consort.csv",
        "patients.csv",
        "survival_summary.csv",
        "comparison.csv",
        "km_curves.csv",
        "economics.csv",
        "incremental.csv",
        "summary.txt",
    ):
        assert (demo_out / name).stat().st_size > 0, name
    assert (demo_out / "scenario.toml").read_text(encoding="utf-8") == scenario_text()
    meta = json.loads((demo_out / "run.json").read_text())
    assert meta["seed"] == default_scenario().seed
    assert len(meta["scenario_sha256"]) == 64


def test_demo_report_writes_html_workbook_and_figures(demo_out):
    assert "CHEERS 2022" in (demo_out / "report.html").read_text(encoding="utf-8")
    assert "incremental" in pd.read_excel(demo_out / "tables.xlsx", sheet_name=None)
    for name in ("kaplan_meier_os", "consort_funnel", "ce_plane", "ce_plane_psa", "ceac"):
        assert (demo_out / "figures" / f"{name}.png").stat().st_size > 1000
        assert (demo_out / "figures" / f"{name}.svg").stat().st_size > 1000


def test_consort_flow_adds_up_and_matches_randomised(demo_out):
    flow = read(demo_out, "consort.csv")
    assert flow["remaining"].iloc[0] == default_scenario().cohort.n_screened
    steps = flow.iloc[1:]
    assert (steps["n_before"] - steps["excluded"] == steps["remaining"]).all()
    assert (flow["remaining"].iloc[:-1].to_numpy() == steps["n_before"].to_numpy()).all()
    patients = read(demo_out, "patients.csv")
    assert len(patients) == flow["remaining"].iloc[-1]
    assert set(patients["arm"]) == {"RT alone", "NanoTherm MHT + RT"}


def test_survival_curves_are_non_increasing_and_within_ci(demo_out):
    km = read(demo_out, "km_curves.csv")
    for (_, _), g in km.groupby(["arm", "endpoint"]):
        s = g.sort_values("time_months")["survival"].to_numpy()
        assert np.all(np.diff(s) <= 1e-12)
        assert np.all((g["ci_lower"] <= g["survival"] + 1e-12) & (g["survival"] <= g["ci_upper"] + 1e-12))


def test_observed_times_are_consistent(demo_out):
    p = read(demo_out, "patients.csv")
    assert (p["pfs_months"] <= p["os_months"] + 1e-9).all()
    assert (p["os_months"] <= p["os_latent_months"] + 1e-9).all()
    assert (p["pfs_months"] > 0).all()


def test_icer_equals_cost_difference_over_qaly_difference(demo_out):
    eco = read(demo_out, "economics.csv").set_index("strategy")
    inc = read(demo_out, "incremental.csv").set_index("strategy")
    assert (eco["cost"] > 0).all() and (eco["qalys"] > 0).all()
    assert (eco["qalys"] < eco["life_years"]).all()  # utilities are below 1
    assert (eco["life_years"] <= eco["life_years_undiscounted"] + 1e-12).all()
    frontier = inc[inc["status"].isin(["reference", "non-dominated"])].sort_values("cost")
    for prev, cur in zip(frontier.index[:-1], frontier.index[1:], strict=True):
        expected = (eco.at[cur, "cost"] - eco.at[prev, "cost"]) / (eco.at[cur, "qalys"] - eco.at[prev, "qalys"])
        assert inc.at[cur, "icer"] == pytest.approx(expected, rel=1e-9)


def test_summary_mentions_the_key_results(demo_out):
    text = (demo_out / "summary.txt").read_text(encoding="utf-8")
    for needle in ("CONSORT", "median", "HR", "log-rank p", "QALYs", "willingness to pay"):
        assert needle in text


def test_run_is_a_pure_function_of_scenario_and_seed():
    base = default_scenario()
    sc = base.model_copy(update={"cohort": base.cohort.model_copy(update={"n_screened": 120})})
    a = run_pipeline(sc, seed=11)
    b = run_pipeline(sc, seed=11)
    c = run_pipeline(sc, seed=12)
    pd.testing.assert_frame_equal(a.trial, b.trial)
    pd.testing.assert_frame_equal(a.economics, b.economics)
    assert not a.trial["os_latent_months"].equals(c.trial["os_latent_months"])


def test_chunked_execution_gives_the_same_trial_as_in_process():
    from mhtcdt.decision.run.executors import resolve_executor

    base = default_scenario()
    sc = base.model_copy(update={"cohort": base.cohort.model_copy(update={"n_screened": 60})})
    in_process = run_pipeline(sc, seed=3)
    chunked = run_pipeline(sc, seed=3, executor=resolve_executor("serial"))
    pd.testing.assert_frame_equal(in_process.trial, chunked.trial)
