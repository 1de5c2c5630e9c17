"""Open mHealth-style JSON records for the two rehabtrack records that have no standard schema.

Open mHealth has ``physical-activity`` but no pain-intensity schema, and no
schema for a dosed home exercise (docs/clinical-reference.md section 6). This module
defines both in Open mHealth style, a ``header`` (uuid, schema id, creation
time, provenance, user) and a ``body`` (the measure, with units written as
``{"value": ..., "unit": ...}`` and an ``effective_time_frame``):

``rehabtrack:pain-intensity:1.0``
    ``pain_score`` (0-10 NPRS, unit ``{score}``, as LOINC 72514-3),
    ``effective_time_frame``, optional ``body_location`` (back, leg, both),
    ``flare`` and ``user_notes``.
``rehabtrack:exercise-session:1.0``
    One exercise done in a session: ``activity_name``, ``side``, ``sets``,
    ``repetitions_per_set``, optional ``hold_duration`` (``sec``),
    ``pain_during``, ``perceived_exertion`` (Borg CR10), ``load`` (``kg`` or
    ``lb``), ``distance`` (``m``, ``km``, ``mi``, ``yd``, ``ft``),
    ``warmup_sets`` and ``user_notes``.

The JSON Schemas (draft 2020-12) are built from the canonical tables of
:mod:`analysis.schema`, so their ranges and vocabularies are the same ones
defined there; the files in ``schemas/`` are what ``python -m
analysis.interop.omh`` writes, and a test checks they are up to date.
"""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from analysis.schema import PAIN, PAIN_LOCATIONS, SESSIONS, SIDES

__all__ = [
    "NAMESPACE",
    "PAIN_INTENSITY",
    "EXERCISE_SESSION",
    "SCHEMA_DIR",
    "pain_intensity_schema",
    "exercise_session_schema",
    "schemas",
    "pain_to_omh",
    "sessions_to_omh",
    "validate_omh",
    "write_schemas",
]

#: Namespace of the schema ids.
NAMESPACE = "rehabtrack"
#: (name, version) of the two schemas.
PAIN_INTENSITY = ("pain-intensity", "1.0")
EXERCISE_SESSION = ("exercise-session", "1.0")
#: Where the schema files live in the repository.
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"

_DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$"
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_IDS = uuid.UUID("2d0c3f5e-8a71-4b9c-b6e4-7f1a9c3d5e20")


def _number(column: Any, *, integer: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "integer" if integer else "number"}
    if column.min is not None:
        out["minimum"] = column.min if not integer else int(column.min)
    if column.max is not None:
        out["maximum"] = column.max if not integer else int(column.max)
    return out


def _unit_value(value: dict[str, Any], units: list[str], description: str) -> dict[str, Any]:
    unit: dict[str, Any] = {"const": units[0]} if len(units) == 1 else {"enum": units}
    return {"type": "object", "description": description, "required": ["value", "unit"],
            "additionalProperties": False, "properties": {"value": value, "unit": unit}}


def _header(name: str, version: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Open mHealth-style header: who, what schema, when and from where.",
        "required": ["uuid", "schema_id", "creation_date_time"],
        "additionalProperties": False,
        "properties": {
            "uuid": {"type": "string", "pattern": _UUID},
            "schema_id": {
                "type": "object", "required": ["namespace", "name", "version"], "additionalProperties": False,
                "properties": {"namespace": {"const": NAMESPACE}, "name": {"const": name},
                               "version": {"const": version}},
            },
            "creation_date_time": {"$ref": "#/$defs/date_time"},
            "user_id": {"type": "string", "minLength": 1, "description": "Pseudonymous patient identifier."},
            "acquisition_provenance": {
                "type": "object", "required": ["source_name"], "additionalProperties": False,
                "properties": {
                    "source_name": {"type": "string", "minLength": 1},
                    "source_creation_date_time": {"$ref": "#/$defs/date_time"},
                    "modality": {"enum": ["self-reported", "sensed"]},
                },
            },
        },
    }


def _defs(name: str, version: str) -> dict[str, Any]:
    return {
        "header": _header(name, version),
        "date_time": {"type": "string", "pattern": _DATE_TIME,
                      "description": "ISO 8601 date-time with a UTC offset (RFC 3339)."},
        "time_frame": {
            "description": "When it happened: a point in time or an interval.",
            "oneOf": [
                {"type": "object", "required": ["date_time"], "additionalProperties": False,
                 "properties": {"date_time": {"$ref": "#/$defs/date_time"}}},
                {"type": "object", "required": ["time_interval"], "additionalProperties": False,
                 "properties": {"time_interval": {
                     "type": "object", "required": ["start_date_time", "end_date_time"], "additionalProperties": False,
                     "properties": {"start_date_time": {"$ref": "#/$defs/date_time"},
                                    "end_date_time": {"$ref": "#/$defs/date_time"}}}}},
            ],
        },
    }


def _document(name: str, version: str, title: str, description: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:{NAMESPACE}:schema:{name}:{version}",
        "title": title,
        "description": description,
        "type": "object",
        "required": ["header", "body"],
        "additionalProperties": False,
        "properties": {"header": {"$ref": "#/$defs/header"}, "body": body},
        "$defs": _defs(name, version),
    }


def pain_intensity_schema() -> dict[str, Any]:
    """JSON Schema of a pain-intensity record (ranges from :data:`analysis.schema.PAIN`)."""
    nprs = PAIN.column("nprs")
    body = {
        "type": "object",
        "required": ["pain_score", "effective_time_frame"],
        "additionalProperties": False,
        "properties": {
            "pain_score": _unit_value(_number(nprs, integer=True), ["{score}"],
                                      "Numeric pain rating scale (NPRS), 0 = no pain, 10 = worst imaginable "
                                      "(LOINC 72514-3)."),
            "effective_time_frame": {"$ref": "#/$defs/time_frame"},
            "body_location": {"enum": list(PAIN_LOCATIONS), "description": PAIN.column("location").description},
            "flare": {"type": "boolean", "description": PAIN.column("flare").description},
            "user_notes": {"type": "string"},
        },
    }
    return _document(*PAIN_INTENSITY, "Pain intensity",
                     "One pain rating on the 0-10 numeric rating scale (rehabtrack, Open mHealth style).", body)


def exercise_session_schema() -> dict[str, Any]:
    """JSON Schema of an exercise-session record (ranges from :data:`analysis.schema.SESSIONS`)."""
    col = SESSIONS.column
    body = {
        "type": "object",
        "required": ["activity_name", "effective_time_frame", "side", "sets", "repetitions_per_set"],
        "additionalProperties": False,
        "properties": {
            "activity_name": {"type": "string", "minLength": 1,
                              "description": "Exercise: a key of rehabtrack's vocabulary, or the name as written."},
            "effective_time_frame": {"$ref": "#/$defs/time_frame"},
            "side": {"enum": list(SIDES), "description": col("side").description},
            "sets": {**_number(col("sets"), integer=True), "description": "Working sets done (warm-ups excluded)."},
            "repetitions_per_set": {**_number(col("reps"), integer=True),
                                    "description": "Repetitions per set (a timed set counts 1)."},
            "hold_duration": _unit_value(_number(col("hold_s"), integer=False), ["sec"],
                                         "Hold per repetition, or the length of a timed set."),
            "pain_during": _unit_value(_number(col("pain_during"), integer=True), ["{score}"],
                                       col("pain_during").description + "."),
            "perceived_exertion": _unit_value(_number(col("rpe"), integer=True), ["{score}"],
                                              "Rating of perceived exertion, Borg CR10 (0-10)."),
            "load": _unit_value({"type": "number", "minimum": 0}, ["kg", "lb"],
                                "External weight lifted per repetition (none = bodyweight)."),
            "distance": _unit_value({"type": "number", "minimum": 0}, ["m", "km", "mi", "yd", "ft"],
                                    "Distance covered in the exercise."),
            "warmup_sets": {"type": "integer", "minimum": 0, "description": "Warm-up sets (not counted in sets)."},
            "user_notes": {"type": "string"},
        },
    }
    return _document(*EXERCISE_SESSION, "Exercise session",
                     "One exercise and side done in a home-exercise session, with its dose "
                     "(rehabtrack, Open mHealth style).", body)


def schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, as written to ``schemas/``."""
    return {
        f"{PAIN_INTENSITY[0]}-{PAIN_INTENSITY[1]}.json": pain_intensity_schema(),
        f"{EXERCISE_SESSION[0]}-{EXERCISE_SESSION[1]}.json": exercise_session_schema(),
    }


def _when(values: pd.Series, zone: ZoneInfo) -> list[str]:
    return [ts.to_pydatetime().replace(tzinfo=zone).isoformat(timespec="seconds") for ts in pd.to_datetime(values)]


def _header_of(kind: tuple[str, str], key: str, when: str, patient: str, source: str) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid5(_IDS, f"{kind[0]}|{key}")),
        "schema_id": {"namespace": NAMESPACE, "name": kind[0], "version": kind[1]},
        "creation_date_time": when,
        "user_id": patient,
        "acquisition_provenance": {"source_name": source, "modality": "self-reported"},
    }


def pain_to_omh(pain: pd.DataFrame, *, timezone: str = "UTC", source_name: str = "rehabtrack") -> list[dict[str, Any]]:
    """Canonical ``pain`` rows as pain-intensity records.

    Parameters
    ----------
    pain
        Canonical ``pain`` table.
    timezone
        IANA zone whose offset labels the (unchanged) clock times.
    source_name
        ``acquisition_provenance.source_name``.

    Returns
    -------
    list of dict
        One record per row, in row order; ``creation_date_time`` is the rating time.
    """
    zone = ZoneInfo(timezone)
    out = []
    for rec, when in zip(pain.itertuples(index=False), _when(pain["recorded_at"], zone), strict=True):
        body: dict[str, Any] = {"pain_score": {"value": int(rec.nprs), "unit": "{score}"},
                                "effective_time_frame": {"date_time": when}}
        if isinstance(getattr(rec, "location", None), str):
            body["body_location"] = rec.location
        if getattr(rec, "flare", None) is not None and not pd.isna(rec.flare):
            body["flare"] = bool(rec.flare)
        if isinstance(getattr(rec, "notes", None), str):
            body["user_notes"] = rec.notes
        key = f"{rec.patient_id}|{when}"
        out.append({"header": _header_of(PAIN_INTENSITY, key, when, str(rec.patient_id), source_name), "body": body})
    return out


def sessions_to_omh(
    sessions: pd.DataFrame, *, timezone: str = "UTC", source_name: str = "rehabtrack",
) -> list[dict[str, Any]]:
    """Canonical ``sessions`` rows as exercise-session records.

    Parameters
    ----------
    sessions
        Canonical ``sessions`` table; optional extra columns ``load_kg`` and
        ``distance_m`` (e.g. from an importer's exercise table) become ``load``
        and ``distance``, ``warmup_sets`` is copied.
    timezone, source_name
        As in :func:`pain_to_omh`.

    Returns
    -------
    list of dict
        One record per row, in row order.
    """
    zone = ZoneInfo(timezone)
    out = []
    for rec, when in zip(sessions.itertuples(index=False), _when(sessions["performed_at"], zone), strict=True):
        body: dict[str, Any] = {
            "activity_name": str(rec.exercise),
            "effective_time_frame": {"date_time": when},
            "side": str(rec.side),
            "sets": int(rec.sets),
            "repetitions_per_set": int(rec.reps),
        }
        optional = (
            ("hold_duration", "hold_s", "sec", float), ("pain_during", "pain_during", "{score}", int),
            ("perceived_exertion", "rpe", "{score}", int), ("load", "load_kg", "kg", float),
            ("distance", "distance_m", "m", float),
        )
        for name, column, unit, kind in optional:
            value = getattr(rec, column, None)
            if value is not None and not pd.isna(value) and not (name in ("hold_duration",) and value == 0):
                body[name] = {"value": kind(value), "unit": unit}
        if getattr(rec, "warmup_sets", None) is not None and not pd.isna(rec.warmup_sets):
            body["warmup_sets"] = int(rec.warmup_sets)
        if isinstance(getattr(rec, "notes", None), str):
            body["user_notes"] = rec.notes
        key = f"{rec.patient_id}|{when}|{rec.exercise}|{rec.side}"
        out.append({"header": _header_of(EXERCISE_SESSION, key, when, str(rec.patient_id), source_name),
                    "body": body})
    return out


def validate_omh(records: list[dict[str, Any]], schema: dict[str, Any]) -> list[str]:
    """Check records against a schema with ``jsonschema`` (draft 2020-12).

    Returns
    -------
    list of str
        One line per problem (``"record 3, body.pain_score.value: 11 is greater than the maximum of 10"``);
        empty when every record is valid.
    """
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    problems = []
    for number, record in enumerate(records, start=1):
        for error in sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path)):
            where = ".".join(str(p) for p in error.absolute_path) or "(record)"
            problems.append(f"record {number}, {where}: {error.message}")
    return problems


def write_schemas(directory: str | Path = SCHEMA_DIR) -> list[Path]:
    """Write the schema files (JSON, 2-space indent) into ``directory``; return their paths."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, schema in schemas().items():
        path = folder / name
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":  # pragma: no cover - documentation helper
    parser = argparse.ArgumentParser(description="Write the Open mHealth-style JSON Schemas.")
    parser.add_argument("--out", default=str(SCHEMA_DIR), help="directory to write (default: schemas/)")
    for written in write_schemas(parser.parse_args().out):
        print(written)
