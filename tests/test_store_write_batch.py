"""`Storage.write_batch`: many write methods as one transaction (issue #19 bench)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest

from monitor.models import Extracted, FeedItem, FeedSpec, TextSource
from monitor.store import Storage

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
FEED = FeedSpec(name="a", url="https://a.example/rss", outlet="A", lang="ru",
                country="KZ")  # fmt: skip


def _item(n: int) -> tuple[FeedItem, str]:
    url = f"https://a.example/{n}"
    return FeedItem(feed_name="a", entry_id=str(n), link=url, title=f"T{n}",
                    published=NOW - timedelta(hours=1)), url  # fmt: skip


def _count(path) -> int:
    with closing(sqlite3.connect(path)) as raw:
        return int(raw.execute("SELECT count(*) FROM articles").fetchone()[0])


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "m.db"
    with closing(Storage(path)) as s:
        s.sync_feeds([FEED])
    return path


def test_writes_in_a_batch_commit_together(db):
    with closing(Storage(db)) as storage, storage.write_batch():
        storage.add_feed_items([_item(1)], NOW)
        storage.add_feed_items([_item(2)], NOW)
        (a, _), _ = storage.get_articles_needing_extraction(10)
        storage.save_extraction(a.id, Extracted(
            text="Текст. " * 80, title="T1", author=None, published=None, lang="ru",
            canonical_url=a.url, source=TextSource.PAGE), NOW)  # fmt: skip
        assert _count(db) == 0  # another connection sees nothing before the end
    assert _count(db) == 2
    with closing(Storage(db)) as storage:
        assert storage.get_stage_counts()["extract"] == {"done": 1, "pending": 1}


def test_a_failing_batch_leaves_nothing(db):
    def half_a_batch(storage: Storage) -> None:
        with storage.write_batch():
            storage.add_feed_items([_item(1)], NOW)
            raise RuntimeError("boom")

    with closing(Storage(db)) as storage:
        with pytest.raises(RuntimeError, match="boom"):
            half_a_batch(storage)
        assert _count(db) == 0
        storage.add_feed_items([_item(2)], NOW)  # writes commit on their own again
    assert _count(db) == 1


def test_write_batch_is_not_reentrant(db):
    with closing(Storage(db)) as storage, storage.write_batch():
        with pytest.raises(RuntimeError, match="not reentrant"):
            with storage.write_batch():
                pass


def test_postgresql_batch_is_one_transaction(pg_url):
    import psycopg

    from monitor.store.pg import PgStorage

    def articles() -> int:
        with psycopg.connect(pg_url) as conn:
            row = conn.execute("SELECT count(*) FROM articles").fetchone()
        return int(row[0]) if row else -1

    def half_a_batch(storage: PgStorage) -> None:
        with storage.write_batch():
            storage.add_feed_items([_item(1)], NOW)
            raise RuntimeError("boom")

    with closing(PgStorage(pg_url)) as storage:
        storage.sync_feeds([FEED])
        with pytest.raises(RuntimeError, match="boom"):
            half_a_batch(storage)
        assert articles() == 0
        with storage.write_batch():
            storage.add_feed_items([_item(2)], NOW)
            storage.add_feed_items([_item(3)], NOW)
            assert articles() == 0  # another connection sees nothing before the end
        assert articles() == 2
