"""Prescribe: add a patient, give them a programme from a template with a progression, change it mid-way, archive.

Thin page: the programme logic is :mod:`analysis.programmes` (periods, planned load,
edits, the dose in force), the writes go through :mod:`analysis.access` (which checks
the physio's caseload, then the store persists), the chart is :func:`analysis.plots.plot_planned_load`.
"""

from __future__ import annotations

import io
import logging
from datetime import date

import matplotlib.pyplot as plt
import pandas as pd
import streamlit as st

from analysis import access
from analysis.accounts import demo_accounts_in_use, users_file
from analysis.errors import RehabtrackError
from analysis.escaping import escape_markdown
from analysis.exercises import EXERCISES, exercise_labels
from analysis.plots import plot_planned_load
from analysis.programme_templates import TEMPLATES
from analysis.programmes import (
    DOSE_FIELDS,
    Programme,
    ProgrammeError,
    ProgrammeItem,
    Progression,
    Template,
    edit_prescriptions,
    items_in_force,
    planned_weekly_load,
    programme_to_prescriptions,
    steep_weeks,
)
from analysis.roles import ADMIN, PHYSIO, AccessDenied
from analysis.schema import SIDES
from dashboards import auth, state

logger = logging.getLogger(__name__)
PATIENT_KEY = "prescribe_patient"
NEW_PATIENT_KEY = "prescribe_new_patient"
SAVED_KEY = "prescribe_saved"
CURRENT = "__current__"
NOT_YOURS = ("This patient is not on your caseload, so you cannot see or change their programme. "
             "Choose one of your own patients below.")



@st.cache_data(show_spinner=False, max_entries=256)
def _planned_load_png(load: pd.DataFrame, acwr_max: float, chronic_weeks: int) -> bytes:
    """The planned-load chart as a PNG, drawn once per plan (matplotlib took ~80 % of a rerun of this page)."""
    fig = plot_planned_load(load, acwr_max=acwr_max, chronic_weeks=chronic_weeks)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=110)
    finally:
        plt.close(fig)
    return buffer.getvalue()


user = auth.require_role(PHYSIO, ADMIN)
store = state.store()
settings = state.settings()
st.title("Prescribe")
st.caption("Add a patient, give them a home-exercise programme that builds over the weeks, and change it as "
           "they progress. Earlier weeks are never rewritten, so past adherence stays as it was.")

# ---- add a patient -------------------------------------------------------------------------------------------
with st.expander("Add a patient", expanded=False, icon=":material/person_add:"):
    with st.form("prescribe_add_patient", clear_on_submit=True):
        display_name = st.text_input("Display name (optional; only you see it, never in analyses or exports)")
        start = st.date_input("Programme start (day 1 of week 1)", value=state.today(), key="prescribe_new_start",
                              format=settings.date_format)
        physio_for = user.physio_id
        if user.role == ADMIN:
            physio_for = st.text_input("Physiotherapist ID the patient belongs to")
        added = st.form_submit_button("Add patient", type="primary")
    if added:
        file = users_file(state.data_dir())
        demo = demo_accounts_in_use(state.data_dir())
        try:
            new = access.add_patient(user, store, start, display_name or None, physio_id=physio_for,
                                     users_path=None if demo else file)
        except (RehabtrackError, ValueError) as exc:
            st.error(f"The patient was not added: {escape_markdown(str(exc))}")
        else:
            st.session_state[NEW_PATIENT_KEY] = (new.patient_id, new.initial_password, demo)
            st.session_state[PATIENT_KEY] = new.patient_id
            logger.info("%s added patient %s", user.username, new.patient_id)
    shown = st.session_state.pop(NEW_PATIENT_KEY, None)  # the password is shown once, then forgotten
    if shown:
        pid, password, demo = shown
        st.success(f"Patient **{pid}** added to your caseload.")
        if password:
            st.markdown("Give the patient their login. The initial password is shown **only now**; "
                        "only its hash is kept.")
            st.code(f"user name: {pid}\ninitial password: {password}", language=None)
        elif demo:
            st.info("The public demo accounts are in use, so no login was created for this patient. Create a "
                    "users file (`rehabtrack users add`) to give patients their own accounts.")

# ---- choose a patient ----------------------------------------------------------------------------------------
profiles = access.patient_profiles(user, store)
show_archived = st.toggle("Show archived patients", key="prescribe_show_archived")
listed = profiles if show_archived else profiles.loc[~profiles["archived"]]
ids = [str(p) for p in listed["patient_id"]]
requested = st.session_state.get(state.SELECTED_PATIENT_KEY)
if requested is not None and str(requested) not in set(profiles["patient_id"].astype(str)):
    logger.warning("%s asked to prescribe for a patient outside their scope", user.username)
    st.session_state.pop(state.SELECTED_PATIENT_KEY, None)
    st.error(NOT_YOURS)
elif requested is not None and PATIENT_KEY not in st.session_state and str(requested) in ids:
    st.session_state[PATIENT_KEY] = str(requested)
if st.session_state.get(PATIENT_KEY) not in ids:
    st.session_state.pop(PATIENT_KEY, None)
if not ids:
    st.info("No active patient on your caseload yet: add one above.")
    st.stop()

names = dict(zip(profiles["patient_id"].astype(str), profiles["display_name"], strict=True))
archived = dict(zip(profiles["patient_id"].astype(str), profiles["archived"], strict=True))


def _label(pid: str) -> str:
    name = names.get(pid)
    return pid + (f" · {name}" if isinstance(name, str) and name else "") + (" (archived)" if archived[pid] else "")


patient_id = st.selectbox("Patient", ids, format_func=_label, key=PATIENT_KEY)
row = profiles.loc[profiles["patient_id"] == patient_id].iloc[0]
programme_start = pd.Timestamp(row["programme_start"])
st.session_state[state.SELECTED_PATIENT_KEY] = patient_id

try:
    current = state.cohort_for_user(user, [patient_id]).prescriptions
except AccessDenied:
    st.error(NOT_YOURS)
    st.stop()

st.caption(f"Programme start: {programme_start:%A} {settings.day_text(programme_start)}. Week 1 is its first 7 days.")
dates = {"start_date": st.column_config.DateColumn("from", format=settings.date_format),
         "end_date": st.column_config.DateColumn("to (inclusive)", format=settings.date_format),
         "hold_s": st.column_config.NumberColumn("hold (s)"),
         "sessions_per_week": st.column_config.NumberColumn("sessions/week")}


def _readable(periods: pd.DataFrame) -> pd.DataFrame:
    """Prescription periods as a physio reads them: exercise names from the vocabulary, no patient column."""
    return periods.drop(columns=["patient_id"]).assign(exercise=exercise_labels(periods["exercise"]))
if len(current):
    st.subheader("Current prescription")
    st.dataframe(_readable(current), hide_index=True, use_container_width=True, column_config=dates)

# ---- programme ----------------------------------------------------------------------------------------------
saved = st.session_state.pop(SAVED_KEY, None)
if isinstance(saved, tuple):  # (kind, text): a save that created nothing is a warning, not a success
    (st.warning if saved[0] == "warning" else st.success)(saved[1])
elif saved:
    st.success(saved)
st.subheader("Programme" if current.empty else "Change the programme")
own_templates = access.custom_templates(user, store)
own_exercises = access.custom_exercises(user, store)
choices: dict[str, Template] = {**TEMPLATES, **own_templates}
options = ([CURRENT] if len(current) else []) + list(choices)


def _template_label(key: str) -> str:
    if key == CURRENT:
        return "Current prescription (dose in force on the change date)"
    return choices[key].name + (" (yours)" if key in own_templates else "")


left, right = st.columns([3, 2])
with left:
    chosen = st.selectbox("Start from", options, format_func=_template_label, key=f"prescribe_template_{patient_id}")
with right:
    weeks = int(st.number_input("Programme length (weeks)", min_value=1, max_value=52, value=12,
                                key=f"prescribe_weeks_{patient_id}"))
change_from: date | None = None
if len(current):
    change_from = st.date_input(
        "Change from (first day of the new prescription)", value=max(state.today(), programme_start.date()),
        min_value=programme_start.date(), key=f"prescribe_change_from_{patient_id}", format=settings.date_format)
    st.caption("Periods that ended before this day stay exactly as they were; the one running on it is closed "
               "the day before; planned periods that have not begun are replaced.")

if chosen == CURRENT:
    items = items_in_force(current, change_from or programme_start)
    default_progression = ""
else:
    items = list(choices[chosen].programme.items)
    default_progression = choices[chosen].programme.progression.describe()

vocabulary = {**{k: e.label for k, e in EXERCISES.items()},
              **{str(r.exercise): str(r.label) for r in own_exercises.itertuples()}}
with st.expander("How to do each exercise (what the patient reads)"):
    for item in dict.fromkeys(i.exercise for i in items):
        known = EXERCISES.get(item)
        mine = own_exercises.loc[own_exercises["exercise"] == item]
        text = known.instruction if known else (mine["instruction"].iloc[0] if len(mine) else "")
        st.markdown(f"**{escape_markdown(vocabulary.get(item, item))}**: {escape_markdown(text)}")

table = pd.DataFrame([{"exercise": i.exercise, "side": i.side, **{n: getattr(i, n) for n in DOSE_FIELDS}}
                      for i in items])
edited = st.data_editor(
    table, num_rows="dynamic", hide_index=True, use_container_width=True, key=f"prescribe_items_{patient_id}_{chosen}",
    column_config={
        "exercise": st.column_config.SelectboxColumn("exercise", options=list(vocabulary), required=True,
                                                     format_func=lambda key: vocabulary.get(str(key), str(key))),
        "side": st.column_config.SelectboxColumn("side", options=list(SIDES), required=True),
        "sets": st.column_config.NumberColumn("sets", min_value=1, max_value=20, step=1, required=True),
        "reps": st.column_config.NumberColumn("reps", min_value=1, max_value=100, step=1, required=True),
        "hold_s": st.column_config.NumberColumn("hold (s)", min_value=0, max_value=600, required=True),
        "sessions_per_week": st.column_config.NumberColumn("sessions/week", min_value=1, max_value=14, step=1,
                                                           required=True),
    })
progression_text = st.text_input(
    "Progression (e.g. weeks 1-2: 1 set, weeks 3-4: 2 sets, weeks 5+: hold 10 s)", value=default_progression,
    key=f"prescribe_progression_{patient_id}_{chosen}",
    help="Programme weeks, counted from the programme start. Each step changes what it names from its first "
         "week on; everything else carries over. 'weeks 3+ (knee_to_chest): 12 reps' changes one exercise.")

try:
    programme = Programme(
        tuple(ProgrammeItem(str(r.exercise), str(r.side), int(r.sets), int(r.reps), float(r.hold_s),
                            int(r.sessions_per_week))
              for r in edited.dropna(how="all").itertuples()),
        Progression.parse(progression_text))
    periods = programme_to_prescriptions(patient_id, programme_start, programme, weeks)
    load = planned_weekly_load(programme, weeks, programme_start=programme_start, settings=settings)
    preview = (periods if current.empty
               else edit_prescriptions(current, periods, change_from).result)
except (ProgrammeError, ValueError, TypeError) as exc:
    st.error(f"This programme cannot be saved yet: {escape_markdown(str(exc))}")
    st.stop()

st.markdown("**Planned weekly load**")
steep = steep_weeks(load, settings=settings)
if len(steep):
    st.warning("The progression is steeper than the load-progression flag allows "
               f"(this week / mean of the previous {settings.acwr_chronic_weeks} weeks above "
               f"{settings.acwr_max:g}; descriptive only):\n\n" + "\n".join(f"- {m}" for m in steep["message"]))
else:
    st.success(f"No planned week is above the load-progression threshold ({settings.acwr_max:g}).")
st.image(_planned_load_png(load, settings.acwr_max, settings.acwr_chronic_weeks), width="stretch")

st.markdown("**Prescription periods after saving**")
st.dataframe(_readable(preview), hide_index=True, use_container_width=True, column_config=dates)

if st.button("Save programme" if current.empty else "Save the change", type="primary", key="prescribe_save"):
    try:
        edit = access.save_prescriptions(user, store, patient_id, periods,
                                         from_date=None if current.empty else change_from)
    except (RehabtrackError, ValueError) as exc:
        st.error(f"Nothing was saved: {escape_markdown(str(exc))}")
    else:
        if len(edit.added) == 0:
            ends = programme_start + pd.Timedelta(days=7 * weeks - 1)
            st.session_state[SAVED_KEY] = (
                "warning",
                f"Nothing new was prescribed for {patient_id}: 0 new periods from "
                f"{settings.day_text(change_from or programme_start)} ({len(edit.closed)} closed, {len(edit.kept)} "
                f"unchanged). A programme of {weeks} weeks from {settings.day_text(programme_start)} ends on "
                f"{settings.day_text(ends)}: make it longer (Programme length) or choose an earlier 'Change from' "
                "day, then save again.")
        else:
            st.session_state[SAVED_KEY] = ("success", f"Saved for {patient_id}: {len(edit.added)} new period(s), "
                                           f"{len(edit.closed)} closed, {len(edit.kept)} earlier period(s) "
                                           "unchanged.")
        st.rerun()

# ---- own exercises and templates -------------------------------------------------------------------------------
with st.expander("Your own exercises and templates", icon=":material/library_add:"):
    with st.form("prescribe_own_exercise", clear_on_submit=True):
        st.markdown("**Add an exercise**")
        ex_name = st.text_input("Name")
        ex_instruction = st.text_area("Plain-language instruction for the patient ('stop if it hurts' is added)")
        ex_sided = st.checkbox("Done per side (left / right)")
        if st.form_submit_button("Add exercise"):
            try:
                stored_name = access.save_custom_exercise(user, store, ex_name, ex_name, ex_instruction, sided=ex_sided)
            except RehabtrackError as exc:
                st.error(escape_markdown(str(exc)))
            else:
                st.session_state[SAVED_KEY] = f"Added the exercise {stored_name}; choose it in the exercise column."
                st.rerun()
    with st.form("prescribe_own_template", clear_on_submit=True):
        st.markdown("**Save the programme above as a template**")
        tpl_name = st.text_input("Template name")
        if st.form_submit_button("Save template"):
            key = "".join(ch if ch.isalnum() else "_" for ch in tpl_name.strip().lower())[:64]
            if not key:
                st.error("Give the template a name.")
            else:
                access.save_custom_template(user, store, Template(key, tpl_name.strip(), "", programme))
                st.session_state[SAVED_KEY] = f"Saved the template {tpl_name.strip()}; it is in 'Start from'."
                st.rerun()

# ---- archive -----------------------------------------------------------------------------------------------------
if archived[patient_id]:
    if st.button("Restore this patient to the active caseload", key="prescribe_restore"):
        access.archive_patient(user, store, patient_id, archived=False)
        st.rerun()
elif st.button("Archive this patient", key="prescribe_archive",
               help="Hidden from your active caseload; every entry is kept and can be restored."):
    access.archive_patient(user, store, patient_id)
    st.session_state.pop(PATIENT_KEY, None)
    st.session_state.pop(state.SELECTED_PATIENT_KEY, None)
    st.rerun()
