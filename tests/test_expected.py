"""The expected-course model (issue 20): truth recovered, honest intervals, closed forms, status, funnel.

Truth comes from a synthetic clinic drawn from the model itself (``tests/synthetic_expected.py``):
known fixed effects, random-effect covariance and residual variance, and covariates. The closed-form
predictive variances are checked against dense multivariate-normal algebra and a brute-force
simulation; the funnel limits and decile tables against hand computations; the sample against what
was planted in it (data/sample/README.md).
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from analysis import expected as ex
from analysis.cohort import CohortTables
from analysis.expected import (
    DEFAULT_EXPECTED,
    STATUS_AHEAD,
    STATUS_BEHIND,
    STATUS_NOT_ASSESSED,
    STATUS_NOT_ENOUGH,
    STATUS_ON_TRACK,
    STATUSES,
    ExpectedCourseModel,
    NotEnoughData,
    calibration,
    decile_table,
    expected_course,
    expected_status,
    fit_expected_course,
    fold_of,
    funnel_limits,
    physio_funnel,
    prepare_inputs,
)
from analysis.sample_data import SNAPSHOT_DATE, load_cohort
from tests.synthetic_expected import AS_OF, TRUE_BETA, TRUE_G, TRUE_S2, synthetic_clinic

#: One gradient optimiser is enough on well-behaved synthetic data (the default runs three).
FAST = DEFAULT_EXPECTED.replace(methods=("bfgs",))


@pytest.fixture(scope="module")
def clinic():
    """300 completed programmes (seed 1) and 200 more patients from the same truth (seed 2)."""
    train = synthetic_clinic(300, seed=1)
    held = synthetic_clinic(200, seed=2, prefix="H", centres=train.centres)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit_expected_course(train.tables, AS_OF, spec=FAST)
    assert isinstance(model, ExpectedCourseModel)
    return train, held, model


# ---------------------------------------------------------------------------------------------
# the truth is recovered


def test_the_model_uses_the_covariates_of_the_data_model_centred_as_the_truth(clinic) -> None:
    train, _, model = clinic
    assert model.terms == tuple(TRUE_BETA)  # every covariate and slope term, in the documented order
    assert model.encoding.pain_centre == pytest.approx(train.centres.pain)
    assert model.encoding.age_centre == pytest.approx(train.centres.age)
    assert model.encoding.odi_centre == pytest.approx(train.centres.odi)
    assert model.n_patients == 300 and model.n_obs == 300 * 11 and model.max_week == 12
    assert model.converged


def test_every_fitted_coefficient_has_the_truth_inside_its_95_percent_ci(clinic) -> None:
    """All 16 coefficients at once (seed 1, the first seed tried): with independent intervals the
    chance that all 16 cover is 0.95^16 = 0.44, so a failure after a change is a reason to look, not
    proof of a bug; the z-scores below show how far each estimate is from the truth."""
    _, _, model = clinic
    fe = model.fixed_effects.assign(term=model.fixed_effects["term"].astype(str)).set_index("term")
    truth = pd.Series(TRUE_BETA).reindex(fe.index)
    z = (fe["estimate"] - truth) / fe["se"]
    outside = fe.index[(truth < fe["ci_low"]) | (truth > fe["ci_high"])].tolist()
    assert outside == [], f"truth outside the 95 % CI for {outside}; z = {z.round(2).to_dict()}"
    assert np.all(np.abs(z) < 1.96)


def test_variance_components_are_close_to_the_truth(clinic) -> None:
    _, _, model = clinic
    # 300 patients: the SE of a variance estimate is roughly var * sqrt(2 / 300) = 8 % for the intercept
    assert model.re_cov[0, 0] == pytest.approx(TRUE_G[0, 0], rel=0.25)
    assert model.re_cov[1, 1] == pytest.approx(TRUE_G[1, 1], rel=0.30)
    assert model.re_cov[0, 1] == pytest.approx(TRUE_G[0, 1], abs=0.015)
    # the weekly means carry rounding to 1/7 point: + 1/588 points^2
    assert model.residual_var == pytest.approx(TRUE_S2 + 1 / 588, rel=0.06)


def test_the_80_percent_interval_covers_75_to_85_percent_of_held_out_patients_weeks(clinic) -> None:
    _, held, model = clinic
    course = expected_course(model, held.tables, AS_OF)
    seen = course.loc[course["observed"].notna()]
    assert len(seen) == 200 * 11
    covered = ((seen["observed"] >= seen["lower"]) & (seen["observed"] <= seen["upper"])).mean()
    assert 0.75 <= covered <= 0.85, covered
    # below and above the interval about equally often (10 % each by construction)
    above = (seen["observed"] > seen["upper"]).mean()
    below = (seen["observed"] < seen["lower"]).mean()
    assert 0.05 <= above <= 0.15 and 0.05 <= below <= 0.15


def test_cross_validated_calibration_on_the_synthetic_clinic() -> None:
    train = synthetic_clinic(150, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibration(train.tables, AS_OF, spec=FAST)
    assert cal.status == "calibrated" and cal.n_patients == 150 and cal.n_weeks == 150 * 11
    assert 0.75 <= cal.coverage <= 0.85
    assert 0.72 <= cal.coverage_given_weeks <= 0.88
    assert list(cal.deciles["decile"]) == list(range(1, 11))
    # a calibrated model: the decile means lie near the diagonal (within 0.5 points)
    assert np.all(np.abs(cal.deciles["observed"] - cal.deciles["expected"]) < 0.5)
    assert cal.mae == pytest.approx(np.mean(np.abs(cal.predictions["observed"] - cal.predictions["expected"])))
    assert set(cal.predictions["fold"]) == set(range(5))
    # every patient is held out exactly once
    assert cal.predictions.groupby("patient_id")["fold"].nunique().max() == 1


def test_the_second_view_narrows_the_interval_and_still_covers(clinic) -> None:
    _, held, model = clinic
    # condition on weeks 2-6, predict weeks 7-12
    early = CohortTables(
        patients=held.tables.patients, prescriptions=held.tables.prescriptions, sessions=held.tables.sessions,
        pain=held.tables.pain.loc[held.tables.pain["recorded_at"] < held.tables.patients.set_index("patient_id")
                                  .loc[held.tables.pain["patient_id"], "programme_start"].to_numpy()
                                  + pd.Timedelta(days=42)].reset_index(drop=True),
        proms=held.tables.proms,
    )
    course = expected_course(model, early, AS_OF)
    assert (course["weeks_conditioned"] == 5).all()
    later = course.loc[course["week"] >= 7].drop(columns="observed")
    full = expected_course(model, held.tables, AS_OF)[["patient_id", "week", "observed"]]
    later = later.merge(full, on=["patient_id", "week"])
    assert (later["sd_given_weeks"] < later["sd"]).all()
    width = (later["upper_given_weeks"] - later["lower_given_weeks"]).mean()
    assert width < 0.8 * (later["upper"] - later["lower"]).mean()
    covered = ((later["observed"] >= later["lower_given_weeks"]) & (later["observed"] <= later["upper_given_weeks"]))
    assert 0.74 <= covered.mean() <= 0.86
    # and it is closer to what happened
    assert (later["observed"] - later["expected_given_weeks"]).abs().mean() < (
        later["observed"] - later["expected"]).abs().mean()


# ---------------------------------------------------------------------------------------------
# closed forms against dense algebra and simulation


def _hand_model(beta0: float = 5.0, slope: float = -0.2, g: np.ndarray | None = None, s2: float = 0.3,
                v: np.ndarray | None = None, **spec: object) -> ExpectedCourseModel:
    """A model with only an intercept and ``t`` (no covariate varies), numbers chosen by hand."""
    g = np.array([[0.5, -0.03], [-0.03, 0.02]]) if g is None else g
    v = np.array([[0.04, -0.002], [-0.002, 0.0004]]) if v is None else v
    return ExpectedCourseModel.from_dict({
        "kind": "rehabtrack.expected_course", "version": 1, "terms": ["Intercept", "t"],
        "beta": [beta0, slope], "beta_cov": v.tolist(), "re_cov": g.tolist(), "residual_var": s2,
        "fixed_effects": [{"term": "Intercept", "estimate": beta0}, {"term": "t", "estimate": slope}],
        "encoding": {"columns": ["t"], "pain_centre": 6.0, "age_centre": 50.0, "odi_centre": 40.0,
                     "slope_covariates": [], "quadratic_time": False, "constants": []},
        "n_patients": 100, "n_obs": 1100, "max_week": 12, "as_of": "2026-07-01", "data_version": None,
        "spec": DEFAULT_EXPECTED.replace(covariates=(), slope_covariates=(), **spec).to_dict(),
        "min_days": 5, "converged": True, "method": "hand", "log_likelihood": 0.0, "warnings": [],
    })


def _one_patient(weekly: list[float | None], start: str = "2026-03-02", week1: int = 42) -> CohortTables:
    """One patient P1 with 7 ratings in week 1 summing to ``week1`` and weekly means ``weekly`` (weeks 2..)."""
    day0 = pd.Timestamp(start)
    sums = [week1] + [None if w is None else round(7 * w) for w in weekly]
    rows = []
    for w, total in enumerate(sums):
        if total is None:
            continue
        base, extra = divmod(total, 7)
        for d in range(7):
            rows.append(("P1", day0 + pd.Timedelta(days=7 * w + d, hours=20), base + (d < extra)))
    from analysis.schema import conform

    pain = conform(pd.DataFrame(rows, columns=["patient_id", "recorded_at", "nprs"]), "pain")
    patients = conform(pd.DataFrame({"patient_id": ["P1"], "physio_id": ["physio_a"],
                                     "programme_start": [day0], "age_band": ["40-49"]}), "patients")
    rx = conform(pd.DataFrame({"patient_id": ["P1"], "exercise": ["knee_to_chest"], "side": ["left"], "sets": [1],
                               "reps": [10], "hold_s": [5.0], "sessions_per_week": [7], "start_date": [day0]}),
                 "prescriptions")
    return CohortTables(patients=patients, prescriptions=rx, sessions=conform(pd.DataFrame(), "sessions"),
                        pain=pain, proms=conform(pd.DataFrame(), "proms"))


def test_baseline_only_sd_is_x_v_x_plus_z_g_z_plus_residual() -> None:
    model = _hand_model()
    tables = _one_patient([6.0, 5.0])
    course = expected_course(model, tables, "2026-06-01")
    g, v, s2 = model.re_cov, model.beta_cov, model.residual_var
    for week in (2, 6, 12):
        t = week - 1
        z = np.array([1.0, t])  # x = z here: intercept and t
        var = z @ v @ z + z @ g @ z + s2
        row = course.loc[course["week"] == week].iloc[0]
        assert row["expected"] == pytest.approx(5.0 - 0.2 * t)
        assert row["sd"] == pytest.approx(math.sqrt(var), rel=1e-12)
        zq = sps.norm.ppf(0.9)
        assert row["upper"] == pytest.approx(min(10, 5.0 - 0.2 * t + zq * math.sqrt(var)))
        assert row["lower"] == pytest.approx(max(0, 5.0 - 0.2 * t - zq * math.sqrt(var)))
    # worked by hand for week 6 (t = 5): x'Vx = 0.04 - 0.02 + 0.01 = 0.03; z'Gz = 0.5 - 0.3 + 0.5 = 0.7
    assert course.loc[course["week"] == 6, "sd"].iloc[0] == pytest.approx(math.sqrt(0.03 + 0.7 + 0.3))


def test_the_second_view_equals_the_conditional_normal_of_dense_algebra_when_beta_is_known() -> None:
    model = _hand_model(v=np.zeros((2, 2)))
    obs = [5.2, 4.0, 4.6]  # weeks 2-4 (t = 1, 2, 3)
    tables = _one_patient(obs)
    course = expected_course(model, tables, "2026-06-01")
    y = np.array([round(7 * v) / 7 for v in obs])  # what the diary holds
    t_obs = np.array([1.0, 2.0, 3.0])
    g, s2 = model.re_cov, model.residual_var
    for week in (3, 8):
        t_star = week - 1.0
        ts = np.append(t_obs, t_star)
        zz = np.column_stack([np.ones_like(ts), ts])
        cov = zz @ g @ zz.T + s2 * np.eye(len(ts))
        mu = 5.0 - 0.2 * ts
        soo, sto = cov[:3, :3], cov[3, :3]
        mean = mu[3] + sto @ np.linalg.solve(soo, y - mu[:3])
        var = cov[3, 3] - sto @ np.linalg.solve(soo, sto)
        row = course.loc[course["week"] == week].iloc[0]
        assert row["expected_given_weeks"] == pytest.approx(mean, rel=1e-10)
        assert row["sd_given_weeks"] == pytest.approx(math.sqrt(var), rel=1e-10)
        assert row["weeks_conditioned"] == 3


def test_the_second_views_variance_with_estimated_beta_matches_a_simulation() -> None:
    """Brute force: draw beta_hat ~ N(beta, V), the patient's (b, e) from the model, predict week 9 from
    weeks 2-4 with the BLUP as the module does, and compare the spread of the prediction error."""
    beta = np.array([5.0, -0.2])
    v = np.array([[0.05, -0.004], [-0.004, 0.002]])
    model = _hand_model(v=v)
    g, s2 = model.re_cov, model.residual_var
    rng = np.random.default_rng(11)
    n = 200_000
    t_obs = np.array([1.0, 2.0, 3.0])
    t_star = 8.0
    b = rng.multivariate_normal(np.zeros(2), g, n)
    y = beta[0] + b[:, [0]] + (beta[1] + b[:, [1]]) * t_obs + rng.normal(0, math.sqrt(s2), (n, 3))
    y_star = beta[0] + b[:, 0] + (beta[1] + b[:, 1]) * t_star + rng.normal(0, math.sqrt(s2), n)
    beta_hat = rng.multivariate_normal(beta, v, n)
    z = np.column_stack([np.ones(3), t_obs])
    sigma = np.linalg.inv(np.linalg.inv(g) + z.T @ z / s2)
    resid = y - (beta_hat[:, [0]] + beta_hat[:, [1]] * t_obs)
    b_hat = (resid @ z) @ sigma.T / s2
    pred = beta_hat[:, 0] + beta_hat[:, 1] * t_star + b_hat[:, 0] + b_hat[:, 1] * t_star
    simulated_sd = float(np.std(pred - y_star))
    # the module's closed form for one such patient (any observed values: the variance does not depend on them)
    course = expected_course(model, _one_patient([5.0, 5.0, 5.0]), "2026-06-01")
    closed = course.loc[course["week"] == 9, "sd_given_weeks"].iloc[0]
    assert closed == pytest.approx(simulated_sd, rel=0.01)
    # and the beta part matters here: without it the SD would be smaller by more than the tolerance
    sd_known = math.sqrt(np.array([1, t_star]) @ sigma @ np.array([1, t_star]) + s2)
    assert closed > sd_known * 1.02


def test_the_status_interval_is_that_of_the_mean_of_the_recent_weeks() -> None:
    model = _hand_model()
    tables = _one_patient([5.0, 5.0, 5.0, 5.0, 4.0, 4.0])  # weeks 2-7
    s = expected_status(model, tables, "2026-04-20").iloc[0]  # 2026-04-19 ends week 7
    assert s["week"] == 7 and s["weeks_used"] == "6-7"
    # dense: Var((y6 + y7) / 2) with t = 5, 6
    zz = np.array([[1.0, 5.0], [1.0, 6.0]])
    cov = zz @ (model.re_cov + model.beta_cov) @ zz.T + model.residual_var * np.eye(2)
    a = np.array([0.5, 0.5])
    assert s["sd"] == pytest.approx(math.sqrt(a @ cov @ a), rel=1e-12)
    assert s["expected"] == pytest.approx(5.0 - 0.2 * 5.5)
    assert s["observed"] == pytest.approx(4.0)


# ---------------------------------------------------------------------------------------------
# status


def test_status_boundaries_above_at_and_below_the_interval() -> None:
    """Interval of a 2-week mean with G = 0, V = 0, s2 = 1: sd = sqrt(1/2); expected 5 flat."""
    model = _hand_model(beta0=5.0, slope=0.0, g=np.zeros((2, 2)), s2=1.0, v=np.zeros((2, 2)))
    half = sps.norm.ppf(0.9) * math.sqrt(0.5)  # 0.906
    upper = 5.0 + half
    cases = {
        # weekly means are sevenths: pick values just above / at-or-below / below the bounds
        "above": (round(7 * upper + 0.5) / 7, STATUS_BEHIND),  # 6.0 > 5.906
        "inside_high": (math.floor(7 * upper) / 7, STATUS_ON_TRACK),  # 5.857 <= 5.906
        "inside_low": (math.ceil(7 * (5 - half)) / 7, STATUS_ON_TRACK),
        "below": (math.floor(7 * (5 - half)) / 7, STATUS_AHEAD),
    }
    for name, (value, expected_label) in cases.items():
        s = expected_status(model, _one_patient([5.0, value, value]), "2026-03-30").iloc[0]  # weeks 3-4 used
        assert s["weeks_used"] == "3-4", name
        assert s["status"] == expected_label, (name, value, s["upper"])
        assert s["upper"] == pytest.approx(upper) and s["lower"] == pytest.approx(5.0 - half)
        assert s["o_minus_e"] == pytest.approx(value - 5.0)
        assert "similar patients of this clinic" in s["text"] and "diagnos" not in s["text"]


def test_not_assessed_before_week_2_without_baseline_and_without_recent_ratings() -> None:
    model = _hand_model()
    # as of day 12: week 2 (days 7-13) is not complete
    s = expected_status(model, _one_patient([5.0]), "2026-03-14").iloc[0]
    assert s["status"] == STATUS_NOT_ASSESSED and s["week"] == 1 and "week 2 not complete" in s["reason"]
    assert math.isnan(s["observed"])
    # as of day 13 week 2 is not complete yet: the analysis day is not over (issue 15)
    s = expected_status(model, _one_patient([5.0]), "2026-03-15").iloc[0]
    assert s["status"] == STATUS_NOT_ASSESSED and "week 2 not complete" in s["reason"]
    # as of day 14, the day after week 2, it is complete: assessed on week 2 alone
    s = expected_status(model, _one_patient([5.0]), "2026-03-16").iloc[0]
    assert s["status"] in (STATUS_ON_TRACK, STATUS_BEHIND, STATUS_AHEAD) and s["weeks_used"] == "2"
    # only 4 days rated in week 1: no baseline
    t = _one_patient([5.0, 5.0])
    t = CohortTables(**{**t.__dict__, "pain": t.pain.iloc[3:].reset_index(drop=True)})
    s = expected_status(model, t, "2026-03-30").iloc[0]
    assert s["status"] == STATUS_NOT_ASSESSED and "no baseline" in s["reason"]
    # weeks 5-6 without ratings: nothing recent to compare
    s = expected_status(model, _one_patient([5.0, 5.0, 5.0, None, None]), "2026-04-13").iloc[0]
    assert s["status"] == STATUS_NOT_ASSESSED and s["reason"] == "fewer than 5 rated days in week(s) 5-6"


def test_at_week_uses_only_the_weeks_up_to_it() -> None:
    model = _hand_model(beta0=5.0, slope=0.0, g=np.zeros((2, 2)), s2=1.0, v=np.zeros((2, 2)))
    tables = _one_patient([5.0, 5.0, 5.0, 9.0, 9.0])  # weeks 5-6 far above
    now = expected_status(model, tables, "2026-04-13").iloc[0]
    at4 = expected_status(model, tables, "2026-04-13", at_week=4).iloc[0]
    assert now["status"] == STATUS_BEHIND and now["weeks_used"] == "5-6"
    assert at4["status"] == STATUS_ON_TRACK and at4["weeks_used"] == "3-4" and at4["week"] == 4
    late = expected_status(model, tables, "2026-04-13", at_week=9).iloc[0]
    assert late["status"] == STATUS_NOT_ASSESSED and late["reason"] == "week 9 not complete yet"
    first = expected_status(model, tables, "2026-04-13", at_week=1).iloc[0]
    assert first["status"] == STATUS_NOT_ASSESSED and first["reason"] == "assessment starts in week 2"


def test_not_enough_completed_programmes_below_the_minimum() -> None:
    small = synthetic_clinic(12, seed=5)
    result = fit_expected_course(small.tables, AS_OF)
    assert isinstance(result, NotEnoughData)
    assert result.n_patients == 12 and result.min_patients == ex.MIN_COMPLETED_PATIENTS
    assert result.message.startswith(STATUS_NOT_ENOUGH) and "12 of the 20" in result.message
    status = expected_status(result, small.tables, AS_OF)
    assert (status["status"] == STATUS_NOT_ENOUGH).all() and status["week"].isna().all()
    assert expected_course(result, small.tables, AS_OF).empty
    cal = calibration(small.tables, AS_OF)
    assert cal.status == STATUS_NOT_ENOUGH and math.isnan(cal.coverage)
    # patients in progress do not count: 30 open-ended programmes are not completed ones
    running = synthetic_clinic(30, seed=6, open_ended=True)
    assert isinstance(fit_expected_course(running.tables, AS_OF), NotEnoughData)
    assert ex.completed_programmes(running.tables, AS_OF) == []
    # the minimum is a setting
    enough = synthetic_clinic(25, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert isinstance(fit_expected_course(enough.tables, AS_OF, spec=FAST), ExpectedCourseModel)
    stricter = fit_expected_course(enough.tables, AS_OF, spec=FAST.replace(min_patients=30))
    assert isinstance(stricter, NotEnoughData) and "25 of the 30" in stricter.message


def test_statuses_are_the_documented_five() -> None:
    assert STATUSES == ("behind expected", "on track", "ahead of expected", "not assessed yet",
                        "not enough completed programmes yet")


# ---------------------------------------------------------------------------------------------
# funnel and calibration tables by hand


def test_funnel_limits_are_zero_plus_minus_z_sd_over_root_n() -> None:
    lim = funnel_limits(2.0, [1, 4, 25])
    np.testing.assert_allclose(lim["upper_95"], 1.959964 * 2 / np.sqrt([1, 4, 25]), rtol=1e-6)
    np.testing.assert_allclose(lim["lower_99.8"], -3.090232 * 2 / np.sqrt([1, 4, 25]), rtol=1e-6)


def test_physio_funnel_by_hand() -> None:
    status = pd.DataFrame({
        "physio_id": ["a"] * 4 + ["b"] * 16 + ["c", None],
        "o_minus_e": [1.0, 2.0, 3.0, 2.0] + [0.1] * 16 + [np.nan, 5.0],
        "sd": [2.0] * 22,
    })
    f = physio_funnel(status)
    a = f.physios.set_index("physio_id").loc["a"]
    assert a["n"] == 4 and a["o_minus_e"] == pytest.approx(2.0)
    assert a["se"] == pytest.approx(2.0 / 2)  # sqrt(4 x 4) / 4
    assert a["ci_low"] == pytest.approx(2.0 - 1.959964) and a["ci_high"] == pytest.approx(2.0 + 1.959964)
    assert a["limit_95"] == pytest.approx(1.959964 * 2 / 2) and a["limit_99.8"] == pytest.approx(3.090232)
    assert a["position"] == "above 95 %"  # 2.0 > 1.96 but < 3.09
    b = f.physios.set_index("physio_id").loc["b"]
    assert b["n"] == 16 and b["position"] == "within" and b["z"] == pytest.approx(0.1 / 0.5)
    assert list(f.physios["physio_id"]) == ["a", "b"]  # c has no assessed patient; no physio is dropped silently
    assert f.sd == pytest.approx(2.0) and f.n_patients == 20


def test_decile_table_on_a_case_computed_by_hand() -> None:
    expected = np.arange(1, 21, dtype=float)[::-1]  # 20 rows, 2 per decile
    observed = 2 * expected
    covered = np.array([True, False] * 10)
    d = decile_table(expected, observed, covered)
    assert list(d["n"]) == [2] * 10
    np.testing.assert_allclose(d["expected"], [1.5 + 2 * k for k in range(10)])
    np.testing.assert_allclose(d["observed"], [3.0 + 4 * k for k in range(10)])
    np.testing.assert_allclose(d["coverage"], [0.5] * 10)


def test_folds_are_deterministic_balanced_and_independent_of_order() -> None:
    ids = [f"P{i:03d}" for i in range(23)]
    f = fold_of(ids, 5, seed=20)
    assert f.equals(fold_of(ids[::-1], 5, seed=20))
    assert sorted(f.value_counts()) == [4, 4, 5, 5, 5]
    assert not f.equals(fold_of(ids, 5, seed=21))


# ---------------------------------------------------------------------------------------------
# properties


@pytest.fixture(scope="module")
def small_fit():
    train = synthetic_clinic(40, seed=8)
    others = synthetic_clinic(6, seed=9, prefix="Q", centres=train.centres, open_ended=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit_expected_course(train.tables, AS_OF, spec=FAST)
    return model, others.tables


@settings(max_examples=10)
@given(data=st.data())
def test_row_order_does_not_change_predictions(small_fit, data) -> None:
    model, tables = small_fit
    perm = {name: data.draw(st.permutations(range(len(getattr(tables, name)))), label=name)
            for name in ("patients", "pain", "proms")}
    shuffled = CohortTables(
        patients=tables.patients.iloc[perm["patients"]].reset_index(drop=True),
        prescriptions=tables.prescriptions, sessions=tables.sessions,
        pain=tables.pain.iloc[perm["pain"]].reset_index(drop=True),
        proms=tables.proms.iloc[perm["proms"]].reset_index(drop=True),
    )
    a = expected_course(model, tables, AS_OF)
    b = expected_course(model, shuffled, AS_OF)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    sa = expected_status(model, tables, AS_OF).sort_values("patient_id").reset_index(drop=True)
    sb = expected_status(model, shuffled, AS_OF).sort_values("patient_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(sa, sb, check_exact=False, rtol=1e-12)


@settings(max_examples=10)
@given(keep=st.sets(st.integers(0, 5), min_size=1))
def test_other_patients_do_not_change_a_patients_prediction(small_fit, keep) -> None:
    model, tables = small_fit
    ids = sorted(tables.patients["patient_id"])
    subset = [ids[i] for i in sorted(keep)]
    alone = CohortTables(*(getattr(tables, n).loc[getattr(tables, n)["patient_id"].isin(subset)]
                           .reset_index(drop=True) for n in ("patients", "prescriptions", "sessions", "pain", "proms")))
    full = expected_course(model, tables, AS_OF)
    part = expected_course(model, alone, AS_OF)
    pd.testing.assert_frame_equal(full.loc[full["patient_id"].isin(subset)].reset_index(drop=True), part,
                                  check_exact=False, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# storage


def test_to_dict_is_json_safe_and_from_dict_predicts_the_same(clinic) -> None:
    _, held, model = clinic
    stored = json.loads(json.dumps(model.to_dict()))
    assert stored["as_of"] == "2026-07-01" and stored["data_version"] is None
    assert stored["spec"]["min_patients"] == ex.MIN_COMPLETED_PATIENTS and stored["spec"]["interval"] == 0.8
    back = ExpectedCourseModel.from_dict(stored)
    assert back.to_dict() == model.to_dict()
    pd.testing.assert_frame_equal(expected_course(back, held.tables, AS_OF), expected_course(model, held.tables, AS_OF))
    assert model.with_data_version("v42").to_dict()["data_version"] == "v42"
    with pytest.raises(ValueError, match="not a stored expected-course model"):
        ExpectedCourseModel.from_dict({"kind": "something else"})


# ---------------------------------------------------------------------------------------------
# the sample: what was planted is found


@pytest.fixture(scope="module")
def sample():
    cohort = load_cohort()
    inputs = prepare_inputs(cohort, SNAPSHOT_DATE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit_expected_course(inputs)
        folds = ex.fold_models(inputs)
    return cohort, inputs, model, folds


def test_the_sample_has_enough_completed_programmes_and_a_converged_model(sample) -> None:
    cohort, inputs, model, _ = sample
    assert isinstance(model, ExpectedCourseModel) and model.converged
    assert int(inputs.covariates["completed"].sum()) == 25
    assert model.n_patients == 23  # 2 completed programmes have fewer than 5 rated days in week 1
    assert "t_sb_high" in model.terms
    assert not ({"sex_male", "sex_missing"} & set(model.terms))  # sex is not recorded in the sample


def test_the_sample_model_finds_the_planted_slower_recovery_of_high_risk_patients(sample) -> None:
    _, _, model, _ = sample
    high = model.effect("t_sb_high")
    assert high["estimate"] > 0 and high["ci_low"] > 0  # high STarT Back risk: pain falls more slowly


def test_planted_slow_recoverers_are_behind_expected_by_week_4_more_often(sample) -> None:
    cohort, inputs, model, folds = sample
    outcome = cohort.planted.loc[cohort.planted["behaviour"] == "outcome"].set_index("patient_id")["detail"]
    weeks = pd.concat([ex.held_out_status(model, inputs, at_week=k, folds=folds) for k in (2, 3, 4)])
    assessed = weeks.loc[weeks["status"].isin([STATUS_BEHIND, STATUS_ON_TRACK, STATUS_AHEAD])]
    behind = assessed.groupby("patient_id")["status"].apply(lambda s: bool((s == STATUS_BEHIND).any()))
    slow = behind.index.map(outcome).isin(["flat", "worsening"])
    share_slow, share_other = behind[slow].mean(), behind[~slow].mean()
    assert share_slow > share_other + 0.15, (share_slow, share_other)
    # the numbers of the note (docs/clinical-reference.md section 10): 8 of 24 vs 2 of 30
    assert (int(behind[slow].sum()), int(slow.sum()), int(behind[~slow].sum()), int((~slow).sum())) == (8, 24, 2, 30)


def test_the_sample_calibration_is_reported(sample) -> None:
    _, inputs, _, folds = sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibration(inputs, folds=folds)
    assert cal.status == "calibrated" and cal.n_patients == 23 and cal.folds == 5
    assert cal.fits_below_minimum == 5  # 18-19 training patients per fold, below the minimum of 20
    assert 0.6 <= cal.coverage <= 0.9 and 0.5 < cal.mae < 2.0


def test_held_out_status_compares_completed_programmes_by_the_fold_that_left_them_out(sample) -> None:
    _, inputs, model, folds = sample
    held = ex.held_out_status(model, inputs, folds=folds)
    plain = expected_status(model, inputs)
    assert list(held["patient_id"]) == list(plain["patient_id"]) and not held["in_fit"].any()
    fitted = plain["in_fit"].to_numpy()
    assert set(held.loc[fitted, "compared_by"]) == {f"fold {k} of 5" for k in range(1, 6)}
    assert set(held.loc[~fitted, "compared_by"]) == {"completed programmes"}
    # patients in progress: the same comparison as expected_status
    pd.testing.assert_frame_equal(held.loc[~fitted, plain.columns].reset_index(drop=True),
                                  plain.loc[~fitted].reset_index(drop=True))
    # a completed programme: exactly what its fold model says
    pid = held.loc[fitted & held["observed"].notna().to_numpy(), "patient_id"].iloc[0]
    own = expected_status(folds[pid], inputs).set_index("patient_id").loc[pid]
    assert held.set_index("patient_id").loc[pid, "expected"] == pytest.approx(own["expected"])


def test_methods_text_states_the_model_the_calibration_and_the_limits(sample) -> None:
    _, inputs, model, folds = sample
    cal = calibration(inputs, folds=folds)
    text = ex.methods_text(model, cal)
    assert f"on the {model.n_patients} programmes completed by 2026-11-20" in text
    assert "STarT Back risk group" in text and "not recorded: sex" in text
    assert f"covered {cal.coverage * 100:.0f} %" in text and f"{cal.mae:.2f} points" in text
    assert "not a diagnosis" in text and "1 in 10" in text
    none = ex.methods_text(NotEnoughData(4, 20, inputs.as_of, "not enough completed programmes yet: 4 of the 20"))
    assert "4 of the 20" in none
    table = ex.effects_table(model)
    assert list(table["term"]) == list(model.terms) and table["meaning"].notna().all()


def test_the_figures_draw_from_the_tables(sample) -> None:
    import matplotlib.pyplot as plt

    from analysis import plots_expected

    _, inputs, model, folds = sample
    course = expected_course(model, inputs)
    fig = plots_expected.plot_expected_course(course, "P002")
    ax = fig.axes[0]
    assert ax.get_ylim() == (0, 10) and len(ax.collections) == 1  # the 80 % band
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["similar patients of this clinic (80 %)", "given this patient's weeks so far (80 %)",
                      "this patient (weekly mean)"]
    assert "no expected course" in plots_expected.plot_expected_course(course, "nobody").axes[0].texts[0].get_text()
    # the band on a day axis: each week is drawn over its 7 days
    fig2, ax2 = plt.subplots()
    plots_expected.add_expected_band(ax2, course.loc[course["patient_id"] == "P002"], x="day")
    xs = ax2.lines[0].get_xdata()
    assert xs[0] == 7 and xs[1] == 13 and xs[-1] == 83
    cal = calibration(inputs, folds=folds)
    fig3 = plots_expected.plot_calibration(cal)
    assert len(fig3.axes[0].lines[1].get_xdata()) == 10
    funnel = physio_funnel(ex.held_out_status(model, inputs, folds=folds))
    fig4 = plots_expected.plot_funnel(funnel)
    assert len(fig4.axes[0].texts) == len(funnel.physios)
    for f in (fig, fig2, fig3, fig4):
        plt.close(f)
