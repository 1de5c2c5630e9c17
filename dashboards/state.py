"""Data access for the dashboard pages: cached calls into ``analysis``.

Pages never compute statistics; they call these functions, which call the
library and cache the result for the session of the server.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from analysis.cohort import CohortTables, weekly_progress
from analysis.sample_data import SAMPLE_DIR, SNAPSHOT_DATE, load_cohort
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.trends import daily_pain


def data_dir() -> Path:
    """The directory the dashboard reads its cohort from (``REHABTRACK_SAMPLE_DIR`` or the sample)."""
    return Path(os.environ.get("REHABTRACK_SAMPLE_DIR", SAMPLE_DIR))


@st.cache_data(show_spinner="Reading the cohort...")
def cohort(directory: str) -> CohortTables:
    return load_cohort(Path(directory))


def as_of(directory: str) -> pd.Timestamp:
    """The analysis date: the sample's snapshot date for the sample, else the last entry."""
    if Path(directory).resolve() == Path(SAMPLE_DIR).resolve():
        return pd.Timestamp(SNAPSHOT_DATE)
    return cohort(directory).as_of()


def settings() -> Settings:
    return DEFAULT_SETTINGS


@st.cache_data(show_spinner="Computing weekly progress...")
def weekly(directory: str) -> pd.DataFrame:
    return weekly_progress(cohort(directory), as_of=as_of(directory), settings=settings())


@st.cache_data
def daily(directory: str) -> pd.DataFrame:
    c = cohort(directory)
    return daily_pain(c.pain, c.patients)
