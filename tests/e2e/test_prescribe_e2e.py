"""Prescribe end to end in headless Chromium: a physio adds a patient, applies the seed template, saves.

A server of its own (not the shared sample server: this test adds a patient) runs on an empty store
with a users file holding one physio, so the new patient's account is really created; the patient
then logs in with the one-time password. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from analysis import access
from analysis.accounts import add_user
from analysis.roles import PHYSIO, User
from analysis.store import Store
from analysis.timeline import today as timeline_today
from tests.e2e.conftest import log_in, screenshot, streamlit_server, wait_idle

pytestmark = pytest.mark.e2e
PHYSIO_A = User("physio_a", PHYSIO, physio_id="physio_a")
PASSWORD = "physio-a-e2e-password"


@pytest.fixture(scope="module")
def prescribe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("prescribe_store")
    users = directory / "users.toml"
    add_user(PHYSIO_A, PASSWORD, path=users)
    with streamlit_server(directory, tmp_path_factory.mktemp("prescribe_log"), REHABTRACK_USERS_FILE=str(users),
                          REHABTRACK_SEED_SAMPLE="0", REHABTRACK_DATABASE_URL=None) as url:
        yield url, directory


def _no_exception(page) -> None:  # type: ignore[no-untyped-def]
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_text("Something went wrong").count() == 0


def test_physio_adds_a_patient_and_prescribes_the_seed_programme(  # type: ignore[no-untyped-def]
        prescribe_server: tuple[str, Path], page, browser) -> None:
    url, directory = prescribe_server
    log_in(page, url, "physio_a", PASSWORD)
    page.get_by_role("link", name="Prescribe").click()
    page.get_by_role("heading", name="Prescribe").wait_for(timeout=60_000)
    wait_idle(page)
    page.get_by_test_id("stExpander").get_by_text("Add a patient", exact=True).click()
    wait_idle(page)
    page.get_by_role("textbox", name=re.compile("Display name")).fill("Jane Example")
    page.get_by_role("button", name="Add patient").click()
    wait_idle(page)
    page.get_by_text(re.compile(r"Patient P[A-Z2-7]{8} added")).wait_for(timeout=60_000)
    wait_idle(page)
    _no_exception(page)
    login = page.get_by_test_id("stCode").first.inner_text()
    patient_id = re.search(r"user name: (P[A-Z2-7]{8})", login).group(1)  # type: ignore[union-attr]
    password = re.search(r"initial password: (\S+)", login).group(1)  # type: ignore[union-attr]

    # the default template builds gradually, within the app's own load rule (issue 18): no steep week
    page.get_by_text("No planned week is above the load-progression threshold (1.5).").wait_for(timeout=60_000)
    assert page.get_by_text(re.compile(r"Week \d+: planned load")).count() == 0
    # one date format, the clinic's (day-first by default), in the text
    page.get_by_text(f"Programme start: {timeline_today():%A} {timeline_today():%d/%m/%Y}.").wait_for(timeout=60_000)
    assert page.get_by_test_id("stImage").count() >= 1  # the planned weekly load curve
    screenshot(page, "prescribe_before_save")
    page.get_by_role("button", name="Save programme").click()
    page.get_by_text(f"Saved for {patient_id}: 12 new period(s)").wait_for(timeout=60_000)
    wait_idle(page)
    _no_exception(page)
    page.get_by_role("heading", name="Current prescription").wait_for(timeout=60_000)
    screenshot(page, "prescribe_saved")

    with Store.open(data_dir=directory) as store:
        periods = store.read_table("prescriptions", patient_ids=[patient_id])
        profiles = access.patient_profiles(PHYSIO_A, store)
    assert len(periods) == 12  # knee-to-chest left and right 5 steps each, the hamstring reach 2
    assert periods["start_date"].min().date() == timeline_today()  # the app's (frozen) clock
    assert profiles["display_name"].tolist() == ["Jane Example"]

    # the patient logs in with the one-time password and gets their own pages
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        patient_page = context.new_page()
        log_in(patient_page, url, patient_id, password)
        _no_exception(patient_page)
        assert patient_page.get_by_role("link", name="Prescribe").count() == 0
    finally:
        context.close()
