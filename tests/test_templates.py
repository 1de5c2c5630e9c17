"""Upload templates (analysis.templates): what a person downloads reads back as the schema's example rows.

Expected rows are written out by hand from the example values in
``analysis/schema.py`` (the README's data model); the round trip goes through
the real ingestion, so a header that ingestion did not understand fails here.
"""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest

from analysis.headers import match_headers
from analysis.ingest import ingest_file
from analysis.schema import TABLES
from analysis.templates import (
    PATIENT_TEMPLATE_TABLES,
    TEMPLATE_HEADERS,
    template_csv,
    template_filename,
    template_frame,
    template_help,
    template_xlsx,
)

T = pd.Timestamp

# The example rows of analysis/schema.py as canonical values (hand-written).
EXPECTED: dict[str, list[dict[str, object]]] = {
    "sessions": [
        {"performed_at": T("2026-09-08 07:30"), "exercise": "knee_to_chest", "side": "left", "sets": 1, "reps": 10,
         "hold_s": 5.0, "pain_during": 2, "rpe": 3, "notes": "felt stiff"},
        # knee-to-chest is done per leg: the template shows the right leg too
        {"performed_at": T("2026-09-08 07:30"), "exercise": "knee_to_chest", "side": "right", "sets": 1, "reps": 10,
         "hold_s": 5.0, "pain_during": 2, "rpe": 3, "notes": None},
    ],
    "pain": [{"recorded_at": T("2026-09-08 20:00"), "nprs": 6, "location": "back", "flare": False,
              "notes": "after gardening"}],
    "proms": [{"completed_at": T("2026-09-07"), "instrument": "odi", "item": "total", "value": 32.0}],
    "prescriptions": [
        {"exercise": "knee_to_chest", "side": side, "sets": 1, "reps": 10, "hold_s": 5.0, "sessions_per_week": 5,
         "start_date": T("2026-09-07"), "end_date": T("2026-09-20")} for side in ("left", "right")],
    "patients": [{"physio_id": "physio_a", "programme_start": T("2026-09-07"), "age_band": "40-49",
                  "condition_notes": "chronic LBP"}],
}

CASES = [(t, False) for t in PATIENT_TEMPLATE_TABLES] + [(t, True) for t in TABLES]


def _values(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, object]]:
    out = []
    for rec in frame[columns].to_dict("records"):
        out.append({k: (None if v is pd.NA or (isinstance(v, float) and pd.isna(v)) else v) for k, v in rec.items()})
    return out


@pytest.mark.parametrize(("table", "with_id"), CASES)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_unchanged_template_reads_back_as_the_example_rows(table: str, with_id: bool, fmt: str) -> None:
    data = template_csv(table, include_patient_id=with_id) if fmt == "csv" else template_xlsx(
        table, include_patient_id=with_id)
    # a patient's template has no patient column: the upload names the patient
    result = ingest_file(data, filename=f"t.{fmt}", patient_id=None if with_id else "P042")
    assert result.table == table  # detected from the headers (and the sheet name), not told
    assert result.n_rejected == 0 and result.n_duplicates == 0
    expected = EXPECTED[table]
    assert _values(result.accepted, list(expected[0])) == expected
    assert set(result.accepted["patient_id"]) == {"P001" if with_id else "P042"}


@pytest.mark.parametrize(("table", "with_id"), CASES)
def test_every_template_header_maps_to_its_own_column(table: str, with_id: bool) -> None:
    headers = list(template_frame(table, include_patient_id=with_id).columns)
    match = match_headers(headers, table)
    spec = TABLES[table]
    wanted = [c for c in spec.column_names if with_id or c != "patient_id"]
    assert list(match.mapping.values()) == wanted
    assert match.ignored == () and match.scale == {}  # no unused column, hold in seconds


def test_a_patient_template_has_no_patient_column_and_a_physio_template_starts_with_one() -> None:
    assert "Patient ID" not in template_frame("pain").columns
    assert list(template_frame("pain", include_patient_id=True).columns)[0] == "Patient ID"
    assert list(template_frame("pain").columns) == ["Date", "Pain (0-10)", "Location", "Flare", "Notes"]


def test_the_csv_template_opens_in_excel_with_accents_and_crlf() -> None:
    data = template_csv("sessions")
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark
    assert data.decode("utf-8-sig").splitlines()[0] == (
        "Date,Exercise,Side,Sets,Reps,Hold (s),Pain during (0-10),Effort (RPE 0-10),Notes")
    assert b"\r\n" in data


def test_the_excel_template_has_the_table_sheet_and_a_help_sheet() -> None:
    book = openpyxl.load_workbook(io.BytesIO(template_xlsx("pain")))
    assert book.sheetnames == ["pain", "How to fill in"]
    rows = list(book["pain"].iter_rows(values_only=True))
    assert rows[0] == ("Date", "Pain (0-10)", "Location", "Flare", "Notes")
    assert rows[1] == ("2026-09-08 20:00", 6, "back", "no", "after gardening")  # the rating is a number cell
    help_rows = list(book["How to fill in"].iter_rows(values_only=True))
    assert help_rows[0] == ("column", "required", "what to write", "allowed", "unit")
    assert [r[0] for r in help_rows[1:]] == ["Date", "Pain (0-10)", "Location", "Flare", "Notes"]


def test_the_help_says_what_is_required_and_allowed() -> None:
    help_table = template_help("sessions").set_index("column")
    assert help_table.loc["Date", "required"] == "yes"
    assert help_table.loc["Notes", "required"] == "no"
    assert help_table.loc["Side", "required"] == "no"  # a blank side means both sides
    assert help_table.loc["Side", "allowed"] == "left, right or both"
    assert help_table.loc["Pain during (0-10)", "allowed"] == "0 to 10"


def test_template_headers_cover_every_canonical_column() -> None:
    assert {c for spec in TABLES.values() for c in spec.column_names} == set(TEMPLATE_HEADERS)


def test_template_file_names() -> None:
    assert template_filename("pain", "xlsx") == "rehabtrack-pain-template.xlsx"
    with pytest.raises(ValueError):
        template_filename("pain", "pdf")
    with pytest.raises(KeyError):
        template_filename("diary", "csv")
