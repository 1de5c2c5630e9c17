"""Cohort-level tables: one call for what the dashboard and the notebooks show.

* the five canonical tables come as :class:`analysis.schema.CohortTables`;
* :func:`weekly_progress` joins each patient's weekly adherence and weekly pain
  on the programme-week clock of :mod:`analysis.timeline`;
* :func:`cohort_summary` gives one row per patient with the headline of every
  analysis (adherence, pain trend, meaningful and reliable change,
  questionnaires, open safety flags) and a transparent attention score, sorted
  by need of attention, for the physio's caseload view and for researchers;
* :func:`caseload` keeps the rows of one physiotherapist;
* :data:`ATTENTION_RULES` / :func:`attention_rules` document the points of the
  attention score.

The summary calls each underlying analysis function once for the whole cohort
and aligns their one-row-per-patient outputs on ``patient_id``; there is no
Python loop over patients (see the Notes of :func:`cohort_summary` for the cost
of each component).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.adherence import adherence_summary, weekly_adherence
from analysis.errors import RehabtrackError
from analysis.flags import FLAG_KINDS, flag_counts, safety_flags
from analysis.outcomes import pain_change, prom_change
from analysis.schema import CohortTables
from analysis.scoring import score_proms
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.timeline import (
    NO_DAY,
    DateLike,
    epoch_day,
    epoch_days,
    silence_from,
    stopped_logging,
    week_of_day,
)
from analysis.trends import STATUS_NOT_ENOUGH_DATA, TREND_WORSENING, pain_trends, weekly_pain

__all__ = [
    "weekly_progress",
    "AttentionRule",
    "ATTENTION_RULES",
    "LOGGING_STATUSES",
    "TRAFFIC_LIGHTS",
    "SUMMARY_COLUMNS",
    "UnknownPhysioError",
    "attention_rules",
    "cohort_summary",
    "caseload",
]

logger = logging.getLogger(__name__)


def weekly_progress(
    cohort: CohortTables, *, as_of: DateLike | None = None, settings: Settings = DEFAULT_SETTINGS
) -> pd.DataFrame:
    """Weekly adherence and weekly pain of every patient, one row per patient-week.

    Parameters
    ----------
    cohort
        The canonical tables.
    as_of
        Analysis date (default: the last session or pain entry in the data).
    settings
        Thresholds in use (adherent threshold, logging-stopped days).

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`analysis.adherence.weekly_adherence` (``patient_id``,
        ``week``, ``week_start``, ``week_end``, ``sessions_prescribed``,
        ``sessions_completed``, ``adherence_rate``, ``volume_rate``,
        ``meets_plan``, ``status``) joined with those of
        :func:`analysis.trends.weekly_pain` (``nprs_mean``, ``nprs_median``,
        ``n_ratings``, ``days_rated``, ``share_days_rated``) on patient and week.
        Weeks with pain ratings but no prescription keep their pain values; weeks
        outside the programme without any rating are left out.

    See Also
    --------
    cohort_summary : One row per patient instead of per week.
    analysis.adherence.weekly_adherence : The adherence columns.
    analysis.trends.weekly_pain : The pain columns.
    """
    when = cohort.as_of(as_of)
    adherence = weekly_adherence(
        cohort.sessions, cohort.prescriptions, cohort.patients, pain=cohort.pain, as_of=when, settings=settings
    )
    pain = weekly_pain(cohort.pain, cohort.patients, as_of=when)
    pain_cols = ["patient_id", "week", "nprs_mean", "nprs_median", "n_ratings", "days_rated", "share_days_rated"]
    merged = adherence.merge(
        pain[[c for c in pain_cols if c in pain.columns]], on=["patient_id", "week"], how="outer", indicator=True
    )
    # Pain weeks outside the programme are kept only when they hold ratings (no empty padding).
    outside_without_ratings = merged["_merge"].eq("right_only") & merged["n_ratings"].fillna(0).eq(0)
    merged = merged.loc[~outside_without_ratings].drop(columns="_merge")
    return merged.sort_values(["patient_id", "week"], kind="stable").reset_index(drop=True)


# =========================================================================== attention score


@dataclass(frozen=True)
class AttentionRule:
    """One rule of the attention score.

    Attributes
    ----------
    key
        Short name of the rule (used in :func:`attention_rules`).
    points
        Points added to ``attention_score`` when the rule applies (once per
        rule, however many flags stand behind it).
    light
        ``"red"`` or ``"amber"``: the traffic light the rule sets at least.
    description
        When the rule applies; thresholds are named by their ``Settings`` field.
    """

    key: str
    points: int
    light: str
    description: str


#: The rules of the attention score, in the order their reasons are listed.
#: The points are a **triage ordering** for the caseload view (which patient to
#: look at first), chosen for this project; they are not clinical thresholds and
#: the literature gives none (docs/clinical-reference.md section 8). Every clinical
#: threshold a rule uses comes from :class:`~analysis.settings.Settings` or from the
#: instrument registry.
ATTENTION_RULES: tuple[AttentionRule, ...] = (
    AttentionRule(
        "logging_stopped", 3, "red",
        "no session or pain entry for >= logging_stopped_days days, the silence having begun while the "
        "programme was running (silence after the programme's end does not count)",
    ),
    AttentionRule(
        "pain_rising", 3, "red",
        "diary pain rising: trend 'worsening' (Theil-Sen CI wholly above 0), or Mann-Kendall tau > 0 "
        "with p < 1 - trend_confidence",
    ),
    AttentionRule(
        "pain_deteriorated", 2, "red",
        "current diary pain worse than baseline by the MCID (absolute or mcid_percent) or by a reliable "
        "change (RCI beyond rci_z)",
    ),
    AttentionRule(
        "pain_during_exercise", 2, "red",
        "open pain-during-exercise flag (pain during > pain_during_max, or >= pain_during_rise above the "
        "pre-session pain)",
    ),
    AttentionRule(
        "pain_flare", 2, "amber",
        "open pain-based flare flag (daily NPRS >= flare_rise_points above the trailing median)",
    ),
    AttentionRule(
        "no_sessions", 2, "amber",
        "sessions prescribed, the programme running for >= logging_stopped_days days, but no exercise "
        "session logged (not counted together with logging_stopped)",
    ),
    AttentionRule("self_reported_flare", 1, "amber", "open self-reported flare flag"),
    AttentionRule(
        "rapid_load_increase", 1, "amber",
        "open rapid-load-increase flag (acute:chronic ratio > acwr_max; descriptive only)",
    ),
    AttentionRule("low_adherence", 1, "amber", "overall session adherence below adherent_threshold"),
    AttentionRule(
        "questionnaire_deteriorated", 1, "amber",
        "latest ODI or RMDQ worse than the first by the MCID (absolute or mcid_percent) or by a reliable change",
    ),
)

#: Values of ``logging_status`` in :func:`cohort_summary`.
LOGGING_STATUSES: tuple[str, ...] = ("logging", "stopped logging", "programme finished", "not started yet")
#: Values of ``traffic_light``, most urgent first.
TRAFFIC_LIGHTS: tuple[str, ...] = ("red", "amber", "green")

_RULES = {r.key: r for r in ATTENTION_RULES}
_EPS = 1e-9  # floating-point tolerance at thresholds (as analysis.outcomes), not a clinical number
_QUESTIONNAIRES = ("odi", "rmdq")


def attention_rules() -> pd.DataFrame:
    """The rules of the attention score as a table (for the dashboard and methods text).

    Returns
    -------
    pandas.DataFrame
        One row per rule of :data:`ATTENTION_RULES`, in order: ``rule`` (string),
        ``points`` (int64), ``light`` (string, ``"red"`` / ``"amber"``),
        ``description`` (string).

    See Also
    --------
    cohort_summary : Where the rules are applied.
    """
    return pd.DataFrame(
        {
            "rule": pd.array([r.key for r in ATTENTION_RULES], dtype="string"),
            "points": np.array([r.points for r in ATTENTION_RULES], dtype=np.int64),
            "light": pd.array([r.light for r in ATTENTION_RULES], dtype="string"),
            "description": pd.array([r.description for r in ATTENTION_RULES], dtype="string"),
        }
    )


class UnknownPhysioError(RehabtrackError, LookupError):
    """A physiotherapist id that has no patient in the summary."""


# --------------------------------------------------------------------------- text helpers (vectorised)


def _text(values: Any, decimals: int = 1) -> np.ndarray:
    """Numbers as short text (6.0 -> '6', 6.66 -> '6.7', -0.0 -> '0', NaN -> 'n/a').

    Each distinct rounded value is formatted once (numpy's float-to-text in C),
    then spread back with its inverse index.
    """
    x = np.round(np.asarray(values, dtype=np.float64).ravel(), decimals) + 0.0
    if x.size == 0:
        return np.zeros(0, dtype=object)
    uniq, inverse = np.unique(x, return_inverse=True)
    labels = uniq.astype(str).astype(object)
    whole = np.isfinite(uniq) & (uniq == np.round(uniq))
    labels[whole] = uniq[whole].astype(np.int64).astype(str)
    labels[np.isnan(uniq)] = "n/a"
    return labels[inverse.ravel()]


def _signed(values: Any, decimals: int = 2) -> np.ndarray:
    x = np.round(np.asarray(values, dtype=np.float64), decimals) + 0.0
    return np.where(x > 0, "+", "").astype(object) + _text(x, decimals)


def _percent(values: Any) -> np.ndarray:
    return _text(np.asarray(values, dtype=np.float64) * 100.0, 0) + " %"


def _p_text(p: Any) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    return np.where(p < 0.001, "p < 0.001", "p = " + _text(p, 3)).astype(object)


def _plural(count: np.ndarray, word: str) -> np.ndarray:
    return _text(count, 0) + np.where(count == 1, f" {word}", f" {word}s").astype(object)


def _date_text(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype(str).astype(object)


# --------------------------------------------------------------------------- helpers


def _upto(frame: pd.DataFrame, column: str, end: pd.Timestamp) -> pd.DataFrame:
    """Rows dated before ``end`` (the midnight after the analysis date); the frame itself if all are."""
    if len(frame) == 0:
        return frame
    keep = (frame[column] < end).to_numpy(dtype=bool, na_value=False)
    return frame if keep.all() else frame.loc[keep]


def _aligned(frame: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """One row per id of ``ids`` (in that order): ``frame`` joined on ``patient_id``."""
    keyed = frame.set_index(frame["patient_id"].astype("string"))
    if not keyed.index.is_unique:  # a programming error in a helper, not a user error
        raise ValueError("expected one row per patient_id")
    return keyed.reindex(ids)


def _bool(values: Any) -> np.ndarray:
    """Nullable booleans as plain bools (``<NA>`` -> False)."""
    return pd.array(values, dtype="boolean").fillna(False).to_numpy(dtype=bool)


def _worse_by_mcid_or_rci(frame: pd.DataFrame) -> np.ndarray:
    """Deterioration in the columns of :func:`pain_change` / :func:`prom_change` (False where unknown)."""
    worse = -frame["improvement"].to_numpy(dtype=np.float64, na_value=np.nan)
    pct_worse = -frame["pct_improvement"].to_numpy(dtype=np.float64, na_value=np.nan)
    abs_thr = frame["mcid_abs_threshold"].to_numpy(dtype=np.float64, na_value=np.nan)
    pct_thr = frame["mcid_pct_threshold"].to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        by_mcid = (worse >= abs_thr - _EPS) | (pct_worse >= pct_thr - _EPS)
    reliable = frame["rci_category"].astype("string").eq("reliable deterioration").fillna(False).to_numpy(dtype=bool)
    return by_mcid | reliable


# --------------------------------------------------------------------------- the summary

#: Columns of :func:`cohort_summary`, in order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "patient_id", "physio_id", "programme_start", "programme_week", "programme_weeks",
    # adherence
    "adherence", "adherent", "sessions_completed", "sessions_prescribed", "current_streak_weeks",
    "days_since_last_session", "days_with_data_last_30", "adherence_status",
    # engagement
    "last_entry_date", "days_since_last_entry", "logging_status",
    # pain
    "n_days_rated", "pain_baseline", "pain_current", "pain_change", "pain_pct_change",
    "ols_slope_per_week", "theil_sen_slope_per_week", "theil_sen_ci_low", "theil_sen_ci_high",
    "kendall_tau", "kendall_p", "trend", "mcid_met", "mcid_rule", "rci", "rci_category", "recovered",
    "pain_status", "pain_label",
    # questionnaires
    "odi_latest", "odi_latest_at", "odi_change", "odi_mcid_met", "odi_rci_category",
    "rmdq_latest", "rmdq_latest_at", "rmdq_change", "rmdq_mcid_met", "rmdq_rci_category",
    # flags
    *(f"open_{k}" for k in FLAG_KINDS), "open_total", "flags_total",
    # attention
    "attention_score", "attention_reasons", "traffic_light",
)


def cohort_summary(
    cohort: CohortTables, *, as_of: DateLike | None = None, settings: Settings = DEFAULT_SETTINGS
) -> pd.DataFrame:
    """One row per patient with the headline of every analysis, sorted by need of attention.

    Parameters
    ----------
    cohort
        The canonical tables (:class:`CohortTables`, e.g. from
        :func:`analysis.sample_data.load_cohort`).
    as_of
        Analysis date; ``None`` = the last session or pain entry in the data
        (:meth:`CohortTables.as_of`). Entries dated after it are ignored by
        every component, so a summary as of a past date shows what was known then.
    settings
        Every clinical threshold used (adherent threshold, logging-stopped days,
        trend confidence and minimum days, diary windows, MCID percentage, RCI z,
        recovery rule, flag thresholds). Attached to the result as
        ``attrs["settings"]``.

    Returns
    -------
    pandas.DataFrame
        One row per patient of ``cohort.patients`` (also patients with no data),
        sorted by ``attention_score`` descending, then ``patient_id``, with the
        columns of :data:`SUMMARY_COLUMNS`:

        *Patient*

        - ``patient_id``, ``physio_id`` (string)
        - ``programme_start`` (datetime64[ns], date)
        - ``programme_week`` (Int64, week): programme week of ``as_of``
          (``(as_of - programme_start) // 7 + 1``); ``<NA>`` when the programme
          starts after ``as_of``
        - ``programme_weeks`` (int64, weeks): weeks of the prescribed programme
          (an open-ended programme runs to the week of ``as_of``; 0 = no prescription)

        *Adherence* (:func:`analysis.adherence.adherence_summary`)

        - ``adherence`` (float64, fraction 0-1): overall ``adherence_rate``,
          capped per week, weighted by the weekly prescription; NaN when nothing
          has been prescribed yet
        - ``adherent`` (boolean): ``adherence >= settings.adherent_threshold``
        - ``sessions_completed`` (int64, session days), ``sessions_prescribed``
          (float64, sessions): over the elapsed programme weeks
        - ``current_streak_weeks`` (int64, weeks): consecutive complete weeks meeting the plan
        - ``days_since_last_session`` (Int64, days): ``as_of`` minus the last session day
        - ``days_with_data_last_30`` (int64, days): days with any entry in the
          ``rpm_window_days`` (30) days ending on ``as_of``
        - ``adherence_status`` (string): ``'on track'``, ``'low adherence'``,
          ``'stopped logging'`` or ``'not started'`` (see ``adherence_summary``;
          ``'stopped logging'`` there includes silence after a finished programme)

        *Engagement*

        - ``last_entry_date`` (datetime64[ns], date): last day with a session row
          or pain entry on or before ``as_of``; NaT if none
        - ``days_since_last_entry`` (Int64, days): ``as_of - last_entry_date``
        - ``logging_status`` (string, :data:`LOGGING_STATUSES`):
          ``'not started yet'`` (programme starts after ``as_of``),
          ``'stopped logging'`` (no entry for ``>= logging_stopped_days`` days
          counted up to the earlier of ``as_of`` and the programme's last day,
          i.e. the silence began while the programme ran; a patient with no entry
          counts from the day before the programme start), ``'programme finished'``
          (the last programme week ended before ``as_of``), else ``'logging'``

        *Pain diary* (:func:`analysis.trends.pain_trends`, :func:`analysis.outcomes.pain_change`)

        - ``n_days_rated`` (int64, days): programme days with a pain rating
        - ``pain_baseline`` (float64, NPRS points 0-10): mean of the first
          ``baseline_window_days`` days; NaN with fewer than ``min_window_ratings`` rated days
        - ``pain_current`` (float64, NPRS points): mean of the ``current_window_days``
          days ending on the patient's last rating on or before ``as_of`` (so
          ``days_since_last_entry`` tells how recent it is); NaN when not valid
        - ``pain_change`` (float64, points): current - baseline (negative = less pain)
        - ``pain_pct_change`` (float64, % of baseline)
        - ``ols_slope_per_week`` (float64, points/week): least-squares slope of daily pain
        - ``theil_sen_slope_per_week``, ``theil_sen_ci_low``, ``theil_sen_ci_high``
          (float64, points/week): robust slope and its ``trend_confidence`` CI
        - ``kendall_tau`` (float64, -1 to 1), ``kendall_p`` (float64): Mann-Kendall test
        - ``trend`` (string): ``'improving'``, ``'worsening'``, ``'no clear trend'``
          or ``'not enough data'`` (fewer than ``min_trend_days`` rated days)
        - ``mcid_met`` (boolean), ``mcid_rule`` (string: ``'both'``, ``'absolute'``,
          ``'%'``, ``'neither'``): MCID responder (2 points or ``mcid_percent``)
        - ``rci`` (float64, z units), ``rci_category`` (string): reliable change index
        - ``recovered`` (boolean): pain 0-1 on ``recovery_days`` consecutive days (PACE)
        - ``pain_status`` (string): ``'ok'`` or why the change is not measurable
        - ``pain_label`` (string): the plain-language sentence for the patient

        Change columns are NaN / ``<NA>`` where ``pain_status`` is not ``'ok'``.

        *Questionnaires* (:func:`analysis.scoring.score_proms`, :func:`analysis.outcomes.prom_change`)

        - ``odi_latest`` (float64, % 0-100), ``rmdq_latest`` (float64, points 0-24):
          latest scored questionnaire (the only one when there is one); NaN when none
        - ``odi_latest_at``, ``rmdq_latest_at`` (datetime64[ns]): when it was completed
        - ``odi_change`` (float64, %-points), ``rmdq_change`` (float64, points):
          latest - first; NaN with fewer than two scored
        - ``odi_mcid_met``, ``rmdq_mcid_met`` (boolean): MCID responder (ODI 10,
          RMDQ 5 points, or ``mcid_percent``); ``<NA>`` with fewer than two scored
        - ``odi_rci_category``, ``rmdq_rci_category`` (string): reliable change
          category (``'not available'`` for ODI: no published MDC is used); ``<NA>`` when none

        *Safety flags* (:func:`analysis.flags.safety_flags`, :func:`analysis.flags.flag_counts`)

        - ``open_pain_flare``, ``open_self_reported_flare``, ``open_pain_during_exercise``,
          ``open_rapid_load_increase``, ``open_logging_stopped``, ``open_total``
          (int64, flags): open flags by kind (within ``analysis.flags.OPEN_DAYS``
          days of ``as_of`` or ongoing)
        - ``flags_total`` (int64, flags): all flags, open or closed

        *Attention*

        - ``attention_score`` (int64, points): sum of the points of the
          :data:`ATTENTION_RULES` that apply (each rule counts once)
        - ``attention_reasons`` (string): the rules that apply, in the order of
          :data:`ATTENTION_RULES`, each with its numbers and ``(+points)``,
          separated by ``'; '``; ``''`` when none
        - ``traffic_light`` (string): ``'red'`` when a red rule applies,
          ``'amber'`` when only amber rules apply, ``'green'`` when none

        ``attrs``: ``"settings"`` (``settings.as_dict()``), ``"as_of"``
        (:class:`pandas.Timestamp`) and ``"attention_rules"`` (the rules as dicts).

    Raises
    ------
    analysis.errors.IngestError
        If a ``patient_id`` appears twice in ``cohort.patients``.

    See Also
    --------
    weekly_progress : The same patients week by week.
    caseload : The rows of one physio.
    analysis.access.summary_for : The summary a user may see.

    Notes
    -----
    Components, each called **once** for the whole cohort and aligned on
    ``patient_id`` (no loop over patients): ``adherence_summary``,
    ``pain_trends``, ``pain_change``, ``score_proms`` + ``prom_change`` and
    ``safety_flags`` + ``flag_counts``; the last entry per patient is the one
    ``adherence_summary`` found (:func:`analysis.timeline.last_entry_days`). Pain ratings and questionnaires dated after
    ``as_of`` are removed before ``pain_trends``, ``pain_change`` and
    ``score_proms`` (which have no ``as_of``); adherence and flags cut at
    ``as_of`` themselves.

    Cost. Theil-Sen is the only per-patient pairwise routine; it runs inside
    :func:`analysis.trends.pain_trends` as a vectorised kernel over groups of
    patients with the same number of rated days, O(sum of n_i (n_i - 1) / 2)
    slopes (29 M slopes for 20,000 patients with 52 rated days on average,
    about 0.5 s). The whole call takes about 0.2 s for the 60-patient sample;
    ``python -m benchmarks.run`` measures it on 2,000 to 100,000 patients
    (``benchmarks/results/results.md``), timing each component from outside
    (``benchmarks.run.component_timer``).

    The attention score is a **triage ordering** (who to look at first), not a
    clinical threshold: its points are named constants of this module
    (:data:`ATTENTION_RULES`), chosen so that loss of contact and worsening pain
    come first; every clinical threshold it uses is a ``settings`` value.
    Deterioration mirrors the MCID rule (Ostelo et al. 2008; worse by the
    absolute MCID or ``mcid_percent`` of baseline) or a reliable change
    (Jacobson & Truax). Flags are descriptive, for the physio; a rapid load
    increase is descriptive only (Impellizzeri et al. 2020).

    References
    ----------
    docs/clinical-reference.md sections 2 (MCID, RCI, diary windows, recovery),
    3 (trends), 4 (adherence) and 5 (safety flags); Ostelo et al. 2008;
    Jacobson & Truax 1991; Williams et al. 2014 (PACE); Sen 1968; Vannest et al. 2012.

    Examples
    --------
    >>> from analysis.sample_data import load_cohort
    >>> summary = cohort_summary(load_cohort(), as_of="2026-11-20")
    >>> summary[["patient_id", "attention_score", "traffic_light"]].head(3)
      patient_id  attention_score traffic_light
    0       P008                9           red
    1       P013                9           red
    2       P022                9           red
    """
    when = cohort.as_of(as_of)
    after = when + pd.Timedelta(days=1)
    as_of_epoch = epoch_day(when)
    patients = cohort.patients
    pain_upto = _upto(cohort.pain, "recorded_at", after)
    proms_upto = _upto(cohort.proms, "completed_at", after)

    # first: it rejects a registry with duplicate ids (IngestError)
    adh = adherence_summary(cohort.sessions, cohort.prescriptions, patients, pain=cohort.pain, as_of=when,
                            settings=settings)
    trend = pain_trends(pain_upto, patients, settings=settings)
    change = pain_change(pain_upto, patients, settings=settings)
    scored = score_proms(proms_upto, settings=settings)
    proms = prom_change(scored, settings=settings)
    flags = safety_flags(cohort.sessions, cohort.pain, patients, as_of=when, settings=settings)
    counts = flag_counts(flags, patients)
    out = _assemble(patients, when, as_of_epoch, adh, trend, change, proms, counts, settings)
    out.attrs["settings"] = settings.as_dict()
    out.attrs["as_of"] = when
    out.attrs["attention_rules"] = [dataclasses.asdict(r) for r in ATTENTION_RULES]
    return out


def _assemble(
    patients: pd.DataFrame,
    when: pd.Timestamp,
    as_of_epoch: int,
    adh: pd.DataFrame,
    trend: pd.DataFrame,
    change: pd.DataFrame,
    proms: pd.DataFrame,
    counts: pd.DataFrame,
    settings: Settings,
) -> pd.DataFrame:
    ids = pd.Index(patients["patient_id"].astype("string"), name="patient_id")
    n = len(ids)
    a = _aligned(adh, ids)
    t = _aligned(trend, ids)
    c = _aligned(change, ids)
    f = _aligned(counts, ids)

    # ---- programme clock
    start, has_start = epoch_days(patients["programme_start"])
    as_of_day = np.where(has_start, as_of_epoch - start, -1)
    started = has_start & (as_of_day >= 0)
    programme_week = pd.array(np.where(started, week_of_day(as_of_day), 0), dtype="Int64")
    programme_week[~started] = pd.NA
    programme_weeks = a["programme_weeks"].to_numpy(dtype=np.int64)
    # last programme day: end of the last programme week (no prescription: no known end)
    programme_last_day = np.where(programme_weeks > 0, 7 * programme_weeks - 1, np.maximum(as_of_day, 0))

    # ---- engagement: the last entry as analysis.adherence found it; silence counted up to the programme's end
    entry_epoch, has_entry = epoch_days(a["last_entry_date"])
    last_entry = np.where(has_entry, entry_epoch, NO_DAY)
    silent_since = silence_from(last_entry, start)
    # the silence counted up to the earlier of as_of and the programme's last day: it began while the programme ran
    silent_in_programme = started & stopped_logging(
        np.minimum(as_of_day, programme_last_day), silent_since, settings.logging_stopped_days)
    finished = started & (programme_weeks > 0) & (programme_last_day < as_of_day)
    logging_status = np.select(
        [~started, silent_in_programme, finished], ["not started yet", "stopped logging", "programme finished"],
        "logging",
    ).astype(object)

    # ---- questionnaires
    q: dict[str, pd.DataFrame] = {
        key: _aligned(proms.loc[proms["instrument"].astype("string").eq(key).fillna(False).to_numpy(bool)], ids)
        for key in _QUESTIONNAIRES  # two instruments, not patients
    }

    def q_cols(key: str) -> dict[str, Any]:
        p = q[key]
        two = (p["n_scored"].fillna(0) >= 2).to_numpy(dtype=bool)
        latest = np.where(two, p["latest"].to_numpy(dtype=np.float64), p["baseline"].to_numpy(dtype=np.float64))
        latest_at = p["latest_at"].where(two, p["baseline_at"])
        latest_at = latest_at.where(~np.isnan(latest))
        return {
            f"{key}_latest": latest,
            f"{key}_latest_at": latest_at.to_numpy(dtype="datetime64[ns]"),
            f"{key}_change": p["change"].to_numpy(dtype=np.float64),
            f"{key}_mcid_met": pd.array(p["mcid_met"], dtype="boolean"),
            f"{key}_rci_category": pd.array(p["rci_category"], dtype="string"),
        }

    trend_label = t["trend"].astype("string").fillna(STATUS_NOT_ENOUGH_DATA)
    out = pd.DataFrame(
        {
            "patient_id": pd.array(ids, dtype="string"),
            "physio_id": pd.array(patients["physio_id"], dtype="string"),
            "programme_start": patients["programme_start"].to_numpy(dtype="datetime64[ns]"),
            "programme_week": programme_week,
            "programme_weeks": programme_weeks,
            "adherence": a["adherence_rate"].to_numpy(dtype=np.float64),
            "adherent": pd.array(a["adherent"], dtype="boolean"),
            "sessions_completed": a["sessions_completed"].to_numpy(dtype=np.int64),
            "sessions_prescribed": a["sessions_prescribed"].to_numpy(dtype=np.float64),
            "current_streak_weeks": a["current_streak_weeks"].to_numpy(dtype=np.int64),
            "days_since_last_session": pd.array(a["days_since_last_session"], dtype="Int64"),
            "days_with_data_last_30": a["days_with_data_last_30"].to_numpy(dtype=np.int64),
            "adherence_status": pd.array(a["status"].astype(object), dtype="string"),
            "last_entry_date": a["last_entry_date"].to_numpy(dtype="datetime64[ns]"),
            "days_since_last_entry": pd.array(a["days_since_last_entry"], dtype="Int64"),
            "logging_status": pd.array(logging_status, dtype="string"),
            "n_days_rated": t["n_days"].to_numpy(dtype=np.int64),
            "pain_baseline": c["baseline"].to_numpy(dtype=np.float64),
            "pain_current": c["current"].to_numpy(dtype=np.float64),
            "pain_change": c["change"].to_numpy(dtype=np.float64),
            "pain_pct_change": c["pct_change"].to_numpy(dtype=np.float64),
            "ols_slope_per_week": t["ols_slope_per_week"].to_numpy(dtype=np.float64),
            "theil_sen_slope_per_week": t["theil_sen_slope_per_week"].to_numpy(dtype=np.float64),
            "theil_sen_ci_low": t["theil_sen_ci_low"].to_numpy(dtype=np.float64),
            "theil_sen_ci_high": t["theil_sen_ci_high"].to_numpy(dtype=np.float64),
            "kendall_tau": t["kendall_tau"].to_numpy(dtype=np.float64),
            "kendall_p": t["kendall_p"].to_numpy(dtype=np.float64),
            "trend": pd.array(trend_label, dtype="string"),
            "mcid_met": pd.array(c["mcid_met"], dtype="boolean"),
            "mcid_rule": pd.array(c["mcid_rule"], dtype="string"),
            "rci": c["rci"].to_numpy(dtype=np.float64),
            "rci_category": pd.array(c["rci_category"], dtype="string"),
            "recovered": pd.array(c["recovered"], dtype="boolean"),
            "pain_status": pd.array(c["status"], dtype="string"),
            "pain_label": pd.array(c["label"], dtype="string"),
            **q_cols("odi"),
            **q_cols("rmdq"),
            **{f"open_{k}": f[f"open_{k}"].to_numpy(dtype=np.int64) for k in FLAG_KINDS},
            "open_total": f["open_total"].to_numpy(dtype=np.int64),
            "flags_total": f["n_total"].to_numpy(dtype=np.int64),
        }
    )

    # ---- attention rules: which apply (boolean per patient) and, only for those rows, the reason text
    fired: dict[str, np.ndarray] = {}
    why: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    col = {name: out[name].to_numpy() for name in (
        "theil_sen_slope_per_week", "theil_sen_ci_low", "theil_sen_ci_high", "kendall_tau", "kendall_p",
        "pain_baseline", "pain_current", "pain_change", "adherence", "sessions_prescribed",
    )}

    silence = np.minimum(as_of_day, programme_last_day) - silent_since
    fired["logging_stopped"] = silent_in_programme
    why["logging_stopped"] = lambda i: np.where(
        has_entry[i],
        "stopped logging: no entry since " + _date_text(np.where(has_entry[i], last_entry[i], 0))
        + " (" + _text(as_of_epoch - np.where(has_entry[i], last_entry[i], as_of_epoch), 0) + " days)",
        "stopped logging: no entry since the programme start (" + _text(silence[i], 0) + " days)",
    )

    worsening = trend_label.eq(TREND_WORSENING).to_numpy(dtype=bool)
    tau, p_mk = col["kendall_tau"], col["kendall_p"]
    alpha = 1.0 - float(settings.trend_confidence)
    with np.errstate(invalid="ignore"):
        mann_kendall_up = (tau > 0) & (p_mk < alpha)
    fired["pain_rising"] = worsening | mann_kendall_up
    conf_txt = _text([settings.trend_confidence * 100], 0)[0]
    why["pain_rising"] = lambda i: np.where(
        worsening[i],
        "pain rising: Theil-Sen " + _signed(col["theil_sen_slope_per_week"][i]) + " points/week (" + conf_txt
        + " % CI " + _text(col["theil_sen_ci_low"][i], 2) + " to " + _text(col["theil_sen_ci_high"][i], 2) + ")",
        "pain rising: Mann-Kendall tau " + _signed(tau[i]) + ", " + _p_text(p_mk[i]),
    )

    c_ok = c["status"].astype("string").eq("ok").fillna(False).to_numpy(dtype=bool)
    fired["pain_deteriorated"] = c_ok & _worse_by_mcid_or_rci(c)
    rci_cat = out["rci_category"].fillna("").to_numpy(dtype=object)
    why["pain_deteriorated"] = lambda i: (
        "pain worse than at the start: " + _text(col["pain_baseline"][i]) + " -> " + _text(col["pain_current"][i])
        + " points (" + _signed(col["pain_change"][i], 1) + ", " + rci_cat[i] + ")"
    )

    def open_flags(kind: str, words: str, tail: str = "") -> None:
        k = out[f"open_{kind}"].to_numpy()
        fired[kind] = k > 0
        why[kind] = lambda i: _plural(k[i], words) + tail

    open_flags("pain_during_exercise", "open pain-during-exercise flag")
    open_flags("pain_flare", "open pain flare")
    open_flags("self_reported_flare", "open self-reported flare")
    open_flags("rapid_load_increase", "open rapid load increase", " (descriptive only)")

    no_session_day = out["adherence_status"].eq("not started").fillna(False).to_numpy(dtype=bool)
    fired["no_sessions"] = (
        started & no_session_day & (col["sessions_prescribed"] > 0)
        & (as_of_day + 1 >= settings.logging_stopped_days) & ~silent_in_programme
    )
    why["no_sessions"] = lambda i: np.full(len(i), "no exercise session logged since the programme start", object)

    with np.errstate(invalid="ignore"):
        fired["low_adherence"] = col["adherence"] < settings.adherent_threshold
    below = " (below " + _percent([settings.adherent_threshold])[0] + ")"
    why["low_adherence"] = lambda i: "adherence " + _percent(col["adherence"][i]) + below

    q_worse = {}
    for key in _QUESTIONNAIRES:  # two instruments
        ok = q[key]["status"].astype("string").eq("ok").fillna(False).to_numpy(dtype=bool)
        q_worse[key] = ok & _worse_by_mcid_or_rci(q[key])
    q_num = {
        (key, name): q[key][name].to_numpy(dtype=np.float64) for key in _QUESTIONNAIRES
        for name in ("baseline", "latest", "change")
    }

    def q_text(key: str, i: np.ndarray) -> np.ndarray:
        return (
            key.upper() + " worse: " + _text(q_num[key, "baseline"][i]) + " -> " + _text(q_num[key, "latest"][i])
            + " (" + _signed(q_num[key, "change"][i], 1) + ")"
        )

    fired["questionnaire_deteriorated"] = q_worse["odi"] | q_worse["rmdq"]
    why["questionnaire_deteriorated"] = lambda i: np.where(
        q_worse["odi"][i] & q_worse["rmdq"][i],
        q_text("odi", i) + ", " + q_text("rmdq", i),
        np.where(q_worse["odi"][i], q_text("odi", i), q_text("rmdq", i)),
    )

    score = np.zeros(n, dtype=np.int64)
    red = np.zeros(n, dtype=bool)
    reasons = np.full(n, "", dtype=object)
    for rule in ATTENTION_RULES:  # ten rules
        hit = np.asarray(fired[rule.key], dtype=bool)
        score += rule.points * hit
        if rule.light == "red":
            red |= hit
        i = np.flatnonzero(hit)
        if len(i):
            text = np.asarray(why[rule.key](i), dtype=object) + f" (+{rule.points})"
            reasons[i] = np.where(reasons[i] == "", text, reasons[i] + "; " + text)
    out["attention_score"] = score
    out["attention_reasons"] = pd.array(reasons, dtype="string")
    out["traffic_light"] = pd.array(
        np.select([red, score > 0], ["red", "amber"], "green").astype(object), dtype="string"
    )
    out = out.sort_values(["attention_score", "patient_id"], ascending=[False, True], kind="stable")
    return out.reset_index(drop=True)[list(SUMMARY_COLUMNS)]


def caseload(summary: pd.DataFrame, physio_id: str) -> pd.DataFrame:
    """The rows of one physiotherapist's patients, in the summary's order.

    Parameters
    ----------
    summary
        Output of :func:`cohort_summary` (or any frame with a ``physio_id`` column).
    physio_id
        The physiotherapist.

    Returns
    -------
    pandas.DataFrame
        The rows of ``summary`` whose ``physio_id`` equals ``physio_id``, same
        columns and order (most attention first), index reset; ``attrs`` kept.

    Raises
    ------
    UnknownPhysioError
        If no row has this ``physio_id`` (the message lists the known ones).

    See Also
    --------
    cohort_summary : The summary filtered here.
    """
    ids = summary["physio_id"].astype("string")
    keep = ids.eq(str(physio_id)).fillna(False).to_numpy(dtype=bool)
    if not keep.any():
        known = sorted(ids.dropna().unique())
        shown = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
        raise UnknownPhysioError(
            f"no patient of physiotherapist {physio_id!r} in this summary; physio_id values present: "
            f"{shown or 'none'}. Check the spelling, or the physio_id column of the patients file."
        )
    out = summary.loc[keep].reset_index(drop=True)
    out.attrs = dict(summary.attrs)
    return out
