"""The dashboard shell, login, role navigation and the patient pages, driven headless through AppTest.

Every test gets its own data directory (``REHABTRACK_DATA_DIR``), copied from a
store seeded once per module: the full sample, or only the sample's patients
and prescriptions (so that a patient's upload adds rows). Expected numbers come
from the sample CSV files read here with pandas, or are written by hand.

The pages live in ``dashboards/views/``, not in a ``pages/`` folder beside the
entry script: Streamlit would serve such a folder as a "version 1" multipage
app, page by page without the login, until the first ``st.navigation`` call of
the server process. ``test_pages_refuse_anyone_without_the_role_when_run_alone``
still runs each page on its own and checks it refuses to show data (defence in
depth).
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from analysis import access
from analysis.accounts import LoginThrottle, add_user
from analysis.exercises import EXERCISES
from analysis.prescriptions import week_plan
from analysis.pseudonyms import pseudonym_key, pseudonymise_ids
from analysis.roles import ADMIN, PATIENT, PHYSIO, RESEARCHER, User
from analysis.sample_data import SNAPSHOT_DATE
from analysis.store import Store
from analysis.templates import template_xlsx
from dashboards import auth, state

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboards" / "app.py")
PAGES = ROOT / "dashboards" / "views"
SAMPLE = ROOT / "data" / "sample"
P001 = User("p001", PATIENT, patient_id="P001")
SYSTEM = User("system", ADMIN)


# --------------------------------------------------------------------------------------
# fixtures


def upload_as(store: Store, user: User, data: bytes, name: str, **options: object):  # noqa: ANN201
    return access.upload(user, store, data, name, **options)


def _seed(directory: Path, tables: tuple[str, ...] | None) -> Path:
    with Store.open(data_dir=directory) as store:
        if tables is None:
            store.load_sample()
        else:
            for name in tables:
                access.upload(SYSTEM, store, (SAMPLE / f"{name}.csv").read_bytes(), f"{name}.csv", table=name,
                              today=SNAPSHOT_DATE)
    return directory


@pytest.fixture(scope="module")
def sample_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _seed(tmp_path_factory.mktemp("sample"), None)


@pytest.fixture(scope="module")
def registry_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # patients and prescriptions only: the store is not empty, so the app does not seed the rest
    return _seed(tmp_path_factory.mktemp("registry"), ("patients", "prescriptions"))


def _use(directory: Path, template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = directory / "data"
    shutil.copytree(template, target)
    monkeypatch.setenv("REHABTRACK_DATA_DIR", str(target))
    monkeypatch.delenv("REHABTRACK_USERS_FILE", raising=False)
    monkeypatch.delenv("REHABTRACK_DATABASE_URL", raising=False)
    monkeypatch.delenv("REHABTRACK_MAX_UPLOAD_MB", raising=False)
    monkeypatch.setenv("REHABTRACK_DEBUG", "1")  # a bug raises (at.exception) instead of a generic message
    return target


@pytest.fixture()
def sample_dir(tmp_path: Path, sample_template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _use(tmp_path, sample_template, monkeypatch)


@pytest.fixture()
def registry_dir(tmp_path: Path, registry_template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return _use(tmp_path, registry_template, monkeypatch)


def open_app(user: User | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if user is not None:
        at.session_state[auth.USER_KEY] = user
    at.run()
    assert not at.exception, at.exception
    return at


def log_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader[0].set_value((name, data, "text/csv")).run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert found, f"no metric {label!r}: {[m.label for m in at.metric]}"
    return found[0]


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page that has ``column``."""
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no table with a {column!r} column")


def pain_diary(rows: list[tuple[str, object, str]]) -> bytes:
    lines = ["Date,Pain (0-10),Flare,Notes"] + [f"{d},{p},no,{n}" for d, p, n in rows]
    return ("\n".join(lines) + "\n").encode()


# --------------------------------------------------------------------------------------
# login and navigation


def test_before_login_only_the_login_page_exists(sample_dir: Path) -> None:
    at = open_app()
    assert titles(at) == ["rehabtrack"]
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    with pytest.raises(ValueError):  # not registered before login
        at.switch_page("views/patient_progress.py")


def test_a_wrong_password_says_so_and_shows_no_pages(sample_dir: Path) -> None:
    at = log_in(open_app(), "p001", "not-the-password")
    assert titles(at) == ["rehabtrack"]
    assert any("Could not log in" in e.value and "wrong password" in e.value for e in at.error)
    assert auth.USER_KEY not in at.session_state


def test_the_patient_logs_in_to_my_progress_and_has_only_patient_pages(sample_dir: Path) -> None:
    at = log_in(open_app(), "p001", "p001-demo")
    assert titles(at) == ["My progress"]
    assert at.session_state[auth.USER_KEY] == P001
    assert any("p001" in c.value for c in at.sidebar.caption)
    at.switch_page("views/patient_upload.py").run()
    assert titles(at) == ["Upload my log"]
    # pages of other roles and the login page are not registered in a patient's session
    for page in ("physio_caseload.py", "physio_patient.py", "researcher_cohort.py", "login.py"):
        with pytest.raises(ValueError):
            at.switch_page(f"views/{page}")


def test_log_out_returns_to_the_login_page(sample_dir: Path) -> None:
    at = open_app(P001)
    at.button(key="logout").click().run()
    assert titles(at) == ["rehabtrack"]
    assert auth.USER_KEY not in at.session_state


@pytest.mark.parametrize(("user", "files"), [
    (None, {"login.py"}),
    (P001, {"patient_progress.py", "patient_log.py", "patient_questionnaires.py", "patient_upload.py"}),
    (User("physio_a", PHYSIO, physio_id="physio_a"),
     {"physio_caseload.py", "physio_patient.py", "physio_prescribe.py", "physio_questionnaires.py",
      "expected_recovery.py"}),
    (User("researcher", RESEARCHER), {"researcher_cohort.py", "expected_recovery.py"}),
    (User("admin", ADMIN), {"physio_caseload.py", "physio_patient.py", "physio_prescribe.py",
                            "physio_questionnaires.py", "researcher_cohort.py", "expected_recovery.py"}),
])
def test_each_role_gets_the_pages_of_the_brief(user: User | None, files: set[str]) -> None:
    specs = auth.pages_for(user)
    assert {s.file for s in specs} == files
    assert sum(s.default for s in specs) == 1


def test_repeated_wrong_passwords_pause_logins_for_that_name(sample_dir: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_throttle", LoginThrottle(free_per_account=2, base_s=60))
    at = open_app()
    for _ in range(2):
        log_in(at, "physio_b", "wrong-password")
    log_in(at, "physio_b", "physio_b-demo")  # the right password, but too soon
    assert any("too many failed attempts" in e.value for e in at.error)
    assert auth.USER_KEY not in at.session_state


def test_an_identity_provider_login_maps_the_email_to_its_account(sample_dir: Path) -> None:
    add_user(User("ana@clinic.example", PATIENT, patient_id="P001"), None, path=sample_dir / "users.toml")
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32}
    at.user = {"is_logged_in": True, "email": "ana@clinic.example"}
    at.run()
    assert not at.exception, at.exception
    assert titles(at) == ["My progress"]
    assert at.session_state[auth.USER_KEY] == User("ana@clinic.example", PATIENT, patient_id="P001")


def test_an_identity_provider_login_without_an_account_sees_no_pages(sample_dir: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32}
    at.user = {"is_logged_in": True, "email": "stranger@example.org"}
    at.run()
    assert not at.exception, at.exception
    assert titles(at) == ["rehabtrack"]
    assert any("no rehabtrack account" in e.value for e in at.error)


def _role_pages() -> list[str]:
    return sorted(p.name for p in PAGES.glob("*.py") if p.name != "login.py")


@pytest.mark.parametrize("page", _role_pages())
def test_pages_refuse_anyone_without_the_role_when_run_alone(page: str, sample_dir: Path) -> None:
    # A page run without the entry script (Streamlit's version-1 window) must check the user itself.
    alone = AppTest.from_file(str(PAGES / page), default_timeout=60)
    alone.run()
    assert not alone.exception, alone.exception
    assert any("log in" in e.value.lower() for e in alone.error)
    assert not alone.dataframe and not alone.image and not alone.metric
    allowed = {r for r, specs in auth.ROLE_PAGES.items() if page in {s.file for s in specs}}
    outsider = P001 if PATIENT not in allowed else User("researcher", RESEARCHER)
    alone = AppTest.from_file(str(PAGES / page), default_timeout=60)
    alone.session_state[auth.USER_KEY] = outsider
    alone.run()
    assert not alone.exception, alone.exception
    assert any("Access denied" in e.value for e in alone.error)
    assert not alone.dataframe and not alone.image and not alone.metric


def test_an_unexpected_error_shows_a_message_not_a_traceback(sample_dir: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REHABTRACK_DEBUG")

    def broken(user: User) -> pd.DataFrame:
        raise RuntimeError("boom")

    monkeypatch.setattr(state, "summary_for_user", broken)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[auth.USER_KEY] = P001
    at.run()
    assert not at.exception
    assert any("Something went wrong" in e.value and "incident" in e.value for e in at.error)
    assert not any("boom" in e.value for e in at.error)


# --------------------------------------------------------------------------------------
# My progress


def _sample_pain(patient: str) -> tuple[pd.DataFrame, pd.Timestamp]:
    pain = pd.read_csv(SAMPLE / "pain.csv", parse_dates=["recorded_at"])
    patients = pd.read_csv(SAMPLE / "patients.csv", parse_dates=["programme_start"])
    start = patients.loc[patients["patient_id"] == patient, "programme_start"].iloc[0]
    return pain[pain["patient_id"] == patient], start


def test_my_progress_shows_the_patients_own_numbers_chart_and_plan(sample_dir: Path) -> None:
    at = open_app(P001)
    assert titles(at) == ["My progress"]
    pain, start = _sample_pain("P001")
    daily = pain.groupby(pain["recorded_at"].dt.normalize())["nprs"].mean()
    # baseline: mean of the daily means of programme days 0-6 (docs/clinical-reference.md section 2)
    baseline = daily[(daily.index >= start) & (daily.index < start + pd.Timedelta(days=7))].mean()
    # current: mean of the daily means of the 7 days ending on the last rating (before the snapshot)
    last = daily.index.max()
    current = daily[daily.index > last - pd.Timedelta(days=7)].mean()
    assert metric(at, "Pain at the start (0-10)") == f"{baseline:.1f}"
    assert metric(at, "Pain lately (0-10)") == f"{current:.1f}"
    # two interactive charts (Vega-Lite, values on hover, screen width): pain with the same baseline, and sessions
    assert not at.image
    pain_chart, sessions_chart = at.get("vega_lite_chart")
    pain_spec, sessions_spec = json.loads(pain_chart.proto.spec), json.loads(sessions_chart.proto.spec)
    layer = {one["name"]: one for one in pain_spec["layer"]}
    data = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pylist() for d in pain_chart.proto.datasets}
    assert data[layer["baseline"]["data"]["name"]] == [{"baseline": round(baseline, 1)}]
    assert pain_spec["width"] == sessions_spec["width"] == "container"
    assert [one["name"] for one in sessions_spec["layer"]] == ["done", "plan"]
    # P001's prescriptions of the sample end on 12 November: on 20 November the programme has finished, and
    # no exercise follows that message (the plan of a programme in progress: test_my_progress_for_another_patient)
    assert any("programme has finished" in m.value for m in at.success)
    assert not any("Knee-to-chest stretch" in m.value.replace("\\", "") for m in at.markdown)
    # only P001's entries: the 14 latest diary dates are P001's 14 latest ratings
    diary = frame_with(at, "pain (0-10)")
    expected = pain.sort_values("recorded_at", ascending=False)["recorded_at"].head(14)
    assert list(pd.to_datetime(diary["date"])) == list(expected)


def test_my_progress_for_another_patient_shows_their_numbers(sample_dir: Path) -> None:
    # a session is only valid for an account of the users file in force (issue 17): p002 needs one
    add_user(User("p002", PATIENT, patient_id="P002"), "p002-long-password", path=sample_dir / "users.toml")
    at = open_app(User("p002", PATIENT, patient_id="P002"))
    pain, start = _sample_pain("P002")
    daily = pain.groupby(pain["recorded_at"].dt.normalize())["nprs"].mean()
    baseline = daily[(daily.index >= start) & (daily.index < start + pd.Timedelta(days=7))].mean()
    assert metric(at, "Pain at the start (0-10)") == f"{baseline:.1f}"
    assert not any("programme has finished" in i.value for i in [*at.info, *at.success])  # P002 is mid-programme
    rx = pd.read_csv(SAMPLE / "prescriptions.csv")
    exercises = set(rx.loc[rx["patient_id"] == "P002", "exercise"])
    shown = {m.value.replace("\\", "").strip("*") for m in at.markdown}
    assert {EXERCISES[e].label for e in exercises} <= shown  # this week's exercises, by their names
    assert any("Stop if it hurts" in w.value for w in at.warning)
    assert any("stop if it hurts" in c.value.lower() for c in at.caption)


def test_my_progress_without_entries_invites_an_upload(registry_dir: Path) -> None:
    at = open_app(P001)
    assert titles(at) == ["My progress"]
    assert any("no entries yet" in i.value for i in at.info)
    assert metric(at, "Pain at the start (0-10)") == "-"


# --------------------------------------------------------------------------------------
# Upload


def test_a_good_file_is_previewed_saved_and_recognised_when_uploaded_again(registry_dir: Path) -> None:
    data = (SAMPLE / "my_sessions.csv").read_bytes()
    rows = len(data.decode().splitlines()) - 1  # data rows = lines - header = 152
    at = open_app(P001)
    at.switch_page("views/patient_upload.py").run()
    upload(at, "my_sessions.csv", data)
    assert metric(at, "Rows in the file") == str(rows)
    assert metric(at, "New rows") == str(rows)
    assert metric(at, "Rows with a problem") == "0"
    mapping = frame_with(at, "column in your file")
    assert dict(zip(mapping["column in your file"], mapping["read as"], strict=True))["Date"] == "date"
    assert "exercise log" in " ".join(m.value for m in at.markdown)
    at.button(key="patient_upload_confirm").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == [f"Saved. {rows} new rows, 0 already there from an earlier upload, "
                                             "0 rejected."]
    # the same file again: nothing is added twice
    upload(at, "my_sessions.csv", data)
    at.button(key="patient_upload_confirm").click().run()
    assert [s.value for s in at.success] == [f"Saved. 0 new rows, {rows} already there from an earlier upload, "
                                             "0 rejected."]
    assert any("uploaded this same file before" in i.value for i in at.info)
    # the progress page reads the new rows (the upload invalidated the cached data)
    at.switch_page("views/patient_progress.py").run()
    weeks = frame_with(at, "sessions done")
    sessions = pd.read_csv(SAMPLE / "my_sessions.csv")
    assert weeks["sessions done"].sum() == sessions["Date"].nunique()  # session days, every one in a week


def test_a_bad_file_lists_each_rejected_row_with_column_value_and_reason(registry_dir: Path) -> None:
    bad = pain_diary([("01/09/2026", 5, "ok"), ("02/09/2026", 11, ""), ("31/09/2026", 4, ""),
                      ("03/09/2026", 3, "")])
    at = open_app(P001)
    at.switch_page("views/patient_upload.py").run()
    upload(at, "diary.csv", bad)
    assert metric(at, "New rows") == "2"
    assert metric(at, "Rows with a problem") == "2"
    rejected = frame_with(at, "reason")
    # header = row 1, so the 2nd and 3rd data rows are rows 3 and 4
    assert list(rejected["row"]) == [3, 4]
    assert list(rejected["column"]) == ["pain", "date"]
    assert list(rejected["value"]) == ["11", "31/09/2026"]
    assert "0 to 10" in rejected["reason"].iloc[0]
    assert "no day 31" in rejected["reason"].iloc[1]
    assert at.button(key="patient_upload_confirm").label == "Save 2 rows"


def test_an_excel_workbook_is_read_from_its_table_sheet(registry_dir: Path) -> None:
    at = open_app(P001)
    at.switch_page("views/patient_upload.py").run()
    upload(at, "diary.xlsx", template_xlsx("pain"))
    assert "pain diary" in " ".join(m.value for m in at.markdown) and "XLSX file" in " ".join(
        m.value for m in at.markdown)
    assert metric(at, "New rows") == "1"  # the template's one example rating
    assert frame_with(at, "recorded_at")["nprs"].tolist() == [6]


def test_the_day_order_choice_changes_how_dates_are_read(registry_dir: Path) -> None:
    at = open_app(P001)
    at.switch_page("views/patient_upload.py").run()
    upload(at, "diary.csv", pain_diary([("03/09/2026", 4, "")]))
    accepted = frame_with(at, "recorded_at")
    assert pd.Timestamp(accepted["recorded_at"].iloc[0]) == pd.Timestamp("2026-09-03")
    at.radio(key="patient_upload_day_order").set_value("Month first: March 4").run()
    accepted = frame_with(at, "recorded_at")
    assert pd.Timestamp(accepted["recorded_at"].iloc[0]) == pd.Timestamp("2026-03-09")
    assert "dates read month-first" in " ".join(m.value for m in at.markdown)


def test_rows_naming_another_patient_are_rejected_not_saved_as_theirs(registry_dir: Path) -> None:
    data = b"Patient,Date,Pain (0-10)\nP002,01/09/2026,5\n,02/09/2026,4\n"
    at = open_app(P001)
    at.switch_page("views/patient_upload.py").run()
    upload(at, "mixed.csv", data)
    rejected = frame_with(at, "reason")
    assert list(rejected["row"]) == [2]
    assert list(rejected["value"]) == ["P002"]
    assert metric(at, "New rows") == "1"


def test_a_file_naming_two_people_is_refused_naming_the_column_and_the_people(registry_dir: Path) -> None:
    data = b"Date,Athlete,Pain\n01/09/2026,Anna,5\n01/09/2026,Ben,4\n02/09/2026,Anna,3\n"
    at = open_app(P001)
    at.switch_page("views/patient_upload.py").run()
    upload(at, "team.csv", data)
    errors = [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]  # shown as written (Markdown-escaped source)
    assert len(errors) == 1 and "Nothing was saved" in errors[0], errors
    assert "holds the logs of 2 people: column 'Athlete' has Anna (2 rows), Ben (1 row)" in errors[0]
    assert not [b for b in at.button if b.key == "patient_upload_confirm"]


def test_a_corrected_diary_shows_old_and_new_values_and_replacing_keeps_the_old_in_the_audit(
        registry_dir: Path) -> None:
    first = b"Date,Time,Pain\n08/09/2026,08:00,3\n08/09/2026,20:00,6\n"
    corrected = b"Date,Time,Pain\n08/09/2026,08:00,7\n08/09/2026,20:00,6\n09/09/2026,08:00,2\n"
    at = open_app(P001)
    at.switch_page("views/patient_upload.py").run()
    upload(at, "diary.csv", first)
    assert metric(at, "New rows") == "2"  # 08:00 and 20:00 are two ratings, not one
    at.button(key="patient_upload_confirm").click().run()
    upload(at, "diary.csv", corrected)
    assert (metric(at, "New rows"), metric(at, "Already saved"), metric(at, "Differ from what is saved")) == (
        "1", "1", "1")
    side_by_side = frame_with(at, "saved now")
    assert side_by_side[["row", "date", "what", "saved now", "in this file"]].values.tolist() == [
        [2, "2026-09-08 08:00", "pain", "3", "7"]]
    assert any("1 row differs from what is stored" in m.value for m in at.markdown)
    button = at.button(key="patient_upload_confirm")
    assert button.disabled  # nothing is saved until the patient chose which values to keep
    at.radio(key="patient_upload_conflict").set_value("replace").run()
    assert at.button(key="patient_upload_confirm").label == "Save 2 rows"
    at.button(key="patient_upload_confirm").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["Saved. 1 new row, 1 already there from an earlier upload, 1 corrected "
                                             "(the old values are kept in the change history), 0 rejected."]
    with Store.open(registry_dir / "rehabtrack.sqlite", data_dir=registry_dir) as store:
        pain = store.read_table("pain", patient_ids=["P001"])
        assert pain.set_index("recorded_at")["nprs"].to_dict() == {
            pd.Timestamp("2026-09-08 08:00"): 7, pd.Timestamp("2026-09-08 20:00"): 6,
            pd.Timestamp("2026-09-09 08:00"): 2}
        audit = store.audit_log(patient_ids=["P001"])
        assert len(audit) == 1 and audit["changed_by"].iloc[0] == "p001" and audit["action"].iloc[0] == "update"
        assert json.loads(audit["old_values"].iloc[0])["nprs"] == 3
        assert json.loads(audit["new_values"].iloc[0])["nprs"] == 7


@pytest.mark.parametrize(("name", "data", "words"), [
    ("empty.csv", b"", "empty"),
    ("photo.csv", bytes(range(256)) * 8, "not"),
    ("notes.csv", b"colour,size\nred,3\n", "could not tell what kind of log"),
    ("plan.csv", (SAMPLE / "prescriptions.csv").read_bytes(), "physio"),
])
def test_a_file_that_cannot_be_used_ends_in_a_message_saying_what_to_do(
        registry_dir: Path, name: str, data: bytes, words: str) -> None:
    at = open_app(P001)
    at.switch_page("views/patient_upload.py").run()
    upload(at, name, data)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "Nothing was saved" in errors[0] and words in errors[0], errors
    assert not [b for b in at.button if b.key == "patient_upload_confirm"]


def test_a_file_over_the_size_limit_is_refused(registry_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REHABTRACK_MAX_UPLOAD_MB", "0.001")  # 1,048 bytes; my_sessions.csv is larger
    at = open_app(P001)
    at.switch_page("views/patient_upload.py").run()
    upload(at, "my_sessions.csv", (SAMPLE / "my_sessions.csv").read_bytes())
    assert any("at most" in e.value and "Split it" in e.value for e in at.error)


def test_templates_are_offered_as_csv_and_excel(registry_dir: Path) -> None:
    at = open_app(P001)
    at.switch_page("views/patient_upload.py").run()
    labels = sorted(b.label for b in at.get("download_button"))
    assert labels == ["CSV template", "CSV template", "Excel template", "Excel template"]


def test_notes_are_shown_as_written_never_as_markup(registry_dir: Path) -> None:
    note = "<img src=x onerror=alert(1)> **loud** [link](javascript:alert(1))"
    at = open_app(P001)
    at.switch_page("views/patient_upload.py").run()
    upload(at, "diary.csv", pain_diary([("01/09/2026", 5, note)]))
    at.button(key="patient_upload_confirm").click().run()
    at.switch_page("views/patient_progress.py").run()
    assert not at.exception, at.exception
    assert list(frame_with(at, "pain (0-10)")["notes"]) == [note]
    shown = [m.value for m in [*at.markdown, *at.caption, *at.text]]
    assert not any("<img" in s or "javascript:" in s for s in shown)


# --------------------------------------------------------------------------------------
# state helpers


def test_the_sample_store_is_analysed_as_of_its_snapshot(sample_dir: Path) -> None:
    # the tests freeze the clock on the snapshot date (tests/conftest.py: REHABTRACK_TODAY=2026-11-20)
    assert state.is_sample_store()
    assert state.as_of() == pd.Timestamp("2026-11-20")
    assert state.upload_today() == date(2026, 11, 20)


def test_warm_up_seeds_an_empty_store_moved_to_the_clinics_week_before_any_page_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setenv("REHABTRACK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REHABTRACK_TODAY", "2026-12-03")  # a Thursday, 13 days after the snapshot: moved 7 days
    for name in ("REHABTRACK_DATABASE_URL", "REHABTRACK_SEED_SAMPLE", "REHABTRACK_SETTINGS"):
        monkeypatch.delenv(name, raising=False)
    state.clear_caches()
    try:
        state.warm_up()  # what dashboards/server.py runs in a thread as the server starts
        with Store.open(data_dir=tmp_path) as s:
            assert s.has_sample()
            starts = s.read_cohort().patients.set_index("patient_id")["programme_start"]
        assert starts["P001"] == pd.Timestamp("2026-08-28")  # 21 August + 7 days (data/sample/patients.csv)
        assert all(name in sys.modules for name in state.WARM_MODULES)
        assert state.as_of() == pd.Timestamp("2026-12-03")
    finally:
        state.clear_caches()


def test_the_dashboard_analyses_up_to_today_on_the_clinics_clock(sample_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REHABTRACK_TODAY", "2026-12-03")
    assert state.as_of() == pd.Timestamp("2026-12-03") and state.upload_today() == date(2026, 12, 3)
    monkeypatch.delenv("REHABTRACK_TODAY")
    from datetime import datetime
    from zoneinfo import ZoneInfo

    assert state.today() == datetime.now(ZoneInfo(state.settings().timezone)).date()


def test_a_patient_cohort_holds_only_their_rows(sample_dir: Path) -> None:
    cohort = state.cohort_for_user(P001)
    for table in (cohort.patients, cohort.prescriptions, cohort.sessions, cohort.pain, cohort.proms):
        assert set(table["patient_id"]) == {"P001"}
    assert len(cohort.pain) == len(pd.read_csv(SAMPLE / "pain.csv").query("patient_id == 'P001'"))


def test_the_researcher_summary_is_pseudonymised(sample_dir: Path) -> None:
    summary = state.summary_for_user(User("researcher", RESEARCHER))
    assert not {"patient_id", "physio_id", "programme_start", "last_entry_date", "attention_reasons"} & set(
        summary.columns)
    ids = pd.read_csv(SAMPLE / "patients.csv")
    key = pseudonym_key(sample_dir)
    expected = pseudonymise_ids(ids["patient_id"].astype("string"), key, kind="patient")
    assert sorted(summary["pseudonym"]) == sorted(expected)
    months = pd.to_datetime(ids["programme_start"]).dt.strftime("%Y-%m")
    assert sorted(summary["start_month"]) == sorted(months)


def _rx(rows: list[tuple[str, str, int, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": "P1", "exercise": [r[0] for r in rows], "side": [r[1] for r in rows],
        "sets": pd.array([r[2] for r in rows], dtype="Int64"), "reps": pd.array([10] * len(rows), dtype="Int64"),
        "hold_s": [5.0] * len(rows), "sessions_per_week": pd.array([5] * len(rows), dtype="Int64"),
        "start_date": pd.to_datetime([r[3] for r in rows]), "end_date": pd.to_datetime([r[4] for r in rows]),
    })


def test_week_plan_lists_this_weeks_exercises_with_changes_inside_the_week() -> None:
    # programme starts Mon 2026-09-07: week 3 = 21-27 Sep; knee-to-chest goes from 1 to 2 sets on Thu 24 Sep
    rx = _rx([("knee_to_chest", "left", 1, "2026-09-07", "2026-09-23"),
              ("knee_to_chest", "right", 1, "2026-09-07", "2026-09-23"),
              ("knee_to_chest", "left", 2, "2026-09-24", None),
              ("knee_to_chest", "right", 2, "2026-09-24", None),
              ("cat_cow", "both", 1, "2026-09-07", "2026-09-13")])  # ended in week 1
    week, status, plan = week_plan(rx, pd.Timestamp("2026-09-07"), pd.Timestamp("2026-09-22"))
    assert (week, status) == (3, "current")
    assert list(plan["sets"]) == [1, 2]
    assert list(plan["sides"]) == ["left and right", "left and right"]
    assert list(plan["period"]) == ["until 23 Sep", "from 24 Sep"]
    assert all(i.endswith("stop if it hurts.") for i in plan["instruction"])
    assert list(plan["exercise"]) == ["Knee-to-chest stretch"] * 2


def test_week_plan_after_the_programme_gives_the_last_plan() -> None:
    rx = _rx([("cat_cow", "both", 1, "2026-09-07", "2026-09-20"), ("cat_cow", "both", 2, "2026-09-21", "2026-10-04")])
    week, status, plan = week_plan(rx, pd.Timestamp("2026-09-07"), pd.Timestamp("2026-11-20"))
    # 2026-11-20 is day 74 -> week 74 // 7 + 1 = 11
    assert (week, status) == (11, "finished")
    assert list(plan["sets"]) == [2] and list(plan["sides"]) == ["both sides together"]


def test_week_plan_after_a_finished_programme_gives_the_next_one_prescribed() -> None:
    # the first programme ended on 4 Oct (week 4); a new one starts on Mon 30 Nov 2026. On Fri 20 Nov
    # (day 74, week 11: 16-22 Nov) nothing is in force, so the plan is the new programme, not an empty week
    rx = _rx([("cat_cow", "both", 1, "2026-09-07", "2026-10-04"), ("bridge", "both", 3, "2026-11-30", None),
              ("bridge", "both", 4, "2026-12-14", None)])
    week, status, plan = week_plan(rx, pd.Timestamp("2026-09-07"), pd.Timestamp("2026-11-20"))
    assert (week, status) == (11, "upcoming")
    assert list(plan["exercise"]) == ["Bridge"] and list(plan["sets"]) == [3]  # the dose of 30 Nov, not 14 Dec
    # in the week of 30 Nov (week 13) it is this week's plan
    week, status, plan = week_plan(rx, pd.Timestamp("2026-09-07"), pd.Timestamp("2026-12-01"))
    assert (week, status, list(plan["sets"])) == (13, "current", [3])


def test_week_plan_lists_only_the_dose_in_force_after_an_open_ended_period() -> None:
    # issue 14: an open-ended 1-set period, then a new 3-set dose from week 3 (the old row was never closed)
    rx = _rx([("bridge", "both", 1, "2026-09-07", None), ("bridge", "both", 3, "2026-09-21", None)])
    week, status, plan = week_plan(rx, pd.Timestamp("2026-09-07"), pd.Timestamp("2026-10-01"))
    assert (week, status) == (4, "current")
    assert list(plan["sets"]) == [3] and list(plan["period"]) == [""]
    # in the week of the change, the old dose until the day before and the new one from its first day
    week, status, plan = week_plan(rx, pd.Timestamp("2026-09-07"), pd.Timestamp("2026-09-17"))
    assert (week, status) == (2, "current") and list(plan["sets"]) == [1]


def test_my_progress_shows_only_the_dose_in_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # P001 gets an open-ended 1-set bridge from the programme start and a 3-set bridge from 7 October
    rx = (b"patient_id,exercise,side,sets,reps,hold_s,sessions_per_week,start_date,end_date\n"
          b"P001,bridge,both,1,10,0,5,2026-08-21,\nP001,bridge,both,3,10,0,5,2026-10-07,\n")
    directory = tmp_path / "data"
    with Store.open(data_dir=directory) as store:
        upload_as(store, SYSTEM, (SAMPLE / "patients.csv").read_bytes(), "patients.csv", table="patients",
                  today=SNAPSHOT_DATE)
        upload_as(store, SYSTEM, rx, "prescriptions.csv", table="prescriptions", today=SNAPSHOT_DATE)
    _use(tmp_path / "copy", directory, monkeypatch)
    at = open_app(P001)
    plan = [t.value for t in at.text if "repetitions" in t.value]
    assert plan == ["3 sets of 10 repetitions; both sides together; 5 times a week."]


def _p001_with(rx: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    directory = tmp_path / "data"
    with Store.open(data_dir=directory) as store:
        upload_as(store, SYSTEM, (SAMPLE / "patients.csv").read_bytes(), "patients.csv", table="patients",
                  today=SNAPSHOT_DATE)
        upload_as(store, SYSTEM, rx, "prescriptions.csv", table="prescriptions", today=SNAPSHOT_DATE)
    _use(tmp_path / "copy", directory, monkeypatch)
    return open_app(P001)


RX_HEADER = b"patient_id,exercise,side,sets,reps,hold_s,sessions_per_week,start_date,end_date\n"


def test_a_finished_programme_says_what_to_do_and_lists_no_exercise(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    at = _p001_with(RX_HEADER + b"P001,bridge,both,1,10,0,5,2026-08-21,2026-10-04\n", tmp_path, monkeypatch)
    assert any("programme has finished" in m.value and "ask your physio" in m.value.lower() for m in at.success)
    assert not [t.value for t in at.text if "repetitions" in t.value]  # no exercise after "finished"
    assert not any("Stop if it hurts" in w.value for w in at.warning)
    # no session was logged: the streak is not greeted with a zero
    assert not [m for m in at.metric if m.label == "Weeks in a row on plan"]
    assert not any("0" == m.value for m in at.metric)


def test_a_new_programme_from_next_week_is_shown_as_the_coming_plan(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # P001's programme began on Friday 21 August: 20 November is day 91, week 14 (20-26 November). The first
    # programme ended on 4 Oct; the physio prescribed a new one from Friday 27 November, the next week
    at = _p001_with(RX_HEADER + b"P001,bridge,both,1,10,0,5,2026-08-21,2026-10-04\n"
                    b"P001,bridge,both,3,12,0,4,2026-11-27,\n", tmp_path, monkeypatch)
    assert any("new exercises start on Friday 27 November" in i.value for i in at.info)
    assert [t.value for t in at.text if "repetitions" in t.value] == [
        "3 sets of 12 repetitions; both sides together; 4 times a week."]
    assert not any("programme has finished" in m.value for m in [*at.success, *at.info])


def test_week_plan_before_the_start_and_without_prescriptions() -> None:
    rx = _rx([("bridge", "both", 1, "2026-09-07", None)])
    week, status, plan = week_plan(rx, pd.Timestamp("2026-09-07"), pd.Timestamp("2026-09-01"))
    assert status == "not started" and week <= 0 and list(plan["exercise"]) == ["Bridge"]
    week, status, plan = week_plan(rx.iloc[0:0], pd.Timestamp("2026-09-07"), pd.Timestamp("2026-09-10"))
    assert (week, status, len(plan)) == (1, "none", 0)


# --------------------------------------------------------------------------------------
# the patient's chart (analysis.plots.plot_patient_progress)


def test_the_progress_chart_draws_baseline_band_weekly_pain_and_sessions_against_the_plan() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.patches import Polygon, Rectangle

    from analysis.plots import plot_patient_progress

    weekly = pd.DataFrame({
        "week": [1, 2, 3], "nprs_mean": [6.0, 5.0, float("nan")], "sessions_prescribed": [5.0, 5.0, 7.0],
        "sessions_completed": [4, 6, 0], "status": ["complete", "in progress", "not yet"]})
    fig = plot_patient_progress(weekly, baseline=5.0, mcid_abs=2.0, mcid_pct=0.30)
    try:
        ax_pain, ax_done = fig.axes  # two panels, no twin (dual) axis
        assert ax_pain.get_ylim() == (-0.3, 10.3)
        # band = baseline +/- min(2, 0.30 x 5 = 1.5) = 3.5 to 6.5
        band = [p for p in ax_pain.patches if isinstance(p, (Polygon, Rectangle))]
        if isinstance(band[0], Polygon):
            ys = list(band[0].get_xy()[:, 1])
        else:
            ys = [band[0].get_y(), band[0].get_y() + band[0].get_height()]
        assert min(ys) == pytest.approx(3.5) and max(ys) == pytest.approx(6.5)
        weekly_line = [ln for ln in ax_pain.lines if ln.get_label() == "weekly average"][0]
        assert list(weekly_line.get_xdata()) == [1.5, 2.5, 3.5]  # middle of each week
        bars = [p for p in ax_done.patches if isinstance(p, Rectangle)]
        assert [b.get_height() for b in bars] == [4, 6]  # the week not yet reached has no bar
        assert ax_done.get_xlabel() == "Programme week"
    finally:
        plt.close(fig)


def test_no_pages_folder_beside_the_entry_script() -> None:
    # A `pages/` folder next to app.py would be served page by page, without the login,
    # until the server's first st.navigation call; the pages live in dashboards/views/.
    assert not (ROOT / "dashboards" / "pages").exists()
    assert (ROOT / "dashboards" / "views" / "login.py").is_file()
