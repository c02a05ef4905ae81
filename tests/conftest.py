"""Shared fixtures (STYLE.md 36).

- ``shared_dir`` / ``corpus_dir``: ../shared beside the repo (skip when absent).
- ``http_server``: a started `tests.httpserver.LocalHTTPServer` on 127.0.0.1.
- ``feed_server``: the same, also serving ../shared/corpus/feeds at ``/feeds/``.
- ``mock_http``: builds `make_client` clients on an ``httpx.MockTransport`` (unit
  layer, STYLE.md 37a); prefer ``http_server`` for anything on the wire.
- ``now``: a fixed aware UTC datetime.
- ``pg_cluster`` (session): a throw-away PostgreSQL cluster (`tests.pgcluster`);
  ``pg_url``: a fresh empty database in it, dropped afterwards.  Skipped only
  when the server binaries are absent (``scripts/test.sh`` installs them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from monitor.config import FetchConfig
from monitor.fetch import make_client
from tests.httpserver import LocalHTTPServer
from tests.pgcluster import PgCluster, running_cluster, temporary_database
from tests.smtpserver import Inbox, free_port

# MONITOR_TEST_SHARED points elsewhere (a worktree whose ../shared is not the corpus)
SHARED_DIR = Path(
    os.environ.get("MONITOR_TEST_SHARED")
    or Path(__file__).resolve().parents[1].parent / "shared"
)
FIXED_NOW = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)


@pytest.fixture
def shared_dir() -> Path:
    """../shared (corpus, test models); the test is skipped when it is absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"../shared not found: {SHARED_DIR}")
    return SHARED_DIR


@pytest.fixture
def corpus_dir(shared_dir: Path) -> Path:
    corpus = shared_dir / "corpus"
    if not corpus.is_dir():
        pytest.skip(f"../shared not found: {corpus}")
    return corpus


@pytest.fixture
def http_server() -> Iterator[LocalHTTPServer]:
    """A local HTTP server; register routes with ``add`` / ``redirect`` / ``route``."""
    with LocalHTTPServer() as server:
        yield server


@pytest.fixture
def feed_server(http_server: LocalHTTPServer, corpus_dir: Path) -> LocalHTTPServer:
    """`http_server` also serving the corpus feeds at ``/feeds/``.

    Example: ``feed_server.url("/feeds/real-world-ru/liga.net_rss_2021-08-22.xml")``.
    """
    http_server.serve_directory("/feeds/", corpus_dir / "feeds")
    return http_server


MockRoutes = Mapping[str, httpx.Response] | Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def mock_http() -> Iterator[Callable[[MockRoutes], httpx.Client]]:
    """Factory: ``mock_http({url: httpx.Response(...)})`` or ``mock_http(handler)``.

    Returns a `make_client` client whose requests never leave the process;
    unknown URLs answer 404.  Clients are closed at teardown.
    """
    clients: list[httpx.Client] = []

    def make(routes: MockRoutes) -> httpx.Client:
        if callable(routes):
            handler = routes
        else:
            table = dict(routes)

            def handler(request: httpx.Request) -> httpx.Response:
                return table.get(str(request.url), httpx.Response(404))

        client = make_client(FetchConfig(), transport=httpx.MockTransport(handler))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def now() -> datetime:
    """A fixed 'now' for pure decision functions (STYLE.md 8)."""
    return FIXED_NOW


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1: (inbox, port).  Login digest-bot/s3cret-pass."""
    inbox = Inbox()
    port = free_port()
    ctl = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,
    )
    ctl.start()
    try:
        yield inbox, port
    finally:
        ctl.stop()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One PostgreSQL cluster for the session (each xdist worker has its own)."""
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """The URL of a new, empty database on `pg_cluster`; dropped at teardown."""
    with temporary_database(pg_cluster, "monitor") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """An empty store on each backend: SQLite in a temporary file, then a fresh
    database on the session's PostgreSQL cluster (issue #13).

    Modules that define their own ``storage`` fixture keep it (SQLite only).
    """
    if request.param == "sqlite":
        from monitor.store import Storage

        store: Any = Storage(tmp_path / "m.db")
    else:
        from monitor.store.pg import PgStorage

        store = PgStorage(request.getfixturevalue("pg_url"))
    try:
        yield store
    finally:
        store.close()
