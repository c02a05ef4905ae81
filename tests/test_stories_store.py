"""Stories in storage: round trip, incremental runs, representative, day listing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import StoriesConfig
from monitor.models import (
    Extracted,
    FeedItem,
    FeedSpec,
    TextSource,
    Translation,
    TranslationStatus,
)
from monitor.store import Storage
from monitor.stories import (
    Relation,
    StoryClusterer,
    candidate_from_article,
    compute_features,
    features_to_bytes,
    format_stories,
    load_known,
    window_start,
)
from tests import test_stories_data as D

DAY1 = datetime(2026, 3, 12, 6, 0, tzinfo=UTC)
CFG = StoriesConfig()
FEEDS = [
    FeedSpec(
        name="kazinform",
        url="https://kazinform.example/rss",
        outlet="Kazinform",
        lang="ru",
        country="KZ",
    ),
    FeedSpec(
        name="tengri",
        url="https://tengri.example/rss",
        outlet="Tengrinews",
        lang="ru",
        country="KZ",
    ),
    FeedSpec(
        name="vlast",
        url="https://vlast.example/rss",
        outlet="Vlast",
        lang="ru",
        country="KZ",
    ),
    FeedSpec(
        name="eurasianet",
        url="https://eurasianet.example/rss",
        outlet="Eurasianet",
        lang="en",
        country="intl",
    ),
    FeedSpec(
        name="azattyq",
        url="https://azattyq.example/rss",
        outlet="Azattyq",
        lang="ru",
        country="KZ",
    ),
]


@pytest.fixture
def storage(storage):
    """The shared store on each backend (conftest.py), with the feeds."""
    storage.sync_feeds(FEEDS)
    return storage


def add_article(
    storage: Storage,
    feed: str,
    slug: str,
    title: str,
    text: str,
    published: datetime,
    *,
    lang: str = "ru",
    teaser: bool = False,
    title_en: str | None = None,
    text_en: str | None = None,
) -> int:
    url = f"https://{feed}.example/{slug}"
    item = FeedItem(
        feed_name=feed, entry_id=slug, link=url, title=title, published=published
    )
    storage.add_feed_items([(item, url)], published)
    (article,) = [
        a for a, _ in storage.get_articles_needing_extraction(100) if a.url == url
    ]
    storage.save_extraction(
        article.id,
        Extracted(
            text=text,
            title=title,
            author=None,
            published=published,
            lang=lang,
            canonical_url=url,
            source=TextSource.FEED_SUMMARY if teaser else TextSource.PAGE,
            is_teaser=teaser,
        ),
        published,
    )
    status = TranslationStatus.NOT_NEEDED if lang == "en" else TranslationStatus.DONE
    storage.save_translation(
        article.id,
        Translation(
            src=lang,
            dst="en",
            title=title_en,
            text=text_en,
            engine="fake",
            status=status,
        ),
        published,
    )
    return article.id


def run_story_step(storage: Storage, now: datetime) -> int:
    """The pipeline step suggested to the lead (as in docs/stories.md)."""
    articles = storage.get_articles_needing_story(limit=1000)
    batch = [compute_features(candidate_from_article(a), CFG) for a in articles]
    known = load_known(storage.get_story_features(since=window_start(batch, CFG, now)))
    clusterer = StoryClusterer(CFG, known)
    blobs = {f.article_id: features_to_bytes(f) for f in batch}
    assignments = clusterer.assign_all(batch)
    return storage.add_story_members(
        [(a, blobs[a.article_id]) for a in assignments], now=now
    )


def membership(storage: Storage) -> dict[int, int]:
    rows = storage._query("SELECT article_id, story_id FROM story_members")
    return {r[0]: r[1] for r in rows}


def test_round_trip_assigns_every_article_and_lists_the_day(storage):
    wire = add_article(
        storage,
        "kazinform",
        "w1",
        D.WIRE_TITLE,
        D.WIRE,
        DAY1,
        title_en=D.WIRE_EN_TITLE,
        text_en=D.WIRE_EN,
    )
    copy = add_article(
        storage, "tengri", "w2", D.WIRE_B_TITLE, D.WIRE_B, DAY1 + timedelta(hours=1)
    )
    en = add_article(
        storage,
        "eurasianet",
        "e1",
        D.EN_REPORT_TITLE,
        D.EN_REPORT,
        DAY1 + timedelta(hours=3),
        lang="en",
    )
    protest = add_article(
        storage,
        "azattyq",
        "p1",
        D.PROTEST_ALMATY_TITLE,
        D.PROTEST_ALMATY,
        DAY1 + timedelta(hours=2),
    )

    assert run_story_step(storage, DAY1 + timedelta(hours=4)) == 2
    assert storage.get_articles_needing_story() == []
    story = storage.get_story(wire)
    assert story is not None
    assert [(m.article_id, m.relation) for m in story.members] == [
        (wire, Relation.SEED),
        (copy, Relation.NEAR),
        (en, Relation.STORY),
    ]
    assert [(m.outlet, m.lang) for m in story.members] == [
        ("Kazinform", "ru"),
        ("Tengrinews", "ru"),
        ("Eurasianet", "en"),
    ]
    assert story.members[2].url == "https://eurasianet.example/e1"
    assert story.representative_id == wire
    assert story.first_published == DAY1
    assert story.last_published == DAY1 + timedelta(hours=3)
    assert storage.get_article(en).story_id == wire

    day = storage.get_stories_for_day(DAY1, DAY1 + timedelta(days=1))
    assert [s.id for s in day] == [wire, protest]
    assert (
        storage.get_stories_for_day(DAY1 + timedelta(days=1), DAY1 + timedelta(days=2))
        == []
    )
    assert storage.get_story_counts() == {
        "stories": 2,
        "multi_member_stories": 1,
        "assigned_articles": 4,
        "pending_articles": 0,
    }


def test_story_articles_are_the_members_found_by_index(storage):
    wire = add_article(storage, "kazinform", "w1", D.WIRE_TITLE, D.WIRE, DAY1)
    copy = add_article(
        storage, "tengri", "w2", D.WIRE_B_TITLE, D.WIRE_B, DAY1 + timedelta(hours=1)
    )
    protest = add_article(
        storage,
        "azattyq",
        "p1",
        D.PROTEST_ALMATY_TITLE,
        D.PROTEST_ALMATY,
        DAY1 + timedelta(hours=2),
    )
    run_story_step(storage, DAY1 + timedelta(hours=4))
    by_story = membership(storage)
    assert by_story[copy] == by_story[wire] != by_story[protest]

    assert [a.id for a in storage.get_story_articles([by_story[wire]])] == [
        wire,
        copy,
    ]
    both = storage.get_story_articles([by_story[wire], by_story[protest], 999])
    assert [(a.id, a.story_id) for a in both] == [
        (wire, by_story[wire]),
        (copy, by_story[wire]),
        (protest, by_story[protest]),
    ]
    assert storage.get_story_articles([]) == []
    # A story page seeks the members by story: no full pass over articles.
    if not isinstance(storage, Storage):
        return  # the query plan below is SQLite's
    seen: list[str] = []
    storage._db.set_trace_callback(seen.append)
    storage.get_story_articles([wire])
    storage._db.set_trace_callback(None)
    (sql,) = [q for q in seen if q.lstrip().startswith("SELECT")]
    plan = " ".join(str(tuple(r)) for r in storage._query(f"EXPLAIN QUERY PLAN {sql}"))
    assert "story_members_story" in plan
    assert "SCAN a " not in plan + " "


def test_incremental_run_joins_yesterdays_story_and_moves_nothing(storage):
    wire = add_article(
        storage,
        "kazinform",
        "w1",
        D.WIRE_TITLE,
        D.WIRE,
        DAY1,
        title_en=D.WIRE_EN_TITLE,
        text_en=D.WIRE_EN,
    )
    add_article(
        storage,
        "azattyq",
        "p1",
        D.PROTEST_ALMATY_TITLE,
        D.PROTEST_ALMATY,
        DAY1 + timedelta(hours=2),
    )
    run_story_step(storage, DAY1 + timedelta(hours=3))
    before = membership(storage)
    story_rows = storage._query("SELECT id, created_at FROM stories ORDER BY id")

    late = add_article(
        storage,
        "eurasianet",
        "e1",
        D.EN_REPORT_TITLE,
        D.EN_REPORT,
        DAY1 + timedelta(hours=26),
        lang="en",
    )
    assert run_story_step(storage, DAY1 + timedelta(hours=27)) == 0

    after = membership(storage)
    assert after == {**before, late: wire}
    assert [
        tuple(r)
        for r in storage._query("SELECT id, created_at FROM stories ORDER BY id")
    ] == [tuple(r) for r in story_rows]


def test_rerunning_the_step_changes_nothing(storage):
    add_article(storage, "kazinform", "w1", D.WIRE_TITLE, D.WIRE, DAY1)
    add_article(storage, "tengri", "w2", D.WIRE_B_TITLE, D.WIRE_B, DAY1)
    run_story_step(storage, DAY1)
    before = membership(storage)
    assert run_story_step(storage, DAY1 + timedelta(hours=1)) == 0
    assert membership(storage) == before


def test_assigned_member_is_never_moved_by_a_conflicting_assignment(storage):
    a = add_article(storage, "kazinform", "w1", D.WIRE_TITLE, D.WIRE, DAY1)
    b = add_article(
        storage, "azattyq", "p1", D.PROTEST_ALMATY_TITLE, D.PROTEST_ALMATY, DAY1
    )
    run_story_step(storage, DAY1)
    blob = storage.get_story_features(DAY1 - timedelta(days=1))[0][2]
    from monitor.stories import Assignment

    storage.add_story_member(
        Assignment(
            article_id=b, story_id=a, relation=Relation.STORY, score=0.9, time=DAY1
        ),
        blob,
        now=DAY1,
    )
    assert membership(storage)[b] == b
    assert storage.get_article(b).story_id == b


def test_representative_is_the_earliest_full_text_article(storage):
    teaser = add_article(
        storage, "kazinform", "t", D.WIRE_TITLE, D.WIRE[:300], DAY1, teaser=True
    )
    full = add_article(
        storage, "tengri", "f", D.WIRE_TITLE, D.WIRE, DAY1 + timedelta(hours=1)
    )
    later = add_article(
        storage, "vlast", "l", D.WIRE_C_TITLE, D.WIRE_C, DAY1 + timedelta(hours=2)
    )
    run_story_step(storage, DAY1 + timedelta(hours=3))
    story = storage.get_story(teaser)
    assert story is not None
    assert {m.article_id for m in story.members} == {
        teaser,
        full,
        later,
    }
    assert story.representative_id == full


def test_articles_wait_for_translation_unless_told_not_to(storage):
    url = "https://kazinform.example/x"
    item = FeedItem(
        feed_name="kazinform", entry_id="x", link=url, title="T", published=DAY1
    )
    storage.add_feed_items([(item, url)], DAY1)
    ((article, _),) = storage.get_articles_needing_extraction(10)
    storage.save_extraction(
        article.id,
        Extracted(
            text="Текст.",
            title="T",
            author=None,
            published=DAY1,
            lang="ru",
            canonical_url=url,
            source=TextSource.PAGE,
        ),
        DAY1,
    )
    assert storage.get_articles_needing_story() == []
    waiting = storage.get_articles_needing_story(wait_for_translation=False)
    assert [a.id for a in waiting] == [article.id]


def test_format_stories_lists_members_with_outlet_language_and_url(storage):
    wire = add_article(
        storage,
        "kazinform",
        "w1",
        D.WIRE_TITLE,
        D.WIRE,
        DAY1,
        title_en=D.WIRE_EN_TITLE,
        text_en=D.WIRE_EN,
    )
    add_article(
        storage,
        "eurasianet",
        "e1",
        D.EN_REPORT_TITLE,
        D.EN_REPORT,
        DAY1 + timedelta(hours=3),
        lang="en",
    )
    run_story_step(storage, DAY1 + timedelta(hours=4))
    text = format_stories(storage.get_stories_for_day(DAY1, DAY1 + timedelta(days=1)))
    lines = text.splitlines()
    assert lines[0] == f"story {wire}: {D.WIRE_EN_TITLE}"
    assert lines[1] == "  2 article(s), 2 outlet(s) — en: Eurasianet; ru: Kazinform"
    assert lines[2].startswith("  * 03-12 06:00 Kazinform (ru) seed: Токаев")
    assert "https://eurasianet.example/e1" in text
    assert format_stories([]) == "no stories\n"
