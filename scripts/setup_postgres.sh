#!/usr/bin/env bash
# Debian's PostgreSQL server binaries for the storage tests on the PostgreSQL
# backend (issue #13).  Idempotent: does nothing when initdb is already there.
# The suite starts its own throw-away cluster (tests/pgcluster.py); nothing here
# creates or starts a cluster, and Debian's default cluster is left alone.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
   || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null
  # postgresql-common's postinst would create and start a default cluster: the
  # suite does not want one, so tell it not to.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" \
    > /etc/postgresql-common/createcluster.d/monitor-tests.conf
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
else
  echo "setup_postgres: PostgreSQL binaries missing and cannot apt-get install" \
       "(not root or not Debian); PostgreSQL tests will be skipped" >&2
fi
