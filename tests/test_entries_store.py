"""Store.save_entries: an entry with a stored key is an edit (audited), never a duplicate; scope; atomicity."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

import analysis.store as store_mod
from analysis import access
from analysis.entries import EntryError, pain_row
from analysis.questionnaires import proms_rows_from_form
from analysis.roles import ADMIN, PATIENT, PHYSIO, RESEARCHER, AccessDenied, User
from analysis.store import AUDIT, SCHEMA_VERSION, Store, backup_key
from tests.test_store import db_url, pg_url  # noqa: F401 - fixtures: SQLite and PostgreSQL stores

TODAY = date(2026, 11, 20)
P1 = User("p1", PATIENT, patient_id="P1")
P2 = User("p2", PATIENT, patient_id="P2")
SYSTEM = User("system", ADMIN)

PATIENTS_CSV = b"patient_id,physio_id,programme_start\nP1,ph_a,2026-11-01\nP2,ph_b,2026-11-01\n"


@pytest.fixture()
def store(db_url, tmp_path):  # noqa: F811 - db_url is the fixture imported above
    """A store on SQLite, and on PostgreSQL (fixtures of test_store)."""
    with Store.open(db_url, data_dir=tmp_path / "data") as s:
        access.upload(SYSTEM, s, PATIENTS_CSV, "patients.csv", table="patients", today=TODAY)
        yield s


def session(patient="P1", day="2026-11-19", sets=1, reps=10, side="left", pain=2) -> pd.DataFrame:
    return pd.DataFrame({"patient_id": [patient], "performed_at": [pd.Timestamp(day)], "exercise": ["knee_to_chest"],
                         "side": [side], "sets": [sets], "reps": [reps], "hold_s": [5.0], "pain_during": [pain]})


def test_a_second_entry_with_the_same_key_is_an_edit_and_the_audit_keeps_the_old_value(store):
    first = access.save_entries(P1, store, "pain", pain_row("P1", TODAY, 6, today=TODAY))
    assert (first.inserted, first.updated, first.unchanged) == (1, 0, 0)
    second = access.save_entries(P1, store, "pain", pain_row("P1", TODAY, 4, today=TODAY, flare=True))
    assert (second.inserted, second.updated, second.unchanged) == (0, 1, 0)
    pain = store.read_table("pain")
    assert len(pain) == 1 and pain["nprs"].tolist() == [4] and pain["flare"].tolist() == [True]
    log = store.audit_log()
    assert log["action"].tolist() == ["insert", "update"]
    assert log["changed_by"].tolist() == ["p1", "p1"]
    old = json.loads(log["old_values"].iloc[1])
    assert old["nprs"] == 6 and old["flare"] is False  # the value before the edit is kept
    assert old["upload_id"] == first.upload_id  # and where it came from
    assert json.loads(log["new_values"].iloc[1])["nprs"] == 4
    assert json.loads(log["row_key"].iloc[1]) == {"patient_id": "P1", "recorded_at": "2026-11-20T00:00:00"}
    # the stored row points at the latest entry's uploads row, recorded as a form
    uploads = store.uploads()
    assert uploads["format"].tolist()[-2:] == ["form", "form"]
    assert uploads["rows_added"].tolist()[-1] == 1  # an edit counts as written


def test_saving_the_same_entry_again_changes_nothing(store):
    access.save_entries(P1, store, "sessions", session())
    n_uploads = len(store.uploads())
    again = access.save_entries(P1, store, "sessions", session())
    assert (again.inserted, again.updated, again.unchanged, again.upload_id) == (0, 0, 1, None)
    assert len(store.uploads()) == n_uploads and len(store.audit_log()) == 1
    assert len(store.read_table("sessions")) == 1


def test_mixed_insert_and_edit_in_one_entry(store):
    access.save_entries(P1, store, "sessions", session(side="left"))
    both = pd.concat([session(side="left", reps=8), session(side="right")], ignore_index=True)
    report = access.save_entries(P1, store, "sessions", both)
    assert (report.inserted, report.updated) == (1, 1)
    s = store.read_table("sessions")
    assert s.set_index("side")["reps"].to_dict() == {"left": 8, "right": 10}


def test_questionnaire_rows_are_stored(store):
    rows, _ = proms_rows_from_form("P1", TODAY, "odi", {1: 2, 2: 3, 3: None}, today=TODAY)
    access.save_entries(P1, store, "proms", rows)
    assert store.read_table("proms")["item"].tolist() == ["1", "2"]


def test_only_the_patient_themselves_may_save_their_rows(store):
    with pytest.raises(AccessDenied, match="only log your own"):
        access.save_entries(P2, store, "pain", pain_row("P1", TODAY, 6, today=TODAY))
    with pytest.raises(AccessDenied):
        access.save_entries(User("r", RESEARCHER), store, "pain", pain_row("P1", TODAY, 6, today=TODAY))
    with pytest.raises(AccessDenied, match="not on your caseload"):  # physio_b's patient P2 is not ph_a's
        access.save_entries(User("a", PHYSIO, physio_id="ph_a"), store, "pain", pain_row("P2", TODAY, 6, today=TODAY))
    assert store.read_table("pain").empty and store.audit_log().empty
    access.save_entries(User("a", PHYSIO, physio_id="ph_a"), store, "pain", pain_row("P1", TODAY, 6, today=TODAY))
    assert store.read_table("pain")["patient_id"].tolist() == ["P1"]


def test_invalid_rows_are_refused(store):
    with pytest.raises(EntryError, match="nprs"):
        access.save_entries(P1, store, "pain", pain_row("P1", TODAY, 6, today=TODAY).assign(nprs=11))
    with pytest.raises(EntryError, match="same"):
        access.save_entries(P1, store, "sessions", pd.concat([session(), session(reps=5)], ignore_index=True))
    with pytest.raises(EntryError, match="not 'patients'"):
        access.save_entries(P1, store, "patients", pd.DataFrame({"patient_id": ["P1"]}))
    assert store.read_table("sessions").empty


def test_an_entry_is_all_or_nothing(store, monkeypatch):
    access.save_entries(P1, store, "sessions", session(side="left"))
    original = store_mod._insert_chunk

    def failing(conn, table, records):
        if table is AUDIT:
            raise RuntimeError("disk full")
        original(conn, table, records)

    monkeypatch.setattr(store_mod, "_insert_chunk", failing)
    both = pd.concat([session(side="left", reps=3), session(side="right")], ignore_index=True)
    with pytest.raises(RuntimeError):
        access.save_entries(P1, store, "sessions", both)
    s = store.read_table("sessions")
    assert s["side"].tolist() == ["left"] and s["reps"].tolist() == [10]  # neither the edit nor the insert
    assert len(store.audit_log()) == 1 and store.uploads()["format"].tolist().count("form") == 1


def test_the_audit_table_exists_in_a_store_upgraded_from_schema_1(tmp_path):
    path = tmp_path / "old.sqlite"
    with Store.open(path, data_dir=tmp_path) as s:
        access.upload(SYSTEM, s, PATIENTS_CSV, "patients.csv", table="patients", today=TODAY)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # make it look like a store written by schema 1
        conn.exec_driver_sql("DROP TABLE audit")
        conn.exec_driver_sql("UPDATE rehabtrack_meta SET value = '1' WHERE key = 'schema_version'")
    engine.dispose()
    with Store.open(path, data_dir=tmp_path) as s:
        assert s.schema_version() == SCHEMA_VERSION
        access.save_entries(P1, s, "pain", pain_row("P1", TODAY, 5, today=TODAY))
        assert len(s.audit_log()) == 1


def test_export_and_import_keep_the_audit(store, tmp_path):
    access.save_entries(P1, store, "pain", pain_row("P1", TODAY, 6, today=TODAY))
    access.save_entries(P1, store, "pain", pain_row("P1", TODAY, 3, today=TODAY))
    store.export_store(tmp_path / "bk", fmt="csv")
    with Store.open(tmp_path / "copy.sqlite", data_dir=tmp_path / "copy") as copy:  # a SQLite copy
        copy.import_store(tmp_path / "bk", key=backup_key(store.data_dir))  # the exporting server's key
        pd.testing.assert_frame_equal(copy.audit_log(), store.audit_log())


def test_an_edited_questionnaire_takes_back_items_left_empty(store):
    rows, _ = proms_rows_from_form("P1", TODAY, "odi", dict.fromkeys(range(1, 11), 2), today=TODAY)
    access.save_entries(P1, store, "proms", rows)
    again, _ = proms_rows_from_form("P1", TODAY, "odi", {**dict.fromkeys(range(1, 10), 3), 10: None}, today=TODAY)
    report = access.save_entries(P1, store, "proms", again, remove=rows[rows["item"] == "10"])
    assert (report.inserted, report.updated, report.removed) == (0, 9, 1)
    stored = store.read_table("proms")
    assert sorted(stored["item"], key=int) == [str(i) for i in range(1, 10)] and set(stored["value"]) == {3.0}
    log = store.audit_log()
    deleted = log[log["action"] == "delete"]
    assert len(deleted) == 1 and json.loads(deleted["old_values"].iloc[0])["item"] == "10"
    assert deleted["new_values"].isna().all()
    # another patient's rows cannot be taken back
    with pytest.raises(AccessDenied):
        access.save_entries(P1, store, "proms", again, remove=rows.assign(patient_id="P2"))
