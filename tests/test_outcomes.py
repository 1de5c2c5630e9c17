"""Tests of analysis.outcomes against hand-computed values and published worked examples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from analysis.errors import NotEnoughDataError, SettingsError
from analysis.outcomes import (
    diary_windows,
    kaplan_meier,
    logrank,
    pain_change,
    prom_change,
    reliable_change,
    time_to_events,
)
from analysis.scoring import score_proms
from analysis.settings import DEFAULT_SETTINGS

START = pd.Timestamp("2026-09-07")


def make_pain(diaries: dict[str, list], start: pd.Timestamp = START) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Patients and a pain table from {patient: [rating of day 0, day 1, ...]}.

    ``None`` = no rating that day; a list inside the list = several ratings that day.
    """
    rows = []
    for pid, days in diaries.items():
        for d, v in enumerate(days):
            values = v if isinstance(v, list) else [v]
            for k, x in enumerate(values):
                if x is not None:
                    rows.append((pid, start + pd.Timedelta(days=d, hours=8 + 4 * k), x))
    pain = pd.DataFrame(rows, columns=["patient_id", "recorded_at", "nprs"])
    pain["patient_id"] = pain["patient_id"].astype("string")
    pain["nprs"] = pain["nprs"].astype("Int64")
    pain["recorded_at"] = pain["recorded_at"].astype("datetime64[ns]")
    patients = pd.DataFrame(
        {
            "patient_id": pd.Series(list(diaries), dtype="string"),
            "physio_id": pd.Series(["physio_a"] * len(diaries), dtype="string"),
            "programme_start": pd.Series([start] * len(diaries), dtype="datetime64[ns]"),
        }
    )
    return pain, patients


def row(frame: pd.DataFrame, pid: str) -> pd.Series:
    return frame.set_index("patient_id").loc[pid]


# =========================================================================== reliable change


def test_rci_worked_example_of_the_clinical_reference() -> None:
    # docs/clinical-reference.md section 2 (Jacobson & Truax 1991): SD = 2.0, r = 0.85
    # SEM = 2.0 x sqrt(1 - 0.85) = 2.0 x 0.387298 = 0.774597
    # S_diff = sqrt(2) x 0.774597 = 1.095445; threshold = 1.96 x 1.095445 = 2.147 points
    # 7 -> 4: RCI = -3 / 1.095445 = -2.7386 (reliable improvement)
    # 6 -> 4: RCI = -2 / 1.095445 = -1.8257 (not reliable)
    r = reliable_change([7, 6], [4, 4], sd_baseline=2.0, reliability=0.85)
    assert r["sem"].iloc[0] == pytest.approx(0.7746, abs=1e-4)
    assert r["s_diff"].iloc[0] == pytest.approx(1.0954, abs=1e-4)
    assert r["threshold"].iloc[0] == pytest.approx(2.147, abs=1e-3)
    assert r["rci"].tolist() == pytest.approx([-2.7386, -1.8257], abs=1e-4)
    assert r["category"].tolist() == ["reliable improvement", "no reliable change"]
    assert "sqrt(1 - r)" in r["method"].iloc[0]


def test_rci_six_to_four_meets_mcid_but_is_not_reliable() -> None:
    # baseline week all 6, current week all 4: improvement 2 = the 2-point MCID, RCI -1.83 with SD 2, r 0.85
    pain, patients = make_pain({"A": [6] * 7 + [4] * 7})
    out = row(pain_change(pain, patients, sd_baseline=2.0, reliability=0.85), "A")
    assert out["mcid_abs_met"] is True or bool(out["mcid_abs_met"])
    assert out["rci"] == pytest.approx(-1.8257, abs=1e-4)
    assert out["rci_category"] == "no reliable change"


def test_rci_from_mdc_when_no_sd_given() -> None:
    # NPRS MDC 1.8 -> SEM = 1.8 / (1.96 x sqrt 2) = 1.8 / 2.771859 = 0.649384; S_diff = 0.918367
    # 7 -> 4: RCI = -3 / 0.918367 = -3.2667; the threshold in points equals the MDC (1.8)
    r = reliable_change(7, 4, instrument="nprs")
    assert r["sem"].iloc[0] == pytest.approx(0.649384, abs=1e-6)
    assert r["rci"].iloc[0] == pytest.approx(-3.2667, abs=1e-4)
    assert r["threshold"].iloc[0] == pytest.approx(1.8)
    assert "MDC" in r["method"].iloc[0]


def test_rci_direction_from_instrument_psfs() -> None:
    # PSFS MDC 2 -> S_diff = 2 / 1.96 = 1.020408; 4 -> 7: RCI = 3 / 1.020408 = +2.94, better (higher = better)
    r = reliable_change([4, 7, 5], [7, 4, 5.5], instrument="psfs")
    assert r["rci"].tolist() == pytest.approx([2.94, -2.94, 0.49], abs=1e-9)
    assert r["category"].tolist() == ["reliable improvement", "reliable deterioration", "no reliable change"]
    # the same rise in pain (lower is better) is a deterioration
    assert reliable_change(4, 7, instrument="nprs")["category"].iloc[0] == "reliable deterioration"


def test_rci_not_available_without_mdc_or_sd() -> None:
    r = reliable_change(40, 20, instrument="odi")
    assert r["category"].iloc[0] == "not available"
    assert math.isnan(r["rci"].iloc[0])
    assert "no MDC" in r["method"].iloc[0]
    # with an SD and r it is: SEM = 15 x sqrt(0.1) = 4.743416, S_diff = 6.708204, RCI = -20 / 6.708204 = -2.981
    r = reliable_change(40, 20, instrument="odi", sd_baseline=15.0, reliability=0.9)
    assert r["rci"].iloc[0] == pytest.approx(-2.98142, abs=1e-5)


def test_rci_input_errors_are_typed() -> None:
    with pytest.raises(SettingsError):
        reliable_change(7, 4, sd_baseline=2.0)
    with pytest.raises(SettingsError):
        reliable_change(7, 4, sd_baseline=2.0, reliability=1.0)
    with pytest.raises(SettingsError):
        reliable_change(7, 4, sem=-1.0)


@given(
    st.lists(st.tuples(st.floats(0, 10), st.floats(0, 10)), min_size=1, max_size=20),
    st.floats(0.1, 5.0),
)
def test_rci_vectorised_equals_closed_form(pairs: list[tuple[float, float]], sem: float) -> None:
    x1 = np.array([p[0] for p in pairs])
    x2 = np.array([p[1] for p in pairs])
    r = reliable_change(x1, x2, sem=sem)
    expected = (x2 - x1) / (math.sqrt(2) * sem)
    np.testing.assert_allclose(r["rci"].to_numpy(), expected, rtol=1e-12, atol=1e-12)
    reliable = np.abs(expected) > 1.96
    assert ((r["category"] != "no reliable change").to_numpy() == reliable).all()


# =========================================================================== diary windows


def test_diary_window_with_four_ratings_is_not_valid() -> None:
    pain, patients = make_pain(
        {
            "four": [5, 5, None, 5, None, None, 5] + [4] * 7,
            "five": [5, 5, None, 5, None, 6, 5] + [4] * 7,
        }
    )
    w = diary_windows(pain, patients)
    four, five = row(w, "four"), row(w, "five")
    assert math.isnan(four["baseline"]) and four["baseline_n"] == 4
    assert four["baseline_status"] == "not enough data: 4 of the first 7 days have a pain rating (at least 5 needed)"
    # (5 + 5 + 5 + 6 + 5) / 5 = 26 / 5 = 5.2
    assert five["baseline"] == pytest.approx(5.2) and five["baseline_status"] == "ok"
    assert five["current"] == pytest.approx(4.0) and five["current_n"] == 7


def test_diary_window_daily_mean_and_day_count() -> None:
    # day 0 has two ratings (4 and 6 -> daily mean 5); days 1-4 = 5: baseline 5 over 5 days
    pain, patients = make_pain({"A": [[4, 6], 5, 5, 5, 5] + [None, None] + [3] * 7})
    w = row(diary_windows(pain, patients), "A")
    assert w["baseline"] == pytest.approx(5.0)
    assert w["baseline_n"] == 5


def test_current_window_never_reuses_baseline_days() -> None:
    # last rating on day 9: current window = days 7-9 (3 days) -> not valid
    pain, patients = make_pain({"A": [6] * 10})
    w = row(diary_windows(pain, patients), "A")
    assert (w["current_first_day"], w["current_last_day"], w["current_n"]) == (7, 9, 3)
    assert math.isnan(w["current"]) and w["current_status"].startswith("not enough data: 3 of programme days 7-9")


def test_as_of_ends_the_current_window_and_ignores_later_data() -> None:
    # days 0-13 = 6, days 14-20 = 2. As of day 13 (2026-09-20): current = days 7-13 = 6
    pain, patients = make_pain({"A": [6] * 14 + [2] * 7})
    w = row(diary_windows(pain, patients, as_of="2026-09-20"), "A")
    assert (w["current"], w["current_last_day"], w["last_day"]) == (6.0, 13, 13)
    # as of day 30: window days 24-30 has no ratings -> not valid (no carrying old data forward)
    w = row(diary_windows(pain, patients, as_of=START + pd.Timedelta(days=30)), "A")
    assert math.isnan(w["current"]) and w["current_n"] == 0
    # no as_of: the window ends on the last rating (day 20): days 14-20 = 2
    assert row(diary_windows(pain, patients), "A")["current"] == 2.0


def test_ratings_before_start_and_unknown_patients_are_ignored() -> None:
    pain, patients = make_pain({"A": [5] * 14})
    extra = pd.DataFrame(
        {
            "patient_id": pd.Series(["A", "ghost"], dtype="string"),
            "recorded_at": [START - pd.Timedelta(days=1), START],
            "nprs": pd.array([10, 10], dtype="Int64"),
        }
    )
    w = row(diary_windows(pd.concat([pain, extra], ignore_index=True), patients), "A")
    assert w["baseline"] == 5.0 and w["baseline_n"] == 7


def _reference_windows(pain: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Independent pandas reference: daily means, then window means (loop per patient is fine here)."""
    start = patients.set_index("patient_id")["programme_start"]
    p = pain.assign(day=(pain["recorded_at"].dt.normalize() - pain["patient_id"].map(start)).dt.days)
    p = p[p["day"] >= 0]
    daily = p.groupby(["patient_id", "day"])["nprs"].mean().astype(float)
    rows = []
    for pid in patients["patient_id"]:
        d = daily.loc[pid] if pid in daily.index.get_level_values(0) else pd.Series(dtype=float)
        base = d[d.index <= 6]
        b = base.mean() if len(base) >= 5 else math.nan
        if len(d):
            last = d.index.max()
            cur = d[(d.index >= max(last - 6, 7)) & (d.index <= last)]
            c = cur.mean() if len(cur) >= 5 and last >= 7 else math.nan
        else:
            c = math.nan
        rows.append((pid, b, c))
    return pd.DataFrame(rows, columns=["patient_id", "baseline", "current"])


diary_strategy = st.dictionaries(
    keys=st.sampled_from(["A", "B", "C", "D"]),
    values=st.lists(st.one_of(st.none(), st.integers(0, 10)), min_size=0, max_size=30),
    min_size=1,
)


@given(diary_strategy)
def test_windows_match_pandas_reference(diaries: dict[str, list]) -> None:
    pain, patients = make_pain(diaries)
    got = diary_windows(pain, patients)
    ref = _reference_windows(pain, patients)
    np.testing.assert_allclose(got["baseline"].to_numpy(), ref["baseline"].to_numpy(), atol=1e-9)
    np.testing.assert_allclose(got["current"].to_numpy(), ref["current"].to_numpy(), atol=1e-9)


# =========================================================================== meaningful change


def test_mcid_absolute_rule_alone() -> None:
    # 9 -> 7: improvement 2 points (>= 2: yes); 2 / 9 = 22.2 % (< 30 %: no)
    pain, patients = make_pain({"A": [9] * 7 + [7] * 7})
    r = row(pain_change(pain, patients), "A")
    assert r["improvement"] == pytest.approx(2.0) and r["pct_improvement"] == pytest.approx(200 / 9)
    assert (r["mcid_abs_met"], r["mcid_pct_met"], r["mcid_met"], r["mcid_rule"]) == (True, False, True, "absolute")
    assert r["immpact_tier"] == "none"
    assert (r["mcid_abs_threshold"], r["mcid_pct_threshold"]) == (2.0, 30.0)


def test_mcid_percent_rule_alone() -> None:
    # baseline 4 (7 days); current days 7-13 = 3, 3, -, 3, -, 3, 2: (3 + 3 + 3 + 3 + 2) / 5 = 14 / 5 = 2.8
    # improvement 1.2 points (< 2: no); 1.2 / 4 = 30 % (>= 30 %: yes)
    pain, patients = make_pain({"A": [4] * 7 + [3, 3, None, 3, None, 3, 2]})
    r = row(pain_change(pain, patients), "A")
    assert r["current"] == pytest.approx(2.8) and r["current_n"] == 5
    assert r["improvement"] == pytest.approx(1.2)
    assert (r["mcid_abs_met"], r["mcid_pct_met"], r["mcid_rule"]) == (False, True, "%")
    assert r["immpact_tier"] == "moderate"
    assert r["label"] == "Your pain has fallen by 1.2 points (30 %) since you started: a change that matters."


def test_immpact_substantial_and_settings_override() -> None:
    # 8 -> 4: 50 % -> substantial; with mcid_percent 0.6, the % rule fails but 4 points meets the absolute rule
    pain, patients = make_pain({"A": [8] * 7 + [4] * 7})
    r = row(pain_change(pain, patients), "A")
    assert r["immpact_tier"] == "substantial" and r["mcid_rule"] == "both"
    r = row(pain_change(pain, patients, settings=DEFAULT_SETTINGS.replace(mcid_percent=0.6)), "A")
    assert r["mcid_pct_threshold"] == 60.0 and r["mcid_rule"] == "absolute"


def test_labels_cover_each_case() -> None:
    pain, patients = make_pain(
        {
            "better": [7] * 7 + [4] * 7,  # 3 points, 43 %: meaningful
            "small": [7] * 7 + [6] * 7,  # 1 point, 14 %: not meaningful
            "same": [5] * 14,
            "worse": [3] * 7 + [5] * 7,
            "sparse": [5, None, None, 5, None, None, 5] + [4] * 7,
            "early": [5] * 9,
        }
    )
    out = pain_change(pain, patients).set_index("patient_id")
    assert out.loc["better", "label"] == "Your pain has fallen by 3 points since you started: a change that matters."
    assert out.loc["small", "label"] == (
        "Your pain has fallen by 1 point since you started: an improvement, but smaller than the change that "
        "usually matters."
    )
    assert out.loc["same", "label"] == "Your pain is about the same as when you started."
    assert out.loc["worse", "label"] == "Your pain has risen by 2 points since you started: a change for the worse."
    assert out.loc["sparse", "label"].startswith("We cannot measure a change in your pain")
    assert "3 days" in out.loc["sparse", "label"]
    assert out.loc["early", "label"].startswith("We cannot measure a change in your pain yet")
    assert out.loc["sparse", "status"].startswith("not enough data")
    assert pd.isna(out.loc["sparse", "mcid_met"]) and math.isnan(out.loc["sparse", "change"])
    assert (out.loc[["better", "small", "same", "worse"], "status"] == "ok").all()


def test_change_columns_by_hand() -> None:
    # 7 -> 4: change -3, pct_change -42.857 %, improvement +3
    pain, patients = make_pain({"A": [7] * 7 + [4] * 7})
    r = row(pain_change(pain, patients), "A")
    assert (r["baseline"], r["current"], r["change"], r["improvement"]) == (7.0, 4.0, -3.0, 3.0)
    assert r["pct_change"] == pytest.approx(-300 / 7)


# =========================================================================== PACE recovery


def test_pace_rule_by_hand() -> None:
    pain, patients = make_pain(
        {
            # days 1-6 are <= 1 (6 days), broken by 2 on day 7; days 8-14 are 7 days <= 1 -> recovered,
            # run starts day 8 and is complete on day 14
            "yes": [3, 1, 1, 1, 0, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 5],
            # same, but day 11 has no rating: the run 8-10 / 12-14 is broken -> not recovered
            "gap": [3, 1, 1, 1, 0, 1, 1, 2, 1, 1, 1, None, 1, 1, 1, 5],
            # day 11 has two ratings, 1 and 2: not every rating is <= 1 -> not recovered
            "two": [3, 1, 1, 1, 0, 1, 1, 2, 1, 1, 1, [1, 2], 1, 1, 1, 5],
        }
    )
    pc = pain_change(pain, patients).set_index("patient_id")
    assert pc["recovered"].tolist() == [True, False, False]
    te = time_to_events(pain, patients).set_index("patient_id")
    assert te.loc["yes", "time_to_recovery_days"] == 8
    assert te.loc["yes", "recovery_confirmed_day"] == 14
    assert bool(te.loc["yes", "recovery_event"]) is True
    # not recovered: censored at the last day with a rating (day 15)
    assert te.loc["gap", "time_to_recovery_days"] == 15 and bool(te.loc["gap", "recovery_event"]) is False


# =========================================================================== time to MCID


def test_time_to_mcid_by_hand() -> None:
    # baseline days 0-6 = 7. Days 7-13 = 6, days 14-20 = 4.
    # trailing window of day d = days max(d-6, 7)..d:
    #   d=11: days 7-11 -> 6.0, improvement 1 (14 %): no
    #   d=14: 6 x 6 + 4 = 40 / 7 = 5.714, impr 1.29: no
    #   d=15: 30 + 8 = 38 / 7 = 5.429, impr 1.57: no
    #   d=16: 24 + 12 = 36 / 7 = 5.143, impr 1.86 (26.5 %): no
    #   d=17: 18 + 16 = 34 / 7 = 4.857, impr 2.14 >= 2: event on day 17
    pain, patients = make_pain(
        {
            "A": [7] * 7 + [6] * 7 + [4] * 7,
            "never": [7] * 7 + [6] * 10,  # never improves 2 points or 30 %: censored at day 16
            "nobase": [7, None, None, 7, None, None, 7] + [2] * 10,  # 3 baseline days: excluded
            "empty": [],
        }
    )
    te = time_to_events(pain, patients).set_index("patient_id")
    assert te.loc["A", "time_to_mcid_days"] == 17 and bool(te.loc["A", "mcid_event"]) is True
    assert te.loc["never", "time_to_mcid_days"] == 16 and bool(te.loc["never", "mcid_event"]) is False
    assert math.isnan(te.loc["nobase", "time_to_mcid_days"]) and pd.isna(te.loc["nobase", "mcid_event"])
    assert te.loc["nobase", "mcid_reason"].startswith("excluded: no valid baseline (3 of the first 7 days")
    assert te.loc["A", "mcid_reason"] == ""
    assert pd.isna(te.loc["empty", "recovery_event"]) and te.loc["empty", "recovery_reason"].startswith("excluded")


def test_time_to_mcid_percent_rule() -> None:
    # baseline 3; from day 7 pain is 2: improvement 1 point (< 2) but 33 % (>= 30 %).
    # First day with >= 5 rated days in its window: day 11 (days 7-11).
    pain, patients = make_pain({"A": [3] * 7 + [2] * 8})
    te = row(time_to_events(pain, patients), "A")
    assert te["time_to_mcid_days"] == 11 and bool(te["mcid_event"])


def _reference_recovery(days: list) -> tuple[float, bool]:
    """Plain loop reference for the PACE rule on one diary (first day of the first 7-day run)."""
    run = 0
    last = -1
    for d, v in enumerate(days):
        values = v if isinstance(v, list) else [v]
        rated = any(x is not None for x in values)
        if rated:
            last = d
        low = rated and all(x is None or x <= 1 for x in values)
        run = run + 1 if low else 0
        if run == 7:
            return float(d - 6), True
    return float(last), False


@given(
    st.dictionaries(
        keys=st.sampled_from(["A", "B", "C"]),
        values=st.lists(st.one_of(st.none(), st.integers(0, 2)), min_size=1, max_size=40),
        min_size=1,
    )
)
def test_recovery_matches_loop_reference(diaries: dict[str, list]) -> None:
    pain, patients = make_pain(diaries)
    te = time_to_events(pain, patients).set_index("patient_id")
    for pid, days in diaries.items():
        if all(v is None for v in days):
            assert pd.isna(te.loc[pid, "recovery_event"])
            continue
        t, event = _reference_recovery(days)
        assert te.loc[pid, "time_to_recovery_days"] == t
        assert bool(te.loc[pid, "recovery_event"]) is event


# =========================================================================== date shift invariance


@given(diary_strategy, st.integers(-4000, 4000))
def test_shifting_dates_changes_nothing(diaries: dict[str, list], shift_days: int) -> None:
    pain, patients = make_pain(diaries)
    shifted_pain, shifted_patients = make_pain(diaries, start=START + pd.Timedelta(days=shift_days))
    for func in (pain_change, time_to_events, diary_windows):
        a = func(pain, patients)
        b = func(shifted_pain, shifted_patients)
        pd.testing.assert_frame_equal(a, b)
    a = pain_change(pain, patients, as_of=START + pd.Timedelta(days=20))
    b = pain_change(shifted_pain, shifted_patients, as_of=START + pd.Timedelta(days=20 + shift_days))
    pd.testing.assert_frame_equal(a, b)


# =========================================================================== PROM change


def _scored(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["patient_id", "completed_at", "instrument", "item", "value"])
    df["completed_at"] = pd.to_datetime(df["completed_at"])
    return score_proms(df)


def test_prom_change_rules_and_direction() -> None:
    rows = [
        # ODI 40 -> 30 -> 26: first vs latest = 14 points (>= 10) and 35 % (>= 30 %): both
        ("A", "2026-01-05", "odi", "total", 40.0),
        ("A", "2026-02-05", "odi", "total", 30.0),
        ("A", "2026-03-05", "odi", "total", 26.0),
        # RMDQ 12 -> 8: 4 points (< 5) but 33 % (>= 30 %): % rule only
        ("A", "2026-01-05", "rmdq", "total", 12.0),
        ("A", "2026-03-05", "rmdq", "total", 8.0),
        # PSFS mean 4 -> 7: a RISE of 3 is an improvement (higher = better); no MCID is used for PSFS,
        # RCI from MDC 2: S_diff = 2 / 1.96 = 1.0204, RCI = 3 / 1.0204 = +2.94 -> reliable improvement
        ("A", "2026-01-05", "psfs", "total", 4.0),
        ("A", "2026-03-05", "psfs", "total", 7.0),
        # PSFS 7 -> 4 for B: a fall is a deterioration
        ("B", "2026-01-05", "psfs", "total", 7.0),
        ("B", "2026-03-05", "psfs", "total", 4.0),
        # one questionnaire only
        ("B", "2026-01-05", "odi", "total", 30.0),
        # STarT Back is not an outcome: left out
        ("B", "2026-01-05", "startback", "total", 2.0),
        ("B", "2026-03-05", "startback", "total", 1.0),
    ]
    out = prom_change(_scored(rows)).set_index(["patient_id", "instrument"])
    assert ("B", "startback") not in out.index
    odi = out.loc[("A", "odi")]
    assert (odi["baseline"], odi["latest"], odi["change"], odi["improvement"]) == (40.0, 26.0, -14.0, 14.0)
    assert odi["mcid_rule"] == "both" and odi["rci_category"] == "not available" and odi["n_scored"] == 3
    assert odi["label"].startswith("Your Oswestry disability score has fallen by 14 points")
    rmdq = out.loc[("A", "rmdq")]
    assert (rmdq["mcid_abs_met"], rmdq["mcid_pct_met"], rmdq["mcid_rule"]) == (False, True, "%")
    assert rmdq["pct_improvement"] == pytest.approx(100 / 3)
    psfs = out.loc[("A", "psfs")]
    assert psfs["improvement"] == 3.0 and psfs["pct_improvement"] == pytest.approx(75.0)
    assert psfs["mcid_rule"] == "not available" and pd.isna(psfs["mcid_met"])
    assert psfs["rci"] == pytest.approx(2.94) and psfs["rci_category"] == "reliable improvement"
    assert "risen by 3 points" in psfs["label"]
    psfs_b = out.loc[("B", "psfs")]
    assert psfs_b["improvement"] == -3.0 and psfs_b["rci_category"] == "reliable deterioration"
    assert psfs_b["label"].endswith("a change for the worse.")
    odi_b = out.loc[("B", "odi")]
    assert odi_b["status"] == "not enough data: only one scored questionnaire (two needed)"
    assert math.isnan(odi_b["change"])


def test_prom_change_recovered_and_unscored_ignored() -> None:
    rows = [
        ("A", "2026-01-05", "rmdq", "total", 12.0),
        ("A", "2026-02-05", "rmdq", "total", 2.0),  # <= 2: recovered (docs/clinical-reference.md section 1)
        ("A", "2026-03-05", "rmdq", "total", 30.0),  # out of range: not scored, ignored
    ]
    r = prom_change(_scored(rows)).iloc[0]
    assert (r["latest"], bool(r["recovered"]), r["n_scored"]) == (2.0, True, 2)


def test_prom_change_rci_with_sd_and_reliability() -> None:
    rows = [("A", "2026-01-05", "odi", "total", 40.0), ("A", "2026-03-05", "odi", "total", 20.0)]
    r = prom_change(_scored(rows), rci_sd_reliability={"odi": (15.0, 0.9)}).iloc[0]
    # SEM = 15 x sqrt(0.1) = 4.743416; S_diff = 6.708204; RCI = -20 / 6.708204 = -2.98142
    assert r["rci"] == pytest.approx(-2.98142, abs=1e-5) and r["rci_category"] == "reliable improvement"


# =========================================================================== Kaplan-Meier


# Six patients: times 3 (event), 5 (censored), 6 (event), 6 (event), 8 (censored), 10 (event)
KM_T = [3, 5, 6, 6, 8, 10]
KM_E = [True, False, True, True, False, True]


def _loglog_ci(s: float, greenwood_sum: float, z: float = 1.959964) -> tuple[float, float]:
    """Exponential Greenwood CI on log(-log S): var = sum d/(n(n-d)) / (log S)^2."""
    se = math.sqrt(greenwood_sum / math.log(s) ** 2)
    c = math.log(-math.log(s))
    return math.exp(-math.exp(c + z * se)), math.exp(-math.exp(c - z * se))


def test_kaplan_meier_against_hand_product_limit_table() -> None:
    # Product-limit table by hand:
    # time  at risk  events  censored  S(t)
    #  0      6        0       0       1
    #  3      6        1       0       1 x (1 - 1/6) = 5/6 = 0.8333
    #  5      5        0       1       5/6 (censoring does not change S)
    #  6      4        2       0       5/6 x (1 - 2/4) = 5/12 = 0.4167
    #  8      2        0       1       5/12
    # 10      1        1       0       5/12 x (1 - 1/1) = 0
    # median: first time with S <= 0.5 -> 6 days
    km = kaplan_meier(KM_T, KM_E, label="hand")
    t = km.table
    assert t["time"].tolist() == [0, 3, 5, 6, 8, 10]
    assert t["at_risk"].tolist() == [6, 6, 5, 4, 2, 1]
    assert t["events"].tolist() == [0, 1, 0, 2, 0, 1]
    assert t["censored"].tolist() == [0, 0, 1, 0, 1, 0]
    np.testing.assert_allclose(t["survival"], [1, 5 / 6, 5 / 6, 5 / 12, 5 / 12, 0], atol=1e-12)
    assert km.median == 6
    assert (km.n, km.n_events, km.n_excluded) == (6, 4, 0)
    # Greenwood sums: at 3: 1/(6 x 5) = 0.033333; at 6: + 2/(4 x 2) = 0.283333
    lo3, hi3 = _loglog_ci(5 / 6, 1 / 30)  # (0.2731, 0.9747)
    lo6, hi6 = _loglog_ci(5 / 12, 1 / 30 + 2 / 8)  # (0.0560, 0.7665)
    np.testing.assert_allclose(t.loc[t["time"] == 3, ["ci_low", "ci_high"]].to_numpy()[0], [lo3, hi3], atol=1e-5)
    np.testing.assert_allclose(t.loc[t["time"] == 6, ["ci_low", "ci_high"]].to_numpy()[0], [lo6, hi6], atol=1e-5)


def test_kaplan_meier_engine_is_lifelines() -> None:
    from lifelines import KaplanMeierFitter

    ref = KaplanMeierFitter().fit(KM_T, KM_E)
    km = kaplan_meier(KM_T, KM_E)
    np.testing.assert_allclose(km.table["survival"].to_numpy(), ref.survival_function_.iloc[:, 0].to_numpy())


def test_kaplan_meier_drops_excluded_rows_and_fails_when_empty() -> None:
    km = kaplan_meier([*KM_T, np.nan], pd.array([*KM_E, pd.NA], dtype="boolean"))
    assert km.n == 6 and km.n_excluded == 1 and km.median == 6
    with pytest.raises(NotEnoughDataError):
        kaplan_meier([np.nan], [True])


def test_kaplan_meier_from_time_to_events() -> None:
    pain, patients = make_pain({"A": [7] * 7 + [6] * 7 + [4] * 7, "B": [7] * 7 + [6] * 10, "C": [5] * 3})
    te = time_to_events(pain, patients)
    km = kaplan_meier(te["time_to_mcid_days"], te["mcid_event"], label="MCID")
    # A event at 17, B censored at 16, C excluded: S(17) = 1 x (1 - 1/1) = 0
    assert (km.n, km.n_events, km.n_excluded) == (2, 1, 1)
    assert km.table["survival"].iloc[-1] == 0


def test_logrank_against_hand_computation() -> None:
    # A: 1, 2, 3 (events); B: 4 (event), 5 (censored), 6 (event)
    # t=1: n=6, nA=3, d=1 -> E_A = 0.5,  V = 1 x 3/6 x 3/6 x (6-1)/(6-1) = 0.25
    # t=2: n=5, nA=2, d=1 -> E_A = 0.4,  V = 2/5 x 3/5 = 0.24
    # t=3: n=4, nA=1, d=1 -> E_A = 0.25, V = 1/4 x 3/4 = 0.1875
    # t=4, t=6: nA = 0 -> E_A = 0, V = 0
    # O_A - E_A = 3 - 1.15 = 1.85; chi2 = 1.85^2 / 0.6775 = 5.05166
    res = logrank([1, 2, 3], [1, 1, 1], [4, 5, 6], [1, 0, 1])
    chi2 = 1.85**2 / 0.6775
    assert res.statistic == pytest.approx(chi2, rel=1e-9)
    assert res.p_value == pytest.approx(stats.chi2.sf(chi2, df=1), rel=1e-9)
    assert (res.n_a, res.n_b, res.events_a, res.events_b) == (3, 3, 3, 2)
    with pytest.raises(NotEnoughDataError):
        logrank([], [], [1], [1])
