"""Hevy (hevyapp.com) workout exports: one row per set, to canonical ``sessions`` rows.

Header (every text field quoted)::

    "title","start_time","end_time","description","exercise_title","superset_id","exercise_notes",
    "set_index","set_type","weight_kg","reps","distance_km","duration_seconds","rpe"

The unit is in the column name: ``weight_kg`` or ``weight_lbs``,
``distance_km``, ``distance_miles`` or ``distance_meters``; dates are written
``"15 Sep 2025, 07:48"``; ``set_type`` is ``normal``, ``warmup``, ``failure``
or ``dropset``; notes carry line breaks as a literal backslash-n, turned back
into line breaks here. A session is one ``start_time`` plus ``title``. The
rules that turn sets into sessions rows are those of
:mod:`analysis.importers.workouts`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import UnreadableFileError
from analysis.importers.workouts import (
    SET_KINDS,
    SetProblems,
    WorkoutExport,
    build_set_table,
    build_workout_log,
    distance_factor,
    ingest_workout_export,
    parse_numbers,
    weight_factor,
)
from analysis.reading import read_raw
from analysis.tables import IngestResult
from analysis.validation import MALFORMED, NUMBER, RANGE, REQUIRED, VOCABULARY

__all__ = ["LABEL", "HevyExport", "sniff_hevy", "read_hevy", "ingest_hevy"]

#: How the importer is named in messages.
LABEL = "Hevy workout export"

_SIGNATURE = frozenset({"title", "start_time", "exercise_title", "set_index"})
_WEIGHT = re.compile(r"^weight_(kg|kgs|lb|lbs)$")
_DISTANCE = re.compile(r"^distance_(km|m|meters|metres|mi|miles)$")
_CANONICAL = {"start_time": "performed_at", "exercise_title": "exercise", "set_index": "sets", "reps": "reps",
              "duration_seconds": "hold_s", "rpe": "rpe", "exercise_notes": "notes"}


def _key(header: str) -> str:
    return header.strip().strip('"').lower()


def sniff_hevy(headers: Sequence[str], rows: Sequence[Sequence[str]], delimiter: str) -> bool:
    """True when the header is Hevy's (``title``, ``start_time``, ``exercise_title``, ``set_index``)."""
    return _SIGNATURE <= {_key(h) for h in headers}


class HevyExport(WorkoutExport):
    """A Hevy export as read (the fields of :class:`analysis.importers.workouts.WorkoutExport`)."""


def _text(cells: pd.Series) -> pd.Series:
    """Notes as written, with Hevy's literal backslash-n turned back into line breaks."""
    return cells.astype("string").str.replace("\\r\\n", "\n", regex=False).str.replace("\\n", "\n", regex=False)


def read_hevy(source: str | Path | bytes, *, filename: str | None = None) -> HevyExport:
    """Read a Hevy export set by set and combine the sets per exercise and session.

    Parameters
    ----------
    source
        Path or bytes of the CSV export.
    filename
        Name of an upload (for messages).

    Returns
    -------
    HevyExport
        The workout log, how the file was read and the unusable set rows.

    Raises
    ------
    UnreadableFileError
        The file cannot be read, or is not a Hevy export.
    """
    frame, info = read_raw(source, filename)
    by_key: dict[str, str] = {}
    for header in frame.columns:
        by_key.setdefault(_key(str(header)), str(header))
    if not _SIGNATURE <= by_key.keys():
        raise UnreadableFileError("this is not a Hevy export: the columns title, start_time, exercise_title and "
                                  "set_index were not found", source=info.source)
    n = len(frame)
    rows = info.row_numbers
    empty = pd.Series(np.nan, index=frame.index, dtype=object)

    def cells(key: str | None) -> pd.Series:
        return frame[by_key[key]] if key is not None and key in by_key else empty

    weight_key = next((k for k in by_key if _WEIGHT.match(k)), None)
    distance_key = next((k for k in by_key if _DISTANCE.match(k)), None)
    weight_match = _WEIGHT.match(weight_key) if weight_key else None
    distance_match = _DISTANCE.match(distance_key) if distance_key else None
    weight_unit = weight_match.group(1) if weight_match else "kg"
    distance_unit = distance_match.group(1) if distance_match else "km"
    assert weight_factor(weight_unit) is not None and distance_factor(distance_unit) is not None

    problems = SetProblems()
    for row, reason in info.bad_rows:
        problems.add(np.array([row]), "", [""], reason, MALFORMED)
    bad = np.zeros(n, dtype=bool)
    set_type = cells("set_type").astype("string").str.strip().str.lower().fillna("normal")
    set_type = set_type.mask(set_type.eq(""), "normal")
    wrong = ~set_type.isin(SET_KINDS).to_numpy()
    problems.add_mask(wrong, rows, "sets", cells("set_type"),
                      "set_type must be normal, warmup, failure or dropset; got {value!r}", VOCABULARY)
    bad |= wrong
    for name, column, what in (("start_time", "performed_at", "date"), ("exercise_title", "exercise", "exercise")):
        blank = cells(name).astype("string").str.strip().fillna("").eq("").to_numpy()
        problems.add_mask(blank & ~bad, rows, column, cells(name), f"{what} is missing; every row needs one",
                          REQUIRED)
        bad |= blank
    numbers: dict[str, np.ndarray] = {}
    for key, column, what in (("reps", "reps", "repetitions"), (weight_key, "", "weight"),
                              (distance_key, "", "distance"), ("duration_seconds", "hold_s", "duration"),
                              ("rpe", "rpe", "RPE")):
        values, not_number = parse_numbers(cells(key))
        negative = np.nan_to_num(values) < 0
        problems.add_mask((not_number | negative) & ~bad, rows, column, cells(key),
                          f"{what} ({by_key.get(key or '', key)}) must be a number of 0 or more; got {{value!r}}",
                          np.where(not_number, NUMBER, RANGE))
        bad |= not_number | negative
        numbers[what] = np.where(not_number | negative, np.nan, values)
    # length of the workout (set table only); another date style leaves it unknown rather than guessed
    start = pd.to_datetime(cells("start_time"), format="%d %b %Y, %H:%M", errors="coerce")
    end = pd.to_datetime(cells("end_time"), format="%d %b %Y, %H:%M", errors="coerce")
    duration = (end - start).dt.total_seconds().to_numpy(dtype=float)

    keep = ~bad
    sets = build_set_table(
        rows=rows[keep],
        started=cells("start_time")[keep],
        workout=cells("title")[keep],
        exercise=cells("exercise_title")[keep],
        set_kind=set_type[keep].to_numpy(dtype=object),
        reps=numbers["repetitions"][keep],
        weight=numbers["weight"][keep],
        weight_unit=weight_unit,
        distance=numbers["distance"][keep],
        distance_unit=distance_unit,
        seconds=numbers["duration"][keep],
        rpe=numbers["RPE"][keep],
        notes=_text(cells("exercise_notes"))[keep],
        workout_notes=_text(cells("description"))[keep],
        workout_duration_s=duration[keep],
    )
    mapping = {by_key[k]: c for k, c in _CANONICAL.items() if k in by_key}
    mapping = {str(h): mapping[str(h)] for h in frame.columns if str(h) in mapping}
    return HevyExport(build_workout_log("hevy", sets), info, mapping, problems, [])


def ingest_hevy(
    source: str | Path | bytes,
    *,
    filename: str | None = None,
    table: str | None = None,
    patient_id: str | None = None,
    dayfirst: bool = True,
    today: date | None = None,
    timezone: str | None = None,
) -> IngestResult:
    """Read a Hevy export into the canonical ``sessions`` table.

    Parameters
    ----------
    source, filename, table, patient_id, dayfirst, today, timezone
        As in :func:`analysis.ingest.ingest_file`; ``patient_id`` is required.

    Returns
    -------
    IngestResult
        ``format="hevy"``; see :func:`analysis.importers.workouts.workout_ingest_result`.
    """
    return ingest_workout_export(read_hevy(source, filename=filename), importer="hevy", label=LABEL,
                                 patient_id=patient_id, dayfirst=dayfirst, today=today, timezone=timezone)
