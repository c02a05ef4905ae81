"""Issue #7: a full disk or a read-only database gives a clear error and no partial writes.

Ways to make storage fail, from the most portable:

- ``PRAGMA max_page_count`` on a `Storage` in process: SQLite answers
  SQLITE_FULL mid-transaction (deterministic: proves all-or-nothing writes);
- ``RLIMIT_FSIZE`` on the `monitor run` child: a write past the limit fails
  with EFBIG (CPython ignores SIGXFSZ), the way a quota does;
- a tiny tmpfs mounted under tmp_path (root only, skipped elsewhere): ENOSPC;
- a read-only bind mount of the database file (root; root ignores chmod), or
  ``chmod 0444`` when not root.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.exceptions import StorageError
from monitor.models import FeedItem, FeedSpec
from monitor.store import Storage
from tests.httpserver import LocalHTTPServer
from tests.test_hardening_site import (
    REPO,
    build_site,
    child_env,
    integrity,
    monitor_cmd,
    run_until_settled,
    snapshot,
    write_config,
)

NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
ARGS = ("--no-digest",)  # storage failures are the point here, not the digest
PER_FEED = 5


def _items(n: int) -> list[tuple[FeedItem, str]]:
    return [
        (
            FeedItem(
                feed_name="kz",
                entry_id=f"e{i}",
                link=f"https://example.kz/news/{i}",
                title=f"Заголовок {i}",
                summary="Текст новости. " * 200,
                published=NOW - timedelta(minutes=i),
            ),
            f"https://example.kz/news/{i}",
        )
        for i in range(n)
    ]


def _counts(db_path: Path) -> tuple[int, int]:
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        return (
            db.execute("SELECT count(*) FROM articles").fetchone()[0],
            db.execute("SELECT count(*) FROM entries").fetchone()[0],
        )


def test_database_full_mid_feed_stores_none_of_its_items(tmp_path):
    db_path = tmp_path / "monitor.db"
    with closing(Storage(db_path)) as storage:
        storage.sync_feeds(
            [
                FeedSpec(
                    name="kz",
                    url="https://example.kz/rss",
                    outlet="KZ",
                    lang="ru",
                    country="KZ",
                )
            ]
        )
        storage.add_feed_items(_items(2), NOW)  # a feed polled earlier
        pages = storage._db.execute("PRAGMA page_count").fetchone()[0]
        storage._db.execute(f"PRAGMA max_page_count = {pages + 3}")
        with pytest.raises(StorageError, match="disk full"):
            storage.add_feed_items(_items(40), NOW)  # the next poll: 38 new items
    assert integrity(db_path) == "ok"
    assert _counts(db_path) == (2, 2)  # all or nothing: the failed poll left no trace


def _run_limited(folder: Path, limit: int | None) -> subprocess.CompletedProcess[str]:
    """`monitor run` in a child whose files may not grow past ``limit`` bytes."""
    cmd = monitor_cmd(folder, *ARGS)
    if limit is not None:  # set in the child itself: no preexec_fn with threads
        cmd[1:1] = ["-c", LIMITED_MAIN, str(limit)]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(),
        cwd=REPO,
        check=False,
    )


LIMITED_MAIN = (
    "import resource, runpy, sys\n"
    "limit = int(sys.argv.pop(1))\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
    "sys.argv = ['monitor', *sys.argv[3:]]\n"  # drop '-c' '-m' 'monitor'
    "runpy.run_module('monitor', run_name='__main__', alter_sys=True)\n"
)


def _assert_one_clear_line(result: subprocess.CompletedProcess[str], *words: str):
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: "), result.stderr
    assert any(w in last for w in words), last


def _assert_whole_feeds(db_path: Path, feeds: int) -> None:
    """Every feed has all of its entries stored, or none (one transaction each)."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        per_feed = dict(
            db.execute("SELECT feed_name, count(*) FROM entries GROUP BY feed_name")
        )
    assert all(n == PER_FEED for n in per_feed.values()), per_feed
    assert len(per_feed) <= feeds


@pytest.fixture(scope="module")
def site():
    with LocalHTTPServer() as server:
        yield build_site(
            server, datetime.now(UTC), feeds=3, per_feed=PER_FEED, delay=0.0
        )


def _config(site, folder: Path) -> Path:
    return write_config(
        folder, site, models_dir=folder.parent / "models", max_articles=100
    )


@pytest.fixture(scope="module")
def reference(site, tmp_path_factory):
    ref = _config(site, tmp_path_factory.mktemp("ref"))
    run_until_settled(ref, args=ARGS)
    return snapshot(ref / "monitor.db")


@pytest.mark.parametrize("limit", [330_000])
def test_file_size_limit_clear_error_then_recovers(site, reference, tmp_path, limit):
    folder = _config(site, tmp_path / "full")
    result = _run_limited(folder, limit)
    _assert_one_clear_line(result, "disk", "database")
    db = folder / "monitor.db"
    assert integrity(db) == "ok"
    _assert_whole_feeds(db, 3)
    run_until_settled(folder, args=ARGS)  # the disk has room again
    assert snapshot(db) == reference


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount here: {proc.stderr.decode(errors='replace')}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_tiny_tmpfs_disk_full_clear_error_no_partial_writes(site, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount("-t", "tmpfs", "-o", "size=300k", "tmpfs", str(disk))
    try:
        folder = _config(site, disk)
        result = _run_limited(folder, None)
        _assert_one_clear_line(result, "disk full")
        saved = tmp_path / "saved"
        saved.mkdir()
        for p in disk.glob("monitor.db*"):
            (saved / p.name).write_bytes(p.read_bytes())
    finally:
        _umount(disk)
    assert integrity(saved / "monitor.db") == "ok"
    _assert_whole_feeds(saved / "monitor.db", 3)


def test_read_only_database_clear_error_nothing_written(site, reference, tmp_path):
    folder = _config(site, tmp_path / "ro")
    run_until_settled(folder, args=ARGS)
    db = folder / "monitor.db"
    before = db.read_bytes()
    if os.geteuid() == 0:
        _mount("--bind", "-o", "ro", str(db), str(db))
    else:
        db.chmod(0o444)
    try:
        result = _run_limited(folder, None)
    finally:
        if os.geteuid() == 0:
            _umount(db)
    _assert_one_clear_line(result, "read-only", "readonly")
    assert db.read_bytes() == before
    assert snapshot(db) == reference


@pytest.mark.skipif(os.geteuid() != 0, reason="a read-only mount needs root")
def test_read_only_folder_clear_error(site, tmp_path):
    folder = _config(site, tmp_path / "rofolder")
    assert _run_limited(folder, None).returncode == 0
    _mount("--bind", "-o", "ro", str(folder), str(folder))
    try:
        result = _run_limited(folder, None)
    finally:
        _umount(folder)
    # the lock file beside the database cannot be created either
    _assert_one_clear_line(result, "read-only", "Read-only", "readonly")
