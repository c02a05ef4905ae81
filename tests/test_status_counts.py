"""`monitor status` counts come from counters the triggers keep (issue #19).

After a mixed run (new articles, extraction, failures, parking, translation of
every status, re-extraction, a merged duplicate, stories of one and of several
members), the counters must equal a brute-force count of the rows, on SQLite
and on PostgreSQL (the parametrised ``storage`` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
FEEDS = (
    FeedSpec(name="a", url="https://a.example/rss", outlet="A", lang="ru",
             country="KZ"),
    FeedSpec(name="b", url="https://b.example/rss", outlet="B", lang="en",
             country="intl"),
)  # fmt: skip
STATUS_COLUMNS = {
    "extract": "extract_status",
    "translate": "translation_status",
    "classify": "classify_status",
    "stories": "story_status",
}


def _brute_stage_counts(storage: Any) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for stage, column in STATUS_COLUMNS.items():
        rows = storage._query(
            f"SELECT {column} AS s, count(*) AS n FROM articles GROUP BY {column}"
        )
        out[stage] = {r["s"]: int(r["n"]) for r in rows}
    total = storage._query("SELECT count(*) AS n FROM articles")[0]["n"]
    out["articles"] = {"total": int(total)}
    return out


def _brute_story_counts(storage: Any) -> dict[str, int]:
    row = storage._query(
        """
        SELECT
          (SELECT count(*) FROM stories) AS stories,
          (SELECT count(*) FROM (SELECT story_id FROM story_members
             GROUP BY story_id HAVING count(*) > 1) AS multi)
             AS multi_member_stories,
          (SELECT count(*) FROM story_members) AS assigned_articles,
          (SELECT count(*) FROM articles WHERE story_status = 'pending')
             AS pending_articles
        """
    )[0]
    return {k: int(row[k]) for k in row.keys()}


def _add(storage: Any, feed: str, i: int, link: str | None = None) -> int:
    link = link or f"https://{feed}.example/{i}"
    item = FeedItem(feed_name=feed, entry_id=str(i), link=link, title=f"t{i}",
                    published=NOW - timedelta(hours=i))  # fmt: skip
    storage.add_feed_items([(item, link)], NOW)
    found = storage.get_article_id_by_url(link)
    assert found is not None
    return int(found)


def _extracted(url: str, k: int) -> Extracted:
    return Extracted(text=f"text {k}", title=f"t{k}", author=None, published=None,
                     lang="ru", canonical_url=url, source=TextSource.PAGE)  # fmt: skip


def _mixed_run(storage: Any) -> None:
    storage.sync_feeds(FEEDS)
    ids = [_add(storage, FEEDS[i % 2].name, i) for i in range(40)]
    statuses = list(TranslationStatus)
    for k, article_id in enumerate(ids):
        url = f"https://{FEEDS[k % 2].name}.example/{k}"
        if k % 7 == 6:
            storage.record_article_error(article_id, "extract", "timeout", NOW)
            if k % 2:
                storage.park_article(article_id, "extract", NOW)
            continue
        storage.save_extraction(article_id, _extracted(url, k), NOW)
        status = statuses[k % len(statuses)]
        if status is TranslationStatus.FAILED:
            storage.set_translation_status(article_id, status, "boom", NOW)
        elif status is not TranslationStatus.PENDING:
            storage.save_translation(
                article_id,
                Translation(src="", dst="en", title="T", text="X", engine="e",
                            status=status),
                NOW,
            )  # fmt: skip
    # re-extraction puts translation and classification back to pending
    storage.save_extraction(ids[2], _extracted("https://a.example/2", 2), NOW)
    # a second link whose page names an existing URL: merged, one row deleted
    dup = _add(storage, "b", 99, "https://a.example/0?utm=x")
    assert storage.save_extraction(dup, _extracted("https://a.example/0", 0), NOW)
    done = [a.id for a in storage.get_articles_needing_story(
        wait_for_translation=False)]  # fmt: skip
    assignments = []
    for k, article_id in enumerate(done[:20]):
        story = done[k - k % 4]  # stories of 4, the last one shorter
        relation = Relation.SEED if story == article_id else Relation.STORY
        assignments.append((Assignment(article_id=article_id, story_id=story,
                            relation=relation, score=1.0, time=NOW), b"f"))  # fmt: skip
    storage.add_story_members(assignments[:9], now=NOW)
    storage.add_story_members(assignments[7:], now=NOW)  # 7, 8 again: kept once
    lone = done[20]
    seed = Assignment(article_id=lone, story_id=lone, relation=Relation.SEED,
                      score=1.0, time=NOW)  # fmt: skip
    storage.add_story_members([(seed, b"f")], now=NOW)


def test_status_counts_equal_a_brute_force_count_after_a_mixed_run(storage):
    _mixed_run(storage)
    counts = storage.get_stage_counts()
    assert counts == _brute_stage_counts(storage)
    # the run really produced each case (the comparison is not vacuous)
    assert counts["extract"]["failed"]
    assert counts["extract"]["pending"]
    assert len(counts["translate"]) == len(TranslationStatus)
    assert counts["articles"]["total"] == 40  # 41 added, one merged away
    stories = storage.get_story_counts()
    assert stories == _brute_story_counts(storage)
    assert stories["stories"] == 6
    assert stories["multi_member_stories"] == 5


def test_an_empty_store_counts_nothing(storage):
    assert storage.get_stage_counts() == {
        "extract": {}, "translate": {}, "classify": {}, "stories": {},
        "articles": {"total": 0},
    }  # fmt: skip
    assert storage.get_story_counts() == _brute_story_counts(storage)


def test_the_migration_fills_the_counters_from_the_rows(tmp_path):
    """An archive from before the counters (v8) gets them filled once, exactly."""
    import sqlite3
    from contextlib import closing

    from monitor.store import Storage, _counts, _schema

    path = tmp_path / "m.db"
    with closing(Storage(path)) as storage:
        _mixed_run(storage)
        expected = _brute_stage_counts(storage), _brute_story_counts(storage)
    before = next(
        v for v, fn in _schema.MIGRATIONS.items() if fn is _schema._add_status_counts
    )
    with closing(sqlite3.connect(path)) as raw:
        for statement in _counts.sqlite_drops():
            raw.execute(statement)
        raw.execute(f"PRAGMA user_version = {before}")
        raw.commit()
    with closing(Storage(path)) as storage:
        got = storage.get_stage_counts(), storage.get_story_counts()
        assert got == expected
        assert got[0]["articles"]["total"] == 40
