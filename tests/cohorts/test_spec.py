"""Indication files are validated: every problem is an InputError naming file, field and value."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest

from mhtcdt.cohorts import generate_cohort, load_indication, spec
from mhtcdt.errors import InputError

SOURCE = Path(spec.__file__).parent / "indications" / "recurrent_glioblastoma.toml"
F = "recurrent_glioblastoma.toml."
MARK = "# Published prognostic effects"


@pytest.fixture()
def indication_dir(tmp_path, monkeypatch):
    """Indication files read from ``tmp_path`` instead of the package."""
    monkeypatch.setattr(spec, "INDICATIONS_DIR", tmp_path)
    monkeypatch.setattr(spec, "_read", lambda name: tomllib.loads((tmp_path / f"{name}.toml").read_text()))
    spec._load.cache_clear()
    yield tmp_path
    spec._load.cache_clear()


def _write(directory: Path, text: str, name: str = "recurrent_glioblastoma") -> None:
    (directory / f"{name}.toml").write_text(text)


def test_copy_of_real_file_loads(indication_dir) -> None:
    shutil.copy(SOURCE, indication_dir / SOURCE.name)
    s = load_indication("recurrent_glioblastoma")
    assert s.tissue == "brain" and len(s.variables) == s.correlation.shape[0]
    np.testing.assert_allclose(s.cholesky @ s.cholesky.T, s.correlation, atol=1e-12)


@pytest.mark.parametrize(
    "old, new, field",
    [
        ("rho = -0.25", "rho = 1.5", F + "correlations[0].rho"),
        ('pair = ["age_years", "kps"]', 'pair = ["age_years", "weight"]', F + "correlations[0].pair"),
        (
            'distribution = "lognormal"\nmedian = 20.0',
            'distribution = "weibull"\nmedian = 20.0',
            F + "variables.tumour_volume_cm3.distribution",
        ),
        ("p = 0.45", "p = 1.45", F + "variables.eloquent_location.p"),
        ('by = "sex"', 'by = "age_years"', F + "variables.body_circumference_cm.by"),
        ('name = "recurrent_glioblastoma"', 'name = "gbm"', F + "name"),
        ("hazard_ratio = 1.7", "hazard_ratio = -1.7", F + "prognosis[0].hazard_ratio"),
    ],
)  # fmt: skip
def test_bad_files_raise_input_error(indication_dir, old, new, field) -> None:
    text = SOURCE.read_text()
    assert old in text
    _write(indication_dir, text.replace(old, new, 1))
    with pytest.raises(InputError) as info:
        load_indication("recurrent_glioblastoma")
    assert info.value.field == field


def test_non_positive_definite_correlation_is_rejected(indication_dir) -> None:
    text = SOURCE.read_text()
    extra = """
[[correlations]]
pair = ["age_years", "tumour_volume_cm3"]
rho = 0.95
reason = "test"
[[correlations]]
pair = ["tumour_volume_cm3", "months_since_diagnosis"]
rho = 0.95
reason = "test"
[[correlations]]
pair = ["age_years", "months_since_diagnosis"]
rho = -0.95
reason = "test"
"""
    _write(indication_dir, text.replace(MARK, extra + "\n" + MARK))
    with pytest.raises(InputError, match="not positive definite"):
        load_indication("recurrent_glioblastoma")


def test_conditional_variable_cannot_correlate_with_its_level(indication_dir) -> None:
    text = SOURCE.read_text()
    extra = '[[correlations]]\npair = ["sex", "body_circumference_cm"]\nrho = 0.3\nreason = "test"\n'
    _write(indication_dir, text.replace(MARK, extra + "\n" + MARK))
    with pytest.raises(InputError, match="cannot be correlated with its by-variable"):
        load_indication("recurrent_glioblastoma")


def test_missing_source_is_rejected(indication_dir) -> None:
    text = SOURCE.read_text()
    start = text.index('source = "Maier-Hauff 2011: median time')
    end = text.index("\n", start)
    _write(indication_dir, text[:start] + text[end + 1 :])
    with pytest.raises(InputError) as info:
        load_indication("recurrent_glioblastoma")
    assert info.value.field.endswith("months_since_diagnosis.source")


def test_missing_required_variable_is_reported_by_generator(indication_dir) -> None:
    text = SOURCE.read_text()
    start = text.index("[variables.pacemaker]")
    end = text.index("[variables.body_circumference_cm]")
    text = text[:start] + text[end:]
    pacemaker_pair = '[[correlations]]\npair = ["age_years", "pacemaker"]\nrho = 0.45\n'
    text = text.replace(pacemaker_pair + 'reason = "pacemaker prevalence rises steeply with age"\n', "")
    _write(indication_dir, text)
    with pytest.raises(InputError) as info:
        generate_cohort("recurrent_glioblastoma", 10, seed=1)
    assert info.value.value == ["pacemaker"]


@pytest.mark.parametrize("indication", ["recurrent_glioblastoma", "prostate", "pancreas"])
def test_documentation_tables(indication: str) -> None:
    from mhtcdt.cohorts import correlation_matrix, covariate_table

    table = covariate_table(indication)
    cohort = generate_cohort(indication, 3, seed=0)
    assert set(table["variable"]) <= set(cohort.columns)
    assert (table["source"].str.len() > 10).all() and table["verified"].dtype == bool
    r = correlation_matrix(indication)
    assert list(r.index) == list(table["variable"])
    np.testing.assert_allclose(r.to_numpy(), r.to_numpy().T)
    np.testing.assert_allclose(np.diag(r.to_numpy()), 1.0)
    assert np.linalg.eigvalsh(r.to_numpy()).min() > 0
    assert (r.to_numpy() != 0).sum() > len(r)  # documented correlations are present
