"""Accounts: the users file, password hashes and the pause after repeated failed logins.

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

Failed logins
-------------
:class:`LoginThrottle` counts recent failed logins per user name; after
:data:`MAX_FAILURES` within :data:`LOCKOUT_S` seconds that name must wait, which
slows down password guessing. The dashboard keeps one per server process.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import secrets
import threading
import time
import tomllib
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from analysis.errors import RehabtrackError
from analysis.paths import data_dir as default_data_dir
from analysis.roles import User

__all__ = [
    "USERS_FILE_ENV",
    "USERS_FILE_NAME",
    "DEMO_USERS_FILE",
    "MIN_PASSWORD_LENGTH",
    "MAX_FAILURES",
    "LOCKOUT_S",
    "AuthenticationError",
    "LoginThrottle",
    "hash_password",
    "new_password",
    "users_file",
    "demo_accounts_in_use",
    "load_users",
    "authenticate",
    "lookup_user",
    "add_user",
]

logger = logging.getLogger(__name__)

#: Environment variable naming the users file.
USERS_FILE_ENV = "REHABTRACK_USERS_FILE"
#: Users file name inside the data directory.
USERS_FILE_NAME = "users.toml"
#: The committed demo accounts of the sample cohort (passwords in the README; public).
DEMO_USERS_FILE = Path(__file__).with_name("demo_users.toml")
#: Shortest password ``add_user`` accepts (NIST SP 800-63B minimum).
MIN_PASSWORD_LENGTH = 8
#: Failed logins per user name before a pause, and the pause (seconds).
MAX_FAILURES = 5
LOCKOUT_S = 60.0

_HASHER = PasswordHasher()  # Argon2id, argon2-cffi's defaults (RFC 9106 low-memory profile)


class AuthenticationError(RehabtrackError, ValueError):
    """A user name and password did not match (the message never says which was wrong)."""


@functools.cache
def _dummy_hash() -> str:
    """Verified when the user name is unknown, so that a wrong name takes as long as a wrong password."""
    return _HASHER.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    """The Argon2id hash of a password (a ``$argon2id$...`` string with its own random salt).

    See Also
    --------
    authenticate : Checks a password against the hash in the users file.
    """
    return _HASHER.hash(password)


def new_password() -> str:
    """A random initial password: four groups of four base-32 characters (80 bits), e.g. ``"abcd-efgh-ijkl-mnop"``.

    See Also
    --------
    analysis.access.add_patient : Gives a new patient one, shown once.
    """
    text = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
    return "-".join(text[i:i + 4] for i in range(0, 16, 4))


def users_file(data_dir: str | Path | None = None) -> Path:
    """The users file in force: ``REHABTRACK_USERS_FILE``, else ``<data dir>/users.toml`` if it exists, else the demo.

    Parameters
    ----------
    data_dir
        Data directory; default :func:`analysis.paths.data_dir`.

    Returns
    -------
    pathlib.Path
        The file to read accounts from.

    See Also
    --------
    demo_accounts_in_use : Whether that file is the public demo file.
    """
    env = os.environ.get(USERS_FILE_ENV)
    if env:
        return Path(env)
    local = _local_users_file(data_dir)
    return local if local.is_file() else DEMO_USERS_FILE


def demo_accounts_in_use(data_dir: str | Path | None = None) -> bool:
    """True while the public demo accounts of the sample are the users file in force."""
    return users_file(data_dir).resolve() == DEMO_USERS_FILE.resolve()


def _local_users_file(data_dir: str | Path | None) -> Path:
    return Path(data_dir if data_dir is not None else default_data_dir()) / USERS_FILE_NAME


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

    See Also
    --------
    LoginThrottle : The pause after repeated failures.
    lookup_user : The account of someone signed in by an identity provider.
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


def add_user(user: User, password: str | None, *, path: str | os.PathLike[str] | None = None,
             replace: bool = False) -> Path:
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


class LoginThrottle:
    """Recent failed logins per user name: after too many, that name waits (slows down password guessing).

    Parameters
    ----------
    max_failures
        Failures within ``lockout_s`` seconds after which the name must wait
        (default :data:`MAX_FAILURES`).
    lockout_s
        The window and the pause, seconds (default :data:`LOCKOUT_S`).

    Notes
    -----
    Thread-safe; one object per server process. Times are :func:`time.monotonic`
    seconds, passed in by the caller (``now``) so that tests control the clock.
    """

    def __init__(self, max_failures: int = MAX_FAILURES, lockout_s: float = LOCKOUT_S) -> None:
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, username: str, now: float | None = None) -> float:
        """Seconds ``username`` must still wait before the next attempt (0 when it may try now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = [t for t in self._failures.get(username, []) if now - t < self.lockout_s]
            self._failures[username] = recent
            if len(recent) >= self.max_failures:
                return self.lockout_s - (now - recent[-self.max_failures])
        return 0.0

    def failed(self, username: str, now: float | None = None) -> None:
        """Record a failed attempt."""
        with self._lock:
            self._failures.setdefault(username, []).append(time.monotonic() if now is None else now)

    def succeeded(self, username: str) -> None:
        """Forget the failures of a name that logged in."""
        with self._lock:
            self._failures.pop(username, None)

    def authenticate(self, username: str, password: str, *, path: str | Path | None = None) -> User:
        """:func:`authenticate`, refused while the name must wait, and counting the failures.

        Raises
        ------
        AuthenticationError
            Wrong name or password (the message does not say which), or too many
            recent failures for this name (the message says how long to wait).
        """
        now = time.monotonic()
        wait = self.wait_s(username, now)
        if wait > 0:
            raise AuthenticationError(f"too many failed attempts for this user name; try again in {wait:.0f} seconds")
        try:
            user = authenticate(username, password, path=path)
        except AuthenticationError:
            self.failed(username, now)
            raise
        self.succeeded(username)
        return user
