"""Pain trends: daily, weekly and rolling pain, and per-patient trend statistics.

Everything here runs on the canonical ``pain`` and ``patients`` tables
(:mod:`analysis.schema`) and the programme clock of :mod:`analysis.timeline`
(day 0 = ``programme_start``, ``week = day // 7 + 1``).

* :func:`daily_pain` - one row per patient and day with ratings (mean NPRS);
* :func:`weekly_pain` - one row per patient and programme week (mean, median,
  ratings, share of days rated), weeks without ratings included;
* :func:`rolling_pain` - a trailing calendar-day rolling mean for plots;
* :func:`pain_trends` - one row per patient: the trend rule (Mann-Kendall
  direction, least-squares size, flare ratings left out; docs/clinical-reference.md
  section 3) with its label and sentence, and descriptive OLS, Theil-Sen and
  Kendall statistics of every rated day;
* :func:`grouped_ols`, :func:`grouped_theil_sen`, :func:`grouped_kendall` - the
  vectorised kernels behind :func:`pain_trends`, usable for any grouped
  ``(x, y)`` data. They take integer group codes and compute every group at
  once: OLS from grouped sums (``np.bincount``), Theil-Sen and Kendall from all
  pairs of points, formed in blocks of groups of equal size (the fastest
  approach measured on this machine). There is no Python loop over groups,
  only over distinct group sizes and memory blocks.

Ratings made before a patient's programme start (day < 0) are excluded from
every table of this module: the trend is the course of pain *during* the
programme. Ratings of patients missing from ``patients`` are ignored.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as sps

from analysis.errors import MissingColumnsError, SettingsError
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.timeline import DateLike, patient_codes, resolve_as_of, to_day, week_of_day
from analysis.validation import checks_tables

__all__ = [
    "STATUS_OK",
    "STATUS_NOT_ENOUGH_DATA",
    "TREND_IMPROVING",
    "TREND_WORSENING",
    "TREND_NO_CLEAR",
    "daily_pain",
    "weekly_pain",
    "rolling_pain",
    "grouped_ols",
    "grouped_theil_sen",
    "grouped_kendall",
    "pain_trends",
    "p_value_text",
    "trend_for_patient",
]

#: ``pain_trends.status`` when the statistics were computed.
STATUS_OK = "ok"
#: ``pain_trends.status`` when the patient rated pain on too few distinct days.
STATUS_NOT_ENOUGH_DATA = "not enough data"
#: ``pain_trends.trend``: Mann-Kendall p < 1 - trend_confidence with tau < 0, and a least-squares slope < 0.
TREND_IMPROVING = "improving"
#: ``pain_trends.trend``: Mann-Kendall p < 1 - trend_confidence with tau > 0, and a least-squares slope > 0.
TREND_WORSENING = "worsening"
#: ``pain_trends.trend``: otherwise (no significant monotone trend, or the test and the slope disagree).
TREND_NO_CLEAR = "no clear trend"

#: Target size in bytes of one block of pairwise differences in the pair kernels.
_BLOCK_BYTES = 2 * 1024 * 1024
#: Largest group size for which Kendall's exact null distribution is tabulated
#: (scipy's ``method='auto'`` uses the exact p-value for n <= 33 without ties).
_KENDALL_EXACT_MAX_N = 33
_NONE = np.array(None, dtype=object)  # "no label" in np.where / np.select (None as a 0-d object array)


# --------------------------------------------------------------------------- helpers


def _require(frame: pd.DataFrame, table: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MissingColumnsError(table, missing, found=[str(c) for c in frame.columns])


def _check_confidence(confidence: float) -> float:
    conf = float(confidence)
    if not 0.0 < conf < 1.0:
        raise SettingsError(f"the confidence level must be between 0 and 1 (for example 0.95), got {confidence!r}")
    return conf


def _prepare_groups(codes: Any, x: Any, y: Any, n_groups: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Validate kernel inputs; drop rows with a negative code or a non-finite x or y."""
    codes = np.asarray(codes).astype(np.int64, copy=False).ravel()
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if not (len(codes) == len(x) == len(y)):
        raise ValueError(f"codes, x and y must have the same length, got {len(codes)}, {len(x)} and {len(y)}")
    if n_groups is None:
        n_groups = int(codes.max()) + 1 if len(codes) else 0
    keep = (codes >= 0) & (codes < n_groups) & np.isfinite(x) & np.isfinite(y)
    if not keep.all():
        codes, x, y = codes[keep], x[keep], y[keep]
    return codes, x, y, int(n_groups)


def _group_min_max(codes: np.ndarray, values: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    lo = np.full(n_groups, np.inf)
    hi = np.full(n_groups, -np.inf)
    np.minimum.at(lo, codes, values)
    np.maximum.at(hi, codes, values)
    return lo, hi


def _sorted_medians(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Medians of consecutive sorted segments (NaN for empty segments), as ``np.median``."""
    out = np.full(len(counts), np.nan)
    has = counts > 0
    s, c = starts[has], counts[has]
    lo = values[s + (c - 1) // 2]
    hi = values[s + c // 2]
    out[has] = (lo + hi) / 2
    return out


def _grouped_median(keys: np.ndarray, values: np.ndarray, n_keys: int) -> np.ndarray:
    """Median of ``values`` per integer key in ``0 .. n_keys - 1`` (NaN where a key has none)."""
    order = np.lexsort((values, keys))
    counts = np.bincount(keys, minlength=n_keys)
    starts = np.cumsum(counts) - counts
    return _sorted_medians(values[order], starts, counts)


@cache
def _kendall_exact_table(n: int) -> np.ndarray:
    """Two-sided exact p-value of Kendall's tau for n points without ties, by concordant count c.

    ``table[c]`` = min(1, 2 P(C <= min(c, N - c))), N = n(n-1)/2, with the null
    distribution of C (Mahonian numbers: permutations of n with c inversions)
    counted exactly in integers. This is the distribution scipy's
    ``_kendall_p_exact`` builds with its recurrence (Kendall 1970).
    """
    counts = [1]
    for j in range(2, n + 1):
        # new[c] = sum_{i=0}^{j-1} old[c - i]
        width = len(counts) + j - 1
        csum = [0]
        for v in counts:
            csum.append(csum[-1] + v)
        new = []
        for c in range(width):
            hi = min(c, len(counts) - 1)
            lo = max(0, c - (j - 1))
            new.append(csum[hi + 1] - csum[lo] if hi >= lo else 0)
        counts = new
    total = math.factorial(n)
    n_pairs = n * (n - 1) // 2
    cum = []
    acc = 0
    for v in counts:
        acc += v
        cum.append(acc)
    out = np.empty(n_pairs + 1)
    for c in range(n_pairs + 1):
        cc = min(c, n_pairs - c)
        out[c] = min(1.0, 2 * cum[cc] / total)
    return out


def _kendall_exact_p(n: int, concordant: np.ndarray) -> np.ndarray:
    """Exact two-sided p-values for groups of ``n`` untied points (as scipy ``method='exact'``)."""
    concordant = concordant.astype(np.int64)
    if n <= _KENDALL_EXACT_MAX_N:
        return _kendall_exact_table(n)[concordant]
    # scipy's 'auto' only uses the exact test above n = 33 when min(dis, con) <= 1
    n_pairs = n * (n - 1) // 2
    cc = np.minimum(concordant, n_pairs - concordant)
    p0 = 2.0 / math.factorial(n) if n < 171 else 0.0
    p1 = 2.0 / math.factorial(n - 1) if n < 172 else 0.0
    return np.where(cc == 0, p0, np.where(cc == 1, p1, np.nan))


def _row_tie_terms(sorted_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tie statistics of each row of a row-wise sorted matrix (rows x n).

    For runs of t equal values: ``sum t(t-1)/2`` (tied pairs), ``sum
    t(t-1)(t-2)`` and ``sum t(t-1)(2t+5)``, the terms of the variance of
    Kendall's S, per row.
    """
    n_rows, n = sorted_rows.shape
    new_run = np.ones(sorted_rows.shape, dtype=bool)
    new_run[:, 1:] = sorted_rows[:, 1:] != sorted_rows[:, :-1]
    run_start = np.flatnonzero(new_run)  # every row starts a run, so runs never span rows
    t = np.diff(np.append(run_start, n_rows * n)).astype(np.float64)
    row = run_start // n
    pairs = np.bincount(row, t * (t - 1) / 2, minlength=n_rows)
    t0 = np.bincount(row, t * (t - 1) * (t - 2), minlength=n_rows)
    t1 = np.bincount(row, t * (t - 1) * (2 * t + 5), minlength=n_rows)
    return pairs, t0, t1


def _pair_statistics(
    codes: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    n_groups: int,
    *,
    theil_sen: bool,
    kendall: bool,
    confidence: float,
) -> dict[str, np.ndarray]:
    """Theil-Sen and/or Kendall statistics of every group from all pairs of its points.

    Groups are bucketed by their number of points n; the points of the groups
    of one bucket form a (groups x n) matrix sorted by x, and the n(n-1)/2
    pairwise differences are built for blocks of about ``_BLOCK_BYTES`` bytes
    at a time. The order statistics (median and CI ranks, which differ between
    groups through ties) are read from a row-wise ``np.sort`` of each block:
    on numpy >= 2 (SIMD sorting) that was 2.5 times faster here than an
    ``np.partition`` at the six ranks needed (1.5 vs 3.7 ms for 148 x 1,770
    slopes).
    """
    counts = np.bincount(codes, minlength=n_groups)
    if len(codes) > 1 and not np.all((codes[1:] > codes[:-1]) | ((codes[1:] == codes[:-1]) & (x[1:] >= x[:-1]))):
        order = np.lexsort((x, codes))
        x, y = x[order], y[order]
    starts = np.cumsum(counts) - counts
    nan = np.full(n_groups, np.nan)
    zeros = np.zeros(n_groups)
    out: dict[str, np.ndarray] = {"counts": counts}
    # tie terms of x and of y per group (groups of 0 or 1 points have none)
    out.update(x_pairs=zeros.copy(), x_t0=zeros.copy(), x_t1=zeros.copy())
    out.update(y_pairs=zeros.copy(), y_t0=zeros.copy(), y_t1=zeros.copy())
    if theil_sen:
        out.update(
            slope=nan.copy(),
            intercept=nan.copy(),
            ci_low=nan.copy(),
            ci_high=nan.copy(),
            n_slopes=np.zeros(n_groups, np.int64),
        )
        alpha = confidence
        if alpha > 0.5:  # as scipy.stats.theilslopes: alpha and 1 - alpha give the same interval
            alpha = 1.0 - alpha
        z = sps.norm.ppf(alpha / 2.0)
    if kendall:
        for name in ("concordant", "discordant", "xtie", "ytie", "ntie"):
            out[name] = np.zeros(n_groups, np.int64)
    for n in np.unique(counts):
        n = int(n)
        if n < 2:
            continue
        bucket = np.flatnonzero(counts == n)
        idx = starts[bucket][:, None] + np.arange(n)
        xm, ym = x[idx], y[idx]  # rows sorted by x
        for key, rows in (("x", xm), ("y", np.sort(ym, axis=1))):
            tp, t0, t1 = _row_tie_terms(rows)
            out[key + "_pairs"][bucket], out[key + "_t0"][bucket], out[key + "_t1"][bucket] = tp, t0, t1
        if theil_sen:
            # Sen (1968) eq. 2.6, tie-corrected variance of S, with scipy's floating-point operations
            sigsq = 1 / 18.0 * (n * (n - 1) * (2 * n + 5) - out["x_t1"][bucket] - out["y_t1"][bucket])
            with np.errstate(invalid="ignore"):
                sigma_bucket = np.sqrt(sigsq)
        iu, ju = np.triu_indices(n, 1)
        rows_per_block = max(1, _BLOCK_BYTES // (8 * len(iu)))
        for b0 in range(0, len(bucket), rows_per_block):
            g = bucket[b0 : b0 + rows_per_block]
            xb, yb = xm[b0 : b0 + rows_per_block], ym[b0 : b0 + rows_per_block]
            dx = xb[:, ju] - xb[:, iu]  # >= 0: points are sorted by x within a group
            dy = yb[:, ju] - yb[:, iu]
            valid = dx > 0
            all_valid = bool(valid.all())
            if kendall:
                out["concordant"][g] = np.count_nonzero(valid & (dy > 0), axis=1)
                out["discordant"][g] = np.count_nonzero(valid & (dy < 0), axis=1)
                ytied = dy == 0
                out["ytie"][g] = np.count_nonzero(ytied, axis=1)
                if not all_valid:
                    xtied = ~valid
                    out["xtie"][g] = np.count_nonzero(xtied, axis=1)
                    out["ntie"][g] = np.count_nonzero(xtied & ytied, axis=1)
            if not theil_sen:
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                slopes = np.divide(dy, dx, out=dy)
            if not all_valid:
                slopes[~valid] = np.inf  # pairs tied in x are not slopes: sort them past the end
            nt = np.count_nonzero(valid, axis=1) if not all_valid else np.full(len(g), len(iu))
            slopes.sort(axis=1)
            sigma = sigma_bucket[b0 : b0 + rows_per_block]
            ci_ok = np.isfinite(sigma) & (nt > 0)
            sig = np.where(ci_ok, sigma, 0.0)
            # the order statistics of scipy.stats.theilslopes (np.round: half to even)
            upper = np.minimum(np.round((nt - z * sig) / 2.0).astype(np.int64), nt - 1)
            lower = np.maximum(np.round((nt + z * sig) / 2.0).astype(np.int64) - 1, 0)
            ranks = np.column_stack(((nt - 1) // 2, nt // 2, lower, upper)).clip(0, None)
            picked = np.take_along_axis(slopes, ranks, axis=1)
            slope = np.where(nt > 0, (picked[:, 0] + picked[:, 1]) / 2, np.nan)
            resid = np.sort(yb - slope[:, None] * xb, axis=1)  # intercept: median(y - slope x)
            out["slope"][g] = slope
            out["intercept"][g] = (resid[:, (n - 1) // 2] + resid[:, n // 2]) / 2
            out["ci_low"][g] = np.where(ci_ok, picked[:, 2], np.nan)
            out["ci_high"][g] = np.where(ci_ok, picked[:, 3], np.nan)
            out["n_slopes"][g] = nt
    return out


def _kendall_frame(pairs: dict[str, np.ndarray], n_groups: int) -> pd.DataFrame:
    n = pairs["counts"].astype(np.int64)
    con, dis = pairs["concordant"], pairs["discordant"]
    xtie, ytie, ntie = pairs["xtie"], pairs["ytie"], pairs["ntie"]
    tot = n * (n - 1) // 2
    defined = (n >= 2) & (xtie < tot) & (ytie < tot)
    con_minus_dis = (tot - xtie - ytie + ntie - 2 * dis).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = con_minus_dis / np.sqrt((tot - xtie).astype(np.float64)) / np.sqrt((tot - ytie).astype(np.float64))
    tau = np.clip(tau, -1.0, 1.0)
    no_ties = (xtie == 0) & (ytie == 0)
    exact = defined & no_ties & ((n <= _KENDALL_EXACT_MAX_N) | (np.minimum(dis, tot - dis) <= 1))
    asym = defined & ~exact
    p = np.full(n_groups, np.nan)
    if asym.any():
        size = n[asym].astype(np.float64)
        m = size * (size - 1.0)
        x0, x1 = pairs["x_t0"][asym], pairs["x_t1"][asym]
        y0, y1 = pairs["y_t0"][asym], pairs["y_t1"][asym]
        xt, yt = xtie[asym].astype(np.float64), ytie[asym].astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (m * (2 * size + 5) - x1 - y1) / 18 + (2 * xt * yt) / m + x0 * y0 / (9 * m * (size - 2))
            zstat = con_minus_dis[asym] / np.sqrt(var)
        p[asym] = 2 * special.ndtr(-np.abs(zstat))
    for size in np.unique(n[exact]):
        sel = exact & (n == size)
        p[sel] = _kendall_exact_p(int(size), con[sel])
    method = np.where(exact, "exact", np.where(asym, "asymptotic", _NONE))
    return pd.DataFrame(
        {
            "n": n,
            "tau": np.where(defined, tau, np.nan),
            "p": p,
            "p_method": pd.array(method, dtype="string"),
            "concordant": con,
            "discordant": dis,
        },
        index=pd.RangeIndex(n_groups, name="group"),
        copy=False,
    )


def _theil_sen_frame(pairs: dict[str, np.ndarray], n_groups: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": pairs["counts"].astype(np.int64),
            "slope": pairs["slope"],
            "intercept": pairs["intercept"],
            "ci_low": pairs["ci_low"],
            "ci_high": pairs["ci_high"],
            "n_slopes": pairs["n_slopes"],
        },
        index=pd.RangeIndex(n_groups, name="group"),
        copy=False,
    )


# --------------------------------------------------------------------------- kernels


def grouped_ols(codes: Any, x: Any, y: Any, confidence: float = 0.95, *, n_groups: int | None = None) -> pd.DataFrame:
    r"""Ordinary least-squares line of y on x in every group at once, from grouped sums.

    Parameters
    ----------
    codes
        Integer group code of each point (0 .. n_groups - 1); points with a
        negative code are ignored.
    x, y
        Predictor and response of each point; points where either is missing
        or not finite are ignored.
    confidence
        Level of the two-sided confidence interval of the slope (default 0.95).
    n_groups
        Number of groups in the output (default: largest code + 1). Groups
        without points get ``n = 0`` and NaN statistics.

    Returns
    -------
    pandas.DataFrame
        One row per group, indexed by group code (index name ``group``):

        * ``n`` - number of points (int);
        * ``slope`` - least-squares slope (y units per x unit);
        * ``intercept`` - fitted y at x = 0 (y units);
        * ``slope_se``, ``intercept_se`` - standard errors (same units as the
          estimates);
        * ``ci_low``, ``ci_high`` - confidence interval of the slope,
          ``slope +/- t_{(1+confidence)/2, n-2} * slope_se``;
        * ``t`` - t statistic of the slope (``slope / slope_se``);
        * ``p`` - two-sided p-value of slope = 0 on n - 2 degrees of freedom.

    See Also
    --------
    grouped_theil_sen : The robust slope of the same groups.
    grouped_kendall : Kendall tau and Mann-Kendall of the same groups.
    pain_trends : All three per patient, on daily pain.

    Notes
    -----
    With group means :math:`\bar x, \bar y` (from ``np.bincount``) and
    centred sums :math:`S_{xx} = \sum (x-\bar x)^2`,
    :math:`S_{xy} = \sum (x-\bar x)(y-\bar y)`:
    slope :math:`b = S_{xy}/S_{xx}`, intercept :math:`a = \bar y - b\bar x`,
    residual sum of squares :math:`RSS = \sum (y-\bar y - b(x-\bar x))^2`,
    :math:`SE(b) = \sqrt{RSS/(n-2)/S_{xx}}`,
    :math:`SE(a) = SE(b)\sqrt{S_{xx}/n + \bar x^2}`. Centring before summing
    (two passes) avoids the cancellation of raw sums of squares.

    The results equal ``scipy.stats.linregress`` per group, with these
    deliberate differences: a group whose x values are all equal gets NaN
    (linregress raises); a group of 2 points gets a slope and intercept but NaN
    standard errors, CI and p-value (no residual degrees of freedom;
    linregress reports 0 and a p-value of 0 or 1); a perfect fit gets
    ``slope_se = 0`` and p = 0, where linregress,
    going through the correlation r, returns round-off of order 1e-8. When y
    is constant in a group (x not), the slope is 0 with ``slope_se = 0`` and a
    CI of [0, 0], while ``t`` and ``p`` are NaN (0/0), as in linregress.

    References
    ----------
    Draper, N. R. and Smith, H. (1998). Applied Regression Analysis, 3rd ed.,
    Wiley, chapter 1.
    """
    conf = _check_confidence(confidence)
    codes, x, y, n_groups = _prepare_groups(codes, x, y, n_groups)
    n = np.bincount(codes, minlength=n_groups).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = np.bincount(codes, x, minlength=n_groups) / n
        ym = np.bincount(codes, y, minlength=n_groups) / n
        # constant x or y in a group: centre on the value itself so deviations are exactly 0
        xlo, xhi = _group_min_max(codes, x, n_groups)
        ylo, yhi = _group_min_max(codes, y, n_groups)
        xm = np.where(xlo == xhi, xlo, xm)
        ym = np.where(ylo == yhi, ylo, ym)
        dx = x - xm[codes]
        dy = y - ym[codes]
        sxx = np.bincount(codes, dx * dx, minlength=n_groups)
        sxy = np.bincount(codes, dx * dy, minlength=n_groups)
        fit = (n >= 2) & (sxx > 0)
        slope = np.where(fit, sxy / sxx, np.nan)
        intercept = ym - slope * xm
        resid = dy - slope[codes] * dx
        rss = np.bincount(codes, resid * resid, minlength=n_groups)
        df = n - 2
        inf_ok = fit & (df > 0)
        slope_se = np.where(inf_ok, np.sqrt(rss / df / sxx), np.nan)
        intercept_se = slope_se * np.sqrt(sxx / n + xm**2)
        t = slope / slope_se
        # perfect fit: t is infinite (p = 0); for constant y, t = 0/0 stays NaN (as linregress)
        dfs = np.where(inf_ok, df, 1.0)
        p = np.where(inf_ok & ~np.isnan(t), 2 * sps.t.sf(np.abs(t), dfs), np.nan)
        tq = sps.t.ppf(0.5 + conf / 2, dfs)
        half = np.where(inf_ok, tq * slope_se, np.nan)
    return pd.DataFrame(
        {
            "n": n.astype(np.int64),
            "slope": slope,
            "intercept": intercept,
            "slope_se": slope_se,
            "intercept_se": intercept_se,
            "ci_low": slope - half,
            "ci_high": slope + half,
            "t": t,
            "p": p,
        },
        index=pd.RangeIndex(n_groups, name="group"),
        copy=False,
    )


def grouped_theil_sen(
    codes: Any, x: Any, y: Any, confidence: float = 0.95, *, n_groups: int | None = None
) -> pd.DataFrame:
    r"""Exact Theil-Sen slope, intercept and Sen's confidence interval in every group at once.

    Parameters
    ----------
    codes
        Integer group code of each point (0 .. n_groups - 1); points with a
        negative code are ignored.
    x, y
        Predictor and response of each point; points where either is missing
        or not finite are ignored.
    confidence
        Level of the two-sided confidence interval (default 0.95). As in
        scipy, a level below 0.5 is read as its complement (0.05 as 0.95).
    n_groups
        Number of groups in the output (default: largest code + 1).

    Returns
    -------
    pandas.DataFrame
        One row per group, indexed by group code (index name ``group``):

        * ``n`` - number of points (int);
        * ``slope`` - median of the pairwise slopes (y units per x unit); NaN
          when fewer than two distinct x values;
        * ``intercept`` - ``median(y - slope * x)`` (y units);
        * ``ci_low``, ``ci_high`` - Sen's distribution-free confidence interval
          of the slope (y units per x unit); NaN when undefined;
        * ``n_slopes`` - number of pairs with different x (int).

    See Also
    --------
    grouped_ols : The least-squares slope of the same groups.
    grouped_kendall : Kendall tau and Mann-Kendall.
    pain_trends : All three per patient, on daily pain.

    Notes
    -----
    The pairwise slopes are :math:`(y_j - y_i)/(x_j - x_i)` over all pairs with
    :math:`x_j > x_i` (pairs tied in x are skipped). With :math:`N` such slopes
    sorted, :math:`z = \Phi^{-1}(\alpha/2)` (:math:`\alpha = 1 -` confidence)
    and the tie-corrected variance of Kendall's S (Sen 1968, eq. 2.6)

    .. math:: \sigma^2 = \tfrac{1}{18}\Big[n(n-1)(2n+5) - \sum_x t(t-1)(2t+5)
              - \sum_y t(t-1)(2t+5)\Big],

    where the sums run over groups of t tied x values and of tied y values,
    the CI is the pair of order statistics (0-based)
    ``slopes[max(round((N + z sigma)/2) - 1, 0)]`` and
    ``slopes[min(round((N - z sigma)/2), N - 1)]`` (``round`` half to even).
    This reproduces ``scipy.stats.theilslopes(y, x, confidence,
    method='joint')`` exactly (same floating-point operations), including its
    NaN interval when :math:`\sigma^2 < 0` (heavy ties). The intercept is
    scipy's ``method='joint'``, :math:`\operatorname{median}(y - b x)`, not its
    default ``'separate'`` (:math:`\operatorname{median}(y) - b\,\operatorname{median}(x)`),
    because it is the median-residual line.

    Implementation: groups are bucketed by their number of points n; for each
    n, the points of a block of groups form a (groups x n) matrix sorted by x
    and all n(n-1)/2 pairwise slopes are formed at once, in blocks of about
    2 MB. The median and the two CI order statistics are found with
    ``np.partition`` at the smallest and largest rank needed in the block, and
    a sort of the narrow slice between them (ranks differ between groups
    through ties). Cost is O(n^2) per group.

    References
    ----------
    Sen, P. K. (1968). Estimates of the regression coefficient based on
    Kendall's tau. J. Am. Stat. Assoc. 63, 1379-1389.
    Vannest, K. J., Parker, R. I., Davis, J. L., Soares, D. A. and Smith, S. L.
    (2012). The Theil-Sen slope for high-stakes decisions from progress
    monitoring. Behavioral Disorders 37, 271-280.
    """
    conf = _check_confidence(confidence)
    codes, x, y, n_groups = _prepare_groups(codes, x, y, n_groups)
    pairs = _pair_statistics(codes, x, y, n_groups, theil_sen=True, kendall=False, confidence=conf)
    return _theil_sen_frame(pairs, n_groups)


def grouped_kendall(codes: Any, x: Any, y: Any, *, n_groups: int | None = None) -> pd.DataFrame:
    r"""Kendall's tau-b and the Mann-Kendall trend p-value in every group at once.

    Parameters
    ----------
    codes
        Integer group code of each point (0 .. n_groups - 1); points with a
        negative code are ignored.
    x, y
        The two variables (for a trend test, x is time); points where either is
        missing or not finite are ignored.
    n_groups
        Number of groups in the output (default: largest code + 1).

    Returns
    -------
    pandas.DataFrame
        One row per group, indexed by group code (index name ``group``):

        * ``n`` - number of points (int);
        * ``tau`` - Kendall's tau-b, -1 to 1 (dimensionless); NaN when x or y
          is constant or n < 2;
        * ``p`` - two-sided p-value of tau = 0;
        * ``p_method`` - ``"exact"`` or ``"asymptotic"`` (``<NA>`` when tau is
          undefined);
        * ``concordant``, ``discordant`` - numbers of concordant and discordant
          pairs (int).

    See Also
    --------
    grouped_theil_sen : The robust slope.
    grouped_ols : The least-squares slope.
    pain_trends : All three per patient.

    Notes
    -----
    With :math:`n_c` concordant and :math:`n_d` discordant pairs,
    :math:`N = n(n-1)/2`, :math:`n_x, n_y` pairs tied in x, in y:
    :math:`\tau_b = (n_c - n_d)/\sqrt{(N-n_x)(N-n_y)}`.

    The p-value reproduces ``scipy.stats.kendalltau`` with its default
    ``method='auto'``: the exact null distribution of the number of concordant
    pairs when there are no ties and n <= 33 (or :math:`\min(n_c, n_d) \le 1`),
    otherwise the normal approximation of :math:`S = n_c - n_d` with the tie
    corrected variance

    .. math:: \operatorname{Var} S = \frac{v_0 - v_x - v_y}{18}
              + \frac{2 n_x n_y}{n(n-1)} + \frac{w_x w_y}{9 n (n-1)(n-2)},

    :math:`v_0 = n(n-1)(2n+5)`, :math:`v_x = \sum t(t-1)(2t+5)`,
    :math:`w_x = \sum t(t-1)(t-2)` over groups of t tied x values (likewise
    for y). With x = time this is the Mann-Kendall test. The exact
    distribution is tabulated once per n (integer Mahonian numbers), so groups
    never loop. Pairs are formed by the same blocked machinery as
    :func:`grouped_theil_sen`.

    References
    ----------
    Kendall, M. G. (1970). Rank Correlation Methods, 4th ed., Griffin.
    Mann, H. B. (1945). Nonparametric tests against trend. Econometrica 13, 245-259.
    """
    codes, x, y, n_groups = _prepare_groups(codes, x, y, n_groups)
    pairs = _pair_statistics(codes, x, y, n_groups, theil_sen=False, kendall=True, confidence=0.95)
    return _kendall_frame(pairs, n_groups)


# --------------------------------------------------------------------------- pain tables


def _daily_arrays(
    pain: pd.DataFrame, patients: pd.DataFrame, as_of: pd.Timestamp | None = None
) -> dict[str, np.ndarray]:
    """Per (patient, programme day) mean NPRS, as numpy arrays sorted by code then day."""
    _require(pain, "pain", ("patient_id", "recorded_at", "nprs"))
    _require(patients, "patients", ("patient_id", "programme_start"))
    codes = patient_codes(pain["patient_id"], patients)
    start = patients["programme_start"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    when = pain["recorded_at"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    nprs = pd.to_numeric(pain["nprs"], errors="coerce").astype("float64").to_numpy(na_value=np.nan)
    keep = (codes >= 0) & ~np.isnat(when) & np.isfinite(nprs)
    if as_of is not None:
        keep &= when <= np.datetime64(as_of.normalize(), "D")
    codes, when, nprs = codes[keep], when[keep], nprs[keep]
    pstart = start[codes]
    keep = ~np.isnat(pstart)
    codes, when, nprs, pstart = codes[keep], when[keep], nprs[keep], pstart[keep]
    day = (when - pstart).astype(np.int64)
    keep = day >= 0  # ratings before the programme start are not part of the trend
    codes, day, nprs = codes[keep], day[keep], nprs[keep]
    span = int(day.max()) + 1 if len(day) else 1
    key = codes * span + day
    ukey, inv, n_ratings = np.unique(key, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, nprs, minlength=len(ukey))
    return {
        "code": ukey // span,
        "day": ukey % span,
        "nprs_mean": sums / n_ratings,
        "n_ratings": n_ratings.astype(np.int64),
        "start": start,
    }


def _patient_id_array(patients: pd.DataFrame, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """The ``patient_id`` (pandas ``string``) of each registry code."""
    return patients["patient_id"].astype("string").array.take(np.asarray(codes, dtype=np.int64))


@checks_tables(pain="pain", patients="patients")
def daily_pain(pain: pd.DataFrame, patients: pd.DataFrame, *, as_of: DateLike | None = None) -> pd.DataFrame:
    """Mean pain of every patient on every programme day with at least one rating.

    Parameters
    ----------
    pain
        Canonical ``pain`` table (``patient_id``, ``recorded_at``, ``nprs``).
    patients
        Canonical ``patients`` table (``patient_id``, ``programme_start``).
    as_of
        Leave out ratings after this day (default: every rating).

    Returns
    -------
    pandas.DataFrame
        One row per patient and calendar day with ratings, ordered as the
        ``patients`` registry, then by day:

        * ``patient_id`` - patient (string);
        * ``date`` - calendar date (datetime64, midnight);
        * ``day`` - programme day, 0 = ``programme_start`` (int);
        * ``week`` - programme week, ``day // 7 + 1`` (int);
        * ``nprs_mean`` - mean NPRS of that day's ratings (points, 0-10);
        * ``n_ratings`` - number of ratings that day (int).

    See Also
    --------
    weekly_pain : The days summarised per programme week.
    rolling_pain : A trailing mean of the days.
    pain_trends : Slopes of the days.

    Notes
    -----
    Ratings before the programme start (day < 0), ratings without a value or a
    time, and ratings of patients not in ``patients`` are left out. Days
    follow the calendar date of ``recorded_at`` (local time).
    """
    if as_of is not None and len(pain):
        pain = pain[(pain["recorded_at"] < to_day(as_of) + pd.Timedelta(days=1)).to_numpy(dtype=bool)]
    d = _daily_arrays(pain, patients)
    dates = d["start"][d["code"]] + d["day"].astype("timedelta64[D]")
    return pd.DataFrame(
        {
            "patient_id": _patient_id_array(patients, d["code"]),
            "date": pd.to_datetime(dates.astype("datetime64[ns]")),
            "day": d["day"],
            "week": week_of_day(d["day"]),
            "nprs_mean": d["nprs_mean"],
            "n_ratings": d["n_ratings"],
        },
        copy=False,
    )


@checks_tables(pain="pain", patients="patients")
def weekly_pain(pain: pd.DataFrame, patients: pd.DataFrame, *, as_of: DateLike | None = None) -> pd.DataFrame:
    """Pain per patient and programme week, including weeks without ratings.

    Parameters
    ----------
    pain
        Canonical ``pain`` table (``patient_id``, ``recorded_at``, ``nprs``).
    patients
        Canonical ``patients`` table (``patient_id``, ``programme_start``).
    as_of
        Analysis day: ratings up to and including it count. When given, every
        patient whose programme has started gets weeks 1 to the week containing
        ``as_of`` and ratings after it are ignored. When ``None``, each patient
        gets weeks 1 to the week of their own last rating, and the analysis day
        used for ``days_elapsed`` is the day after the last rating in ``pain``
        (:func:`analysis.timeline.resolve_as_of`).

    Returns
    -------
    pandas.DataFrame
        One row per patient and week, ordered as the ``patients`` registry,
        then by week:

        * ``patient_id`` - patient (string);
        * ``week`` - programme week, 1 = days 0-6 (int);
        * ``week_start`` - date of the first day of the week (datetime64);
        * ``nprs_mean`` - mean of the week's daily mean NPRS (points, 0-10;
          NaN without ratings);
        * ``nprs_median`` - median of the week's daily mean NPRS (points;
          NaN without ratings);
        * ``n_ratings`` - number of ratings in the week (int, 0 allowed);
        * ``days_rated`` - distinct days with a rating (int, 0-7);
        * ``days_elapsed`` - whole days of the week before the analysis day
          (int, 0-7; the analysis day itself is not over yet);
        * ``share_days_rated`` - days rated among those elapsed days /
          ``days_elapsed`` (fraction 0-1; NaN on a week's first day).

    See Also
    --------
    daily_pain : The days the weeks are built from.
    analysis.adherence.weekly_adherence : Adherence on the same weeks.
    analysis.cohort.weekly_progress : Both joined.

    Notes
    -----
    The weekly mean is the mean of daily means, so a day with several ratings
    weighs as much as a day with one (as in the trend regression of
    :func:`pain_trends`). Ratings before the programme start are excluded.
    The share of days rated is the weekly coverage measure of
    docs/clinical-reference.md section 3.
    """
    when = resolve_as_of(as_of, (pain, "recorded_at")) if len(pain) or as_of is not None else None
    d = _daily_arrays(pain, patients, as_of=when if as_of is not None else None)
    n_pat = len(patients)
    start = d["start"]
    code, day = d["code"], d["day"]
    week = week_of_day(day)
    if as_of is not None:
        asof_day = np.asarray(np.datetime64(when, "D") - start).astype(np.int64)
        asof_day = np.where(np.isnat(start), -1, asof_day)
        n_weeks = np.where(asof_day >= 0, week_of_day(asof_day), 0)
    else:
        n_weeks = np.zeros(n_pat, np.int64)
        if len(code):
            np.maximum.at(n_weeks, code, week)
        if when is not None:
            asof_day = np.asarray(np.datetime64(when, "D") - start).astype(np.int64)
            asof_day = np.where(np.isnat(start), -1, asof_day)
        else:
            asof_day = np.full(n_pat, -1)
    n_weeks = n_weeks.astype(np.int64)
    offsets = np.cumsum(n_weeks) - n_weeks
    n_rows = int(n_weeks.sum())
    row_code = np.repeat(np.arange(n_pat), n_weeks)
    row_week = np.arange(n_rows) - np.repeat(offsets, n_weeks) + 1
    row = offsets[code] + week - 1  # every rated day falls in a listed week
    n_ratings = np.bincount(row, d["n_ratings"], minlength=n_rows).astype(np.int64)
    days_rated = np.bincount(row, minlength=n_rows).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(row, d["nprs_mean"], minlength=n_rows) / days_rated
    median = _grouped_median(row, d["nprs_mean"], n_rows)
    elapsed = np.clip(asof_day[row_code] - 7 * (row_week - 1), 0, 7).astype(np.int64)  # whole days before as_of
    before = day < asof_day[code] if len(code) else np.zeros(0, dtype=bool)
    rated_before = np.bincount(row[before], minlength=n_rows).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(elapsed > 0, rated_before / np.maximum(elapsed, 1), np.nan)
    week_start = start[row_code] + ((row_week - 1) * 7).astype("timedelta64[D]")
    return pd.DataFrame(
        {
            "patient_id": _patient_id_array(patients, row_code),
            "week": row_week.astype(np.int64),
            "week_start": pd.to_datetime(week_start.astype("datetime64[ns]")),
            "nprs_mean": np.where(days_rated > 0, mean, np.nan),
            "nprs_median": median,
            "n_ratings": n_ratings,
            "days_rated": days_rated,
            "days_elapsed": elapsed,
            "share_days_rated": share,
        },
        copy=False,
    )


@checks_tables(pain="pain", patients="patients")
def rolling_pain(
    pain: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    window_days: int = DEFAULT_SETTINGS.rolling_window_days,
) -> pd.DataFrame:
    """Trailing calendar-day rolling mean of daily pain, for plots.

    Parameters
    ----------
    pain
        Canonical ``pain`` table (``patient_id``, ``recorded_at``, ``nprs``).
    patients
        Canonical ``patients`` table (``patient_id``, ``programme_start``).
    window_days
        Window length in calendar days (default
        ``Settings.rolling_window_days``, 7).

    Returns
    -------
    pandas.DataFrame
        One row per patient and calendar day from the patient's first to last
        rated programme day (days without ratings included), ordered as the
        ``patients`` registry, then by day:

        * ``patient_id`` - patient (string);
        * ``date`` - calendar date (datetime64, midnight);
        * ``day`` - programme day (int);
        * ``week`` - programme week (int);
        * ``nprs_mean`` - that day's mean NPRS (points; NaN without ratings);
        * ``n_ratings`` - ratings that day (int, 0 allowed);
        * ``nprs_rolling`` - mean of the daily means of the days in the window
          (points; NaN when no day in the window has a rating);
        * ``days_in_window`` - days with ratings in the window (int).

    See Also
    --------
    daily_pain : The daily means.
    weekly_pain : Means per programme week.

    Notes
    -----
    The window is time based, not a count of rows: for day d it holds days
    d - window_days + 1 .. d, the same as pandas ``rolling(f"{window_days}D",
    min_periods=1)`` on the daily means indexed by date. One rated day in the
    window is enough for a value (a plotting aid, not a clinical estimate: for
    baseline and current windows with a minimum number of ratings see
    :mod:`analysis.outcomes`). Each day counts once whatever its number of
    ratings. Ratings before the programme start are excluded.
    """
    w = int(window_days)
    if w < 1 or w != window_days:
        raise SettingsError(f"the rolling window must be a whole number of days >= 1, got {window_days!r}")
    d = _daily_arrays(pain, patients)
    n_pat = len(patients)
    code, day = d["code"], d["day"]
    first = np.full(n_pat, np.iinfo(np.int64).max)
    last = np.full(n_pat, -1)
    if len(code):
        np.minimum.at(first, code, day)
        np.maximum.at(last, code, day)
    length = np.where(last >= 0, last - first + 1, 0).astype(np.int64)
    offsets = np.cumsum(length) - length
    n_rows = int(length.sum())
    row_code = np.repeat(np.arange(n_pat), length)
    pos = np.arange(n_rows) - np.repeat(offsets, length)  # position within the patient's span
    row_day = np.repeat(np.where(last >= 0, first, 0), length) + pos
    row = offsets[code] + day - first[code]
    n_ratings = np.zeros(n_rows, dtype=np.int64)
    n_ratings[row] = d["n_ratings"]
    # daily means on a grid where each patient's span is followed by w - 1 empty days, so that a
    # window shifted by up to w - 1 days never reaches the previous patient's days
    padded = np.arange(n_rows) + row_code * (w - 1)
    size = n_rows + n_pat * (w - 1)
    value = np.zeros(size)
    rated = np.zeros(size)
    value[padded[row]] = d["nprs_mean"]
    rated[padded[row]] = 1.0
    total = value.copy()
    count = rated.copy()
    for lag in range(1, w):  # a loop over lags within the window, not over patients
        total[lag:] += value[:-lag]
        count[lag:] += rated[:-lag]
    total, count = total[padded], count[padded].astype(np.int64)
    value, rated = value[padded], rated[padded]
    with np.errstate(invalid="ignore", divide="ignore"):
        rolling = np.where(count > 0, total / count, np.nan)
    dates = d["start"][row_code] + row_day.astype("timedelta64[D]")
    return pd.DataFrame(
        {
            "patient_id": _patient_id_array(patients, row_code),
            "date": pd.to_datetime(dates.astype("datetime64[ns]")),
            "day": row_day.astype(np.int64),
            "week": week_of_day(row_day).astype(np.int64),
            "nprs_mean": np.where(rated > 0, value, np.nan),
            "n_ratings": n_ratings,
            "nprs_rolling": rolling,
            "days_in_window": count,
        },
        copy=False,
    )


def _slope_text(values: np.ndarray) -> np.ndarray:
    """Slopes (points/week) as signed text: 2 decimals, more when that would read 0.00 (never '+0.00' for a slope)."""
    x = np.asarray(values, dtype=np.float64)
    out = np.full(len(x), "n/a", dtype=object)
    for i in np.flatnonzero(np.isfinite(x)):  # one string per patient row (formatting, not statistics)
        v = float(x[i])
        decimals = 2
        while v != 0 and round(v, decimals) == 0 and decimals < 6:
            decimals += 1
        text = f"{v:+.{decimals}f}"
        out[i] = "0.00" if round(v, decimals) == 0 else text
    return out


def p_value_text(p: float, alpha: float | None = None) -> str:
    """A p-value as text: ``"p < 0.001"``, else 3 decimals, more when 3 would put it on the wrong side of ``alpha``.

    Parameters
    ----------
    p
        The p-value.
    alpha
        The significance level the reader compares it with (e.g. 0.05), if any.

    Returns
    -------
    str

    Examples
    --------
    >>> p_value_text(0.00001), p_value_text(0.0361), p_value_text(0.0496, 0.05)
    ('p < 0.001', 'p = 0.036', 'p = 0.0496')
    """
    if not np.isfinite(p):
        return "p n/a"
    if p < 0.001:
        return "p < 0.001"
    decimals = 3
    while alpha is not None and (round(p, decimals) < alpha) != (p < alpha) and decimals < 8:
        decimals += 1
    return f"p = {p:.{decimals}f}"


def _trend_texts(
    label: np.ndarray, slope: np.ndarray, tau: np.ndarray, p: np.ndarray, days: np.ndarray,
    excluded: np.ndarray, alpha: float, min_days: int,
) -> np.ndarray:
    """The trend in words with the numbers it rests on, one sentence per patient."""
    slope_txt = _slope_text(slope)
    out = np.empty(len(label), dtype=object)
    alpha_txt = f"{alpha:g}"
    for i in range(len(label)):  # text assembly per row; the statistics above are vectorised
        lab = label[i]
        if lab is None:
            n = int(days[i])
            out[i] = (f"not enough data: {n} day{'s' if n != 1 else ''} rated, a trend needs {min_days}")
            continue
        p_txt = p_value_text(float(p[i]), alpha)
        if not np.isfinite(p[i]):
            body = f"{lab}: {slope_txt[i]} points/week (pain the same on every rated day)"
        elif lab != TREND_NO_CLEAR:
            body = f"{lab}: {slope_txt[i]} points/week (Mann-Kendall {p_txt})"
        elif p[i] < alpha:  # the ranks move but the least-squares slope points the other way (or is 0)
            ranks = "rise" if tau[i] > 0 else "fall"
            body = (f"{lab}: the ratings {ranks} (Mann-Kendall {p_txt}) but the slope is {slope_txt[i]} "
                    "points/week")
        else:
            body = f"{lab}: {slope_txt[i]} points/week (Mann-Kendall {p_txt}, a trend needs p < {alpha_txt})"
        k = int(excluded[i])
        if k:
            body += f", {k} flare rating{'s' if k != 1 else ''} left out"
        out[i] = body
    return out


@checks_tables(pain="pain", patients="patients")
def pain_trends(
    pain: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    settings: Settings = DEFAULT_SETTINGS,
    flare_ratings: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per-patient pain trend: the trend rule's label and slope, and descriptive slopes of every rated day.

    Parameters
    ----------
    pain
        Canonical ``pain`` table (``patient_id``, ``recorded_at``, ``nprs``).
    patients
        Canonical ``patients`` table (``patient_id``, ``programme_start``).
    settings
        Thresholds in use: ``min_trend_days`` (default 4), ``trend_confidence``
        (default 0.95: a trend is called at p < 0.05), and the flare rule's
        ``flare_rise_points`` and ``flare_baseline_days``.
    flare_ratings
        Optional boolean per row of ``pain``: the ratings to leave out of the
        trend; by default the transient pain flares
        (:func:`analysis.flags.flare_ratings` with ``transient=True``).

    Returns
    -------
    pandas.DataFrame
        One row per patient of ``patients`` (registry order), also patients
        without ratings.

        *The trend rule* (docs/clinical-reference.md section 3), on the daily
        mean of the ratings that are not flares:

        * ``trend_days`` - programme days with such a rating (int);
        * ``flare_ratings_excluded`` - flare ratings left out (int);
        * ``status`` - ``"ok"``, or ``"not enough data"`` when ``trend_days <
          min_trend_days``; then every trend statistic is NaN;
        * ``trend_slope_per_week`` - least-squares slope of daily mean NPRS on
          programme day, times 7 (NPRS points per week; negative = pain falls);
        * ``trend_ci_low``, ``trend_ci_high`` - its ``trend_confidence`` interval
          (t distribution, ``trend_days - 2`` df; points per week);
        * ``trend_tau`` - Kendall's tau-b of daily mean NPRS with day (-1 to 1);
        * ``trend_p`` - two-sided Mann-Kendall p-value (exact without ties for up
          to 33 days, else the normal approximation with the tie-corrected
          variance); NaN when pain is the same every day;
        * ``trend`` - ``"worsening"`` when ``trend_p < 1 - trend_confidence``,
          ``trend_tau > 0`` and ``trend_slope_per_week > 0``; ``"improving"``
          when ``trend_p < 1 - trend_confidence``, ``trend_tau < 0`` and
          ``trend_slope_per_week < 0``; otherwise ``"no clear trend"``;
          ``<NA>`` with ``"not enough data"``;
        * ``trend_text`` - the label with the numbers it rests on, e.g.
          ``"worsening: +0.13 points/week (Mann-Kendall p = 0.036)"`` (never
          containing ``"; "``, so it can stand in a list of reasons);
        * ``confidence`` - the confidence level used (probability).

        *Descriptive statistics of every rated day* (flares included; NaN below
        ``min_trend_days`` rated days): ``n_days``, ``first_day``, ``last_day``
        (Int64), ``ols_slope_per_week``, ``ols_ci_low``, ``ols_ci_high``,
        ``ols_p``, ``theil_sen_slope_per_week``, ``theil_sen_ci_low``,
        ``theil_sen_ci_high`` (exact Theil-Sen with Sen's CI), ``kendall_tau``,
        ``kendall_p``. They do not decide the label: with whole-number ratings
        many pairwise slopes tie at 0, so the Theil-Sen slope and its interval
        are often exactly 0 for a patient whose pain clearly moves.

    See Also
    --------
    daily_pain : The days the slopes are fitted to.
    analysis.flags.flare_ratings : The ratings left out.
    grouped_ols : The least-squares kernel.
    grouped_kendall : The Mann-Kendall kernel.
    analysis.outcomes.pain_change : Change between diary windows instead of a slope.

    Notes
    -----
    **Direction from a rank test, size from a slope that ties cannot force to
    0.** Pain ratings are whole numbers, so daily means tie often. Mann-Kendall
    counts tied pairs as neither rising nor falling and corrects its variance
    for them (Kendall 1975), so ties cost it little power; Sen's median of
    pairwise slopes, by contrast, is pulled to exactly 0 by the tied pairs. The
    size is therefore the least-squares slope of the daily means, which moves
    with every rating. A label is given only when the rank test and the slope
    agree in sign, so the label and the slope shown beside it never contradict.

    **Transient flares are left out.** Ratings that are pain flares (at least
    ``flare_rise_points`` above the trailing 7-day median, Costa et al. 2021)
    after which pain came back below the flare level within
    ``flare_baseline_days`` days are episodes, flagged on their own; left in,
    one early flare can hide a rising course, and the least-squares slope is
    sensitive to such outlying days (the robustness Theil-Sen gave is kept this
    way). A rise that lasts (a steep worsening whose ratings the lagging median
    also flags) stays in the trend, as do the other ratings of a flare day.

    Ratings are averaged per calendar day first, so several ratings on one day
    do not outweigh a day with one; ratings before the programme start are
    excluded. Mann-Kendall assumes independent days; serial correlation in a
    daily diary makes it somewhat liberal, which is one reason the label is a
    pointer for the physio, not a finding.

    References
    ----------
    docs/clinical-reference.md section 3.
    Mann, H. B. (1945). Econometrica 13, 245-259.
    Kendall, M. G. (1975). Rank Correlation Methods, 4th ed. Griffin.
    Costa, N. et al. (2021). Clin J Pain 37(5), 313-320.

    Examples
    --------
    Whole-number ratings: 5 on days 0-13, 6 on days 14-19. 106 of the 190
    pairwise slopes are exactly 0, so Sen's slope is 0; Mann-Kendall gives S = 84,
    tie-corrected Var S = 588, z = 3.46, p = 0.0005, and the least-squares slope is
    42 / 665 points a day = 0.44 points a week.

    >>> patients = pd.DataFrame({"patient_id": ["P1"], "programme_start": pd.to_datetime(["2026-09-07"])})
    >>> days = np.arange(20)
    >>> pain = pd.DataFrame({"patient_id": "P1", "nprs": np.where(days < 14, 5, 6),
    ...                      "recorded_at": pd.Timestamp("2026-09-07 20:00") + pd.to_timedelta(days, "D")})
    >>> row = pain_trends(pain, patients).iloc[0]
    >>> row["trend_text"], float(row["theil_sen_slope_per_week"])
    ('worsening: +0.44 points/week (Mann-Kendall p < 0.001)', 0.0)
    """
    conf = _check_confidence(settings.trend_confidence)
    alpha = 1.0 - conf
    min_days = int(settings.min_trend_days)
    n_pat = len(patients)
    if flare_ratings is None:
        from analysis.flags import flare_ratings as _flare_ratings  # flags builds on adherence, not on trends

        flare_ratings = _flare_ratings(pain, patients, settings=settings, transient=True)
    flare = np.asarray(flare_ratings, dtype=bool)
    if len(flare) != len(pain):
        raise ValueError(f"flare_ratings has {len(flare)} values for {len(pain)} pain rows")

    # ---- every rated day: descriptive statistics
    d = _daily_arrays(pain, patients)
    code, day, y = d["code"], d["day"], d["nprs_mean"]
    n_days = np.bincount(code, minlength=n_pat).astype(np.int64)
    first = np.full(n_pat, np.iinfo(np.int64).max)
    last = np.full(n_pat, -1)
    if len(code):
        np.minimum.at(first, code, day)
        np.maximum.at(last, code, day)
    ok_all = n_days >= max(min_days, 1)
    sel = ok_all[code]
    gcode, gx, gy = code[sel], day[sel].astype(np.float64), y[sel]
    ols = grouped_ols(gcode, gx, gy, conf, n_groups=n_pat)
    pairs = _pair_statistics(gcode, gx, gy, n_pat, theil_sen=True, kendall=True, confidence=conf)
    ts = _theil_sen_frame(pairs, n_pat)
    kd = _kendall_frame(pairs, n_pat)

    # ---- the trend rule: days of the ratings that are not flares
    flare_code = patient_codes(pain["patient_id"][flare], patients) if flare.any() else np.zeros(0, np.int64)
    excluded = np.bincount(flare_code[flare_code >= 0], minlength=n_pat).astype(np.int64)
    touched = excluded > 0
    if touched.any():
        # only the patients with a flare rating left out are computed again; the others' days are the same
        pcode = patient_codes(pain["patient_id"], patients)
        rows = ~flare & (pcode >= 0) & touched[np.maximum(pcode, 0)]
        t = _daily_arrays(pain.loc[rows], patients)
        tcode, tday, ty = t["code"], t["day"], t["nprs_mean"]
        t_days = np.where(touched, np.bincount(tcode, minlength=n_pat), n_days).astype(np.int64)
        ok = np.where(touched, t_days >= max(min_days, 1), ok_all)
        tsel = ok[tcode]
        tc, tx, tyy = tcode[tsel], tday[tsel].astype(np.float64), ty[tsel]
        sub_ols = grouped_ols(tc, tx, tyy, conf, n_groups=n_pat)
        sub_kd = _kendall_frame(_pair_statistics(tc, tx, tyy, n_pat, theil_sen=False, kendall=True,
                                                 confidence=conf), n_pat)
        t_ols = pd.DataFrame({c: np.where(touched, sub_ols[c].to_numpy(dtype=np.float64),
                                          ols[c].to_numpy(dtype=np.float64)) for c in ("slope", "ci_low", "ci_high")})
        t_kd = pd.DataFrame({c: np.where(touched, sub_kd[c].to_numpy(dtype=np.float64),
                                         kd[c].to_numpy(dtype=np.float64)) for c in ("tau", "p")})
    else:
        t_days, ok, t_ols, t_kd = n_days, ok_all, ols, kd

    def per_week(values: pd.Series, mask: np.ndarray) -> np.ndarray:
        return np.where(mask, values.to_numpy(dtype=np.float64) * 7.0, np.nan)

    def masked(values: pd.Series, mask: np.ndarray) -> np.ndarray:
        return np.where(mask, values.to_numpy(dtype=np.float64), np.nan)

    slope = per_week(t_ols["slope"], ok)
    tau = masked(t_kd["tau"], ok)
    p = masked(t_kd["p"], ok)
    with np.errstate(invalid="ignore"):
        called = p < alpha
        up = called & (tau > 0) & (slope > 0)
        down = called & (tau < 0) & (slope < 0)
    trend = np.where(up, TREND_WORSENING, np.where(down, TREND_IMPROVING, TREND_NO_CLEAR)).astype(object)
    trend[~ok] = None
    text = _trend_texts(trend, slope, tau, p, t_days, excluded, alpha, min_days)
    has = n_days > 0
    return pd.DataFrame(
        {
            "patient_id": _patient_id_array(patients, np.arange(n_pat)),
            "n_days": n_days,
            "first_day": pd.arrays.IntegerArray(np.where(has, first, 0).astype(np.int64), ~has),
            "last_day": pd.arrays.IntegerArray(np.where(has, last, 0).astype(np.int64), ~has),
            "trend_days": t_days,
            "flare_ratings_excluded": excluded,
            "status": pd.array(np.where(ok, STATUS_OK, STATUS_NOT_ENOUGH_DATA).astype(object), dtype="string"),
            "trend_slope_per_week": slope,
            "trend_ci_low": per_week(t_ols["ci_low"], ok),
            "trend_ci_high": per_week(t_ols["ci_high"], ok),
            "trend_tau": tau,
            "trend_p": p,
            "trend": pd.array(trend, dtype="string"),
            "trend_text": pd.array(text, dtype="string"),
            "ols_slope_per_week": per_week(ols["slope"], ok_all),
            "ols_ci_low": per_week(ols["ci_low"], ok_all),
            "ols_ci_high": per_week(ols["ci_high"], ok_all),
            "ols_p": masked(ols["p"], ok_all),
            "theil_sen_slope_per_week": per_week(ts["slope"], ok_all),
            "theil_sen_ci_low": per_week(ts["ci_low"], ok_all),
            "theil_sen_ci_high": per_week(ts["ci_high"], ok_all),
            "kendall_tau": masked(kd["tau"], ok_all),
            "kendall_p": masked(kd["p"], ok_all),
            "confidence": np.full(n_pat, conf),
        },
        copy=False,
    )


def trend_for_patient(trend: Any, slope_per_week: Any, settings: Settings = DEFAULT_SETTINGS) -> str:
    """The pain trend in a patient's words ("My progress"), never contradicting the number in it.

    Parameters
    ----------
    trend
        The label of :func:`pain_trends` (``<NA>`` or ``"not enough data"`` when there is none).
    slope_per_week
        ``trend_slope_per_week`` (NPRS points per week).
    settings
        For ``min_trend_days``.

    Returns
    -------
    str

    Examples
    --------
    >>> trend_for_patient("improving", -0.43)
    'Over your diary your pain has been going down, by about 0.4 points a week.'
    >>> trend_for_patient("worsening", 0.06)
    'Over your diary your pain has been going up, by about 0.06 points a week. Your physio sees this too; talk to them if you are worried.'
    """  # noqa: E501
    if trend is None or pd.isna(trend) or str(trend) == STATUS_NOT_ENOUGH_DATA:
        return (f"There are not enough pain ratings yet to see a trend: ratings on at least "
                f"{int(settings.min_trend_days)} different days are needed.")
    size = abs(float(slope_per_week))
    words = f"{size:.1f}" if size >= 0.1 else f"{size:.2g}"
    if str(trend) == TREND_IMPROVING:
        return f"Over your diary your pain has been going down, by about {words} points a week."
    if str(trend) == TREND_WORSENING:
        return (f"Over your diary your pain has been going up, by about {words} points a week. "
                "Your physio sees this too; talk to them if you are worried.")
    return "Over your diary there is no clear trend up or down yet."
