"""Programmes: periods, planned load, steep weeks and mid-programme edits, against hand-written values."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.adherence import weekly_adherence
from analysis.programme_templates import DEFAULT_TEMPLATE, GRADUAL_PROGRESSION, SEED_PROGRESSION, TEMPLATES, template
from analysis.programmes import (
    Programme,
    ProgrammeError,
    ProgrammeItem,
    Progression,
    ProgressionStep,
    edit_prescriptions,
    planned_weekly_load,
    programme_to_prescriptions,
    steep_weeks,
    template_from_dict,
    template_to_dict,
)
from analysis.schema import PRESCRIPTIONS, pandera_schema
from analysis.settings import DEFAULT_SETTINGS

START = pd.Timestamp("2026-09-07")  # a Monday; week w starts START + 7 (w - 1) days
SEED = template("seed_back_programme").programme


def d(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


# The seed template over 12 weeks (84 days: 2026-09-07 .. 2026-11-29), written out by hand:
#   weeks 1-2  = days 0-13  = 09-07 .. 09-20: 1 set (template dose)
#   weeks 3-4  = days 14-27 = 09-21 .. 10-04: 2 sets
#   weeks 5-12 = days 28-83 = 10-05 .. 11-29: 2 sets (carried over) and hold 10 s
# knee-to-chest left and right: 10 reps, hold 5 s; hamstring stretch both: 5 reps, no hold; 7 sessions/week.
EXPECTED_12 = [
    # exercise, side, sets, reps, hold_s, start, end
    ("hamstring_stretch", "both", 1, 5, 0.0, "2026-09-07", "2026-09-20"),
    ("hamstring_stretch", "both", 2, 5, 0.0, "2026-09-21", "2026-10-04"),
    ("hamstring_stretch", "both", 2, 5, 10.0, "2026-10-05", "2026-11-29"),
    ("knee_to_chest", "left", 1, 10, 5.0, "2026-09-07", "2026-09-20"),
    ("knee_to_chest", "left", 2, 10, 5.0, "2026-09-21", "2026-10-04"),
    ("knee_to_chest", "left", 2, 10, 10.0, "2026-10-05", "2026-11-29"),
    ("knee_to_chest", "right", 1, 10, 5.0, "2026-09-07", "2026-09-20"),
    ("knee_to_chest", "right", 2, 10, 5.0, "2026-09-21", "2026-10-04"),
    ("knee_to_chest", "right", 2, 10, 10.0, "2026-10-05", "2026-11-29"),
]


def rows(frame: pd.DataFrame) -> list[tuple]:
    return [
        (r.exercise, r.side, int(r.sets), int(r.reps), float(r.hold_s),
         r.start_date.strftime("%Y-%m-%d"), None if pd.isna(r.end_date) else r.end_date.strftime("%Y-%m-%d"))
        for r in frame.itertuples()
    ]


def test_seed_template_periods_for_12_weeks() -> None:
    periods = programme_to_prescriptions("P1", START, SEED, weeks=12)
    assert rows(periods) == EXPECTED_12
    assert (periods["patient_id"] == "P1").all()
    assert (periods["sessions_per_week"] == 7).all()
    assert list(periods.columns) == PRESCRIPTIONS.column_names
    pandera_schema("prescriptions").validate(periods, lazy=True)  # a valid canonical table


def test_open_ended_last_period() -> None:
    periods = programme_to_prescriptions("P1", START, SEED, weeks=None)
    last = periods.groupby(["exercise", "side"]).tail(1)  # the weeks 5+ period of each item
    assert len(last) == 3 and last["end_date"].isna().all() and (last["start_date"] == d("2026-10-05")).all()
    # the earlier periods keep their ends: 09-20 and 10-04
    assert sorted(periods["end_date"].dropna().dt.strftime("%m-%d").unique()) == ["09-20", "10-04"]


def test_no_progression_is_one_period_per_item() -> None:
    flat = template("seed_back_programme_flat").programme
    periods = programme_to_prescriptions("P1", START, flat, weeks=12)
    assert len(periods) == 3
    assert (periods["start_date"] == START).all() and (periods["end_date"] == d("2026-11-29")).all()


def test_progression_parse_and_describe() -> None:
    prog = Progression.parse(SEED_PROGRESSION)
    assert [(s.from_week, s.to_week, s.changes()) for s in prog.steps] == [
        (1, 2, {"sets": 1}), (3, 4, {"sets": 2}), (5, None, {"hold_s": 10.0})]
    assert prog.describe() == SEED_PROGRESSION
    one = Progression.parse("week 3 (knee_to_chest): 12 reps and 5 sessions/week")
    assert one.steps == (ProgressionStep(3, 3, reps=12, sessions_per_week=5, exercise="knee_to_chest"),)


@pytest.mark.parametrize("text", ["weeks: 2 sets", "weeks 3-4: two sets", "weeks 3-4: 2 sets; weeks 4+: hold 5 s",
                                  "weeks 0+: 1 set", "weeks 2+: 30 sets"])
def test_progression_parse_errors(text: str) -> None:
    with pytest.raises(ProgrammeError):
        Progression.parse(text)


def test_exercise_specific_step_only_changes_that_exercise() -> None:
    prog = Progression.parse("weeks 3+ (hamstring_stretch): 8 reps")
    periods = programme_to_prescriptions("P1", START, Programme(SEED.items, prog), weeks=6)
    ham = periods[periods["exercise"] == "hamstring_stretch"]
    # 5 reps in weeks 1-2 (09-07..09-20), 8 reps in weeks 3-6 (09-21..10-18)
    assert rows(ham) == [("hamstring_stretch", "both", 1, 5, 0.0, "2026-09-07", "2026-09-20"),
                         ("hamstring_stretch", "both", 1, 8, 0.0, "2026-09-21", "2026-10-18")]
    assert (periods[periods["exercise"] == "knee_to_chest"].groupby("side").size() == 1).all()


def test_invalid_programmes() -> None:
    with pytest.raises(ProgrammeError, match="once"):
        Programme((ProgrammeItem("bridge"), ProgrammeItem("bridge")))
    with pytest.raises(ProgrammeError, match="side"):
        ProgrammeItem("bridge", side="up")
    with pytest.raises(ProgrammeError, match="sets"):
        ProgrammeItem("bridge", sets=0)
    with pytest.raises(ProgrammeError, match="no exercise"):
        Programme(())
    with pytest.raises(ProgrammeError, match="not in the programme"):
        Programme((ProgrammeItem("bridge"),), Progression.parse("weeks 2+ (cat_cow): 2 sets"))


def test_planned_weekly_load_by_hand() -> None:
    load = planned_weekly_load(SEED, 12, programme_start=START)
    # per session: KTC 2 x (1 x 10 x 5) = 100, hamstring 1 x 5 x 1 (no hold counts 1) = 5 -> 105; x 7 = 735
    # weeks 3-4: 2 sets -> 2 x 735 = 1470; weeks 5+: KTC 2 x (2 x 10 x 10) = 400, ham 2 x 5 x 10 = 100 -> 500 x 7
    expected_dose = [735, 735, 1470, 1470] + [3500] * 8
    assert load["dose"].tolist() == expected_dose
    assert load["week"].tolist() == list(range(1, 13))
    assert load["week_start"].iloc[4] == d("2026-10-05")
    # week 5: chronic mean of weeks 1-4 = (735 + 735 + 1470 + 1470) / 4 = 1102.5; 3500 / 1102.5 = 3.1746
    # week 6: (735 + 1470 + 1470 + 3500) / 4 = 1793.75; 3500 / 1793.75 = 1.9512
    # week 7: (1470 + 1470 + 3500 + 3500) / 4 = 2485;   3500 / 2485 = 1.4085 (below 1.5)
    assert load["chronic_mean"].iloc[4:7].tolist() == pytest.approx([1102.5, 1793.75, 2485.0])
    assert load["acwr"].iloc[4:7].tolist() == pytest.approx([3500 / 1102.5, 3500 / 1793.75, 3500 / 2485])
    assert load["acwr"].iloc[:4].isna().all()
    # change week 3: 1470 - 735 = 735, +100 %; week 5: 2030, 2030 / 1470 = 138.1 %
    assert load["change_pct"].iloc[2] == pytest.approx(100.0)
    assert load["change_pct"].iloc[4] == pytest.approx(2030 / 1470 * 100)
    assert load["steep"].tolist() == [False] * 4 + [True, True] + [False] * 6
    steep = steep_weeks(load)
    assert steep["week"].tolist() == [5, 6]
    assert steep["message"].iloc[0].startswith("Week 5: planned load 3,500 is 3.17 x")


def test_steep_threshold_follows_settings() -> None:
    load = planned_weekly_load(SEED, 12, settings=DEFAULT_SETTINGS.replace(acwr_max=2.0))
    assert steep_weeks(load, settings=DEFAULT_SETTINGS.replace(acwr_max=2.0))["week"].tolist() == [5]
    assert not planned_weekly_load(template("seed_back_programme_flat").programme, 12)["steep"].any()


def test_planned_periods_are_fully_adherent_when_done_as_planned() -> None:
    # Independent check through analysis.adherence: log one session per prescribed session (7/week, every day)
    periods = programme_to_prescriptions("P1", START, SEED, weeks=4)
    days = pd.date_range(START, periods=28, freq="D")
    sessions = pd.DataFrame({"patient_id": "P1", "performed_at": days, "exercise": "knee_to_chest", "side": "left",
                             "sets": 1, "reps": 10, "hold_s": 5.0})
    patients = pd.DataFrame({"patient_id": ["P1"], "physio_id": ["x"], "programme_start": [START]})
    weekly = weekly_adherence(sessions, periods, patients, as_of=d("2026-10-04"))
    assert weekly["adherence_rate"].tolist() == pytest.approx([1.0] * 4)


# ------------------------------------------------------------------ edits


def test_edit_at_week_5_keeps_weeks_1_to_4() -> None:
    old = programme_to_prescriptions("P1", START, SEED, weeks=12)
    new_programme = Programme(SEED.items, Progression.parse("weeks 1-2: 1 set, weeks 3+: 2 sets"))
    new = programme_to_prescriptions("P1", START, new_programme, weeks=12)
    week5 = d("2026-10-05")
    edit = edit_prescriptions(old, new, week5)
    before = old[old["end_date"] < week5]
    # weeks 1-4 periods (6 rows ending 09-20 or 10-04) are kept, identical
    pd.testing.assert_frame_equal(edit.kept, before.reset_index(drop=True))
    assert len(edit.kept) == 6 and edit.closed.empty
    # the planned hold-10 periods starting 10-05 are replaced by the new 2-set / 5 s periods from 10-05
    assert len(edit.removed) == 3 and (edit.removed["hold_s"] > 9).all()
    assert rows(edit.added) == [
        ("hamstring_stretch", "both", 2, 5, 0.0, "2026-10-05", "2026-11-29"),
        ("knee_to_chest", "left", 2, 10, 5.0, "2026-10-05", "2026-11-29"),
        ("knee_to_chest", "right", 2, 10, 5.0, "2026-10-05", "2026-11-29")]
    result = edit.result
    assert len(result) == 9
    pd.testing.assert_frame_equal(result[result["end_date"] < week5].reset_index(drop=True),
                                  before.reset_index(drop=True))


def test_edit_mid_period_closes_the_day_before() -> None:
    old = programme_to_prescriptions("P1", START, SEED, weeks=12)
    new = programme_to_prescriptions("P1", START, Programme((ProgrammeItem("bridge", reps=8),)), weeks=12)
    when = d("2026-10-14")  # day 37, inside the weeks 5-12 periods
    edit = edit_prescriptions(old, new, when)
    assert len(edit.closed) == 3 and (edit.closed["end_date"] == d("2026-10-13")).all()
    assert (edit.closed["start_date"] == d("2026-10-05")).all()
    assert len(edit.kept) == 6 and edit.removed.empty
    # the bridge starts on the edit date, not at week 1
    assert rows(edit.added) == [("bridge", "both", 1, 8, 0.0, "2026-10-14", "2026-11-29")]
    # no day of any exercise/side is covered twice
    for _, g in edit.result.groupby(["exercise", "side"]):
        g = g.sort_values("start_date")
        assert (g["start_date"].iloc[1:].to_numpy() > g["end_date"].iloc[:-1].to_numpy()).all()


def test_edit_rejects_other_patient() -> None:
    old = programme_to_prescriptions("P1", START, SEED)
    with pytest.raises(ProgrammeError, match="one patient"):
        edit_prescriptions(old, programme_to_prescriptions("P2", START, SEED), START)


@given(edit_day=st.integers(min_value=1, max_value=90), weeks=st.integers(min_value=1, max_value=14))
def test_edit_never_changes_days_before(edit_day: int, weeks: int) -> None:
    old = programme_to_prescriptions("P1", START, SEED, weeks=weeks)
    new = programme_to_prescriptions("P1", START, template("gentle_low_back").programme, weeks=weeks)
    when = START + pd.Timedelta(days=edit_day)
    result = edit_prescriptions(old, new, when).result

    def dose_by_day(frame: pd.DataFrame) -> dict:
        out = {}
        for r in frame.itertuples():
            end = r.end_date if pd.notna(r.end_date) else START + pd.Timedelta(days=200)
            for day in pd.date_range(r.start_date, min(end, when - pd.Timedelta(days=1))):
                key = (r.exercise, r.side, day)
                assert key not in out  # never two periods on one day
                out[key] = (r.sets, r.reps, r.hold_s, r.sessions_per_week)
        return out

    assert dose_by_day(result) == dose_by_day(old)


def test_templates_round_trip_and_instructions() -> None:
    from analysis.exercises import EXERCISES

    for t in TEMPLATES.values():
        assert template_from_dict(template_to_dict(t)) == t
        for item in t.programme.items:
            assert EXERCISES[item.exercise].instruction.endswith("stop if it hurts.")
    with pytest.raises(ProgrammeError):
        template_from_dict({"key": "x"})


def test_plot_planned_load_marks_steep_weeks() -> None:
    import matplotlib.pyplot as plt

    from analysis.plots import plot_planned_load

    fig = plot_planned_load(planned_weekly_load(SEED, 12), acwr_max=1.5, chronic_weeks=4)
    bars = fig.axes[0].patches
    hatched = [i + 1 for i, b in enumerate(bars[:12]) if b.get_hatch()]
    assert hatched == [5, 6]  # the two steep weeks computed by hand above
    assert [b.get_height() for b in bars[:5]] == [735, 735, 1470, 1470, 3500]
    plt.close(fig)


_DOSE = st.fixed_dictionaries({}, optional={
    "sets": st.integers(1, 20), "reps": st.integers(1, 100), "hold_s": st.sampled_from([0.0, 5.0, 10.0, 30.0]),
    "sessions_per_week": st.integers(1, 14)})


@given(base=st.lists(st.tuples(st.sampled_from(["bridge", "cat_cow", "pelvic_tilt"]), st.integers(1, 3)),
                     min_size=1, max_size=3, unique_by=lambda t: t[0]),
       steps=st.dictionaries(st.integers(1, 14), _DOSE, max_size=4),
       weeks=st.integers(1, 14))
def test_periods_match_a_week_by_week_replay(base: list, steps: dict, weeks: int) -> None:
    items = tuple(ProgrammeItem(ex, sets=sets) for ex, sets in base)
    prog = Progression(tuple(ProgressionStep(w, **c) for w, c in steps.items()))
    periods = programme_to_prescriptions("P1", START, Programme(items, prog), weeks=weeks)
    for item in items:
        # naive replay of the rule "each step changes what it names from its week on; the rest carries over"
        dose = {"sets": item.sets, "reps": item.reps, "hold_s": item.hold_s, "sessions_per_week": 7}
        mine = periods[periods["exercise"] == item.exercise]
        # periods tile days 0 .. 7 weeks - 1 exactly: no gap, no overlap
        assert mine["start_date"].iloc[0] == START
        assert mine["end_date"].iloc[-1] == START + pd.Timedelta(days=7 * weeks - 1)
        assert ((mine["start_date"].iloc[1:].to_numpy() - mine["end_date"].iloc[:-1].to_numpy())
                == pd.Timedelta(days=1)).all()
        for week in range(1, weeks + 1):
            dose.update(steps.get(week, {}))
            day = START + pd.Timedelta(days=7 * (week - 1) + 3)
            [row] = mine[(mine["start_date"] <= day) & (mine["end_date"] >= day)].itertuples()
            assert (row.sets, row.reps, row.hold_s, row.sessions_per_week) == (
                dose["sets"], dose["reps"], dose["hold_s"], dose["sessions_per_week"])


def test_the_default_template_respects_the_apps_own_load_rule() -> None:
    """Issue 18: the shipped default builds gradually, so no planned week trips the rapid-load warning."""
    default = template(DEFAULT_TEMPLATE)
    assert next(iter(TEMPLATES)) == DEFAULT_TEMPLATE  # the page offers it first
    assert default.programme.progression.describe() == GRADUAL_PROGRESSION
    load = planned_weekly_load(default.programme, 12, programme_start=START)
    # by hand, per session: KTC left + right, hamstring (no hold counts 1 s); x 7 sessions a week
    # weeks 1-2: 2 x (1 x 10 x 5) + 1 x 5 x 1 = 105 -> 735;  weeks 3-5: 2 sets -> 1470
    # weeks 6-7: KTC 2 x (2 x 10 x 6) = 240 + ham 2 x 5 = 10 -> 1750;  weeks 8-9: 2 x 160 + 10 = 330 -> 2310
    # weeks 10-12: 2 x 200 + 10 = 410 -> 2870
    assert load["dose"].tolist() == [735, 735, 1470, 1470, 1470, 1750, 1750, 2310, 2310, 2870, 2870, 2870]
    # acute:chronic from week 5 (4 weeks before it): the steepest are week 8, 2310 / ((1470 + 1470 + 1750 + 1750) / 4)
    # = 2310 / 1610 = 1.435, and week 10, 2870 / ((1750 + 1750 + 2310 + 2310) / 4) = 2870 / 2030 = 1.414
    assert load["acwr"].max() == pytest.approx(2310 / 1610)
    assert load["acwr"].max() <= DEFAULT_SETTINGS.acwr_max
    # through the app's own rule, for every programme length a physio can choose
    for weeks in (4, 6, 12, 26, 52):
        assert steep_weeks(planned_weekly_load(default.programme, weeks, programme_start=START)).empty, weeks
    # the faster seed progression is still offered, and says in its name that it is steeper
    fast = steep_weeks(planned_weekly_load(template("seed_back_programme").programme, 12, programme_start=START))
    assert fast["week"].tolist() == [5, 6] and "steeper than the load flag" in template("seed_back_programme").name
