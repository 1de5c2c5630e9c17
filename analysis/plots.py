"""Matplotlib figures shared by the dashboard, the PDF report and the notebooks.

Figures are built from the tidy tables of the analysis modules; nothing is
computed here beyond what is drawn. Conventions, so that no chart misleads:

* one quantity per axis - pain and adherence get separate panels on a shared
  week axis, never a dual y-axis;
* full scales: pain on 0-10, adherence on 0-100 %; axes carry units;
* programme weeks on the x-axis (week 1 starts at the programme start);
* the Okabe-Ito colour-blind-safe palette;
* weeks that have not happened yet or in which the patient stopped logging are
  shown as such (hatched), not as zero bars.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: figures are rendered to files or to Streamlit

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.typing import RcKeyType  # noqa: E402

from analysis.escaping import escape_plot_text  # noqa: E402
from analysis.exercises import EXERCISES  # noqa: E402
from analysis.instruments import INSTRUMENTS  # noqa: E402

__all__ = ["OKABE_ITO", "plot_weekly_progress"]

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}


def plot_weekly_progress(
    weekly: pd.DataFrame,
    *,
    daily_pain: pd.DataFrame | None = None,
    adherent_threshold: float | None = None,
    title: str | None = None,
) -> Figure:
    """Weekly pain and session adherence of one patient, on a shared week axis.

    Parameters
    ----------
    weekly
        One patient's rows of :func:`analysis.cohort.weekly_progress`: ``week``,
        ``nprs_mean``, ``adherence_rate`` (0-1), ``status``.
    daily_pain
        Optional rows of :func:`analysis.trends.daily_pain` for the same patient
        (``day``, ``nprs_mean``), drawn as faint points at day / 7 + 1.
    adherent_threshold
        Draw the adherence threshold (fraction) as a dashed line when given.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: top, pain (NPRS 0-10, weekly mean line and daily points);
        bottom, sessions done as % of prescribed per week (capped at 100 %).
    """
    fig, (ax_pain, ax_adh) = plt.subplots(
        2, 1, sharex=True, figsize=(8, 5.5), gridspec_kw={"height_ratios": [3, 2]}, layout="constrained"
    )
    weeks = weekly["week"].astype(float)
    if daily_pain is not None and len(daily_pain):
        ax_pain.scatter(
            daily_pain["day"].astype(float) / 7 + 1,
            daily_pain["nprs_mean"].astype(float),
            s=10,
            color=OKABE_ITO["grey"],
            alpha=0.6,
            label="daily rating",
        )
    ax_pain.plot(
        weeks + 0.5,
        weekly["nprs_mean"].astype(float),
        marker="o",
        color=OKABE_ITO["blue"],
        label="weekly mean",
    )
    ax_pain.set_ylim(-0.3, 10.3)
    ax_pain.set_ylabel("Pain (NPRS, 0-10)")
    ax_pain.grid(axis="y", alpha=0.3)
    ax_pain.legend(loc="upper right", frameon=False, fontsize=8)

    status = weekly["status"].astype(str)
    shown = ~status.isin(["not yet"])
    rate = weekly["adherence_rate"].astype(float).fillna(0.0) * 100
    meets = rate >= (adherent_threshold * 100 if adherent_threshold is not None else float("inf"))
    colours = np.where(meets, OKABE_ITO["green"], OKABE_ITO["orange"])
    ax_adh.bar(weeks[shown] + 0.5, rate[shown], width=0.8, color=list(colours[shown.to_numpy()]))
    stopped = status.eq("stopped logging")
    if stopped.any():
        ax_adh.bar(
            weeks[stopped] + 0.5, 100, width=0.8, fill=False, hatch="//", edgecolor=OKABE_ITO["grey"],
            label="stopped logging",
        )
    not_yet = status.eq("not yet")
    if not_yet.any():
        ax_adh.bar(
            weeks[not_yet] + 0.5, 100, width=0.8, fill=False, hatch="..", edgecolor=OKABE_ITO["grey"],
            label="not yet",
        )
    if adherent_threshold is not None:
        ax_adh.axhline(adherent_threshold * 100, ls="--", color=OKABE_ITO["black"], lw=1,
                       label=f"adherent ({adherent_threshold:.0%})")
    ax_adh.set_ylim(0, 105)
    ax_adh.set_ylabel("Sessions done\n(% of prescribed)")
    ax_adh.set_xlabel("Programme week")
    if len(weeks):
        ax_adh.set_xticks(weeks + 0.5, [str(int(w)) for w in weeks])
        ax_adh.set_xlim(weeks.min(), weeks.max() + 1)
    ax_adh.grid(axis="y", alpha=0.3)
    handles, _ = ax_adh.get_legend_handles_labels()
    if handles:
        ax_adh.legend(loc="upper right", frameon=False, fontsize=8)
    if title:
        fig.suptitle(escape_plot_text(title))
    return fig


# ============================================================= research figures (notebooks, cohort report)


_GROUP_COLOURS = (OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["green"], OKABE_ITO["purple"],
                  OKABE_ITO["sky_blue"], OKABE_ITO["vermillion"])


def plot_cohort_weekly(
    overview: pd.DataFrame, *, adherent_threshold: float | None = None, title: str | None = None
) -> Figure:
    """Cohort adherence and pain per programme week, on a shared week axis.

    Parameters
    ----------
    overview
        Output of :func:`analysis.report.weekly_overview` (``week``, ``n_patients``,
        ``adherence_median``, ``adherence_q1``, ``adherence_q3``, ``adherence_mean``,
        ``nprs_mean``, ``n_with_pain``).
    adherent_threshold
        Draw the adherence threshold (fraction) as a dashed line when given.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Top: sessions done as % of prescribed (median with interquartile band, and
        the mean), 0-100 %; bottom: mean weekly pain (NPRS 0-10); the number of
        patients per week is written under the x-axis.
    """
    fig, (ax_adh, ax_pain) = plt.subplots(
        2, 1, sharex=True, figsize=(8, 5.5), gridspec_kw={"height_ratios": [1, 1]}, layout="constrained"
    )
    week = overview["week"].astype(float)
    ax_adh.fill_between(week, overview["adherence_q1"] * 100, overview["adherence_q3"] * 100,
                        color=OKABE_ITO["sky_blue"], alpha=0.35, label="interquartile range", step=None)
    ax_adh.plot(week, overview["adherence_median"] * 100, marker="o", color=OKABE_ITO["blue"], label="median")
    ax_adh.plot(week, overview["adherence_mean"] * 100, ls=":", color=OKABE_ITO["black"], label="mean")
    if adherent_threshold is not None:
        ax_adh.axhline(adherent_threshold * 100, ls="--", lw=1, color=OKABE_ITO["vermillion"],
                       label=f"adherent ({adherent_threshold:.0%})")
    ax_adh.set_ylim(0, 105)
    ax_adh.set_ylabel("Sessions done\n(% of prescribed)")
    ax_adh.legend(loc="lower left", frameon=False, fontsize=8, ncol=2)
    ax_adh.grid(axis="y", alpha=0.3)
    ax_pain.plot(week, overview["nprs_mean"], marker="o", color=OKABE_ITO["vermillion"], label="mean weekly pain")
    ax_pain.set_ylim(0, 10)
    ax_pain.set_ylabel("Pain (NPRS, 0-10)")
    ax_pain.set_xlabel("Programme week (n patients in the programme)")
    ax_pain.grid(axis="y", alpha=0.3)
    ax_pain.set_xticks(week, [f"{int(w)}\n({int(n)})" for w, n in zip(week, overview["n_patients"], strict=True)])
    if title:
        fig.suptitle(escape_plot_text(title))
    return fig


def plot_km(
    curves: Any,
    *,
    logrank: Any = None,
    event_label: str = "had the event",
    at_risk_times: Any = None,
    cumulative: bool = True,
    title: str | None = None,
) -> Figure:
    """Kaplan-Meier curves with confidence bands, censoring marks and a number-at-risk table.

    Parameters
    ----------
    curves
        Mapping of label to :class:`analysis.outcomes.KaplanMeierResult` (e.g.
        :attr:`analysis.report.KMComparison.curves`); a curve labelled ``"all"`` is
        drawn in black when others are present.
    logrank
        Optional :class:`analysis.outcomes.LogrankResult`, printed on the plot.
    event_label
        What the event is, for the y-axis ("reached the MCID").
    at_risk_times
        Days at which to count patients at risk (default every 14 days over the data).
    cumulative
        Plot the proportion who had the event (1 - S(t), rising) rather than S(t).
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Step curves over days since programme start with pointwise 95 % bands,
        ``|`` marks at censoring times, and below the axis the number at risk of
        each curve at ``at_risk_times``.
    """
    items = list(curves.items())
    if len(items) > 1:
        items = [(k, v) for k, v in items if k != "all"] + [(k, v) for k, v in items if k == "all"]
    t_max = max(float(c.table["time"].max()) for _, c in items) if items else 1.0
    times = np.arange(0, t_max + 1, 14) if at_risk_times is None else np.asarray(at_risk_times, dtype=float)
    n_rows = len(items)
    fig, (ax, ax_tab) = plt.subplots(
        2, 1, figsize=(8, 5.2 + 0.25 * n_rows), gridspec_kw={"height_ratios": [5, 0.45 + 0.35 * n_rows]},
        sharex=True, layout="constrained",
    )
    for i, (label, c) in enumerate(items):
        colour = OKABE_ITO["black"] if (label == "all" and len(items) > 1) else _GROUP_COLOURS[i % len(_GROUP_COLOURS)]
        tab = c.table
        y = 1 - tab["survival"] if cumulative else tab["survival"]
        lo = 1 - tab["ci_high"] if cumulative else tab["ci_low"]
        hi = 1 - tab["ci_low"] if cumulative else tab["ci_high"]
        ls = "--" if (label == "all" and len(items) > 1) else "-"
        ax.step(tab["time"], y * 100, where="post", color=colour, ls=ls,
                label=f"{escape_plot_text(label)} (n = {c.n}, events = {c.n_events})")
        if not (label == "all" and len(items) > 1):  # the pooled curve without a band keeps groups readable
            ax.fill_between(tab["time"], lo * 100, hi * 100, step="post", color=colour, alpha=0.12)
        cens = tab["censored"] > 0
        ax.plot(tab["time"][cens], (y * 100)[cens], ls="none", marker="|", ms=8, color=colour)
        at_risk = [int(c.table.loc[c.table["time"] >= t, "at_risk"].iloc[0]) if (c.table["time"] >= t).any() else 0
                   for t in times]
        # the number at risk at t: those whose time is >= t (lifelines' at_risk at the first listed time >= t)
        for t, k in zip(times, at_risk, strict=True):
            ax_tab.text(t, n_rows - 1 - i, str(k), ha="center", va="center", fontsize=8, color=colour)
    ax.set_ylim(0, 100)
    ax.set_ylabel(f"% who {event_label}" if cumulative else f"% who have not yet {event_label}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left" if cumulative else "lower left", frameon=False, fontsize=8)
    if logrank is not None:
        ax.text(0.98, 0.04 if cumulative else 0.96, f"log-rank p = {logrank.p_value:.3f}", transform=ax.transAxes,
                ha="right", va="bottom" if cumulative else "top", fontsize=9)
    ax_tab.set_ylim(-0.6, n_rows - 0.4)
    ax_tab.set_yticks(range(n_rows), [escape_plot_text(label) for label, _ in reversed(items)], fontsize=8)
    ax_tab.set_xticks(times)
    ax_tab.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        ax_tab.spines[side].set_visible(False)
    ax_tab.set_title("Number at risk", fontsize=8, loc="left")
    ax_tab.set_xlabel("Days since programme start")
    ax_tab.set_xlim(-t_max * 0.02, t_max * 1.04)
    if title:
        fig.suptitle(escape_plot_text(title))
    return fig


def plot_adherence_vs_change(
    adherence: pd.Series,
    change: pd.Series,
    *,
    fit: Any = None,
    mcid_points: float | None = None,
    title: str | None = None,
) -> Figure:
    """Each patient's overall adherence against their change in pain, with a fitted line.

    Parameters
    ----------
    adherence
        Overall session adherence per patient (fraction 0-1).
    change
        Change in pain per patient (points; negative = less pain), same order.
    fit
        Optional :class:`analysis.models.LinearFit` of change on adherence **in %**
        (x = adherence x 100), drawn with its confidence band.
    mcid_points
        Draw the MCID improvement (change = -mcid_points) as a dashed line.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Scatter on adherence 0-100 % x change in NPRS points.
    """
    fig, ax = plt.subplots(figsize=(6.5, 5.2), layout="constrained")
    x = pd.to_numeric(adherence, errors="coerce").astype(float) * 100
    y = pd.to_numeric(change, errors="coerce").astype(float)
    ax.scatter(x, y, s=22, color=OKABE_ITO["blue"], alpha=0.75, label="patient")
    if fit is not None:
        ax.plot(fit.band["x"], fit.band["fit"], color=OKABE_ITO["vermillion"],
                label=f"least squares: {fit.slope * 10:+.2f} points per 10 % (r = {fit.r:.2f})")
        ax.fill_between(fit.band["x"], fit.band["ci_low"], fit.band["ci_high"], color=OKABE_ITO["vermillion"],
                        alpha=0.15, label=f"{fit.confidence * 100:g} % CI of the line")
    if mcid_points is not None:
        ax.axhline(-mcid_points, ls="--", lw=1, color=OKABE_ITO["black"], label=f"MCID ({mcid_points:g} points better)")
    ax.axhline(0, lw=0.8, color=OKABE_ITO["grey"])
    ax.set_xlim(0, 102)
    ax.set_xlabel("Sessions done (% of prescribed, whole programme)")
    ax.set_ylabel("Change in pain (NPRS points; below 0 = better)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False, fontsize=8)
    if title:
        ax.set_title(escape_plot_text(title))
    return fig


def plot_slope_distribution(
    trends: pd.DataFrame,
    *,
    slope_column: str = "trend_slope_per_week",
    label_column: str = "trend",
    title: str | None = None,
) -> Figure:
    """Histogram of per-patient pain slopes, coloured by trend label.

    Parameters
    ----------
    trends
        A table with one row per patient: :func:`analysis.cohort.cohort_summary` or
        :func:`analysis.trends.pain_trends` (``trend_slope_per_week``, ``trend``).
    slope_column
        Slope to draw (points per week); by default the trend rule's least-squares
        slope, which ties cannot force to exactly 0 (a Theil-Sen histogram of
        whole-number diaries has a spike at 0).
    label_column
        Label to colour by (``"improving"``, ``"no clear trend"``, ``"worsening"``).
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Stacked histogram of slopes (points per week) with a line at 0; the legend
        gives the number of patients per label.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
    slopes = pd.to_numeric(trends[slope_column], errors="coerce").astype(float)
    labels = trends[label_column].astype("string")
    ok = slopes.notna()
    order = [("improving", OKABE_ITO["green"]), ("no clear trend", OKABE_ITO["grey"]),
             ("worsening", OKABE_ITO["vermillion"])]
    if ok.any():
        bins = np.linspace(float(slopes[ok].min()), float(slopes[ok].max()), 21)
        data, colours, names = [], [], []
        for name, colour in order:
            sel = ok & (labels == name).fillna(False)
            data.append(slopes[sel].to_numpy())
            colours.append(colour)
            names.append(f"{name} (n = {int(sel.sum())})")
        ax.hist(data, bins=list(bins), stacked=True, color=colours, label=names)
    ax.axvline(0, color=OKABE_ITO["black"], lw=1)
    ax.set_xlabel("Pain trend slope (NPRS points per week; below 0 = pain falls)")
    ax.set_ylabel("Patients")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    n_missing = int((~ok).sum())
    if n_missing:
        ax.text(0.99, 0.98, f"{n_missing} without enough days", transform=ax.transAxes, ha="right", va="top",
                fontsize=8, color=OKABE_ITO["grey"])
    if title:
        ax.set_title(escape_plot_text(title))
    return fig


def plot_model_predictions(predictions: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Expected weekly pain by adherence level from the mixed model, with confidence bands.

    Parameters
    ----------
    predictions
        Output of :func:`analysis.models.predict_pain` (``adherence_rate``, ``week``,
        ``nprs``, ``ci_low``, ``ci_high``).
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One line per adherence level over programme weeks, NPRS 0-10.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4.2), layout="constrained")
    for i, (rate, part) in enumerate(predictions.groupby("adherence_rate", sort=True)):
        colour = _GROUP_COLOURS[i % len(_GROUP_COLOURS)]
        ax.plot(part["week"], part["nprs"], color=colour, marker="o", ms=3, label=f"{rate:.0%} of sessions")
        ax.fill_between(part["week"], part["ci_low"], part["ci_high"], color=colour, alpha=0.12)
    ax.set_ylim(0, 10)
    ax.set_xlabel("Programme week")
    ax.set_ylabel("Expected weekly pain (NPRS, 0-10)")
    ax.grid(alpha=0.3)
    ax.legend(title="Adherence", frameon=False, fontsize=8)
    if title:
        ax.set_title(escape_plot_text(title))
    return fig


def plot_load_vs_flares(summary: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Share of weeks followed by a pain flare, by acute:chronic load group (descriptive only).

    Parameters
    ----------
    summary
        Second output of :func:`analysis.report.load_vs_flares` (``load_group``,
        ``n_weeks``, ``weeks_with_flare``, ``percent_weeks_with_flare``).
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Bars of % of weeks with a pain flare (that week or the next), labelled with
        counts; a note that the ratio is descriptive only.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4.0), layout="constrained")
    colours = [OKABE_ITO["vermillion"], OKABE_ITO["blue"], OKABE_ITO["grey"]]
    pos = np.arange(len(summary))
    ax.bar(pos, summary["percent_weeks_with_flare"].fillna(0), color=colours[: len(summary)])
    for p, (k, n) in enumerate(zip(summary["weeks_with_flare"], summary["n_weeks"], strict=True)):
        ax.text(p, float(summary["percent_weeks_with_flare"].fillna(0).iloc[p]) + 1, f"{k} of {n} weeks",
                ha="center", fontsize=8)
    ax.set_xticks(pos, [escape_plot_text(g) for g in summary["load_group"].astype(str)])
    ax.set_ylim(0, 100)
    ax.set_ylabel("Weeks with a pain flare\n(that week or the next, %)")
    ax.grid(axis="y", alpha=0.3)
    ax.text(0.99, 0.98, "acute:chronic ratio: descriptive only\n(athlete evidence, contested)",
            transform=ax.transAxes, ha="right", va="top", fontsize=8, color=OKABE_ITO["grey"])
    if title:
        ax.set_title(escape_plot_text(title))
    return fig


def plot_flag_rates(rates: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Safety flags per 100 patient-weeks, by kind.

    Parameters
    ----------
    rates
        Output of :func:`analysis.report.flag_rates` (``kind``, ``per_100_patient_weeks``,
        ``n_patients_flagged``, ``percent_patients``).
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Horizontal bars; each labelled with the patients flagged.
    """
    fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
    kinds = [escape_plot_text(k) for k in rates["kind"].astype(str).str.replace("_", " ")]
    pos = np.arange(len(rates))[::-1]
    ax.barh(pos, rates["per_100_patient_weeks"], color=OKABE_ITO["blue"])
    for p, rate, k, pc in zip(pos, rates["per_100_patient_weeks"], rates["n_patients_flagged"],
                              rates["percent_patients"], strict=True):
        ax.text(rate + 0.3, p, f"{k} patients ({pc:.0f} %)", va="center", fontsize=8)
    ax.set_yticks(pos, kinds)
    ax.set_xlabel("Flags per 100 patient-weeks")
    ax.set_xlim(0, float(rates["per_100_patient_weeks"].max()) * 1.45 + 1)
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(escape_plot_text(title))
    return fig


__all__ += [
    "plot_cohort_weekly",
    "plot_km",
    "plot_adherence_vs_change",
    "plot_slope_distribution",
    "plot_model_predictions",
    "plot_load_vs_flares",
    "plot_flag_rates",
]


def plot_patient_progress(
    weekly: pd.DataFrame,
    *,
    daily_pain: pd.DataFrame | None = None,
    baseline: float | None = None,
    mcid_abs: float | None = None,
    mcid_pct: float | None = None,
    title: str | None = None,
) -> Figure:
    """A patient's own progress: weekly pain against their baseline, and sessions done vs planned.

    Made for the patient's "My progress" page (readable on a phone) and for
    the report: large type, two panels on a shared programme-week axis, one
    quantity per axis.

    Parameters
    ----------
    weekly
        One patient's rows of :func:`analysis.cohort.weekly_progress`: ``week``
        (programme week), ``nprs_mean`` (NPRS points 0-10, NaN without ratings),
        ``sessions_prescribed`` (sessions), ``sessions_completed`` (session days)
        and ``status`` (``'complete'``, ``'in progress'``, ``'not yet'``,
        ``'stopped logging'``).
    daily_pain
        Optional rows of :func:`analysis.trends.daily_pain` for the same patient
        (``day``, ``nprs_mean``), drawn as faint points at ``day / 7 + 1``.
    baseline
        Baseline pain (NPRS points; e.g. ``pain_change``'s ``baseline``), drawn as
        a dashed line; NaN or ``None`` draws no baseline and no band.
    mcid_abs
        Absolute minimal clinically important difference (NPRS points, 2 by
        default in :mod:`analysis.instruments`).
    mcid_pct
        Relative MCID as a fraction of baseline (``settings.mcid_percent``, 0.30).
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Top panel: weekly mean pain (NPRS 0-10, line with points at the middle
        of each week), daily ratings (grey points), the baseline (dashed) and
        the MCID band around it (shaded). Bottom panel: sessions done per week
        (bars; sessions) with the week's plan (black tick marks); weeks not yet
        reached show the plan only.

    Notes
    -----
    The band spans ``baseline +/- d`` with ``d = min(mcid_abs, mcid_pct x
    baseline)``: a change smaller than ``d`` meets neither MCID rule, and
    either rule is enough for a meaningful change (Ostelo et al. 2008), so
    weekly pain below the band means a meaningful improvement. When only one
    rule is given, ``d`` is that rule's value.

    References
    ----------
    Ostelo R.W. et al. 2008, Spine 33(1):90-94 (NPRS MCID 2 points or 30 %).
    """
    # large type on a narrow figure: still legible when a phone shows it 360 px wide
    rc: dict[RcKeyType, Any] = {"font.size": 14, "axes.titlesize": 15, "axes.labelsize": 14, "legend.fontsize": 12.5,
          "xtick.labelsize": 13, "ytick.labelsize": 13}
    with plt.rc_context(rc):
        fig, (ax_pain, ax_done) = plt.subplots(
            2, 1, sharex=True, figsize=(6, 7.4), gridspec_kw={"height_ratios": [3, 2]}, layout="constrained"
        )
        weeks = weekly["week"].astype(float).to_numpy()
        middle = weeks + 0.5
        if baseline is not None and np.isfinite(baseline):
            d = mcid_band(baseline, mcid_abs, mcid_pct)
            if np.isfinite(d):
                ax_pain.axhspan(baseline - d, baseline + d, color=OKABE_ITO["sky_blue"], alpha=0.25, lw=0,
                                label=mcid_band_label(baseline, mcid_abs, mcid_pct))
            ax_pain.axhline(baseline, ls="--", lw=1.5, color=OKABE_ITO["black"], label=f"baseline {baseline:.1f}")
        if daily_pain is not None and len(daily_pain):
            ax_pain.scatter(daily_pain["day"].astype(float) / 7 + 1, daily_pain["nprs_mean"].astype(float),
                            s=12, color=OKABE_ITO["grey"], alpha=0.6, label="daily rating", zorder=2)
        ax_pain.plot(middle, weekly["nprs_mean"].astype(float).to_numpy(), marker="o", ms=7, lw=2.2,
                     color=OKABE_ITO["vermillion"], label="weekly average", zorder=3)
        ax_pain.set_ylim(-0.3, 10.3)
        ax_pain.set_yticks(range(0, 11, 2))
        ax_pain.set_ylabel("Pain (0-10)")
        ax_pain.grid(axis="y", alpha=0.3)
        ax_pain.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncols=2, frameon=False)
        ax_pain.tick_params(labelbottom=False)

        status = weekly["status"].astype(str).to_numpy()
        planned = weekly["sessions_prescribed"].astype(float).to_numpy()
        done = weekly["sessions_completed"].astype(float).to_numpy()
        reached = status != "not yet"
        ax_done.bar(middle[reached], done[reached], width=0.7, color=OKABE_ITO["blue"], label="sessions done")
        has_plan = np.isfinite(planned) & (planned > 0)
        ax_done.scatter(middle[has_plan], planned[has_plan], marker="_", s=500, linewidths=2.5,
                        color=OKABE_ITO["black"], label="plan", zorder=3)
        top = np.nanmax(np.concatenate([planned[has_plan], done[reached], [7.0]]))
        ax_done.set_ylim(0, np.ceil(top) + 0.5)
        ax_done.set_ylabel("Sessions per week")
        ax_done.set_xlabel("Programme week")
        if len(weeks):
            step = 1 if len(weeks) <= 12 else 2
            ticks = weeks[::step]
            ax_done.set_xticks(ticks + 0.5, [str(int(w)) for w in ticks])
            ax_done.set_xlim(weeks.min(), weeks.max() + 1)
        ax_done.grid(axis="y", alpha=0.3)
        ax_done.legend(loc="lower center", bbox_to_anchor=(0.5, 0.98), ncols=2, frameon=False)  # above the bars
        if title:
            fig.suptitle(escape_plot_text(title))
    return fig


__all__ += ["plot_patient_progress"]


# ================================================================ one patient's detail (physio page, PDF report)

_PAIN_FLAG_STYLE: dict[str, tuple[str, str, str]] = {
    # kind: (row label, marker, colour)
    "pain_flare": ("pain flare", "^", OKABE_ITO["vermillion"]),
    "self_reported_flare": ("flare reported", "v", OKABE_ITO["orange"]),
    "pain_during_exercise": ("pain during exercise", "P", OKABE_ITO["purple"]),
}


def _week_axis(ax: Any, first_week: int, last_week: int, label: bool = True) -> None:
    """Programme weeks on the x-axis: week w spans [w, w + 1), labelled at its centre."""
    first_week, last_week = int(first_week), int(max(last_week, first_week))
    weeks = np.arange(first_week, last_week + 1)
    ax.set_xlim(first_week, last_week + 1)
    ax.set_xticks(weeks + 0.5, [str(w) for w in weeks])
    ax.set_xticks(np.arange(first_week, last_week + 2), minor=True)
    ax.tick_params(axis="x", which="minor", length=0)
    ax.grid(axis="x", which="minor", alpha=0.25)
    if label:
        ax.set_xlabel("Programme week (week 1 starts on the programme start day)")


def _week_span(days: list[Any], weeks: list[Any]) -> tuple[int, int]:
    """First and last programme week (at least week 1) covered by day columns and week columns."""
    found: list[float] = []
    for values, is_day in [(d, True) for d in days] + [(w, False) for w in weeks]:
        v = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").dropna().astype(float).to_numpy()
        if len(v):
            v = np.floor(v / 7) + 1 if is_day else v
            found.extend([float(v.min()), float(v.max())])
    if not found:
        return 1, 1
    return max(int(min(found)), 1), max(int(max(found)), 1)


def mcid_band_label(baseline: float, mcid_abs: float | None, mcid_pct: float | None) -> str:
    """The legend of the MCID band, with the band and the rule it comes from (the same words as the captions).

    Parameters
    ----------
    baseline
        Baseline score.
    mcid_abs, mcid_pct
        Absolute MCID (points) and MCID as a fraction of baseline, or ``None``.

    Returns
    -------
    str

    Examples
    --------
    >>> print(mcid_band_label(6.3, 2.0, 0.30))
    within the MCID of baseline: ±1.9 points
    (the smaller of 2 points and 30 % of 6.3)
    """
    d = mcid_band(baseline, mcid_abs, mcid_pct)
    rules = []
    if mcid_abs is not None and np.isfinite(mcid_abs):
        rules.append(f"{mcid_abs:g} points")
    if mcid_pct is not None and np.isfinite(mcid_pct):
        rules.append(f"{mcid_pct * 100:g} % of {baseline:.1f}")
    why = f"the smaller of {' and '.join(rules)}" if len(rules) == 2 else (rules[0] if rules else "")
    return f"within the MCID of baseline: \u00b1{d:.1f} points" + (f"\n({why})" if why else "")


def mcid_band(baseline: float, mcid_abs: float | None, mcid_pct: float | None) -> float:
    """Half-width of the "no meaningful change" band around a baseline (score units).

    Parameters
    ----------
    baseline
        Baseline score.
    mcid_abs
        Absolute MCID (score units), or ``None``.
    mcid_pct
        MCID as a fraction of baseline (0.30), or ``None``.

    Returns
    -------
    float
        ``min(mcid_abs, mcid_pct x |baseline|)``: the smallest change that meets
        the MCID under either rule (Ostelo et al. 2008: absolute **or** %);
        NaN when neither rule is given or the baseline is missing.
    """
    options = []
    if mcid_abs is not None and np.isfinite(mcid_abs):
        options.append(float(mcid_abs))
    if mcid_pct is not None and np.isfinite(mcid_pct) and baseline is not None and np.isfinite(baseline):
        options.append(float(mcid_pct) * abs(float(baseline)))
    if not options or baseline is None or not np.isfinite(baseline):
        return float("nan")
    return min(options)


def plot_pain_timeline(
    daily: pd.DataFrame,
    *,
    weekly: pd.DataFrame | None = None,
    baseline: float | None = None,
    mcid_abs: float | None = None,
    mcid_pct: float | None = None,
    flags: pd.DataFrame | None = None,
    rolling_window_days: int | None = None,
    title: str | None = None,
) -> Figure:
    """One patient's pain over the programme: daily ratings, rolling mean, weekly mean, baseline and MCID band.

    Parameters
    ----------
    daily
        :func:`analysis.trends.rolling_pain` rows of one patient (``day``,
        ``nprs_mean``, ``n_ratings``, ``nprs_rolling``); days without a rating
        (``n_ratings`` 0) are not drawn as points.
    weekly
        Optional rows of :func:`analysis.cohort.weekly_progress` (``week``,
        ``nprs_mean``), drawn as one horizontal segment per week.
    baseline
        Baseline pain (points), drawn as a dashed line.
    mcid_abs, mcid_pct
        MCID rules (points; fraction of baseline). With ``baseline`` they give the
        shaded band ``baseline +- mcid_band(...)``: inside it the change is
        smaller than the MCID.
    flags
        Optional :func:`analysis.flags.safety_flags` rows with a ``day`` column;
        pain flares, self-reported flares and pain during exercise are marked on a
        strip under the pain panel, one row per kind.
    rolling_window_days
        Window of the rolling mean, for the legend.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Top panel: pain (NPRS 0-10) over programme weeks (x = day / 7 + 1, so
        week w spans [w, w + 1)); bottom strip: the flag markers on the same
        x-axis. One quantity per axis; no second y-axis.
    """
    fig, (ax, ax_flags) = plt.subplots(
        2, 1, sharex=True, figsize=(9, 4.8), gridspec_kw={"height_ratios": [4, 1.1]}, layout="constrained"
    )
    rated = daily.loc[pd.to_numeric(daily["n_ratings"], errors="coerce").fillna(0).to_numpy() > 0]
    def x_day(d: pd.Series) -> pd.Series:  # the centre of the day, in programme weeks
        return pd.to_numeric(d, errors="coerce").astype(float) / 7 + 1 + 0.5 / 7

    band = mcid_band(baseline, mcid_abs, mcid_pct) if baseline is not None else float("nan")
    if baseline is not None and np.isfinite(baseline):
        if np.isfinite(band):
            ax.axhspan(max(baseline - band, 0), min(baseline + band, 10), color=OKABE_ITO["sky_blue"], alpha=0.18,
                       lw=0, label=mcid_band_label(baseline, mcid_abs, mcid_pct))
        ax.axhline(baseline, ls="--", lw=1, color=OKABE_ITO["black"], label=f"baseline ({baseline:.1f})")
    ax.scatter(x_day(rated["day"]), rated["nprs_mean"].astype(float), s=12, color=OKABE_ITO["grey"], alpha=0.8,
               label="daily rating", zorder=3)
    if "nprs_rolling" in daily.columns and len(daily):
        window = f"{rolling_window_days}-day " if rolling_window_days else ""
        ax.plot(x_day(daily["day"]), daily["nprs_rolling"].astype(float), color=OKABE_ITO["blue"], lw=1.8,
                label=f"{window}rolling mean", zorder=4)
    if weekly is not None and len(weekly):
        wk = weekly.loc[weekly["nprs_mean"].notna()]
        w = wk["week"].astype(float).to_numpy()
        ax.hlines(wk["nprs_mean"].astype(float), w + 0.08, w + 0.92, colors=OKABE_ITO["vermillion"], lw=2.2,
                  label="weekly mean", zorder=5)
    ax.set_ylim(0, 10)
    ax.set_yticks(range(0, 11, 2))
    ax.set_ylabel("Pain (NPRS points, 0-10)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=5, frameon=False, fontsize=7.5)

    kinds = list(_PAIN_FLAG_STYLE)
    for row, kind in enumerate(kinds):
        name, marker, colour = _PAIN_FLAG_STYLE[kind]
        if flags is not None and len(flags):
            sel = flags["kind"].astype("string").eq(kind).fillna(False).to_numpy(dtype=bool)
            days = flags.loc[sel, "day"]
            if len(days):
                ax_flags.scatter(x_day(days), np.full(len(days), len(kinds) - 1 - row), marker=marker, s=36,
                                 color=colour, zorder=3)
    ax_flags.set_yticks(range(len(kinds)), [_PAIN_FLAG_STYLE[k][0] for k in reversed(kinds)], fontsize=8)
    ax_flags.set_ylim(-0.6, len(kinds) - 0.4)
    ax_flags.set_ylabel("Flags", fontsize=8)
    first, last = _week_span(
        [daily["day"]] + ([flags["day"]] if flags is not None and len(flags) else []),
        [weekly["week"]] if weekly is not None and len(weekly) else [],
    )
    _week_axis(ax_flags, first, last)
    ax.tick_params(axis="x", labelbottom=False)
    if title:
        fig.suptitle(escape_plot_text(title))
    return fig


def _exercise_label(exercise: str, side: str) -> str:
    known = EXERCISES.get(str(exercise))
    name = known.label if known is not None else str(exercise).replace("_", " ")
    return escape_plot_text(name if str(side) == "both" else f"{name}, {side}")  # user text: never math text


def plot_adherence_by_exercise(
    weekly: pd.DataFrame,
    dose: pd.DataFrame,
    *,
    adherent_threshold: float | None = None,
    title: str | None = None,
) -> Figure:
    """Sessions per week and dose per exercise and side, each against the prescription (0-100 %).

    Parameters
    ----------
    weekly
        One patient's rows of :func:`analysis.adherence.weekly_adherence` or
        :func:`analysis.cohort.weekly_progress` (``week``, ``adherence_rate``
        fraction 0-1, ``status``).
    dose
        The patient's rows of :func:`analysis.adherence.dose_completion`
        (``exercise``, ``side``, ``week``, ``prescribed``, ``dose_completion``,
        ``dose_completion_capped``).
    adherent_threshold
        Draw the adherence threshold (fraction) as a dashed line when given.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Top panel: sessions done as % of prescribed, one bar per week of
        ``weekly`` (green when the week meets ``adherent_threshold``, orange
        otherwise; "not yet" and "stopped logging" weeks are labelled), on 0-100 %.
        Bottom panel: one row per exercise and side, one cell per week, holding
        the dose done (sets x reps x hold) as % of the prescribed dose, written
        in the cell (uncapped, so 250 means two and a half times the dose) and
        coloured on the colour-blind-safe, perceptually uniform *cividis* scale
        capped at 100 %; "-" marks weeks when that exercise was not prescribed.
        Both panels share the programme-week axis.

    Notes
    -----
    A grid of cells rather than one bar panel per exercise: it reads the same
    way (rows are exercises, columns weeks) and draws in a fraction of the
    time, which keeps the dashboard responsive.
    """
    from matplotlib.colors import Normalize

    pairs = (list(dose[["exercise", "side"]].astype(str).drop_duplicates().sort_values(["exercise", "side"])
                  .itertuples(index=False, name=None)) if len(dose) else [])
    n_rows = max(len(pairs), 1)
    fig, (ax, ax_dose) = plt.subplots(
        2, 1, sharex=True, figsize=(9, 3.2 + 0.42 * n_rows),
        gridspec_kw={"height_ratios": [2.4, 0.5 + 0.42 * n_rows]}, layout="constrained",
    )
    weeks = weekly["week"].astype(float).to_numpy()
    rate = weekly["adherence_rate"].astype(float).to_numpy() * 100
    thr = adherent_threshold * 100 if adherent_threshold is not None else None
    meets = np.nan_to_num(rate) >= (thr if thr is not None else np.inf)
    colours = [OKABE_ITO["green"] if m else OKABE_ITO["orange"] for m in meets]
    ax.bar(weeks + 0.5, np.nan_to_num(rate), width=0.8, color=colours)
    status = weekly["status"].astype(str).to_numpy()
    for w, s in zip(weeks, status, strict=True):
        if s in ("not yet", "stopped logging"):
            ax.text(w + 0.5, 4, s, ha="center", va="bottom", rotation=90, fontsize=7, color=OKABE_ITO["black"])
    if thr is not None:
        ax.axhline(thr, ls="--", lw=1, color=OKABE_ITO["black"], label=f"adherent ({adherent_threshold:.0%})")
        ax.legend(loc="upper right", frameon=False, fontsize=7)
    ax.set_ylim(0, 100)
    ax.set_yticks([0, 25, 50, 75, 100])
    ax.grid(axis="y", alpha=0.3)
    ax.set_title("All exercises: sessions done per week", fontsize=9, loc="left")
    ax.set_ylabel("Sessions done\n(% of prescribed)", fontsize=8)

    all_weeks = np.concatenate([weeks, dose["week"].astype(float).to_numpy() if len(dose) else np.array([])])
    first = int(np.nanmin(all_weeks)) if len(all_weeks) else 1
    last = int(np.nanmax(all_weeks)) if len(all_weeks) else 1
    grid = np.full((n_rows, last - first + 1), np.nan)
    full = np.full_like(grid, np.nan)
    row_of = {p: i for i, p in enumerate(pairs)}
    if len(dose):
        given = dose.loc[dose["prescribed"].astype(bool)]
        r = np.array([row_of[(str(e), str(s))] for e, s in zip(given["exercise"], given["side"], strict=True)],
                     dtype=int)
        c = given["week"].astype(int).to_numpy() - first
        grid[r, c] = given["dose_completion_capped"].astype(float).to_numpy() * 100
        full[r, c] = given["dose_completion"].astype(float).to_numpy() * 100
    norm = Normalize(0, 100)
    cmap = plt.get_cmap("cividis")
    mesh = ax_dose.pcolormesh(np.arange(first, last + 2), np.arange(n_rows + 1), np.ma.masked_invalid(grid),
                              cmap=cmap, norm=norm, edgecolors="white", linewidth=1.5)
    for i in range(n_rows):
        for j in range(grid.shape[1]):
            value = full[i, j]
            if np.isfinite(value):
                light = norm(min(value, 100)) > 0.55
                ax_dose.text(first + j + 0.5, i + 0.5, f"{value:.0f}", ha="center", va="center", fontsize=7.5,
                             color=OKABE_ITO["black"] if light else "white")
            elif len(pairs):
                ax_dose.text(first + j + 0.5, i + 0.5, "-", ha="center", va="center", fontsize=7.5,
                             color=OKABE_ITO["grey"])
    ax_dose.set_ylim(n_rows, 0)
    ax_dose.set_yticks(np.arange(n_rows) + 0.5, [_exercise_label(e, s) for e, s in pairs] or ["no prescription"],
                       fontsize=7.5)
    ax_dose.tick_params(axis="y", length=0)
    ax_dose.set_title("Dose done per exercise and side\n(sets x reps x hold, % of prescribed; '-' = not prescribed)",
                      fontsize=9, loc="left")
    cbar = fig.colorbar(mesh, ax=ax_dose, pad=0.01, aspect=12)
    cbar.set_label("% of prescribed\n(colour capped at 100)", fontsize=7)
    cbar.ax.tick_params(labelsize=7)
    ax.set_xlim(first, last + 1)
    _week_axis(ax_dose, first, last)
    ax_dose.grid(False, which="both")
    if title:
        fig.suptitle(escape_plot_text(title))
    return fig


def plot_load_progression(
    load: pd.DataFrame, *, acwr_max: float | None = None, chronic_weeks: int | None = None, title: str | None = None
) -> Figure:
    """Weekly exercise dose and the acute:chronic ratio, with rapid-increase weeks marked (descriptive only).

    Parameters
    ----------
    load
        One patient's rows of :func:`analysis.flags.load_progression` (``week``,
        ``dose``, ``acwr``, ``flagged``).
    acwr_max
        The flag threshold (ratio), drawn as a dashed line.
    chronic_weeks
        Weeks in the chronic mean, for the axis label.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Top: weekly dose (repetition-seconds), one bar per week, flagged weeks
        hatched in vermillion. Bottom: the acute:chronic ratio per week on its
        own axis (no dual axis) with the threshold. A note says the indicator is
        descriptive only (Impellizzeri et al. 2020).
    """
    fig, (ax_dose, ax_ratio) = plt.subplots(
        2, 1, sharex=True, figsize=(9, 4.6), gridspec_kw={"height_ratios": [3, 2]}, layout="constrained"
    )
    weeks = load["week"].astype(float).to_numpy()
    flagged = load["flagged"].astype(bool).to_numpy()
    dose = load["dose"].astype(float).to_numpy()
    colours = [OKABE_ITO["vermillion"] if f else OKABE_ITO["blue"] for f in flagged]
    bars = ax_dose.bar(weeks + 0.5, np.nan_to_num(dose), width=0.8, color=colours)
    for bar, f in zip(bars, flagged, strict=True):
        if f:
            bar.set_hatch("//")
            bar.set_edgecolor(OKABE_ITO["black"])
    ax_dose.set_ylim(0, max(float(np.nanmax(dose)) * 1.12 if len(dose) and np.nanmax(dose) > 0 else 1, 1))
    ax_dose.set_ylabel("Weekly dose\n(repetition-seconds)")
    ax_dose.grid(axis="y", alpha=0.3)
    if flagged.any():
        ax_dose.bar([np.nan], [0], color=OKABE_ITO["vermillion"], hatch="//", edgecolor=OKABE_ITO["black"],
                    label="rapid increase (ratio above the threshold)")
        ax_dose.legend(loc="upper left", frameon=False, fontsize=7.5)
    ratio = load["acwr"].astype(float).to_numpy()
    ax_ratio.plot(weeks + 0.5, ratio, marker="o", color=OKABE_ITO["black"], lw=1.2, label="acute:chronic ratio")
    if acwr_max is not None:
        ax_ratio.axhline(acwr_max, ls="--", lw=1, color=OKABE_ITO["vermillion"], label=f"threshold ({acwr_max:g})")
    finite = ratio[np.isfinite(ratio)]
    top = max([2.0, float(acwr_max or 0) * 1.3] + ([float(finite.max()) * 1.1] if len(finite) else []))
    ax_ratio.set_ylim(0, top)
    k = f"{chronic_weeks} " if chronic_weeks else ""
    ax_ratio.set_ylabel(f"This week / mean of\nprevious {k}weeks (ratio)", fontsize=8)
    ax_ratio.grid(axis="y", alpha=0.3)
    ax_ratio.legend(loc="upper left", frameon=False, fontsize=7.5)
    ax_ratio.set_title("Acute:chronic load ratio - descriptive only: athlete evidence, contested "
                       "(Impellizzeri et al. 2020)", fontsize=8, loc="left")
    if len(weeks):
        _week_axis(ax_ratio, int(weeks.min()), int(weeks.max()))
    if title:
        fig.suptitle(escape_plot_text(title))
    return fig


_QUESTIONNAIRE_AXES: dict[str, tuple[str, float, str]] = {
    "odi": ("ODI, Oswestry Disability Index (%, 0-100)", 100.0, OKABE_ITO["blue"]),
    "rmdq": ("RMDQ, Roland-Morris (points, 0-24)", 24.0, OKABE_ITO["green"]),
}


def plot_questionnaires(
    proms: pd.DataFrame,
    changes: pd.DataFrame | None = None,
    *,
    mcid_percent: float | None = None,
    title: str | None = None,
) -> Figure:
    """ODI and RMDQ scores over the programme, each on its full scale, with the MCID band of the first score.

    Parameters
    ----------
    proms
        One patient's rows of :func:`analysis.scoring.score_proms` with a ``day``
        column (programme day of ``completed_at``); only scored ODI and RMDQ rows are drawn.
    changes
        Optional rows of :func:`analysis.outcomes.prom_change` for the patient;
        their MCID result and reliable-change category are written on each panel.
    mcid_percent
        The % rule of the MCID (fraction); the absolute MCID comes from the instrument.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per instrument (ODI 0-100 %, RMDQ 0-24 points; lower is better),
        scores at x = day / 7 + 1 (programme weeks), the band within the MCID of the
        first score shaded. A single panel saying so when there is no scored questionnaire.
    """
    scored = proms.loc[proms["status"].astype("string").eq("scored").fillna(False).to_numpy(dtype=bool)]
    keys = [k for k in _QUESTIONNAIRE_AXES if (scored["instrument"].astype(str) == k).any()]
    fig, axes = plt.subplots(max(len(keys), 1), 1, figsize=(9, 1.2 + 2.3 * max(len(keys), 1)),
                             layout="constrained", squeeze=False, sharex=True)
    axes = axes[:, 0]
    if not keys:
        axes[0].text(0.5, 0.5, "No scored ODI or RMDQ questionnaire", ha="center", va="center",
                     transform=axes[0].transAxes)
        axes[0].set_yticks([])
        _week_axis(axes[0], 1, 1)
        return fig
    days = pd.to_numeric(scored["day"], errors="coerce").astype(float)
    for ax, key in zip(axes, keys, strict=True):
        label, top, colour = _QUESTIONNAIRE_AXES[key]
        part = scored.loc[scored["instrument"].astype(str) == key].sort_values("completed_at")
        x = pd.to_numeric(part["day"], errors="coerce").astype(float) / 7 + 1 + 0.5 / 7  # centre of the day
        y = part["score"].astype(float)
        inst = INSTRUMENTS[key]
        if len(y):
            first = float(y.iloc[0])
            band = mcid_band(first, inst.mcid_abs, mcid_percent if mcid_percent is not None else inst.mcid_pct)
            if np.isfinite(band):
                ax.axhspan(max(first - band, 0), min(first + band, top), color=OKABE_ITO["sky_blue"], alpha=0.18,
                           lw=0, label=f"within the MCID of the first score (\u00b1{band:.1f})")
        ax.plot(x, y, marker="o", color=colour, lw=1.5, label="score")
        for xi, yi in zip(x, y, strict=True):
            ax.annotate(f"{yi:.0f}", (xi, yi), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
        if changes is not None and len(changes):
            row = changes.loc[changes["instrument"].astype(str) == key]
            if len(row) and str(row["status"].iloc[0]) == "ok":
                r = row.iloc[0]
                met = "MCID met" if bool(r["mcid_met"]) else "MCID not met"
                rci = str(r["rci_category"])
                rci = "reliable change not available" if rci == "not available" else rci
                ax.text(0.99, 0.95, f"{r['change']:+.1f} since the first: {met}; {rci}",
                        transform=ax.transAxes, ha="right", va="top", fontsize=7.5)
        ax.set_ylim(0, top)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="lower left", frameon=False, fontsize=7)
    weeks = np.floor(days / 7) + 1
    _week_axis(axes[-1], int(max(weeks.min(), 1)), int(weeks.max()))
    if title:
        fig.suptitle(escape_plot_text(title))
    return fig


def plot_responder_rates(rates: pd.DataFrame, *, title: str | None = None) -> Figure:
    """Responder rates as horizontal bars (0-100 %), each labelled with its count.

    Parameters
    ----------
    rates
        A table with ``rule`` (string), ``n_responders``, ``n_evaluable`` (patients)
        and ``percent`` (% of evaluable), e.g. the ``"all"`` rows of
        :func:`analysis.report.responder_table` or :func:`analysis.research.responder_rates`.
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        One bar per row, top to bottom in table order, on 0-100 %.
    """
    fig, ax = plt.subplots(figsize=(7, 0.9 + 0.42 * max(len(rates), 1)), layout="constrained")
    pos = np.arange(len(rates))[::-1]
    pct = rates["percent"].astype(float).fillna(0).to_numpy()
    ax.barh(pos, pct, color=OKABE_ITO["blue"], height=0.65)
    for p, value, k, n in zip(pos, pct, rates["n_responders"], rates["n_evaluable"], strict=True):
        ax.text(min(value + 1, 80), p, f"{value:.0f} % ({int(k)} of {int(n)})", va="center", fontsize=8)
    ax.set_yticks(pos, [escape_plot_text(r) for r in rates["rule"].astype(str)], fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Patients (% of those with a measurable change)")
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(escape_plot_text(title), fontsize=10)
    return fig


__all__ += [  # noqa: PLE0605 - appended by the physio pages' helper
    "mcid_band",
    "mcid_band_label",
    "plot_pain_timeline",
    "plot_adherence_by_exercise",
    "plot_load_progression",
    "plot_questionnaires",
    "plot_responder_rates",
]


def plot_planned_load(
    load: pd.DataFrame, *, acwr_max: float | None = None, chronic_weeks: int | None = None, title: str | None = None
) -> Figure:
    """The planned weekly load of a programme before it is saved, steep weeks marked (issue 10).

    Parameters
    ----------
    load
        :func:`analysis.programmes.planned_weekly_load` (``week``, ``dose``, ``acwr``, ``steep``).
    acwr_max, chronic_weeks, title
        As for :func:`plot_load_progression`.

    Returns
    -------
    matplotlib.figure.Figure
        The same two panels as :func:`plot_load_progression` (planned weekly dose
        in repetition-seconds; acute:chronic ratio with the threshold), the steep
        weeks hatched, so that a plan and what is later logged look alike.
    """
    return plot_load_progression(load.rename(columns={"steep": "flagged"}), acwr_max=acwr_max,
                                 chronic_weeks=chronic_weeks, title=title or "Planned weekly load")


__all__ += ["plot_planned_load"]  # noqa: PLE0605 - appended by the programmes helper (issue 10)
