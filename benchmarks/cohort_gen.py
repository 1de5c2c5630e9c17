"""The benchmark cohort: the project's generator in the realistic shape of issue 4, cached on disk.

The cohort comes from :mod:`analysis.sample_data` (the same draws, planted
behaviours and tables as the committed sample). Two shapes:

``sample``
    :func:`analysis.sample_data.generate_cohort` as it is: programmes start
    46-109 days before the snapshot, so many patients are mid-programme, and
    most are prescribed 5 sessions a week of 3 exercise rows (knee-to-chest
    left and right, hamstring stretch). About 120 session rows and 54 pain rows
    per patient (2.4 M and 1.1 M at 20,000 patients).
``realistic`` (default)
    The shape the benchmark is specified for: every patient followed for the
    full 12 weeks, a daily programme ("they need to be stretched every day",
    the seed text) of at least four exercise rows a session (every patient has
    one or two of the optional extra stretches). Patients then do on average
    3.9 sessions a week (adherence fades as in the sample) of 5.1 exercise
    rows: about 237 session rows and 62 pain rows per patient (4.75 M and
    1.23 M at 20,000 patients).

The realistic shape is built from the generator's own steps (``_draw_plan``,
``_draw_pain_course``, ``_draw_regimen`` and the table builders), changing
three draws between them: the follow-up window, the weekly target and the
extra stretches. ``generate_cohort`` has no parameters for these; see the
proposal in ``benchmarks/README.md``. If those private steps change shape,
:func:`benchmark_cohort` raises with a message to use ``--shape sample``.

Files are cached under ``<cache>/<shape>-n<patients>-s<seed>-v<version>/`` as
CSV (for the ingest step) and Parquet (for everything else) and reused while
``meta.json`` matches.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis import sample_data as sd
from analysis.schema import TABLES, CohortTables, conform

__all__ = [
    "SHAPES",
    "CACHE_VERSION",
    "PATIENTS_PER_PHYSIO",
    "BENCH_SNAPSHOT",
    "benchmark_cohort",
    "cohort_dir",
    "ensure_cohort",
    "read_parquet_cohort",
    "parquet_paths",
]

SHAPES: tuple[str, ...] = ("realistic", "sample")
#: Bump when the generated data change, so stale caches are rebuilt.
CACHE_VERSION = 1
#: Caseload size: one physio per 500 patients (issue 4: "the caseload view of one physio (500 patients)").
PATIENTS_PER_PHYSIO = 500
#: Snapshot (export) date of the benchmark cohort, the analysis date ``as_of`` and the ingestion's ``today``.
BENCH_SNAPSHOT = sd.SNAPSHOT_DATE
#: Realistic shape: programmes start this many days earlier than the sample's, so all 12 weeks lie
#: before the snapshot (a multiple of 7 keeps the weekday of every start).
_SHIFT_DAYS = 42
#: Realistic shape: share of patients with two extra stretches (the others get one).
_TWO_EXTRAS = 0.7
#: Categorical columns when reading Parquet (dictionary-encoded ids and vocabularies).
_CATEGORICAL = {
    "patients": ["patient_id", "physio_id", "age_band", "condition_notes"],
    "prescriptions": ["patient_id", "exercise", "side"],
    "sessions": ["patient_id", "exercise", "side", "notes"],
    "pain": ["patient_id", "location", "notes"],
    "proms": ["patient_id", "instrument", "item"],
}


def _physios(n_patients: int) -> int:
    return max(1, math.ceil(n_patients / PATIENTS_PER_PHYSIO))


def _realistic_plan(plan: sd._Plan) -> sd._Plan:
    """Every patient observed for the whole programme; engaged patients log to its last day."""
    n_days = plan.n_days
    start = plan.start - np.timedelta64(_SHIFT_DAYS, "D")
    n_obs = np.full(plan.n, n_days, dtype=np.int64)
    stop_day = np.where(plan.engagement == "engaged", n_days, plan.stop_day)
    days = plan.days
    logging = (days[None, :] < n_obs[:, None]) & (days[None, :] < stop_day[:, None])
    return replace(plan, start=start, n_obs=n_obs, finished=np.ones(plan.n, dtype=bool), stop_day=stop_day,
                   logging=logging)


def _realistic_regimen(rng: np.random.Generator, rx: sd._Regimen) -> sd._Regimen:
    """A daily programme with one or two extra stretches for every patient (doses as the generator's)."""
    spw = np.full_like(rx.spw, 7)
    active, sets, reps, hold = rx.active.copy(), rx.sets.copy(), rx.reps.copy(), rx.hold.copy()
    n = spw.shape[0]
    extra_slots = [[sd._SLOT_INDEX[(name, side)] for side in ("both", "left", "right")
                    if (name, side) in sd._SLOT_INDEX] for name, _ in sd._EXTRAS]
    has_extra = np.stack([active[:, :, slots].any(axis=(1, 2)) for slots in extra_slots], axis=1)
    n_wanted = np.where(rng.random(n) < _TWO_EXTRAS, 2, 1)
    # add extras in a random order of the stretches the patient does not have yet, until n_wanted
    order = np.argsort(rng.random((n, len(sd._EXTRAS))), axis=1)
    for rank in range(len(sd._EXTRAS)):
        e_of = order[:, rank]
        for e, (_, (s0, r0, h0)) in enumerate(sd._EXTRAS):
            who = np.flatnonzero((e_of == e) & ~has_extra[:, e] & (has_extra.sum(axis=1) < n_wanted))
            if not len(who):
                continue
            for s in extra_slots[e]:
                on = rx.exists[who]  # patients x periods
                active[who, :, s] = on
                sets[who, :, s], reps[who, :, s], hold[who, :, s] = s0, r0, h0
            has_extra[who, e] = True
    return replace(rx, spw=spw, active=active, sets=sets, reps=reps, hold=hold)


def benchmark_cohort(n_patients: int, *, seed: int = sd.DEFAULT_SEED, shape: str = "realistic") -> sd.SampleCohort:
    """Generate the benchmark cohort (see the module docstring for the shapes).

    Parameters
    ----------
    n_patients
        Number of patients; one physio per :data:`PATIENTS_PER_PHYSIO` patients.
    seed
        Seed of the generator.
    shape
        ``"realistic"`` or ``"sample"``.

    Returns
    -------
    analysis.sample_data.SampleCohort
        Canonical tables sorted by their natural keys, and the planted truth.
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {', '.join(SHAPES)}")
    n_physios = _physios(n_patients)
    if shape == "sample":
        return sd.generate_cohort(n_patients=n_patients, n_physios=n_physios, seed=seed, snapshot=BENCH_SNAPSHOT)
    weeks = 12
    try:
        rng = np.random.default_rng(seed)
        plan = _realistic_plan(sd._draw_plan(rng, n_patients, weeks, BENCH_SNAPSHOT))
        pain = sd._draw_pain_course(rng, plan)
        regimen = _realistic_regimen(rng, sd._draw_regimen(rng, plan))
        sessions = sd._sessions_table(rng, plan, pain, regimen)
        diary, self_flare_without_spike = sd._pain_table(rng, plan, pain)
        proms = sd._proms_table(rng, plan, pain, weeks)
        patients = sd._patients_table(rng, plan, n_physios)
        prescriptions = sd._prescriptions_table(plan, regimen)
        planted = sd._planted_table(plan, pain, regimen, self_flare_without_spike)
    except (AttributeError, TypeError) as exc:  # the generator's private steps changed
        raise RuntimeError(
            "the realistic benchmark shape is built from analysis.sample_data's private steps, which have "
            f"changed ({exc}); run the benchmark with --shape sample or update benchmarks/cohort_gen.py"
        ) from exc
    return sd.SampleCohort(
        patients=conform(patients, "patients"),
        prescriptions=conform(prescriptions, "prescriptions"),
        sessions=conform(sessions, "sessions"),
        pain=conform(diary, "pain"),
        proms=conform(proms, "proms"),
        planted=planted,
    )


def cohort_dir(cache: Path, n_patients: int, seed: int, shape: str) -> Path:
    """Directory of one cached cohort."""
    return Path(cache) / f"{shape}-n{n_patients}-s{seed}-v{CACHE_VERSION}"


def parquet_paths(directory: Path) -> dict[str, Path]:
    """The Parquet file of each canonical table in a cohort directory."""
    return {name: Path(directory) / f"{name}.parquet" for name in TABLES}


def ensure_cohort(
    cache: Path, n_patients: int, *, seed: int = sd.DEFAULT_SEED, shape: str = "realistic", csv: bool = True,
    log=print,
) -> tuple[Path, dict]:
    """Generate and write the cohort once; reuse the cached files while ``meta.json`` matches.

    Parameters
    ----------
    cache
        Cache root (e.g. ``var/bench-cache``).
    n_patients, seed, shape
        As in :func:`benchmark_cohort`.
    csv
        Also write the CSV files (the ingest step reads ``sessions.csv``).
    log
        Progress printer.

    Returns
    -------
    directory : pathlib.Path
        The cohort directory.
    meta : dict
        Row counts, file sizes and generation time.
    """
    out = cohort_dir(cache, n_patients, seed, shape)
    meta_path = out / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        have_csv = all((out / f"{name}.csv").is_file() for name in TABLES)
        if meta.get("version") == CACHE_VERSION and (have_csv or not csv):
            return out, meta
    out.mkdir(parents=True, exist_ok=True)
    log(f"generating the {shape} cohort of {n_patients:,} patients (cached in {out}) ...")
    began = time.perf_counter()
    cohort = benchmark_cohort(n_patients, seed=seed, shape=shape)
    generated = time.perf_counter() - began
    for name, path in parquet_paths(out).items():
        pq.write_table(pa.Table.from_pandas(getattr(cohort, name), preserve_index=False), path)
    if csv:
        sd.write_cohort(cohort, out)
    meta = {
        "version": CACHE_VERSION,
        "shape": shape,
        "seed": seed,
        "patients": n_patients,
        "physios": _physios(n_patients),
        "snapshot": BENCH_SNAPSHOT.isoformat(),
        "rows": {name: len(getattr(cohort, name)) for name in TABLES},
        "sessions_per_patient_week": _sessions_per_week(cohort),
        "generate_seconds": round(generated, 2),
        "csv": csv,
        "bytes": {p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.suffix in (".csv", ".parquet")},
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    log(f"  {meta['rows']['sessions']:,} session rows, {meta['rows']['pain']:,} pain rows "
        f"in {generated:.1f} s (+ {time.perf_counter() - began - generated:.1f} s to write)")
    return out, meta


def _sessions_per_week(cohort: CohortTables) -> dict[str, float]:
    """Mean sessions (distinct patient-timestamps) and rows per patient-week over 12 weeks."""
    s = cohort.sessions
    n_weeks = 12 * len(cohort.patients)
    sessions = s.groupby(["patient_id", "performed_at"], observed=True).ngroups
    return {"sessions": round(sessions / n_weeks, 2), "rows": round(len(s) / n_weeks, 2),
            "rows_per_session": round(len(s) / max(sessions, 1), 2)}


def read_parquet_cohort(directory: Path) -> CohortTables:
    """Read the five Parquet files into canonical tables, ids and vocabularies as categoricals.

    The fastest path measured on this machine: ``pyarrow.parquet.read_table(...,
    read_dictionary=[...]).to_pandas(date_as_object=False)``: every text column
    (ids, vocabularies and the repetitive free-text notes) arrives as a pandas
    categorical, several times faster to read than pandas ``string`` objects.
    Numbers keep their canonical nullable dtypes (``Int64``, ``boolean``) from
    the pandas metadata.
    """
    tables = {}
    for name, path in parquet_paths(directory).items():
        table = pq.read_table(path, read_dictionary=_CATEGORICAL[name])
        # split_blocks + self_destruct: no consolidation copy, Arrow buffers freed column by column
        tables[name] = table.to_pandas(date_as_object=False, split_blocks=True, self_destruct=True)
        del table
    return CohortTables(**tables)


def frame_bytes(frame: pd.DataFrame) -> int:
    """In-memory size of a DataFrame (``memory_usage(deep=True)``, index included)."""
    return int(frame.memory_usage(deep=True, index=True).sum())
