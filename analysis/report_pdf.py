"""The PDF progress report of one patient, for the physiotherapist.

:func:`patient_report_pdf` writes, from the same :class:`analysis.patient_detail.PatientDetail`
the dashboard shows:

1. a first page with the headline numbers (:func:`analysis.patient_detail.headline_table`)
   and the statement that flags and load indicators are descriptive, not advice;
2. the charts of :mod:`analysis.plots` - pain over the weeks with the baseline and the
   MCID band and the flag markers, sessions and dose per exercise and side against
   the prescription, dose progression with rapid-increase weeks, and the ODI/RMDQ
   questionnaires - one per page;
3. a last page with every threshold used and its source
   (:func:`analysis.patient_detail.thresholds_table`).

The PDF is made with matplotlib's PDF backend (no extra dependency), with
TrueType fonts embedded so that its text can be searched and copied.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.layout_engine import ConstrainedLayoutEngine, TightLayoutEngine  # noqa: E402
from matplotlib.typing import RcKeyType  # noqa: E402

from analysis.escaping import escape_plot_text  # noqa: E402
from analysis.patient_detail import (  # noqa: E402
    DESCRIPTIVE_NOTE,
    PatientDetail,
    headline_table,
    patient_detail,
    restrict_to_dates,
    thresholds_table,
)
from analysis.plots import (  # noqa: E402
    OKABE_ITO,
    plot_adherence_by_exercise,
    plot_load_progression,
    plot_pain_timeline,
    plot_questionnaires,
)
from analysis.plots_expected import add_expected_band  # noqa: E402
from analysis.schema import CohortTables  # noqa: E402
from analysis.settings import DEFAULT_SETTINGS, Settings  # noqa: E402
from analysis.timeline import DateLike  # noqa: E402
from analysis.validation import checks_tables

__all__ = ["CHARTS", "patient_report_pdf", "detail_report_pdf", "report_figure", "report_figures"]

_A4 = (8.27, 11.69)  # inches, portrait
_FONT_RC: dict[RcKeyType, Any] = {"pdf.fonttype": 42, "ps.fonttype": 42, "font.family": "DejaVu Sans"}


@contextmanager
def _pdf_fonts() -> Iterator[None]:
    """TrueType (Type 42) fonts: the report's text stays searchable and copyable."""
    with matplotlib.rc_context(_FONT_RC):
        yield


#: The charts of the report, by name, in order.
CHARTS: dict[str, str] = {
    "pain": "Pain over the programme",
    "adherence": "Sessions and dose against the prescription",
    "load": "Dose progression (descriptive only)",
    "questionnaires": "Questionnaires (ODI, RMDQ)",
}


def report_figure(detail: PatientDetail, name: str) -> Figure:
    """One chart of the report (and of the dashboard page).

    Parameters
    ----------
    detail
        Output of :func:`analysis.patient_detail.patient_detail` (possibly
        restricted to dates).
    name
        A key of :data:`CHARTS`: ``"pain"`` (pain over the weeks with baseline,
        MCID band and flag markers), ``"adherence"`` (sessions and dose per
        exercise and side against the prescription), ``"load"`` (dose
        progression, descriptive only) or ``"questionnaires"`` (ODI, RMDQ).

    Returns
    -------
    matplotlib.figure.Figure
        The caller closes it.

    Raises
    ------
    KeyError
        For an unknown ``name``.
    """
    s, c = detail.settings, detail.pain_change
    if name == "pain":
        pct = c["mcid_pct_threshold"]
        fig = plot_pain_timeline(
            detail.daily, weekly=detail.weekly, baseline=c["baseline"], mcid_abs=c["mcid_abs_threshold"],
            mcid_pct=None if pd.isna(pct) else float(pct) / 100.0, flags=detail.flags,
            rolling_window_days=s.rolling_window_days)
        if detail.expected is not None and len(detail.expected):
            _add_expected(fig, detail.expected)
        return fig
    if name == "adherence":
        return plot_adherence_by_exercise(detail.weekly, detail.dose, adherent_threshold=s.adherent_threshold)
    if name == "load":
        return plot_load_progression(detail.load, acwr_max=s.acwr_max, chronic_weeks=s.acwr_chronic_weeks)
    if name == "questionnaires":
        return plot_questionnaires(detail.proms, detail.prom_change, mcid_percent=s.mcid_percent)
    raise KeyError(f"unknown chart {name!r}; expected one of {', '.join(CHARTS)}")


def _add_expected(fig: Figure, band: pd.DataFrame) -> None:
    """The band of similar patients of this clinic on the pain timeline (x: programme weeks, week w at [w, w+1))."""
    ax = fig.axes[0]
    left, right = ax.get_xlim()
    add_expected_band(ax, band.assign(week=band["week"].astype(float) + 0.5), color=OKABE_ITO["green"],
                      label=f"similar patients of this clinic ({band.attrs.get('interval', 0.8) * 100:.0f} % range)")
    ax.set_xlim(left, right)
    legend = ax.get_legend()
    if legend is not None:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3, frameon=False, fontsize=7.5)


def report_figures(detail: PatientDetail) -> list[tuple[str, Figure]]:
    """Every chart of :data:`CHARTS`, in order, with its title (the caller closes them)."""
    return [(title, report_figure(detail, name)) for name, title in CHARTS.items()]


def _footer(fig: Figure, detail: PatientDetail, page: int) -> None:
    fig.text(0.5, 0.012, f"rehabtrack progress report - patient {escape_plot_text(detail.patient_id)} - as of "
             f"{detail.as_of:%d %b %Y} - page {page}", ha="center", va="bottom", fontsize=7,
             color=OKABE_ITO["grey"])


#: Left and right margin of every page, as a fraction of the page width (about 14 mm on A4).
_MARGIN = 0.06
#: Where a chart may be drawn on its page (figure fractions): below the title, above the footer.
_CHART_TOP, _CHART_BOTTOM = 0.925, 0.06


def _chart_page(fig: Figure, title: str, detail: PatientDetail, page: int) -> Figure:
    """Put a chart of :mod:`analysis.plots` on an A4 portrait page, keeping its proportions.

    The chart keeps its width-to-height ratio at the page width less the margins (taller charts are
    shrunk to fit between the title and the footer), and its constrained layout is confined to that
    rectangle, so axis labels never meet the title or the footer.
    """
    width, height = fig.get_size_inches()
    fig.set_size_inches(_A4)
    usable_w = 1 - 2 * _MARGIN
    h = min(usable_w * _A4[0] * height / width / _A4[1], _CHART_TOP - _CHART_BOTTOM - 0.02)
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine | TightLayoutEngine):  # every chart of analysis.plots is one
        engine.set(rect=(_MARGIN, _CHART_TOP - h, usable_w, h))
    fig.text(_MARGIN, 0.955, f"{escape_plot_text(title)} - patient {escape_plot_text(detail.patient_id)}",
             fontsize=12, fontweight="bold", va="top")
    _footer(fig, detail, page)
    return fig


def _wrapped_rows(fig: Figure, rows: list[tuple[str, str]], top: float, *, left: float = 0.06,
                  value_x: float = 0.34, width: int = 78, size: float = 8.5, line: float = 0.0155) -> float:
    """Two-column text rows with wrapping; returns the y below the last row (figure fraction)."""
    y = top
    for name, value in rows:
        lines = textwrap.wrap(escape_plot_text(value), width=width) or [""]  # data: never math text
        name_lines = textwrap.wrap(escape_plot_text(name), width=34) or [""]
        fig.text(left, y, "\n".join(name_lines), fontsize=size, fontweight="bold", va="top")
        fig.text(value_x, y, "\n".join(lines), fontsize=size, va="top")
        y -= line * max(len(lines), len(name_lines)) + line * 0.45
    return y


def _first_page(detail: PatientDetail, generated: datetime) -> Figure:
    fig = plt.figure(figsize=_A4)
    fig.text(0.06, 0.955, "Progress report", fontsize=18, fontweight="bold", va="top")
    fig.text(0.06, 0.922, f"Patient {escape_plot_text(detail.patient_id)} - physiotherapist "
             f"{escape_plot_text(detail.physio_id)} - programme start "
             f"{detail.programme_start:%d %b %Y} - data up to {detail.as_of:%d %b %Y}", fontsize=9, va="top")
    fig.text(0.06, 0.903, f"Generated {generated:%d %b %Y %H:%M} by rehabtrack. Pain: NPRS 0-10 (0 = no pain). "
             "Programme weeks count from the programme start day\n(week 1 = its first 7 days).", fontsize=7.5,
             va="top", color="#333333")
    fig.text(0.06, 0.868, "Headline numbers", fontsize=12, fontweight="bold", va="top")
    table = headline_table(detail)
    rows = list(zip(table["measure"], table["value"], strict=True))
    if detail.expected_text:
        rows.append(("Compared with similar patients of this clinic", detail.expected_text.rstrip(".")
                     + ". A comparison with the clinic's completed programmes, not a diagnosis."))
    y = _wrapped_rows(fig, rows, 0.843)
    fig.text(0.06, y - 0.01, "Descriptive, not advice", fontsize=11, fontweight="bold", va="top")
    note = textwrap.fill(DESCRIPTIVE_NOTE + " Decisions about the programme rest with the treating "
                         "physiotherapist and the patient.", width=110)
    fig.text(0.06, y - 0.035, note, fontsize=8.5, va="top")
    _footer(fig, detail, 1)
    return fig


def _thresholds_page(detail: PatientDetail, page: int) -> Figure:
    fig = plt.figure(figsize=_A4)
    fig.text(0.06, 0.955, "Thresholds used", fontsize=14, fontweight="bold", va="top")
    fig.text(0.06, 0.928, "Every threshold is a default that can be changed; the values below are those "
             "used for this report.", fontsize=8.5, va="top")
    table = thresholds_table(detail.settings)
    rows = [(f"{t} ({v})", src) for t, v, src in zip(table["threshold"], table["value"], table["source"],
                                                       strict=True)]
    y = _wrapped_rows(fig, rows, 0.9, value_x=0.42, width=68, size=8)
    if detail.expected_methods:
        fig.text(0.06, y - 0.01, "Comparison with similar patients of this clinic", fontsize=11, fontweight="bold",
                 va="top")
        text = textwrap.fill(escape_plot_text(detail.expected_methods), width=125)
        fig.text(0.06, y - 0.035, text, fontsize=7, va="top")
        y -= 0.045 + 0.0125 * text.count("\n")
    fig.text(0.06, y - 0.01, "Descriptive, not advice", fontsize=11, fontweight="bold", va="top")
    fig.text(0.06, y - 0.035, textwrap.fill(DESCRIPTIVE_NOTE, width=110), fontsize=8.5, va="top")
    _footer(fig, detail, page)
    return fig


def detail_report_pdf(detail: PatientDetail, *, generated: datetime | None = None) -> bytes:
    """The PDF progress report of an already computed :class:`PatientDetail`.

    Parameters
    ----------
    detail
        Output of :func:`analysis.patient_detail.patient_detail` (or restricted to dates).
    generated
        Time stamp printed on the first page (default: now).

    Returns
    -------
    bytes
        A PDF document (starts with ``%PDF``): headline page, one page per chart,
        thresholds page.
    """
    generated = generated or datetime.now()
    buffer = io.BytesIO()
    with _pdf_fonts(), PdfPages(buffer, metadata={
        "Title": f"rehabtrack progress report - patient {detail.patient_id}",
        "Author": "rehabtrack",
        "Subject": f"Progress as of {detail.as_of:%Y-%m-%d}",
    }) as pdf:
        pages = [_first_page(detail, generated)]
        for i, (title, fig) in enumerate(report_figures(detail), start=2):
            pages.append(_chart_page(fig, title, detail, i))
        pages.append(_thresholds_page(detail, len(pages) + 1))
        try:
            for fig in pages:
                pdf.savefig(fig)
        finally:
            for fig in pages:
                plt.close(fig)
    return buffer.getvalue()


@checks_tables(cohort="cohort")
def patient_report_pdf(
    cohort: CohortTables,
    patient_id: str,
    *,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> bytes:
    """The PDF progress report of one patient: charts, headline numbers and the thresholds used.

    Parameters
    ----------
    cohort
        Canonical tables the user may see (e.g. from :func:`analysis.access.cohort_for`).
    patient_id
        The patient.
    as_of
        Analysis date (``None``: the patient's last entry).
    settings
        Thresholds.
    start, end
        Optional date range of the charts (the headline numbers stay those of ``as_of``).

    Returns
    -------
    bytes
        The PDF document.

    Raises
    ------
    analysis.patient_detail.UnknownPatientError
        If ``patient_id`` is not in ``cohort``.
    """
    detail = patient_detail(cohort, patient_id, as_of=as_of, settings=settings)
    if start is not None or end is not None:
        detail = restrict_to_dates(detail, start, end)
    return detail_report_pdf(detail)
