"""Login, the session user, and which pages each role gets.

Passwords are checked by :func:`analysis.accounts.authenticate` (Argon2id hashes in
the users file: ``REHABTRACK_USERS_FILE``, ``<data dir>/users.toml``, or the
public demo accounts of the sample). When ``.streamlit/secrets.toml`` has an
``[auth]`` section (OpenID Connect, Streamlit's ``st.login``), the login page
also offers the clinic's identity provider, and the signed-in e-mail address is
mapped to its account with :func:`analysis.accounts.lookup_user` (signing in
proves who someone is; the users file says what they may see). Repeated failed logins for one
name pause that name (:class:`analysis.accounts.LoginThrottle`, one per server process).
The logged-in :class:`analysis.roles.User`
lives in this browser session's ``st.session_state`` under :data:`USER_KEY`
(no widget has that key, so the browser cannot set it). A reload of the page
starts a new session and asks for the password again.

:data:`ROLE_PAGES` decides the navigation: a page that is not listed for the
user's role is not registered with ``st.navigation``, so it cannot be opened
by URL or by ``st.switch_page`` in that session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import streamlit as st

from analysis import accounts
from analysis.accounts import AuthenticationError, LoginThrottle, lookup_user, users_file
from analysis.escaping import escape_markdown
from analysis.paths import data_dir
from analysis.roles import ADMIN, PATIENT, PHYSIO, RESEARCHER, User

__all__ = [
    "USER_KEY",
    "PageSpec",
    "LOGIN_PAGE",
    "ROLE_PAGES",
    "pages_for",
    "current_user",
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
#: Session-state key of why an identity-provider login has no account.
_IDP_ERROR_KEY = "_rehabtrack_idp_error"


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

#: The pages of each role, in menu order (the first default one opens after login).
ROLE_PAGES: dict[str, tuple[PageSpec, ...]] = {
    PATIENT: _PATIENT,
    PHYSIO: _PHYSIO,
    RESEARCHER: _RESEARCHER,
    ADMIN: (*_PHYSIO, PageSpec(_RESEARCHER[0].file, _RESEARCHER[0].title, _RESEARCHER[0].icon)),
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
    logger.info("login through the identity provider: %s (%s)", user.username, user.role)
    return user


def current_user() -> User | None:
    """The user logged in to this browser session, or ``None``."""
    user = st.session_state.get(USER_KEY)
    if isinstance(user, User):
        return user
    return _provider_user()


#: The process-wide count of recent failed logins per user name (slows down password guessing).
_throttle = LoginThrottle()


def sign_in(username: str, password: str) -> User:
    """Check the password and remember the user in this session.

    Raises
    ------
    analysis.accounts.AuthenticationError
        Wrong name or password (the message does not say which), or too many
        recent failures for this name.
    """
    user = _throttle.authenticate(username.strip(), password, path=users_file(data_dir()))
    for key in list(st.session_state.keys()):  # nothing of a previous user survives
        del st.session_state[key]
    st.session_state[USER_KEY] = user
    logger.info("login: %s (%s)", user.username, user.role)
    return user


def sign_out() -> None:
    """Forget the user and everything else of this session (and end an identity-provider login)."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if identity_provider_configured() and st.user.is_logged_in:
        st.logout()


def demo_accounts_in_use() -> bool:
    """True while the public demo accounts of the sample are the users file in force."""
    return accounts.demo_accounts_in_use(data_dir())


def login_form() -> None:
    """The login form; on success the session user is set and the app reruns with the role's pages."""
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
