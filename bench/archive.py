"""A year of archive: per-run work must not grow with the archive (issue #19).

    .venv/bin/python bench/archive.py [--sizes 10000,50000] [--corpus ../shared/corpus]

For each size a synthetic archive of about a year (365 days, 20 feeds, Russian
and English text from the corpus) is built through the storage write API:
extraction, translation (done / no model / not needed / failed and parked),
filings and story members, all complete, first seen and published spread over
the year.  A copy of the file is then put back into the schema-v4 layout (the
old indexes, no statistics): the *baseline*, on which the old queries run in
the same process.  Each operation prints its median time new and old, the
ratio old/new, and, from the second size on, the ratio large/small.

Operations:
    translate_queue   get_articles_for_translation with nothing to do (a warm run)
    digest_window     get_articles_for_digest for one day
    digest_build      build_digest of one day (all queries; new code only)
    archive_read      what a digest write reads of a 365-day archive:
                      old = two full re-reads, new = the incremental index
    status_counts     get_stage_counts (issue item 4; new code only, informational)
    story_window      get_story_features of the last 72 hours (informational)

``EXPLAIN QUERY PLAN`` is printed for every per-run query; the bench exits 1
when one scans ``articles``, or when the translate queue does not seek
``articles_translate_queue`` (a seek on ``extract_status = 'done'`` matches
every article: the issue's 2.8 s at 1M).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search import CORPUS, Text, _topics, load_texts  # noqa: E402
from monitor.classify import classify_article, compile_topics  # noqa: E402
from monitor.config import DigestConfig  # noqa: E402
from monitor.digest import build_digest, read_archive  # noqa: E402
from monitor.digest._archive import INDEX_FILE  # noqa: E402
from monitor.models import (  # noqa: E402
    Assignment,
    Extracted,
    FeedItem,
    FeedSpec,
    Relation,
    TextSource,
    Translation,
    TranslationStatus,
)
from monitor.store import Storage  # noqa: E402

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DAYS = 365
FEEDS = 20
BATCH = 1000
REPEAT = 5
DAY = (NOW - timedelta(days=10)).date()

OLD_TRANSLATION_SQL = (
    "SELECT id, title, coalesce(text, '') AS text, lang, translation_status"
    " FROM articles WHERE extract_status = 'done' AND ("
    " translation_status = 'pending'"
    " OR (translation_status = 'failed' AND (? < 0 OR attempts < ?))"
    " OR (translation_status = 'no_model' AND lang IN (NULL)))"
    " ORDER BY translation_status != 'pending', id LIMIT ?"
)
OLD_DIGEST_SQL = """
SELECT a.*, f.outlet, f.country, sm.story_id FROM articles a
JOIN feeds f ON f.name = a.feed_name
LEFT JOIN story_members sm ON sm.article_id = a.id
WHERE (a.first_seen >= :start AND a.first_seen < :end)
   OR (a.published >= :start AND a.published < :end)
ORDER BY a.id
"""


# ---------------------------------------------------------------------- build


def build(db: Path, texts: list[Text], n: int) -> float:
    """n articles over DAYS days, every stage complete; returns seconds."""
    rules = compile_topics(_topics())
    rng = random.Random(n)
    t0 = time.perf_counter()
    with Storage(db) as storage:
        storage.sync_feeds(
            [
                FeedSpec(name=f"feed{i}", url=f"https://feed{i}.example/rss",
                         outlet=f"Outlet {i}", lang="ru", country="Kazakhstan")
                for i in range(FEEDS)
            ]
        )  # fmt: skip
        for start in range(0, n, BATCH):
            ids = range(start, min(n, start + BATCH))
            _write_batch(storage, rules, texts, ids, n, rng)
    return time.perf_counter() - t0


def _seen(i: int, n: int) -> datetime:
    """Oldest first, evenly over the year (ids grow with time, as in real use)."""
    return NOW - timedelta(seconds=int((n - i) * DAYS * 86400 / n))


def _write_batch(storage, rules, texts, ids: range, n: int, rng) -> None:
    by_feed: dict[tuple[str, datetime], list[tuple[FeedItem, str]]] = {}
    for i in ids:
        title = texts[i % len(texts)][0]
        seen = _seen(i, n)
        published = seen - timedelta(minutes=rng.randrange(0, 2 * 1440))
        url = f"https://feed{i % FEEDS}.example/a/{i}"
        item = FeedItem(feed_name=f"feed{i % FEEDS}", entry_id=str(i), link=url,
                        title=title, published=published)  # fmt: skip
        # one poll per feed per batch hour: first_seen comes in runs, like cron
        key = (item.feed_name, seen.replace(minute=0, second=0))
        by_feed.setdefault(key, []).append((item, url))
    for (_, at), items in sorted(by_feed.items(), key=lambda kv: kv[0][1]):
        storage.add_feed_items(items, at)
    pending = {a.url: a for a, _ in storage.get_articles_needing_extraction(10 * BATCH)}
    assignments = []
    for i in ids:
        title, text, lang, t_en, x_en = texts[i % len(texts)]
        a = pending[f"https://feed{i % FEEDS}.example/a/{i}"]
        storage.save_extraction(a.id, Extracted(
            text=text, title=title, author=None, published=a.published, lang=lang,
            canonical_url=a.url, source=TextSource.PAGE), NOW)  # fmt: skip
        _translate(storage, a.id, i, lang, t_en, x_en)
        topics = classify_article(rules, title=title, text=text, lang=lang,
                                  title_en=t_en, text_en=x_en)  # fmt: skip
        storage.save_filings([(a.id, topics)])
        story = a.id - ((a.id - 1) % 3)
        assignments.append((Assignment(
            article_id=a.id, story_id=story,
            relation=Relation.SEED if story == a.id else Relation.STORY,
            score=1.0, time=a.published or NOW), b"\x00" * 64))  # fmt: skip
    assignments.sort(key=lambda x: x[0].article_id)
    storage.add_story_members(assignments, now=NOW)


def _translate(storage, article_id, i, lang, t_en, x_en) -> None:
    if i % 211 == 0:  # failed three times: parked (max_attempts 3)
        for _ in range(3):
            storage.record_article_error(article_id, "translate", "boom", NOW)
        storage.set_translation_status(article_id, TranslationStatus.FAILED, "x", NOW)
        return
    if lang == "en":
        status, t, x = TranslationStatus.NOT_NEEDED, None, None
    elif t_en:
        status, t, x = TranslationStatus.DONE, t_en, x_en
    else:  # no ru->en model installed, as in the archives
        status, t, x = TranslationStatus.NO_MODEL, None, None
    storage.save_translation(article_id, Translation(
        src=lang, dst="en", title=t, text=x, engine="corpus", status=status), NOW)  # fmt: skip


def make_baseline(db: Path, old: Path) -> None:
    """A copy of the archive in the v4 layout: old indexes, no statistics."""
    shutil.copyfile(db, old)
    with sqlite3.connect(old) as raw:
        raw.execute("DROP INDEX articles_translate_queue")
        raw.execute("DROP INDEX articles_first_seen")
        raw.execute("CREATE INDEX articles_translation ON articles(translation_status)")
        raw.execute("DROP TABLE IF EXISTS sqlite_stat1")
    raw.close()


# ---------------------------------------------------------------------- digest archive


def make_digest_archive(storage: Storage, root: Path) -> int:
    """DAYS digest JSON files, each a real digest of DAY filed under its own day."""
    from monitor.digest import render_json

    digest = build_digest(storage, day=DAY, cfg=DigestConfig(), topic_order=(),
                          now=NOW)  # fmt: skip
    data = json.loads(render_json(digest))
    for back in range(DAYS):
        day = (NOW - timedelta(days=back + 1)).date()
        data["period"].update(key=day.isoformat(), slug=day.isoformat())
        folder = root / f"{day:%Y}" / f"{day:%m}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{day}.json").write_text(json.dumps(data, ensure_ascii=False))
    return len(json.dumps(data, ensure_ascii=False).encode())


def archive_read(root: Path) -> tuple[float, float]:
    """(old, new): two full re-reads vs. the incremental read after one new day."""
    read_archive(root, rebuild=True)  # a warm OS cache for both
    old = _median(
        lambda: (read_archive(root, rebuild=True), read_archive(root, rebuild=True))
    )
    samples = []
    for k in range(REPEAT):
        day = NOW.date() + timedelta(days=k)
        src = next(root.glob("*/*/*.json"))
        folder = root / f"{day:%Y}" / f"{day:%m}"
        folder.mkdir(parents=True, exist_ok=True)
        read_archive(root)  # the index is current before the write
        t0 = time.perf_counter()
        read_archive(root)  # before writing: the page's previous/next links
        shutil.copyfile(src, folder / f"{day}.json")
        read_archive(root)  # after: index.html and atom.xml
        samples.append(time.perf_counter() - t0)
    assert (root / INDEX_FILE).is_file()
    return old, statistics.median(samples)


# ---------------------------------------------------------------------- timing


def _median(call: Callable[[], Any]) -> float:
    call()
    samples = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def _window() -> tuple[datetime, datetime]:
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC) - timedelta(hours=5)
    return start, start + timedelta(days=1)


def _build_day(storage: Storage) -> object:
    return build_digest(storage, day=DAY, cfg=DigestConfig(), topic_order=(), now=NOW)


def _build_day(storage: Storage) -> object:
    return build_digest(storage, day=DAY, cfg=DigestConfig(), topic_order=(), now=NOW)


def measure(db: Path, old: Path, folder: Path) -> dict[str, float]:
    start, end = _window()
    params = {"start": start.isoformat(), "end": end.isoformat()}
    row: dict[str, float] = {}
    with Storage(db) as storage, sqlite3.connect(old) as raw:
        got = storage.get_articles_for_translation(set(), 200, max_attempts=3)
        assert got == [], len(got)
        assert raw.execute(OLD_TRANSLATION_SQL, (3, 3, 200)).fetchall() == []
        row["translate_queue_new"] = _median(
            lambda: storage.get_articles_for_translation(set(), 200, max_attempts=3)
        )
        row["translate_queue_old"] = _median(
            lambda: raw.execute(OLD_TRANSLATION_SQL, (3, 3, 200)).fetchall()
        )
        new_ids = [a.id for a in storage.get_articles_for_digest(start, end)]
        old_ids = [r[0] for r in raw.execute(OLD_DIGEST_SQL, params)]
        assert new_ids == old_ids, (len(new_ids), len(old_ids))
        assert new_ids
        row["digest_rows"] = len(new_ids)
        row["digest_window_new"] = _median(
            lambda: storage.get_articles_for_digest(start, end)
        )
        row["digest_window_old"] = _median(
            lambda: raw.execute(OLD_DIGEST_SQL, params).fetchall()
        )
        row["digest_build"] = _median(lambda: _build_day(storage))
        row["status_counts"] = _median(storage.get_stage_counts)
        row["story_window"] = _median(
            lambda: storage.get_story_features(NOW - timedelta(hours=72))
        )
        row["digest_json_bytes"] = make_digest_archive(storage, folder / "digests")
    row["archive_read_old"], row["archive_read_new"] = archive_read(folder / "digests")
    return row


# ---------------------------------------------------------------------- plans


def per_run_queries(storage: Storage) -> dict[str, Callable[[], Any]]:
    start, end = _window()
    return {
        "translate_queue": lambda: storage.get_articles_for_translation(
            {"ru"}, 200, max_attempts=3
        ),
        "extract_queue": lambda: storage.get_articles_needing_extraction(200),
        "story_queue": lambda: storage.get_articles_needing_story(200),
        "story_window": lambda: storage.get_story_features(NOW - timedelta(hours=72)),
        "digest_window": lambda: storage.get_articles_for_digest(start, end),
        "digest_since": lambda: storage.get_articles_for_digest(
            start, end, by="first_seen"
        ),
        "prune_candidates": lambda: storage.get_prune_candidates(  # keep_days (#19)
            NOW - timedelta(days=90), limit=200
        ),
    }


def check_plans(db: Path) -> bool:
    """Print each per-run query's plan; False when one reads all of ``articles``."""
    ok = True
    with Storage(db) as storage:
        for name, call in per_run_queries(storage).items():
            statements: list[str] = []
            storage._db.set_trace_callback(statements.append)
            call()
            storage._db.set_trace_callback(None)
            for sql in statements:
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                plan = storage._db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
                if name == "translate_queue" and not any(
                    "articles_translate_queue" in str(r[3]) for r in plan
                ):
                    print(f"  {name:16} FULL SCAN: no articles_translate_queue seek")
                    ok = False
                for r in plan:
                    line = str(r[3])
                    bad = _scans_articles(line)
                    ok = ok and not bad
                    print(f"  {name:16} {'FULL SCAN ' if bad else ''}{line}")
    return ok


def _scans_articles(line: str) -> bool:
    words = line.split()
    return len(words) > 1 and words[0] == "SCAN" and words[1] in {"a", "articles"}


# ---------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--keep", type=Path, help="Folder to keep the databases in.")
    args = parser.parse_args()
    texts = load_texts(args.corpus)
    results = []
    plans_ok = True
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for n in (int(s) for s in args.sizes.split(",")):
            folder = base / f"archive-{n}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            db, old = folder / "new.db", folder / "v4.db"
            row: dict[str, float] = {"articles": n, "build_s": build(db, texts, n)}
            make_baseline(db, old)
            row["bytes_per_article"] = db.stat().st_size / n
            row.update(measure(db, old, folder))
            row["loadavg"] = os.getloadavg()[0]
            print(f"plans at {n}:")
            plans_ok = check_plans(db) and plans_ok
            results.append(row)
            print(json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)
    report(results)
    if not plans_ok:
        sys.exit("FAIL: a per-run query scans articles (see FULL SCAN above)")


def report(results: list[dict[str, float]]) -> None:
    ops = ("translate_queue", "digest_window", "archive_read")
    small = results[0]
    print("\noperation         size    old ms    new ms  old/new  new large/small")
    for row in results:
        for op in ops:
            old, new = 1000 * row[f"{op}_old"], 1000 * row[f"{op}_new"]
            growth = row[f"{op}_new"] / small[f"{op}_new"]
            print(f"{op:16} {int(row['articles']):6} {old:9.2f} {new:9.2f}"
                  f" {old / new:8.1f} {growth:10.2f}")  # fmt: skip
        for op in ("digest_build", "status_counts", "story_window"):
            growth = row[op] / small[op]
            print(f"{op:16} {int(row['articles']):6} {'-':>9} {1000 * row[op]:9.2f}"
                  f" {'-':>8} {growth:10.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
