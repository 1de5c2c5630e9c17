"""A deterministic synthetic cohort of back-pain rehabilitation logs.

:func:`generate_cohort` builds the five canonical tables of
:mod:`analysis.schema` for a clinic running the programme of the seed text
(docs/clinical-reference.md section 7): knee-to-chest stretches for each
leg (hold 5 s, 10 times, starting gently with one set and building over weeks)
and the standing hamstring toe-touch, plus one or two other gentle stretches
for some patients. The behaviours the analyses look for are planted on
purpose and recorded in :attr:`SampleCohort.planted`: adherence that fades,
weekend gaps, patients who stop logging or never really start, responders and
non-responders, pain spikes (flare-ups), self-reported flares without a spike,
painful sessions, a rapid load jump and prescription changes that fall
mid-week.

The committed sample in ``data/sample/`` is exactly what
``python -m analysis.sample_data`` writes (see ``data/sample/README.md``).

Everything is drawn from one ``numpy.random.default_rng(seed)`` on patient x
day arrays (no Python loop over patients or days), so the same seed gives the
same tables and 20,000 patients take seconds.
"""

from __future__ import annotations

import argparse
import io
import logging
import string
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from analysis.errors import IngestError
from analysis.schema import TABLES, CohortTables, conform, table_spec

__all__ = [
    "SNAPSHOT_DATE",
    "DEFAULT_SEED",
    "SAMPLE_DIR",
    "SHOWCASE_PATIENT",
    "SampleCohort",
    "generate_cohort",
    "write_cohort",
    "write_patient_files",
    "write_sample",
    "load_cohort",
    "patient_sessions_file",
    "patient_pain_file",
    "sample_shift_days",
    "shift_sample_csv",
]

logger = logging.getLogger(__name__)

#: The day the sample was exported: every timestamp is before this date (the last
#: logged day is the day before).
SNAPSHOT_DATE: date = date(2026, 11, 20)


def sample_shift_days(today: date) -> int:
    """Days to move the sample cohort so that its snapshot falls in the week ending ``today`` (a multiple of 7).

    The sample is a snapshot taken on :data:`SNAPSHOT_DATE` (a Friday). A store
    seeded with it on another day moves every date by whole weeks, so weekdays
    stay what they were and the demo patients are mid-programme "now": the
    moved snapshot is ``today`` or up to 6 days before it (a project choice for
    the demo; real data are never moved).

    Parameters
    ----------
    today
        The day the store is seeded (:func:`analysis.timeline.today` in the clinic's zone).

    Returns
    -------
    int
        Days to add to every sample date (negative before the snapshot; 0 on it).

    Examples
    --------
    >>> sample_shift_days(date(2026, 11, 20)), sample_shift_days(date(2026, 11, 26))
    (0, 0)
    >>> sample_shift_days(date(2026, 11, 27)), sample_shift_days(date(2026, 12, 3))
    (7, 7)
    >>> sample_shift_days(date(2026, 11, 19))
    -7
    """
    return (today - SNAPSHOT_DATE).days // 7 * 7


def shift_sample_csv(table: str, data: bytes, days: int) -> bytes:
    r"""A canonical CSV file of the sample with every date and time of ``table`` moved by ``days`` days.

    Dates keep the way they are written (``2026-08-21`` stays a date without a
    time, ``2026-08-21 19:36`` keeps its clock time); empty cells stay empty and
    other columns are untouched, so the moved file ingests like the original.

    Parameters
    ----------
    table
        Canonical table name (its date columns come from :mod:`analysis.schema`).
    data
        The CSV bytes as committed in ``data/sample``.
    days
        Days to add (:func:`sample_shift_days`).

    Returns
    -------
    bytes
        UTF-8 CSV bytes.

    Examples
    --------
    >>> shift_sample_csv("patients", b"patient_id,programme_start\nP001,2026-08-21\n", 14).decode()
    'patient_id,programme_start\nP001,2026-09-04\n'
    """
    if days == 0:
        return data
    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    for column in table_spec(table).columns:
        if not column.is_datetime or column.name not in frame:
            continue
        text = frame[column.name]
        written = text.str.strip() != ""
        moved = pd.to_datetime(text[written]) + pd.Timedelta(days=days)
        has_time = text[written].str.len() > 10
        frame.loc[written, column.name] = np.where(has_time, moved.dt.strftime("%Y-%m-%d %H:%M"),
                                                   moved.dt.strftime("%Y-%m-%d"))
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


#: Seed of the committed sample.
DEFAULT_SEED: int = 20260907
#: Directory of the committed sample files.
SAMPLE_DIR: Path = Path(__file__).resolve().parents[1] / "data" / "sample"
#: The patient whose own files (``my_sessions.csv``, ``my_pain_diary.csv``) ship with the sample.
SHOWCASE_PATIENT: str = "P001"

#: File name of the ground truth of the planted behaviours (not a canonical table).
PLANTED_FILE = "planted.csv"
#: Columns of :attr:`SampleCohort.planted`.
PLANTED_COLUMNS: dict[str, str] = {
    "patient_id": "string",
    "behaviour": "string",
    "day": "Int64",
    "date": "datetime64[ns]",
    "detail": "string",
}

# --------------------------------------------------------------------------------------
# The programme: exercise slots (one per exercise and side) in canonical key order, so
# that rows built patient -> day -> slot come out sorted by the tables' natural keys.
_SLOTS: tuple[tuple[str, str], ...] = (
    ("cat_cow", "both"),
    ("childs_pose", "both"),
    ("hamstring_stretch", "both"),
    ("knee_to_chest", "left"),
    ("knee_to_chest", "right"),
    ("lower_trunk_rotation", "left"),
    ("lower_trunk_rotation", "right"),
    ("pelvic_tilt", "both"),
    ("piriformis_stretch", "left"),
    ("piriformis_stretch", "right"),
)
_SLOT_INDEX = {slot: i for i, slot in enumerate(_SLOTS)}
_SLOT_EXERCISE = np.array([exercise for exercise, _ in _SLOTS], dtype=object)
_SLOT_SIDE = np.array([side for _, side in _SLOTS], dtype=object)
_HAMSTRING = _SLOT_INDEX[("hamstring_stretch", "both")]
_KNEE = [_SLOT_INDEX[("knee_to_chest", "left")], _SLOT_INDEX[("knee_to_chest", "right")]]
#: Optional extra stretches: their slots and starting dose (sets, reps, hold s).
_EXTRAS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("cat_cow", (1, 10, 0)),
    ("childs_pose", (1, 3, 20)),
    ("lower_trunk_rotation", (1, 10, 5)),
    ("pelvic_tilt", (1, 10, 5)),
    ("piriformis_stretch", (1, 3, 20)),
)
_N_PERIODS = 3  # starting dose and up to two reviews

#: How a patient writes exercise names and sides in their own file (all in the vocabulary's synonyms).
_PATIENT_EXERCISE_NAMES = {
    "knee_to_chest": "Knee to chest",
    "hamstring_stretch": "Toe touch",
    "cat_cow": "Cat camel",
    "childs_pose": "Child's pose",
    "lower_trunk_rotation": "Knee rolls",
    "pelvic_tilt": "Pelvic tilts",
    "piriformis_stretch": "Figure four stretch",
}
_PATIENT_SIDES = {"left": "L", "right": "R", "both": "Both"}

_SESSION_NOTES = np.array(
    [
        "felt stiff",
        "easier today",
        "did it after work",
        "tight at the start, better after",
        "short on time",
        "left hip a bit tight",
        "back twinge, went gently",
        "good session",
    ],
    dtype=object,
)
_PAIN_NOTES = np.array(
    ["bad night", "long drive", "after gardening", "sat all day at work", "good day", "walked 5 km"], dtype=object
)
_FLARE_NOTES = np.array(
    [
        "flare after lifting boxes",
        "back locked up this morning",
        "flare, took painkillers",
        "bent to pick something up",
    ],
    dtype=object,
)
_CONDITION_NOTES = np.array(
    ["chronic low back pain", "low back pain > 3 months", "desk worker, low back pain", "recurrent low back pain"],
    dtype=object,
)
_AGE_BANDS = np.array(["18-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+"], dtype=object)
_AGE_WEIGHTS = np.array([0.08, 0.17, 0.24, 0.24, 0.16, 0.09, 0.02])

#: Second, separate random stream (``default_rng([seed, _STARTBACK_STREAM])``) for the baseline
#: STarT Back questionnaire, drawn after everything else so that adding it left every other
#: table of the sample unchanged (issue 20).
_STARTBACK_STREAM = 20
#: P(low, medium, high STarT Back risk) given the planted outcome: slow recoverers (flat and
#: worsening courses) are more often high risk, as in Hill et al. 2008 (high-risk patients had
#: poorer outcomes). The association is planted; the risk group does not change any pain value.
_STARTBACK_RISK_P: dict[str, tuple[float, float, float]] = {
    "responder": (0.55, 0.35, 0.10),
    "flat": (0.20, 0.40, 0.40),
    "worsening": (0.10, 0.30, 0.60),
}
_RISK_GROUPS = np.array(["low", "medium", "high"], dtype=object)

_NS_PER_MIN = 60 * 10**9
_NS_PER_DAY = 24 * 60 * _NS_PER_MIN


@dataclass(frozen=True)
class SampleCohort(CohortTables):
    """A synthetic cohort: the five canonical tables plus the truth of what was planted.

    Attributes
    ----------
    patients, prescriptions, sessions, pain, proms
        Canonical DataFrames (columns, order and dtypes of :mod:`analysis.schema`),
        rows sorted by each table's natural key, default ``RangeIndex``.
    planted
        Ground truth of the planted behaviours, one row per patient and behaviour
        (not a canonical table; ``None`` when unknown):

        ``patient_id``
            Patient.
        ``behaviour``
            ``outcome`` (detail ``responder``, ``flat`` or ``worsening``),
            ``stopped_logging`` (detail ``stopped partway`` or ``never really started``;
            ``day`` = first programme day with no entries from then on),
            ``pain_spike`` (a flare-up: pain 3-4.5 points above its course on the onset
            day, 60 % and 25 % of that on the next two; ``day`` = onset, detail = the
            size in points),
            ``self_reported_flare_without_spike`` (flare ticked on a day without a spike),
            ``load_jump`` (a week at +2 sets and double reps above the prescription),
            ``prescription_change`` (a review that changed a dose or the weekly target;
            detail ``week boundary`` or ``mid-week``).
        ``day``
            Programme day (0 = programme start), ``<NA>`` for ``outcome``.
        ``date``
            Calendar date of ``day`` (midnight), ``NaT`` for ``outcome``.
        ``detail``
            As above.
    """

    planted: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The five canonical tables by name."""
        return {name: getattr(self, name) for name in TABLES}


# --------------------------------------------------------------------------------------
# generation: per-patient draws, then one builder per table


@dataclass(frozen=True)
class _Plan:
    """Per-patient draws shared by the table builders (arrays of length n or n x days)."""

    days: np.ndarray  # programme days 0..7*weeks-1
    patient_ids: np.ndarray  # object array of "P001"...
    start: np.ndarray  # programme start, datetime64[D]
    n_obs: np.ndarray  # observed days 0..n_obs-1 (up to the day before the snapshot)
    finished: np.ndarray  # the whole programme lies before the snapshot
    outcome: np.ndarray  # "responder", "flat", "worsening"
    engagement: np.ndarray  # "engaged", "stopped partway", "never really started"
    stop_day: np.ndarray  # first day with no entries from then on (n_obs when none)
    logging: np.ndarray  # n x days: observed and before the stop day
    leg: np.ndarray  # leg symptoms (pain location, condition notes)

    @property
    def n(self) -> int:
        return len(self.patient_ids)

    @property
    def n_days(self) -> int:
        return len(self.days)

    def timestamps(self, who: np.ndarray, day: np.ndarray, minute: np.ndarray) -> np.ndarray:
        """``datetime64[ns]`` of programme ``day`` at ``minute`` past midnight for patients ``who``."""
        start_ns = self.start.astype("datetime64[ns]").astype(np.int64)
        return (start_ns[who] + day * _NS_PER_DAY + minute * _NS_PER_MIN).astype("datetime64[ns]")


@dataclass(frozen=True)
class _PainCourse:
    """Latent daily pain and the planted spikes and load jumps (n x days grids)."""

    course: np.ndarray  # smooth course without noise or spikes
    latent: np.ndarray  # course + AR(1) noise + spikes
    onset: np.ndarray  # spike onset days
    size: np.ndarray  # spike size at onset (points)
    spike_day: np.ndarray  # spike adds >= 2 points
    jump_day: np.ndarray  # per patient, load-jump start day (-1 = none)
    in_jump: np.ndarray  # day inside the load-jump week


@dataclass(frozen=True)
class _Regimen:
    """Prescribed dose per patient, period (start, review 1, review 2) and exercise slot."""

    period_start: np.ndarray  # n x periods, day each period starts
    exists: np.ndarray  # n x periods, the review happened
    sets: np.ndarray  # n x periods x slots
    reps: np.ndarray
    hold: np.ndarray
    active: np.ndarray  # slot prescribed in the period
    spw: np.ndarray  # n x periods, sessions per week
    period: np.ndarray  # n x days, the period in force

    @property
    def begins(self) -> np.ndarray:
        """Patients x periods x slots: a prescription row starts (new slot, or its dose or weekly target changed)."""
        same_as_before = np.zeros_like(self.active)
        same_as_before[:, 1:] = (
            self.active[:, :-1]
            & (self.sets[:, 1:] == self.sets[:, :-1])
            & (self.reps[:, 1:] == self.reps[:, :-1])
            & (self.hold[:, 1:] == self.hold[:, :-1])
            & (self.spw[:, 1:] == self.spw[:, :-1])[:, :, None]
        )
        return self.active & ~same_as_before


def _labels(n: int, prefix: str, letters: bool) -> np.ndarray:
    """``P001``-style (zero-padded numbers) or ``physio_a``-style (letters) identifiers."""
    if not letters:
        width = max(3, len(str(n)))
        return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)
    width = 1
    while 26**width < n:
        width += 1
    out = []
    for i in range(n):
        digits = []
        for _ in range(width):
            i, r = divmod(i, 26)
            digits.append(string.ascii_lowercase[r])
        out.append(prefix + "".join(reversed(digits)))
    return np.array(out, dtype=object)


def _assign_groups(rng: np.random.Generator, n: int, shares: dict[str, float], first: str) -> np.ndarray:
    """Assign ``round(share * n)`` patients to each group but ``first``; the rest (and patient 0) to ``first``."""
    out = np.full(n, first, dtype=object)
    order = rng.permutation(np.arange(1, n))
    pos = 0
    for name, share in shares.items():
        if name != first:
            take = min(round(share * n), len(order) - pos)
            out[order[pos : pos + take]] = name
            pos += take
    return out


def _shift(grid: np.ndarray, k: int) -> np.ndarray:
    """Shift a patient x day grid ``k`` days later along axis 1, filling with zeros."""
    out = np.zeros_like(grid)
    out[:, k:] = grid[:, : grid.shape[1] - k]
    return out


def _strings(values: np.ndarray) -> pd.arrays.StringArray:
    """An object array of str/None as a pandas string array."""
    return pd.array(values, dtype="string")


def _draw_plan(rng: np.random.Generator, n: int, weeks: int, snapshot: date) -> _Plan:
    """Programme starts (weekdays, 109-46 days before the snapshot), groups and logging windows."""
    n_days = 7 * weeks
    days = np.arange(n_days)
    snap = np.datetime64(snapshot, "D")
    start = snap - rng.integers(46, 110, size=n).astype("timedelta64[D]")
    weekday = (start.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    start = start + np.where(weekday >= 5, 7 - weekday, 0).astype("timedelta64[D]")
    to_snapshot = (snap - start).astype(np.int64)
    n_obs = np.minimum(n_days, to_snapshot)
    outcome = _assign_groups(rng, n, {"responder": 0.55, "flat": 0.30, "worsening": 0.15}, "responder")
    engagement = _assign_groups(
        rng, n, {"engaged": 0.87, "stopped partway": 0.08, "never really started": 0.05}, "engaged"
    )
    stop_hi = np.maximum(n_obs - 8, 1)  # leave >= 8 silent days before the end of the window
    stop_day = np.where(
        engagement == "stopped partway",
        rng.integers(np.minimum(14, stop_hi), stop_hi + 1),
        np.where(
            engagement == "never really started",
            rng.integers(np.minimum(3, stop_hi), np.minimum(10, stop_hi) + 1),
            n_obs,
        ),
    )
    leg = rng.random(n) < 0.25
    leg[0] = False
    return _Plan(
        days=days,
        patient_ids=_labels(n, "P", letters=False),
        start=start,
        n_obs=n_obs,
        finished=to_snapshot >= n_days,
        outcome=outcome,
        engagement=engagement,
        stop_day=stop_day,
        logging=(days[None, :] < n_obs[:, None]) & (days[None, :] < stop_day[:, None]),
        leg=leg,
    )


def _draw_pain_course(rng: np.random.Generator, plan: _Plan) -> _PainCourse:
    """Latent pain: exponential approach to the week-12 level, AR(1) noise, spikes, load jumps."""
    n, days = plan.n, plan.days
    baseline = np.clip(rng.normal(6.8, 0.9, n), 4.5, 8.5)
    target = np.select(
        [plan.outcome == "responder", plan.outcome == "flat"],
        [rng.uniform(2.0, 3.2, n), baseline + rng.normal(0.0, 0.4, n)],
        np.minimum(baseline + rng.uniform(1.0, 2.0, n), 9.5),
    )
    tau = rng.uniform(12.0, 35.0, n)[:, None]
    last = max(plan.n_days - 1, 1)
    course = baseline[:, None] + (target - baseline)[:, None] * (1 - np.exp(-days / tau)) / (1 - np.exp(-last / tau))
    phi = 0.5
    ar = lfilter([1.0], [1.0, -phi], rng.normal(0.0, 1.0, (n, plan.n_days)), axis=1)
    ar *= (rng.uniform(0.5, 0.9, n) * np.sqrt(1 - phi**2))[:, None]
    onset = rng.random((n, plan.n_days)) < rng.uniform(0.005, 0.025, n)[:, None]
    onset[:, :7] = False  # keep the baseline week free of spikes
    showcase_flare = min(38, int(plan.n_obs[0]) - 3)
    if showcase_flare >= 7:
        onset[0, showcase_flare] = True  # the showcase patient has at least one flare-up
    # rapid load jump: a week at +2 sets and double reps, then a spike 4 days in
    candidates = np.flatnonzero((plan.engagement == "engaged") & (plan.n_obs >= 35))
    candidates = candidates[candidates != 0]
    n_jump = min(len(candidates), max(1, round(0.05 * n)))
    jumpers = np.sort(rng.choice(candidates, size=n_jump, replace=False))
    jump_day = np.full(n, -1)
    jump_day[jumpers] = rng.integers(21, plan.n_obs[jumpers] - 10)
    in_jump = (jump_day[:, None] >= 0) & (days >= jump_day[:, None]) & (days < jump_day[:, None] + 7)
    onset[jumpers, jump_day[jumpers] + 4] = True
    size = onset * rng.uniform(3.0, 4.5, (n, plan.n_days))
    spike = size + 0.6 * _shift(size, 1) + 0.25 * _shift(size, 2)
    return _PainCourse(
        course=course,
        latent=course + ar + spike,
        onset=onset,
        size=size,
        spike_day=spike >= 2.0,
        jump_day=jump_day,
        in_jump=in_jump,
    )


def _draw_regimen(rng: np.random.Generator, plan: _Plan) -> _Regimen:
    """The prescribed dose: starting dose, a first and a second review, optional extra stretches."""
    n, days = plan.n, plan.days
    c1 = rng.integers(14, 29, n)
    c1 = np.where(rng.random(n) < 0.5, (c1 // 7) * 7, c1)  # half the reviews on a week boundary
    c1[0] += 3 * (c1[0] % 7 == 0)  # the showcase patient's first review is mid-week
    c2 = c1 + rng.integers(21, 36, n)
    period_start = np.stack([np.zeros(n, dtype=np.int64), c1, c2], axis=1)
    exists = np.cumprod(period_start < plan.stop_day[:, None], axis=1).astype(bool)  # no review after logging stops
    shape = (n, _N_PERIODS, len(_SLOTS))
    sets, reps, hold = np.zeros(shape, np.int64), np.zeros(shape, np.int64), np.zeros(shape, np.int64)
    active = np.zeros(shape, dtype=bool)
    active[:, :, [*_KNEE, _HAMSTRING]] = True
    sets[:, :, _KNEE], reps[:, :, _KNEE], hold[:, :, _KNEE] = 1, 10, 5
    sets[:, :, _HAMSTRING], reps[:, :, _HAMSTRING] = 1, 3
    hold[:, :, _HAMSTRING] = np.where(rng.random(n) < 0.6, 15, 20)[:, None]
    spw = np.repeat(np.where(rng.random(n) < 0.85, 5, 7)[:, None], _N_PERIODS, axis=1)
    # first review: knee-to-chest 2 sets, hamstring hold 20 s, 5 -> 7 sessions a week for some
    sets[:, 1:, _KNEE] = 2
    hold[:, 1:, _HAMSTRING] = 20
    spw[:, 1:] = np.where((spw[:, 0] == 5) & (rng.random(n) < 0.4), 7, spw[:, 0])[:, None]
    # second review: knee-to-chest 3 sets for some, hamstring 5 reps for others
    sets[:, 2, _KNEE] = np.where(rng.random(n) < 0.6, 3, 2)[:, None]
    reps[:, 2, _HAMSTRING] = np.where(rng.random(n) < 0.4, 5, 3)
    # 0, 1 or 2 extra stretches, from the start or from the first review, 2 sets at the second for some
    n_extra = rng.choice(3, size=n, p=[0.55, 0.30, 0.15])
    pick = np.argsort(rng.random((n, len(_EXTRAS))), axis=1)
    extra_from = np.where(rng.random(n) < 0.5, 0, 1)
    extra_more = (rng.random(n) < 0.5).astype(np.int64)
    for e, (name, (s0, r0, h0)) in enumerate(_EXTRAS):
        who = ((n_extra > 0) & (pick[:, 0] == e)) | ((n_extra > 1) & (pick[:, 1] == e))
        slots = [i for i, (ex, _) in enumerate(_SLOTS) if ex == name]
        for k in range(_N_PERIODS):
            on = np.flatnonzero(who & (extra_from <= k))
            for s in slots:
                active[on, k, s] = True
                sets[on, k, s] = s0 + (k == 2) * extra_more[on]
                reps[on, k, s], hold[on, k, s] = r0, h0
    active &= exists[:, :, None]
    period = (days >= c1[:, None]).astype(np.int64) + (days >= c2[:, None])
    period = np.minimum(period, exists.sum(axis=1)[:, None] - 1)
    return _Regimen(period_start, exists, sets, reps, hold, active, spw, period)


def _sessions_table(rng: np.random.Generator, plan: _Plan, pain: _PainCourse, rx: _Regimen) -> pd.DataFrame:
    """Sessions: a patient x day x (morning, evening) grid, one row per prescribed slot done."""
    n, n_days, days = plan.n, plan.n_days, plan.days
    a0 = np.where(plan.outcome == "responder", rng.beta(8, 2, n), rng.beta(5, 2.5, n))
    a0 = np.where(plan.engagement == "never really started", rng.uniform(0.2, 0.4, n), a0)
    a0[0] = max(a0[0], 0.8)
    fade = rng.uniform(0.01, 0.07, n)[:, None]
    weekday = (plan.start.astype(np.int64)[:, None] + days + 3) % 7
    spw_day = np.take_along_axis(rx.spw, rx.period, axis=1)
    p_session = (
        a0[:, None] * np.exp(-fade * days / 7) * spw_day / 7
        * np.where(weekday >= 5, 0.75, 1.1) * np.where(pain.spike_day, 0.5, 1.0)
    )
    did = ((rng.random((n, n_days)) < np.minimum(p_session, 0.98)) | pain.in_jump) & plan.logging
    morning = (rng.random(n) < 0.6)[:, None] ^ (rng.random((n, n_days)) < 0.15)
    double = did & (rng.random((n, n_days)) < 0.03) & ~pain.in_jump
    double[0] = False
    session = np.stack([did & (morning | double), did & (~morning | double)], axis=2)
    minute = np.stack([390 + rng.integers(0, 181, (n, n_days)), 1050 + rng.integers(0, 211, (n, n_days))], axis=2)
    on_day = np.take_along_axis(rx.active, rx.period[:, :, None], axis=1)  # patient x day x slot
    cells = np.flatnonzero(session[:, :, :, None] & on_day[:, :, None, :])
    cells = cells[rng.random(len(cells)) >= 0.04]  # an exercise left out now and then
    p_r, d_r, k_r, s_r = np.unravel_index(cells, (n, n_days, 2, len(_SLOTS)))
    per = rx.period[p_r, d_r]
    sets_p, reps_p, hold_p = rx.sets[p_r, per, s_r], rx.reps[p_r, per, s_r], rx.hold[p_r, per, s_r]
    m = len(p_r)
    u = rng.random(m)
    sets_done = np.where(u < 0.12, np.maximum(sets_p - 1, 1), np.where(u > 0.97, sets_p + 1, sets_p))
    fewer = rng.integers(1, np.maximum(reps_p // 3, 1) + 1)
    reps_done = np.where(rng.random(m) < 0.15, np.maximum(reps_p - fewer, 1), reps_p)
    jitter = rng.integers(-3, 4, m)
    hold_done = np.where((rng.random(m) < 0.10) & (hold_p > 0), np.maximum(hold_p + jitter, 1), hold_p)
    jumping = pain.in_jump[p_r, d_r]
    sets_done = np.where(jumping, sets_p + 2, sets_done)
    reps_done = np.where(jumping, reps_p * 2, reps_done)
    pain_during = np.clip(np.rint(0.55 * pain.latent[p_r, d_r] + rng.normal(0, 0.9, m) + 2 * jumping), 0, 10)
    records_pain = rng.random(n) < 0.8
    records_pain[0] = True
    no_pain_during = ~records_pain[p_r] | (rng.random(m) < 0.08)
    records_rpe = rng.random(n) < 0.35
    records_rpe[0] = False
    rpe = np.clip(np.rint(2 + 0.7 * sets_done + rng.normal(0, 1, m)), 0, 10)
    no_rpe = ~records_rpe[p_r] | (rng.random(m) < 0.3)
    session_id = (p_r * n_days + d_r) * 2 + k_r
    first_row = np.diff(session_id, prepend=-1) != 0
    notes = np.full(m, None, dtype=object)
    noted = first_row & (rng.random(m) < 0.025)
    notes[noted] = _SESSION_NOTES[rng.integers(0, len(_SESSION_NOTES), noted.sum())]
    notes[first_row & jumping & (d_r == pain.jump_day[p_r])] = "feeling good, did extra"
    return pd.DataFrame(
        {
            "patient_id": _strings(plan.patient_ids[p_r]),
            "performed_at": plan.timestamps(p_r, d_r, minute[p_r, d_r, k_r]),
            "exercise": _strings(_SLOT_EXERCISE[s_r]),
            "side": _strings(_SLOT_SIDE[s_r]),
            "sets": sets_done,
            "reps": reps_done,
            "hold_s": hold_done.astype(np.float64),
            "pain_during": pd.arrays.IntegerArray(pain_during.astype(np.int64), no_pain_during),
            "rpe": pd.arrays.IntegerArray(rpe.astype(np.int64), no_rpe),
            "notes": _strings(notes),
        }
    )


def _pain_table(rng: np.random.Generator, plan: _Plan, pain: _PainCourse) -> tuple[pd.DataFrame, np.ndarray]:
    """The diary: an evening rating most days, a morning one now and then; flares ticked."""
    n, n_days, days = plan.n, plan.n_days, plan.days
    r0 = np.where(plan.engagement == "never really started", 0.5, rng.uniform(0.75, 0.97, n))
    p_rate = np.where(pain.spike_day, 0.97, r0[:, None] * np.exp(-rng.uniform(0, 0.04, n)[:, None] * days / 7))
    evening = (rng.random((n, n_days)) < p_rate) & plan.logging
    extra_morning = evening & (rng.random((n, n_days)) < 0.04)
    extra_morning[0] = False
    self_flare = np.where(pain.spike_day, rng.random((n, n_days)) < 0.6, rng.random((n, n_days)) < 0.01)
    self_flare[:, :7] = False
    self_flare[0] = pain.spike_day[0]  # the showcase patient ticks exactly their flare-ups
    p_q, d_q, k_q = np.nonzero(np.stack([extra_morning, evening], axis=2))
    q = len(p_q)
    latent = pain.latent[p_q, d_q]
    nprs = np.clip(np.rint(np.where(k_q == 0, latent + 0.7 + rng.normal(0, 0.7, q), latent)), 0, 10)
    minute = np.where(k_q == 0, 420 + rng.integers(0, 121, q), 1140 + rng.integers(0, 240, q))
    leg_location = np.array(["back", "both", "leg"], dtype=object)[rng.choice(3, q, p=[0.2, 0.7, 0.1])]
    flare = self_flare[p_q, d_q]
    notes = np.full(q, None, dtype=object)
    noted = rng.random(q) < 0.03
    notes[noted] = _PAIN_NOTES[rng.integers(0, len(_PAIN_NOTES), noted.sum())]
    flare_noted = flare & (k_q == 1) & (rng.random(q) < 0.5)
    notes[flare_noted] = _FLARE_NOTES[rng.integers(0, len(_FLARE_NOTES), flare_noted.sum())]
    table = pd.DataFrame(
        {
            "patient_id": _strings(plan.patient_ids[p_q]),
            "recorded_at": plan.timestamps(p_q, d_q, minute),
            "nprs": nprs.astype(np.int64),
            "location": _strings(np.where(plan.leg[p_q], leg_location, "back").astype(object)),
            "flare": flare,
            "notes": _strings(notes),
        }
    )
    return table, self_flare & ~pain.spike_day & evening


def _proms_table(rng: np.random.Generator, plan: _Plan, pain: _PainCourse, weeks: int) -> pd.DataFrame:
    """ODI and RMDQ items at day 0, week ``weeks // 2`` and week ``weeks``, following the pain course."""
    n, n_days = plan.n, plan.n_days
    visit_day = np.stack(
        [
            np.zeros(n, dtype=np.int64),
            7 * (max(weeks // 2, 1) - 1) + rng.integers(0, 7, n),
            7 * (weeks - 1) + rng.integers(0, 7, n),
        ],
        axis=1,
    )
    visit_day[:, 1:] = np.where(visit_day[:, 1:] < 7, n_days, visit_day[:, 1:])  # no follow-up in week 1
    p_attend = np.where(visit_day < plan.stop_day[:, None], 0.85, 0.25)
    attends = ((visit_day == 0) | (rng.random((n, 3)) < p_attend)) & (visit_day < plan.n_obs[:, None])
    uses = np.stack([rng.random(n) < 0.75, rng.random(n) < 0.5], axis=1)
    uses[0] = True
    level = np.take_along_axis(pain.course, np.minimum(visit_day, n_days - 1), axis=1)
    odi_p = np.clip((6.0 * level + rng.normal(0, 4, (n, 3))) / 100, 0.0, 1.0)
    odi = rng.binomial(5, odi_p[:, :, None], (n, 3, 10))
    rmdq_p = np.clip((1.6 * level + rng.normal(0, 1.5, (n, 3))) / 24, 0.0, 1.0)
    rmdq = (rng.random((n, 3, 24)) < rmdq_p[:, :, None]).astype(np.int64)
    skipped = np.where(rng.random((n, 3)) < 0.12, np.where(rng.random((n, 3)) < 0.7, 7, rng.integers(0, 10)), -1)
    odi_given = (np.arange(10) != skipped[:, :, None]) & (attends & uses[:, [0]])[:, :, None]
    rmdq_given = np.broadcast_to((attends & uses[:, [1]])[:, :, None], (n, 3, 24))
    odi_order = np.array(sorted(range(1, 11), key=str)) - 1  # item labels in the key's (string) order
    rmdq_order = np.array(sorted(range(1, 25), key=str)) - 1
    values = np.concatenate([odi[:, :, odi_order], rmdq[:, :, rmdq_order]], axis=2)
    given = np.concatenate([odi_given[:, :, odi_order], rmdq_given[:, :, rmdq_order]], axis=2)
    item = np.array([str(i + 1) for i in odi_order] + [str(i + 1) for i in rmdq_order], dtype=object)
    instrument = np.array(["odi"] * 10 + ["rmdq"] * 24, dtype=object)
    minute = 540 + 5 * rng.integers(0, 96, (n, 3))  # 09:00-16:55
    p_v, v_v, j_v = np.nonzero(given)
    return pd.DataFrame(
        {
            "patient_id": _strings(plan.patient_ids[p_v]),
            "completed_at": plan.timestamps(p_v, visit_day[p_v, v_v], minute[p_v, v_v]),
            "instrument": _strings(instrument[j_v]),
            "item": _strings(item[j_v]),
            "value": values[p_v, v_v, j_v].astype(np.float64),
        }
    )


def _startback_groups(proms: pd.DataFrame) -> pd.Series:
    """STarT Back risk group per patient (first questionnaire), scored by :mod:`analysis.scoring`."""
    from analysis.scoring import score_proms

    rows = proms.loc[proms["instrument"] == "startback"]
    if len(rows) == 0:
        return pd.Series(dtype="string")
    scored = score_proms(rows)
    scored = scored.loc[scored["band"].notna()].sort_values(["patient_id", "completed_at"], kind="stable")
    return scored.groupby(scored["patient_id"].astype(str))["band"].first().astype("string")


def _startback_items(rng: np.random.Generator, risk: np.ndarray) -> np.ndarray:
    """Nine 0/1 STarT Back answers per patient that score to ``risk`` (Hill et al. 2008).

    Low: total 0-3. Medium: total >= 4 with the psychosocial subscale (items 5-9) <= 3.
    High: psychosocial subscale 4-5 (the total is then >= 4).
    """
    n = len(risk)
    psych = np.select(
        [risk == "low", risk == "medium"],
        [rng.integers(0, 4, n), rng.integers(0, 4, n)],
        rng.integers(4, 6, n),
    )
    low_total = rng.integers(0, 4, n)
    physical = np.select(
        [risk == "low", risk == "medium"],
        # low: the rest of a total of 0-3; medium: enough physical items for a total >= 4
        [np.maximum(low_total - psych, 0), rng.integers(np.maximum(4 - psych, 0), 5)],
        rng.integers(0, 5, n),
    )
    psych = np.where(risk == "low", np.minimum(psych, low_total), psych)
    # which items are ticked: the first `k` of a random order within each subscale
    phys_rank = np.argsort(rng.random((n, 4)), axis=1).argsort(axis=1)
    psych_rank = np.argsort(rng.random((n, 5)), axis=1).argsort(axis=1)
    items = np.concatenate([phys_rank < physical[:, None], psych_rank < psych[:, None]], axis=1)
    return items.astype(np.int64)


def _with_startback(seed: int, plan: _Plan, proms: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Add a baseline (day 0) STarT Back questionnaire for every patient, from its own random stream.

    The risk group is drawn given the planted outcome (:data:`_STARTBACK_RISK_P`); it is
    completed at the day-0 ODI/RMDQ visit when there was one, else at a time of its own on day 0.
    Returns the proms table with the new rows (sorted by the natural key) and the risk groups.
    """
    rng = np.random.default_rng([seed, _STARTBACK_STREAM])
    n = plan.n
    probs = np.array([_STARTBACK_RISK_P[o] for o in plan.outcome])
    risk = _RISK_GROUPS[(rng.random(n)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)]
    items = _startback_items(rng, risk)
    own_minute = 540 + 5 * rng.integers(0, 96, n)  # 09:00-16:55
    when = plan.timestamps(np.arange(n), np.zeros(n, dtype=np.int64), own_minute)
    if len(proms):
        codes = pd.Categorical(proms["patient_id"], categories=list(plan.patient_ids)).codes
        day0 = proms["completed_at"].to_numpy(dtype="datetime64[ns]") < plan.timestamps(
            codes, np.ones(len(codes), dtype=np.int64), np.zeros(len(codes), dtype=np.int64)
        )
        first = pd.Series(proms["completed_at"].to_numpy()[day0]).groupby(codes[day0]).min()
        when[first.index.to_numpy()] = first.to_numpy(dtype="datetime64[ns]")
    p_i, j_i = np.nonzero(np.ones((n, 9), dtype=bool))
    rows = pd.DataFrame(
        {
            "patient_id": _strings(plan.patient_ids[p_i]),
            "completed_at": when[p_i],
            "instrument": _strings(np.full(len(p_i), "startback", dtype=object)),
            "item": _strings(np.array([str(j + 1) for j in j_i], dtype=object)),
            "value": items[p_i, j_i].astype(np.float64),
        }
    )
    out = pd.concat([conform(proms, "proms"), conform(rows, "proms")], ignore_index=True)
    key = list(table_spec("proms").key)
    return out.sort_values(key, kind="stable").reset_index(drop=True), risk


def _prescriptions_table(plan: _Plan, rx: _Regimen) -> pd.DataFrame:
    """One row per slot and period whose dose or weekly target differs from the period before."""
    begins = rx.begins
    # exclusive end day of each row: the next row's start, else the programme end (-1 = open-ended)
    end_day = np.empty_like(rx.sets)
    following = np.repeat(np.where(plan.finished, plan.n_days, -1)[:, None], len(_SLOTS), axis=1)
    for k in range(_N_PERIODS - 1, -1, -1):
        end_day[:, k] = following
        following = np.where(begins[:, k], rx.period_start[:, [k]], following)
    p_b, k_b, s_b = np.nonzero(begins)
    order = np.lexsort((k_b, s_b, p_b))  # patient, slot (= exercise, side), period
    p_b, k_b, s_b = p_b[order], k_b[order], s_b[order]
    end_b = end_day[p_b, k_b, s_b]
    end_date = plan.timestamps(p_b, end_b - 1, np.zeros_like(end_b))
    end_date[end_b < 0] = np.datetime64("NaT")
    return pd.DataFrame(
        {
            "patient_id": _strings(plan.patient_ids[p_b]),
            "exercise": _strings(_SLOT_EXERCISE[s_b]),
            "side": _strings(_SLOT_SIDE[s_b]),
            "sets": rx.sets[p_b, k_b, s_b],
            "reps": rx.reps[p_b, k_b, s_b],
            "hold_s": rx.hold[p_b, k_b, s_b].astype(np.float64),
            "sessions_per_week": rx.spw[p_b, k_b],
            "start_date": plan.timestamps(p_b, rx.period_start[p_b, k_b], np.zeros_like(p_b)),
            "end_date": end_date,
        }
    )


def _patients_table(rng: np.random.Generator, plan: _Plan, n_physios: int) -> pd.DataFrame:
    """The registry: physio, programme start, age band, condition notes for most."""
    n = plan.n
    physio_ids = _labels(n_physios, "physio_", letters=True)
    condition = np.where(
        plan.leg, "low back pain with leg pain", _CONDITION_NOTES[rng.integers(0, len(_CONDITION_NOTES), n)]
    ).astype(object)
    condition[rng.random(n) < 0.3] = None
    return pd.DataFrame(
        {
            "patient_id": _strings(plan.patient_ids),
            "physio_id": _strings(physio_ids[rng.integers(0, n_physios, n)]),
            "programme_start": plan.start.astype("datetime64[ns]"),
            "age_band": _strings(_AGE_BANDS[rng.choice(len(_AGE_BANDS), n, p=_AGE_WEIGHTS)]),
            "condition_notes": _strings(condition),
        }
    )


def _planted_table(
    plan: _Plan, pain: _PainCourse, rx: _Regimen, self_flare_without_spike: np.ndarray
) -> pd.DataFrame:
    """The ground truth of the planted behaviours in long form (see :class:`SampleCohort`)."""
    n = plan.n
    quit_ = np.flatnonzero((plan.engagement != "engaged") & (plan.stop_day < plan.n_obs))
    p_s, d_s = np.nonzero(pain.onset & plan.logging)
    p_f, d_f = np.nonzero(self_flare_without_spike)
    jumpers = np.flatnonzero(pain.jump_day >= 0)
    p_c, k_c = np.nonzero(rx.begins[:, 1:].any(axis=2))  # reviews that changed something
    d_c = rx.period_start[p_c, k_c + 1]
    parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = [
        ("outcome", np.arange(n), np.full(n, -1), plan.outcome),
        ("stopped_logging", quit_, plan.stop_day[quit_], plan.engagement[quit_]),
        ("pain_spike", p_s, d_s, np.char.mod("+%.1f points", pain.size[p_s, d_s]).astype(object)),
        ("self_reported_flare_without_spike", p_f, d_f, np.full(len(p_f), "flare ticked", dtype=object)),
        ("load_jump", jumpers, pain.jump_day[jumpers], np.full(len(jumpers), "7 days at +2 sets, double reps", object)),
        ("prescription_change", p_c, d_c, np.where(d_c % 7 == 0, "week boundary", "mid-week").astype(object)),
    ]
    who = np.concatenate([p for _, p, _, _ in parts])
    rank = np.concatenate([np.full(len(p), i) for i, (_, p, _, _) in enumerate(parts)])
    day = np.concatenate([d for _, _, d, _ in parts]).astype(np.int64)
    detail = np.concatenate([x for _, _, _, x in parts])
    order = np.lexsort((day, rank, who))
    who, rank, day, detail = who[order], rank[order], day[order], detail[order]
    has_day = day >= 0
    date_ = (plan.start[who] + np.where(has_day, day, 0).astype("timedelta64[D]")).astype("datetime64[ns]")
    date_[~has_day] = np.datetime64("NaT")
    out = pd.DataFrame(
        {
            "patient_id": _strings(plan.patient_ids[who]),
            "behaviour": _strings(np.array([b for b, _, _, _ in parts], dtype=object)[rank]),
            "day": pd.arrays.IntegerArray(day, ~has_day),
            "date": date_,
            "detail": _strings(detail),
        }
    )
    return out.astype(PLANTED_COLUMNS)


def generate_cohort(

    n_patients: int = 60,
    n_physios: int = 3,
    weeks: int = 12,
    seed: int = DEFAULT_SEED,
    snapshot: date = SNAPSHOT_DATE,
) -> SampleCohort:
    """Generate a synthetic cohort of home-exercise logs for low back pain.

    Parameters
    ----------
    n_patients
        Number of patients (ids ``P001``, ``P002``, ...; zero-padded to the width of
        ``n_patients``, at least 3 digits).
    n_physios
        Number of physiotherapists (``physio_a``, ``physio_b``, ...); patients are
        assigned at random.
    weeks
        Programme length in weeks (prescriptions of patients who completed it end on
        day ``7 * weeks - 1``).
    seed
        Seed of ``numpy.random.default_rng``; the same arguments give identical tables.
    snapshot
        Export date: programmes start between 109 and 46 days before it (with the
        defaults: 3 August to 5 October 2026), and nothing is dated on or after it.

    Returns
    -------
    SampleCohort
        ``patients`` (``patient_id``, ``physio_id``, ``programme_start`` date,
        ``age_band``, ``condition_notes``); ``prescriptions`` (``patient_id``,
        ``exercise``, ``side``, ``sets``, ``reps``, ``hold_s`` in s,
        ``sessions_per_week``, ``start_date``, ``end_date`` date or ``NaT`` while the
        programme is ongoing); ``sessions`` (``patient_id``, ``performed_at``,
        ``exercise``, ``side``, ``sets``, ``reps``, ``hold_s`` in s, ``pain_during``
        NPRS 0-10, ``rpe`` Borg CR10, ``notes``); ``pain`` (``patient_id``,
        ``recorded_at``, ``nprs`` 0-10, ``location``, ``flare``, ``notes``); ``proms``
        (``patient_id``, ``completed_at``, ``instrument`` ``odi``/``rmdq``, ``item``
        ``"1"``..``"10"`` or ``"1"``..``"24"``, ``value`` item response); and
        ``planted`` (see :class:`SampleCohort`). All tables are canonical
        (:func:`analysis.schema.conform`) and sorted by their natural keys.

    Raises
    ------
    ValueError
        If ``n_patients``, ``n_physios`` or ``weeks`` is below 1.

    Notes
    -----
    Per patient, parameters are drawn as arrays; days are a patient x day grid
    (``7 * weeks`` columns), observed up to the day before ``snapshot``.

    * Groups (exact shares): outcome responder 55 % (latent pain falls from a
      baseline of about 7 to 2-3 by the last week), flat 30 %, worsening 15 %;
      logging stopped partway 8 %, never really started 5 % (a few entries in the
      first 3-10 days). Patient 0 (``P001``, the showcase) is an engaged responder
      with one session and one evening pain rating a day at most, a mid-week
      prescription change and a flare-up on day 38 that they tick in the diary.
    * Latent pain = baseline + (target - baseline) x (1 - exp(-day/tau)) /
      (1 - exp(-last_day/tau)) + AR(1) noise (phi 0.5) + spikes; the diary is its
      rounded value, clipped to 0-10. Spikes (flare-ups) start with probability
      0.5-2.5 % a day and add 3-4.5 points, 60 % and 25 % of it the next two days.
    * Session days: probability a0 x exp(-fade x week) x prescribed sessions per
      week / 7 x (1.1 on weekdays, 0.75 at weekends), halved on spike days;
      a0 ~ Beta(8, 2) for responders, Beta(5, 2.5) otherwise; fade 0.01-0.07 a week.
    * Prescriptions: knee-to-chest left and right 1 x 10 x 5 s and hamstring
      1 x 3 x 15-20 s at 5 (85 %) or 7 sessions a week; first review on day 14-28
      (half on a week boundary): knee-to-chest 2 sets, hamstring hold 20 s, 5 -> 7
      sessions a week for 40 %; second review 21-35 days later: knee-to-chest 3
      sets for 60 %, hamstring 5 reps for 40 %, extras 2 sets for 50 %. Reviews
      happen only while the patient still logs.
    * STarT Back (every patient) at day 0, from a separate random stream
      ``default_rng([seed, 20])``: the risk group is drawn given the planted outcome
      (:data:`_STARTBACK_RISK_P`: non-responders are more often high risk) and nine 0/1
      answers that score to it; adding it changed no other value of the sample.
    * ODI (75 % of patients) and RMDQ (50 %) at baseline (day 0), week ``weeks/2``
      and week ``weeks`` when reached: ODI items ~ Binomial(5, p) with
      p = (6 x latent pain + N(0, 4)) / 100 and one section missing in 12 %;
      RMDQ items ~ Bernoulli((1.6 x latent pain + N(0, 1.5)) / 24).

    Examples
    --------
    >>> cohort = generate_cohort(n_patients=5, seed=1)
    >>> list(cohort.patients["patient_id"])
    ['P001', 'P002', 'P003', 'P004', 'P005']
    """
    if n_patients < 1 or n_physios < 1 or weeks < 1:
        raise ValueError("n_patients, n_physios and weeks must each be at least 1")
    rng = np.random.default_rng(seed)
    plan = _draw_plan(rng, n_patients, weeks, snapshot)
    pain = _draw_pain_course(rng, plan)
    regimen = _draw_regimen(rng, plan)
    sessions = _sessions_table(rng, plan, pain, regimen)
    diary, self_flare_without_spike = _pain_table(rng, plan, pain)
    proms = _proms_table(rng, plan, pain, weeks)
    patients = _patients_table(rng, plan, n_physios)
    proms, _ = _with_startback(seed, plan, proms)  # own random stream: the draws above are unchanged
    return SampleCohort(
        patients=conform(patients, "patients"),
        prescriptions=conform(_prescriptions_table(plan, regimen), "prescriptions"),
        sessions=conform(sessions, "sessions"),
        pain=conform(diary, "pain"),
        proms=conform(proms, "proms"),
        planted=_planted_table(plan, pain, regimen, self_flare_without_spike),
    )


# --------------------------------------------------------------------------------------
# files


def _to_csv(frame: pd.DataFrame, path: Path, date_format: str) -> None:
    """Write a frame as UTF-8 CSV with newline line ends, whole floats without ``.0``."""
    frame.to_csv(path, index=False, date_format=date_format, float_format="%.10g", lineterminator="\n")


def _date_format(table: str) -> str:
    """``%Y-%m-%d`` for tables whose datetime columns are all dates, else with the time."""
    spec = table_spec(table)
    if all(c.date_only for c in spec.columns if c.is_datetime):
        return "%Y-%m-%d"
    return "%Y-%m-%d %H:%M"


def write_cohort(cohort: CohortTables, directory: str | Path) -> dict[str, Path]:
    """Write the five canonical tables (and the planted truth, if any) as CSV files.

    Parameters
    ----------
    cohort
        The tables, e.g. from :func:`generate_cohort`.
    directory
        Created if missing; ``patients.csv``, ``prescriptions.csv``, ``sessions.csv``,
        ``pain.csv``, ``proms.csv`` (and ``planted.csv``) are overwritten.

    Returns
    -------
    dict of str to pathlib.Path
        The file written for each table name (``planted`` included when written).

    Notes
    -----
    Canonical headers; ISO dates (``2026-09-07``) for date columns and
    ``2026-09-08 07:30`` for timestamps; whole numbers without a decimal point;
    empty cells for missing values; ``True``/``False`` for flags.
    """
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name in TABLES:
        path = out_dir / f"{name}.csv"
        _to_csv(getattr(cohort, name), path, _date_format(name))
        written[name] = path
    planted = getattr(cohort, "planted", None)
    if planted is not None:
        path = out_dir / PLANTED_FILE
        _to_csv(planted, path, "%Y-%m-%d")
        written["planted"] = path
    return written


def patient_sessions_file(cohort: CohortTables, patient_id: str = SHOWCASE_PATIENT) -> pd.DataFrame:
    """One patient's sessions as they would keep them in their own spreadsheet.

    Parameters
    ----------
    cohort
        The tables.
    patient_id
        The patient.

    Returns
    -------
    pandas.DataFrame
        Text columns ``Date`` (day first, ``14/09/2026``), ``Exercise`` (as people
        write it: ``Knee to chest``, ``Toe touch``), ``Side`` (``L``, ``R``,
        ``Both``), ``Sets``, ``Reps``, ``Hold (s)``, ``Pain during (0-10)``
        (empty when not rated) and ``Notes``; no patient column and no time of day.
    """
    rows = cohort.sessions[cohort.sessions["patient_id"] == patient_id]
    return pd.DataFrame(
        {
            "Date": rows["performed_at"].dt.strftime("%d/%m/%Y"),
            "Exercise": rows["exercise"].map(_PATIENT_EXERCISE_NAMES),
            "Side": rows["side"].map(_PATIENT_SIDES),
            "Sets": rows["sets"],
            "Reps": rows["reps"],
            "Hold (s)": rows["hold_s"].round().astype("Int64"),
            "Pain during (0-10)": rows["pain_during"],
            "Notes": rows["notes"],
        }
    ).reset_index(drop=True)


def patient_pain_file(cohort: CohortTables, patient_id: str = SHOWCASE_PATIENT) -> pd.DataFrame:
    """One patient's pain diary as they would keep it.

    Parameters
    ----------
    cohort
        The tables.
    patient_id
        The patient.

    Returns
    -------
    pandas.DataFrame
        ``Date`` (day first), ``Pain (0-10)``, ``Flare`` (``yes``/``no``), ``Notes``.
    """
    rows = cohort.pain[cohort.pain["patient_id"] == patient_id]
    return pd.DataFrame(
        {
            "Date": rows["recorded_at"].dt.strftime("%d/%m/%Y"),
            "Pain (0-10)": rows["nprs"],
            "Flare": np.where(rows["flare"].fillna(False).to_numpy(dtype=bool), "yes", "no"),
            "Notes": rows["notes"],
        }
    ).reset_index(drop=True)


def write_patient_files(
    cohort: CohortTables, directory: str | Path, patient_id: str = SHOWCASE_PATIENT
) -> dict[str, Path]:
    """Write ``my_sessions.csv`` and ``my_pain_diary.csv`` of one patient.

    Parameters
    ----------
    cohort
        The tables.
    directory
        Output directory (created if missing).
    patient_id
        The patient (default the showcase patient ``P001``).

    Returns
    -------
    dict of str to pathlib.Path
        ``{"my_sessions": ..., "my_pain_diary": ...}``.

    Notes
    -----
    The files carry no patient id and no time of day, so the patient must have at
    most one session and one pain rating per day for them to round-trip; the
    showcase patient is generated that way.
    """
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"my_sessions": out_dir / "my_sessions.csv", "my_pain_diary": out_dir / "my_pain_diary.csv"}
    patient_sessions_file(cohort, patient_id).to_csv(paths["my_sessions"], index=False, lineterminator="\n")
    patient_pain_file(cohort, patient_id).to_csv(paths["my_pain_diary"], index=False, lineterminator="\n")
    return paths


def write_sample(
    directory: str | Path = SAMPLE_DIR,
    cohort: SampleCohort | None = None,
    *,
    seed: int = DEFAULT_SEED,
    snapshot: date = SNAPSHOT_DATE,
) -> dict[str, Path]:
    """Write the whole sample: canonical tables, planted truth, the showcase patient's files, README.

    Parameters
    ----------
    directory
        Output directory (default :data:`SAMPLE_DIR`).
    cohort
        The cohort to write (default ``generate_cohort(seed=seed, snapshot=snapshot)``).
    seed, snapshot
        Passed to :func:`generate_cohort` and named in the README.

    Returns
    -------
    dict of str to pathlib.Path
        Every file written, by name.
    """
    if cohort is None:
        cohort = generate_cohort(seed=seed, snapshot=snapshot)
    out_dir = Path(directory)
    written = write_cohort(cohort, out_dir)
    written.update(write_patient_files(cohort, out_dir, SHOWCASE_PATIENT))
    readme = out_dir / "README.md"
    readme.write_text(_readme(cohort, seed=seed, snapshot=snapshot), encoding="utf-8")
    written["readme"] = readme
    return written


def load_cohort(directory: str | Path = SAMPLE_DIR, *, today: date | None = None) -> SampleCohort:
    """Read the five canonical CSV files of a directory through the project's ingestion.

    Parameters
    ----------
    directory
        A directory holding ``patients.csv``, ``prescriptions.csv``, ``sessions.csv``,
        ``pain.csv`` and ``proms.csv`` (and optionally ``planted.csv``).
    today
        Passed to the ingestion, which rejects sessions, ratings and questionnaires
        dated after it; default the later of today and :data:`SNAPSHOT_DATE` (so the
        sample loads on a machine whose clock is behind).

    Returns
    -------
    SampleCohort
        The canonical tables as :func:`analysis.ingest.ingest_file` accepts them,
        sorted by each table's natural key, and the planted truth when present.

    Raises
    ------
    IngestError
        If a file is missing, or ingestion rejects or drops as duplicate any row
        (the message names the file, the counts and the first reasons).
    """
    from analysis.ingest import ingest_file  # only when reading files: ingestion brings the importers along
    from analysis.limits import UploadLimits, reading_limits

    folder = Path(directory)
    missing = [f"{name}.csv" for name in TABLES if not (folder / f"{name}.csv").is_file()]
    if missing:
        raise IngestError(
            f"missing {', '.join(missing)}: a cohort directory needs {', '.join(f'{t}.csv' for t in TABLES)}. "
            "Regenerate the sample with `python -m analysis.sample_data --out <directory>`.",
            source=str(folder),
        )
    tables: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        path = folder / f"{name}.csv"
        with reading_limits(UploadLimits.unbounded()):  # a cohort directory on this machine, not an upload
            result = ingest_file(path, table=name, today=today or max(date.today(), SNAPSHOT_DATE))
        if result.n_rejected or result.n_duplicates:
            problems = "; ".join(
                f"row {r.row}" + (f", {r.column}" if r.column else "") + f": {r.reason}"
                for r in result.rejected.head(3).itertuples(index=False)
            )
            raise IngestError(
                f"{result.n_rejected} row(s) rejected and {result.n_duplicates} duplicate row(s) in the {name} "
                f"table{': ' + problems if problems else ''}. Fix the file or regenerate the sample.",
                source=str(path),
            )
        key = list(table_spec(name).key)
        tables[name] = result.accepted.sort_values(key, kind="stable").reset_index(drop=True)
    planted = None
    planted_path = folder / PLANTED_FILE
    if planted_path.is_file():
        planted = pd.read_csv(planted_path, dtype={"day": "Int64"}, parse_dates=["date"], keep_default_na=True)
        planted = planted.astype(PLANTED_COLUMNS)
    return SampleCohort(**tables, planted=planted)


# --------------------------------------------------------------------------------------
# README of the sample directory


def _id_list(ids: list[str], limit: int = 60) -> str:
    """``"3: P001, P004, P009"``, shortened after ``limit`` ids."""
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return f"{len(ids)}: {', '.join(ids[:limit])}{more}" if ids else "0"


def _readme(cohort: SampleCohort, *, seed: int, snapshot: date) -> str:
    """The sample directory's README, with the planted behaviours and who shows them."""
    planted = cohort.planted if cohort.planted is not None else pd.DataFrame(columns=list(PLANTED_COLUMNS))
    pats, rx, sessions, pain, proms = (getattr(cohort, name) for name in TABLES)

    def ids(mask: pd.Series, frame: pd.DataFrame) -> list[str]:
        return sorted(frame.loc[mask.fillna(False).astype(bool), "patient_id"].unique())

    def truth(behaviour: str, detail: str | None = None) -> list[str]:
        mask = planted["behaviour"] == behaviour
        return ids(mask if detail is None else mask & (planted["detail"] == detail), planted)

    open_ended = ids(rx["end_date"].isna(), rx)
    risk = _startback_groups(proms)

    def risk_ids(group: str) -> list[str]:
        return sorted(risk.index[risk == group])

    outcome = planted.loc[planted["behaviour"] == "outcome"].set_index("patient_id")["detail"]
    crosstab = pd.crosstab(outcome.reindex(risk.index), risk).reindex(
        index=["responder", "flat", "worsening"], columns=list(_RISK_GROUPS), fill_value=0
    )
    knee_sets = rx[rx["exercise"] == "knee_to_chest"].groupby("patient_id")["sets"].max()
    n_spikes = int((planted["behaviour"] == "pain_spike").sum())
    behaviours = [
        ("responders (latent pain ~7 -> 2-3 by the last week)", truth("outcome", "responder")),
        ("non-responders, flat", truth("outcome", "flat")),
        ("non-responders, worsening (+1 to +2 points)", truth("outcome", "worsening")),
        ("stopped logging partway (>= 8 silent days before the end of their window)",
         truth("stopped_logging", "stopped partway")),
        ("never really started (a few entries in the first 3-10 days)",
         truth("stopped_logging", "never really started")),
        ("finished the programme before the snapshot (last prescription has an end date)",
         sorted(set(pats["patient_id"]) - set(open_ended))),
        ("mid-programme at the snapshot (last prescription open-ended)", open_ended),
        ("a prescription change not on a week boundary", truth("prescription_change", "mid-week")),
        ("knee-to-chest built up to 3 sets", sorted(knee_sets[knee_sets >= 3].index)),
        ("extra stretches", ids(~rx["exercise"].isin(["knee_to_chest", "hamstring_stretch"]), rx)),
        (f"pain spikes (flare-ups: +3 to +4.5 points for 1-3 days; {n_spikes} in all)", truth("pain_spike")),
        ("flare ticked in the diary (on 60 % of spike days and ~1 % of other days)", ids(pain["flare"], pain)),
        ("a flare ticked on a day without a spike", truth("self_reported_flare_without_spike")),
        ("rapid load jump (7 days at +2 sets and double reps, a spike 4 days in)", truth("load_jump")),
        ("a session with pain during > 5", ids(sessions["pain_during"] > 5, sessions)),
        ("RPE recorded", ids(sessions["rpe"].notna(), sessions)),
        ("STarT Back high risk at baseline", risk_ids("high")),
        ("STarT Back medium risk at baseline", risk_ids("medium")),
        ("ODI completed", ids(proms["instrument"] == "odi", proms)),
        ("RMDQ completed", ids(proms["instrument"] == "rmdq", proms)),
    ]
    own = {"my_sessions": sessions, "my_pain_diary": pain}
    n_own = {name: int((frame["patient_id"] == SHOWCASE_PATIENT).sum()) for name, frame in own.items()}
    starts = pats["programme_start"]
    last_day = (pd.Timestamp(snapshot) - pd.Timedelta(days=1)).date()
    lines = [
        "# Sample cohort (synthetic)",
        "",
        "Synthetic home-exercise logs of a low-back-pain programme, generated by `analysis/sample_data.py`.",
        "No real person is described. Regenerate exactly these files with:",
        "",
        "```bash",
        ".venv/bin/python -m analysis.sample_data --out data/sample",
        "```",
        "",
        f"Seed `{seed}`; snapshot (export) date **{snapshot.isoformat()}**: nothing is dated on or after it, "
        f"the last logged day is {last_day.isoformat()}. Analyse the sample `as_of` the snapshot date "
        "(`analysis.sample_data.SNAPSHOT_DATE`).",
        "",
        "## Files",
        "",
        "| file | rows | what |",
        "|---|---|---|",
        f"| `patients.csv` | {len(pats)} | canonical `patients`: {pats['physio_id'].nunique()} physios, "
        f"programme starts {starts.min().date()} to {starts.max().date()} (weekdays) |",
        f"| `prescriptions.csv` | {len(rx)} | canonical `prescriptions`: one row per exercise, side and period; "
        "`end_date` empty while the programme is ongoing |",
        f"| `sessions.csv` | {len(sessions)} | canonical `sessions`: one row per exercise and side done "
        f"({sessions.groupby(['patient_id', 'performed_at']).ngroups} sessions) |",
        f"| `pain.csv` | {len(pain)} | canonical `pain`: daily NPRS diary, mostly one evening rating a day |",
        f"| `proms.csv` | {len(proms)} | canonical `proms` (long): ODI items `1`-`10` (0-5), "
        "RMDQ items `1`-`24` (0/1) and the baseline STarT Back items `1`-`9` (0/1), no totals |",
        f"| `planted.csv` | {len(planted)} | ground truth of the planted behaviours (not a canonical table): "
        "`patient_id, behaviour, day, date, detail` |",
        f"| `my_sessions.csv` | {n_own['my_sessions']} | {SHOWCASE_PATIENT}'s sessions as a patient keeps them: "
        "no patient column, day-first dates, `Knee to chest`/`Toe touch`, sides `L`/`R`/`Both` |",
        f"| `my_pain_diary.csv` | {n_own['my_pain_diary']} | {SHOWCASE_PATIENT}'s pain diary: "
        "`Date, Pain (0-10), Flare (yes/no), Notes` |",
        "",
        "The canonical files use the headers of `analysis/schema.py` (`python -m analysis.schema` prints them), "
        "ISO dates (`2026-09-07`) and timestamps (`2026-09-08 07:30`), empty cells for missing values. "
        "`analysis.sample_data.load_cohort()` reads them back through `analysis.ingest` and fails if a row "
        f"is rejected. The two `my_*` files are {SHOWCASE_PATIENT}'s rows of `sessions.csv` and `pain.csv` "
        "without time of day, RPE or location; upload them for that patient: "
        f'`ingest_file(path, patient_id="{SHOWCASE_PATIENT}")`.',
        "",
        "## The programme",
        "",
        "From the seed text: knee-to-chest for the left and the right leg (hold 5 s, 10 repetitions, "
        "1 set at first) and the standing hamstring stretch (toe touch; 3 x 15-20 s), "
        "5 (most) or 7 sessions a week. A first review on day 14-28 raises knee-to-chest to 2 sets, "
        "the hamstring hold to 20 s and, for some, the weekly target from 5 to 7; a second review 3-5 weeks "
        "later raises knee-to-chest to 3 sets for some and the hamstring stretch to 5 repetitions for others. "
        f"Some patients add one or two of {', '.join(f'`{e}`' for e, _ in _EXTRAS)}, from the start or from "
        "the first review. Reviews happen only while a patient is still logging.",
        "",
        "## Planted behaviours and who shows them",
        "",
        "| behaviour | patients |",
        "|---|---|",
        *(f"| {label} | {_id_list(who)} |" for label, who in behaviours),
        "",
        "Everywhere: session adherence fades over the weeks (a0 x exp(-fade x week)), fewer sessions at "
        "weekends, now and then an exercise left out, fewer sets or reps than prescribed, a second session "
        "in a day (3 %), a morning pain rating besides the evening one (4 %), missing diary days, "
        "a few free-text notes. Sessions are in the morning (06:30-09:30) or evening (17:30-21:00), "
        "pain ratings in the evening (19:00-23:00), questionnaires at day 0, mid-programme and at the end "
        "(only when reached by the snapshot; ODI section 8 is the one most often left out).",
        "",
        "## Baseline covariates and the planted slow recoverers (issue 20)",
        "",
        "Every patient answers the Keele STarT Back Screening Tool (9 items, 0/1) at the day-0 visit "
        "(with the ODI/RMDQ when they had one). The risk group is drawn **given the planted outcome**: "
        + ", ".join(f"{o} {lo * 100:.0f} % low / {me * 100:.0f} % medium / {hi * 100:.0f} % high"
                    for o, (lo, me, hi) in _STARTBACK_RISK_P.items())
        + ". The slow recoverers (the planted non-responders, flat or worsening) are therefore more often "
        "high risk, a true association an expected-course model (`analysis.expected`) can find. The answers "
        "come from a random stream of their own (`default_rng([seed, 20])`), drawn after everything else: "
        "no pain rating, session or other questionnaire changed when they were added, and the risk group "
        "does not change any pain value. Baseline pain is not a planted covariate effect of its own: "
        "responders fall to 2-3 points whatever their baseline, so among them a higher baseline means a "
        "larger fall, while flat and worsening courses do not depend on it.",
        "",
        "| planted outcome | " + " | ".join(f"STarT Back {g}" for g in crosstab.columns) + " |",
        "|---|" + "---|" * len(crosstab.columns),
        *(f"| {o} | " + " | ".join(str(int(v)) for v in row) + " |" for o, row in crosstab.iterrows()),
        "",
        "Age band comes from the original draws and is unrelated to the course; sex is not recorded.",
        "",
        f"{SHOWCASE_PATIENT} is the showcase: an engaged responder with at most one session and one "
        "pain rating a day, a mid-week prescription change and a flare-up on day 38 ticked in the diary. "
        "The day of every planted event is in "
        "`planted.csv` (`day` counts from the programme start, day 0).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m analysis.sample_data [--out DIR] [--patients N] [--seed S]``."""
    parser = argparse.ArgumentParser(description="Write the synthetic sample cohort.")
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output directory (default: data/sample)")
    parser.add_argument("--patients", type=int, default=60, help="number of patients (default 60)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    began = time.perf_counter()
    cohort = generate_cohort(n_patients=args.patients, seed=args.seed)
    logger.info("generated %d patients in %.2f s", len(cohort.patients), time.perf_counter() - began)
    for name, path in write_sample(args.out, cohort, seed=args.seed).items():
        logger.info("wrote %s (%s)", path, name)


if __name__ == "__main__":  # pragma: no cover - command line
    main()
