"""The benchmark keeps working: a smoke run at 300 patients, and the checks that guard its timings.

No timing is asserted here (timings belong to ``python -m benchmarks.run``); the
tests check that the run writes its JSON and Markdown, that the equality checks
ran and passed, and that the comparison really rejects a wrong answer.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.timeline import patient_codes
from benchmarks import reference
from benchmarks.cohort_gen import BENCH_SNAPSHOT, benchmark_cohort
from benchmarks.profile import component_timer
from benchmarks.run import main


@pytest.fixture(scope="module")
def small_cohort():
    return benchmark_cohort(60, seed=7)


def _aggregates() -> reference.Aggregates:
    weekly = pd.DataFrame({
        "patient_id": ["P1", "P1", "P2"], "week": [1, 2, 1],
        "sessions_prescribed": [5.0, 29 / 7, 7.0], "sessions_completed": [4, 5, 0],
        "adherence_rate": [0.8, 1.0, 0.0],
    })
    patients = pd.DataFrame({"patient_id": ["P1", "P2"], "adherence": [0.9, 0.0],
                             "ols_slope_per_week": [-0.35, np.nan], "theil_sen_slope_per_week": [-0.4, np.nan]})
    return reference.Aggregates(weekly, patients)


def test_compare_accepts_identical_and_nan_where_nan():
    result = reference.compare(_aggregates(), _aggregates())
    assert result["ok"]
    assert result["weekly"]["rows_unmatched"] == 0


def test_compare_rejects_adherence_one_ulp_off():
    other = _aggregates()
    other.weekly.loc[0, "adherence_rate"] = np.nextafter(0.8, 1.0)  # the smallest possible difference
    result = reference.compare(_aggregates(), other)
    assert not result["ok"]
    assert result["weekly"]["adherence_rate_mismatches"] == 1


def test_compare_rejects_a_missing_week_and_a_nan_on_one_side():
    other = _aggregates()
    other = reference.Aggregates(other.weekly.iloc[:2], other.patients)
    assert reference.compare(_aggregates(), other)["weekly"]["rows_unmatched"] == 1
    nan_one_side = _aggregates()
    nan_one_side.patients.loc[0, "ols_slope_per_week"] = np.nan
    assert not reference.compare(_aggregates(), nan_one_side)["ok"]


@pytest.mark.parametrize(("delta", "ok"), [(1e-12, True), (1e-8, False)])
def test_compare_slopes_to_1e_9(delta, ok):
    other = _aggregates()
    other.patients.loc[0, "theil_sen_slope_per_week"] += delta
    assert reference.compare(_aggregates(), other)["ok"] is ok


def test_realistic_shape_follows_every_patient_twelve_weeks(small_cohort):
    c = small_cohort
    # every programme starts at least 84 days before the snapshot and nothing is logged on or after it
    start = c.patients["programme_start"]
    assert (pd.Timestamp(BENCH_SNAPSHOT) - start).dt.days.min() >= 84
    assert c.sessions["performed_at"].max() < pd.Timestamp(BENCH_SNAPSHOT)
    # a daily programme (seed text: "stretched every day") of at least four exercise rows
    assert set(c.prescriptions["sessions_per_week"].unique()) == {7}
    slots = c.prescriptions.groupby("patient_id")[["exercise", "side"]].apply(lambda f: len(f.drop_duplicates()))
    assert slots.min() >= 4
    rows_per_session = len(c.sessions) / c.sessions.groupby(["patient_id", "performed_at"]).ngroups
    assert rows_per_session > 4


def test_references_agree_with_the_project_on_a_small_cohort(small_cohort, tmp_path):
    pytest.importorskip("duckdb")
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = {}
    for name in ("patients", "prescriptions", "sessions", "pain"):
        paths[name] = tmp_path / f"{name}.parquet"
        pq.write_table(pa.Table.from_pandas(getattr(small_cohort, name), preserve_index=False), paths[name])
    as_of = pd.Timestamp(BENCH_SNAPSHOT)
    ours = reference.project_aggregates(small_cohort, as_of)
    assert reference.compare(ours, reference.duckdb_aggregates(paths, as_of, threads=1))["ok"]
    assert reference.compare(reference.loop_aggregates(small_cohort, as_of), ours)["ok"]


def test_sample_shape_with_in_progress_weeks_agrees_too(tmp_path):
    # the sample shape has patients mid-programme at the snapshot: pro-rated and "not yet" weeks
    pytest.importorskip("duckdb")
    import pyarrow as pa
    import pyarrow.parquet as pq

    cohort = benchmark_cohort(80, seed=3, shape="sample")
    paths = {}
    for name in ("patients", "prescriptions", "sessions", "pain"):
        paths[name] = tmp_path / f"{name}.parquet"
        pq.write_table(pa.Table.from_pandas(getattr(cohort, name), preserve_index=False), paths[name])
    as_of = pd.Timestamp(BENCH_SNAPSHOT) - pd.Timedelta(days=10)
    ours = reference.project_aggregates(cohort, as_of)
    assert (ours.weekly["adherence_rate"].isna()).any()  # "not yet" weeks exist
    assert reference.compare(ours, reference.duckdb_aggregates(paths, as_of, threads=1))["ok"]


def test_patient_codes_categorical_fast_path_matches_strings():
    patients = pd.DataFrame({"patient_id": pd.array(["P3", "P1", "P2"], dtype="string")})
    ids = pd.Series(["P1", "P9", None, "P3", "P1", "P2"], dtype="string")
    expected = np.array([1, -1, -1, 0, 1, 2])  # registry rows; P9 unknown, None missing
    assert patient_codes(ids, patients).tolist() == expected.tolist()
    assert patient_codes(ids.astype("category"), patients).tolist() == expected.tolist()


def test_the_component_timer_times_each_stage_of_the_summary_from_outside(small_cohort):
    from analysis import cohort as cohort_module
    from analysis.cohort import cohort_summary

    plain = cohort_summary(small_cohort, as_of=BENCH_SNAPSHOT)
    with component_timer() as seconds:
        timed = cohort_summary(small_cohort, as_of=BENCH_SNAPSHOT)
    # moved from tests/test_cohort.py, where the summary carried attrs["timings_s"]
    assert set(seconds) >= {"adherence_summary", "pain_trends", "safety_flags_and_flare_ratings", "score_proms",
                            "assembly"}
    assert all(v >= 0 for v in seconds.values())
    pd.testing.assert_frame_equal(timed, plain)  # timing changes nothing
    assert "timings_s" not in timed.attrs
    assert cohort_module.adherence_summary.__module__ == "analysis.adherence"  # the wrappers are gone


@pytest.mark.slow
def test_smoke_run_writes_json_and_markdown(tmp_path):
    pytest.importorskip("duckdb")
    out = tmp_path / "out"
    status = main(["--patients", "300", "--scaling", "", "--repeats", "1", "--loop-patients", "20",
                   "--cache", str(tmp_path / "cache"), "--out", str(out), "--quiet"])
    assert status == 0
    results = json.loads((out / "results.json").read_text())
    markdown = (out / "results.md").read_text()
    # the equality checks ran, before timing, and passed
    assert {"aggregates_vs_duckdb", "summary_vs_duckdb", "loop_vs_aggregates", "ingest_vs_read_csv"} <= set(
        results["checks"])
    assert all(part["ok"] for part in results["checks"].values())
    assert results["checks"]["aggregates_vs_duckdb"]["weekly"]["rows"] > 0
    # every step measured (or the store reported as unavailable) and the table written
    assert {"ingest", "summary", "store"} <= set(results["steps"])
    assert results["steps"]["summary"]["loop"]["extrapolated"] is True
    assert results["machine"]["cores"] >= 1
    assert "| step |" in markdown and "cohort_summary" in markdown
    assert results["cohorts"]["300"]["rows"]["sessions"] > 0
