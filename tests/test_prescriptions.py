"""The prescription in force (analysis.prescriptions): one rule for adherence, My progress, Log today and Prescribe."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.adherence import excluded_rows, weekly_adherence
from analysis.entries import todays_checklist
from analysis.errors import InvalidTableError
from analysis.prescriptions import OPEN_END, dose_in_force, period_ends, periods_in_force, usable_periods
from analysis.programmes import items_in_force
from analysis.validation import trusted_tables

START = pd.Timestamp("2026-09-07")


def _rx(rows: list[tuple[str, str, int, str, str | None]], patient: str = "P1") -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": pd.array([patient] * len(rows), dtype="string"),
        "exercise": pd.array([r[0] for r in rows], dtype="string"), "side": pd.array([r[1] for r in rows],
                                                                                      dtype="string"),
        "sets": pd.array([r[2] for r in rows], dtype="Int64"), "reps": pd.array([10] * len(rows), dtype="Int64"),
        "hold_s": [5.0] * len(rows), "sessions_per_week": pd.array([5] * len(rows), dtype="Int64"),
        "start_date": pd.to_datetime([r[3] for r in rows]), "end_date": pd.to_datetime([r[4] for r in rows]),
    })


def test_an_open_ended_period_ends_the_day_before_the_new_dose() -> None:
    rx = _rx([("bridge", "both", 1, "2026-09-07", None), ("bridge", "both", 3, "2026-09-21", None)])
    periods = periods_in_force(rx)
    assert list(periods["in_force_until"]) == [pd.Timestamp("2026-09-20"), pd.NaT]
    assert dose_in_force(rx, "2026-09-20")["sets"].tolist() == [1]
    assert dose_in_force(rx, "2026-09-21")["sets"].tolist() == [3]
    assert dose_in_force(rx, "2030-01-01")["sets"].tolist() == [3]  # open-ended: in force until replaced
    assert dose_in_force(rx, "2026-09-06").empty  # before the first period


def test_a_later_period_replaces_even_a_closed_one_and_sides_are_separate() -> None:
    rx = _rx([("knee_to_chest", "left", 1, "2026-09-07", "2026-10-31"),
              ("knee_to_chest", "left", 2, "2026-09-14", "2026-09-20"),
              ("knee_to_chest", "right", 1, "2026-09-07", "2026-10-31")])
    # left: the 1-set period is replaced from 14 Sep on; the 2-set one ends on 20 Sep; right runs on
    day = dose_in_force(rx, "2026-09-25")
    assert list(zip(day["side"], day["sets"], strict=True)) == [("right", 1)]
    assert list(dose_in_force(rx, "2026-09-15")["sets"]) == [2, 1]


def test_same_start_day_the_later_row_wins_and_unusable_rows_do_not_count() -> None:
    rx = _rx([("bridge", "both", 1, "2026-09-07", None), ("bridge", "both", 2, "2026-09-07", None),
              ("cat_cow", "both", 1, "2026-09-07", "2026-09-01"),  # ends before it starts
              ("bridge", "both", 0, "2026-09-08", None)])  # a dose of 0 is not a period
    assert usable_periods(rx).tolist() == [True, True, False, False]
    # a dose of 0 sets breaks the table's rule (1 to 20): the entrance refuses it; vouched for, it is no period
    with pytest.raises(InvalidTableError, match=r"prescriptions\.sets, rule 'range'.*index \(value\): 3 \(0\)"):
        dose_in_force(rx, "2026-09-10")
    with trusted_tables():
        assert dose_in_force(rx, "2026-09-10")["sets"].tolist() == [2]
    assert dose_in_force(rx.iloc[:3], "2026-09-10")["sets"].tolist() == [2]


def test_patients_are_kept_apart() -> None:
    rx = pd.concat([_rx([("bridge", "both", 1, "2026-09-07", None)], "P1"),
                    _rx([("bridge", "both", 3, "2026-09-14", None)], "P2")], ignore_index=True)
    assert dose_in_force(rx, "2026-09-20")["sets"].tolist() == [1, 3]
    assert dose_in_force(rx, "2026-09-20", patient_id="P1")["sets"].tolist() == [1]


@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 30), st.one_of(st.none(), st.integers(0, 30))),
                min_size=1, max_size=12))
def test_period_ends_match_a_day_by_day_reading_of_the_rule(periods: list[tuple[int, int, int | None]]) -> None:
    key = np.array([p[0] for p in periods])
    first = np.array([p[1] for p in periods])
    last = np.array([p[1] + (p[2] or 0) for p in periods])
    has_last = np.array([p[2] is not None for p in periods])
    ends = period_ends([key], first, last, has_last)
    for day in range(0, 70):
        for k in set(key.tolist()):
            # the rule, read literally: of the periods of key k started by `day`, the latest start (then the
            # latest row) is the candidate; it is in force if its own end has not passed
            started = [i for i in range(len(periods)) if key[i] == k and first[i] <= day]
            expected = None
            if started:
                latest = max(started, key=lambda i: (first[i], i))
                if not has_last[latest] or last[latest] >= day:
                    expected = latest
            in_force = [i for i in range(len(periods)) if key[i] == k and first[i] <= day
                        and (ends[i] == OPEN_END or ends[i] >= day)]
            assert in_force == ([] if expected is None else [expected])


def test_log_today_adherence_and_prescribe_read_the_same_dose() -> None:
    rx = _rx([("bridge", "both", 1, "2026-09-07", None), ("bridge", "both", 3, "2026-09-21", None)])
    patients = pd.DataFrame({"patient_id": pd.array(["P1"], dtype="string"), "physio_id": ["x"],
                             "programme_start": [START]})
    sessions = pd.DataFrame({"patient_id": pd.array([], dtype="string"), "performed_at": pd.to_datetime([]),
                             "exercise": pd.array([], dtype="string"), "side": pd.array([], dtype="string"),
                             "sets": pd.array([], dtype="Int64"), "reps": pd.array([], dtype="Int64")})
    # Log today
    assert todays_checklist(rx, "P1", "2026-10-01")["sets"].tolist() == [3]
    # Prescribe: "current prescription (dose in force on the change date)"
    assert [i.sets for i in items_in_force(rx, "2026-10-01")] == [3]
    assert [i.sets for i in items_in_force(rx, "2026-09-10")] == [1]
    # adherence: the old row is in force up to the day before the new one, nothing is excluded
    weeks = weekly_adherence(sessions, rx, patients, as_of="2026-10-01")
    assert weeks["sessions_prescribed"].tolist()[:3] == [5.0, 5.0, 5.0]
    assert excluded_rows(sessions, rx, patients, as_of="2026-10-01").empty
