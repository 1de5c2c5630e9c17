"""Expected recovery (issue 20): the stored model, its honesty, and the fair comparison of physios.

Administrators refit the model (a button; ``rehabtrack refit-expected`` does the same) and decide
whether physios may see the comparison of physios (a clinic switch, default off). Researchers and
administrators see the funnel plot (pseudonymised physio labels), the cross-validated calibration,
the interval's coverage, the mean absolute error and the methods text; physios see the same only
when an administrator enabled it. Every number comes from ``analysis`` through ``dashboards.state``.
"""

from __future__ import annotations

import io
import logging

import matplotlib.pyplot as plt
import pandas as pd
import streamlit as st
from matplotlib.figure import Figure

from analysis.errors import RehabtrackError
from analysis.escaping import escape_markdown
from analysis.expected import NotEnoughData, effects_table, methods_text
from analysis.plots_expected import plot_calibration, plot_funnel
from analysis.roles import ADMIN, PHYSIO, RESEARCHER, AccessDenied
from dashboards import auth, state

logger = logging.getLogger(__name__)

user = auth.require_role(RESEARCHER, ADMIN, PHYSIO)
st.title("Expected recovery")
st.caption("Each patient's weekly pain against the course similar patients of this clinic took (a mixed model of "
           "the clinic's completed programmes; docs/clinical-reference.md section 10). A comparison with similar "
           "patients of this clinic, never a diagnosis.")


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=96)
    finally:
        plt.close(fig)
    return buffer.getvalue()


record = state.expected_record()
if user.role == ADMIN:
    with st.container(border=True):
        st.subheader("The model in use")
        in_use = st.empty()  # filled after the button, so that a refit shows at once
        if st.button("Refit the expected-course model", key="refit_expected", icon=":material/refresh:",
                     help="Fits the model on every completed programme, with its 5-fold cross-validation "
                          "(about a minute), and stores it with today's date, the data version and the settings."):
            try:
                with st.spinner("Fitting the model and its cross-validation..."):
                    result = state.refit_expected(user)
            except RehabtrackError as exc:
                st.error(f"The model could not be refitted: {escape_markdown(exc)}")
            else:
                if isinstance(result, NotEnoughData):
                    st.warning(f"{escape_markdown(result.short)}. A completed programme counts when it has a "
                               "baseline week and a rated week after it. Nothing was stored; the model in use (if "
                               "any) stays.")
                else:
                    logger.info("%s refitted the expected-course model from the dashboard", user.username)
                    st.success(f"Refitted on {result.model.n_patients} completed programmes "
                               f"({result.model.n_obs} patient-weeks); stored and in use from now on.")
                    record = state.expected_record()
        with in_use.container():
            if record is None:
                st.info("No expected-course model has been fitted yet. Refit it once the clinic has enough completed "
                        "programmes; until then the caseload and the patient pages show no comparison.")
            else:
                st.write(f"Model {record['model_id']}: fitted {pd.Timestamp(record['fitted_at']):%d %b %Y %H:%M} UTC "
                         f"by {escape_markdown(record['fitted_by'])} on the data as of "
                         f"{pd.Timestamp(record['as_of']):%d %b %Y} (data version "
                         f"{escape_markdown(record['data_version'])}), {record['n_patients']} completed programmes. "
                         "Predictions use it until the next refit.")
        visible = state.physio_comparison_visible()
        wanted = st.toggle("Physios may see the comparison of physios (pseudonymised labels)", value=visible,
                           key="physio_comparison_visible",
                           help="Off by default: a physio then sees their own patients' comparison only.")
        if wanted != visible:
            state.set_physio_comparison_visible(user, wanted)
            st.success("Physios now see the comparison of physios." if wanted
                       else "Physios no longer see the comparison of physios.")

if user.role == PHYSIO and not state.physio_comparison_visible():
    st.info("The comparison of physios is not shown to physios at this clinic: an administrator can enable it. "
            "Your own patients' comparison with similar patients is on the Caseload and Patient detail pages.")
    st.stop()

try:
    fit = state.expected_fit_for_user(user)
    comparison = state.physio_comparison_for_user(user) if fit is not None else None
except AccessDenied as exc:
    st.info(escape_markdown(exc))
    st.stop()
except RehabtrackError as exc:
    st.error(f"The comparison cannot be made: {escape_markdown(exc)}. Ask the administrator.")
    st.stop()
if fit is None or comparison is None:
    st.info("No expected-course model yet: an administrator refits it here (or with `rehabtrack refit-expected`) "
            "once the clinic has enough completed programmes.")
    st.stop()

model, cal = fit.model, fit.calibration
level = f"{model.spec.interval * 100:.0f} %"
c1, c2, c3, c4 = st.columns(4)
c1.metric("Completed programmes in the model", model.n_patients)
c2.metric(f"Coverage of the {level} interval", "n/a" if cal.status != "calibrated" else f"{cal.coverage * 100:.0f} %",
          help=f"Share of held-out patient-weeks inside the interval ({cal.folds}-fold cross-validation by patient); "
               f"{level} is the target.")
c3.metric("Mean absolute error", "n/a" if cal.status != "calibrated" else f"{cal.mae:.2f} points",
          help="Held-out weekly pain vs the expected value from the baseline only (NPRS points).")
c4.metric("Held-out patient-weeks", cal.n_weeks)

st.subheader("Fair comparison of physios")
own = f" Your label is **{comparison.own_label}**." if comparison.own_label else ""
st.caption("Per physio: the mean of observed minus expected pain of their patients at each patient's latest "
           "complete weeks, with its 95 % CI, against the number of patients, inside the 95 % and 99.8 % control "
           "limits (Spiegelhalter 2005). Expected values come from each patient's baseline (pain, STarT Back, age, "
           "ODI), so a physio with harder patients is not penalised; baseline pain being in the model, this is also "
           "observed minus expected change since the baseline. Above 0: more pain than expected. Completed "
           "programmes are compared by the cross-validation fold that left them out. Labels are pseudonyms." + own)
st.image(_png(plot_funnel(comparison.funnel)), width="stretch")
phys = comparison.funnel.physios
shown = pd.DataFrame({
    "physio": phys["physio_id"].astype(str) + phys["physio_id"].astype(str).map(
        lambda p: " (you)" if p == comparison.own_label else ""),
    "patients": phys["n"], "observed - expected (points)": phys["o_minus_e"].round(2),
    "95 % CI": phys["ci_low"].map("{:.2f}".format) + " to " + phys["ci_high"].map("{:.2f}".format),
    "position": phys["position"],
})
st.dataframe(shown, hide_index=True, width="stretch")

st.subheader("Calibration on held-out patients")
left, right = st.columns([1, 1])
left.image(_png(plot_calibration(cal)), width="stretch")
with right:
    if len(cal.deciles):
        order = [c for c in ("decile", "n", "expected", "observed", "coverage") if c in cal.deciles.columns]
        st.dataframe(cal.deciles[order].round(2), hide_index=True, width="stretch",
                     column_config={"expected": "mean predicted", "observed": "mean observed",
                                    "coverage": f"{level} interval covered"})
    if cal.fits_below_minimum:
        st.caption(f"{cal.fits_below_minimum} of the {cal.folds} training folds had fewer than the minimum of "
                   f"{model.spec.min_patients} completed programmes.")

with st.expander("Methods", expanded=True):
    st.markdown(escape_markdown(methods_text(model, cal)))
    st.caption(f"Model fitted on the data as of {model.as_of:%d %b %Y}, data version "
               f"{escape_markdown(model.data_version or 'not recorded')}.")
if user.role in (RESEARCHER, ADMIN):
    with st.expander("Fixed effects (points of weekly pain)"):
        st.dataframe(effects_table(model).round(3), hide_index=True, width="stretch")
