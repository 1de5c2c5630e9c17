"""Individual change: diary windows, meaningful and reliable change, time to events.

Everything here follows docs/clinical-reference.md section 2 with the thresholds of
:class:`analysis.settings.Settings` and :mod:`analysis.instruments`:

* **Diary windows** (:func:`diary_windows`): a single momentary rating is
  unreliable, so baseline and current pain are means over 7-day windows, each
  valid only with ratings on at least ``min_window_ratings`` (5) days.
* **Meaningful change** (:func:`pain_change`, :func:`prom_change`): an MCID
  responder improves by at least the absolute MCID **or** by at least 30 % of
  baseline (Ostelo et al. 2008); both rules and the one that was met are
  reported, with the IMMPACT tiers (Dworkin et al. 2008).
* **Reliable change** (:func:`reliable_change`): the Jacobson & Truax (1991)
  index, reported next to the MCID; all four combinations are meaningful.
* **Recovery** (PACE, Williams et al. 2014): daily pain 0-1 on 7 consecutive days.
* **Time to MCID / recovery** (:func:`time_to_events`, :func:`kaplan_meier`,
  :func:`logrank`): Kaplan-Meier with censoring at the last logged day
  (Henschke et al. 2008); the estimator is lifelines', not a re-implementation.

Pain is put on a patient x programme-day grid once (integer patient codes and
day numbers, ``np.bincount``), and every per-patient statistic is computed on
that grid with array operations: there is no Python loop over patients.

Daily value: when a patient rates pain more than once on a day, the day's
value is the mean of that day's ratings, and a window's ``n`` counts days with
a rating (so several ratings on one day count once: diary reliability needs
>= 5 rated days, docs/clinical-reference.md section 2). For the recovery rule every rating of the
day must be 0-1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from analysis.errors import NotEnoughDataError, SettingsError
from analysis.instruments import INSTRUMENTS, Instrument, get_instrument
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.timeline import DateLike, patient_codes
from analysis.validation import checks_tables

__all__ = [
    "diary_windows",
    "reliable_change",
    "pain_change",
    "prom_change",
    "time_to_events",
    "KaplanMeierResult",
    "LogrankResult",
    "kaplan_meier",
    "logrank",
]

#: Tolerance for threshold comparisons, so that 4 -> 2.8 (30.000000000000004 %) and
#: 29.999999999999996 % both meet a 30 % rule: thresholds are clinical, not floating point.
_EPS = 1e-9
_NONE = np.array(None, dtype=object)  # "no label" in np.where / np.select (None as a 0-d object array)
#: z of the 95 % MDC (MDC95 = 1.96 x sqrt(2) x SEM); fixed by the MDC's definition,
#: independent of ``Settings.rci_z``.
_MDC_Z = 1.96

_MCID_RULES = ("both", "absolute", "%", "neither")


# =========================================================================== the grid


@dataclass(frozen=True)
class _PainGrid:
    """Daily pain of every patient of the registry on one (patients x days) grid."""

    patient_id: pd.Series  # registry order, string
    start: np.ndarray  # programme_start per patient, datetime64[D]
    mean: np.ndarray  # (P, D) daily mean NPRS, nan where no rating
    rated: np.ndarray  # (P, D) bool, day has a rating
    low: np.ndarray  # (P, D) bool, rated and every rating <= recovery_max_nprs
    cs_sum: np.ndarray  # (P, D + 1) cumulative sum of daily means (0 where unrated)
    cs_n: np.ndarray  # (P, D + 1) cumulative count of rated days
    last_day: np.ndarray  # (P,) last rated day, -1 when none
    as_of_day: np.ndarray | None  # (P,) programme day of as_of, or None

    @property
    def n_days(self) -> int:
        return self.mean.shape[1]

    def window(self, first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sum of daily means and number of rated days over days [first, last] per patient.

        Empty where ``last < first``; days outside the grid hold no data.
        """
        d = self.n_days
        lo = np.clip(first, 0, d)
        hi = np.clip(last + 1, 0, d)
        hi = np.maximum(hi, lo)
        rows = np.arange(len(lo))
        total = self.cs_sum[rows, hi] - self.cs_sum[rows, lo]
        n = self.cs_n[rows, hi] - self.cs_n[rows, lo]
        return total, n


def _pain_grid(pain: pd.DataFrame, patients: pd.DataFrame, as_of: DateLike | None, settings: Settings) -> _PainGrid:
    """Build the daily grid; ratings before day 0, after ``as_of`` or of unknown patients are dropped."""
    n_pat = len(patients)
    start = patients["programme_start"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    codes = patient_codes(pain["patient_id"], patients)
    # Same clock as analysis.timeline.programme_days (day 0 = programme_start), computed
    # from the codes above so that patient ids are coded once.
    day_of = pain["recorded_at"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    nprs = pd.to_numeric(pain["nprs"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    keep = (codes >= 0) & ~np.isnat(day_of) & ~np.isnan(nprs)
    day = np.full(len(pain), -1, dtype=np.int64)
    day[keep] = (day_of[keep] - start[codes[keep]]).astype(np.int64)
    keep &= day >= 0
    as_of_day = None
    if as_of is not None:
        as_of_d = np.datetime64(pd.Timestamp(as_of).normalize().date(), "D")
        as_of_day = (as_of_d - start).astype(np.int64)
        keep &= day <= np.where(codes >= 0, as_of_day[np.maximum(codes, 0)], -1)
    codes, day, nprs = codes[keep], day[keep], nprs[keep]
    n_days = int(day.max()) + 1 if len(day) else 1
    n_days = max(n_days, settings.baseline_window_days)
    flat = codes * n_days + day
    size = n_pat * n_days
    count = np.bincount(flat, minlength=size).reshape(n_pat, n_days)
    total = np.bincount(flat, weights=nprs, minlength=size).reshape(n_pat, n_days)
    high = np.bincount(flat, weights=(nprs > settings.recovery_max_nprs), minlength=size).reshape(n_pat, n_days)
    rated = count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(rated, total / np.maximum(count, 1), np.nan)
    cs_sum = np.zeros((n_pat, n_days + 1))
    np.cumsum(np.where(rated, mean, 0.0), axis=1, out=cs_sum[:, 1:])
    cs_n = np.zeros((n_pat, n_days + 1), dtype=np.int64)
    np.cumsum(rated, axis=1, out=cs_n[:, 1:])
    any_rated = rated.any(axis=1)
    last_day = np.where(any_rated, n_days - 1 - np.argmax(rated[:, ::-1], axis=1), -1)
    return _PainGrid(
        patient_id=patients["patient_id"].astype("string").reset_index(drop=True),
        start=start,
        mean=mean,
        rated=rated,
        low=rated & (high == 0),
        cs_sum=cs_sum,
        cs_n=cs_n,
        last_day=last_day,
        as_of_day=as_of_day,
    )


def _clean(x: np.ndarray) -> np.ndarray:
    """Round away cumulative-sum noise (1e-13) so a mean of 7s prints as 7."""
    return np.round(x, 10)


def _s(x: Any) -> pd.Series:
    """A Series of strings (numbers formatted with ``{:g}``)."""
    ser = pd.Series(x)
    if pd.api.types.is_numeric_dtype(ser):
        return ser.map("{:g}".format, na_action="ignore").astype("string")
    return ser.astype("string")


def _windows(grid: _PainGrid, settings: Settings) -> dict[str, np.ndarray]:
    """Baseline and current window statistics as arrays (one entry per patient)."""
    wb, wc, m = settings.baseline_window_days, settings.current_window_days, settings.min_window_ratings
    n_pat = len(grid.patient_id)
    b_sum, b_n = grid.window(np.zeros(n_pat, dtype=np.int64), np.full(n_pat, wb - 1))
    end = grid.as_of_day if grid.as_of_day is not None else grid.last_day
    first = np.maximum(end - wc + 1, wb)  # the current window never reuses baseline days
    has_window = end >= wb
    c_sum, c_n = grid.window(first, end)
    c_n = np.where(has_window, c_n, 0)
    b_ok = b_n >= m
    c_ok = has_window & (c_n >= m)
    with np.errstate(invalid="ignore", divide="ignore"):
        baseline = np.where(b_ok, _clean(b_sum / np.maximum(b_n, 1)), np.nan)
        current = np.where(c_ok, _clean(c_sum / np.maximum(c_n, 1)), np.nan)
    return {
        "baseline": baseline,
        "baseline_n": b_n,
        "baseline_ok": b_ok,
        "current": current,
        "current_n": c_n,
        "current_ok": c_ok,
        "has_window": has_window,
        "first": np.where(has_window, first, -1),
        "end": np.where(has_window, end, -1),
        "raw_end": end,
    }


def _window_frame(grid: _PainGrid, w: dict[str, np.ndarray], settings: Settings) -> pd.DataFrame:
    wb, wc, m = settings.baseline_window_days, settings.current_window_days, settings.min_window_ratings
    n_pat = len(grid.patient_id)
    b_status = pd.Series("ok", index=range(n_pat), dtype="string")
    bad = ~w["baseline_ok"]
    b_status[bad] = (
        "not enough data: " + _s(w["baseline_n"]) + f" of the first {wb} days have a pain rating "
        f"(at least {m} needed)"
    )[bad]
    c_status = pd.Series("ok", index=range(n_pat), dtype="string")
    no_window = ~w["has_window"]
    upto = "" if grid.as_of_day is None else " on or before the analysis date"
    c_status[no_window] = f"not enough data: no pain ratings after the first {wb} days{upto}"
    few = w["has_window"] & ~w["current_ok"]
    c_status[few] = (
        "not enough data: " + _s(w["current_n"]) + " of programme days "
        + _s(w["first"]) + "-" + _s(w["end"])
        + f" have a pain rating (at least {m} needed in the last {wc} days)"
    )[few]
    def ints(a: np.ndarray) -> pd.arrays.IntegerArray:
        return pd.array(np.where(a >= 0, a, 0), dtype="Int64")

    first = ints(w["first"])
    first[w["first"] < 0] = pd.NA
    last = ints(w["end"])
    last[w["end"] < 0] = pd.NA
    last_day = ints(grid.last_day)
    last_day[grid.last_day < 0] = pd.NA
    return pd.DataFrame(
        {
            "patient_id": grid.patient_id,
            "baseline": w["baseline"],
            "baseline_n": pd.array(w["baseline_n"], dtype="Int64"),
            "baseline_status": b_status,
            "current": w["current"],
            "current_n": pd.array(w["current_n"], dtype="Int64"),
            "current_first_day": first,
            "current_last_day": last,
            "current_status": c_status,
            "last_day": last_day,
            "n_days_rated": pd.array(grid.cs_n[:, -1], dtype="Int64"),
        }
    )


@checks_tables(pain="pain", patients="patients")
def diary_windows(
    pain: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
) -> pd.DataFrame:
    """Baseline and current pain from diary windows, one row per patient of the registry.

    Parameters
    ----------
    pain
        Canonical ``pain`` table (``patient_id``, ``recorded_at``, ``nprs``).
    patients
        Canonical ``patients`` table; its rows define the output rows and each
        patient's day 0 (``programme_start``).
    as_of
        Analysis date. ``None``: each patient's current window ends on the
        patient's last day with a rating. A date: ratings after it are ignored
        and every patient's current window ends on that date, so a patient who
        stopped logging has no current value "as of" that date.
    settings
        ``baseline_window_days``, ``current_window_days``, ``min_window_ratings``.

    Returns
    -------
    pandas.DataFrame
        One row per patient, in registry order:

        - ``patient_id`` (string)
        - ``baseline`` (float, NPRS points 0-10): mean daily pain of programme
          days 0 to ``baseline_window_days - 1``; ``nan`` when not valid
        - ``baseline_n`` (Int64, days): days with a rating in that window
        - ``baseline_status`` (string): ``"ok"`` or ``"not enough data: ..."``
        - ``current`` (float, NPRS points): mean daily pain of the current window; ``nan`` when not valid
        - ``current_n`` (Int64, days): days with a rating in the current window
        - ``current_first_day``, ``current_last_day`` (Int64, programme days):
          the current window, ``<NA>`` when there is none
        - ``current_status`` (string): ``"ok"`` or ``"not enough data: ..."``
        - ``last_day`` (Int64, programme day): last day with a rating (on or before ``as_of``)
        - ``n_days_rated`` (Int64, days): days with a rating from day 0 on

    See Also
    --------
    pain_change : Change between the two windows, with MCID and RCI.
    time_to_events : First day a trailing window meets the MCID.

    Notes
    -----
    A window is valid with ratings on at least ``min_window_ratings`` of its
    days (default 5 of 7: end-of-day diary reliability > 0.90 needs >= 5
    days). The current window is the ``current_window_days`` days ending on
    the end day but never reaches back into the baseline window, so baseline
    and current never share a rating: a patient whose last rating is on day 9
    has a current window of days 7-9 only, which cannot be valid. Ratings
    before day 0 (before the programme) are not used.

    References
    ----------
    docs/clinical-reference.md section 2 (diary windows); timeline: analysis.timeline.
    """
    grid = _pain_grid(pain, patients, as_of, settings)
    return _window_frame(grid, _windows(grid, settings), settings)


# =========================================================================== reliable change


def _check_rci_inputs(sem: float | None, sd_baseline: float | None, reliability: float | None) -> None:
    if (sd_baseline is None) != (reliability is None):
        raise SettingsError(
            "give both sd_baseline and reliability (test-retest r) for the reliable change index, or neither"
        )
    if sem is not None and not sem > 0:
        raise SettingsError(f"the standard error of measurement must be positive, got {sem!r}")
    if sd_baseline is not None and not sd_baseline > 0:
        raise SettingsError(f"the baseline SD must be positive, got {sd_baseline!r}")
    if reliability is not None and not 0 <= reliability < 1:
        raise SettingsError(f"the test-retest reliability r must be from 0 to just below 1, got {reliability!r}")


def _sem_for(
    inst: Instrument, sem: float | None, sd_baseline: float | None, reliability: float | None
) -> tuple[float, str]:
    """SEM and a sentence saying where it came from (nan + reason when unavailable)."""
    _check_rci_inputs(sem, sd_baseline, reliability)
    if sem is not None:
        return float(sem), f"SEM {sem:g} as given"
    if sd_baseline is not None and reliability is not None:
        value = float(sd_baseline) * np.sqrt(1.0 - float(reliability))
        return value, f"SEM = SD x sqrt(1 - r) = {sd_baseline:g} x sqrt(1 - {reliability:g}) = {value:.4g}"
    if inst.mdc is not None:
        value = inst.mdc / (_MDC_Z * np.sqrt(2.0))
        return value, (
            f"SEM from the {inst.key.upper()} MDC of {inst.mdc:g}: SEM = MDC / (1.96 x sqrt 2) = {value:.4g}"
        )
    return np.nan, (
        f"not available: the clinical reference gives no MDC for {inst.key.upper()}; "
        "give sd_baseline and reliability (or sem) to compute the reliable change index"
    )


def _rci_arrays(
    x1: np.ndarray, x2: np.ndarray, sem: np.ndarray, sign: np.ndarray, z: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RCI, S_diff and category arrays (vectorised over pairs, SEM and direction per pair)."""
    s_diff = np.sqrt(2.0) * sem
    with np.errstate(invalid="ignore", divide="ignore"):
        rci = (x2 - x1) / s_diff
    better = sign * rci  # positive = in the direction of improvement
    category = np.select(
        [np.isnan(rci), better > z, better < -z],
        ["not available", "reliable improvement", "reliable deterioration"],
        default="no reliable change",
    )
    return rci, s_diff, category


def reliable_change(
    x1: ArrayLike,
    x2: ArrayLike,
    *,
    instrument: str | Instrument = "nprs",
    sem: float | None = None,
    sd_baseline: float | None = None,
    reliability: float | None = None,
    z: float = DEFAULT_SETTINGS.rci_z,
) -> pd.DataFrame:
    """Jacobson & Truax reliable change index for pairs of scores.

    Parameters
    ----------
    x1, x2
        Baseline and follow-up scores (scalars, arrays or Series of equal length),
        in the instrument's units.
    instrument
        Registry key or :class:`~analysis.instruments.Instrument`: gives the
        direction of improvement and, when no SEM / SD and r are given, the MDC.
    sem
        Standard error of measurement, when known (wins over the other sources).
    sd_baseline, reliability
        Baseline standard deviation and test-retest reliability r (give both):
        SEM = SD x sqrt(1 - r).
    z
        Critical value; ``|RCI| > z`` is reliable (default ``Settings.rci_z`` = 1.96).

    Returns
    -------
    pandas.DataFrame
        One row per pair (index of ``x1`` when it is a Series):

        - ``x1``, ``x2`` (float, score units)
        - ``change`` (float, score units): x2 - x1
        - ``rci`` (float, z units): (x2 - x1) / S_diff
        - ``sem`` (float, score units), ``s_diff`` (float, score units): sqrt(2) x SEM
        - ``threshold`` (float, score units): z x S_diff, the smallest reliable change
        - ``category`` (string): ``"reliable improvement"``, ``"reliable deterioration"``,
          ``"no reliable change"`` or ``"not available"``
        - ``method`` (string): where the SEM came from, or why the RCI is not available

    Raises
    ------
    SettingsError
        If only one of ``sd_baseline`` and ``reliability`` is given, or a value is out of range.

    See Also
    --------
    pain_change : Diary pain change with the RCI of each patient.
    prom_change : Questionnaire change with the RCI.
    analysis.instruments.Instrument : The MDC the default SEM comes from.

    Notes
    -----
    RCI = (x2 - x1) / S_diff, S_diff = sqrt(2) x SEM, SEM = SD x sqrt(1 - r).
    Where no SEM, SD or r is given and the instrument has an MDC (NPRS 1.8,
    RMDQ 5, PSFS 2), the SEM is recovered from MDC95 = 1.96 x sqrt(2) x SEM, so
    SEM = MDC / (1.96 x sqrt 2) and the threshold in points equals the MDC (with
    z = 1.96). Where neither exists (ODI and VAS in the clinical reference) the
    category is ``"not available"``. The direction of improvement comes from the
    instrument: a negative RCI is an improvement in pain, a positive one in PSFS.

    Worked check (docs/clinical-reference.md section 2): SD 2.0, r 0.85 -> SEM 0.7746, S_diff 1.0954,
    threshold 2.147 points; 7 -> 4 gives RCI -2.74 (reliable improvement),
    6 -> 4 gives -1.83 (no reliable change).

    References
    ----------
    Jacobson N.S. & Truax P. 1991, J Consult Clin Psychol 59(1):12-19.

    Examples
    --------
    >>> r = reliable_change(7, 4, sd_baseline=2.0, reliability=0.85)
    >>> round(float(r["rci"].iloc[0]), 2), r["category"].iloc[0]
    (-2.74, 'reliable improvement')
    """
    inst = get_instrument(instrument)
    sem_value, method = _sem_for(inst, sem, sd_baseline, reliability)
    index = x1.index if isinstance(x1, pd.Series) else None
    a1 = np.atleast_1d(np.asarray(x1, dtype=float))
    a2 = np.atleast_1d(np.asarray(x2, dtype=float))
    a1, a2 = np.broadcast_arrays(a1, a2)
    sem_arr = np.full(a1.shape, sem_value)
    rci, s_diff, category = _rci_arrays(a1, a2, sem_arr, np.full(a1.shape, inst.sign), z)
    out = pd.DataFrame(
        {
            "x1": a1,
            "x2": a2,
            "change": a2 - a1,
            "rci": rci,
            "sem": sem_arr,
            "s_diff": s_diff,
            "threshold": z * s_diff,
            "category": pd.array(category, dtype="string"),
            "method": pd.array(np.full(a1.shape, method, dtype=object), dtype="string"),
        },
        index=index if index is not None and len(index) == len(a1) else None,
    )
    missing = np.isnan(a1) | np.isnan(a2)
    if not np.isnan(sem_value):
        out.loc[missing, "method"] = "not available: a score is missing"
    return out


# =========================================================================== meaningful change


def _mcid_columns(
    baseline: np.ndarray, current: np.ndarray, ok: np.ndarray, inst: Instrument, settings: Settings
) -> dict[str, Any]:
    """Change, improvement, MCID flags and IMMPACT tier (masked to ``ok`` rows)."""
    change = np.where(ok, current - baseline, np.nan)
    impr = inst.sign * change
    with np.errstate(invalid="ignore", divide="ignore"):
        pct_change = np.where(ok & (baseline != 0), change / np.abs(baseline) * 100.0, np.nan)
        pct_impr = inst.sign * pct_change
    abs_thr = np.nan if inst.mcid_abs is None else float(inst.mcid_abs)
    pct_thr = np.nan if inst.mcid_pct is None else settings.mcid_percent * 100.0
    abs_met = impr >= abs_thr - _EPS
    pct_met = pct_impr >= pct_thr - _EPS
    any_thr = not (np.isnan(abs_thr) and np.isnan(pct_thr))
    rule = np.select([abs_met & pct_met, abs_met, pct_met], ["both", "absolute", "%"], default="neither")
    rule = np.where(any_thr, rule, "not available")
    tier = np.select(
        [pct_impr >= settings.immpact_substantial * 100.0 - _EPS, pct_impr >= settings.immpact_moderate * 100.0 - _EPS],
        ["substantial", "moderate"],
        default="none",
    )
    tier = np.where(np.isnan(pct_thr), _NONE, tier)  # tiers only where the instrument has a % rule (not PSFS)

    def masked_bool(values: np.ndarray, available: bool) -> pd.arrays.BooleanArray:
        arr = pd.array(values, dtype="boolean")
        arr[~ok | (not available)] = pd.NA
        return arr

    def masked_str(values: np.ndarray) -> pd.arrays.StringArray:
        arr = pd.array(values.astype(object), dtype="string")
        arr[~ok] = pd.NA
        return arr

    return {
        "change": change,
        "pct_change": pct_change,
        "improvement": impr,
        "pct_improvement": pct_impr,
        "mcid_abs_threshold": np.full(len(change), abs_thr),
        "mcid_pct_threshold": np.full(len(change), pct_thr),
        "mcid_abs_met": masked_bool(abs_met, not np.isnan(abs_thr)),
        "mcid_pct_met": masked_bool(pct_met, not np.isnan(pct_thr)),
        "mcid_met": masked_bool(abs_met | pct_met, any_thr),
        "mcid_rule": masked_str(rule),
        "immpact_tier": masked_str(np.asarray(tier, dtype=object)),
    }


def _number(x: np.ndarray) -> pd.Series:
    """Magnitudes as short text: 3, 2.4 (one decimal)."""
    return pd.Series(np.round(np.abs(x), 1)).map("{:g}".format, na_action="ignore").astype("string")


def _change_labels(
    *,
    ok: np.ndarray,
    not_ok_label: pd.Series,
    change: np.ndarray,
    improvement: np.ndarray,
    pct_improvement: np.ndarray,
    abs_met: np.ndarray,
    mcid_met: np.ndarray,
    mcid_available: bool,
    reliable: np.ndarray,
    what: str,
    since: str,
    when: str,
    unit: str,
) -> pd.Series:
    """Plain-language sentences for a patient (vectorised)."""
    n = len(change)
    mag = np.round(np.abs(np.nan_to_num(change)), 1)
    amount = _number(change)
    unit_word = pd.Series(np.where(mag == 1, unit.rstrip("s") if unit == "points" else unit, unit), dtype="string")
    verb = pd.Series(np.where(change < 0, "fallen", "risen"), dtype="string")
    # the percentage is shown when only the % rule was met, to explain why a small fall matters
    pct_only = mcid_met & ~abs_met & (improvement > 0)
    pct_txt = pd.Series(np.where(pct_only, " (", ""), dtype="string") + pd.Series(
        np.where(pct_only, _number(pct_improvement).fillna("").to_numpy(dtype=object), ""), dtype="string"
    ) + pd.Series(np.where(pct_only, " %)", ""), dtype="string")
    base = f"Your {what} has " + verb + " by " + amount.fillna("") + " " + unit_word + pct_txt + f" since {since}"
    same = f"Your {what} is about the same as {when}."
    matters = base + ": a change that matters."
    small = base + ": an improvement, but smaller than the change that usually matters."
    improved_rel = base + ": an improvement larger than the usual ups and downs of this score."
    improved = base + ": an improvement."
    worse = base + ": a change for the worse."
    better = improvement > 0
    conds = [
        ~ok,
        ok & better & mcid_met,
        ok & (mag == 0),
        ok & better & mcid_available,
        ok & better & reliable,
        ok & better,
    ]
    choices = [not_ok_label, matters, pd.Series([same] * n, dtype="string"), small, improved_rel, improved]
    out = pd.Series(worse.to_numpy(dtype=object), dtype="object")
    for cond, choice in reversed(list(zip(conds, choices, strict=True))):
        values = choice.to_numpy(dtype=object) if isinstance(choice, pd.Series) else np.full(n, choice, dtype=object)
        out = pd.Series(np.where(cond, values, out.to_numpy()), dtype="object")
    return out.astype("string")


def _recovery_runs(grid: _PainGrid, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """First day completing a PACE run, and the run's first day (-1 when none), per patient.

    A run is ``recovery_days`` consecutive calendar days on which every rating is
    <= ``recovery_max_nprs``; a day without a rating ends the run.
    """
    low = grid.low
    c = np.cumsum(low, axis=1)
    reset = np.where(~low, c, 0)
    run = c - np.maximum.accumulate(reset, axis=1)  # length of the low run ending on each day
    done = run >= settings.recovery_days
    has = done.any(axis=1)
    completed = np.where(has, np.argmax(done, axis=1), -1)
    first = np.where(has, completed - settings.recovery_days + 1, -1)
    return completed, first


@checks_tables(pain="pain", patients="patients")
def pain_change(
    pain: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    instrument: str | Instrument = "nprs",
    sd_baseline: float | None = None,
    reliability: float | None = None,
) -> pd.DataFrame:
    """Change in diary pain from the baseline week to the current week, one row per patient.

    Parameters
    ----------
    pain
        Canonical ``pain`` table.
    patients
        Canonical ``patients`` table (defines the rows and each day 0).
    as_of
        Analysis date; see :func:`diary_windows`.
    settings
        Windows, ``mcid_percent``, IMMPACT tiers, ``rci_z`` and the recovery rule.
    instrument
        The pain instrument (default NPRS); pass a modified
        :class:`~analysis.instruments.Instrument` to change the absolute MCID or MDC.
    sd_baseline, reliability
        Optional baseline SD and test-retest r for the RCI (both or neither);
        by default the SEM comes from the instrument's MDC.

    Returns
    -------
    pandas.DataFrame
        One row per patient, in registry order:

        - ``patient_id`` (string)
        - ``baseline``, ``current`` (float, NPRS points): window means (see :func:`diary_windows`)
        - ``baseline_n``, ``current_n`` (Int64, days with a rating)
        - ``change`` (float, points): current - baseline (negative = less pain)
        - ``pct_change`` (float, % of baseline): change / baseline x 100
        - ``improvement`` (float, points): direction-aware, positive = better
        - ``pct_improvement`` (float, % of baseline): improvement / baseline x 100
        - ``mcid_abs_threshold`` (float, points), ``mcid_pct_threshold`` (float, %): values used
        - ``mcid_abs_met``, ``mcid_pct_met``, ``mcid_met`` (boolean): each rule, and either
        - ``mcid_rule`` (string): ``"both"``, ``"absolute"``, ``"%"`` or ``"neither"``
        - ``immpact_tier`` (string): ``"none"`` (< 30 %), ``"moderate"`` (>= 30 %),
          ``"substantial"`` (>= 50 %) improvement
        - ``rci`` (float, z units), ``rci_threshold`` (float, points: smallest reliable change)
        - ``rci_category`` (string): see :func:`reliable_change`
        - ``rci_method`` (string): where the SEM came from
        - ``recovered`` (boolean): PACE rule met on or before the end of the data
        - ``status`` (string): ``"ok"`` or ``"not enough data: ..."``
        - ``label`` (string): one plain-language sentence for the patient

        Change columns are ``nan``/``<NA>`` where ``status`` is not ``"ok"``.

    See Also
    --------
    prom_change : The same rules for questionnaire scores (ODI, RMDQ, PSFS).
    reliable_change : The Reliable Change Index on its own.
    diary_windows : The baseline and current windows.
    time_to_events : When the MCID and recovery were first reached.

    Notes
    -----
    MCID responder (Ostelo et al. 2008): improvement >= absolute MCID (NPRS 2
    points) **or** >= ``mcid_percent`` (30 %) of baseline; thresholds are met
    within a 1e-9 tolerance. IMMPACT tiers use the % improvement. The RCI
    (Jacobson & Truax 1991) uses the NPRS MDC of 1.8 unless an SD and r are
    given; that MDC is for a single rating, so for 7-day means it is
    conservative. Recovery (PACE, Williams et al. 2014): every rating 0-1 on 7
    consecutive days; a day without a rating breaks the run. MCID and RCI are
    reported side by side: all four combinations are meaningful.

    References
    ----------
    Ostelo R.W. et al. 2008, Spine 33(1):90-94; Dworkin R.H. et al. 2008, J Pain
    9(2):105-121; Jacobson & Truax 1991; Williams C.M. et al. 2014, Lancet 384:1586-96.
    """
    inst = get_instrument(instrument)
    grid = _pain_grid(pain, patients, as_of, settings)
    w = _windows(grid, settings)
    ok = w["baseline_ok"] & w["current_ok"]
    cols = _mcid_columns(w["baseline"], w["current"], ok, inst, settings)
    sem, method = _sem_for(inst, None, sd_baseline, reliability)
    rci, s_diff, category = _rci_arrays(
        w["baseline"], w["current"], np.full(len(ok), sem), np.full(len(ok), inst.sign), settings.rci_z
    )
    completed, _ = _recovery_runs(grid, settings)
    wf = _window_frame(grid, w, settings)
    n_pat = len(ok)

    status = pd.Series("ok", index=range(n_pat), dtype="string")
    b_bad = ~w["baseline_ok"]
    c_bad = w["baseline_ok"] & ~w["current_ok"]
    status[b_bad] = wf["baseline_status"][b_bad]
    status[c_bad] = wf["current_status"][c_bad]
    both_bad = b_bad & ~w["current_ok"]
    status[both_bad] = (
        wf["baseline_status"] + "; " + wf["current_status"].str.replace("not enough data: ", "", regex=False)
    )[both_bad]

    m, wb, wc = settings.min_window_ratings, settings.baseline_window_days, settings.current_window_days
    not_ok_label = pd.Series(pd.NA, index=range(n_pat), dtype="string")
    not_ok_label[b_bad] = (
        f"We cannot measure a change in your pain: your first {wb} days have pain ratings on "
        + _s(w["baseline_n"]) + f" days, and at least {m} are needed."
    )[b_bad]
    no_window = w["baseline_ok"] & ~w["has_window"]
    not_ok_label[no_window] = (
        f"We cannot measure a change in your pain yet: there are no ratings after your first {wb} days."
    )
    few = w["baseline_ok"] & w["has_window"] & ~w["current_ok"]
    not_ok_label[few] = (
        f"We cannot measure a change in your pain yet: your latest {wc} days have pain ratings on "
        + _s(w["current_n"]) + f" days, and at least {m} are needed."
    )[few]

    abs_met = cols["mcid_abs_met"].fillna(False).to_numpy(dtype=bool)
    mcid_met = cols["mcid_met"].fillna(False).to_numpy(dtype=bool)
    label = _change_labels(
        ok=ok,
        not_ok_label=not_ok_label,
        change=cols["change"],
        improvement=cols["improvement"],
        pct_improvement=cols["pct_improvement"],
        abs_met=abs_met,
        mcid_met=mcid_met,
        mcid_available=inst.mcid_abs is not None or inst.mcid_pct is not None,
        reliable=category == "reliable improvement",
        what=inst.plain_name or inst.name,
        since="you started",
        when="when you started",
        unit="mm" if inst.unit == "mm" else "points",
    )

    recovered = pd.array(completed >= 0, dtype="boolean")
    recovered[grid.last_day < 0] = pd.NA
    rci_cat = pd.array(category.astype(object), dtype="string")
    rci_cat[~ok] = pd.NA
    out = pd.DataFrame(
        {
            "patient_id": grid.patient_id,
            "baseline": w["baseline"],
            "baseline_n": wf["baseline_n"],
            "current": w["current"],
            "current_n": wf["current_n"],
            **cols,
            "rci": np.where(ok, rci, np.nan),
            "rci_threshold": np.full(n_pat, settings.rci_z * s_diff[0] if n_pat else np.nan),
            "rci_category": rci_cat,
            "rci_method": pd.array([method] * n_pat, dtype="string"),
            "recovered": recovered,
            "status": status,
            "label": label,
        }
    )
    return out


# =========================================================================== PROM change




def prom_change(
    scored_proms: pd.DataFrame,
    *,
    settings: Settings = DEFAULT_SETTINGS,
    instruments: Mapping[str, Instrument] | None = None,
    rci_sd_reliability: Mapping[str, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """Change from the first to the latest scored questionnaire, per patient and instrument.

    Parameters
    ----------
    scored_proms
        Output of :func:`analysis.scoring.score_proms`. Only rows with status
        ``"scored"`` count; STarT Back (a risk tool, not an outcome) is left out.
    settings
        ``mcid_percent``, IMMPACT tiers and ``rci_z``.
    instruments
        Optional replacements of registry entries by key (to change an MCID or MDC).
    rci_sd_reliability
        Optional ``{instrument: (baseline SD, test-retest r)}``, for instruments
        without an MDC in the clinical reference (ODI, VAS) or to replace the MDC.

    Returns
    -------
    pandas.DataFrame
        One row per patient and outcome instrument, sorted by both:

        - ``patient_id`` (string), ``instrument`` (string: registry key)
        - ``n_scored`` (Int64): scored questionnaires
        - ``baseline_at``, ``latest_at`` (datetime64[ns]): first and latest scored
        - ``baseline``, ``latest`` (float, instrument units)
        - ``days_between`` (Int64, days)
        - ``change`` (float, units): latest - baseline; ``pct_change`` (float, % of baseline)
        - ``improvement`` (float, units, positive = better: a fall in ODI/RMDQ/NPRS/VAS,
          a rise in PSFS); ``pct_improvement`` (float, %)
        - ``mcid_abs_threshold`` (float, units), ``mcid_pct_threshold`` (float, %):
          ``nan`` where the instrument has none (PSFS)
        - ``mcid_abs_met``, ``mcid_pct_met``, ``mcid_met`` (boolean; ``<NA>`` where not available)
        - ``mcid_rule`` (string): ``"both"``, ``"absolute"``, ``"%"``, ``"neither"`` or ``"not available"``
        - ``immpact_tier`` (string): IMMPACT tier of the % improvement
        - ``rci`` (float, z units), ``rci_threshold`` (float, units), ``rci_category``,
          ``rci_method`` (string): see :func:`reliable_change`
        - ``recovered`` (boolean): latest score <= the instrument's recovery
          threshold (NPRS 1, RMDQ 2); ``<NA>`` where it has none
        - ``status`` (string): ``"ok"`` or ``"not enough data: ..."``
        - ``label`` (string): one plain-language sentence for the patient

    See Also
    --------
    pain_change : The same rules for the pain diary.
    reliable_change : The Reliable Change Index on its own.
    analysis.scoring.score_proms : The scores compared here.

    Notes
    -----
    The same rules as :func:`pain_change`, with each instrument's thresholds
    from :mod:`analysis.instruments`. PSFS has an MDC (2) but no MCID in the
    clinical reference, so its MCID columns are not available and its label
    rests on the RCI. ODI and VAS have no MDC, so their RCI is not available
    unless ``rci_sd_reliability`` gives an SD and r.

    References
    ----------
    Ostelo et al. 2008; Stratford et al. 1995; Jacobson & Truax 1991.
    """
    registry = dict(INSTRUMENTS)
    if instruments:
        registry.update({get_instrument(k).key: v for k, v in instruments.items()})
    rci_params = {get_instrument(k).key: v for k, v in (rci_sd_reliability or {}).items()}
    df = scored_proms.loc[scored_proms["instrument"].isin([k for k, i in registry.items() if i.is_outcome])]
    df = df.assign(
        patient_id=df["patient_id"].astype("string"),
        instrument=df["instrument"].astype("string"),
        completed_at=pd.to_datetime(df["completed_at"]),
        is_scored=df["status"].eq("scored").fillna(False).astype(bool) & df["score"].notna(),
    )
    keys = ["patient_id", "instrument"]
    pairs = df[keys].drop_duplicates().sort_values(keys).reset_index(drop=True)
    scored = df.loc[df["is_scored"]].sort_values([*keys, "completed_at"], kind="mergesort")
    g = scored.groupby(keys, sort=True)
    agg = pd.DataFrame(
        {
            "n_scored": g.size(),
            "baseline_at": g["completed_at"].first(),
            "baseline": g["score"].first(),
            "latest_at": g["completed_at"].last(),
            "latest": g["score"].last(),
        }
    ).reset_index()
    res = pairs.merge(agg, on=keys, how="left")
    res["n_scored"] = res["n_scored"].fillna(0).astype("Int64")
    ok = (res["n_scored"] >= 2).to_numpy()
    n = len(res)

    rci = np.full(n, np.nan)
    rci_thr = np.full(n, np.nan)
    rci_cat = np.full(n, "not available", dtype=object)
    rci_method = np.full(n, "", dtype=object)
    recovered = pd.array(np.zeros(n, dtype=bool), dtype="boolean")
    label = pd.Series(pd.NA, index=range(n), dtype="string")
    parts: list[pd.DataFrame] = []
    b = res["baseline"].to_numpy(dtype=float)
    x = res["latest"].to_numpy(dtype=float)
    inst_col = res["instrument"].to_numpy(dtype=object)
    for key in pd.unique(inst_col):  # one pass per instrument (at most five), not per patient
        sel = inst_col == key
        inst = registry[str(key)]
        c = _mcid_columns(b[sel], x[sel], ok[sel], inst, settings)
        part = pd.DataFrame(c, index=np.flatnonzero(sel))
        parts.append(part)
        sd_r = rci_params.get(inst.key)
        sem, method = _sem_for(inst, None, *(sd_r if sd_r else (None, None)))
        r, s_diff, cat = _rci_arrays(b[sel], x[sel], np.full(sel.sum(), sem), np.full(sel.sum(), inst.sign),
                                     settings.rci_z)
        rci[sel] = np.where(ok[sel], r, np.nan)
        rci_thr[sel] = settings.rci_z * s_diff
        rci_cat[sel] = cat
        rci_method[sel] = method
        if inst.recovered_max is None:
            recovered[sel] = pd.NA
        else:
            rec = pd.array(x[sel] <= inst.recovered_max + _EPS, dtype="boolean")
            rec[np.isnan(x[sel])] = pd.NA
            recovered[sel] = rec
        lab = _change_labels(
            ok=ok[sel],
            not_ok_label=pd.Series(
                np.where(
                    res["n_scored"].to_numpy()[sel] == 1,
                    f"We cannot measure a change in your {inst.plain_name} yet: it needs two scored "
                    "questionnaires, and there is one.",
                    f"We cannot measure a change in your {inst.plain_name} yet: none of your questionnaires "
                    "could be scored.",
                ),
                dtype="string",
            ),
            change=c["change"],
            improvement=c["improvement"],
            pct_improvement=c["pct_improvement"],
            abs_met=c["mcid_abs_met"].fillna(False).to_numpy(dtype=bool),
            mcid_met=c["mcid_met"].fillna(False).to_numpy(dtype=bool),
            mcid_available=inst.mcid_abs is not None or inst.mcid_pct is not None,
            reliable=cat == "reliable improvement",
            what=inst.plain_name or inst.name,
            since="your first questionnaire",
            when="at your first questionnaire",
            unit="mm" if inst.unit == "mm" else "points",
        )
        label[sel] = lab.to_numpy(dtype=object)
    if parts:
        cols_frame = pd.concat(parts).sort_index()
    else:
        cols_frame = pd.DataFrame(_mcid_columns(np.array([]), np.array([]), np.array([], dtype=bool),
                                                INSTRUMENTS["nprs"], settings))
    rci_cat_arr = pd.array(rci_cat, dtype="string")
    rci_cat_arr[~ok] = pd.NA
    status = pd.Series("ok", index=range(n), dtype="string")
    one = res["n_scored"].to_numpy() == 1
    none = res["n_scored"].to_numpy() == 0
    status[one] = "not enough data: only one scored questionnaire (two needed)"
    status[none] = "not enough data: no scored questionnaire"
    days = (res["latest_at"] - res["baseline_at"]).dt.days
    out = pd.DataFrame(
        {
            "patient_id": res["patient_id"],
            "instrument": res["instrument"],
            "n_scored": res["n_scored"],
            "baseline_at": res["baseline_at"],
            "baseline": np.where(res["n_scored"].to_numpy() >= 1, b, np.nan),
            "latest_at": res["latest_at"].where(ok),
            "latest": np.where(ok, x, np.nan),
            "days_between": pd.array(days.where(ok), dtype="Int64"),
        }
    )
    for name in cols_frame.columns:
        out[name] = cols_frame[name].to_numpy() if len(cols_frame) == n else cols_frame[name]
    out["rci"] = rci
    out["rci_threshold"] = rci_thr
    out["rci_category"] = rci_cat_arr
    out["rci_method"] = pd.array(rci_method, dtype="string")
    recovered[~ok] = pd.NA
    out["recovered"] = recovered
    out["status"] = status
    out["label"] = label
    for name in ("mcid_abs_met", "mcid_pct_met", "mcid_met"):
        out[name] = out[name].astype("boolean")
    for name in ("mcid_rule", "immpact_tier"):
        out[name] = out[name].astype("string")
    return out


# =========================================================================== time to events


@checks_tables(pain="pain", patients="patients")
def time_to_events(
    pain: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    instrument: str | Instrument = "nprs",
) -> pd.DataFrame:
    """Days from programme start to the MCID and to recovery, with censoring, one row per patient.

    Parameters
    ----------
    pain
        Canonical ``pain`` table.
    patients
        Canonical ``patients`` table (defines the rows and each day 0).
    as_of
        Analysis date: ratings after it are ignored (``None``: all ratings).
    settings
        Windows, ``mcid_percent`` and the recovery rule.
    instrument
        The pain instrument (default NPRS; gives the absolute MCID and direction).

    Returns
    -------
    pandas.DataFrame
        One row per patient, in registry order:

        - ``patient_id`` (string)
        - ``baseline`` (float, points), ``baseline_n`` (Int64, days): the baseline window
        - ``last_day`` (Int64, programme day): last day with a rating, the censoring time
        - ``time_to_mcid_days`` (float, days since programme start): event or censoring time;
          ``nan`` when excluded
        - ``mcid_event`` (boolean): True = MCID reached, False = censored, ``<NA>`` = excluded
        - ``mcid_reason`` (string): why the patient is excluded from the MCID curve, ``""`` otherwise
        - ``time_to_recovery_days`` (float, days): first day of the first recovery run,
          or the censoring time; ``nan`` when excluded
        - ``recovery_confirmed_day`` (Int64, programme day): day the run was completed
          (its 7th day); ``<NA>`` when not recovered
        - ``recovery_event`` (boolean): True = recovered, False = censored, ``<NA>`` = excluded
        - ``recovery_reason`` (string): why excluded from the recovery curve, ``""`` otherwise

    See Also
    --------
    kaplan_meier : The product-limit estimate of these times.
    logrank : Two groups compared.
    pain_change : The MCID rule used.

    Notes
    -----
    *Time to MCID*: the first programme day d on which the patient rated pain
    and whose trailing window (days d - 6 to d, never reaching back into the
    baseline window: the same rule as the current window of
    :func:`diary_windows`) has ratings on >= ``min_window_ratings`` days and a
    mean improved from the valid baseline by >= the absolute MCID or >= 30 %.
    Patients without a valid baseline are excluded (reason given). Otherwise,
    if never reached, censored at the last day with a rating.

    *Time to recovery* (PACE rule): the first day of the first run of
    ``recovery_days`` (7) consecutive days on which every rating is <= 1. The
    first day of the run is used because it is the day pain reached the
    sustained level; ``recovery_confirmed_day`` gives the day the run was
    complete, for those who prefer that convention. Recovery is defined on
    absolute pain, so it needs no baseline; patients with no rating are excluded.
    Censored at the last day with a rating.

    References
    ----------
    Williams C.M. et al. 2014, Lancet (PACE); Henschke N. et al. 2008, BMJ
    337:a171 (Kaplan-Meier with censoring at the last logged day).
    """
    inst = get_instrument(instrument)
    grid = _pain_grid(pain, patients, as_of, settings)
    w = _windows(grid, settings)
    n_pat, n_days = grid.mean.shape
    wb, wc, m = settings.baseline_window_days, settings.current_window_days, settings.min_window_ratings

    # trailing windows for every day at once: days [max(d - wc + 1, wb), d]
    d = np.arange(n_days)
    lo = np.maximum(d - wc + 1, wb)
    valid_day = d >= wb
    lo_c = np.minimum(lo, n_days)
    t_sum = grid.cs_sum[:, d + 1] - grid.cs_sum[:, lo_c]
    t_n = grid.cs_n[:, d + 1] - grid.cs_n[:, lo_c]
    with np.errstate(invalid="ignore", divide="ignore"):
        t_mean = _clean(t_sum / np.maximum(t_n, 1))
    baseline = w["baseline"][:, None]
    impr = inst.sign * (t_mean - baseline)
    abs_thr = np.inf if inst.mcid_abs is None else inst.mcid_abs
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(baseline != 0, impr / np.abs(baseline) * 100.0, np.nan)
    pct_thr = np.inf if inst.mcid_pct is None else settings.mcid_percent * 100.0
    met = (
        valid_day[None, :]
        & grid.rated
        & (t_n >= m)
        & ((impr >= abs_thr - _EPS) | (pct >= pct_thr - _EPS))
        & w["baseline_ok"][:, None]
    )
    mcid_event = met.any(axis=1)
    mcid_day = np.argmax(met, axis=1)
    last = grid.last_day.astype(float)
    mcid_time = np.where(mcid_event, mcid_day, last)
    mcid_time = np.where(w["baseline_ok"], mcid_time, np.nan)
    mcid_reason = pd.Series("", index=range(n_pat), dtype="string")
    b_bad = ~w["baseline_ok"]
    mcid_reason[b_bad] = (
        "excluded: no valid baseline (" + _s(w["baseline_n"]) + f" of the first {wb} days have a pain rating, "
        f"at least {m} needed)"
    )[b_bad]
    mcid_ev = pd.array(mcid_event, dtype="boolean")
    mcid_ev[b_bad] = pd.NA

    completed, first = _recovery_runs(grid, settings)
    has_data = grid.last_day >= 0
    rec_event = completed >= 0
    rec_time = np.where(rec_event, first, last)
    rec_time = np.where(has_data, rec_time, np.nan).astype(float)
    rec_ev = pd.array(rec_event, dtype="boolean")
    rec_ev[~has_data] = pd.NA
    rec_reason = pd.Series("", index=range(n_pat), dtype="string")
    rec_reason[~has_data] = "excluded: no pain ratings from the programme start on"
    confirmed = pd.array(np.where(rec_event, completed, 0), dtype="Int64")
    confirmed[~rec_event] = pd.NA
    last_day = pd.array(np.maximum(grid.last_day, 0), dtype="Int64")
    last_day[~has_data] = pd.NA
    return pd.DataFrame(
        {
            "patient_id": grid.patient_id,
            "baseline": w["baseline"],
            "baseline_n": pd.array(w["baseline_n"], dtype="Int64"),
            "last_day": last_day,
            "time_to_mcid_days": mcid_time.astype(float),
            "mcid_event": mcid_ev,
            "mcid_reason": mcid_reason,
            "time_to_recovery_days": rec_time,
            "recovery_confirmed_day": confirmed,
            "recovery_event": rec_ev,
            "recovery_reason": rec_reason,
        }
    )


# =========================================================================== Kaplan-Meier


@dataclass(frozen=True)
class KaplanMeierResult:
    """A Kaplan-Meier curve from lifelines, in tidy form.

    Attributes
    ----------
    label
        Name of the curve.
    table
        One row per distinct time (plus time 0): ``time`` (days), ``survival``
        (probability of no event yet), ``ci_low``/``ci_high`` (pointwise 95 %
        CI, lifelines' exponential Greenwood), ``at_risk``, ``events``, ``censored``.
    median
        Median time to event (days); ``inf`` when the curve never falls to 0.5.
    median_ci_low, median_ci_high
        95 % CI of the median (``inf`` where unbounded).
    n, n_events, n_excluded
        Patients in the curve, events among them, and rows dropped for a missing time.
    """

    label: str
    table: pd.DataFrame
    median: float
    median_ci_low: float
    median_ci_high: float
    n: int
    n_events: int
    n_excluded: int


def _clean_durations(durations: ArrayLike, events: ArrayLike) -> tuple[np.ndarray, np.ndarray, int]:
    t = np.asarray(pd.to_numeric(pd.Series(np.asarray(durations, dtype=object)), errors="coerce"), dtype=float)
    e_raw = pd.Series(np.asarray(events, dtype=object))
    if len(t) != len(e_raw):
        raise ValueError(f"durations and events differ in length ({len(t)} and {len(e_raw)})")
    e_na = e_raw.isna().to_numpy()
    keep = ~np.isnan(t) & ~e_na
    if (t[keep] < 0).any():
        raise ValueError("durations must not be negative (days since programme start)")
    e = e_raw[keep].astype(bool).to_numpy()
    return t[keep], e, int((~keep).sum())


def kaplan_meier(
    durations: ArrayLike, events: ArrayLike, label: str = "KM estimate", *, alpha: float = 0.05
) -> KaplanMeierResult:
    """Kaplan-Meier estimate of time to event (a thin wrapper over lifelines).

    Parameters
    ----------
    durations
        Event or censoring time per patient (days), e.g. ``time_to_mcid_days``.
        Rows with a missing time or event (excluded patients) are dropped and counted.
    events
        True where the event happened, False where censored.
    label
        Name of the curve.
    alpha
        1 - confidence level of the intervals (default 0.05).

    Returns
    -------
    KaplanMeierResult
        Tidy table (``time``, ``survival``, ``ci_low``, ``ci_high``, ``at_risk``,
        ``events``, ``censored``), median and its CI, counts.

    Raises
    ------
    analysis.errors.NotEnoughDataError
        If no patient is left after dropping missing rows.

    See Also
    --------
    time_to_events : Times to the MCID and to recovery.
    logrank : Two curves compared.

    Notes
    -----
    Product-limit estimator S(t) = prod over event times t_i <= t of (1 - d_i / n_i),
    with n_i at risk just before t_i and d_i events at t_i; censored patients
    leave the risk set after their time. Computed by
    ``lifelines.KaplanMeierFitter``; the pointwise CI is lifelines' default
    (exponential Greenwood, log(-log S)).

    References
    ----------
    Kaplan E.L. & Meier P. 1958; Henschke N. et al. 2008, BMJ; lifelines
    (Davidson-Pilon 2019, JOSS).
    """
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    t, e, n_excluded = _clean_durations(durations, events)
    if len(t) == 0:
        raise NotEnoughDataError(
            f"no patient has a time for the curve {label!r}: every row was missing (for example no valid baseline)"
        )
    kmf = KaplanMeierFitter(alpha=alpha).fit(t, event_observed=e, label=label)
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_
    et = kmf.event_table
    table = pd.DataFrame(
        {
            "time": sf.index.to_numpy(dtype=float),
            "survival": sf.to_numpy(),
            "ci_low": ci.iloc[:, 0].to_numpy(),
            "ci_high": ci.iloc[:, 1].to_numpy(),
            "at_risk": et["at_risk"].reindex(sf.index).to_numpy(dtype=np.int64),
            "events": et["observed"].reindex(sf.index).to_numpy(dtype=np.int64),
            "censored": et["censored"].reindex(sf.index).to_numpy(dtype=np.int64),
        }
    )
    med_ci = median_survival_times(kmf.confidence_interval_)
    return KaplanMeierResult(
        label=label,
        table=table,
        median=float(kmf.median_survival_time_),
        median_ci_low=float(med_ci.iloc[0, 0]),
        median_ci_high=float(med_ci.iloc[0, 1]),
        n=len(t),
        n_events=int(e.sum()),
        n_excluded=n_excluded,
    )


@dataclass(frozen=True)
class LogrankResult:
    """A two-group log-rank test.

    Attributes
    ----------
    statistic
        Chi-squared test statistic (1 degree of freedom).
    p_value
        Two-sided p-value.
    n_a, n_b, events_a, events_b
        Patients and events per group (after dropping missing rows).
    """

    statistic: float
    p_value: float
    n_a: int
    n_b: int
    events_a: int
    events_b: int


def logrank(
    durations_a: ArrayLike, events_a: ArrayLike, durations_b: ArrayLike, events_b: ArrayLike
) -> LogrankResult:
    """Log-rank test comparing two Kaplan-Meier curves (lifelines.statistics.logrank_test).

    Parameters
    ----------
    durations_a, events_a
        Times (days) and event flags of group A; rows with a missing value are dropped.
    durations_b, events_b
        The same for group B.

    Returns
    -------
    LogrankResult
        Statistic, p-value and group sizes.

    Raises
    ------
    analysis.errors.NotEnoughDataError
        If a group is empty after dropping missing rows.

    See Also
    --------
    kaplan_meier : The curves compared.
    time_to_events : Times to the MCID and to recovery.

    References
    ----------
    Mantel N. 1966; Peto R. & Peto J. 1972; lifelines.statistics.logrank_test.
    """
    from lifelines.statistics import logrank_test

    ta, ea, _ = _clean_durations(durations_a, events_a)
    tb, eb, _ = _clean_durations(durations_b, events_b)
    if len(ta) == 0 or len(tb) == 0:
        raise NotEnoughDataError("the log-rank test needs at least one patient with a time in each group")
    res = logrank_test(ta, tb, event_observed_A=ea, event_observed_B=eb)
    return LogrankResult(
        statistic=float(res.test_statistic),
        p_value=float(res.p_value),
        n_a=len(ta),
        n_b=len(tb),
        events_a=int(ea.sum()),
        events_b=int(eb.sum()),
    )
