"""Read a log file (bytes or a path) into a raw table, before any column is interpreted.

Reading is the first step of every ingestion (:func:`analysis.ingest.ingest_file`,
the app importers of :mod:`analysis.importers`). It

* tells the format from the bytes (an ``.xlsx`` workbook by its zip signature,
  JSON by its first character, text otherwise) and refuses binary files, old
  ``.xls`` workbooks and files named ``.xlsx`` that are not workbooks;
* finds the text encoding: UTF-8 with or without a byte-order mark, UTF-16
  (and UTF-32) with one, and Windows-1252 / Latin-1 when the bytes are not UTF-8;
* reads CSV with any of the delimiters ``, ; tab |`` (sniffed from the first
  lines, quotes respected); Excel ``.xlsx`` (formulas are read as the text
  written, never computed); JSON as an array of records or
  ``{"<table>": [records]}``;
* returns the cells as text (or missing), headers as written (repeated headers
  get ``.1``, ``.2``), without empty lines, and a :class:`RawInfo` saying how
  the file was read and the row number of every row.

Every read is bounded (issue 17): the limits of :func:`analysis.limits.current_limits`
(the file's bytes, rows, columns, and for a workbook what its zip archive unpacks to)
are checked while the file is read, by :mod:`analysis.bounded_reading` for workbooks and
JSON and with ``nrows`` for CSV, never after everything is in memory; a file over a
limit raises :class:`analysis.limits.UploadTooLargeError`, and so does a read that runs
out of memory.

Row numbers are those a person sees in a spreadsheet: the header is row 1 and
the first data row is row 2 (for JSON: the 1-based record number). A quoted
cell that spans several lines counts as one row. Lines that cannot be split
into the file's columns (too many values, or too few: a short line would
otherwise be read with its last cells empty) are not in the table; they are
listed in :attr:`RawInfo.bad_rows` so that ingestion reports them as rejected.

Nothing here knows the canonical columns: mapping headers and checking values
is :mod:`analysis.tables` and :mod:`analysis.validation`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import warnings
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.bounded_reading import inspect_workbook, read_json_records, read_workbook_rows
from analysis.errors import UnreadableFileError
from analysis.headers import fold_header
from analysis.limits import UploadLimits, current_limits
from analysis.schema import TABLES

__all__ = [
    "HEAD_BYTES",
    "RawInfo",
    "read_raw",
    "read_table",
    "sniff_encoding",
    "decode_head",
    "reject_binary",
    "sniff_delimiter",
    "unique_headers",
    "drop_blank_rows",
    "cell_text",
    "distinct_values",
]

#: How many bytes of a file are looked at to tell its format, encoding and delimiter.
HEAD_BYTES = 1 << 16

_DELIMITERS = (",", ";", "\t", "|")


# ---------------------------------------------------------------------------
# what was read


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
    row_numbers: npt.NDArray[np.int64]
    bad_rows: tuple[tuple[int, str], ...] = ()
    blank_rows: int = 0
    table_hint: str | None = None
    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------------------
# public API


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
        See :func:`read_table`.
    """
    frame, info = read_table(source, filename, None, as_category=False)
    return frame, info


def read_table(
    source: str | Path | bytes, filename: str | None, table: str | None, *, as_category: bool
) -> tuple[pd.DataFrame, RawInfo]:
    """Read a CSV, ``.xlsx`` or JSON file into a table of text, telling the format from the bytes.

    Parameters
    ----------
    source
        A path, or the file's bytes.
    filename
        Name of the uploaded file (its extension helps to tell JSON from CSV);
        defaults to the path's name, or ``"<upload>"``.
    table
        The table the caller wants, if known: picks the JSON list or the Excel
        sheet of that name when the file holds several.
    as_category
        Give every column the ``category`` dtype (fast for the repeated values of
        a large log) instead of ``object`` cells of text.

    Returns
    -------
    frame : pandas.DataFrame
        See :func:`read_raw`.
    info : RawInfo
        How the file was read.

    Raises
    ------
    UnreadableFileError
        The file is missing, a folder, empty, binary, an old ``.xls`` workbook,
        a damaged workbook, or cannot be parsed as CSV / xlsx / JSON.
    """
    limits = current_limits()
    src = _open(source, filename, limits)
    try:
        return _read_source(src, table, as_category, limits)
    except MemoryError:  # never a traceback: the file is too large for this server's memory
        raise limits.out_of_memory(src.name) from None


def _read_source(src: _Source, table: str | None, as_category: bool,
                 limits: UploadLimits) -> tuple[pd.DataFrame, RawInfo]:
    if not src.head.strip():
        raise UnreadableFileError("the file is empty", source=src.name)
    suffix = Path(src.name).suffix.lower()
    if src.head.startswith(b"PK\x03\x04"):
        return _read_xlsx(src, table, as_category, limits)
    if src.head.startswith(b"\xd0\xcf\x11\xe0") or suffix == ".xls":
        raise UnreadableFileError(
            "this is an old-style Excel file (.xls); open it in Excel or LibreOffice and save it as "
            ".xlsx or CSV", source=src.name)
    if suffix in (".xlsx", ".xlsm"):
        raise UnreadableFileError("the file is named .xlsx but is not an Excel workbook", source=src.name)
    encoding = sniff_encoding(src.head)
    text_head = decode_head(src.head, encoding)
    reject_binary(text_head, src.name)
    if suffix == ".json" or (suffix not in (".csv", ".tsv", ".txt") and text_head.lstrip()[:1] in ("[", "{")):
        return _read_json(src, table, encoding, as_category, limits)
    return _read_csv(src, encoding, text_head, as_category, limits)


# ---------------------------------------------------------------------------
# sources and encodings


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


def _open(source: str | Path | bytes, filename: str | None, limits: UploadLimits) -> _Source:
    """The file's name, head and size; a file over the byte limit is refused before it is read."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        limits.check_bytes(len(data), filename or "<upload>")
        return _Source(filename or "<upload>", None, data, data[:HEAD_BYTES], len(data))
    path = Path(source)
    name = filename or path.name
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise UnreadableFileError(f"{path} {what}", source=name)
    size = path.stat().st_size
    limits.check_bytes(size, name)
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    return _Source(name, path, None, head, size)


def sniff_encoding(head: bytes) -> str:
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


def decode_head(head: bytes, encoding: str) -> str:
    """The first bytes of a file as text; a character cut off at the end, or an undecodable byte, is replaced."""
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)


def reject_binary(text: str, name: str) -> None:
    """Raise :class:`~analysis.errors.UnreadableFileError` when decoded text looks like a binary file.

    Parameters
    ----------
    text
        The start of the file, decoded (see :func:`decode_head`).
    name
        File name for the message.

    Raises
    ------
    UnreadableFileError
        The text holds a NUL character or more than 5 % control characters.
    """
    sample = text[:8192]
    controls = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\r\n") or ch == "\x7f")
    if "\x00" in sample or controls > max(2, len(sample) // 20):
        raise UnreadableFileError(
            "this does not look like a table: it is neither text (CSV), an Excel .xlsx workbook "
            "nor JSON. Export the log as CSV or .xlsx and try again", source=name)


# ---------------------------------------------------------------------------
# CSV


def sniff_delimiter(text: str, truncated: bool) -> str:
    """The delimiter among ``, ; tab |`` that splits the first lines into equally many fields.

    Parameters
    ----------
    text
        The start of the file as text (at most the first 50 non-empty lines are used).
    truncated
        The text is only the start of the file: its last line may be cut off and is ignored.

    Returns
    -------
    str
        The delimiter giving at least two fields on the first line and the most
        lines with as many fields as the first; ``","`` when none does.
    """
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


def _header_width(text_head: str, delimiter: str, complete: bool, name: str) -> int:
    """Fields of the header (the first non-empty record), read from the start of the file.

    A header that does not end within the first :data:`HEAD_BYTES` of a longer file is refused: no log
    has a 64 KB header, and pandas would build one column per field before any limit could apply.
    """
    if not complete:
        end = max(text_head.rfind("\n"), text_head.rfind("\r"))
        if end < 0:
            raise UnreadableFileError(
                f"the first line of the file (the header) is longer than {HEAD_BYTES // 1024} KB; a log's header "
                "names its columns in a few hundred characters. Check that this is a log exported as CSV",
                source=name)
        text_head = text_head[:end + 1]
    try:
        for record in csv.reader(io.StringIO(text_head), delimiter=delimiter):
            if any(field.strip() for field in record):
                return len(record)
    except csv.Error:
        pass  # the parser says what is wrong
    return 0


def _read_csv(src: _Source, encoding: str, text_head: str, as_category: bool,
              limits: UploadLimits) -> tuple[pd.DataFrame, RawInfo]:
    complete = src.size <= len(src.head)
    delimiter = sniff_delimiter(text_head, truncated=not complete)
    limits.check_columns(_header_width(text_head, delimiter, complete, src.name), src.name)
    nrows = limits.max_rows + 1  # rows are counted while reading: one more than allowed is enough to refuse
    for _attempt in range(8):
        frame, caught, encoding = _parse_csv(src, delimiter, encoding, as_category, nrows)
        if len(frame) < nrows:
            break  # the whole file was read
        _, _, blank = drop_blank_rows(frame, np.arange(len(frame), dtype=np.int64))
        if len(frame) - blank > limits.max_rows:
            raise limits.too_many_rows(src.name)
        nrows = max(2 * nrows, limits.max_rows + 1 + blank)  # empty lines are not rows: read on past them
    else:  # more than 128 times as many lines as rows allowed, nearly all empty
        raise limits.too_many_rows(src.name)
    limits.check_columns(frame.shape[1], src.name)
    return _csv_result(src, frame, caught, encoding, delimiter)


def _parse_csv(src: _Source, delimiter: str, encoding: str, as_category: bool,
               nrows: int) -> tuple[pd.DataFrame, list[warnings.WarningMessage], str]:
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
                    nrows=nrows, compression=None,  # a path named .gz is not unpacked: a log is plain text
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
    return frame, caught, encoding


def _csv_result(src: _Source, frame: pd.DataFrame, caught: list[warnings.WarningMessage], encoding: str,
                delimiter: str) -> tuple[pd.DataFrame, RawInfo]:
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
    frame.columns = unique_headers([str(c) for c in frame.columns])
    frame, positions, short = _drop_short_rows(frame, positions, src, encoding, delimiter)
    if short:
        bad = tuple(sorted(bad + short))
    frame, positions, blank = drop_blank_rows(frame, positions)
    info = RawInfo(src.name, "csv", encoding, delimiter, positions, bad, blank)
    return frame, info


def _count_short(src: _Source, encoding: str, delimiter: str, width: int, candidates: set[int]) -> dict[int, int]:
    """Row number -> number of values, of the candidate rows with fewer values than ``width`` (and not blank)."""
    data = src.all_bytes()
    if encoding in ("utf-8", "utf-8-sig", "cp1252", "latin-1") and b'"' not in data:
        # no quotes: one line is one row, and its values are its delimiters + 1 (counted with numpy)
        raw = np.frombuffer(data, dtype=np.uint8)
        ends = np.append(np.flatnonzero(raw == 10), len(raw))
        starts = np.append(0, ends[:-1] + 1)
        commas = np.cumsum(raw == ord(delimiter))
        before = np.append(0, commas)
        fields = before[ends] - before[starts] + 1
        text = np.isin(raw, np.frombuffer(b" \t\r\n", dtype=np.uint8), invert=True)
        filled = np.append(0, np.cumsum(text))
        nonblank = filled[ends] - filled[starts] > 0
        rows = np.arange(1, len(ends) + 1)
        wanted = np.isin(rows, np.fromiter(candidates, dtype=np.int64)) & nonblank & (fields < width)
        return {int(r): int(f) for r, f in zip(rows[wanted], fields[wanted], strict=True)}
    short: dict[int, int] = {}
    handle = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors="replace", newline="")
    with handle:
        try:
            for row, values in enumerate(csv.reader(handle, delimiter=delimiter), start=1):
                if row in candidates and 0 < len(values) < width and any(v.strip() for v in values):
                    short[row] = len(values)
        except csv.Error:  # pandas read the file; a stricter reader's complaint changes nothing
            return {}
    return short


def _drop_short_rows(
    frame: pd.DataFrame, positions: npt.NDArray[np.int64], src: _Source, encoding: str, delimiter: str
) -> tuple[pd.DataFrame, npt.NDArray[np.int64], tuple[tuple[int, str], ...]]:
    """Rows with fewer values than the header (pandas fills them with empty cells): out of the table, with a reason.

    Only rows whose last cell is empty can be short, so the file is re-read with :mod:`csv`
    (values counted per row, quotes respected) only when there are such rows.
    """
    width = frame.shape[1]
    if width < 2 or not len(frame):
        return frame, positions, ()
    candidates = set(positions[frame.iloc[:, -1].isna().to_numpy()].tolist())
    if not candidates:
        return frame, positions, ()
    short = _count_short(src, encoding, delimiter, width, candidates)
    if not short:
        return frame, positions, ()
    drop = np.isin(positions, np.fromiter(short, dtype=np.int64))
    reasons = tuple(
        (row, f"this line has {saw} value{'s' if saw != 1 else ''} but the header has {width}; a value or a "
              f"{_delimiter_name(delimiter, plural=False)} is missing (rows with too few values are not guessed at)")
        for row, saw in sorted(short.items()))
    return frame.loc[~drop].reset_index(drop=True), positions[~drop], reasons


_DELIMITER_NAMES = {",": ("comma", "commas"), ";": ("semicolon", "semicolons"), "\t": ("tab", "tabs"),
                    "|": ("bar (|)", "bars (|)")}


def _delimiter_name(delimiter: str, plural: bool = True) -> str:
    names = _DELIMITER_NAMES.get(delimiter, (repr(delimiter), repr(delimiter)))
    return names[1] if plural else names[0]


# ---------------------------------------------------------------------------
# JSON and Excel


def _read_json(src: _Source, table: str | None, encoding: str, as_category: bool,
               limits: UploadLimits) -> tuple[pd.DataFrame, RawInfo]:
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
    del data
    records, hint = read_json_records(text, table, src.name, limits, tuple(TABLES))
    columns: dict[str, list[Any]] = {}  # built record by record: nothing but the cells is kept
    numbers: list[int] = []
    bad: list[tuple[int, str]] = []
    for number, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            bad.append((number, "this record is not a set of named values like {\"date\": \"2026-09-08\"}"))
            continue
        texts = {str(k): v for k, v in rec.items()}
        for key in texts:
            if key not in columns:
                limits.check_columns(len(columns) + 1, src.name)
                columns[key] = [None] * len(numbers)
        numbers.append(number)
        for key, cells in columns.items():
            cells.append(_json_cell(texts.get(key)))
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()}, index=range(len(numbers)))
    if as_category:
        frame = frame.astype("category")
    frame, positions, blank = drop_blank_rows(frame, np.asarray(numbers, dtype=np.int64))
    return frame, RawInfo(src.name, "json", encoding, "", positions, tuple(bad), blank, hint)


def _json_cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return cell_text(value)


def _read_xlsx(src: _Source, table: str | None, as_category: bool,
               limits: UploadLimits) -> tuple[pd.DataFrame, RawInfo]:
    def preferred(titles: list[str]) -> str | None:
        by_name = {fold_header(t): t for t in titles}
        if table:
            return by_name.get(table)
        named = [by_name[t] for t in TABLES if t in by_name]
        return named[0] if named else None

    with (src.path.open("rb") if src.path is not None else io.BytesIO(src.data or b"")) as handle:
        inspect_workbook(handle, src.name, limits)  # the zip directory only: nothing is unpacked yet
        found = read_workbook_rows(handle, src.name, limits, preferred)
    rows = found.rows
    if not rows:
        raise UnreadableFileError("the workbook has no filled-in cells", source=src.name)
    hint = fold_header(found.sheet) if fold_header(found.sheet) in TABLES else None
    notes = []
    if found.n_sheets > 1:
        notes.append(f"the workbook has {found.n_sheets} sheets; only sheet {found.sheet!r} was read")
    _, header_cells = rows[0]
    width = max(len(header_cells), 1)
    headers = unique_headers([
        cell_text(h) if h is not None and str(h).strip() else f"Unnamed: {i}" for i, h in enumerate(header_cells)
    ])
    data = [tuple(values[:width]) + (None,) * (width - len(values)) for _, values in rows[1:]]
    numbers = np.asarray([number for number, _ in rows[1:]], dtype=np.int64)
    columns = {h: pd.Series([cell_text(r[i]) if r[i] is not None else None for r in data], dtype=object)
               for i, h in enumerate(headers)}
    frame = pd.DataFrame(columns, index=range(len(data)))
    if as_category:
        frame = frame.astype("category")
    blank = max(int(numbers[-1] - rows[0][0]) - len(numbers), 0) if len(numbers) else 0  # rows skipped as empty
    return frame, RawInfo(src.name, "xlsx", "", "", numbers, (), blank, hint, tuple(notes))


# ---------------------------------------------------------------------------
# headers, blank rows, cells and distinct values


def unique_headers(headers: list[str]) -> list[str]:
    """Headers made unique the way pandas does: a repeated ``Date`` becomes ``Date.1``, ``Date.2``.

    Parameters
    ----------
    headers
        Headers as written.

    Returns
    -------
    list of str
        The same headers, repeats numbered.
    """
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


def drop_blank_rows(
    frame: pd.DataFrame, numbers: npt.NDArray[np.int64]
) -> tuple[pd.DataFrame, npt.NDArray[np.int64], int]:
    """Drop rows whose every cell is empty or white space; keep their row numbers out too.

    Parameters
    ----------
    frame
        A table of text cells.
    numbers
        The row number (in the file) of each row of ``frame``.

    Returns
    -------
    frame : pandas.DataFrame
        The rows with at least one filled-in cell, with a fresh ``RangeIndex``.
    numbers : numpy.ndarray
        Their row numbers.
    blank : int
        How many rows were dropped.
    """
    if frame.shape[1] == 0 or len(frame) == 0:
        return frame, numbers, 0
    candidates = np.arange(len(frame))
    for name in frame.columns:  # a row is blank when every cell is; most rows drop out at the first column
        codes, text = distinct_values(frame[name].iloc[candidates])
        candidates = candidates[np.append(_blank_text(text), True)[codes]]
        if not candidates.size:
            return frame, numbers, 0
    keep = np.ones(len(frame), dtype=bool)
    keep[candidates] = False
    return frame.loc[keep].reset_index(drop=True), numbers[keep], len(candidates)


def cell_text(value: Any) -> str:
    """A cell as text, written the way a person would (5 not 5.0, 2026-02-03 07:30:00).

    Parameters
    ----------
    value
        A cell of a workbook, a JSON value or a DataFrame (not missing).

    Returns
    -------
    str
        Booleans as ``true``/``false``, whole floats without ``.0``, dates and
        times in ISO 8601 with a space, bytes decoded as UTF-8. A date-time at
        exactly midnight (what a spreadsheet's date cell holds) is written as the
        date alone, so that it reads as a day without a clock time.
    """
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
        if pd.isna(value):
            return ""
        return value.date().isoformat() if value == value.normalize() and value.tz is None else str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None and value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def distinct_values(column: pd.Series[Any]) -> tuple[npt.NDArray[np.integer[Any]], npt.NDArray[np.object_]]:
    """Codes (``-1`` = empty cell) and the distinct values of a column as text.

    Parameters
    ----------
    column
        A column as read (``category`` or ``object`` cells).

    Returns
    -------
    codes : numpy.ndarray
        Per row, the index of its value in ``uniques``; ``-1`` for a missing cell.
    uniques : numpy.ndarray
        The distinct values as ``str`` (see :func:`cell_text`), in order of appearance
        (or of the categories).
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()  # int8/16/32: indexing needs no wider copy
        uniques = np.asarray(column.cat.categories, dtype=object)
    else:
        try:
            found, distinct = pd.factorize(column, use_na_sentinel=True)
        except TypeError:  # unhashable cells (lists, dicts)
            found, distinct = pd.factorize(column.map(lambda v: v if _is_missing(v) else cell_text(v)))
        codes = np.asarray(found, dtype=np.int64)
        uniques = np.asarray(distinct, dtype=object)
    if pd.api.types.infer_dtype(uniques, skipna=False) not in ("string", "empty"):
        uniques = np.array([cell_text(u) for u in uniques], dtype=object)
    return codes, uniques


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _blank_text(text: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    return np.array([not t.strip() for t in text], dtype=bool)
