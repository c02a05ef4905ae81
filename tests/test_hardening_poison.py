"""Issue #11 "Done means": poisoned feeds beside a good one, `monitor run` three times.

The installed executable runs against a real local server.  Each poisoned feed
carries cases from issue #11 (edge-of-calendar dates, a lone surrogate, one
``&#xD800;``, non-characters, terminal escapes, a 300,000-character word).  Every
run must exit 0, the good feed's articles must reach the digest, and the
poisoned feeds' errors must be visible in ``monitor status`` (text and JSON).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest

from tests.httpserver import LocalHTTPServer
from tests.sitegen import PARAGRAPHS, TITLES, article_html

REPO = Path(__file__).resolve().parents[1]
TOPICS = REPO / "config" / "topics.toml"
LONG_WORD = "y" * 300_000


def _rss(server: LocalHTTPServer, title: str, items: list[str]) -> bytes:
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>{title}</title><link>{server.url('/')}</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode("utf-8", "surrogatepass")


def _item(server: LocalHTTPServer, n: str, title: str, pub: str, desc: str) -> str:
    link = server.url(f"/poison/{n}")
    return (
        f"<item><title>{title}</title><link>{link}</link><guid>{n}</guid>"
        f"<pubDate>{pub}</pubDate><description>{desc}</description></item>"
    )


def poison_site(server: LocalHTTPServer, published: datetime) -> dict[str, str]:
    """Serve one good feed and several poisoned ones; returns {name: url}."""
    pub = format_datetime(published)
    good_items = []
    for i, slug in enumerate(sorted(TITLES)):
        server.add(f"/good/{slug}", body=article_html(slug).encode())
        good_items.append(
            f"<item><title>{escape(TITLES[slug])}</title>"
            f"<link>{server.url(f'/good/{slug}')}</link><guid>good-{slug}</guid>"
            f"<pubDate>{format_datetime(published - timedelta(minutes=i))}</pubDate>"
            f"<description>{escape(PARAGRAPHS[slug][0])}</description></item>"
        )
    feeds = {"good": server.add("/good.xml", body=_rss(server, "Good", good_items))}
    rss = [
        _item(server, "d1", "Дата на краю", "Fri, 31 Dec 9999 23:59:59 -1400", "x"),
        _item(server, "d2", "Первый год", "Mon, 01 Jan 0001 00:00:00 +1400", "x"),
        _item(server, "nc", "Не символ &#xFFFF; и &#xFFFE;", pub, "текст"),
        _item(server, "esc", "Escape \x1b]0;pwned\x07 \x1b[2J \u202e", pub, "x"),
        _item(server, "long", "Длинное слово", pub, LONG_WORD),
    ]
    feeds["poison-rss"] = server.add("/p-rss.xml", body=_rss(server, "P", rss))
    entity = [_item(server, "e1", "Плохой &#xD800; символ", pub, "текст")]
    entity += [
        _item(server, f"e{i}", f"Новость {i}", pub, "текст") for i in range(2, 6)
    ]
    feeds["poison-entity"] = server.add("/p-ent.xml", body=_rss(server, "E", entity))
    atom = (
        "<?xml version='1.0' encoding='utf-8'?>"
        "<feed xmlns='http://www.w3.org/2005/Atom'><title>A</title>"
        f"<id>urn:a</id><updated>{published.isoformat()}</updated>"
        "<entry><title>Год первый</title><id>urn:a:1</id>"
        f"<link href='{server.url('/poison/a1')}'/>"
        "<updated>0001-01-01T00:00:00Z</updated><summary>текст</summary></entry>"
        "<entry><title>Год последний</title><id>urn:a:2</id>"
        f"<link href='{server.url('/poison/a2')}'/>"
        "<updated>9999-12-31T23:59:59-14:00</updated><summary>текст</summary></entry>"
        "</feed>"
    )
    feeds["poison-atom"] = server.add(
        "/p-atom.xml", body=atom.encode(), content_type="application/atom+xml"
    )
    jsonfeed = (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": ['
        '{"id": "j1", "url": "' + server.url("/poison/j1") + '",'
        ' "title": "Lone \\ud800 surrogate", "content_text": "текст",'
        ' "date_published": "' + published.isoformat() + '"},'
        '{"id": "j2", "url": "' + server.url("/poison/j2") + '",'
        ' "title": "Far future", "content_text": "текст",'
        ' "date_published": "9999-12-31T23:59:59-14:00"}]}'
    )
    feeds["poison-json"] = server.add(
        "/p.json", body=jsonfeed.encode(), content_type="application/feed+json"
    )
    # bytes no fix can make a feed of: its error must always be visible
    garbage = bytes(range(256)) * 40 + b"<rss><channel><item>\x00\xff"
    feeds["poison-garbage"] = server.add(
        "/p-garbage.xml", body=garbage, content_type="application/rss+xml"
    )
    return feeds


def write_config(folder: Path, feeds: dict[str, str]) -> None:
    (folder / "monitor.toml").write_text(
        f"""
[store]
path = "{folder / "monitor.db"}"
[fetch]
allow_private = true
per_host_delay = 0.0
timeout = 5.0
total_timeout = 10.0
[poll]
min_interval = 0
[classify]
topics_file = "{TOPICS}"
[translate]
backend = "none"
[digest]
output_dir = "{folder / "digests"}"
timezone = "UTC"
due_hour = 0
""",
        encoding="utf-8",
    )
    (folder / "feeds.toml").write_text(
        "".join(
            f'[[feed]]\nname = "{n}"\nurl = "{u}"\noutlet = "{n}"\nlang = "ru"\n'
            'country = "KZ"\n\n'
            for n, u in feeds.items()
        ),
        encoding="utf-8",
    )


def monitor(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("monitor")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "monitor"]
    return subprocess.run(
        [*cmd, *args, "--config", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
        cwd=folder,
        check=False,
    )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(REPO)
    return env


@pytest.mark.slow
def test_poisoned_feeds_never_stop_the_run(http_server: LocalHTTPServer, tmp_path):
    yesterday = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday -= timedelta(days=1)
    feeds = poison_site(http_server, yesterday)
    write_config(tmp_path, feeds)
    for attempt in range(3):
        run = monitor(tmp_path, "run")
        assert run.returncode == 0, (attempt, run.stderr[-3000:])
        assert "Traceback" not in run.stderr
    daily = sorted((tmp_path / "digests").rglob("*.json"))
    daily = [p for p in daily if p.stem == yesterday.date().isoformat()]
    assert daily, sorted((tmp_path / "digests").rglob("*"))
    data = daily[0].read_text(encoding="utf-8")
    for slug in TITLES:
        assert TITLES[slug] in data, slug
    status = monitor(tmp_path, "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    feeds_by_name = {f["name"]: f for f in report["feeds"]}
    assert feeds_by_name["good"]["health"] == "ok"
    garbage = feeds_by_name["poison-garbage"]
    assert garbage["last_status"] == "error"
    assert garbage["failure_count"] == 3
    assert "poison-garbage" in {f["resource"] for f in report["recent_failures"]}
    # every poisoned feed either failed visibly or had its entries stored
    stored = report["stages"]["articles"]["total"] - len(TITLES)
    named = {f["resource"] for f in report["recent_failures"]} | {
        n for n, f in feeds_by_name.items() if f.get("last_status") == "error"
    }
    assert stored > 0 or named >= {"poison-rss", "poison-atom", "poison-json"}
    text = monitor(tmp_path, "status")
    assert text.returncode == 0, text.stderr
    assert "poison-garbage" in text.stdout
    assert "Recent failures:" in text.stdout
