"""Safe exports: research pseudonymisation, spreadsheet formula neutralisation, escaped display text.

Three jobs, each small and pure where it can be:

* **Research export.** :func:`pseudonymise_cohort` turns the canonical tables of
  :mod:`analysis.schema` into a :class:`ResearchCohort` with no direct identifier:
  ``patient_id`` and ``physio_id`` become stable keyed-hash pseudonyms
  (HMAC-SHA-256 under a secret key, :func:`pseudonym_key`), every date becomes
  a number of days from the patient's programme start (``programme_start``
  itself is dropped) and free-text notes are removed unless asked for.
  :func:`research_export` writes it for the user allowed to see it (the rows
  come from :func:`analysis.access.cohort_for`, never from the store directly).
* **Formula injection.** A spreadsheet opens a cell that starts with ``=``,
  ``+``, ``-``, ``@``, a tab or a carriage return as a formula (OWASP "CSV
  injection"); :func:`neutralise_formulas` prefixes such text cells with an
  apostrophe, and :func:`write_csv`, :func:`to_csv_bytes`, :func:`write_excel`
  and :func:`to_excel_bytes` always apply it. Numbers stay numbers.
* **Display.** :func:`escape_text` (HTML) and :func:`escape_markdown` make text a
  user wrote safe to show in the dashboard.

The pseudonym key comes from the environment variable ``REHABTRACK_PSEUDONYM_KEY``
or, when that is unset, from ``pseudonym.key`` in the data directory, created
on first use with :func:`secrets.token_hex` (readable by its owner only). It is
never committed: the data directory is ignored by git. The same key gives the
same pseudonyms in every export, so exports made months apart can be linked; a
different key gives unrelated pseudonyms, and without the key a pseudonym cannot
be turned back into an ID (nor checked against a guessed ID).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import io
import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.errors import RehabtrackError
from analysis.timeline import programme_days, week_of_day

if TYPE_CHECKING:  # pragma: no cover
    from analysis.access import User
    from analysis.cohort import CohortTables
    from analysis.store import Store

__all__ = [
    "PSEUDONYM_KEY_ENV",
    "PSEUDONYM_KEY_FILE",
    "FORMULA_TRIGGERS",
    "EXCEL_MAX_ROWS",
    "ResearchCohort",
    "ExportError",
    "pseudonym_key",
    "pseudonymise_ids",
    "pseudonymise_cohort",
    "neutralise_cell",
    "neutralise_formulas",
    "to_csv_bytes",
    "write_csv",
    "to_excel_bytes",
    "write_excel",
    "research_export",
    "escape_text",
    "escape_markdown",
]

logger = logging.getLogger(__name__)

#: Environment variable holding the pseudonym key (at least 32 characters).
PSEUDONYM_KEY_ENV = "REHABTRACK_PSEUDONYM_KEY"
#: File in the data directory holding the generated key when the variable is unset.
PSEUDONYM_KEY_FILE = "pseudonym.key"
_MIN_KEY_CHARS = 32

#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection: ``= + - @``,
#: tab, carriage return) and their full-width forms, which some spreadsheet locales also accept.
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")

#: Rows an Excel worksheet holds, header included.
EXCEL_MAX_ROWS = 1_048_576

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


class ExportError(RehabtrackError, ValueError):
    """An export cannot be written as asked (wrong format, too many rows for Excel, bad key)."""


# --------------------------------------------------------------------------------------
# pseudonyms


def pseudonym_key(data_dir: str | Path | None = None) -> bytes:
    """The secret key of the research pseudonyms.

    Parameters
    ----------
    data_dir
        Directory holding ``pseudonym.key``; default :func:`analysis.store.data_dir`
        (``REHABTRACK_DATA_DIR`` or ``./var``).

    Returns
    -------
    bytes
        ``REHABTRACK_PSEUDONYM_KEY`` encoded as UTF-8 when set; otherwise the
        content of ``<data_dir>/pseudonym.key``, which is created on first use
        with 32 random bytes written as 64 hexadecimal characters (file mode 0600).
        Two processes creating it at once end with the same key: the file is
        written under a temporary name and linked into place only if absent.

    Raises
    ------
    ExportError
        If the variable is set but shorter than 32 characters.
    """
    from_env = os.environ.get(PSEUDONYM_KEY_ENV)
    if from_env:
        if len(from_env) < _MIN_KEY_CHARS:
            raise ExportError(
                f"{PSEUDONYM_KEY_ENV} is too short ({len(from_env)} characters): use at least "
                f"{_MIN_KEY_CHARS}, e.g. the output of `python -c \"import secrets; print(secrets.token_hex(32))\"`."
            )
        return from_env.encode("utf-8")
    if data_dir is None:
        from analysis.store import data_dir as default_data_dir

        data_dir = default_data_dir()
    folder = Path(data_dir)
    path = folder / PSEUDONYM_KEY_FILE
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{PSEUDONYM_KEY_FILE}.{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)  # atomic: fails if another process created the key first
            logger.info("created a new pseudonym key in %s", path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < _MIN_KEY_CHARS:
        raise ExportError(f"{path} holds a key shorter than {_MIN_KEY_CHARS} characters: delete it to make a new one.")
    return key.encode("utf-8")


def pseudonymise_ids(ids: pd.Series, key: bytes, *, kind: str = "patient") -> pd.Series:
    """Stable keyed-hash pseudonyms of identifiers.

    Parameters
    ----------
    ids
        Identifiers (``patient_id`` or ``physio_id`` values); missing stays missing.
    key
        Secret key (:func:`pseudonym_key`).
    kind
        ``"patient"`` or ``"physio"``: a domain label mixed into the hash, so a
        patient and a physio with the same ID get unrelated pseudonyms. The
        pseudonym starts with ``pat-`` or ``phy-``.

    Returns
    -------
    pandas.Series of string
        ``<prefix>-`` followed by the first 16 hexadecimal characters (64 bits) of
        HMAC-SHA-256(key, ``kind`` + ``":"`` + id), same index as ``ids``.

    Notes
    -----
    HMAC is computed once per distinct ID. With 64 bits the chance that two of
    n patients share a pseudonym is about n^2 / 2^65 (1e-11 for 20,000
    patients); a collision is detected and raised rather than merged.
    """
    prefix = {"patient": "pat", "physio": "phy"}.get(kind)
    if prefix is None:
        raise ValueError(f"kind must be 'patient' or 'physio', not {kind!r}")
    codes, uniques = pd.factorize(ids.astype("string"), use_na_sentinel=True)
    label = kind.encode("ascii") + b":"
    digests = np.array(
        [f"{prefix}-" + hmac.new(key, label + str(u).encode("utf-8"), hashlib.sha256).hexdigest()[:16]
         for u in uniques],
        dtype=object,
    )
    if len(set(digests)) != len(digests):  # pragma: no cover - 64-bit collision
        raise ExportError("two identifiers received the same pseudonym; choose another pseudonym key")
    values = np.full(len(codes), None, dtype=object)
    known = codes >= 0
    values[known] = digests[codes[known]]
    return pd.Series(pd.array(values, dtype="string"), index=ids.index, name=ids.name)


@dataclass(frozen=True)
class ResearchCohort:
    """A pseudonymised cohort: no names of people, no calendar dates.

    Every table identifies patients by ``pseudonym`` only; times are programme
    days (``day`` 0 = the patient's programme start, ``week = day // 7 + 1``, as
    in :mod:`analysis.timeline`) and minutes after midnight. Rows are sorted by
    pseudonym (never by the original ID, whose order could link them back).

    Attributes
    ----------
    patients
        ``pseudonym`` (string), ``physio_pseudonym`` (string, keyed hash of the
        treating physio), ``age_band`` (string), and ``condition_notes`` (string,
        free text) only when notes were asked for.
    prescriptions
        ``pseudonym``, ``exercise``, ``side``, ``sets`` (Int64, sets),
        ``reps`` (Int64, repetitions), ``hold_s`` (float64, s),
        ``sessions_per_week`` (Int64), ``start_day`` and ``end_day`` (Int64,
        programme days; ``end_day`` missing = open-ended).
    sessions
        ``pseudonym``, ``day`` (Int64), ``week`` (Int64), ``minute_of_day``
        (Int64, 0-1439), ``exercise``, ``side``, ``sets``, ``reps``, ``hold_s``,
        ``pain_during`` (Int64, NPRS 0-10), ``rpe`` (Int64, Borg CR10), and
        ``notes`` only when asked for.
    pain
        ``pseudonym``, ``day``, ``week``, ``minute_of_day``, ``nprs`` (Int64,
        0-10), ``location`` (string), ``flare`` (boolean), and ``notes`` only
        when asked for.
    proms
        ``pseudonym``, ``day``, ``week``, ``minute_of_day``, ``instrument``,
        ``item`` (string), ``value`` (float64, instrument units).
    """

    patients: pd.DataFrame
    prescriptions: pd.DataFrame
    sessions: pd.DataFrame
    pain: pd.DataFrame
    proms: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """The five tables by name."""
        return {name: getattr(self, name) for name in ("patients", "prescriptions", "sessions", "pain", "proms")}

    @property
    def pseudonyms(self) -> pd.Index:
        """Every patient pseudonym in the cohort (from any table)."""
        parts = [t["pseudonym"] for t in self.tables().values()]
        return pd.Index(pd.concat(parts, ignore_index=True).dropna().unique(), dtype="string")

    def select(self, pseudonyms: list[str] | tuple[str, ...] | set[str]) -> ResearchCohort:
        """The same tables restricted to the given pseudonyms."""
        wanted = pd.Index(list(pseudonyms), dtype="string")
        return ResearchCohort(**{name: t[t["pseudonym"].isin(wanted)].reset_index(drop=True)
                                 for name, t in self.tables().items()})


def _timed(frame: pd.DataFrame, patients: pd.DataFrame, time_col: str) -> pd.DataFrame:
    """``day``, ``week`` and ``minute_of_day`` of a timestamp column."""
    day = programme_days(frame[time_col], frame["patient_id"], patients)
    times = frame[time_col]
    minute = (times.dt.hour * 60 + times.dt.minute).astype("Int64")
    return pd.DataFrame({"day": day, "week": week_of_day(day).astype("Int64"), "minute_of_day": minute},
                        index=frame.index)


def pseudonymise_cohort(cohort: CohortTables, key: bytes, *, include_notes: bool = False) -> ResearchCohort:
    """Replace identifiers by keyed-hash pseudonyms and dates by programme days.

    Parameters
    ----------
    cohort
        Canonical tables (:class:`analysis.cohort.CohortTables`).
    key
        Secret pseudonym key (:func:`pseudonym_key`).
    include_notes
        Keep the free-text columns ``notes`` and ``condition_notes`` (default:
        removed, since free text can name people or places).

    Returns
    -------
    ResearchCohort
        See :class:`ResearchCohort` for every column. No ``patient_id``,
        ``physio_id``, ``programme_start`` or calendar timestamp remains.

    Notes
    -----
    ``day`` is computed by :func:`analysis.timeline.programme_days` (whole days
    from ``programme_start``; rows of a patient missing from ``patients`` get a
    missing day). ``age_band`` is kept: it is already banded.
    """
    patients = cohort.patients
    pseudo = {
        name: pseudonymise_ids(table["patient_id"], key, kind="patient")
        for name, table in (("patients", patients), ("prescriptions", cohort.prescriptions),
                            ("sessions", cohort.sessions), ("pain", cohort.pain), ("proms", cohort.proms))
    }

    pat = pd.DataFrame({
        "pseudonym": pseudo["patients"],
        "physio_pseudonym": pseudonymise_ids(patients["physio_id"], key, kind="physio"),
        "age_band": patients["age_band"],
    })
    if include_notes:
        pat["condition_notes"] = patients["condition_notes"]

    rx = cohort.prescriptions
    start_day = programme_days(rx["start_date"], rx["patient_id"], patients).rename("start_day")
    end_day = programme_days(rx["end_date"], rx["patient_id"], patients).rename("end_day")
    prescriptions = pd.concat(
        [pseudo["prescriptions"].rename("pseudonym"),
         rx[["exercise", "side", "sets", "reps", "hold_s", "sessions_per_week"]], start_day, end_day], axis=1)

    def timed(name: str, frame: pd.DataFrame, time_col: str, columns: list[str]) -> pd.DataFrame:
        cols = columns + (["notes"] if include_notes and "notes" in frame.columns else [])
        return pd.concat([pseudo[name].rename("pseudonym"), _timed(frame, patients, time_col), frame[cols]], axis=1)

    sessions = timed("sessions", cohort.sessions, "performed_at",
                     ["exercise", "side", "sets", "reps", "hold_s", "pain_during", "rpe"])
    pain = timed("pain", cohort.pain, "recorded_at", ["nprs", "location", "flare"])
    proms = timed("proms", cohort.proms, "completed_at", ["instrument", "item", "value"])

    def ordered(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
        return frame.sort_values(by, kind="stable", na_position="last").reset_index(drop=True)

    return ResearchCohort(
        patients=ordered(pat, ["pseudonym"]),
        prescriptions=ordered(prescriptions, ["pseudonym", "exercise", "side", "start_day"]),
        sessions=ordered(sessions, ["pseudonym", "day", "minute_of_day", "exercise", "side"]),
        pain=ordered(pain, ["pseudonym", "day", "minute_of_day"]),
        proms=ordered(proms, ["pseudonym", "day", "minute_of_day", "instrument", "item"]),
    )


# --------------------------------------------------------------------------------------
# formula injection


def neutralise_cell(value: Any) -> Any:
    """Prefix a text value that a spreadsheet would run as a formula with an apostrophe.

    Parameters
    ----------
    value
        Any cell value; only ``str`` values are changed.

    Returns
    -------
    object
        ``"'" + value`` when ``value`` is a string starting with one of
        :data:`FORMULA_TRIGGERS`, else ``value`` unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) cannot run as spreadsheet formulas.

    Parameters
    ----------
    frame
        Any table.

    Returns
    -------
    pandas.DataFrame
        Same shape, index and dtypes; in every text column (``string`` or
        ``object`` dtype) each string starting with ``=``, ``+``, ``-``, ``@``,
        tab or carriage return (or their full-width forms) gets a leading
        apostrophe (``=1+1`` becomes ``'=1+1``), as recommended by OWASP.
        Numeric, boolean and datetime columns are unchanged (a negative number
        is a number, not a formula).
    """
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if isinstance(col.dtype, pd.StringDtype):
            risky = col.str.startswith(FORMULA_TRIGGERS).fillna(False).to_numpy(dtype=bool)
            if risky.any():
                out[name] = col.mask(risky, "'" + col)
        elif col.dtype == object:
            out[name] = col.map(neutralise_cell)
    out.columns = [neutralise_cell(str(c)) if isinstance(c, str) else c for c in out.columns]
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV (with a byte-order mark, so Excel reads accents) of a neutralised copy of ``frame``.

    Parameters
    ----------
    frame
        The table; its index is not written.

    Returns
    -------
    bytes
        The CSV text (CRLF line ends, cells holding a line break quoted); missing values
        are empty cells; see :func:`neutralise_formulas`.
    """
    # CRLF line ends: the csv writer then quotes any cell holding a CR or LF, so it stays one cell.
    return neutralise_formulas(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write :func:`to_csv_bytes` of ``frame`` to ``path`` and return the path."""
    target = Path(path)
    target.write_bytes(to_csv_bytes(frame))
    return target


def to_excel_bytes(frames: Mapping[str, pd.DataFrame]) -> bytes:
    """An ``.xlsx`` workbook with one neutralised sheet per table.

    Parameters
    ----------
    frames
        Sheet name (at most 31 characters) to table.

    Returns
    -------
    bytes
        The workbook. Text cells that would run as formulas carry a leading
        apostrophe; openpyxl would otherwise store ``=...`` as a live formula.

    Raises
    ------
    ExportError
        If a table has more rows than an Excel sheet holds (1,048,575 after the header).
    """
    for sheet, frame in frames.items():
        if len(frame) + 1 > EXCEL_MAX_ROWS:
            raise ExportError(
                f"the {sheet} table has {len(frame):,} rows, more than an Excel sheet holds "
                f"({EXCEL_MAX_ROWS - 1:,}); export as CSV or Parquet instead.")
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for sheet, frame in frames.items():
            neutralise_formulas(frame).to_excel(writer, sheet_name=str(sheet)[:31], index=False)
    return buffer.getvalue()


def write_excel(frames: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Write :func:`to_excel_bytes` of ``frames`` to ``path`` and return the path."""
    target = Path(path)
    target.write_bytes(to_excel_bytes(frames))
    return target


def research_export(
    user: User,
    store: Store,
    directory: str | Path,
    *,
    fmt: str = "csv",
    include_notes: bool = False,
    key: bytes | None = None,
) -> list[Path]:
    """Write the pseudonymised cohort a user may see to a directory.

    Parameters
    ----------
    user
        The user asking (:class:`analysis.access.User`). A researcher gets the
        whole pseudonymised cohort, an admin too, a physio their caseload and a
        patient their own rows, always pseudonymised here.
    store
        The store (:class:`analysis.store.Store`); read only through
        :func:`analysis.access.cohort_for`.
    directory
        Output directory, created if needed.
    fmt
        ``"csv"`` (one file per table, formula-neutralised), ``"xlsx"`` (one
        workbook ``research.xlsx``, one sheet per table, neutralised) or
        ``"parquet"`` (one file per table, values unchanged).
    include_notes
        Keep free-text notes (they can name people: only under an approval that allows it).
    key
        Pseudonym key; default :func:`pseudonym_key` of the store's data directory.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    ExportError
        For an unknown ``fmt`` or a table too large for Excel.
    """
    from analysis.access import RESEARCHER, cohort_for

    if fmt not in ("csv", "xlsx", "parquet"):
        raise ExportError(f"unknown export format {fmt!r}: choose csv, xlsx or parquet")
    key = key if key is not None else pseudonym_key(store.data_dir)
    data = cohort_for(user, store, include_notes=include_notes, key=key)
    research = data if isinstance(data, ResearchCohort) else pseudonymise_cohort(
        data, key, include_notes=include_notes)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tables = research.tables()
    if fmt == "xlsx":
        return [write_excel(tables, out / "research.xlsx")]
    written = []
    for name, frame in tables.items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            write_csv(frame, path)
        else:
            frame.to_parquet(path, index=False)
        written.append(path)
    logger.info("research export for %s (%s): %d files in %s", user.username,
                "researcher" if user.role == RESEARCHER else user.role, len(written), out)
    return written


# --------------------------------------------------------------------------------------
# display


def escape_text(value: Any) -> str:
    """Text a user wrote, safe to put inside HTML.

    Parameters
    ----------
    value
        Any value; missing values (``None``, ``NaN``, ``<NA>``) give ``""``.

    Returns
    -------
    str
        ``&``, ``<``, ``>``, ``"`` and ``'`` replaced by HTML entities
        (:func:`html.escape` with ``quote=True``).
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return html.escape(str(value), quote=True)


def escape_markdown(value: Any) -> str:
    r"""Text a user wrote, safe to pass to ``st.markdown``: Markdown and HTML characters backslash-escaped.

    Parameters
    ----------
    value
        Any value; missing values give ``""``.

    Returns
    -------
    str
        Every character with a meaning in Markdown (``\ ` * _ { } [ ] ( ) # + - . ! | < > ~ $ :``)
        preceded by a backslash, so ``[x](javascript:...)`` or ``<script>`` show as written.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))
