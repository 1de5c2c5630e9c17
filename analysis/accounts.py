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

A password is at least :data:`MIN_PASSWORD_LENGTH` (12) characters, not only
white space and not the user name (:func:`check_password`). Each account records
when its password was last set (``password_changed``); :func:`account_stamp`
changes when the password, the role or the scope changes, and a login session
that remembers an older stamp ends (:func:`session_account`). When the Argon2
parameters of this release differ from those a hash was made with, the hash is
made again at the next successful login (the stamp stays: a re-hash is not a new password).

Failed logins
-------------
:class:`LoginThrottle` slows down password guessing without ever locking an
account: failures are counted per (user name, client address) and per client
address across all user names, and each key's next attempt waits a delay that
doubles with every failure past a few free ones (1 s, 2 s, 4 s, ... at most
5 minutes). The real user, from their own device, is never made to wait by
someone else's failures. The dashboard keeps one throttle per server process.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import secrets
import threading
import time
import tomllib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from analysis.errors import RehabtrackError
from analysis.paths import data_dir as default_data_dir
from analysis.private_files import make_private_dir, write_private
from analysis.roles import User

__all__ = [
    "USERS_FILE_ENV",
    "USERS_FILE_NAME",
    "DEMO_USERS_FILE",
    "MIN_PASSWORD_LENGTH",
    "AuthenticationError",
    "PasswordPolicyError",
    "Account",
    "LoginThrottle",
    "check_password",
    "hash_password",
    "new_password",
    "users_file",
    "demo_accounts_in_use",
    "load_users",
    "load_accounts",
    "account_stamp",
    "session_account",
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
#: Shortest password ``add_user`` accepts (a project choice above NIST SP 800-63B's minimum of 8: the accounts
#: guard health data, and a passphrase of 12 characters is easy to remember).
MIN_PASSWORD_LENGTH = 12

_HASHER = PasswordHasher()  # Argon2id, argon2-cffi's defaults (RFC 9106 low-memory profile)


class AuthenticationError(RehabtrackError, ValueError):
    """A user name and password did not match (the message never says which was wrong)."""


class PasswordPolicyError(RehabtrackError, ValueError):
    """A new password is too short, only white space, or the user name."""


def check_password(username: str, password: str) -> None:
    """Refuse a new password that is too easy to guess.

    Parameters
    ----------
    username
        The account's login name.
    password
        The new password, as typed.

    Raises
    ------
    PasswordPolicyError
        Fewer than :data:`MIN_PASSWORD_LENGTH` characters, only white space, or
        the user name itself (ignoring case and surrounding spaces).

    Examples
    --------
    >>> check_password("anna", "correct horse battery")
    >>> check_password("anna", " " * 12)
    Traceback (most recent call last):
    ...
    analysis.accounts.PasswordPolicyError: the password cannot be only spaces
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters "
                                  f"(it has {len(password)}); a few words in a row are easy to remember")
    if not password.strip():
        raise PasswordPolicyError("the password cannot be only spaces")
    if password.strip().casefold() == username.strip().casefold():
        raise PasswordPolicyError("the password cannot be the user name")


@dataclass(frozen=True)
class Account:
    """One entry of the users file.

    Attributes
    ----------
    user
        Who it is and what they may see.
    password_hash
        The Argon2id hash; ``None`` for an account that signs in only through an identity provider.
    password_changed
        When the password was last set (ISO 8601, UTC); ``None`` in files written before this was recorded.
    """

    user: User
    password_hash: str | None
    password_changed: str | None = None


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
    return {name: (a.user, a.password_hash) for name, a in load_accounts(path).items()}


def load_accounts(path: str | Path | None = None) -> dict[str, Account]:
    """Read a users file into :class:`Account` entries (cached while the file is unchanged).

    Parameters
    ----------
    path
        The file; default :func:`users_file`.

    Returns
    -------
    dict
        User name to :class:`Account`; empty when the file does not exist.

    Raises
    ------
    AuthenticationError
        If the file cannot be read or an entry is incomplete (the message names the entry).

    Notes
    -----
    The file is parsed again only when its inode, size or modification time
    changed (one ``stat`` per call otherwise), so that every rerun of the
    dashboard can check the logged-in account cheaply.
    """
    file = Path(path) if path is not None else users_file()
    try:
        info = file.stat()
    except OSError:
        return {}
    if not file.is_file():
        return {}
    return dict(_parse_accounts(str(file.resolve()), info.st_ino, info.st_size, info.st_mtime_ns))


@functools.lru_cache(maxsize=16)
def _parse_accounts(file_name: str, _inode: int, _size: int, _mtime_ns: int) -> dict[str, Account]:
    file = Path(file_name)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AuthenticationError(f"the users file {file} cannot be read: {exc}") from exc
    out: dict[str, Account] = {}
    for name, entry in (data.get("users") or {}).items():
        try:
            user = User(username=name, role=entry.get("role", ""), patient_id=entry.get("patient_id"),
                        physio_id=entry.get("physio_id"))
            hashed = entry.get("password_hash")
            if hashed is not None and not str(hashed).startswith("$argon2"):
                raise ValueError("password_hash must be an Argon2 hash (never a plain password)")
            changed = entry.get("password_changed")
        except (KeyError, ValueError, AttributeError) as exc:
            raise AuthenticationError(f"the users file {file} has an invalid entry for {name!r}: {exc}") from exc
        out[name] = Account(user, hashed, None if changed is None else str(changed))
    return out


def account_stamp(account: Account) -> str:
    """A short fingerprint of what a login session relies on: the user, role, scope and password.

    It changes when the role, the patient or physio ID, or the password changes
    (a new ``password_changed``, or for older files a new hash), and not when a
    hash is only re-made with new Argon2 parameters.
    """
    u = account.user
    secret_part = account.password_changed or account.password_hash or ""
    text = "\x00".join([u.username, u.role, u.patient_id or "", u.physio_id or "", secret_part])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def session_account(username: str, stamp: str, *, path: str | Path | None = None) -> User | None:
    """The account a login session belongs to, if it is still as it was at login; else ``None``.

    Parameters
    ----------
    username
        The name the session logged in with.
    stamp
        :func:`account_stamp` of the account at login.
    path
        Users file; default :func:`users_file` (which becomes the local users file
        the moment one is created, so a session opened with a demo account ends).

    Returns
    -------
    User or None
        ``None`` when the account no longer exists in the users file in force, or
        its role, scope or password changed since the login.
    """
    try:
        found = load_accounts(path).get(username)
    except AuthenticationError:
        return None
    if found is None or account_stamp(found) != stamp:
        return None
    return found.user


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
        The account. When its hash was made with other Argon2 parameters than
        this release's, the users file is rewritten with a new hash of the same
        password (the account's stamp does not change).

    Raises
    ------
    AuthenticationError
        ``"unknown user name or wrong password"`` whichever was wrong; an
        unknown name costs the same hashing time as a wrong password.

    See Also
    --------
    LoginThrottle : The delays after repeated failures.
    lookup_user : The account of someone signed in by an identity provider.
    """
    return _authenticate(username, password, path)[0]


def _authenticate(username: str, password: str, path: str | Path | None) -> tuple[User, Account]:
    file = Path(path) if path is not None else users_file()
    found = load_accounts(file).get(username)
    try:
        if found is None or found.password_hash is None:
            _HASHER.verify(_dummy_hash(), password + "\x00")
            raise VerifyMismatchError
        _HASHER.verify(found.password_hash, password)
    except (VerificationError, InvalidHashError):
        logger.info("failed login for %r", username)
        raise AuthenticationError("unknown user name or wrong password") from None
    if _HASHER.check_needs_rehash(found.password_hash) and file.resolve() != DEMO_USERS_FILE.resolve():
        try:
            found = _rehash(file, username, found, password)
        except OSError as exc:  # the login stands; the hash is re-made at a later login
            logger.warning("could not re-hash the password of %r in %s: %s", username, file, exc)
    return found.user, found


def _rehash(file: Path, username: str, seen: Account, password: str) -> Account:
    """Replace an outdated hash of ``username`` (unless the account changed meanwhile); the account as now stored.

    The stamp stays the same when the file records ``password_changed``; an entry of an older file gets it
    now (its stamp, and so the user's other sessions, change this once).
    """
    with _locked(file):
        accounts = dict(_parse_accounts_fresh(file))
        current = accounts.get(username)
        if current is None or current.password_hash != seen.password_hash:
            return seen
        renewed = Account(current.user, hash_password(password), current.password_changed or _now_iso())
        accounts[username] = renewed
        _write_accounts(file, accounts)
    logger.info("re-hashed the password of %r with this release's Argon2 parameters", username)
    return renewed


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
        Its password (:func:`check_password`: at least :data:`MIN_PASSWORD_LENGTH`
        characters, not only spaces, not the user name); only its hash is
        written, with the time it was set. ``None`` for an account that signs in
        through an identity provider only.
    path
        Users file to write; default ``REHABTRACK_USERS_FILE`` or ``<data dir>/users.toml``
        (never the committed demo file).
    replace
        Replace an existing account of the same name (e.g. a password reset). The
        account's login sessions end (its stamp changes).

    Returns
    -------
    pathlib.Path
        The file written (mode 0600, replaced atomically).

    Raises
    ------
    PasswordPolicyError
        If the password is too easy to guess.
    ValueError
        If the account exists and ``replace`` is False.
    """
    if password is not None:
        check_password(user.username, password)
    env = os.environ.get(USERS_FILE_ENV)
    file = Path(path) if path is not None else Path(env) if env else _local_users_file(None)
    if file.resolve() == DEMO_USERS_FILE.resolve():
        raise ValueError("the demo accounts file is not for real accounts; give another users file")
    make_private_dir(file.parent)
    with _locked(file):
        accounts = dict(_parse_accounts_fresh(file))
        if user.username in accounts and not replace:
            raise ValueError(f"user {user.username!r} already exists in {file}; use replace to change it")
        hashed = None if password is None else hash_password(password)
        accounts[user.username] = Account(user, hashed, None if password is None else _now_iso())
        _write_accounts(file, accounts)
    return file


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _parse_accounts_fresh(file: Path) -> dict[str, Account]:
    """The accounts of ``file`` read now (not from the cache), for a read-modify-write under the lock."""
    if not file.is_file():
        return {}
    info = file.stat()
    _parse_accounts.cache_clear()
    return _parse_accounts(str(file.resolve()), info.st_ino, info.st_size, info.st_mtime_ns)


@contextlib.contextmanager
def _locked(file: Path) -> Iterator[None]:
    """Serialise writers of a users file (the CLI and the dashboard's re-hash) with a lock file beside it."""
    lock = file.with_name(f".{file.name}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write_accounts(file: Path, accounts: dict[str, Account]) -> None:
    lines = ["# rehabtrack users. Passwords are Argon2id hashes; edit with `rehabtrack users add`.", ""]
    for name in sorted(accounts):
        a = accounts[name]
        u = a.user
        lines.append(f"[users.{_toml_string(name)}]")
        lines.append(f"role = {_toml_string(u.role)}")
        if u.patient_id:
            lines.append(f"patient_id = {_toml_string(u.patient_id)}")
        if u.physio_id:
            lines.append(f"physio_id = {_toml_string(u.physio_id)}")
        if a.password_hash is not None:
            lines.append(f"password_hash = {_toml_string(a.password_hash)}")
        if a.password_changed is not None:
            lines.append(f"password_changed = {_toml_string(a.password_changed)}")
        lines.append("")
    write_private(file, "\n".join(lines))


class LoginThrottle:
    """Delays after failed logins that grow per (user name, client) and per client, never a lock of the account.

    Parameters
    ----------
    free_per_account
        Failures of one user name from one client before its next attempt must wait (default 3).
    free_per_client
        Failures from one client, whatever the user names, before its next attempt must wait (default 10):
        one password tried against many names is slowed down too.
    base_s
        The first delay, seconds (default 1); each further failure doubles it.
    max_s
        The longest delay, seconds (default 300).
    window_s
        Failures older than this are forgotten, seconds (default 900).
    max_keys
        Most keys remembered; the oldest are forgotten first (bounds the memory an attacker can fill).

    Notes
    -----
    After ``n`` recent failures of a key, its next attempt is allowed ``base_s *
    2 ** (n - free)`` seconds (at most ``max_s``) after the last failure. A user
    name is never locked: the real user, from another client, logs in at once.
    A successful login forgets the failures of that user name from that client
    (not those of the client: a valid account of the attacker's own cannot reset them).
    Thread-safe; one object per server process. Times are :func:`time.monotonic`
    seconds, passed in by the caller (``now``) so that tests control the clock.
    Delays are project choices (OWASP Authentication Cheat Sheet: throttle
    rather than lock out, to avoid denial of service against the user).
    """

    def __init__(self, free_per_account: int = 3, free_per_client: int = 10, base_s: float = 1.0,
                 max_s: float = 300.0, window_s: float = 900.0, max_keys: int = 100_000) -> None:
        self.free_per_account = free_per_account
        self.free_per_client = free_per_client
        self.base_s = base_s
        self.max_s = max_s
        self.window_s = window_s
        self.max_keys = max_keys
        self._failures: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, client: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return ("account", username.strip().casefold(), client), ("client", client)

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def _delay(self, count: int, free: int) -> float:
        if count < free:
            return 0.0
        return min(self.max_s, self.base_s * 2.0 ** min(count - free, 64))

    def wait_s(self, username: str, client: str = "", now: float | None = None) -> float:
        """Seconds before ``username`` may try again from ``client`` (0 when it may try now)."""
        now = time.monotonic() if now is None else now
        account_key, client_key = self._keys(username, client)
        with self._lock:
            wait = 0.0
            for key, free in ((account_key, self.free_per_account), (client_key, self.free_per_client)):
                times = self._recent(key, now)
                if times:
                    wait = max(wait, times[-1] + self._delay(len(times), free) - now)
        return max(wait, 0.0)

    def failed(self, username: str, client: str = "", now: float | None = None) -> None:
        """Record a failed attempt of ``username`` from ``client``."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._failures) >= self.max_keys:
                self._forget_oldest(now)
            for key in self._keys(username, client):
                self._failures.setdefault(key, deque()).append(now)

    def _forget_oldest(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        if len(self._failures) >= self.max_keys:
            oldest = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in oldest[: len(oldest) // 10 + 1]:
                del self._failures[key]

    def succeeded(self, username: str, client: str = "") -> None:
        """Forget the failures of ``username`` from ``client`` (the client's own count stays)."""
        with self._lock:
            self._failures.pop(self._keys(username, client)[0], None)

    def authenticate(self, username: str, password: str, *, client: str = "",
                     path: str | Path | None = None) -> User:
        """:func:`authenticate`, refused while this name or this client must wait, and counting the failures.

        Parameters
        ----------
        username, password
            As typed.
        client
            Where the attempt comes from (the browser's address as the server sees it).
        path
            Users file; default :func:`users_file`.

        Raises
        ------
        AuthenticationError
            Wrong name or password (the message does not say which), or a delay
            still running (the message says how long).
        """
        return self.login(username, password, client=client, path=path)[0]

    def login(self, username: str, password: str, *, client: str = "",
              path: str | Path | None = None) -> tuple[User, str]:
        """As :meth:`authenticate`, also returning the account's :func:`account_stamp` (for the session)."""
        now = time.monotonic()
        wait = self.wait_s(username, client, now)
        if wait > 0:
            raise AuthenticationError(
                f"too many failed attempts from this device; wait {max(wait, 1):.0f} seconds before trying again")
        try:
            user, account = _authenticate(username, password, path)
        except AuthenticationError:
            self.failed(username, client, now)
            raise
        self.succeeded(username, client)
        return user, account_stamp(account)
