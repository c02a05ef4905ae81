"""Storage: schema, migrations, upserts keyed by entry and canonical URL, resumable stages."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest

from monitor.exceptions import StorageError
from monitor.models import Extracted, FeedItem, FeedSpec, TextSource
from monitor.store import Storage, _schema
from monitor.store._feeds import PollOutcome

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
FEEDS = [
    FeedSpec(
        name="a", url="https://a.example/rss", outlet="A", lang="ru", country="KZ"
    ),
    FeedSpec(
        name="b", url="https://b.example/rss", outlet="B", lang="en", country="intl"
    ),
]


def item(feed: str, entry: str, link: str, title: str = "Заголовок") -> FeedItem:
    return FeedItem(
        feed_name=feed,
        entry_id=entry,
        link=link,
        title=title,
        published=NOW - timedelta(hours=1),
        summary="Кратко.",
    )


@pytest.fixture
def storage(storage):
    """The shared store on each backend (conftest.py), with the feeds."""
    storage.sync_feeds(FEEDS)
    return storage


def test_new_database_is_wal_versioned_and_ours(tmp_path):
    with closing(Storage(tmp_path / "m.db")):
        pass
    with closing(sqlite3.connect(tmp_path / "m.db")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == _schema.VERSION
        assert (
            db.execute("PRAGMA application_id").fetchone()[0] == _schema.APPLICATION_ID
        )


def test_foreign_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE x (y)")
    with pytest.raises(StorageError, match="not created by monitor"):
        Storage(path)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "m.db"
    Storage(path).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {_schema.VERSION + 1}")
    with pytest.raises(StorageError, match="newer than this monitor"):
        Storage(path)


def test_migration_runs_in_a_transaction(tmp_path, monkeypatch):
    path = tmp_path / "m.db"
    Storage(path).close()
    monkeypatch.setattr(_schema, "VERSION", _schema.VERSION + 1)

    def broken(db):
        db.execute("ALTER TABLE feeds ADD COLUMN note TEXT")
        raise RuntimeError("boom")

    monkeypatch.setitem(_schema.MIGRATIONS, _schema.VERSION - 1, broken)
    with pytest.raises(RuntimeError):
        Storage(path)
    with closing(sqlite3.connect(path)) as db:  # rolled back: old version, no column
        assert db.execute("PRAGMA user_version").fetchone()[0] == _schema.VERSION - 1
        cols = [r[1] for r in db.execute("PRAGMA table_info(feeds)")]
        assert "note" not in cols

    monkeypatch.setitem(
        _schema.MIGRATIONS,
        _schema.VERSION - 1,
        lambda db: db.execute("ALTER TABLE feeds ADD COLUMN note TEXT"),
    )
    Storage(path).close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == _schema.VERSION
        assert "note" in [r[1] for r in db.execute("PRAGMA table_info(feeds)")]


def test_same_article_from_two_feeds_is_stored_once(storage):
    url = "https://news.example/2026/01/05/story"
    assert (
        storage.add_feed_items([(item("a", "1", url + "?utm_source=x"), url)], NOW) == 1
    )
    assert storage.add_feed_items([(item("b", "guid-9", url), url)], NOW) == 0
    assert (
        storage.add_feed_items([(item("a", "1", url + "?utm_source=x"), url)], NOW) == 0
    )
    pending = storage.get_articles_needing_extraction(10)
    assert len(pending) == 1
    article, _ = pending[0]
    assert sorted(f for f, _ in storage.get_sightings(article.id)) == ["a", "b"]


def test_changed_entry_is_reprocessed_at_most_a_few_times(storage):
    url = "https://news.example/x"
    storage.add_feed_items([(item("a", "1", url, "v0"), url)], NOW)
    ((article, _),) = storage.get_articles_needing_extraction(10)
    for n in range(1, 6):
        storage.save_extraction(article.id, _extracted(url), NOW)
        storage.add_feed_items([(item("a", "1", url, f"v{n}"), url)], NOW)
        again = storage.get_articles_needing_extraction(10)
        assert bool(again) == (n <= 3), n  # HASH_CHANGED_LIMIT


def _extracted(url: str, text: str = "Текст статьи. " * 50) -> Extracted:
    return Extracted(
        text=text,
        title="Заголовок",
        author=None,
        published=NOW,
        lang="ru",
        canonical_url=url,
        source=TextSource.PAGE,
    )


def test_extraction_merges_a_copy_found_by_its_canonical_link(storage):
    storage.add_feed_items(
        [(item("a", "1", "https://x.example/a"), "https://x.example/a")], NOW
    )
    storage.add_feed_items(
        [(item("b", "2", "https://x.example/amp/a"), "https://x.example/amp/a")], NOW
    )
    (first, _), (second, _) = storage.get_articles_needing_extraction(10)
    assert (
        storage.save_extraction(first.id, _extracted(first.canonical_url), NOW)
        == first.id
    )
    kept = storage.save_extraction(second.id, _extracted(first.canonical_url), NOW)
    assert kept == first.id
    assert storage.get_article(second.id) is None
    assert sorted(f for f, _ in storage.get_sightings(first.id)) == ["a", "b"]
    assert storage.get_articles_needing_extraction(10) == []


def test_errors_are_counted_and_the_row_stays_pending(storage):
    storage.add_feed_items(
        [(item("a", "1", "https://x.example/a"), "https://x.example/a")], NOW
    )
    ((article, _),) = storage.get_articles_needing_extraction(10)
    assert storage.record_article_error(article.id, "fetch", "HTTP 500", NOW) == 1
    assert storage.record_article_error(article.id, "fetch", "HTTP 500", NOW) == 2
    ((again, _),) = storage.get_articles_needing_extraction(10)
    assert again.last_error == "fetch: HTTP 500"


def test_feed_health_and_validators(storage):
    storage.update_feed_polled(
        "a", PollOutcome(status="ok", etag='"v1"', content_hash="h", new_items=2), NOW
    )
    storage.update_feed_polled("a", PollOutcome(status="error", error="HTTP 503"), NOW)
    storage.update_feed_polled("a", PollOutcome(status="error", error="HTTP 503"), NOW)
    state = storage.get_feed_states()["a"]
    assert (state.etag, state.failure_count, state.last_error) == (
        '"v1"',
        2,
        "HTTP 503",
    )
    assert state.last_new_item_at == NOW
    storage.update_feed_polled("a", PollOutcome(status="not_modified"), NOW)
    state = storage.get_feed_states()["a"]
    assert (state.etag, state.failure_count, state.last_error) == ('"v1"', 0, None)


def test_changed_feed_url_forgets_validators(storage):
    storage.update_feed_polled("a", PollOutcome(status="ok", etag='"v1"'), NOW)
    moved = FeedSpec(
        name="a", url="https://a.example/new", outlet="A", lang="ru", country="KZ"
    )
    storage.sync_feeds([moved])
    assert storage.get_feed_states()["a"].etag is None


def test_read_only_connection_gives_storage_error(tmp_path):
    path = tmp_path / "m.db"
    Storage(path).close()
    s = Storage(path)
    s._db.execute(
        "PRAGMA query_only = ON"
    )  # what a read-only file looks like to SQLite
    with pytest.raises(StorageError, match=r"read-only|readonly"):
        s.sync_feeds(FEEDS)
    s.close()


def test_failures_and_runs(storage):
    run = storage.start_run(NOW)
    storage.add_failure("poll", "a", "HTTP 500", NOW)
    storage.finish_run(run, {"feeds_ok": 1}, NOW)
    assert storage.get_recent_failures()[0].error == "HTTP 500"
    assert storage.get_last_run().summary == {"feeds_ok": 1}


def test_migration_v1_adds_page_fetches_and_delivery_claims(tmp_path):
    """A v1 database (0.1.0) gains both new tables (#10.6, #11.10) and keeps data."""
    path = tmp_path / "old.db"
    with Storage(path) as s:
        make_v1(s._db)
        s._db.execute("PRAGMA user_version = 1")
        s.add_failure("poll", "kz", "boom", datetime(2026, 1, 1, tzinfo=UTC))
    with Storage(path) as s:
        assert s._db.execute("PRAGMA user_version").fetchone()[0] == _schema.VERSION
        assert s.get_page_health(datetime(2026, 1, 1, tzinfo=UTC), NOW) == {}
        assert s.get_delivery_claim("2026-01-01", "a@example.org") is None
        assert s._db.execute("SELECT count(*) FROM failures").fetchone()[0] == 1


def _known(guid: str, article: int = 1, h: str = "h", n: int = 0):
    from monitor.entries import KnownEntry

    return KnownEntry(entry_id=guid, article_id=article, hash=h, updated_count=n)


def test_decide_entry_reuses_the_row_for_the_same_article():
    from monitor.entries import EntryAction, decide_entry

    new = decide_entry("g9", "h", [], None, change_limit=3)
    assert new.action is EntryAction.INSERT
    # new guid, same article: the row is renamed, the content is unchanged
    d = decide_entry("g9", "h", [_known("g1")], None, change_limit=3)
    assert (d.action, d.rename, d.row, d.prune) == (
        EntryAction.KEEP,
        True,
        _known("g1"),
        (),
    )
    # older duplicates are pruned; the most changed row is kept
    rows = [_known("g1"), _known("g2", n=2), _known("g3")]
    d = decide_entry("g9", "h2", rows, None, change_limit=3)
    assert (d.action, d.row, d.prune) == (EntryAction.UPDATE, rows[1], ("g1", "g3"))
    # the change cap still holds
    d = decide_entry("g9", "h2", [_known("g1", n=3)], None, change_limit=3)
    assert d.action is EntryAction.KEEP
    # the same guid wins over another row of the article
    d = decide_entry(
        "g1", "h", [_known("g1"), _known("g2")], _known("g1"), change_limit=3
    )
    assert (d.rename, d.prune) == (False, ("g2",))


def test_duplicate_sightings_keeps_one_row_per_feed_and_article():
    from monitor.entries import duplicate_sightings

    rows = [("a", _known("g1")), ("a", _known("g2", n=1)), ("b", _known("g3"))]
    assert duplicate_sightings(rows) == (("a", "g1"),)


def make_v1(db) -> None:
    """Turn a fresh database into what 0.1.0 (schema v1) wrote: drop every later
    object (v2 page_fetches, v3 delivery_claims, v4 the search index (v11: contentless), v5 the
    feeds' served_* columns, v6 alerts)."""
    drop_feed_routes(db)
    for trigger in ("search_queue_update", "search_forget"):
        db.execute(f"DROP TRIGGER {trigger}")
    for table in (
        "search_fts",
        "search_text",
        "search_queue",
        "delivery_claims",
        "page_fetches",
        "alerts",
    ):
        db.execute(f"DROP TABLE {table}")


FEED_ROUTE_COLUMNS = ("served_url", "served_via", "primary_failed_at")


def drop_feed_routes(db) -> None:
    """Undo `_add_feed_routes` (issue #20) on a fresh database."""
    for column in FEED_ROUTE_COLUMNS:
        db.execute(f"ALTER TABLE feeds DROP COLUMN {column}")


def test_migration_adds_feed_routes_and_keeps_feeds(tmp_path):
    """The database before `_add_feed_routes` gains served_url/served_via/
    primary_failed_at; its feeds keep their state, with nothing served yet."""
    from monitor.store._feeds import PollOutcome

    path = tmp_path / "before.db"
    with Storage(path) as s:
        s.sync_feeds(FEEDS)
        drop_feed_routes(s._db)
        s._db.execute("DROP TABLE alerts")  # what the later v5 -> v6 adds (#16)
        before = next(
            v for v, fn in _schema.MIGRATIONS.items() if fn is _schema._add_feed_routes
        )
        s._db.execute(f"PRAGMA user_version = {before}")
        s._db.execute("UPDATE feeds SET failure_count = 2")
    with Storage(path) as s:
        assert s._db.execute("PRAGMA user_version").fetchone()[0] == _schema.VERSION
        state = s.get_feed_states()[FEEDS[0].name]
        assert state.failure_count == 2
        assert (state.served_url, state.served_via, state.primary_failed_at) == (
            None,
            None,
            None,
        )
        outcome = PollOutcome(
            status="ok",
            served_url="https://m.example/rss",
            served_via="direct",
            primary_failed_at=NOW,
        )
        s.update_feed_polled(FEEDS[0].name, outcome, NOW)
        s.update_feed_polled(FEEDS[0].name, PollOutcome(status="error", error="x"), NOW)
        state = s.get_feed_states()[FEEDS[0].name]
    # an error keeps what served last
    assert state.served_url == "https://m.example/rss"
    assert state.primary_failed_at == NOW
