"""Per-run queries cost what a run finds, not what the archive holds (issue #19).

A small archive is built through the write API with every status a row can be
in.  The rewritten queries must return exactly what the old ones returned (the
old SQL is kept here as the oracle), and ``EXPLAIN QUERY PLAN`` must show an
index seek, never a scan of ``articles``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.models import (
    Assignment,
    Extracted,
    FeedItem,
    FeedSpec,
    Relation,
    TextSource,
    Translation,
    TranslationStatus,
)
from monitor.store import Storage, _schema

NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
FEEDS = [
    FeedSpec(
        name="kz", url="https://kz.example/rss", outlet="KZ", lang="ru", country="KZ"
    ),
    FeedSpec(
        name="uz", url="https://uz.example/rss", outlet="UZ", lang="uz", country="UZ"
    ),
]
LANGS = ("ru", "uz", "kk", "en")
STATUSES = tuple(TranslationStatus)

# The queries as they were before issue #19: the oracles.
OLD_TRANSLATION_SQL = (
    "SELECT id, title, coalesce(text, '') AS text, lang, translation_status"
    " FROM articles WHERE extract_status = 'done' AND ("
    " translation_status = 'pending'"
    " OR (translation_status = 'failed' AND (? < 0 OR attempts < ?))"
    " OR (translation_status = 'no_model' AND lang IN ({marks})))"
    " ORDER BY translation_status != 'pending', id LIMIT ?"
)
OLD_DIGEST_SQL = (
    "SELECT a.id FROM articles a JOIN feeds f ON f.name = a.feed_name"
    " LEFT JOIN story_members sm ON sm.article_id = a.id WHERE {where} ORDER BY a.id"
)


def build(storage: Storage, n: int) -> None:
    """n articles over 40 days: extraction done for 5 in 6, every translation
    status, failed rows with 1-4 attempts, published dates missing, early, late."""
    storage.sync_feeds(FEEDS)
    for i in range(n):
        seen = NOW - timedelta(hours=i * 7 % (40 * 24))
        published = None if i % 5 == 0 else seen - timedelta(hours=(i * 13) % 60 - 12)
        feed = FEEDS[i % 2].name
        link = f"https://{feed}.example/{i}"
        item = FeedItem(
            feed_name=feed,
            entry_id=str(i),
            link=link,
            title=f"t{i}",
            published=published,
        )
        storage.add_feed_items([(item, link)], seen)
    pending = storage.get_articles_needing_extraction(n)
    waiting = [article for k, (article, _) in enumerate(pending) if k % 6 == 5]
    done = [article for article, _ in pending if article not in waiting]
    for k, article in enumerate(done):  # the others still wait for their page
        ex = Extracted(
            text=f"text {k}", title=article.title, author=None, published=None,
            lang=LANGS[k % 4], canonical_url=article.url, source=TextSource.PAGE,
        )  # fmt: skip
        storage.save_extraction(article.id, ex, NOW)
        _translate(storage, article.id, STATUSES[(k * 5) % len(STATUSES)], k)
    _stories(storage, [a.id for a in done])


def _stories(storage: Storage, ids: list[int]) -> None:
    """Stories of three members, then seeds alone, for the first two thirds."""
    items = []
    for k, article_id in enumerate(ids[: len(ids) * 2 // 3]):
        story = ids[k - k % 3] if k < len(ids) // 3 else article_id
        relation = Relation.SEED if story == article_id else Relation.STORY
        assignment = Assignment(article_id=article_id, story_id=story,
                                relation=relation, score=1.0, time=NOW)  # fmt: skip
        items.append((assignment, b"f"))
    storage.add_story_members(items, now=NOW)


def _translate(storage: Storage, article_id: int, status: TranslationStatus, k: int):
    if status is TranslationStatus.PENDING:
        return
    if status is TranslationStatus.FAILED:
        for _ in range(1 + k % 4):
            storage.record_article_error(article_id, "translate", "boom", NOW)
        storage.set_translation_status(article_id, status, "boom", NOW)
        return
    storage.save_translation(
        article_id,
        Translation(src="", dst="en", title="T", text="X", engine="e", status=status),
        NOW,
    )


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Iterator[Storage]:
    path = tmp_path_factory.mktemp("scaling") / "m.db"
    with closing(Storage(path)) as storage:
        build(storage, 600)
    with closing(Storage(path)) as storage:  # the close above ran ANALYZE
        yield storage


def test_archive_has_every_case(archive):
    """The data the comparisons run on really has each case (not a vacuous test)."""
    counts = archive.get_stage_counts()
    assert set(counts["translate"]) == {s.value for s in STATUSES}
    assert counts["extract"]["pending"] > 50
    for status in ("pending", "failed", "no_model"):
        assert counts["translate"][status] > 20


@pytest.mark.parametrize(
    ("covered", "limit", "max_attempts"),
    [
        ({"ru", "uz"}, 1000, 3),
        ({"uz", "kk"}, 1000, None),
        (set(), 1000, 2),
        ({"kk"}, 40, 3),  # pending alone fills the limit
        ({"uz", "kk"}, 130, None),  # the limit falls among the retries
        ({"ru", "uz", "kk", "en"}, 1, 1),
    ],
)
def test_translation_queue_matches_the_old_query(archive, covered, limit, max_attempts):
    langs = sorted(covered)
    cap = -1 if max_attempts is None else max_attempts
    sql = OLD_TRANSLATION_SQL.format(marks=",".join("?" * len(langs)) or "NULL")
    expected = [
        (r["id"], r["translation_status"])
        for r in archive._db.execute(sql, (cap, cap, *langs, limit))
    ]
    got = archive.get_articles_for_translation(
        covered, limit, max_attempts=max_attempts
    )
    assert [(t.article_id, t.status.value) for t in got] == expected
    assert 0 < len(expected) <= limit


@pytest.mark.parametrize("by", ["time", "first_seen"])
@pytest.mark.parametrize("days", [(0, 1), (3, 4), (10, 12), (39, 41), (60, 61)])
def test_digest_window_matches_the_old_query(archive, by, days):
    end = NOW - timedelta(days=days[0])
    start = NOW - timedelta(days=days[1])
    where = "a.first_seen >= :start AND a.first_seen < :end"
    if by == "time":
        where = f"({where}) OR (a.published >= :start AND a.published < :end)"
    params = {"start": start.isoformat(), "end": end.isoformat()}
    expected = [
        r[0] for r in archive._db.execute(OLD_DIGEST_SQL.format(where=where), params)
    ]
    got = archive.get_articles_for_digest(start, end, by=by)
    assert [a.id for a in got] == expected
    if days[0] < 40:
        assert expected  # the window holds articles
    if by == "time" and 0 < days[0] < 40:
        # the published arm alone finds some: first seen outside the window
        assert any(not start <= a.first_seen < end for a in got)


# ------------------------------------------------------------------ query plans


def plans(storage: Storage, call: Callable[[], Any]) -> list[tuple[str, list[str]]]:
    """Every SELECT or DELETE `call` runs, with its ``EXPLAIN QUERY PLAN`` lines."""
    statements: list[str] = []
    storage._db.set_trace_callback(statements.append)
    try:
        call()
    finally:
        storage._db.set_trace_callback(None)
    out = []
    for sql in statements:
        if sql.lstrip().upper().startswith(("SELECT", "DELETE")):
            rows = storage._db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
            out.append((sql, [str(r[3]) for r in rows]))
    assert out, "the call ran no query"
    return out


def assert_no_archive_scan(found: list[tuple[str, list[str]]]) -> None:
    for sql, lines in found:
        for line in lines:
            table = line.split()[1] if line.startswith(("SCAN", "SEARCH")) else ""
            if table in {"a", "articles"}:
                assert line.startswith("SEARCH"), (line, sql)


def test_translation_queue_seeks_an_index(archive):
    found = plans(
        archive,
        lambda: archive.get_articles_for_translation({"uz"}, 1000, max_attempts=3),
    )
    assert len(found) == 2  # pending, then the retries
    assert_no_archive_scan(found)
    text = "\n".join(line for _, lines in found for line in lines)
    assert text.count("articles_translate_queue") == 2  # pending, failed
    assert "articles_translate_lang (translation_status=? AND lang=?" in text


def test_digest_window_seeks_an_index(archive):
    day = NOW - timedelta(days=3)
    for by in ("time", "first_seen"):
        found = plans(
            archive,
            lambda by=by: archive.get_articles_for_digest(
                day, day + timedelta(days=1), by=by
            ),
        )
        assert_no_archive_scan(found)
        text = "\n".join(lines[i] for _, lines in found for i in range(len(lines)))
        assert "articles_first_seen" in text
        assert ("articles_published" in text) == (by == "time")


def test_prune_candidates_seek_the_unpruned_index(archive):
    """The run-end prune (issue #19, `[store] keep_days`) reads an index range of
    the articles not pruned yet, whatever the archive holds."""
    found = plans(
        archive,
        lambda: archive.get_prune_candidates(NOW - timedelta(days=30), limit=200),
    )
    assert_no_archive_scan(found)
    assert "USING INDEX articles_unpruned" in "\n".join(found[0][1])


STORY_TABLES = {"stories", "story_members", "story_features", "m", "f", "s"}


def test_status_reads_counters_not_the_archive(archive, tmp_path):
    """Every query `monitor status` runs, on an archive with stories: none
    scans articles or a story table, none seeks a status index of articles
    (the counters of monitor/store/_counts.py answer instead), and the numbers
    are the rows' own."""
    from monitor.config import load_config
    from monitor.status import build_status

    (tmp_path / "monitor.toml").write_text(
        '[translate]\nbackend = "none"\n', encoding="utf-8"
    )
    (tmp_path / "feeds.toml").write_text(
        "".join(
            f'[[feed]]\nname = "{f.name}"\nurl = "{f.url}"\noutlet = "{f.outlet}"\n'
            f'lang = "{f.lang}"\n'
            f'country = "{f.country}"\n\n'
            for f in FEEDS
        ),
        encoding="utf-8",
    )
    (tmp_path / "topics.toml").write_text("", encoding="utf-8")
    cfg = load_config(tmp_path, env={})
    found = plans(archive, lambda: build_status(archive, cfg, NOW))
    assert_no_archive_scan(found)
    for sql, lines in found:
        for line in lines:
            words = line.split()
            if words[0] in ("SCAN", "SEARCH"):
                assert words[1] not in STORY_TABLES, (line, sql)
                assert words[1] not in {"a", "articles"}, (line, sql)
    report = build_status(archive, cfg, NOW)
    stage_sql = "SELECT {c}, count(*) FROM articles GROUP BY {c}"
    for stage, column in (("extract", "extract_status"), ("stories", "story_status")):
        rows = archive._db.execute(stage_sql.format(c=column)).fetchall()
        assert report["stages"][stage] == dict(rows)
    assert (
        report["stories"]["stories"]
        == archive._db.execute("SELECT count(*) FROM stories").fetchone()[0]
    )
    assert report["stories"]["stories"] > 10


def test_the_plan_check_catches_a_scan(archive):
    """The assertion used above does fail on a query that reads the archive."""
    where = "a.title LIKE '%t1%' OR a.updated_at >= '2026'"
    found = plans(
        archive,
        lambda: archive._db.execute(OLD_DIGEST_SQL.format(where=where)).fetchall(),
    )
    with pytest.raises(AssertionError):
        assert_no_archive_scan(found)


def test_closing_a_database_gathers_statistics(archive):
    rows = archive._db.execute("SELECT tbl FROM sqlite_stat1").fetchall()
    assert "articles" in {r[0] for r in rows}


# ------------------------------------------------------------------ migration


def make_v4(db: sqlite3.Connection) -> None:
    """Turn a current database into what schema v4 had: one translation index,
    none on first_seen, no statistics."""
    db.execute("DROP INDEX articles_translate_queue")
    db.execute("DROP INDEX articles_translate_lang")
    db.execute("DROP INDEX translation_cache_created")
    db.execute("DROP INDEX articles_first_seen")
    db.execute("CREATE INDEX articles_translation ON articles(translation_status)")
    db.execute("DROP TABLE IF EXISTS sqlite_stat1")
    # and what v8 (pruning, #19) added: the migrations from v6 on run again
    db.execute("DROP INDEX articles_unpruned")
    db.execute("ALTER TABLE articles DROP COLUMN pruned_at")
    before = next(
        v for v, fn in _schema.MIGRATIONS.items() if fn is _schema._index_hot_queries
    )  # the version before this migration, not VERSION - 1
    db.execute(f"PRAGMA user_version = {before}")


def test_migration_indexes_hot_queries_and_keeps_results(tmp_path):
    path = tmp_path / "v4.db"
    with closing(Storage(path)) as storage:
        build(storage, 120)
        before = storage.get_articles_for_translation({"uz"}, 500, max_attempts=3)
        window = storage.get_articles_for_digest(NOW - timedelta(days=2), NOW)
        storage._writable = False  # keep the v4 file without statistics
    with closing(sqlite3.connect(path)) as raw:
        make_v4(raw)
        raw.commit()
    with closing(sqlite3.connect(path)) as raw:
        names = {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
        assert "articles_translation" in names
        assert "sqlite_stat1" not in names
    with closing(Storage(path)) as storage:
        db = storage._db
        assert db.execute("PRAGMA user_version").fetchone()[0] == _schema.VERSION
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert {
            "articles_translate_queue",
            "articles_translate_lang",
            "articles_first_seen",
            "translation_cache_created",
        } <= names
        assert "articles_translation" not in names
        stats = {r[0] for r in db.execute("SELECT tbl FROM sqlite_stat1")}
        assert "articles" in stats
        after = storage.get_articles_for_translation({"uz"}, 500, max_attempts=3)
        assert after
        assert after == before
        assert storage.get_articles_for_digest(NOW - timedelta(days=2), NOW) == window


# ------------------------------------------------------------------ translation cache


def test_cache_pruning_drops_the_oldest_first_in_bounded_steps(tmp_path):
    from monitor.translate import cache_prune_before

    with closing(Storage(tmp_path / "c.db")) as storage:
        for day in range(10):  # 3 sentences cached on each of 10 days
            at = NOW - timedelta(days=day)
            items = {f"k{day}-{i}": f"out {day}" for i in range(3)}
            storage.add_cached_translations("m", items, at)
        before = cache_prune_before(NOW, 7)
        assert before == NOW - timedelta(days=7)
        found = plans(storage, lambda: storage.prune_translation_cache(before, limit=4))
        assert "translation_cache_created (created_at<?)" in "\n".join(found[0][1])
        # days 8 and 9 are older than 7 days (6 rows): the call above dropped
        # 4 of them, the oldest first (all of day 9)
        assert storage.count_cached_translations() == 26
        assert storage.get_cached_translations("m", ["k9-0", "k9-1", "k9-2"]) == {}
        assert storage.prune_translation_cache(before, limit=100) == 2
        assert storage.prune_translation_cache(before, limit=100) == 0
        kept = storage.get_cached_translations("m", ["k7-0", "k0-0"])
        assert kept == {"k7-0": "out 7", "k0-0": "out 0"}
    assert cache_prune_before(NOW, 0) is None
