"""Tests for monitor.feeds.parse_feed: items, encodings, dates, hostile input."""

from __future__ import annotations

import http.server
import threading
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.exceptions import FeedError
from monitor.feeds import defuse_xml, html_to_text, parse_feed

DATA = Path(__file__).parent / "data" / "feeds"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def parse(body: bytes, content_type: str | None = None, **kw):
    kw.setdefault("base_url", "https://news.example.kz/rss")
    return parse_feed(
        body, feed_name="test", content_type=content_type, fetched_at=NOW, **kw
    )


def rss(items: str, *, decl: str = "utf-8", title: str = "Лента") -> str:
    head = f'<?xml version="1.0" encoding="{decl}"?>\n' if decl else ""
    channel = f"<channel><title>{title}</title>{items}</channel>"
    return f'{head}<rss version="2.0">{channel}</rss>'


# --------------------------------------------------------------------- items


@pytest.fixture(scope="module")
def full():
    return parse((DATA / "full.rss").read_bytes(), lang_hint="ru")


def test_full_rss_fields(full):
    assert full.title == "Пример & новости"
    assert full.warning is not None
    assert "not believed" in full.warning  # its 2038 date (issue #11)
    first = full.items[0]
    assert first.entry_id == "news-1"
    assert first.link == "https://news.example.kz/ru/news/1?utm_source=rss"
    assert first.title == "Парламент одобрил бюджет"
    assert first.summary == "Депутаты одобрили проект."
    assert first.content == "Первый абзац.\n\nВторой абзац «цитата»."
    assert first.author == "Айгуль Серикова"
    assert first.published == datetime(2026, 11, 24, 4, 30, tzinfo=UTC)
    assert first.lang == "ru"
    assert first.feed_name == "test"


def test_entry_id_fallbacks(full):
    by_title = {i.title: i for i in full.items}
    assert by_title["Без guid"].entry_id == "https://news.example.kz/ru/news/2"
    no_link = by_title["Без ссылки и guid"]
    assert no_link.entry_id.startswith("sha:")
    assert no_link.link == ""
    # the hash is stable across parses
    again = parse((DATA / "full.rss").read_bytes())
    assert {i.entry_id for i in again.items} == {i.entry_id for i in full.items}


def test_dates(full):
    by_title = {i.title: i for i in full.items}
    assert by_title["Без guid"].published == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert by_title["Без ссылки и guid"].published is None
    # 2038: more than 2 days after the fetch, so not believed (issue #11)
    assert by_title["Из будущего"].published is None
    for item in full.items:
        assert item.published is None or item.published.tzinfo is not None


def test_unsafe_link_dropped_and_duplicates_kept_once(full):
    by_title = {i.title: i for i in full.items}
    assert by_title["Скрипт в ссылке"].link == ""
    assert [i.entry_id for i in full.items].count("news-1") == 1
    assert "Дубликат" not in by_title


def test_atom_fields():
    feed = parse(
        (DATA / "full.atom").read_bytes(), base_url="https://en.example.org/feed"
    )
    assert feed.title == "Regional wire"
    one, two = feed.items
    assert one.link == "https://en.example.org/section/story-1.html"
    assert one.content == "Lead\n\nBody one.\n\nBody two."
    assert one.summary == "Short teaser."
    assert one.author == "J. Smith"
    assert one.published == datetime(2026, 11, 24, 2, 15, tzinfo=UTC)
    assert two.published == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # naive → UTC


def test_bozo_feed_recovers_with_warning():
    feed = parse((DATA / "broken.xml").read_bytes())
    assert feed.warning
    assert [i.title for i in feed.items][:1] == ["First & only"]


def test_empty_channel_is_a_feed():
    feed = parse(rss("").encode())
    assert feed.items == ()
    assert feed.title == "Лента"


# --------------------------------------------------------------------- encodings

ITEMS = (
    "<item><title>Правительство Кыргызстана утвердило новый бюджет</title>"
    "<link>https://24.kg/1</link></item>"
    "<item><title>В Ташкенте открыли новую станцию метро</title>"
    "<link>https://24.kg/2</link></item>"
)
TITLES = [
    "Правительство Кыргызстана утвердило новый бюджет",
    "В Ташкенте открыли новую станцию метро",
]


@pytest.mark.parametrize(
    ("codec", "decl", "content_type"),
    [
        ("cp1251", "windows-1251", None),
        ("cp1251", "windows-1251", "application/rss+xml; charset=utf-8"),
        ("cp1251", "utf-8", "text/xml; charset=utf-8"),  # both labels wrong
        ("cp1251", "", None),  # no declaration at all
        ("cp1251", "", "text/xml"),
        ("koi8_r", "koi8-r", None),
        ("koi8_r", "", None),
        ("koi8_r", "koi8-r", "text/xml; charset=windows-1251"),  # header lies
        ("cp1251", "iso-8859-1", None),  # declared Latin-1, really cp1251
        ("utf-8", "windows-1251", "text/xml; charset=windows-1251"),  # utf-8 body
        ("utf-16", "utf-16", None),
    ],
)
def test_cyrillic_encodings(codec, decl, content_type):
    body = rss(ITEMS, decl=decl).encode(codec)
    feed = parse(body, content_type)
    assert [i.title for i in feed.items] == TITLES
    assert feed.title == "Лента"
    assert feed.warning is None


def test_latin1_feed_stays_latin1():
    items = "<item><title>Notícias de São Paulo: ação e eleição</title><link>https://e.br/1</link></item>"
    body = rss(items, decl="iso-8859-1", title="Notícias").encode("latin-1")
    feed = parse(body)
    assert feed.items[0].title == "Notícias de São Paulo: ação e eleição"


# --------------------------------------------------------------------- not a feed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"   \n\t ", "empty body"),
        (
            b"<!DOCTYPE html><html><head><title>Cloudflare check</title></head>"
            b"<body>x</body></html>",
            "got an HTML page titled 'Cloudflare check'",
        ),
        (b"<html><body>oops</body></html>", "got an HTML page"),
        (b'{"error": "rate limited", "code": 429}', "got JSON"),
        (b"[1, 2]", "got JSON"),
        (b"Service unavailable", "not XML"),
        (b'<?xml version="1.0"?><catalog><book/></catalog>', "root <catalog>"),
    ],
)
def test_not_a_feed(body, message):
    with pytest.raises(FeedError, match="not a feed") as info:
        parse(body, "text/html; charset=utf-8")
    assert message in str(info.value)
    assert info.value.resource == "test"


def test_html_doctype_before_rss_root_is_still_a_feed():
    body = (
        b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "x">'
        b"<rss><channel><title>t</title></channel></rss>"
    )
    assert parse(body).title == "t"


def test_too_large():
    with pytest.raises(FeedError, match="too large"):
        parse(b"<rss>" + b" " * 20_000_001)


def test_gzip_body_is_inflated():
    import gzip

    body = gzip.compress(rss(ITEMS).encode())
    assert [i.title for i in parse(body).items] == TITLES


def test_gzip_bomb_is_refused():
    import gzip

    body = gzip.compress(b"<rss>" + b" " * 30_000_000)
    with pytest.raises(FeedError, match="too large"):
        parse(body)


# --------------------------------------------------------------------- hostile XML


def _billion_laughs(levels: int = 9, newline: str = "") -> bytes:
    decls = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1)
    ]
    doctype = f"<!DOCTYPE rss [{newline}{newline.join(decls)}{newline}]>"
    return (
        f'<?xml version="1.0"?>{newline}{doctype}<rss version="2.0"><channel>'
        f"<title>&lol{levels};</title><item><title>a &lol{levels}; b</title>"
        "<link>https://e.org/1</link></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize("newline", ["", "\n"])
def test_billion_laughs_does_not_expand(newline):
    tracemalloc.start()
    started = time.perf_counter()
    try:
        feed = parse(_billion_laughs(newline=newline))
    except FeedError:
        feed = None
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20_000_000, f"peak memory {peak} bytes"
    assert elapsed < 5
    if feed is not None:
        text = feed.title + "".join(i.title for i in feed.items)
        assert "lollol" not in text


@pytest.mark.parametrize("newline", ["", "\n"])
def test_external_file_entity_is_not_read(tmp_path, newline):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-42")
    for decl in (
        f'<!ENTITY xxe SYSTEM "{secret.as_uri()}">',
        f'<!ENTITY xxe PUBLIC "-//x//y" "{secret.as_uri()}">',
        f'<!ENTITY % pe SYSTEM "{secret.as_uri()}"> %pe;',
    ):
        body = (
            f'<?xml version="1.0"?>{newline}<!DOCTYPE rss [{newline}{decl}{newline}]>'
            '<rss version="2.0"><channel><title>t &xxe;</title>'
            "<item><title>&xxe;</title>"
            "<description>&xxe;</description><link>https://e.org/1</link></item>"
            "</channel></rss>"
        ).encode()
        try:
            feed = parse(body)
        except FeedError:
            continue
        dump = repr(feed)
        assert "TOPSECRET" not in dump


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []  # noqa: RUF012 - shared on purpose within the test

    def do_GET(self):
        type(self).hits.append(self.path)
        body = b"<!ENTITY leaked 'LEAKED'>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_network_entities_are_not_fetched():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        body = (
            f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{url}/dtd" ['
            f'<!ENTITY ext SYSTEM "{url}/ext"><!ENTITY % pe SYSTEM "{url}/pe"> %pe;]>'
            '<rss version="2.0"><channel><title>&ext;</title>'
            "<item><title>x &leaked;</title><link>https://e.org/1</link></item></channel></rss>"
        ).encode()
        try:
            feed = parse(body)
        except FeedError:
            feed = None
        assert _CountingHandler.hits == []
        assert feed is None or "LEAKED" not in repr(feed)
    finally:
        server.shutdown()
        server.server_close()


def test_defuse_keeps_plain_entities_only():
    text = (
        '<?xml version="1.0"?><!DOCTYPE rss ['
        '<!ENTITY nbsp "&#160;"><!ENTITY brand "Kaktus">'
        '<!ENTITY x SYSTEM "file:///etc/passwd"><!-- ] > -->]><rss/>'
    )
    out = defuse_xml(text)
    assert '<!ENTITY brand "Kaktus">' in out
    assert "SYSTEM" not in out
    assert "nbsp" not in out  # references another entity/char ref: dropped
    assert out.endswith("<rss/>")


def test_safe_entity_still_expands():
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY brand "Kaktus Media">]>'
        b'<rss version="2.0"><channel><title>&brand;</title></channel></rss>'
    )
    assert parse(body).title == "Kaktus Media"


def test_unterminated_doctype_is_a_feed_error():
    with pytest.raises(FeedError, match="DOCTYPE"):
        parse(b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "b">')


def test_garbage_never_crashes():
    samples = [
        b"<rss><channel><item><title>\x00\x01\x02</title></item></channel></rss>",
        b"<rss" + b"<" * 10_000,
        b"<feed xmlns='http://www.w3.org/2005/Atom'>" + b"<entry>" * 2000,
        bytes(range(256)) * 10,
        b"<?xml version='1.0' encoding='no-such-codec'?>"
        b"<rss><channel><title>x</title></channel></rss>",
    ]
    for body in samples:
        try:
            parse(body)
        except FeedError as exc:
            failure = exc
            assert failure.resource == "test"


# --------------------------------------------------------------------- html_to_text


def test_html_to_text_paragraphs():
    html = (
        "<div><h1>Head</h1><p>One <b>bold</b>\n word.</p>"
        "<ul><li>a</li><li>b</li></ul>tail</div>"
    )
    assert html_to_text(html) == "Head\n\nOne bold word.\n\na\n\nb\n\ntail"
    assert html_to_text("plain &amp; simple") == "plain & simple"
    assert html_to_text("") == ""
    assert html_to_text("<style>p{}</style><p>x</p>") == "x"


# --------------------------------------------------------------------- JSON Feed


def test_json_feed():
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Лента JSON",
        "items": [
            {
                "id": 17,
                "url": "/ru/news/17",
                "title": "Новость <не разметка>",
                "content_html": "<p>Абзац один.</p><p>Абзац два.</p>",
                "summary": "Кратко",
                "date_published": "2026-11-24T10:00:00+05:00",
                "authors": [{"name": "Редакция"}],
            },
            {"id": "b", "content_text": "Только текст", "date_modified": "bad"},
            "not an object",
        ],
    }
    import json

    feed = parse(json.dumps(doc, ensure_ascii=False).encode(), "application/feed+json")
    assert feed.title == "Лента JSON"
    first, second = feed.items
    assert first.entry_id == "17"
    assert first.link == "https://news.example.kz/ru/news/17"
    assert first.title == "Новость <не разметка>"
    assert first.content == "Абзац один.\n\nАбзац два."
    assert first.summary == "Кратко"
    assert first.author == "Редакция"
    assert first.published == datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
    assert second.content == "Только текст"
    assert second.published is None


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"version": "https://jsonfeed.org/version/1"',
        b"{}",
    ],
)
def test_bad_json_is_a_feed_error(body):
    with pytest.raises(FeedError, match=r"not a feed: got (malformed )?JSON"):
        parse(body)


def test_utf8_feed_with_one_broken_byte_stays_cyrillic():
    body = rss(ITEMS).encode()
    cut = body.index("Ташкенте".encode()) + 4
    body = body[:cut] + b"\xff" + body[cut:]
    feed = parse(body, "application/rss+xml; charset=utf-8")
    assert feed.items[0].title == TITLES[0]
    assert feed.items[1].title.startswith("В Та")
    assert "метро" in feed.items[1].title


def test_feed_with_absurdly_many_entries_is_refused_cheaply():
    from datetime import UTC, datetime

    from monitor.exceptions import FeedError
    from monitor.feeds import MAX_ENTRIES, parse_feed

    items = b"<item><title>x</title></item>" * (MAX_ENTRIES + 1)
    body = (
        b"<?xml version='1.0'?><rss version='2.0'><channel>"
        + items
        + b"</channel></rss>"
    )
    with pytest.raises(FeedError, match="entries"):
        parse_feed(
            body,
            feed_name="huge",
            base_url="https://x.example/rss",
            content_type="application/rss+xml",
            fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
