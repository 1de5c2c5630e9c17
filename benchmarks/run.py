"""The rehabtrack benchmark (issue 4): one command, a table of seconds, peak memory and ratios.

Run from the project root::

    .venv/bin/python -m benchmarks.run --patients 20000

What it does, in order:

1. generates the synthetic cohort once (``benchmarks/cohort_gen.py``, the
   project's generator in the realistic shape: 12 weeks, about 4 sessions a week
   of 5 exercise rows, about 5 M session rows and 1.2 M pain rows at 20,000
   patients) and caches it as CSV and Parquet under ``--cache``
   (default ``var/bench-cache``, outside git);
2. **checks before timing** that rehabtrack's numbers equal the references':
   weekly adherence exactly and the OLS / Theil-Sen pain slopes to 1e-9, for
   the project's aggregate functions, ``cohort_summary`` and the per-patient
   loop against DuckDB, and the validated ingestion against ``pandas.read_csv``;
   any difference stops the run (exit status 3) before a single timing;
3. times every step as the median of ``--repeats`` runs, **each run in a fresh
   Python process** (``python -m benchmarks.run --child ...``), so steps do not
   share caches or memory; every child warms up on a 40-patient cohort first;
   a measurement and its reference run round-robin (ours, reference, ours, ...)
   so that both see the same load on a shared machine;
4. writes ``results.json`` and ``results.md`` to ``--out`` (default
   ``benchmarks/results``) and prints the Markdown table; a run of some
   ``--steps`` only writes ``results-<steps>.json``/``.md`` instead, so it never
   overwrites the full run's table.

Peak memory is the peak resident set size (RSS) of the child during the timed
call: Linux ``VmHWM`` after resetting it through ``/proc/self/clear_refs`` just
before the call (elsewhere ``ru_maxrss``, which also counts loading the inputs).
"Working memory" is that peak minus the RSS of the child after imports and the
warm-up, so it counts the input tables themselves plus everything the call
allocates; the memory target divides it by the in-memory size of the input
tables (``DataFrame.memory_usage(deep=True)``).

Steps (``--steps``, comma-separated; default all): ``check``, ``ingest``,
``summary`` (the cohort summary, the same aggregates, DuckDB and the loop at
``--patients``), ``store`` (caseload and patient detail from a SQLite store) and
``scaling`` (the cohort summary and DuckDB at each ``--scaling`` size).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = ROOT / "var" / "bench-cache"
DEFAULT_OUT = ROOT / "benchmarks" / "results"
RESULT_PREFIX = "BENCH_RESULT "
WARMUP_PATIENTS = 40
ALL_STEPS = ("check", "ingest", "summary", "store", "scaling")

#: Targets of issues 4 and 19 (name -> (comparison, bound)); issue 19 tightened ingest, scaling and the
#: caseload and added the like-for-like aggregates.
TARGETS: dict[str, tuple[str, float]] = {
    "summary_vs_duckdb": ("<=", 1.0),
    "aggregates_vs_duckdb": ("<=", 0.6),
    "summary_vs_loop_speedup": (">=", 500.0),
    "ingest_vs_read_csv": ("<=", 1.5),
    "summary_memory_vs_input": ("<", 2.5),
    "scaling_100k_vs_20k": ("<=", 5.5),
    "caseload_view_s": ("<", 0.3),
    "patient_detail_s": ("<", 0.1),
}


# ======================================================================================
# child side: one measured run in a fresh process


class _Memory:
    """Peak RSS of this process, resettable on Linux."""

    def __init__(self) -> None:
        self.method = "ru_maxrss of the child (includes loading the inputs)"
        self.resettable = False
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self.resettable = self._status("VmHWM") is not None
        except OSError:
            pass
        if self.resettable:
            self.method = "VmHWM of the child, reset just before the timed call"

    @staticmethod
    def _status(field: str) -> float | None:
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            return None
        return None

    def rss_mb(self) -> float:
        value = self._status("VmRSS")
        if value is not None:
            return value
        return self.peak_mb()

    def reset(self) -> None:
        if self.resettable:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")

    def peak_mb(self) -> float:
        value = self._status("VmHWM") if self.resettable else None
        if value is not None:
            return value
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _release_arrow() -> None:
    """Return pyarrow's freed buffers to the OS so they do not count as the next call's memory."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # pragma: no cover - best effort
        pass


def _tables_bytes(cohort: Any, names: tuple[str, ...]) -> int:
    from benchmarks.cohort_gen import frame_bytes

    return sum(frame_bytes(getattr(cohort, n)) for n in names)


def _measure(mem: _Memory, func: Any) -> tuple[Any, float, float, float]:
    """Run ``func`` once: (result, seconds, peak RSS MB during it, RSS MB just before)."""
    import gc

    gc.collect()
    _release_arrow()
    before = mem.rss_mb()
    mem.reset()
    began = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - began
    return result, seconds, mem.peak_mb(), before


_AGG_COLUMNS = {
    "patients": ["patient_id", "programme_start"],
    "prescriptions": None,
    "sessions": ["patient_id", "performed_at", "sets"],
    "pain": ["patient_id", "recorded_at", "nprs"],
}


def _load_columns(directory: Path) -> Any:
    """The four tables the aggregates need, only the columns they use (as DuckDB reads them)."""
    import pyarrow.parquet as pq

    from analysis.schema import CohortTables, empty_frame
    from benchmarks.cohort_gen import _CATEGORICAL, parquet_paths

    paths = parquet_paths(directory)
    tables = {}
    for name, cols in _AGG_COLUMNS.items():
        dictionary = [c for c in _CATEGORICAL[name] if cols is None or c in cols]
        tables[name] = pq.read_table(paths[name], columns=cols, read_dictionary=dictionary).to_pandas(
            date_as_object=False, split_blocks=True, self_destruct=True)
    return CohortTables(proms=empty_frame("proms"), **tables)


def _child_summary(args: argparse.Namespace, mem: _Memory) -> dict:
    """Load the Parquet files and run ``cohort_summary`` (or the aggregates, with --variant aggregates)."""
    import pandas as pd

    from analysis.cohort import cohort_summary
    from benchmarks import reference
    from benchmarks.cohort_gen import read_parquet_cohort
    from benchmarks.profile import component_timer

    as_of = pd.Timestamp(args.as_of)
    aggregates = args.variant == "aggregates"
    components: dict[str, float] = {}

    def load(directory: Path) -> Any:
        return _load_columns(directory) if aggregates else read_parquet_cohort(directory)

    def compute(cohort: Any) -> Any:
        if aggregates:
            return reference.project_aggregates(cohort, as_of)
        with component_timer() as seconds:  # the stages timed from here, not inside the library
            result = cohort_summary(cohort, as_of=as_of)
        components.clear()
        components.update(seconds)
        return result

    compute(load(Path(args.warmup)))  # imports, lazy caches
    rss_start = mem.rss_mb()
    cohort, load_s, load_peak, _ = _measure(mem, lambda: load(Path(args.data)))
    names = tuple(_AGG_COLUMNS) if aggregates else ("patients", "prescriptions", "sessions", "pain", "proms")
    input_bytes = _tables_bytes(cohort, names)
    _, seconds, peak, before = _measure(mem, lambda: compute(cohort))
    out = {
        "seconds": load_s + seconds, "load_s": load_s, "compute_s": seconds, "peak_mb": peak,
        "load_peak_mb": load_peak, "rss_start_mb": rss_start, "rss_before_mb": before,
        "input_mb": input_bytes / 2**20, "rows": {n: len(getattr(cohort, n)) for n in names},
    }
    if not aggregates:
        out["components_s"] = dict(components)
    return out


def _child_duckdb(args: argparse.Namespace, mem: _Memory) -> dict:
    import pandas as pd

    from benchmarks import reference
    from benchmarks.cohort_gen import parquet_paths

    as_of = pd.Timestamp(args.as_of)
    reference.duckdb_aggregates(parquet_paths(Path(args.warmup)), as_of, threads=args.threads)
    rss_start = mem.rss_mb()
    _, seconds, peak, before = _measure(
        mem, lambda: reference.duckdb_aggregates(parquet_paths(Path(args.data)), as_of, threads=args.threads))
    return {"seconds": seconds, "peak_mb": peak, "rss_start_mb": rss_start, "rss_before_mb": before,
            "threads": args.threads}


def _canonical(cohort: Any) -> Any:
    """The tables with canonical dtypes (``string`` ids), as ingestion and the store return them."""
    from analysis.schema import TABLES, CohortTables, conform

    return CohortTables(**{name: conform(getattr(cohort, name), name) for name in TABLES})


def _loop_ids(patients: Any, k: int) -> list[str]:
    ids = patients["patient_id"].astype(str).tolist()
    if k >= len(ids):
        return ids
    step = len(ids) / k
    return [ids[int(i * step)] for i in range(k)]


def _child_loop(args: argparse.Namespace, mem: _Memory) -> dict:
    import pandas as pd

    from benchmarks import reference
    from benchmarks.cohort_gen import read_parquet_cohort

    as_of = pd.Timestamp(args.as_of)
    warm = _canonical(read_parquet_cohort(Path(args.warmup)))
    reference.loop_aggregates(warm, as_of, _loop_ids(warm.patients, 5))
    cohort = _canonical(read_parquet_cohort(Path(args.data)))
    ids = _loop_ids(cohort.patients, args.loop_patients)
    rss_start = mem.rss_mb()
    _, seconds, peak, before = _measure(mem, lambda: reference.loop_aggregates(cohort, as_of, ids))
    n = len(cohort.patients)
    return {"seconds_subset": seconds, "patients_timed": len(ids), "patients": n,
            "seconds": seconds * n / len(ids), "extrapolated": True, "peak_mb": peak,
            "rss_start_mb": rss_start, "rss_before_mb": before}


def _child_ingest(args: argparse.Namespace, mem: _Memory) -> dict:
    import pandas as pd

    from analysis.ingest import ingest_file

    path = Path(args.data) / "sessions.csv"
    warm = Path(args.warmup) / "sessions.csv"
    today = pd.Timestamp(args.as_of).date()
    if args.variant == "reference":
        def run(p: Path) -> Any:
            return pd.read_csv(p, parse_dates=["performed_at"])
    else:
        from analysis.limits import UploadLimits, reading_limits

        def run(p: Path) -> Any:  # a trusted local file of millions of rows: the upload limits do not apply
            with reading_limits(UploadLimits.unbounded()):
                return ingest_file(p, table="sessions", today=today)
    run(warm)
    rss_start = mem.rss_mb()
    result, seconds, peak, before = _measure(mem, lambda: run(path))
    out = {"seconds": seconds, "peak_mb": peak, "rss_start_mb": rss_start, "rss_before_mb": before,
           "file_mb": path.stat().st_size / 2**20}
    if args.variant == "reference":
        out["rows"] = len(result)
    else:
        out.update(rows=result.n_rows, accepted=result.n_accepted, rejected=result.n_rejected)
    return out


def _child_check(args: argparse.Namespace, mem: _Memory) -> dict:
    """Equality of every timed computation with its reference; ``ok`` False on any difference."""
    import numpy as np
    import pandas as pd

    from analysis.cohort import cohort_summary
    from benchmarks import reference
    from benchmarks.cohort_gen import parquet_paths, read_parquet_cohort

    as_of = pd.Timestamp(args.as_of)
    directory = Path(args.data)
    cohort = read_parquet_cohort(directory)
    duck = reference.duckdb_aggregates(parquet_paths(directory), as_of, threads=args.threads)
    ours = reference.project_aggregates(_load_columns(directory), as_of)
    out: dict[str, Any] = {"aggregates_vs_duckdb": reference.compare(ours, duck)}
    summary = cohort_summary(cohort, as_of=as_of)
    out["summary_vs_duckdb"] = reference.compare(
        reference.Aggregates(duck.weekly, reference.summary_aggregates(summary)), duck, weekly=False)
    if args.loop_patients:
        canonical = _canonical(cohort)
        ids = _loop_ids(canonical.patients, min(args.loop_patients, 40))
        loop = reference.loop_aggregates(canonical, as_of, ids)
        subset = reference.Aggregates(
            ours.weekly[ours.weekly["patient_id"].isin(ids)].reset_index(drop=True),
            ours.patients[ours.patients["patient_id"].isin(ids)].reset_index(drop=True))
        out["loop_vs_aggregates"] = reference.compare(loop, subset)
        out["loop_vs_aggregates"]["patients_checked"] = len(ids)
    if args.ingest_check:
        from analysis.ingest import ingest_file
        from analysis.limits import UploadLimits, reading_limits

        path = directory / "sessions.csv"
        with reading_limits(UploadLimits.unbounded()):  # a trusted local file of millions of rows
            result = ingest_file(path, table="sessions", today=as_of.date())
        plain = pd.read_csv(path, parse_dates=["performed_at"])
        accepted = result.accepted
        same_rows = result.n_accepted == len(plain) and result.n_rejected == 0 and result.n_duplicates == 0
        same_values = same_rows and bool(
            np.array_equal(accepted["performed_at"].to_numpy("datetime64[ns]"),
                           plain["performed_at"].to_numpy("datetime64[ns]"))
            and np.array_equal(accepted["sets"].to_numpy("int64"), plain["sets"].to_numpy("int64"))
            and np.array_equal(accepted["patient_id"].astype(str).to_numpy(),
                               plain["patient_id"].astype(str).to_numpy())
        )
        out["ingest_vs_read_csv"] = {"rows": int(len(plain)), "accepted": int(result.n_accepted),
                                     "rejected": int(result.n_rejected), "duplicates": int(result.n_duplicates),
                                     "ok": bool(same_rows and same_values)}
    out["ok"] = all(part["ok"] for part in out.values() if isinstance(part, dict))
    return out


def _store_ready(directory: Path) -> Path:
    return directory / "store" / "READY.json"


def _child_store(args: argparse.Namespace, mem: _Memory) -> dict:
    """Time the caseload of one physio and one patient's detail through ``analysis.access.cohort_for``."""
    import pandas as pd

    try:
        from analysis.access import cohort_for
        from analysis.roles import PHYSIO, User
        from analysis.store import Store
    except ImportError as exc:
        return {"available": False, "reason": f"store not available ({exc})"}
    from analysis.cohort import SUMMARY_INPUTS, cohort_summary, weekly_progress

    as_of = pd.Timestamp(args.as_of)
    ready = json.loads(_store_ready(Path(args.data)).read_text())
    store = Store.open(ready["db"], data_dir=Path(ready["db"]).parent)
    physio = ready["physio_id"]
    user = User(f"bench_{physio}", PHYSIO, physio_id=physio)
    caseload = store.caseload(physio)
    patient = caseload[len(caseload) // 2]
    warm_user = User("bench_warm", PHYSIO, physio_id=ready["warm_physio_id"])
    # imports, connection pool, SQLite page cache
    cohort_summary(cohort_for(warm_user, store, columns=SUMMARY_INPUTS), as_of=as_of)
    weekly_progress(cohort_for(user, store, patient_ids=[caseload[0]]), as_of=as_of)

    rss_start = mem.rss_mb()
    # the caseload reads only the columns the summary uses, as analysis.access.summary_for does
    tables, read_s, read_peak, _ = _measure(mem, lambda: cohort_for(user, store, columns=SUMMARY_INPUTS))
    _, view_s, view_peak, _ = _measure(mem, lambda: cohort_summary(tables, as_of=as_of))
    detail, detail_s, _, _ = _measure(mem, lambda: cohort_for(user, store, patient_ids=[patient]))
    _, detail_view_s, _, _ = _measure(mem, lambda: weekly_progress(detail, as_of=as_of))
    store.close()
    return {
        "available": True, "physio_id": physio, "caseload_patients": len(caseload),
        "caseload_rows": {n: len(getattr(tables, n)) for n in ("sessions", "pain", "proms")},
        "caseload_read_s": read_s, "caseload_summary_s": view_s, "seconds": read_s + view_s,
        "peak_mb": max(read_peak, view_peak), "rss_start_mb": rss_start,
        "patient_id": patient, "detail_rows": {n: len(getattr(detail, n)) for n in ("sessions", "pain", "proms")},
        "detail_read_s": detail_s, "detail_weekly_s": detail_view_s, "detail_s": detail_s + detail_view_s,
    }


_CHILDREN = {"summary": _child_summary, "duckdb": _child_duckdb, "loop": _child_loop, "ingest": _child_ingest,
             "check": _child_check, "store": _child_store}


def _child_main(args: argparse.Namespace) -> int:
    mem = _Memory()
    result = _CHILDREN[args.child](args, mem)
    result["memory_method"] = mem.method
    print(RESULT_PREFIX + json.dumps(result, default=_json_default), flush=True)
    return 0


def _json_default(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
    except ImportError:  # pragma: no cover
        pass
    return str(value)


# ======================================================================================
# parent side


class _Runner:
    """Starts children, collects their results, keeps the log."""

    def __init__(self, args: argparse.Namespace, warmup: Path) -> None:
        self.args = args
        self.warmup = warmup

    def child(self, step: str, data: Path, *, variant: str = "", extra: list[str] | None = None) -> dict:
        cmd = [sys.executable, "-m", "benchmarks.run", "--child", step, "--data", str(data),
               "--warmup", str(self.warmup), "--as-of", self.args.as_of, "--threads", str(self.args.threads),
               "--loop-patients", str(self.args.loop_patients)]
        if variant:
            cmd += ["--variant", variant]
        cmd += extra or []
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
        if proc.returncode != 0 or not lines:
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-6000:])
            raise RuntimeError(f"benchmark step {step} {variant} failed (exit {proc.returncode}); output above")
        return json.loads(lines[-1][len(RESULT_PREFIX):])

    def repeated(self, label: str, step: str, data: Path, *, variant: str = "", repeats: int | None = None) -> dict:
        return self.interleaved([(label, step, data, variant)], repeats=repeats)[0]

    def interleaved(self, specs: list[tuple[str, str, Path, str]], *, repeats: int | None = None) -> list[dict]:
        """Median records of several measurements, run round-robin so that they share the machine's load."""
        n = repeats or self.args.repeats
        runs: list[list[dict]] = [[] for _ in specs]
        for i in range(n):
            for (label, step, data, variant), into in zip(specs, runs, strict=True):
                load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
                record = self.child(step, data, variant=variant)
                record["load_average"] = load
                into.append(record)
                self.log(f"  {label}: run {i + 1}/{n}: {record['seconds']:.3f} s, peak {record['peak_mb']:.0f} MB"
                         + (f" (load average {load:.1f})" if load is not None else ""))
        return [_median_record(r) for r in runs]

    def log(self, text: str) -> None:
        if not self.args.quiet:
            print(text, flush=True)


def _median_record(runs: list[dict]) -> dict:
    """Medians of the numeric fields over the runs; the runs themselves kept under ``runs``."""
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            out[key] = value
        else:
            out[key] = statistics.median(r[key] for r in runs)
    if "components_s" in runs[0]:
        out["components_s"] = {k: statistics.median(r["components_s"].get(k, 0.0) for r in runs)
                               for k in runs[0]["components_s"]}
    out["runs_s"] = [r["seconds"] for r in runs]
    out["load_averages"] = [r.get("load_average") for r in runs]
    out["repeats"] = len(runs)
    return out


def _working_mb(record: dict) -> float:
    return record["peak_mb"] - record["rss_start_mb"]


def _machine() -> dict:
    import numpy
    import pandas

    try:
        import duckdb

        duck = duckdb.__version__
    except ImportError:  # pragma: no cover
        duck = None
    info = {
        "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
        "pandas": pandas.__version__, "numpy": numpy.__version__, "duckdb": duck,
        "load_average_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        with open("/proc/meminfo") as fh:
            info["memory_gib"] = round(int(fh.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    return info


def _build_store(runner: _Runner, data: Path, meta: dict) -> dict | None:
    """Load the cohort into a SQLite store under the cohort's cache directory (once)."""
    try:
        from analysis.store import SCHEMA_VERSION, Store, UploadLimits
    except ImportError as exc:
        return {"available": False, "reason": f"store not available ({exc})"}
    from analysis.schema import TABLES

    ready = _store_ready(data)
    if ready.is_file():
        info = json.loads(ready.read_text())
        if info.get("schema_version") == SCHEMA_VERSION and Path(info["db"]).is_file():
            return info
    folder = ready.parent
    if folder.exists():
        for p in sorted(folder.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "bench.sqlite"
    runner.log(f"loading the cohort into a SQLite store ({db}) through Store.ingest_upload ...")
    began = time.perf_counter()
    today = datetime.fromisoformat(runner.args.as_of).date()
    with Store.open(db, data_dir=folder, limits=UploadLimits(max_bytes=2**40, max_rows=10**9)) as store:
        for name in TABLES:  # the store itself: the benchmark's data need no account
            report = store.ingest_upload("bench_admin", (data / f"{name}.csv").read_bytes(), f"{name}.csv",
                                         table=name, today=today)
            runner.log(f"  {name}: {report.rows_added:,} rows added, {report.rows_rejected} rejected")
        counts = store.counts()
    import pandas as pd

    patients = pd.read_parquet(data / "patients.parquet", columns=["patient_id", "physio_id"])
    sizes = patients["physio_id"].astype(str).value_counts()
    physio = str((sizes - 500).abs().idxmin())  # the physio whose caseload is closest to 500 patients
    info = {"db": str(db), "schema_version": SCHEMA_VERSION, "counts": counts, "physio_id": physio,
            "warm_physio_id": str(sizes.idxmin()), "load_s": round(time.perf_counter() - began, 1)}
    ready.write_text(json.dumps(info, indent=2))
    runner.log(f"  store ready in {info['load_s']} s")
    return info


def _fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _fmt_mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _target_row(name: str, measured: float | None) -> dict:
    op, bound = TARGETS[name]
    met = None if measured is None else (measured <= bound if op == "<=" else measured >= bound if op == ">="
                                          else measured < bound)
    return {"target": f"{op} {bound:g}", "measured": measured, "met": met}


def _markdown(results: dict) -> str:
    m = results["machine"]
    cfg = results["config"]
    lines = [
        f"Benchmark of {cfg['patients']:,} patients ({cfg['shape']} shape: "
        f"{results['cohorts'][str(cfg['patients'])]['rows']['sessions']:,} session rows, "
        f"{results['cohorts'][str(cfg['patients'])]['rows']['pain']:,} pain rows), "
        f"{m['cores']} cores, {m.get('memory_gib', '?')} GiB, load average {m['load_average_start'][0]:.2f} "
        "at the start "
        f"and {m.get('load_average_end', [0])[0]:.2f} at the end; medians of {cfg['repeats']} runs, each in a fresh "
        f"process; {results['finished']}.",
        "",
        "| step | rehabtrack (s) | peak MB | reference | reference (s) | ref. peak MB | ratio | target | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["table"]:
        met = row.get("met")
        lines.append(
            f"| {row['step']} | {row['ours']} | {row['ours_mb']} | {row['reference']} | {row['ref']} | "
            f"{row['ref_mb']} | {row['ratio']} | {row.get('target', '')} | "
            f"{'' if met is None else ('yes' if met else '**no**')} |"
        )
    checks = results.get("checks", {})
    if checks:
        lines += ["", "Checked before timing: " + "; ".join(
            f"{name}: {'equal' if part.get('ok') else 'DIFFERENT'}" for name, part in checks.items()) + "."]
    notes = results.get("notes", [])
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b in (None, 0) else a / b


def _fmt_ratio(value: float | None, speedup: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}x faster" if speedup else f"{value:.2f}"


def _parent_main(args: argparse.Namespace) -> int:
    from benchmarks.cohort_gen import ensure_cohort

    steps = set(args.steps.split(",")) if args.steps else set(ALL_STEPS)
    unknown = steps - set(ALL_STEPS)
    if unknown:
        raise SystemExit(f"unknown steps {', '.join(sorted(unknown))}; choose from {', '.join(ALL_STEPS)}")
    cache = Path(args.cache).resolve()
    out_dir = Path(args.out).resolve()
    scaling = [int(s) for s in args.scaling.split(",") if s.strip()] if "scaling" in steps and args.scaling else []
    started = time.perf_counter()
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(args.argv),
        "config": {"patients": args.patients, "repeats": args.repeats, "shape": args.shape, "seed": args.seed,
                   "as_of": args.as_of, "duckdb_threads": args.threads, "loop_patients": args.loop_patients,
                   "scaling": scaling, "steps": sorted(steps)},
        "machine": _machine(), "cohorts": {}, "checks": {}, "steps": {}, "targets": {}, "notes": [],
    }
    runner_log = (lambda text: None) if args.quiet else (lambda text: print(text, flush=True))
    warm_dir, _ = ensure_cohort(cache, WARMUP_PATIENTS, seed=args.seed, shape=args.shape, log=runner_log)
    runner = _Runner(args, warm_dir)
    main_dir, main_meta = ensure_cohort(cache, args.patients, seed=args.seed, shape=args.shape, log=runner_log)
    results["cohorts"][str(args.patients)] = main_meta
    scale_dirs = {}
    for n in scaling:
        if n == args.patients:
            scale_dirs[n] = main_dir
            continue
        scale_dirs[n], meta = ensure_cohort(cache, n, seed=args.seed, shape=args.shape, csv=False, log=runner_log)
        results["cohorts"][str(n)] = meta

    # ---- 1. equality before any timing
    if "check" in steps:
        runner.log("checking that rehabtrack's numbers equal the references' ...")
        check = runner.child("check", main_dir, extra=["--ingest-check"] if "ingest" in steps else [])
        results["checks"] = {k: v for k, v in check.items() if isinstance(v, dict)}
        for n, d in scale_dirs.items():
            if d is not main_dir:
                part = runner.child("check", d, extra=["--loop-patients", "0"])
                results["checks"][f"at {n:,} patients"] = {"ok": part["ok"], **{k: v for k, v in part.items()
                                                                              if isinstance(v, dict)}}
        bad = {k: v for k, v in results["checks"].items() if not v.get("ok")}
        if bad:
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "check_failure.json").write_text(json.dumps(bad, indent=2, default=str))
            print("EQUALITY CHECK FAILED: rehabtrack's numbers differ from the reference's; nothing was timed.",
                  file=sys.stderr)
            print(json.dumps(bad, indent=2, default=str)[:6000], file=sys.stderr)
            return 3
        runner.log("  all equal: " + ", ".join(results["checks"]))

    table: list[dict] = []
    steps_out = results["steps"]
    n_rows = main_meta["rows"]["sessions"]

    # ---- 2. ingest
    if "ingest" in steps:
        runner.log(f"ingest: sessions.csv ({n_rows:,} rows) ...")
        ours, ref = runner.interleaved([("ingest_file", "ingest", main_dir, "project"),
                                        ("pandas.read_csv", "ingest", main_dir, "reference")])
        steps_out["ingest"] = {"rehabtrack": ours, "read_csv": ref}
        ratio = _ratio(ours["seconds"], ref["seconds"])
        results["targets"]["ingest_vs_read_csv"] = _target_row("ingest_vs_read_csv", ratio)
        table.append({"step": f"1. ingest sessions.csv ({n_rows / 1e6:.2f} M rows, {ours['file_mb']:.0f} MB): "
                              "`ingest_file`, full validation",
                      "ours": _fmt_s(ours["seconds"]), "ours_mb": _fmt_mb(ours["peak_mb"]),
                      "reference": "`pd.read_csv(parse_dates=...)`", "ref": _fmt_s(ref["seconds"]),
                      "ref_mb": _fmt_mb(ref["peak_mb"]), "ratio": _fmt_ratio(ratio),
                      **_target_cols(results, "ingest_vs_read_csv")})

    # ---- 3. cohort summary, the same aggregates, DuckDB, the loop
    if "summary" in steps:
        runner.log(f"cohort summary at {args.patients:,} patients ...")
        duck, summ, agg = runner.interleaved([("duckdb", "duckdb", main_dir, ""),
                                              ("cohort_summary", "summary", main_dir, "summary"),
                                              ("aggregates", "summary", main_dir, "aggregates")])
        loop = runner.repeated("loop", "loop", main_dir, repeats=args.loop_repeats) if args.loop_patients else None
        steps_out["summary"] = {"cohort_summary": summ, "aggregates": agg, "duckdb": duck, "loop": loop}
        r_summary = _ratio(summ["seconds"], duck["seconds"])
        r_agg = _ratio(agg["seconds"], duck["seconds"])
        speedup = _ratio(loop["seconds"], summ["seconds"]) if loop else None
        memory = _working_mb(summ) / summ["input_mb"] if summ["input_mb"] else None
        results["targets"]["summary_vs_duckdb"] = _target_row("summary_vs_duckdb", r_summary)
        results["targets"]["aggregates_vs_duckdb"] = _target_row("aggregates_vs_duckdb", r_agg)
        results["targets"]["summary_vs_loop_speedup"] = _target_row("summary_vs_loop_speedup", speedup)
        results["targets"]["summary_memory_vs_input"] = _target_row("summary_memory_vs_input", memory)
        duck_ref = f"DuckDB SQL, {args.threads} threads (same aggregates)"
        table.append({"step": "2a. same aggregates from Parquet: `weekly_adherence` + `grouped_ols` + "
                              "`grouped_theil_sen` (load {:.2f} s + compute {:.2f} s)".format(agg["load_s"],
                                                                                                agg["compute_s"]),
                      "ours": _fmt_s(agg["seconds"]), "ours_mb": _fmt_mb(agg["peak_mb"]), "reference": duck_ref,
                      "ref": _fmt_s(duck["seconds"]), "ref_mb": _fmt_mb(duck["peak_mb"]),
                      "ratio": _fmt_ratio(r_agg), **_target_cols(results, "aggregates_vs_duckdb")})
        table.append({"step": "2b. `cohort_summary` from Parquet: adherence, trends, MCID/RCI, PROMs, flags "
                              "(load {:.2f} s + compute {:.2f} s)".format(summ["load_s"], summ["compute_s"]),
                      "ours": _fmt_s(summ["seconds"]), "ours_mb": _fmt_mb(summ["peak_mb"]), "reference": duck_ref,
                      "ref": _fmt_s(duck["seconds"]), "ref_mb": _fmt_mb(duck["peak_mb"]),
                      "ratio": _fmt_ratio(r_summary), **_target_cols(results, "summary_vs_duckdb")})
        if loop:
            table.append({"step": "2c. `cohort_summary` vs a per-patient Python loop (mask per patient, scipy)",
                          "ours": _fmt_s(summ["seconds"]), "ours_mb": _fmt_mb(summ["peak_mb"]),
                          "reference": f"loop, **extrapolated** from {loop['patients_timed']} patients "
                                       f"({_fmt_s(loop['seconds_subset'])} s)",
                          "ref": _fmt_s(loop["seconds"]), "ref_mb": _fmt_mb(loop["peak_mb"]),
                          "ratio": _fmt_ratio(speedup, speedup=True),
                          **_target_cols(results, "summary_vs_loop_speedup", speedup=True)})
        table.append({"step": "2d. `cohort_summary` working memory (peak RSS - RSS after imports) / input tables "
                              f"({summ['input_mb']:.0f} MB in memory)",
                      "ours": "", "ours_mb": _fmt_mb(_working_mb(summ)), "reference": "", "ref": "", "ref_mb": "",
                      "ratio": "-" if memory is None else f"{memory:.2f}",
                      **_target_cols(results, "summary_memory_vs_input")})

    # ---- 4. store
    if "store" in steps:
        info = _build_store(runner, main_dir, main_meta)
        if not info or info.get("available") is False:
            reason = (info or {}).get("reason", "store not available")
            runner.log(f"store: {reason}")
            steps_out["store"] = {"available": False, "reason": reason}
            results["notes"].append(f"Step 3 (store): {reason}; not timed.")
        else:
            runner.log(f"store: caseload of {info['physio_id']} and one patient's detail ...")
            rec = runner.repeated("caseload", "store", main_dir)
            rec["store_load_s"] = info.get("load_s")
            steps_out["store"] = rec
            results["targets"]["caseload_view_s"] = _target_row("caseload_view_s", rec["seconds"])
            results["targets"]["patient_detail_s"] = _target_row("patient_detail_s", rec["detail_s"])
            table.append({"step": f"3a. caseload view of {rec['physio_id']} ({rec['caseload_patients']} patients) "
                                  "from SQLite via `cohort_for` + `cohort_summary` (read {} s + summary {} s)".format(
                                      _fmt_s(rec["caseload_read_s"]), _fmt_s(rec["caseload_summary_s"])),
                          "ours": _fmt_s(rec["seconds"]), "ours_mb": _fmt_mb(rec["peak_mb"]), "reference": "",
                          "ref": "", "ref_mb": "", "ratio": "", **_target_cols(results, "caseload_view_s")})
            table.append({"step": "3b. one patient's detail: `cohort_for(patient_ids=[...])` + `weekly_progress` "
                                  "(read {} s + tables {} s)".format(_fmt_s(rec["detail_read_s"]),
                                                                     _fmt_s(rec["detail_weekly_s"])),
                          "ours": _fmt_s(rec["detail_s"]), "ours_mb": "", "reference": "", "ref": "", "ref_mb": "",
                          "ratio": "", **_target_cols(results, "patient_detail_s")})

    # ---- 5. scaling
    if scaling:
        # every size measured afresh, round-robin over the sizes, so that the growth compares like loads
        runner.log(f"scaling: {', '.join(f'{n:,}' for n in scaling)} patients ...")
        specs = []
        for n in scaling:
            specs += [(f"duckdb {n:,}", "duckdb", scale_dirs[n], ""),
                      (f"cohort_summary {n:,}", "summary", scale_dirs[n], "summary")]
        records = runner.interleaved(specs)
        per_size: dict[str, Any] = {
            str(n): {"duckdb": records[2 * i], "cohort_summary": records[2 * i + 1]} for i, n in enumerate(scaling)}
        steps_out["scaling"] = per_size
        base = 20000 if 20000 in scaling else None
        top = 100000 if 100000 in scaling else None
        growth = None
        if base and top:
            growth = _ratio(per_size[str(top)]["cohort_summary"]["seconds"],
                            per_size[str(base)]["cohort_summary"]["seconds"])
        if growth is not None:
            results["targets"]["scaling_100k_vs_20k"] = _target_row("scaling_100k_vs_20k", growth)
        for n in scaling:
            rec_s, rec_d = per_size[str(n)]["cohort_summary"], per_size[str(n)]["duckdb"]
            row = {"step": f"4. scaling: `cohort_summary` at {n:,} patients "
                           f"({results['cohorts'][str(n)]['rows']['sessions'] / 1e6:.2f} M session rows)",
                   "ours": _fmt_s(rec_s["seconds"]), "ours_mb": _fmt_mb(rec_s["peak_mb"]),
                   "reference": "DuckDB", "ref": _fmt_s(rec_d["seconds"]), "ref_mb": _fmt_mb(rec_d["peak_mb"]),
                   "ratio": _fmt_ratio(_ratio(rec_s["seconds"], rec_d["seconds"])), "target": "", "met": None}
            if n == top and growth is not None:
                row["step"] += f"; {growth:.2f}x the time at 20,000"
                row.update(_target_cols(results, "scaling_100k_vs_20k", label="time vs 20,000 <= {:g}".format(
                    TARGETS["scaling_100k_vs_20k"][1])))
            table.append(row)

    results["table"] = table
    results["machine"]["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["wall_s"] = round(time.perf_counter() - started, 1)
    results["notes"].extend([
        "Ratio = rehabtrack seconds / reference seconds (lower is better). The target for the cohort summary is "
        "row 2b (`cohort_summary` vs DuckDB); row 2a is the like-for-like ratio on exactly the aggregates the SQL "
        "computes.",
        "Both sides of rows 2a-2b start from the Parquet files: DuckDB reads them inside its query, rehabtrack "
        "reads them with pyarrow (ids as categoricals) and its time includes that load.",
        "Peak MB: peak RSS of the child process during the timed call (" +
        (steps_out.get("summary", {}) or {}).get("cohort_summary", {}).get("memory_method", "see README") + ").",
    ])
    out_dir.mkdir(parents=True, exist_ok=True)
    # A run of some steps only must not overwrite the full run's table: it gets its own files.
    stem = "results" if steps == set(ALL_STEPS) else "results-" + "-".join(s for s in ALL_STEPS if s in steps)
    (out_dir / f"{stem}.json").write_text(json.dumps(results, indent=2, default=_json_default))
    markdown = _markdown(results)
    (out_dir / f"{stem}.md").write_text(markdown)
    print(markdown)
    runner.log(f"wrote {out_dir / (stem + '.json')} and {out_dir / (stem + '.md')} in {results['wall_s']} s")
    return 0


def _target_cols(results: dict, name: str, *, speedup: bool = False, label: str | None = None) -> dict:
    row = results["targets"].get(name)
    if row is None:
        return {"target": "", "met": None}
    op, bound = TARGETS[name]
    unit = " s" if name.endswith("_s") else ""
    text = label or (f">= {bound:,.0f}x faster" if speedup else f"{op} {bound:g}{unit}")
    return {"target": text, "met": row["met"]}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--patients", type=int, default=20000, help="cohort size of steps 1-3 (default 20000)")
    p.add_argument("--scaling", default="2000,20000,100000",
                   help="comma-separated cohort sizes of step 4 (default 2000,20000,100000; '' to skip)")
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement, each in a fresh process (default 3)")
    p.add_argument("--loop-patients", type=int, default=200,
                   help="patients the per-patient loop is timed on, then extrapolated (default 200; 0 = skip)")
    p.add_argument("--loop-repeats", type=int, default=None, help="runs of the loop (default --repeats)")
    p.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    p.add_argument("--shape", default="realistic", choices=("realistic", "sample"), help="cohort shape")
    p.add_argument("--seed", type=int, default=None, help="generator seed (default the sample's)")
    p.add_argument("--as-of", default=None, help="analysis date (default the cohort's snapshot date)")
    p.add_argument("--cache", default=str(DEFAULT_CACHE), help="cache directory of generated data")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="directory for results.json and results.md")
    p.add_argument("--steps", default="", help=f"comma-separated subset of {','.join(ALL_STEPS)} (default all)")
    p.add_argument("--quiet", action="store_true", help="print only the final table")
    # internal: one measured run in a child process
    p.add_argument("--child", choices=sorted(_CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--warmup", help=argparse.SUPPRESS)
    p.add_argument("--variant", default="", help=argparse.SUPPRESS)
    p.add_argument("--ingest-check", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.run``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv
    from analysis.sample_data import DEFAULT_SEED
    from benchmarks.cohort_gen import BENCH_SNAPSHOT

    if args.seed is None:
        args.seed = DEFAULT_SEED
    if args.as_of is None:
        args.as_of = BENCH_SNAPSHOT.isoformat()
    if args.loop_repeats is None:
        args.loop_repeats = args.repeats
    if args.child:
        return _child_main(args)
    if args.repeats < 1:
        raise SystemExit("--repeats must be at least 1")
    try:
        import duckdb  # noqa: F401
    except ImportError:
        raise SystemExit("the benchmark's reference needs duckdb: .venv/bin/pip install -r requirements-dev.txt "
                         "(or scripts/setup.sh dev)") from None
    return _parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
