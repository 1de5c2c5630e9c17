#!/usr/bin/env bash
# One command: set up (first run only) and run every check: ruff, mypy, the unit and property tests,
# the docstring examples of analysis/ (doctests), the Streamlit AppTests and the end-to-end tests in a
# real headless Chromium.
#   ./test.sh              everything
#   ./test.sh -k ingest    extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh dev

# The browser tests drive Debian's Chromium (Playwright cannot download its own browser here);
# the fonts make screenshots show text and the caseload's traffic-light symbols.
browser_pkgs="chromium fonts-dejavu-core fonts-noto-color-emoji"
missing=$(for p in $browser_pkgs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "Installing Debian packages for the end-to-end tests:" $missing
  apt-get update -qq && apt-get install -y -qq $missing >/dev/null
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "The end-to-end tests need Chromium at /usr/bin/chromium: sudo apt-get install $browser_pkgs" >&2
  exit 1
fi

.venv/bin/ruff check analysis dashboards tests benchmarks
# types of the library (strict; [tool.mypy] in pyproject.toml lists the exceptions)
.venv/bin/mypy
# The store tests also run against a throw-away PostgreSQL on 127.0.0.1 (Debian's postgresql,
# installed by the script if missing); REHABTRACK_TEST_POSTGRES_URL tells the tests where it is.
if pg_url=$(scripts/postgres-for-tests.sh start); then
  export REHABTRACK_TEST_POSTGRES_URL="$pg_url"
  trap 'scripts/postgres-for-tests.sh stop "$pg_url"' EXIT
elif [ "${CI:-}" = true ]; then
  echo "PostgreSQL for the store tests could not be started" >&2
  exit 1
fi
.venv/bin/python -m pytest "$@"   # not exec: the trap stops the cluster afterwards
