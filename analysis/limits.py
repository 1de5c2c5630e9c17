"""How large one file may be: the limits every reader of an uploaded file applies while it reads.

One upload must never take the server down. The limits are checked **while**
a file is read (:mod:`analysis.reading`), never after everything is in memory:

* the file's size in bytes (:attr:`UploadLimits.max_bytes`, default 20 MiB);
* the rows read (:attr:`UploadLimits.max_rows`, default 500,000): CSV, JSON and
  Excel readers stop at ``max_rows + 1`` and refuse;
* the columns (:attr:`UploadLimits.max_columns`, default 200): counted in the
  header before the table is built;
* for an ``.xlsx`` workbook (a zip archive), before anything is unpacked: the
  total unpacked size (at most :attr:`UploadLimits.expansion` times the byte
  limit, i.e. 200 MiB), each part's unpacked size (a worksheet at most that,
  any other part at most the byte limit), the number of parts, and each large
  part's compression ratio (at most :attr:`UploadLimits.max_ratio`; real
  workbooks measured here pack 4-15 to 1, a "zip bomb" about 1000 to 1).

Which limits are in force
-------------------------
:func:`current_limits` gives the limits of the running read: those set with
:func:`reading_limits` (the store sets its own for every upload and preview),
else :meth:`UploadLimits.from_env` (``REHABTRACK_MAX_UPLOAD_MB``,
``REHABTRACK_MAX_UPLOAD_ROWS``, ``REHABTRACK_MAX_UPLOAD_COLUMNS``). So every
read is bounded by default, the command line and the dashboard alike; a
trusted bulk read of a local file (the benchmark's 4.75 million rows) says so
explicitly with ``reading_limits(UploadLimits.unbounded())``.

The defaults are project choices (the clinical reference has nothing to say
about file sizes): 20 MiB and 500,000 rows hold years of a patient's diary or a
clinic's whole export, 200 columns are ten times the widest supported format.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from analysis.errors import IngestError

__all__ = [
    "MAX_UPLOAD_MB_ENV",
    "MAX_UPLOAD_ROWS_ENV",
    "MAX_UPLOAD_COLUMNS_ENV",
    "UploadTooLargeError",
    "UploadLimits",
    "current_limits",
    "reading_limits",
]

#: Upload size limits from the environment (megabytes, rows, columns).
MAX_UPLOAD_MB_ENV = "REHABTRACK_MAX_UPLOAD_MB"
MAX_UPLOAD_ROWS_ENV = "REHABTRACK_MAX_UPLOAD_ROWS"
MAX_UPLOAD_COLUMNS_ENV = "REHABTRACK_MAX_UPLOAD_COLUMNS"

_MB = 1024 * 1024
_SPLIT = "Split it into smaller files (for example one per month) and upload each."


class UploadTooLargeError(IngestError):
    """An upload is over the size, row or column limit, or unpacks to far more than it weighs."""


@dataclass(frozen=True)
class UploadLimits:
    """How large one upload may be (see the module docstring).

    Attributes
    ----------
    max_bytes
        Largest file in bytes (default 20 MiB; ``REHABTRACK_MAX_UPLOAD_MB``).
    max_rows
        Most data rows in one file (default 500,000; ``REHABTRACK_MAX_UPLOAD_ROWS``).
    max_columns
        Most columns in one file (default 200; ``REHABTRACK_MAX_UPLOAD_COLUMNS``).
    expansion
        A workbook may unpack to at most ``expansion * max_bytes`` bytes in all (default 10).
    max_ratio
        Largest compression ratio (unpacked / packed bytes) of one workbook part of more than 1 MiB
        (default 100).
    max_parts
        Most parts (files) in a workbook's zip archive (default 10,000).
    """

    max_bytes: int = 20 * _MB
    max_rows: int = 500_000
    max_columns: int = 200
    expansion: int = 10
    max_ratio: float = 100.0
    max_parts: int = 10_000

    @classmethod
    def from_env(cls) -> UploadLimits:
        """Limits from ``REHABTRACK_MAX_UPLOAD_MB``, ``..._ROWS`` and ``..._COLUMNS`` where set."""
        default = cls()
        mb = os.environ.get(MAX_UPLOAD_MB_ENV)
        rows = os.environ.get(MAX_UPLOAD_ROWS_ENV)
        columns = os.environ.get(MAX_UPLOAD_COLUMNS_ENV)
        return cls(max_bytes=int(float(mb) * _MB) if mb else default.max_bytes,
                   max_rows=int(rows) if rows else default.max_rows,
                   max_columns=int(columns) if columns else default.max_columns)

    @classmethod
    def unbounded(cls) -> UploadLimits:
        """No practical limit: for trusted local files only (a benchmark, a researcher's own export)."""
        return cls(max_bytes=1 << 50, max_rows=1 << 50, max_columns=1 << 30, expansion=1 << 10,
                   max_ratio=float("inf"), max_parts=1 << 30)

    @property
    def max_unpacked(self) -> int:
        """Most bytes a workbook may unpack to, all parts together (``expansion * max_bytes``)."""
        return self.expansion * self.max_bytes

    def check_bytes(self, size: int, source: str) -> None:
        """Raise :class:`UploadTooLargeError` (saying to split the file) when ``size`` bytes are over the limit."""
        if size > self.max_bytes:
            raise UploadTooLargeError(
                f"the file is {size / _MB:.1f} MB; one upload may be at most {self.max_bytes / _MB:.1f} MB. "
                + _SPLIT, source=source)

    def check_rows(self, rows: int, source: str) -> None:
        """Raise :class:`UploadTooLargeError` (saying to split the file) when ``rows`` data rows are over the limit."""
        if rows > self.max_rows:
            raise UploadTooLargeError(
                f"the file has {rows:,} rows; one upload may have at most {self.max_rows:,}. " + _SPLIT,
                source=source)

    def too_many_rows(self, source: str) -> UploadTooLargeError:
        """The error for a file found, while reading, to have more than :attr:`max_rows` rows (reading stopped)."""
        return UploadTooLargeError(
            f"the file has more than {self.max_rows:,} rows (reading stopped there); one upload may have at most "
            f"{self.max_rows:,}. " + _SPLIT, source=source)

    def check_columns(self, columns: int, source: str) -> None:
        """Raise :class:`UploadTooLargeError` when a file has more than :attr:`max_columns` columns."""
        if columns > self.max_columns:
            raise UploadTooLargeError(
                f"the file has {columns:,} columns; one upload may have at most {self.max_columns:,}. Remove the "
                "columns that are not part of the log (or check that the file is a log at all) and try again.",
                source=source)

    def out_of_memory(self, source: str) -> UploadTooLargeError:
        """The error for a file that could not be read in the memory this server has (never a traceback)."""
        return UploadTooLargeError(
            "the file needs more memory to read than this server has free. " + _SPLIT, source=source)


_CURRENT: ContextVar[UploadLimits | None] = ContextVar("rehabtrack_reading_limits", default=None)


def current_limits() -> UploadLimits:
    """The limits of the read in progress: those of :func:`reading_limits`, else :meth:`UploadLimits.from_env`."""
    limits = _CURRENT.get()
    return limits if limits is not None else UploadLimits.from_env()


@contextmanager
def reading_limits(limits: UploadLimits) -> Iterator[UploadLimits]:
    """Read files under ``limits`` inside the ``with`` block (this thread or task only).

    Examples
    --------
    >>> with reading_limits(UploadLimits(max_rows=10)) as limits:
    ...     current_limits().max_rows
    10
    """
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)
