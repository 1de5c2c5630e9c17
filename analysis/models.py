"""Linear mixed-effects models of pain over programme weeks (statsmodels MixedLM).

Two layers:

* :func:`fit_mixed_model` - any ``y ~ fixed + (re | group)`` linear mixed model,
  fitted by REML by default (as ``lme4::lmer``), returned as a frozen
  :class:`MixedModelResult` with a tidy fixed-effects table (estimate, SE, Wald
  CI, p), the random-effects (co)variances and the optimiser's convergence
  record;
* :func:`adherence_pain_model` - the cohort question "does adherence go with
  improvement?": the patient-week table of :func:`patient_week_table` (weekly
  mean NPRS, week, the patient's overall session adherence, centred) fitted as
  ``nprs ~ week * adherence + (week | patient)``, with
  :func:`describe_adherence_model` giving the plain-language reading.

Pain is modelled on its 0-10 scale, never dichotomised first
(docs/clinical-reference.md section 3; Leroux et al. 2024 show a 40-50 % loss of power when pain is
dichotomised before modelling).

Optimiser
---------
statsmodels' default optimiser sequence can stop short of the REML optimum on
random-slope models (on the sample cohort ``bfgs`` stops early, and
``powell`` can report convergence at a singular, infinite-likelihood point).
:func:`fit_mixed_model` therefore runs every optimiser of
:data:`DEFAULT_METHODS` (``bfgs``, ``lbfgs``, ``cg``) and keeps the first, in
that order, whose converged fit is within 1e-6 of the highest finite REML
log-likelihood found - the optimum lme4 would report. With it the sleepstudy model
``Reaction ~ Days + (Days | Subject)`` reproduces the published ``lmer`` fixed
effects (251.405, SE 6.825; 10.467, SE 1.546) and variance components
(612.10, 9.60, 35.07; residual 654.94) to the reported precision
(``tests/test_models.py``).

Distribution
------------
A mixed model cannot be fitted exactly from per-partition pieces (the REML
likelihood couples every patient through the shared variance components). On
a distributed cohort (:mod:`analysis.distributed`) the patient-week table is
built per partition of whole patients and collected - it has one row per
patient-week, small enough for one machine at 100,000 patients - and the model
is fitted on it here.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from analysis.adherence import adherence_summary
from analysis.errors import NotEnoughDataError
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.timeline import DateLike
from analysis.trends import weekly_pain
from analysis.validation import checks_tables

__all__ = [
    "DEFAULT_METHODS",
    "MixedModelResult",
    "fit_mixed_model",
    "patient_week_table",
    "AdherencePainModel",
    "adherence_pain_model",
    "describe_adherence_model",
    "predict_pain",
    "LinearFit",
    "linear_fit",
]

#: Optimisers run by :func:`fit_mixed_model` (see the module docstring).
DEFAULT_METHODS: tuple[str, ...] = ("bfgs", "lbfgs", "cg")


@dataclass(frozen=True)
class MixedModelResult:
    """A fitted linear mixed-effects model in tidy form.

    Attributes
    ----------
    formula, groups, re_formula
        The model as specified: fixed-effects formula, grouping column and
        random-effects formula (``"~1"`` random intercept, ``"~week"`` random
        intercept and slope, correlated).
    fixed_effects
        One row per fixed-effect term: ``term`` (string), ``estimate`` (units of
        the response per unit of the term), ``se`` (same units), ``ci_low``,
        ``ci_high`` (Wald interval, estimate +- z x SE), ``z`` (estimate / SE),
        ``p`` (two-sided, normal reference).
    random_effects
        One row per variance component: ``component`` (``"<group> variance"``,
        ``"<group> covariance"`` for ``Cov(a, b)``, and ``"Residual"``),
        ``term`` (the random-effect term(s), e.g. ``"Intercept"``, ``"week"``,
        ``"Intercept:week"``), ``variance`` (squared response units; the
        covariance for covariance rows), ``sd`` (square root of the variance;
        NaN for covariance rows), ``corr`` (correlation for covariance rows,
        NaN otherwise).
    n_obs, n_groups
        Observations and groups used.
    reml
        True when fitted by restricted maximum likelihood (the default, as lme4).
    log_likelihood
        Restricted (REML) or full log-likelihood at the optimum.
    converged
        Whether the optimiser reported convergence.
    method
        The optimiser that produced the fit.
    confidence
        Confidence level of the intervals.
    warnings
        Warnings raised while fitting (e.g. a singular random-effects
        covariance), as text; empty when the fit was clean.
    fixed_cov
        Covariance matrix of the fixed-effect estimates (rows and columns named by
        term), for predictions with confidence bands.
    """

    formula: str
    groups: str
    re_formula: str
    fixed_effects: pd.DataFrame
    random_effects: pd.DataFrame
    n_obs: int
    n_groups: int
    reml: bool
    log_likelihood: float
    converged: bool
    method: str
    confidence: float
    warnings: tuple[str, ...] = ()
    fixed_cov: pd.DataFrame | None = None

    def effect(self, term: str) -> pd.Series:
        """The fixed-effects row of ``term`` (``KeyError`` if absent)."""
        table = self.fixed_effects.set_index("term")
        if term not in table.index:
            raise KeyError(f"no fixed effect {term!r}; terms: {', '.join(table.index)}")
        return table.loc[term]


def _random_effects_table(result: Any, groups: str) -> pd.DataFrame:
    cov = result.cov_re
    names = ["Intercept" if n == "Group" else str(n) for n in cov.index]  # statsmodels calls the intercept "Group"
    rows: list[dict[str, Any]] = []
    values = np.asarray(cov, dtype=float)
    for i, name in enumerate(names):
        rows.append(
            {
                "component": f"{groups} variance",
                "term": name,
                "variance": values[i, i],
                "sd": math.sqrt(max(values[i, i], 0.0)),
                "corr": np.nan,
            }
        )
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            denom = math.sqrt(max(values[i, i], 0.0) * max(values[j, j], 0.0))
            rows.append(
                {
                    "component": f"{groups} covariance",
                    "term": f"{names[i]}:{names[j]}",
                    "variance": values[i, j],
                    "sd": np.nan,
                    "corr": values[i, j] / denom if denom > 0 else np.nan,
                }
            )
    scale = float(result.scale)
    rows.append({"component": "Residual", "term": "", "variance": scale, "sd": math.sqrt(scale), "corr": np.nan})
    return pd.DataFrame(rows, columns=["component", "term", "variance", "sd", "corr"])


def fit_mixed_model(
    data: pd.DataFrame,
    formula: str,
    groups: str,
    re_formula: str = "~1",
    *,
    reml: bool = True,
    confidence: float = 0.95,
    methods: Sequence[str] = DEFAULT_METHODS,
) -> MixedModelResult:
    """Fit a linear mixed-effects model with statsmodels' MixedLM.

    Parameters
    ----------
    data
        Long-format data, one row per observation.
    formula
        Fixed effects as a patsy formula, e.g. ``"nprs ~ week * adherence"``.
    groups
        Column of ``data`` whose levels get random effects (e.g. ``"patient_id"``).
    re_formula
        Random effects per group: ``"~1"`` (intercept) or ``"~week"`` (intercept
        and slope of ``week``, with their correlation), as lme4's ``(1 | g)`` and
        ``(week | g)``.
    reml
        Restricted maximum likelihood (default, as ``lme4::lmer``); ``False`` for ML
        (needed to compare fixed-effects structures by likelihood ratio).
    confidence
        Level of the Wald intervals of the fixed effects.
    methods
        Optimisers to run (default :data:`DEFAULT_METHODS`); all of statsmodels'
        ``fit(method=...)`` names work. The fit kept is the first, in this order,
        that converged to within 1e-6 of the highest finite log-likelihood found.

    Returns
    -------
    MixedModelResult
        Tidy fixed and random effects and convergence information (see the class).

    Raises
    ------
    NotEnoughDataError
        If fewer than 2 groups or fewer observations than fixed effects + 2 remain
        after dropping rows with missing values in the model's columns.

    See Also
    --------
    adherence_pain_model : The project's model of pain by week and adherence.

    Notes
    -----
    Model: ``y_ij = x_ij' beta + z_ij' b_i + e_ij``, ``b_i ~ N(0, G)``,
    ``e_ij ~ N(0, sigma^2)``, fitted by (RE)ML. Fixed-effect CIs are Wald
    intervals ``beta +- z_(1 - alpha/2) x SE`` and p-values use the normal
    reference, as statsmodels reports them; lme4 reports no p-values, and with
    few groups a t reference with Satterthwaite or Kenward-Roger degrees of
    freedom would be wider. Every optimiser in ``methods`` is run; when none
    converges, the last fit is returned with ``converged=False`` and its warnings.

    References
    ----------
    Laird N.M. & Ware J.H. (1982). Random-effects models for longitudinal data.
    Biometrics 38:963-974. Bates D. et al. (2015). Fitting linear mixed-effects
    models using lme4. J Stat Softw 67(1). Seabold S. & Perktold J. (2010).
    statsmodels. Proc. 9th Python in Science Conference.
    """
    import statsmodels.formula.api as smf  # imported lazily: statsmodels adds ~1 s to import time

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    if groups not in data.columns:
        raise KeyError(f"the grouping column {groups!r} is not in the data; columns: {', '.join(data.columns)}")
    frame = data.copy()
    for col in frame.columns:  # patsy needs plain numbers, not nullable extension arrays
        if isinstance(frame[col].dtype, pd.api.extensions.ExtensionDtype) and frame[col].dtype.kind in "iufb":
            frame[col] = frame[col].astype("float64")
    tokens = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", formula + " " + re_formula))
    model_cols = [c for c in frame.columns if c == groups or c in tokens]
    frame = frame.dropna(subset=model_cols).reset_index(drop=True)
    n_groups = int(frame[groups].nunique())
    if n_groups < 2:
        raise NotEnoughDataError(f"a mixed model needs at least 2 groups of {groups!r}; the data have {n_groups}")
    model = smf.mixedlm(formula, frame, groups=frame[groups], re_formula=re_formula)
    if len(frame) < model.k_fe + 2:
        raise NotEnoughDataError(
            f"a mixed model with {model.k_fe} fixed effects needs more than {model.k_fe + 1} observations; "
            f"the data have {len(frame)}"
        )
    fits: list[tuple[str, Any, list[str]]] = []
    errors: list[str] = []
    for method in methods:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            try:
                fitted = model.fit(reml=reml, method=method)
            except (np.linalg.LinAlgError, ValueError) as exc:  # pragma: no cover - optimiser failure
                errors.append(f"{method}: {exc}")
                continue
        fits.append((method, fitted, sorted({str(w.message) for w in record})))
    if not fits:  # pragma: no cover - every optimiser raised
        raise NotEnoughDataError("the mixed model could not be fitted: " + "; ".join(errors))
    good = [f for f in fits if f[1].converged and np.isfinite(f[1].llf)]
    if good:
        best_llf = max(f[1].llf for f in good)
        # the first optimiser (in the order given) within 1e-6 of the best likelihood found
        used, result, caught = next(f for f in good if f[1].llf >= best_llf - 1e-6)
    else:
        used, result, caught = fits[-1]

    z = sps.norm.ppf(0.5 + confidence / 2)
    k = model.k_fe
    est = np.asarray(result.fe_params, dtype=float)
    se = np.asarray(result.bse_fe, dtype=float)[:k]
    with np.errstate(invalid="ignore", divide="ignore"):
        zval = est / se
    fixed = pd.DataFrame(
        {
            "term": pd.array(list(result.fe_params.index), dtype="string"),
            "estimate": est,
            "se": se,
            "ci_low": est - z * se,
            "ci_high": est + z * se,
            "z": zval,
            "p": 2 * sps.norm.sf(np.abs(zval)),
        }
    )
    return MixedModelResult(
        formula=formula,
        groups=groups,
        re_formula=re_formula,
        fixed_effects=fixed,
        random_effects=_random_effects_table(result, groups),
        n_obs=int(result.nobs),
        n_groups=n_groups,
        reml=bool(reml),
        log_likelihood=float(result.llf),
        converged=bool(result.converged),
        method=used,
        confidence=float(confidence),
        warnings=tuple(caught),
        fixed_cov=pd.DataFrame(
            np.asarray(result.cov_params())[:k, :k], index=list(result.fe_params.index),
            columns=list(result.fe_params.index),
        ),
    )


# =========================================================================== adherence and pain


@checks_tables(cohort="cohort")
def patient_week_table(
    cohort: Any,
    *,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    min_days_rated: int = 1,
    adherence_unit: float = 0.10,
    adherence_centre: float | None = None,
) -> pd.DataFrame:
    """The patient-week table of the adherence-pain model: weekly pain and the patient's adherence.

    Parameters
    ----------
    cohort
        A :class:`analysis.schema.CohortTables` (canonical tables).
    as_of
        Analysis date (default: the last session or pain entry in the data).
    settings
        Thresholds in use (adherence rules of :func:`analysis.adherence.adherence_summary`).
    min_days_rated
        Fewest days with a rating for a week to enter (default 1: every week with
        a rating; the model weighs each patient by their number of weeks).
    adherence_unit
        The step in which adherence is expressed (default 0.10: coefficients are per
        10 percentage points of prescribed sessions done).
    adherence_centre
        Value (fraction) adherence is centred on; default the mean adherence of the
        patients in the table, so the intercept and ``week`` coefficients are for a
        patient of average adherence.

    Returns
    -------
    pandas.DataFrame
        One row per patient-week with a weekly mean pain, sorted by patient and week:

        - ``patient_id`` (string)
        - ``week`` (int64): programme week, 1 = days 0-6
        - ``week0`` (float64, weeks): ``week - 1``, so 0 is the first week
        - ``nprs`` (float64, points 0-10): mean of the week's daily mean NPRS
        - ``days_rated`` (int64, days): days with a rating in the week
        - ``adherence_rate`` (float64, fraction 0-1): the patient's overall session
          adherence (:func:`analysis.adherence.adherence_summary`)
        - ``adherence`` (float64, units of ``adherence_unit``):
          ``(adherence_rate - adherence_centre) / adherence_unit``

    See Also
    --------
    adherence_pain_model : The model fitted to this table.

    Notes
    -----
    Adherence is a patient-level (between-patient) covariate: the share of all
    prescribed sessions the patient did up to ``as_of``, capped per week.
    Patients with no prescription yet (adherence NaN) are left out. Weeks before
    the programme start and after ``as_of`` have no ratings in
    :func:`analysis.trends.weekly_pain` and so do not enter.
    """
    when = cohort.as_of(as_of)
    weekly = weekly_pain(cohort.pain, cohort.patients, as_of=when)
    weekly = weekly.loc[weekly["days_rated"] >= max(int(min_days_rated), 1)]
    adh = adherence_summary(
        cohort.sessions, cohort.prescriptions, cohort.patients, pain=cohort.pain, as_of=when, settings=settings
    )[["patient_id", "adherence_rate"]]
    table = weekly.merge(adh, on="patient_id", how="inner")
    table = table.loc[table["adherence_rate"].notna()]
    if adherence_centre is None:
        per_patient = table.drop_duplicates("patient_id")["adherence_rate"]
        adherence_centre = float(per_patient.mean()) if len(per_patient) else 0.0
    out = pd.DataFrame(
        {
            "patient_id": table["patient_id"].astype("string"),
            "week": table["week"].astype(np.int64),
            "week0": (table["week"] - 1).astype(np.float64),
            "nprs": table["nprs_mean"].astype(np.float64),
            "days_rated": table["days_rated"].astype(np.int64),
            "adherence_rate": table["adherence_rate"].astype(np.float64),
            "adherence": ((table["adherence_rate"] - adherence_centre) / adherence_unit).astype(np.float64),
        }
    )
    out = out.sort_values(["patient_id", "week"], kind="stable").reset_index(drop=True)
    out.attrs["adherence_centre"] = adherence_centre
    out.attrs["adherence_unit"] = adherence_unit
    return out


@dataclass(frozen=True)
class AdherencePainModel:
    """The fitted adherence-pain model and what it was fitted on.

    Attributes
    ----------
    result
        The :class:`MixedModelResult` of ``nprs ~ week0 * adherence + (week0 | patient_id)``.
    data
        The patient-week table (:func:`patient_week_table`).
    adherence_centre
        Adherence (fraction) that ``adherence = 0`` stands for: the cohort mean by default.
    adherence_unit
        The step (fraction) of one unit of ``adherence``: 0.10 = 10 percentage points.
    """

    result: MixedModelResult
    data: pd.DataFrame
    adherence_centre: float
    adherence_unit: float


#: Fixed-effects formula of :func:`adherence_pain_model`.
ADHERENCE_FORMULA = "nprs ~ week0 * adherence"
#: Random-effects formula of :func:`adherence_pain_model` (random intercept and slope of week).
ADHERENCE_RE_FORMULA = "~week0"


@checks_tables(cohort="cohort")
def adherence_pain_model(
    cohort: Any = None,
    *,
    data: pd.DataFrame | None = None,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    min_days_rated: int = 1,
    adherence_unit: float = 0.10,
    reml: bool = True,
) -> AdherencePainModel:
    """Does adherence go with improvement? ``nprs ~ week * adherence + (week | patient)``.

    Parameters
    ----------
    cohort
        A :class:`analysis.schema.CohortTables`; not needed when ``data`` is given.
    data
        A ready patient-week table (:func:`patient_week_table`, e.g. collected from
        a distributed cohort); built from ``cohort`` when ``None``.
    as_of, settings, min_days_rated, adherence_unit
        Passed to :func:`patient_week_table`.
    reml
        REML (default) or ML.

    Returns
    -------
    AdherencePainModel
        The fit (fixed-effect terms ``Intercept``, ``week0``, ``adherence``,
        ``week0:adherence``) and its data.

    Raises
    ------
    NotEnoughDataError
        If fewer than 2 patients have weekly pain and a prescription.

    See Also
    --------
    patient_week_table : Its data.
    describe_adherence_model : Its reading in words.
    predict_pain : Expected pain from it.

    Notes
    -----
    ``nprs_ij = b0 + b1 week0_ij + b2 adh_i + b3 week0_ij adh_i + u0_i + u1_i week0_ij + e_ij``
    with ``(u0_i, u1_i) ~ N(0, G)`` correlated. ``week0 = week - 1`` and
    adherence is centred on the cohort mean and expressed per ``adherence_unit``,
    so ``b0`` is the expected weekly pain in week 1 of a patient of average
    adherence, ``b1`` their change in pain per week (points/week), ``b2`` the
    difference in week-1 pain per 10 percentage points more adherence, and
    ``b3`` how much faster (negative) or slower pain changes per week per 10
    percentage points more adherence - the answer to the question.

    Observational data: the model shows association, not the effect of
    exercising more (patients who improve may find it easier to keep going).

    References
    ----------
    docs/clinical-reference.md section 3 (pain ~ week [* adherence] + (week | patient); do not
    dichotomise pain, Leroux et al. 2024). Bates et al. 2015 (lme4).
    """
    if data is None:
        if cohort is None:
            raise ValueError("give a cohort or a ready patient-week table (data=...)")
        data = patient_week_table(
            cohort, as_of=as_of, settings=settings, min_days_rated=min_days_rated, adherence_unit=adherence_unit
        )
    if data["patient_id"].nunique() < 2:
        raise NotEnoughDataError(
            "the adherence-pain model needs weekly pain ratings and a prescription for at least 2 patients"
        )
    result = fit_mixed_model(data, ADHERENCE_FORMULA, "patient_id", ADHERENCE_RE_FORMULA, reml=reml)
    return AdherencePainModel(
        result=result,
        data=data,
        adherence_centre=float(data.attrs.get("adherence_centre", np.nan)),
        adherence_unit=float(data.attrs.get("adherence_unit", adherence_unit)),
    )


def _pts(x: float) -> str:
    return f"{abs(x):.2f}"


def _ci(row: pd.Series) -> str:
    return f"{row['ci_low']:.2f} to {row['ci_high']:.2f}"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def describe_adherence_model(model: AdherencePainModel) -> str:
    """A plain-language reading of the adherence-pain model, for a clinician-researcher.

    Parameters
    ----------
    model
        Output of :func:`adherence_pain_model`.

    Returns
    -------
    str
        A short paragraph: the typical course of pain, the association of
        adherence with it (with CIs and p-values), the spread between patients,
        and the caveat that this is association, not causation.

    See Also
    --------
    adherence_pain_model : The model described.
    """
    r = model.result
    b0, b1 = r.effect("Intercept"), r.effect("week0")
    b2, b3 = r.effect("adherence"), r.effect("week0:adherence")
    level = f"{r.confidence * 100:g} %"
    unit = f"{model.adherence_unit * 100:.0f} percentage points"
    centre = model.adherence_centre
    fall = "fell" if b1["estimate"] < 0 else "rose"
    faster = "faster" if b3["estimate"] < 0 else "slower"
    clear = b3["ci_high"] < 0 or b3["ci_low"] > 0
    re_ = r.random_effects
    slope_sd = re_.loc[re_["component"].str.endswith("variance") & (re_["term"] == "week0"), "sd"]
    sd = float(slope_sd.iloc[0]) if len(slope_sd) else math.nan
    spread = (
        f" Patients differed: the between-patient SD of the weekly change was {sd:.2f} points/week."
        if not math.isnan(sd)
        else ""
    )
    lines = [
        f"Across {r.n_groups} patients and {r.n_obs} patient-weeks, a patient of average adherence "
        f"({centre * 100:.0f} % of prescribed sessions) started at {b0['estimate']:.2f} points of pain in week 1 "
        f"({level} CI {_ci(b0)}) and their pain {fall} by {_pts(b1['estimate'])} points a week "
        f"({level} CI {_ci(b1)}, {_p(b1['p'])}).",
        f"For each {unit} more adherence, pain changed {_pts(b3['estimate'])} points a week {faster} "
        f"({level} CI {_ci(b3)}, {_p(b3['p'])})"
        + (
            "; the interval excludes no difference."
            if clear
            else "; the interval includes no difference, so these data cannot tell a faster from a slower course."
        ),
        f"Week-1 pain differed by {b2['estimate']:+.2f} points per {unit} more adherence "
        f"({level} CI {_ci(b2)}).{spread}",
        "This is an association in observational data, not the effect of exercising more: patients whose pain "
        "eases may find it easier to keep exercising.",
    ]
    if not r.converged:
        lines.append("Caution: the model fit did not converge; do not rely on these numbers.")
    return " ".join(lines)


def predict_pain(
    model: AdherencePainModel, adherence_rates: Sequence[float], weeks: Sequence[int]
) -> pd.DataFrame:
    """Expected weekly pain of a typical patient at given adherence levels (fixed effects only).

    Parameters
    ----------
    model
        Output of :func:`adherence_pain_model`.
    adherence_rates
        Overall adherence levels (fractions 0-1), e.g. ``[0.3, 0.5, 0.7, 0.9]``.
    weeks
        Programme weeks (1 = first week).

    Returns
    -------
    pandas.DataFrame
        One row per adherence level and week: ``adherence_rate`` (fraction),
        ``week`` (int64), ``nprs`` (float64, points: expected weekly mean pain),
        ``ci_low``, ``ci_high`` (float64, points: confidence band of that mean,
        from the fixed-effects covariance; it does not include between-patient spread).

    See Also
    --------
    adherence_pain_model : The model predicting.

    Notes
    -----
    ``nprs = x' beta`` with ``x = (1, week - 1, a, (week - 1) a)`` and ``a`` the
    adherence centred and scaled as in the model; the band is
    ``x' beta +- z sqrt(x' V x)`` with ``V`` the covariance of the estimates.
    """
    r = model.result
    if r.fixed_cov is None:  # pragma: no cover - results built by fit_mixed_model always carry it
        raise ValueError("the model carries no covariance of its fixed effects")
    terms = ["Intercept", "week0", "adherence", "week0:adherence"]
    beta = r.fixed_effects.set_index("term").loc[terms, "estimate"].to_numpy(dtype=float)
    cov = r.fixed_cov.loc[terms, terms].to_numpy(dtype=float)
    rates = np.repeat(np.asarray(adherence_rates, dtype=float), len(weeks))
    week = np.tile(np.asarray(weeks, dtype=np.int64), len(adherence_rates))
    a = (rates - model.adherence_centre) / model.adherence_unit
    w0 = (week - 1).astype(float)
    x = np.column_stack([np.ones_like(w0), w0, a, w0 * a])
    fit = x @ beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", x, cov, x))
    z = sps.norm.ppf(0.5 + r.confidence / 2)
    return pd.DataFrame(
        {"adherence_rate": rates, "week": week, "nprs": fit, "ci_low": fit - z * se, "ci_high": fit + z * se}
    )


@dataclass(frozen=True)
class LinearFit:
    """A least-squares line ``y = intercept + slope x`` with its confidence band.

    Attributes
    ----------
    slope, intercept
        Estimates (units of y per unit of x; units of y).
    slope_ci_low, slope_ci_high
        Confidence interval of the slope (t distribution, n - 2 df).
    p
        Two-sided p-value of slope = 0.
    r
        Pearson correlation of x and y.
    n
        Pairs used (rows with both values).
    confidence
        Level of the intervals.
    band
        ``x`` (grid over the observed range, 50 points), ``fit``, ``ci_low``,
        ``ci_high``: the line and the confidence band of the mean of y.
    """

    slope: float
    intercept: float
    slope_ci_low: float
    slope_ci_high: float
    p: float
    r: float
    n: int
    confidence: float
    band: pd.DataFrame


def linear_fit(
    x: Sequence[float] | pd.Series, y: Sequence[float] | pd.Series, *, confidence: float = 0.95
) -> LinearFit:
    """Ordinary least-squares line of y on x with a confidence band (for a scatter plot).

    Parameters
    ----------
    x, y
        Paired values; pairs with a missing value are dropped.
    confidence
        Level of the slope CI and of the band.

    Returns
    -------
    LinearFit
        Slope, intercept, CI, p, r, n and the band.

    Raises
    ------
    NotEnoughDataError
        With fewer than 3 complete pairs or no spread in x.

    See Also
    --------
    adherence_pain_model : The mixed model of the same question.

    Notes
    -----
    ``scipy.stats.linregress``; the band of the mean at x0 is
    ``fit +- t sqrt(s^2 (1/n + (x0 - xbar)^2 / Sxx))``.
    """
    xs = pd.to_numeric(pd.Series(np.asarray(x, dtype=object)), errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(pd.Series(np.asarray(y, dtype=object)), errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    n = len(xs)
    if n < 3 or np.ptp(xs) == 0:
        raise NotEnoughDataError(f"a fitted line needs at least 3 pairs with different x values; got {n}")
    res = sps.linregress(xs, ys)
    t = sps.t.ppf(0.5 + confidence / 2, n - 2)
    resid = ys - (res.intercept + res.slope * xs)
    s2 = float(resid @ resid) / (n - 2)
    sxx = float(((xs - xs.mean()) ** 2).sum())
    grid = np.linspace(xs.min(), xs.max(), 50)
    fit = res.intercept + res.slope * grid
    half = t * np.sqrt(s2 * (1 / n + (grid - xs.mean()) ** 2 / sxx))
    return LinearFit(
        slope=float(res.slope),
        intercept=float(res.intercept),
        slope_ci_low=float(res.slope - t * res.stderr),
        slope_ci_high=float(res.slope + t * res.stderr),
        p=float(res.pvalue),
        r=float(res.rvalue),
        n=int(n),
        confidence=float(confidence),
        band=pd.DataFrame({"x": grid, "fit": fit, "ci_low": fit - half, "ci_high": fit + half}),
    )
