"""Tests of the rehabtrack command line (analysis.cli), through typer's CliRunner.

Expected reasons and row numbers are read off the fixture files by hand (header
= row 1), as in tests/test_ingest.py.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analysis import cli

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
WIDE = {"COLUMNS": "250"}  # keep rich tables on one line per row

runner = CliRunner()


def run(*args: str):
    return runner.invoke(cli.app, list(args), env=WIDE)


def row_line(output: str, needle: str) -> str:
    """The table line holding ``needle`` (a rejected row is one line when the terminal is wide)."""
    lines = [line for line in output.splitlines() if needle in line]
    assert len(lines) == 1, output
    return lines[0]


def test_help_lists_the_commands():
    result = run("--help")
    assert result.exit_code == 0
    assert "validate" in result.output and "dashboard" in result.output


def test_valid_file_exits_zero_and_shows_how_it_was_read():
    result = run("validate", str(FIXTURES / "sessions_canonical.csv"))
    assert result.exit_code == 0, result.output
    assert "Read as: sessions | format: csv | encoding: utf-8 | delimiter: , | dates read day-first" in result.output
    assert "Rows: 4 | accepted: 4 | rejected: 0 | duplicates: 0" in result.output
    assert re.search(r"│ performed_at\s+│ performed_at\s+│", result.output)


def test_rejected_rows_are_listed_and_exit_one():
    result = run("validate", str(FIXTURES / "sessions_bad_values.csv"))
    assert result.exit_code == 1
    assert "Rows: 7 | accepted: 1 | rejected: 6 | duplicates: 0" in result.output
    line = row_line(result.output, "sets must be a whole number from 0 to 20; got 2.5")
    assert re.match(r"│ 2\s+│ sets\s+│ 2\.5\s+│", line), line
    line = row_line(result.output, "side must be left, right or both; got 'up'")
    assert re.match(r"│ 4\s+│ side\s+│ up\s+│", line), line
    assert re.search(r"│ Pain during\s+│ pain_during\s+│", result.output)  # the header mapping


def test_limit_shortens_the_list():
    result = run("validate", str(FIXTURES / "sessions_bad_values.csv"), "--limit", "2")
    assert result.exit_code == 1
    assert "... and 5 more problems" in result.output  # 7 problems in 6 rows, 2 shown
    assert "got one" not in result.output


def test_month_first_is_refused_when_the_file_proves_day_first():
    # issue 16: 13/02 and 25/02 exist only day-first, so "month first" would store 01/02 as 2 January
    result = run("validate", str(FIXTURES / "pain_unambiguous_dayfirst.csv"), "--month-first", "-p", "P1")
    assert result.exit_code == 2
    assert "written day-first" in result.output
    assert "'13/02/2026' (row 3, column 'Date')" in result.output
    assert "rows 3, 4 prove it" in result.output
    assert "leave out --month-first" in result.output
    assert "Traceback" not in result.output
    result = run("validate", str(FIXTURES / "pain_unambiguous_dayfirst.csv"), "-p", "P1")
    assert result.exit_code == 0, result.output


def test_patient_id_and_table_options():
    result = run("validate", str(FIXTURES / "pain_diary.csv"), "--patient-id", "P001", "--table", "pain")
    assert result.exit_code == 0, result.output
    assert "Read as: pain" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (("empty.csv",), "the file is empty"),
    (("header_only.csv",), "no rows of data"),
    (("sessions_missing_columns.csv",), "missing the required column(s) sets, reps"),
    (("sessions_canonical.csv", "--table", "workouts"), "no table called 'workouts'"),
    (("does_not_exist.csv",), "does not exist"),
])
def test_unreadable_files_exit_two_with_the_message_and_no_traceback(args, message):
    result = run("validate", str(FIXTURES / args[0]), *args[1:])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_dashboard_runs_streamlit_on_the_app(monkeypatch, tmp_path):
    app_file = tmp_path / "app.py"
    app_file.write_text("")
    calls = []
    monkeypatch.setattr(cli, "DASHBOARD_APP", app_file)
    monkeypatch.setattr(os, "execv", lambda path, command: calls.append((path, command)))
    run("dashboard", "--port", "8600")
    assert calls == [(sys.executable, [
        sys.executable, "-m", "streamlit", "run", str(app_file), "--server.port", "8600",
        "--server.address", "127.0.0.1",  # this computer only, unless --address says otherwise
        # the store's 20 MiB default upload limit, so Streamlit refuses nothing the store would accept
        "--server.maxUploadSize", "20", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",  # no Deploy button for clinic users
    ])]  # the command becomes the server (exec): a SIGTERM reaches the process holding the port


def test_dashboard_upload_limit_follows_the_store_setting(monkeypatch, tmp_path):
    app_file = tmp_path / "app.py"
    app_file.write_text("")
    calls = []
    monkeypatch.setattr(cli, "DASHBOARD_APP", app_file)
    monkeypatch.setattr(os, "execv", lambda path, command: calls.append(command))
    monkeypatch.setenv("REHABTRACK_MAX_UPLOAD_MB", "2.5")
    run("dashboard")
    assert calls[0][calls[0].index("--server.maxUploadSize") + 1] == "3"  # 2.5 MB rounded up


def test_dashboard_path_is_the_repository_app():
    # the ASGI entry: the app plus the route that sets the HTTP-only login cookie (issue 17)
    assert cli.DASHBOARD_APP == Path(cli.__file__).resolve().parents[1] / "dashboards" / "server.py"


def test_dashboard_without_the_app_exits_two(monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "DASHBOARD_APP", tmp_path / "missing.py")
    result = run("dashboard")
    assert result.exit_code == 2 and "dashboard is not installed" in result.output


def test_dashboard_listens_on_the_address_asked_for(monkeypatch, tmp_path):
    app_file = tmp_path / "app.py"
    app_file.write_text("")
    calls = []
    monkeypatch.setattr(cli, "DASHBOARD_APP", app_file)
    monkeypatch.setattr(os, "execv", lambda path, command: calls.append(command))
    run("dashboard", "--address", "0.0.0.0")
    assert calls[0][calls[0].index("--server.address") + 1] == "0.0.0.0"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_is_free(port: int) -> bool:
    """Whether a new server could listen on ``port`` (as Streamlit does: SO_REUSEADDR, so the closed
    connections of the health checks, in TIME_WAIT for a minute, do not count; a listener still does)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_dashboard_stops_when_told_and_frees_its_port(tmp_path, sig):
    # the installed command, as a service manager or a terminal runs it
    exe = Path(sys.executable).parent / "rehabtrack"
    port = _free_port()
    env = dict(os.environ, REHABTRACK_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen([str(exe), "dashboard", "--port", str(port)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "the dashboard did not start"
                assert proc.poll() is None, "the dashboard exited at start-up"
                time.sleep(0.3)
        proc.send_signal(sig)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while not _port_is_free(port):
            assert time.monotonic() < deadline, f"port {port} still served after the command ended"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
