"""The canonical tables are defined once and everything else follows them."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from analysis import schema
from tests.conftest import ROOT


def test_every_table_has_a_key_made_of_its_required_columns() -> None:
    for spec in schema.TABLES.values():
        assert spec.key, spec.name
        assert set(spec.key) <= set(spec.required), spec.name


def test_empty_frame_has_canonical_columns_and_dtypes() -> None:
    frame = schema.empty_frame("sessions")
    assert list(frame.columns) == schema.SESSIONS.column_names
    assert str(frame["performed_at"].dtype) == "datetime64[ns]"
    assert str(frame["sets"].dtype) == "Int64"
    assert str(frame["exercise"].dtype) == "string"


def test_conform_adds_missing_optional_columns_drops_extras_and_normalises_dates() -> None:
    raw = pd.DataFrame(
        {
            "extra": [1],
            "patient_id": ["P1"],
            "physio_id": ["physio_a"],
            "programme_start": [pd.Timestamp("2026-09-07 13:45")],
        }
    )
    out = schema.conform(raw, "patients")
    assert list(out.columns) == schema.PATIENTS.column_names
    assert out.loc[0, "programme_start"] == pd.Timestamp("2026-09-07")  # date-only column: midnight
    assert out["age_band"].isna().all()


def test_pandera_schema_rejects_out_of_range_values_with_the_failing_cell() -> None:
    import pandera.errors

    pain = schema.conform(
        pd.DataFrame(
            {
                "patient_id": ["P1", "P1"],
                "recorded_at": pd.to_datetime(["2026-09-07 20:00", "2026-09-08 20:00"]),
                "nprs": pd.array([5, 11], dtype="Int64"),
            }
        ),
        "pain",
    )
    with pytest.raises(pandera.errors.SchemaErrors) as err:
        schema.pandera_schema("pain").validate(pain, lazy=True)
    cases = err.value.failure_cases
    bad = cases[cases["column"] == "nprs"]
    assert bad["index"].tolist() == [1]
    assert bad["failure_case"].tolist() == [11]


def test_range_text_reads_as_words() -> None:
    assert schema.PAIN.column("nprs").range_text() == "0 to 10"
    assert schema.SESSIONS.column("side").range_text() == "left, right or both"


def test_unknown_table_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="patients, prescriptions, sessions, pain, proms"):
        schema.table_spec("visits")


def test_readme_data_model_is_generated_from_the_schema() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- data-model:start -->\n(.*)<!-- data-model:end -->", readme, re.S)
    assert block is not None, "README.md lost its data-model markers"
    assert block.group(1).strip() == schema.markdown_data_model().strip(), (
        "README data model is stale: regenerate it with python -m analysis.schema"
    )
