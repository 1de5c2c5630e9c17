"""Tests of the Strong importer (analysis.importers.strong) on the real export and on our own fixtures.

Expected values are counted by hand from the fixture files (row numbers count the
header as row 1) or, for the real export in tests/fixtures/reference/strong, recounted
here with the csv module and plain Python, independently of the importer; the
numbers quoted in comments were counted that way once and are asserted too.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.adherence import session_dose
from analysis.errors import MissingColumnsError
from analysis.importers import detect_format
from analysis.importers.strong import ingest_strong, read_strong
from analysis.importers.workouts import KG_PER_LB, M_PER_MILE
from analysis.ingest import ingest_file
from analysis.schema import pandera_schema, table_spec
from analysis.tables import IngestResult
from analysis.validation import REJECTED_COLUMNS
from tests.conftest import REFERENCE_DIR

FIXTURES = Path(__file__).parent / "fixtures" / "importers"
REAL = REFERENCE_DIR / "strong" / "strong_ios_export.csv"
TODAY = date(2026, 11, 25)


def check(result: IngestResult) -> IngestResult:
    spec = table_spec(result.table)
    assert list(result.accepted.columns) == spec.column_names
    assert list(result.rejected.columns) == list(REJECTED_COLUMNS)
    assert result.n_accepted + result.n_rejected + result.n_duplicates == result.n_rows
    pandera_schema(result.table).validate(result.accepted, lazy=True)  # an independent check of the schema
    return result


def by_exercise(result: IngestResult) -> pd.DataFrame:
    return result.accepted.set_index("exercise")


# ---------------------------------------------------------------------------
# iOS fixture: W/D/F, "2h 38m", 0 = not applicable, plank, cardio, empty set


@pytest.fixture(scope="module")
def ios() -> IngestResult:
    return check(ingest_file(FIXTURES / "strong_ios_quirks.csv", patient_id="P001", today=TODAY))


def test_ios_fixture_is_recognised_as_strong(ios):
    assert detect_format(FIXTURES / "strong_ios_quirks.csv").name == "strong"
    assert ios.format == "strong" and ios.table == "sessions"
    assert ios.warnings[0] == ("read as a Strong workout export (ios): 14 set rows became 6 exercise rows "
                               "in 2 sessions")


def test_ios_fixture_counts(ios):
    # 14 set rows; Glute Bridge (row 12) is all zeros: no set, so no row; 6 exercise rows in 2 sessions
    assert ios.n_rows == 6 and ios.n_accepted == 6 and ios.n_rejected == 0
    assert ios.accepted["performed_at"].nunique() == 2
    assert sorted(ios.accepted["performed_at"].astype(str).unique()) == ["2026-09-08 07:30:00",
                                                                          "2026-09-08 18:05:10"]
    assert "1 set had no repetitions, time or distance and was not counted (row 12)" in ios.warnings


def test_warm_up_sets_are_marked_not_counted(ios):
    rows = by_exercise(ios)
    # Bird Dog: W (5 reps) + 2 x 10 -> 2 working sets of 10
    assert (rows.loc["Bird Dog", "sets"], rows.loc["Bird Dog", "reps"]) == (2, 10)
    # the set's note, then the workout's "Workout Notes" of that session (issue 16: they were dropped)
    assert rows.loc["Bird Dog", "notes"] == ("slow and controlled | Workout notes: back felt ok "
                                             "[1 warm-up set not counted]")
    assert any(w.startswith("2 warm-up sets (in 2 exercise rows) were not counted") for w in ios.warnings)


def test_drop_and_failure_sets_are_working_sets(ios):
    rows = by_exercise(ios)
    # Deadlift: W 20x10 (not counted), 1: 40x8, 2: 40x8, F: 40x6, D: 30x10 -> 4 sets, 32 reps, 8 per set
    assert (rows.loc["Deadlift (Barbell)", "sets"], rows.loc["Deadlift (Barbell)", "reps"]) == (4, 8)
    assert rows.loc["Deadlift (Barbell)", "notes"] == ("Workout notes: back felt ok [1 warm-up set not counted] "
                                                       "[reps per set 8, 8, 6, 10]")
    # RPE 8, 8.5, 9.5 -> highest 9.5, rounded half up to 10
    assert rows.loc["Deadlift (Barbell)", "rpe"] == 10


def test_time_only_and_bodyweight_sets_are_not_zero_volume(ios):
    rows = by_exercise(ios)
    # Plank: 60 s and 45 s, no reps -> 2 sets x 1 rep, hold (60 + 45) / 2 = 52.5 s
    assert (rows.loc["Plank", "sets"], rows.loc["Plank", "reps"], rows.loc["Plank", "hold_s"]) == (2, 1, 52.5)
    dose = session_dose(ios.accepted).to_numpy()
    by_name = dict(zip(ios.accepted["exercise"], dose, strict=True))
    assert by_name["Plank"] == pytest.approx(105.0)  # 2 x 1 x 52.5 = the 105 s held
    assert by_name["Bird Dog"] == pytest.approx(20.0)  # bodyweight: 2 x 10, no weight needed
    assert (dose > 0).all()


def test_cardio_longer_than_a_hold_keeps_its_row(ios):
    rows = by_exercise(ios)
    # Walking: 1800 s > 600 s (the longest hold): 1 set x 1 rep, no hold, time in the notes
    assert (rows.loc["Walking", "sets"], rows.loc["Walking", "reps"]) == (1, 1)
    assert np.isnan(rows.loc["Walking", "hold_s"])
    assert "1800 s" in rows.loc["Walking", "notes"]
    # Cycling: distance only (10, read as km) -> one bout
    assert (rows.loc["Cycling", "sets"], rows.loc["Cycling", "reps"]) == (1, 1)


def test_known_names_are_normalised_and_notes_kept(ios):
    rows = by_exercise(ios)
    assert rows.loc["knee_to_chest", "notes"] == "hold 5 s"  # "Knee to chest" is in the vocabulary


def test_set_table_carries_units_and_durations():
    export = read_strong(FIXTURES / "strong_ios_quirks.csv")
    sets = export.log.sets
    assert len(sets) == 13  # 14 rows minus the empty Glute Bridge set
    # "45m" = 2700 s, "2h 38m" = 2 x 3600 + 38 x 60 = 9480 s
    assert sorted(sets["workout_duration_s"].unique()) == [2700.0, 9480.0]
    # weight 0 = not applicable (bodyweight): no weight, no unit
    bird = sets.loc[sets["exercise"] == "Bird Dog"]
    assert bird["weight_kg"].isna().all() and bird["weight_unit"].isna().all()
    walking = sets.loc[sets["exercise"] == "Walking"].iloc[0]
    assert (walking["distance"], walking["distance_unit"], walking["distance_m"]) == (3.2, "km", 3200.0)
    ex = export.log.exercises.set_index("exercise")
    # 40 x 8 + 40 x 8 + 40 x 6 + 30 x 10 = 1180 kg; warm-up 20 x 10 not counted
    assert ex.loc["Deadlift (Barbell)", "load_volume_kg"] == pytest.approx(1180.0)
    assert (ex.loc["Deadlift (Barbell)", "dropsets"], ex.loc["Deadlift (Barbell)", "failure_sets"]) == (1, 1)
    assert ex.loc["Plank", "time_s"] == 105.0 and ex.loc["Bird Dog", "bodyweight_reps"] == 20.0
    assert any("does not say the weight unit" in n for n in export.notes)


def test_ios_caller_unit_is_used():
    export = read_strong(FIXTURES / "strong_ios_quirks.csv", weight_unit="lbs", distance_unit="mi")
    dead = export.log.exercises.set_index("exercise").loc["Deadlift (Barbell)"]
    assert dead["load_volume_kg"] == pytest.approx(1180.0 * KG_PER_LB)
    assert not any("does not say" in n for n in export.notes)


# ---------------------------------------------------------------------------
# Android: semicolon, unit column, decimal comma, translated headers


def test_android_german_headers_read_by_position():
    result = check(ingest_file(FIXTURES / "strong_android_de.csv", patient_id="P002", today=TODAY))
    assert result.format == "strong" and result.delimiter == ";"
    assert result.n_accepted == 4  # Kreuzheben, Unterarmstütz, Gehen, Knie zur Brust
    assert any("read by their place in Strong's android export" in w for w in result.warnings)
    assert result.header_mapping["Datum"] == "performed_at" and result.header_mapping["Wdh."] == "reps"
    rows = by_exercise(result)
    assert (rows.loc["Kreuzheben (Langhantel)", "sets"], rows.loc["Kreuzheben (Langhantel)", "reps"]) == (2, 8)
    assert rows.loc["Kreuzheben (Langhantel)", "notes"] == "Gurt; locker [1 warm-up set not counted]"
    assert rows.loc["Unterarmstütz", "hold_s"] == 40.0


def test_android_units_per_row_converted_once():
    export = read_strong(FIXTURES / "strong_android_de.csv")
    assert export.layout == "android"
    ex = export.log.exercises.set_index("exercise")
    # 42,5 kg x 8 (decimal comma) + 95 lbs x 8 = 340 + 95 x 0.45359237 x 8 kg
    assert ex.loc["Kreuzheben (Langhantel)", "load_volume_kg"] == pytest.approx(340 + 95 * 0.45359237 * 8)
    assert ex.loc["Kreuzheben (Langhantel)", "top_weight_kg"] == pytest.approx(95 * 0.45359237)
    assert ex.loc["Gehen", "distance_m"] == pytest.approx(1.5 * 1609.344)  # "1,5" "mi."
    sets = export.log.sets
    assert sorted(sets["weight_unit"].dropna()) == ["kg", "kg", "lb"]
    # "62m" and "1h"
    assert sorted(sets["workout_duration_s"].unique()) == [3600.0, 3720.0]


def test_android_unknown_unit_rejects_that_set():
    result = check(ingest_strong(FIXTURES / "strong_android_en.csv", patient_id="P001", today=TODAY))
    assert result.n_rows == 3 and result.n_accepted == 2  # 2 exercise rows + 1 unusable set row
    bad = result.rejected.iloc[0]
    assert (bad["row"], bad["value"]) == (5, "stone")
    assert bad["reason"] == "weight unit must be kg or lbs; got 'stone'"


def test_ios_2024_layout_units_in_headers_and_rest_timers():
    export = read_strong(FIXTURES / "strong_ios_2024.csv")
    assert export.layout == "ios-2024"
    ex = export.log.exercises.set_index("exercise")
    # Bench: W 45x10 (not counted), 135x8, Rest Timer (not a set), 135x7 -> 2 sets, 15 reps -> 7.5 -> 8
    assert (ex.loc["Bench Press (Barbell)", "sets"], ex.loc["Bench Press (Barbell)", "reps"]) == (2, 8)
    assert ex.loc["Bench Press (Barbell)", "load_volume_kg"] == pytest.approx(135 * 15 * KG_PER_LB)
    assert ex.loc["Running", "distance_m"] == pytest.approx(2 * M_PER_MILE)
    assert export.log.sets["workout_duration_s"].iloc[0] == 3600.0  # "Duration (sec)"
    assert any("'Rest Timer' row is a pause" in n for n in export.notes)


def test_an_export_needs_the_patient():
    with pytest.raises(MissingColumnsError, match="does not say whose log it is"):
        ingest_file(FIXTURES / "strong_ios_quirks.csv", today=TODAY)


def test_bad_set_order_and_reps_are_rejected_with_their_row(tmp_path):
    text = (FIXTURES / "strong_ios_quirks.csv").read_text().splitlines()
    text[2] = text[2].replace(",1,0,10,", ",X,0,10,")  # row 3: set order X
    text[3] = text[3].replace(",2,0,10,", ",2,0,ten,")  # row 4: reps "ten"
    path = tmp_path / "strong.csv"
    path.write_text("\n".join(text) + "\n")
    result = check(ingest_file(path, patient_id="P001", today=TODAY))
    assert result.rejected["row"].tolist() == [3, 4]
    assert result.rejected["reason"].iloc[0].startswith("set order must be a set number, W (warm-up)")
    assert result.rejected["reason"].iloc[1] == "repetitions (Reps) must be a number of 0 or more; got 'ten'"
    # Bird Dog keeps its warm-up only: no working set left
    assert by_exercise(result).loc["Bird Dog", "sets"] == 0


# ---------------------------------------------------------------------------
# the real iOS export (tests/fixtures/reference/strong/strong_ios_export.csv, MIT; see SOURCES.md)


def test_real_export_counts_match_an_independent_count():
    with REAL.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    sessions = {(r["Date"], r["Workout Name"]) for r in rows}
    groups = {(r["Date"], r["Workout Name"], r["Exercise Name"]) for r in rows}
    # counted once: 1903 sets, 86 sessions (86 different days), 320 exercise rows, all Set Order numeric
    assert (len(rows), len(sessions), len(groups)) == (1903, 86, 320)
    result = check(ingest_file(REAL, patient_id="P900", today=TODAY))
    assert result.format == "strong" and result.n_accepted == 320 and result.n_rejected == 0
    assert result.accepted["performed_at"].nunique() == len(sessions)
    assert str(result.accepted["performed_at"].min()) == "2020-12-30 18:51:52"
    assert str(result.accepted["performed_at"].max()) == "2021-09-06 18:21:27"
    # every row is a working set with reps, seconds or distance: the sets column adds up to all rows
    working = sum(1 for r in rows if r["Set Order"].isdigit()
                  and (int(r["Reps"]) > 0 or float(r["Seconds"]) > 0 or float(r["Distance"]) > 0))
    assert result.accepted["sets"].sum() == working == 1903


def test_real_export_volumes_and_time_only_sets():
    with REAL.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    export = read_strong(REAL)
    ex = export.log.exercises
    # sum of Weight x Reps over all rows: 394186.0 kg (weights read as kg; the file has no unit)
    volume = sum(float(r["Weight"]) * int(r["Reps"]) for r in rows)
    assert volume == 394186.0 and ex["load_volume_kg"].sum() == pytest.approx(volume)
    # 21 time-only sets (20 x Aerobics 12 s, 1 x Swimming 30 s) count 1 rep each: 7432 + 21 reps
    timed = [r for r in rows if r["Reps"] == "0" and float(r["Seconds"]) > 0]
    assert len(timed) == 21
    assert ex["total_reps"].sum() == sum(int(r["Reps"]) for r in rows) + len(timed) == 7453
    # 27 bodyweight sets (20 x Crunch, 7 x Push Up) keep their repetitions
    bodyweight = [r for r in rows if float(r["Weight"]) == 0 and int(r["Reps"]) > 0]
    assert len(bodyweight) == 27
    assert ex["bodyweight_reps"].sum() == sum(int(r["Reps"]) for r in bodyweight)
    aerobics = ex.loc[ex["exercise"] == "Aerobics"]
    assert (aerobics["reps"] == 1).all() and (aerobics["hold_s"] == 12.0).all()
    # the first session: 30 sets of 4 exercises
    first = ex.loc[ex["performed_at"] == "2020-12-30 18:51:52"]
    assert (len(first), int(first["sets"].sum())) == (4, 30)
