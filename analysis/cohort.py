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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.adherence import adherence_summary, weekly_adherence
from analysis.errors import RehabtrackError
from analysis.flags import FLAG_KINDS, flag_counts, safety_flags_and_flare_ratings
from analysis.outcomes import pain_change, prom_change
from analysis.schema import CohortTables
from analysis.scoring import score_proms
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.timeline import (
    NO_DAY,
    DateLike,
    epoch_day,
    epoch_days,
    last_entry_days,
    patient_codes,
    silence_from,
    stopped_logging,
    week_of_day,
)
from analysis.trends import STATUS_NOT_ENOUGH_DATA, TREND_WORSENING, pain_trends, weekly_pain
from analysis.validation import checks_tables

if TYPE_CHECKING:  # statsmodels is imported only when a model is given
    from analysis.expected import ExpectedCourseModel, NotEnoughData

__all__ = [
    "weekly_progress",
    "AttentionRule",
    "RuleHit",
    "TriageFacts",
    "TriageKey",
    "ATTENTION_RULES",
    "TRIAGE_ORDER",
    "triage_order_text",
    "sort_for_triage",
    "LOGGING_STATUSES",
    "TRAFFIC_LIGHTS",
    "SUMMARY_COLUMNS",
    "SUMMARY_INPUTS",
    "UnknownPhysioError",
    "attention_rules",
    "cohort_summary",
    "caseload",
]

logger = logging.getLogger(__name__)


@checks_tables(cohort="cohort")
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
class RuleHit:
    """What one attention rule found: who it applies to, and the reason text for those rows.

    Attributes
    ----------
    applies
        Boolean per patient (the summary's rows, registry order).
    reason
        Given the positions of some patients the rule applies to, their reason
        texts (one sentence each, with the numbers and the threshold used).
    """

    applies: np.ndarray
    reason: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class TriageFacts:
    """Everything the attention rules read, one value per patient (registry order).

    Attributes
    ----------
    summary
        The summary columns (:data:`SUMMARY_COLUMNS` up to the flags), before the
        attention columns are added.
    settings
        Thresholds in use.
    as_of_epoch
        The analysis day (days since 1970-01-01).
    running
        The programme has started and its last week has not ended before ``as_of``.
    started
        The programme has started (``as_of`` on or after ``programme_start``).
    as_of_day
        Programme day of ``as_of`` per patient.
    silent_in_programme
        No entry for at least ``logging_stopped_days`` days while the programme ran.
    last_entry, has_entry
        Epoch day of the last session or pain entry, and whether there is one.
    last_pain, has_pain
        Epoch day of the last pain rating on or before ``as_of``, and whether there is one.
    pain_change
        :func:`analysis.outcomes.pain_change` aligned to the patients.
    questionnaires
        :func:`analysis.outcomes.prom_change` rows of ``"odi"`` and ``"rmdq"``, aligned.
    extra
        Further per-patient arrays a rule added later may need (e.g. an expected-course
        status), by name; empty by default.
    """

    summary: pd.DataFrame
    settings: Settings
    as_of_epoch: int
    running: np.ndarray
    started: np.ndarray
    as_of_day: np.ndarray
    silent_in_programme: np.ndarray
    last_entry: np.ndarray
    has_entry: np.ndarray
    last_pain: np.ndarray
    has_pain: np.ndarray
    pain_change: pd.DataFrame
    questionnaires: dict[str, pd.DataFrame]
    extra: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def column(self, name: str) -> np.ndarray:
        """A summary column as a numpy array (floats for numbers, NaN where missing)."""
        values = self.summary[name]
        if pd.api.types.is_numeric_dtype(values):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        return values.to_numpy()


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
    evaluate
        ``TriageFacts -> RuleHit``: which patients it applies to, and why. A new
        rule is one more entry of :data:`ATTENTION_RULES` with its evaluator.
    """

    key: str
    points: int
    light: str
    description: str
    evaluate: Callable[[TriageFacts], RuleHit] = dataclasses.field(repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """``key``, ``points``, ``light`` and ``description`` (JSON-friendly)."""
        return {"key": self.key, "points": self.points, "light": self.light, "description": self.description}


# --------------------------------------------------------------------------- the rules' evaluators


def _rule_logging_stopped(f: TriageFacts) -> RuleHit:
    days = int(f.settings.logging_stopped_days)
    since = f.column("days_without_log")

    def why(i: np.ndarray) -> np.ndarray:
        has = f.has_entry[i]
        since_txt = np.where(has, "no entry since " + _date_text(np.where(has, f.last_entry[i], 0)),
                             "no entry since the programme start")
        return "stopped logging: " + since_txt + " (" + _text(since[i], 0) + f" days, flag at >= {days})"

    return RuleHit(f.silent_in_programme, why)


def _rule_pain_rising(f: TriageFacts) -> RuleHit:
    trend = f.summary["trend"].astype("string").fillna("")
    worsening = trend.eq(TREND_WORSENING).to_numpy(dtype=bool)
    text = f.summary["trend_text"].astype("string").fillna("").str.removeprefix(f"{TREND_WORSENING}: ")
    words = text.to_numpy(dtype=object)
    return RuleHit(worsening, lambda i: "pain rising: " + words[i])


def _rule_pain_deteriorated(f: TriageFacts) -> RuleHit:
    c = f.pain_change
    ok = c["status"].astype("string").eq("ok").fillna(False).to_numpy(dtype=bool)
    base, cur, change = (f.column(k) for k in ("pain_baseline", "pain_current", "pain_change"))
    rci_cat = f.summary["rci_category"].fillna("").to_numpy(dtype=object)
    rule = _mcid_rule_text(c, "worse")

    def why(i: np.ndarray) -> np.ndarray:
        return ("pain worse than at the start: " + _text(base[i]) + " -> " + _text(cur[i]) + " points ("
                + _signed(change[i], 1) + ", " + rci_cat[i] + ", " + rule[i] + ")")

    return RuleHit(ok & _worse_by_mcid_or_rci(c), why)


def _open_flag_rule(kind: str, words: str, tail: str) -> Callable[[TriageFacts], RuleHit]:
    def evaluate(f: TriageFacts) -> RuleHit:
        k = f.summary[f"open_{kind}"].to_numpy(dtype=np.int64)
        return RuleHit(k > 0, lambda i: _plural(k[i], words) + tail)

    return evaluate


def _rule_pain_during(f: TriageFacts) -> RuleHit:
    st = f.settings
    tail = f" (pain during > {st.pain_during_max:g}, or >= {st.pain_during_rise:g} points above the pain before)"
    return _open_flag_rule("pain_during_exercise", "open pain-during-exercise flag", tail)(f)


def _rule_pain_flare(f: TriageFacts) -> RuleHit:
    st = f.settings
    tail = (f" (a rating >= {st.flare_rise_points:g} points above the median of the previous "
            f"{st.flare_baseline_days} days)")
    return _open_flag_rule("pain_flare", "open pain flare", tail)(f)


def _rule_self_reported(f: TriageFacts) -> RuleHit:
    return _open_flag_rule("self_reported_flare", "open self-reported flare", "")(f)


def _rule_load(f: TriageFacts) -> RuleHit:
    tail = (f" (weekly dose > {f.settings.acwr_max:g} x the previous {f.settings.acwr_chronic_weeks} weeks and "
            "above the plan, descriptive only)")
    return _open_flag_rule("rapid_load_increase", "open rapid load increase", tail)(f)


def _rule_no_sessions(f: TriageFacts) -> RuleHit:
    no_session_day = f.summary["adherence_status"].eq("not started").fillna(False).to_numpy(dtype=bool)
    prescribed = f.column("sessions_prescribed")
    applies = (f.running & no_session_day & (prescribed > 0)
               & (f.as_of_day + 1 >= f.settings.logging_stopped_days) & ~f.silent_in_programme)
    return RuleHit(applies, lambda i: np.full(len(i), "no exercise session logged since the programme start",
                                              dtype=object))


def _rule_no_pain_ratings(f: TriageFacts) -> RuleHit:
    days = int(f.settings.logging_stopped_days)
    since_session = f.column("days_since_last_session")
    logging_sessions = since_session < days  # NaN (no session) is False
    quiet = ~f.has_pain | (f.as_of_epoch - np.where(f.has_pain, f.last_pain, 0) >= days)
    applies = f.running & logging_sessions & quiet & ~f.silent_in_programme

    def why(i: np.ndarray) -> np.ndarray:
        has = f.has_pain[i]
        since = _text(f.as_of_epoch - np.where(has, f.last_pain[i], f.as_of_epoch), 0)
        return np.where(has, "sessions logged but no pain rating for " + since + f" days (flag at >= {days})",
                        "sessions logged but no pain rating yet")

    return RuleHit(applies, why)


def _rule_low_adherence(f: TriageFacts) -> RuleHit:
    adherence = f.column("adherence")
    with np.errstate(invalid="ignore"):
        low = adherence < f.settings.adherent_threshold
    below = " (adherent from " + _percent([f.settings.adherent_threshold])[0] + ")"
    return RuleHit(low, lambda i: "adherence " + _percent(adherence[i]) + below)


def _rule_questionnaire(f: TriageFacts) -> RuleHit:
    q = f.questionnaires
    worse = {}
    for key in _QUESTIONNAIRES:  # two instruments
        ok = q[key]["status"].astype("string").eq("ok").fillna(False).to_numpy(dtype=bool)
        worse[key] = ok & _worse_by_mcid_or_rci(q[key])
    num = {(key, name): q[key][name].to_numpy(dtype=np.float64) for key in _QUESTIONNAIRES
           for name in ("baseline", "latest", "change")}
    rules = {key: _mcid_rule_text(q[key], "worse") for key in _QUESTIONNAIRES}

    def one(key: str, i: np.ndarray) -> np.ndarray:
        return (key.upper() + " worse: " + _text(num[key, "baseline"][i]) + " -> " + _text(num[key, "latest"][i])
                + " (" + _signed(num[key, "change"][i], 1) + ", " + rules[key][i] + ")")

    def why(i: np.ndarray) -> np.ndarray:
        return np.where(worse["odi"][i] & worse["rmdq"][i], one("odi", i) + ", " + one("rmdq", i),
                        np.where(worse["odi"][i], one("odi", i), one("rmdq", i)))

    return RuleHit(worse["odi"] | worse["rmdq"], why)


def _rule_behind_expected(f: TriageFacts) -> RuleHit:
    """Only with a stored expected-course model (``cohort_summary(expected_model=...)``); programmes in progress."""
    status = f.extra.get("expected_status")
    if status is None:
        return RuleHit(np.zeros(len(f.running), dtype=bool), lambda i: np.full(len(i), "", dtype=object))
    behind = f.running & (status == "behind expected")
    obs, exp, lo, hi = (f.extra[f"expected_{k}"] for k in ("observed", "expected", "lower", "upper"))
    used, week = f.extra["expected_weeks_used"], f.extra["expected_week"]
    level = f.extra["expected_level"]

    def why(i: np.ndarray) -> np.ndarray:
        label = np.where(np.char.find(used[i].astype(str), "-") >= 0, " (mean of weeks ", " (week ")
        return ("pain " + _text(obs[i]) + label + used[i].astype(str) + ") where similar patients of this clinic "
                "are at " + _text(exp[i]) + " (" + level[i] + " range " + _text(lo[i]) + "-" + _text(hi[i])
                + ") in week " + _text(week[i], 0))

    return RuleHit(behind, why)


#: The rules of the attention score, in the order their reasons are listed.
#: The points are a **triage ordering** for the caseload view (which patient to
#: look at first), chosen for this project; they are not clinical thresholds and
#: the literature gives none (docs/clinical-reference.md section 8). Every clinical
#: threshold a rule uses comes from :class:`~analysis.settings.Settings` or from the
#: instrument registry. The table drives the score: a rule added here (with its
#: evaluator) is scored, coloured, explained and listed on the caseload page.
ATTENTION_RULES: tuple[AttentionRule, ...] = (
    AttentionRule(
        "logging_stopped", 3, "red",
        "no session or pain entry for >= logging_stopped_days days while the programme runs (a finished "
        "programme reads 'programme finished' instead)", _rule_logging_stopped,
    ),
    AttentionRule(
        "pain_rising", 3, "red",
        "diary pain rising: trend 'worsening' (Mann-Kendall p < 1 - trend_confidence, rising, with a "
        "rising least-squares slope; flare ratings left out)", _rule_pain_rising,
    ),
    AttentionRule(
        "pain_deteriorated", 2, "red",
        "current diary pain worse than baseline by the MCID (absolute or mcid_percent) or by a reliable "
        "change (RCI beyond rci_z)", _rule_pain_deteriorated,
    ),
    AttentionRule(
        "pain_during_exercise", 2, "red",
        "open pain-during-exercise flag (pain during > pain_during_max, or >= pain_during_rise above the "
        "pre-session pain)", _rule_pain_during,
    ),
    AttentionRule(
        "pain_flare", 2, "amber",
        "open pain-based flare flag (a rating >= flare_rise_points above the trailing median)", _rule_pain_flare,
    ),
    AttentionRule(
        "no_sessions", 2, "amber",
        "sessions prescribed, the programme running for >= logging_stopped_days days, but no exercise "
        "session logged (not counted together with logging_stopped)", _rule_no_sessions,
    ),
    AttentionRule(
        "no_pain_ratings", 2, "amber",
        "sessions logged in the last logging_stopped_days days but no pain rating in them (or none at all), "
        "while the programme runs: progress cannot be judged without the diary", _rule_no_pain_ratings,
    ),
    AttentionRule("self_reported_flare", 1, "amber", "open self-reported flare flag", _rule_self_reported),
    AttentionRule(
        "rapid_load_increase", 1, "amber",
        "open rapid-load-increase flag (weekly dose > acwr_max x the chronic load, floored at the prescribed "
        "load, and above this week's plan; descriptive only)", _rule_load,
    ),
    AttentionRule("low_adherence", 1, "amber", "overall session adherence below adherent_threshold",
                  _rule_low_adherence),
    AttentionRule(
        "questionnaire_deteriorated", 1, "amber",
        "latest ODI or RMDQ worse than the first by the MCID (absolute or mcid_percent) or by a reliable change",
        _rule_questionnaire,
    ),
    AttentionRule(
        "behind_expected", 1, "amber",
        "only with a stored expected-course model: from week 2 of a programme in progress, the mean weekly pain "
        "of the last 2 complete weeks above the 80 % prediction interval of similar patients of this clinic "
        "(analysis.expected, docs/clinical-reference.md section 10)", _rule_behind_expected,
    ),
)


@dataclass(frozen=True)
class TriageKey:
    """One key of the caseload order (see :data:`TRIAGE_ORDER`).

    Attributes
    ----------
    column
        The summary column sorted on.
    descending
        Larger values first.
    words
        The key in a physio's words, for the caseload page.
    """

    column: str
    descending: bool
    words: str


#: The order of the caseload, key by key (the patient ID is never one of them).
#: The first two keys are the traffic light and the attention score; the others
#: break ties by severity (*project choice*, docs/clinical-reference.md sections 5 and 8).
TRIAGE_ORDER: tuple[TriageKey, ...] = (
    TriageKey("traffic_light", False, "red first, then amber, then green"),
    TriageKey("attention_score", True, "the higher attention score first"),
    TriageKey("days_without_log", True, "the longer without any session or pain entry"),
    TriageKey("adherence", False, "the lower adherence"),
    TriageKey("pain_change", True, "the larger rise in pain since the start"),
)


def triage_order_text() -> str:
    """The caseload order in words a physio uses (built from :data:`TRIAGE_ORDER`).

    Returns
    -------
    str

    Examples
    --------
    >>> import textwrap
    >>> print(textwrap.fill(triage_order_text(), 100))
    Red first, then amber, then green; within a colour, the higher attention score first; on equal
    scores, the longer without any session or pain entry, then the lower adherence, then the larger rise
    in pain since the start. Patients equal on all of these keep the order of the patients table.
    """
    first, second, *rest = TRIAGE_ORDER
    ties = ", then ".join(k.words for k in rest)
    return (f"{first.words[0].upper()}{first.words[1:]}; within a colour, {second.words}; on equal scores, {ties}. "
            "Patients equal on all of these keep the order of the patients table.")


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


def _fixed_signed(values: Any, decimals: int = 1) -> np.ndarray:
    """Signed numbers with a fixed number of decimals ('-3.0', '+0.5', '0.0'); 'n/a' for NaN."""
    x = np.round(np.asarray(values, dtype=np.float64), decimals) + 0.0
    text = np.char.mod(f"%+.{decimals}f", np.nan_to_num(x)).astype(object)
    text[x == 0] = f"{0:.{decimals}f}"
    text[np.isnan(x)] = "n/a"
    return text


def _mcid_rule_text(frame: pd.DataFrame, direction: str) -> np.ndarray:
    """'MCID rule: 2 points or 30 % <direction>' per row, from the thresholds a change table used."""
    abs_thr = frame["mcid_abs_threshold"].to_numpy(dtype=np.float64, na_value=np.nan)
    pct_thr = frame["mcid_pct_threshold"].to_numpy(dtype=np.float64, na_value=np.nan)
    text = "rule " + _text(abs_thr, 1) + " points"
    has_pct = ~np.isnan(pct_thr)
    text = np.where(has_pct, text + " or " + _text(pct_thr, 0) + " %", text)
    return (text + f" {direction}").astype(object)


def _mcid_text(change: pd.DataFrame) -> np.ndarray:
    """The MCID verdict with its numbers and rule: 'MCID met: -3.0 points (-43 %); rule 2 points or 30 % better'."""
    ok = change["status"].astype("string").eq("ok").fillna(False).to_numpy(dtype=bool)
    met = pd.array(change["mcid_met"], dtype="boolean").fillna(False).to_numpy(dtype=bool)
    diff = change["change"].to_numpy(dtype=np.float64, na_value=np.nan)
    pct = change["pct_change"].to_numpy(dtype=np.float64, na_value=np.nan)
    rule = _mcid_rule_text(change, "better")
    which = change["mcid_rule"].astype("string").fillna("").to_numpy(dtype=object)
    met_by = np.select([which == "both", which == "absolute", which == "%"],
                       ["; both met", "; met by the points", "; met by the %"], "").astype(object)
    head = np.where(met, "MCID met: ", "MCID not met: ").astype(object)
    text = (head + _fixed_signed(diff, 1) + " points (" + _fixed_signed(pct, 0) + " %); " + rule + met_by)
    status = change["status"].astype("string").fillna("").to_numpy(dtype=object)
    return np.where(ok, text, "MCID not measurable: " + status).astype(object)


def _plural(count: np.ndarray, word: str) -> np.ndarray:
    return _text(count, 0) + np.where(count == 1, f" {word}", f" {word}s").astype(object)


def _date_text(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype(str).astype(object)


# --------------------------------------------------------------------------- helpers


def _upto(frame: pd.DataFrame, column: str, end: pd.Timestamp) -> pd.DataFrame:
    """Rows dated before ``end`` (the midnight after the analysis date); the frame itself if all are."""
    if len(frame) == 0:
        return frame
    keep = _kept(frame, column, end)
    return frame if keep.all() else frame.loc[keep]


def _kept(frame: pd.DataFrame, column: str, end: pd.Timestamp) -> np.ndarray:
    """Which rows are dated before ``end`` (False without a date)."""
    if len(frame) == 0:
        return np.zeros(0, dtype=bool)
    return (frame[column] < end).to_numpy(dtype=bool, na_value=False)


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

#: The input columns :func:`cohort_summary` reads, per canonical table (every column the summary uses; the
#: others - free-text notes, RPE, pain location - do not change it). A store read of a caseload asks for these
#: only (:func:`analysis.access.summary_for`), a fifth fewer values to fetch (issue 19).
SUMMARY_INPUTS: dict[str, tuple[str, ...]] = {
    "patients": ("patient_id", "physio_id", "programme_start", "age_band", "condition_notes"),
    "prescriptions": ("patient_id", "exercise", "side", "sets", "reps", "hold_s", "sessions_per_week",
                      "start_date", "end_date"),
    "sessions": ("patient_id", "performed_at", "exercise", "side", "sets", "reps", "hold_s", "pain_during"),
    "pain": ("patient_id", "recorded_at", "nprs", "flare"),
    "proms": ("patient_id", "completed_at", "instrument", "item", "value"),
}

#: Columns of :func:`cohort_summary`, in order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "patient_id", "physio_id", "programme_start", "programme_week", "programme_weeks",
    # adherence
    "adherence", "adherent", "sessions_completed", "sessions_prescribed", "current_streak_weeks",
    "days_since_last_session", "days_with_data_last_30", "adherence_status",
    # engagement
    "last_entry_date", "days_since_last_entry", "days_without_log", "logging_status",
    # pain
    "n_days_rated", "pain_baseline", "pain_current", "pain_change", "pain_pct_change",
    "trend_days", "trend_slope_per_week", "trend_ci_low", "trend_ci_high", "trend_tau", "trend_p", "trend",
    "trend_text", "mcid_met", "mcid_rule", "mcid_text", "rci", "rci_category", "recovered",
    "pain_status", "pain_label",
    # questionnaires
    "odi_latest", "odi_latest_at", "odi_change", "odi_mcid_met", "odi_rci_category",
    "rmdq_latest", "rmdq_latest_at", "rmdq_change", "rmdq_mcid_met", "rmdq_rci_category",
    # flags
    *(f"open_{k}" for k in FLAG_KINDS), "open_total", "flags_total",
    # attention
    "attention_score", "attention_rules", "attention_reasons", "traffic_light",
)


@checks_tables(cohort="cohort")
def cohort_summary(
    cohort: CohortTables, *, as_of: DateLike | None = None, settings: Settings = DEFAULT_SETTINGS,
    expected_model: ExpectedCourseModel | NotEnoughData | None = None,
) -> pd.DataFrame:
    """One row per patient with the headline of every analysis, sorted by need of attention.

    Parameters
    ----------
    cohort
        The canonical tables (:class:`CohortTables`, e.g. from
        :func:`analysis.sample_data.load_cohort`).
    as_of
        Analysis day: entries up to and including it count, and it is not itself
        an elapsed day (the week in progress is pro-rated over its whole days
        before it). ``None`` = the day after the last session or pain entry in the
        data (:meth:`CohortTables.as_of`). Entries dated after it are ignored by
        every component, so a summary as of a past date shows what was known then.
    settings
        Every clinical threshold used (adherent threshold, logging-stopped days,
        trend confidence and minimum days, diary windows, MCID percentage, RCI z,
        recovery rule, flag thresholds). Attached to the result as
        ``attrs["settings"]``.
    expected_model
        The clinic's stored expected-course model (:func:`analysis.expected.fit_expected_course`,
        kept by the store). With it, the rule ``behind_expected`` compares each programme in
        progress with similar patients of this clinic (:func:`analysis.expected.expected_status`);
        without it (or with :class:`~analysis.expected.NotEnoughData`) that rule never applies
        and every other number is unchanged. ``attrs["expected_model"]`` says which model was used.

    Returns
    -------
    pandas.DataFrame
        One row per patient of ``cohort.patients`` (also patients with no data),
        in triage order (:data:`TRIAGE_ORDER`: traffic light, attention score,
        then days without a log, adherence and pain change; never the ID), with
        the columns of :data:`SUMMARY_COLUMNS`:

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
        - ``days_without_log`` (int64, days): days without any session or pain
          entry, counted up to the earlier of ``as_of`` and the programme's last
          day (a patient with no entry counts from the day before the programme
          start); 0 before the programme starts. A triage tie-break.
        - ``logging_status`` (string, :data:`LOGGING_STATUSES`):
          ``'not started yet'`` (programme starts after ``as_of``),
          ``'programme finished'`` (the last programme week ended before
          ``as_of``: log-based rules close), ``'stopped logging'`` (the programme
          runs and there is no entry for ``>= logging_stopped_days`` days), else
          ``'logging'``

        *Pain diary* (:func:`analysis.trends.pain_trends`, :func:`analysis.outcomes.pain_change`)

        - ``n_days_rated`` (int64, days): programme days with a pain rating
        - ``pain_baseline`` (float64, NPRS points 0-10): mean of the first
          ``baseline_window_days`` days; NaN with fewer than ``min_window_ratings`` rated days
        - ``pain_current`` (float64, NPRS points): mean of the ``current_window_days``
          days ending on the patient's last rating on or before ``as_of`` (so
          ``days_since_last_entry`` tells how recent it is); NaN when not valid
        - ``pain_change`` (float64, points): current - baseline (negative = less pain)
        - ``pain_pct_change`` (float64, % of baseline)
        - ``trend_days`` (int64, days): rated days the trend uses (flare ratings left out)
        - ``trend_slope_per_week``, ``trend_ci_low``, ``trend_ci_high`` (float64,
          points/week): the trend's least-squares slope and its ``trend_confidence`` CI
        - ``trend_tau`` (float64, -1 to 1), ``trend_p`` (float64): Mann-Kendall test
        - ``trend`` (string): ``'improving'``, ``'worsening'``, ``'no clear trend'``
          or ``'not enough data'`` (the rule of :func:`analysis.trends.pain_trends`)
        - ``trend_text`` (string): the label with its slope and p-value
        - ``mcid_met`` (boolean), ``mcid_rule`` (string: ``'both'``, ``'absolute'``,
          ``'%'``, ``'neither'``): MCID responder (2 points or ``mcid_percent``)
        - ``mcid_text`` (string): the verdict with the change and the rule, e.g.
          ``'MCID met: -3.0 points (-43 %); rule 2 points or 30 % better; both met'``
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
        - ``attention_rules`` (string): the keys of the rules that apply, comma-separated
        - ``attention_reasons`` (string): the rules that apply, in the order of
          :data:`ATTENTION_RULES`, each with its numbers, its threshold and
          ``(+points)``, separated by ``'; '`` (which no reason contains); ``''`` when none
        - ``traffic_light`` (string): ``'red'`` when a red rule applies,
          ``'amber'`` when only amber rules apply, ``'green'`` when none

        ``attrs``: ``"settings"`` (``settings.as_dict()``), ``"as_of"``
        (:class:`pandas.Timestamp`), ``"attention_rules"`` (the rules as dicts)
        and ``"triage_order"`` (:func:`triage_order_text`).

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
    ``safety_flags`` + ``flag_counts`` (through
    :func:`analysis.flags.safety_flags_and_flare_ratings`, whose one pass of the flare
    rule also gives ``pain_trends`` the transient flare ratings it leaves out); the last entry per patient is the one
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
    Jacobson & Truax 1991; Williams et al. 2014 (PACE); Mann 1945; Kendall 1975.

    Examples
    --------
    >>> from analysis.sample_data import load_cohort
    >>> summary = cohort_summary(load_cohort(), as_of="2026-11-20")
    >>> summary[["patient_id", "traffic_light", "attention_score", "trend"]].head(3)
      patient_id traffic_light  attention_score      trend
    0       P022           red               11  worsening
    1       P026           red               11  worsening
    2       P008           red                8  worsening
    """
    when = cohort.as_of(as_of)
    after = when + pd.Timedelta(days=1)
    as_of_epoch = epoch_day(when)
    patients = cohort.patients
    pain_kept = _kept(cohort.pain, "recorded_at", after)
    pain_upto = cohort.pain if pain_kept.all() else cohort.pain.loc[pain_kept]
    proms_upto = _upto(cohort.proms, "completed_at", after)

    # first: it rejects a registry with duplicate ids (IngestError)
    adh = adherence_summary(cohort.sessions, cohort.prescriptions, patients, pain=cohort.pain, as_of=when,
                            settings=settings)
    # one pass of the flare rule gives the flags and the transient flare ratings the trend rule leaves out
    flags, transient = safety_flags_and_flare_ratings(cohort.sessions, cohort.pain, patients, as_of=when,
                                                      settings=settings, prescriptions=cohort.prescriptions)
    trend = pain_trends(pain_upto, patients, settings=settings, flare_ratings=transient[pain_kept])
    change = pain_change(pain_upto, patients, settings=settings)
    scored = score_proms(proms_upto, settings=settings)
    proms = prom_change(scored, settings=settings)
    counts = flag_counts(flags, patients)
    p_code = patient_codes(pain_upto["patient_id"], patients) if len(pain_upto) else np.zeros(0, np.int64)
    p_epoch, p_dated = epoch_days(pain_upto["recorded_at"]) if len(pain_upto) else (p_code, p_code > 0)
    keep = (p_code >= 0) & p_dated
    last_pain = last_entry_days(len(patients), [(p_code[keep], p_epoch[keep])])
    extra = _expected_facts(expected_model, cohort, when, settings)
    out = _assemble(patients, when, as_of_epoch, adh, trend, change, proms, counts, last_pain, settings, extra)
    out.attrs["settings"] = settings.as_dict()
    out.attrs["expected_model"] = (
        None if expected_model is None or expected_model.status != "fitted"
        else {"as_of": expected_model.as_of.date().isoformat(),
              "data_version": getattr(expected_model, "data_version", None),
              "n_patients": expected_model.n_patients})
    out.attrs["as_of"] = when
    out.attrs["attention_rules"] = [r.as_dict() for r in ATTENTION_RULES]
    out.attrs["triage_order"] = triage_order_text()
    return out


def _expected_facts(model: ExpectedCourseModel | NotEnoughData | None, cohort: CohortTables, when: pd.Timestamp,
                    settings: Settings) -> dict[str, np.ndarray]:
    """Per patient (registry order) the expected-course comparison the ``behind_expected`` rule reads."""
    if model is None:
        return {}
    from analysis.expected import ExpectedCourseModel, expected_status

    if not isinstance(model, ExpectedCourseModel):
        return {}
    status = expected_status(model, cohort, when, settings=settings)
    level = f"{model.spec.interval * 100:.0f} %"
    return {
        "expected_status": status["status"].astype(str).to_numpy(dtype=object),
        "expected_week": status["week"].to_numpy(dtype=np.float64, na_value=np.nan),
        "expected_weeks_used": status["weeks_used"].astype(str).to_numpy(dtype=object),
        **{f"expected_{k}": status[k].to_numpy(dtype=np.float64) for k in ("observed", "expected", "lower", "upper")},
        "expected_level": np.full(len(status), level, dtype=object),
    }


def _assemble(
    patients: pd.DataFrame,
    when: pd.Timestamp,
    as_of_epoch: int,
    adh: pd.DataFrame,
    trend: pd.DataFrame,
    change: pd.DataFrame,
    proms: pd.DataFrame,
    counts: pd.DataFrame,
    last_pain: np.ndarray,
    settings: Settings,
    extra: dict[str, np.ndarray] | None = None,
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
    finished = started & (programme_weeks > 0) & (programme_last_day < as_of_day)
    running = started & ~finished

    # ---- engagement: the last entry as analysis.adherence found it; silence only while the programme runs
    entry_epoch, has_entry = epoch_days(a["last_entry_date"])
    last_entry = np.where(has_entry, entry_epoch, NO_DAY)
    silent_since = silence_from(last_entry, start)
    silent_in_programme = running & stopped_logging(as_of_day, silent_since, settings.logging_stopped_days)
    # days without any entry, counted up to the earlier of as_of and the programme's last day
    days_without_log = np.where(started, np.maximum(np.minimum(as_of_day, programme_last_day) - silent_since, 0), 0)
    logging_status = np.select(
        [~started, finished, silent_in_programme], ["not started yet", "programme finished", "stopped logging"],
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
            "days_without_log": days_without_log.astype(np.int64),
            "logging_status": pd.array(logging_status, dtype="string"),
            "n_days_rated": t["n_days"].to_numpy(dtype=np.int64),
            "pain_baseline": c["baseline"].to_numpy(dtype=np.float64),
            "pain_current": c["current"].to_numpy(dtype=np.float64),
            "pain_change": c["change"].to_numpy(dtype=np.float64),
            "pain_pct_change": c["pct_change"].to_numpy(dtype=np.float64),
            "trend_days": t["trend_days"].to_numpy(dtype=np.int64),
            "trend_slope_per_week": t["trend_slope_per_week"].to_numpy(dtype=np.float64),
            "trend_ci_low": t["trend_ci_low"].to_numpy(dtype=np.float64),
            "trend_ci_high": t["trend_ci_high"].to_numpy(dtype=np.float64),
            "trend_tau": t["trend_tau"].to_numpy(dtype=np.float64),
            "trend_p": t["trend_p"].to_numpy(dtype=np.float64),
            "trend": pd.array(trend_label, dtype="string"),
            "trend_text": pd.array(t["trend_text"], dtype="string"),
            "mcid_met": pd.array(c["mcid_met"], dtype="boolean"),
            "mcid_rule": pd.array(c["mcid_rule"], dtype="string"),
            "mcid_text": pd.array(_mcid_text(c), dtype="string"),
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

    # ---- attention rules, from the table: which apply, and only for those rows the reason text
    facts = TriageFacts(
        summary=out, settings=settings, as_of_epoch=as_of_epoch, running=running, started=started,
        as_of_day=as_of_day, silent_in_programme=silent_in_programme, last_entry=last_entry,
        has_entry=has_entry, last_pain=last_pain, has_pain=last_pain > NO_DAY, pain_change=c,
        questionnaires=q, extra=extra or {},
    )
    score = np.zeros(n, dtype=np.int64)
    red = np.zeros(n, dtype=bool)
    reasons = np.full(n, "", dtype=object)
    keys = np.full(n, "", dtype=object)
    for rule in ATTENTION_RULES:  # a dozen rules, each vectorised over the patients
        hit = rule.evaluate(facts)
        applies = np.asarray(hit.applies, dtype=bool)
        score += rule.points * applies
        if rule.light == "red":
            red |= applies
        i = np.flatnonzero(applies)
        if len(i):
            text = np.asarray(hit.reason(i), dtype=object) + f" (+{rule.points})"
            reasons[i] = np.where(reasons[i] == "", text, reasons[i] + "; " + text)
            keys[i] = np.where(keys[i] == "", rule.key, keys[i] + "," + rule.key)
    out["attention_score"] = score
    out["attention_rules"] = pd.array(keys, dtype="string")
    out["attention_reasons"] = pd.array(reasons, dtype="string")
    out["traffic_light"] = pd.array(
        np.select([red, score > 0], ["red", "amber"], "green").astype(object), dtype="string"
    )
    return sort_for_triage(out)[list(SUMMARY_COLUMNS)]


def sort_for_triage(summary: pd.DataFrame) -> pd.DataFrame:
    """Rows of a summary in the caseload order of :data:`TRIAGE_ORDER` (e.g. after a Dask run).

    Parameters
    ----------
    summary
        Rows of :func:`cohort_summary` (any order).

    Returns
    -------
    pandas.DataFrame
        The same rows, index reset: red, amber, green; then the higher attention
        score, the more days without a log, the lower adherence, the larger rise
        in pain (missing values last); rows equal on all keys keep their order.
    """
    columns = []
    for key in reversed(TRIAGE_ORDER):  # np.lexsort: the last key is the primary one
        if key.column == "traffic_light":
            values = pd.Index(TRAFFIC_LIGHTS).get_indexer(summary[key.column].astype(object)).astype(np.float64)
        else:
            values = summary[key.column].to_numpy(dtype=np.float64, na_value=np.nan)
        values = -values if key.descending else values
        columns.append(np.nan_to_num(values, nan=np.inf))
    order = np.lexsort(columns) if columns else np.arange(len(summary))
    out = summary.iloc[order].reset_index(drop=True)
    out.attrs = dict(summary.attrs)
    return out


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
