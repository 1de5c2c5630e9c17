"""One validation engine for every row that enters rehabtrack, driven by :mod:`analysis.schema`.

Every rule comes from the :class:`~analysis.schema.ColumnSpec` of a column (its
dtype, whether it is required, its range and its vocabulary) and from the key of
its :class:`~analysis.schema.TableSpec`; nothing here lists a range of its own.
The engine has two doors onto the same rules:

* :func:`validate_cells` checks cells **as written** (text from a file, read by
  :mod:`analysis.reading` and mapped to canonical columns by
  :mod:`analysis.tables`): it converts every cell to its canonical dtype and
  checks it, and is what :func:`analysis.ingest.ingest_file`, the upload page,
  ``rehabtrack validate`` and the app importers use;
* :func:`validate_frame` checks a table that already has canonical values (an
  entry made in the app, a programme saved by a physio): the store calls it
  before it writes anything.

Both report **file-level failures first** (the file is unreadable, the table is
unknown, required columns are missing; nothing else is checked then) and **then
row failures**. For a file the file-level failures are raised before any cell
is checked, as the typed errors of :mod:`analysis.errors` (by
:mod:`analysis.reading`, :func:`check_table_name` and the header mapping of
:mod:`analysis.tables`); :func:`validate_frame` returns them as
:class:`FileFailure` (whose :meth:`~FileFailure.error` is the same typed error).
Row failures are one row of :data:`REJECTED_COLUMNS` per problem: ``row`` (as a
person counts lines: the header is line 1, the first data row line 2; for JSON
the 1-based record number), ``column``, ``check`` (the rule, one of
:data:`ROW_CHECKS`), ``value`` (the cell as written) and ``reason`` (plain words).

Rules for cells as written
--------------------------
* Numbers: ``2,5`` is 2.5 when the delimiter is ``;``, tab or ``|`` (never in a
  comma-separated file, where it would be a guess). Whole-number columns
  reject ``2.5``. A hold header in minutes (``Hold (min)``) is converted to seconds.
* Dates: ISO 8601 first (``2026-09-08``, ``2026-09-08 07:30``), then numeric
  dates in the caller's day order (``dayfirst``), then month names
  (``8 Sep 2026``). Dates of things that happened (sessions, pain ratings,
  questionnaires) after ``today`` are rejected; planning dates (programme
  start, prescription periods) may lie ahead. Dates before 1900 are rejected.
  Date-only columns become midnight.
* Day order: the file is checked against the order chosen. When some of its
  dates are only valid in the other order and none is only valid in the chosen
  one, the file proves its own order and is refused as a whole
  (:class:`~analysis.errors.DayOrderError`, check ``"day_order"``, naming the
  rows). When the file holds both kinds, the dates impossible in the chosen
  order are rejected row by row and a warning says so.
* Time of day: a timestamp written without a clock time (``08/09/2026``) is
  midnight **and marked untimed** (:attr:`CellValidation.row_info`
  ``time_written`` is False): a diary row of "that day". ``2026-09-08 00:00``
  is a timed row at midnight. A date column and a separate time column are
  combined by :func:`combine_date_time` (same day-order rules); a time cell
  that is not a clock time is rejected (check ``"time"``).
* Time zones: a clock time written with a UTC offset (``2026-09-08T20:00+02:00``,
  ``...Z``, as FHIR writes them) is converted to the wall-clock time of the
  clinic's time zone (``timezone``, :attr:`analysis.settings.Settings.timezone`)
  and a warning says so. Canonical timestamps are naive local wall-clock times;
  in the hour repeated when the clocks go back two different instants have the
  same wall-clock time: the later one is marked ``fold = 1`` (as Python's
  :attr:`datetime.datetime.fold`) and stays a row of its own, never a duplicate
  of the earlier one.
* Words: side ``L``/``R``/``B``/``bilateral``... become left/right/both and a
  blank side is both; flare ``yes/no/y/n/true/false/1/0``; exercise names go
  through :func:`analysis.exercises.normalise_exercises` and unknown names are
  kept as written and counted in a warning.
* Free text (notes) is stored verbatim, including ``=1+1``.
* Rows repeating the table key (:attr:`analysis.schema.TableSpec.key`) and the
  values of an earlier valid row are counted once; the first is kept. A row with
  the key of an earlier row but **other values** is rejected (check
  ``"duplicate"``), its reason naming the earlier row and the values that
  differ: two readings of the same moment cannot both be stored, and the file
  has to say which is right.

Every check runs on whole columns, and every conversion on the *distinct*
values of a column (a log repeats the same few exercise names, sides and
session times many times): on a 5-million-row sessions CSV ingestion takes
about as long as ``pandas.read_csv(path, parse_dates=["performed_at"])``.
"""

from __future__ import annotations

import calendar
import functools
import inspect
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, timedelta
from datetime import timezone as dt_timezone
from typing import Any, ParamSpec, TypeVar, cast
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.errors import (
    DayOrderError,
    IngestError,
    InvalidTableError,
    MissingColumnsError,
    UnknownTableError,
    UnreadableFileError,
)
from analysis.exercises import is_known, normalise_exercises
from analysis.headers import COLUMN_LABELS, fold_header
from analysis.instruments import UnknownInstrumentError, get_instrument
from analysis.reading import cell_text
from analysis.schema import TABLES, CohortTables, ColumnSpec, TableSpec, conform, table_spec
from analysis.settings import DEFAULT_SETTINGS

__all__ = [
    "REJECTED_COLUMNS",
    "FIRST_DATA_ROW",
    "FILE_CHECKS",
    "ROW_CHECKS",
    "UNREADABLE",
    "UNKNOWN_TABLE",
    "MISSING_COLUMNS",
    "DAY_ORDER",
    "SEVERAL_PEOPLE",
    "REQUIRED",
    "NUMBER",
    "RANGE",
    "WHOLE_NUMBER",
    "DATE",
    "TIME",
    "FUTURE",
    "TOO_EARLY",
    "YES_NO",
    "VOCABULARY",
    "PATIENT",
    "PERIOD",
    "STATUS",
    "MALFORMED",
    "DUPLICATE",
    "FileFailure",
    "ColumnCells",
    "CellValidation",
    "FrameValidation",
    "check_table_name",
    "combine_date_time",
    "timed_key",
    "validate_cells",
    "validate_frame",
    "clock_time",
    "ROW_INFO_COLUMNS",
    "empty_rejected",
    "table_problems",
    "check_tables",
    "checks_tables",
    "trusted_tables",
    "tables_trusted",
]

# Rules of the whole file: when one fails, no row is checked.
UNREADABLE = "unreadable"  #: the file cannot be read as a table
UNKNOWN_TABLE = "unknown_table"  #: the table named (or the columns) match no canonical table
MISSING_COLUMNS = "missing_columns"  #: required columns are absent
SEVERAL_PEOPLE = "several_people"  #: a file for one patient names several people (analysis.tables)
DAY_ORDER = "day_order"  #: the file's dates are only valid in the other day order than the one chosen

#: Short names of the file-level rules, in the order they are checked.
FILE_CHECKS: tuple[str, ...] = (UNREADABLE, UNKNOWN_TABLE, MISSING_COLUMNS, SEVERAL_PEOPLE, DAY_ORDER)

# Rules of one row (the ``check`` column of the rejected rows).
REQUIRED = "required"  #: a required cell is empty
NUMBER = "number"  #: not a number
RANGE = "range"  #: a number outside the column's range
WHOLE_NUMBER = "whole_number"  #: a count or rating that is not a whole number
DATE = "date"  #: not a date that can be read, or not a real date (in the day order used)
TIME = "time"  #: a separate time-of-day cell that is not a clock time, or that contradicts the date's own time
FUTURE = "future"  #: the date of something that happened is after today
TOO_EARLY = "too_early"  #: a date before 1900
YES_NO = "yes_no"  #: a yes/no column holds another word
VOCABULARY = "vocabulary"  #: a word outside the column's vocabulary
PATIENT = "patient"  #: the row names another patient than the file's own
PERIOD = "period"  #: a prescription period ends before it starts
STATUS = "status"  #: a FHIR resource whose status says it is not a final value
MALFORMED = "malformed"  #: the line or record cannot be read as a row (too many values, not a valid record)
DUPLICATE = "duplicate"  #: the row repeats the key of an earlier row

#: Short names of the row-level rules.
ROW_CHECKS: tuple[str, ...] = (REQUIRED, NUMBER, RANGE, WHOLE_NUMBER, DATE, TIME, FUTURE, TOO_EARLY, YES_NO,
                               VOCABULARY, PATIENT, PERIOD, STATUS, MALFORMED, DUPLICATE)

#: Columns of :attr:`CellValidation.row_info`: per accepted row, its row number in the file, whether a clock
#: time was written (False: a date only, stored at midnight as "that day") and the DST fold (0, or 1 for the
#: second of two instants with the same wall-clock time when the clocks go back).
ROW_INFO_COLUMNS: tuple[str, ...] = ("row", "time_written", "fold")

#: Columns of a row-failure table (:attr:`analysis.tables.IngestResult.rejected`).
REJECTED_COLUMNS: tuple[str, ...] = ("row", "column", "check", "value", "reason")

#: Row number of the first data row (the header is row 1).
FIRST_DATA_ROW = 2

#: Columns holding when something happened: a value after ``today`` cannot be right.
#: Planning dates (programme start, prescription start and end) may lie ahead.
_HAPPENED = frozenset({"performed_at", "recorded_at", "completed_at"})

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
# A UTC offset after a clock time ("...T20:00:00+02:00", "...07:30Z"): group 1 the rest, group 2 the offset.
_OFFSET = r"^(.*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})$"
# A clock time written in a date cell ("2026-09-08 07:30", "8 Sep 2026 7:30 pm"); a date alone has none.
_CLOCK = r"\d:\d{2}|\d\s*[AaPp]\.?\s?[Mm]\.?(?:\s|$)"


# ---------------------------------------------------------------------------
# what the engine reports


@dataclass(frozen=True)
class FileFailure:
    """A failure of the whole file or table: when there is one, no row is checked.

    Attributes
    ----------
    check
        One of :data:`FILE_CHECKS`: ``"unreadable"``, ``"unknown_table"`` or
        ``"missing_columns"``.
    reason
        What is wrong, in plain words.
    table
        The table the rows were checked as (``""`` when unknown).
    columns
        For ``"missing_columns"``: the canonical names of the absent required columns.
    """

    check: str
    reason: str
    table: str = ""
    columns: tuple[str, ...] = ()

    def error(self, source: str | None = None) -> IngestError:
        """The typed exception ingestion raises for this failure.

        Parameters
        ----------
        source
            File name for the message.

        Returns
        -------
        IngestError
            :class:`~analysis.errors.MissingColumnsError`,
            :class:`~analysis.errors.UnknownTableError` or
            :class:`~analysis.errors.UnreadableFileError`.
        """
        if self.check == MISSING_COLUMNS:
            return MissingColumnsError(self.table, self.columns, source=source)
        if self.check == UNKNOWN_TABLE:
            return UnknownTableError(self.reason, source=source)
        return UnreadableFileError(self.reason, source=source)


@dataclass(frozen=True)
class ColumnCells:
    """The cells of one file column mapped to a canonical column, as distinct values.

    Attributes
    ----------
    header
        The header as written in the file.
    codes
        Per row, the index of its cell in ``text``; ``-1`` for an empty cell
        (see :func:`analysis.reading.distinct_values`).
    text
        The distinct cells as ``str``.
    problems
        Optional, per distinct cell: why it was refused before conversion (check
        ``"time"``; see :func:`combine_date_time`), ``None`` where it is fine.
    """

    header: str
    codes: npt.NDArray[np.integer[Any]]
    text: npt.NDArray[np.object_]
    problems: npt.NDArray[np.object_] | None = None


@dataclass(frozen=True)
class CellValidation:
    """What :func:`validate_cells` found.

    Attributes
    ----------
    accepted
        The valid rows as a canonical table (exactly the columns and dtypes of
        :mod:`analysis.schema`), rows repeating an earlier row's key removed, a
        fresh ``RangeIndex``.
    rejected
        One row per problem, columns :data:`REJECTED_COLUMNS`, sorted by row and
        then by the column's place in the table (problems of the whole row first).
    duplicate_rows
        Row numbers of the valid rows that repeat an earlier valid row's key.
    warnings
        Things that did not stop a row but that the user should know (unknown
        exercise names, dates that could be read either way, repeated rows).
    row_info
        One row per accepted row, in the same order: :data:`ROW_INFO_COLUMNS`
        (``row`` int64, ``time_written`` bool, ``fold`` int8). For tables without a
        timed key (patients, prescriptions) ``time_written`` is False and ``fold`` 0.
    """

    accepted: pd.DataFrame
    rejected: pd.DataFrame
    duplicate_rows: npt.NDArray[np.int64]
    warnings: list[str]
    row_info: pd.DataFrame


@dataclass(frozen=True)
class FrameValidation:
    """What :func:`validate_frame` found.

    Attributes
    ----------
    table
        The table checked (``""`` when the name is unknown).
    frame
        The rows conformed to the table (:func:`analysis.schema.conform`, fresh
        ``RangeIndex``); empty when a file-level failure stopped the checks.
    file_failures
        Failures of the table as a whole (unknown table, missing required
        columns); when there are any, ``rejected`` is empty.
    rejected
        One row per problem, columns :data:`REJECTED_COLUMNS`, sorted by row and
        then by the column's place in the table; ``row`` counts as a person would
        if the rows were written below a header (the first row is
        :data:`FIRST_DATA_ROW`).
    """

    table: str
    frame: pd.DataFrame
    file_failures: tuple[FileFailure, ...]
    rejected: pd.DataFrame

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.file_failures and self.rejected.empty

    def by_column(self) -> pd.DataFrame:
        """The row failures column by column (the table's order), then rule by rule, then row by row.

        Returns
        -------
        pandas.DataFrame
            ``rejected`` reordered: the first row is the first problem of the
            first column that has one (an empty required cell before a value
            out of range or outside the vocabulary, repeated keys last).
        """
        spec = table_spec(self.table)
        position = {name: i for i, name in enumerate(spec.column_names)}
        rejected = self.rejected
        rank = [self._rank(spec, int(row), str(column), str(check)) for row, column, check in
                zip(rejected["row"], rejected["column"], rejected["check"], strict=True)]
        order = np.lexsort((
            rejected["row"].to_numpy(dtype=np.int64),
            np.asarray(rank, dtype=np.int64),
            np.array([position.get(c, len(position)) for c in rejected["column"]], dtype=np.int64),
        ))
        return rejected.iloc[order].reset_index(drop=True)

    def _rank(self, spec: TableSpec, row: int, column: str, check: str) -> int:
        """Order of the rules within a column: required, below the minimum, above the maximum, vocabulary."""
        if check == REQUIRED:
            return 0
        if check == RANGE:
            low = spec.column(column).min
            return 1 if low is not None and float(self.value(row, column)) < low else 2
        return {VOCABULARY: 3}.get(check, 4)

    def value(self, row: int, column: str) -> Any:
        """The value of ``column`` in the row numbered ``row`` (as stored, not as text).

        Parameters
        ----------
        row
            A row number of ``rejected``.
        column
            A canonical column.

        Returns
        -------
        object
            The scalar of :attr:`frame` (``pd.NA`` / ``NaT`` / ``nan`` when missing).
        """
        return self.frame[column].iloc[int(row) - FIRST_DATA_ROW]


# ---------------------------------------------------------------------------
# public API


def check_table_name(table: str | None, source: str | None) -> str | None:
    """Check a table name given by the caller (file level: before anything is read).

    Parameters
    ----------
    table
        A canonical table name, or ``None`` (to be worked out from the columns).
    source
        File name for the message.

    Returns
    -------
    str or None
        ``table`` unchanged.

    Raises
    ------
    UnknownTableError
        ``table`` is not one of :data:`analysis.schema.TABLES`.
    """
    if table is None or table in TABLES:
        return table
    raise UnknownTableError(f"there is no table called {table!r}; choose one of {', '.join(TABLES)}", source=source)


def timed_key(table: str | TableSpec) -> str | None:
    """The timestamp column of a table's key that holds a time of day (``performed_at``, ...); ``None`` if none.

    Examples
    --------
    >>> timed_key("pain"), timed_key("prescriptions")
    ('recorded_at', None)
    """
    spec = table_spec(table)
    return next((k for k in spec.key if spec.column(k).is_datetime and not spec.column(k).date_only), None)


#: A clock time as people write it in a separate time column: 07:30, 7.30, 7:30:15, 7:30 pm, 19h30.
_TIME_OF_DAY = re.compile(r"^(\d{1,2})(?:\s*[:.hH]\s*(\d{2}))?(?:\s*:\s*(\d{2})(?:\.\d+)?)?\s*([AaPp]\.?\s?[Mm]\.?)?$")
#: Excel writes a time-only cell as a time on its day zero.
_EXCEL_TIME = re.compile(r"^1899-12-3[01][ T](\d{2}:\d{2}(?::\d{2})?)$")


def clock_time(text: str) -> str | None:
    """A time of day as ``HH:MM`` or ``HH:MM:SS`` (24 hours), or ``None`` when ``text`` is not one.

    Examples
    --------
    >>> clock_time("7.30 pm"), clock_time("8 pm"), clock_time("07:05:30"), clock_time("00:00"), clock_time("7")
    ('19:30', '20:00', '07:05:30', '00:00', None)
    """
    value = text.strip()
    excel = _EXCEL_TIME.match(value)
    if excel:
        value = excel.group(1)
    found = _TIME_OF_DAY.match(value)
    if not found or (found.group(2) is None and not found.group(4)):  # "8" alone is no time; "8 pm" is
        return None
    hour, minute = int(found.group(1)), int(found.group(2) or 0)
    second = found.group(3)
    meridian = (found.group(4) or "").lower().replace(".", "").replace(" ", "")
    if meridian:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if meridian == "pm" else 0)
    if hour > 23 or minute > 59 or (second is not None and int(second) > 59):
        return None
    return f"{hour:02d}:{minute:02d}" + (f":{int(second):02d}" if second is not None else "")


def combine_date_time(date_cells: ColumnCells, time_cells: ColumnCells) -> ColumnCells:
    """One timestamp column from a date column and a separate time-of-day column (``Date``, ``Time``).

    Each row's cells are joined as ``"<date> <HH:MM>"`` and then read by the
    same rules as any timestamp (ISO first, then the day order chosen, ...), so
    ``08/09/2026`` + ``7.30 pm`` is 8 September 2026 19:30 day-first. An empty
    time cell leaves the date alone: the row is a date without a time. A time
    cell that is not a clock time (``"morning"``), or that differs from a time
    already written in the date cell, makes the row fail with check ``"time"``.

    Parameters
    ----------
    date_cells, time_cells
        The two file columns (see :func:`analysis.reading.distinct_values`),
        with the same number of rows.

    Returns
    -------
    ColumnCells
        Header ``"<date header> + <time header>"``; ``problems`` holds the reason
        of each combination that cannot be used (``None`` where it can).

    Examples
    --------
    >>> d = ColumnCells("Date", np.array([0, 0, 1]), np.array(["08/09/2026", "09/09/2026"], dtype=object))
    >>> t = ColumnCells("Time", np.array([0, 1, -1]), np.array(["7.30", "morning"], dtype=object))
    >>> both = combine_date_time(d, t)
    >>> both.text[both.codes].tolist()
    ['08/09/2026 07:30', '08/09/2026 morning', '09/09/2026']
    >>> both.problems[both.codes[1]]
    "the time 'morning' (column 'Time') is not a clock time; write it like 07:30 or 7:30 pm"
    """
    d_codes = np.asarray(date_cells.codes, dtype=np.int64)
    t_codes = np.asarray(time_cells.codes, dtype=np.int64)
    width = len(time_cells.text) + 1
    pair, distinct = pd.factorize((d_codes + 1) * width + (t_codes + 1))
    texts = np.empty(len(distinct), dtype=object)
    problems = np.full(len(distinct), None, dtype=object)
    for i, combined in enumerate(np.asarray(distinct, dtype=np.int64)):
        d, t = int(combined // width) - 1, int(combined % width) - 1
        date_text = str(date_cells.text[d]).strip() if d >= 0 else ""
        time_text = str(time_cells.text[t]).strip() if t >= 0 else ""
        texts[i] = date_text
        if not time_text or time_text.lower() in _NA_TOKENS:
            continue
        clock = clock_time(time_text)
        if clock is None:
            problems[i] = (f"the time {time_text!r} (column {time_cells.header!r}) is not a clock time; write it "
                           "like 07:30 or 7:30 pm")
            texts[i] = f"{date_text} {time_text}".strip()
            continue
        own = re.search(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", date_text)
        if own:
            written = f"{int(own.group(1)):02d}:{own.group(2)}" + (f":{own.group(3)}" if own.group(3) else "")
            if written[:5] != clock[:5]:
                problems[i] = (f"the date {date_text!r} has its own time, and column {time_cells.header!r} "
                               f"says {time_text!r}; write the time once")
            continue
        texts[i] = f"{date_text} {clock}" if date_text else ""
    codes = np.where((d_codes < 0) & (t_codes < 0), -1, pair).astype(np.int64)
    empty = np.array([not t for t in texts], dtype=bool)
    if empty.any():  # a row with a time but no date: an empty date (required), reported as such
        codes = np.where(empty[np.maximum(codes, 0)] & (codes >= 0), -1, codes)
    return ColumnCells(f"{date_cells.header} + {time_cells.header}", codes, texts, problems)


def validate_cells(
    cells: Mapping[str, ColumnCells],
    table: str | TableSpec,
    row_numbers: npt.NDArray[np.int64],
    *,
    dayfirst: bool,
    today: date,
    decimal_comma: bool = False,
    scale: Mapping[str, float] | None = None,
    patient_id: str | None = None,
    bad_rows: Sequence[tuple[int, str]] = (),
    timezone: str | None = None,
    source: str | None = None,
) -> CellValidation:
    """Convert and check cells as written, column by column, and drop repeated rows.

    Parameters
    ----------
    cells
        Canonical column -> its cells. A column of the table that is not here
        is empty in every row (a missing optional column; a required column is
        only left out when ``patient_id`` fills it, or for ``side``).
    table
        The canonical table.
    row_numbers
        Per row, its row number in the file (header = 1).
    dayfirst
        Read dates such as 01/02/2026 as 1 February (True) or as January 2.
    today
        Dates of things that happened after this day are rejected.
    decimal_comma
        Read ``2,5`` as 2.5 (files whose delimiter is not a comma).
    scale
        Canonical column -> factor for its values (a hold in minutes: 60).
    patient_id
        The patient whose own file this is: fills empty ``patient_id`` cells,
        and a row naming another patient is rejected.
    bad_rows
        ``(row, reason)`` of rows that could not be split into columns
        (:attr:`analysis.reading.RawInfo.bad_rows`); reported with the check
        ``"malformed"``.
    timezone
        The clinic's IANA time zone: times written with a UTC offset become
        wall-clock times there; default :attr:`analysis.settings.Settings.timezone`
        of the defaults (this computer's zone).
    source
        File name for the messages of file-level failures.

    Returns
    -------
    CellValidation
        Accepted rows, rejected rows (:data:`REJECTED_COLUMNS`), repeated rows,
        warnings and, per accepted row, its row number, whether a time was written and the fold.

    Raises
    ------
    DayOrderError
        Some dates are only valid in the other day order, and none only in the chosen one.
    """
    spec = table_spec(table)
    zone = timezone or DEFAULT_SETTINGS.timezone
    factors = scale or {}
    numbers = np.asarray(row_numbers, dtype=np.int64)
    n = len(numbers)
    warn: list[str] = []
    columns: dict[str, _Column] = {}
    dates: dict[str, tuple[_DateVerdict, npt.NDArray[Any], str]] = {}
    for col in spec.columns:
        given = cells.get(col.name)
        if given is None:
            codes: npt.NDArray[np.integer[Any]] = np.full(n, -1, dtype=np.int64)
            text: npt.NDArray[np.object_] = np.empty(0, dtype=object)
        else:
            codes, text = given.codes, given.text
        verdict = _convert(text, col, dayfirst=dayfirst, today=today, decimal_comma=decimal_comma,
                           scale=factors.get(col.name, 1.0),
                           expected=patient_id if col.name == "patient_id" else None, zone=zone)
        if given is not None and given.problems is not None:
            refused = np.array([p is not None for p in given.problems], dtype=bool)
            verdict.reason[refused] = given.problems[refused]
            verdict.check[refused] = TIME
            if isinstance(verdict, _DateVerdict):
                verdict.contradicts[refused] = False
                verdict.proves[refused] = False
        columns[col.name] = _to_rows(verdict, codes, text, col, patient_id)
        if col.name == "exercise" and given is not None:
            warn.extend(_unknown_exercise_warnings(verdict, codes))
        if isinstance(verdict, _DateVerdict) and given is not None:
            dates[col.name] = (verdict, codes, given.header)
    _check_day_order(dates, numbers, dayfirst, source)
    for verdict, codes, header in dates.values():
        warn.extend(_date_warnings(verdict, codes, verdict.text, numbers, header, dayfirst))

    bad_any = np.zeros(n, dtype=bool)
    pieces: list[_Piece] = []
    for name, c in columns.items():
        bad_any |= c.bad
        idx, values, reasons, checks = c.problems()
        if idx.size:
            pieces.append((numbers[idx], name, checks, values, reasons))
    if {"start_date", "end_date"} <= columns.keys():
        wrong = _end_before_start(columns["start_date"], columns["end_date"])
        idx = np.flatnonzero(wrong)
        if idx.size:
            end = columns["end_date"]
            pieces.append((numbers[idx], "end_date", np.full(idx.size, PERIOD, dtype=object),
                           end.text[end.codes[idx]],
                           np.full(idx.size, "the end date is before the start date", dtype=object)))
            bad_any |= wrong
    if bad_rows:
        lines, why = zip(*bad_rows, strict=True)
        pieces.append((np.asarray(lines, dtype=np.int64), "", np.full(len(lines), MALFORMED, dtype=object),
                       np.full(len(lines), "", dtype=object), np.asarray(why, dtype=object)))

    timed = timed_key(spec)
    time_written = np.zeros(n, dtype=bool)
    fold = np.zeros(n, dtype=np.int8)
    if timed is not None and timed in dates:
        verdict, codes, _ = dates[timed]
        time_written = _with_sentinel(verdict.has_time, False)[codes]
        fold = _with_sentinel(verdict.fold, np.int8(0))[codes]
    keep = np.flatnonzero(~bad_any)
    duplicate_rows = np.empty(0, dtype=np.int64)
    if spec.key and len(keep) > 1:
        key_codes = [columns[k].key_codes()[keep] for k in spec.key] + [fold[keep].astype(np.int64)]
        repeated = np.flatnonzero(_duplicated(key_codes))  # cheap; which row each repeats only when there are some
        if repeated.size:
            first = _first_of_key(key_codes)
            value_names = [c for c in spec.column_names if c not in spec.key]
            differs = np.zeros(repeated.size, dtype=bool)
            for name in value_names:
                vc = columns[name].key_codes()[keep]
                differs |= vc[repeated] != vc[first[repeated]]
            exact, conflicting = repeated[~differs], repeated[differs]
            if conflicting.size:
                pieces.append(_conflicting_rows(columns, spec, value_names, numbers, keep, conflicting, first))
                bad_any[keep[conflicting]] = True
                warn.append(_conflict_warning(numbers[keep[conflicting]], spec))
            if exact.size:
                duplicate_rows = numbers[keep[exact]]
                warn.append(_duplicate_warning(duplicate_rows, spec))
            keep = np.delete(keep, repeated)
    rejected = _rejected_frame(pieces, spec)
    if timed is not None and timed in dates:
        warn.extend(_offset_warnings(dates[timed][0], dates[timed][1], keep, dates[timed][2]))
    everything = len(keep) == n
    accepted = pd.DataFrame({name: c.rows(None if everything else keep) for name, c in columns.items()},
                            copy=False)
    accepted = conform(accepted, spec)  # the schema's own guarantee of columns, order and dtypes
    row_info = pd.DataFrame({"row": numbers[keep], "time_written": time_written[keep], "fold": fold[keep]})
    return CellValidation(accepted, rejected, duplicate_rows, warn, row_info)


def _first_of_key(key_codes: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
    """Per row, the position of the first row with the same combination of key codes."""
    frame = pd.DataFrame(dict(enumerate(key_codes)), copy=False)
    group = frame.groupby(list(frame.columns), sort=False, dropna=False).ngroup().to_numpy()
    firsts = pd.Series(np.arange(len(group)), copy=False).groupby(group, sort=False).transform("min")
    return firsts.to_numpy(dtype=np.int64)


def _conflicting_rows(columns: Mapping[str, _Column], spec: TableSpec, values: list[str],
                      numbers: npt.NDArray[np.int64], keep: npt.NDArray[np.intp],
                      conflicting: npt.NDArray[np.intp], first: npt.NDArray[np.int64]) -> _Piece:
    """Rejections of rows that repeat an earlier row's key with other values, naming the values that differ."""
    key = _and([COLUMN_LABELS.get(k, k) for k in spec.key])
    reasons = []
    for i in conflicting:
        row, earlier = keep[i], keep[first[i]]
        diffs = []
        for name in values:
            c = columns[name]
            if c.key_codes()[row] != c.key_codes()[earlier]:
                mine, theirs = c.text[c.codes[row]] or "empty", c.text[c.codes[earlier]] or "empty"
                diffs.append(f"{COLUMN_LABELS.get(name, name)} {mine.strip()!r} here, {theirs.strip()!r} there")
        reasons.append(f"this row has the same {key} as row {numbers[earlier]} but other values "
                       f"({'; '.join(diffs)}); only row {numbers[earlier]} was read. If both are right, give "
                       "each its own time; if one is a correction, remove the other")
    return (numbers[keep[conflicting]], "", np.full(conflicting.size, DUPLICATE, dtype=object),
            np.full(conflicting.size, "", dtype=object), np.asarray(reasons, dtype=object))


def _check_day_order(dates: Mapping[str, tuple[_DateVerdict, npt.NDArray[Any], str]],
                     numbers: npt.NDArray[np.int64], dayfirst: bool, source: str | None) -> None:
    """Refuse the chosen day order when the file's dates prove the other one (see the module docstring)."""
    against = np.zeros(len(numbers), dtype=bool)
    proving = np.zeros(len(numbers), dtype=bool)
    example = ""
    for verdict, codes, header in dates.values():
        rows = _with_sentinel(verdict.contradicts, False)[codes]
        if rows.any() and not example:
            first = int(np.flatnonzero(rows)[0])
            example = f"{_cell_of(verdict, codes, first)!r} (row {numbers[first]}, column {header!r})"
        against |= rows
        proving |= _with_sentinel(verdict.proves, False)[codes]
    if not against.any() or proving.any():
        return
    order, other = ("day-first", "month-first") if dayfirst else ("month-first", "day-first")
    rows = numbers[against]
    how = "--month-first" if dayfirst else "leave out --month-first"
    raise DayOrderError(
        f"the dates of this file are written {other}: {example} is not a date when read {order}, and no date "
        f"of the file is only valid {order} ({_rows_text(rows)} prove it). Read the file {other} (upload page: "
        f"'{'Month' if dayfirst else 'Day'} first'; rehabtrack validate/upload: {how}), or correct those rows",
        rows=tuple(int(r) for r in rows), file_order=other, source=source)


def _cell_of(verdict: _DateVerdict, codes: npt.NDArray[Any], position: int) -> str:
    """The text of the date cell at row ``position`` (for messages)."""
    return str(verdict.text[codes[position]]).strip() if codes[position] >= 0 else ""


def _offset_warnings(verdict: _DateVerdict, codes: npt.NDArray[Any], keep: npt.NDArray[np.intp],
                     header: str) -> list[str]:
    """Say how times written with a UTC offset were converted, and which ones fall in a repeated hour."""
    if not verdict.offset.any():
        return []
    rows = _with_sentinel(verdict.offset, False)[codes[keep]]
    if not rows.any():
        return []
    first = int(codes[keep][np.flatnonzero(rows)[0]])
    when = pd.Timestamp(verdict.values[first])
    n = int(rows.sum())
    out = [f"{n} time{'s' if n != 1 else ''} of {header!r} {'were' if n != 1 else 'was'} written with a UTC offset "
           f"(e.g. {str(verdict.text[first]).strip()!r}) and {'were' if n != 1 else 'was'} converted to the "
           f"wall-clock time of the clinic's time zone {verdict.zone} ({when:%H:%M} on {when.day} "
           f"{when:%B %Y}); the offset itself is not stored"]
    folded = _with_sentinel(verdict.fold, np.int8(0))[codes[keep]] == 1
    if folded.any():
        second = int(codes[keep][np.flatnonzero(folded)[0]])
        at = pd.Timestamp(verdict.values[second])
        k = int(folded.sum())
        out.append(f"{k} time{'s' if k != 1 else ''} of {header!r} fall{'' if k != 1 else 's'} in the hour that "
                   f"is repeated when the clocks go back in {verdict.zone} (e.g. {str(verdict.text[second]).strip()!r}"
                   f" is the second {at:%H:%M} of {at.day} {at:%B %Y}); kept as separate rows, never merged with "
                   "a row at the same clock time")
    return out


def validate_frame(frame: pd.DataFrame, table: str | TableSpec, *, keys: bool = True) -> FrameValidation:
    """Check a table of canonical values (an in-app entry, a programme) before it is stored.

    Parameters
    ----------
    frame
        Rows with canonical column names; values are cast to the canonical
        dtypes first (:func:`analysis.schema.conform`, which raises on a value
        that cannot be cast, such as 2.5 in a count).
    table
        The canonical table.
    keys
        Also report rows that repeat the key of an earlier row (check ``"duplicate"``).

    Returns
    -------
    FrameValidation
        File-level failures first: an unknown table, then required columns the
        frame does not have (no row is checked then). Otherwise every empty
        required cell (``"required"``), number outside its column's range
        (``"range"``), word outside its vocabulary (``"vocabulary"``) and, with
        ``keys``, repeated key (``"duplicate"``).
    """
    name = table.name if isinstance(table, TableSpec) else str(table)
    if not isinstance(table, TableSpec) and table not in TABLES:
        failure = FileFailure(UNKNOWN_TABLE, f"there is no table called {name!r}; choose one of {', '.join(TABLES)}")
        return FrameValidation("", frame.iloc[0:0], (failure,), empty_rejected())
    spec = table_spec(table)
    missing = tuple(c for c in spec.required if c not in frame.columns)
    if missing:
        failure = FileFailure(MISSING_COLUMNS, f"the {spec.name} rows have no {', '.join(missing)}", spec.name,
                              missing)
        return FrameValidation(spec.name, conform(frame.iloc[0:0], spec), (failure,), empty_rejected())
    conformed = conform(frame, spec).reset_index(drop=True)
    numbers = np.arange(len(conformed), dtype=np.int64) + FIRST_DATA_ROW
    pieces: list[_Piece] = []
    for col in spec.columns:
        values = conformed[col.name]
        missing_value = values.isna().to_numpy()
        checks = np.full(len(conformed), None, dtype=object)
        reasons = np.full(len(conformed), None, dtype=object)
        if col.required:
            checks[missing_value] = REQUIRED
            reasons[missing_value] = f"{_label(col)} is missing; every row needs one"
        if col.is_numeric and (col.min is not None or col.max is not None):
            numbers_ = values.to_numpy(dtype=float, na_value=np.nan)
            ok, rule = _number_problems(numbers_, col)
            wrong = ~ok & ~missing_value
            checks[wrong] = _NUMBER_RULES[rule[wrong]]
            reasons[wrong] = [f"{_label(col)} must be {_number_rule(col, col.dtype == 'Int64')}; got {v:g}"
                              for v in numbers_[wrong]]
        if col.allowed is not None:
            outside = ~missing_value & ~values.isin(col.allowed).to_numpy()
            checks[outside] = VOCABULARY
            reasons[outside] = [f"{_label(col)} must be {col.range_text()}; got {v!r}" for v in values[outside]]
        idx = np.flatnonzero(checks != None)  # noqa: E711 - element-wise
        if idx.size:
            text = np.array(["" if m else _value_text(v) for v, m in
                             zip(values.iloc[idx], missing_value[idx], strict=True)], dtype=object)
            pieces.append((numbers[idx], col.name, checks[idx], text, reasons[idx]))
    if keys and spec.key and len(conformed) > 1:
        codes = [pd.factorize(conformed[k], use_na_sentinel=False)[0].astype(np.int64) for k in spec.key]
        idx = np.flatnonzero(_duplicated(codes))
        if idx.size:
            labels = [COLUMN_LABELS.get(k, k) for k in spec.key]
            pieces.append((numbers[idx], "", np.full(idx.size, DUPLICATE, dtype=object),
                           np.full(idx.size, "", dtype=object),
                           np.full(idx.size, f"this row repeats an earlier row with the same {_and(labels)}",
                                   dtype=object)))
    return FrameValidation(spec.name, conformed, (), _rejected_frame(pieces, spec))


def empty_rejected() -> pd.DataFrame:
    """An empty row-failure table with the columns and dtypes of :data:`REJECTED_COLUMNS`.

    Returns
    -------
    pandas.DataFrame
        ``row`` int64, the other columns pandas ``string``.
    """
    return pd.DataFrame({
        "row": np.empty(0, dtype=np.int64),
        "column": pd.array([], dtype="string"),
        "check": pd.array([], dtype="string"),
        "value": pd.array([], dtype="string"),
        "reason": pd.array([], dtype="string"),
    })


# ---------------------------------------------------------------------------
# per column: values and verdicts

_Piece = tuple[npt.NDArray[np.int64], str, npt.NDArray[np.object_], npt.NDArray[np.object_], npt.NDArray[np.object_]]


def _strip(text: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    return np.array([t.strip() for t in text], dtype=object)


def _blank_text(text: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
    return np.array([not t.strip() for t in text], dtype=bool)


def _none_where(mask: npt.NDArray[np.bool_], values: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """``values`` with ``None`` where ``mask`` is true."""
    out: npt.NDArray[np.object_] = np.where(mask, cast(Any, None), values)
    return out


def _with_sentinel(per_unique: npt.NDArray[Any], fill: Any) -> npt.NDArray[Any]:
    """Append the value for empty cells, so that ``out[codes]`` maps code -1 to ``fill``."""
    return np.append(per_unique, np.array([fill], dtype=per_unique.dtype))


@dataclass
class _Verdict:
    """Per distinct value: canonical value, whether it is empty, why it is invalid and by which rule (None if valid)."""

    values: Any
    blank: npt.NDArray[np.bool_]
    reason: npt.NDArray[np.object_]
    check: npt.NDArray[np.object_]


@dataclass
class _Column:
    """One canonical column after conversion: values per distinct cell, and per row of the file."""

    values: Any  # canonical value per distinct cell
    fill: Any  # value of an empty cell (None = missing)
    codes: npt.NDArray[np.integer[Any]]  # per row: index into ``values`` (-1 = empty cell)
    bad: npt.NDArray[np.bool_]  # per row: the cell is rejected
    reason: npt.NDArray[np.object_]  # why, per distinct cell plus one for empty cells (None = valid)
    check: npt.NDArray[np.object_]  # the rule that failed, per distinct cell plus one for empty cells
    text: npt.NDArray[np.object_]  # cell as written, per distinct cell plus "" for empty cells

    def problems(
        self,
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.object_], npt.NDArray[np.object_], npt.NDArray[np.object_]]:
        """Positions of the rejected rows, their cells as written, the reasons and the rules."""
        idx = np.flatnonzero(self.bad)
        codes = self.codes[idx]
        return idx, self.text[codes], self.reason[codes], self.check[codes]

    def rows(self, positions: npt.NDArray[np.intp] | None = None) -> Any:
        """Canonical values of the rows at ``positions`` (all rows when None)."""
        codes = self.codes if positions is None else self.codes[positions]
        return pd.api.extensions.take(self.values, codes, allow_fill=True, fill_value=self.fill)

    def key_codes(self) -> npt.NDArray[np.int64]:
        """Per row, an integer that is equal for equal canonical values (for duplicate detection)."""
        extended = pd.api.extensions.take(self.values, np.append(np.arange(len(self.values)), -1),
                                          allow_fill=True, fill_value=self.fill)
        distinct, _ = pd.factorize(cast(Any, extended), use_na_sentinel=False)
        codes: npt.NDArray[np.int64] = distinct.astype(np.int64)[self.codes]
        return codes


def _empty_reasons(k: int) -> npt.NDArray[np.object_]:
    return np.full(k, None, dtype=object)


def _label(col: ColumnSpec) -> str:
    return COLUMN_LABELS.get(col.name, col.name)


def _and(words: Sequence[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _value_text(value: Any) -> str:
    """A stored value as text for the ``value`` column (a whole float without ``.0``)."""
    return cell_text(value.item() if isinstance(value, np.generic) else value)


# ---------------------------------------------------------------------------
# converters: distinct text values -> canonical values + reasons + rules


def _convert_text(text: npt.NDArray[np.object_], col: ColumnSpec, expected: str | None = None) -> _Verdict:
    stripped = _strip(text)
    blank = stripped == ""
    reason = _empty_reasons(len(text))
    check = _empty_reasons(len(text))
    if expected is not None:
        other = ~blank & (stripped != expected)
        reason[other] = [f"this row belongs to patient {v}, not to you" for v in stripped[other]]
        check[other] = PATIENT
    values = pd.array(_none_where(blank, stripped), dtype="string")
    return _Verdict(values, blank, reason, check)


def _convert_free_text(text: npt.NDArray[np.object_], col: ColumnSpec) -> _Verdict:
    blank = _blank_text(text)
    values = pd.array(_none_where(blank, text), dtype="string")  # kept verbatim, never interpreted
    return _Verdict(values, blank, _empty_reasons(len(text)), _empty_reasons(len(text)))


def _convert_exercise(text: npt.NDArray[np.object_], col: ColumnSpec) -> _Verdict:
    stripped = _strip(text)
    blank = stripped == ""
    names = normalise_exercises(pd.Series(_none_where(blank, stripped), dtype=object))
    none = _empty_reasons(len(text))
    return _Verdict(pd.array(cast(Any, names), dtype="string"), blank, none, none.copy())


def _convert_vocabulary(text: npt.NDArray[np.object_], col: ColumnSpec) -> _Verdict:
    words = {_fold_vocabulary(a, col.name): a for a in col.allowed or ()}
    words.update(_VOCABULARY.get(col.name, {}))
    default = _VOCABULARY_DEFAULT.get(col.name)
    folded = [_fold_vocabulary(t, col.name) for t in text]
    blank = np.array([f == "" for f in folded], dtype=bool)
    mapped = [words.get(f) for f in folded]
    reason = _empty_reasons(len(text))
    check = _empty_reasons(len(text))
    for i, (m, b) in enumerate(zip(mapped, blank, strict=True)):
        if b:
            mapped[i] = default
        elif m is None:
            reason[i] = f"{_label(col)} must be {col.range_text()}; got {text[i].strip()!r}"
            check[i] = VOCABULARY
    if default is not None:
        blank = np.zeros(len(text), dtype=bool)  # a blank side is a value (both), not a gap
    return _Verdict(pd.array(mapped, dtype="string"), blank, reason, check)


def _fold_vocabulary(value: str, column: str) -> str:
    if column == "age_band":  # "40 - 49", "40–49", "40 to 49", "80 plus" -> "40-49", "80+"
        text = re.sub(r"\s+", "", value.lower().replace("\u2013", "-").replace("\u2014", "-"))
        text = re.sub(r"^(\d+)to(\d+)$", r"\1-\2", text)
        return re.sub(r"^(\d+)(plus|andover|ormore)$", r"\1+", text)
    return fold_header(value)


def _parse_numbers(
    text: npt.NDArray[np.object_], decimal_comma: bool
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
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


def _range_ok(values: npt.NDArray[np.float64], col: ColumnSpec) -> npt.NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values)
        if col.min is not None:
            ok &= values >= col.min
        if col.max is not None:
            ok &= values <= col.max
    return ok


def _number_problems(
    values: npt.NDArray[np.float64], col: ColumnSpec
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int8]]:
    """Which numbers are valid for ``col`` (finite, in range, whole for a count), and else which rule failed.

    ``rule`` is a small integer code per value: 0 where ``ok``, else the failed rule as an index into
    :data:`_NUMBER_RULES` (:data:`NUMBER`, :data:`RANGE` or :data:`WHOLE_NUMBER`). Codes rather than
    texts: a column of millions of valid numbers costs no Python object per row (the callers name the
    failing rows only).
    """
    in_range = _range_ok(values, col)
    ok = in_range.copy()
    if col.dtype == "Int64":
        with np.errstate(invalid="ignore"):
            ok &= np.floor(values) == values
    if ok.all():
        return ok, np.zeros(len(values), dtype=np.int8)
    code = np.where(ok, 0, np.where(~np.isfinite(values), 1, np.where(in_range, 3, 2))).astype(np.int8)
    return ok, code


#: The labels of :func:`_number_problems` by code: valid, not a number, out of range, not whole.
_NUMBER_RULES = np.array([None, NUMBER, RANGE, WHOLE_NUMBER], dtype=object)


def _convert_number(text: npt.NDArray[np.object_], col: ColumnSpec, decimal_comma: bool, scale: float) -> _Verdict:
    values, blank = _parse_numbers(text, decimal_comma)
    values = values * scale
    whole = col.dtype == "Int64"
    ok, rule = _number_problems(values, col)
    bad = ~ok & ~blank
    reason = _empty_reasons(len(text))
    check = _empty_reasons(len(text))
    unit = " (read in minutes and converted to seconds)" if scale != 1 else ""
    reason[bad] = [f"{_label(col)} must be {_number_rule(col, whole)}; got {t.strip()}{unit}" for t in text[bad]]
    check[bad] = _NUMBER_RULES[rule[bad]]
    if whole:
        arr: Any = pd.arrays.IntegerArray(np.where(ok, values, 0).astype(np.int64), ~ok)
    else:
        arr = np.where(ok, values, np.nan)
    return _Verdict(arr, blank, reason, check)


def _convert_boolean(text: npt.NDArray[np.object_], col: ColumnSpec) -> _Verdict:
    lowered = [t.strip().lower() for t in text]
    blank = np.array([t in _NA_TOKENS for t in lowered], dtype=bool)
    is_true = np.array([t in _TRUE for t in lowered], dtype=bool)
    is_false = np.array([t in _FALSE for t in lowered], dtype=bool)
    bad = ~(is_true | is_false | blank)
    reason = _empty_reasons(len(text))
    check = _empty_reasons(len(text))
    reason[bad] = [f"{_label(col)} must be yes or no; got {t.strip()!r}" for t in text[bad]]
    check[bad] = YES_NO
    return _Verdict(pd.arrays.BooleanArray(is_true, ~(is_true | is_false)), blank, reason, check)


@dataclass
class _DateVerdict(_Verdict):
    ambiguous: npt.NDArray[np.bool_]  # read by the caller's day order although the other order would also work
    contradicts: npt.NDArray[np.bool_]  # impossible under the caller's day order, possible under the other
    proves: npt.NDArray[np.bool_]  # possible under the caller's day order, impossible under the other
    has_time: npt.NDArray[np.bool_]  # a clock time was written (else: the day only)
    fold: npt.NDArray[np.int8]  # 1 for the second occurrence of a wall-clock time repeated when clocks go back
    offset: npt.NDArray[np.bool_]  # written with a UTC offset, converted to the clinic's time zone
    text: npt.NDArray[np.object_]  # the cells as written
    zone: str = ""


def _parse_with(values: pd.Series[Any], formats: Sequence[str]) -> npt.NDArray[Any]:
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
        found = parsed.to_numpy(dtype="datetime64[ns]")
        ok = ~np.isnat(found)
        out[todo[ok]] = found[ok]
        todo = todo[~ok]
    return out


def _split_offsets(stripped: pd.Series[Any]) -> tuple[pd.Series[Any], npt.NDArray[np.float64]]:
    """Text without a trailing UTC offset after a clock time, and the offset in minutes (NaN where none)."""
    found = stripped.str.extract(_OFFSET)
    has = found[1].notna().to_numpy()
    minutes = np.full(len(stripped), np.nan)
    if has.any():
        zoneless = stripped.where(~has, found[0])
        for i in np.flatnonzero(has):
            minutes[i] = _offset_minutes(str(found[1].iloc[i]))
        return zoneless, minutes
    return stripped, minutes


def _offset_minutes(text: str) -> float:
    text = text.strip().upper()
    if text in ("Z", "UTC", "GMT"):
        return 0.0
    sign = -1.0 if text[0] == "-" else 1.0
    digits = text[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + int(digits[2:4]))


def _to_zone(values: npt.NDArray[Any], minutes: npt.NDArray[np.float64], zone: str
             ) -> tuple[npt.NDArray[Any], npt.NDArray[np.int8]]:
    """Wall-clock times in ``zone`` (and the fold) of clock times written with a UTC offset of ``minutes``."""
    tz = ZoneInfo(zone)
    out = values.copy()
    fold = np.zeros(len(values), dtype=np.int8)
    for i in np.flatnonzero(~np.isnan(minutes) & ~np.isnat(values)):
        naive = pd.Timestamp(values[i]).to_pydatetime()
        local = naive.replace(tzinfo=dt_timezone(timedelta(minutes=float(minutes[i])))).astimezone(tz)
        out[i] = np.datetime64(local.replace(tzinfo=None, fold=0), "ns")
        fold[i] = local.fold
    return out, fold


def _convert_datetime(text: npt.NDArray[Any], col: ColumnSpec, dayfirst: bool, today: date,
                      zone: str = "") -> _DateVerdict:
    stripped = pd.Series(_strip(text), dtype=object)
    blank = stripped.str.lower().isin(_NA_TOKENS).to_numpy()
    k = len(text)
    stripped, minutes = _split_offsets(stripped)  # "2026-09-08T20:00:00+02:00": the clock time and +120 min
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
    reason = _empty_reasons(k)
    check = _empty_reasons(k)
    contradicts = np.zeros(k, dtype=bool)
    order = "day-first (day/month/year)" if dayfirst else "month-first (month/day/year)"
    other = "month-first" if dayfirst else "day-first"
    for i in todo:
        reason[i], contradicts[i] = _date_problem(stripped.iloc[i], dayfirst, order, other)
        check[i] = DATE
    # 4. a time written with a UTC offset: the wall-clock time of that instant in the clinic's zone
    offset = ~np.isnan(minutes) & ~np.isnat(out)
    fold = np.zeros(k, dtype=np.int8)
    if offset.any() and not col.date_only:
        out, fold = _to_zone(out, np.where(offset, minutes, np.nan), zone)
    # 5. dates that parse but cannot be right
    if col.date_only:
        out = out.astype("datetime64[D]").astype("datetime64[ns]")
    parsed_ok = ~np.isnat(out)
    too_old = parsed_ok & (out < np.datetime64("1900-01-01"))
    reason[too_old] = [f"{_label(col)} {t.strip()!r} is before 1900; check the year" for t in text[too_old]]
    check[too_old] = TOO_EARLY
    if col.name in _HAPPENED:
        tomorrow = np.datetime64(today + timedelta(days=1), "ns")
        future = parsed_ok & (out >= tomorrow)
        reason[future] = [f"{_label(col)} {t.strip()!r} is in the future (today is {today.isoformat()})"
                          for t in text[future]]
        check[future] = FUTURE
    out[np.array([r is not None for r in reason], dtype=bool)] = np.datetime64("NaT")
    ambiguous = np.zeros(k, dtype=bool)
    proves = np.zeros(k, dtype=bool)
    if numeric.any():
        parts = stripped[numeric].str.extract(_NUMERIC_DATE).iloc[:, :2]
        first = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float)
        second = pd.to_numeric(parts[1], errors="coerce").to_numpy(dtype=float)
        ambiguous[numeric] = (first <= 12) & (second <= 12) & (first != second)
        proves[numeric] = (first > 12) if dayfirst else (second > 12)  # the other order would have no such month
    ambiguous &= ~np.isnat(out)  # a date rejected for another reason is reported as that
    has_time = stripped.str.contains(_CLOCK, regex=True).to_numpy(dtype=bool) & ~blank
    return _DateVerdict(out, blank, reason, check, ambiguous, contradicts, proves, has_time, fold,
                        offset & ~np.isnat(out), np.asarray(text, dtype=object), zone)


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
# rows


def _convert(
    text: npt.NDArray[Any], col: ColumnSpec, *, dayfirst: bool, today: date, decimal_comma: bool, scale: float,
    expected: str | None, zone: str = "UTC",
) -> _Verdict:
    if col.is_datetime:
        return _convert_datetime(text, col, dayfirst, today, zone)
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


def _to_rows(verdict: _Verdict, codes: npt.NDArray[Any], text: npt.NDArray[Any], col: ColumnSpec,
             patient_id: str | None) -> _Column:
    """Per-row problems and reasons from the verdict on the distinct values."""
    reason_u = _with_sentinel(verdict.reason, None)
    check_u = _with_sentinel(verdict.check, None)
    bad_u = np.array([r is not None for r in reason_u], dtype=bool)
    fill = patient_id if col.name == "patient_id" else _VOCABULARY_DEFAULT.get(col.name)
    if col.required and fill is None:  # an empty required cell is a problem of its own
        blank_u = _with_sentinel(verdict.blank, True)
        reason_u[blank_u] = f"{_label(col)} is missing; every row needs one"
        check_u[blank_u] = REQUIRED
        bad_u |= blank_u
    text_u = _with_sentinel(np.asarray(text, dtype=object), "")
    return _Column(verdict.values, fill, codes, bad_u[codes], reason_u, check_u, text_u)


def _duplicated(key_codes: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
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


def _end_before_start(start: _Column, end: _Column) -> npt.NDArray[Any]:
    """Rows of a prescription period whose (valid) end date is before its start date."""
    s = np.asarray(start.rows(), dtype="datetime64[ns]")
    e = np.asarray(end.rows(), dtype="datetime64[ns]")
    wrong: npt.NDArray[np.bool_] = ~np.isnat(s) & ~np.isnat(e) & (e < s) & ~end.bad
    return wrong


def _rejected_frame(pieces: list[_Piece], spec: TableSpec) -> pd.DataFrame:
    """The row failures as one table (:data:`REJECTED_COLUMNS`), by row, then by the column's place."""
    if not pieces:
        return empty_rejected()
    rows = np.concatenate([p[0] for p in pieces]).astype(np.int64)
    cols = np.concatenate([np.full(len(p[0]), p[1], dtype=object) for p in pieces])
    checks = np.concatenate([np.asarray(p[2], dtype=object) for p in pieces])
    values = np.concatenate([np.asarray(p[3], dtype=object) for p in pieces])
    reasons = np.concatenate([np.asarray(p[4], dtype=object) for p in pieces])
    position = {name: i for i, name in enumerate(["", *spec.column_names])}
    order = np.lexsort((np.array([position[c] for c in cols], dtype=np.int64), rows))
    return pd.DataFrame({
        "row": rows[order],
        "column": pd.array(cols[order], dtype="string"),
        "check": pd.array(checks[order], dtype="string"),
        "value": pd.array(values[order], dtype="string"),
        "reason": pd.array(reasons[order], dtype="string"),
    })


# ---------------------------------------------------------------------------
# warnings


def _rows_text(rows: npt.NDArray[Any]) -> str:
    """``"row 5"`` or ``"rows 5, 9 and 12 more"``."""
    shown = ", ".join(str(r) for r in rows[:_MAX_LISTED])
    more = len(rows) - _MAX_LISTED
    return ("row " if len(rows) == 1 else "rows ") + shown + (f" and {more} more" if more > 0 else "")


def _unknown_exercise_warnings(verdict: _Verdict, codes: npt.NDArray[Any]) -> list[str]:
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


def _date_warnings(verdict: _DateVerdict, codes: npt.NDArray[Any], text: npt.NDArray[Any], numbers: npt.NDArray[Any],
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


def _duplicate_warning(rows: npt.NDArray[Any], spec: TableSpec) -> str:
    key = _and([COLUMN_LABELS.get(k, k) for k in spec.key])
    many = len(rows) != 1
    return (f"{len(rows)} row{'s' if many else ''} repeat{'' if many else 's'} an earlier row with the same "
            f"{key} and {'were' if many else 'was'} counted once ({_rows_text(rows)}); the first was kept")


def _conflict_warning(rows: npt.NDArray[Any], spec: TableSpec) -> str:
    key = _and([COLUMN_LABELS.get(k, k) for k in spec.key])
    many = len(rows) != 1
    return (f"{len(rows)} row{'s' if many else ''} ({_rows_text(rows)}) repeat{'' if many else 's'} the {key} of an "
            f"earlier row with other values and {'were' if many else 'was'} rejected: the file gives two different "
            "readings of the same moment (the rejected rows say which values differ)")


# ---------------------------------------------------------------------------
# the entrance of the library: canonical tables passed to an analysis

#: Index labels (and values) listed per failing column and rule in an :class:`InvalidTableError`.
MAX_ROWS_LISTED = 10

_P = ParamSpec("_P")
_R = TypeVar("_R")
_TRUSTED: ContextVar[bool] = ContextVar("rehabtrack_tables_trusted", default=False)
_YES_NO_VALUES = frozenset({True, False})


def tables_trusted() -> bool:
    """True inside :func:`trusted_tables` (the entrance checks are skipped there)."""
    return _TRUSTED.get()


@contextmanager
def trusted_tables() -> Iterator[None]:
    """Skip the entrance checks of the library's functions inside this block.

    The **documented flag** for internal calls: a public function that checked its
    tables at its entrance (:func:`checks_tables`) runs its body inside this block,
    so the functions it calls do not check the same rows again and a whole cohort
    summary pays for one check of each table. Use it yourself only for tables that
    were already checked (:func:`check_tables`) or come from :mod:`analysis.ingest`
    or the store, which validate every row they accept.

    Examples
    --------
    >>> with trusted_tables():
    ...     tables_trusted()
    True
    >>> tables_trusted()
    False
    """
    token = _TRUSTED.set(True)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def _instrument_ok(value: Any) -> bool:
    try:
        get_instrument(str(value))
    except UnknownInstrumentError:
        return False
    return True


def _rule_text(col: ColumnSpec, check: str) -> str:
    label = col.name
    if check == REQUIRED:
        return f"{label} is missing; every row needs one"
    if check == NUMBER:
        return f"{label} must be a number"
    if check in (RANGE, WHOLE_NUMBER):
        return f"{label} must be {_number_rule(col, col.dtype == 'Int64')}"
    if check == DATE:
        return f"{label} must be a date" + ("" if col.date_only else " and time")
    if check == YES_NO:
        return f"{label} must be yes or no (True or False)"
    return f"{label} must be {col.range_text()}"


def _bounds_hold(numbers: npt.NDArray[np.float64], kind: str, col: ColumnSpec) -> bool:
    """True when every present value of a numeric column is valid, judged from its minimum and maximum alone.

    ``numbers`` are the column's values as floats (NaN where missing) and ``kind`` the numpy kind of its
    dtype. For an integer or boolean column (whole by its type), or a float column whose values need not
    be whole, every present value is finite, in range (and whole) exactly when the minimum and the maximum
    are finite and in range: two reductions instead of a mask per rule. ``False`` means "look row by row",
    not that a value fails.
    """
    if not (kind in "iub" or (kind == "f" and col.dtype != "Int64")):
        return False
    if len(numbers) == 0:
        return True
    lo, hi = float(np.fmin.reduce(numbers)), float(np.fmax.reduce(numbers))  # NaN only when all are missing
    if np.isnan(lo):
        return True
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return False
    return (col.min is None or lo >= col.min) and (col.max is None or hi <= col.max)


def _column_masks(values: pd.Series, col: ColumnSpec) -> list[tuple[str, npt.NDArray[np.bool_]]]:
    """(rule, failing rows) of one column; every check on whole columns or on distinct values."""
    out: list[tuple[str, npt.NDArray[np.bool_]]] = []
    missing = values.isna().to_numpy(dtype=bool)
    if col.required and missing.any():
        out.append((REQUIRED, missing))
    if col.is_datetime:
        if values.dtype.kind != "M":
            parsed = pd.to_datetime(values, errors="coerce", format="mixed")
            bad = parsed.isna().to_numpy(dtype=bool) & ~missing
            if bad.any():
                out.append((DATE, bad))
        return out
    if col.is_numeric:
        kind = getattr(values.dtype, "kind", "O")
        if kind in "iufb":
            numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
            if _bounds_hold(numbers, kind, col):
                return out
            not_number = np.zeros(len(values), dtype=bool)
        else:
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            not_number = np.isnan(numbers) & ~missing
            if not_number.any():
                out.append((NUMBER, not_number))
        ok, rule = _number_problems(numbers, col)
        bad = ~ok & ~missing & ~not_number
        if bad.any():
            for code, check in enumerate(_NUMBER_RULES[1:], start=1):
                hit = bad & (rule == code)
                if hit.any():
                    out.append((check, hit))
        return out
    if col.dtype == "boolean":
        if getattr(values.dtype, "kind", "O") not in "b" and str(values.dtype) != "boolean":
            distinct = pd.unique(values[~missing].to_numpy(dtype=object))
            wrong = [v for v in distinct if not (isinstance(v, (bool, np.bool_, int, np.integer))
                                                 and v in _YES_NO_VALUES)]
            if wrong:
                out.append((YES_NO, values.isin(wrong).to_numpy(dtype=bool) & ~missing))
        return out
    if col.allowed is not None:
        if isinstance(values.dtype, pd.CategoricalDtype):
            distinct = values.cat.categories
        else:  # the distinct values without the missing ones (no copy of the column)
            distinct = [v for v in pd.unique(values) if not pd.isna(v)]
        allowed = set(col.allowed)
        wrong = [v for v in distinct if v not in allowed and not (col.name == "instrument" and _instrument_ok(v))]
        if wrong:
            out.append((VOCABULARY, values.isin(wrong).to_numpy(dtype=bool) & ~missing))
    return out


def table_problems(frame: pd.DataFrame, table: str | TableSpec) -> list[tuple[str, str, str, tuple[Any, ...],
                                                                              tuple[str, ...], str, int]]:
    """Every value of a canonical table that breaks the table's rules, per column and rule.

    The rules are those of :mod:`analysis.schema` that :func:`validate_frame`
    applies (required values, numeric ranges, whole numbers, vocabularies), plus
    dates that cannot be read; columns the frame does not have are not checked
    (a function that needs a column says so itself, :class:`MissingColumnsError`),
    and repeated keys are not looked for (the analyses count every row).

    Parameters
    ----------
    frame
        A table with canonical column names (other columns are ignored).
    table
        Which canonical table it is.

    Returns
    -------
    list of tuple
        One ``(table, column, check, rows, values, reason, count)`` per failing
        column and rule, in the table's column order: ``rows`` the index labels of
        the first :data:`MAX_ROWS_LISTED` failing rows, ``values`` their values
        as text, ``count`` the number of failing rows. Empty when nothing fails.

    Examples
    --------
    >>> pain = pd.DataFrame({"patient_id": ["P1", "P1"], "nprs": [11, 4],
    ...                      "recorded_at": pd.to_datetime(["2026-09-08", "2026-09-09"])})
    >>> [(p[1], p[2], p[3], p[4]) for p in table_problems(pain, "pain")]
    [('nprs', 'range', (0,), ('11',))]
    """
    spec = table_spec(table)
    found = []
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        values = frame[col.name]
        for check, mask in _column_masks(values, col):
            idx = np.flatnonzero(mask)
            first = idx[:MAX_ROWS_LISTED]
            labels = tuple(v.item() if isinstance(v, np.generic) else v for v in frame.index[first])
            shown = tuple("empty" if pd.isna(v) else _value_text(v) for v in values.iloc[first])
            found.append((spec.name, col.name, check, labels, shown, _rule_text(col, check), int(idx.size)))
    return found


def _problem_text(problem: tuple[str, str, str, tuple[Any, ...], tuple[str, ...], str, int]) -> str:
    table, column, check, rows, values, reason, count = problem
    pairs = ", ".join(f"{r} ({v})" for r, v in zip(rows, values, strict=True))
    more = f" and {count - len(rows)} more" if count > len(rows) else ""
    noun = "row" if count == 1 else "rows"
    return f"{table}.{column}, rule '{check}': {reason}; {count} {noun}, index (value): {pairs}{more}"


def check_tables(tables: Mapping[str, pd.DataFrame | CohortTables | None], *, where: str = "") -> None:
    """Raise one :class:`~analysis.errors.InvalidTableError` listing every broken rule of every table.

    Parameters
    ----------
    tables
        Canonical tables by table name (``"pain"``, ``"sessions"``, ...); a
        :class:`~analysis.schema.CohortTables` under any name is checked table by
        table; ``None`` and other objects are skipped.
    where
        The function the tables were passed to, for the message.

    Raises
    ------
    analysis.errors.InvalidTableError
        When any value breaks a rule (all failures at once, lazily collected):
        the message names the table, column, rule, the index labels of the rows
        and their values, and says what to do.

    Examples
    --------
    >>> pain = pd.DataFrame({"patient_id": ["P1", "P1"], "nprs": [11, -1],
    ...                      "recorded_at": pd.to_datetime(["2026-09-08", "2026-09-09"])})
    >>> import textwrap
    >>> try:
    ...     check_tables({"pain": pain}, where="pain_trends")
    ... except InvalidTableError as error:
    ...     print(textwrap.fill(str(error), 100))
    the pain table passed to pain_trends has 2 values that break its rules; nothing was computed.
    pain.nprs, rule 'range': nprs must be a whole number from 0 to 10; 2 rows, index (value): 0 (11), 1
    (-1). Correct or remove these rows (the index labels are those of the table passed in) and run it
    again.
    """
    problems = []
    for name, frame in tables.items():
        if isinstance(frame, CohortTables):
            for key in ("patients", "prescriptions", "sessions", "pain", "proms"):
                problems.extend(table_problems(getattr(frame, key), key))
        elif isinstance(frame, pd.DataFrame):
            problems.extend(table_problems(frame, name))
    if not problems:
        return
    names = list(dict.fromkeys(p[0] for p in problems))
    n = sum(p[6] for p in problems)
    head = (f"the {_and(names)} table{'s' if len(names) > 1 else ''}"
            + (f" passed to {where}" if where else "")
            + f" {'have' if len(names) > 1 else 'has'} {n} value{'s' if n != 1 else ''} that break"
            + f"{'' if n != 1 else 's'} {'their' if len(names) > 1 else 'its'} rules; nothing was computed. ")
    tail = " Correct or remove these rows (the index labels are those of the table passed in) and run it again."
    message = head + " ".join(_problem_text(p) + "." for p in problems) + tail
    raise InvalidTableError(message, tuple(p[:6] for p in problems))


def checks_tables(**params: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorator: check the canonical tables a public function receives, once, at its entrance.

    Parameters
    ----------
    **params
        Parameter name -> canonical table name (``pain="pain"``), or ``"cohort"``
        for a :class:`~analysis.schema.CohortTables` parameter (other objects
        passed there, such as prepared inputs or a Dask cohort, are not checked).

    Returns
    -------
    callable
        The decorator. The wrapped function calls :func:`check_tables` on its
        tables (unless :func:`tables_trusted`) and then runs inside
        :func:`trusted_tables`, so the library functions it calls skip their own
        entrance checks: a cohort summary checks each table once.
    """

    def decorate(func: Callable[_P, _R]) -> Callable[_P, _R]:
        signature = inspect.signature(func)
        unknown = sorted(set(params) - set(signature.parameters))
        if unknown:  # a programming error, found at import
            raise TypeError(f"{func.__qualname__} has no parameter(s) {', '.join(unknown)}")

        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            if _TRUSTED.get():
                return func(*args, **kwargs)
            bound = signature.bind_partial(*args, **kwargs).arguments
            check_tables({table: bound.get(name) for name, table in params.items()}, where=func.__qualname__)
            token = _TRUSTED.set(True)
            try:
                return func(*args, **kwargs)
            finally:
                _TRUSTED.reset(token)

        return wrapper

    return decorate
