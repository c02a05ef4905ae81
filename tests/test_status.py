"""`monitor status`, `feeds list` and the digest's health: page failures count (#10.6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.models import FeedState, PageHealth
from monitor.store import Storage
from tests.sitegen import write_config

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
DEAD_PAGES = 20


# ---------------------------------------------------------------------- the rule


def polled(**kw) -> FeedState:
    return FeedState(
        name="a",
        url="https://a.example/rss",
        last_polled_at=T0,
        last_status="ok",
        last_new_item_at=T0,
        **kw,
    )


@pytest.mark.parametrize(
    ("pages", "expected"),
    [
        (None, "ok"),
        (PageHealth(), "ok"),  # nothing fetched: nothing to judge
        (PageHealth(attempted=10, failed=9), "ok"),
        (PageHealth(attempted=112, failed=112), "pages failing"),
    ],
)
def test_health_with_pages(pages, expected):
    assert polled().health(T0, 48, pages) == expected


def test_poll_failure_and_never_polled_come_first():
    all_failed = PageHealth(attempted=3, failed=3)
    failing = FeedState(
        name="a", url="u", last_polled_at=T0, last_status="error", failure_count=2
    )
    assert failing.health(T0, 48, all_failed) == "failing"
    assert FeedState(name="a", url="u").health(T0, 48, all_failed) == "never polled"
    assert PageHealth(attempted=112, failed=112).text == "pages failing: 112 of 112"


# ---------------------------------------------------------------------- storage


def test_page_health_counts_per_feed_in_the_window(tmp_path):
    with closing(Storage(tmp_path / "m.db")) as s:
        s.add_page_fetch("a", ok=False, now=T0 - timedelta(hours=30))  # outside
        s.add_page_fetch("a", ok=True, now=T0 - timedelta(hours=2))
        s.add_page_fetch("a", ok=False, now=T0 - timedelta(hours=1))
        s.add_page_fetch("b", ok=False, now=T0 - timedelta(minutes=1))
        s.add_page_fetch(
            "b", ok=False, now=T0
        )  # end is inclusive (stored to the second)
        s.add_page_fetch("b", ok=False, now=T0 + timedelta(seconds=1))  # after: out
        got = s.get_page_health(T0 - timedelta(hours=24), T0)
        assert got == {
            "a": PageHealth(attempted=2, failed=1),
            "b": PageHealth(attempted=2, failed=2),
        }
        s.add_page_fetch("c", ok=True, now=T0 + timedelta(days=8))  # prunes a week back
        later = s.get_page_health(T0 - timedelta(days=30), T0 + timedelta(days=9))
        assert later == {"c": PageHealth(attempted=1, failed=0)}


def test_recent_failures_list_each_failure_once_with_a_count(tmp_path):
    with closing(Storage(tmp_path / "m.db")) as s:
        for run in range(3):
            s.add_failure(
                "fetch", "https://x/1", "timed out", T0 + timedelta(hours=run)
            )
        s.add_failure("poll", "feed-b", "HTTP 500", T0 + timedelta(minutes=30))
        got = s.get_recent_failures()
        assert [(f.stage, f.resource, f.count) for f in got] == [  # newest first
            ("poll", "feed-b", 1),
            ("fetch", "https://x/1", 3),
        ]
        assert got[1].at == T0 + timedelta(hours=2)  # the latest occurrence


# ---------------------------------------------------------------------- end to end


def monitor_cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("monitor")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "monitor"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [*cmd, *args, "--config", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.fixture
def dead_host_site(http_server, tmp_path):
    """A feed that answers, whose article pages are on a host that does not resolve."""
    now = datetime.now(UTC)
    items = "".join(
        f"<item><title>Заголовок {i}</title>"
        f"<link>http://nonexistent.invalid/news/{i}</link><guid>g{i}</guid>"
        f"<pubDate>{format_datetime(now - timedelta(minutes=i))}</pubDate>"
        f"<description>Текст новости номер {i}.</description></item>"
        for i in range(DEAD_PAGES)
    )
    http_server.add(
        "/rss.xml",
        body=(
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>Мёртвый хост</title>{items}</channel></rss>"
        ).encode(),
        content_type="application/rss+xml",
    )
    write_config(tmp_path, [("deadpages", http_server.url("/rss.xml"), "ru")])
    monitor_toml = tmp_path / "monitor.toml"
    text = monitor_toml.read_text(encoding="utf-8")
    monitor_toml.write_text(
        text.replace("per_host_delay = 0.0", "per_host_delay = 1.0"), encoding="utf-8"
    )
    return tmp_path


def test_dead_page_host_shows_in_status_feeds_list_and_digest(dead_host_site):
    folder = dead_host_site
    started = time.monotonic()
    run = monitor_cli(folder, "run", "--no-digest")
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    assert elapsed < 15, elapsed  # 20 polite starts on one host alone take 19 s

    status = monitor_cli(folder, "status")
    assert status.returncode == 0, status.stderr
    assert f"pages failing: {DEAD_PAGES} of {DEAD_PAGES} in 24 h" in status.stdout
    failure_lines = [
        line for line in status.stdout.splitlines() if "nonexistent.invalid" in line
    ]
    assert failure_lines
    for line in failure_lines:  # each failing URL once per line, not twice
        assert line.count("http://nonexistent.invalid/news/") == 1, line

    report = json.loads(monitor_cli(folder, "status", "--json").stdout)
    (feed,) = report["feeds"]
    assert feed["health"] == "pages failing"
    assert feed["pages_24h"] == {"attempted": DEAD_PAGES, "failed": DEAD_PAGES}

    listed = monitor_cli(folder, "feeds", "list").stdout
    assert "pages failing" in listed
    assert " ok " not in listed

    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Almaty")).date()
    digest = monitor_cli(folder, "digest", "--date", today.isoformat(), "--no-send")
    assert digest.returncode == 0, digest.stderr
    txt = next(p for p in digest.stdout.split() if p.endswith(".txt"))
    body = " ".join(Path(txt).read_text(encoding="utf-8").split())  # unwrap
    assert "sources are healthy" not in body
    assert f"pages failing: {DEAD_PAGES} of {DEAD_PAGES}" in body


def test_a_url_failing_on_every_run_is_listed_once(dead_host_site):
    folder = dead_host_site
    for _ in range(2):
        assert monitor_cli(folder, "run", "-q", "--no-digest").returncode == 0
    report = json.loads(monitor_cli(folder, "status", "--json").stdout)
    fetches = [f for f in report["recent_failures"] if f["stage"] == "fetch"]
    resources = [f["resource"] for f in fetches]
    assert len(resources) == len(set(resources))
    assert {f["count"] for f in fetches} == {2}
    assert all(not f["error"].startswith("http") for f in fetches)
    text = monitor_cli(folder, "status").stdout
    assert "(×2)" in text


# ------------------------------------------------- removed sources and kinds (#14)


def rss_ok(link: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Живой</title><item><title>Новость</title><link>{link}</link>"
        "<guid>a</guid><description>Текст.</description></item></channel></rss>"
    ).encode()


@pytest.fixture
def two_sources(http_server, tmp_path):
    """A working feed and a Telegram source whose page answers 404."""
    page = "<html><body><article><p>" + "Текст новости. " * 40 + "</p></article>"
    http_server.add("/a", body=page.encode(), content_type="text/html")
    http_server.add(
        "/ok.xml",
        body=rss_ok(http_server.url("/a")),
        content_type="application/rss+xml",
    )
    write_config(tmp_path, [("alive", http_server.url("/ok.xml"), "ru")])
    with (tmp_path / "feeds.toml").open("a", encoding="utf-8") as f:
        f.write(
            '[[feed]]\nname = "gonechan"\nkind = "telegram"\n'
            f'url = "{http_server.url("/s/gonechan")}"\n'
            'outlet = "Gone"\nlang = "ru"\ncountry = "KZ"\n'
        )
    assert monitor_cli(tmp_path, "run", "-q", "--no-digest").returncode == 0
    return tmp_path


def _digest_text(folder: Path) -> str:
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Almaty")).date()
    digest = monitor_cli(folder, "digest", "--date", today.isoformat(), "--no-send")
    assert digest.returncode == 0, digest.stderr
    txt = next(p for p in digest.stdout.split() if p.endswith(".txt"))
    return " ".join(Path(txt).read_text(encoding="utf-8").split())


def test_the_digest_health_section_names_the_source_kind(two_sources):
    body = _digest_text(two_sources)
    assert "Gone [gonechan, telegram]: failing" in body
    report = json.loads(monitor_cli(two_sources, "status", "--json").stdout)
    kinds = {f["name"]: f["kind"] for f in report["feeds"]}
    assert kinds == {"alive": "feed", "gonechan": "telegram"}


def test_a_removed_source_leaves_status_and_the_digest_health(two_sources):
    folder = two_sources
    assert "gonechan [telegram]" in monitor_cli(folder, "status").stdout
    removed = monitor_cli(folder, "feeds", "remove", "gonechan")
    assert removed.returncode == 0, removed.stderr

    text = monitor_cli(folder, "status").stdout
    assert "gonechan [telegram]" not in text
    assert "No longer configured (articles kept): gonechan" in text
    report = json.loads(monitor_cli(folder, "status", "--json").stdout)
    assert [f["name"] for f in report["feeds"]] == ["alive"]
    assert report["removed"] == ["gonechan"]
    assert report["feed_totals"] == {"ok": 1}

    body = _digest_text(folder)
    assert "gonechan" not in body
    assert "All 1 sources are healthy." in body
