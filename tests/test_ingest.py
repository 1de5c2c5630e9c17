"""Tests of analysis.ingest and analysis.headers.

Every expectation below is written by hand from the fixture files in
tests/fixtures/ingest (row numbers count the header as row 1), from the
calendar, or from the ranges in analysis/schema.py; none is copied from the
code's own output. Pandera's schema (analysis.schema.pandera_schema) serves as
an independent check that accepted tables really are canonical.
"""

from __future__ import annotations

import codecs
import importlib.util
import io
import json
import math
import random
import string
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from analysis.errors import (
    DayOrderError,
    IngestError,
    MissingColumnsError,
    SeveralPeopleError,
    UnknownTableError,
    UnreadableFileError,
)
from analysis.headers import detect_table, fold_header, match_headers
from analysis.ingest import ingest_file
from analysis.reading import read_raw
from analysis.schema import TABLES, pandera_schema, table_spec
from analysis.tables import IngestResult, ingest_frame
from analysis.validation import REJECTED_COLUMNS

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
TODAY = date(2026, 11, 25)


def _load_make_xlsx():
    spec = importlib.util.spec_from_file_location("make_xlsx", FIXTURES / "make_xlsx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(result: IngestResult) -> IngestResult:
    """Invariants every result must satisfy."""
    spec = table_spec(result.table)
    assert list(result.accepted.columns) == spec.column_names
    assert {c: str(t) for c, t in result.accepted.dtypes.items()} == spec.dtypes
    assert list(result.rejected.columns) == list(REJECTED_COLUMNS)
    assert result.rejected["row"].dtype == np.int64
    assert result.n_accepted + result.n_rejected + result.n_duplicates == result.n_rows
    assert isinstance(result.accepted.index, pd.RangeIndex)
    return result


def ingest(name: str, **kwargs) -> IngestResult:
    kwargs.setdefault("today", TODAY)
    return check(ingest_file(FIXTURES / name, **kwargs))


def problems(result: IngestResult) -> list[tuple[int, str, str, str]]:
    """(row, column, value, reason) of every problem; the rule (``check``) is tested on its own."""
    rejected = result.rejected[["row", "column", "value", "reason"]]
    return [tuple(r) for r in rejected.itertuples(index=False, name=None)]


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


# ---------------------------------------------------------------------------
# canonical files


def test_canonical_sessions_csv_is_read_whole_and_passes_pandera():
    r = ingest("sessions_canonical.csv")
    assert (r.table, r.format, r.encoding, r.delimiter, r.source) == (
        "sessions", "csv", "utf-8", ",", "sessions_canonical.csv")
    assert (r.n_rows, r.n_accepted, r.n_rejected, r.n_duplicates) == (4, 4, 0, 0)
    a = r.accepted
    assert a["patient_id"].tolist() == ["P001", "P001", "P001", "P002"]
    assert a["performed_at"].tolist() == [ts("2026-09-08 07:30"), ts("2026-09-08 07:30"),
                                          ts("2026-09-08 07:35"), ts("2026-09-09")]
    assert a["side"].tolist() == ["left", "right", "both", "both"]
    assert a["sets"].tolist() == [1, 1, 2, 3]
    assert a["hold_s"].iloc[:3].tolist() == [5.0, 5.0, 10.0] and math.isnan(a["hold_s"].iloc[3])
    assert a["rpe"].isna().tolist() == [False, False, False, True]
    assert a["notes"].iloc[3] == "notes, with a comma"
    assert r.header_mapping == {c: c for c in table_spec("sessions").column_names}
    pandera_schema("sessions").validate(a, lazy=True)  # independent check of dtypes and ranges


def test_header_synonyms_units_and_side_words():
    r = ingest("sessions_messy_headers.csv", patient_id="P001")
    assert r.header_mapping == {
        "Date": "performed_at", "Exercise Name": "exercise", "Side": "side", "Sets": "sets",
        "Repetitions": "reps", "Hold [sec]": "hold_s", "Pain (0-10)": "pain_during", "Effort": "rpe",
        "Comments": "notes",
    }
    assert r.n_accepted == 8 and r.n_rejected == 0
    assert r.accepted["patient_id"].tolist() == ["P001"] * 8
    # L, R, B, Left, right, both, bilateral, (blank -> both)
    assert r.accepted["side"].tolist() == ["left", "right", "both", "left", "right", "both", "both", "both"]
    assert r.accepted["exercise"].tolist() == [
        "knee_to_chest", "knee_to_chest", "hamstring_stretch", "knee_to_chest", "knee_to_chest",
        "cat_cow", "bridge", "pelvic_tilt"]
    assert any("'Weight (kg)'" in w and "not read" in w for w in r.warnings)


@pytest.mark.parametrize(("header", "folded"), [
    ("Hold (s)", "hold"), ("Pain (0-10)", "pain"), ("Hold [sec]", "hold"), ("Exercise_Name", "exercise name"),
    ("  PATIENT-ID ", "patient id"), ("Sessions/week", "sessions week"), ("Flare-up", "flare up"),
    ("Durée", "duree"),
])
def test_fold_header(header, folded):
    assert fold_header(header) == folded


@pytest.mark.parametrize(("table", "header", "canonical"), [
    ("sessions", "Date", "performed_at"), ("pain", "Date", "recorded_at"), ("proms", "Date", "completed_at"),
    ("sessions", "Exercise Name", "exercise"), ("sessions", "Exercise", "exercise"),
    ("sessions", "Reps", "reps"), ("sessions", "Repetitions", "reps"), ("sessions", "Hold", "hold_s"),
    ("sessions", "Hold time", "hold_s"), ("sessions", "Hold (s)", "hold_s"), ("sessions", "hold_s", "hold_s"),
    ("sessions", "Pain", "pain_during"), ("sessions", "Pain during", "pain_during"),
    ("sessions", "NPRS", "pain_during"), ("pain", "Pain", "nprs"), ("pain", "NPRS", "nprs"),
    ("pain", "Pain score", "nprs"), ("pain", "Pain (0-10)", "nprs"), ("sessions", "Patient", "patient_id"),
    ("sessions", "Patient ID", "patient_id"), ("sessions", "patient_id", "patient_id"),
    ("sessions", "Side", "side"), ("pain", "Flare-up", "flare"), ("prescriptions", "Sessions/week",
                                                                   "sessions_per_week"),
    ("patients", "Programme start", "programme_start"), ("proms", "Questionnaire", "instrument"),
])
def test_header_synonyms_per_table(table, header, canonical):
    assert match_headers([header], table).mapping == {header: canonical}


def test_exact_canonical_header_wins_over_a_synonym_and_the_other_is_reported():
    m = match_headers(["Pain", "pain_during", "NPRS"], "sessions")
    assert m.mapping == {"pain_during": "pain_during"}
    assert set(m.repeated) == {("Pain", "pain_during"), ("NPRS", "pain_during")}


def test_hold_in_minutes_is_converted_to_seconds():
    raw = pd.DataFrame({"Patient": ["P1", "P1"], "Date": ["2026-09-08", "2026-09-09"], "Exercise": ["bridge"] * 2,
                        "Sets": ["1", "1"], "Reps": ["10", "10"], "Hold (min)": ["1", "0.5"]})
    r = check(ingest_frame(raw, today=TODAY))
    assert r.accepted["hold_s"].tolist() == [60.0, 30.0]  # 1 min = 60 s; 0.5 min = 30 s
    assert any("minutes" in w for w in r.warnings)


# ---------------------------------------------------------------------------
# delimiters, decimal comma, encodings


def test_semicolon_file_with_decimal_commas_and_day_first_dates():
    r = ingest("sessions_semicolon.csv")
    assert r.delimiter == ";"
    assert r.accepted["hold_s"].tolist() == [2.5, 7.5, 0.5]  # "2,5" "7.5" "0,5"
    assert r.accepted["performed_at"].tolist() == [ts("2026-09-08"), ts("2026-09-08"), ts("2026-09-09")]
    assert r.accepted["side"].tolist() == ["left", "right", "both"]


@pytest.mark.parametrize(("name", "delimiter"), [("sessions_tab.tsv", "\t"), ("sessions_pipe.csv", "|")])
def test_tab_and_pipe_delimiters(name, delimiter):
    r = ingest(name)
    assert r.delimiter == delimiter
    assert r.accepted["hold_s"].tolist() == [2.5, 5.0]
    assert r.accepted["pain_during"].tolist() == [3, 2]


def test_a_decimal_comma_in_a_comma_separated_file_is_rejected_not_guessed():
    data = b'patient_id,performed_at,exercise,side,sets,reps,hold_s\nP1,2026-09-08,bridge,both,1,10,"2,5"\n'
    r = check(ingest_file(data, filename="x.csv", today=TODAY))
    assert problems(r) == [(2, "hold_s", "2,5", "hold time in seconds must be a number from 0 to 600; got 2,5")]


def test_semicolons_inside_quoted_notes_do_not_fool_the_sniffer():
    data = b'patient_id,performed_at,exercise,side,sets,reps,notes\nP1,2026-09-08,bridge,both,1,10,"a;b;c;d;e;f;g"\n'
    r = check(ingest_file(data, today=TODAY))
    assert r.delimiter == "," and r.accepted["notes"].tolist() == ["a;b;c;d;e;f;g"]


PAIN_TEXT = (FIXTURES / "pain_diary.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize(("data", "encoding"), [
    (PAIN_TEXT.encode("utf-8"), "utf-8"),
    (PAIN_TEXT.encode("utf-8-sig"), "utf-8-sig"),
    (PAIN_TEXT.encode("utf-16"), "utf-16"),  # little-endian with a byte-order mark
    (codecs.BOM_UTF16_BE + PAIN_TEXT.encode("utf-16-be"), "utf-16"),
    (PAIN_TEXT.encode("latin-1"), "cp1252"),  # é is byte E9 in both Latin-1 and cp1252
])
def test_encodings(data, encoding):
    r = check(ingest_file(data, filename="pain.csv", patient_id="P001", today=TODAY))
    assert r.encoding == encoding
    assert "Date" in r.header_mapping  # no byte-order mark left in the first header
    assert r.accepted["notes"].iloc[0] == "après jardinage - raide"
    assert r.n_accepted == 6


def test_cp1252_only_characters():
    text = "Date,Pain,Notes\n2026-09-08,3,“better” – thanks €5\n"
    r = check(ingest_file(text.encode("cp1252"), filename="p.csv", patient_id="P1", today=TODAY))
    assert r.encoding == "cp1252" and r.accepted["notes"].tolist() == ["“better” – thanks €5"]


def test_pain_diary_values_flare_words_and_locations():
    r = ingest("pain_diary.csv", patient_id="P001")
    assert r.table == "pain"
    assert r.header_mapping == {"Date": "recorded_at", "Pain score": "nprs", "Flare": "flare",
                                "Where": "location", "Notes": "notes"}
    a = r.accepted
    assert a["nprs"].tolist() == [6, 5, 4, 7, 3, 3]
    assert a["flare"].tolist() == [False, False, False, True, True, False]  # no N 0 yes TRUE false
    assert a["location"].iloc[:5].tolist() == ["back", "back", "leg", "both", "back"]
    assert a["location"].isna().tolist() == [False] * 5 + [True]
    assert a["recorded_at"].iloc[0] == ts("2026-09-08 20:00")


@pytest.mark.parametrize(("word", "expected"), [
    ("yes", True), ("no", False), ("y", True), ("n", False), ("true", True), ("false", False),
    ("1", True), ("0", False), ("Yes", True), ("FALSE", False),
])
def test_flare_booleans(word, expected):
    raw = pd.DataFrame({"patient_id": ["P1"], "recorded_at": ["2026-09-08"], "nprs": ["3"], "flare": [word]})
    assert check(ingest_frame(raw, today=TODAY)).accepted["flare"].tolist() == [expected]


def test_flare_word_that_is_not_yes_or_no_is_rejected():
    raw = pd.DataFrame({"patient_id": ["P1"], "recorded_at": ["2026-09-08"], "nprs": ["3"], "flare": ["maybe"]})
    r = check(ingest_frame(raw, today=TODAY))
    assert problems(r) == [(2, "flare", "maybe", "flare-up must be yes or no; got 'maybe'")]


# ---------------------------------------------------------------------------
# dates


def test_ambiguous_dates_follow_the_chosen_day_order():
    day = ingest("pain_ambiguous_dates.csv", patient_id="P1")
    month = ingest("pain_ambiguous_dates.csv", patient_id="P1", dayfirst=False)
    assert day.date_order == "day-first" and month.date_order == "month-first"
    assert day.accepted["recorded_at"].tolist() == [ts("2026-02-01"), ts("2026-04-03"), ts("2026-06-05"),
                                                    ts("2026-07-07")]
    assert month.accepted["recorded_at"].tolist() == [ts("2026-01-02"), ts("2026-03-04"), ts("2026-05-06"),
                                                      ts("2026-07-07")]
    # 01/02, 03/04 and 05/06 could be read either way; 07/07 could not be misread
    assert any(w.startswith("3 dates of 'Date' such as '01/02/2026'") and "read day-first" in w
               for w in day.warnings)
    assert any("read month-first (2 January 2026)" in w for w in month.warnings)
    assert "dates read day-first" in day.summary()


def test_unambiguous_day_first_file_read_day_first_has_no_complaint():
    r = ingest("pain_unambiguous_dayfirst.csv", patient_id="P1")
    assert r.accepted["recorded_at"].tolist() == [ts("2026-02-01"), ts("2026-02-13"), ts("2026-02-25")]
    assert not any("only make" in w for w in r.warnings)


def test_a_day_order_the_file_disproves_is_refused_with_the_rows_that_prove_it():
    # 13/02 and 25/02 exist only day-first, and no date of the file exists only month-first: reading 01/02 as
    # 2 January would store a wrong date without a word (issue 16, finding 4), so the whole file is refused.
    with pytest.raises(DayOrderError) as info:
        ingest("pain_unambiguous_dayfirst.csv", patient_id="P1", dayfirst=False)
    assert info.value.rows == (3, 4) and info.value.file_order == "day-first"
    assert ("'13/02/2026' (row 3, column 'Date') is not a date when read month-first, and no date of the file is "
            "only valid month-first (rows 3, 4 prove it). Read the file day-first") in str(info.value)
    # read in its own order, every row is right
    r = ingest("pain_unambiguous_dayfirst.csv", patient_id="P1")
    assert r.accepted["recorded_at"].tolist() == [ts("2026-02-01"), ts("2026-02-13"), ts("2026-02-25")]


def test_month_first_file_read_day_first_is_refused():
    raw = pd.DataFrame({"Date": ["02/13/2026", "02/01/2026"], "Pain": ["3", "4"]})
    with pytest.raises(DayOrderError, match=r"written month-first: '02/13/2026' \(row 2, column 'Date'\)") as info:
        ingest_frame(raw, patient_id="P1", today=TODAY)
    assert info.value.rows == (2,)
    assert "rehabtrack validate/upload: --month-first" in str(info.value)
    r = check(ingest_frame(raw, patient_id="P1", today=TODAY, dayfirst=False))
    assert r.accepted["recorded_at"].tolist() == [ts("2026-02-13"), ts("2026-02-01")]


def test_a_file_mixing_both_day_orders_rejects_the_dates_impossible_in_the_chosen_one():
    # 13/02 proves day-first and 02/14 proves month-first: the file disagrees with itself, so nothing proves the
    # chosen order wrong; the impossible date is rejected row by row (with the reason) and the rest read day-first.
    raw = pd.DataFrame({"Date": ["13/02/2026", "02/14/2026", "03/04/2026"], "Pain": ["3", "4", "5"]})
    r = check(ingest_frame(raw, patient_id="P1", today=TODAY))
    assert problems(r) == [(3, "recorded_at", "02/14/2026", "'02/14/2026' is not a date when dates are read "
                            "day-first (day/month/year): there is no month 14. If this file writes dates "
                            "month-first, read it month-first")]
    assert r.accepted["recorded_at"].tolist() == [ts("2026-02-13"), ts("2026-04-03")]
    assert any("only makes sense month-first: row 3 was rejected" in w for w in r.warnings)


def test_future_impossible_unparseable_and_missing_dates():
    r = ingest("pain_bad_dates.csv", patient_id="P1")
    assert problems(r) == [
        (3, "recorded_at", "2026-02-30", "'2026-02-30' is not a real date: February 2026 has no day 30"),
        (4, "recorded_at", "2027-01-15", "date '2027-01-15' is in the future (today is 2026-11-25)"),
        (5, "recorded_at", "yesterday",
         "'yesterday' is not a date that can be read; write dates like 2026-09-08 or 2026-09-08 07:30"),
        (6, "recorded_at", "", "date is missing; every row needs one"),
        (7, "recorded_at", "31/04/2026", "'31/04/2026' is not a real date: April 2026 has no day 31"),
    ]
    assert r.accepted["recorded_at"].tolist() == [ts("2026-09-08"), ts("2026-09-09 21:15")]
    assert r.accepted["nprs"].tolist() == [5, 4]


def test_ambiguous_future_date_is_reported_as_future_only():
    raw = pd.DataFrame({"Date": ["01/02/2027"], "Pain": ["3"]})
    r = check(ingest_frame(raw, patient_id="P1", today=TODAY))
    assert problems(r) == [(2, "recorded_at", "01/02/2027",
                            "date '01/02/2027' is in the future (today is 2026-11-25)")]
    assert not any("either way" in w for w in r.warnings)


def test_today_is_allowed_tomorrow_is_the_future():
    raw = pd.DataFrame({"Date": ["2026-11-25 23:59", "2026-11-26 00:00"], "Pain": ["3", "4"]})
    r = check(ingest_frame(raw, patient_id="P1", today=TODAY))
    assert r.accepted["recorded_at"].tolist() == [ts("2026-11-25 23:59")]
    assert problems(r)[0][:2] == (3, "recorded_at")


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-09-08", "2026-09-08"), ("2026-09-08 07:30", "2026-09-08 07:30"),
    ("2026-09-08T07:30:15", "2026-09-08 07:30:15"),
    ("2026/09/08", "2026-09-08"), ("08/09/2026", "2026-09-08"), ("8/9/2026 7:30", "2026-09-08 07:30"),
    ("08.09.2026", "2026-09-08"), ("08-09-2026 19:05", "2026-09-08 19:05"), ("08/09/26", "2026-09-08"),
    ("8 Sep 2026", "2026-09-08"), ("8 September 2026", "2026-09-08"), ("Sep 8, 2026", "2026-09-08"),
    ("15 Sep 2025, 07:48", "2025-09-15 07:48"), ("08/09/2026 7:30 pm", "2026-09-08 19:30"),
    ("2026-09-08T07:30:00+02:00", "2026-09-08 07:30"), ("2026-09-08T05:30:00Z", "2026-09-08 07:30"),
    ("2026-09-08T01:30:00-04:00", "2026-09-08 07:30"), ("2026-09-08T05:30:00.000Z", "2026-09-08 07:30"),
    ("  2026-09-08  ", "2026-09-08"),
])
def test_date_formats_read_day_first(text, expected):
    # offsets: the wall-clock time in the clinic's zone (Berlin is UTC+2 in September)
    raw = pd.DataFrame({"Date": [text], "Pain": ["3"]})
    r = check(ingest_frame(raw, patient_id="P1", today=TODAY, timezone="Europe/Berlin"))
    assert r.accepted["recorded_at"].tolist() == [ts(expected)], problems(r)


@pytest.mark.parametrize("text", ["2026", "2026-09", "20260908", "1.5", "0001-01-01", "1850-01-01"])
def test_partial_or_implausible_dates_are_rejected(text):
    raw = pd.DataFrame({"Date": [text], "Pain": ["3"]})
    r = check(ingest_frame(raw, patient_id="P1", today=TODAY))
    assert r.n_accepted == 0 and problems(r)[0][:3] == (2, "recorded_at", text)


def test_date_only_columns_are_normalised_to_midnight():
    raw = pd.DataFrame({"patient_id": ["P1"], "physio_id": ["ph"], "programme_start": ["2026-09-07 15:45"]})
    r = check(ingest_frame(raw, "patients", today=TODAY))
    assert r.accepted["programme_start"].tolist() == [ts("2026-09-07")]


# ---------------------------------------------------------------------------
# values


def test_bad_values_each_get_row_column_value_and_reason():
    r = ingest("sessions_bad_values.csv")
    assert problems(r) == [
        (2, "sets", "2.5", "sets must be a whole number from 0 to 20; got 2.5"),
        (3, "pain_during", "11", "pain during the exercise must be a whole number from 0 to 10; got 11"),
        (4, "side", "up", "side must be left, right or both; got 'up'"),
        (5, "reps", "-3", "repetitions must be a whole number from 0 to 200; got -3"),
        (5, "hold_s", "700", "hold time in seconds must be a number from 0 to 600; got 700"),
        (6, "exercise", "", "exercise is missing; every row needs one"),
        (7, "sets", "one", "sets must be a whole number from 0 to 20; got one"),
    ]
    assert (r.n_rows, r.n_rejected, r.n_accepted) == (7, 6, 1)  # row 5 counted once
    assert r.accepted["notes"].tolist() == ["all fine"]


def test_pain_score_above_ten_uses_plain_words():
    raw = pd.DataFrame({"Date": ["2026-09-08"], "Pain": ["11"]})
    r = check(ingest_frame(raw, patient_id="P1", today=TODAY))
    assert problems(r) == [(2, "nprs", "11", "pain must be a whole number from 0 to 10; got 11")]


def test_duplicates_inside_a_file_are_counted_once_and_conflicting_ones_rejected():
    r = ingest("sessions_duplicates.csv")
    # row 4 ("Knee to chest", "L") repeats row 2 exactly: counted once. Row 5 (07:30:00) has row 2's key
    # (patient, time, exercise, side) but 2 x 12 instead of 1 x 10: two readings of one moment, rejected.
    assert r.duplicate_rows.tolist() == [4]
    assert (r.n_rows, r.n_accepted, r.n_duplicates, r.n_rejected) == (5, 3, 1, 1)
    assert r.accepted["sets"].tolist() == [1, 1, 1]  # the first of each key is kept
    assert problems(r) == [(5, "", "", "this row has the same patient ID, date, exercise and side as row 2 but "
                            "other values (sets '2' here, '1' there; repetitions '12' here, '10' there); only row "
                            "2 was read. If both are right, give each its own time; if one is a correction, "
                            "remove the other")]
    assert r.rejected["check"].tolist() == ["duplicate"]
    assert any("1 row repeats" in w and "row 4" in w for w in r.warnings)


def test_unknown_exercises_are_kept_and_reported_with_row_counts():
    r = ingest("sessions_unknown_exercise.csv")
    assert r.accepted["exercise"].tolist() == ["Wall sit", "Wall sit", "Wall sit", "Bird dog", "bridge"]
    assert "exercise 'Wall sit' is not in the exercise list (3 rows); it was kept as written" in r.warnings
    assert "exercise 'Bird dog' is not in the exercise list (1 row); it was kept as written" in r.warnings


def test_free_text_is_kept_verbatim_and_never_evaluated():
    r = ingest("sessions_formula_notes.csv")
    assert r.accepted["notes"].tolist() == ["=1+1", '=HYPERLINK("http://x","y")', "@SUM(A1:A2)",
                                            "  two spaces  ", "NA"]


def test_patient_id_fills_the_column_and_rejects_another_patients_rows():
    r = ingest("sessions_another_patient.csv", patient_id="P001")
    assert problems(r) == [(2, "patient_id", "P002", "this row belongs to patient P002, not to you"),
                           (4, "patient_id", "P002", "this row belongs to patient P002, not to you")]
    assert r.accepted["patient_id"].tolist() == ["P001"]


def test_a_file_for_one_patient_naming_two_patients_is_refused():
    with pytest.raises(SeveralPeopleError) as info:
        ingest("sessions_other_patient.csv", patient_id="P001")
    assert (info.value.column, info.value.people) == ("patient_id", ("P001", "P002"))
    assert "column 'patient_id' has P001 (2 rows), P002 (1 row). Nothing was read." in str(info.value)


def test_blank_patient_without_patient_id_argument_is_rejected():
    r = ingest("sessions_other_patient.csv")
    assert problems(r) == [(4, "patient_id", "", "patient ID is missing; every row needs one")]
    assert r.accepted["patient_id"].tolist() == ["P001", "P002", "P001"]


def test_line_with_too_many_values_is_rejected_and_blank_line_skipped():
    r = ingest("sessions_bad_line.csv")
    assert problems(r) == [(3, "", "", "this line has 7 values but the header has 6; check for a stray comma "
                                        "or a missing quote")]
    assert (r.n_rows, r.n_accepted) == (3, 2)
    assert r.accepted["performed_at"].tolist() == [ts("2026-09-08 07:30"), ts("2026-09-08 07:32")]
    assert "1 empty line was skipped" in r.warnings


def test_prescriptions_end_before_start_is_rejected_and_open_end_kept():
    r = ingest("prescriptions.csv")
    assert r.table == "prescriptions"
    assert problems(r) == [(5, "end_date", "2026-09-14", "the end date is before the start date")]
    assert r.accepted["exercise"].tolist() == ["knee_to_chest", "knee_to_chest", "hamstring_stretch"]
    assert r.accepted["end_date"].isna().tolist() == [False, False, True]
    assert r.accepted["sessions_per_week"].tolist() == [5, 5, 5]


def test_patients_age_bands_and_planned_start_dates():
    r = ingest("patients.csv")
    assert r.table == "patients"
    assert problems(r) == [(4, "age_band", "90-99",
                            "age band must be 18-29, 30-39, 40-49, 50-59, 60-69, 70-79 or 80+; got '90-99'")]
    assert r.accepted["age_band"].tolist() == ["40-49", "80+"]
    # a programme that starts after today is a plan, not an error
    assert r.accepted["programme_start"].tolist() == [ts("2026-09-07"), ts("2027-03-01")]


def test_proms_instrument_names_and_value_range():
    r = ingest("proms.csv")
    assert r.table == "proms"
    assert problems(r) == [
        (5, "instrument", "SF-36", "questionnaire must be odi, rmdq, psfs, startback, nprs or vas; got 'SF-36'"),
        (6, "value", "120", "value must be a number from 0 to 100; got 120"),
    ]
    assert r.accepted["instrument"].tolist() == ["odi", "odi", "rmdq"]
    assert r.accepted["value"].tolist() == [32.0, 20.0, 9.0]


@pytest.mark.parametrize(("name", "table", "patient_id"), [
    ("sessions_canonical.csv", "sessions", None), ("sessions_messy_headers.csv", "sessions", "P1"),
    ("pain_diary.csv", "pain", "P1"), ("prescriptions.csv", "prescriptions", None),
    ("patients.csv", "patients", None), ("proms.csv", "proms", None),
])
def test_table_is_detected_from_the_columns(name, table, patient_id):
    assert ingest(name, patient_id=patient_id).table == table


def test_explicit_table_overrides_detection():
    r = ingest("sessions_canonical.csv", table="sessions")
    assert r.n_accepted == 4
    with pytest.raises(MissingColumnsError) as err:
        ingest("sessions_canonical.csv", table="pain")
    assert err.value.missing == ("recorded_at", "nprs")


# ---------------------------------------------------------------------------
# JSON and Excel


def test_json_array_of_records():
    r = ingest("sessions.json")
    assert (r.format, r.table, r.encoding, r.n_rows) == ("json", "sessions", "utf-8", 3)
    assert problems(r) == [(2, "pain_during", "11",
                            "pain during the exercise must be a whole number from 0 to 10; got 11")]
    assert r.accepted["side"].tolist() == ["left", "both"]  # "L"; a record without "side" -> both
    assert r.accepted["notes"].iloc[0] == "=1+1"
    assert r.accepted["hold_s"].iloc[0] == 5.0 and math.isnan(r.accepted["hold_s"].iloc[1])


def test_json_object_named_after_a_table_and_a_record_that_is_not_an_object():
    r = ingest("pain_by_table.json", patient_id="P1")
    assert r.table == "pain"
    assert r.header_mapping == {"date": "recorded_at", "pain": "nprs", "flare": "flare", "notes": "notes"}
    assert problems(r) == [(3, "", "", 'this record is not a set of named values like {"date": "2026-09-08"}')]
    assert r.accepted["flare"].tolist() == [False, True]


def test_json_with_several_tables_needs_a_choice():
    data = json.dumps({"pain": [{"date": "2026-09-08", "pain": 3}],
                       "sessions": [{"date": "2026-09-08"}]}).encode()
    with pytest.raises(UnreadableFileError, match="several lists"):
        ingest_file(data, filename="both.json", patient_id="P1", today=TODAY)
    r = check(ingest_file(data, filename="both.json", table="pain", patient_id="P1", today=TODAY))
    assert r.accepted["nprs"].tolist() == [3]


def test_xlsx_workbook(tmp_path):
    path = _load_make_xlsx().build_workbook(tmp_path / "log.xlsx")
    for source, kwargs in ((path, {}), (path.read_bytes(), {"filename": "log.xlsx"})):
        r = check(ingest_file(source, today=TODAY, **kwargs))
        assert (r.format, r.table, r.source) == ("xlsx", "sessions", "log.xlsx")
        assert r.n_rows == 4  # sheet rows 2, 3, 5, 6; row 4 is empty
        assert problems(r) == [(6, "sets", "2.5", "sets must be a whole number from 0 to 20; got 2.5")]
        a = r.accepted
        assert a["performed_at"].tolist() == [ts("2026-09-08 07:30"), ts("2026-09-08 07:31"), ts("2026-09-09 07:30")]
        assert a["notes"].iloc[0] == "=1+1" and a["notes"].iloc[2] == "café"
        assert a["hold_s"].tolist() == [5.0, 5.5, 0.0]
        assert a["side"].tolist() == ["left", "right", "both"]


def test_upload_without_a_name():
    data = (FIXTURES / "sessions_canonical.csv").read_bytes()
    r = check(ingest_file(data, today=TODAY))
    assert r.source == "<upload>" and r.n_accepted == 4


# ---------------------------------------------------------------------------
# files that are not tables


def test_missing_columns_error_names_them_and_the_file():
    with pytest.raises(MissingColumnsError) as err:
        ingest("sessions_missing_columns.csv")
    assert err.value.table == "sessions"
    assert err.value.missing == ("sets", "reps")
    assert "sessions_missing_columns.csv" in str(err.value) and "sets, reps" in str(err.value)


def test_patient_file_without_patient_id_needs_the_argument():
    with pytest.raises(MissingColumnsError) as err:
        ingest("sessions_messy_headers.csv")
    assert err.value.missing == ("patient_id",)


@pytest.mark.parametrize(("data", "name", "error", "message"), [
    (b"", "empty.csv", UnreadableFileError, "the file is empty"),
    (b"  \n\n \r\n", "blank.csv", UnreadableFileError, "the file is empty"),
    ((FIXTURES / "header_only.csv").read_bytes(), "header_only.csv", UnreadableFileError,
     "the file has column names but no rows of data"),
    (random.Random(0).randbytes(4096), "noise.csv", UnreadableFileError, "does not look like a table"),
    (b"PK\x03\x04" + random.Random(1).randbytes(500), "log.xlsx", UnreadableFileError, "Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0" + bytes(100), "log.xls", UnreadableFileError, "old-style Excel"),
    (b'[{"date": ', "log.json", UnreadableFileError, "not valid JSON"),
    (b"foo,bar\n1,2\n", "foo.csv", UnknownTableError, "could not tell what kind of log"),
    (b'patient_id,performed_at\nP1,"2026-09-08\n', "quote.csv", UnreadableFileError, "unclosed quote"),
])
def test_files_that_are_not_tables_raise_one_typed_error(data, name, error, message):
    with pytest.raises(error, match=message) as err:
        ingest_file(data, filename=name, today=TODAY)
    assert str(err.value).startswith(name + ": ")


def test_empty_file_on_disk_and_missing_path(tmp_path):
    with pytest.raises(UnreadableFileError, match="the file is empty"):
        ingest("empty.csv")
    with pytest.raises(UnreadableFileError, match="does not exist"):
        ingest_file(tmp_path / "nope.csv")


def test_unknown_table_name():
    with pytest.raises(UnknownTableError, match="no table called 'workouts'"):
        ingest("sessions_canonical.csv", table="workouts")


def test_detect_table_picks_the_closest_table_for_the_error():
    with pytest.raises(MissingColumnsError) as err:
        detect_table(["Date", "Pain"])
    assert (err.value.table, err.value.missing) == ("pain", ("patient_id",))


# ---------------------------------------------------------------------------
# ingest_frame and read_raw


def test_read_raw_returns_text_and_how_the_file_was_read():
    frame, info = read_raw(FIXTURES / "sessions_semicolon.csv")
    assert list(frame.columns) == ["Patient", "Date", "Exercise", "Side", "Sets", "Reps", "Hold (s)", "Pain"]
    assert frame["Hold (s)"].tolist() == ["2,5", "7.5", "0,5"]
    assert frame["Sets"].tolist() == ["1", "1", "2"]  # text, not numbers
    assert (info.format, info.delimiter, info.encoding) == ("csv", ";", "utf-8")
    assert info.row_numbers.tolist() == [2, 3, 4]


def test_ingest_frame_of_read_raw_output_matches_ingest_file():
    frame, info = read_raw(FIXTURES / "sessions_bad_values.csv")
    via_frame = check(ingest_frame(frame, today=TODAY, row_numbers=info.row_numbers))
    via_file = ingest("sessions_bad_values.csv")
    pd.testing.assert_frame_equal(via_frame.accepted, via_file.accepted)
    pd.testing.assert_frame_equal(via_frame.rejected, via_file.rejected)
    assert via_frame.format == "frame"


def test_ingest_frame_accepts_typed_cells_and_numbers_rows_from_two():
    raw = pd.DataFrame({"patient_id": ["P1", "P1"], "performed_at": [datetime(2026, 9, 8, 7, 30), None],
                        "exercise": ["bridge", "bridge"], "side": ["both", "both"], "sets": [1, 2],
                        "reps": [10.0, 12.5]})
    r = check(ingest_frame(raw, today=TODAY))
    assert problems(r) == [(3, "performed_at", "", "date is missing; every row needs one"),
                           (3, "reps", "12.5", "repetitions must be a whole number from 0 to 200; got 12.5")]
    assert r.accepted["performed_at"].tolist() == [ts("2026-09-08 07:30")]


def test_summary_mentions_counts_rejections_and_warnings():
    text = ingest("sessions_bad_values.csv").summary()
    assert "7 rows: 1 accepted, 6 rejected, 0 duplicates" in text
    assert "row 4, side: side must be left, right or both; got 'up'" in text


# ---------------------------------------------------------------------------
# property tests

HEADERS = sorted({c for spec in TABLES.values() for c in spec.column_names}
                 | {"Date", "Pain", "Side", "Exercise Name", "Hold (s)", "Reps", "junk", ""})


@given(data=st.binary(max_size=600), name=st.sampled_from([None, "x.csv", "x.json", "x.xlsx", "x.txt"]))
@hsettings(suppress_health_check=[HealthCheck.too_slow])
def test_random_bytes_raise_only_ingest_errors(data, name):
    try:
        result = ingest_file(data, filename=name, today=TODAY)
    except IngestError:
        return
    check(result)


cells = st.one_of(st.none(), st.text(max_size=12),
                  st.sampled_from(["2026-09-08", "08/09/2026", "13/13/2026", "L", "both", "3", "2,5", "-1", "yes"]))


@st.composite
def text_tables(draw):
    headers = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=8, unique=True))
    n = draw(st.integers(0, 6))
    return pd.DataFrame({h: draw(st.lists(cells, min_size=n, max_size=n)) for h in headers}, dtype=object)


@given(raw=text_tables(), table=st.sampled_from([None, *TABLES]), patient=st.sampled_from([None, "P001"]),
       dayfirst=st.booleans())
@hsettings(suppress_health_check=[HealthCheck.too_slow])
def test_random_text_tables_conserve_rows(raw, table, patient, dayfirst):
    try:
        result = ingest_frame(raw, table, patient_id=patient, dayfirst=dayfirst, today=TODAY)
    except IngestError:
        return
    check(result)
    assert set(result.rejected["row"]).isdisjoint(set(result.duplicate_rows.tolist()))


valid_session = st.fixed_dictionaries({
    "patient_id": st.sampled_from(["P001", "P002", "P1O"]),
    "performed_at": st.datetimes(datetime(2024, 1, 1), datetime(2026, 11, 25, 23, 59)).map(
        lambda d: d.replace(second=0, microsecond=0)),
    "exercise": st.sampled_from(["knee_to_chest", "bridge", "cat_cow"]),
    "side": st.sampled_from(["left", "right", "both"]),
    "sets": st.integers(0, 20), "reps": st.integers(0, 200),
    "hold_s": st.one_of(st.none(), st.sampled_from([0.0, 2.5, 5.0, 600.0])),
    "notes": st.one_of(st.none(), st.text(alphabet=string.ascii_letters + " ;,|=\"'é", min_size=1, max_size=10)
                       .filter(lambda s: s.strip() == s and s.strip() != "" and s.lower() not in ("na", "nan"))),
})


@given(rows=st.lists(valid_session, min_size=1, max_size=15), delimiter=st.sampled_from([",", ";", "\t", "|"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
@hsettings(suppress_health_check=[HealthCheck.too_slow])
def test_valid_rows_written_any_way_come_back_unchanged(rows, delimiter, encoding):
    frame = pd.DataFrame(rows)
    buffer = io.StringIO()
    frame.to_csv(buffer, sep=delimiter, index=False, date_format="%Y-%m-%d %H:%M")
    result = check(ingest_file(buffer.getvalue().encode(encoding), filename="s.csv", today=TODAY))
    key = ["patient_id", "performed_at", "exercise", "side"]
    expected = frame.drop_duplicates(key).reset_index(drop=True)
    # a later row with an earlier row's key: a repeat when every value is the same, else rejected
    first: dict[tuple, tuple] = {}
    repeats = conflicts = 0
    for rec in rows:
        k, values = tuple(rec[c] for c in key), tuple(rec[c] for c in ("sets", "reps", "hold_s", "notes"))
        if k not in first:
            first[k] = values
        elif first[k] == values:
            repeats += 1
        else:
            conflicts += 1
    assert result.n_rejected == conflicts
    assert set(result.rejected["check"]) <= {"duplicate"}
    assert result.n_duplicates == repeats
    got = result.accepted
    assert got["patient_id"].tolist() == expected["patient_id"].tolist()
    assert got["performed_at"].tolist() == [pd.Timestamp(t) for t in expected["performed_at"]]
    assert got["sets"].tolist() == expected["sets"].tolist()
    assert got["reps"].tolist() == expected["reps"].tolist()
    assert [None if pd.isna(v) else v for v in got["hold_s"]] == [None if pd.isna(v) else v
                                                                   for v in expected["hold_s"]]
    assert [None if pd.isna(v) else v for v in got["notes"]] == [None if pd.isna(v) else v
                                                                  for v in expected["notes"]]


def test_short_rows_are_rejected_with_their_row_number_like_long_rows():
    # issue 16, finding 5: a row with 5 of 7 values was read with its last two cells empty, without a word
    text = ("patient_id,recorded_at,nprs,location,flare,notes,source\n"
            "P1,2026-09-01 20:00,3,back,no,ok,app\n"
            "P1,2026-09-02 20:00,4,back,no\n"                      # row 3: 5 values
            'P1,2026-09-03 20:00,5,back,no,"two\nlines",app\n'     # row 4: a quoted cell over two lines
            "P1,2026-09-04 20:00,5,back,no,,\n"                    # row 5: 7 values, two of them empty
            "P1,2026-09-05 20:00,5,back,no,,,,\n")                 # row 6: 9 values
    r = check(ingest_file(text.encode(), filename="diary.csv", today=TODAY))
    assert r.accepted["recorded_at"].dt.day.tolist() == [1, 3, 4]
    assert r.rejected[["row", "column", "check"]].values.tolist() == [[3, "", "malformed"], [6, "", "malformed"]]
    assert r.rejected["reason"].iloc[0] == ("this line has 5 values but the header has 7; a value or a comma is "
                                            "missing (rows with too few values are not guessed at)")
    assert r.rejected["reason"].iloc[1].startswith("this line has 9 values but the header has 7")
