"""The PDF progress report: a real PDF whose text carries the patient's headline numbers."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from pypdf import PdfReader

from analysis.patient_detail import UnknownPatientError
from analysis.report_pdf import CHARTS, patient_report_pdf, report_figure
from analysis.sample_data import SNAPSHOT_DATE, load_cohort
from tests.test_patient_detail import AS_OF, START, _hand_cohort


def _text(pdf: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(pdf))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


@pytest.fixture(scope="module")
def hand_pdf() -> bytes:
    return patient_report_pdf(_hand_cohort(), "H1", as_of=AS_OF)


def test_report_is_a_pdf_with_a_page_per_chart(hand_pdf):
    assert hand_pdf.startswith(b"%PDF")
    pages = _text(hand_pdf)
    assert len(pages) == 1 + len(CHARTS) + 1  # headlines, charts, thresholds
    assert "Progress report" in pages[0] and "Patient H1" in pages[0]
    assert "Thresholds used" in pages[-1]


def test_report_carries_the_headline_numbers_computed_by_hand(hand_pdf):
    first = _text(hand_pdf)[0]
    # baseline = mean of days 0-6 = 42 / 7 = 6; now = days 7-13 = 29 / 7 = 4.14
    assert re.search(r"Pain at baseline 6 points", first)
    assert re.search(r"Pain now 4\.1 points", first)
    # change -1.86 points = -31 % of baseline: MCID met by the 30 % rule only
    assert "-1.9 points (-31 %" in first
    assert "MCID met: -1.9 points (-31 %); rule 2 points or 30 % better; met by the %" in first
    # sessions: 3 + 4 = 7 days of 5 + 5 = 10 prescribed
    assert "70 % (7 of 10 prescribed sessions" in first
    # RMDQ 12 -> 6
    assert "change -6 points since the first" in first
    assert f"data up to {AS_OF:%d %b %Y}" in first and f"programme start {START:%d %b %Y}" in first


def test_report_says_descriptive_not_advice_and_names_the_thresholds(hand_pdf):
    pages = _text(hand_pdf)
    assert "Descriptive, not advice" in pages[0]
    assert "not advice to the patient" in pages[0]
    assert "descriptive only" in " ".join(pages)
    last = pages[-1]
    for needle in ("Adherent (70 %)", "Pain flare (2 points)", "Rapid load increase", "Impellizzeri",
                   "MCID NPRS (2 points or 30 % of baseline", "Ostelo", "Costa et al. 2021"):
        assert needle in last, needle
    assert ".md" not in " ".join(pages)  # a physio sees literature citations, never a file name


def test_report_of_a_sample_patient_and_a_date_range():
    cohort = load_cohort()
    pdf = patient_report_pdf(cohort, "P026", as_of=SNAPSHOT_DATE, start=pd.Timestamp("2026-10-12"),
                             end=pd.Timestamp("2026-11-08"))
    assert pdf[:4] == b"%PDF"
    first = _text(pdf)[0]
    assert "Patient P026" in first
    assert "Open safety flags 7" in first  # headline numbers stay those of the analysis date


def test_unknown_patient_raises_a_typed_error():
    with pytest.raises(UnknownPatientError):
        patient_report_pdf(_hand_cohort(), "P999", as_of=AS_OF)


def test_report_figure_rejects_an_unknown_chart():
    from analysis.patient_detail import patient_detail

    with pytest.raises(KeyError, match="unknown chart"):
        report_figure(patient_detail(_hand_cohort(), "H1", as_of=AS_OF), "nope")


def test_report_of_a_patient_without_any_entry():
    pdf = patient_report_pdf(_hand_cohort(), "H2", as_of=AS_OF)
    first = _text(pdf)[0]
    assert "Patient H2" in first
    assert "Change in pain not measurable" in first
    assert "Session adherence nothing prescribed yet" in first
