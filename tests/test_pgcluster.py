"""The suite's throw-away PostgreSQL cluster itself (issue #13)."""

from __future__ import annotations

import psycopg

from tests.pgcluster import PgCluster


def test_cluster_listens_on_loopback_with_trust_auth(pg_cluster: PgCluster):
    with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_user, inet_server_addr()::text, current_setting('port')"
        ).fetchone()
    assert row == ("postgres", "127.0.0.1/32", str(pg_cluster.port))


def test_each_test_database_starts_empty(pg_url: str):
    with psycopg.connect(pg_url) as conn:
        count = conn.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = 'public'"
        ).fetchone()
    assert count == (0,)
