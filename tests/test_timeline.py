"""Programme time: day 0 is the programme start, week = day // 7 + 1."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import IngestError
from analysis.timeline import add_programme_time, check_registry, patient_codes, resolve_as_of

PATIENTS = pd.DataFrame(
    {"patient_id": ["A", "B"], "physio_id": ["p", "p"],
     "programme_start": pd.to_datetime(["2026-09-07", "2026-09-10"])}
)


def test_days_and_weeks_by_hand() -> None:
    rows = pd.DataFrame(
        {
            "patient_id": ["A", "A", "A", "B", "B", "C"],
            # A: 7 Sep = day 0 (week 1); 13 Sep 23:59 = day 6 (week 1); 14 Sep = day 7 (week 2)
            # B: 9 Sep = day -1 (week 0, before the start); 24 Sep = day 14 (week 3); C is unknown
            "at": pd.to_datetime(["2026-09-07 08:00", "2026-09-13 23:59", "2026-09-14 00:00",
                                  "2026-09-09 12:00", "2026-09-24 07:00", "2026-09-08 00:00"]),
        }
    )
    out = add_programme_time(rows, PATIENTS, "at")
    assert out["day"].tolist()[:5] == [0, 6, 7, -1, 14]
    assert out["week"].tolist()[:5] == [1, 1, 2, 0, 3]
    assert out["day"].isna().tolist() == [False] * 5 + [True]


def test_categorical_ids_give_the_same_codes_as_strings() -> None:
    ids = pd.Series(["B", "A", None, "C", "A"], dtype="string")
    as_category = ids.astype("category")
    expected = np.array([1, 0, -1, -1, 0])
    np.testing.assert_array_equal(patient_codes(ids, PATIENTS), expected)
    np.testing.assert_array_equal(patient_codes(as_category, PATIENTS), expected)


def test_a_patient_listed_twice_is_a_typed_error_naming_them() -> None:
    doubled = pd.concat([PATIENTS, PATIENTS.iloc[[1]]], ignore_index=True)
    with pytest.raises(IngestError, match="patient_id B appears more than once"):
        check_registry(doubled)
    with pytest.raises(IngestError):
        patient_codes(pd.Series(["A"]), doubled)


def test_as_of_defaults_to_the_day_after_the_last_entry_and_is_midnight() -> None:
    # the last entry is on 2 October: every day with data is a whole day, the analysis day is 3 October
    sessions = pd.DataFrame({"performed_at": pd.to_datetime(["2026-09-08 07:00", "2026-10-01 19:30"])})
    pain = pd.DataFrame({"recorded_at": pd.to_datetime(["2026-10-02 21:00"])})
    assert resolve_as_of(None, (sessions, "performed_at"), (pain, "recorded_at")) == pd.Timestamp("2026-10-03")
    assert resolve_as_of("2026-11-20 15:00", (sessions, "performed_at")) == pd.Timestamp("2026-11-20")


def test_today_is_frozen_by_the_environment_and_otherwise_the_clinic_clock(monkeypatch) -> None:
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from analysis.timeline import TODAY_ENV, today

    monkeypatch.setenv(TODAY_ENV, "2026-11-20")
    assert today("Pacific/Kiritimati") == date(2026, 11, 20)
    monkeypatch.setenv(TODAY_ENV, "20/11/2026")
    with pytest.raises(ValueError, match="REHABTRACK_TODAY must be a date written YYYY-MM-DD"):
        today()
    monkeypatch.delenv(TODAY_ENV)
    # UTC+14 and UTC-11 are never on the same calendar day as each other... except never: they differ by 25 h
    east, west = today("Pacific/Kiritimati"), today("Pacific/Pago_Pago")
    assert east == datetime.now(ZoneInfo("Pacific/Kiritimati")).date() or east > west
    assert (east - west).days in (1, 2)
