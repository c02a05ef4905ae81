"""Filings in storage: replace, read back, re-file the archive without translating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.classify import (
    compile_topics,
    explain_article,
    explain_stored_article,
    reclassify_archive,
)
from monitor.models import (
    Extracted,
    FeedItem,
    FeedSpec,
    TextSource,
    TopicMatch,
    Topics,
    Translation,
    TranslationStatus,
)

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
FEED = FeedSpec(
    name="a", url="https://a.example/rss", outlet="A", lang="ru", country="KZ"
)
RULES = {
    "entity": [{"id": "almaty", "names": ["Алматы"], "country": "kz"}],
    "topic": [
        {"id": "unrest", "rule": [{"ru": "митинг", "en": "protest"}]},
        {"id": "energy", "rule": [{"en": "blackout"}]},
    ],
    "country": [{"id": "kz", "rule": [{"ru": "Казахстан"}]}],
}


@pytest.fixture
def storage(storage):
    """The shared store on each backend (conftest.py), with the feed."""
    storage.sync_feeds([FEED])
    return storage


def add_article(storage, n: int, text: str) -> int:
    url = f"https://a.example/{n}"
    item = FeedItem(
        feed_name="a",
        entry_id=str(n),
        link=url,
        title=f"Статья {n}",
        published=NOW - timedelta(hours=1),
    )
    storage.add_feed_items([(item, url)], NOW)
    article = next(
        a
        for a, _ in storage.get_articles_needing_extraction(100)
        if a.canonical_url == url
    )
    ex = Extracted(
        text=text,
        title=f"Статья {n}",
        author=None,
        published=NOW,
        lang="ru",
        canonical_url=url,
        source=TextSource.PAGE,
    )
    return storage.save_extraction(article.id, ex, NOW)


def test_replace_and_get_filings_round_trip(storage):
    aid = add_article(storage, 1, "Митинг в Алматы.")
    topics = Topics(
        labels=(
            TopicMatch(
                facet="topic",
                label="unrest",
                score=2.5,
                rule="crowds + place",
                terms=("митинг", "@almaty"),
                matched=("Митинг", "Алматы"),
            ),
            TopicMatch(
                facet="country",
                label="kz",
                score=1.0,
                rule="places-and-people",
                terms=("@almaty",),
                matched=("Алматы",),
            ),
        )
    )
    storage.replace_filings(aid, topics)
    assert storage.get_filings(aid) == topics
    assert storage.get_articles_to_classify(pending_only=True) == []
    storage.replace_filings(aid, Topics(labels=topics.labels[1:]))
    assert storage.get_filings(aid).labels == topics.labels[1:]
    assert storage.get_article_ids_for_label("country", "kz") == [aid]
    assert storage.count_filings() == {("country", "kz"): 1}
    assert storage.get_filings(999) == Topics()


def test_reclassify_archive_uses_stored_translations_in_batches(storage):
    ids = [add_article(storage, n, f"Митинг номер {n}.") for n in range(5)]
    calm = add_article(storage, 9, "Погода в Алматы, Казахстан.")
    tr = Translation(
        src="ru",
        dst="en",
        title="Article",
        text="A blackout hit the city.",
        engine="test",
        status=TranslationStatus.DONE,
    )
    storage.save_translation(calm, tr, NOW)
    rules = compile_topics(RULES)

    assert reclassify_archive(storage, rules, pending_only=True, batch_size=2) == 6
    assert reclassify_archive(storage, rules, pending_only=True, batch_size=2) == 0
    for aid in ids:
        assert [m.label for m in storage.get_filings(aid).labels] == ["unrest"]
    calm_labels = storage.get_filings(calm).labels
    assert [(m.facet, m.label) for m in calm_labels] == [
        ("topic", "energy"),
        ("country", "kz"),
    ]
    assert calm_labels[0].matched == ("blackout",)

    changed = compile_topics(
        {**RULES, "topic": [{"id": "weather", "rule": [{"ru": "погода"}]}]}
    )
    assert reclassify_archive(storage, changed, batch_size=4) == 6  # whole archive
    assert [m.label for m in storage.get_filings(ids[0]).labels] == []
    assert [m.label for m in storage.get_filings(calm).labels] == ["weather", "kz"]


def test_explain_shows_stored_and_current_filings(storage):
    aid = add_article(storage, 1, "Митинг в Алматы, Казахстан.")
    rules = compile_topics(RULES)
    reclassify_archive(storage, rules)
    article = storage.get_article(aid)
    out = explain_article(
        rules,
        article_id=aid,
        title=article.title,
        text=article.text,
        lang=article.lang,
        title_en=article.title_en,
        text_en=article.text_en,
        stored=storage.get_filings(aid),
    )
    assert out.splitlines()[0] == f"article {aid}: Статья 1"
    assert "  [topic] unrest (1): Митинг  [rules: rule1; terms: митинг]" in out
    assert "[country] kz (kz): score 2 / threshold 1 -> FILED" in out


def test_explain_stored_article(storage):
    aid = add_article(storage, 1, "Митинг в Алматы, Казахстан.")
    rules = compile_topics(RULES)
    assert explain_stored_article(storage, rules, 12345) is None
    out = explain_stored_article(storage, rules, aid)
    assert "stored filings: none" in out
    reclassify_archive(storage, rules)
    assert "[topic] unrest (1): Митинг" in explain_stored_article(storage, rules, aid)
