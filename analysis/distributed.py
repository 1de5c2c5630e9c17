"""The cohort tables on a Dask cluster: the same numbers as pandas, for cohorts beyond one machine.

A cohort is distributed as five Dask DataFrames (:class:`DaskCohort`), one per
canonical table, **indexed by** ``patient_id`` **with known divisions**: every
partition holds whole patients, and partition *i* of every table holds the same
range of patient ids. :func:`write_parquet_cohort` writes such a dataset (one
directory per table, one Parquet file per block of patients) and
:func:`read_parquet_cohort` reads it back lazily.

Two ways of computing, and which statistics are exact in each
-------------------------------------------------------------

**Per partition of whole patients** (:func:`map_patients`): the pandas
function of the library (:func:`analysis.cohort.cohort_summary`,
:func:`analysis.cohort.weekly_progress`, :func:`analysis.outcomes.time_to_events`,
...) runs unchanged on each partition, with the analysis date ``as_of``
resolved once for the whole cohort first. Every per-patient statistic of
rehabtrack depends only on that patient's rows and the settings, so the
result is **identical** to pandas on the whole cohort - including the
statistics that cannot be assembled from partial sums of arbitrary row
chunks: Theil-Sen slopes and Sen's CI (medians of all pairs of a patient's
days), Kendall's tau and the Mann-Kendall p-value, the 7-day diary windows and
recovery runs, time to MCID, the running-median flare baseline and the
acute:chronic ratio, streaks, and the safety flags. This is why the partitions
must hold whole patients.

**Grouped sums** (:func:`grouped_pain_dask`): weekly mean pain and the OLS pain
slope are sums over a patient's ratings (sum of x, y, xy, xx and n per patient;
the closed form ``slope = (n Sxy - Sx Sy) / (n Sxx - Sx^2)``), so Dask's own
``groupby(...).sum()`` computes them **exactly from any partitioning** of the
rows, patients split across partitions included. Session adherence is the same
kind of statistic (distinct session days per week over the prescription), but
its prescription calendar is per patient, so it is computed per partition of
whole patients with :func:`map_patients`.

**Not distributable exactly**: the linear mixed model
(:mod:`analysis.models`) couples all patients through shared variance
components; per-partition fits would not give the cohort's estimates. Its
input, the patient-week table, is built per partition
(:func:`patient_week_table_dask`) and collected (one row per patient-week:
1.2 M rows at 100,000 patients x 12 weeks), and the model is fitted on one
machine.

Dask is imported lazily: the dashboard and the pandas path never need it.
On one 2-core machine Dask is slower than pandas (measured on this machine:
3-16x); it is for cohorts that do not fit one machine's memory.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.errors import IngestError
from analysis.schema import TABLES, CohortTables, conform, empty_frame
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.timeline import DateLike, week_of_day

if TYPE_CHECKING:  # pragma: no cover
    import dask.dataframe as dd

__all__ = [
    "TABLE_NAMES",
    "DaskCohort",
    "write_parquet_cohort",
    "read_parquet_cohort",
    "resolve_as_of_dask",
    "map_patients",
    "cohort_summary_dask",
    "weekly_tables_dask",
    "patient_week_table_dask",
    "grouped_pain_dask",
    "local_cluster",
]

logger = logging.getLogger(__name__)

#: The canonical tables in the order :class:`CohortTables` takes them.
TABLE_NAMES: tuple[str, ...] = ("patients", "prescriptions", "sessions", "pain", "proms")

#: The time column of each table with one (for ``as_of``).
_TIME_COLUMNS = {"sessions": "performed_at", "pain": "recorded_at"}


@dataclass(frozen=True)
class DaskCohort:
    """The five canonical tables as Dask DataFrames indexed by ``patient_id``.

    Attributes
    ----------
    patients, prescriptions, sessions, pain, proms
        Dask DataFrames with the canonical columns of :mod:`analysis.schema` except
        ``patient_id``, which is the index; sorted by it, with known divisions.
    """

    patients: dd.DataFrame
    prescriptions: dd.DataFrame
    sessions: dd.DataFrame
    pain: dd.DataFrame
    proms: dd.DataFrame

    @classmethod
    def from_pandas(cls, cohort: CohortTables, *, npartitions: int = 2) -> DaskCohort:
        """Distribute an in-memory cohort (tests, demonstrations).

        Parameters
        ----------
        cohort
            The canonical tables.
        npartitions
            Number of partitions of the ``patients`` table; the other tables are
            split at the same patient ids.

        Returns
        -------
        DaskCohort
            Aligned tables (see :func:`map_patients`).
        """
        import dask.dataframe as dd

        frames = {name: _indexed(getattr(cohort, name)) for name in TABLE_NAMES}
        base = dd.from_pandas(frames["patients"], npartitions=max(int(npartitions), 1), sort=True)
        divisions = _covering_divisions(base.divisions, frames.values())
        out = {}
        for name, frame in frames.items():
            if len(frame) == 0:
                out[name] = _empty_table(name, divisions)
                continue
            ddf = dd.from_pandas(frame, npartitions=1, sort=True)
            out[name] = ddf.repartition(divisions=divisions, force=True)
        return cls(**out)

    def tables(self) -> dict[str, dd.DataFrame]:
        """The five tables by name."""
        return {name: getattr(self, name) for name in TABLE_NAMES}

    @property
    def npartitions(self) -> int:
        """Number of partitions (the same in every table once aligned)."""
        return int(self.patients.npartitions)

    def aligned(self) -> DaskCohort:
        """The tables repartitioned to common divisions, so partition *i* holds the same patients everywhere.

        Raises
        ------
        IngestError
            If a table has unknown divisions (not indexed and sorted by ``patient_id``).
        """
        tables = self.tables()
        unknown = [name for name, t in tables.items() if not t.known_divisions]
        if unknown:
            raise IngestError(
                f"the table(s) {', '.join(unknown)} have no known patient divisions: index them by patient_id "
                "and sort (ddf.set_index('patient_id')), or read them with read_parquet_cohort()"
            )
        divisions = tables["patients"].divisions
        if all(t.divisions == divisions for t in tables.values()):
            return self
        first = min(t.divisions[0] for t in tables.values() if t.divisions[0] is not None)
        last = max(t.divisions[-1] for t in tables.values() if t.divisions[-1] is not None)
        common = (min(first, divisions[0]), *divisions[1:-1], max(last, divisions[-1]))
        return DaskCohort(**{name: t.repartition(divisions=common, force=True) for name, t in tables.items()})


def _empty_part(_: int, table: str) -> pd.DataFrame:
    """An empty canonical ``table`` indexed by ``patient_id`` (one partition of a table with no rows)."""
    return _indexed(empty_frame(table))


def _empty_table(table: str, divisions: tuple[Any, ...]) -> dd.DataFrame:
    """A table with no rows, partitioned like ``divisions`` (so it aligns with the other tables)."""
    import functools

    import dask.dataframe as dd

    return dd.from_map(
        functools.partial(_empty_part, table=table), range(len(divisions) - 1),
        divisions=divisions, meta=_indexed(empty_frame(table)),
    )


def _indexed(frame: pd.DataFrame) -> pd.DataFrame:
    """A canonical table indexed by ``patient_id`` (string), sorted stably."""
    out = frame.copy()
    out["patient_id"] = out["patient_id"].astype("string")
    return out.set_index("patient_id").sort_index(kind="stable")


def _covering_divisions(divisions: tuple[Any, ...], frames: Any) -> tuple[Any, ...]:
    """``divisions`` widened to cover the index range of every frame."""
    lows = [f.index.min() for f in frames if len(f)]
    highs = [f.index.max() for f in frames if len(f)]
    first = min([divisions[0], *lows])
    last = max([divisions[-1], *highs])
    return (first, *divisions[1:-1], last)


# =========================================================================== Parquet dataset


def write_parquet_cohort(
    cohort: CohortTables, directory: str | Path, *, patients_per_partition: int = 1000
) -> dict[str, Path]:
    """Write a cohort as a Parquet dataset partitioned by patient.

    Parameters
    ----------
    cohort
        The canonical tables.
    directory
        Created if missing. Each table goes to ``<directory>/<table>/`` as files
        ``part-00000.parquet``, ``part-00001.parquet``, ... Existing ``part-*``
        files there are removed first.
    patients_per_partition
        Patients per file (a block of consecutive patient ids in sorted order).

    Returns
    -------
    dict of str to pathlib.Path
        The directory written for each table.

    Notes
    -----
    Every file holds whole patients, rows sorted by ``patient_id`` (then the
    table's natural key), so that Dask can read the divisions from the Parquet
    statistics of ``patient_id`` and block *k* of every table holds the same
    patients. Blocks with no rows in a table are not written for it.
    """
    if patients_per_partition < 1:
        raise ValueError("patients_per_partition must be at least 1")
    root = Path(directory)
    ids = np.sort(cohort.patients["patient_id"].astype("string").dropna().unique().to_numpy(dtype=object))
    written: dict[str, Path] = {}
    for name in TABLE_NAMES:
        frame = getattr(cohort, name)
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("part-*.parquet"):
            old.unlink()
        key = [c for c in TABLES[name].key if c in frame.columns]
        ordered = frame.assign(patient_id=frame["patient_id"].astype("string")).sort_values(
            ["patient_id", *[c for c in key if c != "patient_id"]], kind="stable"
        )
        pid = ordered["patient_id"].to_numpy(dtype=object, na_value="")
        # block of each row: patients_per_partition consecutive registry ids per block; rows of ids
        # outside the registry go with the block their id sorts into
        block = np.searchsorted(ids, pid, side="right") - 1
        block = np.clip(block, 0, None) // patients_per_partition
        for k in np.unique(block):
            part = ordered.loc[block == k].reset_index(drop=True)
            part.to_parquet(folder / f"part-{int(k):05d}.parquet", index=False)
        written[name] = folder
    return written


def read_parquet_cohort(directory: str | Path) -> DaskCohort:
    """Read a dataset written by :func:`write_parquet_cohort` as a :class:`DaskCohort` (lazily).

    Parameters
    ----------
    directory
        Holds one sub-directory of Parquet files per canonical table.

    Returns
    -------
    DaskCohort
        The tables indexed by ``patient_id`` with divisions read from the Parquet
        statistics, aligned (:meth:`DaskCohort.aligned`).

    Raises
    ------
    IngestError
        If a table's directory is missing, or the patients table has no Parquet file
        (the other tables may be empty directories: a table without rows).
    """
    import dask.dataframe as dd

    root = Path(directory)
    tables: dict[str, Any] = {}
    for name in TABLE_NAMES:
        folder = root / name
        if not folder.is_dir() or not (name != "patients" or any(folder.glob("*.parquet"))):
            raise IngestError(
                f"no Parquet files for the {name} table in {folder}: write the dataset with "
                "`python -m analysis.distributed write-parquet <csv directory> <parquet directory>`",
                source=str(root),
            )
        # a table with no rows (e.g. no questionnaires) is a directory without files
        tables[name] = (
            dd.read_parquet(str(folder), index="patient_id", calculate_divisions=True)
            if any(folder.glob("*.parquet"))
            else None
        )
    divisions = tables["patients"].divisions
    for name, table in tables.items():
        if table is None:
            tables[name] = _empty_table(name, divisions)
    return DaskCohort(**tables).aligned()


# =========================================================================== mapping pandas functions


def _partition_cohort(*frames: pd.DataFrame) -> CohortTables:
    """The canonical tables of one partition (index back to a ``patient_id`` column)."""
    tables = {}
    for name, frame in zip(TABLE_NAMES, frames, strict=True):
        flat = frame.reset_index()
        if "index" in flat.columns and "patient_id" not in flat.columns:
            flat = flat.rename(columns={"index": "patient_id"})
        tables[name] = conform(flat, name).reset_index(drop=True)
    return CohortTables(**tables)


def _apply(
    patients: pd.DataFrame,
    prescriptions: pd.DataFrame,
    sessions: pd.DataFrame,
    pain: pd.DataFrame,
    proms: pd.DataFrame,
    apply_func: Callable[[CohortTables], pd.DataFrame],
) -> pd.DataFrame:
    out = apply_func(_partition_cohort(patients, prescriptions, sessions, pain, proms))
    out = out.reset_index(drop=True)
    out.attrs = {}
    return out


def resolve_as_of_dask(cohort: DaskCohort, as_of: DateLike | None = None) -> pd.Timestamp:
    """The analysis date of a distributed cohort, resolved once for all partitions.

    Parameters
    ----------
    cohort
        The distributed tables.
    as_of
        A date, or ``None`` for the day after the last session or pain entry in the
        whole cohort (as :meth:`analysis.schema.CohortTables.as_of`).

    Returns
    -------
    pandas.Timestamp
        Midnight of the analysis date (today when there is no entry at all).
    """
    if as_of is not None:
        return pd.Timestamp(as_of).normalize()
    from dask.base import compute

    latest = compute(cohort.sessions["performed_at"].max(), cohort.pain["recorded_at"].max())
    latest = [pd.Timestamp(t) for t in latest if t is not None and pd.notna(t)]
    if not latest:
        return pd.Timestamp.today().normalize()
    return max(latest).normalize() + pd.Timedelta(days=1)


def map_patients(
    func: Callable[[CohortTables], pd.DataFrame],
    cohort: DaskCohort,
    *,
    meta: pd.DataFrame | None = None,
) -> dd.DataFrame:
    """Run a pandas cohort function on every partition of whole patients.

    Parameters
    ----------
    func
        ``func(CohortTables) -> DataFrame`` whose rows for a patient depend only on
        that patient's rows (every per-patient function of rehabtrack). Resolve
        ``as_of`` before (:func:`resolve_as_of_dask`) and bind it into ``func``: a
        partition's own last entry is not the cohort's.
    cohort
        The distributed tables (aligned first if needed).
    meta
        An empty frame with the output's columns and dtypes; default
        ``func(CohortTables.empty())``.

    Returns
    -------
    dask.dataframe.DataFrame
        The concatenation of ``func`` over the partitions (lazy; a default index
        per partition). Rows come in partition order, each partition in ``func``'s
        order: sort after ``compute()`` to compare with pandas.
    """
    import dask.dataframe as dd

    aligned = cohort.aligned()
    if meta is None:
        meta = func(CohortTables.empty()).iloc[:0].reset_index(drop=True)
        meta.attrs = {}
    t = aligned.tables()
    return dd.map_partitions(
        _apply,
        *(t[name] for name in TABLE_NAMES),
        apply_func=func,
        meta=meta,
        align_dataframes=False,
        enforce_metadata=False,
        clear_divisions=True,
    )


class _Bound:
    """A picklable ``func(cohort, **kwargs)`` with bound keyword arguments (for process workers)."""

    def __init__(self, func: Callable[..., pd.DataFrame], **kwargs: Any) -> None:
        self.func = func
        self.kwargs = kwargs

    def __call__(self, cohort: CohortTables) -> pd.DataFrame:
        return self.func(cohort, **self.kwargs)


def cohort_summary_dask(
    cohort: DaskCohort, *, as_of: DateLike | None = None, settings: Settings = DEFAULT_SETTINGS
) -> dd.DataFrame:
    """:func:`analysis.cohort.cohort_summary` on a distributed cohort.

    Parameters
    ----------
    cohort
        The distributed tables (whole patients per partition).
    as_of
        Analysis date; ``None`` = the last session or pain entry of the whole cohort.
    settings
        Thresholds in use.

    Returns
    -------
    dask.dataframe.DataFrame
        The columns of :func:`analysis.cohort.cohort_summary`, one row per patient,
        identical values; in triage order within each partition only
        (:func:`analysis.cohort.sort_for_triage` of the computed rows in
        ``patient_id`` order restores the pandas order). No ``attrs``.

    Notes
    -----
    Exact: every column is a per-patient statistic computed on whole patients
    (see the module docstring for which could also be built from grouped sums).
    """
    from analysis.cohort import cohort_summary

    when = resolve_as_of_dask(cohort, as_of)
    return map_patients(_Bound(cohort_summary, as_of=when, settings=settings), cohort)


def weekly_tables_dask(
    cohort: DaskCohort, *, as_of: DateLike | None = None, settings: Settings = DEFAULT_SETTINGS
) -> dd.DataFrame:
    """:func:`analysis.cohort.weekly_progress` (weekly adherence and pain) on a distributed cohort.

    Parameters
    ----------
    cohort
        The distributed tables (whole patients per partition).
    as_of
        Analysis date; ``None`` = the last session or pain entry of the whole cohort.
    settings
        Thresholds in use.

    Returns
    -------
    dask.dataframe.DataFrame
        The columns of :func:`analysis.cohort.weekly_progress`, one row per
        patient-week, identical values, sorted by patient and week within each
        partition.
    """
    from analysis.cohort import weekly_progress

    when = resolve_as_of_dask(cohort, as_of)
    return map_patients(_Bound(weekly_progress, as_of=when, settings=settings), cohort)


def patient_week_table_dask(
    cohort: DaskCohort,
    *,
    as_of: DateLike | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    min_days_rated: int = 1,
    adherence_unit: float = 0.10,
) -> pd.DataFrame:
    """The patient-week table of :func:`analysis.models.patient_week_table`, built distributed and collected.

    Parameters
    ----------
    cohort
        The distributed tables.
    as_of, settings, min_days_rated, adherence_unit
        As in :func:`analysis.models.patient_week_table`.

    Returns
    -------
    pandas.DataFrame
        The same columns and values as the pandas function on the whole cohort,
        sorted by patient and week, with ``attrs["adherence_centre"]`` and
        ``attrs["adherence_unit"]``: ready for
        :func:`analysis.models.adherence_pain_model` (``data=...``).

    Notes
    -----
    The centring of adherence uses the mean over *all* patients, so each
    partition builds the table uncentred and the centre is applied after
    collecting (a partition's own mean would differ).
    """
    from analysis.models import patient_week_table

    when = resolve_as_of_dask(cohort, as_of)
    func = _Bound(
        patient_week_table, as_of=when, settings=settings, min_days_rated=min_days_rated,
        adherence_unit=adherence_unit, adherence_centre=0.0,
    )
    table = map_patients(func, cohort).compute()
    table = table.sort_values(["patient_id", "week"], kind="stable").reset_index(drop=True)
    per_patient = table.drop_duplicates("patient_id")["adherence_rate"]
    centre = float(per_patient.mean()) if len(per_patient) else 0.0
    table["adherence"] = ((table["adherence_rate"] - centre) / adherence_unit).astype(np.float64)
    table.attrs["adherence_centre"] = centre
    table.attrs["adherence_unit"] = adherence_unit
    return table


# =========================================================================== grouped sums


def grouped_pain_dask(
    pain: dd.DataFrame, patients: pd.DataFrame, *, as_of: DateLike | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Weekly mean pain and the OLS pain slope from grouped sums (exact for any partitioning).

    Parameters
    ----------
    pain
        Canonical ``pain`` rows as a Dask DataFrame, with ``patient_id`` as a column
        or as the index; rows of one patient may be spread over partitions.
    patients
        Canonical ``patients`` table in memory (``patient_id``, ``programme_start``):
        one row per patient, small next to the diaries.
    as_of
        Ratings after this day are ignored (default: all ratings).

    Returns
    -------
    weekly : pandas.DataFrame
        One row per patient and programme week with a rating, sorted by both:
        ``patient_id`` (string), ``week`` (int64), ``nprs_mean`` (float64, points:
        mean of the week's daily means), ``n_ratings`` (int64), ``days_rated`` (int64).
    slopes : pandas.DataFrame
        One row per patient with a rating: ``patient_id`` (string), ``n_days`` (int64,
        rated programme days), ``ols_slope_per_week`` (float64, points/week; NaN
        with fewer than 2 days or no spread in days).

    Notes
    -----
    Two grouped sums: per (patient, day) the sum and count of ratings (the daily
    mean), then per (patient, week) and per patient the sums
    ``n, Sx, Sy, Sxx, Sxy`` of day x and daily mean y. The OLS slope is
    ``(n Sxy - Sx Sy) / (n Sxx - Sx^2)`` x 7, the same estimator as
    :func:`analysis.trends.pain_trends` (which additionally applies
    ``min_trend_days``). Ratings before the programme start (day < 0) and of
    patients not in ``patients`` are excluded, as there.
    """
    import dask.dataframe as dd

    frame = pain.reset_index() if "patient_id" not in pain.columns else pain
    frame = frame[["patient_id", "recorded_at", "nprs"]]
    key_dtype = pd.StringDtype("pyarrow")  # one string storage on both sides of the merge
    starts = pd.DataFrame(
        {
            "patient_id": patients["patient_id"].astype(key_dtype),
            "programme_start": pd.to_datetime(patients["programme_start"]).dt.normalize(),
        }
    )
    frame = frame.assign(patient_id=frame["patient_id"].astype(key_dtype))
    frame = dd.merge(frame, starts, on="patient_id", how="inner")  # the small table is broadcast
    day = (frame["recorded_at"].dt.normalize() - frame["programme_start"]).dt.days
    frame = frame.assign(day=day, nprs=frame["nprs"].astype("float64"))
    keep = (frame["day"] >= 0) & ~frame["nprs"].isna()
    if as_of is not None:
        keep = keep & (frame["recorded_at"] < pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1))
    frame = frame[keep]
    daily = frame.groupby(["patient_id", "day"]).agg(total=("nprs", "sum"), n=("nprs", "count")).compute()
    daily = daily.reset_index()
    daily["y"] = daily["total"] / daily["n"]
    daily["week"] = week_of_day(daily["day"])
    weekly = (
        daily.groupby(["patient_id", "week"], sort=True)
        .agg(sum_y=("y", "sum"), days_rated=("y", "size"), n_ratings=("n", "sum"))
        .reset_index()
    )
    weekly = pd.DataFrame(
        {
            "patient_id": weekly["patient_id"].astype("string"),
            "week": weekly["week"].astype(np.int64),
            "nprs_mean": weekly["sum_y"] / weekly["days_rated"],
            "n_ratings": weekly["n_ratings"].astype(np.int64),
            "days_rated": weekly["days_rated"].astype(np.int64),
        }
    )
    x = daily["day"].astype(np.float64)
    y = daily["y"]
    sums = (
        daily.assign(x=x, xx=x * x, xy=x * y)
        .groupby("patient_id", sort=True)
        .agg(n=("y", "size"), sx=("x", "sum"), sy=("y", "sum"), sxx=("xx", "sum"), sxy=("xy", "sum"))
    )
    n = sums["n"].to_numpy(dtype=np.float64)
    den = n * sums["sxx"].to_numpy() - sums["sx"].to_numpy() ** 2
    num = n * sums["sxy"].to_numpy() - sums["sx"].to_numpy() * sums["sy"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where((n >= 2) & (den > 0), num / den * 7.0, np.nan)
    slopes = pd.DataFrame(
        {
            "patient_id": pd.array(sums.index.astype(str), dtype="string"),
            "n_days": sums["n"].to_numpy(dtype=np.int64),
            "ols_slope_per_week": slope,
        }
    )
    return weekly.reset_index(drop=True), slopes


# =========================================================================== clusters


def local_cluster(n_workers: int = 2, *, processes: bool = True, threads_per_worker: int = 1) -> Any:
    """Start a ``dask.distributed`` LocalCluster and a client connected to it.

    Parameters
    ----------
    n_workers, threads_per_worker
        Workers and threads per worker.
    processes
        Workers in separate processes (default; ``False`` = threads in this process).

    Returns
    -------
    distributed.Client
        Close it (``client.close(); client.cluster.close()``) or use it as a context manager.
    """
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=n_workers, threads_per_worker=threads_per_worker, processes=processes,
        dashboard_address=":0", silence_logs=logging.WARNING,
    )
    return Client(cluster)


def _benchmark(
    cohort: CohortTables, parquet_dir: Path, scheduler: str | None, repeats: int, patients_per_partition: int
) -> dict[str, float]:
    """Seconds for the pandas and the Dask cohort summary of the same cohort (medians of ``repeats``)."""
    from analysis.cohort import cohort_summary

    t0 = time.perf_counter()
    write_parquet_cohort(cohort, parquet_dir, patients_per_partition=patients_per_partition)
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    client = local_cluster() if scheduler is None else __import__("distributed").Client(scheduler)
    start_s = time.perf_counter() - t0
    try:
        as_of = cohort.as_of()
        pandas_s, dask_s = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            expected = cohort_summary(cohort, as_of=as_of)
            pandas_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            got = cohort_summary_dask(read_parquet_cohort(parquet_dir), as_of=as_of).compute()
            dask_s.append(time.perf_counter() - t0)
        a = got.sort_values("patient_id").reset_index(drop=True)
        b = expected.sort_values("patient_id").reset_index(drop=True)
        b.attrs = {}
        pd.testing.assert_frame_equal(a, b)
    finally:
        cluster = client.cluster if scheduler is None else None
        client.close()
        if cluster is not None:
            cluster.close()
    return {
        "patients": float(len(cohort.patients)),
        "partitions": float(read_parquet_cohort(parquet_dir).npartitions),
        "write_parquet_s": write_s,
        "cluster_start_s": start_s,
        "pandas_s": float(np.median(pandas_s)),
        "dask_s": float(np.median(dask_s)),
        "equal": 1.0,
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m analysis.distributed write-parquet SRC DST`` or ``... benchmark DST [--patients N]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m analysis.distributed", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write-parquet", help="write a CSV cohort directory as a Parquet dataset by patient")
    w.add_argument("source", type=Path, help="directory of the five canonical CSV files")
    w.add_argument("target", type=Path, help="Parquet dataset directory to write")
    w.add_argument("--patients-per-partition", type=int, default=1000)
    b = sub.add_parser("benchmark", help="time the cohort summary with pandas and with Dask, and check equality")
    b.add_argument("target", type=Path, help="Parquet dataset directory to write and read")
    b.add_argument("--source", type=Path, default=None, help="CSV cohort directory (default: generate one)")
    b.add_argument("--patients", type=int, default=20000, help="patients of the generated cohort")
    b.add_argument("--patients-per-partition", type=int, default=1000)
    b.add_argument("--scheduler", default=None, help="scheduler address (default: a 2-worker LocalCluster)")
    b.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from analysis.sample_data import generate_cohort, load_cohort

    if args.command == "write-parquet":
        written = write_parquet_cohort(load_cohort(args.source), args.target,
                                       patients_per_partition=args.patients_per_partition)
        for name, path in written.items():
            print(f"{name}: {path}")
    else:
        cohort = load_cohort(args.source) if args.source else generate_cohort(n_patients=args.patients)
        result = _benchmark(cohort, args.target, args.scheduler, args.repeats, args.patients_per_partition)
        print(", ".join(f"{k} {v:.2f}" for k, v in result.items()))


if __name__ == "__main__":  # pragma: no cover
    main()
