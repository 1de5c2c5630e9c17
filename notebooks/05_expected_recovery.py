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
# # 5. Expected recovery: is this patient where similar patients usually are?
#
# Notebooks 2 and 3 ask whether a patient *has* improved. A physiotherapist's harder question comes
# earlier: **in week 3, is this patient where patients like them usually are?** This notebook answers
# it from the clinic's own completed programmes, in the open, with the model's calibration shown
# (`analysis.expected`, docs/clinical-reference.md section 10):
#
# * a **linear mixed model** of weekly mean pain over programme weeks 2-12, with baseline pain, age
#   band, STarT Back risk group and baseline ODI as covariates (baseline pain and risk group also
#   changing the rate of recovery), and a random intercept and slope per patient, fitted by REML;
# * for each patient in progress, the **expected course and an 80 % prediction interval** from the
#   baseline alone, and a second view given the patient's own weeks so far;
# * **"behind expected"** when the mean pain of the last two complete weeks lies above the interval;
# * **how honest it is**: predicted vs observed by decile, the interval's coverage and the mean
#   absolute error on held-out patients (5-fold cross-validation by patient);
# * a **funnel plot** of observed minus expected per physio against caseload size (Spiegelhalter 2005).
#
# Everything here is a comparison with similar patients of this clinic, never a diagnosis. With an
# 80 % interval, 1 patient in 10 who is exactly like the clinic's completed programmes is above it by
# chance at any week.

# %% tags=["parameters"]
DATA_DIR = "../data/sample"
AS_OF = "2026-11-20"

# %%
import warnings

import matplotlib.pyplot as plt
import pandas as pd

from analysis import expected as ex
from analysis import plots_expected
from analysis.sample_data import load_cohort

# %matplotlib inline

pd.set_option("display.precision", 2)
warnings.filterwarnings("ignore", module="statsmodels")  # optimiser chatter; convergence is checked below
cohort = load_cohort(DATA_DIR)
inputs = ex.prepare_inputs(cohort, AS_OF)
cov = inputs.covariates

# %% [markdown]
# ## The completed programmes the model learns from
#
# Only programmes that have ended are used (patients in progress are the ones we want to assess, so
# they must not be in the fit). A programme needs a baseline week (week 1 rated on at least 5 days)
# and at least one rated week after it. Below the documented minimum the feature says "not enough
# completed programmes yet" instead of guessing.

# %%
model = ex.fit_expected_course(inputs)
n_completed = int(cov["completed"].sum())
print(f"{len(cov)} patients, {n_completed} completed programmes by {inputs.as_of.date()}; "
      f"minimum {ex.MIN_COMPLETED_PATIENTS}.")
if isinstance(model, ex.NotEnoughData):
    print(model.message)
else:
    print(f"Model fitted on {model.n_patients} of them ({model.n_obs} patient-weeks, weeks 2-{model.max_week}); "
          f"optimiser {model.method}, converged: {model.converged}.")
    print("Baseline STarT Back risk of the patients:", cov["startback"].value_counts().to_dict())

# %%
ex.effects_table(model).round(3)

# %%
high = model.effect("t_sb_high")
direction = "more slowly" if high["estimate"] > 0 else "faster"
print(
    f"Patients at high STarT Back risk saw their pain change by {high['estimate']:+.2f} points a week "
    f"compared with low-risk patients (95 % CI {high['ci_low']:+.2f} to {high['ci_high']:+.2f}): "
    f"their pain fell {direction}, as was planted in the sample (data/sample/README.md)."
)

# %% [markdown]
# ## Expected curves for patients in progress
#
# The shaded band is where 80 % of patients like this one (same baseline pain, risk group, age band and
# ODI) are expected to be each week; the dashed line and dotted limits are the same given the patient's
# own weeks so far. Points are the patient's weekly means. We draw one patient of each status.

# %%
status = ex.expected_status(model, inputs)
course = ex.expected_course(model, inputs)
in_progress = status.loc[~status["in_fit"]]
shown = [in_progress.loc[in_progress["status"] == s, "patient_id"].iloc[0]
         for s in (ex.STATUS_BEHIND, ex.STATUS_ON_TRACK, ex.STATUS_AHEAD)
         if (in_progress["status"] == s).any()]
fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 3.8), layout="constrained", sharey=True)
for ax, pid in zip(list(pd.Series(axes).explode()) if len(shown) > 1 else [axes], shown, strict=True):
    row = status.set_index("patient_id").loc[pid]
    plots_expected.plot_expected_course(course, pid, ax=ax, title=f"{pid}: {row['status']}")

# %%
for pid in shown:
    print(pid, "-", status.set_index("patient_id").loc[pid, "text"])
counts = in_progress["status"].value_counts()
print("\nPatients in progress by status:", counts.to_dict())

# %% [markdown]
# ## How honest is it? Calibration on held-out patients
#
# Each completed programme is predicted, from its baseline only, by a model fitted on the other four
# fifths of the completed programmes. If the model is calibrated, the decile points lie on the
# diagonal and the 80 % interval covers about 80 % of the held-out weeks.

# %%
folds = ex.fold_models(inputs)
cal = ex.calibration(inputs, folds=folds)
plots_expected.plot_calibration(cal);

# %%
print(
    f"{cal.folds}-fold cross-validation by patient on {cal.n_patients} completed programmes "
    f"({cal.n_weeks} held-out patient-weeks): the {cal.interval * 100:.0f} % interval covered "
    f"{cal.coverage * 100:.0f} % of them (given the weeks up to week {cal.condition_week}, "
    f"{cal.coverage_given_weeks * 100:.0f} % of the later weeks); mean absolute error {cal.mae:.2f} points."
)
if cal.fits_below_minimum:
    print(f"Each training fold had fewer than {ex.MIN_COMPLETED_PATIENTS} patients: these numbers describe a "
          "model fitted on even fewer programmes than the one in use.")
cal.by_week

# %% [markdown]
# ## Are the planted slow recoverers flagged early?
#
# The sample's generator planted flat and worsening courses (slow recoverers), and gave them more often
# a high STarT Back risk. Here every patient is compared out of sample (patients in progress by the
# model, completed programmes by the fold model that never saw them) at the ends of weeks 2, 3 and 4.

# %%
outcome = cohort.planted.loc[cohort.planted["behaviour"] == "outcome"].set_index("patient_id")["detail"]
weeks = pd.concat([ex.held_out_status(model, inputs, at_week=k, folds=folds) for k in (2, 3, 4)])
assessed = weeks.loc[weeks["status"].isin([ex.STATUS_BEHIND, ex.STATUS_ON_TRACK, ex.STATUS_AHEAD])]
flagged = assessed.groupby("patient_id")["status"].apply(lambda s: bool((s == ex.STATUS_BEHIND).any()))
group = flagged.index.map(outcome).map(lambda o: "slow recoverer" if o in ("flat", "worsening") else "responder")
by_week_4 = flagged.groupby(group).agg(patients="size", behind_by_week_4="sum", share="mean")
by_week_4

# %%
slow, other = by_week_4.loc["slow recoverer"], by_week_4.loc["responder"]
print(
    f"By the end of week 4, {int(slow['behind_by_week_4'])} of {int(slow['patients'])} assessed planted slow "
    f"recoverers ({slow['share'] * 100:.0f} %) had been 'behind expected' at least once, against "
    f"{int(other['behind_by_week_4'])} of {int(other['patients'])} assessed responders ({other['share'] * 100:.0f} %)."
)

# %% [markdown]
# ## Fair comparison of physios: a funnel plot
#
# Each patient's observed minus expected pain (of their latest status comparison, out of sample) is
# averaged per physio. Because the expectation already accounts for baseline pain, risk group, age and
# ODI, a physio with harder patients is not penalised. Points inside the funnel are compatible with
# chance; the limits narrow as the caseload grows. On the admin and researcher pages the physio
# identifiers are pseudonymised, and physios do not see each other's positions unless an admin enables
# it.

# %%
latest = ex.held_out_status(model, inputs, folds=folds)
funnel = ex.physio_funnel(latest)
plots_expected.plot_funnel(funnel);

# %%
funnel.physios

# %%
outside = funnel.physios.loc[funnel.physios["position"] != "within", "physio_id"].tolist()
print(f"{funnel.n_patients} patients compared; pooled SD of observed - expected {funnel.sd:.2f} points. "
      + (f"Outside the 95 % limits: {', '.join(outside)}." if outside else "Every physio is inside the 95 % limits."))

# %% [markdown]
# ## Methods, as the report will state them

# %%
print(ex.methods_text(model, cal))

# %% [markdown]
# ## Limits
#
# * **One clinic, observational data.** "Expected" means what this clinic's completed programmes did
#   from a similar start; it does not say what would have happened with other care.
# * **Few completed programmes.** The sample has just over the minimum; the cross-validated coverage
#   above is the honest measure of what that costs (variance components are plugged in, so intervals
#   are slightly too narrow with few patients).
# * **A straight line per patient** approximates courses that fall fast and then level off.
# * **1 in 10 by chance.** "Behind expected" is a reason to look at a patient, not a finding about them.
