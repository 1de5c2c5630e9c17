"""The dashboard, driven headless through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "dashboards" / "app.py")


@pytest.fixture()
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def test_cohort_page_shows_every_sample_patient_week_by_week(app: AppTest) -> None:
    assert app.title[0].value == "Cohort: weekly pain and adherence"
    adherence_table = app.dataframe[0].value
    # the sample cohort has 60 patients; one row each, one column per programme week
    assert len(adherence_table) == 60
    assert "wk 1" in adherence_table.columns
    assert adherence_table["wk 1"].between(0, 100).all()


def test_filtering_by_physio_keeps_only_their_patients(app: AppTest) -> None:
    physios = app.multiselect[0].options
    app.multiselect[0].set_value([physios[0]]).run()
    assert not app.exception
    shown = len(app.dataframe[0].value)
    assert 0 < shown < 60


def test_patient_page_draws_the_chart_and_week_table(app: AppTest) -> None:
    app.switch_page("pages/patient.py").run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Patient: weeks of the programme"
    week_table = app.dataframe[0].value
    assert list(week_table["week"])[:3] == [1, 2, 3]
    app.selectbox[0].select("P002").run()
    assert not app.exception
    assert "P002" in app.selectbox[0].value
