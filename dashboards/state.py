"""Data access for the dashboard pages: the store, the logged-in user and cached calls into ``analysis``.

Pages never query the store and never compute statistics; they call these
functions, which call the library (:func:`analysis.access.cohort_for` for every
read) and cache the result on the server:

* :func:`store` opens the store once per process (``st.cache_resource``) on
  ``REHABTRACK_DATA_DIR`` (or ``REHABTRACK_DATABASE_URL``) and seeds it with the
  sample cohort on first run (``REHABTRACK_SEED_SAMPLE=0`` turns that off);
* :func:`cohort_for_user`, :func:`summary_for_user`, :func:`weekly_for_user`
  and :func:`daily_for_user` are cached per user **and per data version** (the
  number and last id of the uploads), so an upload invalidates them on the next run;
* :func:`preview_upload` reads an upload without saving it, cached on the bytes;
  :func:`save_upload` stores it (:meth:`analysis.store.Store.ingest_upload`).

Session keys shared by the pages: :data:`SELECTED_PATIENT_KEY`
(``st.session_state["selected_patient"]``: the caseload's click-through to the
patient detail) and the logged-in user (see :mod:`dashboards.auth`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from analysis import access
from analysis.access import User, check_upload, cohort_for, summary_for
from analysis.cohort import weekly_progress
from analysis.errors import RehabtrackError
from analysis.exercises import EXERCISES
from analysis.export import ResearchCohort
from analysis.ingest import ingest_file
from analysis.sample_data import SNAPSHOT_DATE
from analysis.schema import CohortTables
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.store import DATABASE_URL_ENV, UPLOADS, Store, UploadReport, UploadTooLargeError, safe_filename
from analysis.store import data_dir as store_data_dir
from analysis.tables import IngestResult
from analysis.trends import daily_pain
from dashboards import auth

__all__ = [
    "SELECTED_PATIENT_KEY",
    "SEED_SAMPLE_ENV",
    "UploadPreview",
    "current_user",
    "data_dir",
    "store",
    "data_version",
    "is_sample_store",
    "as_of",
    "upload_today",
    "settings",
    "cohort_for_user",
    "summary_for_user",
    "weekly_for_user",
    "daily_for_user",
    "week_plan",
    "preview_upload",
    "save_upload",
    "clear_caches",
]

logger = logging.getLogger(__name__)

#: Session key of the patient chosen on the caseload (the physio's click-through to the detail page).
SELECTED_PATIENT_KEY = "selected_patient"
#: Set to ``0`` to open an empty store without the sample cohort (a real deployment).
SEED_SAMPLE_ENV = "REHABTRACK_SEED_SAMPLE"
#: The store's own account: ``Store.load_sample`` uploads the sample as this user.
_SYSTEM = "system"


def current_user() -> User | None:
    """The user logged in to this browser session, or ``None``."""
    return auth.current_user()


def data_dir() -> Path:
    """The data directory (``REHABTRACK_DATA_DIR`` or ``./var``), absolute."""
    return store_data_dir()


def _store_key() -> tuple[str, str]:
    return str(data_dir()), os.environ.get(DATABASE_URL_ENV, "")


@st.cache_resource(show_spinner="Opening the data store...")
def _open_store(directory: str, url: str) -> Store:
    opened = Store.open(url or None, data_dir=directory)
    if os.environ.get(SEED_SAMPLE_ENV, "1").strip().lower() not in ("0", "false", "no"):
        reports = opened.load_sample()  # does nothing once the store has an upload
        if reports:
            logger.info("seeded %s with the sample cohort (%d tables)", opened, len(reports))
    return opened


def store() -> Store:
    """The store of this server process, opened once (and seeded with the sample on first run)."""
    return _open_store(*_store_key())


def data_version() -> tuple[int, int]:
    """``(last upload id that added rows, rows added by all uploads)``: changes when data change.

    Cached reads are keyed on it, so they refresh after an upload that added
    rows; an upload whose rows were all already there leaves the caches warm.

    Notes
    -----
    A small adapter over the store's ``uploads`` table (the store has no
    version API); one aggregate query over the uploads, about a millisecond on SQLite.
    """
    with store().engine.connect() as conn:
        last, added = conn.execute(sa.select(sa.func.max(UPLOADS.c.upload_id), sa.func.sum(UPLOADS.c.rows_added))
                                   .where(UPLOADS.c.rows_added > 0)).one()
    return int(last or 0), int(added or 0)


@st.cache_data(show_spinner=False)
def _has_sample(directory: str, url: str, version: tuple[int, int]) -> bool:
    with store().engine.connect() as conn:
        found = conn.scalar(sa.select(sa.func.count()).select_from(UPLOADS)
                            .where(UPLOADS.c.uploaded_by == _SYSTEM))
    return bool(found)


def is_sample_store() -> bool:
    """True when the store holds the seeded sample cohort (uploaded by ``system``)."""
    return _has_sample(*_store_key(), data_version())


def as_of() -> pd.Timestamp:
    """The analysis date: the sample's snapshot date (2026-11-20) for the sample store, else today."""
    if is_sample_store():
        return pd.Timestamp(SNAPSHOT_DATE)
    return pd.Timestamp.today().normalize()


def upload_today() -> date:
    """The ``today`` given to ingestion: entries dated after it are rejected as in the future.

    For the sample store, the later of today and the snapshot date (as
    :meth:`analysis.store.Store.load_sample` does), else today.
    """
    today = date.today()
    return max(today, SNAPSHOT_DATE) if is_sample_store() else today


def settings() -> Settings:
    """The clinical thresholds in use (the cited defaults of :mod:`analysis.settings`)."""
    return DEFAULT_SETTINGS


# --------------------------------------------------------------------------------------
# cached reads, always through analysis.access.cohort_for


@st.cache_data(show_spinner="Reading the data...", max_entries=64)
def _cohort(directory: str, url: str, version: tuple[int, int], user: User,
            patient_ids: tuple[str, ...] | None) -> CohortTables | ResearchCohort:
    return cohort_for(user, store(), patient_ids=None if patient_ids is None else list(patient_ids))


def cohort_for_user(user: User, patient_ids: list[str] | tuple[str, ...] | None = None
                    ) -> CohortTables | ResearchCohort:
    """The data ``user`` may see (:func:`analysis.access.cohort_for`), cached until the next upload.

    Parameters
    ----------
    user
        The logged-in user.
    patient_ids
        Restrict to these patients (pseudonyms for a researcher).

    Returns
    -------
    CohortTables or analysis.export.ResearchCohort
        Canonical tables for patients (own rows), physios (caseload) and admins;
        the pseudonymised cohort for researchers.

    Raises
    ------
    analysis.access.AccessDenied
        If ``patient_ids`` names anyone outside the user's scope.
    """
    ids = None if patient_ids is None else tuple(str(p) for p in patient_ids)
    return _cohort(*_store_key(), data_version(), user, ids)


def _canonical(user: User) -> CohortTables:
    data = cohort_for_user(user)
    if isinstance(data, ResearchCohort):  # pragma: no cover - callers route researchers elsewhere
        raise access.AccessDenied("this view needs identified data; researchers see the pseudonymised cohort")
    return data


@st.cache_data(show_spinner="Summarising the patients...", max_entries=64)
def _summary(directory: str, url: str, version: tuple[int, int], user: User, when: pd.Timestamp,
             used: Settings) -> pd.DataFrame:
    return summary_for(user, store(), as_of=when, settings=used)


def summary_for_user(user: User) -> pd.DataFrame:
    """:func:`analysis.cohort.cohort_summary` of the user's cohort, as of :func:`as_of`, cached.

    Returns
    -------
    pandas.DataFrame
        Patients, physios, admins: the columns of
        :data:`analysis.cohort.SUMMARY_COLUMNS`, one row per patient they may see.
        Researchers: the same statistics with ``pseudonym`` and
        ``physio_pseudonym`` instead of the IDs, ``start_month`` (``YYYY-MM``)
        instead of ``programme_start``, and no calendar dates or
        ``attention_reasons``; sorted by pseudonym.
    """
    return _summary(*_store_key(), data_version(), user, as_of(), settings())


def summary_or_stop(user: User, *, failed: str, advice: str, empty: str) -> pd.DataFrame:
    """:func:`summary_for_user`, or stop the page with a message when it cannot be built or is empty.

    Parameters
    ----------
    user
        The viewer.
    failed, advice
        The error shown when the summary cannot be built reads ``"{failed}: {error}. {advice}"``.
    empty
        The note shown when the user may see no patient.

    Returns
    -------
    pandas.DataFrame
        :func:`summary_for_user`, never empty (the page stops instead).
    """
    try:
        summary = summary_for_user(user)
    except RehabtrackError as exc:
        st.error(f"{failed}: {exc}. {advice}")
        st.stop()
    if summary.empty:
        st.info(empty)
        st.stop()
    return summary


@st.cache_data(show_spinner="Computing the weeks...", max_entries=64)
def _weekly(directory: str, url: str, version: tuple[int, int], user: User, when: pd.Timestamp,
            used: Settings) -> pd.DataFrame:
    return weekly_progress(_canonical(user), as_of=when, settings=used)


def weekly_for_user(user: User) -> pd.DataFrame:
    """:func:`analysis.cohort.weekly_progress` of the user's (identified) cohort, cached."""
    return _weekly(*_store_key(), data_version(), user, as_of(), settings())


@st.cache_data(show_spinner=False, max_entries=64)
def _daily(directory: str, url: str, version: tuple[int, int], user: User, when: pd.Timestamp) -> pd.DataFrame:
    cohort = _canonical(user)
    pain = cohort.pain[cohort.pain["recorded_at"] < when + pd.Timedelta(days=1)]
    return daily_pain(pain, cohort.patients)


def daily_for_user(user: User) -> pd.DataFrame:
    """:func:`analysis.trends.daily_pain` of the user's cohort up to :func:`as_of`, cached."""
    return _daily(*_store_key(), data_version(), user, as_of())


def week_plan(prescriptions: pd.DataFrame, programme_start: pd.Timestamp, when: pd.Timestamp
              ) -> tuple[int, str, pd.DataFrame]:
    """One patient's exercises for the programme week containing ``when``, in words.

    Parameters
    ----------
    prescriptions
        One patient's canonical ``prescriptions`` rows.
    programme_start
        Their programme start (day 0).
    when
        The analysis date.

    Returns
    -------
    week : int
        Programme week of ``when`` (``(when - programme_start) // 7 + 1``; 0 or less before the start).
    status : str
        ``'current'`` (the week's active prescriptions), ``'finished'`` (no
        prescription after ``when``: the rows of the last prescribed day are
        given), ``'not started'`` (the programme starts later: the first week's rows)
        or ``'none'`` (no prescription at all).
    plan : pandas.DataFrame
        One row per exercise and dose: ``exercise`` (label), ``sides`` (``'left
        and right'``, ``'left'``, ``'right'``, ``'both sides together'``),
        ``sets``, ``reps`` (Int64), ``hold_s`` (float64, s),
        ``sessions_per_week`` (Int64), ``period`` (``''`` when the dose holds the
        whole week, else ``'from 7 Oct'`` / ``'until 6 Oct'``: a change within the
        week) and ``instruction`` (text ending with "stop if it hurts").

    Notes
    -----
    A prescription is active in the week when ``start_date <= week end`` and
    (``end_date`` is empty or ``>= week start``), the clock of :mod:`analysis.timeline`.
    """
    start = pd.Timestamp(programme_start).normalize()
    day = (pd.Timestamp(when).normalize() - start).days
    week = day // 7 + 1
    first = start + pd.Timedelta(days=7 * (week - 1))
    last = first + pd.Timedelta(days=6)
    rx = prescriptions
    end = rx["end_date"].fillna(pd.Timestamp.max)
    if rx.empty:
        status, rows = "none", rx
    elif week < 1:
        first_week_end = start + pd.Timedelta(days=6)
        rows, status = rx[(rx["start_date"] <= first_week_end) & (end >= start)], "not started"
    else:
        rows, status = rx[(rx["start_date"] <= last) & (end >= first)], "current"
        if rows.empty and bool((end < first).all()):
            last_day = end.max()
            rows, status = rx[(rx["start_date"] <= last_day) & (end >= last_day)], "finished"
    columns = ["exercise", "sides", "sets", "reps", "hold_s", "sessions_per_week", "period", "instruction"]
    if rows.empty:
        return int(week), status, pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    dose = ["exercise", "sets", "reps", "hold_s", "sessions_per_week", "start_date", "end_date"]
    grouped = (rows.assign(exercise=rows["exercise"].astype(str), side=rows["side"].astype(str))
               .groupby(dose, sort=False, dropna=False)["side"].agg(lambda s: frozenset(s)).reset_index())
    if status == "current":
        starts_inside = grouped["start_date"] > first
        ends_inside = grouped["end_date"].notna() & (grouped["end_date"] < last)
        grouped["period"] = [
            f"from {a:%-d %b}" if si else (f"until {b:%-d %b}" if ei else "")
            for a, b, si, ei in zip(grouped["start_date"], grouped["end_date"], starts_inside, ends_inside,
                                    strict=True)]
    else:
        grouped["period"] = ""
    words = {frozenset({"left", "right"}): "left and right", frozenset({"left"}): "left",
             frozenset({"right"}): "right", frozenset({"both"}): "both sides together"}
    grouped["sides"] = grouped["side"].map(lambda s: words.get(s, " and ".join(sorted(s))))
    known = grouped["exercise"].map(lambda k: EXERCISES.get(k))
    grouped["instruction"] = known.map(lambda e: e.instruction if e is not None else
                                       "Do it as your physio showed you. Move slowly and gently; stop if it hurts.")
    grouped["exercise"] = [e.label if e is not None else k for e, k in zip(known, grouped["exercise"], strict=True)]
    return int(week), status, grouped[columns].reset_index(drop=True)


# --------------------------------------------------------------------------------------
# uploads


@dataclass(frozen=True)
class UploadPreview:
    """What reading an upload without saving it gave.

    Attributes
    ----------
    result
        The ingestion result, or ``None`` when the file could not be read.
    error
        What went wrong and what to do, in plain words; ``None`` when read.
    """

    result: IngestResult | None
    error: str | None = None


@st.cache_data(show_spinner="Reading your file...", max_entries=32)
def _preview(directory: str, url: str, user: User, data: bytes, filename: str, dayfirst: bool,
             today: date) -> UploadPreview:
    limits = store().limits
    name = safe_filename(filename)
    try:
        if len(data) > limits.max_bytes:
            raise UploadTooLargeError(
                f"the file is {len(data) / 1048576:.1f} MB; one upload may be at most "
                f"{limits.max_bytes / 1048576:.1f} MB. Split it into smaller files (for example one per month) "
                "and upload each.", source=name)
        forced = check_upload(user, None, None)
        result = ingest_file(data, filename=name, patient_id=forced, dayfirst=dayfirst, today=today)
        if result.n_rows > limits.max_rows:
            raise UploadTooLargeError(
                f"the file has {result.n_rows:,} rows; one upload may have at most {limits.max_rows:,}. "
                "Split it into smaller files (for example one per month) and upload each.", source=name)
        check_upload(user, result.table, forced)
    except RehabtrackError as exc:
        return UploadPreview(None, str(exc))
    except Exception:  # a bug, not the user's doing: log it, show a generic message
        logger.exception("unexpected error reading upload %r", name)
        return UploadPreview(None, "Something went wrong while reading this file. Nothing was saved. "
                                   "Try again, or send the file to your physio.")
    return UploadPreview(result)


def preview_upload(user: User, data: bytes, filename: str, *, dayfirst: bool = True) -> UploadPreview:
    """Read an upload the way :meth:`analysis.store.Store.ingest_upload` will, without saving anything.

    Cached on the bytes (not on the upload widget), the file name, the day order and the user.
    The same checks run as when saving: the size and row limits and
    :func:`analysis.access.check_upload` (a patient's rows get their own ID).

    Returns
    -------
    UploadPreview
        The :class:`analysis.ingest.IngestResult`, or the plain-words error.
    """
    return _preview(*_store_key(), user, bytes(data), filename, dayfirst, upload_today())


def save_upload(user: User, data: bytes, filename: str, *, dayfirst: bool = True) -> UploadReport:
    """Store an upload (all or nothing) and return what it did; cached reads refresh on the next run.

    Raises
    ------
    analysis.errors.IngestError, analysis.access.AccessDenied
        As :meth:`analysis.store.Store.ingest_upload`; nothing is stored.
    """
    return store().ingest_upload(user, bytes(data), filename, dayfirst=dayfirst, today=upload_today())


def clear_caches() -> None:
    """Drop every cached read and the open store (tests; a changed data directory)."""
    st.cache_data.clear()
    st.cache_resource.clear()
