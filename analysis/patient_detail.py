"""Everything the physio's patient view and the PDF progress report show about one patient.

:func:`patient_detail` runs every analysis of the toolkit on one patient's rows
and returns a :class:`PatientDetail` bundle; the dashboard page and
:func:`analysis.report_pdf.patient_report_pdf` draw from the same bundle, so the
screen and the report cannot disagree. Helpers turn it into the tables both show:

* :func:`restrict_to_dates` - the timeline tables cut to a date range (the
  headline numbers stay those of the analysis date);
* :func:`weekly_table` - one row per programme week (the CSV export);
* :func:`headline_table` - the headline numbers in words;
* :func:`thresholds_table` - every threshold used, with its source.

Nothing here is computed twice: each number comes from the analysis module that
owns it (adherence, trends, outcomes, scoring, flags, cohort).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.adherence import dose_completion
from analysis.cohort import cohort_summary, weekly_progress
from analysis.errors import RehabtrackError
from analysis.flags import FLAG_KINDS, load_progression, safety_flags
from analysis.instruments import INSTRUMENTS
from analysis.outcomes import pain_change, prom_change
from analysis.schema import CohortTables
from analysis.scoring import score_proms
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.timeline import DateLike, add_programme_time
from analysis.trends import rolling_pain
from analysis.validation import checks_tables

if TYPE_CHECKING:  # statsmodels is imported only when a model is given
    from analysis.expected import CalibrationResult, ExpectedCourseModel, NotEnoughData

__all__ = [
    "UnknownPatientError",
    "PatientDetail",
    "patient_detail",
    "restrict_to_dates",
    "weekly_table",
    "headline_table",
    "questionnaire_table",
    "thresholds_table",
    "FLAG_WORDS",
    "DESCRIPTIVE_NOTE",
]

#: Plain names of the flag kinds of :data:`analysis.flags.FLAG_KINDS`.
FLAG_WORDS: dict[str, str] = {
    "pain_flare": "pain flare",
    "self_reported_flare": "self-reported flare",
    "pain_during_exercise": "pain during exercise",
    "rapid_load_increase": "rapid load increase",
    "logging_stopped": "logging stopped",
}

#: The sentence every view of the safety and load indicators carries (docs/clinical-reference.md section 5).
DESCRIPTIVE_NOTE = (
    "Safety flags and load indicators are descriptive, for the physiotherapist; they are not advice to the "
    "patient. The acute:chronic load ratio comes from athletes and is contested (Impellizzeri et al. 2020): "
    "a rapid load increase is descriptive only."
)


class UnknownPatientError(RehabtrackError, LookupError):
    """A patient id that is not among the patients the user may see."""


@dataclass(frozen=True)
class PatientDetail:
    """The analyses of one patient, as of one date.

    Attributes
    ----------
    patient_id, physio_id
        The patient and their physiotherapist.
    programme_start
        First day of the programme (day 0, week 1).
    as_of
        Analysis date (midnight); entries after it are ignored.
    settings
        Thresholds used.
    summary
        The patient's row of :func:`analysis.cohort.cohort_summary` (every
        headline number, traffic light and attention reasons).
    pain_change
        The patient's row of :func:`analysis.outcomes.pain_change` (baseline and
        current windows, MCID thresholds used, RCI).
    daily
        :func:`analysis.trends.rolling_pain` rows: ``date``, ``day``, ``week``,
        ``nprs_mean`` (points; NaN on days without a rating), ``n_ratings``,
        ``nprs_rolling`` (points, trailing ``rolling_window_days`` mean),
        ``days_in_window``.
    weekly
        :func:`analysis.cohort.weekly_progress` rows (adherence and pain per week).
    dose
        :func:`analysis.adherence.dose_completion` rows (per exercise, side, week).
    load
        :func:`analysis.flags.load_progression` rows (weekly dose, change, ACWR,
        ``flagged``; descriptive only).
    flags
        :func:`analysis.flags.safety_flags` rows plus ``day`` and ``week``
        (programme time of ``date``).
    proms
        :func:`analysis.scoring.score_proms` rows plus ``day`` and ``week`` of
        ``completed_at``.
    prom_change
        :func:`analysis.outcomes.prom_change` rows (one per instrument).
    expected
        :func:`analysis.expected.expected_band` rows: the expected weekly pain of similar
        patients of this clinic with its 80 % interval, from the baseline only and given the
        patient's weeks so far (empty without a stored model or a baseline week).
    expected_text
        One sentence comparing the patient with similar patients of this clinic
        (:func:`analysis.expected.expected_status`), or why there is no comparison; ``""``
        without a stored model.
    expected_methods
        The methods paragraph of that comparison (:func:`analysis.expected.methods_text`, with
        the cross-validated coverage and error when the calibration is given); ``""`` without a model.
    """

    patient_id: str
    physio_id: str
    programme_start: pd.Timestamp
    as_of: pd.Timestamp
    settings: Settings
    summary: pd.Series
    pain_change: pd.Series
    daily: pd.DataFrame
    weekly: pd.DataFrame
    dose: pd.DataFrame
    load: pd.DataFrame
    flags: pd.DataFrame
    proms: pd.DataFrame
    prom_change: pd.DataFrame
    expected: pd.DataFrame | None = None
    expected_text: str = ""
    expected_methods: str = ""


def _rows(frame: pd.DataFrame, patient_id: str) -> pd.DataFrame:
    keep = frame["patient_id"].astype("string").eq(patient_id).fillna(False).to_numpy(dtype=bool)
    return frame.loc[keep].reset_index(drop=True)


def _upto(frame: pd.DataFrame, column: str, end: pd.Timestamp) -> pd.DataFrame:
    keep = (frame[column] < end).to_numpy(dtype=bool, na_value=False)
    return frame.loc[keep].reset_index(drop=True)


@checks_tables(cohort="cohort")
def patient_detail(
    cohort: CohortTables,
    patient_id: str,
    *,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    summary: pd.DataFrame | None = None,
    expected_model: ExpectedCourseModel | NotEnoughData | None = None,
    expected_calibration: CalibrationResult | None = None,
) -> PatientDetail:
    """Run every analysis on one patient.

    Parameters
    ----------
    cohort
        Canonical tables the user may see (e.g. a physio's caseload from
        :func:`analysis.access.cohort_for`); only ``patient_id``'s rows are used.
    patient_id
        The patient.
    as_of
        Analysis day (data up to and including it); ``None`` = the day after the
        patient's last session or pain entry.
    settings
        Thresholds.
    summary
        Optional :func:`analysis.cohort.cohort_summary` made with the same
        ``as_of`` and ``settings`` (e.g. the dashboard's cached caseload); the
        patient's row is taken from it instead of being recomputed. It must have
        a row for the patient.
    expected_model
        The clinic's stored expected-course model: fills ``expected`` (the band of similar
        patients of this clinic) and ``expected_text``; ``None`` leaves them empty.
    expected_calibration
        The stored model's cross-validated calibration, quoted in ``expected_methods``.

    Returns
    -------
    PatientDetail
        See the class for every table and its columns.

    Raises
    ------
    UnknownPatientError
        If ``patient_id`` is not in ``cohort.patients``.

    Notes
    -----
    Every analysis is per patient, so the numbers equal the patient's row of a
    whole-cohort run; restricting to the patient first makes a call take
    tens of milliseconds whatever the size of the cohort.
    """
    pid = str(patient_id)
    patients = _rows(cohort.patients, pid)
    if len(patients) == 0:
        raise UnknownPatientError(
            f"patient {pid!r} is not among the patients you can see; choose one from the list"
        )
    one = CohortTables(
        patients=patients,
        prescriptions=_rows(cohort.prescriptions, pid),
        sessions=_rows(cohort.sessions, pid),
        pain=_rows(cohort.pain, pid),
        proms=_rows(cohort.proms, pid),
    )
    when = one.as_of(as_of)
    after = when + pd.Timedelta(days=1)
    pain = _upto(one.pain, "recorded_at", after)
    sessions = _upto(one.sessions, "performed_at", after)
    proms = _upto(one.proms, "completed_at", after)

    known = None
    if summary is not None:
        match = summary.loc[summary["patient_id"].astype("string").eq(pid).fillna(False).to_numpy(dtype=bool)]
        known = match.iloc[0] if len(match) else None
    row = known if known is not None else cohort_summary(one, as_of=when, settings=settings).iloc[0]
    # as cohort_summary calls it: the current window ends on the last rating on or before as_of
    change = pain_change(pain, patients, settings=settings).iloc[0]
    daily = rolling_pain(pain, patients, window_days=settings.rolling_window_days)
    weekly = weekly_progress(one, as_of=when, settings=settings)
    dose = dose_completion(one.sessions, one.prescriptions, patients, pain=one.pain, as_of=when, settings=settings)
    load = load_progression(sessions, patients, settings=settings, prescriptions=one.prescriptions)
    flags = safety_flags(one.sessions, one.pain, patients, as_of=when, settings=settings,
                         prescriptions=one.prescriptions)
    flags = add_programme_time(flags, patients, "date")
    scored = score_proms(proms, settings=settings)
    changes = prom_change(scored, settings=settings)
    scored = add_programme_time(scored, patients, "completed_at")
    band, words, methods = None, "", ""
    if expected_model is not None:
        from analysis.expected import expected_band, expected_status, methods_text

        band = expected_band(expected_model, one, pid, when, settings=settings)
        words = str(expected_status(expected_model, one, when, settings=settings)["text"].iloc[0])
        methods = methods_text(expected_model, expected_calibration)
    return PatientDetail(
        patient_id=pid,
        physio_id=str(patients["physio_id"].iloc[0]),
        programme_start=pd.Timestamp(patients["programme_start"].iloc[0]),
        as_of=when,
        settings=settings,
        summary=row,
        pain_change=change,
        daily=daily,
        weekly=weekly,
        dose=dose,
        load=load,
        flags=flags,
        proms=scored,
        prom_change=changes,
        expected=band,
        expected_text=words,
        expected_methods=methods,
    )


def restrict_to_dates(detail: PatientDetail, start: DateLike | None, end: DateLike | None) -> PatientDetail:
    """The same detail with its timeline tables cut to a date range.

    Parameters
    ----------
    detail
        Output of :func:`patient_detail`.
    start, end
        First and last calendar day to show (inclusive); ``None`` = open.

    Returns
    -------
    PatientDetail
        ``daily``, ``flags`` and ``proms`` keep the rows dated in the range;
        ``weekly``, ``dose`` and ``load`` keep the programme weeks that overlap
        it. ``summary``, ``pain_change`` and ``prom_change`` (the headline
        numbers) are unchanged: they are those of ``detail.as_of``.

    Raises
    ------
    ValueError
        If ``start`` is after ``end``.
    """
    lo = pd.Timestamp(start).normalize() if start is not None else pd.Timestamp.min
    hi = pd.Timestamp(end).normalize() if end is not None else pd.Timestamp.max.normalize()
    if lo > hi:
        raise ValueError(f"the first day ({lo:%d %b %Y}) is after the last day ({hi:%d %b %Y}); swap them")

    def dated(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        d = pd.to_datetime(frame[column]).dt.normalize()
        return frame.loc[((d >= lo) & (d <= hi)).to_numpy(dtype=bool, na_value=False)].reset_index(drop=True)

    def weeks(frame: pd.DataFrame) -> pd.DataFrame:
        first = pd.to_datetime(frame["week_start"])
        last = first + pd.Timedelta(days=6)
        keep = ((last >= lo) & (first <= hi)).to_numpy(dtype=bool, na_value=False)
        return frame.loc[keep].reset_index(drop=True)

    return dataclasses.replace(
        detail,
        daily=dated(detail.daily, "date"),
        flags=dated(detail.flags, "date"),
        proms=dated(detail.proms, "completed_at"),
        weekly=weeks(detail.weekly),
        dose=weeks(detail.dose),
        load=weeks(detail.load),
    )


def weekly_table(detail: PatientDetail) -> pd.DataFrame:
    """One row per programme week: sessions, pain, dose and flags (the patient's CSV export).

    Parameters
    ----------
    detail
        Output of :func:`patient_detail` (or :func:`restrict_to_dates`).

    Returns
    -------
    pandas.DataFrame
        One row per week of ``detail.weekly``, in week order:

        - ``patient_id`` (string), ``week`` (int64, programme week)
        - ``week_start``, ``week_end`` (datetime64[ns], dates)
        - ``status`` (string): ``complete``, ``in progress``, ``not yet``, ``stopped logging``
        - ``days_elapsed`` (Int64, days 0-7): whole days of the week before the
          analysis day (fewer than 7: the week is partial, counted pro rata)
        - ``sessions_prescribed`` (float64, sessions), ``sessions_completed`` (Int64, session days)
        - ``adherence_percent`` (float64, % 0-100, capped): sessions done / prescribed
        - ``pain_mean``, ``pain_median`` (float64, NPRS points 0-10): of the daily means
        - ``pain_ratings`` (Int64, ratings), ``days_rated`` (Int64, days)
        - ``exercise_dose`` (float64, repetition-seconds): :func:`analysis.flags.load_progression`
        - ``planned_dose`` (float64, repetition-seconds): the week's prescribed dose
        - ``acute_chronic_ratio`` (float64, ratio; descriptive only): the dose over the
          chronic load floored at the prescribed load (:func:`analysis.flags.load_progression`)
        - ``flags_<kind>`` (int64, flags) for each kind of :data:`analysis.flags.FLAG_KINDS`
          whose ``date`` falls in the week
    """
    w = detail.weekly
    out = pd.DataFrame(
        {
            "patient_id": pd.array(w["patient_id"], dtype="string"),
            "week": w["week"].astype(np.int64),
            "week_start": pd.to_datetime(w["week_start"]),
            "week_end": pd.to_datetime(w["week_end"]),
            "status": pd.array(w["status"].astype(object), dtype="string"),
            "days_elapsed": pd.array(w["days_elapsed"], dtype="Int64"),
            "sessions_prescribed": w["sessions_prescribed"].astype(float),
            "sessions_completed": pd.array(w["sessions_completed"], dtype="Int64"),
            "adherence_percent": w["adherence_rate"].astype(float) * 100.0,
            "pain_mean": w["nprs_mean"].astype(float),
            "pain_median": w["nprs_median"].astype(float),
            "pain_ratings": pd.array(w["n_ratings"], dtype="Int64"),
            "days_rated": pd.array(w["days_rated"], dtype="Int64"),
        }
    )
    load = detail.load.set_index(detail.load["week"].astype(np.int64))
    out["exercise_dose"] = out["week"].map(load["dose"]).astype(float)
    out["planned_dose"] = out["week"].map(load["planned_dose"]).astype(float)
    out["acute_chronic_ratio"] = out["week"].map(load["acwr"]).astype(float)
    flags = detail.flags
    fweek = pd.to_numeric(flags["week"], errors="coerce")
    for kind in FLAG_KINDS:
        counts = fweek[flags["kind"].astype("string").eq(kind).fillna(False).to_numpy(dtype=bool)].value_counts()
        out[f"flags_{kind}"] = out["week"].map(counts).fillna(0).astype(np.int64)
    # week_start may be missing for weeks with pain but no prescription (weekly_progress keeps them)
    return out.sort_values("week", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- words


def _num(x: Any, decimals: int = 1) -> str:
    if x is None or pd.isna(x):
        return "n/a"
    v = round(float(x), decimals) + 0.0
    return f"{v:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{v:.0f}"


def _signed(x: Any, decimals: int = 1) -> str:
    text = _num(x, decimals)
    return "+" + text if text not in ("n/a", "0") and float(x) > 0 else text


def _days(x: Any) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{int(x)} day" + ("" if int(x) == 1 else "s")


def _yes(x: Any) -> bool | None:
    return None if x is None or pd.isna(x) else bool(x)


def _q_rule(key: str, settings: Settings) -> str:
    inst = INSTRUMENTS[key]
    unit = "%-points" if key == "odi" else "points"
    return f"rule {inst.mcid_abs:g} {unit} or {settings.mcid_percent * 100:g} % better"


def _q_text(s: pd.Series, key: str, unit: str, settings: Settings = DEFAULT_SETTINGS) -> str:
    latest = s[f"{key}_latest"]
    if pd.isna(latest):
        return "no scored questionnaire"
    when = pd.Timestamp(s[f"{key}_latest_at"])
    text = f"{_num(latest)} {'%' if unit == '%-points' else unit} on {when:%d %b %Y}"
    if pd.isna(s[f"{key}_change"]):
        return text + " (one scored questionnaire: no change yet)"
    met = _yes(s[f"{key}_mcid_met"])
    rci = s[f"{key}_rci_category"]
    rci_txt = "reliable change not available" if pd.isna(rci) or str(rci) == "not available" else str(rci)
    return (f"{text}; change {_signed(s[f'{key}_change'])} {unit} since the first; "
            f"MCID {'met' if met else 'not met'} ({_q_rule(key, settings)}); {rci_txt}")


def headline_table(detail: PatientDetail) -> pd.DataFrame:
    """The headline numbers of one patient, in words, for the page and the PDF.

    Parameters
    ----------
    detail
        Output of :func:`patient_detail`.

    Returns
    -------
    pandas.DataFrame
        One row per headline, in reading order: ``measure`` (string) and
        ``value`` (string, with units). Measures: programme, analysis date,
        status (traffic light), reasons for attention, pain at baseline, pain now,
        change in pain, MCID (and the rule met), reliable change, pain trend,
        recovered, session adherence, current streak, last entry, open flags,
        ODI and RMDQ (latest, change, MCID, reliable change).
    """
    s, c, st = detail.summary, detail.pain_change, detail.settings
    rows: list[tuple[str, str]] = []
    week = s["programme_week"]
    weeks = int(s["programme_weeks"])
    prog = f"started {detail.programme_start:%d %b %Y}"
    if pd.isna(week):
        prog = f"not started yet ({prog})"
    elif weeks and int(week) > weeks:
        prog = f"finished: {weeks}-week programme, now week {int(week)} since the start ({prog})"
    else:
        prog = f"week {int(week)}" + (f" of {weeks}" if weeks else "") + f" ({prog})"
    rows.append(("Programme", prog))
    rows.append(("Analysis date", f"{detail.as_of:%d %b %Y}"))
    rows.append(("Status", f"{s['traffic_light']} (attention score {int(s['attention_score'])})"))
    reasons = str(s["attention_reasons"]) if str(s["attention_reasons"]) else "none"
    rows.append(("Reasons for attention", reasons))
    rows.append(("Pain at baseline", f"{_num(c['baseline'])} points (mean of the first {st.baseline_window_days} "
                 f"days; {_num(c['baseline_n'], 0)} days rated)"))
    rows.append(("Pain now", f"{_num(c['current'])} points (mean of the last {st.current_window_days} days with "
                 f"ratings; {_num(c['current_n'], 0)} days rated)"))
    ok = str(s["pain_status"]) == "ok"
    if ok:
        rows.append(("Change in pain", f"{_signed(s['pain_change'])} points ({_signed(s['pain_pct_change'], 0)} % "
                     "of baseline; below 0 = less pain)"))
        rows.append(("MCID (meaningful change in pain)", str(s["mcid_text"])))
        rows.append(("Reliable change", f"{s['rci_category']} (RCI {_signed(s['rci'], 2)}; |RCI| > {st.rci_z:g} "
                     "is reliable)"))
    else:
        rows.append(("Change in pain", f"not measurable: {s['pain_status']}"))
    rows.append(("Pain trend (Mann-Kendall direction, least-squares slope of daily pain)", str(s["trend_text"])))
    rec = _yes(s["recovered"])
    rows.append(("Recovered (pain 0-1 for 7 days)", "n/a" if rec is None else ("yes" if rec else "no")))
    adh = s["adherence"]
    if pd.isna(adh):
        rows.append(("Session adherence", "nothing prescribed yet"))
    else:
        rows.append(("Session adherence", f"{_num(adh * 100, 0)} % ({int(s['sessions_completed'])} of "
                     f"{_num(s['sessions_prescribed'])} prescribed sessions; adherent from "
                     f"{st.adherent_threshold * 100:.0f} %)"))
    rows.append(("Current streak", f"{int(s['current_streak_weeks'])} weeks meeting the plan"))
    last = s["last_entry_date"]
    rows.append(("Last entry", "none" if pd.isna(last) else
                 f"{pd.Timestamp(last):%d %b %Y} ({_days(s['days_since_last_entry'])} ago; "
                 f"{s['logging_status']})"))
    open_parts = [f"{int(s[f'open_{k}'])} {FLAG_WORDS[k]}" for k in FLAG_KINDS if int(s[f"open_{k}"]) > 0]
    rows.append(("Open safety flags", f"{int(s['open_total'])}" + (f" ({', '.join(open_parts)})" if open_parts
                                                                    else "")))
    rows.append(("ODI (Oswestry, 0-100 %)", _q_text(s, "odi", "%-points", st)))
    rows.append(("RMDQ (Roland-Morris, 0-24)", _q_text(s, "rmdq", "points", st)))
    return pd.DataFrame(rows, columns=["measure", "value"]).astype("string")


def questionnaire_table(detail: PatientDetail) -> pd.DataFrame:
    """The patient's questionnaire changes in words and rounded numbers, with the MCID rule used.

    Parameters
    ----------
    detail
        Output of :func:`patient_detail`.

    Returns
    -------
    pandas.DataFrame
        One row per instrument of ``detail.prom_change``, every column text:
        ``questionnaire``, ``scored`` (how many), ``first``, ``latest`` and
        ``change`` (rounded to 1 decimal, with the unit), ``MCID`` (met or not,
        with the rule: e.g. "met (rule 10 %-points or 30 % better)"), ``reliable
        change`` and ``status``.
    """
    pc = detail.prom_change
    rows = []
    for _, r in pc.iterrows():  # one row per questionnaire (ODI, RMDQ)
        key = str(r["instrument"])
        unit = "%" if key == "odi" else "points"
        met = _yes(r.get("mcid_met"))
        rule = _q_rule(key, detail.settings) if key in INSTRUMENTS and INSTRUMENTS[key].mcid_abs else ""
        mcid = "n/a" if met is None else ("met" if met else "not met") + (f" ({rule})" if rule else "")
        rows.append((key.upper(), _num(r["n_scored"], 0), f"{_num(r['baseline'])} {unit}",
                     f"{_num(r['latest'])} {unit}", f"{_signed(r['change'])} {unit}", mcid,
                     "n/a" if pd.isna(r["rci_category"]) else str(r["rci_category"]), str(r["status"])))
    return pd.DataFrame(rows, columns=["questionnaire", "scored", "first", "latest", "change", "MCID",
                                       "reliable change", "status"]).astype("string")


_THRESHOLDS: tuple[tuple[str, str], ...] = (
    ("adherent_threshold", "Adherent"),
    ("baseline_window_days", "Baseline pain window"),
    ("current_window_days", "Current pain window"),
    ("min_window_ratings", "Ratings needed in a window"),
    ("mcid_percent", "MCID, % rule"),
    ("rci_z", "Reliable change"),
    ("min_trend_days", "Days needed for a trend"),
    ("trend_confidence", "Trend confidence"),
    ("rolling_window_days", "Rolling mean (charts)"),
    ("flare_rise_points", "Pain flare"),
    ("pain_during_max", "Pain during exercise, maximum"),
    ("pain_during_rise", "Pain during exercise, rise"),
    ("acwr_max", "Rapid load increase (descriptive only)"),
    ("acwr_chronic_weeks", "Chronic load weeks"),
    ("logging_stopped_days", "Logging stopped"),
)


def thresholds_table(settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """The thresholds a progress report uses, with their values and sources.

    Parameters
    ----------
    settings
        Thresholds in use.

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold`` (string, plain name), ``setting``
        (string, the :class:`~analysis.settings.Settings` field or
        ``instrument:<key>``), ``value`` (string, with unit) and ``source``
        (string, the citation). The instrument MCIDs (NPRS, ODI, RMDQ) come from
        :mod:`analysis.instruments`.
    """
    table = settings.as_table().set_index("setting")
    rows = []
    for key, name in _THRESHOLDS:
        value, unit = table.loc[key, "value"], str(table.loc[key, "unit"])
        if unit in ("fraction", "probability"):
            text = f"{float(value) * 100:g} %"
        else:
            text = f"{value:g} {unit}".strip()
        rows.append((name, key, text, str(table.loc[key, "citation"])))
    for key in ("nprs", "odi", "rmdq"):
        inst = INSTRUMENTS[key]
        unit = {"{score}": "points", "%": "% points"}.get(inst.unit, "points")
        text = f"{inst.mcid_abs:g} {unit} or {settings.mcid_percent * 100:g} % of baseline"
        if inst.mdc is not None:
            text += f"; MDC {inst.mdc:g}"
        rows.append((f"MCID {inst.key.upper()}", f"instrument:{key}", text, inst.citation))
    return pd.DataFrame(rows, columns=["threshold", "setting", "value", "source"]).astype("string")
