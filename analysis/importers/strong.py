"""Strong (strong.app) workout exports: one row per set, to canonical ``sessions`` rows.

Three layouts are recognised, by their column names or, when the names are
translated, by the position of the columns and what the first rows hold:

``ios``
    ``Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,Workout Notes,RPE``:
    commas, no unit anywhere (the app's unit setting; read as kg and km unless
    the caller says otherwise, and a warning says so), ``Duration`` like
    ``"2h 38m"``.
``ios-2024``
    ``Workout #,Date,Workout Name,Duration (sec),Exercise Name,Set Order,Weight (kg),Reps,RPE,``
    ``Distance (meters),Seconds,Notes,Workout Notes``: units in the column names; ``Rest Timer`` rows are not sets.
``android``
    ``Date;Workout Name;Exercise Name;Set Order;Weight;Weight Unit;Reps;RPE;Distance;Distance Unit;``
    ``Seconds;Notes;Workout Notes;Workout Duration``: semicolons, a unit column per row
    (``kg``/``lbs``, ``km``/``mi.``), decimal commas possible, headers translated into the
    phone's language.

In every layout ``0`` means "not applicable" (no weight, no distance, no
time); ``Set Order`` is the set number, or ``W`` (warm-up), ``D`` (drop set),
``F`` (failure); a session is one ``Date`` plus ``Workout Name``. The rules
that turn sets into sessions rows are those of :mod:`analysis.importers.workouts`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.headers import fold_header, header_unit
from analysis.importers.workouts import (
    SetProblems,
    WorkoutLog,
    build_set_table,
    build_workout_log,
    canonical_distance_unit,
    canonical_weight_unit,
    distance_factor,
    map_distinct,
    parse_duration,
    parse_numbers,
    weight_factor,
    workout_ingest_result,
)
from analysis.reading import RawInfo, read_raw
from analysis.tables import IngestResult
from analysis.validation import MALFORMED, NUMBER, RANGE, REQUIRED, VOCABULARY

__all__ = ["LABEL", "LAYOUTS", "StrongExport", "sniff_strong", "read_strong", "ingest_strong"]

#: How the importer is named in messages.
LABEL = "Strong workout export"

#: Column roles of each layout, in the order the app writes them.
LAYOUTS: dict[str, tuple[str, ...]] = {
    "ios": ("date", "workout", "duration", "exercise", "set_order", "weight", "reps", "distance", "seconds",
            "notes", "workout_notes", "rpe"),
    "ios-2024": ("workout_number", "date", "workout", "duration", "exercise", "set_order", "weight", "reps", "rpe",
                 "distance", "seconds", "notes", "workout_notes"),
    "android": ("date", "workout", "exercise", "set_order", "weight", "weight_unit", "reps", "rpe", "distance",
                "distance_unit", "seconds", "notes", "workout_notes", "duration"),
}

# Folded English headers -> role.
_ROLES: dict[str, str] = {
    "date": "date", "workout name": "workout", "duration": "duration", "workout duration": "duration",
    "exercise name": "exercise", "set order": "set_order", "weight": "weight", "weight unit": "weight_unit",
    "reps": "reps", "distance": "distance", "distance unit": "distance_unit", "seconds": "seconds",
    "notes": "notes", "workout notes": "workout_notes", "rpe": "rpe", "workout": "workout_number",
}
_SIGNATURE = frozenset({"date", "workout name", "exercise name", "set order"})
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(:\d{2})?$")
_SET_ORDER = re.compile(r"^(\d+|[WDF]|rest timer)$", re.IGNORECASE)
_CANONICAL = {"date": "performed_at", "exercise": "exercise", "set_order": "sets", "reps": "reps",
              "seconds": "hold_s", "rpe": "rpe", "notes": "notes"}


def _english_roles(headers: Sequence[str]) -> dict[str, str] | None:
    folded = [fold_header(h) for h in headers]
    if not _SIGNATURE <= set(folded):
        return None
    roles: dict[str, str] = {}
    for header, name in zip(headers, folded, strict=True):
        role = _ROLES.get(name)
        if role is not None and role not in roles:
            roles[role] = header
    return roles


def _positional_layout(headers: Sequence[str], rows: Sequence[Sequence[str]], delimiter: str) -> str | None:
    """The layout whose fixed column order the first data rows fit (for translated headers)."""
    data = [r for r in rows if any(c.strip() for c in r)][:20]
    if not data:
        return None
    for name, roles in LAYOUTS.items():
        if len(headers) != len(roles) or (name == "android") != (delimiter == ";"):
            continue
        at = {role: i for i, role in enumerate(roles)}
        fits = all(
            len(r) == len(roles)
            and _ISO_DATETIME.match(r[at["date"]].strip())
            and _SET_ORDER.match(r[at["set_order"]].strip())
            and (name != "android" or weight_factor(r[at["weight_unit"]]) is not None
                 or not r[at["weight_unit"]].strip())
            for r in data
        )
        if fits:
            return name
    return None


def sniff_strong(headers: Sequence[str], rows: Sequence[Sequence[str]], delimiter: str) -> bool:
    """True when the header (or, for translated headers, the column layout) is Strong's."""
    return _english_roles(headers) is not None or _positional_layout(headers, rows, delimiter) is not None


@dataclass(frozen=True)
class StrongExport:
    """A Strong export as read: the workout log and how the file was read.

    Attributes
    ----------
    log
        Sets and exercise rows (see :class:`analysis.importers.workouts.WorkoutLog`).
    info
        How the file was read (encoding, delimiter, row numbers).
    layout
        ``"ios"``, ``"ios-2024"`` or ``"android"``.
    header_mapping
        File header -> canonical ``sessions`` column it fed.
    problems
        Set rows that could not be used.
    notes
        Warnings about how the file was read (assumed units, translated headers, rest timers).
    """

    log: WorkoutLog
    info: RawInfo
    layout: str
    header_mapping: dict[str, str]
    problems: SetProblems
    notes: list[str]


def read_strong(
    source: str | Path | bytes,
    *,
    filename: str | None = None,
    weight_unit: str | None = None,
    distance_unit: str | None = None,
) -> StrongExport:
    """Read a Strong export set by set and combine the sets per exercise and session.

    Parameters
    ----------
    source
        Path or bytes of the CSV export.
    filename
        Name of an upload (for messages).
    weight_unit, distance_unit
        Units of a layout that does not write them (the iOS export): ``"kg"``
        or ``"lbs"``; ``"km"``, ``"mi"`` or ``"m"``. Default kg and km, with a
        warning when the file has weights or distances.

    Returns
    -------
    StrongExport
        The workout log, how the file was read and the unusable set rows.

    Raises
    ------
    UnreadableFileError
        The file cannot be read, or is not a Strong export.
    """
    from analysis.errors import UnreadableFileError

    frame, info = read_raw(source, filename)
    headers = [str(c) for c in frame.columns]
    notes: list[str] = []
    roles = _english_roles(headers)
    layout = "android" if roles is not None and "weight_unit" in roles else (
        "ios-2024" if roles is not None and "workout_number" in roles else "ios")
    if roles is None:
        sample = frame.head(20).fillna("").astype(str).to_numpy().tolist()
        found = _positional_layout(headers, sample, info.delimiter)
        if found is None:
            raise UnreadableFileError("this is not a Strong export: the columns Date, Workout Name, Exercise Name "
                                      "and Set Order were not found", source=info.source)
        layout = found
        roles = dict(zip(LAYOUTS[found], headers, strict=True))
        english = [r.replace("_", " ") for r in LAYOUTS[found]]
        notes.append(f"the column names are not Strong's English ones ({', '.join(repr(h) for h in headers[:4])}, "
                     f"...); the columns were read by their place in Strong's {found} export: "
                     f"{', '.join(english)}")

    n = len(frame)
    rows = info.row_numbers
    problems = SetProblems()
    for row, reason in info.bad_rows:
        problems.add(np.array([row]), "", [""], reason, MALFORMED)

    def cells(role: str) -> pd.Series:
        header = roles.get(role)
        return frame[header] if header is not None else pd.Series(np.nan, index=frame.index, dtype=object)

    decimal_comma = info.delimiter in (";", "\t", "|")
    order = cells("set_order").astype("string").str.strip().fillna("")
    rest = order.str.lower().eq("rest timer").to_numpy()
    upper = order.str.upper()
    kind = np.select([order.str.fullmatch(r"\d+").to_numpy(dtype=bool), upper.eq("W").to_numpy(dtype=bool),
                      upper.eq("D").to_numpy(dtype=bool), upper.eq("F").to_numpy(dtype=bool),
                      order.eq("").to_numpy(dtype=bool)],
                     ["normal", "warmup", "dropset", "failure", "normal"], default="")
    bad = np.zeros(n, dtype=bool)
    bad_kind = (kind == "") & ~rest
    problems.add_mask(bad_kind, rows, "sets", order,
                      "set order must be a set number, W (warm-up), D (drop set) or F (failure); got {value!r}",
                      VOCABULARY)
    bad |= bad_kind
    for role, column, what in (("date", "performed_at", "date"), ("exercise", "exercise", "exercise")):
        blank = cells(role).astype("string").str.strip().fillna("").eq("").to_numpy() & ~rest
        problems.add_mask(blank & ~bad, rows, column, cells(role), f"{what} is missing; every row needs one",
                          REQUIRED)
        bad |= blank

    numbers: dict[str, np.ndarray] = {}
    for role, column, what in (("reps", "reps", "repetitions"), ("weight", "", "weight"),
                               ("distance", "", "distance"), ("seconds", "hold_s", "seconds"),
                               ("rpe", "rpe", "RPE")):
        values, not_number = parse_numbers(cells(role), decimal_comma=decimal_comma)
        negative = np.nan_to_num(values) < 0
        wrong = (not_number | negative) & ~rest & ~bad
        problems.add_mask(wrong, rows, column, cells(role),
                          f"{what} ({roles.get(role, role)}) must be a number of 0 or more; got {{value!r}}",
                          np.where(not_number, NUMBER, RANGE))
        bad |= wrong
        numbers[role] = np.where(not_number | negative, np.nan, values)

    weight_units, note = _units(cells("weight_unit"), roles.get("weight"), weight_unit, "kg", weight_factor,
                                numbers["weight"], "weight", layout)
    notes.extend(note)
    distance_units, note = _units(cells("distance_unit"), roles.get("distance"), distance_unit, "km",
                                  distance_factor, numbers["distance"], "distance", layout)
    notes.extend(note)
    for units, role, what, allowed in ((weight_units, "weight", "weight unit", "kg or lbs"),
                                       (distance_units, "distance", "distance unit", "km, mi or m")):
        converter = canonical_weight_unit if role == "weight" else canonical_distance_unit
        unknown = map_distinct(units.to_numpy(dtype=object), converter).eq("").to_numpy()
        unknown &= (np.nan_to_num(numbers[role]) > 0) & ~rest & ~bad
        problems.add_mask(unknown, rows, "", units, f"{what} must be {allowed}; got {{value!r}}", VOCABULARY)
        bad |= unknown

    duration, _ = parse_duration(cells("duration"))  # "2h 38m", "62m" or seconds ("Duration (sec)")
    if rest.any():
        notes.append(f"{int(rest.sum())} 'Rest Timer' row{'s are' if rest.sum() != 1 else ' is'} a pause, "
                     "not a set, and " + ("were" if rest.sum() != 1 else "was") + " not counted")
    keep = ~bad & ~rest
    sets = build_set_table(
        rows=rows[keep],
        started=cells("date")[keep],
        workout=cells("workout")[keep],
        exercise=cells("exercise")[keep],
        set_kind=kind[keep],
        reps=numbers["reps"][keep],
        weight=numbers["weight"][keep],
        weight_unit=weight_units[keep].to_numpy(dtype=object),
        distance=numbers["distance"][keep],
        distance_unit=distance_units[keep].to_numpy(dtype=object),
        seconds=numbers["seconds"][keep],
        rpe=numbers["rpe"][keep],
        notes=cells("notes")[keep],
        workout_notes=cells("workout_notes")[keep],
        workout_duration_s=duration[keep],
    )
    mapping = {roles[r]: c for r, c in _CANONICAL.items() if r in roles}
    mapping = {h: mapping[h] for h in headers if h in mapping}
    return StrongExport(build_workout_log("strong", sets), info, layout, mapping, problems, notes)


def _units(
    unit_cells: pd.Series, value_header: str | None, given: str | None, default: str,
    factor: Callable[[object], float | None], values: np.ndarray, what: str, layout: str,
) -> tuple[pd.Series, list[str]]:
    """Unit of each row: the unit column, else the unit in the value's header, else the caller's or default."""
    if unit_cells.notna().any():
        return unit_cells.astype("string").str.strip().fillna(""), []
    in_header = header_unit(value_header) if value_header else ""
    if in_header and factor(in_header) is not None:
        return pd.Series(in_header, index=unit_cells.index, dtype="string"), []
    unit = given or default
    if factor(unit) is None:
        from analysis.errors import UnreadableFileError

        raise UnreadableFileError(f"unknown {what} unit {unit!r}")
    notes = []
    if given is None and np.any(np.nan_to_num(values) > 0):
        other = "lbs" if what == "weight" else "miles"
        notes.append(f"this Strong {layout} export does not say the {what} unit: {what}s were read as {default}; "
                     f"if the app is set to {other}, the {what}s in the set table are wrong (the sessions table "
                     f"does not use them)")
    return pd.Series(unit, index=unit_cells.index, dtype="string"), notes


def ingest_strong(
    source: str | Path | bytes,
    *,
    filename: str | None = None,
    table: str | None = None,
    patient_id: str | None = None,
    dayfirst: bool = True,
    today: date | None = None,
    timezone: str | None = None,
) -> IngestResult:
    """Read a Strong export into the canonical ``sessions`` table.

    Parameters
    ----------
    source, filename, table, patient_id, dayfirst, today, timezone
        As in :func:`analysis.ingest.ingest_file`; ``table`` may only be
        ``None`` or ``"sessions"``, and ``patient_id`` is required (an export
        does not say whose it is).

    Returns
    -------
    IngestResult
        ``format="strong"``; see
        :func:`analysis.importers.workouts.workout_ingest_result`.
    """
    export = read_strong(source, filename=filename)
    return workout_ingest_result(
        export.log, importer="strong", label=f"{LABEL} ({export.layout})", info=export.info,
        header_mapping=export.header_mapping, problems=export.problems, notes=export.notes,
        patient_id=patient_id, dayfirst=dayfirst, today=today, timezone=timezone,
    )
