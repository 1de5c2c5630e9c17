"""Tests of the FitNotes importer (analysis.importers.fitnotes) on our own fixtures.

There is no real FitNotes export in tests/fixtures/reference; the fixtures follow the
header FitNotes writes (Date,Exercise,Category,Weight (kgs),Reps,Distance,
Distance Unit,Time,Comment). Expected values are counted by hand (header = row 1).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from analysis.adherence import session_dose
from analysis.importers import detect_format
from analysis.importers.fitnotes import read_fitnotes
from analysis.importers.workouts import KG_PER_LB
from analysis.ingest import ingest_file
from analysis.schema import pandera_schema

FIXTURES = Path(__file__).parent / "fixtures" / "importers"
TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def result():
    out = ingest_file(FIXTURES / "fitnotes.csv", patient_id="P003", today=TODAY)
    assert out.n_accepted + out.n_rejected + out.n_duplicates == out.n_rows
    pandera_schema("sessions").validate(out.accepted, lazy=True)
    return out


def test_recognised_and_counted(result):
    assert detect_format(FIXTURES / "fitnotes.csv").name == "fitnotes" and result.format == "fitnotes"
    # 9 set rows; row 10 (Bird Dog on 09-10) has no reps, time or distance; 5 exercise rows on 2 days
    assert (result.n_rows, result.n_accepted) == (5, 5)
    assert result.warnings[0] == ("read as a FitNotes workout export: 9 set rows became 5 exercise rows "
                                  "in 2 sessions")
    # FitNotes dates have no time: the session is the day, at midnight
    assert sorted(result.accepted["performed_at"].astype(str).unique()) == ["2026-09-08", "2026-09-09"]


def test_sets_reps_holds_and_notes(result):
    rows = result.accepted.set_index("exercise")
    assert (rows.loc["Bird Dog", "sets"], rows.loc["Bird Dog", "reps"]) == (2, 10)
    assert rows.loc["Bird Dog", "notes"] == "slow, both sides"
    # Plank 0:01:00 and 0:00:45 -> 2 x 1 rep, hold 52.5 s
    assert (rows.loc["Plank", "sets"], rows.loc["Plank", "reps"], rows.loc["Plank", "hold_s"]) == (2, 1, 52.5)
    # Goblet squat 10 + 8 -> 9 per set
    assert (rows.loc["Goblet Squat", "sets"], rows.loc["Goblet Squat", "reps"]) == (2, 9)
    assert np.isnan(rows.loc["Cycling", "hold_s"])  # 0:30:00 is cardio
    assert rows.loc["knee_to_chest", "reps"] == 10
    assert (session_dose(result.accepted) > 0).all()


def test_units_and_clock_times():
    export = read_fitnotes(FIXTURES / "fitnotes.csv")
    ex = export.log.exercises.set_index("exercise")
    assert ex.loc["Goblet Squat", "load_volume_kg"] == pytest.approx(12.5 * 18)
    assert ex.loc["Cycling", "distance_m"] == 5000.0 and ex.loc["Cycling", "time_s"] == 1800.0
    assert ex.loc["Plank", "time_s"] == 105.0


def test_weight_in_lbs_and_a_bad_number():
    out = ingest_file(FIXTURES / "fitnotes_lbs.csv", patient_id="P003", today=TODAY)
    assert (out.n_rows, out.n_accepted, out.n_rejected) == (2, 1, 1)
    bad = out.rejected.iloc[0]
    assert (bad["row"], bad["value"]) == (3, "abc")
    assert bad["reason"] == "weight (Weight (lbs)) must be a number of 0 or more; got 'abc'"
    export = read_fitnotes(FIXTURES / "fitnotes_lbs.csv")
    assert export.log.exercises["load_volume_kg"].iloc[0] == pytest.approx(135 * 5 * KG_PER_LB)
    assert export.log.sets["weight_unit"].iloc[0] == "lb"
