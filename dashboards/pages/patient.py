"""Patient weeks: one patient's weekly pain and adherence against the prescription."""

from __future__ import annotations

import matplotlib.pyplot as plt
import streamlit as st

from analysis.plots import plot_weekly_progress
from dashboards import state

directory = str(state.data_dir())
cohort = state.cohort(directory)
weekly = state.weekly(directory)
settings = state.settings()

st.title("Patient: weeks of the programme")
patient_ids = list(cohort.patients["patient_id"])
patient_id = st.selectbox("Patient", patient_ids, index=0)

rows = weekly[weekly["patient_id"] == patient_id]
daily = state.daily(directory)
fig = plot_weekly_progress(
    rows,
    daily_pain=daily[daily["patient_id"] == patient_id],
    adherent_threshold=settings.adherent_threshold,
    title=f"Patient {patient_id}",
)
st.pyplot(fig)
plt.close(fig)

st.subheader("Week by week")
shown = rows[["week", "week_start", "status", "sessions_prescribed", "sessions_completed", "adherence_rate",
              "nprs_mean", "n_ratings"]].rename(columns={
    "week_start": "starts", "sessions_prescribed": "sessions prescribed", "sessions_completed": "sessions done",
    "adherence_rate": "adherence", "nprs_mean": "mean pain", "n_ratings": "pain ratings"})
st.dataframe(
    shown,
    hide_index=True,
    width="stretch",
    column_config={
        "adherence": st.column_config.ProgressColumn("adherence", min_value=0, max_value=1, format="percent"),
        "starts": st.column_config.DateColumn("starts", format="D MMM YYYY"),
        "mean pain": st.column_config.NumberColumn("mean pain", format="%.1f"),
    },
)
