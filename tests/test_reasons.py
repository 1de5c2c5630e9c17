"""The caseload's "why" in plain words: hand-made summaries, and no word that contradicts the status or the numbers."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analysis.cohort import ATTENTION_RULES, cohort_summary
from analysis.reasons import NOTHING_FLAGGED, RULE_TITLES, rules_in_words, why
from analysis.sample_data import load_cohort
from analysis.settings import DEFAULT_SETTINGS

#: Code names that must never reach a physio's screen.
CODE_NAME = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


def _row(rules: str, **numbers: float) -> dict[str, object]:
    base: dict[str, object] = {
        "attention_rules": rules, "days_without_log": 0, "trend_slope_per_week": np.nan,
        "pain_baseline": np.nan, "pain_current": np.nan, "open_pain_during_exercise": 0, "open_pain_flare": 0,
        "adherence": np.nan, "odi_change": np.nan, "rmdq_change": np.nan,
    }
    base.update(numbers)
    return base


def test_hand_made_summaries_read_as_a_physio_would_say_them() -> None:
    summary = pd.DataFrame([
        _row("pain_deteriorated,pain_during_exercise,logging_stopped", pain_baseline=6.8, pain_current=8.66,
             open_pain_during_exercise=2, days_without_log=9),
        _row("low_adherence", adherence=0.454),
        _row(""),
        _row("pain_rising", trend_slope_per_week=0.349),
        _row("questionnaire_deteriorated", odi_change=12.0, rmdq_change=-1.0),
        _row("questionnaire_deteriorated,pain_flare", odi_change=4.0, rmdq_change=5.0, open_pain_flare=1),
    ], index=[10, 11, 12, 13, 14, 15])
    assert why(summary).tolist() == [
        # red rules in the order of ATTENTION_RULES: logging stopped, then pain worse, then painful sessions
        "no log for 9 days; pain up 6.8 → 8.7 since start; 2 painful sessions in 14 days",
        "did 45 % of planned sessions",
        NOTHING_FLAGGED,
        "pain rising, about +0.3 a week",
        "ODI worse by 12 %-points",
        "1 pain flare in 14 days; ODI worse by 4 %-points, RMDQ worse by 5 points",
    ]
    assert list(why(summary).index) == [10, 11, 12, 13, 14, 15]


def test_at_most_three_phrases_red_first_and_the_rest_counted() -> None:
    summary = pd.DataFrame([_row("low_adherence,pain_flare,self_reported_flare,rapid_load_increase,logging_stopped",
                                 adherence=0.5, open_pain_flare=2, days_without_log=8)])
    assert why(summary).tolist() == ["no log for 8 days; 2 pain flares in 14 days; reported a flare; +2 more"]
    assert why(summary, most=10).iloc[0].endswith("exercise load rose quickly; did 50 % of planned sessions")


def test_every_rule_has_words_and_a_title() -> None:
    keys = [r.key for r in ATTENTION_RULES]
    assert set(RULE_TITLES) == set(keys)
    for key in keys:
        text = why(pd.DataFrame([_row(key, adherence=0.5, open_pain_flare=1, open_pain_during_exercise=1,
                                      days_without_log=7, pain_baseline=5, pain_current=7,
                                      trend_slope_per_week=0.5, odi_change=10.0)])).iloc[0]
        assert text and text != NOTHING_FLAGGED and not CODE_NAME.search(text), (key, text)


def test_the_rules_table_in_words_names_no_setting_or_rule_key() -> None:
    table = rules_in_words(DEFAULT_SETTINGS.replace(adherent_threshold=0.8))
    assert list(table.columns) == ["Reason", "Status", "Points", "When"]
    assert len(table) == len(ATTENTION_RULES)
    text = table.to_csv()
    assert not CODE_NAME.search(text), CODE_NAME.findall(text)
    assert "below 80 %" in table.loc[9, "When"] and "for >= 7 days" in table.loc[0, "When"]


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return cohort_summary(load_cohort(), as_of="2026-11-20")


def test_no_why_contradicts_the_status_or_the_numbers_beside_it(sample: pd.DataFrame) -> None:
    words = why(sample, most=20)
    red_phrases = ("no log for", "pain rising", "pain up", "painful session")
    red_shown = why(sample)  # the capped text the caseload shows
    for (_, row), text, short in zip(sample.iterrows(), words, red_shown, strict=True):
        light = row["traffic_light"]
        assert (text == NOTHING_FLAGGED) == (light == "green"), (row["patient_id"], light, text)
        if light == "red":
            first = short.split("; ")[0]
            assert any(p in first for p in red_phrases), (row["patient_id"], short)
        if light == "amber":
            assert not any(p in text for p in red_phrases), (row["patient_id"], text)
        assert not CODE_NAME.search(text)
        if m := re.search(r"no log for (\d+) days", text):
            assert int(m.group(1)) == row["days_without_log"] >= DEFAULT_SETTINGS.logging_stopped_days
        if m := re.search(r"pain up (\d+\.\d) → (\d+\.\d)", text):
            assert float(m.group(1)) == round(row["pain_baseline"], 1)
            assert float(m.group(2)) == round(row["pain_current"], 1)
            assert row["pain_current"] > row["pain_baseline"]
        if m := re.search(r"did (\d+) % of planned", text):
            assert int(m.group(1)) == round(row["adherence"] * 100)
            assert row["adherence"] < DEFAULT_SETTINGS.adherent_threshold
        if m := re.search(r"(\d+) painful sessions?", text):
            assert int(m.group(1)) == row["open_pain_during_exercise"] > 0
        if m := re.search(r"(\d+) pain flares?", text):
            assert int(m.group(1)) == row["open_pain_flare"] > 0
        if "pain rising" in text:
            assert row["trend"] == "worsening" and row["trend_slope_per_week"] > 0
    # the sample's planted stories come through (P008 is the example)
    p008 = words[sample["patient_id"].eq("P008").to_numpy()].iloc[0]
    assert "pain up 6.8 → 8.7 since start" in p008
