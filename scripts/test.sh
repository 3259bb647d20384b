#!/usr/bin/env bash
# Second command of the README: run the test suite (sets up first if the environment is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/kb ]]; then
  bash scripts/setup.sh
fi
exec .venv/bin/python -m pytest -q "$@"
