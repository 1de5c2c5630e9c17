"""Thresholds: defaults from the literature (docs/clinical-reference.md), overrides from code or TOML, typed errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analysis.errors import SettingsError
from analysis.settings import DEFAULT_SETTINGS, load_settings


def test_defaults_are_the_values_of_the_clinical_reference() -> None:
    # docs/clinical-reference.md sections 1, 2, 4 and 5
    assert DEFAULT_SETTINGS.adherent_threshold == 0.70
    assert DEFAULT_SETTINGS.mcid_percent == 0.30
    assert DEFAULT_SETTINGS.rci_z == 1.96
    assert DEFAULT_SETTINGS.min_window_ratings == 5
    assert DEFAULT_SETTINGS.flare_rise_points == 2.0
    assert DEFAULT_SETTINGS.pain_during_max == 5
    assert DEFAULT_SETTINGS.acwr_max == 1.5
    assert DEFAULT_SETTINGS.logging_stopped_days == 7
    assert DEFAULT_SETTINGS.odi_min_sections == 8
    assert DEFAULT_SETTINGS.rpm_days_required == 16


def test_every_setting_carries_a_citation_and_the_table_shows_values_in_use() -> None:
    table = DEFAULT_SETTINGS.replace(adherent_threshold=0.8).as_table().set_index("setting")
    assert (table["citation"].str.len() > 10).all()
    assert table.loc["adherent_threshold", "value"] == 0.8
    assert table.loc["adherent_threshold", "default"] == 0.7


def test_citations_name_the_literature_or_a_project_choice_never_a_file() -> None:
    # the citations reach the physio (PDF thresholds page, methods text): no file names
    table = DEFAULT_SETTINGS.as_table().set_index("setting")
    for setting, citation in table["citation"].items():
        assert not re.search(r"\.md|section \d", citation), (setting, citation)
    assert "MiSpEx" in table.loc["adherent_threshold", "citation"]
    assert "Ostelo et al. 2008" in table.loc["mcid_percent", "citation"]
    assert "Jacobson & Truax 1991" in table.loc["rci_z", "citation"]
    assert "Williams et al. 2014" in table.loc["recovery_days", "citation"]
    assert "Costa et al. 2021" in table.loc["flare_rise_points", "citation"]
    assert "Silbernagel" in table.loc["pain_during_max", "citation"]
    assert "Impellizzeri" in table.loc["acwr_max", "citation"]
    assert table.loc["min_trend_days", "citation"].startswith("Project choice")


def test_toml_file_overrides_and_keywords_win(tmp_path: Path) -> None:
    path = tmp_path / "rehabtrack.toml"
    path.write_text("adherent_threshold = 0.8\nflare_rise_points = 3\n", encoding="utf-8")
    settings = load_settings(path, flare_rise_points=2.5)
    assert settings.adherent_threshold == 0.8
    assert settings.flare_rise_points == 2.5
    assert isinstance(settings.logging_stopped_days, int)


def test_rehabtrack_table_in_toml_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "pyproject-like.toml"
    path.write_text("[rehabtrack]\nlogging_stopped_days = 10\n", encoding="utf-8")
    assert load_settings(path).logging_stopped_days == 10


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"adherence_threshold": 0.8}, "unknown setting"),
        ({"adherent_threshold": "high"}, "must be a number"),
        ({"logging_stopped_days": 7.5}, "whole number"),
        ({"flare_rise_points": -1}, "must not be negative"),
    ],
)
def test_bad_overrides_raise_a_settings_error(changes: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        DEFAULT_SETTINGS.replace(**changes)


def test_unreadable_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("adherent_threshold = \n", encoding="utf-8")
    with pytest.raises(SettingsError, match="broken.toml"):
        load_settings(path)


def test_the_clinic_file_is_the_variable_else_the_data_directorys(tmp_path, monkeypatch):
    from analysis.settings import SETTINGS_FILE_ENV, clinic_settings, settings_file

    monkeypatch.delenv(SETTINGS_FILE_ENV, raising=False)
    assert settings_file(tmp_path) is None and clinic_settings(tmp_path) == DEFAULT_SETTINGS
    (tmp_path / "rehabtrack.toml").write_text("mcid_percent = 0.5\n", encoding="utf-8")
    assert settings_file(tmp_path) == tmp_path / "rehabtrack.toml"
    assert clinic_settings(tmp_path).mcid_percent == 0.5
    other = tmp_path / "elsewhere.toml"
    other.write_text("adherent_threshold = 0.8\n", encoding="utf-8")
    monkeypatch.setenv(SETTINGS_FILE_ENV, str(other))
    used = clinic_settings(tmp_path)
    assert (used.adherent_threshold, used.mcid_percent) == (0.8, DEFAULT_SETTINGS.mcid_percent)
    monkeypatch.setenv(SETTINGS_FILE_ENV, str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match="missing.toml"):
        clinic_settings(tmp_path)


def test_the_clinic_time_zone_is_a_setting_from_the_machine_or_the_toml(tmp_path: Path, monkeypatch) -> None:
    from analysis.settings import machine_timezone

    monkeypatch.setenv("TZ", "America/Chicago")
    assert machine_timezone() == "America/Chicago"
    monkeypatch.setenv("TZ", "Not/AZone")  # an unknown TZ falls back to the system's zone files
    assert machine_timezone() != "Not/AZone"
    path = tmp_path / "rehabtrack.toml"
    path.write_text('timezone = "Europe/London"\nadherent_threshold = 0.8\n', encoding="utf-8")
    used = load_settings(path)
    assert (used.timezone, used.adherent_threshold) == ("Europe/London", 0.8)
    assert used.as_table().set_index("setting").loc["timezone", "value"] == "Europe/London"
    with pytest.raises(SettingsError, match="IANA time zone"):
        DEFAULT_SETTINGS.replace(timezone="Europe/Atlantis")
    with pytest.raises(SettingsError, match="must be text"):
        DEFAULT_SETTINGS.replace(timezone=1)
