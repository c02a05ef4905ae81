"""The storage contract on both backends (issue #13).

Every test here runs on SQLite and on the real PostgreSQL cluster (the
parametrised ``storage`` fixture in conftest.py) and builds its data through the
write API only, so the two backends are held to the same behaviour.
"""

from __future__ import annotations

import ast
import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from monitor import mail
from monitor.exceptions import NotFoundError, StorageError
from monitor.models import (
    Assignment,
    Extracted,
    FeedItem,
    FeedSpec,
    PollOutcome,
    Relation,
    TextSource,
    TopicMatch,
    Topics,
    Translation,
    TranslationStatus,
)
from monitor.store.contract import StorageType

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
FEEDS = (
    FeedSpec(
        name="a", url="https://a.example/rss", outlet="A", lang="ru", country="KZ"
    ),
    FeedSpec(
        name="b", url="https://b.example/rss", outlet="", lang="en", country="intl"
    ),
)


def item(feed: str, entry: str, link: str, title: str = "Заголовок") -> FeedItem:
    return FeedItem(
        feed_name=feed,
        entry_id=entry,
        link=link,
        title=title,
        published=NOW - timedelta(hours=1),
        summary="Кратко.",
    )


def extracted(url: str, *, lang: str | None = "ru", text: str = "Текст.") -> Extracted:
    return Extracted(
        text=text,
        title="Заголовок",
        author=None,
        published=None,
        lang=lang,
        canonical_url=url,
        source=TextSource.PAGE,
        is_teaser=True,
    )


def add(storage: StorageType, feed: str, entry: str, url: str) -> int:
    storage.add_feed_items([(item(feed, entry, url), url)], NOW)
    found = storage.get_article_id_by_url(url)
    assert found is not None
    return found


@pytest.fixture
def store(storage):
    storage.sync_feeds(FEEDS)
    return storage


def test_feeds_round_trip_with_validators_and_health(store):
    store.update_feed_polled(
        "a", PollOutcome(status="ok", etag='"e1"', new_items=2), NOW
    )
    store.update_feed_polled("b", PollOutcome(status="error", error="boom"), NOW)
    store.update_feed_polled("b", PollOutcome(status="error", error="boom"), NOW)
    states = store.get_feed_states()
    assert list(states) == ["a", "b"]
    assert (states["a"].etag, states["a"].last_new_item_at) == ('"e1"', NOW)
    assert states["a"].failure_count == 0
    assert (states["b"].failure_count, states["b"].last_error) == (2, "boom")
    assert states["b"].outlet == "b"  # no outlet configured: the feed's name
    # not modified keeps the validators
    store.update_feed_polled("a", PollOutcome(status="not_modified"), NOW)
    assert store.get_feed_states()["a"].etag == '"e1"'


def test_same_article_from_two_feeds_is_stored_once(store):
    url = "https://news.example/1"
    assert store.add_feed_items([(item("a", "g1", url), url)], NOW) == 1
    assert store.add_feed_items([(item("b", "x9", url), url)], NOW) == 0
    article_id = store.get_article_id_by_url(url)
    assert sorted(store.get_sightings(article_id)) == [("a", url), ("b", url)]
    pending = store.get_articles_needing_extraction(10)
    assert [a.id for a, _ in pending] == [article_id]
    assert pending[0][1].summary == "Кратко."


def test_one_article_projection_everywhere(store):
    """get_article and the digest read the same row the same way (issue #13)."""
    article_id = add(store, "a", "g1", "https://news.example/1")
    single = store.get_article(article_id)
    (listed,) = store.get_articles([article_id])
    (digest,) = store.get_articles_for_digest(
        NOW - timedelta(days=1), NOW + timedelta(days=1)
    )
    assert single == listed == digest
    assert single.lang == "ru"  # nothing detected yet: the feed's language
    store.save_extraction(article_id, extracted(single.canonical_url, lang="kk"), NOW)
    assert store.get_article(article_id).lang == "kk"
    assert store.get_articles_to_classify()[0] == store.get_article(article_id)


def test_a_digest_window_without_bodies_is_the_same_rows_without_texts(store):
    """``bodies=False`` (the digest's window) leaves out exactly the texts."""
    article_id = add(store, "a", "g1", "https://news.example/1")
    store.save_extraction(article_id, extracted("https://news.example/1"), NOW)
    store.save_translation(article_id, _translation(), NOW)
    window = NOW - timedelta(days=1), NOW + timedelta(days=1)
    (full,) = store.get_articles_for_digest(*window)
    (heads,) = store.get_articles_for_digest(*window, bodies=False)
    assert all((full.text, full.text_en, full.summary))  # the control has them
    assert (heads.text, heads.text_en, heads.summary) == ("", None, "")
    assert heads == dataclasses.replace(full, text="", text_en=None, summary="")


def test_extraction_starts_translation_and_classification_again(store):
    article_id = add(store, "a", "g1", "https://news.example/1")
    store.save_extraction(article_id, extracted("https://news.example/1"), NOW)
    store.save_translation(article_id, _translation(), NOW)
    store.save_filings([(article_id, _topics())])
    counts = store.get_stage_counts()
    assert counts["translate"] == {"done": 1}
    assert counts["classify"] == {"done": 1}
    store.save_extraction(article_id, extracted("https://news.example/1"), NOW)
    counts = store.get_stage_counts()
    assert counts["translate"] == {"pending": 1}
    assert counts["classify"] == {"pending": 1}


def test_translation_files_the_article_again(store):
    article_id = add(store, "a", "g1", "https://news.example/1")
    store.save_extraction(article_id, extracted("https://news.example/1"), NOW)
    store.save_filings([(article_id, _topics())])
    (task,) = store.get_articles_for_translation({"ru"}, 10)
    assert (task.article_id, task.status) == (article_id, TranslationStatus.PENDING)
    store.save_translation(article_id, _translation(), NOW)
    a = store.get_article(article_id)
    assert (a.title_en, a.translation_status) == ("Title", TranslationStatus.DONE)
    assert store.get_stage_counts()["classify"] == {"pending": 1}
    assert store.get_articles_for_translation({"ru"}, 10) == []


def test_a_page_naming_another_articles_url_merges_into_it(store):
    first = add(store, "a", "g1", "https://news.example/1")
    second = add(store, "b", "g2", "https://news.example/1?utm=x")
    store.save_filings([(second, _topics())])
    held = store.save_extraction(second, extracted("https://news.example/1"), NOW)
    assert held == first
    assert store.get_article(second) is None
    assert sorted(f for f, _ in store.get_sightings(first)) == ["a", "b"]
    assert store.get_filings_for([second]) == {}


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.save_translation(999, _translation(), NOW),
        lambda s: s.set_translation_status(999, TranslationStatus.FAILED, "x", NOW),
        lambda s: s.save_extraction(999, extracted("https://x.example/"), NOW),
        lambda s: s.record_article_error(999, "extract", "boom", NOW),
        lambda s: s.park_article(999, "extract", NOW),
    ],
    ids=["save_translation", "set_translation_status", "save_extraction",
         "record_article_error", "park_article"],
)  # fmt: skip
def test_a_write_to_a_missing_article_raises_not_found(store, write):
    with pytest.raises(NotFoundError, match="no such article") as info:
        write(store)
    assert info.value.resource == 999
    assert not isinstance(info.value, StorageError)  # an item error, not fatal


def test_a_mistake_in_sql_keeps_its_type_and_traceback(store):
    bugs = (sqlite3.OperationalError, psycopg.errors.UndefinedColumn)
    with pytest.raises(bugs, match=r"no_such_column|no such column"):
        store._query("SELECT no_such_column FROM articles")
    with pytest.raises((sqlite3.ProgrammingError, psycopg.ProgrammingError)):
        store._query("SELECT id FROM articles WHERE id = ? AND id = ?", (1,))


def test_attempts_count_per_stage_then_park(store):
    article_id = add(store, "a", "g1", "https://news.example/1")
    assert store.record_article_error(article_id, "extract", "timeout", NOW) == 1
    assert store.record_article_error(article_id, "extract", "timeout", NOW) == 2
    assert store.record_article_error(article_id, "translate", "x", NOW) == 1
    store.park_article(article_id, "extract", NOW)
    assert store.get_articles_needing_extraction(10) == []
    assert store.get_stage_counts()["extract"] == {"failed": 1}
    assert store.get_article(article_id).last_error == "translate: x"


def test_translation_cache_round_trip(store):
    store.add_cached_translations("m1", {"k1": "one", "k2": "two"}, NOW)
    store.add_cached_translations("m1", {"k2": "TWO"}, NOW)
    assert store.get_cached_translations("m1", ["k1", "k2", "k3"]) == {
        "k1": "one",
        "k2": "TWO",
    }
    assert store.count_cached_translations() == 2
    assert store.count_cached_translations("m2") == 0


def test_filings_round_trip_and_counts(store):
    article_id = add(store, "a", "g1", "https://news.example/1")
    store.save_extraction(article_id, extracted("https://news.example/1"), NOW)
    store.save_filings([(article_id, _topics())])
    topics = store.get_filings(article_id)
    assert [(m.facet, m.label) for m in topics.labels] == [
        ("topic", "energy"),
        ("country", "KZ"),
    ]
    assert topics.labels[0].matched == ("газ",)
    assert store.get_article_ids_for_label("topic", "energy") == [article_id]
    assert store.count_filings() == {("topic", "energy"): 1, ("country", "KZ"): 1}
    assert store.get_filings_for_articles([article_id])[article_id][0].label == "KZ"


def test_stories_round_trip(store):
    ids = [
        add(store, f, g, f"https://news.example/{g}")
        for f, g in (("a", "1"), ("b", "2"))
    ]
    for i in ids:
        store.save_extraction(
            i, extracted(f"https://news.example/{i}", text="x" * i), NOW
        )
    assert [
        a.id for a in store.get_articles_needing_story(wait_for_translation=False)
    ] == ids
    assert (
        store.get_articles_needing_story(1, wait_for_translation=False)[0].id == ids[0]
    )
    seed = Assignment(
        article_id=ids[0], story_id=ids[0], relation=Relation.SEED, score=1.0, time=NOW
    )
    near = Assignment(
        article_id=ids[1], story_id=ids[0], relation=Relation.NEAR, score=0.9, time=NOW
    )
    assert store.add_story_members([(seed, b"\x00\x01"), (near, b"\xff")], now=NOW) == 1
    story = store.get_story(ids[0])
    assert [m.article_id for m in story.members] == ids
    assert story.outlets[0] == "A"
    assert story.first_published == story.last_published == NOW
    assert store.get_story_features(NOW - timedelta(days=1)) == [
        (ids[0], ids[0], b"\x00\x01"),
        (ids[1], ids[0], b"\xff"),
    ]
    assert [
        s.id
        for s in store.get_stories_for_day(
            NOW - timedelta(hours=1), NOW + timedelta(hours=1)
        )
    ] == [ids[0]]
    assert store.get_story_counts() == {
        "stories": 1,
        "multi_member_stories": 1,
        "assigned_articles": 2,
        "pending_articles": 0,
    }
    assert store.get_article(ids[1]).story_id == ids[0]
    assert [a.id for a in store.get_story_articles([ids[0]])] == ids
    assert store.get_story_outlets([ids[0]]) == {ids[0]: {"A": 1, "b": 1}}  # fmt: skip


def test_runs_failures_and_page_health(store):
    run_id = store.start_run(NOW)
    assert store.start_run(NOW) == run_id + 1
    store.finish_run(run_id + 1, {"feeds_ok": 2}, NOW)
    last = store.get_last_run()
    assert (last.id, last.summary) == (run_id + 1, {"feeds_ok": 2})
    for _ in range(3):
        store.add_failure("fetch", "https://x.example/", "HTTP 500", NOW)
    store.add_failure("poll", "a", "bad xml", NOW)
    failures = store.get_recent_failures()
    assert [(f.stage, f.count) for f in failures] == [("poll", 1), ("fetch", 3)]
    store.add_page_fetch("a", ok=True, now=NOW)
    store.add_page_fetch("a", ok=False, now=NOW)
    health = store.get_page_health(NOW - timedelta(hours=1), NOW)
    assert (health["a"].attempted, health["a"].failed) == (2, 1)


def test_digests_and_deliveries(store):
    store.add_digest("2026-01-05", generated_at=NOW, content_hash="h1", path="d/x.html")
    store.add_digest("since:2026-01-05T00:00", generated_at=NOW + timedelta(hours=1),
                     content_hash="h2", path="d/y.html")  # fmt: skip
    assert store.get_last_digest(daily=True).content_hash == "h1"
    assert store.get_last_digest().content_hash == "h2"
    assert store.get_last_digest_day() == "2026-01-05"
    assert list(store.get_daily_digest_times()) == [NOW.date()]

    def decide(claim, delivered):
        return mail.decide_claim(claim, delivered=delivered, now=NOW)

    assert (
        store.claim_delivery("2026-01-05", "Ed@X.org", now=NOW, decide=decide) == "send"
    )
    assert store.get_delivery_claim("2026-01-05", "ed@x.org").attempts == 1
    assert (
        store.claim_delivery("2026-01-05", "ed@x.org", now=NOW, decide=decide) != "send"
    )
    store.complete_delivery("2026-01-05", "ed@x.org", sent_at=NOW, message_id="<m1>")
    assert store.has_delivery("2026-01-05", "ED@x.org")
    assert store.get_delivery_claim("2026-01-05", "ed@x.org") is None
    assert store.get_deliveries("2026-01-05") == [("ed@x.org", NOW, "<m1>")]


def test_text_sorts_by_code_point_on_both_backends(store):
    """Deterministic digests: ``ORDER BY`` text is binary, whatever the locale."""
    article_id = add(store, "a", "g1", "https://news.example/1")
    labels = ["b", "B", "a", "Ä", "_"]
    store.save_filings([(article_id, Topics(labels=tuple(
        TopicMatch(facet="topic", label=x, score=1.0, rule="r", terms=(), matched=())
        for x in labels)))])  # fmt: skip
    got = [m.label for m in store.get_filings_for_articles([article_id])[article_id]]
    assert got == sorted(labels)


def test_no_module_outside_store_imports_a_storage_private_module():
    offenders = []
    for path in sorted((REPO / "monitor").rglob("*.py")):
        if "store" in path.relative_to(REPO / "monitor").parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if "store" in parts and any(
                    p.startswith("_") for p in parts[parts.index("store") + 1 :]
                ):
                    offenders.append(f"{path.relative_to(REPO)}: {node.module}")
    assert offenders == []


def _translation() -> Translation:
    return Translation(
        src="ru",
        dst="en",
        title="Title",
        text="Text.",
        engine="fake",
        status=TranslationStatus.DONE,
        flagged=1,
    )


def _topics() -> Topics:
    return Topics(
        labels=(
            TopicMatch(facet="topic", label="energy", score=2.0, rule="r",
                       terms=("газ",), matched=("газ",)),
            TopicMatch(facet="country", label="KZ", score=1.0, rule="c", terms=(), matched=()),
        )
    )  # fmt: skip


def test_alert_deliveries_round_trip(store):
    from monitor.models import AlertKey

    key = AlertKey(watch="w", story_id=7, level=1, target="mailto:ed@x.org")
    assert store.claim_alert(key, payload="{}", now=NOW, decide=lambda r: True)
    assert [r.key for r in store.get_unsent_alerts()] == [key]
    store.mark_alert_sent(key, now=NOW)
    assert [r.sent_at for r in store.get_sent_alerts()] == [NOW]
    assert store.get_sent_alerts(NOW + timedelta(hours=1)) == []
    assert store.get_sent_alerts(watch="other") == []
    assert len(store.get_alert_records([7])) == 1
    assert store.get_story_ids_grown_since(NOW) == []
    assert store.get_filing_times(NOW) == []


def test_stories_are_read_by_many_ids_on_both_backends(store):
    """More ids than either backend takes as parameters in one statement."""
    a = add(store, "a", "1", "https://news.example/1")
    store.save_extraction(a, extracted("https://news.example/1"), NOW)
    seed = Assignment(article_id=a, story_id=a, relation=Relation.SEED, score=1.0,
                      time=NOW)  # fmt: skip
    store.add_story_members([(seed, b"f")], now=NOW)
    got = store.get_stories(range(1, 70_001))
    assert list(got) == [a]
    assert [m.article_id for m in got[a].members] == [a]
