"""Tests of who sees what (analysis.access): passwords, roles and the one data-access function.

The expected rows are counted from the sample CSV files with pandas (read as
text, independent of the store), the expected pseudonyms computed with the
standard library's hmac, and the expected programme days by subtracting dates.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

import pandas as pd
import pytest
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st

from analysis import access, accounts
from analysis.access import cohort_for
from analysis.accounts import (
    DEMO_USERS_FILE,
    AuthenticationError,
    add_user,
    authenticate,
    load_users,
    lookup_user,
    users_file,
)
from analysis.errors import SeveralPeopleError
from analysis.pseudonyms import ResearchCohort
from analysis.roles import AccessDenied, User
from analysis.schema import TABLES, CohortTables
from analysis.store import Store

from .test_store import SAMPLE, TODAY, pain_csv

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
RAW = {name: pd.read_csv(SAMPLE / f"{name}.csv", dtype=str, keep_default_na=False) for name in TABLES}
PATIENT_IDS = sorted(RAW["patients"]["patient_id"])
PHYSIO_OF = dict(zip(RAW["patients"]["patient_id"], RAW["patients"]["physio_id"], strict=True))
CASELOAD_A = sorted(p for p, f in PHYSIO_OF.items() if f == "physio_a")
CASELOAD_B = sorted(p for p, f in PHYSIO_OF.items() if f == "physio_b")

P001 = User("p001", "patient", patient_id="P001")
P002 = User("p002", "patient", patient_id="P002")
PHYSIO_A = User("physio_a", "physio", physio_id="physio_a")
RESEARCHER = User("researcher", "researcher")
ADMIN = User("admin", "admin")


def rows_of(ids: list[str]) -> dict[str, int]:
    """Rows per table of these patients in the sample CSVs."""
    return {name: int(raw["patient_id"].isin(ids).sum()) for name, raw in RAW.items()}


def row_counts(cohort: CohortTables) -> dict[str, int]:
    return {name: len(getattr(cohort, name)) for name in TABLES}


def ids_in(cohort: CohortTables) -> set[str]:
    return set().union(*(set(getattr(cohort, name)["patient_id"]) for name in TABLES))


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("access")
    s = Store.open(folder / "rehabtrack.sqlite", data_dir=folder)
    s.load_sample()
    yield s
    s.close()


@pytest.fixture
def fresh_store(tmp_path):
    s = Store.open(tmp_path / "s.sqlite", data_dir=tmp_path)
    access.upload(ADMIN, s, (SAMPLE / "patients.csv").read_bytes(), "patients.csv", today=TODAY)
    yield s
    s.close()


@pytest.fixture
def cheap_hashing(monkeypatch):
    """Argon2id with small parameters for accounts made in a test (the demo hashes keep theirs)."""
    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


# --------------------------------------------------------------------------------------
# accounts and passwords


@pytest.mark.parametrize("username", ["p001", "physio_a", "physio_b", "researcher", "admin"])
def test_demo_accounts_log_in_with_their_documented_passwords(username, monkeypatch, tmp_path):
    monkeypatch.delenv("REHABTRACK_USERS_FILE", raising=False)
    monkeypatch.setenv("REHABTRACK_DATA_DIR", str(tmp_path))  # no users.toml there: the demo file is in force
    assert users_file() == DEMO_USERS_FILE
    user = authenticate(username, f"{username}-demo")
    assert user.username == username


def test_demo_file_holds_only_argon2id_hashes():
    text = DEMO_USERS_FILE.read_text()
    hashes = re.findall(r'password_hash = "([^"]+)"', text)
    assert len(hashes) == 5 and all(h.startswith("$argon2id$") for h in hashes)
    assert "-demo" not in text.replace("<username>-demo", "")  # no plain password in the file
    users = {name: u for name, (u, _) in load_users(DEMO_USERS_FILE).items()}
    assert users["p001"] == P001 and users["physio_a"] == PHYSIO_A and users["researcher"].role == "researcher"


def test_unknown_user_gets_the_same_message_as_a_wrong_password(monkeypatch, tmp_path, cheap_hashing):
    monkeypatch.setenv("REHABTRACK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("REHABTRACK_USERS_FILE", raising=False)
    with pytest.raises(AuthenticationError) as unknown:
        authenticate("mallory", "admin-demo")
    with pytest.raises(AuthenticationError) as wrong:
        authenticate("admin", "admin-dem0")  # one character off the demo password
    assert str(unknown.value) == str(wrong.value) == "unknown user name or wrong password"


def test_a_local_users_file_replaces_the_demo_accounts(monkeypatch, tmp_path, cheap_hashing):
    monkeypatch.setenv("REHABTRACK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("REHABTRACK_USERS_FILE", raising=False)
    path = add_user(User("dr_who", "physio", physio_id="physio_c"), "tardis-since-1963")
    assert path == tmp_path / "users.toml" and users_file() == path
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert "tardis" not in path.read_text()
    assert authenticate("dr_who", "tardis-since-1963") == User("dr_who", "physio", physio_id="physio_c")
    with pytest.raises(AuthenticationError):
        authenticate("admin", "admin-demo")  # the demo accounts no longer work
    with pytest.raises(ValueError, match="already exists"):
        add_user(User("dr_who", "admin"), "another-password")
    add_user(User("dr_who", "admin"), "another-password", replace=True)
    assert authenticate("dr_who", "another-password").role == "admin"
    with pytest.raises(ValueError, match="demo accounts file"):
        add_user(User("x", "admin"), "password-12345", path=DEMO_USERS_FILE)


def test_identity_provider_accounts_have_no_password(tmp_path, cheap_hashing):
    path = tmp_path / "users.toml"
    add_user(User("ana@clinic.example", "physio", physio_id="physio_a"), None, path=path)
    assert "password_hash" not in path.read_text()
    assert lookup_user("ana@clinic.example", path=path) == User("ana@clinic.example", "physio", physio_id="physio_a")
    with pytest.raises(AuthenticationError):
        authenticate("ana@clinic.example", "", path=path)  # no password opens a password-less account
    with pytest.raises(AuthenticationError, match="no rehabtrack account"):
        lookup_user("eve@elsewhere.example", path=path)


def test_a_plain_password_in_the_users_file_is_refused(tmp_path):
    path = tmp_path / "users.toml"
    path.write_text('[users.bob]\nrole = "admin"\npassword_hash = "hunter22"\n')
    with pytest.raises(AuthenticationError, match="Argon2 hash"):
        load_users(path)


@pytest.mark.parametrize("kwargs", [
    {"username": "a b", "role": "admin"}, {"username": "x", "role": "doctor"},
    {"username": "x", "role": "patient"}, {"username": "x", "role": "physio"},
    {"username": "x", "role": "admin", "patient_id": "P001"}, {"username": "x", "role": "researcher", "physio_id": "f"},
])
def test_invalid_accounts_are_refused(kwargs):
    with pytest.raises(ValueError):
        User(**kwargs)


# --------------------------------------------------------------------------------------
# patient


def test_a_patient_sees_exactly_their_own_rows(sample_store):
    cohort = cohort_for(P001, sample_store)
    assert isinstance(cohort, CohortTables)
    assert ids_in(cohort) == {"P001"}
    assert row_counts(cohort) == rows_of(["P001"])
    assert row_counts(cohort_for(P001, sample_store, patient_ids=["P001"])) == rows_of(["P001"])


@given(asked=st.lists(st.sampled_from([*PATIENT_IDS, "P999", "p001", "P001 ", "*", "' OR 1=1 --"]),
                      min_size=1, max_size=4))
def test_a_patient_asking_for_anyone_else_is_denied(sample_store, asked):
    if all(a == "P001" for a in asked):
        assert ids_in(cohort_for(P001, sample_store, patient_ids=asked)) == {"P001"}
    else:
        with pytest.raises(AccessDenied, match="only see your own data"):
            cohort_for(P001, sample_store, patient_ids=asked)


# --------------------------------------------------------------------------------------
# physio


def test_a_physio_sees_exactly_their_caseload(sample_store):
    cohort = cohort_for(PHYSIO_A, sample_store)
    assert ids_in(cohort) == set(CASELOAD_A)
    assert set(cohort.patients["physio_id"]) == {"physio_a"}
    assert row_counts(cohort) == rows_of(CASELOAD_A)


@given(asked=st.lists(st.sampled_from([*PATIENT_IDS, "P999"]), min_size=1, max_size=5, unique=True))
def test_a_physio_asking_for_another_physios_patient_is_denied(sample_store, asked):
    if set(asked) <= set(CASELOAD_A):
        cohort = cohort_for(PHYSIO_A, sample_store, patient_ids=asked)
        assert ids_in(cohort) <= set(asked) and row_counts(cohort) == rows_of(asked)
    else:
        with pytest.raises(AccessDenied, match="not on your caseload"):
            cohort_for(PHYSIO_A, sample_store, patient_ids=asked)


def test_admin_sees_everything(sample_store):
    assert row_counts(cohort_for(ADMIN, sample_store)) == {name: len(raw) for name, raw in RAW.items()}
    assert row_counts(cohort_for(ADMIN, sample_store, patient_ids=["P002"])) == rows_of(["P002"])


# --------------------------------------------------------------------------------------
# researcher


def _pseudonym(pid: str, key: bytes = KEY) -> str:
    return "pat-" + hmac.new(key, b"patient:" + pid.encode(), hashlib.sha256).hexdigest()[:16]


def test_a_researcher_gets_no_direct_identifiers(sample_store):
    research = cohort_for(RESEARCHER, sample_store, key=KEY)
    assert isinstance(research, ResearchCohort)
    identifiers = set(PATIENT_IDS) | set(PHYSIO_OF.values())
    for name, frame in research.tables().items():
        assert not {"patient_id", "physio_id", "notes", "condition_notes", "programme_start"} & set(frame.columns)
        assert not any(str(t).startswith("datetime") for t in frame.dtypes), name
        for col in frame.columns:
            if frame[col].dtype == "string":
                values = set(frame[col].dropna())
                assert not values & identifiers, (name, col)
                assert not any(re.search(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4}", v) for v in values), (name, col)
    assert set(research.patients["pseudonym"]) == {_pseudonym(p) for p in PATIENT_IDS}
    assert len(research.sessions) == len(RAW["sessions"]) and len(research.pain) == len(RAW["pain"])


def test_research_days_count_from_the_programme_start(sample_store):
    research = cohort_for(RESEARCHER, sample_store, key=KEY)
    start = pd.Timestamp(RAW["patients"].set_index("patient_id").loc["P001", "programme_start"])
    raw = RAW["pain"][RAW["pain"]["patient_id"] == "P001"]
    expected = sorted((pd.to_datetime(raw["recorded_at"]).dt.normalize() - start).dt.days)
    mine = research.pain[research.pain["pseudonym"] == _pseudonym("P001")]
    assert sorted(mine["day"].astype(int)) == expected and expected[0] == 0  # first rating on the start day
    assert (mine["week"] == mine["day"] // 7 + 1).all()


def test_pseudonyms_are_stable_and_depend_on_the_key(sample_store):
    a = cohort_for(RESEARCHER, sample_store, key=KEY).patients["pseudonym"]
    b = cohort_for(RESEARCHER, sample_store, key=KEY).patients["pseudonym"]
    c = cohort_for(RESEARCHER, sample_store, key=OTHER_KEY).patients["pseudonym"]
    assert a.tolist() == b.tolist()
    assert set(c) == {_pseudonym(p, OTHER_KEY) for p in PATIENT_IDS} and not set(a) & set(c)


def test_a_researcher_selects_by_pseudonym_never_by_id(sample_store):
    with pytest.raises(AccessDenied, match="pseudonym"):
        cohort_for(RESEARCHER, sample_store, patient_ids=["P001"], key=KEY)
    one = cohort_for(RESEARCHER, sample_store, patient_ids=[_pseudonym("P001")], key=KEY)
    assert set(one.pain["pseudonym"]) == {_pseudonym("P001")}
    assert len(one.pain) == rows_of(["P001"])["pain"] and len(one.sessions) == rows_of(["P001"])["sessions"]


def test_notes_reach_a_researcher_only_when_asked_for(sample_store):
    with_notes = cohort_for(RESEARCHER, sample_store, key=KEY, include_notes=True)
    assert "notes" in with_notes.sessions.columns and "condition_notes" in with_notes.patients.columns
    assert with_notes.pain["notes"].notna().sum() == (RAW["pain"]["notes"] != "").sum()


# --------------------------------------------------------------------------------------
# uploads by role


def test_researchers_cannot_upload(fresh_store):
    with pytest.raises(AccessDenied, match="researcher"):
        access.upload(RESEARCHER, fresh_store, pain_csv("P001", date(2026, 9, 1), 2), "p.csv", today=TODAY)


def test_a_patient_upload_is_held_to_their_own_id(fresh_store):
    data = b"patient_id,recorded_at,nprs\nP001,2026-09-01 20:00,3\nP002,2026-09-02 20:00,4\n"
    before = fresh_store.counts()
    with pytest.raises(SeveralPeopleError, match="column 'patient_id' has P001 \\(1 row\\), P002 \\(1 row\\)"):
        access.upload(P001, fresh_store, data, "mine.csv", today=TODAY)  # two people in a file for one
    assert fresh_store.counts() == before
    other = b"patient_id,recorded_at,nprs\nP002,2026-09-02 20:00,4\n,2026-09-03 20:00,5\n"
    report = access.upload(P001, fresh_store, other, "mine.csv", today=TODAY)
    assert (report.rows_added, report.rows_rejected) == (1, 1)  # the P002 row is rejected, with its reason
    assert fresh_store.rejected_rows(report.upload_id)["row_number"].tolist() == [2]
    assert set(fresh_store.read_table("pain")["patient_id"]) == {"P001"}
    with pytest.raises(AccessDenied, match="your own data"):
        access.upload(P001, fresh_store, data, "theirs.csv", patient_id="P002", today=TODAY)
    one_patient = b"patient_id,physio_id,programme_start\nP001,physio_a,2026-09-01\n"
    with pytest.raises(AccessDenied, match="not a patients table"):
        access.upload(P001, fresh_store, one_patient, "p.csv", today=TODAY)


def test_a_physio_cannot_upload_for_another_physios_patient(fresh_store):
    before = fresh_store.counts()
    outside = CASELOAD_B[0]
    data = f"patient_id,recorded_at,nprs\n{CASELOAD_A[0]},2026-09-01 20:00,3\n{outside},2026-09-01 20:00,4\n"
    with pytest.raises(AccessDenied, match=f"{outside}.*not on your caseload"):
        access.upload(PHYSIO_A, fresh_store, data.encode(), "p.csv", today=TODAY)
    assert fresh_store.counts() == before  # nothing of the file was stored
    ok = access.upload(PHYSIO_A, fresh_store, data.encode().rsplit(b"\n", 2)[0] + b"\n", "p.csv", today=TODAY)
    assert ok.rows_added == 1


def test_a_physio_registers_patients_only_to_themselves(fresh_store):
    header = "patient_id,physio_id,programme_start\n"
    with pytest.raises(AccessDenied, match="another physio"):
        access.upload(PHYSIO_A, fresh_store, (header + "P900,physio_b,2026-09-01\n").encode(), "n.csv", today=TODAY)
    with pytest.raises(AccessDenied, match="already registered"):
        access.upload(PHYSIO_A, fresh_store, (header + f"{CASELOAD_B[0]},physio_a,2026-09-01\n").encode(), "n.csv",
                      today=TODAY)
    access.upload(PHYSIO_A, fresh_store, (header + "P900,physio_a,2026-09-01\n").encode(), "n.csv", today=TODAY)
    added = access.upload(PHYSIO_A, fresh_store, pain_csv("P900", date(2026, 9, 1), 3), "p.csv", today=TODAY)
    assert added.rows_added == 3
    assert "P900" in ids_in(cohort_for(PHYSIO_A, fresh_store))


def test_research_summary_has_statistics_but_no_identifiers_or_dates(tmp_path) -> None:
    from analysis.access import summary_for
    from analysis.sample_data import SNAPSHOT_DATE

    store = Store.open(data_dir=tmp_path)
    store.load_sample()
    key = b"k" * 32
    researcher = User("r", "researcher")
    research = summary_for(researcher, store, as_of=SNAPSHOT_DATE, key=key)
    admin = summary_for(User("a", "admin"), store, as_of=SNAPSHOT_DATE)
    assert len(research) == len(admin) == 60
    forbidden = {"patient_id", "physio_id", "programme_start", "last_entry_date", "last_session_date",
                 "attention_reasons", "odi_latest_at", "rmdq_latest_at"}
    assert not forbidden & set(research.columns)
    assert research["pseudonym"].str.startswith("pat-").all()
    flat = research.astype(str).to_numpy().ravel()
    assert not any(pid in flat for pid in admin["patient_id"])  # no patient id anywhere in the cells
    # the statistics are the same numbers, only relabelled
    assert sorted(research["adherence"].round(12)) == sorted(admin["adherence"].round(12))
    # a patient's summary is only their own row
    own = summary_for(User("p", "patient", patient_id="P001"), store, as_of=SNAPSHOT_DATE)
    assert own["patient_id"].tolist() == ["P001"]


def test_archived_patients_leave_the_caseload_summary_but_keep_their_data(tmp_path) -> None:
    from analysis.access import summary_for
    from analysis.sample_data import SNAPSHOT_DATE

    store = Store.open(data_dir=tmp_path)
    store.load_sample()
    physio = User("physio_a", "physio", physio_id="physio_a")
    before = summary_for(physio, store, as_of=SNAPSHOT_DATE)
    archived = before["patient_id"].iloc[0]
    access.archive_patient(physio, store, archived)
    after = summary_for(physio, store, as_of=SNAPSHOT_DATE)
    assert set(before["patient_id"]) - set(after["patient_id"]) == {archived}
    kept = cohort_for(physio, store, patient_ids=[archived])
    assert len(kept.pain) > 0 and set(kept.pain["patient_id"]) == {archived}


# ---- issue 19: the caseload read fetches only the columns the summary uses ---------------------------


def test_a_pruned_read_has_the_named_columns_and_the_same_rows(sample_store):
    from analysis.cohort import SUMMARY_INPUTS

    full = cohort_for(PHYSIO_A, sample_store)
    pruned = cohort_for(PHYSIO_A, sample_store, columns=SUMMARY_INPUTS)
    assert isinstance(full, CohortTables) and isinstance(pruned, CohortTables)
    for name in TABLES:
        expected = [c for c in TABLES[name].column_names if c in SUMMARY_INPUTS[name]]
        assert list(getattr(pruned, name).columns) == expected
        pd.testing.assert_frame_equal(getattr(pruned, name), getattr(full, name)[expected])
    assert "notes" not in pruned.sessions.columns and "rpe" not in pruned.sessions.columns


def test_the_summary_of_the_pruned_read_equals_the_summary_of_every_column(sample_store):
    from analysis.access import summary_for
    from analysis.cohort import cohort_summary
    from analysis.sample_data import SNAPSHOT_DATE

    full = cohort_for(PHYSIO_A, sample_store)
    assert isinstance(full, CohortTables)
    active = sample_store.active_caseload("physio_a")
    full = CohortTables(**{n: getattr(full, n)[getattr(full, n)["patient_id"].isin(active)].reset_index(drop=True)
                           for n in TABLES})
    expected = cohort_summary(full, as_of=SNAPSHOT_DATE)
    got = summary_for(PHYSIO_A, sample_store, as_of=SNAPSHOT_DATE)
    pd.testing.assert_frame_equal(got, expected)
