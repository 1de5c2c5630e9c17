"""The references the benchmark compares rehabtrack with, computing the same aggregates.

* :func:`duckdb_aggregates` - DuckDB SQL straight on the Parquet files: weekly
  session adherence per patient-week (the definition of
  :func:`analysis.adherence.weekly_adherence`), overall adherence per patient
  (:func:`analysis.adherence.adherence_summary`), and per patient the OLS
  slope (``regr_slope``) and the exact Theil-Sen slope (median of all pairwise
  slopes from a self-join) of daily mean pain on programme day, as
  :func:`analysis.trends.pain_trends`.
* :func:`project_aggregates` - the same aggregates from the project's own
  functions: ``weekly_adherence`` and ``daily_pain`` + ``grouped_ols`` +
  ``grouped_theil_sen`` (the kernels behind ``pain_trends``).
* :func:`loop_aggregates` - the same aggregates with a plain Python loop over
  patients: a boolean mask per patient over the full tables, pandas and scipy
  (``linregress``, ``theilslopes``) per patient. The slow baseline.
* :func:`compare` - the equality checks run before any timing: weekly
  adherence exactly (``sessions_prescribed``, ``sessions_completed``,
  ``adherence_rate``, bit for bit, NaN where NaN), slopes to 1e-9 points/week.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from analysis.adherence import weekly_adherence
from analysis.schema import CohortTables
from analysis.settings import DEFAULT_SETTINGS
from analysis.trends import daily_pain, grouped_ols, grouped_theil_sen

__all__ = [
    "SLOPE_TOLERANCE",
    "OVERALL_TOLERANCE",
    "Aggregates",
    "duckdb_sql",
    "duckdb_aggregates",
    "project_aggregates",
    "loop_aggregates",
    "compare",
    "EqualityError",
]

#: Largest allowed absolute difference of a slope (NPRS points per week).
SLOPE_TOLERANCE = 1e-9
#: Overall adherence is a ratio of float sums whose order differs between engines; weekly values are exact.
OVERALL_TOLERANCE = 1e-12

_WEEKLY_COLUMNS = ["patient_id", "week", "sessions_prescribed", "sessions_completed", "adherence_rate"]
_PATIENT_COLUMNS = ["patient_id", "adherence", "ols_slope_per_week", "theil_sen_slope_per_week"]


class EqualityError(AssertionError):
    """The project's numbers differ from the reference's: no timing is trusted."""


@dataclass(frozen=True)
class Aggregates:
    """The compared aggregates.

    Attributes
    ----------
    weekly
        One row per patient-week: ``patient_id`` (str), ``week`` (int),
        ``sessions_prescribed`` (float, sessions), ``sessions_completed`` (int,
        days), ``adherence_rate`` (float 0-1, NaN when nothing prescribed),
        sorted by patient and week.
    patients
        One row per patient with any of them: ``patient_id``, ``adherence``
        (overall, fraction; NaN when unknown), ``ols_slope_per_week`` and
        ``theil_sen_slope_per_week`` (NPRS points per week; NaN with fewer than
        ``min_trend_days`` rated days), sorted by patient.
    """

    weekly: pd.DataFrame
    patients: pd.DataFrame


# --------------------------------------------------------------------------- DuckDB

_SQL = """
WITH pat AS (  -- pid: an integer code per patient, so grouping keys are integers, not strings
    SELECT patient_id, file_row_number AS pid, CAST(programme_start AS DATE) AS start,
           date_diff('day', CAST(programme_start AS DATE), DATE '{as_of}') AS as_of_day
    FROM read_parquet('{patients}', file_row_number = true)
    WHERE programme_start IS NOT NULL
),
rx AS (
    SELECT p.pid, r.exercise, r.side, r.file_row_number AS row_no,
           least(r.sessions_per_week, 7) AS rate,
           date_diff('day', p.start, CAST(r.start_date AS DATE)) AS p_first,
           date_diff('day', p.start, CAST(r.end_date AS DATE)) AS p_last,
           p.as_of_day
    FROM read_parquet('{prescriptions}', file_row_number = true) r JOIN pat p USING (patient_id)
    WHERE r.start_date IS NOT NULL AND r.sets > 0 AND r.reps > 0 AND r.sessions_per_week > 0
      AND NOT (r.end_date IS NOT NULL AND r.end_date < r.start_date)
),
periods AS (  -- a later period of the same exercise and side replaces an earlier one from its start
    SELECT pid, rate, as_of_day, p_first, greatest(p_first, 0) AS p_start,
           CASE WHEN next_start IS NULL THEN coalesce(p_last, greatest(as_of_day, p_first))
                WHEN p_last IS NOT NULL THEN least(p_last, next_start - 1)
                ELSE next_start - 1 END AS p_end
    FROM (SELECT *, lead(p_first) OVER (PARTITION BY pid, exercise, side ORDER BY p_first, row_no)
                    AS next_start FROM rx)
),
usable AS (SELECT * FROM periods WHERE p_end >= p_first AND p_end >= 0),
programme AS (SELECT pid, max(p_end) // 7 + 1 AS n_weeks FROM usable GROUP BY pid),
weeks AS (SELECT pid, unnest(range(1, n_weeks + 1)) AS week FROM programme),
day_rate AS (  -- the largest weekly target among the periods active on each day
    SELECT pid, day, max(rate) AS rate, any_value(as_of_day) AS as_of_day
    FROM (SELECT pid, rate, as_of_day, unnest(range(p_start, p_end + 1)) AS day
          FROM (SELECT DISTINCT pid, rate, as_of_day, p_start, p_end FROM usable))  -- exercises sharing dates once
    GROUP BY pid, day
),
week_rate AS (
    SELECT pid, day // 7 + 1 AS week, sum(rate) AS rate_all,
           sum(CASE WHEN day < as_of_day THEN rate ELSE 0 END) AS rate_elapsed  -- whole days before as_of
    FROM day_rate GROUP BY pid, week
),
session_days AS (
    SELECT DISTINCT p.pid, p.as_of_day, date_diff('day', p.start, CAST(s.performed_at AS DATE)) AS day
    FROM read_parquet('{sessions}') s JOIN pat p USING (patient_id)
    WHERE s.performed_at IS NOT NULL AND s.sets > 0
),
done AS (
    SELECT s.pid, s.day // 7 + 1 AS week, count(*) AS completed
    FROM session_days s JOIN programme g USING (pid)
    WHERE s.day >= 0 AND s.day <= s.as_of_day AND s.day < 7 * g.n_weeks
    GROUP BY s.pid, week
),
weekly AS (
    SELECT p.patient_id, w.week, 7 * (w.week - 1) > p.as_of_day AS not_yet,
           CAST(CASE WHEN 7 * (w.week - 1) > p.as_of_day THEN coalesce(r.rate_all, 0)
                     ELSE coalesce(r.rate_elapsed, 0) END AS DOUBLE) / 7.0 AS sessions_prescribed,
           coalesce(d.completed, 0) AS sessions_completed
    FROM weeks w JOIN pat p USING (pid)
    LEFT JOIN week_rate r USING (pid, week)
    LEFT JOIN done d USING (pid, week)
)
SELECT patient_id, week, not_yet, sessions_prescribed, sessions_completed,
       CASE WHEN NOT not_yet AND sessions_prescribed > 0
            THEN least(CAST(sessions_completed AS DOUBLE) / sessions_prescribed, 1.0) END AS adherence_rate
FROM weekly
"""

_SQL_TRENDS = """
WITH pat AS (
    SELECT patient_id, file_row_number AS pid, CAST(programme_start AS DATE) AS start
    FROM read_parquet('{patients}', file_row_number = true)
    WHERE programme_start IS NOT NULL
),
daily AS (  -- mean NPRS per patient and programme day, days 0 .. as_of
    SELECT p.pid, date_diff('day', p.start, CAST(n.recorded_at AS DATE)) AS day, avg(n.nprs) AS nprs
    FROM read_parquet('{pain}') n JOIN pat p USING (patient_id)
    WHERE n.recorded_at IS NOT NULL AND n.nprs IS NOT NULL AND CAST(n.recorded_at AS DATE) <= DATE '{as_of}'
    GROUP BY ALL
    HAVING day >= 0
),
enough AS (SELECT pid FROM daily GROUP BY pid HAVING count(*) >= {min_days}),
d AS (SELECT * FROM daily SEMI JOIN enough USING (pid)),
ols AS (SELECT pid, regr_slope(nprs, day) * 7 AS ols_slope_per_week FROM d GROUP BY pid),
ts AS (
    SELECT a.pid, median((b.nprs - a.nprs) / (b.day - a.day)) * 7 AS theil_sen_slope_per_week
    FROM d a JOIN d b ON a.pid = b.pid AND b.day > a.day
    GROUP BY a.pid
)
SELECT p.patient_id, ols_slope_per_week, theil_sen_slope_per_week
FROM ols JOIN ts USING (pid) JOIN pat p USING (pid)
"""

_SQL_OVERALL = """
SELECT patient_id,
       sum(least(CAST(sessions_completed AS DOUBLE), sessions_prescribed)) / sum(sessions_prescribed) AS adherence
FROM weekly_result WHERE NOT not_yet GROUP BY patient_id HAVING sum(sessions_prescribed) > 0
"""


def duckdb_sql(paths: dict[str, Path], as_of: pd.Timestamp, min_days: int) -> dict[str, str]:
    """The SQL of the reference, with file paths and the analysis date filled in."""
    fill = {name: str(path).replace("'", "''") for name, path in paths.items()}
    fill.update(as_of=pd.Timestamp(as_of).date().isoformat(), min_days=int(min_days))
    return {"weekly": _SQL.format(**fill), "trends": _SQL_TRENDS.format(**fill), "overall": _SQL_OVERALL}


def duckdb_aggregates(
    paths: dict[str, Path], as_of: pd.Timestamp, *, threads: int = 2, min_days: int | None = None
) -> Aggregates:
    """Weekly and overall adherence and OLS / Theil-Sen pain slopes in DuckDB SQL on the Parquet files.

    Parameters
    ----------
    paths
        Parquet file of each canonical table (``patients``, ``prescriptions``,
        ``sessions``, ``pain``).
    as_of
        Analysis date.
    threads
        DuckDB worker threads.
    min_days
        Fewest rated days for a slope (default ``settings.min_trend_days``).

    Returns
    -------
    Aggregates
        See :class:`Aggregates`.
    """
    import duckdb

    sql = duckdb_sql(paths, as_of, DEFAULT_SETTINGS.min_trend_days if min_days is None else min_days)
    con = duckdb.connect(config={"threads": int(threads)})
    try:
        con.execute("CREATE TEMP TABLE weekly_result AS " + sql["weekly"])
        weekly = con.sql("SELECT * FROM weekly_result").df()
        overall = con.sql(sql["overall"]).df()
        trends = con.sql(sql["trends"]).df()
    finally:
        con.close()
    weekly = weekly.drop(columns="not_yet").sort_values(["patient_id", "week"], kind="stable")
    per_patient = overall.merge(trends, on="patient_id", how="outer").sort_values("patient_id", kind="stable")
    return Aggregates(_tidy_weekly(weekly), _tidy_patients(per_patient))


# --------------------------------------------------------------------------- the project


def project_aggregates(cohort: CohortTables, as_of: pd.Timestamp, settings=DEFAULT_SETTINGS) -> Aggregates:
    """The same aggregates from rehabtrack's functions (the kernels behind ``pain_trends``).

    ``weekly_adherence`` for the weekly rates; ``daily_pain`` then
    ``grouped_ols`` and ``grouped_theil_sen`` on the patients with at least
    ``settings.min_trend_days`` rated days, as :func:`analysis.trends.pain_trends`
    does; the overall adherence is ``sum(min(completed, prescribed)) /
    sum(prescribed)`` over elapsed weeks (:func:`analysis.adherence.adherence_summary`).
    """
    weekly = weekly_adherence(
        cohort.sessions, cohort.prescriptions, cohort.patients, pain=cohort.pain, as_of=as_of, settings=settings
    )
    pain = cohort.pain
    upto = pain["recorded_at"] < pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    daily = daily_pain(pain[upto] if not upto.all() else pain, cohort.patients)
    registry = pd.Index(cohort.patients["patient_id"].astype("string"))
    code = registry.get_indexer(daily["patient_id"].astype("string"))
    n = len(registry)
    n_days = np.bincount(code, minlength=n)
    keep = n_days[code] >= max(int(settings.min_trend_days), 1)
    x = daily["day"].to_numpy(dtype=np.float64)[keep]
    y = daily["nprs_mean"].to_numpy(dtype=np.float64)[keep]
    ols = grouped_ols(code[keep], x, y, n_groups=n)
    ts = grouped_theil_sen(code[keep], x, y, n_groups=n)
    elapsed = weekly["status"] != "not yet"
    wk = weekly[elapsed & (weekly["sessions_prescribed"] > 0)]
    wcode = registry.get_indexer(wk["patient_id"].astype("string"))
    prescribed = np.bincount(wcode, wk["sessions_prescribed"].to_numpy(np.float64), minlength=n)
    capped = np.minimum(wk["sessions_completed"].to_numpy(np.float64), wk["sessions_prescribed"].to_numpy(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        overall = np.where(prescribed > 0, np.bincount(wcode, capped, minlength=n) / prescribed, np.nan)
    per_patient = pd.DataFrame({
        "patient_id": registry,
        "adherence": overall,
        "ols_slope_per_week": ols["slope"].to_numpy() * 7.0,
        "theil_sen_slope_per_week": ts["slope"].to_numpy() * 7.0,
    })
    return Aggregates(_tidy_weekly(weekly), _tidy_patients(per_patient))


def summary_aggregates(summary: pd.DataFrame) -> pd.DataFrame:
    """The per-patient compared columns of :func:`analysis.cohort.cohort_summary`."""
    # the summary carries the trend rule's slope (flare ratings left out), not the all-days slopes the
    # references compute: its per-patient check is the overall adherence; the slopes are checked on the kernels
    return _tidy_patients(summary[[c for c in _PATIENT_COLUMNS if c in summary.columns]])


# --------------------------------------------------------------------------- per-patient loop


def _loop_patient_weeks(rx: pd.DataFrame, s: pd.DataFrame, start: pd.Timestamp, as_of_day: int) -> pd.DataFrame:
    """Weekly adherence of one patient, the definition of ``weekly_adherence`` written plainly."""
    periods = []
    for row_no, r in enumerate(rx.itertuples(index=False)):
        if pd.isna(r.start_date) or not (r.sets > 0 and r.reps > 0 and r.sessions_per_week > 0):
            continue
        first = (r.start_date.normalize() - start).days
        last = None if pd.isna(r.end_date) else (r.end_date.normalize() - start).days
        if last is not None and last < first:
            continue
        periods.append((str(r.exercise), str(r.side), first, row_no, last, min(int(r.sessions_per_week), 7)))
    periods.sort()
    usable = []
    for i, (ex, side, first, _, last, rate) in enumerate(periods):
        following = periods[i + 1] if i + 1 < len(periods) else None
        has_next = following is not None and following[:2] == (ex, side)
        end = last if last is not None else max(as_of_day, first)
        if has_next:
            end = min(end, following[2] - 1) if last is not None else following[2] - 1
        if end >= first and end >= 0:
            usable.append((max(first, 0), end, rate))
    if not usable:
        return pd.DataFrame(columns=_WEEKLY_COLUMNS[1:])
    n_weeks = max(end for _, end, _ in usable) // 7 + 1
    rate = np.zeros(7 * n_weeks)
    for first, end, r in usable:
        rate[first : end + 1] = np.maximum(rate[first : end + 1], r)
    days = {
        (t.normalize() - start).days
        for t, sets in zip(s["performed_at"], s["sets"], strict=True)
        if not pd.isna(t) and not pd.isna(sets) and sets > 0
    }
    rows = []
    for week in range(1, n_weeks + 1):
        first = 7 * (week - 1)
        not_yet = first > as_of_day
        elapsed = 7 if not_yet else min(max(as_of_day - first, 0), 7)  # whole days before as_of
        prescribed = rate[first : first + elapsed].sum() / 7.0
        completed = sum(1 for d in days if first <= d < first + 7 and d <= as_of_day)
        adherence = min(completed / prescribed, 1.0) if prescribed > 0 and not not_yet else np.nan
        rows.append((week, prescribed, completed, adherence, not_yet))
    return pd.DataFrame(rows, columns=["week", "sessions_prescribed", "sessions_completed", "adherence_rate",
                                       "not_yet"])


def loop_aggregates(
    cohort: CohortTables, as_of: pd.Timestamp, patient_ids: list[str] | None = None, settings=DEFAULT_SETTINGS
) -> Aggregates:
    """The same aggregates with a Python loop over patients (a mask per patient over the full tables).

    Parameters
    ----------
    cohort
        The canonical tables (whole cohort: each mask scans every row, as such a loop does).
    as_of
        Analysis date.
    patient_ids
        The patients to compute (default all): the benchmark times a subset and
        extrapolates linearly.
    """
    as_of = pd.Timestamp(as_of).normalize()
    patients = cohort.patients
    ids = list(patients["patient_id"].astype(str)) if patient_ids is None else list(patient_ids)
    starts = dict(zip(patients["patient_id"].astype(str), patients["programme_start"], strict=True))
    weekly_parts, per_patient = [], []
    min_days = max(int(settings.min_trend_days), 1)
    for pid in ids:
        start = starts[pid].normalize()
        as_of_day = (as_of - start).days
        rx = cohort.prescriptions[cohort.prescriptions["patient_id"] == pid]
        s = cohort.sessions[cohort.sessions["patient_id"] == pid]
        p = cohort.pain[cohort.pain["patient_id"] == pid]
        weeks = _loop_patient_weeks(rx, s, start, as_of_day)
        weeks.insert(0, "patient_id", pid)
        weekly_parts.append(weeks)
        elapsed = weeks[~weeks["not_yet"].astype(bool) & (weeks["sessions_prescribed"] > 0)]
        total = elapsed["sessions_prescribed"].sum()
        capped = np.minimum(elapsed["sessions_completed"], elapsed["sessions_prescribed"]).sum()
        p = p[p["recorded_at"].notna() & p["nprs"].notna() & (p["recorded_at"] < as_of + pd.Timedelta(days=1))]
        day = (p["recorded_at"].dt.normalize() - start).dt.days
        daily = p["nprs"].astype(float).groupby(day.to_numpy()).mean()
        daily = daily[daily.index >= 0]
        ols = ts = np.nan
        if len(daily) >= min_days:
            x, y = daily.index.to_numpy(dtype=float), daily.to_numpy(dtype=float)
            ols = stats.linregress(x, y).slope * 7.0
            ts = stats.theilslopes(y, x).slope * 7.0
        per_patient.append((pid, capped / total if total > 0 else np.nan, ols, ts))
    weekly = pd.concat(weekly_parts, ignore_index=True) if weekly_parts else pd.DataFrame(columns=_WEEKLY_COLUMNS)
    return Aggregates(_tidy_weekly(weekly), _tidy_patients(pd.DataFrame(per_patient, columns=_PATIENT_COLUMNS)))


# --------------------------------------------------------------------------- comparison


def _tidy_weekly(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "patient_id": frame["patient_id"].astype(str).to_numpy(dtype=object),
        "week": frame["week"].to_numpy(dtype=np.int64),
        "sessions_prescribed": frame["sessions_prescribed"].to_numpy(dtype=np.float64),
        "sessions_completed": frame["sessions_completed"].to_numpy(dtype=np.int64),
        "adherence_rate": pd.to_numeric(frame["adherence_rate"]).to_numpy(dtype=np.float64, na_value=np.nan),
    })
    return out.sort_values(["patient_id", "week"], kind="stable").reset_index(drop=True)


def _tidy_patients(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"patient_id": frame["patient_id"].astype(str).to_numpy(dtype=object)})
    for col in _PATIENT_COLUMNS[1:]:
        if col in frame.columns:
            out[col] = pd.to_numeric(frame[col]).to_numpy(dtype=np.float64, na_value=np.nan)
    return out.sort_values("patient_id", kind="stable").reset_index(drop=True)


def _weekly_diff(ours: pd.DataFrame, ref: pd.DataFrame) -> dict:
    keys = ["patient_id", "week"]
    merged = ours.merge(ref, on=keys, how="outer", suffixes=("", "_ref"), indicator=True)
    only = merged["_merge"] != "both"
    out = {"rows": int(len(ours)), "rows_ref": int(len(ref)), "rows_unmatched": int(only.sum())}
    both = merged[~only]
    for col in ("sessions_prescribed", "sessions_completed", "adherence_rate"):
        a = both[col].to_numpy(dtype=np.float64)
        b = both[col + "_ref"].to_numpy(dtype=np.float64)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        out[f"{col}_mismatches"] = int((~same).sum())
        if (~same).any():
            first = both.loc[~same, [*keys, col, col + "_ref"]].head(3)
            out[f"{col}_examples"] = first.astype(str).to_dict("records")
    out["ok"] = out["rows_unmatched"] == 0 and all(
        out[f"{c}_mismatches"] == 0 for c in ("sessions_prescribed", "sessions_completed", "adherence_rate")
    )
    return out


def _patient_diff(ours: pd.DataFrame, ref: pd.DataFrame, columns: list[str]) -> dict:
    merged = ours.merge(ref, on="patient_id", how="left", suffixes=("", "_ref"))
    out: dict = {"patients": int(len(ours))}
    ok = True
    for col in columns:
        tol = OVERALL_TOLERANCE if col == "adherence" else SLOPE_TOLERANCE
        a = merged[col].to_numpy(dtype=np.float64)
        b = merged[col + "_ref"].to_numpy(dtype=np.float64)
        both_nan = np.isnan(a) & np.isnan(b)
        with np.errstate(invalid="ignore"):
            diff = np.where(both_nan, 0.0, np.abs(a - b))
        diff = np.where(np.isnan(diff), np.inf, diff)  # NaN on one side only
        out[f"{col}_max_abs_diff"] = float(diff.max()) if len(diff) else 0.0
        out[f"{col}_n_compared"] = int((~both_nan).sum())
        bad = diff > tol
        out[f"{col}_mismatches"] = int(bad.sum())
        if bad.any():
            out[f"{col}_examples"] = merged.loc[bad, ["patient_id", col, col + "_ref"]].head(3).astype(str).to_dict(
                "records")
            ok = False
    out["ok"] = ok
    return out


def compare(ours: Aggregates, ref: Aggregates, *, weekly: bool = True,
            columns: tuple[str, ...] = ("adherence", "ols_slope_per_week", "theil_sen_slope_per_week")) -> dict:
    """Compare two sets of aggregates; ``result["ok"]`` is False on any difference.

    Weekly adherence is compared exactly (same patient-weeks; prescribed,
    completed and the capped rate bit for bit, NaN where NaN); per-patient
    slopes to :data:`SLOPE_TOLERANCE` and overall adherence to
    :data:`OVERALL_TOLERANCE` (NaN where NaN). Patients missing from ``ref``
    compare as NaN.
    """
    result: dict = {}
    if weekly:
        result["weekly"] = _weekly_diff(ours.weekly, ref.weekly)
    cols = [c for c in columns if c in ours.patients.columns and c in ref.patients.columns]
    result["patients"] = _patient_diff(ours.patients, ref.patients, cols)
    result["ok"] = all(part["ok"] for part in result.values() if isinstance(part, dict))
    return result
