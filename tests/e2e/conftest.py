"""End-to-end fixtures: a real `streamlit run` server and Debian's headless Chromium.

The server is started on 127.0.0.1 on a free port with a throw-away data
directory, and Playwright drives /usr/bin/chromium (Playwright cannot download
its own browser on this machine). Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("REHABTRACK_CHROMIUM", "/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def streamlit_server(data_dir: Path, log_dir: Path, pids: list[int] | None = None,
                     **env_overrides: str | None) -> Iterator[str]:
    """Run ``streamlit run dashboards/server.py`` (app and login-cookie route) on a free port; yield its URL.

    ``data_dir`` becomes ``REHABTRACK_DATA_DIR``; ``env_overrides`` set (or, with
    ``None``, remove) further environment variables; the server's process id is
    appended to ``pids`` when given (to read its memory). The server's output goes to
    ``log_dir/streamlit.log``; it is stopped when the block ends.
    """
    port = _free_port()
    # the clock frozen on the sample's snapshot date (tests/conftest.py sets it; an override wins)
    env = dict(os.environ, REHABTRACK_DATA_DIR=str(data_dir))
    env.setdefault("REHABTRACK_TODAY", "2026-11-20")
    for name, value in env_overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    log_path = log_dir / "streamlit.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboards" / "server.py"),
                "--server.address", "127.0.0.1", "--server.port", str(port),
                "--server.headless", "true", "--browser.gatherUsageStats", "false",
            ],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        if pids is not None:
            pids.append(proc.pid)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.3)
            else:
                raise RuntimeError(f"streamlit did not become healthy; see {log_path}")
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with streamlit_server(tmp_path_factory.mktemp("store"), tmp_path_factory.mktemp("log")) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run ./test.sh, which installs Debian's chromium")
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture()
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    pg = context.new_page()
    yield pg
    context.close()


def screenshot(page: object, name: str) -> Path:
    """Save a full-page screenshot as a test artifact and return its path.

    Streamlit scrolls its main area inside the window, so the viewport is made as tall as
    that area (at most 8,000 px) for the shot and restored afterwards.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = page.viewport_size  # type: ignore[attr-defined]
    height = page.evaluate(  # type: ignore[attr-defined]
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], "
        "[data-testid=\"stMainBlockContainer\"]')].map(e => e.scrollHeight), document.body.scrollHeight)")
    if size and height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": min(int(height) + 80, 8000)})  # type: ignore
        page.wait_for_timeout(400)  # type: ignore[attr-defined]
    try:
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    finally:
        if size and height > size["height"]:
            page.set_viewport_size(size)  # type: ignore[attr-defined]
    return path


def wait_idle(page: object, timeout_ms: int = 60_000) -> None:
    """Wait until the Streamlit script has finished running (no "Running..." left)."""
    page.wait_for_selector(  # type: ignore[attr-defined]
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)


def log_in(page: object, app_url: str, username: str, password: str) -> None:
    """Open the app and log in through the login form (a new browser context is a new, logged-out session).

    Demo accounts of the sample (analysis/demo_users.toml): the password is the user name followed by
    ``-demo`` (``p001``/``p001-demo``, ``physio_a``/``physio_a-demo``, ``researcher``, ``admin``).
    """
    page.goto(app_url)  # type: ignore[attr-defined]
    page.get_by_role("textbox", name="User name").fill(username)  # type: ignore[attr-defined]
    page.get_by_role("textbox", name="Password").fill(password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Log in").click()  # type: ignore[attr-defined]
    page.get_by_role("button", name="Log out").wait_for(timeout=60_000)  # type: ignore[attr-defined]
    wait_idle(page)
