"""Timing of the expected-course predictions (issue 20): 20,000 patients in under 10 s.

Run from the project root::

    .venv/bin/python -m benchmarks.expected_bench --patients 20000

The model is fitted once on the completed programmes of a smaller cohort from the same
generator (fitting is an explicit, occasional step, not part of the timing); then the
script times, on a ``--patients`` cohort from :func:`analysis.sample_data.generate_cohort`:

1. :func:`analysis.expected.prepare_inputs` (weekly pain, baseline covariates, scoring of
   STarT Back and ODI);
2. :func:`analysis.expected.expected_course` (both views, every patient x week);
3. :func:`analysis.expected.expected_status` (one row per patient);

and prints one Markdown row per step and their total, the median of ``--repeats`` runs.
It is a stand-alone script rather than a step of ``benchmarks/run.py``, whose child
processes and reference checks are built around the cohort summary.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from datetime import date

from analysis.expected import expected_course, expected_status, fit_expected_course, prepare_inputs
from analysis.sample_data import SNAPSHOT_DATE, generate_cohort

#: Issue 20's bound for the per-patient predictions at 20,000 patients (seconds).
TARGET_S = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--fit-patients", type=int, default=600, help="cohort the model is fitted on")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    as_of = date.fromordinal(SNAPSHOT_DATE.toordinal())

    began = time.perf_counter()
    fit_cohort = generate_cohort(n_patients=args.fit_patients, seed=args.seed + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit_expected_course(fit_cohort, as_of)
    print(f"fitted on {getattr(model, 'n_patients', 0)} completed programmes in {time.perf_counter() - began:.1f} s")
    began = time.perf_counter()
    cohort = generate_cohort(n_patients=args.patients, seed=args.seed)
    print(f"generated {args.patients} patients ({len(cohort.pain)} pain rows) in {time.perf_counter() - began:.1f} s")

    steps: dict[str, list[float]] = {"prepare_inputs": [], "expected_course": [], "expected_status": [], "total": []}
    rows = 0
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        inputs = prepare_inputs(cohort, as_of)
        t1 = time.perf_counter()
        course = expected_course(model, inputs)
        t2 = time.perf_counter()
        status = expected_status(model, inputs)
        t3 = time.perf_counter()
        steps["prepare_inputs"].append(t1 - t0)
        steps["expected_course"].append(t2 - t1)
        steps["expected_status"].append(t3 - t2)
        steps["total"].append(t3 - t0)
        rows = len(course)
    print(f"\n{len(status)} patients, {rows} patient-weeks predicted (median of {args.repeats} runs)\n")
    print("| step | seconds |")
    print("|---|---|")
    for name, values in steps.items():
        print(f"| {name} | {statistics.median(values):.2f} |")
    total = statistics.median(steps["total"])
    ok = total < TARGET_S
    print(f"\ntarget: < {TARGET_S:g} s at 20,000 patients -> {'met' if ok else 'NOT met'} ({total:.2f} s)")
    return 0 if ok or args.patients != 20_000 else 1


if __name__ == "__main__":  # pragma: no cover - command line
    raise SystemExit(main())
