"""Every label a physio reads agrees with the numbers beside it (issue 15), on the committed sample.

* planted vs found: every planted behaviour of data/sample/planted.csv gets its flag or label,
  and where the recorded data cannot show it (a spike at the top of the scale, a patient with
  no pain rating) the test says why;
* no row of the caseload summary, of the patient detail's headline table or of the PDF report
  holds two statements that contradict each other, or a label that contradicts a number shown
  beside it.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd
import pytest

from analysis.cohort import ATTENTION_RULES, TRAFFIC_LIGHTS, cohort_summary
from analysis.flags import pain_flares, safety_flags
from analysis.patient_detail import headline_table, patient_detail, questionnaire_table
from analysis.prescriptions import dose_in_force
from analysis.sample_data import SNAPSHOT_DATE, load_cohort
from analysis.schema import CohortTables
from analysis.settings import DEFAULT_SETTINGS

AS_OF = pd.Timestamp(SNAPSHOT_DATE)
ALPHA = 1 - DEFAULT_SETTINGS.trend_confidence
DOSE = ["exercise", "side", "sets", "reps", "hold_s", "sessions_per_week"]


@cache
def sample() -> CohortTables:
    return load_cohort()


@cache
def summary() -> pd.DataFrame:
    return cohort_summary(sample(), as_of=AS_OF)


@cache
def flags() -> pd.DataFrame:
    c = sample()
    return safety_flags(c.sessions, c.pain, c.patients, as_of=AS_OF, prescriptions=c.prescriptions)


def planted() -> pd.DataFrame:
    p = sample().planted.copy()
    p["date"] = pd.to_datetime(p["date"])
    return p


def _dose(rx: pd.DataFrame, when: pd.Timestamp) -> list[tuple]:
    return sorted(tuple(map(str, r)) for r in dose_in_force(rx, when)[DOSE].itertuples(index=False))


@cache
def found_table() -> pd.DataFrame:
    """One row per planted behaviour: was its flag or label found?"""
    s = summary().set_index("patient_id")
    f = flags()
    rx = sample().prescriptions
    rows = []
    for r in planted().itertuples(index=False):
        mine = f[f["patient_id"] == r.patient_id]
        if r.behaviour == "outcome":
            label = {"worsening": "worsening", "responder": "improving", "flat": "no clear trend"}[r.detail]
            found = s.loc[r.patient_id, "trend"] == label
            behaviour = f"outcome {r.detail} -> trend '{label}'"
        elif r.behaviour == "pain_spike":  # the onset day or the next two (the spike decays over 3 days)
            near = (mine["date"] >= r.date) & (mine["date"] <= r.date + pd.Timedelta(days=2))
            found = bool((near & (mine["kind"] == "pain_flare")).any())
            behaviour = "pain_spike -> pain flare flag"
        elif r.behaviour == "self_reported_flare_without_spike":
            found = bool(((mine["date"] == r.date) & (mine["kind"] == "self_reported_flare")).any())
            behaviour = "self-reported flare -> self-reported flare flag"
        elif r.behaviour == "stopped_logging":  # the gap starts within a week of the planted day
            gap = mine[mine["kind"] == "logging_stopped"]
            found = bool(((gap["date"] - r.date).abs() <= pd.Timedelta(days=7)).any())
            behaviour = "stopped_logging -> logging stopped flag"
        elif r.behaviour == "load_jump":  # a flagged programme week overlapping the 7 days of the jump
            jump = mine[mine["kind"] == "rapid_load_increase"]
            found = bool(((jump["date"] <= r.date + pd.Timedelta(days=6))
                          & (jump["date"] + pd.Timedelta(days=6) >= r.date)).any())
            behaviour = "load_jump -> rapid load increase flag"
        else:  # a prescription change: the dose in force changes on that day
            mine_rx = rx[rx["patient_id"] == r.patient_id]
            found = _dose(mine_rx, r.date) != _dose(mine_rx, r.date - pd.Timedelta(days=1))
            behaviour = "prescription_change -> new dose in force that day"
        rows.append((behaviour, r.patient_id, r.day, bool(found)))
    return pd.DataFrame(rows, columns=["behaviour", "patient_id", "day", "found"])


def test_planted_vs_found() -> None:
    t = found_table()
    counts = t.groupby("behaviour")["found"].agg(["size", "sum"])
    print("\n" + counts.to_string())  # the table of the closing note (pytest -s)
    got = {k: (int(v["sum"]), int(v["size"])) for k, v in counts.iterrows()}
    assert got["load_jump -> rapid load increase flag"] == (3, 3)
    assert got["self-reported flare -> self-reported flare flag"] == (22, 22)
    assert got["stopped_logging -> logging stopped flag"] == (8, 8)
    assert got["prescription_change -> new dose in force that day"] == (95, 95)
    assert got["outcome worsening -> trend 'worsening'"] == (8, 9)
    assert got["outcome responder -> trend 'improving'"] == (31, 33)
    assert got["outcome flat -> trend 'no clear trend'"] == (13, 18)
    assert got["pain_spike -> pain flare flag"] == (41, 46)


def test_every_missed_outcome_or_spike_is_one_the_data_cannot_show() -> None:
    t = found_table()
    s = summary().set_index("patient_id")
    p = planted()
    stopped = set(p.loc[p["behaviour"] == "stopped_logging", "patient_id"])
    # worsening and responders: the misses are patients who stopped logging early (no or too few ratings)
    for behaviour in ("outcome worsening -> trend 'worsening'", "outcome responder -> trend 'improving'"):
        missed = t.loc[(t["behaviour"] == behaviour) & ~t["found"], "patient_id"]
        assert set(missed) <= stopped, behaviour
    assert s.loc["P043", "n_days_rated"] == 0 and s.loc["P043", "trend"] == "not enough data"
    assert s.loc["P043", "traffic_light"] == "red"  # it is flagged red for its silence instead
    # flat courses labelled: the rank test on a serially correlated diary is liberal (documented, section 3);
    # every such label still agrees in sign with its slope and p-value
    missed = t.loc[(t["behaviour"] == "outcome flat -> trend 'no clear trend'") & ~t["found"], "patient_id"]
    assert len(missed) == 5 and (s.loc[list(missed), "trend_p"] < ALPHA).all()
    # spikes: the diary shows no rating 2 above the baseline on days 0-2 of the spike: the rating is missing,
    # at the top of the scale (a baseline of 9 cannot rise 2 on a 0-10 scale), or the baseline was already
    # raised by a flare in the week before
    c = sample()
    pf = pain_flares(c.pain, c.patients)
    for r in t.loc[(t["behaviour"] == "pain_spike -> pain flare flag") & ~t["found"]].itertuples(index=False):
        start = pd.Timestamp(c.patients.set_index("patient_id").loc[r.patient_id, "programme_start"])
        onset = start + pd.Timedelta(days=int(r.day))
        mine = pf[pf["patient_id"] == r.patient_id]
        window = mine[(mine["date"] >= onset) & (mine["date"] <= onset + pd.Timedelta(days=2))]
        assert (window["rise"].fillna(0) < 2).all()
        ceiling = (window["baseline"] + 2 > 10).any()
        missing = not (mine["date"] == onset).any()
        after_flare = (mine["flagged"] & (mine["date"] < onset) & (mine["date"] >= onset - pd.Timedelta(days=7))).any()
        assert ceiling or missing or after_flare, (r.patient_id, r.day)


def test_the_load_flag_fires_for_a_justified_share_of_patients() -> None:
    f = flags()
    load = set(f.loc[f["kind"] == "rapid_load_increase", "patient_id"])
    p = planted()
    jumps = set(p.loc[p["behaviour"] == "load_jump", "patient_id"])
    assert jumps <= load  # 3 of 3 planted jumps
    # 5 of 60 patients (3 planted, 2 who did more than their plan after a lighter month): the uncapped ratio
    # flagged 43 of 60, mostly comebacks below the plan
    assert len(load) == 5 and len(load) / len(sample().patients) < 0.1


def _signed_number(text: str, after: str) -> float:
    match = re.search(re.escape(after) + r"([+-]?\d+(?:\.\d+)?)", text)
    assert match, (after, text)
    return float(match.group(1))


def test_no_row_of_the_caseload_contradicts_itself() -> None:
    s = summary()
    points = {r.key: r.points for r in ATTENTION_RULES}
    for row in s.itertuples(index=False):
        reasons = str(row.attention_reasons)
        rules = [k for k in str(row.attention_rules).split(",") if k]
        # the trend: label, slope and p-value agree; the sentence shows the slope rounded from the column
        if row.trend in ("worsening", "improving"):
            sign = 1 if row.trend == "worsening" else -1
            assert sign * row.trend_slope_per_week > 0 and row.trend_p < ALPHA and sign * row.trend_tau > 0
            assert _signed_number(row.trend_text, f"{row.trend}: ") == pytest.approx(row.trend_slope_per_week,
                                                                                       abs=0.005)
        elif row.trend == "no clear trend":
            called = row.trend_p < ALPHA and np.sign(row.trend_tau) == np.sign(row.trend_slope_per_week)
            assert not called
        assert str(row.trend_text).startswith(f"{row.trend}: ")
        assert ("pain rising" in reasons) == (row.trend == "worsening")
        # MCID: the verdict, its number and its sign
        if row.pain_status == "ok":
            assert str(row.mcid_text).startswith("MCID met: " if row.mcid_met else "MCID not met: ")
            assert _signed_number(row.mcid_text, ": ") == pytest.approx(round(row.pain_change, 1), abs=1e-9)
            assert "rule 2 points or 30 % better" in row.mcid_text
            if row.mcid_met:
                assert row.pain_change < 0 and "pain worse than at the start" not in reasons
        if "pain worse than at the start" in reasons:
            assert row.pain_change > 0 and row.trend != "improving"
        # logging: a finished programme never reads "stopped logging"
        assert ("stopped logging" in reasons) == (row.logging_status == "stopped logging")
        if row.logging_status == "programme finished":
            assert row.open_logging_stopped == 0
        # adherence: the reason's percentage is the column's, and the rule's threshold
        if "low_adherence" in rules:
            assert row.adherence < DEFAULT_SETTINGS.adherent_threshold
            assert f"adherence {round(row.adherence * 100):.0f} % (adherent from 70 %)" in reasons
        # score, light and reasons: one reason per rule, in the table's order
        assert len([r for r in reasons.split("; ") if r]) == len(rules)
        assert row.attention_score == sum(points[k] for k in rules)
        assert row.attention_score == sum(int(n) for n in re.findall(r"\(\+(\d+)\)", reasons))
        assert (row.traffic_light == "green") == (reasons == "") == (row.attention_score == 0)


def test_the_caseload_order_is_light_then_score_then_severity_never_the_id() -> None:
    s = summary()
    light = s["traffic_light"].map({k: i for i, k in enumerate(TRAFFIC_LIGHTS)}).to_numpy()
    assert (np.diff(light) >= 0).all()
    for _, group in s.groupby("traffic_light", sort=False):
        assert (np.diff(group["attention_score"].to_numpy()) <= 0).all()
    # the case: red patients who stopped logging come before amber P007, whatever their IDs
    order = list(s["patient_id"])
    for pid in ("P043", "P054"):
        assert order.index(pid) < order.index("P007")
    # ties within light and score: the longer silence first, then the lower adherence
    for _, group in s.groupby(["traffic_light", "attention_score"], sort=False):
        key = list(zip(-group["days_without_log"], group["adherence"].fillna(np.inf), strict=True))
        assert key == sorted(key)


@cache
def details() -> dict[str, object]:
    c = sample()
    return {pid: patient_detail(c, pid, as_of=AS_OF, summary=summary()) for pid in c.patients["patient_id"]}


def test_no_row_of_the_patient_detail_contradicts_the_caseload() -> None:
    s = summary().set_index("patient_id")
    for pid, detail in details().items():
        table = dict(zip(headline_table(detail)["measure"], headline_table(detail)["value"], strict=True))
        row = s.loc[pid]
        trend_row = table["Pain trend (Mann-Kendall direction, least-squares slope of daily pain)"]
        assert trend_row == row["trend_text"]
        if row["pain_status"] == "ok":
            assert table["MCID (meaningful change in pain)"] == row["mcid_text"]
            change = table["Change in pain"]
            assert float(change.split(" points")[0]) == pytest.approx(round(row["pain_change"], 1))
        assert table["Status"].startswith(str(row["traffic_light"]))
        assert ("stopped logging" in table["Last entry"]) == (row["logging_status"] == "stopped logging")
        for text in questionnaire_table(detail).to_numpy().ravel():
            assert not re.search(r"\d\.\d{3,}", str(text)), text  # rounded where shown: no 57.99999999999999


def test_the_pdf_report_says_what_the_caseload_says() -> None:
    pypdf = pytest.importorskip("pypdf")
    import io

    from analysis.report_pdf import detail_report_pdf

    s = summary().set_index("patient_id")
    for pid in ("P008", "P026", "P004", "P048"):
        text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(
            detail_report_pdf(details()[pid]))).pages)
        flat = re.sub(r"\s+", " ", text)
        row = s.loc[pid]
        assert row["trend"] in flat
        if row["trend"] == "not enough data":
            assert row["trend_text"] in flat and "points/week" not in flat
            continue
        slope = re.search(r"(worsening|improving|no clear trend): ([+-]?\d+\.\d+) points/week", flat)
        assert slope and slope.group(1) == row["trend"]
        assert float(slope.group(2)) == pytest.approx(row["trend_slope_per_week"], abs=0.005)
        other = {"worsening", "improving"} - {row["trend"]}
        assert not any(f"{o}: " in flat for o in other)
        assert "Theil-Sen" not in flat
