"""Retention figures (issue #19): size per article before and after `monitor prune`.

    .venv/bin/python bench/prune.py [--size 10000] [--keep-days 90]

Builds the synthetic year of bench/archive.py (365 days, corpus text, every
stage complete), gives every article its real story features and the
translation cache its sentences, then runs the pipeline's prune of everything
first seen more than ``--keep-days`` days before the archive's newest day, as
`monitor prune --older-than` does.  Prints the database size per article
before and after (each after VACUUM, so freed pages count), the time the dry
run and the prune took, and what the prune removed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.archive import NOW, build  # noqa: E402
from bench.search import CORPUS, load_texts  # noqa: E402
from monitor import search, stories, translate  # noqa: E402
from monitor.config import Config, StoriesConfig, TranslateConfig  # noqa: E402
from monitor.pipeline import Pipeline  # noqa: E402
from monitor.runtime import no_progress  # noqa: E402
from monitor.store import Storage  # noqa: E402


def enrich(db: Path) -> None:
    """Real story features, the article's sentences in the translation cache,
    and the search index."""
    cfg = StoriesConfig()
    with Storage(db) as storage:
        ids = [r[0] for r in storage._query("SELECT id FROM articles ORDER BY id")]
        for start in range(0, len(ids), 1000):
            articles = storage.get_articles(ids[start : start + 1000])
            blobs, cache = [], {}
            for a in articles:
                f = stories.compute_features(stories.candidate_from_article(a), cfg)
                blobs.append((stories.features_to_bytes(f), a.id))
                if a.translation_engine and a.text_en:
                    for key in translate.article_cache_keys(
                        a.translation_engine, a.title, a.text
                    ):
                        cache[key] = a.text_en[:120]  # about a sentence of English
            with storage._tx() as tx:
                tx.executemany(
                    "UPDATE story_features SET features = ? WHERE article_id = ?", blobs
                )
            storage.add_cached_translations("corpus", cache, NOW)
        search.index_pending(storage)  # the full-text index, bodies included


def vacuumed_size(
    db: Path, folder: Path, name: str, n: int, *, optimize: bool = False
) -> int:
    """The size after VACUUM of a copy (after merging the FTS5 segments with
    ``optimize``); prints bytes per article per table."""
    copy = folder / name
    with closing(sqlite3.connect(db)) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(db, copy)
    with closing(sqlite3.connect(copy)) as raw:
        if optimize:
            raw.execute("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
            raw.commit()
        raw.execute("VACUUM")
        rows = raw.execute(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    print(name, {t: round(size / n) for t, size in rows if size / n >= 50})
    return copy.stat().st_size


def prune(db: Path, keep_days: int) -> dict[str, float]:
    cfg = Config(translate=TranslateConfig(backend="none"))
    before = NOW - timedelta(days=keep_days)
    out: dict[str, float] = {}
    with Storage(db) as storage:
        # prune makes no HTTP call: a client that is never used
        pipeline = Pipeline(cfg=cfg, storage=storage, client=httpx.Client(),
                            progress=no_progress)  # fmt: skip
        t0 = time.perf_counter()
        dry = pipeline.prune_archive(before, dry_run=True)
        out["dry_run_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = pipeline.prune_archive(before)
        out["prune_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        search.index_pending(storage)  # what the next run's index stage does
        out["reindex_s"] = time.perf_counter() - t0
        assert report.articles == dry.articles
        out.update(
            pruned=report.articles,
            body_bytes=report.body_bytes,
            feature_bytes=report.feature_bytes,
            cache_rows=report.cache_rows,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--keep-days", type=int, default=90)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    n = args.size
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = folder / "monitor.db"
        row: dict[str, float] = {
            "articles": n,
            "build_s": build(db, load_texts(args.corpus), n),
        }
        enrich(db)
        row["bytes_per_article_before"] = (
            vacuumed_size(db, folder, "before.db", n, optimize=True) / n
        )
        row.update(prune(db, args.keep_days))
        row["bytes_per_article_after"] = vacuumed_size(db, folder, "after.db", n) / n
        row["bytes_per_article_after_fts_optimize"] = (
            vacuumed_size(db, folder, "optimized.db", n, optimize=True) / n
        )
        kept = n - row["pruned"]
        # a pruned article's own share: what is left once the kept ones are counted
        for key in ("after", "after_fts_optimize"):
            row[f"bytes_per_pruned_article_{key}"] = (
                row[f"bytes_per_article_{key}"] * n
                - row["bytes_per_article_before"] * kept
            ) / max(1.0, row["pruned"])
    print(json.dumps({k: round(v, 3) for k, v in row.items()}, indent=1))


if __name__ == "__main__":
    main()
