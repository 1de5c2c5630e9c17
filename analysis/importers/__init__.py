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

:func:`analysis.ingest.ingest_file` (and so the upload page and
``rehabtrack validate``) calls :func:`find_importer` first, so app exports are
recognised wherever a file is read; the result's ``format`` names the
importer and its first warning says how the file was read. A file that is
none of these raises :class:`UnknownFormatError`, whose message lists the
supported formats.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from analysis.errors import IngestError, UnknownTableError, UnreadableFileError
from analysis.ingest import IngestResult, ingest_file

__all__ = [
    "Importer",
    "IMPORTERS",
    "UnknownFormatError",
    "detect_format",
    "find_importer",
    "import_file",
    "run_importer",
    "supported_formats",
    "unknown_format",
]

_HEAD_BYTES = 1 << 16


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
        Reads a file into an :class:`~analysis.ingest.IngestResult`
        (the signature of :func:`analysis.ingest.ingest_file`); ``None`` for
        the generic formats, which :func:`analysis.ingest.ingest_file` reads.
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


def _strong(*args: object, **kwargs: object) -> IngestResult:
    from analysis.importers.strong import ingest_strong

    return ingest_strong(*args, **kwargs)  # type: ignore[arg-type]


def _hevy(*args: object, **kwargs: object) -> IngestResult:
    from analysis.importers.hevy import ingest_hevy

    return ingest_hevy(*args, **kwargs)  # type: ignore[arg-type]


def _fitnotes(*args: object, **kwargs: object) -> IngestResult:
    from analysis.importers.fitnotes import ingest_fitnotes

    return ingest_fitnotes(*args, **kwargs)  # type: ignore[arg-type]


def _fhir(*args: object, **kwargs: object) -> IngestResult:
    from analysis.importers.fhir import ingest_fhir

    return ingest_fhir(*args, **kwargs)  # type: ignore[arg-type]


#: Every supported format, app importers first (the order detection tries them).
IMPORTERS: dict[str, Importer] = {i.name: i for i in (
    Importer("strong", "Strong workout export (CSV)", ("sessions",),
             "Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,"
             "Workout Notes,RPE", _strong),
    Importer("hevy", "Hevy workout export (CSV)", ("sessions",),
             '"title","start_time","end_time","description","exercise_title","superset_id","exercise_notes",'
             '"set_index","set_type","weight_kg","reps","distance_km","duration_seconds","rpe"', _hevy),
    Importer("fitnotes", "FitNotes workout export (CSV)", ("sessions",),
             "Date,Exercise,Category,Weight (kgs),Reps,Distance,Distance Unit,Time,Comment", _fitnotes),
    Importer("fhir", "FHIR R4 JSON (Bundle, Observation, QuestionnaireResponse; NDJSON or a folder)",
             ("pain", "proms"), '{"resourceType": "Bundle", "type": "collection", "entry": [...]}', _fhir),
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
        data = bytes(source[:_HEAD_BYTES])
        return _Head(filename or "<upload>", data)
    path = Path(source)
    name = filename or path.name
    if path.is_dir():
        files = [p for p in path.iterdir() if p.suffix.lower() in (".json", ".ndjson") and p.is_file()]
        head = b""
        if files:
            with sorted(files)[0].open("rb") as fh:
                head = fh.read(_HEAD_BYTES)
        return _Head(name, head, is_dir=True, dir_has_json=bool(files))
    if not path.is_file():
        return None  # the generic reader says that it does not exist
    with path.open("rb") as fh:
        return _Head(name, fh.read(_HEAD_BYTES))


def _text(head: bytes) -> str | None:
    from analysis.ingest import _decode_head, _reject_binary, _sniff_encoding

    encoding = _sniff_encoding(head)
    text = _decode_head(head, encoding)
    try:
        _reject_binary(text, "")
    except UnreadableFileError:
        return None
    return text.lstrip("\ufeff")


def _table_head(text: str) -> tuple[list[str], list[list[str]], str]:
    from analysis.ingest import _sniff_delimiter

    truncated = len(text.encode("utf-8", errors="replace")) >= _HEAD_BYTES - 4
    delimiter = _sniff_delimiter(text, truncated)
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


def _sniffers() -> list[tuple[str, Callable[[Sequence[str], Sequence[Sequence[str]], str], bool]]]:
    from analysis.importers.fitnotes import sniff_fitnotes
    from analysis.importers.hevy import sniff_hevy
    from analysis.importers.strong import sniff_strong

    return [("hevy", sniff_hevy), ("strong", sniff_strong), ("fitnotes", sniff_fitnotes)]


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
            from analysis.importers.fhir import sniff_fhir

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
        from analysis.importers.fhir import sniff_fhir

        return IMPORTERS["fhir"] if sniff_fhir(stripped) else None
    headers, rows, delimiter = _table_head(text)
    for name, sniff in _sniffers():
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
    if head is None:
        raise UnreadableFileError(f"{source} does not exist", source=name)
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
        raise ValueError(f"{importer.name} is read by analysis.ingest.ingest_file")
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
    fhir_mapping: object | None = None,
) -> IngestResult:
    """Read any supported file: detect its format from the content and run that importer.

    Parameters
    ----------
    source, filename, table, patient_id, dayfirst, today
        As in :func:`analysis.ingest.ingest_file` (which gives the same result
        for every format; this function adds ``fhir_mapping``).
    fhir_mapping
        A :class:`analysis.importers.fhir.FhirMapping` for FHIR input (default
        the built-in mapping).

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
    importer = detect_format(source, filename)
    if importer.name == "fhir" and fhir_mapping is not None:
        return run_importer(importer, source, filename=filename, table=table, patient_id=patient_id,
                            dayfirst=dayfirst, today=today, mapping=fhir_mapping)
    return ingest_file(source, filename=filename, table=table, patient_id=patient_id, dayfirst=dayfirst,
                       today=today)


def unknown_format(error: IngestError) -> UnknownFormatError:
    """The same problem as ``error``, with the list of supported formats added."""
    message = str(error)
    if error.source and message.startswith(f"{error.source}: "):
        message = message[len(error.source) + 2:]
    return UnknownFormatError(message, source=error.source)
