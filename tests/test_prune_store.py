"""Pruning in storage (issue #19), on SQLite and PostgreSQL (conftest ``storage``).

The archive is built through the write API (tests/prunedata.py); the decision
comes from `monitor.retention`, as in the pipeline.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor import retention, translate
from monitor.store import Storage
from monitor.store._prune import _CANDIDATES
from monitor.store._schema import VERSION
from tests.prunedata import ENGINE, NOW, build, texts

BEFORE = NOW - timedelta(days=50)


@pytest.fixture
def archive(storage):
    return storage, build(storage, 40)


def prune_all(storage, before=BEFORE, limit=7):
    """The pipeline's loop, small pages: keyset paging must not skip or repeat."""
    after, seen, pruned = None, [], 0
    while page := storage.get_prune_candidates(before, after=after, limit=limit):
        after = (page[-1].first_seen, page[-1].article_id)
        seen += [c.article_id for c in page]
        chosen = [c for c in page if retention.is_prunable(c, before)]
        keys = [
            k
            for c in chosen
            for k in translate.article_cache_keys(c.translation_engine, c.title, c.text)
        ]
        pruned += storage.prune_articles([c.article_id for c in chosen], keys, NOW)[0]
    return seen, pruned


def test_candidates_are_the_old_unpruned_articles_in_order(archive):
    storage, ids = archive
    old = ids[:20]  # 40 articles over 100 days: the first 20 are 50+ days old
    assert storage.count_prune_candidates(BEFORE) == len(old)
    seen, pruned = prune_all(storage)
    assert seen == old
    assert pruned == len(old)
    assert storage.count_pruned_articles() == len(old)
    assert storage.get_prune_candidates(BEFORE) == []  # pruned ones are not read again
    assert storage.count_prune_candidates(BEFORE) == 0


def test_pruning_keeps_headline_link_filings_and_story(archive):
    storage, ids = archive
    first = ids[0]
    before_prune = storage.get_article(first)
    filings = storage.get_filings_for([first])
    story = storage.get_story(before_prune.story_id)
    prune_all(storage)
    after = storage.get_article(first)
    assert after.pruned_at == NOW
    assert (after.text, after.text_en) == ("", None)
    assert (after.title, after.title_en, after.url) == (
        before_prune.title,
        before_prune.title_en,
        before_prune.url,
    )
    assert storage.get_filings_for([first]) == filings
    assert storage.get_story(after.story_id).members == story.members
    assert storage.get_sightings(first) == [("f0", after.url)]


def test_pruning_drops_features_and_only_the_articles_cache_rows(archive):
    storage, ids = archive
    title, text, *_ = texts(0)
    old_keys = translate.article_cache_keys(ENGINE, title, text)
    title, text, *_ = texts(39)
    new_keys = translate.article_cache_keys(ENGINE, title, text)
    assert storage.count_cached_keys(old_keys) == len(old_keys) > 0
    features_before = {
        r[0] for r in storage.get_story_features(NOW - timedelta(days=999))
    }
    prune_all(storage)
    assert storage.count_cached_keys(old_keys) == 0
    assert storage.count_cached_keys(new_keys) == len(new_keys)
    features = {r[0] for r in storage.get_story_features(NOW - timedelta(days=999))}
    assert features == features_before - set(ids[:20])


def test_a_pruned_article_is_not_pruned_twice_and_rerun_is_a_no_op(archive):
    storage, ids = archive
    prune_all(storage)
    assert storage.prune_articles(ids[:3], [], NOW + timedelta(days=1)) == (0, 0)
    assert storage.get_article(ids[0]).pruned_at == NOW
    assert prune_all(storage) == ([], 0)


def test_unfinished_articles_wait(storage):
    ids = build(storage, 10)
    storage.save_extraction(ids[0], _extracted_again(storage, ids[0]), NOW)
    seen, pruned = prune_all(storage, before=NOW)
    assert ids[0] in seen
    assert pruned == 9
    assert storage.get_article(ids[0]).pruned_at is None


def test_extraction_again_makes_an_article_whole(archive):
    storage, ids = archive
    prune_all(storage)
    storage.save_extraction(ids[0], _extracted_again(storage, ids[0]), NOW)
    again = storage.get_article(ids[0])
    assert again.pruned_at is None
    assert again.text


def test_same_first_seen_across_pages_is_neither_skipped_nor_repeated(storage):
    ids = build(storage, 12, days=0)  # every article first seen at NOW
    seen, pruned = prune_all(storage, before=NOW + timedelta(seconds=1), limit=5)
    assert seen == ids
    assert pruned == 12


def _extracted_again(storage, article_id):
    from monitor.models import Extracted, TextSource

    a = storage.get_article(article_id)
    return Extracted(text="Снова текст.", title=a.title, author=None, published=None,
                     lang="ru", canonical_url=a.canonical_url, source=TextSource.PAGE)  # fmt: skip


def test_search_keeps_the_headline_of_a_pruned_article(storage):
    """The body leaves the index at once (SQLite: its columns empty; PostgreSQL:
    the tsvectors cut to the title's lexemes), the row stays; the queued rebuild
    keeps the headline too."""
    from monitor.models import SearchFilters
    from monitor.search import compile_search, index_pending

    ids = build(storage, 40)
    index_pending(storage)

    def hits(q):
        node = compile_search(q).node
        return {i for i, _ in storage.search_articles(node, SearchFilters(), limit=99)}

    assert ids[0] in hits('"Новость 0"')
    assert ids[0] in hits('"Абзац 3 статьи 0"')
    prune_all(storage)
    assert ids[0] in hits('"Новость 0"')  # the headline
    assert ids[0] not in hits('"Абзац 3 статьи 0"')  # the body is gone
    assert ids[39] in hits('"Абзац 3 статьи 39"')
    assert storage.count_search_index()[1] == 20  # queued by the trigger
    index_pending(storage)
    assert ids[0] in hits('"Новость 0"')
    assert ids[0] not in hits('"статьи 0"')
    assert storage.count_search_index() == (40, 0)


def test_migration_v7_adds_pruned_at_and_keeps_articles(tmp_path):
    """A v7 file (built by undoing v8) gets the column and the partial index."""
    import sqlite3
    from contextlib import closing

    path = tmp_path / "v7.db"
    with closing(Storage(path)) as storage:
        ids = build(storage, 10)
    with closing(sqlite3.connect(path)) as raw:
        raw.execute("DROP INDEX articles_unpruned")
        raw.execute("ALTER TABLE articles DROP COLUMN pruned_at")
        raw.execute("PRAGMA user_version = 7")
        raw.commit()
    with closing(Storage(path)) as storage:
        db = storage._db
        assert db.execute("PRAGMA user_version").fetchone()[0] == VERSION
        assert "pruned_at" in [r[1] for r in db.execute("PRAGMA table_info(articles)")]
        db.execute("ANALYZE")
        plan = db.execute(
            f"EXPLAIN QUERY PLAN {_CANDIDATES}",
            {"before": "2026", "after_seen": "", "after_id": 0, "limit": 5},
        ).fetchall()
        assert "USING INDEX articles_unpruned" in str([tuple(r) for r in plan])
        assert storage.count_prune_candidates(NOW) == 10
        assert storage.get_article(ids[0]).pruned_at is None


def test_features_only_drops_old_features_and_keeps_bodies(archive):
    storage, ids = archive
    # story time = published, an hour before first seen: one more than prune's 20
    rows, size = storage.count_story_features(BEFORE)
    assert (rows, size) == (21, 21 * 300)
    assert storage.drop_story_features(BEFORE, limit=7) == 7  # oldest first
    left = {r[0] for r in storage.get_story_features(NOW - timedelta(days=999))}
    assert left == set(ids[7:])
    while storage.drop_story_features(BEFORE, limit=7):
        pass
    assert storage.count_story_features(BEFORE) == (0, 0)
    assert len(storage.get_story_features(BEFORE)) == 19  # the newer ones stay
    assert storage.get_article(ids[0]).text  # the body stays
    assert storage.get_article(ids[0]).pruned_at is None
    story = storage.get_story(storage.get_article(ids[0]).story_id)
    assert story.members  # membership stays


def test_pipeline_prune_is_bounded_and_dry_run_writes_nothing(tmp_path):
    """`monitor run` prunes at most PRUNE_PER_RUN; the next run goes on."""
    import httpx

    from monitor.config import Config
    from monitor.pipeline import Pipeline

    with Storage(tmp_path / "m.db") as storage:
        ids = build(storage, 40)
        with Pipeline(
            cfg=Config(), storage=storage, client=httpx.Client(), now=lambda: NOW
        ) as pipeline:
            dry = pipeline.prune_archive(BEFORE, dry_run=True)
            assert (dry.articles, dry.feature_bytes) == (20, 20 * 300)
            assert dry.cache_rows == 20 * 13  # a title and 12 sentences each
            assert storage.count_pruned_articles() == 0
            first = pipeline.prune_archive(BEFORE, limit=8)
            assert first.articles == 8
            assert pruned_set(storage) == set(ids[:8])  # the oldest first
            rest = pipeline.prune_archive(BEFORE, limit=100)
            assert (rest.articles, rest.cache_rows) == (12, 12 * 13)
            assert pipeline.summary.counts["articles_pruned"] == 20


def pruned_set(storage):
    return {a.id for a in storage.get_articles(range(1, 41)) if a.pruned_at}
