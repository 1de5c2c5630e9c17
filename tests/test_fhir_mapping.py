"""FHIR mapping as data, questionnaires that name questions by linkId only, vendor fields, folders (issue 16, 6).

The clinic's series is written here by hand the way the real one was: QuestionnaireResponses
whose items carry only a ``linkId`` (``back_pain_level_before``, ``current_pain_level``) and
whose answers are LOINC answer codes of the 0-10 list LL2335-9, with a vendor's top-level
field ``__phdpCreated``. The answer codes' numbers are typed in this file from LOINC's list
(https://loinc.org/LL2335-9/), independently of the table the code ships.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analysis import cli
from analysis.errors import UnknownTableError
from analysis.importers.fhir import (
    DATA_FILES,
    DEFAULT_FHIR_MAPPING,
    PAIN_ANSWER_CODES,
    FhirMapping,
    clinic_fhir_mapping,
    pack_folder,
    read_answer_list,
)
from analysis.ingest import ingest_file

TODAY = date(2026, 11, 25)
ZONE = "Europe/Berlin"
LL2335_9 = {"LA6111-4": 0, "LA6112-2": 1, "LA6113-0": 2, "LA6114-8": 3, "LA6115-5": 4, "LA10137-0": 5,
            "LA10138-8": 6, "LA10139-6": 7, "LA10140-4": 8, "LA10141-2": 9, "LA13942-0": 10}
MAPPING = "kind,system,code,table,instrument,item,value\nitem,*,current_pain_level,pain,,,\n"


def response(ident: str, authored: str, before: str, current: str) -> dict:
    def answer(code: str) -> list[dict]:
        return [{"valueCoding": {"system": "http://loinc.org", "code": code}}]

    return {"resourceType": "QuestionnaireResponse", "id": ident, "status": "completed", "authored": authored,
            "__phdpCreated": "2026-09-08T10:00:00.000Z",  # a vendor's field: not FHIR R4
            "questionnaire": "http://clinic.example/Questionnaire/back-pain-session",
            "subject": {"reference": "Patient/P001"},
            "item": [{"linkId": "back_pain_level_before", "answer": answer(before)},
                     {"linkId": "current_pain_level", "answer": answer(current)}]}


def series() -> bytes:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": response("qr-1", "2026-09-08T10:00:00+02:00", "LA10139-6", "LA6115-5")},   # 7, 4
        {"resource": response("qr-2", "2026-09-15T10:00:00+02:00", "LA10138-8", "LA6114-8")},   # 6, 3
        {"resource": response("qr-3", "2026-09-22T10:00:00+02:00", "LA10137-0", "LA6112-2")},   # 5, 1
    ]}
    return json.dumps(bundle).encode()


def test_the_shipped_loinc_table_is_the_0_to_10_answer_list():
    assert PAIN_ANSWER_CODES == LL2335_9
    assert read_answer_list(DATA_FILES / "loinc_LL2335-9.csv") == {("http://loinc.org", c): float(v)
                                                                    for c, v in LL2335_9.items()}
    text = (DATA_FILES / "loinc_LL2335-9.csv").read_text(encoding="utf-8")
    assert "https://loinc.org/LL2335-9/" in text  # the source is cited in the file
    assert {("http://loinc.org", c) for c in LL2335_9} <= set(DEFAULT_FHIR_MAPPING.answers)


def test_linkid_only_answers_without_a_mapping_say_which_linkids_to_map():
    with pytest.raises(UnknownTableError) as info:
        ingest_file(series(), filename="series.json", today=TODAY, timezone=ZONE)
    message = str(info.value)
    assert "The questionnaire items found are 'back_pain_level_before', 'current_pain_level'" in message
    assert "item,*,back_pain_level_before,pain,,," in message and "--fhir-mapping FILE" in message


def test_a_mapping_csv_reads_linkid_only_answers_through_the_loinc_answer_codes(tmp_path):
    path = tmp_path / "clinic.csv"
    path.write_text("# the clinic's own rows\n" + MAPPING, encoding="utf-8")
    mapping = FhirMapping.from_csv(path)
    r = ingest_file(series(), filename="series.json", today=TODAY, timezone=ZONE, fhir_mapping=mapping)
    assert r.table == "pain" and (r.n_accepted, r.n_rejected) == (3, 0)
    assert r.accepted["nprs"].tolist() == [4, 3, 1]  # LA6115-5, LA6114-8, LA6112-2
    assert [str(t) for t in r.accepted["recorded_at"]] == ["2026-09-08 10:00:00", "2026-09-15 10:00:00",
                                                           "2026-09-22 10:00:00"]
    # the vendor field is a warning, not a rejection; the unmapped question is named
    assert any("fields that FHIR R4 does not define were left out" in w and "'__phdpCreated' (3 resources)" in w
               for w in r.warnings)
    assert any("'back_pain_level_before' (3 answers)" in w for w in r.warnings)
    assert any("3 times of 'recorded_at' were written with a UTC offset" in w for w in r.warnings)


def test_an_unknown_field_inside_an_item_is_left_out_too_but_a_wrong_type_still_rejects():
    odd = response("qr-9", "2026-09-08T10:00:00+02:00", "LA10139-6", "LA6115-5")
    odd["item"][1]["vendorScore"] = 4
    broken = response("qr-10", "2026-09-09T10:00:00+02:00", "LA10139-6", "LA6115-5")
    broken["status"] = 12  # not a code
    data = (json.dumps(odd) + "\n" + json.dumps(broken) + "\n").encode()
    mapping = FhirMapping.from_csv(MAPPING.encode())
    r = ingest_file(data, filename="bulk.ndjson", today=TODAY, timezone=ZONE, fhir_mapping=mapping)
    assert r.accepted["nprs"].tolist() == [4]
    assert any("'item.vendorScore' (1 resource)" in w for w in r.warnings)
    assert len(r.rejected) == 1 and "not a valid FHIR R4 QuestionnaireResponse: status" in r.rejected["reason"][0]


def test_the_clinic_mapping_in_the_data_directory(tmp_path):
    assert clinic_fhir_mapping(tmp_path) is None
    (tmp_path / "fhir_mapping.csv").write_text(MAPPING, encoding="utf-8")
    mapping = clinic_fhir_mapping(tmp_path)
    assert mapping is not None and ("*", "current_pain_level") in mapping.items
    assert mapping.observations == DEFAULT_FHIR_MAPPING.observations  # the built-in rows stay
    (tmp_path / "fhir_mapping.csv").write_text("kind,system,code\nbogus,x,y\n", encoding="utf-8")
    with pytest.raises(ValueError, match="fhir_mapping.csv: FHIR mapping line 2: kind must be"):
        clinic_fhir_mapping(tmp_path)


def test_a_packed_folder_reads_exactly_as_the_folder(tmp_path):
    folder = tmp_path / "series"
    folder.mkdir()
    (folder / "a.json").write_bytes(series())
    extra = response("qr-4", "2026-09-29T10:00:00+02:00", "LA6113-0", "LA99999-9")  # an unknown answer code
    (folder / "b.ndjson").write_text(json.dumps(extra) + "\n", encoding="utf-8")
    mapping = FhirMapping.from_csv(MAPPING.encode())
    direct = ingest_file(folder, today=TODAY, timezone=ZONE, fhir_mapping=mapping)
    packed = ingest_file(pack_folder(folder), filename="series", today=TODAY, timezone=ZONE, fhir_mapping=mapping)
    assert direct.accepted.equals(packed.accepted) and direct.rejected.equals(packed.rejected)
    assert packed.rejected["reason"].tolist() == [
        "b.ndjson (QuestionnaireResponse qr-4), item 'current_pain_level': the answer code 'LA99999-9' "
        "(http://loinc.org) has no number in the FHIR mapping; add it to the mapping's answer codes"]


def test_validate_takes_a_mapping_file_and_a_time_zone(tmp_path):
    data, mapping = tmp_path / "series.json", tmp_path / "clinic.csv"
    data.write_bytes(series())
    mapping.write_text(MAPPING, encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(cli.app, ["validate", str(data), "--fhir-mapping", str(mapping), "--timezone", "Asia/Tokyo"])
    assert r.exit_code == 0, r.output
    assert "accepted: 3" in r.output
    r = runner.invoke(cli.app, ["validate", str(data)])
    assert r.exit_code == 2 and "back_pain_level_before" in r.output
    r = runner.invoke(cli.app, ["validate", str(data), "--timezone", "Mars/Base"])
    assert r.exit_code == 2 and "IANA time zone" in r.output


def test_the_default_mapping_is_read_from_the_shipped_csv():
    text = (Path(DATA_FILES) / "fhir_mapping.csv").read_text(encoding="utf-8")
    assert "observation,http://loinc.org,72514-3,pain,,," in text
    assert FhirMapping.from_csv(DATA_FILES / "fhir_mapping.csv", base=FhirMapping()).observations == \
        DEFAULT_FHIR_MAPPING.observations
