#!/usr/bin/env bash
# Create ./.venv and install rehabtrack into it.
#   scripts/setup.sh        runtime only (what the dashboard needs)
#   scripts/setup.sh dev    plus the test tools (pytest, hypothesis, ruff, playwright)
# Needs only Python >= 3.11 and pip; on Debian without the venv module it installs python3-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
"$PYTHON" - <<'PY' || { echo "rehabtrack needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1))." >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      echo "Installing Debian's python3-venv (the venv module is missing)..."
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      "$PYTHON" -m venv .venv
    else
      echo "Python's venv module is missing: install it (Debian/Ubuntu: sudo apt-get install python3-venv) and re-run." >&2
      exit 1
    fi
  fi
fi

req=requirements.txt
[ "${1:-}" = "dev" ] && req=requirements-dev.txt
# Skip the install when nothing changed since the last one.
stamp=".venv/.installed-$(cat "$req" requirements.txt pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi
