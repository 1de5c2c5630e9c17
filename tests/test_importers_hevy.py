"""Tests of the Hevy importer (analysis.importers.hevy) on the real export and on our own fixture.

Expected values are counted by hand from tests/fixtures/importers/hevy_quirks.csv
(header = row 1) or recounted from tests/fixtures/reference/hevy with the csv module.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from analysis.importers import detect_format
from analysis.importers.hevy import read_hevy
from analysis.importers.workouts import KG_PER_LB, M_PER_MILE
from analysis.ingest import ingest_file
from analysis.schema import pandera_schema
from analysis.tables import IngestResult
from tests.conftest import REFERENCE_DIR

FIXTURE = Path(__file__).parent / "fixtures" / "importers" / "hevy_quirks.csv"
REAL = REFERENCE_DIR / "hevy" / "hevy_export_head.csv"
TODAY = date(2026, 11, 25)


def check(result: IngestResult) -> IngestResult:
    assert result.n_accepted + result.n_rejected + result.n_duplicates == result.n_rows
    pandera_schema(result.table).validate(result.accepted, lazy=True)
    return result


@pytest.fixture(scope="module")
def quirks() -> IngestResult:
    return check(ingest_file(FIXTURE, patient_id="P001", today=TODAY))


def test_fixture_is_recognised_and_counted(quirks):
    assert detect_format(FIXTURE).name == "hevy" and quirks.format == "hevy"
    # 9 set rows; row 10 has set_type "stretch" (rejected); 4 exercise rows in 2 sessions
    assert (quirks.n_rows, quirks.n_accepted, quirks.n_rejected) == (5, 4, 1)
    assert quirks.warnings[0] == "read as a Hevy workout export: 9 set rows became 4 exercise rows in 2 sessions"
    bad = quirks.rejected.iloc[0]
    assert (bad["row"], bad["column"], bad["value"]) == (10, "sets", "stretch")


def test_dates_like_15_sep_2025_0748(quirks):
    assert sorted(quirks.accepted["performed_at"].astype(str).unique()) == ["2025-09-15 07:48:00",
                                                                             "2025-09-16 18:00:00"]


def test_set_types_and_literal_newlines(quirks):
    rows = quirks.accepted.set_index("exercise")
    rdl = rows.loc["Romanian Deadlift (Barbell)"]
    # warmup 45x10 not counted; normal 95x10, failure 95x8, dropset 65x12 -> 3 sets, 30 reps, 10 per set
    assert (rdl["sets"], rdl["reps"]) == (3, 10)
    # the quoted notes hold a literal backslash-n, read back as a line break
    # exercise notes, then the workout's description (multi-line, kept as written), then the importer's remarks
    assert rdl["notes"] == ("Keep back neutral\nslow down | Workout notes: Felt stiff\nbetter after "
                            "[1 warm-up set not counted] [reps per set 10, 8, 12]")
    assert rdl["rpe"] == 10  # RPE 7 and 9.5 -> 9.5 rounded half up
    plank = rows.loc["Plank"]
    assert (plank["sets"], plank["reps"], plank["hold_s"]) == (2, 1, 60.0)
    assert (rows.loc["Bird Dog", "sets"], rows.loc["Bird Dog", "reps"]) == (1, 12)  # bodyweight: reps kept
    assert np.isnan(rows.loc["Walking", "hold_s"])  # 2400 s is cardio, not a hold


def test_units_in_column_names_converted_once():
    export = read_hevy(FIXTURE)
    sets, ex = export.log.sets, export.log.exercises.set_index("exercise")
    assert set(sets["weight_unit"].dropna()) == {"lb"} and set(sets["distance_unit"].dropna()) == {"mi"}
    # (95 x 10 + 95 x 8 + 65 x 12) lb = 2490 lb of working volume
    assert ex.loc["Romanian Deadlift (Barbell)", "load_volume_kg"] == pytest.approx(2490 * KG_PER_LB)
    assert ex.loc["Walking", "distance_m"] == pytest.approx(1.5 * M_PER_MILE)
    # quoted comma in the title stays one field; the workout length is end - start (42 min)
    assert sets["workout"].iloc[0] == "Rehab, day 1"
    assert sets["workout_duration_s"].iloc[0] == 42 * 60
    assert sets["workout_notes"].iloc[0] == "Felt stiff\nbetter after"


def test_real_export_counts_match_an_independent_count():
    with REAL.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    for r in rows:
        groups.setdefault((r["start_time"], r["title"], r["exercise_title"]), []).append(r)
    sessions = {(s, t) for s, t, _ in groups}
    # counted once: 982 sets (442 normal, 340 warmup, 200 failure), 40 sessions, 266 exercise rows
    assert (len(rows), len(sessions), len(groups)) == (982, 40, 266)
    result = check(ingest_file(REAL, patient_id="P901", today=TODAY))
    assert result.format == "hevy" and (result.n_accepted, result.n_rejected) == (266, 0)
    assert result.accepted["performed_at"].nunique() == 40
    assert str(result.accepted["performed_at"].iloc[0]) == "2025-09-15 07:48:00"  # "15 Sep 2025, 07:48"
    # warm-ups are not counted: 982 - 340 = 642 working sets
    assert result.accepted["sets"].sum() == sum(r["set_type"] != "warmup" for r in rows) == 642
    warmup_only = [k for k, v in groups.items() if all(r["set_type"] == "warmup" for r in v)]
    assert len(warmup_only) == 1 and (result.accepted["sets"] == 0).sum() == 1
    assert any(w.startswith("340 warm-up sets (in 259 exercise rows)") for w in result.warnings)


def test_real_export_units_volume_and_notes():
    with REAL.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    export = read_hevy(REAL)
    ex = export.log.exercises
    working = [r for r in rows if r["set_type"] != "warmup"]
    volume = sum(float(r["weight_kg"]) * int(r["reps"]) for r in working if r["weight_kg"])
    assert volume == 372561.0 and ex["load_volume_kg"].sum() == pytest.approx(volume)
    # 30 working sets without a weight keep their reps (no zero volume)
    bodyweight = [r for r in working if not r["weight_kg"] and r["reps"] not in ("", "0")]
    assert len(bodyweight) == 30 and ex["bodyweight_reps"].sum() == sum(int(r["reps"]) for r in bodyweight)
    assert set(export.log.sets["weight_unit"].dropna()) == {"kg"}
    # 50 rows carry a literal backslash-n in their notes; none is left after reading
    assert sum("\\n" in r["exercise_notes"] for r in rows) == 50
    notes = export.log.sets["notes"].dropna()
    assert not notes.str.contains("\\n", regex=False).any() and notes.str.contains("\n", regex=False).sum() == 50
    squat = ex.loc[(ex["performed_at"] == "15 Sep 2025, 07:48") & (ex["exercise"] == "Squat (Barbell)")].iloc[0]
    # warmup 37.5x10, 45x6; normal 77.5x10 (RPE 9), 77.5x9 (9.5); failure 77.5x8 (9.5)
    assert (squat["sets"], squat["reps"], squat["rpe"], squat["warmup_sets"]) == (3, 9, 10, 2)
    assert squat["load_volume_kg"] == pytest.approx(77.5 * 27)
