"""Questionnaire forms (ODI, RMDQ) without the licensed texts, their rows, and when each is due.

The item texts of the Oswestry Disability Index and the Roland-Morris
Disability Questionnaire are copyrighted and licensed by their holders, so
rehabtrack ships the **form and the scoring only**. By default each ODI item
shows its section name (pain intensity, personal care, lifting, walking,
sitting, standing, sleeping, sex life, social life, travelling) and its
0-5 response scale, and each RMDQ item its number with "yes, this applies to
me today" / "no". Scoring is :func:`analysis.scoring.score_odi` and
:func:`analysis.scoring.score_rmdq`.

Licensed wording file
---------------------
A clinic that holds a licence puts the wording into
``<data dir>/questionnaire_wording.toml`` (:func:`wording_file`; the data
directory is ``REHABTRACK_DATA_DIR`` or ``./var``), read by
:func:`load_licensed_wording`. Every key is optional; an item not in the file
keeps its default text::

    [odi]
    title = "Oswestry Disability Index (licensed version 2.1a)"
    instructions = "Please answer every section ..."

    [odi.items.1]                      # section 1 to 10
    text = "Section 1: Pain intensity"
    options = ["...", "...", "...", "...", "...", "..."]   # exactly 6, scored 0 to 5 in order

    [rmdq]
    instructions = "When your back hurts, ..."

    [rmdq.items.1]                     # item 1 to 24; answered yes / no
    text = "..."

The file is read as UTF-8 TOML; an unknown instrument or item number, or an ODI
item without exactly 6 options, is a :class:`WordingError` naming the line to fix.

When questionnaires are due
---------------------------
:func:`due_questionnaires` lists, per patient, instrument and time point
(default weeks 0, 6 and 12 after ``programme_start``: baseline, week 6,
week 12), whether the questionnaire was done within ``window_days`` of its
due date. The clinical reference gives no schedule or window; both are
arguments (defaults: :data:`DEFAULT_SCHEDULE_WEEKS`, :data:`DEFAULT_WINDOW_DAYS`).
A time point that was not done **expires**: a baseline when its window closes
(after two weeks of the programme a score no longer describes the start), a
later time point :data:`DEFAULT_LATE_DAYS` days after its window closes; it is
then ``'missed'`` and no longer asked for. A physio may also mark a time point
``'not done'`` (e.g. the patient declined). :func:`reminder_texts` writes the
message a physio copies to a patient. All of these are project choices
(docs/clinical-reference.md section 8).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.entries import MAX_DAYS_BACK, EntryError, check_entry_day
from analysis.errors import RehabtrackError
from analysis.instruments import INSTRUMENTS
from analysis.schema import PROMS, conform
from analysis.scoring import ScoreResult, score_odi, score_rmdq
from analysis.settings import DEFAULT_SETTINGS, Settings
from analysis.timeline import DateLike
from analysis.validation import checks_tables

__all__ = [
    "FORM_INSTRUMENTS",
    "ODI_SECTIONS",
    "WORDING_FILE_NAME",
    "DEFAULT_SCHEDULE_WEEKS",
    "DEFAULT_WINDOW_DAYS",
    "DEFAULT_LATE_DAYS",
    "DUE_STATUSES",
    "WordingError",
    "FormItem",
    "QuestionnaireForm",
    "questionnaire_form",
    "wording_file",
    "load_licensed_wording",
    "proms_rows_from_form",
    "stale_items",
    "due_questionnaires",
    "reminder_texts",
]

#: Instruments with an in-app form.
FORM_INSTRUMENTS: tuple[str, ...] = ("odi", "rmdq")
#: The 10 ODI v2.1a section names, in order (names only: not the licensed item texts).
ODI_SECTIONS: tuple[str, ...] = (
    "Pain intensity", "Personal care", "Lifting", "Walking", "Sitting",
    "Standing", "Sleeping", "Sex life", "Social life", "Travelling",
)
#: File name of the licensed wording inside the data directory.
WORDING_FILE_NAME = "questionnaire_wording.toml"
#: Weeks after the programme start when ODI and RMDQ are due (baseline, week 6, week 12); a project default.
DEFAULT_SCHEDULE_WEEKS: tuple[int, ...] = (0, 6, 12)
#: Days either side of a due date in which a questionnaire counts for it; a project default.
DEFAULT_WINDOW_DAYS = 14
#: Days after a follow-up's window closes in which it can still be done late ('overdue'); then it is 'missed'.
#: A baseline is missed when its window closes. A project default (docs/clinical-reference.md section 8).
DEFAULT_LATE_DAYS = 14
#: Values of ``status`` in :func:`due_questionnaires`.
DUE_STATUSES: tuple[str, ...] = ("done", "due", "overdue", "upcoming", "missed", "not done")

_ODI_DEFAULT_OPTIONS: tuple[str, ...] = (
    "0", "1", "2", "3", "4", "5",
)
_RMDQ_OPTIONS: tuple[str, ...] = ("No", "Yes, this applies to me today")


class WordingError(RehabtrackError, ValueError):
    """The licensed wording file cannot be used (unreadable, unknown item, wrong number of options)."""


@dataclass(frozen=True)
class FormItem:
    """One item of a questionnaire form.

    Attributes
    ----------
    number
        Item number (1-based), the ``proms.item`` value.
    text
        What the item shows (section name by default, licensed text if provided).
    options
        Answer labels, in scoring order.
    values
        The score of each option (ODI 0-5; RMDQ 0 = no, 1 = yes).
    """

    number: int
    text: str
    options: tuple[str, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class QuestionnaireForm:
    """A questionnaire as a form: its items and instructions.

    Attributes
    ----------
    instrument
        ``"odi"`` or ``"rmdq"``.
    title
        Title shown above the form.
    instructions
        What to do, including the missing-answer rule.
    items
        The items in order.
    licensed_wording
        True when any text came from the clinic's licensed wording file.
    """

    instrument: str
    title: str
    instructions: str
    items: tuple[FormItem, ...]
    licensed_wording: bool = False


def _default_form(instrument: str, min_sections: int) -> QuestionnaireForm:
    if instrument == "odi":
        items = tuple(FormItem(i + 1, f"Section {i + 1}: {name}", _ODI_DEFAULT_OPTIONS, (0, 1, 2, 3, 4, 5))
                      for i, name in enumerate(ODI_SECTIONS))
        return QuestionnaireForm(
            "odi", INSTRUMENTS["odi"].name,
            "For each section, choose how much your back or leg trouble affects you today, from 0 (not "
            f"affected) to 5 (most affected). Answer at least {min_sections} sections; a section you leave "
            "out is not counted.", items)
    if instrument == "rmdq":
        n = INSTRUMENTS["rmdq"].n_items
        items = tuple(FormItem(i + 1, f"Item {i + 1}", _RMDQ_OPTIONS, (0, 1)) for i in range(n))
        return QuestionnaireForm(
            "rmdq", INSTRUMENTS["rmdq"].name,
            f"For each of the {n} statements, say whether it applies to you today. Every item is needed: "
            "an item left as 'No' counts as not applying.", items)
    raise WordingError(f"there is no form for {instrument!r}; forms exist for {', '.join(FORM_INSTRUMENTS)}")


def questionnaire_form(instrument: str, wording: Mapping[str, Any] | None = None, *,
                       min_sections: int = DEFAULT_SETTINGS.odi_min_sections) -> QuestionnaireForm:
    """The form of ``instrument``, with the licensed wording where the clinic provided it.

    Parameters
    ----------
    instrument
        ``"odi"`` or ``"rmdq"``.
    wording
        The result of :func:`load_licensed_wording` (or ``None``: default texts).
    min_sections
        ODI sections needed for a score, quoted in the instructions.

    Returns
    -------
    QuestionnaireForm
        Items with section names (ODI) or item numbers (RMDQ) by default.
    """
    form = _default_form(instrument, min_sections)
    given = (wording or {}).get(instrument)
    if not given:
        return form
    items = list(form.items)
    for number, entry in given.get("items", {}).items():
        item = items[number - 1]
        items[number - 1] = replace(item, text=entry.get("text", item.text),
                                    options=tuple(entry.get("options", item.options)))
    return replace(form, title=given.get("title", form.title),
                   instructions=given.get("instructions", form.instructions), items=tuple(items),
                   licensed_wording=True)


def wording_file(data_dir: str | Path) -> Path:
    """Where the licensed wording is read from: ``<data dir>/questionnaire_wording.toml``."""
    return Path(data_dir) / WORDING_FILE_NAME


def load_licensed_wording(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read the clinic's licensed questionnaire wording (format in the module docstring).

    Parameters
    ----------
    path
        The TOML file. A missing file gives ``{}`` (the default texts are used).

    Returns
    -------
    dict
        ``{instrument: {"title": str, "instructions": str, "items": {number: {"text": str,
        "options": list of str}}}}``, with only the keys the file gives; item numbers as int.

    Raises
    ------
    WordingError
        The file is not valid TOML, names an unknown instrument, key or item
        number, or an ODI item does not have exactly 6 options.
    """
    p = Path(path)
    if not p.exists():
        return {}
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise WordingError(f"cannot read the questionnaire wording file {p}: {exc}") from exc
    out: dict[str, dict[str, Any]] = {}
    for instrument, section in data.items():
        if instrument not in FORM_INSTRUMENTS or not isinstance(section, dict):
            raise WordingError(f"{p}: [{instrument}] is not a questionnaire with a form; use "
                               f"{' or '.join(f'[{k}]' for k in FORM_INSTRUMENTS)}")
        n_items = INSTRUMENTS[instrument].n_items
        entry: dict[str, Any] = {}
        for key, value in section.items():
            if key in ("title", "instructions"):
                if not isinstance(value, str):
                    raise WordingError(f"{p}: {instrument}.{key} must be text in quotes")
                entry[key] = value
            elif key == "items":
                if not isinstance(value, dict):
                    raise WordingError(f"{p}: write the items as [{instrument}.items.1], [{instrument}.items.2], ...")
                entry["items"] = {}
                for raw_number, item in value.items():
                    try:
                        number = int(raw_number)
                    except ValueError:
                        number = 0
                    if not 1 <= number <= n_items:
                        raise WordingError(f"{p}: [{instrument}.items.{raw_number}] is not an item; "
                                           f"{instrument.upper()} items are numbered 1 to {n_items}")
                    entry["items"][number] = _wording_item(p, instrument, number, item)
            else:
                raise WordingError(f"{p}: unknown key {instrument}.{key}; use title, instructions or items")
        out[instrument] = entry
    return out


def _wording_item(p: Path, instrument: str, number: int, item: Any) -> dict[str, Any]:
    where = f"{p}: [{instrument}.items.{number}]"
    if not isinstance(item, dict):
        raise WordingError(f"{where} must be a table with text (and, for the ODI, options)")
    unknown = set(item) - {"text", "options"}
    if unknown:
        raise WordingError(f"{where} has unknown key(s) {', '.join(sorted(unknown))}; use text and options")
    out: dict[str, Any] = {}
    if "text" in item:
        if not isinstance(item["text"], str):
            raise WordingError(f"{where}: text must be in quotes")
        out["text"] = item["text"]
    if "options" in item:
        if instrument != "odi":
            raise WordingError(f"{where}: RMDQ items are answered yes or no; remove options")
        options = item["options"]
        if not isinstance(options, list) or len(options) != 6 or not all(isinstance(o, str) for o in options):
            raise WordingError(f"{where}: options must be a list of exactly 6 texts, scored 0 to 5 in order")
        out["options"] = list(options)
    return out


def proms_rows_from_form(
    patient_id: str,
    completed_on: DateLike,
    instrument: str,
    responses: Mapping[int, float | None],
    *,
    today: DateLike,
    min_sections: int = DEFAULT_SETTINGS.odi_min_sections,
    max_days_back: int = MAX_DAYS_BACK,
) -> tuple[pd.DataFrame, ScoreResult]:
    """Canonical ``proms`` rows of one filled-in form, and its score.

    Parameters
    ----------
    patient_id
        The patient.
    completed_on
        The day the form was filled in (not in the future; at most ``max_days_back`` days ago).
    instrument
        ``"odi"`` or ``"rmdq"``.
    responses
        ``{item number: answer}``; ``None`` = unanswered (ODI 0-5, RMDQ 0/1).
    today
        Today's date.
    min_sections
        ODI sections needed for a score (default ``Settings.odi_min_sections`` = 8).
    max_days_back
        Most days before ``today`` allowed.

    Returns
    -------
    rows : pandas.DataFrame
        Canonical ``proms`` rows, one per answered item (unanswered items
        omitted): ``patient_id``, ``completed_at`` (midnight of the day),
        ``instrument``, ``item`` (``'1'`` ...), ``value`` (float64, the item score).
        No ``total`` row: the score is always computed from the items
        (:func:`analysis.scoring.score_proms`).
    score : analysis.scoring.ScoreResult
        :func:`analysis.scoring.score_odi` / :func:`analysis.scoring.score_rmdq`
        of the responses (ODI % or RMDQ count; ``status`` says why not scored).

    Raises
    ------
    EntryError
        Nothing answered, or the day is not allowed.
    analysis.scoring.InvalidResponseError
        An answer outside the item's range.
    """
    day = check_entry_day(completed_on, today=today, max_days_back=max_days_back)
    if instrument not in FORM_INSTRUMENTS:
        raise EntryError(f"there is no form for {instrument!r}; forms exist for {', '.join(FORM_INSTRUMENTS)}")
    answered = {int(k): float(v) for k, v in responses.items() if v is not None and not pd.isna(v)}
    if not answered:
        raise EntryError("Answer the questions first; nothing was answered.")
    result = score_odi(answered, min_sections=min_sections) if instrument == "odi" else score_rmdq(answered)
    numbers = sorted(answered)
    rows = pd.DataFrame({
        "patient_id": [str(patient_id)] * len(numbers), "completed_at": [day] * len(numbers),
        "instrument": [instrument] * len(numbers), "item": [str(n) for n in numbers],
        "value": [answered[n] for n in numbers],
    })
    return conform(rows, PROMS), result


def stale_items(stored: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Stored item rows of the same questionnaires as ``rows`` that the new answers leave out.

    Filling in the same questionnaire again for the same day replaces the
    earlier answers; an item answered before and now left empty must be taken
    back, otherwise the score would mix the two forms
    (:func:`analysis.access.save_entries` with ``remove=``).

    Parameters
    ----------
    stored
        The patient's canonical ``proms`` rows.
    rows
        The new rows of :func:`proms_rows_from_form`.

    Returns
    -------
    pandas.DataFrame
        The rows of ``stored`` (canonical ``proms`` columns) with the same
        ``patient_id``, ``completed_at`` and ``instrument`` as a row of ``rows``
        and an ``item`` not in ``rows`` (a stored ``total`` included).
    """
    forms = ["patient_id", "completed_at", "instrument"]
    if stored.empty or rows.empty:
        return stored.iloc[0:0]
    same_form = pd.MultiIndex.from_frame(stored[forms].astype(object)).isin(
        pd.MultiIndex.from_frame(rows[forms].astype(object)))
    same_item = pd.MultiIndex.from_frame(stored[[*forms, "item"]].astype(object)).isin(
        pd.MultiIndex.from_frame(rows[[*forms, "item"]].astype(object)))
    return stored[same_form & ~same_item]


@checks_tables(patients="patients", proms="proms")
def due_questionnaires(
    patients: pd.DataFrame,
    proms: pd.DataFrame,
    as_of: DateLike,
    *,
    instruments: Sequence[str] = FORM_INSTRUMENTS,
    schedule_weeks: Sequence[int] = DEFAULT_SCHEDULE_WEEKS,
    window_days: int = DEFAULT_WINDOW_DAYS,
    late_days: int = DEFAULT_LATE_DAYS,
    not_done: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """When each questionnaire is due for each patient, and whether it was done.

    Parameters
    ----------
    patients
        Canonical ``patients`` table (``patient_id``, ``physio_id``, ``programme_start``).
    proms
        Canonical ``proms`` table.
    as_of
        The analysis date.
    instruments
        Instruments scheduled (default ODI and RMDQ).
    schedule_weeks
        Weeks after ``programme_start`` when each is due (default 0, 6, 12).
    window_days
        A questionnaire completed within ``window_days`` before or after the due
        date counts for it (default 14).
    late_days
        Days after the window closes in which a follow-up (week > 0) can still be
        done late (default :data:`DEFAULT_LATE_DAYS`); a baseline cannot.
    not_done
        Time points a physio marked as not done: rows with ``patient_id``,
        ``instrument`` and ``timepoint_week``; ``None`` = none.

    Returns
    -------
    pandas.DataFrame
        One row per patient, instrument and time point, in ``patients`` order,
        then instrument, then week:

        - ``patient_id``, ``physio_id`` (string)
        - ``instrument`` (string)
        - ``timepoint_week`` (int64, weeks after the programme start; 0 = baseline)
        - ``due_date`` (datetime64[ns]): ``programme_start + 7 x timepoint_week`` days
        - ``window_start``, ``window_end`` (datetime64[ns]): ``due_date -/+ window_days``
        - ``completed_at`` (datetime64[ns]): the first completion in the window, NaT if none
        - ``expires_at`` (datetime64[ns]): the last day it can be done: ``window_end``
          for a baseline, ``window_end + late_days`` for a follow-up
        - ``days_overdue`` (Int64, days): ``as_of - window_end`` for overdue rows, else ``<NA>``
        - ``status`` (string, :data:`DUE_STATUSES`): ``'done'`` (completed in the
          window), ``'not done'`` (marked by a physio, not completed),
          ``'due'`` (not done, ``as_of`` inside the window),
          ``'overdue'`` (not done, the window ended before ``as_of``, not yet expired),
          ``'missed'`` (not done and expired: ``as_of`` after ``expires_at``),
          ``'upcoming'`` (the window opens after ``as_of``)

    Notes
    -----
    Grid of patients x instruments x time points (no loop over patients);
    completions are the distinct ``completed_at`` of each patient and
    instrument (any item or a total), matched to the grid by a merge.
    The clinical reference gives no schedule: baseline, week 6 and week 12 are
    the project's defaults and the window is an argument.
    """
    when = pd.Timestamp(as_of).normalize()
    pts = patients[["patient_id", "physio_id", "programme_start"]].reset_index(drop=True)
    n_p, n_i, n_w = len(pts), len(instruments), len(schedule_weeks)
    p_idx = np.repeat(np.arange(n_p), n_i * n_w)
    inst = np.tile(np.repeat(np.asarray(instruments, dtype=object), n_w), n_p)
    week = np.tile(np.asarray(schedule_weeks, dtype=np.int64), n_p * n_i)
    start = pts["programme_start"].to_numpy(dtype="datetime64[ns]")[p_idx]
    due = start + (week * 7).astype("timedelta64[D]")
    grid = pd.DataFrame({
        "patient_id": pd.array(pts["patient_id"].astype("string").to_numpy()[p_idx], dtype="string"),
        "physio_id": pd.array(pts["physio_id"].astype("string").to_numpy()[p_idx], dtype="string"),
        "instrument": pd.array(inst, dtype="string"),
        "timepoint_week": week,
        "due_date": due,
    })
    grid["window_start"] = grid["due_date"] - pd.Timedelta(days=window_days)
    grid["window_end"] = grid["due_date"] + pd.Timedelta(days=window_days)
    done = (proms[["patient_id", "instrument", "completed_at"]]
            .assign(patient_id=lambda f: f["patient_id"].astype("string"),
                    instrument=lambda f: f["instrument"].astype("string"))
            .drop_duplicates())
    grid["_row"] = np.arange(len(grid))
    matched = grid[["_row", "patient_id", "instrument", "window_start", "window_end"]].merge(
        done, on=["patient_id", "instrument"], how="inner")
    inside = matched[(matched["completed_at"].dt.normalize() >= matched["window_start"])
                     & (matched["completed_at"].dt.normalize() <= matched["window_end"])
                     & (matched["completed_at"].dt.normalize() <= when)]
    first = inside.groupby("_row")["completed_at"].min()
    grid["completed_at"] = pd.Series(first.reindex(grid["_row"]).to_numpy(), index=grid.index,
                                     dtype="datetime64[ns]")
    is_done = grid["completed_at"].notna().to_numpy()
    opens_later = (grid["window_start"] > when).to_numpy()
    closed = (grid["window_end"] < when).to_numpy()
    grid["expires_at"] = grid["window_end"] + pd.to_timedelta(
        np.where(grid["timepoint_week"].to_numpy() == 0, 0, late_days), unit="D")
    expired = (grid["expires_at"] < when).to_numpy()
    marked = np.zeros(len(grid), dtype=bool)
    if not_done is not None and len(not_done):
        keys = not_done[["patient_id", "instrument", "timepoint_week"]].astype(
            {"patient_id": "string", "instrument": "string", "timepoint_week": "int64"}).drop_duplicates()
        hit = grid[["_row", "patient_id", "instrument", "timepoint_week"]].merge(
            keys, on=["patient_id", "instrument", "timepoint_week"], how="inner")["_row"].to_numpy()
        marked[hit] = True
    status = np.select([is_done, marked, opens_later, expired, closed],
                       ["done", "not done", "upcoming", "missed", "overdue"], default="due")
    grid["status"] = pd.array(status, dtype="string")
    overdue_days = (when - grid["window_end"]).dt.days.to_numpy()
    grid["days_overdue"] = pd.array(np.where(status == "overdue", overdue_days, 0), dtype="Int64")
    grid.loc[status != "overdue", "days_overdue"] = pd.NA
    columns = ["patient_id", "physio_id", "instrument", "timepoint_week", "due_date", "window_start", "window_end",
               "expires_at", "completed_at", "days_overdue", "status"]
    return grid[columns].reset_index(drop=True)


def reminder_texts(due: pd.DataFrame, *, settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """The reminder a physio copies to each patient with a questionnaire due or overdue.

    Parameters
    ----------
    due
        Rows of :func:`due_questionnaires`; only those with status ``'due'`` or
        ``'overdue'`` are reminded (missed, done, marked and upcoming ones are not).
    settings
        The clinic's settings: the date is written in its ``date_format``.

    Returns
    -------
    pandas.DataFrame
        One row per patient with something to do, in the order of ``due``:
        ``patient_id`` (string), ``by`` (datetime64[ns]: the earliest last day
        among the patient's open questionnaires) and ``text`` (string), e.g.
        ``"Please fill in the ODI and RMDQ questionnaires (week 6) in rehabtrack, under Questionnaires, by
        24/11/2026. They take about 5 minutes and show how your back is doing. Thank you!"``.

    Examples
    --------
    >>> rows = pd.DataFrame({"patient_id": ["P1", "P1"], "instrument": ["odi", "rmdq"],
    ...                      "timepoint_week": [6, 6], "status": ["overdue", "due"],
    ...                      "expires_at": pd.to_datetime(["2026-11-24", "2026-12-01"])})
    >>> print(reminder_texts(rows).loc[0, "text"][:91])
    Please fill in the ODI and RMDQ questionnaires (week 6) in rehabtrack, under Questionnaires
    """
    open_rows = due.loc[due["status"].astype("string").isin(["due", "overdue"]).fillna(False).to_numpy(dtype=bool)]
    if open_rows.empty:
        return pd.DataFrame({"patient_id": pd.array([], dtype="string"),
                             "by": pd.Series([], dtype="datetime64[ns]"), "text": pd.array([], dtype="string")})
    point = np.where(open_rows["timepoint_week"].to_numpy() == 0, "start of the programme", "")
    point = pd.Series(point, index=open_rows.index).where(
        point != "", "week " + open_rows["timepoint_week"].astype("string"))
    rows = open_rows.assign(name=open_rows["instrument"].astype("string").str.upper(), point=point)
    grouped = rows.groupby("patient_id", sort=False)
    names = grouped["name"].agg(lambda n: " and ".join(dict.fromkeys(n)))
    points = grouped["point"].agg(lambda p: ", ".join(dict.fromkeys(p)))
    by = grouped["expires_at"].min()
    plural = np.where(grouped["name"].nunique() > 1, "questionnaires", "questionnaire")
    texts = [f"Please fill in the {n} {word} ({pt}) in rehabtrack, under Questionnaires, by "
             f"{settings.day_text(b)}. They take about 5 minutes and show how your back is doing. Thank you!"
             for n, word, pt, b in zip(names, plural, points, by, strict=True)]  # one per patient with a reminder
    return pd.DataFrame({"patient_id": pd.array(names.index.astype(str), dtype="string"),
                         "by": by.to_numpy(dtype="datetime64[ns]"), "text": pd.array(texts, dtype="string")})
