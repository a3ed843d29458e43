"""The package's data files: one TOML loader and one provenance rule for every layer.

Parameters live in TOML files next to the code that uses them (``physics/data``, ``cohorts``,
``economics/data``, ``decision/model/data``). :func:`load_toml` reads one (cached: the files are part of the
installed package and do not change while it runs). :func:`provenance_problems` states the rule every
parameter obeys: each table that holds values carries a ``source`` (paper, table, page) and a boolean
``verified`` (``true`` only when the value was read in the primary source), either itself or from an
enclosing table. Documentation keys (``source``, ``note``, ``unit`` ...) are not values.

Leaf module (standard library and :mod:`mhtcdt.errors` only), usable from every layer.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

from mhtcdt.errors import ModelError

#: Keys that document a value rather than being one.
DOCUMENTATION_KEYS = frozenset(
    {
        "source",
        "sources",
        "verified",
        "note",
        "notes",
        "unit",
        "units",
        "comment",
        "description",
        "label",
        "title",
        "schema_version",  # the version of the file's format, not a parameter
        "outcome_params",  # the name of another data file (a calibration targets file's base parameters)
    }
)


#: SHA-256 of the bytes of every data file this process has loaded, by ``package/relative_path``
_LOADED_SHA256: dict[str, str] = {}


@cache
def load_toml(package: str, relative_path: str) -> dict[str, Any]:
    """The parsed TOML file ``relative_path`` inside the installed package ``package``.

    Example: ``load_toml("mhtcdt.physics", "data/tissues.toml")``. The result is cached and shared:
    treat it as read-only. A missing or malformed file is a :class:`~mhtcdt.errors.ModelError` (the
    package's own data is broken, not the user's input). The SHA-256 of the bytes read is kept
    (:func:`loaded_data_hashes`): the code identity of a run covers its data as well as its code.
    """
    try:
        with resources.files(package).joinpath(relative_path).open("rb") as fh:
            raw = fh.read()
        data = tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"data file {package}/{relative_path} is missing from the installation") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"data file {package}/{relative_path} is not valid TOML: {exc}") from exc
    _LOADED_SHA256[f"{package}/{relative_path}"] = hashlib.sha256(raw).hexdigest()
    return data


def loaded_data_hashes() -> dict[str, str]:
    """SHA-256 of each data file loaded by :func:`load_toml` in this process, by ``package/relative_path``
    (the bytes that were parsed, so an edit after loading does not change it)."""
    return dict(_LOADED_SHA256)


def _is_documentation(key: str) -> bool:
    return (
        key in DOCUMENTATION_KEYS
        or key.endswith(("_note", "_notes", "_source", "_sources", "_verified"))
        or key.startswith(("source_", "note_"))
    )


def _tables(
    data: Mapping[str, Any], path: str, inherited: tuple[bool, bool]
) -> Iterator[tuple[str, Mapping, bool, bool]]:
    has_source = inherited[0] or isinstance(data.get("source"), str) and bool(data.get("source", "").strip())
    has_verified = inherited[1] or isinstance(data.get("verified"), bool)
    yield path, data, has_source, has_verified
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _tables(value, f"{path}.{key}" if path else key, (has_source, has_verified))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                yield from _tables(item, f"{path}.{key}[{i}]" if path else f"{key}[{i}]", (has_source, has_verified))


def provenance_problems(data: Mapping[str, Any], name: str = "") -> list[str]:
    """Tables of ``data`` that hold values without a ``source`` or a boolean ``verified`` flag.

    A table "holds values" if it has an entry that is neither a sub-table nor a documentation key.
    ``source`` and ``verified`` may be inherited from an enclosing table (a section whose entries
    share one source). Returns one line per problem, ``"<name>:<table>: no source"``; empty when the
    file obeys the rule.
    """
    problems = []
    for path, table, has_source, has_verified in _tables(data, "", (False, False)):
        values = [
            k
            for k, v in table.items()
            if not _is_documentation(k)
            and not isinstance(v, Mapping)
            and not (isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v))
        ]
        if not values:
            continue
        where = f"{name}:{path or '<top level>'}" if name else (path or "<top level>")
        if not has_source:
            problems.append(f"{where}: no source (values: {', '.join(values[:4])})")
        if not has_verified:
            problems.append(f"{where}: no boolean verified flag")
    return problems


# ---------------------------------------------------------------------- docs/parameters.md
#: Packages whose TOML files hold the model's parameters (scenario presets are inputs, not parameters).
DATA_PACKAGES = (
    "mhtcdt.physics",
    "mhtcdt.cohorts",
    "mhtcdt.economics",
    "mhtcdt.decision.model",
    "mhtcdt.decision.scenario",
    "mhtcdt.decision.trial",
)
#: Arrays longer than this are summarised in the parameter list (count, min, max).
_LONGEST_LISTED = 8


def data_files() -> list[tuple[str, str]]:
    """Every parameter file as (package, path inside the package), sorted (``*.toml`` at any depth)."""
    found = []
    for package in DATA_PACKAGES:
        root = resources.files(package)
        stack = [(root, "")]
        while stack:
            folder, prefix = stack.pop()
            for entry in folder.iterdir():
                rel = f"{prefix}{entry.name}"
                if entry.is_dir() and not entry.name.startswith(("_", ".")) and not (entry / "__init__.py").is_file():
                    stack.append((entry, f"{rel}/"))
                elif entry.is_file() and entry.name.endswith(".toml"):
                    found.append((package, rel))
    return sorted(found)


def parameter_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per value of ``data``: ``table``, ``key``, ``value``, and the ``source`` and ``verified`` that
    apply to it (the table's own, else the nearest enclosing table's), in file order."""
    rows: list[dict[str, Any]] = []

    def walk(table: Mapping[str, Any], path: str, source: str | None, verified: bool | None) -> None:
        own = table.get("source")
        source = own if isinstance(own, str) and own.strip() else source
        verified = table["verified"] if isinstance(table.get("verified"), bool) else verified
        for key, value in table.items():
            if isinstance(value, Mapping):
                walk(value, f"{path}.{key}" if path else key, source, verified)
            elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
                for i, item in enumerate(value):
                    walk(item, f"{path}.{key}[{i}]" if path else f"{key}[{i}]", source, verified)
            elif not _is_documentation(key):
                rows.append({"table": path, "key": key, "value": value, "source": source, "verified": verified})

    walk(data, "", None, None)
    return rows


def is_generated(data: Mapping[str, Any]) -> bool:
    """True for a file written by a command (a top-level ``generated_by``), e.g. the outcome calibration: its
    provenance is the command and its inputs, not a citation per value."""
    return isinstance(data.get("generated_by"), str)


def _format_value(value: Any) -> str:
    if isinstance(value, list) and len(value) > _LONGEST_LISTED and all(isinstance(v, int | float) for v in value):
        return f"{len(value)} values, {min(value):g} to {max(value):g}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("'", "")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def parameters_markdown() -> str:
    """``docs/parameters.md``: every parameter of every data file with its source and verified flag."""
    lines = [
        "# Model parameters",
        "",
        "Generated from the package's data files by `python -m mhtcdt.datafiles --markdown > docs/parameters.md`;",
        "`tests/test_parameters_doc.py` fails when this file is not current. Every value carries the `source` and",
        "`verified` flag of its table (or of the nearest enclosing one): `verified = true` only where the value was",
        "read in the primary source; `false` values are priors (recalled, secondary, derived or assumed).",
        "",
    ]
    files = [(p, r) for p, r in data_files() if not is_generated(load_toml(p, r))]
    generated = [(p, r) for p, r in data_files() if is_generated(load_toml(p, r))]
    lines += ["| file | values | verified |", "|---|---:|---:|"]
    for package, rel in files:
        rows = parameter_rows(load_toml(package, rel))
        lines.append(
            f"| `{package.replace('.', '/')}/{rel}` | {len(rows)} | {sum(r['verified'] is True for r in rows)} |"
        )
    for package, rel in generated:
        made_by = _cell(load_toml(package, rel)["generated_by"])
        lines.append(f"| `{package.replace('.', '/')}/{rel}` | generated by `{made_by}` (not listed) | - |")
    for package, rel in files:
        lines += ["", f"## `{package.replace('.', '/')}/{rel}`", ""]
        lines += ["| table | values | verified | source |", "|---|---|---|---|"]
        groups: dict[tuple[str, Any, Any], list[str]] = {}
        for row in parameter_rows(load_toml(package, rel)):
            key = (row["table"] or "(top)", row["source"], row["verified"])
            groups.setdefault(key, []).append(f"{row['key']} = {_format_value(row['value'])}")
        for (table, source, verified), values in groups.items():
            flag = {True: "true", False: "false", None: "-"}[verified]
            lines.append(f"| {_cell(table)} | {_cell('; '.join(values))} | {flag} | {_cell(source or '-')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m mhtcdt.datafiles --markdown``: print docs/parameters.md; ``--check``: list provenance problems."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mhtcdt.datafiles", description="The package's data files.")
    parser.add_argument("--markdown", action="store_true", help="print the parameter list (docs/parameters.md)")
    parser.add_argument("--check", action="store_true", help="print provenance problems; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        problems = [
            problem
            for pkg, rel in data_files()
            if not is_generated(load_toml(pkg, rel))
            for problem in provenance_problems(load_toml(pkg, rel), f"{pkg}/{rel}")
        ]
        print("\n".join(problems) or "every table has a source and a verified flag")
        return 1 if problems else 0
    print(parameters_markdown(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
