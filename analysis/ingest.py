"""Read any supported log file into a canonical table, row by row accountable.

Ingestion is the one place where data from outside enter rehabtrack.
:func:`ingest_file` is its front door (the upload page, ``rehabtrack validate``,
the store's uploads and the sample cohort all go through it). The work is done
by modules that depend on each other in one direction only::

    analysis.ingest        ingest_file: the public entry point
      -> analysis.importers  the format dispatcher (Strong, Hevy, FitNotes, FHIR, or a rehabtrack table)
        -> analysis.tables     headers -> canonical columns, IngestResult
          -> analysis.validation  the schema-driven checks (also used by the store for in-app entries)
          -> analysis.reading     bytes / path -> raw table (encodings, BOM, delimiters, Excel, JSON)

1. :mod:`analysis.reading` reads the file: CSV with any of the delimiters
   ``, ; tab |``, UTF-8 with or without a byte-order mark, UTF-16, Windows-1252
   / Latin-1; Excel ``.xlsx``; JSON records;
2. :mod:`analysis.importers` recognises app exports and FHIR from the content
   and turns them into rows; anything else is a rehabtrack table;
3. :mod:`analysis.tables` maps the headers people write to canonical columns
   (:mod:`analysis.headers`) and, unless told, works out which table the file is;
4. :mod:`analysis.validation` converts every cell to the canonical dtype of
   :mod:`analysis.schema`, checks it against the ranges and vocabularies defined
   there (and nowhere else), and reports file-level failures first, then every
   rejected row as ``(row, column, check, value, reason)``;
5. the result is one :class:`~analysis.tables.IngestResult`: the accepted rows
   as a canonical table, every rejected row and warnings. Nothing is lost
   silently: ``n_accepted + n_rejected + n_duplicates == n_rows``.

Row numbers are those a person sees in a spreadsheet: the header is row 1 and
the first data row is row 2 (for JSON: the 1-based record number).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

from analysis.importers import dispatch
from analysis.importers.fhir import FhirMapping
from analysis.tables import IngestResult

__all__ = ["ingest_file"]


def ingest_file(
    source: str | Path | bytes,
    *,
    filename: str | None = None,
    table: str | None = None,
    patient_id: str | None = None,
    dayfirst: bool = True,
    today: date | None = None,
    timezone: str | None = None,
    fhir_mapping: FhirMapping | None = None,
    people: Mapping[str, str] | None = None,
) -> IngestResult:
    """Read, map, convert and validate one log file.

    Parameters
    ----------
    source
        A path, or the file's bytes (an upload).
    filename
        Name of the uploaded file (used for its extension and in messages);
        defaults to the path's name, or ``"<upload>"``.
    table
        Canonical table (``"sessions"``, ``"pain"``, ``"prescriptions"``,
        ``"patients"``, ``"proms"``); ``None`` works it out from the columns.
    patient_id
        The patient whose own file this is: fills the ``patient_id`` column;
        rows naming another patient are rejected.
    dayfirst
        Read dates such as 01/02/2026 as 1 February (True, the default) or as
        January 2 (False). ISO dates (2026-02-01) are unaffected.
    today
        Dates of things that happened (session, pain rating, questionnaire)
        after this day are rejected; default :meth:`datetime.date.today`.
    timezone
        The clinic's IANA time zone (:attr:`analysis.settings.Settings.timezone`,
        the default): a time written with a UTC offset becomes the wall-clock
        time of that zone, with a warning.
    fhir_mapping
        For FHIR input: which codes and questionnaire linkIds become rows
        (:class:`analysis.importers.fhir.FhirMapping`, e.g. read from a CSV file
        with ``FhirMapping.from_csv``); default the built-in mapping.
    people
        For a file holding several people's logs (a column such as ``Athlete``
        or ``Patient`` with several values): the patient ID chosen for each
        value. Every value needs one, else the file is refused. Not together
        with ``patient_id``.

    Returns
    -------
    IngestResult
        See :class:`analysis.tables.IngestResult` for every field. App exports
        (Strong, Hevy, FitNotes) and FHIR R4 JSON are recognised from the
        content and read by :mod:`analysis.importers`; ``format`` then names
        the importer.

    Raises
    ------
    UnreadableFileError
        The file is missing, empty, binary, has a header but no rows, or cannot
        be parsed as CSV / xlsx / JSON.
    MissingColumnsError
        Required columns are absent.
    UnknownTableError
        ``table`` is not a canonical table, or the columns match none
        (:class:`analysis.importers.UnknownFormatError`, listing the formats).
    SeveralPeopleError
        ``patient_id`` is given but the file names several people, or ``people``
        leaves some of them without a patient.
    DayOrderError
        The file's dates are only valid in the other day order than ``dayfirst``.
    """
    return dispatch(source, filename=filename, table=table, patient_id=patient_id, dayfirst=dayfirst, today=today,
                    timezone=timezone, fhir_mapping=fhir_mapping, people=people)
