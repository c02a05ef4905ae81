"""A year of archive: a run costs its own work, not the archive's size (issue #19).

    .venv/bin/python bench/archive.py --sizes 10000,100000,1000000 --reuse

For each size the synthetic archive of bench/_archive_build.py (a year, 30 feeds,
Russian and English corpus text, every stage complete, the search index) is
built in --out (/tmp/sb/a-N.db), or reused with --reuse.  Then:

* ``EXPLAIN QUERY PLAN`` of every per-run query; the bench exits 1 when one
  scans ``articles``, or when the translate queue does not seek
  ``articles_translate_queue`` (a seek on ``extract_status = 'done'`` matches
  every article: the issue's 2.8 s at 1M).
* The store-level operations, median of REPEAT (with --baseline also the old
  queries, on a copy of the file put back into the schema-v4 layout):

    translate_queue   get_articles_for_translation with nothing to do (a warm run)
    digest_window     get_articles_for_digest for one day
    digest_build      build_digest of one day (all queries)
    archive_read      what a digest write reads of a 365-day archive:
                      old = two full re-reads, new = the incremental index
    status_counts     get_stage_counts (informational)
    story_window      get_story_features of the last 72 hours (informational)

* The issue's table of user commands (bench/_archive_commands.py): warm run,
  one day's digest, status, a run adding 200 articles, size per article, with
  the ratio to the first size and the load average.

``--backend postgres`` then runs the same commands on PostgreSQL (issues #13,
#19): each archive is copied into a throw-away cluster (tests/pgcluster.py,
Debian's server binaries) with `monitor migrate`'s `copy_archive`, and the
commands run with ``[store] url`` pointing at it; the table puts them beside
the SQLite figures of the same archive.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._archive_build import DAYS, OUT, ensure, iter_sizes  # noqa: E402
from bench._archive_commands import (  # noqa: E402
    count_articles,
    measure_commands,
    report_postgres,
)
from bench._archive_commands import report as commands_report  # noqa: E402
from monitor.config import DigestConfig  # noqa: E402
from monitor.digest import build_digest, read_archive  # noqa: E402
from monitor.digest._archive import INDEX_FILE  # noqa: E402
from monitor.store import Storage  # noqa: E402

NOW = datetime.fromisoformat("2026-11-30T09:00:00+00:00")  # set per archive
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


# ---------------------------------------------------------------------- baseline


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


def archive_read(root: Path, *, baseline: bool) -> tuple[float, float]:
    """(old, new): two full re-reads (with `baseline`, else NaN) vs. the
    incremental read after one new day."""
    read_archive(root, rebuild=True)  # a warm OS cache for both
    old = float("nan")
    if baseline:
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
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=NOW.tzinfo) - timedelta(
        hours=5
    )
    return start, start + timedelta(days=1)


def _build_day(storage: Storage) -> object:
    return build_digest(storage, day=DAY, cfg=DigestConfig(), topic_order=(), now=NOW)


def measure(db: Path, folder: Path, *, baseline: bool) -> dict[str, float]:
    """The store-level operations (new code; old queries too with `baseline`)."""
    start, end = _window()
    row: dict[str, float] = {}
    with Storage(db) as storage:
        got = storage.get_articles_for_translation(set(), 200, max_attempts=3)
        assert got == [], len(got)
        row["translate_queue_new"] = _median(
            lambda: storage.get_articles_for_translation(set(), 200, max_attempts=3)
        )
        new_ids = [a.id for a in storage.get_articles_for_digest(start, end)]
        assert new_ids
        row["digest_rows"] = len(new_ids)
        row["digest_window_new"] = _median(
            lambda: storage.get_articles_for_digest(start, end)
        )
        row["digest_build"] = _median(lambda: _build_day(storage))
        row["status_counts"] = _median(storage.get_stage_counts)
        row["story_window"] = _median(
            lambda: storage.get_story_features(NOW - timedelta(hours=72))
        )
        root = folder / "store-digests"
        row["digest_json_bytes"] = make_digest_archive(storage, root)
    row["archive_read_old"], row["archive_read_new"] = archive_read(
        root, baseline=baseline
    )
    if baseline:
        old = folder / "v4.db"
        make_baseline(db, old)
        row.update(measure_old(old, new_ids))
        old.unlink()
    return row


def measure_old(old: Path, new_ids: list[int]) -> dict[str, float]:
    start, end = _window()
    params = {"start": start.isoformat(), "end": end.isoformat()}
    row: dict[str, float] = {}
    with sqlite3.connect(old) as raw:
        assert raw.execute(OLD_TRANSLATION_SQL, (3, 3, 200)).fetchall() == []
        old_ids = [r[0] for r in raw.execute(OLD_DIGEST_SQL, params)]
        assert new_ids == old_ids, (len(new_ids), len(old_ids))
        row["translate_queue_old"] = _median(
            lambda: raw.execute(OLD_TRANSLATION_SQL, (3, 3, 200)).fetchall()
        )
        row["digest_window_old"] = _median(
            lambda: raw.execute(OLD_DIGEST_SQL, params).fetchall()
        )
    raw.close()
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
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--out", type=Path, default=OUT, help="Where archives live.")
    parser.add_argument("--reuse", action="store_true",
                        help="Use an archive already built in --out.")  # fmt: skip
    parser.add_argument("--baseline", action="store_true",
                        help="Also time the old queries on a v4 copy of the file.")  # fmt: skip
    parser.add_argument("--no-commands", action="store_true",
                        help="Only the store-level operations and the plans.")  # fmt: skip
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite",
                        help="postgres: the commands on PostgreSQL too.")  # fmt: skip
    args = parser.parse_args()
    results, pg_results, plans_ok = [], [], True
    for n in iter_sizes(args.sizes):
        info = ensure(n, reuse=args.reuse, out=args.out)
        print(json.dumps(info), flush=True)
        db, folder = Path(info["db"]), args.out / f"run-{n}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        set_clock(datetime.fromisoformat(info["now"]))
        size = db.stat().st_size / count_articles(db)
        row: dict[str, Any] = {"articles": n, "build_s": info["build_s"],
                               "bytes_per_article": size}  # fmt: skip
        print(f"plans at {n}:")
        plans_ok = check_plans(db) and plans_ok
        row.update(measure(db, folder, baseline=args.baseline))
        if not args.no_commands:
            row.update(measure_commands(db, folder, fill_digest_archive(db)))
        row["loadavg"] = os.getloadavg()[0]
        results.append(row)
        print(json.dumps(row), flush=True)
        if args.backend == "postgres" and not args.no_commands:
            pg_results.append(postgres_commands(db, args.out / f"run-{n}-pg", n))
            print(json.dumps(pg_results[-1]), flush=True)
    report(results, baseline=args.baseline)
    if not args.no_commands:
        print(commands_report(results))
    if pg_results:
        print(report_postgres(results, pg_results))
    if not plans_ok:
        sys.exit("FAIL: a per-run query scans articles (see FULL SCAN above)")


def postgres_commands(db: Path, folder: Path, n: int) -> dict[str, Any]:
    """The user commands on a PostgreSQL copy of the archive at `db`."""
    from contextlib import closing

    from monitor.store.pg import PgStorage, copy_archive
    from tests.pgcluster import PgCluster, find_bindir, unique_name

    bindir = find_bindir()
    if bindir is None:
        sys.exit("PostgreSQL server binaries missing (scripts/setup_postgres.sh)")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    cluster = PgCluster(bindir).start()
    try:
        url = cluster.create_database(unique_name("archive"))
        t0 = time.perf_counter()
        with Storage(db) as source, closing(PgStorage(url)) as target:
            copy_archive(source, target)
        row: dict[str, Any] = {"backend": "postgres", "articles": n,
                               "copy_s": time.perf_counter() - t0}  # fmt: skip

        def count() -> int:
            with closing(PgStorage(url)) as storage:
                return int(storage._query("SELECT count(*) FROM articles")[0][0])

        row.update(measure_commands(db, folder, fill_digest_archive(db),
                                    store_url=url, count=count))  # fmt: skip
        row["loadavg"] = os.getloadavg()[0]
        return row
    finally:
        cluster.stop()


def set_clock(now: datetime) -> None:
    """The archive's own clock: it ends at `now` (the store-level operations)."""
    global NOW, DAY  # one bench-wide clock per archive
    NOW, DAY = now, (now - timedelta(days=10)).date()


def fill_digest_archive(db: Path) -> Callable[[Path], object]:
    def fill(root: Path) -> object:
        with Storage(db) as storage:
            return make_digest_archive(storage, root)

    return fill


def report(results: list[dict[str, float]], *, baseline: bool) -> None:
    small = results[0]
    print("\noperation         size    old ms    new ms  old/new  new large/small")
    for row in results:
        for op in ("translate_queue", "digest_window", "archive_read"):
            new = 1000 * row[f"{op}_new"]
            old = 1000 * row.get(f"{op}_old", float("nan"))
            growth = row[f"{op}_new"] / small[f"{op}_new"]
            print(f"{op:16} {int(row['articles']):7} {old:9.2f} {new:9.2f}"
                  f" {old / new:8.1f} {growth:10.2f}")  # fmt: skip
        for op in ("digest_build", "status_counts", "story_window"):
            growth = row[op] / small[op]
            print(f"{op:16} {int(row['articles']):7} {'-':>9} {1000 * row[op]:9.2f}"
                  f" {'-':>8} {growth:10.2f}")  # fmt: skip
    if not baseline:
        print("(old: run with --baseline)")


if __name__ == "__main__":
    main()
