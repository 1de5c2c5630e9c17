"""Cohort weeks: weekly adherence and pain of every patient of the cohort."""

from __future__ import annotations

import streamlit as st

from dashboards import state

directory = str(state.data_dir())
cohort = state.cohort(directory)
weekly = state.weekly(directory)
as_of = state.as_of(directory)

st.title("Cohort: weekly pain and adherence")
st.caption(
    f"{len(cohort.patients)} patients, data up to {as_of:%d %b %Y}. Week 1 starts on each patient's "
    "programme start. Adherence = distinct days with a session / sessions prescribed that week (capped at 100 %)."
)

physios = sorted(cohort.patients["physio_id"].dropna().unique())
chosen = st.multiselect("Physiotherapist", physios, default=physios)
ids = cohort.patients.loc[cohort.patients["physio_id"].isin(chosen), "patient_id"]
view = weekly[weekly["patient_id"].isin(ids)]

tab_adh, tab_pain = st.tabs(["Adherence per week (%)", "Mean pain per week (NPRS 0-10)"])
with tab_adh:
    table = view.pivot(index="patient_id", columns="week", values="adherence_rate").astype(float) * 100
    table.columns = [f"wk {int(w)}" for w in table.columns]
    st.dataframe(table.style.format("{:.0f}", na_rep="").background_gradient(cmap="cividis", vmin=0, vmax=100),
                 width="stretch")
with tab_pain:
    table = view.pivot(index="patient_id", columns="week", values="nprs_mean").astype(float)
    table.columns = [f"wk {int(w)}" for w in table.columns]
    st.dataframe(table.style.format("{:.1f}", na_rep="").background_gradient(cmap="cividis_r", vmin=0, vmax=10),
                 width="stretch")
