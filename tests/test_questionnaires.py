"""Questionnaire forms, licensed wording file, form rows and scores, due dates. Expected values by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from analysis.entries import EntryError, FutureEntryError
from analysis.questionnaires import (
    ODI_SECTIONS,
    WordingError,
    due_questionnaires,
    load_licensed_wording,
    proms_rows_from_form,
    questionnaire_form,
    stale_items,
)
from analysis.schema import pandera_schema
from analysis.scoring import InvalidResponseError, score_proms

TODAY = date(2026, 11, 20)


def test_default_forms_show_section_names_and_scales_only():
    odi = questionnaire_form("odi")
    assert [i.text for i in odi.items] == [f"Section {n}: {s}" for n, s in enumerate(ODI_SECTIONS, 1)]
    assert ODI_SECTIONS[7] == "Sex life" and len(ODI_SECTIONS) == 10
    assert all(len(i.options) == 6 and i.values == (0, 1, 2, 3, 4, 5) for i in odi.items)
    assert "at least 8 sections" in odi.instructions
    assert not odi.licensed_wording
    rmdq = questionnaire_form("rmdq")
    assert len(rmdq.items) == 24 and rmdq.items[23].text == "Item 24"
    assert all(i.values == (0, 1) for i in rmdq.items)


def test_odi_with_two_missing_sections_scores_over_the_answered_sections():
    # 8 sections answered: 3+2+2+1+3+2+2+1 = 16; ODI v2.1a (Fairbank & Pynsent 2000): 16 / (5 x 8) x 100 = 16/40 = 40 %
    answers = {1: 3, 2: 2, 3: 2, 4: 1, 5: 3, 6: 2, 7: 2, 8: None, 9: None, 10: 1}
    rows, score = proms_rows_from_form("P1", TODAY, "odi", answers, today=TODAY)
    assert score.status == "scored" and score.n_items_answered == 8
    assert score.score == pytest.approx(40.0)
    assert score.band == "moderate"  # 21-40 moderate
    # stored rows: the 8 answered items, unanswered omitted; the store's scoring gives the same 40 %
    pandera_schema("proms").validate(rows, lazy=True)
    assert rows["item"].tolist() == ["1", "2", "3", "4", "5", "6", "7", "10"]
    assert rows["completed_at"].unique().tolist() == [pd.Timestamp("2026-11-20")]
    assert score_proms(rows)["score"].iloc[0] == pytest.approx(40.0)


def test_odi_with_three_missing_sections_is_not_scored():
    answers = dict.fromkeys(range(1, 8), 2)  # 7 sections answered < 8
    _, score = proms_rows_from_form("P1", TODAY, "odi", answers, today=TODAY)
    assert np.isnan(score.score)
    assert "only 7 of 10" in score.status and "at least 8" in score.status


def test_rmdq_counts_yes_answers():
    answers = {i: (1 if i in (2, 5, 9, 24) else 0) for i in range(1, 25)}  # 4 ticked
    rows, score = proms_rows_from_form("P1", TODAY, "rmdq", answers, today=TODAY)
    assert score.score == 4.0 and len(rows) == 24


def test_form_rows_refuse_bad_input():
    with pytest.raises(EntryError, match="nothing was answered"):
        proms_rows_from_form("P1", TODAY, "odi", {1: None}, today=TODAY)
    with pytest.raises(FutureEntryError):
        proms_rows_from_form("P1", "2026-11-21", "odi", {1: 2}, today=TODAY)
    with pytest.raises(InvalidResponseError):
        proms_rows_from_form("P1", TODAY, "odi", {1: 6}, today=TODAY)
    with pytest.raises(EntryError, match="no form"):
        proms_rows_from_form("P1", TODAY, "psfs", {1: 6}, today=TODAY)


def test_licensed_wording_file_replaces_the_default_texts(tmp_path):
    path = tmp_path / "questionnaire_wording.toml"
    path.write_text(
        '[odi]\ninstructions = "Licensed instructions"\n'
        '[odi.items.1]\ntext = "Licensed section one"\noptions = ["a", "b", "c", "d", "e", "f"]\n'
        '[rmdq.items.3]\ntext = "Licensed item three"\n', encoding="utf-8")
    wording = load_licensed_wording(path)
    odi = questionnaire_form("odi", wording)
    assert odi.licensed_wording and odi.instructions == "Licensed instructions"
    assert odi.items[0].text == "Licensed section one" and odi.items[0].options == ("a", "b", "c", "d", "e", "f")
    assert odi.items[1].text == "Section 2: Personal care"  # not in the file: default kept
    rmdq = questionnaire_form("rmdq", wording)
    assert rmdq.items[2].text == "Licensed item three" and rmdq.items[0].text == "Item 1"
    assert load_licensed_wording(tmp_path / "missing.toml") == {}


@pytest.mark.parametrize(("text", "match"), [
    ('[psfs]\ntitle = "x"\n', "not a questionnaire with a form"),
    ('[odi.items.11]\ntext = "x"\n', "numbered 1 to 10"),
    ('[odi.items.1]\noptions = ["a", "b"]\n', "exactly 6"),
    ('[rmdq.items.1]\noptions = ["a", "b"]\n', "yes or no"),
    ('[odi]\ncolour = "x"\n', "unknown key"),
    ("[odi\n", "cannot read"),
])
def test_bad_wording_files_are_refused_with_what_to_fix(tmp_path, text, match):
    path = tmp_path / "w.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WordingError, match=match):
        load_licensed_wording(path)


def test_due_questionnaires_status_by_hand():
    patients = pd.DataFrame({"patient_id": ["A", "B"], "physio_id": ["ph1", "ph2"],
                             "programme_start": pd.to_datetime(["2026-09-01", "2026-11-10"])})
    proms = pd.DataFrame({
        "patient_id": ["A", "A", "A", "B"],
        "completed_at": pd.to_datetime(["2026-09-02 10:00", "2026-09-02 10:00", "2026-10-20 00:00",
                                        "2026-11-10 00:00"]),
        "instrument": ["odi", "odi", "odi", "rmdq"], "item": ["1", "2", "1", "1"], "value": [2.0, 3.0, 1.0, 1.0]})
    due = due_questionnaires(patients, proms, "2026-11-20", instruments=("odi", "rmdq"), window_days=14)
    assert len(due) == 2 * 2 * 3
    got = {(r.patient_id, r.instrument, r.timepoint_week): r.status for r in due.itertuples()}
    # A: start 1 Sep. Week 0 due 1 Sep (ODI done 2 Sep); week 6 due 13 Oct, window 29 Sep-27 Oct (ODI 20 Oct);
    # week 12 due 24 Nov, window 10 Nov-8 Dec: as_of 20 Nov is inside -> due.
    assert got[("A", "odi", 0)] == "done" and got[("A", "odi", 6)] == "done"
    assert got[("A", "odi", 12)] == "due"
    # A's RMDQ week 0 window closed 15 Sep: a baseline expires with its window -> missed (no longer asked);
    # week 6 window closed 27 Oct, late until 27 Oct + 14 = 10 Nov < 20 Nov -> missed as well
    assert got[("A", "rmdq", 0)] == "missed" and got[("A", "rmdq", 6)] == "missed"
    a_rmdq0 = due[(due.patient_id == "A") & (due.instrument == "rmdq") & (due.timepoint_week == 0)].iloc[0]
    assert a_rmdq0["expires_at"] == pd.Timestamp("2026-09-15")
    # with a 30-day grace for follow-ups, week 6 (late until 26 Nov) is overdue by 20 Nov - 27 Oct = 24 days
    late = due_questionnaires(patients, proms, "2026-11-20", window_days=14, late_days=30)
    a_rmdq6 = late[(late.patient_id == "A") & (late.instrument == "rmdq") & (late.timepoint_week == 6)].iloc[0]
    assert (a_rmdq6["status"], a_rmdq6["days_overdue"]) == ("overdue", 24)
    assert a_rmdq6["expires_at"] == pd.Timestamp("2026-11-26")
    assert late[(late.patient_id == "A") & (late.instrument == "rmdq") & (late.timepoint_week == 0)].iloc[0][
        "status"] == "missed"  # the grace never applies to a baseline
    # B: start 10 Nov; baseline ODI not done but the window (27 Oct-24 Nov) is open -> due; RMDQ done
    assert got[("B", "odi", 0)] == "due" and got[("B", "rmdq", 0)] == "done"
    # B week 6 due 22 Dec, window opens 8 Dec > 20 Nov -> upcoming
    assert got[("B", "odi", 6)] == "upcoming"
    assert due.loc[due["status"] != "overdue", "days_overdue"].isna().all()
    b0 = due[(due.patient_id == "B") & (due.instrument == "rmdq") & (due.timepoint_week == 0)].iloc[0]
    assert b0["completed_at"] == pd.Timestamp("2026-11-10")


def test_stale_items_are_the_stored_answers_the_new_form_leaves_out():
    first, _ = proms_rows_from_form("P1", TODAY, "odi", dict.fromkeys(range(1, 11), 2), today=TODAY)
    other_day, _ = proms_rows_from_form("P1", "2026-11-19", "odi", dict.fromkeys(range(1, 11), 2), today=TODAY)
    stored = pd.concat([first, other_day], ignore_index=True)
    again, _ = proms_rows_from_form("P1", TODAY, "odi", {**dict.fromkeys(range(1, 9), 3), 9: None, 10: None},
                                    today=TODAY)
    gone = stale_items(stored, again)
    # sections 9 and 10 of 20 Nov; nothing of 19 Nov
    assert gone["item"].tolist() == ["9", "10"]
    assert gone["completed_at"].unique().tolist() == [pd.Timestamp("2026-11-20")]
    assert stale_items(stored.iloc[0:0], again).empty


def test_questionnaires_expire_after_their_window_and_can_be_marked_not_done():
    patients = pd.DataFrame({"patient_id": ["A"], "physio_id": ["ph1"],
                             "programme_start": pd.to_datetime(["2026-10-01"])})
    proms = pd.DataFrame({"patient_id": pd.Series([], dtype=str), "completed_at": pd.Series([], dtype="datetime64[ns]"),
                          "instrument": pd.Series([], dtype=str), "item": pd.Series([], dtype=str),
                          "value": pd.Series([], dtype=float)})

    def status(day: str, **kw) -> dict:
        d = due_questionnaires(patients, proms, day, instruments=("odi",), **kw)
        return dict(zip(d["timepoint_week"], d["status"], strict=True))

    # baseline due 1 Oct, window to 15 Oct: due on 15 Oct, missed on 16 Oct (never 'overdue')
    assert status("2026-10-15")[0] == "due" and status("2026-10-16")[0] == "missed"
    # week 6 due 12 Nov, window to 26 Nov, late (overdue) to 10 Dec, missed from 11 Dec
    assert status("2026-11-26")[6] == "due"
    assert status("2026-11-27")[6] == "overdue" and status("2026-12-10")[6] == "overdue"
    assert status("2026-12-11")[6] == "missed"
    # a physio's "not done" mark wins over due / overdue / missed, never over a completed questionnaire
    marks = pd.DataFrame({"patient_id": ["A", "A"], "instrument": ["odi", "odi"], "timepoint_week": [6, 0]})
    assert status("2026-11-27", not_done=marks) == {0: "not done", 6: "not done", 12: "upcoming"}


def test_reminder_text_per_patient_in_the_clinic_date_format():
    from analysis.questionnaires import reminder_texts
    from analysis.settings import DEFAULT_SETTINGS

    due = pd.DataFrame({
        "patient_id": ["B", "A", "A", "A", "C"],
        "instrument": ["odi", "odi", "rmdq", "odi", "odi"],
        "timepoint_week": [0, 6, 6, 12, 6],
        "status": ["due", "overdue", "due", "upcoming", "missed"],
        "expires_at": pd.to_datetime(["2026-11-24", "2026-12-10", "2026-11-26", "2027-01-07", "2026-11-01"]),
    })
    out = reminder_texts(due)
    assert out["patient_id"].tolist() == ["B", "A"]  # C's is missed, A's week 12 not open yet
    assert out.loc[1, "text"] == ("Please fill in the ODI and RMDQ questionnaires (week 6) in rehabtrack, under "
                                  "Questionnaires, by 26/11/2026. They take about 5 minutes and show how your back "
                                  "is doing. Thank you!")
    assert "the ODI questionnaire (start of the programme)" in out.loc[0, "text"]
    us = reminder_texts(due, settings=DEFAULT_SETTINGS.replace(date_format="MM/DD/YYYY"))
    assert "by 11/24/2026." in us.loc[0, "text"]
    assert reminder_texts(due.iloc[[4]]).empty
