"""Caseload: one row per patient, most in need of attention first; click a row to open the patient."""

from __future__ import annotations

import logging
import time

import pandas as pd
import streamlit as st

from analysis.cohort import attention_rules, triage_order_text
from analysis.instruments import get_instrument
from analysis.patient_detail import FLAG_WORDS
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
             | view["attention_reasons"].str.contains(needle, case=False, regex=False).fillna(False))
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
flag_kinds = pd.Series("", index=view.index, dtype="string")
for kind, word in FLAG_WORDS.items():
    n = view[f"open_{kind}"]
    part = n.astype("string") + f" {word}"
    flag_kinds = flag_kinds.where(n.eq(0), flag_kinds.where(flag_kinds.eq(""), flag_kinds + ", ") + part)
measurable = view["pain_status"].eq("ok").fillna(False)
change_text = (_num(view["pain_baseline"], ".1f") + " → " + _num(view["pain_current"], ".1f") + "; "
               + view["mcid_text"].astype("string").fillna(""))

table = pd.DataFrame({
    "Status": view["traffic_light"].map(LIGHTS),
    "Patient": view["patient_id"],
    "Physio": view["physio_id"],
    "Week": view["programme_week"].astype("string").fillna("not started"),
    "Adherence": view["adherence"] * 100,
    "Pain trend": view["trend_text"].astype("string").fillna(""),
    "Pain change (MCID)": change_text.where(measurable, "not measurable"),
    "Reliable change": view["rci_category"].fillna("n/a"),
    "Open flags": view["open_total"],
    "Flag kinds": flag_kinds,
    "Days since last log": view["days_since_last_entry"],
    "Attention": view["attention_score"],
    "Reasons": view["attention_reasons"].fillna(""),
})
if user.role == PHYSIO:
    table = table.drop(columns="Physio")

st.write("Select a row to open the patient.")
event = st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key="caseload_table",
    column_config={
        "Adherence": st.column_config.ProgressColumn(
            "Adherence", min_value=0, max_value=100, format="%.0f %%",
            help="Sessions done as % of prescribed, whole programme so far (capped per week)"),
        "Open flags": st.column_config.NumberColumn("Open flags", help="Safety flags of the last 14 days or ongoing"),
        "Days since last log": st.column_config.NumberColumn("Days since last log", format="%d d"),
        "Attention": st.column_config.NumberColumn("Attention", help="Attention score: sum of the rule points"),
        "Reasons": st.column_config.TextColumn("Reasons", width="large"),
        "Flag kinds": st.column_config.TextColumn("Flag kinds", width="medium"),
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
    st.dataframe(attention_rules(), hide_index=True, width="stretch")

logger.info("caseload page for %s rendered in %.3f s", user.username, time.perf_counter() - started)
