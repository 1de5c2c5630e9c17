"""In-app entries: checklist of the day, session rows, pain row, allowed days. Expected values by hand."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.entries import (
    MAX_DAYS_BACK,
    EntryError,
    FutureEntryError,
    TooOldEntryError,
    check_entry_day,
    pain_during_advice,
    pain_row,
    session_rows_from_checklist,
    todays_checklist,
)
from analysis.schema import TABLES, pandera_schema

TODAY = date(2026, 11, 20)


def rx_frame() -> pd.DataFrame:
    rows = [
        # knee-to-chest left: dose raised on 2026-11-10 without closing the first row
        ("P1", "knee_to_chest", "left", 1, 10, 5.0, 5, "2026-11-01", None),
        ("P1", "knee_to_chest", "left", 2, 10, 5.0, 5, "2026-11-10", None),
        ("P1", "hamstring_stretch", "both", 1, 3, 20.0, 5, "2026-11-01", "2026-11-15"),  # ended
        ("P1", "pelvic_tilt", "both", 1, 8, 5.0, 3, "2026-11-25", None),  # starts later
        ("P1", "knee_to_chest", "right", 1, 10, 5.0, 5, "2026-11-01", None),
        ("P2", "bridge", "both", 1, 10, 0.0, 3, "2026-11-01", None),  # another patient
    ]
    f = pd.DataFrame(rows, columns=["patient_id", "exercise", "side", "sets", "reps", "hold_s",
                                    "sessions_per_week", "start_date", "end_date"])
    f["start_date"] = pd.to_datetime(f["start_date"])
    f["end_date"] = pd.to_datetime(f["end_date"])
    return f


def test_checklist_has_the_active_rows_with_the_latest_dose():
    c = todays_checklist(rx_frame(), "P1", "2026-11-20")
    # active on 20 Nov: knee-to-chest left (2 sets, the later period) and right; hamstring ended 15 Nov,
    # pelvic tilt starts 25 Nov, bridge is P2's
    assert list(zip(c["exercise"], c["side"], c["sets"], strict=True)) == [
        ("knee_to_chest", "left", 2), ("knee_to_chest", "right", 1)]
    assert c["label"].iloc[0] == "Knee-to-chest stretch"
    assert c["instruction"].str.endswith("stop if it hurts.").all()
    assert list(c.columns) == ["exercise", "side", "label", "instruction", "sets", "reps", "hold_s",
                               "sessions_per_week"]
    # on 12 Nov the hamstring stretch is still active (end_date inclusive on 15 Nov)
    assert "hamstring_stretch" in set(todays_checklist(rx_frame(), "P1", "2026-11-15")["exercise"])
    assert todays_checklist(rx_frame(), "P9", "2026-11-20").empty


def checked(done=(True, True), sets=(2, 1), reps=(10, 10), hold=(5.0, 5.0)) -> pd.DataFrame:
    c = todays_checklist(rx_frame(), "P1", "2026-11-20")
    return c.assign(done=list(done), sets=list(sets), reps=list(reps), hold_s=list(hold))


def test_session_rows_are_canonical_and_for_the_patient_only():
    rows = session_rows_from_checklist("P1", date(2026, 11, 19), checked(sets=(1, 1), reps=(8, 10)),
                                       today=TODAY, pain_during=3, notes="  stiff  ")
    pandera_schema("sessions").validate(rows, lazy=True)  # canonical columns, dtypes and ranges
    assert rows["patient_id"].tolist() == ["P1", "P1"]
    assert rows["performed_at"].tolist() == [pd.Timestamp("2026-11-19")] * 2  # midnight = the day
    assert rows["sets"].tolist() == [1, 1]  # did less than the 2 prescribed
    assert rows["reps"].tolist() == [8, 10]
    assert rows["pain_during"].tolist() == [3, 3]
    assert rows["notes"].tolist() == ["stiff", "stiff"]


def test_unticked_rows_are_left_out_unless_they_undo_an_earlier_entry():
    rows = session_rows_from_checklist("P1", TODAY, checked(done=(True, False)), today=TODAY)
    assert rows["side"].tolist() == ["left"]
    existing = rows.copy()
    existing.loc[0, "side"] = "right"  # right was logged before and is now unticked
    again = session_rows_from_checklist("P1", TODAY, checked(done=(True, False)), today=TODAY, existing=existing)
    assert again["side"].tolist() == ["left", "right"]
    assert again["sets"].tolist() == [2, 0] and again["reps"].tolist() == [10, 0]
    assert np.isnan(again["hold_s"].iloc[1])


def test_an_entry_for_a_day_with_an_uploaded_timed_session_edits_that_row():
    # an uploaded log has knee-to-chest (left) at 07:30 and 18:00 that day: the entry takes the earliest time,
    # so the store sees the same key (an edit), not a second session
    existing = session_rows_from_checklist("P1", TODAY, checked(done=(True, False)), today=TODAY)
    existing = pd.concat([existing.assign(performed_at=pd.Timestamp("2026-11-20 18:00")),
                          existing.assign(performed_at=pd.Timestamp("2026-11-20 07:30"))], ignore_index=True)
    rows = session_rows_from_checklist("P1", TODAY, checked(), today=TODAY, existing=existing)
    assert rows["performed_at"].tolist() == [pd.Timestamp("2026-11-20 07:30"), pd.Timestamp("2026-11-20")]
    # another day's rows change nothing
    other = existing.assign(performed_at=pd.Timestamp("2026-11-19 07:30"))
    rows = session_rows_from_checklist("P1", TODAY, checked(), today=TODAY, existing=other)
    assert rows["performed_at"].tolist() == [pd.Timestamp("2026-11-20")] * 2


def test_nothing_ticked_is_refused():
    with pytest.raises(EntryError, match="Tick at least one"):
        session_rows_from_checklist("P1", TODAY, checked(done=(False, False)), today=TODAY)


@pytest.mark.parametrize(("kw", "match"), [
    ({"sets": (21, 1)}, "Knee-to-chest stretch \\(left\\): 21 sets"),  # sets 0-20
    ({"reps": (10, 201)}, "\\(right\\): 201 repetitions"),  # reps 0-200
    ({"reps": (2.5, 10)}, "whole number"),
    ({"hold": (601.0, 5.0)}, "hold of 601 seconds"),  # hold 0-600 s
    ({"sets": (0, 1)}, "0 sets or 0 repetitions"),  # ticked but nothing done
])
def test_counts_out_of_range_are_refused_with_the_exercise_named(kw, match):
    with pytest.raises(EntryError, match=match):
        session_rows_from_checklist("P1", TODAY, checked(**kw), today=TODAY)


def test_pain_during_out_of_range_is_refused():
    with pytest.raises(EntryError, match="0 \\(no pain\\) to 10"):
        session_rows_from_checklist("P1", TODAY, checked(), today=TODAY, pain_during=11)


def test_future_and_too_old_days_are_refused():
    with pytest.raises(FutureEntryError, match="in the future"):
        check_entry_day(TODAY + timedelta(days=1), today=TODAY)
    with pytest.raises(FutureEntryError):
        session_rows_from_checklist("P1", "2026-11-21", checked(), today=TODAY)
    # 7 days back is the limit: 13 Nov allowed, 12 Nov refused
    assert check_entry_day(date(2026, 11, 13), today=TODAY) == pd.Timestamp("2026-11-13")
    with pytest.raises(TooOldEntryError, match="more than 7 days ago"):
        check_entry_day(date(2026, 11, 12), today=TODAY)
    assert check_entry_day("2026-11-01", today=TODAY, max_days_back=30) == pd.Timestamp("2026-11-01")
    assert MAX_DAYS_BACK == 7


@given(st.integers(min_value=-20, max_value=20))
def test_allowed_days_are_exactly_today_back_to_the_limit(offset):
    day = TODAY - timedelta(days=offset)
    allowed = 0 <= offset <= MAX_DAYS_BACK
    try:
        check_entry_day(day, today=TODAY)
        ok = True
    except EntryError:
        ok = False
    assert ok == allowed


def test_pain_row():
    row = pain_row("P1", TODAY, 6, today=TODAY, location="leg", flare=True, notes="after gardening")
    pandera_schema("pain").validate(row, lazy=True)
    assert row.iloc[0].to_dict() == {"patient_id": "P1", "recorded_at": pd.Timestamp("2026-11-20"), "nprs": 6,
                                     "location": "leg", "flare": True, "notes": "after gardening"}
    assert list(row.columns) == TABLES["pain"].column_names
    with pytest.raises(EntryError, match="whole number"):
        pain_row("P1", TODAY, 10.5, today=TODAY)
    with pytest.raises(EntryError, match="Choose your pain score"):
        pain_row("P1", TODAY, None, today=TODAY)  # type: ignore[arg-type]
    with pytest.raises(EntryError, match="back, leg, both"):
        pain_row("P1", TODAY, 3, today=TODAY, location="neck")
    with pytest.raises(FutureEntryError):
        pain_row("P1", "2026-11-21", 3, today=TODAY)


def test_a_pain_entry_for_a_day_with_a_rating_edits_the_latest_one():
    existing = pd.DataFrame({"patient_id": ["P1", "P1", "P1"],
                             "recorded_at": pd.to_datetime(["2026-11-20 08:00", "2026-11-20 20:00",
                                                            "2026-11-21 09:00"])})
    row = pain_row("P1", TODAY, 4, today=TODAY, existing=existing)
    assert row["recorded_at"].tolist() == [pd.Timestamp("2026-11-20 20:00")]
    row = pain_row("P1", "2026-11-19", 4, today=TODAY, existing=existing)
    assert row["recorded_at"].tolist() == [pd.Timestamp("2026-11-19")]


def test_pain_during_advice_only_above_five():
    # Silbernagel 2007: 0-3 safe, 4-5 acceptable, > 5 too much
    assert pain_during_advice(5) is None
    assert pain_during_advice(None) is None
    assert "talk to your physio" in pain_during_advice(6)
