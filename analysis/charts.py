"""Interactive chart specifications (Vega-Lite through Altair) for the dashboard: pain and sessions over the weeks.

The dashboard draws these with ``st.altair_chart(chart, use_container_width=True)``:
values on hover, the width of the screen (a phone's 390 px or a desktop's
column). The PDF report, the cohort report and the notebooks keep the
matplotlib figures of :mod:`analysis.plots`; both renderers draw the same
quantities with the same rules (the MCID band of :func:`analysis.plots.mcid_band`,
the Okabe-Ito colours of :data:`analysis.plots.OKABE_ITO`, programme weeks on x:
week ``w`` spans ``[w, w + 1)``, a day ``d`` sits at ``d / 7 + 1``).

Every function is pure: frames in, an :class:`altair.Chart` (or layer) out, no
Streamlit, no I/O. Free text never reaches a spec as markup: Vega-Lite draws
text as text (tooltips are escaped by the renderer), so exercise names and notes
need no further escaping here.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from analysis.plots import OKABE_ITO, mcid_band

__all__ = ["EXPECTED_COLUMNS", "pain_chart", "sessions_chart"]

#: Columns of the optional expected-course band of :func:`pain_chart` (issue 20's expected recovery):
#: programme week, expected weekly mean pain and the lower and upper limits of its band (NPRS points).
EXPECTED_COLUMNS: tuple[str, ...] = ("week", "expected", "lower", "upper")

#: Marker shape and colour of each pain-related safety flag (the matplotlib chart's markers).
_FLAG_STYLE: dict[str, tuple[str, str, str]] = {
    "pain_flare": ("pain flare", "triangle-up", OKABE_ITO["vermillion"]),
    "self_reported_flare": ("flare reported", "triangle-down", OKABE_ITO["orange"]),
    "pain_during_exercise": ("pain during exercise", "cross", OKABE_ITO["purple"]),
}

_PAIN_AXIS = alt.Axis(values=list(range(0, 11, 2)), title="Pain (0-10)")


def _week_scale(first: float, last: float) -> alt.Scale:
    return alt.Scale(domain=[float(first), float(last) + 1.0], nice=False, zero=False)


def _week_axis(first: float, last: float) -> alt.Axis:
    # one tick per week at its start; the label is the week number (week w spans [w, w + 1))
    weeks = list(range(int(first), int(last) + 2))
    step = 1 if len(weeks) <= 14 else 2
    return alt.Axis(values=weeks[::step], format="d", title="Programme week", grid=True, gridOpacity=0.25)


def _span(*weeks: pd.Series) -> tuple[int, int]:
    values = np.concatenate([pd.to_numeric(w, errors="coerce").dropna().to_numpy(dtype=float) for w in weeks]
                            + [np.array([1.0])])
    return max(int(np.floor(values.min())), 1), max(int(np.floor(values.max())), 1)


def pain_chart(
    weekly: pd.DataFrame,
    *,
    daily: pd.DataFrame | None = None,
    baseline: float | None = None,
    mcid_abs: float | None = None,
    mcid_pct: float | None = None,
    flags: pd.DataFrame | None = None,
    expected: pd.DataFrame | None = None,
    rolling_window_days: int | None = None,
    height: int = 320,
) -> alt.LayerChart:
    """One patient's pain over the programme weeks, with values on hover.

    Parameters
    ----------
    weekly
        One patient's rows of :func:`analysis.cohort.weekly_progress`: ``week``,
        ``week_start`` (date), ``nprs_mean`` (NPRS points 0-10, NaN without
        ratings) and ``n_ratings``; drawn as a line with a point at the middle of
        each week.
    daily
        Optional rows of :func:`analysis.trends.daily_pain` or
        :func:`analysis.trends.rolling_pain` for the same patient (``date``,
        ``day``, ``nprs_mean``, ``n_ratings``; ``nprs_rolling`` draws the rolling
        mean too): the day's mean rating as a grey point at ``day / 7 + 1``.
    baseline
        Baseline pain (NPRS points), a dashed rule; ``None`` or NaN draws no
        baseline and no band.
    mcid_abs, mcid_pct
        MCID rules (points; fraction of the baseline). The band ``baseline +- d``
        with ``d = min(mcid_abs, mcid_pct x baseline)`` (:func:`analysis.plots.mcid_band`;
        Ostelo et al. 2008, either rule is enough) is shaded: inside it the
        change is smaller than the MCID.
    flags
        Optional :func:`analysis.flags.safety_flags` rows with ``day``: pain flares,
        reported flares and pain during exercise are marked along the top of the
        chart, with their reason on hover.
    expected
        Optional expected course (columns :data:`EXPECTED_COLUMNS`: ``week``,
        ``expected``, ``lower``, ``upper``; NPRS points), drawn as a band and a
        dotted line at the middle of each week, under the patient's own values.
    rolling_window_days
        Window of the rolling mean, for its tooltip.
    height
        Height in pixels (the width follows the container).

    Returns
    -------
    altair.LayerChart
        Layers, bottom to top: ``mcid_band``, ``baseline``, ``expected_band``,
        ``expected``, ``daily``, ``rolling``, ``weekly``, ``flags`` (only those
        with data), each named by its ``name``; the y axis is 0-10.

    Raises
    ------
    ValueError
        If ``expected`` lacks one of :data:`EXPECTED_COLUMNS` (the message names it).

    References
    ----------
    Ostelo R.W. et al. 2008, Spine 33(1):90-94 (NPRS MCID 2 points or 30 %).
    """
    weeks = pd.DataFrame({
        "x": pd.to_numeric(weekly["week"], errors="coerce").astype(float) + 0.5,
        "week": pd.to_numeric(weekly["week"], errors="coerce").astype("Int64"),
        "from": pd.to_datetime(weekly["week_start"]).dt.strftime("%a %-d %b %Y") if "week_start" in weekly else "",
        "pain": pd.to_numeric(weekly["nprs_mean"], errors="coerce").astype(float).round(1),
        "ratings": pd.to_numeric(weekly.get("n_ratings", pd.Series(np.nan, index=weekly.index)),
                                 errors="coerce").astype("Int64"),
    }).dropna(subset=["pain"])
    spans = [weekly["week"]]
    if daily is not None and len(daily):
        spans.append(pd.to_numeric(daily["day"], errors="coerce") / 7 + 1)
    if expected is not None and len(expected):
        missing = [c for c in EXPECTED_COLUMNS if c not in expected.columns]
        if missing:
            raise ValueError(f"the expected-course band needs the columns {', '.join(EXPECTED_COLUMNS)}; "
                             f"missing: {', '.join(missing)}")
        spans.append(expected["week"])
    first, last = _span(*spans)
    x_scale, x_axis = _week_scale(first, last), _week_axis(first, last)
    y = alt.Scale(domain=[0, 10], nice=False)
    layers: list[alt.Chart] = []

    if baseline is not None and np.isfinite(baseline):
        d = mcid_band(baseline, mcid_abs, mcid_pct)
        if np.isfinite(d):
            band = pd.DataFrame({"lower": [max(baseline - d, 0.0)], "upper": [min(baseline + d, 10.0)],
                                 "what": [f"within the MCID of your start: {baseline - d:.1f} to {baseline + d:.1f} "
                                          f"(a change under {d:.1f} points is not yet one people notice)"]})
            layers.append(alt.Chart(band, name="mcid_band").mark_rect(color=OKABE_ITO["sky_blue"], opacity=0.22)
                          .encode(y=alt.Y("lower:Q", scale=y, axis=_PAIN_AXIS), y2="upper:Q",
                                  tooltip=[alt.Tooltip("what:N", title="band")]))
        layers.append(alt.Chart(pd.DataFrame({"baseline": [round(float(baseline), 1)]}), name="baseline")
                      .mark_rule(strokeDash=[6, 4], color=OKABE_ITO["black"], strokeWidth=1.5)
                      .encode(y=alt.Y("baseline:Q", scale=y, axis=_PAIN_AXIS),
                              tooltip=[alt.Tooltip("baseline:Q", title="pain at the start", format=".1f")]))

    if expected is not None and len(expected):
        course = pd.DataFrame({
            "x": pd.to_numeric(expected["week"], errors="coerce").astype(float) + 0.5,
            "week": pd.to_numeric(expected["week"], errors="coerce").astype("Int64"),
            "expected": pd.to_numeric(expected["expected"], errors="coerce").astype(float).round(1),
            "lower": pd.to_numeric(expected["lower"], errors="coerce").astype(float).clip(0, 10).round(1),
            "upper": pd.to_numeric(expected["upper"], errors="coerce").astype(float).clip(0, 10).round(1),
        }).dropna(subset=["x"])
        tips = [alt.Tooltip("week:Q", title="week"), alt.Tooltip("expected:Q", format=".1f"),
                alt.Tooltip("lower:Q", format=".1f", title="expected from"),
                alt.Tooltip("upper:Q", format=".1f", title="expected to")]
        layers.append(alt.Chart(course, name="expected_band").mark_area(color=OKABE_ITO["green"], opacity=0.15)
                      .encode(x=alt.X("x:Q", scale=x_scale, axis=x_axis), y=alt.Y("lower:Q", scale=y),
                              y2="upper:Q", tooltip=tips))
        layers.append(alt.Chart(course, name="expected").mark_line(color=OKABE_ITO["green"], strokeDash=[2, 3])
                      .encode(x=alt.X("x:Q", scale=x_scale, axis=x_axis), y=alt.Y("expected:Q", scale=y),
                              tooltip=tips))

    if daily is not None and len(daily):
        rated = daily.loc[pd.to_numeric(daily["n_ratings"], errors="coerce").fillna(0).to_numpy() > 0]
        days = pd.DataFrame({
            "x": pd.to_numeric(rated["day"], errors="coerce").astype(float) / 7 + 1 + 0.5 / 7,
            "date": pd.to_datetime(rated["date"]).dt.strftime("%a %-d %b %Y"),
            "pain": pd.to_numeric(rated["nprs_mean"], errors="coerce").astype(float).round(1),
        })
        layers.append(alt.Chart(days, name="daily").mark_circle(color=OKABE_ITO["grey"], size=28, opacity=0.7)
                      .encode(x=alt.X("x:Q", scale=x_scale, axis=x_axis), y=alt.Y("pain:Q", scale=y),
                              tooltip=[alt.Tooltip("date:N", title="day"),
                                       alt.Tooltip("pain:Q", title="pain that day", format=".1f")]))
        if "nprs_rolling" in daily.columns:
            window = f"{rolling_window_days}-day mean" if rolling_window_days else "rolling mean"
            roll = pd.DataFrame({
                "x": pd.to_numeric(daily["day"], errors="coerce").astype(float) / 7 + 1 + 0.5 / 7,
                "date": pd.to_datetime(daily["date"]).dt.strftime("%a %-d %b %Y"),
                "mean": pd.to_numeric(daily["nprs_rolling"], errors="coerce").astype(float).round(1),
            }).dropna(subset=["mean"])
            layers.append(alt.Chart(roll, name="rolling").mark_line(color=OKABE_ITO["blue"], strokeWidth=1.8)
                          .encode(x=alt.X("x:Q", scale=x_scale, axis=x_axis), y=alt.Y("mean:Q", scale=y),
                                  tooltip=[alt.Tooltip("date:N", title="day"),
                                           alt.Tooltip("mean:Q", title=window, format=".1f")]))

    layers.append(alt.Chart(weeks, name="weekly")
                  .mark_line(color=OKABE_ITO["vermillion"], strokeWidth=2.5,
                             point=alt.OverlayMarkDef(color=OKABE_ITO["vermillion"], size=70, filled=True))
                  .encode(x=alt.X("x:Q", scale=x_scale, axis=x_axis), y=alt.Y("pain:Q", scale=y, axis=_PAIN_AXIS),
                          tooltip=[alt.Tooltip("week:Q", title="week"), alt.Tooltip("from:N", title="from"),
                                   alt.Tooltip("pain:Q", title="average pain", format=".1f"),
                                   alt.Tooltip("ratings:Q", title="ratings")]))

    if flags is not None and len(flags):
        kinds = flags["kind"].astype("string")
        marked = flags.loc[kinds.isin(list(_FLAG_STYLE)).fillna(False).to_numpy(dtype=bool)]
        if len(marked):
            names = [v[0] for v in _FLAG_STYLE.values()]
            rows = pd.DataFrame({
                "x": pd.to_numeric(marked["day"], errors="coerce").astype(float) / 7 + 1 + 0.5 / 7,
                "y": 10.0,
                "flag": marked["kind"].astype(str).map({k: v[0] for k, v in _FLAG_STYLE.items()}),
                "date": pd.to_datetime(marked["date"]).dt.strftime("%a %-d %b %Y"),
                "why": marked["reason"].astype(str),
            })
            layers.append(alt.Chart(rows, name="flags").mark_point(size=90, filled=True)
                          .encode(x=alt.X("x:Q", scale=x_scale, axis=x_axis), y=alt.Y("y:Q", scale=y),
                                  shape=alt.Shape("flag:N", scale=alt.Scale(
                                      domain=names, range=[v[1] for v in _FLAG_STYLE.values()]),
                                      legend=alt.Legend(title=None, orient="bottom")),
                                  color=alt.Color("flag:N", scale=alt.Scale(
                                      domain=names, range=[v[2] for v in _FLAG_STYLE.values()]),
                                      legend=alt.Legend(title=None, orient="bottom")),  # merged with the shapes
                                  tooltip=[alt.Tooltip("flag:N"), alt.Tooltip("date:N", title="day"),
                                           alt.Tooltip("why:N")]))

    return alt.LayerChart(layer=layers, height=height, width="container")


def sessions_chart(weekly: pd.DataFrame, *, height: int = 220) -> alt.LayerChart:
    """Sessions done per programme week (bars) against the week's plan (black ticks), with values on hover.

    Parameters
    ----------
    weekly
        One patient's rows of :func:`analysis.cohort.weekly_progress`: ``week``,
        ``week_start``, ``sessions_prescribed`` (sessions, pro rata in a week
        in progress), ``sessions_completed`` (session days) and ``status``
        (weeks ``'not yet'`` reached show the plan only).
    height
        Height in pixels (the width follows the container).

    Returns
    -------
    altair.LayerChart
        Layers ``done`` (bars) and ``plan`` (ticks) on a shared programme-week axis.
    """
    status = weekly["status"].astype(str)
    frame = pd.DataFrame({
        "week": pd.to_numeric(weekly["week"], errors="coerce").astype("Int64"),
        "from": pd.to_datetime(weekly["week_start"]).dt.strftime("%a %-d %b %Y"),
        "done": pd.to_numeric(weekly["sessions_completed"], errors="coerce").astype(float),
        "planned": pd.to_numeric(weekly["sessions_prescribed"], errors="coerce").astype(float).round(1),
        "week status": status.to_numpy(),
    })
    reached = frame.loc[status.ne("not yet").to_numpy()]
    planned = frame.loc[frame["planned"].gt(0).fillna(False).to_numpy(dtype=bool)]
    x = alt.X("week:O", title="Programme week", axis=alt.Axis(labelAngle=0),
              scale=alt.Scale(domain=[int(w) for w in frame["week"].dropna()]))
    tips: list[Any] = [alt.Tooltip("week:O"), alt.Tooltip("from:N"), alt.Tooltip("done:Q", title="sessions done"),
                       alt.Tooltip("planned:Q", title="planned"), alt.Tooltip("week status:N")]
    done = (alt.Chart(reached, name="done").mark_bar(color=OKABE_ITO["blue"], size=18)
            .encode(x=x, y=alt.Y("done:Q", title="Sessions per week"), tooltip=tips))
    plan = (alt.Chart(planned, name="plan").mark_tick(color=OKABE_ITO["black"], thickness=3, size=26)
            .encode(x=x, y=alt.Y("planned:Q"), tooltip=tips))
    return alt.LayerChart(layer=[done, plan], height=height, width="container")

