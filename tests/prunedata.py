"""A synthetic archive for the retention tests (issue #19), built through the
storage write API: every stage complete, story features, cached translations.

Every sentence is unique to its article (it carries the article's number), so
the cache rows of one article are exactly `article_cache_keys` of it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from monitor import stories, translate
from monitor.classify import classify_article, compile_topics
from monitor.config import StoriesConfig
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
from tests.searchdata import TOPICS

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
ENGINE = "argos:ru-en@test"
FEEDS = tuple(
    FeedSpec(name=f"f{i}", url=f"https://f{i}.example/rss", outlet=f"Outlet {i}",
             lang="ru", country="KZ")
    for i in range(3)
)  # fmt: skip
WORDS = ("банк", "дрон", "Казахстан", "энергетика", "погода", "форум", "Алматы")


def texts(i: int) -> tuple[str, str, str, str]:
    """(title, text, title_en, text_en) of article number ``i``."""
    w = WORDS[i % len(WORDS)]
    title = f"Новость {i}: {w} и Казахстан"
    text = "\n\n".join(
        f"Абзац {p} статьи {i} про {w}. Второе предложение {p} номер {i} здесь."
        for p in range(6)
    )
    return title, text, f"News {i}: {w}", f"Paragraph of article {i} about {w}."


def build(
    storage: Any,
    n: int,
    *,
    now: datetime = NOW,
    days: int = 100,
    real_features: bool = False,
) -> list[int]:
    """``n`` articles first seen over the ``days`` before ``now``, oldest first.

    Returns:
        Their ids, in the order built (oldest first).
    """
    storage.sync_feeds(FEEDS)
    rules = compile_topics(TOPICS)
    ids: list[int] = []
    for start in range(0, n, 500):
        ids += _batch(storage, rules, range(start, min(n, start + 500)), n, now, days,
                      real_features)  # fmt: skip
    return ids


def seen_at(i: int, n: int, now: datetime, days: int) -> datetime:
    return now - timedelta(seconds=int((n - i) * days * 86400 / n))


def _batch(storage, rules, numbers: range, n, now, days, real_features) -> list[int]:
    for i in numbers:
        seen = seen_at(i, n, now, days)
        url = f"https://f{i % 3}.example/a/{i}"
        item = FeedItem(feed_name=f"f{i % 3}", entry_id=str(i), link=url,
                        title=texts(i)[0], published=seen - timedelta(hours=1))  # fmt: skip
        storage.add_feed_items([(item, url)], seen)
    pending = {a.url: a for a, _ in storage.get_articles_needing_extraction(10_000)}
    ids, members, cache = [], [], {}
    for i in numbers:
        title, text, title_en, text_en = texts(i)
        a = pending[f"https://f{i % 3}.example/a/{i}"]
        storage.save_extraction(a.id, Extracted(
            text=text, title=title, author=None, published=a.published, lang="ru",
            canonical_url=a.url, source=TextSource.PAGE), now)  # fmt: skip
        storage.save_translation(a.id, Translation(
            src="ru", dst="en", title=title_en, text=text_en, engine=ENGINE,
            status=TranslationStatus.DONE), now)  # fmt: skip
        topics = classify_article(rules, title=title, text=text, lang="ru",
                                  title_en=title_en, text_en=text_en)  # fmt: skip
        storage.save_filings([(a.id, topics)])
        for key in translate.article_cache_keys(ENGINE, title, text):
            cache[key] = f"translated {key[:8]}"
        ids.append(a.id)
        members.append((a, _features(storage, a.id, real_features)))
    storage.add_cached_translations(ENGINE, cache, now)
    items = []
    for a, blob in members:
        story = a.id - ((a.id - 1) % 2)  # pairs of articles make a story
        items.append((Assignment(
            article_id=a.id, story_id=story,
            relation=Relation.SEED if story == a.id else Relation.STORY,
            score=1.0, time=a.published or now), blob))  # fmt: skip
    storage.add_story_members(items, now=now)
    return ids


def _features(storage: Any, article_id: int, real: bool) -> bytes:
    if not real:
        return b"\x01" * 300
    article = storage.get_article(article_id)
    f = stories.compute_features(stories.candidate_from_article(article),
                                 StoriesConfig())  # fmt: skip
    return stories.features_to_bytes(f)
