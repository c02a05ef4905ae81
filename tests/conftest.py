"""Shared fixtures (STYLE.md 36).

- ``shared_dir`` / ``corpus_dir``: ../shared beside the repo (skip when absent).
- ``http_server``: a started `tests.httpserver.LocalHTTPServer` on 127.0.0.1.
- ``feed_server``: the same, also serving ../shared/corpus/feeds at ``/feeds/``.
- ``now``: a fixed aware UTC datetime.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.httpserver import LocalHTTPServer

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
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


@pytest.fixture
def now() -> datetime:
    """A fixed 'now' for pure decision functions (STYLE.md 8)."""
    return FIXED_NOW
