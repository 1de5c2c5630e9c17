"""Tests of analysis.trends against independent references.

References: scipy.stats.linregress / theilslopes / kendalltau per group, pandas
groupby and rolling, the published sleepstudy fixed effects (lme4), and small
hand-computed cases with the arithmetic in comments.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats as ss
from hypothesis import example, given
from hypothesis import strategies as st

from analysis.errors import MissingColumnsError, SettingsError
from analysis.flags import flare_ratings
from analysis.settings import DEFAULT_SETTINGS
from analysis.trends import (
    STATUS_NOT_ENOUGH_DATA,
    STATUS_OK,
    TREND_IMPROVING,
    TREND_NO_CLEAR,
    TREND_WORSENING,
    daily_pain,
    grouped_kendall,
    grouped_ols,
    grouped_theil_sen,
    p_value_text,
    pain_trends,
    rolling_pain,
    trend_for_patient,
    weekly_pain,
)
from tests.conftest import REFERENCE_DIR

# --------------------------------------------------------------------------- helpers


def make_patients(starts: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": pd.array(list(starts), dtype="string"),
            "physio_id": pd.array(["physio_a"] * len(starts), dtype="string"),
            "programme_start": pd.to_datetime(list(starts.values())),
        }
    )


def make_pain(rows: list[tuple[str, str, int | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": pd.array([r[0] for r in rows], dtype="string"),
            "recorded_at": pd.to_datetime([r[1] for r in rows]),
            "nprs": pd.array([r[2] for r in rows], dtype="Int64"),
        }
    )


def split(codes: np.ndarray, *arrays: np.ndarray):
    for g in np.unique(codes):
        m = codes == g
        yield (int(g), *(a[m] for a in arrays))


def random_cohort(seed: int, n_patients: int = 25) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n_patients)]
    starts = pd.Timestamp("2026-03-02") + pd.to_timedelta(rng.integers(0, 30, n_patients), "D")
    patients = make_patients(dict(zip(ids, starts.strftime("%Y-%m-%d"), strict=True)))
    rows = []
    for pid, start in zip(ids, starts, strict=True):
        n = int(rng.integers(0, 40))
        days = rng.integers(-3, 60, n)  # a few ratings before the programme start
        hours = rng.integers(6, 23, n)
        base = rng.uniform(3, 8)
        slope = rng.normal(-0.05, 0.05)
        for d, h in zip(days, hours, strict=True):
            v = int(np.clip(round(base + slope * d + rng.normal(0, 1.2)), 0, 10))
            rows.append((pid, str(start + pd.Timedelta(days=int(d), hours=int(h))), v))
    pain = make_pain(rows).drop_duplicates(["patient_id", "recorded_at"], ignore_index=True)
    return pain, patients


def reference_daily(pain: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Daily means with plain pandas: merge on id, date difference, groupby mean."""
    m = pain.merge(patients[["patient_id", "programme_start"]], on="patient_id")
    m["date"] = m["recorded_at"].dt.normalize()
    m["day"] = (m["date"] - m["programme_start"]).dt.days
    m = m[(m["day"] >= 0) & m["nprs"].notna()]
    return (
        m.groupby(["patient_id", "date", "day"], as_index=False)
        .agg(nprs_mean=("nprs", lambda s: float(np.mean(s.astype(float)))), n_ratings=("nprs", "size"))
        .sort_values(["patient_id", "day"], ignore_index=True)
    )


TOL = {"rtol": 1e-9, "atol": 1e-12}

# --------------------------------------------------------------------------- grouped_ols


def check_ols_against_linregress(codes, x, y, confidence=0.95) -> None:
    res = grouped_ols(codes, x, y, confidence)
    for g, xg, yg in split(codes, x, y):
        row = res.loc[g]
        assert row["n"] == len(xg)
        if np.ptp(xg) == 0:  # linregress refuses constant x; we return NaN
            assert np.isnan(row["slope"])
            continue
        ref = ss.linregress(xg, yg)
        np.testing.assert_allclose([row["slope"], row["intercept"]], [ref.slope, ref.intercept], rtol=1e-9, atol=1e-9)
        if len(xg) == 2:
            assert np.isnan(row["slope_se"]) and np.isnan(row["p"])  # documented: no residual df
            continue
        if np.ptp(yg) == 0:  # flat line: slope 0, SE 0, p undefined (linregress: NaN)
            assert row["slope"] == 0 and row["slope_se"] == 0 and np.isnan(row["p"]) and np.isnan(ref.pvalue)
            continue
        if 1 - abs(ref.rvalue) < 1e-9:
            # perfect fit: linregress goes through 1 - r**2 and returns round-off; ours is ~0
            assert row["slope_se"] <= 1e-6 * (1 + abs(ref.slope))
            continue
        tq = ss.t.ppf(0.5 + confidence / 2, len(xg) - 2)
        np.testing.assert_allclose(
            [row["slope_se"], row["intercept_se"], row["p"], row["ci_low"], row["ci_high"]],
            [ref.stderr, ref.intercept_stderr, ref.pvalue, ref.slope - tq * ref.stderr, ref.slope + tq * ref.stderr],
            rtol=1e-9,
            atol=1e-9,
        )


def test_grouped_ols_matches_linregress_fixed_groups() -> None:
    rng = np.random.default_rng(7)
    sizes = rng.integers(3, 40, 60)
    codes = np.repeat(np.arange(60), sizes)
    x = rng.uniform(0, 80, len(codes))
    y = 5 + rng.normal(0, 1, 60)[codes] * x / 10 + rng.normal(0, 2, len(codes))
    check_ols_against_linregress(codes, x, y)
    check_ols_against_linregress(codes, x, y, confidence=0.9)


def test_grouped_ols_hand_computed() -> None:
    # x = 0,1,2,3; y = 1,3,2,5: xbar = 1.5, ybar = 2.75, Sxx = 5,
    # Sxy = (-1.5)(-1.75) + (-0.5)(0.25) + (0.5)(-0.75) + (1.5)(2.25) = 2.625 - 0.125 - 0.375 + 3.375 = 5.5
    # slope = 1.1, intercept = 2.75 - 1.65 = 1.1; fitted 1.1, 2.2, 3.3, 4.4; residuals -0.1, 0.8, -1.3, 0.6
    # RSS = 0.01 + 0.64 + 1.69 + 0.36 = 2.7; SE = sqrt(2.7 / 2 / 5) = sqrt(0.27)
    res = grouped_ols(np.zeros(4, int), [0, 1, 2, 3], [1, 3, 2, 5]).loc[0]
    assert res["slope"] == pytest.approx(1.1)
    assert res["intercept"] == pytest.approx(1.1)
    assert res["slope_se"] == pytest.approx(np.sqrt(0.27))
    # t = 1.1 / 0.519615 = 2.11695 on 2 df
    assert res["t"] == pytest.approx(1.1 / np.sqrt(0.27))


def test_grouped_ols_edge_cases() -> None:
    codes = np.array([0, 0, 1, 1, 1, 3, 3, 3])
    x = np.array([0.0, 1, 5, 5, 5, 0, 1, 2])
    y = np.array([1.0, 3, 1, 2, 3, 2, 4, 6])
    res = grouped_ols(codes, x, y, n_groups=5)
    assert list(res["n"]) == [2, 3, 0, 3, 0]
    assert res.loc[0, "slope"] == 2.0 and np.isnan(res.loc[0, "slope_se"])  # two points
    assert res.loc[1, ["slope", "p"]].isna().all()  # constant x
    assert res.loc[[2, 4], "slope"].isna().all()  # no points
    # perfect line y = 2 + 2x: SE 0, CI collapses on the slope, p = 0
    assert res.loc[3, "slope"] == pytest.approx(2.0)
    assert res.loc[3, "slope_se"] == pytest.approx(0.0, abs=1e-12)
    assert res.loc[3, "p"] == pytest.approx(0.0, abs=1e-12)
    assert res.loc[3, "ci_low"] == pytest.approx(2.0) and res.loc[3, "ci_high"] == pytest.approx(2.0)


def test_grouped_ols_ignores_missing_and_negative_codes() -> None:
    res = grouped_ols([0, 0, 0, 0, -1], [0, 1, 2, np.nan, 3], [1, 2, 4, 9, 100]).loc[0]
    ref = ss.linregress([0, 1, 2], [1, 2, 4])
    assert res["n"] == 3
    assert res["slope"] == pytest.approx(ref.slope, rel=1e-12)
    assert res["p"] == pytest.approx(ref.pvalue, rel=1e-9)


def test_kernels_reject_bad_input() -> None:
    with pytest.raises(SettingsError, match="between 0 and 1"):
        grouped_ols([0, 0, 0], [0, 1, 2], [1, 2, 3], confidence=95)
    with pytest.raises(SettingsError):
        grouped_theil_sen([0, 0, 0], [0, 1, 2], [1, 2, 3], confidence=1.0)
    with pytest.raises(ValueError, match="same length"):
        grouped_kendall([0, 0], [0, 1, 2], [1, 2, 3])


group_strategy = st.lists(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 20)), min_size=2, max_size=14),
    min_size=1,
    max_size=6,
)


def flatten(groups: list[list[tuple[int, int]]], y_scale: float = 0.5):
    codes = np.concatenate([np.full(len(g), i) for i, g in enumerate(groups)])
    x = np.array([p[0] for g in groups for p in g], dtype=float)
    y = np.array([p[1] for g in groups for p in g], dtype=float) * y_scale
    return codes, x, y


@given(group_strategy)
def test_grouped_ols_matches_linregress_property(groups) -> None:
    codes, x, y = flatten(groups)
    check_ols_against_linregress(codes, x, y)


# --------------------------------------------------------------------------- sleepstudy


@pytest.fixture(scope="module")
def sleepstudy() -> pd.DataFrame:
    path = REFERENCE_DIR / "sleepstudy.csv"
    return pd.read_csv(path)


def test_sleepstudy_pooled_ols_reproduces_published_fixed_effects(sleepstudy) -> None:
    # lme4: lmer(Reaction ~ Days + (Days | Subject)): intercept 251.405, slope 10.467; the design is
    # balanced (18 subjects x days 0-9), so pooled OLS gives the same point estimates.
    res = grouped_ols(np.zeros(len(sleepstudy), int), sleepstudy["Days"], sleepstudy["Reaction"]).loc[0]
    assert res["n"] == 180
    assert res["intercept"] == pytest.approx(251.405, abs=5e-4)
    assert res["slope"] == pytest.approx(10.467, abs=5e-4)


def test_sleepstudy_per_subject_slopes_equal_linregress(sleepstudy) -> None:
    codes, subjects = pd.factorize(sleepstudy["Subject"])
    res = grouped_ols(codes, sleepstudy["Days"], sleepstudy["Reaction"])
    assert len(res) == 18
    for g, subject in enumerate(subjects):
        sub = sleepstudy[sleepstudy["Subject"] == subject]
        ref = ss.linregress(sub["Days"], sub["Reaction"])
        np.testing.assert_allclose(
            res.loc[g, ["slope", "intercept", "slope_se", "p"]].to_numpy(float),
            [ref.slope, ref.intercept, ref.stderr, ref.pvalue],
            **TOL,
        )


# --------------------------------------------------------------------------- grouped_theil_sen


def check_theil_sen_against_scipy(codes, x, y, confidence=0.95) -> None:
    res = grouped_theil_sen(codes, x, y, confidence)
    for g, xg, yg in split(codes, x, y):
        if len(xg) < 2:
            assert np.isnan(res.loc[g, "slope"])
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all x equal / negative variance
            ref = ss.theilslopes(yg, xg, confidence, method="joint")
        np.testing.assert_allclose(
            res.loc[g, ["slope", "intercept", "ci_low", "ci_high"]].to_numpy(float),
            [ref.slope, ref.intercept, ref.low_slope, ref.high_slope],
            **TOL,
        )


def test_theil_sen_hand_computed() -> None:
    # x = 0..3, y = 4, 3, 3, 1. Pairwise slopes (j > i): (3-4)/1 = -1, (3-4)/2 = -0.5, (1-4)/3 = -1,
    # (3-3)/1 = 0, (1-3)/2 = -1, (1-3)/1 = -2 -> sorted -2, -1, -1, -1, -0.5, 0; median = -1.
    # intercept = median(y + x) = median(4, 4, 5, 4) = 4.
    # CI: one tie of 2 in y: sigma^2 = (4*3*13 - 2*1*9) / 18 = 138/18, sigma = 2.7689, z sigma = -5.4270;
    # upper rank = min(round((6 + 5.427)/2), 5) = 5 -> 0; lower = max(round((6 - 5.427)/2) - 1, 0) = 0 -> -2.
    res = grouped_theil_sen(np.zeros(4, int), [0, 1, 2, 3], [4, 3, 3, 1]).loc[0]
    assert list(res[["slope", "intercept", "ci_low", "ci_high"]]) == [-1.0, 4.0, -2.0, 0.0]
    assert res["n_slopes"] == 6


def test_theil_sen_fixed_cases_with_ties_and_small_groups() -> None:
    groups = [
        ([0, 1], [3, 5]),  # 2 points
        ([0, 1, 2], [5, 5, 2]),  # 3 points, tie in y
        ([0, 0, 1, 2], [1, 3, 2, 2]),  # tie in x and in y
        ([0, 0, 0, 0, 1], [5, 5, 5, 5, 6]),  # heavy ties: negative variance, NaN CI in scipy
        ([3, 3, 3], [1, 2, 3]),  # all x equal: no slope
        ([0, 2, 4, 6, 8, 10, 12], [7, 7, 6, 7, 5, 4, 4]),
        (list(range(30)), [6 - i // 5 for i in range(30)]),
    ]
    codes = np.concatenate([np.full(len(gx), i) for i, (gx, _) in enumerate(groups)])
    x = np.concatenate([gx for gx, _ in groups]).astype(float)
    y = np.concatenate([gy for _, gy in groups]).astype(float)
    for conf in (0.95, 0.9, 0.8):
        check_theil_sen_against_scipy(codes, x, y, conf)
    res = grouped_theil_sen(codes, x, y)
    assert res.loc[3, ["ci_low", "ci_high"]].isna().all() and res.loc[3, "slope"] == 1.0
    assert res.loc[4, ["slope", "intercept"]].isna().all() and res.loc[4, "n_slopes"] == 0


def test_theil_sen_random_groups_unsorted_input() -> None:
    rng = np.random.default_rng(11)
    sizes = rng.integers(1, 50, 80)
    codes = np.repeat(np.arange(80), sizes)
    perm = rng.permutation(len(codes))  # rows in no particular order
    x = rng.integers(0, 40, len(codes)).astype(float)
    y = rng.integers(0, 21, len(codes)) / 2
    check_theil_sen_against_scipy(codes[perm], x[perm], y[perm])


@given(group_strategy, st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_theil_sen_matches_scipy_property(groups, confidence) -> None:
    codes, x, y = flatten(groups)
    check_theil_sen_against_scipy(codes, x, y, confidence)


# --------------------------------------------------------------------------- grouped_kendall


def check_kendall_against_scipy(codes, x, y) -> pd.DataFrame:
    res = grouped_kendall(codes, x, y)
    for g, xg, yg in split(codes, x, y):
        ref = ss.kendalltau(xg, yg)  # default method='auto', which grouped_kendall reproduces
        np.testing.assert_allclose(res.loc[g, ["tau", "p"]].to_numpy(float), [ref.statistic, ref.pvalue], **TOL)
    return res


def test_kendall_hand_computed() -> None:
    # x = 0..3, y = 4, 3, 3, 1: 5 discordant pairs, 0 concordant, 1 pair tied in y;
    # tau_b = (0 - 5) / sqrt((6 - 0)(6 - 1)) = -5 / sqrt(30) = -0.912871
    res = grouped_kendall(np.zeros(4, int), [0, 1, 2, 3], [4, 3, 3, 1]).loc[0]
    assert res["tau"] == pytest.approx(-5 / np.sqrt(30))
    assert (res["concordant"], res["discordant"], res["p_method"]) == (0, 5, "asymptotic")
    # no ties, perfectly decreasing 4 points: exact p = 2 * P(C = 0) = 2 / 4! = 1/12
    res = grouped_kendall(np.zeros(4, int), [0, 1, 2, 3], [7, 6, 5, 4]).loc[0]
    assert res["tau"] == -1.0 and res["p"] == pytest.approx(1 / 12) and res["p_method"] == "exact"


def test_kendall_exact_and_asymptotic_paths_match_scipy_auto() -> None:
    rng = np.random.default_rng(3)
    sizes = rng.integers(2, 60, 120)
    codes = np.repeat(np.arange(120), sizes)
    x = rng.permutation(len(codes)).astype(float)  # no ties in x
    y = rng.normal(size=len(codes))  # no ties in y: exact up to n = 33
    for g in range(0, 120, 6):  # some monotone groups, with n > 33 too (min(con, dis) <= 1 -> exact)
        m = np.flatnonzero(codes == g)
        x[m], y[m] = np.sort(x[m]), np.sort(y[m])
        if g % 12 == 0 and len(m) > 2:
            y[m[[0, 1]]] = y[m[[1, 0]]]  # one discordant pair
    res = check_kendall_against_scipy(codes, x, y)
    big_monotone = (res["n"] > 33) & (np.minimum(res["concordant"], res["discordant"]) <= 1)
    assert big_monotone.any() and (res.loc[big_monotone, "p_method"] == "exact").all()
    assert (res.loc[res["n"] > 33, "p_method"] == "asymptotic").any()
    ties = rng.integers(0, 5, len(codes)).astype(float)  # ties in y -> asymptotic with tie correction
    res = check_kendall_against_scipy(codes, x, ties)
    assert (res.loc[res["n"] > 6, "p_method"] == "asymptotic").all()


def test_kendall_undefined_when_constant() -> None:
    res = grouped_kendall([0, 0, 0, 1], [0, 1, 2, 0], [3, 3, 3, 1])
    assert res[["tau", "p"]].isna().all().all() and res["p_method"].isna().all()


@given(group_strategy)
def test_kendall_matches_scipy_property(groups) -> None:
    codes, x, y = flatten(groups)
    check_kendall_against_scipy(codes, x, y)


@given(st.lists(st.lists(st.floats(-100, 100, allow_nan=False), min_size=2, max_size=36, unique=True), max_size=5))
def test_kendall_untied_matches_scipy_property(columns) -> None:
    if not columns:
        return
    codes = np.concatenate([np.full(len(c), i) for i, c in enumerate(columns)])
    y = np.concatenate(columns)
    x = np.concatenate([np.arange(len(c)) for c in columns]).astype(float)
    check_kendall_against_scipy(codes, x, y)


# --------------------------------------------------------------------------- daily / weekly / rolling


@pytest.fixture
def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    patients = make_patients({"A": "2026-03-02", "B": "2026-03-05", "C": "2026-03-02"})
    pain = make_pain(
        [
            ("A", "2026-03-01 20:00", 9),  # day -1: before the programme, excluded
            ("A", "2026-03-02 08:00", 6),  # day 0
            ("A", "2026-03-02 20:00", 3),  # day 0 -> mean (6 + 3) / 2 = 4.5
            ("A", "2026-03-03 20:00", 5),  # day 1
            ("A", "2026-03-04 20:00", 4),  # day 2
            ("A", "2026-03-17 20:00", 2),  # day 15, week 3
            ("B", "2026-03-05 21:00", 7),  # day 0
            ("Z", "2026-03-05 21:00", 1),  # unknown patient: ignored
        ]
    )
    return pain, patients


def test_daily_pain_hand_computed(small) -> None:
    pain, patients = small
    daily = daily_pain(pain, patients)
    assert list(daily.columns) == ["patient_id", "date", "day", "week", "nprs_mean", "n_ratings"]
    assert list(daily["patient_id"]) == ["A", "A", "A", "A", "B"]
    assert list(daily["day"]) == [0, 1, 2, 15, 0]
    assert list(daily["week"]) == [1, 1, 1, 3, 1]  # 15 // 7 + 1 = 3
    assert list(daily["nprs_mean"]) == [4.5, 5.0, 4.0, 2.0, 7.0]
    assert list(daily["n_ratings"]) == [2, 1, 1, 1, 1]
    assert list(daily["date"].dt.strftime("%Y-%m-%d")) == [
        "2026-03-02",
        "2026-03-03",
        "2026-03-04",
        "2026-03-17",
        "2026-03-05",
    ]


def test_daily_pain_matches_pandas_groupby() -> None:
    pain, patients = random_cohort(5)
    ours = daily_pain(pain, patients).sort_values(["patient_id", "day"], ignore_index=True)
    ref = reference_daily(pain, patients)
    np.testing.assert_array_equal(ours["patient_id"].astype(str), ref["patient_id"].astype(str))
    np.testing.assert_array_equal(ours["day"], ref["day"])
    np.testing.assert_array_equal(ours["date"], ref["date"])
    np.testing.assert_allclose(ours["nprs_mean"], ref["nprs_mean"], rtol=1e-15)
    np.testing.assert_array_equal(ours["n_ratings"], ref["n_ratings"])


def test_weekly_pain_hand_computed_with_as_of(small) -> None:
    pain, patients = small
    # as_of 2026-03-18 = day 16 of A (week 3: whole days 14 and 15 elapsed, the analysis day itself is not
    # over), day 13 of B (week 2: days 7-12 elapsed), day 16 of C (no ratings: weeks 1-3 with zero counts)
    weekly = weekly_pain(pain, patients, as_of="2026-03-18")
    a = weekly[weekly["patient_id"] == "A"].set_index("week")
    assert list(a.index) == [1, 2, 3]
    # week 1: daily means 4.5, 5, 4 -> mean 13.5 / 3 = 4.5, median 4.5, 4 ratings on 3 of 7 days
    assert a.loc[1, "nprs_mean"] == 4.5 and a.loc[1, "nprs_median"] == 4.5
    assert (a.loc[1, "n_ratings"], a.loc[1, "days_rated"], a.loc[1, "days_elapsed"]) == (4, 3, 7)
    assert a.loc[1, "share_days_rated"] == pytest.approx(3 / 7)
    assert np.isnan(a.loc[2, "nprs_mean"]) and a.loc[2, "n_ratings"] == 0 and a.loc[2, "share_days_rated"] == 0
    # week 3: one rating (2) on day 15; days 14 and 15 elapsed -> share 1/2
    assert a.loc[3, "nprs_mean"] == 2.0 and a.loc[3, "days_elapsed"] == 2
    assert a.loc[3, "share_days_rated"] == pytest.approx(1 / 2)
    assert str(a.loc[3, "week_start"].date()) == "2026-03-16"  # 2026-03-02 + 14 days
    b = weekly[weekly["patient_id"] == "B"]
    assert list(b["week"]) == [1, 2] and list(b["days_elapsed"]) == [7, 6]
    c = weekly[weekly["patient_id"] == "C"]
    assert list(c["week"]) == [1, 2, 3] and (c["n_ratings"] == 0).all() and c["nprs_mean"].isna().all()


def test_weekly_pain_as_of_excludes_later_ratings(small) -> None:
    pain, patients = small
    weekly = weekly_pain(pain, patients, as_of="2026-03-03")  # day 1 of A: 1 whole day of week 1 elapsed
    a = weekly[weekly["patient_id"] == "A"].iloc[0]
    # ratings up to and including as_of: days 0 and 1, daily means 4.5 and 5 -> mean 4.75, 3 ratings on 2 days;
    # elapsed: day 0 only (as_of is not over), rated -> share 1/1
    assert (a["week"], a["nprs_mean"], a["n_ratings"], a["days_rated"], a["days_elapsed"]) == (1, 4.75, 3, 2, 1)
    assert a["share_days_rated"] == 1.0
    assert "B" not in set(weekly["patient_id"])  # B starts on 2026-03-05


def test_weekly_pain_default_runs_to_each_patients_last_rating(small) -> None:
    pain, patients = small
    weekly = weekly_pain(pain, patients)
    assert list(weekly.loc[weekly["patient_id"] == "A", "week"]) == [1, 2, 3]
    assert list(weekly.loc[weekly["patient_id"] == "B", "week"]) == [1]
    assert "C" not in set(weekly["patient_id"])
    # analysis day = the day after the last entry (2026-03-17 20:00) = 2026-03-18 = day 16 of A: whole days
    # 14 and 15 of week 3 elapsed, day 15 rated -> share 1/2 (every day with data is a whole day)
    a3 = weekly[(weekly["patient_id"] == "A") & (weekly["week"] == 3)].iloc[0]
    assert a3["days_elapsed"] == 2 and a3["share_days_rated"] == 0.5


def test_weekly_pain_matches_pandas_reference() -> None:
    pain, patients = random_cohort(9)
    as_of = pd.Timestamp("2026-04-20")
    ours = weekly_pain(pain, patients, as_of=as_of)
    ref = reference_daily(pain[pain["recorded_at"] < as_of + pd.Timedelta(days=1)], patients)
    ref["week"] = ref["day"] // 7 + 1
    agg = ref.groupby(["patient_id", "week"]).agg(
        nprs_mean=("nprs_mean", "mean"),
        nprs_median=("nprs_mean", "median"),
        n_ratings=("n_ratings", "sum"),
        days_rated=("day", "nunique"),
    )
    merged = ours.merge(agg, on=["patient_id", "week"], how="left", suffixes=("", "_ref"))
    assert len(merged) == len(ours)
    rated = merged["days_rated"] > 0
    assert rated.sum() == len(agg)  # every rated week appears
    np.testing.assert_allclose(merged.loc[rated, "nprs_mean"], merged.loc[rated, "nprs_mean_ref"], rtol=1e-12)
    np.testing.assert_allclose(merged.loc[rated, "nprs_median"], merged.loc[rated, "nprs_median_ref"], rtol=1e-12)
    np.testing.assert_array_equal(merged.loc[rated, "n_ratings"], merged.loc[rated, "n_ratings_ref"])
    # the number of weeks of each started patient is the week containing as_of
    start = patients.set_index("patient_id")["programme_start"]
    expected_weeks = ((as_of - start).dt.days // 7 + 1).clip(lower=0)
    np.testing.assert_array_equal(ours.groupby("patient_id").size().reindex(start.index, fill_value=0), expected_weeks)


def test_rolling_pain_matches_pandas_time_window() -> None:
    pain, patients = random_cohort(13)
    ours = rolling_pain(pain, patients, window_days=7)
    ref = reference_daily(pain, patients)
    for pid, sub in ref.groupby("patient_id"):
        series = sub.set_index("date")["nprs_mean"]
        expected = series.rolling("7D", min_periods=1).mean()  # pandas time-based window
        mine = ours[ours["patient_id"] == pid].set_index("date")
        assert mine.index.min() == series.index.min() and mine.index.max() == series.index.max()
        assert len(mine) == (series.index.max() - series.index.min()).days + 1  # every calendar day
        np.testing.assert_allclose(mine.loc[series.index, "nprs_rolling"], expected, rtol=1e-12)
    # a day without ratings: the window mean of the previous 6 days (hand check on small data below)


def test_rolling_pain_hand_computed(small) -> None:
    pain, patients = small
    roll = rolling_pain(pain, patients, window_days=3)
    a = roll[roll["patient_id"] == "A"].set_index("day")
    assert list(a.index) == list(range(16))  # days 0..15, gaps included
    # day 2 window = days 0-2: (4.5 + 5 + 4) / 3 = 4.5; day 3 = days 1-3: (5 + 4) / 2 = 4.5; day 4 = days 2-4: 4
    assert a.loc[2, "nprs_rolling"] == 4.5 and a.loc[3, "nprs_rolling"] == 4.5 and a.loc[4, "nprs_rolling"] == 4.0
    assert np.isnan(a.loc[5, "nprs_rolling"]) and a.loc[5, "days_in_window"] == 0  # days 3-5 unrated
    assert np.isnan(a.loc[3, "nprs_mean"]) and a.loc[3, "n_ratings"] == 0
    assert a.loc[15, "nprs_rolling"] == 2.0
    with pytest.raises(SettingsError):
        rolling_pain(pain, patients, window_days=0)


# --------------------------------------------------------------------------- pain_trends

TREND_COLUMNS = [
    "patient_id", "n_days", "first_day", "last_day", "trend_days", "flare_ratings_excluded", "status",
    "trend_slope_per_week", "trend_ci_low", "trend_ci_high", "trend_tau", "trend_p", "trend", "trend_text",
    "ols_slope_per_week", "ols_ci_low", "ols_ci_high", "ols_p",
    "theil_sen_slope_per_week", "theil_sen_ci_low", "theil_sen_ci_high",
    "kendall_tau", "kendall_p", "confidence",
]  # fmt: skip
STAT_COLUMNS = TREND_COLUMNS[14:23]
RULE_COLUMNS = TREND_COLUMNS[7:12]


def test_pain_trends_not_enough_data_and_hand_computed_daily_aggregation() -> None:
    patients = make_patients({"A": "2026-03-02", "B": "2026-03-02", "C": "2026-03-02", "D": "2026-03-02"})
    pain = make_pain(
        [
            ("A", "2026-03-02 08:00", 8),  # day 0: 8 and 6 -> daily mean 7
            ("A", "2026-03-02 20:00", 6),
            ("A", "2026-03-03 20:00", 6),  # day 1
            ("A", "2026-03-04 20:00", 5),  # day 2
            ("A", "2026-03-05 20:00", 4),  # day 3
            ("B", "2026-03-02 08:00", 5),  # 4 ratings but only 3 distinct days
            ("B", "2026-03-02 20:00", 6),
            ("B", "2026-03-03 20:00", 5),
            ("B", "2026-03-04 20:00", 4),
            ("C", "2026-02-20 20:00", 9),  # before the programme: not counted
            ("C", "2026-03-02 20:00", 3),
        ]
    )
    res = pain_trends(pain, patients)
    assert list(res.columns) == TREND_COLUMNS
    assert list(res["patient_id"]) == ["A", "B", "C", "D"]
    assert list(res["n_days"]) == [4, 3, 1, 0]
    assert list(res["status"]) == [STATUS_OK, STATUS_NOT_ENOUGH_DATA, STATUS_NOT_ENOUGH_DATA, STATUS_NOT_ENOUGH_DATA]
    assert res.loc[1:, STAT_COLUMNS + RULE_COLUMNS].isna().all().all()  # NaN, never a number
    assert res.loc[1:, "trend"].isna().all()
    assert res.loc[1, "trend_text"] == "not enough data: 3 days rated, a trend needs 4"
    assert res.loc[3, ["first_day", "last_day"]].isna().all()
    assert (res.loc[2, "first_day"], res.loc[2, "last_day"]) == (0, 0)
    a = res.loc[0]
    # daily means 7, 6, 5, 4 on days 0-3: exactly -1 point per day = -7 per week (unaveraged 8 and 6 would not
    # lie on a line). OLS perfect fit: SE 0, CI [-7, -7], p 0.
    assert a["ols_slope_per_week"] == pytest.approx(-7.0)
    assert a["ols_ci_low"] == pytest.approx(-7.0) and a["ols_ci_high"] == pytest.approx(-7.0)
    assert a["ols_p"] == pytest.approx(0.0, abs=1e-12)
    # Theil-Sen: all 6 pairwise slopes are -1; CI ranks 0 and 5 (sigma^2 = 4*3*13/18) -> [-7, -7] per week
    assert (a["theil_sen_slope_per_week"], a["theil_sen_ci_low"], a["theil_sen_ci_high"]) == (-7.0, -7.0, -7.0)
    # Kendall: 6 discordant pairs, no ties -> tau = -1, exact p = 2 / 4! = 1/12
    assert a["kendall_tau"] == -1.0 and a["kendall_p"] == pytest.approx(1 / 12)
    # the rule: exact Mann-Kendall p = 1/12 is not below 0.05, so no label yet, whatever the slope
    assert a["trend"] == TREND_NO_CLEAR and a["confidence"] == 0.95
    assert a["trend_text"] == "no clear trend: -7.00 points/week (Mann-Kendall p = 0.083, a trend needs p < 0.05)"


def test_pain_trends_labels_and_settings() -> None:
    patients = make_patients({"W": "2026-03-02", "F": "2026-03-02"})
    rows = [("W", f"2026-03-{2 + d:02d} 20:00", v) for d, v in enumerate([2, 3, 3, 4, 5, 5, 6])]
    rows += [("F", f"2026-03-{2 + d:02d} 20:00", v) for d, v in enumerate([4, 5, 4, 4, 5, 4, 4])]
    pain = make_pain(rows)
    res = pain_trends(pain, patients).set_index("patient_id")
    # W: 2,3,3,4,5,5,6 on days 0-6: Mann-Kendall S = 19 of 21 pairs (2 tied), p < 0.05, OLS slope > 0
    assert res.loc["W", "trend"] == TREND_WORSENING and res.loc["W", "trend_slope_per_week"] > 0
    assert res.loc["F", "trend"] == TREND_NO_CLEAR
    assert res.loc["F", "theil_sen_ci_low"] <= 0 <= res.loc["F", "theil_sen_ci_high"]
    strict = pain_trends(pain, patients, settings=DEFAULT_SETTINGS.replace(min_trend_days=8))
    assert (strict["status"] == STATUS_NOT_ENOUGH_DATA).all()
    ninety = pain_trends(pain, patients, settings=DEFAULT_SETTINGS.replace(trend_confidence=0.9))
    assert (ninety["confidence"] == 0.9).all()
    ref = ss.theilslopes([2, 3, 3, 4, 5, 5, 6], np.arange(7), 0.9)
    assert ninety.loc[0, "theil_sen_ci_low"] == pytest.approx(7 * ref.low_slope)
    with pytest.raises(SettingsError):
        pain_trends(pain, patients, settings=DEFAULT_SETTINGS.replace(trend_confidence=2))


def test_pain_trends_missing_column_is_a_typed_error() -> None:
    patients = make_patients({"A": "2026-03-02"})
    with pytest.raises(MissingColumnsError, match="nprs"):
        pain_trends(pd.DataFrame({"patient_id": ["A"], "recorded_at": [pd.Timestamp("2026-03-02")]}), patients)


def test_pain_trends_match_scipy_on_pandas_daily_means() -> None:
    pain, patients = random_cohort(21, n_patients=40)
    res = pain_trends(pain, patients).set_index("patient_id")
    ref = reference_daily(pain, patients)
    checked = 0
    for pid, sub in ref.groupby("patient_id"):
        row = res.loc[pid]
        assert row["n_days"] == len(sub)
        if len(sub) < 4:
            assert row["status"] == STATUS_NOT_ENOUGH_DATA
            continue
        x, y = sub["day"].to_numpy(float), sub["nprs_mean"].to_numpy()
        lr = ss.linregress(x, y)
        tq = ss.t.ppf(0.975, len(x) - 2)
        ts = ss.theilslopes(y, x, 0.95)
        kt = ss.kendalltau(x, y)
        np.testing.assert_allclose(
            row[STAT_COLUMNS].to_numpy(float),
            [7 * lr.slope, 7 * (lr.slope - tq * lr.stderr), 7 * (lr.slope + tq * lr.stderr), lr.pvalue,
             7 * ts.slope, 7 * ts.low_slope, 7 * ts.high_slope, kt.statistic, kt.pvalue],
            rtol=1e-9, atol=1e-12,
        )  # fmt: skip
        checked += 1
    assert checked >= 20
    # the rule's label from scipy on the days without flare ratings (the flare rule is tested in test_flags)
    kept = reference_daily(pain[~flare_ratings(pain, patients, transient=True)], patients)
    for pid, sub in kept.groupby("patient_id"):
        row = res.loc[pid]
        if len(sub) < 4:
            assert row["status"] == STATUS_NOT_ENOUGH_DATA
            continue
        x, y = sub["day"].to_numpy(float), sub["nprs_mean"].to_numpy()
        lr, kt = ss.linregress(x, y), ss.kendalltau(x, y)
        np.testing.assert_allclose(row[["trend_slope_per_week", "trend_tau", "trend_p"]].to_numpy(float),
                                   [7 * lr.slope, kt.statistic, kt.pvalue], rtol=1e-9, atol=1e-12)
        called = kt.pvalue < 0.05
        expected = (TREND_WORSENING if called and kt.statistic > 0 and lr.slope > 0
                    else TREND_IMPROVING if called and kt.statistic < 0 and lr.slope < 0 else TREND_NO_CLEAR)
        assert row["trend"] == expected


cohort_strategy = st.lists(
    st.lists(st.tuples(st.integers(-2, 40), st.integers(0, 23), st.integers(0, 10)), max_size=25),
    min_size=1,
    max_size=5,
)


def build(cohort, shift_days: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    base = pd.Timestamp("2026-03-02") + pd.Timedelta(days=shift_days)
    ids = [f"P{i}" for i in range(len(cohort))]
    patients = make_patients({pid: str((base + pd.Timedelta(days=3 * i)).date()) for i, pid in enumerate(ids)})
    rows = []
    for i, ratings in enumerate(cohort):
        start = base + pd.Timedelta(days=3 * i)
        for day, hour, v in ratings:
            rows.append((ids[i], str(start + pd.Timedelta(days=day, hours=hour)), v))
    pain = make_pain(rows)
    return pain.drop_duplicates(["patient_id", "recorded_at"], ignore_index=True), patients


@given(cohort_strategy, st.randoms(use_true_random=False))
def test_pain_trends_invariant_to_row_order(cohort, rnd) -> None:
    pain, patients = build(cohort)
    order = list(range(len(pain)))
    rnd.shuffle(order)
    a = pain_trends(pain, patients)
    b = pain_trends(pain.iloc[order].reset_index(drop=True), patients)
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)


@given(cohort_strategy, st.integers(-400, 400))
def test_pain_trends_invariant_to_shifting_dates(cohort, shift) -> None:
    pain, patients = build(cohort)
    pain2, patients2 = build(cohort, shift_days=shift)
    pd.testing.assert_frame_equal(pain_trends(pain, patients), pain_trends(pain2, patients2), rtol=1e-12)


@given(cohort_strategy, cohort_strategy)
def test_pain_trends_unchanged_by_other_patients(cohort, others) -> None:
    pain, patients = build(cohort)
    both_pain, both_patients = build(cohort + others)
    alone = pain_trends(pain, patients)
    together = pain_trends(both_pain, both_patients).iloc[: len(cohort)].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, together, rtol=1e-12)


def test_empty_tables_give_empty_frames_with_columns() -> None:
    patients = make_patients({"A": "2026-03-02"})
    pain = make_pain([])
    assert daily_pain(pain, patients).empty
    assert rolling_pain(pain, patients).empty
    assert weekly_pain(pain, patients).empty
    # with an analysis date 9 days in: weeks 1 and 2 (days 0-6, 7-9) with no ratings
    weekly = weekly_pain(pain, patients, as_of="2026-03-11")
    assert list(weekly["week"]) == [1, 2] and list(weekly["days_elapsed"]) == [7, 2]
    trends = pain_trends(pain, patients)
    assert list(trends.columns) == TREND_COLUMNS and trends.loc[0, "status"] == STATUS_NOT_ENOUGH_DATA
    assert grouped_theil_sen([], [], []).empty and grouped_kendall([], [], []).empty and grouped_ols([], [], []).empty


# --------------------------------------------------------------------------- the trend rule (issue 15)


def diary(values: list[int], pid: str = "A", start: str = "2026-03-02", hour: str = "20:00") -> pd.DataFrame:
    first = pd.Timestamp(start)
    return make_pain([(pid, f"{(first + pd.Timedelta(days=d)).date()} {hour}", v) for d, v in enumerate(values)])


def test_tied_whole_number_diary_hand_worked() -> None:
    # 5 on days 0-13, 6 on days 14-19: 91 + 15 = 106 of the 190 pairwise slopes are 0 -> Sen's slope 0.
    # Mann-Kendall: S = 14 x 6 = 84 concordant pairs, none discordant; ties in y of sizes 14 and 6:
    # Var S = (20*19*45 - 14*13*33 - 6*5*17) / 18 = (17100 - 6006 - 510) / 18 = 588; z = 84 / sqrt(588) = 3.4641
    # p = 2 * (1 - Phi(3.4641)) = 0.000532. OLS: Sxx = 665, Sxy = 42 -> 42/665 = 0.0631579 points/day.
    patients = make_patients({"A": "2026-03-02"})
    row = pain_trends(diary([5] * 14 + [6] * 6), patients).iloc[0]
    assert row["theil_sen_slope_per_week"] == 0.0
    assert row["trend_p"] == pytest.approx(2 * ss.norm.sf(84 / np.sqrt(588)), rel=1e-12)
    assert row["trend_p"] == pytest.approx(0.000532, abs=5e-7)
    assert row["trend_slope_per_week"] == pytest.approx(7 * 42 / 665)
    assert row["trend"] == TREND_WORSENING
    assert row["trend_text"] == "worsening: +0.44 points/week (Mann-Kendall p < 0.001)"
    down = pain_trends(diary([6] * 14 + [5] * 6), patients).iloc[0]
    assert down["trend"] == TREND_IMPROVING and down["trend_slope_per_week"] == pytest.approx(-7 * 42 / 665)
    assert down["trend_text"] == "improving: -0.44 points/week (Mann-Kendall p < 0.001)"


def test_a_flare_rating_is_left_out_of_the_trend_and_counted() -> None:
    # 4 on days 0-6, then 5 on days 7-20, with a morning rating of 9 on day 3 (baseline: median of days 0-2 = 4;
    # 9 - 4 = 5 >= 2; day 4 is back at 4): the flare rating is left out, the day keeps its evening 4.
    patients = make_patients({"A": "2026-03-02"})
    pain = pd.concat([diary([4] * 7 + [5] * 14), make_pain([("A", "2026-03-05 08:00", 9)])], ignore_index=True)
    row = pain_trends(pain, patients).iloc[0]
    assert row["flare_ratings_excluded"] == 1 and row["trend_days"] == 21 and row["n_days"] == 21
    # the trend is that of the diary without the 9: 4 x 7, 5 x 14
    alone = pain_trends(diary([4] * 7 + [5] * 14), patients).iloc[0]
    assert row["trend_slope_per_week"] == alone["trend_slope_per_week"] and row["trend_p"] == alone["trend_p"]
    assert row["trend_text"].endswith(", 1 flare rating left out")
    # the descriptive all-days statistics keep the 9 (day 3 mean 6.5)
    x = np.arange(21.0)
    y = np.array([4.0] * 7 + [5.0] * 14)
    y[3] = 6.5
    assert row["ols_slope_per_week"] == pytest.approx(7 * ss.linregress(x, y).slope)


def test_a_rise_that_lasts_is_not_a_transient_flare_and_stays_in_the_trend() -> None:
    # a steep rise of 0.6 points a day: the 7-day median lags, so days 4-6 are flagged as flares, but pain
    # never comes back below the flare level: nothing is left out and the rise is called
    values = [2, 3, 3, 4, 5, 5, 6, 6, 7, 7]
    row = pain_trends(diary(values), make_patients({"A": "2026-03-02"})).iloc[0]
    assert row["flare_ratings_excluded"] == 0 and row["trend"] == TREND_WORSENING
    assert row["trend_p"] == pytest.approx(ss.kendalltau(np.arange(10), values).pvalue, rel=1e-12)


def test_an_early_flare_no_longer_hides_a_rise() -> None:
    # a slow rise 5 -> 6 with a flare of 9 on days 3-4 (median of the days before: 5), back to 5 on day 5:
    # with the flare the rank test misses the rise (p = 0.146), without it p = 0.0045
    values = [5, 5, 5, 9, 9, 5, 5, 5, 5, 6, 5, 6, 5, 6, 6, 6, 5, 6, 6, 6]
    patients = make_patients({"A": "2026-03-02"})
    row = pain_trends(diary(values), patients).iloc[0]
    assert row["kendall_p"] > 0.05  # all days: not significant
    assert row["flare_ratings_excluded"] == 2 and row["trend"] == TREND_WORSENING
    kept = [v for d, v in enumerate(values) if d not in (3, 4)]
    days = [d for d in range(20) if d not in (3, 4)]
    assert row["trend_p"] == pytest.approx(ss.kendalltau(days, kept).pvalue, rel=1e-12)


def test_no_label_when_the_rank_test_and_the_slope_disagree() -> None:
    # ranks rise (many small steps up) but two very low last days pull the least-squares slope below 0
    values = [3] * 10 + [4] * 16 + [0, 0]
    x = np.arange(len(values), dtype=float)
    kt, lr = ss.kendalltau(x, values), ss.linregress(x, values)
    assert kt.pvalue < 0.05 and kt.statistic > 0 and lr.slope < 0  # the premise, by scipy
    row = pain_trends(diary(values), make_patients({"A": "2026-03-02"})).iloc[0]
    assert row["trend"] == TREND_NO_CLEAR
    assert row["trend_text"].startswith("no clear trend: the ratings rise (Mann-Kendall p = ")
    assert f"but the slope is {7 * lr.slope:+.2f} points/week" in row["trend_text"]


def test_constant_pain_is_no_clear_trend_with_a_zero_slope() -> None:
    row = pain_trends(diary([4] * 10), make_patients({"A": "2026-03-02"})).iloc[0]
    assert row["trend"] == TREND_NO_CLEAR and row["trend_slope_per_week"] == 0.0 and np.isnan(row["trend_p"])
    assert row["trend_text"] == "no clear trend: 0.00 points/week (pain the same on every rated day)"


def test_p_values_and_small_slopes_are_written_on_the_right_side_of_their_threshold() -> None:
    assert p_value_text(0.0496, 0.05) == "p = 0.0496"  # 3 decimals would read 0.050
    assert p_value_text(0.0504, 0.05) == "p = 0.050"  # not below 0.05, and does not read as below
    assert p_value_text(0.2) == "p = 0.200" and p_value_text(0.0004) == "p < 0.001"
    assert trend_for_patient("worsening", 0.04).startswith("Over your diary your pain has been going up, by about 0.04")
    assert trend_for_patient("improving", -0.43) == (
        "Over your diary your pain has been going down, by about 0.4 points a week.")
    assert trend_for_patient(pd.NA, np.nan).startswith("There are not enough pain ratings yet")


def test_the_sample_trend_labels_never_contradict_their_slope_and_have_no_spike_at_zero() -> None:
    from analysis.sample_data import SNAPSHOT_DATE, load_cohort

    c = load_cohort()
    pain = c.pain[c.pain["recorded_at"] < pd.Timestamp(SNAPSHOT_DATE) + pd.Timedelta(days=1)]
    res = pain_trends(pain, c.patients)
    ok = res["status"] == STATUS_OK
    slope = res.loc[ok, "trend_slope_per_week"]
    # the researcher histogram: Theil-Sen put 21 patients at exactly 0; the trend slope puts none there
    assert (res.loc[ok, "theil_sen_slope_per_week"] == 0).sum() >= 15
    assert (slope == 0).sum() == 0
    worse = res["trend"] == TREND_WORSENING
    better = res["trend"] == TREND_IMPROVING
    assert (res.loc[worse, "trend_slope_per_week"] > 0).all() and (res.loc[worse, "trend_p"] < 0.05).all()
    assert (res.loc[better, "trend_slope_per_week"] < 0).all() and (res.loc[better, "trend_p"] < 0.05).all()
    for text, label in zip(res.loc[ok, "trend_text"], res.loc[ok, "trend"], strict=True):
        assert text.startswith(f"{label}: ") and "+0.00" not in text and "-0.00" not in text


# ---- issue 19: the trend rule recomputes only the patients with a flare rating left out --------------

_DIARY = st.lists(st.lists(st.integers(0, 10), min_size=0, max_size=30), min_size=1, max_size=4)
_PLANTED = [[3] * 10 + [8] + [3] * 10, [5, 6, 5, 9, 5, 4, 5, 9, 9, 9, 9, 5, 4] * 2, [2] * 8]


@example(days=_PLANTED)
@given(days=_DIARY)
def test_trend_columns_equal_the_descriptive_statistics_of_the_diary_without_its_flare_ratings(days) -> None:
    """Reference: the all-days OLS and Kendall columns of the diary with the transient flares removed.

    Each patient rates once a day on consecutive days (so the flare rule has its baseline);
    the planted example has transient flares (a 8 among 3s) and a lasting rise (the 9s).
    """
    patients = pd.DataFrame({"patient_id": [f"P{i}" for i in range(len(days))],
                             "programme_start": pd.to_datetime(["2026-09-07"] * len(days))})
    pain = pd.DataFrame({
        "patient_id": [f"P{i}" for i, ratings in enumerate(days) for _ in ratings],
        "recorded_at": [pd.Timestamp("2026-09-07 08:00") + pd.Timedelta(days=d)
                        for ratings in days for d in range(len(ratings))],
        "nprs": pd.array([v for ratings in days for v in ratings], dtype="Int64"),
    })
    flare = flare_ratings(pain, patients, transient=True)
    if days == _PLANTED:
        assert flare.sum() >= 2  # the example does exercise the recomputation
    got = pain_trends(pain, patients)
    ref = pain_trends(pain.loc[~flare].reset_index(drop=True), patients,
                      flare_ratings=np.zeros(int((~flare).sum()), dtype=bool))
    np.testing.assert_array_equal(got["trend_days"].to_numpy(), ref["n_days"].to_numpy())
    for ours, theirs in (("trend_slope_per_week", "ols_slope_per_week"), ("trend_ci_low", "ols_ci_low"),
                         ("trend_ci_high", "ols_ci_high"), ("trend_tau", "kendall_tau"), ("trend_p", "kendall_p")):
        np.testing.assert_array_equal(got[ours].to_numpy(dtype=float), ref[theirs].to_numpy(dtype=float))
    # the descriptive columns still use every rated day
    np.testing.assert_array_equal(got["n_days"].to_numpy(),
                                  pain_trends(pain, patients, flare_ratings=np.zeros(len(pain), bool))["n_days"])
