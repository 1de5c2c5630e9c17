"""Upload my log: read a session log or pain diary, show what was understood and what differs, save on confirmation."""

from __future__ import annotations

import hashlib
import logging

import pandas as pd
import streamlit as st

from analysis.errors import RehabtrackError
from analysis.escaping import escape_markdown
from analysis.headers import COLUMN_LABELS
from analysis.roles import PATIENT
from analysis.templates import template_csv, template_filename, template_help, template_xlsx
from dashboards import auth, state

logger = logging.getLogger(__name__)

#: What each table is called on this page.
TABLE_WORDS = {"sessions": "exercise log", "pain": "pain diary", "proms": "questionnaire"}
#: Where the result of the last save of this session is kept.
REPORT_KEY = "patient_upload_report"
#: The choices for rows that differ from what is saved, as the page words them.
CONFLICT_CHOICES = {
    "replace": "Use the values in this file (the saved values are kept in the change history)",
    "keep": "Keep what is saved (ignore these rows of the file)",
}

user = auth.require_role(PATIENT)

st.title("Upload my log")
st.write(
    "Upload your exercise log or your pain diary as a CSV file, an Excel workbook or a JSON export. "
    "We first show you what we read from it; nothing is saved until you press **Save**. "
    f"The rows are saved as yours (patient {user.patient_id}); a patient column in the file is not needed."
)


@st.cache_data(show_spinner=False)
def _template(table: str, fmt: str) -> bytes:
    return template_csv(table) if fmt == "csv" else template_xlsx(table)


with st.expander("Templates: the columns we read", icon=":material/download:"):
    st.write("Download a template, fill in one row per exercise and side (or one row per pain rating), "
             "and upload it. Dates may be written 2026-09-08 or 08/09/2026; a time of day is optional.")
    for table in ("sessions", "pain"):
        st.markdown(f"**{TABLE_WORDS[table].capitalize()}**")
        left, right = st.columns(2)
        left.download_button("CSV template", _template(table, "csv"), file_name=template_filename(table, "csv"),
                             mime="text/csv", key=f"template_{table}_csv", icon=":material/download:",
                             on_click="ignore")
        right.download_button(
            "Excel template", _template(table, "xlsx"), file_name=template_filename(table, "xlsx"),
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"template_{table}_xlsx", icon=":material/download:", on_click="ignore")
        st.dataframe(template_help(table), hide_index=True, width="stretch")

uploaded = st.file_uploader("Your file", type=["csv", "xlsx", "json"], key="patient_upload_file",
                            help="CSV (comma, semicolon or tab separated), Excel .xlsx or JSON.")
day_first = st.radio(
    "How does your file write dates like 03/04/2026?",
    ["Day first: 3 April", "Month first: March 4"],
    horizontal=True, key="patient_upload_day_order",
    help="Dates written 2026-04-03 are read the same either way.",
).startswith("Day")

if uploaded is None:
    st.info("Choose a file to see what we read from it.")
    st.stop()

data = uploaded.getvalue()
filename = uploaded.name
upload_key = (hashlib.sha256(data).hexdigest(), day_first)
preview = state.preview_upload(user, data, filename, dayfirst=day_first)
if preview.error is not None or preview.result is None:
    st.error(f"We could not use this file. {escape_markdown(preview.error)} Nothing was saved.",
             icon=":material/error:")
    st.stop()
result = preview.result
comparison = preview.comparison
n_new = comparison.n_new if comparison is not None else result.n_accepted
n_same = comparison.n_same if comparison is not None else 0
n_changed = comparison.n_changed if comparison is not None else 0

# ---- what was understood
st.subheader("What we read")
delimiter = {"\t": "tabs", ",": "commas", ";": "semicolons", "|": "bars", "": ""}.get(result.delimiter,
                                                                                     result.delimiter)
how = [f"a **{TABLE_WORDS.get(result.table, result.table)}**", f"{result.format.upper()} file"]
if result.encoding:
    how.append(f"text encoding {result.encoding}")
if delimiter:
    how.append(f"columns separated by {delimiter}")
how.append(f"dates read {result.date_order}")
st.markdown("This file is " + ", ".join(how) + ".")

counts = st.columns(5)
counts[0].metric("Rows in the file", f"{result.n_rows}")
counts[1].metric("New rows", f"{n_new}", help="Rows not saved before: they will be added.")
counts[2].metric("Already saved", f"{n_same}", help="Rows saved before with the same values: nothing to do.")
counts[3].metric("Differ from what is saved", f"{n_changed}",
                 help="Rows saved before (same date and time, exercise and side) with other values: you choose "
                      "below which to keep.")
counts[4].metric("Rows with a problem", f"{result.n_rejected}")
if result.n_duplicates:
    st.caption(f"{result.n_duplicates} row{'s' if result.n_duplicates != 1 else ''} of the file repeat an earlier "
               "row exactly and are counted once.")

st.markdown("**Your columns and what we read them as**")
mapping = pd.DataFrame({
    "column in your file": list(result.header_mapping.keys()),
    "read as": [COLUMN_LABELS.get(c, c) for c in result.header_mapping.values()],
})
st.dataframe(mapping, hide_index=True, width="stretch")

if len(result.rejected):
    st.markdown("**Rows we cannot save** (fix them in your file and upload it again; the other rows can be saved now)")
    rejected = pd.DataFrame({
        "row": result.rejected["row"].astype(int),
        "column": [COLUMN_LABELS.get(c, c) if c else "whole row" for c in result.rejected["column"]],
        "value": result.rejected["value"].astype(str),
        "reason": result.rejected["reason"].astype(str),
    })
    st.dataframe(rejected, hide_index=True, width="stretch",
                 column_config={"row": st.column_config.NumberColumn("row", help="Row 1 is the header line.")})

for warning in [*result.warnings, *(comparison.notes if comparison is not None else [])]:
    st.warning(escape_markdown(warning), icon=":material/info:")

# ---- rows that differ from what is saved: old and new side by side, and the patient's choice
choice: str | None = None
if comparison is not None and n_changed:
    st.subheader("Rows that differ from what is saved")
    st.markdown(f"**{escape_markdown(comparison.summary())}** Here is what is saved and what this file says:")
    differences = comparison.differences
    side_by_side = pd.DataFrame({
        "row": differences["row"].astype(int),
        "date": differences["when"].astype(str),
        "exercise or item": differences["what"].astype(str),
        "what": differences["column"].astype(str),
        "saved now": differences["stored"].astype(str),
        "in this file": differences["in_file"].astype(str),
    })
    if not side_by_side["exercise or item"].str.strip().any():  # a pain diary names no exercise
        side_by_side = side_by_side.drop(columns=["exercise or item"])
    st.dataframe(side_by_side, hide_index=True, width="stretch",
                 column_config={"row": st.column_config.NumberColumn("row", help="Row 1 is the header line.")})
    if comparison.same_app:
        st.caption("This file is a new export from the same app, so its values are the app's newer ones: "
                   "using them is suggested.")
    picked = st.radio("What should we do with these rows?", list(CONFLICT_CHOICES),
                      format_func=CONFLICT_CHOICES.__getitem__, index=0 if comparison.same_app else None,
                      key="patient_upload_conflict")
    choice = str(picked) if picked is not None else None
    if choice is None:
        st.info("Choose which values to keep before saving.", icon=":material/rule:")

if result.n_accepted:
    with st.expander(f"The {result.n_accepted} rows we read"):
        st.dataframe(result.accepted.drop(columns=["patient_id"]), hide_index=True, width="stretch")

# ---- confirm and save
saved = st.session_state.get(REPORT_KEY)
to_write = n_new + (n_changed if choice == "replace" else 0)
label = f"Save {to_write} row{'s' if to_write != 1 else ''}" if to_write or not result.n_accepted else \
    "Save (nothing new)"
if st.button(label, type="primary", disabled=result.n_accepted == 0 or (n_changed > 0 and choice is None),
             key="patient_upload_confirm", icon=":material/save:"):
    try:
        with st.spinner("Saving..."):
            report = state.save_upload(user, data, filename, dayfirst=day_first, on_conflict=choice or "fail")
    except RehabtrackError as exc:
        st.error(f"Nothing was saved: {escape_markdown(exc)}", icon=":material/error:")
        st.stop()
    except Exception:
        logger.exception("unexpected error saving upload %r for %s", filename, user.username)
        st.error("Something went wrong while saving. Nothing was saved. Try again in a moment, "
                 "or send the file to your physio.", icon=":material/error:")
        st.stop()
    saved = {"key": upload_key, "added": report.rows_added, "there": report.rows_already_there,
             "repeated": report.rows_duplicate_in_file, "rejected": report.rows_rejected,
             "changed": report.rows_changed, "replaced": report.rows_replaced,
             "duplicate_of": report.duplicate_of, "summary": report.summary()}
    st.session_state[REPORT_KEY] = saved

if saved is not None and saved["key"] == upload_key:
    changed = saved.get("changed", 0)
    corrected = ""
    if changed:
        corrected = (f", {saved['replaced']} corrected (the old values are kept in the change history)"
                     if saved.get("replaced") else f", {changed} kept as saved before")
    message = (f"Saved. {saved['added']} new row{'s' if saved['added'] != 1 else ''}, "
               f"{saved['there']} already there from an earlier upload{corrected}, {saved['rejected']} rejected"
               + (f", {saved['repeated']} repeated in the file" if saved["repeated"] else "") + ".")
    st.success(message, icon=":material/check_circle:")
    if saved["duplicate_of"] is not None:
        st.info("You had uploaded this same file before; nothing was added twice.")
    with st.expander("Upload report"):
        st.text(saved["summary"])
    st.page_link("views/patient_progress.py", label="See my progress", icon=":material/monitoring:")
elif result.n_accepted == 0:
    st.error("No row of this file can be saved. Fix the rows listed above, or download a template to see "
             "the columns we read.", icon=":material/error:")
