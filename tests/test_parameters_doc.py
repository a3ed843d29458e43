"""docs/parameters.md is generated from the data files and must be current (regenerate with
``python -m mhtcdt.datafiles --markdown > docs/parameters.md``)."""

from pathlib import Path

from mhtcdt.datafiles import data_files, is_generated, load_toml, parameter_rows, parameters_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "parameters.md"


def test_parameters_doc_is_current():
    assert DOC.read_text() == parameters_markdown(), (
        "docs/parameters.md is stale: run python -m mhtcdt.datafiles --markdown > docs/parameters.md"
    )


def test_every_listed_value_has_a_source_and_a_verified_flag():
    files = [(p, r) for p, r in data_files() if not is_generated(load_toml(p, r))]
    assert ("mhtcdt.physics", "data/heat_delivery.toml") in files
    for package, rel in files:
        for row in parameter_rows(load_toml(package, rel)):
            assert row["source"] and isinstance(row["verified"], bool), (package, rel, row)


def test_rows_inherit_the_nearest_source():
    data = {"source": "outer", "verified": False, "a": 1, "t": {"source": "inner", "verified": True, "b": [1, 2]}}
    rows = parameter_rows(data)
    assert rows == [
        {"table": "", "key": "a", "value": 1, "source": "outer", "verified": False},
        {"table": "t", "key": "b", "value": [1, 2], "source": "inner", "verified": True},
    ]
