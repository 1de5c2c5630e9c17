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


# ---------------------------------------------------------------- a report a clinic can file (issue 18)

A4_PT = (595, 842)  # 210 x 297 mm in PostScript points, rounded as PDF viewers show it


@pytest.fixture(scope="module")
def sample_pdf() -> bytes:
    # P022: the caseload's most urgent patient, every chart populated (4 exercise rows, flags, questionnaires)
    return patient_report_pdf(load_cohort(), "P022", as_of=SNAPSHOT_DATE)


def _text_boxes(page) -> list[tuple[float, float, str]]:  # type: ignore[no-untyped-def]
    """(x, y, text) of every text run of a pypdf page, in points from the bottom left."""
    found: list[tuple[float, float, str]] = []

    def visit(text, cm, tm, font, size):  # type: ignore[no-untyped-def]
        if text.strip():
            x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
            y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
            found.append((x, y, text.strip()))

    page.extract_text(visitor_text=visit)
    return found


@pytest.mark.parametrize("which", ["hand", "sample"])
def test_every_page_is_a4_portrait_with_white_margins_and_nothing_cut(which, hand_pdf, sample_pdf) -> None:
    import numpy as np
    import pypdfium2 as pdfium

    pdf = hand_pdf if which == "hand" else sample_pdf
    reader = PdfReader(io.BytesIO(pdf))
    doc = pdfium.PdfDocument(pdf)
    assert len(reader.pages) == len(doc) == 2 + len(CHARTS)
    for number, (page, rendered) in enumerate(zip(reader.pages, doc, strict=True), start=1):
        # A4 portrait, chart pages included (they were 648 x 345 pt)
        size = (round(float(page.mediabox.width)), round(float(page.mediabox.height)))
        assert size == A4_PT, (number, size)
        assert tuple(round(v) for v in rendered.get_size()) == A4_PT
        # rendered at 1 px per point: a white band of 5 mm (14 pt) on the left, right and top of every page,
        # and below the footer: no text or line runs off the page or is cut at its edge
        pixels = np.asarray(rendered.render(scale=1).to_pil().convert("L"))
        assert abs(pixels.shape[0] - 842) <= 1 and abs(pixels.shape[1] - 595) <= 1, pixels.shape  # 595.3 x 841.9
        band = 14
        for name, edge in {"left": pixels[:, :band], "right": pixels[:, -band:], "top": pixels[:band, :],
                           "bottom": pixels[-6:, :]}.items():
            assert edge.min() >= 250, f"page {number}: ink in the {name} margin"
        # there is content on the page (not a blank render)
        assert pixels.min() < 100
        # text positions: inside the page; only the footer sits in the bottom 5 % (nothing overlaps it)
        boxes = _text_boxes(page)
        assert boxes, number
        for x, y, text in boxes:
            assert 0 <= x <= A4_PT[0] and 0 <= y <= A4_PT[1], (number, x, y, text)
        low = [t for _, y, t in boxes if y < 0.05 * A4_PT[1]]
        assert low and all(t.startswith("rehabtrack progress report") for t in low), (number, low)


def test_chart_pages_keep_axis_labels_clear_of_the_footer_and_title() -> None:
    """The chart's own layout stays in its rectangle: measured with matplotlib's renderer before saving."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from analysis.patient_detail import patient_detail
    from analysis.report_pdf import _CHART_BOTTOM, _CHART_TOP, _chart_page

    detail = patient_detail(load_cohort(), "P022", as_of=SNAPSHOT_DATE)
    for name, title in CHARTS.items():
        fig = _chart_page(report_figure(detail, name), title, detail, 2)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        renderer = canvas.get_renderer()
        height = fig.bbox.height
        footer, heading = fig.texts[-1], fig.texts[-2]
        footer_top = footer.get_window_extent(renderer).y1 / height
        heading_bottom = heading.get_window_extent(renderer).y0 / height
        for ax in fig.axes:
            box = ax.get_tightbbox(renderer)  # axes with its tick labels, axis labels and title
            assert box is not None
            assert box.y0 / height >= footer_top, (name, "over the footer")
            assert box.y1 / height <= heading_bottom + 1e-3, (name, "over the page title")
            assert box.x0 >= 0 and box.x1 <= fig.bbox.width, (name, "cut at the side")
        assert _CHART_BOTTOM > footer_top and _CHART_TOP < heading_bottom + 0.01
        import matplotlib.pyplot as plt
        plt.close(fig)


def test_the_report_writes_full_exercise_names_and_literature_citations(sample_pdf) -> None:
    text = "\n".join(_text(sample_pdf))
    # exercise names from the vocabulary, never the code's keys
    assert "Knee-to-chest stretch" in text and "Standing hamstring stretch (toe touch)" in text
    assert "knee_to_chest" not in text and "hamstring_stretch" not in text and "hold_s" not in text
    # citations are the literature of docs/clinical-reference.md, not a section of a file
    assert not re.search(r"\w+\.md\b", text) and "section " not in text  # no file-and-section pointers
    for source in ("Ostelo et al. 2008", "Jacobson & Truax 1991", "Costa et al. 2021", "Impellizzeri"):
        assert source in text, source
