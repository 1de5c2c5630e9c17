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

import numpy as np
import pandas as pd

from analysis.errors import IngestError

__all__ = ["check_registry", "patient_codes", "programme_days", "add_programme_time", "resolve_as_of", "week_of_day"]


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


def week_of_day(day: pd.Series | np.ndarray) -> pd.Series | np.ndarray:
    """Programme week (1-based) of a day index: ``day // 7 + 1``."""
    return day // 7 + 1


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


def resolve_as_of(as_of: object, *frames_and_columns: tuple[pd.DataFrame, str]) -> pd.Timestamp:
    """The analysis date: ``as_of`` when given, else the last date seen in the data.

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
        Midnight of the analysis date. With no data and no ``as_of``, today.
    """
    if as_of is not None:
        return pd.Timestamp(as_of).normalize()
    latest = [f[c].max() for f, c in frames_and_columns if len(f)]
    latest = [t for t in latest if pd.notna(t)]
    if not latest:
        return pd.Timestamp.today().normalize()
    return pd.Timestamp(max(latest)).normalize()
