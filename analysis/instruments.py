"""The measurement instruments rehabtrack scores, with their published properties.

One :class:`Instrument` per questionnaire or rating scale, holding its range,
direction, minimal clinically important difference (MCID), minimal detectable
change (MDC), recovery threshold, LOINC code and citation. Every value comes
from the literature cited in the project's clinical reference
(docs/clinical-reference.md section 1); where that reference is silent the
field is ``None`` and :attr:`Instrument.notes` says so, so an output can say
"not available" instead of inventing a number.

Direction matters: an improvement is a *fall* in NPRS, VAS, ODI and RMDQ but a
*rise* in PSFS. :func:`improvement` turns a change into "positive = better" for
any instrument, and every outcome function takes the direction from here.

The Keele STarT Back tool is a risk-grouping tool, not an outcome measure
(:attr:`Instrument.is_outcome` is ``False``): change scores are not computed
for it.

To use a different threshold (for another population or anchor), pass a
modified copy to the outcome functions::

    from dataclasses import replace
    nprs_15 = replace(get_instrument("nprs"), mcid_abs=1.5)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

from analysis.errors import RehabtrackError

__all__ = [
    "Instrument",
    "INSTRUMENTS",
    "OUTCOME_INSTRUMENTS",
    "UnknownInstrumentError",
    "get_instrument",
    "improvement",
]

_OSTELO = "Ostelo et al. 2008, Spine (MCID: absolute points or 30 % of baseline)"


class UnknownInstrumentError(RehabtrackError, LookupError):
    """An instrument name that is not in the registry.

    Attributes
    ----------
    key : str
        The name that was asked for.
    known : tuple of str
        The registry keys that exist.
    """

    def __init__(self, key: object, known: tuple[str, ...]) -> None:
        self.key = key
        self.known = known
        super().__init__(
            f"unknown instrument {key!r}; known instruments: {', '.join(known)} "
            "(write the instrument column with one of these names, e.g. 'odi' for the Oswestry Disability Index)"
        )


@dataclass(frozen=True)
class Instrument:
    """One instrument (questionnaire or rating scale) and its clinical properties.

    Attributes
    ----------
    key
        Short name used in the ``proms.instrument`` column (``"odi"``).
    name
        Full name shown to people.
    min, max
        Range of the total score, in :attr:`unit`.
    higher_is_better
        ``True`` when a higher score means less pain or disability (PSFS only).
    mcid_abs
        Minimal clinically important difference in score units, or ``None``
        where the clinical reference gives none.
    mcid_pct
        MCID as a fraction of the baseline score (0.30 = 30 %), or ``None``.
    mdc
        Minimal detectable change (95 %) in score units, or ``None`` where the
        clinical reference gives none. Used to derive the standard error of
        measurement for the reliable change index (SEM = MDC / (1.96 x sqrt 2)).
    recovered_max
        Highest score that counts as recovered (NPRS 1, RMDQ 2), or ``None``.
    loinc
        LOINC code of the total score, or ``None``.
    unit
        Unit of the total score (UCUM where a LOINC code exists).
    citation
        Source of the values above.
    n_items
        Number of items the questionnaire has (PSFS: at most 5 activities).
    item_min, item_max
        Range of one item response.
    is_outcome
        ``False`` for tools that group patients (STarT Back) rather than measure change.
    plain_name
        What the score measures, in words a patient reads ("Oswestry disability score").
    notes
        What the clinical reference does not give, and choices made for it.
    """

    key: str
    name: str
    min: float
    max: float
    higher_is_better: bool
    mcid_abs: float | None
    mcid_pct: float | None
    mdc: float | None
    recovered_max: float | None
    loinc: str | None
    unit: str
    citation: str
    n_items: int = 1
    item_min: float = 0.0
    item_max: float = 0.0
    is_outcome: bool = True
    plain_name: str = ""
    notes: str = ""

    @property
    def direction_word(self) -> str:
        """``"higher is better"`` or ``"lower is better"``."""
        return "higher is better" if self.higher_is_better else "lower is better"

    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is better (improvement = sign x change)."""
        return 1 if self.higher_is_better else -1


INSTRUMENTS: dict[str, Instrument] = {
    i.key: i
    for i in (
        Instrument(
            key="nprs",
            name="Numeric Pain Rating Scale",
            min=0,
            max=10,
            higher_is_better=False,
            mcid_abs=2.0,
            mcid_pct=0.30,
            mdc=1.8,
            recovered_max=1,
            loinc="72514-3",
            unit="{score}",
            citation=_OSTELO + "; recovered = 0-1 (PACE, Williams et al. 2014, Lancet); MDC about 1.8",
            n_items=1,
            item_min=0,
            item_max=10,
            plain_name="pain",
            notes="MDC given as 'about 1.8' in the clinical reference.",
        ),
        Instrument(
            key="vas",
            name="Visual Analogue Scale for pain",
            min=0,
            max=100,
            higher_is_better=False,
            mcid_abs=15.0,
            mcid_pct=0.30,
            mdc=None,
            recovered_max=None,
            loinc="38214-3",
            unit="mm",
            citation=_OSTELO + "; IMMPACT tiers: Dworkin et al. 2008",
            n_items=1,
            item_min=0,
            item_max=100,
            plain_name="pain score (VAS)",
            notes="No MDC and no recovery threshold in the clinical reference: reliable change "
            "needs a baseline SD and test-retest reliability from the user.",
        ),
        Instrument(
            key="odi",
            name="Oswestry Disability Index v2.1a",
            min=0,
            max=100,
            higher_is_better=False,
            mcid_abs=10.0,
            mcid_pct=0.30,
            mdc=None,
            recovered_max=None,
            loinc="97909-6",
            unit="%",
            citation=_OSTELO + "; scoring and bands: ODI v2.1a (Fairbank & Pynsent 2000, Spine)",
            n_items=10,
            item_min=0,
            item_max=5,
            plain_name="Oswestry disability score",
            notes="LOINC panel 97908-8. No MDC and no recovery threshold in the clinical reference: "
            "reliable change needs a baseline SD and test-retest reliability from the user.",
        ),
        Instrument(
            key="rmdq",
            name="Roland-Morris Disability Questionnaire (24 items)",
            min=0,
            max=24,
            higher_is_better=False,
            mcid_abs=5.0,
            mcid_pct=0.30,
            mdc=5.0,
            recovered_max=2,
            loinc=None,
            unit="points",
            citation=_OSTELO + "; scoring: Roland & Morris 1983, Spine; MDC 4-5; recovered <= 2",
            n_items=24,
            item_min=0,
            item_max=1,
            plain_name="Roland-Morris disability score",
            notes="The clinical reference gives the MDC as a range (4-5 points); the upper end (5) is used, "
            "which is the conservative choice for calling a change reliable. No LOINC code in the reference.",
        ),
        Instrument(
            key="psfs",
            name="Patient-Specific Functional Scale",
            min=0,
            max=10,
            higher_is_better=True,
            mcid_abs=None,
            mcid_pct=None,
            mdc=2.0,
            recovered_max=None,
            loinc=None,
            unit="points",
            citation="Stratford et al. 1995 (MDC 2 points for the mean score, 3 for a single activity)",
            n_items=5,
            item_min=0,
            item_max=10,
            plain_name="activity score (PSFS)",
            notes="Higher is better. The clinical reference gives an MDC (2 for the mean of the activities, "
            "3 for a single activity) but no MCID: MCID columns are 'not available' for PSFS. No LOINC code.",
        ),
        Instrument(
            key="startback",
            name="Keele STarT Back Screening Tool",
            min=0,
            max=9,
            higher_is_better=False,
            mcid_abs=None,
            mcid_pct=None,
            mdc=None,
            recovered_max=None,
            loinc=None,
            unit="points",
            citation="Hill et al. 2008 (total 0-3 low risk; else psychosocial items 5-9 >= 4 high, otherwise medium)",
            n_items=9,
            item_min=0,
            item_max=1,
            is_outcome=False,
            plain_name="STarT Back score",
            notes="A risk-grouping tool, not an outcome measure: no change scores are computed. "
            "Each item is recorded as 0 or 1 as on the published scoring sheet.",
        ),
    )
}

#: Keys of the instruments whose change over time is an outcome (all but STarT Back).
OUTCOME_INSTRUMENTS: tuple[str, ...] = tuple(k for k, i in INSTRUMENTS.items() if i.is_outcome)

_ALIASES: dict[str, str] = {
    "nrs": "nprs",
    "numeric pain rating": "nprs",
    "pain": "nprs",
    "oswestry": "odi",
    "rmdq-24": "rmdq",
    "rmdq24": "rmdq",
    "roland-morris": "rmdq",
    "roland morris": "rmdq",
    "start back": "startback",
    "start_back": "startback",
    "keele start back": "startback",
    "sbst": "startback",
}


def get_instrument(key: str | Instrument) -> Instrument:
    """Look an instrument up by key (case-insensitive; a few common aliases accepted).

    Parameters
    ----------
    key
        Registry key (``"nprs"``, ``"vas"``, ``"odi"``, ``"rmdq"``, ``"psfs"``,
        ``"startback"``), an alias such as ``"Oswestry"``, or an
        :class:`Instrument`, which is returned unchanged (so callers can pass a
        copy with changed thresholds).

    Returns
    -------
    Instrument
        The registry entry.

    Raises
    ------
    UnknownInstrumentError
        If the key is not known; the message lists the known keys.

    Examples
    --------
    >>> get_instrument("ODI").mcid_abs
    10.0
    """
    if isinstance(key, Instrument):
        return key
    if not isinstance(key, str):
        raise UnknownInstrumentError(key, tuple(INSTRUMENTS))
    norm = key.strip().lower()
    norm = _ALIASES.get(norm, norm)
    try:
        return INSTRUMENTS[norm]
    except KeyError:
        raise UnknownInstrumentError(key, tuple(INSTRUMENTS)) from None


_T = TypeVar("_T", float, np.ndarray, pd.Series)


def improvement(baseline: _T, current: _T, instrument: str | Instrument) -> _T:
    """Direction-aware change: positive means the patient is better.

    Parameters
    ----------
    baseline, current
        Scores in the instrument's units: scalars, arrays or Series of equal length.
    instrument
        Registry key or :class:`Instrument`; gives the direction.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        ``baseline - current`` where lower is better (NPRS, VAS, ODI, RMDQ),
        ``current - baseline`` where higher is better (PSFS), in score units.

    Notes
    -----
    Improvement = sign x (current - baseline), sign = +1 if higher is better else -1.

    Examples
    --------
    >>> improvement(7, 4, "nprs")
    3
    >>> improvement(4, 7, "psfs")
    3
    """
    inst = get_instrument(instrument)
    if isinstance(baseline, (list, tuple)):
        baseline = np.asarray(baseline, dtype=float)
    if isinstance(current, (list, tuple)):
        current = np.asarray(current, dtype=float)
    return inst.sign * (current - baseline)
