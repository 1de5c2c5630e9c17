"""Format detection (analysis.importers) and its hook into ingest_file and `rehabtrack validate`.

The format of each fixture is known because we wrote it (or, for the real
exports, because SOURCES.md says which app made it); detection must find it
from the content alone.
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analysis import cli
from analysis.errors import UnknownTableError, UnreadableFileError
from analysis.importers import IMPORTERS, UnknownFormatError, detect_format, find_importer, import_file
from analysis.ingest import ingest_file
from tests.conftest import REFERENCE_DIR, SAMPLE_DIR

FIXTURES = Path(__file__).parent / "fixtures" / "importers"
INGEST_FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(("name", "expected"), [
    ("strong_ios_quirks.csv", "strong"),
    ("strong_ios_2024.csv", "strong"),
    ("strong_android_en.csv", "strong"),
    ("strong_android_de.csv", "strong"),
    ("hevy_quirks.csv", "hevy"),
    ("fitnotes.csv", "fitnotes"),
    ("fitnotes_lbs.csv", "fitnotes"),
    ("fhir_bundle.json", "fhir"),
    ("fhir_odi_questionnaire.json", "fhir"),
    ("fhir_folder", "fhir"),
])
def test_app_formats_are_recognised(name, expected):
    assert detect_format(FIXTURES / name).name == expected


@pytest.mark.parametrize(("path", "expected"), [
    (REFERENCE_DIR / "strong" / "strong_ios_export.csv", "strong"),
    (REFERENCE_DIR / "hevy" / "hevy_export_head.csv", "hevy"),
])
def test_real_exports_are_recognised(path, expected):
    assert path.is_file(), f"{path} is missing: the real exports live in tests/fixtures/reference (see its SOURCES.md)"
    assert detect_format(path).name == expected
    assert detect_format(path.read_bytes(), "upload.csv").name == expected  # an upload: bytes and a name


@pytest.mark.parametrize(("path", "expected"), [
    (SAMPLE_DIR / "sessions.csv", "csv"),
    (SAMPLE_DIR / "my_sessions.csv", "csv"),
    (SAMPLE_DIR / "my_pain_diary.csv", "csv"),
    (INGEST_FIXTURES / "sessions_semicolon.csv", "csv"),
    (INGEST_FIXTURES / "sessions.json", "json"),
    (INGEST_FIXTURES / "pain_by_table.json", "json"),
])
def test_rehabtrack_tables_keep_the_generic_reader(path, expected):
    assert find_importer(path) is None
    assert detect_format(path).name == expected


def test_xlsx_is_generic(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["patient_id", "recorded_at", "nprs"])
    book.active.append(["P1", "2026-09-08 20:00", 4])
    path = tmp_path / "pain.xlsx"
    book.save(path)
    assert detect_format(path).name == "xlsx"
    assert ingest_file(path, today=TODAY).format == "xlsx"


def test_ingest_file_names_the_importer_for_uploads():
    data = (FIXTURES / "hevy_quirks.csv").read_bytes()
    result = ingest_file(data, filename="workouts.csv", patient_id="P001", today=TODAY)
    assert (result.format, result.source, result.table) == ("hevy", "workouts.csv", "sessions")
    assert result.warnings[0].startswith("read as a Hevy workout export")
    assert import_file(data, filename="workouts.csv", patient_id="P001", today=TODAY).n_accepted == 4


def test_unknown_columns_list_the_supported_formats():
    with pytest.raises(UnknownFormatError) as caught:
        ingest_file(b"foo,bar\n1,2\n", filename="foo.csv")
    message = str(caught.value)
    assert message.startswith("foo.csv: could not tell what kind of log this is")
    for importer in IMPORTERS.values():
        assert importer.label in message
    assert isinstance(caught.value, UnknownTableError)  # callers catching the old error keep working


def test_binary_content_lists_the_supported_formats():
    noise = random.Random(0).randbytes(4096)
    with pytest.raises(UnknownFormatError, match="Supported formats: Strong workout export") as caught:
        detect_format(noise, "noise.bin")
    assert isinstance(caught.value, UnreadableFileError)
    with pytest.raises(UnreadableFileError, match="does not look like a table"):
        ingest_file(noise, filename="noise.csv")


def test_a_table_an_app_cannot_give_is_refused():
    with pytest.raises(UnknownTableError, match="holds sessions rows; it cannot be read as a pain table"):
        ingest_file(FIXTURES / "fitnotes.csv", table="pain", patient_id="P1", today=TODAY)


def test_empty_files_and_folders():
    with pytest.raises(UnreadableFileError, match="the file is empty"):
        ingest_file(b"", filename="empty.csv")
    with pytest.raises(UnknownFormatError, match="the file is empty"):
        detect_format(b"   \n", "empty.csv")
    with pytest.raises(UnreadableFileError, match="is a folder"):
        ingest_file(INGEST_FIXTURES)  # a folder without FHIR files


def test_validate_says_which_importer_was_used():
    runner = CliRunner()
    result = runner.invoke(cli.app, ["validate", str(FIXTURES / "strong_android_de.csv"), "-p", "P001"],
                           env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "format: strong | encoding: utf-8 | delimiter: ;" in result.output
    assert "Importer: Strong workout export (CSV) (recognised from the content)" in result.output
    assert "Rows: 4 | accepted: 4 | rejected: 0 | duplicates: 0" in result.output
    rejected = runner.invoke(cli.app, ["validate", str(FIXTURES / "hevy_quirks.csv"), "-p", "P001"],
                             env={"COLUMNS": "250"})
    assert rejected.exit_code == 1 and "set_type must be normal, warmup, failure or dropset" in rejected.output
    unknown = runner.invoke(cli.app, ["validate", str(FIXTURES / "strong_ios_quirks.csv")], env={"COLUMNS": "250"})
    assert unknown.exit_code == 2 and "does not say whose log it is" in unknown.output
