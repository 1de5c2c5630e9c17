"""Log today on a 390 px wide phone screen, in a real headless Chromium served by `streamlit run` (issue 9).

The server runs on its own store: the demo patient P001 began the programme
10 days ago with two exercises prescribed (uploaded by an administrator, so the
dashboard's analysis date is today). The patient logs in, opens "Log today"
from the menu, ticks an exercise, confirms, gives a pain score, and the rows
are in the store; then the ODI form. Screenshots: ``test-artifacts/patient_log_390px*.png``,
``test-artifacts/patient_questionnaires_390px.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from analysis import access
from analysis.roles import ADMIN, User
from analysis.store import Store
from analysis.timeline import today as timeline_today
from tests.e2e.conftest import log_in, screenshot, streamlit_server, wait_idle

pytestmark = pytest.mark.e2e

TODAY = timeline_today()  # the app's clock, frozen by tests/conftest.py (REHABTRACK_TODAY)
START = TODAY - timedelta(days=10)


@pytest.fixture(scope="module")
def log_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("log_store")
    admin = User("admin", ADMIN)
    with Store.open(data_dir=directory) as s:
        access.upload(admin, s, f"patient_id,physio_id,programme_start\nP001,physio_b,{START}\n".encode(),
                      "patients.csv", table="patients", today=TODAY)
        access.upload(admin, s, (
            "patient_id,exercise,side,sets,reps,hold_s,sessions_per_week,start_date,end_date\n"
            f"P001,knee_to_chest,left,2,10,5,5,{START},\n"
            f"P001,hamstring_stretch,both,1,3,20,5,{START},\n").encode(), "rx.csv", table="prescriptions",
            today=TODAY)
    return directory


@pytest.fixture(scope="module")
def log_url(log_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # the demo accounts (p001 / p001-demo): no users file; no sample seeding over the hand-made store
    with streamlit_server(log_store, tmp_path_factory.mktemp("log_server"), REHABTRACK_SEED_SAMPLE="0",
                          REHABTRACK_USERS_FILE=None) as url:
        yield url


def test_log_today_on_a_phone(log_url: str, log_store: Path, browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    try:
        log_in(page, log_url, "p001", "p001-demo")
        # on a phone the menu is folded away: open it, then choose "Log today"
        page.get_by_test_id("stExpandSidebarButton").click()
        page.get_by_role("link", name="Log today").click()
        page.get_by_role("heading", name="Log today").wait_for(timeout=60_000)
        wait_idle(page)
        sidebar = page.get_by_test_id("stSidebar")
        if sidebar.get_attribute("aria-expanded") != "false" and sidebar.get_attribute("data-collapsed") != "true":
            page.get_by_test_id("stSidebarCollapseButton").locator("button").click()  # fold the menu away again
            page.wait_for_timeout(500)
        assert page.get_by_text("Move gently, stop when it hurts.").is_visible()
        assert page.get_by_test_id("stException").count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        screenshot(page, "patient_log_390px")

        page.get_by_text("Knee-to-chest stretch (left)").click()  # tick it
        page.get_by_role("button", name="Confirm session").click()
        page.get_by_text("Saved: 1 exercise").wait_for(timeout=60_000)
        wait_idle(page)
        # the pain score has no value until tapped: a careless save records nothing and says what to do
        page.get_by_role("button", name="Save pain score").click()
        page.get_by_text("tap your pain score").wait_for(timeout=60_000)
        wait_idle(page)
        page.get_by_role("radio", name="3", exact=True).click()  # the pain pills are a radio group
        page.get_by_role("button", name="Save pain score").click()
        saved = page.get_by_text("Saved: pain 3 out of 10")
        saved.wait_for(timeout=60_000)
        wait_idle(page)
        saved.scroll_into_view_if_needed()
        button_box = page.get_by_role("button", name="Save pain score").bounding_box()
        saved_box = saved.bounding_box()
        assert button_box is not None and saved_box is not None
        assert 0 <= saved_box["y"] - button_box["y"] < 300  # the confirmation is right under its button
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "patient_log_390px_saved")

        # the ODI form on the same phone: section names with their 0-5 scale, the 8-section rule
        page.get_by_test_id("stExpandSidebarButton").click()
        page.get_by_role("link", name="Questionnaires").click()
        page.get_by_role("heading", name="Questionnaires").wait_for(timeout=60_000)
        wait_idle(page)
        page.wait_for_timeout(500)
        assert (page.get_by_test_id("stSidebar").bounding_box() or {"x": -1})["x"] < 0  # the menu closed itself
        assert page.get_by_text("Answer at least 8 sections.").is_visible()
        assert page.get_by_text("Section 10: Travelling").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "patient_questionnaires_390px")
    finally:
        context.close()
    with Store.open(data_dir=log_store) as s:
        sessions, pain = s.read_table("sessions"), s.read_table("pain")
    assert sessions[["patient_id", "exercise", "side", "sets", "reps"]].values.tolist() == [
        ["P001", "knee_to_chest", "left", 2, 10]]  # as prescribed: 2 x 10
    assert pain[["patient_id", "nprs"]].values.tolist() == [["P001", 3]]
