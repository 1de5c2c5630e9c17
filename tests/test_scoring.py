"""Tests of analysis.scoring against hand-worked scores and published rules."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.errors import RehabtrackError
from analysis.scoring import (
    InvalidResponseError,
    odi_band,
    score_odi,
    score_proms,
    score_psfs,
    score_rmdq,
    startback_risk,
)
from analysis.settings import DEFAULT_SETTINGS

# ---------------------------------------------------------------- ODI

ODI_16 = [2, 2, 2, 2, 2, 2, 1, 1, 1, 1]  # sum = 6 x 2 + 4 x 1 = 16


def test_odi_all_sections_hand_worked() -> None:
    # 16 / (5 x 10) x 100 = 16 / 50 x 100 = 32 %
    r = score_odi(ODI_16)
    assert r.score == pytest.approx(32.0)
    assert r.n_items_answered == 10
    assert r.status == "scored"
    assert r.band == "moderate"  # 32 is in 21-40


def test_odi_one_missing_section_hand_worked() -> None:
    # nine sections summing to 16: 16 / (5 x 9) x 100 = 16 / 45 x 100 = 35.555... -> 35.6 %
    r = score_odi([2, 2, 2, 2, 2, 2, 2, 1, 1, None])
    assert r.score == pytest.approx(1600 / 45)
    assert round(r.score, 1) == 35.6
    assert r.n_items_answered == 9


def test_odi_seven_sections_not_scored_with_default_minimum_of_eight() -> None:
    r = score_odi([2, 2, 2, 2, 2, 2, 2, None, None, None])
    assert DEFAULT_SETTINGS.odi_min_sections == 8
    assert math.isnan(r.score)
    assert not r.scored
    assert r.status == "not scored: only 7 of 10 ODI sections answered (at least 8 needed)"
    # the minimum is configurable: with 7 allowed, 14 / (5 x 7) x 100 = 40 %
    r7 = score_odi([2, 2, 2, 2, 2, 2, 2, None, None, None], min_sections=7)
    assert r7.score == pytest.approx(40.0)


def test_odi_accepts_mapping_of_sections() -> None:
    # sections 1-8 answered 5, 9-10 missing: 40 / 40 x 100 = 100 %
    r = score_odi({str(i): 5 for i in range(1, 9)})
    assert r.score == pytest.approx(100.0)
    assert r.band == "bed-bound"


@pytest.mark.parametrize(
    "responses",
    [
        [6, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # above 5
        [-1, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # below 0
        [2.5, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # not a whole number
        [0] * 9,  # wrong number of sections
        {"11": 2},  # no section 11
    ],
)
def test_odi_impossible_answers_raise_typed_error(responses: object) -> None:
    with pytest.raises(InvalidResponseError) as info:
        score_odi(responses)  # type: ignore[arg-type]
    assert isinstance(info.value, RehabtrackError)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (0, "minimal"), (20, "minimal"), (20.5, "moderate"), (21, "moderate"), (40, "moderate"),
        (41, "severe"), (60, "severe"), (61, "crippled"), (80, "crippled"), (81, "bed-bound"),
        (100, "bed-bound"),
    ],
)
def test_odi_bands_at_published_boundaries(score: float, band: str) -> None:
    # ODI v2.1a: 0-20 minimal, 21-40 moderate, 41-60 severe, 61-80 crippled, 81-100 bed-bound
    assert odi_band(score) == band


def test_odi_band_missing_and_vectorised() -> None:
    assert odi_band(float("nan")) is None
    with pytest.raises(InvalidResponseError):
        odi_band(101)
    out = odi_band(pd.Series([10.0, 35.6, np.nan, 90.0], index=[3, 4, 5, 6]))
    assert list(out.index) == [3, 4, 5, 6]
    assert out.tolist()[:2] == ["minimal", "moderate"]
    assert pd.isna(out.iloc[2])
    assert out.iloc[3] == "bed-bound"


# ---------------------------------------------------------------- RMDQ


def test_rmdq_counts_ticked_items() -> None:
    assert score_rmdq([1] * 6 + [0] * 18).score == 6  # six ticks
    assert score_rmdq([1] * 24).score == 24
    assert score_rmdq([0] * 24).score == 0
    # ticks on items 2, 5, 24 given as a mapping with all 24 items recorded
    answers = {i: 0 for i in range(1, 25)} | {2: 1, 5: 1, 24: 1}
    assert score_rmdq(answers).score == 3


def test_rmdq_missing_item_is_not_prorated() -> None:
    r = score_rmdq([1] * 6 + [0] * 17 + [None])
    assert math.isnan(r.score)
    assert r.n_items_answered == 23
    assert r.status.startswith("not scored: only 23 of 24 RMDQ items")


def test_rmdq_rejects_non_binary_items() -> None:
    with pytest.raises(InvalidResponseError):
        score_rmdq([2] + [0] * 23)


# ---------------------------------------------------------------- PSFS


def test_psfs_mean_of_activities() -> None:
    assert score_psfs([4, 5, 6]).score == pytest.approx(5.0)  # 15 / 3
    assert score_psfs([2.5, 3.5, 4, 6]).score == pytest.approx(4.0)  # 16 / 4
    assert score_psfs([10, 10, 9, 8, 8]).score == pytest.approx(9.0)  # 45 / 5
    assert score_psfs([4, None, 5, 6]).score == pytest.approx(5.0)  # None ignored: 15 / 3


@pytest.mark.parametrize("activities", [[3, 7], [1, 2, 3, 4, 5, 6], []])
def test_psfs_needs_three_to_five_activities(activities: list[int]) -> None:
    r = score_psfs(activities)
    assert math.isnan(r.score)
    assert r.status == f"not scored: {len(activities)} PSFS activities rated (3 to 5 needed)"


def test_psfs_rejects_out_of_range() -> None:
    with pytest.raises(InvalidResponseError):
        score_psfs([4, 5, 11])


# ---------------------------------------------------------------- STarT Back (Hill et al. 2008)


@pytest.mark.parametrize(
    ("items", "total", "psych", "risk"),
    [
        # total 3, all three points on the psychosocial items 5-7: total <= 3 -> low
        ([0, 0, 0, 0, 1, 1, 1, 0, 0], 3, 3, "low"),
        # total 5 with items 5-8 agreed: subscale 4 -> high
        ([1, 0, 0, 0, 1, 1, 1, 1, 0], 5, 4, "high"),
        # total 5 but subscale 3 -> medium
        ([1, 1, 0, 0, 1, 1, 1, 0, 0], 5, 3, "medium"),
        # total 4, all on the subscale (items 5, 6, 7, 9) -> high
        ([0, 0, 0, 0, 1, 1, 1, 0, 1], 4, 4, "high"),
        # total 4 from the physical items 1-4 only -> medium
        ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, 0, "medium"),
        ([0] * 9, 0, 0, "low"),
        ([1] * 9, 9, 5, "high"),
    ],
)
def test_startback_groups_on_hand_made_answers(items: list[int], total: int, psych: int, risk: str) -> None:
    r = startback_risk(items)
    assert (r.total, r.psychosocial, r.risk, r.status) == (total, psych, risk, "scored")


def test_startback_needs_all_nine_items() -> None:
    r = startback_risk([1, 1, 1, 1, 1, 1, 1, 1, None])
    assert r.risk is None
    assert r.status == "not scored: only 8 of 9 STarT Back items answered (all 9 needed)"
    with pytest.raises(InvalidResponseError):
        startback_risk([0, 0, 0, 0, 0, 0, 0, 0, 3])  # item 9 must be recorded as 0/1


# ---------------------------------------------------------------- score_proms (long table)


def _items(pid: str, date: str, inst: str, values: list[float | None]) -> list[tuple]:
    return [(pid, date, inst, str(i), v) for i, v in enumerate(values, start=1) if v is not None]


def _proms(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["patient_id", "completed_at", "instrument", "item", "value"])
    df["completed_at"] = pd.to_datetime(df["completed_at"])
    df["value"] = df["value"].astype(float)
    return df


def _row(out: pd.DataFrame, pid: str, inst: str, date: str) -> pd.Series:
    sel = (out["patient_id"] == pid) & (out["instrument"] == inst) & (out["completed_at"] == pd.Timestamp(date))
    assert sel.sum() == 1
    return out.loc[sel].iloc[0]


@pytest.fixture
def proms_table() -> pd.DataFrame:
    rows: list[tuple] = []
    rows += _items("P1", "2026-01-05", "odi", ODI_16)  # 32 %
    rows += _items("P1", "2026-02-05", "odi", [2, 2, 2, 2, 2, 2, 2, 1, 1, None])  # 16/45 -> 35.6 %
    rows += _items("P1", "2026-03-05", "odi", [2, 2, 2, 2, 2, 2, 2])  # 7 sections -> not scored
    rows += _items("P2", "2026-01-05", "rmdq", [1] * 6 + [0] * 18)  # 6
    rows += _items("P2", "2026-01-05", "psfs", [4, 5, 6])  # 5.0
    rows += _items("P2", "2026-01-05", "startback", [1, 0, 0, 0, 1, 1, 1, 1, 0])  # high
    rows += [("P3", "2026-01-05", "ODI", "total", 44.0)]  # a given total, instrument in capitals
    rows += [("P3", "2026-01-05", "startback", "total", 2.0)]  # total 2 -> low without items
    rows += [("P4", "2026-01-05", "startback", "total", 6.0)]  # total 6, subscale unknown
    rows += [("P4", "2026-01-05", "rmdq", "total", 30.0)]  # above the 0-24 range
    rows += _items("P5", "2026-01-05", "odi", [1, 1, 7, 1, 1, 1, 1, 1, 1, 1])  # section 3 = 7
    rows += [*_items("P5", "2026-01-05", "psfs", [5, 5, 5]), ("P5", "2026-01-05", "psfs", "9", 5.0)]
    rows += [("P6", "2026-01-05", "nprs", "1", 6.0)]
    return _proms(rows)


def test_score_proms_hand_worked_scores(proms_table: pd.DataFrame) -> None:
    out = score_proms(proms_table)
    assert list(out.columns) == [
        "patient_id", "completed_at", "instrument", "score", "n_items_answered", "status", "band", "source", "note",
    ]
    r = _row(out, "P1", "odi", "2026-01-05")
    assert (r.score, r.n_items_answered, r.status, r.band, r.source) == (32.0, 10, "scored", "moderate", "items")
    r = _row(out, "P1", "odi", "2026-02-05")
    assert r.score == pytest.approx(1600 / 45)
    r = _row(out, "P1", "odi", "2026-03-05")
    assert math.isnan(r.score)
    assert r.status == "not scored: only 7 of 10 ODI sections answered (at least 8 needed)"
    assert _row(out, "P2", "rmdq", "2026-01-05").score == 6
    assert _row(out, "P2", "psfs", "2026-01-05").score == pytest.approx(5.0)
    r = _row(out, "P2", "startback", "2026-01-05")
    assert (r.score, r.band) == (5.0, "high")
    assert _row(out, "P6", "nprs", "2026-01-05").score == 6


def test_score_proms_totals_pass_through(proms_table: pd.DataFrame) -> None:
    out = score_proms(proms_table)
    r = _row(out, "P3", "odi", "2026-01-05")
    assert (r.score, r.band, r.source, r.status) == (44.0, "severe", "total", "scored")
    assert pd.isna(r.n_items_answered)
    assert _row(out, "P3", "startback", "2026-01-05").band == "low"
    r = _row(out, "P4", "startback", "2026-01-05")
    assert r.score == 6 and pd.isna(r.band) and "psychosocial" in r.note


def test_score_proms_reports_bad_questionnaires_without_raising(proms_table: pd.DataFrame) -> None:
    out = score_proms(proms_table)
    r = _row(out, "P4", "rmdq", "2026-01-05")
    assert math.isnan(r.score) and r.status == "not scored: total 30 is outside the RMDQ range 0-24"
    r = _row(out, "P5", "odi", "2026-01-05")
    assert math.isnan(r.score) and r.status == "not scored: item 3 has the value 7, outside the ODI item range 0-5"
    r = _row(out, "P5", "psfs", "2026-01-05")
    assert math.isnan(r.score) and r.status == "not scored: unknown item '9' for PSFS"


def test_score_proms_uses_settings_minimum(proms_table: pd.DataFrame) -> None:
    out = score_proms(proms_table, settings=DEFAULT_SETTINGS.replace(odi_min_sections=7))
    # 7 sections of 2: 14 / 35 x 100 = 40 %
    assert _row(out, "P1", "odi", "2026-03-05").score == pytest.approx(40.0)


def test_score_proms_row_order_does_not_matter(proms_table: pd.DataFrame) -> None:
    a = score_proms(proms_table)
    b = score_proms(proms_table.sample(frac=1.0, random_state=7).reset_index(drop=True))
    pd.testing.assert_frame_equal(a, b)


def test_score_proms_empty_table() -> None:
    out = score_proms(_proms([]))
    assert len(out) == 0 and "score" in out.columns


@given(
    st.lists(
        st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=10, max_size=10),
        min_size=1,
        max_size=6,
    )
)
def test_score_proms_odi_matches_formula(questionnaires: list[list[int | None]]) -> None:
    rows: list[tuple] = []
    for q, answers in enumerate(questionnaires):
        rows += _items(f"P{q}", "2026-01-05", "odi", answers)  # type: ignore[arg-type]
    if not rows:
        return
    out = score_proms(_proms(rows)).set_index("patient_id")
    for q, answers in enumerate(questionnaires):
        answered = [a for a in answers if a is not None]
        if not answered:
            continue
        expected = sum(answered) / (5 * len(answered)) * 100 if len(answered) >= 8 else math.nan
        got = out.loc[f"P{q}", "score"]
        if math.isnan(expected):
            assert math.isnan(got)
        else:
            assert got == pytest.approx(expected)


def test_an_unknown_instrument_is_refused_at_the_entrance_and_reported_when_vouched_for() -> None:
    from analysis.errors import InvalidTableError
    from analysis.validation import trusted_tables

    proms = pd.DataFrame([("P4", pd.Timestamp("2026-01-05"), "sf36", "total", 50.0)],
                         columns=["patient_id", "completed_at", "instrument", "item", "value"])
    with pytest.raises(InvalidTableError, match=r"proms\.instrument, rule 'vocabulary'.*index \(value\): 0 \(sf36\)"):
        score_proms(proms)
    with trusted_tables():
        r = score_proms(proms).iloc[0]
    assert math.isnan(r.score) and r.status.startswith("not scored: unknown instrument 'sf36'")
