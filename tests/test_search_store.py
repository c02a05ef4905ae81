"""The search index in storage: migration, triggers, kill-safety of the index stage,
and where the two backends' index verdicts differ (before the Python re-check).

Tests taking ``storage`` run on SQLite and on PostgreSQL (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.exceptions import StorageError
from monitor.models import SearchFilters, SearchWord
from monitor.search import compile_search, index_pending, search_archive
from monitor.store import VERSION, Storage
from monitor.store.pg import PgStorage
from monitor.store.pg._search import render_tsquery
from tests.searchdata import build_archive
from tests.test_store import drop_feed_routes


def test_v3_database_migrates_and_queues_its_articles(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with Storage(db) as storage:
        build_archive(storage)
        raw = storage._db  # make it a v3 database: no search objects
        for name in ("search_queue_update", "search_forget"):
            raw.execute(f"DROP TRIGGER {name}")
        raw.execute("DROP TABLE search_fts")
        raw.execute("DROP TABLE search_text")  # v11
        raw.execute("DROP TABLE search_queue")
        drop_feed_routes(raw)  # and what v4 -> v5 adds (#20)
        raw.execute("DROP TABLE alerts")  # v5 (issue #16)
        raw.execute("PRAGMA user_version = 3")
    with Storage(db) as storage:
        assert storage._db.execute("PRAGMA user_version").fetchone()[0] == VERSION
        assert storage.count_search_index() == (0, 5)
        assert index_pending(storage) == 5
        assert search_archive(storage, "дрон").results


def test_v9_postgresql_database_migrates_and_queues_its_articles(pg_url) -> None:
    """v9 -> v10 on PostgreSQL adds the index and queues the archive."""
    with PgStorage(pg_url) as storage:
        build_archive(storage)
        with storage._tx() as db:  # make it a v9 database: no search objects
            db.execute("DROP TABLE search_docs")
            db.execute("DROP TABLE search_queue")
            db.execute("DROP TRIGGER search_queue_update ON articles")
            db.execute("DROP FUNCTION search_enqueue()")
            db.execute("UPDATE monitor_schema SET version = 9")
    with PgStorage(pg_url) as storage:
        assert storage._query("SELECT version FROM monitor_schema")[0][0] == VERSION
        assert storage.count_search_index() == (0, 5)
        assert index_pending(storage) == 5
        assert search_archive(storage, "дрон").results


def test_interrupted_index_batch_leaves_queue_for_next_run(storage) -> None:
    """A batch that fails before commit changes nothing; the next run indexes it."""
    build_archive(storage)
    storage.reset_search_index()

    class Boom(Exception):
        pass

    def fail(docs, handled):  # the process "dies" inside the write
        with storage._tx() as db:
            db.execute("DELETE FROM search_queue")
            raise Boom

    real = storage.save_search_docs
    storage.save_search_docs = fail
    with pytest.raises(Boom):
        index_pending(storage)
    storage.save_search_docs = real
    assert storage.count_search_index() == (0, 5)
    assert index_pending(storage) == 5
    assert storage.count_search_index() == (5, 0)


def _read_only(storage):
    if isinstance(storage, PgStorage):
        return PgStorage.open_read_only(storage.url)
    return Storage.open_read_only(storage.path)


def test_read_only_storage_refuses_writes(storage) -> None:
    build_archive(storage)
    ro = _read_only(storage)
    try:
        assert ro.search_articles(SearchWord("дрон"), SearchFilters(), limit=5)
        with pytest.raises(StorageError, match="read-only"):
            ro.reset_search_index()
    finally:
        ro.close()
    assert storage.count_search_index() == (5, 0)


def test_pipeline_index_stage_counts_and_resumes(storage) -> None:
    import httpx

    from monitor.config import Config
    from monitor.pipeline import Pipeline

    build_archive(storage)
    storage.reset_search_index()
    with Pipeline(cfg=Config(), storage=storage, client=httpx.Client()) as p:
        assert p.index_articles() == 5
        assert p.index_articles() == 0  # nothing left: the queue is empty
        assert p.summary.counts["articles_indexed"] == 5


def _candidates(storage, query: str) -> set[int]:
    """The index verdict alone (no Python re-check)."""
    node = compile_search(query).node
    assert node is not None
    return {i for i, _ in storage.search_articles(node, SearchFilters(), limit=50)}


def test_index_verdicts_where_the_backends_differ(storage) -> None:
    """PostgreSQL keeps one position per word: phrases are ordered and NEAR/n
    distances exact in the index; FTS5's widened NEAR returns candidates that the
    re-check drops.  The results agree (docs/search.md, "PostgreSQL")."""
    ids = build_archive(storage)
    pg = isinstance(storage, PgStorage)
    forum, bank = ids["kulibaev-forum"], ids["kulibayev-bank"]
    assert _candidates(storage, "Кулибаев NEAR/3 энергетика") == {forum}
    # 7 words apart: FTS5's slack (words x 8 tokens) keeps it, PostgreSQL does not
    assert _candidates(storage, "Кулибаев NEAR/1 проект") == (set() if pg else {forum})
    assert _candidates(storage, '"Bank Halyk"') == (set() if pg else {bank})
    assert _candidates(storage, '"Halyk Bank"') == {bank}
    # a phrase on one side of NEAR: PostgreSQL falls back to AND (a superset)
    assert bank in _candidates(storage, '"Halyk Bank" NEAR/1 president')
    for query in ("Кулибаев NEAR/1 проект", '"Bank Halyk"',
                  '"Halyk Bank" NEAR/1 president'):  # fmt: skip
        assert search_archive(storage, query).results == ()
    assert [r.id for r in search_archive(storage, "Halyk NEAR/1 Bank").results] == [
        bank
    ]


def test_postgresql_deletes_follow_the_article(pg_url) -> None:
    """ON DELETE CASCADE: an article removed (a merge) leaves the index at once."""
    with PgStorage(pg_url) as storage:
        ids = build_archive(storage)
        storage.reset_search_index()
        with storage._tx() as db:
            db.execute("UPDATE articles SET story_id = NULL")
            db.execute("DELETE FROM story_members")
            db.execute("DELETE FROM story_features")
            db.execute("DELETE FROM stories")
            db.execute("DELETE FROM filings WHERE article_id = ?", (ids["pogoda"],))
            db.execute("DELETE FROM entries WHERE article_id = ?", (ids["pogoda"],))
            db.execute("DELETE FROM articles WHERE id = ?", (ids["pogoda"],))
        assert storage.count_search_index() == (0, 4)
        assert index_pending(storage) == 4


def test_tsquery_rendering() -> None:
    """The tsquery each query shape becomes (monitor/store/pg/_search.py)."""

    def tsq(query: str) -> str:
        node = compile_search(query).node
        assert node is not None
        return render_tsquery(node)

    assert tsq("Halyk") == "'halyk'"
    assert " <-> " in tsq('"Halyk Bank"')
    near = tsq("Halyk NEAR/2 Bank")  # distances 0..n+1, both orders
    assert near == "(" + " | ".join(
        f"{x} <{d}> {y}" for d in range(4) for x, y in (("'halyk'", "'bank'"),
                                                         ("'bank'", "'halyk'"))
    ) + ")"  # fmt: skip
    assert ":*" in tsq("инфляц*")
    assert "& !" in tsq("банк AND NOT дрон")
    near_phrase = tsq('"Halyk Bank" NEAR/1 president')
    assert near_phrase == "(('halyk' <-> 'bank') & ('presid'))"
    assert tsq("Halyk NEAR/200 Bank") == "(('halyk') & ('bank'))"  # too many: AND


def test_index_stage_survives_sigkill_on_postgresql(pg_url, tmp_path) -> None:
    """kill -9 of `monitor search --reindex` between batches: the committed batches
    stay, the rest stays queued, and the next index stage finishes the job."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from contextlib import closing
    from datetime import UTC, datetime

    from monitor.models import Extracted, FeedItem, FeedSpec, TextSource
    from tests.searchdata import write_config

    n, now = 1000, datetime(2026, 3, 14, 9, tzinfo=UTC)
    with closing(PgStorage(pg_url)) as storage:
        storage.sync_feeds([FeedSpec(name="vlast", url="https://vlast.kz/rss",
                                     outlet="Vlast", lang="ru", country="KZ")])  # fmt: skip
        urls = [f"https://vlast.kz/{i}" for i in range(n)]
        storage.add_feed_items([(FeedItem(feed_name="vlast", entry_id=u, link=u,
                                          title=f"Дроны {i}"), u)
                                for i, u in enumerate(urls)], now)  # fmt: skip
        for a, _ in storage.get_articles_needing_extraction(n):
            storage.save_extraction(a.id, Extracted(
                text=f"Над городом {a.id} заметили дронов.", title=a.title,
                author=None, published=now, lang="ru", canonical_url=a.url,
                source=TextSource.PAGE), now)  # fmt: skip
        config = write_config(tmp_path / "config", tmp_path / "unused.db", url=pg_url)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("monitor")), "search", "--reindex",
             "--config", str(config)], env=env, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                indexed, queued = storage.count_search_index()
                if indexed and queued:  # mid-way: some batches committed
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.02)
            assert proc.wait(timeout=30) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
        indexed, queued = storage.count_search_index()
        assert indexed % 200 == 0  # whole batches only
        assert 0 < indexed < n
        assert indexed + queued == n
        assert index_pending(storage) == queued
        assert storage.count_search_index() == (n, 0)
        assert len(search_archive(storage, "дрон", limit=1000).results) == n
