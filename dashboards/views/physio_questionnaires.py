"""Questionnaires due: when the ODI and RMDQ are due for each patient, who is overdue, and what to do about it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import access
from analysis.errors import RehabtrackError
from analysis.escaping import escape_markdown
from analysis.questionnaires import (
    DEFAULT_LATE_DAYS,
    DEFAULT_SCHEDULE_WEEKS,
    DEFAULT_WINDOW_DAYS,
    due_questionnaires,
    reminder_texts,
)
from analysis.roles import ADMIN, PHYSIO, AccessDenied, User
from dashboards import auth, state

NAMES = {"odi": "ODI", "rmdq": "RMDQ"}
MARKED_KEY = "questionnaires_marked"

user = auth.require_role(PHYSIO, ADMIN)
when = state.as_of()
used = state.settings()
store = state.store()


@st.cache_data(show_spinner="Checking the questionnaires...", max_entries=32)
def _due(version: tuple[int, int], who: User, day: pd.Timestamp, marks: pd.DataFrame) -> pd.DataFrame:
    cohort = state.cohort_for_user(who)
    return due_questionnaires(cohort.patients, cohort.proms, day, not_done=marks)


patients = state.cohort_for_user(user).patients
marks = access.questionnaires_not_done(user, store, [str(p) for p in patients["patient_id"]])
due = _due(state.data_version(), user, when, marks)
st.title("Questionnaires due")
weeks = ", ".join("baseline" if w == 0 else f"week {w}" for w in DEFAULT_SCHEDULE_WEEKS)
st.caption(f"ODI and RMDQ at {weeks} of each programme; a questionnaire done within {DEFAULT_WINDOW_DAYS} days "
           f"of its due date counts. A baseline can no longer be done once its window has closed; a later one can "
           f"be done up to {DEFAULT_LATE_DAYS} days late, then it counts as missed and is no longer asked for. "
           f"As of {used.day_text(when)}.")
marked = st.session_state.pop(MARKED_KEY, None)
if marked:
    st.success(marked)
if due.empty:
    st.info("No patients on your caseload yet.")
    st.stop()


def _point(week: pd.Series) -> list[str]:
    return ["baseline" if w == 0 else f"week {w}" for w in week]


def _table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "patient": rows["patient_id"],
        "questionnaire": rows["instrument"].map(NAMES),
        "time point": _point(rows["timepoint_week"]),
        "due": rows["due_date"],
        "last day": rows["expires_at"],
        "days overdue": rows["days_overdue"],
    })


overdue = due[due["status"] == "overdue"].sort_values(["expires_at", "patient_id"])
now = due[due["status"] == "due"].sort_values(["expires_at", "patient_id"])
missed = due[due["status"].isin(["missed", "not done"])]
cols = st.container(horizontal=True, gap="large")
cols.metric("Overdue (can still be done)", len(overdue), width="content")
cols.metric("Due now", len(now), width="content")
cols.metric("Patients to remind", pd.concat([overdue, now])["patient_id"].nunique(), width="content")
cols.metric("Missed or marked not done", len(missed), width="content")
config = {"due": st.column_config.DateColumn("due", format=used.date_format),
          "last day": st.column_config.DateColumn("last day", format=used.date_format,
                                                  help="The last day it can still be done")}
st.subheader("Overdue")
if overdue.empty:
    st.success("No questionnaire is overdue.")
else:
    st.dataframe(_table(overdue), hide_index=True, width="stretch", column_config=config)
st.subheader("Due now")
if now.empty:
    st.write("None due at the moment.")
else:
    st.dataframe(_table(now).drop(columns="days overdue"), hide_index=True, width="stretch", column_config=config)

# ---- actions: a reminder to copy, or mark a questionnaire as not done
open_rows = pd.concat([overdue, now])
if len(open_rows):
    st.subheader("Remind or mark not done")
    reminders = reminder_texts(open_rows, settings=used)
    ids = list(reminders["patient_id"])
    pid = st.selectbox("Patient", ids, key="questionnaires_patient")
    text = reminders.loc[reminders["patient_id"] == pid, "text"].iloc[0]
    st.caption("Reminder to send to the patient (copy it with the button at its top right):")
    st.code(text, language=None, wrap_lines=True)
    theirs = open_rows[open_rows["patient_id"] == pid]
    labels = {f"{NAMES.get(r.instrument, r.instrument)} {_point(pd.Series([r.timepoint_week]))[0]}":
              (str(r.instrument), int(r.timepoint_week)) for r in theirs.itertuples()}
    with st.form("questionnaires_not_done", clear_on_submit=True):
        which = st.multiselect("Mark as not done (no longer asked for; kept in the record)", list(labels),
                               key="questionnaires_not_done_pick")
        reason = st.text_input("Reason (optional)", placeholder="e.g. declined, could not be reached")
        if st.form_submit_button("Mark not done"):
            if not which:
                st.warning("Choose the questionnaire(s) to mark first.")
            else:
                try:
                    for label in which:  # a few time points of one patient
                        instrument, week = labels[label]
                        access.mark_questionnaire_not_done(user, store, str(pid), instrument, week,
                                                           reason=reason.strip() or None)
                except (AccessDenied, RehabtrackError) as exc:
                    st.error(f"Nothing was marked: {escape_markdown(str(exc))}")
                else:
                    st.session_state[MARKED_KEY] = (f"Marked not done for {pid}: {', '.join(which)}. "
                                                    "They are no longer asked for.")
                    st.rerun()

with st.expander(f"Missed or marked not done ({len(missed)})"):
    st.dataframe(_table(missed).drop(columns="days overdue").assign(status=missed["status"].to_numpy()),
                 hide_index=True, width="stretch", column_config=config)
with st.expander("Full schedule"):
    st.dataframe(_table(due).assign(status=due["status"], done=due["completed_at"]), hide_index=True,
                 width="stretch", column_config={**config, "done": st.column_config.DateColumn(
                     "done", format=used.date_format)})
