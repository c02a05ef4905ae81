"""Row builders for the digest tests: insert feeds, articles, filings, stories.

The classify and stories stages are built in parallel, so the digest tests put
rows straight into the schema (monitor/store/_schema.py) instead of running
those stages.  `sample_db` builds a small realistic day used by several tests
and by the golden files.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.config import Config, DigestConfig, MailConfig
from monitor.store import Storage

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


def _ts(value: datetime | None) -> str | None:
    return (
        None if value is None else value.astimezone(UTC).isoformat(timespec="seconds")
    )


def add_feed(
    storage: Storage,
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
    storage._db.execute(
        "INSERT INTO feeds (name, url, outlet, lang, country, last_status,"
        " last_polled_at, last_ok_at, last_new_item_at, failure_count, last_error)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            name,
            f"https://{name}.example/rss",
            outlet or name,
            lang,
            country,
            last_status,
            _ts(last_polled_at),
            _ts(last_ok_at),
            _ts(last_new_item_at),
            failure_count,
            last_error,
        ),
    )


def add_article(
    storage: Storage,
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
) -> int:
    first_seen = first_seen or (
        published + timedelta(minutes=7) if published else GENERATED_AT
    )
    cur = storage._db.execute(
        "INSERT INTO articles (canonical_url, url, feed_name, title, summary,"
        " published, first_seen, extract_status, text, source, is_teaser, lang,"
        " translation_status,"
        " title_en, text_en, translation_note, classify_status, updated_at)"
        " VALUES (?,?,?,?,?,?,?,'done',?,'page',?,?,?,?,?,?,'done',?)",
        (
            url,
            url,
            feed,
            title,
            summary,
            _ts(published),
            _ts(first_seen),
            text,
            int(is_teaser),
            lang,
            status,
            title_en,
            text_en,
            note,
            _ts(first_seen),
        ),
    )
    article_id = int(cur.lastrowid or 0)
    add_sighting(storage, article_id, feed, url, first_seen=first_seen)
    return article_id


def add_sighting(
    storage: Storage,
    article_id: int,
    feed: str,
    link: str,
    *,
    first_seen: datetime = GENERATED_AT,
) -> None:
    storage._db.execute(
        "INSERT INTO entries (feed_name, entry_id, article_id, link, hash, first_seen)"
        " VALUES (?,?,?,?,?,?)",
        (feed, link, article_id, link, "h", _ts(first_seen)),
    )


def add_filing(
    storage: Storage,
    article_id: int,
    label: str,
    *,
    rule: str = "",
    terms: tuple[str, ...] = (),
    score: float = 1.0,
    facet: str = "topic",
) -> None:
    storage._db.execute(
        "INSERT INTO filings (article_id, facet, label, score, rule, terms, matched)"
        " VALUES (?,?,?,?,?,?,?)",
        (
            article_id,
            facet,
            label,
            score,
            rule or label,
            json.dumps(list(terms)),
            json.dumps(list(terms)),
        ),
    )


def add_story(storage: Storage, story_id: int, members: list[int]) -> None:
    storage._db.execute(
        "INSERT INTO stories (id, created_at, representative_id) VALUES (?,?,?)",
        (story_id, _ts(GENERATED_AT), members[0]),
    )
    for i, article_id in enumerate(members):
        storage._db.execute(
            "INSERT INTO story_members"
            " (article_id, story_id, relation, score, added_at)"
            " VALUES (?,?,?,?,?)",
            (
                article_id,
                story_id,
                "seed" if i == 0 else "story",
                1.0,
                _ts(GENERATED_AT),
            ),
        )
        storage._db.execute(
            "UPDATE articles SET story_id = ? WHERE id = ?", (story_id, article_id)
        )


def at(hour: int, minute: int = 0) -> datetime:
    """A moment on 2026-03-13, Almaty local time (UTC+5)."""
    return DAY_START + timedelta(hours=hour, minutes=minute)


def sample_db(storage: Storage) -> dict[str, int]:
    """A small realistic day: a 3-outlet story, a translated one, an untranslated
    Kazakh one, an English one, an unfiled one, a hostile one and two bad feeds."""
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
    add_story(storage, 1, [ids["tariff_ru"], ids["tariff_tengri"], ids["tariff_en"]])
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
    storage._db.commit()
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
