"""Logins that survive a reload: signed, expiring, revocable login tokens (the dashboard's cookie).

A password login in the dashboard lives in the browser session; a reload would
ask for the password again. :class:`LoginSessions` issues a **login token** that
the dashboard keeps in an HTTP-only cookie (``rehabtrack_session``), so that a
reload, or a new tab, is still logged in for :func:`login_lifetime_s` (default
12 hours; ``REHABTRACK_LOGIN_HOURS``, ``0`` turns it off). A token is::

    v1.<payload>.<signature>

with ``payload`` the base64url JSON ``{"u": user name, "s": account stamp, "e":
expiry (Unix seconds), "i": token id}`` and ``signature`` the HMAC-SHA-256 of
``v1.<payload>`` under a server-side secret (``REHABTRACK_SESSION_KEY`` or
``<data dir>/session.key``, mode 0600, made on first use). It is accepted only
while all of these hold:

* the signature verifies (nobody without the key can make or alter one);
* it has not expired;
* its id was not revoked: **logout** revokes it (``<data dir>/revoked_sessions.json``,
  0600, entries dropped once expired), so a copied cookie dies with the logout;
* the account still exists in the users file in force with the same
  :func:`analysis.accounts.account_stamp`: a **password change**, a change of
  **role or scope**, or the **account's removal** (or real accounts replacing
  the demo ones) ends every token of that account.

Changing or deleting the secret ends every token at once.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from analysis.accounts import session_account
from analysis.private_files import make_private_dir, secret_key, write_private
from analysis.roles import User

__all__ = [
    "SESSION_COOKIE",
    "LOGIN_HOURS_ENV",
    "SESSION_KEY_ENV",
    "SESSION_KEY_FILE",
    "REVOKED_FILE",
    "LoginToken",
    "LoginSessions",
    "login_lifetime_s",
]

logger = logging.getLogger(__name__)

#: The cookie's name.
SESSION_COOKIE = "rehabtrack_session"
#: How long a login lasts, hours (default 12, a clinic's working day; 0 = only until the tab is reloaded).
LOGIN_HOURS_ENV = "REHABTRACK_LOGIN_HOURS"
#: The secret signing the tokens (at least 32 characters); default the data directory's ``session.key``.
SESSION_KEY_ENV = "REHABTRACK_SESSION_KEY"
SESSION_KEY_FILE = "session.key"
#: Revoked token ids (logouts) and their expiry, in the data directory.
REVOKED_FILE = "revoked_sessions.json"
_DEFAULT_HOURS = 12.0
_VERSION = "v1"


def login_lifetime_s() -> float:
    """Seconds a login token lasts: ``REHABTRACK_LOGIN_HOURS`` (default 12) times 3600; 0 when turned off.

    Raises
    ------
    ValueError
        When the variable is not a number of hours between 0 and 720 (30 days).
    """
    text = os.environ.get(LOGIN_HOURS_ENV, "").strip()
    hours = float(text) if text else _DEFAULT_HOURS
    if not 0 <= hours <= 720:
        raise ValueError(f"{LOGIN_HOURS_ENV} must be between 0 and 720 hours, not {text}")
    return hours * 3600.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LoginToken:
    """What a valid login token says.

    Attributes
    ----------
    username
        The account.
    stamp
        :func:`analysis.accounts.account_stamp` of the account when the token was issued.
    expires
        Unix time (seconds) after which the token is refused.
    token_id
        Random id (128 bits), revoked at logout.
    """

    username: str
    stamp: str
    expires: int
    token_id: str


class LoginSessions:
    """Issue, check and revoke login tokens of one data directory (see the module docstring).

    Parameters
    ----------
    data_dir
        Holds ``session.key`` and ``revoked_sessions.json``.
    key
        The signing secret; default ``REHABTRACK_SESSION_KEY`` or ``<data_dir>/session.key``.
    lifetime_s
        Seconds a token lasts; default :func:`login_lifetime_s`.
    """

    def __init__(self, data_dir: str | Path, *, key: bytes | None = None, lifetime_s: float | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.lifetime_s = login_lifetime_s() if lifetime_s is None else float(lifetime_s)
        self._key = key if key is not None else self._default_key()
        self._lock = threading.Lock()
        self._revoked: dict[str, int] = {}
        self._revoked_seen: tuple[int, int, int] | None = None

    def _default_key(self) -> bytes:
        from_env = os.environ.get(SESSION_KEY_ENV)
        if from_env:
            if len(from_env) < 32:
                raise ValueError(f"{SESSION_KEY_ENV} is too short ({len(from_env)} characters); use at least 32")
            return from_env.encode("utf-8")
        return secret_key(self.data_dir / SESSION_KEY_FILE)

    @property
    def enabled(self) -> bool:
        """True when logins last beyond the browser session (a lifetime above 0)."""
        return self.lifetime_s > 0

    # ---- tokens ------------------------------------------------------------------------

    def _sign(self, signed_part: str) -> str:
        return _b64(hmac.new(self._key, signed_part.encode("ascii"), hashlib.sha256).digest())

    def issue(self, username: str, stamp: str, *, now: float | None = None) -> tuple[str, LoginToken]:
        """A new token for ``username`` whose account has ``stamp``; returns ``(cookie value, token)``."""
        now = time.time() if now is None else now
        token = LoginToken(username, stamp, int(now + self.lifetime_s), secrets.token_hex(16))
        payload = _b64(json.dumps({"u": token.username, "s": token.stamp, "e": token.expires, "i": token.token_id},
                                  separators=(",", ":")).encode("utf-8"))
        signed_part = f"{_VERSION}.{payload}"
        return f"{signed_part}.{self._sign(signed_part)}", token

    def read(self, value: str, *, now: float | None = None) -> LoginToken | None:
        """The token in a cookie value if its signature verifies, it has not expired and was not revoked."""
        now = time.time() if now is None else now
        parts = value.split(".") if isinstance(value, str) and len(value) < 4096 else []
        if len(parts) != 3 or parts[0] != _VERSION:
            return None
        signed_part = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(parts[2], self._sign(signed_part)):
            return None
        try:
            data = json.loads(_unb64(parts[1]))
            token = LoginToken(str(data["u"]), str(data["s"]), int(data["e"]), str(data["i"]))
        except (ValueError, KeyError, TypeError):
            return None
        if token.expires <= now or self.is_revoked(token.token_id):
            return None
        return token

    def user_for(self, value: str, *, users_path: str | Path | None = None,
                 now: float | None = None) -> tuple[User, LoginToken] | None:
        """The account a cookie value logs in, if the token is valid and the account is as it was (else ``None``)."""
        token = self.read(value, now=now)
        if token is None:
            return None
        user = session_account(token.username, token.stamp, path=users_path)
        if user is None:
            return None
        return user, token

    # ---- revocation (logout) -----------------------------------------------------------

    def _revoked_path(self) -> Path:
        return self.data_dir / REVOKED_FILE

    def _load_revoked(self) -> dict[str, int]:
        path = self._revoked_path()
        try:
            info = path.stat()
        except OSError:
            return {}
        seen = (info.st_ino, info.st_size, info.st_mtime_ns)
        if seen != self._revoked_seen:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self._revoked = {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}
            except (OSError, ValueError):
                logger.warning("%s cannot be read; treating every login token as revoked", path)
                self._revoked = {"*": 2**62}
            self._revoked_seen = seen
        return self._revoked

    def is_revoked(self, token_id: str) -> bool:
        """True when ``token_id`` was revoked (or the revocation list cannot be read)."""
        with self._lock:
            revoked = self._load_revoked()
        return token_id in revoked or "*" in revoked

    def revoke(self, token: LoginToken, *, now: float | None = None) -> None:
        """Revoke a token (logout): refused from now on, on every server process sharing the data directory."""
        now = time.time() if now is None else now
        make_private_dir(self.data_dir)
        with self._lock, self._file_lock():
            revoked = {k: v for k, v in self._load_revoked().items() if v > now}  # "*" (unreadable) stays
            revoked[token.token_id] = token.expires
            write_private(self._revoked_path(), json.dumps(revoked, sort_keys=True))
            self._revoked_seen = None

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        fd = os.open(self.data_dir / f".{REVOKED_FILE}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
