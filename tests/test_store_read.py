"""The store's read path (``Store.read_table`` / ``read_cohort``) against hand-written expected values.

Rows are written with raw SQL, so the values on disk are known exactly: SQLAlchemy's own storage format
(``YYYY-MM-DD HH:MM:SS.ffffff``, booleans as 0/1), SQL NULL in every kind of column, and timestamp texts
in other ISO forms that only the value-by-value path reads (``datetime.fromisoformat``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from analysis.errors import RehabtrackError
from analysis.schema import TABLES
from analysis.store import UPLOADS, Store

#: Raw rows of the store's pain table (``fold`` takes its default 0; ``time_written`` 1: a timed rating).
PAIN_INSERT = ("INSERT INTO pain (patient_id, recorded_at, nprs, location, flare, notes, upload_id, time_written) "
               "VALUES ")


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "read.sqlite", data_dir=tmp_path)
    with s.engine.begin() as conn:
        conn.execute(UPLOADS.insert(), {
            "upload_id": 1, "uploaded_by": "test", "uploaded_at": datetime(2026, 7, 1), "filename": "raw.csv",
            "content_sha256": "0" * 64, "size_bytes": 0, "table_name": "pain", "format": "csv",
            "rows_in_file": 0, "rows_added": 0, "rows_already_there": 0, "rows_duplicate_in_file": 0,
            "rows_rejected": 0})
        conn.exec_driver_sql("INSERT INTO patients VALUES ('P1', 'physio_t', '2026-07-10', NULL, NULL, 1), "
                             "('P2', 'physio_u', '2026-07-01', '60-69', 'knee', 1)")
        conn.exec_driver_sql(
            PAIN_INSERT +
            "('P1', '2026-07-11 19:33:00.000000', 7, 'back', 1, 'after gardening', 1, 1), "
            "('P1', '2026-07-10 22:47:05.250000', 0, NULL, 0, NULL, 1, 1), "
            "('P1', '2026-07-12 08:00:00.000000', 10, 'knee', NULL, '', 1, 1)")
    yield s
    s.close()




def test_pain_values_nulls_and_order(store: Store) -> None:
    pain = store.read_table("pain", physio_id="physio_t")
    assert list(pain.columns) == TABLES["pain"].column_names
    assert list(pain.dtypes.astype(str)) == list(TABLES["pain"].dtypes.values())
    # sorted by (patient_id, recorded_at): 10 July 22:47:05.25, 11 July 19:33, 12 July 08:00
    assert list(pain["recorded_at"]) == [pd.Timestamp(2026, 7, 10, 22, 47, 5, 250000),
                                         pd.Timestamp(2026, 7, 11, 19, 33), pd.Timestamp(2026, 7, 12, 8)]
    assert list(pain["nprs"]) == [0, 7, 10]
    assert pain["flare"].tolist() == [False, True, pd.NA]
    assert pain["location"].tolist() == [pd.NA, "back", "knee"]
    assert pain["notes"].tolist() == [pd.NA, "after gardening", ""]  # stored '' stays '' (written by raw SQL)


def test_patients_dates_and_all_null_columns(store: Store) -> None:
    patients = store.read_table("patients", physio_id="physio_t")
    assert patients["programme_start"].tolist() == [pd.Timestamp(2026, 7, 10)]
    assert patients["programme_start"].dtype == "datetime64[ns]"
    assert patients["age_band"].dtype == "string" and patients["age_band"].isna().all()
    both = store.read_table("patients")
    assert both["patient_id"].tolist() == ["P1", "P2"]
    assert both["condition_notes"].tolist() == [pd.NA, "knee"]


def test_other_iso_timestamp_forms_read_as_before(store: Store) -> None:
    with store.engine.begin() as conn:  # not SQLAlchemy's format: no fraction, a 3-digit fraction, a 'T'
        conn.exec_driver_sql(PAIN_INSERT + "('P2', '2026-07-02 09:15:00', 3, NULL, NULL, NULL, 1, 1), "
                             "('P2', '2026-07-03T10:00:00.5', 4, NULL, NULL, NULL, 1, 1)")
    pain = store.read_table("pain", patient_ids=["P2"])
    assert list(pain["recorded_at"]) == [pd.Timestamp(2026, 7, 2, 9, 15), pd.Timestamp(2026, 7, 3, 10, 0, 0, 500000)]
    assert pain["flare"].isna().all() and pain["flare"].dtype == "boolean"


def test_invalid_timestamp_text_still_fails(store: Store) -> None:
    with store.engine.begin() as conn:  # 31 June: datetime.fromisoformat rejects it, as it always did
        conn.exec_driver_sql(PAIN_INSERT + "('P2', '2026-06-31 09:15:00.000000', 3, NULL, NULL, NULL, 1, 1)")
    with pytest.raises((ValueError, RehabtrackError)):
        store.read_table("pain", patient_ids=["P2"])


def test_empty_selection_has_canonical_dtypes(store: Store) -> None:
    cohort = store.read_cohort(patient_ids=[])
    for name in TABLES:
        frame = getattr(cohort, name)
        assert len(frame) == 0
        assert list(frame.dtypes.astype(str)) == list(TABLES[name].dtypes.values())
