"""The ``rehabtrack`` command line.

Commands
--------
``rehabtrack validate FILE|FOLDER [--table T] [--patient-id P] [--month-first] [--person NAME=ID ...]``
``[--fhir-mapping CSV] [--timezone ZONE]``
    Read a log the way the dashboard would and report how it was read, which
    header became which column, how many rows were accepted, every rejected
    row with its reason, and the warnings. Exit status: 0 when every row was
    accepted, 1 when any row was rejected, 2 when the file cannot be read as a
    table at all (the message says why; no traceback), e.g. when its dates
    prove the other day order or a file for one patient names several people.
    App exports (Strong, Hevy, FitNotes) and FHIR R4 JSON are recognised from
    the content; the report names the importer used. ``--person``,
    ``--fhir-mapping`` and ``--timezone`` are those of ``rehabtrack upload``.
``rehabtrack export-fhir --patient P001 --out FILE [--data DIR] [--timezone TZ]``
    Write a patient's pain scores and questionnaire totals (ODI, VAS) from a
    cohort directory (default: the sample in ``data/sample``) as a FHIR R4
    Bundle of Observations, validated with fhir.resources.
``rehabtrack dashboard [--port N]``
    Start the Streamlit dashboard (``dashboards/app.py``).

Each command is a small function registered on the typer application
:data:`app`; a new command is one more ``@app.command()`` function that calls
into :mod:`analysis` and renders its result. Logging is configured here, at
the entry point, and nowhere in the library.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

import analysis
from analysis.errors import IngestError, SettingsError
from analysis.ingest import ingest_file
from analysis.limits import current_limits
from analysis.private_files import write_private
from analysis.store_cli import FhirMappingOption, PersonOption, TimezoneOption, ingest_options
from analysis.tables import IngestResult

if TYPE_CHECKING:  # pragma: no cover - imported lazily by the commands that need them
    from analysis.distributed import DaskCohort
    from analysis.schema import CohortTables

__all__ = ["app", "EXIT_OK", "EXIT_REJECTED", "EXIT_UNREADABLE", "DASHBOARD_APP", "export_fhir"]

#: Exit status when every row was accepted.
EXIT_OK = 0
#: Exit status when at least one row was rejected.
EXIT_REJECTED = 1
#: Exit status when the file cannot be read as a table (or a command cannot start).
EXIT_UNREADABLE = 2

#: The Streamlit entry page started by ``rehabtrack dashboard``.
#: The dashboard's server: the Streamlit app and the route of its HTTP-only login cookie (``dashboards/server.py``).
DASHBOARD_APP = Path(analysis.__file__).resolve().parents[1] / "dashboards" / "server.py"

app = typer.Typer(
    name="rehabtrack",
    help="Turn back-pain rehabilitation logs into evidence: check files, open the dashboard.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what the library does.")] = False,
) -> None:
    """rehabtrack: adherence, pain trends, meaningful change and safety flags from exercise logs."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="The log to check: CSV, Excel .xlsx or JSON.")],
    table: Annotated[str | None, typer.Option(
        "--table", "-t",
        help="Read the file as this table (sessions, pain, prescriptions, patients, proms); "
             "default: worked out from the columns.",
    )] = None,
    patient_id: Annotated[str | None, typer.Option(
        "--patient-id", "-p", help="The patient whose own file this is (fills the patient column).",
    )] = None,
    month_first: Annotated[bool, typer.Option(
        "--month-first", help="Read dates like 01/02/2026 as January 2 (default: day first, 1 February).",
    )] = False,
    limit: Annotated[int, typer.Option("--limit", min=0, help="List at most this many rejected rows (0 = all).")] = 0,
    person: PersonOption = None,
    fhir_mapping: FhirMappingOption = None,
    timezone: TimezoneOption = None,
) -> None:
    """Check a log file and list every row that would be rejected, with the reason."""
    console = Console(highlight=False)
    try:
        options = ingest_options(person, fhir_mapping, timezone)
        result = ingest_file(file, table=table, patient_id=patient_id, dayfirst=not month_first, **options)
    except MemoryError:  # the readers stop at the upload limits; this is the last line of defence
        Console(stderr=True, highlight=False).print(
            Text("error: ", style="bold red") + Text(str(current_limits().out_of_memory(file.name))))
        raise typer.Exit(EXIT_UNREADABLE) from None
    except (IngestError, SettingsError, ValueError, OSError) as exc:
        Console(stderr=True, highlight=False).print(Text("error: ", style="bold red") + Text(str(exc)))
        raise typer.Exit(EXIT_UNREADABLE) from None
    _print_result(console, result, limit)
    raise typer.Exit(EXIT_REJECTED if result.n_rejected else EXIT_OK)


@app.command("export-fhir")
def export_fhir(
    patient: Annotated[str, typer.Option("--patient", "-p", help="The patient to export, e.g. P001.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The JSON file to write (a FHIR R4 Bundle).")],
    data: Annotated[Path | None, typer.Option(
        "--data", help="Cohort directory with patients.csv, pain.csv, proms.csv, ... (default: the sample).",
    )] = None,
    timezone: Annotated[str, typer.Option(
        "--timezone", help="IANA time zone of the logged clock times (FHIR needs one), e.g. Europe/London.",
    )] = "UTC",
) -> None:
    """Export a patient's pain scores and questionnaire totals as a FHIR R4 Bundle of Observations."""
    import json

    from analysis.interop.fhir import EXPORTED_INSTRUMENTS, pain_to_fhir_bundle
    from analysis.sample_data import SAMPLE_DIR, load_cohort
    from analysis.scoring import score_proms

    err = Console(stderr=True, highlight=False)
    try:
        cohort = load_cohort(data or SAMPLE_DIR)
    except IngestError as exc:
        err.print(Text("error: ", style="bold red") + Text(str(exc)))
        raise typer.Exit(EXIT_UNREADABLE) from None
    known = set(cohort.patients["patient_id"].astype(str))
    if patient not in known:
        shown = ", ".join(sorted(known)[:5]) + (" ..." if len(known) > 5 else "")
        err.print(Text("error: ", style="bold red") + Text(f"there is no patient {patient!r} (patients: {shown})"))
        raise typer.Exit(EXIT_UNREADABLE)
    scored = score_proms(cohort.proms.loc[cohort.proms["patient_id"] == patient])
    try:
        bundle = pain_to_fhir_bundle(cohort.pain, scored, patient, timezone=timezone)
    except ValueError as exc:
        err.print(Text("error: ", style="bold red") + Text(str(exc)))
        raise typer.Exit(EXIT_UNREADABLE) from None
    write_private(out, json.dumps(bundle, indent=2, ensure_ascii=False) + "\n")  # mode 0600: health data
    codes = [e["resource"]["code"]["coding"][0]["code"] for e in bundle["entry"]]
    n_pain = codes.count("72514-3")
    left = scored.loc[~scored["instrument"].isin(list(EXPORTED_INSTRUMENTS)) & scored["score"].notna()]
    console = Console(highlight=False)
    console.print(Text(f"Wrote {out}: a FHIR R4 Bundle of {len(codes)} Observations for {patient} "
                       f"({n_pain} pain scores, {len(codes) - n_pain} questionnaire totals)"))
    if len(left):
        names = ", ".join(sorted(set(left["instrument"].astype(str))))
        console.print(Text(f"Not exported: {len(left)} questionnaire totals ({names}) have no LOINC code in the "
                           "reference"))


@app.command()
def dashboard(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to serve on.")] = 8501,
    address: Annotated[str, typer.Option(
        "--address", help="Address to listen on: 127.0.0.1 (this computer only, the default) or 0.0.0.0 for a "
                          "clinic server behind HTTPS, once real accounts replace the public demo accounts.",
    )] = "127.0.0.1",
) -> None:
    """Start the Streamlit dashboard."""
    if not DASHBOARD_APP.is_file():
        Console(stderr=True).print(Text(f"error: the dashboard is not installed ({DASHBOARD_APP} is missing)"))
        raise typer.Exit(EXIT_UNREADABLE)
    from analysis.store import UploadLimits

    max_upload_mb = max(1, -(-UploadLimits.from_env().max_bytes // (1024 * 1024)))  # the store's limit, rounded up
    command = [
        sys.executable, "-m", "streamlit", "run", str(DASHBOARD_APP), "--server.port", str(port),
        "--server.address", address, "--server.maxUploadSize", str(max_upload_mb),
        "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
    ]
    # Become the Streamlit server (same PID): a service manager's SIGTERM or a Ctrl-C then reaches
    # the process that holds the port, and nothing is left serving after this command ends.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


def _print_result(console: Console, result: IngestResult, limit: int) -> None:
    """Render an :class:`IngestResult` for the terminal."""
    delimiter = {"\t": "tab", "": "-"}.get(result.delimiter, result.delimiter)
    console.print(Text(f"File: {result.source}", style="bold"))
    console.print(Text(
        f"Read as: {result.table} | format: {result.format} | encoding: {result.encoding or '-'} | "
        f"delimiter: {delimiter} | dates read {result.date_order}"
    ))
    if result.format not in ("csv", "xlsx", "json", "frame"):
        from analysis.importers import IMPORTERS

        importer = IMPORTERS.get(result.format)
        console.print(Text(f"Importer: {importer.label if importer else result.format} (recognised from the content)"))
    mapping = Table(title="Columns", title_justify="left")
    mapping.add_column("Header in file")
    mapping.add_column("Column")
    for header, column in result.header_mapping.items():
        mapping.add_row(Text(header), Text(column))
    console.print(mapping)
    console.print(Text(
        f"Rows: {result.n_rows} | accepted: {result.n_accepted} | rejected: {result.n_rejected} | "
        f"duplicates: {result.n_duplicates}"
    ))
    if len(result.rejected):
        shown = result.rejected if not limit else result.rejected.head(limit)
        rejected = Table(title="Rejected rows", title_justify="left")
        for name in ("Row", "Column", "Value", "Reason"):
            rejected.add_column(name, overflow="fold")
        for rec in shown.itertuples(index=False):
            rejected.add_row(str(rec.row), Text(rec.column), Text(rec.value), Text(rec.reason))
        console.print(rejected)
        if len(shown) < len(result.rejected):
            console.print(Text(f"... and {len(result.rejected) - len(shown)} more problems (use --limit 0)"))
    if result.warnings:
        console.print(Text("Warnings:", style="bold yellow"))
        for warning in result.warnings:
            console.print(Text(f"- {warning}"))


# --------------------------------------------------------------------------- rehabtrack report cohort

report_app = typer.Typer(help="Write research reports: methods text, tables and figures.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("cohort")
def report_cohort(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write methods.md, tables and figures to.")],
    data: Annotated[Path, typer.Option(
        "--data", "-d", help="A cohort directory: the five canonical CSV files, or a Parquet dataset by patient "
                             "(python -m analysis.distributed write-parquet).",
    )] = Path("data/sample"),
    settings_file: Annotated[Path | None, typer.Option(
        "--settings", "-s", help="TOML file of thresholds (default: the published defaults).",
    )] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Analysis date YYYY-MM-DD (default: the last session or pain entry).",
    )] = None,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="Compute on a Dask cluster: its scheduler address (tcp://host:8786), or 'local' "
                            "for a 2-worker cluster on this machine.",
    )] = None,
    pseudonymise: Annotated[bool, typer.Option(
        "--pseudonymise/--no-pseudonymise", help="Replace patient and physio IDs by research pseudonyms.",
    )] = True,
) -> None:
    """Write a cohort's methods paragraph, research tables (CSV) and figures (PNG) into one directory."""
    from analysis.errors import NotEnoughDataError, RehabtrackError
    from analysis.report import write_cohort_report
    from analysis.settings import load_settings

    console = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    client = None
    try:
        settings = load_settings(settings_file)
        parquet = (data / "patients").is_dir()
        cohort: CohortTables | DaskCohort
        if scheduler is not None or parquet:
            from analysis import distributed

            if scheduler == "local":
                if logging.getLogger().getEffectiveLevel() > logging.INFO:  # quiet unless --verbose
                    logging.getLogger("distributed").setLevel(logging.WARNING)
                client = distributed.local_cluster()
            elif scheduler is not None:
                from distributed import Client

                client = Client(scheduler)
            if parquet:
                cohort = distributed.read_parquet_cohort(data)
            else:
                from analysis.sample_data import load_cohort

                cohort = distributed.DaskCohort.from_pandas(load_cohort(data), npartitions=4)
        else:
            from analysis.sample_data import load_cohort

            cohort = load_cohort(data)
        with Console(stderr=True).status("Computing the cohort tables, model and figures..."):
            written = write_cohort_report(cohort, out, settings, as_of=as_of, pseudonymise=pseudonymise)
    except (RehabtrackError, NotEnoughDataError, OSError) as exc:
        err.print(Text("error: ", style="bold red") + Text(str(exc)))
        raise typer.Exit(EXIT_UNREADABLE) from None
    finally:
        if client is not None:
            cluster = client.cluster if scheduler == "local" else None
            client.close()
            if cluster is not None:
                cluster.close()
    console.print(Text(f"Wrote {len(written)} files to {out}:", style="bold"))
    for name in written:
        console.print(Text(f"- {name}"))
    console.print(Text(f"Methods paragraph: {written['methods.md']}"))


# --------------------------------------------------------------------------- the store: export, import, upload, users

from analysis.store_cli import register as _register_store_commands  # noqa: E402

_register_store_commands(app)


if __name__ == "__main__":  # pragma: no cover
    app()
