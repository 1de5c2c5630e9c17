"""Importers for app exports and FHIR, recognised from the file's content.

:func:`detect_format` looks at the first 64 KiB of a file (never its name
alone) and returns the :class:`Importer` that reads it:

========== ===================================================== =================
name       recognised by                                         becomes
========== ===================================================== =================
strong     header ``Date, Workout Name, Exercise Name, Set        ``sessions``
           Order`` (iOS, 2024 iOS, Android), or Strong's column
           layout when the headers are translated
hevy       header ``title, start_time, exercise_title,            ``sessions``
           set_index``
fitnotes   header ``Date, Exercise, Category, Weight..., Reps``   ``sessions``
fhir       JSON or NDJSON with a FHIR ``resourceType`` (Bundle,   ``pain``, ``proms``
           Observation, QuestionnaireResponse), or a folder of
           such files
csv        any other text table (the generic ingestion of         any table
           :mod:`analysis.ingest`)
xlsx       an Excel workbook                                      any table
json       any other JSON (records)                               any table
========== ===================================================== =================

:func:`dispatch` is the format dispatcher: it calls :func:`find_importer` and
runs the app importer it names, or else reads the file as a rehabtrack table
(:func:`analysis.reading.read_table`, then :func:`analysis.tables.ingest_raw`).
:func:`analysis.ingest.ingest_file` (and so the upload page and
``rehabtrack validate``) delegates to it, so app exports are recognised
wherever a file is read; the result's ``format`` names the importer and its
first warning says how the file was read. A file that is none of these raises
:class:`UnknownFormatError`, whose message lists the supported formats.

Dependencies go one way: the importers use :mod:`analysis.reading`,
:mod:`analysis.tables` and :mod:`analysis.validation`, and none of those
imports this package; :mod:`analysis.ingest` sits on top.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from analysis.errors import IngestError, UnknownTableError, UnreadableFileError
from analysis.importers.fhir import FhirMapping, ingest_fhir, sniff_fhir
from analysis.importers.fitnotes import ingest_fitnotes, sniff_fitnotes
from analysis.importers.hevy import ingest_hevy, sniff_hevy
from analysis.importers.strong import ingest_strong, sniff_strong
from analysis.reading import HEAD_BYTES, decode_head, read_table, reject_binary, sniff_delimiter, sniff_encoding
from analysis.tables import IngestResult, ingest_raw
from analysis.validation import check_table_name

__all__ = [
    "Importer",
    "IMPORTERS",
    "UnknownFormatError",
    "detect_format",
    "dispatch",
    "find_importer",
    "import_file",
    "run_importer",
    "supported_formats",
    "unknown_format",
]

@dataclass(frozen=True)
class Importer:
    """One supported format.

    Attributes
    ----------
    name
        The result's ``format`` (``"strong"``, ``"hevy"``, ``"fitnotes"``,
        ``"fhir"``, ``"csv"``, ``"xlsx"``, ``"json"``).
    label
        Its name in words, for messages.
    tables
        Canonical tables it produces.
    example
        A one-line example of the format (for the README and error messages).
    ingest
        Reads a file into an :class:`~analysis.tables.IngestResult`
        (the signature of :func:`analysis.ingest.ingest_file`); ``None`` for
        the generic formats, which :func:`dispatch` reads as rehabtrack tables.
    """

    name: str
    label: str
    tables: tuple[str, ...]
    example: str
    ingest: Callable[..., IngestResult] | None = None

    @property
    def is_app(self) -> bool:
        """True for an app or FHIR importer, False for the generic table formats."""
        return self.ingest is not None


#: Every supported format, app importers first (the order detection tries them).
IMPORTERS: dict[str, Importer] = {i.name: i for i in (
    Importer("strong", "Strong workout export (CSV)", ("sessions",),
             "Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,"
             "Workout Notes,RPE", ingest_strong),
    Importer("hevy", "Hevy workout export (CSV)", ("sessions",),
             '"title","start_time","end_time","description","exercise_title","superset_id","exercise_notes",'
             '"set_index","set_type","weight_kg","reps","distance_km","duration_seconds","rpe"', ingest_hevy),
    Importer("fitnotes", "FitNotes workout export (CSV)", ("sessions",),
             "Date,Exercise,Category,Weight (kgs),Reps,Distance,Distance Unit,Time,Comment", ingest_fitnotes),
    Importer("fhir", "FHIR R4 JSON (Bundle, Observation, QuestionnaireResponse; NDJSON or a folder)",
             ("pain", "proms"), '{"resourceType": "Bundle", "type": "collection", "entry": [...]}', ingest_fhir),
    Importer("csv", "rehabtrack table as CSV (any delimiter)", ("sessions", "pain", "prescriptions", "patients",
                                                                "proms"),
             "patient_id,performed_at,exercise,side,sets,reps,hold_s"),
    Importer("xlsx", "rehabtrack table as Excel .xlsx", ("sessions", "pain", "prescriptions", "patients", "proms"),
             "a sheet whose first row holds the column names"),
    Importer("json", "rehabtrack table as JSON records", ("sessions", "pain", "prescriptions", "patients", "proms"),
             '[{"patient_id": "P001", "recorded_at": "2026-09-08 20:00", "nprs": 4}]'),
)}


def supported_formats() -> str:
    """The supported formats as one sentence, for messages."""
    return "; ".join(i.label for i in IMPORTERS.values())


class UnknownFormatError(UnknownTableError, UnreadableFileError):
    """A file matches none of the supported formats; the message lists them.

    It is both an :class:`~analysis.errors.UnknownTableError` (the columns match
    no table) and an :class:`~analysis.errors.UnreadableFileError` (not a table
    at all), so callers catching either keep working.
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(f"{message.rstrip('.')}. Supported formats: {supported_formats()}.", source=source)


@dataclass(frozen=True)
class _Head:
    name: str
    data: bytes
    is_dir: bool = False
    dir_has_json: bool = False


def _head(source: str | Path | bytes, filename: str | None) -> _Head | None:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source[:HEAD_BYTES])
        return _Head(filename or "<upload>", data)
    path = Path(source)
    name = filename or path.name
    if path.is_dir():
        files = [p for p in path.iterdir() if p.suffix.lower() in (".json", ".ndjson") and p.is_file()]
        head = b""
        if files:
            with sorted(files)[0].open("rb") as fh:
                head = fh.read(HEAD_BYTES)
        return _Head(name, head, is_dir=True, dir_has_json=bool(files))
    if not path.is_file():
        return None  # the generic reader says that it does not exist
    with path.open("rb") as fh:
        return _Head(name, fh.read(HEAD_BYTES))


def _text(head: bytes) -> str | None:
    encoding = sniff_encoding(head)
    text = decode_head(head, encoding)
    try:
        reject_binary(text, "")
    except UnreadableFileError:
        return None
    return text.lstrip("\ufeff")


def _table_head(text: str) -> tuple[list[str], list[list[str]], str]:
    truncated = len(text.encode("utf-8", errors="replace")) >= HEAD_BYTES - 4
    delimiter = sniff_delimiter(text, truncated)
    lines = text.splitlines()
    if truncated and len(lines) > 1:
        lines = lines[:-1]
    lines = [ln for ln in lines[:41] if ln.strip()]
    try:
        parsed = list(csv.reader(lines, delimiter=delimiter))
    except csv.Error:
        return [], [], delimiter
    if not parsed:
        return [], [], delimiter
    return [h.strip() for h in parsed[0]], parsed[1:], delimiter


#: The CSV app sniffers, in the order they are tried.
_SNIFFERS: tuple[tuple[str, Callable[[Sequence[str], Sequence[Sequence[str]], str], bool]], ...] = (
    ("hevy", sniff_hevy), ("strong", sniff_strong), ("fitnotes", sniff_fitnotes))


def find_importer(source: str | Path | bytes, filename: str | None = None) -> Importer | None:
    """The app or FHIR importer for a file, or ``None`` when the generic ingestion should read it.

    Parameters
    ----------
    source
        Path (file or folder) or bytes.
    filename
        Name of an upload.

    Returns
    -------
    Importer or None
        ``None`` for an empty, missing, Excel or generic text file (the
        generic reader handles it and its errors).

    Raises
    ------
    UnknownFormatError
        The content is binary and not an Excel workbook.
    """
    head = _head(source, filename)
    if head is None:
        return None
    if head.is_dir:
        if head.dir_has_json and (text := _text(head.data)) is not None:
            if sniff_fhir(text):
                return IMPORTERS["fhir"]
        return None
    data = head.data
    if not data.strip() or data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return None
    text = _text(data)
    if text is None:
        raise UnknownFormatError("this does not look like a table or a FHIR file: it is neither text (CSV, JSON) "
                                 "nor an Excel .xlsx workbook", source=head.name)
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        return IMPORTERS["fhir"] if sniff_fhir(stripped) else None
    headers, rows, delimiter = _table_head(text)
    for name, sniff in _SNIFFERS:
        if headers and sniff(headers, rows, delimiter):
            return IMPORTERS[name]
    return None


def detect_format(source: str | Path | bytes, filename: str | None = None) -> Importer:
    """The importer that reads a file, recognised from its content.

    Parameters
    ----------
    source
        Path (file or FHIR folder) or the raw bytes of an upload.
    filename
        Name of an upload (only its extension tells JSON from CSV when the
        content does not).

    Returns
    -------
    Importer
        An app importer (``strong``, ``hevy``, ``fitnotes``, ``fhir``) or a
        generic one (``csv``, ``xlsx``, ``json``).

    Raises
    ------
    UnknownFormatError
        The content is binary and not a workbook, or the file is empty.
    """
    found = find_importer(source, filename)
    if found is not None:
        return found
    head = _head(source, filename)
    name = head.name if head else (filename or str(source))
    if head is None:  # only a path can be missing
        raise UnreadableFileError(f"{os.fspath(source) if not isinstance(source, bytes) else name} does not exist",
                                  source=name)
    if head.is_dir:
        raise UnknownFormatError("the folder holds no FHIR .json or .ndjson files", source=name)
    if not head.data.strip():
        raise UnknownFormatError("the file is empty", source=name)
    if head.data.startswith(b"PK\x03\x04"):
        return IMPORTERS["xlsx"]
    text = _text(head.data) or ""
    suffix = Path(name).suffix.lower()
    if suffix == ".json" or (suffix not in (".csv", ".tsv", ".txt") and text.lstrip()[:1] in ("[", "{")):
        return IMPORTERS["json"]
    return IMPORTERS["csv"]


def run_importer(
    importer: Importer,
    source: str | Path | bytes,
    *,
    filename: str | None,
    table: str | None,
    patient_id: str | None,
    dayfirst: bool,
    today: date | None,
    **options: object,
) -> IngestResult:
    """Run an app importer, after checking that it can give the table asked for."""
    if importer.ingest is None:
        raise ValueError(f"{importer.name} is read by analysis.importers.dispatch")
    if table is not None and table not in importer.tables:
        raise UnknownTableError(
            f"this is a {importer.label}, which holds {' and '.join(importer.tables)} rows; it cannot be read as "
            f"a {table} table", source=filename or (Path(source).name if not isinstance(source, bytes) else None))
    return importer.ingest(source, filename=filename, table=table, patient_id=patient_id, dayfirst=dayfirst,
                           today=today, **options)


def import_file(
    source: str | Path | bytes,
    *,
    filename: str | None = None,
    table: str | None = None,
    patient_id: str | None = None,
    dayfirst: bool = True,
    today: date | None = None,
    fhir_mapping: FhirMapping | None = None,
    timezone: str | None = None,
    people: Mapping[str, str] | None = None,
) -> IngestResult:
    """Read any supported file: detect its format from the content and run that importer.

    The same as :func:`dispatch` (kept as the name the importers' tests use).

    Parameters
    ----------
    source, filename, table, patient_id, dayfirst, today, fhir_mapping, timezone, people
        As in :func:`analysis.ingest.ingest_file`.

    Returns
    -------
    IngestResult
        ``format`` names the importer used.

    Raises
    ------
    UnknownFormatError
        The content matches no supported format (the message lists them).
    IngestError
        Any error of the importer or of the generic ingestion.
    """
    return dispatch(source, filename=filename, table=table, patient_id=patient_id, dayfirst=dayfirst, today=today,
                    fhir_mapping=fhir_mapping, timezone=timezone, people=people)


def dispatch(
    source: str | Path | bytes,
    *,
    filename: str | None = None,
    table: str | None = None,
    patient_id: str | None = None,
    dayfirst: bool = True,
    today: date | None = None,
    fhir_mapping: FhirMapping | None = None,
    timezone: str | None = None,
    people: Mapping[str, str] | None = None,
) -> IngestResult:
    """Recognise a file's format from its content and read it with the right importer.

    App exports (Strong, Hevy, FitNotes) and FHIR are recognised first
    (:func:`find_importer`); anything else is read as a rehabtrack table
    (:func:`analysis.reading.read_table`, then :func:`analysis.tables.ingest_raw`).
    This is the body of :func:`analysis.ingest.ingest_file`.

    Parameters
    ----------
    source, filename, table, patient_id, dayfirst, today, fhir_mapping, timezone, people
        As in :func:`analysis.ingest.ingest_file`.

    Returns
    -------
    IngestResult
        ``format`` names the importer used.

    Raises
    ------
    UnreadableFileError
        The file is missing, empty, binary, has a header but no rows, or cannot
        be parsed as CSV / xlsx / JSON.
    MissingColumnsError
        Required columns are absent.
    UnknownTableError
        ``table`` is not a canonical table, or the columns match none
        (:class:`UnknownFormatError`, listing the formats).
    """
    table = check_table_name(table, filename)
    importer = find_importer(source, filename)
    if importer is not None:
        if people:
            raise UnknownTableError(f"a {importer.label} names no people, so no patient can be chosen per person; "
                                    "choose the patient of the whole file instead", source=filename)
        options: dict[str, Any] = {"timezone": timezone}
        if importer.name == "fhir" and fhir_mapping is not None:
            options["mapping"] = fhir_mapping
        return run_importer(importer, source, filename=filename, table=table, patient_id=patient_id,
                            dayfirst=dayfirst, today=today, **options)
    frame, info = read_table(source, filename, table, as_category=True)
    try:
        return ingest_raw(frame, info, table=table, patient_id=patient_id, dayfirst=dayfirst, today=today,
                          timezone=timezone, people=people)
    except UnknownTableError as exc:  # columns of no table and of no app: say what can be read
        raise unknown_format(exc) from None


def unknown_format(error: IngestError) -> UnknownFormatError:
    """The same problem as ``error``, with the list of supported formats added."""
    message = str(error)
    if error.source and message.startswith(f"{error.source}: "):
        message = message[len(error.source) + 2:]
    return UnknownFormatError(message, source=error.source)
