"""Scenario files in and out: parse user TOML text, read a file, the presets shipped with the package,
and serialise a scenario back to TOML.

Every problem becomes one :class:`~mhtcdt.errors.InputError` naming the dotted field path and the bad
value (all of them at once, as :class:`~mhtcdt.errors.InputErrors`); malformed TOML names the source
and line. The schema itself is :mod:`mhtcdt.decision.scenario.schema`.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mhtcdt.decision.scenario.schema import Scenario
from mhtcdt.errors import MISSING, InputError, InputErrors

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
        if isinstance(value, dict) and err["type"] not in ("missing",) and loc and err["type"] == "value_error":
            value = "<section>"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        out.append(InputError(_dotted(loc), value, msg))
    return InputErrors(out)


def read_toml_file(path: str | Path, field: str) -> dict[str, Any]:
    """A TOML file named by the user (calibration targets, a calibration file ...), parsed.

    A missing, unreadable or malformed file is an :class:`~mhtcdt.errors.InputError` naming ``field``
    and the path. The package's own data files are read with :func:`mhtcdt.datafiles.load_toml`.
    """
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(field, str(p), "file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(field, str(p), f"cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(field, str(p), f"not valid TOML: {exc}") from exc


def parse_scenario(data: dict[str, Any]) -> Scenario:
    """Validate a parsed TOML mapping; raise :class:`InputErrors` listing every problem."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise errors_from_validation(exc, data) from None
    return scenario


def parse_scenario_text(text: str, source: str = "<text>") -> Scenario:
    """Parse TOML text; malformed TOML becomes an InputError naming the source and line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputErrors([InputError(source, "<TOML>", f"malformed TOML: {exc}")]) from None
    return parse_scenario(data)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file. A missing or unreadable file is an InputError naming the path."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputErrors([InputError("scenario file", str(p), "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputErrors([InputError("scenario file", str(p), f"cannot be read: {exc}")]) from None
    scenario = parse_scenario_text(text, source=str(p))
    if scenario.calibration is not None and not Path(scenario.calibration).expanduser().is_absolute():
        # a calibration file named relative to the scenario file
        scenario = scenario.model_copy(update={"calibration": str((p.parent / scenario.calibration).resolve())})
    return scenario


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
