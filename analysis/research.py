"""Cohort-level tables for the researcher's view of the pseudonymised cohort.

The researcher sees no identifier and no calendar date
(:func:`analysis.access.cohort_for` gives a :class:`analysis.pseudonyms.ResearchCohort`,
and the dashboard's summary carries pseudonyms and a start month). This module
holds the small pure functions the researcher page needs on top of the analysis
modules:

* :func:`as_canonical` - a research cohort back in the canonical tables, on a
  synthetic calendar (every programme starting on one origin date), so the
  programme-time analyses (:func:`analysis.outcomes.time_to_events`,
  :func:`analysis.outcomes.pain_change`) run on it unchanged;
* :func:`select_group` - the rows of a physio group and/or start months;
* :func:`responder_rates` - MCID responders (absolute, %, either, both) and
  reliable-change categories, with Wilson 95 % confidence intervals;
* :func:`time_to_mcid` - the Kaplan-Meier curve of time to MCID of a group;
* :data:`MIN_GROUP_SIZE` / :func:`too_small` - small groups are not shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import NotEnoughDataError
from analysis.outcomes import KaplanMeierResult, kaplan_meier, time_to_events
from analysis.pseudonyms import ResearchCohort
from analysis.schema import CohortTables, conform
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.validation import checks_tables

__all__ = [
    "SYNTHETIC_ORIGIN",
    "MIN_GROUP_SIZE",
    "RCI_CATEGORIES",
    "as_canonical",
    "select_group",
    "too_small",
    "wilson_interval",
    "responder_rates",
    "time_to_mcid",
]

#: The date every programme starts on in :func:`as_canonical` (a Monday). Not a real date:
#: only programme days (date - origin) carry meaning.
SYNTHETIC_ORIGIN = pd.Timestamp("2000-01-03")

#: Fewest patients a group must have to be shown to a researcher. Statistics of one or two
#: pseudonymised patients are the patients' own numbers; a group below this size is withheld.
#: A disclosure-control convention (small-cell suppression), not a clinical threshold:
#: the literature names none, so this is a project default (docs/clinical-reference.md section 8).
MIN_GROUP_SIZE = 5

#: Reliable change categories of :func:`analysis.outcomes.reliable_change`, best first.
RCI_CATEGORIES: tuple[str, ...] = ("reliable improvement", "no reliable change", "reliable deterioration")


def as_canonical(research: ResearchCohort, *, origin: pd.Timestamp = SYNTHETIC_ORIGIN) -> CohortTables:
    """The pseudonymised cohort as canonical tables on a synthetic calendar.

    Parameters
    ----------
    research
        A :class:`analysis.pseudonyms.ResearchCohort` (programme days, pseudonyms).
    origin
        The date every programme starts on (default :data:`SYNTHETIC_ORIGIN`).

    Returns
    -------
    CohortTables
        ``patient_id`` = the patient pseudonym, ``physio_id`` = the physio
        pseudonym, ``programme_start`` = ``origin`` for everyone, every timestamp
        = ``origin + day days + minute_of_day minutes`` (midnight when the minute
        is missing), prescription dates = ``origin + start_day`` / ``end_day``.
        Rows without a programme day are dropped. Notes and condition notes are
        kept only when the research cohort has them.

    Notes
    -----
    Programme time (day, week) is exactly preserved, so every analysis that
    works in programme time gives the same result as on the identified data.
    Calendar quantities are meaningless here: the analysis date of each
    patient, and so adherence "up to today", cannot be recovered; use the
    dashboard's pseudonymised summary for those.
    """
    origin = pd.Timestamp(origin).normalize()

    def stamp(frame: pd.DataFrame, day: str = "day", minute: str | None = "minute_of_day") -> pd.Series:
        d = pd.to_numeric(frame[day], errors="coerce").astype("float64")
        m = (pd.to_numeric(frame[minute], errors="coerce").fillna(0).astype("float64")
             if minute and minute in frame.columns else 0.0)
        return origin + pd.to_timedelta(d, unit="D") + pd.to_timedelta(m, unit="min")

    def timed(frame: pd.DataFrame, time_col: str, table: str) -> pd.DataFrame:
        frame = frame.loc[frame["day"].notna()]
        out = frame.drop(columns=[c for c in ("day", "week", "minute_of_day") if c in frame.columns])
        out = out.rename(columns={"pseudonym": "patient_id"})
        out[time_col] = stamp(frame)
        return conform(out, table).reset_index(drop=True)

    p = research.patients
    patients = pd.DataFrame({
        "patient_id": p["pseudonym"],
        "physio_id": p["physio_pseudonym"],
        "programme_start": pd.Series(origin, index=p.index),
        "age_band": p["age_band"] if "age_band" in p.columns else pd.NA,
    })
    if "condition_notes" in p.columns:
        patients["condition_notes"] = p["condition_notes"]
    rx = research.prescriptions.loc[research.prescriptions["start_day"].notna()]
    prescriptions = rx.drop(columns=["start_day", "end_day"]).rename(columns={"pseudonym": "patient_id"})
    prescriptions["start_date"] = stamp(rx, "start_day", None)
    prescriptions["end_date"] = stamp(rx, "end_day", None)
    return CohortTables(
        patients=conform(patients, "patients").reset_index(drop=True),
        prescriptions=conform(prescriptions, "prescriptions").reset_index(drop=True),
        sessions=timed(research.sessions, "performed_at", "sessions"),
        pain=timed(research.pain, "recorded_at", "pain"),
        proms=timed(research.proms, "completed_at", "proms"),
    )


def select_group(
    summary: pd.DataFrame,
    *,
    physio_groups: Iterable[str] | None = None,
    start_months: Iterable[str] | None = None,
    physio_column: str = "physio_pseudonym",
    month_column: str = "start_month",
) -> pd.DataFrame:
    """The rows of some physio groups and/or start months.

    Parameters
    ----------
    summary
        One row per patient with ``physio_column`` and ``month_column`` (the
        researcher's summary of :func:`dashboards.state.summary_for_user`).
    physio_groups
        Keep these physio pseudonyms; ``None`` or empty = every group.
    start_months
        Keep these programme start months (``"YYYY-MM"``); ``None`` or empty = every month.
    physio_column, month_column
        Column names.

    Returns
    -------
    pandas.DataFrame
        The matching rows, same columns and order, index reset.
    """
    keep = np.ones(len(summary), dtype=bool)
    groups = list(physio_groups or [])
    months = list(start_months or [])
    if groups:
        keep &= summary[physio_column].astype("string").isin(groups).fillna(False).to_numpy(dtype=bool)
    if months:
        keep &= summary[month_column].astype("string").isin(months).fillna(False).to_numpy(dtype=bool)
    return summary.loc[keep].reset_index(drop=True)


def too_small(n: int, minimum: int = MIN_GROUP_SIZE) -> bool:
    """True when a group of ``n`` patients is too small to show (see :data:`MIN_GROUP_SIZE`)."""
    return int(n) < int(minimum)


def wilson_interval(successes: Any, n: Any, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion, vectorised.

    Parameters
    ----------
    successes, n
        Counts (arrays of the same shape).
    confidence
        Level (default 0.95).

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper limits (fractions 0-1); NaN where ``n`` is 0.

    See Also
    --------
    responder_rates : Where it is used.

    Notes
    -----
    With z the normal quantile and p = k / n:
    ``(p + z^2 / 2n +- z sqrt(p (1 - p) / n + z^2 / 4n^2)) / (1 + z^2 / n)``
    (Wilson 1927); unlike the Wald interval it stays within 0-1 and keeps its
    coverage for small n and proportions near 0 or 1.

    References
    ----------
    Wilson E.B. 1927, J Am Stat Assoc 22:209-212; Newcombe R.G. 1998, Stat Med 17:857-872.
    """
    k = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / m
        denom = 1 + z**2 / m
        centre = (p + z**2 / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z**2 / (4 * m**2)) / denom
    lo = np.where(m > 0, np.clip(centre - half, 0, 1), np.nan)
    hi = np.where(m > 0, np.clip(centre + half, 0, 1), np.nan)
    return lo, hi


def responder_rates(summary: pd.DataFrame, *, settings: Settings = DEFAULT_SETTINGS,
                    mcid_points: float = 2.0, confidence: float = 0.95) -> pd.DataFrame:
    """Pain responders by each MCID rule and by reliable-change category, with confidence intervals.

    Parameters
    ----------
    summary
        One row per patient with the pain columns of
        :func:`analysis.cohort.cohort_summary`: ``pain_status`` (``"ok"`` when the
        change is measurable), ``mcid_rule`` (``"both"``, ``"absolute"``, ``"%"``,
        ``"neither"``) and ``rci_category``. Identified or pseudonymised.
    settings
        ``mcid_percent`` (for the rule's name).
    mcid_points
        The absolute MCID of the pain scale (for the rule's name; NPRS: 2 points).
    confidence
        Level of the Wilson intervals.

    Returns
    -------
    pandas.DataFrame
        One row per rule, in this order: ``"MCID: >= 2 points better"``,
        ``"MCID: >= 30 % better"``, ``"MCID: either rule (responder)"``,
        ``"MCID: both rules"``, then one row per category of
        :data:`RCI_CATEGORIES` (``"RCI: reliable improvement"``, ...):

        - ``rule`` (string), ``kind`` (string: ``"MCID"`` or ``"RCI"``)
        - ``n_responders`` (int64, patients meeting the rule or in the category)
        - ``n_evaluable`` (int64, patients whose change is measurable: valid
          baseline and current windows)
        - ``percent`` (float64, % of evaluable; NaN when none is evaluable)
        - ``ci_low``, ``ci_high`` (float64, %): Wilson interval
        - ``n_not_evaluable`` (int64, patients without a measurable change)

    See Also
    --------
    wilson_interval : The confidence interval of each rate.
    time_to_mcid : When the MCID was reached.

    Notes
    -----
    MCID responder (Ostelo et al. 2008): an improvement of at least the absolute
    MCID or at least ``mcid_percent`` of baseline; both rules are reported
    (docs/clinical-reference.md section 2). Reliable change (Jacobson & Truax 1991): |RCI| >
    ``rci_z``. The four MCID x RCI combinations are all meaningful, so the RCI
    rows are not a subset of the MCID rows.
    """
    ok = summary["pain_status"].astype("string").eq("ok").fillna(False).to_numpy(dtype=bool)
    rule = summary["mcid_rule"].astype("string").fillna("").to_numpy(dtype=object)[ok]
    rci = summary["rci_category"].astype("string").fillna("").to_numpy(dtype=object)[ok]
    n_ok = int(ok.sum())
    pct = f"{settings.mcid_percent * 100:g}"
    rows: list[tuple[str, str, int]] = [
        (f"MCID: >= {mcid_points:g} points better", "MCID", int(np.isin(rule, ["both", "absolute"]).sum())),
        (f"MCID: >= {pct} % better", "MCID", int(np.isin(rule, ["both", "%"]).sum())),
        ("MCID: either rule (responder)", "MCID", int(np.isin(rule, ["both", "absolute", "%"]).sum())),
        ("MCID: both rules", "MCID", int((rule == "both").sum())),
    ]
    rows += [(f"RCI: {c}", "RCI", int((rci == c).sum())) for c in RCI_CATEGORIES]
    k = np.array([r[2] for r in rows], dtype=np.int64)
    n = np.full(len(rows), n_ok, dtype=np.int64)
    lo, hi = wilson_interval(k, n, confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        percent = np.where(n > 0, k / np.maximum(n, 1) * 100.0, np.nan)
    return pd.DataFrame({
        "rule": pd.array([r[0] for r in rows], dtype="string"),
        "kind": pd.array([r[1] for r in rows], dtype="string"),
        "n_responders": k,
        "n_evaluable": n,
        "percent": percent,
        "ci_low": lo * 100.0,
        "ci_high": hi * 100.0,
        "n_not_evaluable": np.full(len(rows), len(summary) - n_ok, dtype=np.int64),
    })


@checks_tables(cohort="cohort")
def time_to_mcid(cohort: CohortTables, patient_ids: Iterable[str] | None = None, *,
                 settings: Settings = DEFAULT_SETTINGS, label: str = "time to MCID") -> KaplanMeierResult:
    """Kaplan-Meier curve of the days from programme start to the pain MCID.

    Parameters
    ----------
    cohort
        Canonical tables (for a researcher: :func:`as_canonical` of the research cohort).
    patient_ids
        Restrict the curve to these patients (pseudonyms); ``None`` = everyone.
    settings
        Diary windows and the MCID rules (:func:`analysis.outcomes.time_to_events`).
    label
        Name of the curve.

    Returns
    -------
    analysis.outcomes.KaplanMeierResult
        The curve (``time`` in days since programme start), its median and counts.

    Raises
    ------
    analysis.errors.NotEnoughDataError
        When no selected patient has a valid baseline.

    See Also
    --------
    responder_rates : Who reached it.
    analysis.outcomes.kaplan_meier : The estimator.

    Notes
    -----
    Event: the first day whose trailing diary window improved from the baseline
    by the MCID (2 points or ``mcid_percent``); censoring at the last day with a
    rating (Henschke et al. 2008). Patients without a valid baseline are left
    out (``n_excluded``).
    """
    events = time_to_events(cohort.pain, cohort.patients, settings=settings)
    if patient_ids is not None:
        wanted = pd.Index([str(p) for p in patient_ids], dtype="string")
        events = events.loc[events["patient_id"].astype("string").isin(wanted).to_numpy(dtype=bool)]
    if len(events) == 0:
        raise NotEnoughDataError("no patient in this selection; choose another physio group or start month")
    return kaplan_meier(events["time_to_mcid_days"], events["mcid_event"], label=label)
