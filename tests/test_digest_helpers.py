"""Row builders for the digest tests: feeds, articles, filings, stories.

Every row goes in through the storage write API (the `StorageType` contract,
monitor/store/contract.py), so the same builders fill SQLite and PostgreSQL
(issue #13).  The classify and stories stages are not run: the builders store
what those stages would decide (`save_filings`, `add_story_members`).
`sample_db` builds a small realistic day used by several tests and by the
golden files.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.config import Config, DigestConfig, MailConfig
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
from monitor.store import StorageType

DAY_START = datetime(2026, 3, 12, 19, 0, tzinfo=UTC)  # 2026-03-13 00:00 Almaty
GENERATED_AT = datetime(2026, 3, 14, 1, 30, tzinfo=UTC)
TOPICS = ("Energy and utilities", "Unrest and protests", "Elections")

HOSTILE_TITLE = (
    "<script>document.title='PWNED'</script>Pwn <b>bold</b> [x](javascript:alert(1))"
)
HOSTILE_TEXT = (
    "<img src=x onerror=\"document.title='PWNED'\"> Click "
    "<a href=\"javascript:document.title='PWNED'\">here</a>. "
    "*Emphasis* _under_ `code` # heading | pipe ~strike~ &amp; ![img](http://x/y.png). "
    "Third sentence <svg onload=\"document.title='PWNED'\">."
)


def add_feed(
    storage: StorageType,
    name: str,
    *,
    outlet: str = "",
    country: str = "Kazakhstan",
    lang: str = "ru",
    last_status: str | None = "ok",
    last_polled_at: datetime | None = GENERATED_AT,
    last_ok_at: datetime | None = GENERATED_AT,
    last_new_item_at: datetime | None = GENERATED_AT,
    failure_count: int = 0,
    last_error: str | None = None,
) -> None:
    """Configure a feed, then replay the polls that leave it in the given state.

    `update_feed_polled` stamps each poll with its ``now``, so the polls go in
    this order: the last one that found new items, the last good one, then
    ``failure_count`` failed ones (or a final good one) at ``last_polled_at``.
    ``last_status=None`` is a feed never polled.
    """
    url = f"https://{name}.example/rss"
    storage.sync_feeds(
        [
            FeedSpec(
                name=name, url=url, outlet=outlet or name, lang=lang, country=country
            )
        ]
    )
    if last_status is None:
        return
    polls: list[tuple[datetime, PollOutcome]] = []
    if last_new_item_at is not None and last_new_item_at != last_ok_at:
        polls.append((last_new_item_at, PollOutcome(status="ok", new_items=1)))
    if last_ok_at is not None:
        new = int(last_new_item_at == last_ok_at)
        polls.append((last_ok_at, PollOutcome(status="ok", new_items=new)))
    assert last_polled_at is not None
    if last_status == "error":
        error = PollOutcome(status="error", error=last_error)
        polls += [(last_polled_at, error)] * failure_count
    elif last_polled_at != last_ok_at:
        polls.append((last_polled_at, PollOutcome(status=last_status)))
    for when, outcome in polls:
        storage.update_feed_polled(name, outcome, when)


def add_article(
    storage: StorageType,
    *,
    feed: str,
    url: str,
    title: str,
    text: str = "",
    lang: str = "ru",
    published: datetime | None,
    first_seen: datetime | None = None,
    status: str = "done",
    title_en: str | None = None,
    text_en: str | None = None,
    note: str | None = None,
    is_teaser: bool = False,
    summary: str = "",
    canonical: str | None = None,
) -> int:
    """An article seen in `feed` at `first_seen`, extracted, translated (unless
    `status` is pending) and classified with no filings (see `add_filing`).

    Args:
        url: the feed's link; also the canonical URL unless `canonical` is given.
        first_seen: the poll's time (default: 7 minutes after `published`).
        status: the translation status; ``note`` goes with it.

    Returns:
        The article's id.
    """
    first_seen = first_seen or (
        published + timedelta(minutes=7) if published else GENERATED_AT
    )
    canonical = canonical or url
    item = FeedItem(
        feed_name=feed,
        entry_id=url,
        link=url,
        title=title,
        published=published,
        summary=summary,
    )
    storage.add_feed_items([(item, canonical)], first_seen)
    article_id = storage.get_article_id_by_url(canonical)
    assert article_id is not None
    extracted = Extracted(
        text=text,
        title=title,
        author=None,
        published=published,
        lang=lang,
        canonical_url=canonical,
        source=TextSource.PAGE,
        is_teaser=is_teaser,
    )
    storage.save_extraction(article_id, extracted, first_seen)
    if status != TranslationStatus.PENDING:
        translation = Translation(
            src=lang,
            dst="en",
            title=title_en,
            text=text_en,
            engine="",
            status=TranslationStatus(status),
            note=note,
        )
        storage.save_translation(article_id, translation, first_seen)
    storage.save_filings([(article_id, Topics())])
    return article_id


def add_sighting(
    storage: StorageType,
    article_id: int,
    feed: str,
    link: str,
    *,
    first_seen: datetime = GENERATED_AT,
) -> None:
    """One more feed entry (`feed`, `link`) pointing at the article."""
    article = storage.get_article(article_id)
    assert article is not None
    item = FeedItem(feed_name=feed, entry_id=link, link=link, title=article.title)
    storage.add_feed_items([(item, article.canonical_url)], first_seen)


def add_filing(
    storage: StorageType,
    article_id: int,
    label: str,
    *,
    rule: str = "",
    terms: tuple[str, ...] = (),
    score: float = 1.0,
    facet: str = "topic",
) -> None:
    """File the article under one more label (its other filings stay)."""
    match = TopicMatch(
        facet=facet,
        label=label,
        score=score,
        rule=rule or label,
        terms=terms,
        matched=terms,
    )
    set_filing(storage, article_id, match)


def set_filing(storage: StorageType, article_id: int, match: TopicMatch) -> None:
    """Add `match` to the article's filings, or replace its (facet, label)."""
    old = storage.get_filings_for([article_id]).get(article_id, Topics()).labels
    kept = tuple(m for m in old if (m.facet, m.label) != (match.facet, match.label))
    storage.save_filings([(article_id, Topics(labels=(*kept, match)))])


def add_story(storage: StorageType, story_id: int, members: list[int]) -> None:
    """One story: the first member is its seed, the others joined it.

    Each member's story time is its article's published time (else first seen),
    as the stories stage stores it.
    """
    items = []
    by_id = {a.id: a for a in storage.get_articles(members)}
    for i, article_id in enumerate(members):
        article = by_id[article_id]
        seed = i == 0
        assignment = Assignment(
            article_id=article_id,
            story_id=story_id,
            relation=Relation.SEED if seed else Relation.STORY,
            score=1.0,
            time=article.published or article.first_seen,
            matched_id=None if seed else members[0],
        )
        items.append((assignment, b""))
    storage.add_story_members(items, now=GENERATED_AT)


def at(hour: int, minute: int = 0) -> datetime:
    """A moment on 2026-03-13, Almaty local time (UTC+5)."""
    return DAY_START + timedelta(hours=hour, minutes=minute)


def sample_db(storage: StorageType, *, pad: int = 0) -> dict[str, int]:
    """A small realistic day: a 3-outlet story, a translated one, an untranslated
    Kazakh one, an English one, an unfiled one, a hostile one and two bad feeds.

    Args:
        pad: first add this many articles a year older (outside every digest
            window), so the day's articles and stories get other ids.
    """
    add_feed(storage, "vlast", outlet="Vlast.kz")
    add_feed(storage, "tengri", outlet="Tengrinews", country="Kazakhstan")
    add_feed(
        storage, "eurasianet", outlet="Eurasianet", country="Central Asia", lang="en"
    )
    add_feed(storage, "azattyq-kk", outlet="Azattyq (kk)", lang="kk")
    add_feed(storage, "kaktus", outlet="Kaktus.media", country="Kyrgyzstan")
    add_feed(
        storage,
        "asiaplus",
        outlet="Asia-Plus",
        country="Tajikistan",
        last_status="error",
        failure_count=4,
        last_error=json.dumps({"type": "FetchError", "message": "HTTP 503"}),
        last_ok_at=GENERATED_AT - timedelta(days=2),
    )
    add_feed(
        storage,
        "gazeta-uz",
        outlet="Gazeta.uz",
        country="Uzbekistan",
        last_new_item_at=GENERATED_AT - timedelta(days=5),
    )
    for i in range(pad):
        add_article(
            storage,
            feed="vlast",
            url=f"https://vlast.kz/archive/{i}.html",
            title=f"Archive {i}",
            published=at(-365 * 24),
        )
    ids: dict[str, int] = {}
    ids["tariff_ru"] = add_article(
        storage,
        feed="vlast",
        url="https://vlast.kz/novosti/tarify.html",
        title="В Алматы повысят тарифы на электроэнергию",
        title_en="Electricity tariffs to rise in Almaty",
        text="В Алматы повысят тарифы. Это решение антимонопольного ведомства. Третье.",
        text_en=(
            "Electricity tariffs in Almaty will rise by 12% from April. "
            "The decision was announced by the antimonopoly agency. "
            "Residents criticised the move. "
            "A fourth sentence that is not shown."
        ),
        published=at(9, 40),
    )
    ids["tariff_tengri"] = add_article(
        storage,
        feed="tengri",
        url="https://tengrinews.kz/kz/tariffs-1.html",
        title="Тарифы на свет вырастут в Алматы",
        title_en="Power tariffs will grow in Almaty",
        text_en="Power tariffs will grow. Second.",
        published=at(10, 5),
    )
    ids["tariff_en"] = add_article(
        storage,
        feed="eurasianet",
        url="https://eurasianet.org/kazakhstan-tariffs",
        title="Kazakhstan: Almaty braces for utility price hike",
        lang="en",
        status="not_needed",
        text="Almaty braces for a price hike. More follows.",
        published=at(14, 0),
    )
    add_story(
        storage,
        ids["tariff_ru"],
        [ids["tariff_ru"], ids["tariff_tengri"], ids["tariff_en"]],
    )
    for aid in (ids["tariff_ru"], ids["tariff_tengri"]):
        add_filing(
            storage,
            aid,
            "Energy and utilities",
            rule="tariffs",
            terms=("тариф*", "электроэнерги*"),
        )
    add_filing(
        storage,
        ids["tariff_en"],
        "Energy and utilities",
        rule="tariffs",
        terms=("tariff*",),
    )
    ids["rally"] = add_article(
        storage,
        feed="kaktus",
        url="https://kaktus.media/doc/rally.html",
        title="В Бишкеке прошёл митинг у Белого дома",
        title_en="A rally was held near the White House in Bishkek",
        text_en="Several hundred people gathered. Police did not intervene.",
        published=at(18, 15),
    )
    add_filing(
        storage, ids["rally"], "Unrest and protests", rule="protest", terms=("митинг*",)
    )
    add_filing(
        storage, ids["rally"], "Elections", rule="vote", terms=("выбор*",), score=0.4
    )
    ids["kk"] = add_article(
        storage,
        feed="azattyq-kk",
        url="https://azattyq.org/a/kk-story.html",
        title="Астанада жиналыс өтті",
        lang="kk",
        status="no_model",
        note="untranslated (no kk→en model)",
        text="Астанада жиналыс өтті. Екінші сөйлем.",
        published=at(7, 30),
    )
    add_filing(
        storage, ids["kk"], "Unrest and protests", rule="protest", terms=("жиналыс",)
    )
    ids["unfiled"] = add_article(
        storage,
        feed="eurasianet",
        url="https://eurasianet.org/culture",
        title="Uzbekistan: Film festival opens in Tashkent",
        lang="en",
        status="not_needed",
        text="The festival opened on Friday. Films from 20 countries are shown.",
        published=at(20, 45),
        is_teaser=True,
    )
    ids["hostile"] = add_article(
        storage,
        feed="vlast",
        url="javascript:document.title='PWNED'",
        title=HOSTILE_TITLE,
        title_en=HOSTILE_TITLE,
        text_en=HOSTILE_TEXT,
        published=at(12, 0),
    )
    add_filing(
        storage, ids["hostile"], "Elections", rule="<b>rule</b>", terms=("<i>term</i>",)
    )
    add_sighting(storage, ids["hostile"], "tengri", "javascript:alert(1)")
    return ids


def digest_config(tmp: Path, **kw: object) -> Config:
    dc = DigestConfig(
        output_dir=tmp / "digests", formats=("html", "txt", "md", "json", "atom")
    )
    mail = kw.pop("mail", MailConfig())
    assert isinstance(mail, MailConfig)
    for k, v in kw.items():
        dc = DigestConfig(**{**dc.__dict__, k: v})
    return Config(config_dir=tmp, digest=dc, mail=mail)
