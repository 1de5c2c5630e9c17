"""Researcher tables (analysis.research): Wilson intervals, responder rates, groups, the synthetic calendar."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from statsmodels.stats.proportion import proportion_confint

from analysis.errors import NotEnoughDataError
from analysis.outcomes import time_to_events
from analysis.pseudonyms import pseudonymise_cohort, pseudonymise_ids
from analysis.research import (
    MIN_GROUP_SIZE,
    SYNTHETIC_ORIGIN,
    as_canonical,
    responder_rates,
    select_group,
    time_to_mcid,
    too_small,
    wilson_interval,
)
from analysis.sample_data import load_cohort
from analysis.trends import daily_pain

KEY = b"research-test-key-0123456789abcdef"


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (19, 42), (1, 1)])
def test_wilson_interval_matches_statsmodels(k, n):
    lo, hi = wilson_interval(np.array([k]), np.array([n]))
    ref_lo, ref_hi = proportion_confint(k, n, alpha=0.05, method="wilson")  # statsmodels reference
    assert lo[0] == pytest.approx(ref_lo, abs=1e-12)
    assert hi[0] == pytest.approx(ref_hi, abs=1e-12)


def test_wilson_worked_example():
    # Newcombe 1998 example: 81 of 263 -> 0.2553 to 0.3662 (table I, method 3)
    lo, hi = wilson_interval(81, 263)
    assert float(lo) == pytest.approx(0.2553, abs=1e-4)
    assert float(hi) == pytest.approx(0.3662, abs=1e-4)


@given(st.integers(0, 500), st.integers(1, 500))
def test_wilson_interval_contains_the_proportion(k, n):
    k = min(k, n)
    lo, hi = wilson_interval(k, n)
    assert 0 <= lo <= k / n + 1e-12 <= hi + 2e-12 <= 1 + 2e-12


def test_wilson_interval_of_no_patient_is_nan():
    lo, hi = wilson_interval(0, 0)
    assert np.isnan(lo) and np.isnan(hi)


def _summary() -> pd.DataFrame:
    return pd.DataFrame({
        "pain_status": ["ok", "ok", "ok", "ok", "ok", "not enough data: 3 of the first 7 days"],
        "mcid_rule": ["both", "absolute", "%", "neither", "both", pd.NA],
        "rci_category": ["reliable improvement", "no reliable change", "no reliable change",
                         "reliable deterioration", "reliable improvement", pd.NA],
        "physio_pseudonym": ["phy-a", "phy-a", "phy-b", "phy-b", "phy-b", "phy-a"],
        "start_month": ["2026-08", "2026-09", "2026-09", "2026-08", "2026-09", "2026-09"],
    })


def test_responder_rates_by_hand():
    rates = responder_rates(_summary()).set_index("rule")
    # 5 measurable; absolute: both x2 + absolute = 3; %: both x2 + % = 3; either 4; both 2
    assert rates.loc["MCID: >= 2 points better", "n_responders"] == 3
    assert rates.loc["MCID: >= 30 % better", "n_responders"] == 3
    assert rates.loc["MCID: either rule (responder)", "n_responders"] == 4
    assert rates.loc["MCID: both rules", "n_responders"] == 2
    assert rates.loc["RCI: reliable improvement", "n_responders"] == 2
    assert rates.loc["RCI: no reliable change", "n_responders"] == 2
    assert rates.loc["RCI: reliable deterioration", "n_responders"] == 1
    assert (rates["n_evaluable"] == 5).all() and (rates["n_not_evaluable"] == 1).all()
    assert rates.loc["MCID: either rule (responder)", "percent"] == pytest.approx(80.0)
    ref = proportion_confint(4, 5, method="wilson")
    assert rates.loc["MCID: either rule (responder)", "ci_low"] == pytest.approx(ref[0] * 100)
    assert rates.loc["MCID: either rule (responder)", "ci_high"] == pytest.approx(ref[1] * 100)
    # the three RCI categories partition the measurable patients
    assert rates.loc[rates["kind"] == "RCI", "n_responders"].sum() == 5


def test_responder_rates_with_nobody_measurable_are_nan_not_zero():
    rates = responder_rates(_summary().iloc[[5]])
    assert (rates["n_evaluable"] == 0).all()
    assert rates["percent"].isna().all() and rates["ci_low"].isna().all()


def test_select_group_and_small_groups():
    s = _summary()
    assert len(select_group(s, physio_groups=["phy-a"])) == 3
    assert len(select_group(s, start_months=["2026-09"])) == 4
    assert len(select_group(s, physio_groups=["phy-b"], start_months=["2026-09"])) == 2
    assert len(select_group(s)) == 6 and len(select_group(s, physio_groups=[])) == 6
    assert too_small(MIN_GROUP_SIZE - 1) and not too_small(MIN_GROUP_SIZE)


@pytest.fixture(scope="module")
def sample():
    return load_cohort()


@pytest.fixture(scope="module")
def canonical(sample):
    return as_canonical(pseudonymise_cohort(sample, KEY))


def test_as_canonical_keeps_programme_time_and_hides_identity(sample, canonical):
    assert (canonical.patients["programme_start"] == SYNTHETIC_ORIGIN).all()
    assert canonical.patients["patient_id"].str.startswith("pat-").all()
    assert canonical.patients["physio_id"].str.startswith("phy-").all()
    assert not set(sample.patients["patient_id"]) & set(canonical.patients["patient_id"])
    # daily pain in programme days is the same, patient by patient
    a = daily_pain(sample.pain, sample.patients)
    a["patient_id"] = pseudonymise_ids(a["patient_id"], KEY)
    b = daily_pain(canonical.pain, canonical.patients)
    merged = a.merge(b, on=["patient_id", "day"], suffixes=("_id", "_ps"))
    assert len(merged) == len(a) == len(b)
    np.testing.assert_allclose(merged["nprs_mean_id"], merged["nprs_mean_ps"])
    # times of day survive: 20:00 on day 3 -> origin + 3 days 20:00
    assert (canonical.pain["recorded_at"].dt.normalize() >= SYNTHETIC_ORIGIN).all()
    assert len(canonical.sessions) == len(sample.sessions)
    assert len(canonical.prescriptions) == len(sample.prescriptions)


def test_time_to_mcid_equals_the_identified_curve(sample, canonical):
    identified = time_to_events(sample.pain, sample.patients)
    kmf = KaplanMeierFitter().fit(  # lifelines directly, on the identified data (excluded rows dropped)
        identified["time_to_mcid_days"].dropna(),
        identified.loc[identified["time_to_mcid_days"].notna(), "mcid_event"].astype(bool))
    km = time_to_mcid(canonical)
    assert km.median == pytest.approx(kmf.median_survival_time_)
    assert km.n == int(identified["time_to_mcid_days"].notna().sum())
    assert km.n_events == int(identified["mcid_event"].fillna(False).astype(bool).sum())


def test_time_to_mcid_of_a_group(canonical):
    some = list(canonical.patients["patient_id"].iloc[:10])
    km = time_to_mcid(canonical, some)
    assert km.n + km.n_excluded == 10
    with pytest.raises(NotEnoughDataError, match="choose another"):
        time_to_mcid(canonical, ["pat-0000000000000000"])
