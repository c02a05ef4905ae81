"""Search benchmark (issue #15): query latency, index size, indexing cost, page renders.

    .venv/bin/python bench/search.py [--sizes 20000,100000] [--corpus ../shared/corpus]
                                     [--backend sqlite|postgres]

For each size a synthetic archive is built through the storage write API
(feeds, items, extraction, translation, filings; realistic Russian/English text
from the corpus: Telegram-contest news with their translations, BBC, Tengrinews),
once *without* the index stage (the baseline run) and then indexed (the index
stage alone), so the indexing cost is a ratio against the same run.  Then 20
realistic queries run 5 times each (p50/p95), and the day and story pages render
through the real Starlette app.  Every figure at a larger size is also given as
a ratio against the smallest size measured in the same run.

``--backend postgres`` also measures PostgreSQL in the same run, on the same
archive: it is copied into a throw-away cluster (tests/pgcluster.py, Debian's
server binaries) with `monitor migrate`'s `copy_archive`, indexed there by the
same index stage, and queried and rendered the same way (a row per backend).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.classify import classify_article, compile_topics  # noqa: E402
from monitor.config import Config, StoreConfig  # noqa: E402
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
from monitor.search import index_pending, search_archive  # noqa: E402
from monitor.store import Storage, StorageType  # noqa: E402

Opener = Callable[[], StorageType]

CORPUS = (
    Path("/work/shared/corpus")
    if Path("/work/shared/corpus").is_dir()
    else ROOT.parent / "shared" / "corpus"
)
NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
DAYS = 365
BATCH = 1000
QUERIES = (
    "Кулибаев", "Kulibayev", "дрон", "Токаев AND визит", '"Центральная Азия"',
    "Путин NEAR/5 переговоры", "нефть OR газ", "выборы AND NOT спорт", "инфляц*",
    "Казахстан AND (экспорт OR импорт)", "drone", "election AND NOT football",
    '"prime minister"', "oil NEAR/3 price*", "Kazakhstan OR Uzbekistan",
    "протест OR митинг", "банк AND кредит", "Almaty", "Москва NEAR/10 санкции",
    "football AND (goal OR match)",
)  # fmt: skip
SEED_NAMES = ("Тимур Кулибаев", "Касым-Жомарт Токаев", "Kulibayev")


def read_tsv(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


Text = tuple[str, str, str, str | None, str | None]  # title, text, lang, t_en, x_en


def load_texts(corpus: Path) -> list[Text]:
    """Russian news with English translations, Russian-only news, English news."""
    tg = corpus / "topics" / "tgcontest-toloka-categories"
    out: list[Text] = []
    for name in ("en_cat_honey.tsv", "en_cat_training.tsv"):
        for r in read_tsv(tg / name):
            if r.get("INPUT:trans_text"):
                out.append((r["INPUT:trans_title"], r["INPUT:trans_text"], "ru",
                            r["INPUT:title"], r["INPUT:text"]))  # fmt: skip
    for name in ("ru_cat_honey.tsv", "ru_cat_training.tsv"):
        for r in read_tsv(tg / name):
            out.append((r["INPUT:title"], r["INPUT:text"], "ru", None, None))
    for path in sorted((corpus / "topics" / "bbc-news-5class").rglob("*.txt")):
        title, _, text = path.read_text(encoding="latin-1").partition("\n")
        out.append((title.strip(), text.strip(), "en", None, None))
    return [t for t in out if t[1].strip()]


def synthetic(
    texts: list[Text], n: int, rng: random.Random
) -> Iterator[tuple[int, Text]]:
    """n articles: a corpus text plus a sentence of another (no two alike)."""
    for i in range(n):
        title, text, lang, t_en, x_en = texts[i % len(texts)]
        other = texts[rng.randrange(len(texts))]
        if other[2] == lang:
            text = f"{text}\n{other[1].split('. ')[0]}."
        if i % 97 == 0:
            text += f"\n{SEED_NAMES[i % 3]} заявил об этом журналистам."
        yield i, (title, text, lang, t_en, x_en)


def build(db: Path, texts: list[Text], n: int) -> dict[str, float]:
    """The baseline run: feeds, items, extraction, translation, filing, stories."""
    rules = compile_topics(_topics())
    rng = random.Random(n)
    feeds = [FeedSpec(name=f"feed{i}", url=f"https://feed{i}.example/rss",
                      outlet=f"Outlet {i}", lang="ru", country="Kazakhstan")
             for i in range(20)]  # fmt: skip
    t0 = time.perf_counter()
    with Storage(db) as storage:
        storage.sync_feeds(feeds)
        articles = list(synthetic(texts, n, rng))
        for start in range(0, n, BATCH):
            chunk = articles[start : start + BATCH]
            _write_batch(storage, rules, chunk)
        queued = storage.count_search_index()[1]
    return {"build_s": time.perf_counter() - t0, "queued": queued}


def _write_batch(storage: Storage, rules, chunk: list[tuple[int, Text]]) -> None:
    items = []
    for i, (title, *_rest) in chunk:
        url = f"https://feed{i % 20}.example/a/{i}"
        published = NOW - timedelta(minutes=(i * 7919) % (DAYS * 1440))
        items.append((FeedItem(feed_name=f"feed{i % 20}", entry_id=str(i), link=url,
                               title=title, published=published), url))  # fmt: skip
    for feed in {it.feed_name for it, _ in items}:
        storage.add_feed_items([x for x in items if x[0].feed_name == feed], NOW)
    pending = {a.url: a for a, _ in storage.get_articles_needing_extraction(10 * BATCH)}
    assignments = []
    for i, (title, text, lang, t_en, x_en) in chunk:
        a = pending[f"https://feed{i % 20}.example/a/{i}"]
        storage.save_extraction(a.id, Extracted(
            text=text, title=title, author=None, published=a.published, lang=lang,
            canonical_url=a.url, source=TextSource.PAGE), NOW)  # fmt: skip
        if t_en:
            storage.save_translation(a.id, Translation(
                src="ru", dst="en", title=t_en, text=x_en, engine="corpus",
                status=TranslationStatus.DONE), NOW)  # fmt: skip
        topics = classify_article(rules, title=title, text=text, lang=lang,
                                  title_en=t_en, text_en=x_en)  # fmt: skip
        storage.save_filings([(a.id, topics)])
        story = a.id - ((a.id - 1) % 3)  # stories of three copies: ids 1-3, 4-6...
        assignments.append((Assignment(
            article_id=a.id, story_id=story,
            relation=Relation.SEED if story == a.id else Relation.STORY,
            score=1.0, time=a.published or NOW), b""))  # fmt: skip
    assignments.sort(key=lambda x: x[0].article_id)  # seeds before their copies
    storage.add_story_members(assignments, now=NOW)


def _topics() -> dict[str, object]:
    import tomllib

    return tomllib.loads((ROOT / "config" / "topics.toml").read_text("utf-8"))


def index(open_store: Opener) -> float:
    t0 = time.perf_counter()
    with closing(open_store()) as storage:
        index_pending(storage)
    return time.perf_counter() - t0


def query_latency(open_store: Opener, repeat: int = 5) -> dict[str, float]:
    rules = compile_topics(_topics())
    times: list[float] = []
    hits = 0
    with closing(open_store()) as storage:
        for q in QUERIES:  # warm the lemmatiser caches once
            search_archive(storage, q, rules=rules, limit=20)
        for _ in range(repeat):
            for q in QUERIES:
                t0 = time.perf_counter()
                found = search_archive(storage, q, rules=rules, limit=20)
                times.append(time.perf_counter() - t0)
                hits += bool(found.results)
    times.sort()
    return {
        "p50_ms": 1000 * statistics.median(times),
        "p95_ms": 1000 * times[int(0.95 * (len(times) - 1))],
        "queries_with_results": hits / repeat,
    }


def index_bytes(db: Path) -> float:
    with Storage(db) as storage:
        size = storage._db.execute(
            "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search_fts%'"
        ).fetchone()[0]
        n = storage.count_search_index()[0]
    return size / max(n, 1)


def pg_index_bytes(url: str) -> float:
    from monitor.store.pg import PgStorage

    with closing(PgStorage(url)) as storage:
        row = storage._query("SELECT pg_total_relation_size('search_docs')")
        n = storage.count_search_index()[0]
    return int(row[0][0]) / max(n, 1)


def render_times(db: Path, url: str | None = None) -> dict[str, float]:
    from starlette.testclient import TestClient

    from monitor.web import create_app

    cfg = Config(store=StoreConfig(path=db, url=url), topics=_topics())
    day = (NOW - timedelta(days=3)).date().isoformat()
    out: dict[str, float] = {}
    with TestClient(create_app(cfg)) as client:
        for name, path in (("day_ms", f"/day/{day}"), ("story_ms", "/story/1")):
            client.get(path)
            samples = []
            for _ in range(5):
                t0 = time.perf_counter()
                response = client.get(path)
                samples.append(time.perf_counter() - t0)
                assert response.status_code == 200, (path, response.status_code)
            out[name] = 1000 * statistics.median(samples)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--keep", type=Path, help="Folder to keep the databases in.")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite",
                        help="postgres: SQLite and PostgreSQL in the same run.")  # fmt: skip
    args = parser.parse_args()
    texts = load_texts(args.corpus)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        for n in (int(s) for s in args.sizes.split(",")):
            db = folder / f"search-{n}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            row: dict[str, float | str] = {"backend": "sqlite", "articles": n,
                                           **build(db, texts, n)}  # fmt: skip
            row["index_s"] = index(lambda db=db: Storage(db))
            row["index_share"] = row["index_s"] / (row["build_s"] + row["index_s"])
            row["index_bytes_per_article"] = index_bytes(db)
            row.update(query_latency(lambda db=db: Storage(db)))
            row.update(render_times(db))
            results.append(row)
            print(json.dumps(row), flush=True)
            if args.backend == "postgres":
                pg_row = postgres_row(db, n)
                print(json.dumps(pg_row), flush=True)
    base = results[0]
    for row in results[1:]:
        ratios = {k: row[k] / base[k] for k in ("p50_ms", "p95_ms", "day_ms",
                  "story_ms", "index_bytes_per_article") if base[k]}  # fmt: skip
        print(json.dumps({"articles": row["articles"], "vs": base["articles"],
                          **{k: round(v, 2) for k, v in ratios.items()}}))  # fmt: skip


def postgres_row(db: Path, n: int) -> dict[str, float | str]:
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
        with Storage(db) as source, closing(PgStorage(url)) as target:
            copy_archive(source, target)
        row: dict[str, float | str] = {"backend": "postgres", "articles": n,
                                       "copy_s": time.perf_counter() - t0}  # fmt: skip
        row["index_s"] = index(lambda: PgStorage(url))
        row["index_bytes_per_article"] = pg_index_bytes(url)
        row.update(query_latency(lambda: PgStorage(url)))
        row.update(render_times(db, url))
        return row
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
