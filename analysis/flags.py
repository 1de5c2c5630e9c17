"""Safety flags for the physiotherapist: pain flares, painful exercise, load jumps, silence.

Every flag here is **descriptive**: it points the physio at a day, an exercise
or a week worth a look. None is advice to the patient, and none is a diagnosis.

Five kinds of flag (docs/clinical-reference.md section 5). Each has a function that
returns the rows it judged, with the details, and :func:`safety_flags` gathers
the flagged ones into one tidy table (:func:`flag_counts` sums it per patient):

==========================  =============================================================
kind                        rule (defaults from :mod:`analysis.settings`)
==========================  =============================================================
``pain_flare``              daily NPRS >= 2 points above the trailing 7-day median
                            (Costa et al. 2021) - :func:`pain_flares`
``self_reported_flare``     a pain rating the patient marked as a flare -
                            :func:`self_reported_flares`
``pain_during_exercise``    pain during an exercise > 5 (Silbernagel et al. 2007), or
                            >= 2 above the pre-session pain - :func:`pain_during_exercise`
``rapid_load_increase``     acute:chronic weekly dose ratio > 1.5, descriptive only
                            (Impellizzeri et al. 2020) - :func:`load_progression`
``logging_stopped``         no session or pain entry for >= 7 days -
                            :func:`logging_stopped`
==========================  =============================================================

Conventions shared by every function:

* Patients are matched through integer codes of the ``patients`` registry; rows
  of unknown patients or without a time are ignored (a warning is logged; the
  ingestion report lists them). A ``patient_id`` that appears twice in
  ``patients`` raises :class:`~analysis.errors.IngestError`.
* Days are calendar days of the timestamps (the time of day is dropped).
* Outputs are sorted by ``patient_id`` (text order, so independent of row order)
  and then time.
* Comparisons with a threshold allow 1e-9 for floating-point rounding (a daily
  mean of 20/3 is 6.666...), so "exactly at the threshold" means exactly at it in
  decimal arithmetic.
* Everything is vectorised over the cohort (sorted composite keys,
  ``np.bincount``, a lagged-value matrix, cumulative sums on a patient x week
  grid); nothing loops over patients.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.adherence import session_dose
from analysis.errors import SettingsError
from analysis.exercises import exercise_labels
from analysis.prescriptions import OPEN_END, period_ends, usable_periods
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.timeline import (
    DateLike,
    check_registry,
    epoch_day,
    epoch_days,
    from_epoch_days,
    numeric_values,
    patient_codes,
    resolve_as_of,
)
from analysis.validation import checks_tables

__all__ = [
    "FLAG_KINDS",
    "FLAG_COLUMNS",
    "MIN_BASELINE_DAYS",
    "OPEN_DAYS",
    "pain_flares",
    "flare_ratings",
    "self_reported_flares",
    "pain_during_exercise",
    "load_progression",
    "logging_stopped",
    "safety_flags",
    "safety_flags_and_flare_ratings",
    "flag_counts",
]

logger = logging.getLogger(__name__)

#: Flag kinds, in the order they are reported within a day.
FLAG_KINDS: tuple[str, ...] = (
    "pain_flare",
    "self_reported_flare",
    "pain_during_exercise",
    "rapid_load_increase",
    "logging_stopped",
)

#: Columns of :func:`safety_flags`.
FLAG_COLUMNS: list[str] = [
    "patient_id",
    "date",
    "kind",
    "value",
    "threshold",
    "reason",
    "descriptive_only",
    "open",
]

#: Fewest days with a rating in the baseline window for the flare rule to apply.
#: A median of one or two days is too unstable to call a day a flare; the literature
#: names no number, so this is a project default (keyword of :func:`pain_flares`;
#: docs/clinical-reference.md section 8).
MIN_BASELINE_DAYS: int = 3

#: A flag is "open" when the period it covers ends within this many days up to
#: and including ``as_of``, or is still ongoing. A display window, not a clinical threshold.
OPEN_DAYS: int = 14

_EPS = 1e-9
_SECONDS_PER_DAY = 86_400
_COSTA = "Costa et al. 2021"
_SILBERNAGEL = "pain-monitoring model, Silbernagel et al. 2007: 0-3 safe, 4-5 acceptable, > 5 too much"
_IMPELLIZZERI = "descriptive only: athlete evidence, contested (Impellizzeri et al. 2020)"

_FLAG_DTYPES = {
    "patient_id": "string",
    "date": "datetime64[ns]",
    "kind": "string",
    "value": "float64",
    "threshold": "float64",
    "reason": "string",
    "descriptive_only": "bool",
    "open": "bool",
}


# --------------------------------------------------------------------------- preparation


@dataclass(frozen=True)
class _Registry:
    """The patients table as arrays (internal)."""

    ids: np.ndarray  # patient_id per registry row (object)
    rank: np.ndarray  # position of each registry row in patient_id text order
    start: np.ndarray  # epoch day of programme_start (0 where missing)
    has_start: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)

    def ranks(self, code: np.ndarray) -> np.ndarray:
        """``rank[code]`` (no gather when the registry is already in patient_id order, the usual case)."""
        if self.rank_is_code:
            return code
        return self.rank[code]

    @property
    def rank_is_code(self) -> bool:
        return bool((self.rank == np.arange(len(self.rank))).all())


@dataclass(frozen=True)
class _Events:
    """Rows of one table with a known patient and a time (internal).

    Pain events are always sorted by patient (``patient_id`` text order) then
    time; session events need not be (nothing downstream relies on their order).
    """

    pos: np.ndarray  # row positions in the original frame
    code: np.ndarray  # registry row
    sec: np.ndarray  # whole seconds since 1970-01-01
    day: np.ndarray  # calendar day, days since 1970-01-01
    every_row: bool = False  # pos is 0, 1, ..., n - 1: every row, in frame order

    def take(self, sel: np.ndarray) -> _Events:
        return _Events(self.pos[sel], self.code[sel], self.sec[sel], self.day[sel])

    def of(self, values: np.ndarray) -> np.ndarray:
        """``values[pos]`` for an array aligned with the frame (no copy when every row is kept in order)."""
        return values if self.every_row else values[self.pos]


def _registry(patients: pd.DataFrame) -> _Registry:
    check_registry(patients)
    ids = patients["patient_id"].astype("string")
    obj = ids.to_numpy(dtype=object, na_value="")
    rank = np.empty(len(obj), dtype=np.int64)
    rank[np.argsort(obj.astype(str), kind="stable")] = np.arange(len(obj))
    start, has_start = epoch_days(patients["programme_start"])
    return _Registry(obj, rank, start, has_start)


def _sort_order(major: np.ndarray, sec: np.ndarray) -> np.ndarray | None:
    """Stable order by ``major`` then ``sec`` (one composite int64 key when it fits); None if already sorted."""
    if len(sec) == 0:
        return np.zeros(0, dtype=np.int64)
    s0 = int(sec.min())
    span = int(sec.max()) - s0 + 1
    if (int(major.max()) + 1) * span < 2**62:
        key = major * span + (sec - s0)
        if bool((key[1:] >= key[:-1]).all()):
            return None
        return np.argsort(key, kind="stable")
    return np.lexsort((sec, major))


def _events(
    frame: pd.DataFrame,
    patients: pd.DataFrame,
    reg: _Registry,
    time_col: str,
    table: str,
    until_day: int | None = None,
    sort: bool = True,
) -> _Events:
    """Rows with a known patient and a time (up to ``until_day``), sorted by patient then time if ``sort``."""
    empty = np.zeros(0, dtype=np.int64)
    if len(frame) == 0:
        return _Events(empty, empty, empty, empty)
    code = patient_codes(frame["patient_id"], patients)
    times = _times(frame[time_col])
    dated = ~np.isnat(times)
    unknown = int((code < 0).sum())
    if unknown:
        logger.warning("%s: ignored %d row(s) of patients not in the patients table", table, unknown)
    sec = np.where(dated, times.astype("datetime64[s]").astype(np.int64), 0)
    day = np.floor_divide(sec, _SECONDS_PER_DAY)
    keep = (code >= 0) & dated
    if until_day is not None:
        keep &= day <= until_day
    every_row = bool(keep.all())
    if every_row:  # the usual case: no copies
        pos = np.arange(len(keep))
    else:
        pos = np.flatnonzero(keep)
        code, sec, day = code[pos], sec[pos], day[pos]
    if not sort:
        return _Events(pos, code, sec, day, every_row)
    order = _sort_order(reg.ranks(code), sec)
    if order is None:  # already in patient then time order
        return _Events(pos, code, sec, day, every_row)
    return _Events(pos[order], code[order], sec[order], day[order])


def _times(values: pd.Series) -> np.ndarray:
    """A time column as ``datetime64[ns]`` (skips ``pd.to_datetime`` when it already is a numpy datetime)."""
    if values.dtype.kind == "M" and isinstance(values.dtype, np.dtype):
        return values.to_numpy(dtype="datetime64[ns]")
    return pd.to_datetime(values).to_numpy(dtype="datetime64[ns]")


def _at_least(values: np.ndarray, threshold: float) -> np.ndarray:
    """``nan_to_num(values, nan=-inf) >= threshold`` without the copy (NaN is False) when ``threshold`` is finite."""
    if np.isfinite(threshold):
        with np.errstate(invalid="ignore"):
            return values >= threshold
    return np.nan_to_num(values, nan=-np.inf) >= threshold


def _check_days(name: str, value: int) -> None:
    if value < 1:
        raise SettingsError(f"{name} must be at least 1 day, got {value!r}")


def _distinct_sorted(key: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an int64 array (a sort and a diff: faster than np.unique here)."""
    changed = np.ones(len(key), dtype=bool)
    changed[1:] = key[1:] != key[:-1]  # cheap pre-pass: logs usually list a patient's rows together
    key = np.sort(key[changed])
    changed = np.ones(len(key), dtype=bool)
    changed[1:] = key[1:] != key[:-1]
    return key[changed]


def _groups(code: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by patient then day: first row of each patient-day and each row's group."""
    new = np.ones(len(code), dtype=bool)
    new[1:] = (code[1:] != code[:-1]) | (day[1:] != day[:-1])
    return new, np.cumsum(new) - 1


# --------------------------------------------------------------------------- text (vectorised)


def _txt(values: np.ndarray, decimals: int = 1) -> np.ndarray:
    """Numbers as short text (5 -> '5', 6.667 -> '6.7', 126000 -> '126000'); each distinct value formatted once."""
    arr = np.round(np.asarray(values, dtype=float), decimals)
    if arr.size == 0:
        return np.zeros(0, dtype=object)
    uniq, inverse = np.unique(arr, return_inverse=True)
    labels = np.array([_number(v, decimals) for v in uniq], dtype=object)
    return labels[inverse.ravel()]


def _number(value: float, decimals: int) -> str:
    if np.isnan(value):
        return "n/a"
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _date_txt(days: np.ndarray) -> np.ndarray:
    """Epoch days as ISO dates; each distinct day formatted once."""
    if len(days) == 0:
        return np.zeros(0, dtype=object)
    uniq, inverse = np.unique(np.asarray(days, dtype=np.int64), return_inverse=True)
    labels = np.array([str(np.datetime64(int(d), "D")) for d in uniq], dtype=object)
    return labels[inverse.ravel()]


def _time_txt(sec: np.ndarray) -> np.ndarray:
    """Epoch seconds as 'YYYY-MM-DD HH:MM'."""
    if len(sec) == 0:
        return np.zeros(0, dtype=object)
    uniq, inverse = np.unique(np.asarray(sec, dtype=np.int64) // 60, return_inverse=True)
    labels = np.array([str(np.datetime64(int(m), "m")).replace("T", " ") for m in uniq], dtype=object)
    return labels[inverse.ravel()]


def _int_txt(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).astype(str).astype(object)


def _points(values: np.ndarray) -> np.ndarray:
    return np.where(np.round(np.asarray(values, dtype=float), 1) == 1, " point", " points").astype(object)


# --------------------------------------------------------------------------- pain flares


#: Optimal 16-comparator sorting network for 7 values (Knuth, TAOCP vol. 3, 5.3.4).
_NETWORK_7: tuple[tuple[int, int], ...] = (
    (0, 6), (2, 3), (4, 5),
    (0, 2), (1, 4), (3, 6),
    (0, 1), (2, 5), (3, 4),
    (1, 2), (4, 6),
    (2, 3), (4, 5),
    (1, 2), (3, 4), (5, 6),
)

#: Windows up to this many days are sorted by a compare-exchange network on
#: column arrays (a few vectorised min/max passes); longer ones by ``np.sort``.
_NETWORK_MAX = 12


def _network(width: int) -> tuple[tuple[int, int], ...]:
    """Compare-exchange pairs that sort ``width`` values (optimal for 7, odd-even transposition otherwise)."""
    if width == 7:
        return _NETWORK_7
    return tuple((i, i + 1) for r in range(width) for i in range(r % 2, width - 1, 2))


def _trailing_median(
    code: np.ndarray, day: np.ndarray, value: np.ndarray, window_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Median and count of each patient's values on the ``window_days`` days before each day.

    Rows must be sorted by patient then day, one row per patient-day. The window
    is the calendar days ``day - window_days`` to ``day - 1`` (the day itself is
    excluded). Days are unique within a patient, so the rows in the window are
    among the ``window_days`` rows just before: the window is a matrix of lagged
    values, one row per lag (a loop over at most ``window_days`` lags, not
    over patients). Empty cells hold +inf, so sorting each column puts the
    values first; small windows are sorted with a sorting network of
    ``np.minimum``/``np.maximum`` passes over whole rows (exact: it only moves
    values). The median of an even count is the mean of the two middle values.
    """
    n = len(value)
    width = max(window_days, 1)
    count = np.zeros(n, dtype=np.int64)
    present = ~np.isnan(value)
    lagged = [np.full(n, np.inf) for _ in range(width)] if n <= 1 else []
    if n > 1:
        # one increasing key per row: row j is in row i's window iff key[i] - key[j] <= window_days
        # (a new patient jumps by more than any day difference plus the window)
        patient = np.zeros(n, dtype=np.int64)
        np.cumsum(code[1:] != code[:-1], out=patient[1:])
        d0 = int(day.min())
        key = patient * (int(day.max()) - d0 + window_days + 1) + (day - d0)
        hit = np.empty(n, dtype=bool)
        all_present = bool(present.all())
        for lag in range(1, width + 1):
            row = np.empty(n)
            row[:lag] = np.inf
            if lag < n:
                h = hit[lag:]
                np.less_equal(key[lag:] - key[:-lag], window_days, out=h)
                if not all_present:
                    h &= present[:-lag]
                np.copyto(row[lag:], value[:-lag])
                row[lag:][~h] = np.inf
                count[lag:] += h
            lagged.append(row)
    safe = np.maximum(count, 1)
    if width <= _NETWORK_MAX:
        # rows of the lag matrix as separate arrays: the network swaps buffers instead of copying
        spare = np.empty(n)
        for i, j in _network(width):
            np.minimum(lagged[i], lagged[j], out=spare)
            np.maximum(lagged[i], lagged[j], out=lagged[j])
            lagged[i], spare = spare, lagged[i]
        low, high = (safe - 1) // 2, safe // 2
        median = lagged[0].copy()
        upper = lagged[0].copy()
        for k in range(1, (width + 1) // 2 + 1):
            if k < width:
                np.copyto(median, lagged[k], where=low == k)
                np.copyto(upper, lagged[k], where=high == k)
        median += upper
        median /= 2.0
    else:
        ordered = np.sort(np.stack(lagged), axis=0)
        cols = np.arange(n)
        median = (ordered[(safe - 1) // 2, cols] + ordered[safe // 2, cols]) / 2.0
    median[count == 0] = np.nan
    return median, count


def _flare_days(
    pain_ev: _Events, nprs_all: np.ndarray, settings: Settings, min_baseline_days: int
) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per patient-day: the running baseline and the flare verdict; per rating: whether it is a flare.

    Returns the day arrays and ``(pos, flagged, back)`` of every rated pain row (``pos`` its
    position in the pain table, ``flagged`` whether that rating is a flare, ``back`` whether
    pain came back below the flare level within ``flare_baseline_days`` days of its day).
    """
    _check_days("min_baseline_days", min_baseline_days)
    nprs = pain_ev.of(nprs_all)
    rated = ~np.isnan(nprs)
    ev = pain_ev.take(rated)
    nprs = nprs[rated]
    first, group = _groups(ev.code, ev.day)
    n_days = int(first.sum())
    total = np.bincount(group, weights=nprs, minlength=n_days)
    count = np.bincount(group, minlength=n_days)
    highest = np.full(n_days, -np.inf)
    np.maximum.at(highest, group, nprs)
    code, day = ev.code[first], ev.day[first]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    median, base_days = _trailing_median(code, day, mean, int(settings.flare_baseline_days))
    baseline = np.where(base_days >= min_baseline_days, median, np.nan)
    threshold = float(settings.flare_rise_points) - _EPS
    # each rating is judged against the baseline (Costa et al. 2021: a rating >= 2 above usual pain);
    # a day is a flare when any of its ratings is: a 9 and a 5 (mean 7) over a baseline of 6 is a flare
    rating_flagged = _at_least(nprs - baseline[group], threshold)
    rise = highest - baseline
    flagged = _at_least(rise, threshold)
    # transient: on one of the next flare_baseline_days days the day's pain is back below the flare level
    window = int(settings.flare_baseline_days)
    back = np.zeros(n_days, dtype=bool)
    level = baseline + threshold
    for lag in range(1, window + 1):  # a loop over the days of the window, not over patients
        if lag >= n_days:
            break
        same = (code[lag:] == code[:-lag]) & (day[lag:] - day[:-lag] <= window)
        with np.errstate(invalid="ignore"):
            back[:-lag] |= same & (mean[lag:] < level[:-lag])
    days = {
        "code": code,
        "day": day,
        "nprs": mean,
        "nprs_max": highest,
        "n_ratings": count.astype(np.int64),
        "baseline": baseline,
        "baseline_days": base_days.astype(np.int64),
        "rise": rise,
        "flagged": flagged,
        "transient": flagged & back,
    }
    back_rating: np.ndarray = back[group]
    return days, (ev.pos, rating_flagged, back_rating)


@checks_tables(pain="pain", patients="patients")
def flare_ratings(
    pain: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    settings: Settings = DEFAULT_SETTINGS,
    min_baseline_days: int = MIN_BASELINE_DAYS,
    transient: bool = False,
) -> np.ndarray:
    """Which pain ratings are pain flares, rating by rating.

    Parameters
    ----------
    pain, patients
        Canonical tables.
    settings
        Uses ``flare_rise_points`` and ``flare_baseline_days``.
    min_baseline_days
        As in :func:`pain_flares`.
    transient
        Only the flare ratings after which pain came back: on one of the next
        ``flare_baseline_days`` calendar days the day's mean is below the flare
        level (baseline + ``flare_rise_points``). A rise that lasts is not a
        transient flare (the trend keeps it, :func:`analysis.trends.pain_trends`).

    Returns
    -------
    numpy.ndarray of bool
        One value per row of ``pain``, in its order: True when the rating is at
        least ``flare_rise_points`` above the patient's running baseline (the rule
        of :func:`pain_flares`; with ``transient``, and pain came back); False for
        ratings without a baseline, of unknown patients, or without a value or a time.

    See Also
    --------
    pain_flares : The same rule, one row per patient-day.
    analysis.trends.pain_trends : Leaves these ratings out of the trend.

    Examples
    --------
    >>> patients = pd.DataFrame({"patient_id": ["P1"], "programme_start": pd.to_datetime(["2026-09-07"])})
    >>> pain = pd.DataFrame({"patient_id": "P1", "nprs": [6, 6, 6, 9, 5],
    ...     "recorded_at": pd.to_datetime(["2026-09-07 20:00", "2026-09-08 20:00", "2026-09-09 20:00",
    ...                                    "2026-09-10 08:00", "2026-09-10 20:00"])})
    >>> flare_ratings(pain, patients).tolist()   # the 9 is 3 above the median of 6; the 5 is not
    [False, False, False, True, False]
    >>> flare_ratings(pain, patients, transient=True).tolist()   # no later day yet: not known to be transient
    [False, False, False, False, False]
    """
    reg = _registry(patients)
    ev = _events(pain, patients, reg, "recorded_at", "pain")
    _, (pos, flagged, back) = _flare_days(ev, numeric_values(pain, "nprs"), settings, min_baseline_days)
    keep = flagged & back if transient else flagged
    out = np.zeros(len(pain), dtype=bool)
    out[pos[keep]] = True
    return out


@checks_tables(pain="pain", patients="patients")
def pain_flares(
    pain: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    settings: Settings = DEFAULT_SETTINGS,
    min_baseline_days: int = MIN_BASELINE_DAYS,
    flagged_only: bool = False,
) -> pd.DataFrame:
    """Pain-based flares: days whose pain is well above the patient's running baseline.

    Parameters
    ----------
    pain
        Canonical ``pain`` table (``patient_id``, ``recorded_at``, ``nprs``).
    patients
        Canonical ``patients`` table (the registry of patient ids).
    settings
        Uses ``flare_rise_points`` (default 2 points) and ``flare_baseline_days``
        (default 7 days).
    min_baseline_days
        Fewest days with a rating in the baseline window for a day to be judged
        (default :data:`MIN_BASELINE_DAYS` = 3); days with fewer get no baseline
        and are never flagged.
    flagged_only
        Return only the flagged days.

    Returns
    -------
    pandas.DataFrame
        One row per patient-day with at least one rating, sorted by patient and date:

        - ``patient_id`` (string)
        - ``date`` (datetime64[ns], midnight): the calendar day
        - ``nprs`` (float64, points 0-10): mean of the day's ratings
        - ``nprs_max`` (float64, points 0-10): the day's highest rating
        - ``n_ratings`` (int64): ratings that day
        - ``baseline`` (float64, points): median of the daily means in the window;
          NaN when fewer than ``min_baseline_days`` days had a rating
        - ``baseline_days`` (int64, days): days with a rating in the window
        - ``rise`` (float64, points): ``nprs_max - baseline``, the rise of the day's
          highest rating
        - ``flagged`` (bool): ``rise >= settings.flare_rise_points``: at least one
          rating of the day is a flare (:func:`flare_ratings`)

    See Also
    --------
    self_reported_flares : The flares patients mark themselves.
    safety_flags : Every flag in one table.

    Notes
    -----
    The running baseline of day *d* is the median of the patient's daily mean
    NPRS on the calendar days *d* - ``flare_baseline_days`` to *d* - 1. The day
    itself is **excluded**, so a flare cannot raise its own baseline; days
    without a rating are absent from the window (not zero), and at least
    ``min_baseline_days`` of them must have one. Each **rating** is judged
    against it, not the day's mean, so a 9 and a 5 on one day over a baseline of
    6 is a flare (the 9 is 3 points above). A day is a flare when

    ``highest rating of the day - baseline >= flare_rise_points``

    (Costa et al. 2021: a pain-defined flare is a daily NPRS >= 2 points above
    the patient's usual pain; the running baseline is the trailing 7-day median,
    docs/clinical-reference.md section 5). The median keeps one bad day in the window from moving the baseline.
    Self-reported flares are a separate flag (:func:`self_reported_flares`).

    References
    ----------
    Costa N, Smits EJ, Kasza J, Salomoni SE, Ferreira M, Hodges PW (2021).
    Low back pain flares: how do they differ from an increase in pain?
    Clin J Pain 37(5):313-320.
    """
    reg = _registry(patients)
    ev = _events(pain, patients, reg, "recorded_at", "pain")
    d, _ = _flare_days(ev, numeric_values(pain, "nprs"), settings, min_baseline_days)
    if flagged_only:
        d = {k: v[d["flagged"]] for k, v in d.items()}
    return pd.DataFrame(
        {
            "patient_id": pd.array(reg.ids[d["code"]], dtype="string"),
            "date": from_epoch_days(d["day"]),
            "nprs": d["nprs"],
            "nprs_max": d["nprs_max"],
            "n_ratings": d["n_ratings"],
            "baseline": d["baseline"],
            "baseline_days": d["baseline_days"],
            "rise": d["rise"],
            "flagged": d["flagged"],
        }
    )


def _self_reported_days(pain_ev: _Events, pain: pd.DataFrame) -> dict[str, np.ndarray]:
    nprs = pain_ev.of(numeric_values(pain, "nprs"))
    if "flare" in pain.columns:
        marked = pain["flare"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        marked = pain_ev.of(marked)
    else:
        marked = np.zeros(len(pain_ev.pos), dtype=bool)
    first, group = _groups(pain_ev.code, pain_ev.day)
    n_days = int(first.sum())
    rated = ~np.isnan(nprs)
    total = np.bincount(group[rated], weights=nprs[rated], minlength=n_days)
    count = np.bincount(group[rated], minlength=n_days)
    reports = np.bincount(group[marked], minlength=n_days)
    highest = np.full(n_days, np.nan)
    np.fmax.at(highest, group[marked], nprs[marked])
    keep = reports > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        daily = total / count
    return {
        "code": pain_ev.code[first][keep],
        "day": pain_ev.day[first][keep],
        "n_reports": reports[keep].astype(np.int64),
        "nprs_max": highest[keep],
        "daily_nprs": daily[keep],
    }


@checks_tables(pain="pain", patients="patients")
def self_reported_flares(pain: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Days on which the patient marked a pain rating as a flare-up.

    Parameters
    ----------
    pain
        Canonical ``pain`` table; ``flare`` is a nullable boolean (missing = not marked).
    patients
        Canonical ``patients`` table.

    Returns
    -------
    pandas.DataFrame
        One row per patient-day with at least one rating marked ``flare`` (every
        row is a flag), sorted by patient and date:

        - ``patient_id`` (string)
        - ``date`` (datetime64[ns], midnight)
        - ``n_reports`` (int64): ratings marked ``flare`` that day
        - ``nprs_max`` (float64, points 0-10): highest NPRS among those ratings
        - ``daily_nprs`` (float64, points): mean of all of the day's ratings

    See Also
    --------
    pain_flares : Flares from the pain ratings.
    safety_flags : Every flag in one table.

    Notes
    -----
    Kept apart from :func:`pain_flares` on purpose: most days patients call a
    flare do not show above-average pain (68 % of self-reported flare days in
    Costa et al. 2021), so the two flags answer different questions and often
    disagree; neither replaces the other.

    References
    ----------
    Costa N, Smits EJ, Kasza J, Salomoni SE, Ferreira M, Hodges PW (2021).
    Low back pain flares: how do they differ from an increase in pain?
    Clin J Pain 37(5):313-320.
    """
    reg = _registry(patients)
    d = _self_reported_days(_events(pain, patients, reg, "recorded_at", "pain"), pain)
    return pd.DataFrame(
        {
            "patient_id": pd.array(reg.ids[d["code"]], dtype="string"),
            "date": from_epoch_days(d["day"]),
            "n_reports": d["n_reports"],
            "nprs_max": d["nprs_max"],
            "daily_nprs": d["daily_nprs"],
        }
    )


# --------------------------------------------------------------------------- pain during exercise


def _latest_before(
    code: np.ndarray, sec: np.ndarray, day: np.ndarray, reg: _Registry, pain_ev: _Events, nprs_all: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Latest pain rating at or before each (patient, second), on the same or the previous day.

    The pain events are sorted by patient then time, so one composite key
    ``rank * span + seconds`` and one ``np.searchsorted`` serve the whole cohort
    (``day`` is the calendar day of ``sec``). Returns the rating (NaN if none)
    and its epoch second (-1 if none).
    """
    pre = np.full(len(code), np.nan)
    pre_sec = np.full(len(code), -1, dtype=np.int64)
    pv = pain_ev.of(nprs_all)
    ok = ~np.isnan(pv)
    if len(code) == 0 or not ok.any():
        return pre, pre_sec
    if ok.all():
        pcode, psec, pday = pain_ev.code, pain_ev.sec, pain_ev.day
    else:
        pcode, psec, pday, pv = pain_ev.code[ok], pain_ev.sec[ok], pain_ev.day[ok], pv[ok]
    s0 = min(int(psec.min()), int(sec.min()))
    span = max(int(psec.max()), int(sec.max())) - s0 + 1
    # rank * span fits int64 unless patients x seconds spanned exceeds 4.6e18 (1e6 patients x 146,000 years)
    pkey = reg.ranks(pcode) * span + (psec - s0)
    skey = reg.ranks(code) * span + (sec - s0)
    if bool((skey[1:] >= skey[:-1]).all()):  # session logs are usually in patient then time order already
        idx = np.searchsorted(pkey, skey, side="right") - 1
    else:
        needles = np.argsort(skey)  # sorted needles search several times faster
        idx = np.empty(len(skey), dtype=np.int64)
        idx[needles] = np.searchsorted(pkey, skey[needles], side="right") - 1
    src = np.maximum(idx, 0)
    found = (idx >= 0) & (pcode[src] == code)
    found &= day - pday[src] <= 1
    pre[found] = pv[src[found]]
    pre_sec[found] = psec[src[found]]
    return pre, pre_sec


def _pain_during_rows(
    sess_ev: _Events,
    sessions: pd.DataFrame,
    pain_ev: _Events,
    pain: pd.DataFrame,
    reg: _Registry,
    settings: Settings,
    flagged_only: bool,
) -> dict[str, np.ndarray]:
    during = sess_ev.of(numeric_values(sessions, "pain_during"))
    over_all = during > float(settings.pain_during_max) + _EPS
    rise_min = float(settings.pain_during_rise) - _EPS
    # NPRS >= 0, so the rise rule can only fire when pain_during >= pain_during_rise:
    # with flagged_only, rows below both limits cannot be flagged and are not looked up
    if flagged_only:
        rows = np.flatnonzero(over_all | (during >= rise_min))
    else:
        rows = np.flatnonzero(~np.isnan(during))
    ev, during, over = sess_ev.take(rows), during[rows], over_all[rows]
    pre, pre_sec = _latest_before(ev.code, ev.sec, ev.day, reg, pain_ev, numeric_values(pain, "nprs"))
    rise = during - pre
    rose = _at_least(rise, rise_min)
    flagged = over | rose
    keep = flagged if flagged_only else np.ones(len(during), dtype=bool)
    return {
        "pos": ev.pos[keep],
        "code": ev.code[keep],
        "sec": ev.sec[keep],
        "day": ev.day[keep],
        "pain_during": during[keep],
        "pre": pre[keep],
        "pre_sec": pre_sec[keep],
        "rise": rise[keep],
        "over_max": over[keep],
        "rose": rose[keep],
        "flagged": flagged[keep],
    }


@checks_tables(sessions="sessions", pain="pain", patients="patients")
def pain_during_exercise(
    sessions: pd.DataFrame,
    pain: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    settings: Settings = DEFAULT_SETTINGS,
    flagged_only: bool = False,
) -> pd.DataFrame:
    """Exercise rows with too much pain, or pain well above the pre-session pain.

    Parameters
    ----------
    sessions
        Canonical ``sessions`` table; rows without ``pain_during`` are not judged.
    pain
        Canonical ``pain`` table (the pre-session ratings).
    patients
        Canonical ``patients`` table.
    settings
        Uses ``pain_during_max`` (default 5 points) and ``pain_during_rise``
        (default 2 points).
    flagged_only
        Return only the flagged rows.

    Returns
    -------
    pandas.DataFrame
        One row per session row with a ``pain_during`` rating, sorted by patient,
        ``performed_at``, ``exercise`` and ``side``:

        - ``patient_id`` (string)
        - ``performed_at`` (datetime64[ns]): when the exercise was done
        - ``date`` (datetime64[ns], midnight): its calendar day
        - ``exercise``, ``side`` (string)
        - ``pain_during`` (float64, NPRS points 0-10)
        - ``pre_session_nprs`` (float64, points): the pre-session rating, NaN if none
        - ``pre_session_at`` (datetime64[ns]): when it was recorded, NaT if none
        - ``rise`` (float64, points): ``pain_during - pre_session_nprs``
        - ``over_max`` (bool): ``pain_during > pain_during_max``
        - ``rose`` (bool): ``rise >= pain_during_rise``
        - ``flagged`` (bool): ``over_max or rose``

    See Also
    --------
    pain_flares : Flares from the daily ratings.
    safety_flags : Every flag in one table.

    Notes
    -----
    Pain-monitoring model (Silbernagel et al. 2007): pain during exercise of
    0-3 is safe, 4-5 acceptable, above 5 too much. The programme's rule "stop
    when you feel pain" adds a rise of >= ``pain_during_rise`` points above the
    pain the patient had before the session (docs/clinical-reference.md sections 5 and 7).

    **Pre-session pain** is the patient's latest individual NPRS rating recorded
    at or before ``performed_at``, on the same calendar day or the day before
    (an older rating says little about today). A rating with exactly the same
    timestamp counts as before, so date-only logs (both at midnight) compare with
    that day's rating. Without such a rating the rise rule is not applied
    (``rose`` is False) and only the > ``pain_during_max`` rule can flag.

    This function judges every session row (one exercise and side);
    :func:`safety_flags` reports **one flag per patient-day**, the worst row of
    the day, so that five painful exercises in one session are one flag, not five.

    References
    ----------
    Silbernagel KG, Thomeé R, Eriksson BI, Karlsson J (2007). Continued sports
    activity, using a pain-monitoring model, during rehabilitation in patients
    with Achilles tendinopathy: a randomized controlled study. Am J Sports Med
    35(6):897-906.
    """
    reg = _registry(patients)
    sess_ev = _events(sessions, patients, reg, "performed_at", "sessions", sort=False)
    pain_ev = _events(pain, patients, reg, "recorded_at", "pain")
    d = _pain_during_rows(sess_ev, sessions, pain_ev, pain, reg, settings, flagged_only)
    exercise = _column_text(sessions, "exercise", d["pos"])
    side = _column_text(sessions, "side", d["pos"])
    order = np.lexsort((_text_rank(side), _text_rank(exercise), d["sec"], reg.rank[d["code"]]))
    d = {k: v[order] for k, v in d.items()}
    return pd.DataFrame(
        {
            "patient_id": pd.array(reg.ids[d["code"]], dtype="string"),
            "performed_at": pd.to_datetime(sessions["performed_at"]).to_numpy(dtype="datetime64[ns]")[d["pos"]],
            "date": from_epoch_days(d["day"]),
            "exercise": pd.array(exercise[order], dtype="string"),
            "side": pd.array(side[order], dtype="string"),
            "pain_during": d["pain_during"],
            "pre_session_nprs": d["pre"],
            "pre_session_at": np.where(
                d["pre_sec"] >= 0, d["pre_sec"].astype("datetime64[s]"), np.datetime64("NaT")
            ).astype("datetime64[ns]"),
            "rise": d["rise"],
            "over_max": d["over_max"],
            "rose": d["rose"],
            "flagged": d["flagged"],
        }
    )


def _column_text(frame: pd.DataFrame, column: str, pos: np.ndarray) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(pos), "", dtype=object)
    return frame[column].iloc[pos].astype("string").to_numpy(dtype=object, na_value="")


def _text_rank(values: np.ndarray) -> np.ndarray:
    """Integer codes of text values in sorted order (for fast lexsort tie-breaks)."""
    return pd.factorize(values, sort=True)[0]


# --------------------------------------------------------------------------- load progression


def _planned_days(prescriptions: pd.DataFrame, patients: pd.DataFrame, reg: _Registry
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Usable prescription periods on the programme clock: registry code, first and last programme day, daily dose.

    The last day is the day the period is in force until (:func:`analysis.prescriptions.period_ends`;
    :data:`~analysis.prescriptions.OPEN_END` when open-ended); the daily dose is
    ``sessions_per_week / 7 x sets x reps x hold`` (a hold of 0 counts as 1, as in
    :func:`analysis.adherence.session_dose`).
    """
    ok = np.flatnonzero(usable_periods(prescriptions))
    rows = prescriptions.iloc[ok]
    code = patient_codes(rows["patient_id"], patients)
    known = code >= 0
    code_k = np.maximum(code, 0)
    known &= reg.has_start[code_k] if reg.n else np.zeros(len(code), bool)
    start, _ = epoch_days(rows["start_date"])
    if "end_date" in rows.columns:
        end, has_end = epoch_days(rows["end_date"])
    else:
        end, has_end = np.zeros(len(rows), np.int64), np.zeros(len(rows), bool)
    keys = [code] + [pd.factorize(rows[c].astype("string"), use_na_sentinel=False)[0] for c in ("exercise", "side")]
    until = period_ends(keys, start, end, has_end)
    base = reg.start[code_k] if reg.n else np.zeros(len(code), np.int64)
    first = start - base
    last = np.where(until == OPEN_END, OPEN_END, until - base)
    daily = session_dose(rows).to_numpy(dtype=float) * numeric_values(rows, "sessions_per_week") / 7.0
    keep = known & (last >= np.maximum(first, 0)) & np.isfinite(daily)
    return code[keep], np.maximum(first[keep], 0), last[keep], daily[keep]


def _planned_grid(
    planned: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], n: int, n_weeks: int
) -> np.ndarray:
    """Prescribed dose per registry patient and programme week (``n x n_weeks``), from :func:`_planned_days`."""
    code, first, last, daily = planned
    n_days = 7 * n_weeks
    last = np.minimum(last, n_days - 1)
    inside = first <= last
    code, first, last, daily = code[inside], first[inside], last[inside], daily[inside]
    diff = np.zeros(n * n_days + 1)
    np.add.at(diff, code * n_days + first, daily)
    np.add.at(diff, code * n_days + last + 1, -daily)
    per_day = np.cumsum(diff[:-1]).reshape(n, n_days)
    per_day[np.abs(per_day) < 1e-9] = 0.0  # the running sum's round-off
    return per_day.reshape(n, n_weeks, 7).sum(axis=2)


def _load_weeks(
    sess_ev: _Events, sessions: pd.DataFrame, reg: _Registry, settings: Settings, flagged_only: bool,
    planned: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    k = int(settings.acwr_chronic_weeks)
    _check_days("acwr_chronic_weeks", k)
    dose_all = np.nan_to_num(session_dose(sessions).to_numpy(dtype=float), nan=0.0)
    code = sess_ev.code
    rel = sess_ev.day - reg.start[code]
    inside = reg.has_start[code] & (rel >= 0)
    if inside.all():
        week0, dose = rel // 7, sess_ev.of(dose_all)
    else:
        code, week0, dose = code[inside], rel[inside] // 7, dose_all[sess_ev.pos[inside]]
    if len(code) == 0:
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
        return {
            "code": empty_i, "week": empty_i, "week_start": empty_i, "dose": empty_f, "change": empty_f,
            "change_pct": empty_f, "chronic_mean": empty_f, "planned_dose": empty_f, "chronic_planned": empty_f,
            "acwr": empty_f, "flagged": np.zeros(0, bool),
        }
    # patient x week grid of doses (rows in patient_id order): empty weeks come for free
    n_weeks = int(week0.max()) + 1
    # built in registry order, then its rows put in patient_id order (same sums: bincount adds in row order)
    code_of_row = np.argsort(reg.rank)
    cell = code * n_weeks + week0
    grid = np.bincount(cell, weights=dose, minlength=reg.n * n_weeks).reshape(reg.n, n_weeks)[code_of_row]
    logged = np.bincount(cell, minlength=reg.n * n_weeks).reshape(reg.n, n_weeks)[code_of_row] > 0
    last_week = np.where(logged, np.arange(n_weeks)[None, :], -1).max(axis=1)

    previous = np.concatenate([np.full((reg.n, 1), np.nan), grid[:, :-1]], axis=1)
    change = grid - previous
    csum = np.concatenate([np.zeros((reg.n, 1)), np.cumsum(grid, axis=1)], axis=1)
    chronic = np.full_like(grid, np.nan)
    if n_weeks > k:
        # 0-based week w >= k: mean of weeks w-k .. w-1 = (csum[w] - csum[w-k]) / k
        chronic[:, k:] = (csum[:, k:n_weeks] - csum[:, : n_weeks - k]) / k
    if planned is not None:
        plan = _planned_grid(planned, reg.n, n_weeks)[code_of_row]
        pcsum = np.concatenate([np.zeros((reg.n, 1)), np.cumsum(plan, axis=1)], axis=1)
        chronic_plan = np.full_like(plan, np.nan)
        if n_weeks > k:
            chronic_plan[:, k:] = (pcsum[:, k:n_weeks] - pcsum[:, : n_weeks - k]) / k
        # the floor: the load the programme already asked for in the chronic weeks
        floor = np.fmax(chronic, chronic_plan)
    else:
        plan = np.full_like(grid, np.nan)
        chronic_plan = np.full_like(grid, np.nan)
        floor = chronic
    with np.errstate(divide="ignore", invalid="ignore"):
        change_pct = np.where(previous > 0, change / previous * 100.0, np.nan)
        acwr = np.where(floor > 0, grid / floor, np.nan)
    flagged = np.nan_to_num(acwr, nan=-np.inf) > float(settings.acwr_max) + _EPS
    if planned is not None:
        # at or below this week's prescription is the plan being done, not a jump
        flagged &= grid > plan * (1 + _EPS) + _EPS

    keep = np.arange(n_weeks)[None, :] <= last_week[:, None]
    if flagged_only:
        keep &= flagged
    prow, pweek = np.nonzero(keep)
    pcode = code_of_row[prow]
    return {
        "code": pcode,
        "week": (pweek + 1).astype(np.int64),
        "week_start": reg.start[pcode] + 7 * pweek,
        "dose": grid[keep],
        "change": change[keep],
        "change_pct": change_pct[keep],
        "chronic_mean": chronic[keep],
        "planned_dose": plan[keep],
        "chronic_planned": chronic_plan[keep],
        "acwr": acwr[keep],
        "flagged": flagged[keep],
    }


@checks_tables(sessions="sessions", patients="patients", prescriptions="prescriptions")
def load_progression(
    sessions: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    settings: Settings = DEFAULT_SETTINGS,
    flagged_only: bool = False,
    prescriptions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Weekly exercise dose, its week-on-week change and the acute:chronic ratio.

    Parameters
    ----------
    sessions
        Canonical ``sessions`` table.
    patients
        Canonical ``patients`` table (``programme_start`` defines the weeks).
    settings
        Uses ``acwr_chronic_weeks`` (default 4 weeks) and ``acwr_max`` (default 1.5).
    flagged_only
        Return only the flagged weeks.
    prescriptions
        Canonical ``prescriptions`` table. When given (as the dashboard, the
        cohort summary and the reports do), the prescribed dose is the floor of
        the chronic load and a week at or below its prescribed dose is never
        flagged (see Notes). Without it, the plain uncoupled ratio (for judging
        a plan against itself, :func:`analysis.programmes.planned_weekly_load`).

    Returns
    -------
    pandas.DataFrame
        One row per patient and programme week, from week 1 to the patient's last
        week with a session (weeks without a session have dose 0), sorted by
        patient and week:

        - ``patient_id`` (string)
        - ``week`` (int64): programme week, 1 = days 0-6 from ``programme_start``
        - ``week_start`` (datetime64[ns]): first day of the week
        - ``dose`` (float64, repetition-seconds): sum of
          :func:`analysis.adherence.session_dose` (sets x reps x hold, a missing or
          0 hold counting as 1) over the week's session rows
        - ``change`` (float64, repetition-seconds): ``dose`` minus the previous
          week's dose; NaN in week 1
        - ``change_pct`` (float64, %): ``change / previous dose x 100``; NaN in
          week 1 and after a week with dose 0
        - ``chronic_mean`` (float64, repetition-seconds): mean dose of the
          ``acwr_chronic_weeks`` weeks before this one; NaN until that many
          programme weeks precede it
        - ``planned_dose`` (float64, repetition-seconds): the dose prescribed for
          the week (``sum over days of sessions_per_week / 7 x sets x reps x hold``
          of the periods in force); NaN without ``prescriptions``
        - ``chronic_planned`` (float64, repetition-seconds): mean prescribed dose of
          the ``acwr_chronic_weeks`` weeks before; NaN without ``prescriptions``
        - ``acwr`` (float64, ratio): ``dose / max(chronic_mean, chronic_planned)``;
          NaN when that is NaN or 0
        - ``flagged`` (bool): ``acwr > acwr_max`` and, with ``prescriptions``,
          ``dose > planned_dose``
        - ``descriptive_only`` (bool): always True

    See Also
    --------
    analysis.programmes.planned_weekly_load : The same ratio on a planned programme.
    safety_flags : Every flag in one table.

    Notes
    -----
    Rolling, **uncoupled** acute:chronic workload ratio on programme weeks:

    ``ACWR(w) = dose(w) / mean(dose(w-1), ..., dose(w-K))``,  ``K = acwr_chronic_weeks``

    The acute week is **not** part of the chronic mean: in the coupled form it
    sits in both numerator and denominator, which pulls the ratio towards 1 and
    creates spurious correlation (Lolli et al. 2019). The ratio exists only from
    week K + 1, when all K chronic weeks lie inside the programme, and only when
    the chronic mean is above 0, so the first weeks, when any increase from a
    small start looks dramatic, are never flagged.

    **The prescription as a floor** (with ``prescriptions``). A ratio divides by
    what was done: after two empty weeks a comeback at a fifth of the plan is
    "3 times the chronic load" although it is far below what the physio asked
    for. So the chronic load is floored at the mean *prescribed* dose of the
    same K weeks (the load the programme already asked the tissues to take), and
    a week whose dose is at or below its own prescribed dose is never flagged:
    doing the plan is not a jump. A flag then means the patient did more than
    prescribed, and more than 1.5 times both what they did and what was planned
    over the previous weeks (*project choice*, docs/clinical-reference.md
    section 8; the 1.5 comes from athletes' training loads, Gabbett 2016, and is
    contested, Impellizzeri et al. 2020). Sessions before
    ``programme_start`` are not counted; a dose that cannot be computed (missing
    sets or reps) counts as 0.

    The programme says "start gently and build gradually over weeks"
    (docs/clinical-reference.md section 7); the ratio comes
    from athletes' training loads and its use is contested (Impellizzeri et al.
    2020), so every row is labelled descriptive only.

    References
    ----------
    Impellizzeri FM, Tenan MS, Kempton T, Novak A, Coutts AJ (2020).
    Acute:chronic workload ratio: conceptual issues and fundamental pitfalls.
    Int J Sports Physiol Perform 15(6):907-913.

    Lolli L, Batterham AM, Hawkins R, et al. (2019). Mathematical coupling causes
    spurious correlation within the conventional acute-to-chronic workload ratio
    calculations. Br J Sports Med 53(15):921-922.
    """
    reg = _registry(patients)
    sess_ev = _events(sessions, patients, reg, "performed_at", "sessions", sort=False)
    planned = _planned_days(prescriptions, patients, reg) if prescriptions is not None else None
    d = _load_weeks(sess_ev, sessions, reg, settings, flagged_only, planned)
    return pd.DataFrame(
        {
            "patient_id": pd.array(reg.ids[d["code"]], dtype="string"),
            "week": d["week"],
            "week_start": from_epoch_days(d["week_start"]),
            "dose": d["dose"],
            "change": d["change"],
            "change_pct": d["change_pct"],
            "chronic_mean": d["chronic_mean"],
            "planned_dose": d["planned_dose"],
            "chronic_planned": d["chronic_planned"],
            "acwr": d["acwr"],
            "flagged": d["flagged"],
            "descriptive_only": np.ones(len(d["code"]), dtype=bool),
        }
    )


# --------------------------------------------------------------------------- logging stopped


#: Largest patient x day grid (cells, one byte each) used to find the distinct entry days.
_GRID_MAX_CELLS = 1 << 26


def _entry_days(
    sess_ev: _Events, pain_ev: _Events, reg: _Registry, judged: np.ndarray, virtual: np.ndarray, as_of_day: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Distinct (patient, day) entries in patient_id then day order (None when there are none).

    Entries are every session and pain event up to ``as_of_day`` of a judged
    patient, plus the day before each programme start; entries before that day
    count as on it. A patient x day boolean grid marks them (its set cells, read
    in row-major order with the rows in patient_id order, are the sorted distinct
    keys); for a very long span the keys are sorted instead.
    """
    ev_code = np.concatenate([sess_ev.code, pain_ev.code])
    ev_day = np.concatenate([sess_ev.day, pain_ev.day])
    floor_day = reg.start[virtual] - 1
    d0 = min(int(ev_day.min()) if len(ev_day) else as_of_day, int(floor_day.min()) if len(floor_day) else as_of_day)
    span = as_of_day - d0 + 1
    if span < 1 or reg.n * span > _GRID_MAX_CELLS:
        return _entry_days_sorted(ev_code, ev_day, reg, judged, virtual, as_of_day)
    if len(ev_day) and int(ev_day.max()) > as_of_day:
        inside = ev_day <= as_of_day
        ev_code, ev_day = ev_code[inside], ev_day[inside]
    grid = np.zeros((reg.n, span), dtype=bool)
    grid.reshape(-1)[ev_code * span + (ev_day - d0)] = True
    grid[virtual, floor_day - d0] = True
    # before the programme: entries count as on the day before day 0 (already marked); unjudged: nothing
    cut = np.where(judged, 0, span)
    cut[virtual] = floor_day - d0
    grid &= np.arange(span)[None, :] >= cut[:, None]
    code_of_row = np.argsort(reg.rank)
    key = np.flatnonzero(grid[code_of_row])
    if len(key) == 0:
        return None
    return code_of_row[key // span], key % span + d0


def _entry_days_sorted(
    ev_code: np.ndarray, ev_day: np.ndarray, reg: _Registry, judged: np.ndarray, virtual: np.ndarray,
    as_of_day: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_entry_days` by sorting composite keys (for spans too long for a grid)."""
    code = np.concatenate([ev_code, virtual])
    day = np.concatenate([ev_day, reg.start[virtual] - 1])
    keep = judged[code] & (day <= as_of_day)
    code, day = code[keep], day[keep]
    floor = np.where(reg.has_start[code], reg.start[code] - 1, day)
    day = np.maximum(day, floor)  # entries before the programme count as the day before day 0
    if len(code) == 0:
        return None
    # distinct (patient, day) entries in patient then day order, from one int64 key
    d0 = int(day.min())
    span = as_of_day - d0 + 1
    key = reg.rank[code] * span + (day - d0)
    key = _distinct_sorted(key)
    return np.argsort(reg.rank)[key // span], key % span + d0



def _programme_end(planned: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], reg: _Registry) -> np.ndarray:
    """Epoch day of each patient's last programme day: the end of the week holding the last prescribed day.

    :data:`~analysis.prescriptions.OPEN_END` while a period is open-ended, and also
    for a patient without a prescription (no known end: nothing is cut).
    """
    code, _, last, _ = planned
    out = np.full(reg.n, -1, dtype=np.int64)
    if len(code):
        np.maximum.at(out, code, last)
    open_ended = (out == OPEN_END) | (out < 0)
    end = reg.start + 7 * (out // 7) + 6
    return np.where(open_ended, OPEN_END, end)


def _logging_gaps(
    sess_ev: _Events, pain_ev: _Events, reg: _Registry, as_of_day: int, settings: Settings,
    programme_end: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    threshold = int(settings.logging_stopped_days)
    _check_days("logging_stopped_days", threshold)
    judged = ~reg.has_start | (reg.start <= as_of_day)
    virtual = np.flatnonzero(reg.has_start & judged)
    entry_days = _entry_days(sess_ev, pain_ev, reg, judged, virtual, as_of_day)
    if entry_days is None:
        empty = np.zeros(0, dtype=np.int64)
        return {
            "code": empty, "last_entry": empty, "has_last_entry": np.zeros(0, bool), "gap_start": empty,
            "gap_end": empty, "days": empty, "ongoing": np.zeros(0, bool), "programme_ended": np.zeros(0, bool),
            "no_entries": np.zeros(0, bool),
        }
    code, day = entry_days
    real = ~reg.has_start[code] | (day >= reg.start[code])
    n_real = np.bincount(code[real], minlength=reg.n)

    is_last = np.ones(len(code), dtype=bool)
    is_last[:-1] = code[1:] != code[:-1]
    next_day = np.empty_like(day)
    next_day[:-1] = day[1:]
    next_day[is_last] = as_of_day + 1  # after the last entry the gap runs up to as_of
    gap_end = next_day - 1
    ongoing = is_last.copy()
    ended = np.zeros(len(code), dtype=bool)
    if programme_end is not None:
        # silence after the programme's last day is not a gap: logging ends with the programme
        end = programme_end[code]
        ended = gap_end > end
        gap_end = np.minimum(gap_end, end)
        ongoing &= ~ended
    gap = gap_end - day
    flag = gap >= threshold
    return {
        "code": code[flag],
        "last_entry": day[flag],
        "has_last_entry": real[flag],
        "gap_start": day[flag] + 1,
        "gap_end": gap_end[flag],
        "days": gap[flag].astype(np.int64),
        "ongoing": ongoing[flag],
        "programme_ended": ended[flag],
        "no_entries": n_real[code[flag]] == 0,
    }


@checks_tables(sessions="sessions", pain="pain", patients="patients", prescriptions="prescriptions")
def logging_stopped(
    sessions: pd.DataFrame,
    pain: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    prescriptions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Runs of >= ``logging_stopped_days`` days without any session or pain entry.

    Parameters
    ----------
    sessions, pain
        Canonical tables; any row (even a session row with 0 sets) is an entry on
        its calendar day.
    patients
        Canonical ``patients`` table (``programme_start``).
    as_of
        Analysis date; entries after it are ignored. ``None``: the last date in
        ``sessions.performed_at`` and ``pain.recorded_at``
        (:func:`analysis.timeline.resolve_as_of`).
    settings
        Uses ``logging_stopped_days`` (default 7 days).
    prescriptions
        Canonical ``prescriptions`` table. When given, logging ends with the
        programme: silence after its last day (the end of the week holding the
        last prescribed day) is not counted, and a gap that reaches it is closed
        there (``programme_ended``), not ongoing.

    Returns
    -------
    pandas.DataFrame
        One row per gap of at least ``logging_stopped_days`` days (every row is a
        flag), sorted by patient and ``gap_start``:

        - ``patient_id`` (string)
        - ``last_entry`` (datetime64[ns]): day of the last entry before the gap;
          NaT when the gap starts at the programme start
        - ``gap_start`` (datetime64[ns]): first day without an entry
        - ``gap_end`` (datetime64[ns]): last day without an entry (the day before
          the next entry, or ``as_of`` when ongoing)
        - ``days`` (int64, days): length of the gap, ``gap_end - gap_start + 1``
        - ``ongoing`` (bool): the gap reaches ``as_of`` while the programme runs:
          logging has stopped
        - ``programme_ended`` (bool): the gap ran until the programme's last day
          (only with ``prescriptions``); the programme is finished, the flag closed
        - ``no_entries`` (bool): no entry at all from the programme start to ``as_of``

    See Also
    --------
    analysis.timeline.last_entry_days : The last entry of each patient.
    safety_flags : Every flag in one table.

    Notes
    -----
    A gap is a run of calendar days with no session and no pain entry, between
    two entry days or after the last one up to and including ``as_of``. The last
    entry on 1 October and ``as_of`` 8 October is a gap of 7 days (2-8 October),
    flagged at the default of 7. Silence is counted from the programme start at
    the earliest: the day before ``programme_start`` acts as an entry (entries
    before the programme count as on that day), so a patient who never logged is
    flagged once ``logging_stopped_days`` days of the programme (day 0 included)
    have passed, as in :func:`analysis.adherence.adherence_summary`. Past gaps are
    reported too (``ongoing`` False). Programmes starting after ``as_of`` are
    not judged.
    """
    as_of_ts = resolve_as_of(as_of, (sessions, "performed_at"), (pain, "recorded_at"))
    reg = _registry(patients)
    as_of_day = epoch_day(as_of_ts)
    sess_ev = _events(sessions, patients, reg, "performed_at", "sessions", until_day=as_of_day, sort=False)
    pain_ev = _events(pain, patients, reg, "recorded_at", "pain", until_day=as_of_day)
    end = _programme_end(_planned_days(prescriptions, patients, reg), reg) if prescriptions is not None else None
    d = _logging_gaps(sess_ev, pain_ev, reg, as_of_day, settings, end)
    return pd.DataFrame(
        {
            "patient_id": pd.array(reg.ids[d["code"]], dtype="string"),
            "last_entry": np.where(d["has_last_entry"], from_epoch_days(d["last_entry"]), np.datetime64("NaT", "ns")),
            "gap_start": from_epoch_days(d["gap_start"]),
            "gap_end": from_epoch_days(d["gap_end"]),
            "days": d["days"],
            "ongoing": d["ongoing"],
            "programme_ended": d["programme_ended"],
            "no_entries": d["no_entries"],
        }
    )


# --------------------------------------------------------------------------- all flags


@checks_tables(sessions="sessions", pain="pain", patients="patients", prescriptions="prescriptions")
def safety_flags(
    sessions: pd.DataFrame,
    pain: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    open_days: int = OPEN_DAYS,
    min_baseline_days: int = MIN_BASELINE_DAYS,
    prescriptions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every safety flag of every patient in one tidy table, for the physio.

    Parameters
    ----------
    sessions, pain, patients
        Canonical tables (:mod:`analysis.schema`).
    as_of
        Analysis date. Only entries up to the end of this day are used, so a
        report as of a past date shows what was known then. ``None``: the last
        date in ``sessions.performed_at`` and ``pain.recorded_at``.
    settings
        Thresholds; see each kind's function for the ones it uses.
    open_days
        Window of recent flags counted as open (default :data:`OPEN_DAYS` = 14 days).
    min_baseline_days
        Passed to :func:`pain_flares`.
    prescriptions
        Canonical ``prescriptions`` table: the prescribed dose floors the load
        ratio (:func:`load_progression`) and logging ends with the programme
        (:func:`logging_stopped`). The cohort summary, the patient view and the
        reports pass it; without it both rules run without the plan.

    Returns
    -------
    pandas.DataFrame
        One row per flag, sorted by ``patient_id``, ``date`` and kind (in the
        order of :data:`FLAG_KINDS`), with the columns of :data:`FLAG_COLUMNS`:

        - ``patient_id`` (string)
        - ``date`` (datetime64[ns], midnight): the flagged day; for
          ``rapid_load_increase`` the first day of the programme week; for
          ``logging_stopped`` the first day without an entry
        - ``kind`` (string): one of :data:`FLAG_KINDS`
        - ``value`` (float64): the quantity compared with ``threshold``:
          ``pain_flare`` - points above the baseline median;
          ``self_reported_flare`` - the highest NPRS marked as a flare that day;
          ``pain_during_exercise`` - the pain during exercise (points 0-10) when it
          is above ``pain_during_max``, else its rise above the pre-session pain
          (points); ``rapid_load_increase`` - the acute:chronic ratio;
          ``logging_stopped`` - days without an entry
        - ``threshold`` (float64): the settings value used (``flare_rise_points``,
          ``pain_during_max`` or ``pain_during_rise``, ``acwr_max``,
          ``logging_stopped_days``); NaN for ``self_reported_flare``
        - ``reason`` (string): one sentence for the physio with the numbers, the
          rule and its source
        - ``descriptive_only`` (bool): True for ``rapid_load_increase``, whose
          evidence (athletes, contested) does not support acting on it alone
        - ``open`` (bool): the flagged period ends within the ``open_days`` days
          up to and including ``as_of`` (from ``as_of - open_days + 1``), or is
          still ongoing: a ``logging_stopped`` gap that reaches ``as_of``, a
          programme week that contains ``as_of``. A ``logging_stopped`` gap that
          ran until the programme ended is closed (the programme is finished)

    See Also
    --------
    flag_counts : The flags counted per patient.
    pain_flares : One kind of flag.
    logging_stopped : One kind of flag.

    Notes
    -----
    Granularity: one row per patient-day for ``pain_flare``,
    ``self_reported_flare`` and ``pain_during_exercise`` (the worst exercise row
    of the day: above the maximum first, then the highest pain, then the
    earliest; the reason says how many rows were flagged); one per patient-week
    for ``rapid_load_increase``; one per gap for ``logging_stopped`` (past gaps
    are kept, closed). The period a flag covers ends on its date, at the end of
    the week, or at the gap's last day.

    The flags are descriptive, for the physio; they are not advice to the patient.

    References
    ----------
    See :func:`pain_flares` (Costa et al. 2021), :func:`pain_during_exercise`
    (Silbernagel et al. 2007), :func:`load_progression` (Impellizzeri et al. 2020)
    and :func:`logging_stopped`; docs/clinical-reference.md section 5.
    """
    return _flags_and_flares(sessions, pain, patients, as_of, settings, open_days, min_baseline_days,
                             prescriptions)[0]


@checks_tables(sessions="sessions", pain="pain", patients="patients", prescriptions="prescriptions")
def safety_flags_and_flare_ratings(
    sessions: pd.DataFrame,
    pain: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    prescriptions: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`safety_flags` and the transient flare ratings of ``pain``, from one pass of the flare rule.

    Parameters
    ----------
    sessions, pain, patients, as_of, settings, prescriptions
        As for :func:`safety_flags` (``open_days`` and ``min_baseline_days`` at their defaults).

    Returns
    -------
    flags : pandas.DataFrame
        Exactly ``safety_flags(sessions, pain, patients, as_of=as_of, settings=settings,
        prescriptions=prescriptions)``.
    transient : numpy.ndarray of bool
        One value per row of ``pain``: ``flare_ratings(pain, patients, settings=settings,
        transient=True)`` for the rows dated up to and including ``as_of``; False for later rows
        (the flags do not see them).

    Notes
    -----
    The cohort summary needs both, the flags for the physio and the transient flare ratings that
    the trend rule leaves out (:func:`analysis.trends.pain_trends`); both come from the same trailing
    median of every rating (Costa et al. 2021; docs/clinical-reference.md sections 3 and 5), computed
    once here instead of twice (issue 19).
    """
    return _flags_and_flares(sessions, pain, patients, as_of, settings, OPEN_DAYS, MIN_BASELINE_DAYS,
                             prescriptions)


def _flags_and_flares(
    sessions: pd.DataFrame, pain: pd.DataFrame, patients: pd.DataFrame, as_of: DateLike | None,
    settings: Settings, open_days: int, min_baseline_days: int, prescriptions: pd.DataFrame | None,
) -> tuple[pd.DataFrame, np.ndarray]:
    _check_days("open_days", open_days)
    as_of_ts = resolve_as_of(as_of, (sessions, "performed_at"), (pain, "recorded_at"))
    as_of_day = epoch_day(as_of_ts)
    reg = _registry(patients)
    sess_ev = _events(sessions, patients, reg, "performed_at", "sessions", until_day=as_of_day, sort=False)
    pain_ev = _events(pain, patients, reg, "recorded_at", "pain", until_day=as_of_day)

    flare, (f_pos, f_flagged, f_back) = _flare_days(pain_ev, numeric_values(pain, "nprs"), settings,
                                                    min_baseline_days)
    transient = np.zeros(len(pain), dtype=bool)
    transient[f_pos[f_flagged & f_back]] = True
    planned = _planned_days(prescriptions, patients, reg) if prescriptions is not None else None
    end = _programme_end(planned, reg) if planned is not None else None
    parts = [
        _flare_flags({k: v[flare["flagged"]] for k, v in flare.items()}, settings),
        _self_reported_flags(_self_reported_days(pain_ev, pain)),
        _pain_during_flags(
            _pain_during_rows(sess_ev, sessions, pain_ev, pain, reg, settings, flagged_only=True),
            sessions, reg, settings,
        ),
        _load_flags(_load_weeks(sess_ev, sessions, reg, settings, flagged_only=True, planned=planned), settings),
        _logging_flags(_logging_gaps(sess_ev, pain_ev, reg, as_of_day, settings, end), settings),
    ]
    f = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.lexsort((f["kind"], f["day"], reg.rank[f["code"]]))
    f = {key: v[order] for key, v in f.items()}
    is_open = ~f["closed"] & (f["ongoing"] | (f["end"] >= as_of_day - open_days + 1))
    out = pd.DataFrame(
        {
            "patient_id": pd.array(reg.ids[f["code"]], dtype="string"),
            "date": from_epoch_days(f["day"]),
            "kind": pd.array(np.asarray(FLAG_KINDS, dtype=object)[f["kind"]], dtype="string"),
            "value": f["value"].astype(float),
            "threshold": f["threshold"].astype(float),
            "reason": pd.array(f["reason"], dtype="string"),
            "descriptive_only": f["descriptive_only"].astype(bool),
            "open": is_open.astype(bool),
        }
    )
    return out, transient


def _flag_part(
    kind: str,
    code: np.ndarray,
    day: np.ndarray,
    value: np.ndarray,
    threshold: np.ndarray | float,
    reason: np.ndarray,
    *,
    end: np.ndarray | None = None,
    ongoing: np.ndarray | None = None,
    closed: np.ndarray | None = None,
    descriptive_only: bool = False,
) -> dict[str, np.ndarray]:
    n = len(code)
    return {
        "closed": np.zeros(n, dtype=bool) if closed is None else np.asarray(closed, dtype=bool),
        "code": np.asarray(code, dtype=np.int64),
        "day": np.asarray(day, dtype=np.int64),
        "kind": np.full(n, FLAG_KINDS.index(kind), dtype=np.int64),
        "value": np.asarray(value, dtype=float),
        "threshold": np.broadcast_to(np.asarray(threshold, dtype=float), (n,)).copy(),
        "reason": np.asarray(reason, dtype=object).reshape(n),
        "descriptive_only": np.full(n, descriptive_only),
        "end": np.asarray(day if end is None else end, dtype=np.int64),
        "ongoing": np.zeros(n, dtype=bool) if ongoing is None else np.asarray(ongoing, dtype=bool),
    }


def _flare_flags(d: dict[str, np.ndarray], settings: Settings) -> dict[str, np.ndarray]:
    rise_points = float(settings.flare_rise_points)
    reason = (
        "Pain " + _txt(d["nprs_max"]) + " on " + _date_txt(d["day"]) + " is " + _txt(d["rise"]) + _points(d["rise"])
        + f" above the {int(settings.flare_baseline_days)}-day median of " + _txt(d["baseline"])
        + " (" + _int_txt(d["baseline_days"]) + " days with ratings; flag at >= "
        + f"{rise_points:g}{_points(np.array([rise_points]))[0]}; {_COSTA})"
    )
    return _flag_part("pain_flare", d["code"], d["day"], d["rise"], rise_points, reason)


def _self_reported_flags(d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    reports = np.full(len(d["n_reports"]), "", dtype=object)
    several = d["n_reports"] > 1
    reports[several] = " (" + _int_txt(d["n_reports"][several]) + " reports)"
    reason = (
        "Patient reported a flare-up on " + _date_txt(d["day"]) + reports + " with pain " + _txt(d["nprs_max"])
        + " (day's mean " + _txt(d["daily_nprs"]) + "); kept apart from pain-based flares because most "
        + f"self-reported flare days show no above-average pain ({_COSTA})"
    )
    return _flag_part("self_reported_flare", d["code"], d["day"], d["nprs_max"], np.nan, reason)


def _pain_during_flags(
    d: dict[str, np.ndarray], sessions: pd.DataFrame, reg: _Registry, settings: Settings
) -> dict[str, np.ndarray]:
    exercise = _column_text(sessions, "exercise", d["pos"])
    side = _column_text(sessions, "side", d["pos"])
    # worst row of each patient-day: above the maximum first, then highest pain, then earliest
    order = np.lexsort(
        (
            _text_rank(side), _text_rank(exercise), d["sec"], -d["pain_during"], ~d["over_max"], d["day"],
            reg.rank[d["code"]],
        )
    )
    d = {k: v[order] for k, v in d.items()}
    exercise, side = exercise[order], side[order]
    first, group = _groups(d["code"], d["day"])
    n_rows = np.bincount(group, minlength=int(first.sum()))
    w = {k: v[first] for k, v in d.items()}
    exercise, side = exercise[first], side[first]
    over = w["over_max"]
    value = np.where(over, w["pain_during"], w["rise"])
    threshold = np.where(over, float(settings.pain_during_max), float(settings.pain_during_rise))
    # the names people read (knee_to_chest -> Knee-to-chest stretch); the sort above keeps the keys
    shown = exercise_labels(pd.Series(exercise, dtype="string")).to_numpy(dtype=object, na_value="")
    what = "Pain during exercise " + _txt(w["pain_during"]) + " (" + shown + ", " + side + ") on " + _date_txt(
        w["day"]
    )
    # each row's text is built only for the branch it takes
    tail = np.full(len(over), f" is above {float(settings.pain_during_max):g} ({_SILBERNAGEL})", dtype=object)
    rose = ~over
    rise, pre, pre_sec = w["rise"][rose], w["pre"][rose], w["pre_sec"][rose]
    tail[rose] = (
        " is " + _txt(rise) + _points(rise) + " above the pre-session pain of " + _txt(pre)
        + " recorded " + _time_txt(np.maximum(pre_sec, 0))
        + f" (flag at >= {float(settings.pain_during_rise):g} points above; programme rule: stop when it hurts)"
    )
    several = n_rows > 1
    tail[several] = tail[several] + "; " + _int_txt(n_rows[several]) + " exercise rows flagged that day"
    reason = what + tail
    return _flag_part("pain_during_exercise", w["code"], w["day"], value, threshold, reason)


def _load_flags(d: dict[str, np.ndarray], settings: Settings) -> dict[str, np.ndarray]:
    k = int(settings.acwr_chronic_weeks)
    has_plan = ~np.isnan(d["planned_dose"])
    plan_txt = np.full(len(has_plan), "", dtype=object)
    floored = has_plan & (np.nan_to_num(d["chronic_planned"], nan=-1.0) > np.nan_to_num(d["chronic_mean"], nan=-1.0))
    plan_txt[has_plan] = "; this week's plan: " + _txt(d["planned_dose"][has_plan])
    plan_txt[floored] = (plan_txt[floored] + ", the previous weeks' plan of "
                         + _txt(d["chronic_planned"][floored]) + " used as the floor")
    reason = (
        "Weekly exercise dose in programme week " + _int_txt(d["week"]) + " (from " + _date_txt(d["week_start"])
        + ") is " + _txt(d["acwr"], 2) + " times the chronic load (" + _txt(d["dose"]) + " vs a mean of "
        + _txt(d["chronic_mean"]) + " repetition-seconds over the previous " + str(k) + " weeks" + plan_txt
        + f"; flag at > {float(settings.acwr_max):g} and above the plan; {_IMPELLIZZERI})"
    )
    return _flag_part(
        "rapid_load_increase", d["code"], d["week_start"], d["acwr"], float(settings.acwr_max), reason,
        end=d["week_start"] + 6, descriptive_only=True,
    )


def _logging_flags(d: dict[str, np.ndarray], settings: Settings) -> dict[str, np.ndarray]:
    threshold = int(settings.logging_stopped_days)
    ongoing = d["ongoing"]
    # each row's text is built only for the branch it takes
    n = len(ongoing)
    head = np.empty(n, dtype=object)
    after = d["has_last_entry"]
    head[after] = "No session or pain entry after " + _date_txt(d["last_entry"][after])
    head[~after] = "No session or pain entry from the programme start on " + _date_txt(d["gap_start"][~after])
    tail = " for " + _int_txt(d["days"])
    tail[ongoing] = tail[ongoing] + " days up to " + _date_txt(d["gap_end"][ongoing]) + ", still ongoing"
    closed = ~ongoing & ~d["programme_ended"]
    tail[closed] = tail[closed] + " days, until " + _date_txt(d["gap_end"][closed])
    ended = d["programme_ended"]
    tail[ended] = tail[ended] + " days, until the programme ended on " + _date_txt(d["gap_end"][ended])
    reason = head + tail + f" (flag at >= {threshold} days without an entry)"
    return _flag_part(
        "logging_stopped", d["code"], d["gap_start"], d["days"], float(threshold), reason,
        end=d["gap_end"], ongoing=ongoing, closed=d["programme_ended"],
    )


def flag_counts(flags: pd.DataFrame, patients: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-patient counts of flags by kind, for the caseload overview.

    Parameters
    ----------
    flags
        Output of :func:`safety_flags`.
    patients
        Optional canonical ``patients`` table: when given, every registered
        patient gets a row (zeros when unflagged), in ``patient_id`` order.

    Returns
    -------
    pandas.DataFrame
        One row per patient (with at least one flag, or every patient of
        ``patients``), sorted by ``patient_id``:

        - ``patient_id`` (string)
        - ``n_<kind>`` (int64), for each kind of :data:`FLAG_KINDS`: number of flags
        - ``open_<kind>`` (int64), for each kind: number of open flags
        - ``n_total``, ``open_total`` (int64): all kinds together

    See Also
    --------
    safety_flags : The flags counted here.
    analysis.cohort.cohort_summary : The counts beside the other headlines.
    """
    ids = flags["patient_id"].astype("string")
    if patients is not None:
        vocabulary = pd.Index(patients["patient_id"].astype("string").unique())
    else:
        vocabulary = pd.Index(ids.unique())
    vocabulary = vocabulary.append(pd.Index(ids.unique())).unique().sort_values()
    row = vocabulary.get_indexer(ids)
    kind = pd.Index(FLAG_KINDS).get_indexer(flags["kind"].astype(object))
    if (kind < 0).any():
        bad = sorted(set(flags["kind"].astype(object)[kind < 0]))
        raise ValueError(f"unknown flag kind(s) {bad}; expected one of {', '.join(FLAG_KINDS)}")
    n_kinds = len(FLAG_KINDS)
    cell = row * n_kinds + kind
    size = len(vocabulary) * n_kinds
    counts = np.bincount(cell, minlength=size).reshape(-1, n_kinds)
    opened = np.bincount(cell, weights=flags["open"].to_numpy(dtype=bool), minlength=size).reshape(-1, n_kinds)
    out = pd.DataFrame({"patient_id": pd.array(vocabulary, dtype="string")})
    for j, k in enumerate(FLAG_KINDS):
        out[f"n_{k}"] = counts[:, j].astype(np.int64)
    for j, k in enumerate(FLAG_KINDS):
        out[f"open_{k}"] = opened[:, j].astype(np.int64)
    out["n_total"] = counts.sum(axis=1).astype(np.int64)
    out["open_total"] = opened.sum(axis=1).astype(np.int64)
    return out
