"""Scenario files in and out: parse user TOML text, read a file, the presets shipped with the package,
and serialise a scenario back to TOML.

Every problem becomes one :class:`~mhtcdt.errors.InputError` naming the dotted field path and the bad
value (all of them at once, as :class:`~mhtcdt.errors.InputErrors`); malformed TOML names the source
and line. The schema itself is :mod:`mhtcdt.decision.scenario.schema`; the rules over several fields
and layers are :mod:`mhtcdt.decision.scenario.checks`, reported together with the schema's.

Input is bounded before it is parsed or validated: a scenario (or any TOML file a user names) must be a
regular file (not a folder, device, pipe or socket) of at most :data:`MAX_FILE_BYTES`; its tables and
arrays nest at most :data:`MAX_NESTING_DEPTH` deep and hold at most :data:`MAX_ENTRIES` keys and items.
Types are strict: ``true``/``false`` is never a number (pydantic would read ``true`` as 1).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
import types
import typing
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mhtcdt.decision.scenario.schema import Scenario
from mhtcdt.errors import MISSING, InputError, InputErrors

#: a scenario file is a few kB; 1 MB is far above any real one and small enough to read at once
MAX_FILE_BYTES = 1_000_000
#: tables and arrays inside each other (a scenario needs 4: root, economics, uncertainty list, entry)
MAX_NESTING_DEPTH = 16
#: keys and array items in the whole file (the default scenario has about 150)
MAX_ENTRIES = 10_000

PRESETS_PACKAGE = "mhtcdt.decision.scenario.presets"


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "scenario"


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    cur = data
    for part in loc:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return MISSING
    return cur


def errors_from_validation(exc: ValidationError, data: Any) -> InputErrors:
    """Turn a pydantic ValidationError into one InputError per problem (field path + bad value)."""
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if p not in ("function-after",))
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, InputError):  # a model's own rule (e.g. an arm's Protocol) naming its field
            out.append(InputError(f"{_dotted(loc)}.{cause.field}" if loc else cause.field, cause.value, cause.message))
            continue
        value = err.get("input", _lookup(data, loc)) if err["type"] != "missing" else MISSING
        if isinstance(value, Mapping) and err["type"] == "value_error":  # a rule over a section: never a dump
            value = "<section>" if loc else "<scenario>"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        out.append(InputError(_dotted(loc), value, msg))
    return InputErrors(out)


def read_user_file(path: str | Path, field: str, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The text of a file a user names, read only if it is a regular file of at most ``max_bytes``.

    A missing file, a folder, a device (``/dev/zero``), a pipe (a FIFO would block forever), a socket,
    a file too large or not UTF-8 is an :class:`~mhtcdt.errors.InputError` naming ``field`` and the
    path, raised before anything is read. The file is opened without blocking and checked again on
    the open handle, so it cannot be swapped for a pipe in between.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(field, str(p), "no such file") from None
    except IsADirectoryError:
        raise InputError(field, str(p), "is a folder, not a file") from None
    except OSError as exc:
        raise InputError(field, str(p), f"cannot be read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(field, str(p), "is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise InputError(field, str(p), "is not a regular file (a device, pipe or socket)")
        if info.st_size > max_bytes:
            raise InputError(field, str(p), f"is {info.st_size:,} bytes; at most {max_bytes:,} are accepted")
        with os.fdopen(fd, "rb") as handle:
            fd = -1  # closed with the handle
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(field, str(p), f"cannot be read: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) > max_bytes:
        raise InputError(field, str(p), f"is larger than {max_bytes:,} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(field, str(p), f"is not UTF-8 text (byte {exc.start})") from None


def structure_problems(data: Any, field: str) -> list[InputError]:
    """Nesting deeper than :data:`MAX_NESTING_DEPTH` or more than :data:`MAX_ENTRIES` keys and items
    (checked without recursion, so any parsed document can be measured)."""
    stack = [(data, 1)]
    entries = 0
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, Mapping) else node if isinstance(node, list) else ()
        for child in children:
            entries += 1
            if entries > MAX_ENTRIES:
                return [InputError(field, f"> {MAX_ENTRIES:,} entries", f"at most {MAX_ENTRIES:,} keys and items")]
            if isinstance(child, Mapping | list):
                if depth + 1 > MAX_NESTING_DEPTH:
                    return [
                        InputError(
                            field,
                            f"> {MAX_NESTING_DEPTH} levels",
                            f"tables and arrays nest at most {MAX_NESTING_DEPTH} deep",
                        )
                    ]
                stack.append((child, depth + 1))
    return []


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """Parse user TOML text with the input bounds of this module; problems name ``source``."""
    if len(text) > MAX_FILE_BYTES:
        raise InputErrors([InputError(source, f"{len(text):,} characters", f"at most {MAX_FILE_BYTES:,} are accepted")])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputErrors([InputError(source, "<TOML>", f"malformed TOML: {exc}")]) from None
    except RecursionError:
        raise InputErrors(
            [InputError(source, "<TOML>", f"tables and arrays nest at most {MAX_NESTING_DEPTH} deep")]
        ) from None
    problems = structure_problems(data, source)
    if problems:
        raise InputErrors(problems)
    return data


def read_toml_file(path: str | Path, field: str) -> dict[str, Any]:
    """A TOML file named by the user (calibration targets, a calibration file ...), parsed.

    A missing, unreadable, irregular (folder, device, pipe), oversized or malformed file is an
    :class:`~mhtcdt.errors.InputError` naming ``field`` and the path. The package's own data files are
    read with :func:`mhtcdt.datafiles.load_toml`.
    """
    text = read_user_file(path, field)
    try:
        return parse_toml(text, field)
    except InputErrors as exc:
        raise InputError(field, str(path), exc.errors[0].message) from None


def _unwrap(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """(origin, args) of a type annotation with ``Annotated`` metadata removed."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation, typing.get_args(annotation)


def _wants_number(annotation: Any) -> bool:
    """True for int/float fields (also optional ones and integer literals), False where bool is allowed."""
    annotation, args = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if annotation in (int, float):
        return True
    if origin is typing.Literal:
        return all(isinstance(a, int) and not isinstance(a, bool) for a in args)
    if origin in (typing.Union, types.UnionType):
        return bool not in args and any(_wants_number(a) for a in args)
    return False


def _bool_problems(value: Any, annotation: Any, path: str) -> list[InputError]:
    """``true``/``false`` given where the schema wants a number (pydantic's lax mode would accept it)."""
    if isinstance(value, bool):
        return [InputError(path, value, "expected a number, not true/false")] if _wants_number(annotation) else []
    annotation, args = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return strict_type_problems(value, annotation, path)
    if origin in (typing.Union, types.UnionType):
        return next((found for a in args if (found := _bool_problems(value, a, path))), [])
    if origin is list and isinstance(value, list) and args:
        return [p for i, v in enumerate(value) for p in _bool_problems(v, args[0], f"{path}[{i}]")]
    if origin is dict and isinstance(value, Mapping) and len(args) == 2:
        return [p for k, v in value.items() for p in _bool_problems(v, args[1], f"{path}.{k}")]
    return []


def strict_type_problems(data: Any, model: type[BaseModel] = Scenario, path: str = "") -> list[InputError]:
    """Every ``true``/``false`` given for a numeric field of ``model`` (recursively), e.g.
    ``arms[1].n_sessions = True``."""
    if not isinstance(data, Mapping):
        return []
    out = []
    for key, value in data.items():
        field = model.model_fields.get(key) if isinstance(key, str) else None
        if field is not None:
            out += _bool_problems(value, field.annotation, f"{path}.{key}" if path else key)
    return out


#: schema rules over a whole model that :mod:`~mhtcdt.decision.scenario.checks` restates field by field:
#: the scenario's arm references, the economics' uncertainty ranges, each uncertainty entry's range
_RESTATED_MODEL_RULES = re.compile(r"scenario|economics|economics\.uncertainty\[\d+\]")


def _merge(schema: list[InputError], rules: list[InputError]) -> list[InputError]:
    """The schema's problems and the cross-field rules', each once. A schema rule over a whole model
    reports the model (``<section>``); it is left out when the cross-field rules restate it with the
    fields named (:data:`_RESTATED_MODEL_RULES`, when they report a problem in that model)."""
    out = []
    for e in schema:
        if e.value in ("<section>", "<scenario>") and _RESTATED_MODEL_RULES.fullmatch(e.field):
            prefix = "" if e.field == "scenario" else e.field
            if any(r.field.startswith(prefix) for r in rules):
                continue
        out.append(e)
    seen = {(e.field, e.message) for e in out}
    for r in rules:
        if (r.field, r.message) not in seen:
            seen.add((r.field, r.message))
            out.append(r)
    return out


def parse_scenario(data: dict[str, Any]) -> Scenario:
    """Validate a parsed TOML mapping; raise :class:`InputErrors` listing every problem.

    Bounds of the input (:func:`structure_problems`), strict types, the schema and the cross-field rules
    (:func:`mhtcdt.decision.scenario.checks.data_problems`) are all checked, and every problem is
    reported at once. The checks that need the other layers' data (criteria, strata, indication) are
    :func:`mhtcdt.decision.scenario.checks.validate_scenario_data`.
    """
    from mhtcdt.decision.scenario.checks import data_problems

    if not isinstance(data, Mapping):
        raise InputErrors([InputError("scenario", type(data).__name__, "a scenario is a table of sections")])
    bounded = structure_problems(data, "scenario")
    if bounded:
        raise InputErrors(bounded)
    strict = strict_type_problems(data)
    scenario, schema = None, []
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        schema = errors_from_validation(exc, data).errors
    strict_fields = {e.field for e in strict}
    problems = _merge(strict + [e for e in schema if e.field not in strict_fields], data_problems(data))
    if problems:
        raise InputErrors(problems)
    return scenario


def parse_scenario_text(text: str, source: str = "<text>") -> Scenario:
    """Parse TOML text; malformed TOML becomes an InputError naming the source and line."""
    return parse_scenario(parse_toml(text, source))


def read_scenario_file(path: str | Path) -> str:
    """The text of a scenario file (a regular file of at most :data:`MAX_FILE_BYTES`, UTF-8)."""
    try:
        return read_user_file(path, "scenario file")
    except InputError as exc:
        raise InputErrors([exc]) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file: every problem :func:`mhtcdt.decision.scenario.checks.validate_scenario_data`
    finds (schema, cross-field rules, criteria, strata, trial design, disease setting and calibration) at once; a
    missing, irregular or unreadable file is an InputError naming the path. A ``calibration`` file named relative
    to the scenario file is resolved against the scenario file's folder (before the validation reads it)."""
    from mhtcdt.decision.scenario.checks import validate_scenario_data

    p = Path(path)
    data = parse_toml(read_scenario_file(p), str(p))
    calibration = data.get("calibration") if isinstance(data, dict) else None
    if isinstance(calibration, str) and not Path(calibration).expanduser().is_absolute():
        data = {**data, "calibration": str((p.parent / calibration).resolve())}
    return validate_scenario_data(data, source=str(p))


DEFAULT_SCENARIO = "default.toml"


def scenario_text(name: str = DEFAULT_SCENARIO) -> str:
    """Text of a scenario shipped inside the package (``mhtcdt/decision/scenario/presets``)."""
    return resources.files(PRESETS_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def bundled_scenarios() -> list[str]:
    """File names of the scenarios shipped with the package."""
    root = resources.files(PRESETS_PACKAGE)
    return sorted(p.name for p in root.iterdir() if p.name.endswith(".toml"))


def default_scenario() -> Scenario:
    """The embedded default scenario (recurrent glioblastoma, NanoTherm MHT + RT vs RT alone)."""
    return parse_scenario_text(scenario_text(DEFAULT_SCENARIO), source=DEFAULT_SCENARIO)


def scenario_to_toml(scenario: Scenario) -> str:
    """Serialise a scenario back to TOML (None fields omitted), e.g. for download after editing."""
    import tomli_w

    return tomli_w.dumps(scenario.model_dump(mode="json", exclude_none=True))
