"""Login, the session user, and which pages each role gets.

Passwords are checked by :func:`analysis.accounts.authenticate` (Argon2id hashes in
the users file: ``REHABTRACK_USERS_FILE``, ``<data dir>/users.toml``, or the
public demo accounts of the sample). When ``.streamlit/secrets.toml`` has an
``[auth]`` section (OpenID Connect, Streamlit's ``st.login``), the login page
also offers the clinic's identity provider, and the signed-in e-mail address is
mapped to its account with :func:`analysis.accounts.lookup_user` (signing in
proves who someone is; the users file says what they may see). Failed logins make
the next attempt of that name from that client, and of that client, wait longer
each time (:class:`analysis.accounts.LoginThrottle`, one per server process); no
account is ever locked. The logged-in :class:`analysis.roles.User` lives in this
browser session's ``st.session_state`` under :data:`USER_KEY` (no widget has that
key, so the browser cannot set it).

Sessions follow the accounts file: every rerun checks, with one ``stat`` of the
users file (:func:`analysis.accounts.session_account`), that the account still
exists with the role, scope and password it had at login; otherwise the session
ends and the login page says why. A reload stays logged in for
``REHABTRACK_LOGIN_HOURS`` (default 12) through an HTTP-only, signed, expiring
cookie (:mod:`dashboards.login_cookie`, :mod:`analysis.login_sessions`); logout
revokes it.

:data:`ROLE_PAGES` decides the navigation: a page that is not listed for the
user's role is not registered with ``st.navigation``, so it cannot be opened
by URL or by ``st.switch_page`` in that session.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass

import streamlit as st

from analysis import accounts
from analysis.accounts import AuthenticationError, LoginThrottle, account_stamp, load_accounts, lookup_user, users_file
from analysis.escaping import escape_markdown
from analysis.login_sessions import SESSION_COOKIE, LoginSessions, LoginToken
from analysis.paths import data_dir
from analysis.roles import ADMIN, PATIENT, PHYSIO, RESEARCHER, User
from dashboards import login_cookie

__all__ = [
    "USER_KEY",
    "STAMP_KEY",
    "TRUST_PROXY_ENV",
    "PageSpec",
    "LOGIN_PAGE",
    "ROLE_PAGES",
    "pages_for",
    "current_user",
    "client_address",
    "login_sessions",
    "sign_in",
    "sign_out",
    "login_form",
    "account_box",
    "require_role",
    "demo_accounts_in_use",
    "identity_provider_configured",
]

logger = logging.getLogger(__name__)

#: Session-state key of the logged-in user.
USER_KEY = "_rehabtrack_user"
#: Session-state key of the account stamp at login (:func:`analysis.accounts.account_stamp`).
STAMP_KEY = "_rehabtrack_stamp"
#: Session-state key of why an identity-provider login has no account.
_IDP_ERROR_KEY = "_rehabtrack_idp_error"
#: Session-state keys of the login cookie: this session's token, a ticket to set the cookie, a cookie refused
#: (not checked again), a cookie to delete, and why the last session ended.
_TOKEN_KEY = "_rehabtrack_login_token"
_TICKET_KEY = "_rehabtrack_cookie_ticket"
_REFUSED_KEY = "_rehabtrack_refused_cookie"
_CLEAR_KEY = "_rehabtrack_clear_cookie"
_NOTICE_KEY = "_rehabtrack_notice"
#: Set to 1 behind a reverse proxy that sets X-Forwarded-For: the throttle then counts the browser's address
#: (the first one in the header) instead of the proxy's, which all users would share.
TRUST_PROXY_ENV = "REHABTRACK_TRUST_PROXY"


@dataclass(frozen=True)
class PageSpec:
    """One page of the navigation: its file in ``dashboards/views/``, title, icon and whether it is the default."""

    file: str
    title: str
    icon: str
    default: bool = False


LOGIN_PAGE = PageSpec("login.py", "Log in", ":material/login:", default=True)

_PATIENT = (
    PageSpec("patient_progress.py", "My progress", ":material/monitoring:", default=True),
    PageSpec("patient_upload.py", "Upload my log", ":material/upload_file:"),
    PageSpec("patient_log.py", "Log today", ":material/edit_note:"),  # issue 9
    PageSpec("patient_questionnaires.py", "Questionnaires", ":material/checklist:"),  # issue 9
)
_PHYSIO = (
    PageSpec("physio_caseload.py", "Caseload", ":material/groups:", default=True),
    PageSpec("physio_patient.py", "Patient detail", ":material/person:"),
    PageSpec("physio_prescribe.py", "Prescribe", ":material/assignment_add:"),  # issue 10
    PageSpec("physio_questionnaires.py", "Questionnaires due", ":material/event_upcoming:"),  # issue 9
)
_RESEARCHER = (PageSpec("researcher_cohort.py", "Cohort (pseudonymised)", ":material/query_stats:", default=True),)
# issue 20: the stored model, its calibration and the comparison of physios (physios: only when an admin enables it)
_EXPECTED = PageSpec("expected_recovery.py", "Expected recovery", ":material/insights:")

#: The pages of each role, in menu order (the first default one opens after login).
ROLE_PAGES: dict[str, tuple[PageSpec, ...]] = {
    PATIENT: _PATIENT,
    PHYSIO: (*_PHYSIO, _EXPECTED),
    RESEARCHER: (*_RESEARCHER, _EXPECTED),
    ADMIN: (*_PHYSIO, PageSpec(_RESEARCHER[0].file, _RESEARCHER[0].title, _RESEARCHER[0].icon), _EXPECTED),
}


def pages_for(user: User | None) -> tuple[PageSpec, ...]:
    """The pages ``user`` may open: the login page alone when nobody is logged in."""
    if user is None:
        return (LOGIN_PAGE,)
    return ROLE_PAGES.get(user.role, ())


def identity_provider_configured() -> bool:
    """True when ``st.login`` is set up (an ``[auth]`` section in the Streamlit secrets)."""
    try:
        return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    except Exception:  # an unreadable secrets file: password login only
        logger.warning("could not read the Streamlit secrets; identity-provider login is off")
        return False


def _provider_user() -> User | None:
    """The account of the identity-provider user signed in to this browser, if any."""
    if not identity_provider_configured() or not st.user.is_logged_in:
        return None
    email = str(st.user.get("email") or "")
    try:
        user = lookup_user(email, path=users_file(data_dir()))
    except AuthenticationError as exc:
        st.session_state[_IDP_ERROR_KEY] = str(exc)
        return None
    st.session_state.pop(_IDP_ERROR_KEY, None)
    st.session_state[USER_KEY] = user
    st.session_state[STAMP_KEY] = _stamp_now(user)
    logger.info("login through the identity provider: %s (%s)", user.username, user.role)
    return user


def _stamp_now(user: User) -> str | None:
    """The account stamp of ``user`` in the users file in force, if the account is there as ``user`` says."""
    try:
        found = load_accounts(users_file(data_dir())).get(user.username)
    except AuthenticationError:
        return None
    return account_stamp(found) if found is not None and found.user == user else None


def _session_still_valid(user: User) -> bool:
    """True while the account of this session is in the users file as it was at login, and its cookie not revoked.

    One ``stat`` of the users file per rerun (the parsed file is cached on its modification time). A session
    without a stamp (put in place without a login, as the tests do) is pinned to the account as it is now.
    """
    stamp = st.session_state.get(STAMP_KEY)
    if stamp is None:
        stamp = _stamp_now(user)
        if stamp is None:
            return False
        st.session_state[STAMP_KEY] = stamp
    if accounts.session_account(user.username, str(stamp), path=users_file(data_dir())) != user:
        return False
    token = st.session_state.get(_TOKEN_KEY)
    return not (isinstance(token, LoginToken) and login_sessions().is_revoked(token.token_id))


def _end_session(notice: str) -> None:
    """Forget the session's user (its login cookie is revoked), keep a notice for the login page."""
    token = st.session_state.get(_TOKEN_KEY)
    who = st.session_state.get(USER_KEY)
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if isinstance(token, LoginToken):
        _revoke(token)
        st.session_state[_CLEAR_KEY] = True
    st.session_state[_NOTICE_KEY] = notice
    logger.info("session of %s ended: %s", getattr(who, "username", "?"), notice)


def current_user() -> User | None:
    """The user logged in to this browser session, or ``None``.

    Checked on every rerun against the users file in force (see the module docstring); a
    reload is logged in again from the login cookie while it is valid.
    """
    user = st.session_state.get(USER_KEY)
    if isinstance(user, User):
        if _session_still_valid(user):
            return user
        _end_session("You were logged out because your account was changed (password, role or access) or "
                     "removed. Log in again, or ask the administrator.")
        return None
    found = _provider_user()
    if found is not None:
        return found
    return _cookie_user()


def _request_cookie() -> str | None:
    """The login cookie the browser sent with this session's connection, if any."""
    try:
        value = st.context.cookies.get(SESSION_COOKIE)
    except Exception:  # no browser connection (a bare script run)
        return None
    return value if isinstance(value, str) and value else None


def _cookie_user() -> User | None:
    """Log this session in from a valid login cookie (a reload); a refused cookie is not checked again."""
    value = _request_cookie()
    if value is None or value == st.session_state.get(_REFUSED_KEY):
        return None
    sessions = login_sessions()
    found = sessions.user_for(value, users_path=users_file(data_dir())) if sessions.enabled else None
    if found is None:
        st.session_state[_REFUSED_KEY] = value
        st.session_state[_CLEAR_KEY] = True
        return None
    user, token = found
    st.session_state[USER_KEY] = user
    st.session_state[STAMP_KEY] = token.stamp
    st.session_state[_TOKEN_KEY] = token
    logger.info("login from the login cookie: %s (%s)", user.username, user.role)
    return user


@functools.cache
def _login_sessions(directory: str) -> LoginSessions:
    return LoginSessions(directory)


def login_sessions() -> LoginSessions:
    """The login tokens of this data directory (one object per process and directory)."""
    return _login_sessions(str(data_dir()))


def _revoke(token: LoginToken) -> None:
    try:
        login_sessions().revoke(token)
    except OSError as exc:  # the cookie is still deleted in this browser; the token expires on its own
        logger.error("could not revoke login token of %s: %s", token.username, exc)


def client_address() -> str:
    """Where this session's browser connects from, as the login throttle counts it.

    The connection's address (``st.context.ip_address``; ``"local"`` for this
    computer); with ``REHABTRACK_TRUST_PROXY=1``, the first address of the
    ``X-Forwarded-For`` header that a reverse proxy in front of the app sets.
    """
    if os.environ.get(TRUST_PROXY_ENV, "").strip().lower() in ("1", "true", "yes"):
        try:
            forwarded = st.context.headers.get("X-Forwarded-For")
        except Exception:
            forwarded = None
        if isinstance(forwarded, str) and forwarded:
            return forwarded.split(",")[0].strip() or "unknown"
    try:
        address = st.context.ip_address
    except Exception:
        address = None
    return address if isinstance(address, str) and address else "local"


#: The process-wide record of recent failed logins (slows down password guessing, never locks an account).
_throttle = LoginThrottle()


def sign_in(username: str, password: str) -> User:
    """Check the password and remember the user in this session (and, where enabled, in a login cookie).

    Raises
    ------
    analysis.accounts.AuthenticationError
        Wrong name or password (the message does not say which), or a delay after
        recent failures from this device still running.
    """
    user, stamp = _throttle.login(username.strip(), password, client=client_address(),
                                  path=users_file(data_dir()))
    for key in list(st.session_state.keys()):  # nothing of a previous user survives
        del st.session_state[key]
    st.session_state[USER_KEY] = user
    st.session_state[STAMP_KEY] = stamp
    sessions = login_sessions()
    if sessions.enabled:
        value, token = sessions.issue(user.username, stamp)
        st.session_state[_TOKEN_KEY] = token
        st.session_state[_TICKET_KEY] = login_cookie.new_ticket(value, int(sessions.lifetime_s))
    logger.info("login: %s (%s)", user.username, user.role)
    return user


def sign_out() -> None:
    """Forget the user and everything else of this session; revoke its login cookie (and end an IdP login)."""
    token = st.session_state.get(_TOKEN_KEY)
    cookie = _request_cookie()
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if isinstance(token, LoginToken):
        _revoke(token)
    if cookie is not None:  # the cookie this page was loaded with (another token of this browser)
        sent = login_sessions().read(cookie)
        if sent is not None:
            _revoke(sent)
        st.session_state[_REFUSED_KEY] = cookie
    st.session_state[_CLEAR_KEY] = True
    if identity_provider_configured() and st.user.is_logged_in:
        st.logout()


def _cookie_scripts() -> None:
    """Run, once, the script that sets or deletes the login cookie (see :mod:`dashboards.login_cookie`)."""
    ticket = st.session_state.pop(_TICKET_KEY, None)
    if ticket:
        st.html(login_cookie.set_cookie_script(str(ticket)), unsafe_allow_javascript=True)
    if st.session_state.pop(_CLEAR_KEY, False):
        st.html(login_cookie.clear_cookie_script(), unsafe_allow_javascript=True)


def demo_accounts_in_use() -> bool:
    """True while the public demo accounts of the sample are the users file in force."""
    return accounts.demo_accounts_in_use(data_dir())


def login_form() -> None:
    """The login form; on success the session user is set and the app reruns with the role's pages."""
    _cookie_scripts()
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice:
        st.warning(escape_markdown(notice), icon=":material/logout:")
    if identity_provider_configured():
        problem = st.session_state.get(_IDP_ERROR_KEY)
        if problem and st.user.is_logged_in:
            st.error(f"You are signed in with your clinic account, but {escape_markdown(problem)}.")
            if st.button("Sign out of the clinic account", key="idp_logout"):
                sign_out()
        elif st.button("Log in with your clinic account", type="primary", icon=":material/badge:",
                       key="idp_login"):
            st.login()
        st.caption("Or log in with a rehabtrack user name and password:")
    with st.form("login", clear_on_submit=False, enter_to_submit=True):
        username = st.text_input("User name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        if not username or not password:
            st.error("Enter your user name and your password.")
            return
        try:
            with st.spinner("Checking..."):
                sign_in(username, password)
        except AuthenticationError as exc:
            st.error(f"Could not log in: {escape_markdown(exc)}. Check both and try again; ask your physio or the "
                     "administrator if you have forgotten your password.")
            return
        st.rerun()


def account_box(user: User) -> None:
    """The sidebar box: who is logged in, and the logout button."""
    with st.sidebar:
        _cookie_scripts()
        who = user.patient_id or user.physio_id or user.username
        extra = f", {escape_markdown(who)}" if who != user.username else ""
        st.caption(f"Logged in as **{escape_markdown(user.username)}** ({user.role}{extra})")
        if st.button("Log out", icon=":material/logout:", key="logout"):
            sign_out()
            st.rerun()


def require_role(*roles: str) -> User:
    """The logged-in user if their role is one of ``roles``; otherwise an error and the page stops.

    Pages call this first (defence in depth: the navigation already hides pages of other roles).
    """
    user = current_user()
    if user is None:
        st.error("Please log in first.")
        st.stop()
    if roles and user.role not in roles:
        st.error("Access denied: this page is not part of your account. Use the menu to open your own pages.")
        st.stop()
    return user  # type: ignore[return-value]
