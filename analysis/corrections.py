"""What an upload would change in the store: new rows, rows already there, and rows that differ (corrections).

A row of an upload whose key (:attr:`analysis.schema.TableSpec.key`: patient and
time, plus exercise and side for sessions, instrument and item for
questionnaires) is already stored is either **the same** (every value equal:
*already there*, nothing to do) or **differs** (a corrected pain score, a fuller
re-export of the same workout): a *change*, which is never decided silently.
:func:`compare_rows` sorts the accepted rows of an upload into these three
groups and lists, for every changed row, the old and the new value of each
column that differs, so that a person can choose (:data:`ON_CONFLICT`):

``keep``
    keep what is stored; the file's values of those rows are not written.
``replace``
    store the file's values; the old ones go to the store's ``audit`` table
    (who, when, old and new values). A re-export from the same app (Strong,
    Hevy, FitNotes, FHIR) is the app's newer truth, so ``replace`` is the
    choice offered first for it (:attr:`Comparison.same_app`).
``fail``
    store nothing and say which rows differ (:class:`ConflictError`); the
    default of a run nobody watches (``rehabtrack upload`` without a terminal).

Times without a clock time
--------------------------
A diary row written without a time of day (``08/09/2026``, stored at midnight
and marked ``time_written = False``) is "that day". It is **already there**
when the store holds a row of the same day (and the same other key columns)
with the same values, whatever its time; likewise a timed row is already there
when the store holds a same-day row without a time and with the same values.
When the values differ and the file has one row for that day and the store one
(one of the two without a time), it is that day's value that changed: a
**change** like any other (replacing it gives the stored row the file's values,
and the file's time when the stored row had none). Otherwise (several ratings on
one side) nothing is guessed: the row is added as a row of its own and a note
says so. A row timed exactly 00:00 is a timed row (the marker,
not the clock value, says "no time written"). Two instants with the same
wall-clock time in the hour repeated when the clocks go back (``fold`` 0 and
1) are two keys.

This module only compares two tables (the upload's and the stored rows it
could touch); reading them and writing the result is :mod:`analysis.store`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from analysis.errors import RehabtrackError
from analysis.headers import COLUMN_LABELS
from analysis.reading import cell_text
from analysis.schema import TableSpec, conform, table_spec
from analysis.validation import timed_key

__all__ = [
    "ON_CONFLICT",
    "APP_FORMATS",
    "NEW",
    "SAME",
    "CHANGED",
    "DIFFERENCE_COLUMNS",
    "Comparison",
    "ConflictError",
    "compare_rows",
    "difference_lines",
    "value_columns",
    "provided_columns",
]

#: The choices for rows that differ from what is stored (see the module docstring).
ON_CONFLICT: tuple[str, ...] = ("keep", "replace", "fail")
#: Formats whose files are re-exports of an app's whole history: a difference is the app's newer truth.
APP_FORMATS: frozenset[str] = frozenset({"strong", "hevy", "fitnotes", "fhir"})

NEW = "new"  #: the key is not stored: the row will be added
SAME = "same"  #: the key (or, for a row without a time, the day) is stored with the same values: already there
CHANGED = "changed"  #: the key is stored with other values: a correction to keep or replace

#: Columns of :attr:`Comparison.differences`: one line per value that differs.
DIFFERENCE_COLUMNS: tuple[str, ...] = ("row", "patient_id", "when", "what", "column", "stored", "in_file")

_MISSING = "\x00missing"


class ConflictError(RehabtrackError):
    """Rows of an upload differ from what is stored and the choice was ``fail``: nothing was stored.

    Attributes
    ----------
    comparison : Comparison
        The rows that differ, with old and new values.
    """

    def __init__(self, comparison: Comparison, *, source: str | None = None) -> None:
        self.comparison = comparison
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(
            prefix + f"{comparison.summary()} Nothing was stored. Choose what to do with them: keep what is stored "
            "(--on-conflict keep) or store the file's values, the old ones going to the audit table "
            "(--on-conflict replace).\n" + comparison.listing())


@dataclass(frozen=True)
class Comparison:
    """The accepted rows of an upload, compared with the store.

    Attributes
    ----------
    table
        The canonical table.
    status
        Per accepted row (in order): :data:`NEW`, :data:`SAME` or :data:`CHANGED`.
    stored
        For each changed row (in the order of the accepted rows), the stored row
        it would replace: canonical columns plus ``time_written``, ``fold``,
        ``upload_id`` and ``format`` (of the upload that stored it).
    differences
        One line per value that differs (:data:`DIFFERENCE_COLUMNS`): the row
        number in the file, the patient, the time, the exercise / questionnaire
        item, the column in plain words, the stored value and the file's value
        (as text; ``""`` when empty).
    same_app
        True when every changed row was stored by an upload of the same app
        format (:data:`APP_FORMATS`) as this one: ``replace`` is then the
        choice offered first.
    notes
        Things the user should know (rows without a time added beside timed rows of the same day ...).
    """

    table: str
    status: npt.NDArray[np.object_]
    stored: pd.DataFrame
    differences: pd.DataFrame
    same_app: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def n_new(self) -> int:
        """Rows that would be added."""
        return int((self.status == NEW).sum())

    @property
    def n_same(self) -> int:
        """Rows already stored with the same values."""
        return int((self.status == SAME).sum())

    @property
    def n_changed(self) -> int:
        """Rows whose key is stored with other values."""
        return int((self.status == CHANGED).sum())

    @property
    def changed_positions(self) -> npt.NDArray[np.intp]:
        """Positions (in the accepted rows) of the changed rows."""
        return np.flatnonzero(self.status == CHANGED)

    def summary(self) -> str:
        """``"2 rows differ from what is stored."`` (or ``"No row differs from what is stored."``)."""
        n = self.n_changed
        if not n:
            return "No row differs from what is stored."
        return f"{n} row{'s differ' if n != 1 else ' differs'} from what is stored."

    def listing(self, limit: int = 20) -> str:
        """The differences as lines: ``row 3 (P1, 2026-09-08 08:00): pain 3 -> 7``."""
        return "\n".join(difference_lines(self.differences, limit))


def difference_lines(differences: pd.DataFrame, limit: int = 20) -> list[str]:
    """One line per row that differs: ``  row 3 (P1, 2026-09-08 08:00): pain 3 -> 7`` (at most ``limit`` rows)."""
    lines: list[str] = []
    if differences.empty:
        return lines
    grouped = differences.groupby(["row", "patient_id", "when", "what"], sort=False, dropna=False)
    for n, ((row, patient, when, what), part) in enumerate(grouped):
        if n == limit:
            lines.append(f"  ... and {len(grouped) - limit} more rows")
            break
        label = ", ".join(str(x) for x in (patient, when, what) if isinstance(x, str) and x)
        changes = "; ".join(f"{c} {s or 'empty'} -> {f or 'empty'}" for c, s, f in
                            zip(part["column"], part["stored"], part["in_file"], strict=True))
        lines.append(f"  row {row} ({label}): {changes}")
    return lines


def value_columns(table: str | TableSpec) -> list[str]:
    """The columns of a table that are not its key: the values a correction can change."""
    spec = table_spec(table)
    return [c for c in spec.column_names if c not in spec.key]


def provided_columns(table: str | TableSpec, header_mapping: Mapping[str, str]) -> list[str]:
    """The value columns an upload gives: those its headers were mapped to (all of them for FHIR and app exports).

    Examples
    --------
    >>> provided_columns("pain", {"Date": "recorded_at", "Pain": "nprs", "Notes": "notes"})
    ['nprs', 'notes']
    """
    given = set(header_mapping.values())
    return [c for c in value_columns(table) if c in given]


def _comparable(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Values as hashable objects with one token for "missing", so that missing equals missing."""
    out = {}
    for c in columns:
        values = frame[c].astype(object)
        out[c] = values.where(frame[c].notna(), _MISSING)
    return pd.DataFrame(out, index=frame.index)


def _text(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M") if value.second == 0 else str(value)
    return cell_text(value.item() if isinstance(value, np.generic) else value)


def compare_rows(
    table: str | TableSpec,
    incoming: pd.DataFrame,
    row_info: pd.DataFrame,
    stored: pd.DataFrame,
    *,
    incoming_format: str = "",
    columns: Collection[str] | None = None,
) -> Comparison:
    """Sort the accepted rows of an upload into new, already there and changed, against the stored rows.

    Parameters
    ----------
    table
        The canonical table.
    incoming
        The accepted rows (:attr:`analysis.tables.IngestResult.accepted`).
    row_info
        Their row numbers and markers (:attr:`analysis.tables.IngestResult.row_info`:
        ``row``, ``time_written``, ``fold``).
    stored
        The stored rows the upload could touch: canonical columns plus
        ``time_written`` (bool), ``fold`` (int), and optionally ``upload_id`` and
        ``format`` (of the upload that stored the row). Tables without a timed key
        need no markers.
    incoming_format
        The upload's format (``"strong"``, ``"csv"``, ...), for :attr:`Comparison.same_app`.
    columns
        The value columns the file gives (:func:`provided_columns`); default all. A column
        the file does not have says nothing about the stored value (a diary without a
        location column does not erase or contradict a stored location), so only these
        are compared, and only these are written when a row is replaced.

    Returns
    -------
    Comparison
        See :class:`Comparison` and the module docstring for the rules.

    Examples
    --------
    >>> new = pd.DataFrame({"patient_id": ["P1", "P1"], "recorded_at": pd.to_datetime(["2026-09-08 08:00",
    ...                     "2026-09-09 08:00"]), "nprs": [7, 2]})
    >>> old = new.iloc[:1].assign(nprs=3, time_written=True, fold=0)
    >>> info = pd.DataFrame({"row": [2, 3], "time_written": [True, True], "fold": [0, 0]})
    >>> c = compare_rows("pain", new, info, old)
    >>> c.status.tolist(), c.summary()
    (['changed', 'new'], '1 row differs from what is stored.')
    >>> print(c.listing())
      row 2 (P1, 2026-09-08 08:00): pain 3 -> 7
    """
    spec = table_spec(table)
    n = len(incoming)
    key = list(spec.key)
    values = [c for c in value_columns(spec) if columns is None or c in columns]
    timed = timed_key(spec)
    status = np.full(n, NEW, dtype=object)
    inc = conform(incoming, spec).reset_index(drop=True)
    info = row_info.reset_index(drop=True)
    if n and len(info) != n:
        raise ValueError("row_info must have one row per incoming row")
    extra = [c for c in stored.columns if c not in spec.column_names]
    old = pd.concat([conform(stored, spec), stored[extra]], axis=1).reset_index(drop=True)
    if n == 0 or old.empty:
        return Comparison(spec.name, status, old.iloc[0:0], _empty_differences())
    inc_fold = info["fold"].to_numpy(dtype=np.int64) if timed else np.zeros(n, dtype=np.int64)
    old_fold = old["fold"].to_numpy(dtype=np.int64) if timed and "fold" in old else np.zeros(len(old), np.int64)
    left = pd.DataFrame({**{k: inc[k] for k in key}, "_fold": inc_fold, "_pos": np.arange(n)})
    right = pd.DataFrame({**{k: old[k].astype(inc[k].dtype) for k in key}, "_fold": old_fold,
                          "_spos": np.arange(len(old))})
    matched = left.merge(right, on=[*key, "_fold"], how="inner")
    pos = matched["_pos"].to_numpy(dtype=np.intp)
    spos = matched["_spos"].to_numpy(dtype=np.intp)
    a = _comparable(inc.iloc[pos].reset_index(drop=True), values)
    b = _comparable(old.iloc[spos].reset_index(drop=True), values)
    same_values = (a.to_numpy(dtype=object) == b.to_numpy(dtype=object)).all(axis=1) if values else \
        np.ones(len(pos), dtype=bool)
    status[pos[same_values]] = SAME
    status[pos[~same_values]] = CHANGED
    changed_pos, changed_spos = pos[~same_values], spos[~same_values]

    notes: list[str] = []
    if timed is not None:
        notes, day_pos, day_spos = _same_day(spec, inc, info, old, status, values, spos)
        changed_pos, changed_spos = np.concatenate([changed_pos, day_pos]), np.concatenate([changed_spos, day_spos])
    order = np.argsort(changed_pos, kind="stable")
    changed_pos, changed_spos = changed_pos[order], changed_spos[order]

    stored_changed = old.iloc[changed_spos].reset_index(drop=True)
    written = info["time_written"].to_numpy(dtype=bool)[changed_pos] if timed else np.ones(len(changed_pos), bool)
    differences = _differences(spec, inc.iloc[changed_pos].reset_index(drop=True), stored_changed,
                               info["row"].to_numpy()[changed_pos], values, written)
    same_app = bool(len(changed_pos)) and incoming_format in APP_FORMATS and "format" in old and \
        bool((stored_changed["format"].astype(str) == incoming_format).all())
    return Comparison(spec.name, status, stored_changed, differences, same_app, notes)


def _same_day(spec: TableSpec, inc: pd.DataFrame, info: pd.DataFrame, old: pd.DataFrame,
              status: npt.NDArray[np.object_], values: list[str], taken: npt.NDArray[np.intp],
              ) -> tuple[list[str], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """A row without a time against the stored rows of its day (or a timed row against a stored row without one).

    Already there when a row of that day has the same values; a change of that day's one row when the file
    has one row for the day and the store one (one of the two without a time); else new, with a note.
    Returns the notes and the (incoming, stored) positions of those changes; ``status`` is updated in place.
    """
    timed = timed_key(spec)
    assert timed is not None
    none = np.empty(0, dtype=np.intp)
    others = [k for k in spec.key if k != timed]
    todo = np.flatnonzero(status == NEW)
    if not todo.size:
        return [], none, none
    old_written = old["time_written"].to_numpy(dtype=bool) if "time_written" in old else \
        (old[timed] != old[timed].dt.normalize()).to_numpy(dtype=bool)
    inc_written = info["time_written"].to_numpy(dtype=bool)
    day_keys = [*others, "_day"]
    left = pd.concat([inc.iloc[todo][others].reset_index(drop=True),
                      _comparable(inc.iloc[todo].reset_index(drop=True), values)], axis=1)
    left["_day"] = inc[timed].iloc[todo].dt.normalize().to_numpy()
    left["_pos"] = todo
    left["_written"] = inc_written[todo]
    right = pd.concat([old[others].astype({k: inc[k].dtype for k in others}).reset_index(drop=True),
                       _comparable(old, values).reset_index(drop=True)], axis=1)
    right["_day"] = old[timed].dt.normalize().to_numpy()
    right["_swritten"] = old_written
    right["_spos"] = np.arange(len(old))
    right = right.loc[~right["_spos"].isin(taken)]  # a stored row matched by its exact key is that row's
    equal = left.merge(right, on=[*day_keys, *values], how="inner")
    equal = equal.loc[~equal["_written"] | ~equal["_swritten"]]  # one side has no time: "that day"
    status[np.unique(equal["_pos"].to_numpy(dtype=np.intp))] = SAME
    free = right.loc[~right["_spos"].isin(equal["_spos"])]
    still = np.flatnonzero(status == NEW)
    if not still.size:
        return [], none, none
    waiting = left.loc[left["_pos"].isin(still), [*day_keys, "_pos", "_written"]]
    # one row of the file and one stored row on that day, one of them without a time: the day's value changed
    n_in = waiting.groupby(day_keys, dropna=False)["_pos"].transform("size")
    pairs = waiting.loc[n_in == 1].merge(free[[*day_keys, "_spos", "_swritten"]], on=day_keys, how="inner")
    n_st = pairs.groupby(day_keys, dropna=False)["_spos"].transform("size")
    pairs = pairs.loc[(n_st == 1) & (~pairs["_written"] | ~pairs["_swritten"])]
    day_pos = pairs["_pos"].to_numpy(dtype=np.intp)
    day_spos = pairs["_spos"].to_numpy(dtype=np.intp)
    status[day_pos] = CHANGED
    # what stays new but shares its day with a stored row of the other kind (timed vs not): say so
    still = np.flatnonzero(status == NEW)
    near = left.loc[left["_pos"].isin(still), [*day_keys, "_pos", "_written"]].merge(
        right[[*day_keys, "_swritten"]], on=day_keys, how="inner")
    near = near.loc[near["_written"] != near["_swritten"]]
    if near.empty:
        return [], day_pos, day_spos
    rows = np.unique(info["row"].to_numpy()[near["_pos"].to_numpy(dtype=np.intp)])
    shown = ", ".join(str(r) for r in rows[:20]) + (" ..." if len(rows) > 20 else "")
    k = len(rows)
    return [f"{k} row{'s' if k != 1 else ''} (row{'s' if k != 1 else ''} {shown}) fall{'' if k != 1 else 's'} on "
            "days the store holds with a time of day where the file has none, or the other way round, with "
            "several ratings on one side and other values; "
            f"{'they were' if k != 1 else 'it was'} added as rows of their own (nothing was merged)"], \
        day_pos, day_spos


def _differences(spec: TableSpec, new: pd.DataFrame, old: pd.DataFrame, rows: npt.NDArray[Any],
                 values: list[str], written: npt.NDArray[np.bool_]) -> pd.DataFrame:
    timed = timed_key(spec) or next((k for k in spec.key if spec.column(k).is_datetime), None)
    what_cols = [k for k in spec.key if k not in ("patient_id", timed)]
    records = []
    a = _comparable(new, values)
    b = _comparable(old, values)
    for i in range(len(new)):
        when = _text(new[timed].iloc[i]) if timed else ""
        if timed and not written[i]:  # a date without a time of day: shown as the day
            when = when[:10]
        what = " ".join(_text(new[c].iloc[i]) for c in what_cols)
        for c in values:
            if a[c].iloc[i] != b[c].iloc[i]:
                records.append({"row": int(rows[i]), "patient_id": _text(new["patient_id"].iloc[i]), "when": when,
                                "what": what, "column": COLUMN_LABELS.get(c, c), "stored": _text(old[c].iloc[i]),
                                "in_file": _text(new[c].iloc[i])})
    if not records:
        return _empty_differences()
    return pd.DataFrame(records, columns=list(DIFFERENCE_COLUMNS)).astype(
        {"row": np.int64, **{c: "string" for c in DIFFERENCE_COLUMNS[1:]}})


def _empty_differences() -> pd.DataFrame:
    return pd.DataFrame({"row": np.empty(0, dtype=np.int64),
                         **{c: pd.array([], dtype="string") for c in DIFFERENCE_COLUMNS[1:]}})
