"""Corrections with an audit trail, times that never merge, several people, the schema-3 upgrade (issue 16).

Each case is a small file written here. Expected counts and values are worked out
by hand in the comments; the hypothesis property checks the counts identity and
the stored values against a plain dictionary model of the store, written here.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from typer.testing import CliRunner

from analysis import access
from analysis import cli as cli_mod
from analysis.corrections import ConflictError
from analysis.roles import AccessDenied, User
from analysis.store import CANONICAL, SCHEMA_VERSION, Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
TODAY = date(2026, 11, 20)
ADMIN = User("admin", "admin")
P1 = User("p1", "patient", patient_id="P1")
PHYSIO_A = User("physio_a", "physio", physio_id="physio_a")

DIARY = b"Date,Time,Pain\n08/09/2026,08:00,3\n08/09/2026,20:00,6\n09/09/2026,,4\n"
CORRECTED = b"Date,Time,Pain\n08/09/2026,08:00,7\n08/09/2026,20:00,6\n09/09/2026,,5\n10/09/2026,08:00,2\n"


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "data" / "rehabtrack.sqlite", data_dir=tmp_path / "data")
    yield s
    s.close()


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
def any_store(request, tmp_path):
    url = str(tmp_path / "data" / "rehabtrack.sqlite") if request.param == "sqlite" else \
        request.getfixturevalue("pg_url")
    s = Store.open(url, data_dir=tmp_path / "data")
    yield s
    s.close()


def pain_of(store: Store, patient: str = "P1") -> dict[str, int]:
    pain = store.read_table("pain", patient_ids=[patient])
    return {t.strftime("%Y-%m-%d %H:%M"): int(v) for t, v in zip(pain["recorded_at"], pain["nprs"], strict=True)}


def counts_add_up(report) -> bool:  # noqa: ANN001
    return report.rows_in_file == (report.rows_added + report.rows_already_there + report.rows_changed
                                   + report.rows_duplicate_in_file + report.rows_rejected)


# ---------------------------------------------------------------------------
# a corrected diary (finding 1)


def test_a_corrected_diary_is_refused_by_default_listing_the_rows_and_nothing_is_stored(any_store):
    first = access.upload(P1, any_store, DIARY, "diary.csv", today=TODAY)
    assert (first.rows_added, first.rows_in_file) == (3, 3)  # 08:00 and 20:00 are two ratings
    before = any_store.counts()
    with pytest.raises(ConflictError) as info:
        access.upload(P1, any_store, CORRECTED, "diary.csv", today=TODAY)
    message = str(info.value)
    assert message.startswith("diary.csv: 2 rows differ from what is stored. Nothing was stored.")
    assert "  row 2 (P1, 2026-09-08 08:00): pain 3 -> 7" in message
    assert "  row 4 (P1, 2026-09-09): pain 4 -> 5" in message  # a day without a time is shown as the day
    assert any_store.counts() == before


def test_keep_keeps_what_is_stored_and_counts_the_differing_rows(any_store):
    access.upload(P1, any_store, DIARY, "diary.csv", today=TODAY)
    report = access.upload(P1, any_store, CORRECTED, "diary.csv", today=TODAY, on_conflict="keep")
    # 4 rows: 10/09 new, 20:00 the same, 08:00 and 09/09 differ (kept)
    assert (report.rows_added, report.rows_already_there, report.rows_changed, report.rows_replaced) == (1, 1, 2, 0)
    assert counts_add_up(report)
    assert pain_of(any_store) == {"2026-09-08 08:00": 3, "2026-09-08 20:00": 6, "2026-09-09 00:00": 4,
                                  "2026-09-10 08:00": 2}
    assert any_store.audit_log().empty
    assert "2 differ from what was stored: kept as stored" in report.summary()


def test_replace_stores_the_corrected_values_and_the_old_ones_in_the_audit(any_store):
    access.upload(P1, any_store, DIARY, "diary.csv", today=TODAY)
    version = any_store.data_version()
    report = access.upload(P1, any_store, CORRECTED, "diary (2).csv", today=TODAY, on_conflict="replace")
    assert (report.rows_added, report.rows_already_there, report.rows_changed, report.rows_replaced) == (1, 1, 2, 2)
    assert counts_add_up(report)
    assert pain_of(any_store) == {"2026-09-08 08:00": 7, "2026-09-08 20:00": 6, "2026-09-09 00:00": 5,
                                  "2026-09-10 08:00": 2}
    audit = any_store.audit_log()
    assert audit["action"].tolist() == ["update", "update"] and set(audit["changed_by"]) == {"p1"}
    assert (audit["upload_id"] == report.upload_id).all() and audit["changed_at"].notna().all()
    old = [json.loads(v) for v in audit["old_values"]]
    new = [json.loads(v) for v in audit["new_values"]]
    assert [(o["recorded_at"][:16], o["nprs"], n["nprs"]) for o, n in zip(old, new, strict=True)] == [
        ("2026-09-08T08:00", 3, 7), ("2026-09-09T00:00", 4, 5)]
    assert old[0]["upload_id"] != report.upload_id  # the provenance of the old values is kept
    up = any_store.uploads().set_index("upload_id").loc[report.upload_id]
    assert (up["rows_changed"], up["rows_replaced"]) == (2, 2)
    assert any_store.data_version() != version  # the dashboard's caches refresh
    # the same corrected file again: everything already there
    again = access.upload(P1, any_store, CORRECTED, "diary (2).csv", today=TODAY)
    assert (again.rows_added, again.rows_already_there, again.rows_changed) == (0, 4, 0)


def test_a_fuller_strong_re_export_of_the_same_workout_is_offered_for_replacing(store):
    earlier = ("Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,"
               "Workout Notes,RPE\n"
               "2026-09-08 07:30:00,Rehab,20m,Bridge,1,0,9,0,0,,,\n"
               "2026-09-08 07:30:00,Rehab,20m,Bridge,2,0,9,0,0,,,\n")
    later = earlier + "2026-09-08 07:30:00,Rehab,20m,Bridge,3,0,9,0,0,,,\n"
    later = later.replace(",9,", ",15,")
    access.upload(ADMIN, store, earlier.encode(), "strong.csv", patient_id="P1", today=TODAY)
    result = access.preview_upload(ADMIN, store, later.encode(), "strong.csv", patient_id="P1", today=TODAY)
    comparison = access.compare_upload(ADMIN, store, result, patient_id="P1")
    assert comparison.same_app  # a new export of the same app: replace is offered first
    assert comparison.differences[["column", "stored", "in_file"]].values.tolist() == [
        ["sets", "2", "3"], ["repetitions", "9", "15"]]
    access.upload(ADMIN, store, later.encode(), "strong.csv", patient_id="P1", today=TODAY, on_conflict="replace")
    row = store.read_table("sessions").iloc[0]
    assert (row["sets"], row["reps"]) == (3, 15)


# ---------------------------------------------------------------------------
# times that never merge (findings 1, 8; issue 15 finding 4)


def test_a_row_timed_00_00_does_not_swallow_the_other_rows_of_its_day(store):
    head = "patient_id,performed_at,exercise,side,sets,reps\n"
    access.upload(ADMIN, store, (head + "P1,2026-09-08 07:00,bridge,both,1,10\n"
                                 "P1,2026-09-08 18:00,bridge,both,1,10\n").encode(), "a.csv", today=TODAY)
    midnight = access.upload(ADMIN, store, (head + "P1,2026-09-08 00:00,bridge,both,1,10\n").encode(), "b.csv",
                             today=TODAY)
    assert (midnight.rows_added, midnight.rows_already_there) == (1, 0)  # a timed row of its own
    # the other way round: a stored 00:00 row is a timed row, the 07:00 and 18:00 rows are new
    access.upload(ADMIN, store, (head + "P2,2026-09-08 00:00,bridge,both,1,10\n").encode(), "c.csv", today=TODAY)
    later = access.upload(ADMIN, store, (head + "P2,2026-09-08 07:00,bridge,both,1,10\n"
                                         "P2,2026-09-08 18:00,bridge,both,1,10\n").encode(), "d.csv", today=TODAY)
    assert (later.rows_added, later.rows_already_there) == (2, 0)
    assert len(store.read_table("sessions")) == 6


def test_a_day_without_a_time_is_that_day_already_there_changed_or_beside(store):
    access.upload(ADMIN, store, b"patient_id,recorded_at,nprs\nP1,2026-09-08 20:00,4\nP1,2026-09-09 20:00,5\n"
                  b"P1,2026-09-10 08:00,2\nP1,2026-09-10 20:00,3\n", "timed.csv", today=TODAY)
    diary = b"Date,Pain\n08/09/2026,4\n09/09/2026,6\n10/09/2026,5\n"
    # 8 Sep: that day's value is stored (at 20:00) -> already there; 9 Sep: the day's one rating, another value ->
    # a change; 10 Sep: two ratings stored that day, neither 5 -> nothing to guess: added beside them, with a note
    with pytest.raises(ConflictError, match=r"row 3 \(P1, 2026-09-09\): pain 5 -> 6"):
        access.upload(P1, store, diary, "diary.csv", today=TODAY)
    report = access.upload(P1, store, diary, "diary.csv", today=TODAY, on_conflict="replace")
    assert (report.rows_added, report.rows_already_there, report.rows_changed) == (1, 1, 1)
    assert any("added as rows of their own (nothing was merged)" in w and "row 4" in w for w in report.warnings)
    assert pain_of(store) == {"2026-09-08 20:00": 4, "2026-09-09 20:00": 6, "2026-09-10 00:00": 5,
                              "2026-09-10 08:00": 2, "2026-09-10 20:00": 3}  # 9 Sep keeps its time


def test_a_timed_row_replacing_the_days_row_without_a_time_gives_it_the_time(store):
    access.upload(P1, store, b"Date,Pain\n09/09/2026,5\n", "diary.csv", today=TODAY)
    report = access.upload(P1, store, b"Date,Time,Pain\n09/09/2026,20:00,6\n", "timed.csv", today=TODAY,
                           on_conflict="replace")
    assert (report.rows_changed, report.rows_replaced) == (1, 1)
    assert pain_of(store) == {"2026-09-09 20:00": 6}
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(CANONICAL["pain"].c.time_written)).scalar_one() is True


def test_two_ratings_in_the_repeated_hour_are_two_stored_rows(any_store):
    data = b"Date,Pain\n2026-10-25T02:30:00+02:00,7\n2026-10-25T02:30:00+01:00,3\n"
    report = access.upload(P1, any_store, data, "fhir-like.csv", today=TODAY, timezone="Europe/Berlin")
    assert (report.rows_added, report.rows_duplicate_in_file) == (2, 0)
    pain = any_store.read_table("pain")
    assert pain["recorded_at"].astype(str).tolist() == ["2026-10-25 02:30:00"] * 2
    assert sorted(pain["nprs"].tolist()) == [3, 7]
    again = access.upload(P1, any_store, data, "fhir-like.csv", today=TODAY, timezone="Europe/Berlin")
    assert (again.rows_added, again.rows_already_there) == (0, 2)
    # a correction of the second 02:30 changes that row only
    fixed = access.upload(P1, any_store, data.replace(b",3\n", b",2\n"), "fixed.csv", today=TODAY,
                          timezone="Europe/Berlin", on_conflict="replace")
    assert (fixed.rows_changed, fixed.rows_replaced) == (1, 1)
    assert sorted(any_store.read_table("pain")["nprs"].tolist()) == [2, 7]


def test_in_app_entries_still_edit_the_untimed_row_of_their_day(store):
    from analysis.entries import pain_row

    access.save_entries(P1, store, "pain", pain_row("P1", TODAY, 5, today=TODAY))
    access.save_entries(P1, store, "pain", pain_row("P1", TODAY, 3, today=TODAY))
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(CANONICAL["pain"].c.nprs, CANONICAL["pain"].c.time_written,
                                      CANONICAL["pain"].c.fold)).all()
    assert [tuple(r) for r in rows] == [(3, False, 0)]


# ---------------------------------------------------------------------------
# several people: a physio maps them to the caseload (finding 3)

TEAM = (b"Date,Time,Athlete,Exercise,Sets,Reps\n08/09/2026,07:00,Anna,bridge,1,10\n"
        b"08/09/2026,07:00,Ben,bridge,1,12\n09/09/2026,07:00,Anna,bridge,1,10\n")


def test_a_physio_maps_the_people_of_a_file_to_the_caseload_or_is_refused(store):
    access.upload(ADMIN, store, (SAMPLE / "patients.csv").read_bytes(), "patients.csv", table="patients",
                  today=TODAY)
    caseload = store.caseload("physio_a")
    outside = next(p for p in store.caseload("physio_b"))
    report = access.upload(PHYSIO_A, store, TEAM, "team.csv", today=TODAY,
                           people={"Anna": caseload[0], "Ben": caseload[1]})
    assert report.rows_added == 3
    assert store.read_table("sessions")["patient_id"].tolist().count(caseload[0]) == 2
    before = store.counts()
    with pytest.raises(AccessDenied, match="not on your caseload"):
        access.upload(PHYSIO_A, store, TEAM.replace(b"Ben", b"Cleo"), "team2.csv", today=TODAY,
                      people={"Anna": caseload[0], "Cleo": outside})
    with pytest.raises(AccessDenied, match="only a physio"):
        access.upload(P1, store, TEAM, "team.csv", today=TODAY, people={"Anna": "P1", "Ben": "P1"})
    assert store.counts() == before


# ---------------------------------------------------------------------------
# the command line (upload shows the differences; folders upload like they validate)


def test_cli_upload_lists_the_differences_and_fails_without_a_terminal(tmp_path, monkeypatch):
    monkeypatch.setenv("REHABTRACK_DATA_DIR", str(tmp_path / "dd"))
    for name in ("REHABTRACK_DATABASE_URL", "REHABTRACK_USERS_FILE", "REHABTRACK_SETTINGS"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    diary, corrected = tmp_path / "diary.csv", tmp_path / "corrected.csv"
    diary.write_bytes(DIARY)
    corrected.write_bytes(CORRECTED)
    r = runner.invoke(cli_mod.app, ["upload", str(diary), "--as", "p001"])
    assert r.exit_code == 0 and "3 added" in r.output, r.output
    r = runner.invoke(cli_mod.app, ["upload", str(corrected), "--as", "p001"])  # no terminal: fail
    assert r.exit_code == 3, r.output
    assert "corrected.csv: 2 rows differ from what is stored. Nothing was stored." in r.output
    assert "row 2 (P001, 2026-09-08 08:00): pain 3 -> 7" in r.output and "--on-conflict replace" in r.output
    r = runner.invoke(cli_mod.app, ["upload", str(corrected), "--as", "p001", "--on-conflict", "replace"])
    assert r.exit_code == 0, r.output
    assert "1 added, 1 already there, 2 differ from what was stored: replaced by the file's values" in r.output
    assert "row 2 (P001, 2026-09-08 08:00): pain 3 -> 7" in r.output
    r = runner.invoke(cli_mod.app, ["upload", str(corrected), "--as", "p001", "--on-conflict", "maybe"])
    assert r.exit_code == 2


def test_cli_upload_of_a_folder_of_fhir_files(tmp_path, monkeypatch):
    monkeypatch.setenv("REHABTRACK_DATA_DIR", str(tmp_path / "dd"))
    for name in ("REHABTRACK_DATABASE_URL", "REHABTRACK_USERS_FILE", "REHABTRACK_SETTINGS"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "fhir"
    folder.mkdir()
    for i, value in enumerate((4, 5)):
        (folder / f"obs{i}.json").write_text(json.dumps({
            "resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/P001"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
            "effectiveDateTime": f"2026-09-0{i + 1}T20:00:00+02:00", "valueInteger": value}), encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(cli_mod.app, ["validate", str(folder), "--timezone", "Europe/Berlin"])
    assert r.exit_code == 0 and "accepted: 2" in r.output, r.output
    r = runner.invoke(cli_mod.app, ["upload", str(folder), "--as", "admin", "--timezone", "Europe/Berlin"])
    assert r.exit_code == 0, r.output  # was "[Errno 21] Is a directory"
    assert "fhir (pain, fhir): 2 rows: 2 added" in r.output
    with Store.open(tmp_path / "dd" / "rehabtrack.sqlite", data_dir=tmp_path / "dd") as s:
        assert s.read_table("pain")["recorded_at"].astype(str).tolist() == ["2026-09-01 20:00:00",
                                                                            "2026-09-02 20:00:00"]


# ---------------------------------------------------------------------------
# the upgrade from schema 2


def test_a_schema_2_store_is_upgraded_with_markers_from_the_midnight_convention(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)  # a store written by the release before (tests/fixtures/store/schema2.sql)
    con.executescript((ROOT / "tests" / "fixtures" / "store" / "schema2.sql").read_text(encoding="utf-8"))
    con.close()
    with Store.open(path, data_dir=tmp_path) as s:
        assert s.schema_version() == SCHEMA_VERSION >= 3
        assert s.counts()["pain"] == 3 and s.counts()["sessions"] == 2 and s.counts()["proms"] == 1
        for table, key in (("pain", ["patient_id", "recorded_at", "fold"]),
                           ("sessions", ["patient_id", "performed_at", "exercise", "side", "fold"])):
            assert sa.inspect(s.engine).get_pk_constraint(table)["constrained_columns"] == key
        with s.engine.connect() as conn:
            marks = conn.exec_driver_sql("SELECT recorded_at, time_written, fold FROM pain ORDER BY 1").all()
            uploads = conn.exec_driver_sql("SELECT rows_changed, rows_replaced FROM uploads").all()
        # 20:00 was timed; the date-only row and the 00:00 row were both midnight, which schema 2 read as "no time"
        assert [(str(t)[:16], bool(w), f) for t, w, f in marks] == [
            ("2026-09-01 20:00", True, 0), ("2026-09-02 00:00", False, 0), ("2026-09-03 00:00", False, 0)]
        assert set(uploads) == {(0, 0)}
        # and the upgraded store takes a correction like a new one
        report = access.upload(ADMIN, s, b"patient_id,recorded_at,nprs\nP1,2026-09-01 20:00,8\n", "c.csv",
                               today=TODAY, on_conflict="replace")
        assert report.rows_replaced == 1 and pain_of(s)["2026-09-01 20:00"] == 8


# ---------------------------------------------------------------------------
# every row of a file is accounted for (hypothesis)

DAYS = [date(2026, 9, 1) + timedelta(days=i) for i in range(6)]
entry = st.tuples(st.sampled_from(DAYS), st.sampled_from(["08:00", "20:00", ""]),
                  st.sampled_from(["0", "3", "7", "10", "11", "x"]))


@given(first=st.lists(entry, max_size=8), second=st.lists(entry, min_size=1, max_size=10),
       choice=st.sampled_from(["keep", "replace"]))
@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
def test_every_row_read_is_added_there_changed_repeated_or_rejected(tmp_path_factory, first, second, choice):
    folder = tmp_path_factory.mktemp("s")

    def csv(rows: list[tuple[date, str, str]]) -> bytes:
        return ("Date,Time,Pain\n" + "".join(f"{d:%d/%m/%Y},{t},{v}\n" for d, t, v in rows)).encode()

    def model_rows(rows: list[tuple[date, str, str]]) -> tuple[dict[tuple[date, str], int], int, int, int]:
        """The file's valid rows by (day, time), and its rejected and repeated counts, by hand."""
        kept: dict[tuple[date, str], int] = {}
        rejected = repeated = 0
        for d, t, v in rows:
            if v not in ("0", "3", "7", "10"):
                rejected += 1
            elif (d, t) not in kept:
                kept[(d, t)] = int(v)
            elif kept[(d, t)] == int(v):
                repeated += 1
            else:
                rejected += 1  # the same moment twice with two values
        return kept, rejected, repeated

    with Store.open(folder / "s.sqlite", data_dir=folder) as s:
        stored: dict[tuple[date, str], int] = {}
        if first:
            access.upload(P1, s, csv(first), "a.csv", today=TODAY, on_conflict="replace")
            stored, _, _ = model_rows(first)
        report = access.upload(P1, s, csv(second), "b.csv", today=TODAY, on_conflict=choice)
        assert counts_add_up(report)
        incoming, rejected, repeated = model_rows(second)
        assert (report.rows_rejected, report.rows_duplicate_in_file) == (rejected, repeated)
        expected = dict(stored)
        added = there = changed = 0
        taken = {k for k in incoming if k in stored}
        waiting = []
        for k, v in incoming.items():
            if k in stored:
                if stored[k] == v:
                    there += 1
                else:
                    changed += 1
                    if choice == "replace":
                        expected[k] = v
            else:
                waiting.append((k, v))
        # "that day": a row without a time (on either side) with the same value is already there
        claimed = set()
        still = []
        for (day, time), v in waiting:
            same = [(d, t) for (d, t), w in stored.items() if (d, t) not in taken and d == day
                    and (time == "" or t == "") and w == v]
            if same:
                there += 1
                claimed.update(same)
            else:
                still.append(((day, time), v))
        # one row of the file and one free stored row that day, one of them without a time: the day's value changed
        for (day, time), v in still:
            mine = [k for k, _ in still if k[0] == day]
            free = [k for k in stored if k[0] == day and k not in taken and k not in claimed]
            if len(mine) == 1 and len(free) == 1 and (time == "" or free[0][1] == ""):
                changed += 1
                if choice == "replace":
                    del expected[free[0]]
                    expected[(day, time) if time else free[0]] = v
            else:
                added += 1
                expected[(day, time)] = v
        assert (report.rows_added, report.rows_already_there, report.rows_changed) == (added, there, changed)
        got = {(t.date(), "" if (t.hour, t.minute) == (0, 0) else f"{t:%H:%M}"): int(v)
               for t, v in zip(s.read_table("pain")["recorded_at"], s.read_table("pain")["nprs"], strict=True)}
        assert got == expected
        if choice == "replace":
            assert len(s.audit_log()) == changed


def test_the_upgrade_step_on_postgresql(pg_url, tmp_path):
    with Store.open(pg_url, data_dir=tmp_path) as s:
        access.upload(ADMIN, s, b"patient_id,recorded_at,nprs\nP1,2026-09-01 20:00,3\nP1,2026-09-02,4\n", "p.csv",
                      today=TODAY)
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
                              if pg_url.startswith("postgresql://") else pg_url)
    with engine.begin() as conn:  # take the store back to the shape schema 2 gave it
        for table, key in (("sessions", "patient_id, performed_at, exercise, side"),
                           ("pain", "patient_id, recorded_at"),
                           ("proms", "patient_id, completed_at, instrument, item")):
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey")
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN time_written, DROP COLUMN fold")
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD PRIMARY KEY ({key})")
        conn.exec_driver_sql("ALTER TABLE uploads DROP COLUMN rows_changed, DROP COLUMN rows_replaced")
        conn.exec_driver_sql("UPDATE rehabtrack_meta SET value = '2' WHERE key = 'schema_version'")
    engine.dispose()
    with Store.open(pg_url, data_dir=tmp_path) as s:
        assert s.schema_version() == SCHEMA_VERSION
        assert sa.inspect(s.engine).get_pk_constraint("pain")["constrained_columns"] == [
            "patient_id", "recorded_at", "fold"]
        with s.engine.connect() as conn:
            marks = conn.exec_driver_sql("SELECT recorded_at, time_written, fold FROM pain ORDER BY 1").all()
        assert [(str(t)[:16], w, f) for t, w, f in marks] == [("2026-09-01 20:00", True, 0),
                                                              ("2026-09-02 00:00", False, 0)]
        report = access.upload(ADMIN, s, b"patient_id,recorded_at,nprs\nP1,2026-09-01 20:00,8\n", "c.csv",
                               today=TODAY, on_conflict="replace")
        assert report.rows_replaced == 1


def test_a_column_the_file_does_not_have_neither_differs_nor_is_erased(store):
    access.upload(ADMIN, store, b"patient_id,recorded_at,nprs,location,notes\nP1,2026-09-08 20:00,4,back,stiff\n"
                  b"P1,2026-09-09 20:00,5,leg,\n", "full.csv", today=TODAY)
    # the patient's own diary has no location and no notes: the same day with the same pain is already there
    diary = access.upload(P1, store, b"Date,Pain\n08/09/2026,4\n", "diary.csv", today=TODAY)
    assert (diary.rows_added, diary.rows_already_there) == (0, 1)
    # a corrected pain replaces the pain only; the stored location and notes stay
    fixed = access.upload(P1, store, b"Date,Pain\n2026-09-08 20:00,6\n", "fix.csv", today=TODAY,
                          on_conflict="replace")
    assert fixed.differences[["column", "stored", "in_file"]].values.tolist() == [["pain", "4", "6"]]
    row = store.read_table("pain").iloc[0]
    assert (row["nprs"], row["location"], row["notes"]) == (6, "back", "stiff")
    new_values = json.loads(store.audit_log()["new_values"].iloc[0])
    assert (new_values["nprs"], new_values["location"], new_values["notes"]) == (6, "back", "stiff")
