"""Tests of analysis.instruments: registry values against the published values, lookup, direction."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.errors import RehabtrackError
from analysis.instruments import (
    INSTRUMENTS,
    OUTCOME_INSTRUMENTS,
    Instrument,
    UnknownInstrumentError,
    get_instrument,
    improvement,
)
from analysis.schema import INSTRUMENTS as SCHEMA_INSTRUMENTS
from tests.conftest import ROOT

CLINICAL_REFERENCE = ROOT / "docs" / "clinical-reference.md"


# Expected values typed in by hand from the literature (Ostelo et al. 2008, Spine 33(1):90-94 for the MCIDs;
# Stratford et al. 1995 for PSFS; LOINC for the codes), the independent reference.
# key: (min, max, higher_is_better, mcid_abs, mcid_pct, mdc, recovered_max, loinc)
EXPECTED = {
    "nprs": (0, 10, False, 2.0, 0.30, 1.8, 1, "72514-3"),  # "MCID: 2 points or 30%"; "MDC about 1.8"; recovered 0-1
    "vas": (0, 100, False, 15.0, 0.30, None, None, "38214-3"),  # "MCID 15 mm or 30%"; no MDC given
    "odi": (0, 100, False, 10.0, 0.30, None, None, "97909-6"),  # "MCID 10 points or 30%"; no MDC given
    "rmdq": (0, 24, False, 5.0, 0.30, 5.0, 2, None),  # "MCID 5 points or 30%; MDC 4-5; recovered <= 2"
    "psfs": (0, 10, True, None, None, 2.0, None, None),  # "higher = better"; "MDC 2 (mean)"; no MCID
    "startback": (0, 9, False, None, None, None, None, None),  # risk grouping, not an outcome
}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_registry_values_match_domain_reference(key: str) -> None:
    inst = INSTRUMENTS[key]
    got = (inst.min, inst.max, inst.higher_is_better, inst.mcid_abs, inst.mcid_pct, inst.mdc,
           inst.recovered_max, inst.loinc)
    assert got == EXPECTED[key]
    assert inst.key == key
    assert inst.citation  # every entry says where its numbers come from


def test_registry_covers_the_schema_vocabulary() -> None:
    assert set(SCHEMA_INSTRUMENTS) == set(INSTRUMENTS)


def test_startback_is_a_risk_tool_not_an_outcome() -> None:
    assert INSTRUMENTS["startback"].is_outcome is False
    assert "startback" not in OUTCOME_INSTRUMENTS
    assert set(OUTCOME_INSTRUMENTS) == {"nprs", "vas", "odi", "rmdq", "psfs"}


def test_nprs_unit_is_ucum_score() -> None:
    assert INSTRUMENTS["nprs"].unit == "{score}"


def test_silent_values_are_explained_in_notes() -> None:
    # the cited literature gives no MDC for VAS/ODI, no MCID for PSFS, and an MDC range for RMDQ
    assert "MDC" in INSTRUMENTS["vas"].notes
    assert "MDC" in INSTRUMENTS["odi"].notes
    assert "MCID" in INSTRUMENTS["psfs"].notes
    assert "4-5" in INSTRUMENTS["rmdq"].notes


def test_loinc_codes_are_documented_in_the_clinical_reference() -> None:
    text = CLINICAL_REFERENCE.read_text(encoding="utf-8")
    codes = [i.loinc for i in INSTRUMENTS.values() if i.loinc]
    assert codes, "at least one LOINC code expected"
    for code in codes:
        assert re.search(rf"LOINC {re.escape(code)}", text), code


def test_instrument_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        INSTRUMENTS["nprs"].mcid_abs = 1.0  # type: ignore[misc]


def test_get_instrument_is_case_insensitive_and_knows_aliases() -> None:
    assert get_instrument("ODI") is INSTRUMENTS["odi"]
    assert get_instrument(" psfs ") is INSTRUMENTS["psfs"]
    assert get_instrument("Oswestry") is INSTRUMENTS["odi"]
    assert get_instrument("Roland-Morris") is INSTRUMENTS["rmdq"]
    custom = dataclasses.replace(INSTRUMENTS["nprs"], mcid_abs=1.5)
    assert get_instrument(custom) is custom


def test_unknown_instrument_raises_typed_error_listing_known_keys() -> None:
    with pytest.raises(UnknownInstrumentError) as info:
        get_instrument("sf36")
    err = info.value
    assert isinstance(err, RehabtrackError)
    assert isinstance(err, LookupError)
    msg = str(err)
    assert "sf36" in msg
    for key in INSTRUMENTS:
        assert key in msg
    with pytest.raises(UnknownInstrumentError):
        get_instrument(42)  # type: ignore[arg-type]


def test_improvement_by_hand() -> None:
    # NPRS lower is better: 7 -> 4 is 3 points better; 4 -> 7 is 3 points worse
    assert improvement(7, 4, "nprs") == 3
    assert improvement(4, 7, "nprs") == -3
    # ODI 40 -> 26 = 14 points better
    assert improvement(40.0, 26.0, "odi") == pytest.approx(14.0)
    # PSFS higher is better: 4 -> 7 is 3 points better
    assert improvement(4, 7, "psfs") == 3
    assert improvement(7, 4, "psfs") == -3


def test_improvement_vectorised_keeps_index() -> None:
    b = pd.Series([7.0, 6.0, 3.0], index=["a", "b", "c"])
    c = pd.Series([4.0, 6.0, 5.0], index=["a", "b", "c"])
    out = improvement(b, c, "nprs")
    assert list(out.index) == ["a", "b", "c"]
    np.testing.assert_allclose(out.to_numpy(), [3.0, 0.0, -2.0])
    np.testing.assert_allclose(improvement([1, 2], [3, 5], "psfs"), [2.0, 3.0])


def _flipped(inst: Instrument) -> Instrument:
    return dataclasses.replace(inst, higher_is_better=not inst.higher_is_better)


@given(
    key=st.sampled_from(sorted(INSTRUMENTS)),
    baseline=st.floats(0, 100, allow_nan=False),
    current=st.floats(0, 100, allow_nan=False),
)
def test_improvement_sign_flips_with_direction(key: str, baseline: float, current: float) -> None:
    inst = INSTRUMENTS[key]
    a = improvement(baseline, current, inst)
    assert a == -improvement(baseline, current, _flipped(inst))
    assert a == -improvement(current, baseline, inst)
    # positive exactly when the score moved in the instrument's better direction
    moved_up = current > baseline
    if current != baseline:
        assert (a > 0) == (moved_up == inst.higher_is_better)
