"""Logins and hostile uploads end to end in headless Chromium (issue 17).

A server of its own (a users file of real accounts; the sample cohort loaded):

* a login survives a reload through the HTTP-only, SameSite=Strict login cookie;
  logout ends it (the reload shows the login page, a copy of the old cookie is refused);
* a password change, or a change of role, ends the sessions of that account: on the
  next reload, and in a tab left open at its next click (with a notice saying why);
* an ``.xlsx`` zip bomb uploaded on the patient's page is refused from its zip directory:
  a message within seconds, and the server's peak memory grows by less than 200 MB.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analysis.accounts import add_user
from analysis.login_sessions import SESSION_COOKIE
from analysis.roles import PATIENT, PHYSIO, RESEARCHER, User
from analysis.store import Store
from tests.e2e.conftest import log_in, screenshot, streamlit_server, wait_idle
from tests.hostile_files import xlsx_bomb

pytestmark = pytest.mark.e2e

ANNA = User("anna", PHYSIO, physio_id="physio_a")
BEN = User("ben", PHYSIO, physio_id="physio_b")
PAT = User("p001", PATIENT, patient_id="P001")
PAT2 = User("p002", PATIENT, patient_id="P002")
PASSWORD = "a-long-e2e-password"


@pytest.fixture(scope="module")
def session_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int]]:
    directory = tmp_path_factory.mktemp("session_store")
    with Store.open(data_dir=directory) as store:
        store.load_sample()
    users = directory / "users.toml"
    for user in (ANNA, BEN, PAT, PAT2):
        add_user(user, PASSWORD, path=users)
    pids: list[int] = []
    with streamlit_server(directory, tmp_path_factory.mktemp("session_log"), pids, REHABTRACK_USERS_FILE=None,
                          REHABTRACK_DATABASE_URL=None, REHABTRACK_MAX_UPLOAD_MB=None) as url:
        yield url, users, pids[0]


def _cookie(context) -> dict | None:  # type: ignore[no-untyped-def]
    return next((c for c in context.cookies() if c["name"] == SESSION_COOKIE), None)


def _wait_for_cookie(context, present: bool, timeout_s: float = 15.0) -> dict | None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = _cookie(context)
        if (found is not None) == present:
            return found
        time.sleep(0.2)
    raise AssertionError(f"the login cookie is {'still missing' if present else 'still there'}")


def _login_page(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("textbox", name="User name").wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_role("button", name="Log out").count() == 0


def _logged_in(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Log out").wait_for(timeout=60_000)
    wait_idle(page)


def test_a_login_survives_a_reload_and_logout_ends_it(session_server, browser) -> None:  # type: ignore[no-untyped-def]
    url, _, _ = session_server
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    log_in(page, url, "anna", PASSWORD)
    cookie = _wait_for_cookie(context, present=True)
    assert cookie is not None
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert page.evaluate("() => document.cookie").find(SESSION_COOKIE) == -1  # page scripts cannot read it
    assert cookie["expires"] > time.time() + 11 * 3600  # 12 hours by default

    page.reload()
    _logged_in(page)
    page.get_by_role("heading", name="Caseload").wait_for(timeout=60_000)
    screenshot(page, "session_after_reload")

    page.get_by_role("button", name="Log out").click()
    _login_page(page)
    _wait_for_cookie(context, present=False)
    page.reload()
    _login_page(page)
    screenshot(page, "session_after_logout_and_reload")

    # a copy of the cookie taken before the logout is refused: the logout revoked the token on the server
    copy = browser.new_context()
    copy.add_cookies([{key: cookie[key] for key in ("name", "value", "domain", "path", "httpOnly", "sameSite")}])
    stolen = copy.new_page()
    stolen.goto(url)
    _login_page(stolen)
    copy.close()
    context.close()


def test_a_password_change_ends_the_login_on_reload(session_server, browser) -> None:  # type: ignore[no-untyped-def]
    url, users, _ = session_server
    context = browser.new_context()
    page = context.new_page()
    log_in(page, url, "p001", PASSWORD)
    _wait_for_cookie(context, present=True)
    page.reload()
    _logged_in(page)
    add_user(PAT, "another-long-password", path=users, replace=True)  # e.g. `rehabtrack users add --replace`
    page.reload()
    _login_page(page)
    log_in(page, url, "p001", "another-long-password")  # the new password works
    context.close()


def test_a_role_change_ends_an_open_session_with_a_notice(session_server, browser) -> None:  # type: ignore[no-untyped-def]
    url, users, _ = session_server
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    log_in(page, url, "ben", PASSWORD)
    page.get_by_role("heading", name="Caseload").wait_for(timeout=60_000)
    add_user(User("ben", RESEARCHER), PASSWORD, path=users, replace=True)
    page.get_by_role("link", name="Patient detail").click()  # the next rerun checks the account
    _login_page(page)
    page.get_by_text("You were logged out because your account was changed").wait_for(timeout=30_000)
    screenshot(page, "session_ended_by_a_role_change")
    page.reload()
    _login_page(page)  # and the cookie of that login is refused too
    context.close()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_an_xlsx_bomb_is_refused_quickly_without_memory(session_server, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, _, pid = session_server
    bomb = xlsx_bomb(tmp_path / "my_log.xlsx", 64)  # 64 MB of shared strings packed into ~64 KB
    assert bomb.stat().st_size < 200 * 1024
    log_in(page, url, "p002", PASSWORD)
    page.get_by_role("link", name="Upload my log").click()
    page.get_by_role("heading", name="Upload my log").wait_for(timeout=30_000)
    wait_idle(page)
    before = _peak_rss_mb(pid)
    began = time.monotonic()
    page.locator("input[type=file]").set_input_files(str(bomb))
    page.get_by_text("not a normal spreadsheet").wait_for(timeout=30_000)
    seconds = time.monotonic() - began
    wait_idle(page)
    growth = _peak_rss_mb(pid) - before
    screenshot(page, "upload_xlsx_bomb_refused")
    assert page.get_by_test_id("stException").count() == 0
    assert seconds < 10, f"refused after {seconds:.1f} s (browser round trip included)"
    assert growth < 200, f"the server's peak memory grew by {growth:.0f} MB"
