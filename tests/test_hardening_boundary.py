"""Issue #11: values clamped at the parsing boundary.

Each hostile value is served as real bytes by the local test server, read back
over HTTP and given to `parse_feed`; the ones that used to crash a run also go
through the installed executable (``python -m monitor poll``/``run``).

- dates outside 1990-01-01 … fetch + 2 days count as missing, with a reason;
- a stored year-1 date (a database written before the rule) no longer
  crashes the stories window or ``digest --since-last``;
- text is normalised (`monitor.text`): surrogates, non-characters, controls;
  titles capped;
- an XML-illegal character reference no longer loses the whole feed;
- the entry cap holds for namespaced Atom and JSON Feed;
- one very long "word" cannot make stemming quadratic;
- a non-ASCII ETag / Last-Modified is dropped, not stored.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import fetch
from monitor.config import load_config
from monitor.dates import check_date, clamp_stored
from monitor.exceptions import FeedError
from monitor.feeds import MAX_ENTRIES, parse_feed
from monitor.models import FeedItem
from monitor.pipeline import Pipeline, open_storage
from monitor.text import TITLE_MAX_CHARS, clean_text, clean_title
from tests.httpserver import LocalHTTPServer
from tests.sitegen import write_config
from tests.test_hardening_site import child_env

REPO = Path(__file__).resolve().parent.parent
ATOM_NS = "http://www.w3.org/2005/Atom"


# ------------------------------------------------------------------ helpers


def fetch_and_parse(server: LocalHTTPServer, path: str, body: bytes, ctype: str):
    """Serve `body`, GET it over HTTP and parse what came back."""
    server.add(path, body=body, content_type=ctype)
    resp = httpx.get(server.url(path))
    return parse_feed(
        resp.content,
        feed_name="hostile",
        base_url=server.url(path),
        content_type=resp.headers.get("content-type"),
        fetched_at=datetime.now(UTC),
    )


def rss(items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Hostile</title>{items}</channel></rss>"
    ).encode()


def rss_item(i: int, extra: str = "", title: str | None = None) -> str:
    return (
        f"<item><guid>urn:item:{i}</guid><title>{title or f'Item {i}'}</title>"
        f"<link>https://example.kz/{i}</link>{extra}"
        "<description>Text.</description></item>"
    )


def atom(entries: str, prefix: str = "") -> bytes:
    p = f"{prefix}:" if prefix else ""
    ns = f"xmlns:{prefix}" if prefix else "xmlns"
    return (
        f"<?xml version='1.0' encoding='utf-8'?><{p}feed {ns}='{ATOM_NS}'>"
        f"<{p}title>Hostile</{p}title><{p}id>urn:h</{p}id>{entries}</{p}feed>"
    ).encode()


def atom_entry(i: int, date_xml: str = "", prefix: str = "") -> str:
    p = f"{prefix}:" if prefix else ""
    return (
        f"<{p}entry><{p}id>urn:e:{i}</{p}id><{p}title>Entry {i}</{p}title>"
        f"<{p}link href='https://example.kz/{i}'/>{date_xml}</{p}entry>"
    )


def json_feed(items: list[dict]) -> bytes:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "Hostile",
            "items": items,
        }
    ).encode()


def poll_cli(folder: Path, *args: str, command: str = "poll"):
    return subprocess.run(
        [sys.executable, "-m", "monitor", command, "--config", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=child_env(),
        cwd=REPO,
        check=False,
    )


def stored(folder: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(folder / "monitor.db")) as db:
        return db.execute(sql).fetchall()


# ------------------------------------------------------------------- dates

EDGE_DATES = {
    "rss 9999 -1400": ("rss", "<pubDate>Fri, 31 Dec 9999 23:59:59 -1400</pubDate>"),
    "atom 9999 -14:00": ("atom", "<published>9999-12-31T23:59:59-14:00</published>"),
    "atom 0001 +14:00": ("atom", "<published>0001-01-01T00:00:00+14:00</published>"),
    "atom updated 0001Z": ("atom", "<updated>0001-01-01T00:00:00Z</updated>"),
    "atom 1970": ("atom", "<updated>1970-01-01T00:00:00Z</updated>"),
    "atom next year": ("atom", "<published>2099-01-01T00:00:00Z</published>"),
    "json 9999 -14:00": ("json", "9999-12-31T23:59:59-14:00"),
    "json 0001 +14:00": ("json", "0001-01-01T00:00:00+14:00"),
    "json 0001Z": ("json", "0001-01-01T00:00:00Z"),
}


def edge_feed(kind: str, value: str) -> tuple[bytes, str]:
    """One bad-date entry and one good one, in the given format."""
    good = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    if kind == "rss":
        items = rss_item(0, value) + rss_item(
            1, f"<pubDate>{good:%a, %d %b %Y %H:%M:%S} +0000</pubDate>"
        )
        return rss(items), "application/rss+xml"
    if kind == "atom":
        entries = atom_entry(0, value) + atom_entry(
            1, f"<published>{good.isoformat()}</published>"
        )
        return atom(entries), "application/atom+xml"
    items = [
        {"id": "0", "url": "https://example.kz/0", "title": "Entry 0"},
        {"id": "1", "url": "https://example.kz/1", "title": "Entry 1"},
    ]
    items[0]["date_published"] = value
    items[1]["date_published"] = good.isoformat()
    return json_feed(items), "application/feed+json"


@pytest.mark.parametrize("case", sorted(EDGE_DATES))
def test_edge_of_calendar_dates_count_as_missing_with_a_reason(http_server, case):
    kind, value = EDGE_DATES[case]
    body, ctype = edge_feed(kind, value)
    parsed = fetch_and_parse(http_server, "/edge", body, ctype)
    dates = [item.published for item in parsed.items]
    assert len(dates) == 2
    assert dates[0] is None, case
    assert dates[1] is not None
    assert datetime.now(UTC) - dates[1] < timedelta(hours=4)
    assert parsed.warning is not None
    assert "taken as missing" in parsed.warning


@pytest.mark.parametrize("case", ["rss 9999 -1400", "atom 0001 +14:00", "json 0001Z"])
def test_edge_dates_do_not_stop_monitor_poll(http_server, tmp_path, case):
    body, ctype = edge_feed(*EDGE_DATES[case])
    http_server.add("/edge", body=body, content_type=ctype)
    write_config(tmp_path, [("edge", http_server.url("/edge"), "en")])
    result = poll_cli(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "taken as missing" in result.stderr  # the reason is logged …
    status = poll_cli(tmp_path, "--json", command="status")
    assert status.returncode == 0, status.stderr
    failures = json.loads(status.stdout)["recent_failures"]
    assert [(f["stage"], f["resource"]) for f in failures] == [("poll", "edge")]
    assert "taken as missing" in failures[0]["error"]  # … and shown by status
    rows = stored(tmp_path, "SELECT title, published FROM articles ORDER BY title")
    assert len(rows) == 2
    assert rows[0][1] is None  # the bad-date entry ("Entry 0" / "Item 0")
    assert rows[1][1] is not None


def test_check_date_bounds():
    now = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
    assert check_date(datetime(1990, 1, 1, tzinfo=UTC), now)[0] is not None
    assert check_date(datetime(1989, 12, 31, 23, 59, tzinfo=UTC), now)[0] is None
    assert check_date(now + timedelta(days=2), now)[0] == now + timedelta(days=2)
    late, reason = check_date(now + timedelta(days=2, seconds=1), now)
    assert late is None
    assert reason is not None
    assert "after the fetch" in reason
    assert clamp_stored(datetime(1, 1, 1, tzinfo=UTC)) - timedelta(days=30)
    assert clamp_stored(datetime(9999, 12, 31, tzinfo=UTC)) + timedelta(days=30)


# ------------------------------------------- stored year-1 dates downstream


def _store_year_one(tmp_path: Path, extra: str = "") -> Path:
    """A database as written before the fix: one article dated 0001-01-01."""
    write_config(tmp_path, [("old", "http://127.0.0.1:9/unused", "en")], extra)
    cfg = load_config(tmp_path, env={})
    with closing(open_storage(cfg)) as storage:
        storage.sync_feeds(cfg.feeds)
        item = FeedItem(
            feed_name="old",
            entry_id="urn:year-one",
            link="https://example.kz/year-one",
            title="Year one article about the election",
            published=datetime(1, 1, 1, tzinfo=UTC),
            summary="The election commission met on Monday in Astana.",
            lang="en",
        )
        storage.add_feed_items([(item, "year-one")], datetime.now(UTC))
    with closing(sqlite3.connect(tmp_path / "monitor.db")) as db:
        db.execute(
            "UPDATE articles SET extract_status = 'done', source = 'feed_summary',"
            " text = summary, lang = 'en', translation_status = 'done'"
        )
        db.commit()
    return tmp_path


def test_stored_year_one_date_does_not_crash_stories(tmp_path):
    folder = _store_year_one(tmp_path)
    cfg = load_config(folder, env={})
    with closing(open_storage(cfg)) as storage:
        now = datetime.now(UTC)
        with Pipeline(
            cfg=cfg,
            storage=storage,
            client=fetch.make_client(cfg.fetch),
            now=lambda: now,
        ) as pipeline:
            pipeline.cluster_stories()
    assert stored(folder, "SELECT story_status FROM articles") == [("done",)]


def test_stored_year_one_date_does_not_crash_digest_since_last(tmp_path):
    # write_config's `extra` lands inside its [digest] table
    folder = _store_year_one(tmp_path, 'timezone = "America/New_York"')
    for _ in range(2):
        result = poll_cli(folder, "--since-last", "--no-send", command="digest")
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr


# -------------------------------------------------------------------- text


def test_clean_text_rules():
    assert clean_text("a\ud800b\udfffc") == "abc"
    assert clean_text("a\ufffeb\uffff\ufdd0\ufdefc\U0001fffe\U0010ffff") == "abc"
    assert clean_text("a\x00b\x01\x1b\x7fc\td\ne") == "abc\td\ne"
    assert clean_text("a\r\nb\rc") == "a\nb\nc"
    # C1 controls: cp1252 decoded as Latin-1 → restored; undefined ones dropped
    assert clean_text("\x93quoted\x94 \x96 \x80 \x85\x81\x8d\x8f\x90\x9d") == (
        "“quoted” – € …"
    )
    assert clean_text("Привет, мир 😀") == "Привет, мир 😀"


def test_clean_title_caps_on_a_word_boundary():
    long = "word " * 400
    title = clean_title(long)
    assert len(title) <= TITLE_MAX_CHARS
    assert title.endswith("word…")
    one_word = clean_title("x" * 10_000)
    assert len(one_word) == TITLE_MAX_CHARS
    assert one_word.endswith("…")
    assert clean_title("  a\n\tb  ") == "a b"


def test_json_feed_lone_surrogate_title_is_cleaned(http_server, tmp_path):
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "T\\udfff",'
        b' "items": [{"id": "1", "url": "https://example.kz/1",'
        b' "title": "Lone \\ud800 surrogate", "content_text": "Body \\udc00 \\u0000"},'
        b' {"id": "2", "url": "https://example.kz/2\\ud800", "title": "Good \\ud83d\\ude00"}]}'
    )
    parsed = fetch_and_parse(http_server, "/s.json", body, "application/feed+json")
    assert [i.title for i in parsed.items] == ["Lone surrogate", "Good 😀"]
    assert parsed.items[0].content == "Body"
    assert parsed.title == "T"
    for item in parsed.items:
        for value in (item.title, item.link, item.entry_id, item.content or ""):
            value.encode("utf-8")  # no surrogate left

    http_server.add("/s2.json", body=body, content_type="application/feed+json")
    write_config(tmp_path, [("surrogate", http_server.url("/s2.json"), "en")])
    for _ in range(2):
        result = poll_cli(tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    titles = stored(tmp_path, "SELECT title FROM articles ORDER BY id")
    assert titles == [("Lone surrogate",), ("Good 😀",)]


@pytest.mark.parametrize("kind", ["rss", "atom", "rdf", "json"])
def test_every_format_normalises_text_the_same_way(http_server, kind):
    bad = "Bad&#x1;&#x7f;&#x85;&#x93;q&#x94;&#xFFFE;&#xFDD0; title"
    want = "Bad…“q” title"
    long = "long " * 300
    if kind == "rss":
        body = rss(rss_item(0, title=bad) + rss_item(1, title=long))
    elif kind == "atom":
        body = atom(
            f"<entry><id>urn:0</id><title>{bad}</title><link href='https://x.kz/0'/>"
            f"</entry><entry><id>urn:1</id><title>{long}</title>"
            "<link href='https://x.kz/1'/></entry>"
        )
    elif kind == "rdf":
        body = (
            '<?xml version="1.0"?><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>R</title>'
            "</channel>"
            f'<item rdf:about="https://x.kz/0"><title>{bad}</title>'
            "<link>https://x.kz/0</link></item>"
            f'<item rdf:about="https://x.kz/1"><title>{long}</title>'
            "<link>https://x.kz/1</link></item></rdf:RDF>"
        ).encode()
    else:
        raw = "Bad\x01\x7f\x85\x93q\x94\ufffe\ufdd0 title"
        body = json_feed(
            [
                {"id": "0", "url": "https://x.kz/0", "title": raw},
                {"id": "1", "url": "https://x.kz/1", "title": long},
            ]
        )
    parsed = fetch_and_parse(http_server, f"/n.{kind}", body, "application/xml")
    titles = [i.title for i in parsed.items]
    assert titles[0] == want, kind
    assert len(titles[1]) <= TITLE_MAX_CHARS
    assert titles[1].endswith("long…")


def test_cp1252_bytes_in_a_latin1_feed_keep_their_punctuation(http_server):
    """Raw C1 bytes (cp1252 labelled ISO-8859-1) become quotes, not nothing."""
    body = (
        b'<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel>'
        b"<title>L</title><item><title>\x93Caf\xe9\x94 \x96 ok\x85</title>"
        b"<link>https://x.kz/1</link></item></channel></rss>"
    )
    parsed = fetch_and_parse(http_server, "/l1.rss", body, "application/rss+xml")
    assert [i.title for i in parsed.items] == ["“Café” – ok…"]


# ------------------------------------------------- illegal char references


@pytest.mark.parametrize("ref", ["&#xD800;", "&#55296;", "&#x1;", "&#xFFFF;", "&#0;"])
def test_one_illegal_char_reference_keeps_the_other_items(http_server, ref):
    items = "".join(rss_item(i) for i in range(19))
    items += rss_item(19, title=f"Broken {ref} title")
    parsed = fetch_and_parse(http_server, "/ref.rss", rss(items), "application/rss+xml")
    titles = [i.title for i in parsed.items]
    assert len(titles) == 20, parsed.warning
    assert titles[:19] == [f"Item {i}" for i in range(19)]
    assert titles[19] == "Broken title"
    assert parsed.warning is not None
    assert "character reference" in parsed.warning


def test_legal_char_references_are_untouched(http_server):
    items = rss_item(0, title="A &#x41; &#1041; &amp;#xD800; &#x1F600;")
    parsed = fetch_and_parse(http_server, "/ok.rss", rss(items), "application/rss+xml")
    title = parsed.items[0].title
    # the escaped one is text to XML; the title's HTML decoding then makes it
    # lxml's U+FFFD (never a surrogate)
    assert title in ("A A Б &#xD800; 😀", "A A Б \ufffd 😀")
    assert parsed.warning is None


# ----------------------------------------------------------------- caps


def test_namespaced_atom_over_the_cap_is_refused(http_server):
    entries = "".join(atom_entry(i, prefix="a") for i in range(MAX_ENTRIES * 2))
    body = atom(entries, prefix="a")
    with pytest.raises(FeedError, match="refused: about 10000 entries"):
        fetch_and_parse(http_server, "/ns.atom", body, "application/atom+xml")


def test_namespaced_atom_under_the_cap_is_parsed(http_server):
    body = atom("".join(atom_entry(i, prefix="a") for i in range(5)), prefix="a")
    parsed = fetch_and_parse(http_server, "/ns5.atom", body, "application/atom+xml")
    assert len(parsed.items) == 5


def test_json_feed_over_the_cap_is_refused_quickly(http_server):
    items = [
        {"id": str(i), "url": f"https://x.kz/{i}", "title": f"Item {i}"}
        for i in range(70_000)
    ]
    body = json_feed(items)
    started = time.monotonic()
    with pytest.raises(FeedError, match="refused: 70000 entries"):
        fetch_and_parse(http_server, "/big.json", body, "application/feed+json")
    assert time.monotonic() - started < 10


def test_cap_is_a_poll_error_not_a_crash(http_server, tmp_path):
    items = [{"id": str(i), "url": f"https://x.kz/{i}"} for i in range(MAX_ENTRIES + 1)]
    http_server.add("/big.json", body=json_feed(items), content_type="application/json")
    write_config(tmp_path, [("big", http_server.url("/big.json"), "en")])
    result = poll_cli(tmp_path)
    assert result.returncode == 0, result.stderr
    assert stored(tmp_path, "SELECT count(*) FROM articles") == [(0,)]
    errors = stored(tmp_path, "SELECT last_error FROM feeds WHERE name = 'big'")
    assert "refused" in errors[0][0]


# ----------------------------------------------------------- long tokens


@pytest.mark.parametrize("size", [300_000, 1_000_000])
@pytest.mark.parametrize("letter", ["x", "y"])
def test_one_long_word_is_not_quadratic(letter, size):
    """Before the cap: 300k × "y" took 7.8 s in classify and 8.2 s in stories."""
    from monitor.classify._morph import analyse, tokenize
    from monitor.config import StoriesConfig
    from monitor.stories._features import StoryCandidate, compute_features
    from monitor.stories._text import normalise_words

    def candidate(title: str, text: str) -> StoryCandidate:
        now = datetime.now(UTC)
        return StoryCandidate(
            article_id=1, time=now, lang="en", title=title, text=text, outlet="X"
        )

    compute_features(candidate("Warm", "up"), StoriesConfig())  # imports datasketch
    word = letter * size
    started = time.monotonic()
    analyse(f"Title {word} end")
    features = compute_features(
        candidate(f"Title {word}", f"Body {word} end. " * 2), StoriesConfig()
    )
    assert time.monotonic() - started < 1.0
    assert tokenize(f"Title {word} end") == ["Title", "end"]
    assert normalise_words(f"Title {word} end") == ["title", "end"]
    assert features.title_key == "title"


# ------------------------------------------------------------- validators


def test_non_ascii_validators_are_dropped_and_the_feed_keeps_working(
    http_server, tmp_path
):
    body = rss(rss_item(0) + rss_item(1))
    http_server.add(
        "/v.rss",
        body=body,
        content_type="application/rss+xml",
        headers={
            # http.server sends header values as Latin-1: these are the UTF-8
            # bytes of "ключ" and a Latin-1 "Déc" on the wire
            "ETag": '"ключ"'.encode().decode("latin-1"),
            "Last-Modified": "Mon, 01 Déc 2025 10:00:00 GMT",
        },
    )
    write_config(tmp_path, [("v", http_server.url("/v.rss"), "en")])
    for _ in range(2):
        result = poll_cli(tmp_path, "v", "-v")
        assert result.returncode == 0, result.stderr
        assert "/ 0 error /" in result.stderr, result.stderr  # 2nd: unchanged body
    assert "validator" in result.stderr  # the note
    assert len(http_server.requests_to("/v.rss")) == 2
    last = http_server.requests_to("/v.rss")[-1]
    assert "if-none-match" not in last.headers
    assert "if-modified-since" not in last.headers
    row = stored(tmp_path, "SELECT etag, last_modified, last_error FROM feeds")
    assert row == [(None, None, None)]


def test_already_stored_non_ascii_validators_are_not_sent(http_server, tmp_path):
    """A database written before the fix holds "ключ": the next poll still works."""
    http_server.add("/v.rss", body=rss(rss_item(0)), content_type="application/rss+xml")
    write_config(tmp_path, [("v", http_server.url("/v.rss"), "en")])
    assert poll_cli(tmp_path, "v").returncode == 0
    with closing(sqlite3.connect(tmp_path / "monitor.db")) as db:
        db.execute("UPDATE feeds SET etag = '\"ключ\"', last_modified = 'Déc'")
        db.commit()
    result = poll_cli(tmp_path, "v")
    assert result.returncode == 0, result.stderr
    assert "/ 0 error /" in result.stderr, result.stderr
    assert "if-none-match" not in http_server.requests_to("/v.rss")[-1].headers


def test_storage_never_receives_a_surrogate(tmp_path):
    """A source that forgot `clean_text` still cannot stop a run in sqlite."""
    write_config(tmp_path, [("src", "http://127.0.0.1:9/unused", "en")])
    cfg = load_config(tmp_path, env={})
    with closing(open_storage(cfg)) as storage:
        storage.sync_feeds(cfg.feeds)
        item = FeedItem(
            feed_name="src",
            entry_id="urn:\ud800",
            link="https://example.kz/s",
            title="Lone \ud800 surrogate",
            published=None,
            summary="\udfff",
            lang="en",
        )
        assert storage.add_feed_items(
            [(item, "https://example.kz/s")], datetime.now(UTC)
        )
    rows = stored(tmp_path, "SELECT title, summary FROM articles")
    assert rows == [("Lone  surrogate", "")]


# ------------------------------------------------------- properties (cheap)


_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF)))
def test_clean_text_output_is_always_storable(text):
    out = clean_text(text)
    out.encode("utf-8")
    assert not _FORBIDDEN.search(out)
    assert not any((ord(c) & 0xFFFE) == 0xFFFE for c in out)
    assert clean_text(out) == out
    title = clean_title(text)
    assert len(title) <= TITLE_MAX_CHARS
    assert "\n" not in title


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(),
    st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
)
def test_check_date_never_raises(naive, minutes):
    value = naive.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    now = datetime(2026, 3, 14, tzinfo=UTC)
    checked, reason = check_date(value, now)
    assert (checked is None) != (reason is None)
    if checked is not None:
        assert checked.tzinfo is UTC
        assert datetime(1990, 1, 1, tzinfo=UTC) <= checked <= now + timedelta(days=2)
    clamp_stored(value) - timedelta(days=365)
    clamp_stored(value) + timedelta(days=365)
