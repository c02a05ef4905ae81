"""Feed text fixes (issue #12 "Found in feed text"): cp1252 punctuation in C1
form, the richest copy of a repeated link, full-text feed fields."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from monitor.config import ExtractConfig
from monitor.extract import extract_article
from monitor.feeds import parse_feed
from monitor.models import TextSource
from monitor.text import clean_text

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
OREN = "/feeds/real-world-ru/oren.ru_news_windows-1251.xml"


def parse(body: bytes, base_url: str = "https://news.example.kz/rss"):
    return parse_feed(
        body,
        feed_name="test",
        base_url=base_url,
        content_type="application/rss+xml",
        fetched_at=NOW,
    )


def rss(items: bytes) -> bytes:
    return (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        b"<title>t</title>" + items + b"</channel></rss>"
    )


def test_c1_controls_become_cp1252_punctuation():
    assert clean_text("don\x92t \x93q\x94 \x96 \x85") == "don’t “q” – …"
    assert clean_text("\x81\x8d\x8f\x90\x9d") == ""  # undefined in cp1252: dropped
    assert clean_text("plain") == "plain"


def test_double_encoded_punctuation_in_feed_bytes_is_kept(http_server):
    body = rss(
        b"<item><title>I don\xc2\x92t know</title><link>https://a.example/1</link>"
        b"<description>We don\xc2\x92t \xc2\x93quote\xc2\x94 \xc2\x81</description>"
        b"</item>"
    )
    http_server.add("/c1.xml", body=body, content_type="application/rss+xml")
    fetched = httpx.get(http_server.url("/c1.xml")).content
    assert fetched == body
    (item,) = parse(fetched).items
    assert item.title == "I don’t know"
    assert item.summary == "We don’t “quote”"


@pytest.mark.parametrize("rich_first", [False, True])
def test_repeated_link_keeps_the_richest_copy(rich_first):
    empty = b"<item><title>A</title><link>https://a.example/1</link></item>"
    rich = (
        b"<item><title>A</title><link>https://a.example/1</link>"
        b"<description>The full description of the story.</description></item>"
    )
    other = b"<item><title>B</title><link>https://a.example/2</link></item>"
    body = rss(rich + empty + other if rich_first else empty + rich + other)
    items = parse(body).items
    assert [i.link for i in items] == ["https://a.example/1", "https://a.example/2"]
    assert items[0].summary == "The full description of the story."


def test_repeated_guid_keeps_the_richest_copy():
    body = rss(
        b"<item><guid>g1</guid><title>A</title><link>https://a.example/1</link></item>"
        b"<item><guid>g1</guid><title>A</title><link>https://a.example/1?x</link>"
        b"<content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
        b"<![CDATA[<p>Body text.</p>]]></content:encoded></item>"
    )
    (item,) = parse(body).items
    assert item.content == "Body text."


def test_bare_full_text_element_is_content():
    body = rss(
        b"<item><title>A</title><link>https://a.example/1</link>"
        b"<description>Short.</description>"
        b"<full-text>First paragraph.&lt;br/&gt;&lt;br/&gt;Second one.</full-text>"
        b"</item>"
    )
    (item,) = parse(body).items
    assert item.content == "First paragraph.\n\nSecond one."
    assert item.summary == "Short."


def test_yandex_full_text_feed_served_locally_is_used_before_summary(
    feed_server, corpus_dir: Path
):
    body = httpx.get(feed_server.url(OREN)).content
    assert body == (corpus_dir / OREN.removeprefix("/")).read_bytes()
    items = parse(body, base_url=feed_server.url(OREN)).items
    assert len(items) == 10
    assert all(len(i.content) > len(i.summary) + 200 for i in items)
    assert "<br" not in items[0].content
    # A page that could not be fetched: the full text, not the summary, is kept.
    cfg = ExtractConfig(min_chars=400, teaser_chars=400)
    out = extract_article(None, items[0], cfg)
    assert out.source is TextSource.FEED_CONTENT
    assert out.text == items[0].content
    assert not out.is_teaser
