"""Tests of the shared gym-app rules (analysis.importers.workouts): durations, numbers, units, aggregation.

Unit factors are the legal definitions (1 lb = 0.45359237 kg, 1 mi = 1609.344 m);
durations are computed by hand in the comments. The property test writes random
Strong exports and checks that every set row is accounted for exactly once.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.importers.strong import ingest_strong, read_strong
from analysis.importers.workouts import (
    distance_factor,
    parse_duration,
    parse_numbers,
    weight_factor,
)


@pytest.mark.parametrize(("text", "seconds"), [
    ("2h 38m", 2 * 3600 + 38 * 60),
    ("45m", 45 * 60),
    ("2h", 7200),
    ("1h 8m", 3600 + 480),
    ("90s", 90),
    ("0:01:30", 90),
    ("12:30", 12 * 60 + 30),
    ("1:02:03", 3600 + 120 + 3),
    ("3600", 3600),
])
def test_durations(text, seconds):
    values, bad = parse_duration(pd.Series([text]))
    assert values[0] == seconds and not bad[0]


def test_durations_blank_and_bad():
    values, bad = parse_duration(pd.Series([None, "", "soon", "2h 38x"]))
    assert np.isnan(values).all()
    assert bad.tolist() == [False, False, True, True]


def test_numbers_with_and_without_decimal_comma():
    values, bad = parse_numbers(pd.Series(["42,5", "40.0", "", None, "abc", "-"]), decimal_comma=True)
    assert values[:2].tolist() == [42.5, 40.0] and np.isnan(values[2:]).all()
    assert bad.tolist() == [False, False, False, False, True, False]
    values, bad = parse_numbers(pd.Series(["42,5"]))  # a comma file never reads 42,5 as a number
    assert bad.tolist() == [True]


@pytest.mark.parametrize(("unit", "kg"), [("kg", 1.0), ("kgs", 1.0), ("lbs", 0.45359237), ("lb", 0.45359237),
                                          ("LBS", 0.45359237), ("stone", None)])
def test_weight_units(unit, kg):
    assert weight_factor(unit) == kg


@pytest.mark.parametrize(("unit", "metres"), [("km", 1000.0), ("mi.", 1609.344), ("miles", 1609.344),
                                              ("m", 1.0), ("meters", 1.0), ("yd", 0.9144), ("ft", 0.3048),
                                              ("furlong", None)])
def test_distance_units(unit, metres):
    assert distance_factor(unit) == metres


HEADER = ["Date", "Workout Name", "Duration", "Exercise Name", "Set Order", "Weight", "Reps", "Distance",
          "Seconds", "Notes", "Workout Notes", "RPE"]

set_rows = st.lists(
    st.tuples(
        st.integers(0, 2),  # session
        st.sampled_from(["Plank", "Bird Dog", "Squat (Barbell)"]),
        st.sampled_from(["1", "2", "W", "D", "F", "Z"]),  # Z is not a set order: rejected
        st.sampled_from([0, 20, 42.5]),  # weight, 0 = none
        st.integers(0, 12),  # reps
        st.sampled_from([0, 30, 900]),  # seconds
    ),
    min_size=1, max_size=25,
)


@given(set_rows)
def test_every_set_row_is_counted_once(rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for session, exercise, order, weight, reps, seconds in rows:
        writer.writerow([f"2026-09-0{session + 1} 07:30:00", "Rehab", "30m", exercise, order, weight, reps, 0,
                         seconds, "", "", ""])
    data = out.getvalue().encode()
    export = read_strong(data)
    ex = export.log.exercises
    bad = export.problems.frame()["row"].nunique()
    n_empty = len(export.log.empty_sets)
    # each row is a counted working set, a warm-up, an empty set, or rejected - exactly once
    assert int(ex["sets"].sum() + ex["warmup_sets"].sum()) + n_empty + bad == len(rows)
    assert bad == sum(r[2] == "Z" for r in rows)
    expected_empty = sum(r[2] != "Z" and r[4] == 0 and r[5] == 0 for r in rows)
    assert n_empty == expected_empty
    if len(ex):
        timed_only = ex["hold_s"].notna()
        assert (ex.loc[timed_only, "reps"] == 1).all()
        result = ingest_strong(data, patient_id="P1", today=date(2026, 11, 25))
        assert result.n_accepted + result.n_rejected + result.n_duplicates == result.n_rows
        assert result.n_accepted == len(ex)  # every exercise row is valid for the sessions table


def test_a_file_whose_every_set_is_rejected_still_reports_them():
    data = ("\n".join([",".join(HEADER),
                       "2026-09-08 07:30:00,Rehab,30m,Plank,Z,0,0,0,60,,,",
                       "2026-09-08 07:30:00,Rehab,30m,Plank,1,0,abc,0,60,,,"]) + "\n").encode()
    result = ingest_strong(data, patient_id="P1", today=date(2026, 11, 25))
    assert (result.n_rows, result.n_accepted, result.n_rejected) == (2, 0, 2)
    assert result.rejected["row"].tolist() == [2, 3]
    assert list(result.accepted.columns)[:3] == ["patient_id", "performed_at", "exercise"]
