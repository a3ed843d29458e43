"""The provenance rule of mhtcdt.datafiles on small hand-made tables."""

from mhtcdt.datafiles import load_toml, provenance_problems


def test_table_without_source_is_reported():
    data = {"a": {"value": 1.0, "verified": False}, "b": {"value": 2.0, "source": "x", "verified": True}}
    problems = provenance_problems(data, "f.toml")
    assert problems == ["f.toml:a: no source (values: value)"]


def test_source_and_flag_are_inherited_and_docs_are_not_values():
    data = {"sec": {"source": "paper", "verified": True, "x": {"value": 1}}, "doc": {"note": "only words"}}
    assert provenance_problems(data) == []


def test_verified_must_be_boolean():
    assert provenance_problems({"t": {"value": 1, "source": "s", "verified": "yes"}}) == ["t: no boolean verified flag"]


def test_loader_reads_package_data():
    assert "tissue" in load_toml("mhtcdt.physics", "data/tissues.toml")
