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


def test_caseload_first_screen_at_1366_px_says_why_for_every_red_patient(app_url: str, page) -> None:  # type: ignore[no-untyped-def]
    """Issue 18: at 1366 px the caseload's first screen shows, right after the status, why each red patient is red,
    every patient (the grid grows with its rows), and no code identifiers."""
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, app_url, "physio_a", "physio_a-demo")
    page.get_by_role("heading", name="Caseload").wait_for(timeout=60_000)
    grid = page.get_by_test_id("stDataFrame").first
    grid.wait_for(timeout=60_000)
    wait_idle(page)
    _no_exception(page)
    path = screenshot(page, "physio_caseload_1366px")
    # the grid is drawn on a canvas; its accessible table carries the cells the browser shows
    cells = page.locator('[data-testid="stDataFrame"] table [role="gridcell"], '
                         '[data-testid="stDataFrame"] table td').all_inner_texts()
    headers = page.locator('[data-testid="stDataFrame"] table th, '
                           '[data-testid="stDataFrame"] table [role="columnheader"]').all_inner_texts()
    rows = page.locator('[data-testid="stDataFrame"] table tbody tr').all()
    n_red = int(re.search(r"🔴 red: (\d+)", page.locator("body").inner_text()).group(1))  # type: ignore[union-attr]
    n_shown = int(re.search(r"shown: (\d+)", page.locator("body").inner_text()).group(1))  # type: ignore[union-attr]
    print(f"\ncaseload at 1366 px: {len(rows)} grid rows of {n_shown}, {n_red} red; headers {headers[:6]}; {path}")
    assert headers[:3] == ["Status", "Why", "Patient"], headers
    assert len(rows) == n_shown  # every patient in the grid: no scrolling box of ten rows
    texts = [[c.strip() for c in r.locator("td, [role='gridcell']").all_inner_texts()] for r in rows]
    red = [t for t in texts if t and "red" in t[0]]
    assert len(red) == n_red > 0
    for t in red:
        assert t[1] and t[1] != "nothing flagged", t
    # the "why" column is on the first screen: left of the viewport's right edge
    box = grid.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1366
    # the page's words, without the icon font's ligature names (e.g. "keyboard_arrow_right") and the user name
    words = page.evaluate("""() => { const main = document.querySelector('[data-testid="stMain"]').cloneNode(true);
        main.querySelectorAll('[data-testid="stIconMaterial"]').forEach(e => e.remove()); return main.innerText; }""")
    body = ("\n".join(headers + cells) + "\n" + words).replace("physio_a", "")
    for leak in ("n_scored", "mcid_met", "rci_category", "hold_s", "knee_to_chest", "Mann-Kendall tau"):
        assert leak not in body, leak
    assert not re.search(r"\b[a-z]+_[a-z0-9]+\b", body), re.findall(r"\b[a-z]+_[a-z0-9]+\b", body)
