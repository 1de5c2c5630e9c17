"""The Prescribe page through AppTest: a physio adds a patient, applies the seed template, edits at week 5.

Expected prescription periods are written out by hand from the template (see tests/test_programmes.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis import access
from analysis.accounts import add_user, authenticate
from analysis.exercises import EXERCISES
from analysis.programme_templates import DEFAULT_TEMPLATE, GRADUAL_PROGRESSION, template
from analysis.programmes import programme_to_prescriptions
from analysis.roles import PATIENT, PHYSIO, AccessDenied, User
from analysis.store import Store
from analysis.timeline import today as timeline_today
from dashboards import auth, state

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboards" / "app.py")
PAGE = "views/physio_prescribe.py"
A = User("physio_a", PHYSIO, physio_id="physio_a")
B = User("physio_b", PHYSIO, physio_id="physio_b")
TODAY = timeline_today()  # the app's clock, frozen by tests/conftest.py (REHABTRACK_TODAY)
START = TODAY - timedelta(days=28)  # so that week 5 starts today, the page's default change date


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    users = tmp_path / "users.toml"
    add_user(A, "physio-a-password", path=users)
    add_user(B, "physio-b-password", path=users)
    monkeypatch.setenv("REHABTRACK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REHABTRACK_USERS_FILE", str(users))
    monkeypatch.setenv("REHABTRACK_SEED_SAMPLE", "0")
    monkeypatch.delenv("REHABTRACK_DATABASE_URL", raising=False)
    monkeypatch.setenv("REHABTRACK_DEBUG", "1")
    state.clear_caches()
    yield tmp_path
    state.clear_caches()


def open_page(user: User, **session: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state[auth.USER_KEY] = user
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def button(at: AppTest, label: str) -> object:
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r}: {[b.label for b in at.button]}"
    return found[0]


def stored_periods(data_dir: Path, patient_id: str) -> pd.DataFrame:
    with Store.open(data_dir=data_dir) as store:
        return store.read_table("prescriptions", patient_ids=[patient_id])


def rows(frame: pd.DataFrame) -> list[tuple]:
    return [(r.exercise, r.side, int(r.sets), int(r.reps), float(r.hold_s), int(r.sessions_per_week),
             r.start_date.date(), None if pd.isna(r.end_date) else r.end_date.date())
            for r in frame.itertuples()]


def add_patient_through_page(at: AppTest) -> str:
    [name] = [t for t in at.text_input if t.label.startswith("Display name")]
    name.set_value("Jane Example")
    at.date_input(key="prescribe_new_start").set_value(START)
    button(at, "Add patient").click().run()
    assert not at.exception, at.exception
    patient_id = at.session_state["prescribe_patient"]
    assert any(patient_id in s.value for s in at.success)
    return str(patient_id)


def test_physio_creates_patient_prescribes_seed_template_and_edits_at_week_5(data_dir: Path) -> None:
    at = open_page(A)
    assert [t.value for t in at.title] == ["Prescribe"]
    patient_id = add_patient_through_page(at)
    # the one-time initial password is shown once and logs the patient in
    [login] = [c.value for c in at.code if patient_id in c.value]
    password = login.split("initial password: ")[1].strip()
    assert authenticate(patient_id, password) == User(patient_id, PATIENT, patient_id=patient_id)

    # the default template builds gradually: no planned week above the app's own load rule (issue 18)
    assert at.selectbox(key=f"prescribe_template_{patient_id}").value == DEFAULT_TEMPLATE
    assert at.text_input(key=f"prescribe_progression_{patient_id}_{DEFAULT_TEMPLATE}").value == GRADUAL_PROGRESSION
    assert not at.warning
    assert any("No planned week is above the load-progression threshold (1.5)" in s.value for s in at.success)
    # one date format: the clinic's, day-first by default, in the date inputs and the text
    assert any(f"Programme start: {START:%A} {START:%d/%m/%Y}." in c.value for c in at.caption)
    # the faster seed template: its steep weeks are pointed out before saving (weeks 5 and 6, see test_programmes)
    at.selectbox(key=f"prescribe_template_{patient_id}").set_value("seed_back_programme").run()
    assert at.text_input(key=f"prescribe_progression_{patient_id}_seed_back_programme").value == (
        "weeks 1-2: 1 set, weeks 3-4: 2 sets, weeks 5+: hold 10 s")
    warning = " ".join(w.value for w in at.warning)
    assert "Week 5: planned load 3,500 is 3.17 x" in warning and "Week 6:" in warning and "Week 7" not in warning
    button(at, "Save programme").click().run()
    assert not at.exception, at.exception
    assert any(s.value.startswith(f"Saved for {patient_id}: 9 new period(s)") for s in at.success)

    # 12 weeks from START, by hand: weeks 1-2 = days 0-13, weeks 3-4 = days 14-27, weeks 5-12 = days 28-83
    w = [START + timedelta(days=7 * k) for k in range(13)]  # w[k] = first day of week k + 1
    last = w[12] - timedelta(days=1)
    expected = [
        ("hamstring_stretch", "both", 1, 5, 0.0, 7, w[0], w[2] - timedelta(days=1)),
        ("hamstring_stretch", "both", 2, 5, 0.0, 7, w[2], w[4] - timedelta(days=1)),
        ("hamstring_stretch", "both", 2, 5, 10.0, 7, w[4], last),
        ("knee_to_chest", "left", 1, 10, 5.0, 7, w[0], w[2] - timedelta(days=1)),
        ("knee_to_chest", "left", 2, 10, 5.0, 7, w[2], w[4] - timedelta(days=1)),
        ("knee_to_chest", "left", 2, 10, 10.0, 7, w[4], last),
        ("knee_to_chest", "right", 1, 10, 5.0, 7, w[0], w[2] - timedelta(days=1)),
        ("knee_to_chest", "right", 2, 10, 5.0, 7, w[2], w[4] - timedelta(days=1)),
        ("knee_to_chest", "right", 2, 10, 10.0, 7, w[4], last),
    ]
    first = stored_periods(data_dir, patient_id)
    assert rows(first) == expected

    # edit at week 5 (today, the default change date): the seed template with 3 sets from week 5, no 10 s hold
    assert at.date_input(key=f"prescribe_change_from_{patient_id}").value == w[4]
    at.selectbox(key=f"prescribe_template_{patient_id}").set_value("seed_back_programme").run()
    at.text_input(key=f"prescribe_progression_{patient_id}_seed_back_programme").set_value(
        "weeks 1-2: 1 set, weeks 3-4: 2 sets, weeks 5+: 3 sets").run()
    assert not at.exception, at.exception
    button(at, "Save the change").click().run()
    assert not at.exception, at.exception
    # 3 new periods from week 5; the 3 planned hold-10 periods were replaced, none was running (closed 0)
    assert any("3 new period(s), 0 closed, 6 earlier period(s) unchanged" in s.value for s in at.success)
    after = stored_periods(data_dir, patient_id)
    before_week5 = [r for r in expected if r[7] < w[4]]
    assert [r for r in rows(after) if r[7] is not None and r[7] < w[4]] == before_week5  # weeks 1-4 unchanged
    assert sorted(r for r in rows(after) if r[6] >= w[4]) == [
        ("hamstring_stretch", "both", 3, 5, 0.0, 7, w[4], last),
        ("knee_to_chest", "left", 3, 10, 5.0, 7, w[4], last),
        ("knee_to_chest", "right", 3, 10, 5.0, 7, w[4], last)]
    assert len(after) == 9


def test_physio_cannot_edit_another_physios_patient(data_dir: Path) -> None:
    with Store.open(data_dir=data_dir) as store:
        theirs = access.add_patient(B, store, START).patient_id
        access.save_prescriptions(B, store, theirs, programme_to_prescriptions(theirs, START,
                                                                       template("seed_back_programme").programme))
        mine = access.add_patient(A, store, START, "Mine").patient_id
    at = open_page(A, selected_patient=theirs)
    assert any("not on your caseload" in e.value for e in at.error)
    assert at.selectbox(key="prescribe_patient").options == [mine + " · Mine"]
    assert theirs not in " ".join(str(d.value) for d in at.dataframe)
    # and the store refuses the write itself
    with Store.open(data_dir=data_dir) as store, pytest.raises(AccessDenied):
        access.save_prescriptions(A, store, theirs, programme_to_prescriptions(theirs, START,
                                                                       template("gentle_low_back").programme),
                                  from_date=TODAY)
    assert len(stored_periods(data_dir, theirs)) == 9


def test_archive_hides_patient_and_restore(data_dir: Path) -> None:
    at = open_page(A)
    patient_id = add_patient_through_page(at)
    button(at, "Archive this patient").click().run()
    assert not at.exception, at.exception
    assert any("No active patient" in i.value for i in at.info)
    at.toggle(key="prescribe_show_archived").set_value(True).run()
    assert at.selectbox(key="prescribe_patient").value == patient_id
    button(at, "Restore this patient to the active caseload").click().run()
    with Store.open(data_dir=data_dir) as store:
        assert store.active_caseload("physio_a") == [patient_id]


def test_physio_adds_own_exercise_and_template(data_dir: Path) -> None:
    at = open_page(A)
    patient_id = add_patient_through_page(at)
    [name] = [t for t in at.text_input if t.label == "Name"]
    name.set_value("Wall squat")
    at.text_area[0].set_value("Lean on a wall and bend the knees a little")
    button(at, "Add exercise").click().run()
    assert not at.exception, at.exception
    [tpl] = [t for t in at.text_input if t.label == "Template name"]
    tpl.set_value("My seed plan")
    button(at, "Save template").click().run()
    assert not at.exception, at.exception
    with Store.open(data_dir=data_dir) as store:
        own = access.custom_exercises(A, store)
        templates = access.custom_templates(A, store)
        assert access.custom_exercises(B, store).empty
    assert own["exercise"].tolist() == ["Wall squat"]
    assert own["instruction"].item() == ("Lean on a wall and bend the knees a little. "
                                         "Move slowly and gently; stop if it hurts.")
    assert list(templates) == ["my_seed_plan"]
    assert templates["my_seed_plan"].programme == template(DEFAULT_TEMPLATE).programme
    # the own template is offered at once (options are shown by their labels)
    assert "My seed plan (yours)" in at.selectbox(key=f"prescribe_template_{patient_id}").options
    assert any(s.value.startswith("Saved the template My seed plan") for s in at.success)


def test_sample_patient_with_an_uploaded_prescription_starts_from_the_current_one(data_dir: Path) -> None:
    from analysis.sample_data import SAMPLE_DIR

    with Store.open(data_dir=data_dir) as store:
        store.load_sample()
        sample = store.read_table("patients", physio_id="physio_a")
    pid = str(sample["patient_id"].iloc[0])
    at = open_page(A, selected_patient=pid)
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="prescribe_patient").value == pid
    picker = at.selectbox(key=f"prescribe_template_{pid}")
    assert picker.value == "__current__"
    assert [s.value for s in at.subheader][:2] == ["Current prescription", "Change the programme"]
    # the preview keeps every uploaded period that ended before the change date
    prescriptions = pd.read_csv(SAMPLE_DIR / "prescriptions.csv", parse_dates=["start_date", "end_date"])
    mine = prescriptions[prescriptions["patient_id"] == pid]
    when = pd.Timestamp(at.date_input(key=f"prescribe_change_from_{pid}").value)
    ended = mine[mine["end_date"].notna() & (mine["end_date"] < when)]
    preview = at.dataframe[-1].value
    assert len(ended)  # the sample patient has periods that ended before (else this test proves nothing)
    for r in ended.itertuples():  # the page writes the exercise's name from the vocabulary, not its key
        assert ((preview["exercise"] == EXERCISES[r.exercise].label) & (preview["side"] == r.side)
                & (preview["start_date"] == r.start_date) & (preview["end_date"] == r.end_date)).any()
    assert any(b.label == "Save the change" for b in at.button)


def test_a_change_that_creates_nothing_is_a_warning_not_a_success(data_dir: Path) -> None:
    at = open_page(A)
    patient_id = add_patient_through_page(at)
    button(at, "Save programme").click().run()
    saved = len(stored_periods(data_dir, patient_id))
    # the default template by hand: knee-to-chest left and right 5 periods each (weeks 1-2, 3-5, 6-7, 8-9, 10-12),
    # the hamstring reach 2 (weeks 1-2, 3-12: its dose changes only with the sets)
    assert saved == 12
    assert any(s.value.startswith(f"Saved for {patient_id}: 12 new period(s)") for s in at.success)
    # the date inputs use the clinic's format (day-first by default), as the text does
    change = at.date_input(key=f"prescribe_change_from_{patient_id}")
    assert change.proto.format == "DD/MM/YYYY"
    # the 12-week programme from START ends on START + 83 days; a change from the day after creates nothing
    after_end = START + timedelta(days=84)
    change.set_value(after_end).run()
    button(at, "Save the change").click().run()
    assert not at.exception, at.exception
    assert not any("new period" in s.value for s in at.success)
    [warning] = [w.value for w in at.warning if "Nothing new was prescribed" in w.value]
    assert f"0 new periods from {after_end:%d/%m/%Y}" in warning
    assert f"ends on {START + timedelta(days=83):%d/%m/%Y}" in warning and "make it longer" in warning
    assert len(stored_periods(data_dir, patient_id)) == saved  # nothing lost, nothing added
