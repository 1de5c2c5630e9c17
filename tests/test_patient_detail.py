"""One patient's detail bundle (analysis.patient_detail): tables checked by hand and against the cohort run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.cohort import cohort_summary
from analysis.patient_detail import (
    UnknownPatientError,
    headline_table,
    patient_detail,
    restrict_to_dates,
    thresholds_table,
    weekly_table,
)
from analysis.sample_data import SNAPSHOT_DATE, load_cohort
from analysis.schema import CohortTables, conform
from analysis.settings import DEFAULT_SETTINGS

START = pd.Timestamp("2026-01-05")  # a Monday: week 1 = 5-11 Jan, week 2 = 12-18 Jan


def _hand_cohort() -> CohortTables:
    """One patient, 2 weeks: knee-to-chest 1 x 10 x 5 s, 5 sessions a week."""
    patients = conform(pd.DataFrame({"patient_id": ["H1", "H2"], "physio_id": ["ph", "ph"],
                                     "programme_start": [START, START]}), "patients")
    prescriptions = conform(pd.DataFrame({
        "patient_id": ["H1"], "exercise": ["knee_to_chest"], "side": ["both"], "sets": [1], "reps": [10],
        "hold_s": [5.0], "sessions_per_week": [5], "start_date": [START], "end_date": [START + pd.Timedelta(days=13)],
    }), "prescriptions")
    # week 1: sessions on days 0, 1, 3 (3 of 5); week 2: days 7, 8, 9, 10 (4 of 5), the day-10 one with pain 7
    days = [0, 1, 3, 7, 8, 9, 10]
    sessions = conform(pd.DataFrame({
        "patient_id": "H1",
        "performed_at": [START + pd.Timedelta(days=d, hours=8) for d in days],
        "exercise": "knee_to_chest", "side": "both", "sets": 1, "reps": 10, "hold_s": 5.0,
        "pain_during": [2, 2, 2, 2, 2, 2, 7],
    }), "sessions")
    # pain every evening, days 0-13: 6,6,7,6,6,5,6 then 5,5,4,4,4,3,4
    nprs = [6, 6, 7, 6, 6, 5, 6, 5, 5, 4, 4, 4, 3, 4]
    pain = conform(pd.DataFrame({
        "patient_id": "H1",
        "recorded_at": [START + pd.Timedelta(days=d, hours=20) for d in range(14)],
        "nprs": nprs,
    }), "pain")
    proms = conform(pd.DataFrame({
        "patient_id": "H1", "completed_at": [START, START + pd.Timedelta(days=13)], "instrument": "rmdq",
        "item": "total", "value": [12.0, 6.0],
    }), "proms")
    return CohortTables(patients, prescriptions, sessions, pain, proms)


AS_OF = START + pd.Timedelta(days=14)  # the day after the 2 weeks: both are whole weeks of data


def test_weekly_table_by_hand():
    detail = patient_detail(_hand_cohort(), "H1", as_of=AS_OF)
    weeks = weekly_table(detail)
    assert list(weeks["week"]) == [1, 2]
    assert list(weeks["sessions_completed"]) == [3, 4]
    np.testing.assert_allclose(weeks["sessions_prescribed"], [5, 5])
    np.testing.assert_allclose(weeks["adherence_percent"], [60, 80])  # 3/5, 4/5
    # weekly mean pain: (6+6+7+6+6+5+6)/7 = 42/7 = 6.0; (5+5+4+4+4+3+4)/7 = 29/7
    np.testing.assert_allclose(weeks["pain_mean"], [6.0, 29 / 7])
    # dose = sets x reps x hold = 1 x 10 x 5 = 50 per session: 150 and 200
    np.testing.assert_allclose(weeks["exercise_dose"], [150, 200])
    # pain during exercise 7 > 5 on day 10 (week 2): one flag
    assert list(weeks["flags_pain_during_exercise"]) == [0, 1]
    assert weeks["week_start"].iloc[1] == START + pd.Timedelta(days=7)


def test_headline_numbers_by_hand():
    detail = patient_detail(_hand_cohort(), "H1", as_of=AS_OF)
    table = headline_table(detail).set_index("measure")["value"]
    # baseline: mean of days 0-6 = 6.0 (7 days rated); current: days 7-13 = 29/7 = 4.14 -> "4.1"
    assert table["Pain at baseline"].startswith("6 points")
    assert table["Pain now"].startswith("4.1 points")
    # change 29/7 - 6 = -1.857 -> "-1.9"; 31 % of baseline -> MCID met by the % rule only (1.86 < 2 points)
    assert table["Change in pain"].startswith("-1.9 points (-31 %")
    assert table["MCID (meaningful change in pain)"] == (
        "MCID met: -1.9 points (-31 %); rule 2 points or 30 % better; met by the %")
    # sessions: 7 of 10 = 70 %
    assert table["Session adherence"].startswith("70 % (7 of 10 prescribed")
    # RMDQ 12 -> 6: change -6, MCID met (>= 5 points), RCI: MDC 5 -> reliable at |6| > 5
    assert "6 points" in table["RMDQ (Roland-Morris, 0-24)"] and "MCID met" in table["RMDQ (Roland-Morris, 0-24)"]
    assert table["ODI (Oswestry, 0-100 %)"] == "no scored questionnaire"


def test_daily_pain_and_flags_carry_programme_time():
    detail = patient_detail(_hand_cohort(), "H1", as_of=AS_OF)
    rated = detail.daily.loc[detail.daily["n_ratings"] > 0]
    assert list(rated["day"]) == list(range(14))
    assert list(rated["nprs_mean"]) == [6, 6, 7, 6, 6, 5, 6, 5, 5, 4, 4, 4, 3, 4]
    pde = detail.flags.loc[detail.flags["kind"] == "pain_during_exercise"]
    assert list(pde["day"]) == [10] and list(pde["week"]) == [2]
    assert list(detail.proms["day"]) == [0, 13]


def test_restrict_to_dates_keeps_rows_in_range_and_headlines_unchanged():
    detail = patient_detail(_hand_cohort(), "H1", as_of=AS_OF)
    week2 = restrict_to_dates(detail, START + pd.Timedelta(days=7), START + pd.Timedelta(days=13))
    assert list(week2.weekly["week"]) == [2]
    assert week2.daily["date"].min() == START + pd.Timedelta(days=7)
    assert list(week2.proms["day"]) == [13]
    assert week2.summary.equals(detail.summary)
    with pytest.raises(ValueError, match="swap"):
        restrict_to_dates(detail, START + pd.Timedelta(days=5), START)


def test_unknown_patient_is_a_typed_error():
    with pytest.raises(UnknownPatientError, match="choose one from the list"):
        patient_detail(_hand_cohort(), "NOPE", as_of=AS_OF)


def test_patient_with_no_data_still_has_a_detail():
    detail = patient_detail(_hand_cohort(), "H2", as_of=AS_OF)
    assert detail.daily.empty
    assert list(detail.flags["kind"]) == ["logging_stopped"]  # nothing logged in 13 days
    table = headline_table(detail).set_index("measure")["value"]
    assert table["Change in pain"].startswith("not measurable")
    assert table["Session adherence"] == "nothing prescribed yet"


@pytest.fixture(scope="module")
def sample() -> CohortTables:
    return load_cohort()


@pytest.mark.parametrize("patient_id", ["P001", "P026", "P054"])
def test_one_patient_equals_their_row_of_the_whole_cohort(sample, patient_id):
    whole = cohort_summary(sample, as_of=SNAPSHOT_DATE).set_index("patient_id").loc[patient_id]
    detail = patient_detail(sample, patient_id, as_of=SNAPSHOT_DATE)
    row = detail.summary.drop("patient_id")
    pd.testing.assert_series_equal(row, whole, check_names=False)
    # the pain-change row used for the chart has the same baseline and current as the summary
    assert detail.pain_change["baseline"] == pytest.approx(whole["pain_baseline"], nan_ok=True)
    assert detail.pain_change["current"] == pytest.approx(whole["pain_current"], nan_ok=True)


def test_a_given_summary_is_used_instead_of_recomputing(sample):
    summary = cohort_summary(sample, as_of=SNAPSHOT_DATE)
    with_summary = patient_detail(sample, "P026", as_of=SNAPSHOT_DATE, summary=summary)
    alone = patient_detail(sample, "P026", as_of=SNAPSHOT_DATE)
    pd.testing.assert_series_equal(with_summary.summary, alone.summary, check_names=False)


def test_sample_daily_points_match_a_pandas_groupby(sample):
    detail = patient_detail(sample, "P001", as_of=SNAPSHOT_DATE)
    pain = sample.pain.loc[sample.pain["patient_id"] == "P001"]
    expected = pain.groupby(pain["recorded_at"].dt.normalize())["nprs"].mean().astype(float)
    expected = expected[expected.index >= pd.Timestamp("2026-08-21")]  # P001's programme start
    rated = detail.daily.loc[detail.daily["n_ratings"] > 0].set_index("date")["nprs_mean"]
    pd.testing.assert_series_equal(rated, expected, check_names=False, check_index_type=False, check_freq=False)


def test_thresholds_table_names_every_value_with_its_source():
    table = thresholds_table(DEFAULT_SETTINGS.replace(adherent_threshold=0.8)).set_index("setting")
    assert table.loc["adherent_threshold", "value"] == "80 %"
    assert table.loc["acwr_max", "value"] == "1.5 ratio"
    assert "Impellizzeri" in table.loc["acwr_max", "source"]
    assert table.loc["instrument:nprs", "value"] == "2 points or 30 % of baseline; MDC 1.8"
    assert table.loc["instrument:odi", "value"] == "10 % points or 30 % of baseline"
    assert table["source"].str.len().gt(10).all()
