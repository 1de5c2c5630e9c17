"""Expected recovery (issue 20) in a real headless Chromium: the admin refits, the pages use the model.

A server of its own (a fresh store seeded with the sample, so the other browser tests keep a store
without a model): the demo administrator opens **Expected recovery**, presses **Refit** (the real fit
and its 5-fold cross-validation), sees the funnel plot, the calibration, the coverage and the MAE;
then opens **Patient detail**, whose first patient (the most urgent) is one of the two patients in
progress behind expected on the sample, and sees the band's line under the pain chart. Screenshots
go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import log_in, screenshot, streamlit_server, wait_idle

pytestmark = pytest.mark.e2e


def _no_exception(page) -> None:  # type: ignore[no-untyped-def]
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_text("Something went wrong").count() == 0


def test_admin_refits_and_the_comparison_and_the_band_appear(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "store").mkdir()
    (tmp_path / "log").mkdir()
    with streamlit_server(tmp_path / "store", tmp_path / "log") as url:
        log_in(page, url, "admin", "admin-demo")
        page.get_by_role("link", name="Expected recovery").click()
        page.get_by_role("heading", name="Expected recovery").wait_for(timeout=60_000)
        wait_idle(page)
        assert page.get_by_text("No expected-course model has been fitted yet").count() == 1
        page.get_by_role("button", name="Refit the expected-course model").click()
        page.get_by_text(re.compile(r"Refitted on 23 completed programmes")).wait_for(timeout=600_000)
        wait_idle(page, timeout_ms=300_000)
        _no_exception(page)
        page.get_by_test_id("stImage").nth(1).wait_for(timeout=120_000)  # the funnel and the calibration
        body = page.locator("body").inner_text()
        assert "76 %" in body and "1.26 points" in body  # coverage and MAE of the sample (section 10)
        assert "physio_a" not in body and "Your label" not in body  # pseudonyms (the table is drawn on a canvas)
        screenshot(page, "expected_recovery_admin")

        page.get_by_role("link", name="Patient detail").click()
        page.get_by_role("heading", name="Patient detail").wait_for(timeout=60_000)
        page.get_by_test_id("stVegaLiteChart").first.wait_for(timeout=120_000)  # the interactive pain chart
        wait_idle(page, timeout_ms=120_000)
        _no_exception(page)
        line = page.get_by_test_id("stCaptionContainer").filter(has_text="Compared with similar patients")
        line.first.wait_for(timeout=60_000)
        assert "behind expected" in line.first.inner_text()
        screenshot(page, "expected_patient_band")
