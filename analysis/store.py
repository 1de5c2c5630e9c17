"""The persistent store: every upload, every accepted row and every rejected row, kept.

One small module behind which the data live, through SQLAlchemy Core:

* the default is an embedded SQLite file, ``<data dir>/rehabtrack.sqlite``, where
  the data directory is ``REHABTRACK_DATA_DIR`` or ``./var``; the file runs in
  WAL mode (readers never block the writer) with a busy timeout;
* ``REHABTRACK_DATABASE_URL`` (or the argument of :meth:`Store.open`) may name
  any SQLAlchemy URL instead, e.g. a PostgreSQL server of a clinic:
  ``postgresql+psycopg://rehabtrack:SECRET@db.clinic.local/rehabtrack``
  (``postgresql://`` is read as the psycopg 3 driver).

Tables
------
The five canonical tables are generated from :mod:`analysis.schema` (their
columns, types, nullability and natural key are never written twice): each
column of a :class:`analysis.schema.TableSpec` becomes a column of the same
name, the table's key becomes its primary key, and an ``upload_id`` column
records which upload brought the row. The tables whose key holds a time of day
(``sessions``, ``pain``, ``proms``) also keep :data:`MARKERS` beside each row:
``time_written`` (False for a row whose file gave only a date: "that day",
stored at midnight; a row timed 00:00 is True) and ``fold`` (1 for the second of
two instants with the same wall-clock time in the hour repeated when the clocks
go back; part of the primary key, so the two stay two rows). The markers are not
part of the canonical tables the analysis reads. Beside them:

``uploads``
    One row per upload: who, when (UTC), file name (as sent, reduced to its
    last path component), SHA-256 of the bytes, table, format, the patient the
    file was for, and the counts ``rows_in_file = rows_added +
    rows_already_there + rows_changed + rows_duplicate_in_file + rows_rejected``;
    ``rows_replaced`` says how many of the ``rows_changed`` were replaced.
    ``duplicate_of`` names the first upload with the same bytes, table and patient.
``rejected_rows``
    Every rejected cell of every upload: upload, ``seq``, row number in the
    file (header = row 1), column (``NULL`` = the whole row), value as written
    (``NULL`` = empty) and the reason in plain words. A re-upload of identical
    bytes does not store its rejections again (they are those of ``duplicate_of``).
``audit``
    Every in-app insert, edit and removal, and every row an upload replaced:
    who, when (UTC), table, key, old and new values (JSON; the old values keep the
    ``upload_id`` that brought them).
``rehabtrack_meta``
    ``schema_version`` of the store.
``patient_profiles``, ``custom_exercises``, ``custom_templates``
    Programmes and patients entered in the app (issue 10): a patient's optional
    display name and archive flag, kept apart from the analysis tables; a
    physio's own exercises and programme templates.
``expected_models``
    Every fitted expected-course model (issue 20, :mod:`analysis.expected`): when and by
    whom it was fitted, the analysis date, the store's data version, the settings used
    (JSON) and the model with its cross-validated calibration (JSON). The latest row is
    the model in use; earlier ones are kept.
``clinic_options``
    Switches an administrator sets in the app (e.g. whether physios see the comparison of
    physios), with who set them and when.

The original bytes of every upload are also kept, content-addressed, under
``<data dir>/uploads/<first 2 hex>/<sha256>``: the path is built from the hash
only, never from the name the file was sent with.

Writing
-------
:meth:`Store.ingest_upload` reads a file with :func:`analysis.ingest.ingest_file`
(outside any transaction), then writes in ONE transaction: the ``uploads`` row,
the new canonical rows, the replaced rows with their audit and the rejected
rows; any failure rolls all of it back. Writers are serialised (SQLite
``BEGIN IMMEDIATE``; PostgreSQL a transaction advisory lock), so two uploads at
once both land, and every row is compared with what is already stored before it
is written (:func:`analysis.corrections.compare_rows`): a row whose key is stored
with the same values is *already there*; a row whose key is stored with other
values is *changed* and handled as the caller chose (``on_conflict``: ``fail``,
the default, stores nothing and raises :class:`~analysis.corrections.ConflictError`
listing the rows; ``keep`` keeps the stored values; ``replace`` writes the file's
values and the old ones to ``audit``); anything else is added. A row written
without a clock time is already there when its day holds a stored row with the
same values (and a timed row when its day holds such a row without a time); with
other values it is added beside it, never merged. Two timed rows on the same day
stay two rows (morning and evening sessions); a row timed 00:00 is a timed row.
:meth:`Store.compare_upload` gives the same comparison without writing (the
preview). A transaction that meets "database is locked" (SQLite) or a
serialisation failure or deadlock (PostgreSQL) is retried.

Schema version and upgrades
---------------------------
``rehabtrack_meta.schema_version`` is :data:`SCHEMA_VERSION` for a store made by
this release. :meth:`Store.open` upgrades an older store in one transaction and
refuses a newer one. To change the schema in a later release:

1. change :mod:`analysis.schema` (or the tables here) and bump :data:`SCHEMA_VERSION`;
2. register ``UPGRADES[old] = step`` where ``step(connection)`` alters an
   existing store from ``old`` to ``old + 1`` (e.g. ``ALTER TABLE pain ADD
   COLUMN ...`` through ``sqlalchemy``), so that a store from this release opens
   in the next one; brand-new tables need no step (they are created);
3. test it by opening a store written at ``old``.

Backup
------
:meth:`Store.export_store` writes every table (canonical, ``uploads``,
``rejected_rows``, ``rehabtrack_meta``) as CSV or Parquet plus ``manifest.json``
(schema version, row counts, SHA-256 of each file) and the kept originals;
:meth:`Store.import_store` reads such a directory back into an empty store,
identical table for table. Backup CSVs hold the data exactly as stored (no
formula neutralisation): they are for ``rehabtrack import``, not for a spreadsheet.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import random
import re
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine.processors import int_to_boolean as _int_to_boolean
from sqlalchemy.engine.processors import str_to_date as _str_to_date
from sqlalchemy.engine.processors import str_to_datetime as _str_to_datetime

from analysis.corrections import (
    ON_CONFLICT,
    Comparison,
    ConflictError,
    compare_rows,
    difference_lines,
    provided_columns,
    value_columns,
)
from analysis.entries import EntryError
from analysis.errors import RehabtrackError
from analysis.importers.fhir import FhirMapping
from analysis.limits import MAX_UPLOAD_MB_ENV, MAX_UPLOAD_ROWS_ENV, UploadLimits, UploadTooLargeError, reading_limits
from analysis.paths import DATA_DIR_ENV, data_dir
from analysis.private_files import make_private, make_private_dir, open_private, secret_key, write_private
from analysis.programmes import (
    ProgrammeEdit,
    ProgrammeError,
    Template,
    edit_prescriptions,
    template_from_dict,
    template_to_dict,
)
from analysis.sample_data import SAMPLE_DIR, SNAPSHOT_DATE, sample_shift_days, shift_sample_csv
from analysis.schema import TABLES, CohortTables, ColumnSpec, TableSpec, conform
from analysis.tables import IngestResult
from analysis.timeline import DateLike, to_day
from analysis.timeline import today as timeline_today
from analysis.validation import DUPLICATE, timed_key, validate_frame

__all__ = [
    "SCHEMA_VERSION",
    "DATA_DIR_ENV",
    "DATABASE_URL_ENV",
    "DB_FILE_NAME",
    "SYSTEM_USER",
    "UPGRADES",
    "metadata",
    "CANONICAL",
    "UPLOADS",
    "REJECTED_ROWS",
    "META",
    "MAX_UPLOAD_MB_ENV",
    "MAX_UPLOAD_ROWS_ENV",
    "UploadLimits",
    "UploadReport",
    "MARKERS",
    "ConflictError",
    "StoreError",
    "StoreVersionError",
    "UploadTooLargeError",
    "PatientLookup",
    "WriteCheck",
    "PatientCheck",
    "Store",
    "BACKUP_KEY_ENV",
    "BACKUP_KEY_FILE",
    "backup_key",
    "data_dir",
    "safe_filename",
]

logger = logging.getLogger(__name__)

#: Schema version written by this release.
SCHEMA_VERSION = 4  # 2: audit (issue 9); patient_profiles, custom_exercises, custom_templates (issue 10)
# 3 (issue 16): time_written and fold beside every timed row (fold in the primary key), uploads.rows_changed and
# uploads.rows_replaced
# 4 (issue 20): expected_models (the fitted expected-course models) and clinic_options (admin switches);
# questionnaires_not_done (issue 18); new tables only, made by Store.open
#: Environment variable with a SQLAlchemy URL or a SQLite file path (default the file in the data directory).
DATABASE_URL_ENV = "REHABTRACK_DATABASE_URL"
#: The embedded store's file name inside the data directory.
DB_FILE_NAME = "rehabtrack.sqlite"
#: The store's own account name: :meth:`Store.load_sample` uploads the sample cohort as it.
SYSTEM_USER = "system"

_SQLITE_BUSY_TIMEOUT_S = 30.0
_RETRIES = 8
_PG_LOCK_KEY = 0x52454841  # "REHA": one advisory lock serialises the writers of a store
_INSERT_CHUNK = 5000
_IN_CHUNK = 900  # ids per IN (...) list
_FETCH_BATCH = 10_000  # rows per fetchmany of the read path
_ORIGINALS = "uploads"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_NO_ORIGINAL = ("app", "form")  # uploads rows of entries made in the app: no file was uploaded

#: ``UPGRADES[v](connection)`` turns a store at schema version ``v`` into ``v + 1`` (see the module docstring).
UPGRADES: dict[int, Callable[[sa.Connection], None]] = {}


class StoreError(RehabtrackError):
    """The store cannot do what was asked (not empty for an import, a damaged export, ...)."""


class StoreVersionError(StoreError):
    """The store was written by a newer rehabtrack, or no upgrade step exists for its version."""


_default_data_dir = data_dir  # Store.open has a parameter of the same name


def safe_filename(name: str | None) -> str:
    r"""The name an upload is recorded under: its last path component, printable, at most 200 characters.

    ``"../../etc/passwd"`` becomes ``"passwd"``, ``"C:\logs\x.csv"`` ``"x.csv"``; an empty result is
    ``"upload"``. The name is only ever stored as text and used for its extension, never as a path.
    """
    base = re.split(r"[\\/]", str(name or ""))[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    if base in ("", ".", ".."):
        base = "upload"
    return base[:200]


# --------------------------------------------------------------------------------------
# tables, generated from analysis.schema

metadata = sa.MetaData()

META = sa.Table(
    "rehabtrack_meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

UPLOADS = sa.Table(
    "uploads", metadata,
    sa.Column("upload_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uploaded_by", sa.String(64), nullable=False),
    sa.Column("uploaded_at", sa.DateTime, nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False, index=True),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("table_name", sa.String(32), nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("patient_id", sa.Text, nullable=True),
    sa.Column("rows_in_file", sa.BigInteger, nullable=False),
    sa.Column("rows_added", sa.BigInteger, nullable=False),
    sa.Column("rows_already_there", sa.BigInteger, nullable=False),
    sa.Column("rows_duplicate_in_file", sa.BigInteger, nullable=False),
    sa.Column("rows_rejected", sa.BigInteger, nullable=False),
    sa.Column("duplicate_of", sa.Integer, sa.ForeignKey("uploads.upload_id"), nullable=True),
    sa.Column("rows_changed", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.Column("rows_replaced", sa.BigInteger, nullable=False, server_default=sa.text("0")),
)

REJECTED_ROWS = sa.Table(
    "rejected_rows", metadata,
    sa.Column("upload_id", sa.Integer, sa.ForeignKey("uploads.upload_id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("row_number", sa.BigInteger, nullable=False),
    sa.Column("column_name", sa.Text, nullable=True),
    sa.Column("value", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
)


def _sql_type(col: ColumnSpec) -> sa.types.TypeEngine[Any]:
    if col.is_datetime:
        return sa.Date() if col.date_only else sa.DateTime()
    types: dict[str, sa.types.TypeEngine[Any]] = {
        "string": sa.Text(), "Int64": sa.BigInteger(), "float64": sa.Double(), "boolean": sa.Boolean(),
    }
    return types[col.dtype]


def _canonical_table(spec: TableSpec) -> sa.Table:
    columns = [sa.Column(c.name, _sql_type(c), nullable=not c.required) for c in spec.columns]
    extra: list[Any] = [sa.Column("upload_id", sa.Integer, sa.ForeignKey("uploads.upload_id"), nullable=False)]
    key = list(spec.key)
    if timed_key(spec) is not None:  # see MARKERS
        extra += [sa.Column("time_written", sa.Boolean, nullable=False),
                  sa.Column("fold", sa.SmallInteger, nullable=False, server_default=sa.text("0"))]
        key.append("fold")
    if spec.name == "patients":
        extra.append(sa.Index("ix_patients_physio_id", "physio_id"))
    return sa.Table(spec.name, metadata, *columns, *extra, sa.PrimaryKeyConstraint(*key))


#: Columns kept beside every row of a table with a timed key (sessions, pain, proms), never part of the
#: canonical tables the analysis reads: ``time_written`` (False: the file gave a date without a clock time, the
#: row is "that day" and stored at midnight; a row timed 00:00 is True) and ``fold`` (1 for the second of two
#: instants with the same wall-clock time in the hour repeated when the clocks go back; part of the primary key).
MARKERS: tuple[str, ...] = ("time_written", "fold")


#: The canonical tables by name, generated from :data:`analysis.schema.TABLES`.
CANONICAL: dict[str, sa.Table] = {name: _canonical_table(spec) for name, spec in TABLES.items()}
# Insertion order (foreign keys first) for imports and exports.
_ALL_TABLES: tuple[sa.Table, ...] = (META, UPLOADS, REJECTED_ROWS, *CANONICAL.values())


# --------------------------------------------------------------------------------------
# --- programmes and patients (issue 10): tables kept beside the canonical ones
#
# ``patient_profiles``: what the app knows about a patient that is NOT analysis data (an optional display
# name the physio types, whether the patient is archived); never joined into the canonical tables, never
# exported to researchers. ``custom_exercises`` and ``custom_templates``: a physio's own exercises and
# programme templates (the template as JSON, see :func:`analysis.programmes.template_to_dict`).

PATIENT_PROFILES = sa.Table(
    "patient_profiles", metadata,
    sa.Column("patient_id", sa.Text, primary_key=True),
    sa.Column("physio_id", sa.Text, nullable=False),
    sa.Column("display_name", sa.Text, nullable=True),
    sa.Column("archived", sa.Boolean, nullable=False, default=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("archived_at", sa.DateTime, nullable=True),
)

CUSTOM_EXERCISES = sa.Table(
    "custom_exercises", metadata,
    sa.Column("owner", sa.String(64), primary_key=True),
    sa.Column("exercise", sa.Text, primary_key=True),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("sided", sa.Boolean, nullable=False),
    sa.Column("instruction", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

CUSTOM_TEMPLATES = sa.Table(
    "custom_templates", metadata,
    sa.Column("owner", sa.String(64), primary_key=True),
    sa.Column("template_key", sa.String(64), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

# ``questionnaires_not_done``: a questionnaire time point a physio marked as not done (the patient declined,
# could not, ...): the Questionnaires due page stops asking for it (issue 18). Not analysis data.
QUESTIONNAIRES_NOT_DONE = sa.Table(
    "questionnaires_not_done", metadata,
    sa.Column("patient_id", sa.Text, primary_key=True),
    sa.Column("instrument", sa.String(16), primary_key=True),
    sa.Column("timepoint_week", sa.Integer, primary_key=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("marked_by", sa.String(64), nullable=False),
    sa.Column("marked_at", sa.DateTime, nullable=False),
)

_ALL_TABLES = (*_ALL_TABLES, PATIENT_PROFILES, CUSTOM_EXERCISES, CUSTOM_TEMPLATES, QUESTIONNAIRES_NOT_DONE)


# Schema 1 -> 2 adds only new tables (these and issue 9's ``audit``), which ``create_all`` in
# :meth:`Store.open` makes; the no-op step UPGRADES[1] is registered with ``audit`` below.
__all__ += ["PATIENT_PROFILES", "CUSTOM_EXERCISES", "CUSTOM_TEMPLATES", "QUESTIONNAIRES_NOT_DONE"]


def _kind(col: sa.Column[Any]) -> str:
    """The pandas dtype a SQL column reads back as."""
    t = col.type
    if isinstance(t, sa.Boolean):
        return "boolean"
    if isinstance(t, sa.DateTime):
        return "datetime"
    if isinstance(t, sa.Date):
        return "date"
    if isinstance(t, sa.Integer):
        return "Int64"
    if isinstance(t, sa.Float):
        return "float64"
    return "string"


def _series(values: Sequence[Any], kind: str, name: str) -> pd.Series:
    if kind in ("datetime", "date"):
        return pd.Series(pd.to_datetime(pd.Series(values, dtype=object)), name=name).astype("datetime64[ns]")
    if kind == "float64":
        return pd.Series(np.array(values, dtype=float), name=name)
    return pd.Series(pd.array(list(values), dtype=kind), name=name)


def _frame(rows: Sequence[Sequence[Any]], columns: Sequence[sa.Column[Any]]) -> pd.DataFrame:
    data = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    return pd.DataFrame({c.name: _series(v, _kind(c), c.name) for c, v in zip(columns, data, strict=True)})


# The canonical read path (:meth:`Store.read_table`, :meth:`Store.read_cohort`) fetches through the DBAPI
# cursor of the transaction's connection and converts whole columns at once: SQLAlchemy's per-value result
# processing (``datetime.fromisoformat`` on every SQLite timestamp) and building the frame from Python rows
# dominated reading a caseload. The values are exactly those of ``_frame(conn.execute(stmt).all(), columns)``:
# a column whose result processor is not one handled here, or whose values are not in the form SQLAlchemy
# writes, goes through that processor value by value and :func:`_series`, as before.

#: SQLAlchemy's SQLite storage of ``DateTime`` ("YYYY-MM-DD HH:MM:SS.ffffff") and ``Date`` ("YYYY-MM-DD"):
#: the positions of the separators; every other character is a digit.
_ISO_SEPARATORS: dict[int, dict[int, str]] = {
    26: {4: "-", 7: "-", 10: " ", 13: ":", 16: ":", 19: "."},
    10: {4: "-", 7: "-"},
}
_NS_PER_DAY = 86_400 * 10**9


def _parse_stored_timestamps(strings: np.ndarray, width: int) -> np.ndarray | None:
    """``datetime64[ns]`` of SQLite timestamp texts, or ``None`` unless every one is exactly as SQLAlchemy writes it.

    Gives the value ``datetime.fromisoformat`` (SQLAlchemy's result processor) then ``pd.to_datetime`` give
    for every string of ``width`` characters with digits and separators in place and a valid calendar date
    and clock time between the years 1678 and 2261 (inside ``datetime64[ns]``); anything else (another
    length, a non-ASCII or non-text value, 24:00, a leap second, 31 June) returns ``None`` so the caller
    takes the value-by-value path, which gives or raises exactly what it always did.
    """
    n = len(strings)
    try:
        lengths = np.fromiter(map(len, strings), dtype=np.int64, count=n)
        if not (lengths == width).all():
            return None
        raw = "".join(strings).encode("ascii")
    except (TypeError, UnicodeEncodeError):
        return None
    chars = np.frombuffer(raw, dtype=np.uint8).reshape(n, width)
    separators = _ISO_SEPARATORS[width]
    digit_pos = [i for i in range(width) if i not in separators]
    digits = chars[:, digit_pos] - np.uint8(ord("0"))  # a non-digit wraps round to >= 10
    if (digits >= 10).any() or any((chars[:, i] != ord(c)).any() for i, c in separators.items()):
        return None
    d = digits.astype(np.int64)

    def field(first: int, count: int) -> np.ndarray:  # digits d[:, first:first+count] as one number
        return d[:, first:first + count] @ (10 ** np.arange(count - 1, -1, -1, dtype=np.int64))

    year, month, day = field(0, 4), field(4, 2), field(6, 2)
    if not ((year >= 1678) & (year <= 2261) & (month >= 1) & (month <= 12) & (day >= 1)).all():
        return None
    month_start = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    days_in_month = ((month_start + 1).astype("datetime64[D]") - month_start.astype("datetime64[D]")).astype(np.int64)
    if not (day <= days_in_month).all():
        return None
    ns = (month_start.astype("datetime64[D]").astype(np.int64) + day - 1) * _NS_PER_DAY
    if width > 10:
        hour, minute, second, micro = field(8, 2), field(10, 2), field(12, 2), field(14, 6)
        if not ((hour <= 23) & (minute <= 59) & (second <= 59)).all():
            return None
        ns += ((hour * 60 + minute) * 60 + second) * 10**9 + micro * 1000
    return ns.view("datetime64[ns]")


def _nulls(values: list[Any]) -> np.ndarray:
    """Where a column of DBAPI values is ``None`` (SQL NULL)."""
    return np.asarray(np.array(values, dtype=object) == None, dtype=bool)  # noqa: E711 - elementwise


def _int64_array(values: list[Any]) -> pd.arrays.IntegerArray | None:
    """``Int64`` of a column of Python ints and ``None``, or ``None`` when any value is something else."""
    n_null = values.count(None)
    if n_null == len(values):
        return pd.arrays.IntegerArray(np.zeros(len(values), dtype=np.int64), np.ones(len(values), dtype=bool))
    is_null = _nulls(values) if n_null else np.zeros(len(values), dtype=bool)
    present = np.array([v for v in values if v is not None] if n_null else values)
    if present.dtype != np.int64:  # floats, texts, ints beyond 64 bits: as pandas always did
        return None
    if not n_null:
        return pd.arrays.IntegerArray(present, is_null)
    data = np.zeros(len(values), dtype=np.int64)
    data[~is_null] = present
    return pd.arrays.IntegerArray(data, is_null)


def _raw_series(values: list[Any], kind: str, name: str, process: Callable[[Any], Any] | None) -> pd.Series:
    """One column of DBAPI values as :func:`_series` gives it after SQLAlchemy's result processor ``process``.

    Whole-column conversions where they give exactly that: texts, floats and ints (no processor), booleans
    (SQLite's ``int_to_boolean`` is truthiness), SQLite timestamps in SQLAlchemy's storage format (each
    distinct text parsed once, see :func:`_parse_stored_timestamps`); otherwise ``process`` value by value,
    then :func:`_series`.
    """
    if process is None and kind == "string" and values.count(None) == len(values):
        return pd.Series(pd.arrays.StringArray(np.full(len(values), pd.NA, dtype=object)), name=name)
    if process is None and kind in ("string", "float64"):
        return _series(values, kind, name)  # already whole-column
    if process is None and kind == "Int64":
        ints = _int64_array(values)
        if ints is not None:
            return pd.Series(ints, name=name)
    elif kind == "boolean" and process in (None, _int_to_boolean):
        arr = np.array(values, dtype=object)
        is_null = np.asarray(arr == None, dtype=bool)  # noqa: E711 - elementwise on an object array
        data = np.zeros(len(arr), dtype=bool)
        data[~is_null] = arr[~is_null].astype(bool)
        return pd.Series(pd.arrays.BooleanArray(data, is_null), name=name)
    elif (kind, process) in (("datetime", _str_to_datetime), ("date", _str_to_date)):
        codes, distinct = pd.factorize(np.array(values, dtype=object))  # None -> code -1
        parsed = _parse_stored_timestamps(np.asarray(distinct, dtype=object), 26 if kind == "datetime" else 10)
        if parsed is not None:
            out = np.append(parsed, np.datetime64("NaT", "ns"))[codes]  # code -1: the NaT at the end
            return pd.Series(out, name=name)
    if process is not None:
        values = [process(v) for v in values]
    return _series(values, kind, name)


def _fetch_frame(conn: sa.Connection, stmts: Sequence[sa.Select[Any]],
                 columns: Sequence[sa.Column[Any]]) -> pd.DataFrame:
    """The rows of ``stmts`` (one after the other) as :func:`_frame` builds them from ``conn.execute(stmt).all()``.

    The statements run on the DBAPI cursor of ``conn``'s connection, so inside its transaction; they bind
    only text values (IDs), which need no bind processing.
    """
    dialect = conn.dialect
    values: list[list[Any]] = [[] for _ in columns]  # column by column: the row tuples are freed batch by batch
    getters = [itemgetter(i) for i in range(len(columns))]
    type_codes: list[Any] = [None] * len(columns)
    cursor = conn.connection.cursor()
    try:
        for stmt in stmts:
            compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
            params: Any = compiled.construct_params()
            if compiled.positional:
                params = tuple(params[k] for k in compiled.positiontup or ())
            cursor.execute(str(compiled), params)
            type_codes = [d[1] for d in cursor.description]
            while batch := cursor.fetchmany(_FETCH_BATCH):
                for column, get in zip(values, getters, strict=True):
                    column.extend(map(get, batch))
    finally:
        cursor.close()
    if not values[0]:
        return _frame([], columns)
    data = {}
    for i, c in enumerate(columns):
        process = c.type.dialect_impl(dialect).result_processor(dialect, type_codes[i])
        data[c.name] = _raw_series(values[i], _kind(c), c.name, process)
        values[i] = []
    return pd.DataFrame(data, copy=False)


def _records(frame: pd.DataFrame, table: sa.Table) -> list[dict[str, Any]]:
    """Plain Python values (None for missing, datetime/date, int, float, bool, str) for DBAPI drivers."""
    names, arrays = [], []
    for col in table.c:
        if col.name not in frame.columns:
            continue
        s = frame[col.name]
        kind = _kind(col)
        if kind == "datetime":
            values = s.to_numpy(dtype="datetime64[us]").astype(object)
        elif kind == "date":
            values = s.to_numpy(dtype="datetime64[D]").astype(object)
        elif kind == "float64":
            arr = s.to_numpy(dtype=float, na_value=np.nan)
            values = arr.astype(object)
            values[np.isnan(arr)] = None
        elif kind == "string":
            values = s.astype("string").to_numpy(dtype=object, na_value=None)
            values[values == ""] = None  # an empty text is stored as NULL
        else:
            values = s.astype(kind).to_numpy(dtype=object, na_value=None)
        names.append(col.name)
        arrays.append(values)
    return [dict(zip(names, row, strict=True)) for row in zip(*arrays, strict=True)]


def _new_id(result: sa.CursorResult[Any]) -> int:
    """The primary key of the row an ``INSERT`` just added (the ``uploads`` rows' ``upload_id``)."""
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every insert here has an autoincrement key
        raise StoreError("the database did not return the new row's key")
    return int(key[0])


def _insert_chunk(conn: sa.Connection, table: sa.Table, records: list[dict[str, Any]]) -> None:
    """Insert one batch of rows (a seam the tests use to inject a failure mid-transaction)."""
    conn.execute(table.insert(), records)


def _insert_frame(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> int:
    records = _records(frame, table)
    for start in range(0, len(records), _INSERT_CHUNK):
        _insert_chunk(conn, table, records[start:start + _INSERT_CHUNK])
    return len(records)


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    values = list(values)
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start:start + _IN_CHUNK]


# --------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class UploadReport:
    """What one upload did to the store.

    Attributes
    ----------
    upload_id
        Row of ``uploads`` recording it.
    filename
        The name it is recorded under (:func:`safe_filename`).
    table, format
        Canonical table and file format (``csv``, ``xlsx``, ``json``).
    content_sha256
        SHA-256 of the bytes (hex).
    rows_in_file
        Data rows in the file.
    rows_added
        Rows written to the table.
    rows_already_there
        Valid rows already stored with the same values (an earlier upload had them).
    rows_duplicate_in_file
        Rows repeating an earlier row of the same file.
    rows_rejected
        Rows with at least one problem (see ``rejected``).
    rejected
        ``row`` (row number in the file, header = 1), ``column``, ``value``, ``reason``.
    warnings
        From the ingestion (header mapping, ambiguous dates, unknown exercises...).
    duplicate_of
        The first earlier upload of identical bytes for the same table and patient, if any.
    rows_changed
        Valid rows whose key was stored with other values (corrections), kept or replaced as chosen.
    rows_replaced
        Of those, the rows whose stored values were replaced (old values in the ``audit`` table);
        0 when the choice was ``keep``.
    on_conflict
        The choice for the changed rows: ``"keep"``, ``"replace"`` or ``"fail"``.
    differences
        The values that differed, old and new (:attr:`analysis.corrections.Comparison.differences`).

    Notes
    -----
    ``rows_in_file = rows_added + rows_already_there + rows_changed + rows_duplicate_in_file + rows_rejected``.
    """

    upload_id: int
    filename: str
    table: str
    format: str
    content_sha256: str
    rows_in_file: int
    rows_added: int
    rows_already_there: int
    rows_duplicate_in_file: int
    rows_rejected: int
    rejected: pd.DataFrame = field(repr=False)
    warnings: tuple[str, ...] = ()
    duplicate_of: int | None = None
    rows_changed: int = 0
    rows_replaced: int = 0
    on_conflict: str = "fail"
    differences: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def summary(self) -> str:
        """Two or more lines a person can read: counts first, then what differed, then why rows were rejected."""
        changed = ""
        if self.rows_changed:
            what = ("replaced by the file's values (the old ones are in the audit table)" if self.rows_replaced
                    else "kept as stored")
            verb = "differs" if self.rows_changed == 1 else "differ"
            changed = f" {self.rows_changed} {verb} from what was stored: {what},"
        lines = [
            f"{self.filename} ({self.table}, {self.format}): {self.rows_in_file} rows: {self.rows_added} added, "
            f"{self.rows_already_there} already there,{changed} {self.rows_duplicate_in_file} repeated in the file, "
            f"{self.rows_rejected} rejected."
        ]
        if self.duplicate_of is not None:
            lines.append(f"The same file was uploaded before (upload {self.duplicate_of}); nothing was added twice.")
        if self.rows_changed and len(self.differences):
            lines.append("Rows that differ (stored -> in the file):")
            lines.extend(difference_lines(self.differences))
        for rec in self.rejected.head(20).itertuples(index=False):
            where = f"row {rec.row}" + (f", {rec.column}" if rec.column else "")
            lines.append(f"  {where}: {rec.reason}")
        if len(self.rejected) > 20:
            lines.append(f"  ... and {len(self.rejected) - 20} more problems")
        lines.extend(f"  - {w}" for w in self.warnings)
        return "\n".join(lines)


# --------------------------------------------------------------------------------------
# checks before a write (the access facade's role checks run here, inside the transaction)


class PatientLookup:
    """Who is registered to whom, read inside a write transaction (for the check before the write).

    The store does not decide who may write what; a caller that must (the
    access facade, :mod:`analysis.access`) passes a :data:`WriteCheck`, which
    the store calls inside the write transaction, before writing, with the rows
    and this lookup. A check that raises rolls the transaction back: nothing is
    written, and the registry it read cannot change before the write.

    Parameters
    ----------
    conn
        The write transaction's connection.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def caseload(self, physio_id: str) -> list[str]:
        """Patient IDs registered to ``physio_id``."""
        patients = CANONICAL["patients"]
        return [str(p) for p in self._conn.execute(
            sa.select(patients.c.patient_id).where(patients.c.physio_id == physio_id)).scalars().all()]

    def registered(self, ids: Sequence[str]) -> list[str]:
        """Those of ``ids`` registered to any physio."""
        patients = CANONICAL["patients"]
        found: list[str] = []
        for chunk in _chunks(ids):
            found += [str(p) for p in self._conn.execute(
                sa.select(patients.c.patient_id).where(patients.c.patient_id.in_(chunk))).scalars().all()]
        return found

    def physio_of(self, patient_id: str) -> str | None:
        """The physio ``patient_id`` is registered to, ``None`` when not registered."""
        patients = CANONICAL["patients"]
        physio = self._conn.scalar(sa.select(patients.c.physio_id).where(patients.c.patient_id == str(patient_id)))
        return None if physio is None else str(physio)


#: ``check(table, rows, lookup)``: called inside the write transaction before the rows of ``table`` are
#: written; raises (e.g. :class:`analysis.roles.AccessDenied`) to refuse the write.
WriteCheck = Callable[[str, pd.DataFrame, PatientLookup], None]
#: ``check(patient_id, physio_id)``: called inside the write transaction with the physio the patient is
#: registered to (``None`` when not registered) before their programme or profile is changed; raises to refuse.
PatientCheck = Callable[[str, str | None], None]


# --------------------------------------------------------------------------------------
# the store


def _is_transient(exc: sa.exc.DBAPIError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in ("40001", "40P01"):
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def _make_engine(url: sa.URL) -> sa.Engine:
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_S})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(_SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            # A writer takes the write lock at BEGIN, so its reads and writes see one state of the file.
            write = conn.get_execution_options().get("rehabtrack_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(url, pool_pre_ping=True)


def _resolve_url(url_or_path: str | os.PathLike[str] | sa.URL | None, folder: Path) -> sa.URL:
    if url_or_path is None:
        url_or_path = os.environ.get(DATABASE_URL_ENV) or folder / DB_FILE_NAME
    if isinstance(url_or_path, sa.URL):
        return url_or_path
    text = os.fspath(url_or_path)
    if "://" in text:
        return sa.make_url(text)
    path = Path(text).expanduser().resolve()
    make_private_dir(path.parent)
    return sa.URL.create("sqlite", database=str(path))


def _private_sqlite_file(url: sa.URL) -> Path | None:
    """Create an embedded store's file with mode 0600 before SQLite does (its WAL and SHM files copy the mode)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or str(url.database).startswith(
            "file:"):
        return None
    path = Path(str(url.database))
    make_private_dir(path.parent)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    return path


class Store:
    """A rehabtrack store: the canonical tables, uploads and rejected rows behind one SQLAlchemy engine.

    Open it with :meth:`Store.open`. One object may be shared by threads (the
    engine pools connections). Pages and commands read data only through
    :func:`analysis.access.cohort_for`; the ``read_*`` methods here are unfiltered.

    Attributes
    ----------
    engine
        The SQLAlchemy engine.
    data_dir
        Directory for the kept originals, the pseudonym key and the users file.
    limits
        Upload limits.
    """

    def __init__(self, engine: sa.Engine, data_dir: Path, limits: UploadLimits) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self.limits = limits
        self._pg = engine.dialect.name == "postgresql"

    # ---- opening ----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        url_or_path: str | os.PathLike[str] | sa.URL | None = None,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        limits: UploadLimits | None = None,
    ) -> Store:
        """Open (creating or upgrading if needed) a store.

        Parameters
        ----------
        url_or_path
            A SQLAlchemy URL (``postgresql+psycopg://user:pw@host/db``,
            ``sqlite:///path``) or a SQLite file path; default
            ``REHABTRACK_DATABASE_URL``, else ``<data dir>/rehabtrack.sqlite``.
        data_dir
            Data directory; default :func:`data_dir`. Created if missing.
        limits
            Upload limits; default :meth:`UploadLimits.from_env`.

        Returns
        -------
        Store
            Ready for use, at :data:`SCHEMA_VERSION`.

        Raises
        ------
        StoreVersionError
            If the store was written by a newer release.
        """
        folder = Path(data_dir).expanduser().resolve() if data_dir is not None else _default_data_dir()
        make_private_dir(folder)  # 0700 when created here: health data, whatever the umask
        url = _resolve_url(url_or_path, folder)
        db_file = _private_sqlite_file(url)
        engine = _make_engine(url)
        store = cls(engine, folder, limits or UploadLimits.from_env())
        try:
            store._retry(store._initialise)
        except BaseException:
            engine.dispose()
            raise
        if db_file is not None:  # a store made by an earlier release may be 0644: its files are ours
            for path in (db_file, db_file.with_name(db_file.name + "-wal"), db_file.with_name(db_file.name + "-shm")):
                make_private(path)
        store.report_missing_originals()
        return store

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def _initialise(self) -> None:
        if self.engine.dialect.name == "sqlite":
            raw = self.engine.raw_connection()
            try:
                cur = raw.cursor()
                try:
                    if str(cur.execute("PRAGMA journal_mode").fetchall()[0][0]).lower() != "wal":
                        cur.execute("PRAGMA journal_mode = WAL").fetchall()  # persistent in the file
                finally:
                    cur.close()
            finally:
                raw.close()
        with self._write() as conn:
            if not sa.inspect(conn).has_table(META.name):
                metadata.create_all(conn)
                conn.execute(META.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
                logger.info("created a new rehabtrack store (schema %d) at %s", SCHEMA_VERSION, self.url)
                return
            found = int(conn.scalar(sa.select(META.c.value).where(META.c.key == "schema_version")) or 0)
            if found > SCHEMA_VERSION:
                raise StoreVersionError(
                    f"the store at {self.url} has schema version {found}, written by a newer rehabtrack than this "
                    f"one (schema {SCHEMA_VERSION}); upgrade rehabtrack to open it.")
            for version in range(found, SCHEMA_VERSION):
                step = UPGRADES.get(version)
                if step is None:
                    raise StoreVersionError(f"no upgrade step from schema version {version}; restore the store "
                                            "from an export made by the same release")
                step(conn)
                logger.info("upgraded the store from schema %d to %d", version, version + 1)
            metadata.create_all(conn)  # tables new in this release (checkfirst)
            if found != SCHEMA_VERSION:
                conn.execute(META.update().where(META.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))

    # ---- transactions -----------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """One write transaction, serialised with every other writer of the store."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(rehabtrack_write=True)
            with conn.begin():
                if self._pg:
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
                yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        """One read transaction: every statement sees the same state of the store."""
        with self.engine.connect() as conn:
            if self._pg:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def _retry(self, work: Callable[[], Any]) -> Any:
        delay = 0.05
        for attempt in range(1, _RETRIES + 1):
            try:
                return work()
            except sa.exc.DBAPIError as exc:
                if attempt == _RETRIES or not _is_transient(exc):
                    raise
                logger.info("store busy (%s); retrying (attempt %d)", exc.orig, attempt)
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- reading (unfiltered: use analysis.access.cohort_for) ---------------------------

    def schema_version(self) -> int:
        """The schema version recorded in the store."""
        with self._read() as conn:
            value = conn.scalar(sa.select(META.c.value).where(META.c.key == "schema_version"))
        if value is None:  # pragma: no cover - Store.open writes it
            raise StoreError(f"the store at {self.url} records no schema version")
        return int(value)

    def counts(self) -> dict[str, int]:
        """Number of rows of every table (canonical, ``uploads``, ``rejected_rows``)."""
        with self._read() as conn:
            return {t.name: int(conn.scalar(sa.select(sa.func.count()).select_from(t)) or 0)
                    for t in (UPLOADS, REJECTED_ROWS, *CANONICAL.values())}

    def caseload(self, physio_id: str) -> list[str]:
        """Patient IDs registered to ``physio_id``, sorted."""
        patients = CANONICAL["patients"]
        with self._read() as conn:
            rows = conn.execute(sa.select(patients.c.patient_id).where(patients.c.physio_id == physio_id)
                                .order_by(patients.c.patient_id)).scalars().all()
        return [str(r) for r in rows]

    def _select_canonical(self, conn: sa.Connection, name: str, patient_ids: Sequence[str] | None,
                          physio_id: str | None, only: Sequence[str] | None = None) -> pd.DataFrame:
        spec = TABLES[name]
        table = CANONICAL[name]
        wanted = set(spec.column_names if only is None else only) | set(spec.key)
        columns = [table.c[c] for c in spec.column_names if c in wanted]
        conditions: list[Any] = []
        if physio_id is not None:
            patients = CANONICAL["patients"]
            conditions.append(table.c.patient_id.in_(
                sa.select(patients.c.patient_id).where(patients.c.physio_id == physio_id)))
        order = [table.c[k] for k in spec.key]
        if patient_ids is None:
            batches: list[list[Any]] = [conditions]
        else:
            batches = [[*conditions, table.c.patient_id.in_(chunk)] for chunk in _chunks(patient_ids)]
        frame = _fetch_frame(conn, [sa.select(*columns).where(*where).order_by(*order) for where in batches], columns)
        if patient_ids is not None and len(batches) > 1:
            frame = frame.sort_values(list(spec.key), kind="stable").reset_index(drop=True)
        return frame

    def read_table(self, name: str, *, patient_ids: Sequence[str] | None = None,
                   physio_id: str | None = None) -> pd.DataFrame:
        """One canonical table, unfiltered unless asked (internal: pages call :func:`analysis.access.cohort_for`).

        Parameters
        ----------
        name
            Canonical table name.
        patient_ids
            Only these patients (``None`` = all; an empty list gives no rows).
        physio_id
            Only patients registered to this physio.

        Returns
        -------
        pandas.DataFrame
            Exactly the columns and dtypes of :mod:`analysis.schema`, sorted by the table's key.
        """
        with self._read() as conn:
            return self._select_canonical(conn, name, patient_ids, physio_id)

    def read_cohort(self, *, patient_ids: Sequence[str] | None = None, physio_id: str | None = None,
                    columns: Mapping[str, Sequence[str]] | None = None) -> CohortTables:
        """The five canonical tables, read in one transaction (internal: see :meth:`read_table`).

        ``columns`` names, per table, the only columns to read (the table's key is always read; a
        table not named is read whole), e.g. :data:`analysis.cohort.SUMMARY_INPUTS`: a column left
        out is absent from the frame, not empty.
        """
        only = columns or {}
        with self._read() as conn:
            return CohortTables(**{name: self._select_canonical(conn, name, patient_ids, physio_id, only.get(name))
                                   for name in TABLES})

    def uploads(self) -> pd.DataFrame:
        """The ``uploads`` table (audit; for administrators), ordered by ``upload_id``."""
        with self._read() as conn:
            return self._dump(conn, UPLOADS)

    def rejected_rows(self, upload_id: int | None = None) -> pd.DataFrame:
        """The ``rejected_rows`` table, or those of one upload, ordered by upload and ``seq``."""
        with self._read() as conn:
            cols = list(REJECTED_ROWS.c)
            stmt = sa.select(*cols).order_by(REJECTED_ROWS.c.upload_id, REJECTED_ROWS.c.seq)
            if upload_id is not None:
                stmt = stmt.where(REJECTED_ROWS.c.upload_id == upload_id)
            return _frame(conn.execute(stmt).all(), cols)

    @staticmethod
    def _dump(conn: sa.Connection, table: sa.Table) -> pd.DataFrame:
        cols = list(table.c)
        pk = list(table.primary_key.columns)
        return _frame(conn.execute(sa.select(*cols).order_by(*pk)).all(), cols)

    # ---- uploading --------------------------------------------------------------------

    def ingest_upload(
        self,
        uploaded_by: str,
        source_bytes: bytes,
        filename: str | None,
        *,
        table: str | None = None,
        patient_id: str | None = None,
        dayfirst: bool = True,
        today: date | None = None,
        check: WriteCheck | None = None,
        on_conflict: str = "fail",
        timezone: str | None = None,
        fhir_mapping: FhirMapping | None = None,
        people: Mapping[str, str] | None = None,
    ) -> UploadReport:
        """Read an uploaded file and store it, all or nothing (who may upload what: :func:`analysis.access.upload`).

        Parameters
        ----------
        uploaded_by
            The user name recorded in ``uploads.uploaded_by`` (and in the audit of replaced rows).
        source_bytes
            The file's content (a folder of FHIR files: :func:`analysis.importers.fhir.pack_folder`).
        filename
            The name it was sent with (only its last path component is kept,
            see :func:`safe_filename`; it is never used as a path).
        table, patient_id, dayfirst, today, timezone, fhir_mapping, people
            As in :func:`analysis.ingest.ingest_file` (``patient_id`` is imposed
            on every row and recorded in ``uploads.patient_id``).
        check
            Called inside the write transaction with the table read and the
            accepted rows (see :class:`PatientLookup`); raising refuses the upload.
        on_conflict
            What to do with rows whose key is stored with other values
            (:mod:`analysis.corrections`): ``"fail"`` (the default: store nothing,
            raise :class:`~analysis.corrections.ConflictError` listing them),
            ``"keep"`` (keep what is stored) or ``"replace"`` (store the file's
            values; each replaced row goes to the ``audit`` table with who, when,
            old and new values).

        Returns
        -------
        UploadReport
            Counts (added, already there, changed, repeated in the file, rejected),
            the rejected rows with reasons, the values that differed, the warnings.

        Raises
        ------
        UploadTooLargeError
            The file is over :attr:`limits` (bytes or rows); nothing is stored.
        IngestError
            The file cannot be read as a table (see :func:`analysis.ingest.ingest_file`); nothing is stored.
        ConflictError
            Rows differ from what is stored and ``on_conflict`` is ``"fail"``; nothing is stored.
        Exception
            Whatever ``check`` raises; nothing is stored.
        """
        if on_conflict not in ON_CONFLICT:
            raise ValueError(f"on_conflict must be one of {', '.join(ON_CONFLICT)}; got {on_conflict!r}")
        data = bytes(source_bytes)
        name = safe_filename(filename)
        forced = patient_id
        result = self._read_upload(data, name, table=table, patient_id=forced, dayfirst=dayfirst, today=today,
                                   timezone=timezone, fhir_mapping=fhir_mapping, people=people)
        sha = hashlib.sha256(data).hexdigest()
        spec = TABLES[result.table]
        canonical = CANONICAL[result.table]

        def write() -> UploadReport:
            with self._write() as conn:
                if check is not None:
                    check(result.table, result.accepted, PatientLookup(conn))
                comparison = self._compare(conn, result)
                if comparison.n_changed and on_conflict == "fail":
                    raise ConflictError(comparison, source=name)
                duplicate_of = conn.scalar(
                    sa.select(sa.func.min(UPLOADS.c.upload_id)).where(
                        UPLOADS.c.content_sha256 == sha, UPLOADS.c.table_name == result.table,
                        UPLOADS.c.patient_id.is_not_distinct_from(forced)))
                new = comparison.status == "new"
                n_replaced = comparison.n_changed if on_conflict == "replace" else 0
                upload_id = _new_id(conn.execute(UPLOADS.insert().values(
                    uploaded_by=uploaded_by, uploaded_at=datetime.now(UTC).replace(tzinfo=None),
                    filename=name, content_sha256=sha, size_bytes=len(data), table_name=result.table,
                    format=result.format, patient_id=forced, rows_in_file=result.n_rows,
                    rows_added=int(new.sum()), rows_already_there=comparison.n_same,
                    rows_duplicate_in_file=result.n_duplicates, rows_rejected=result.n_rejected,
                    duplicate_of=duplicate_of, rows_changed=comparison.n_changed, rows_replaced=n_replaced,
                )))
                _insert_frame(conn, canonical, _with_markers(spec, result.accepted.loc[new],
                                                             result.row_info.loc[new], upload_id))
                if n_replaced:
                    _replace_changed(conn, spec, canonical, result, comparison, upload_id, uploaded_by)
                if duplicate_of is None and len(result.rejected):
                    rej = result.rejected
                    _insert_frame(conn, REJECTED_ROWS, pd.DataFrame({
                        "upload_id": upload_id, "seq": np.arange(1, len(rej) + 1), "row_number": rej["row"],
                        "column_name": rej["column"], "value": rej["value"], "reason": rej["reason"]}))
            return UploadReport(
                upload_id=int(upload_id), filename=name, table=result.table, format=result.format,
                content_sha256=sha, rows_in_file=result.n_rows, rows_added=int(new.sum()),
                rows_already_there=comparison.n_same, rows_duplicate_in_file=result.n_duplicates,
                rows_rejected=result.n_rejected, rejected=result.rejected,
                warnings=tuple(result.warnings) + tuple(comparison.notes),
                duplicate_of=None if duplicate_of is None else int(duplicate_of),
                rows_changed=comparison.n_changed, rows_replaced=n_replaced, on_conflict=on_conflict,
                differences=comparison.differences)

        report: UploadReport = self._original_first(sha, data, lambda: self._retry(write))
        logger.info("upload %d by %s: %s", report.upload_id, uploaded_by, report.summary().splitlines()[0])
        return report

    def _read_upload(self, data: bytes, name: str, **options: Any) -> IngestResult:
        """Check the size, read the file (:func:`analysis.ingest.ingest_file`), check the rows read."""
        from analysis.ingest import ingest_file

        self.limits.check_bytes(len(data), name)
        with reading_limits(self.limits):  # every reader stops at these limits while it reads
            result = ingest_file(data, filename=name, **options)
        self.limits.check_rows(result.n_rows, name)
        return result

    def compare_upload(self, result: IngestResult, *, check: WriteCheck | None = None) -> Comparison:
        """What storing ``result`` would do to each accepted row: add it, find it already there, or change it.

        Read only (who may see the stored rows: ``check``, as for :meth:`ingest_upload`).

        Parameters
        ----------
        result
            An ingestion result (:func:`analysis.ingest.ingest_file`).
        check
            Called in the read transaction with the table and the accepted rows; raising refuses.

        Returns
        -------
        analysis.corrections.Comparison
            Per accepted row new / same / changed, and old and new values of the changed ones.
        """
        with self._read() as conn:
            if check is not None:
                check(result.table, result.accepted, PatientLookup(conn))
            return self._compare(conn, result)

    def _compare(self, conn: sa.Connection, result: IngestResult) -> Comparison:
        spec = TABLES[result.table]
        stored = _stored_rows(conn, spec, CANONICAL[result.table], result.accepted)
        return compare_rows(spec, result.accepted, result.row_info, stored, incoming_format=result.format,
                            columns=_given_columns(result))

    def _original_first(self, sha: str, data: bytes, commit: Callable[[], Any]) -> Any:
        """Keep the original bytes durably (written and fsynced), and only then run ``commit``.

        A crash between the two leaves an original without rows (harmless: it is named by its hash and
        the next upload of the same bytes uses it), never rows without their original. If the original
        cannot be kept, nothing is stored.
        """
        try:
            self._keep_original(sha, data)
        except OSError as exc:
            raise StoreError(f"the uploaded file could not be kept ({exc.strerror or exc}); nothing was stored. "
                             "Ask the administrator to check the disk of the data directory.") from exc
        return commit()

    def _original_path(self, sha: str) -> Path:
        if not _HEX64.match(sha):
            raise StoreError(f"not a SHA-256 digest: {sha!r}")
        root = (self.data_dir / _ORIGINALS).resolve()
        path = (root / sha[:2] / sha).resolve()
        if root not in path.parents:  # pragma: no cover - a hex digest cannot escape
            raise StoreError("refusing to write outside the data directory")
        return path

    def _keep_original(self, sha: str, data: bytes) -> None:
        """Keep the uploaded bytes under ``<data dir>/uploads/`` (content-addressed, atomic, fsynced, mode 0600).

        An existing file whose content no longer has its name's hash (damaged) is written again.
        """
        path = self._original_path(sha)
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha:
            return
        make_private_dir(path.parent)
        write_private(path, data, durable=True)

    def missing_originals(self) -> pd.DataFrame:
        """Uploads of files whose kept original is missing or no longer has its hash (the startup check).

        Returns
        -------
        pandas.DataFrame
            ``upload_id``, ``uploaded_by``, ``uploaded_at``, ``filename``, ``content_sha256``,
            ``rows_added`` and ``problem`` (``"missing"`` or ``"damaged"``), one row per upload;
            entries made in the app (which have no file) are not listed. Checking a
            file's hash reads it, so only its size is compared here (``"damaged"`` =
            empty file); :meth:`export_store` re-hashes every original it copies.
        """
        cols = [UPLOADS.c.upload_id, UPLOADS.c.uploaded_by, UPLOADS.c.uploaded_at, UPLOADS.c.filename,
                UPLOADS.c.content_sha256, UPLOADS.c.size_bytes, UPLOADS.c.rows_added]
        with self._read() as conn:
            rows = conn.execute(sa.select(*cols).where(UPLOADS.c.format.not_in(_NO_ORIGINAL))
                                .order_by(UPLOADS.c.upload_id)).all()
        out = []
        for row in rows:
            sha = str(row.content_sha256)
            path = self._original_path(sha) if _HEX64.match(sha) else None
            if path is None or not path.is_file():
                out.append((*row[:5], row.rows_added, "missing"))
            elif path.stat().st_size != row.size_bytes:
                out.append((*row[:5], row.rows_added, "damaged"))
        return pd.DataFrame(out, columns=["upload_id", "uploaded_by", "uploaded_at", "filename", "content_sha256",
                                          "rows_added", "problem"])

    def report_missing_originals(self) -> int:
        """Log a warning naming every upload whose kept original is missing (run when the store opens); their number."""
        found = self.missing_originals()
        for rec in found.itertuples(index=False):
            logger.warning("upload %d (%s by %s, %d rows added): the kept original file is %s (%s)", rec.upload_id,
                           rec.filename, rec.uploaded_by, rec.rows_added, rec.problem, rec.content_sha256)
        return len(found)

    def load_sample(self, directory: str | Path | None = None, *, today: DateLike | None = None,
                    if_empty: bool = True, shift: bool = True) -> list[UploadReport]:
        """Seed the store with the sample cohort (the five canonical CSV files of ``data/sample``).

        The sample is a snapshot taken on :data:`analysis.sample_data.SNAPSHOT_DATE`;
        seeded on another day, every date of it moves by whole weeks
        (:func:`analysis.sample_data.sample_shift_days`) so that the demo patients are
        mid-programme on ``today`` and Log today, My progress and the caseload show the
        same days. With ``REHABTRACK_TODAY=2026-11-20`` (the tests) nothing moves.

        Parameters
        ----------
        directory
            Cohort directory; default :data:`analysis.sample_data.SAMPLE_DIR`.
        today
            The day of seeding; default :func:`analysis.timeline.today` (this
            computer's zone, or ``REHABTRACK_TODAY``). Entries after it are refused
            as in the future.
        if_empty
            Do nothing when the store already has an upload (the first-run case).
        shift
            Move the dates towards ``today`` (default); ``False`` loads the files as written
            (then ingested with the later of ``today`` and the snapshot date as "today").

        Returns
        -------
        list of UploadReport
            One per table (none when skipped). Loading twice on the same day adds
            nothing twice: the second time every row is already there.
        """
        if if_empty:
            with self._read() as conn:
                if conn.scalar(sa.select(sa.func.count()).select_from(UPLOADS)):
                    return []
        folder = Path(directory) if directory is not None else SAMPLE_DIR
        when = to_day(today).date() if today is not None else timeline_today()
        days = sample_shift_days(when) if shift else 0
        if not shift:
            when = max(when, SNAPSHOT_DATE)
        if days:
            logger.info("sample cohort moved by %d days (snapshot %s -> %s)", days, SNAPSHOT_DATE,
                        SNAPSHOT_DATE + timedelta(days=days))
        return [self.ingest_upload(SYSTEM_USER, shift_sample_csv(name, (folder / f"{name}.csv").read_bytes(), days),
                                   f"{name}.csv", table=name, today=when) for name in TABLES]

    # ---- what the data are (for caches and the first-run check) ---------------------------------

    def data_version(self) -> tuple[int, int]:
        """``(last upload that added or replaced rows, rows added and replaced by all uploads)``: changes with the data.

        An upload whose rows were all already there (or whose differing rows were
        kept) leaves it unchanged; an upload that replaced rows, or an in-app entry
        or edit, changes it (its ``uploads`` row counts the rows it changed). One
        aggregate query over ``uploads``, about a millisecond on SQLite.

        Returns
        -------
        tuple of int
            ``(0, 0)`` for an empty store.
        """
        with self._read() as conn:
            changed = UPLOADS.c.rows_added + UPLOADS.c.rows_replaced
            last, added = conn.execute(sa.select(sa.func.max(UPLOADS.c.upload_id), sa.func.sum(changed))
                                       .where(changed > 0)).one()
        return int(last or 0), int(added or 0)

    def has_sample(self) -> bool:
        """True when the store holds data seeded by :meth:`load_sample` (uploads by :data:`SYSTEM_USER`)."""
        with self._read() as conn:
            found = conn.scalar(sa.select(sa.func.count()).select_from(UPLOADS)
                                .where(UPLOADS.c.uploaded_by == SYSTEM_USER))
        return bool(found)

    # ---- backup -----------------------------------------------------------------------

    def export_store(self, directory: str | Path, fmt: str = "parquet") -> Path:
        """Write the whole store to a directory that :meth:`import_store` reads back.

        Parameters
        ----------
        directory
            Output directory; must not exist or be empty. Created with mode 0700,
            every file in it 0600.
        fmt
            ``"parquet"`` (default; types kept exactly) or ``"csv"`` (UTF-8,
            ISO timestamps with microseconds, empty cell = NULL).

        Returns
        -------
        pathlib.Path
            The ``manifest.json`` written: format, schema version, export time,
            per table its file, row count and SHA-256, the kept originals (copied
            to ``originals/``, named by their SHA-256, each re-hashed as it is
            copied), the manifest's own checksum and its HMAC-SHA-256 signature
            under the backup key (:func:`backup_key`).
        """
        if fmt not in ("csv", "parquet"):
            raise StoreError(f"unknown export format {fmt!r}: choose csv or parquet")
        out = Path(directory)
        if out.exists() and any(out.iterdir()):
            raise StoreError(f"{out} is not empty; export into a new or empty directory")
        make_private_dir(out)
        with self._read() as conn:
            frames = {t.name: self._dump(conn, t) for t in _ALL_TABLES}
        manifest: dict[str, Any] = {
            "rehabtrack_store_export": 2, "schema_version": SCHEMA_VERSION, "format": fmt,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"), "tables": {},
        }
        for name, frame in frames.items():
            path = out / f"{name}.{fmt}"
            with open_private(path) as fh:
                if fmt == "csv":
                    frame.to_csv(fh, index=False, na_rep="", date_format="%Y-%m-%d %H:%M:%S.%f",
                                 lineterminator="\r\n", encoding="utf-8")  # CRLF: a cell holding CR or LF is quoted
                else:
                    frame.to_parquet(fh, index=False)
            manifest["tables"][name] = {"file": path.name, "rows": len(frame),
                                        "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        originals = []
        for sha in sorted(set(frames[UPLOADS.name]["content_sha256"].dropna())):
            src = self._original_path(sha)
            if not src.is_file():
                continue
            data = src.read_bytes()
            if hashlib.sha256(data).hexdigest() != sha:
                logger.warning("kept original %s no longer has its hash (damaged); not copied to the backup", sha)
                continue
            make_private_dir(out / "originals")
            write_private(out / "originals" / sha, data)
            originals.append(sha)
        manifest["originals"] = originals
        manifest.update(_seal(manifest, backup_key(self.data_dir)))
        target = write_private(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
        logger.info("exported %s to %s", self.url, out)
        return target

    def import_store(self, directory: str | Path, *, key: bytes | None = None,
                     allow_unsigned: bool = False) -> dict[str, int]:
        """Read an export of :meth:`export_store` into this (empty) store, after verifying every file of it.

        Parameters
        ----------
        directory
            The export directory (with ``manifest.json``).
        key
            The backup key of the server that made the export; default this
            store's (:func:`backup_key`: ``REHABTRACK_BACKUP_KEY`` or
            ``<data dir>/backup.key``).
        allow_unsigned
            Accept a manifest without a signature (an export made before
            signatures existed); every other check still applies.

        Returns
        -------
        dict
            Rows imported per table.

        Raises
        ------
        StoreError
            The store is not empty, or the backup does not verify, naming the file:
            ``manifest.json`` changed since the export (its checksum) or not signed
            with ``key``; a table file that does not match its SHA-256 or holds
            another number of rows than the manifest says; a kept original missing
            or no longer hashing to its name. Nothing is written then.
        StoreVersionError
            The export has another schema version.
        """
        folder = Path(directory)
        manifest = _verified_manifest(folder, backup_key(self.data_dir) if key is None else key, allow_unsigned)
        version = int(manifest.get("schema_version", -1))
        if version != SCHEMA_VERSION:
            raise StoreVersionError(
                f"the export in {folder} has schema version {version}, this rehabtrack uses {SCHEMA_VERSION}; "
                "import it with the release that made it, then open the store with this one to upgrade it.")
        frames = {}
        for table in _ALL_TABLES:
            entry = manifest["tables"].get(table.name)
            if entry is None:
                raise StoreError(f"the export in {folder} has no {table.name} table")
            path = folder / Path(str(entry["file"])).name
            if not path.is_file():
                raise StoreError(f"{path} is missing; the backup is incomplete and was not imported")
            if hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
                raise StoreError(f"{path} does not match the checksum in manifest.json; the backup is damaged or "
                                 "edited and was not imported")
            frames[table.name] = _read_export(path, table, manifest["format"])
            if len(frames[table.name]) != int(entry["rows"]):
                raise StoreError(f"{path} holds {len(frames[table.name])} rows but manifest.json says {entry['rows']}; "
                                 "the backup is damaged or edited and was not imported")
        originals: dict[str, bytes] = {}
        for sha in manifest.get("originals", []):
            src = folder / "originals" / Path(str(sha)).name
            if not _HEX64.match(str(sha)) or not src.is_file():
                raise StoreError(f"{src} is listed in manifest.json but missing; the backup is incomplete and was "
                                 "not imported")
            data = src.read_bytes()
            if hashlib.sha256(data).hexdigest() != sha:
                raise StoreError(f"{src} no longer has the SHA-256 it is named by; the backup is damaged or edited "
                                 "and was not imported")
            originals[str(sha)] = data

        def write() -> None:
            with self._write() as conn:
                for table in (UPLOADS, *CANONICAL.values()):
                    if conn.scalar(sa.select(sa.func.count()).select_from(table)):
                        raise StoreError(f"the store at {self.url} is not empty ({table.name} has rows); "
                                         "import into a new store")
                for table in _ALL_TABLES:
                    if table is META:
                        continue  # the target already records the same schema version
                    _insert_frame(conn, table, frames[table.name])
                if self._pg:
                    conn.execute(sa.text(
                        "SELECT setval(pg_get_serial_sequence('uploads', 'upload_id'), "
                        "COALESCE((SELECT MAX(upload_id) FROM uploads), 0) + 1, false)"))
                    conn.execute(sa.text(
                        "SELECT setval(pg_get_serial_sequence('expected_models', 'model_id'), "
                        "COALESCE((SELECT MAX(model_id) FROM expected_models), 0) + 1, false)"))

        def originals_first() -> None:
            for sha, data in originals.items():
                self._keep_original(sha, data)
            self._retry(write)

        originals_first()
        return {name: len(frame) for name, frame in frames.items()}

    # --- programmes and patients (issue 10) ---------------------------------------------
    # Who may do this is checked by the access facade (analysis.access); the methods here only persist.

    @staticmethod
    def _now() -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)

    def _app_upload(self, conn: sa.Connection, by: str, table: str, patient_id: str, what: str,
                    rows_added: int, payload: str) -> int:
        """An ``uploads`` row for data entered in the app (the canonical rows need one; also the audit trail)."""
        data = payload.encode("utf-8")
        return _new_id(conn.execute(UPLOADS.insert().values(
            uploaded_by=by, uploaded_at=self._now(), filename=f"entered in the app: {what}",
            content_sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), table_name=table,
            format="app", patient_id=patient_id, rows_in_file=rows_added, rows_added=rows_added,
            rows_already_there=0, rows_duplicate_in_file=0, rows_rejected=0, duplicate_of=None,
        )))

    @staticmethod
    def _registered_physio(conn: sa.Connection, patient_id: str, check: PatientCheck | None) -> str:
        """The physio ``patient_id`` is registered to, after ``check``; :class:`StoreError` when not registered."""
        physio = PatientLookup(conn).physio_of(patient_id)
        if check is not None:
            check(str(patient_id), physio)
        if physio is None:
            raise StoreError(f"there is no patient {patient_id}; add the patient first")
        return physio

    def add_patient(self, physio_id: str, programme_start: DateLike, display_name: str | None = None, *,
                    created_by: str, age_band: str | None = None, condition_notes: str | None = None) -> str:
        """Register a new patient to a physio, with a generated pseudonymous ID, in one transaction.

        Parameters
        ----------
        physio_id
            The physio the patient belongs to.
        programme_start
            First day of the programme (day 1 of week 1).
        display_name
            Optional name for the physio's eyes; kept in ``patient_profiles`` only,
            never in the analysis tables or exports.
        created_by
            The user name recorded with the patient.
        age_band, condition_notes
            Optional ``patients`` columns.

        Returns
        -------
        str
            The new ``patient_id`` (``P`` + 8 base-32 characters, not used before).
        """
        if not physio_id:
            raise StoreError("choose the physio the patient belongs to")
        start = pd.Timestamp(programme_start).normalize()
        name = (display_name or "").strip() or None

        def write() -> str:
            with self._write() as conn:
                patients = CANONICAL["patients"]
                while True:
                    pid = "P" + base64.b32encode(secrets.token_bytes(5)).decode("ascii")
                    if conn.scalar(sa.select(sa.func.count()).select_from(patients)
                                   .where(patients.c.patient_id == pid)) == 0:
                        break
                upload_id = self._app_upload(conn, created_by, "patients", pid, "new patient", 1,
                                             json.dumps({"patient_id": pid, "physio_id": physio_id,
                                                         "programme_start": start.date().isoformat()}))
                conn.execute(patients.insert().values(
                    patient_id=pid, physio_id=str(physio_id), programme_start=start.date(), age_band=age_band,
                    condition_notes=condition_notes, upload_id=upload_id))
                conn.execute(PATIENT_PROFILES.insert().values(
                    patient_id=pid, physio_id=str(physio_id), display_name=name, archived=False,
                    created_by=created_by, created_at=self._now(), archived_at=None))
            return pid

        pid: str = self._retry(write)
        return pid

    def archive_patient(self, patient_id: str, archived: bool = True, *, changed_by: str,
                        check: PatientCheck | None = None) -> None:
        """Archive (or restore) a patient: hidden from the active caseload, every row kept.

        Parameters
        ----------
        patient_id
            The patient.
        archived
            ``False`` restores the patient.
        changed_by
            The user name recorded when a profile is created.
        check
            Called in the transaction with the patient and the physio they are
            registered to (``None`` when not registered); raising refuses the change.

        Raises
        ------
        StoreError
            There is no such patient.
        """
        def write() -> None:
            with self._write() as conn:
                physio = self._registered_physio(conn, patient_id, check)
                when = self._now() if archived else None
                done = conn.execute(PATIENT_PROFILES.update().where(PATIENT_PROFILES.c.patient_id == patient_id)
                                    .values(archived=archived, archived_at=when)).rowcount
                if not done:  # a patient registered by an upload has no profile yet
                    conn.execute(PATIENT_PROFILES.insert().values(
                        patient_id=patient_id, physio_id=physio, display_name=None, archived=archived,
                        created_by=changed_by, created_at=self._now(), archived_at=when))

        self._retry(write)

    def patient_profiles(self, physio_id: str | None = None) -> pd.DataFrame:
        """Patients with their display names and archive flags: those of ``physio_id``, or all (``None``).

        Returns
        -------
        pandas.DataFrame
            One row per patient, sorted by ``patient_id``: ``patient_id``, ``physio_id``
            (string), ``programme_start`` (datetime64[ns]), ``display_name`` (string,
            may be missing), ``archived`` (bool) and ``archived_at`` (datetime64[ns], UTC).
        """
        patients = CANONICAL["patients"]
        cols = [patients.c.patient_id, patients.c.physio_id, patients.c.programme_start,
                PATIENT_PROFILES.c.display_name, PATIENT_PROFILES.c.archived, PATIENT_PROFILES.c.archived_at]
        stmt = (sa.select(*cols).select_from(patients.outerjoin(
            PATIENT_PROFILES, PATIENT_PROFILES.c.patient_id == patients.c.patient_id))
            .order_by(patients.c.patient_id))
        if physio_id is not None:
            stmt = stmt.where(patients.c.physio_id == physio_id)
        with self._read() as conn:
            frame = _frame(conn.execute(stmt).all(), cols)
        frame["archived"] = frame["archived"].fillna(False).astype(bool)
        return frame

    def active_caseload(self, physio_id: str) -> list[str]:
        """Patient IDs registered to ``physio_id`` and not archived, sorted (see :meth:`caseload` for all)."""
        patients = CANONICAL["patients"]
        archived = sa.select(PATIENT_PROFILES.c.patient_id).where(PATIENT_PROFILES.c.archived.is_(True))
        with self._read() as conn:
            rows = conn.execute(sa.select(patients.c.patient_id).where(
                patients.c.physio_id == physio_id, patients.c.patient_id.not_in(archived))
                .order_by(patients.c.patient_id)).scalars().all()
        return [str(r) for r in rows]

    def save_prescriptions(self, patient_id: str, periods: pd.DataFrame, *, from_date: DateLike | None = None,
                           saved_by: str, check: PatientCheck | None = None) -> ProgrammeEdit:
        """Save a patient's programme as ``prescriptions`` periods, in one transaction.

        Parameters
        ----------
        patient_id
            The patient.
        periods
            Valid canonical ``prescriptions`` rows of this patient
            (:func:`analysis.programmes.check_prescriptions`).
        from_date
            ``None`` for a first prescription (the patient has none yet). For a
            change: the first day of the new prescription; periods running on that
            day are closed the day before, periods not yet begun are replaced, and
            periods that ended before are never touched
            (:func:`analysis.programmes.edit_prescriptions`).
        saved_by
            The user name recorded in ``uploads``.
        check
            As for :meth:`archive_patient`.

        Returns
        -------
        analysis.programmes.ProgrammeEdit
            What was kept, closed, removed and added.

        Raises
        ------
        analysis.programmes.ProgrammeError
            A first prescription saved over an existing one.
        """
        table = CANONICAL["prescriptions"]
        keys = list(TABLES["prescriptions"].key)

        def write() -> ProgrammeEdit:
            with self._write() as conn:
                self._registered_physio(conn, patient_id, check)
                existing = self._select_canonical(conn, "prescriptions", [str(patient_id)], None)
                if from_date is None:
                    if len(existing):
                        raise ProgrammeError(f"patient {patient_id} already has a prescription; choose the date "
                                             "the change starts so that the earlier weeks stay as they were")
                    edit = edit_prescriptions(existing, periods, periods["start_date"].min())
                else:
                    edit = edit_prescriptions(existing, periods, from_date)
                for rec in _records(edit.removed, table):
                    conn.execute(table.delete().where(*[table.c[k] == rec[k] for k in keys]))
                for rec in _records(edit.closed, table):
                    conn.execute(table.update().where(*[table.c[k] == rec[k] for k in keys])
                                 .values(end_date=rec["end_date"]))
                upload_id = self._app_upload(
                    conn, saved_by, "prescriptions", str(patient_id),
                    "programme" if from_date is None else f"programme change from {pd.Timestamp(from_date).date()}",
                    len(edit.added), edit.added.to_json(orient="records", date_format="iso"))
                _insert_frame(conn, table, edit.added.assign(upload_id=upload_id))
            return edit

        edit: ProgrammeEdit = self._retry(write)
        logger.info("programme of %s saved by %s: %d kept, %d closed, %d removed, %d added", patient_id,
                    saved_by, len(edit.kept), len(edit.closed), len(edit.removed), len(edit.added))
        return edit

    def save_custom_exercise(self, owner: str, exercise: str, label: str, instruction: str, *,
                             sided: bool = False) -> None:
        """Add or replace one of a physio's own exercises (checked by :func:`analysis.programmes.custom_exercise`)."""
        def write() -> None:
            with self._write() as conn:
                conn.execute(CUSTOM_EXERCISES.delete().where(CUSTOM_EXERCISES.c.owner == owner,
                                                             CUSTOM_EXERCISES.c.exercise == exercise))
                conn.execute(CUSTOM_EXERCISES.insert().values(owner=owner, exercise=exercise, label=label,
                                                              sided=bool(sided), instruction=instruction,
                                                              created_at=self._now()))

        self._retry(write)

    def custom_exercises(self, owner: str) -> pd.DataFrame:
        """A physio's own exercises: ``exercise``, ``label`` (string), ``sided`` (bool), ``instruction`` (string)."""
        cols = [CUSTOM_EXERCISES.c.exercise, CUSTOM_EXERCISES.c.label, CUSTOM_EXERCISES.c.sided,
                CUSTOM_EXERCISES.c.instruction]
        with self._read() as conn:
            frame = _frame(conn.execute(sa.select(*cols).where(CUSTOM_EXERCISES.c.owner == owner)
                                        .order_by(CUSTOM_EXERCISES.c.exercise)).all(), cols)
        frame["sided"] = frame["sided"].fillna(False).astype(bool)
        return frame

    def save_custom_template(self, owner: str, template: Template) -> None:
        """Add or replace one of a physio's own programme templates (stored as JSON)."""
        body = json.dumps(template_to_dict(template), sort_keys=True)

        def write() -> None:
            with self._write() as conn:
                conn.execute(CUSTOM_TEMPLATES.delete().where(CUSTOM_TEMPLATES.c.owner == owner,
                                                             CUSTOM_TEMPLATES.c.template_key == template.key))
                conn.execute(CUSTOM_TEMPLATES.insert().values(owner=owner, template_key=template.key, body=body,
                                                              created_at=self._now()))

        self._retry(write)

    def custom_templates(self, owner: str) -> dict[str, Template]:
        """A physio's own programme templates by key."""
        with self._read() as conn:
            bodies = conn.execute(sa.select(CUSTOM_TEMPLATES.c.body).where(CUSTOM_TEMPLATES.c.owner == owner)
                                  .order_by(CUSTOM_TEMPLATES.c.template_key)).scalars().all()
        templates = [template_from_dict(json.loads(b)) for b in bodies]
        return {t.key: t for t in templates}

    # --- expected course (issue 20) ---------------------------------------------------------
    # Who may refit or switch is checked by the access facade (analysis.access); the methods here only persist.

    def save_expected_model(self, fitted_by: str, as_of: DateLike, data_version: str, n_patients: int,
                            settings: Mapping[str, Any], body: Mapping[str, Any]) -> int:
        """Keep a fitted expected-course model; it becomes the one in use. Returns its ``model_id``."""
        values = {"fitted_at": self._now(), "fitted_by": fitted_by, "as_of": to_day(as_of).date(),
                  "data_version": data_version, "n_patients": int(n_patients),
                  "settings": json.dumps(settings, sort_keys=True), "body": json.dumps(body, sort_keys=True)}

        def write() -> int:
            with self._write() as conn:
                key = conn.execute(EXPECTED_MODELS.insert().values(**values)).inserted_primary_key
                if key is None:  # pragma: no cover - the table has an autoincrement key
                    raise StoreError("the store gave the new expected-course model no id")
                return int(key[0])

        return int(self._retry(write))

    def expected_model_record(self, model_id: int | None = None) -> dict[str, Any] | None:
        """The stored model in use (the latest), or ``model_id``; ``None`` when none was fitted.

        Returns
        -------
        dict or None
            ``model_id``, ``fitted_at`` (UTC), ``fitted_by``, ``as_of`` (date), ``data_version``,
            ``n_patients``, ``settings`` and ``body`` (parsed JSON).
        """
        query = sa.select(EXPECTED_MODELS)
        query = (query.where(EXPECTED_MODELS.c.model_id == model_id) if model_id is not None
                 else query.order_by(EXPECTED_MODELS.c.model_id.desc()).limit(1))
        with self._read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        out = dict(row)
        out["settings"] = json.loads(out["settings"])
        out["body"] = json.loads(out["body"])
        return out

    def expected_model_id(self) -> int | None:
        """The ``model_id`` of the stored model in use (one small query, for caches), or ``None``."""
        with self._read() as conn:
            found = conn.scalar(sa.select(sa.func.max(EXPECTED_MODELS.c.model_id)))
        return None if found is None else int(found)

    def expected_model_history(self) -> pd.DataFrame:
        """Every stored fit without its body, newest first.

        Columns ``model_id``, ``fitted_at``, ``fitted_by``, ``as_of``, ``data_version``, ``n_patients``.
        """
        cols = [c for c in EXPECTED_MODELS.c if c.name not in ("body", "settings")]
        with self._read() as conn:
            rows = conn.execute(sa.select(*cols).order_by(EXPECTED_MODELS.c.model_id.desc())).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in cols])

    def set_option(self, key: str, value: Any, changed_by: str) -> None:
        """Set a clinic switch (``value`` is stored as JSON)."""
        body = json.dumps(value)

        def write() -> None:
            with self._write() as conn:
                conn.execute(CLINIC_OPTIONS.delete().where(CLINIC_OPTIONS.c.key == key))
                conn.execute(CLINIC_OPTIONS.insert().values(key=key, value=body, changed_by=changed_by,
                                                            changed_at=self._now()))

        self._retry(write)

    def option(self, key: str, default: Any = None) -> Any:
        """A clinic switch set by :meth:`set_option`, or ``default`` when never set."""
        with self._read() as conn:
            value = conn.scalar(sa.select(CLINIC_OPTIONS.c.value).where(CLINIC_OPTIONS.c.key == key))
        return default if value is None else json.loads(value)

    def mark_questionnaire_not_done(self, patient_id: str, instrument: str, timepoint_week: int, *,
                                    marked_by: str, reason: str | None = None,
                                    check: PatientCheck | None = None) -> None:
        """Record that a questionnaire time point will not be done (kept; marking again replaces the reason).

        ``check`` is called in the transaction with the patient and their physio; raising refuses the mark.

        Raises
        ------
        StoreError
            There is no such patient.
        """
        def write() -> None:
            with self._write() as conn:
                self._registered_physio(conn, patient_id, check)
                key = (QUESTIONNAIRES_NOT_DONE.c.patient_id == patient_id,
                       QUESTIONNAIRES_NOT_DONE.c.instrument == instrument,
                       QUESTIONNAIRES_NOT_DONE.c.timepoint_week == int(timepoint_week))
                conn.execute(QUESTIONNAIRES_NOT_DONE.delete().where(*key))
                conn.execute(QUESTIONNAIRES_NOT_DONE.insert().values(
                    patient_id=patient_id, instrument=instrument, timepoint_week=int(timepoint_week),
                    reason=reason or None, marked_by=marked_by, marked_at=self._now()))

        self._retry(write)

    def questionnaires_not_done(self, patient_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """The questionnaire time points marked not done; only ``patient_ids`` when given.

        Columns: ``patient_id``, ``instrument``, ``timepoint_week``, ``reason``, ``marked_by``, ``marked_at``.
        """
        query = sa.select(QUESTIONNAIRES_NOT_DONE).order_by(QUESTIONNAIRES_NOT_DONE.c.patient_id)
        if patient_ids is not None:
            query = query.where(QUESTIONNAIRES_NOT_DONE.c.patient_id.in_(list(patient_ids)))
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
        columns = [c.name for c in QUESTIONNAIRES_NOT_DONE.columns]
        return pd.DataFrame([dict(r) for r in rows], columns=columns)

    # --- in-app entries and audit (issue 9) ----------------------------------------------

    def save_entries(self, changed_by: str, table: str, rows: pd.DataFrame, *, remove: pd.DataFrame | None = None,
                     source: str = "in-app entry", check: WriteCheck | None = None) -> EntryReport:
        """Store rows entered in the app (a logged session, a pain rating, a questionnaire), editing by key.

        Who may save which rows is decided by :func:`analysis.access.save_entries`.

        Parameters
        ----------
        changed_by
            The user name recorded in ``uploads`` and ``audit``.
        table
            ``"sessions"``, ``"pain"`` or ``"proms"``.
        rows
            Canonical rows of ``table`` (:mod:`analysis.entries`, :mod:`analysis.questionnaires`).
        remove
            Keys (the key columns of ``table``) of stored rows the entry takes
            back, e.g. a questionnaire item answered before and now left empty;
            deleted in the same transaction, old values in the audit. Keys not
            stored, or also in ``rows``, are ignored.
        source
            Recorded as the ``uploads.filename`` of the entry.
        check
            Called inside the write transaction, after the rows were validated,
            with ``table`` and the rows saved and taken back (their
            ``patient_id``); raising refuses the entry.

        Returns
        -------
        EntryReport
            The ``uploads`` row recording the entry (``None`` when nothing
            changed) and the rows inserted, updated, unchanged and removed.

        Raises
        ------
        analysis.entries.EntryError
            A value outside the table's ranges, a missing required value, or two
            rows with the same key; nothing is stored.
        Exception
            Whatever ``check`` raises; nothing is stored.

        Notes
        -----
        One transaction: a row whose key (:attr:`analysis.schema.TableSpec.key`)
        is already stored is an **edit** (its values and ``upload_id`` are
        replaced), never a second row; a new key is inserted; an identical row
        is left alone. Every insert and edit writes an ``audit`` row with who,
        when (UTC), the table, the key and the old values (with the ``upload_id``
        that brought them) and new values as JSON, so an edit loses nothing.
        Keys match exactly (an in-app entry is dated at midnight of its day, or
        at the time of the row it edits; see :mod:`analysis.entries`). The ``uploads`` row of
        an entry has ``format = 'form'``, ``rows_added`` = rows inserted,
        edited or removed and ``rows_already_there`` = rows unchanged, so that readers keyed
        on the uploads (the dashboard's cache) refresh after an edit too.
        """
        if table not in ENTRY_TABLES:
            raise EntryError(f"entries in the app are {', '.join(ENTRY_TABLES)}, not {table!r}")
        spec = TABLES[table]
        canonical = CANONICAL[table]
        frame = _validated_entries(rows, spec)
        key = list(spec.key)
        gone = pd.DataFrame(columns=key) if remove is None else conform(remove, spec)[key]
        if gone.isna().any().any():
            raise EntryError(f"rows to remove need every key column ({', '.join(key)}); nothing was saved")
        ids = list(dict.fromkeys([*frame["patient_id"].astype(str), *gone["patient_id"].astype(str)]))
        touched = pd.concat([frame, gone], ignore_index=True) if len(gone) else frame
        values = [c for c in spec.column_names if c not in key]
        incoming = _records(frame, canonical)
        taken_back = _records(gone, canonical) if len(gone) else []
        time_col = next(k for k in key if spec.column(k).is_datetime)
        times = sorted({r[time_col] for r in (*incoming, *taken_back)})

        def write() -> EntryReport:
            with self._write() as conn:
                if check is not None:
                    check(table, touched, PatientLookup(conn))
                cols = [*(canonical.c[c] for c in spec.column_names), canonical.c.upload_id]  # provenance: audited
                found = conn.execute(sa.select(*cols).where(canonical.c.patient_id.in_(ids),
                                                            canonical.c[time_col].in_(times),
                                                            canonical.c.fold == 0)).all()
                stored = {tuple(r[k] for k in key): r
                          for r in _records(_frame(found, cols), canonical)} if found else {}
                new, changed, same = [], [], 0
                for rec in incoming:
                    old = stored.get(tuple(rec[k] for k in key))
                    if old is None:
                        new.append(rec)
                    elif any(old[c] != rec[c] for c in values):
                        changed.append((old, rec))
                    else:
                        same += 1
                kept = {tuple(rec[k] for k in key) for rec in incoming}
                removed = [stored[k] for k in dict.fromkeys(tuple(r[k] for k in key) for r in taken_back)
                           if k in stored and k not in kept]
                if not new and not changed and not removed:
                    return EntryReport(None, table, 0, 0, same)
                body = json.dumps([rec for rec in incoming], default=_json_value, sort_keys=True).encode()
                now = datetime.now(UTC).replace(tzinfo=None)
                upload_id = _new_id(conn.execute(UPLOADS.insert().values(
                    uploaded_by=changed_by, uploaded_at=now, filename=safe_filename(source),
                    content_sha256=hashlib.sha256(body).hexdigest(), size_bytes=len(body), table_name=table,
                    format="form", patient_id=ids[0] if len(ids) == 1 else None, rows_in_file=len(incoming),
                    rows_added=len(new) + len(changed) + len(removed), rows_already_there=same,
                    rows_duplicate_in_file=0, rows_rejected=0, duplicate_of=None,
                )))
                if new:  # an entry is dated at midnight of its day ("no time written") or at a row's time
                    _insert_chunk(conn, canonical, [
                        {**rec, "upload_id": upload_id, "fold": 0,
                         "time_written": rec[time_col] != datetime.combine(rec[time_col].date(), datetime.min.time())}
                        for rec in new])
                for _old, rec in changed:
                    where = [canonical.c[k] == rec[k] for k in key] + [canonical.c.fold == 0]
                    conn.execute(canonical.update().where(*where).values(
                        **{c: rec[c] for c in values}, upload_id=upload_id))
                audit = [_audit_record(changed_by, now, table, key, None, rec, upload_id) for rec in new]
                audit += [_audit_record(changed_by, now, table, key, old, rec, upload_id) for old, rec in changed]
                for old in removed:
                    conn.execute(canonical.delete().where(*[canonical.c[k] == old[k] for k in key],
                                                          canonical.c.fold == 0))
                audit += [_audit_record(changed_by, now, table, key, old, None, upload_id) for old in removed]
                _insert_chunk(conn, AUDIT, audit)
            return EntryReport(int(upload_id), table, len(new), len(changed), same, len(removed))

        report: EntryReport = self._retry(write)
        logger.info("entry by %s in %s: %d new, %d edited, %d unchanged, %d removed", changed_by, table,
                    report.inserted, report.updated, report.unchanged, report.removed)
        return report

    def audit_log(self, *, patient_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """The ``audit`` table (every in-app insert, edit and removal), oldest first; unfiltered: for administrators.

        Returns
        -------
        pandas.DataFrame
            ``audit_id``, ``changed_by``, ``changed_at`` (UTC), ``table_name``,
            ``patient_id``, ``action`` (``'insert'``, ``'update'`` or ``'delete'``),
            ``row_key``, ``old_values``, ``new_values`` (JSON text; ``old_values``
            empty for an insert, ``new_values`` for a delete) and ``upload_id``.
        """
        with self._read() as conn:
            cols = list(AUDIT.c)
            stmt = sa.select(*cols).order_by(AUDIT.c.audit_id)
            if patient_ids is not None:
                stmt = stmt.where(AUDIT.c.patient_id.in_([str(p) for p in patient_ids]))
            return _frame(conn.execute(stmt).all(), cols)


#: Environment variable with the backup signing key (at least 32 characters); default ``<data dir>/backup.key``.
BACKUP_KEY_ENV = "REHABTRACK_BACKUP_KEY"
#: The backup signing key's file in the data directory (mode 0600, created on first export or import).
BACKUP_KEY_FILE = "backup.key"
_SEAL_KEYS = ("checksum", "signature")


def backup_key(folder: str | Path) -> bytes:
    """The key that signs backups: ``REHABTRACK_BACKUP_KEY`` when set, else ``<folder>/backup.key`` (made once).

    Keep it with the backups' owner, apart from the backups: whoever has it can sign an edited backup.
    A backup restored on another server needs this server's key (``rehabtrack import --backup-key FILE``).
    """
    from_env = os.environ.get(BACKUP_KEY_ENV)
    if from_env:
        if len(from_env) < 32:
            raise StoreError(f"{BACKUP_KEY_ENV} is too short ({len(from_env)} characters); use at least 32")
        return from_env.encode("utf-8")
    return secret_key(Path(folder) / BACKUP_KEY_FILE)


def _manifest_body(manifest: dict[str, Any]) -> bytes:
    """The bytes the checksum and the signature cover: the manifest without them, keys sorted, no spaces."""
    body = {k: v for k, v in manifest.items() if k not in _SEAL_KEYS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _seal(manifest: dict[str, Any], key: bytes) -> dict[str, Any]:
    body = _manifest_body(manifest)
    return {"checksum": {"algorithm": "SHA-256", "value": hashlib.sha256(body).hexdigest()},
            "signature": {"algorithm": "HMAC-SHA-256", "key": BACKUP_KEY_FILE,
                          "value": hmac.new(key, body, hashlib.sha256).hexdigest()}}


def _verified_manifest(folder: Path, key: bytes, allow_unsigned: bool) -> dict[str, Any]:
    """``manifest.json`` of an export, refused unless its checksum and signature (under ``key``) verify."""
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"{folder} is not a rehabtrack export (manifest.json unreadable: {exc})") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), dict):
        raise StoreError(f"{path} is not a rehabtrack export manifest")
    body = _manifest_body(manifest)
    checksum = manifest.get("checksum")
    signature = manifest.get("signature")
    if checksum is None and signature is None:
        if allow_unsigned:
            logger.warning("importing %s without a signature (allow_unsigned)", folder)
            return manifest
        raise StoreError(f"{path} has no checksum or signature (an export of an older release, or edited); it was not "
                         "imported. If you trust it, import it with --allow-unsigned")
    if not isinstance(checksum, dict) or not hmac.compare_digest(
            str(checksum.get("value", "")), hashlib.sha256(body).hexdigest()):
        raise StoreError(f"{path} was changed after the export (its checksum does not match); the backup is damaged "
                         "or edited and was not imported")
    if not isinstance(signature, dict) or not hmac.compare_digest(
            str(signature.get("value", "")), hmac.new(key, body, hashlib.sha256).hexdigest()):
        if allow_unsigned and signature is None:
            return manifest
        raise StoreError(f"{path} is not signed with this server's backup key: the backup was edited, or it was made "
                         "on another server (give that server's key with --backup-key FILE); it was not imported")
    return manifest


def _read_export(path: Path, table: sa.Table, fmt: str) -> pd.DataFrame:
    if fmt == "parquet":
        raw = pd.read_parquet(path)
        return pd.DataFrame({c.name: raw[c.name].astype(_kind(c) if _kind(c) not in ("date", "datetime")
                                                        else "datetime64[ns]") for c in table.c})
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    if list(raw.columns) != [c.name for c in table.c]:
        raise StoreError(f"{path} has columns {list(raw.columns)}, expected {[c.name for c in table.c]}")
    out = {}
    for c in table.c:
        s, kind = raw[c.name], _kind(c)
        if kind in ("date", "datetime"):
            out[c.name] = pd.to_datetime(s, format="ISO8601").astype("datetime64[ns]")
        elif kind == "boolean":
            out[c.name] = s.map({"True": True, "False": False}).astype("boolean")
        elif kind == "Int64":
            out[c.name] = pd.to_numeric(s).astype("Int64")
        elif kind == "float64":
            out[c.name] = pd.to_numeric(s).astype("float64")
        else:
            out[c.name] = s.astype("string")
    return pd.DataFrame(out)


# --- corrections (issue 16): the stored rows an upload could touch, the markers, replacing changed rows.
# Kept apart from Store.ingest_upload so that the order of its steps (read, check, compare, write) stays readable.


def _stored_rows(conn: sa.Connection, spec: TableSpec, table: sa.Table, frame: pd.DataFrame) -> pd.DataFrame:
    """The stored rows of ``frame``'s patients (and, for timed tables, of its days), with markers and provenance.

    Returns the canonical columns, ``time_written`` and ``fold`` (timed tables), ``upload_id`` and the
    ``format`` of the upload that stored each row.
    """
    if frame.empty:
        return pd.DataFrame()
    ids = [str(i) for i in frame["patient_id"].dropna().unique()]
    timed = timed_key(spec)
    columns = [table.c[c] for c in spec.column_names]
    columns += [table.c[m] for m in MARKERS] if timed else []
    columns += [table.c.upload_id, UPLOADS.c.format]
    conditions: list[Any] = []
    if timed is not None:  # only the days of the upload (a day either side: rows without a time are "that day")
        first, last = frame[timed].min(), frame[timed].max()
        conditions += [table.c[timed] >= (first.normalize() - pd.Timedelta(days=1)).to_pydatetime(),
                       table.c[timed] < (last.normalize() + pd.Timedelta(days=2)).to_pydatetime()]
    rows: list[Any] = []
    for chunk in _chunks(ids):
        stmt = (sa.select(*columns).select_from(table.join(UPLOADS, UPLOADS.c.upload_id == table.c.upload_id))
                .where(table.c.patient_id.in_(chunk), *conditions))
        rows.extend(conn.execute(stmt).all())
    stored = _frame(rows, columns)
    if timed is not None:
        stored["time_written"] = stored["time_written"].fillna(False).astype(bool)
        stored["fold"] = stored["fold"].fillna(0).astype(np.int64)
    return stored


def _with_markers(spec: TableSpec, rows: pd.DataFrame, row_info: pd.DataFrame, upload_id: int) -> pd.DataFrame:
    """Rows to insert: the canonical columns, the upload, and for timed tables ``time_written`` and ``fold``."""
    out = rows.assign(upload_id=upload_id)
    if timed_key(spec) is not None:
        out = out.assign(time_written=row_info["time_written"].to_numpy(dtype=bool),
                         fold=row_info["fold"].to_numpy(dtype=np.int64))
    return out


def _given_columns(result: IngestResult) -> list[str]:
    """The value columns an upload gives: its mapped headers' (a generic table), all of them for an app or FHIR."""
    if result.format in ("csv", "xlsx", "json", "frame"):
        return provided_columns(result.table, result.header_mapping)
    return value_columns(result.table)


def _replace_changed(conn: sa.Connection, spec: TableSpec, table: sa.Table, result: IngestResult,
                     comparison: Comparison, upload_id: int, uploaded_by: str) -> None:
    """Write the file's values over the stored rows that differ; one ``audit`` row each (old and new values).

    Only the columns the file gives are written (a diary without a location column leaves the stored one).
    """
    positions = comparison.changed_positions
    key = list(spec.key)
    timed = timed_key(spec) is not None
    values = _given_columns(result)
    incoming = _records(_with_markers(spec, result.accepted.iloc[positions], result.row_info.iloc[positions],
                                      upload_id), table)
    old_frame = comparison.stored.drop(columns=["format"], errors="ignore")
    old_records = _records(old_frame, table)
    now = datetime.now(UTC).replace(tzinfo=None)
    audit = []
    for old, new in zip(old_records, incoming, strict=True):
        where = [table.c[k] == old[k] for k in key] + ([table.c.fold == old["fold"]] if timed else [])
        changes = {c: new[c] for c in values} | {"upload_id": upload_id}
        if timed:
            changes["time_written"] = bool(new["time_written"] or old["time_written"])  # a time, once given, stays
            clock = timed_key(spec)
            if new["time_written"] and not old["time_written"] and clock is not None and new[clock] != old[clock]:
                changes[clock], changes["fold"] = new[clock], new["fold"]  # the day's row gets the file's time
        conn.execute(table.update().where(*where).values(**changes))
        audit.append(_audit_record(uploaded_by, now, spec.name, key, old, {**old, **changes}, upload_id))
    _insert_chunk(conn, AUDIT, audit)


# --------------------------------------------------------------------------------------
# --- in-app entries and audit (issue 9)

#: Tables a user can write from the app's forms (:meth:`Store.save_entries`).
ENTRY_TABLES: tuple[str, ...] = ("sessions", "pain", "proms")

AUDIT = sa.Table(
    "audit", metadata,
    sa.Column("audit_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("changed_by", sa.String(64), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
    sa.Column("table_name", sa.String(32), nullable=False),
    sa.Column("patient_id", sa.Text, nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("row_key", sa.Text, nullable=False),
    sa.Column("old_values", sa.Text, nullable=True),
    sa.Column("new_values", sa.Text, nullable=True),
    sa.Column("upload_id", sa.Integer, sa.ForeignKey("uploads.upload_id"), nullable=False),
)
# exported and imported with the rest of the store (after uploads: its foreign key)
_ALL_TABLES = (*_ALL_TABLES, AUDIT)


def _upgrade_1_to_2(conn: sa.Connection) -> None:
    """Schema 1 -> 2 also adds the ``audit`` table: a new table only, which :meth:`Store.open` creates."""


# Schema 2 (the release with issues 9 and 10) adds only new tables; one step serves both.
UPGRADES.setdefault(1, _upgrade_1_to_2)


def _upgrade_2_to_3(conn: sa.Connection) -> None:
    """Schema 2 -> 3 (issue 16): the markers beside timed rows and the counts of changed rows.

    * ``sessions``, ``pain``, ``proms`` get ``time_written`` and ``fold`` (:data:`MARKERS`), and ``fold`` joins
      their primary key. Rows stored before knew only the midnight convention, so a row at exactly midnight
      becomes "no time written" and every other row a timed one; ``fold`` is 0 (no earlier release kept two
      instants of a repeated hour).
    * ``uploads`` gets ``rows_changed`` and ``rows_replaced`` (0 for earlier uploads).

    SQLite cannot change a primary key in place: each table is renamed, created anew and filled from the old
    one. PostgreSQL alters it. A column already there is left as it is.
    """
    inspector = sa.inspect(conn)

    def has(table: str, column: str) -> bool:
        return column in {c["name"] for c in inspector.get_columns(table)}

    for column in ("rows_changed", "rows_replaced"):
        if not has("uploads", column):
            conn.exec_driver_sql(f"ALTER TABLE uploads ADD COLUMN {column} BIGINT NOT NULL DEFAULT 0")
    for spec in TABLES.values():
        timed = timed_key(spec)
        if timed is None or has(spec.name, "fold"):
            continue
        table = CANONICAL[spec.name]
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ALTER TABLE {spec.name} ADD COLUMN time_written BOOLEAN")
            conn.exec_driver_sql(f"UPDATE {spec.name} SET time_written = ({timed}::time <> TIME '00:00')")
            conn.exec_driver_sql(f"ALTER TABLE {spec.name} ALTER COLUMN time_written SET NOT NULL")
            conn.exec_driver_sql(f"ALTER TABLE {spec.name} ADD COLUMN fold SMALLINT NOT NULL DEFAULT 0")
            conn.exec_driver_sql(f"ALTER TABLE {spec.name} DROP CONSTRAINT {spec.name}_pkey")
            conn.exec_driver_sql(f"ALTER TABLE {spec.name} ADD PRIMARY KEY ({', '.join([*spec.key, 'fold'])})")
            continue
        old = f"{spec.name}_schema2"
        conn.exec_driver_sql(f"ALTER TABLE {spec.name} RENAME TO {old}")
        table.create(conn)
        columns = [*spec.column_names, "upload_id"]
        midnight = f"({timed} = date({timed}) || ' 00:00:00.000000' OR {timed} = date({timed}) || ' 00:00:00')"
        conn.exec_driver_sql(
            f"INSERT INTO {spec.name} ({', '.join(columns)}, time_written, fold) "
            f"SELECT {', '.join(columns)}, CASE WHEN {midnight} THEN 0 ELSE 1 END, 0 FROM {old}")
        conn.exec_driver_sql(f"DROP TABLE {old}")


UPGRADES.setdefault(2, _upgrade_2_to_3)

# --- expected course (issue 20): the fitted models and the clinic's switches
#
# ``expected_models``: one row per explicit refit (``rehabtrack refit-expected``, the admin button); the body is
# the JSON of the model (:meth:`analysis.expected.ExpectedCourseModel.to_dict`) with its calibration and fold
# models, ``settings`` the JSON of the thresholds and model choices used. ``clinic_options``: key -> value (JSON).

EXPECTED_MODELS = sa.Table(
    "expected_models", metadata,
    sa.Column("model_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fitted_at", sa.DateTime, nullable=False),
    sa.Column("fitted_by", sa.String(64), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("data_version", sa.String(64), nullable=False),
    sa.Column("n_patients", sa.Integer, nullable=False),
    sa.Column("settings", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)

CLINIC_OPTIONS = sa.Table(
    "clinic_options", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("changed_by", sa.String(64), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
)
_ALL_TABLES = (*_ALL_TABLES, EXPECTED_MODELS, CLINIC_OPTIONS)


def _upgrade_3_to_4(conn: sa.Connection) -> None:
    """Schema 3 -> 4 (issue 20): new tables only (``expected_models``, ``clinic_options``); Store.open makes them."""


UPGRADES.setdefault(3, _upgrade_3_to_4)
__all__ += ["EXPECTED_MODELS", "CLINIC_OPTIONS"]
__all__ += ["ENTRY_TABLES", "AUDIT", "EntryReport"]


@dataclass(frozen=True)
class EntryReport:
    """What one :meth:`Store.save_entries` did.

    Attributes
    ----------
    upload_id
        The ``uploads`` row recording the entry, or ``None`` when nothing changed.
    table
        The canonical table written.
    inserted, updated, unchanged, removed
        Rows added, rows edited (old values in the audit), rows already stored
        as given, and rows taken back (deleted; old values in the audit).
    """

    upload_id: int | None
    table: str
    inserted: int
    updated: int
    unchanged: int
    removed: int = 0

    @property
    def changed(self) -> bool:
        """True when anything was written."""
        return self.inserted + self.updated + self.removed > 0


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")  # pragma: no cover - records are plain


def _audit_record(changed_by: str, now: datetime, table: str, key: list[str], old: dict[str, Any] | None,
                  new: dict[str, Any] | None, upload_id: int) -> dict[str, Any]:
    def dump(rec: dict[str, Any] | None) -> str | None:
        return None if rec is None else json.dumps(rec, default=_json_value, sort_keys=True)

    row = new if new is not None else old
    if row is None:  # pragma: no cover - an audit record has an old or a new row
        raise ValueError("an audit record needs the old or the new values")
    action = "insert" if old is None else ("delete" if new is None else "update")
    return {"changed_by": changed_by, "changed_at": now, "table_name": table, "patient_id": str(row["patient_id"]),
            "action": action, "row_key": dump({k: row[k] for k in key}), "old_values": dump(old),
            "new_values": dump(new), "upload_id": upload_id}


def _validated_entries(rows: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """``rows`` conformed to ``spec`` and checked (required values, ranges, unique keys); ``EntryError`` if not.

    The checks are those of every upload (:func:`analysis.validation.validate_frame`): missing
    required columns first, then the first failing cell in the table's column order, then repeated keys.
    """
    from analysis.entries import EntryError

    checked = validate_frame(rows, spec)
    for failure in checked.file_failures:
        raise EntryError(f"the {spec.name} entry has no {', '.join(failure.columns)}")
    frame = checked.frame
    if frame.empty:
        raise EntryError("there is nothing to save")
    problems = checked.by_column()
    cells = problems[problems["check"] != DUPLICATE]
    if len(cells):
        col = str(cells["column"].iloc[0])
        allowed = spec.column(col).range_text() if col in spec.column_names else ""
        raise EntryError(f"{col}: {checked.value(int(cells['row'].iloc[0]), col)!r} is not allowed"
                         + (f" (allowed: {allowed})" if allowed else "") + "; nothing was saved")
    if len(problems):
        raise EntryError(f"two {spec.name} rows have the same {', '.join(spec.key)}; nothing was saved")
    return frame
