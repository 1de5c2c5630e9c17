"""Tests of the Open mHealth-style schemas (analysis.interop.omh, schemas/).

The examples in schemas/examples were written by hand; jsonschema (an
independent validator) judges them and the records made from the sample.
"""

from __future__ import annotations

import copy
import json

import pytest
from jsonschema import Draft202012Validator

from analysis.interop.omh import (
    SCHEMA_DIR,
    exercise_session_schema,
    pain_intensity_schema,
    pain_to_omh,
    schemas,
    sessions_to_omh,
    validate_omh,
)
from analysis.sample_data import load_cohort


@pytest.fixture(scope="module")
def cohort():
    return load_cohort()


def test_schema_files_are_up_to_date_and_valid_json_schema():
    for name, schema in schemas().items():
        on_disk = json.loads((SCHEMA_DIR / name).read_text())
        assert on_disk == schema, f"schemas/{name} is out of date: run python -m analysis.interop.omh"
        Draft202012Validator.check_schema(on_disk)


def test_ranges_come_from_the_canonical_tables():
    pain = pain_intensity_schema()["properties"]["body"]["properties"]["pain_score"]["properties"]["value"]
    assert (pain["minimum"], pain["maximum"]) == (0, 10)  # NPRS 0-10 (analysis.schema PAIN.nprs)
    body = exercise_session_schema()["properties"]["body"]["properties"]
    assert body["side"]["enum"] == ["left", "right", "both"]
    assert body["hold_duration"]["properties"]["value"]["maximum"] == 600


@pytest.mark.parametrize(("example", "schema"), [
    ("pain-intensity.json", pain_intensity_schema),
    ("exercise-session.json", exercise_session_schema),
])
def test_hand_written_examples_validate(example, schema):
    record = json.loads((SCHEMA_DIR / "examples" / example).read_text())
    assert validate_omh([record], schema()) == []


def test_sample_records_validate(cohort):
    pain = cohort.pain.head(300)
    records = pain_to_omh(pain, timezone="Europe/London")
    assert len(records) == 300 and validate_omh(records, pain_intensity_schema()) == []
    assert records[0]["body"]["pain_score"] == {"value": int(pain["nprs"].iloc[0]), "unit": "{score}"}
    sessions = cohort.sessions.head(300).assign(load_kg=2.5, warmup_sets=0)
    records = sessions_to_omh(sessions)
    assert validate_omh(records, exercise_session_schema()) == []
    assert records[0]["body"]["load"] == {"value": 2.5, "unit": "kg"}


def test_invalid_records_are_reported():
    record = json.loads((SCHEMA_DIR / "examples" / "pain-intensity.json").read_text())
    bad = copy.deepcopy(record)
    bad["body"]["pain_score"] = {"value": 11, "unit": "mm"}
    bad["body"]["effective_time_frame"] = {"date_time": "2026-09-08 20:00"}  # no T, no offset
    del bad["header"]["uuid"]
    problems = validate_omh([record, bad], pain_intensity_schema())
    assert all(p.startswith("record 2") for p in problems)
    text = "\n".join(problems)
    assert "11 is greater than the maximum of 10" in text
    assert "'{score}' was expected" in text
    assert "'uuid' is a required property" in text
    assert "effective_time_frame" in text
    session = json.loads((SCHEMA_DIR / "examples" / "exercise-session.json").read_text())
    session["body"]["load"]["unit"] = "stone"
    assert validate_omh([session], exercise_session_schema()) == [
        "record 1, body.load.unit: 'stone' is not one of ['kg', 'lb']"]
