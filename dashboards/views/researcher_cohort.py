"""Cohort view on pseudonymised data: responders, time to MCID, adherence vs change in pain, slopes."""

from __future__ import annotations

import io
import logging
import time

import matplotlib.pyplot as plt
import pandas as pd
import streamlit as st
from matplotlib.figure import Figure

from analysis.errors import NotEnoughDataError, RehabtrackError
from analysis.escaping import escape_markdown
from analysis.instruments import get_instrument
from analysis.models import linear_fit
from analysis.plots import plot_adherence_vs_change, plot_km, plot_responder_rates, plot_slope_distribution
from analysis.pseudonyms import ResearchCohort
from analysis.research import MIN_GROUP_SIZE, as_canonical, responder_rates, select_group, time_to_mcid, too_small
from analysis.roles import ADMIN, RESEARCHER, User
from analysis.schema import CohortTables
from analysis.settings import Settings
from dashboards import auth, state

logger = logging.getLogger(__name__)

started = time.perf_counter()
user = auth.require_role(RESEARCHER, ADMIN)
# An administrator sees this page exactly as a researcher does: the same pseudonymised reads.
viewer = user if user.role == RESEARCHER else User(f"{user.username}.research-view", RESEARCHER)
st.title("Cohort (pseudonymised)")


@st.cache_data(show_spinner="Preparing the pseudonymised cohort...", max_entries=8)
def _programme_time(who: User, version: tuple[int, int]) -> CohortTables:
    data = state.cohort_for_user(who)
    if not isinstance(data, ResearchCohort):  # pragma: no cover - the viewer is always a researcher
        raise RehabtrackError("the cohort view needs pseudonymised data")
    return as_canonical(data)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=96)
    finally:
        plt.close(fig)
    return buffer.getvalue()


@st.cache_data(show_spinner="Drawing...", max_entries=64)
def _charts(who: User, version: tuple[int, int], when: pd.Timestamp, used: Settings,
            groups: tuple[str, ...], months: tuple[str, ...]) -> dict[str, object]:
    summary = _research_summary(who, groups, months)
    out: dict[str, object] = {}
    rates = responder_rates(summary, settings=used)
    out["rates"] = rates
    out["rates_png"] = _png(plot_responder_rates(rates, title="Responders among patients with a measurable change"))
    try:
        km = time_to_mcid(_programme_time(who, version), summary["pseudonym"], settings=used)
        out["km"] = km
        out["km_png"] = _png(plot_km({"selected patients": km}, event_label="reached the MCID",
                                     title="Time to the pain MCID (Kaplan-Meier)"))
    except NotEnoughDataError as exc:
        out["km_error"] = str(exc)
    try:
        fit = linear_fit(summary["adherence"].astype(float) * 100, summary["pain_change"].astype(float))
        out["fit"] = fit
        out["fit_png"] = _png(plot_adherence_vs_change(summary["adherence"], summary["pain_change"], fit=fit,
                                                       mcid_points=get_instrument("nprs").mcid_abs))
    except NotEnoughDataError as exc:
        out["fit_error"] = str(exc)
    out["slopes_png"] = _png(plot_slope_distribution(summary))
    return out


def _research_summary(who: User, groups: tuple[str, ...], months: tuple[str, ...]) -> pd.DataFrame:
    return select_group(state.summary_for_user(who), physio_groups=groups, start_months=months)


summary = state.summary_or_stop(
    viewer, failed="The cohort cannot be summarised", advice="Ask the administrator to check the uploaded files.",
    empty="The store has no patient yet.",
)

version, as_of, used = state.data_version(), state.as_of(), state.settings()
st.caption(
    f"{len(summary)} patients; data up to {as_of:%d %b %Y}. Patients and physiotherapists are shown only as keyed "
    "pseudonyms; no calendar date leaves the server (start month only). Groups of fewer than "
    f"{MIN_GROUP_SIZE} patients are not shown."
)

physio_groups = sorted(summary["physio_pseudonym"].dropna().astype(str).unique())
group_names = {g: f"group {i + 1} ({g})" for i, g in enumerate(physio_groups)}
months = sorted(summary["start_month"].dropna().astype(str).unique())
left, right = st.columns(2)
with left:
    chosen_groups = st.multiselect("Physio group (pseudonymised)", physio_groups, format_func=group_names.get,
                                   key="research_groups", placeholder="All groups")
with right:
    chosen_months = st.multiselect("Programme start month", months, key="research_months",
                                   placeholder="All months")

selected = select_group(summary, physio_groups=chosen_groups, start_months=chosen_months)
if too_small(len(selected)):
    count = "No patient matches this selection" if len(selected) == 0 else (
        f"This selection has {len(selected)} patient{'s' if len(selected) != 1 else ''}, fewer than {MIN_GROUP_SIZE}: "
        "its statistics would describe identifiable people, so they are not shown")
    st.warning(f"{count}. Choose more physio groups or start months.")
    st.stop()

measurable = int(selected["pain_status"].eq("ok").fillna(False).sum())
st.markdown(f"**{len(selected)} patients** selected; **{measurable}** with a measurable change in pain "
            "(valid baseline and current diary windows).")

charts = _charts(viewer, version, as_of, used, tuple(chosen_groups), tuple(chosen_months))

st.subheader("Responder rates")
rates = charts["rates"]
assert isinstance(rates, pd.DataFrame)
st.dataframe(
    rates.drop(columns=["kind"]),
    hide_index=True, width="stretch",
    column_config={
        "rule": st.column_config.TextColumn("rule", width="medium"),
        "n_responders": st.column_config.NumberColumn("patients"),
        "n_evaluable": st.column_config.NumberColumn("of measurable"),
        "percent": st.column_config.NumberColumn("%", format="%.0f"),
        "ci_low": st.column_config.NumberColumn("95 % CI low", format="%.0f"),
        "ci_high": st.column_config.NumberColumn("95 % CI high", format="%.0f"),
        "n_not_evaluable": st.column_config.NumberColumn("not measurable"),
    },
)
st.caption(f"MCID (Ostelo et al. 2008): {get_instrument('nprs').mcid_abs:g} points or {used.mcid_percent * 100:g} % of "
           f"baseline better; both rules are shown. Reliable change (Jacobson & Truax 1991): |RCI| > {used.rci_z:g}. "
           f"Wilson 95 % intervals. Thresholds: {state.settings_source()}.")
st.image(charts["rates_png"], width="stretch")

st.subheader("Time to the MCID")
if "km_png" in charts:
    km = charts["km"]
    st.image(charts["km_png"], width="stretch")
    median = "not reached" if km.median == float("inf") else f"{km.median:.0f} days (week {int(km.median // 7) + 1})"
    st.caption(f"Kaplan-Meier, censored at the last day with a pain rating (Henschke et al. 2008). {km.n} patients "
               f"with a valid baseline, {km.n_events} reached the MCID; median time {median}; {km.n_excluded} "
               "without a valid baseline left out. Numbers at risk under the axis (every 14 days = 2 programme weeks).")
else:
    st.info(f"No curve: {escape_markdown(charts['km_error'])}")

st.subheader("Adherence and change in pain")
if "fit_png" in charts:
    fit = charts["fit"]
    st.image(charts["fit_png"], width="stretch")
    sign = "+" if fit.slope >= 0 else "-"
    st.markdown(
        f"Fitted line (least squares, n = {fit.n}): **change in pain (points) = {fit.intercept:.2f} {sign} "
        f"{abs(fit.slope):.4f} × adherence (in %)**, i.e. {fit.slope * 10:+.2f} points per 10 % more sessions "
        f"({fit.confidence * 100:.0f} % CI {fit.slope_ci_low * 10:+.2f} to {fit.slope_ci_high * 10:+.2f}; "
        f"r = {fit.r:.2f}, p = {fit.p:.3g}). An association across patients, not the effect of exercising more."
    )
else:
    st.info(f"No fitted line: {escape_markdown(charts['fit_error'])}")

st.subheader("Distribution of pain slopes")
st.image(charts["slopes_png"], width="stretch")
st.caption("Least-squares slope of each patient's daily pain, flare ratings left out (points per week; below 0 = "
           "pain falls), coloured by the trend label (Mann-Kendall p < "
           f"{1 - used.trend_confidence:g} with a slope of the same sign; docs/clinical-reference.md section 3). "
           f"Patients with fewer than {used.min_trend_days} rated days have no slope.")

logger.info("researcher page for %s rendered in %.3f s", user.username, time.perf_counter() - started)
