"""Data access for the dashboard pages: the store, the logged-in user and cached calls into ``analysis``.

Pages never query the store and never compute statistics; they call these
functions, which call the library (:func:`analysis.access.cohort_for` for every
read) and cache the result on the server:

* :func:`store` opens the store once per process (``st.cache_resource``) on
  ``REHABTRACK_DATA_DIR`` (or ``REHABTRACK_DATABASE_URL``) and seeds it with the
  sample cohort on first run (``REHABTRACK_SEED_SAMPLE=0`` turns that off);
* :func:`settings` reads the clinic's settings file once per process
  (``REHABTRACK_SETTINGS``, else ``<data dir>/rehabtrack.toml``, else the cited
  defaults; :func:`analysis.settings.clinic_settings`) and every cached call gets it;
* :func:`cohort_for_user`, :func:`summary_for_user`, :func:`weekly_for_user`
  and :func:`daily_for_user` are cached per user **and per data version**
  (:meth:`analysis.store.Store.data_version`), so an upload invalidates them on the next run;
* :func:`expected_fit_for_user` gives the stored expected-course model (issue 20), cached on its
  ``model_id``; the caseload summary passes it on (the reason "behind expected"), so a refit
  (:func:`refit_expected`, administrators) shows on the next run;
* :func:`preview_upload` reads an upload without saving it, cached on the bytes
  (:func:`analysis.access.preview_upload`), and compares its rows with the store
  (:func:`analysis.access.compare_upload`: new, already there, different);
  :func:`save_upload` stores it (:func:`analysis.access.upload`) with the user's
  choice for the rows that differ. Uploads read times with the clinic's time
  zone (:func:`settings`) and FHIR with ``<data dir>/fhir_mapping.csv`` when the
  clinic put one there (:func:`fhir_mapping`).

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
import streamlit as st

from analysis import access
from analysis.access import cohort_for, summary_for
from analysis.cohort import weekly_progress
from analysis.corrections import Comparison
from analysis.errors import RehabtrackError
from analysis.escaping import escape_markdown
from analysis.expected import ExpectedFit, NotEnoughData
from analysis.importers.fhir import FhirMapping, clinic_fhir_mapping
from analysis.paths import data_dir as store_data_dir
from analysis.pseudonyms import ResearchCohort
from analysis.roles import PATIENT, AccessDenied, User
from analysis.schema import CohortTables
from analysis.settings import SETTINGS_FILE_ENV, Settings, clinic_settings, settings_file
from analysis.store import DATABASE_URL_ENV, Store, UploadReport, safe_filename
from analysis.tables import IngestResult
from analysis.timeline import today as timeline_today
from analysis.trends import daily_pain
from dashboards import auth

__all__ = [
    "SELECTED_PATIENT_KEY",
    "SEED_SAMPLE_ENV",
    "UploadPreview",
    "current_user",
    "data_dir",
    "store",
    "warm_up",
    "data_version",
    "is_sample_store",
    "today",
    "as_of",
    "upload_today",
    "settings",
    "settings_source",
    "cohort_for_user",
    "summary_for_user",
    "weekly_for_user",
    "daily_for_user",
    "preview_upload",
    "save_upload",
    "fhir_mapping",
    "clear_caches",
    "expected_model_id",
    "expected_fit_for_user",
    "refit_expected",
    "physio_comparison_visible",
    "set_physio_comparison_visible",
    "physio_comparison_for_user",
]

logger = logging.getLogger(__name__)

#: Session key of the patient chosen on the caseload (the physio's click-through to the detail page).
SELECTED_PATIENT_KEY = "selected_patient"
#: Set to ``0`` to open an empty store without the sample cohort (a real deployment).
SEED_SAMPLE_ENV = "REHABTRACK_SEED_SAMPLE"


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
        # does nothing once the store has an upload; moves the sample to this week of the clinic's clock
        try:
            zone: str | None = clinic_settings(directory).timezone
        except RehabtrackError:  # the pages say what is wrong with the settings file; seed on this computer's day
            zone = None
        reports = opened.load_sample(today=timeline_today(zone))
        if reports:
            logger.info("seeded %s with the sample cohort (%d tables)", opened, len(reports))
    return opened


def store() -> Store:
    """The store of this server process, opened once (and seeded with the sample on first run)."""
    return _open_store(*_store_key())


#: The modules the pages import, loaded by :func:`warm_up` before the first login needs them.
WARM_MODULES: tuple[str, ...] = (
    "analysis.charts", "analysis.patient_detail", "analysis.report_pdf", "analysis.programmes",
    "analysis.programme_templates", "analysis.questionnaires", "analysis.entries", "analysis.scoring",
    "analysis.outcomes", "analysis.research", "analysis.models", "analysis.plots", "analysis.templates",
    "analysis.export", "matplotlib.pyplot", "altair",
)


def warm_up() -> None:
    """Open (and on first run seed) the store and import the pages' modules: what the first login would wait for.

    The dashboard's server (``dashboards/server.py``) runs it in a background thread
    when it starts, so the login page is served at once and the store is seeded before
    anyone has typed a password. Failures are logged, never raised: the page that
    needs the store then shows its own message.
    """
    import importlib
    import time

    started = time.perf_counter()
    try:
        store()
        for name in WARM_MODULES:
            importlib.import_module(name)
    except Exception:  # logged; the pages report the problem to the user with what to do
        logger.exception("warming up the dashboard failed")
        return
    logger.info("store opened and page modules loaded in %.1f s", time.perf_counter() - started)


def data_version() -> tuple[int, int]:
    """The store's data version (:meth:`analysis.store.Store.data_version`): changes when data change.

    Cached reads are keyed on it, so they refresh after an upload that added
    rows; an upload whose rows were all already there leaves the caches warm.
    """
    return store().data_version()


@st.cache_data(show_spinner=False)
def _has_sample(directory: str, url: str, version: tuple[int, int]) -> bool:
    return store().has_sample()


def is_sample_store() -> bool:
    """True when the store holds the seeded sample cohort (uploaded by ``system``)."""
    return _has_sample(*_store_key(), data_version())


def today() -> date:
    """Today in the clinic's time zone (:func:`analysis.timeline.today`; ``REHABTRACK_TODAY`` freezes it)."""
    return timeline_today(settings().timezone)


def as_of() -> pd.Timestamp:
    """The analysis date: today in the clinic's time zone (:func:`today`), a day not yet over.

    The sample store is seeded with its dates moved to the week of its first start
    (:meth:`analysis.store.Store.load_sample`), so the demo patients are
    mid-programme; the tests freeze the clock on the snapshot date 2026-11-20.
    """
    return pd.Timestamp(today())


def upload_today() -> date:
    """The ``today`` given to ingestion and to Log today: entries dated after it are rejected as in the future."""
    return today()


@st.cache_resource(show_spinner=False)
def _clinic_settings(directory: str, env: str) -> Settings:
    used = clinic_settings(directory)
    logger.info("settings in force: %s", settings_file(directory) or "the cited defaults")
    return used


def settings() -> Settings:
    """The clinical thresholds in force: the clinic's settings file, read once per process.

    The file is ``REHABTRACK_SETTINGS``, else ``<data dir>/rehabtrack.toml``; without
    one, the cited defaults of :mod:`analysis.settings`
    (:func:`analysis.settings.clinic_settings`). A file that cannot be used stops
    the page with a message naming the file and the setting to fix.
    """
    try:
        return _clinic_settings(str(data_dir()), os.environ.get(SETTINGS_FILE_ENV, ""))
    except RehabtrackError as exc:
        logger.error("the clinic's settings file cannot be used: %s", exc)
        st.error(f"The clinic's settings file cannot be used: {escape_markdown(exc)}. Ask the administrator to "
                 "correct it; nothing is shown until then.")
        st.stop()
        raise  # st.stop() ends the script run; this line is never reached


def settings_source() -> str:
    """Where :func:`settings` come from, in words: the clinic's settings file by name, or the published defaults."""
    found = settings_file(data_dir())
    return f"the clinic's settings file {found.name}" if found is not None else "the published defaults"


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
    CohortTables or analysis.pseudonyms.ResearchCohort
        Canonical tables for patients (own rows), physios (caseload) and admins;
        the pseudonymised cohort for researchers.

    Raises
    ------
    analysis.roles.AccessDenied
        If ``patient_ids`` names anyone outside the user's scope.
    """
    ids = None if patient_ids is None else tuple(str(p) for p in patient_ids)
    return _cohort(*_store_key(), data_version(), user, ids)


def _canonical(user: User) -> CohortTables:
    data = cohort_for_user(user)
    if isinstance(data, ResearchCohort):  # pragma: no cover - callers route researchers elsewhere
        raise AccessDenied("this view needs identified data; researchers see the pseudonymised cohort")
    return data


@st.cache_data(show_spinner="Summarising the patients...", max_entries=64)
def _summary(directory: str, url: str, version: tuple[int, int], user: User, when: pd.Timestamp,
             used: Settings, model_id: int | None = None) -> pd.DataFrame:
    fit = _expected_fit(directory, url, model_id) if model_id is not None and user.role != PATIENT else None
    return summary_for(user, store(), as_of=when, settings=used, expected_model=None if fit is None else fit.model)


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
    return _summary(*_store_key(), data_version(), user, as_of(), settings(), expected_model_id())


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
        st.error(f"{failed}: {escape_markdown(exc)}. {advice}")
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
    return daily_pain(cohort.pain, cohort.patients, as_of=when)


def daily_for_user(user: User) -> pd.DataFrame:
    """:func:`analysis.trends.daily_pain` of the user's cohort up to :func:`as_of`, cached."""
    return _daily(*_store_key(), data_version(), user, as_of())


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
    comparison
        The accepted rows against the store: new, already there, different
        (with the stored and the new values); ``None`` when the file could not be read.
    """

    result: IngestResult | None
    error: str | None = None
    comparison: Comparison | None = None


@st.cache_resource(show_spinner=False)
def _fhir_mapping(directory: str) -> FhirMapping | None:
    return clinic_fhir_mapping(directory)


def fhir_mapping() -> FhirMapping | None:
    """The clinic's FHIR mapping (``<data dir>/fhir_mapping.csv`` over the built-in one), read once per process.

    ``None`` when the clinic has no such file (the built-in mapping is used). A file
    that cannot be read stops the page with a message naming the line to fix.
    """
    try:
        return _fhir_mapping(str(data_dir()))
    except ValueError as exc:
        logger.error("the clinic's FHIR mapping cannot be used: %s", exc)
        st.error(f"The clinic's FHIR mapping cannot be used: {exc}. Ask the administrator to correct it.")
        st.stop()
        raise  # st.stop() ends the script run; this line is never reached


@st.cache_data(show_spinner="Reading your file...", max_entries=32)
def _preview(directory: str, url: str, version: tuple[int, int], user: User, data: bytes, filename: str,
             dayfirst: bool, today: date, zone: str) -> UploadPreview:
    name = safe_filename(filename)
    try:
        result = access.preview_upload(user, store(), data, filename, dayfirst=dayfirst, today=today, timezone=zone,
                                       fhir_mapping=fhir_mapping())
        comparison = access.compare_upload(user, store(), result)
    except RehabtrackError as exc:
        return UploadPreview(None, str(exc))
    except Exception:  # a bug, not the user's doing: log it, show a generic message
        logger.exception("unexpected error reading upload %r", name)
        return UploadPreview(None, "Something went wrong while reading this file. Nothing was saved. "
                                   "Try again, or send the file to your physio.")
    return UploadPreview(result, comparison=comparison)


def preview_upload(user: User, data: bytes, filename: str, *, dayfirst: bool = True) -> UploadPreview:
    """Read an upload the way :meth:`analysis.store.Store.ingest_upload` will, without saving anything.

    Cached on the bytes (not on the upload widget), the file name, the day order, the user and
    the data version (the comparison with the store changes when the store does). The same
    checks run as when saving (:func:`analysis.access.preview_upload`): the size and row limits
    and :func:`analysis.roles.check_upload` (a patient's rows get their own ID).

    Returns
    -------
    UploadPreview
        The :class:`analysis.ingest.IngestResult` and its comparison with the store, or the plain-words error.
    """
    return _preview(*_store_key(), data_version(), user, bytes(data), filename, dayfirst, upload_today(),
                    settings().timezone)


def save_upload(user: User, data: bytes, filename: str, *, dayfirst: bool = True,
                on_conflict: str = "fail") -> UploadReport:
    """Store an upload (all or nothing) and return what it did; cached reads refresh on the next run.

    Parameters
    ----------
    on_conflict
        What to do with rows that differ from what is stored: ``"replace"`` (the
        old values go to the audit table), ``"keep"`` or ``"fail"``.

    Raises
    ------
    analysis.errors.IngestError, analysis.roles.AccessDenied, analysis.corrections.ConflictError
        As :meth:`analysis.store.Store.ingest_upload`; nothing is stored.
    """
    return access.upload(user, store(), bytes(data), filename, dayfirst=dayfirst, today=upload_today(),
                         on_conflict=on_conflict, timezone=settings().timezone, fhir_mapping=fhir_mapping())


def clear_caches() -> None:
    """Drop every cached read and the open store (tests; a changed data directory)."""
    st.cache_data.clear()
    st.cache_resource.clear()



# --------------------------------------------------------------------------------------
# expected course (issue 20)


def expected_model_id() -> int | None:
    """The id of the stored expected-course model in use (``None`` before the first refit): the cache key."""
    return store().expected_model_id()


@st.cache_resource(show_spinner="Reading the expected-course model...", max_entries=4)
def _expected_fit(directory: str, url: str, model_id: int | None) -> ExpectedFit | None:
    record = store().expected_model_record(model_id) if model_id is not None else None
    return None if record is None else ExpectedFit.from_dict(record["body"])


def expected_fit_for_user(user: User) -> ExpectedFit | None:
    """The stored expected-course fit (:func:`analysis.access.expected_fit`), ``None`` before the first refit."""
    access.expected_fit(user, store())  # the role check (patients may not)
    return _expected_fit(*_store_key(), expected_model_id())


def expected_record() -> dict[str, object] | None:
    """When, by whom and on which data the model in use was fitted (the stored row without its body)."""
    history = store().expected_model_history()
    return None if history.empty else dict(history.iloc[0])


def refit_expected(user: User) -> ExpectedFit | NotEnoughData:
    """Refit and store the expected-course model (:func:`analysis.access.refit_expected`, administrators)."""
    return access.refit_expected(user, store(), as_of=as_of(), settings=settings())


def physio_comparison_visible() -> bool:
    """Whether an administrator let physios see the comparison of physios (a clinic switch, default off)."""
    return access.physio_comparison_visible(store())


def set_physio_comparison_visible(user: User, visible: bool) -> None:
    """Change the clinic switch (:func:`analysis.access.set_physio_comparison_visible`, administrators)."""
    access.set_physio_comparison_visible(user, store(), visible)


@st.cache_data(show_spinner="Comparing the physios...", max_entries=16)
def _comparison(directory: str, url: str, version: tuple[int, int], model_id: int | None, user: User,
                when: pd.Timestamp, used: Settings, visible: bool) -> access.PhysioComparison | None:
    return access.physio_comparison(user, store(), as_of=when, settings=used)


def physio_comparison_for_user(user: User) -> access.PhysioComparison | None:
    """:func:`analysis.access.physio_comparison` as of :func:`as_of`, cached on the data and the model.

    Raises
    ------
    analysis.roles.AccessDenied
        Patients; physios while the clinic switch is off.
    """
    return _comparison(*_store_key(), data_version(), expected_model_id(), user, as_of(), settings(),
                       physio_comparison_visible())
