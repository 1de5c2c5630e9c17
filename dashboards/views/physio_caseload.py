"""Caseload: one row per patient, most in need of attention first; click a row to open the patient."""

from __future__ import annotations

import logging
import time

import pandas as pd
import streamlit as st

from analysis.cohort import triage_order_text
from analysis.instruments import get_instrument
from analysis.reasons import rules_in_words, why
from analysis.roles import ADMIN, PHYSIO
from dashboards import auth, state

logger = logging.getLogger(__name__)
DETAIL_PAGE = "views/physio_patient.py"
LIGHTS = {"red": "🔴 red", "amber": "🟠 amber", "green": "🟢 green"}

started = time.perf_counter()
user = auth.require_role(PHYSIO, ADMIN)
st.title("Caseload")

summary = state.summary_or_stop(
    user, failed="The caseload cannot be shown", advice="Check the uploaded files, or ask the administrator.",
    empty="No patient is registered to you yet. Upload a patients file (patient_id, physio_id, programme_start) "
          "to register your patients.",
)

as_of = state.as_of()
used = state.settings()
nprs = get_instrument("nprs")
scope = f"physiotherapist {user.physio_id}" if user.role == PHYSIO else "all physiotherapists"
st.caption(
    f"{len(summary)} patients of {scope}; data up to {as_of:%d %b %Y}. Order: {triage_order_text()} The attention "
    "score adds points for the reasons listed (see 'How the order is made'). Flags are descriptive, for you; "
    "they are not advice to the patient."
)
st.caption(f"Meaningful change in pain (MCID): at least {nprs.mcid_abs:g} points or {used.mcid_percent * 100:g} % "
           f"of the baseline better; adherent from {used.adherent_threshold * 100:g} % of the planned sessions "
           f"({state.settings_source()}).")

# ---- filters
left, middle, right, far = st.columns([2, 3, 1.3, 2] if user.role == ADMIN else [2, 3, 1.3, 0.01])
with left:
    lights = st.multiselect("Status", list(LIGHTS), default=list(LIGHTS), format_func=LIGHTS.get,
                            key="caseload_lights")
with middle:
    search = st.text_input("Search patient or reason", key="caseload_search",
                           placeholder="e.g. P012, flare, stopped logging")
with right:
    st.write("")
    flags_only = st.checkbox("Open flags only", key="caseload_flags_only")
physios: list[str] = []
if user.role == ADMIN:
    with far:
        physios = st.multiselect("Physiotherapist", sorted(summary["physio_id"].dropna().unique()),
                                 key="caseload_physios")

view = summary
keep = view["traffic_light"].isin(lights).fillna(False)
if search.strip():
    needle = search.strip()
    keep &= (view["patient_id"].str.contains(needle, case=False, regex=False).fillna(False)
             | view["attention_reasons"].str.contains(needle, case=False, regex=False).fillna(False)
             | why(view).str.contains(needle, case=False, regex=False).fillna(False))
if flags_only:
    keep &= view["open_total"] > 0
if physios:
    keep &= view["physio_id"].isin(physios).fillna(False)
view = view.loc[keep.to_numpy(dtype=bool)].reset_index(drop=True)  # keeps the attention order

counts = summary["traffic_light"].value_counts()
st.markdown(" · ".join(f"{LIGHTS[k]}: **{int(counts.get(k, 0))}**" for k in LIGHTS)
            + f" · shown: **{len(view)}**")


def _num(values: pd.Series, fmt: str) -> pd.Series:
    return values.astype(float).map(lambda v: format(v, fmt), na_action="ignore").fillna("n/a")


# text columns built column-wise (no loop over patients: an admin may see thousands)
measurable = view["pain_status"].eq("ok").fillna(False)
pain_now = (_num(view["pain_baseline"], ".1f") + " → " + _num(view["pain_current"], ".1f")).where(measurable, "—")
met = view["mcid_met"].astype("boolean")
meaningful = pd.Series("no", index=view.index, dtype="string").where(~met.fillna(False), "yes").where(
    measurable, "not measurable yet")
adherent_from = f"{used.adherent_threshold * 100:g} %"

table = pd.DataFrame({
    "Status": view["traffic_light"].map(LIGHTS),
    "Why": why(view, most=2),  # two reasons fit the column; the patient's page lists them all
    "Patient": view["patient_id"],
    "Physio": view["physio_id"],
    "Week": view["programme_week"].astype("string").fillna("not started"),
    "Adherence": view["adherence"] * 100,
    "Last log": view["days_since_last_entry"],
    "Pain start → now": pain_now,
    "Pain trend": view["trend"].astype("string").fillna(""),
    "Meaningful change": meaningful,
    "Open flags": view["open_total"],
    "Attention": view["attention_score"],
})
if user.role == PHYSIO:
    table = table.drop(columns="Physio")

st.write("Select a row to open the patient: the numbers behind each reason are on the patient's page.")
event = st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    height="content",  # every patient visible: the page scrolls, not a box inside it
    on_select="rerun",
    selection_mode="single-row",
    key="caseload_table",
    column_config={
        "Why": st.column_config.TextColumn(
            "Why", width=470,
            help="The reasons for the status in plain words, most urgent first (at most two; '+N more' counts "
                 "the others). All of them, and the statistics behind each, are on the patient's page."),
        "Adherence": st.column_config.ProgressColumn(
            f"Adherence (adherent from {adherent_from})", min_value=0, max_value=100, format="%.0f %%",
            color="gray",
            help=f"Sessions done as % of prescribed, whole programme so far (capped per week); adherent from "
                 f"{adherent_from} of the planned sessions ({state.settings_source()})."),
        "Last log": st.column_config.NumberColumn(
            "Last log (days ago)", format="%d", help="Days since the last session or pain entry"),
        "Pain start → now": st.column_config.TextColumn(
            "Pain start → now", help="Average pain (0-10) of the first week of the diary and of the last week "
                                     "rated; '—' while there are too few ratings."),
        "Pain trend": st.column_config.TextColumn(
            "Pain trend", help="Improving or worsening when the direction (Mann-Kendall test) and the size "
                               "(least-squares slope of daily pain) agree; the numbers are on the patient's page."),
        "Meaningful change": st.column_config.TextColumn(
            "Meaningful change", help=f"Pain better by at least {nprs.mcid_abs:g} points or "
                                      f"{used.mcid_percent * 100:g} % of the baseline (MCID)."),
        "Open flags": st.column_config.NumberColumn(
            "Open flags", help="Safety flags of the last 14 days or ongoing"),
        "Attention": st.column_config.NumberColumn(
            "Attention", help="Attention score: the points of the reasons that apply (see 'How the order is made')"),
    },
)
rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
if rows and 0 <= rows[0] < len(view):
    st.session_state[state.SELECTED_PATIENT_KEY] = str(view.loc[rows[0], "patient_id"])
    st.switch_page(DETAIL_PAGE)

# keyboard-friendly alternative to clicking a row
with st.form("open_patient", border=False):
    pick_col, button_col = st.columns([3, 1])
    with pick_col:
        ids = list(view["patient_id"]) or list(summary["patient_id"])
        light_of = dict(zip(summary["patient_id"], summary["traffic_light"].map(LIGHTS), strict=True))
        picked = st.selectbox("Or choose a patient", ids, key="caseload_pick",
                              format_func=lambda p: f"{p} ({light_of.get(p, '')})")
    with button_col:
        st.write("")
        go = st.form_submit_button("Open patient", type="primary")
if go and picked:
    st.session_state[state.SELECTED_PATIENT_KEY] = str(picked)
    st.switch_page(DETAIL_PAGE)

with st.expander("How the order is made"):
    st.write("Each rule that applies adds its points once; red rules make the status red, amber rules amber. "
             f"The points order the list (who to look at first); they are not clinical thresholds. "
             f"{triage_order_text()}")
    st.dataframe(rules_in_words(used), hide_index=True, width="stretch")

logger.info("caseload page for %s rendered in %.3f s", user.username, time.perf_counter() - started)
