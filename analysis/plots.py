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

import matplotlib

matplotlib.use("Agg")  # headless: figures are rendered to files or to Streamlit

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

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
        fig.suptitle(title)
    return fig
