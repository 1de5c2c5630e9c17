"""Adherence to the home exercise programme: sessions, dose, streaks and logging.

Implements docs/clinical-reference.md section 4 on the programme clock of
:mod:`analysis.timeline` (day 0 = ``programme_start``, week = ``day // 7 + 1``).

Definitions shared by every function
------------------------------------
Session day
    A calendar day with at least one ``sessions`` row with ``sets > 0``. Two
    sessions on one day count once: adherence counts days, not rows.
Prescription period
    One ``prescriptions`` row: ``sessions_per_week`` sessions of ``sets x reps``
    (holding ``hold_s`` seconds) of one exercise and side, from ``start_date`` to
    ``end_date`` inclusive. A later period of the same exercise and side replaces
    an earlier one from its start date on (a dose change is a new row; the old
    row need not be closed). An open-ended period runs until it is replaced, or
    else up to the analysis date ``as_of`` (or its own start, if later).
Programme weeks
    Week 1 to the week holding the last day of any period (so an open-ended
    programme ends in the week holding ``as_of``); weeks after ``as_of`` are kept
    and marked ``'not yet'``. A patient with no usable prescription has no weeks.
Analysis day
    Data up to and including ``as_of`` count; ``as_of`` itself is the day of the
    analysis and not yet over, so the *elapsed* days of a week are its whole days
    before ``as_of`` (:func:`analysis.timeline.resolve_as_of`; default: the day
    after the last entry).
Week status
    ``'complete'``: the week ended before ``as_of``; ``'in progress'``: it
    contains ``as_of`` (partial: prescribed sessions are pro-rated over its
    elapsed whole days, 0 on its first day); ``'not yet'``: it starts after
    ``as_of``; ``'stopped logging'``: a complete week that starts
    after the patient's last session or pain entry, when that entry is at least
    ``settings.logging_stopped_days`` before ``as_of`` (with no entry at all the
    silence is counted from the programme start).
Counted rows
    Session rows of patients in ``patients``, dated from the programme start to
    ``as_of`` and inside the programme weeks. Every other row is listed, with its
    reason, by :func:`excluded_rows`; nothing is dropped without a trace.

All functions are vectorised over the cohort (a patient-week x 7-day grid, the
fastest layout measured on this machine); none loops over patients.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.prescriptions import OPEN_END, period_ends
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.timeline import (
    NO_DAY,
    DateLike,
    check_registry,
    epoch_day,
    epoch_days,
    from_epoch_days,
    last_entry_days,
    numeric_values,
    patient_codes,
    resolve_as_of,
    silence_from,
    stopped_logging,
    week_of_day,
)
from analysis.validation import checks_tables

__all__ = [
    "WEEK_STATUSES",
    "SUMMARY_STATUSES",
    "EXCLUSION_REASONS",
    "session_dose",
    "weekly_adherence",
    "dose_completion",
    "dose_completion_summary",
    "adherence_summary",
    "excluded_rows",
]

logger = logging.getLogger(__name__)

#: Values of ``status`` in the weekly tables, in this category order.
WEEK_STATUSES: tuple[str, ...] = ("complete", "in progress", "not yet", "stopped logging")
_COMPLETE, _IN_PROGRESS, _NOT_YET, _STOPPED = range(4)

#: Values of ``status`` in :func:`adherence_summary`, in this category order.
SUMMARY_STATUSES: tuple[str, ...] = ("on track", "low adherence", "stopped logging", "not started")

#: Reasons :func:`excluded_rows` gives for a row no weekly table counts.
EXCLUSION_REASONS: dict[str, str] = {
    "unknown patient": "patient_id is not in the patients table",
    "no programme start": "the patient has no programme_start",
    "no date": "performed_at / recorded_at / start_date is empty",
    "missing dose": "prescription without sets, reps or sessions_per_week (or a value of 0)",
    "ends before it starts": "prescription end_date is before its start_date",
    "superseded": "another period of the same exercise and side starts on the same day (the later row wins)",
    "before programme start": "dated (or, for a prescription, ending) before programme_start",
    "after as_of": "dated after the analysis date",
    "no prescription": "the patient has no usable prescription, so no programme weeks",
    "after programme end": "dated after the last programme week",
    "no sets done": "session row with sets = 0 (or empty): not a session",
}

_SESSION_REASONS = (
    "unknown patient", "no programme start", "no date", "before programme start", "after as_of",
    "no prescription", "after programme end", "no sets done",
)


# --------------------------------------------------------------------------- helpers


def _group_max(n: int, codes: np.ndarray, values: np.ndarray, floor: int) -> np.ndarray:
    """Per-code maximum of ``values`` (``floor`` where a code has none)."""
    out = np.full(n, floor, dtype=np.int64)
    if len(codes):
        np.maximum.at(out, codes, values)
    return out


def _factorize_union(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Codes of two string columns into one sorted vocabulary (sorted: independent of row order)."""
    codes_a, uniq_a = pd.factorize(a, use_na_sentinel=False)
    codes_b, uniq_b = pd.factorize(b, use_na_sentinel=False)
    ua = pd.Index(np.asarray(uniq_a, dtype=object)).astype("string")
    ub = pd.Index(np.asarray(uniq_b, dtype=object)).astype("string")
    vocabulary = ua.append(ub).unique().sort_values(na_position="last")
    map_a = vocabulary.get_indexer(ua)
    map_b = vocabulary.get_indexer(ub)
    return map_a[codes_a], map_b[codes_b], vocabulary


def _group_keys(keys: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct ``keys`` (all in ``[0, n_keys)``) and each key's position among them.

    A dense bincount when the key space is small, else a sort (``np.unique``).
    """
    if n_keys <= 4 * len(keys) + 1_000_000:
        present = np.bincount(keys, minlength=n_keys) > 0
        uniq = np.flatnonzero(present)
        return uniq, (np.cumsum(present) - 1)[keys]
    uniq, inverse = np.unique(keys, return_inverse=True)
    return uniq, inverse.ravel()


# --------------------------------------------------------------------------- public: dose


def session_dose(frame: pd.DataFrame) -> pd.Series:
    """Dose of each ``sessions`` or ``prescriptions`` row: sets x reps x hold.

    Parameters
    ----------
    frame
        Rows with ``sets``, ``reps`` and (optionally) ``hold_s`` columns, e.g. the
        canonical ``sessions`` or ``prescriptions`` table.

    Returns
    -------
    pandas.Series of float64, named ``dose``
        ``sets x reps x hold_s`` in repetition-seconds; a missing or 0 hold (or an
        absent ``hold_s`` column) counts as 1, so an exercise without a hold has
        dose ``sets x reps`` (repetitions). NaN where ``sets`` or ``reps`` is
        missing. Same index as ``frame``.

    See Also
    --------
    dose_completion : Done versus prescribed dose per week.

    Notes
    -----
    The dose of the EXAS exercise-adherence approach (Arensman et al.): the
    product of the prescribed (or performed) parameters, so that done / prescribed
    is one number per exercise. The unit is repetition-seconds for held
    exercises and repetitions otherwise; only ratios within one exercise are
    meaningful. :func:`dose_completion` fills a session's *missing* hold from
    the prescription before calling this function.

    References
    ----------
    EXAS exercise-adherence approach (Arensman et al.); docs/clinical-reference.md
    section 4 (dose completion).

    Examples
    --------
    >>> rows = pd.DataFrame({"sets": [2, 1, 3], "reps": [10, 10, 8], "hold_s": [5.0, 0.0, None]})
    >>> session_dose(rows).tolist()
    [100.0, 10.0, 24.0]
    """
    hold = numeric_values(frame, "hold_s")
    hold = np.where(np.isnan(hold) | (hold == 0), 1.0, hold)
    dose = numeric_values(frame, "sets") * numeric_values(frame, "reps") * hold
    return pd.Series(dose, index=frame.index, name="dose", dtype="float64")


# --------------------------------------------------------------------------- preparation


@dataclass(frozen=True)
class _Cohort:
    """Integer-coded view of the cohort on the programme clock (internal)."""

    patients: pd.DataFrame
    as_of: pd.Timestamp
    as_of_epoch: int
    start: np.ndarray  # epoch day of programme_start per patient
    has_start: np.ndarray
    as_of_day: np.ndarray  # programme day of as_of per patient
    n_weeks: np.ndarray  # programme weeks per patient (0 = no programme)
    row_offset: np.ndarray  # first weekly row of each patient
    # sessions (all rows)
    s_code: np.ndarray
    s_day: np.ndarray  # programme day (meaningless where the patient or date is unknown)
    s_epoch: np.ndarray
    s_dated: np.ndarray
    s_done: np.ndarray  # sets > 0
    s_counted: np.ndarray
    # prescriptions (all rows)
    p_code: np.ndarray
    p_reason: np.ndarray  # "" for a usable period
    p_start: np.ndarray  # first programme day of the period, clipped at 0
    p_end: np.ndarray  # effective last programme day
    # pain (all rows; empty without a pain table)
    n_code: np.ndarray
    n_epoch: np.ndarray
    n_dated: np.ndarray
    # engagement, epoch days per patient (NO_DAY = none)
    last_entry: np.ndarray  # last session row or pain entry on or before as_of
    last_session: np.ndarray  # last session row with sets > 0 on or before as_of

    @property
    def n(self) -> int:
        return len(self.patients)

    @property
    def silence_from(self) -> np.ndarray:
        """Programme day from which silence is counted: last entry, at least the day before day 0."""
        return silence_from(self.last_entry, self.start)

    def silent(self, settings: Settings) -> np.ndarray:
        """Per patient: no session or pain entry for at least ``logging_stopped_days`` up to ``as_of``."""
        return stopped_logging(self.as_of_day, self.silence_from, settings.logging_stopped_days)


def _prepare(
    sessions: pd.DataFrame,
    prescriptions: pd.DataFrame,
    patients: pd.DataFrame,
    pain: pd.DataFrame | None,
    as_of: DateLike | None,
) -> _Cohort:
    check_registry(patients)
    sources = [(sessions, "performed_at")] + ([(pain, "recorded_at")] if pain is not None else [])
    when = resolve_as_of(as_of, *sources)
    as_of_epoch = epoch_day(when)
    n = len(patients)
    start, has_start = epoch_days(patients["programme_start"])
    as_of_day = np.where(has_start, as_of_epoch - start, -1)

    # ---- prescriptions: usable periods with their effective end (supersession, open ends)
    p_code = patient_codes(prescriptions["patient_id"], patients)
    known = p_code >= 0
    pat = np.maximum(p_code, 0)
    st, st_ok = epoch_days(prescriptions["start_date"])
    if "end_date" in prescriptions.columns:
        en, en_ok = epoch_days(prescriptions["end_date"])
    else:
        en, en_ok = np.zeros(len(prescriptions), np.int64), np.zeros(len(prescriptions), bool)
    p_first = st - start[pat] if n else st
    p_last = en - start[pat] if n else en
    dose_ok = (
        (numeric_values(prescriptions, "sets") > 0)
        & (numeric_values(prescriptions, "reps") > 0)
        & (numeric_values(prescriptions, "sessions_per_week") > 0)
    )
    has_programme = has_start[pat] if n else np.zeros(len(prescriptions), bool)
    p_reason = np.select(
        [~known, ~has_programme, ~st_ok, ~dose_ok, en_ok & (p_last < p_first)],
        ["unknown patient", "no programme start", "no date", "missing dose", "ends before it starts"],
        "",
    ).astype(object)
    cand = np.flatnonzero(p_reason == "")
    p_end = np.zeros(len(prescriptions), dtype=np.int64)
    if len(cand):
        ex_codes = pd.factorize(prescriptions["exercise"].iloc[cand], use_na_sentinel=False)[0]
        side_codes = pd.factorize(prescriptions["side"].iloc[cand], use_na_sentinel=False)[0]
        # a later period of the same exercise and side replaces an earlier one (analysis.prescriptions)
        end = period_ends([p_code[cand], ex_codes, side_codes], p_first[cand], p_last[cand], en_ok[cand])
        end = np.where(end == OPEN_END, np.maximum(as_of_day[p_code[cand]], p_first[cand]), end)
        idx = cand
        p_end[idx] = end
        superseded = end < p_first[idx]
        p_reason[idx[superseded]] = "superseded"
        p_reason[idx[~superseded & (end < 0)]] = "before programme start"
    usable = p_reason == ""
    p_start = np.maximum(p_first, 0)
    last_day = _group_max(n, p_code[usable], p_end[usable], -1)
    n_weeks = np.where(last_day >= 0, week_of_day(last_day), 0).astype(np.int64)
    row_offset = np.cumsum(n_weeks) - n_weeks

    # ---- sessions
    s_code = patient_codes(sessions["patient_id"], patients)
    s_known = s_code >= 0
    spat = np.maximum(s_code, 0)
    s_epoch, s_dated = epoch_days(sessions["performed_at"])
    s_day = s_epoch - start[spat] if n else s_epoch
    s_done = numeric_values(sessions, "sets") > 0
    valid = s_known & s_dated & (has_start[spat] if n else False)
    if n:
        in_weeks = (s_day >= 0) & (s_day <= as_of_day[spat]) & (s_day < 7 * n_weeks[spat])
    else:
        in_weeks = np.zeros(len(sessions), bool)
    s_counted = valid & in_weeks & s_done

    # ---- pain
    if pain is not None:
        n_code = patient_codes(pain["patient_id"], patients)
        n_epoch, n_dated = epoch_days(pain["recorded_at"])
    else:
        n_code, n_epoch, n_dated = (np.zeros(0, np.int64),) * 2 + (np.zeros(0, bool),)

    # ---- engagement: last entry (any session row or pain entry) and last session (sets > 0)
    s_upto = s_known & s_dated & (s_epoch <= as_of_epoch)
    n_upto = (n_code >= 0) & n_dated & (n_epoch <= as_of_epoch)
    last_session = last_entry_days(n, [(s_code[s_upto & s_done], s_epoch[s_upto & s_done])])
    last_entry = last_entry_days(n, [(s_code[s_upto], s_epoch[s_upto]), (n_code[n_upto], n_epoch[n_upto])])
    return _Cohort(
        patients=patients, as_of=when, as_of_epoch=as_of_epoch, start=start, has_start=has_start,
        as_of_day=as_of_day, n_weeks=n_weeks, row_offset=row_offset,
        s_code=s_code, s_day=s_day, s_epoch=s_epoch, s_dated=s_dated, s_done=s_done, s_counted=s_counted,
        p_code=p_code, p_reason=p_reason, p_start=p_start, p_end=p_end,
        n_code=n_code, n_epoch=n_epoch, n_dated=n_dated,
        last_entry=last_entry, last_session=last_session,
    )


def _week_status(c: _Cohort, code: np.ndarray, week: np.ndarray, settings: Settings) -> np.ndarray:
    """Status code (index into :data:`WEEK_STATUSES`) of programme ``week`` of patient ``code``."""
    first = 7 * (week - 1)
    as_of_day = c.as_of_day[code]
    status = np.where(first > as_of_day, _NOT_YET, np.where(first + 6 < as_of_day, _COMPLETE, _IN_PROGRESS))
    stopped = (status == _COMPLETE) & c.silent(settings)[code] & (first > c.silence_from[code])
    return np.where(stopped, _STOPPED, status).astype(np.int8)


def _status_column(codes: np.ndarray, labels: tuple[str, ...]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=list(labels))


def _ids(c: _Cohort, code: np.ndarray) -> pd.arrays.StringArray:
    registry = c.patients["patient_id"].astype("string").to_numpy(dtype=object)
    return pd.array(registry[code], dtype="string")


# --------------------------------------------------------------------------- weekly sessions


@dataclass(frozen=True)
class _Weeks:
    """Weekly session arrays, one entry per patient-week (internal)."""

    code: np.ndarray
    week: np.ndarray
    days_elapsed: np.ndarray
    prescribed: np.ndarray
    completed: np.ndarray
    adherence: np.ndarray
    volume: np.ndarray
    status: np.ndarray


def _daily_rate(c: _Cohort, prescriptions: pd.DataFrame, n_cells: int) -> np.ndarray:
    """Prescribed sessions per week on each patient-day cell: max over the periods active that day.

    A sweep over the distinct ``sessions_per_week`` levels v1 < v2 < ...: a
    difference array marks the cells covered by periods of at least level vk, and
    ``max = sum_k (vk - vk-1) x [covered by a period >= vk]``. No per-day expansion.
    """
    usable = np.flatnonzero(c.p_reason == "")
    # completion counts days, so more than 7 sessions a week (twice daily) is a prescription of every day
    spw = np.minimum(numeric_values(prescriptions, "sessions_per_week")[usable], 7.0)
    base = 7 * c.row_offset[c.p_code[usable]]
    first_cell = base + c.p_start[usable]
    after_cell = base + c.p_end[usable] + 1
    rate = np.zeros(n_cells, dtype=np.float64)
    previous = 0.0
    for level in np.unique(spw):  # at most 7 levels
        sel = spw >= level
        diff = np.bincount(first_cell[sel], minlength=n_cells + 1) - np.bincount(
            after_cell[sel], minlength=n_cells + 1
        )
        rate += (level - previous) * (np.cumsum(diff[:n_cells]) > 0)
        previous = level
    return rate


def _weeks(c: _Cohort, prescriptions: pd.DataFrame, settings: Settings) -> _Weeks:
    n_rows = int(c.n_weeks.sum())
    code = np.repeat(np.arange(c.n, dtype=np.int64), c.n_weeks)
    week = np.arange(n_rows, dtype=np.int64) - np.repeat(c.row_offset, c.n_weeks) + 1
    first = 7 * (week - 1)
    days_elapsed = np.clip(c.as_of_day[code] - first, 0, 7)  # whole days before as_of

    rate = _daily_rate(c, prescriptions, 7 * n_rows).reshape(n_rows, 7)
    elapsed = np.arange(7)[None, :] < days_elapsed[:, None]
    status = _week_status(c, code, week, settings)
    not_yet = status == _NOT_YET
    prescribed = np.where(not_yet, rate.sum(axis=1), (rate * elapsed).sum(axis=1)) / 7.0

    done = np.zeros(7 * n_rows, dtype=bool)
    counted = c.s_counted
    done[7 * c.row_offset[c.s_code[counted]] + c.s_day[counted]] = True
    completed = done.reshape(n_rows, 7).sum(axis=1)

    with np.errstate(divide="ignore", invalid="ignore"):
        volume = np.where((prescribed > 0) & ~not_yet, completed / prescribed, np.nan)
    adherence = np.minimum(volume, 1.0)
    return _Weeks(code, week, days_elapsed, prescribed, completed, adherence, volume, status)


@checks_tables(sessions="sessions", prescriptions="prescriptions", patients="patients", pain="pain")
def weekly_adherence(
    sessions: pd.DataFrame,
    prescriptions: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    pain: pd.DataFrame | None = None,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
) -> pd.DataFrame:
    """Session adherence of every patient in every programme week.

    Parameters
    ----------
    sessions, prescriptions, patients
        Canonical tables (:mod:`analysis.schema`).
    pain
        Optional canonical ``pain`` table: a pain entry counts as logging for the
        ``'stopped logging'`` status (and for resolving ``as_of``).
    as_of
        Analysis date; ``None`` = the last session or pain entry in the data
        (:func:`analysis.timeline.resolve_as_of`).
    settings
        Uses ``adherent_threshold`` and ``logging_stopped_days``.

    Returns
    -------
    pandas.DataFrame
        One row per patient and programme week (week 1 to the end of the
        programme, see the module docstring), in ``patients`` order then week:

        - ``patient_id`` (string)
        - ``week`` (int64): programme week, 1 = days 0-6 from ``programme_start``
        - ``week_start``, ``week_end`` (datetime64[ns], dates): first and last day
        - ``days_elapsed`` (int64, days 0-7): whole days of the week before ``as_of``
        - ``partial`` (bool): the week is in progress (fewer than 7 whole days
          elapsed); its rates are "on pace so far"
        - ``sessions_prescribed`` (float64, sessions): prescribed sessions in the
          week (see Notes); in an ``'in progress'`` week only the elapsed days
          count; in a ``'not yet'`` week the whole week's plan
        - ``sessions_completed`` (int64, days): distinct session days in the week
          (0 for ``'not yet'`` weeks)
        - ``adherence_rate`` (float64, fraction 0-1): ``min(completed / prescribed, 1)``;
          0 for a week without sessions; NaN only when nothing was prescribed
          in the (elapsed part of the) week, or the week is ``'not yet'``
        - ``volume_rate`` (float64, fraction): ``completed / prescribed`` uncapped
        - ``meets_plan`` (boolean): ``adherence_rate >= settings.adherent_threshold``;
          ``<NA>`` where ``adherence_rate`` is NaN
        - ``status`` (categorical, :data:`WEEK_STATUSES`): ``'complete'``,
          ``'in progress'``, ``'not yet'`` or ``'stopped logging'``

    See Also
    --------
    adherence_summary : The weeks summed per patient, with streaks.
    dose_completion : The dose done per exercise and side.
    excluded_rows : The rows not counted, with reasons.
    analysis.prescriptions.period_ends : Which prescription is in force on each day.

    Notes
    -----
    Prescribed sessions, days-weighted: on each day the patient's target rate is
    the **largest** ``sessions_per_week`` among the exercises active that day (a
    session is a day with any exercise, so 5/week of one exercise and 3/week of
    another need 5 session days, doing the second on 3 of them), and 0 on days
    with no active period. A week's prescription is

    ``sessions_prescribed = sum over the week's days of rate(day) / 7``

    so a change mid-week is honoured pro rata: 3/week on Monday-Wednesday then
    5/week from Thursday gives 3 x 3/7 + 4 x 5/7 = 29/7 = 4.14 sessions.
    Because completed sessions are days, a rate above 7/week (twice daily) is
    capped at 7: it prescribes exercising every day. (Dose completion keeps the
    full rate: two sessions a day is twice the dose.)
    The in-progress week is pro-rated the same way over its elapsed whole days
    (the days before ``as_of``: the analysis day is not over yet, and a snapshot
    exported on it has no data for it), so its rate says "on pace so far"; its
    ``days_elapsed`` says how much of it has passed and ``partial`` marks it. A
    session logged on ``as_of`` itself counts (data up to and including
    ``as_of``); the weekly cap keeps the rate at most 100 %. On the first day of a
    week nothing of it has elapsed: 0 sessions prescribed, rate NaN.

    ``sessions_completed`` counts distinct calendar days with at least one
    session row with ``sets > 0``, of any exercise. A week with none is a 0 %
    week, never a missing one. Rows not counted (unknown patient, before the
    programme start, after ``as_of`` or after the programme, no sets) are listed
    by :func:`excluded_rows`.

    References
    ----------
    docs/clinical-reference.md section 4: session adherence = sessions completed /
    sessions prescribed per week from programme start, capped at 100 % for
    adherence and uncapped for volume; adherent >= 70 % (MiSpEx back-pain cohort).
    """
    c = _prepare(sessions, prescriptions, patients, pain, as_of)
    w = _weeks(c, prescriptions, settings)
    first = c.start[w.code] + 7 * (w.week - 1)
    meets = pd.array(w.adherence >= settings.adherent_threshold, dtype="boolean")
    meets[np.isnan(w.adherence)] = pd.NA
    return pd.DataFrame(
        {
            "patient_id": _ids(c, w.code),
            "week": w.week,
            "week_start": from_epoch_days(first),
            "week_end": from_epoch_days(first + 6),
            "days_elapsed": w.days_elapsed.astype(np.int64),
            "partial": w.status == _IN_PROGRESS,
            "sessions_prescribed": w.prescribed,
            "sessions_completed": w.completed.astype(np.int64),
            "adherence_rate": w.adherence,
            "volume_rate": w.volume,
            "meets_plan": meets,
            "status": _status_column(w.status, WEEK_STATUSES),
        }
    )


# --------------------------------------------------------------------------- summary


def _streaks(code: np.ndarray, meets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Current (ending at the last row) and longest run of ``meets`` per patient.

    ``code`` is sorted (rows in patient then week order).
    """
    current = np.zeros(n, dtype=np.int64)
    longest = np.zeros(n, dtype=np.int64)
    if len(code) == 0:
        return current, longest
    m = meets.astype(np.int64)
    total = np.cumsum(m)
    first = np.r_[True, code[1:] != code[:-1]]
    # the run restarts at a patient's first row and after every week not meeting the plan
    base = np.maximum.accumulate(np.where(first | (m == 0), total - m, -1))
    run = total - base
    np.maximum.at(longest, code, run)
    last = np.r_[code[1:] != code[:-1], True]
    current[code[last]] = run[last]
    return current, longest


@checks_tables(sessions="sessions", prescriptions="prescriptions", patients="patients", pain="pain")
def adherence_summary(
    sessions: pd.DataFrame,
    prescriptions: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    pain: pd.DataFrame | None = None,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
) -> pd.DataFrame:
    """Overall adherence, streaks and engagement of every patient, one row each.

    Parameters
    ----------
    sessions, prescriptions, patients
        Canonical tables (:mod:`analysis.schema`).
    pain
        Optional canonical ``pain`` table: pain entries count as data for
        ``days_with_data_last_30`` and as logging for ``'stopped logging'``.
    as_of
        Analysis date; ``None`` = the last session or pain entry in the data.
    settings
        Uses ``adherent_threshold``, ``logging_stopped_days``,
        ``rpm_days_required`` and ``rpm_window_days``.

    Returns
    -------
    pandas.DataFrame
        One row per patient of ``patients``, in its order:

        - ``patient_id`` (string)
        - ``as_of`` (datetime64[ns]): the analysis date used
        - ``programme_weeks`` (int64, weeks): weeks in the programme (incl. ``'not yet'``)
        - ``weeks_elapsed`` (int64, weeks): complete, stopped-logging and in-progress weeks
        - ``sessions_prescribed`` (float64, sessions): sum over elapsed weeks
          (the in-progress week pro-rated, see :func:`weekly_adherence`)
        - ``sessions_completed`` (int64, days): session days in elapsed weeks
        - ``adherence_rate`` (float64, fraction 0-1): see Notes; NaN when nothing
          has been prescribed yet
        - ``volume_rate`` (float64, fraction): completed / prescribed, uncapped
        - ``adherent`` (boolean): ``adherence_rate >= adherent_threshold`` (``<NA>`` if NaN)
        - ``adherent_threshold`` (float64, fraction): the threshold used
        - ``current_streak_weeks`` (int64, weeks): consecutive weeks meeting the
          plan, ending at the last complete week
        - ``longest_streak_weeks`` (int64, weeks): longest such run
        - ``last_session_date`` (datetime64[ns]): last day with a session row with
          ``sets > 0`` on or before ``as_of`` (any date, also outside the
          programme); NaT if none
        - ``days_since_last_session`` (Int64, days): ``as_of - last_session_date``
        - ``last_entry_date`` (datetime64[ns]): last day with any session row (also
          ``sets = 0``) or pain entry on or before ``as_of``, any date
          (:func:`analysis.timeline.last_entry_days`); NaT if none
        - ``days_since_last_entry`` (Int64, days): ``as_of - last_entry_date``
        - ``days_with_data_last_30`` (int64, days): distinct days with any session
          row or pain entry in the ``rpm_window_days`` (default 30) days ending on ``as_of``
        - ``rpm_days_met`` (bool): ``days_with_data_last_30 >= rpm_days_required``
        - ``session_rows_not_counted`` (int64, rows): this patient's session rows
          that no weekly table counts (reasons: :func:`excluded_rows`)
        - ``status`` (categorical, :data:`SUMMARY_STATUSES`), first that applies:
          ``'not started'`` (nothing prescribed up to ``as_of``, or no session day
          yet in the programme), ``'stopped logging'`` (no session or pain entry
          for ``>= logging_stopped_days`` days up to ``as_of``), ``'low adherence'``
          (``adherence_rate < adherent_threshold``), else ``'on track'``

    See Also
    --------
    weekly_adherence : The weeks summed here.
    dose_completion_summary : Dose completion per exercise and side.
    analysis.cohort.cohort_summary : This and every other headline, per patient.

    Notes
    -----
    Overall adherence is capped per week, then weighted by the week's prescription:

    ``adherence_rate = sum_w min(completed_w, prescribed_w) / sum_w prescribed_w``

    over elapsed weeks; equivalently the mean of the weekly capped rates weighted
    by ``prescribed_w``. Over-doing one week cannot make up for a missed week
    (as an uncapped total would), a week with more prescribed sessions weighs
    more, and the pro-rated in-progress week enters with its elapsed share.

    Streaks run over complete weeks (incl. ``'stopped logging'`` weeks) that had
    a prescription; weeks with nothing prescribed neither count nor break a run.
    Silence for ``'stopped logging'`` is counted from the later of the last
    entry and the day before the programme start, so a patient who never logged
    is "stopped" once ``logging_stopped_days`` of the programme have passed.

    References
    ----------
    docs/clinical-reference.md section 4: adherent >= 70 % of prescribed sessions
    (MiSpEx back-pain cohort, n = 1,511), 80 % also used; remote therapeutic
    monitoring counts >= 16 days of data per 30 days (CPT 98977).
    Section 5: logging stopped = no session or pain entry for >= 7 days.
    """
    c = _prepare(sessions, prescriptions, patients, pain, as_of)
    w = _weeks(c, prescriptions, settings)
    n = c.n
    elapsed = w.status != _NOT_YET
    ec = w.code[elapsed]
    prescribed = np.bincount(ec, weights=w.prescribed[elapsed], minlength=n).astype(np.float64)
    completed = np.bincount(ec, weights=w.completed[elapsed], minlength=n).astype(np.int64)
    capped = np.bincount(ec, weights=np.minimum(w.completed, w.prescribed)[elapsed], minlength=n).astype(np.float64)
    weeks_elapsed = np.bincount(ec, minlength=n).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(prescribed > 0, capped / prescribed, np.nan)
        volume = np.where(prescribed > 0, completed / prescribed, np.nan)

    threshold = float(settings.adherent_threshold)
    closed = ((w.status == _COMPLETE) | (w.status == _STOPPED)) & (w.prescribed > 0)
    current, longest = _streaks(w.code[closed], w.adherence[closed] >= threshold, n)

    # engagement: days with data in the window ending on as_of (sessions and pain)
    window = int(settings.rpm_window_days)
    first_day = c.as_of_epoch - window + 1
    codes = np.concatenate([c.s_code[c.s_dated], c.n_code[c.n_dated]])
    days = np.concatenate([c.s_epoch[c.s_dated], c.n_epoch[c.n_dated]])
    inside = (codes >= 0) & (days >= first_day) & (days <= c.as_of_epoch)
    grid = np.zeros((n, max(window, 1)), dtype=bool)
    grid[codes[inside], days[inside] - first_day] = True
    days_with_data = grid.sum(axis=1).astype(np.int64) if window > 0 else np.zeros(n, np.int64)

    has_session = c.last_session > NO_DAY
    since = pd.array(np.where(has_session, c.as_of_epoch - c.last_session, 0), dtype="Int64")
    since[~has_session] = pd.NA
    last_date = pd.Series(from_epoch_days(np.where(has_session, c.last_session, 0))).where(has_session)
    has_entry = c.last_entry > NO_DAY
    since_entry = pd.array(np.where(has_entry, c.as_of_epoch - c.last_entry, 0), dtype="Int64")
    since_entry[~has_entry] = pd.NA
    last_entry_date = pd.Series(from_epoch_days(np.where(has_entry, c.last_entry, 0))).where(has_entry)

    not_counted_rows = (c.s_code >= 0) & ~c.s_counted
    not_counted = np.bincount(c.s_code[not_counted_rows], minlength=n).astype(np.int64)
    started_sessions = np.bincount(c.s_code[c.s_counted], minlength=n) > 0

    status = np.select(
        [~(prescribed > 0) | ~started_sessions, c.silent(settings), ~(rate >= threshold)],
        [3, 2, 1],
        0,
    )
    adherent = pd.array(rate >= threshold, dtype="boolean")
    adherent[np.isnan(rate)] = pd.NA
    return pd.DataFrame(
        {
            "patient_id": _ids(c, np.arange(n)),
            "as_of": pd.Series(np.full(n, c.as_of.to_datetime64()), dtype="datetime64[ns]"),
            "programme_weeks": c.n_weeks.astype(np.int64),
            "weeks_elapsed": weeks_elapsed,
            "sessions_prescribed": prescribed,
            "sessions_completed": completed,
            "adherence_rate": rate,
            "volume_rate": volume,
            "adherent": adherent,
            "adherent_threshold": np.full(n, threshold),
            "current_streak_weeks": current,
            "longest_streak_weeks": longest,
            "last_session_date": last_date.to_numpy(dtype="datetime64[ns]"),
            "days_since_last_session": since,
            "last_entry_date": last_entry_date.to_numpy(dtype="datetime64[ns]"),
            "days_since_last_entry": since_entry,
            "days_with_data_last_30": days_with_data,
            "rpm_days_met": days_with_data >= settings.rpm_days_required,
            "session_rows_not_counted": not_counted,
            "status": _status_column(status.astype(np.int8), SUMMARY_STATUSES),
        }
    )


# --------------------------------------------------------------------------- dose completion


def _dose_weeks(
    sessions: pd.DataFrame,
    prescriptions: pd.DataFrame,
    patients: pd.DataFrame,
    pain: pd.DataFrame | None,
    as_of: DateLike | None,
    settings: Settings,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The table of :func:`dose_completion` and each row's (patient, exercise, side) group number."""
    c = _prepare(sessions, prescriptions, patients, pain, as_of)
    usable = np.flatnonzero(c.p_reason == "")
    counted = np.flatnonzero(c.s_counted)

    # exercise x side pairs over one sorted vocabulary, compacted to the pairs that occur
    ex_s, ex_p, exercises = _factorize_union(sessions["exercise"], prescriptions["exercise"].iloc[usable])
    side_s, side_p, sides = _factorize_union(sessions["side"], prescriptions["side"].iloc[usable])
    n_side = max(len(sides), 1)
    pair_s = ex_s[counted] * n_side + side_s[counted]
    pair_p = ex_p * n_side + side_p
    present = np.bincount(np.concatenate([pair_s, pair_p]), minlength=max(len(exercises), 1) * n_side) > 0
    pairs = np.flatnonzero(present)
    to_es = np.cumsum(present) - 1
    n_es = max(len(pairs), 1)
    n_weeks_max = max(int(c.n_weeks.max()) if c.n else 0, 1)

    # periods, sorted by (patient, exercise-side, start): at most one active per day and group
    pg = c.p_code[usable] * n_es + to_es[pair_p]
    p_first, p_last = c.p_start[usable], c.p_end[usable]
    order = np.lexsort((p_first, pg))
    pg, p_first, p_last, prow = pg[order], p_first[order], p_last[order], usable[order]
    spw = numeric_values(prescriptions, "sessions_per_week")[prow]
    p_dose = session_dose(prescriptions.iloc[prow]).to_numpy()
    p_hold = numeric_values(prescriptions, "hold_s")[prow]

    # counted session rows; a missing hold is taken from the period active that day
    sg = c.s_code[counted] * n_es + to_es[pair_s]
    sday = c.s_day[counted]
    hold = numeric_values(sessions, "hold_s")[counted]
    assumed = np.isnan(hold)
    if assumed.any() and len(pg):
        miss = np.flatnonzero(assumed)
        span = 7 * n_weeks_max + 1
        pos = np.searchsorted(pg * span + p_first, sg[miss] * span + sday[miss], side="right") - 1
        safe = np.maximum(pos, 0)
        active = (pos >= 0) & (pg[safe] == sg[miss]) & (sday[miss] <= p_last[safe])
        hold[miss[active]] = p_hold[safe[active]]
        assumed[miss[~active]] = False
    else:
        assumed[:] = False
    hold = np.where(np.isnan(hold) | (hold == 0), 1.0, hold)
    s_dose = numeric_values(sessions, "sets")[counted] * numeric_values(sessions, "reps")[counted] * hold
    s_dose = np.nan_to_num(s_dose, nan=0.0)  # same as session_dose, with the filled hold

    # periods expanded to the weeks they touch: full and elapsed days of each period-week
    n_pw = p_last // 7 - p_first // 7 + 1
    rep = np.repeat(np.arange(len(pg)), n_pw)
    week0 = np.repeat(p_first // 7, n_pw) + np.arange(len(rep)) - np.repeat(np.cumsum(n_pw) - n_pw, n_pw)
    lo = np.maximum(p_first[rep], 7 * week0)
    hi = np.minimum(p_last[rep], 7 * week0 + 6)
    as_of_day = c.as_of_day[c.p_code[prow][rep]]
    days = np.where(7 * week0 > as_of_day, hi - lo + 1, np.clip(np.minimum(hi, as_of_day - 1) - lo + 1, 0, None))
    pw_dose = days * spw[rep] / 7.0 * p_dose[rep]

    keys = np.concatenate([pg[rep] * n_weeks_max + week0, sg * n_weeks_max + sday // 7])
    uniq, inverse = _group_keys(keys, c.n * n_es * n_weeks_max)
    k = len(uniq)
    n_p = len(rep)
    prescribed_dose = np.bincount(inverse[:n_p], weights=pw_dose, minlength=k).astype(np.float64)
    prescribed = np.bincount(inverse[:n_p], minlength=k) > 0
    done_dose = np.bincount(inverse[n_p:], weights=s_dose, minlength=k).astype(np.float64)
    hold_assumed = np.bincount(inverse[n_p:], weights=assumed, minlength=k).astype(np.int64)

    week = uniq % n_weeks_max + 1
    group = uniq // n_weeks_max
    pair = pairs[group % n_es] if len(pairs) else np.zeros(0, np.int64)
    code = group // n_es
    status = _week_status(c, code, week, settings)
    first = c.start[code] + 7 * (week - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        completion = np.where((prescribed_dose > 0) & (status != _NOT_YET), done_dose / prescribed_dose, np.nan)
    frame = pd.DataFrame(
        {
            "patient_id": _ids(c, code),
            "exercise": pd.array(exercises.to_numpy()[pair // n_side] if k else [], dtype="string"),
            "side": pd.array(sides.to_numpy()[pair % n_side] if k else [], dtype="string"),
            "week": week.astype(np.int64),
            "week_start": from_epoch_days(first),
            "week_end": from_epoch_days(first + 6),
            "status": _status_column(status, WEEK_STATUSES),
            "prescribed": prescribed,
            "prescribed_dose": prescribed_dose,
            "done_dose": done_dose,
            "dose_completion": completion,
            "dose_completion_capped": np.minimum(completion, 1.0),
            "hold_assumed_rows": hold_assumed,
        }
    )
    return frame, group


@checks_tables(sessions="sessions", prescriptions="prescriptions", patients="patients", pain="pain")
def dose_completion(
    sessions: pd.DataFrame,
    prescriptions: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    pain: pd.DataFrame | None = None,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
) -> pd.DataFrame:
    """Done versus prescribed dose per patient, exercise, side and programme week.

    Parameters
    ----------
    sessions, prescriptions, patients
        Canonical tables (:mod:`analysis.schema`).
    pain
        Optional canonical ``pain`` table (only for the ``'stopped logging'`` status).
    as_of
        Analysis date; ``None`` = the last session or pain entry in the data.
    settings
        Uses ``logging_stopped_days`` (for ``status``).

    Returns
    -------
    pandas.DataFrame
        One row per patient, exercise, side and programme week in which that
        exercise and side was prescribed on at least one day or was done
        (``knee_to_chest`` left and right are separate rows), sorted by patient
        (``patients`` order), exercise, side and week:

        - ``patient_id``, ``exercise``, ``side`` (string)
        - ``week`` (int64), ``week_start``, ``week_end`` (datetime64[ns]), ``status``
          (categorical): as in :func:`weekly_adherence`
        - ``prescribed`` (bool): a period of this exercise and side was active on
          some day of the week; False rows are sessions of an exercise (or side)
          not prescribed that week, reported rather than dropped
        - ``prescribed_dose`` (float64, repetition-seconds; repetitions without a
          hold): ``sum over active days of sessions_per_week / 7 x sets x reps x hold``
          (pro-rated over the elapsed days of an in-progress week, the whole
          plan for a ``'not yet'`` week)
        - ``done_dose`` (float64, same unit): sum of :func:`session_dose` over the
          week's counted session rows
        - ``dose_completion`` (float64, fraction): ``done_dose / prescribed_dose``,
          uncapped; NaN when ``prescribed_dose`` is 0 or the week is ``'not yet'``
        - ``dose_completion_capped`` (float64, fraction 0-1): the same, capped at 1
        - ``hold_assumed_rows`` (int64, rows): session rows without ``hold_s`` whose
          hold was taken from the prescription active that day

    See Also
    --------
    dose_completion_summary : The weeks summed per exercise and side.
    session_dose : The dose of one row.
    weekly_adherence : Session adherence on the same weeks.

    Notes
    -----
    Exercise and side must match exactly (a prescription for ``side='both'`` is
    not met by ``left`` / ``right`` rows). A session row with no ``hold_s`` of a
    prescribed exercise is assumed to have held for the prescribed time (an
    absent value is not a zero hold); without a prescription that day it counts
    as 1, as in :func:`session_dose`. Only counted session rows are used (see
    :func:`excluded_rows`).

    References
    ----------
    docs/clinical-reference.md section 4: dose completion (after EXAS, Arensman et al.): per
    exercise, done / prescribed for sets x reps x hold seconds.
    """
    return _dose_weeks(sessions, prescriptions, patients, pain, as_of, settings)[0]


@checks_tables(sessions="sessions", prescriptions="prescriptions", patients="patients", pain="pain")
def dose_completion_summary(
    sessions: pd.DataFrame,
    prescriptions: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    pain: pd.DataFrame | None = None,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
) -> pd.DataFrame:
    """Dose completion per patient, exercise and side, averaged over the prescription.

    Parameters
    ----------
    sessions, prescriptions, patients, pain, as_of, settings
        As for :func:`dose_completion`.

    Returns
    -------
    pandas.DataFrame
        One row per patient, exercise and side present in :func:`dose_completion`,
        in the same order:

        - ``patient_id``, ``exercise``, ``side`` (string)
        - ``prescribed`` (bool): prescribed in at least one programme week
        - ``weeks_prescribed`` (int64, weeks): elapsed weeks with a prescribed dose > 0
        - ``prescribed_dose`` (float64, repetition-seconds or repetitions): sum
          over those weeks
        - ``done_dose`` (float64, same unit): done in those weeks
        - ``done_dose_unprescribed`` (float64, same unit): done in elapsed weeks
          without a prescribed dose (all of it for an exercise never prescribed)
        - ``dose_completion`` (float64, fraction): ``done_dose / prescribed_dose``,
          uncapped; NaN with no prescribed dose yet
        - ``dose_completion_capped`` (float64, fraction 0-1):
          ``sum_w min(done_w, prescribed_w) / sum_w prescribed_w``: capped per
          week, so over-doing one week does not make up for another

    See Also
    --------
    dose_completion : The weekly table summed here.
    adherence_summary : Session adherence per patient.

    Notes
    -----
    "Averaged over the prescription" is the ratio of sums over the elapsed weeks
    of the prescription (``'not yet'`` weeks excluded), i.e. the weekly
    completions weighted by the weekly prescribed dose; a week with a half-week
    period weighs half.

    References
    ----------
    docs/clinical-reference.md section 4: dose completion (after EXAS, Arensman et al.).
    """
    weekly, group = _dose_weeks(sessions, prescriptions, patients, pain, as_of, settings)
    # rows of one (patient, exercise, side) are contiguous and sorted: reduce each run of rows
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else np.zeros(0, np.int64)

    def run_sum(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, first) if len(first) else np.zeros(0, dtype=values.dtype)

    elapsed = weekly["status"].to_numpy() != "not yet"
    planned = weekly["prescribed_dose"].to_numpy()
    done = weekly["done_dose"].to_numpy()
    use = elapsed & (planned > 0)
    total = run_sum(np.where(use, planned, 0.0))
    done_in = run_sum(np.where(use, done, 0.0))
    capped = run_sum(np.where(use, np.minimum(done, planned), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        completion = np.where(total > 0, done_in / total, np.nan)
        completion_capped = np.where(total > 0, capped / total, np.nan)
    return pd.DataFrame(
        {
            "patient_id": weekly["patient_id"].to_numpy()[first],
            "exercise": weekly["exercise"].to_numpy()[first],
            "side": weekly["side"].to_numpy()[first],
            "prescribed": run_sum(weekly["prescribed"].to_numpy().astype(np.int64)) > 0,
            "weeks_prescribed": run_sum(use.astype(np.int64)).astype(np.int64),
            "prescribed_dose": total,
            "done_dose": done_in,
            "done_dose_unprescribed": run_sum(np.where(elapsed & ~(planned > 0), done, 0.0)),
            "dose_completion": completion,
            "dose_completion_capped": completion_capped,
        }
    ).astype({"patient_id": "string", "exercise": "string", "side": "string"})


# --------------------------------------------------------------------------- exclusions


@checks_tables(sessions="sessions", prescriptions="prescriptions", patients="patients", pain="pain")
def excluded_rows(
    sessions: pd.DataFrame,
    prescriptions: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    pain: pd.DataFrame | None = None,
    as_of: DateLike | None = None,
) -> pd.DataFrame:
    """The rows the adherence tables do not count, each with its reason.

    Parameters
    ----------
    sessions, prescriptions, patients
        Canonical tables (:mod:`analysis.schema`).
    pain
        Optional canonical ``pain`` table.
    as_of
        Analysis date; ``None`` = the last session or pain entry in the data.

    Returns
    -------
    pandas.DataFrame
        One row per excluded input row, in table then row order:

        - ``table`` (string): ``'sessions'``, ``'prescriptions'`` or ``'pain'``
        - ``row`` (object): index label of the row in its table
        - ``patient_id`` (string)
        - ``reason`` (string): a key of :data:`EXCLUSION_REASONS`; for sessions,
          the first of unknown patient, no programme start, no date, before
          programme start, after as_of, no prescription, after programme end,
          no sets done. Pain rows are listed only for an unknown patient or no
          date (pain before the programme still counts as logging).

    See Also
    --------
    weekly_adherence : What the counted rows give.
    analysis.prescriptions.usable_periods : Which prescription rows are periods.

    Notes
    -----
    A prescription ending before the programme start, or replaced on its first
    day by another period of the same exercise and side, is excluded as well.
    Sessions of exercises that were not prescribed are *counted* (they make a
    session day) and appear in :func:`dose_completion` with ``prescribed=False``.
    """
    c = _prepare(sessions, prescriptions, patients, pain, as_of)
    parts = []

    pat = np.maximum(c.s_code, 0)
    has_start = c.has_start[pat] if c.n else np.zeros(len(c.s_code), bool)
    as_of_day = c.as_of_day[pat] if c.n else np.zeros(len(c.s_code), np.int64)
    n_weeks = c.n_weeks[pat] if c.n else np.zeros(len(c.s_code), np.int64)
    s_reason = np.select(
        [
            c.s_code < 0, ~has_start, ~c.s_dated, c.s_day < 0, c.s_day > as_of_day, n_weeks == 0,
            c.s_day >= 7 * n_weeks, ~c.s_done,
        ],
        list(_SESSION_REASONS),
        "",
    )
    parts.append(("sessions", sessions, s_reason))
    parts.append(("prescriptions", prescriptions, c.p_reason))
    if pain is not None:
        n_reason = np.select([c.n_code < 0, ~c.n_dated], ["unknown patient", "no date"], "")
        parts.append(("pain", pain, n_reason))

    frames = []
    for table, frame, reason in parts:  # three tables, not patients
        hit = np.flatnonzero(reason != "")
        frames.append(
            pd.DataFrame(
                {
                    "table": pd.array([table] * len(hit), dtype="string"),
                    "row": pd.Series(frame.index[hit], dtype=object),
                    "patient_id": pd.array(frame["patient_id"].iloc[hit].astype("string").to_numpy(), dtype="string"),
                    "reason": pd.array(np.asarray(reason, dtype=object)[hit], dtype="string"),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    if len(out):
        logger.info("adherence: %d row(s) not counted: %s", len(out), out["reason"].value_counts().to_dict())
    return out
