"""Why a patient is red or amber, in a physio's plain words, from the numbers of the summary.

:func:`why` turns the attention rules that apply to each row of
:func:`analysis.cohort.cohort_summary` (its ``attention_rules`` column) into a short
sentence such as ``"pain up 6.8 → 8.7 since start; 2 painful sessions in the last
14 days; no log for 9 days"``. Every phrase is written from the same summary
columns as the rule that set the status, so the words cannot disagree with the
traffic light or the numbers shown beside them: a green row (no rule applies)
reads :data:`NOTHING_FLAGGED`, and a red row always names at least one red rule.

The statistics behind each phrase (Mann-Kendall tau and p, the MCID rule, the
reliable change index, the flag thresholds) stay in ``attention_reasons`` for the
patient detail page and the column help; they are never part of these words.
:data:`RULE_TITLES` names each rule in plain words for the "How the order is
made" table.

References
----------
docs/clinical-reference.md sections 2 (MCID, RCI), 3 (trends), 4 (adherence),
5 (safety flags) and 8 (the triage points are a project choice).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from analysis.cohort import ATTENTION_RULES, attention_rules
from analysis.flags import OPEN_DAYS
from analysis.settings import DEFAULT_SETTINGS, Settings

__all__ = ["NOTHING_FLAGGED", "RULE_TITLES", "why", "rules_in_words"]

#: The "why" of a row no attention rule applies to (a green row).
NOTHING_FLAGGED = "nothing flagged"

#: Each attention rule (:data:`analysis.cohort.ATTENTION_RULES`) in a physio's words.
RULE_TITLES: dict[str, str] = {
    "logging_stopped": "No log for a while",
    "pain_rising": "Pain rising week by week",
    "pain_deteriorated": "Pain worse than at the start",
    "pain_during_exercise": "Painful sessions",
    "pain_flare": "Pain flares",
    "no_sessions": "No exercise logged",
    "no_pain_ratings": "Exercising without pain scores",
    "self_reported_flare": "Patient reported a flare",
    "rapid_load_increase": "Exercise load rose quickly",
    "low_adherence": "Few of the planned sessions done",
    "questionnaire_deteriorated": "Questionnaire score worse",
    "behind_expected": "Behind similar patients of this clinic",
}


def _num(values: pd.Series, decimals: int = 1) -> pd.Series:
    """Numbers as text with ``decimals`` places ('6.8'); whole-number counts with ``decimals=0``."""
    x = values.astype("Float64").round(decimals)
    return x.map(lambda v: f"{v:.{decimals}f}", na_action="ignore").astype("string").fillna("n/a")


def _count(values: pd.Series, one: str, many: str) -> pd.Series:
    n = values.astype("Int64").fillna(0)
    return n.astype("string") + " " + pd.Series(np.where(n.to_numpy() == 1, one, many), index=values.index)


def _questionnaires(s: pd.DataFrame) -> pd.Series:
    parts = []
    for key, unit in (("odi", "%-points"), ("rmdq", "points")):
        change = s[f"{key}_change"].astype("Float64")
        text = f"{key.upper()} worse by " + _num(change, 0) + f" {unit}"
        parts.append(text.where(change.gt(0).fillna(False), pd.NA))
    odi, rmdq = parts
    both = odi.notna() & rmdq.notna()
    return odi.where(~both, odi + ", " + rmdq).fillna(rmdq).fillna("questionnaire score worse")


_PHRASES: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "logging_stopped": lambda s: "no log for " + _num(s["days_without_log"], 0) + " days",
    "pain_rising": lambda s: "pain rising, about +" + _num(s["trend_slope_per_week"].abs(), 1) + " a week",
    "pain_deteriorated": lambda s: ("pain up " + _num(s["pain_baseline"]) + " → " + _num(s["pain_current"])
                                    + " since start"),
    "pain_during_exercise": lambda s: (_count(s["open_pain_during_exercise"], "painful session", "painful sessions")
                                       + f" in {OPEN_DAYS} days"),
    "pain_flare": lambda s: (_count(s["open_pain_flare"], "pain flare", "pain flares")
                             + f" in {OPEN_DAYS} days"),
    "no_sessions": lambda s: pd.Series("no exercise logged since the start", index=s.index, dtype="string"),
    "no_pain_ratings": lambda s: pd.Series("exercising but no recent pain score", index=s.index, dtype="string"),
    "self_reported_flare": lambda s: pd.Series("reported a flare", index=s.index, dtype="string"),
    "rapid_load_increase": lambda s: pd.Series("exercise load rose quickly", index=s.index, dtype="string"),
    "low_adherence": lambda s: ("did " + _num(s["adherence"] * 100, 0) + " % of planned sessions"),
    "questionnaire_deteriorated": _questionnaires,
    # the numbers (observed, expected, 80 % range, week) are in the reason on the patient's page
    "behind_expected": lambda s: pd.Series("pain above similar patients of this clinic at this week",
                                           index=s.index, dtype="string"),
}

#: Red rules first, then amber, each colour in the order of ATTENTION_RULES.
_ORDER = [r for r in ATTENTION_RULES if r.light == "red"] + [r for r in ATTENTION_RULES if r.light != "red"]


def why(summary: pd.DataFrame, most: int = 3) -> pd.Series:
    """The reasons for a patient's status in plain words, one string per row.

    Parameters
    ----------
    summary
        Rows of :func:`analysis.cohort.cohort_summary` (any order or subset); the
        columns used are ``attention_rules`` and the numbers each rule is written
        from: ``days_without_log`` (days), ``trend_slope_per_week`` (NPRS
        points/week), ``pain_baseline`` and ``pain_current`` (NPRS points 0-10),
        ``open_pain_during_exercise`` and ``open_pain_flare`` (flags open within
        :data:`analysis.flags.OPEN_DAYS` days), ``adherence`` (fraction 0-1),
        ``odi_change`` (%-points) and ``rmdq_change`` (points).
    most
        At most this many phrases; further ones are counted (``"; +2 more"``).
        Red rules come first, so a red row always shows a red reason.

    Returns
    -------
    pandas.Series
        ``string`` dtype, same index as ``summary``: the phrases of the rules that
        apply, red rules first (in the order of
        :data:`analysis.cohort.ATTENTION_RULES` within a colour), joined by
        ``"; "``; :data:`NOTHING_FLAGGED` where no rule applies (a green row).
        No statistic (tau, p, RCI, rule thresholds) is part of the words: those
        are in ``attention_reasons``.

    Notes
    -----
    Vectorised: one pass per rule (a dozen), not per patient. The rules, their
    thresholds and their references are those of :data:`analysis.cohort.ATTENTION_RULES`
    (docs/clinical-reference.md sections 2-5; the points are a project choice,
    section 8).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"attention_rules": ["low_adherence,logging_stopped", ""],
    ...                   "days_without_log": [9, 0], "adherence": [0.45, 0.9]})
    >>> why(s).tolist()
    ['no log for 9 days; did 45 % of planned sessions', 'nothing flagged']
    """
    keys = summary["attention_rules"].astype("string").fillna("")
    applied = "," + keys + ","
    out = pd.Series("", index=summary.index, dtype="string")
    shown = np.zeros(len(summary), dtype=np.int64)
    for rule in _ORDER:  # a dozen rules, each vectorised over the rows
        applies = applied.str.contains(f",{rule.key},", regex=False).to_numpy(dtype=bool)
        hit = applies & (shown < most)
        shown += applies
        if not hit.any():
            continue
        words = _PHRASES[rule.key](summary.loc[hit]).astype("string")
        current = out.loc[hit]
        out.loc[hit] = current.where(current.eq(""), current + "; ") + words
    more = pd.Series(shown - most, index=summary.index)
    out = out.where(more.le(0), out + "; +" + more.astype("string") + " more")
    return out.mask(out.eq(""), NOTHING_FLAGGED)


_PERCENT_SETTINGS = ("adherent_threshold", "mcid_percent")


def rules_in_words(settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """The attention rules for the caseload's "How the order is made" table, in plain words.

    Parameters
    ----------
    settings
        The thresholds in force: each setting a rule's description names is
        replaced by its value (fractions as %), so no code name is shown.

    Returns
    -------
    pandas.DataFrame
        One row per rule of :data:`analysis.cohort.ATTENTION_RULES`, in order:
        ``Reason`` (its title, :data:`RULE_TITLES`), ``Status`` (``red`` or
        ``amber``: the status it sets at least), ``Points`` (its attention points,
        a project choice) and ``When`` (when it applies, with the values in force).

    Examples
    --------
    >>> rules_in_words().loc[0, "When"][:60]
    'no session or pain entry for >= 7 days while the programme r'
    """
    values = settings.as_dict()
    words = {name: (f"{float(v) * 100:g} %" if name in _PERCENT_SETTINGS else f"{v:g}")
             for name, v in values.items() if isinstance(v, int | float)}
    words["1 - trend_confidence"] = f"{1 - float(settings.trend_confidence):.2g}"
    words.update({key: f"'{title.lower()}'" for key, title in RULE_TITLES.items()})
    pattern = re.compile("|".join(rf"\b{re.escape(k)}\b" if k[0].isalpha() else re.escape(k)
                                  for k in sorted(words, key=len, reverse=True)))
    rules = attention_rules()
    return pd.DataFrame({
        "Reason": rules["rule"].map(RULE_TITLES).astype("string"),
        "Status": rules["light"],
        "Points": rules["points"],
        "When": rules["description"].map(lambda d: pattern.sub(lambda m: words[m.group(0)], d)).astype("string"),
    })
