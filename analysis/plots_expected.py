"""Figures of the expected-course model (issue 20): the band, the calibration, the funnel.

Kept apart from :mod:`analysis.plots` so that the two merge independently; same
conventions (pain on its full 0-10 scale, programme weeks on the x-axis, the
Okabe-Ito palette). Every figure is drawn from a table of :mod:`analysis.expected`;
nothing is computed here beyond what is drawn.

* :func:`plot_expected_course` - one patient's weekly pain against the expected course of
  similar patients (80 % band), and the course given the patient's own weeks so far;
* :func:`add_expected_band` - the same band on an existing axis (e.g. the patient-detail pain
  timeline, whose x-axis is programme days), for the dashboard and the PDF;
* :func:`plot_calibration` - predicted vs observed weekly pain by decile on held-out patients,
  with the interval's empirical coverage and the mean absolute error;
* :func:`plot_funnel` - observed minus expected per physio against caseload size, with 95 % and
  99.8 % control limits (Spiegelhalter 2005).
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis.escaping import escape_plot_text  # noqa: E402
from analysis.plots import OKABE_ITO  # noqa: E402

__all__ = ["plot_expected_course", "add_expected_band", "plot_calibration", "plot_funnel"]

_BAND = OKABE_ITO["sky_blue"]
_OWN = OKABE_ITO["orange"]
_OBS = OKABE_ITO["black"]


def add_expected_band(ax: Any, course: pd.DataFrame, *, x: str = "week", given_weeks: bool = False,
                      label: str | None = None, color: str | None = None) -> None:
    """Draw the expected course of one patient and its interval on ``ax``.

    Parameters
    ----------
    ax
        A matplotlib axis with pain (0-10) on y.
    course
        One patient's rows of :func:`analysis.expected.expected_course`.
    x
        ``"week"`` (programme week on x) or ``"day"`` (programme day: week w is drawn over
        days ``7(w-1)`` to ``7w - 1``, for the pain timeline).
    given_weeks
        Draw the second view (given the patient's weeks so far) instead of the baseline-only one.
    label
        Legend label of the band (default says what it is).
    color
        Colour of the band and its line (default sky blue; the pain timeline uses green, its MCID
        band being sky blue already).
    """
    suffix = "_given_weeks" if given_weeks else ""
    rows = course.sort_values("week")
    weeks = rows["week"].to_numpy(dtype=float)
    mean = rows[f"expected{suffix}"].to_numpy(dtype=float)
    lower = rows[f"lower{suffix}"].to_numpy(dtype=float)
    upper = rows[f"upper{suffix}"].to_numpy(dtype=float)
    level = course.attrs.get("interval", 0.8)
    if x == "day":
        xs = np.column_stack([7 * (weeks - 1), 7 * weeks - 1]).ravel()
        mean, lower, upper = (np.repeat(v, 2) for v in (mean, lower, upper))
    elif x == "week":
        xs = weeks
    else:
        raise ValueError(f"x must be 'week' or 'day', got {x!r}")
    default = (f"given this patient's weeks so far ({level * 100:.0f} %)" if given_weeks
               else f"similar patients of this clinic ({level * 100:.0f} %)")
    if given_weeks:  # dashed line and dashed interval limits, so the shaded band stays readable
        ax.plot(xs, mean, color=_OWN, lw=1.6, ls="--", label=label or default)
        ax.plot(xs, lower, color=_OWN, lw=0.9, ls=":")
        ax.plot(xs, upper, color=_OWN, lw=0.9, ls=":")
    else:
        ax.fill_between(xs, lower, upper, color=color or _BAND, alpha=0.25, linewidth=0, label=label or default)
        ax.plot(xs, mean, color=color or _BAND, lw=1.6)


def plot_expected_course(course: pd.DataFrame, patient_id: str, *, given_weeks: bool = True,
                         title: str | None = None, ax: Any = None) -> Figure:
    """One patient's weekly pain against the expected course of similar patients.

    Parameters
    ----------
    course
        :func:`analysis.expected.expected_course` output (any number of patients).
    patient_id
        The patient drawn.
    given_weeks
        Also draw the second view (dashed line, dotted interval limits).
    title
        Figure title (default: the patient id).
    ax
        Draw on this axis instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        Weekly mean pain (points), the baseline-only expected course with its band and,
        optionally, the course given the patient's weeks so far; NPRS 0-10.
    """
    rows = course.loc[course["patient_id"] == patient_id]
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 3.8), layout="constrained")
    else:
        fig = ax.figure
    if len(rows) == 0:
        ax.text(0.5, 0.5, f"no expected course for {escape_plot_text(patient_id)}", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    add_expected_band(ax, rows)
    if given_weeks and int(rows["weeks_conditioned"].max()) > 0:
        add_expected_band(ax, rows, given_weeks=True)
    seen = rows.loc[rows["observed"].notna()]
    ax.plot(seen["week"], seen["observed"], "o", color=_OBS, ms=5, label="this patient (weekly mean)")
    ax.set_ylim(0, 10)
    ax.set_xlim(rows["week"].min() - 0.5, rows["week"].max() + 0.5)
    ax.set_xlabel("Programme week (week 1 = baseline)")
    ax.set_ylabel("Weekly pain (NPRS, 0-10)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=7, loc="best")
    ax.set_title(escape_plot_text(title if title is not None else patient_id))
    return fig


def plot_calibration(result: Any, *, title: str | None = None, ax: Any = None) -> Figure:
    """Predicted vs observed weekly pain by decile of the prediction, on held-out patients.

    Parameters
    ----------
    result
        :class:`analysis.expected.CalibrationResult`.
    title
        Figure title.
    ax
        Draw on this axis instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One point per decile (mean predicted, mean observed), the line of perfect
        calibration, and the coverage of the interval and the MAE in the legend.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.6, 4.4), layout="constrained")
    else:
        fig = ax.figure
    dec = result.deciles
    ax.plot([0, 10], [0, 10], color=OKABE_ITO["grey"], lw=1, ls="--", label="perfect calibration")
    if len(dec):
        ax.plot(dec["expected"], dec["observed"], "o-", color=OKABE_ITO["blue"], ms=5,
                label=f"deciles of {result.n_weeks} held-out patient-weeks")
        ax.plot([], [], " ", label=f"{result.interval * 100:.0f} % interval covered {result.coverage * 100:.0f} %")
        ax.plot([], [], " ", label=f"mean absolute error {result.mae:.2f} points")
    else:
        ax.text(5, 5, result.message or "no calibration", ha="center", va="center", fontsize=8, wrap=True)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.set_aspect("equal")
    ax.set_xlabel("Predicted weekly pain (mean of the decile)")
    ax.set_ylabel("Observed weekly pain (mean)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=7, loc="upper left")
    ax.set_title(escape_plot_text(title) if title is not None else
                 f"Calibration: {result.folds}-fold cross-validation, {result.n_patients} patients")
    return fig


def plot_funnel(funnel: Any, *, title: str | None = None, ax: Any = None) -> Figure:
    """Observed minus expected pain per physio against the number of patients (a funnel plot).

    Parameters
    ----------
    funnel
        :class:`analysis.expected.FunnelResult` (pseudonymise ``physio_id`` first where needed).
    title
        Figure title.
    ax
        Draw on this axis instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One point per physio with its label and its own 95 % CI (when ``ci_low``/``ci_high``
        are given), the 95 % and 99.8 % control limits around 0 (Spiegelhalter 2005); above 0 =
        more pain than expected for their patients.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 4.0), layout="constrained")
    else:
        fig = ax.figure
    curve = funnel.curve
    styles = {"95": ("--", OKABE_ITO["grey"]), "99.8": (":", OKABE_ITO["black"])}
    for col in curve.columns:
        if col.startswith("upper_"):
            level = col.removeprefix("upper_")
            ls, colour = styles.get(level, ("-", OKABE_ITO["grey"]))
            ax.plot(curve["n"], curve[col], ls=ls, color=colour, lw=1, label=f"{level} % limits")
            ax.plot(curve["n"], curve[f"lower_{level}"], ls=ls, color=colour, lw=1)
    ax.axhline(0, color=OKABE_ITO["grey"], lw=0.8)
    phys = funnel.physios
    if {"ci_low", "ci_high"} <= set(phys.columns) and len(phys):  # each physio's own 95 % CI
        o_e = phys["o_minus_e"].to_numpy(float)
        ax.errorbar(phys["n"], o_e, yerr=[o_e - phys["ci_low"].to_numpy(float), phys["ci_high"].to_numpy(float) - o_e],
                    fmt="none", ecolor=OKABE_ITO["vermillion"], elinewidth=1, capsize=3, alpha=0.7)
    ax.plot(phys["n"], phys["o_minus_e"], "o", color=OKABE_ITO["vermillion"], ms=6, label="physio (95 % CI)")
    for row in phys.itertuples(index=False):
        ax.annotate(escape_plot_text(row.physio_id), (row.n, row.o_minus_e), textcoords="offset points",
                    xytext=(5, 4), fontsize=7)
    top = float(np.nanmax(np.abs(curve.filter(like="upper_").to_numpy()[len(curve) // 20:]))) if len(curve) else 1
    spread = max(top, float(np.nanmax(np.abs(phys["o_minus_e"]))) if len(phys) else 0.0) * 1.15
    ax.set_ylim(-spread, spread)
    ax.set_xlim(0, curve["n"].max() if len(curve) else 1)
    ax.set_xlabel("Patients compared (caseload)")
    ax.set_ylabel("Observed - expected pain (points)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=7)
    ax.set_title(escape_plot_text(title) if title is not None else "Observed minus expected pain per physio")
    return fig
