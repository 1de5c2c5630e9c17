"""Typed exceptions raised by rehabtrack.

Every message names the problem in words a patient or physio can act on:
which file, which row and column where there is one, what was expected and
what to do about it.
"""

from __future__ import annotations

__all__ = [
    "RehabtrackError",
    "IngestError",
    "UnreadableFileError",
    "MissingColumnsError",
    "UnknownTableError",
    "InvalidTableError",
    "DayOrderError",
    "SeveralPeopleError",
    "SettingsError",
    "NotEnoughDataError",
    "ExportError",
]


class RehabtrackError(Exception):
    """Base class of every error rehabtrack raises on purpose."""


class IngestError(RehabtrackError, ValueError):
    """A file could not be read as a table of rehabilitation logs.

    Parameters
    ----------
    message
        What is wrong and what to do about it.
    source
        The file name (or ``"<upload>"``) the problem was found in.
    """

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + message)


class UnreadableFileError(IngestError):
    """The file is empty, binary, header-only, or otherwise not a table."""


class MissingColumnsError(IngestError):
    """Columns the table needs are absent from the file.

    Attributes
    ----------
    missing : tuple of str
        Canonical names of the required columns that were not found.
    table : str
        The canonical table the file was read as.
    """

    def __init__(
        self,
        table: str,
        missing: tuple[str, ...] | list[str],
        *,
        found: tuple[str, ...] | list[str] = (),
        source: str | None = None,
    ) -> None:
        self.table = table
        self.missing = tuple(missing)
        self.found = tuple(found)
        found_txt = ", ".join(repr(c) for c in self.found) or "none"
        message = (
            f"this {table} file is missing the required column(s) "
            f"{', '.join(self.missing)}. Columns found: {found_txt}. "
            "Rename the header(s) or download the template to see the expected columns."
        )
        super().__init__(message, source=source)


class UnknownTableError(IngestError):
    """The columns of a file match none of the canonical tables."""


class InvalidTableError(RehabtrackError, ValueError):
    """Values of a canonical table passed to an analysis break the table's rules.

    Raised at the entrance of the library's public functions
    (:func:`analysis.validation.check_tables`), before anything is computed, with
    every failure of every table at once.

    Parameters
    ----------
    message
        The failures in words: table, column, rule, rows and values, and what to do.
    problems
        One entry per (table, column, rule): ``(table, column, check, rows, values,
        reason)`` with ``rows`` the index labels of the failing rows (up to 20) and
        ``values`` their values as text.

    Attributes
    ----------
    tables : tuple of str
        The tables with failures, in the order they were checked.
    problems : tuple of tuple
        As the parameter.
    """

    def __init__(
        self,
        message: str,
        problems: tuple[tuple[str, str, str, tuple[object, ...], tuple[str, ...], str], ...] = (),
    ) -> None:
        self.problems = problems
        self.tables = tuple(dict.fromkeys(p[0] for p in problems))
        super().__init__(message)


class DayOrderError(IngestError):
    """The file's own dates prove that it writes dates in the other day order than the one chosen.

    Attributes
    ----------
    rows : tuple of int
        Row numbers (header = row 1) of the dates that are only valid in the other order.
    file_order : str
        ``"day-first"`` or ``"month-first"``: the order the file uses.
    """

    def __init__(self, message: str, *, rows: tuple[int, ...], file_order: str, source: str | None = None) -> None:
        self.rows = tuple(rows)
        self.file_order = file_order
        super().__init__(message, source=source)


class SeveralPeopleError(IngestError):
    """A file for one patient holds the logs of several people (a column naming a person has several values).

    Attributes
    ----------
    column : str
        The column as written in the file (``"Athlete"``).
    people : tuple of str
        Its distinct values, most rows first.
    unmapped : tuple of str
        The values no patient was chosen for (all of them when no mapping was given).
    """

    def __init__(self, message: str, *, column: str, people: tuple[str, ...], unmapped: tuple[str, ...] = (),
                 source: str | None = None) -> None:
        self.column = column
        self.people = tuple(people)
        self.unmapped = tuple(unmapped)
        super().__init__(message, source=source)


class SettingsError(RehabtrackError, ValueError):
    """A settings file or override has an unknown key or an invalid value."""


class NotEnoughDataError(RehabtrackError, ValueError):
    """A statistic was asked for with too little data to be meaningful."""


class ExportError(RehabtrackError, ValueError):
    """An export cannot be written as asked (wrong format, too many rows for Excel, bad pseudonym key)."""
