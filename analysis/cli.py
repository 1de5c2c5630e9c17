"""The ``rehabtrack`` command line.

Commands
--------
``rehabtrack validate FILE [--table T] [--patient-id P] [--month-first]``
    Read a log the way the dashboard would and report how it was read, which
    header became which column, how many rows were accepted, every rejected
    row with its reason, and the warnings. Exit status: 0 when every row was
    accepted, 1 when any row was rejected, 2 when the file cannot be read as a
    table at all (the message says why; no traceback).
``rehabtrack dashboard [--port N]``
    Start the Streamlit dashboard (``dashboards/app.py``).

Each command is a small function registered on the typer application
:data:`app`; a new command is one more ``@app.command()`` function that calls
into :mod:`analysis` and renders its result. Logging is configured here, at
the entry point, and nowhere in the library.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

import analysis
from analysis.errors import IngestError
from analysis.ingest import IngestResult, ingest_file

__all__ = ["app", "EXIT_OK", "EXIT_REJECTED", "EXIT_UNREADABLE", "DASHBOARD_APP"]

#: Exit status when every row was accepted.
EXIT_OK = 0
#: Exit status when at least one row was rejected.
EXIT_REJECTED = 1
#: Exit status when the file cannot be read as a table (or a command cannot start).
EXIT_UNREADABLE = 2

#: The Streamlit entry page started by ``rehabtrack dashboard``.
DASHBOARD_APP = Path(analysis.__file__).resolve().parents[1] / "dashboards" / "app.py"

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
) -> None:
    """Check a log file and list every row that would be rejected, with the reason."""
    console = Console(highlight=False)
    try:
        result = ingest_file(file, table=table, patient_id=patient_id, dayfirst=not month_first)
    except IngestError as exc:
        Console(stderr=True, highlight=False).print(Text("error: ", style="bold red") + Text(str(exc)))
        raise typer.Exit(EXIT_UNREADABLE) from None
    _print_result(console, result, limit)
    raise typer.Exit(EXIT_REJECTED if result.n_rejected else EXIT_OK)


@app.command()
def dashboard(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to serve on.")] = 8501,
) -> None:
    """Start the Streamlit dashboard."""
    if not DASHBOARD_APP.is_file():
        Console(stderr=True).print(Text(f"error: the dashboard is not installed ({DASHBOARD_APP} is missing)"))
        raise typer.Exit(EXIT_UNREADABLE)
    command = [sys.executable, "-m", "streamlit", "run", str(DASHBOARD_APP), "--server.port", str(port)]
    raise typer.Exit(subprocess.call(command))


def _print_result(console: Console, result: IngestResult, limit: int) -> None:
    """Render an :class:`IngestResult` for the terminal."""
    delimiter = {"\t": "tab", "": "-"}.get(result.delimiter, result.delimiter)
    console.print(Text(f"File: {result.source}", style="bold"))
    console.print(Text(
        f"Read as: {result.table} | format: {result.format} | encoding: {result.encoding or '-'} | "
        f"delimiter: {delimiter} | dates read {result.date_order}"
    ))
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


if __name__ == "__main__":  # pragma: no cover
    app()
