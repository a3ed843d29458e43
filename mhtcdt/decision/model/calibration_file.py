"""Calibration files: their schema, identity and provenance (``mhtcdt calibrate`` writes them).

A calibration file is TOML with ``schema_version = 2``:

* ``[meta]``: ``calibration_id`` (``<UTC time>-s<seed>-<hash8>``), ``created_utc``, ``seed``, ``method`` and its
  citation, ``physics`` ("real" or a test double), ``physics_source_hash`` (:func:`physics_source_hash` of the
  code it was made with), ``indications`` (outcome settings it was calibrated for), ``calibrated_effects``
  (keys of :data:`mhtcdt.decision.model.outcome.EFFECT_PARAMETERS` informed by its targets), population sizes;
* ``[free]``: the point estimate of every parameter of :data:`~mhtcdt.decision.model.outcome.FREE_PARAMETERS`
  (no other key);
* ``[[draws]]``: posterior draws with the same keys (the PSA samples them);
* ``[[targets]]``, ``[[out_of_sample]]`` and ``[identifiability]``: the report (simulated vs target, posterior
  predictive checks, prior vs posterior, sensitivity, correlations).

:func:`read_calibration` validates a file and raises :class:`~mhtcdt.errors.InputError` naming the field and the
value for any mismatch (another schema, an unknown or missing parameter, a value outside the model's support,
an unknown indication or effect). :func:`apply_calibration` overlays it on the base parameters and warns
(:class:`CalibrationPhysicsWarning`) when the physics code has changed since the calibration was made.
:func:`calibration_record` is what a run records (``run.json`` and the run store): id, SHA-256 of the file,
its path and whether its physics hash matches.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from mhtcdt.decision.model import outcome
from mhtcdt.errors import InputError

SCHEMA_VERSION = 2


class CalibrationPhysicsWarning(UserWarning):
    """The calibration was made with other physics (or cohort) code than the code running now."""


#: TOML keys that document a value without changing it: excluded from :func:`physics_source_hash`
PROVENANCE_KEYS = frozenset({"source", "sources", "citation", "verified", "note", "notes", "comment", "basis"})


@cache
def physics_source_hash() -> str:
    """Hash (16 hex) of what the physics and cohorts code computes: their ``.py`` and ``.toml`` files, prose removed.

    A calibration records it; a different hash on use means the kill or the populations it was fitted to
    may have changed (re-run ``mhtcdt calibrate``). Python files are hashed without comments, docstrings and
    blank lines (:func:`_code_text`), TOML files as their parsed values without the provenance keys
    (:data:`PROVENANCE_KEYS`): correcting a citation, a ``verified`` flag or a docstring does not invalidate
    a calibration, any change of code or of a number does.
    """
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256()
    for sub in ("physics", "cohorts"):
        for f in sorted((root / sub).rglob("*")):
            if not f.is_file() or "__pycache__" in f.parts or f.suffix not in (".py", ".toml"):
                continue
            h.update(str(f.relative_to(root)).encode())
            text = f.read_text(encoding="utf-8")
            h.update((_code_text(text) if f.suffix == ".py" else _toml_values(text)).encode())
    return h.hexdigest()[:16]


def _code_text(source: str) -> str:
    """Python source without comments, docstrings and blank lines, trailing spaces stripped.

    Positions come from :mod:`tokenize` (comments) and :mod:`ast` (docstrings), both stable across Python
    versions, so the result does not depend on the interpreter (an ``ast.dump`` would)."""
    import ast
    import io
    import tokenize

    lines = source.splitlines()
    cuts: list[tuple[int, int, int, int]] = []  # (start line, start col, end line, end col), 1-based lines
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            cuts.append((tok.start[0], tok.start[1], tok.end[0], tok.end[1]))
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body:
            first = body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                start = len(lines[first.lineno - 1].encode()[: first.col_offset].decode())  # ast: UTF-8 bytes
                end = len(lines[first.end_lineno - 1].encode()[: first.end_col_offset].decode())
                cuts.append((first.lineno, start, first.end_lineno, end))
    for l0, c0, l1, c1 in sorted(cuts, reverse=True):  # from the end, so earlier positions stay valid
        head, tail = lines[l0 - 1][:c0], lines[l1 - 1][c1:]
        lines[l0 - 1 : l1] = [head + tail]
    return "\n".join(line.rstrip() for line in lines if line.strip())


def _toml_values(text: str) -> str:
    """The parsed values of a TOML file without :data:`PROVENANCE_KEYS`, as canonical JSON."""
    import json
    import tomllib

    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k not in PROVENANCE_KEYS}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    return json.dumps(strip(tomllib.loads(text)), sort_keys=True, default=str)


@dataclass(frozen=True)
class CalibrationFile:
    """A validated calibration file: point estimate, draws, metadata and where it came from."""

    free: dict[str, float]
    draws: pd.DataFrame
    meta: dict[str, Any]
    path: str
    sha256: str

    @property
    def calibration_id(self) -> str:
        return str(self.meta["calibration_id"])


def _bytes(path: str | Path | None) -> tuple[bytes, str]:
    if path is None:
        ref = resources.files(outcome.DATA_PACKAGE).joinpath(outcome.CALIBRATION_FILE)
        return ref.read_bytes(), f"{outcome.DATA_PACKAGE}/{outcome.CALIBRATION_FILE}"
    p = Path(path)
    try:
        if not p.is_file():
            raise InputError("calibration", str(p), "no such calibration file")
        return p.read_bytes(), str(p)
    except OSError as exc:
        raise InputError("calibration", str(p), f"cannot be read: {exc}") from exc


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(field, value, "must be a finite number")
    return float(value)


def _parameters(table: Any, field: str) -> dict[str, float]:
    if not isinstance(table, Mapping):
        raise InputError(field, type(table).__name__, "must be a table of parameter values")
    unknown = sorted(set(table) - set(outcome.FREE_PARAMETERS))
    if unknown:
        raise InputError(
            f"{field}.{unknown[0]}",
            table[unknown[0]],
            f"unknown outcome-model parameter; known: {', '.join(outcome.FREE_PARAMETERS)}",
        )
    table = {**outcome.LEGACY_FREE_DEFAULTS, **table}  # older files lack these (outcome.LEGACY_FREE_DEFAULTS)
    missing = [k for k in outcome.FREE_PARAMETERS if k not in table]
    if missing:
        raise InputError(field, missing, "missing outcome-model parameter(s)")
    values = {k: _number(f"{field}.{k}", table[k]) for k in outcome.FREE_PARAMETERS}
    try:
        outcome._check_free(values)
    except InputError as exc:
        raise InputError(f"{field}.{exc.field.removeprefix('free.')}", exc.value, exc.message) from None
    return values


def parse_calibration(doc: Mapping[str, Any], path: str, sha256: str) -> CalibrationFile:
    """Validate a parsed calibration document (see the module docstring); ``path`` and ``sha256`` identify it."""
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InputError(
            "calibration.schema_version",
            version,
            f"{path}: expected schema_version = {SCHEMA_VERSION} (a file of `mhtcdt calibrate` of this version)",
        )
    meta = doc.get("meta")
    if not isinstance(meta, Mapping):
        raise InputError("calibration.meta", type(meta).__name__, f"{path}: missing [meta] table")
    for key in ("calibration_id", "physics_source_hash", "created_utc"):
        if not isinstance(meta.get(key), str) or not meta.get(key):
            raise InputError(f"calibration.meta.{key}", meta.get(key), f"{path}: must be a non-empty string")
    indications = meta.get("indications")
    if not isinstance(indications, list) or not indications:
        raise InputError("calibration.meta.indications", indications, f"{path}: must list the outcome settings")
    for i, ind in enumerate(indications):
        if ind not in outcome.PPS_KEY_BY_INDICATION:
            raise InputError(
                f"calibration.meta.indications[{i}]",
                ind,
                f"{path}: made for another indication; the outcome model covers "
                f"{', '.join(outcome.PPS_KEY_BY_INDICATION)}",
            )
    effects = meta.get("calibrated_effects", [])
    if not isinstance(effects, list):
        raise InputError("calibration.meta.calibrated_effects", effects, f"{path}: must be a list")
    for i, eff in enumerate(effects):
        if eff not in outcome.EFFECT_PARAMETERS:
            raise InputError(
                f"calibration.meta.calibrated_effects[{i}]",
                eff,
                f"{path}: unknown effect; known: {', '.join(outcome.EFFECT_PARAMETERS)}",
            )
    assumed = meta.get("assumed_effects", {})
    if not isinstance(assumed, Mapping) or any(e not in outcome.EFFECT_PARAMETERS for e in assumed):
        raise InputError("calibration.meta.assumed_effects", assumed, f"{path}: must map known effects to reasons")
    free = _parameters(doc.get("free"), "calibration.free")
    rows = doc.get("draws", [])
    if not isinstance(rows, list):
        raise InputError("calibration.draws", type(rows).__name__, f"{path}: must be an array of tables")
    draws = pd.DataFrame(
        [_parameters(r, f"calibration.draws[{i}]") for i, r in enumerate(rows)], columns=list(outcome.FREE_PARAMETERS)
    ).astype(float)
    return CalibrationFile(free=free, draws=draws, meta=dict(meta), path=path, sha256=sha256)


def read_calibration(path: str | Path | None = None) -> CalibrationFile:
    """Read and validate a calibration file (``None``: the packaged one)."""
    import tomllib

    raw, where = _bytes(path)
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError("calibration", where, f"not valid TOML: {exc}") from exc
    return parse_calibration(doc, where, hashlib.sha256(raw).hexdigest())


def apply_calibration(params: outcome.OutcomeParams, path: str | Path | None = None) -> outcome.OutcomeParams:
    """``params`` with the point estimate and draws of a calibration file, and its provenance.

    Warns (:class:`CalibrationPhysicsWarning`) when the file's physics hash differs from the running code's.
    """
    cal = read_calibration(path)
    record = calibration_record(cal)
    if not record["physics_matches"]:
        warnings.warn(
            f"calibration {cal.calibration_id} ({cal.path}) was made with other physics/cohort code "
            f"(hash {cal.meta['physics_source_hash']}, now {physics_source_hash()}): its fit may not hold; "
            "re-run `mhtcdt calibrate`",
            CalibrationPhysicsWarning,
            stacklevel=3,
        )
    return replace(params, free=cal.free, draws=cal.draws, source=cal.path, provenance=record)


def calibration_record(cal: CalibrationFile) -> dict[str, Any]:
    """What a run records about its calibration (``run.json`` and the run store)."""
    return {
        "calibration_id": cal.calibration_id,
        "calibration_sha256": cal.sha256,
        "calibration_path": cal.path,
        "physics_source_hash": str(cal.meta["physics_source_hash"]),
        "physics_matches": str(cal.meta["physics_source_hash"]) == physics_source_hash(),
        "indications": list(cal.meta["indications"]),
        "calibrated_effects": list(cal.meta.get("calibrated_effects", [])),
        # only when the targets declared assumed effects (keeps the records of earlier calibrations unchanged)
        **({"assumed_effects": sorted(cal.meta["assumed_effects"])} if cal.meta.get("assumed_effects") else {}),
    }


def resolve_path(calibration: str | None, scenario_dir: str | Path | None = None) -> Path | None:
    """The calibration file a scenario names (relative paths from the scenario file's folder), or None."""
    if calibration is None:
        return None
    p = Path(calibration).expanduser()
    if not p.is_absolute() and scenario_dir is not None:
        p = Path(scenario_dir) / p
    return p


def scenario_params(scenario: Any, scenario_dir: str | Path | None = None) -> outcome.OutcomeParams:
    """The outcome parameters a scenario runs with: its ``calibration`` file, else the packaged calibration of
    its indication (:data:`mhtcdt.decision.model.outcome.INDICATION_FILES`), else the packaged glioblastoma one."""
    path = resolve_path(getattr(scenario, "calibration", None), scenario_dir or getattr(scenario, "_source_dir", None))
    if path is None:
        path = outcome.default_calibration_path(outcome_indication_of(scenario))
    return outcome.load_outcome_params(path)


def calibration_problems(scenario: Any, params: outcome.OutcomeParams) -> list[InputError]:
    """Problems of a scenario with a calibration: an indication or an arm effect it was not calibrated for."""
    problems: list[InputError] = []
    record = params.provenance
    if not record:
        return problems
    name = record.get("calibration_id", "?")
    indications = record.get("indications", [])
    setting = outcome_indication_of(scenario)
    if setting is not None and setting not in indications:
        problems.append(
            InputError(
                "cohort.indication",
                setting,
                f"calibration {name} was made for {', '.join(indications)}; run `mhtcdt calibrate` for this setting",
            )
        )
    # assumed effects (declared in the targets file with a reason) keep their prior: allowed, not calibrated
    calibrated = set(record.get("calibrated_effects", [])) | set(record.get("assumed_effects", []))
    for i, arm in enumerate(getattr(scenario, "arms", [])):
        for effect in outcome.protocol_effects(arm):
            if effect not in calibrated:
                problems.append(
                    InputError(
                        f"arms[{i}]",
                        arm.name,
                        f"asks for {effect}, which calibration {name} did not calibrate (calibrated effects: "
                        f"{', '.join(sorted(calibrated)) or 'none'})",
                    )
                )
    return problems


def outcome_indication_of(scenario: Any) -> str | None:
    """The outcome setting of a scenario's cohort (None: no cohort). An indication without an outcome model is
    returned too, so that :func:`calibration_problems` refuses it at validation, before any computing."""
    cohort = getattr(scenario, "cohort", None)
    if cohort is None:
        return None
    if getattr(cohort, "disease_setting", None) == "newly_diagnosed":
        return "newly_diagnosed_glioblastoma"
    return str(cohort.indication)
