"""Home-exercise programmes: items, a progression over the weeks, and the prescription periods they make.

A physio prescribes a :class:`Programme`: a list of :class:`ProgrammeItem` (exercise,
side, sets, reps, hold, sessions per week) and a :class:`Progression` such as
``"weeks 1-2: 1 set, weeks 3-4: 2 sets, weeks 5+: hold 10 s"``. This module turns
it into the canonical ``prescriptions`` periods of :mod:`analysis.schema` that the
adherence and flag functions already read, computes the planned weekly load (with
the same acute:chronic ratio as :func:`analysis.flags.load_progression`, by calling
it on the planned sessions) and applies a mid-programme edit without rewriting
history.

Everything here is pure: no Streamlit, no database. The store
(:mod:`analysis.store`) keeps the result; the dashboard draws it.

Programme weeks follow :mod:`analysis.timeline`: week 1 is days 0-6 from
``programme_start``, week ``w`` starts on ``programme_start + 7 (w - 1)`` days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import RehabtrackError
from analysis.exercises import EXERCISES, normalise_exercise
from analysis.flags import load_progression
from analysis.prescriptions import dose_in_force
from analysis.schema import PRESCRIPTIONS, SIDES, conform, empty_frame
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.timeline import DateLike, to_day
from analysis.validation import checks_tables, validate_frame

__all__ = [
    "ProgrammeError",
    "ProgrammeItem",
    "ProgressionStep",
    "Progression",
    "Programme",
    "Template",
    "DOSE_FIELDS",
    "programme_to_prescriptions",
    "planned_weekly_load",
    "steep_weeks",
    "ProgrammeEdit",
    "edit_prescriptions",
    "items_in_force",
    "check_prescriptions",
    "custom_exercise",
    "template_to_dict",
    "template_from_dict",
]

#: The dose fields of an item that a progression step may change.
DOSE_FIELDS: tuple[str, ...] = ("sets", "reps", "hold_s", "sessions_per_week")


class ProgrammeError(RehabtrackError, ValueError):
    """A programme, progression or edit that cannot be turned into prescriptions (the message says why)."""


def _limits(name: str) -> tuple[float, float]:
    col = PRESCRIPTIONS.column(name)
    return float(col.min if col.min is not None else 0), float(col.max if col.max is not None else np.inf)


def _check_dose(where: str, name: str, value: float) -> None:
    low, high = _limits(name)
    if not (low <= value <= high):
        unit = PRESCRIPTIONS.column(name).unit
        raise ProgrammeError(f"{where}: {name.replace('_', ' ')} must be between {low:g} and {high:g} {unit}, "
                             f"got {value:g}")
    if name != "hold_s" and float(value) != int(value):
        raise ProgrammeError(f"{where}: {name.replace('_', ' ')} must be a whole number, got {value:g}")


@dataclass(frozen=True)
class ProgrammeItem:
    """One exercise and side of a programme, with its starting dose.

    Attributes
    ----------
    exercise
        Vocabulary key (:data:`analysis.exercises.EXERCISES`) or a physio's own exercise name.
    side
        ``left``, ``right`` or ``both`` (:data:`analysis.schema.SIDES`).
    sets, reps
        Sets per session and repetitions per set.
    hold_s
        Hold per repetition in seconds (0 = no hold).
    sessions_per_week
        Prescribed sessions per week.
    """

    exercise: str
    side: str = "both"
    sets: int = 1
    reps: int = 10
    hold_s: float = 0.0
    sessions_per_week: int = 7

    def __post_init__(self) -> None:
        where = f"{self.exercise} ({self.side})"
        if not str(self.exercise).strip():
            raise ProgrammeError("an exercise of the programme has no name")
        if self.side not in SIDES:
            raise ProgrammeError(f"{where}: side must be one of {', '.join(SIDES)}")
        for name in DOSE_FIELDS:
            _check_dose(where, name, float(getattr(self, name)))

    @property
    def label(self) -> str:
        """Name shown to people: the vocabulary label, or the name as written."""
        known = EXERCISES.get(self.exercise)
        return known.label if known is not None else self.exercise


@dataclass(frozen=True)
class ProgressionStep:
    """From ``from_week`` on, change some dose fields of every item (or of one exercise).

    Attributes
    ----------
    from_week
        First programme week of the step (1-based).
    to_week
        Last week as the physio wrote it (``weeks 3-4``), or ``None`` (``weeks 5+``);
        informative only: a step lasts until the next step.
    sets, reps, hold_s, sessions_per_week
        New values, ``None`` = unchanged from the week before.
    exercise
        Apply to this exercise only; ``None`` = every item.
    """

    from_week: int
    to_week: int | None = None
    sets: int | None = None
    reps: int | None = None
    hold_s: float | None = None
    sessions_per_week: int | None = None
    exercise: str | None = None

    def __post_init__(self) -> None:
        if int(self.from_week) < 1:
            raise ProgrammeError(f"a progression step starts in week {self.from_week}; weeks start at 1")
        if self.to_week is not None and self.to_week < self.from_week:
            raise ProgrammeError(f"weeks {self.from_week}-{self.to_week}: the last week is before the first")
        for name in DOSE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                _check_dose(f"week {self.from_week}", name, float(value))

    def changes(self) -> dict[str, float]:
        """The dose fields this step sets."""
        return {n: getattr(self, n) for n in DOSE_FIELDS if getattr(self, n) is not None}

    def describe(self) -> str:
        """``"weeks 3-4: 2 sets"`` (the form :meth:`Progression.parse` reads)."""
        weeks = (f"week {self.from_week}" if self.to_week == self.from_week
                 else f"weeks {self.from_week}-{self.to_week}" if self.to_week is not None
                 else f"weeks {self.from_week}+")
        parts = []
        for name, value in self.changes().items():
            if name == "sets":
                parts.append(f"{value:g} set" + ("" if value == 1 else "s"))
            elif name == "reps":
                parts.append(f"{value:g} reps")
            elif name == "hold_s":
                parts.append(f"hold {value:g} s")
            else:
                parts.append(f"{value:g} sessions/week")
        target = f" ({self.exercise})" if self.exercise else ""
        return f"{weeks}{target}: " + (" and ".join(parts) if parts else "no change")


_STEP = re.compile(r"^\s*weeks?\s+(\d+)\s*(?:(\+)|[-\u2013to ]+\s*(\d+))?\s*(?:\(([^)]*)\))?\s*:\s*(.*)$", re.I)
_CHANGE = (
    (re.compile(r"^(\d+)\s*sets?$", re.I), "sets"),
    (re.compile(r"^(\d+)\s*(?:reps?|repetitions?)$", re.I), "reps"),
    (re.compile(r"^hold\s*(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds?)?$", re.I), "hold_s"),
    (re.compile(r"^(\d+)\s*(?:sessions?|x)\s*(?:/|per|a)\s*(?:week|wk)$", re.I), "sessions_per_week"),
)


@dataclass(frozen=True)
class Progression:
    """How the dose builds over the weeks: steps in order of their first week.

    The steps are cumulative: a step changes the fields it names from its first
    week on, and every other field keeps the value of the week before. With no
    step, the items' own doses hold for the whole programme.
    """

    steps: tuple[ProgressionStep, ...] = ()

    def __post_init__(self) -> None:
        weeks = [(s.from_week, s.exercise or "") for s in self.steps]
        if len(set(weeks)) != len(weeks):
            raise ProgrammeError("two progression steps start in the same week; merge them into one")
        ordered = sorted(self.steps, key=lambda s: s.from_week)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if (before.exercise == after.exercise and before.to_week is not None
                    and before.to_week >= after.from_week):
                raise ProgrammeError(f"weeks {before.from_week}-{before.to_week} overlap with the step "
                                     f"from week {after.from_week}")
        object.__setattr__(self, "steps", tuple(ordered))

    @classmethod
    def parse(cls, text: str) -> Progression:
        """Read ``"weeks 1-2: 1 set, weeks 3-4: 2 sets, weeks 5+: hold 10 s"``.

        Parameters
        ----------
        text
            Steps separated by commas, semicolons or new lines. Each step is
            ``week N``, ``weeks N-M`` or ``weeks N+``, optionally followed by an
            exercise in brackets, a colon, and changes joined by ``and`` or ``&``:
            ``N set(s)``, ``N rep(s)``, ``hold N s``, ``N sessions/week``.

        Returns
        -------
        Progression

        Raises
        ------
        ProgrammeError
            A step that cannot be read; the message quotes it.

        Examples
        --------
        >>> Progression.parse("weeks 1-2: 1 set, weeks 3-4: 2 sets, weeks 5+: hold 10 s").describe()
        'weeks 1-2: 1 set, weeks 3-4: 2 sets, weeks 5+: hold 10 s'
        """
        steps = []
        for raw in re.split(r"[,;\n]", text or ""):
            if not raw.strip():
                continue
            m = _STEP.match(raw)
            if m is None:
                raise ProgrammeError(f"cannot read the progression step {raw.strip()!r}; write it like "
                                     "'weeks 3-4: 2 sets' or 'weeks 5+: hold 10 s'")
            start = int(m.group(1))
            end = None if m.group(2) else int(m.group(3)) if m.group(3) else start
            changes: dict[str, Any] = {}
            for part in re.split(r"\s+(?:and|&)\s+|\s*&\s*", m.group(5).strip()):
                for pattern, name in _CHANGE:
                    found = pattern.match(part.strip())
                    if found:
                        value = float(found.group(1))
                        changes[name] = value if name == "hold_s" else int(value)
                        break
                else:
                    raise ProgrammeError(f"cannot read {part.strip()!r} in {raw.strip()!r}; use 'N sets', "
                                         "'N reps', 'hold N s' or 'N sessions/week'")
            exercise = m.group(4).strip() if m.group(4) else None
            steps.append(ProgressionStep(start, end, exercise=exercise, **changes))
        return cls(tuple(steps))

    def describe(self) -> str:
        """The progression in the form :meth:`parse` reads (empty text for none)."""
        return ", ".join(s.describe() for s in self.steps)


@dataclass(frozen=True)
class Programme:
    """A home-exercise programme: items and their progression.

    Attributes
    ----------
    items
        One per exercise and side; an (exercise, side) pair appears once.
    progression
        How the dose builds over the weeks.
    """

    items: tuple[ProgrammeItem, ...]
    progression: Progression = field(default_factory=Progression)

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        if not self.items:
            raise ProgrammeError("the programme has no exercise; add at least one")
        keys = [(i.exercise, i.side) for i in self.items]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ProgrammeError("each exercise and side may appear once; repeated: "
                                 + ", ".join(f"{e} ({s})" for e, s in dupes))
        for i in self.items:
            if i.side == "both":
                continue
            if (i.exercise, "both") in keys:
                raise ProgrammeError(f"{i.exercise} is prescribed both per side and for both sides; choose one")
        for step in self.progression.steps:
            if step.exercise is not None and step.exercise not in {i.exercise for i in self.items}:
                raise ProgrammeError(f"the progression names {step.exercise!r}, which is not in the programme")

    def doses(self, weeks: int) -> pd.DataFrame:
        """The dose of every item in every programme week 1..weeks.

        Returns
        -------
        pandas.DataFrame
            ``item`` (int, position in :attr:`items`), ``exercise``, ``side``,
            ``week`` (int, 1-based), ``sets``, ``reps``, ``hold_s`` (s) and
            ``sessions_per_week``; one row per item and week.
        """
        rows = []
        for pos, item in enumerate(self.items):
            dose = {n: getattr(item, n) for n in DOSE_FIELDS}
            steps = [s for s in self.progression.steps if s.exercise in (None, item.exercise)]
            for week in range(1, weeks + 1):
                for step in steps:  # in week order; an exercise's own step after the general one
                    if step.from_week == week and step.exercise is None:
                        dose.update(step.changes())
                for step in steps:
                    if step.from_week == week and step.exercise is not None:
                        dose.update(step.changes())
                rows.append({"item": pos, "exercise": item.exercise, "side": item.side, "week": week, **dose})
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class Template:
    """A named programme a physio can start from.

    Attributes
    ----------
    key
        Identifier (letters, digits, ``_``).
    name
        Title shown to physios.
    description
        What it is for and where it comes from.
    programme
        The items and progression.
    """

    key: str
    name: str
    description: str
    programme: Programme


def _week_start(programme_start: pd.Timestamp, week: int | np.ndarray) -> Any:
    return programme_start + pd.to_timedelta(7 * (np.asarray(week) - 1), unit="D")


def programme_to_prescriptions(
    patient_id: str,
    programme_start: DateLike,
    programme: Programme,
    weeks: int | None = 12,
) -> pd.DataFrame:
    """The ``prescriptions`` periods of a programme: one per exercise, side and change of dose.

    Parameters
    ----------
    patient_id
        The patient.
    programme_start
        First day of week 1 (date-like; the time of day is dropped).
    programme
        Items and progression.
    weeks
        Length of the programme in weeks: the last period ends on day
        ``7 x weeks - 1``. ``None`` leaves the last period open-ended (steps
        after week 52 are then ignored).

    Returns
    -------
    pandas.DataFrame
        The canonical ``prescriptions`` table (:data:`analysis.schema.PRESCRIPTIONS`),
        sorted by its key (``patient_id``, ``exercise``, ``side``, ``start_date``):

        - ``patient_id``, ``exercise``, ``side`` (string)
        - ``sets`` (Int64, sets/session), ``reps`` (Int64, repetitions/set),
          ``hold_s`` (float64, s), ``sessions_per_week`` (Int64)
        - ``start_date`` (datetime64[ns]): first day of the period, a programme week start
        - ``end_date`` (datetime64[ns], inclusive): the day before the next change,
          the last programme day, or NaT (open-ended)

    Notes
    -----
    A period starts in week 1 and at every step of the progression that changes
    the item's dose; consecutive weeks with the same dose are one period. Period
    ``[w_a, w_b)`` runs from ``start + 7 (w_a - 1)`` to ``start + 7 (w_b - 1) - 1``
    days, so periods of one exercise and side never overlap and leave no gap.
    """
    if weeks is not None and int(weeks) < 1:
        raise ProgrammeError(f"the programme must last at least 1 week, got {weeks}")
    start = pd.Timestamp(programme_start).normalize()
    horizon = int(weeks) if weeks is not None else max([s.from_week for s in programme.progression.steps] + [1])
    horizon = min(horizon, 52) if weeks is None else horizon
    doses = programme.doses(horizon)
    changed = (doses[list(DOSE_FIELDS)] != doses.groupby("item")[list(DOSE_FIELDS)].shift()).any(axis=1)
    firsts = doses.loc[changed | (doses["week"] == 1)].copy()
    nxt = firsts.groupby("item")["week"].shift(-1)
    firsts["start_date"] = _week_start(start, firsts["week"].to_numpy())
    end_week_next = nxt.fillna(horizon + 1).astype(int).to_numpy()
    ends = _week_start(start, end_week_next) - pd.Timedelta(days=1)
    firsts["end_date"] = ends
    if weeks is None:
        firsts.loc[nxt.isna().to_numpy(), "end_date"] = pd.NaT
    firsts["patient_id"] = str(patient_id)
    out = conform(firsts.reset_index(drop=True), PRESCRIPTIONS)
    return out.sort_values(list(PRESCRIPTIONS.key), kind="stable").reset_index(drop=True)


def planned_weekly_load(
    programme: Programme,
    weeks: int = 12,
    *,
    programme_start: DateLike = "2026-01-05",
    settings: Settings = DEFAULT_SETTINGS,
) -> pd.DataFrame:
    """The planned weekly dose of a programme and its acute:chronic ratio, week by week.

    Parameters
    ----------
    programme
        Items and progression.
    weeks
        Programme length in weeks.
    programme_start
        First day of week 1 (only for ``week_start``; the numbers do not depend on it).
    settings
        ``acwr_chronic_weeks`` and ``acwr_max``, as for :func:`analysis.flags.load_progression`.

    Returns
    -------
    pandas.DataFrame
        One row per programme week 1..weeks:

        - ``week`` (int64), ``week_start`` (datetime64[ns])
        - ``dose`` (float64, repetition-seconds): sum over items of
          ``sets x reps x hold_s`` (hold 0 counts as 1) x ``sessions_per_week``
        - ``change`` (float64, repetition-seconds) and ``change_pct`` (float64, %):
          against the week before; NaN in week 1
        - ``chronic_mean`` (float64): mean dose of the ``acwr_chronic_weeks`` weeks before
        - ``acwr`` (float64, ratio): ``dose / chronic_mean``; NaN in the first weeks
        - ``steep`` (bool): ``acwr > acwr_max``
        - ``descriptive_only`` (bool): always True (contested athlete evidence)

    Notes
    -----
    The planned sessions (every item, ``sessions_per_week`` times a week) are
    fed to :func:`analysis.flags.load_progression`, so a plan is judged by
    exactly the rule that later judges what the patient logs: the uncoupled
    ratio ``dose(w) / mean(dose(w-1) .. dose(w-K))``, flagged above
    ``acwr_max`` (default 1.5).

    References
    ----------
    docs/clinical-reference.md sections 5 and 7 ("start gently and build
    gradually over weeks"; ratio > 1.5, descriptive only, Impellizzeri et al. 2020).
    """
    periods = programme_to_prescriptions("plan", programme_start, programme, weeks)
    start = pd.Timestamp(programme_start).normalize()
    first = ((periods["start_date"] - start).dt.days // 7).to_numpy()
    last = ((periods["end_date"] - start).dt.days // 7).to_numpy()
    n_weeks = last - first + 1
    spw = periods["sessions_per_week"].to_numpy(dtype=np.int64)
    # one session row per period, week and session: period i repeated n_weeks[i] * spw[i] times
    per_row = n_weeks * spw
    row = np.repeat(np.arange(len(periods)), per_row)
    offset = np.arange(per_row.sum()) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    week0 = first[row] + offset // spw[row]
    session = offset % spw[row]
    performed = (start + pd.to_timedelta(7 * week0 + session % 7, unit="D")
                 + pd.to_timedelta(session // 7, unit="h"))
    sessions = pd.DataFrame({
        "patient_id": "plan",
        "performed_at": performed,
        "exercise": periods["exercise"].to_numpy()[row],
        "side": periods["side"].to_numpy()[row],
        "sets": periods["sets"].to_numpy()[row],
        "reps": periods["reps"].to_numpy()[row],
        "hold_s": periods["hold_s"].to_numpy()[row],
    })
    patients = pd.DataFrame({"patient_id": pd.array(["plan"], dtype="string"), "physio_id": "plan",
                             "programme_start": [start]})
    load = load_progression(sessions, patients, settings=settings)
    out = load.drop(columns=["patient_id"]).rename(columns={"flagged": "steep"})
    return out.reset_index(drop=True)


def steep_weeks(load: pd.DataFrame, *, settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """The weeks of a planned load curve whose acute:chronic ratio is above ``settings.acwr_max``.

    Parameters
    ----------
    load
        The output of :func:`planned_weekly_load`.
    settings
        ``acwr_max`` (default 1.5).

    Returns
    -------
    pandas.DataFrame
        The rows of ``load`` with ``acwr > acwr_max``, plus ``message`` (str): one
        sentence for the physio, e.g. "Week 5: planned load 3,500 is 3.17 x the
        mean of the 4 weeks before (above 1.5; descriptive only)".
    """
    steep = load.loc[load["acwr"].fillna(-np.inf) > float(settings.acwr_max) + 1e-9].copy()
    k = int(settings.acwr_chronic_weeks)
    steep["message"] = [
        f"Week {w}: planned load {d:,.0f} is {a:.2f} x the mean of the {k} weeks before "
        f"(above {settings.acwr_max:g}; descriptive only)"
        for w, d, a in zip(steep["week"], steep["dose"], steep["acwr"], strict=True)
    ]
    return steep.reset_index(drop=True)


@dataclass(frozen=True)
class ProgrammeEdit:
    """What a mid-programme edit does to one patient's prescription periods.

    Attributes
    ----------
    kept
        Periods that ended before the edit date: unchanged.
    closed
        Periods running on the edit date, with ``end_date`` set to the day before it.
    removed
        Periods that would have started on or after the edit date (planned, not
        yet begun): replaced by ``added``.
    added
        The new programme's periods from the edit date on.
    result
        ``kept`` + ``closed`` + ``added``: the patient's periods after the edit,
        sorted by the table key.
    """

    kept: pd.DataFrame
    closed: pd.DataFrame
    removed: pd.DataFrame
    added: pd.DataFrame
    result: pd.DataFrame


def edit_prescriptions(existing: pd.DataFrame, new_periods: pd.DataFrame, from_date: DateLike) -> ProgrammeEdit:
    """Change a patient's prescription from ``from_date`` on without rewriting what came before.

    Parameters
    ----------
    existing
        The patient's current ``prescriptions`` rows (one patient).
    new_periods
        The new programme's periods, e.g. :func:`programme_to_prescriptions` with
        the patient's ``programme_start`` (so the progression keeps counting
        programme weeks); periods ending before ``from_date`` are ignored and the
        one running on it starts on ``from_date``.
    from_date
        First day of the new prescription.

    Returns
    -------
    ProgrammeEdit
        Every frame in the canonical ``prescriptions`` form.

    Raises
    ------
    ProgrammeError
        If the frames are for different patients.

    Notes
    -----
    Every day before ``from_date`` keeps exactly the prescription it had, so
    adherence and dose completion computed for those days do not change.
    """
    when = to_day(from_date)
    old = conform(existing, PRESCRIPTIONS).reset_index(drop=True)
    new = conform(new_periods, PRESCRIPTIONS).reset_index(drop=True)
    ids = set(old["patient_id"].dropna()) | set(new["patient_id"].dropna())
    if len(ids) > 1:
        raise ProgrammeError(f"an edit concerns one patient; got {', '.join(sorted(map(str, ids)))}")
    ended = old["end_date"].notna() & (old["end_date"] < when)
    future = old["start_date"] >= when
    running = ~ended & ~future
    closed = old.loc[running].copy()
    closed["end_date"] = when - pd.Timedelta(days=1)
    added = new.loc[new["end_date"].isna() | (new["end_date"] >= when)].copy()
    added["start_date"] = added["start_date"].where(added["start_date"] >= when, when)

    def tidy(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return empty_frame(PRESCRIPTIONS)
        return conform(frame, PRESCRIPTIONS).sort_values(list(PRESCRIPTIONS.key), kind="stable").reset_index(
            drop=True)

    kept, closed, removed, added = tidy(old.loc[ended]), tidy(closed), tidy(old.loc[future]), tidy(added)
    result = tidy(pd.concat([f for f in (kept, closed, added) if len(f)] or [empty_frame(PRESCRIPTIONS)]))
    return ProgrammeEdit(kept=kept, closed=closed, removed=removed, added=added, result=result)


@checks_tables(prescriptions="prescriptions")
def items_in_force(prescriptions: pd.DataFrame, when: DateLike) -> list[ProgrammeItem]:
    """A patient's prescription as programme items: the dose in force on ``when``, else the latest dose.

    Parameters
    ----------
    prescriptions
        One patient's canonical ``prescriptions`` rows.
    when
        The day (e.g. the first day of a change).

    Returns
    -------
    list of ProgrammeItem
        One item per exercise and side in force on ``when``
        (:func:`analysis.prescriptions.dose_in_force`: a replaced dose is not
        listed); when nothing is in force that day (before the programme or after
        it ended), the last period of each exercise and side. In table order.

    See Also
    --------
    analysis.prescriptions.dose_in_force : The periods in force on a day.
    edit_prescriptions : Applies a changed programme from a day on.
    """
    running = dose_in_force(prescriptions, when)
    base = running if len(running) else (
        prescriptions.sort_values("start_date", kind="stable").groupby(["exercise", "side"]).tail(1))
    return [ProgrammeItem(str(r.exercise), str(r.side), int(r.sets), int(r.reps), float(r.hold_s),
                          int(r.sessions_per_week)) for r in base.itertuples()]


def check_prescriptions(periods: pd.DataFrame, patient_id: str) -> pd.DataFrame:
    """A programme's periods as valid canonical ``prescriptions`` rows of one patient, or why not.

    Parameters
    ----------
    periods
        The periods (e.g. :func:`programme_to_prescriptions`).
    patient_id
        The patient they must all be for.

    Returns
    -------
    pandas.DataFrame
        ``periods`` conformed to :data:`analysis.schema.PRESCRIPTIONS`, index reset.

    Raises
    ------
    ProgrammeError
        A period of another patient (or of none), or a value outside the
        table's ranges (the first five failing cells are named).

    See Also
    --------
    analysis.access.save_prescriptions : Checks the physio, then stores the periods.
    """
    new = conform(periods, PRESCRIPTIONS).reset_index(drop=True)
    others = sorted(set(new["patient_id"].dropna().astype(str)) - {str(patient_id)})
    if others or new["patient_id"].isna().any():
        raise ProgrammeError(f"these prescriptions are not all for patient {patient_id}")
    checked = validate_frame(new, PRESCRIPTIONS, keys=False)  # the validation engine of every upload
    if not checked.ok:
        cases = checked.by_column().head(5)
        detail = "; ".join(f"{column}: {checked.value(row, column)} ({check})" for row, column, check in
                           zip(cases["row"], cases["column"], cases["check"], strict=True))
        raise ProgrammeError(f"the programme is not a valid prescription: {detail}")
    return new


def custom_exercise(exercise: str, label: str, instruction: str) -> tuple[str, str, str]:
    """A physio's own exercise, checked: its name, label and instruction as they are stored.

    Parameters
    ----------
    exercise
        The name (runs of white space become one space).
    label
        The name shown to patients (default the name).
    instruction
        Plain-language instruction; the seed's rule "stop if it hurts" is
        appended when the text does not say it.

    Returns
    -------
    tuple of str
        ``(exercise, label, instruction)``.

    Raises
    ------
    ProgrammeError
        An empty name or instruction, or a name of the shipped vocabulary.

    Examples
    --------
    >>> custom_exercise("wall  slide", "", "Slide your back down the wall.")
    ('wall slide', 'wall slide', 'Slide your back down the wall. Move slowly and gently; stop if it hurts.')
    """
    name = " ".join(str(exercise).split())
    if not name or not str(instruction).strip():
        raise ProgrammeError("give the exercise a name and a plain-language instruction")
    if name in EXERCISES or normalise_exercise(name) in EXERCISES:
        raise ProgrammeError(f"{name!r} is already in the exercise list ({normalise_exercise(name)}); use it")
    text = str(instruction).strip()
    if "stop if it hurts" not in text.lower():
        text = text.rstrip(".") + ". Move slowly and gently; stop if it hurts."
    return name, (label or name).strip(), text


# --------------------------------------------------------------------------------------
# templates as plain data (the store keeps physios' own templates as JSON)


def template_to_dict(template: Template) -> dict[str, Any]:
    """A JSON-ready dict of a template (read back with :func:`template_from_dict`)."""
    return {
        "key": template.key,
        "name": template.name,
        "description": template.description,
        "items": [{n: getattr(i, n) for n in ("exercise", "side", *DOSE_FIELDS)} for i in template.programme.items],
        "progression": template.programme.progression.describe(),
    }


def template_from_dict(data: dict[str, Any]) -> Template:
    """A template from :func:`template_to_dict` output (or a hand-written TOML/JSON table).

    Raises
    ------
    ProgrammeError
        A missing field or an invalid dose; the message names it.
    """
    try:
        items = tuple(ProgrammeItem(**{k: v for k, v in item.items()}) for item in data["items"])
        programme = Programme(items, Progression.parse(str(data.get("progression", ""))))
        return Template(str(data["key"]), str(data.get("name", data["key"])), str(data.get("description", "")),
                        programme)
    except (KeyError, TypeError) as exc:
        raise ProgrammeError(f"the template is incomplete or has an unknown field: {exc}") from exc


def with_progression(programme: Programme, text: str) -> Programme:
    """The same items with a progression read from ``text`` (see :meth:`Progression.parse`)."""
    return replace(programme, progression=Progression.parse(text))


__all__ += ["with_progression"]
