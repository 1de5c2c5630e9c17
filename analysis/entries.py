"""In-app entries: today's exercise checklist, a logged session and a daily pain rating as canonical rows.

A patient who logs in the dashboard instead of uploading a file produces the
same canonical ``sessions`` and ``pain`` rows (:mod:`analysis.schema`) as an
upload, so every statistic treats both alike. The functions here are pure: they
build and check rows; :func:`analysis.access.save_entries` stores them
(an entry with the key of a stored row is an edit, kept in the audit).

Dates of in-app entries
-----------------------
An entry is for a **day**: ``performed_at`` / ``recorded_at`` is midnight of
that day, the store's convention for "that day, time not written" (a diary
without clock times). So the session of a day and the pain rating of a day
have one key each: logging the same day again edits the entry instead of
adding a second one.

* A day after ``today`` is refused (:class:`FutureEntryError`).
* A day more than ``max_days_back`` days before ``today`` is refused
  (:class:`TooOldEntryError`). The default :data:`MAX_DAYS_BACK` = 7 is a
  project choice (the clinical reference gives no limit): a week is enough to
  catch up on a forgotten entry while recall of pain is still reasonable;
  older entries go through the physio or an upload. It is a module constant and
  a keyword argument, not a :class:`analysis.settings.Settings` field, because
  it is not a clinical threshold.

Exercises not ticked
--------------------
Only ticked exercises are written. An exercise that was logged for the day
before and is now unticked is written with ``sets = 0`` and ``reps = 0``
("not done"): an edit that keeps the old values in the audit and that
adherence does not count (a session day needs a row with ``sets > 0``,
:mod:`analysis.adherence`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import RehabtrackError
from analysis.exercises import EXERCISES
from analysis.prescriptions import dose_in_force
from analysis.schema import PAIN, PAIN_LOCATIONS, SESSIONS, conform
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.timeline import DateLike
from analysis.validation import checks_tables

__all__ = [
    "MAX_DAYS_BACK",
    "CHECKLIST_COLUMNS",
    "EntryError",
    "FutureEntryError",
    "TooOldEntryError",
    "check_entry_day",
    "todays_checklist",
    "session_rows_from_checklist",
    "pain_row",
    "pain_during_advice",
]

#: Most days before today an entry may be made for (project choice; see the module docstring).
MAX_DAYS_BACK = 7

#: Columns of :func:`todays_checklist`.
CHECKLIST_COLUMNS: tuple[str, ...] = (
    "exercise", "side", "label", "instruction", "sets", "reps", "hold_s", "sessions_per_week",
)

_UNKNOWN_INSTRUCTION = "Do it as your physio showed you. Move slowly and gently; stop if it hurts."


class EntryError(RehabtrackError, ValueError):
    """An in-app entry that cannot be saved (a count out of range, nothing ticked, ...)."""


class FutureEntryError(EntryError):
    """An entry dated after today."""


class TooOldEntryError(EntryError):
    """An entry dated more than the allowed number of days before today."""


def _day(value: DateLike | None) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise EntryError(f"{value!r} is not a date; choose the day in the calendar") from exc
    if pd.isna(stamp):
        raise EntryError("choose the day of the entry")
    return stamp.normalize()


def check_entry_day(day: DateLike, *, today: DateLike,
                    max_days_back: int = MAX_DAYS_BACK) -> pd.Timestamp:
    """Check that an entry's day is allowed and return it as midnight of that day.

    Parameters
    ----------
    day
        The day the entry is for.
    today
        Today's date (the caller's clock; passed in so that the function is pure).
    max_days_back
        Most days before ``today`` allowed (default :data:`MAX_DAYS_BACK`).

    Returns
    -------
    pandas.Timestamp
        Midnight of ``day``.

    Raises
    ------
    FutureEntryError
        ``day`` is after ``today``.
    TooOldEntryError
        ``day`` is more than ``max_days_back`` days before ``today``.
    """
    d, t = _day(day), _day(today)
    if d > t:
        raise FutureEntryError(
            f"{d:%A %-d %B %Y} is in the future. You can log today or a past day, not a day to come.")
    if (t - d).days > max_days_back:
        first = t - pd.Timedelta(days=max_days_back)
        raise TooOldEntryError(
            f"{d:%A %-d %B %Y} is more than {max_days_back} days ago; in the app you can log back to "
            f"{first:%A %-d %B}. For older days, upload your diary or ask your physio.")
    return d


@checks_tables(prescriptions="prescriptions")
def todays_checklist(prescriptions: pd.DataFrame, patient_id: str, day: DateLike
                     ) -> pd.DataFrame:
    """The exercises prescribed to one patient on one day, as a checklist.

    Parameters
    ----------
    prescriptions
        Canonical ``prescriptions`` table (any patients; filtered here).
    patient_id
        The patient.
    day
        The day of the checklist.

    Returns
    -------
    pandas.DataFrame
        One row per exercise and side active on ``day``, in vocabulary order
        then side (left, right, both):

        - ``exercise`` (string): vocabulary key (unknown names as written)
        - ``side`` (string): ``left``, ``right`` or ``both``
        - ``label`` (string): name shown to the patient (:mod:`analysis.exercises`)
        - ``instruction`` (string): plain-language instruction ending "stop if it hurts"
        - ``sets``, ``reps`` (Int64): prescribed sets per session and repetitions per set
        - ``hold_s`` (float64, s): prescribed hold per repetition
        - ``sessions_per_week`` (Int64, sessions/week)

    See Also
    --------
    analysis.prescriptions.dose_in_force : The periods in force on a day (the rule used here).
    session_rows_from_checklist : The ticked checklist as ``sessions`` rows.

    Notes
    -----
    The periods are those in force on ``day``
    (:func:`analysis.prescriptions.dose_in_force`): a later period of one
    exercise and side replaces an earlier one from its start date on (a dose
    change is a new row; the old row need not be closed), as in :mod:`analysis.adherence`.
    """
    rx = dose_in_force(prescriptions, _day(day), patient_id=str(patient_id)).drop(columns="in_force_until")
    order = {k: i for i, k in enumerate(EXERCISES)}
    side_order = {"left": 0, "right": 1, "both": 2}
    rx = rx.assign(_o=rx["exercise"].map(order).fillna(len(order)),
                   _s=rx["side"].map(side_order).fillna(3))
    rx = rx.sort_values(["_o", "exercise", "_s"], kind="stable")
    known = rx["exercise"].map(EXERCISES.get)
    out = pd.DataFrame({
        "exercise": rx["exercise"].astype("string"),
        "side": rx["side"].astype("string"),
        "label": pd.array([e.label if e is not None else str(k) for e, k in zip(known, rx["exercise"], strict=True)],
                          dtype="string"),
        "instruction": pd.array([e.instruction if e is not None else _UNKNOWN_INSTRUCTION for e in known],
                                dtype="string"),
        "sets": rx["sets"].astype("Int64"),
        "reps": rx["reps"].astype("Int64"),
        "hold_s": rx["hold_s"].astype("float64"),
        "sessions_per_week": rx["sessions_per_week"].astype("Int64"),
    })
    return out.reset_index(drop=True)


def _check_count(values: pd.Series, column: str, what: str, labels: pd.Series) -> pd.Series:
    """Whole numbers within the ``sessions`` range of ``column``; ``EntryError`` naming the exercise otherwise."""
    spec = SESSIONS.column(column)
    num = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = num.notna() & ((num < spec.min) | (num > spec.max))
    if column != "hold_s":
        bad |= num.notna() & (num != np.round(num))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise EntryError(f"{labels.iloc[i]}: {num.iloc[i]:g} {what} is not possible here; enter a whole number "
                         f"from {spec.min:g} to {spec.max:g}." if column != "hold_s" else
                         f"{labels.iloc[i]}: a hold of {num.iloc[i]:g} seconds is not possible here; enter "
                         f"{spec.min:g} to {spec.max:g} seconds.")
    return num


def _check_rating(value: Any, what: str) -> int | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise EntryError(f"{what} must be a number from 0 to 10") from None
    if not (0 <= number <= 10) or number != round(number):
        raise EntryError(f"{what} must be a whole number from 0 (no pain) to 10 (worst imaginable), "
                         f"not {number:g}")
    return int(number)


def _notes(notes: str | None) -> str | None:
    text = (notes or "").strip()
    return text or None


def session_rows_from_checklist(
    patient_id: str,
    performed_on: DateLike,
    checked: pd.DataFrame,
    *,
    today: DateLike,
    pain_during: int | None = None,
    notes: str | None = None,
    existing: pd.DataFrame | None = None,
    max_days_back: int = MAX_DAYS_BACK,
) -> pd.DataFrame:
    """Canonical ``sessions`` rows for what the patient ticked in the checklist.

    Parameters
    ----------
    patient_id
        The logged-in patient (every row gets this ID).
    performed_on
        The day of the session (see the module docstring for the allowed days).
    checked
        The checklist as confirmed: ``exercise``, ``side``, ``done`` (bool) and
        the counts done, ``sets``, ``reps`` and optionally ``hold_s`` (s);
        ``label`` (optional) names the exercise in messages.
    today
        Today's date.
    pain_during
        Pain during the exercises, 0-10 (NPRS), or ``None``; written on every row.
    notes
        Free text, written on every row (kept as data, never interpreted).
    existing
        The patient's stored ``sessions`` rows (any days). An exercise and side
        already stored for ``performed_on`` keeps that row's ``performed_at``
        (the earliest of the day, e.g. 07:30 from an uploaded log), so the entry
        edits it instead of adding a second session; one logged before and now
        unticked is written as "not done" (``sets = reps = 0``).
    max_days_back
        Most days before ``today`` allowed.

    Returns
    -------
    pandas.DataFrame
        Canonical ``sessions`` rows (:data:`analysis.schema.SESSIONS`):
        ``patient_id``; ``performed_at`` = midnight of ``performed_on``, or the
        time of the stored row it edits (see ``existing``);
        ``exercise``; ``side``; ``sets`` (Int64, sets); ``reps`` (Int64,
        repetitions per set); ``hold_s`` (float64, s); ``pain_during`` (Int64,
        0-10); ``rpe`` (Int64, empty); ``notes`` (string).

    Raises
    ------
    FutureEntryError, TooOldEntryError
        The day is not allowed.
    EntryError
        Nothing ticked (and nothing to undo), a count outside the ranges of
        :data:`analysis.schema.SESSIONS` (sets 0-20, reps 0-200, hold 0-600 s),
        a ticked exercise with 0 sets or 0 repetitions, or a pain score outside 0-10.
    """
    day = check_entry_day(performed_on, today=today, max_days_back=max_days_back)
    pain = _check_rating(pain_during, "Pain during the exercises")
    done = checked["done"].fillna(False).astype(bool).to_numpy()
    labels = (checked["label"] if "label" in checked.columns else checked["exercise"]).astype(str)
    labels = labels + np.where(checked["side"].astype(str).isin(["left", "right"]),
                               " (" + checked["side"].astype(str) + ")", "")
    sets = _check_count(checked["sets"], "sets", "sets", labels)
    reps = _check_count(checked["reps"], "reps", "repetitions", labels)
    hold = (_check_count(checked["hold_s"], "hold_s", "seconds", labels) if "hold_s" in checked.columns
            else pd.Series(np.nan, index=checked.index))
    empty = done & ((sets.fillna(0) <= 0) | (reps.fillna(0) <= 0)).to_numpy()
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise EntryError(f"{labels.iloc[i]} is ticked as done but has 0 sets or 0 repetitions; enter what you did, "
                         "or untick it.")
    undo = np.zeros(len(checked), dtype=bool)
    when = pd.Series(day, index=checked.index, dtype="datetime64[ns]")
    if existing is not None and len(existing):
        mine = existing[(existing["patient_id"].astype("string") == str(patient_id))
                        & (existing["performed_at"].dt.normalize() == day)]
        first = (mine.assign(exercise=mine["exercise"].astype(str), side=mine["side"].astype(str))
                 .groupby(["exercise", "side"])["performed_at"].min())
        here = pd.MultiIndex.from_arrays([checked["exercise"].astype(str), checked["side"].astype(str)])
        stored_at = pd.Series(first.reindex(here).to_numpy(), index=checked.index, dtype="datetime64[ns]")
        undo = ~done & stored_at.notna().to_numpy()
        when = stored_at.fillna(day)
    keep = done | undo
    if not keep.any():
        raise EntryError("Tick at least one exercise you did, then confirm.")
    rows = checked.loc[keep]
    n = len(rows)
    frame = pd.DataFrame({
        "patient_id": [str(patient_id)] * n,
        "performed_at": when[keep].to_numpy(),
        "exercise": rows["exercise"].astype(str).to_numpy(),
        "side": rows["side"].astype(str).to_numpy(),
        "sets": np.where(done[keep], sets[keep].to_numpy(), 0),
        "reps": np.where(done[keep], reps[keep].to_numpy(), 0),
        "hold_s": np.where(done[keep], hold[keep].to_numpy(), np.nan),
        "pain_during": pd.array([pain] * n, dtype="Int64"),
        "notes": pd.array([_notes(notes)] * n, dtype="string"),
    })
    return conform(frame, SESSIONS).reset_index(drop=True)


def pain_row(
    patient_id: str,
    recorded_on: DateLike,
    nprs: int,
    *,
    today: DateLike,
    location: str | None = None,
    flare: bool = False,
    notes: str | None = None,
    existing: pd.DataFrame | None = None,
    max_days_back: int = MAX_DAYS_BACK,
) -> pd.DataFrame:
    """The canonical ``pain`` row of one daily pain rating.

    Parameters
    ----------
    patient_id
        The logged-in patient.
    recorded_on
        The day the rating is for.
    nprs
        Numeric pain rating, 0 (no pain) to 10 (worst imaginable).
    today
        Today's date.
    location
        ``"back"``, ``"leg"``, ``"both"`` or ``None`` (not said).
    flare
        The patient ticked "this is a flare".
    notes
        Free text (kept as data).
    existing
        The patient's stored ``pain`` rows: when the day already has a rating
        (e.g. 20:00 from an uploaded diary), the entry keeps the ``recorded_at``
        of the latest one, so that it edits it instead of adding a second rating.
    max_days_back
        Most days before ``today`` allowed.

    Returns
    -------
    pandas.DataFrame
        One canonical ``pain`` row (:data:`analysis.schema.PAIN`): ``patient_id``,
        ``recorded_at`` (midnight of the day, or the time of the rating it edits), ``nprs`` (Int64, points 0-10),
        ``location`` (string), ``flare`` (boolean), ``notes`` (string).

    Raises
    ------
    FutureEntryError, TooOldEntryError
        The day is not allowed.
    EntryError
        ``nprs`` is missing or not a whole number 0-10, or an unknown location.
    """
    day = check_entry_day(recorded_on, today=today, max_days_back=max_days_back)
    score = _check_rating(nprs, "Your pain score")
    if score is None:
        raise EntryError("Choose your pain score from 0 (no pain) to 10 (worst imaginable).")
    if location is not None and location not in PAIN_LOCATIONS:
        raise EntryError(f"where the pain is must be one of {', '.join(PAIN_LOCATIONS)}, not {location!r}")
    at = day
    if existing is not None and len(existing):
        same_day = existing.loc[(existing["patient_id"].astype("string") == str(patient_id))
                                & (existing["recorded_at"].dt.normalize() == day), "recorded_at"]
        if len(same_day):
            at = same_day.max()
    frame = pd.DataFrame({
        "patient_id": [str(patient_id)], "recorded_at": [at], "nprs": pd.array([score], dtype="Int64"),
        "location": pd.array([location], dtype="string"), "flare": pd.array([bool(flare)], dtype="boolean"),
        "notes": pd.array([_notes(notes)], dtype="string"),
    })
    return conform(frame, PAIN)


def pain_during_advice(pain_during: int | None, settings: Settings = DEFAULT_SETTINGS) -> str | None:
    """The message shown when pain during exercise is above the pain-monitoring limit, else ``None``.

    Parameters
    ----------
    pain_during
        Pain during the exercises (0-10), or ``None``.
    settings
        Uses ``pain_during_max`` (default 5).

    Returns
    -------
    str or None
        A suggestion to talk to the physio when ``pain_during > settings.pain_during_max``;
        no other advice (the page gives no medical advice beyond this).

    References
    ----------
    Pain-monitoring model (Silbernagel 2007): 0-3 safe, 4-5 acceptable, > 5 too
    much; the programme's rule "stop when you feel pain" (docs/clinical-reference.md
    sections 5 and 7).
    """
    if pain_during is None or pd.isna(pain_during) or pain_during <= settings.pain_during_max:
        return None
    return (f"Pain of {int(pain_during)} during the exercises is more than the programme aims for "
            f"(up to {settings.pain_during_max}). Please talk to your physio before your next session.")

