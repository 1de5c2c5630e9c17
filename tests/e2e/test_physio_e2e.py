"""The physio's and the researcher's pages in a real headless Chromium, served by `streamlit run`.

Logs in as the demo physio (``physio_a`` / ``physio_a-demo``), opens the caseload,
clicks the first row (the caseload is sorted by attention, so it is a red,
flagged patient), sees the patient detail and downloads the PDF report; then
logs in as the demo researcher and sees the pseudonymised cohort. A screenshot
of each page goes to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import log_in, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def _no_exception(page) -> None:  # type: ignore[no-untyped-def]
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_text("Something went wrong").count() == 0


def _click_first_row(page) -> None:  # type: ignore[no-untyped-def]
    """Click the row-selection cell of the caseload's first data row (the grid is drawn on a canvas)."""
    grid = page.get_by_test_id("stDataFrame").first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box is not None
    # the header row and each data row are about 35 px high; the row markers are the leftmost ~40 px
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)


def test_physio_opens_a_flagged_patient_and_downloads_the_pdf(app_url: str, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log_in(page, app_url, "physio_a", "physio_a-demo")
    page.get_by_role("heading", name="Caseload").wait_for(timeout=60_000)
    page.get_by_test_id("stDataFrame").first.wait_for(timeout=60_000)
    wait_idle(page)
    _no_exception(page)
    assert page.get_by_text(re.compile(r"🔴 red: \d+")).count() == 1
    screenshot(page, "physio_caseload")

    # the first row is the most urgent patient; the caseload's own summary line says red patients exist
    started = time.monotonic()
    _click_first_row(page)
    page.get_by_role("heading", name="Patient detail").wait_for(timeout=60_000)
    page.get_by_test_id("stVegaLiteChart").first.wait_for(timeout=60_000)  # the interactive pain chart
    wait_idle(page)
    elapsed = time.monotonic() - started
    _no_exception(page)
    subheader = page.get_by_role("heading", level=3).first.inner_text()
    assert "🔴 red" in subheader, subheader  # a red (flagged) patient was opened
    assert page.get_by_text("Open safety flags").count() >= 1
    print(f"\npatient detail opened in {elapsed:.2f} s from the caseload click")
    screenshot(page, "physio_patient")

    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Download PDF report").click()
    target = tmp_path / "report.pdf"
    info.value.save_as(target)
    data = target.read_bytes()
    assert data.startswith(b"%PDF"), data[:20]
    assert info.value.suggested_filename.startswith("progress_P")
    _no_exception(page)


def test_researcher_sees_the_pseudonymised_cohort(app_url: str, page) -> None:  # type: ignore[no-untyped-def]
    log_in(page, app_url, "researcher", "researcher-demo")
    page.get_by_role("heading", name="Cohort (pseudonymised)").wait_for(timeout=60_000)
    page.get_by_test_id("stImage").nth(3).wait_for(timeout=90_000)
    wait_idle(page)
    _no_exception(page)
    body = page.locator("body").inner_text()
    assert not re.search(r"\bP\d{3}\b", body)
    screenshot(page, "researcher_cohort")
