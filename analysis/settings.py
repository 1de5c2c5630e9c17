"""Every clinical threshold rehabtrack uses, in one settings object.

The defaults and their literature citations are listed, with the reasoning, in the
project's clinical reference (docs/clinical-reference.md). Values depend on population, baseline and anchor, so a
user can override any of them, in code (``Settings().replace(adherent_threshold=0.8)``)
or from a TOML file (:func:`load_settings`)::

    # rehabtrack.toml
    adherent_threshold = 0.8
    flare_rise_points = 3

Outputs that depend on a threshold carry the values used
(:meth:`Settings.as_table`), so a result can always be traced to its rules.

A clinic's own values live in one file, found by :func:`settings_file`:
``REHABTRACK_SETTINGS`` when set, else ``<data dir>/rehabtrack.toml`` when it
exists; :func:`clinic_settings` reads it (the dashboard does, once per process).
Library functions take a :class:`Settings` argument and pass it on explicitly;
none reads the file or the environment itself.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.errors import SettingsError
from analysis.paths import data_dir as default_data_dir

__all__ = [
    "SETTINGS_FILE_ENV",
    "SETTINGS_FILE_NAME",
    "Settings",
    "DEFAULT_SETTINGS",
    "load_settings",
    "settings_file",
    "clinic_settings",
    "machine_timezone",
    "check_timezone",
    "DATE_FORMATS",
]

#: Environment variable naming a clinic's settings file.
SETTINGS_FILE_ENV = "REHABTRACK_SETTINGS"
#: The settings file's name in the data directory.
SETTINGS_FILE_NAME = "rehabtrack.toml"


def _cite(default: Any, citation: str, unit: str = "") -> Any:
    return field(default=default, metadata={"citation": citation, "unit": unit})


def check_timezone(name: str) -> str:
    """``name`` when it is an IANA time zone this computer knows (``"Europe/London"``); else :class:`SettingsError`.

    Examples
    --------
    >>> check_timezone("Europe/Berlin")
    'Europe/Berlin'
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise SettingsError(f"setting timezone must be an IANA time zone such as 'Europe/London' or "
                            f"'America/New_York'; got {name!r}") from None
    return str(name)


def machine_timezone() -> str:
    """The IANA name of this computer's time zone: ``TZ``, else ``/etc/localtime``, else ``/etc/timezone``; ``"UTC"``.

    A clinic sets its own in its settings file (``timezone = "Europe/London"``), which
    wins over this default. Reading the machine's zone here (once, when the settings
    module is imported) is the only place the library looks at the clock's zone.
    """
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:  # pragma: no cover - no /etc/localtime
        pass
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    for name in candidates:
        if name and not name.startswith("/"):
            try:
                return check_timezone(name.removeprefix("posix/").removeprefix("right/"))
            except SettingsError:
                continue
    return "UTC"


#: The date formats a clinic may choose (``date_format``), as ``strftime`` patterns; the keys are also the
#: formats of Streamlit's date inputs.
DATE_FORMATS: dict[str, str] = {"DD/MM/YYYY": "%d/%m/%Y", "MM/DD/YYYY": "%m/%d/%Y", "YYYY-MM-DD": "%Y-%m-%d"}


@dataclass(frozen=True)
class Settings:
    """Thresholds and windows for adherence, trends, meaningful change and safety flags.

    Each field's metadata holds its unit and citation (see :meth:`as_table`).
    Instrument-specific MCIDs live in :mod:`analysis.instruments`.
    """

    # --- adherence (docs/clinical-reference.md section 4)
    adherent_threshold: float = _cite(
        0.70, "MiSpEx back-pain cohort (n = 1,511): >= 70 % of prescribed sessions; 80 % also used", "fraction"
    )
    rpm_days_required: int = _cite(
        16, "Remote therapeutic monitoring, CPT 98977: >= 16 days with data per 30 days", "days"
    )
    rpm_window_days: int = _cite(30, "CPT 98977 billing window", "days")
    # --- trends (section 3)
    min_trend_days: int = _cite(
        4, "Project choice: fewer than 4 distinct rated days gives 'not enough data', not a slope", "days"
    )
    trend_confidence: float = _cite(0.95, "95 % confidence intervals for slopes", "probability")
    rolling_window_days: int = _cite(7, "Project choice: 7-day rolling mean of daily pain for plots", "days")
    # --- diary windows (section 2)
    baseline_window_days: int = _cite(
        7, "Baseline = mean pain of the first 7 programme days (a diary window, not one rating)", "days"
    )
    current_window_days: int = _cite(
        7, "Current = mean pain of the last 7 days with data (a diary window, not one rating)", "days"
    )
    min_window_ratings: int = _cite(
        5, "End-of-day diary reliability > 0.90 needs >= 5 ratings in a 7-day window", "ratings"
    )
    # --- meaningful change (sections 1-2)
    mcid_percent: float = _cite(
        0.30, "Ostelo et al. 2008, Spine: 30 % improvement from baseline", "fraction"
    )
    immpact_moderate: float = _cite(0.30, "Dworkin et al. 2008 (IMMPACT): >= 30 % moderate", "fraction")
    immpact_substantial: float = _cite(
        0.50, "Dworkin et al. 2008 (IMMPACT): >= 50 % substantial", "fraction"
    )
    rci_z: float = _cite(1.96, "Jacobson & Truax 1991: |RCI| > 1.96 is reliable change", "z")
    recovery_max_nprs: int = _cite(1, "PACE trial, Williams et al. 2014: pain 0-1", "points")
    recovery_days: int = _cite(
        7, "PACE trial, Williams et al. 2014: pain 0-1 for 7 consecutive days", "days"
    )
    odi_min_sections: int = _cite(
        8, "ODI v2.1a: score only with >= 8 of 10 sections answered (configurable)", "sections"
    )
    # --- safety flags (section 5)
    flare_rise_points: float = _cite(
        2.0, "Costa et al. 2021: daily NPRS >= 2 points above the running baseline", "points"
    )
    flare_baseline_days: int = _cite(
        7, "Running baseline = trailing 7-day median of daily NPRS (Costa et al. 2021)", "days"
    )
    pain_during_max: int = _cite(
        5, "Pain-monitoring model, Silbernagel 2007: > 5 is too much", "points"
    )
    pain_during_rise: float = _cite(
        2.0, "Exercise programme's rule 'stop when you feel pain': pain during >= 2 above pre-session pain", "points"
    )
    acwr_max: float = _cite(
        1.5,
        "Acute:chronic workload ratio > 1.5 (athlete evidence, contested: Impellizzeri 2020); descriptive only",
        "ratio",
    )
    acwr_chronic_weeks: int = _cite(
        4, "Chronic load = mean of the 4 previous weeks (uncoupled ratio, Lolli et al. 2019)", "weeks"
    )
    logging_stopped_days: int = _cite(
        7, "Logging stopped: no session or pain entry for >= 7 days", "days"
    )
    # --- time (not a clinical threshold)
    timezone: str = field(default_factory=machine_timezone, metadata={
        "citation": "Project choice: the clinic's time zone (IANA name; default this computer's). A time written "
                    "with a UTC offset (FHIR, ISO 8601) is converted to the wall-clock time of this zone",
        "unit": "IANA time zone"})
    date_format: str = field(default="DD/MM/YYYY", metadata={
        "citation": "Project choice: how the clinic writes a day in every date field and text of the dashboard "
                    "(DD/MM/YYYY day-first by default; MM/DD/YYYY or YYYY-MM-DD)",
        "unit": "date format"})

    def day_text(self, day: Any) -> str:
        """A day written in the clinic's :attr:`date_format` (``"20/11/2026"`` by default).

        >>> DEFAULT_SETTINGS.day_text("2026-11-20"), DEFAULT_SETTINGS.replace(date_format="MM/DD/YYYY").day_text(
        ...     "2026-11-20")
        ('20/11/2026', '11/20/2026')
        """
        return pd.Timestamp(day).strftime(DATE_FORMATS[self.date_format])

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed; unknown names raise :class:`SettingsError`."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise SettingsError(
                f"unknown setting(s) {', '.join(unknown)}; known settings: {', '.join(sorted(known))}"
            )
        for name, value in changes.items():
            current = getattr(self, name)
            if name == "date_format":
                if value not in DATE_FORMATS:
                    raise SettingsError(f"setting date_format must be one of {', '.join(DATE_FORMATS)}, got {value!r}")
                continue
            if isinstance(current, str):  # the time zone: an IANA name
                if not isinstance(value, str):
                    raise SettingsError(f"setting {name} must be text such as 'Europe/London', got {value!r}")
                check_timezone(value)
                continue
            if isinstance(current, bool) or not isinstance(value, (int, float)) or isinstance(value, bool):
                raise SettingsError(f"setting {name} must be a number, got {value!r}")
            if value < 0:
                raise SettingsError(f"setting {name} must not be negative, got {value!r}")
            if isinstance(current, int) and not float(value).is_integer():
                raise SettingsError(f"setting {name} must be a whole number, got {value!r}")
        coerced = {k: type(getattr(self, k))(v) for k, v in changes.items()}
        return dataclasses.replace(self, **coerced)

    def as_table(self) -> pd.DataFrame:
        """The values in use with unit, default and citation, one row per setting."""
        rows = []
        for f in fields(self):
            factory: Any = f.default_factory
            default = factory() if f.default is dataclasses.MISSING else f.default
            rows.append(
                {
                    "setting": f.name,
                    "value": getattr(self, f.name),
                    "default": default,
                    "unit": f.metadata.get("unit", ""),
                    "citation": f.metadata.get("citation", ""),
                }
            )
        return pd.DataFrame(rows)

    def as_dict(self) -> dict[str, Any]:
        """The values in use as a plain dict (for JSON outputs and methods text)."""
        return dataclasses.asdict(self)


DEFAULT_SETTINGS = Settings()


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Read settings from a TOML file, then apply keyword overrides.

    Parameters
    ----------
    path
        A TOML file of ``name = value`` pairs (a ``[rehabtrack]`` table is also
        accepted). ``None`` starts from the defaults.
    **overrides
        Values that win over the file.

    Returns
    -------
    Settings
        The defaults, changed by the file, changed by ``overrides``.

    Raises
    ------
    SettingsError
        If the file cannot be read, or names an unknown setting or a bad value.

    See Also
    --------
    clinic_settings : The clinic's file, found in the environment or the data directory.

    Examples
    --------
    >>> load_settings(None, mcid_percent=0.5).mcid_percent
    0.5
    """
    values: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc}") from exc
        values.update(data.get("rehabtrack", data))
    values.update(overrides)
    return DEFAULT_SETTINGS.replace(**values)


def settings_file(data_dir: str | Path | None = None) -> Path | None:
    """The clinic's settings file: ``REHABTRACK_SETTINGS``, else ``<data dir>/rehabtrack.toml`` if it exists.

    Parameters
    ----------
    data_dir
        Data directory; default :func:`analysis.paths.data_dir`.

    Returns
    -------
    pathlib.Path or None
        The file, or ``None`` when no variable is set and the data directory has
        no ``rehabtrack.toml`` (the cited defaults are then in force). A file named
        by the variable is returned even if missing, so that reading it says so.

    See Also
    --------
    clinic_settings : Reads it.
    """
    env = os.environ.get(SETTINGS_FILE_ENV)
    if env:
        return Path(env).expanduser()
    local = Path(data_dir if data_dir is not None else default_data_dir()) / SETTINGS_FILE_NAME
    return local if local.is_file() else None


def clinic_settings(data_dir: str | Path | None = None) -> Settings:
    """The thresholds in force at a clinic: its settings file (:func:`settings_file`) over the defaults.

    Parameters
    ----------
    data_dir
        Data directory; default :func:`analysis.paths.data_dir`.

    Returns
    -------
    Settings
        :data:`DEFAULT_SETTINGS` when there is no settings file.

    Raises
    ------
    SettingsError
        If the file cannot be read or has an unknown setting or a bad value
        (the message names the file and the setting).

    See Also
    --------
    load_settings : Reads a given file.
    """
    return load_settings(settings_file(data_dir))
