"""Trial, cost-effectiveness, report and physics pages on a small scenario (one pipeline run, shared).

Each page must run without exception, show its key elements, and react to a widget the way the
package API says it should (oracles: the PipelineResult itself, ``verdict_text``,
``simulate_protocol`` called directly, ``cheers_items``).
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mhtcdt.decision.report import figures, html, tables, workbook
from tests.app.conftest import app_test, small_scenario, texts

N_SCREENED = 120


@pytest.fixture(scope="module")
def scenario():
    return small_scenario(N_SCREENED)


@pytest.fixture(scope="module")
def result(scenario):
    """The pipeline result the app computed in its worker (the trial page starts the run)."""
    at = app_test(scenario, timeout_s=300)
    at.run()
    at.switch_page("page_trial.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    from mhtcdt.app import state

    done = state.pipeline_done(scenario)
    assert done is not None, "the trial page did not leave a finished pipeline result"
    return done


def _page(scenario, page_file: str) -> AppTest:
    at = app_test(scenario, timeout_s=300)
    at.run()
    at.switch_page(page_file).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_trial_page_shows_curves_and_tests(scenario, result):
    at = _page(scenario, "page_trial.py")
    assert not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["randomised"] == f"{len(result.trial):,}"
    assert len(at.get("image")) >= 1  # Kaplan-Meier figure
    comp = [d.value for d in at.dataframe if "hazard ratio (95% CI)" in d.value.columns][0]
    row = result.comparison[result.comparison["endpoint"] == "OS"].iloc[0]
    assert comp.iloc[0]["hazard ratio (95% CI)"].startswith(f"{row.hazard_ratio:.2f}")
    assert comp.iloc[0]["log-rank p"] == f"{row.logrank_p:.3g}"
    # Switching endpoint shows the PFS numbers instead.
    at.radio(key="km_endpoint").set_value("PFS").run()
    comp = [d.value for d in at.dataframe if "hazard ratio (95% CI)" in d.value.columns][0]
    pfs = result.comparison[result.comparison["endpoint"] == "PFS"].iloc[0]
    assert comp.iloc[0]["endpoint"] == "PFS"
    assert comp.iloc[0]["hazard ratio (95% CI)"].startswith(f"{pfs.hazard_ratio:.2f}")
    medians = [d.value for d in at.dataframe if "median [months] (95% CI)" in d.value.columns][0]
    assert set(medians["endpoint"]) == {"PFS"}


def test_power_curve_follows_its_settings(scenario, result):
    from mhtcdt.app import state
    from mhtcdt.app.page_trial import POWER_SIZES

    at = _page(scenario, "page_trial.py")
    assert "Power versus sample size" in texts(at)
    at.select_slider(key="power_replicates").set_value(100).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    # keyed by what the trial depends on (no economics: a new WTP or price does not re-run the power curve)
    key = "power-" + state.input_key(state.trial_key(scenario), POWER_SIZES, 100, "OS", 0.05)
    table = state.job_manager().status(key).result
    assert list(table["n_patients"]) == list(POWER_SIZES)
    assert table.attrs["n_replicates"] == 100
    assert ((table["power_ci_lower"] <= table["power"]) & (table["power"] <= table["power_ci_upper"])).all()
    # Wilson interval of k/100 rejections: the reported power is a multiple of 1/100.
    assert ((table["power"] * 100).round(9) % 1 == 0).all()


def test_numbers_at_risk_count_patients_still_followed(result):
    table = figures.numbers_at_risk(result.trial, "OS", [0.0, 6.0])
    for arm, grp in result.trial.groupby("arm"):
        assert table.loc[arm, "0"] == len(grp)
        assert table.loc[arm, "6"] == int((grp["os_months"] >= 6.0).sum())


def test_economics_verdict_follows_willingness_to_pay(scenario, result):
    """The economics page shows the headline (probabilistic verdict, with the base case beside it) at the one
    WTP of every page; a new WTP changes the verdict as the package API says, without a new run."""
    from mhtcdt.app.psa_view import psa_done
    from mhtcdt.decision.model import whatif
    from mhtcdt.decision.report.headline import build_headline

    at = _page(scenario, "page_economics.py")
    assert not at.error
    psa = psa_done(scenario)
    assert psa is not None, "the economics page did not run the PSA"
    page = texts(at)
    h = build_headline(result, psa)
    assert h.verdict in page
    assert result.verdict in page  # the deterministic base case in words, beside the headline
    table = [d.value for d in at.dataframe if "status" in d.value.columns][0]
    assert set(table["status"]) <= {"reference", "non-dominated", "dominated", "extendedly dominated"}
    assert "reference" in set(table["status"])
    assert "Uncertainty" in texts(at)
    # CE plane, PSA cloud, CEAC, tornado, and the EVPI curve unless it is ~0 at every WTP (a sentence instead)
    from mhtcdt.decision.report import decision_figures as dfig

    shown = whatif.apply(result, psa).psa
    flat = dfig.evpi(shown.evpi, shown.willingness_to_pay, shown.currency) is None
    assert len(at.get("image")) >= (4 if flat else 5)
    at.number_input(key="wtp").set_value(250000.0).run()
    changed = texts(at)
    w = whatif.apply(result, psa, willingness_to_pay=250000.0)
    h250 = build_headline(w.result, w.psa, list_price=scenario.economics.costs.mht_course)
    assert h250.verdict in changed and h.verdict not in changed
    assert w.result.verdict in changed
    assert "GBP 250,000" in changed


def test_report_page_and_files(scenario, result):
    at = _page(scenario, "page_report.py")
    assert not at.error
    assert len(at.get("download_button")) >= 4  # CSV zip, XLSX, figure, HTML
    at.radio(key="figure_format").set_value("svg").run()
    assert not at.exception and not at.error
    at.selectbox(key="table_preview").set_value("incremental").run()
    # the preview has the plain-language headers and formats of the stakeholder tables (labels.COLUMNS)
    from mhtcdt.decision.report.labels import stakeholder_table

    icer = "ICER (per QALY gained)"
    shown = [d.value for d in at.dataframe if "status" in d.value.columns and icer in d.value.columns][0]
    assert shown["strategy"].tolist() == result.incremental["strategy"].tolist()
    assert shown["status"].tolist() == result.incremental["status"].tolist()
    expected = stakeholder_table(result.incremental, result.scenario.economics.currency)
    assert shown[icer].tolist() == expected[icer].tolist()
    # the calibration's provenance in plain words: every column named in labels.COLUMNS, truth values as yes/no
    from mhtcdt.decision.report.labels import COLUMNS

    at.selectbox(key="table_preview").set_value("calibration").run()
    record = tables.calibration_table(result)
    assert set(record.columns) <= set(COLUMNS), set(record.columns) - set(COLUMNS)
    shown = [d.value for d in at.dataframe if COLUMNS["calibration_id"][0] in d.value.columns][0]
    assert list(shown.columns) == [COLUMNS[c][0] for c in record.columns]
    assert not any("_" in c for c in shown.columns)
    if "physics_matches" in record.columns:
        assert shown[COLUMNS["physics_matches"][0]].iloc[0] in ("yes", "no")

    named = tables.result_tables(result)
    with zipfile.ZipFile(io.BytesIO(tables.csv_zip(named))) as zf:
        assert sorted(zf.namelist()) == sorted(f"{n}.csv" for n in named)
        flow = pd.read_csv(zf.open("consort.csv"))
    assert list(flow["remaining"]) == list(result.flow["remaining"])
    sheets = pd.read_excel(io.BytesIO(workbook.xlsx_workbook(named)), sheet_name=None)
    assert set(sheets) == set(named)
    assert len(sheets["patients"]) == len(result.trial)
    assert sheets["incremental"]["status"].tolist() == result.incremental["status"].tolist()
    # With the PSA: its tables and figures are offered too, and the draws match the PSA arrays.
    from mhtcdt.app.psa_view import psa_done

    psa = psa_done(scenario)
    assert psa is not None
    with_psa = tables.result_tables(result, psa)
    assert {"ceac", "ceaf", "evpi", "evppi", "tornado", "psa_summary", "psa_draws"} <= set(with_psa)
    draws = with_psa["psa_draws"]
    assert len(draws) == psa.n_draws
    assert draws[f"cost[{psa.strategies[0]}]"].tolist() == psa.cost[:, 0].tolist()
    from mhtcdt.decision.report.decision_figures import NEGLIGIBLE

    offered = set(figures.result_figures(result, psa))
    assert {"ce_plane_psa", "ceac"} <= offered
    # an EVPI figure only when there is a value to draw (below NEGLIGIBLE everywhere it would be an empty chart)
    assert ("evpi" in offered) == bool(psa.evpi["evpi_per_patient"].max() > NEGLIGIBLE)
    figure_names = at.selectbox(key="figure_choice").options  # the titles shown, not the file names
    from mhtcdt.decision.report.labels import output_title

    assert output_title("ceac") in figure_names and "ceac" not in figure_names


def test_report_page_pickers_and_consort_preview_read_in_words(scenario, result):
    """Issue 16 item 6 (seen in the browser screenshots): the report page offered ``consort``,
    ``kaplan_meier_os`` and previewed the CONSORT table with raw criteria. The pickers show what each output
    is (the downloads keep the file names) and the CONSORT preview reads in words beside the expression."""
    from mhtcdt.decision.report.labels import output_title

    at = _page(scenario, "page_report.py")
    assert not at.exception and not at.error
    tables_box, figures_box = at.selectbox(key="table_preview"), at.selectbox(key="figure_choice")
    assert tables_box.value == "consort" and tables_box.options[0] == "CONSORT flow (eligibility criteria)"
    assert "Kaplan-Meier, overall survival" in figures_box.options
    assert not any("_" in o for o in tables_box.options + figures_box.options)
    assert all(output_title(n) in figures_box.options for n in figures.result_figures(result))
    (preview,) = [d.value for d in at.dataframe if "as written in the scenario" in d.value.columns]
    rows = dict(zip(preview["as written in the scenario"], preview["criterion"], strict=True))
    assert rows["tumour_volume_cm3 <= 100"] == "tumour volume ≤ 100 cm³"
    assert list(preview["remaining"]) == [f"{n:,}" for n in result.flow["remaining"]]
    figures_box.set_value("kaplan_meier_os").run()
    assert not at.exception
    assert any(b.proto.label == "Download kaplan_meier_os.png" for b in at.get("download_button"))


def test_html_report_covers_every_cheers_item(result):
    from mhtcdt.economics.conventions import cheers_items

    page = html.build_html_report(result)
    assert "No probabilistic sensitivity analysis was available" in page
    items = cheers_items()
    entries = html.checklist(has_psa=False)
    assert [e.item for e in entries] == items and len(items) == 28
    for item in items:
        assert item.replace("&", "&amp;") in page
    for e in entries:
        if e.status == html.REPORTED:
            assert f"id='{e.where}'" in page, e  # every "reported" item points at a real section
    assert result.verdict.split(":")[0] in page
    assert page.count("<svg") >= 4  # funnel, two KM curves, CE plane
    assert "to be completed by the analyst" in page  # funding/conflicts are not invented


def test_html_report_consort_table_reads_in_words_with_the_exact_expression(result):
    """Issue 16 item 6: the report's CONSORT table showed raw column names and ``n_before``; now the criterion
    in words, the exact expression beside it, plain headers and the run's own counts."""
    page = html.build_html_report(result)
    start = page.index("Eligibility criteria, applied in order")
    table = page[start : page.index("</table>", start)]
    assert "<th>n_before</th>" not in table and "<th>patients before this step</th>" in table
    assert "<td>tumour volume ≤ 100 cm³</td><td>tumour_volume_cm3 &lt;= 100</td>" in table
    last = result.flow.iloc[-1]
    counts = "".join(f"<td>{int(last[c]):,}</td>" for c in ("n_before", "excluded", "remaining"))
    assert counts + "</tr>" in table


def test_physics_page_matches_simulate_protocol(scenario):
    at = _page(scenario, "page_physics.py")
    assert not at.error, [e.value for e in at.error]
    pid = at.selectbox(key="physics_patient").value
    arm_name = at.selectbox(key="physics_arm").value
    assert scenario.arm(arm_name).has_mht
    # Oracle: the physics layer called directly with the pipeline's seed for this arm.
    from mhtcdt.app.page_physics import _physics_seed
    from mhtcdt.cohorts import apply_criteria, generate_cohort
    from mhtcdt.decision.scenario.checks import protocol_for_arm
    from mhtcdt.decision.streams import cohort_seed
    from mhtcdt.physics import simulate_protocol

    cohort = generate_cohort(scenario.cohort.indication, scenario.cohort.n_screened, cohort_seed(scenario.seed))
    eligible = apply_criteria(cohort, scenario.cohort.criteria).eligible
    patient = eligible[eligible["patient_id"] == pid]
    assert len(patient) == 1
    protocol = protocol_for_arm(scenario.arm(arm_name))
    direct = simulate_protocol(patient, protocol, _physics_seed(scenario, arm_name))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["T90 (first session)"] == f"{direct.t90_C.iloc[0]:.1f} °C"
    assert metrics["total tumour kill"] == f"{direct.log10_kill_total.iloc[0]:.2f} log10"
    # temperatures in a session, radial profile, 3-D map, CEM43, kill by mechanism, spacing; chemistry only for
    # an arm with a CDT agent (otherwise a sentence says why there is none)
    has_cdt = scenario.arm(arm_name).has_cdt
    assert len(at.get("image")) == 6 + has_cdt
    assert has_cdt or "No CDT in this arm" in texts(at)
    assert {"Temperatures during the sessions", "Session spacing and thermotolerance"} <= {
        s.value for s in at.subheader
    }
    # Switching to the RT-only arm: no heating, no heat kill, no heat charts.
    at.selectbox(key="physics_arm").set_value(scenario.trial.reference_arm).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["CEM43 at T90, all sessions"] == "0.0 min"
    assert "no heat sessions" in texts(at)
    assert len(at.get("image")) == 1 + scenario.arm(scenario.trial.reference_arm).has_cdt  # kill (, chemistry)


def _image_urls(at) -> list[str]:
    return [img.url for el in at.get("image") for img in el.proto.imgs]


def _sessions_table(at) -> pd.DataFrame:
    """The per-session table with the physics column names back (the page shows plain-language headers)."""
    from mhtcdt.app.page_physics import SESSION_COLUMNS

    header = SESSION_COLUMNS["cem43_t90_min"]
    shown = [d.value for d in at.dataframe if header in d.value.columns][0]
    return shown.rename(columns={v: k for k, v in SESSION_COLUMNS.items()})


def test_physics_page_plots_the_selected_patients_time_courses(scenario):
    """The per-session table equals simulate_patient_detail called directly; another patient or another
    session changes the plotted data (the figures' image content)."""
    from mhtcdt.app.page_physics import _physics_seed
    from mhtcdt.cohorts import apply_criteria, generate_cohort
    from mhtcdt.decision.scenario.checks import protocol_for_arm
    from mhtcdt.decision.streams import cohort_seed
    from mhtcdt.physics import simulate_patient_detail

    at = _page(scenario, "page_physics.py")
    assert not at.error, [e.value for e in at.error]
    arm_name = at.selectbox(key="physics_arm").value
    cohort = generate_cohort(scenario.cohort.indication, scenario.cohort.n_screened, cohort_seed(scenario.seed))
    eligible = apply_criteria(cohort, scenario.cohort.criteria).eligible
    protocol = protocol_for_arm(scenario.arm(arm_name))

    def oracle(pid: int):
        patient = eligible[eligible["patient_id"] == pid]
        return simulate_patient_detail(patient, protocol, _physics_seed(scenario, arm_name), with_3d=False)

    first = at.selectbox(key="physics_patient").value
    table = _sessions_table(at)
    direct = oracle(first)
    assert len(table) == scenario.arm(arm_name).n_sessions
    assert table["t90_C"].tolist() == direct.sessions["t90_C"].round(2).tolist()
    assert table["cem43_t90_min"].tolist() == direct.sessions["cem43_t90_min"].round(2).tolist()
    urls = _image_urls(at)

    other = int(next(p for p in eligible["patient_id"] if p != first))
    at.selectbox(key="physics_patient").set_value(other).run()
    assert at.selectbox(key="physics_patient").value == other
    assert not at.exception and not at.error
    second = oracle(other)
    assert _sessions_table(at)["t90_C"].tolist() == second.sessions["t90_C"].round(2).tolist()
    assert not np.allclose(second.shell_temperature_C, direct.shell_temperature_C)
    changed = [a != b for a, b in zip(urls, _image_urls(at), strict=True)]
    assert sum(changed) == 6 + scenario.arm(arm_name).has_cdt, changed  # every chart is the new patient's

    urls = _image_urls(at)
    at.selectbox(key="physics_session").set_value(2).run()
    assert not at.exception
    after = _image_urls(at)
    # the session chooser redraws the session's temperatures and profile, not the 3-D map or CEM43
    assert after[0] != urls[0] and after[1] != urls[1]
    assert after[2:] == urls[2:]


def test_html_report_with_psa_reports_uncertainty(scenario, result):
    from mhtcdt.app.psa_view import psa_done

    psa = psa_done(scenario)
    if psa is None:  # run order: the economics test computes it; compute it here otherwise
        from mhtcdt.decision.model.psa import run_psa

        psa = run_psa(result, n_draws=50)
    page = html.build_html_report(result, psa)
    status = {e.item: e.status for e in html.checklist(has_psa=True)}
    assert status["Characterising uncertainty"] == html.REPORTED
    assert status["Effect of uncertainty"] == html.REPORTED
    assert psa.verdict(psa.willingness_to_pay) in page.replace("&#x27;", "'")
    assert f"{psa.n_draws:,} draws" in page


def test_physics_page_equals_the_trial_row_of_that_patient(scenario, result):
    at = _page(scenario, "page_physics.py")
    arm_name = at.selectbox(key="physics_arm").value
    treated = result.trial[result.trial["arm"] == arm_name]
    pid = int(treated["patient_id"].iloc[0])
    at.selectbox(key="physics_patient").set_value(pid).run()
    assert not at.exception and not at.error
    row = treated.iloc[0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["T90 (first session)"] == f"{row.t90_C:.1f} °C"
    assert metrics["CEM43 at T90, all sessions"] == f"{row.cem43_t90_min:.1f} min"
    assert metrics["total tumour kill"] == f"{row.log10_kill_total:.2f} log10"


def test_physics_page_shows_the_dose_response_table_with_explanations(scenario):
    """The table on the page is the package's dose_response (the same call as `mhtcdt dose-response`), and every
    lever's explanation is shown."""
    from mhtcdt.decision.model.dose_response import dose_response

    at = _page(scenario, "page_physics.py")
    arm_name = at.selectbox(key="physics_arm").value
    assert scenario.arm(arm_name).has_mht
    assert "Dose-response of this arm" in {s.value for s in at.subheader}
    at.number_input(key="dose_response_n").set_value(10).run()
    at.toggle(key="dose_response_on").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [d.value for d in at.dataframe if "lever_label" in d.value.columns][0]
    direct = dose_response(scenario, arm=arm_name, n_patients=10)
    assert list(shown["setting"]) == list(direct.table["setting"])
    assert np.allclose(shown["qaly_gain"], direct.table["qaly_gain"])
    assert np.allclose(shown["heat_kill_log10"], direct.table["heat_kill_log10"])
    infos = "\n".join(str(i.value) for i in at.info)
    for lever, text in direct.explanations.items():
        assert text in infos, lever
    # the reference (RT-only) arm has no levers to vary: no table offered
    at.selectbox(key="physics_arm").set_value(scenario.trial.reference_arm).run()
    assert "Dose-response of this arm" not in {s.value for s in at.subheader}
