"""FHIR R4 export of pain scores and questionnaire totals, and the codes both directions share.

:func:`pain_to_fhir_bundle` writes one patient's ``pain`` rows and scored
questionnaire totals as a FHIR R4 ``Bundle`` (type ``collection``) of
``Observation`` resources, validated with the maintained FHIR model library
`fhir.resources <https://pypi.org/project/fhir.resources/>`_ before it is
returned. :mod:`analysis.importers.fhir` reads such a bundle back to the same
canonical rows (the round trip is tested).

What is written (docs/clinical-reference.md section 6)
------------------------------------------------------
* Pain score: ``code`` LOINC 72514-3, ``valueInteger`` (the NPRS 0-10),
  ``effectiveDateTime``, ``subject``, ``category`` survey, ``status`` final.
  The pain row's ``location`` goes to ``bodySite.text`` (no code: the
  toolkit's back/leg/both has no agreed code), ``notes`` to ``note.text`` and
  ``flare`` to the extension :data:`FLARE_EXTENSION` (``valueBoolean``).
* ODI total: LOINC 97909-6, ``valueQuantity`` in ``%`` (UCUM); VAS total:
  LOINC 38214-3, ``valueQuantity`` in ``mm``. Other instruments (RMDQ, PSFS,
  STarT Back) have no code in the reference and are not written.

FHIR R4 requires a time zone on a date-time that has a time of day. The
canonical tables hold local clock times without a zone, so the offset of the
``timezone`` argument (default UTC) *at each timestamp* is attached to the
clock time, which is never shifted; reading the bundle back keeps the clock
time, so the rows come back unchanged.

Version note: fhir.resources 8 models FHIR R5 at its top level and R4B
(4.3.0) in ``fhir.resources.R4B``; R4B did not change Observation,
QuestionnaireResponse or Bundle from R4 (4.0.1), so validating with the R4B
models validates R4 content of these resources.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

__all__ = [
    "LOINC",
    "UCUM",
    "OBSERVATION_CATEGORY",
    "PAIN_CODE",
    "ODI_CODE",
    "VAS_CODE",
    "FLARE_EXTENSION",
    "PATIENT_ID_SYSTEM",
    "EXPORTED_INSTRUMENTS",
    "fhir_model",
    "validate_resource",
    "patient_reference",
    "pain_to_fhir_bundle",
]

#: Code system URIs.
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
#: LOINC 72514-3: pain severity, 0-10 verbal numeric rating, reported (the NPRS).
PAIN_CODE = "72514-3"
#: LOINC 97909-6: Oswestry Disability Index total score (panel 97908-8).
ODI_CODE = "97909-6"
#: LOINC 38214-3: pain severity on a visual analogue scale.
VAS_CODE = "38214-3"
#: Extension carrying the pain row's self-reported flare (a rehabtrack term with no standard code).
FLARE_EXTENSION = "urn:rehabtrack:fhir:extension:pain-flare"
#: Identifier system of a patient ID that is not a valid FHIR resource id.
PATIENT_ID_SYSTEM = "urn:rehabtrack:patient-id"

#: Questionnaire totals written by :func:`pain_to_fhir_bundle`: instrument -> (LOINC, text, unit).
EXPORTED_INSTRUMENTS: dict[str, tuple[str, str, str]] = {
    "odi": (ODI_CODE, "Oswestry Disability Index total score", "%"),
    "vas": (VAS_CODE, "Pain severity on a visual analogue scale", "mm"),
}

_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_NAMESPACE = uuid.UUID("5b6f8a4e-3c1d-4f57-9a2e-0d6c2b7e9f10")  # fixed: the same rows give the same ids


def fhir_model(resource_type: str) -> Any:
    """The fhir.resources R4B model class of a resource type (e.g. ``"Observation"``).

    Raises
    ------
    KeyError
        If FHIR has no such resource type.
    """
    from fhir.resources.R4B import get_fhir_model_class  # imported lazily: ~0.3 s

    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        raise KeyError(f"FHIR has no resource type {resource_type!r}") from None


def validate_resource(resource: dict[str, Any]) -> str | None:
    """Validate one FHIR resource (JSON as a dict) with fhir.resources.

    Returns
    -------
    str or None
        ``None`` when the resource is valid R4, else the first problems in
        plain words (``"effectiveDateTime: DateTime value string does not
        match spec regex"``).
    """
    from pydantic import ValidationError

    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(kind, str):
        return "it has no resourceType"
    try:
        model = fhir_model(kind)
    except KeyError as exc:
        return str(exc.args[0])
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:3]:
            where = ".".join(str(p) for p in err.get("loc", ()) if not str(p).startswith("function-"))
            message = str(err.get("msg", "")).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        more = len(exc.errors()) - len(problems)
        return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def patient_reference(patient_id: str) -> dict[str, Any]:
    """The ``subject`` of a patient: ``Patient/<id>``, or an identifier when the ID is not a FHIR id."""
    if _ID.match(patient_id):
        return {"reference": f"Patient/{patient_id}"}
    return {"identifier": {"system": PATIENT_ID_SYSTEM, "value": patient_id}}


def _timestamps(values: pd.Series, zone: ZoneInfo) -> list[str]:
    """Clock times with the zone's offset at that time, e.g. ``2026-09-08T20:25:00+01:00``."""
    out = []
    for ts in pd.to_datetime(values):
        aware = ts.to_pydatetime().replace(tzinfo=zone)  # the clock time is kept, the zone only labels it
        out.append(aware.isoformat(timespec="microseconds" if aware.microsecond else "seconds"))
    return out


def _observation(
    key: str, code: str, text: str, subject: dict[str, Any], when: str, value: dict[str, Any],
) -> dict[str, Any]:
    ident = str(uuid.uuid5(_NAMESPACE, key))
    resource = {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}],
        "code": {"coding": [{"system": LOINC, "code": code}], "text": text},
        "subject": subject,
        "effectiveDateTime": when,
        **value,
    }
    return {"fullUrl": f"urn:uuid:{ident}", "resource": resource}


def pain_to_fhir_bundle(
    pain: pd.DataFrame,
    proms_scored: pd.DataFrame | None,
    patient_id: str,
    *,
    timezone: str = "UTC",
    validate: bool = True,
) -> dict[str, Any]:
    """One patient's pain scores and questionnaire totals as a FHIR R4 Bundle of Observations.

    Parameters
    ----------
    pain
        Canonical ``pain`` table (any patients; only ``patient_id`` is written).
    proms_scored
        Output of :func:`analysis.scoring.score_proms` (``patient_id``,
        ``completed_at``, ``instrument``, ``score``); scored ODI and VAS totals
        are written, rows without a score are not. ``None`` writes pain only.
    patient_id
        The patient to export.
    timezone
        IANA time zone whose offset is attached to the (unchanged) clock times;
        FHIR requires one on a date-time with a time of day.
    validate
        Validate the bundle with fhir.resources before returning it.

    Returns
    -------
    dict
        A JSON-ready ``Bundle`` (``type`` collection): one ``entry`` per pain
        row (sorted by time), then one per questionnaire total. Resource ids
        are UUIDs derived from the patient, code and time, so the same rows
        give the same bundle.

    Raises
    ------
    ValueError
        If ``timezone`` is unknown, or (a bug) the bundle does not validate.

    Notes
    -----
    Each pain Observation carries ``code`` LOINC 72514-3, ``valueInteger``,
    ``effectiveDateTime``, ``subject`` and ``category`` survey
    (docs/clinical-reference.md section 6); ODI totals LOINC 97909-6 with ``valueQuantity`` in ``%``.

    References
    ----------
    HL7 FHIR R4 Observation; LOINC 72514-3, 97909-6, 38214-3
    (docs/clinical-reference.md sections 1 and 6).
    """
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown time zone {timezone!r}; use an IANA name such as 'Europe/London'") from exc
    subject = patient_reference(str(patient_id))
    entries: list[dict[str, Any]] = []

    mine = pain.loc[pain["patient_id"].astype("string") == str(patient_id)]
    mine = mine.sort_values("recorded_at", kind="stable")
    whens = _timestamps(mine["recorded_at"], zone)
    for rec, when in zip(mine.itertuples(index=False), whens, strict=True):
        value: dict[str, Any] = {"valueInteger": int(rec.nprs)}
        location = getattr(rec, "location", None)
        if isinstance(location, str) and location:
            value["bodySite"] = {"text": location}
        notes = getattr(rec, "notes", None)
        if isinstance(notes, str) and notes:
            value["note"] = [{"text": notes}]
        flare = getattr(rec, "flare", None)
        if flare is not None and not pd.isna(flare):
            value["extension"] = [{"url": FLARE_EXTENSION, "valueBoolean": bool(flare)}]
        entries.append(_observation(f"{patient_id}|{PAIN_CODE}|{when}", PAIN_CODE,
                                    "Pain intensity (numeric rating scale 0-10)", subject, when, value))

    if proms_scored is not None and len(proms_scored):
        scored = proms_scored.loc[
            (proms_scored["patient_id"].astype("string") == str(patient_id))
            & proms_scored["instrument"].isin(list(EXPORTED_INSTRUMENTS))
            & proms_scored["score"].notna()
        ].sort_values(["completed_at", "instrument"], kind="stable")
        whens = _timestamps(scored["completed_at"], zone)
        for rec, when in zip(scored.itertuples(index=False), whens, strict=True):
            code, text, unit = EXPORTED_INSTRUMENTS[str(rec.instrument)]
            score = float(rec.score)
            number: float | int = int(score) if float(score).is_integer() else score
            value = {"valueQuantity": {"value": number, "unit": unit, "system": UCUM, "code": unit}}
            entries.append(_observation(f"{patient_id}|{code}|{when}", code, text, subject, when, value))

    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    if validate:
        problem = validate_resource(bundle)
        if problem is not None:  # pragma: no cover - would be a bug in this function
            raise ValueError(f"the FHIR bundle does not validate: {problem}")
    return bundle

