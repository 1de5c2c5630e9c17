"""Generic table ingestion: a table as read (headers as people write them, cells as text) -> one canonical table.

This is the middle of every ingestion (:func:`analysis.ingest.ingest_file` for
rehabtrack's own CSV / Excel / JSON tables, and the app importers of
:mod:`analysis.importers` once they have turned an export into rows). It

1. maps the headers people write to canonical columns (:mod:`analysis.headers`)
   and, unless told, works out which table the file is; a date column and a
   separate time-of-day column (``Date``, ``Time``) become one timestamp
   (:func:`analysis.validation.combine_date_time`), never a column left unread;
2. checks who the rows are about: a file for one patient (``patient_id``
   given) whose patient column, or a column naming a person (``Athlete``,
   ``Name``; :data:`analysis.headers.PERSON_HEADERS`), holds more than one
   value is refused (:class:`~analysis.errors.SeveralPeopleError`, naming the
   column and the values), unless the caller maps each value to a patient
   (``people``), which is how a physio uploads such a file;
3. hands every mapped column to the validation engine
   (:func:`analysis.validation.validate_cells`), which converts each cell to
   the canonical dtype of :mod:`analysis.schema` and checks it against the
   ranges and vocabularies defined there (and nowhere else);
4. returns one :class:`IngestResult`: the accepted rows as a canonical table,
   every rejected row with its row number, column, rule, value as written and
   a reason in plain words, and warnings. Nothing is lost silently:
   ``n_accepted + n_rejected + n_duplicates == n_rows``.

Reading bytes into a table is :mod:`analysis.reading`; this module never
touches a file and knows nothing of app formats.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.errors import MissingColumnsError, SeveralPeopleError, UnreadableFileError
from analysis.headers import (
    PERSON_HEADERS,
    SYNONYMS,
    TIME_OF_DAY_HEADERS,
    HeaderMatch,
    detect_table,
    fold_header,
    match_headers,
)
from analysis.reading import RawInfo, cell_text, distinct_values, drop_blank_rows, unique_headers
from analysis.schema import TABLES, TableSpec, table_spec
from analysis.validation import (
    FIRST_DATA_ROW,
    ROW_INFO_COLUMNS,
    ColumnCells,
    check_table_name,
    clock_time,
    combine_date_time,
    timed_key,
    validate_cells,
)

__all__ = ["IngestResult", "ingest_frame", "ingest_raw", "empty_row_info"]

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
        Row numbers of rows that repeat an earlier row's key and values (counted once).
    row_info
        One row per accepted row, in the same order
        (:data:`analysis.validation.ROW_INFO_COLUMNS`): its row number in the
        file, whether a clock time was written (False: a date only, stored at
        midnight as "that day") and the DST fold (1 for the second of two
        instants with the same wall-clock time). The store keeps the last two
        beside the row, so that a timed 00:00 row is never taken for a date
        without a time, and two instants of a repeated hour stay two rows.
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
    row_info: pd.DataFrame = field(default_factory=lambda: empty_row_info())

    def __post_init__(self) -> None:
        if len(self.row_info) != len(self.accepted):  # built without markers: timed unless at midnight
            object.__setattr__(self, "row_info", _default_row_info(self.table, self.accepted))

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
    timezone: str | None = None,
    people: Mapping[str, str] | None = None,
) -> IngestResult:
    """Map, convert and validate a table that was already read (cells as text).

    Parameters
    ----------
    raw
        One column per file column, headers as written; cells are best given as
        strings (numbers, dates and booleans are turned into text first).
    table, patient_id, dayfirst, today, timezone, people
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
    return ingest_raw(frame, info, table=table, patient_id=patient_id, dayfirst=dayfirst, today=today,
                      timezone=timezone, people=people)


def ingest_raw(
    frame: pd.DataFrame,
    info: RawInfo,
    *,
    table: str | None,
    patient_id: str | None,
    dayfirst: bool,
    today: date | None,
    timezone: str | None = None,
    people: Mapping[str, str] | None = None,
) -> IngestResult:
    """Map the headers of a table as read, then validate it as that canonical table.

    Parameters
    ----------
    frame
        The table as read (:func:`analysis.reading.read_table`): headers as
        written, cells as text (``object`` or ``category``).
    info
        How it was read (row numbers, rows that could not be split, notes).
    table, patient_id, dayfirst, today, timezone, people
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
    SeveralPeopleError
        ``patient_id`` is given and a column naming people holds several
        values; or ``people`` leaves some of them without a patient.
    DayOrderError
        The file's dates prove the other day order.
    """
    today = today.date() if isinstance(today, datetime) else (today or date.today())
    patient_id = str(patient_id).strip() or None if patient_id is not None else None
    people_note: list[str] = []
    if people is not None:
        if patient_id is not None:
            raise ValueError("give either the patient of the whole file or a patient for each person, not both")
        frame, people_note = _map_people(frame, people, info.source)
    headers = [str(c) for c in frame.columns]
    fillable = ("side",) + (("patient_id",) if patient_id is not None else ())
    try:
        match = _resolve_table(headers, table, info, fillable)
    except MissingColumnsError as exc:
        if "patient_id" in exc.missing:
            _refuse_unnamed_people(frame, info.source)
        raise
    if patient_id is not None:
        _refuse_several_people(frame, match, patient_id, info.source)
    match, combined, combine_note = _date_and_time(frame, match)
    spec = table_spec(match.table)
    n_blank = info.blank_rows
    n_rows = len(frame) + len(info.bad_rows)
    if n_rows == 0:
        raise UnreadableFileError("the file has column names but no rows of data", source=info.source)

    warn: list[str] = list(info.notes) + people_note + combine_note
    warn.extend(_header_warnings(match, spec))
    if n_blank:
        warn.append(f"{n_blank} empty line{'s were' if n_blank != 1 else ' was'} skipped")

    by_column = {canonical: header for header, canonical in match.mapping.items()}
    cells: dict[str, ColumnCells] = dict(combined)
    for col in spec.columns:
        header = by_column.get(col.name)
        if header is not None and col.name not in cells:
            codes, text = distinct_values(frame[header])
            cells[col.name] = ColumnCells(header, codes, text)
    checked = validate_cells(cells, spec, info.row_numbers, dayfirst=dayfirst, today=today,
                             decimal_comma=info.delimiter in (";", "\t", "|"), scale=match.scale,
                             patient_id=patient_id, bad_rows=info.bad_rows, timezone=timezone,
                             source=info.source)
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
        row_info=checked.row_info,
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


# ---------------------------------------------------------------------------
# row markers


def empty_row_info() -> pd.DataFrame:
    """An empty :attr:`IngestResult.row_info` (columns :data:`analysis.validation.ROW_INFO_COLUMNS`)."""
    return pd.DataFrame({"row": np.empty(0, dtype=np.int64), "time_written": np.empty(0, dtype=bool),
                         "fold": np.empty(0, dtype=np.int8)})[list(ROW_INFO_COLUMNS)]


def _default_row_info(table: str, accepted: pd.DataFrame) -> pd.DataFrame:
    """Markers for rows that came without them: a time was written unless the row is at midnight; fold 0."""
    n = len(accepted)
    timed = timed_key(table) if table in TABLES else None
    written = (accepted[timed] != accepted[timed].dt.normalize()).to_numpy(dtype=bool) if timed and n else \
        np.zeros(n, dtype=bool)
    return pd.DataFrame({"row": np.full(n, -1, dtype=np.int64), "time_written": written,
                         "fold": np.zeros(n, dtype=np.int8)})


# ---------------------------------------------------------------------------
# date and time in two columns


def _date_and_time(
    frame: pd.DataFrame, match: HeaderMatch
) -> tuple[HeaderMatch, dict[str, ColumnCells], list[str]]:
    """A date column and a time-of-day column both read as the table's timestamp: combined, with a note."""
    timed = timed_key(match.table)
    if timed is None:
        return match, {}, []
    headers = [h for h, c in match.mapping.items() if c == timed] + [h for h, c in match.repeated if c == timed]
    if len(headers) < 2:
        return match, {}, []
    cells = {h: distinct_values(frame[h]) for h in headers}

    def clock_only(header: str) -> bool:
        _, text = cells[header]
        filled = [t for t in text if str(t).strip()]
        return bool(filled) and all(clock_time(str(t)) is not None for t in filled)

    time_header = next((h for h in headers if clock_only(h)), None)
    if time_header is None:
        time_header = next((h for h in headers if fold_header(h) in TIME_OF_DAY_HEADERS), None)
    date_header = next((h for h in headers if h != time_header and not clock_only(h)), None)
    if time_header is None or date_header is None:
        return match, {}, []
    both = combine_date_time(ColumnCells(date_header, *cells[date_header]),
                             ColumnCells(time_header, *cells[time_header]))
    mapping = {h: c for h, c in match.mapping.items() if h != time_header}
    mapping[date_header] = timed
    order = {h: i for i, h in enumerate(frame.columns)}
    mapping[time_header] = timed
    mapping = dict(sorted(mapping.items(), key=lambda item: order[item[0]]))
    repeated = tuple((h, c) for h, c in match.repeated if h not in (time_header, date_header))
    note = [f"columns {date_header!r} and {time_header!r} were read together as the date and the time of day of "
            "each row (a row with an empty time is a date without a time)"]
    return dataclasses.replace(match, mapping=mapping, repeated=repeated), {timed: both}, note


# ---------------------------------------------------------------------------
# who the rows are about


def _person_values(column: pd.Series) -> pd.Series:
    """Distinct non-empty values of a column (stripped) with their row counts, most rows first."""
    codes, text = distinct_values(column)
    counts = np.bincount(codes[codes >= 0], minlength=len(text))
    values = pd.Series(counts, index=pd.Index([str(t).strip() for t in text], dtype=object))
    values = values[values.index != ""].groupby(level=0, sort=False).sum()
    return values.sort_values(ascending=False, kind="stable")


def _person_headers(frame: pd.DataFrame, patient_header: str | None) -> list[str]:
    """Headers of columns naming people: the patient-ID column, then e.g. ``Athlete`` or ``Name`` left unread."""
    out = [patient_header] if patient_header is not None else []
    return out + [str(h) for h in frame.columns if fold_header(h) in PERSON_HEADERS and str(h) not in out]


def _listing(values: pd.Series, limit: int = 10) -> str:
    shown = ", ".join(f"{v} ({n} row{'s' if n != 1 else ''})" for v, n in values.head(limit).items())
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _refuse_several_people(frame: pd.DataFrame, match: HeaderMatch, patient_id: str, source: str) -> None:
    """A file for one patient whose person column holds several values: refused, naming the column and values."""
    patient_header = next((h for h, c in match.mapping.items() if c == "patient_id"), None)
    for header in _person_headers(frame, patient_header):
        if header in match.mapping and header != patient_header:
            continue  # read as another column (e.g. "Name" as the exercise)
        values = _person_values(frame[header])
        if len(values) > 1:
            raise SeveralPeopleError(
                f"this file holds the logs of {len(values)} people: column {header!r} has {_listing(values)}. "
                f"Nothing was read. A file for one patient ({patient_id}) may hold only that patient's rows: "
                "split the file, or (a physio) upload it choosing a patient of your caseload for each "
                "person (rehabtrack upload FILE --as YOU --person 'NAME=PATIENT_ID' ...)",
                column=header, people=tuple(values.index), unmapped=tuple(values.index), source=source)


def _refuse_unnamed_people(frame: pd.DataFrame, source: str) -> None:
    """No patient column and no patient chosen, but a column naming people: say how to map them."""
    for header in _person_headers(frame, None):
        values = _person_values(frame[header])
        if len(values):
            raise SeveralPeopleError(
                f"the file names no patient IDs, but column {header!r} names {len(values)} "
                f"{'people' if len(values) != 1 else 'person'}: {_listing(values)}. Choose the patient of each "
                "(rehabtrack upload FILE --as YOU --person 'NAME=PATIENT_ID' ...), or, for one person's file, "
                "the patient it belongs to (--patient-id)",
                column=header, people=tuple(values.index), unmapped=tuple(values.index), source=source)


def _map_people(frame: pd.DataFrame, people: Mapping[str, str], source: str) -> tuple[pd.DataFrame, list[str]]:
    """Replace the person column's values by the patients chosen for them; refuse values without one."""
    chosen = {str(k).strip(): str(v).strip() for k, v in people.items()}
    synonyms = {fold for table in SYNONYMS.values() for fold, c in table.items() if c == "patient_id"}
    candidates = [str(h) for h in frame.columns if fold_header(h) in synonyms] + _person_headers(frame, None)
    header = next((h for h in candidates if _person_values(frame[h]).index.isin(list(chosen)).any()), None)
    if header is None:
        header = next((h for h in candidates if len(_person_values(frame[h]))), None)
    if header is None:
        raise SeveralPeopleError(
            "patients were chosen for people in this file, but no column of it names people (such as 'Athlete', "
            "'Name' or 'Patient')", column="", people=(), unmapped=tuple(chosen), source=source)
    values = _person_values(frame[header])
    unmapped = values[~values.index.isin(list(chosen))]
    blank = {k for k, v in chosen.items() if not v}
    if len(unmapped) or blank:
        missing = unmapped if len(unmapped) else values[values.index.isin(list(blank))]
        raise SeveralPeopleError(
            f"column {header!r} names {len(values)} {'people' if len(values) != 1 else 'person'} "
            f"({_listing(values)}); no patient was chosen for {', '.join(missing.index)}. Nothing was read: "
            "choose a patient of your caseload for each person",
            column=header, people=tuple(values.index), unmapped=tuple(missing.index), source=source)
    out = frame.drop(columns=[h for h in frame.columns if str(h) != header and fold_header(h) in synonyms])
    text = out[header].astype(object).map(lambda v: v if not isinstance(v, str) else v.strip())
    out = out.assign(**{header: text.map(lambda v: chosen.get(v, v) if isinstance(v, str) else v)})
    out = out.rename(columns={header: "patient_id"})
    note = [f"column {header!r} names {len(values)} {'people' if len(values) != 1 else 'person'}; their rows were "
            "read as the patients chosen for them: " + ", ".join(f"{k} -> {chosen[k]}" for k in values.index)]
    return out, note
