"""Tests of analysis.flags against hand-worked numbers and plain, slow reference loops.

Every expected number is worked out in a comment from the rules of
docs/clinical-reference.md section 5 (defaults: flare >= 2 points above the trailing
7-day median of daily NPRS, at least 3 days in the window; pain during exercise
> 5 or >= 2 above the pre-session pain; acute:chronic ratio > 1.5 over the
previous 4 weeks; no entry for >= 7 days). The random-data tests compare the
vectorised code with loops written the obvious way, one patient and one day at
a time.
"""

from __future__ import annotations

import datetime as dt
import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from analysis.errors import IngestError, SettingsError
from analysis.flags import (
    FLAG_COLUMNS,
    FLAG_KINDS,
    flag_counts,
    flare_ratings,
    load_progression,
    logging_stopped,
    pain_during_exercise,
    pain_flares,
    safety_flags,
    self_reported_flares,
)
from analysis.schema import conform, empty_frame
from analysis.settings import DEFAULT_SETTINGS

START = pd.Timestamp("2026-09-07")  # a Monday; day 0 of every hand-made programme


# ----------------------------------------------------------------------------- builders


def patients_of(*ids: str, start: str | pd.Timestamp = START, starts: dict | None = None) -> pd.DataFrame:
    starts = starts or {}
    return conform(
        pd.DataFrame(
            {
                "patient_id": list(ids),
                "physio_id": ["physio_a"] * len(ids),
                "programme_start": [pd.Timestamp(starts.get(i, start)) for i in ids],
            }
        ),
        "patients",
    )


def pain_of(rows: list[tuple]) -> pd.DataFrame:
    """rows: (patient_id, timestamp, nprs[, flare])."""
    if not rows:
        return empty_frame("pain")
    frame = pd.DataFrame(
        {
            "patient_id": [r[0] for r in rows],
            "recorded_at": [pd.Timestamp(r[1]) for r in rows],
            "nprs": [r[2] for r in rows],
            "flare": [r[3] if len(r) > 3 else False for r in rows],
        }
    )
    return conform(frame, "pain")


def sessions_of(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return empty_frame("sessions")
    base = {"exercise": "knee_to_chest", "side": "both", "sets": 1, "reps": 10, "hold_s": 0.0, "pain_during": None}
    frame = pd.DataFrame([{**base, **r, "performed_at": pd.Timestamp(r["performed_at"])} for r in rows])
    return conform(frame, "sessions")


def day(n: int, hour: int = 20) -> pd.Timestamp:
    """Programme day n at the given hour."""
    return START + pd.Timedelta(days=n, hours=hour)


def daily(pid: str, values: dict[int, float | list[int]]) -> list[tuple]:
    """Pain rows: one rating per day, or several (a list) at 08:00, 09:00, ..."""
    rows = []
    for d, v in values.items():
        if isinstance(v, list):
            rows += [(pid, day(d, 8 + i), x) for i, x in enumerate(v)]
        else:
            rows.append((pid, day(d), v))
    return rows


def row_of(frame: pd.DataFrame, **where) -> pd.Series:
    mask = np.ones(len(frame), dtype=bool)
    for k, v in where.items():
        mask &= (frame[k] == v).to_numpy()
    assert mask.sum() == 1, f"expected one row for {where}, got {mask.sum()}"
    return frame.loc[mask].iloc[0]


# ----------------------------------------------------------------------------- pain flares


def test_flare_exactly_two_points_above_the_median_is_flagged() -> None:
    # days 0-6: pain 5 every day -> trailing median for day 7 = 5; day 7: pain 7 -> 7 - 5 = 2 >= 2
    pain = pain_of(daily("A", {**{d: 5 for d in range(7)}, 7: 7}))
    out = pain_flares(pain, patients_of("A"))
    r = row_of(out, date=START + pd.Timedelta(days=7))
    assert r["baseline"] == 5 and r["baseline_days"] == 7 and r["rise"] == 2
    assert bool(r["flagged"])
    assert out["flagged"].sum() == 1


def test_flare_at_one_point_nine_is_not_flagged() -> None:
    # days 0-6: ten ratings a day, nine 5s and one 6 -> daily mean 5.1, median 5.1; day 7: a 7 -> 7 - 5.1 = 1.9 < 2
    pain = pain_of(daily("A", {**{d: [5] * 9 + [6] for d in range(7)}, 7: 7}))
    r = row_of(pain_flares(pain, patients_of("A")), date=START + pd.Timedelta(days=7))
    assert r["baseline"] == pytest.approx(5.1) and r["rise"] == pytest.approx(1.9)
    assert not bool(r["flagged"])


def test_a_flare_is_judged_on_each_rating_not_on_the_days_mean() -> None:
    # days 0-6: pain 6 -> median 6. Day 7: a 9 in the morning and a 5 in the evening: mean 7 is only 1 above,
    # but the 9 is 3 above -> a flare (issue 15). Day 8 at 6: back below the flare level 6 + 2 = 8 -> transient.
    pain = pain_of(daily("A", {**{d: 6 for d in range(7)}, 7: [9, 5], 8: 6}))
    r = row_of(pain_flares(pain, patients_of("A")), date=START + pd.Timedelta(days=7))
    assert (r["nprs"], r["nprs_max"], r["baseline"], r["rise"]) == (7.0, 9.0, 6.0, 3.0)
    assert bool(r["flagged"])
    ratings = flare_ratings(pain, patients_of("A"))
    assert pain.loc[ratings, "nprs"].tolist() == [9]  # the 5 of the same day is not a flare rating
    assert flare_ratings(pain, patients_of("A"), transient=True).tolist() == ratings.tolist()
    flags = safety_flags(sessions_of([]), pain, patients_of("A"), as_of=day(8))
    assert flags.loc[flags["kind"] == "pain_flare", "reason"].iloc[0].startswith(
        "Pain 9 on 2026-09-14 is 3 points above the 7-day median of 6")


def test_a_rise_that_lasts_is_flagged_but_not_transient() -> None:
    # pain 4 for a week, then 7 every day: days 7-10 are flagged (7 - 4 = 3) until the median catches up,
    # but pain never comes back below 4 + 2 = 6: not transient (the trend keeps these ratings)
    pain = pain_of(daily("A", {**{d: 4 for d in range(7)}, **{d: 7 for d in range(7, 14)}}))
    flagged = flare_ratings(pain, patients_of("A"))
    assert flagged.sum() == 4 and not flare_ratings(pain, patients_of("A"), transient=True).any()


def test_daily_value_is_the_mean_of_the_days_ratings_and_thirds_are_exact() -> None:
    # day 3: 6, 7, 7 -> 20/3 = 6.667; days 0-2: 4, 5, 4.667 (4+5+5 / 3 = 14/3)
    # median of (4, 5, 14/3) = 14/3 -> rise = 20/3 - 14/3 = 2 exactly (up to rounding) -> flagged
    pain = pain_of(daily("A", {0: 4, 1: 5, 2: [4, 5, 5], 3: [6, 7, 7]}))
    r = row_of(pain_flares(pain, patients_of("A")), date=START + pd.Timedelta(days=3))
    assert r["nprs"] == pytest.approx(20 / 3) and r["baseline"] == pytest.approx(14 / 3)
    assert bool(r["flagged"])


def test_the_median_window_excludes_the_day_itself() -> None:
    # days 0-2: 4, 4, 6 -> median 4; day 3: 6 -> 6 - 4 = 2 -> flagged.
    # Had day 3 been in its own window: median(4, 4, 6, 6) = 5 -> 6 - 5 = 1 -> not flagged.
    pain = pain_of(daily("A", {0: 4, 1: 4, 2: 6, 3: 6}))
    r = row_of(pain_flares(pain, patients_of("A")), date=START + pd.Timedelta(days=3))
    assert r["baseline"] == 4 and r["baseline_days"] == 3
    assert bool(r["flagged"])


def test_window_is_the_previous_seven_calendar_days_and_needs_three_days() -> None:
    # day 8's window is days 1-7. Days with ratings 0, 5, 6 -> only 5 and 6 are inside: 2 days < 3 -> no baseline.
    pain = pain_of(daily("A", {0: 3, 5: 3, 6: 3, 8: 9}))
    r = row_of(pain_flares(pain, patients_of("A")), date=START + pd.Timedelta(days=8))
    assert r["baseline_days"] == 2 and np.isnan(r["baseline"]) and not bool(r["flagged"])
    # move the first rating to day 1: now days 1, 5, 6 are inside -> median 3, 9 - 3 = 6 -> flagged
    pain = pain_of(daily("A", {1: 3, 5: 3, 6: 3, 8: 9}))
    r = row_of(pain_flares(pain, patients_of("A")), date=START + pd.Timedelta(days=8))
    assert r["baseline_days"] == 3 and r["baseline"] == 3 and bool(r["flagged"])
    # min_baseline_days=2 judges the first case too: median(3, 3) = 3
    pain = pain_of(daily("A", {0: 3, 5: 3, 6: 3, 8: 9}))
    r = row_of(pain_flares(pain, patients_of("A"), min_baseline_days=2), date=START + pd.Timedelta(days=8))
    assert bool(r["flagged"])


def test_even_window_median_is_the_mean_of_the_middle_two() -> None:
    # days 0-3: 2, 3, 5, 6 -> median (3 + 5) / 2 = 4; day 4: 6 -> 6 - 4 = 2 -> flagged
    pain = pain_of(daily("A", {0: 2, 1: 3, 2: 5, 3: 6, 4: 6}))
    r = row_of(pain_flares(pain, patients_of("A")), date=START + pd.Timedelta(days=4))
    assert r["baseline"] == 4 and bool(r["flagged"])


def test_flare_settings_are_honoured() -> None:
    # median 5, day 7 pain 7: rise 2 < 3 with flare_rise_points = 3
    pain = pain_of(daily("A", {**{d: 5 for d in range(7)}, 7: 7}))
    out = pain_flares(pain, patients_of("A"), settings=DEFAULT_SETTINGS.replace(flare_rise_points=3))
    assert not out["flagged"].any()
    # a 2-day baseline window for day 7 holds days 5 and 6 only -> 2 days < 3 -> never judged
    out = pain_flares(pain, patients_of("A"), settings=DEFAULT_SETTINGS.replace(flare_baseline_days=2))
    assert out["baseline_days"].max() == 2 and not out["flagged"].any()


def reference_flares(pain: pd.DataFrame, window: int = 7, rise: float = 2.0, min_days: int = 3) -> pd.DataFrame:
    """The flare rule written the slow, obvious way: one patient and one day at a time."""
    rows = []
    for pid in sorted(set(pain["patient_id"])):
        mine = pain[pain["patient_id"] == pid]
        by_day: dict[dt.date, list[float]] = {}
        for when, value in zip(mine["recorded_at"], mine["nprs"], strict=True):
            by_day.setdefault(when.date(), []).append(float(value))
        means = {d: sum(v) / len(v) for d, v in by_day.items()}
        for d in sorted(means):
            window_values = [
                means[d - dt.timedelta(days=k)] for k in range(1, window + 1) if d - dt.timedelta(days=k) in means
            ]
            if len(window_values) >= min_days:
                baseline = statistics.median(window_values)
                flagged = max(by_day[d]) - baseline >= rise - 1e-9  # any rating of the day
            else:
                baseline, flagged = float("nan"), False
            rows.append((pid, pd.Timestamp(d), means[d], baseline, len(window_values), flagged))
    out = pd.DataFrame(rows, columns=["patient_id", "date", "nprs", "baseline", "baseline_days", "flagged"])
    return out.astype({"nprs": float, "baseline": float, "date": "datetime64[ns]"})


pain_rows = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(0, 40), st.integers(0, 23), st.integers(0, 10)),
    min_size=0,
    max_size=80,
    unique_by=lambda r: (r[0], r[1], r[2]),
)


@given(pain_rows, st.integers(1, 9), st.integers(1, 4))
def test_flares_match_a_plain_loop_on_random_data(rows, window, min_days) -> None:
    pain = pain_of([(p, START + pd.Timedelta(days=d, hours=h), v) for p, d, h, v in rows])
    settings = DEFAULT_SETTINGS.replace(flare_baseline_days=window)
    got = pain_flares(pain, patients_of("A", "B", "C"), settings=settings, min_baseline_days=min_days)
    want = reference_flares(pain, window=window, min_days=min_days)
    assert len(got) == len(want)
    assert got["patient_id"].tolist() == want["patient_id"].tolist()
    assert (got["date"].to_numpy() == want["date"].to_numpy()).all()
    np.testing.assert_allclose(got["nprs"], want["nprs"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["baseline"], want["baseline"], rtol=0, atol=1e-12)
    assert got["baseline_days"].tolist() == want["baseline_days"].tolist()
    assert got["flagged"].tolist() == want["flagged"].tolist()


def test_self_reported_flare_without_a_spike_is_only_a_self_reported_flare() -> None:
    # pain 5 on days 0-7, day 7 marked "flare" by the patient: no rise (5 - 5 = 0) -> no pain_flare
    rows = [("A", day(d), 5, d == 7) for d in range(8)]
    pain = pain_of(rows)
    flags = safety_flags(sessions_of([]), pain, patients_of("A"), as_of=day(7))
    that_day = flags[flags["date"] == START + pd.Timedelta(days=7)]
    assert that_day["kind"].tolist() == ["self_reported_flare"]
    r = that_day.iloc[0]
    assert r["value"] == 5 and np.isnan(r["threshold"]) and "Costa et al. 2021" in r["reason"]
    srf = self_reported_flares(pain, patients_of("A"))
    assert len(srf) == 1 and srf["nprs_max"].iloc[0] == 5 and srf["n_reports"].iloc[0] == 1


def test_self_reported_flares_count_reports_per_day_and_ignore_missing_marks() -> None:
    pain = pain_of([("A", day(0, 8), 4, True), ("A", day(0, 20), 6, True), ("A", day(1), 3, None), ("A", day(2), 2)])
    srf = self_reported_flares(pain, patients_of("A"))
    # day 0: two marked ratings (4 and 6) -> 2 reports, highest 6, day mean (4 + 6) / 2 = 5; day 1 NA -> not a flare
    assert len(srf) == 1
    r = srf.iloc[0]
    assert r["n_reports"] == 2 and r["nprs_max"] == 6 and r["daily_nprs"] == 5


# ----------------------------------------------------------------------------- pain during exercise


def test_pain_during_five_is_not_flagged_and_six_is() -> None:
    # no pain rating at all, so only the > 5 rule applies: 5 is "acceptable", 6 is "too much"
    sessions = sessions_of(
        [{"patient_id": "A", "performed_at": day(1, 9), "pain_during": 5},
         {"patient_id": "A", "performed_at": day(2, 9), "pain_during": 6}]
    )
    out = pain_during_exercise(sessions, pain_of([]), patients_of("A"))
    assert out["flagged"].tolist() == [False, True]
    assert out["over_max"].tolist() == [False, True]
    flags = safety_flags(sessions, pain_of([]), patients_of("A"), as_of=day(2))
    pde = flags[flags["kind"] == "pain_during_exercise"]
    assert len(pde) == 1 and pde["value"].iloc[0] == 6 and pde["threshold"].iloc[0] == 5
    assert "Silbernagel" in pde["reason"].iloc[0]


def test_rise_above_pre_session_pain() -> None:
    pain = pain_of([("A", day(1, 8), 1), ("A", day(1, 10), 0)])
    sessions = sessions_of(
        [
            # pre-session = the 08:00 rating of 1 (the 10:00 rating comes after): 3 - 1 = 2 >= 2 -> flagged
            {"patient_id": "A", "performed_at": day(1, 9), "pain_during": 3, "exercise": "bridge"},
            # 2 - 1 = 1 < 2 -> not flagged
            {"patient_id": "A", "performed_at": day(1, 9), "pain_during": 2, "exercise": "cat_cow"},
        ]
    )
    out = pain_during_exercise(sessions, pain, patients_of("A"))
    bridge = row_of(out, exercise="bridge")
    assert bridge["pre_session_nprs"] == 1 and bridge["pre_session_at"] == day(1, 8)
    assert bridge["rise"] == 2 and bool(bridge["rose"]) and not bool(bridge["over_max"])
    assert not bool(row_of(out, exercise="cat_cow")["flagged"])
    flags = safety_flags(sessions, pain, patients_of("A"), as_of=day(1))
    pde = flags[flags["kind"] == "pain_during_exercise"].iloc[0]
    # value = the rise (2 points), threshold = pain_during_rise (2)
    assert pde["value"] == 2 and pde["threshold"] == 2 and "pre-session pain of 1" in pde["reason"]


def test_pre_session_pain_comes_from_the_same_or_previous_day_only() -> None:
    pain = pain_of([("A", day(0, 20), 1), ("B", day(0, 20), 1)])
    sessions = sessions_of(
        [
            # A: rating the evening before (day 0, 20:00) -> used: 4 - 1 = 3 -> flagged
            {"patient_id": "A", "performed_at": day(1, 9), "pain_during": 4},
            # B: rating two days earlier -> not used: no pre-session pain, 4 <= 5 -> not flagged
            {"patient_id": "B", "performed_at": day(2, 9), "pain_during": 4},
        ]
    )
    out = pain_during_exercise(sessions, pain, patients_of("A", "B"))
    a, b = row_of(out, patient_id="A"), row_of(out, patient_id="B")
    assert a["pre_session_nprs"] == 1 and bool(a["flagged"])
    assert np.isnan(b["pre_session_nprs"]) and pd.isna(b["pre_session_at"]) and not bool(b["flagged"])


def test_date_only_logs_compare_with_the_same_days_rating() -> None:
    # both at midnight: the same-timestamp rating counts as before the session; 5 - 2 = 3 -> flagged
    pain = pain_of([("A", START + pd.Timedelta(days=1), 2)])
    sessions = sessions_of([{"patient_id": "A", "performed_at": START + pd.Timedelta(days=1), "pain_during": 5}])
    out = pain_during_exercise(sessions, pain, patients_of("A"))
    assert out["pre_session_nprs"].tolist() == [2] and out["flagged"].tolist() == [True]


def test_pain_during_flags_are_one_per_patient_day_the_worst_row() -> None:
    sessions = sessions_of(
        [
            {"patient_id": "A", "performed_at": day(1, 9), "pain_during": 7, "exercise": "bridge"},
            {"patient_id": "A", "performed_at": day(1, 9), "pain_during": 9, "exercise": "knee_to_chest",
             "side": "left"},
            {"patient_id": "A", "performed_at": day(1, 18), "pain_during": 1, "exercise": "cat_cow"},
        ]
    )
    flags = safety_flags(sessions, pain_of([]), patients_of("A"), as_of=day(1))
    pde = flags[flags["kind"] == "pain_during_exercise"]
    assert len(pde) == 1
    r = pde.iloc[0]
    assert r["value"] == 9
    assert "Knee-to-chest stretch, left" in r["reason"] and "2 exercise rows flagged that day" in r["reason"]


# ----------------------------------------------------------------------------- load progression


def week_sessions(pid: str, doses: list[tuple[int, int, float]]) -> list[dict]:
    """One session row on the first day of each programme week: (sets, reps, hold_s) per week."""
    return [
        {"patient_id": pid, "performed_at": day(7 * w, 9), "sets": s, "reps": r, "hold_s": h}
        for w, (s, r, h) in enumerate(doses)
        if s
    ]


def test_acwr_exactly_one_and_a_half_is_not_flagged_and_one_point_six_is() -> None:
    # weeks 1-4: 1 x 10 x 10 s = 100 each -> chronic mean for week 5 = (100 x 4) / 4 = 100
    # A week 5: 1 x 15 x 10 = 150 -> 150 / 100 = 1.5, not > 1.5; B week 5: 1 x 16 x 10 = 160 -> 1.6 > 1.5
    base = [(1, 10, 10.0)] * 4
    sessions = sessions_of(week_sessions("A", [*base, (1, 15, 10.0)]) + week_sessions("B", [*base, (1, 16, 10.0)]))
    out = load_progression(sessions, patients_of("A", "B"))
    a5, b5 = row_of(out, patient_id="A", week=5), row_of(out, patient_id="B", week=5)
    assert a5["dose"] == 150 and a5["chronic_mean"] == 100 and a5["acwr"] == 1.5 and not bool(a5["flagged"])
    assert b5["acwr"] == pytest.approx(1.6) and bool(b5["flagged"])
    # week-on-week: 150 - 100 = 50, 50 / 100 = 50 %
    assert a5["change"] == 50 and a5["change_pct"] == 50
    # uncoupled: the coupled ratio would be 150 / ((3 x 100 + 150) / 4) = 1.333; ours uses only weeks 1-4
    assert out["descriptive_only"].all()
    flags = safety_flags(sessions, pain_of([]), patients_of("A", "B"), as_of=day(34))
    rli = flags[flags["kind"] == "rapid_load_increase"]
    assert rli["patient_id"].tolist() == ["B"] and rli["descriptive_only"].all()
    assert rli["date"].iloc[0] == START + pd.Timedelta(days=28) and rli["threshold"].iloc[0] == 1.5
    assert "Impellizzeri" in rli["reason"].iloc[0]


def test_weeks_before_enough_history_are_never_flagged() -> None:
    # week 1: 10, week 2: 1000 (x100), week 3: 1000, week 4: 5000: no ratio before week 5 (4 chronic weeks)
    sessions = sessions_of(week_sessions("A", [(1, 10, 0.0), (10, 100, 0.0), (10, 100, 0.0), (10, 100, 5.0)]))
    out = load_progression(sessions, patients_of("A"))
    assert out["week"].tolist() == [1, 2, 3, 4]
    assert out["dose"].tolist() == [10, 1000, 1000, 5000]
    assert out["acwr"].isna().all() and not out["flagged"].any()


def test_empty_weeks_count_as_zero_and_a_zero_chronic_mean_gives_no_ratio() -> None:
    # weeks 1-4 nothing, week 5: 1 x 10 (hold 0 counts as 1) = 10 -> chronic mean 0 -> no ratio
    # week 6: 20 -> chronic mean of weeks 2-5 = 10 / 4 = 2.5 -> 20 / 2.5 = 8 -> flagged
    sessions = sessions_of(week_sessions("A", [(0, 0, 0.0)] * 4 + [(1, 10, 0.0), (2, 10, 0.0)]))
    out = load_progression(sessions, patients_of("A"))
    assert out["dose"].tolist() == [0, 0, 0, 0, 10, 20]
    w5, w6 = row_of(out, week=5), row_of(out, week=6)
    assert w5["chronic_mean"] == 0 and np.isnan(w5["acwr"]) and not bool(w5["flagged"])
    assert np.isnan(w5["change_pct"])  # previous week's dose was 0
    assert w6["chronic_mean"] == 2.5 and w6["acwr"] == 8 and bool(w6["flagged"])


def test_sessions_before_the_programme_start_are_not_counted() -> None:
    sessions = sessions_of([{"patient_id": "A", "performed_at": day(-3, 9), "reps": 50},
                            {"patient_id": "A", "performed_at": day(0, 9)}])
    out = load_progression(sessions, patients_of("A"))
    assert out["week"].tolist() == [1] and out["dose"].tolist() == [10]


def reference_load(sessions: pd.DataFrame, patients: pd.DataFrame, k: int = 4, limit: float = 1.5) -> pd.DataFrame:
    rows = []
    for pid, start in zip(patients["patient_id"], patients["programme_start"], strict=True):
        weekly: dict[int, float] = {}
        for _, s in sessions[sessions["patient_id"] == pid].iterrows():
            d = (s["performed_at"].normalize() - start).days
            if d < 0:
                continue
            hold = s["hold_s"] if pd.notna(s["hold_s"]) and s["hold_s"] != 0 else 1.0
            weekly[d // 7 + 1] = weekly.get(d // 7 + 1, 0.0) + s["sets"] * s["reps"] * hold
        if not weekly:
            continue
        doses = [weekly.get(w, 0.0) for w in range(1, max(weekly) + 1)]
        for w in range(1, len(doses) + 1):
            chronic = sum(doses[w - 1 - k : w - 1]) / k if w > k else float("nan")
            acwr = doses[w - 1] / chronic if w > k and chronic > 0 else float("nan")
            rows.append((pid, w, doses[w - 1], chronic, acwr, bool(acwr > limit)))
    out = pd.DataFrame(rows, columns=["patient_id", "week", "dose", "chronic_mean", "acwr", "flagged"])
    return out.astype({"dose": float, "chronic_mean": float, "acwr": float})


session_rows = st.lists(
    st.tuples(
        st.sampled_from(["A", "B"]), st.integers(-3, 60), st.integers(0, 3), st.integers(1, 20),
        st.sampled_from([0.0, 5.0, 10.0, None]),
    ),
    max_size=40,
)


@given(session_rows, st.integers(1, 5))
def test_load_progression_matches_a_plain_loop(rows, k) -> None:
    sessions = sessions_of(
        [{"patient_id": p, "performed_at": day(d, 9), "sets": s, "reps": r, "hold_s": h, "exercise": f"e{i}"}
         for i, (p, d, s, r, h) in enumerate(rows)]
    )
    patients = patients_of("A", "B")
    got = load_progression(sessions, patients, settings=DEFAULT_SETTINGS.replace(acwr_chronic_weeks=k))
    want = reference_load(sessions, patients, k=k)
    assert got[["patient_id", "week"]].astype(object).values.tolist() == want[["patient_id", "week"]].values.tolist()
    np.testing.assert_allclose(got["dose"], want["dose"], rtol=1e-12)
    np.testing.assert_allclose(got["chronic_mean"], want["chronic_mean"], rtol=1e-12)
    np.testing.assert_allclose(got["acwr"], want["acwr"], rtol=1e-12)
    assert got["flagged"].tolist() == want["flagged"].tolist()


# ----------------------------------------------------------------------------- logging stopped


def test_logging_stopped_at_exactly_seven_days_but_not_six() -> None:
    # last entry 2026-10-01; as_of 10-08 -> 2..8 October = 7 days without an entry -> flagged
    pain = pain_of([("A", "2026-10-01 20:00", 3)])
    patients = patients_of("A", start="2026-09-28")
    seven = logging_stopped(sessions_of([]), pain, patients, as_of="2026-10-08")
    assert len(seven) == 1
    r = seven.iloc[0]
    assert r["days"] == 7 and bool(r["ongoing"]) and r["last_entry"] == pd.Timestamp("2026-10-01")
    assert r["gap_start"] == pd.Timestamp("2026-10-02") and r["gap_end"] == pd.Timestamp("2026-10-08")
    # as_of 10-07 -> 6 days -> not flagged
    assert logging_stopped(sessions_of([]), pain, patients, as_of="2026-10-07").empty
    flags = safety_flags(sessions_of([]), pain, patients, as_of="2026-10-08")
    ls = flags[flags["kind"] == "logging_stopped"].iloc[0]
    assert ls["value"] == 7 and ls["threshold"] == 7 and bool(ls["open"]) and "still ongoing" in ls["reason"]


def test_a_session_entry_counts_like_a_pain_entry() -> None:
    # pain on 10-01 and a session (even with 0 sets) on 10-02 -> as_of 10-08 is 6 days after -> not flagged
    pain = pain_of([("A", "2026-10-01 20:00", 3)])
    sessions = sessions_of([{"patient_id": "A", "performed_at": "2026-10-02 09:00", "sets": 0}])
    assert logging_stopped(sessions, pain, patients_of("A", start="2026-09-28"), as_of="2026-10-08").empty


def test_never_logged_patients_are_flagged_once_seven_programme_days_passed() -> None:
    # programme start 10-01 (day 0); as_of 10-07 is day 6: days 0-6 = 7 days without an entry -> flagged
    patients = patients_of("A", start="2026-10-01")
    out = logging_stopped(sessions_of([]), pain_of([]), patients, as_of="2026-10-07")
    assert len(out) == 1
    r = out.iloc[0]
    assert r["days"] == 7 and bool(r["no_entries"]) and pd.isna(r["last_entry"])
    assert r["gap_start"] == pd.Timestamp("2026-10-01")
    # as_of 10-06: 6 days -> not flagged; a programme starting after as_of is not judged
    assert logging_stopped(sessions_of([]), pain_of([]), patients, as_of="2026-10-06").empty
    assert logging_stopped(sessions_of([]), pain_of([]), patients, as_of="2026-09-20").empty


def test_past_gaps_are_reported_closed_and_entries_before_the_start_do_not_open_a_gap() -> None:
    # entries: 09-01 (before the 09-28 start: counts as 09-27), 10-01, 10-09, 10-10; as_of 10-12
    # gaps: 09-28..09-30 = 3 days (no flag); 10-02..10-08 = 7 days (flag, closed); 10-11..10-12 = 2 days
    pain = pain_of([("A", "2026-09-01 20:00", 3), ("A", "2026-10-01 20:00", 3), ("A", "2026-10-09 20:00", 3)])
    sessions = sessions_of([{"patient_id": "A", "performed_at": "2026-10-10 09:00"}])
    out = logging_stopped(sessions, pain, patients_of("A", start="2026-09-28"), as_of="2026-10-12")
    assert len(out) == 1
    r = out.iloc[0]
    assert r["days"] == 7 and not bool(r["ongoing"]) and not bool(r["no_entries"])
    assert r["gap_end"] == pd.Timestamp("2026-10-08")


def reference_gaps(sessions, pain, patients, as_of, limit=7) -> list[tuple]:
    as_of = pd.Timestamp(as_of).date()
    out = []
    for pid, start in zip(patients["patient_id"], patients["programme_start"], strict=True):
        start = start.date()
        if start > as_of:
            continue
        days = {t.date() for t in sessions.loc[sessions["patient_id"] == pid, "performed_at"]}
        days |= {t.date() for t in pain.loc[pain["patient_id"] == pid, "recorded_at"]}
        silent = 0
        d = start
        while d <= as_of:  # walk the calendar, counting silent days
            if d in days:
                if silent >= limit:
                    out.append((pid, d - dt.timedelta(days=silent), silent, False))
                silent = 0
            else:
                silent += 1
            d += dt.timedelta(days=1)
        if silent >= limit:
            out.append((pid, as_of - dt.timedelta(days=silent - 1), silent, True))
    return sorted(out)


@given(pain_rows, st.integers(0, 50))
def test_logging_gaps_match_a_calendar_walk(rows, as_of_day) -> None:
    pain = pain_of([(p, day(d, h), v) for p, d, h, v in rows])
    patients = patients_of("A", "B", "C", starts={"B": START + pd.Timedelta(days=10)})
    as_of = START + pd.Timedelta(days=as_of_day)
    got = logging_stopped(sessions_of([]), pain, patients, as_of=as_of)
    got_rows = sorted(
        (p, s.date(), int(n), bool(o))
        for p, s, n, o in zip(got["patient_id"], got["gap_start"], got["days"], got["ongoing"], strict=True)
    )
    assert got_rows == reference_gaps(sessions_of([]), pain, patients, as_of)


# ----------------------------------------------------------------------------- the flag table


def test_flag_table_columns_dtypes_order_and_open_window() -> None:
    # A: flare on day 7 (pain 5 x 7, then 8); as_of day 21 -> window of 14 days = days 8-21 -> day 7 closed
    #    flare on day 20 (pain 5 on days 13-19, then 9) -> open
    pain = pain_of(daily("A", {**{d: 5 for d in range(7)}, 7: 8, **{d: 5 for d in range(13, 20)}, 20: 9, 21: 5}))
    flags = safety_flags(sessions_of([]), pain, patients_of("A"), as_of=day(21))
    assert list(flags.columns) == FLAG_COLUMNS
    assert str(flags["patient_id"].dtype) == "string" and str(flags["kind"].dtype) == "string"
    assert flags["date"].dtype == "datetime64[ns]" and flags["open"].dtype == bool
    pf = flags[flags["kind"] == "pain_flare"]
    assert pf["date"].tolist() == [START + pd.Timedelta(days=7), START + pd.Timedelta(days=20)]
    assert pf["open"].tolist() == [False, True]
    # day 7: 8 - 5 = 3; day 20: window days 13-19 -> median 5, 9 - 5 = 4
    assert pf["value"].tolist() == [3, 4] and (pf["threshold"] == 2).all()
    assert pf["reason"].iloc[0] == (
        "Pain 8 on 2026-09-14 is 3 points above the 7-day median of 5 "
        "(7 days with ratings; flag at >= 2 points; Costa et al. 2021)"
    )
    # open window for as_of = day 21: days 21 - 14 + 1 = 8 to 21, so day 7 is closed and day 20 open
    assert not flags["descriptive_only"][flags["kind"] != "rapid_load_increase"].any()


def test_open_window_boundary() -> None:
    # one flare on day 7; as_of = day 20 -> the open window is days 7-20 -> open; as_of day 21 -> closed
    pain = pain_of(daily("A", {**{d: 5 for d in range(7)}, 7: 8}))
    f20 = safety_flags(sessions_of([]), pain, patients_of("A"), as_of=day(20))
    f21 = safety_flags(sessions_of([]), pain, patients_of("A"), as_of=day(21))
    assert f20.loc[f20["kind"] == "pain_flare", "open"].tolist() == [True]
    assert f21.loc[f21["kind"] == "pain_flare", "open"].tolist() == [False]


def test_entries_after_as_of_are_ignored() -> None:
    # the day-7 spike is after as_of = day 6: no flare as of day 6
    pain = pain_of(daily("A", {**{d: 5 for d in range(7)}, 7: 9}))
    flags = safety_flags(sessions_of([]), pain, patients_of("A"), as_of=day(6))
    assert "pain_flare" not in set(flags["kind"])
    # as_of = None resolves to the last entry (day 7): the flare is there
    assert "pain_flare" in set(safety_flags(sessions_of([]), pain, patients_of("A"))["kind"])


def test_sorted_by_patient_then_date_then_kind() -> None:
    pain = pain_of(
        [("B", day(d), 5, d == 7) for d in range(7)] + [("B", day(7), 9, True)]
        + [("A", day(d), 5) for d in range(3)]
    )
    flags = safety_flags(sessions_of([]), pain, patients_of("B", "A"), as_of=day(30))
    assert flags["patient_id"].tolist() == sorted(flags["patient_id"].tolist())
    b7 = flags[(flags["patient_id"] == "B") & (flags["date"] == START + pd.Timedelta(days=7))]
    assert b7["kind"].tolist() == ["pain_flare", "self_reported_flare"]
    for _, g in flags.groupby("patient_id"):
        assert g["date"].is_monotonic_increasing


def test_empty_inputs_give_an_empty_table_with_the_columns() -> None:
    flags = safety_flags(empty_frame("sessions"), empty_frame("pain"), empty_frame("patients"), as_of="2026-10-01")
    assert flags.empty and list(flags.columns) == FLAG_COLUMNS
    counts = flag_counts(flags)
    assert counts.empty and "n_pain_flare" in counts.columns
    for frame in (
        pain_flares(empty_frame("pain"), patients_of("A")),
        self_reported_flares(empty_frame("pain"), patients_of("A")),
        pain_during_exercise(empty_frame("sessions"), empty_frame("pain"), patients_of("A")),
        load_progression(empty_frame("sessions"), patients_of("A")),
    ):
        assert frame.empty


def test_unknown_patients_are_ignored_and_a_duplicate_registry_is_an_error() -> None:
    pain = pain_of(daily("Z", {**{d: 5 for d in range(7)}, 7: 9}))
    assert pain_flares(pain, patients_of("A")).empty
    dup = pd.concat([patients_of("A"), patients_of("A")], ignore_index=True)
    with pytest.raises(IngestError, match="more than once"):
        safety_flags(sessions_of([]), pain, dup, as_of=day(7))


def test_bad_windows_are_settings_errors() -> None:
    with pytest.raises(SettingsError):
        pain_flares(pain_of([]), patients_of("A"), min_baseline_days=0)
    with pytest.raises(SettingsError):
        safety_flags(sessions_of([]), pain_of([]), patients_of("A"), as_of=day(1), open_days=0)


def test_flag_counts_per_patient_and_kind() -> None:
    flags = pd.DataFrame(
        {
            "patient_id": pd.array(["A", "A", "A", "B"], dtype="string"),
            "kind": pd.array(["pain_flare", "pain_flare", "logging_stopped", "pain_flare"], dtype="string"),
            "open": [True, False, True, False],
        }
    )
    counts = flag_counts(flags, patients_of("A", "B", "C"))
    assert counts["patient_id"].tolist() == ["A", "B", "C"]
    assert counts["n_pain_flare"].tolist() == [2, 1, 0]
    assert counts["open_pain_flare"].tolist() == [1, 0, 0]
    assert counts["n_logging_stopped"].tolist() == [1, 0, 0]
    assert counts["n_total"].tolist() == [3, 1, 0] and counts["open_total"].tolist() == [2, 0, 0]
    assert [c for c in counts.columns if c.startswith("n_") and c != "n_total"] == [f"n_{k}" for k in FLAG_KINDS]


# ----------------------------------------------------------------------------- properties


cohort_rows = st.tuples(
    st.lists(
        st.tuples(st.sampled_from(["A", "B"]), st.integers(-2, 45), st.integers(0, 23), st.integers(0, 10),
                  st.booleans()),
        max_size=60,
        unique_by=lambda r: (r[0], r[1], r[2]),
    ),
    st.lists(
        st.tuples(st.sampled_from(["A", "B"]), st.integers(0, 45), st.integers(0, 23),
                  st.sampled_from(["bridge", "cat_cow", "knee_to_chest"]), st.integers(0, 3), st.integers(1, 15),
                  st.one_of(st.none(), st.integers(0, 10))),
        max_size=40,
        unique_by=lambda r: (r[0], r[1], r[2], r[3]),
    ),
)


def build(rows, shift: int = 0, prefix: str = "") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    pain_rows_, session_rows_ = rows
    off = pd.Timedelta(days=shift)
    pain = pain_of([(prefix + p, day(d, h) + off, v, f) for p, d, h, v, f in pain_rows_])
    sessions = sessions_of(
        [{"patient_id": prefix + p, "performed_at": day(d, h) + off, "exercise": e, "sets": s, "reps": r,
          "hold_s": 5.0, "pain_during": pd_} for p, d, h, e, s, r, pd_ in session_rows_]
    )
    patients = patients_of(prefix + "A", prefix + "B", starts={prefix + "B": START + pd.Timedelta(days=3) + off},
                           start=START + off)
    return sessions, pain, patients


AS_OF_DAY = 40


@given(cohort_rows, st.integers(-400, 400))
def test_shifting_all_dates_shifts_the_flags(rows, shift) -> None:
    s0, p0, pt0 = build(rows)
    s1, p1, pt1 = build(rows, shift=shift)
    f0 = safety_flags(s0, p0, pt0, as_of=START + pd.Timedelta(days=AS_OF_DAY))
    f1 = safety_flags(s1, p1, pt1, as_of=START + pd.Timedelta(days=AS_OF_DAY + shift))
    assert len(f0) == len(f1)
    assert ((f1["date"] - f0["date"]) == pd.Timedelta(days=shift)).all()
    cols = ["patient_id", "kind", "value", "threshold", "descriptive_only", "open"]
    pd.testing.assert_frame_equal(f0[cols], f1[cols])


@given(cohort_rows, cohort_rows)
def test_other_patients_do_not_change_a_patients_flags(rows, other_rows) -> None:
    s0, p0, pt0 = build(rows)
    s1, p1, pt1 = build(other_rows, prefix="X")
    as_of = START + pd.Timedelta(days=AS_OF_DAY)
    alone = safety_flags(s0, p0, pt0, as_of=as_of)
    together = safety_flags(
        pd.concat([s1, s0], ignore_index=True), pd.concat([p0, p1], ignore_index=True),
        pd.concat([pt1, pt0], ignore_index=True), as_of=as_of,
    )
    mine = together[together["patient_id"].isin(["A", "B"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, mine)


@given(cohort_rows, st.randoms(use_true_random=False))
def test_row_order_is_irrelevant(rows, rnd) -> None:
    s0, p0, pt0 = build(rows)
    as_of = START + pd.Timedelta(days=AS_OF_DAY)
    seed = rnd.randint(0, 2**31)
    shuffled = [f.sample(frac=1, random_state=seed + i) for i, f in enumerate((s0, p0, pt0))]
    pd.testing.assert_frame_equal(safety_flags(s0, p0, pt0, as_of=as_of), safety_flags(*shuffled, as_of=as_of))


# ----------------------------------------------------------------------------- the plan in the load ratio (issue 15)


def plan_of(pid: str = "A", end: str | None = None, changes: tuple[tuple[int, int], ...] = ()) -> pd.DataFrame:
    """Knee-to-chest, both sides, 1 x 10 with a 10 s hold, 5 sessions a week: 100 per session, 500 a week.

    ``changes``: (programme day, sets) of later periods (a dose change from that day on).
    """
    periods = [(0, 1), *changes]
    rows = [{"patient_id": pid, "exercise": "knee_to_chest", "side": "both", "sets": sets, "reps": 10,
             "hold_s": 10.0, "sessions_per_week": 5, "start_date": START + pd.Timedelta(days=d),
             "end_date": pd.Timestamp(end) if end and i == len(periods) - 1 else pd.NaT}
            for i, (d, sets) in enumerate(periods)]
    return conform(pd.DataFrame(rows), "prescriptions")


def test_a_comeback_below_the_plan_after_empty_weeks_is_not_a_load_jump() -> None:
    # done: weeks 1-2 one session of 1 x 2 x 10 s = 20, weeks 3-4 nothing -> chronic mean 40 / 4 = 10.
    # Week 5: one session of 1 x 10 x 10 s = 100, a fifth of the week's plan of 500. Uncapped: 100 / 10 = 10.
    # With the plan: the chronic load is floored at the plan of weeks 1-4, 500 -> 100 / 500 = 0.2, and 100 <= 500.
    sessions = sessions_of(week_sessions("A", [(1, 2, 10.0), (1, 2, 10.0), (0, 0, 0.0), (0, 0, 0.0),
                                                (1, 10, 10.0)]))
    plain = row_of(load_progression(sessions, patients_of("A")), week=5)
    assert plain["acwr"] == 10 and bool(plain["flagged"])
    w5 = row_of(load_progression(sessions, patients_of("A"), prescriptions=plan_of()), week=5)
    assert w5["planned_dose"] == pytest.approx(500) and w5["chronic_planned"] == pytest.approx(500)
    assert w5["chronic_mean"] == 10 and w5["acwr"] == pytest.approx(0.2) and not bool(w5["flagged"])


def test_doing_the_plan_is_never_a_jump_but_twice_the_plan_after_a_lapse_is() -> None:
    lapse = [(1, 2, 10.0), (1, 2, 10.0), (0, 0, 0.0), (0, 0, 0.0)]
    at_plan = [{**r, "performed_at": r["performed_at"] + pd.Timedelta(days=k)}  # five sessions of 100 in week 5
               for r in week_sessions("A", [*lapse, (1, 10, 10.0)]) if r["performed_at"] >= day(28, 0)
               for k in range(5)]
    sessions = sessions_of([r for r in week_sessions("A", lapse)] + at_plan)
    w5 = row_of(load_progression(sessions, patients_of("A"), prescriptions=plan_of()), week=5)
    assert w5["dose"] == 500 and w5["acwr"] == pytest.approx(1.0) and not bool(w5["flagged"])
    # week 5 at 1000 (five sessions of 2 x 10 x 10 s): 1000 / max(10, 500) = 2 > 1.5, and above the plan of 500
    double = [{**r, "sets": 2} for r in at_plan]
    sessions = sessions_of([r for r in week_sessions("A", lapse)] + double)
    w5 = row_of(load_progression(sessions, patients_of("A"), prescriptions=plan_of()), week=5)
    assert w5["dose"] == 1000 and w5["acwr"] == pytest.approx(2.0) and bool(w5["flagged"])
    flags = safety_flags(sessions, pain_of([]), patients_of("A"), as_of=day(34), prescriptions=plan_of())
    reason = flags.loc[flags["kind"] == "rapid_load_increase", "reason"].iloc[0]
    assert "is 2 times the chronic load (1000 vs a mean of 10 repetition-seconds" in reason
    assert "this week's plan: 500, the previous weeks' plan of 500 used as the floor" in reason


def test_a_prescribed_progression_done_as_planned_is_not_flagged() -> None:
    # 500 a week done in weeks 1-4; the physio doubles the dose from week 5 (2 sets): 1000 done = the plan.
    # 1000 / max(500, 500) = 2 > 1.5, but the dose is not above the week's plan -> not flagged
    five = [(1, 10, 10.0)] * 4 + [(2, 10, 10.0)]
    sessions = sessions_of([{**r, "performed_at": r["performed_at"] + pd.Timedelta(days=k)}
                            for r in week_sessions("A", five) for k in range(5)])
    w5 = row_of(load_progression(sessions, patients_of("A"), prescriptions=plan_of(changes=((28, 2),))), week=5)
    assert w5["planned_dose"] == pytest.approx(1000) and w5["acwr"] == pytest.approx(2.0)
    assert not bool(w5["flagged"])


def test_logging_stopped_closes_when_the_programme_ends() -> None:
    # a 4-week programme (days 0-27, ended 2026-10-04); last entry day 10; as_of day 60.
    # Without the plan: one gap from day 11 to day 60, ongoing. With it: the gap runs to the programme's last day
    # (27): 17 days, closed, not open, and the reason says the programme ended.
    pain = pain_of(daily("A", {d: 4 for d in range(11)}))
    plain = logging_stopped(sessions_of([]), pain, patients_of("A"), as_of=day(60, 0))
    assert plain[["days", "ongoing"]].values.tolist() == [[50, True]]
    rx = plan_of(end=str((START + pd.Timedelta(days=27)).date()))
    gaps = logging_stopped(sessions_of([]), pain, patients_of("A"), as_of=day(60, 0), prescriptions=rx)
    g = gaps.iloc[0]
    assert (g["days"], bool(g["ongoing"]), bool(g["programme_ended"])) == (17, False, True)
    assert g["gap_end"] == START + pd.Timedelta(days=27)
    flags = safety_flags(sessions_of([]), pain, patients_of("A"), as_of=day(60, 0), prescriptions=rx)
    stopped = flags[flags["kind"] == "logging_stopped"].iloc[0]
    assert not bool(stopped["open"])
    assert stopped["reason"].endswith("for 17 days, until the programme ended on 2026-10-04 "
                                      "(flag at >= 7 days without an entry)")
    # silence that begins after the programme's end is no gap at all
    pain = pain_of(daily("A", {d: 4 for d in range(27)}))
    assert logging_stopped(sessions_of([]), pain, patients_of("A"), as_of=day(60, 0), prescriptions=rx).empty


_PLANTED_FLARES = ([("A", d, 8, v, False) for d, v in enumerate([3, 3, 3, 3, 3, 8, 3, 3, 3, 3, 9, 9, 9, 9, 9, 9, 9])],
                   [])


@example(_PLANTED_FLARES, 30)
@example(_PLANTED_FLARES, 12)
@given(cohort_rows, st.integers(0, 50))
def test_one_flare_pass_gives_the_flags_and_the_transient_flare_ratings(rows, as_of_day) -> None:
    """issue 19: the cohort summary's single pass equals the two public functions called separately."""
    from analysis.flags import flare_ratings, safety_flags_and_flare_ratings

    sessions, pain, patients = build(rows)
    as_of = START + pd.Timedelta(days=as_of_day)
    flags, transient = safety_flags_and_flare_ratings(sessions, pain, patients, as_of=as_of)
    pd.testing.assert_frame_equal(flags, safety_flags(sessions, pain, patients, as_of=as_of))
    upto = (pain["recorded_at"] < as_of + pd.Timedelta(days=1)).to_numpy(dtype=bool)
    np.testing.assert_array_equal(transient[upto],
                                  flare_ratings(pain.loc[upto], patients, transient=True))
    assert not transient[~upto].any()
    if rows is _PLANTED_FLARES:  # the 8 came back (transient); the first 9 of the lasting rise did not
        assert transient[5] and flare_ratings(pain, patients)[10] and not transient[10]
