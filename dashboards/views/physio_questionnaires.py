"""Questionnaires due: when the ODI and RMDQ are due for each patient of the caseload, and who is overdue."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis.questionnaires import DEFAULT_SCHEDULE_WEEKS, DEFAULT_WINDOW_DAYS, due_questionnaires
from analysis.roles import ADMIN, PHYSIO, User
from dashboards import auth, state

NAMES = {"odi": "ODI", "rmdq": "RMDQ"}

user = auth.require_role(PHYSIO, ADMIN)
when = state.as_of()


@st.cache_data(show_spinner="Checking the questionnaires...", max_entries=32)
def _due(version: tuple[int, int], who: User, day: pd.Timestamp) -> pd.DataFrame:
    cohort = state.cohort_for_user(who)
    return due_questionnaires(cohort.patients, cohort.proms, day)


due = _due(state.data_version(), user, when)
st.title("Questionnaires due")
weeks = ", ".join("baseline" if w == 0 else f"week {w}" for w in DEFAULT_SCHEDULE_WEEKS)
st.caption(f"ODI and RMDQ at {weeks} of each programme; a questionnaire done within {DEFAULT_WINDOW_DAYS} days "
           f"of its due date counts. As of {when:%-d %B %Y}.")
if due.empty:
    st.info("No patients on your caseload yet.")
    st.stop()


def _table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "patient": rows["patient_id"],
        "questionnaire": rows["instrument"].map(NAMES),
        "time point": ["baseline" if w == 0 else f"week {w}" for w in rows["timepoint_week"]],
        "due": rows["due_date"],
        "days overdue": rows["days_overdue"],
    })


overdue = due[due["status"] == "overdue"].sort_values(["days_overdue", "patient_id"], ascending=[False, True])
now = due[due["status"] == "due"].sort_values(["due_date", "patient_id"])
cols = st.container(horizontal=True, gap="large")
cols.metric("Overdue", len(overdue), width="content")
cols.metric("Due now", len(now), width="content")
cols.metric("Patients with an overdue questionnaire", overdue["patient_id"].nunique(), width="content")
config = {"due": st.column_config.DateColumn("due", format="D MMM YYYY")}
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
with st.expander("Full schedule"):
    st.dataframe(_table(due).assign(status=due["status"], done=due["completed_at"]), hide_index=True,
                 width="stretch", column_config={**config, "done": st.column_config.DateColumn("done",
                                                                                                format="D MMM YYYY")})
