"""A synthetic clinic drawn from the expected-course model itself, with known truth (tests of issue 20).

Every patient follows the model of :mod:`analysis.expected` exactly:

    y_iw = x_iw' beta + b0_i + b1_i t + e_iw,  t = week - 1 (weeks 2-12),

with the truth given in the model's own coding (covariates centred on the means of
the fitting cohort), so that the fitted coefficients can be compared with it term by
term. Canonical tables are built so that the quantities the library computes equal the
drawn ones: seven daily whole-number ratings per week whose sum is ``round(7 y)``
(the weekly mean is then ``y`` rounded to 1/7, an error of variance 1/588 = 0.0017
points^2 that adds to the residual variance), a week-1 sum that fixes the baseline
pain, STarT Back answers that score to the drawn risk group and ODI answers whose
score is the drawn ODI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.cohort import CohortTables
from analysis.expected import AGE_BAND_YEARS
from analysis.schema import conform

START = pd.Timestamp("2026-01-05")
AS_OF = pd.Timestamp("2026-07-01")  # every programme (start + 0-59 days, 12 weeks) has ended
WEEKS = 12

#: The truth in the model's coding (centred covariates; ``t`` in weeks since week 1).
TRUE_BETA: dict[str, float] = {
    "Intercept": 6.0,
    "t": -0.20,
    "bp": 0.85,
    "age10": 0.15,
    "age_missing": 0.20,
    "sb_medium": 0.40,
    "sb_high": 0.80,
    "sb_missing": 0.10,
    "odi10": 0.25,
    "odi_missing": -0.20,
    "sex_male": -0.30,
    "sex_missing": 0.10,
    "t_bp": -0.03,
    "t_sb_medium": 0.05,
    "t_sb_high": 0.12,
    "t_sb_missing": 0.00,
}
#: Covariance of the random intercept and slope (points^2; SDs 0.63 and 0.10, correlation -0.32).
TRUE_G = np.array([[0.40, -0.02], [-0.02, 0.010]])
#: Residual variance of a weekly mean (points^2).
TRUE_S2 = 0.25
_BANDS = list(AGE_BAND_YEARS)


@dataclass(frozen=True)
class Centres:
    """Means of the fitting cohort that centre baseline pain, age and ODI."""

    pain: float
    age: float
    odi: float


@dataclass(frozen=True)
class Synthetic:
    """Tables, the drawn patient covariates and the centres used for the truth."""

    tables: CohortTables
    covariates: pd.DataFrame
    centres: Centres


def _sum_to(totals: np.ndarray, n: int, top: int) -> np.ndarray:
    """``len(totals) x n`` whole numbers in 0..top, each row summing to its total (spread evenly)."""
    totals = np.clip(totals, 0, n * top).astype(np.int64)
    base, extra = np.divmod(totals, n)
    return base[:, None] + (np.arange(n)[None, :] < extra[:, None])


def draw_covariates(n: int, rng: np.random.Generator, prefix: str) -> pd.DataFrame:
    """Baseline covariates of ``n`` patients."""
    k1 = np.rint(7 * np.clip(rng.normal(6.3, 1.1, n), 3, 9)).astype(np.int64)
    band = np.array(_BANDS, dtype=object)[rng.choice(len(_BANDS), n, p=[0.1, 0.15, 0.2, 0.2, 0.15, 0.12, 0.08])]
    band[rng.random(n) < 0.06] = None
    risk = np.array(["low", "medium", "high"], dtype=object)[rng.choice(3, n, p=[0.4, 0.35, 0.25])]
    risk[rng.random(n) < 0.10] = "not recorded"
    odi_sum = np.where(rng.random(n) < 0.75, rng.integers(5, 36, n), -1)
    sex = np.array(["female", "male"], dtype=object)[rng.integers(0, 2, n)]
    sex[rng.random(n) < 0.10] = None
    return pd.DataFrame(
        {
            "patient_id": [f"{prefix}{i:04d}" for i in range(n)],
            "physio_id": np.array(["physio_a", "physio_b", "physio_c", "physio_d"])[rng.integers(0, 4, n)],
            "programme_start": START + pd.to_timedelta(rng.integers(0, 60, n), unit="D"),
            "week1_sum": k1,
            "baseline_pain": k1 / 7,
            "age_band": band,
            "age_years": pd.Series(band).map(AGE_BAND_YEARS).astype(float).to_numpy(),
            "startback": risk,
            "odi_sum": odi_sum,
            "baseline_odi": np.where(odi_sum >= 0, odi_sum * 2.0, np.nan),
            "sex": sex,
        }
    )


def centres_of(cov: pd.DataFrame) -> Centres:
    return Centres(pain=float(cov["baseline_pain"].mean()), age=float(np.nanmean(cov["age_years"])),
                   odi=float(np.nanmean(cov["baseline_odi"])))


def design_columns(cov: pd.DataFrame, centres: Centres) -> pd.DataFrame:
    """The patient-level columns of the truth's coding."""
    age = cov["age_years"].to_numpy(float)
    odi = cov["baseline_odi"].to_numpy(float)
    risk = cov["startback"].to_numpy(object)
    sex = cov["sex"].to_numpy(object)
    return pd.DataFrame(
        {
            "bp": cov["baseline_pain"].to_numpy(float) - centres.pain,
            "age10": np.where(np.isnan(age), 0.0, (age - centres.age) / 10),
            "age_missing": np.isnan(age).astype(float),
            "sb_medium": (risk == "medium").astype(float),
            "sb_high": (risk == "high").astype(float),
            "sb_missing": (risk == "not recorded").astype(float),
            "odi10": np.where(np.isnan(odi), 0.0, (odi - centres.odi) / 10),
            "odi_missing": np.isnan(odi).astype(float),
            "sex_male": (sex == "male").astype(float),
            "sex_missing": pd.isna(sex).astype(float),
        }
    )


def weekly_means(cov: pd.DataFrame, centres: Centres, rng: np.random.Generator,
                 beta: dict[str, float] = TRUE_BETA, g: np.ndarray = TRUE_G, s2: float = TRUE_S2) -> np.ndarray:
    """``n x 11`` weekly mean pain of weeks 2-12 drawn from the model."""
    n = len(cov)
    d = design_columns(cov, centres)
    t = np.arange(1, WEEKS, dtype=float)
    level = beta["Intercept"] + sum(beta[c] * d[c].to_numpy() for c in d.columns if c in beta)
    slope = beta["t"] + sum(beta[f"t_{c}"] * d[c].to_numpy() for c in d.columns if f"t_{c}" in beta)
    b = rng.multivariate_normal(np.zeros(2), g, n)
    e = rng.normal(0.0, np.sqrt(s2), (n, len(t)))
    return (level + b[:, 0])[:, None] + (slope + b[:, 1])[:, None] * t[None, :] + e


def tables_for(cov: pd.DataFrame, y: np.ndarray, *, open_ended: bool = False) -> CohortTables:
    """Canonical tables whose week-1 and weekly means are exactly ``k/7`` of the drawn values."""
    start = cov["programme_start"].to_numpy(dtype="datetime64[ns]")
    sums = np.concatenate([cov["week1_sum"].to_numpy()[:, None], np.rint(7 * y).astype(np.int64)], axis=1)
    daily = np.concatenate([_sum_to(sums[:, w], 7, 10) for w in range(WEEKS)], axis=1)  # n x 84
    p_i, d_i = np.nonzero(np.ones_like(daily, dtype=bool))
    pain = pd.DataFrame({
        "patient_id": cov["patient_id"].to_numpy()[p_i],
        "recorded_at": start[p_i] + (d_i * 24 + 20).astype("timedelta64[h]"),
        "nprs": daily[p_i, d_i],
    })
    end = pd.Series(start + np.timedelta64(7 * WEEKS - 1, "D"))
    rx = pd.DataFrame({
        "patient_id": cov["patient_id"], "exercise": "knee_to_chest", "side": "left", "sets": 1, "reps": 10,
        "hold_s": 5.0, "sessions_per_week": 7, "start_date": start,
        "end_date": pd.NaT if open_ended else end,
    })
    risk_total = {"low": (1, 0), "medium": (3, 2), "high": (2, 4)}  # (physical items, psychosocial items)
    rows = []
    visit = start + np.timedelta64(10, "h")
    for i, r in enumerate(cov["startback"].to_numpy(object)):
        if r in risk_total:
            phys, psych = risk_total[r]
            items = [1] * phys + [0] * (4 - phys) + [1] * psych + [0] * (5 - psych)
            rows += [(cov["patient_id"].iat[i], visit[i], "startback", str(j + 1), float(v))
                     for j, v in enumerate(items)]
    odi_items = _sum_to(np.maximum(cov["odi_sum"].to_numpy(), 0), 10, 5)
    for i in np.flatnonzero(cov["odi_sum"].to_numpy() >= 0):
        rows += [(cov["patient_id"].iat[i], visit[i], "odi", str(j + 1), float(v)) for j, v in enumerate(odi_items[i])]
    proms = pd.DataFrame(rows, columns=["patient_id", "completed_at", "instrument", "item", "value"])
    patients = conform(cov[["patient_id", "physio_id", "programme_start", "age_band"]], "patients")
    patients["sex"] = pd.array(cov["sex"].to_numpy(object), dtype="string")  # not a canonical column (yet)
    return CohortTables(
        patients=patients,
        prescriptions=conform(rx, "prescriptions"),
        sessions=conform(pd.DataFrame(columns=["patient_id"]), "sessions"),
        pain=conform(pain, "pain"),
        proms=conform(proms, "proms"),
    )


def synthetic_clinic(n: int, seed: int, prefix: str = "S", centres: Centres | None = None,
                     *, open_ended: bool = False) -> Synthetic:
    """``n`` patients drawn from the truth; ``centres`` default to their own means (a fitting cohort)."""
    rng = np.random.default_rng(seed)
    cov = draw_covariates(n, rng, prefix)
    centres = centres or centres_of(cov)
    y = weekly_means(cov, centres, rng)
    return Synthetic(tables=tables_for(cov, y, open_ended=open_ended), covariates=cov, centres=centres)
