"""FitNotes (Android) workout exports: one row per set, to canonical ``sessions`` rows.

Header::

    Date,Exercise,Category,Weight (kgs),Reps,Distance,Distance Unit,Time,Comment

The weight unit is in the column name (``Weight (kgs)`` / ``Weight (lbs)``) or,
in some versions, in a ``Weight Unit`` column; ``Distance Unit`` is written on
each row (``m``, ``km``, ``mi``...); ``Time`` is a clock duration (``0:01:30``);
dates are ISO dates without a time. FitNotes has no workout name and no
set types, so a session is one date and every set is a working set. The rules
that turn sets into sessions rows are those of :mod:`analysis.importers.workouts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import UnreadableFileError
from analysis.headers import fold_header, header_unit
from analysis.importers.workouts import (
    SetProblems,
    WorkoutExport,
    build_set_table,
    build_workout_log,
    canonical_distance_unit,
    canonical_weight_unit,
    ingest_workout_export,
    map_distinct,
    parse_duration,
    parse_numbers,
)
from analysis.reading import read_raw
from analysis.tables import IngestResult
from analysis.validation import MALFORMED, NUMBER, RANGE, REQUIRED, VOCABULARY

__all__ = ["LABEL", "FitNotesExport", "sniff_fitnotes", "read_fitnotes", "ingest_fitnotes"]

#: How the importer is named in messages.
LABEL = "FitNotes workout export"

_SIGNATURE = frozenset({"date", "exercise", "category", "reps"})
_ROLES = {"date": "date", "exercise": "exercise", "category": "category", "weight": "weight",
          "weight unit": "weight_unit", "reps": "reps", "distance": "distance", "distance unit": "distance_unit",
          "time": "time", "comment": "notes", "notes": "notes"}
_CANONICAL = {"date": "performed_at", "exercise": "exercise", "reps": "reps", "time": "hold_s", "notes": "notes"}


def _roles(headers: Sequence[str]) -> dict[str, str] | None:
    folded = [fold_header(h) for h in headers]
    if not _SIGNATURE <= set(folded) or "weight" not in folded:
        return None
    roles: dict[str, str] = {}
    for header, name in zip(headers, folded, strict=True):
        role = _ROLES.get(name)
        if role is not None and role not in roles:
            roles[role] = header
    return roles


def sniff_fitnotes(headers: Sequence[str], rows: Sequence[Sequence[str]], delimiter: str) -> bool:
    """True when the header is FitNotes' (``Date``, ``Exercise``, ``Category``, ``Weight...``, ``Reps``)."""
    return _roles(headers) is not None


class FitNotesExport(WorkoutExport):
    """A FitNotes export as read (the fields of :class:`analysis.importers.workouts.WorkoutExport`).

    FitNotes has no workout name (``log`` has an empty ``workout``) and its
    ``Category`` is not kept.
    """


def read_fitnotes(
    source: str | Path | bytes, *, filename: str | None = None, weight_unit: str | None = None,
) -> FitNotesExport:
    """Read a FitNotes export set by set and combine the sets per exercise and day.

    Parameters
    ----------
    source
        Path or bytes of the CSV export.
    filename
        Name of an upload (for messages).
    weight_unit
        Unit of a ``Weight`` column that does not name one (default kg, with a warning).

    Returns
    -------
    FitNotesExport
        The workout log, how the file was read and the unusable set rows.

    Raises
    ------
    UnreadableFileError
        The file cannot be read, or is not a FitNotes export.
    """
    frame, info = read_raw(source, filename)
    headers = [str(c) for c in frame.columns]
    roles = _roles(headers)
    if roles is None:
        raise UnreadableFileError("this is not a FitNotes export: the columns Date, Exercise, Category, Weight and "
                                  "Reps were not found", source=info.source)
    n = len(frame)
    rows = info.row_numbers
    empty = pd.Series(np.nan, index=frame.index, dtype=object)
    notes: list[str] = []

    def cells(role: str) -> pd.Series:
        return frame[roles[role]] if role in roles else empty

    problems = SetProblems()
    for row, reason in info.bad_rows:
        problems.add(np.array([row]), "", [""], reason, MALFORMED)
    bad = np.zeros(n, dtype=bool)
    for role, column, what in (("date", "performed_at", "date"), ("exercise", "exercise", "exercise")):
        blank = cells(role).astype("string").str.strip().fillna("").eq("").to_numpy()
        problems.add_mask(blank & ~bad, rows, column, cells(role), f"{what} is missing; every row needs one",
                          REQUIRED)
        bad |= blank
    decimal_comma = info.delimiter in (";", "\t", "|")
    numbers: dict[str, np.ndarray] = {}
    for role, column, what in (("reps", "reps", "repetitions"), ("weight", "", "weight"),
                               ("distance", "", "distance")):
        values, not_number = parse_numbers(cells(role), decimal_comma=decimal_comma)
        negative = np.nan_to_num(values) < 0
        problems.add_mask((not_number | negative) & ~bad, rows, column, cells(role),
                          f"{what} ({roles.get(role, role)}) must be a number of 0 or more; got {{value!r}}",
                          np.where(not_number, NUMBER, RANGE))
        bad |= not_number | negative
        numbers[role] = np.where(not_number | negative, np.nan, values)
    seconds, not_time = parse_duration(cells("time"))
    problems.add_mask(not_time & ~bad, rows, "hold_s", cells("time"),
                      f"time ({roles.get('time', 'Time')}) must be a duration like 0:01:30; got {{value!r}}", NUMBER)
    bad |= not_time

    if "weight_unit" in roles:
        w_units = cells("weight_unit").astype("string").str.strip().fillna("")
    else:
        unit = header_unit(roles["weight"]) or weight_unit or "kg"
        if not header_unit(roles["weight"]) and weight_unit is None and np.any(np.nan_to_num(numbers["weight"]) > 0):
            notes.append(f"the column {roles['weight']!r} does not say the unit: weights were read as kg")
        w_units = pd.Series(unit, index=frame.index, dtype="string")
    d_units = cells("distance_unit").astype("string").str.strip().fillna("")
    for units, role, what, allowed, converter in (
            (w_units, "weight", "weight unit", "kgs or lbs", canonical_weight_unit),
            (d_units, "distance", "distance unit", "m, km, mi, yd or ft", canonical_distance_unit)):
        unknown = map_distinct(units.to_numpy(dtype=object), converter).eq("").to_numpy()
        unknown &= (np.nan_to_num(numbers[role]) > 0) & ~bad
        problems.add_mask(unknown, rows, "", units, f"{what} must be {allowed}; got {{value!r}}", VOCABULARY)
        bad |= unknown

    keep = ~bad
    sets = build_set_table(
        rows=rows[keep],
        started=cells("date")[keep],
        workout=None,
        exercise=cells("exercise")[keep],
        set_kind=np.full(int(keep.sum()), "normal", dtype=object),
        reps=numbers["reps"][keep],
        weight=numbers["weight"][keep],
        weight_unit=w_units[keep].to_numpy(dtype=object),
        distance=numbers["distance"][keep],
        distance_unit=d_units[keep].to_numpy(dtype=object),
        seconds=seconds[keep],
        rpe=np.full(int(keep.sum()), np.nan),
        notes=cells("notes")[keep],
    )
    mapping = {roles[r]: c for r, c in _CANONICAL.items() if r in roles}
    mapping = {h: mapping[h] for h in headers if h in mapping}
    return FitNotesExport(build_workout_log("fitnotes", sets), info, mapping, problems, notes)


def ingest_fitnotes(
    source: str | Path | bytes,
    *,
    filename: str | None = None,
    table: str | None = None,
    patient_id: str | None = None,
    dayfirst: bool = True,
    today: date | None = None,
    timezone: str | None = None,
) -> IngestResult:
    """Read a FitNotes export into the canonical ``sessions`` table.

    Parameters
    ----------
    source, filename, table, patient_id, dayfirst, today, timezone
        As in :func:`analysis.ingest.ingest_file`; ``patient_id`` is required.

    Returns
    -------
    IngestResult
        ``format="fitnotes"``; see :func:`analysis.importers.workouts.workout_ingest_result`.
    """
    return ingest_workout_export(read_fitnotes(source, filename=filename), importer="fitnotes", label=LABEL,
                                 patient_id=patient_id, dayfirst=dayfirst, today=today, timezone=timezone)
