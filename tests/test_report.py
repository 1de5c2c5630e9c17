"""Tests of analysis.report (cohort tables, methods text, written report) and `rehabtrack report cohort`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.survfunc import survdiff
from typer.testing import CliRunner

from analysis import cli
from analysis.pseudonyms import pseudonymise_ids
from analysis.report import (
    REPORT_FIGURES,
    REPORT_TABLES,
    adherence_groups,
    data_completeness,
    flag_rates,
    km_by_group,
    load_vs_flares,
    mcid_rci_table,
    methods_text,
    package_versions,
    pain_during_zones,
    responder_table,
    weekly_overview,
    write_cohort_report,
)
from analysis.sample_data import SNAPSHOT_DATE, load_cohort
from analysis.settings import DEFAULT_SETTINGS
from tests.conftest import SAMPLE_DIR

KEY = b"k" * 40


@pytest.fixture(scope="module")
def cohort():
    return load_cohort(SAMPLE_DIR)


@pytest.fixture(scope="module")
def report(cohort, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return out, write_cohort_report(cohort, out, as_of=SNAPSHOT_DATE, key=KEY)


def weekly_rows(rows: list[tuple]) -> pd.DataFrame:
    cols = ["patient_id", "week", "status", "sessions_completed", "days_rated", "days_elapsed", "adherence_rate",
            "meets_plan", "nprs_mean", "share_days_rated"]
    frame = pd.DataFrame(rows, columns=cols)
    frame["meets_plan"] = frame["meets_plan"].astype("boolean")
    return frame


# --------------------------------------------------------------------------- completeness and weekly overview


def test_data_completeness_by_hand() -> None:
    weekly = weekly_rows([
        ("A", 1, "complete", 3, 7, 7, 0.6, False, 5.0, 1.0),
        ("A", 2, "complete", 0, 2, 7, 0.0, False, 4.0, 2 / 7),
        ("A", 3, "stopped logging", 0, 0, 7, 0.0, False, np.nan, 0.0),
        ("A", 4, "in progress", 1, 1, 3, 1.0, True, 3.0, 1 / 3),
        ("A", 5, "not yet", 0, 0, 0, np.nan, None, np.nan, np.nan),  # not started: not counted
        ("B", 1, "complete", 0, 0, 7, 0.0, False, np.nan, 0.0),
        ("B", 2, None, np.nan, 4, np.nan, np.nan, None, 4.0, 4 / 7),  # after the programme: not counted
    ])
    got = data_completeness(weekly).set_index("patient_id")
    # A: 4 started weeks; sessions in weeks 1 and 4; pain in 1, 2, 4; logs in 1, 2, 4
    # days: 7 + 7 + 7 + 3 = 24 elapsed, 7 + 2 + 0 + 1 = 10 rated
    assert got.loc["A", ["weeks_elapsed", "weeks_with_sessions", "weeks_with_pain", "weeks_with_logs"]].tolist() == [
        4, 2, 3, 3]
    assert got.loc["A", "share_weeks_logged"] == pytest.approx(3 / 4)
    assert got.loc["A", "days_elapsed"] == 24 and got.loc["A", "days_rated"] == 10
    assert got.loc["A", "share_days_rated"] == pytest.approx(10 / 24)
    # B: one started week with nothing logged
    assert got.loc["B", "weeks_with_logs"] == 0 and got.loc["B", "share_days_rated"] == 0.0


def test_weekly_overview_by_hand() -> None:
    weekly = weekly_rows([
        ("A", 1, "complete", 5, 7, 7, 1.0, True, 6.0, 1.0),
        ("B", 1, "complete", 2, 5, 7, 0.4, False, 4.0, 5 / 7),
        ("C", 1, "complete", 3, 0, 7, 0.6, False, np.nan, 0.0),
        ("D", 1, "not yet", 0, 0, 0, np.nan, None, np.nan, np.nan),
        ("A", 2, "complete", 1, 7, 7, 0.2, False, 5.0, 1.0),
    ])
    got = weekly_overview(weekly).set_index("week")
    # week 1: rates 1.0, 0.4, 0.6 -> mean 2/3, median 0.6, q1 0.5, q3 0.8 (linear interpolation); 1 of 3 meets
    assert got.loc[1, "n_patients"] == 3
    assert got.loc[1, "adherence_mean"] == pytest.approx(2 / 3)
    assert got.loc[1, "adherence_median"] == pytest.approx(0.6)
    assert got.loc[1, "adherence_q1"] == pytest.approx(np.percentile([1.0, 0.4, 0.6], 25))
    assert got.loc[1, "adherence_q3"] == pytest.approx(np.percentile([1.0, 0.4, 0.6], 75))
    assert got.loc[1, "share_meeting_plan"] == pytest.approx(1 / 3)
    assert got.loc[1, "n_with_pain"] == 2 and got.loc[1, "nprs_mean"] == pytest.approx(5.0)
    assert got.loc[1, "share_days_rated_mean"] == pytest.approx((1 + 5 / 7 + 0) / 3)
    assert got.loc[2, "n_patients"] == 1


# --------------------------------------------------------------------------- responders


def change_rows() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": pd.array(["A", "B", "C", "D", "E"], dtype="string"),
        "status": pd.array(["ok", "ok", "ok", "ok", "not enough data: baseline"], dtype="string"),
        "mcid_abs_threshold": [2.0] * 5,
        "mcid_abs_met": pd.array([True, False, True, False, None], dtype="boolean"),
        "mcid_pct_met": pd.array([True, True, False, False, None], dtype="boolean"),
        "mcid_met": pd.array([True, True, True, False, None], dtype="boolean"),
        "rci_category": pd.array(["reliable improvement", "no reliable change", "reliable improvement",
                                  "no reliable change", None], dtype="string"),
        "immpact_tier": pd.array(["substantial", "moderate", "none", "none", None], dtype="string"),
    })


def test_responder_table_counts_each_rule() -> None:
    groups = pd.Series(pd.array(["g1", "g1", "g2", "g2", "g2"], dtype="string"),
                       index=pd.Index(["A", "B", "C", "D", "E"], dtype="string"))
    got = responder_table(change_rows(), groups).set_index(["group", "rule"])
    assert got.loc[("all", "absolute (>= 2 points)"), "n_responders"] == 2  # A, C
    assert got.loc[("all", "percent (>= 30 % of baseline)"), "n_responders"] == 2  # A, B
    assert got.loc[("all", "either (MCID responder)"), "n_responders"] == 3  # A, B, C
    assert got.loc[("all", "both"), "n_responders"] == 1  # A
    assert got.loc[("all", "both"), "n_evaluable"] == 4 and got.loc[("all", "both"), "n_not_evaluable"] == 1
    assert got.loc[("all", "either (MCID responder)"), "percent"] == pytest.approx(75.0)
    assert got.loc[("g2", "either (MCID responder)"), "n_responders"] == 1  # C of C, D (E not evaluable)
    assert got.loc[("g2", "either (MCID responder)"), "n_not_evaluable"] == 1


def test_mcid_rci_four_combinations() -> None:
    got = mcid_rci_table(change_rows()).set_index(["mcid_met", "reliable_improvement"])
    # A: MCID + reliable; B: MCID only; C: MCID + reliable; D: neither
    assert got.loc[(True, True), "n"] == 2
    assert got.loc[(True, False), "n"] == 1
    assert got.loc[(False, True), "n"] == 0
    assert got.loc[(False, False), "n"] == 1
    assert got["percent"].sum() == pytest.approx(100.0)


def test_adherence_groups_use_the_threshold() -> None:
    summary = pd.DataFrame({"patient_id": ["A", "B", "C"], "adherence": [0.70, 0.6999, np.nan]})
    got = adherence_groups(summary, DEFAULT_SETTINGS.replace(adherent_threshold=0.7))
    assert got["A"] == "adherent (>= 70 %)" and got["B"] == "not adherent (< 70 %)" and pd.isna(got["C"])


# --------------------------------------------------------------------------- time to event


def test_km_by_group_hand_computed_and_logrank_against_statsmodels() -> None:
    # group a: times 2, 3, 3+, 5 -> S(2) = 3/4, S(3) = 3/4 x 2/3 = 1/2, S(5) = 0; median 3
    # group b: times 4+, 6, 8, 9+ -> S(6) = 2/3, S(8) = 1/3; median 8
    events = pd.DataFrame({
        "patient_id": list("abcdefgh"),
        "time_to_mcid_days": [2, 3, 3, 5, 4, 6, 8, 9],
        "mcid_event": pd.array([True, True, False, True, False, True, True, False], dtype="boolean"),
    })
    groups = pd.Series(["a"] * 4 + ["b"] * 4, index=list("abcdefgh"))
    km = km_by_group(events, groups, event="mcid")
    a = km.curves["a"].table.set_index("time")["survival"]
    assert a.loc[2.0] == pytest.approx(0.75) and a.loc[3.0] == pytest.approx(0.5) and a.loc[5.0] == 0.0
    b = km.curves["b"].table.set_index("time")["survival"]
    assert b.loc[6.0] == pytest.approx(2 / 3) and b.loc[8.0] == pytest.approx(1 / 3)
    assert km.curves["a"].median == 3.0 and km.curves["b"].median == 8.0
    medians = km.medians.set_index("group")
    assert medians.loc["all", "n"] == 8 and medians.loc["all", "n_events"] == 5
    stat, p = survdiff(events["time_to_mcid_days"].to_numpy(float), events["mcid_event"].to_numpy(bool),
                       np.array(list("aaaabbbb")))
    assert km.logrank.statistic == pytest.approx(stat, rel=1e-6)
    assert km.logrank.p_value == pytest.approx(p, rel=1e-6)


def test_km_by_group_rejects_unknown_event() -> None:
    with pytest.raises(ValueError, match="mcid"):
        km_by_group(pd.DataFrame(), pd.Series(dtype="string"), event="death")


# --------------------------------------------------------------------------- safety and load


def test_flag_rates_by_hand() -> None:
    weekly = weekly_rows([(p, w, "complete", 1, 1, 7, 0.5, False, 5.0, 1.0) for p in "AB" for w in range(1, 6)])
    flags = pd.DataFrame({
        "patient_id": ["A", "A", "B", "A"],
        "kind": pd.array(["pain_flare", "pain_flare", "pain_flare", "rapid_load_increase"], dtype="string"),
    })
    got = flag_rates(flags, weekly).set_index("kind")
    # exposure: 2 patients x 5 weeks = 10 patient-weeks; 3 pain flares = 30 per 100 patient-weeks
    assert got.loc["pain_flare", "patient_weeks"] == 10
    assert got.loc["pain_flare", "per_100_patient_weeks"] == pytest.approx(30.0)
    assert got.loc["pain_flare", "n_patients_flagged"] == 2 and got.loc["pain_flare", "percent_patients"] == 100.0
    assert got.loc["rapid_load_increase", "descriptive_only"]
    assert got.loc["logging_stopped", "n_flags"] == 0


def test_pain_during_zones_silbernagel() -> None:
    values = pd.Series([0, 3, 4, 5, 6, 10, None], dtype="Int64")
    got = pain_during_zones(values).set_index("zone")
    # 0-3 safe: 0, 3; 4-5 acceptable: 4, 5; > 5 too much: 6, 10; the missing rating is not counted
    assert got["n"].tolist() == [2, 2, 2]
    assert got["percent"].tolist() == pytest.approx([100 / 3] * 3)
    stricter = pain_during_zones(values, DEFAULT_SETTINGS.replace(pain_during_max=4)).set_index("zone")
    assert stricter.loc["too much (> 4)", "n"] == 3


def test_load_vs_flares_counts_the_week_and_the_next() -> None:
    patients = pd.DataFrame({"patient_id": ["A"], "programme_start": pd.to_datetime(["2026-09-07"])})
    load = pd.DataFrame({"patient_id": ["A"] * 6, "week": range(1, 7),
                         "acwr": [np.nan, np.nan, np.nan, np.nan, 2.0, 1.0]})
    # flares on day 36 (week 6) and day 3 (week 1)
    flags = pd.DataFrame({"patient_id": ["A", "A", "A"],
                          "date": pd.to_datetime(["2026-10-13", "2026-09-10", "2026-10-13"]),
                          "kind": pd.array(["pain_flare", "pain_flare", "self_reported_flare"], dtype="string")})
    weeks, summary = load_vs_flares(load, flags, patients)
    assert weeks["pain_flares"].tolist() == [1, 0, 0, 0, 1, 1]  # week 5 sees week 6's flare
    s = summary.set_index("load_group")
    assert s.loc["ACWR > 1.5", ["n_weeks", "weeks_with_flare"]].tolist() == [1, 1]
    assert s.loc["ACWR <= 1.5", ["n_weeks", "weeks_with_flare"]].tolist() == [1, 1]
    assert s.loc["no ratio yet", ["n_weeks", "weeks_with_flare"]].tolist() == [4, 1]


# --------------------------------------------------------------------------- methods text


def test_methods_text_names_every_threshold_and_citation() -> None:
    text = methods_text(DEFAULT_SETTINGS, n_patients=60, as_of="2026-11-20")
    table = DEFAULT_SETTINGS.as_table()
    for row in table.itertuples(index=False):
        value = row.value if isinstance(row.value, str) else format(row.value, "g")  # the time zone is text
        assert f"`{row.setting}` | {value} |" in text
        assert row.citation in text
    assert "at least 70 % of prescribed sessions" in text
    assert "2 points or by at least 30 % of baseline" in text
    assert "Ostelo et al. 2008" in text and "Jacobson & Truax 1991" in text and "Henschke et al. 2008" in text
    assert "60 patients" in text and "2026-11-20" in text
    assert ".md" not in text  # cites the literature, never a file the reader cannot open
    for name, version in package_versions().items():
        if name not in ("rehabtrack", "python"):
            assert f"{name} {version}" in text


def test_methods_text_says_when_a_threshold_was_changed() -> None:
    text = methods_text(DEFAULT_SETTINGS.replace(adherent_threshold=0.8, flare_rise_points=3))
    assert "at least 80 % (changed from the default 70 %) of prescribed sessions" in text
    assert "at least 3 (changed from the default 2) points above" in text


def test_package_versions_has_the_numerical_stack() -> None:
    v = package_versions()
    for name in ("numpy", "pandas", "scipy", "statsmodels", "lifelines", "rehabtrack", "python"):
        assert v[name] and v[name] != "not installed"


# --------------------------------------------------------------------------- written report


def test_report_writes_every_file(report) -> None:
    out, written = report
    assert set(written) == set(REPORT_TABLES) | set(REPORT_FIGURES) | {"methods.md"}
    for name in REPORT_FIGURES:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    methods = (out / "methods.md").read_text(encoding="utf-8")
    assert "## Methods" in methods and "plain-language reading" in methods
    assert "research pseudonyms" in methods


def test_report_tables_are_pseudonymised_without_dates(cohort, report) -> None:
    out, _ = report
    patients = pd.read_csv(out / "patient_summary.csv", encoding="utf-8-sig")
    assert len(patients) == 60
    assert "patient_id" not in patients.columns and "physio_id" not in patients.columns
    expected = set(pseudonymise_ids(cohort.patients["patient_id"], KEY, kind="patient"))
    assert set(patients["pseudonym"]) == expected
    text = (out / "patient_summary.csv").read_text(encoding="utf-8-sig")
    assert "P001" not in text and "physio_a" not in text and "2026-" not in text
    assert {"adherence_group", "immpact_tier", "time_to_mcid_days", "mcid_event"} <= set(patients.columns)


def test_report_mixed_model_matches_the_model_module(cohort, report) -> None:
    from analysis.models import adherence_pain_model

    out, _ = report
    fixed = pd.read_csv(out / "mixed_model_fixed.csv", encoding="utf-8-sig")
    direct = adherence_pain_model(cohort, as_of=SNAPSHOT_DATE).result.fixed_effects
    np.testing.assert_allclose(fixed["estimate"], direct["estimate"], rtol=1e-9)


def test_report_from_a_dask_cohort_writes_the_same_tables(cohort, report, tmp_path) -> None:
    dask = pytest.importorskip("dask")
    from analysis.distributed import DaskCohort

    out, _ = report
    with dask.config.set(scheduler="sync"):
        write_cohort_report(DaskCohort.from_pandas(cohort, npartitions=3), tmp_path, as_of=SNAPSHOT_DATE, key=KEY)
    for name in REPORT_TABLES:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


# --------------------------------------------------------------------------- command line


def test_cli_report_cohort(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("REHABTRACK_PSEUDONYM_KEY", "k" * 40)
    result = CliRunner().invoke(cli.app, ["report", "cohort", "--out", str(tmp_path), "--data", str(SAMPLE_DIR),
                                          "--as-of", "2026-11-20", "--settings", str(_settings(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "Methods paragraph:" in result.output
    methods = (tmp_path / "methods.md").read_text(encoding="utf-8")
    assert "at least 80 % (changed from the default 70 %)" in methods
    settings = pd.read_csv(tmp_path / "settings.csv", encoding="utf-8-sig").set_index("setting")
    # the column holds text too (the clinic's time zone), so numbers are read back as text
    assert math.isclose(float(settings.loc["adherent_threshold", "value"]), 0.8)
    assert settings.loc["timezone", "value"] == DEFAULT_SETTINGS.timezone


def _settings(folder) -> object:
    path = folder / "rehabtrack.toml"
    path.write_text("adherent_threshold = 0.8\n", encoding="utf-8")
    return path


def test_cli_report_unknown_setting_exits_two(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("adherence_cutoff = 0.8\n", encoding="utf-8")
    result = CliRunner().invoke(cli.app, ["report", "cohort", "--out", str(tmp_path / "o"), "--settings", str(bad)])
    assert result.exit_code == 2
    assert "unknown setting" in result.output


def test_cli_report_missing_data_exits_two(tmp_path) -> None:
    result = CliRunner().invoke(cli.app, ["report", "cohort", "--out", str(tmp_path / "o"), "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "missing" in result.output
