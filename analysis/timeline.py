"""Programme time: days and weeks counted from each patient's programme start.

Every per-week statistic in rehabtrack uses the same clock, defined here once:

* ``day`` is the number of whole days since the patient's ``programme_start``
  (day 0 is the first day of the programme);
* ``week`` is ``day // 7 + 1``: week 1 is days 0-6, week 2 days 7-13, and so on.
  Rows before the programme start have ``day < 0`` and ``week <= 0``.

Patients are matched through integer codes of a categorical whose categories are
the patient registry, which is several times faster than a merge on string ids
on a large cohort (measured on this machine).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date, datetime
from typing import TypeAlias, overload

import numpy as np
import pandas as pd

from analysis.errors import IngestError

__all__ = [
    "DateLike",
    "NO_DAY",
    "check_registry",
    "patient_codes",
    "programme_days",
    "add_programme_time",
    "resolve_as_of",
    "TODAY_ENV",
    "today",
    "week_of_day",
    "programme_week",
    "to_day",
    "epoch_day",
    "epoch_days",
    "from_epoch_days",
    "numeric_values",
    "last_entry_days",
    "silence_from",
    "stopped_logging",
]

#: A date or time as the library accepts it: ISO text (``"2026-11-20"``), a :class:`datetime.date`,
#: a :class:`datetime.datetime`, a :class:`pandas.Timestamp` or a :class:`numpy.datetime64`.
DateLike: TypeAlias = str | date | datetime | pd.Timestamp | np.datetime64

#: "No such day" in arrays of epoch days (far below any real day, and safe to subtract from).
NO_DAY: int = np.iinfo(np.int64).min // 4


def check_registry(patients: pd.DataFrame) -> None:
    """Raise :class:`analysis.errors.IngestError` unless every ``patient_id`` appears once.

    Each patient needs exactly one row (one programme start) for programme time
    to be defined.
    """
    ids = patients["patient_id"].astype("string")
    duplicated = ids[ids.duplicated()].unique()
    if len(duplicated):
        shown = ", ".join(map(str, duplicated[:5]))
        raise IngestError(
            f"patient_id {shown} appears more than once in the patients table; each patient needs "
            "exactly one row (one programme start). Remove or merge the duplicate rows, e.g. "
            "patients.drop_duplicates('patient_id').",
            source="patients",
        )


def patient_codes(patient_ids: pd.Series, patients: pd.DataFrame) -> np.ndarray:
    """Integer position of each id in the ``patients`` registry (-1 when unknown).

    Parameters
    ----------
    patient_ids
        Identifiers to look up.
    patients
        The canonical ``patients`` table; its row order defines the codes.

    Returns
    -------
    numpy.ndarray of int64
        ``codes[i]`` is the row of ``patients`` for ``patient_ids[i]``, or -1.

    Notes
    -----
    Categorical ids (e.g. read from Parquet with ``read_dictionary``) are looked
    up once per category and mapped through their integer codes, without
    turning every row into a string: about 10x faster on a million rows.
    """
    check_registry(patients)
    registry = pd.Index(patients["patient_id"].astype("string"))
    if isinstance(patient_ids.dtype, pd.CategoricalDtype):
        categories = pd.Series(patient_ids.cat.categories).astype("string")
        per_category = pd.Categorical(categories, categories=registry).codes.astype(np.int64)
        # a missing id has code -1, which picks the appended -1
        return np.append(per_category, -1)[patient_ids.cat.codes.to_numpy()]
    codes = pd.Categorical(patient_ids.astype("string"), categories=registry).codes
    return codes.astype(np.int64)


def programme_days(
    times: pd.Series, patient_ids: pd.Series, patients: pd.DataFrame
) -> pd.Series:
    """Whole days from each patient's programme start to ``times``.

    Parameters
    ----------
    times
        Timestamps (``datetime64[ns]``); the time of day is ignored.
    patient_ids
        The patient of each timestamp (same index as ``times``).
    patients
        Canonical ``patients`` table with ``patient_id`` and ``programme_start``.

    Returns
    -------
    pandas.Series of Int64
        Day index (0 = programme start); ``<NA>`` for patients not in ``patients``
        and for missing times.
    """
    codes = patient_codes(patient_ids, patients)
    start = patients["programme_start"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    day_of = times.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    known = codes >= 0
    out = np.zeros(len(times), dtype=np.int64)
    out[known] = (day_of[known] - start[codes[known]]).astype(np.int64)
    valid = known & ~np.isnat(day_of)
    return pd.Series(pd.arrays.IntegerArray(out, ~valid), index=times.index, name="day")


@overload
def week_of_day(day: int) -> int: ...
@overload
def week_of_day(day: np.ndarray) -> np.ndarray: ...
@overload
def week_of_day(day: pd.Series) -> pd.Series: ...
def week_of_day(day: int | pd.Series | np.ndarray) -> int | pd.Series | np.ndarray:
    """Programme week (1-based) of a day index: ``day // 7 + 1``.

    Parameters
    ----------
    day
        Whole days since the programme start (0 = the first day), a number or an array.

    Returns
    -------
    int or pandas.Series or numpy.ndarray
        Week 1 for days 0-6, week 2 for days 7-13, ...; 0 or less before the start.

    See Also
    --------
    programme_week : The week of a date, from a programme start.
    programme_days : Days since the programme start of timestamps.

    Examples
    --------
    >>> week_of_day(0), week_of_day(6), week_of_day(7), week_of_day(-1)
    (1, 1, 2, 0)
    """
    return day // 7 + 1


def programme_week(when: DateLike, programme_start: DateLike) -> int:
    """The programme week of a date: ``(when - programme_start) // 7 + 1`` in whole days.

    Parameters
    ----------
    when
        The date (its time of day is ignored).
    programme_start
        The first day of the programme (day 0, week 1).

    Returns
    -------
    int
        1 in the programme's first seven days; 0 or less before the start.

    See Also
    --------
    week_of_day : The same on day numbers.

    Examples
    --------
    >>> programme_week("2026-09-20", "2026-09-07")
    2
    """
    return week_of_day((to_day(when) - to_day(programme_start)).days)


def add_programme_time(
    frame: pd.DataFrame, patients: pd.DataFrame, time_col: str
) -> pd.DataFrame:
    """Return a copy of ``frame`` with ``day`` and ``week`` columns of programme time.

    See the module docstring for the definitions. Rows of patients absent from
    ``patients`` get ``<NA>``.
    """
    out = frame.copy()
    out["day"] = programme_days(out[time_col], out["patient_id"], patients)
    out["week"] = week_of_day(out["day"])
    return out


#: Environment variable that freezes the clock of :func:`today` (ISO date, e.g. ``2026-11-20``; tests set it).
TODAY_ENV = "REHABTRACK_TODAY"


def today(timezone: str | None = None) -> date:
    """Today's date in the clinic's time zone: the one clock of the live dashboard and the sample seeding.

    The dashboard analyses a live store up to this day (the analysis day of
    :func:`resolve_as_of`: not yet over), Log today dates entries with it, and
    :meth:`analysis.store.Store.load_sample` shifts the sample cohort towards it.
    Setting ``REHABTRACK_TODAY`` (:data:`TODAY_ENV`) to an ISO date freezes it,
    whatever the zone: the test suites set ``REHABTRACK_TODAY=2026-11-20``, the
    sample's snapshot date, so that the sample keeps its dates.

    Parameters
    ----------
    timezone
        IANA time-zone name (``Settings.timezone``); ``None`` for this computer's zone.

    Returns
    -------
    datetime.date
        The calendar day it is now on the clinic's clock.

    Raises
    ------
    ValueError
        If ``REHABTRACK_TODAY`` is set to something that is not an ISO date
        (the message names the variable and the value).

    Examples
    --------
    >>> import os
    >>> os.environ[TODAY_ENV] = "2026-11-20"
    >>> today("Pacific/Auckland")
    datetime.date(2026, 11, 20)
    """
    frozen = os.environ.get(TODAY_ENV, "").strip()
    if frozen:
        try:
            return date.fromisoformat(frozen)
        except ValueError:
            raise ValueError(f"{TODAY_ENV} must be a date written YYYY-MM-DD (e.g. 2026-11-20), not {frozen!r}; "
                             "unset it to use the real clock") from None
    if timezone:
        from zoneinfo import ZoneInfo

        return datetime.now(ZoneInfo(timezone)).date()
    return date.today()


def resolve_as_of(as_of: DateLike | None, *frames_and_columns: tuple[pd.DataFrame, str]) -> pd.Timestamp:
    """The analysis day: ``as_of`` when given, else the day after the last entry in the data.

    **One meaning everywhere.** The analysis uses the data up to and including
    the analysis day; the analysis day itself is the day the analysis is made
    ("today"), so it is not yet over: pro-rated counts (the week in progress)
    count the *whole* days before it. The default follows: the day after the
    last session or pain entry, so that every day with data is a whole day and
    the day the data were exported is the analysis day (for the sample cohort
    2026-11-20, its snapshot date).

    Parameters
    ----------
    as_of
        A date-like value, or ``None``.
    *frames_and_columns
        ``(frame, time_column)`` pairs searched for the latest timestamp when
        ``as_of`` is ``None``.

    Returns
    -------
    pandas.Timestamp
        Midnight of the analysis day. With no data and no ``as_of``, today.

    See Also
    --------
    to_day : Midnight of a given date.

    Examples
    --------
    >>> pain = pd.DataFrame({"recorded_at": pd.to_datetime(["2026-11-18 20:00", "2026-11-19 21:30"])})
    >>> resolve_as_of(None, (pain, "recorded_at"))
    Timestamp('2026-11-20 00:00:00')
    >>> resolve_as_of("2026-11-20 18:30")
    Timestamp('2026-11-20 00:00:00')
    """
    if as_of is not None:
        return to_day(as_of)
    latest = [f[c].max() for f, c in frames_and_columns if len(f)]
    latest = [t for t in latest if pd.notna(t)]
    if not latest:
        return pd.Timestamp.today().normalize()
    return to_day(max(latest)) + pd.Timedelta(days=1)


def to_day(value: DateLike) -> pd.Timestamp:
    """Midnight of the day of a date-like value.

    Parameters
    ----------
    value
        A date or time (:data:`DateLike`).

    Returns
    -------
    pandas.Timestamp
        The day, at midnight (time zone kept when ``value`` has one).

    Raises
    ------
    ValueError
        If ``value`` is text that is not a date.

    Examples
    --------
    >>> to_day("2026-11-20 18:30")
    Timestamp('2026-11-20 00:00:00')
    """
    return pd.Timestamp(value).normalize()


def epoch_day(value: DateLike) -> int:
    """Days since 1970-01-01 of the day of ``value`` (the integer day axis of the vectorised code).

    Examples
    --------
    >>> epoch_day("1970-01-02"), epoch_day("2026-11-20")
    (1, 20777)
    """
    return int(np.datetime64(to_day(value).to_datetime64(), "D").astype(np.int64))


def epoch_days(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Calendar day (days since 1970-01-01) of each timestamp, and where there is one.

    Parameters
    ----------
    values
        Timestamps (``datetime64`` or anything :func:`pandas.to_datetime` reads).

    Returns
    -------
    days : numpy.ndarray of int64
        Epoch day of each value's day (the time of day is dropped); 0 where missing.
    valid : numpy.ndarray of bool
        False where the value is missing.

    See Also
    --------
    from_epoch_days : The reverse.
    epoch_day : One value.

    Examples
    --------
    >>> days, valid = epoch_days(pd.Series(pd.to_datetime(["1970-01-03 12:00", None])))
    >>> days.tolist(), valid.tolist()
    ([2, 0], [True, False])
    """
    if not pd.api.types.is_datetime64_any_dtype(values.dtype):
        values = pd.to_datetime(values)
    stamps = values.to_numpy(dtype="datetime64[ns]")
    valid = ~np.isnat(stamps)
    days = stamps.astype("datetime64[D]").astype(np.int64)
    days[~valid] = 0
    return days, valid


def from_epoch_days(days: np.ndarray) -> np.ndarray:
    """Midnight ``datetime64[ns]`` of epoch day numbers (the reverse of :func:`epoch_days`).

    Examples
    --------
    >>> str(from_epoch_days(np.array([20777]))[0])
    '2026-11-20T00:00:00.000000000'
    """
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")


def numeric_values(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column as float64 with NaN for missing (all NaN when the column is absent).

    Parameters
    ----------
    frame
        Any table.
    column
        Column name; text that is not a number counts as missing.

    Returns
    -------
    numpy.ndarray of float64
        One value per row of ``frame``.

    Examples
    --------
    >>> numeric_values(pd.DataFrame({"sets": pd.array([2, None], dtype="Int64")}), "sets").tolist()
    [2.0, nan]
    """
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values.dtype):
        values = pd.to_numeric(values, errors="coerce")
    return values.to_numpy(dtype="float64", na_value=np.nan)


def last_entry_days(n: int, entries: Iterable[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Each patient's last entry day: the grouped maximum of entry days.

    Parameters
    ----------
    n
        Number of patients (registry rows, see :func:`patient_codes`).
    entries
        ``(codes, days)`` pairs, one per table (sessions, pain): the registry row
        and the epoch day of each entry to count. The caller selects the entries
        (a known patient, a date, on or before the analysis date).

    Returns
    -------
    numpy.ndarray of int64
        Per patient, the latest day of any entry; :data:`NO_DAY` with none.

    See Also
    --------
    silence_from : The programme day from which silence is counted.
    analysis.adherence.adherence_summary : Reports it as ``last_entry_date``.

    Examples
    --------
    >>> last_entry_days(3, [(np.array([0, 0, 2]), np.array([5, 9, 4])), (np.array([0]), np.array([11]))]).tolist()
    [11, -2305843009213693952, 4]
    """
    out = np.full(n, NO_DAY, dtype=np.int64)
    for codes, days in entries:
        if len(codes):
            np.maximum.at(out, codes, days)
    return out


def silence_from(last_entry: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Programme day from which a patient's silence is counted ("stopped logging").

    Parameters
    ----------
    last_entry
        Epoch day of each patient's last entry (:func:`last_entry_days`; :data:`NO_DAY` = none).
    start
        Epoch day of each patient's programme start.

    Returns
    -------
    numpy.ndarray of int64
        The programme day of the last entry, but at least -1 (the day before the
        programme start): a patient who never logged, or only before the start,
        is silent from the start on. Logging stopped on programme day ``d`` when
        ``d - silence_from >= Settings.logging_stopped_days`` (docs/clinical-reference.md
        sections 4 and 5).

    See Also
    --------
    last_entry_days : The last entry day of each patient.

    Examples
    --------
    >>> silence_from(np.array([105, NO_DAY, 90]), np.array([100, 100, 100])).tolist()
    [5, -1, -1]
    """
    relative = np.where(last_entry > NO_DAY, last_entry - start, -1)
    return np.maximum(relative, -1)


def stopped_logging(up_to_day: np.ndarray, since: np.ndarray, days: int) -> np.ndarray:
    """Whether each patient has been silent for at least ``days`` days on programme day ``up_to_day``.

    Parameters
    ----------
    up_to_day
        Programme day the silence is counted up to (the analysis date's, or an
        earlier one such as the programme's last day).
    since
        Programme day the silence is counted from (:func:`silence_from`).
    days
        ``Settings.logging_stopped_days``.

    Returns
    -------
    numpy.ndarray of bool
        ``up_to_day - since >= days``: no session or pain entry for ``days`` days
        (docs/clinical-reference.md section 5).

    See Also
    --------
    silence_from : Where the silence starts.
    analysis.flags.logging_stopped : Every such gap, as flags.

    Examples
    --------
    >>> stopped_logging(np.array([20, 20]), silence_from(np.array([105, 115]), np.array([100, 100])), 7).tolist()
    [True, False]
    """
    return np.asarray(up_to_day - since >= days, dtype=bool)
