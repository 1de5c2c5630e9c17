"""Interoperability: FHIR R4 export and Open mHealth-style records.

:mod:`analysis.interop.fhir` writes pain scores and questionnaire totals as a
FHIR R4 Bundle; :mod:`analysis.interop.omh` defines JSON Schemas for the two
records that have no standard (pain intensity, exercise session).
"""
