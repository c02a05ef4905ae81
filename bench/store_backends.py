"""Storage backends side by side (issue #13): the same write-API work on SQLite
and on PostgreSQL, timed in the same run, reported as a ratio to SQLite.

    .venv/bin/python bench/store_backends.py [--articles 2000] [--batch 50]

PostgreSQL is a throw-away cluster on 127.0.0.1 started here (tests/pgcluster.py,
needs Debian's postgresql: scripts/setup_postgres.sh); SQLite is a WAL file in
a temporary directory.  Work per backend, each step in the pipeline's own
transaction shape: poll (add_feed_items, one transaction per batch of
``--batch`` items), extract (save_extraction, one per article), translate
(save_translation, one per article), classify (save_filings, one per 500),
then the reads `monitor status` makes (stage counts, story counts, failures,
feed states), 20 times.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.models import (  # noqa: E402
    Extracted,
    FeedItem,
    FeedSpec,
    TextSource,
    TopicMatch,
    Topics,
    Translation,
    TranslationStatus,
)
from monitor.store import Storage, StorageType  # noqa: E402
from monitor.store.pg import PgStorage  # noqa: E402
from tests.pgcluster import PgCluster, find_bindir  # noqa: E402

NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
TEXT = "Правительство Казахстана обсудило цены на газ и электроэнергию. " * 30


def work(storage: StorageType, articles: int, batch: int) -> dict[str, float]:
    storage.sync_feeds(
        [
            FeedSpec(
                name=f"f{i}",
                url=f"https://f{i}.example/",
                lang="ru",
                outlet="O",
                country="KZ",
            )
            for i in range(10)
        ]
    )
    items = [
        (FeedItem(feed_name=f"f{i % 10}", entry_id=f"e{i}", link=f"https://n.example/{i}",
                  title=f"Заголовок {i}", published=NOW - timedelta(minutes=i), summary="Кратко."),
         f"https://n.example/{i}")
        for i in range(articles)
    ]  # fmt: skip
    out: dict[str, float] = {}
    out["poll"] = _timed(
        lambda: [
            storage.add_feed_items(items[s : s + batch], NOW)
            for s in range(0, articles, batch)
        ]
    )
    ids = [a.id for a, _ in storage.get_articles_needing_extraction(articles)]
    out["extract"] = _timed(
        lambda: [
            storage.save_extraction(
                i,
                Extracted(
                    text=TEXT,
                    title="t",
                    author=None,
                    published=None,
                    lang="ru",
                    canonical_url=f"https://n.example/{i - 1}",
                    source=TextSource.PAGE,
                ),
                NOW,
            )
            for i in ids
        ]
    )
    tr = Translation(
        src="ru",
        dst="en",
        title="T",
        text="E " * 200,
        engine="bench",
        status=TranslationStatus.DONE,
    )
    out["translate"] = _timed(
        lambda: [storage.save_translation(i, tr, NOW) for i in ids]
    )
    topics = Topics(
        labels=(
            TopicMatch(
                facet="topic",
                label="energy",
                score=1.0,
                rule="r",
                terms=("газ",),
                matched=("газ",),
            ),
        )
    )
    out["classify"] = _timed(
        lambda: [
            storage.save_filings([(i, topics) for i in ids[s : s + 500]])
            for s in range(0, len(ids), 500)
        ]
    )
    out["status x20"] = _timed(lambda: [_status_reads(storage) for _ in range(20)])
    assert storage.get_stage_counts()["classify"] == {"done": articles}
    return out


def _status_reads(storage: StorageType) -> object:
    return (
        storage.get_stage_counts(),
        storage.get_story_counts(),
        storage.get_recent_failures(),
        storage.get_feed_states(),
    )


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    bindir = find_bindir()
    if bindir is None:
        sys.exit("PostgreSQL server binaries not found (scripts/setup_postgres.sh)")
    cluster = PgCluster(bindir).start()
    try:
        cluster.create_database("bench")
        with tempfile.TemporaryDirectory() as tmp:
            with Storage(Path(tmp) / "bench.db") as sqlite:
                base = work(sqlite, args.articles, args.batch)
            pg = PgStorage(cluster.url("bench"))
            try:
                other = work(pg, args.articles, args.batch)
            finally:
                pg.close()
    finally:
        cluster.stop()
    print(
        f"{args.articles} articles, batch {args.batch}; seconds and PostgreSQL/SQLite"
    )
    print(f"{'step':<12} {'sqlite':>8} {'postgresql':>11} {'ratio':>6}")
    for step, seconds in base.items():
        print(
            f"{step:<12} {seconds:8.2f} {other[step]:11.2f} {other[step] / seconds:6.2f}"
        )
    total_s, total_p = sum(base.values()), sum(other.values())
    print(f"{'total':<12} {total_s:8.2f} {total_p:11.2f} {total_p / total_s:6.2f}")


if __name__ == "__main__":
    main()
