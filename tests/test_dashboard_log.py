"""Log today, questionnaires and questionnaires due, driven headless through AppTest (issue 9).

Each test gets a fresh store with two patients of physio_b whose programme began
10 days ago, with exercises prescribed from then on, uploaded by an administrator
(not the sample's ``system`` account), so the dashboard's analysis date is today.
Expected values are checked in the store and with :func:`analysis.adherence.weekly_adherence`
computed here, or written by hand.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis import access
from analysis.adherence import weekly_adherence
from analysis.roles import ADMIN, PATIENT, PHYSIO, User
from analysis.store import Store
from analysis.timeline import today as timeline_today
from dashboards import auth

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboards" / "app.py")
P001 = User("p001", PATIENT, patient_id="P001")
TODAY = timeline_today()  # the app's clock, frozen by tests/conftest.py (REHABTRACK_TODAY)
START = TODAY - timedelta(days=10)  # day 10 of the programme: week 2 (days 7-13)


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    admin = User("admin", ADMIN)
    with Store.open(data_dir=tmp_path) as s:
        access.upload(admin, s, f"patient_id,physio_id,programme_start\nP001,physio_b,{START}\n"
                      f"P002,physio_b,{START}\n".encode(), "patients.csv", table="patients", today=TODAY)
        access.upload(admin, s, (
            "patient_id,exercise,side,sets,reps,hold_s,sessions_per_week,start_date,end_date\n"
            f"P001,knee_to_chest,left,2,10,5,5,{START},\n"
            f"P001,hamstring_stretch,both,1,3,20,5,{START},\n"
            f"P002,bridge,both,1,10,0,3,{START},\n").encode(), "rx.csv", table="prescriptions", today=TODAY)
    monkeypatch.setenv("REHABTRACK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REHABTRACK_SEED_SAMPLE", "0")
    monkeypatch.setenv("REHABTRACK_DEBUG", "1")
    for name in ("REHABTRACK_USERS_FILE", "REHABTRACK_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def open_page(user: User, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[auth.USER_KEY] = user
    at.run()
    at.switch_page(f"views/{page}").run()
    assert not at.exception, at.exception
    return at


def in_page_order(node):  # type: ignore[no-untyped-def]
    """Every element under ``node``, top to bottom as the page shows them."""
    for child in getattr(node, "children", {}).values():
        yield child
        yield from in_page_order(child)


def button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label == label)


def week_row(directory: Path) -> pd.Series:
    with Store.open(data_dir=directory) as s:
        c = s.read_cohort()
    weeks = weekly_adherence(c.sessions, c.prescriptions, c.patients, pain=c.pain, as_of=TODAY)
    return weeks[(weeks["patient_id"] == "P001") & (weeks["week"] == 2)].iloc[0]


def test_the_patient_logs_a_session_and_a_pain_score(data_dir: Path) -> None:
    before = week_row(data_dir)
    assert before["sessions_completed"] == 0
    at = open_page(P001, "patient_log.py")
    assert any("Move gently, stop when it hurts" in i.value for i in at.info)
    # the checklist is the prescription of the day: knee-to-chest (left) 2 x 10, then the hamstring stretch
    assert [n.value for n in at.number_input] == [2, 10, 5.0, 1, 3, 20.0]
    at.checkbox(key=f"done_{TODAY}_0").check()
    at.number_input(key=f"sets_{TODAY}_0").set_value(1)  # did less than planned
    at.select_slider(key=f"pain_during_{TODAY}").set_value(3)
    at.text_area(key=f"note_{TODAY}").input("a bit stiff")
    button(at, "Confirm session").click().run()
    assert not at.exception, at.exception
    assert any("Saved: 1 exercise" in s.value for s in at.success)
    assert not at.warning  # pain 3 during: no suggestion to call the physio

    # the pain score has no value until tapped: saving without one saves nothing and says what to do
    assert at.pills(key=f"nprs_{TODAY}").value is None
    button(at, "Save pain score").click().run()
    assert any("tap your pain score" in e.value for e in at.error)
    with Store.open(data_dir=data_dir) as s:
        assert s.read_table("pain").empty
    at.pills(key=f"nprs_{TODAY}").set_value(4)
    at.radio(key=f"location_{TODAY}").set_value("back")
    button(at, "Save pain score").click().run()
    assert any("Saved: pain 4 out of 10" in s.value for s in at.success)
    # each confirmation sits right under the button that caused it (no scrolling up on a phone)
    order = [str(getattr(e, "value", "")) for e in in_page_order(at.main)]
    assert order.index(next(o for o in order if "Saved: pain 4" in o)) > order.index("Pain today")

    with Store.open(data_dir=data_dir) as s:
        sessions, pain = s.read_table("sessions"), s.read_table("pain")
    assert sessions["patient_id"].tolist() == ["P001"]  # the logged-in patient only; nothing for P002
    row = sessions.iloc[0]
    assert (row["exercise"], row["side"], row["sets"], row["reps"], row["hold_s"]) == ("knee_to_chest", "left",
                                                                                       1, 10, 5.0)
    assert row["performed_at"] == pd.Timestamp(TODAY) and row["pain_during"] == 3 and row["notes"] == "a bit stiff"
    assert pain[["patient_id", "nprs", "location"]].values.tolist() == [["P001", 4, "back"]]
    # adherence of programme week 2 now counts the session day: 0 -> 1 completed
    after = week_row(data_dir)
    assert after["sessions_completed"] == 1
    assert after["adherence_rate"] > before["adherence_rate"]
    # and the page, refreshed after the save, says so
    assert any("1 session day logged" in c.value for c in at.caption)


def test_logging_the_same_day_again_is_an_edit_with_the_old_value_audited(data_dir: Path) -> None:
    at = open_page(P001, "patient_log.py")
    at.checkbox(key=f"done_{TODAY}_0").check()
    at.select_slider(key=f"pain_during_{TODAY}").set_value(2)
    button(at, "Confirm session").click().run()
    # the form now shows what was saved; raise the pain during to 7 (> 5)
    assert at.checkbox(key=f"done_{TODAY}_0").value is True
    at.select_slider(key=f"pain_during_{TODAY}").set_value(7)
    button(at, "Confirm session").click().run()
    assert any("updated" in s.value for s in at.success)
    assert any("talk to your physio" in w.value for w in at.warning)  # pain during > 5
    with Store.open(data_dir=data_dir) as s:
        sessions, log = s.read_table("sessions"), s.audit_log()
    assert len(sessions) == 1 and sessions["pain_during"].tolist() == [7]
    assert log["action"].tolist() == ["insert", "update"]
    assert json.loads(log["old_values"].iloc[1])["pain_during"] == 2


def test_a_future_date_is_refused_with_a_message(data_dir: Path) -> None:
    at = open_page(P001, "patient_log.py")
    at.date_input(key="log_day").set_value(TODAY + timedelta(days=1)).run()
    assert any("in the future" in e.value for e in at.error)
    assert not [b for b in at.button if b.label in ("Confirm session", "Save pain score")]  # no form to save
    at.date_input(key="log_day").set_value(TODAY - timedelta(days=8)).run()  # limit: 7 days back
    assert any("more than 7 days ago" in e.value for e in at.error)
    with Store.open(data_dir=data_dir) as s:
        assert s.read_table("sessions").empty and s.read_table("pain").empty


def _answer_odi(at: AppTest, answers: dict[int, int]) -> None:
    for number, value in answers.items():
        at.radio(key=f"odi_{number}").set_value(value)
    button(at, "Save").click().run()
    assert not at.exception, at.exception


def test_an_odi_form_with_two_missing_sections_scores_as_published(data_dir: Path) -> None:
    at = open_page(P001, "patient_questionnaires.py")
    assert any("Answer at least 8 sections" in i.value for i in at.info)
    # the section name, not licensed text (the label is Markdown-escaped)
    assert at.radio(key="odi_8").label.replace("\\", "") == "Section 8: Sex life"
    # sections 8 and 9 left out; 3+2+2+1+3+2+2+1 = 16 over 8 x 5 = 40: 16/40 = 40 % (ODI v2.1a, Fairbank & Pynsent 2000)
    _answer_odi(at, {1: 3, 2: 2, 3: 2, 4: 1, 5: 3, 6: 2, 7: 2, 10: 1})
    assert any("40 %" in s.value and "moderate" in s.value for s in at.success)
    with Store.open(data_dir=data_dir) as s:
        proms = s.read_table("proms")
    assert proms["item"].tolist() == ["1", "10", "2", "3", "4", "5", "6", "7"]  # sorted by key; 8 and 9 omitted
    assert proms["patient_id"].unique().tolist() == ["P001"]


def test_an_odi_form_with_three_missing_sections_is_not_saved(data_dir: Path) -> None:
    at = open_page(P001, "patient_questionnaires.py")
    _answer_odi(at, dict.fromkeys(range(1, 8), 2))  # 7 sections
    assert any("only 7 of 10" in e.value and "Answer at least 8 sections" in e.value for e in at.error)
    with Store.open(data_dir=data_dir) as s:
        assert s.read_table("proms").empty


def test_an_rmdq_form_counts_the_ticked_items(data_dir: Path) -> None:
    at = open_page(P001, "patient_questionnaires.py")
    at.segmented_control(key="questionnaire").set_value("rmdq").run()
    for number in (1, 4, 24):
        at.checkbox(key=f"rmdq_{number}").check()
    button(at, "Save").click().run()
    assert any("3 out of 24" in s.value for s in at.success)


def test_the_physio_sees_who_is_due_and_overdue(data_dir: Path) -> None:
    physio = User("physio_b", PHYSIO, physio_id="physio_b")
    at = open_page(physio, "physio_questionnaires.py")
    # programme began 10 days ago: the baseline window (start +/- 14 days) is open for both patients and
    # both questionnaires: 2 x 2 = 4 due now, none overdue
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Due now"] == "4" and metrics["Overdue (can still be done)"] == "0"
    assert metrics["Patients to remind"] == "2"
    p = open_page(P001, "patient_questionnaires.py")
    _answer_odi(p, dict.fromkeys(range(1, 11), 1))
    at = open_page(physio, "physio_questionnaires.py")
    assert {m.label: m.value for m in at.metric}["Due now"] == "3"

    # the page offers an action: a reminder to copy, with the last day in the clinic's date format (day-first) ...
    at.selectbox(key="questionnaires_patient").select("P001").run()
    last_day = (pd.Timestamp(TODAY) - pd.Timedelta(days=10) + pd.Timedelta(days=14)).strftime("%d/%m/%Y")
    [reminder] = [c.value for c in at.code]
    assert reminder.startswith("Please fill in the RMDQ questionnaire (start of the programme)")
    assert f"by {last_day}." in reminder
    # ... and marking "not done", which is stored and stops the asking
    at.multiselect(key="questionnaires_not_done_pick").set_value(["RMDQ baseline"])
    button(at, "Mark not done").click().run()
    assert not at.exception, at.exception
    assert any("Marked not done for P001: RMDQ baseline" in s.value for s in at.success)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Due now"] == "2" and metrics["Missed or marked not done"] == "1"
    with Store.open(data_dir=data_dir) as store:
        marks = store.questionnaires_not_done(["P001"])
    assert marks[["instrument", "timepoint_week", "marked_by"]].values.tolist() == [["rmdq", 0, "physio_b"]]


def test_filling_in_the_odi_again_the_same_day_replaces_the_answers(data_dir: Path) -> None:
    at = open_page(P001, "patient_questionnaires.py")
    _answer_odi(at, dict.fromkeys(range(1, 11), 1))  # 10 / 50 = 20 %
    assert any("20 %" in s.value for s in at.success)
    at.radio(key="odi_9").set_value(None)
    at.radio(key="odi_10").set_value(None)
    _answer_odi(at, {1: 3})  # 3 + 7 x 1 = 10 over 8 x 5 = 40: 25 %
    assert any("25 %" in s.value and "updated" in s.value for s in at.success)
    with Store.open(data_dir=data_dir) as s:
        proms = s.read_table("proms")
    assert sorted(proms["item"], key=int) == [str(i) for i in range(1, 9)]  # 9 and 10 taken back
