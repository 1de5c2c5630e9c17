"""The patient-detail and researcher figures of analysis.plots: data drawn, axes, scales, palette.

Inputs are small hand-made tables, so every expected value is written down here
(the arithmetic in the comments), not taken from the plotting code.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection, QuadMesh  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import Polygon, Rectangle  # noqa: E402

from analysis.plots import (  # noqa: E402
    OKABE_ITO,
    mcid_band,
    plot_adherence_by_exercise,
    plot_load_progression,
    plot_pain_timeline,
    plot_questionnaires,
    plot_responder_rates,
)

PALETTE = {c.lower() for c in OKABE_ITO.values()}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _span_y(patch) -> tuple[float, float]:
    """Lowest and highest y (data units) of an axhspan patch."""
    if isinstance(patch, Polygon):
        y = patch.get_xy()[:, 1]
    else:
        y = patch.get_path().transformed(patch.get_patch_transform()).vertices[:, 1]
    return float(np.min(y)), float(np.max(y))


def _no_twin_axes(fig) -> None:
    """No two axes occupy the same place (what ax.twinx() would create)."""
    boxes = [tuple(np.round(ax.get_position().bounds, 4)) for ax in fig.axes]
    assert len(boxes) == len(set(boxes)), boxes
    for ax in fig.axes:
        twins = ax.get_shared_x_axes().get_siblings(ax)
        same_place = [t for t in twins if t is not ax and t.get_position().bounds == ax.get_position().bounds]
        assert not same_place


def _colours(ax) -> set[str]:
    """Hex colours of the data artists (lines, markers, bars) of an axis."""
    out: set[str] = set()
    for line in ax.get_lines():
        out.add(to_hex(line.get_color()).lower())
    for coll in ax.collections:
        if isinstance(coll, QuadMesh):
            continue
        for fc in coll.get_facecolors():
            if fc[3] > 0:
                out.add(to_hex(fc, keep_alpha=False).lower())
        if isinstance(coll, LineCollection):
            for ec in coll.get_edgecolors():
                out.add(to_hex(ec, keep_alpha=False).lower())
    for patch in ax.patches:
        if isinstance(patch, Rectangle) and patch.get_fill():
            out.add(to_hex(patch.get_facecolor(), keep_alpha=False).lower())
    return out


def _bars(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle) and not np.isnan(p.get_x())]


# ------------------------------------------------------------------ mcid_band


def test_mcid_band_is_the_easier_of_the_two_rules():
    # baseline 6: 30 % of 6 = 1.8 < 2 -> 1.8; baseline 8: 2.4 > 2 -> 2
    assert mcid_band(6.0, 2.0, 0.30) == pytest.approx(1.8)
    assert mcid_band(8.0, 2.0, 0.30) == pytest.approx(2.0)
    assert mcid_band(6.0, None, 0.30) == pytest.approx(1.8)
    assert mcid_band(6.0, 2.0, None) == pytest.approx(2.0)
    assert np.isnan(mcid_band(float("nan"), 2.0, 0.3))
    assert np.isnan(mcid_band(6.0, None, None))


@given(st.floats(0.1, 10), st.floats(0.1, 5), st.floats(0.05, 0.9))
def test_mcid_band_never_exceeds_either_rule(baseline, points, fraction):
    band = mcid_band(baseline, points, fraction)
    assert band <= points + 1e-12
    assert band <= fraction * baseline + 1e-12
    assert band == pytest.approx(points) or band == pytest.approx(fraction * baseline)


# ------------------------------------------------------------------ pain timeline


def _daily() -> pd.DataFrame:
    # days 0-9, ratings on days 0, 1, 2, 5, 9
    day = np.arange(10)
    nprs = np.array([6, 7, 5, np.nan, np.nan, 8, np.nan, np.nan, np.nan, 4], dtype=float)
    return pd.DataFrame({
        "day": day, "week": day // 7 + 1, "nprs_mean": nprs,
        "n_ratings": np.where(np.isnan(nprs), 0, 1),
        "nprs_rolling": np.linspace(6, 5, 10),
    })


def _flags() -> pd.DataFrame:
    return pd.DataFrame({
        "kind": ["pain_flare", "pain_during_exercise", "pain_during_exercise", "rapid_load_increase"],
        "day": [5, 1, 9, 7],
    })


def test_pain_timeline_draws_the_data_on_a_0_to_10_scale():
    weekly = pd.DataFrame({"week": [1, 2], "nprs_mean": [6.5, 4.0]})
    fig = plot_pain_timeline(_daily(), weekly=weekly, baseline=6.0, mcid_abs=2.0, mcid_pct=0.30, flags=_flags(),
                             rolling_window_days=7)
    ax, ax_flags = fig.axes
    assert ax.get_ylim() == (0, 10)
    assert "NPRS" in ax.get_ylabel() and "0-10" in ax.get_ylabel()
    assert "week" in ax_flags.get_xlabel().lower()
    _no_twin_axes(fig)

    # daily points: only the 5 rated days, at x = day / 7 + 1 + 0.5 / 7 (centre of the day)
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(points) == 1
    xy = points[0].get_offsets()
    np.testing.assert_allclose(xy[:, 1], [6, 7, 5, 8, 4])
    np.testing.assert_allclose(xy[:, 0], np.array([0, 1, 2, 5, 9]) / 7 + 1 + 0.5 / 7)
    # rolling mean: one line with the given values (10 days)
    rolling = [ln for ln in ax.get_lines() if len(ln.get_ydata()) == 10]
    assert len(rolling) == 1
    np.testing.assert_allclose(rolling[0].get_ydata(), np.linspace(6, 5, 10))
    # weekly means: one segment per week at the weekly value, within the week [w, w + 1)
    segs = [c for c in ax.collections if isinstance(c, LineCollection)][0].get_segments()
    assert [s[0][1] for s in segs] == [6.5, 4.0]
    assert all(1 <= s[0][0] < s[1][0] <= 2 for s in segs[:1])
    # baseline 6 and the MCID band 6 -+ min(2, 0.3 x 6 = 1.8) = 4.2 to 7.8
    baselines = [ln for ln in ax.get_lines() if list(ln.get_ydata()) == [6.0, 6.0]]
    assert baselines
    band = [p for p in ax.patches if isinstance(p, (Polygon, Rectangle))]
    assert len(band) == 1
    assert _span_y(band[0]) == pytest.approx((4.2, 7.8))
    # flags: the flare row has 1 marker, pain during exercise 2; load flags are not pain markers
    markers = [c for c in ax_flags.collections if isinstance(c, PathCollection)]
    assert sorted(len(m.get_offsets()) for m in markers) == [1, 2]
    # palette
    assert _colours(ax) <= PALETTE | {to_hex(OKABE_ITO["sky_blue"])}
    assert _colours(ax_flags) <= PALETTE


def test_pain_timeline_x_axis_counts_programme_weeks():
    fig = plot_pain_timeline(_daily())
    ax_flags = fig.axes[-1]
    labels = [t.get_text() for t in ax_flags.get_xticklabels()]
    # days 0-9 -> weeks 1 and 2, labelled at the middle of each week
    assert labels == ["1", "2"]
    np.testing.assert_allclose(ax_flags.get_xticks(), [1.5, 2.5])
    assert ax_flags.get_xlim() == (1, 3)


# ------------------------------------------------------------------ adherence per exercise


def _weekly() -> pd.DataFrame:
    return pd.DataFrame({
        "week": [1, 2, 3, 4],
        "adherence_rate": [0.8, 0.6, 1.0, np.nan],
        "status": ["complete", "complete", "in progress", "not yet"],
    })


def _dose() -> pd.DataFrame:
    return pd.DataFrame({
        "exercise": ["knee_to_chest"] * 3 + ["cat_cow"] * 2,
        "side": ["left"] * 3 + ["both"] * 2,
        "week": [1, 2, 3, 2, 3],
        "prescribed": [True, True, True, False, True],
        "dose_completion": [0.5, 1.0, 2.5, np.nan, 0.25],
        "dose_completion_capped": [0.5, 1.0, 1.0, np.nan, 0.25],
    })


def test_adherence_panel_has_one_bar_per_week_against_the_threshold():
    fig = plot_adherence_by_exercise(_weekly(), _dose(), adherent_threshold=0.7)
    ax = fig.axes[0]
    bars = _bars(ax)
    assert len(bars) == 4  # one per week of the weekly table
    np.testing.assert_allclose([b.get_height() for b in bars], [80, 60, 100, 0])
    # >= 70 % green, below orange (80 green, 60 orange, 100 green; the 'not yet' week has no height)
    colours = [to_hex(b.get_facecolor()).lower() for b in bars]
    assert colours[:3] == [OKABE_ITO["green"].lower(), OKABE_ITO["orange"].lower(), OKABE_ITO["green"].lower()]
    assert ax.get_ylim() == (0, 100)
    assert "%" in ax.get_ylabel()
    assert _colours(ax) <= PALETTE
    assert any(t.get_text() == "not yet" for t in ax.texts)
    _no_twin_axes(fig)


def test_dose_grid_holds_each_exercise_and_side_per_week():
    fig = plot_adherence_by_exercise(_weekly(), _dose(), adherent_threshold=0.7)
    ax_dose = fig.axes[1]
    mesh = [c for c in ax_dose.collections if isinstance(c, QuadMesh)][0]
    grid = np.ma.filled(mesh.get_array().astype(float), np.nan).reshape(2, 4)
    # rows sorted: cat_cow (both), knee_to_chest (left); columns weeks 1-4
    # cat_cow prescribed only in week 3 (25 %); knee_to_chest 50, 100, 100 (capped from 250)
    np.testing.assert_allclose(grid[0], [np.nan, np.nan, 25, np.nan])
    np.testing.assert_allclose(grid[1], [50, 100, 100, np.nan])
    texts = [t.get_text() for t in ax_dose.texts]
    assert "250" in texts  # the uncapped value is written
    assert [t.get_text() for t in ax_dose.get_yticklabels()] == ["Cat-cow", "Knee-to-chest stretch, left"]
    assert mesh.norm.vmin == 0 and mesh.norm.vmax == 100


# ------------------------------------------------------------------ load progression


def test_load_progression_marks_rapid_increases_and_keeps_ratio_on_its_own_axis():
    load = pd.DataFrame({
        "week": [1, 2, 3, 4, 5, 6],
        "dose": [100.0, 100, 100, 100, 300, 100],
        # week 5: 300 / mean(100, 100, 100, 100) = 3.0 > 1.5; week 6: 100 / mean(100, 100, 100, 300) = 0.67
        "acwr": [np.nan, np.nan, np.nan, np.nan, 3.0, 100 / 150],
        "flagged": [False, False, False, False, True, False],
    })
    fig = plot_load_progression(load, acwr_max=1.5, chronic_weeks=4)
    ax_dose, ax_ratio = fig.axes
    bars = _bars(ax_dose)
    assert len(bars) == 6
    np.testing.assert_allclose([b.get_height() for b in bars], load["dose"])
    hatched = [b for b in bars if b.get_hatch()]
    assert len(hatched) == 1 and hatched[0].get_x() + hatched[0].get_width() / 2 == pytest.approx(5.5)
    assert to_hex(hatched[0].get_facecolor()).lower() == OKABE_ITO["vermillion"].lower()
    assert "repetition-seconds" in ax_dose.get_ylabel()
    assert "ratio" in ax_ratio.get_ylabel()
    threshold = [ln for ln in ax_ratio.get_lines() if list(ln.get_ydata()) == [1.5, 1.5]]
    assert threshold
    ratio_line = [ln for ln in ax_ratio.get_lines() if len(ln.get_ydata()) == 6][0]
    np.testing.assert_allclose(ratio_line.get_ydata(), load["acwr"], equal_nan=True)
    assert "descriptive only" in ax_ratio.get_title(loc="left")
    assert _colours(ax_dose) <= PALETTE and _colours(ax_ratio) <= PALETTE
    _no_twin_axes(fig)


# ------------------------------------------------------------------ questionnaires


def test_questionnaires_each_on_its_full_scale_with_the_mcid_band_of_the_first_score():
    proms = pd.DataFrame({
        "instrument": ["odi", "odi", "rmdq", "rmdq", "odi"],
        "completed_at": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-01-01", "2026-02-01", "2026-01-15"]),
        "day": [0, 31, 0, 31, 14],
        "score": [40.0, 24.0, 12.0, 10.0, np.nan],
        "status": ["scored", "scored", "scored", "scored", "not scored: only 5 of 10 sections answered"],
    })
    fig = plot_questionnaires(proms, mcid_percent=0.30)
    ax_odi, ax_rmdq = fig.axes
    assert ax_odi.get_ylim() == (0, 100) and ax_rmdq.get_ylim() == (0, 24)
    assert "%" in ax_odi.get_ylabel() and "points" in ax_rmdq.get_ylabel()
    odi = [ln for ln in ax_odi.get_lines() if len(ln.get_ydata()) == 2][0]
    np.testing.assert_allclose(odi.get_ydata(), [40, 24])  # the unscored one is left out
    np.testing.assert_allclose(odi.get_xdata(), np.array([0, 31]) / 7 + 1 + 0.5 / 7)

    def band(ax):
        return _span_y([p for p in ax.patches if isinstance(p, (Polygon, Rectangle))][0])

    # ODI first 40: min(10, 0.3 x 40 = 12) = 10 -> 30-50; RMDQ first 12: min(5, 3.6) = 3.6 -> 8.4-15.6
    assert band(ax_odi) == pytest.approx((30, 50))
    assert band(ax_rmdq) == pytest.approx((8.4, 15.6))
    _no_twin_axes(fig)


def test_questionnaires_without_scores_say_so():
    proms = pd.DataFrame({"instrument": ["odi"], "completed_at": pd.to_datetime(["2026-01-01"]), "day": [0],
                          "score": [np.nan], "status": ["not scored: only 5 of 10 sections answered"]})
    fig = plot_questionnaires(proms)
    assert "No scored" in fig.axes[0].texts[0].get_text()


# ------------------------------------------------------------------ responder rates


def test_responder_rates_bars_are_percentages_on_0_to_100():
    rates = pd.DataFrame({"rule": ["a", "b"], "n_responders": [3, 1], "n_evaluable": [4, 4],
                          "percent": [75.0, 25.0]})
    fig = plot_responder_rates(rates)
    ax = fig.axes[0]
    bars = _bars(ax)
    assert len(bars) == 2
    # barh: widths are the percentages, first row on top
    assert sorted(b.get_width() for b in bars) == [25.0, 75.0]
    assert ax.get_xlim() == (0, 100)
    assert "%" in ax.get_xlabel()
    assert any(t.get_text() == "75 % (3 of 4)" for t in ax.texts)
    assert _colours(ax) <= PALETTE
