"""Tests of analysis.cohort.cohort_summary and caseload.

Expected values come from the planted truth of the sample (data/sample/planted.csv),
from calling the underlying analysis functions directly, from pandas group-bys
and scipy, and from a hand-made cohort whose attention scores are worked out
by hand in the comments.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from analysis.adherence import adherence_summary
from analysis.cohort import (
    ATTENTION_RULES,
    SUMMARY_COLUMNS,
    UnknownPhysioError,
    attention_rules,
    caseload,
    cohort_summary,
    weekly_progress,
)
from analysis.errors import IngestError
from analysis.flags import FLAG_KINDS, flag_counts, safety_flags
from analysis.outcomes import pain_change, prom_change
from analysis.sample_data import SNAPSHOT_DATE, generate_cohort, load_cohort
from analysis.schema import CohortTables, conform
from analysis.scoring import score_proms
from analysis.settings import DEFAULT_SETTINGS
from analysis.trends import pain_trends

AS_OF = pd.Timestamp(SNAPSHOT_DATE)


@cache
def sample() -> CohortTables:
    return load_cohort()


@cache
def sample_summary() -> pd.DataFrame:
    return cohort_summary(sample(), as_of=AS_OF)


def planted(behaviour: str, detail: str | None = None) -> list[str]:
    p = sample().planted
    sel = p["behaviour"].eq(behaviour) & (p["detail"].eq(detail) if detail else True)
    return sorted(p.loc[sel, "patient_id"].astype(str).unique())


# =========================================================================== the committed sample


def test_one_row_per_patient_of_the_registry() -> None:
    s = sample_summary()
    assert list(s.columns) == list(SUMMARY_COLUMNS)
    assert len(s) == 60
    assert s["patient_id"].is_unique
    assert set(s["patient_id"]) == set(sample().patients["patient_id"].astype(str))


def test_planted_stopped_logging_patients_show_it_and_are_not_green() -> None:
    stopped = planted("stopped_logging")
    assert len(stopped) == 8  # 5 stopped partway + 3 who never really started (data/sample/README.md)
    s = sample_summary().set_index("patient_id").loc[stopped]
    assert (s["adherence_status"] == "stopped logging").all()
    assert (s["flags_total"] >= 1).all() and s["traffic_light"].isin(["red", "amber"]).all()
    # while the programme runs: stopped logging, red, with an open flag; once it has ended: "programme
    # finished", the flag closed (issue 15), and the low adherence still amber
    finished = s["logging_status"] == "programme finished"
    assert sorted(s.index[finished]) == ["P009", "P034", "P048"]
    running = s.loc[~finished]
    assert (running["logging_status"] == "stopped logging").all() and (running["open_logging_stopped"] >= 1).all()
    assert running["attention_reasons"].str.contains("stopped logging").all()
    assert (running["traffic_light"] == "red").all()
    done = s.loc[finished]
    assert (done["open_logging_stopped"] == 0).all() and not done["attention_reasons"].str.contains("stopped").any()
    assert (done["traffic_light"] == "amber").all() and done["attention_rules"].eq("low_adherence").all()


def test_worsening_patients_rank_above_the_median_attention() -> None:
    s = sample_summary()
    worsening = planted("outcome", "worsening")
    assert len(worsening) == 9
    median = float(np.median(s["attention_score"]))
    scores = s.set_index("patient_id").loc[worsening, "attention_score"]
    assert (scores > median).all(), scores[scores <= median]


def test_sorted_by_light_score_silence_adherence_and_pain_change_never_the_id() -> None:
    s = sample_summary()
    light = s["traffic_light"].map({"red": 0, "amber": 1, "green": 2})
    key = list(zip(light, -s["attention_score"], -s["days_without_log"], s["adherence"].fillna(np.inf),
                   -s["pain_change"].fillna(-np.inf), strict=True))
    assert key == sorted(key)
    assert s.index.equals(pd.RangeIndex(len(s)))
    # reversing the registry changes only the order of full ties, never the ranking keys
    c = sample()
    flipped = CohortTables(c.patients.iloc[::-1].reset_index(drop=True), c.prescriptions, c.sessions, c.pain,
                           c.proms)
    again = cohort_summary(flipped, as_of=AS_OF)
    assert list(zip(again["traffic_light"], again["attention_score"], again["days_without_log"], strict=True)) == \
        list(zip(s["traffic_light"], s["attention_score"], s["days_without_log"], strict=True))


def test_columns_equal_the_underlying_functions_for_a_few_patients() -> None:
    c = sample()
    # the sample has nothing dated on or after the snapshot, so no row is cut at as_of
    adh = adherence_summary(c.sessions, c.prescriptions, c.patients, pain=c.pain, as_of=AS_OF).set_index("patient_id")
    trend = pain_trends(c.pain, c.patients).set_index("patient_id")
    flags = safety_flags(c.sessions, c.pain, c.patients, as_of=AS_OF, prescriptions=c.prescriptions)
    change = pain_change(c.pain, c.patients).set_index("patient_id")
    proms = prom_change(score_proms(c.proms))
    counts = flag_counts(flags, c.patients).set_index("patient_id")
    mapping = {
        "adherence": (adh, "adherence_rate"), "adherent": (adh, "adherent"),
        "sessions_completed": (adh, "sessions_completed"), "sessions_prescribed": (adh, "sessions_prescribed"),
        "current_streak_weeks": (adh, "current_streak_weeks"),
        "days_since_last_session": (adh, "days_since_last_session"),
        "days_with_data_last_30": (adh, "days_with_data_last_30"), "adherence_status": (adh, "status"),
        "programme_weeks": (adh, "programme_weeks"),
        "n_days_rated": (trend, "n_days"), "trend_days": (trend, "trend_days"),
        "trend_slope_per_week": (trend, "trend_slope_per_week"),
        "trend_ci_low": (trend, "trend_ci_low"), "trend_ci_high": (trend, "trend_ci_high"),
        "trend_tau": (trend, "trend_tau"), "trend_p": (trend, "trend_p"), "trend_text": (trend, "trend_text"),
        "pain_baseline": (change, "baseline"), "pain_current": (change, "current"),
        "pain_change": (change, "change"), "pain_pct_change": (change, "pct_change"),
        "mcid_met": (change, "mcid_met"), "mcid_rule": (change, "mcid_rule"), "rci": (change, "rci"),
        "rci_category": (change, "rci_category"), "recovered": (change, "recovered"),
        "pain_label": (change, "label"), "pain_status": (change, "status"),
        **{f"open_{k}": (counts, f"open_{k}") for k in FLAG_KINDS},
        "open_total": (counts, "open_total"), "flags_total": (counts, "n_total"),
    }
    s = sample_summary().set_index("patient_id")
    # P001 showcase, P008 worsening with a full current window, P022 worsening,
    # P043 never really started (no trend)
    for pid in ("P001", "P008", "P022", "P043"):
        for col, (frame, src) in mapping.items():
            got, want = s.at[pid, col], frame.at[pid, src]
            if pd.isna(want):
                assert pd.isna(got), (pid, col, got)
            elif isinstance(want, (float, np.floating)):
                assert got == pytest.approx(float(want), rel=1e-12, abs=1e-12), (pid, col)
            else:
                assert got == want, (pid, col, got, want)
        want_trend = trend.at[pid, "trend"]
        assert s.at[pid, "trend"] == ("not enough data" if pd.isna(want_trend) else want_trend)
        for key in ("odi", "rmdq"):
            rows = proms[(proms["patient_id"] == pid) & (proms["instrument"] == key)]
            if rows.empty:
                assert np.isnan(s.at[pid, f"{key}_latest"]) and pd.isna(s.at[pid, f"{key}_mcid_met"])
                continue
            row = rows.iloc[0]
            # with one scored questionnaire prom_change has no 'latest': the only score is its baseline
            latest = row["latest"] if row["n_scored"] >= 2 else row["baseline"]
            assert s.at[pid, f"{key}_latest"] == pytest.approx(latest, abs=1e-12, nan_ok=True)
            assert s.at[pid, f"{key}_change"] == pytest.approx(row["change"], abs=1e-12, nan_ok=True)
            for name in ("mcid_met", "rci_category"):
                got, want = s.at[pid, f"{key}_{name}"], row[name]
                assert (pd.isna(got) and pd.isna(want)) or got == want, (pid, key, name)
    assert s.at["P043", "trend"] == "not enough data"


def test_days_since_last_entry_against_a_pandas_groupby() -> None:
    c = sample()
    entries = pd.concat(
        [
            c.sessions[["patient_id", "performed_at"]].set_axis(["patient_id", "t"], axis=1),
            c.pain[["patient_id", "recorded_at"]].set_axis(["patient_id", "t"], axis=1),
        ]
    )
    last = entries.loc[entries["t"] < AS_OF + pd.Timedelta(days=1)].groupby("patient_id")["t"].max().dt.normalize()
    expected = (AS_OF - last).dt.days
    got = sample_summary().set_index("patient_id")["days_since_last_entry"]
    pd.testing.assert_series_equal(
        got.loc[expected.index].astype("int64"), expected.astype("int64"), check_names=False
    )


def test_programme_week_of_as_of() -> None:
    s = sample_summary()
    # programme_week = (as_of - start) // 7 + 1, by hand with pandas Timedelta arithmetic
    expected = (AS_OF - s["programme_start"]).dt.days // 7 + 1
    assert (s["programme_week"].astype("int64") == expected).all()


def test_settings_flow_through_and_are_attached() -> None:
    strict = DEFAULT_SETTINGS.replace(adherent_threshold=0.25)
    s = cohort_summary(sample(), as_of=AS_OF, settings=strict)
    assert s.attrs["settings"] == strict.as_dict()
    assert s.attrs["as_of"] == AS_OF
    low = s["adherence"] < 0.25
    assert (s["adherent"] == ~low).all()
    has_reason = s["attention_reasons"].str.contains("(adherent from 25 %)", regex=False)
    assert (has_reason == low).all()


def test_caseload_keeps_one_physio_in_the_same_order() -> None:
    s = sample_summary()
    for physio in s["physio_id"].unique():
        mine = caseload(s, physio)
        assert (mine["physio_id"] == physio).all()
        assert list(mine["patient_id"]) == [p for p, ph in zip(s["patient_id"], s["physio_id"], strict=True)
                                            if ph == physio]
        assert mine.attrs["as_of"] == AS_OF
    with pytest.raises(UnknownPhysioError, match="physio_a"):
        caseload(s, "physio_zz")


def test_one_call_usage_from_the_brief(capsys: pytest.CaptureFixture[str]) -> None:
    # python -c "from analysis.sample_data import load_cohort; from analysis.cohort import cohort_summary;
    #            print(cohort_summary(load_cohort()).head())", in-process
    print(cohort_summary(load_cohort()).head())
    out = capsys.readouterr().out
    assert "patient_id" in out and "traffic_light" in out
    assert f"[5 rows x {len(SUMMARY_COLUMNS)} columns]" in out


def test_attention_rules_table_matches_the_constants() -> None:
    table = attention_rules()
    assert list(table["rule"]) == [r.key for r in ATTENTION_RULES]
    assert set(table["light"]) <= {"red", "amber"}
    assert (table["points"] > 0).all()


def test_duplicate_patient_is_a_typed_error() -> None:
    c = sample()
    patients = pd.concat([c.patients, c.patients.iloc[:1]], ignore_index=True)
    with pytest.raises(IngestError, match="more than once"):
        cohort_summary(CohortTables(patients, c.prescriptions, c.sessions, c.pain, c.proms), as_of=AS_OF)


def test_empty_cohort_gives_an_empty_summary() -> None:
    s = cohort_summary(CohortTables.empty(), as_of="2026-01-01")
    assert len(s) == 0 and list(s.columns) == list(SUMMARY_COLUMNS)


# =========================================================================== a hand-made cohort

START = pd.Timestamp("2026-01-05")  # a Monday
HAND_AS_OF = START + pd.Timedelta(days=28)  # the day after programme week 4: weeks 1-4 are whole days


def hand_cohort(with_empty_patient: bool = False) -> CohortTables:
    """Three patients, each prescribed the hamstring stretch 7 times a week from day 0 (open-ended).

    A: a session and a pain rating of 3 every day 0-27.
    B: sessions on days 0, 2, 4 of each week (12 of 28 days), pain 3 every day, a flare ticked on day 25.
    C: a session and a rating every day 0-20 (pain 2 in week 1, 3 in week 2, 4 in week 3), pain during
       exercise 7 on day 18, then nothing on days 21-27.
    D (optional): registered, nothing else.
    """
    ids = ["A", "B", "C"] + (["D"] if with_empty_patient else [])
    patients = pd.DataFrame({"patient_id": ids, "physio_id": "physio_x", "programme_start": START})
    prescriptions = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C"], "exercise": "hamstring_stretch", "side": "both", "sets": 1,
            "reps": 3, "hold_s": 20.0, "sessions_per_week": 7, "start_date": START, "end_date": pd.NaT,
        }
    )
    session_days = {"A": range(28), "B": [d for d in range(28) if d % 7 in (0, 2, 4)], "C": range(21)}
    sessions = pd.DataFrame(
        [
            {"patient_id": p, "performed_at": START + pd.Timedelta(days=d, hours=8), "exercise": "hamstring_stretch",
             "side": "both", "sets": 1, "reps": 3, "hold_s": 20.0,
             "pain_during": 7 if (p, d) == ("C", 18) else None}
            for p, days in session_days.items() for d in days
        ]
    )
    ratings = [("A", d, 3, False) for d in range(28)] + [("B", d, 3, d == 25) for d in range(28)]
    ratings += [("C", d, 2 + d // 7, False) for d in range(21)]
    pain = pd.DataFrame(
        [{"patient_id": p, "recorded_at": START + pd.Timedelta(days=d, hours=20), "nprs": v, "flare": f}
         for p, d, v, f in ratings]
    )
    return CohortTables(
        conform(patients, "patients"), conform(prescriptions, "prescriptions"), conform(sessions, "sessions"),
        conform(pain, "pain"), conform(pd.DataFrame(columns=["patient_id"]), "proms"),
    )


def test_hand_made_cohort_attention_scores() -> None:
    s = cohort_summary(hand_cohort(), as_of=HAND_AS_OF).set_index("patient_id")
    # as_of day 28: weeks 1-4 elapsed in full; week 5 holds as_of with no whole day elapsed (nothing prescribed)
    # A: 28 of 28 session days -> adherence 1.0 (>= 0.70, no point); pain 3 every day -> no trend, no
    #    change, no flare; no pain during exercise; still logging on as_of.          score 0 -> green
    # B: 12 of 28 prescribed days -> adherence 12/28 = 0.43 < 0.70                       low_adherence +1
    #    flare ticked on day 25, within 14 days of as_of (day 28)                   self_reported_flare +1
    #    pain constant, logging up to day 27.                                      score 1 + 1 = 2 -> amber
    # C: last entry day 20, as_of day 28: 28 - 20 = 8 >= 7 silent days in an open programme
    #                                                                               logging_stopped +3 (red)
    #    daily pain 2,2,...,3,...,4 over days 0-20: Mann-Kendall p < 0.05 and a rising slope (scipy below)
    #                                                                                   pain_rising +3 (red)
    #    baseline (days 0-6) = 2.0, current (days 14-20) = 4.0: +2 >= MCID 2 points
    #                                                                             pain_deteriorated +2 (red)
    #    pain during exercise 7 > 5 on day 18 (open: 18 >= 28 - 14 + 1)            pain_during_exercise +2 (red)
    #    adherence 21/28 = 0.75 >= 0.70: no point.                        score 3 + 3 + 2 + 2 = 10 -> red
    assert s["attention_score"].to_dict() == {"C": 10, "B": 2, "A": 0}
    assert s["traffic_light"].to_dict() == {"C": "red", "B": "amber", "A": "green"}
    assert list(s.index) == ["C", "B", "A"]
    assert s.at["A", "attention_reasons"] == ""
    assert s.at["B", "attention_reasons"] == (
        "1 open self-reported flare (+1); adherence 43 % (adherent from 70 %) (+1)"
    )
    reasons_c = s.at["C", "attention_reasons"].split("; ")
    assert [r.split(":")[0] for r in reasons_c] == [
        "stopped logging", "pain rising", "pain worse than at the start",
        "1 open pain-during-exercise flag (pain during > 5, or >= 2 points above the pain before) (+2)",
    ]
    assert reasons_c[0] == "stopped logging: no entry since 2026-01-25 (8 days, flag at >= 7) (+3)"
    assert s.at["C", "adherence"] == pytest.approx(21 / 28)
    assert s.at["B", "adherence"] == pytest.approx(12 / 28)
    assert s.at["C", "pain_baseline"] == pytest.approx(2.0) and s.at["C", "pain_current"] == pytest.approx(4.0)
    assert s.at["C", "logging_status"] == "stopped logging" and s.at["A", "logging_status"] == "logging"
    assert s.at["C", "days_since_last_entry"] == 8 and s.at["C", "days_without_log"] == 8
    assert (s["programme_week"] == 5).all()
    # independent check of C's worsening trend: scipy's Mann-Kendall p < 0.05 and least-squares slope > 0
    days = np.arange(21)
    kt, lr = stats.kendalltau(days, 2 + days // 7), stats.linregress(days, 2 + days // 7)
    assert kt.pvalue < 0.05 and lr.slope > 0
    assert s.at["C", "trend_p"] == pytest.approx(kt.pvalue, rel=1e-12)
    assert s.at["C", "trend_slope_per_week"] == pytest.approx(lr.slope * 7, rel=1e-12)
    assert s.at["C", "trend"] == "worsening"


def test_a_registered_patient_without_any_data_gets_a_row() -> None:
    s = cohort_summary(hand_cohort(with_empty_patient=True), as_of=HAND_AS_OF).set_index("patient_id")
    d = s.loc["D"]
    # no entry since the programme start: silence counted from the day before day 0 -> 28 - (-1) = 29 days
    assert d["attention_score"] == 3 and d["traffic_light"] == "red"
    assert d["attention_reasons"] == ("stopped logging: no entry since the programme start (29 days, flag at >= 7) "
                                      "(+3)")
    assert np.isnan(d["adherence"]) and np.isnan(d["pain_baseline"]) and d["trend"] == "not enough data"
    assert pd.isna(d["days_since_last_entry"]) and d["n_days_rated"] == 0 and d["open_total"] == 1


# =========================================================================== properties


@cache
def small_cohort() -> CohortTables:
    return generate_cohort(n_patients=10, weeks=8, seed=11)


@cache
def small_summary() -> pd.DataFrame:
    return cohort_summary(small_cohort(), as_of=AS_OF).set_index("patient_id")


def _subset(c: CohortTables, keep: list[str]) -> CohortTables:
    def rows(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.loc[frame["patient_id"].isin(keep)].reset_index(drop=True)

    return CohortTables(*(rows(f) for f in (c.patients, c.prescriptions, c.sessions, c.pain, c.proms)))


def _assert_same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=1e-12)


@given(st.sets(st.integers(0, 9), min_size=1, max_size=9))
def test_other_patients_do_not_change_a_patients_row(chosen: set[int]) -> None:
    c = small_cohort()
    ids = sorted(c.patients["patient_id"].astype(str))
    keep = [ids[i] for i in sorted(chosen)]
    part = cohort_summary(_subset(c, keep), as_of=AS_OF).set_index("patient_id")
    _assert_same_rows(part.sort_index(), small_summary().loc[keep].sort_index())


@given(st.integers(0, 2**32 - 1))
def test_row_order_of_the_input_tables_is_irrelevant(seed: int) -> None:
    c = small_cohort()
    rng = np.random.default_rng(seed)

    def shuffled(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)

    mixed = CohortTables(*(shuffled(f) for f in (c.patients, c.prescriptions, c.sessions, c.pain, c.proms)))
    got = cohort_summary(mixed, as_of=AS_OF).set_index("patient_id")
    _assert_same_rows(got, small_summary())


def test_weekly_progress_keeps_programme_weeks_and_rated_weeks_only() -> None:
    # Programme: 2 weeks (prescription 2026-09-07 .. 2026-09-20). Pain is rated in week 1 and
    # in week 4 (2026-09-29 = day 22 -> week 22 // 7 + 1 = 4); week 3 has neither a
    # prescription nor a rating, so it must not appear; week 4 appears with its pain only.
    patients = conform(
        pd.DataFrame({"patient_id": ["A"], "physio_id": ["p"], "programme_start": [pd.Timestamp("2026-09-07")]}),
        "patients",
    )
    prescriptions = conform(
        pd.DataFrame(
            {
                "patient_id": ["A"], "exercise": ["knee_to_chest"], "side": ["left"], "sets": [1], "reps": [10],
                "hold_s": [5.0], "sessions_per_week": [7], "start_date": [pd.Timestamp("2026-09-07")],
                "end_date": [pd.Timestamp("2026-09-20")],
            }
        ),
        "prescriptions",
    )
    pain = conform(
        pd.DataFrame(
            {
                "patient_id": ["A", "A"],
                "recorded_at": pd.to_datetime(["2026-09-08 20:00", "2026-09-29 20:00"]),
                "nprs": pd.array([6, 4], dtype="Int64"),
            }
        ),
        "pain",
    )
    cohort = CohortTables(patients, prescriptions, conform(pd.DataFrame(), "sessions"), pain,
                          conform(pd.DataFrame(), "proms"))
    weekly = weekly_progress(cohort, as_of="2026-10-05")
    assert weekly["week"].tolist() == [1, 2, 4]
    assert weekly.loc[weekly["week"] == 4, "nprs_mean"].item() == 4.0
    assert pd.isna(weekly.loc[weekly["week"] == 4, "sessions_prescribed"].item())
    assert weekly.loc[weekly["week"] == 2, "adherence_rate"].item() == 0.0  # prescribed, nothing done
