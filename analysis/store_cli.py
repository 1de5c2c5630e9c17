"""Command-line commands of the store: backup, restore, uploads, research export, accounts.

Register them on the ``rehabtrack`` typer application (``analysis/cli.py``) with::

    from analysis.store_cli import register as register_store_commands

    register_store_commands(app)

which adds

``rehabtrack export DIR [--format parquet|csv]``
    Write the whole store (every table, uploads, rejected rows, kept originals) to DIR.
``rehabtrack import DIR [--backup-key FILE] [--allow-unsigned]``
    Read such a directory back into an empty store, once its signed manifest, every
    table file (checksum and row count) and every kept original (re-hashed) verify.
``rehabtrack upload FILE|FOLDER --as USER [--table T] [--patient-id P] [--month-first] [--on-conflict C]``
``[--person NAME=ID ...] [--fhir-mapping CSV] [--timezone ZONE]``
    Store a log as USER would from the dashboard (their role's limits apply). A folder of FHIR
    ``.json`` / ``.ndjson`` files is stored as one upload, read exactly as ``validate`` reads it.
    Before anything is stored, the rows whose key is stored with other values are listed (stored
    value -> the file's value); ``--on-conflict replace`` stores the file's values (the old ones go to
    the audit table), ``keep`` keeps what is stored, ``fail`` stores nothing. Without the option a
    terminal asks; a run without a terminal fails (nothing stored, the rows listed, exit 3).
    ``--person 'Anna=P011'`` (one per person) reads a file naming several people (an ``Athlete``
    column) as those patients of the caseload. ``--fhir-mapping`` adds a mapping CSV to the built-in
    FHIR mapping (default: ``<data dir>/fhir_mapping.csv`` when it exists); ``--timezone`` overrides
    the clinic's time zone (its settings file, else this computer's).
    Exit 0 when every row was stored or already there, 1 when rows were rejected, 3 when rows differ
    and nothing was stored.
``rehabtrack research-export DIR --as USER [--format csv|xlsx|parquet] [--include-notes]``
    The pseudonymised cohort USER may see (CSV and Excel cells neutralised against formulas).
``rehabtrack load-sample``
    Seed an empty store with the sample cohort, its dates moved by whole weeks so that it ends this week.
``rehabtrack refit-expected --as ADMIN [--as-of DATE]``
    Fit the expected-course model (issue 20) on the store's completed programmes, with its
    cross-validated calibration, and keep it with its fit date, data version and settings; the
    caseload, patient detail and comparison pages use it until the next refit. Exit 1 (nothing
    stored) with "not enough completed programmes yet (N of M)" below the minimum.
``rehabtrack users add USERNAME --role ROLE [--patient-id P | --physio-id F] [--password-stdin | --no-password]``
    Add an account to the users file (password asked twice, or one line on stdin;
    ``--no-password`` for an account signed in by the clinic's identity provider). ``--replace`` resets one.
``rehabtrack users list``
    The accounts of the users file in force (never the hashes).

Every command takes ``--store URL_OR_PATH`` (default ``REHABTRACK_DATABASE_URL``, else
``<data dir>/rehabtrack.sqlite``; the data directory is ``REHABTRACK_DATA_DIR`` or ``./var``).
The command line trusts whoever runs it on the server (``--as`` asks no password):
anyone who can run it can read the data directory anyway. Errors print a message
and exit 2, without a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypedDict, TypeVar

import typer
from rich.console import Console

from analysis.errors import RehabtrackError

if TYPE_CHECKING:  # pragma: no cover - imported lazily at run time (see _store)
    from analysis.corrections import Comparison
    from analysis.importers.fhir import FhirMapping
    from analysis.limits import UploadLimits
    from analysis.roles import User
    from analysis.store import Store

__all__ = ["register", "users_app", "EXIT_OK", "EXIT_REJECTED", "EXIT_ERROR", "EXIT_CONFLICT", "ingest_options"]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_ERROR = 2
#: Rows differ from what is stored and the choice was to fail: nothing was stored.
EXIT_CONFLICT = 3

T = TypeVar("T")

StoreOption = Annotated[str | None, typer.Option(
    "--store", help="SQLAlchemy URL or SQLite file (default: REHABTRACK_DATABASE_URL or <data dir>/rehabtrack.sqlite).",
)]
AsOption = Annotated[str, typer.Option("--as", help="Act as this account of the users file.")]
PersonOption = Annotated[list[str] | None, typer.Option(
    "--person", help="NAME=PATIENT_ID: read the rows of this person (a value of the file's Athlete, Name or "
                     "Patient column) as this patient; give one per person.")]
FhirMappingOption = Annotated[Path | None, typer.Option(
    "--fhir-mapping", help="A FHIR mapping CSV (kind,system,code,table,instrument,item,value) added to the "
                           "built-in one; default <data dir>/fhir_mapping.csv when it exists.")]
TimezoneOption = Annotated[str | None, typer.Option(
    "--timezone", help="The clinic's time zone for times written with a UTC offset (default: the settings file's "
                       "timezone, else this computer's), e.g. Europe/London.")]


class IngestOptions(TypedDict):
    """Keyword arguments of :func:`analysis.ingest.ingest_file` that ``validate`` and ``upload`` share."""

    people: dict[str, str] | None
    fhir_mapping: FhirMapping | None
    timezone: str


def ingest_options(person: list[str] | None, fhir_mapping: Path | None, timezone: str | None) -> IngestOptions:
    """The ingestion options of ``validate`` and ``upload``: people, FHIR mapping, time zone (raise ValueError)."""
    from analysis.importers.fhir import FhirMapping, clinic_fhir_mapping
    from analysis.paths import data_dir
    from analysis.settings import check_timezone, clinic_settings

    people: dict[str, str] | None = None
    if person:
        people = {}
        for item in person:
            name, sep, patient = item.partition("=")
            if not sep or not name.strip() or not patient.strip():
                raise ValueError(f"--person needs NAME=PATIENT_ID (e.g. --person 'Anna=P011'); got {item!r}")
            people[name.strip()] = patient.strip()
    mapping = FhirMapping.from_csv(fhir_mapping) if fhir_mapping is not None else clinic_fhir_mapping(data_dir())
    zone = check_timezone(timezone) if timezone else clinic_settings().timezone
    return IngestOptions(people=people, fhir_mapping=mapping, timezone=zone)

users_app = typer.Typer(help="Accounts of the users file.", no_args_is_help=True)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn rehabtrack's own errors into a message and exit status 2."""
    from analysis.corrections import ConflictError

    try:
        yield
    except ConflictError as exc:  # rows differ from what is stored (found while storing): nothing was stored
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_CONFLICT) from None
    except (RehabtrackError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    except MemoryError:  # the readers stop at the upload limits; this is the last line of defence
        typer.echo("error: this needs more memory than the server has free; nothing was stored. Split the file "
                   "into smaller files and try again.", err=True)
        raise typer.Exit(EXIT_ERROR) from None


def _store(url: str | None) -> Store:  # Store imported lazily to keep `rehabtrack --help` fast
    from analysis.store import Store

    return Store.open(url)


def _user(username: str) -> User:
    from analysis.accounts import load_users, users_file

    users = load_users()
    if username not in users:
        raise ValueError(f"there is no account {username!r} in {users_file()}")
    return users[username][0]


@contextmanager
def _working(message: str) -> Iterator[None]:
    """Show a spinner on stderr while long work runs (nothing when stderr is not a terminal)."""
    with Console(stderr=True).status(message):
        yield


def export_command(
    directory: Annotated[Path, typer.Argument(help="New or empty directory to write to.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="parquet (exact types) or csv.")] = "parquet",
    store: StoreOption = None,
) -> None:
    """Back up the whole store to a directory that `rehabtrack import` reads back."""
    with _errors():
        s = _store(store)
        try:
            with _working(f"Backing up the store to {directory}..."):
                manifest = s.export_store(directory, fmt)
            counts = s.counts()
        finally:
            s.close()
        typer.echo(f"exported {s.url} to {directory} ({fmt}): "
                   + ", ".join(f"{name} {n}" for name, n in counts.items()))
        typer.echo(f"manifest: {manifest}")


def import_command(
    directory: Annotated[Path, typer.Argument(help="A directory written by `rehabtrack export`.")],
    backup_key: Annotated[Path | None, typer.Option(
        "--backup-key", help="The backup.key file of the server that made the export (default: this server's).",
    )] = None,
    allow_unsigned: Annotated[bool, typer.Option(
        "--allow-unsigned", help="Accept an export without a signature (made by an older release).")] = False,
    store: StoreOption = None,
) -> None:
    """Restore an export into an empty store, after verifying its manifest, files, row counts and originals."""
    with _errors():
        key = backup_key.read_text(encoding="utf-8").strip().encode("utf-8") if backup_key is not None else None
        s = _store(store)
        try:
            with _working(f"Restoring {directory}..."):
                counts = s.import_store(directory, key=key, allow_unsigned=allow_unsigned)
        finally:
            s.close()
        typer.echo(f"imported {directory} into {s.url}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def upload_command(
    file: Annotated[Path, typer.Argument(help="The log: CSV, Excel .xlsx, JSON, or a folder of FHIR files.")],
    as_user: AsOption,
    table: Annotated[str | None, typer.Option("--table", "-t", help="Read the file as this table.")] = None,
    patient_id: Annotated[str | None, typer.Option("--patient-id", "-p", help="The patient the file is for.")] = None,
    month_first: Annotated[bool, typer.Option("--month-first", help="Read 01/02/2026 as January 2.")] = False,
    on_conflict: Annotated[str | None, typer.Option(
        "--on-conflict", help="Rows whose key is stored with other values: replace (store the file's values, the "
                              "old ones go to the audit table), keep (keep what is stored) or fail (store nothing). "
                              "Default: ask in a terminal, fail without one.")] = None,
    person: PersonOption = None,
    fhir_mapping: FhirMappingOption = None,
    timezone: TimezoneOption = None,
    store: StoreOption = None,
) -> None:
    """Store a log file as a user would upload it (all rows or none; nothing twice; differences shown first)."""
    from analysis.access import compare_upload, preview_upload, upload
    from analysis.corrections import ON_CONFLICT

    if on_conflict is not None and on_conflict not in ON_CONFLICT:
        typer.echo(f"error: --on-conflict must be keep, replace or fail; got {on_conflict!r}", err=True)
        raise typer.Exit(EXIT_ERROR)
    with _errors():
        user = _user(as_user)
        options = ingest_options(person, fhir_mapping, timezone)
        s = _store(store)
        try:
            data, name = _file_bytes(file, s.limits)
            with _working(f"Reading {name} and comparing it with the store..."):
                result = preview_upload(user, s, data, name, table=table, patient_id=patient_id,
                                        dayfirst=not month_first, **options)
                comparison = compare_upload(user, s, result, patient_id=patient_id)
            choice = _conflict_choice(comparison, on_conflict)
            if choice == "fail" and comparison.n_changed:
                typer.echo(f"{name}: {comparison.summary()} Nothing was stored.\n{comparison.listing(limit=50)}\n"
                           "Run again with --on-conflict replace to store the file's values (the stored ones go to "
                           "the audit table), or --on-conflict keep to keep what is stored.", err=True)
                raise typer.Exit(EXIT_CONFLICT)
            with _working(f"Storing {name}..."):
                report = upload(user, s, data, name, table=table, patient_id=patient_id, dayfirst=not month_first,
                                on_conflict=choice, **options)
        finally:
            s.close()
    typer.echo(report.summary())
    raise typer.Exit(EXIT_REJECTED if report.rows_rejected else EXIT_OK)


def _file_bytes(path: Path, limits: UploadLimits) -> tuple[bytes, str]:
    """A file's bytes, or a folder of FHIR files packed into one upload (read as ``validate`` reads the folder).

    The size limit is checked on the file before it is read into memory.
    """
    if path.is_dir():
        from analysis.importers.fhir import pack_folder

        data = pack_folder(path)
        limits.check_bytes(len(data), path.name)
        return data, path.name
    limits.check_bytes(path.stat().st_size, path.name)
    return path.read_bytes(), path.name


def _conflict_choice(comparison: Comparison, given: str | None) -> str:
    """The choice for rows that differ: as given; else asked in a terminal (after listing them); else fail."""
    if given is not None or not comparison.n_changed:
        return given or "fail"
    if not sys.stdin.isatty():
        return "fail"
    typer.echo(f"{comparison.summary()} Stored value -> the file's value:\n{comparison.listing(limit=50)}")
    suggested = "replace" if comparison.same_app else None
    if comparison.same_app:
        typer.echo("This is a new export from the same app: its values are the app's newer ones.")
    while True:
        answer = typer.prompt("Replace them with the file's values (the old ones go to the audit table), keep what "
                              "is stored, or cancel? [replace/keep/cancel]", default=suggested or "")
        word = str(answer).strip().lower()
        if word in ("replace", "r"):
            return "replace"
        if word in ("keep", "k"):
            return "keep"
        if word in ("cancel", "c", "fail"):
            return "fail"


def research_export_command(
    directory: Annotated[Path, typer.Argument(help="Directory to write the pseudonymised tables to.")],
    as_user: AsOption,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, xlsx or parquet.")] = "csv",
    include_notes: Annotated[bool, typer.Option(
        "--include-notes", help="Keep free-text notes (they can name people).")] = False,
    store: StoreOption = None,
) -> None:
    """Write the pseudonymised cohort (keyed-hash IDs, programme days, no notes) the user may see."""
    from analysis.access import research_export

    with _errors():
        user = _user(as_user)
        s = _store(store)
        try:
            with _working("Pseudonymising and writing the cohort..."):
                paths = research_export(user, s, directory, fmt=fmt, include_notes=include_notes)
        finally:
            s.close()
    for p in paths:
        typer.echo(str(p))


def load_sample_command(store: StoreOption = None) -> None:
    """Seed an empty store with the sample cohort moved by whole weeks to today (nothing if the store has data)."""
    from analysis.settings import clinic_settings
    from analysis.timeline import today

    with _errors():
        s = _store(store)
        try:
            with _working("Loading the sample cohort..."):
                reports = s.load_sample(today=today(clinic_settings().timezone))
        finally:
            s.close()
    if not reports:
        typer.echo("the store already has data; nothing loaded")
    for r in reports:
        typer.echo(r.summary().splitlines()[0])


def refit_expected_command(
    as_user: AsOption,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Analysis date YYYY-MM-DD (default: the day after the last entry).")] = None,
    store: StoreOption = None,
) -> None:
    """Refit the expected-course model on the completed programmes and keep it (administrators only)."""
    from analysis.access import refit_expected
    from analysis.expected import NotEnoughData
    from analysis.settings import clinic_settings

    with _errors():
        user = _user(as_user)
        s = _store(store)
        try:
            with _working("Fitting the expected-course model and its cross-validation (about a minute)..."):
                fit = refit_expected(user, s, as_of=as_of, settings=clinic_settings())
            record = s.expected_model_record() if not isinstance(fit, NotEnoughData) else None
        finally:
            s.close()
    if isinstance(fit, NotEnoughData):
        typer.echo(f"{fit.short}. A completed programme counts when it has a baseline week and a rated week after "
                   f"it. Nothing was stored; refit once the clinic has {fit.min_patients} such programmes.")
        raise typer.Exit(EXIT_REJECTED)
    m, cal = fit.model, fit.calibration
    level = f"{m.spec.interval * 100:.0f} %"
    typer.echo(f"fitted on {m.n_patients} completed programmes ({m.n_obs} patient-weeks), as of {m.as_of:%Y-%m-%d}, "
               f"data version {m.data_version}")
    if cal.status == "calibrated":
        typer.echo(f"{cal.folds}-fold cross-validation by patient: the {level} interval covered "
                   f"{cal.coverage * 100:.0f} % of {cal.n_weeks} held-out weeks; mean absolute error {cal.mae:.2f} "
                   "points")
    if record is not None:
        when = f"{record['fitted_at']:%Y-%m-%d %H:%M}"
        typer.echo(f"stored as expected-course model {record['model_id']} (fitted {when} UTC by {record['fitted_by']})")


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option("--role", "-r", help="patient, physio, researcher or admin.")],
    patient_id: Annotated[str | None, typer.Option("--patient-id", help="For a patient account.")] = None,
    physio_id: Annotated[str | None, typer.Option("--physio-id", help="For a physio account.")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input.")] = False,
    no_password: Annotated[bool, typer.Option(
        "--no-password", help="No password: the account signs in through the clinic's identity provider "
                              "(st.login); USERNAME is the e-mail address it vouches for.")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Replace an existing account (password reset).")] = False,
) -> None:
    """Add an account (Argon2id hash only) to REHABTRACK_USERS_FILE or <data dir>/users.toml."""
    from analysis.accounts import add_user
    from analysis.roles import User

    with _errors():
        user = User(username, role, patient_id=patient_id, physio_id=physio_id)
        password: str | None
        if no_password:
            password = None
        elif password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        path = add_user(user, password, replace=replace)
    typer.echo(f"{'updated' if replace else 'added'} {user.role} account {user.username!r} in {path}")


@users_app.command("list")
def users_list() -> None:
    """List the accounts of the users file in force (names, roles and IDs; never hashes)."""
    from analysis.accounts import DEMO_USERS_FILE, load_users, users_file

    with _errors():
        path = users_file()
        users = load_users(path)
    note = "  (the public DEMO accounts)" if path.resolve() == DEMO_USERS_FILE.resolve() else ""
    typer.echo(f"{path}{note}")
    for name, (u, hashed) in sorted(users.items()):
        who = u.patient_id or u.physio_id or ""
        how = "" if hashed else "  (signs in through the identity provider)"
        typer.echo(f"  {name:<20} {u.role:<11} {who}{how}")


_COMMANDS: dict[str, Callable[..., None]] = {
    "export": export_command,
    "import": import_command,
    "upload": upload_command,
    "research-export": research_export_command,
    "load-sample": load_sample_command,
    "refit-expected": refit_expected_command,
}


def register(app: typer.Typer) -> None:
    """Add the store commands and the ``users`` group to a typer application (see the module docstring)."""
    for name, function in _COMMANDS.items():
        app.command(name)(function)
    app.add_typer(users_app, name="users")
