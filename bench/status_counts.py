"""`monitor status` at 10k..1M articles: the old counting passes against the
counters (issue #19), measured in the same run on the same file.

Usage::

    .venv/bin/python bench/status_counts.py [--sizes 10000,100000,1000000]

Each archive is written with plain SQL into the real schema (so the counters'
triggers run on every row, as they do in use; the write API would take hours at
1M): articles with every stage status mixed in, a story for every three done
articles.  Then, medians of 5:

* *old*: the queries `get_stage_counts` / `get_story_counts` ran before
  (a GROUP BY per status column, a count of articles and of the story tables);
* *new*: `get_stage_counts` + `get_story_counts` (the counters);
* the whole ``monitor status`` command (a new process, imports included),
  and whether its numbers equal the old queries'.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's monitor, not an installed one

from monitor.store import Storage  # noqa: E402

OLD_STAGES = [
    f"SELECT {c}, count(*) FROM articles GROUP BY {c}"
    for c in ("extract_status", "translation_status", "classify_status", "story_status")
] + ["SELECT count(*) FROM articles"]
OLD_STORIES = """
SELECT (SELECT count(*) FROM stories),
  (SELECT count(*) FROM (SELECT story_id FROM story_members
     GROUP BY story_id HAVING count(*) > 1) AS multi),
  (SELECT count(*) FROM story_members),
  (SELECT count(*) FROM articles WHERE story_status = 'pending')
"""
FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :n)
INSERT INTO articles (id, canonical_url, url, feed_name, title, first_seen,
    published, extract_status, translation_status, classify_status, story_status,
    lang, updated_at)
SELECT i, 'https://x.example/' || i, 'https://x.example/' || i, 'f' || (i % 30),
    't' || i, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z',
    CASE WHEN i % 97 = 0 THEN 'pending' WHEN i % 211 = 0 THEN 'failed' ELSE 'done' END,
    CASE WHEN i % 89 = 0 THEN 'pending' WHEN i % 3 = 0 THEN 'skipped'
         WHEN i % 7 = 0 THEN 'no_model' ELSE 'done' END,
    CASE WHEN i % 101 = 0 THEN 'pending' ELSE 'done' END,
    CASE WHEN i % 97 = 0 OR i % 211 = 0 THEN 'pending' ELSE 'done' END,
    CASE WHEN i % 3 = 0 THEN 'en' ELSE 'ru' END, '2026-01-01T00:00:00Z'
FROM n
"""
STORIES = """
INSERT INTO stories (id, created_at)
SELECT id, '2026-01-01T00:00:00Z' FROM articles
WHERE story_status = 'done' AND id % 3 = 1
"""
MEMBERS = """
INSERT INTO story_members (article_id, story_id, relation, score, added_at)
SELECT a.id, s.id, 'story', 1.0, '2026-01-01T00:00:00Z' FROM articles a
JOIN stories s ON s.id = a.id - (a.id - 1) % 3 WHERE a.story_status = 'done'
"""


def build(db: Path, n: int) -> float:
    t = time.perf_counter()
    with closing(Storage(db)) as storage:
        storage._db.execute("BEGIN")
        storage._db.executemany(
            "INSERT INTO feeds (name, url) VALUES (?, ?)",
            [(f"f{i}", f"https://f{i}.example/rss") for i in range(30)],
        )
        storage._db.execute(FILL, {"n": n})
        storage._db.execute(STORIES)
        storage._db.execute(MEMBERS)
        storage._db.execute("COMMIT")
    return time.perf_counter() - t


def median_ms(call: Callable[[], Any]) -> float:
    times = []
    for _ in range(5):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def status_command(folder: Path, db: Path) -> tuple[float, dict[str, Any]]:
    (folder / "monitor.toml").write_text(
        f'[store]\npath = "{db}"\n[translate]\nbackend = "none"\n', encoding="utf-8"
    )
    (folder / "feeds.toml").write_text(
        '[[feed]]\nname = "f0"\nurl = "https://f0.example/rss"\noutlet = "F"\n'
        'lang = "ru"\ncountry = "KZ"\n',
        encoding="utf-8",
    )
    (folder / "topics.toml").write_text(
        '[[topic]]\nid = "x"\nlabel = "X"\n[[topic.rule]]\nru = "дрон"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "monitor", "status", "--config", str(folder), "--json"]
    times, out = [], ""
    for _ in range(5):
        t = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                             env=env).stdout  # fmt: skip
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, json.loads(out)


def startup_ms() -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "monitor", "--version"]
    return median_ms(lambda: subprocess.run(cmd, check=True, capture_output=True,
                                            env=env))  # fmt: skip


def measure(n: int, folder: Path) -> dict[str, Any]:
    db = folder / f"status-{n}.db"
    row: dict[str, Any] = {"n": n, "build_s": build(db, n)}
    with closing(Storage(db)) as storage:
        q = storage._db.execute
        row["old_ms"] = median_ms(
            lambda: ([q(s).fetchall() for s in OLD_STAGES], q(OLD_STORIES).fetchall())
        )
        row["new_ms"] = median_ms(
            lambda: (storage.get_stage_counts(), storage.get_story_counts())
        )
        old = [dict(q(s).fetchall()) for s in OLD_STAGES[:4]]
        old_stories = list(q(OLD_STORIES).fetchone())
    row["command_ms"], report = status_command(folder, db)
    stages = report["stages"]
    new = [stages[s] for s in ("extract", "translate", "classify", "stories")]
    stories = report["stories"]
    new_stories = [stories[k] for k in ("stories", "multi_member_stories",
                                        "assigned_articles", "pending_articles")]  # fmt: skip
    row["equal"] = new == old and new_stories == old_stories
    db.unlink()
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            rows.append(measure(n, Path(tmp)))
            print(rows[-1], file=sys.stderr, flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}; the process alone"
          f" (`python -m monitor --version`): {startup_ms():,.0f} ms")  # fmt: skip
    print("| articles | old SQL ms | new SQL ms | old/new | `monitor status` ms |"
          " numbers equal |\n| --- | --- | --- | --- | --- | --- |")  # fmt: skip
    for r in rows:
        print(f"| {r['n']:,} | {r['old_ms']:,.1f} | {r['new_ms']:.2f} |"
              f" {r['old_ms'] / r['new_ms']:,.0f}× | {r['command_ms']:,.0f} |"
              f" {'yes' if r['equal'] else 'NO'} |")  # fmt: skip
    return 0 if all(r["equal"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
