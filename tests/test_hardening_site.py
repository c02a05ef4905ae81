"""Helpers (no tests): a multi-feed fake site and database snapshots (issue #7).

Shared by tests/test_hardening_crash.py, tests/test_hardening_disk.py and
bench/soak.py.  Every page answers
after a small delay so that a SIGKILL at a random moment lands inside a stage,
not between runs.  The texts are built from the tests' own `tests.sitegen`
paragraphs.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tests.httpserver import LocalHTTPServer
from tests.sitegen import PARAGRAPHS, TITLES

REPO = Path(__file__).resolve().parents[1]
SLUGS = sorted(PARAGRAPHS)
# Volatile columns: clocks and row ids differ between any two runs.
VOLATILE = {"id", "first_seen", "updated_at", "added_at", "created_at", "attempts"}
STATUS_COLUMNS = (
    "extract_status",
    "translation_status",
    "classify_status",
    "story_status",
)


@dataclass(frozen=True)
class Feed:
    name: str
    url: str


def _article(feed: int, n: int) -> tuple[str, str, list[str]]:
    slug = SLUGS[(feed + n) % len(SLUGS)]
    title = f"{TITLES[slug]}: выпуск {feed}-{n}"
    extra = (
        f"Редакция уточняет подробности материала номер {feed}-{n}. "
        "Мы будем следить за развитием событий и сообщим новые сведения."
    )
    return slug, title, [*PARAGRAPHS[slug], extra]


def _page(title: str, paragraphs: list[str]) -> bytes:
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body><main><article>"
        f"<h1>{escape(title)}</h1>{body}</article></main>"
        f"<footer>Подписывайтесь на наш канал.</footer></body></html>"
    ).encode()


def build_site(
    server: LocalHTTPServer,
    published: datetime,
    *,
    feeds: int = 3,
    per_feed: int = 5,
    delay: float = 0.15,
) -> list[Feed]:
    """Serve ``feeds`` RSS feeds with ``per_feed`` articles each.

    One article is carried by two feeds (stored once, two sightings), and one
    article page answers 404 (its feed text is the fallback).
    """
    out = []
    for f in range(feeds):
        items = []
        for n in range(per_feed):
            _, title, paragraphs = _article(f, n)
            path = f"/f{f}/news/{n}"
            if n == per_feed - 1 and f > 0:  # the same story, reposted
                _, title, paragraphs = _article(0, 0)
                path = "/f0/news/0"
            elif n == 1 and f == 1:
                server.add(path, status=404, body=b"gone", delay=delay)
            else:
                server.add(path, body=_page(title, paragraphs), delay=delay)
            pub = format_datetime(published - timedelta(minutes=7 * n + f))
            link = server.url(f"{path}?utm_source=rss")
            items.append(
                f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
                f"<guid>f{f}-{n}</guid><pubDate>{pub}</pubDate>"
                f"<description>{escape(paragraphs[0])}</description></item>"
            )
        xml = (
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>Лента {f}</title><link>{server.url('/')}</link>"
            + "".join(items)
            + "</channel></rss>"
        )
        url = server.add(
            f"/f{f}/rss.xml",
            body=xml.encode(),
            content_type="application/rss+xml",
            etag=f'"f{f}"',
            delay=delay,
        )
        out.append(Feed(f"feed{f}", url))
    return out


def calm_zone(now: datetime) -> str:
    """A digest timezone whose local day holds the whole served site.

    The site's items span the 45 minutes before now and ``due_hour = 0``: within
    an hour after a local midnight the first run would write yesterday's digest
    from half-done work, and that file would then depend on where a kill landed.
    """
    for zone in ("Asia/Almaty", "UTC", "America/New_York", "Asia/Tokyo"):
        if 2 <= now.astimezone(ZoneInfo(zone)).hour <= 22:
            return zone
    raise AssertionError("unreachable: the zones above cover every hour")


def write_config(
    folder: Path,
    feeds: list[Feed],
    *,
    models_dir: Path,
    max_articles: int = 4,
    extra: str = "",
) -> Path:
    """A config folder whose runs each do a little work (so kills land mid-stage)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "monitor.toml").write_text(
        f"""
[store]
path = "{folder / "monitor.db"}"
[fetch]
allow_private = true      # the test server is on 127.0.0.1
per_host_delay = 0.0
per_host_concurrency = 1
workers = 2
timeout = 5.0
total_timeout = 10.0
max_articles_per_run = {max_articles}
max_attempts = 2
[poll]
min_interval = 0          # every run polls again (conditional GET)
[translate]
models_dir = "{models_dir}"
[digest]
output_dir = "{folder / "digests"}"
due_hour = 0
timezone = "{calm_zone(datetime.now(UTC))}"
{extra}
""",
        encoding="utf-8",
    )
    tables = "".join(
        f'[[feed]]\nname = "{f.name}"\nurl = "{f.url}"\noutlet = "Outlet {f.name}"\n'
        'lang = "ru"\ncountry = "KZ"\n\n'
        for f in feeds
    )
    (folder / "feeds.toml").write_text(tables, encoding="utf-8")
    topics = REPO / "config" / "topics.toml"
    if topics.exists():
        (folder / "topics.toml").write_bytes(topics.read_bytes())
    return folder


def monitor_cmd(folder: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "monitor", "run", "--config", str(folder), *args]


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def run_cli(
    folder: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        monitor_cmd(folder, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(),
        cwd=REPO,
        check=False,
    )


def run_killed(folder: Path, after: float, log: Path) -> bool:
    """Start `monitor run`, SIGKILL it after ``after`` seconds.

    Returns:
        True when the kill landed (the run had not finished by then).
    """
    with log.open("ab") as err:
        proc = subprocess.Popen(
            monitor_cmd(folder), stdout=err, stderr=err, env=child_env(), cwd=REPO
        )
        try:
            code = proc.wait(after)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
    if code != 0:
        raise AssertionError(f"run exited {code}; see {log}")
    return False


def pending(db_path: Path) -> dict[str, int]:
    """Rows still pending per stage column."""
    with closing(_connect(db_path)) as db:
        cols = {r[1] for r in db.execute("PRAGMA table_info(articles)")}
        return {
            c: db.execute(
                f"SELECT count(*) FROM articles WHERE {c} = 'pending'"
            ).fetchone()[0]
            for c in STATUS_COLUMNS
            if c in cols
        }


def run_until_settled(
    folder: Path, max_runs: int = 12, args: tuple[str, ...] = ()
) -> int:
    """Run `monitor run` until a run changes nothing; returns the runs made."""
    before = None
    for i in range(1, max_runs + 1):
        proc = run_cli(folder, *args)
        if proc.returncode != 0:
            raise AssertionError(f"monitor run exited {proc.returncode}: {proc.stderr}")
        now = snapshot(folder / "monitor.db")
        if now == before:
            return i
        before = now
    raise AssertionError(f"still changing after {max_runs} runs")


def _connect(db_path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    return db


def integrity(db_path: Path) -> str:
    with closing(_connect(db_path)) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def snapshot(db_path: Path) -> dict[str, Any]:
    """Everything a run produces, keyed by canonical URL (ids and clocks left out)."""
    with closing(_connect(db_path)) as db:
        url_of = {
            r["id"]: r["canonical_url"] for r in db.execute("SELECT * FROM articles")
        }
        tables = {
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        snap: dict[str, Any] = {
            "articles": {
                r["canonical_url"]: _stable(r, skip={"story_id"})
                for r in db.execute("SELECT * FROM articles")
            },
            "entries": sorted(
                (url_of[r["article_id"]], *_stable(r, skip={"article_id"}))
                for r in db.execute("SELECT * FROM entries")
            ),
        }
        if "filings" in tables:
            snap["filings"] = sorted(
                (url_of[r["article_id"]], *_stable(r, skip={"article_id"}))
                for r in db.execute("SELECT * FROM filings")
            )
        if "story_members" in tables:
            stories: dict[int, set[str]] = {}
            for r in db.execute("SELECT article_id, story_id FROM story_members"):
                stories.setdefault(r["story_id"], set()).add(url_of[r["article_id"]])
            snap["stories"] = sorted(sorted(s) for s in stories.values())
        if "digests" in tables:
            snap["digests"] = sorted(
                r["day"] for r in db.execute("SELECT day FROM digests")
            )
    return snap


def _stable(row: sqlite3.Row, skip: set[str]) -> tuple[Any, ...]:
    return tuple((k, row[k]) for k in row.keys() if k not in VOLATILE and k not in skip)


def digest_files(folder: Path) -> dict[str, bytes]:
    """Every file the runs wrote under the digest folder."""
    root = folder / "digests"
    files = sorted(root.rglob("*")) if root.is_dir() else []
    return {
        p.relative_to(root).as_posix(): p.read_bytes() for p in files if p.is_file()
    }


def differing_lines(a: bytes, b: bytes) -> list[tuple[bytes, bytes]]:
    """Pairs of lines that differ (a length mismatch shows as a pair too)."""
    la, lb = a.splitlines(), b.splitlines()
    pairs = [(x, y) for x, y in zip(la, lb, strict=False) if x != y]
    if len(la) != len(lb):
        pairs.append((b"<%d lines>" % len(la), b"<%d lines>" % len(lb)))
    return pairs


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)
