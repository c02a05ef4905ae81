"""Source kinds (issue #14): telegram, sitemap and page sources on real bytes.

The corpus pages (../shared/corpus/telegram, sitemaps) are served from the local
test server and polled by `monitor run` / `monitor poll` (the installed entry
point, in a subprocess) or by the `Pipeline`; the database is then read back.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import sources
from monitor.config import load_config
from monitor.exceptions import FeedError
from monitor.fetch import make_client
from monitor.models import FeedSpec, Page
from monitor.pipeline import Pipeline, open_storage
from tests.httpserver import LocalHTTPServer, RecordedRequest, Response

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------------- helpers


def write_config(folder: Path, feeds: str, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "monitor.toml").write_text(
        f"""
[store]
path = "{folder / "monitor.db"}"
[fetch]
per_host_delay = 0.0
timeout = 5.0
total_timeout = 10.0
max_attempts = 1
[poll]
min_interval = 0
[translate]
backend = "none"
[digest]
output_dir = "{folder / "digests"}"
due_hour = 0
{extra}
""",
        encoding="utf-8",
    )
    (folder / "feeds.toml").write_text(feeds, encoding="utf-8")
    (folder / "topics.toml").write_bytes((REPO / "config" / "topics.toml").read_bytes())
    return folder


def feed_toml(name: str, url: str, kind: str, **extra: object) -> str:
    lines = [
        "[[feed]]",
        f'name = "{name}"',
        f'url = "{url}"',
        f'kind = "{kind}"',
        f'outlet = "Outlet {name}"',
        'lang = "ru"',
        'country = "KZ"',
        "allow_private = true   # the test server is on 127.0.0.1",
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n\n"


def monitor(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(folder)}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args, "--config", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
        check=False,
    )


def rows(folder: Path, sql: str, *params: object) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(folder / "monitor.db")) as db:
        db.row_factory = sqlite3.Row
        return list(db.execute(sql, params))


def page(body: bytes, url: str = "https://t.me/s/x", *, at: datetime = NOW) -> Page:
    return Page(requested_url=url, final_url=url, status=200, fetched_at=at, body=body)


def spec(kind: str = "telegram", **kw: object) -> FeedSpec:
    base: dict[str, object] = {
        "name": "src",
        "url": "https://t.me/s/x",
        "outlet": "O",
        "lang": "ru",
        "country": "KZ",
        "kind": kind,
    }
    return FeedSpec(**(base | kw))  # type: ignore[arg-type]


def run_pipeline(folder: Path, now: datetime = NOW) -> None:
    """Poll every source once, in-process, at a fixed time."""
    cfg = load_config(folder, env={})
    storage = open_storage(cfg)
    try:
        client = make_client(cfg.fetch)
        with Pipeline(cfg=cfg, storage=storage, client=client, now=lambda: now) as pipe:
            pipe.poll_feeds()
    finally:
        storage.close()


# ---------------------------------------------------------------------- telegram


@pytest.fixture
def tg(corpus_dir: Path) -> Path:
    return corpus_dir / "telegram"


def test_telegram_run_one_article_per_post(
    http_server: LocalHTTPServer, tg: Path, tmp_path: Path
) -> None:
    newest = (tg / "tme_s_vtosters.html").read_bytes()
    older = (tg / "tme_s_habr_com.html").read_bytes()

    def channel(req: RecordedRequest) -> Response:
        return Response(body=older if "before=" in req.query else newest)

    http_server.route("/s/vtosters", channel)
    http_server.add(
        "/s/not_existed_channel",
        body=(tg / "tme_s_not_existed_channel.html").read_bytes(),
    )
    http_server.add("/codecamp", body=(tg / "tme_info_codecamp.html").read_bytes())
    feeds = (
        feed_toml("vt", http_server.url("/s/vtosters"), "telegram", backfill_pages=1)
        + feed_toml("gone", http_server.url("/s/not_existed_channel"), "telegram")
        + feed_toml("info", http_server.url("/codecamp"), "telegram")
    )
    folder = write_config(tmp_path / "cfg", feeds)
    done = monitor(folder, "run", "--no-digest")
    assert done.returncode == 0, done.stderr

    entries = rows(folder, "SELECT entry_id, title FROM entries WHERE feed_name = 'vt'")
    ids = {r["entry_id"] for r in entries}
    assert len(ids) == 16 + 20  # the page's posts + one older page (backfill_pages = 1)
    assert {"vtosters/1451", "vtosters/1452", "habr_com/56622"} <= ids
    assert len(http_server.requests_to("/s/vtosters")) == 2
    art = {
        r["entry_id"]: r
        for r in rows(
            folder,
            "SELECT e.entry_id, a.title, a.text, a.author, a.url, a.lang, a.extract_status"
            " FROM entries e JOIN articles a ON a.id = e.article_id",
        )
    }
    forwarded, media_only = art["vtosters/1451"], art["vtosters/1452"]
    assert "Forwarded from VTMessenger" in forwarded["text"]
    assert forwarded["author"] == "VTMessenger"
    assert media_only["title"].startswith("Document: linux64.zip")
    assert forwarded["url"] == "https://t.me/vtosters/1451"
    assert all(r["extract_status"] == "done" for r in art.values())
    assert forwarded["lang"] == "ru"  # detected per post
    # no article page was fetched: the post text is the article
    assert {r.path for r in http_server.requests} == {
        "/s/vtosters",
        "/s/not_existed_channel",
        "/codecamp",
    }
    errors = {r["name"]: r["last_error"] for r in rows(folder, "SELECT * FROM feeds")}
    assert "not found" in errors["gone"]
    assert "use https://t.me/s/codecamp" in errors["info"]
    status = monitor(folder, "status", "--json")
    kinds = {f["name"]: f["kind"] for f in json.loads(status.stdout)["feeds"]}
    assert kinds == {"vt": "telegram", "gone": "telegram", "info": "telegram"}


def test_telegram_media_only_skip_and_edited_post(
    http_server: LocalHTTPServer, tg: Path, tmp_path: Path
) -> None:
    body = (tg / "tme_s_vtosters.html").read_bytes()
    http_server.add("/s/vtosters", body=body)
    feeds = feed_toml(
        "vt",
        http_server.url("/s/vtosters"),
        "telegram",
        media_only="skip",
        backfill_pages=0,
    )
    folder = write_config(tmp_path / "cfg", feeds)
    run_pipeline(folder)
    ids = {r["entry_id"] for r in rows(folder, "SELECT entry_id FROM entries")}
    assert "vtosters/1452" not in ids
    assert len(ids) == 15
    edited = body.replace(b"VTMessenger v1.0.5", b"VTMessenger v1.0.6")
    http_server.add("/s/vtosters", body=edited)
    run_pipeline(folder)
    (row,) = rows(
        folder,
        "SELECT a.title, a.feed_content, e.updated_count FROM entries e"
        " JOIN articles a ON a.id = e.article_id WHERE e.entry_id = 'vtosters/1451'",
    )
    assert row["title"] == "VTMessenger v1.0.6"
    assert row["updated_count"] == 1
    assert len(rows(folder, "SELECT id FROM articles")) == 15


def test_telegram_parser_on_every_corpus_page(tg: Path) -> None:
    counts = {}
    for path in sorted(tg.glob("tme_s_*.html")):
        if "not_existed" in path.name:
            continue
        parsed = sources.parse_page(
            page(path.read_bytes()), spec(), depth=0, first_poll=True
        )
        counts[path.stem] = len(parsed.items)
        assert parsed.follow
        assert "before=" in parsed.follow[0]
    # media-only posts are kept with their caption by default
    assert counts == {
        "tme_s_codecamp": 20,
        "tme_s_d_code": 20,
        "tme_s_excelhackru": 18,
        "tme_s_habr_com": 20,
        "tme_s_procode404": 20,
        "tme_s_thecodemedia": 12,
        "tme_s_vtosters": 16,
    }
    codecamp = sources.parse_page(
        page((tg / "tme_s_codecamp.html").read_bytes()),
        spec(),
        depth=0,
        first_poll=False,
    )
    assert codecamp.follow == ()  # only the first poll backfills
    assert {i.entry_id.split("/")[0] for i in codecamp.items} == {"campcode"}
    post = next(i for i in codecamp.items if i.entry_id == "campcode/2375")
    assert post.content.startswith("Тут недавно прошел Всемирный день паролей")
    assert post.published == datetime(2023, 5, 5, 8, 40, 8, tzinfo=UTC)


def test_telegram_fetch_linked_points_at_the_outlet_article(tg: Path) -> None:
    body = (tg / "tme_s_procode404.html").read_bytes()
    linked = spec(fetch_linked=True)
    items = sources.parse_page(page(body), linked, depth=0, first_poll=False).items
    post = next(i for i in items if i.entry_id == "procode404/2332")
    assert post.link == "https://www.youtube.com/watch?v=GQfC0nYrto8"
    assert sources.needs_page(linked, post.link)
    assert not sources.needs_page(spec(), "https://t.me/procode404/2332")


def test_telegram_script_in_a_post_never_reaches_the_digest(
    http_server: LocalHTTPServer, tg: Path, tmp_path: Path
) -> None:
    body = (tg / "tme_s_vtosters.html").read_bytes().decode()
    marker = '<div class="tgme_widget_message_text js-message_text" dir="auto">VTMessenger v1.0.5'
    assert marker in body
    hostile = body.replace(
        marker,
        marker.replace(
            ">VTMessenger v1.0.5",
            "><script>alert('owned')</script>&lt;script&gt;alert(2)&lt;/script&gt;"
            "<img src=x onerror=alert(3)>VTMessenger v1.0.5",
        ),
        1,
    )
    http_server.add("/s/vtosters", body=hostile.encode())
    folder = write_config(
        tmp_path / "cfg",
        feed_toml("vt", http_server.url("/s/vtosters"), "telegram", backfill_pages=0),
    )
    assert monitor(folder, "run", "--no-digest").returncode == 0
    done = monitor(folder, "digest", "--since-last", "--no-send")
    assert done.returncode == 0, done.stderr
    outputs = [Path(p) for p in done.stdout.split()]
    assert outputs
    for out in outputs:
        text = out.read_text(encoding="utf-8")
        assert "<script" not in text.lower(), out  # neither the element nor the text
        assert "onerror" not in text, out
        assert "owned" not in text, out  # a <script> element's content is dropped
    stored = rows(folder, "SELECT text FROM articles")
    assert stored
    assert all("<script" not in r["text"] and "owned" not in r["text"] for r in stored)


def test_telegram_endless_pagination_stops(
    http_server: LocalHTTPServer, tg: Path, tmp_path: Path
) -> None:
    template = (tg / "tme_s_habr_com.html").read_bytes()

    def endless(req: RecordedRequest) -> Response:
        n = int(req.query.split("=")[-1]) if "before=" in req.query else 56622
        return Response(
            body=template.replace(b"before=56622", f"before={n - 20}".encode()).replace(
                b"habr_com/566", f"habr_com/{n}0".encode()
            )
        )

    http_server.route("/s/habr_com", endless)
    folder = write_config(
        tmp_path / "cfg",
        feed_toml(
            "habr", http_server.url("/s/habr_com"), "telegram", backfill_pages=20
        ),
    )
    run_pipeline(folder)
    requests = len(http_server.requests_to("/s/habr_com"))
    assert requests == 21  # the page + backfill_pages, never more
    run_pipeline(folder)  # later polls read only the newest page
    assert len(http_server.requests_to("/s/habr_com")) == requests + 1


def test_telegram_huge_page_is_a_recorded_error(
    http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    chunk = (
        b'<div class="tgme_widget_message" data-post="x/1">' + b"x" * 65_000 + b"</div>"
    )
    http_server.add("/s/huge", stream=lambda: (chunk for _ in range(100)))
    folder = write_config(
        tmp_path / "cfg", feed_toml("huge", http_server.url("/s/huge"), "telegram")
    )
    run_pipeline(folder)
    (row,) = rows(folder, "SELECT last_status, last_error FROM feeds")
    assert row["last_status"] == "error"
    assert "too large" in row["last_error"]


# ---------------------------------------------------------------------- sitemaps


@pytest.fixture
def sm(corpus_dir: Path) -> Path:
    return corpus_dir / "sitemaps"


def test_news_sitemap_yields_entries_with_titles(
    http_server: LocalHTTPServer, sm: Path, tmp_path: Path
) -> None:
    http_server.serve_directory("/sm/", sm)
    feeds = feed_toml(
        "nyt",
        http_server.url("/sm/advertools_nytimes_news_sitemap.xml"),
        "sitemap",
        max_age_days=0,
        fetch_pages=False,
    )
    folder = write_config(tmp_path / "cfg", feeds)
    done = monitor(folder, "poll")
    assert done.returncode == 0, done.stderr
    found = rows(folder, "SELECT title, url, feed_lang, published FROM articles")
    assert len(found) == 6
    assert all(r["title"] and r["feed_lang"] == "en" for r in found)
    assert all(r["url"] == r["url"].strip() for r in found)  # trailing spaces trimmed
    assert {r["published"][:7] for r in found} == {"2020-05"}
    listed = monitor(folder, "feeds", "list", "--json")
    assert json.loads(listed.stdout)[0]["kind"] == "sitemap"


def test_sitemap_index_pointing_at_itself_is_followed_once(
    http_server: LocalHTTPServer, sm: Path, tmp_path: Path
) -> None:
    http_server.serve_directory("/sm/", sm)
    index = (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{http_server.url('/index.xml')}</loc></sitemap>"
        f"<sitemap><loc>{http_server.url('/index.xml?again')}</loc></sitemap>"
        f"<sitemap><loc>{http_server.url('/sm/stormcrawler_stormcrawler.apache.org_sitemap.xml.gz')}</loc></sitemap>"
        "</sitemapindex>"
    )
    http_server.add("/index.xml", body=index.encode(), content_type="application/xml")
    folder = write_config(
        tmp_path / "cfg",
        feed_toml(
            "idx",
            http_server.url("/index.xml"),
            "sitemap",
            max_age_days=0,
            fetch_pages=False,
        ),
    )
    run_pipeline(folder)
    assert len(rows(folder, "SELECT id FROM articles")) == 6
    # itself is never fetched again; its ?again twin is, once, and stops at the depth cap
    assert len(http_server.requests_to("/index.xml")) == 2


@pytest.mark.parametrize(
    ("name", "body", "error"),
    [
        ("broken", "advertools_malformed_error_sitemap.xml", "malformed sitemap XML"),
        ("corrupt", b"\x1f\x8b\x08\x00" + b"not really deflate" * 10, "corrupt gzip"),
        ("html", b"<html><body>hello</body></html>", "not a sitemap"),
        (
            "bomb",
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset>&a;</urlset>',
            "refused",
        ),
    ],
)
def test_bad_sitemaps_are_recorded_errors(
    http_server: LocalHTTPServer,
    sm: Path,
    tmp_path: Path,
    name: str,
    body: str | bytes,
    error: str,
) -> None:
    data = (sm / body).read_bytes() if isinstance(body, str) else body
    http_server.add(f"/{name}.xml", body=data, content_type="application/xml")
    folder = write_config(
        tmp_path / "cfg", feed_toml(name, http_server.url(f"/{name}.xml"), "sitemap")
    )
    run_pipeline(folder)
    (row,) = rows(folder, "SELECT last_status, last_error FROM feeds")
    assert row["last_status"] == "error"
    assert error in row["last_error"]


def test_sitemap_parser_on_the_corpus(sm: Path) -> None:
    every = spec("sitemap", max_age_days=0)

    def parse(name: str, **kw: object) -> sources.Parsed:
        return sources.parse_page(
            page((sm / name).read_bytes(), f"https://x/{name}"),
            spec("sitemap", **({"max_age_days": 0} | kw)),
            depth=0,
            first_poll=True,
        )

    assert len(parse("trafilatura_sitemaps.org_sitemap.xml").items) == 84
    assert len(parse("trafilatura_sitemaps.org_sitemap.xml.gz").items) == 84
    assert len(parse("advertools_not_really_gzip.xml.gz").items) == 5
    assert (
        len(parse("crawlercommons_hebdenbridgetimes-articles-sitemap.xml").items) == 74
    )
    bom = parse("crawlercommons_sitemap-with-bom.txt").items
    assert len(bom) == 2
    assert bom[0].link.startswith("http")
    badns = parse("crawlercommons_malformed_badns.xml")
    assert len(badns.items) == 2
    assert badns.warning
    assert (
        len(parse("crawlercommons_malformed_index_no_loc.xml").follow)
        == sources.sitemap.MAX_CHILDREN
    )
    assert len(parse("trafilatura_sitemapindex_cdata.xml").follow) == 2
    capped = sources.select_items(
        spec("sitemap", max_urls_per_poll=10),
        list(parse("crawlercommons_hebdenbridgetimes-articles-sitemap.xml").items),
    )
    assert len(capped) == 10
    assert capped[0].published == max(i.published for i in capped if i.published)
    assert every.max_age_days == 0


def test_sitemap_window_and_lastmod_change_detection(sm: Path) -> None:
    body = (sm / "stormcrawler_stormcrawler.apache.org_sitemap.xml.gz").read_bytes()
    xml = gzip.decompress(body)
    near = datetime(2024, 10, 20, tzinfo=UTC)
    inside = sources.parse_page(
        page(xml, at=near), spec("sitemap", max_age_days=3), depth=0, first_poll=False
    )
    assert len(inside.items) == 6
    later = datetime(2024, 11, 20, tzinfo=UTC)
    outside = sources.parse_page(
        page(xml, at=later), spec("sitemap", max_age_days=3), depth=0, first_poll=False
    )
    assert outside.items == ()
    bumped = xml.replace(b"2024-10-19", b"2024-10-20")
    again = sources.parse_page(
        page(bumped, at=near),
        spec("sitemap", max_age_days=3),
        depth=0,
        first_poll=False,
    )
    assert [i.link for i in again.items] == [i.link for i in inside.items]
    assert all(a.hash != b.hash for a, b in zip(again.items, inside.items, strict=True))


def test_broken_sitemap_raises_feed_error(sm: Path) -> None:
    with pytest.raises(FeedError, match="malformed"):
        sources.parse_page(
            page((sm / "advertools_malformed_error_sitemap.xml").read_bytes()),
            spec("sitemap"),
            depth=0,
            first_poll=False,
        )


# ---------------------------------------------------------------------- page kind


def test_page_source_finds_article_links(
    http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    links = "".join(
        f'<li><a href="/news/2026/03/14/story-{n}.html">Новость номер {n} о событиях</a></li>'
        for n in range(5)
    )
    section = (
        "<html><head><title>Новости</title></head><body>"
        '<nav><a href="/">Главная</a> <a href="/tag/politics/">Политика</a>'
        ' <a href="/page/2/">Дальше</a> <a href="/login">Войти</a>'
        ' <a href="https://elsewhere.example/news/1.html">Чужая</a></nav>'
        f"<ul>{links}</ul></body></html>"
    ).encode()
    http_server.add("/news/", body=section)
    folder = write_config(
        tmp_path / "cfg",
        feed_toml(
            "section",
            http_server.url("/news/"),
            "page",
            fetch_pages=False,
            max_urls_per_poll=3,
        ),
    )
    run_pipeline(folder)
    found = rows(folder, "SELECT url, title FROM articles ORDER BY id")
    assert [r["title"] for r in found] == [
        f"Новость номер {n} о событиях" for n in range(3)
    ]
    assert all("/news/2026/03/14/story-" in r["url"] for r in found)


def test_telegram_russian_posts_are_translated_like_articles(
    http_server: LocalHTTPServer, tg: Path, tmp_path: Path
) -> None:
    from monitor.translate import FakeTranslator

    http_server.add("/s/habr_com", body=(tg / "tme_s_habr_com.html").read_bytes())
    folder = write_config(
        tmp_path / "cfg",
        feed_toml("habr", http_server.url("/s/habr_com"), "telegram", backfill_pages=0),
    )
    cfg = load_config(folder, env={})
    storage = open_storage(cfg)
    try:
        with Pipeline(
            cfg=cfg, storage=storage, client=make_client(cfg.fetch), now=lambda: NOW
        ) as pipe:
            pipe._translator = (
                FakeTranslator()
            )  # deterministic engine, real article logic
            pipe.poll_feeds()
            pipe.extract_articles()
            pipe.translate_articles()
    finally:
        storage.close()
    found = rows(folder, "SELECT lang, translation_status, title_en FROM articles")
    assert len(found) == 20
    assert {r["lang"] for r in found} == {"ru"}
    assert {r["translation_status"] for r in found} <= {"done", "partial"}
    assert all(r["title_en"] for r in found)


def test_telegram_backfill_killed_mid_poll_resumes(
    http_server: LocalHTTPServer, tg: Path, tmp_path: Path
) -> None:
    import os
    import signal
    import time

    newest = (tg / "tme_s_vtosters.html").read_bytes()
    older = (tg / "tme_s_habr_com.html").read_bytes()
    slow = {"delay": 30.0}

    def channel(req: RecordedRequest) -> Response:
        if "before=" in req.query:
            return Response(body=older, delay=slow["delay"])
        return Response(body=newest)

    http_server.route("/s/vtosters", channel)
    folder = write_config(
        tmp_path / "cfg",
        feed_toml("vt", http_server.url("/s/vtosters"), "telegram", backfill_pages=1),
    )
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(folder)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "run",
            "--no-digest",
            "--config",
            str(folder),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not any("before=" in r.query for r in http_server.requests):
        assert time.monotonic() < deadline, "the backfill page was never requested"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # inside the poll, between two fetches
    proc.wait(10)
    assert rows(folder, "SELECT id FROM articles") == []  # nothing half-stored
    slow["delay"] = 0.0
    done = monitor(folder, "run", "--no-digest")
    assert done.returncode == 0, done.stderr
    ids = [r["entry_id"] for r in rows(folder, "SELECT entry_id FROM entries")]
    assert len(ids) == len(set(ids)) == 36  # the backfill ran again, once


def test_per_source_interval(
    http_server: LocalHTTPServer, sm: Path, tmp_path: Path
) -> None:
    from datetime import timedelta

    body = (sm / "trafilatura_sitemaps.org_sitemap.xml").read_bytes()
    http_server.add("/a.xml", body=body, content_type="application/xml")
    http_server.add("/b.xml", body=body, content_type="application/xml")
    folder = write_config(
        tmp_path / "cfg",
        feed_toml(
            "hourly",
            http_server.url("/a.xml"),
            "sitemap",
            interval=3600,
            max_age_days=0,
        )
        + feed_toml("often", http_server.url("/b.xml"), "sitemap", max_age_days=0),
    )
    run_pipeline(folder, NOW)
    run_pipeline(folder, NOW + timedelta(minutes=5))
    assert len(http_server.requests_to("/a.xml")) == 1
    assert len(http_server.requests_to("/b.xml")) == 2
    run_pipeline(folder, NOW + timedelta(minutes=61))
    assert len(http_server.requests_to("/a.xml")) == 2
