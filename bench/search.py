"""Search benchmark (issue #15): query latency, index size, indexing cost, page renders.

    .venv/bin/python bench/search.py --sizes 10000,100000,1000000 --reuse
                                     [--backend sqlite|postgres] [--read-only]

For each size the synthetic archive of bench/_archive_build.py (built through
the storage write API, search index included; reused from /tmp/sb with
--reuse).  Then 20 realistic queries run 5 times each after one warm-up round
(p50/p95), the day and story pages render through the real Starlette app (the
day page uncached, each sample in a fresh app, and from the page cache), the
index's bytes per article are read from ``dbstat`` and the index stage is timed
on INDEX_SAMPLE articles queued again.  ``--read-only`` opens the archive
read-only and skips the index timing (the one step that writes): for the shared
master archives.  Every figure at a larger size is also
given as a ratio against the smallest size measured in the same run.

``--backend postgres`` also measures PostgreSQL in the same run, on the same
archive: it is copied into a throw-away cluster (tests/pgcluster.py, Debian's
server binaries) with `monitor migrate`'s `copy_archive`, indexed there by the
same index stage, and queried and rendered the same way (a row per backend).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._archive_build import OUT, ensure, iter_sizes, topics_config  # noqa: E402
from monitor.classify import compile_topics  # noqa: E402
from monitor.config import Config, StoreConfig  # noqa: E402
from monitor.search import index_pending, search_archive  # noqa: E402
from monitor.store import Storage, StorageType  # noqa: E402

Opener = Callable[[], StorageType]

INDEX_SAMPLE = 1000
QUERIES = (
    "Кулибаев", "Kulibayev", "дрон", "Токаев AND визит", '"Центральная Азия"',
    "Путин NEAR/5 переговоры", "нефть OR газ", "выборы AND NOT спорт", "инфляц*",
    "Казахстан AND (экспорт OR импорт)", "drone", "election AND NOT football",
    '"prime minister"', "oil NEAR/3 price*", "Kazakhstan OR Uzbekistan",
    "протест OR митинг", "банк AND кредит", "Almaty", "Москва NEAR/10 санкции",
    "football AND (goal OR match)",
)  # fmt: skip


def index_cost(db: Path) -> tuple[float, float]:
    """(wall, CPU) seconds per article of the index stage, on the newest
    INDEX_SAMPLE articles queued again (their rows are rewritten with the same
    tokens), in a fresh process: the lemmatiser caches are cold (in a run,
    classification has warmed them for the same articles)."""
    with Storage(db) as storage:
        with storage.write_batch():
            storage._db.execute(
                "INSERT OR IGNORE INTO search_queue (article_id) SELECT id FROM"
                " articles ORDER BY id DESC LIMIT ?",
                (INDEX_SAMPLE,),
            )
        t0, c0 = time.perf_counter(), time.process_time()
        done = index_pending(storage)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert done >= INDEX_SAMPLE, done
    return seconds / done, cpu / done


def query_latency(open_store: Opener, repeat: int = 5) -> dict[str, Any]:
    rules = compile_topics(topics_config())
    times: list[float] = []
    cpu: list[float] = []  # process time: what a query costs on a shared machine
    hits = 0
    per_query: dict[str, list[float]] = {q: [] for q in QUERIES}
    with closing(open_store()) as storage:
        for q in QUERIES:  # warm the lemmatiser caches once
            search_archive(storage, q, rules=rules, limit=20)
        for _ in range(repeat):
            for q in QUERIES:
                t0, c0 = time.perf_counter(), time.process_time()
                found = search_archive(storage, q, rules=rules, limit=20)
                times.append(time.perf_counter() - t0)
                per_query[q].append(times[-1])
                cpu.append(time.process_time() - c0)
                hits += bool(found.results)
    times.sort()
    cpu.sort()
    return {
        "p50_ms": 1000 * statistics.median(times),
        "p95_ms": 1000 * times[int(0.95 * (len(times) - 1))],
        "p50_cpu_ms": 1000 * statistics.median(cpu),
        "p95_cpu_ms": 1000 * cpu[int(0.95 * (len(cpu) - 1))],
        "queries_with_results": hits / repeat,
        "slowest_ms": dict(
            sorted(
                ((q, round(1000 * statistics.median(t))) for q, t in per_query.items()),
                key=lambda kv: -kv[1],
            )[:5]
        ),
    }


def index_bytes(db: Path) -> float:
    with closing(Storage.open_read_only(db)) as storage:
        size = storage._db.execute(
            "SELECT sum(pgsize) FROM dbstat"
            " WHERE name LIKE 'search_fts%' OR name = 'search_text'"  # v11: its tokens
        ).fetchone()[0]
        n = storage.count_search_index()[0]
    return size / max(n, 1)


def render_times(
    db: Path, now: datetime, n: int, url: str | None = None
) -> dict[str, float]:
    """Median of 5 renders of a day page (3 days back) and of a recent story.

    The day page is rendered uncached (``day_ms``: each sample the first request
    of a fresh app, after one warm-up app) and from the page cache
    (``day_cached_ms``: the database did not change in between).
    """
    from starlette.testclient import TestClient

    from monitor.web import create_app

    cfg = Config(store=StoreConfig(path=db, url=url), topics=topics_config())
    day = f"/day/{(now - timedelta(days=3)).date().isoformat()}"
    story = (n - 10) - (n - 11) % 3  # seeds are ids 1, 4, 7 ...
    out: dict[str, float] = {}
    cold: list[tuple[float, float]] = []
    for _ in range(6):
        with TestClient(create_app(cfg)) as client:
            cold.append(_timed(client, day))
    out["day_ms"], out["day_cpu_ms"] = _medians(cold[1:])
    with TestClient(create_app(cfg)) as client:
        for name, path in (("day_cached", day), ("story", f"/story/{story}")):
            client.get(path)
            samples = [_timed(client, path) for _ in range(5)]
            out[f"{name}_ms"], out[f"{name}_cpu_ms"] = _medians(samples)
    return out


def _timed(client: Any, path: str) -> tuple[float, float]:
    """(wall, CPU) milliseconds of one request."""
    t0, c0 = time.perf_counter(), time.process_time()
    response = client.get(path)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert response.status_code == 200, (path, response.status_code)
    return 1000 * wall, 1000 * cpu


def _medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return (
        statistics.median(s[0] for s in samples),
        statistics.median(s[1] for s in samples),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--out", type=Path, default=OUT, help="Where archives live.")
    parser.add_argument("--reuse", action="store_true",
                        help="Use an archive already built in --out.")  # fmt: skip
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite",
                        help="postgres: SQLite and PostgreSQL in the same run.")  # fmt: skip
    parser.add_argument("--read-only", action="store_true",
                        help="Open the archives read-only; no index timing.")  # fmt: skip
    args = parser.parse_args()
    if args.read_only and not args.reuse:
        parser.error("--read-only needs --reuse (building writes the archive)")
    results = []
    for n in iter_sizes(args.sizes):
        info = ensure(n, reuse=args.reuse, out=args.out)
        db = Path(info["db"])
        row: dict[str, Any] = {"articles": n, "build_s": info["build_s"]}
        row["index_bytes_per_article"] = index_bytes(db)
        row.update(query_latency(lambda db=db: Storage.open_read_only(db)))
        row.update(render_times(db, datetime.fromisoformat(info["now"]), n))
        if not args.read_only:
            wall, cpu = index_cost(db)
            row["index_ms_per_article"] = 1000 * wall
            row["index_cpu_ms_per_article"] = 1000 * cpu
        row["loadavg"] = os.getloadavg()[0]
        results.append(row)
        print(json.dumps(row), flush=True)
        if args.backend == "postgres":
            print(json.dumps(postgres_row(db, n, info)), flush=True)
    base = results[0]
    for row in results[1:]:
        ratios = {k: row[k] / base[k] for k in ("p50_ms", "p95_ms", "day_ms",
                  "day_cached_ms", "story_ms", "index_bytes_per_article") if base[k]}  # fmt: skip
        print(json.dumps({"articles": row["articles"], "vs": base["articles"],
                          **{k: round(v, 2) for k, v in ratios.items()}}))  # fmt: skip


def pg_index_bytes(url: str) -> float:
    from monitor.store.pg import PgStorage

    with closing(PgStorage(url)) as storage:
        row = storage._query("SELECT pg_total_relation_size('search_docs')")
        n = storage.count_search_index()[0]
    return int(row[0][0]) / max(n, 1)


def postgres_row(db: Path, n: int, info: dict[str, Any]) -> dict[str, Any]:
    """The same archive on PostgreSQL: copied, indexed, queried, rendered."""
    from monitor.store.pg import PgStorage, copy_archive
    from tests.pgcluster import PgCluster, find_bindir, unique_name

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit(
            "PostgreSQL server binaries missing (scripts/setup_postgres.sh)"
        )
    cluster = PgCluster(bindir).start()
    try:
        url = cluster.create_database(unique_name("bench"))
        t0 = time.perf_counter()
        with Storage.open_read_only(db) as source, closing(PgStorage(url)) as target:
            copy_archive(source, target)
        row: dict[str, Any] = {"backend": "postgres", "articles": n,
                               "copy_s": time.perf_counter() - t0}  # fmt: skip
        t0 = time.perf_counter()
        with closing(PgStorage(url)) as storage:
            index_pending(storage)
        row["index_s"] = time.perf_counter() - t0
        row["index_bytes_per_article"] = pg_index_bytes(url)
        row.update(query_latency(lambda: PgStorage(url)))
        row.update(render_times(db, datetime.fromisoformat(info["now"]), n, url))
        return row
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
