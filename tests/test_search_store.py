"""The search index in storage: migration, triggers, kill-safety of the index stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.exceptions import StorageError
from monitor.models import SearchFilters, SearchWord
from monitor.search import index_pending, search_archive
from monitor.store import VERSION, Storage
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
        raw.execute("DROP TABLE search_queue")
        drop_feed_routes(raw)  # and what v4 -> v5 adds (#20)
        raw.execute("DROP TABLE alerts")  # v5 (issue #16)
        raw.execute("PRAGMA user_version = 3")
    with Storage(db) as storage:
        assert storage._db.execute("PRAGMA user_version").fetchone()[0] == VERSION
        assert storage.count_search_index() == (0, 5)
        assert index_pending(storage) == 5
        assert search_archive(storage, "дрон").results


def test_interrupted_index_batch_leaves_queue_for_next_run(tmp_path: Path) -> None:
    """A batch that fails before commit changes nothing; the next run indexes it."""
    with Storage(tmp_path / "m.db") as storage:
        build_archive(storage)
        storage.reset_search_index()

        class Boom(Exception):
            pass

        def fail(docs, handled):  # the process "dies" inside the write
            with storage._tx() as db:
                db.execute("DELETE FROM search_queue")
                raise Boom

        real = storage.save_search_docs
        storage.save_search_docs = fail  # type: ignore[method-assign]
        with pytest.raises(Boom):
            index_pending(storage)
        storage.save_search_docs = real  # type: ignore[method-assign]
        assert storage.count_search_index() == (0, 5)
        assert index_pending(storage) == 5
        assert storage.count_search_index() == (5, 0)


def test_read_only_storage_refuses_writes(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with Storage(db) as storage:
        build_archive(storage)
    ro = Storage.open_read_only(db)
    try:
        assert ro.search_articles(SearchWord("дрон"), SearchFilters(), limit=5)
        with pytest.raises(StorageError, match="read-only"):
            ro.reset_search_index()
    finally:
        ro.close()


def test_pipeline_index_stage_counts_and_resumes(tmp_path: Path) -> None:
    import httpx

    from monitor.config import Config
    from monitor.pipeline import Pipeline

    with Storage(tmp_path / "m.db") as storage:
        build_archive(storage)
        storage.reset_search_index()
        with Pipeline(cfg=Config(), storage=storage, client=httpx.Client()) as p:
            assert p.index_articles() == 5
            assert p.index_articles() == 0  # nothing left: the queue is empty
            assert p.summary.counts["articles_indexed"] == 5
