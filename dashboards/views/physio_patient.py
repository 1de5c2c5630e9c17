"""Patient detail for the physio: pain, adherence per exercise, load, flags and questionnaires over the weeks."""

from __future__ import annotations

import io
import logging
import time
from datetime import date

import matplotlib.pyplot as plt
import pandas as pd
import streamlit as st

from analysis.charts import pain_chart
from analysis.errors import RehabtrackError
from analysis.escaping import escape_markdown
from analysis.export import to_csv_bytes
from analysis.instruments import get_instrument
from analysis.patient_detail import (
    DESCRIPTIVE_NOTE,
    FLAG_WORDS,
    PatientDetail,
    headline_table,
    patient_detail,
    questionnaire_table,
    restrict_to_dates,
    thresholds_table,
    weekly_table,
)
from analysis.reasons import why
from analysis.report_pdf import CHARTS, detail_report_pdf, report_figure
from analysis.roles import ADMIN, PHYSIO, AccessDenied, User
from analysis.settings import Settings
from analysis.store import safe_filename
from dashboards import auth, state

logger = logging.getLogger(__name__)
LIGHTS = {"red": "🔴 red", "amber": "🟠 amber", "green": "🟢 green"}
NOT_YOURS = ("This patient is not on your caseload, so nothing about them is shown. Choose one of your own "
             "patients on the Caseload page or in the list below.")
PICK_KEY = "detail_patient_pick"

started = time.perf_counter()
user = auth.require_role(PHYSIO, ADMIN)
st.title("Patient detail")

summary = state.summary_or_stop(
    user, failed="The patients cannot be listed", advice="Check the uploaded files, or ask the administrator.",
    empty="No patient is registered to you yet.",
)

ids = [str(p) for p in summary["patient_id"]]  # most in need of attention first
light_of = dict(zip(ids, summary["traffic_light"].map(LIGHTS), strict=True))

requested = st.session_state.get(state.SELECTED_PATIENT_KEY)
denied = requested is not None and str(requested) not in ids
if denied:
    logger.warning("%s asked for a patient outside their scope", user.username)
    st.session_state.pop(state.SELECTED_PATIENT_KEY, None)
    st.session_state.pop(PICK_KEY, None)
    st.error(NOT_YOURS)
elif requested is not None and st.session_state.get(PICK_KEY) != requested:
    st.session_state[PICK_KEY] = str(requested)  # the caseload's click-through wins over the last choice
if PICK_KEY in st.session_state and st.session_state[PICK_KEY] not in ids:
    st.session_state.pop(PICK_KEY)  # a stale choice (another account, data changed)


def _remember() -> None:
    st.session_state[state.SELECTED_PATIENT_KEY] = st.session_state[PICK_KEY]


patient_id = st.selectbox(
    "Patient (most in need of attention first)", ids, key=PICK_KEY, on_change=_remember,
    placeholder="Choose a patient", format_func=lambda p: f"{p} ({light_of.get(p, '')})",
    **({} if PICK_KEY in st.session_state else {"index": None if denied else 0}),
)
if patient_id is None:
    st.stop()
st.session_state[state.SELECTED_PATIENT_KEY] = patient_id


@st.cache_data(show_spinner="Analysing the patient...", max_entries=256)
def _detail(who: User, pid: str, version: tuple[int, int], when: pd.Timestamp, used: Settings,
            model_id: int | None = None) -> PatientDetail:
    # cohort_for (through state) raises AccessDenied for anyone outside the user's scope
    fit = state.expected_fit_for_user(who) if model_id is not None else None
    return patient_detail(state.cohort_for_user(who, [pid]), pid, as_of=when, settings=used,
                          summary=state.summary_for_user(who), expected_model=None if fit is None else fit.model,
                          expected_calibration=None if fit is None else fit.calibration)


@st.cache_data(show_spinner="Drawing...", max_entries=1024)
def _chart(who: User, pid: str, version: tuple[int, int], when: pd.Timestamp, used: Settings,
           first: date, last: date, name: str, model_id: int | None = None) -> bytes:
    fig = report_figure(restrict_to_dates(_detail(who, pid, version, when, used, model_id), first, last), name)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=96)
    finally:
        plt.close(fig)
    return buffer.getvalue()


version, as_of, used = state.data_version(), state.as_of(), state.settings()
model_id = state.expected_model_id()
try:
    detail = _detail(user, patient_id, version, as_of, used, model_id)
except AccessDenied:
    st.error(NOT_YOURS)
    st.stop()
except RehabtrackError as exc:
    st.error(f"This patient's data cannot be analysed: {escape_markdown(exc)}. Check their uploaded files.")
    st.stop()

s = detail.summary
start = detail.programme_start.date()
end = max(detail.as_of.date(), start)
picked = st.date_input("Dates shown in the charts", value=(start, end), min_value=start - pd.Timedelta(days=28),
                       max_value=end, key=f"range_{patient_id}", format=used.date_format,
                       help="The headline numbers are always those of the analysis date.")
first, last = (picked if isinstance(picked, tuple) and len(picked) == 2 else (start, end))

st.subheader(f"{light_of[patient_id]} · {escape_markdown(patient_id)}")
st.caption(f"Physiotherapist {escape_markdown(detail.physio_id)} · programme start "
           f"{detail.programme_start:%d %b %Y} · data up to {detail.as_of:%d %b %Y} · attention score "
           f"{int(s['attention_score'])}")
if str(s["attention_reasons"]):
    st.markdown("**Why:** " + escape_markdown(str(why(summary.loc[summary["patient_id"].eq(patient_id).fillna(False)],
                                                      most=99).iloc[0])))
    st.caption("The numbers behind it: " + escape_markdown(s["attention_reasons"]))

c1, c2, c3, c4 = st.columns(4)
pain_now = "n/a" if pd.isna(detail.pain_change["current"]) else f"{detail.pain_change['current']:.1f}"
delta = None if pd.isna(s["pain_change"]) else f"{s['pain_change']:+.1f} points"
c1.metric("Pain now (NPRS 0-10)", pain_now, delta, delta_color="inverse",
          help=f"Mean of the last {used.current_window_days} days with ratings; change from the mean of the first "
               f"{used.baseline_window_days} days")
c2.metric("Session adherence", "n/a" if pd.isna(s["adherence"]) else f"{s['adherence'] * 100:.0f} %",
          help=f"Sessions done / prescribed; adherent from {used.adherent_threshold:.0%}")
c3.metric("Open safety flags", int(s["open_total"]), help="Flags of the last 14 days or still ongoing")
c4.metric("Days since last log", "n/a" if pd.isna(s["days_since_last_entry"]) else int(s["days_since_last_entry"]))

with st.expander("Headline numbers", expanded=True):
    st.dataframe(headline_table(detail), hide_index=True, width="stretch",
                 column_config={"measure": st.column_config.TextColumn("Measure", width="medium"),
                                "value": st.column_config.TextColumn("Value", width="large")})

shown = restrict_to_dates(detail, first, last)
CAPTIONS = {
    "pain": f"Daily ratings, {used.rolling_window_days}-day rolling mean, weekly means, the baseline and the band "
            f"within the MCID of baseline ({get_instrument('nprs').mcid_abs:g} points or "
            f"{used.mcid_percent * 100:g} %, whichever is smaller); pain flares, reported flares and pain during "
            "exercise are marked along the top.",
    "adherence": "Sessions done per week, and the dose done (sets x reps x hold) per exercise and side, as % of the "
                 "prescription.",
    "load": DESCRIPTIVE_NOTE,
    "questionnaires": "ODI (0-100 %) and RMDQ (0-24) on their full scales; lower is better. The shaded band is "
                      "within the MCID of the first score.",
}
chart = st.segmented_control("Chart", list(CHARTS), format_func=lambda k: CHARTS[k].split(" (")[0],
                             default="pain", key="detail_chart") or "pain"
if chart == "pain":  # interactive (values on hover, the width of the screen); the PDF keeps matplotlib
    c = shown.pain_change
    pct = c["mcid_pct_threshold"]
    band = detail.expected if detail.expected_text else None
    st.altair_chart(pain_chart(shown.weekly, daily=shown.daily, baseline=c["baseline"],
                               mcid_abs=c["mcid_abs_threshold"], mcid_pct=None if pd.isna(pct) else float(pct) / 100,
                               flags=shown.flags, rolling_window_days=used.rolling_window_days,
                               expected=None if band is None or band.empty else band),
                    width="stretch", key="detail_pain_chart")
    st.caption(CAPTIONS["pain"] + " Hover a point for its value and date.")
    if detail.expected_text:
        shown_band = "" if band is None or band.empty else (
            f" The shaded green band is the {band.attrs.get('interval', 0.8) * 100:.0f} % range of similar patients "
            "of this clinic, week by week.")
        st.caption("**Compared with similar patients of this clinic:** "
                   + escape_markdown(detail.expected_text.rstrip(".") + ".") + shown_band
                   + " A comparison, not a diagnosis.")
    else:
        st.caption("No comparison with similar patients of this clinic yet: an administrator fits the expected-"
                   "course model (Expected recovery page) once enough programmes are completed.")
else:
    st.image(_chart(user, patient_id, version, as_of, used, first, last, chart, model_id), caption=CAPTIONS[chart],
             width="stretch")

#: Headers of the weekly table as a physio reads them (the downloaded CSV keeps the column names).
WEEK_HEADERS = {
    "week": "week", "status": "week status", "days_elapsed": "days so far", "sessions_prescribed": "sessions planned",
    "sessions_completed": "sessions done", "pain_median": "pain (median)", "pain_ratings": "pain ratings",
    "days_rated": "days rated", "exercise_dose": "dose done (rep-seconds)",
    "planned_dose": "dose planned (rep-seconds)",
    "flags_pain_flare": "pain flares", "flags_self_reported_flare": "reported flares",
    "flags_pain_during_exercise": "painful sessions", "flags_rapid_load_increase": "load rose quickly",
    "flags_logging_stopped": "no log for a while",
}
tabs = st.tabs(["Safety flags", "Weeks", "Questionnaires"])
with tabs[0]:
    flags = shown.flags
    if flags.empty:
        st.write("No safety flag in the dates shown.")
    else:
        st.dataframe(pd.DataFrame({
            "date": flags["date"], "week": flags["week"],
            "flag": flags["kind"].map(FLAG_WORDS), "open": flags["open"],
            "descriptive only": flags["descriptive_only"], "why": flags["reason"],
        }), hide_index=True, width="stretch",
            column_config={"date": st.column_config.DateColumn("date", format="D MMM YYYY"),
                           "why": st.column_config.TextColumn("why", width="large")})
    st.caption(DESCRIPTIVE_NOTE)
with tabs[2]:
    if len(detail.prom_change):
        st.dataframe(questionnaire_table(detail), hide_index=True, width="stretch")
    else:
        st.write("No ODI or RMDQ questionnaire yet.")
weeks = weekly_table(shown)
with tabs[1]:
    st.dataframe(weeks, hide_index=True, width="stretch", column_config={
        **WEEK_HEADERS,  # the CSV keeps the column names
        "week_start": st.column_config.DateColumn("from", format="D MMM YYYY"),
        "week_end": st.column_config.DateColumn("to", format="D MMM YYYY"),
        "adherence_percent": st.column_config.NumberColumn("adherence %", format="%.0f"),
        "pain_mean": st.column_config.NumberColumn("pain (mean)", format="%.1f"),
        "acute_chronic_ratio": st.column_config.NumberColumn("load ratio (acute:chronic)", format="%.2f"),
        "patient_id": None})


@st.cache_data(show_spinner=False, max_entries=64)
def _pdf_bytes(who: User, pid: str, version: tuple[int, int], when: pd.Timestamp, used: Settings,
               first: date, last: date) -> bytes:  # one PDF per patient, data version and dates: a repeat is instant
    return detail_report_pdf(restrict_to_dates(_detail(who, pid, version, when, used), first, last))


def _pdf() -> bytes:
    return _pdf_bytes(user, patient_id, version, as_of, used, first, last)


d1, d2, _ = st.columns([1, 1, 2])
d1.download_button("Download PDF report", data=_pdf,
                   file_name=safe_filename(f"progress_{patient_id}_{as_of:%Y%m%d}.pdf"), mime="application/pdf",
                   icon=":material/picture_as_pdf:", on_click="ignore", key="pdf")
d2.download_button("Download weekly table (CSV)", data=to_csv_bytes(weeks),
                   file_name=safe_filename(f"weeks_{patient_id}_{as_of:%Y%m%d}.csv"), mime="text/csv",
                   icon=":material/table:", on_click="ignore", key="csv")

with st.expander("Thresholds used"):
    st.caption(f"From {state.settings_source()}.")
    st.dataframe(thresholds_table(used), hide_index=True, width="stretch")

logger.info("patient page %s for %s rendered in %.3f s", patient_id, user.username, time.perf_counter() - started)
