# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. Safety and load: flares, pain during exercise, and building up the dose
#
# The programme's instructions are to "start gently and build gradually over weeks" and to stop when
# an exercise hurts. This notebook describes, for the cohort, how often the safety flags of
# `analysis.flags` fire (docs/clinical-reference.md section 5):
#
# * **pain flare**: a daily NPRS >= 2 points above the patient's trailing 7-day median (Costa et al.
#   2021); self-reported flares are counted separately - most days patients call a flare do not show
#   above-average pain;
# * **pain during exercise**: the pain-monitoring model (Silbernagel et al. 2007): 0-3 safe,
#   4-5 acceptable, > 5 too much; also a rise of >= 2 above the pre-session pain;
# * **rapid load increase**: weekly dose (sets x reps x hold) over the mean of the previous 4 weeks
#   (acute:chronic ratio > 1.5). The ratio comes from athletes and is contested (Impellizzeri et al.
#   2020): **descriptive only**.
#
# The flags are for the physiotherapist; none is advice to a patient.

# %% tags=["parameters"]
DATA_DIR = "../data/sample"
AS_OF = "2026-11-20"

# %%
import pandas as pd

from analysis import plots
from analysis.cohort import weekly_progress
from analysis.flags import load_progression, safety_flags
from analysis.report import flag_rates, load_vs_flares, pain_during_zones
from analysis.sample_data import load_cohort
from analysis.settings import DEFAULT_SETTINGS

# %matplotlib inline

pd.set_option("display.precision", 1)
settings = DEFAULT_SETTINGS
cohort = load_cohort(DATA_DIR)
as_of = cohort.as_of(AS_OF)
weekly = weekly_progress(cohort, as_of=as_of, settings=settings)
flags = safety_flags(cohort.sessions, cohort.pain, cohort.patients, as_of=as_of, settings=settings,
                     prescriptions=cohort.prescriptions)
sessions_upto = cohort.sessions[cohort.sessions["performed_at"] < as_of + pd.Timedelta(days=1)]

# %% [markdown]
# ## How often does each flag fire?
#
# Rates per 100 patient-weeks of programme (the weeks that have started), and the share of patients
# flagged at least once.

# %%
rates = flag_rates(flags, weekly)
plots.plot_flag_rates(rates, title="Safety flags in the cohort");
rates

# %% [markdown]
# ## Pain-based and self-reported flares are different things
#
# How many self-reported flare days also meet the pain-based rule on the same day?

# %%
kinds = flags["kind"].astype(str)
pain_days = set(zip(flags.loc[kinds == "pain_flare", "patient_id"], flags.loc[kinds == "pain_flare", "date"]))
self_days = list(zip(flags.loc[kinds == "self_reported_flare", "patient_id"],
                     flags.loc[kinds == "self_reported_flare", "date"]))
both = sum(day in pain_days for day in self_days)
print(f"{len(self_days)} self-reported flare days; {both} of them ({both / max(len(self_days), 1):.0%}) are also "
      f"pain-based flares (>= {settings.flare_rise_points:g} points above the running median)")

# %% [markdown]
# ## Pain during exercise
#
# Every exercise row with a pain-during rating, by zone of the pain-monitoring model.

# %%
pain_during_zones(sessions_upto["pain_during"], settings)

# %% [markdown]
# ## Load progression and flares
#
# For each patient-week: the weekly dose and the acute:chronic ratio (from week 5, once 4 weeks of
# history exist), the chronic load floored at the prescribed load, and a week at or below its prescription
# never flagged. Is a pain flare (that week or the next) more frequent after a rapid increase?

# %%
load = load_progression(sessions_upto, cohort.patients, settings=settings, prescriptions=cohort.prescriptions)
load_weeks, load_summary = load_vs_flares(load, flags, cohort.patients, settings)
plots.plot_load_vs_flares(load_summary, title="Pain flares after load changes (descriptive)");
load_summary

# %% [markdown]
# ## One patient's load and flares
#
# The patient with the highest acute:chronic ratio: weekly dose, with the weeks that had a pain flare.

# %%
top = load_weeks.loc[load_weeks["acwr"].idxmax(), "patient_id"] if load_weeks["acwr"].notna().any() else None
load_weeks.loc[load_weeks["patient_id"] == top,
               ["patient_id", "week", "dose", "change_pct", "acwr", "load_group", "pain_flares"]]

# %% [markdown]
# ## Reading
#
# Pain flares are common in a back-pain cohort - most patients have at least one - and self-reported
# flares overlap only partly with pain-based ones, as Costa et al. (2021) found: both are worth showing
# to the physiotherapist, separately. Pain during exercise stays mostly in the safe and acceptable
# zones. Weeks after a rapid load increase are followed by a flare about as often as other weeks in
# this sample; with patients choosing their own load, and a ratio whose use is contested, this is a
# description for the physiotherapist's review, not evidence that load causes flares.
