"""Times of day, time zones and several people in one file (issue 16; issue 15, finding 4).

Every case is a small file written here, reproducing what real files did: a diary
with separate ``Date`` and ``Time`` columns, a rating timed exactly 00:00, FHIR-style
times with UTC offsets (including the hour repeated when the clocks go back), a
session log with an ``Athlete`` column naming four people, and rows with too few
values. Expected values are worked out by hand in the comments (offsets from the
IANA rules: Europe/Berlin is UTC+2 until 03:00 on 25 October 2026, then UTC+1;
Europe/London is UTC+1 in September).
"""

from __future__ import annotations

from datetime import date, datetime

import openpyxl
import pandas as pd
import pytest

from analysis.errors import MissingColumnsError, SeveralPeopleError
from analysis.ingest import ingest_file
from analysis.tables import IngestResult, ingest_frame
from analysis.validation import REJECTED_COLUMNS

TODAY = date(2026, 11, 25)


def read(text: str, **options: object) -> IngestResult:
    options.setdefault("today", TODAY)
    result = ingest_file(text.encode("utf-8"), filename="log.csv", **options)  # type: ignore[arg-type]
    assert result.n_accepted + result.n_rejected + result.n_duplicates == result.n_rows
    assert list(result.rejected.columns) == list(REJECTED_COLUMNS)
    assert len(result.row_info) == result.n_accepted
    return result


def times(result: IngestResult, column: str = "recorded_at") -> list[str]:
    return [t.strftime("%Y-%m-%d %H:%M") for t in result.accepted[column]]


# ---------------------------------------------------------------------------
# date and time in two columns (finding 2)


def test_separate_date_and_time_columns_are_combined_not_ignored():
    # the diary of finding 1: pain 3 at 08:00 and 6 at 20:00 were one midnight row (the 6 was lost)
    r = read("Date,Time,Pain\n08/09/2026,08:00,3\n08/09/2026,20:00,6\n", patient_id="P1")
    assert times(r) == ["2026-09-08 08:00", "2026-09-08 20:00"]
    assert r.accepted["nprs"].tolist() == [3, 6]
    assert r.header_mapping == {"Date": "recorded_at", "Time": "recorded_at", "Pain": "nprs"}
    assert any(w.startswith("columns 'Date' and 'Time' were read together") for w in r.warnings)
    assert not any("was not read" in w for w in r.warnings)
    assert r.row_info["time_written"].tolist() == [True, True]


def test_times_as_people_write_them_and_an_empty_time_is_a_day_without_a_time():
    text = ("Time,Date,Pain\n7.30 pm,08/09/2026,4\n07:05:30,09/09/2026,3\n,10/09/2026,2\n8 am,11/09/2026,1\n"
            "morning,12/09/2026,5\n")
    r = read(text, patient_id="P1")  # the time column first: it is told apart by its values
    assert [t.strftime("%Y-%m-%d %H:%M:%S") for t in r.accepted["recorded_at"]] == [
        "2026-09-08 19:30:00", "2026-09-09 07:05:30", "2026-09-10 00:00:00", "2026-09-11 08:00:00"]
    assert r.row_info["time_written"].tolist() == [True, True, False, True]
    assert r.rejected[["row", "column", "check", "value"]].values.tolist() == [
        [6, "recorded_at", "time", "12/09/2026 morning"]]
    assert r.rejected["reason"].iloc[0] == ("the time 'morning' (column 'Time') is not a clock time; write it like "
                                            "07:30 or 7:30 pm")


def test_date_and_time_columns_follow_the_day_order_chosen():
    text = "Date,Time,Pain\n09/08/2026,07:30,4\n09/13/2026,07:30,3\n"
    r = read(text, patient_id="P1", dayfirst=False)  # month first: 8 and 13 September
    assert times(r) == ["2026-09-08 07:30", "2026-09-13 07:30"]


def test_a_date_with_its_own_time_and_a_different_time_column_is_rejected():
    r = read("Date,Time,Pain\n2026-09-08 07:30,07:30,4\n2026-09-09 07:30,08:00,3\n", patient_id="P1")
    assert times(r) == ["2026-09-08 07:30"]
    assert r.rejected["check"].tolist() == ["time"]
    assert "has its own time, and column 'Time' says '08:00'" in r.rejected["reason"].iloc[0]


def test_a_sessions_log_with_date_and_time_keeps_morning_and_evening_sessions():
    text = ("Date,Time,Exercise,Side,Sets,Reps\n08/09/2026,07:00,bridge,both,1,10\n"
            "08/09/2026,18:00,bridge,both,2,10\n")
    r = read(text, patient_id="P1")
    assert times(r, "performed_at") == ["2026-09-08 07:00", "2026-09-08 18:00"]
    assert r.accepted["sets"].tolist() == [1, 2] and r.n_duplicates == 0


# ---------------------------------------------------------------------------
# a timed 00:00 row is a timed row (finding 8)


def test_midnight_written_as_a_time_is_marked_timed_and_a_date_alone_is_not():
    r = read("Date,Pain\n2026-09-08 00:00,4\n2026-09-09,5\n08/09/2026 00:00,4\n", patient_id="P1")
    assert times(r) == ["2026-09-08 00:00", "2026-09-09 00:00"]  # row 4 repeats row 2 exactly
    assert r.row_info[["row", "time_written"]].values.tolist() == [[2, True], [3, False]]


def test_an_excel_date_cell_reads_as_a_day_and_a_timed_cell_as_a_time(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Date", "Pain"])
    sheet.append([datetime(2026, 9, 8), 4])  # a date cell: the day, no time
    sheet.append([datetime(2026, 9, 9, 7, 30), 3])
    path = tmp_path / "diary.xlsx"
    book.save(path)
    r = ingest_file(path, patient_id="P1", today=TODAY)
    assert times(r) == ["2026-09-08 00:00", "2026-09-09 07:30"]
    assert r.row_info["time_written"].tolist() == [False, True]


# ---------------------------------------------------------------------------
# time zones and the repeated hour (issue 15, finding 4)


def test_an_offset_becomes_the_wall_clock_time_of_the_clinic_and_the_day_stays_the_day():
    text = "Date,Pain\n2026-09-08T00:30:00+02:00,4\n2026-09-08T22:30:00Z,5\n"
    berlin = read(text, patient_id="P1", timezone="Europe/Berlin")
    # 00:30+02:00 is 00:30 in Berlin (not 22:30 the day before, as UTC would make it); 22:30Z is 00:30 the next day
    assert times(berlin) == ["2026-09-08 00:30", "2026-09-09 00:30"]
    london = read(text, patient_id="P1", timezone="Europe/London")
    assert times(london) == ["2026-09-07 23:30", "2026-09-08 23:30"]  # BST = UTC+1
    assert any("2 times of 'Date' were written with a UTC offset" in w and "Europe/London" in w
               for w in london.warnings)


def test_two_ratings_in_the_repeated_hour_stay_two_rows():
    # 25 October 2026, Berlin: 02:30 happens twice, first at UTC+2 (= 00:30Z), then at UTC+1 (= 01:30Z)
    text = "Date,Pain\n2026-10-25T02:30:00+02:00,7\n2026-10-25T02:30:00+01:00,3\n"
    r = read(text, patient_id="P1", timezone="Europe/Berlin")
    assert times(r) == ["2026-10-25 02:30", "2026-10-25 02:30"]
    assert r.accepted["nprs"].tolist() == [7, 3]
    assert r.row_info["fold"].tolist() == [0, 1]
    assert (r.n_duplicates, r.n_rejected) == (0, 0)
    assert any("repeated when the clocks go back in Europe/Berlin" in w and "kept as separate rows" in w
               for w in r.warnings)
    # the same instants written in UTC are the same two rows
    utc = read("Date,Pain\n2026-10-25T00:30:00Z,7\n2026-10-25T01:30:00Z,3\n", patient_id="P1",
               timezone="Europe/Berlin")
    assert times(utc) == times(r) and utc.row_info["fold"].tolist() == [0, 1]


def test_the_same_instant_twice_is_still_one_row():
    r = read("Date,Pain\n2026-10-25T02:30:00+01:00,3\n2026-10-25T01:30:00Z,3\n", patient_id="P1",
             timezone="Europe/Berlin")
    assert r.n_accepted == 1 and r.n_duplicates == 1


def test_times_without_an_offset_are_kept_as_written():
    r = read("Date,Pain\n2026-10-25 02:30,7\n", patient_id="P1", timezone="America/New_York")
    assert times(r) == ["2026-10-25 02:30"] and r.row_info["fold"].tolist() == [0]
    assert not any("UTC offset" in w for w in r.warnings)


# ---------------------------------------------------------------------------
# several people in one file (finding 3)

SESSION_LOG = (
    "Date,Time,Athlete,Exercise,Sets,Reps,Pain Score\n"
    "08/09/2026,07:00,Anna,bridge,1,10,2\n"
    "08/09/2026,07:00,Ben,bridge,1,12,3\n"
    "08/09/2026,07:10,Chris,bridge,2,10,1\n"
    "09/09/2026,07:00,Anna,bridge,1,10,2\n"
    "09/09/2026,07:05,Dana,bridge,1,8,4\n"
)


def test_a_file_of_four_people_is_refused_for_one_patient_naming_the_column_and_the_people():
    with pytest.raises(SeveralPeopleError) as info:
        read(SESSION_LOG, patient_id="P1")
    assert info.value.column == "Athlete"
    assert info.value.people == ("Anna", "Ben", "Chris", "Dana")
    assert ("this file holds the logs of 4 people: column 'Athlete' has Anna (2 rows), Ben (1 row), Chris (1 row), "
            "Dana (1 row). Nothing was read.") in str(info.value)


def test_a_physio_maps_each_person_to_a_patient():
    people = {"Anna": "P011", "Ben": "P012", "Chris": "P013", "Dana": "P014"}
    r = read(SESSION_LOG, people=people)
    assert r.accepted["patient_id"].tolist() == ["P011", "P012", "P013", "P011", "P014"]
    assert r.accepted["pain_during"].tolist() == [2, 3, 1, 2, 4]
    assert any("column 'Athlete' names 4 people" in w and "Anna -> P011" in w for w in r.warnings)


def test_a_person_without_a_patient_refuses_the_file():
    with pytest.raises(SeveralPeopleError, match="no patient was chosen for Chris, Dana") as info:
        read(SESSION_LOG, people={"Anna": "P011", "Ben": "P012"})
    assert info.value.unmapped == ("Chris", "Dana")


def test_without_a_patient_the_person_column_says_how_to_map_it():
    with pytest.raises(SeveralPeopleError, match=r"column 'Athlete' names 4 people.*--person 'NAME=PATIENT_ID'"):
        read(SESSION_LOG)


def test_one_person_in_a_file_for_one_patient_is_that_patient():
    r = read("Date,Athlete,Pain\n08/09/2026,Anna,3\n09/09/2026,Anna,4\n", patient_id="P1")
    assert r.accepted["patient_id"].tolist() == ["P1", "P1"]


def test_a_name_column_read_as_the_exercise_is_not_a_person():
    r = read("Date,Name,Sets,Reps\n08/09/2026,bridge,1,10\n08/09/2026,cat_cow,1,10\n", patient_id="P1")
    assert r.accepted["exercise"].tolist() == ["bridge", "cat_cow"]


def test_a_patient_id_column_without_patient_names_no_people_and_fails_as_before():
    with pytest.raises(MissingColumnsError):
        read("Date,Pain\n08/09/2026,3\n")


def test_a_frame_with_two_subjects_for_one_patient_is_refused():
    raw = pd.DataFrame({"patient_id": ["P001", "P002"], "recorded_at": ["2026-09-08", "2026-09-09"], "nprs": [3, 4]})
    with pytest.raises(SeveralPeopleError, match="column 'patient_id' has P001"):
        ingest_frame(raw, patient_id="P001", today=TODAY)
