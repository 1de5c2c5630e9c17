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
    # A's RMDQ week 0 window closed 15 Sep and week 6 window closed 27 Oct: overdue
    assert got[("A", "rmdq", 0)] == "overdue" and got[("A", "rmdq", 6)] == "overdue"
    a_rmdq0 = due[(due.patient_id == "A") & (due.instrument == "rmdq") & (due.timepoint_week == 0)].iloc[0]
    assert a_rmdq0["days_overdue"] == 66  # 20 Nov - 15 Sep = 15 + 31 + 20 = 66 days
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
