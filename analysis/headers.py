"""Column headers people write, mapped to the canonical columns of :mod:`analysis.schema`.

A header is *folded* before it is looked up: accents and case are dropped, a
unit in brackets is set aside (``"Hold (s)"``, ``"Pain (0-10)"``,
``"Hold [sec]"``) and every run of punctuation, underscores or spaces becomes
one space, so ``"Exercise_Name"``, ``"exercise name"`` and ``"EXERCISE-NAME"``
are the same header. The folded header is then looked up in the synonyms of
the table being read; the canonical column name and its plain-words label are
always synonyms of themselves.

Some words mean different columns in different tables: ``"Date"`` is
``performed_at`` in a sessions log, ``recorded_at`` in a pain diary and
``completed_at`` in a questionnaire export; ``"Pain"`` is ``pain_during`` in a
sessions log and ``nprs`` in a pain diary. Synonyms are therefore kept per
table.

:func:`detect_table` picks the table whose required columns a file provides,
preferring the one that uses most of the file's columns.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from analysis.errors import MissingColumnsError, UnknownTableError
from analysis.schema import TABLES, TableSpec, table_spec

__all__ = [
    "COLUMN_LABELS",
    "SYNONYMS",
    "PERSON_HEADERS",
    "TIME_OF_DAY_HEADERS",
    "HeaderMatch",
    "fold_header",
    "header_unit",
    "match_headers",
    "detect_table",
]

#: Plain words for each canonical column, used in reasons shown to patients.
COLUMN_LABELS: dict[str, str] = {
    "patient_id": "patient ID",
    "physio_id": "physio ID",
    "programme_start": "programme start date",
    "age_band": "age band",
    "condition_notes": "condition notes",
    "exercise": "exercise",
    "side": "side",
    "sets": "sets",
    "reps": "repetitions",
    "hold_s": "hold time in seconds",
    "sessions_per_week": "sessions per week",
    "start_date": "start date",
    "end_date": "end date",
    "performed_at": "date",
    "pain_during": "pain during the exercise",
    "rpe": "effort (RPE)",
    "notes": "notes",
    "recorded_at": "date",
    "nprs": "pain",
    "location": "pain location",
    "flare": "flare-up",
    "completed_at": "date",
    "instrument": "questionnaire",
    "item": "item",
    "value": "value",
}

# Synonyms shared by every table that has the column.
_COMMON: dict[str, tuple[str, ...]] = {
    "patient_id": (
        "patient", "patient id", "patient no", "patient number", "patient code", "pid",
        "client", "client id", "subject", "subject id", "participant", "participant id",
        "user", "user id",
    ),
    "exercise": (
        "exercise", "exercise name", "exercise title", "exercise type", "name", "activity",
        "stretch", "movement",
    ),
    "side": ("side", "leg", "laterality", "left right", "l r", "which side", "side worked"),
    "sets": ("sets", "set", "number of sets", "no of sets", "n sets", "sets done", "sets completed"),
    "reps": (
        "reps", "rep", "repetitions", "repetition", "reps per set", "number of reps", "no of reps",
        "n reps", "times",
    ),
    "hold_s": (
        "hold", "hold time", "hold s", "hold sec", "hold secs", "hold second", "hold seconds",
        "hold duration", "hold for", "seconds", "duration", "duration s",
    ),
    "notes": ("notes", "note", "comment", "comments", "remarks", "remark"),
}

# Headers that mean "minutes" for the hold column; the values are converted to seconds.
_HOLD_MINUTES: tuple[str, ...] = ("hold m", "hold min", "hold mins", "hold minute", "hold minutes", "hold time min")

_EVENT_TIME: tuple[str, ...] = ("date", "time", "date time", "datetime", "timestamp", "when", "day")

#: Folded headers of a column that names a person without being a patient ID (``Athlete``, ``Name``): a file
#: for one patient with several values here holds several people's logs (see :mod:`analysis.tables`).
PERSON_HEADERS: frozenset[str] = frozenset({
    "athlete", "athlete name", "athlete id", "name", "person", "person name", "patient name", "client name",
    "participant name", "subject name", "full name", "first name", "last name", "surname", "member",
    "member name", "player", "player name", "user name", "username", "who", "trainee", "runner",
})

#: Folded headers of a separate time-of-day column (read together with the date column).
TIME_OF_DAY_HEADERS: frozenset[str] = frozenset({
    "time", "time of day", "clock", "clock time", "hour", "at", "time recorded", "recorded time", "session time",
})

# Table-specific synonyms (added to the common ones above).
_BY_TABLE: dict[str, dict[str, tuple[str, ...]]] = {
    "patients": {
        "patient_id": ("id",),
        "physio_id": (
            "physio", "physio id", "physiotherapist", "physiotherapist id", "therapist", "therapist id",
            "clinician", "clinician id", "physical therapist", "treating physio",
        ),
        "programme_start": (
            "programme start", "program start", "programme start date", "program start date",
            "start", "start date", "started", "date started", "first day",
        ),
        "age_band": ("age", "age band", "age group", "age range", "age years"),
        "condition_notes": ("condition", "diagnosis", "condition notes", "clinical notes", "notes"),
    },
    "prescriptions": {
        "sessions_per_week": (
            "sessions per week", "sessions week", "sessions a week", "per week", "times per week",
            "times a week", "frequency", "days per week", "weekly sessions", "sessions weekly",
        ),
        "start_date": (
            "start", "start date", "from", "date from", "valid from", "begin", "begins",
            "prescribed on", "date prescribed", "date",
        ),
        "end_date": ("end", "end date", "to", "until", "date to", "valid until", "stop", "stop date"),
    },
    "sessions": {
        "performed_at": (
            *_EVENT_TIME, "performed", "performed at", "performed on", "session date", "session time",
            "done at", "done on", "completed at", "start time", "date performed", "workout date",
        ),
        "pain_during": (
            "pain", "pain during", "pain during exercise", "pain score", "nprs", "nrs", "pain level",
            "pain rating", "discomfort",
        ),
        "rpe": ("rpe", "effort", "exertion", "borg", "perceived exertion", "rate of perceived exertion"),
        "notes": ("exercise notes", "how it felt"),
    },
    "pain": {
        "recorded_at": (*_EVENT_TIME, "recorded", "recorded at", "recorded on", "rated at", "date recorded"),
        "nprs": (
            "nprs", "nrs", "pain", "pain score", "pain level", "pain rating", "pain intensity",
            "pain nrs", "pain nprs", "score",
        ),
        "location": ("location", "where", "pain location", "site", "area", "pain site"),
        "flare": ("flare", "flare up", "flareup", "flare ups", "flare today"),
    },
    "proms": {
        "completed_at": (
            *_EVENT_TIME, "completed", "completed at", "completed on", "date completed", "answered on",
        ),
        "instrument": ("instrument", "questionnaire", "measure", "prom", "outcome measure", "scale"),
        "item": ("item", "question", "item number", "question number", "item no", "question no"),
        "value": ("value", "score", "answer", "response", "result", "total"),
    },
}


def fold_header(header: object) -> str:
    """Fold a header for lookup: no accents, lower case, no bracketed unit, single spaces.

    Parameters
    ----------
    header
        A column header as written in a file.

    Returns
    -------
    str
        The folded header, e.g. ``"hold"`` for ``"Hold (s)"`` and
        ``"exercise name"`` for ``"Exercise_Name"``.

    Examples
    --------
    >>> fold_header("Pain (0-10)")
    'pain'
    >>> fold_header(" Exercise_Name ")
    'exercise name'
    """
    text = unicodedata.normalize("NFKD", str(header))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower().replace("\ufeff", "")
    text = re.sub(r"\([^)]*\)|\[[^\]]*\]|\{[^}]*\}", " ", text)
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def header_unit(header: object) -> str:
    """The unit written in brackets in a header (``"s"`` for ``"Hold (s)"``), folded; ``""`` if none."""
    found = re.search(r"\(([^)]*)\)|\[([^\]]*)\]", str(header))
    if not found:
        return ""
    return fold_header(found.group(1) if found.group(1) is not None else found.group(2))


def _synonyms(spec: TableSpec) -> dict[str, str]:
    """Folded header -> canonical column for one table."""
    lookup: dict[str, str] = {}
    extra = _BY_TABLE.get(spec.name, {})
    for col in spec.column_names:
        names = (col, COLUMN_LABELS.get(col, col), *_COMMON.get(col, ()), *extra.get(col, ()))
        for name in names:
            lookup.setdefault(fold_header(name), col)
    if "hold_s" in spec.column_names:
        for name in _HOLD_MINUTES:
            lookup.setdefault(fold_header(name), "hold_s")
    return lookup


#: Folded header -> canonical column, per table.
SYNONYMS: dict[str, dict[str, str]] = {name: _synonyms(spec) for name, spec in TABLES.items()}

_MINUTE_UNITS = frozenset({"min", "mins", "minute", "minutes", "m"})


@dataclass(frozen=True)
class HeaderMatch:
    """How the headers of one file map to the columns of one canonical table.

    Attributes
    ----------
    table
        Canonical table name.
    mapping
        File header -> canonical column, in file order.
    ignored
        File headers that map to no column of the table (their values are not read).
    repeated
        File headers that map to a column an earlier header already provides
        (``(header, canonical)``); the earlier one is used.
    missing
        Required canonical columns no header provides (after ``fillable``).
    scale
        Canonical column -> factor applied to its numbers (60 for a hold in minutes).
    """

    table: str
    mapping: dict[str, str]
    ignored: tuple[str, ...] = ()
    repeated: tuple[tuple[str, str], ...] = ()
    missing: tuple[str, ...] = ()
    scale: dict[str, float] = field(default_factory=dict)

    @property
    def canonical(self) -> set[str]:
        """Canonical columns the file provides."""
        return set(self.mapping.values())


def match_headers(headers: Sequence[object], table: str, fillable: Iterable[str] = ()) -> HeaderMatch:
    """Map file headers to the canonical columns of ``table``.

    Parameters
    ----------
    headers
        The file's column headers, in order.
    table
        Canonical table name.
    fillable
        Required columns that may be absent because ingestion fills them
        (``patient_id`` when the caller names the patient, ``side``).

    Returns
    -------
    HeaderMatch
        The mapping; a header written exactly as the canonical name wins over a
        synonym, otherwise the first header that maps to a column wins.
    """
    spec = table_spec(table)
    lookup = SYNONYMS[spec.name]
    candidates: dict[str, list[tuple[int, str]]] = {}
    ignored: list[str] = []
    for position, header in enumerate(headers):
        text = str(header)
        folded = fold_header(text)
        col = lookup.get(folded)
        if col is None:
            ignored.append(text)
            continue
        exact = 0 if text.strip() == col else 1
        candidates.setdefault(col, []).append((exact * 10_000 + position, text))
    chosen: dict[str, str] = {}
    repeated: list[tuple[str, str]] = []
    for col, options in candidates.items():
        options.sort()
        chosen[options[0][1]] = col
        repeated.extend((text, col) for _, text in options[1:])
    order = {str(h): i for i, h in reversed(list(enumerate(headers)))}
    mapping = dict(sorted(chosen.items(), key=lambda item: order[item[0]]))
    scale: dict[str, float] = {}
    for header, col in mapping.items():
        if col == "hold_s":
            folded = fold_header(header)
            words = folded.split()
            unit = header_unit(header) or (words[-1] if len(words) > 1 else "")
            if unit in _MINUTE_UNITS:
                scale[col] = 60.0
    fill = set(fillable)
    provided = set(mapping.values())
    missing = tuple(c for c in spec.required if c not in provided and c not in fill)
    return HeaderMatch(spec.name, mapping, tuple(ignored), tuple(repeated), missing, scale)


def detect_table(
    headers: Sequence[object], fillable: Iterable[str] = (), *, source: str | None = None
) -> HeaderMatch:
    """Find the canonical table a file's headers describe.

    Parameters
    ----------
    headers
        The file's column headers.
    fillable
        Required columns ingestion can fill (see :func:`match_headers`).
    source
        File name for error messages.

    Returns
    -------
    HeaderMatch
        The match of the table that has all its required columns and uses the
        most of the file's columns (ties: the order of :data:`analysis.schema.TABLES`).

    Raises
    ------
    MissingColumnsError
        When no table is complete but one matches at least two columns: the
        table missing the fewest required columns (then: using the most of the
        file's columns) is named with its missing columns.
    UnknownTableError
        When the headers match no table at all.
    """
    fill = tuple(fillable)
    matches = [match_headers(headers, name, fill) for name in TABLES]
    complete = [m for m in matches if not m.missing]
    if complete:
        return max(complete, key=lambda m: len(m.mapping))  # max keeps the first of equals
    best = min(matches, key=lambda m: (len(m.missing), -len(m.mapping)))  # min keeps the first of equals
    found = [str(h) for h in headers]
    if len(best.mapping) >= 2:
        raise MissingColumnsError(best.table, best.missing, found=found, source=source)
    shown = ", ".join(repr(h) for h in found) or "none"
    raise UnknownTableError(
        f"could not tell what kind of log this is: the columns ({shown}) match none of the "
        f"tables {', '.join(TABLES)}. Check that the first line holds the column names, "
        "or choose the table explicitly.",
        source=source,
    )
