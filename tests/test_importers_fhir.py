"""Tests of FHIR R4 import (analysis.importers.fhir) and export (analysis.interop.fhir).

The bundle fixture (tests/fixtures/importers/fhir_bundle.json) was written by
hand; the values read from it are counted in the comments. Validity is judged
by fhir.resources (the maintained R4 models), not by this project's code. The
round trip exports the sample cohort's patient and reads it back to the same
canonical rows.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analysis import cli
from analysis.errors import UnknownTableError
from analysis.importers import detect_format, import_file
from analysis.importers.fhir import DEFAULT_FHIR_MAPPING, FhirMapping, FhirTarget, ingest_fhir, read_fhir
from analysis.ingest import ingest_file
from analysis.interop.fhir import FLARE_EXTENSION, pain_to_fhir_bundle, validate_resource
from analysis.sample_data import load_cohort
from analysis.schema import pandera_schema
from analysis.scoring import score_proms

FIXTURES = Path(__file__).parent / "fixtures" / "importers"
BUNDLE = FIXTURES / "fhir_bundle.json"
TODAY = date(2026, 11, 25)


#: The clinic's time zone in these tests: the fixtures' "+02:00" is Berlin's summer offset.
ZONE = "Europe/Berlin"


@pytest.fixture(scope="module")
def bundle_import():
    return read_fhir(BUNDLE, today=TODAY, timezone=ZONE)


@pytest.fixture(scope="module")
def cohort():
    return load_cohort()


def test_bundle_is_recognised_from_its_content(tmp_path):
    assert detect_format(BUNDLE).name == "fhir"
    renamed = tmp_path / "export.txt"  # the name does not matter, the content does
    renamed.write_bytes(BUNDLE.read_bytes())
    assert detect_format(renamed).name == "fhir"
    assert ingest_file(renamed, today=TODAY).format == "fhir"


def test_pain_values_from_integer_quantity_and_answer_codes(bundle_import):
    pain = bundle_import.results["pain"]
    pandera_schema("pain").validate(pain.accepted, lazy=True)
    # entries 2 (valueInteger 6), 3 (valueQuantity 4), 4 (LA6113-0 = 2), 10 (QR answer LA10137-0 = 5);
    # entry 3 is written 20:00Z: 22:00 in Berlin (UTC+2 in September), the others +02:00 (clock time unchanged)
    expected = pd.DataFrame({
        "patient_id": ["P001"] * 4,
        "recorded_at": pd.to_datetime(["2026-09-08 20:00", "2026-09-09 22:00", "2026-09-10 20:00",
                                       "2026-09-13 09:00"]),
        "nprs": [6, 4, 2, 5],
    })
    got = pain.accepted[["patient_id", "recorded_at", "nprs"]]
    pd.testing.assert_frame_equal(got, expected.astype({"patient_id": "string", "nprs": "Int64"}))
    # "urn:uuid:..." subject resolved to the Patient's identifier; bodySite "lower back" -> back
    first = pain.accepted.iloc[0]
    assert (first["location"], first["notes"]) == ("back", "after gardening")


def test_problems_are_rejected_with_where_they_came_from(bundle_import):
    pain = bundle_import.results["pain"]
    # 5 pain values + 3 unusable resources = 8 rows: 4 accepted, 4 rejected
    assert (pain.n_rows, pain.n_accepted, pain.n_rejected) == (8, 4, 4)
    reasons = pain.rejected["reason"].tolist()
    assert reasons[0] == "entry 5 (Observation obs-4): pain must be a whole number from 0 to 10; got 11"
    assert reasons[1] == ("entry 6 (Observation obs-5): the Observation's status is 'entered-in-error', "
                          "so it was not read")
    # the time without a zone is invalid FHIR R4, as fhir.resources says
    assert reasons[2].startswith("entry 7 (Observation obs-6): not a valid FHIR R4 Observation: effectiveDateTime")
    assert "'LA9999-9'" in reasons[3] and "add it to the mapping's answer codes" in reasons[3]
    assert bundle_import.skipped == {"Patient": 1, "Observation with another code": 1,
                                     "questionnaire answer not in the mapping": 1}


def test_odi_total_goes_to_proms(bundle_import):
    proms = bundle_import.results["proms"]
    assert proms.accepted[["instrument", "item", "value"]].values.tolist() == [["odi", "total", 32.0]]
    assert str(proms.accepted["completed_at"].iloc[0]) == "2026-09-07 10:00:00"


def test_ingest_chooses_a_table_and_says_about_the_other():
    pain = ingest_fhir(BUNDLE, today=TODAY)
    assert pain.table == "pain"
    assert "this input also holds 1 proms row: read it as the proms table to see it" in pain.warnings
    proms = ingest_file(BUNDLE, table="proms", today=TODAY)
    assert proms.table == "proms" and proms.n_accepted == 1
    with pytest.raises(UnknownTableError, match="not 'sessions' rows|cannot be read as a sessions table"):
        ingest_file(BUNDLE, table="sessions", today=TODAY)


def test_caller_patient_rejects_other_patients():
    result = ingest_file(BUNDLE, patient_id="P002", today=TODAY)
    assert result.n_accepted == 0
    assert "this row belongs to patient P001, not to you" in result.rejected["reason"].iloc[0]


def test_folder_of_json_and_ndjson():
    folder = FIXTURES / "fhir_folder"
    assert detect_format(folder).name == "fhir"
    found = read_fhir(folder, today=TODAY)
    assert found.results["pain"].accepted["nprs"].tolist() == [3, 4]
    assert found.results["pain"].accepted["patient_id"].unique().tolist() == ["P002"]
    assert found.results["proms"].accepted["value"].tolist() == [40.0]


def test_a_user_mapping_reads_a_clinic_questionnaire():
    source = FIXTURES / "fhir_odi_questionnaire.json"
    with pytest.raises(UnknownTableError, match=r"The questionnaire items found are 'q1', 'q2'.*'q10': to read one, "
                       r"add a row such as 'item,\*,q1,pain,,,' to a mapping CSV .* --fhir-mapping FILE"):
        ingest_fhir(source, today=TODAY)  # the built-in mapping knows no q1..q10
    mapping = FhirMapping.from_csv(FIXTURES / "fhir_odi_mapping.csv")
    result = import_file(source, today=TODAY, fhir_mapping=mapping)
    assert result.table == "proms" and result.n_accepted == 10
    assert result.accepted["item"].tolist() == [str(i) for i in range(1, 11)]
    # answers 2,0,2,1,2,3,2,3,2,2 = 19 of 50 -> ODI 38 % (ODI v2.1a: sum / (5 x sections) x 100)
    score = score_proms(result.accepted)
    assert score["score"].iloc[0] == pytest.approx(38.0)


def test_mapping_can_be_extended_in_code_and_is_not_changed():
    extra = DEFAULT_FHIR_MAPPING.extend(observations={("http://snomed.info/sct", "22253000"): FhirTarget("pain")})
    assert ("http://snomed.info/sct", "22253000") in extra.observations
    assert ("http://snomed.info/sct", "22253000") not in DEFAULT_FHIR_MAPPING.observations
    frame = extra.to_frame()
    assert set(frame["kind"]) == {"observation", "item", "answer"}
    with pytest.raises(ValueError, match="pain or proms"):
        FhirTarget("sessions")


def test_ndjson_with_a_broken_line_and_ordinal_values():
    good = {"resourceType": "QuestionnaireResponse", "status": "completed", "authored": "2026-09-08T10:00:00Z",
            "subject": {"identifier": {"system": "urn:rehabtrack:patient-id", "value": "P 7"}},
            "item": [{"linkId": "72514-3", "answer": [{"valueCoding": {
                "system": "http://clinic.example/faces", "code": "f4",
                "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                               "valueDecimal": 4}]}}]}]}
    data = (json.dumps(good) + "\n{not json\n").encode()
    result = ingest_file(data, filename="bulk.ndjson", today=TODAY)
    assert result.format == "fhir" and result.accepted["nprs"].tolist() == [4]
    assert result.accepted["patient_id"].tolist() == ["P 7"]
    assert result.rejected["reason"].tolist() == ["line 2 (not a resource): not a FHIR resource "
                                                  "(a JSON object with a resourceType)"]


# ---------------------------------------------------------------------------
# export and round trip


def test_export_validates_with_fhir_resources(cohort):
    bundle = pain_to_fhir_bundle(cohort.pain, score_proms(cohort.proms), "P001", timezone="Europe/London")
    assert validate_resource(bundle) is None
    from fhir.resources.R4B.bundle import Bundle  # the library's own model, as a user would load it

    model = Bundle.model_validate(bundle)
    assert model.type == "collection"
    first = bundle["entry"][0]["resource"]
    assert first["code"]["coding"][0] == {"system": "http://loinc.org", "code": "72514-3"}
    assert first["category"][0]["coding"][0]["code"] == "survey"
    assert first["subject"] == {"reference": "Patient/P001"}
    # the clock time is kept and labelled with London's offset that day (BST, +01:00 in August)
    pain = cohort.pain.loc[cohort.pain["patient_id"] == "P001"].sort_values("recorded_at")
    assert first["effectiveDateTime"] == pain["recorded_at"].iloc[0].strftime("%Y-%m-%dT%H:%M:%S") + "+01:00"
    assert first["valueInteger"] == int(pain["nprs"].iloc[0])
    odi = [e["resource"] for e in bundle["entry"] if e["resource"]["code"]["coding"][0]["code"] == "97909-6"]
    assert odi and all(o["valueQuantity"]["unit"] == "%" for o in odi)


def test_round_trip_gives_the_same_rows(cohort):
    scored = score_proms(cohort.proms)
    bundle = pain_to_fhir_bundle(cohort.pain, scored, "P001", timezone="America/New_York")
    found = read_fhir(json.dumps(bundle).encode(), today=TODAY, timezone="America/New_York")
    original = cohort.pain.loc[cohort.pain["patient_id"] == "P001"].sort_values("recorded_at")
    pd.testing.assert_frame_equal(found.results["pain"].accepted, original.reset_index(drop=True))
    odi = scored.loc[(scored["patient_id"] == "P001") & (scored["instrument"] == "odi") & scored["score"].notna()]
    back = found.results["proms"].accepted
    assert back["completed_at"].tolist() == odi["completed_at"].tolist()
    assert back["value"].tolist() == odi["score"].tolist()
    assert (back["item"] == "total").all() and (back["instrument"] == "odi").all()
    # and scoring the re-imported totals gives the same scores
    assert score_proms(back)["score"].tolist() == odi["score"].tolist()


def test_round_trip_keeps_flare_location_and_notes():
    pain = pd.DataFrame({
        "patient_id": pd.array(["X_1", "X_1"], dtype="string"),
        # 03:30 on 29 March 2026 is the first hours of British Summer Time (+01:00), 8 September is BST too
        "recorded_at": pd.to_datetime(["2026-03-29 03:30:00", "2026-09-08 20:00:15"]),
        "nprs": pd.array([7, 0], dtype="Int64"),
        "location": pd.array(["both", None], dtype="string"),
        "flare": pd.array([True, None], dtype="boolean"),
        "notes": pd.array(["line one\nline two", None], dtype="string"),
    })
    bundle = pain_to_fhir_bundle(pain, None, "X_1", timezone="Europe/London")
    resource = bundle["entry"][0]["resource"]
    # "X_1" is not a FHIR id (no underscore allowed): the subject is an identifier instead
    assert resource["subject"] == {"identifier": {"system": "urn:rehabtrack:patient-id", "value": "X_1"}}
    assert resource["extension"] == [{"url": FLARE_EXTENSION, "valueBoolean": True}]
    assert resource["effectiveDateTime"] == "2026-03-29T03:30:00+01:00"
    back = read_fhir(json.dumps(bundle).encode(), today=TODAY, timezone="Europe/London").results["pain"].accepted
    pd.testing.assert_frame_equal(back, pain)


def test_export_rejects_an_unknown_zone():
    with pytest.raises(ValueError, match="unknown time zone"):
        pain_to_fhir_bundle(pd.DataFrame(columns=["patient_id", "recorded_at", "nprs"]), None, "P1",
                            timezone="Mars/Olympus")


def test_cli_export_fhir_writes_a_valid_bundle(tmp_path):
    out = tmp_path / "p001.json"
    result = CliRunner().invoke(cli.app, ["export-fhir", "--patient", "P001", "--out", str(out)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    bundle = json.loads(out.read_text())
    assert validate_resource(bundle) is None
    n_pain = sum(e["resource"]["code"]["coding"][0]["code"] == "72514-3" for e in bundle["entry"])
    assert f"({n_pain} pain scores" in result.output
    missing = CliRunner().invoke(cli.app, ["export-fhir", "--patient", "P999", "--out", str(out)])
    assert missing.exit_code == 2 and "there is no patient 'P999'" in missing.output
