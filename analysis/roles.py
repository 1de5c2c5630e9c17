"""Who may see and do what: users, roles and the policy checks. Pure: no store, no files.

Roles
-----
``patient``
    Sees their own rows only; uploads and enters their own sessions, pain diary
    and questionnaires (the rows are filled with, or must name, their ID).
``physio``
    Sees the patients whose ``patients.physio_id`` is theirs (their caseload);
    uploads any table for those patients, registers new patients to themselves
    and manages their programmes.
``researcher``
    Sees the whole cohort pseudonymised (:mod:`analysis.pseudonyms`); uploads nothing.
``admin``
    Sees, uploads and manages everything.

The checks here take what they need as arguments (the user, a caseload, the
physio a patient is registered to) and raise :class:`AccessDenied`; the access
facade (:mod:`analysis.access`) feeds them from the store, inside the store's
transaction where the answer must not change before the write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from analysis.errors import RehabtrackError

__all__ = [
    "ROLES",
    "PATIENT",
    "PHYSIO",
    "RESEARCHER",
    "ADMIN",
    "PATIENT_UPLOAD_TABLES",
    "User",
    "AccessDenied",
    "describe_ids",
    "check_upload",
    "check_upload_rows",
    "check_entry_rows",
    "programme_owner",
    "check_programme_patient",
]

PATIENT = "patient"
PHYSIO = "physio"
RESEARCHER = "researcher"
ADMIN = "admin"
#: Every role, from least to most privileged.
ROLES: tuple[str, ...] = (PATIENT, PHYSIO, RESEARCHER, ADMIN)
#: Tables a patient may upload (their own logs; never registrations or prescriptions).
PATIENT_UPLOAD_TABLES: tuple[str, ...] = ("sessions", "pain", "proms")

_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class AccessDenied(RehabtrackError, PermissionError):
    """The current user asked for data or an action outside their role's scope."""


@dataclass(frozen=True)
class User:
    """The person using rehabtrack.

    Attributes
    ----------
    username
        Login name (letters, digits and ``_ . @ -``; at most 64 characters).
    role
        One of :data:`ROLES`.
    patient_id
        For a patient: their ``patient_id`` (required); otherwise ``None``.
    physio_id
        For a physio: their ``physio_id`` as written in ``patients.physio_id``
        (required); otherwise ``None``.
    """

    username: str
    role: str
    patient_id: str | None = None
    physio_id: str | None = None

    def __post_init__(self) -> None:
        if not _USERNAME.match(self.username or ""):
            raise ValueError(f"user name {self.username!r} must be 1-64 letters, digits or _ . @ -")
        if self.role not in ROLES:
            raise ValueError(f"role {self.role!r} is not one of {', '.join(ROLES)}")
        if self.role == PATIENT and not self.patient_id:
            raise ValueError(f"patient account {self.username!r} needs a patient_id")
        if self.role == PHYSIO and not self.physio_id:
            raise ValueError(f"physio account {self.username!r} needs a physio_id")
        if self.role != PATIENT and self.patient_id:
            raise ValueError(f"only a patient account has a patient_id ({self.username!r} is a {self.role})")
        if self.role != PHYSIO and self.physio_id:
            raise ValueError(f"only a physio account has a physio_id ({self.username!r} is a {self.role})")


def describe_ids(ids: Sequence[str] | pd.Index) -> str:
    """Patient IDs in a message: ``"patient P1"``, ``"patients P1, P2"``, at most 10 then ``"and N more"``.

    Examples
    --------
    >>> describe_ids(["P1"]), describe_ids(["P1", "P2"])
    ('patient P1', 'patients P1, P2')
    >>> describe_ids([f"P{i}" for i in range(12)]).endswith("P9 and 2 more")
    True
    """
    names = [str(i) for i in ids]
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return ("patient " if len(names) == 1 else "patients ") + shown


# --------------------------------------------------------------------------------------
# uploads and entries


def check_upload(user: User, table: str | None, patient_id: str | None) -> str | None:
    """Whether ``user`` may upload a ``table`` file, and for which patient.

    Parameters
    ----------
    user
        The uploader.
    table
        The canonical table of the file (``None`` while not yet known).
    patient_id
        The patient the file is for, if the uploader named one.

    Returns
    -------
    str or None
        The ``patient_id`` the ingestion must impose on every row: the
        patient's own ID for a patient, ``patient_id`` as given otherwise.

    Raises
    ------
    AccessDenied
        A researcher uploading anything; a patient uploading a table other
        than sessions, pain or questionnaires, or naming another patient.

    See Also
    --------
    check_upload_rows : The rows of a physio's file against their caseload.
    analysis.access.upload : Applies both checks around the store's write.
    """
    if user.role == RESEARCHER:
        raise AccessDenied("a researcher account cannot upload data; ask a physio or an administrator")
    if user.role == PATIENT:
        if patient_id is not None and patient_id != user.patient_id:
            raise AccessDenied(f"you can only upload your own data (patient {user.patient_id})")
        if table is not None and table not in PATIENT_UPLOAD_TABLES:
            raise AccessDenied(f"patients upload sessions, pain diaries and questionnaires, not a {table} table; "
                               "your physio keeps that table")
        return user.patient_id
    return patient_id


def check_upload_rows(user: User, table: str, frame: pd.DataFrame, caseload: Iterable[str],
                      registered: Iterable[str] = ()) -> None:
    """Refuse a physio's file that touches patients outside their caseload.

    Parameters
    ----------
    user
        The uploader (only physios are checked here; patients are held to
        their own ID by the ingestion, admins may upload anything).
    table
        Canonical table of the file.
    frame
        The accepted rows.
    caseload
        Patient IDs registered to this physio in the store.
    registered
        Every patient ID registered in the store (to any physio).

    Raises
    ------
    AccessDenied
        Naming up to 10 patient IDs: rows for patients not on the caseload; for
        a ``patients`` file, rows registering a patient to another physio or a
        patient already registered to another physio. Nothing of the file is stored.

    See Also
    --------
    check_upload : Who may upload which table at all.
    """
    if user.role != PHYSIO or frame.empty:
        return
    ids = pd.Index(frame["patient_id"].astype("string").unique())
    mine = pd.Index(list(caseload), dtype="string")
    if table == "patients":
        others = frame.loc[frame["physio_id"].astype("string") != user.physio_id, "patient_id"].unique()
        if len(others):
            raise AccessDenied(
                f"this patients file registers {describe_ids(list(others))} to another physio; a physio can only "
                f"register patients to themselves ({user.physio_id}). Ask an administrator to move patients.")
        taken = ids[ids.isin(pd.Index(list(registered), dtype="string")) & ~ids.isin(mine)]
        if len(taken):
            raise AccessDenied(f"{describe_ids(taken)} already registered with another physio; "
                               "ask an administrator to move them to your caseload.")
        return
    outside = ids[~ids.isin(mine)]
    if len(outside):
        raise AccessDenied(
            f"this file has rows for {describe_ids(outside)}, not on your caseload ({user.physio_id}); "
            "remove those rows, register the patients first, or ask an administrator. Nothing was stored.")


def check_entry_rows(user: User, ids: Sequence[str]) -> None:
    """Whether ``user`` may enter rows (a logged session, a pain rating, a questionnaire) for these patients.

    Parameters
    ----------
    user
        Who saves.
    ids
        The patients the rows (and the rows taken back) belong to.

    Raises
    ------
    AccessDenied
        A patient saving rows of anyone else, or a researcher saving anything.
        A physio's rows are checked against their caseload with
        :func:`check_upload_rows`.

    See Also
    --------
    analysis.access.save_entries : Applies the checks around the store's write.
    """
    if user.role == PATIENT:
        if any(i != user.patient_id for i in ids):
            raise AccessDenied(f"you can only log your own entries (patient {user.patient_id}); nothing was saved")
    elif user.role not in (PHYSIO, ADMIN):
        raise AccessDenied(f"a {user.role} account cannot enter data; nothing was saved")


# --------------------------------------------------------------------------------------
# programmes and patients


def programme_owner(user: User) -> str:
    """The owner of the programmes, exercises and templates ``user`` manages: their physio ID (or user name).

    Raises
    ------
    AccessDenied
        The user is not a physio or an administrator.

    See Also
    --------
    check_programme_patient : Whether the user may change one patient's programme.
    """
    if user.role not in (PHYSIO, ADMIN):
        raise AccessDenied("only physiotherapists and administrators manage programmes")
    return str(user.physio_id or user.username)


def check_programme_patient(user: User, patient_id: str, physio_id: str | None) -> None:
    """Whether ``user`` may change the programme (or archive flag) of a patient registered to ``physio_id``.

    Parameters
    ----------
    user
        A physio or an administrator.
    patient_id
        The patient (for the message).
    physio_id
        The physio the patient is registered to, ``None`` when not registered.

    Raises
    ------
    AccessDenied
        A physio and a patient who is not on their caseload (or not registered:
        the message does not say which), or anyone else than a physio or an administrator.
    """
    if user.role == ADMIN:
        return
    if user.role == PHYSIO and physio_id is not None and str(physio_id) == user.physio_id:
        return
    raise AccessDenied(f"patient {patient_id} is not on your caseload ({user.physio_id or user.role}); "
                       "only their own physio can change their programme")
