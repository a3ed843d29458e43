"""Cohort generator: contract columns, reproducibility, chunk invariance, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mhtcdt.cohorts import CONTRACT_COLUMNS, generate_cohort, known_indications
from mhtcdt.errors import InputError

CONTRACT_DTYPES = {
    "patient_id": "int64",
    "age_years": "float64",
    "kps": "int64",
    "ecog": "int64",
    "tumour_volume_cm3": "float64",
    "tumour_radius_cm": "float64",
    "eloquent_location": "bool",
    "months_since_diagnosis": "float64",
    "mgmt_methylated": "bool",
    "tumour_perfusion_mL_per_min_per_kg": "float64",
    "h2o2_production_uM_per_s": "float64",
    "gsh_mM": "float64",
    "ph_extracellular": "float64",
    "deposit_coverage_fraction": "float64",
    "metal_implant": "bool",
    "pacemaker": "bool",
    "body_radius_cm": "float64",
}
TISSUE = {"recurrent_glioblastoma": "brain", "prostate": "prostate", "pancreas": "pancreas"}


@pytest.mark.parametrize("indication", known_indications())
def test_contract_columns_and_dtypes(indication: str) -> None:
    df = generate_cohort(indication, 500, seed=3)
    assert list(df.columns[: len(CONTRACT_COLUMNS)]) == list(CONTRACT_COLUMNS)
    for col, dtype in CONTRACT_DTYPES.items():
        assert str(df[col].dtype) == dtype, col
    assert df["patient_id"].tolist() == list(range(500))
    assert set(df["indication"].astype(str)) == {indication}
    assert set(df["sex"].astype(str)) <= {"female", "male"}
    assert set(df["tissue"]) == {TISSUE[indication]}
    assert df["kps"].between(10, 100).all() and (df["kps"] % 10 == 0).all()
    assert ((df["deposit_coverage_fraction"] > 0) & (df["deposit_coverage_fraction"] <= 1)).all()
    radius = (3 * df["tumour_volume_cm3"] / (4 * np.pi)) ** (1 / 3)
    np.testing.assert_allclose(df["tumour_radius_cm"], radius, rtol=1e-12)
    assert not df.isna().any().any()


def test_same_seed_same_cohort_and_different_seed_differs() -> None:
    a = generate_cohort("recurrent_glioblastoma", 2000, seed=11)
    b = generate_cohort("recurrent_glioblastoma", 2000, seed=11)
    c = generate_cohort("recurrent_glioblastoma", 2000, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["age_years"], c["age_years"])
    assert (a["tumour_volume_cm3"] != c["tumour_volume_cm3"]).mean() > 0.99


@pytest.mark.parametrize("start, n", [(5, 10), (0, 1), (4090, 20), (8191, 2), (12000, 5000)])
def test_chunked_generation_equals_one_call(start: int, n: int) -> None:
    whole = generate_cohort("recurrent_glioblastoma", 17500, seed=2026)
    part = generate_cohort("recurrent_glioblastoma", n, seed=2026, start=start)
    expected = whole.iloc[start : start + n].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, expected)


def test_many_chunks_concatenate_to_one_call() -> None:
    whole = generate_cohort("recurrent_glioblastoma", 9000, seed=5)
    bounds = [0, 1, 777, 4096, 4097, 6000, 9000]
    chunks = [
        generate_cohort("recurrent_glioblastoma", b - a, seed=5, start=a)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)


def test_seed_sequence_accepted_and_keyed() -> None:
    ss = np.random.SeedSequence(99)
    a = generate_cohort("recurrent_glioblastoma", 100, seed=ss)
    b = generate_cohort("recurrent_glioblastoma", 100, seed=99)
    pd.testing.assert_frame_equal(a, b)
    child = np.random.SeedSequence(99).spawn(1)[0]
    c = generate_cohort("recurrent_glioblastoma", 100, seed=child)
    assert not np.allclose(a["age_years"], c["age_years"])


def test_zero_patients_gives_empty_frame_with_columns() -> None:
    df = generate_cohort("recurrent_glioblastoma", 0, seed=1)
    assert len(df) == 0
    assert list(df.columns[: len(CONTRACT_COLUMNS)]) == list(CONTRACT_COLUMNS)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"indication": "melanoma", "n": 10, "seed": 1}, "indication"),
        ({"indication": "recurrent_glioblastoma", "n": -1, "seed": 1}, "n"),
        ({"indication": "recurrent_glioblastoma", "n": 2.5, "seed": 1}, "n"),
        ({"indication": "recurrent_glioblastoma", "n": 10, "seed": -3}, "seed"),
        ({"indication": "recurrent_glioblastoma", "n": 10, "seed": "abc"}, "seed"),
        ({"indication": "recurrent_glioblastoma", "n": 10, "seed": 1, "start": -5}, "start"),
    ],
)
def test_bad_input_names_field_and_value(kwargs: dict, field: str) -> None:
    with pytest.raises(InputError) as info:
        generate_cohort(**kwargs)
    assert info.value.field == field
    bad = kwargs[field] if field != "indication" else "melanoma"
    assert info.value.value == bad
    if field == "indication":
        assert "recurrent_glioblastoma" in info.value.message


def test_indications_use_separate_streams() -> None:
    from scipy import stats

    a = generate_cohort("prostate", 20000, seed=1)
    b = generate_cohort("pancreas", 20000, seed=1)
    assert abs(stats.spearmanr(a["h2o2_production_uM_per_s"], b["h2o2_production_uM_per_s"]).statistic) < 0.03


@pytest.mark.slow
def test_one_million_patients_chunked_equals_one_call() -> None:
    whole = generate_cohort("recurrent_glioblastoma", 1_000_000, seed=31)
    bounds = [0, 123_457, 400_000, 400_001, 777_777, 1_000_000]
    parts = [
        generate_cohort("recurrent_glioblastoma", b - a, seed=31, start=a)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)
    assert whole["patient_id"].is_monotonic_increasing and whole["patient_id"].iloc[-1] == 999_999
