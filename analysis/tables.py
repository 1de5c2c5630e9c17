"""Generic table ingestion: a table as read (headers as people write them, cells as text) -> one canonical table.

This is the middle of every ingestion (:func:`analysis.ingest.ingest_file` for
rehabtrack's own CSV / Excel / JSON tables, and the app importers of
:mod:`analysis.importers` once they have turned an export into rows). It

1. maps the headers people write to canonical columns (:mod:`analysis.headers`)
   and, unless told, works out which table the file is;
2. hands every mapped column to the validation engine
   (:func:`analysis.validation.validate_cells`), which converts each cell to
   the canonical dtype of :mod:`analysis.schema` and checks it against the
   ranges and vocabularies defined there (and nowhere else);
3. returns one :class:`IngestResult`: the accepted rows as a canonical table,
   every rejected row with its row number, column, rule, value as written and
   a reason in plain words, and warnings. Nothing is lost silently:
   ``n_accepted + n_rejected + n_duplicates == n_rows``.

Reading bytes into a table is :mod:`analysis.reading`; this module never
touches a file and knows nothing of app formats.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.errors import MissingColumnsError, UnreadableFileError
from analysis.headers import HeaderMatch, detect_table, match_headers
from analysis.reading import RawInfo, cell_text, distinct_values, drop_blank_rows, unique_headers
from analysis.schema import TABLES, TableSpec, table_spec
from analysis.validation import FIRST_DATA_ROW, ColumnCells, check_table_name, validate_cells

__all__ = ["IngestResult", "ingest_frame", "ingest_raw"]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# the result


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
        column, ``""`` when the whole row is unusable), ``check`` (the rule that
        failed, see :data:`analysis.validation.ROW_CHECKS`), ``value`` (the cell
        as written, ``""`` when empty) and ``reason`` (plain words). A row with
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
    duplicate_rows: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))

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
            shown = self.rejected.head(max_rejected)
            for row, column, reason in zip(shown["row"].tolist(), shown["column"].tolist(), shown["reason"].tolist(),
                                           strict=True):
                where = f"row {row}" + (f", {column}" if column else "")
                lines.append(f"  {where}: {reason}")
            if len(self.rejected) > max_rejected:
                lines.append(f"  ... and {len(self.rejected) - max_rejected} more problems")
        if self.warnings:
            lines.append("warnings:")
            lines.extend(f"  - {w}" for w in self.warnings)
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# public API


def ingest_frame(
    raw: pd.DataFrame,
    table: str | None = None,
    *,
    patient_id: str | None = None,
    dayfirst: bool = True,
    today: date | None = None,
    row_numbers: Sequence[int] | npt.NDArray[np.integer] | None = None,
    source: str = "<frame>",
) -> IngestResult:
    """Map, convert and validate a table that was already read (cells as text).

    Parameters
    ----------
    raw
        One column per file column, headers as written; cells are best given as
        strings (numbers, dates and booleans are turned into text first).
    table, patient_id, dayfirst, today
        As in :func:`analysis.ingest.ingest_file`.
    row_numbers
        Row number of each row of ``raw`` in the user's file; by default the
        position plus 2 (as if ``raw`` had been written to a CSV with a header).
    source
        Name used in messages and in the result.

    Returns
    -------
    IngestResult
        With ``format="frame"`` and empty ``encoding`` and ``delimiter``.

    Raises
    ------
    UnknownTableError
        ``table`` is not a canonical table, or the columns match none.
    MissingColumnsError
        Required columns are absent.
    UnreadableFileError
        ``raw`` has columns but no rows with a value.
    """
    table = check_table_name(table, source)
    if row_numbers is None:
        numbers = np.arange(len(raw), dtype=np.int64) + FIRST_DATA_ROW
    else:
        numbers = np.asarray(row_numbers, dtype=np.int64)
        if numbers.shape != (len(raw),):
            raise ValueError("row_numbers must have one entry per row of raw")
    frame = raw.reset_index(drop=True)
    frame.columns = unique_headers([cell_text(c) for c in raw.columns])
    frame, numbers, n_blank = drop_blank_rows(frame, numbers)
    info = RawInfo(source=source, format="frame", encoding="", delimiter="", row_numbers=numbers,
                   blank_rows=n_blank)
    return ingest_raw(frame, info, table=table, patient_id=patient_id, dayfirst=dayfirst, today=today)


def ingest_raw(
    frame: pd.DataFrame,
    info: RawInfo,
    *,
    table: str | None,
    patient_id: str | None,
    dayfirst: bool,
    today: date | None,
) -> IngestResult:
    """Map the headers of a table as read, then validate it as that canonical table.

    Parameters
    ----------
    frame
        The table as read (:func:`analysis.reading.read_table`): headers as
        written, cells as text (``object`` or ``category``).
    info
        How it was read (row numbers, rows that could not be split, notes).
    table, patient_id, dayfirst, today
        As in :func:`analysis.ingest.ingest_file`; ``table`` must already be
        checked (:func:`analysis.validation.check_table_name`).

    Returns
    -------
    IngestResult
        See :class:`IngestResult`.

    Raises
    ------
    UnknownTableError
        The columns match no table.
    MissingColumnsError
        Required columns are absent.
    UnreadableFileError
        The file has column names but no rows of data.
    """
    today = today.date() if isinstance(today, datetime) else (today or date.today())
    patient_id = str(patient_id).strip() or None if patient_id is not None else None
    headers = [str(c) for c in frame.columns]
    fillable = ("side",) + (("patient_id",) if patient_id is not None else ())
    match = _resolve_table(headers, table, info, fillable)
    spec = table_spec(match.table)
    n_blank = info.blank_rows
    n_rows = len(frame) + len(info.bad_rows)
    if n_rows == 0:
        raise UnreadableFileError("the file has column names but no rows of data", source=info.source)

    warn: list[str] = list(info.notes)
    warn.extend(_header_warnings(match, spec))
    if n_blank:
        warn.append(f"{n_blank} empty line{'s were' if n_blank != 1 else ' was'} skipped")

    by_column = {canonical: header for header, canonical in match.mapping.items()}
    cells: dict[str, ColumnCells] = {}
    for col in spec.columns:
        header = by_column.get(col.name)
        if header is not None:
            codes, text = distinct_values(frame[header])
            cells[col.name] = ColumnCells(header, codes, text)
    checked = validate_cells(cells, spec, info.row_numbers, dayfirst=dayfirst, today=today,
                             decimal_comma=info.delimiter in (";", "\t", "|"), scale=match.scale,
                             patient_id=patient_id, bad_rows=info.bad_rows)
    warn.extend(checked.warnings)

    result = IngestResult(
        table=spec.name,
        source=info.source,
        format=info.format,
        encoding=info.encoding,
        delimiter=info.delimiter,
        date_order="day-first" if dayfirst else "month-first",
        header_mapping=dict(match.mapping),
        accepted=checked.accepted,
        rejected=checked.rejected,
        warnings=warn,
        n_rows=n_rows,
        duplicate_rows=checked.duplicate_rows,
    )
    logger.info("%s: %d rows, %d accepted, %d rejected, %d duplicates", info.source, result.n_rows,
                result.n_accepted, result.n_rejected, result.n_duplicates)
    return result


# ---------------------------------------------------------------------------
# headers


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
