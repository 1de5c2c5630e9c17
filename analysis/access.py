"""The data-access facade: every read and every user-checked write of the store goes through here.

Pages and commands never call the store directly. Each function takes the
current :class:`analysis.roles.User`, applies the role policy of
:mod:`analysis.roles` and then calls the store (:class:`analysis.store.Store`),
which only persists. Where the answer of a check could change before the write
(who is on a physio's caseload), the check runs inside the store's write
transaction (:data:`analysis.store.WriteCheck`).

Reads
    :func:`cohort_for` (THE data-access function: the canonical tables a user
    may see, or the pseudonymised cohort for a researcher), :func:`summary_for`
    (the cohort summary of that scope), :func:`research_export`,
    :func:`patient_profiles`, :func:`custom_exercises`, :func:`custom_templates`.
Writes
    :func:`upload` (a file), :func:`save_entries` (a form), :func:`add_patient`
    (the store registers the patient, :mod:`analysis.accounts` writes their
    login), :func:`archive_patient`, :func:`save_prescriptions`,
    :func:`save_custom_exercise`, :func:`save_custom_template`.

Asking explicitly for an ID outside one's scope raises
:class:`analysis.roles.AccessDenied` (it never silently returns someone else's rows).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from analysis.accounts import add_user, new_password
from analysis.cohort import SUMMARY_INPUTS, cohort_summary
from analysis.corrections import Comparison
from analysis.export import check_format, write_research_tables
from analysis.importers.fhir import FhirMapping
from analysis.ingest import ingest_file
from analysis.limits import reading_limits
from analysis.programmes import ProgrammeEdit, Template, check_prescriptions, custom_exercise
from analysis.pseudonyms import ResearchCohort, pseudonym_key, pseudonymise_cohort, pseudonymise_ids
from analysis.roles import (
    ADMIN,
    PATIENT,
    PHYSIO,
    RESEARCHER,
    AccessDenied,
    User,
    check_entry_rows,
    check_programme_patient,
    check_upload,
    check_upload_rows,
    describe_ids,
    programme_owner,
)
from analysis.schema import CohortTables

if TYPE_CHECKING:
    from analysis.expected import ExpectedCourseModel, ExpectedFit, FunnelResult, NotEnoughData
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.store import EntryReport, PatientCheck, PatientLookup, Store, StoreError, UploadReport, safe_filename
from analysis.tables import IngestResult
from analysis.timeline import DateLike, to_day

__all__ = [
    "NewPatient",
    "cohort_for",
    "summary_for",
    "research_export",
    "upload",
    "preview_upload",
    "compare_upload",
    "save_entries",
    "add_patient",
    "archive_patient",
    "patient_profiles",
    "save_prescriptions",
    "save_custom_exercise",
    "custom_exercises",
    "save_custom_template",
    "custom_templates",
    "PHYSIO_COMPARISON_OPTION",
    "refit_expected",
    "expected_fit",
    "physio_comparison_visible",
    "set_physio_comparison_visible",
    "physio_comparison",
    "PhysioComparison",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# reads


def cohort_for(
    user: User,
    store: Store,
    *,
    patient_ids: Sequence[str] | None = None,
    include_notes: bool = False,
    key: bytes | None = None,
    columns: Mapping[str, Sequence[str]] | None = None,
) -> CohortTables | ResearchCohort:
    """The data ``user`` may see, filtered by role: the only way pages and commands read the store.

    Parameters
    ----------
    user
        The current user.
    store
        The store (:class:`analysis.store.Store`).
    patient_ids
        Restrict to these patients (default: everyone in scope). For a
        researcher these are pseudonyms (``pat-...``), never patient IDs.
    include_notes
        Researchers only: keep free-text notes in the pseudonymised tables
        (default removed). Other roles always see the notes of the rows they may see.
    key
        Pseudonym key for researchers; default :func:`analysis.pseudonyms.pseudonym_key`
        of the store's data directory.
    columns
        Patients, physios and admins: read only these columns of each table named (its key always
        comes too; a table not named is read whole), e.g. :data:`analysis.cohort.SUMMARY_INPUTS` for
        a summary. Default: every column. Researchers always get their pseudonymised tables whole.

    Returns
    -------
    CohortTables or ResearchCohort
        Patient: the canonical tables with only their own rows. Physio: the
        rows of their caseload (patients whose ``physio_id`` is theirs). Admin:
        everything. Researcher: a :class:`analysis.pseudonyms.ResearchCohort` of the
        whole cohort (no ``patient_id``, ``physio_id``, notes or calendar dates).

    Raises
    ------
    AccessDenied
        If ``patient_ids`` names anyone outside the user's scope (another
        patient for a patient, another physio's patient for a physio, anything
        that is not a pseudonym of the cohort for a researcher). The message
        does not say whether such a patient exists.

    See Also
    --------
    summary_for : The cohort summary of the same scope.
    research_export : The pseudonymised tables written to files.
    """
    wanted = None if patient_ids is None else list(dict.fromkeys(str(p) for p in patient_ids))
    if user.role == RESEARCHER:
        research = pseudonymise_cohort(store.read_cohort(), key if key is not None else pseudonym_key(store.data_dir),
                                       include_notes=include_notes)
        if wanted is None:
            return research
        known = set(research.pseudonyms)
        unknown = [p for p in wanted if p not in known]
        if unknown:
            raise AccessDenied(f"researchers select patients by pseudonym (pat-...); {', '.join(unknown[:10])} "
                               "is not a pseudonym of this cohort")
        return research.select(wanted)
    if user.role == ADMIN:
        return store.read_cohort(patient_ids=wanted, columns=columns)
    if user.role == PATIENT:
        own = str(user.patient_id)
        if wanted is not None and any(p != own for p in wanted):
            raise AccessDenied(f"you can only see your own data (patient {own})")
        return store.read_cohort(patient_ids=[own] if wanted is None else wanted, columns=columns)
    if user.role == PHYSIO:
        if wanted is not None:
            caseload = set(store.caseload(str(user.physio_id)))
            outside = [p for p in wanted if p not in caseload]
            if outside:
                raise AccessDenied(f"{describe_ids(outside)} not on your caseload ({user.physio_id})")
        return store.read_cohort(patient_ids=wanted, physio_id=str(user.physio_id), columns=columns)
    raise AccessDenied(f"unknown role {user.role!r}")  # pragma: no cover - User validates roles


def summary_for(
    user: User,
    store: Store,
    *,
    as_of: DateLike | None = None,
    settings: Settings | None = None,
    key: bytes | None = None,
    expected_model: ExpectedCourseModel | None = None,
) -> pd.DataFrame:
    """The cohort summary ``user`` may see (:func:`analysis.cohort.cohort_summary`), filtered by role.

    Patients and admins get the summary of the tables :func:`cohort_for` gives
    them; physios that of their active caseload (archived patients keep their
    data, reachable through :func:`cohort_for`, but leave the caseload). A
    researcher gets the same statistics for the whole cohort, pseudonymised:
    the statistics need calendar dates (each patient's weeks up to ``as_of``),
    which the research tables do not carry, so they are computed here, inside
    the access layer, and only pseudonymised columns leave it: ``patient_id``
    and ``physio_id`` become the keyed-hash pseudonyms of
    :func:`analysis.pseudonyms.pseudonymise_ids` (the same as in the research
    tables), ``programme_start`` becomes ``start_month`` (``YYYY-MM``), and the
    calendar dates and the free-text ``attention_reasons`` are dropped.

    Parameters
    ----------
    user, store
        As for :func:`cohort_for`.
    as_of
        Analysis date, passed to :func:`analysis.cohort.cohort_summary`.
    settings
        The thresholds in force (e.g. the clinic's, :func:`analysis.settings.clinic_settings`),
        passed to :func:`analysis.cohort.cohort_summary`; default the cited defaults.
    key
        Pseudonym key for researchers (default: the store's).
    expected_model
        The clinic's stored expected-course model (:func:`expected_fit`), for the caseload
        reason "behind expected" (:func:`analysis.cohort.cohort_summary`).

    Returns
    -------
    pandas.DataFrame
        One row per patient in the user's scope; for researchers ``pseudonym``,
        ``physio_pseudonym`` and ``start_month`` instead of identifiers and dates,
        sorted by pseudonym.

    See Also
    --------
    cohort_for : The tables the summary is computed from.
    analysis.cohort.cohort_summary : The statistics.
    """
    used = settings if settings is not None else DEFAULT_SETTINGS
    if user.role == PHYSIO:  # the active caseload: archived patients keep their data but leave the list
        tables = cohort_for(user, store, patient_ids=store.active_caseload(str(user.physio_id)),
                            columns=SUMMARY_INPUTS)
        assert isinstance(tables, CohortTables)
        return cohort_summary(tables, as_of=as_of, settings=used, expected_model=expected_model)
    if user.role != RESEARCHER:
        tables = cohort_for(user, store, columns=SUMMARY_INPUTS)
        assert isinstance(tables, CohortTables)
        return cohort_summary(tables, as_of=as_of, settings=used, expected_model=expected_model)
    summary = cohort_summary(store.read_cohort(), as_of=as_of, settings=used, expected_model=expected_model)
    secret = key if key is not None else pseudonym_key(store.data_dir)
    dated = ("last_entry_date", "last_session_date", "odi_latest_at", "rmdq_latest_at", "attention_reasons")
    out = summary.drop(columns=[c for c in dated if c in summary.columns])
    out.insert(0, "pseudonym", pseudonymise_ids(summary["patient_id"], secret, kind="patient"))
    out["physio_pseudonym"] = pseudonymise_ids(summary["physio_id"], secret, kind="physio")
    out["start_month"] = summary["programme_start"].dt.strftime("%Y-%m").astype("string")
    out = out.drop(columns=["patient_id", "physio_id", "programme_start"])
    out.attrs = {}
    return out.sort_values("pseudonym", kind="stable").reset_index(drop=True)


def research_export(
    user: User,
    store: Store,
    directory: str | Path,
    *,
    fmt: str = "csv",
    include_notes: bool = False,
    key: bytes | None = None,
) -> list[Path]:
    """Write the pseudonymised cohort a user may see to a directory.

    Parameters
    ----------
    user
        The user asking. A researcher gets the whole pseudonymised cohort, an
        admin too, a physio their caseload and a patient their own rows, always
        pseudonymised here.
    store
        The store; read only through :func:`cohort_for`.
    directory
        Output directory, created if needed.
    fmt
        ``"csv"``, ``"xlsx"`` or ``"parquet"`` (:func:`analysis.export.write_research_tables`).
    include_notes
        Keep free-text notes (they can name people: only under an approval that allows it).
    key
        Pseudonym key; default :func:`analysis.pseudonyms.pseudonym_key` of the store's data directory.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    analysis.errors.ExportError
        For an unknown ``fmt`` or a table too large for Excel.

    See Also
    --------
    cohort_for : The data of the user's scope.
    analysis.pseudonyms.pseudonymise_cohort : How identifiers and dates are replaced.
    """
    check_format(fmt)
    key = key if key is not None else pseudonym_key(store.data_dir)
    data = cohort_for(user, store, include_notes=include_notes, key=key)
    research = data if isinstance(data, ResearchCohort) else pseudonymise_cohort(
        data, key, include_notes=include_notes)
    written = write_research_tables(research, directory, fmt)
    logger.info("research export for %s (%s): %d files in %s", user.username,
                "researcher" if user.role == RESEARCHER else user.role, len(written), directory)
    return written


def patient_profiles(user: User, store: Store) -> pd.DataFrame:
    """The user's patients with display names and archive flags (physio: own; admin: all).

    Raises
    ------
    AccessDenied
        The user is not a physio or an administrator.

    See Also
    --------
    analysis.store.Store.patient_profiles : The columns.
    """
    owner = programme_owner(user)
    return store.patient_profiles(None if user.role == ADMIN else owner)


def custom_exercises(user: User, store: Store) -> pd.DataFrame:
    """The physio's own exercises (:meth:`analysis.store.Store.custom_exercises`); physios and admins only."""
    return store.custom_exercises(programme_owner(user))


def custom_templates(user: User, store: Store) -> dict[str, Template]:
    """The physio's own programme templates by key; physios and admins only."""
    return store.custom_templates(programme_owner(user))


# --------------------------------------------------------------------------------------
# writes: uploads and in-app entries


def upload(
    user: User,
    store: Store,
    source_bytes: bytes,
    filename: str | None,
    *,
    table: str | None = None,
    patient_id: str | None = None,
    dayfirst: bool = True,
    today: DateLike | None = None,
    on_conflict: str = "fail",
    timezone: str | None = None,
    fhir_mapping: FhirMapping | None = None,
    people: Mapping[str, str] | None = None,
) -> UploadReport:
    """Store an uploaded file as ``user`` may: all rows or none (:meth:`analysis.store.Store.ingest_upload`).

    Parameters
    ----------
    user
        Who uploads: a patient uploads their own sessions, pain and
        questionnaires (every row gets their ID); a physio uploads for their
        caseload; a researcher cannot upload.
    store
        The store.
    source_bytes, filename, table, patient_id, dayfirst, today, on_conflict, timezone, fhir_mapping
        As for :meth:`analysis.store.Store.ingest_upload` (``on_conflict``: ``"fail"``,
        ``"keep"`` or ``"replace"`` for rows that differ from what is stored).
    people
        For a file naming several people (a physio's session log with an
        ``Athlete`` column): the patient chosen for each person. Only a physio
        or an administrator may give it; each patient must be on the physio's
        caseload (checked in the write transaction), else nothing is stored.

    Returns
    -------
    analysis.store.UploadReport
        What the upload did.

    Raises
    ------
    AccessDenied
        The user may not upload this table or these patients
        (:func:`analysis.roles.check_upload`, :func:`analysis.roles.check_upload_rows`,
        the latter inside the write transaction), or a patient chose patients per person; nothing is stored.
    analysis.store.UploadTooLargeError, analysis.errors.IngestError, analysis.corrections.ConflictError
        As for :meth:`analysis.store.Store.ingest_upload`.

    See Also
    --------
    save_entries : Rows entered in a form.
    preview_upload, compare_upload : What the upload would do, before it is done.
    """
    forced = check_upload(user, table, patient_id)
    _check_people(user, people)
    return store.ingest_upload(user.username, source_bytes, filename, table=table, patient_id=forced,
                               dayfirst=dayfirst, today=_date(today), check=_upload_check(user, forced),
                               on_conflict=on_conflict, timezone=timezone, fhir_mapping=fhir_mapping,
                               people=people)


def _check_people(user: User, people: Mapping[str, str] | None) -> None:
    if people and user.role not in (PHYSIO, ADMIN):
        raise AccessDenied("only a physio (or an administrator) can choose patients for the people of a file; "
                           "a patient uploads their own log")


def _upload_check(user: User, forced: str | None) -> Callable[[str, pd.DataFrame, PatientLookup], None]:
    """The check an upload's rows must pass inside the store's transaction (the table may only then be known)."""
    def check(read_as: str, rows: pd.DataFrame, lookup: PatientLookup) -> None:
        check_upload(user, read_as, forced)
        if user.role == PHYSIO:
            ids = [str(i) for i in rows["patient_id"].dropna().unique()]
            check_upload_rows(user, read_as, rows, lookup.caseload(str(user.physio_id)), lookup.registered(ids))

    return check


def _date(day: DateLike | None) -> date | None:
    """The calendar day ingestion takes as ``today``."""
    return None if day is None else to_day(day).date()


def preview_upload(user: User, store: Store, source_bytes: bytes, filename: str | None, *, dayfirst: bool = True,
                   today: DateLike | None = None, table: str | None = None, patient_id: str | None = None,
                   timezone: str | None = None, fhir_mapping: FhirMapping | None = None,
                   people: Mapping[str, str] | None = None) -> IngestResult:
    """Read an upload as :func:`upload` would, with the same checks, and save nothing.

    Parameters
    ----------
    user, store, source_bytes, filename, dayfirst, today, table, patient_id, timezone, fhir_mapping, people
        As for :func:`upload`.

    Returns
    -------
    analysis.ingest.IngestResult
        How the file was read: accepted and rejected rows, the header mapping, warnings.

    Raises
    ------
    AccessDenied
        The user may not upload this table (:func:`analysis.roles.check_upload`).
    analysis.store.UploadTooLargeError, analysis.errors.IngestError
        The file is over the store's limits, or cannot be read as a table.

    See Also
    --------
    upload : Reads and stores the file.
    compare_upload : Which rows are new, already there or different from what is stored.
    """
    data = bytes(source_bytes)
    name = safe_filename(filename)
    store.limits.check_bytes(len(data), name)
    forced = check_upload(user, table, patient_id)
    _check_people(user, people)
    with reading_limits(store.limits):  # the store's limits, checked while the file is read
        result = ingest_file(data, filename=name, table=table, patient_id=forced, dayfirst=dayfirst,
                             today=_date(today), timezone=timezone, fhir_mapping=fhir_mapping, people=people)
    store.limits.check_rows(result.n_rows, name)
    check_upload(user, result.table, forced)
    return result


def compare_upload(user: User, store: Store, result: IngestResult, *, patient_id: str | None = None) -> Comparison:
    """What saving a previewed upload would do to each row: add it, find it already there, or change it.

    Parameters
    ----------
    user, store
        As for :func:`upload`.
    result
        The preview (:func:`preview_upload`).
    patient_id
        The patient the file was read for, as given to :func:`preview_upload`.

    Returns
    -------
    analysis.corrections.Comparison
        New, already there and changed rows, with the stored and the new value of every difference.

    Raises
    ------
    AccessDenied
        The rows touch patients the user may not upload for (the same check as :func:`upload`): the stored
        values of another patient are never shown.
    """
    forced = check_upload(user, result.table, patient_id)
    return store.compare_upload(result, check=_upload_check(user, forced))


def save_entries(user: User, store: Store, table: str, rows: pd.DataFrame, *, remove: pd.DataFrame | None = None,
                 source: str = "in-app entry") -> EntryReport:
    """Store rows entered in the app as ``user`` may (:meth:`analysis.store.Store.save_entries`).

    Parameters
    ----------
    user
        Who saves: a patient saves only rows with their own ``patient_id``; a
        physio rows of their caseload; an administrator any; a researcher none.
    store
        The store.
    table, rows, remove, source
        As for :meth:`analysis.store.Store.save_entries`.

    Returns
    -------
    analysis.store.EntryReport
        What was inserted, edited, left alone and removed.

    Raises
    ------
    AccessDenied
        A row (saved or taken back) of a patient outside the user's scope
        (:func:`analysis.roles.check_entry_rows`); nothing is stored.
    analysis.entries.EntryError
        As for :meth:`analysis.store.Store.save_entries`.
    """
    def check(name: str, touched: pd.DataFrame, lookup: PatientLookup) -> None:
        check_entry_rows(user, list(dict.fromkeys(touched["patient_id"].astype(str))))
        if user.role == PHYSIO:
            check_upload_rows(user, name, touched, lookup.caseload(str(user.physio_id)))

    return store.save_entries(user.username, table, rows, remove=remove, source=source, check=check)


# --------------------------------------------------------------------------------------
# writes: patients and programmes


@dataclass(frozen=True)
class NewPatient:
    """A patient just added by :func:`add_patient`.

    Attributes
    ----------
    patient_id
        The generated pseudonymous ID (``P`` + 8 base-32 characters).
    username
        The patient's login name (their ID), or ``None`` when no account was created.
    initial_password
        The one-time initial password, shown once to the physio and stored only as
        an Argon2id hash; ``None`` when no account was created.
    """

    patient_id: str
    username: str | None
    initial_password: str | None = field(repr=False)


def _may_change(user: User) -> PatientCheck:
    """The store's check before a patient's programme or profile changes.

    See :func:`analysis.roles.check_programme_patient`.
    """
    def check(patient_id: str, physio_id: str | None) -> None:
        check_programme_patient(user, patient_id, physio_id)

    return check


def add_patient(user: User, store: Store, programme_start: DateLike, display_name: str | None = None, *,
                physio_id: str | None = None, users_path: str | os.PathLike[str] | None = None,
                age_band: str | None = None, condition_notes: str | None = None) -> NewPatient:
    """Add a patient to a physio's caseload, with a pseudonymous ID and (optionally) a login account.

    Parameters
    ----------
    user
        A physio (the patient joins their caseload) or an administrator (give ``physio_id``).
    store
        The store (registers the patient, :meth:`analysis.store.Store.add_patient`).
    programme_start
        First day of the programme (day 1 of week 1).
    display_name
        Optional name for the physio's eyes; kept in ``patient_profiles`` only,
        never in the analysis tables or exports.
    physio_id
        For an administrator: the physio the patient belongs to.
    users_path
        Users file to create the patient's account in (user name = patient ID,
        a random initial password, :func:`analysis.accounts.add_user`). ``None``:
        no account is created.
    age_band, condition_notes
        Optional ``patients`` columns.

    Returns
    -------
    NewPatient
        The ID and the initial password (shown once; only its hash is kept).

    Raises
    ------
    AccessDenied
        The user is not a physio or an administrator.
    analysis.store.StoreError
        An administrator did not say which physio.
    """
    programme_owner(user)
    physio = user.physio_id if user.role != ADMIN else physio_id
    if not physio:
        raise StoreError("choose the physio the patient belongs to")
    pid = store.add_patient(str(physio), programme_start, display_name, created_by=user.username,
                            age_band=age_band, condition_notes=condition_notes)
    if users_path is None:
        return NewPatient(pid, None, None)
    password = new_password()
    add_user(User(pid, PATIENT, patient_id=pid), password, path=users_path)
    logger.info("patient %s added by %s with an account", pid, user.username)
    return NewPatient(pid, pid, password)


def archive_patient(user: User, store: Store, patient_id: str, archived: bool = True) -> None:
    """Archive (or restore) a patient: hidden from the active caseload, every row kept.

    Raises
    ------
    AccessDenied
        The patient is not on the user's caseload (physio) or the user is not a physio or administrator.
    """
    programme_owner(user)
    store.archive_patient(patient_id, archived, changed_by=user.username, check=_may_change(user))


def save_prescriptions(user: User, store: Store, patient_id: str, periods: pd.DataFrame, *,
                       from_date: DateLike | None = None) -> ProgrammeEdit:
    """Save a patient's programme as ``prescriptions`` periods (:meth:`analysis.store.Store.save_prescriptions`).

    Parameters
    ----------
    user
        The patient's physio, or an administrator.
    store
        The store.
    patient_id
        The patient.
    periods
        Canonical ``prescriptions`` rows of this patient (e.g.
        :func:`analysis.programmes.programme_to_prescriptions`), checked with
        :func:`analysis.programmes.check_prescriptions`.
    from_date
        ``None`` for a first prescription; else the first day of the change.

    Returns
    -------
    analysis.programmes.ProgrammeEdit
        What was kept, closed, removed and added.

    Raises
    ------
    AccessDenied
        The patient is not on the physio's caseload; nothing is written.
    analysis.programmes.ProgrammeError
        The periods are for another patient or not valid prescriptions, or a
        first prescription is saved over an existing one.
    """
    programme_owner(user)
    valid = check_prescriptions(periods, patient_id)
    return store.save_prescriptions(patient_id, valid, from_date=from_date, saved_by=user.username,
                                    check=_may_change(user))


def save_custom_exercise(user: User, store: Store, exercise: str, label: str, instruction: str, *,
                         sided: bool = False) -> str:
    """Add or replace one of the physio's own exercises; returns its name as stored in prescriptions.

    The instruction gets the seed's rule "stop if it hurts" appended when it does
    not say it (:func:`analysis.programmes.custom_exercise`).

    Raises
    ------
    AccessDenied
        The user is not a physio or an administrator.
    analysis.programmes.ProgrammeError
        An empty name or instruction, or a name of the shipped vocabulary.
    """
    owner = programme_owner(user)
    name, shown, text = custom_exercise(exercise, label, instruction)
    store.save_custom_exercise(owner, name, shown, text, sided=sided)
    return name


def mark_questionnaire_not_done(user: User, store: Store, patient_id: str, instrument: str, timepoint_week: int,
                                reason: str | None = None) -> None:
    """Mark a patient's questionnaire time point as not done (the Questionnaires due page stops asking for it).

    Raises
    ------
    AccessDenied
        The patient is not on the user's caseload (physio) or the user is not a physio or administrator.
    """
    programme_owner(user)
    store.mark_questionnaire_not_done(patient_id, instrument, timepoint_week, marked_by=user.username,
                                      reason=reason, check=_may_change(user))


def questionnaires_not_done(user: User, store: Store, patient_ids: Sequence[str]) -> pd.DataFrame:
    """The not-done marks of ``patient_ids`` that are on the user's caseload (physios and admins only)."""
    programme_owner(user)
    if user.role == ADMIN:
        wanted = list(patient_ids)
    else:
        mine = set(store.caseload(user.physio_id)) if user.physio_id else set()
        wanted = [p for p in patient_ids if p in mine]
    return store.questionnaires_not_done(wanted)


def save_custom_template(user: User, store: Store, template: Template) -> None:
    """Add or replace one of the physio's own programme templates; physios and admins only."""
    store.save_custom_template(programme_owner(user), template)



# --------------------------------------------------------------------------------------
# expected course (issue 20): refit, the stored model, the fair comparison of physios

#: Clinic switch (:meth:`analysis.store.Store.option`): physios may see the comparison of physios. Default off.
PHYSIO_COMPARISON_OPTION = "physios_see_physio_comparison"


def _data_version_text(store: Store) -> str:
    last, rows = store.data_version()
    return f"upload {last}, {rows} rows"


def refit_expected(user: User, store: Store, *, as_of: DateLike | None = None, settings: Settings | None = None
                   ) -> ExpectedFit | NotEnoughData:
    """Fit the expected-course model on the whole store and keep it (administrators only).

    Parameters
    ----------
    user
        Must be an administrator.
    store
        The store: read whole (:meth:`Store.read_cohort`), and where the fit is kept with its
        fit date, the data version (:meth:`Store.data_version`) and the settings used.
    as_of
        Analysis date (default: the day after the last entry).
    settings
        Thresholds in force (the clinic's).

    Returns
    -------
    ExpectedFit or NotEnoughData
        The stored fit, or (nothing stored) why not: :attr:`NotEnoughData.short` reads
        "not enough completed programmes yet (N of M)".

    Raises
    ------
    AccessDenied
        For anyone but an administrator.
    """
    from analysis.expected import ExpectedFit, refit

    if user.role != ADMIN:
        raise AccessDenied("only an administrator can refit the expected-course model")
    used = settings if settings is not None else DEFAULT_SETTINGS
    version = _data_version_text(store)
    tables = store.read_cohort()
    fit = refit(tables, tables.as_of(as_of), settings=used, data_version=version)
    if isinstance(fit, ExpectedFit):
        model_id = store.save_expected_model(user.username, fit.model.as_of, version, fit.model.n_patients,
                                             fit.settings_used(), fit.to_dict())
        logger.info("%s refitted the expected-course model (id %d, %d patients)", user.username, model_id,
                    fit.model.n_patients)
    return fit


def expected_fit(user: User, store: Store) -> ExpectedFit | None:
    """The stored expected-course fit in use, or ``None`` when none was fitted yet.

    Physios, researchers and administrators may read it (the caseload reason, the band and the
    comparison pages use it); patients may not.
    """
    from analysis.expected import ExpectedFit

    if user.role == PATIENT:
        raise AccessDenied("the expected-course model is for the clinic's staff")
    record = store.expected_model_record()
    if record is None:
        return None
    return ExpectedFit.from_dict(record["body"])


def physio_comparison_visible(store: Store) -> bool:
    """Whether an administrator let physios see the comparison of physios (default: no)."""
    return bool(store.option(PHYSIO_COMPARISON_OPTION, False))


def set_physio_comparison_visible(user: User, store: Store, visible: bool) -> None:
    """Let physios see the comparison of physios, or not (administrators only)."""
    if user.role != ADMIN:
        raise AccessDenied("only an administrator can change who sees the comparison of physios")
    store.set_option(PHYSIO_COMPARISON_OPTION, bool(visible), user.username)
    logger.info("%s set %s to %s", user.username, PHYSIO_COMPARISON_OPTION, bool(visible))


@dataclass(frozen=True)
class PhysioComparison:
    """The fair comparison of physios as a viewer may see it.

    Attributes
    ----------
    funnel
        :func:`analysis.expected.physio_funnel` with ``physio_id`` replaced by the research
        pseudonym (``phy-...``) of each physio.
    own_label
        The viewing physio's own pseudonym (``None`` for administrators and researchers).
    fit
        The stored fit the comparison used (calibration, model date, data version).
    """

    funnel: FunnelResult
    own_label: str | None
    fit: ExpectedFit


def physio_comparison(user: User, store: Store, *, as_of: DateLike | None = None, settings: Settings | None = None,
                      key: bytes | None = None) -> PhysioComparison | None:
    """Observed minus expected pain per physio against caseload size, pseudonymised (Spiegelhalter 2005).

    Every patient is compared out of sample at their latest complete week: patients in progress
    by the stored model, completed programmes by the cross-validation fold that left them out
    (:func:`analysis.expected.held_out_status`).

    Returns
    -------
    PhysioComparison or None
        ``None`` when no model is stored yet.

    Raises
    ------
    AccessDenied
        Patients always; physios unless an administrator enabled :data:`PHYSIO_COMPARISON_OPTION`.
    """
    from analysis.expected import held_out_status, physio_funnel

    if user.role == PATIENT:
        raise AccessDenied("the comparison of physios is for the clinic's staff")
    if user.role == PHYSIO and not physio_comparison_visible(store):
        raise AccessDenied("the comparison of physios is shown to physios only when an administrator enables it")
    fit = expected_fit(user, store)
    if fit is None:
        return None
    used = settings if settings is not None else DEFAULT_SETTINGS
    tables = store.read_cohort()
    status = held_out_status(fit.model, tables, tables.as_of(as_of), settings=used, folds=fit.folds)
    secret = key if key is not None else pseudonym_key(store.data_dir)
    funnel = physio_funnel(status)
    labels = pseudonymise_ids(funnel.physios["physio_id"], secret, kind="physio")
    physios = funnel.physios.assign(physio_id=labels.to_numpy()).sort_values("physio_id", kind="stable")
    physios = physios.reset_index(drop=True)  # the order of the real IDs would give them away
    own = None
    if user.role == PHYSIO and user.physio_id is not None:
        own = str(pseudonymise_ids(pd.Series([str(user.physio_id)], dtype="string"), secret, kind="physio").iloc[0])
    return PhysioComparison(funnel=dataclasses.replace(funnel, physios=physios), own_label=own, fit=fit)
