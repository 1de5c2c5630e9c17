"""Who may see and upload what: users, roles, password checks and THE one data-access function.

Roles
-----
``patient``
    Sees their own rows only; uploads their own sessions, pain diary and
    questionnaires (the file's rows are filled with, or must name, their ID).
``physio``
    Sees the patients whose ``patients.physio_id`` is theirs (their caseload);
    uploads any table for those patients and registers new patients to themselves.
``researcher``
    Sees the whole cohort pseudonymised (:class:`analysis.export.ResearchCohort`:
    keyed-hash pseudonyms, programme days instead of dates, no notes); uploads nothing.
``admin``
    Sees and uploads everything.

Every read of data goes through :func:`cohort_for`, which takes the current user
and filters by role; dashboard pages and commands never query the store
directly. Asking explicitly for an ID outside one's scope raises
:class:`AccessDenied` (it never silently returns someone else's rows).

Users file
----------
A TOML file, one table per user, passwords stored only as Argon2id hashes
(argon2-cffi, the OWASP-recommended algorithm)::

    [users.physio_a]
    role = "physio"
    physio_id = "physio_a"
    password_hash = "$argon2id$v=19$m=65536,t=3,p=4$..."

An account without ``password_hash`` cannot log in with a password; it is for a
clinic whose identity provider signs people in (Streamlit's ``st.login`` with
OpenID Connect): the dashboard then maps the signed-in e-mail address to its
account with :func:`lookup_user` (add it with ``rehabtrack users add EMAIL --role
... --no-password``).

The file used is ``REHABTRACK_USERS_FILE`` when set, else ``<data dir>/users.toml``
when it exists, else the committed demo accounts of the sample cohort
(``analysis/demo_users.toml``; their passwords are in the README and are public:
create a users file with ``rehabtrack users add`` before storing real data, and
the demo accounts stop working).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import secrets
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from analysis.errors import RehabtrackError
from analysis.export import ResearchCohort, pseudonym_key, pseudonymise_cohort
from analysis.timeline import DateLike

if TYPE_CHECKING:  # pragma: no cover
    from analysis.cohort import CohortTables
    from analysis.store import Store

__all__ = [
    "ROLES",
    "PATIENT",
    "PHYSIO",
    "RESEARCHER",
    "ADMIN",
    "PATIENT_UPLOAD_TABLES",
    "USERS_FILE_ENV",
    "DEMO_USERS_FILE",
    "MIN_PASSWORD_LENGTH",
    "User",
    "AccessDenied",
    "AuthenticationError",
    "hash_password",
    "users_file",
    "load_users",
    "authenticate",
    "lookup_user",
    "add_user",
    "check_upload",
    "check_upload_rows",
    "cohort_for",
    "summary_for",
]

logger = logging.getLogger(__name__)

PATIENT = "patient"
PHYSIO = "physio"
RESEARCHER = "researcher"
ADMIN = "admin"
#: Every role, from least to most privileged.
ROLES: tuple[str, ...] = (PATIENT, PHYSIO, RESEARCHER, ADMIN)
#: Tables a patient may upload (their own logs; never registrations or prescriptions).
PATIENT_UPLOAD_TABLES: tuple[str, ...] = ("sessions", "pain", "proms")

#: Environment variable naming the users file.
USERS_FILE_ENV = "REHABTRACK_USERS_FILE"
#: Users file name inside the data directory.
USERS_FILE_NAME = "users.toml"
#: The committed demo accounts of the sample cohort (passwords in the README; public).
DEMO_USERS_FILE = Path(__file__).with_name("demo_users.toml")
#: Shortest password ``add_user`` accepts (NIST SP 800-63B minimum).
MIN_PASSWORD_LENGTH = 8

_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_HASHER = PasswordHasher()  # Argon2id, argon2-cffi's defaults (RFC 9106 low-memory profile)


@functools.cache
def _dummy_hash() -> str:
    """Verified when the user name is unknown, so that a wrong name takes as long as a wrong password."""
    return _HASHER.hash(secrets.token_hex(16))


class AccessDenied(RehabtrackError, PermissionError):
    """The current user asked for data or an action outside their role's scope."""


class AuthenticationError(RehabtrackError, ValueError):
    """A user name and password did not match (the message never says which was wrong)."""


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


# --------------------------------------------------------------------------------------
# users file and passwords


def hash_password(password: str) -> str:
    """The Argon2id hash of a password (a ``$argon2id$...`` string with its own random salt)."""
    return _HASHER.hash(password)


def users_file(data_dir: str | Path | None = None) -> Path:
    """The users file in force: ``REHABTRACK_USERS_FILE``, else ``<data dir>/users.toml`` if it exists, else the demo.

    Parameters
    ----------
    data_dir
        Data directory; default :func:`analysis.store.data_dir`.

    Returns
    -------
    pathlib.Path
        The file to read accounts from.
    """
    env = os.environ.get(USERS_FILE_ENV)
    if env:
        return Path(env)
    local = _local_users_file(data_dir)
    return local if local.is_file() else DEMO_USERS_FILE


def _local_users_file(data_dir: str | Path | None) -> Path:
    if data_dir is None:
        from analysis.store import data_dir as default_data_dir

        data_dir = default_data_dir()
    return Path(data_dir) / USERS_FILE_NAME


def load_users(path: str | Path | None = None) -> dict[str, tuple[User, str | None]]:
    """Read a users file.

    Parameters
    ----------
    path
        The file; default :func:`users_file`.

    Returns
    -------
    dict
        User name to ``(User, password_hash)``; the hash is ``None`` for an
        account that signs in only through an identity provider.

    Raises
    ------
    AuthenticationError
        If the file cannot be read or an entry is incomplete (the message names the entry).
    """
    file = Path(path) if path is not None else users_file()
    if not file.is_file():
        return {}
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AuthenticationError(f"the users file {file} cannot be read: {exc}") from exc
    out: dict[str, tuple[User, str | None]] = {}
    for name, entry in (data.get("users") or {}).items():
        try:
            user = User(username=name, role=entry.get("role", ""), patient_id=entry.get("patient_id"),
                        physio_id=entry.get("physio_id"))
            hashed = entry.get("password_hash")
            if hashed is not None and not str(hashed).startswith("$argon2"):
                raise ValueError("password_hash must be an Argon2 hash (never a plain password)")
        except (KeyError, ValueError, AttributeError) as exc:
            raise AuthenticationError(f"the users file {file} has an invalid entry for {name!r}: {exc}") from exc
        out[name] = (user, hashed)
    return out


def authenticate(username: str, password: str, *, path: str | Path | None = None) -> User:
    """Check a user name and password against the users file.

    Parameters
    ----------
    username, password
        As typed by the person.
    path
        Users file; default :func:`users_file`.

    Returns
    -------
    User
        The account.

    Raises
    ------
    AuthenticationError
        ``"unknown user name or wrong password"`` whichever was wrong; an
        unknown name costs the same hashing time as a wrong password.
    """
    users = load_users(path)
    found = users.get(username)
    try:
        if found is None or found[1] is None:
            _HASHER.verify(_dummy_hash(), password + "\x00")
            raise VerifyMismatchError
        _HASHER.verify(found[1], password)
    except (VerificationError, InvalidHashError):
        logger.info("failed login for %r", username)
        raise AuthenticationError("unknown user name or wrong password") from None
    return found[0]


def lookup_user(username: str, *, path: str | Path | None = None) -> User:
    """The account of someone already signed in by an identity provider (``st.login``), without a password.

    Parameters
    ----------
    username
        The identity the provider vouches for (e.g. ``st.user.email``).
    path
        Users file; default :func:`users_file`.

    Returns
    -------
    User
        The account registered under that name.

    Raises
    ------
    AuthenticationError
        If no account has that name (signing in proves who someone is, not what they may see).
    """
    found = load_users(path).get(username)
    if found is None:
        raise AuthenticationError(f"{username!r} has no rehabtrack account; ask an administrator to add one")
    return found[0]


def _toml_string(value: str) -> str:
    # A JSON string of printable text is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=True)


def add_user(user: User, password: str | None, *, path: str | Path | None = None, replace: bool = False) -> Path:
    """Add (or replace) an account in the local users file.

    Parameters
    ----------
    user
        The account.
    password
        Its password, at least :data:`MIN_PASSWORD_LENGTH` characters; only its hash is
        written. ``None`` for an account that signs in through an identity provider only.
    path
        Users file to write; default ``REHABTRACK_USERS_FILE`` or ``<data dir>/users.toml``
        (never the committed demo file).
    replace
        Replace an existing account of the same name (e.g. a password reset).

    Returns
    -------
    pathlib.Path
        The file written (mode 0600, replaced atomically).

    Raises
    ------
    ValueError
        If the password is too short or the account exists and ``replace`` is False.
    """
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    env = os.environ.get(USERS_FILE_ENV)
    file = Path(path) if path is not None else Path(env) if env else _local_users_file(None)
    if file.resolve() == DEMO_USERS_FILE.resolve():
        raise ValueError("the demo accounts file is not for real accounts; give another users file")
    users = load_users(file)
    if user.username in users and not replace:
        raise ValueError(f"user {user.username!r} already exists in {file}; use replace to change it")
    users[user.username] = (user, None if password is None else hash_password(password))
    lines = ["# rehabtrack users. Passwords are Argon2id hashes; edit with `rehabtrack users add`.", ""]
    for name in sorted(users):
        u, hashed = users[name]
        lines.append(f"[users.{_toml_string(name)}]")
        lines.append(f"role = {_toml_string(u.role)}")
        if u.patient_id:
            lines.append(f"patient_id = {_toml_string(u.patient_id)}")
        if u.physio_id:
            lines.append(f"physio_id = {_toml_string(u.physio_id)}")
        if hashed is not None:
            lines.append(f"password_hash = {_toml_string(hashed)}")
        lines.append("")
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    os.replace(tmp, file)
    return file


# --------------------------------------------------------------------------------------
# uploads


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
    """
    if user.role != PHYSIO or frame.empty:
        return
    ids = pd.Index(frame["patient_id"].astype("string").unique())
    mine = pd.Index(list(caseload), dtype="string")
    if table == "patients":
        others = frame.loc[frame["physio_id"].astype("string") != user.physio_id, "patient_id"].unique()
        if len(others):
            raise AccessDenied(
                f"this patients file registers {_ids_text(others)} to another physio; a physio can only "
                f"register patients to themselves ({user.physio_id}). Ask an administrator to move patients.")
        taken = ids[ids.isin(pd.Index(list(registered), dtype="string")) & ~ids.isin(mine)]
        if len(taken):
            raise AccessDenied(f"{_ids_text(taken)} already registered with another physio; "
                               "ask an administrator to move them to your caseload.")
        return
    outside = ids[~ids.isin(mine)]
    if len(outside):
        raise AccessDenied(
            f"this file has rows for {_ids_text(outside)}, not on your caseload ({user.physio_id}); "
            "remove those rows, register the patients first, or ask an administrator. Nothing was stored.")


def _ids_text(ids: Sequence[str] | pd.Index) -> str:
    ids = [str(i) for i in ids]
    shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    return ("patient " if len(ids) == 1 else "patients ") + shown


# --------------------------------------------------------------------------------------
# THE data-access function


def cohort_for(
    user: User,
    store: Store,
    *,
    patient_ids: Sequence[str] | None = None,
    include_notes: bool = False,
    key: bytes | None = None,
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
        Pseudonym key for researchers; default :func:`analysis.export.pseudonym_key`
        of the store's data directory.

    Returns
    -------
    CohortTables or ResearchCohort
        Patient: the canonical tables with only their own rows. Physio: the
        rows of their caseload (patients whose ``physio_id`` is theirs). Admin:
        everything. Researcher: a :class:`analysis.export.ResearchCohort` of the
        whole cohort (no ``patient_id``, ``physio_id``, notes or calendar dates).

    Raises
    ------
    AccessDenied
        If ``patient_ids`` names anyone outside the user's scope (another
        patient for a patient, another physio's patient for a physio, anything
        that is not a pseudonym of the cohort for a researcher). The message
        does not say whether such a patient exists.
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
        return store.read_cohort(patient_ids=wanted)
    if user.role == PATIENT:
        own = str(user.patient_id)
        if wanted is not None and any(p != own for p in wanted):
            raise AccessDenied(f"you can only see your own data (patient {own})")
        return store.read_cohort(patient_ids=[own] if wanted is None else wanted)
    if user.role == PHYSIO:
        if wanted is not None:
            caseload = set(store.caseload(str(user.physio_id)))
            outside = [p for p in wanted if p not in caseload]
            if outside:
                raise AccessDenied(f"{_ids_text(outside)} not on your caseload ({user.physio_id})")
        return store.read_cohort(patient_ids=wanted, physio_id=str(user.physio_id))
    raise AccessDenied(f"unknown role {user.role!r}")  # pragma: no cover - User validates roles


def summary_for(
    user: User,
    store: Store,
    *,
    as_of: DateLike | None = None,
    settings: object = None,
    key: bytes | None = None,
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
    :func:`analysis.export.pseudonymise_ids` (the same as in the research
    tables), ``programme_start`` becomes ``start_month`` (``YYYY-MM``), and the
    calendar dates and the free-text ``attention_reasons`` are dropped.

    Parameters
    ----------
    user, store
        As for :func:`cohort_for`.
    as_of, settings
        Passed to :func:`analysis.cohort.cohort_summary`.
    key
        Pseudonym key for researchers (default: the store's).

    Returns
    -------
    pandas.DataFrame
        One row per patient in the user's scope; for researchers ``pseudonym``,
        ``physio_pseudonym`` and ``start_month`` instead of identifiers and dates,
        sorted by pseudonym.
    """
    from analysis.cohort import CohortTables, cohort_summary
    from analysis.export import pseudonymise_ids
    from analysis.settings import DEFAULT_SETTINGS

    used = settings if settings is not None else DEFAULT_SETTINGS
    if user.role == PHYSIO:  # the active caseload: archived patients keep their data but leave the list
        tables = cohort_for(user, store, patient_ids=store.active_caseload(str(user.physio_id)))
        assert isinstance(tables, CohortTables)
        return cohort_summary(tables, as_of=as_of, settings=used)  # type: ignore[arg-type]
    if user.role != RESEARCHER:
        tables = cohort_for(user, store)
        assert isinstance(tables, CohortTables)
        return cohort_summary(tables, as_of=as_of, settings=used)  # type: ignore[arg-type]
    summary = cohort_summary(store.read_cohort(), as_of=as_of, settings=used)  # type: ignore[arg-type]
    secret = key if key is not None else pseudonym_key(store.data_dir)
    dated = ("last_entry_date", "last_session_date", "odi_latest_at", "rmdq_latest_at", "attention_reasons")
    out = summary.drop(columns=[c for c in dated if c in summary.columns])
    out.insert(0, "pseudonym", pseudonymise_ids(summary["patient_id"], secret, kind="patient"))
    out["physio_pseudonym"] = pseudonymise_ids(summary["physio_id"], secret, kind="physio")
    out["start_month"] = summary["programme_start"].dt.strftime("%Y-%m").astype("string")
    out = out.drop(columns=["patient_id", "physio_id", "programme_start"])
    out.attrs = {}
    return out.sort_values("pseudonym", kind="stable").reset_index(drop=True)
