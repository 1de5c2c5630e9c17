"""Run one hostile input in a fresh process and report its outcome, time and peak memory growth.

``python -m tests.hostile_runner KIND FILE`` imports everything the path needs,
opens a store in ``REHABTRACK_DATA_DIR``, notes the peak resident memory so far
(``ru_maxrss``), then feeds FILE to one entry point and prints one JSON line:

``{"outcome": "refused" | "accepted" | "crashed", "message": ..., "seconds": ..., "peak_growth_mb": ...}``

KIND is the entry point:

``library``
    :func:`analysis.ingest.ingest_file` on the path (a notebook, a script).
``preview``
    :func:`analysis.access.preview_upload` on the bytes as patient ``p001``: what the
    dashboard's upload page calls before anything is saved.
``cli-upload``, ``cli-validate``
    ``rehabtrack upload FILE --as p001`` and ``rehabtrack validate FILE``, in process.

:func:`run_case` starts such a process with a wall-clock timeout and an address-space
limit, so that a case that would exhaust the machine fails its test instead.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["CaseResult", "run_case"]


@dataclass(frozen=True)
class CaseResult:
    """What one hostile input did: outcome, message, wall-clock seconds and peak memory growth (MB)."""

    outcome: str
    message: str
    seconds: float
    peak_growth_mb: float

    def row(self, name: str) -> str:
        """A Markdown table row: input, outcome, time, peak memory growth."""
        return f"| {name} | {self.outcome}: {self.message[:90]} | {self.seconds:.2f} s | {self.peak_growth_mb:.0f} MB |"


def run_case(kind: str, path: Path, env: dict[str, str], *, timeout_s: float = 60.0,
             address_space_gb: float = 4.0) -> CaseResult:
    """Run one case in a fresh interpreter (see the module docstring).

    Parameters
    ----------
    kind
        ``library``, ``preview``, ``cli-upload`` or ``cli-validate``.
    path
        The hostile file.
    env
        Extra environment (``REHABTRACK_DATA_DIR``, limits).
    timeout_s
        Wall-clock limit of the child; past it the case is ``"timed out"``.
    address_space_gb
        ``RLIMIT_AS`` of the child, so that a runaway read fails instead of swapping the machine.
    """
    def limit() -> None:  # pragma: no cover - runs in the child
        cap = int(address_space_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    full_env = dict(os.environ, **env, PYTHONPATH=str(ROOT))
    began = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "tests.hostile_runner", kind, str(path)], cwd=ROOT,
                              env=full_env, capture_output=True, text=True, timeout=timeout_s, preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return CaseResult("timed out", f"still running after {timeout_s:.0f} s", time.monotonic() - began, float("nan"))
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return CaseResult("crashed", f"exit {done.returncode}: {tail}", time.monotonic() - began, float("nan"))
    found = json.loads(lines[-1])
    return CaseResult(found["outcome"], found["message"], found["seconds"], found["peak_growth_mb"])


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _main(kind: str, file: Path) -> dict[str, object]:  # pragma: no cover - runs in the child
    import io
    from contextlib import redirect_stderr, redirect_stdout

    import openpyxl  # noqa: F401 - imported before the baseline, as in a running server
    import typer

    from analysis.access import preview_upload
    from analysis.accounts import load_users
    from analysis.cli import app
    from analysis.errors import RehabtrackError
    from analysis.ingest import ingest_file
    from analysis.store import Store

    store = Store.open(None)
    user = load_users()["p001"][0]
    baseline = _peak_mb()
    began = time.perf_counter()
    outcome, message = "accepted", ""
    out, err = io.StringIO(), io.StringIO()
    try:
        if kind == "library":
            result = ingest_file(file)
            message = f"{result.n_accepted} rows accepted, {result.n_rejected} rejected"
        elif kind == "preview":
            result = preview_upload(user, store, file.read_bytes(), file.name)
            message = f"{result.n_accepted} rows accepted, {result.n_rejected} rejected"
        else:
            command = ["upload", str(file), "--as", "p001"] if kind == "cli-upload" else ["validate", str(file)]
            with redirect_stdout(out), redirect_stderr(err):
                try:
                    code = app(command, standalone_mode=False) or 0
                except typer.Exit as exc:
                    code = exc.exit_code
            text = (err.getvalue() or out.getvalue()).strip().replace("\n", " ")
            outcome = "refused" if code == 2 else "accepted"
            message = f"exit {code}: {text}"
    except RehabtrackError as exc:
        outcome, message = "refused", str(exc)
    except MemoryError:
        outcome, message = "crashed", "MemoryError reached the caller"
    seconds = time.perf_counter() - began
    store.close()
    return {"outcome": outcome, "message": message, "seconds": round(seconds, 3),
            "peak_growth_mb": round(max(_peak_mb() - baseline, 0.0), 1)}


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(_main(sys.argv[1], Path(sys.argv[2]))))
