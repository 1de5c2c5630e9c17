"""FHIR R4 resources (Observation, QuestionnaireResponse) to canonical ``pain`` and ``proms`` rows.

Accepted input: a ``Bundle`` (any type; entries read in order), a single
resource, a JSON array of resources, NDJSON (one resource per line, as bulk
data exports write), or a folder of such ``.json`` / ``.ndjson`` files (read in
name order). Every resource is validated with the maintained FHIR model
library fhir.resources (R4B models, identical to R4 for these resources; see
:mod:`analysis.interop.fhir`); an invalid resource is rejected with the
library's reason, never half-read.

What becomes a row is decided by a :class:`FhirMapping`: data, not code. The
built-in mapping is the CSV file ``analysis/data/fhir_mapping.csv`` plus the
LOINC answer list table ``analysis/data/loinc_LL2335-9.csv``; a clinic adds
rows of the same columns in its own CSV file (``rehabtrack validate|upload FILE
--fhir-mapping my.csv``, or ``<data dir>/fhir_mapping.csv`` for the app,
:func:`clinic_fhir_mapping`), read by :meth:`FhirMapping.from_csv`:

* ``Observation`` (and each of its ``component``) whose code is mapped:
  by default LOINC 72514-3 -> a ``pain`` row (``valueInteger``, or
  ``valueQuantity.value`` in ``{score}``, or an answer coding), 97909-6 -> the
  ODI total and 38214-3 -> the VAS total in ``proms``.
  ``effectiveDateTime`` (or ``effectiveInstant``, ``effectivePeriod.start``) is
  the time; ``bodySite.text`` the pain location; ``note.text`` the notes; the
  extension :data:`analysis.interop.fhir.FLARE_EXTENSION` the flare.
* ``QuestionnaireResponse`` answers whose ``linkId`` is mapped (for any
  questionnaire, or for one questionnaire URL): by default the linkIds
  ``72514-3``, ``97909-6`` and ``38214-3`` (also written ``/72514-3``). Real
  clinic forms name their questions by ``linkId`` only
  (``current_pain_level``): one mapping row each
  (``item,*,current_pain_level,pain,,,``) reads them. An answer is a number
  (``valueInteger``, ``valueDecimal``, ``valueQuantity``), or a coding turned
  into a number by the mapping's answer codes (by default the LOINC answers
  LA6111-4 = 0 ... LA13942-0 = 10 of answer list LL2335-9, the list of 72514-3)
  or by the coding's ``ordinalValue`` extension. ``authored`` is the time.
  When nothing maps, the message lists the linkIds found.
* Times with a UTC offset (``2026-09-08T20:00:00+02:00``) become wall-clock
  times of the clinic's time zone (``timezone``), with a warning
  (:mod:`analysis.validation`).
* A field FHIR R4 does not define (a vendor's ``__phdpCreated`` at the top
  level, an unknown key inside an extension or an item) is left out with a
  warning; the resource is read. Any other invalid content rejects the
  resource.
* The patient is ``subject``: ``Patient/<id>`` gives ``<id>``; a reference to a
  Patient in the same bundle gives its first identifier (else its id); a
  logical reference gives its identifier value.

Rows are then checked by the generic ingestion (ranges, dates, duplicates,
the caller's patient), so a FHIR pain score of 11 is rejected for the same
reason as a CSV one. Row numbers are the numbers of the values read, in
file order, and every reason says where the value came from
(``"entry 3 (Observation obs-3): ..."``).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import UnknownTableError, UnreadableFileError
from analysis.interop.fhir import (
    FLARE_EXTENSION,
    LOINC,
    ODI_CODE,
    PAIN_CODE,
    PATIENT_ID_SYSTEM,
    VAS_CODE,
    fhir_model,
    validate_resource,
)
from analysis.limits import current_limits
from analysis.schema import PAIN, PROMS, empty_frame
from analysis.tables import IngestResult, empty_row_info, ingest_frame
from analysis.validation import MALFORMED, REJECTED_COLUMNS, REQUIRED, STATUS, VOCABULARY

__all__ = [
    "LABEL",
    "FhirTarget",
    "FhirMapping",
    "DEFAULT_FHIR_MAPPING",
    "PAIN_ANSWER_CODES",
    "ORDINAL_EXTENSIONS",
    "FhirImport",
    "MAPPING_FILE_NAME",
    "DATA_FILES",
    "sniff_fhir",
    "read_fhir",
    "ingest_fhir",
    "clinic_fhir_mapping",
    "pack_folder",
    "read_answer_list",
]

#: How the importer is named in messages.
LABEL = "FHIR R4 bundle"

#: The mapping and answer-list tables shipped with rehabtrack (data, with their sources in the files).
DATA_FILES = Path(__file__).resolve().parents[1] / "data"
#: A clinic's own FHIR mapping in the data directory (read by the app; see :func:`clinic_fhir_mapping`).
MAPPING_FILE_NAME = "fhir_mapping.csv"
#: Marks the bytes of a folder packed for upload by :func:`pack_folder`.
_FOLDER_MARK = "rehabtrack_fhir_folder"


def _csv_rows(text: str) -> list[dict[str, str]]:
    """The rows of a CSV text whose lines starting with ``#`` are comments."""
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    return [{str(k).strip(): (v or "").strip() for k, v in rec.items() if k is not None}
            for rec in csv.DictReader(io.StringIO("\n".join(lines)))]


def read_answer_list(path: str | Path) -> dict[tuple[str, str], float]:
    """An answer-list table (``system,code,value[,display]``; ``#`` comments) as ``(system, code) -> number``.

    Examples
    --------
    >>> codes = read_answer_list(DATA_FILES / "loinc_LL2335-9.csv")
    >>> codes[("http://loinc.org", "LA6111-4")], codes[("http://loinc.org", "LA13942-0")], len(codes)
    (0.0, 10.0, 11)
    """
    return {(r["system"], r["code"]): float(r["value"])
            for r in _csv_rows(Path(path).read_text(encoding="utf-8-sig"))}


#: LOINC answer list LL2335-9 (0-10 pain scale of 72514-3): answer code -> number (from the shipped table).
PAIN_ANSWER_CODES: dict[str, float] = {
    code: value for (_, code), value in read_answer_list(DATA_FILES / "loinc_LL2335-9.csv").items()}
#: Extensions that give a coding its number (R4 ``ordinalValue``, R5 ``itemWeight``).
ORDINAL_EXTENSIONS: tuple[str, ...] = (
    "http://hl7.org/fhir/StructureDefinition/ordinalValue",
    "http://hl7.org/fhir/StructureDefinition/itemWeight",
)

_OK_OBSERVATION = frozenset({"final", "amended", "corrected", "preliminary"})
_OK_RESPONSE = frozenset({"completed", "amended"})
_VALUE_KEYS = ("valueInteger", "valueDecimal", "valueQuantity", "valueCoding", "valueCodeableConcept", "valueString")


@dataclass(frozen=True)
class FhirTarget:
    """Where a mapped FHIR value goes.

    Attributes
    ----------
    table
        ``"pain"`` (the value is the NPRS) or ``"proms"``.
    instrument
        For ``proms``: the instrument (``"odi"``, ``"rmdq"``, ...).
    item
        For ``proms``: the item (``"1"``, ``"2"``, ... or ``"total"``).
    """

    table: str
    instrument: str | None = None
    item: str = "total"

    def __post_init__(self) -> None:
        if self.table not in ("pain", "proms"):
            raise ValueError(f"a FHIR value can go to the pain or proms table, not {self.table!r}")
        if self.table == "proms" and not self.instrument:
            raise ValueError("a proms target needs an instrument (e.g. 'odi')")


@dataclass(frozen=True)
class FhirMapping:
    """The table that decides which FHIR values become rows (extend it; it is never edited in place).

    Attributes
    ----------
    observations
        ``(code system, code)`` of an Observation (or component) -> target.
    items
        ``(questionnaire URL or "*", linkId)`` of a QuestionnaireResponse item
        -> target; ``"*"`` matches any questionnaire.
    answers
        ``(code system, code)`` of an answer coding -> its number.
    """

    observations: Mapping[tuple[str, str], FhirTarget] = field(default_factory=dict)
    items: Mapping[tuple[str, str], FhirTarget] = field(default_factory=dict)
    answers: Mapping[tuple[str, str], float] = field(default_factory=dict)

    def extend(
        self,
        *,
        observations: Mapping[tuple[str, str], FhirTarget] | None = None,
        items: Mapping[tuple[str, str], FhirTarget] | None = None,
        answers: Mapping[tuple[str, str], float] | None = None,
    ) -> FhirMapping:
        """A new mapping with these entries added (they win over existing ones)."""
        return FhirMapping(
            observations={**self.observations, **(observations or {})},
            items={**self.items, **(items or {})},
            answers={**self.answers, **(answers or {})},
        )

    def to_frame(self) -> pd.DataFrame:
        """The mapping as a table with the columns of :meth:`from_csv`."""
        records = [
            {"kind": "observation", "system": s, "code": c, "table": t.table, "instrument": t.instrument or "",
             "item": t.item if t.table == "proms" else "", "value": ""}
            for (s, c), t in self.observations.items()
        ] + [
            {"kind": "item", "system": q, "code": link, "table": t.table, "instrument": t.instrument or "",
             "item": t.item if t.table == "proms" else "", "value": ""}
            for (q, link), t in self.items.items()
        ] + [
            {"kind": "answer", "system": s, "code": c, "table": "", "instrument": "", "item": "", "value": f"{v:g}"}
            for (s, c), v in self.answers.items()
        ]
        return pd.DataFrame(records, columns=["kind", "system", "code", "table", "instrument", "item", "value"])

    @classmethod
    def from_csv(cls, source: str | Path | bytes, *, base: FhirMapping | None = None) -> FhirMapping:
        """Extend ``base`` (default :data:`DEFAULT_FHIR_MAPPING`) with the rows of a CSV file.

        Parameters
        ----------
        source
            Path or bytes of a CSV with the columns ``kind`` (``observation``,
            ``item`` or ``answer``), ``system`` (code system; for ``item`` the
            questionnaire URL or ``*``), ``code`` (code; for ``item`` the
            linkId), ``table`` (``pain``/``proms``), ``instrument``, ``item``
            and ``value`` (for ``answer``: the number); lines starting with
            ``#`` are comments. Example::

                kind,system,code,table,instrument,item,value
                item,*,current_pain_level,pain,,,
                item,http://clinic.example/Questionnaire/odi,q1,proms,odi,1,
                answer,http://clinic.example/odi-answers,a0,,,,0
        base
            The mapping to extend.

        Raises
        ------
        ValueError
            A row names an unknown kind or table, or an answer has no number.
        """
        text = source.decode("utf-8-sig") if isinstance(source, bytes) else Path(source).read_text("utf-8-sig")
        observations: dict[tuple[str, str], FhirTarget] = {}
        items: dict[tuple[str, str], FhirTarget] = {}
        answers: dict[tuple[str, str], float] = {}
        rows = _csv_rows(text)
        if rows and not {"kind", "code"} <= set(rows[0]):
            raise ValueError("a FHIR mapping file needs the columns kind,system,code,table,instrument,item,value; "
                             f"found {', '.join(rows[0])}")
        for line, rec in enumerate(rows, start=2):
            kind = (rec.get("kind") or "").strip().lower()
            system, code = (rec.get("system") or "").strip(), (rec.get("code") or "").strip()
            try:
                if kind == "answer":
                    answers[(system, code)] = float(rec.get("value") or "nan")
                    if not np.isfinite(answers[(system, code)]):
                        raise ValueError("an answer row needs a number in 'value'")
                elif kind in ("observation", "item"):
                    target = FhirTarget((rec.get("table") or "").strip(), (rec.get("instrument") or "").strip() or None,
                                        (rec.get("item") or "").strip() or "total")
                    (observations if kind == "observation" else items)[(system or "*", code)] = target
                else:
                    raise ValueError(f"kind must be observation, item or answer; got {kind!r}")
            except ValueError as exc:
                raise ValueError(f"FHIR mapping line {line}: {exc}") from None
        return (base or DEFAULT_FHIR_MAPPING).extend(observations=observations, items=items, answers=answers)


#: The built-in mapping, read from ``analysis/data/fhir_mapping.csv``: pain (72514-3), ODI total (97909-6) and
#: VAS total (38214-3) as Observation codes and as linkIds, and the LOINC 0-10 answer codes of 72514-3.
DEFAULT_FHIR_MAPPING = FhirMapping.from_csv(DATA_FILES / "fhir_mapping.csv", base=FhirMapping()).extend(
    answers={(LOINC, code): value for code, value in PAIN_ANSWER_CODES.items()})
if (LOINC, PAIN_CODE) not in DEFAULT_FHIR_MAPPING.observations or ODI_CODE != "97909-6" or VAS_CODE != "38214-3":
    raise RuntimeError("analysis/data/fhir_mapping.csv lost the pain code")  # pragma: no cover - shipped data


def clinic_fhir_mapping(data_dir: str | Path) -> FhirMapping | None:
    """The clinic's FHIR mapping: ``<data dir>/fhir_mapping.csv`` over the built-in one; ``None`` without that file.

    Raises
    ------
    ValueError
        The file has a row that cannot be read (the message names the line).
    """
    path = Path(data_dir) / MAPPING_FILE_NAME
    if not path.is_file():
        return None
    try:
        return FhirMapping.from_csv(path)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


# ---------------------------------------------------------------------------
# reading resources


def sniff_fhir(text_head: str) -> bool:
    """True when the start of a JSON document or NDJSON line names a FHIR ``resourceType``."""
    head = text_head[:65536]
    return (re.search(r'"resourceType"\s*:\s*"[A-Z][A-Za-z]+"', head) is not None
            or head.lstrip().startswith('{"' + _FOLDER_MARK + '"'))


@dataclass
class _Resource:
    where: str
    resource: Any


def pack_folder(folder: str | Path) -> bytes:
    """The ``.json`` / ``.ndjson`` files of a folder as one upload (bytes that :func:`read_fhir` reads as the folder).

    An upload is one file (its bytes are kept and hashed); a folder of FHIR files
    is packed, in name order, into one JSON document ``{"rehabtrack_fhir_folder":
    [{"name": ..., "text": ...}, ...]}`` holding every file's text verbatim, so
    that uploading the folder gives exactly what validating it gives, row
    numbers and file names in the messages included.

    Raises
    ------
    UnreadableFileError
        The folder holds no ``.json`` or ``.ndjson`` file, or a file is not UTF-8.
    """
    name, documents = _documents(Path(folder), None)
    files = []
    for doc_name, data in documents:
        try:
            files.append({"name": doc_name, "text": data.decode("utf-8-sig")})
        except UnicodeDecodeError:
            raise UnreadableFileError("a FHIR file must be UTF-8 text", source=f"{name}/{doc_name}") from None
    return json.dumps({_FOLDER_MARK: files}, ensure_ascii=False).encode("utf-8")


def _documents(source: str | Path | bytes, filename: str | None) -> tuple[str, list[tuple[str, bytes]]]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = filename or "<upload>"
        data = bytes(source)
        if data.lstrip()[:len(_FOLDER_MARK) + 2] == b'{"' + _FOLDER_MARK.encode():
            try:
                packed = json.loads(data.decode("utf-8"))[_FOLDER_MARK]
                return name, [(str(f["name"]), str(f["text"]).encode("utf-8")) for f in packed]
            except (ValueError, KeyError, TypeError):
                raise UnreadableFileError("the packed folder of FHIR files is damaged", source=name) from None
        return name, [(name, data)]
    path = Path(source)
    name = filename or path.name
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".json", ".ndjson") and p.is_file())
        if not files:
            raise UnreadableFileError("the folder holds no .json or .ndjson files", source=name)
        return name, [(p.name, p.read_bytes()) for p in files]
    if not path.is_file():
        raise UnreadableFileError(f"{path} does not exist", source=name)
    return name, [(name, path.read_bytes())]


def _parse(name: str, data: bytes, several: bool) -> Iterator[_Resource]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFileError("a FHIR file must be UTF-8 text", source=name) from None
    prefix = f"{name}, " if several else ""
    try:
        obj = json.loads(text)
    except ValueError:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        for number, line in enumerate(lines, start=1):  # NDJSON: one resource per line
            try:
                yield _Resource(f"{prefix}line {number}", json.loads(line))
            except ValueError:
                yield _Resource(f"{prefix}line {number}", None)
        return
    if isinstance(obj, list):
        for number, item in enumerate(obj, start=1):
            yield _Resource(f"{prefix}item {number}", item)
    else:
        yield _Resource(f"{prefix.rstrip(', ')}" or "the file", obj)


def _label(resource: Any) -> str:
    if not isinstance(resource, dict):
        return "not a resource"
    kind = resource.get("resourceType", "resource")
    ident = resource.get("id")
    return f"{kind} {ident}" if ident else str(kind)


def _flatten(items: Iterable[_Resource]) -> Iterator[_Resource]:
    """Resources with the entries of bundles in their place (a bundle is validated without its entries)."""
    for item in items:
        res = item.resource
        if isinstance(res, dict) and res.get("resourceType") == "Bundle":
            entries = res.get("entry") or []
            shell = {k: v for k, v in res.items() if k != "entry"}
            yield _Resource(item.where, shell)
            inner = []
            for number, entry in enumerate(entries if isinstance(entries, list) else [], start=1):
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if resource is None:
                    continue  # e.g. a DELETE in a transaction
                where = f"entry {number}" if item.where in ("the file", "") else f"{item.where}, entry {number}"
                if isinstance(resource, dict) and isinstance(entry, dict) and entry.get("fullUrl"):
                    resource = {**resource, "_fullUrl": entry["fullUrl"]}
                inner.append(_Resource(where, resource))
            yield from _flatten(inner)
        else:
            yield item


# ---------------------------------------------------------------------------
# values


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict)]


def _target_of(concept: Any, mapping: FhirMapping) -> FhirTarget | None:
    for coding in _codings(concept):
        target = mapping.observations.get((str(coding.get("system", "")), str(coding.get("code", ""))))
        if target is not None:
            return target
    return None


def _ordinal(coding: dict[str, Any]) -> float | None:
    for ext in coding.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") in ORDINAL_EXTENSIONS and "valueDecimal" in ext:
            return float(ext["valueDecimal"])
    return None


def _value_check(holder: dict[str, Any]) -> str:
    """The rule a value that could not be read fails: an answer code the mapping lacks, or no value at all."""
    return VOCABULARY if "valueCoding" in holder or "valueCodeableConcept" in holder else REQUIRED


def _value(holder: dict[str, Any], mapping: FhirMapping) -> tuple[str | None, str | None]:
    """The value as text (for the generic converters) or why there is none."""
    if "valueInteger" in holder:
        return str(holder["valueInteger"]), None
    if "valueDecimal" in holder:
        return repr(float(holder["valueDecimal"])), None
    if "valueQuantity" in holder:
        quantity = holder["valueQuantity"] or {}
        if quantity.get("value") is None:
            return None, "the valueQuantity has no value"
        return repr(float(quantity["value"])), None
    codings = [holder["valueCoding"]] if "valueCoding" in holder else _codings(holder.get("valueCodeableConcept"))
    if codings:
        for coding in codings:
            number = mapping.answers.get((str(coding.get("system", "")), str(coding.get("code", ""))))
            if number is None:
                number = _ordinal(coding)
            if number is not None:
                return f"{number:g}", None
        first = codings[0]
        return None, (f"the answer code {first.get('code')!r} ({first.get('system', 'no system')}) has no number "
                      "in the FHIR mapping; add it to the mapping's answer codes")
    if "valueString" in holder:
        return str(holder["valueString"]), None
    absent = holder.get("dataAbsentReason")
    if absent:
        reason = (_codings(absent) or [{}])[0].get("code") or absent.get("text") or "given"
        return None, f"there is no value (data absent reason: {reason})"
    return None, "there is no value"


def _when(resource: dict[str, Any]) -> str | None:
    if resource.get("effectiveDateTime"):
        return str(resource["effectiveDateTime"])
    if resource.get("effectiveInstant"):
        return str(resource["effectiveInstant"])
    period = resource.get("effectivePeriod")
    if isinstance(period, dict) and period.get("start"):
        return str(period["start"])
    return None


def _patient(subject: Any, patients: Mapping[str, str]) -> str | None:
    if not isinstance(subject, dict):
        return None
    reference = str(subject.get("reference") or "").strip()
    if reference:
        if reference in patients:
            return patients[reference]
        found = re.search(r"(?:^|/)Patient/([^/]+)(?:/_history/[^/]+)?$", reference)
        if found:
            return found.group(1)
        return reference
    identifier = subject.get("identifier")
    if isinstance(identifier, dict) and identifier.get("value"):
        return str(identifier["value"])
    return None


def _patients_in(resources: list[_Resource]) -> dict[str, str]:
    """Reference text (``urn:uuid:...``, ``Patient/x``) -> patient ID, for Patients in the same input."""
    out: dict[str, str] = {}
    for item in resources:
        res = item.resource
        if not (isinstance(res, dict) and res.get("resourceType") == "Patient"):
            continue
        identifiers = [i for i in res.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
        preferred = [i for i in identifiers if i.get("system") == PATIENT_ID_SYSTEM] or identifiers
        ident = str(preferred[0]["value"]) if preferred else (str(res["id"]) if res.get("id") else None)
        if ident is None:
            continue
        if res.get("_fullUrl"):
            out[str(res["_fullUrl"])] = ident
        if res.get("id"):
            out[f"Patient/{res['id']}"] = ident
    return out


def _link_key(link_id: str) -> list[str]:
    link = link_id.strip()
    last = link.rstrip("/").rsplit("/", 1)[-1]
    return [link] if last == link else [link, last]


def _items(items: Any) -> Iterator[dict[str, Any]]:
    for item in items or []:
        if not isinstance(item, dict):
            continue
        yield item
        yield from _items(item.get("item"))
        for answer in item.get("answer") or []:
            if isinstance(answer, dict):
                yield from _items(answer.get("item"))


# ---------------------------------------------------------------------------
# result


@dataclass(frozen=True)
class FhirImport:
    """Everything read from FHIR input, per table.

    Attributes
    ----------
    source
        File or folder name.
    results
        ``"pain"`` and/or ``"proms"`` -> :class:`analysis.tables.IngestResult`
        for the values of that table (only tables with values, or the table
        asked for). Each result's ``rejected`` also lists the unusable
        resources, so every result accounts for every resource it could have read.
    n_resources
        Resources read (bundle entries; the bundles themselves not counted).
    skipped
        What was not read and why (``"Patient"``: 1, ``"Observation with
        another code"``: 3, ...).
    unmapped_items
        linkId -> number of answers of questionnaire items not in the mapping.
    ignored_fields
        Fields FHIR R4 does not define (``"__phdpCreated"``, ``"item.foo"``) ->
        number of resources where they were left out.
    """

    source: str
    results: dict[str, IngestResult]
    n_resources: int
    skipped: dict[str, int]
    unmapped_items: dict[str, int] = field(default_factory=dict)
    ignored_fields: dict[str, int] = field(default_factory=dict)


@dataclass
class _Rows:
    """Values read for one table (or unusable resources), numbered by one counter shared by all tables."""

    counter: Iterator[int]
    where: dict[int, str]
    records: list[dict[str, Any]] = field(default_factory=list)
    problems: list[tuple[int, str, str, str, str]] = field(default_factory=list)  # row, column, check, value, reason

    def value(self, where: str, **record: Any) -> None:
        row = next(self.counter)
        self.records.append({"row": row, **record})
        self.where[row] = where

    def problem(self, where: str, reason: str, check: str = MALFORMED, column: str = "", value: str = "") -> None:
        row = next(self.counter)
        self.problems.append((row, column, check, value, f"{where}: {reason}"))
        self.where[row] = where


def read_fhir(
    source: str | Path | bytes,
    *,
    filename: str | None = None,
    mapping: FhirMapping | None = None,
    patient_id: str | None = None,
    today: date | None = None,
    table: str | None = None,
    timezone: str | None = None,
) -> FhirImport:
    """Read FHIR resources into canonical ``pain`` and ``proms`` rows.

    Parameters
    ----------
    source
        Path of a file or folder, or the bytes of an upload.
    filename
        Name of an upload (for messages).
    mapping
        Which codes and questionnaire items become rows; default
        :data:`DEFAULT_FHIR_MAPPING`.
    patient_id
        The patient whose data this is: fills rows without a subject and
        rejects rows of other patients (as in :func:`analysis.ingest.ingest_file`).
    today
        Values dated after this day are rejected; default today.
    table
        ``"pain"`` or ``"proms"`` to always return a result for that table.
    timezone
        The clinic's IANA time zone: times with a UTC offset become its wall-clock
        times (default :attr:`analysis.settings.Settings.timezone`).

    Returns
    -------
    FhirImport
        One :class:`~analysis.tables.IngestResult` per table with values.

    Raises
    ------
    UnreadableFileError
        The input is not JSON / NDJSON, or holds no FHIR resource.
    """
    mapping = mapping or DEFAULT_FHIR_MAPPING
    name, documents = _documents(source, filename)
    limits = current_limits()  # bounded reading (issue 17): bytes before parsing, resources while flattening
    limits.check_bytes(sum(len(data) for _, data in documents), name)
    raw = [r for doc_name, data in documents for r in _parse(doc_name, data, len(documents) > 1)]
    resources = list(itertools.islice(_flatten(raw), limits.max_rows + 1))
    if len(resources) > limits.max_rows:
        raise limits.too_many_rows(name)
    if not any(isinstance(r.resource, dict) and "resourceType" in r.resource for r in resources):
        raise UnreadableFileError("no FHIR resource (a JSON object with a resourceType) was found", source=name)
    patients = _patients_in(resources)
    counter, where_of = itertools.count(1), dict[int, str]()
    rows = {"pain": _Rows(counter, where_of), "proms": _Rows(counter, where_of)}
    shared = _Rows(counter, where_of)  # unusable resources: reported in every table's result
    skipped: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    ignored: Counter[str] = Counter()
    n_resources = 0
    for item in resources:
        res = item.resource
        if isinstance(res, dict) and res.get("resourceType") == "Bundle":
            _, problem = _validated(res, ignored)
            if problem:
                shared.problem(item.where, f"not a valid FHIR Bundle: {problem}")
            continue
        n_resources += 1
        where = f"{item.where} ({_label(res)})"
        if not isinstance(res, dict) or "resourceType" not in res:
            shared.problem(where, "not a FHIR resource (a JSON object with a resourceType)")
            continue
        kind = res["resourceType"]
        if kind not in ("Observation", "QuestionnaireResponse"):
            skipped[kind] += 1
            continue
        clean, problem = _validated({k: v for k, v in res.items() if k != "_fullUrl"}, ignored)
        if problem:
            shared.problem(where, f"not a valid FHIR R4 {kind}: {problem}")
            continue
        patient = _patient(clean.get("subject"), patients)
        if kind == "Observation":
            _read_observation(clean, where, patient, mapping, rows, shared, skipped)
        else:
            _read_response(clean, where, patient, mapping, rows, shared, skipped, unmapped)

    tables = [t for t in ("pain", "proms") if rows[t].records or t == table]
    if not tables:
        tables = ["pain"] if shared.problems else []
    notes = _read_notes(unmapped, ignored)
    results = {t: _result(t, rows[t], shared, name, patient_id, today, skipped, notes, timezone) for t in tables}
    return FhirImport(name, results, n_resources, dict(skipped), dict(unmapped), dict(ignored))


def _validated(resource: dict[str, Any], ignored: Counter[str]) -> tuple[dict[str, Any], str | None]:
    """The resource without the fields FHIR R4 does not define (counted in ``ignored``), and any other problem.

    A vendor's extra field (``__phdpCreated``, an unknown key inside an item or an
    extension) does not make the data wrong: it is left out and reported as a
    warning. Any other validation failure (a wrong type, a missing required
    element) is the problem returned, and the resource is not read.
    """
    from pydantic import ValidationError

    kind = resource.get("resourceType")
    try:
        model = fhir_model(str(kind))
    except KeyError:
        return resource, validate_resource(resource)
    clean = resource
    left_out: list[str] = []
    for _ in range(8):  # each pass removes the extra fields pydantic reports (nested ones can hide others)
        try:
            model.model_validate(clean)
        except ValidationError as exc:
            extra = [e["loc"] for e in exc.errors() if e.get("type") == "extra_forbidden" and e.get("loc")]
            if not extra or len(extra) != len(exc.errors()):
                if extra:  # other problems too: remove the extra fields, then say what else is wrong
                    clean = _without(clean, extra)
                return resource, validate_resource(clean)
            clean = _without(clean, extra)
            left_out += [".".join(str(p) for p in loc if not isinstance(p, int)) for loc in extra]
            continue
        except (TypeError, ValueError) as exc:
            return resource, str(exc)
        for path in dict.fromkeys(left_out):
            ignored[path] += 1
        return clean, None
    return resource, validate_resource(resource)  # pragma: no cover - more than 8 levels of unknown fields


def _without(resource: dict[str, Any], locations: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A deep copy of ``resource`` without the elements at ``locations`` (pydantic error locations)."""
    out: Any = json.loads(json.dumps(resource))
    for loc in sorted(locations, key=lambda loc: [str(p) for p in loc], reverse=True):
        holder = out
        try:
            for part in loc[:-1]:
                holder = holder[part]
            if isinstance(holder, dict):
                holder.pop(loc[-1], None)
        except (KeyError, IndexError, TypeError):
            continue
    return dict(out)


def _read_notes(unmapped: Counter[str], ignored: Counter[str]) -> list[str]:
    notes = []
    if unmapped:
        shown = ", ".join(f"{link!r} ({n} answer{'s' if n != 1 else ''})" for link, n in unmapped.most_common(12))
        notes.append(f"questionnaire items not in the FHIR mapping were not read: {shown}"
                     + (f" and {len(unmapped) - 12} more" if len(unmapped) > 12 else "")
                     + "; to read one, add a row 'item,*,<linkId>,pain,,,' (or proms with instrument and item) to a "
                       "mapping CSV and give it with --fhir-mapping (the app reads <data dir>/fhir_mapping.csv)")
    if ignored:
        shown = ", ".join(f"{path!r} ({n} resource{'s' if n != 1 else ''})" for path, n in ignored.most_common(12))
        notes.append(f"fields that FHIR R4 does not define were left out and the resources read: {shown}")
    return notes


def _read_observation(res: dict[str, Any], where: str, patient: str | None, mapping: FhirMapping,
                      rows: dict[str, _Rows], shared: _Rows, skipped: Counter[str]) -> None:
    parts = [(res, _target_of(res.get("code"), mapping))]
    parts += [(c, _target_of(c.get("code"), mapping)) for c in res.get("component") or [] if isinstance(c, dict)]
    mapped = [(holder, target) for holder, target in parts if target is not None]
    if not mapped:
        skipped["Observation with another code"] += 1
        return
    status = str(res.get("status", ""))
    if status not in _OK_OBSERVATION:
        shared.problem(where, f"the Observation's status is {status!r}, so it was not read", STATUS)
        return
    when = _when(res)
    for holder, target in mapped:
        value, why = _value(holder, mapping)
        if why:
            shared.problem(where, why, _value_check(holder))
            continue
        if target.table == "pain":
            notes = "\n".join(str(n.get("text")) for n in res.get("note") or []
                              if isinstance(n, dict) and n.get("text"))
            site = res.get("bodySite") if holder is res else None
            location = (site.get("text") or ((_codings(site) or [{}])[0].get("display"))) if isinstance(
                site, dict) else None
            flare = next((str(e.get("valueBoolean")).lower() for e in res.get("extension") or []
                          if isinstance(e, dict) and e.get("url") == FLARE_EXTENSION and "valueBoolean" in e), None)
            rows["pain"].value(where, patient_id=patient, recorded_at=when, nprs=value, location=location,
                               flare=flare, notes=notes if holder is res and notes else None)
        else:
            rows["proms"].value(where, patient_id=patient, completed_at=when, instrument=target.instrument,
                                item=target.item, value=value)


def _read_response(res: dict[str, Any], where: str, patient: str | None, mapping: FhirMapping,
                   rows: dict[str, _Rows], shared: _Rows, skipped: Counter[str], unmapped: Counter[str]) -> None:
    questionnaire = str(res.get("questionnaire") or "").split("|", 1)[0]
    found = []
    for item in _items(res.get("item")):
        link = str(item.get("linkId", ""))
        target = None
        for key in _link_key(link):
            target = mapping.items.get((questionnaire, key)) or mapping.items.get(("*", key))
            if target is not None:
                break
        answers = [a for a in item.get("answer") or [] if isinstance(a, dict) and any(k in a for k in _VALUE_KEYS)]
        if target is None:
            if answers:
                skipped["questionnaire answer not in the mapping"] += 1
                unmapped[link] += 1
            continue
        found.append((link, target, answers))
    if not found:
        if not res.get("item"):
            skipped["QuestionnaireResponse without answers"] += 1
        return
    status = str(res.get("status", ""))
    if status not in _OK_RESPONSE:
        shared.problem(where, f"the QuestionnaireResponse's status is {status!r}, so it was not read", STATUS)
        return
    when = str(res["authored"]) if res.get("authored") else None
    for link, target, answers in found:
        at = f"{where}, item {link!r}"
        if not answers:
            shared.problem(at, "the item has no answer", REQUIRED)
            continue
        if len(answers) > 1:
            skipped["extra answers to one item (the first was read)"] += len(answers) - 1
        value, why = _value(answers[0], mapping)
        if why:
            shared.problem(at, why, _value_check(answers[0]))
            continue
        if target.table == "pain":
            rows["pain"].value(at, patient_id=patient, recorded_at=when, nprs=value, location=None, flare=None,
                               notes=None)
        else:
            rows["proms"].value(at, patient_id=patient, completed_at=when, instrument=target.instrument,
                                item=target.item, value=value)


_FHIR_PATHS = {
    "pain": {"subject": "patient_id", "effectiveDateTime / authored": "recorded_at",
             "valueInteger / valueQuantity / answer": "nprs", "bodySite.text": "location",
             FLARE_EXTENSION: "flare", "note.text": "notes"},
    "proms": {"subject": "patient_id", "effectiveDateTime / authored": "completed_at",
              "code / linkId (mapping)": "instrument", "mapping item": "item",
              "valueQuantity / answer": "value"},
}


def _result(table: str, rows: _Rows, shared: _Rows, source: str, patient_id: str | None, today: date | None,
            skipped: Mapping[str, int], read_notes: list[str], timezone: str | None) -> IngestResult:
    spec = PAIN if table == "pain" else PROMS
    problems = pd.DataFrame(shared.problems, columns=list(REJECTED_COLUMNS))
    if rows.records:
        frame = pd.DataFrame(rows.records)
        numbers = frame.pop("row").to_numpy(dtype=np.int64)
        result = ingest_frame(frame.astype(object), table, patient_id=patient_id, today=today,
                              row_numbers=numbers, source=source, timezone=timezone)
        rejected = result.rejected.copy()
        rejected["reason"] = [f"{rows.where.get(int(r), '')}: {why}" for r, why in
                              zip(rejected["row"], rejected["reason"], strict=True)]
        accepted, n_rows, duplicates, row_info = result.accepted, result.n_rows, result.duplicate_rows, result.row_info
        warnings = [w for w in result.warnings if not w.startswith("column")]
        order = result.date_order
    else:
        rejected = problems.iloc[0:0]
        accepted, n_rows, duplicates, warnings, order = empty_frame(spec), 0, np.empty(0, np.int64), [], "day-first"
        row_info = empty_row_info()
    both = pd.concat([problems, rejected], ignore_index=True).sort_values("row", kind="stable")
    both = both.reset_index(drop=True).astype({"row": np.int64, "column": "string", "check": "string",
                                               "value": "string", "reason": "string"})
    notes = [f"read as a {LABEL}: {len(rows.records)} {table} value{'s' if len(rows.records) != 1 else ''} "
             "from Observations and QuestionnaireResponses"]
    if skipped:
        notes.append("not read: " + ", ".join(f"{n} x {what}" for what, n in skipped.items()))
    notes.extend(read_notes)
    return IngestResult(
        table=table, source=source, format="fhir", encoding="utf-8", delimiter="", date_order=order,
        header_mapping=dict(_FHIR_PATHS[table]), accepted=accepted, rejected=both, warnings=notes + warnings,
        n_rows=n_rows + int(problems["row"].nunique()), duplicate_rows=duplicates, row_info=row_info,
    )


def ingest_fhir(
    source: str | Path | bytes,
    *,
    filename: str | None = None,
    table: str | None = None,
    patient_id: str | None = None,
    dayfirst: bool = True,
    today: date | None = None,
    mapping: FhirMapping | None = None,
    timezone: str | None = None,
) -> IngestResult:
    """Read FHIR input into one canonical table (``pain`` unless ``table="proms"`` or only proms values).

    Parameters
    ----------
    source, filename, patient_id, today, timezone
        As in :func:`read_fhir`.
    table
        ``"pain"`` or ``"proms"``; ``None`` picks pain when there are pain
        values, else proms (a warning names the other table's count).
    dayfirst
        Unused (FHIR dates are ISO 8601); accepted for a common signature.
    mapping
        As in :func:`read_fhir`.

    Returns
    -------
    IngestResult
        ``format="fhir"``.

    Raises
    ------
    UnknownTableError
        ``table`` is not pain or proms, or nothing in the input maps to a table.
    """
    if table not in (None, "pain", "proms"):
        raise UnknownTableError(f"FHIR input holds pain scores and questionnaires, not {table!r} rows",
                                source=filename)
    found = read_fhir(source, filename=filename, mapping=mapping, patient_id=patient_id, today=today, table=table,
                      timezone=timezone)
    if not found.results:
        what = ", ".join(f"{n} {k}" for k, n in found.skipped.items()) or "no Observation or QuestionnaireResponse"
        links = ", ".join(repr(k) for k, _ in Counter(found.unmapped_items).most_common(12))
        how = (f" The questionnaire items found are {links}: to read one, add a row such as "
               f"'item,*,{next(iter(found.unmapped_items))},pain,,,' to a mapping CSV (columns kind,system,code,"
               "table,instrument,item,value)" if links else
               " To read other codes, add rows to a mapping CSV (columns kind,system,code,table,instrument,item,"
               "value)")
        raise UnknownTableError(
            f"nothing in this FHIR input is a pain score (LOINC {PAIN_CODE}) or a mapped questionnaire answer "
            f"({what}).{how} and give it with --fhir-mapping FILE (the app reads <data dir>/{MAPPING_FILE_NAME})",
            source=found.source)
    chosen = table or ("pain" if "pain" in found.results else next(iter(found.results)))
    result = found.results[chosen]
    others = {t: r.n_accepted for t, r in found.results.items() if t != chosen and r.n_accepted}
    for other, n in others.items():
        result.warnings.append(f"this input also holds {n} {other} row{'s' if n != 1 else ''}: read it as the "
                               f"{other} table to see {'them' if n != 1 else 'it'}")
    return result
