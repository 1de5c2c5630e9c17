"""Read rehabilitation logs (CSV, Excel, JSON) into the canonical tables, row by row accountable.

Ingestion is the one place where data from outside enter rehabtrack. It

1. reads the file: CSV with any of the delimiters ``, ; tab |`` (sniffed from
   the first lines, quotes respected), UTF-8 with or without a byte-order
   mark, UTF-16 with one, and Windows-1252 / Latin-1 when the bytes are not
   UTF-8; Excel ``.xlsx`` (formulas are read as the text written, never
   computed); JSON as an array of records or ``{"<table>": [records]}``;
2. maps the headers people write to canonical columns (:mod:`analysis.headers`)
   and, unless told, works out which table the file is;
3. converts every cell to the canonical dtype of :mod:`analysis.schema` and
   checks it against the ranges and vocabularies defined there (and nowhere else);
4. returns one :class:`IngestResult`: the accepted rows as a canonical table,
   every rejected row with its row number, column, value as written and a
   reason in plain words, and warnings. Nothing is lost silently:
   ``n_accepted + n_rejected + n_duplicates == n_rows``.

Rules
-----
* Numbers: ``2,5`` is 2.5 when the delimiter is ``;``, tab or ``|`` (never in a
  comma-separated file, where it would be a guess). Whole-number columns
  reject ``2.5``. A hold header in minutes (``Hold (min)``) is converted to seconds.
* Dates: ISO 8601 first (``2026-09-08``, ``2026-09-08 07:30``), then numeric
  dates in the caller's day order (``dayfirst``), then month names
  (``8 Sep 2026``); a trailing time zone is dropped and the clock time kept.
  A date that only makes sense in the other day order is rejected with a
  reason naming the day order, and a warning says so. Dates of things that
  happened (sessions, pain ratings, questionnaires) after ``today`` are
  rejected; planning dates (programme start, prescription periods) may lie
  ahead. Dates before 1900 are rejected. Date-only columns become midnight.
* Words: side ``L``/``R``/``B``/``bilateral``... become left/right/both and a
  blank side is both; flare ``yes/no/y/n/true/false/1/0``; exercise names go
  through :func:`analysis.exercises.normalise_exercises` and unknown names are
  kept as written and counted in a warning.
* Free text (notes) is stored verbatim, including ``=1+1``.
* Rows repeating the table key (:attr:`analysis.schema.TableSpec.key`) of an
  earlier valid row are counted once; the first is kept.

Every check runs on whole columns, and every conversion on the *distinct*
values of a column (a log repeats the same few exercise names, sides and
session times many times): on a 5-million-row sessions CSV ingestion takes
about as long as ``pandas.read_csv(path, parse_dates=["performed_at"])``.

Row numbers are those a person sees in a spreadsheet: the header is row 1 and
the first data row is row 2 (for JSON: the 1-based record number). A quoted
cell that spans several lines counts as one row.
"""

from __future__ import annotations

import calendar
import codecs
import csv
import io
import json
import logging
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import MissingColumnsError, UnknownTableError, UnreadableFileError
from analysis.exercises import is_known, normalise_exercises
from analysis.headers import COLUMN_LABELS, HeaderMatch, detect_table, fold_header, match_headers
from analysis.schema import TABLES, ColumnSpec, TableSpec, conform, table_spec

__all__ = ["IngestResult", "RawInfo", "REJECTED_COLUMNS", "ingest_file", "ingest_frame", "read_raw"]

logger = logging.getLogger(__name__)

#: Columns of :attr:`IngestResult.rejected`.
REJECTED_COLUMNS: tuple[str, ...] = ("row", "column", "value", "reason")

#: Columns holding when something happened: a value after ``today`` cannot be right.
#: Planning dates (programme start, prescription start and end) may lie ahead.
_HAPPENED = frozenset({"performed_at", "recorded_at", "completed_at"})

_HEAD_BYTES = 1 << 16
_DELIMITERS = (",", ";", "\t", "|")
_NA_TOKENS = frozenset({"", "na", "n/a", "nan", "none", "null", "nil", "-", "--"})
_TRUE = frozenset({"yes", "y", "true", "t", "1"})
_FALSE = frozenset({"no", "n", "false", "f", "0"})
_MAX_LISTED = 20

# Written values of vocabulary columns (folded with analysis.headers.fold_header) -> canonical value.
_VOCABULARY: dict[str, dict[str, str]] = {
    "side": {
        **dict.fromkeys(("l", "lt", "left", "left side", "left leg", "left hand side"), "left"),
        **dict.fromkeys(("r", "rt", "right", "right side", "right leg", "right hand side"), "right"),
        **dict.fromkeys(
            ("b", "both", "both sides", "both legs", "bilateral", "bilat", "l r", "lr", "r l",
             "left right", "left and right", "l and r", "each", "each side", "each leg"),
            "both",
        ),
    },
    "location": {
        **dict.fromkeys(("back", "lower back", "low back", "lumbar", "lbp", "back pain"), "back"),
        **dict.fromkeys(("leg", "legs", "leg pain", "buttock", "sciatica"), "leg"),
        **dict.fromkeys(("both", "back and leg", "back leg", "back and legs", "back legs"), "both"),
    },
    "instrument": {
        **dict.fromkeys(("odi", "oswestry", "oswestry disability index", "odi v2 1a", "odi 2 1a"), "odi"),
        **dict.fromkeys(("rmdq", "rmq", "rmdq 24", "roland morris", "roland morris disability questionnaire"),
                        "rmdq"),
        **dict.fromkeys(("psfs", "patient specific functional scale"), "psfs"),
        **dict.fromkeys(("startback", "start back", "keele start back", "keele startback", "sbst",
                         "start back screening tool"), "startback"),
        **dict.fromkeys(("nprs", "nrs", "numeric pain rating scale"), "nprs"),
        **dict.fromkeys(("vas", "visual analogue scale", "visual analog scale"), "vas"),
    },
}
_VOCABULARY_DEFAULT: dict[str, str] = {"side": "both"}  # a blank side means both sides

# Date formats: ISO first on every value, then the caller's day order, then month names.
_ISO_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f", "%Y/%m/%d", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S",
)
_DAY_FIRST_FORMATS = (
    "%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%y", "%d/%m/%y %H:%M", "%d/%m/%y %H:%M:%S",
    "%d/%m/%Y %I:%M %p", "%d/%m/%Y %I:%M:%S %p", "%d/%m/%y %I:%M %p",
)
_MONTH_FIRST_FORMATS = tuple(f.replace("%d/%m", "%m/%d") for f in _DAY_FIRST_FORMATS)
_NAMED_MONTH_FORMATS = (
    "%d %b %Y", "%d %B %Y", "%d %b %Y %H:%M", "%d %B %Y %H:%M", "%d %b %Y %H:%M:%S", "%d %b %y",
    "%b %d %Y", "%B %d %Y", "%b %d %Y %H:%M", "%B %d %Y %H:%M", "%b %d %Y %I:%M %p",
    "%a %d %b %Y", "%A %d %B %Y", "%a %d %b %Y %H:%M", "%a %d %b %Y %H:%M:%S",
)
_NUMERIC_DATE = r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})(?:(?:,\s*|\s+|T)(.*))?$"
_ISO_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:$|[ T])")
_NUMERIC_DATE_RE = re.compile(_NUMERIC_DATE)
_TZ_SUFFIX = r"(?<=\d)\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})$"


# ---------------------------------------------------------------------------
# result objects


@dataclass(frozen=True)
class RawInfo:
    """How a file was read, before any column was interpreted.

    Attributes
    ----------
    source
        File name, or ``"<upload>"`` for bytes without a name.
    format
        ``"csv"``, ``"xlsx"`` or ``"json"``.
    encoding
        Text encoding used (``"utf-8"``, ``"utf-8-sig"``, ``"utf-16"``,
        ``"cp1252"``, ``"latin-1"``); ``""`` for xlsx.
    delimiter
        CSV field delimiter; ``""`` for xlsx and JSON.
    row_numbers
        For each row of the frame, its row number in the file (header = row 1;
        for JSON the 1-based record number).
    bad_rows
        ``(row, reason)`` for rows that could not be split into the file's
        columns (a CSV line with too many values, a JSON record that is not an
        object); they are not in the frame and are reported as rejected.
    blank_rows
        Number of empty lines skipped.
    table_hint
        Table named by the file itself (JSON key, Excel sheet name), if any.
    notes
        Things the reader did that a user should know (e.g. which sheet was read).
    """

    source: str
    format: str
    encoding: str
    delimiter: str
    row_numbers: np.ndarray
    bad_rows: tuple[tuple[int, str], ...] = ()
    blank_rows: int = 0
    table_hint: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class IngestResult:
    """Everything one ingestion produced.

    Attributes
    ----------
    table
        Canonical table the file was read as.
    source
        File name, or ``"<upload>"``.
    format
        ``"csv"``, ``"xlsx"``, ``"json"`` (``"frame"`` for :func:`ingest_frame`),
        or the app importer that read the file: ``"strong"``, ``"hevy"``,
        ``"fitnotes"``, ``"fhir"`` (see :mod:`analysis.importers`).
    encoding
        Text encoding used (``""`` when not applicable).
    delimiter
        CSV delimiter (``""`` when not applicable).
    date_order
        ``"day-first"`` or ``"month-first"``: how dates like 01/02/2026 were read.
    header_mapping
        File header -> canonical column, for every header that was used.
    accepted
        The valid rows as a canonical table: exactly the columns and dtypes of
        :mod:`analysis.schema`, duplicates removed, a fresh ``RangeIndex``.
    rejected
        One row per problem: ``row`` (int64, row number in the file as a person
        counts it, header = 1; JSON: record number), ``column`` (canonical
        column, ``""`` when the whole row is unusable), ``value`` (the cell as
        written, ``""`` when empty) and ``reason`` (plain words). A row with
        several problems appears once per problem.
    warnings
        Things that did not stop a row but that the user should know.
    n_rows
        Data rows in the file (empty lines not counted).
    duplicate_rows
        Row numbers of rows that repeat an earlier row's key (counted once).
    """

    table: str
    source: str
    format: str
    encoding: str
    delimiter: str
    date_order: str
    header_mapping: dict[str, str]
    accepted: pd.DataFrame
    rejected: pd.DataFrame
    warnings: list[str]
    n_rows: int
    duplicate_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @property
    def n_accepted(self) -> int:
        """Number of rows accepted (after removing duplicates)."""
        return len(self.accepted)

    @property
    def n_rejected(self) -> int:
        """Number of distinct rows with at least one problem."""
        return int(self.rejected["row"].nunique())

    @property
    def n_duplicates(self) -> int:
        """Number of rows dropped because they repeat an earlier row."""
        return len(self.duplicate_rows)

    def summary(self, max_rejected: int = 20) -> str:
        """A plain-text report: how the file was read, counts, rejected rows and warnings.

        Parameters
        ----------
        max_rejected
            At most this many rejected rows are listed.

        Returns
        -------
        str
            Several lines: how the file was read, the counts, the column mapping,
            the rejected rows with reasons and the warnings.
        """
        delimiter = {"\t": "tab", "": "-"}.get(self.delimiter, repr(self.delimiter))
        lines = [
            f"{self.source}: read as a {self.table} table ({self.format}, encoding "
            f"{self.encoding or '-'}, delimiter {delimiter}, dates read {self.date_order})",
            f"{self.n_rows} rows: {self.n_accepted} accepted, {self.n_rejected} rejected, "
            f"{self.n_duplicates} duplicates",
            "columns: " + (", ".join(f"{h!r} -> {c}" for h, c in self.header_mapping.items()) or "none"),
        ]
        if len(self.rejected):
            lines.append("rejected:")
            for rec in self.rejected.head(max_rejected).itertuples(index=False):
                where = f"row {rec.row}" + (f", {rec.column}" if rec.column else "")
                lines.append(f"  {where}: {rec.reason}")
            if len(self.rejected) > max_rejected:
                lines.append(f"  ... and {len(self.rejected) - max_rejected} more problems")
        if self.warnings:
            lines.append("warnings:")
            lines.extend(f"  - {w}" for w in self.warnings)
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# public API


def ingest_file(
    source: str | Path | bytes,
    *,
    filename: str | None = None,
    table: str | None = None,
    patient_id: str | None = None,
    dayfirst: bool = True,
    today: date | None = None,
) -> IngestResult:
    """Read, map, convert and validate one log file.

    Parameters
    ----------
    source
        A path, or the file's bytes (an upload).
    filename
        Name of the uploaded file (used for its extension and in messages);
        defaults to the path's name, or ``"<upload>"``.
    table
        Canonical table (``"sessions"``, ``"pain"``, ``"prescriptions"``,
        ``"patients"``, ``"proms"``); ``None`` works it out from the columns.
    patient_id
        The patient whose own file this is: fills the ``patient_id`` column;
        rows naming another patient are rejected.
    dayfirst
        Read dates such as 01/02/2026 as 1 February (True, the default) or as
        January 2 (False). ISO dates (2026-02-01) are unaffected.
    today
        Dates of things that happened (session, pain rating, questionnaire)
        after this day are rejected; default :meth:`datetime.date.today`.

    Returns
    -------
    IngestResult
        See :class:`IngestResult` for every field. App exports (Strong, Hevy,
        FitNotes) and FHIR R4 JSON are recognised from the content and read by
        :mod:`analysis.importers`; ``format`` then names the importer.

    Raises
    ------
    UnreadableFileError
        The file is missing, empty, binary, has a header but no rows, or cannot
        be parsed as CSV / xlsx / JSON.
    MissingColumnsError
        Required columns are absent.
    UnknownTableError
        ``table`` is not a canonical table, or the columns match none
        (:class:`analysis.importers.UnknownFormatError`, listing the formats).
    """
    table = _check_table(table, filename)
    # App exports (Strong, Hevy, FitNotes) and FHIR are recognised from the content first.
    from analysis.importers import find_importer, run_importer, unknown_format  # lazy: they build on this module

    importer = find_importer(source, filename)
    if importer is not None:
        return run_importer(importer, source, filename=filename, table=table, patient_id=patient_id,
                            dayfirst=dayfirst, today=today)
    frame, info = _read(source, filename, table, as_category=True)
    try:
        return _ingest(frame, info, table=table, patient_id=patient_id, dayfirst=dayfirst, today=today)
    except UnknownTableError as exc:  # columns of no table and of no app: say what can be read
        raise unknown_format(exc) from None


def ingest_frame(
    raw: pd.DataFrame,
    table: str | None = None,
    *,
    patient_id: str | None = None,
    dayfirst: bool = True,
    today: date | None = None,
    row_numbers: Sequence[int] | np.ndarray | None = None,
    source: str = "<frame>",
) -> IngestResult:
    """Map, convert and validate a table that was already read (cells as text).

    Parameters
    ----------
    raw
        One column per file column, headers as written; cells are best given as
        strings (numbers, dates and booleans are turned into text first).
    table, patient_id, dayfirst, today
        As in :func:`ingest_file`.
    row_numbers
        Row number of each row of ``raw`` in the user's file; by default the
        position plus 2 (as if ``raw`` had been written to a CSV with a header).
    source
        Name used in messages and in the result.

    Returns
    -------
    IngestResult
        With ``format="frame"`` and empty ``encoding`` and ``delimiter``.
    """
    table = _check_table(table, source)
    if row_numbers is None:
        numbers = np.arange(len(raw), dtype=np.int64) + 2
    else:
        numbers = np.asarray(row_numbers, dtype=np.int64)
        if numbers.shape != (len(raw),):
            raise ValueError("row_numbers must have one entry per row of raw")
    frame = raw.reset_index(drop=True)
    frame.columns = _unique_headers([_cell_text(c) for c in raw.columns])
    frame, numbers, n_blank = _drop_blank_rows(frame, numbers)
    info = RawInfo(source=source, format="frame", encoding="", delimiter="", row_numbers=numbers,
                   blank_rows=n_blank)
    return _ingest(frame, info, table=table, patient_id=patient_id, dayfirst=dayfirst, today=today)


def read_raw(source: str | Path | bytes, filename: str | None = None) -> tuple[pd.DataFrame, RawInfo]:
    """Read a file into a DataFrame of text, without interpreting any column.

    Parameters
    ----------
    source
        A path, or the file's bytes.
    filename
        Name of the uploaded file (its extension helps to tell the format).

    Returns
    -------
    frame : pandas.DataFrame
        Headers as written (repeated headers get ``.1``, ``.2``), every cell a
        ``str`` or missing (``NaN``); empty lines are dropped.
    info : RawInfo
        Format, encoding, delimiter, row numbers and rows that could not be split.

    Raises
    ------
    UnreadableFileError
        See :func:`ingest_file`.
    """
    frame, info = _read(source, filename, None, as_category=False)
    return frame, info


# ---------------------------------------------------------------------------
# reading


@dataclass(frozen=True)
class _Source:
    name: str
    path: Path | None
    data: bytes | None
    head: bytes
    size: int

    def handle(self) -> str | io.BytesIO:
        return str(self.path) if self.path is not None else io.BytesIO(self.data or b"")

    def all_bytes(self) -> bytes:
        return self.path.read_bytes() if self.path is not None else (self.data or b"")


def _check_table(table: str | None, source: str | None) -> str | None:
    if table is None or table in TABLES:
        return table
    raise UnknownTableError(f"there is no table called {table!r}; choose one of {', '.join(TABLES)}", source=source)


def _open(source: str | Path | bytes, filename: str | None) -> _Source:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return _Source(filename or "<upload>", None, data, data[:_HEAD_BYTES], len(data))
    path = Path(source)
    name = filename or path.name
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise UnreadableFileError(f"{path} {what}", source=name)
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
    return _Source(name, path, None, head, path.stat().st_size)


def _read(
    source: str | Path | bytes, filename: str | None, table: str | None, *, as_category: bool
) -> tuple[pd.DataFrame, RawInfo]:
    src = _open(source, filename)
    if not src.head.strip():
        raise UnreadableFileError("the file is empty", source=src.name)
    suffix = Path(src.name).suffix.lower()
    if src.head.startswith(b"PK\x03\x04"):
        return _read_xlsx(src, table, as_category)
    if src.head.startswith(b"\xd0\xcf\x11\xe0") or suffix == ".xls":
        raise UnreadableFileError(
            "this is an old-style Excel file (.xls); open it in Excel or LibreOffice and save it as "
            ".xlsx or CSV", source=src.name)
    if suffix in (".xlsx", ".xlsm"):
        raise UnreadableFileError("the file is named .xlsx but is not an Excel workbook", source=src.name)
    encoding = _sniff_encoding(src.head)
    text_head = _decode_head(src.head, encoding)
    _reject_binary(text_head, src.name)
    if suffix == ".json" or (suffix not in (".csv", ".tsv", ".txt") and text_head.lstrip()[:1] in ("[", "{")):
        return _read_json(src, table, encoding, as_category)
    return _read_csv(src, encoding, text_head, as_category)


def _sniff_encoding(head: bytes) -> str:
    """Encoding from the byte-order mark, else UTF-8 if the first bytes decode, else cp1252 / Latin-1."""
    for bom, name in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                      (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return name
    for name in ("utf-8", "cp1252"):
        try:
            codecs.getincrementaldecoder(name)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return name
    return "latin-1"


def _fallback_encodings(encoding: str) -> list[str]:
    if encoding == "utf-8":
        return ["utf-8", "cp1252", "latin-1"]
    if encoding == "cp1252":
        return ["cp1252", "latin-1"]
    return [encoding]


def _decode_head(head: bytes, encoding: str) -> str:
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)


def _reject_binary(text: str, name: str) -> None:
    sample = text[:8192]
    controls = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\r\n") or ch == "\x7f")
    if "\x00" in sample or controls > max(2, len(sample) // 20):
        raise UnreadableFileError(
            "this does not look like a table: it is neither text (CSV), an Excel .xlsx workbook "
            "nor JSON. Export the log as CSV or .xlsx and try again", source=name)


def _sniff_delimiter(text: str, truncated: bool) -> str:
    """The delimiter among ``, ; tab |`` that splits the first lines into equally many fields."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if truncated and len(lines) > 1:
        lines = lines[:-1]
    lines = lines[:50]
    best, best_score = ",", (0, 0.0, 0)
    for delimiter in _DELIMITERS:
        counts = [len(row) for row in _split_lines(lines, delimiter)]
        if not counts or counts[0] < 2:
            continue
        score = (1, sum(c == counts[0] for c in counts) / len(counts), counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _split_lines(lines: list[str], delimiter: str) -> list[list[str]]:
    try:
        return list(csv.reader(lines, delimiter=delimiter))
    except csv.Error:
        return []


def _read_csv(src: _Source, encoding: str, text_head: str, as_category: bool) -> tuple[pd.DataFrame, RawInfo]:
    delimiter = _sniff_delimiter(text_head, truncated=src.size > len(src.head))
    caught: list[warnings.WarningMessage] = []
    frame = None
    for candidate in _fallback_encodings(encoding):
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                frame = pd.read_csv(
                    src.handle(), sep=delimiter, encoding=candidate, engine="c",
                    dtype="category" if as_category else str, keep_default_na=False, na_values=[""],
                    skip_blank_lines=False, index_col=False, on_bad_lines="warn", low_memory=not as_category,
                )
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise UnreadableFileError("the file is empty", source=src.name) from None
        except MemoryError:
            raise
        except Exception as exc:  # any parser failure is a file the user must fix
            detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise UnreadableFileError(
                f"the file could not be read as a table with {_delimiter_name(delimiter)} between values "
                f"({detail}). Check for an unclosed quote (\") or save the log again as CSV",
                source=src.name) from exc
        encoding = candidate
        break
    if frame is None:  # pragma: no cover - latin-1 decodes every byte
        raise UnreadableFileError("the file's text encoding could not be recognised", source=src.name)
    skipped: list[tuple[int, int, int]] = []
    for w in caught:
        for line, expected, saw in re.findall(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)",
                                              str(w.message)):
            skipped.append((int(line), int(expected), int(saw)))
    skipped.sort()
    positions = np.arange(len(frame), dtype=np.int64) + 2
    if skipped:
        lines = np.array([s[0] for s in skipped], dtype=np.int64)
        shifted = lines - np.arange(len(lines))
        positions = positions + np.searchsorted(shifted, positions, side="right")
    bad = tuple(
        (line, f"this line has {saw} values but the header has {expected}; check for a stray "
               f"{_delimiter_name(delimiter, plural=False)} or a missing quote")
        for line, expected, saw in skipped
    )
    frame.columns = _unique_headers([str(c) for c in frame.columns])
    frame, positions, blank = _drop_blank_rows(frame, positions)
    info = RawInfo(src.name, "csv", encoding, delimiter, positions, bad, blank)
    return frame, info


_DELIMITER_NAMES = {",": ("comma", "commas"), ";": ("semicolon", "semicolons"), "\t": ("tab", "tabs"),
                    "|": ("bar (|)", "bars (|)")}


def _delimiter_name(delimiter: str, plural: bool = True) -> str:
    names = _DELIMITER_NAMES.get(delimiter, (repr(delimiter), repr(delimiter)))
    return names[1] if plural else names[0]


def _read_json(src: _Source, table: str | None, encoding: str, as_category: bool) -> tuple[pd.DataFrame, RawInfo]:
    data = src.all_bytes()
    text = None
    for candidate in _fallback_encodings(encoding):
        try:
            text = data.decode(candidate)
        except UnicodeDecodeError:
            continue
        encoding = candidate
        break
    if text is None:  # pragma: no cover - latin-1 decodes every byte
        raise UnreadableFileError("the file's text encoding could not be recognised", source=src.name)
    try:
        obj = json.loads(text.lstrip("\ufeff"))
    except (ValueError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise UnreadableFileError(f"the file is not valid JSON{where}", source=src.name) from None
    records, hint = _json_records(obj, table, src.name)
    keys: dict[str, None] = {}
    for rec in records:
        if isinstance(rec, dict):
            keys.update(dict.fromkeys(str(k) for k in rec))
    columns: dict[str, list[Any]] = {k: [] for k in keys}
    numbers: list[int] = []
    bad: list[tuple[int, str]] = []
    for number, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            bad.append((number, "this record is not a set of named values like {\"date\": \"2026-09-08\"}"))
            continue
        numbers.append(number)
        texts = {str(k): v for k, v in rec.items()}
        for k in keys:
            columns[k].append(_json_cell(texts.get(k)))
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()}, index=range(len(numbers)))
    if as_category:
        frame = frame.astype("category")
    frame, positions, blank = _drop_blank_rows(frame, np.asarray(numbers, dtype=np.int64))
    return frame, RawInfo(src.name, "json", encoding, "", positions, tuple(bad), blank, hint)


def _json_records(obj: Any, table: str | None, name: str) -> tuple[list[Any], str | None]:
    """The list of records in a JSON document, and the table its key names (if any)."""
    if isinstance(obj, list):
        return obj, None
    if isinstance(obj, dict):
        lists = {str(k): v for k, v in obj.items() if isinstance(v, list)}
        if table is not None and table in lists:
            return lists[table], table
        if len(lists) == 1:
            key, records = next(iter(lists.items()))
            return records, key if key in TABLES else None
        named = [k for k in lists if k in TABLES]
        if lists:
            raise UnreadableFileError(
                f"the JSON file holds several lists ({', '.join(lists)}); choose the table to read"
                + (f" (one of {', '.join(named)})" if named else ""), source=name)
    raise UnreadableFileError(
        'expected a JSON list of records ([{"date": ...}, ...]) or {"sessions": [...]}', source=name)


def _json_cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return _cell_text(value)


def _read_xlsx(src: _Source, table: str | None, as_category: bool) -> tuple[pd.DataFrame, RawInfo]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(src.handle(), read_only=True, data_only=False)
    except MemoryError:
        raise
    except Exception:  # a zip that is not a workbook, or a damaged workbook
        raise UnreadableFileError(
            "the file could not be opened as an Excel .xlsx workbook (it may be damaged or another kind "
            "of zip archive)", source=src.name) from None
    try:
        sheets = list(book.worksheets)
        by_name = {fold_header(s.title): s for s in sheets}
        named = [by_name[t] for t in TABLES if t in by_name]
        preferred = by_name.get(table) if table else (named[0] if named else None)
        chosen = None
        rows: list[tuple[int, tuple[Any, ...]]] = []
        for sheet in ([preferred] if preferred is not None else []) + [s for s in sheets if s is not preferred]:
            rows = [
                (number, values)
                for number, values in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1)
                if any(v is not None and str(v).strip() != "" for v in values)
            ]
            if rows:
                chosen = sheet
                break
    except MemoryError:
        raise
    except Exception:
        raise UnreadableFileError("the Excel workbook could not be read (it may be damaged)",
                                  source=src.name) from None
    finally:
        book.close()
    if not rows or chosen is None:
        raise UnreadableFileError("the workbook has no filled-in cells", source=src.name)
    hint = fold_header(chosen.title) if fold_header(chosen.title) in TABLES else None
    notes = []
    if len(sheets) > 1:
        notes.append(f"the workbook has {len(sheets)} sheets; only sheet {chosen.title!r} was read")
    _, header_cells = rows[0]
    width = max(len(header_cells), 1)
    headers = _unique_headers([
        _cell_text(h) if h is not None and str(h).strip() else f"Unnamed: {i}" for i, h in enumerate(header_cells)
    ])
    data = [tuple(values[:width]) + (None,) * (width - len(values)) for _, values in rows[1:]]
    numbers = np.asarray([number for number, _ in rows[1:]], dtype=np.int64)
    columns = {h: pd.Series([_cell_text(r[i]) if r[i] is not None else None for r in data], dtype=object)
               for i, h in enumerate(headers)}
    frame = pd.DataFrame(columns, index=range(len(data)))
    if as_category:
        frame = frame.astype("category")
    blank = int(numbers[-1] - rows[0][0]) - len(numbers) if len(numbers) else 0  # rows skipped as empty
    return frame, RawInfo(src.name, "xlsx", "", "", numbers, (), blank, hint, tuple(notes))


def _unique_headers(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for h in headers:
        name = h
        while name in seen:
            seen[h] += 1
            name = f"{h}.{seen[h]}"
        seen.setdefault(name, 0)
        out.append(name)
    return out


def _drop_blank_rows(frame: pd.DataFrame, numbers: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Drop rows whose every cell is empty or white space; keep their row numbers out too."""
    if frame.shape[1] == 0 or len(frame) == 0:
        return frame, numbers, 0
    candidates = np.arange(len(frame))
    for name in frame.columns:  # a row is blank when every cell is; most rows drop out at the first column
        codes, text = _distinct(frame[name].iloc[candidates])
        candidates = candidates[np.append(_blank_text(text), True)[codes]]
        if not candidates.size:
            return frame, numbers, 0
    keep = np.ones(len(frame), dtype=bool)
    keep[candidates] = False
    return frame.loc[keep].reset_index(drop=True), numbers[keep], len(candidates)


# ---------------------------------------------------------------------------
# cells and distinct values


def _cell_text(value: Any) -> str:
    """A cell as text, written the way a person would (5 not 5.0, 2026-02-03 07:30:00)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if np.isfinite(number) and number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return repr(number)
    if isinstance(value, pd.Timestamp):
        return "" if pd.isna(value) else str(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _distinct(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (``-1`` = empty cell) and the distinct values of a column as text."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()  # int8/16/32: indexing needs no wider copy
        uniques = np.asarray(column.cat.categories, dtype=object)
    else:
        try:
            codes, uniques = pd.factorize(column, use_na_sentinel=True)
        except TypeError:  # unhashable cells (lists, dicts)
            codes, uniques = pd.factorize(column.map(lambda v: v if _is_missing(v) else _cell_text(v)))
        codes = np.asarray(codes, dtype=np.int64)
        uniques = np.asarray(uniques, dtype=object)
    if pd.api.types.infer_dtype(uniques, skipna=False) not in ("string", "empty"):
        uniques = np.array([_cell_text(u) for u in uniques], dtype=object)
    return codes, uniques


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _strip(text: np.ndarray) -> np.ndarray:
    return np.array([t.strip() for t in text], dtype=object)


def _blank_text(text: np.ndarray) -> np.ndarray:
    return np.array([not t.strip() for t in text], dtype=bool)


def _with_sentinel(per_unique: np.ndarray, fill: Any) -> np.ndarray:
    """Append the value for empty cells, so that ``out[codes]`` maps code -1 to ``fill``."""
    return np.append(per_unique, np.array([fill], dtype=per_unique.dtype))


@dataclass
class _Verdict:
    """Per distinct value: canonical value, whether it is empty, and why it is invalid (None if valid)."""

    values: Any
    blank: np.ndarray
    reason: np.ndarray


@dataclass
class _Column:
    """One canonical column after conversion: values per distinct cell, and per row of the file."""

    values: Any  # canonical value per distinct cell
    fill: Any  # value of an empty cell (None = missing)
    codes: np.ndarray  # per row: index into ``values`` (-1 = empty cell)
    bad: np.ndarray  # per row: the cell is rejected
    reason: np.ndarray  # why, per distinct cell plus one for empty cells (None = valid)
    text: np.ndarray  # cell as written, per distinct cell plus "" for empty cells

    def problems(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions of the rejected rows, their cells as written and the reasons."""
        idx = np.flatnonzero(self.bad)
        return idx, self.text[self.codes[idx]], self.reason[self.codes[idx]]

    def rows(self, positions: np.ndarray | None = None) -> Any:
        """Canonical values of the rows at ``positions`` (all rows when None)."""
        codes = self.codes if positions is None else self.codes[positions]
        return pd.api.extensions.take(self.values, codes, allow_fill=True, fill_value=self.fill)

    def key_codes(self) -> np.ndarray:
        """Per row, an integer that is equal for equal canonical values (for duplicate detection)."""
        extended = pd.api.extensions.take(self.values, np.append(np.arange(len(self.values)), -1),
                                          allow_fill=True, fill_value=self.fill)
        distinct, _ = pd.factorize(extended, use_na_sentinel=False)
        return distinct.astype(np.int64)[self.codes]


def _empty_reasons(k: int) -> np.ndarray:
    return np.full(k, None, dtype=object)


def _label(col: ColumnSpec) -> str:
    return COLUMN_LABELS.get(col.name, col.name)


# ---------------------------------------------------------------------------
# converters: distinct text values -> canonical values + reasons


def _convert_text(text: np.ndarray, col: ColumnSpec, expected: str | None = None) -> _Verdict:
    stripped = _strip(text)
    blank = stripped == ""
    reason = _empty_reasons(len(text))
    if expected is not None:
        other = ~blank & (stripped != expected)
        reason[other] = [f"this row belongs to patient {v}, not to you" for v in stripped[other]]
    values = pd.array(np.where(blank, None, stripped), dtype="string")
    return _Verdict(values, blank, reason)


def _convert_free_text(text: np.ndarray, col: ColumnSpec) -> _Verdict:
    blank = _blank_text(text)
    values = pd.array(np.where(blank, None, text), dtype="string")  # kept verbatim, never interpreted
    return _Verdict(values, blank, _empty_reasons(len(text)))


def _convert_exercise(text: np.ndarray, col: ColumnSpec) -> _Verdict:
    stripped = _strip(text)
    blank = stripped == ""
    names = normalise_exercises(pd.Series(np.where(blank, None, stripped), dtype=object))
    return _Verdict(pd.array(names, dtype="string"), blank, _empty_reasons(len(text)))


def _convert_vocabulary(text: np.ndarray, col: ColumnSpec) -> _Verdict:
    words = {_fold_vocabulary(a, col.name): a for a in col.allowed or ()}
    words.update(_VOCABULARY.get(col.name, {}))
    default = _VOCABULARY_DEFAULT.get(col.name)
    folded = [_fold_vocabulary(t, col.name) for t in text]
    blank = np.array([f == "" for f in folded], dtype=bool)
    mapped = [words.get(f) for f in folded]
    reason = _empty_reasons(len(text))
    for i, (m, b) in enumerate(zip(mapped, blank, strict=True)):
        if b:
            mapped[i] = default
        elif m is None:
            reason[i] = f"{_label(col)} must be {col.range_text()}; got {text[i].strip()!r}"
    if default is not None:
        blank = np.zeros(len(text), dtype=bool)  # a blank side is a value (both), not a gap
    return _Verdict(pd.array(mapped, dtype="string"), blank, reason)


def _fold_vocabulary(value: str, column: str) -> str:
    if column == "age_band":  # "40 - 49", "40–49", "40 to 49", "80 plus" -> "40-49", "80+"
        text = re.sub(r"\s+", "", value.lower().replace("\u2013", "-").replace("\u2014", "-"))
        text = re.sub(r"^(\d+)to(\d+)$", r"\1-\2", text)
        return re.sub(r"^(\d+)(plus|andover|ormore)$", r"\1+", text)
    return fold_header(value)


def _parse_numbers(text: np.ndarray, decimal_comma: bool) -> tuple[np.ndarray, np.ndarray]:
    """Numbers from text: float values (NaN where not a number) and the mask of empty cells."""
    stripped = pd.Series(_strip(text), dtype=object)
    blank = stripped.str.lower().isin(_NA_TOKENS).to_numpy()
    if decimal_comma:
        stripped = stripped.str.replace(r"^([+-]?\d*),(\d+)$", r"\1.\2", regex=True)
    numbers = pd.to_numeric(stripped.where(~blank, None), errors="coerce")
    return np.asarray(numbers, dtype=float), blank


def _number_rule(col: ColumnSpec, whole: bool) -> str:
    kind = "a whole number" if whole else "a number"
    if col.min is not None and col.max is not None:
        return f"{kind} from {col.min:g} to {col.max:g}"
    return f"{kind} {col.range_text()}".rstrip()


def _range_ok(values: np.ndarray, col: ColumnSpec) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values)
        if col.min is not None:
            ok &= values >= col.min
        if col.max is not None:
            ok &= values <= col.max
    return ok


def _convert_number(text: np.ndarray, col: ColumnSpec, decimal_comma: bool, scale: float) -> _Verdict:
    values, blank = _parse_numbers(text, decimal_comma)
    values = values * scale
    whole = col.dtype == "Int64"
    ok = _range_ok(values, col)
    if whole:
        with np.errstate(invalid="ignore"):
            ok &= np.floor(values) == values
    bad = ~ok & ~blank
    reason = _empty_reasons(len(text))
    unit = " (read in minutes and converted to seconds)" if scale != 1 else ""
    reason[bad] = [f"{_label(col)} must be {_number_rule(col, whole)}; got {t.strip()}{unit}" for t in text[bad]]
    if whole:
        arr: Any = pd.arrays.IntegerArray(np.where(ok, values, 0).astype(np.int64), ~ok)
    else:
        arr = np.where(ok, values, np.nan)
    return _Verdict(arr, blank, reason)


def _convert_boolean(text: np.ndarray, col: ColumnSpec) -> _Verdict:
    lowered = [t.strip().lower() for t in text]
    blank = np.array([t in _NA_TOKENS for t in lowered], dtype=bool)
    is_true = np.array([t in _TRUE for t in lowered], dtype=bool)
    is_false = np.array([t in _FALSE for t in lowered], dtype=bool)
    bad = ~(is_true | is_false | blank)
    reason = _empty_reasons(len(text))
    reason[bad] = [f"{_label(col)} must be yes or no; got {t.strip()!r}" for t in text[bad]]
    return _Verdict(pd.arrays.BooleanArray(is_true, ~(is_true | is_false)), blank, reason)


@dataclass
class _DateVerdict(_Verdict):
    ambiguous: np.ndarray  # read by the caller's day order although the other order would also work
    contradicts: np.ndarray  # impossible under the caller's day order, possible under the other


def _parse_with(values: pd.Series, formats: Sequence[str]) -> np.ndarray:
    """Parse text with the first matching format of ``formats`` (per value); NaT where none matches."""
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    todo = np.arange(len(values))
    order = list(formats)
    if len(values) > 500:  # try the formats in the order they fit a sample, so most values parse at once
        sample = values.iloc[:200]
        hits = {f: int(pd.to_datetime(sample, format=f, errors="coerce").notna().sum()) for f in formats}
        order.sort(key=lambda f: -hits[f])
    for fmt in order:
        if todo.size == 0:
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(values.iloc[todo], format=fmt, errors="coerce")
        if getattr(parsed.dt, "tz", None) is not None:  # pragma: no cover - formats carry no zone
            parsed = parsed.dt.tz_localize(None)
        parsed = parsed.to_numpy(dtype="datetime64[ns]")
        ok = ~np.isnat(parsed)
        out[todo[ok]] = parsed[ok]
        todo = todo[~ok]
    return out


def _convert_datetime(text: np.ndarray, col: ColumnSpec, dayfirst: bool, today: date) -> _DateVerdict:
    stripped = pd.Series(_strip(text), dtype=object)
    blank = stripped.str.lower().isin(_NA_TOKENS).to_numpy()
    k = len(text)
    out = np.full(k, np.datetime64("NaT"), dtype="datetime64[ns]")
    todo = np.flatnonzero(~blank)
    # 1. ISO 8601 on every value
    if todo.size:
        out[todo] = _parse_with(stripped.iloc[todo], _ISO_FORMATS)
        todo = todo[np.isnat(out[todo])]
    # 2. numeric day/month dates in the caller's order, only on what ISO did not read
    numeric = np.zeros(k, dtype=bool)
    if todo.size:
        normal = stripped.iloc[todo].str.replace(_NUMERIC_DATE, r"\1/\2/\3 \4", regex=True).str.strip()
        parsed = _parse_with(normal, _DAY_FIRST_FORMATS if dayfirst else _MONTH_FIRST_FORMATS)
        ok = ~np.isnat(parsed)
        out[todo[ok]] = parsed[ok]
        numeric[todo[ok]] = True
        todo = todo[~ok]
    # 3. month names ("3 Feb 2026", "Feb 3, 2026", "15 Sep 2025, 07:48"), then a stripped time zone
    if todo.size:
        named = (stripped.iloc[todo].str.replace(r"(\d)(st|nd|rd|th)\b", r"\1", regex=True)
                 .str.replace(",", " ").str.replace(r"(?<=[A-Za-z\d])-(?=[A-Za-z\d])", " ", regex=True)
                 .str.replace(r"\s+", " ", regex=True).str.strip())
        parsed = _parse_with(named, _NAMED_MONTH_FORMATS)
        ok = ~np.isnat(parsed)
        out[todo[ok]] = parsed[ok]
        todo = todo[~ok]
    if todo.size:
        zoneless = stripped.iloc[todo].str.replace(_TZ_SUFFIX, "", regex=True)
        changed = (zoneless != stripped.iloc[todo]).to_numpy()
        if changed.any():
            parsed = _parse_with(zoneless[changed], _ISO_FORMATS)
            ok = ~np.isnat(parsed)
            out[todo[changed][ok]] = parsed[ok]
            todo = todo[np.isnat(out[todo])]
    reason = _empty_reasons(k)
    contradicts = np.zeros(k, dtype=bool)
    order = "day-first (day/month/year)" if dayfirst else "month-first (month/day/year)"
    other = "month-first" if dayfirst else "day-first"
    for i in todo:
        reason[i], contradicts[i] = _date_problem(stripped.iloc[i], dayfirst, order, other)
    # 4. dates that parse but cannot be right
    if col.date_only:
        out = out.astype("datetime64[D]").astype("datetime64[ns]")
    parsed_ok = ~np.isnat(out)
    too_old = parsed_ok & (out < np.datetime64("1900-01-01"))
    reason[too_old] = [f"{_label(col)} {t.strip()!r} is before 1900; check the year" for t in text[too_old]]
    if col.name in _HAPPENED:
        tomorrow = np.datetime64(today + timedelta(days=1), "ns")
        future = parsed_ok & (out >= tomorrow)
        reason[future] = [f"{_label(col)} {t.strip()!r} is in the future (today is {today.isoformat()})"
                          for t in text[future]]
    out[np.array([r is not None for r in reason], dtype=bool)] = np.datetime64("NaT")
    ambiguous = np.zeros(k, dtype=bool)
    if numeric.any():
        parts = stripped[numeric].str.extract(_NUMERIC_DATE).iloc[:, :2]
        first = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float)
        second = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=float)
        ambiguous[numeric] = (first <= 12) & (second <= 12) & (first != second)
    ambiguous &= ~np.isnat(out)  # a date rejected for another reason is reported as that
    return _DateVerdict(out, blank, reason, ambiguous, contradicts)


def _date_problem(value: str, dayfirst: bool, order: str, other: str) -> tuple[str, bool]:
    """Why a date could not be read, in plain words; and whether the other day order would read it."""
    iso = _ISO_DATE.match(value)
    numeric = _NUMERIC_DATE_RE.match(value)
    if iso:
        year, month, day = (int(g) for g in iso.groups())
        problem = _calendar_problem(year, month, day)
        if problem:
            return f"{value!r} is not a real date: {problem}", False
    elif numeric:
        first, second, year_text = int(numeric.group(1)), int(numeric.group(2)), numeric.group(3)
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
        day, month = (first, second) if dayfirst else (second, first)
        problem = _calendar_problem(year, month, day)
        if problem:
            if not _calendar_problem(year, day, month):
                return (f"{value!r} is not a date when dates are read {order}: {problem}. If this file "
                        f"writes dates {other}, read it {other}"), True
            return f"{value!r} is not a real date: {problem}", False
    return (f"{value!r} is not a date that can be read; write dates like 2026-09-08 or "
            f"2026-09-08 07:30", False)


def _calendar_problem(year: int, month: int, day: int) -> str:
    if not 1 <= month <= 12:
        return f"there is no month {month}"
    if not 1 <= year <= 9999:
        return f"there is no year {year}"
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        return f"{calendar.month_name[month]} {year} has no day {day}"
    return ""


# ---------------------------------------------------------------------------
# the ingestion itself


def _resolve_table(
    headers: list[str], table: str | None, info: RawInfo, fillable: tuple[str, ...]
) -> HeaderMatch:
    chosen = table or (info.table_hint if info.table_hint in TABLES else None)
    if chosen is None:
        return detect_table(headers, fillable, source=info.source)
    match = match_headers(headers, chosen, fillable)
    if match.missing:
        raise MissingColumnsError(chosen, match.missing, found=headers, source=info.source)
    return match


def _ingest(
    frame: pd.DataFrame,
    info: RawInfo,
    *,
    table: str | None,
    patient_id: str | None,
    dayfirst: bool,
    today: date | None,
) -> IngestResult:
    today = today.date() if isinstance(today, datetime) else (today or date.today())
    patient_id = str(patient_id).strip() or None if patient_id is not None else None
    headers = [str(c) for c in frame.columns]
    fillable = ("side",) + (("patient_id",) if patient_id is not None else ())
    match = _resolve_table(headers, table, info, fillable)
    spec = table_spec(match.table)
    numbers, n_blank = info.row_numbers, info.blank_rows
    n_rows = len(frame) + len(info.bad_rows)
    if n_rows == 0:
        raise UnreadableFileError("the file has column names but no rows of data", source=info.source)

    warn: list[str] = list(info.notes)
    warn.extend(_header_warnings(match, spec))
    if n_blank:
        warn.append(f"{n_blank} empty line{'s were' if n_blank != 1 else ' was'} skipped")

    by_column = {canonical: header for header, canonical in match.mapping.items()}
    decimal_comma = info.delimiter in (";", "\t", "|")
    columns: dict[str, _Column] = {}
    n = len(frame)
    for col in spec.columns:
        header = by_column.get(col.name)
        if header is None:
            codes, text = np.full(n, -1, dtype=np.int64), np.empty(0, dtype=object)
        else:
            codes, text = _distinct(frame[header])
        verdict = _convert(text, col, dayfirst=dayfirst, today=today, decimal_comma=decimal_comma,
                           scale=match.scale.get(col.name, 1.0),
                           expected=patient_id if col.name == "patient_id" else None)
        columns[col.name] = _to_rows(verdict, codes, text, col, patient_id)
        if col.name == "exercise" and header is not None:
            warn.extend(_unknown_exercise_warnings(verdict, codes))
        if isinstance(verdict, _DateVerdict) and header is not None:
            warn.extend(_date_warnings(verdict, codes, text, numbers, header, dayfirst))

    bad_any = np.zeros(n, dtype=bool)
    pieces = []
    for name, c in columns.items():
        bad_any |= c.bad
        idx, values, reasons = c.problems()
        if idx.size:
            pieces.append((numbers[idx], name, values, reasons))
    if {"start_date", "end_date"} <= columns.keys():
        wrong = _end_before_start(columns["start_date"], columns["end_date"])
        idx = np.flatnonzero(wrong)
        if idx.size:
            end = columns["end_date"]
            pieces.append((numbers[idx], "end_date", end.text[end.codes[idx]],
                           np.full(idx.size, "the end date is before the start date", dtype=object)))
            bad_any |= wrong
    if info.bad_rows:
        rows, reasons = zip(*info.bad_rows, strict=True)
        pieces.append((np.asarray(rows, dtype=np.int64), "", np.full(len(rows), "", dtype=object),
                       np.asarray(reasons, dtype=object)))
    rejected = _rejected_frame(pieces, spec)

    keep = np.flatnonzero(~bad_any)
    duplicate_rows = np.empty(0, dtype=np.int64)
    if spec.key and len(keep) > 1:
        duplicated = _duplicated([columns[k].key_codes()[keep] for k in spec.key])
        if duplicated.any():
            duplicate_rows = numbers[keep[duplicated]]
            keep = keep[~duplicated]
            warn.append(_duplicate_warning(duplicate_rows, spec))
    everything = len(keep) == n
    accepted = pd.DataFrame({name: c.rows(None if everything else keep) for name, c in columns.items()},
                            copy=False)
    accepted = conform(accepted, spec)  # the schema's own guarantee of columns, order and dtypes

    result = IngestResult(
        table=spec.name,
        source=info.source,
        format=info.format,
        encoding=info.encoding,
        delimiter=info.delimiter,
        date_order="day-first" if dayfirst else "month-first",
        header_mapping=dict(match.mapping),
        accepted=accepted,
        rejected=rejected,
        warnings=warn,
        n_rows=n_rows,
        duplicate_rows=duplicate_rows,
    )
    logger.info("%s: %d rows, %d accepted, %d rejected, %d duplicates", info.source, result.n_rows,
                result.n_accepted, result.n_rejected, result.n_duplicates)
    return result


def _convert(
    text: np.ndarray, col: ColumnSpec, *, dayfirst: bool, today: date, decimal_comma: bool, scale: float,
    expected: str | None,
) -> _Verdict:
    if col.is_datetime:
        return _convert_datetime(text, col, dayfirst, today)
    if col.is_numeric:
        return _convert_number(text, col, decimal_comma, scale)
    if col.dtype == "boolean":
        return _convert_boolean(text, col)
    if col.name == "exercise":
        return _convert_exercise(text, col)
    if col.allowed is not None:
        return _convert_vocabulary(text, col)
    if col.name in ("notes", "condition_notes"):
        return _convert_free_text(text, col)
    return _convert_text(text, col, expected)


def _to_rows(verdict: _Verdict, codes: np.ndarray, text: np.ndarray, col: ColumnSpec,
             patient_id: str | None) -> _Column:
    """Per-row problems and reasons from the verdict on the distinct values."""
    reason_u = _with_sentinel(verdict.reason, None)
    bad_u = np.array([r is not None for r in reason_u], dtype=bool)
    fill = patient_id if col.name == "patient_id" else _VOCABULARY_DEFAULT.get(col.name)
    if col.required and fill is None:  # an empty required cell is a problem of its own
        blank_u = _with_sentinel(verdict.blank, True)
        reason_u[blank_u] = f"{_label(col)} is missing; every row needs one"
        bad_u |= blank_u
    text_u = _with_sentinel(np.asarray(text, dtype=object), "")
    return _Column(verdict.values, fill, codes, bad_u[codes], reason_u, text_u)


def _duplicated(key_codes: list[np.ndarray]) -> np.ndarray:
    """Rows whose combination of key codes appeared on an earlier row."""
    combined = np.zeros(len(key_codes[0]), dtype=np.int64)
    radix = 1
    for codes in key_codes:
        width = int(codes.max()) + 1 if len(codes) else 1
        radix *= width
        if radix >= 2**62:  # too many combinations for one integer: let pandas hash the columns
            frame = pd.DataFrame(dict(enumerate(key_codes)), copy=False)
            return frame.duplicated(keep="first").to_numpy()
        combined = combined * width + codes
    return pd.Series(combined, copy=False).duplicated(keep="first").to_numpy()


def _end_before_start(start: _Column, end: _Column) -> np.ndarray:
    """Rows of a prescription period whose (valid) end date is before its start date."""
    s = np.asarray(start.rows(), dtype="datetime64[ns]")
    e = np.asarray(end.rows(), dtype="datetime64[ns]")
    return ~np.isnat(s) & ~np.isnat(e) & (e < s) & ~end.bad


def _rejected_frame(pieces: list[tuple[np.ndarray, str, np.ndarray, np.ndarray]], spec: TableSpec) -> pd.DataFrame:
    if not pieces:
        rows, cols, values, reasons = (np.empty(0, dtype=np.int64), np.empty(0, dtype=object),
                                       np.empty(0, dtype=object), np.empty(0, dtype=object))
    else:
        rows = np.concatenate([p[0] for p in pieces]).astype(np.int64)
        cols = np.concatenate([np.full(len(p[0]), p[1], dtype=object) for p in pieces])
        values = np.concatenate([np.asarray(p[2], dtype=object) for p in pieces])
        reasons = np.concatenate([np.asarray(p[3], dtype=object) for p in pieces])
    position = {name: i for i, name in enumerate(["", *spec.column_names])}
    order = np.lexsort((np.array([position[c] for c in cols], dtype=np.int64), rows))
    return pd.DataFrame({
        "row": rows[order],
        "column": pd.array(cols[order], dtype="string"),
        "value": pd.array(values[order], dtype="string"),
        "reason": pd.array(reasons[order], dtype="string"),
    })


# ---------------------------------------------------------------------------
# warnings


def _rows_text(rows: np.ndarray) -> str:
    """``"row 5"`` or ``"rows 5, 9 and 12 more"``."""
    shown = ", ".join(str(r) for r in rows[:_MAX_LISTED])
    more = len(rows) - _MAX_LISTED
    return ("row " if len(rows) == 1 else "rows ") + shown + (f" and {more} more" if more > 0 else "")


def _header_warnings(match: HeaderMatch, spec: TableSpec) -> list[str]:
    out = []
    ignored = [h for h in match.ignored if not re.fullmatch(r"Unnamed: \d+(\.\d+)?", h)]
    if ignored:
        out.append(f"column{'s' if len(ignored) > 1 else ''} {', '.join(repr(h) for h in ignored)} "
                   f"{'are' if len(ignored) > 1 else 'is'} not part of a {spec.name} table and "
                   f"{'were' if len(ignored) > 1 else 'was'} not read")
    used = {c: h for h, c in match.mapping.items()}
    for header, canonical in match.repeated:
        out.append(f"columns {used[canonical]!r} and {header!r} both mean {canonical}; "
                   f"{used[canonical]!r} was used and {header!r} was not read")
    for canonical in match.scale:
        out.append(f"column {used[canonical]!r} is in minutes; its values were converted to seconds")
    if "side" in spec.column_names and "side" not in used:
        out.append("there is no side column: every row was recorded as both sides")
    return out


def _unknown_exercise_warnings(verdict: _Verdict, codes: np.ndarray) -> list[str]:
    names = np.asarray(verdict.values.to_numpy(dtype=object, na_value=None), dtype=object)
    unknown = np.array([n is not None and not is_known(n) for n in names], dtype=bool)
    if not unknown.any():
        return []
    counts = np.bincount(codes[codes >= 0], minlength=len(names))
    per_name = pd.Series(counts[unknown], index=pd.Index(names[unknown], dtype=object)).groupby(level=0,
                                                                                              sort=False).sum()
    per_name = per_name.sort_values(ascending=False, kind="stable")
    out = [f"exercise {name!r} is not in the exercise list ({count} row{'s' if count != 1 else ''}); "
           "it was kept as written" for name, count in per_name.head(_MAX_LISTED).items()]
    if len(per_name) > _MAX_LISTED:
        rest = per_name.iloc[_MAX_LISTED:]
        out.append(f"{len(rest)} more exercise names are not in the exercise list ({int(rest.sum())} rows); "
                   "they were kept as written")
    return out


def _date_warnings(verdict: _DateVerdict, codes: np.ndarray, text: np.ndarray, numbers: np.ndarray,
                   header: str, dayfirst: bool) -> list[str]:
    out = []
    order, other = ("day-first", "month-first") if dayfirst else ("month-first", "day-first")
    contradicting = _with_sentinel(verdict.contradicts, False)[codes]
    if contradicting.any():
        rows = numbers[contradicting]
        example = text[codes[contradicting][0]].strip()
        one = len(rows) == 1
        out.append(
            f"dates were read {order}, but {len(rows)} value{'' if one else 's'} of {header!r} "
            f"(e.g. {example!r}) only make{'s' if one else ''} sense {other}: {_rows_text(rows)} "
            f"{'was' if one else 'were'} rejected. If the file writes dates {other}, read it {other}")
    ambiguous = _with_sentinel(verdict.ambiguous, False)[codes]
    if ambiguous.any():
        example = text[codes[ambiguous][0]].strip()
        when = pd.Timestamp(verdict.values[codes[ambiguous][0]])
        one = int(ambiguous.sum()) == 1
        out.append(
            f"{int(ambiguous.sum())} date{'' if one else 's'} of {header!r} such as "
            f"{example!r} could be read either way; {'it was' if one else 'they were'} read {order} "
            f"({when.day} {when.month_name()} {when.year}). If the file writes dates {other}, read it {other}")
    return out


def _duplicate_warning(rows: np.ndarray, spec: TableSpec) -> str:
    labels = [COLUMN_LABELS.get(k, k) for k in spec.key]
    key = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    many = len(rows) != 1
    return (f"{len(rows)} row{'s' if many else ''} repeat{'' if many else 's'} an earlier row with the same "
            f"{key} and {'were' if many else 'was'} counted once ({_rows_text(rows)}); the first was kept")
