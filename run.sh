#!/usr/bin/env bash
# One command: set up (first run only) and open the rehabtrack dashboard on the sample cohort.
#   ./run.sh                 http://localhost:8501
#   ./run.sh --port 8600     any `rehabtrack dashboard` option
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec .venv/bin/rehabtrack dashboard "$@"
