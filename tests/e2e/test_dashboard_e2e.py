"""The dashboard in a real headless Chromium, served by `streamlit run`."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def test_cohort_and_patient_pages_render_in_a_browser(app_url: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(app_url)
    page.get_by_text("Cohort: weekly pain and adherence").wait_for(timeout=60_000)
    page.get_by_test_id("stDataFrame").first.wait_for(timeout=30_000)
    assert page.get_by_test_id("stException").count() == 0
    screenshot(page, "cohort")

    page.get_by_role("link", name="Patient weeks").click()
    page.get_by_text("Week by week").wait_for(timeout=60_000)
    page.get_by_test_id("stImage").first.wait_for(timeout=30_000)
    assert page.get_by_test_id("stException").count() == 0
    screenshot(page, "patient")
