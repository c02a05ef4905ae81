#!/usr/bin/env bash
# Create .venv and install monitor with its test tools.  Idempotent; safe to re-run.
# Usage: scripts/setup.sh            (runtime + test + dev tools)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.monitor-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch first, pinned, so that stanza's dependency on it is already satisfied
  .venv/bin/python -m pip install --quiet -c constraints.txt torch
  .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[test,dev]'
  echo "$want" > "$stamp"
fi
