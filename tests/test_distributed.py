"""The Dask path gives the same numbers as pandas (analysis.distributed).

The reference for every comparison is the pandas function of the library run
on the whole cohort in one process; the grouped-sum statistics are checked
against numpy's least squares and plain pandas groupby means.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from analysis.cohort import cohort_summary, sort_for_triage, weekly_progress  # noqa: E402
from analysis.distributed import (  # noqa: E402
    DaskCohort,
    cohort_summary_dask,
    grouped_pain_dask,
    local_cluster,
    patient_week_table_dask,
    read_parquet_cohort,
    weekly_tables_dask,
    write_parquet_cohort,
)
from analysis.errors import IngestError  # noqa: E402
from analysis.models import patient_week_table  # noqa: E402
from analysis.sample_data import SNAPSHOT_DATE, load_cohort  # noqa: E402
from tests.conftest import SAMPLE_DIR  # noqa: E402


@pytest.fixture(scope="module")
def cohort():
    return load_cohort(SAMPLE_DIR)


@pytest.fixture(scope="module")
def dataset(cohort, tmp_path_factory):
    """The sample cohort as a Parquet dataset by patient: 4 files of whole patients per table."""
    root = tmp_path_factory.mktemp("parquet_cohort")
    write_parquet_cohort(cohort, root, patients_per_partition=16)
    return root


@pytest.fixture(scope="module")
def client():
    """A 2-worker LocalCluster in separate processes (starts in about 2-4 s here)."""
    c = local_cluster(n_workers=2, threads_per_worker=1, processes=True)
    yield c
    c.close()
    c.cluster.close()


def by(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    out.attrs = {}
    return out


def test_dataset_holds_whole_patients_per_file(cohort, dataset) -> None:
    files = sorted((dataset / "sessions").glob("part-*.parquet"))
    assert len(files) == 4  # 60 patients / 16 per block = 4 blocks
    seen: set[str] = set()
    for f in files:
        ids = set(pd.read_parquet(f)["patient_id"])
        assert not ids & seen  # a patient never spans two files
        seen |= ids
    assert seen == set(cohort.sessions["patient_id"])
    dc = read_parquet_cohort(dataset)
    assert dc.npartitions == 4
    assert all(t.divisions == dc.patients.divisions for t in dc.tables().values())


def test_cohort_summary_on_a_local_cluster_equals_pandas(cohort, dataset, client) -> None:
    assert len(client.scheduler_info()["workers"]) == 2
    expected = by(cohort_summary(cohort), ["patient_id"])
    got = by(cohort_summary_dask(read_parquet_cohort(dataset)).compute(), ["patient_id"])
    pd.testing.assert_frame_equal(got, expected)
    # the pandas triage order is restored by sorting
    ordered = sort_for_triage(got.sort_values("patient_id", kind="stable"))
    assert ordered["patient_id"].tolist() == cohort_summary(cohort)["patient_id"].tolist()


def test_weekly_tables_on_a_local_cluster_equal_pandas(cohort, dataset, client) -> None:
    expected = by(weekly_progress(cohort, as_of=SNAPSHOT_DATE), ["patient_id", "week"])
    got = by(weekly_tables_dask(read_parquet_cohort(dataset), as_of=SNAPSHOT_DATE).compute(), ["patient_id", "week"])
    pd.testing.assert_frame_equal(got, expected)


def test_as_of_is_resolved_for_the_whole_cohort_not_per_partition(cohort) -> None:
    # with as_of=None each partition would otherwise use its own last entry; pandas uses the cohort's
    dc = DaskCohort.from_pandas(cohort, npartitions=5)
    got = by(weekly_tables_dask(dc).compute(scheduler="sync"), ["patient_id", "week"])
    expected = by(weekly_progress(cohort), ["patient_id", "week"])
    pd.testing.assert_frame_equal(got, expected)


def test_patient_week_table_is_centred_on_the_whole_cohort(cohort) -> None:
    dc = DaskCohort.from_pandas(cohort, npartitions=3)
    got = patient_week_table_dask(dc, as_of=SNAPSHOT_DATE)
    expected = patient_week_table(cohort, as_of=SNAPSHOT_DATE)
    assert got.attrs["adherence_centre"] == pytest.approx(expected.attrs["adherence_centre"], abs=1e-15)
    pd.testing.assert_frame_equal(by(got, ["patient_id", "week"]), by(expected, ["patient_id", "week"]))


def test_grouped_sums_are_exact_when_patients_are_split_across_partitions(cohort) -> None:
    import dask.dataframe as dd

    # rows in arbitrary order, 7 partitions: most patients span several partitions
    shuffled = cohort.pain.sample(frac=1.0, random_state=1).reset_index(drop=True)
    pain = dd.from_pandas(shuffled, npartitions=7, sort=False)
    weekly, slopes = grouped_pain_dask(pain, cohort.patients, as_of=SNAPSHOT_DATE)

    # reference: plain pandas, daily means then numpy least squares per patient
    start = cohort.patients.set_index("patient_id")["programme_start"]
    p = cohort.pain.assign(day=(cohort.pain["recorded_at"].dt.normalize()
                                - cohort.pain["patient_id"].map(start)).dt.days)
    p = p[p["day"] >= 0]
    daily = p.groupby(["patient_id", "day"])["nprs"].mean().astype(float).reset_index()
    for pid in ["P001", "P013", "P048"]:
        d = daily[daily["patient_id"] == pid]
        slope = np.polyfit(d["day"].to_numpy(float), d["nprs"].to_numpy(), 1)[0] * 7
        got = slopes.set_index("patient_id").loc[pid]
        assert got["ols_slope_per_week"] == pytest.approx(slope, rel=1e-9)
        assert got["n_days"] == len(d)
    wk = daily.assign(week=daily["day"] // 7 + 1).groupby(["patient_id", "week"])["nprs"].agg(["mean", "size"])
    merged = weekly.set_index(["patient_id", "week"]).join(wk, how="outer")
    np.testing.assert_allclose(merged["nprs_mean"], merged["mean"], rtol=1e-12)
    assert (merged["days_rated"] == merged["size"]).all()


def test_unindexed_tables_are_rejected_with_a_fix(cohort) -> None:
    import dask.dataframe as dd

    dc = DaskCohort.from_pandas(cohort, npartitions=2)
    flat = dd.from_pandas(cohort.sessions, npartitions=2)  # patient_id is a column, not the index
    broken = DaskCohort(dc.patients, dc.prescriptions, flat.clear_divisions(), dc.pain, dc.proms)
    with pytest.raises(IngestError, match="set_index"):
        broken.aligned()


def test_missing_table_directory_names_the_fix(tmp_path) -> None:
    with pytest.raises(IngestError, match="write-parquet"):
        read_parquet_cohort(tmp_path)


def test_a_table_without_rows_round_trips(cohort, tmp_path) -> None:
    # a clinic without questionnaires: the proms directory holds no file, and the summary still matches pandas
    from analysis.schema import CohortTables, empty_frame

    no_proms = CohortTables(cohort.patients, cohort.prescriptions, cohort.sessions, cohort.pain, empty_frame("proms"))
    write_parquet_cohort(no_proms, tmp_path, patients_per_partition=25)
    assert not list((tmp_path / "proms").glob("*.parquet"))
    dc = read_parquet_cohort(tmp_path)
    assert dc.proms.divisions == dc.patients.divisions
    got = by(cohort_summary_dask(dc, as_of=SNAPSHOT_DATE).compute(scheduler="sync"), ["patient_id"])
    expected = by(cohort_summary(no_proms, as_of=SNAPSHOT_DATE), ["patient_id"])
    pd.testing.assert_frame_equal(got, expected)
    assert got["odi_latest"].isna().all()
    from_memory = DaskCohort.from_pandas(no_proms, npartitions=2)
    assert from_memory.proms.known_divisions
