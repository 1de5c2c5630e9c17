"""Readers that stop at the limits: a workbook's zip directory, worksheet rows one by one, JSON records one by one.

:mod:`analysis.reading` calls these for every ``.xlsx`` and JSON file, and
counts CSV rows with ``nrows``; the limits are those of
:func:`analysis.limits.current_limits`. Nothing here holds more of a file in
memory than the limits allow:

* :func:`inspect_workbook` reads only the zip **directory** of an ``.xlsx`` file
  (the sizes each part declares; :mod:`zipfile` never unpacks more than a part
  declares) and refuses a workbook that unpacks to more than the limits, whose
  parts pack far more tightly than a spreadsheet does (a "zip bomb"), that is
  encrypted, or that uses a compression a workbook never uses;
* :func:`read_workbook_rows` then streams the worksheet XML (the shared strings
  with a bound on their number; each cell converted by openpyxl's own cell
  parser, so dates, booleans and formulas read as before) and stops at the
  row limit + 1, at a filled-in cell beyond the column limit, or at a cell of
  more than 32,767 characters (Excel's own limit);
* :func:`read_json_records` decodes a JSON document one record at a time and
  stops at the row limit + 1 or at more distinct keys than the column limit.

Every refusal is an :class:`analysis.limits.UploadTooLargeError` or an
:class:`analysis.errors.UnreadableFileError` whose message says what to do.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any
from xml.etree.ElementTree import iterparse

from analysis.errors import UnreadableFileError
from analysis.limits import UploadLimits, UploadTooLargeError

__all__ = [
    "EXCEL_MAX_CELL_CHARS",
    "WorkbookRows",
    "inspect_workbook",
    "read_workbook_rows",
    "read_json_records",
]

#: The most characters one Excel cell holds (Excel's specification); a longer cell is not from a spreadsheet.
EXCEL_MAX_CELL_CHARS = 32_767
#: Parts smaller than this are never refused for their compression ratio (a tiny part cannot hurt).
_RATIO_FLOOR = 1 << 20
_MB = 1024 * 1024
_NOT_A_WORKBOOK = ("Save the log again from Excel or LibreOffice as an .xlsx workbook, or export it as CSV, "
                   "and upload that.")

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW, _CELL, _SHEET_DATA, _SI = f"{_MAIN}row", f"{_MAIN}c", f"{_MAIN}sheetData", f"{_MAIN}si"


# ---------------------------------------------------------------------------
# the zip directory of a workbook


def _entry_count(handle: IO[bytes]) -> int | None:
    """Entries the zip's end-of-central-directory record declares (``None`` for ZIP64 or when not found)."""
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    tail_size = min(size, 22 + 65535)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    entries = struct.unpack("<4s4H2LH", tail[at:at + 22])[4]
    return None if entries == 0xFFFF else int(entries)


def inspect_workbook(handle: IO[bytes], name: str, limits: UploadLimits) -> None:
    """Refuse a workbook from its zip directory alone, before any part is unpacked.

    Parameters
    ----------
    handle
        The file, opened for binary reading (seekable).
    name
        File name for messages.
    limits
        The limits in force.

    Raises
    ------
    UploadTooLargeError
        The parts unpack to more than ``limits.max_unpacked`` bytes in all, a
        worksheet to more than that, any other part to more than
        ``limits.max_bytes``, a part of more than 1 MiB packs more than
        ``limits.max_ratio`` to 1, or there are more than ``limits.max_parts`` parts.
    UnreadableFileError
        The file is not a zip archive, is encrypted, or uses a compression other
        than deflate (every spreadsheet program writes deflate).
    """
    declared = _entry_count(handle)
    if declared is not None and declared > limits.max_parts:
        raise UploadTooLargeError(
            f"this workbook is made of {declared:,} parts; a spreadsheet has a few dozen (at most "
            f"{limits.max_parts:,} are read). " + _NOT_A_WORKBOOK, source=name)
    handle.seek(0)
    try:
        with zipfile.ZipFile(handle) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, struct.error):
        raise UnreadableFileError(
            "the file could not be opened as an Excel .xlsx workbook (it may be damaged or another kind of zip "
            "archive)", source=name) from None
    if len(infos) > limits.max_parts:
        raise UploadTooLargeError(
            f"this workbook is made of {len(infos):,} parts; a spreadsheet has a few dozen. " + _NOT_A_WORKBOOK,
            source=name)
    total = 0
    for info in infos:
        part = info.filename
        if info.flag_bits & 0x1:
            raise UnreadableFileError(
                "the workbook is protected with a password; remove the password in Excel (File > Info > Protect "
                "Workbook) and upload it again", source=name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise UnreadableFileError(
                f"part {part} of this workbook uses a compression no spreadsheet program writes. " + _NOT_A_WORKBOOK,
                source=name)
        if info.file_size > _RATIO_FLOOR:  # a bomb first: "split the file" would be the wrong advice
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise UploadTooLargeError(
                    f"this is not a normal spreadsheet: part {part} packs {info.file_size / _MB:,.1f} MB into "
                    f"{info.compress_size / 1024:,.1f} KB ({ratio:,.0f} to 1; spreadsheets pack about 10 to 1, at "
                    f"most {limits.max_ratio:,.0f} to 1 is read). It was not opened. " + _NOT_A_WORKBOOK,
                    source=name)
        is_sheet = PurePosixPath(part).parent.name == "worksheets"
        part_limit = limits.max_unpacked if is_sheet else limits.max_bytes
        if info.file_size > part_limit:
            raise UploadTooLargeError(
                f"this workbook unpacks to more than it may: part {part} alone is {info.file_size / _MB:,.1f} MB "
                f"unpacked (the file is {_packed_mb(infos):.1f} MB); at most {part_limit / _MB:,.0f} MB is read. "
                "Split the log into smaller files (for example one per month) and upload each.", source=name)
        total += info.file_size
    if total > limits.max_unpacked:
        raise UploadTooLargeError(
            f"this workbook unpacks to {total / _MB:,.1f} MB (the file is {_packed_mb(infos):.1f} MB); one upload may "
            f"unpack to at most {limits.max_unpacked / _MB:,.0f} MB. Split the log into smaller files (for example "
            "one per month) and upload each.", source=name)


def _packed_mb(infos: list[zipfile.ZipInfo]) -> float:
    return sum(i.compress_size for i in infos) / _MB


# ---------------------------------------------------------------------------
# worksheet rows, streamed


@dataclass(frozen=True)
class WorkbookRows:
    """The filled-in rows of the first worksheet (the preferred one first) that has any.

    Attributes
    ----------
    sheet
        Title of the sheet read.
    n_sheets
        Number of worksheets in the workbook.
    rows
        ``(row number, values)`` of every row with at least one filled-in cell, in
        file order; ``values[i]`` is column ``i + 1`` (``None`` = empty).
    """

    sheet: str
    n_sheets: int
    rows: list[tuple[int, tuple[Any, ...]]]


def _bounded_reader_class() -> type:
    """Openpyxl's package reader with a bounded shared-strings table (built on first use: openpyxl loads lazily)."""
    from openpyxl.cell.text import Text
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.xml.constants import SHARED_STRINGS

    class BoundedExcelReader(ExcelReader):  # type: ignore[misc]
        max_strings: int = 0
        source_name: str = ""

        def read_strings(self) -> None:
            part = self.package.find(SHARED_STRINGS)
            self.shared_strings = []
            if part is None:
                return
            strings: list[str] = []
            with self.archive.open(part.PartName[1:]) as src:
                root = None
                for event, node in iterparse(src, events=("start", "end")):
                    if root is None:
                        root = node
                    if event == "end" and node.tag == _SI:
                        text = Text.from_tree(node).content.replace("x005F_", "")
                        _check_cell_length(text, self.source_name)
                        strings.append(text)
                        if len(strings) > self.max_strings:
                            raise UploadTooLargeError(
                                f"this workbook holds more than {self.max_strings:,} different texts; one upload "
                                "may hold at most that many. Split the log into smaller files and upload each.",
                                source=self.source_name)
                        root.clear()
            self.shared_strings = strings

    return BoundedExcelReader


def _check_cell_length(value: Any, name: str) -> None:
    if isinstance(value, str) and len(value) > EXCEL_MAX_CELL_CHARS:
        raise UploadTooLargeError(
            f"a cell holds {len(value):,} characters; a spreadsheet cell holds at most {EXCEL_MAX_CELL_CHARS:,}. "
            "This is not a log that can be read.", source=name)


def read_workbook_rows(handle: IO[bytes], name: str, limits: UploadLimits,
                       preferred: Callable[[list[str]], str | None]) -> WorkbookRows:
    """Stream the rows of a workbook already checked by :func:`inspect_workbook`, stopping at the limits.

    Parameters
    ----------
    handle
        The workbook, opened for binary reading.
    name
        File name for messages.
    limits
        The limits in force.
    preferred
        Given the sheet titles, the title to read first (``None``: file order).

    Returns
    -------
    WorkbookRows
        The rows of the first sheet with a filled-in cell (an empty ``rows`` when none has one).

    Raises
    ------
    UploadTooLargeError
        More than ``limits.max_rows`` filled-in rows after the header, a filled-in
        cell beyond column ``limits.max_columns``, a cell longer than
        :data:`EXCEL_MAX_CELL_CHARS`, or too many shared texts.
    UnreadableFileError
        The workbook is damaged.
    """
    from openpyxl.styles.stylesheet import apply_stylesheet
    from openpyxl.worksheet._reader import WorkSheetParser

    reader_class = _bounded_reader_class()
    try:
        handle.seek(0)
        reader = reader_class(handle, read_only=True, data_only=False, keep_links=False)
        reader.max_strings = max(2 * limits.max_rows, 100_000)
        reader.source_name = name
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        sheets = [(sheet.name, rel.target) for sheet, rel in reader.parser.find_sheets()
                  if rel.target in reader.valid_files and "chartsheet" not in rel.Type]
    except (UploadTooLargeError, MemoryError):
        raise
    except Exception:  # a zip that is not a workbook, or a damaged workbook
        raise UnreadableFileError(
            "the file could not be opened as an Excel .xlsx workbook (it may be damaged or another kind of zip "
            "archive)", source=name) from None
    try:
        first = preferred([title for title, _ in sheets])
        order = sorted(sheets, key=lambda s: s[0] != first) if first is not None else sheets
        for title, target in order:
            parser = WorkSheetParser(None, reader.shared_strings, data_only=False, epoch=reader.wb.epoch,
                                     date_formats=reader.wb._date_formats,
                                     timedelta_formats=reader.wb._timedelta_formats)
            with reader.archive.open(target) as src:
                rows = list(_sheet_rows(src, parser, name, limits))
            if rows:
                return WorkbookRows(title, len(sheets), rows)
        return WorkbookRows(sheets[0][0] if sheets else "", len(sheets), [])
    except (UploadTooLargeError, MemoryError):
        raise
    except Exception:
        raise UnreadableFileError("the Excel workbook could not be read (it may be damaged)", source=name) from None
    finally:
        reader.archive.close()


def _sheet_rows(src: IO[bytes], parser: Any, name: str, limits: UploadLimits
                ) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """``(row number, values)`` of the filled-in rows of one worksheet's XML, one at a time."""
    sheet_data = None
    cells: dict[int, Any] = {}
    data_rows = -1  # the first filled-in row is the header
    for event, element in iterparse(src, events=("start", "end")):
        tag = element.tag
        if event == "start":
            if tag == _ROW:
                number = element.get("r")
                parser.row_counter = int(float(number)) if number else parser.row_counter + 1
                parser.col_counter = 0
                cells = {}
            elif tag == _SHEET_DATA:
                sheet_data = element
            continue
        if tag == _CELL:
            if len(element):  # a value, a formula or an inline string
                cell = parser.parse_cell(element)
                value = cell["value"]
                if value is not None and str(value).strip() != "":
                    if cell["column"] > limits.max_columns:
                        limits.check_columns(cell["column"], name)
                    _check_cell_length(value, name)
                    cells[cell["column"]] = value
            elif element.get("r"):
                parser.col_counter = _column_of(element.get("r"))
            else:
                parser.col_counter += 1
            element.clear()
        elif tag == _ROW:
            if cells:
                data_rows += 1
                if data_rows > limits.max_rows:
                    raise limits.too_many_rows(name)
                width = max(cells)
                yield parser.row_counter, tuple(cells.get(i) for i in range(1, width + 1))
            element.clear()
            if sheet_data is not None:
                sheet_data.clear()  # the rows read so far: nothing of the sheet accumulates


_COLUMN = re.compile(r"^\$?([A-Za-z]{1,3})")


def _column_of(coordinate: str) -> int:
    found = _COLUMN.match(coordinate)
    if not found:
        return 0
    number = 0
    for ch in found.group(1).upper():
        number = number * 26 + ord(ch) - 64
    return number


# ---------------------------------------------------------------------------
# JSON records, one at a time

_SPACE = re.compile(r"[ \t\n\r]*")


@dataclass
class _Cursor:
    text: str
    at: int = 0

    def skip(self) -> str:
        """Skip white space; the next character ('' at the end)."""
        self.at = _SPACE.match(self.text, self.at).end()  # type: ignore[union-attr]
        return self.text[self.at:self.at + 1]

    def expect(self, char: str, what: str, name: str) -> None:
        if self.skip() != char:
            raise _not_json(self, f"expected {what}", name)
        self.at += 1


def _not_json(cursor: _Cursor, what: str, name: str) -> UnreadableFileError:
    line = cursor.text.count("\n", 0, cursor.at) + 1
    column = cursor.at - (cursor.text.rfind("\n", 0, cursor.at) + 1) + 1
    return UnreadableFileError(f"the file is not valid JSON (line {line}, column {column}: {what})", source=name)


def _decode_one(decoder: json.JSONDecoder, cursor: _Cursor, name: str) -> Any:
    cursor.skip()
    try:
        value, end = decoder.raw_decode(cursor.text, cursor.at)
    except json.JSONDecodeError as exc:
        raise UnreadableFileError(f"the file is not valid JSON (line {exc.lineno}, column {exc.colno})",
                                  source=name) from None
    except RecursionError:
        raise UnreadableFileError("the file is not valid JSON (nested too deeply)", source=name) from None
    cursor.at = end
    return value


def _array_items(decoder: json.JSONDecoder, cursor: _Cursor, name: str, limits: UploadLimits) -> Iterator[Any]:
    """The elements of the JSON array starting at the cursor, decoded one by one (at most ``max_rows``)."""
    cursor.expect("[", "[", name)
    if cursor.skip() == "]":
        cursor.at += 1
        return
    count = 0
    while True:
        count += 1
        if count > limits.max_rows:
            raise limits.too_many_rows(name)
        yield _decode_one(decoder, cursor, name)
        following = cursor.skip()
        cursor.at += 1
        if following == "]":
            return
        if following != ",":
            cursor.at -= 1
            raise _not_json(cursor, "expected , or ] after a record", name)


def read_json_records(text: str, table: str | None, name: str, limits: UploadLimits,
                      tables: tuple[str, ...]) -> tuple[Iterator[Any], str | None]:
    """The records of a JSON document (a list of records, or ``{"<table>": [records]}``), decoded one by one.

    Parameters
    ----------
    text
        The whole document (at most ``limits.max_bytes`` of it was read).
    table
        The table asked for: picks the list of that name when the object holds several.
    name
        File name for messages.
    limits
        The limits in force.
    tables
        The canonical table names (a key naming one is a hint of the table).

    Returns
    -------
    records : iterator
        The records, decoded one at a time; it raises :class:`UploadTooLargeError`
        at record ``limits.max_rows + 1``.
    hint : str or None
        The table named by the object's key, if any.

    Raises
    ------
    UnreadableFileError
        Not valid JSON, or neither a list nor an object holding lists.
    """
    decoder = json.JSONDecoder()
    cursor = _Cursor(text.lstrip("\ufeff"))
    first = cursor.skip()
    if first == "[":
        items = _array_items(decoder, cursor, name, limits)
        return _then_end(items, cursor, name), None
    if first != "{":
        if first == "":
            raise UnreadableFileError("the file is empty", source=name)
        _decode_one(decoder, cursor, name)  # a valid scalar or an invalid document: say which
        raise _not_a_list(name)
    # an object: find its lists (each scanned once, records discarded), then stream the chosen one
    cursor.at += 1
    lists: dict[str, int] = {}
    if cursor.skip() == "}":
        raise _not_a_list(name)
    while True:
        key = _decode_one(decoder, cursor, name)
        if not isinstance(key, str):
            raise _not_json(cursor, "expected a name in quotes", name)
        cursor.expect(":", ":", name)
        if cursor.skip() == "[":
            lists[key] = cursor.at
            for _ in _array_items(decoder, cursor, name, limits):
                pass
        else:
            _decode_one(decoder, cursor, name)
        following = cursor.skip()
        cursor.at += 1
        if following == "}":
            break
        if following != ",":
            cursor.at -= 1
            raise _not_json(cursor, "expected , or } after a value", name)
    if cursor.skip():
        raise _not_json(cursor, "extra data after the document", name)
    if table is not None and table in lists:
        chosen = table
    elif len(lists) == 1:
        chosen = next(iter(lists))
    else:
        if lists:
            named = [k for k in lists if k in tables]
            raise UnreadableFileError(
                f"the JSON file holds several lists ({', '.join(lists)}); choose the table to read"
                + (f" (one of {', '.join(named)})" if named else ""), source=name)
        raise _not_a_list(name)
    again = _Cursor(cursor.text, lists[chosen])
    hint = chosen if (chosen == table or chosen in tables) else None
    return _array_items(decoder, again, name, limits), hint


def _then_end(items: Iterator[Any], cursor: _Cursor, name: str) -> Iterator[Any]:
    yield from items
    if cursor.skip():
        raise _not_json(cursor, "extra data after the document", name)


def _not_a_list(name: str) -> UnreadableFileError:
    return UnreadableFileError(
        'expected a JSON list of records ([{"date": ...}, ...]) or {"sessions": [...]}', source=name)
