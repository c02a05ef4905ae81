#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls exactly this).
# Installs everything the suite needs (idempotent), then runs pytest.
#   scripts/test.sh                 # whole suite
#   scripts/test.sh tests/test_store.py -x   # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Headless Chromium for the digest rendering tests (Debian packages).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
   && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null
fi
# Debian's PostgreSQL server for the storage tests on the PostgreSQL backend (#13);
# the suite starts (and stops) its own throw-away cluster: tests/pgcluster.py.
scripts/setup_postgres.sh
# A real LibreTranslate server in its own virtualenv, for the second translation backend.
if [ -x scripts/setup_libretranslate.sh ]; then
  scripts/setup_libretranslate.sh
fi
.venv/bin/ruff check monitor tests bench scripts
.venv/bin/ruff format --check --quiet monitor tests bench scripts
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
