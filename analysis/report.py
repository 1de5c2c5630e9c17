"""The research report of a cohort: tables, figures and a methods paragraph to paste into a paper.

Three layers:

* **cohort-level tables** (pure functions of the tidy outputs of the analysis
  modules): who is in the cohort (:func:`cohort_characteristics`), data
  completeness (:func:`data_completeness`), adherence and pain per programme
  week (:func:`weekly_overview`), responders by MCID, RCI and IMMPACT tier
  (:func:`responder_table`, :func:`mcid_rci_table`, :func:`immpact_table`),
  time to MCID and to recovery by adherence group (:func:`km_by_group`), flag
  rates (:func:`flag_rates`), pain during exercise by zone
  (:func:`pain_during_zones`) and load progression against flares
  (:func:`load_vs_flares`);
* :func:`methods_text` - a methods paragraph naming every threshold in use with
  its citation (:meth:`analysis.settings.Settings.as_table`, instrument MCIDs
  from :mod:`analysis.instruments`) and the package versions;
* :func:`write_cohort_report` - writes ``methods.md``, the tables as CSV and the
  figures as PNG into one directory (``rehabtrack report cohort --out DIR``),
  from a pandas cohort or a distributed one (:class:`analysis.distributed.DaskCohort`).

Identifiers in the written tables are research pseudonyms
(:func:`analysis.pseudonyms.pseudonymise_ids`, keyed HMAC) and calendar dates are
left out of the per-patient tables, unless ``pseudonymise=False``.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import analysis
from analysis import plots
from analysis.cohort import cohort_summary, sort_for_triage, weekly_progress
from analysis.errors import NotEnoughDataError
from analysis.export import write_csv
from analysis.flags import FLAG_KINDS, load_progression, safety_flags
from analysis.instruments import INSTRUMENTS
from analysis.models import (
    AdherencePainModel,
    adherence_pain_model,
    describe_adherence_model,
    linear_fit,
    patient_week_table,
    predict_pain,
)
from analysis.outcomes import KaplanMeierResult, LogrankResult, kaplan_meier, logrank, pain_change, time_to_events
from analysis.private_files import make_private_dir, open_private, write_private
from analysis.pseudonyms import pseudonym_key, pseudonymise_ids
from analysis.schema import CohortTables
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.timeline import DateLike, week_of_day
from analysis.validation import checks_tables

if TYPE_CHECKING:  # pragma: no cover - the Dask path is optional (analysis.distributed imports dask lazily)
    from analysis.distributed import DaskCohort

__all__ = [
    "ADHERENCE_GROUPS",
    "SILBERNAGEL_ZONES",
    "REPORT_TABLES",
    "REPORT_FIGURES",
    "cohort_characteristics",
    "data_completeness",
    "weekly_overview",
    "adherence_groups",
    "responder_table",
    "mcid_rci_table",
    "immpact_table",
    "KMComparison",
    "km_by_group",
    "flag_rates",
    "pain_during_zones",
    "load_vs_flares",
    "package_versions",
    "methods_text",
    "ReportData",
    "report_data",
    "write_cohort_report",
]

logger = logging.getLogger(__name__)

#: Labels of the adherence groups (the threshold is filled in from the settings).
ADHERENCE_GROUPS: tuple[str, str] = ("adherent", "not adherent")
#: Pain-monitoring zones of pain during exercise (Silbernagel et al. 2007): 0-3 safe, 4-5 acceptable, > 5 too much.
SILBERNAGEL_ZONES: tuple[str, str, str] = ("safe (0-3)", "acceptable (4-5)", "too much (> 5)")

#: The CSV files :func:`write_cohort_report` writes and what each holds.
REPORT_TABLES: dict[str, str] = {
    "cohort_characteristics.csv": "who is in the cohort",
    "data_completeness.csv": "per patient: weeks with logs and days with a pain rating",
    "weekly_overview.csv": "per programme week: adherence and pain across patients",
    "patient_summary.csv": "per patient: adherence, pain change, trend, responder status, time to events",
    "responders.csv": "MCID responders by rule (absolute, %, either, both), by adherence group",
    "mcid_rci.csv": "MCID responder x reliable change (four combinations)",
    "immpact.csv": "IMMPACT tiers of % pain improvement",
    "mixed_model_fixed.csv": "adherence-pain mixed model: fixed effects with CIs",
    "mixed_model_random.csv": "adherence-pain mixed model: variance components",
    "km_time_to_mcid.csv": "Kaplan-Meier curves of time to MCID by adherence group",
    "km_time_to_recovery.csv": "Kaplan-Meier curves of time to recovery by adherence group",
    "logrank.csv": "log-rank tests of the curves",
    "flag_rates.csv": "safety flags: patients flagged and rate per 100 patient-weeks",
    "pain_during_zones.csv": "pain during exercise by pain-monitoring zone",
    "load_vs_flares.csv": "pain-flare rate in weeks with and without a rapid load increase",
    "settings.csv": "every threshold used, with unit and citation",
}
#: The PNG files :func:`write_cohort_report` writes.
REPORT_FIGURES: tuple[str, ...] = (
    "weekly_overview.png",
    "adherence_vs_change.png",
    "pain_slopes.png",
    "model_predictions.png",
    "km_time_to_mcid.png",
    "km_time_to_recovery.png",
    "load_vs_flares.png",
)


def _pct(part: float, whole: float) -> float:
    return float(part) / float(whole) * 100.0 if whole else float("nan")


# =========================================================================== who and how complete


def cohort_characteristics(summary: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Who is in the cohort: counts and percentages, for a "Table 1".

    Parameters
    ----------
    summary
        Output of :func:`analysis.cohort.cohort_summary`.
    patients
        Canonical ``patients`` table (``age_band``).

    Returns
    -------
    pandas.DataFrame
        One row per characteristic and level: ``characteristic`` (string),
        ``level`` (string), ``n`` (int64, patients), ``percent`` (float64, % of
        all patients). Characteristics: ``patients``, ``physiotherapist``,
        ``age band``, ``programme status`` (logging status), ``adherence status``,
        ``pain trend``, ``questionnaires`` (ODI, RMDQ completed at least once).
    """
    n = len(summary)
    rows: list[tuple[str, str, int]] = [("patients", "all", n)]

    def counts(characteristic: str, values: pd.Series) -> None:
        vc = values.astype("string").fillna("not recorded").value_counts(sort=False).sort_index()
        rows.extend((characteristic, str(level), int(k)) for level, k in vc.items())

    counts("physiotherapist", summary["physio_id"])
    ages = patients.set_index(patients["patient_id"].astype("string"))["age_band"] if "age_band" in patients else None
    if ages is not None:
        counts("age band", summary["patient_id"].astype("string").map(ages))
    counts("programme status", summary["logging_status"])
    counts("adherence status", summary["adherence_status"])
    counts("pain trend", summary["trend"].astype("string").fillna("not enough data"))
    rows.append(("questionnaires", "ODI completed", int(summary["odi_latest"].notna().sum())))
    rows.append(("questionnaires", "RMDQ completed", int(summary["rmdq_latest"].notna().sum())))
    out = pd.DataFrame(rows, columns=["characteristic", "level", "n"])
    out["characteristic"] = out["characteristic"].astype("string")
    out["level"] = out["level"].astype("string")
    out["n"] = out["n"].astype(np.int64)
    out["percent"] = out["n"] / n * 100.0 if n else np.nan
    return out


def _elapsed_weeks(weekly: pd.DataFrame) -> pd.DataFrame:
    """Programme weeks that have started (status known and not ``'not yet'``)."""
    status = weekly["status"].astype("string")
    return weekly.loc[status.notna() & (status != "not yet")]


def data_completeness(weekly: pd.DataFrame) -> pd.DataFrame:
    """Per patient: how many programme weeks have logs, and how many days a pain rating.

    Parameters
    ----------
    weekly
        Output of :func:`analysis.cohort.weekly_progress`.

    Returns
    -------
    pandas.DataFrame
        One row per patient with at least one started programme week, sorted by patient:

        - ``patient_id`` (string)
        - ``weeks_elapsed`` (int64, weeks): programme weeks started by ``as_of``
        - ``weeks_with_sessions`` (int64, weeks): of those, weeks with a session day
        - ``weeks_with_pain`` (int64, weeks): weeks with a pain rating
        - ``weeks_with_logs`` (int64, weeks): weeks with a session or a rating
        - ``share_weeks_logged`` (float64, fraction 0-1): ``weeks_with_logs / weeks_elapsed``
        - ``days_elapsed`` (int64, days): programme days up to ``as_of``
        - ``days_rated`` (int64, days): of those, days with a pain rating
        - ``share_days_rated`` (float64, fraction 0-1): ``days_rated / days_elapsed``

    Notes
    -----
    Only programme weeks count (the weeks of the prescription, up to
    ``as_of``): ratings after a finished programme do not raise the share.
    docs/clinical-reference.md section 3 (weekly share of days with a rating).
    """
    w = _elapsed_weeks(weekly)
    completed = w["sessions_completed"].fillna(0).to_numpy(dtype=float)
    rated = w["days_rated"].fillna(0).to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "patient_id": w["patient_id"].astype("string").to_numpy(),
            "weeks_elapsed": 1,
            "weeks_with_sessions": (completed > 0).astype(np.int64),
            "weeks_with_pain": (rated > 0).astype(np.int64),
            "weeks_with_logs": ((completed > 0) | (rated > 0)).astype(np.int64),
            "days_elapsed": w["days_elapsed"].fillna(0).to_numpy(dtype=np.int64),
            "days_rated": rated.astype(np.int64),
        }
    )
    out = frame.groupby("patient_id", sort=True).sum().reset_index()
    out["patient_id"] = out["patient_id"].astype("string")
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share_weeks_logged"] = out["weeks_with_logs"] / out["weeks_elapsed"]
        out["share_days_rated"] = np.where(out["days_elapsed"] > 0, out["days_rated"] / out["days_elapsed"], np.nan)
    cols = ["patient_id", "weeks_elapsed", "weeks_with_sessions", "weeks_with_pain", "weeks_with_logs",
            "share_weeks_logged", "days_elapsed", "days_rated", "share_days_rated"]
    return out[cols]


def weekly_overview(weekly: pd.DataFrame) -> pd.DataFrame:
    """Adherence and pain across patients, per programme week.

    Parameters
    ----------
    weekly
        Output of :func:`analysis.cohort.weekly_progress`.

    Returns
    -------
    pandas.DataFrame
        One row per programme week that has started for at least one patient:

        - ``week`` (int64): programme week, 1 = days 0-6
        - ``n_patients`` (int64): patients with a prescription in the (elapsed part of the) week
        - ``adherence_mean``, ``adherence_median``, ``adherence_q1``, ``adherence_q3``
          (float64, fraction 0-1): of the weekly capped session adherence
        - ``share_meeting_plan`` (float64, fraction): patients whose week met the
          adherent threshold (``meets_plan``)
        - ``n_with_pain`` (int64): patients with a pain rating in the week
        - ``nprs_mean``, ``nprs_median`` (float64, points 0-10): of the patients'
          weekly mean pain
        - ``share_days_rated_mean`` (float64, fraction): mean share of the week's
          elapsed days with a rating, over patients in the programme that week

    Notes
    -----
    Weeks in progress count with their elapsed days (adherence pro-rated, see
    :func:`analysis.adherence.weekly_adherence`); late weeks rest on fewer
    patients (the ``n`` columns say how many), because programmes started on
    different dates.
    """
    w = _elapsed_weeks(weekly)
    rate = w["adherence_rate"].astype(float)
    meets = w["meets_plan"].astype("boolean")
    g_adh = rate.groupby(w["week"])
    nprs = w["nprs_mean"].astype(float)
    out = pd.DataFrame(
        {
            "n_patients": g_adh.count(),
            "adherence_mean": g_adh.mean(),
            "adherence_median": g_adh.median(),
            "adherence_q1": g_adh.quantile(0.25),
            "adherence_q3": g_adh.quantile(0.75),
            "share_meeting_plan": meets.astype("Float64").groupby(w["week"]).mean().astype(float),
            "n_with_pain": nprs.groupby(w["week"]).count(),
            "nprs_mean": nprs.groupby(w["week"]).mean(),
            "nprs_median": nprs.groupby(w["week"]).median(),
            "share_days_rated_mean": w["share_days_rated"].astype(float).groupby(w["week"]).mean(),
        }
    )
    out.index.name = "week"
    out = out.reset_index()
    out["week"] = out["week"].astype(np.int64)
    out["n_patients"] = out["n_patients"].astype(np.int64)
    out["n_with_pain"] = out["n_with_pain"].astype(np.int64)
    return out


def adherence_groups(summary: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> pd.Series:
    """Each patient's adherence group by the adherent threshold, as labels.

    Parameters
    ----------
    summary
        Output of :func:`analysis.cohort.cohort_summary` (``patient_id``, ``adherence``).
    settings
        ``adherent_threshold`` (default 0.70, MiSpEx).

    Returns
    -------
    pandas.Series of string
        Indexed by ``patient_id``: ``"adherent (>= 70 %)"``, ``"not adherent (< 70 %)"``,
        or ``<NA>`` when nothing was prescribed yet.
    """
    thr = settings.adherent_threshold
    adh = summary["adherence"].astype(float).to_numpy()
    yes = f"{ADHERENCE_GROUPS[0]} (>= {thr:.0%})".replace("%", " %")
    no = f"{ADHERENCE_GROUPS[1]} (< {thr:.0%})".replace("%", " %")
    labels = np.where(adh >= thr - 1e-9, yes, no).astype(object)
    labels[np.isnan(adh)] = None
    return pd.Series(pd.array(labels, dtype="string"), index=pd.Index(summary["patient_id"].astype("string")),
                     name="adherence_group")


# =========================================================================== responders


def _evaluable(change: pd.DataFrame) -> pd.DataFrame:
    return change.loc[change["status"].astype("string") == "ok"]


def responder_table(
    change: pd.DataFrame, groups: pd.Series | None = None, settings: Settings = DEFAULT_SETTINGS
) -> pd.DataFrame:
    """MCID responders by rule, overall and by group.

    Parameters
    ----------
    change
        Output of :func:`analysis.outcomes.pain_change` (or :func:`analysis.outcomes.prom_change`
        for one instrument).
    groups
        Optional labels indexed by ``patient_id`` (e.g. :func:`adherence_groups`).
    settings
        ``mcid_percent`` (for the rule label).

    Returns
    -------
    pandas.DataFrame
        One row per group (``"all"`` first) and rule:

        - ``group`` (string)
        - ``rule`` (string): ``"absolute (>= X points)"``, ``"percent (>= 30 % of baseline)"``,
          ``"either (MCID responder)"``, ``"both"``
        - ``n_responders`` (int64, patients), ``n_evaluable`` (int64, patients with a
          valid baseline and current window), ``percent`` (float64, % of evaluable)
        - ``n_not_evaluable`` (int64, patients): without a valid baseline or current window

    Notes
    -----
    Ostelo et al. 2008: an MCID responder improves by at least the absolute
    MCID or by at least 30 % of baseline; both rules are reported
    (docs/clinical-reference.md section 2). The absolute threshold is read from the table
    (``mcid_abs_threshold``).
    """
    frame = change.copy()
    frame["group"] = "all"
    parts = [frame]
    if groups is not None:
        g = change["patient_id"].astype("string").map(groups)
        parts.append(change.assign(group=g).loc[g.notna()])
    data = pd.concat(parts, ignore_index=True)
    abs_thr = change["mcid_abs_threshold"].dropna()
    abs_txt = f"{float(abs_thr.iloc[0]):g} points" if len(abs_thr) else "the absolute MCID"
    rules = {
        f"absolute (>= {abs_txt})": "mcid_abs_met",
        f"percent (>= {settings.mcid_percent * 100:g} % of baseline)": "mcid_pct_met",
        "either (MCID responder)": "mcid_met",
    }
    rows = []
    for group, part in data.groupby("group", sort=False):
        ok = _evaluable(part)
        n_ok = len(ok)
        for rule, col in rules.items():
            k = int(ok[col].fillna(False).astype(bool).sum())
            rows.append((group, rule, k, n_ok, _pct(k, n_ok), len(part) - n_ok))
        abs_met = ok["mcid_abs_met"].fillna(False).astype(bool)
        both = int((abs_met & ok["mcid_pct_met"].fillna(False).astype(bool)).sum())
        rows.append((group, "both", both, n_ok, _pct(both, n_ok), len(part) - n_ok))
    out = pd.DataFrame(rows, columns=["group", "rule", "n_responders", "n_evaluable", "percent", "n_not_evaluable"])
    return out.astype({"group": "string", "rule": "string", "n_responders": np.int64, "n_evaluable": np.int64,
                       "n_not_evaluable": np.int64})


def mcid_rci_table(change: pd.DataFrame) -> pd.DataFrame:
    """MCID responder x reliable change: the four combinations (Ostelo et al. 2008; Jacobson & Truax 1991).

    Parameters
    ----------
    change
        Output of :func:`analysis.outcomes.pain_change`.

    Returns
    -------
    pandas.DataFrame
        Four rows: ``mcid_met`` (bool), ``reliable_improvement`` (bool: RCI category
        ``"reliable improvement"``), ``n`` (int64, evaluable patients), ``percent``
        (float64, % of evaluable), ``reading`` (string: what the combination means).
    """
    ok = _evaluable(change)
    mcid = ok["mcid_met"].fillna(False).astype(bool).to_numpy()
    reliable = (ok["rci_category"].astype("string") == "reliable improvement").fillna(False).to_numpy(dtype=bool)
    readings = {
        (True, True): "important and beyond measurement error",
        (True, False): "important change, but within measurement error",
        (False, True): "beyond measurement error, but smaller than the MCID",
        (False, False): "neither",
    }
    rows = []
    for (m, r), reading in readings.items():
        k = int(((mcid == m) & (reliable == r)).sum())
        rows.append((m, r, k, _pct(k, len(ok)), reading))
    out = pd.DataFrame(rows, columns=["mcid_met", "reliable_improvement", "n", "percent", "reading"])
    return out.astype({"n": np.int64, "reading": "string"})


def immpact_table(change: pd.DataFrame, groups: pd.Series | None = None) -> pd.DataFrame:
    """Patients per IMMPACT tier of % pain improvement, overall and by group.

    Parameters
    ----------
    change
        Output of :func:`analysis.outcomes.pain_change` (``immpact_tier``).
    groups
        Optional labels indexed by ``patient_id``.

    Returns
    -------
    pandas.DataFrame
        ``group`` (string), ``tier`` (string: ``"substantial"`` >= 50 %,
        ``"moderate"`` >= 30 %, ``"none"`` < 30 %), ``n`` (int64, patients),
        ``percent`` (float64, % of the group's evaluable patients).

    References
    ----------
    Dworkin R.H. et al. 2008, J Pain 9(2):105-121 (IMMPACT).
    """
    ok = _evaluable(change)
    parts = [ok.assign(group="all")]
    if groups is not None:
        g = ok["patient_id"].astype("string").map(groups)
        parts.append(ok.assign(group=g).loc[g.notna()])
    data = pd.concat(parts, ignore_index=True)
    rows = []
    for group, part in data.groupby("group", sort=False):
        tiers = part["immpact_tier"].astype("string")
        for tier in ("substantial", "moderate", "none"):
            k = int((tiers == tier).sum())
            rows.append((group, tier, k, _pct(k, len(part))))
    out = pd.DataFrame(rows, columns=["group", "tier", "n", "percent"])
    return out.astype({"group": "string", "tier": "string", "n": np.int64})


# =========================================================================== time to event


@dataclass(frozen=True)
class KMComparison:
    """Kaplan-Meier curves of one event by group, with a log-rank test.

    Attributes
    ----------
    event
        ``"mcid"`` or ``"recovery"``.
    curves
        One :class:`~analysis.outcomes.KaplanMeierResult` per group, ``"all"`` first.
    logrank
        The log-rank test of the first two groups (after ``"all"``), or ``None``
        when a group is empty.
    table
        The curves stacked: ``group`` (string) and the columns of
        :attr:`KaplanMeierResult.table` (``time`` days, ``survival``, ``ci_low``,
        ``ci_high``, ``at_risk``, ``events``, ``censored``).
    medians
        One row per curve: ``group``, ``n``, ``n_events``, ``n_excluded``,
        ``median_days``, ``median_ci_low``, ``median_ci_high`` (days; ``inf`` = not reached).
    """

    event: str
    curves: dict[str, KaplanMeierResult]
    logrank: LogrankResult | None
    table: pd.DataFrame
    medians: pd.DataFrame


def km_by_group(events: pd.DataFrame, groups: pd.Series, *, event: str = "mcid") -> KMComparison:
    """Kaplan-Meier curves of time to MCID or to recovery by group, and the log-rank test.

    Parameters
    ----------
    events
        Output of :func:`analysis.outcomes.time_to_events`.
    groups
        Labels indexed by ``patient_id`` (e.g. :func:`adherence_groups`); patients
        without a label appear only in the ``"all"`` curve.
    event
        ``"mcid"`` (time to MCID) or ``"recovery"`` (time to recovery, PACE rule).

    Returns
    -------
    KMComparison
        Curves for ``"all"`` and each group (in sorted label order), the log-rank
        test of the two groups when there are exactly two non-empty ones.

    Raises
    ------
    ValueError
        For an unknown ``event``.
    NotEnoughDataError
        When no patient has a time for the event.

    Notes
    -----
    Censoring at the last logged day (Henschke et al. 2008); estimator and
    test from lifelines (:func:`analysis.outcomes.kaplan_meier`,
    :func:`analysis.outcomes.logrank`).
    """
    if event not in ("mcid", "recovery"):
        raise ValueError(f"event must be 'mcid' or 'recovery', not {event!r}")
    t_col = "time_to_mcid_days" if event == "mcid" else "time_to_recovery_days"
    e_col = "mcid_event" if event == "mcid" else "recovery_event"
    g = events["patient_id"].astype("string").map(groups)
    curves = {"all": kaplan_meier(events[t_col], events[e_col], label="all")}
    labels = sorted(str(x) for x in g.dropna().unique())
    for label in labels:
        part = events.loc[(g == label).fillna(False).to_numpy(dtype=bool)]
        try:
            curves[label] = kaplan_meier(part[t_col], part[e_col], label=label)
        except NotEnoughDataError:
            continue
    test = None
    if len(labels) == 2 and all(lbl in curves for lbl in labels):
        a = events.loc[(g == labels[0]).fillna(False).to_numpy(dtype=bool)]
        b = events.loc[(g == labels[1]).fillna(False).to_numpy(dtype=bool)]
        test = logrank(a[t_col], a[e_col], b[t_col], b[e_col])
    table = pd.concat([c.table.assign(group=name) for name, c in curves.items()], ignore_index=True)
    table = table[["group", *[c for c in table.columns if c != "group"]]].astype({"group": "string"})
    medians = pd.DataFrame(
        [
            (name, c.n, c.n_events, c.n_excluded, c.median, c.median_ci_low, c.median_ci_high)
            for name, c in curves.items()
        ],
        columns=["group", "n", "n_events", "n_excluded", "median_days", "median_ci_low", "median_ci_high"],
    ).astype({"group": "string"})
    return KMComparison(event=event, curves=curves, logrank=test, table=table, medians=medians)


# =========================================================================== safety and load


def flag_rates(flags: pd.DataFrame, weekly: pd.DataFrame) -> pd.DataFrame:
    """How often each safety flag fires: patients flagged and flags per 100 patient-weeks.

    Parameters
    ----------
    flags
        Output of :func:`analysis.flags.safety_flags`.
    weekly
        Output of :func:`analysis.cohort.weekly_progress` (the exposure: started programme weeks).

    Returns
    -------
    pandas.DataFrame
        One row per flag kind (:data:`analysis.flags.FLAG_KINDS` order):
        ``kind`` (string), ``n_flags`` (int64), ``n_patients_flagged`` (int64),
        ``percent_patients`` (float64, % of patients with a started week),
        ``patient_weeks`` (int64, exposure), ``per_100_patient_weeks`` (float64),
        ``descriptive_only`` (bool: True for ``rapid_load_increase``).

    Notes
    -----
    Flags are descriptive, for the physio (docs/clinical-reference.md section 5); the
    acute:chronic ratio in particular is contested (Impellizzeri et al. 2020).
    """
    w = _elapsed_weeks(weekly)
    exposure = int(len(w))
    n_pat = int(w["patient_id"].nunique())
    kinds = flags["kind"].astype("string")
    rows = []
    for kind in FLAG_KINDS:
        part = flags.loc[(kinds == kind).fillna(False).to_numpy(dtype=bool)]
        k = len(part)
        p = int(part["patient_id"].nunique())
        rows.append((kind, k, p, _pct(p, n_pat), exposure, _pct(k, exposure), kind == "rapid_load_increase"))
    out = pd.DataFrame(rows, columns=["kind", "n_flags", "n_patients_flagged", "percent_patients",
                                      "patient_weeks", "per_100_patient_weeks", "descriptive_only"])
    return out.astype({"kind": "string", "n_flags": np.int64, "n_patients_flagged": np.int64,
                       "patient_weeks": np.int64})


def pain_during_zones(pain_during: pd.Series, settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """Exercise rows by pain-monitoring zone of the pain felt during the exercise.

    Parameters
    ----------
    pain_during
        ``sessions.pain_during`` values (NPRS 0-10; missing values are not counted).
    settings
        ``pain_during_max`` (default 5): above it is "too much".

    Returns
    -------
    pandas.DataFrame
        Three rows: ``zone`` (string: ``"safe (0-3)"``, ``"acceptable (4-5)"``,
        ``"too much (> 5)"``), ``n`` (int64, exercise rows), ``percent`` (float64,
        % of rated rows).

    References
    ----------
    Silbernagel K.G. et al. 2007, Am J Sports Med 35(6):897-906: 0-3 safe,
    4-5 acceptable, > 5 too much. The safe/acceptable boundary (3) is fixed by
    the model; the upper limit is ``settings.pain_during_max``.
    """
    values = pd.to_numeric(pain_during, errors="coerce").dropna().to_numpy(dtype=float)
    top = float(settings.pain_during_max)
    safe = int((values <= 3).sum())
    too_much = int((values > top).sum())
    acceptable = len(values) - safe - too_much
    labels = list(SILBERNAGEL_ZONES)
    if top != 5:
        labels[1] = f"acceptable (4-{top:g})"
        labels[2] = f"too much (> {top:g})"
    counts = [safe, acceptable, too_much]
    return pd.DataFrame(
        {"zone": pd.array(labels, dtype="string"), "n": np.asarray(counts, dtype=np.int64),
         "percent": [_pct(k, len(values)) for k in counts]}
    )


def load_vs_flares(
    load: pd.DataFrame, flags: pd.DataFrame, patients: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pain flares in weeks after a rapid load increase, and in the other weeks.

    Parameters
    ----------
    load
        Output of :func:`analysis.flags.load_progression` (one row per patient-week).
    flags
        Output of :func:`analysis.flags.safety_flags` (its ``pain_flare`` rows are used).
    patients
        Canonical ``patients`` table (``programme_start``, for the week of a flare).
    settings
        ``acwr_max`` (default 1.5).

    Returns
    -------
    weeks : pandas.DataFrame
        ``load`` with ``pain_flares`` (int64: pain-based flare days that week and
        the next, the window in which a load jump would show), ``any_flare`` (bool)
        and ``load_group`` (string: ``"ACWR > 1.5"``, ``"ACWR <= 1.5"`` or
        ``"no ratio yet"`` before ``acwr_chronic_weeks`` weeks of history).
    summary : pandas.DataFrame
        One row per ``load_group``: ``n_weeks`` (int64), ``weeks_with_flare``
        (int64), ``percent_weeks_with_flare`` (float64), ``flare_days`` (int64),
        ``flare_days_per_week`` (float64).

    Notes
    -----
    Descriptive only: the acute:chronic ratio comes from athletes' training
    loads and is contested (Impellizzeri et al. 2020); a difference in flare
    rates here is an association within patients who chose their own load.
    """
    pid = patients["patient_id"].astype("string")
    start = pd.Series(pd.to_datetime(patients["programme_start"]).dt.normalize().to_numpy(), index=pd.Index(pid))
    fl = flags.loc[(flags["kind"].astype("string") == "pain_flare").fillna(False).to_numpy(dtype=bool)]
    fid = fl["patient_id"].astype("string")
    day = (pd.to_datetime(fl["date"]) - fid.map(start).to_numpy()).dt.days
    week = week_of_day(day).astype("Int64")
    per_week = pd.DataFrame({"patient_id": fid.to_numpy(), "week": week.to_numpy()}).dropna()
    counts = per_week.groupby(["patient_id", "week"]).size()
    key = pd.MultiIndex.from_arrays([load["patient_id"].astype("string"), load["week"].astype("int64")])
    this_week = counts.reindex(key, fill_value=0).to_numpy()
    next_key = pd.MultiIndex.from_arrays([load["patient_id"].astype("string"), load["week"].astype("int64") + 1])
    next_week = counts.reindex(next_key, fill_value=0).to_numpy()
    acwr = load["acwr"].astype(float).to_numpy()
    thr = settings.acwr_max
    group = np.where(np.isnan(acwr), "no ratio yet", np.where(acwr > thr, f"ACWR > {thr:g}", f"ACWR <= {thr:g}"))
    weeks = load.assign(
        pain_flares=(this_week + next_week).astype(np.int64),
        any_flare=(this_week + next_week) > 0,
        load_group=pd.array(group.astype(object), dtype="string"),
    )
    rows = []
    for label in (f"ACWR > {thr:g}", f"ACWR <= {thr:g}", "no ratio yet"):
        part = weeks.loc[(weeks["load_group"] == label).to_numpy(dtype=bool)]
        n = len(part)
        k = int(part["any_flare"].sum())
        days = int(part["pain_flares"].sum())
        rows.append((label, n, k, _pct(k, n), days, days / n if n else np.nan))
    summary = pd.DataFrame(rows, columns=["load_group", "n_weeks", "weeks_with_flare", "percent_weeks_with_flare",
                                          "flare_days", "flare_days_per_week"])
    return weeks, summary.astype({"load_group": "string", "n_weeks": np.int64, "weeks_with_flare": np.int64,
                                  "flare_days": np.int64})


# =========================================================================== methods text


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages the numbers depend on.

    Returns
    -------
    dict of str to str
        ``python``, ``rehabtrack``, ``numpy``, ``pandas``, ``scipy``,
        ``statsmodels``, ``lifelines``, ``matplotlib`` and ``dask`` (``"not
        installed"`` when absent).
    """
    versions = {"python": platform.python_version(), "rehabtrack": analysis.__version__}
    for name in ("numpy", "pandas", "scipy", "statsmodels", "lifelines", "matplotlib", "dask"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _cell(value: Any) -> str:
    """A setting's value for the methods table: numbers with ``:g``, text (the time zone) as written."""
    return value if isinstance(value, str) else format(value, "g")


def _setting(table: pd.DataFrame, name: str) -> tuple[Any, str]:
    row = table.set_index("setting").loc[name]
    return row["value"], str(row["citation"])


def methods_text(
    settings: Settings = DEFAULT_SETTINGS,
    *,
    n_patients: int | None = None,
    as_of: DateLike | None = None,
    model: AdherencePainModel | None = None,
    versions: Mapping[str, str] | None = None,
) -> str:
    """A methods section (Markdown) naming every threshold used, its citation, and the software.

    Parameters
    ----------
    settings
        The thresholds in use; every value is read from ``settings.as_table()``,
        so a changed threshold appears in the text with "(default X)".
    n_patients, as_of
        Cohort size and analysis date, when known.
    model
        The fitted adherence-pain model, to report its optimiser and convergence.
    versions
        Package versions (default :func:`package_versions`).

    Returns
    -------
    str
        Markdown: a paragraph per topic (data and programme time, adherence, pain
        diary and trends, meaningful and reliable change, time to event, mixed
        model, safety flags, software), then a table of every setting with its
        citation and a table of the instrument thresholds.
    """
    table = settings.as_table()
    versions = dict(versions or package_versions())

    def v(name: str, fmt: str = "g") -> str:
        value, _ = _setting(table, name)
        default = table.set_index("setting").loc[name, "default"]
        text = format(value, fmt)
        return text if value == default else f"{text} (changed from the default {format(default, fmt)})"

    def pct(name: str) -> str:
        value, _ = _setting(table, name)
        default = table.set_index("setting").loc[name, "default"]
        text = f"{value * 100:g} %"
        return text if value == default else f"{text} (changed from the default {default * 100:g} %)"

    nprs = INSTRUMENTS["nprs"]
    cohort_line = ""
    if n_patients is not None:
        cohort_line = f"The cohort comprised {n_patients} patients"
        cohort_line += f", analysed as of {pd.Timestamp(as_of).date().isoformat()}. " if as_of is not None else ". "
    model_line = ""
    if model is not None:
        r = model.result
        model_line = (
            f" The model was fitted to {r.n_obs} patient-weeks of {r.n_groups} patients "
            f"(optimiser {r.method}, {'converged' if r.converged else 'did NOT converge'}); adherence was centred "
            f"on the cohort mean ({model.adherence_centre:.1%}) and scaled per {model.adherence_unit * 100:g} "
            "percentage points."
        )
    paragraphs = [
        "## Methods",
        "",
        "**Data and programme time.** " + cohort_line
        + "Home-exercise sessions and daily pain diaries (numeric pain rating scale, NPRS 0-10) were analysed "
        "on a programme clock: day 0 is each patient's programme start and programme week w covers days "
        "7(w-1) to 7w-1. Entries up to and including the analysis date were used; the analysis date itself was "
        "not counted as an elapsed day, so the week in progress was pro-rated over its whole days before it.",
        "",
        "**Adherence.** Session adherence was the number of distinct days with a completed session divided by "
        "the sessions prescribed, per programme week (pro-rated when the prescription changed mid-week) and "
        "overall, capped at 100 % per week (uncapped for volume). Patients were classed as adherent when they "
        f"completed at least {pct('adherent_threshold')} of prescribed sessions "
        f"({_setting(table, 'adherent_threshold')[1]}).",
        "",
        "**Pain diary and trends.** Daily pain was the mean of the day's ratings. Baseline pain was the mean of "
        f"the first {v('baseline_window_days')} programme days and current pain the mean of the last "
        f"{v('current_window_days')} days with data; a window counted only with ratings on at least "
        f"{v('min_window_ratings')} days ({_setting(table, 'min_window_ratings')[1]}). Per patient, the direction "
        "of the trend of daily pain was tested with the Mann-Kendall test (Mann 1945; tie-corrected variance, Kendall "
        "1975) and its size estimated by the ordinary least-squares slope of daily pain with its "
        f"{pct('trend_confidence')} confidence interval; ratings that were pain flares (below) were left out. A "
        f"trend was called improving or worsening at p < {1 - float(settings.trend_confidence):g} "
        "when the least-squares slope had the same sign, otherwise no clear trend; fewer than "
        f"{v('min_trend_days')} rated days gave no estimate.",
        "",
        "**Meaningful and reliable change.** A patient was an MCID responder when pain improved by at least "
        f"{nprs.mcid_abs:g} points or by at least {pct('mcid_percent')} of baseline ({nprs.citation}); both rules "
        f"are reported. IMMPACT tiers classed improvement of >= {pct('immpact_moderate')} as moderate and "
        f">= {pct('immpact_substantial')} as substantial (Dworkin et al. 2008). The reliable change index "
        "(Jacobson & Truax 1991) divided the change by S_diff = sqrt(2) x SEM, with the SEM derived from the "
        f"NPRS minimal detectable change of {nprs.mdc:g} points; |RCI| > {v('rci_z')} was reliable change. "
        f"Recovery was pain of {v('recovery_max_nprs')} or less on {v('recovery_days')} consecutive days "
        f"({_setting(table, 'recovery_days')[1]}). Questionnaires were scored as published (ODI v2.1a with at "
        f"least {v('odi_min_sections')} of 10 sections answered; RMDQ-24), with MCIDs of "
        f"{INSTRUMENTS['odi'].mcid_abs:g} ODI points and {INSTRUMENTS['rmdq'].mcid_abs:g} RMDQ points or "
        f"{pct('mcid_percent')} (Ostelo et al. 2008).",
        "",
        "**Time to event.** Time from programme start to the first day on which the trailing diary window met "
        "the MCID, and to the first day of a recovery run, was estimated with the Kaplan-Meier method, "
        "censoring at the last logged day (Henschke et al. 2008), and compared between adherence groups with "
        "the log-rank test (lifelines; Davidson-Pilon 2019).",
        "",
        "**Adherence and pain over time.** Weekly mean pain was modelled with a linear mixed-effects model, "
        "pain ~ week x adherence with a random intercept and a random slope of week per patient (correlated), "
        "fitted by restricted maximum likelihood (statsmodels MixedLM; optimisers BFGS, L-BFGS and conjugate "
        "gradients, keeping the highest REML likelihood, which reproduces lme4 on the sleepstudy data); pain "
        "was not dichotomised before modelling (Leroux et al. 2024). Fixed effects are reported with Wald "
        "95 % confidence intervals." + model_line + " The association is observational and not causal.",
        "",
        "**Safety flags (descriptive).** A pain flare was a rating at least "
        f"{v('flare_rise_points')} points above the median daily NPRS of the previous {v('flare_baseline_days')} days "
        f"({_setting(table, 'flare_rise_points')[1]}); self-reported flares were counted separately. Pain during "
        f"exercise above {v('pain_during_max')} points, or at least {v('pain_during_rise')} points above the "
        "pre-session rating, was flagged (pain-monitoring model, Silbernagel et al. 2007). Weekly exercise dose "
        "(sets x repetitions x hold) was compared with the mean of the previous "
        f"{v('acwr_chronic_weeks')} weeks, floored at the mean prescribed dose of those weeks (acute:chronic "
        f"ratio > {v('acwr_max')} flagged when the week's dose was also above its prescribed dose; from athletes "
        "and contested, Impellizzeri et al. 2020: descriptive only). No session or pain entry for "
        f"{v('logging_stopped_days')} days while the programme ran was flagged as logging stopped.",
        "",
        "**Software.** rehabtrack " + versions.get("rehabtrack", "?") + " (Python " + versions.get("python", "?")
        + "); "
        + ", ".join(f"{k} {val}" for k, val in versions.items() if k not in ("rehabtrack", "python")) + ".",
        "",
        "### Thresholds used",
        "",
        "| setting | value | default | unit | source |",
        "|---|---|---|---|---|",
    ]
    for row in table.itertuples(index=False):
        paragraphs.append(
            f"| `{row.setting}` | {_cell(row.value)} | {_cell(row.default)} | {row.unit} | {row.citation} |")
    paragraphs += [
        "",
        "### Instrument thresholds",
        "",
        "| instrument | MCID (absolute) | MCID (% of baseline) | MDC | recovered | source |",
        "|---|---|---|---|---|---|",
    ]

    def num(x: float | None, unit: str = "") -> str:
        return "not given" if x is None else f"{x:g}{unit}"

    for inst in INSTRUMENTS.values():
        if not inst.is_outcome:
            continue
        mcid_pct = num(None if inst.mcid_pct is None else inst.mcid_pct * 100, " %")
        paragraphs.append(
            f"| {inst.name} | {num(inst.mcid_abs)} | {mcid_pct} | {num(inst.mdc)} | {num(inst.recovered_max)} "
            f"| {inst.citation} |"
        )
    return "\n".join(paragraphs) + "\n"


# =========================================================================== the report


@dataclass(frozen=True)
class ReportData:
    """The per-patient and per-week tables a cohort report is built from.

    Attributes
    ----------
    as_of
        The analysis date.
    patients
        Canonical ``patients`` table.
    summary
        :func:`analysis.cohort.cohort_summary`.
    weekly
        :func:`analysis.cohort.weekly_progress`.
    change
        :func:`analysis.outcomes.pain_change`.
    events
        :func:`analysis.outcomes.time_to_events`.
    flags
        :func:`analysis.flags.safety_flags`.
    load
        :func:`analysis.flags.load_progression` of sessions up to ``as_of``.
    pain_during
        ``pain_during`` of every session row up to ``as_of`` with ``patient_id``.
    model_data
        :func:`analysis.models.patient_week_table`.
    """

    as_of: pd.Timestamp
    patients: pd.DataFrame
    summary: pd.DataFrame
    weekly: pd.DataFrame
    change: pd.DataFrame
    events: pd.DataFrame
    flags: pd.DataFrame
    load: pd.DataFrame
    pain_during: pd.DataFrame
    model_data: pd.DataFrame


def _upto(frame: pd.DataFrame, column: str, as_of: pd.Timestamp) -> pd.DataFrame:
    return frame.loc[pd.to_datetime(frame[column]) < as_of + pd.Timedelta(days=1)]


def _summary(c: CohortTables, *, as_of: pd.Timestamp, settings: Settings) -> pd.DataFrame:
    return cohort_summary(c, as_of=as_of, settings=settings)


def _weekly(c: CohortTables, *, as_of: pd.Timestamp, settings: Settings) -> pd.DataFrame:
    return weekly_progress(c, as_of=as_of, settings=settings)


def _change(c: CohortTables, *, as_of: pd.Timestamp, settings: Settings) -> pd.DataFrame:
    return pain_change(_upto(c.pain, "recorded_at", as_of), c.patients, settings=settings)


def _events(c: CohortTables, *, as_of: pd.Timestamp, settings: Settings) -> pd.DataFrame:
    return time_to_events(c.pain, c.patients, as_of=as_of, settings=settings)


def _flags(c: CohortTables, *, as_of: pd.Timestamp, settings: Settings) -> pd.DataFrame:
    return safety_flags(c.sessions, c.pain, c.patients, as_of=as_of, settings=settings, prescriptions=c.prescriptions)


def _load(c: CohortTables, *, as_of: pd.Timestamp, settings: Settings) -> pd.DataFrame:
    return load_progression(_upto(c.sessions, "performed_at", as_of), c.patients, settings=settings,
                            prescriptions=c.prescriptions)


def _pain_during(c: CohortTables, *, as_of: pd.Timestamp, settings: Settings) -> pd.DataFrame:
    rows = _upto(c.sessions, "performed_at", as_of)
    return pd.DataFrame({"patient_id": rows["patient_id"].astype("string").to_numpy(),
                         "pain_during": rows["pain_during"].astype("Float64").to_numpy()})


_PARTS: dict[str, Callable[..., pd.DataFrame]] = {
    "summary": _summary,
    "weekly": _weekly,
    "change": _change,
    "events": _events,
    "flags": _flags,
    "load": _load,
    "pain_during": _pain_during,
}


@checks_tables(cohort="cohort")
def report_data(
    cohort: CohortTables | DaskCohort, *, as_of: DateLike | None = None, settings: Settings = DEFAULT_SETTINGS
) -> ReportData:
    """Compute the tables of a cohort report, with pandas or on a Dask cluster.

    Parameters
    ----------
    cohort
        A :class:`~analysis.schema.CohortTables`, or a
        :class:`~analysis.distributed.DaskCohort` (each table is then computed per
        partition of whole patients with :func:`analysis.distributed.map_patients`
        on the current Dask client, and collected).
    as_of
        Analysis date (default: the last session or pain entry of the cohort).
    settings
        Thresholds in use.

    Returns
    -------
    ReportData
        The tables; with Dask, the same values as with pandas (row order may differ).
    """
    if isinstance(cohort, CohortTables):
        when = cohort.as_of(as_of)
        parts = {name: func(cohort, as_of=when, settings=settings) for name, func in _PARTS.items()}
        patients = cohort.patients
        model_data = patient_week_table(cohort, as_of=when, settings=settings)
    else:
        from dask.base import compute

        from analysis.distributed import _Bound, map_patients, patient_week_table_dask, resolve_as_of_dask

        when = resolve_as_of_dask(cohort, as_of)
        lazy = [map_patients(_Bound(func, as_of=when, settings=settings), cohort) for func in _PARTS.values()]
        computed = compute(*lazy, cohort.patients)
        parts = dict(zip(_PARTS, computed[:-1], strict=True))
        patients = computed[-1].reset_index()
        # the pandas order: partitions hold patients in ID order, so full ties keep the registry's (ID) order
        parts["summary"] = sort_for_triage(parts["summary"].sort_values("patient_id", kind="stable"))
        parts["weekly"] = parts["weekly"].sort_values(["patient_id", "week"], kind="stable").reset_index(drop=True)
        model_data = patient_week_table_dask(cohort, as_of=when, settings=settings)
    return ReportData(as_of=when, patients=patients, model_data=model_data, **parts)


# Per-patient research columns written to patient_summary.csv (no calendar dates, no free text).
_RESEARCH_COLUMNS = [
    "patient_id", "physio_id", "programme_week", "programme_weeks", "adherence", "adherent", "sessions_completed",
    "sessions_prescribed", "adherence_status", "logging_status", "n_days_rated", "pain_baseline", "pain_current",
    "pain_change", "pain_pct_change", "trend_days", "trend_slope_per_week", "trend_ci_low", "trend_ci_high",
    "trend_tau", "trend_p", "trend", "mcid_met", "mcid_rule", "rci", "rci_category",
    "recovered", "odi_latest", "odi_change", "odi_mcid_met", "rmdq_latest", "rmdq_change", "rmdq_mcid_met",
    "flags_total",
]


def _pseudonymiser(pseudonymise: bool, key: bytes | None) -> tuple[Callable[[pd.DataFrame], pd.DataFrame], str]:
    """A function replacing ``patient_id``/``physio_id`` by pseudonyms, and a sentence for the README."""
    if not pseudonymise:
        return (lambda f: f), "Identifiers are written as in the input (pseudonymisation was switched off)."
    secret = key if key is not None else pseudonym_key()

    def apply(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        if "patient_id" in out:
            out["patient_id"] = pseudonymise_ids(out["patient_id"], secret, kind="patient")
        if "physio_id" in out:
            out["physio_id"] = pseudonymise_ids(out["physio_id"], secret, kind="physio")
        return out.rename(columns={"patient_id": "pseudonym", "physio_id": "physio_pseudonym"})

    return apply, (
        "Patient and physiotherapist identifiers are research pseudonyms (keyed HMAC-SHA-256, "
        "analysis.export); per-patient tables carry programme weeks and days, no calendar dates and no free text."
    )


@checks_tables(cohort="cohort")
def write_cohort_report(
    cohort: CohortTables | DaskCohort,
    out_dir: str | Path,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    as_of: DateLike | None = None,
    pseudonymise: bool = True,
    key: bytes | None = None,
) -> dict[str, Path]:
    """Write methods.md, the research tables (CSV) and figures (PNG) of a cohort into one directory.

    Parameters
    ----------
    cohort
        The cohort (pandas) or a distributed one (:class:`analysis.distributed.DaskCohort`,
        computed on the current Dask client).
    out_dir
        Created if missing; the files of :data:`REPORT_TABLES` and
        :data:`REPORT_FIGURES` and ``methods.md`` are overwritten.
    settings
        Thresholds in use (named in ``methods.md`` and ``settings.csv``).
    as_of
        Analysis date (default: the last session or pain entry).
    pseudonymise
        Replace ``patient_id``/``physio_id`` by research pseudonyms
        (:func:`analysis.pseudonyms.pseudonymise_ids`) and leave calendar dates and
        free text out of per-patient tables (default True).
    key
        Pseudonym key; default :func:`analysis.pseudonyms.pseudonym_key` (environment
        variable ``REHABTRACK_PSEUDONYM_KEY`` or the data directory's key file).

    Returns
    -------
    dict of str to pathlib.Path
        Every file written, by file name.

    Raises
    ------
    NotEnoughDataError
        If the cohort has no patient with pain ratings and a prescription.
    """
    import matplotlib.pyplot as plt

    out = make_private_dir(out_dir)  # 0700 when created; every file in it 0600
    data = report_data(cohort, as_of=as_of, settings=settings)
    hide, id_note = _pseudonymiser(pseudonymise, key)
    groups = adherence_groups(data.summary, settings)

    model = adherence_pain_model(data=data.model_data, settings=settings)
    km_mcid = km_by_group(data.events, groups, event="mcid")
    km_rec = km_by_group(data.events, groups, event="recovery")
    load_weeks, load_summary = load_vs_flares(data.load, data.flags, data.patients, settings)
    tests = pd.DataFrame(
        [
            (name, c.logrank.statistic, c.logrank.p_value, c.logrank.n_a, c.logrank.n_b, c.logrank.events_a,
             c.logrank.events_b)
            for name, c in (("time to MCID", km_mcid), ("time to recovery", km_rec)) if c.logrank is not None
        ],
        columns=["event", "chi2", "p_value", "n_a", "n_b", "events_a", "events_b"],
    )
    events = data.events.set_index(data.events["patient_id"].astype("string"))
    patient = data.summary[[c for c in _RESEARCH_COLUMNS if c in data.summary.columns]].copy()
    pid = patient["patient_id"].astype("string")
    patient["adherence_group"] = pid.map(groups).to_numpy()
    patient["immpact_tier"] = pid.map(
        data.change.set_index(data.change["patient_id"].astype("string"))["immpact_tier"]
    ).to_numpy()
    for col in ("time_to_mcid_days", "mcid_event", "time_to_recovery_days", "recovery_event"):
        patient[col] = pid.map(events[col]).to_numpy()
    patient = patient.sort_values("patient_id", kind="stable")

    completeness = data_completeness(data.weekly)
    tables = {
        "cohort_characteristics.csv": cohort_characteristics(data.summary, data.patients),
        "data_completeness.csv": hide(completeness),
        "weekly_overview.csv": weekly_overview(data.weekly),
        "patient_summary.csv": hide(patient),
        "responders.csv": responder_table(data.change, groups, settings),
        "mcid_rci.csv": mcid_rci_table(data.change),
        "immpact.csv": immpact_table(data.change, groups),
        "mixed_model_fixed.csv": model.result.fixed_effects,
        "mixed_model_random.csv": model.result.random_effects,
        "km_time_to_mcid.csv": km_mcid.table,
        "km_time_to_recovery.csv": km_rec.table,
        "logrank.csv": tests,
        "flag_rates.csv": flag_rates(data.flags, data.weekly),
        "pain_during_zones.csv": pain_during_zones(data.pain_during["pain_during"], settings),
        "load_vs_flares.csv": load_summary,
        "settings.csv": settings.as_table(),
    }
    written: dict[str, Path] = {}
    for name, frame in tables.items():
        path = out / name
        write_csv(frame, path)
        written[name] = path

    overview = tables["weekly_overview.csv"]
    fit = None
    try:
        fit = linear_fit(data.summary["adherence"] * 100, data.summary["pain_change"])
    except NotEnoughDataError:
        pass
    figures = {
        "weekly_overview.png": plots.plot_cohort_weekly(overview, adherent_threshold=settings.adherent_threshold),
        "adherence_vs_change.png": plots.plot_adherence_vs_change(
            data.summary["adherence"], data.summary["pain_change"], fit=fit,
            mcid_points=INSTRUMENTS["nprs"].mcid_abs,
        ),
        "pain_slopes.png": plots.plot_slope_distribution(data.summary),
        "model_predictions.png": plots.plot_model_predictions(
            predict_pain(model, [0.3, 0.5, 0.7, 0.9], list(range(1, 13)))
        ),
        "km_time_to_mcid.png": plots.plot_km(km_mcid.curves, logrank=km_mcid.logrank, event_label="reached the MCID"),
        "km_time_to_recovery.png": plots.plot_km(km_rec.curves, logrank=km_rec.logrank, event_label="recovered"),
        "load_vs_flares.png": plots.plot_load_vs_flares(load_summary),
    }
    for name, fig in figures.items():
        path = out / name
        with open_private(path) as fh:
            fig.savefig(fh, dpi=120, format="png")
        plt.close(fig)
        written[name] = path

    methods = methods_text(settings, n_patients=len(data.summary), as_of=data.as_of, model=model)
    listing = "\n".join(f"- `{name}`: {what}" for name, what in REPORT_TABLES.items())
    figures_list = "\n".join(f"- `{name}`" for name in REPORT_FIGURES)
    text = (
        f"# Cohort report ({date.today().isoformat()}; data as of {data.as_of.date().isoformat()})\n\n"
        f"{methods}\n## Files\n\n{listing}\n\nFigures:\n\n{figures_list}\n\n{id_note}\n\n"
        "## Adherence and pain: plain-language reading\n\n"
    )
    text += describe_adherence_model(model) + "\n"
    path = out / "methods.md"
    write_private(path, text)
    written["methods.md"] = path
    logger.info("wrote the cohort report of %d patients to %s", len(data.summary), out)
    return written
