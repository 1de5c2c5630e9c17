"""Tests of safe exports (analysis.export): formula neutralisation, escaping, pseudonyms, research export.

References: the OWASP "CSV Injection" list of formula triggers (= + - @ tab CR),
the standard library's csv, html and hmac modules, openpyxl reading the
workbook back (a cell's ``data_type`` is ``"f"`` for a formula, ``"s"`` for text),
and programme days counted by hand.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
import threading
from datetime import date

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis import access
from analysis import export as export_mod
from analysis.access import research_export
from analysis.escaping import FORMULA_TRIGGERS, escape_markdown, escape_text, neutralise_cell, neutralise_formulas
from analysis.export import ExportError, to_csv_bytes, to_excel_bytes
from analysis.pseudonyms import pseudonym_key, pseudonymise_cohort, pseudonymise_ids
from analysis.roles import User
from analysis.schema import CohortTables, conform, empty_frame
from analysis.store import Store

KEY = b"0123456789abcdef0123456789abcdef"
DANGEROUS = ["=1+1", "+1", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")',
             "=cmd|' /C calc'!A0", "\uff1d1+1"]
HARMLESS = ["a=b", "1-2", "note: +1", " plain", "", "Rücken", "email a@b.c"]


# --------------------------------------------------------------------------------------
# formula injection


@pytest.mark.parametrize("value", DANGEROUS)
def test_dangerous_cells_get_an_apostrophe(value):
    assert neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", HARMLESS)
def test_harmless_cells_are_unchanged(value):
    assert neutralise_cell(value) == value


def test_neutralise_formulas_touches_only_text_columns():
    frame = pd.DataFrame({
        "notes": pd.array([*DANGEROUS, *HARMLESS, None], dtype="string"),
        "obj": [*DANGEROUS, *HARMLESS, None],
        "nprs": np.arange(-8, 9, dtype=float),  # negative numbers are numbers, not formulas
        "=evil": 0,
    })
    out = neutralise_formulas(frame)
    n = len(DANGEROUS)
    assert out["notes"].tolist()[:n] == ["'" + v for v in DANGEROUS]
    assert out["notes"].tolist()[n:-1] == HARMLESS and out["notes"].isna().iloc[-1]
    assert out["obj"].tolist()[:n] == ["'" + v for v in DANGEROUS] and out["obj"].iloc[-1] is None
    assert out["nprs"].equals(frame["nprs"]) and list(out.columns)[-1] == "'=evil"
    assert frame["notes"].iloc[0] == "=1+1"  # the input is not modified


@given(st.text(max_size=20))
def test_no_neutralised_text_cell_starts_with_a_trigger(text):
    out = neutralise_formulas(pd.DataFrame({"t": pd.array([text], dtype="string")}))["t"].iloc[0]
    assert not out.startswith(FORMULA_TRIGGERS)
    assert out == text or out == "'" + text


def test_csv_bytes_are_neutralised():
    frame = pd.DataFrame({"notes": DANGEROUS, "n": range(len(DANGEROUS))})
    rows = list(csv.reader(io.StringIO(to_csv_bytes(frame).decode("utf-8-sig"), newline="")))
    assert rows[0] == ["notes", "n"]
    assert [r[0] for r in rows[1:]] == ["'" + v for v in DANGEROUS]


def test_excel_cells_are_text_not_formulas(tmp_path):
    frame = pd.DataFrame({"notes": DANGEROUS, "value": [-1.5] * len(DANGEROUS)})
    # Control: written naively, openpyxl stores "=1+1" as a live formula. This is the threat.
    naive = io.BytesIO()
    frame.to_excel(naive, index=False)
    assert openpyxl.load_workbook(naive)["Sheet1"]["A2"].data_type == "f"
    sheet = openpyxl.load_workbook(io.BytesIO(to_excel_bytes({"pain": frame})))["pain"]
    cells = [sheet.cell(row=i + 2, column=1) for i in range(len(DANGEROUS))]
    assert [c.data_type for c in cells] == ["s"] * len(DANGEROUS)
    # (XML stores a carriage return as a line feed)
    assert [c.value for c in cells] == ["'" + v.replace("\r", "\n") for v in DANGEROUS]
    assert sheet.cell(row=2, column=2).value == -1.5  # numbers stay numbers


def test_excel_refuses_a_table_larger_than_a_sheet(monkeypatch):
    monkeypatch.setattr(export_mod, "EXCEL_MAX_ROWS", 3)
    with pytest.raises(ExportError, match="more than an Excel sheet holds"):
        to_excel_bytes({"pain": pd.DataFrame({"a": range(3)})})


# --------------------------------------------------------------------------------------
# display escaping


def test_escape_text_for_html():
    assert escape_text('<script>alert("x")</script>') == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert escape_text("Tom & Jerry's") == "Tom &amp; Jerry&#x27;s"
    assert escape_text(None) == "" and escape_text(pd.NA) == "" and escape_text(float("nan")) == ""
    assert escape_text(7) == "7"


def test_escape_markdown():
    assert escape_markdown("[click](javascript:alert(1))") == r"\[click\]\(javascript\:alert\(1\)\)"
    assert escape_markdown("**bold** <b>") == r"\*\*bold\*\* \<b\>"
    assert escape_markdown(None) == ""


# --------------------------------------------------------------------------------------
# pseudonyms


def test_pseudonyms_are_keyed_hashes():
    ids = pd.Series(["P001", "P002", None, "P001"], dtype="string")
    out = pseudonymise_ids(ids, KEY)
    ref = "pat-" + hmac.new(KEY, b"patient:P001", hashlib.sha256).hexdigest()[:16]
    assert out.iloc[0] == ref and out.iloc[3] == ref and pd.isna(out.iloc[2]) and out.iloc[1] != ref
    assert pseudonymise_ids(ids, b"x" * 32).iloc[0] != ref
    physio = pseudonymise_ids(pd.Series(["P001"], dtype="string"), KEY, kind="physio").iloc[0]
    assert physio.startswith("phy-") and physio[4:] != ref[4:]


def test_pseudonym_key_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REHABTRACK_PSEUDONYM_KEY", "s" * 40)
    assert pseudonym_key(tmp_path) == b"s" * 40
    assert not (tmp_path / "pseudonym.key").exists()
    monkeypatch.setenv("REHABTRACK_PSEUDONYM_KEY", "short")
    with pytest.raises(ExportError, match="too short"):
        pseudonym_key(tmp_path)


def test_pseudonym_key_file_is_made_once_private_and_shared_by_racers(monkeypatch, tmp_path):
    monkeypatch.delenv("REHABTRACK_PSEUDONYM_KEY", raising=False)
    keys: list[bytes] = []
    barrier = threading.Barrier(6)

    def make() -> None:
        barrier.wait()
        keys.append(pseudonym_key(tmp_path))

    threads = [threading.Thread(target=make) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert oct((tmp_path / "pseudonym.key").stat().st_mode & 0o777) == "0o600"
    assert sorted(os.listdir(tmp_path)) == ["pseudonym.key"]  # no temporary file left behind
    assert pseudonym_key(tmp_path) == keys[0]


def _tiny_cohort() -> CohortTables:
    patients = conform(pd.DataFrame({"patient_id": ["P1", "P2"], "physio_id": ["f1", "f1"],
                                     "programme_start": pd.to_datetime(["2026-09-07", "2026-09-01"]),
                                     "age_band": ["40-49", None], "condition_notes": ["Mr Smith, plumber", None]}),
                       "patients")
    rx = conform(pd.DataFrame({"patient_id": ["P1"], "exercise": ["knee_to_chest"], "side": ["left"], "sets": [1],
                               "reps": [10], "hold_s": [5.0], "sessions_per_week": [5],
                               "start_date": pd.to_datetime(["2026-09-07"]), "end_date": pd.to_datetime([None])}),
                 "prescriptions")
    sessions = conform(pd.DataFrame({"patient_id": ["P1"], "performed_at": pd.to_datetime(["2026-09-15 07:30"]),
                                     "exercise": ["knee_to_chest"], "side": ["left"], "sets": [1], "reps": [10],
                                     "hold_s": [5.0],
                                     "notes": ["=HYPERLINK(\"x\")"]}), "sessions")
    pain = conform(pd.DataFrame({"patient_id": ["P1", "P2"], "recorded_at": pd.to_datetime(
        ["2026-09-10 20:00", "2026-09-01 00:05"]), "nprs": [6, 3], "notes": ["saw Dr Jones", None]}), "pain")
    return CohortTables(patients=patients, prescriptions=rx, sessions=sessions, pain=pain, proms=empty_frame("proms"))


def test_pseudonymised_cohort_counts_days_from_the_programme_start():
    research = pseudonymise_cohort(_tiny_cohort(), KEY)
    p1 = "pat-" + hmac.new(KEY, b"patient:P1", hashlib.sha256).hexdigest()[:16]
    pain = research.pain.set_index("pseudonym")
    # P1 started 2026-09-07: 2026-09-10 20:00 is day 3, week 1, minute 20 x 60 = 1200
    assert (pain.loc[p1, "day"], pain.loc[p1, "week"], pain.loc[p1, "minute_of_day"]) == (3, 1, 1200)
    # 2026-09-15 07:30 is day 8 (week 2), minute 450
    assert research.sessions[["day", "week", "minute_of_day"]].iloc[0].tolist() == [8, 2, 450]
    assert research.prescriptions[["start_day"]].iloc[0].tolist() == [0] and pd.isna(
        research.prescriptions["end_day"].iloc[0])
    assert "notes" not in research.sessions.columns and "condition_notes" not in research.patients.columns
    assert list(research.patients.columns) == ["pseudonym", "physio_pseudonym", "age_band"]
    assert research.patients["physio_pseudonym"].nunique() == 1
    with_notes = pseudonymise_cohort(_tiny_cohort(), KEY, include_notes=True)
    assert with_notes.pain.set_index("pseudonym").loc[p1, "notes"] == "saw Dr Jones"


# --------------------------------------------------------------------------------------
# research export end to end


@pytest.fixture
def notes_store(tmp_path):
    s = Store.open(tmp_path / "s.sqlite", data_dir=tmp_path / "data")
    admin = User("admin", "admin")
    access.upload(admin, s, b"patient_id,physio_id,programme_start\nP1,f1,2026-09-07\n", "p.csv",
                  today=date(2026, 11, 1))
    access.upload(admin, s, b'patient_id,performed_at,exercise,side,sets,reps,notes\n'
                  b'P1,2026-09-15 07:30,knee_to_chest,left,1,10,"=HYPERLINK(""http://evil"",""x"")"\n',
                  "s.csv", today=date(2026, 11, 1))
    yield s
    s.close()


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_research_export_files(fmt, notes_store, tmp_path, monkeypatch):
    monkeypatch.setenv("REHABTRACK_PSEUDONYM_KEY", KEY.decode())
    paths = research_export(User("r", "researcher"), notes_store, tmp_path / "out", fmt=fmt, include_notes=True)
    p1 = "pat-" + hmac.new(KEY, b"patient:P1", hashlib.sha256).hexdigest()[:16]
    if fmt == "csv":
        assert sorted(p.name for p in paths) == sorted(f"{t}.csv" for t in
                                                       ("patients", "prescriptions", "sessions", "pain", "proms"))
        rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "sessions.csv").read_text("utf-8-sig"))))
        assert rows[0]["pseudonym"] == p1 and rows[0]["day"] == "8"
        assert rows[0]["notes"] == "'=HYPERLINK(\"http://evil\",\"x\")"
    elif fmt == "xlsx":
        sheet = openpyxl.load_workbook(paths[0])["sessions"]
        header = [c.value for c in sheet[1]]
        cell = sheet.cell(row=2, column=header.index("notes") + 1)
        assert cell.data_type == "s" and cell.value.startswith("'=HYPERLINK")
    else:
        sessions = pd.read_parquet(tmp_path / "out" / "sessions.parquet")
        assert sessions["notes"].iloc[0] == '=HYPERLINK("http://evil","x")'  # exact data for analysis tools
        assert "patient_id" not in sessions.columns


def test_research_export_rejects_an_unknown_format(notes_store, tmp_path):
    with pytest.raises(ExportError, match="unknown export format"):
        research_export(User("r", "researcher"), notes_store, tmp_path / "o", fmt="docx", key=KEY)
