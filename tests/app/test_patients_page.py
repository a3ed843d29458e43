"""Patients page: CONSORT funnel updates with the criteria; bad criteria are in-page errors."""

from __future__ import annotations

from mhtcdt.cohorts import apply_criteria, generate_cohort
from mhtcdt.decision.streams import cohort_seed
from tests.app.conftest import open_page, small_scenario


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _criteria_box(at):
    return [t for t in at.text_area if t.key and t.key.endswith("criteria")][0]


def test_funnel_matches_the_cohort_layer_and_updates(app):
    at = open_page(app, "page_patients.py")
    sc = small_scenario()
    # Independent oracle: the cohort layer on the pipeline's cohort seed stream.
    cohort = generate_cohort(sc.cohort.indication, sc.cohort.n_screened, cohort_seed(sc.seed))
    expected = apply_criteria(cohort, sc.cohort.criteria).flow
    m = _metrics(at)
    assert m["screened"] == f"{sc.cohort.n_screened:,}"
    assert m["eligible"] == f"{int(expected['remaining'].iloc[-1]):,}"
    table = [d.value for d in at.dataframe if "remaining" in d.value.columns][0]
    assert list(table["remaining"]) == [f"{n:,}" for n in expected["remaining"]]
    assert "patients before this step" in table.columns  # plain headers, not n_before

    strict = list(sc.cohort.criteria) + ["kps >= 90"]
    _criteria_box(at).set_value("\n".join(strict)).run()
    assert not at.exception
    n_strict = int(apply_criteria(cohort, strict).flow["remaining"].iloc[-1])
    assert n_strict < int(expected["remaining"].iloc[-1])
    assert _metrics(at)["eligible"] == f"{n_strict:,}"
    # Valid criteria become the scenario's criteria (the trial uses them).
    assert list(at.session_state["scenario"].cohort.criteria) == strict


def test_invalid_criterion_is_an_in_page_error(app):
    at = open_page(app, "page_patients.py")
    before = list(at.session_state["scenario"].cohort.criteria)
    _criteria_box(at).set_value("kps >= 60\ntumour_volume <= 30").run()
    assert not at.exception
    err = "\n".join(e.value for e in at.error)
    assert "tumour_volume" in err and "line 2" in err, err
    assert list(at.session_state["scenario"].cohort.criteria) == before


def test_every_bad_criterion_at_once_with_the_right_suggestion(app):
    """`kps >== 60` must suggest '>=' (not '=='), and every bad line is reported, not only the first."""
    at = open_page(app, "page_patients.py")
    _criteria_box(at).set_value("kps >== 60\ntumour_size <= 3\nage_years < 70\nkps => 60").run()
    assert not at.exception
    err = "\n".join(e.value for e in at.error)
    assert "4 problems" not in err and "3 problems" in err, err
    assert "line 1" in err and "write '>='" in err and "use '=='" not in err
    assert "line 2" in err and "unknown column 'tumour_size'" in err
    assert "line 4" in err and "'=>' is not an operator" in err
    assert "known columns:" not in err  # listed once under 'Columns you can use', wrapped
    columns = [m.value for m in at.markdown if "`kps` (number)" in m.value]
    assert columns and " · " in columns[0]


def test_impossible_criteria_warn_that_nobody_is_eligible(app):
    at = open_page(app, "page_patients.py")
    _criteria_box(at).set_value("kps >= 60\nage_years < 0").run()
    assert not at.exception
    assert _metrics(at)["eligible"] == "0"
    assert any("No patient meets every criterion" in w.value for w in at.warning)


def test_covariate_choice_changes_the_summary_plot(app):
    at = open_page(app, "page_patients.py")
    box = at.selectbox(key="covariate")
    assert "Karnofsky performance status" in box.options and "tumour volume [cm³]" in box.options
    box.set_value("tumour_volume_cm3").run()
    assert not at.exception
    summary = [d.value for d in at.dataframe if "covariate" in d.value.columns][0]
    row = summary[summary["covariate"].str.startswith("tumour volume")].iloc[0]
    assert "[" in row["screened"]  # median [IQR] of a numeric covariate
    assert len(at.get("image")) >= 2  # funnel + histogram rendered


def test_large_cohort_is_previewed_by_its_first_patients(app):
    from mhtcdt.app.state import PREVIEW_MAX_PATIENTS

    app.session_state["scenario"] = small_scenario(PREVIEW_MAX_PATIENTS + 5_000)
    at = open_page(app, "page_patients.py")
    assert _metrics(at)["screened"] == f"{PREVIEW_MAX_PATIENTS:,}"
    assert any("Preview: the first" in i.value for i in at.info)
    # The preview rows are the trial's first patients (chunk-invariant generation).
    sc = at.session_state["scenario"]
    head = generate_cohort(sc.cohort.indication, 50, cohort_seed(sc.seed))
    from mhtcdt.app.state import screened_cohort

    preview = screened_cohort(sc.cohort.indication, sc.cohort.n_screened, sc.seed)
    assert preview["patient_id"].iloc[:50].tolist() == head["patient_id"].tolist()
    assert preview["age_years"].iloc[:50].tolist() == head["age_years"].tolist()


def test_consort_table_reads_in_plain_words_and_keeps_the_exact_expression(app):
    """Issue 16 item 6: the CONSORT table showed raw column names (``tumour_volume_cm3 <= 100``) under data
    headers (``n_before``). The criterion reads in words with the unit behind its number; the exact expression
    is in the next column; the headers are plain; the counts equal the cohort layer's flow."""
    at = open_page(app, "page_patients.py")
    sc = small_scenario()
    cohort = generate_cohort(sc.cohort.indication, sc.cohort.n_screened, cohort_seed(sc.seed))
    expected = apply_criteria(cohort, sc.cohort.criteria).flow
    (table,) = [d.value for d in at.dataframe if "remaining" in d.value.columns]
    assert list(table.columns) == [
        "step",
        "criterion",
        "as written in the scenario",
        "patients before this step",
        "excluded",
        "remaining",
    ]
    readable = dict(zip(table["as written in the scenario"], table["criterion"], strict=True))
    assert readable["tumour_volume_cm3 <= 100"] == "tumour volume ≤ 100 cm³"
    assert readable["kps >= 60"] == "Karnofsky performance status ≥ 60"
    assert readable["not metal_implant"] == "no metal implant near the field"
    assert list(table["as written in the scenario"])[1:] == list(sc.cohort.criteria)
    assert not any("_" in text for text in table["criterion"])  # no raw column name left
    assert list(table["patients before this step"]) == [f"{n:,}" for n in expected["n_before"]]
    assert list(table["excluded"]) == [f"{n:,}" for n in expected["excluded"]]

    _criteria_box(at).set_value("age_years >= 18 and age_years < 80.5\nmgmt_methylated == true").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (table,) = [d.value for d in at.dataframe if "remaining" in d.value.columns]
    assert list(table["criterion"])[1:] == ["age ≥ 18 years and age < 80.5 years", "MGMT promoter methylated = yes"]


def test_consort_funnel_and_covariate_summary_read_without_raw_names_or_e_notation():
    """Issue 16 item 6: the funnel's bars were labelled by the raw expressions; the covariate medians used
    ``:.3g`` (``1.52e+03`` for a value of 1,520). Oracle for the numbers: parsing the text back gives the value
    to 3 significant digits."""
    import math

    import pandas as pd

    from mhtcdt.app.page_patients import _describe
    from mhtcdt.decision.report.figures import consort_funnel
    from mhtcdt.decision.report.labels import significant

    sc = small_scenario()
    cohort = generate_cohort(sc.cohort.indication, sc.cohort.n_screened, cohort_seed(sc.seed))
    flow = apply_criteria(cohort, sc.cohort.criteria).flow
    labels = [t.get_text() for t in consort_funnel(flow).axes[0].get_yticklabels()]
    assert labels == [
        "screened",
        "Karnofsky performance status ≥ 60",
        "no metal implant near the field",
        "no pacemaker",
        "tumour volume ≤ 100 cm³",
    ]
    for value in (1520.4, 8.094, 0.01234, 446.2, 123456.0, -0.5, 2.5e-5):
        text = significant(value)
        assert "e" not in text
        mantissa, _, power = text.partition(" × 10")
        exponent = int(power.translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789"))) if power else 0
        back = float(mantissa.replace(",", "")) * 10**exponent
        assert math.isclose(back, value, rel_tol=5e-3), (value, text)
    summary = _describe(pd.Series([1000.0, 1520.4, 2000.0, 1400.0, 1800.0]))
    assert summary == "1,520 [1,400–1,800]", summary
