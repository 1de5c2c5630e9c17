"""Tests of analysis.validation: the one engine behind uploads, app importers and in-app entries.

Expectations are written by hand from the fixture files in tests/fixtures/ingest (the header is
row 1) and from the ranges in analysis/schema.py.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import MissingColumnsError, UnknownTableError
from analysis.importers.strong import ingest_strong
from analysis.ingest import ingest_file
from analysis.schema import TABLES
from analysis.validation import (
    DUPLICATE,
    MISSING_COLUMNS,
    REJECTED_COLUMNS,
    ROW_CHECKS,
    UNKNOWN_TABLE,
    FileFailure,
    validate_frame,
)

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = date(2026, 11, 25)


def rules(result_rejected: pd.DataFrame) -> list[tuple[int, str, str]]:
    return [(int(r), str(c), str(k)) for r, c, k in
            zip(result_rejected["row"], result_rejected["column"], result_rejected["check"], strict=True)]


def test_rejected_rows_name_the_rule_that_failed() -> None:
    r = ingest_file(FIXTURES / "ingest" / "sessions_bad_values.csv", today=TODAY)
    assert list(r.rejected.columns) == list(REJECTED_COLUMNS) == ["row", "column", "check", "value", "reason"]
    assert rules(r.rejected) == [
        (2, "sets", "whole_number"),  # 2.5
        (3, "pain_during", "range"),  # 11
        (4, "side", "vocabulary"),  # up
        (5, "reps", "range"),  # -3
        (5, "hold_s", "range"),  # 700
        (6, "exercise", "required"),  # empty
        (7, "sets", "number"),  # one
    ]


def test_date_rules() -> None:
    r = ingest_file(FIXTURES / "ingest" / "pain_bad_dates.csv", patient_id="P1", today=TODAY)
    assert rules(r.rejected) == [
        (3, "recorded_at", "date"),  # 30 February
        (4, "recorded_at", "future"),  # 2027-01-15 after 2026-11-25
        (5, "recorded_at", "date"),  # yesterday
        (6, "recorded_at", "required"),  # empty
        (7, "recorded_at", "date"),  # 31 April
    ]
    old = ingest_file(b"Date,Pain,Flare\n1899-12-31,4,no\n2026-09-08,4,maybe\n", filename="p.csv", patient_id="P1",
                      today=TODAY)
    assert rules(old.rejected) == [(2, "recorded_at", "too_early"), (3, "flare", "yes_no")]


def test_whole_row_period_and_patient_rules() -> None:
    line = ingest_file(FIXTURES / "ingest" / "sessions_bad_line.csv", today=TODAY)
    assert rules(line.rejected) == [(3, "", "malformed")]
    period = ingest_file(FIXTURES / "ingest" / "prescriptions.csv", today=TODAY)
    assert rules(period.rejected) == [(5, "end_date", "period")]
    other = ingest_file(FIXTURES / "ingest" / "sessions_another_patient.csv", patient_id="P001", today=TODAY)
    assert {k for _, c, k in rules(other.rejected) if c == "patient_id"} == {"patient"}


def test_every_problem_of_every_fixture_names_a_known_rule() -> None:
    seen: set[str] = set()
    files = [*sorted((FIXTURES / "ingest").glob("*.csv")), *sorted((FIXTURES / "importers").glob("*.csv")),
             FIXTURES / "importers" / "fhir_bundle.json"]
    for path in files:
        try:
            result = ingest_file(path, patient_id="P001", today=TODAY)
        except (MissingColumnsError, UnknownTableError, ValueError):
            continue  # file-level failures raise before any row is checked
        assert result.rejected["check"].notna().all(), path.name
        seen.update(result.rejected["check"])
    assert seen <= set(ROW_CHECKS)
    assert {"range", "whole_number", "date", "required", "vocabulary", "malformed"} <= seen


def test_app_importer_set_problems_carry_their_rule() -> None:
    text = ("Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,Workout Notes,RPE\n"
            "2026-09-08 07:30:00,Back,10m,Bridge,1,0,10,0,0,,,\n"
            "2026-09-08 07:30:00,Back,10m,Bridge,Z,0,10,0,0,,,\n"
            "2026-09-08 07:30:00,Back,10m,Bridge,2,0,x,0,0,,,\n")
    result = ingest_strong(text.encode(), filename="strong.csv", patient_id="P001", today=TODAY)
    assert rules(result.rejected) == [(3, "sets", "vocabulary"), (4, "reps", "number")]


# ---------------------------------------------------------------------------
# validate_frame: canonical values (in-app entries, programmes)


def pain_rows(**changes: object) -> pd.DataFrame:
    row = {"patient_id": "P1", "recorded_at": pd.Timestamp("2026-09-08"), "nprs": 4, "location": "back",
           "flare": False, "notes": None}
    return pd.DataFrame([{**row, **changes}])


def test_frame_file_level_failures_come_first_and_stop_the_row_checks() -> None:
    unknown = validate_frame(pain_rows(nprs=11), "diary")
    assert [f.check for f in unknown.file_failures] == [UNKNOWN_TABLE] and unknown.rejected.empty
    assert isinstance(unknown.file_failures[0].error("x.csv"), UnknownTableError)
    missing = validate_frame(pain_rows(nprs=11).drop(columns=["nprs", "recorded_at"]), "pain")
    assert missing.file_failures == (
        FileFailure(MISSING_COLUMNS, "the pain rows have no recorded_at, nprs", "pain", ("recorded_at", "nprs")),)
    assert missing.rejected.empty and not missing.ok
    err = missing.file_failures[0].error("x.csv")
    assert isinstance(err, MissingColumnsError) and err.missing == ("recorded_at", "nprs")


def test_frame_row_failures_count_rows_as_a_person_would() -> None:
    rows = pd.concat([pain_rows(), pain_rows(recorded_at=pd.Timestamp("2026-09-09"), nprs=11, location="arm"),
                      pain_rows(recorded_at=pd.Timestamp("2026-09-10"), patient_id=None),
                      pain_rows(notes="again")], ignore_index=True)
    checked = validate_frame(rows, "pain")
    assert not checked.file_failures and not checked.ok
    assert checked.rejected[["row", "column", "check", "value"]].values.tolist() == [
        [3, "nprs", "range", "11"],
        [3, "location", "vocabulary", "arm"],
        [4, "patient_id", "required", ""],
        [5, "", "duplicate", ""],  # same patient and time as row 2
    ]
    assert checked.rejected["reason"].tolist()[:3] == [
        "pain must be a whole number from 0 to 10; got 11",
        "pain location must be back, leg or both; got 'arm'",
        "patient ID is missing; every row needs one",
    ]
    # column by column, as the store reports the first problem
    assert checked.by_column()["column"].tolist() == ["patient_id", "nprs", "location", ""]
    assert checked.value(3, "nprs") == 11
    assert validate_frame(rows, "pain", keys=False).rejected["check"].tolist().count(DUPLICATE) == 0


def test_frame_range_order_within_a_column_is_below_minimum_first() -> None:
    rows = pd.concat([pain_rows(nprs=11), pain_rows(recorded_at=pd.Timestamp("2026-09-09"), nprs=-1)],
                     ignore_index=True)
    assert validate_frame(rows, "pain").by_column()["value"].tolist() == ["-1", "11"]


def test_valid_frames_pass_and_come_back_conformed() -> None:
    for name in TABLES:
        checked = validate_frame(pd.DataFrame(columns=TABLES[name].column_names), name)
        assert checked.ok and list(checked.frame.columns) == TABLES[name].column_names
    checked = validate_frame(pain_rows(nprs="4").set_index(pd.Index([7])), "pain")
    assert checked.ok and checked.frame["nprs"].dtype == "Int64" and list(checked.frame.index) == [0]


def test_store_entries_use_the_engine_messages() -> None:
    from analysis.entries import EntryError
    from analysis.store import _validated_entries

    nprs = r"^nprs: np.int64\(11\) is not allowed \(allowed: 0 to 10\); nothing was saved$"
    with pytest.raises(EntryError, match=nprs):
        _validated_entries(pain_rows(nprs=11), TABLES["pain"])
    with pytest.raises(EntryError, match="^the pain entry has no nprs$"):
        _validated_entries(pain_rows().drop(columns=["nprs"]), TABLES["pain"])
    with pytest.raises(EntryError, match="^two pain rows have the same patient_id, recorded_at; nothing was saved$"):
        _validated_entries(pd.concat([pain_rows(), pain_rows(nprs=5)]), TABLES["pain"])
    assert len(_validated_entries(pain_rows(), TABLES["pain"])) == 1


def test_ingestion_modules_do_not_import_the_importers() -> None:
    """reading, validation and tables sit below importers/; ingest sits above (no circle)."""
    code = ("import sys; import analysis.tables, analysis.validation, analysis.reading; "
            "print(sorted(m for m in sys.modules if m.startswith(('analysis.importers', 'analysis.ingest', "
            "'analysis.cohort', 'pandera'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    code = "import sys; import analysis.store; print('analysis.cohort' in sys.modules, 'pandera' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_checks_are_named_once() -> None:
    assert len(set(ROW_CHECKS)) == len(ROW_CHECKS)
    assert np.all([c == c.lower() and " " not in c for c in ROW_CHECKS])
