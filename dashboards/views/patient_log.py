"""Log today: tick the exercises done, give pain during and a daily pain score; saved as the patient's own rows."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from analysis import access
from analysis.entries import (
    MAX_DAYS_BACK,
    check_entry_day,
    pain_during_advice,
    pain_row,
    session_rows_from_checklist,
    todays_checklist,
)
from analysis.errors import RehabtrackError
from analysis.escaping import escape_markdown
from analysis.roles import PATIENT
from dashboards import auth, state

#: Where the outcome of the last save is kept for the next run (the page reruns after saving):
#: ``{"session" | "pain": [(kind, message), ...]}``, shown next to the button that saved.
RESULT_KEY = "patient_log_result"
#: Options of "where is the pain" (``None`` = not said).
LOCATIONS = {None: "not said", "back": "back", "leg": "leg", "both": "back and leg"}
NOT_RATED = "not rated"

user = auth.require_role(PATIENT)
pid = str(user.patient_id)
today: date = state.upload_today()
used = state.settings()

st.title("Log today")
st.info(
    "**Move gently, stop when it hurts.** Do each exercise slowly and smoothly, without bouncing. "
    f"If an exercise hurts, stop it. If your pain during the exercises is above {used.pain_during_max} "
    "out of 10, talk to your physio.",
    icon=":material/self_improvement:",
)

results: dict[str, list[tuple[str, str]]] = st.session_state.pop(RESULT_KEY, {})


def _show_result(where: str) -> None:
    """The outcome of the last save of this form, right under its button (visible on a phone without scrolling)."""
    for kind, message in results.get(where, []):
        (st.success if kind == "success" else st.warning)(message)


# The calendar is not bounded on purpose: a bounded Streamlit date input silently resets a day out of
# range to today, which would save an entry for the wrong day; a clear refusal is better.
day = st.date_input(
    f"Day (today, or up to {MAX_DAYS_BACK} days back)", value=today, format="DD/MM/YYYY", key="log_day",
    help=f"Today, or up to {MAX_DAYS_BACK} days back if you forgot to log. Not a day to come.",
)
try:
    day_ts = check_entry_day(day, today=today)
except RehabtrackError as exc:
    st.error(f"{escape_markdown(exc)} Choose another day above.")
    st.stop()

cohort = state.cohort_for_user(user)
sessions = cohort.sessions[cohort.sessions["patient_id"] == pid]
logged = sessions[sessions["performed_at"].dt.normalize() == day_ts]
checklist = todays_checklist(cohort.prescriptions, pid, day_ts)

# ---- exercises
st.subheader("Exercises")
if checklist.empty:
    st.info("No exercises are planned for this day. Your physio sets them; you can still give your pain score below.")
else:
    if not logged.empty:
        st.caption("You logged this day already: what you see is what you saved. A change replaces it.")
    before = {(str(r.exercise), str(r.side)): r for r in logged.itertuples(index=False)}
    with st.form("log_session"):
        entered = []
        for i, rx in enumerate(checklist.itertuples(index=False)):
            old = before.get((str(rx.exercise), str(rx.side)))
            done_before = old is not None and pd.notna(old.sets) and old.sets > 0
            side = f" ({rx.side})" if rx.side in ("left", "right") else ""
            hold = f", hold {rx.hold_s:g} s" if pd.notna(rx.hold_s) and rx.hold_s > 0 else ""
            with st.container(border=True):
                done = st.checkbox(f"**{escape_markdown(rx.label)}{side}**", value=done_before, key=f"done_{day}_{i}")
                st.caption(f"Planned: {rx.sets} x {rx.reps}{hold}. {escape_markdown(rx.instruction)}")
                row = st.container(horizontal=True)
                sets = row.number_input("Sets", 0, 20, int(old.sets if done_before else rx.sets), step=1,
                                        key=f"sets_{day}_{i}", width=110)
                reps = row.number_input("Reps", 0, 200, int(old.reps if done_before else rx.reps), step=1,
                                        key=f"reps_{day}_{i}", width=110)
                hold_value = old.hold_s if done_before and pd.notna(old.hold_s) else rx.hold_s
                hold_s = row.number_input("Hold (s)", 0.0, 600.0, float(0 if pd.isna(hold_value) else hold_value),
                                          step=1.0, key=f"hold_{day}_{i}", width=110)
            entered.append((done, sets, reps, hold_s))
        first = logged.iloc[0] if not logged.empty else None
        old_pain = first["pain_during"] if first is not None and pd.notna(first["pain_during"]) else NOT_RATED
        pain_during = st.select_slider(
            "Pain during the exercises: 0 = no pain, 10 = worst imaginable",
            options=[NOT_RATED, *range(11)], value=old_pain, key=f"pain_during_{day}")
        note = st.text_area("Note (optional)", value=str(first["notes"]) if first is not None and
                            pd.notna(first["notes"]) else "", max_chars=500, key=f"note_{day}")
        confirm = st.form_submit_button("Confirm session", type="primary", icon=":material/check:")
    if confirm:
        checked = checklist.assign(done=[e[0] for e in entered], sets=[e[1] for e in entered],
                                   reps=[e[2] for e in entered], hold_s=[e[3] for e in entered])
        rating = None if pain_during == NOT_RATED else int(pain_during)
        try:
            rows = session_rows_from_checklist(pid, day_ts, checked, today=today, pain_during=rating, notes=note,
                                               existing=sessions)
            report = access.save_entries(user, state.store(), "sessions", rows)
        except RehabtrackError as exc:
            st.error(f"Not saved: {escape_markdown(exc)}")
        else:
            n_done = int((rows["sets"] > 0).sum())
            what = "Nothing changed." if not report.changed else (
                f"Saved: {n_done} exercise{'s' if n_done != 1 else ''} on {day_ts:%A %-d %B}"
                + (" (your earlier entry was updated)." if report.updated else "."))
            result = [("success", what)]
            advice = pain_during_advice(rating, used)
            if advice:
                result.append(("warning", advice))
            st.session_state[RESULT_KEY] = {"session": result}
            st.rerun()
    _show_result("session")

# ---- daily pain
st.subheader("Pain today")
pain = cohort.pain[(cohort.pain["patient_id"] == pid) & (cohort.pain["recorded_at"].dt.normalize() == day_ts)]
old = pain.iloc[-1] if not pain.empty else None
with st.form("log_pain"):
    # a required choice with no value until tapped: a careless save never records "no pain"
    nprs = st.pills("How bad is your pain today? Tap a number", list(range(11)),
                    default=int(old["nprs"]) if old is not None else None, key=f"nprs_{day}")
    st.caption("0 = no pain · 10 = worst imaginable" + ("" if old is None else " · you saved this day already: "
                                                          "a change replaces it"))
    old_location = old["location"] if old is not None and pd.notna(old["location"]) else None
    location = st.radio("Where?", list(LOCATIONS), format_func=LOCATIONS.get, horizontal=True,
                        index=list(LOCATIONS).index(old_location), key=f"location_{day}")
    flare = st.checkbox("This is a flare-up", value=bool(old is not None and old["flare"] is True),
                        key=f"flare_{day}")
    pain_note = st.text_input("Note (optional)", value=str(old["notes"]) if old is not None and
                              pd.notna(old["notes"]) else "", max_chars=300, key=f"pain_note_{day}")
    save_pain = st.form_submit_button("Save pain score", type="primary", icon=":material/check:")
if save_pain and nprs is None:
    st.error("Not saved: tap your pain score (a number from 0 to 10) first, then press Save pain score.")
elif save_pain:
    try:
        row = pain_row(pid, day_ts, nprs, today=today, location=location, flare=flare, notes=pain_note,
                       existing=cohort.pain[cohort.pain["patient_id"] == pid])
        report = access.save_entries(user, state.store(), "pain", row)
    except RehabtrackError as exc:
        st.error(f"Not saved: {escape_markdown(exc)}")
    else:
        st.session_state[RESULT_KEY] = {"pain": [("success", "Nothing changed." if not report.changed else
                                                  f"Saved: pain {nprs} out of 10 on {day_ts:%A %-d %B}"
                                                  + (" (your earlier score was updated)." if report.updated
                                                     else "."))]}
        st.rerun()
_show_result("pain")

# ---- this week against the plan
weekly = state.weekly_for_user(user)
when = state.as_of()
week = weekly[(weekly["patient_id"] == pid) & (weekly["week_start"] <= when) & (weekly["week_end"] >= when)]
if not week.empty:
    w = week.iloc[0]
    planned, done = float(w["sessions_prescribed"]), int(w["sessions_completed"])
    days_done = f"{done} session day{'s' if done != 1 else ''} logged"
    planned_text = f"{planned:.1f}".removesuffix(".0")  # 2.1 (pro rata in the week so far), 5
    st.caption(f"Week {int(w['week'])} of your programme so far: {days_done} of {planned_text} planned up to "
               f"{when:%A %-d %B}." if planned > 0 else
               f"Week {int(w['week'])} of your programme: no sessions are planned this week ({days_done}).")
