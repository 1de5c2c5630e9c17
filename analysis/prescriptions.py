"""The prescription in force: which dose of each exercise and side applies on a day or in a week.

One rule, used by every reader of the ``prescriptions`` table (adherence, the
patient's "My progress" and "Log today" pages, the physio's "Prescribe" page):

* a **period** is one ``prescriptions`` row: a dose of one exercise and side from
  ``start_date`` to ``end_date`` inclusive (empty = open-ended);
* a later period of the same patient, exercise and side **replaces** an earlier
  one from its start date on: a dose change is a new row, the old row need not
  be closed (its effective end becomes the day before the new start). Two
  periods starting on the same day: the later row wins;
* an open-ended period stays in force until it is replaced.

Periods that cannot be in force at all are not periods: no ``start_date``, a
dose of 0 or missing (``sets``, ``reps`` or ``sessions_per_week``), or an
``end_date`` before the ``start_date``. :mod:`analysis.adherence` lists them
with their reason (``excluded_rows``).

:func:`period_ends` is the rule on integer day numbers (vectorised, used by
:mod:`analysis.adherence` on the programme clock); :func:`periods_in_force`,
:func:`dose_in_force` and :func:`week_plan` apply it to the canonical table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from analysis.exercises import EXERCISES
from analysis.timeline import DateLike, epoch_days, from_epoch_days, numeric_values, to_day, week_of_day
from analysis.validation import checks_tables

__all__ = [
    "OPEN_END",
    "PLAN_STATUSES",
    "WeekPlan",
    "period_ends",
    "usable_periods",
    "periods_in_force",
    "dose_in_force",
    "week_plan",
]

#: Effective end of an open-ended period that nothing replaces ("in force until further notice").
OPEN_END: int = np.iinfo(np.int64).max // 4

#: Values of :attr:`WeekPlan.status`.
PLAN_STATUSES: tuple[str, ...] = ("current", "finished", "not started", "none")

_PLAN_COLUMNS = ["exercise", "sides", "sets", "reps", "hold_s", "sessions_per_week", "period", "instruction"]
_UNKNOWN_INSTRUCTION = "Do it as your physio showed you. Move slowly and gently; stop if it hurts."
_SIDE_WORDS = {frozenset({"left", "right"}): "left and right", frozenset({"left"}): "left",
               frozenset({"right"}): "right", frozenset({"both"}): "both sides together"}


def period_ends(
    keys: Sequence[np.ndarray], first: np.ndarray, last: np.ndarray, has_last: np.ndarray
) -> np.ndarray:
    """Last day each prescription period is in force, on any integer day axis.

    Parameters
    ----------
    keys
        Integer codes that together name a patient, exercise and side (e.g.
        ``(patient_code, exercise_code, side_code)``), one array per key, one
        value per period. Only equality matters.
    first
        First day of each period (int64 day numbers: epoch days or programme days).
    last
        Last day of each period (``end_date``); ignored where ``has_last`` is False.
    has_last
        Whether the period has an ``end_date`` (False = open-ended).

    Returns
    -------
    numpy.ndarray of int64
        Per period, its last day in force: its own ``last``, or the day before the
        next period of the same key starts if that is earlier; :data:`OPEN_END`
        for an open-ended period that no later period replaces. A value below
        ``first`` means the period is replaced on (or before) its first day: it is
        never in force.

    See Also
    --------
    periods_in_force : The same rule on the canonical ``prescriptions`` table.
    analysis.adherence.weekly_adherence : Counts prescribed sessions with these ends.

    Notes
    -----
    Periods are ordered by key, then first day, then position; each period's
    successor is the next one in that order with the same key. Cost: one sort.

    Examples
    --------
    An open-ended 1-set period from day 0 and a new dose from day 14:

    >>> ends = period_ends([np.array([0, 0])], np.array([0, 14]), np.array([0, 0]), np.array([False, False]))
    >>> int(ends[0]), bool(ends[1] == OPEN_END)
    (13, True)
    """
    n = len(first)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.asarray(first, dtype=np.int64)
    order = np.lexsort((np.arange(n), first, *[np.asarray(k) for k in reversed(keys)]))
    key = np.stack([np.asarray(k)[order] for k in keys])
    has_next = np.append((key[:, 1:] == key[:, :-1]).all(axis=0), False)
    next_start = np.append(first[order][1:], 0)
    end = np.where(np.asarray(has_last, dtype=bool)[order], np.asarray(last, dtype=np.int64)[order], OPEN_END)
    end = np.where(has_next, np.minimum(end, next_start - 1), end)
    out = np.empty(n, dtype=np.int64)
    out[order] = end
    return out


def usable_periods(prescriptions: pd.DataFrame) -> np.ndarray:
    """Which ``prescriptions`` rows are periods at all (see the module docstring).

    Parameters
    ----------
    prescriptions
        Canonical ``prescriptions`` rows.

    Returns
    -------
    numpy.ndarray of bool
        True where the row has a ``start_date``, ``sets``, ``reps`` and
        ``sessions_per_week`` above 0, and no ``end_date`` before its ``start_date``.

    See Also
    --------
    periods_in_force : Applies the replacement rule to the usable rows.
    """
    start, has_start = epoch_days(prescriptions["start_date"])
    end, has_end = epoch_days(prescriptions["end_date"]) if "end_date" in prescriptions.columns else (
        np.zeros(len(prescriptions), np.int64), np.zeros(len(prescriptions), bool))
    with np.errstate(invalid="ignore"):
        dose_ok = ((numeric_values(prescriptions, "sets") > 0) & (numeric_values(prescriptions, "reps") > 0)
                   & (numeric_values(prescriptions, "sessions_per_week") > 0))
    return np.asarray(has_start & dose_ok & ~(has_end & (end < start)), dtype=bool)


@checks_tables(prescriptions="prescriptions")
def periods_in_force(prescriptions: pd.DataFrame) -> pd.DataFrame:
    """The prescription periods with the last day each is in force.

    Parameters
    ----------
    prescriptions
        Canonical ``prescriptions`` rows (:mod:`analysis.schema`), any patients.

    Returns
    -------
    pandas.DataFrame
        The usable periods (:func:`usable_periods`) that are in force on at least
        one day, in input order and with the input's columns and index, plus
        ``in_force_until`` (datetime64[ns], date): the last day the period is in
        force, ``NaT`` when it is open-ended and not replaced.

    See Also
    --------
    period_ends : The rule on day numbers.
    dose_in_force : The periods in force on one day.
    week_plan : The periods in force in one programme week, in words.

    Examples
    --------
    >>> rx = pd.DataFrame({
    ...     "patient_id": ["P1", "P1"], "exercise": ["bridge", "bridge"], "side": ["both", "both"],
    ...     "sets": [1, 3], "reps": [10, 10], "hold_s": [0.0, 0.0], "sessions_per_week": [5, 5],
    ...     "start_date": pd.to_datetime(["2026-09-07", "2026-09-21"]), "end_date": pd.to_datetime([None, None])})
    >>> periods_in_force(rx)[["sets", "in_force_until"]]
       sets in_force_until
    0     1     2026-09-20
    1     3            NaT
    """
    usable = np.flatnonzero(usable_periods(prescriptions))
    rows = prescriptions.iloc[usable]
    start, _ = epoch_days(rows["start_date"])
    end, has_end = epoch_days(rows["end_date"]) if "end_date" in rows.columns else (
        np.zeros(len(rows), np.int64), np.zeros(len(rows), bool))
    keys = [pd.factorize(rows[c].astype("string"), use_na_sentinel=False)[0]
            for c in ("patient_id", "exercise", "side")]
    until = period_ends(keys, start, end, has_end)
    in_force = until >= start
    out = rows.loc[in_force].copy()
    open_ended = until[in_force] == OPEN_END
    out["in_force_until"] = pd.Series(from_epoch_days(np.where(open_ended, 0, until[in_force])),
                                      index=out.index).mask(open_ended)
    return out


@checks_tables(prescriptions="prescriptions")
def dose_in_force(prescriptions: pd.DataFrame, day: DateLike, *, patient_id: str | None = None) -> pd.DataFrame:
    """The prescription periods in force on one day: at most one per patient, exercise and side.

    Parameters
    ----------
    prescriptions
        Canonical ``prescriptions`` rows.
    day
        The day (its time of day is ignored).
    patient_id
        Only this patient's periods (default: every patient).

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`periods_in_force` whose ``start_date <= day`` and whose
        ``in_force_until`` is on or after ``day`` (or open), in input order.

    See Also
    --------
    periods_in_force : Every period with its effective end.
    analysis.entries.todays_checklist : The periods in force on a day, as a checklist.
    analysis.programmes.items_in_force : The dose in force as programme items.

    Examples
    --------
    >>> rx = pd.DataFrame({
    ...     "patient_id": ["P1", "P1"], "exercise": ["bridge", "bridge"], "side": ["both", "both"],
    ...     "sets": [1, 3], "reps": [10, 10], "hold_s": [0.0, 0.0], "sessions_per_week": [5, 5],
    ...     "start_date": pd.to_datetime(["2026-09-07", "2026-09-21"]), "end_date": pd.to_datetime([None, None])})
    >>> dose_in_force(rx, "2026-10-01")["sets"].tolist()
    [3]
    """
    rx = prescriptions
    if patient_id is not None:
        rx = rx.loc[(rx["patient_id"].astype("string") == str(patient_id)).fillna(False).to_numpy(dtype=bool)]
    periods = periods_in_force(rx)
    d = to_day(day)
    active = (periods["start_date"] <= d) & (periods["in_force_until"].isna() | (periods["in_force_until"] >= d))
    return periods.loc[active.to_numpy(dtype=bool)]


class WeekPlan(NamedTuple):
    """One patient's exercises for one programme week (see :func:`week_plan`)."""

    week: int
    status: str
    plan: pd.DataFrame


@checks_tables(prescriptions="prescriptions")
def week_plan(prescriptions: pd.DataFrame, programme_start: DateLike, when: DateLike) -> WeekPlan:
    """One patient's exercises for the programme week containing ``when``, in words.

    Parameters
    ----------
    prescriptions
        One patient's canonical ``prescriptions`` rows.
    programme_start
        Their programme start (day 0).
    when
        The analysis date.

    Returns
    -------
    WeekPlan
        A named tuple ``(week, status, plan)``:

        week : int
            Programme week of ``when`` (:func:`analysis.timeline.week_of_day`;
            0 or less before the start).
        status : str
            ``'current'`` (the periods in force during the week), ``'upcoming'``
            (nothing in force this week, a new period starts later, e.g. a new
            programme prescribed from next week: the periods in force on the next
            start day are given), ``'finished'`` (nothing is in force from this
            week on and nothing starts later: the periods in force on the last
            prescribed day are given), ``'not started'`` (the programme starts
            later: the first week's periods) or ``'none'`` (no period at all).
        plan : pandas.DataFrame
            One row per exercise and dose: ``exercise`` (label), ``sides`` (``'left
            and right'``, ``'left'``, ``'right'``, ``'both sides together'``),
            ``sets``, ``reps`` (Int64), ``hold_s`` (float64, s),
            ``sessions_per_week`` (Int64), ``period`` (``''`` when the dose holds the
            whole week, else ``'from 7 Oct'`` / ``'until 6 Oct'``: a change within the
            week) and ``instruction`` (text ending with "stop if it hurts").

    See Also
    --------
    periods_in_force : The effective end of every period (a replaced dose ends the day before).
    dose_in_force : The periods in force on one day.

    Notes
    -----
    A period is in the week when ``start_date <= week end`` and its
    ``in_force_until`` is empty or ``>= week start``. An open-ended period
    followed by a new dose ends the day before the new dose starts, so only the
    dose in force is listed.
    """
    start = to_day(programme_start)
    week = int(week_of_day((to_day(when) - start).days))
    first = start + pd.Timedelta(days=7 * (week - 1))
    last = first + pd.Timedelta(days=6)
    rx = periods_in_force(prescriptions)
    until = rx["in_force_until"].fillna(pd.Timestamp.max)
    if rx.empty:
        status, rows = "none", rx
    elif week < 1:
        rows, status = rx[(rx["start_date"] <= start + pd.Timedelta(days=6)) & (until >= start)], "not started"
    else:
        rows, status = rx[(rx["start_date"] <= last) & (until >= first)], "current"
        later = rx["start_date"] > last
        if rows.empty and bool(later.any()):
            next_day = rx.loc[later, "start_date"].min()
            rows, status = rx[(rx["start_date"] <= next_day) & (until >= next_day)], "upcoming"
        elif rows.empty and bool((until < first).all()):
            last_day = until.max()
            rows, status = rx[(rx["start_date"] <= last_day) & (until >= last_day)], "finished"
    if rows.empty:
        return WeekPlan(week, status, pd.DataFrame({c: pd.Series(dtype=object) for c in _PLAN_COLUMNS}))
    dose = ["exercise", "sets", "reps", "hold_s", "sessions_per_week", "start_date", "in_force_until"]
    grouped = (rows.assign(exercise=rows["exercise"].astype(str), side=rows["side"].astype(str))
               .groupby(dose, sort=False, dropna=False)["side"].agg(lambda s: frozenset(s)).reset_index())
    if status == "current":
        starts_inside = grouped["start_date"] > first
        ends_inside = grouped["in_force_until"].notna() & (grouped["in_force_until"] < last)
        grouped["period"] = [
            f"from {a:%-d %b}" if si else (f"until {b:%-d %b}" if ei else "")
            for a, b, si, ei in zip(grouped["start_date"], grouped["in_force_until"], starts_inside, ends_inside,
                                    strict=True)]
    else:
        grouped["period"] = ""
    grouped["sides"] = grouped["side"].map(lambda s: _SIDE_WORDS.get(s, " and ".join(sorted(s))))
    known = grouped["exercise"].map(lambda k: EXERCISES.get(k))
    grouped["instruction"] = known.map(lambda e: e.instruction if e is not None else _UNKNOWN_INSTRUCTION)
    grouped["exercise"] = [e.label if e is not None else k for e, k in zip(known, grouped["exercise"], strict=True)]
    return WeekPlan(week, status, grouped[_PLAN_COLUMNS].reset_index(drop=True))
