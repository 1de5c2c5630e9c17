"""Store: patients added in the app, archiving, prescriptions saved and edited, physios' own exercises."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.access import ADMIN, PATIENT, PHYSIO, RESEARCHER, AccessDenied, User, authenticate, cohort_for
from analysis.programme_templates import template
from analysis.programmes import Programme, ProgrammeError, ProgrammeItem, Progression, programme_to_prescriptions
from analysis.store import PATIENT_PROFILES, SCHEMA_VERSION, Store

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
    new = store.add_patient(A, START, "Jane Example", users_path=users)
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
    profiles = store.patient_profiles(A)
    assert profiles.loc[profiles["patient_id"] == new.patient_id, "display_name"].item() == "Jane Example"
    assert store.patient_profiles(B).empty
    with pytest.raises(AccessDenied):
        store.add_patient(User("researcher", RESEARCHER), START)


def test_two_patients_get_different_ids(store: Store) -> None:
    ids = {store.add_patient(A, START).patient_id for _ in range(5)}
    assert len(ids) == 5
    assert store.add_patient(A, START).initial_password is None  # no users file given: no account


def test_archive_hides_from_active_caseload_and_keeps_data(store: Store) -> None:
    one, two = store.add_patient(A, START).patient_id, store.add_patient(A, START).patient_id
    store.save_prescriptions(A, one, programme_to_prescriptions(one, START, SEED))
    store.archive_patient(A, one)
    assert store.active_caseload("physio_a") == [two]
    assert sorted(store.caseload("physio_a")) == sorted([one, two])  # still reachable
    assert len(cohort_for(A, store, patient_ids=[one]).prescriptions) == 9
    with pytest.raises(AccessDenied):
        store.archive_patient(B, two)
    store.archive_patient(A, one, archived=False)
    assert store.active_caseload("physio_a") == sorted([one, two])


def test_save_and_edit_prescriptions(store: Store) -> None:
    pid = store.add_patient(A, START).patient_id
    first = programme_to_prescriptions(pid, START, SEED, weeks=12)
    store.save_prescriptions(A, pid, first)
    stored = cohort_for(A, store, patient_ids=[pid]).prescriptions
    pd.testing.assert_frame_equal(stored, first)
    with pytest.raises(ProgrammeError, match="already has a prescription"):
        store.save_prescriptions(A, pid, first)
    # edit at week 5 (2026-10-05): 3 sets, hold 5 s from then on
    changed = Programme(SEED.items, Progression.parse("weeks 1-2: 1 set, weeks 3-4: 2 sets, weeks 5+: 3 sets"))
    edit = store.save_prescriptions(A, pid, programme_to_prescriptions(pid, START, changed), from_date="2026-10-05")
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
    pid = store.add_patient(A, START).patient_id
    periods = programme_to_prescriptions(pid, START, SEED)
    with pytest.raises(AccessDenied, match="not on your caseload"):
        store.save_prescriptions(B, pid, periods)
    assert cohort_for(A, store, patient_ids=[pid]).prescriptions.empty  # nothing written
    store.save_prescriptions(User("admin", ADMIN), pid, periods)  # an administrator may
    with pytest.raises(ProgrammeError, match="not all for patient"):
        store.save_prescriptions(A, pid, programme_to_prescriptions("P999", START, SEED), from_date=START)


def test_custom_exercises_and_templates(store: Store) -> None:
    name = store.save_custom_exercise(A, "Wall squat", "Wall squat", "Lean on a wall and bend the knees a little")
    ex = store.custom_exercises(A)
    assert ex["exercise"].tolist() == [name] and ex["instruction"].item().endswith("stop if it hurts.")
    assert store.custom_exercises(B).empty
    with pytest.raises(ProgrammeError, match="already in the exercise list"):
        store.save_custom_exercise(A, "Knee to chest", "", "x")
    mine = template("seed_back_programme")
    mine = type(mine)("my_plan", "My plan", "", Programme((ProgrammeItem(name, reps=8),), mine.programme.progression))
    store.save_custom_template(A, mine)
    assert store.custom_templates(A) == {"my_plan": mine}
    assert store.custom_templates(B) == {}


def test_new_tables_are_in_backups(store: Store, tmp_path: Path) -> None:
    store.add_patient(A, START, "Jane")
    store.export_store(tmp_path / "backup", fmt="csv")
    assert (tmp_path / "backup" / f"{PATIENT_PROFILES.name}.csv").is_file()
    with Store.open(data_dir=tmp_path / "copy") as copy:
        copy.import_store(tmp_path / "backup")
        assert copy.patient_profiles(A)["display_name"].tolist() == ["Jane"]
        assert copy.schema_version() == SCHEMA_VERSION
