"""Tests of the persistent store (analysis.store): atomic, idempotent, concurrent, restorable.

Expected counts are written by hand from the small files built in each test
(the arithmetic is in the comments) or counted from the sample CSV files with
the standard library's csv module, never taken from the store's own answers.

PostgreSQL variants run against REHABTRACK_TEST_POSTGRES_URL (a server URL whose
role may create databases; ./test.sh sets it) or, when it is not set, against a
throw-away cluster that ``scripts/postgres-for-tests.sh`` starts for the session;
each test gets its own database.
"""

from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
import secrets
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from analysis import access
from analysis import store as store_mod
from analysis.errors import IngestError, SeveralPeopleError, UnreadableFileError
from analysis.roles import AccessDenied, User
from analysis.schema import TABLES
from analysis.store import (
    CANONICAL,
    SCHEMA_VERSION,
    Store,
    StoreError,
    StoreVersionError,
    UploadLimits,
    UploadTooLargeError,
    backup_key,
    safe_filename,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
TODAY = date(2026, 11, 20)
ADMIN = User("admin", "admin")
PG_ENV = "REHABTRACK_TEST_POSTGRES_URL"


# --------------------------------------------------------------------------------------
# helpers and fixtures


def pain_csv(patient: str, first: date, days: int, *, hour: str = "20:00", start: int = 0) -> bytes:
    """``days`` daily pain ratings of ``patient`` from ``first + start`` days, nprs = day index mod 11."""
    lines = ["patient_id,recorded_at,nprs"]
    for i in range(start, start + days):
        lines.append(f"{patient},{first + timedelta(days=i):%Y-%m-%d} {hour},{i % 11}")
    return ("\n".join(lines) + "\n").encode()


def csv_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1  # minus the header


def snapshot(store: Store) -> dict[str, pd.DataFrame]:
    """Every table, as stored (for 'nothing changed' and round-trip comparisons)."""
    with store._read() as conn:
        return {t.name: store._dump(conn, t) for t in store_mod._ALL_TABLES}


def assert_same_tables(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


@pytest.fixture
def pg_url(pg_server):
    url = sa.make_url(pg_server)
    name = f"rt_test_{secrets.token_hex(5)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "data" / "rehabtrack.sqlite")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir):
    s = Store.open(data_dir / "rehabtrack.sqlite", data_dir=data_dir)
    yield s
    s.close()


# --------------------------------------------------------------------------------------
# tables and opening


def test_tables_are_generated_from_the_schema():
    timed = {"sessions", "pain", "proms"}  # a key with a time of day: the markers beside the row, fold in the key
    for name, spec in TABLES.items():
        table = CANONICAL[name]
        markers = ["time_written", "fold"] if name in timed else []
        assert [c.name for c in table.c] == [*spec.column_names, "upload_id", *markers]
        assert [c.name for c in table.primary_key.columns] == [*spec.key, *markers[1:]]
        for col in spec.columns:
            # a key column is NOT NULL through the primary key even when optional in the spec
            assert table.c[col.name].nullable == (not col.required and col.name not in spec.key), col.name


def test_default_store_is_a_wal_sqlite_file_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("REHABTRACK_DATA_DIR", str(tmp_path / "dd"))
    monkeypatch.delenv("REHABTRACK_DATABASE_URL", raising=False)
    with Store.open() as s:
        assert (tmp_path / "dd" / "rehabtrack.sqlite").is_file()
        assert s.data_dir == (tmp_path / "dd").resolve()
        with s.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert s.schema_version() == SCHEMA_VERSION


def test_postgresql_urls_use_the_psycopg_3_driver(tmp_path):
    url = store_mod._resolve_url("postgresql://rt:secret@db.clinic.example/rehabtrack", tmp_path)
    engine = store_mod._make_engine(url)  # lazy: nothing connects
    assert engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
    assert "secret" not in Store(engine, tmp_path, UploadLimits()).url
    engine.dispose()
    assert store_mod._resolve_url(tmp_path / "x" / "s.sqlite", tmp_path).database == str(tmp_path / "x" / "s.sqlite")


def test_load_sample_seeds_once_and_is_idempotent(store):
    expected = {name: csv_rows(SAMPLE / f"{name}.csv") for name in TABLES}
    reports = store.load_sample()
    assert [r.table for r in reports] == list(TABLES)
    counts = store.counts()
    assert {name: counts[name] for name in TABLES} == expected
    assert store.load_sample() == []  # the store has data: first-run seeding does nothing
    again = store.load_sample(if_empty=False)
    assert [r.rows_added for r in again] == [0] * 5
    assert [r.rows_already_there for r in again] == [expected[n] for n in TABLES]
    assert all(r.duplicate_of is not None for r in again)
    assert {name: store.counts()[name] for name in TABLES} == expected


# --------------------------------------------------------------------------------------
# one upload: counts, rejected rows, re-uploads, overlaps


BAD_PAIN = (
    b"patient_id,recorded_at,nprs\n"
    b"P1,2026-09-01 20:00,3\n"  # row 2 ok
    b"P1,2026-09-02 20:00,11\n"  # row 3: nprs above 10 -> rejected
    b"P1,2026-09-03 20:00,4\n"  # row 4 ok
    b"P1,2026-09-31 20:00,4\n"  # row 5: no 31 September -> rejected
    b"P1,2026-09-01 20:00,3\n"  # row 6: repeats row 2 -> duplicate in the file (other values: rejected)
    b"P1,2026-09-05 20:00,=1+1\n"  # row 7: not a number -> rejected
    b"P1,2026-09-06 20:00,2\n"  # row 8 ok
)


def test_upload_stores_accepted_rows_and_every_rejected_row(store):
    report = access.upload(ADMIN, store, BAD_PAIN, "pain.csv", today=TODAY)
    # 7 rows: rows 2, 4, 8 added; 3, 5, 7 rejected; 6 duplicate
    assert (report.rows_in_file, report.rows_added, report.rows_rejected, report.rows_duplicate_in_file,
            report.rows_already_there) == (7, 3, 3, 1, 0)
    pain = store.read_table("pain")
    assert pain["recorded_at"].dt.day.tolist() == [1, 3, 6]
    assert pain["nprs"].tolist() == [3, 4, 2]
    rejected = store.rejected_rows(report.upload_id)
    assert rejected["row_number"].tolist() == [3, 5, 7]
    assert rejected["column_name"].tolist() == ["nprs", "recorded_at", "nprs"]
    assert rejected["value"].tolist() == ["11", "2026-09-31 20:00", "=1+1"]
    assert all(len(r) > 10 for r in rejected["reason"])
    up = store.uploads().iloc[0]
    assert (up["uploaded_by"], up["filename"], up["table_name"], up["format"]) == ("admin", "pain.csv", "pain", "csv")
    assert up["content_sha256"] == __import__("hashlib").sha256(BAD_PAIN).hexdigest()
    assert up["rows_added"] + up["rows_already_there"] + up["rows_duplicate_in_file"] + up["rows_rejected"] == 7
    kept = store.data_dir / "uploads" / up["content_sha256"][:2] / up["content_sha256"]
    assert kept.read_bytes() == BAD_PAIN


def test_reupload_of_the_same_bytes_adds_nothing_and_says_so(store):
    first = access.upload(ADMIN, store, BAD_PAIN, "pain.csv", today=TODAY)
    before = store.counts()
    again = access.upload(ADMIN, store, BAD_PAIN, "pain (1).csv", today=TODAY)
    assert (again.rows_added, again.rows_already_there, again.rows_rejected) == (0, 3, 3)
    assert again.duplicate_of == first.upload_id
    assert "3 already there" in again.summary() and f"upload {first.upload_id}" in again.summary()
    after = store.counts()
    assert after["pain"] == before["pain"] == 3
    assert after["rejected_rows"] == before["rejected_rows"] == 3  # the rejections are not stored twice
    assert after["uploads"] == before["uploads"] + 1  # the attempt itself is recorded


def test_overlapping_file_adds_only_the_new_rows(store):
    first = date(2026, 9, 1)
    a = access.upload(ADMIN, store, pain_csv("P1", first, 10), "a.csv", today=TODAY)  # days 0-9
    b = access.upload(ADMIN, store, pain_csv("P1", first, 10, start=6), "b.csv", today=TODAY)  # days 6-15
    assert (a.rows_added, a.rows_already_there) == (10, 0)
    assert (b.rows_added, b.rows_already_there) == (6, 4)  # days 6-9 overlap (4), 10-15 are new (6)
    assert b.duplicate_of is None
    assert store.counts()["pain"] == 16


def test_a_date_only_diary_matches_timed_rows_of_the_same_day(store):
    first = date(2026, 9, 1)
    access.upload(ADMIN, store, pain_csv("P1", first, 5, hour="20:00"), "timed.csv", today=TODAY)  # days 0-4
    # The same patient's diary without clock times: days 2-6 at midnight.
    diary = "Date,Pain (0-10)\n" + "".join(f"{first + timedelta(days=i):%d/%m/%Y},{i}\n" for i in range(2, 7))
    patient = User("p1", "patient", patient_id="P1")
    report = access.upload(patient, store, diary.encode(), "diary.csv", today=TODAY)
    assert (report.rows_added, report.rows_already_there) == (2, 3)  # days 2-4 are there, 5-6 new
    # A second timed rating on a day already rated (morning and evening) is a new row ...
    morning = access.upload(ADMIN, store, pain_csv("P1", first, 1, hour="08:00"), "m.csv", today=TODAY)
    assert (morning.rows_added, morning.rows_already_there) == (1, 0)
    # ... but a timed rating on a day stored without a time (day 5) is the same rating.
    late = access.upload(ADMIN, store, pain_csv("P1", first, 1, hour="21:15", start=5), "l.csv", today=TODAY)
    assert (late.rows_added, late.rows_already_there) == (0, 1)
    assert store.counts()["pain"] == 5 + 2 + 1


# --------------------------------------------------------------------------------------
# atomicity


def test_a_failure_mid_transaction_leaves_the_store_unchanged(store, monkeypatch):
    access.upload(ADMIN, store, pain_csv("P0", date(2026, 9, 1), 5), "seed.csv", today=TODAY)
    before = snapshot(store)
    originals_before = sorted(p.name for p in (store.data_dir / "uploads").rglob("*") if p.is_file())
    monkeypatch.setattr(store_mod, "_INSERT_CHUNK", 10)
    calls = {"n": 0}
    real = store_mod._insert_chunk

    def failing(conn, table, records):
        calls["n"] += 1
        if calls["n"] == 3:  # the uploads row and two chunks of 10 pain rows are in; the third chunk fails
            raise RuntimeError("disk full (injected)")
        real(conn, table, records)

    monkeypatch.setattr(store_mod, "_insert_chunk", failing)
    with pytest.raises(RuntimeError, match="injected"):
        access.upload(ADMIN, store, pain_csv("P9", date(2026, 9, 1), 45), "big.csv", today=TODAY)
    assert calls["n"] == 3
    assert_same_tables(before, snapshot(store))
    after = sorted(p.name for p in (store.data_dir / "uploads").rglob("*") if p.is_file())
    # the original is kept (fsynced) BEFORE the rows commit (issue 17): a failed commit leaves it without rows,
    # harmless (named by its hash; the next upload of the same bytes uses it), never rows without an original
    big = hashlib.sha256(pain_csv("P9", date(2026, 9, 1), 45)).hexdigest()
    assert after == sorted([*originals_before, big])
    assert store.missing_originals().empty


def test_a_failure_while_storing_rejected_rows_rolls_back_the_accepted_rows(store, monkeypatch):
    before = snapshot(store)
    real = store_mod._insert_chunk

    def failing(conn, table, records):
        if table is store_mod.REJECTED_ROWS:
            raise RuntimeError("injected")
        real(conn, table, records)

    monkeypatch.setattr(store_mod, "_insert_chunk", failing)
    with pytest.raises(RuntimeError):
        access.upload(ADMIN, store, BAD_PAIN, "pain.csv", today=TODAY)
    assert_same_tables(before, snapshot(store))


# --------------------------------------------------------------------------------------
# limits and hostile input


def test_size_limit_has_a_clear_message_and_stores_nothing(data_dir):
    with Store.open(data_dir / "s.sqlite", data_dir=data_dir, limits=UploadLimits(max_bytes=100)) as s:
        data = pain_csv("P1", date(2026, 9, 1), 10)  # 29 + 10 x 23 bytes, well over 100
        with pytest.raises(UploadTooLargeError, match=r"at most 0\.0 MB.*Split it"):
            access.upload(ADMIN, s, data, "big.csv", today=TODAY)
        assert s.counts()["uploads"] == 0


def test_row_limit_has_a_clear_message_and_stores_nothing(data_dir):
    with Store.open(data_dir / "s.sqlite", data_dir=data_dir, limits=UploadLimits(max_rows=5)) as s:
        with pytest.raises(UploadTooLargeError, match="has more than 5 rows .*one upload may have at most 5"):
            access.upload(ADMIN, s, pain_csv("P1", date(2026, 9, 1), 6), "six.csv", today=TODAY)
        assert access.upload(ADMIN, s, pain_csv("P1", date(2026, 9, 1), 5), "five.csv", today=TODAY).rows_added == 5


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("REHABTRACK_MAX_UPLOAD_MB", "2")
    monkeypatch.setenv("REHABTRACK_MAX_UPLOAD_ROWS", "1000")
    assert UploadLimits.from_env() == UploadLimits(max_bytes=2 * 1024 * 1024, max_rows=1000)


MALICIOUS_NAMES = [
    "../../etc/passwd", "/etc/cron.d/evil.csv", "..\\..\\windows\\system32\\x.csv", "a/../../../b.csv",
    "../" * 20 + "tmp/x.csv", "nul\x00byte.csv", "", "..", "con:.csv", "~/.bashrc",
]


def test_malicious_file_names_never_write_outside_the_data_dir(tmp_path, store):
    before = {p for p in tmp_path.rglob("*")}
    for i, name in enumerate(MALICIOUS_NAMES):
        access.upload(ADMIN, store, pain_csv(f"P{i}", date(2026, 9, 1), 2), name, today=TODAY)
    new = {p for p in tmp_path.rglob("*")} - before
    assert new and all(store.data_dir in p.parents for p in new)
    stored = store.uploads()["filename"].tolist()
    assert stored[:4] == ["passwd", "evil.csv", "x.csv", "b.csv"]
    assert all("/" not in n and "\\" not in n and "\x00" not in n and n not in ("", ".", "..") for n in stored)
    assert not Path("/etc/cron.d/evil.csv").exists()


@pytest.mark.parametrize("name", ["../x", "/abs/path/f.csv", "C:\\x\\y.xlsx", "", "\x07bell.csv"])
def test_safe_filename_keeps_only_a_printable_last_component(name):
    out = safe_filename(name)
    assert out and "/" not in out and "\\" not in out and out.isprintable() and out not in (".", "..")


BAD_FILES = {
    "empty.csv": b"",
    "blank.csv": b"\n\n  \n",
    "header_only.csv": b"patient_id,recorded_at,nprs\n",
    "binary.csv": bytes(range(256)) * 4,
    "fake.xlsx": b"patient_id,recorded_at,nprs\nP1,2026-09-01,3\n",
    "broken.json": b'[{"patient_id": "P1", "recorded_at": ',
    "old.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512,
    "no_columns.csv": b"foo,bar\n1,2\n",
    "truncated.xlsx": b"PK\x03\x04" + b"\x00" * 64,
}


def test_bad_files_raise_a_readable_error_and_leave_the_store_unchanged(store):
    access.upload(ADMIN, store, pain_csv("P0", date(2026, 9, 1), 3), "ok.csv", today=TODAY)
    before = snapshot(store)
    for name, data in BAD_FILES.items():
        with pytest.raises(IngestError) as err:
            access.upload(ADMIN, store, data, name, today=TODAY)
        assert name in str(err.value), (name, str(err.value))
    assert_same_tables(before, snapshot(store))


def test_a_file_whose_rows_are_all_invalid_is_recorded_with_every_reason(store):
    data = b"patient_id,recorded_at,nprs\nP1,2026-09-01,12\nP1,yesterday,3\n"
    report = access.upload(ADMIN, store, data, "bad.csv", today=TODAY)
    assert (report.rows_added, report.rows_rejected) == (0, 2)
    assert store.rejected_rows(report.upload_id)["row_number"].tolist() == [2, 3]


# --------------------------------------------------------------------------------------
# concurrency: 8 threads and 4 processes, SQLite (WAL) and PostgreSQL


SHARED_DAYS = 40  # every writer uploads the same 40-row file: exactly one of them adds it
OWN_DAYS = 50  # and a file of its own patient


def _expected_totals(writers: int) -> dict[str, int]:
    return {"pain": writers * OWN_DAYS + SHARED_DAYS, "uploads": 2 * writers,
            "shared_added": SHARED_DAYS, "shared_already": (writers - 1) * SHARED_DAYS}


def _upload_pair(s: Store, i: int) -> tuple[int, int, int]:
    shared = access.upload(ADMIN, s, pain_csv("SHARED", date(2026, 8, 1), SHARED_DAYS), "shared.csv", today=TODAY)
    own = access.upload(ADMIN, s, pain_csv(f"W{i:02d}", date(2026, 8, 1), OWN_DAYS), f"own{i}.csv", today=TODAY)
    return shared.rows_added, shared.rows_already_there, own.rows_added


def _process_worker(url: str, data_dir: str, i: int, barrier, results) -> None:
    try:
        s = Store.open(url, data_dir=data_dir)
        barrier.wait(timeout=60)
        results.put((i, _upload_pair(s, i)))
        s.close()
    except BaseException as exc:  # pragma: no cover - reported to the parent
        results.put((i, repr(exc)))


def _check_concurrent(s: Store, outcomes: list[tuple[int, int, int]], writers: int) -> None:
    want = _expected_totals(writers)
    counts = s.counts()
    assert counts["pain"] == want["pain"]  # nothing lost, nothing twice
    assert counts["uploads"] == want["uploads"]
    assert sum(o[0] for o in outcomes) == want["shared_added"]
    assert sum(o[1] for o in outcomes) == want["shared_already"]
    assert [o[2] for o in outcomes] == [OWN_DAYS] * writers
    per_patient = s.read_table("pain").groupby("patient_id").size()
    assert per_patient.loc["SHARED"] == SHARED_DAYS
    assert (per_patient.drop("SHARED") == OWN_DAYS).all() and len(per_patient) == writers + 1


def test_concurrent_uploads_from_8_threads_all_land(db_url, data_dir):
    writers = 8
    with Store.open(db_url, data_dir=data_dir) as s:
        barrier = threading.Barrier(writers)
        outcomes: list = [None] * writers
        errors: list = []

        def run(i: int) -> None:
            try:
                barrier.wait(timeout=30)
                outcomes[i] = _upload_pair(s, i)
            except BaseException as exc:  # pragma: no cover - surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        _check_concurrent(s, outcomes, writers)


def test_concurrent_uploads_from_4_processes_all_land(db_url, data_dir):
    writers = 4
    # The workers also create the store at once (none exists yet). fork: four separate processes, each
    # opening its own engine after the fork (the parent has none for this URL); spawn where fork does not exist.
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    barrier, results = ctx.Barrier(writers), ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(db_url, str(data_dir), i, barrier, results))
             for i in range(writers)]
    for p in procs:
        p.start()
    got = dict(results.get(timeout=120) for _ in range(writers))
    for p in procs:
        p.join(timeout=60)
    bad = {i: r for i, r in got.items() if isinstance(r, str)}
    assert not bad, bad
    with Store.open(db_url, data_dir=data_dir) as s:
        _check_concurrent(s, [got[i] for i in range(writers)], writers)


def test_a_locked_database_is_retried(store, monkeypatch):
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] < 3:
            raise sa.exc.OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
        return "done"

    monkeypatch.setattr(store_mod.time, "sleep", lambda s: None)
    assert store._retry(flaky) == "done" and calls["n"] == 3
    with pytest.raises(sa.exc.OperationalError):
        store._retry(lambda: (_ for _ in ()).throw(sa.exc.OperationalError("x", {}, Exception("no such table"))))


# --------------------------------------------------------------------------------------
# backup: export / import round trip


def _rich_store(s: Store) -> None:
    """A store with every table, NULLs, booleans, unicode, formulas in notes, rejections and a duplicate upload."""
    access.upload(ADMIN, s, (SAMPLE / "patients.csv").read_bytes(), "patients.csv", table="patients", today=TODAY)
    access.upload(ADMIN, s, (SAMPLE / "prescriptions.csv").read_bytes(), "prescriptions.csv", today=TODAY)
    sessions = ("patient_id,performed_at,exercise,side,sets,reps,hold_s,pain_during,rpe,notes\n"
                "P001,2026-09-01 07:30:15,knee_to_chest,left,1,10,5.5,2,,\"=HYPERLINK(\"\"x\"\")\"\n"
                "P001,2026-09-01 07:30:15,knee_to_chest,right,1,10,0.1,,3,Rücken steif – ok\n"
                "P002,2026-10-02,toe touch,both,2,3,20,11,,\n")
    access.upload(ADMIN, s, sessions.encode(), "s.csv", today=TODAY)
    access.upload(ADMIN, s, (SAMPLE / "pain.csv").read_bytes(), "pain.csv", today=TODAY)
    access.upload(ADMIN, s, (SAMPLE / "proms.csv").read_bytes(), "proms.csv", today=TODAY)
    access.upload(ADMIN, s, BAD_PAIN, "bad.csv", today=TODAY)
    access.upload(ADMIN, s, BAD_PAIN, "bad again.csv", today=TODAY)
    access.upload(ADMIN, s, b'patient_id,recorded_at,nprs,flare,notes\nQ1,2026-09-01 20:00,3,yes,"a\rb"\n'
                  b'Q1,2026-09-02 20:00,3,no,"l1\nl2"\nQ1,2026-09-03 20:00,3,,"  spaced, ""quoted""  "\n',
                  "odd.csv", today=TODAY)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_then_import_gives_an_identical_store(fmt, tmp_path, store):
    _rich_store(store)
    original = snapshot(store)
    assert original["rejected_rows"].shape[0] == 4 and original["uploads"].shape[0] == 8  # 3 (BAD_PAIN) + 1 (pain 11)
    manifest = store.export_store(tmp_path / "backup", fmt)
    assert manifest.is_file()
    with Store.open(tmp_path / "b" / "copy.sqlite", data_dir=tmp_path / "b") as copy:
        counts = copy.import_store(tmp_path / "backup", key=backup_key(store.data_dir))  # the exporting server's key
        assert counts["sessions"] == 2 and counts["pain"] == csv_rows(SAMPLE / "pain.csv") + 3 + 3
        assert_same_tables(original, snapshot(copy))
        sha = original["uploads"]["content_sha256"].iloc[0]
        assert (copy.data_dir / "uploads" / sha[:2] / sha).read_bytes() == (SAMPLE / "patients.csv").read_bytes()
        # importing twice is refused: the store is no longer empty
        with pytest.raises(StoreError, match="not empty"):
            copy.import_store(tmp_path / "backup", key=backup_key(store.data_dir))


def test_round_trip_through_postgresql(pg_url, tmp_path, store):
    _rich_store(store)
    original = snapshot(store)
    store.export_store(tmp_path / "from_sqlite", "csv")
    with Store.open(pg_url, data_dir=tmp_path / "pg") as pg:
        pg.import_store(tmp_path / "from_sqlite", key=backup_key(store.data_dir))
        assert_same_tables(original, snapshot(pg))
        pg.export_store(tmp_path / "from_pg", "parquet")
        # the sequence continues after the imported ids
        nxt = access.upload(ADMIN, pg, pain_csv("Z", date(2026, 9, 1), 1), "z.csv", today=TODAY)
        assert nxt.upload_id == int(original["uploads"]["upload_id"].max()) + 1
    with Store.open(tmp_path / "back.sqlite", data_dir=tmp_path / "back") as back:
        back.import_store(tmp_path / "from_pg", key=backup_key(tmp_path / "pg"))
        assert_same_tables(original, snapshot(back))


def test_a_damaged_backup_is_refused(tmp_path, store):
    access.upload(ADMIN, store, pain_csv("P1", date(2026, 9, 1), 3), "p.csv", today=TODAY)
    store.export_store(tmp_path / "bk", "csv")
    path = tmp_path / "bk" / "pain.csv"
    path.write_text(path.read_text().replace(",0,", ",9,"))  # someone edited a pain score
    with Store.open(tmp_path / "c.sqlite", data_dir=tmp_path / "c") as copy:
        with pytest.raises(StoreError, match="checksum"):
            copy.import_store(tmp_path / "bk", key=backup_key(store.data_dir))
        assert copy.counts()["pain"] == 0
    with pytest.raises(StoreError, match="not empty"):
        store.export_store(tmp_path / "bk")


# --------------------------------------------------------------------------------------
# schema version and upgrades


def test_a_store_from_this_release_opens_in_the_next(tmp_path, monkeypatch):
    path = tmp_path / "old.sqlite"
    with Store.open(path, data_dir=tmp_path) as s:
        access.upload(ADMIN, s, pain_csv("P1", date(2026, 9, 1), 3), "p.csv", today=TODAY)

    def add_column(conn: sa.Connection) -> None:  # what a release-2 step would do
        conn.exec_driver_sql("ALTER TABLE uploads ADD COLUMN client TEXT")

    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(store_mod.UPGRADES, SCHEMA_VERSION, add_column)
    with Store.open(path, data_dir=tmp_path) as s:
        assert s.schema_version() == SCHEMA_VERSION + 1
        assert "client" in {c["name"] for c in sa.inspect(s.engine).get_columns("uploads")}
        assert s.counts()["pain"] == 3  # the data survived the upgrade
    # ... and the release before refuses the newer store instead of damaging it
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION)
    with pytest.raises(StoreVersionError, match="newer rehabtrack"):
        Store.open(path, data_dir=tmp_path)


def test_a_missing_upgrade_step_is_an_error(tmp_path, monkeypatch):
    Store.open(tmp_path / "s.sqlite", data_dir=tmp_path).close()
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreVersionError, match="no upgrade step"):
        Store.open(tmp_path / "s.sqlite", data_dir=tmp_path)


# --------------------------------------------------------------------------------------
# reading


def test_read_table_returns_canonical_dtypes_and_filters(store):
    store.load_sample()
    pain = store.read_table("pain", patient_ids=["P001", "P002"])
    assert pain.dtypes.astype(str).to_dict() == TABLES["pain"].dtypes
    raw = pd.read_csv(SAMPLE / "pain.csv", dtype=str)
    assert len(pain) == raw["patient_id"].isin(["P001", "P002"]).sum()
    assert store.read_table("pain", patient_ids=[]).empty
    pts = pd.read_csv(SAMPLE / "patients.csv", dtype=str)
    assert store.caseload("physio_a") == sorted(pts.loc[pts["physio_id"] == "physio_a", "patient_id"])


def test_records_turn_missing_values_into_null():
    frame = pd.DataFrame({"patient_id": pd.array(["P1", ""], dtype="string"),
                          "recorded_at": pd.to_datetime(["2026-09-01 20:00:00.5", None]),
                          "nprs": pd.array([3, None], dtype="Int64"), "location": pd.array([None, "back"], "string"),
                          "flare": pd.array([True, None], dtype="boolean"), "notes": pd.array(["x", None], "string")})
    recs = store_mod._records(frame, CANONICAL["pain"])
    assert recs[0] == {"patient_id": "P1", "recorded_at": datetime(2026, 9, 1, 20, 0, 0, 500000), "nprs": 3,
                       "location": None, "flare": True, "notes": "x"}
    assert recs[1] == {"patient_id": None, "recorded_at": None, "nprs": None, "location": "back", "flare": None,
                       "notes": None}
    assert type(recs[0]["nprs"]) is int


# --------------------------------------------------------------------------------------
# command line


def _cli():
    import typer

    from analysis.store_cli import register

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test app."""

    register(app)
    return app


def test_cli_upload_export_import_and_users(tmp_path, monkeypatch):
    monkeypatch.setenv("REHABTRACK_DATA_DIR", str(tmp_path / "dd"))
    monkeypatch.delenv("REHABTRACK_DATABASE_URL", raising=False)
    monkeypatch.delenv("REHABTRACK_USERS_FILE", raising=False)
    runner, app = CliRunner(), _cli()
    r = runner.invoke(app, ["users", "add", "nurse", "--role", "physio", "--physio-id", "physio_a",
                            "--password-stdin"], input="correct horse battery\n")
    assert r.exit_code == 0, r.output
    users_toml = (tmp_path / "dd" / "users.toml").read_text()
    assert "correct horse" not in users_toml and "$argon2id$" in users_toml
    r = runner.invoke(app, ["users", "add", "x", "--role", "admin", "--password-stdin"], input="short\n")
    assert r.exit_code == 2 and "at least 12 characters" in r.output
    r = runner.invoke(app, ["users", "list"])
    assert "nurse" in r.output and "physio_a" in r.output and "argon2" not in r.output

    r = runner.invoke(app, ["load-sample"])
    assert r.exit_code == 0 and "7298 added" in r.output, r.output
    diary = tmp_path / "diary.csv"
    diary.write_bytes(BAD_PAIN.replace(b"P1,", b"P011,"))  # P011 is physio_a's patient
    r = runner.invoke(app, ["upload", str(diary), "--as", "nurse"])
    assert r.exit_code == 1 and "3 added" in r.output and "3 rejected" in r.output, r.output
    r = runner.invoke(app, ["upload", str(diary), "--as", "nobody"])
    assert r.exit_code == 2 and "no account 'nobody'" in r.output

    r = runner.invoke(app, ["export", str(tmp_path / "bk"), "--format", "csv"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["import", str(tmp_path / "bk"), "--store", str(tmp_path / "copy.sqlite")])
    assert r.exit_code == 0 and "sessions 7298" in r.output, r.output
    r = runner.invoke(app, ["import", str(tmp_path / "bk"), "--store", str(tmp_path / "copy.sqlite")])
    assert r.exit_code == 2 and "not empty" in r.output

    r = runner.invoke(app, ["research-export", str(tmp_path / "research"), "--as", "nurse"])
    assert r.exit_code == 0, r.output
    patients = pd.read_csv(tmp_path / "research" / "patients.csv", encoding="utf-8-sig")
    caseload = pd.read_csv(SAMPLE / "patients.csv").query("physio_id == 'physio_a'")
    assert "patient_id" not in patients.columns and len(patients) == len(caseload)  # pseudonymised caseload only


def test_patient_upload_of_a_prescription_file_is_refused(store):
    patient = User("p1", "patient", patient_id="P1")
    # refused either for the table (a physio's) or, first, because it names 60 patients in a file for one
    with pytest.raises((AccessDenied, SeveralPeopleError)):
        access.upload(patient, store, (SAMPLE / "prescriptions.csv").read_bytes(), "rx.csv", today=TODAY)
    with pytest.raises(UnreadableFileError):
        access.upload(patient, store, b"", "e.csv", today=TODAY)
    assert store.counts()["uploads"] == 0


def test_csv_export_writes_nulls_as_empty_cells(tmp_path, store):
    access.upload(ADMIN, store, b"patient_id,recorded_at,nprs,flare\nP1,2026-09-01 20:00,3,\n", "p.csv", today=TODAY)
    store.export_store(tmp_path / "bk", "csv")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "bk" / "pain.csv").read_text())))
    assert rows == [{"patient_id": "P1", "recorded_at": "2026-09-01 20:00:00.000000", "nprs": "3", "location": "",
                     "flare": "", "notes": "", "upload_id": "1", "time_written": "True", "fold": "0"}]


def test_load_sample_on_a_later_day_moves_every_date_by_whole_weeks(store):
    # seeded on Thursday 3 December 2026: 13 days after the snapshot (Friday 20 November) -> moved by 7 days,
    # so the moved snapshot is Friday 27 November, 6 days before the day of seeding
    reports = store.load_sample(today=date(2026, 12, 3))
    assert sum(r.rows_rejected for r in reports) == 0
    expected = {name: csv_rows(SAMPLE / f"{name}.csv") for name in TABLES}
    assert {name: store.counts()[name] for name in TABLES} == expected  # nothing lost by the move
    cohort = store.read_cohort()
    with (SAMPLE / "patients.csv").open(newline="") as f:
        first = next(csv.DictReader(f))
    p001 = cohort.patients.set_index("patient_id").loc[first["patient_id"]]
    assert p001["programme_start"] == pd.Timestamp(first["programme_start"]) + pd.Timedelta(days=7)
    with (SAMPLE / "pain.csv").open(newline="") as f:
        written = sorted(pd.Timestamp(r["recorded_at"]) + pd.Timedelta(days=7) for r in csv.DictReader(f))
    stored = sorted(cohort.pain["recorded_at"])
    assert stored == written  # clock times kept, weekdays kept (7 days)
    assert max(stored) < pd.Timestamp("2026-11-27")  # the last entry is the day before the moved snapshot
    ends = cohort.prescriptions["end_date"].dropna()
    with (SAMPLE / "prescriptions.csv").open(newline="") as f:
        ends_written = sorted(pd.Timestamp(r["end_date"]) + pd.Timedelta(days=7)
                              for r in csv.DictReader(f) if r["end_date"])
    assert sorted(ends) == ends_written


def test_load_sample_on_the_snapshot_day_keeps_the_dates_and_the_cli_uses_the_frozen_clock(tmp_path, monkeypatch):
    monkeypatch.setenv("REHABTRACK_TODAY", "2026-11-26")  # Thursday of the snapshot's week: no move
    monkeypatch.setenv("REHABTRACK_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(_cli(), ["load-sample"])
    assert result.exit_code == 0, result.output
    with Store.open(data_dir=tmp_path) as s:
        starts = s.read_cohort().patients.set_index("patient_id")["programme_start"]
        assert starts["P001"] == pd.Timestamp("2026-08-21")  # as written in data/sample/patients.csv
