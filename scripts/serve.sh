#!/usr/bin/env bash
# First command of the README: set everything up, then serve the sample corpus on 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/kb serve --host "${KB_HOST:-127.0.0.1}" --port "${KB_PORT:-8000}"
