"""The canonical long-format tables of rehabtrack, defined once.

Every table a user can upload or the store keeps is described here by a
:class:`TableSpec`: its columns, their pandas dtypes, units, allowed ranges and
whether they are required. The validation engine (:mod:`analysis.validation`)
checks uploads and in-app entries against these specs, the pandera schemas the
tests use as an independent check are built from them, the tests generate data
from them and the README's data-model section is printed from them
(``python -m analysis.schema``). :class:`CohortTables` holds the five tables of
one cohort, as the store and the sample data return them.

Conventions
-----------
* Identifiers (``patient_id``, ``physio_id``) and vocabularies (``exercise``,
  ``side``, ``instrument``) are pandas ``string`` columns.
* Timestamps are naive local ``datetime64[ns]``; a date without a time of day is
  midnight of that date. Date columns (``programme_start``, ``start_date``,
  ``end_date``) are normalised to midnight.
* Counts and 0-10 ratings are nullable integers (``Int64``); durations are
  ``float64`` seconds.
* Free text (``notes``, ``condition_notes``) is stored as text and never
  interpreted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analysis.timeline import DateLike, resolve_as_of

__all__ = [
    "ColumnSpec",
    "TableSpec",
    "SIDES",
    "PAIN_LOCATIONS",
    "INSTRUMENTS",
    "TABLES",
    "CohortTables",
    "PATIENTS",
    "PRESCRIPTIONS",
    "SESSIONS",
    "PAIN",
    "PROMS",
    "table_spec",
    "empty_frame",
    "conform",
    "pandera_schema",
    "markdown_data_model",
]

#: Allowed values of ``side``: a one-sided exercise (knee-to-chest) is logged per
#: leg; ``both`` covers two-sided exercises and sessions that did not record a side.
SIDES: tuple[str, ...] = ("left", "right", "both")

#: Allowed values of ``pain.location``.
PAIN_LOCATIONS: tuple[str, ...] = ("back", "leg", "both")

#: Instruments accepted in the ``proms`` table (see :mod:`analysis.instruments`).
INSTRUMENTS: tuple[str, ...] = ("odi", "rmdq", "psfs", "startback", "nprs", "vas")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a canonical table.

    Attributes
    ----------
    name
        Canonical column name.
    dtype
        pandas dtype of the column once ingested (``"string"``,
        ``"datetime64[ns]"``, ``"Int64"``, ``"float64"`` or ``"boolean"``).
    required
        Whether a file must provide the column (and every row a value in it).
    unit
        Unit of measurement, or ``""`` where none applies.
    description
        One line for the documentation and for error messages.
    min, max
        Inclusive allowed range for numbers, or ``None``.
    allowed
        Allowed values for vocabulary columns, or ``None`` for free values.
    date_only
        For datetime columns: the time of day is dropped (normalised to midnight).
    example
        The value shown in the README's example row.
    """

    name: str
    dtype: str
    required: bool
    unit: str
    description: str
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    date_only: bool = False
    example: Any = None

    @property
    def is_datetime(self) -> bool:
        """True for timestamp and date columns."""
        return self.dtype.startswith("datetime")

    @property
    def is_numeric(self) -> bool:
        """True for integer and float columns."""
        return self.dtype in ("Int64", "float64")

    def range_text(self) -> str:
        """Human-readable allowed range, e.g. ``"0 to 10"`` or ``"left, right or both"``."""
        if self.allowed is not None:
            values = list(self.allowed)
            if len(values) == 1:
                return values[0]
            return ", ".join(values[:-1]) + " or " + values[-1]
        if self.min is not None and self.max is not None:
            return f"{self.min:g} to {self.max:g}"
        if self.min is not None:
            return f"at least {self.min:g}"
        if self.max is not None:
            return f"at most {self.max:g}"
        return ""


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its columns, natural key and an example row.

    Attributes
    ----------
    name
        Table name (``patients``, ``prescriptions``, ``sessions``, ``pain``, ``proms``).
    description
        What one row means.
    columns
        The columns in canonical order.
    key
        Columns that identify one row; two rows with the same key are the same
        record (a duplicate inside a file, or an overlap with an earlier upload).
    """

    name: str
    description: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        """Canonical column names in order."""
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        """Names of the required columns."""
        return [c.name for c in self.columns if c.required]

    @property
    def dtypes(self) -> dict[str, str]:
        """Mapping of column name to pandas dtype."""
        return {c.name: c.dtype for c in self.columns}

    def column(self, name: str) -> ColumnSpec:
        """The spec of column ``name``; ``KeyError`` if the table has none."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    def example_row(self) -> dict[str, Any]:
        """One illustrative row, as a user would write it in a file."""
        return {c.name: c.example for c in self.columns}


_PATIENT_ID = ColumnSpec(
    "patient_id", "string", True, "", "Pseudonymous patient identifier", example="P001"
)

PATIENTS = TableSpec(
    name="patients",
    description="One row per patient: who treats them and when the programme started.",
    columns=(
        _PATIENT_ID,
        ColumnSpec("physio_id", "string", True, "", "Treating physiotherapist", example="physio_a"),
        ColumnSpec(
            "programme_start",
            "datetime64[ns]",
            True,
            "date",
            "First day of the home exercise programme (day 1 of week 1)",
            date_only=True,
            example="2026-09-07",
        ),
        ColumnSpec(
            "age_band",
            "string",
            False,
            "years",
            "Age band",
            allowed=("18-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+"),
            example="40-49",
        ),
        ColumnSpec(
            "condition_notes", "string", False, "", "Free-text condition notes", example="chronic LBP"
        ),
    ),
    key=("patient_id",),
)

_EXERCISE = ColumnSpec(
    "exercise",
    "string",
    True,
    "",
    "Exercise, normalised to the vocabulary in analysis.exercises (unknown names kept as written)",
    example="knee_to_chest",
)
_SIDE = ColumnSpec(
    "side", "string", True, "", "Side worked", allowed=SIDES, example="left"
)

PRESCRIPTIONS = TableSpec(
    name="prescriptions",
    description=(
        "One row per prescription period of one exercise and side: the dose the physio "
        "prescribed from start_date to end_date (inclusive; empty = open-ended)."
    ),
    columns=(
        _PATIENT_ID,
        _EXERCISE,
        _SIDE,
        ColumnSpec("sets", "Int64", True, "sets", "Prescribed sets per session", 1, 20, example=1),
        ColumnSpec("reps", "Int64", True, "repetitions", "Prescribed repetitions per set", 1, 100, example=10),
        ColumnSpec("hold_s", "float64", True, "s", "Prescribed hold per repetition (0 = no hold)", 0, 600, example=5),
        ColumnSpec(
            "sessions_per_week", "Int64", True, "sessions/week", "Prescribed sessions per week", 1, 14, example=5
        ),
        ColumnSpec(
            "start_date", "datetime64[ns]", True, "date", "First day of this period", date_only=True,
            example="2026-09-07",
        ),
        ColumnSpec(
            "end_date", "datetime64[ns]", False, "date", "Last day of this period (empty = open-ended)",
            date_only=True, example="2026-09-20",
        ),
    ),
    key=("patient_id", "exercise", "side", "start_date"),
)

SESSIONS = TableSpec(
    name="sessions",
    description="One row per exercise and side performed in a session.",
    columns=(
        _PATIENT_ID,
        ColumnSpec(
            "performed_at", "datetime64[ns]", True, "datetime", "When the exercise was done",
            example="2026-09-08 07:30",
        ),
        _EXERCISE,
        _SIDE,
        ColumnSpec("sets", "Int64", True, "sets", "Sets done", 0, 20, example=1),
        ColumnSpec("reps", "Int64", True, "repetitions", "Repetitions per set", 0, 200, example=10),
        ColumnSpec("hold_s", "float64", False, "s", "Hold per repetition", 0, 600, example=5),
        ColumnSpec(
            "pain_during", "Int64", False, "NPRS 0-10", "Pain during the exercise (0 = none, 10 = worst)",
            0, 10, example=2,
        ),
        ColumnSpec("rpe", "Int64", False, "Borg CR10", "Rating of perceived exertion", 0, 10, example=3),
        ColumnSpec("notes", "string", False, "", "Free-text notes", example="felt stiff"),
    ),
    key=("patient_id", "performed_at", "exercise", "side"),
)

PAIN = TableSpec(
    name="pain",
    description="One row per pain rating (numeric pain rating scale, 0-10).",
    columns=(
        _PATIENT_ID,
        ColumnSpec(
            "recorded_at", "datetime64[ns]", True, "datetime", "When the rating was made",
            example="2026-09-08 20:00",
        ),
        ColumnSpec(
            "nprs", "Int64", True, "points (0-10)", "Numeric pain rating: 0 = no pain, 10 = worst imaginable",
            0, 10, example=6,
        ),
        ColumnSpec("location", "string", False, "", "Where the pain is", allowed=PAIN_LOCATIONS, example="back"),
        ColumnSpec("flare", "boolean", False, "", "Patient reports a flare-up", example="no"),
        ColumnSpec("notes", "string", False, "", "Free-text notes", example="after gardening"),
    ),
    key=("patient_id", "recorded_at"),
)

PROMS = TableSpec(
    name="proms",
    description=(
        "Patient-reported outcome questionnaires in long format: one row per item "
        "response, or one row with item 'total' for a total score."
    ),
    columns=(
        _PATIENT_ID,
        ColumnSpec(
            "completed_at", "datetime64[ns]", True, "datetime", "When the questionnaire was completed",
            example="2026-09-07",
        ),
        ColumnSpec(
            "instrument", "string", True, "", "Questionnaire (see analysis.instruments)",
            allowed=INSTRUMENTS, example="odi",
        ),
        ColumnSpec(
            "item", "string", True, "", "Item number ('1', '2', ...) or 'total'", example="total"
        ),
        ColumnSpec(
            "value", "float64", True, "instrument units",
            "Item response or total score (range depends on the instrument)", 0, 100, example=32,
        ),
    ),
    key=("patient_id", "completed_at", "instrument", "item"),
)

#: Every canonical table by name.
TABLES: dict[str, TableSpec] = {
    t.name: t for t in (PATIENTS, PRESCRIPTIONS, SESSIONS, PAIN, PROMS)
}


def table_spec(table: str | TableSpec) -> TableSpec:
    """Return the :class:`TableSpec` for a table name (or pass a spec through).

    Raises
    ------
    KeyError
        If ``table`` is not one of :data:`TABLES`.
    """
    if isinstance(table, TableSpec):
        return table
    try:
        return TABLES[table]
    except KeyError:
        raise KeyError(
            f"unknown table {table!r}; expected one of {', '.join(TABLES)}"
        ) from None


def empty_frame(table: str | TableSpec) -> pd.DataFrame:
    """An empty DataFrame with the canonical columns and dtypes of ``table``."""
    spec = table_spec(table)
    return pd.DataFrame({c.name: pd.Series(dtype=c.dtype) for c in spec.columns})


def conform(frame: pd.DataFrame, table: str | TableSpec) -> pd.DataFrame:
    """Return ``frame`` with exactly the canonical columns, order and dtypes.

    Missing optional columns are added empty; extra columns are dropped. Values
    are cast, not validated: use :func:`analysis.tables.ingest_frame` for data
    from outside.
    """
    spec = table_spec(table)
    out = {}
    for c in spec.columns:
        dtype: Any = c.dtype  # a dtype name ("Int64", "string", ...): pandas-stubs types astype by literal
        if c.name in frame.columns:
            col = frame[c.name]
            if c.is_datetime:
                col = pd.to_datetime(col)
                if c.date_only:
                    col = col.dt.normalize()
                out[c.name] = col.astype(dtype)
            else:
                out[c.name] = col.astype(dtype)
        else:
            out[c.name] = pd.Series(index=frame.index, dtype=c.dtype)  # all missing
    return pd.DataFrame(out, index=frame.index)


@dataclass(frozen=True)
class CohortTables:
    """The canonical tables of one cohort (see :data:`TABLES`).

    Attributes
    ----------
    patients, prescriptions, sessions, pain, proms
        Canonical DataFrames; empty tables have the canonical columns.
    """

    patients: pd.DataFrame
    prescriptions: pd.DataFrame
    sessions: pd.DataFrame
    pain: pd.DataFrame
    proms: pd.DataFrame

    @classmethod
    def empty(cls) -> CohortTables:
        """A cohort with no rows in any table."""
        return cls(*(empty_frame(t) for t in ("patients", "prescriptions", "sessions", "pain", "proms")))

    def as_of(self, as_of: DateLike | None = None) -> pd.Timestamp:
        """The analysis day: ``as_of`` if given, else the day after the last session or pain entry.

        Parameters
        ----------
        as_of
            An explicit analysis date (anything :class:`pandas.Timestamp` reads), or ``None``.

        Returns
        -------
        pandas.Timestamp
            See :func:`analysis.timeline.resolve_as_of`.
        """
        return resolve_as_of(as_of, (self.sessions, "performed_at"), (self.pain, "recorded_at"))


def pandera_schema(table: str | TableSpec) -> Any:
    """Build the pandera ``DataFrameSchema`` of a canonical table.

    The schema checks dtypes, required values (non-null), allowed ranges and
    vocabularies, and is validated lazily so that every failing cell is reported
    at once (``SchemaErrors.failure_cases``).
    """
    import pandera.pandas as pa  # imported lazily: pandera adds ~0.5 s to import time

    spec = table_spec(table)
    columns = {}
    for c in spec.columns:
        checks = []
        if c.min is not None:
            checks.append(pa.Check.ge(c.min))
        if c.max is not None:
            checks.append(pa.Check.le(c.max))
        if c.allowed is not None and c.name != "exercise":
            checks.append(pa.Check.isin(list(c.allowed)))
        columns[c.name] = pa.Column(c.dtype, checks=checks, nullable=not c.required, required=True)
    return pa.DataFrameSchema(columns, strict=True, ordered=True, name=spec.name)


def markdown_data_model() -> str:
    """The data model as Markdown: one table per canonical table, with an example row."""
    lines: list[str] = []
    for spec in TABLES.values():
        lines.append(f"### `{spec.name}`\n")
        lines.append(spec.description + "\n")
        lines.append("| column | required | type | unit | allowed | meaning |")
        lines.append("|---|---|---|---|---|---|")
        for c in spec.columns:
            lines.append(
                f"| `{c.name}` | {'yes' if c.required else 'no'} | {c.dtype} | {c.unit} | "
                f"{c.range_text()} | {c.description} |"
            )
        header = ",".join(spec.column_names)
        example = ",".join("" if v is None else str(v) for v in spec.example_row().values())
        lines.append("\nExample (CSV):\n")
        lines.append("```csv\n" + header + "\n" + example + "\n```\n")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - documentation helper
    print(markdown_data_model())
