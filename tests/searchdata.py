"""A small archive built through the storage write API, for search and web tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.classify import classify_article, compile_topics
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
from monitor.search import index_pending
from monitor.store import StorageType

NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
FEEDS = (
    FeedSpec(name="vlast", url="https://vlast.kz/rss", outlet="Vlast.kz", lang="ru",
             country="KZ"),
    FeedSpec(name="tengri", url="https://tengrinews.kz/rss", outlet="Tengrinews",
             lang="ru", country="KZ"),
    FeedSpec(name="eurasianet", url="https://eurasianet.org/rss", outlet="Eurasianet",
             lang="en", country="intl"),
)  # fmt: skip
TOPICS = {
    "topic": [
        {"id": "security", "label": "Security", "rule": [{"ru": "дрон", "en": "drone"}]},
        {"id": "business", "label": "Business", "rule": [{"any": "банк OR bank"}]},
    ],
    "country": [
        {"id": "kz", "label": "Kazakhstan", "rule": [{"any": "Казахстан OR Kazakhstan"}]},
    ],
}  # fmt: skip
# (feed, slug, title, text, lang, title_en, text_en, hours before NOW)
ARTICLES = (
    ("eurasianet", "kulibayev-bank", "Kulibayev sells stake in Halyk Bank",
     "Timur Kulibayev, the son-in-law of the former president of Kazakhstan, sold "
     "part of his stake in Halyk Bank on Monday, the bank said.", "en", None, None, 5),
    ("vlast", "drony-almaty", "Над Алматы заметили дронов",
     "Жители Алматы сообщили о десятках дронов над городом. Полиция проверяет "
     "сообщения.", "ru", "Drones spotted over Almaty",
     "Residents of Almaty reported dozens of drones over the city.", 4),
    ("tengri", "kulibaev-forum", "Кулибаев выступил на форуме",
     "Тимур Кулибаев рассказал о развитии энергетики Казахстана. Банк развития "
     "поддержал проект.", "ru", "Kulibayev spoke at the forum",
     "Timur Kulibayev spoke about the energy sector of Kazakhstan.", 3),
    ("tengri", "pogoda", "Погода в Астане: снег и ветер",
     "В столице ожидается снег, сильный ветер и гололёд. Водителей просят быть "
     "осторожными.", "ru", "Weather in Astana: snow and wind",
     "Snow, strong wind and ice are expected in the capital.", 2),
    ("vlast", "hostile",
     '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> Банк',
     "Текст про банк <script>window.__pwned=3</script> и дрон.", "ru", None, None, 1),
)  # fmt: skip


def build_archive(storage: StorageType, now: datetime = NOW) -> dict[str, int]:
    """Feeds, articles (extracted, translated, filed, in stories) and the index."""
    storage.sync_feeds(FEEDS)
    rules = compile_topics(TOPICS)
    for feed, slug, title, *_, hours in ARTICLES:
        url = f"https://{feed}.example/{slug}"
        item = FeedItem(feed_name=feed, entry_id=slug, link=url, title=title,
                        published=now - timedelta(hours=hours))  # fmt: skip
        storage.add_feed_items([(item, url)], now)
    pending = {a.url: a.id for a, _ in storage.get_articles_needing_extraction(100)}
    ids: dict[str, int] = {}
    for feed, slug, title, text, lang, title_en, text_en, hours in ARTICLES:
        url = f"https://{feed}.example/{slug}"
        article_id = ids[slug] = pending[url]
        storage.save_extraction(article_id, Extracted(
            text=text, title=title, author=None, published=now - timedelta(hours=hours),
            lang=lang, canonical_url=url, source=TextSource.PAGE), now)  # fmt: skip
        if title_en:
            storage.save_translation(article_id, Translation(
                src=lang, dst="en", title=title_en, text=text_en, engine="fake",
                status=TranslationStatus.DONE), now)  # fmt: skip
        topics = classify_article(rules, title=title, text=text, lang=lang,
                                  title_en=title_en, text_en=text_en)  # fmt: skip
        storage.save_filings([(article_id, topics)])
    _stories(storage, ids, now)
    index_pending(storage)
    return ids


def _stories(storage: StorageType, ids: dict[str, int], now: datetime) -> None:
    """One story for both Kulibayev articles; every other article on its own."""
    seed = ids["kulibayev-bank"]
    items = [(Assignment(article_id=seed, story_id=seed, relation=Relation.SEED,
                         score=1.0, time=now), b"")]  # fmt: skip
    items.append((Assignment(article_id=ids["kulibaev-forum"], story_id=seed,
                             relation=Relation.STORY, score=0.8, time=now,
                             matched_id=seed), b""))  # fmt: skip
    for slug in ("drony-almaty", "pogoda", "hostile"):
        items.append((Assignment(article_id=ids[slug], story_id=ids[slug],
                                 relation=Relation.SEED, score=1.0, time=now), b""))  # fmt: skip
    storage.add_story_members(items, now=now)


TOPICS_TOML = """
[[topic]]
id = "security"
label = "Security"
[[topic.rule]]
ru = "дрон"
en = "drone"

[[topic]]
id = "business"
label = "Business"
[[topic.rule]]
any = "банк OR bank"

[[country]]
id = "kz"
label = "Kazakhstan"
[[country.rule]]
any = "Казахстан OR Kazakhstan"
"""


def write_config(
    folder: Path, db: Path, extra: str = "", *, url: str | None = None
) -> Path:
    """A config folder (monitor.toml, feeds.toml, topics.toml) for `db`, or for
    the PostgreSQL database at `url`."""
    folder.mkdir(parents=True, exist_ok=True)
    store = f'url = "{url}"\n' if url else ""
    (folder / "monitor.toml").write_text(
        f'[store]\npath = "{db}"\n{store}[translate]\nbackend = "none"\n{extra}',
        encoding="utf-8",
    )
    feeds = "".join(
        f'[[feed]]\nname = "{f.name}"\nurl = "{f.url}"\noutlet = "{f.outlet}"\n'
        f'lang = "{f.lang}"\ncountry = "{f.country}"\n\n'
        for f in FEEDS
    )
    (folder / "feeds.toml").write_text(feeds, encoding="utf-8")
    (folder / "topics.toml").write_text(TOPICS_TOML, encoding="utf-8")
    return folder
