"""Tests of analysis.models against published lme4 fits and closed-form REML estimates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import given
from hypothesis import strategies as st

from analysis.errors import NotEnoughDataError
from analysis.models import (
    adherence_pain_model,
    describe_adherence_model,
    fit_mixed_model,
    patient_week_table,
)
from analysis.sample_data import SNAPSHOT_DATE, load_cohort
from tests.conftest import REFERENCE_DIR, SAMPLE_DIR

SLEEPSTUDY = REFERENCE_DIR / "sleepstudy.csv"


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    assert SLEEPSTUDY.is_file(), f"{SLEEPSTUDY} is missing: it is part of the repository (tests/fixtures/reference)"
    return pd.read_csv(SLEEPSTUDY)


@pytest.fixture(scope="module")
def cohort():
    return load_cohort(SAMPLE_DIR)


# --------------------------------------------------------------------------- sleepstudy (lme4)


def test_sleepstudy_random_slopes_reproduces_lme4(sleep: pd.DataFrame) -> None:
    # R: lmer(Reaction ~ Days + (Days | Subject), sleepstudy)   (Bates et al. 2015, J Stat Softw 67(1))
    #   Fixed effects: (Intercept) 251.405 (SE 6.825); Days 10.467 (SE 1.546)
    #   Random effects: Subject (Intercept) var 612.10, Days var 35.07, corr 0.07; Residual var 654.94
    #   REML criterion at convergence: 1743.6
    r = fit_mixed_model(sleep, "Reaction ~ Days", "Subject", "~Days")
    assert r.converged and r.reml
    fe = r.fixed_effects.set_index("term")
    assert round(fe.loc["Intercept", "estimate"], 3) == 251.405
    assert round(fe.loc["Days", "estimate"], 3) == 10.467
    assert round(fe.loc["Intercept", "se"], 3) == 6.825
    assert round(fe.loc["Days", "se"], 3) == 1.546
    re_ = r.random_effects.set_index("term")
    assert round(re_.loc["Intercept", "variance"], 2) == 612.10
    assert round(re_.loc["Days", "variance"], 2) == 35.07
    assert round(re_.loc["Intercept:Days", "corr"], 2) == 0.07
    assert round(re_.loc["", "variance"], 2) == 654.94
    assert round(-2 * r.log_likelihood, 1) == 1743.6
    assert (r.n_obs, r.n_groups) == (180, 18)


def test_sleepstudy_wald_ci_and_p(sleep: pd.DataFrame) -> None:
    r = fit_mixed_model(sleep, "Reaction ~ Days", "Subject", "~Days", confidence=0.90)
    row = r.effect("Days")
    # Wald interval: 10.467 +- 1.644854 x 1.546 (z_0.95 = 1.644854)
    assert row["ci_low"] == pytest.approx(10.4673 - 1.644854 * 1.54579, abs=2e-3)
    assert row["ci_high"] == pytest.approx(10.4673 + 1.644854 * 1.54579, abs=2e-3)
    # z = 10.4673 / 1.54579 = 6.7715; two-sided normal p = 1.27e-11
    assert row["z"] == pytest.approx(6.7715, abs=1e-3)
    assert row["p"] == pytest.approx(1.27e-11, rel=0.02)


def test_sleepstudy_random_intercept_equals_balanced_anova_reml(sleep: pd.DataFrame) -> None:
    # Balanced design (18 subjects x 10 days): REML = the ANOVA estimators when positive.
    # sigma2 = residual MS of OLS with subject fixed effects + common slope;
    # tau2 = (MS_between of subject means - sigma2) / 10.
    # R: lmer(Reaction ~ Days + (1 | Subject)): Subject var 1378.2, Residual var 960.5, Days SE 0.8042
    within = smf.ols("Reaction ~ Days + C(Subject)", sleep).fit()
    sigma2 = within.mse_resid
    means = sleep.groupby("Subject")["Reaction"].mean()
    ms_between = 10 * ((means - means.mean()) ** 2).sum() / (len(means) - 1)
    tau2 = (ms_between - sigma2) / 10
    r = fit_mixed_model(sleep, "Reaction ~ Days", "Subject", "~1")
    re_ = r.random_effects.set_index("component")
    assert re_.loc["Subject variance", "variance"] == pytest.approx(tau2, rel=1e-4)
    assert re_.loc["Residual", "variance"] == pytest.approx(sigma2, rel=1e-4)
    assert round(tau2, 1) == 1378.2 and round(sigma2, 1) == 960.5
    # SE(Days) = sqrt(sigma2 / (18 x Sxx)), Sxx = sum (d - 4.5)^2 over d = 0..9 = 82.5
    assert r.effect("Days")["se"] == pytest.approx(np.sqrt(sigma2 / (18 * 82.5)), rel=1e-4)
    assert round(r.effect("Days")["se"], 4) == 0.8042


def test_sleepstudy_maximum_likelihood(sleep: pd.DataFrame) -> None:
    # R: lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = FALSE)
    #   Fixed effects SE: (Intercept) 6.632, Days 1.502; logLik -876.0 (deviance 1751.9)
    r = fit_mixed_model(sleep, "Reaction ~ Days", "Subject", "~Days", reml=False)
    assert not r.reml
    assert round(r.effect("Intercept")["se"], 3) == 6.632
    assert round(r.effect("Days")["se"], 3) == 1.502
    assert round(-2 * r.log_likelihood, 1) == 1751.9


@pytest.fixture(scope="module")
def sleep_fit(sleep: pd.DataFrame):
    return fit_mixed_model(sleep, "Reaction ~ Days", "Subject", "~Days")


@given(st.randoms(use_true_random=False))
def test_row_order_does_not_change_the_fit(sleep: pd.DataFrame, sleep_fit, rnd) -> None:
    shuffled = sleep.sample(frac=1.0, random_state=rnd.randint(0, 2**31 - 1)).reset_index(drop=True)
    b = fit_mixed_model(shuffled, "Reaction ~ Days", "Subject", "~Days", methods=("bfgs",))
    np.testing.assert_allclose(sleep_fit.fixed_effects["estimate"], b.fixed_effects["estimate"], rtol=1e-5)
    np.testing.assert_allclose(sleep_fit.fixed_effects["se"], b.fixed_effects["se"], rtol=1e-4)


def test_one_group_is_not_enough() -> None:
    data = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "x": [0, 1, 2, 3], "g": ["a"] * 4})
    with pytest.raises(NotEnoughDataError, match="at least 2 groups"):
        fit_mixed_model(data, "y ~ x", "g")


def test_missing_values_are_dropped_not_propagated(sleep: pd.DataFrame) -> None:
    holed = sleep.astype({"Reaction": "float64"}).copy()
    holed.loc[[0, 50, 100], "Reaction"] = np.nan
    r = fit_mixed_model(holed, "Reaction ~ Days", "Subject", "~Days")
    assert r.n_obs == 177
    assert np.isfinite(r.fixed_effects["estimate"]).all()


# --------------------------------------------------------------------------- adherence and pain


def simulated_patient_weeks(seed: int = 3, n: int = 400) -> pd.DataFrame:
    """Patient-weeks from the model itself with known fixed effects."""
    rng = np.random.default_rng(seed)
    weeks = np.arange(12, dtype=float)
    adh = rng.normal(0, 2, n)  # already centred, in 10-point units
    u0 = rng.normal(0, 1.0, n)
    u1 = rng.normal(0, 0.2, n)
    pid = np.repeat([f"P{i:04d}" for i in range(n)], 12)
    w = np.tile(weeks, n)
    a = np.repeat(adh, 12)
    y = 6 + (-0.2) * w + 0.1 * a + (-0.05) * w * a + np.repeat(u0, 12) + np.repeat(u1, 12) * w
    y = y + rng.normal(0, 0.6, len(y))
    frame = pd.DataFrame({"patient_id": pid, "week0": w, "nprs": y, "adherence": a})
    frame.attrs.update(adherence_centre=0.5, adherence_unit=0.1)
    return frame


def test_adherence_model_recovers_known_coefficients() -> None:
    model = adherence_pain_model(data=simulated_patient_weeks())
    fe = model.result.fixed_effects.set_index("term")
    truth = {"Intercept": 6.0, "week0": -0.2, "adherence": 0.1, "week0:adherence": -0.05}
    for term, value in truth.items():
        # each true value lies inside its 99.9 % band (|z| < 3.3) of the estimate
        assert abs(fe.loc[term, "estimate"] - value) < 3.3 * fe.loc[term, "se"], term
    assert model.result.converged
    text = describe_adherence_model(model)
    assert "400 patients" in text and "4800 patient-weeks" in text
    assert "faster" in text and "association" in text
    assert f"{fe.loc['week0:adherence', 'ci_low']:.2f} to {fe.loc['week0:adherence', 'ci_high']:.2f}" in text


def test_patient_week_table_matches_a_hand_computation(cohort) -> None:
    table = patient_week_table(cohort, as_of=SNAPSHOT_DATE)
    # P001's week 1 by hand: daily means of the ratings on days 0-6 from the programme start, then their mean
    start = cohort.patients.set_index("patient_id").loc["P001", "programme_start"]
    rows = cohort.pain[cohort.pain["patient_id"] == "P001"]
    day = (rows["recorded_at"].dt.normalize() - start).dt.days
    daily = rows.assign(day=day).query("0 <= day <= 6").groupby("day")["nprs"].mean()
    p001 = table[table["patient_id"] == "P001"].set_index("week")
    assert p001.loc[1, "nprs"] == pytest.approx(daily.mean())
    assert p001.loc[1, "days_rated"] == len(daily)
    assert (table["week0"] == table["week"] - 1).all()
    # centring: the mean of per-patient centred adherence is 0; one unit = 10 percentage points
    per_patient = table.drop_duplicates("patient_id")
    assert per_patient["adherence"].mean() == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(
        per_patient["adherence"] * 0.10 + table.attrs["adherence_centre"], per_patient["adherence_rate"]
    )
    assert table["nprs"].between(0, 10).all() and (table["days_rated"] >= 1).all()


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")
def test_adherence_model_on_the_sample(cohort) -> None:
    model = adherence_pain_model(cohort, as_of=SNAPSHOT_DATE)
    r = model.result
    assert list(r.fixed_effects["term"]) == ["Intercept", "week0", "adherence", "week0:adherence"]
    assert r.converged
    # The sample's pain falls on average (55 % planted responders): a negative weekly slope
    assert r.effect("week0")["ci_high"] < 0
    # Independent check: statsmodels' MixedLM called directly (conjugate gradients) reaches the same optimum,
    # and Nelder-Mead (a derivative-free path) does not find a higher REML likelihood
    direct = smf.mixedlm("nprs ~ week0 * adherence", model.data, groups=model.data["patient_id"],
                         re_formula="~week0").fit(reml=True, method="cg")
    np.testing.assert_allclose(r.fixed_effects["estimate"], direct.fe_params.to_numpy(), atol=1e-3)
    nm = smf.mixedlm("nprs ~ week0 * adherence", model.data, groups=model.data["patient_id"],
                     re_formula="~week0").fit(reml=True, method="nm", maxiter=4000)
    assert r.log_likelihood >= nm.llf - 1e-6
