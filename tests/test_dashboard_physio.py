"""The physio and researcher pages, driven headless through AppTest, for physio, researcher and admin.

Each test gets its own copy of a store seeded once per module with the sample.
Expected patients come from the sample CSV files read here with pandas.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis.cohort import cohort_summary
from analysis.roles import ADMIN, PATIENT, PHYSIO, RESEARCHER, User
from analysis.sample_data import load_cohort
from analysis.settings import load_settings
from analysis.store import Store
from dashboards import auth, state

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboards" / "app.py")
SAMPLE = ROOT / "data" / "sample"
PHYSIO_A = User("physio_a", PHYSIO, physio_id="physio_a")
PHYSIO_B = User("physio_b", PHYSIO, physio_id="physio_b")
RESEARCH = User("researcher", RESEARCHER)
ADMINISTRATOR = User("admin", ADMIN)
CASELOAD = "views/physio_caseload.py"
DETAIL = "views/physio_patient.py"
COHORT = "views/researcher_cohort.py"
PATIENT_ID = re.compile(r"\bP\d{3}\b")

REGISTRY = pd.read_csv(SAMPLE / "patients.csv", dtype=str)
MINE = sorted(REGISTRY.loc[REGISTRY["physio_id"] == "physio_a", "patient_id"])
NOT_MINE = sorted(REGISTRY.loc[REGISTRY["physio_id"] != "physio_a", "patient_id"])


@pytest.fixture(scope="module", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One store for the module: these pages only read, so the cached reads are shared between tests."""
    directory = tmp_path_factory.mktemp("sample")
    with Store.open(data_dir=directory) as store:
        store.load_sample()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REHABTRACK_DATA_DIR", str(directory))
        for name in ("REHABTRACK_USERS_FILE", "REHABTRACK_DATABASE_URL", "REHABTRACK_PSEUDONYM_KEY"):
            mp.delenv(name, raising=False)
        mp.setenv("REHABTRACK_DEBUG", "1")
        yield directory


def open_app(user: User, page: str | None = None, **session: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state[auth.USER_KEY] = user
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    if page is not None:
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def table(at: AppTest, column: str) -> pd.DataFrame:
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no table with a {column!r} column")


def vega_specs(at: AppTest) -> list[dict]:
    """The Vega-Lite specs of the page's interactive (Altair) charts, as the browser gets them."""
    return [json.loads(e.proto.spec) for e in at.get("vega_lite_chart")]


def shown_text(at: AppTest) -> str:
    """Every text the page shows: markdown, captions, titles, alerts, widget labels and options, table cells."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "error", "warning", "info",
                 "success", "metric"):
        for element in getattr(at, kind):
            parts.append(str(getattr(element, "value", "")))
            parts.append(str(getattr(element, "label", "")))
    for widget in (*at.selectbox, *at.multiselect):
        parts.extend(str(o) for o in widget.options)
        parts.append(str(widget.value))
    for df in at.dataframe:
        parts.append(df.value.to_csv())
    return "\n".join(parts)


# ------------------------------------------------------------------ physio: caseload


def test_caseload_lists_the_physios_patients_in_triage_order() -> None:
    at = open_app(PHYSIO_A)
    assert titles(at) == ["Caseload"]
    rows = table(at, "Attention")
    assert sorted(rows["Patient"]) == MINE  # exactly physio_a's 15 patients
    assert "Physio" not in rows.columns
    # traffic light as symbol and word, red before amber before green, then the attention score
    assert set(rows["Status"]) <= {"🔴 red", "🟠 amber", "🟢 green"}
    rank = rows["Status"].map({"🔴 red": 0, "🟠 amber": 1, "🟢 green": 2})
    key = list(zip(rank, -rows["Attention"], strict=True))
    assert key == sorted(key)
    # the ordering rule is on the page in a physio's words (issue 15)
    assert any("Order: Red first, then amber, then green; within a colour, the higher attention score first; "
               "on equal scores, the longer without any session or pain entry" in c.value for c in at.caption)
    # the trend and the MCID verdict in words; their statistics are on the patient's page (issue 18)
    assert set(rows["Pain trend"]) <= {"improving", "worsening", "no clear trend", "not enough data"}
    assert set(rows["Meaningful change"]) <= {"yes", "no", "not measurable yet"}
    assert rows["Adherence"].dropna().between(0, 100).all()


def test_caseload_first_screen_says_why_for_every_red_patient_in_plain_words() -> None:
    at = open_app(PHYSIO_A)
    rows = table(at, "Attention")
    # the "why" comes right after the status, and every patient is listed (no fixed-height box)
    assert list(rows.columns[:3]) == ["Status", "Why", "Patient"]
    assert len(rows) == len(MINE)
    columns = json.loads(next(df for df in at.dataframe if "Why" in df.value.columns).proto.columns)
    red = rows[rows["Status"] == "🔴 red"]
    assert len(red) > 0 and red["Why"].str.len().gt(0).all()
    assert not red["Why"].eq("nothing flagged").any()
    assert (rows.loc[rows["Status"] == "🟢 green", "Why"] == "nothing flagged").all()
    # physio_a's most urgent patient, P022 (its numbers: tests/test_reasons.py and the summary)
    p022 = rows.set_index("Patient").loc["P022", "Why"]
    assert p022.startswith("pain rising") and "pain up 6.1 → 8.0 since start" in p022
    # no statistics in the main cells, no code names anywhere on the page (help texts included)
    headers = [str(c.get(k, "")) for c in columns.values() for k in ("label", "help")]
    shown = (shown_text(at) + "\n" + "\n".join(headers)).replace("physio_a", "")  # a user name is no code
    for leak in ("n_scored", "mcid_met", "rci_category", "hold_s", "knee_to_chest", "attention_reasons",
                 "adherent_threshold", "logging_stopped", "Mann-Kendall tau", "p = 0."):
        assert leak not in shown, leak
    assert not re.search(r"\b[a-z]+_[a-z0-9]+\b", shown), re.findall(r"\b[a-z]+_[a-z0-9]+\b", shown)
    # the adherence threshold is named in the column header and the bar is neutral (not red)
    assert columns["Adherence"]["label"] == "Adherence (adherent from 70 %)"
    assert columns["Adherence"]["type_config"]["color"] == "gray"


def test_caseload_filters() -> None:
    at = open_app(PHYSIO_A)
    at.checkbox(key="caseload_flags_only").check().run()
    assert (table(at, "Attention")["Open flags"] > 0).all()
    at.checkbox(key="caseload_flags_only").uncheck().run()
    at.multiselect(key="caseload_lights").set_value(["red"]).run()
    rows = table(at, "Attention")
    assert len(rows) > 0 and (rows["Status"] == "🔴 red").all()
    at.multiselect(key="caseload_lights").set_value(["red", "amber", "green"]).run()
    at.text_input(key="caseload_search").input(MINE[0]).run()
    assert list(table(at, "Attention")["Patient"]) == [MINE[0]]
    at.text_input(key="caseload_search").input("no log for").run()
    found = table(at, "Attention")
    assert len(found) > 0 and found["Why"].str.contains("no log for").all()
    assert not at.exception


def test_selecting_a_row_opens_that_patient() -> None:
    at = open_app(PHYSIO_A)
    rows = table(at, "Attention")
    at.session_state["caseload_table"] = {"selection": {"rows": [1], "columns": []}}
    at.run()
    assert not at.exception, at.exception
    assert titles(at) == ["Patient detail"]
    assert at.session_state[state.SELECTED_PATIENT_KEY] == rows["Patient"].iloc[1]
    assert at.selectbox(key="detail_patient_pick").value == rows["Patient"].iloc[1]


def test_the_keyboard_alternative_opens_the_patient_too() -> None:
    at = open_app(PHYSIO_A)
    at.selectbox(key="caseload_pick").select(MINE[2])
    submit = [b for b in at.button if b.label == "Open patient"][0]
    submit.click().run()
    assert titles(at) == ["Patient detail"]
    assert at.selectbox(key="detail_patient_pick").value == MINE[2]


# ------------------------------------------------------------------ physio: patient detail


def test_patient_detail_shows_charts_numbers_and_downloads() -> None:
    at = open_app(PHYSIO_A, DETAIL, **{state.SELECTED_PATIENT_KEY: "P026"})
    assert titles(at) == ["Patient detail"]
    assert at.selectbox(key="detail_patient_pick").value == "P026"
    headline = table(at, "measure").set_index("measure")["value"]
    assert headline["Status"].startswith("red")
    assert "Open safety flags" in headline.index
    assert not at.image  # the pain chart is interactive: a Vega-Lite spec with its layers, no picture
    pain = vega_specs(at)
    assert len(pain) == 1 and [layer["name"] for layer in pain[0]["layer"]][:2] == ["mcid_band", "baseline"]
    assert {"daily", "rolling", "weekly"} <= {layer["name"] for layer in pain[0]["layer"]}
    labels = [b.label for b in at.download_button]
    assert labels == ["Download PDF report", "Download weekly table (CSV)"]
    weeks = table(at, "adherence_percent")
    assert list(weeks["week"]) == list(range(1, len(weeks) + 1))
    for chart in ("adherence", "load", "questionnaires"):
        at.segmented_control(key="detail_chart").set_value(chart).run()
        assert not at.exception, at.exception
        assert len(at.image) == 1 and not vega_specs(at)


def test_patient_detail_tables_speak_a_physios_words() -> None:
    at = open_app(PHYSIO_A, DETAIL, **{state.SELECTED_PATIENT_KEY: "P026"})
    weeks = next(df for df in at.dataframe if "adherence_percent" in df.value.columns)
    config = json.loads(weeks.proto.columns)
    shown = {name: (c.get("label") or name) for name, c in config.items() if not c.get("hidden")}
    # every visible header is words, not a column name (the CSV download keeps the names)
    assert not [h for h in shown.values() if re.search(r"\b[a-z]+_[a-z0-9_]+\b", h)], shown
    assert "patient_id" not in shown or config["patient_id"].get("hidden")
    assert shown["adherence_percent"] == "adherence %" and shown["flags_pain_during_exercise"] == "painful sessions"
    # safety-flag reasons name the exercise as the patient's plan does, not by its key
    flags = next(df.value for df in at.dataframe if "why" in df.value.columns)
    reasons = " ".join(flags["why"].astype(str))
    assert "Pain during exercise" in reasons
    assert not re.search(r"\((knee_to_chest|cat_cow|hamstring_stretch|pelvic_tilt|bridge)\b", reasons), reasons


def test_switching_patients_and_date_range() -> None:
    at = open_app(PHYSIO_A, DETAIL)
    first = at.selectbox(key="detail_patient_pick").value
    other = [p for p in MINE if p != first][0]
    at.selectbox(key="detail_patient_pick").select(other).run()
    assert not at.exception, at.exception
    assert at.session_state[state.SELECTED_PATIENT_KEY] == other
    assert at.subheader[0].value.endswith(other)
    start, end = at.date_input[0].value
    at.date_input[0].set_value((start + pd.Timedelta(days=7), end)).run()
    assert not at.exception, at.exception
    weeks = table(at, "adherence_percent")
    assert weeks["week"].min() >= 2


def test_a_physio_cannot_open_another_physios_patient_through_session_state() -> None:
    intruder = NOT_MINE[0]
    at = open_app(PHYSIO_A, DETAIL, **{state.SELECTED_PATIENT_KEY: intruder})
    assert any("not on your caseload" in e.value for e in at.error)
    assert intruder not in shown_text(at).replace(f"{intruder} (", "")  # not even in the list of patients
    assert intruder not in at.selectbox(key="detail_patient_pick").options
    assert not [df for df in at.dataframe if "measure" in df.value.columns]
    assert not at.image
    # the widget's own state cannot be used either
    at = open_app(PHYSIO_A, DETAIL, **{"detail_patient_pick": intruder})
    assert not at.exception
    assert at.selectbox(key="detail_patient_pick").value != intruder
    assert intruder not in shown_text(at)


def test_the_other_physio_sees_their_own_caseload_only() -> None:
    at = open_app(PHYSIO_B)
    patients = set(table(at, "Attention")["Patient"])
    assert patients == set(REGISTRY.loc[REGISTRY["physio_id"] == "physio_b", "patient_id"])
    assert not patients & set(MINE)


def test_physio_pages_refuse_a_patient_when_run_alone() -> None:
    for page in ("physio_caseload.py", "physio_patient.py", "researcher_cohort.py"):
        at = AppTest.from_file(str(ROOT / "dashboards" / "views" / page), default_timeout=60)
        at.session_state[auth.USER_KEY] = User("p001", PATIENT, patient_id="P001")
        at.run()
        assert not at.exception, at.exception
        assert any("Access denied" in e.value for e in at.error), page
        assert not at.dataframe


# ------------------------------------------------------------------ the clinic's settings reach the pages


def _mcid_met(at: AppTest) -> dict[str, bool]:
    rows = table(at, "Attention")
    text = rows.set_index("Patient")["Meaningful change"]
    return {p: t == "yes" for p, t in text.items() if t in ("yes", "no")}


def test_a_clinic_mcid_in_rehabtrack_toml_walks_from_the_file_to_the_pages(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the MCID threshold's walk: Settings.mcid_percent (the clinic's file) -> state.settings() ->
    # access.summary_for -> cohort_summary -> outcomes.pain_change -> the caseload and detail pages
    default = _mcid_met(open_app(PHYSIO_A))
    clinic = tmp_path / "clinic"
    shutil.copytree(data_dir, clinic)
    (clinic / "rehabtrack.toml").write_text("# the clinic's thresholds\nmcid_percent = 0.5\n", encoding="utf-8")
    monkeypatch.setenv("REHABTRACK_DATA_DIR", str(clinic))
    at = open_app(PHYSIO_A)
    assert not at.exception, at.exception
    # the value in the file is on the page ...
    assert any("2 points or 50 % of the baseline" in c.value and "rehabtrack.toml" in c.value for c in at.caption)
    # ... and changes what it shows: as the library computes with the file's settings
    clinic_settings = load_settings(clinic / "rehabtrack.toml")
    expected = cohort_summary(load_cohort(SAMPLE), as_of=state.as_of(), settings=clinic_settings)
    mine = expected[expected["physio_id"] == "physio_a"].set_index("patient_id")
    met = _mcid_met(at)
    assert met == {p: bool(m) for p, m in mine["mcid_met"].dropna().items()}
    changed = sorted(p for p in met if met[p] != default[p])
    assert changed == ["P040"]  # 30 % better but not 50 %, and less than 2 points
    # the patient page says the same, and lists the clinic's value among the thresholds used
    detail = open_app(PHYSIO_A, DETAIL, **{state.SELECTED_PATIENT_KEY: "P040"})
    headline = table(detail, "measure").set_index("measure")["value"]
    assert headline["MCID (meaningful change in pain)"].startswith("MCID not met")
    assert "rule 2 points or 50 % better" in headline["MCID (meaningful change in pain)"]
    used = table(detail, "setting").set_index("setting")
    assert used.loc["mcid_percent", "value"] == "50 %"
    assert any("rehabtrack.toml" in c.value for c in detail.caption)


def test_a_settings_file_with_an_unknown_setting_stops_with_a_message(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("mcid_procent = 0.5\n", encoding="utf-8")
    monkeypatch.setenv("REHABTRACK_SETTINGS", str(bad))
    at = open_app(PHYSIO_A)
    # the message is Markdown-escaped (mcid\_procent): compare the text as shown
    assert any("settings file cannot be used" in e.value and "mcid_procent" in e.value.replace("\\", "")
               for e in at.error)
    assert not [df for df in at.dataframe if "Attention" in df.value.columns]


# ------------------------------------------------------------------ researcher


def test_researcher_sees_the_cohort_with_pseudonyms_only() -> None:
    at = open_app(RESEARCH)
    assert titles(at) == ["Cohort (pseudonymised)"]
    rates = table(at, "n_responders")
    assert rates["n_evaluable"].iloc[0] + rates["n_not_evaluable"].iloc[0] == len(REGISTRY)
    assert len(at.image) == 4  # responders, Kaplan-Meier, adherence vs change, slopes
    text = shown_text(at)
    assert not PATIENT_ID.search(text), PATIENT_ID.search(text)
    assert "physio_a" not in text and "phy-" in text
    assert "change in pain (points) =" in text  # the fitted line's equation


def test_researcher_filters_by_physio_group_and_start_month() -> None:
    at = open_app(RESEARCH)
    group = at.multiselect(key="research_groups").options[0].split("(")[1].rstrip(")")
    at.multiselect(key="research_groups").set_value([group]).run()
    assert not at.exception, at.exception
    n_group = table(at, "n_responders")
    total = int(n_group["n_evaluable"].iloc[0] + n_group["n_not_evaluable"].iloc[0])
    assert total in set(REGISTRY["physio_id"].value_counts())
    # a month with a single patient is withheld
    months = pd.to_datetime(REGISTRY["programme_start"]).dt.strftime("%Y-%m").value_counts()
    tiny = months[months < 5].index[0]
    at.multiselect(key="research_groups").set_value([]).run()
    at.multiselect(key="research_months").set_value([tiny]).run()
    assert not at.exception
    assert any("fewer than 5" in w.value or "No patient" in w.value for w in at.warning)
    assert not at.image


# ------------------------------------------------------------------ admin


def test_admin_sees_every_patient_and_the_pseudonymised_cohort() -> None:
    at = open_app(ADMINISTRATOR, CASELOAD)
    rows = table(at, "Attention")
    assert len(rows) == len(REGISTRY) and "Physio" in rows.columns
    at.session_state["caseload_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert titles(at) == ["Patient detail"] and not at.exception
    at.switch_page(COHORT).run()
    assert not at.exception, at.exception
    assert titles(at) == ["Cohort (pseudonymised)"]
    assert not PATIENT_ID.search(shown_text(at))


# ------------------------------------------------------------------ responsiveness


def test_caseload_and_patient_switch_after_the_first_load_measured() -> None:
    """Measured and printed, not asserted (a loaded machine would fail any bound): the browser walk
    (tests/e2e/test_walk_e2e.py) prints the page times against the targets."""
    at = open_app(PHYSIO_A, DETAIL)
    for pid in MINE[:3]:  # first loads
        at.selectbox(key="detail_patient_pick").select(pid).run()
    timings = []
    for pid in MINE[:3]:
        t0 = time.perf_counter()
        at.selectbox(key="detail_patient_pick").select(pid).run()
        timings.append(time.perf_counter() - t0)
        assert at.selectbox(key="detail_patient_pick").value == pid and at.subheader[0].value.endswith(pid)
    at.switch_page(CASELOAD).run()
    t0 = time.perf_counter()
    at.switch_page(CASELOAD).run()
    caseload = time.perf_counter() - t0
    print(f"patient switch (cached) {max(timings):.3f} s, caseload {caseload:.3f} s (targets: < 1 s warm)")
    assert not at.exception
    assert titles(at) == ["Caseload"]
