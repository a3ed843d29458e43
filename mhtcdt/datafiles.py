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
        "schema_version",
    }  # the version of the file's format, not a parameter
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
