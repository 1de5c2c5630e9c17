"""Questionnaires: the Oswestry (ODI) and Roland-Morris (RMDQ) forms, scored on saving; earlier scores."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

from analysis import access
from analysis.entries import MAX_DAYS_BACK
from analysis.errors import RehabtrackError
from analysis.escaping import escape_markdown
from analysis.questionnaires import (
    FORM_INSTRUMENTS,
    WordingError,
    load_licensed_wording,
    proms_rows_from_form,
    questionnaire_form,
    stale_items,
    wording_file,
)
from analysis.roles import PATIENT
from analysis.scoring import score_proms
from dashboards import auth, state

RESULT_KEY = "patient_questionnaire_result"
NAMES = {"odi": "Oswestry (ODI)", "rmdq": "Roland-Morris (RMDQ)"}

user = auth.require_role(PATIENT)
pid = str(user.patient_id)
today: date = state.upload_today()
used = state.settings()


@st.cache_data(show_spinner=False)
def _wording(path: str, mtime: float) -> tuple[dict, str | None]:
    try:
        return load_licensed_wording(path), None
    except WordingError as exc:
        return {}, str(exc)


st.title("Questionnaires")
st.write("Every few weeks your physio asks you to fill in a questionnaire about how your back affects your "
         "daily life. Choose it, answer, and press **Save**.")
for kind, message in st.session_state.pop(RESULT_KEY, []):
    (st.success if kind == "success" else st.warning)(message)

path = wording_file(state.data_dir())
wording, problem = _wording(str(path), Path(path).stat().st_mtime if Path(path).exists() else 0.0)
if problem:  # the clinic's file is broken: the forms fall back to the default texts
    st.warning("The clinic's questionnaire wording could not be read, so the short texts are shown. "
               "Tell your physio.")

instrument = st.segmented_control("Questionnaire", FORM_INSTRUMENTS, format_func=NAMES.get, default="odi",
                                  key="questionnaire")
instrument = instrument or "odi"
form = questionnaire_form(instrument, wording, min_sections=used.odi_min_sections)
st.subheader(form.title)
if instrument == "odi":
    st.info(f"Answer at least {used.odi_min_sections} sections. A section you leave out is not counted.",
            icon=":material/info:")
st.caption(form.instructions)

with st.form(f"form_{instrument}"):
    day = st.date_input(f"Day (today, or up to {MAX_DAYS_BACK} days back)", value=today, format="DD/MM/YYYY",
                        key=f"q_day_{instrument}")  # not bounded: a day out of range is refused with a message
    answers: dict[int, float | None] = {}
    for item in form.items:
        if instrument == "odi":
            choice = st.radio(escape_markdown(item.text), list(range(len(item.options))), index=None,
                              format_func=lambda k, o=item.options: o[k], horizontal=True,
                              key=f"odi_{item.number}")
            answers[item.number] = None if choice is None else float(item.values[choice])
        else:
            ticked = st.checkbox(f"{escape_markdown(item.text)}: {item.options[1].lower()}",
                                 key=f"rmdq_{item.number}")
            answers[item.number] = float(item.values[1] if ticked else item.values[0])
    save = st.form_submit_button("Save", type="primary", icon=":material/check:")

if save:
    try:
        rows, score = proms_rows_from_form(pid, day, instrument, answers, today=today,
                                           min_sections=used.odi_min_sections)
        if not score.scored:
            st.error(f"Not saved: {score.status.removeprefix('not scored: ')}. "
                     + (f"Answer at least {used.odi_min_sections} sections." if instrument == "odi" else ""))
            st.stop()
        stored = state.cohort_for_user(user).proms
        report = access.save_entries(user, state.store(), "proms", rows,
                                     remove=stale_items(stored[stored["patient_id"] == pid], rows))
    except RehabtrackError as exc:
        st.error(f"Not saved: {escape_markdown(exc)}")
    else:
        if instrument == "odi":
            text = (f"Saved. Your Oswestry score: {score.score:.0f} % ({score.band} disability; "
                    f"{score.n_items_answered} of 10 sections answered). 0 % is no disability, 100 % the most.")
        else:
            text = f"Saved. Your Roland-Morris score: {score.score:.0f} out of 24 (0 is no disability)."
        if report.updated:
            text += " Your earlier answers for that day were updated."
        st.session_state[RESULT_KEY] = [("success", text)]
        st.rerun()

# ---- earlier scores
cohort = state.cohort_for_user(user)
mine = cohort.proms[(cohort.proms["patient_id"] == pid) & cohort.proms["instrument"].isin(list(FORM_INSTRUMENTS))]
if not mine.empty:
    st.subheader("Your earlier scores")
    scores = score_proms(mine, settings=used)
    scored = scores[scores["status"] == "scored"].sort_values("completed_at", ascending=False)
    st.table(pd.DataFrame({
        "date": scored["completed_at"].dt.strftime("%-d %b %Y"),
        "questionnaire": scored["instrument"].map(NAMES),
        "score": [f"{s:.0f} %" if i == "odi" else f"{s:.0f} / 24"
                  for s, i in zip(scored["score"], scored["instrument"], strict=True)],
    }).reset_index(drop=True))
