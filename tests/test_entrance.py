"""Out-of-range input to the library's public functions raises one clear, typed error (issue 15, item 3).

Every canonical table is checked at the entrance of the public functions that take it
(:func:`analysis.validation.checks_tables`): all failures at once, naming the table, the
rows (index labels), the column and the rule. One test per table with values outside the
ranges of analysis/schema.py, plus the "checked once" contract of the internal flag.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from analysis import validation
from analysis.adherence import adherence_summary
from analysis.cohort import cohort_summary
from analysis.errors import InvalidTableError, RehabtrackError
from analysis.flags import safety_flags
from analysis.outcomes import pain_change
from analysis.patient_detail import patient_detail
from analysis.prescriptions import dose_in_force
from analysis.sample_data import SNAPSHOT_DATE, load_cohort
from analysis.schema import CohortTables
from analysis.scoring import score_proms
from analysis.trends import pain_trends
from analysis.validation import check_tables, table_problems, tables_trusted, trusted_tables

AS_OF = pd.Timestamp(SNAPSHOT_DATE)


@cache
def sample() -> CohortTables:
    return load_cohort()


def with_values(table: str, column: str, rows: dict[int, object]) -> CohortTables:
    """The sample cohort with some cells of one table replaced (by position)."""
    c = sample()
    frame = getattr(c, table).copy()
    if frame[column].dtype.name in ("Int64", "float64", "int64"):
        frame[column] = frame[column].astype("float64")  # room for 2.5 or 150 in an integer column
    for pos, value in rows.items():
        frame.iloc[pos, frame.columns.get_loc(column)] = value
    tables = {name: getattr(c, name) for name in ("patients", "prescriptions", "sessions", "pain", "proms")}
    tables[table] = frame
    return CohortTables(**tables)


def raised(cohort: CohortTables) -> InvalidTableError:
    with pytest.raises(InvalidTableError) as info:
        cohort_summary(cohort, as_of=AS_OF)
    return info.value


def test_pain_11_and_minus_1_are_refused_by_the_summary_with_table_rows_column_and_rule() -> None:
    error = raised(with_values("pain", "nprs", {3: 11, 7: -1}))
    text = str(error)
    assert error.tables == ("pain",)
    assert "pain.nprs, rule 'range': nprs must be a whole number from 0 to 10" in text
    assert "2 rows, index (value): 3 (11), 7 (-1)" in text
    assert "nothing was computed" in text and "cohort_summary" in text
    (problem,) = error.problems
    assert problem[:5] == ("pain", "nprs", "range", (3, 7), ("11", "-1"))
    assert isinstance(error, RehabtrackError) and isinstance(error, ValueError)


def test_pain_rating_of_6_5_breaks_the_whole_number_rule() -> None:
    error = raised(with_values("pain", "nprs", {0: 6.5}))
    assert [p[:4] for p in error.problems] == [("pain", "nprs", "whole_number", (0,))]


def test_sessions_pain_during_15_and_sets_50_are_both_reported_at_once() -> None:
    c = sample()
    sessions = c.sessions.astype({"pain_during": "float64", "sets": "float64"})
    sessions.iloc[2, sessions.columns.get_loc("pain_during")] = 15
    sessions.iloc[5, sessions.columns.get_loc("sets")] = 50
    error = raised(CohortTables(c.patients, c.prescriptions, sessions, c.pain, c.proms))
    assert [(p[1], p[2], p[3]) for p in error.problems] == [("sets", "range", (5,)), ("pain_during", "range", (2,))]
    assert "sessions.pain_during, rule 'range': pain_during must be a whole number from 0 to 10" in str(error)


def test_prescriptions_with_0_sets_and_30_sessions_a_week_are_refused() -> None:
    c = with_values("prescriptions", "sets", {1: 0})
    rx = c.prescriptions.assign(sessions_per_week=c.prescriptions["sessions_per_week"].astype("float64"))
    rx.iloc[4, rx.columns.get_loc("sessions_per_week")] = 30
    error = raised(CohortTables(c.patients, rx, c.sessions, c.pain, c.proms))
    assert {(p[1], p[3]) for p in error.problems} == {("sets", (1,)), ("sessions_per_week", (4,))}
    assert "sets must be a whole number from 1 to 20" in str(error)
    assert "sessions_per_week must be a whole number from 1 to 14" in str(error)
    with pytest.raises(InvalidTableError, match="dose_in_force"):
        dose_in_force(rx, "2026-10-01")


def test_patients_with_an_unknown_age_band_and_no_programme_start_are_refused() -> None:
    c = sample()
    patients = c.patients.copy()
    patients.loc[0, "age_band"] = "17-20"
    patients.loc[2, "programme_start"] = pd.NaT
    error = raised(CohortTables(patients, c.prescriptions, c.sessions, c.pain, c.proms))
    assert {(p[1], p[2], p[3]) for p in error.problems} == {
        ("programme_start", "required", (2,)), ("age_band", "vocabulary", (0,))}
    assert "age_band must be 18-29, 30-39, 40-49, 50-59, 60-69, 70-79 or 80+" in str(error)


def test_proms_value_150_and_an_unknown_instrument_are_refused() -> None:
    c = with_values("proms", "value", {0: 150})
    proms = c.proms.copy()
    proms["instrument"] = proms["instrument"].astype(object)
    proms.iloc[1, proms.columns.get_loc("instrument")] = "sf36"
    with pytest.raises(InvalidTableError) as info:
        score_proms(proms)
    assert {(p[1], p[2], p[3]) for p in info.value.problems} == {
        ("value", "range", (0,)), ("instrument", "vocabulary", (1,))}
    assert "score_proms" in str(info.value)


def test_every_public_entrance_checks_its_tables() -> None:
    c = with_values("pain", "nprs", {0: 11})
    calls = [
        lambda: pain_trends(c.pain, c.patients),
        lambda: pain_change(c.pain, c.patients),
        lambda: safety_flags(c.sessions, c.pain, c.patients, as_of=AS_OF),
        lambda: adherence_summary(c.sessions, c.prescriptions, c.patients, pain=c.pain, as_of=AS_OF),
        lambda: patient_detail(c, "P001", as_of=AS_OF),
    ]
    for call in calls:
        with pytest.raises(InvalidTableError, match=r"pain\.nprs, rule 'range'"):
            call()


def test_failures_of_two_tables_come_in_one_error() -> None:
    c = with_values("pain", "nprs", {0: 12})
    sessions = c.sessions.assign(rpe=c.sessions["rpe"].astype("float64"))
    sessions.iloc[1, sessions.columns.get_loc("rpe")] = 11
    error = raised(CohortTables(c.patients, c.prescriptions, sessions, c.pain, c.proms))
    assert error.tables == ("sessions", "pain")
    assert str(error).startswith("the sessions and pain tables passed to cohort_summary have 2 values")


def test_text_and_missing_values_name_their_rule() -> None:
    pain = pd.DataFrame({"patient_id": ["P1", None, "P1"], "nprs": ["4", "5", "a lot"],
                         "recorded_at": ["2026-09-08 20:00", "2026-09-09 20:00", "not a date"]})
    found = {(p[1], p[2], p[3]) for p in table_problems(pain, "pain")}
    assert found == {("patient_id", "required", (1,)), ("recorded_at", "date", (2,)), ("nprs", "number", (2,))}


def test_valid_tables_pass_and_the_sample_is_valid() -> None:
    c = sample()
    check_tables({"cohort": c})  # no error
    assert table_problems(c.pain, "pain") == []


def test_the_summary_checks_each_table_once_then_trusts_its_internal_calls(monkeypatch) -> None:
    seen: list[str] = []
    original = validation.table_problems

    def counting(frame: pd.DataFrame, table: str) -> list:
        seen.append(str(table))
        return original(frame, table)

    monkeypatch.setattr(validation, "table_problems", counting)
    cohort_summary(sample(), as_of=AS_OF)
    assert sorted(seen) == ["pain", "patients", "prescriptions", "proms", "sessions"]
    assert not tables_trusted()  # the flag is reset after the call


def test_trusted_tables_skips_the_check_for_already_checked_data() -> None:
    c = with_values("pain", "nprs", {0: 11})
    with trusted_tables():
        assert tables_trusted()
        trends = pain_trends(c.pain, c.patients)  # no error: the caller vouches for the rows
    assert len(trends) == len(c.patients)
    assert np.isfinite(trends["trend_slope_per_week"]).any()


# ---- issue 19: the numeric checks judged on whole columns (min/max first, rule codes) -------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _rules_row_by_row(values: list[object], column: str, table: str) -> dict[str, list[int]]:
    """The failing rows of one numeric column by rule, judged one value at a time (the reference)."""
    from analysis.schema import table_spec

    col = next(c for c in table_spec(table).columns if c.name == column)
    out: dict[str, list[int]] = {}
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            rule = "required" if col.required else None
        elif not np.isfinite(float(v)):  # type: ignore[arg-type]
            rule = "number"
        elif (col.min is not None and float(v) < col.min) or (col.max is not None and float(v) > col.max):  # type: ignore[arg-type]
            rule = "range"
        elif col.dtype == "Int64" and float(v) != np.floor(float(v)):  # type: ignore[arg-type]
            rule = "whole_number"
        else:
            rule = None
        if rule is not None:
            out.setdefault(rule, []).append(i)
    return out


_NUMBERS = st.one_of(st.none(), st.integers(-30, 700), st.floats(-30, 700),
                     st.sampled_from([float("nan"), float("inf"), float("-inf"), 0.5, 10.0, 20.0, 600.0]))


@settings(max_examples=150, deadline=None)
@given(values=st.lists(_NUMBERS, min_size=1, max_size=30),
       target=st.sampled_from([("sessions", "sets"), ("sessions", "hold_s"), ("sessions", "pain_during"),
                               ("pain", "nprs")]),
       as_int=st.booleans())
def test_numeric_rules_of_the_entrance_check_equal_a_row_by_row_reading(
        values: list[object], target: tuple[str, str], as_int: bool) -> None:
    table, column = target
    floats = [np.nan if v is None else float(v) for v in values]  # type: ignore[arg-type]
    present = [f for f in floats if not np.isnan(f)]
    if as_int and all(np.isfinite(f) and f == int(f) for f in present):  # an Int64 column, as the store reads it
        series = pd.Series(pd.array([None if np.isnan(f) else int(f) for f in floats], dtype="Int64"))
    else:
        series = pd.Series(floats, dtype="float64")
    frame = pd.DataFrame({column: series})
    found = {check: list(rows) for _, _, check, rows, _, _, count in table_problems(frame, table)}
    reference = _rules_row_by_row([None if np.isnan(f) else f for f in floats], column, table)
    assert found == {rule: rows[: validation.MAX_ROWS_LISTED] for rule, rows in reference.items()}
