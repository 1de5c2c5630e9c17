# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Cohort overview: who is in it, how complete are the logs, and does adherence hold up?
#
# Before asking whether the home-exercise programme works, a clinician-researcher wants to know **who**
# the patients are, **how much** of their programme we actually observe, and whether they kept doing
# the exercises. Home-exercise adherence usually fades over the weeks (docs/clinical-reference.md
# section 4), and a diary with many empty days cannot support a claim about pain. This notebook
# answers three questions:
#
# 1. Who is in the cohort (physiotherapist, age band, where they are in the programme)?
# 2. How complete are the data: the share of programme days with a pain rating and of weeks with any log?
# 3. How does session adherence evolve over programme weeks?
#
# Every number comes from `analysis/` (no statistics live only in this notebook). Change `DATA_DIR` to
# run it on another cohort directory (the five canonical CSV files; see `data/sample/README.md`).

# %% tags=["parameters"]
DATA_DIR = "../data/sample"  # a directory with patients.csv, prescriptions.csv, sessions.csv, pain.csv, proms.csv
AS_OF = "2026-11-20"  # analysis date; the sample's snapshot date. None = the last entry in the data

# %%
import pandas as pd

from analysis import plots
from analysis.cohort import cohort_summary, weekly_progress
from analysis.report import cohort_characteristics, data_completeness, weekly_overview
from analysis.sample_data import load_cohort
from analysis.settings import DEFAULT_SETTINGS

# %matplotlib inline

pd.set_option("display.precision", 2)
cohort = load_cohort(DATA_DIR)
as_of = cohort.as_of(AS_OF)
summary = cohort_summary(cohort, as_of=as_of)
weekly = weekly_progress(cohort, as_of=as_of)
print(f"{len(cohort.patients)} patients, analysed as of {as_of.date()}")

# %% [markdown]
# ## Who is in the cohort
#
# Counts and percentages of all patients ("Table 1"). *Programme status* says whether a patient is
# still logging, has finished the prescribed weeks, or stopped logging while the programme ran.

# %%
characteristics = cohort_characteristics(summary, cohort.patients)
characteristics

# %% [markdown]
# ## How complete are the data?
#
# For each patient, over the programme weeks that have started: the share of days with a pain rating
# (docs/clinical-reference.md section 3) and the share of weeks with any session or rating.
# Baseline and current pain need at least 5 rated days out of 7, so patients with sparse diaries will
# be "not evaluable" in notebook 3.

# %%
completeness = data_completeness(weekly)
completeness[["share_days_rated", "share_weeks_logged"]].describe(percentiles=[0.25, 0.5, 0.75])

# %%
sparse = completeness.loc[completeness["share_days_rated"] < 0.5, ["patient_id", "weeks_elapsed", "share_days_rated"]]
print(f"{len(sparse)} of {len(completeness)} patients rated pain on fewer than half of their programme days")
sparse

# %% [markdown]
# ## Adherence over programme weeks
#
# Session adherence is sessions done as a share of sessions prescribed, per programme week (capped at
# 100 %). The band is the interquartile range across patients; the dashed line is the adherent
# threshold (70 %, MiSpEx cohort). The numbers under the weeks are the patients in the programme that
# week: later weeks rest on fewer patients because programmes started on different dates.

# %%
overview = weekly_overview(weekly)
overview[["week", "n_patients", "adherence_median", "adherence_q1", "adherence_q3", "share_meeting_plan", "nprs_mean"]]

# %%
plots.plot_cohort_weekly(overview, adherent_threshold=DEFAULT_SETTINGS.adherent_threshold,
                         title="Session adherence and pain by programme week");

# %% [markdown]
# ## Reading
#
# The cohort's median adherence starts below the 70 % threshold and drifts down over the weeks, the
# pattern the literature describes for home programmes; only a minority of patients meet the plan in
# any week after the first. Mean pain falls in the first weeks and then flattens. Whether the patients
# who exercise more are the ones whose pain falls is a different question - the subject of notebook 2,
# where it is answered with a mixed model rather than from these cohort averages (which mix patients
# at different stages).

# %%
first, last = overview.iloc[0], overview.iloc[-1]
print(
    f"Median adherence: week {int(first['week'])} {first['adherence_median']:.0%} "
    f"-> week {int(last['week'])} {last['adherence_median']:.0%}; "
    f"share meeting the plan: {first['share_meeting_plan']:.0%} -> {last['share_meeting_plan']:.0%}."
)
