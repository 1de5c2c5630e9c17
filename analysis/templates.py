"""Upload templates: CSV and Excel files that show the columns rehabtrack reads.

A template holds the human headers a person would write (``Date``, ``Pain
(0-10)``, ``Hold (s)``), each of which :mod:`analysis.headers` maps back to its
canonical column, and example rows built from the example values of
:mod:`analysis.schema`. Uploading a template unchanged gives exactly those rows.

A patient's template has no patient column: the dashboard fills in the
logged-in patient's ID (and would reject rows naming anyone else). A physio's
template (``include_patient_id=True``) starts with ``Patient ID``.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from analysis.exercises import EXERCISES
from analysis.export import to_csv_bytes
from analysis.schema import TABLES, ColumnSpec, TableSpec, table_spec

__all__ = [
    "TEMPLATE_HEADERS",
    "PATIENT_TEMPLATE_TABLES",
    "template_frame",
    "template_help",
    "template_csv",
    "template_xlsx",
    "template_filename",
]

#: Human header written in a template for each canonical column (each one is a
#: synonym :mod:`analysis.headers` maps back to the column, for its table).
TEMPLATE_HEADERS: dict[str, str] = {
    "patient_id": "Patient ID",
    "physio_id": "Physio",
    "programme_start": "Programme start",
    "age_band": "Age band",
    "condition_notes": "Condition notes",
    "exercise": "Exercise",
    "side": "Side",
    "sets": "Sets",
    "reps": "Reps",
    "hold_s": "Hold (s)",
    "sessions_per_week": "Sessions per week",
    "start_date": "Start date",
    "end_date": "End date",
    "performed_at": "Date",
    "pain_during": "Pain during (0-10)",
    "rpe": "Effort (RPE 0-10)",
    "notes": "Notes",
    "recorded_at": "Date",
    "nprs": "Pain (0-10)",
    "location": "Location",
    "flare": "Flare",
    "completed_at": "Date",
    "instrument": "Questionnaire",
    "item": "Item",
    "value": "Value",
}

#: Tables a patient fills in themselves (see :data:`analysis.roles.PATIENT_UPLOAD_TABLES`).
PATIENT_TEMPLATE_TABLES: tuple[str, ...] = ("sessions", "pain", "proms")

_SHEET_HELP = "How to fill in"


def _written(col: ColumnSpec, value: Any) -> Any:
    """An example value as a person would write it (exercise label, ``no`` for a flag)."""
    if value is None:
        return ""
    if col.name == "exercise" and value in EXERCISES:
        return EXERCISES[value].label
    return value


def _example_rows(spec: TableSpec) -> list[dict[str, Any]]:
    """The schema's example row, plus the other side for an exercise done per side."""
    row = spec.example_row()
    rows = [row]
    if "side" in row and row.get("exercise") in EXERCISES and EXERCISES[row["exercise"]].sided:
        other = {"left": "right", "right": "left"}.get(row["side"])
        if other:
            rows.append({**row, "side": other, **({"notes": None} if "notes" in row else {})})
    return rows


def _columns(spec: TableSpec, include_patient_id: bool) -> list[ColumnSpec]:
    return [c for c in spec.columns if include_patient_id or c.name != "patient_id"]


def template_frame(table: str, *, include_patient_id: bool = False) -> pd.DataFrame:
    """The template of one table: human headers and example rows, all as text.

    Parameters
    ----------
    table
        Canonical table name (``"sessions"``, ``"pain"``, ``"proms"``, ``"prescriptions"``, ``"patients"``).
    include_patient_id
        Start with a ``Patient ID`` column (for a physio's file); a patient's template has none.

    Returns
    -------
    pandas.DataFrame
        One column per canonical column (in schema order), named by
        :data:`TEMPLATE_HEADERS`; rows from :meth:`analysis.schema.TableSpec.example_row`
        (for a per-side exercise a second row for the other side), values written
        as a person would (``Knee-to-chest stretch``, ``2026-09-08 07:30``); empty
        optional cells are ``""``.

    Raises
    ------
    KeyError
        For an unknown table.
    """
    spec = table_spec(table)
    cols = _columns(spec, include_patient_id)
    rows = _example_rows(spec)
    return pd.DataFrame({TEMPLATE_HEADERS[c.name]: [str(_written(c, r[c.name])) for r in rows] for c in cols},
                        dtype="string")


def template_help(table: str, *, include_patient_id: bool = False) -> pd.DataFrame:
    """One row per template column: header, required, what to write, allowed values and unit.

    Returns
    -------
    pandas.DataFrame
        ``column`` (the template header), ``required`` (``"yes"``/``"no"``),
        ``what to write`` (the schema description), ``allowed`` (range or values;
        ``""`` when free), ``unit``.
    """
    spec = table_spec(table)
    cols = _columns(spec, include_patient_id)
    return pd.DataFrame({
        "column": [TEMPLATE_HEADERS[c.name] for c in cols],
        "required": ["yes" if c.required and c.name != "side" else "no" for c in cols],
        "what to write": [c.description for c in cols],
        "allowed": [c.range_text() for c in cols],
        "unit": [c.unit for c in cols],
    }, dtype="string")


def template_csv(table: str, *, include_patient_id: bool = False) -> bytes:
    """The template as a UTF-8 CSV (with a byte-order mark so that Excel shows accents).

    Returns
    -------
    bytes
        :func:`template_frame` written by :func:`analysis.export.to_csv_bytes`.
    """
    return to_csv_bytes(template_frame(table, include_patient_id=include_patient_id))


def template_xlsx(table: str, *, include_patient_id: bool = False) -> bytes:
    """The template as an Excel workbook.

    Returns
    -------
    bytes
        An ``.xlsx`` with the sheet ``<table>`` (the template; dates and times
        are written as text in ISO form so that no locale can swap day and
        month; numbers as numbers) and the sheet ``How to fill in``
        (:func:`template_help`). Ingestion reads the sheet named after the table.
    """
    spec = table_spec(table)
    frame = template_frame(table, include_patient_id=include_patient_id).astype(object)
    for c in _columns(spec, include_patient_id):
        header = TEMPLATE_HEADERS[c.name]
        if c.is_numeric:
            frame[header] = pd.to_numeric(frame[header].replace("", None), errors="coerce").astype(object)
            frame[header] = frame[header].where(frame[header].notna(), None)
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name=spec.name, index=False)
        template_help(table, include_patient_id=include_patient_id).to_excel(
            writer, sheet_name=_SHEET_HELP, index=False)
        for sheet in writer.sheets.values():
            for column in sheet.columns:
                width = max(len(str(cell.value or "")) for cell in column)
                sheet.column_dimensions[column[0].column_letter].width = min(max(width + 2, 10), 60)
    return buffer.getvalue()


def template_filename(table: str, fmt: str) -> str:
    """File name offered for download, e.g. ``rehabtrack-sessions-template.csv``.

    Parameters
    ----------
    table
        Canonical table name.
    fmt
        ``"csv"`` or ``"xlsx"``.
    """
    if table not in TABLES:
        raise KeyError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"unknown template format {fmt!r}: choose csv or xlsx")
    return f"rehabtrack-{table}-template.{fmt}"
