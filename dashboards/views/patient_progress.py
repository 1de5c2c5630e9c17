"""My progress: a patient's own pain per week, sessions against the plan, streak and this week's exercises."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.charts import pain_chart, sessions_chart
from analysis.escaping import escape_markdown
from analysis.instruments import get_instrument
from analysis.prescriptions import week_plan
from analysis.roles import PATIENT
from analysis.trends import trend_for_patient
from dashboards import auth, state

user = auth.require_role(PATIENT)
when = state.as_of()
used = state.settings()
summary = state.summary_for_user(user)
weekly = state.weekly_for_user(user)
cohort = state.cohort_for_user(user)

st.title("My progress")
mine = summary[summary["patient_id"] == user.patient_id]
if mine.empty:
    st.info("Your programme is not set up yet: your physio registers you and your exercises. "
            "Once that is done, this page shows your weeks.")
    st.stop()
me = mine.iloc[0]
week_now = me["programme_week"]
st.caption(
    f"Your data up to {when:%A %-d %B %Y}"
    + (f", week {int(week_now)} of your programme" if pd.notna(week_now) and week_now >= 1 else "")
    + f" (week 1 began on {me['programme_start']:%-d %B %Y})."
)

has_entries = len(cohort.pain) > 0 or len(cohort.sessions) > 0
if not has_entries:
    st.info("There are no entries yet. Upload your exercise log or pain diary to see your progress here.")
    st.page_link("views/patient_upload.py", label="Upload my log", icon=":material/upload_file:")

# ---- headline numbers
baseline = float(me["pain_baseline"]) if pd.notna(me["pain_baseline"]) else None
current = float(me["pain_current"]) if pd.notna(me["pain_current"]) else None
cols = st.container(horizontal=True, gap="large")  # side by side; wraps on a phone
cols.metric("Pain at the start (0-10)", "-" if baseline is None else f"{baseline:.1f}",
               help=f"Average of your first {used.baseline_window_days} days.", width="content")
cols.metric(
    "Pain lately (0-10)", "-" if current is None else f"{current:.1f}",
    delta=None if (current is None or baseline is None) else f"{current - baseline:+.1f} points",
    delta_color="inverse",
    help=f"Average of your latest {used.current_window_days} days with ratings.", width="content")
streak = int(me["current_streak_weeks"])
streak_help = f"Complete weeks in a row with at least {used.adherent_threshold:.0%} of the planned sessions."
if streak > 0:
    cols.metric("Weeks in a row on plan", f"{streak}", width="content", help=streak_help)
elif bool((weekly.loc[(weekly["patient_id"] == user.patient_id) & (weekly["week"] == week_now),
                      "sessions_prescribed"] > 0).any()):  # no "0" greeting, and none after the programme
    st.caption(f"A streak starts with one week on plan (at least {used.adherent_threshold:.0%} of the planned "
               "sessions): this week can be the first.")

# ---- the trend in plain words
st.subheader("How your pain is changing")
label = me["pain_label"]
if pd.notna(label) and str(label):
    st.text(str(label))
st.text(trend_for_patient(me["trend"], me["trend_slope_per_week"], used))

# ---- interactive charts (Vega-Lite: values on hover, the width of the screen); specs in analysis.charts
nprs = get_instrument("nprs")
weeks_mine = weekly[weekly["patient_id"] == user.patient_id]
days = state.daily_for_user(user)
st.altair_chart(pain_chart(weeks_mine, daily=days[days["patient_id"] == user.patient_id], baseline=baseline,
                           mcid_abs=float(nprs.mcid_abs), mcid_pct=float(used.mcid_percent), height=300),
                width="stretch", key="progress_pain_chart")
st.caption(
    f"Your average pain each week (red; 0 = no pain, 10 = worst), your daily ratings in grey, your starting level "
    f"(dashed) and the shaded band: a change smaller than {nprs.mcid_abs:g} points or {used.mcid_percent:.0%} "
    "is not yet a change people notice. Touch or hover a point to see its value."
)
st.altair_chart(sessions_chart(weeks_mine, height=200), width="stretch", key="progress_sessions_chart")
st.caption("Sessions done each week (bars) and the plan (black marks).")

# ---- sessions per week
with st.expander("Sessions week by week"):
    rows = weekly[(weekly["patient_id"] == user.patient_id) & (weekly["status"].astype(str) != "not yet")]
    table = pd.DataFrame({
        "week": rows["week"].astype(int),
        "from": rows["week_start"],
        "sessions done": rows["sessions_completed"],
        "planned": rows["sessions_prescribed"].round(1),
        "on plan": rows["meets_plan"].map({True: "yes", False: "no"}).fillna("-"),
        "average pain": rows["nprs_mean"].round(1),
    })
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"from": st.column_config.DateColumn("from", format="D MMM")})

# ---- this week's plan
st.subheader("This week's exercises")
mine_rx = cohort.prescriptions[cohort.prescriptions["patient_id"] == user.patient_id]
week, status, plan = week_plan(mine_rx, me["programme_start"], when)
if status == "none":
    st.info("No exercises have been set for you yet. Your physio adds them: ask at your next appointment, or "
            "contact the clinic. Meanwhile you can log your pain every day on **Log today**.",
            icon=":material/event_note:")
    st.page_link("views/patient_log.py", label="Log today", icon=":material/edit_note:")
elif status == "finished":  # no exercises listed: none is planned any more
    st.success("Your programme has finished: no exercises are planned now. Well done for getting to the end. "
               "Ask your physio whether to keep going with some of the exercises or to start a new programme; "
               "you can keep logging your pain on **Log today** meanwhile.", icon=":material/flag:")
    st.page_link("views/patient_log.py", label="Log today", icon=":material/edit_note:")
else:
    if status == "not started":
        st.info(f"Your programme starts on {me['programme_start']:%A %-d %B}. This is your first week's plan.")
    elif status == "upcoming":
        first_day = min(plan_start for plan_start in mine_rx["start_date"] if plan_start > when)
        st.info(f"Your new exercises start on {first_day:%A %-d %B}. Until then nothing is planned; this is the "
                "plan from that day.", icon=":material/event_upcoming:")
    for rec in plan.itertuples(index=False):
        hold = f", hold {rec.hold_s:g} seconds" if pd.notna(rec.hold_s) and rec.hold_s > 0 else ""
        period = f" ({rec.period})" if rec.period else ""
        with st.container(border=True):
            st.markdown(f"**{escape_markdown(rec.exercise)}**{period}")
            st.text(f"{rec.sets} set{'s' if rec.sets != 1 else ''} of {rec.reps} repetitions{hold}; "
                    f"{rec.sides}; {rec.sessions_per_week} times a week.")
            st.caption(rec.instruction)
    st.warning("Stop if it hurts. If an exercise causes pain, stop it and tell your physio.",
               icon=":material/front_hand:")

# ---- my recent entries (free text shown as data, never as markup)
with st.expander("My recent diary entries"):
    pain = cohort.pain[cohort.pain["patient_id"] == user.patient_id].sort_values("recorded_at", ascending=False)
    shown = pain.head(14)
    st.dataframe(
        pd.DataFrame({"date": shown["recorded_at"], "pain (0-10)": shown["nprs"],
                      "flare-up": shown["flare"].map({True: "yes", False: "no"}).fillna(""),
                      "notes": shown["notes"].fillna("")}),
        hide_index=True, width="stretch",
        column_config={"date": st.column_config.DatetimeColumn("date", format="ddd D MMM")},
    )
