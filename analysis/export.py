"""Files for people and spreadsheets: CSV and Excel with formula-neutralised cells, and the research tables.

:func:`write_csv`, :func:`to_csv_bytes`, :func:`write_excel` and
:func:`to_excel_bytes` always neutralise text cells that a spreadsheet would run
as a formula (:func:`analysis.escaping.neutralise_formulas`); numbers stay numbers.
:func:`write_research_tables` writes a pseudonymised cohort
(:class:`analysis.pseudonyms.ResearchCohort`) as CSV, Excel or Parquet; who may
export what is decided by :func:`analysis.access.research_export`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from analysis.errors import ExportError
from analysis.escaping import neutralise_formulas
from analysis.private_files import make_private_dir, open_private, write_private
from analysis.pseudonyms import ResearchCohort

__all__ = [
    "EXCEL_MAX_ROWS",
    "EXPORT_FORMATS",
    "ExportError",
    "to_csv_bytes",
    "write_csv",
    "to_excel_bytes",
    "write_excel",
    "write_research_tables",
    "check_format",
]

#: Rows an Excel worksheet holds, header included.
EXCEL_MAX_ROWS = 1_048_576
#: Formats of :func:`write_research_tables`.
EXPORT_FORMATS: tuple[str, ...] = ("csv", "xlsx", "parquet")


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV (with a byte-order mark, so Excel reads accents) of a neutralised copy of ``frame``.

    Parameters
    ----------
    frame
        The table; its index is not written.

    Returns
    -------
    bytes
        The CSV text (CRLF line ends, cells holding a line break quoted); missing values
        are empty cells; see :func:`neutralise_formulas`.
    """
    # CRLF line ends: the csv writer then quotes any cell holding a CR or LF, so it stays one cell.
    return neutralise_formulas(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write :func:`to_csv_bytes` of ``frame`` to ``path`` and return the path."""
    return write_private(path, to_csv_bytes(frame))  # mode 0600: research data, whatever the umask


def to_excel_bytes(frames: Mapping[str, pd.DataFrame]) -> bytes:
    """An ``.xlsx`` workbook with one neutralised sheet per table.

    Parameters
    ----------
    frames
        Sheet name (at most 31 characters) to table.

    Returns
    -------
    bytes
        The workbook. Text cells that would run as formulas carry a leading
        apostrophe; openpyxl would otherwise store ``=...`` as a live formula.

    Raises
    ------
    ExportError
        If a table has more rows than an Excel sheet holds (1,048,575 after the header).
    """
    for sheet, frame in frames.items():
        if len(frame) + 1 > EXCEL_MAX_ROWS:
            raise ExportError(
                f"the {sheet} table has {len(frame):,} rows, more than an Excel sheet holds "
                f"({EXCEL_MAX_ROWS - 1:,}); export as CSV or Parquet instead.")
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for sheet, frame in frames.items():
            neutralise_formulas(frame).to_excel(writer, sheet_name=str(sheet)[:31], index=False)
    return buffer.getvalue()


def write_excel(frames: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Write :func:`to_excel_bytes` of ``frames`` to ``path`` and return the path."""
    return write_private(path, to_excel_bytes(frames))


def write_research_tables(research: ResearchCohort, directory: str | Path, fmt: str = "csv") -> list[Path]:
    """Write the tables of a pseudonymised cohort to a directory.

    Parameters
    ----------
    research
        The pseudonymised tables (:func:`analysis.pseudonyms.pseudonymise_cohort`).
    directory
        Output directory, created if needed.
    fmt
        ``"csv"`` (one file per table, formula-neutralised), ``"xlsx"`` (one
        workbook ``research.xlsx``, one sheet per table, neutralised) or
        ``"parquet"`` (one file per table, values unchanged).

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    ExportError
        For an unknown ``fmt`` or a table too large for Excel.

    See Also
    --------
    analysis.access.research_export : The cohort a user may see, pseudonymised and written here.
    """
    check_format(fmt)
    out = make_private_dir(directory)
    tables = research.tables()
    if fmt == "xlsx":
        return [write_excel(tables, out / "research.xlsx")]
    written = []
    for name, frame in tables.items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            write_csv(frame, path)
        else:
            with open_private(path) as fh:
                frame.to_parquet(fh, index=False)
        written.append(path)
    return written


def check_format(fmt: str) -> None:
    """Raise :class:`ExportError` unless ``fmt`` is one of :data:`EXPORT_FORMATS`."""
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format {fmt!r}: choose csv, xlsx or parquet")
