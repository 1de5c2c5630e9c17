"""Tests of analysis.adherence against hand-worked numbers and an independent day-by-day reference.

The analysis day ``as_of`` counts its data but is not an elapsed day: the week in progress is
pro-rated over its whole days before ``as_of`` (issue 15). The hand fixture (``as_of`` = Wednesday
2026-02-04) has three patients:

* P1 (start Mon 2026-01-05, as_of = day 30, week 5): hamstring 3/week days 0-9, then
  5/week from day 10 (Thursday of week 2: a mid-week change); two sessions on one day;
  a missing week; an over-adherent week; a session before the start; a sets = 0 row.
* P2 (start Mon 2026-01-12, as_of = day 23, week 4): knee-to-chest left and right 4/week
  (open-ended) plus pelvic tilt 7/week for two weeks; stops logging after day 10.
* P3 (start Mon 2026-01-19, as_of = day 16, week 3): bridge 2/week open-ended, replaced
  by 4/week from day 7 (a change on a week boundary, the old row left open).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.adherence import (
    EXCLUSION_REASONS,
    SUMMARY_STATUSES,
    WEEK_STATUSES,
    adherence_summary,
    dose_completion,
    dose_completion_summary,
    excluded_rows,
    session_dose,
    weekly_adherence,
)
from analysis.errors import IngestError, InvalidTableError
from analysis.schema import conform, empty_frame
from analysis.settings import DEFAULT_SETTINGS
from analysis.validation import trusted_tables

AS_OF = "2026-02-04"
ALL = (weekly_adherence, adherence_summary, dose_completion, dose_completion_summary)


# ----------------------------------------------------------------------------- fixture


def _rx(pid, ex, side, sets, reps, hold, spw, start, end=None):
    return dict(patient_id=pid, exercise=ex, side=side, sets=sets, reps=reps, hold_s=hold,
                sessions_per_week=spw, start_date=start, end_date=end)


def _s(pid, when, ex, side="both", sets=1, reps=3, hold=20.0):
    return dict(patient_id=pid, performed_at=pd.Timestamp(when), exercise=ex, side=side,
                sets=sets, reps=reps, hold_s=hold)


@pytest.fixture(scope="module")
def cohort():
    patients = conform(pd.DataFrame({
        "patient_id": ["P1", "P2", "P3"],
        "physio_id": ["a", "a", "b"],
        "programme_start": pd.to_datetime(["2026-01-05", "2026-01-12", "2026-01-19"]),
    }), "patients")
    prescriptions = conform(pd.DataFrame([
        _rx("P1", "hamstring_stretch", "both", 1, 3, 20.0, 3, "2026-01-05", "2026-01-14"),
        _rx("P1", "hamstring_stretch", "both", 1, 3, 20.0, 5, "2026-01-15", "2026-02-15"),
        _rx("P2", "knee_to_chest", "left", 2, 10, 5.0, 4, "2026-01-12"),
        _rx("P2", "knee_to_chest", "right", 2, 10, 5.0, 4, "2026-01-12"),
        _rx("P2", "pelvic_tilt", "both", 1, 15, 0.0, 7, "2026-01-12", "2026-01-25"),
        _rx("P3", "bridge", "both", 2, 8, 0.0, 2, "2026-01-19"),
        _rx("P3", "bridge", "both", 2, 8, 0.0, 4, "2026-01-26"),
    ]), "prescriptions")
    ham = "hamstring_stretch"
    rows = [
        _s("P1", "2026-01-03", ham),  # day -2: before the programme
        _s("P1", "2026-01-05 08:00", ham),  # week 1
        _s("P1", "2026-01-07 07:30", ham), _s("P1", "2026-01-07 19:00", ham),  # two on one day
        _s("P1", "2026-01-09", ham),
        *[_s("P1", d, ham) for d in ("2026-01-12", "2026-01-14", "2026-01-16", "2026-01-17")],  # week 2
        _s("P1", "2026-01-21", ham, sets=0),  # week 3: logged but 0 sets -> no session
        *[_s("P1", f"2026-01-{d}", ham) for d in range(26, 32)], _s("P1", "2026-02-01", ham),  # week 4: 7 days
        _s("P1", "2026-02-03", ham),  # week 5
    ]
    for day in range(12, 17):  # P2 week 1: days 0-4
        rows += [
            _s("P2", f"2026-01-{day} 18:00", "knee_to_chest", "left", 2, 10, 5.0),
            _s("P2", f"2026-01-{day} 18:05", "knee_to_chest", "right", 1, 10, 5.0 if day < 16 else None),
            _s("P2", f"2026-01-{day} 18:10", "pelvic_tilt", "both", 1, 15, 0.0),
        ]
    rows += [
        _s("P2", "2026-01-15 18:20", "bridge", "both", 1, 10, None),  # not prescribed
        _s("P2", "2026-01-20 18:00", "knee_to_chest", "left", 2, 10, 5.0),  # week 2, last session
        _s("P2", "2026-01-20 18:05", "knee_to_chest", "right", 2, 10, 3.0),
    ]
    for d in ("2026-01-20", "2026-01-23", "2026-01-27", "2026-01-29", "2026-01-31", "2026-02-02", "2026-02-04",
              "2026-02-05"):  # the last one is after as_of
        rows.append(_s("P3", d + " 09:00", "bridge", "both", 2, 8, 0.0))
    rows.append(_s("P9", "2026-01-20", ham))  # not in the patients table
    sessions = conform(pd.DataFrame(rows), "sessions")
    pain = conform(pd.DataFrame({
        "patient_id": ["P1", "P1", "P2"],
        "recorded_at": pd.to_datetime(["2026-01-05 20:00", "2026-01-06 20:00", "2026-01-22 20:00"]),
        "nprs": [6, 5, 5],
    }), "pain")
    return sessions, prescriptions, patients, pain


def _weekly(cohort, **kw):
    sessions, prescriptions, patients, pain = cohort
    return weekly_adherence(sessions, prescriptions, patients, pain=pain, as_of=AS_OF, **kw)


# ----------------------------------------------------------------------------- hand-worked numbers


def test_session_dose_hand_values():
    rows = pd.DataFrame({"sets": pd.array([2, 1, 3, None], dtype="Int64"), "reps": [10, 10, 8, 5],
                         "hold_s": [5.0, 0.0, None, 5.0]})
    # 2 x 10 x 5 = 100; hold 0 -> 1 x 10 x 1 = 10; missing hold -> 3 x 8 x 1 = 24; missing sets -> NaN
    got = session_dose(rows)
    assert got.iloc[:3].tolist() == [100.0, 10.0, 24.0]
    assert math.isnan(got.iloc[3])
    assert session_dose(rows.drop(columns="hold_s")).iloc[:3].tolist() == [20.0, 10.0, 24.0]


def test_weekly_adherence_hand_worked(cohort):
    w = _weekly(cohort)
    assert list(w.columns) == [
        "patient_id", "week", "week_start", "week_end", "days_elapsed", "partial", "sessions_prescribed",
        "sessions_completed", "adherence_rate", "volume_rate", "meets_plan", "status",
    ]
    nan = float("nan")
    expected = pd.DataFrame(
        [
            # P1. W1 days 0-6 at 3/wk: 7 x 3/7 = 3; sessions days 0, 2 (twice), 4 -> 3 days; 3/3 = 1
            ("P1", 1, "2026-01-05", 7, 3.0, 3, 1.0, 1.0, True, "complete"),
            # W2: days 7-9 at 3/wk, 10-13 at 5/wk: 3 x 3/7 + 4 x 5/7 = 29/7; 4 days -> 28/29
            ("P1", 2, "2026-01-12", 7, 29 / 7, 4, 28 / 29, 28 / 29, True, "complete"),
            # W3: 5; only a sets = 0 row -> 0 days -> 0 % (not NaN)
            ("P1", 3, "2026-01-19", 7, 5.0, 0, 0.0, 0.0, False, "complete"),
            # W4: 7 days of 5 -> volume 7/5 = 1.4, adherence capped at 1
            ("P1", 4, "2026-01-26", 7, 5.0, 7, 1.0, 1.4, True, "complete"),
            # W5 in progress, as_of = day 30: whole days 28-29 elapsed: 2 x 5/7 = 10/7; 1 day -> 7/10
            ("P1", 5, "2026-02-02", 2, 10 / 7, 1, 0.7, 0.7, True, "in progress"),
            # W6 (days 35-41, ends 2026-02-15) not yet: the plan is 5, no rate yet
            ("P1", 6, "2026-02-09", 0, 5.0, 0, nan, nan, None, "not yet"),
            # P2. Days 0-13: max(4, 4, 7) = 7/wk; from day 14: 4/wk; open-ended -> ends in as_of's week 4
            ("P2", 1, "2026-01-12", 7, 7.0, 5, 5 / 7, 5 / 7, True, "complete"),
            ("P2", 2, "2026-01-19", 7, 7.0, 1, 1 / 7, 1 / 7, False, "complete"),  # holds the last entry (day 10)
            # last entry day 10, as_of day 23: 13 >= 7 days silent; week 3 starts after day 10
            ("P2", 3, "2026-01-26", 7, 4.0, 0, 0.0, 0.0, False, "stopped logging"),
            ("P2", 4, "2026-02-02", 2, 8 / 7, 0, 0.0, 0.0, False, "in progress"),  # days 21-22 elapsed
            # P3. 2/wk in week 1, replaced by 4/wk from day 7 (old row open-ended); ends in week 3
            ("P3", 1, "2026-01-19", 7, 2.0, 2, 1.0, 1.0, True, "complete"),
            ("P3", 2, "2026-01-26", 7, 4.0, 3, 0.75, 0.75, True, "complete"),
            # days 14-15 elapsed: 2 x 4/7 = 8/7; sessions on day 14 and on as_of (day 16: its data count)
            # -> 2 days, volume 2 / (8/7) = 7/4, adherence capped at 1
            ("P3", 3, "2026-02-02", 2, 8 / 7, 2, 1.0, 7 / 4, True, "in progress"),
        ],
        columns=["patient_id", "week", "week_start", "days_elapsed", "sessions_prescribed", "sessions_completed",
                 "adherence_rate", "volume_rate", "meets_plan", "status"],
    )
    assert w["patient_id"].tolist() == expected["patient_id"].tolist()
    assert w["week"].tolist() == expected["week"].tolist()
    assert (w["week_start"] == pd.to_datetime(expected["week_start"])).all()
    assert (w["week_end"] - w["week_start"] == pd.Timedelta(days=6)).all()
    assert w["days_elapsed"].tolist() == expected["days_elapsed"].tolist()
    assert w["partial"].tolist() == (expected["status"] == "in progress").tolist()
    assert w["sessions_completed"].tolist() == expected["sessions_completed"].tolist()
    for col in ("sessions_prescribed", "adherence_rate", "volume_rate"):
        np.testing.assert_allclose(w[col].to_numpy(float), expected[col].to_numpy(float), rtol=1e-12, err_msg=col)
    assert w["meets_plan"].tolist() == [pd.NA if v is None else v for v in expected["meets_plan"]]
    assert w["status"].astype(str).tolist() == expected["status"].tolist()


def test_threshold_is_configurable(cohort):
    # 80 % instead of 70 %: P2 week 1 (5/7 = 0.714) no longer meets the plan; P3 week 2 (0.75) neither
    w = _weekly(cohort, settings=DEFAULT_SETTINGS.replace(adherent_threshold=0.8))
    meets = dict(zip(zip(w["patient_id"], w["week"], strict=True), w["meets_plan"], strict=True))
    assert not meets[("P2", 1)]
    assert not meets[("P3", 2)]
    assert meets[("P1", 2)]  # 28/29 = 0.966


def test_adherence_summary_hand_worked(cohort):
    sessions, prescriptions, patients, pain = cohort
    s = adherence_summary(sessions, prescriptions, patients, pain=pain, as_of=AS_OF).set_index("patient_id")
    # P1: prescribed 3 + 29/7 + 5 + 5 + 10/7 = 130/7; done 3 + 4 + 0 + 7 + 1 = 15;
    # capped per week 3 + 4 + 0 + 5 + 1 = 13 -> 13 / (130/7) = 91/130 = 0.70: adherent (counting the as_of day
    # as elapsed gave 91/135 = 0.674, "low adherence", for a day the patient had not yet had)
    p1 = s.loc["P1"]
    assert p1.programme_weeks == 6 and p1.weeks_elapsed == 5
    assert p1.sessions_prescribed == pytest.approx(130 / 7)
    assert p1.sessions_completed == 15
    assert p1.adherence_rate == pytest.approx(91 / 130)
    assert p1.volume_rate == pytest.approx(15 * 7 / 130)
    assert p1.adherent and p1.adherent_threshold == 0.7
    # meets plan in complete weeks 1-4: T T F T -> current 1 (ends at week 4), longest 2
    assert (p1.current_streak_weeks, p1.longest_streak_weeks) == (1, 2)
    assert p1.last_session_date == pd.Timestamp("2026-02-03") and p1.days_since_last_session == 1
    # window 2026-01-06..2026-02-04: session rows on Jan 7, 9, 12, 14, 16, 17, 21 (sets 0 still data),
    # 26-31, Feb 1, Feb 3 = 15 days, plus the pain entry of Jan 6 = 16 -> RPM met (>= 16)
    assert p1.days_with_data_last_30 == 16 and p1.rpm_days_met
    assert p1.session_rows_not_counted == 2  # day -2 and the sets = 0 row
    assert p1.status == "on track"
    # P2: prescribed 7 + 7 + 4 + 8/7 = 134/7, done 5 + 1 = 6 -> 6 / (134/7) = 21/67
    p2 = s.loc["P2"]
    assert p2.sessions_prescribed == pytest.approx(134 / 7)
    assert p2.adherence_rate == pytest.approx(21 / 67)
    assert (p2.current_streak_weeks, p2.longest_streak_weeks) == (0, 1)
    assert p2.days_since_last_session == 15  # Jan 20 -> Feb 4
    assert p2.days_with_data_last_30 == 7  # Jan 12-16, Jan 20, pain Jan 22
    assert not p2.rpm_days_met
    assert p2.status == "stopped logging"
    # P3: prescribed 2 + 4 + 8/7 = 50/7, capped 2 + 3 + 8/7 = 43/7 -> 43/50 = 0.86; done 7 -> 49/50
    p3 = s.loc["P3"]
    assert p3.adherence_rate == pytest.approx(43 / 50)
    assert p3.volume_rate == pytest.approx(49 / 50)
    assert p3.adherent
    assert (p3.current_streak_weeks, p3.longest_streak_weeks) == (2, 2)
    assert p3.days_since_last_session == 0 and p3.days_with_data_last_30 == 7
    assert p3.session_rows_not_counted == 1  # Feb 5, after as_of
    assert p3.status == "on track"
    assert set(s["status"].cat.categories) == set(SUMMARY_STATUSES)
    assert (s["as_of"] == pd.Timestamp(AS_OF)).all()


def test_knee_to_chest_left_and_right_dose_by_hand(cohort):
    sessions, prescriptions, patients, pain = cohort
    d = dose_completion(sessions, prescriptions, patients, pain=pain, as_of=AS_OF)
    p2 = d[d["patient_id"] == "P2"].set_index(["exercise", "side", "week"])
    # prescribed per full week: 4 sessions x 2 sets x 10 reps x 5 s = 400; week 4: 2 whole days x 4/7 x 100 = 800/7
    left = p2.loc[("knee_to_chest", "left")]
    right = p2.loc[("knee_to_chest", "right")]
    np.testing.assert_allclose(left["prescribed_dose"], [400, 400, 400, 800 / 7])
    np.testing.assert_allclose(right["prescribed_dose"], [400, 400, 400, 800 / 7])
    # left: 5 days x 2 x 10 x 5 = 500 (125 %, capped 100 %), week 2: 100 (25 %)
    np.testing.assert_allclose(left["done_dose"], [500, 100, 0, 0])
    np.testing.assert_allclose(left["dose_completion"], [1.25, 0.25, 0, 0])
    np.testing.assert_allclose(left["dose_completion_capped"], [1.0, 0.25, 0, 0])
    # right: 4 days x 1 x 10 x 5 = 200 + day 4 with no hold (assumed 5 s) 50 = 250 (62.5 %);
    # week 2: 2 x 10 x 3 s = 60 (15 %)
    np.testing.assert_allclose(right["done_dose"], [250, 60, 0, 0])
    np.testing.assert_allclose(right["dose_completion"], [0.625, 0.15, 0, 0])
    assert right["hold_assumed_rows"].tolist() == [1, 0, 0, 0]
    # pelvic tilt, hold 0 -> counts 1: 7 x 1 x 15 = 105 per week; done 5 x 15 = 75 -> 5/7
    tilt = p2.loc[("pelvic_tilt", "both")]
    np.testing.assert_allclose(tilt["dose_completion"], [5 / 7, 0.0])
    # bridge was never prescribed: reported, not dropped
    bridge = p2.loc[("bridge", "both", 1)]
    assert not bridge["prescribed"] and bridge["done_dose"] == 10 and math.isnan(bridge["dose_completion"])

    s = dose_completion_summary(sessions, prescriptions, patients, pain=pain, as_of=AS_OF)
    s = s[s["patient_id"] == "P2"].set_index(["exercise", "side"])
    # left: prescribed 3 x 400 + 800/7 = 9200/7; done 600 -> 0.4565; capped 400 + 100 = 500 -> 0.3804
    assert s.loc[("knee_to_chest", "left"), "prescribed_dose"] == pytest.approx(9200 / 7)
    assert s.loc[("knee_to_chest", "left"), "dose_completion"] == pytest.approx(600 * 7 / 9200)
    assert s.loc[("knee_to_chest", "left"), "dose_completion_capped"] == pytest.approx(500 * 7 / 9200)
    # right: 310 done, never above the week's plan -> 310 x 7 / 9200 both ways
    assert s.loc[("knee_to_chest", "right"), "dose_completion"] == pytest.approx(310 * 7 / 9200)
    assert s.loc[("knee_to_chest", "right"), "dose_completion_capped"] == pytest.approx(310 * 7 / 9200)
    assert s.loc[("pelvic_tilt", "both"), "dose_completion"] == pytest.approx(75 / 210)
    assert s.loc[("pelvic_tilt", "both"), "weeks_prescribed"] == 2
    b = s.loc[("bridge", "both")]
    assert not b["prescribed"] and b["done_dose_unprescribed"] == 10 and math.isnan(b["dose_completion"])


def test_p3_bridge_dose_after_replacement(cohort):
    sessions, prescriptions, patients, pain = cohort
    d = dose_completion(sessions, prescriptions, patients, pain=pain, as_of=AS_OF)
    p3 = d[d["patient_id"] == "P3"]
    # 2/wk x 2 x 8 = 32; 4/wk x 16 = 64; week 3: 2 whole days x 4/7 x 16 = 128/7 against 2 sessions x 16 = 32
    np.testing.assert_allclose(p3["prescribed_dose"], [32, 64, 128 / 7])
    np.testing.assert_allclose(p3["dose_completion"], [1.0, 0.75, 32 * 7 / 128])


def test_excluded_rows_give_reasons(cohort):
    sessions, prescriptions, patients, pain = cohort
    ex = excluded_rows(sessions, prescriptions, patients, pain=pain, as_of=AS_OF)
    got = sorted(zip(ex["table"], ex["patient_id"], ex["reason"], strict=True))
    assert got == sorted([
        ("sessions", "P1", "before programme start"),
        ("sessions", "P1", "no sets done"),
        ("sessions", "P3", "after as_of"),
        ("sessions", "P9", "unknown patient"),
    ])
    assert set(ex["reason"]) <= set(EXCLUSION_REASONS)
    assert sessions.loc[ex["row"][ex["reason"] == "after as_of"].iloc[0], "performed_at"] == pd.Timestamp(
        "2026-02-05 09:00")


def test_as_of_defaults_to_last_entry(cohort):
    sessions, prescriptions, patients, pain = cohort
    # the last session in the data is P3's of 2026-02-05 -> as_of the day after, 2026-02-06 (every day with data
    # is a whole day; P3's day 17 is now counted)
    s = adherence_summary(sessions, prescriptions, patients, pain=pain).set_index("patient_id")
    assert (s["as_of"] == pd.Timestamp("2026-02-06")).all()
    assert s.loc["P3", "sessions_completed"] == 8


def test_not_started_and_no_prescription():
    patients = conform(pd.DataFrame({"patient_id": ["A", "B"], "physio_id": ["x", "x"],
                                     "programme_start": pd.to_datetime(["2026-03-02", "2026-01-05"])}), "patients")
    prescriptions = conform(pd.DataFrame([_rx("A", "bridge", "both", 1, 10, 0.0, 3, "2026-03-02", "2026-03-15")]),
                            "prescriptions")
    sessions = conform(pd.DataFrame([_s("B", "2026-01-06", "bridge")]), "sessions")
    w = weekly_adherence(sessions, prescriptions, patients, as_of="2026-02-01")
    # A starts after as_of: two 'not yet' weeks of 3; B has no prescription: no weeks
    assert w["patient_id"].tolist() == ["A", "A"]
    assert w["status"].astype(str).tolist() == ["not yet", "not yet"]
    assert w["sessions_prescribed"].tolist() == [3.0, 3.0] and w["adherence_rate"].isna().all()
    s = adherence_summary(sessions, prescriptions, patients, as_of="2026-02-01").set_index("patient_id")
    assert s["status"].astype(str).tolist() == ["not started", "not started"]
    assert s.loc["A", "weeks_elapsed"] == 0 and math.isnan(s.loc["A", "adherence_rate"])
    assert pd.isna(s.loc["A", "adherent"])
    assert s.loc["B", "last_session_date"] == pd.Timestamp("2026-01-06")  # still reported
    ex = excluded_rows(sessions, prescriptions, patients, as_of="2026-02-01")
    assert ex["reason"].tolist() == ["no prescription"]


@pytest.mark.parametrize(
    ("last_day", "as_of_day", "weeks", "overall"),
    [
        # last entry on day 7 (the Monday of week 2): 13 - 7 = 6 days silent < 7 -> still logging; week 2
        # (days 7-13) holds as_of, so it is in progress (a week is complete once it ended before as_of)
        (7, 13, ["complete", "in progress"], "low adherence"),
        # 14 - 7 = 7 days -> stopped; week 2 holds the last entry so stays 'complete'
        (7, 14, ["complete", "complete", "in progress"], "stopped logging"),
        # week 3 (days 14-20) has ended by as_of day 21 and starts after the last entry
        (7, 20, ["complete", "complete", "in progress"], "stopped logging"),
        (7, 21, ["complete", "complete", "stopped logging", "in progress"], "stopped logging"),
        # last entry day 6 (Sunday): week 2 is silent; as_of day 12 -> 6 days, day 13 -> exactly 7
        (6, 12, ["complete", "in progress"], "low adherence"),
        (6, 13, ["complete", "in progress"], "stopped logging"),
        (6, 14, ["complete", "stopped logging", "in progress"], "stopped logging"),
    ],
)
def test_stopped_logging_boundaries(last_day, as_of_day, weeks, overall):
    start = pd.Timestamp("2026-03-02")
    patients = conform(pd.DataFrame({"patient_id": ["A"], "physio_id": ["x"], "programme_start": [start]}), "patients")
    prescriptions = conform(pd.DataFrame([_rx("A", "bridge", "both", 1, 10, 0.0, 3, start)]), "prescriptions")
    sessions = conform(
        pd.DataFrame([_s("A", start, "bridge"), _s("A", start + pd.Timedelta(days=last_day), "bridge")]), "sessions"
    )
    as_of = start + pd.Timedelta(days=as_of_day)
    w = weekly_adherence(sessions, prescriptions, patients, as_of=as_of)
    assert w["status"].astype(str).tolist() == weeks
    s = adherence_summary(sessions, prescriptions, patients, as_of=as_of)
    assert s["status"].astype(str).tolist() == [overall]


def test_twice_daily_prescription_asks_for_every_day():
    start = pd.Timestamp("2026-03-02")
    patients = conform(pd.DataFrame({"patient_id": ["A"], "physio_id": ["x"], "programme_start": [start]}), "patients")
    prescriptions = conform(pd.DataFrame([_rx("A", "bridge", "both", 1, 10, 0.0, 14, start, start + pd.Timedelta(
        days=6))]), "prescriptions")
    # twice a day on all 7 days: 14 rows, 7 session days
    sessions = conform(pd.DataFrame([_s("A", start + pd.Timedelta(days=d, hours=h), "bridge", sets=1, reps=10, hold=0.0)
                                     for d in range(7) for h in (8, 20)]), "sessions")
    # as_of the day after the week: all 7 days of it have elapsed
    w = weekly_adherence(sessions, prescriptions, patients, as_of=start + pd.Timedelta(days=7))
    # 14/week capped at 7 session days: 7 / 7 = 100 %
    assert w["sessions_prescribed"].tolist() == [7.0] and w["adherence_rate"].tolist() == [1.0]
    d = dose_completion(sessions, prescriptions, patients, as_of=start + pd.Timedelta(days=7))
    # dose keeps the full rate: 14 x 1 x 10 = 140 prescribed, 14 rows x 10 = 140 done
    assert d["prescribed_dose"].tolist() == [140.0] and d["dose_completion"].tolist() == [1.0]


def test_prescription_and_session_exclusions():
    start = pd.Timestamp("2026-03-02")
    patients = conform(pd.DataFrame({"patient_id": ["A"], "physio_id": ["x"], "programme_start": [start]}), "patients")
    prescriptions = conform(pd.DataFrame([
        _rx("A", "bridge", "both", 1, 10, 0.0, 3, start, start + pd.Timedelta(days=6)),  # week 1 only
        _rx("A", "cat_cow", "both", 1, 10, 0.0, 3, start - pd.Timedelta(days=9), start - pd.Timedelta(days=2)),
        _rx("A", "pelvic_tilt", "both", 1, 10, 0.0, 3, start + pd.Timedelta(days=5), start + pd.Timedelta(days=1)),
        _rx("A", "childs_pose", "both", None, 10, 0.0, 3, start),
        _rx("Z", "bridge", "both", 1, 10, 0.0, 3, start),
    ]), "prescriptions")
    sessions = conform(pd.DataFrame([_s("A", start + pd.Timedelta(days=1), "bridge"),
                                     _s("A", start + pd.Timedelta(days=16), "bridge")]), "sessions")
    as_of = start + pd.Timedelta(days=20)
    # a prescription without sets breaks the table's rules: the entrance refuses it, naming the row
    with pytest.raises(InvalidTableError, match=r"prescriptions\.sets, rule 'required'.*index \(value\): 3"):
        excluded_rows(sessions, prescriptions, patients, as_of=as_of)
    with trusted_tables():  # rows vouched for by the caller: the rule inside still lists it, never drops it
        ex = excluded_rows(sessions, prescriptions, patients, as_of=as_of)
    assert list(zip(ex["table"], ex["row"], ex["reason"], strict=True)) == [
        ("sessions", 1, "after programme end"),
        ("prescriptions", 1, "before programme start"),
        ("prescriptions", 2, "ends before it starts"),
        ("prescriptions", 3, "missing dose"),
        ("prescriptions", 4, "unknown patient"),
    ]
    prescriptions = prescriptions.drop(index=3)  # without the invalid row
    w = weekly_adherence(sessions, prescriptions, patients, as_of=as_of)
    assert w["week"].tolist() == [1] and w["sessions_completed"].tolist() == [1]
    s = adherence_summary(sessions, prescriptions, patients, as_of=as_of)
    # the session after the programme is still the last session the patient did
    assert s["last_session_date"].tolist() == [start + pd.Timedelta(days=16)]
    assert s["session_rows_not_counted"].tolist() == [1]


def test_group_keys_dense_and_sorted_paths_agree():
    from analysis.adherence import _group_keys

    rng = np.random.default_rng(3)
    keys = rng.integers(0, 50, 200)
    uniq, inverse = np.unique(keys, return_inverse=True)  # reference
    for n_keys in (50, 10**9):  # dense bincount, then the sort fallback
        got_uniq, got_inverse = _group_keys(keys, n_keys)
        np.testing.assert_array_equal(got_uniq, uniq)
        np.testing.assert_array_equal(got_inverse, inverse)


def test_empty_tables_give_empty_outputs():
    e = {t: empty_frame(t) for t in ("sessions", "prescriptions", "patients", "pain")}
    for fn in ALL:
        out = fn(e["sessions"], e["prescriptions"], e["patients"], pain=e["pain"], as_of=AS_OF)
        assert len(out) == 0 and "patient_id" in out.columns
    assert len(excluded_rows(e["sessions"], e["prescriptions"], e["patients"], as_of=AS_OF)) == 0


def test_duplicate_patient_ids_raise_a_typed_error(cohort):
    sessions, prescriptions, patients, _ = cohort
    with pytest.raises(IngestError, match="more than once"):
        weekly_adherence(sessions, prescriptions, pd.concat([patients, patients.iloc[:1]]), as_of=AS_OF)


def test_categorical_ids_match_string_ids(cohort):
    sessions, prescriptions, patients, pain = cohort
    cat = sessions.assign(patient_id=sessions["patient_id"].astype("category"),
                          exercise=sessions["exercise"].astype("category"))
    for fn in ALL:
        pd.testing.assert_frame_equal(fn(cat, prescriptions, patients, pain=pain, as_of=AS_OF),
                                      fn(sessions, prescriptions, patients, pain=pain, as_of=AS_OF))


# ----------------------------------------------------------------------------- independent reference


def _d(value) -> dt.date:
    return pd.Timestamp(value).date()


def _reference(sessions, prescriptions, patients, pain, as_of, threshold=0.7, stop_days=7, window=30):
    """Day-by-day Python loops over plain dates, written from the definitions, not from the module."""
    as_of = _d(as_of)
    weekly, summary, dose = [], [], {}
    srows = sessions.to_dict("records")
    prows = prescriptions.to_dict("records")
    nrows = pain.to_dict("records") if pain is not None else []
    for pat in patients.to_dict("records"):
        pid, start = pat["patient_id"], _d(pat["programme_start"])
        periods = [p for p in prows if p["patient_id"] == pid]

        def active(day, periods=periods):
            """The period of each (exercise, side) in force on ``day``: the latest start on or before it."""
            out = {}
            for p in periods:
                if _d(p["start_date"]) > day:
                    continue
                key = (p["exercise"], p["side"])
                if key not in out or _d(p["start_date"]) > _d(out[key]["start_date"]):
                    out[key] = p
            live = {}
            for key, p in out.items():
                if pd.isna(p["end_date"]):
                    until = max(as_of, _d(p["start_date"]))
                    later = [q for q in periods if (q["exercise"], q["side"]) == key
                             and _d(q["start_date"]) > _d(p["start_date"])]
                    if later:  # runs until replaced
                        until = max(until, min(_d(q["start_date"]) for q in later) - dt.timedelta(days=1))
                else:
                    until = _d(p["end_date"])
                if day <= until:
                    live[key] = p
            return live

        horizon = max([as_of, start] + [_d(p["start_date"]) for p in periods]
                      + [_d(p["end_date"]) for p in periods if not pd.isna(p["end_date"])])
        last_day = -1
        day = start
        while day <= horizon:
            if active(day):
                last_day = (day - start).days
            day += dt.timedelta(days=1)
        n_weeks = last_day // 7 + 1 if last_day >= 0 else 0

        mine = [r for r in srows if r["patient_id"] == pid]
        entries = [_d(r["performed_at"]) for r in mine] + [_d(r["recorded_at"]) for r in nrows
                                                           if r["patient_id"] == pid]
        entries = [e for e in entries if e <= as_of]
        silence_from = max((max(entries) - start).days, -1) if entries else -1
        as_of_day = (as_of - start).days
        silent = as_of_day - silence_from >= stop_days
        programme_end = start + dt.timedelta(days=7 * n_weeks - 1)
        counted = [r for r in mine if start <= _d(r["performed_at"]) <= min(as_of, programme_end)]
        session_days = {_d(r["performed_at"]) for r in counted if r["sets"] > 0}

        sum_p = sum_c = sum_capped = 0.0
        n_elapsed = 0
        meets_closed = []
        for week in range(1, n_weeks + 1):
            w0 = start + dt.timedelta(days=7 * (week - 1))
            days = [w0 + dt.timedelta(days=i) for i in range(7)]
            if w0 > as_of:
                status = "not yet"
            elif days[-1] < as_of:
                status = "stopped logging" if silent and (w0 - start).days > silence_from else "complete"
            else:
                status = "in progress"
            # elapsed days: the whole days before as_of (as_of itself is not over)
            plan_days = days if status == "not yet" else [x for x in days if x < as_of]
            # session days: a rate above 7/week (twice daily) asks for every day, i.e. 7
            prescribed = sum(min(max([p["sessions_per_week"] for p in active(x).values()], default=0), 7)
                             for x in plan_days) / 7
            completed = 0 if status == "not yet" else sum(x in session_days for x in days)
            if status == "not yet" or prescribed == 0:
                adherence = volume = float("nan")
            else:
                volume = completed / prescribed
                adherence = min(volume, 1.0)
            weekly.append(dict(patient_id=pid, week=week, week_start=pd.Timestamp(w0),
                               days_elapsed=len([x for x in days if x < as_of]),
                               sessions_prescribed=prescribed, sessions_completed=completed,
                               adherence_rate=adherence, volume_rate=volume, status=status))
            if status != "not yet":
                n_elapsed += 1
                sum_p += prescribed
                sum_c += completed
                sum_capped += min(completed, prescribed)
            if status in ("complete", "stopped logging") and prescribed > 0:
                meets_closed.append(adherence >= threshold)
            # dose per exercise-side
            keys = set()
            for x in days:
                keys |= set(active(x))
            keys |= {(r["exercise"], r["side"]) for r in counted if r["sets"] > 0 and _d(r["performed_at"]) in days}
            for key in keys:
                planned = 0.0
                for x in plan_days:
                    p = active(x).get(key)
                    if p is not None:
                        hold = p["hold_s"] if p["hold_s"] else 1.0
                        planned += p["sessions_per_week"] / 7 * p["sets"] * p["reps"] * hold
                done = 0.0
                for r in counted:
                    x = _d(r["performed_at"])
                    if r["sets"] > 0 and x in days and (r["exercise"], r["side"]) == key:
                        hold = r["hold_s"]
                        if pd.isna(hold) and key in active(x):
                            hold = active(x)[key]["hold_s"]
                        hold = 1.0 if (pd.isna(hold) or hold == 0) else hold
                        done += r["sets"] * r["reps"] * hold
                ok = status != "not yet" and planned > 0
                dose[(pid, *key, week)] = dict(
                    prescribed=any(key in active(x) for x in days), prescribed_dose=planned, done_dose=done,
                    dose_completion=done / planned if ok else float("nan"))
        runs, run = [0], 0
        for m in meets_closed:
            run = run + 1 if m else 0
            runs.append(run)
        done_dates = [_d(r["performed_at"]) for r in mine if r["sets"] > 0 and _d(r["performed_at"]) <= as_of]
        window_days = {e for e in entries if (as_of - e).days < window}
        summary.append(dict(
            patient_id=pid, weeks_elapsed=n_elapsed, sessions_prescribed=sum_p, sessions_completed=sum_c,
            adherence_rate=sum_capped / sum_p if sum_p > 0 else float("nan"),
            current_streak_weeks=runs[-1], longest_streak_weeks=max(runs),
            days_since_last_session=(as_of - max(done_dates)).days if done_dates else None,
            days_with_data_last_30=len(window_days),
            status=("not started" if sum_p == 0 or not session_days
                    else "stopped logging" if silent
                    else "low adherence" if sum_capped / sum_p < threshold else "on track"),
        ))
    return pd.DataFrame(weekly), pd.DataFrame(summary), dose


SIDES = ("left", "right", "both")
EXERCISES = ("knee_to_chest", "bridge")


@st.composite
def cohorts(draw, max_patients=3, id_prefix="P"):
    """Small random cohorts on days counted from 2026-01-05, with as_of."""
    base = pd.Timestamp("2026-01-05")
    n = draw(st.integers(1, max_patients))
    patients, prescriptions, sessions, pain = [], [], [], []
    for i in range(n):
        pid = f"{id_prefix}{i}"
        start = base + pd.Timedelta(days=draw(st.integers(0, 20)))
        patients.append(dict(patient_id=pid, physio_id="x", programme_start=start))
        keys = draw(st.lists(st.tuples(st.sampled_from(EXERCISES), st.sampled_from(SIDES), st.integers(-5, 30)),
                             max_size=4, unique=True))
        for ex, side, offset in keys:
            first = start + pd.Timedelta(days=offset)
            length = draw(st.one_of(st.none(), st.integers(0, 30)))
            prescriptions.append(_rx(pid, ex, side, draw(st.integers(1, 3)), draw(st.integers(1, 12)),
                                     draw(st.sampled_from([0.0, 5.0])), draw(st.integers(1, 14)), first,
                                     None if length is None else first + pd.Timedelta(days=length)))
        for _ in range(draw(st.integers(0, 25))):
            when = start + pd.Timedelta(days=draw(st.integers(-3, 50)), hours=draw(st.integers(0, 23)))
            sessions.append(_s(pid, when, draw(st.sampled_from(EXERCISES)), draw(st.sampled_from(SIDES)),
                               draw(st.integers(0, 3)), draw(st.integers(0, 12)),
                               draw(st.sampled_from([None, 0.0, 5.0, 10.0]))))
        for _ in range(draw(st.integers(0, 4))):
            pain.append(dict(patient_id=pid, recorded_at=start + pd.Timedelta(days=draw(st.integers(-3, 50))), nprs=3))
    if draw(st.booleans()):
        sessions.append(_s("ZZ", base, "bridge"))  # unknown patient
    as_of = base + pd.Timedelta(days=draw(st.integers(0, 60)))
    frames = (
        conform(pd.DataFrame(sessions, columns=["patient_id", "performed_at", "exercise", "side", "sets", "reps",
                                                "hold_s"]), "sessions"),
        conform(pd.DataFrame(prescriptions, columns=list(_rx(*[None] * 8).keys())), "prescriptions"),
        conform(pd.DataFrame(patients), "patients"),
        conform(pd.DataFrame(pain, columns=["patient_id", "recorded_at", "nprs"]), "pain"),
    )
    return (*frames, as_of)


@given(cohorts())
def test_vectorised_agrees_with_day_by_day_reference(data):
    sessions, prescriptions, patients, pain, as_of = data
    ref_w, ref_s, ref_d = _reference(sessions, prescriptions, patients, pain, as_of)
    w = weekly_adherence(sessions, prescriptions, patients, pain=pain, as_of=as_of)
    assert len(w) == len(ref_w)
    if len(w):
        assert w["patient_id"].tolist() == ref_w["patient_id"].tolist()
        assert w["week"].tolist() == ref_w["week"].tolist()
        assert (w["week_start"] == ref_w["week_start"]).all()
        assert w["status"].astype(str).tolist() == ref_w["status"].tolist()
        for col in ("days_elapsed", "sessions_prescribed", "sessions_completed", "adherence_rate", "volume_rate"):
            np.testing.assert_allclose(w[col].to_numpy(float), ref_w[col].to_numpy(float), rtol=1e-9, err_msg=col)

    s = adherence_summary(sessions, prescriptions, patients, pain=pain, as_of=as_of)
    for col in ("weeks_elapsed", "sessions_prescribed", "sessions_completed", "adherence_rate",
                "current_streak_weeks", "longest_streak_weeks", "days_with_data_last_30"):
        np.testing.assert_allclose(s[col].to_numpy(float), ref_s[col].to_numpy(float), rtol=1e-9, err_msg=col)
    assert s["days_since_last_session"].astype("Float64").fillna(-1).tolist() == ref_s[
        "days_since_last_session"].astype("Float64").fillna(-1).tolist()
    assert s["status"].astype(str).tolist() == ref_s["status"].tolist()

    d = dose_completion(sessions, prescriptions, patients, pain=pain, as_of=as_of)
    got = {(r.patient_id, r.exercise, r.side, r.week): r for r in d.itertuples()}
    assert set(got) == set(ref_d)
    for key, ref in ref_d.items():
        row = got[key]
        assert row.prescribed == ref["prescribed"], key
        for col in ("prescribed_dose", "done_dose", "dose_completion"):
            np.testing.assert_allclose(getattr(row, col), ref[col], rtol=1e-9, err_msg=f"{key} {col}")


# ----------------------------------------------------------------------------- properties


def _all_outputs(sessions, prescriptions, patients, pain, as_of):
    return {fn.__name__: fn(sessions, prescriptions, patients, pain=pain, as_of=as_of) for fn in ALL}


@given(cohorts())
def test_rates_are_within_bounds(data):
    sessions, prescriptions, patients, pain, as_of = data
    out = _all_outputs(sessions, prescriptions, patients, pain, as_of)
    for name, col in (("weekly_adherence", "adherence_rate"), ("adherence_summary", "adherence_rate"),
                      ("dose_completion", "dose_completion_capped"),
                      ("dose_completion_summary", "dose_completion_capped")):
        values = out[name][col].dropna()
        assert ((values >= 0) & (values <= 1)).all(), name
    w = out["weekly_adherence"]
    assert set(w["status"].astype(str)) <= set(WEEK_STATUSES)
    # NaN only where nothing was prescribed or the week has not started
    nan = w["adherence_rate"].isna()
    assert ((w["sessions_prescribed"] == 0) | (w["status"] == "not yet"))[nan].all()


def _shift(frame: pd.DataFrame, days: int) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col].dtype):
            out[col] = out[col] + pd.Timedelta(days=days)
    return out


@given(cohorts(), st.integers(-800, 800))
def test_shifting_every_date_changes_nothing(data, days):
    sessions, prescriptions, patients, pain, as_of = data
    before = _all_outputs(sessions, prescriptions, patients, pain, as_of)
    after = _all_outputs(*(_shift(f, days) for f in (sessions, prescriptions, patients, pain)),
                         as_of + pd.Timedelta(days=days))
    for name in before:
        pd.testing.assert_frame_equal(_shift(before[name], days), after[name], check_exact=False, rtol=1e-12)


@given(cohorts(), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(data, rnd):
    sessions, prescriptions, patients, pain, as_of = data

    def shuffled(frame):
        order = list(range(len(frame)))
        rnd.shuffle(order)
        return frame.iloc[order]

    before = _all_outputs(sessions, prescriptions, patients, pain, as_of)
    after = _all_outputs(*(shuffled(f) for f in (sessions, prescriptions, patients, pain)), as_of)
    keys = {"weekly_adherence": ["patient_id", "week"], "adherence_summary": ["patient_id"],
            "dose_completion": ["patient_id", "exercise", "side", "week"],
            "dose_completion_summary": ["patient_id", "exercise", "side"]}
    for name, by in keys.items():
        pd.testing.assert_frame_equal(before[name].sort_values(by).reset_index(drop=True),
                                      after[name].sort_values(by).reset_index(drop=True))


@given(cohorts(), cohorts(id_prefix="Q"))
def test_other_patients_do_not_change_a_patients_statistics(data, others):
    sessions, prescriptions, patients, pain, as_of = data
    alone = _all_outputs(sessions, prescriptions, patients, pain, as_of)
    merged = (pd.concat([a, b], ignore_index=True) for a, b in zip(data[:4], others[:4], strict=True))
    together = _all_outputs(*merged, as_of)
    for name in alone:
        mine = together[name][together[name]["patient_id"].isin(patients["patient_id"])]
        pd.testing.assert_frame_equal(alone[name], mine.reset_index(drop=True))


# ----------------------------------------------------------------------------- performance smoke


def _synthetic(n_patients: int, weeks: int = 12, seed: int = 7):
    """A cohort of ``n_patients`` with four exercise rows on ~75 % of days, built vectorised."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"S{i:06d}" for i in range(n_patients)])
    start = np.datetime64("2026-01-05") + rng.integers(0, 28, n_patients).astype("timedelta64[D]")
    ex = np.array(["knee_to_chest", "knee_to_chest", "hamstring_stretch", "pelvic_tilt"])
    side = np.array(["left", "right", "both", "both"])
    patients = conform(pd.DataFrame({"patient_id": ids, "physio_id": "a", "programme_start": start}), "patients")
    prescriptions = conform(pd.DataFrame({
        "patient_id": np.repeat(ids, 4), "exercise": np.tile(ex, n_patients), "side": np.tile(side, n_patients),
        "sets": 2, "reps": 10, "hold_s": np.tile([5.0, 5.0, 20.0, 0.0], n_patients),
        "sessions_per_week": np.tile([5, 5, 3, 7], n_patients), "start_date": np.repeat(start, 4),
        "end_date": np.repeat(start, 4) + np.timedelta64(7 * weeks - 1, "D")}), "prescriptions")
    did = rng.random((n_patients, 7 * weeks)) < rng.uniform(0.5, 1.0, n_patients)[:, None]
    pi, di = np.nonzero(did)
    e = np.tile(np.arange(4), len(pi))
    pi, di = np.repeat(pi, 4), np.repeat(di, 4)
    sessions = conform(pd.DataFrame({
        "patient_id": ids[pi], "performed_at": start[pi] + di.astype("timedelta64[D]") + np.timedelta64(7, "h"),
        "exercise": ex[e], "side": side[e], "sets": 2, "reps": 10, "hold_s": np.where(e < 2, 5.0, 0.0)}), "sessions")
    return sessions, prescriptions, patients


def test_two_thousand_patients_twelve_weeks_runs():
    sessions, prescriptions, patients = _synthetic(2000)
    as_of = pd.Timestamp("2026-05-01")  # after every programme's last day: all 12 weeks complete
    w = weekly_adherence(sessions, prescriptions, patients, as_of=as_of)
    assert len(w) == 2000 * 12
    assert (w["status"].astype(str) != "not yet").all()
    assert w["adherence_rate"].between(0, 1).all()
    # every session day is counted once: total completed = number of distinct (patient, day)
    distinct_days = sessions.assign(day=sessions["performed_at"].dt.normalize())[["patient_id", "day"]]
    assert w["sessions_completed"].sum() == len(distinct_days.drop_duplicates())
    s = adherence_summary(sessions, prescriptions, patients, as_of=as_of)
    assert len(s) == 2000 and s["sessions_prescribed"].eq(12 * 7).all()  # 7/week from pelvic tilt
    d = dose_completion(sessions, prescriptions, patients, as_of=as_of)
    assert len(d) == 2000 * 4 * 12 and d["prescribed"].all()
