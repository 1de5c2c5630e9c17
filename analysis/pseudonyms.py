"""Research pseudonyms: keyed hashes of identifiers, and the pseudonymised cohort.

:func:`pseudonymise_cohort` turns the canonical tables of :mod:`analysis.schema`
into a :class:`ResearchCohort` with no direct identifier: ``patient_id`` and
``physio_id`` become stable keyed-hash pseudonyms (HMAC-SHA-256 under a secret
key, :func:`pseudonym_key`), every date becomes a number of days from the
patient's programme start (``programme_start`` itself is dropped) and free-text
notes are removed unless asked for. Who may see it is decided by the access
facade (:func:`analysis.access.cohort_for`, :func:`analysis.access.research_export`).

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
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.errors import ExportError
from analysis.paths import data_dir as default_data_dir
from analysis.timeline import programme_days, week_of_day

if TYPE_CHECKING:  # pragma: no cover
    from analysis.schema import CohortTables

__all__ = [
    "PSEUDONYM_KEY_ENV",
    "PSEUDONYM_KEY_FILE",
    "ResearchCohort",
    "pseudonym_key",
    "pseudonymise_ids",
    "pseudonymise_cohort",
]

logger = logging.getLogger(__name__)

#: Environment variable holding the pseudonym key (at least 32 characters).
PSEUDONYM_KEY_ENV = "REHABTRACK_PSEUDONYM_KEY"
#: File in the data directory holding the generated key when the variable is unset.
PSEUDONYM_KEY_FILE = "pseudonym.key"
_MIN_KEY_CHARS = 32


def pseudonym_key(data_dir: str | Path | None = None) -> bytes:
    """The secret key of the research pseudonyms.

    Parameters
    ----------
    data_dir
        Directory holding ``pseudonym.key``; default :func:`analysis.paths.data_dir`
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
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
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
