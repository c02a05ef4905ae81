"""Warm re-run: with nothing new on the server, a run must be cheap (issue #2).

Serves a small Russian site (3 feeds x 10 articles) from a local HTTP server, runs
`monitor run` once cold, then again warm, and prints the warm run's wall time for
the pipeline in-process and for the whole `monitor run` command, plus how many
article pages the warm run fetched (must be 0).  The baseline in the same run is
the cold first run, so the figures read as ratios on any machine.

    .venv/bin/python bench/rerun.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor import fetch  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.pipeline import Pipeline, open_storage  # noqa: E402
from tests.httpserver import LocalHTTPServer  # noqa: E402
from tests.sitegen import PARAGRAPHS, TITLES, build_site, write_config  # noqa: E402

FEEDS = 3
ARTICLES = 10


def make_site(server: LocalHTTPServer, now: datetime) -> list[tuple[str, str, str]]:
    feeds = []
    for f in range(FEEDS):
        slugs = []
        for i in range(ARTICLES):
            slug = f"f{f}-a{i}"
            base = list(PARAGRAPHS)[i % len(PARAGRAPHS)]
            PARAGRAPHS[slug] = [f"({f}-{i}) {p}" for p in PARAGRAPHS[base]]
            TITLES[slug] = f"{TITLES[base]} ({f}-{i})"
            slugs.append(slug)
        site = build_site(server, slugs, now, feed_path=f"/feed{f}.xml")
        feeds.append((f"feed{f}", site.feed_url, "ru"))
    return feeds


def timed_run(cfg_dir: Path) -> tuple[float, dict[str, int]]:
    cfg = load_config(cfg_dir, env={})
    with closing(open_storage(cfg)) as storage:
        pipeline = Pipeline(
            cfg=cfg, storage=storage, client=fetch.make_client(cfg.fetch)
        )
        with pipeline:
            start = time.perf_counter()
            summary = pipeline.run(digest=False)
            return time.perf_counter() - start, summary.counts


def main() -> None:
    now = datetime.now(UTC)
    with LocalHTTPServer() as server, tempfile.TemporaryDirectory() as tmp:
        cfg_dir = Path(tmp)
        write_config(cfg_dir, make_site(server, now), extra="")
        cold, counts = timed_run(cfg_dir)
        pages_before = sum(r.path.startswith("/news/") for r in server.requests)
        # min_interval would skip the feeds entirely; force a real conditional poll.
        (cfg_dir / "monitor.toml").write_text(
            (cfg_dir / "monitor.toml").read_text() + "\n[poll]\nmin_interval = 0.0\n"
        )
        warm, warm_counts = timed_run(cfg_dir)
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "monitor",
                "run",
                "-q",
                "--no-digest",
                "--config",
                str(cfg_dir),
            ],
            check=True,
            capture_output=True,
        )
        command = time.perf_counter() - start
        pages_after = sum(r.path.startswith("/news/") for r in server.requests)
    print(
        f"cold run (baseline): {cold:6.2f} s  articles={counts.get('articles_new', 0)}"
    )
    print(
        f"warm run, pipeline:  {warm:6.2f} s  = {warm / cold:.3f} x cold  "
        f"(feeds not modified: {warm_counts.get('feeds_not_modified', 0)})"
    )
    print(
        f"warm run, command:   {command:6.2f} s  = {command / cold:.3f} x cold  "
        "(includes interpreter start and imports)"
    )
    print(f"article pages fetched by the warm runs: {pages_after - pages_before}")
    print(
        f"goal: warm run < 2 s -> pipeline {'OK' if warm < 2 else 'MISSED'}, "
        f"command {'OK' if command < 2 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
