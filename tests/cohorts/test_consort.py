"""Selection and CONSORT flow."""

from __future__ import annotations

import numpy as np
import pytest

from mhtcdt.cohorts import EmptySelectionWarning, apply_criteria, generate_cohort
from mhtcdt.errors import InputError

DEFAULT = ["kps >= 60", "not metal_implant", "not pacemaker", "tumour_volume_cm3 <= 100"]


@pytest.fixture(scope="module")
def cohort():
    return generate_cohort("recurrent_glioblastoma", 20000, seed=8)


def test_flow_counts_sequential_exclusions(cohort) -> None:
    sel = apply_criteria(cohort, DEFAULT)
    flow = sel.flow
    assert list(flow.columns) == ["step", "criterion", "n_before", "excluded", "remaining"]
    assert flow["criterion"].iloc[0] == "screened"
    assert flow["step"].tolist() == list(range(len(DEFAULT) + 1))
    # independent recount with pandas boolean indexing
    keep = np.ones(len(cohort), dtype=bool)
    expected = [len(cohort)]
    for m in [
        cohort["kps"] >= 60,
        ~cohort["metal_implant"],
        ~cohort["pacemaker"],
        cohort["tumour_volume_cm3"] <= 100,
    ]:
        keep &= m.to_numpy()
        expected.append(int(keep.sum()))
    assert flow["remaining"].tolist() == expected
    assert (flow["n_before"] - flow["excluded"] == flow["remaining"]).all()
    assert flow["n_before"].iloc[1:].tolist() == expected[:-1]
    assert len(sel.eligible) == expected[-1]
    assert sel.eligible.index.equals(cohort.index[keep])
    assert list(sel.eligible.columns) == list(cohort.columns)
    # each default criterion excludes somebody in a 20,000-patient screened population
    assert (flow["excluded"].iloc[1:] > 0).all()


def test_single_string_is_one_step(cohort) -> None:
    sel = apply_criteria(cohort, "kps >= 70 and tumour_volume_cm3 <= 50 and not metal_implant")
    assert len(sel.flow) == 2
    ref = (cohort["kps"] >= 70) & (cohort["tumour_volume_cm3"] <= 50) & ~cohort["metal_implant"]
    assert sel.n_eligible == int(ref.sum())


def test_no_criteria_keeps_everyone(cohort) -> None:
    sel = apply_criteria(cohort, [])
    assert sel.n_eligible == len(cohort) and len(sel.flow) == 1


def test_excluding_everyone_warns_with_flow(cohort) -> None:
    with pytest.warns(EmptySelectionWarning, match="exclude every patient") as rec:
        sel = apply_criteria(cohort, ["kps >= 60", "age_years > 200"])
    assert sel.n_eligible == 0 and len(sel.eligible) == 0
    assert rec[0].message.flow["remaining"].tolist()[-1] == 0
    assert "age_years > 200" in str(rec[0].message)


def test_bad_criterion_names_index_and_lists_columns(cohort) -> None:
    with pytest.raises(InputError) as info:
        apply_criteria(cohort, ["kps >= 60", "tumor_volume_cm3 <= 50"])  # the pre-rename spelling
    err = info.value
    assert err.field == "criteria[1]"
    assert err.value == "tumor_volume_cm3 <= 50"
    assert "unknown column 'tumor_volume_cm3'" in err.message
    assert "did you mean 'tumour_volume_cm3'" in err.message
    assert "known columns:" in err.message and "gsh_mM" in err.message


@pytest.mark.parametrize("bad", [None, 5, ["kps > 1", 3], ["kps > 1", "   "]])
def test_bad_criteria_types(cohort, bad) -> None:
    if bad is None:
        assert apply_criteria(cohort, bad).n_eligible == len(cohort)
        return
    with pytest.raises(InputError):
        apply_criteria(cohort, bad)


def test_other_indication_is_a_valid_level(cohort) -> None:
    with pytest.warns(EmptySelectionWarning):
        sel = apply_criteria(cohort, ['indication == "prostate"'])
    assert sel.n_eligible == 0
    assert apply_criteria(cohort, ['indication == "recurrent_glioblastoma"']).n_eligible == len(cohort)
    with pytest.raises(InputError, match="not a level of 'indication'"):
        apply_criteria(cohort, ['indication == "glioblastoma"'])


def test_failed_any_counts_each_criterion_independently(cohort) -> None:
    sel = apply_criteria(cohort, DEFAULT)
    assert sel.failed_any["kps >= 60"] == int((cohort["kps"] < 60).sum())
    assert sel.failed_any["not metal_implant"] == int(cohort["metal_implant"].sum())
    # sequential exclusions never exceed order-free failures
    assert (sel.flow["excluded"].iloc[1:].to_numpy() <= sel.failed_any.to_numpy()).all()


def test_format_flow_lists_every_step(cohort) -> None:
    from mhtcdt.cohorts import format_flow

    text = format_flow(apply_criteria(cohort, DEFAULT).flow)
    lines = text.splitlines()
    assert len(lines) == len(DEFAULT) + 2 and "screened" in lines[1]
    assert all(c in text for c in DEFAULT)
