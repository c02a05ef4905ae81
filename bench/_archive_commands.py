"""The issue #19 user commands, timed as the user runs them (for bench/archive.py).

Each command is the installed ``monitor`` executable (``PYTHONPATH`` = this
checkout) with a config folder pointing at the archive, against a local
127.0.0.1 server holding the FEEDS feeds:

    startup_s     ``monitor --version``: interpreter start and imports, no database
    warm_run      ``monitor run -q``, every feed answering 304 (median of REPEAT)
    digest        ``monitor digest --date D --no-send``, one local day, all formats
    status        ``monitor status``
    run_200       ``monitor run -q`` with 200 new articles in the feeds, their
                  pages served too: fetch, extract, translate (no model), classify,
                  index, stories, digest (once: it changes the archive)

Before them one untimed run polls every feed (their first poll) and writes the
due digests into a digest archive of DAYS days (a real digest's JSON under each
day, as `make_digest_archive` writes it).  Politeness per host is off in the
bench config (``per_host_delay = 0``): every feed lives on 127.0.0.1 here, on
separate hosts in real use.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from bench._archive_build import FEEDS, ROOT, Text, feed_specs, load_texts
from tests.httpserver import LocalHTTPServer, Response

REPEAT = 3
NEW_ARTICLES = 200
TZ = "Asia/Almaty"
MONITOR = ROOT / ".venv" / "bin" / "monitor"


def write_config(
    folder: Path, db: Path, base_url: str, store_url: str | None = None
) -> Path:
    """monitor.toml + feeds.toml + topics.toml for the archive at `db` (or, with
    `store_url`, the PostgreSQL database it was copied into)."""
    config = folder / "config"
    config.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "config" / "topics.toml", config / "topics.toml")
    store = f'url = "{store_url}"' if store_url else f'path = "{db}"'
    (config / "monitor.toml").write_text(f"""\
feeds_file = "feeds.toml"

[store]
{store}

[fetch]
allow_private = true
per_host_delay = 0.0
per_host_concurrency = 8

[poll]
min_interval = 0.0

[translate]
models_dir = "{folder / "models"}"

[digest]
timezone = "{TZ}"
output_dir = "{folder / "digests"}"
formats = ["html", "txt", "md", "json", "atom"]
""")
    lines = []
    for spec in feed_specs(base_url + "/feed{i}.xml"):
        lines += ["[[feed]]", f'name = "{spec.name}"', f'url = "{spec.url}"',
                  f'outlet = "{spec.outlet}"', f'lang = "{spec.lang}"',
                  'country = "KZ"', ""]  # fmt: skip
    (config / "feeds.toml").write_text("\n".join(lines))
    return config


def command_env(folder: Path) -> dict[str, str]:
    """The commands' environment: this checkout, with compiled bytecode as an
    installed package has it (``pip install`` compiles every module; with
    PYTHONDONTWRITEBYTECODE set, every command compiled the package again:
    0.1-0.2 s of each figure), and the user cache (compiled topics and
    templates) under `folder`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return env | {"PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(folder / "cache")}


def compile_package() -> None:
    """The package's bytecode, written once before any timing (the libraries'
    was written when they were installed)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "monitor")],
                   env=command_env(ROOT), check=True, capture_output=True)  # fmt: skip


def monitor(config: Path, *args: str) -> tuple[float, float]:
    """(wall, CPU) seconds the command takes, start to exit; it must succeed.

    CPU is user + system time of the process (its children included): on a
    shared machine it says what the command costs, wall what the user waits."""
    env = command_env(config.parent)
    options = () if args == ("--version",) else ("--config", str(config))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(MONITOR), *args, *options],
        env=env, capture_output=True, text=True, check=False)  # fmt: skip
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(getattr(after, f) - getattr(before, f) for f in ("ru_utime", "ru_stime"))
    if done.returncode != 0:
        sys.exit(f"monitor {' '.join(args)} failed ({done.returncode}):\n"
                 f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}")  # fmt: skip
    return seconds, cpu


def _median(config: Path, *args: str) -> tuple[float, float]:
    samples = [monitor(config, *args) for _ in range(REPEAT)]
    return (statistics.median(s[0] for s in samples),
            statistics.median(s[1] for s in samples))  # fmt: skip


def not_modified(_req: object) -> Response:
    return Response(status=304, content_type=None)


def new_feeds(server: LocalHTTPServer, texts: list[Text], now: datetime,
              tag: str) -> None:  # fmt: skip
    """NEW_ARTICLES items over the feeds, each with its article page."""
    per_feed: dict[int, list[str]] = {i: [] for i in range(FEEDS)}
    for k in range(NEW_ARTICLES):
        title, text, *_ = texts[(k * 37) % len(texts)]
        path = f"/new/{tag}/{k}.html"
        paras = "".join(f"<p>{escape(p)}</p>" for p in text.split("\n") if p)
        page = (f"<html><head><title>{escape(title)}</title></head><body><article>"
                f"<h1>{escape(title)}</h1>{paras}<p>Item {tag}-{k}.</p>"
                "</article></body></html>")  # fmt: skip
        server.add(path, body=page.encode())
        when = format_datetime(now - timedelta(minutes=k))
        per_feed[k % FEEDS].append(
            f"<item><title>{escape(title)}</title><link>{server.url(path)}</link>"
            f"<guid>{tag}-{k}</guid><pubDate>{when}</pubDate></item>")  # fmt: skip
    for i, items in per_feed.items():
        xml = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
               f"<title>feed{i}</title><link>{server.base_url}</link>"
               f"{''.join(items)}</channel></rss>")  # fmt: skip
        server.add(
            f"/feed{i}.xml", body=xml.encode(), content_type="application/rss+xml"
        )


def count_articles(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as raw:
        n: int = raw.execute("SELECT count(*) FROM articles").fetchone()[0]
    raw.close()
    return n


def measure_commands(
    db: Path,
    folder: Path,
    day_archive: Any,
    *,
    store_url: str | None = None,
    count: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """Every command of the table; `day_archive(root)` fills the digest archive.

    With `store_url` the commands run on that PostgreSQL copy of `db`, and
    `count()` counts its articles."""
    texts = load_texts()
    row: dict[str, Any] = {}
    count = count or (lambda: count_articles(db))
    with LocalHTTPServer() as server:
        for i in range(FEEDS):
            server.route(f"/feed{i}.xml", not_modified)
        config = write_config(folder, db, server.base_url, store_url)
        compile_package()
        day_archive(folder / "digests")
        row["startup_s"], row["startup_cpu_s"] = _median(config, "--version")
        row["first_run_s"], _ = monitor(config, "run", "-q")  # first poll, due digests
        row["warm_run_s"], row["warm_run_cpu_s"] = _median(config, "run", "-q")
        row["load_warm_run"] = os.getloadavg()[0]
        day = (datetime.now(ZoneInfo(TZ)) - timedelta(days=1)).date()
        digest = ("digest", "--date", str(day), "--no-send")
        row["digest_s"], row["digest_cpu_s"] = _median(config, *digest)
        row["load_digest"] = os.getloadavg()[0]
        row["status_s"], row["status_cpu_s"] = _median(config, "status")
        row["load_status"] = os.getloadavg()[0]
        before = count()
        new_feeds(server, texts, datetime.now().astimezone(), f"{time.time():.0f}")
        row["run_200_s"], row["run_200_cpu_s"] = monitor(config, "run", "-q")
        row["load_run_200"] = os.getloadavg()[0]
        row["run_200_added"] = count() - before
    return row


_OPS = (("start-up: `monitor --version` (imports only)", "startup_s"),
        ("warm `monitor run` (all feeds 304)", "warm_run_s"),
        ("`monitor digest --date D` (all formats)", "digest_s"),
        ("`monitor status`", "status_s"),
        (f"a run adding {NEW_ARTICLES} articles", "run_200_s"))  # fmt: skip


def report(rows: list[dict[str, Any]]) -> str:
    """The issue's table: each command at each size, ratio to the first size."""
    ops = _OPS
    sizes = " | ".join(f"{r['articles']:,}" for r in rows)
    ratios = " | ".join(f"{r['articles']:,}/{rows[0]['articles']:,}" for r in rows[1:])
    out = [f"| operation | {sizes} | {ratios} |",
           "|---" * (1 + 2 * len(rows) - 1) + "|"]  # fmt: skip
    for label, key in ops:
        cpu = key[:-2] + "_cpu_s"
        cells = " | ".join(f"{r[key]:.2f} s ({r[cpu]:.2f} CPU)" for r in rows)
        ratio = " | ".join(f"{r[key] / rows[0][key]:.2f}× (CPU"
                           f" {r[cpu] / rows[0][cpu]:.2f}×)" for r in rows[1:])  # fmt: skip
        out.append(f"| {label} | {cells} | {ratio} |")
    size = " | ".join(f"{r['bytes_per_article'] / 1000:.1f} KB" for r in rows)
    out.append(f"| database size per article | {size} |{' — |' * (len(rows) - 1)}")
    load = " | ".join(f"{r['load_warm_run']:.1f}–{r['load_run_200']:.1f}" for r in rows)
    out.append(f"| load average (1 min) | {load} |{' |' * (len(rows) - 1)}")
    return "\n".join(out) + "\n" + json.dumps(rows)


def report_postgres(sqlite: list[dict[str, Any]], pg: list[dict[str, Any]]) -> str:
    """Each PostgreSQL size beside the SQLite figures of the same archive."""
    out = []
    for p in pg:
        s = next(r for r in sqlite if r["articles"] == p["articles"])
        n = f"{p['articles']:,}"
        out += [f"| operation | SQLite {n} | PostgreSQL {n} | PostgreSQL / SQLite |",
                "|---|---|---|---|"]  # fmt: skip
        for label, key in _OPS:
            cpu = key[:-2] + "_cpu_s"
            out.append(f"| {label} | {s[key]:.2f} s ({s[cpu]:.2f} CPU) |"
                       f" {p[key]:.2f} s ({p[cpu]:.2f} CPU) |"
                       f" {p[key] / s[key]:.2f}× (CPU {p[cpu] / s[cpu]:.2f}×) |")  # fmt: skip
        out.append(f"| load average (1 min) | {s['load_warm_run']:.1f}–"
                   f"{s['load_run_200']:.1f} | {p['load_warm_run']:.1f}–"
                   f"{p['load_run_200']:.1f} | |")  # fmt: skip
        out.append(f"(PostgreSQL: copied in {p['copy_s']:.0f} s; the CPU figures are"
                   " the monitor process's, the server's own are not in them)")  # fmt: skip
    return "\n".join(out) + "\n" + json.dumps(pg)
