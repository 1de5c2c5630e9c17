"""Shared test configuration: hypothesis profiles and paths."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# The one clock of the app (analysis.timeline.today) is frozen on the sample's snapshot date, so the sample
# store is seeded unmoved and the dashboard analyses up to 2026-11-20 (the dates the tests were written for).
# The e2e servers inherit it (tests/e2e/conftest.py). A test of the live clock sets or removes it itself.
os.environ.setdefault("REHABTRACK_TODAY", "2026-11-20")

settings.register_profile(
    "ci", max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "data" / "sample"
# Reference data copied into the project with their origin and licence (tests/fixtures/reference/SOURCES.md).
REFERENCE_DIR = ROOT / "tests" / "fixtures" / "reference"
PG_URL_ENV = "REHABTRACK_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def pg_server():
    """The PostgreSQL server of the PostgreSQL variants: ``REHABTRACK_TEST_POSTGRES_URL`` when set
    (./test.sh sets it), else a throw-away cluster started here and stopped after the session."""
    base = os.environ.get(PG_URL_ENV)
    if base:
        yield base
        return
    script = ROOT / "scripts" / "postgres-for-tests.sh"
    started = subprocess.run([str(script), "start"], capture_output=True, text=True, timeout=300)
    assert started.returncode == 0 and started.stdout.strip(), (
        f"no PostgreSQL for the store tests: set {PG_URL_ENV} or let {script} start one:\n{started.stderr}"
    )
    url = started.stdout.strip()
    yield url
    subprocess.run([str(script), "stop", url], capture_output=True, timeout=120)
