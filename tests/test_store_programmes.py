"""Store: patients added in the app, archiving, prescriptions saved and edited, physios' own exercises."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis import access
from analysis.access import cohort_for
from analysis.accounts import authenticate
from analysis.programme_templates import template
from analysis.programmes import Programme, ProgrammeError, ProgrammeItem, Progression, programme_to_prescriptions
from analysis.roles import ADMIN, PATIENT, PHYSIO, RESEARCHER, AccessDenied, User
from analysis.store import PATIENT_PROFILES, SCHEMA_VERSION, Store, backup_key

A = User("physio_a", PHYSIO, physio_id="physio_a")
B = User("physio_b", PHYSIO, physio_id="physio_b")
START = pd.Timestamp("2026-09-07")
SEED = template("seed_back_programme").programme


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    with Store.open(data_dir=tmp_path) as s:
        yield s


def test_add_patient_pseudonymous_with_account(store: Store, tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    new = access.add_patient(A, store, START, "Jane Example", users_path=users)
    assert new.patient_id.startswith("P") and len(new.patient_id) == 9 and new.patient_id[1:].isalnum()
    assert "Jane" not in new.patient_id
    # the account logs in with the one-time password and sees only this patient
    account = authenticate(new.patient_id, new.initial_password, path=users)
    assert account == User(new.patient_id, PATIENT, patient_id=new.patient_id)
    assert new.initial_password not in users.read_text()  # only the Argon2 hash is written
    cohort = cohort_for(A, store)
    row = cohort.patients.set_index("patient_id").loc[new.patient_id]
    assert row["physio_id"] == "physio_a" and row["programme_start"] == START
    # the display name is kept apart: in no canonical table, only in patient_profiles
    for name in ("patients", "prescriptions", "sessions", "pain", "proms"):
        assert not getattr(cohort, name).astype(str).apply(lambda c: c.str.contains("Jane")).any().any()
    profiles = access.patient_profiles(A, store)
    assert profiles.loc[profiles["patient_id"] == new.patient_id, "display_name"].item() == "Jane Example"
    assert access.patient_profiles(B, store).empty
    with pytest.raises(AccessDenied):
        access.add_patient(User("researcher", RESEARCHER), store, START)


def test_two_patients_get_different_ids(store: Store) -> None:
    ids = {access.add_patient(A, store, START).patient_id for _ in range(5)}
    assert len(ids) == 5
    assert access.add_patient(A, store, START).initial_password is None  # no users file given: no account


def test_archive_hides_from_active_caseload_and_keeps_data(store: Store) -> None:
    one, two = access.add_patient(A, store, START).patient_id, access.add_patient(A, store, START).patient_id
    access.save_prescriptions(A, store, one, programme_to_prescriptions(one, START, SEED))
    access.archive_patient(A, store, one)
    assert store.active_caseload("physio_a") == [two]
    assert sorted(store.caseload("physio_a")) == sorted([one, two])  # still reachable
    assert len(cohort_for(A, store, patient_ids=[one]).prescriptions) == 9
    with pytest.raises(AccessDenied):
        access.archive_patient(B, store, two)
    access.archive_patient(A, store, one, archived=False)
    assert store.active_caseload("physio_a") == sorted([one, two])


def test_save_and_edit_prescriptions(store: Store) -> None:
    pid = access.add_patient(A, store, START).patient_id
    first = programme_to_prescriptions(pid, START, SEED, weeks=12)
    access.save_prescriptions(A, store, pid, first)
    stored = cohort_for(A, store, patient_ids=[pid]).prescriptions
    pd.testing.assert_frame_equal(stored, first)
    with pytest.raises(ProgrammeError, match="already has a prescription"):
        access.save_prescriptions(A, store, pid, first)
    # edit at week 5 (2026-10-05): 3 sets, hold 5 s from then on
    changed = Programme(SEED.items, Progression.parse("weeks 1-2: 1 set, weeks 3-4: 2 sets, weeks 5+: 3 sets"))
    edit = access.save_prescriptions(A, store, pid, programme_to_prescriptions(pid, START, changed),
                                     from_date="2026-10-05")
    after = cohort_for(A, store, patient_ids=[pid]).prescriptions
    week5 = pd.Timestamp("2026-10-05")
    pd.testing.assert_frame_equal(after[after["start_date"] < week5].reset_index(drop=True),
                                  first[first["start_date"] < week5].reset_index(drop=True))
    later = after[after["start_date"] >= week5]
    # hamstring (no hold) and knee-to-chest left/right (hold 5 s), 3 sets, 10-05 .. 11-29
    assert later["hold_s"].tolist() == [0.0, 5.0, 5.0] and (later["sets"] == 3).all()
    assert (later["end_date"] == pd.Timestamp("2026-11-29")).all()
    assert len(edit.removed) == 3 and edit.closed.empty
    # an upload row records each save (audit trail, and the dashboard's caches refresh)
    uploads = store.uploads()
    assert uploads.loc[uploads["table_name"] == "prescriptions", "rows_added"].tolist() == [9, 3]


def test_other_physio_cannot_save(store: Store) -> None:
    pid = access.add_patient(A, store, START).patient_id
    periods = programme_to_prescriptions(pid, START, SEED)
    with pytest.raises(AccessDenied, match="not on your caseload"):
        access.save_prescriptions(B, store, pid, periods)
    assert cohort_for(A, store, patient_ids=[pid]).prescriptions.empty  # nothing written
    access.save_prescriptions(User("admin", ADMIN), store, pid, periods)  # an administrator may
    with pytest.raises(ProgrammeError, match="not all for patient"):
        access.save_prescriptions(A, store, pid, programme_to_prescriptions("P999", START, SEED), from_date=START)


def test_custom_exercises_and_templates(store: Store) -> None:
    name = access.save_custom_exercise(A, store, "Wall squat", "Wall squat",
                                       "Lean on a wall and bend the knees a little")
    ex = access.custom_exercises(A, store)
    assert ex["exercise"].tolist() == [name] and ex["instruction"].item().endswith("stop if it hurts.")
    assert access.custom_exercises(B, store).empty
    with pytest.raises(ProgrammeError, match="already in the exercise list"):
        access.save_custom_exercise(A, store, "Knee to chest", "", "x")
    mine = template("seed_back_programme")
    mine = type(mine)("my_plan", "My plan", "", Programme((ProgrammeItem(name, reps=8),), mine.programme.progression))
    access.save_custom_template(A, store, mine)
    assert access.custom_templates(A, store) == {"my_plan": mine}
    assert access.custom_templates(B, store) == {}


def test_new_tables_are_in_backups(store: Store, tmp_path: Path) -> None:
    access.add_patient(A, store, START, "Jane")
    store.export_store(tmp_path / "backup", fmt="csv")
    assert (tmp_path / "backup" / f"{PATIENT_PROFILES.name}.csv").is_file()
    with Store.open(data_dir=tmp_path / "copy") as copy:
        copy.import_store(tmp_path / "backup", key=backup_key(store.data_dir))
        assert access.patient_profiles(A, copy)["display_name"].tolist() == ["Jane"]
        assert copy.schema_version() == SCHEMA_VERSION


def test_a_physio_marks_a_questionnaire_not_done_and_it_is_kept(store: Store, tmp_path: Path) -> None:
    pid = access.add_patient(A, store, START).patient_id
    access.mark_questionnaire_not_done(A, store, pid, "odi", 0, reason="declined")
    access.mark_questionnaire_not_done(A, store, pid, "odi", 0, reason="declined twice")  # replaces, one row
    access.mark_questionnaire_not_done(A, store, pid, "rmdq", 6)
    marks = access.questionnaires_not_done(A, store, [pid])
    assert sorted(zip(marks["instrument"], marks["timepoint_week"], marks["reason"].fillna(""), strict=True)) == [
        ("odi", 0, "declined twice"), ("rmdq", 6, "")]
    assert set(marks["marked_by"]) == {"physio_a"}
    # another physio may neither mark nor read them
    with pytest.raises(AccessDenied, match="not on your caseload"):
        access.mark_questionnaire_not_done(B, store, pid, "odi", 6)
    assert access.questionnaires_not_done(B, store, [pid]).empty
    with pytest.raises(AccessDenied):
        access.questionnaires_not_done(User(pid.lower(), PATIENT, patient_id=pid), store, [pid])
    # kept in backups like every table
    store.export_store(tmp_path / "backup", fmt="csv")
    assert (tmp_path / "backup" / "questionnaires_not_done.csv").exists()
