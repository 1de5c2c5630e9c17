"""Expected course of pain (issue 20): where similar patients of this clinic usually are, week by week.

A linear mixed model of **weekly mean pain** fitted on the clinic's own
**completed programmes**, with baseline covariates, gives for any patient the
expected weekly pain and an 80 % prediction interval for each programme week.
It answers a physio's early question, "in week 3, is this patient where
patients like them usually are?", as a comparison with similar patients of
this clinic - never as a diagnosis. docs/clinical-reference.md section 10
describes the model, its covariates, the intervals, the status rule, the
minimum number of completed programmes, the calibration and the limits.

Everything here is a pure function: canonical tables (or the prepared
:class:`ExpectedInputs`) in, DataFrames or frozen dataclasses out; no I/O.

* :func:`prepare_inputs` - baseline covariates (one row per patient) and the
  patient-week table, computed once and reusable by every function below;
* :func:`fit_expected_course` - the model, or :class:`NotEnoughData` below
  :data:`MIN_COMPLETED_PATIENTS` completed programmes;
* :func:`expected_course` - per patient and week: expected pain and its 80 %
  prediction interval given the baseline only, and (second view) given the
  patient's own weeks so far;
* :func:`expected_status` - per patient: "behind expected", "on track",
  "ahead of expected", "not assessed yet" or "not enough completed programmes yet";
* :func:`physio_funnel` / :func:`funnel_limits` - observed minus expected per
  physio against caseload size (Spiegelhalter 2005);
* :func:`calibration` - patient-level k-fold cross-validation: predicted vs
  observed by decile, empirical coverage of the interval and mean absolute error.

The model
---------
For patient *i* and programme week *w* >= 2, with ``t = w - 1`` (weeks since the
baseline week)::

    y_iw = x_iw' beta + b0_i + b1_i t + e_iw,   (b0_i, b1_i) ~ N(0, G),   e_iw ~ N(0, s2)

``y_iw`` is the mean of the week's daily mean NPRS (a week enters with ratings
on at least ``settings.min_window_ratings`` days), ``x_iw`` holds the intercept,
``t``, the baseline covariates and the products of ``t`` with the covariates
that may change the rate of recovery (:attr:`ExpectedSettings.slope_covariates`).
Week 1 (days 0-6, the baseline window of section 2) is the baseline pain
covariate, not an outcome. Fitted by REML with statsmodels MixedLM through
:func:`analysis.models.fit_mixed_model` (checked against lme4).

Prediction intervals (Gaussian, plug-in variance components)
------------------------------------------------------------
* **Baseline only** (the comparison with similar patients): the marginal
  predictive distribution of a new patient's weekly mean,
  ``N(x' beta_hat, x' V x + z' G z + s2)`` with ``z = (1, t)`` and ``V`` the
  covariance of ``beta_hat``. The patient is not in the fitting data, so the
  three parts are independent.
* **Given the patient's own weeks so far** (second view): the conditional
  (BLUP) distribution of the random effects given the observed weeks,
  ``Sigma_i = (G^-1 + Z_i'Z_i / s2)^-1``, ``b_i = Sigma_i Z_i' (y_i - X_i beta_hat) / s2``,
  and for week t*: mean ``x*' beta_hat + z*' b_i``, variance
  ``z*' Sigma_i z* + s2 + a' V a`` with ``a = x* - X_i' Z_i Sigma_i z* / s2``
  (the part of the prediction that still depends on ``beta_hat``).
* **The mean of m weeks** (the status rule uses the last two) behaves as one
  row with the averaged ``x`` and ``z`` and residual variance ``s2 / m``.

The interval is ``mean +- z_(1 - (1 - level)/2) sd`` (normal, level 0.80), cut
to the 0-10 scale. The uncertainty of ``G`` and ``s2`` is not propagated
(plug-in), which makes intervals slightly too narrow with few patients: this is
why the calibration is shown with every fitted model.

References: Laird & Ware 1982 (the model); Henderson 1975 and Robinson 1991
(BLUP and its prediction error); Skrondal & Rabe-Hesketh 2009 (prediction in
multilevel models); Spiegelhalter 2005 (funnel plots).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from analysis.models import DEFAULT_METHODS, fit_mixed_model
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.timeline import DateLike
from analysis.validation import checks_tables

if TYPE_CHECKING:
    from analysis.schema import CohortTables

__all__ = [
    "MIN_COMPLETED_PATIENTS",
    "STATUSES",
    "STATUS_BEHIND",
    "STATUS_ON_TRACK",
    "STATUS_AHEAD",
    "STATUS_NOT_ASSESSED",
    "STATUS_NOT_ENOUGH",
    "COVARIATES",
    "ExpectedSettings",
    "DEFAULT_EXPECTED",
    "ExpectedInputs",
    "ExpectedCourseModel",
    "NotEnoughData",
    "CalibrationResult",
    "prepare_inputs",
    "completed_programmes",
    "fit_expected_course",
    "expected_course",
    "expected_status",
    "physio_funnel",
    "funnel_limits",
    "calibration",
    "fold_models",
    "held_out_status",
    "fold_of",
    "decile_table",
    "FunnelResult",
    "TERM_LABELS",
    "effects_table",
    "methods_text",
    "ExpectedFit",
    "refit",
    "expected_band",
    "BAND_COLUMNS",
]

#: Fewest completed programmes (patients) the model is fitted on; below it every function
#: says "not enough completed programmes yet". *Project choice* (docs/clinical-reference.md
#: section 8): at 20 groups REML estimates of fixed effects and their standard errors are
#: adequate but variance components are imprecise (Maas & Hox 2005; McNeish & Stapleton 2016),
#: so the cross-validated calibration is always shown beside the model.
MIN_COMPLETED_PATIENTS: int = 20

STATUS_BEHIND = "behind expected"
STATUS_ON_TRACK = "on track"
STATUS_AHEAD = "ahead of expected"
STATUS_NOT_ASSESSED = "not assessed yet"
STATUS_NOT_ENOUGH = "not enough completed programmes yet"
#: Every value of ``expected_status(...)["status"]``.
STATUSES: tuple[str, ...] = (STATUS_BEHIND, STATUS_ON_TRACK, STATUS_AHEAD, STATUS_NOT_ASSESSED, STATUS_NOT_ENOUGH)

#: Baseline covariates the model can use (each only when it varies among the completed programmes).
COVARIATES: tuple[str, ...] = ("baseline_pain", "age", "startback", "baseline_odi", "sex")

#: Age in years standing for each age band (the middle of the band; 85 for 80+).
AGE_BAND_YEARS: dict[str, float] = {
    "18-29": 23.5, "30-39": 34.5, "40-49": 44.5, "50-59": 54.5, "60-69": 64.5, "70-79": 74.5, "80+": 85.0,
}
_NOT_RECORDED = "not recorded"
_RISK_LEVELS = ("low", "medium", "high", _NOT_RECORDED)
_SEX_LEVELS = ("female", "male", "other", _NOT_RECORDED)


def _cite(default: Any, citation: str) -> Any:
    return field(default=default, metadata={"citation": citation})


@dataclass(frozen=True)
class ExpectedSettings:
    """Choices of the expected-course model (docs/clinical-reference.md sections 8 and 10).

    Thresholds shared with the rest of rehabtrack (the baseline window, the fewest rated
    days for a diary window) come from :class:`analysis.settings.Settings`.
    """

    min_patients: int = _cite(MIN_COMPLETED_PATIENTS, "Project choice (section 8): fewest completed programmes")
    interval: float = _cite(0.80, "Issue 20: 80 % prediction interval (1 in 10 above it by construction)")
    first_week: int = _cite(2, "Week 1 is the baseline window (section 2); assessment starts in week 2")
    recent_weeks: int = _cite(2, "Project choice: the status compares the mean of the last 2 complete weeks")
    min_days_rated: int | None = _cite(
        None, "Fewest rated days for a week to count; None = Settings.min_window_ratings (5, section 2)"
    )
    covariates: tuple[str, ...] = _cite(COVARIATES, "Baseline covariates that exist in the data model")
    slope_covariates: tuple[str, ...] = _cite(
        ("baseline_pain", "startback"), "Covariates that may change the rate of recovery (x week)"
    )
    quadratic_time: bool = _cite(False, "Add a fixed t^2 term (curved average course)")
    folds: int = _cite(5, "Patient-level k-fold cross-validation for the calibration")
    seed: int = _cite(20, "Seed of the deterministic fold assignment")
    methods: tuple[str, ...] = _cite(DEFAULT_METHODS, "Optimisers of analysis.models.fit_mixed_model")
    fallback_methods: tuple[str, ...] = _cite(
        ("nm", "powell"), "Derivative-free optimisers tried when none of `methods` converged (G near singular)"
    )

    def replace(self, **changes: Any) -> ExpectedSettings:
        """A copy with some values changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def min_days(self, settings: Settings) -> int:
        """Fewest rated days for a week's mean to count."""
        return int(settings.min_window_ratings if self.min_days_rated is None else self.min_days_rated)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe values (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExpectedSettings:
        """Inverse of :meth:`to_dict` (unknown keys are an error)."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown expected-course setting(s): {', '.join(unknown)}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


DEFAULT_EXPECTED = ExpectedSettings()


# =========================================================================== inputs


@dataclass(frozen=True)
class ExpectedInputs:
    """What every function of this module reads from the tables, computed once.

    Attributes
    ----------
    as_of
        Analysis date (midnight).
    covariates
        One row per patient of the registry: ``patient_id`` (string), ``physio_id``
        (string), ``programme_start`` (datetime64), ``baseline_pain`` (float, points:
        mean of the daily mean NPRS of days 0-6; NaN when fewer than ``min_days``
        days were rated or week 1 is not complete), ``baseline_days_rated`` (int),
        ``age_years`` (float, middle of the age band; NaN when not recorded),
        ``startback`` (string: low, medium, high or "not recorded"; the latest STarT
        Back scored up to day 6), ``baseline_odi`` (float, %: latest ODI scored up to
        day 6; NaN when none), ``sex`` (string: female, male, other or "not recorded";
        read from a ``sex`` column of ``patients`` when there is one), ``weeks_complete``
        (int: programme weeks complete by ``as_of``), ``programme_weeks`` (Int64: weeks
        of a programme whose prescriptions all ended, else NA), ``completed`` (bool: a
        completed programme, see :func:`completed_programmes`).
    weeks
        One row per patient and complete programme week >= 2 with a rating:
        ``patient_id``, ``week`` (int), ``t`` (float, ``week - 1``), ``nprs`` (float,
        points: mean of the week's daily means), ``days_rated`` (int), ``valid``
        (bool: ``days_rated >= min_days``).
    min_days
        Fewest rated days for a week (and the baseline week) to count.
    """

    as_of: pd.Timestamp
    covariates: pd.DataFrame
    weeks: pd.DataFrame
    min_days: int


def _programme_weeks(prescriptions: pd.DataFrame, patients: pd.DataFrame) -> np.ndarray:
    """Weeks of each patient's programme when every prescription row has ended (else -1)."""
    ids = pd.Index(patients["patient_id"].astype("string"))
    out = np.full(len(ids), -1, dtype=np.int64)
    if len(prescriptions) == 0:
        return out
    code = pd.Categorical(prescriptions["patient_id"].astype("string"), categories=ids).codes
    keep = code >= 0
    end = prescriptions["end_date"].to_numpy(dtype="datetime64[ns]")[keep].astype("datetime64[D]")
    code = code[keep]
    open_ = np.zeros(len(ids), dtype=bool)
    np.logical_or.at(open_, code, np.isnat(end))
    has = np.zeros(len(ids), dtype=bool)
    has[code] = True
    last = np.full(len(ids), np.iinfo(np.int64).min, dtype=np.int64)
    end_i = np.where(np.isnat(end), np.iinfo(np.int64).min, end.astype(np.int64))
    np.maximum.at(last, code, end_i)
    start = patients["programme_start"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    closed = has & ~open_
    last_day = last - start
    out[closed] = last_day[closed] // 7 + 1
    return out


def _latest_baseline_score(scored: pd.DataFrame, instrument: str, start: pd.Series, as_of: pd.Timestamp,
                           column: str) -> pd.Series:
    """Per patient, the latest scored ``instrument`` on or before programme day 6 (and ``as_of``)."""
    rows = scored.loc[scored["instrument"].astype("string").eq(instrument).fillna(False).to_numpy(bool)
                      & scored[column].notna().to_numpy(bool)]
    if len(rows) == 0:
        return pd.Series(dtype=object)
    begin = rows["patient_id"].astype("string").map(start).to_numpy(dtype="datetime64[ns]")
    cutoff = np.minimum(begin + np.timedelta64(7, "D"), np.datetime64(as_of + pd.Timedelta(days=1), "ns"))
    rows = rows.loc[rows["completed_at"].to_numpy(dtype="datetime64[ns]") < cutoff]
    rows = rows.sort_values(["patient_id", "completed_at"], kind="stable")
    return rows.groupby(rows["patient_id"].astype("string"), sort=False)[column].last()


@checks_tables(tables="cohort")
def prepare_inputs(
    tables: CohortTables | ExpectedInputs,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    spec: ExpectedSettings = DEFAULT_EXPECTED,
) -> ExpectedInputs:
    """Baseline covariates and weekly pain of every patient (see :class:`ExpectedInputs`).

    Parameters
    ----------
    tables
        Canonical tables (``patients``, ``prescriptions``, ``pain``, ``proms``); an
        :class:`ExpectedInputs` is returned as it is.
    as_of
        Analysis date (default: the last session or pain entry); nothing after it is used.
    settings
        ``min_window_ratings`` (fewest rated days of a week) and ``odi_min_sections``.
    spec
        :attr:`ExpectedSettings.min_days_rated` overrides the fewest rated days.

    Returns
    -------
    ExpectedInputs
    """
    if isinstance(tables, ExpectedInputs):
        return tables
    from analysis.scoring import score_proms
    from analysis.trends import weekly_pain

    when = tables.as_of(as_of)
    min_days = spec.min_days(settings)
    patients = tables.patients
    ids = patients["patient_id"].astype("string").reset_index(drop=True)
    start = pd.Series(patients["programme_start"].to_numpy(dtype="datetime64[ns]"), index=pd.Index(ids))
    weekly = weekly_pain(tables.pain, patients, as_of=when)
    complete = weekly["days_elapsed"].to_numpy() >= 7
    week = weekly["week"].to_numpy(dtype=np.int64)
    w1 = weekly.loc[(week == 1) & complete, ["patient_id", "nprs_mean", "days_rated"]].set_index("patient_id")
    w1 = w1.reindex(pd.Index(ids))
    base_days = w1["days_rated"].fillna(0).to_numpy(dtype=np.int64)
    baseline = np.where(base_days >= min_days, w1["nprs_mean"].to_numpy(dtype=float), np.nan)
    n_complete = weekly.loc[complete].groupby(weekly["patient_id"].astype("string"), sort=False)["week"].max()
    weeks_complete = n_complete.reindex(pd.Index(ids)).fillna(0).to_numpy(dtype=np.int64)

    proms = tables.proms
    proms = proms.loc[(proms["completed_at"] < when + pd.Timedelta(days=1)).to_numpy(bool)]
    wanted = proms["instrument"].astype("string").isin(["startback", "odi"]).fillna(False).to_numpy(bool)
    scored = score_proms(proms.loc[wanted], settings=settings) if wanted.any() else None
    if scored is not None:
        risk = _latest_baseline_score(scored, "startback", start, when, "band").reindex(pd.Index(ids))
        odi = _latest_baseline_score(scored, "odi", start, when, "score").reindex(pd.Index(ids))
    else:
        risk = pd.Series(pd.NA, index=pd.Index(ids), dtype="object")
        odi = pd.Series(np.nan, index=pd.Index(ids))
    risk_s = pd.Series(risk.to_numpy(dtype=object), dtype="string").str.lower()
    risk_s = risk_s.where(risk_s.isin(["low", "medium", "high"]), _NOT_RECORDED).fillna(_NOT_RECORDED)
    if "age_band" in patients.columns:
        age = patients["age_band"].astype("string").map(AGE_BAND_YEARS).astype(float).to_numpy()
    else:
        age = np.full(len(ids), np.nan)
    if "sex" in patients.columns:
        sex = patients["sex"].astype("string").str.strip().str.lower().reset_index(drop=True)
        sex = sex.replace({"f": "female", "m": "male", "woman": "female", "man": "male"})
        sex = sex.where(sex.isin(["female", "male", "other"]), _NOT_RECORDED).fillna(_NOT_RECORDED)
    else:
        sex = pd.Series(_NOT_RECORDED, index=range(len(ids)), dtype="string")
    prog_weeks = _programme_weeks(tables.prescriptions, patients)
    start_day = start.to_numpy().astype("datetime64[D]").astype(np.int64)
    asof_day = np.datetime64(when, "D").astype(np.int64) - start_day
    completed = (prog_weeks > 0) & (asof_day > 7 * prog_weeks - 1)
    covariates = pd.DataFrame(
        {
            "patient_id": ids.to_numpy(),
            "physio_id": patients["physio_id"].astype("string").to_numpy()
            if "physio_id" in patients.columns else pd.NA,
            "programme_start": start.to_numpy(),
            "baseline_pain": baseline,
            "baseline_days_rated": base_days,
            "age_years": age,
            "startback": risk_s.to_numpy(),
            "baseline_odi": odi.to_numpy(dtype=float),
            "sex": sex.to_numpy(),
            "weeks_complete": weeks_complete,
            "programme_weeks": pd.array(np.where(prog_weeks > 0, prog_weeks, 0), dtype="Int64"),
            "completed": completed,
        }
    )
    covariates["programme_weeks"] = covariates["programme_weeks"].mask(prog_weeks <= 0)
    for col in ("patient_id", "physio_id", "startback", "sex"):
        covariates[col] = covariates[col].astype("string")

    keep = complete & (week >= 2) & (weekly["days_rated"].to_numpy() > 0)
    wk = weekly.loc[keep]
    weeks = pd.DataFrame(
        {
            "patient_id": wk["patient_id"].astype("string").to_numpy(),
            "week": wk["week"].to_numpy(dtype=np.int64),
            "t": wk["week"].to_numpy(dtype=float) - 1.0,
            "nprs": wk["nprs_mean"].to_numpy(dtype=float),
            "days_rated": wk["days_rated"].to_numpy(dtype=np.int64),
            "valid": wk["days_rated"].to_numpy() >= min_days,
        }
    )
    weeks["patient_id"] = weeks["patient_id"].astype("string")
    return ExpectedInputs(as_of=when, covariates=covariates, weeks=weeks, min_days=min_days)


@checks_tables(tables="cohort")
def completed_programmes(tables: CohortTables | ExpectedInputs, as_of: DateLike | None = None,
                         settings: Settings = DEFAULT_SETTINGS) -> list[str]:
    """Patients whose programme is completed by ``as_of``: prescriptions all ended before it.

    A programme is completed when the patient has at least one prescription, none of
    them open-ended, and the end of the last programme week (week = 7 days from the
    start) is before ``as_of``.
    """
    cov = prepare_inputs(tables, as_of, settings=settings).covariates
    return sorted(cov.loc[cov["completed"], "patient_id"].astype(str))


# =========================================================================== the design


@dataclass(frozen=True)
class _Encoding:
    """How covariates become columns of the design (stored with the model)."""

    columns: tuple[str, ...]  # fixed-effect columns after the intercept, in order
    pain_centre: float
    age_centre: float
    odi_centre: float
    slope_covariates: tuple[str, ...]
    quadratic_time: bool
    constants: tuple[tuple[str, float], ...] = ()  # indicator columns left out for having one value


_INDICATORS = frozenset({"age_missing", "sb_medium", "sb_high", "sb_missing", "odi_missing", "sex_male",
                         "sex_other", "sex_missing"})


def _patient_columns(cov: pd.DataFrame, enc: _Encoding | None, spec: ExpectedSettings) -> dict[str, np.ndarray]:
    """Candidate patient-level columns (before dropping those without variation)."""
    use = set(spec.covariates)
    out: dict[str, np.ndarray] = {}
    pain_c = enc.pain_centre if enc else float(np.nanmean(cov["baseline_pain"])) if len(cov) else 0.0
    out["bp"] = cov["baseline_pain"].to_numpy(dtype=float) - pain_c
    if "age" in use:
        age = cov["age_years"].to_numpy(dtype=float)
        age_c = enc.age_centre if enc else (float(np.nanmean(age)) if np.isfinite(age).any() else 0.0)
        out["age10"] = np.where(np.isnan(age), 0.0, (age - age_c) / 10.0)
        out["age_missing"] = np.isnan(age).astype(float)
    if "startback" in use:
        risk = cov["startback"].astype(str).to_numpy()
        for level, name in (("medium", "sb_medium"), ("high", "sb_high"), (_NOT_RECORDED, "sb_missing")):
            out[name] = (risk == level).astype(float)
    if "baseline_odi" in use:
        odi = cov["baseline_odi"].to_numpy(dtype=float)
        odi_c = enc.odi_centre if enc else (float(np.nanmean(odi)) if np.isfinite(odi).any() else 0.0)
        out["odi10"] = np.where(np.isnan(odi), 0.0, (odi - odi_c) / 10.0)
        out["odi_missing"] = np.isnan(odi).astype(float)
    if "sex" in use:
        sex = cov["sex"].astype(str).to_numpy()
        for level, name in (("male", "sex_male"), ("other", "sex_other"), (_NOT_RECORDED, "sex_missing")):
            out[name] = (sex == level).astype(float)
    return out


_SLOT_OF = {"bp": "baseline_pain", "age10": "age", "age_missing": "age", "sb_medium": "startback",
            "sb_high": "startback", "sb_missing": "startback", "odi10": "baseline_odi",
            "odi_missing": "baseline_odi", "sex_male": "sex", "sex_other": "sex", "sex_missing": "sex"}


def _columns_for(pcols: dict[str, np.ndarray], t: np.ndarray, rows: np.ndarray, enc: _Encoding) -> np.ndarray:
    """Design matrix (with intercept) for rows ``rows`` of the patient table at times ``t``."""
    n = len(t)
    out = np.empty((n, len(enc.columns) + 1))
    out[:, 0] = 1.0
    for j, name in enumerate(enc.columns, start=1):
        if name == "t":
            out[:, j] = t
        elif name == "t2":
            out[:, j] = t * t
        elif name.startswith("t_"):
            out[:, j] = t * pcols[name[2:]][rows]
        else:
            out[:, j] = pcols[name][rows]
    return out


def _choose_encoding(cov: pd.DataFrame, spec: ExpectedSettings) -> _Encoding:
    """Columns with variation among the fitting patients, in a fixed order, without collinear ones."""
    age = cov["age_years"].to_numpy(dtype=float)
    odi = cov["baseline_odi"].to_numpy(dtype=float)
    enc0 = _Encoding(
        columns=(), pain_centre=float(np.mean(cov["baseline_pain"])),
        age_centre=float(np.nanmean(age)) if np.isfinite(age).any() else 0.0,
        odi_centre=float(np.nanmean(odi)) if np.isfinite(odi).any() else 0.0,
        slope_covariates=tuple(spec.slope_covariates), quadratic_time=bool(spec.quadratic_time),
    )
    pcols = _patient_columns(cov, enc0, spec)
    varying = [name for name, v in pcols.items() if len(v) and np.ptp(v) > 0]
    constants = tuple((name, float(v[0])) for name, v in pcols.items()
                      if name in _INDICATORS and len(v) and np.ptp(v) == 0)
    enc0 = dataclasses.replace(enc0, constants=constants)
    level = [name for name in varying if name == "bp" or _SLOT_OF[name] in spec.covariates]
    slope = [f"t_{name}" for name in level if _SLOT_OF[name] in spec.slope_covariates]
    candidates = ["t", *(["t2"] if spec.quadratic_time else []), *level, *slope]
    # drop columns that are linear combinations of earlier ones (e.g. a level seen in one patient only
    # together with another indicator); checked on the patient x (t = 1, 2, 3) grid
    rows = np.repeat(np.arange(len(cov)), 3)
    t = np.tile([1.0, 2.0, 3.0], len(cov))
    kept: list[str] = []
    base = np.ones((len(rows), 1))
    for name in candidates:
        trial = dataclasses.replace(enc0, columns=(*kept, name))
        x = _columns_for(pcols, t, rows, trial)
        if np.linalg.matrix_rank(x) > base.shape[1]:
            kept.append(name)
            base = x
    return dataclasses.replace(enc0, columns=tuple(kept))


# =========================================================================== the model


@dataclass(frozen=True)
class NotEnoughData:
    """Returned instead of a model when too few completed programmes exist.

    Attributes
    ----------
    n_patients
        Completed programmes with a valid baseline and at least one valid week.
    min_patients
        The minimum (:data:`MIN_COMPLETED_PATIENTS` unless changed).
    as_of
        Analysis date.
    message
        "not enough completed programmes yet: 12 of the 20 needed".
    """

    n_patients: int
    min_patients: int
    as_of: pd.Timestamp
    message: str

    status: str = STATUS_NOT_ENOUGH

    @property
    def short(self) -> str:
        """``"not enough completed programmes yet (12 of 20)"``: what the CLI and the admin page say.

        When there were enough programmes but the model could not be estimated, :attr:`message` (why).
        """
        if self.n_patients < self.min_patients:
            return f"{STATUS_NOT_ENOUGH} ({self.n_patients} of {self.min_patients})"
        return self.message


@dataclass(frozen=True, eq=False)
class ExpectedCourseModel:
    """A fitted expected-course model: everything needed to predict, and how it was fitted.

    Attributes
    ----------
    terms
        Fixed-effect names: ``Intercept``, ``t`` (per week since the baseline week),
        ``t2``, ``bp`` (per point of baseline pain above ``pain_centre``), ``age10``
        (per 10 years above ``age_centre``), ``age_missing``, ``sb_medium``,
        ``sb_high``, ``sb_missing`` (STarT Back vs low risk), ``odi10`` (per 10 ODI
        points above ``odi_centre``), ``odi_missing``, ``sex_male``, ``sex_other``,
        ``sex_missing`` (vs female) and ``t_<name>`` (the product with ``t``: the
        change of the weekly slope); only the columns that vary among the fitting
        patients appear.
    beta, beta_cov
        Estimates (points of weekly pain per unit) and their covariance.
    re_cov
        2 x 2 covariance ``G`` of the random intercept and slope (points^2).
    residual_var
        ``s2``: variance of a week's mean pain around the patient's own line (points^2).
    fixed_effects
        Tidy table (term, estimate, se, ci_low, ci_high, z, p) with 95 % Wald intervals.
    encoding
        Centres and columns (internal; stored by :meth:`to_dict`).
    n_patients, n_obs
        Completed programmes and patient-weeks fitted on.
    max_week
        Last programme week seen in the fitting data (predictions stop there).
    as_of
        Analysis date of the fit; ``data_version`` (set by the store, phase 2).
    settings, spec
        The thresholds used (``min_window_ratings``) and the model's own choices.
    converged, method, log_likelihood, warnings
        The optimiser's record (:func:`analysis.models.fit_mixed_model`).
    """

    terms: tuple[str, ...]
    beta: np.ndarray
    beta_cov: np.ndarray
    re_cov: np.ndarray
    residual_var: float
    fixed_effects: pd.DataFrame
    encoding: _Encoding
    n_patients: int
    n_obs: int
    max_week: int
    as_of: pd.Timestamp
    spec: ExpectedSettings
    min_days: int
    converged: bool
    method: str
    log_likelihood: float
    warnings: tuple[str, ...] = ()
    data_version: str | None = None
    patients: tuple[str, ...] = ()

    status: str = "fitted"

    def effect(self, term: str) -> pd.Series:
        """The fixed-effects row of ``term``."""
        table = self.fixed_effects.set_index("term")
        if term not in table.index:
            raise KeyError(f"no fixed effect {term!r}; terms: {', '.join(table.index)}")
        return table.loc[term]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (lists, floats, strings) for storing; :meth:`from_dict` restores it."""
        return {
            "kind": "rehabtrack.expected_course",
            "version": 1,
            "terms": list(self.terms),
            "beta": [float(v) for v in self.beta],
            "beta_cov": [[float(v) for v in row] for row in self.beta_cov],
            "re_cov": [[float(v) for v in row] for row in self.re_cov],
            "residual_var": float(self.residual_var),
            "fixed_effects": [
                {k: (str(v) if k == "term" else float(v)) for k, v in row.items()}
                for row in self.fixed_effects.to_dict("records")
            ],
            "encoding": {
                "columns": list(self.encoding.columns),
                "pain_centre": self.encoding.pain_centre,
                "age_centre": self.encoding.age_centre,
                "odi_centre": self.encoding.odi_centre,
                "slope_covariates": list(self.encoding.slope_covariates),
                "quadratic_time": self.encoding.quadratic_time,
                "constants": [[k, v] for k, v in self.encoding.constants],
            },
            "n_patients": int(self.n_patients),
            "n_obs": int(self.n_obs),
            "max_week": int(self.max_week),
            "as_of": self.as_of.date().isoformat(),
            "data_version": self.data_version,
            "spec": self.spec.to_dict(),
            "min_days": int(self.min_days),
            "converged": bool(self.converged),
            "method": self.method,
            "log_likelihood": float(self.log_likelihood),
            "warnings": list(self.warnings),
            "patients": list(self.patients),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExpectedCourseModel:
        """Rebuild a model from :meth:`to_dict`."""
        if data.get("kind") != "rehabtrack.expected_course" or data.get("version") != 1:
            raise ValueError("not a stored expected-course model (kind/version do not match)")
        e = data["encoding"]
        fe = pd.DataFrame(data["fixed_effects"])
        fe["term"] = fe["term"].astype("string")
        return cls(
            terms=tuple(data["terms"]),
            beta=np.asarray(data["beta"], dtype=float),
            beta_cov=np.asarray(data["beta_cov"], dtype=float),
            re_cov=np.asarray(data["re_cov"], dtype=float),
            residual_var=float(data["residual_var"]),
            fixed_effects=fe,
            encoding=_Encoding(
                columns=tuple(e["columns"]), pain_centre=float(e["pain_centre"]),
                age_centre=float(e["age_centre"]), odi_centre=float(e["odi_centre"]),
                slope_covariates=tuple(e["slope_covariates"]), quadratic_time=bool(e["quadratic_time"]),
                constants=tuple((str(k), float(v)) for k, v in e.get("constants", [])),
            ),
            n_patients=int(data["n_patients"]),
            n_obs=int(data["n_obs"]),
            max_week=int(data["max_week"]),
            as_of=pd.Timestamp(data["as_of"]),
            spec=ExpectedSettings.from_dict(data["spec"]),
            min_days=int(data["min_days"]),
            converged=bool(data["converged"]),
            method=str(data["method"]),
            log_likelihood=float(data["log_likelihood"]),
            warnings=tuple(data.get("warnings", ())),
            data_version=data.get("data_version"),
            patients=tuple(data.get("patients", ())),
        )

    def with_data_version(self, version: str | None) -> ExpectedCourseModel:
        """A copy carrying the store's data version (phase 2)."""
        return dataclasses.replace(self, data_version=version)


def _fit_rows(inputs: ExpectedInputs, patients: np.ndarray | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Covariates and valid weeks of the patients that can enter a fit."""
    cov = inputs.covariates
    ok = cov["baseline_pain"].notna().to_numpy()
    if patients is None:
        ok &= cov["completed"].to_numpy(bool)
    else:
        ok &= cov["patient_id"].astype(str).isin(set(patients)).to_numpy()
    cov = cov.loc[ok]
    wk = inputs.weeks
    wk = wk.loc[wk["valid"].to_numpy(bool) & wk["patient_id"].isin(cov["patient_id"]).to_numpy(bool)]
    # completed programmes: only the programme's own weeks
    prog = wk["patient_id"].map(cov.set_index("patient_id")["programme_weeks"]).astype("Float64")
    wk = wk.loc[~(prog.notna() & (wk["week"] > prog)).fillna(False).to_numpy(bool)]
    cov = cov.loc[cov["patient_id"].isin(wk["patient_id"]).to_numpy(bool)].reset_index(drop=True)
    return cov, wk.reset_index(drop=True)


def _fit(inputs: ExpectedInputs, spec: ExpectedSettings, patients: np.ndarray | None,
         minimum: int) -> ExpectedCourseModel | NotEnoughData:
    cov, wk = _fit_rows(inputs, patients)
    n = len(cov)
    if n < max(minimum, 3):
        need = max(minimum, 3)
        return NotEnoughData(
            n_patients=n, min_patients=need, as_of=inputs.as_of,
            message=f"{STATUS_NOT_ENOUGH}: {n} of the {need} completed programmes needed "
                    "(with a baseline week and a rated week after it)",
        )
    enc = _choose_encoding(cov, spec)
    pcols = _patient_columns(cov, enc, spec)
    rows = pd.Categorical(wk["patient_id"], categories=cov["patient_id"]).codes.astype(np.int64)
    t = wk["t"].to_numpy(dtype=float)
    x = _columns_for(pcols, t, rows, enc)
    data = pd.DataFrame(x[:, 1:], columns=list(enc.columns))
    data["y"] = wk["nprs"].to_numpy(dtype=float)
    data["patient_id"] = wk["patient_id"].astype(str).to_numpy()
    formula = "y ~ " + " + ".join(enc.columns)
    res = fit_mixed_model(data, formula, "patient_id", "~t", reml=True, methods=spec.methods)
    if not res.converged and spec.fallback_methods:
        # near a singular random-effects covariance the gradient optimisers stall; the
        # derivative-free ones reach the REML optimum (kept only when they converge to a finite value)
        again = fit_mixed_model(data, formula, "patient_id", "~t", reml=True, methods=spec.fallback_methods)
        if again.converged and np.isfinite(again.log_likelihood):
            res = again
    if not res.converged or not np.all(np.isfinite(res.fixed_effects["se"].to_numpy(float))):
        return NotEnoughData(
            n_patients=n, min_patients=minimum, as_of=inputs.as_of,
            message=f"{STATUS_NOT_ENOUGH}: the model could not be estimated on the {n} completed programmes "
                    f"({'; '.join(res.warnings) or 'a standard error is not finite'})",
        )
    terms = ("Intercept", *enc.columns)
    fe = res.fixed_effects.set_index("term").loc[list(terms)].reset_index()
    beta = fe["estimate"].to_numpy(dtype=float)
    if res.fixed_cov is None:  # fit_mixed_model always fills it; a guard for the type checker
        raise RuntimeError("the mixed model returned no covariance of its fixed effects")
    vcov = res.fixed_cov.loc[list(terms), list(terms)].to_numpy(dtype=float)
    re_ = res.random_effects
    var = re_.loc[re_["component"].str.endswith("variance")].set_index("term")["variance"]
    cv = re_.loc[re_["component"].str.endswith("covariance"), "variance"]
    g = np.array([[var["Intercept"], float(cv.iloc[0]) if len(cv) else 0.0],
                  [float(cv.iloc[0]) if len(cv) else 0.0, var["t"]]], dtype=float)
    s2 = float(re_.loc[re_["component"] == "Residual", "variance"].iloc[0])
    return ExpectedCourseModel(
        terms=terms, beta=beta, beta_cov=vcov, re_cov=g, residual_var=s2, fixed_effects=fe,
        encoding=enc, n_patients=n, n_obs=len(wk), max_week=int(wk["week"].max()), as_of=inputs.as_of,
        spec=spec, min_days=inputs.min_days, converged=res.converged, method=res.method,
        log_likelihood=res.log_likelihood, warnings=res.warnings,
        patients=tuple(cov["patient_id"].astype(str)),
    )


@checks_tables(tables="cohort")
def fit_expected_course(
    tables: CohortTables | ExpectedInputs,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    spec: ExpectedSettings = DEFAULT_EXPECTED,
) -> ExpectedCourseModel | NotEnoughData:
    """Fit the expected-course model on the completed programmes up to ``as_of``.

    Parameters
    ----------
    tables
        Canonical tables (or :func:`prepare_inputs` output).
    as_of
        Analysis date; only programmes completed by then, and data up to it, are used.
    settings
        ``min_window_ratings``: fewest rated days for the baseline week and a weekly mean.
    spec
        The model's choices (:class:`ExpectedSettings`).

    Returns
    -------
    ExpectedCourseModel or NotEnoughData
        :class:`NotEnoughData` when fewer than ``spec.min_patients`` completed
        programmes have a valid baseline week and at least one valid week after it.

    Notes
    -----
    ``nprs_week ~ t + covariates + t x slope covariates + (t | patient)``, REML (see the
    module docstring). Covariates without variation among the completed programmes are
    left out, as are columns collinear with earlier ones; :attr:`ExpectedCourseModel.terms`
    lists what was used.
    """
    inputs = prepare_inputs(tables, as_of, settings=settings, spec=spec)
    return _fit(inputs, spec, None, spec.min_patients)


# =========================================================================== prediction


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"the interval level must be between 0 and 1, got {level!r}")
    return float(sps.norm.ppf(0.5 + level / 2))


def _patient_design(model: ExpectedCourseModel, cov: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Patient columns under the model's encoding, and who can be predicted (baseline + known levels)."""
    pcols = _patient_columns(cov, model.encoding, model.spec)
    ok = cov["baseline_pain"].notna().to_numpy()
    # a category that none (or all) of the completed programmes had, e.g. STarT Back "not
    # recorded" when every completed programme had one, cannot be predicted for a patient with
    # another value: the model has no coefficient for the difference
    for name, value in model.encoding.constants:
        if name in pcols:
            ok &= pcols[name] == value
    return pcols, ok


@dataclass(frozen=True)
class _Conditioning:
    """Per patient: posterior covariance of the random effects and the sums the BLUP needs."""

    sigma: np.ndarray  # n x 2 x 2
    bhat: np.ndarray  # n x 2
    sx: np.ndarray  # n x p: sum over observed weeks of x
    stx: np.ndarray  # n x p: sum of t x
    n_obs: np.ndarray  # n


def _condition(model: ExpectedCourseModel, pcols: dict[str, np.ndarray], n: int, obs_rows: np.ndarray,
               obs_t: np.ndarray, obs_y: np.ndarray) -> _Conditioning:
    """Closed-form Gaussian conditioning of (b0, b1) on each patient's observed weeks (vectorised)."""
    s2 = model.residual_var
    x = _columns_for(pcols, obs_t, obs_rows, model.encoding)
    r = obs_y - x @ model.beta
    s0 = np.bincount(obs_rows, minlength=n).astype(float)
    s1 = np.bincount(obs_rows, weights=obs_t, minlength=n)
    s2t = np.bincount(obs_rows, weights=obs_t * obs_t, minlength=n)
    r0 = np.bincount(obs_rows, weights=r, minlength=n)
    r1 = np.bincount(obs_rows, weights=obs_t * r, minlength=n)
    ginv = np.linalg.pinv(model.re_cov)
    prec = np.empty((n, 2, 2))
    prec[:, 0, 0] = ginv[0, 0] + s0 / s2
    prec[:, 0, 1] = prec[:, 1, 0] = ginv[0, 1] + s1 / s2
    prec[:, 1, 1] = ginv[1, 1] + s2t / s2
    det = prec[:, 0, 0] * prec[:, 1, 1] - prec[:, 0, 1] ** 2
    sigma = np.empty_like(prec)
    sigma[:, 0, 0] = prec[:, 1, 1] / det
    sigma[:, 1, 1] = prec[:, 0, 0] / det
    sigma[:, 0, 1] = sigma[:, 1, 0] = -prec[:, 0, 1] / det
    rhs = np.stack([r0, r1], axis=1) / s2
    bhat = np.einsum("nij,nj->ni", sigma, rhs)
    p = x.shape[1]
    sx = np.zeros((n, p))
    stx = np.zeros((n, p))
    for j in range(p):
        sx[:, j] = np.bincount(obs_rows, weights=x[:, j], minlength=n)
        stx[:, j] = np.bincount(obs_rows, weights=obs_t * x[:, j], minlength=n)
    return _Conditioning(sigma=sigma, bhat=bhat, sx=sx, stx=stx, n_obs=s0)


def _predict(model: ExpectedCourseModel, x: np.ndarray, zbar: np.ndarray, resid_share: np.ndarray,
             rows: np.ndarray | None = None, cond: _Conditioning | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of a (mean of) weekly pain: baseline only, or given ``cond`` for patients ``rows``.

    ``x`` are the (averaged) fixed-effect rows, ``zbar`` the (averaged) random-effect rows
    ``(1, t)`` and ``resid_share`` the residual variance factor (1 for a week, 1/m for a mean
    of m weeks).
    """
    s2 = model.residual_var
    mean = x @ model.beta
    if cond is None:
        a = x
        var_re = np.einsum("ni,ij,nj->n", zbar, model.re_cov, zbar)
    else:
        sig = cond.sigma[rows]
        c = np.einsum("nij,nj->ni", sig, zbar)  # Sigma_i z*
        mean = mean + np.einsum("ni,ni->n", zbar, cond.bhat[rows])
        var_re = np.einsum("ni,ni->n", zbar, c)
        a = x - (c[:, [0]] * cond.sx[rows] + c[:, [1]] * cond.stx[rows]) / s2
    var_beta = np.einsum("ni,ij,nj->n", a, model.beta_cov, a)
    return mean, np.sqrt(var_beta + var_re + s2 * resid_share)


_COURSE_COLUMNS = [
    "patient_id", "week", "observed", "days_rated", "expected", "sd", "lower", "upper",
    "expected_given_weeks", "sd_given_weeks", "lower_given_weeks", "upper_given_weeks", "weeks_conditioned",
]


def _empty_course() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype=float) for c in _COURSE_COLUMNS})
    out["patient_id"] = out["patient_id"].astype("string")
    out["week"] = out["week"].astype(np.int64)
    out["days_rated"] = out["days_rated"].astype("Int64")
    out["weeks_conditioned"] = out["weeks_conditioned"].astype(np.int64)
    return out


@checks_tables(tables="cohort")
def expected_course(
    model: ExpectedCourseModel | NotEnoughData,
    tables: CohortTables | ExpectedInputs,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    patients: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Expected weekly pain with its prediction interval, per patient and programme week.

    Parameters
    ----------
    model
        :func:`fit_expected_course` output; :class:`NotEnoughData` gives an empty table.
    tables
        Canonical tables (or :func:`prepare_inputs` output) of the patients to predict.
    as_of
        Analysis date: the weeks complete by then are the "weeks so far".
    settings
        As for :func:`prepare_inputs`.
    patients
        Only these patients (default every patient with a valid baseline week).

    Returns
    -------
    pandas.DataFrame
        One row per patient and week ``2 .. model.max_week``, sorted by patient and week:
        ``patient_id``; ``week`` (int); ``observed`` (float, points: the week's mean pain
        when the week is complete with at least ``min_days`` rated days, else NaN);
        ``days_rated`` (Int64); ``expected``, ``sd``, ``lower``, ``upper`` (float, points:
        baseline-only prediction, its predictive SD and the ``spec.interval`` interval
        cut to 0-10); ``expected_given_weeks``, ``sd_given_weeks``, ``lower_given_weeks``,
        ``upper_given_weeks`` (the same given the patient's valid weeks up to ``as_of``;
        equal to the baseline-only values when there are none); ``weeks_conditioned``
        (int: how many weeks the second view used). ``attrs['interval']`` holds the level.

    Notes
    -----
    The second view uses every valid week of the patient up to ``as_of``; for those weeks
    it is a smoothed fit (the week's own value is among the data), for later weeks a
    forecast. A patient in the fitting data is predicted by a model that has seen them.
    """
    if isinstance(model, NotEnoughData):
        out = _empty_course()
        out.attrs["message"] = model.message
        return out
    inputs = prepare_inputs(tables, as_of, settings=settings, spec=model.spec)
    cov = inputs.covariates
    if patients is not None:
        cov = cov.loc[cov["patient_id"].isin(list(patients)).to_numpy(bool)].reset_index(drop=True)
    pcols, ok = _patient_design(model, cov)
    idx = np.flatnonzero(ok)
    weeks = np.arange(model.spec.first_week, model.max_week + 1)
    if len(idx) == 0 or len(weeks) == 0:
        return _empty_course()
    rows = np.repeat(idx, len(weeks))
    week = np.tile(weeks, len(idx))
    t = (week - 1).astype(float)
    x = _columns_for(pcols, t, rows, model.encoding)
    zbar = np.column_stack([np.ones_like(t), t])
    one = np.ones(len(t))
    mean, sd = _predict(model, x, zbar, one)
    # the patient's own valid weeks so far
    wk = inputs.weeks
    code = pd.Categorical(wk["patient_id"], categories=cov["patient_id"]).codes.astype(np.int64)
    use = (code >= 0) & wk["valid"].to_numpy(bool) & (wk["week"].to_numpy() <= model.max_week)
    use &= np.isin(code, idx)
    cond = _condition(model, pcols, len(cov), code[use], wk["t"].to_numpy(float)[use],
                      wk["nprs"].to_numpy(float)[use])
    cmean, csd = _predict(model, x, zbar, one, rows=rows, cond=cond)
    z = _z(model.spec.interval)
    observed = pd.DataFrame({"patient_id": wk["patient_id"].to_numpy()[use], "week": wk["week"].to_numpy()[use],
                             "observed": wk["nprs"].to_numpy(float)[use]})
    days = pd.DataFrame({"patient_id": wk["patient_id"].to_numpy()[code >= 0],
                         "week": wk["week"].to_numpy()[code >= 0],
                         "days_rated": wk["days_rated"].to_numpy()[code >= 0]})
    out = pd.DataFrame(
        {
            "patient_id": cov["patient_id"].to_numpy()[rows],
            "week": week.astype(np.int64),
            "expected": mean,
            "sd": sd,
            "lower": np.clip(mean - z * sd, 0, 10),
            "upper": np.clip(mean + z * sd, 0, 10),
            "expected_given_weeks": cmean,
            "sd_given_weeks": csd,
            "lower_given_weeks": np.clip(cmean - z * csd, 0, 10),
            "upper_given_weeks": np.clip(cmean + z * csd, 0, 10),
            "weeks_conditioned": cond.n_obs[rows].astype(np.int64),
        }
    )
    out = out.merge(observed, on=["patient_id", "week"], how="left").merge(days, on=["patient_id", "week"],
                                                                           how="left")
    out["days_rated"] = out["days_rated"].astype("Int64")
    out["patient_id"] = out["patient_id"].astype("string")
    out = out[_COURSE_COLUMNS].sort_values(["patient_id", "week"], kind="stable").reset_index(drop=True)
    out.attrs["interval"] = model.spec.interval
    return out


# =========================================================================== status


_STATUS_COLUMNS = [
    "patient_id", "physio_id", "week", "weeks_used", "observed", "expected", "sd", "lower", "upper",
    "o_minus_e", "z", "status", "reason", "in_fit", "text",
]


def _fmt(values: np.ndarray) -> np.ndarray:
    return np.char.mod("%.1f", np.nan_to_num(np.asarray(values, dtype=float)))


@checks_tables(tables="cohort")
def expected_status(
    model: ExpectedCourseModel | NotEnoughData,
    tables: CohortTables | ExpectedInputs,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    at_week: int | None = None,
) -> pd.DataFrame:
    """Is each patient where similar patients of this clinic usually are? One row per patient.

    Parameters
    ----------
    model
        :func:`fit_expected_course` output; with :class:`NotEnoughData` every patient
        gets "not enough completed programmes yet".
    tables
        Canonical tables (or :func:`prepare_inputs` output).
    as_of
        Analysis date.
    settings
        As for :func:`prepare_inputs`.
    at_week
        Assess every patient as at the end of their programme week ``at_week``
        (using their weeks up to it only) instead of at their latest complete week;
        patients who have not completed that week by ``as_of`` are "not assessed yet".

    Returns
    -------
    pandas.DataFrame
        One row per patient of the registry, in its order:

        - ``patient_id``, ``physio_id`` (string)
        - ``week`` (Int64): the week assessed - the latest complete programme week (at
          most the programme's last week), or ``at_week``
        - ``weeks_used`` (string): the weeks whose mean is compared, e.g. ``"5-6"``
        - ``observed`` (float, points): mean of the valid weekly means of the last
          ``spec.recent_weeks`` weeks up to ``week``
        - ``expected``, ``sd``, ``lower``, ``upper`` (float, points): baseline-only
          prediction of that same mean, its SD and its ``spec.interval`` interval
        - ``o_minus_e`` (float, points): observed - expected (positive = more pain than
          expected); ``z`` = ``o_minus_e / sd``
        - ``status`` (string, :data:`STATUSES`): "behind expected" (observed above
          ``upper``), "ahead of expected" (below ``lower``), "on track", "not assessed
          yet" (before week ``first_week`` is complete, no valid baseline week, too few
          rated days in the recent weeks, a week beyond the model's weeks, or a
          covariate level the model has not seen), "not enough completed programmes yet"
        - ``reason`` (string): why a patient is not assessed ("" when assessed)
        - ``in_fit`` (bool): the patient is one of the completed programmes the model was
          fitted on (their comparison is not out of sample)
        - ``text`` (string): one sentence for the caseload and the report, a comparison
          with similar patients of this clinic, never a diagnosis.

    Notes
    -----
    With an 80 % interval, 1 in 10 patients who are exactly like the clinic's completed
    programmes is "behind expected" at any given week, by construction.
    """
    inputs = prepare_inputs(tables, as_of, settings=settings, spec=getattr(model, "spec", DEFAULT_EXPECTED))
    cov = inputs.covariates
    n = len(cov)
    out = pd.DataFrame(
        {
            "patient_id": cov["patient_id"].to_numpy(),
            "physio_id": cov["physio_id"].to_numpy(),
            "week": pd.array(np.zeros(n, dtype=np.int64), dtype="Int64"),
            "weeks_used": np.full(n, "", dtype=object),
            **{c: np.full(n, np.nan) for c in ("observed", "expected", "sd", "lower", "upper", "o_minus_e", "z")},
            "status": np.full(n, STATUS_NOT_ASSESSED, dtype=object),
            "reason": np.full(n, "", dtype=object),
            "in_fit": np.zeros(n, dtype=bool),
            "text": np.full(n, "", dtype=object),
        }
    )
    if isinstance(model, NotEnoughData):
        out["status"] = STATUS_NOT_ENOUGH
        out["reason"] = model.message
        out["text"] = "No comparison with similar patients yet: " + model.message + "."
        out["week"] = pd.NA
        return _finish_status(out)
    spec = model.spec
    reason = out["reason"].to_numpy(dtype=object)
    done = cov["weeks_complete"].to_numpy(dtype=np.int64)
    prog = cov["programme_weeks"].fillna(0).to_numpy(dtype=np.int64)
    latest = np.where(prog > 0, np.minimum(done, prog), done)
    if at_week is not None:
        reached = done >= at_week
        latest = np.where(reached, at_week, latest)
        reason[~reached] = f"week {at_week} not complete yet"
        not_yet = ~reached | (latest < spec.first_week)
        reason[reached & (latest < spec.first_week)] = f"assessment starts in week {spec.first_week}"
    else:
        not_yet = latest < spec.first_week
        reason[not_yet] = f"week {spec.first_week} not complete yet (week 1 is the baseline week)"
    pcols, predictable = _patient_design(model, cov)
    no_base = cov["baseline_pain"].isna().to_numpy()
    reason[~not_yet & no_base] = (
        f"no baseline: fewer than {inputs.min_days} rated days in week 1"
    )
    odd = ~not_yet & ~no_base & ~predictable
    reason[odd] = "a baseline covariate level that none of the completed programmes had"
    beyond = ~not_yet & ~no_base & predictable & (latest > model.max_week)
    reason[beyond] = f"beyond week {model.max_week}, the last week of the completed programmes"
    # the recent weeks: valid weekly means among weeks latest-k+1 .. latest (>= first week)
    wk = inputs.weeks
    code = pd.Categorical(wk["patient_id"], categories=cov["patient_id"]).codes.astype(np.int64)
    wweek = wk["week"].to_numpy(dtype=np.int64)
    lat = np.where(code >= 0, latest[np.maximum(code, 0)], -1)
    recent = (code >= 0) & wk["valid"].to_numpy(bool) & (wweek <= lat) & (wweek > lat - spec.recent_weeks)
    recent &= wweek >= spec.first_week
    r_code, r_t, r_y = code[recent], wk["t"].to_numpy(float)[recent], wk["nprs"].to_numpy(float)[recent]
    m = np.bincount(r_code, minlength=n).astype(float)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, r_code, wweek[recent])
    last = np.full(n, -1)
    np.maximum.at(last, r_code, wweek[recent])
    candidates = ~not_yet & ~no_base & predictable & ~beyond
    few = candidates & (m == 0)
    lo_w = np.maximum(latest - spec.recent_weeks + 1, spec.first_week)
    span = np.where(lo_w == latest, np.char.mod("%d", latest), np.char.add(np.char.add(
        np.char.mod("%d", lo_w), "-"), np.char.mod("%d", latest)))
    reason[few] = np.char.add(f"fewer than {inputs.min_days} rated days in week(s) ", span[few])
    assess = candidates & (m > 0)
    idx = np.flatnonzero(assess)
    week_col = pd.array(latest, dtype="Int64")
    week_col[latest < 1] = pd.NA
    out["week"] = week_col
    out["reason"] = reason
    out["in_fit"] = cov["patient_id"].astype(str).isin(set(model.patients)).to_numpy()
    if len(idx):
        mm = m[idx]
        tbar = np.bincount(r_code, weights=r_t, minlength=n)[idx] / mm
        ybar = np.bincount(r_code, weights=r_y, minlength=n)[idx] / mm
        # mean of x over the recent weeks: x is linear in t and t^2
        t2bar = np.bincount(r_code, weights=r_t * r_t, minlength=n)[idx] / mm
        x = _columns_for(pcols, tbar, idx, model.encoding)
        if model.encoding.quadratic_time:
            x[:, 1 + model.encoding.columns.index("t2")] = t2bar
        zbar = np.column_stack([np.ones_like(tbar), tbar])
        mean, sd = _predict(model, x, zbar, 1.0 / mm)
        z = _z(spec.interval)
        lower, upper = np.clip(mean - z * sd, 0, 10), np.clip(mean + z * sd, 0, 10)
        status = np.where(ybar > upper, STATUS_BEHIND, np.where(ybar < lower, STATUS_AHEAD, STATUS_ON_TRACK))
        f_w, l_w = first[idx], last[idx]
        used = np.where(f_w == l_w, np.char.mod("%d", l_w),
                        np.char.add(np.char.add(np.char.mod("%d", f_w), "-"), np.char.mod("%d", l_w)))
        out.loc[idx, "weeks_used"] = used
        out.loc[idx, "observed"] = ybar
        out.loc[idx, "expected"] = mean
        out.loc[idx, "sd"] = sd
        out.loc[idx, "lower"] = lower
        out.loc[idx, "upper"] = upper
        out.loc[idx, "o_minus_e"] = ybar - mean
        out.loc[idx, "z"] = (ybar - mean) / sd
        out.loc[idx, "status"] = status
        level = f"{spec.interval * 100:.0f} %"
        wlabel = np.where(f_w == l_w, "week ", "weeks ")
        text = (
            np.char.add(np.char.add(wlabel.astype(str), used.astype(str)), ": pain ")
        )
        text = np.char.add(text, _fmt(ybar))
        text = np.char.add(text, " (")
        text = np.char.add(text, status.astype(str))
        text = np.char.add(text, "); similar patients of this clinic: expected ")
        text = np.char.add(text, _fmt(mean))
        text = np.char.add(text, f", {level} between ")
        text = np.char.add(np.char.add(np.char.add(text, _fmt(lower)), " and "), _fmt(upper))
        out.loc[idx, "text"] = text
    rest = np.flatnonzero(~assess)
    out.loc[rest, "text"] = "Not compared with similar patients yet: " + out.loc[rest, "reason"].astype(str) + "."
    return _finish_status(out)


def _finish_status(out: pd.DataFrame) -> pd.DataFrame:
    for col in ("patient_id", "physio_id", "weeks_used", "status", "reason", "text"):
        out[col] = out[col].astype("string")
    out["in_fit"] = out["in_fit"].astype(bool)
    return out[_STATUS_COLUMNS].reset_index(drop=True)


# =========================================================================== funnel


def funnel_limits(sd: float, n: Sequence[float] | np.ndarray, levels: Sequence[float] = (0.95, 0.998),
                  target: float = 0.0) -> pd.DataFrame:
    """Control limits of a funnel plot for a mean of ``n`` patients (Spiegelhalter 2005).

    ``target +- z_p sd / sqrt(n)`` for each two-sided level ``p`` (normal approximation).

    Returns
    -------
    pandas.DataFrame
        ``n`` and, per level, ``lower_<level>`` and ``upper_<level>`` (e.g. ``upper_95``,
        ``upper_99.8``), in the units of ``sd``.
    """
    n = np.asarray(n, dtype=float)
    out = pd.DataFrame({"n": n})
    for p in levels:
        z = _z(p)
        half = z * sd / np.sqrt(n)
        label = f"{p * 100:g}"
        out[f"lower_{label}"] = target - half
        out[f"upper_{label}"] = target + half
    return out


@dataclass(frozen=True)
class FunnelResult:
    """Observed minus expected per physio, and the funnel it is drawn in.

    Attributes
    ----------
    physios
        One row per physio: ``physio_id``; ``n`` (patients assessed); ``o_minus_e``
        (mean observed - expected pain, points; positive = more pain than expected);
        ``se`` (its standard error from the patients' predictive SDs,
        ``sqrt(sum sd_i^2) / n``); ``ci_low``, ``ci_high`` (95 %); ``z``, ``p``
        (two-sided, against 0); ``limit_95``, ``limit_99.8`` (the funnel's half-width at
        this ``n``, from the pooled ``sd``); ``position`` ("within", "above 95 %",
        "above 99.8 %", "below 95 %", "below 99.8 %").
    curve
        :func:`funnel_limits` on a grid of caseload sizes, for drawing.
    sd
        The pooled per-patient SD of observed - expected (root mean square of the
        patients' predictive SDs), points.
    n_patients
        Patients in the comparison.
    """

    physios: pd.DataFrame
    curve: pd.DataFrame
    sd: float
    n_patients: int


def physio_funnel(status: pd.DataFrame, *, levels: Sequence[float] = (0.95, 0.998),
                  confidence: float = 0.95) -> FunnelResult:
    """Fair comparison of physios: observed minus expected pain, against caseload size.

    Parameters
    ----------
    status
        :func:`expected_status` output (its ``physio_id``, ``o_minus_e`` and ``sd`` of the
        assessed patients); choose the patients and the week (``at_week``) there. Pseudonymise
        ``physio_id`` before showing it to anyone but an admin.
    levels
        Two-sided levels of the funnel's control limits (95 % and 99.8 %).
    confidence
        Level of each physio's confidence interval.

    Returns
    -------
    FunnelResult

    Notes
    -----
    Each patient's observed - expected uses the model's baseline-only prediction, so a
    physio whose patients start with more pain or higher STarT Back risk is compared with
    what such patients usually do. Under the model the mean of ``n`` patients has SD
    ``sd / sqrt(n)`` around 0, hence the funnel ``0 +- z sd / sqrt(n)`` (Spiegelhalter 2005,
    normal approximation; no overdispersion adjustment).
    """
    s = status.loc[status["o_minus_e"].notna().to_numpy(bool) & status["physio_id"].notna().to_numpy(bool)]
    g = s.groupby(s["physio_id"].astype(str), sort=True)
    n = g.size()
    mean = g["o_minus_e"].mean()
    se = np.sqrt(g["sd"].apply(lambda v: float(np.sum(np.square(v))))) / n
    zc = _z(confidence)
    pooled = float(np.sqrt(np.mean(np.square(s["sd"].to_numpy(float))))) if len(s) else math.nan
    zval = mean / se
    phys = pd.DataFrame(
        {
            "physio_id": pd.array(n.index.astype(str), dtype="string"),
            "n": n.to_numpy(dtype=np.int64),
            "o_minus_e": mean.to_numpy(float),
            "se": se.to_numpy(float),
            "ci_low": (mean - zc * se).to_numpy(float),
            "ci_high": (mean + zc * se).to_numpy(float),
            "z": zval.to_numpy(float),
            "p": 2 * sps.norm.sf(np.abs(zval.to_numpy(float))),
        }
    )
    position = np.full(len(phys), "within", dtype=object)
    for p in sorted(levels):
        label = f"{p * 100:g}"
        half = _z(p) * pooled / np.sqrt(phys["n"].to_numpy(float))
        phys[f"limit_{label}"] = half
        position = np.where(phys["o_minus_e"] > half, f"above {label} %", position)
        position = np.where(phys["o_minus_e"] < -half, f"below {label} %", position)
    phys["position"] = pd.array(position.astype(str), dtype="string")
    top = max(int(n.max()) if len(n) else 1, 2)
    curve = funnel_limits(pooled, np.linspace(1, top * 1.2 + 1, 200), levels)
    return FunnelResult(physios=phys, curve=curve, sd=pooled, n_patients=int(len(s)))


# =========================================================================== calibration


@dataclass(frozen=True)
class CalibrationResult:
    """Cross-validated honesty of the model on held-out completed programmes.

    Attributes
    ----------
    predictions
        One row per held-out patient-week: ``patient_id``, ``fold``, ``week``,
        ``observed``, ``expected``, ``sd``, ``lower``, ``upper`` (baseline only),
        ``covered`` (bool), ``expected_given_weeks``, ``lower_given_weeks``,
        ``upper_given_weeks``, ``covered_given_weeks`` (given the patient's valid weeks
        up to ``condition_week``; NaN/NA for those weeks and when there are none).
    deciles
        Ten groups of patient-weeks by the deciles of ``expected``: ``decile`` (1-10),
        ``n``, ``expected`` (mean predicted), ``observed`` (mean observed), ``coverage``.
    coverage
        Share of held-out patient-weeks inside the baseline-only interval.
    coverage_given_weeks
        The same for weeks after ``condition_week`` with the second view.
    mae
        Mean absolute error of the baseline-only expected value (points).
    by_week
        Per week: ``week``, ``n``, ``coverage``, ``mae``.
    n_patients, n_weeks, folds, seed, interval, condition_week
        What was done; ``fits_below_minimum`` counts training folds below the minimum.
    status
        "calibrated", or "not enough completed programmes yet".
    """

    predictions: pd.DataFrame
    deciles: pd.DataFrame
    coverage: float
    coverage_given_weeks: float
    mae: float
    by_week: pd.DataFrame
    n_patients: int
    n_weeks: int
    folds: int
    seed: int
    interval: float
    condition_week: int
    fits_below_minimum: int = 0
    status: str = "calibrated"
    message: str = ""


def fold_of(patient_ids: Sequence[str], folds: int, seed: int) -> pd.Series:
    """Deterministic patient-level fold (0 .. folds-1) from ``seed``, independent of row order."""
    ids = sorted({str(p) for p in patient_ids})
    perm = np.random.default_rng(seed).permutation(len(ids))
    fold = np.empty(len(ids), dtype=np.int64)
    fold[perm] = np.arange(len(ids)) % folds
    return pd.Series(fold, index=pd.Index(ids, name="patient_id"), name="fold")


def decile_table(expected: np.ndarray, observed: np.ndarray, covered: np.ndarray | None = None,
                 groups: int = 10) -> pd.DataFrame:
    """Mean predicted and mean observed in ``groups`` groups of equal size by rank of ``expected``.

    Group ``k`` (1-based) holds the rows whose rank (ties by position) falls in the k-th
    of ``groups`` equal slices: ``floor(rank * groups / n) + 1``.
    """
    expected = np.asarray(expected, dtype=float)
    observed = np.asarray(observed, dtype=float)
    n = len(expected)
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(expected, kind="stable")] = np.arange(n)
    group = rank * groups // max(n, 1) + 1
    frame = pd.DataFrame({"decile": group, "expected": expected, "observed": observed})
    if covered is not None:
        frame["coverage"] = np.asarray(covered, dtype=float)
    agg = {"n": ("expected", "size"), "expected": ("expected", "mean"), "observed": ("observed", "mean")}
    if covered is not None:
        agg["coverage"] = ("coverage", "mean")
    return frame.groupby("decile").agg(**agg).reset_index()


@checks_tables(tables="cohort")
def calibration(
    tables: CohortTables | ExpectedInputs,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    spec: ExpectedSettings = DEFAULT_EXPECTED,
    *,
    condition_week: int = 6,
    folds: dict[str, ExpectedCourseModel] | None = None,
) -> CalibrationResult:
    """Patient-level k-fold cross-validation of the expected course on the completed programmes.

    Parameters
    ----------
    tables, as_of, settings, spec
        As for :func:`fit_expected_course`; ``spec.folds`` folds from ``spec.seed``.
    condition_week
        For the second view: condition on the held-out patient's valid weeks up to this
        week and check the interval on the later weeks.
    folds
        The fold models of :func:`fold_models` for the same inputs and spec (fitted here when
        not given); pass them to fit each fold once for the calibration and :func:`held_out_status`.

    Returns
    -------
    CalibrationResult
        Predicted vs observed by decile, coverage, MAE and the held-out predictions;
        with fewer completed programmes than ``spec.min_patients`` the status is "not
        enough completed programmes yet" and the tables are empty.

    Notes
    -----
    Each completed programme is held out once: the model is fitted on the other folds
    (even when a training fold has fewer patients than the minimum: the result counts
    those fits) and predicts the held-out patients from their baseline only.
    """
    inputs = prepare_inputs(tables, as_of, settings=settings, spec=spec)
    cov, wk = _fit_rows(inputs, None)
    empty = pd.DataFrame()
    if len(cov) < max(spec.min_patients, spec.folds, 3):
        need = max(spec.min_patients, spec.folds, 3)
        return CalibrationResult(
            predictions=empty, deciles=empty, coverage=math.nan, coverage_given_weeks=math.nan, mae=math.nan,
            by_week=empty, n_patients=len(cov), n_weeks=len(wk), folds=spec.folds, seed=spec.seed,
            interval=spec.interval, condition_week=condition_week, status=STATUS_NOT_ENOUGH,
            message=f"{STATUS_NOT_ENOUGH}: {len(cov)} of the {need} completed programmes needed",
        )
    assignment = fold_of(cov["patient_id"], spec.folds, spec.seed)
    if folds is None:
        folds = fold_models(inputs, settings=settings, spec=spec)
    parts = []
    below = 0
    for k in range(spec.folds):
        held = assignment.index[assignment.to_numpy() == k].to_numpy()
        below += int(len(assignment) - len(held) < spec.min_patients)
        model = folds.get(str(held[0])) if len(held) else None
        if model is None:  # pragma: no cover - a training fold that could not be fitted
            continue
        course = expected_course(model, _restrict(inputs, held, condition_week), settings=settings)
        course = course.loc[course["patient_id"].isin(held)]
        wk_h = wk.loc[wk["patient_id"].isin(held).to_numpy(bool), ["patient_id", "week", "nprs"]]
        got = course.drop(columns=["observed"]).merge(wk_h.rename(columns={"nprs": "observed"}),
                                                      on=["patient_id", "week"], how="inner")
        got["fold"] = k
        parts.append(got)
    if not parts:  # pragma: no cover - no fold could be fitted
        return CalibrationResult(
            predictions=empty, deciles=empty, coverage=math.nan, coverage_given_weeks=math.nan, mae=math.nan,
            by_week=empty, n_patients=len(cov), n_weeks=len(wk), folds=spec.folds, seed=spec.seed,
            interval=spec.interval, condition_week=condition_week, status=STATUS_NOT_ENOUGH,
            message=f"{STATUS_NOT_ENOUGH}: no cross-validation fold could be fitted",
        )
    pred = pd.concat(parts, ignore_index=True).sort_values(["patient_id", "week"], kind="stable")
    pred = pred.reset_index(drop=True)
    obs = pred["observed"].to_numpy(float)
    pred["covered"] = (obs >= pred["lower"]) & (obs <= pred["upper"])
    later = (pred["week"] > condition_week).to_numpy() & (pred["weeks_conditioned"].to_numpy() > 0)
    for col in ("expected_given_weeks", "lower_given_weeks", "upper_given_weeks"):
        pred.loc[~later, col] = np.nan
    cg = (obs >= pred["lower_given_weeks"]) & (obs <= pred["upper_given_weeks"])
    pred["covered_given_weeks"] = pd.array(np.where(later, cg, False), dtype="boolean")
    pred.loc[~later, "covered_given_weeks"] = pd.NA
    pred = pred[["patient_id", "fold", "week", "observed", "expected", "sd", "lower", "upper", "covered",
                 "expected_given_weeks", "lower_given_weeks", "upper_given_weeks", "covered_given_weeks"]]
    deciles = decile_table(pred["expected"].to_numpy(), obs, pred["covered"].to_numpy())
    err = np.abs(obs - pred["expected"].to_numpy())
    by_week = pred.assign(err=err).groupby("week").agg(
        n=("covered", "size"), coverage=("covered", "mean"), mae=("err", "mean")).reset_index()
    return CalibrationResult(
        predictions=pred, deciles=deciles, coverage=float(pred["covered"].mean()),
        coverage_given_weeks=float(pred.loc[later, "covered_given_weeks"].astype(bool).mean())
        if later.any() else math.nan,
        mae=float(err.mean()), by_week=by_week, n_patients=int(pred["patient_id"].nunique()),
        n_weeks=len(pred), folds=spec.folds, seed=spec.seed, interval=spec.interval,
        condition_week=condition_week, fits_below_minimum=below,
    )


@checks_tables(tables="cohort")
def fold_models(
    tables: CohortTables | ExpectedInputs,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    spec: ExpectedSettings = DEFAULT_EXPECTED,
) -> dict[str, ExpectedCourseModel]:
    """For each completed programme, the model fitted on the other folds (the one that never saw it).

    Returns
    -------
    dict of str to ExpectedCourseModel
        ``{patient_id: model}``; the same ``spec.folds`` fits as :func:`calibration`.
        Empty when there are fewer completed programmes than ``spec.min_patients``.
    """
    inputs = prepare_inputs(tables, as_of, settings=settings, spec=spec)
    cov, _ = _fit_rows(inputs, None)
    if len(cov) < max(spec.min_patients, spec.folds, 3):
        return {}
    folds = fold_of(cov["patient_id"], spec.folds, spec.seed)
    out: dict[str, ExpectedCourseModel] = {}
    for k in range(spec.folds):
        model = _fit(inputs, spec, folds.index[folds.to_numpy() != k].to_numpy(), 3)
        if isinstance(model, ExpectedCourseModel):
            out.update(dict.fromkeys(folds.index[folds.to_numpy() == k], model))
    return out


@checks_tables(tables="cohort")
def held_out_status(
    model: ExpectedCourseModel | NotEnoughData,
    tables: CohortTables | ExpectedInputs,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    *,
    at_week: int | None = None,
    folds: dict[str, ExpectedCourseModel] | None = None,
) -> pd.DataFrame:
    """:func:`expected_status` with every patient compared out of sample.

    Patients in progress are compared by ``model`` (fitted on the completed programmes, so
    never on them); each completed programme by the model of the cross-validation fold that
    left it out (:func:`fold_models`, computed here unless given). This is the comparison the
    funnel plot and the evaluation on the sample use.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`expected_status` plus ``compared_by`` (string): "completed
        programmes" (``model``) or "fold k of K" (a cross-validation fit); ``in_fit`` is then
        False for every patient.
    """
    inputs = prepare_inputs(tables, as_of, settings=settings, spec=getattr(model, "spec", DEFAULT_EXPECTED))
    status = expected_status(model, inputs, settings=settings, at_week=at_week)
    status["compared_by"] = pd.array(["completed programmes"] * len(status), dtype="string")
    if isinstance(model, NotEnoughData):
        return status
    if folds is None:
        folds = fold_models(inputs, settings=settings, spec=model.spec)
    ids = status["patient_id"].astype(str).to_numpy()
    distinct = {id(m): m for m in folds.values()}
    for k, fold_model in enumerate(distinct.values()):
        who = np.isin(ids, [p for p, m in folds.items() if m is fold_model])
        if not who.any():  # pragma: no cover - every fold holds patients
            continue
        sub = dataclasses.replace(inputs, covariates=inputs.covariates.loc[who].reset_index(drop=True))
        part = expected_status(fold_model, sub, settings=settings, at_week=at_week)
        part["compared_by"] = pd.array([f"fold {k + 1} of {len(distinct)}"] * len(part), dtype="string")
        status.loc[who, part.columns] = part.to_numpy()
    status.loc[:, "in_fit"] = False
    for col in ("patient_id", "physio_id", "weeks_used", "status", "reason", "text", "compared_by"):
        status[col] = status[col].astype("string")
    for col in ("observed", "expected", "sd", "lower", "upper", "o_minus_e", "z"):
        status[col] = status[col].astype(float)
    status["week"] = status["week"].astype("Int64")
    status["in_fit"] = status["in_fit"].astype(bool)
    return status


def _restrict(inputs: ExpectedInputs, patients: np.ndarray, up_to_week: int) -> ExpectedInputs:
    """Inputs of some patients with their weeks cut at ``up_to_week`` (the second view's data)."""
    cov = inputs.covariates.loc[inputs.covariates["patient_id"].isin(patients).to_numpy(bool)]
    wk = inputs.weeks.loc[inputs.weeks["patient_id"].isin(patients).to_numpy(bool)
                          & (inputs.weeks["week"] <= up_to_week).to_numpy(bool)]
    return dataclasses.replace(inputs, covariates=cov.reset_index(drop=True), weeks=wk.reset_index(drop=True))


# =========================================================================== words


#: Plain-language meaning of each fixed-effect term (points of weekly pain per unit).
TERM_LABELS: dict[str, str] = {
    "Intercept": "weekly pain at t = 0 (week 1) for average covariates and the reference categories",
    "t": "change per week (reference patient)",
    "t2": "curvature per week squared",
    "bp": "per point of baseline pain",
    "age10": "per 10 years of age",
    "age_missing": "age band not recorded",
    "sb_medium": "STarT Back medium vs low risk",
    "sb_high": "STarT Back high vs low risk",
    "sb_missing": "STarT Back not recorded vs low risk",
    "odi10": "per 10 points of baseline ODI",
    "odi_missing": "no baseline ODI",
    "sex_male": "male vs female",
    "sex_other": "other vs female",
    "sex_missing": "sex not recorded vs female",
    "t_bp": "change per week, per point of baseline pain",
    "t_age10": "change per week, per 10 years of age",
    "t_sb_medium": "change per week, STarT Back medium vs low",
    "t_sb_high": "change per week, STarT Back high vs low",
    "t_sb_missing": "change per week, STarT Back not recorded vs low",
    "t_odi10": "change per week, per 10 points of baseline ODI",
    "t_odi_missing": "change per week, no baseline ODI",
    "t_sex_male": "change per week, male vs female",
    "t_sex_missing": "change per week, sex not recorded vs female",
}


def effects_table(model: ExpectedCourseModel) -> pd.DataFrame:
    """The fixed effects with their meaning: ``term``, ``meaning``, ``estimate``, ``ci_low``, ``ci_high``, ``p``.

    Units: points of weekly pain (NPRS 0-10) per unit of the term; terms starting ``t_`` are
    differences in the weekly change (negative = pain falls faster).
    """
    fe = model.fixed_effects
    out = pd.DataFrame({
        "term": fe["term"].astype("string"),
        "meaning": pd.array([TERM_LABELS.get(str(t), str(t)) for t in fe["term"]], dtype="string"),
        "estimate": fe["estimate"].to_numpy(float),
        "ci_low": fe["ci_low"].to_numpy(float),
        "ci_high": fe["ci_high"].to_numpy(float),
        "p": fe["p"].to_numpy(float),
    })
    return out


def methods_text(model: ExpectedCourseModel | NotEnoughData, cal: CalibrationResult | None = None) -> str:
    """The methods paragraph of the expected-course comparison, for the report and the notebook.

    Parameters
    ----------
    model
        :func:`fit_expected_course` output.
    cal
        :func:`calibration` output for the same data, to state the coverage and the error.

    Returns
    -------
    str
        What was fitted on what, the covariates, the interval and the status rule, the
        cross-validated calibration and the limits; or why there is no model yet.
    """
    if isinstance(model, NotEnoughData):
        return (f"Expected course (docs/clinical-reference.md section 10): {model.message}. The comparison with "
                "similar patients is shown once the clinic has enough completed programmes.")
    spec = model.spec
    used = [c for c in spec.covariates
            if any(_SLOT_OF.get(term.removeprefix("t_")) == c for term in model.terms)]
    names = {"baseline_pain": "baseline pain (mean of programme days 0-6)", "age": "age band",
             "startback": "STarT Back risk group", "baseline_odi": "baseline ODI", "sex": "sex"}
    slope = [names[c].split(" (")[0] for c in spec.slope_covariates if any(
        t.startswith("t_") and _SLOT_OF.get(t[2:]) == c for t in model.terms)]
    left_out = [names[c] for c in spec.covariates if c not in used]
    level = f"{spec.interval * 100:.0f} %"
    g = model.re_cov
    lines = [
        "Expected course (docs/clinical-reference.md section 10). A linear mixed model of weekly mean pain "
        f"(NPRS: the mean of the daily means of a programme week rated on at least {model.min_days} days) over "
        f"programme weeks {spec.first_week}-{model.max_week}, with a random intercept and a random slope of week "
        f"per patient, was fitted by REML (statsmodels MixedLM) on the {model.n_patients} programmes completed by "
        f"{model.as_of.date().isoformat()} ({model.n_obs} patient-weeks).",
        "Covariates: " + ", ".join(names[c] for c in used)
        + (f"; {' and '.join(slope)} also with week (the rate of recovery)" if slope else "")
        + (f"; not used because they did not vary or were not recorded: {', '.join(left_out)}" if left_out else "")
        + ". A covariate not recorded enters as its own category.",
        f"Between patients the SD of the level was {math.sqrt(max(g[0, 0], 0)):.2f} points and of the weekly "
        f"change {math.sqrt(max(g[1, 1], 0)):.2f} points a week; a week's mean varied around the patient's own "
        f"line with SD {math.sqrt(model.residual_var):.2f} points.",
        f"For each patient the expected weekly pain and an {level} prediction interval come from the baseline "
        "alone: the fixed effects, the between-patient variance and the residual variance of a weekly mean, plus "
        "the uncertainty of the fixed effects. A patient whose mean pain of the last "
        f"{spec.recent_weeks} complete weeks lies above the interval is 'behind expected', below it 'ahead of "
        "expected'; assessment starts once week 2 is complete.",
    ]
    if cal is not None and cal.status == "calibrated":
        lines.append(
            f"In {cal.folds}-fold cross-validation by patient ({cal.n_patients} patients, {cal.n_weeks} held-out "
            f"patient-weeks) the {level} interval covered {cal.coverage * 100:.0f} % of the held-out weeks and the "
            f"mean absolute error of the expected value was {cal.mae:.2f} points."
            + (f" The folds were fitted on fewer than the minimum of {spec.min_patients} patients."
               if cal.fits_below_minimum else "")
        )
    lines.append(
        "This is a comparison with similar patients of this clinic, not a diagnosis: with an "
        f"{level} interval, 1 in {round(2 / (1 - spec.interval))} patients who are like the clinic's completed "
        "programmes is above it by chance at any week. Limits: observational data of one clinic (the comparison "
        "inherits who completed a programme there); a straight-line course per patient; the variance components "
        "are plugged in, so intervals are slightly too narrow with few patients; weeks with fewer rated days are "
        "noisier than the model assumes."
    )
    if not model.converged:  # pragma: no cover - non-converged fits are refused by fit_expected_course
        lines.append("Caution: the model fit did not converge.")
    return " ".join(lines)



# =========================================================================== the stored fit (phase 2)


def _frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def _calibration_to_dict(cal: CalibrationResult) -> dict[str, Any]:
    """JSON-safe summary of a calibration (the per-week predictions are left out: they are recomputable)."""
    def num(v: float) -> float | None:
        return None if v is None or not math.isfinite(v) else float(v)

    return {
        "deciles": _frame_records(cal.deciles), "by_week": _frame_records(cal.by_week),
        "coverage": num(cal.coverage), "coverage_given_weeks": num(cal.coverage_given_weeks), "mae": num(cal.mae),
        "n_patients": int(cal.n_patients), "n_weeks": int(cal.n_weeks), "folds": int(cal.folds),
        "seed": int(cal.seed), "interval": float(cal.interval), "condition_week": int(cal.condition_week),
        "fits_below_minimum": int(cal.fits_below_minimum), "status": cal.status, "message": cal.message,
    }


def _calibration_from_dict(data: dict[str, Any]) -> CalibrationResult:
    def num(v: Any) -> float:
        return math.nan if v is None else float(v)

    return CalibrationResult(
        predictions=pd.DataFrame(), deciles=pd.DataFrame(data["deciles"]), coverage=num(data["coverage"]),
        coverage_given_weeks=num(data["coverage_given_weeks"]), mae=num(data["mae"]),
        by_week=pd.DataFrame(data["by_week"]), n_patients=int(data["n_patients"]), n_weeks=int(data["n_weeks"]),
        folds=int(data["folds"]), seed=int(data["seed"]), interval=float(data["interval"]),
        condition_week=int(data["condition_week"]), fits_below_minimum=int(data["fits_below_minimum"]),
        status=str(data["status"]), message=str(data["message"]),
    )


@dataclass(frozen=True, eq=False)
class ExpectedFit:
    """What an explicit refit produces and the store keeps (``rehabtrack refit-expected``, the admin button).

    Attributes
    ----------
    model
        The model fitted on every completed programme (used for patients in progress).
    calibration
        Its patient-level k-fold cross-validation (:func:`calibration`); restored from the
        store without the per-week ``predictions``.
    folds
        For each completed programme, the model of the fold that left it out
        (:func:`fold_models`), so that :func:`held_out_status` and the funnel plot compare
        completed programmes out of sample without fitting again.
    settings
        The thresholds used (:meth:`analysis.settings.Settings.as_dict`).
    """

    model: ExpectedCourseModel
    calibration: CalibrationResult
    folds: dict[str, ExpectedCourseModel]
    settings: dict[str, Any] = field(default_factory=dict)

    def settings_used(self) -> dict[str, Any]:
        """The model's own choices and the thresholds, as stored beside the model."""
        return {"expected": self.model.spec.to_dict(), "thresholds": _json_safe(self.settings)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form; :meth:`from_dict` restores it."""
        distinct: dict[int, ExpectedCourseModel] = {}
        for m in self.folds.values():
            distinct.setdefault(id(m), m)
        index = {key: i for i, key in enumerate(distinct)}
        return {
            "kind": "rehabtrack.expected_fit", "version": 1,
            "model": self.model.to_dict(),
            "calibration": _calibration_to_dict(self.calibration),
            "fold_models": [m.to_dict() for m in distinct.values()],
            "fold_of": {pid: index[id(m)] for pid, m in sorted(self.folds.items())},
            "settings": _json_safe(self.settings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExpectedFit:
        """Rebuild a stored fit (:meth:`to_dict`)."""
        if data.get("kind") != "rehabtrack.expected_fit" or data.get("version") != 1:
            raise ValueError("not a stored expected-course fit (kind/version do not match)")
        models = [ExpectedCourseModel.from_dict(m) for m in data["fold_models"]]
        return cls(
            model=ExpectedCourseModel.from_dict(data["model"]),
            calibration=_calibration_from_dict(data["calibration"]),
            folds={str(pid): models[int(i)] for pid, i in data["fold_of"].items()},
            settings=dict(data.get("settings", {})),
        )


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


@checks_tables(tables="cohort")
def refit(
    tables: CohortTables | ExpectedInputs,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    spec: ExpectedSettings = DEFAULT_EXPECTED,
    *,
    data_version: str | None = None,
) -> ExpectedFit | NotEnoughData:
    """Fit the model, its cross-validation folds and its calibration: what the store keeps.

    Parameters
    ----------
    tables, as_of, settings, spec
        As for :func:`fit_expected_course`.
    data_version
        The store's data version, written into the model (:attr:`ExpectedCourseModel.data_version`).

    Returns
    -------
    ExpectedFit or NotEnoughData
        :class:`NotEnoughData` below ``spec.min_patients`` completed programmes
        (its :attr:`NotEnoughData.short` reads "not enough completed programmes yet (N of M)").

    Notes
    -----
    ``1 + spec.folds`` mixed-model fits (about a minute for the 60-patient sample on a busy
    2-core machine); the dashboard and the caseload only read the stored result.
    """
    inputs = prepare_inputs(tables, as_of, settings=settings, spec=spec)
    model = fit_expected_course(inputs, settings=settings, spec=spec)
    if isinstance(model, NotEnoughData):
        return model
    model = model.with_data_version(data_version)
    folds = fold_models(inputs, settings=settings, spec=spec)
    cal = calibration(inputs, settings=settings, spec=spec, folds=folds)
    return ExpectedFit(model=model, calibration=cal, folds=folds, settings=settings.as_dict())


#: Columns of :func:`expected_band`.
BAND_COLUMNS: tuple[str, ...] = (
    "week", "observed", "expected", "lower", "upper", "expected_given_weeks", "lower_given_weeks",
    "upper_given_weeks", "weeks_conditioned",
)


@checks_tables(tables="cohort")
def expected_band(
    model: ExpectedCourseModel | NotEnoughData | None,
    tables: CohortTables | ExpectedInputs,
    patient_id: str,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
) -> pd.DataFrame:
    """One patient's expected course, for the pain chart: the band of similar patients of this clinic.

    Parameters
    ----------
    model
        The stored model (``None`` or :class:`NotEnoughData`: an empty table).
    tables
        Canonical tables holding the patient (e.g. a physio's caseload).
    patient_id
        The patient.
    as_of, settings
        As for :func:`expected_course`.

    Returns
    -------
    pandas.DataFrame
        One row per programme week ``2 .. model.max_week`` (:data:`BAND_COLUMNS`): ``week``
        (int); ``observed`` (float, points: the week's mean pain when complete with enough rated
        days, else NaN); ``expected``, ``lower``, ``upper`` (float, NPRS points 0-10: expected
        weekly pain of similar patients of this clinic from the baseline only, and its 80 %
        prediction interval); ``expected_given_weeks``, ``lower_given_weeks``,
        ``upper_given_weeks`` (the same given the patient's own weeks so far: the second view);
        ``weeks_conditioned`` (int). Empty (same columns) without a model or a baseline week.
        ``attrs["interval"]`` holds the level. Definition and references: docs/clinical-reference.md
        section 10 (Laird & Ware 1982; Henderson 1975; Skrondal & Rabe-Hesketh 2009).
    """
    if model is None or isinstance(model, NotEnoughData):
        out = pd.DataFrame({c: pd.Series(dtype=float) for c in BAND_COLUMNS})
        out["week"] = out["week"].astype(np.int64)
        out["weeks_conditioned"] = out["weeks_conditioned"].astype(np.int64)
        return out
    course = expected_course(model, tables, as_of, settings=settings, patients=[str(patient_id)])
    out = course.loc[course["patient_id"].astype(str).eq(str(patient_id)).to_numpy(bool), list(BAND_COLUMNS)]
    out = out.reset_index(drop=True)
    out.attrs["interval"] = model.spec.interval
    return out
