"""The dashboard's interactive chart specs (analysis.charts): data, encodings and layers, pinned by hand.

The specs are read as Vega-Lite JSON (``chart.to_dict()``), the way the browser receives them.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.charts import EXPECTED_COLUMNS, pain_chart, sessions_chart

WEEKLY = pd.DataFrame({
    "patient_id": ["P1"] * 4,
    "week": [1, 2, 3, 4],
    "week_start": pd.to_datetime(["2026-09-07", "2026-09-14", "2026-09-21", "2026-09-28"]),
    "nprs_mean": [6.0, 5.04, float("nan"), 4.0],
    "n_ratings": [6, 5, 0, 2],
    "sessions_prescribed": [5.0, 5.0, 3.0, 5.0],
    "sessions_completed": [5, 2, 0, 0],
    "status": ["complete", "complete", "in progress", "not yet"],
})
DAILY = pd.DataFrame({
    "patient_id": ["P1"] * 3,
    "date": pd.to_datetime(["2026-09-07", "2026-09-08", "2026-09-15"]),
    "day": [0, 1, 8],
    "nprs_mean": [7.0, float("nan"), 5.0],
    "n_ratings": [1, 0, 1],
    "nprs_rolling": [7.0, 7.0, 6.0],
})


def layers(chart) -> dict[str, tuple[dict, list[dict]]]:
    """Each named layer's spec and its rows, from the JSON the browser gets."""
    spec = json.loads(chart.to_json())
    return {layer["name"]: (layer, spec["datasets"][layer["data"]["name"]]) for layer in spec["layer"]}


def test_pain_chart_weekly_line_band_and_baseline_by_hand() -> None:
    spec = pain_chart(WEEKLY, baseline=6.0, mcid_abs=2.0, mcid_pct=0.30).to_dict()
    assert spec["width"] == "container" and spec["height"] == 320  # the width of the screen
    got = layers(pain_chart(WEEKLY, baseline=6.0, mcid_abs=2.0, mcid_pct=0.30))
    assert list(got) == ["mcid_band", "baseline", "weekly"]
    # band: min(2 points, 30 % of 6.0 = 1.8) = 1.8 -> 4.2 to 7.8
    band_spec, band_rows = got["mcid_band"]
    assert band_rows[0]["lower"] == pytest.approx(4.2) and band_rows[0]["upper"] == pytest.approx(7.8)
    assert band_spec["mark"]["type"] == "rect" and band_spec["encoding"]["y2"]["field"] == "upper"
    base_spec, base_rows = got["baseline"]
    assert base_rows == [{"baseline": 6.0}] and base_spec["mark"]["type"] == "rule"
    week_spec, week_rows = got["weekly"]
    # week 3 has no rating: no point; each week at its middle (week + 0.5); 5.04 shown as 5.0
    assert [(r["x"], r["week"], r["pain"]) for r in week_rows] == [(1.5, 1, 6.0), (2.5, 2, 5.0), (4.5, 4, 4.0)]
    assert week_rows[0]["from"] == "Mon 7 Sep 2026"
    assert {t["field"] for t in week_spec["encoding"]["tooltip"]} == {"week", "from", "pain", "ratings"}
    assert week_spec["encoding"]["y"]["scale"]["domain"] == [0, 10]
    assert week_spec["encoding"]["x"]["scale"]["domain"] == [1.0, 5.0]  # weeks 1-4 span [1, 5)


def test_pain_chart_daily_points_and_rolling_mean_at_the_middle_of_the_day() -> None:
    got = layers(pain_chart(WEEKLY, daily=DAILY, rolling_window_days=7))
    assert list(got) == ["daily", "rolling", "weekly"]  # no baseline given: no band, no rule
    _, days = got["daily"]
    # day 0 -> 1 + 0.5/7; the unrated day 1 is not a point; day 8 -> 8/7 + 1 + 0.5/7
    assert [r["x"] for r in days] == pytest.approx([1 + 0.5 / 7, 8 / 7 + 1 + 0.5 / 7])
    assert [r["date"] for r in days] == ["Mon 7 Sep 2026", "Tue 15 Sep 2026"]
    roll_spec, roll = got["rolling"]
    assert [r["mean"] for r in roll] == [7.0, 7.0, 6.0]
    assert roll_spec["encoding"]["tooltip"][1]["title"] == "7-day mean"


def test_pain_chart_takes_an_expected_course_band_under_the_patients_values() -> None:
    expected = pd.DataFrame({"week": [1, 2], "expected": [6.0, 5.5], "lower": [4.0, -0.5], "upper": [8.0, 11.0]})
    got = layers(pain_chart(WEEKLY, baseline=6.0, mcid_abs=2.0, expected=expected))
    assert list(got) == ["mcid_band", "baseline", "expected_band", "expected", "weekly"]
    band_spec, band = got["expected_band"]
    # at the middle of each week, limits kept within the 0-10 scale
    assert [(r["x"], r["lower"], r["upper"]) for r in band] == [(1.5, 4.0, 8.0), (2.5, 0.0, 10.0)]
    assert band_spec["mark"]["type"] == "area" and band_spec["encoding"]["y2"]["field"] == "upper"
    assert got["mcid_band"][1][0]["lower"] == pytest.approx(4.0)  # only the absolute rule: 6 - 2
    with pytest.raises(ValueError, match="missing: upper"):
        pain_chart(WEEKLY, expected=expected.drop(columns="upper"))
    assert EXPECTED_COLUMNS == ("week", "expected", "lower", "upper")


def test_pain_chart_marks_pain_flags_with_their_reason_and_leaves_other_flags_out() -> None:
    flags = pd.DataFrame({
        "date": pd.to_datetime(["2026-09-15", "2026-09-16"]), "day": [8, 9],
        "kind": ["pain_flare", "logging_stopped"], "reason": ["pain 8 vs median 5", "no log for 9 days"],
    })
    got = layers(pain_chart(WEEKLY, flags=flags))
    spec, rows = got["flags"]
    assert rows == [{"x": pytest.approx(8 / 7 + 1 + 0.5 / 7), "y": 10.0, "flag": "pain flare",
                     "date": "Tue 15 Sep 2026", "why": "pain 8 vs median 5"}]
    assert {t["field"] for t in spec["encoding"]["tooltip"]} == {"flag", "date", "why"}


def test_sessions_chart_bars_for_weeks_reached_and_ticks_for_the_plan() -> None:
    got = layers(sessions_chart(WEEKLY))
    done_spec, done = got["done"]
    plan_spec, plan = got["plan"]
    assert done_spec["mark"]["type"] == "bar" and plan_spec["mark"]["type"] == "tick"
    assert [(r["week"], r["done"]) for r in done] == [(1, 5.0), (2, 2.0), (3, 0.0)]  # week 4 not yet reached
    assert [(r["week"], r["planned"]) for r in plan] == [(1, 5.0), (2, 5.0), (3, 3.0), (4, 5.0)]
    assert done_spec["encoding"]["x"]["scale"]["domain"] == [1, 2, 3, 4]
    assert json.loads(sessions_chart(WEEKLY).to_json())["width"] == "container"


def test_free_text_reaches_the_spec_as_data_not_markup() -> None:
    flags = pd.DataFrame({"date": pd.to_datetime(["2026-09-15"]), "day": [8], "kind": ["self_reported_flare"],
                          "reason": ["<img src=x onerror=alert(1)>"]})
    _, rows = layers(pain_chart(WEEKLY, flags=flags))["flags"]
    assert rows[0]["why"] == "<img src=x onerror=alert(1)>"  # a data value; Vega draws text as text
