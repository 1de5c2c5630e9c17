"""Gym-app workout logs (Strong, Hevy, FitNotes): one row per set, combined into ``sessions`` rows.

Every gym-app importer reads its file into the same *set table* (one row per
set, units converted once) and hands it to :func:`build_workout_log`, which
combines the sets of one exercise in one session into one canonical
``sessions`` row. :func:`workout_ingest_result` then validates those rows with
the project's generic ingestion (:func:`analysis.tables.ingest_frame`), so the
ranges, vocabularies, date rules and duplicate handling are the ones of
:mod:`analysis.schema` and nowhere else.

Rules (the same for every app)
------------------------------
* **Session**: one start date-time plus workout name (Strong, Hevy), or one
  date (FitNotes, which has no workout name). ``performed_at`` is the session
  start as written by the app.
* **Warm-up sets** (Strong ``W``, Hevy ``warmup``) are *marked, not counted*:
  they are left out of ``sets`` and ``reps``, the row's notes say
  ``[2 warm-up sets not counted]`` and a warning gives the totals. An exercise
  done only as warm-up keeps its row with ``sets`` 0 and ``reps`` 0.
* **Sets and repetitions**: ``sets`` is the number of working sets (normal,
  failure and drop sets); ``reps`` is repetitions *per set* (the canonical
  meaning, so that ``sets x reps`` is the dose of
  :func:`analysis.adherence.session_dose`): the working sets' total divided by
  their number, rounded half up. When the sets differ, the notes list them
  (``[reps per set 10, 9, 8]``) and the exact total stays in
  :attr:`WorkoutLog.exercises`.
* **Bodyweight sets** (no weight, or 0 meaning "not applicable") keep their
  repetitions: never zero volume.
* **Time-only sets** (no repetitions, a duration; e.g. a 60 s plank) count as
  one repetition held for the duration: ``reps`` 1 and ``hold_s`` the mean
  duration, so ``sets x reps x hold_s`` is the total time. A timed set longer
  than the 600 s a hold may last (cardio) keeps ``reps`` 1, leaves ``hold_s``
  empty and says its duration in the notes. Distance-only sets count as one
  repetition too.
* **Empty sets** (no repetitions, duration or distance) are not sets: they are
  left out and counted in a warning.
* **Units**: weights and distances are carried with the unit the app wrote
  (column name, unit column, or the caller's assumption) in
  :attr:`WorkoutLog.sets` and converted once, to kilograms
  (1 lb = 0.45359237 kg, exact by definition) and metres (1 mi = 1609.344 m,
  1 km = 1000 m, 1 yd = 0.9144 m, 1 ft = 0.3048 m). The canonical ``sessions``
  table has no weight or distance column, so they live in the set and exercise
  tables only; :attr:`WorkoutLog.exercises` has the load volume
  (``sum(weight_kg x reps)``), the bodyweight repetitions and the total time
  and distance per exercise.
* **Effort**: the apps' RPE (the 6-10 reps-in-reserve scale, half points
  allowed) is stored in ``rpe`` (0-10) as the highest RPE of the working sets,
  rounded half up; a warning says how many were rounded.
* Exercise names are kept as the app wrote them; names outside the exercise
  vocabulary are reported by the generic ingestion.
* **Notes**: the set or exercise notes as written, then the workout's own
  notes (Strong ``Workout Notes``, Hevy ``description``) as
  ``| Workout notes: ...`` on every exercise row of that session, then what
  the importer did, in brackets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

import numpy as np
import pandas as pd

from analysis.errors import IngestError, MissingColumnsError, UnreadableFileError
from analysis.reading import RawInfo
from analysis.schema import SESSIONS, empty_frame
from analysis.tables import IngestResult, empty_row_info, ingest_frame
from analysis.validation import REJECTED_COLUMNS, empty_rejected

__all__ = [
    "SET_COLUMNS",
    "EXERCISE_COLUMNS",
    "SET_KINDS",
    "KG_PER_LB",
    "M_PER_MILE",
    "MAX_HOLD_S",
    "WorkoutLog",
    "SetProblems",
    "map_distinct",
    "parse_numbers",
    "parse_duration",
    "weight_factor",
    "distance_factor",
    "build_workout_log",
    "workout_ingest_result",
    "WorkoutExport",
    "ingest_workout_export",
    "build_set_table",
    "PatientNeededError",
]

#: Kilograms per pound (international avoirdupois pound, exact by definition since 1959).
KG_PER_LB: float = 0.45359237
#: Metres per international mile (exact by definition).
M_PER_MILE: float = 1609.344
#: Longest hold the ``sessions`` table accepts (``hold_s`` maximum in :mod:`analysis.schema`).
MAX_HOLD_S: float = float(SESSIONS.column("hold_s").max or 600)

#: Kinds of set, in the words Hevy uses (Strong: number, ``W``, ``D``, ``F``).
SET_KINDS: tuple[str, ...] = ("normal", "warmup", "dropset", "failure")

#: Columns of :attr:`WorkoutLog.sets` and their dtypes.
SET_COLUMNS: dict[str, str] = {
    "row": "int64",
    "session": "int64",
    "started": "string",
    "workout": "string",
    "exercise": "string",
    "set_kind": "string",
    "reps": "float64",
    "weight": "float64",
    "weight_unit": "string",
    "weight_kg": "float64",
    "distance": "float64",
    "distance_unit": "string",
    "distance_m": "float64",
    "seconds": "float64",
    "rpe": "float64",
    "notes": "string",
    "workout_notes": "string",
    "workout_duration_s": "float64",
}

#: Columns of :attr:`WorkoutLog.exercises` and their dtypes.
EXERCISE_COLUMNS: dict[str, str] = {
    "row": "int64",
    "session": "int64",
    "performed_at": "string",
    "workout": "string",
    "exercise": "string",
    "sets": "int64",
    "reps": "int64",
    "hold_s": "float64",
    "rpe": "Int64",
    "notes": "string",
    "total_reps": "float64",
    "warmup_sets": "int64",
    "dropsets": "int64",
    "failure_sets": "int64",
    "bodyweight_reps": "float64",
    "load_volume_kg": "float64",
    "top_weight_kg": "float64",
    "time_s": "float64",
    "distance_m": "float64",
}

_WEIGHT_UNITS = {
    **dict.fromkeys(("kg", "kgs", "kilo", "kilos", "kilogram", "kilograms"), 1.0),
    **dict.fromkeys(("lb", "lbs", "pound", "pounds"), KG_PER_LB),
}
_DISTANCE_UNITS = {
    **dict.fromkeys(("m", "meter", "meters", "metre", "metres"), 1.0),
    **dict.fromkeys(("km", "kms", "kilometer", "kilometers", "kilometre", "kilometres"), 1000.0),
    **dict.fromkeys(("mi", "mile", "miles"), M_PER_MILE),
    **dict.fromkeys(("yd", "yds", "yard", "yards"), 0.9144),
    **dict.fromkeys(("ft", "feet", "foot"), 0.3048),
}
_NA = frozenset({"", "na", "n/a", "nan", "none", "null", "-"})


def _unit_key(unit: object) -> str:
    return re.sub(r"[^a-z]", "", str(unit).strip().lower())


def weight_factor(unit: object) -> float | None:
    """Kilograms per unit of weight (``"kg"`` 1, ``"lbs"`` 0.45359237); ``None`` if unknown."""
    return _WEIGHT_UNITS.get(_unit_key(unit))


def distance_factor(unit: object) -> float | None:
    """Metres per unit of distance (``"km"`` 1000, ``"mi."`` 1609.344, ``"m"`` 1); ``None`` if unknown."""
    return _DISTANCE_UNITS.get(_unit_key(unit))


def canonical_weight_unit(unit: object) -> str:
    """``"kg"`` or ``"lb"`` for a written weight unit; ``""`` if unknown."""
    factor = weight_factor(unit)
    return "" if factor is None else ("kg" if factor == 1.0 else "lb")


def canonical_distance_unit(unit: object) -> str:
    """``"m"``, ``"km"``, ``"mi"``, ``"yd"`` or ``"ft"`` for a written distance unit; ``""`` if unknown."""
    factor = distance_factor(unit)
    names = {1.0: "m", 1000.0: "km", M_PER_MILE: "mi", 0.9144: "yd", 0.3048: "ft"}
    return "" if factor is None else names[factor]


def map_distinct(values: object, func: Callable[[object], str]) -> pd.Series:
    """``func`` applied to each distinct value only (a log repeats the same few units), as a string Series."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object).fillna(""), sort=False)
    mapped = np.array([func(u) for u in uniques] + [""], dtype=object)
    return pd.Series(mapped[codes], dtype="string")


def parse_numbers(cells: pd.Series, *, decimal_comma: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Numbers from text cells.

    Parameters
    ----------
    cells
        Cells as text (missing = ``NaN`` or ``None``).
    decimal_comma
        Read ``2,5`` as 2.5 (semicolon-separated files).

    Returns
    -------
    values : numpy.ndarray of float
        The number, ``NaN`` where empty or not a number.
    bad : numpy.ndarray of bool
        Cells that hold something that is not a number.
    """
    text = cells.astype("string").str.strip()
    blank = text.isna() | text.str.lower().isin(_NA)
    if decimal_comma:
        text = text.str.replace(r"^([+-]?\d*),(\d+)$", r"\1.\2", regex=True)
    values = pd.to_numeric(text.where(~blank, cast(Any, None)), errors="coerce").astype("float64").to_numpy()
    bad = ~blank.to_numpy(dtype=bool) & ~np.isfinite(values)
    return values, bad


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(h|hr|hrs|hours?|m|min|mins|minutes?|s|sec|secs|seconds?)\b")


def parse_duration(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Durations in seconds from ``"2h 38m"``, ``"45m"``, ``"1:02:30"``, ``"12:30"`` or ``"3600"``.

    Parameters
    ----------
    cells
        Cells as text.

    Returns
    -------
    seconds : numpy.ndarray of float
        Duration in seconds (``NaN`` where empty or unreadable).
    bad : numpy.ndarray of bool
        Cells that hold something that is not a duration.

    Examples
    --------
    >>> parse_duration(pd.Series(["2h 38m", "0:01:30", "45", None]))[0].tolist()
    [9480.0, 90.0, 45.0, nan]
    """
    text = cells.astype("string").str.strip().str.lower()
    blank = text.isna() | text.isin(_NA)
    uniques = pd.unique(text[~blank].to_numpy(dtype=object))
    lookup: dict[str, float] = {}
    for value in uniques:  # distinct values only: a log repeats the same few durations
        lookup[value] = _one_duration(value)
    seconds = text.map(lookup).astype("float64").to_numpy()
    bad = ~blank.to_numpy(dtype=bool) & ~np.isfinite(seconds)
    return seconds, bad


def _one_duration(value: str) -> float:
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return float(value)
    clock = re.fullmatch(r"(?:(\d+):)?(\d{1,2}):(\d{2}(?:\.\d+)?)", value)
    if clock:
        hours, minutes, secs = clock.groups()
        return float(hours or 0) * 3600 + float(minutes) * 60 + float(secs)
    parts = _DURATION_PART.findall(value)
    if not parts or _DURATION_PART.sub("", value).strip():
        return float("nan")
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0}
    return float(sum(float(n) * scale[u[0]] for n, u in parts))


@dataclass
class SetProblems:
    """Set rows an importer could not use: row number, canonical column (or ``""``), rule, value, reason."""

    rows: list[np.ndarray] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    checks: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    reasons: list[np.ndarray] = field(default_factory=list)

    def add(self, rows: np.ndarray, column: str, values: Iterable[object], reasons: Iterable[str] | str,
            check: Iterable[str] | str) -> None:
        """Record a problem for each of ``rows`` (``check``: the rule, see :data:`analysis.validation.ROW_CHECKS`)."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return
        vals = np.array(["" if _missing(v) else str(v) for v in values], dtype=object)
        why = np.full(rows.size, reasons, dtype=object) if isinstance(reasons, str) else np.array(
            list(reasons), dtype=object)
        rule = np.full(rows.size, check, dtype=object) if isinstance(check, str) else np.array(
            list(check), dtype=object)
        self.rows.append(rows)
        self.columns.append(column)
        self.checks.append(rule)
        self.values.append(vals)
        self.reasons.append(why)

    def add_mask(self, mask: np.ndarray, row_numbers: np.ndarray, column: str, cells: pd.Series,
                 reason: str, check: str | np.ndarray) -> None:
        """Record ``reason`` (``{value}`` is replaced by the cell) for the rows where ``mask`` is true.

        ``check`` is the rule that failed: one name, or one per row of ``mask``.
        """
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        values = cells.iloc[idx].astype("string").fillna("").str.strip().to_numpy(dtype=object)
        rule = check if isinstance(check, str) else np.asarray(check, dtype=object)[idx]
        self.add(row_numbers[idx], column, values, [reason.format(value=v) for v in values], rule)

    def frame(self) -> pd.DataFrame:
        """The problems as a rejected-rows table (columns of :data:`analysis.validation.REJECTED_COLUMNS`)."""
        if not self.rows:
            return empty_rejected()
        return pd.DataFrame({
            "row": np.concatenate(self.rows).astype(np.int64),
            "column": pd.array(np.concatenate([np.full(len(r), c, dtype=object)
                                               for r, c in zip(self.rows, self.columns, strict=True)]),
                               dtype="string"),
            "check": pd.array(np.concatenate(self.checks), dtype="string"),
            "value": pd.array(np.concatenate(self.values), dtype="string"),
            "reason": pd.array(np.concatenate(self.reasons), dtype="string"),
        })


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(cast(Any, value)))
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class WorkoutLog:
    """A gym app's export, read set by set and combined per exercise and session.

    Attributes
    ----------
    app
        Importer name (``"strong"``, ``"hevy"``, ``"fitnotes"``).
    sets
        One row per usable set (columns :data:`SET_COLUMNS`):

        - ``row`` (int64): row number in the file (header = 1)
        - ``session`` (int64): session number, 0 for the first session in the file
        - ``started`` (string): session start as written (date, or date and time)
        - ``workout`` (string): workout name (``<NA>`` for FitNotes)
        - ``exercise`` (string): exercise name as written
        - ``set_kind`` (string): ``normal``, ``warmup``, ``dropset`` or ``failure``
        - ``reps`` (float64, repetitions): ``NaN`` when not recorded (0 = not applicable)
        - ``weight`` (float64, in ``weight_unit``): as written; ``NaN`` = none (bodyweight)
        - ``weight_unit`` (string): ``kg`` or ``lb``
        - ``weight_kg`` (float64, kg): the weight converted once
        - ``distance`` (float64, in ``distance_unit``), ``distance_unit`` (string:
          ``m``, ``km``, ``mi``, ``yd``, ``ft``), ``distance_m`` (float64, m)
        - ``seconds`` (float64, s): duration of a timed set; ``NaN`` when not recorded
        - ``rpe`` (float64, 0-10): as written; ``NaN`` when not recorded
        - ``notes`` (string): set or exercise notes as written
        - ``workout_notes`` (string): notes of the whole workout
        - ``workout_duration_s`` (float64, s): length of the whole workout
    exercises
        One row per exercise and session (columns :data:`EXERCISE_COLUMNS`):
        ``row`` (first set's row number), ``session``, ``performed_at`` (as
        written), ``workout``, ``exercise``, the canonical ``sets``, ``reps``
        (per set), ``hold_s`` (s), ``rpe`` (Int64) and ``notes``, and
        ``total_reps`` (working repetitions, a time-only set counting 1),
        ``warmup_sets``, ``dropsets``, ``failure_sets`` (counts),
        ``bodyweight_reps`` (working repetitions without a weight),
        ``load_volume_kg`` (kg, sum of weight x reps of weighted working sets),
        ``top_weight_kg`` (kg), ``time_s`` (s, total of the working sets'
        durations) and ``distance_m`` (m).
    empty_sets
        Row numbers of sets with no repetitions, duration or distance (left out).
    n_uneven
        Exercise rows whose working sets had different repetitions.
    n_long_holds
        Exercise rows of timed sets longer than :data:`MAX_HOLD_S` (no ``hold_s``).
    n_rpe_rounded
        Exercise rows whose RPE was in half points (rounded up).
    """

    app: str
    sets: pd.DataFrame
    exercises: pd.DataFrame
    empty_sets: np.ndarray
    n_uneven: int = 0
    n_long_holds: int = 0
    n_rpe_rounded: int = 0

    @property
    def n_sessions(self) -> int:
        """Number of sessions with at least one usable set."""
        return int(self.sets["session"].nunique())


def _string(values: object, n: int) -> pd.Series:
    if values is None:
        return pd.Series(pd.NA, index=range(n), dtype="string")
    out = pd.Series(values).reset_index(drop=True).astype("string").str.strip()
    return out.mask(out.eq(""))


def build_set_table(
    *,
    rows: np.ndarray,
    started: pd.Series,
    workout: pd.Series | None,
    exercise: pd.Series,
    set_kind: pd.Series | np.ndarray,
    reps: np.ndarray,
    weight: np.ndarray,
    weight_unit: pd.Series | np.ndarray | str,
    distance: np.ndarray,
    distance_unit: pd.Series | np.ndarray | str,
    seconds: np.ndarray,
    rpe: np.ndarray,
    notes: pd.Series | None = None,
    workout_notes: pd.Series | None = None,
    workout_duration_s: np.ndarray | None = None,
) -> pd.DataFrame:
    """Assemble the set table (:data:`SET_COLUMNS`) from an importer's columns; convert units once.

    Parameters
    ----------
    rows
        Row number of each set in the file.
    started, workout, exercise
        Session start and workout name as written (together they identify a
        session), exercise name.
    set_kind
        ``normal``, ``warmup``, ``dropset`` or ``failure``.
    reps, weight, distance, seconds, rpe
        Numbers as written; 0 means "not applicable" and becomes ``NaN``.
    weight_unit, distance_unit
        Written units per set, or one unit for all (``"kg"``, ``"lbs"``,
        ``"km"``, ``"mi."``); an unknown unit is an importer error, checked before.
    notes, workout_notes, workout_duration_s
        Optional set notes, workout notes and workout length (s).

    Returns
    -------
    pandas.DataFrame
        The set table, columns :data:`SET_COLUMNS` (documented in
        :class:`WorkoutLog`); sessions numbered in file order.
    """
    n = len(rows)
    started_s = _string(started, n)
    workout_s = _string(workout, n)
    units_w = map_distinct(np.broadcast_to(np.asarray(weight_unit, dtype=object), (n,)), canonical_weight_unit)
    units_d = map_distinct(np.broadcast_to(np.asarray(distance_unit, dtype=object), (n,)), canonical_distance_unit)
    factor_w = units_w.map({"kg": 1.0, "lb": KG_PER_LB}).astype("float64").to_numpy()
    factor_d = units_d.map({"m": 1.0, "km": 1000.0, "mi": M_PER_MILE, "yd": 0.9144, "ft": 0.3048}).astype(
        "float64").to_numpy()
    weight = np.where(weight > 0, weight, np.nan)  # 0 = not applicable (bodyweight)
    distance = np.where(distance > 0, distance, np.nan)
    session, _ = pd.factorize((started_s.fillna("") + "\x1f" + workout_s.fillna("")).to_numpy(dtype=object),
                              sort=False)
    sets = pd.DataFrame({
        "row": np.asarray(rows, dtype=np.int64),
        "session": session.astype(np.int64),
        "started": started_s,
        "workout": workout_s,
        "exercise": _string(exercise, n),
        "set_kind": pd.Series(np.asarray(set_kind, dtype=object)).astype("string"),
        "reps": np.where(reps > 0, reps, np.nan),
        "weight": weight,
        "weight_unit": units_w.where(~np.isnan(weight), cast(Any, None)).astype("string"),
        "weight_kg": weight * factor_w,
        "distance": distance,
        "distance_unit": units_d.where(~np.isnan(distance), cast(Any, None)).astype("string"),
        "distance_m": distance * factor_d,
        "seconds": np.where(seconds > 0, seconds, np.nan),
        "rpe": np.where(rpe > 0, rpe, np.nan),  # 0 = not applicable in the apps' exports
        "notes": _string(notes, n),
        "workout_notes": _string(workout_notes, n),
        "workout_duration_s": (np.full(n, np.nan) if workout_duration_s is None
                               else np.where(workout_duration_s > 0, workout_duration_s, np.nan)),
    })
    return sets.astype(SET_COLUMNS)


def _round_half_up(values: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(values, dtype=float) + 0.5)


def _sets_word(n: int) -> str:
    return "set" if n == 1 else "sets"


def build_workout_log(app: str, sets: pd.DataFrame) -> WorkoutLog:
    """Combine a set table into one row per exercise and session (see the module rules).

    Parameters
    ----------
    app
        Importer name.
    sets
        The set table from :func:`build_set_table` (exercise names never empty).

    Returns
    -------
    WorkoutLog
        ``sets`` without the empty sets, ``exercises`` (one row per exercise and
        session, in file order) and the row numbers of the empty sets.
    """
    reps = sets["reps"].to_numpy()
    has_reps = reps > 0
    timed = ~has_reps & (sets["seconds"].to_numpy() > 0)
    paced = ~has_reps & ~timed & (sets["distance_m"].to_numpy() > 0)
    empty = ~(has_reps | timed | paced)
    empty_rows = sets["row"].to_numpy()[empty]
    sets = sets.loc[~empty].reset_index(drop=True)
    has_reps, timed = has_reps[~empty], timed[~empty]

    working = sets["set_kind"].to_numpy(dtype=object) != "warmup"
    kind = sets["set_kind"].to_numpy(dtype=object)
    effective_reps = np.where(has_reps, sets["reps"].to_numpy(), 1.0)  # a timed or distance set is one bout
    weight_kg = sets["weight_kg"].to_numpy()
    weighted = working & (weight_kg > 0)
    frame = pd.DataFrame({
        "session": sets["session"].to_numpy(),
        "exercise": sets["exercise"].to_numpy(dtype=object),
        "row": sets["row"].to_numpy(),
        "sets": working.astype(np.int64),
        "total_reps": np.where(working, effective_reps, 0.0),
        "timed_sets": (working & timed).astype(np.int64),
        "timed_s": np.where(working & timed, sets["seconds"].to_numpy(), 0.0),
        "warmup_sets": (~working).astype(np.int64),
        "dropsets": (kind == "dropset").astype(np.int64),
        "failure_sets": (kind == "failure").astype(np.int64),
        "bodyweight_reps": np.where(working & has_reps & ~(weight_kg > 0), effective_reps, 0.0),
        "load_volume_kg": np.where(weighted & has_reps, weight_kg * effective_reps, 0.0),
        "top_weight_kg": np.where(weighted, weight_kg, np.nan),
        "time_s": np.where(working, np.nan_to_num(sets["seconds"].to_numpy()), 0.0),
        "distance_m": np.where(working, np.nan_to_num(sets["distance_m"].to_numpy()), 0.0),
        "rpe": np.where(working, sets["rpe"].to_numpy(), np.nan),
        "reps_min": np.where(working, effective_reps, np.nan),
        "reps_max": np.where(working, effective_reps, np.nan),
    })
    group = frame.groupby(["session", "exercise"], sort=False).ngroup().to_numpy()
    frame["group"] = group
    agg = frame.groupby("group", sort=True).agg(
        session=("session", "first"), exercise=("exercise", "first"),
        row=("row", "min"), sets=("sets", "sum"), total_reps=("total_reps", "sum"),
        timed_sets=("timed_sets", "sum"), timed_s=("timed_s", "sum"), warmup_sets=("warmup_sets", "sum"),
        dropsets=("dropsets", "sum"), failure_sets=("failure_sets", "sum"),
        bodyweight_reps=("bodyweight_reps", "sum"), load_volume_kg=("load_volume_kg", "sum"),
        top_weight_kg=("top_weight_kg", "max"), time_s=("time_s", "sum"), distance_m=("distance_m", "sum"),
        rpe=("rpe", "max"), reps_min=("reps_min", "min"), reps_max=("reps_max", "max"),
    ).reset_index(drop=True)
    n_groups = len(agg)
    # the user's distinct notes per exercise row, joined in file order (only rows that have notes)
    written = pd.DataFrame({"group": group, "note": sets["notes"].str.strip().to_numpy(dtype=object)})
    written = written.loc[written["note"].notna() & (written["note"] != "")].drop_duplicates()
    user_notes = np.full(n_groups, None, dtype=object)
    if len(written):
        joined = written.groupby("group", sort=False)["note"].agg(" | ".join)
        user_notes[joined.index.to_numpy()] = joined.to_numpy()
    n_sets = agg["sets"].to_numpy()
    per_set = np.where(n_sets > 0, _round_half_up(agg["total_reps"].to_numpy() / np.maximum(n_sets, 1)), 0)
    all_timed = (n_sets > 0) & (agg["timed_sets"].to_numpy() == n_sets)
    mean_hold = np.where(all_timed, agg["timed_s"].to_numpy() / np.maximum(n_sets, 1), np.nan)
    too_long = all_timed & (mean_hold > MAX_HOLD_S)
    uneven = (n_sets > 1) & (agg["reps_min"] != agg["reps_max"]).to_numpy()
    listed = np.full(n_groups, "", dtype=object)
    if uneven.any():  # list the working sets' repetitions of the uneven rows only
        show = working & uneven[group]
        text = pd.Series(effective_reps[show]).map("{:g}".format)
        lists = text.groupby(group[show], sort=False).agg(", ".join)
        listed[lists.index.to_numpy()] = lists.to_numpy()
    top_rpe = agg["rpe"].to_numpy()
    rpe = _round_half_up(top_rpe)

    # the workout's own notes (Strong "Workout Notes", Hevy "description"): on every exercise row of the session
    per_session = sets[["session", "workout_notes"]].copy()
    per_session["workout_notes"] = per_session["workout_notes"].str.strip()
    per_session = per_session.loc[per_session["workout_notes"].notna() & (per_session["workout_notes"] != "")]
    per_session = per_session.drop_duplicates().groupby("session", sort=False)["workout_notes"].agg(" | ".join)
    session_notes = per_session.reindex(agg["session"]).to_numpy(dtype=object)

    # notes: the user's notes as written, then the workout's notes, then what the importer did, in brackets
    notes: list[str | None] = []
    for user, workout_note, warm, done, many, reps_listed, long_hold, hold in zip(
            user_notes, session_notes, agg["warmup_sets"], n_sets, uneven, listed, too_long, mean_hold, strict=True):
        written_parts = [user] if isinstance(user, str) and user else []
        if isinstance(workout_note, str) and workout_note:
            written_parts.append(f"Workout notes: {workout_note}")
        parts = [" | ".join(written_parts)] if written_parts else []
        if warm and done == 0:
            parts.append(f"[warm-up only: {warm} {_sets_word(warm)}, not counted]")
        elif warm:
            parts.append(f"[{warm} warm-up {_sets_word(warm)} not counted]")
        if many:
            parts.append(f"[reps per set {reps_listed}]")
        if long_hold:
            parts.append(f"[timed sets of {hold:g} s on average: longer than a hold, not counted as one]")
        notes.append(" ".join(parts) or None)

    heads = sets.drop_duplicates("session").set_index("session")
    exercises = pd.DataFrame({
        "row": agg["row"].to_numpy(),
        "session": agg["session"].to_numpy(),
        "performed_at": heads["started"].reindex(agg["session"]).to_numpy(),
        "workout": heads["workout"].reindex(agg["session"]).to_numpy(),
        "exercise": agg["exercise"].to_numpy(),
        "sets": n_sets,
        "reps": per_set.astype(np.int64),
        "hold_s": np.where(too_long, np.nan, mean_hold),
        "rpe": pd.array(rpe, dtype="Float64").astype("Int64"),
        "notes": pd.array(notes, dtype="string"),
        "total_reps": agg["total_reps"].to_numpy(),
        "warmup_sets": agg["warmup_sets"].to_numpy(),
        "dropsets": agg["dropsets"].to_numpy(),
        "failure_sets": agg["failure_sets"].to_numpy(),
        "bodyweight_reps": agg["bodyweight_reps"].to_numpy(),
        "load_volume_kg": agg["load_volume_kg"].to_numpy(),
        "top_weight_kg": agg["top_weight_kg"].to_numpy(),
        "time_s": agg["time_s"].to_numpy(),
        "distance_m": agg["distance_m"].to_numpy(),
    }).astype(EXERCISE_COLUMNS)
    return WorkoutLog(
        app=app, sets=sets, exercises=exercises, empty_sets=np.asarray(empty_rows, dtype=np.int64),
        n_uneven=int(uneven.sum()), n_long_holds=int(too_long.sum()),
        n_rpe_rounded=int(np.sum(np.isfinite(top_rpe) & (rpe != top_rpe))),
    )


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _summary_warnings(log: WorkoutLog, label: str, n_set_rows: int) -> list[str]:
    sets, ex = log.sets, log.exercises
    out = [
        f"read as a {label}: {_plural(n_set_rows, 'set row')} became "
        f"{_plural(len(ex), 'exercise row')} in {_plural(log.n_sessions, 'session')}"
    ]
    warm = int(ex["warmup_sets"].sum())
    if warm:
        only = int(((ex["sets"] == 0) & (ex["warmup_sets"] > 0)).sum())
        out.append(
            f"{_plural(warm, 'warm-up set')} (in {_plural(int((ex['warmup_sets'] > 0).sum()), 'exercise row')}) "
            f"{'was' if warm == 1 else 'were'} not counted in sets and repetitions; the notes of those rows say so"
            + (f"; {_plural(only, 'exercise was', 'exercises were')} done only as warm-up (sets 0)" if only else ""))
    if len(log.empty_sets):
        rows = ", ".join(str(r) for r in log.empty_sets[:20]) + (" ..." if len(log.empty_sets) > 20 else "")
        out.append(f"{_plural(len(log.empty_sets), 'set')} had no repetitions, time or distance and "
                   f"{'was' if len(log.empty_sets) == 1 else 'were'} not counted "
                   f"(row{'s' if len(log.empty_sets) > 1 else ''} {rows})")
    working = sets["set_kind"] != "warmup"
    bodyweight = int((working & sets["weight_kg"].isna() & (sets["reps"] > 0)).sum())
    timed = int((working & sets["reps"].isna() & (sets["seconds"] > 0)).sum())
    if bodyweight:
        out.append(f"{_plural(bodyweight, 'working set')} without a weight (bodyweight) kept "
                   f"{'its' if bodyweight == 1 else 'their'} repetitions")
    if timed:
        out.append(f"{_plural(timed, 'timed set')} without repetitions (e.g. a plank) counted as one repetition "
                   "held for the set's duration (hold_s)")
    if log.n_long_holds:
        out.append(f"{_plural(log.n_long_holds, 'exercise row')} of timed sets longer than {MAX_HOLD_S:g} s "
                   "(cardio) kept 1 repetition per set and no hold; the notes give the time")
    if log.n_uneven:
        out.append(f"{_plural(log.n_uneven, 'exercise row')} had sets with different repetitions: reps is the "
                   "mean per set, rounded half up, and the notes list the sets")
    for unit, what, target in (("weight_unit", "weight", "kg"), ("distance_unit", "distance", "metres")):
        written = sets[unit].dropna().value_counts()
        if len(written):
            listing = ", ".join(f"{_plural(int(n), 'set')} in {u}" for u, n in written.items())
            out.append(f"{what}s: {listing}; converted once to {target} and kept in the importer's set table "
                       f"(the sessions table has no {what} column)")
    if sets.loc[working, "rpe"].notna().any():
        out.append("the app's RPE was stored as effort (rpe, 0-10): the highest RPE of the working sets"
                   + (f"; {_plural(log.n_rpe_rounded, 'value')} in half points rounded up"
                      if log.n_rpe_rounded else ""))
    return out


def workout_ingest_result(
    log: WorkoutLog,
    *,
    importer: str,
    label: str,
    info: RawInfo,
    header_mapping: dict[str, str],
    problems: SetProblems,
    notes: list[str],
    patient_id: str | None,
    dayfirst: bool,
    today: date | None,
    timezone: str | None = None,
) -> IngestResult:
    """Validate the exercise rows with the generic ingestion and assemble one :class:`IngestResult`.

    Parameters
    ----------
    log
        The combined workout log.
    importer, label
        Importer name (the result's ``format``) and its name in words.
    info
        How the file was read (source, encoding, delimiter, row numbers).
    header_mapping
        File header -> canonical column, for the headers that fed a column.
    problems
        Set rows the importer could not use (reported as rejected).
    notes
        Importer warnings placed after the summary lines.
    patient_id, dayfirst, today, timezone
        As in :func:`analysis.ingest.ingest_file`.

    Returns
    -------
    IngestResult
        ``format`` = ``importer``; ``rejected`` holds the unusable set rows
        and the exercise rows the canonical checks rejected (at the row
        number of their first set); ``n_rows`` counts exercise rows plus
        unusable set rows, so that accepted + rejected + duplicates = rows.

    Raises
    ------
    PatientNeededError
        When no ``patient_id`` is given: an app export does not say whose it is.
    """
    if patient_id is None or not str(patient_id).strip():
        raise PatientNeededError(label, source=info.source)
    ex = log.exercises
    frame = pd.DataFrame({
        "performed_at": ex["performed_at"].astype(object),
        "exercise": ex["exercise"].astype(object),
        "side": "both",
        "sets": ex["sets"].to_numpy(),
        "reps": ex["reps"].to_numpy(),
        "hold_s": ex["hold_s"].to_numpy(),
        "rpe": ex["rpe"].astype("Float64").to_numpy(dtype=float, na_value=np.nan),
        "notes": ex["notes"].astype(object),
    })
    set_rejected = problems.frame()
    n_bad_sets = int(set_rejected["row"].nunique())
    n_set_rows = len(log.sets) + len(log.empty_sets) + n_bad_sets
    warnings = [*_summary_warnings(log, label, n_set_rows), *notes]
    if len(frame):
        result = ingest_frame(frame, "sessions", patient_id=patient_id, dayfirst=dayfirst, today=today,
                              row_numbers=ex["row"].to_numpy(), source=info.source, timezone=timezone)
        accepted, rejected, n_rows, row_info = result.accepted, result.rejected, result.n_rows, result.row_info
        duplicates, date_order = result.duplicate_rows, result.date_order
        warnings += result.warnings
    elif n_bad_sets:
        accepted, rejected, n_rows, row_info = empty_frame("sessions"), empty_rejected(), 0, empty_row_info()
        duplicates, date_order = np.empty(0, dtype=np.int64), "day-first" if dayfirst else "month-first"
    else:
        raise UnreadableFileError(f"this {label} holds no sets with repetitions, time or distance",
                                  source=info.source)
    both = pd.concat([set_rejected, rejected], ignore_index=True).sort_values("row", kind="stable")
    both = both.reset_index(drop=True)[list(REJECTED_COLUMNS)].astype(
        {"row": np.int64, "column": "string", "check": "string", "value": "string", "reason": "string"})
    return IngestResult(
        table="sessions", source=info.source, format=importer, encoding=info.encoding,
        delimiter=info.delimiter, date_order=date_order, header_mapping=dict(header_mapping),
        accepted=accepted, rejected=both, warnings=warnings, n_rows=n_rows + n_bad_sets,
        duplicate_rows=duplicates, row_info=row_info,
    )


@dataclass(frozen=True)
class WorkoutExport:
    """An app's workout export as read (the fields shared by the FitNotes and Hevy importers).

    Attributes
    ----------
    log
        Sets and exercise rows (see :class:`WorkoutLog`).
    info
        How the file was read.
    header_mapping
        File header -> canonical ``sessions`` column it fed.
    problems
        Set rows that could not be used.
    notes
        Warnings about how the file was read.
    """

    log: WorkoutLog
    info: RawInfo
    header_mapping: dict[str, str]
    problems: SetProblems
    notes: list[str]


def ingest_workout_export(
    export: WorkoutExport, *, importer: str, label: str, patient_id: str | None, dayfirst: bool, today: date | None,
    timezone: str | None = None,
) -> IngestResult:
    """:func:`workout_ingest_result` of a whole :class:`WorkoutExport`.

    Parameters
    ----------
    export
        The export as read.
    importer, label, patient_id, dayfirst, today, timezone
        As in :func:`workout_ingest_result`.

    Returns
    -------
    IngestResult
        See :func:`workout_ingest_result`.
    """
    return workout_ingest_result(
        export.log, importer=importer, label=label, info=export.info, header_mapping=export.header_mapping,
        problems=export.problems, notes=export.notes, patient_id=patient_id, dayfirst=dayfirst, today=today,
        timezone=timezone,
    )


class PatientNeededError(MissingColumnsError):
    """An app export names no patient and the caller did not choose one."""

    def __init__(self, label: str, *, source: str | None = None) -> None:
        self.table = "sessions"
        self.missing = ("patient_id",)
        self.found = ()
        IngestError.__init__(
            self,
            f"a {label} does not say whose log it is: choose the patient (on the upload page, or "
            "`rehabtrack validate FILE --patient-id P001`)",
            source=source,
        )
