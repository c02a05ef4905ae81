"""The synthetic archive shared by bench/archive.py and bench/search.py (#19, #15).

    .venv/bin/python bench/_archive_build.py --size 1000000 [--out /tmp/sb]

builds ``/tmp/sb/a-1000000.db`` (and ``a-1000000.json``: when it was built, how
long it took, the ``now`` it ends at).  An existing file is reused by the benches
with ``--reuse``.

An archive of N articles spans DAYS days ending at ``now`` (ids grow with time,
N / DAYS articles a day, as in real use), FEEDS feeds, Russian and English text
from the corpus (Telegram-contest news with their English translations, Russian
only, BBC), every stage complete: extraction, translation (done / no model / not
needed / failed and parked), filings with config/topics.toml, stories of three
copies with real story features (those older than the window plus
``[stories] keep_features_days`` dropped as the runs of each day drop them), and
the search index.

It goes through the storage write API (``add_feed_items``, ``save_extraction``,
``save_translation``, ``save_filings``, ``add_story_members``,
``save_search_docs``), so it exercises the real schema on either backend.  What
makes it fast:

* one transaction per batch of BATCH articles (``Storage.write_batch``) instead of
  one per write;
* the text is a corpus text in one of VARIANTS variants (an added sentence of
  another text, a name sentence), so only len(texts) x VARIANTS texts exist:
  classification, the search document and the story features are computed once
  per distinct text and reused (with the article's own id, outlet and time).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import random
import sys
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.classify import classify_article, compile_topics  # noqa: E402
from monitor.config import StoriesConfig  # noqa: E402
from monitor.models import (  # noqa: E402
    Article,
    Assignment,
    Extracted,
    FeedItem,
    FeedSpec,
    Relation,
    SearchDoc,
    TextSource,
    Topics,
    Translation,
    TranslationStatus,
)
from monitor.retention import features_keep_cutoff  # noqa: E402
from monitor.search._index import build_search_doc  # noqa: E402
from monitor.store import Storage  # noqa: E402
from monitor.stories import (  # noqa: E402
    StoryCandidate,
    StoryFeatures,
    compute_features,
    features_to_bytes,
)

CORPUS = (
    Path("/work/shared/corpus")
    if Path("/work/shared/corpus").is_dir()
    else ROOT.parent / "shared" / "corpus"
)
OUT = Path("/tmp/sb")
DAYS = 365
FEEDS = 30
BATCH = 2000
VARIANTS = 4
SEED_NAMES = ("Тимур Кулибаев", "Касым-Жомарт Токаев", "Kulibayev")

Text = tuple[str, str, str, str | None, str | None]  # title, text, lang, t_en, x_en


# ---------------------------------------------------------------------- texts


def read_tsv(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def load_texts(corpus: Path = CORPUS) -> list[Text]:
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


def topics_config() -> dict[str, Any]:
    return tomllib.loads((ROOT / "config" / "topics.toml").read_text("utf-8"))


def variant(texts: list[Text], key: tuple[int, int]) -> Text:
    """Text ``base`` in variant ``v``: 0 as is, 1-2 plus a sentence of another
    text of its language, 3 plus a sentence naming a person searched for."""
    base, v = key
    title, text, lang, t_en, x_en = texts[base]
    if v in (1, 2):
        other = texts[(base * 7919 + v * 104729) % len(texts)]
        if other[2] == lang:
            text = f"{text}\n{other[1].split('. ')[0]}."
    elif v == 3:
        text += f"\n{SEED_NAMES[base % 3]} заявил об этом журналистам."
    return title, text, lang, t_en, x_en


def text_key(i: int, n_texts: int) -> tuple[int, int]:
    return i % n_texts, (i // n_texts) % VARIANTS


# ---------------------------------------------------------------------- memo


class Derived:
    """What classification, indexing and stories compute, once per distinct text."""

    def __init__(self, texts: list[Text]) -> None:
        self.texts = texts
        self.rules = compile_topics(topics_config())
        self.stories_cfg = StoriesConfig()
        self._topics: dict[tuple[int, int], Topics] = {}
        self._docs: dict[tuple[int, ...], SearchDoc] = {}
        self._features: dict[tuple[int, ...], StoryFeatures] = {}

    def topics(self, key: tuple[int, int]) -> Topics:
        if key not in self._topics:
            title, text, lang, t_en, x_en = variant(self.texts, key)
            self._topics[key] = classify_article(
                self.rules, title=title, text=text, lang=lang, title_en=t_en,
                text_en=x_en)  # fmt: skip
        return self._topics[key]

    def search_doc(self, key: tuple[int, ...], a: Article) -> SearchDoc:
        doc = self._docs.get(key)
        if doc is None:
            doc = self._docs[key] = build_search_doc(a)
        return SearchDoc(article_id=a.id, title=doc.title, body=doc.body,
                         title_en=doc.title_en, body_en=doc.body_en,
                         aliases=doc.aliases)  # fmt: skip

    def features(self, key: tuple[int, ...], a: Article, at: datetime) -> bytes:
        """`features_to_bytes` of the text's features with this article's id,
        outlet and time: the features are computed once per text (most of the
        cost), the encoding (cheap) once per article."""
        f = self._features.get(key)
        if f is None:
            f = self._features[key] = compute_features(
                _candidate(a, at), self.stories_cfg
            )
        return features_to_bytes(
            dataclasses.replace(f, article_id=a.id, outlet=a.outlet, time=at)
        )


def _candidate(a: Article, at: datetime) -> StoryCandidate:
    return StoryCandidate(
        article_id=a.id, outlet=a.outlet, lang=(a.lang or "und").lower(), time=at,
        title=a.title, text=a.text, title_en=a.title_en, text_en=a.text_en)  # fmt: skip


# ---------------------------------------------------------------------- build


def feed_specs(url: str = "https://feed{i}.example/rss") -> list[FeedSpec]:
    return [
        FeedSpec(name=f"feed{i}", url=url.format(i=i), outlet=f"Outlet {i}",
                 lang="ru" if i % 3 else "en", country="Kazakhstan")
        for i in range(FEEDS)
    ]  # fmt: skip


def seen_at(i: int, n: int, now: datetime) -> datetime:
    """Oldest first, evenly over DAYS days (ids grow with time, as in real use)."""
    return now - timedelta(seconds=int((n - i) * DAYS * 86400 / n))


def build(db: Path, texts: list[Text], n: int, now: datetime) -> float:
    """Write n articles into a new database; returns seconds."""
    derived = Derived(texts)
    stories_cfg = StoriesConfig()
    rng = random.Random(n)
    t0 = time.perf_counter()
    with Storage(db) as storage:
        # a bigger page cache for this connection only (the default 2 MB thrashes
        # on the indexes of a growing archive); the schema is untouched
        storage._db.execute("PRAGMA cache_size = -262144")
        storage.sync_feeds(feed_specs())
        for start in range(0, n, BATCH):
            with storage.write_batch():
                _write_batch(storage, derived, range(start, min(n, start + BATCH)),
                             n, now, rng)  # fmt: skip
            # what the runs of that day did: drop the features that aged out
            # (Pipeline.drop_old_story_features; their pages are reused)
            day = seen_at(min(n, start + BATCH) - 1, n, now)
            cutoff = features_keep_cutoff(
                day,
                window_hours=stories_cfg.window_hours,
                keep_features_days=stories_cfg.keep_features_days,
            )
            storage.drop_story_features(cutoff, limit=n)
            if start and start % (10 * BATCH) == 0:
                rate = start / (time.perf_counter() - t0)
                print(f"built {start} articles, {rate:.0f}/s", flush=True)
    return time.perf_counter() - t0


def _items(texts: list[Text], ids: range, n: int, now: datetime, rng: random.Random):
    by_poll: dict[tuple[str, datetime], list[tuple[FeedItem, str]]] = {}
    for i in ids:
        title = variant(texts, text_key(i, len(texts)))[0]
        seen = seen_at(i, n, now)
        published = seen - timedelta(minutes=rng.randrange(0, 2 * 1440))
        url = f"https://feed{i % FEEDS}.example/a/{i}"
        item = FeedItem(feed_name=f"feed{i % FEEDS}", entry_id=str(i), link=url,
                        title=title, published=published)  # fmt: skip
        # one poll per feed per hour: first_seen comes in runs, like cron
        key = (item.feed_name, seen.replace(minute=0, second=0))
        by_poll.setdefault(key, []).append((item, url))
    return sorted(by_poll.items(), key=lambda kv: kv[0][1])


def _write_batch(storage: Storage, derived: Derived, ids: range, n: int,
                 now: datetime, rng: random.Random) -> None:  # fmt: skip
    texts = derived.texts
    for (_, at), items in _items(texts, ids, n, now, rng):
        storage.add_feed_items(items, at)
    pending = {a.url: a for a, _ in storage.get_articles_needing_extraction(10 * BATCH)}
    filings, assignments, docs = [], [], []
    for i in ids:
        key = text_key(i, len(texts))
        title, text, lang, t_en, x_en = variant(texts, key)
        a = pending[f"https://feed{i % FEEDS}.example/a/{i}"]
        storage.save_extraction(a.id, Extracted(
            text=text, title=title, author=None, published=a.published, lang=lang,
            canonical_url=a.url, source=TextSource.PAGE), now)  # fmt: skip
        translated = _translate(storage, a.id, i, lang, t_en, x_en, now)
        filings.append((a.id, derived.topics(key)))
        dkey = (*key, translated[0] is not None)  # the same text, translated or not
        full = a  # only read on the first article of each dkey
        if dkey not in derived._docs or dkey not in derived._features:
            full = dataclasses.replace(a, text=text, lang=lang, extract_status="done",
                                       title_en=translated[0], text_en=translated[1])  # fmt: skip
        docs.append(derived.search_doc(dkey, full))
        at = a.published or a.first_seen
        story = a.id - ((a.id - 1) % 3)  # stories of three copies: ids 1-3, 4-6...
        assignments.append((Assignment(
            article_id=a.id, story_id=story,
            relation=Relation.SEED if story == a.id else Relation.STORY,
            score=1.0, time=at), derived.features(dkey, full, at)))  # fmt: skip
    storage.save_filings(filings)
    assignments.sort(key=lambda x: x[0].article_id)  # seeds before their copies
    storage.add_story_members(assignments, now=now)
    storage.save_search_docs(docs, [d.article_id for d in docs])


def _translate(storage: Storage, article_id: int, i: int, lang: str,
               t_en: str | None, x_en: str | None,
               now: datetime) -> tuple[str | None, str | None]:  # fmt: skip
    if i % 211 == 0:  # failed three times: parked (max_attempts 3)
        for _ in range(3):
            storage.record_article_error(article_id, "translate", "boom", now)
        storage.set_translation_status(article_id, TranslationStatus.FAILED, "x", now)
        return None, None
    if lang == "en":
        status, t, x = TranslationStatus.NOT_NEEDED, None, None
    elif t_en:
        status, t, x = TranslationStatus.DONE, t_en, x_en
    else:  # no ru->en model installed, as in the archives
        status, t, x = TranslationStatus.NO_MODEL, None, None
    storage.save_translation(article_id, Translation(
        src=lang, dst="en", title=t, text=x, engine="corpus", status=status), now)  # fmt: skip
    return t, x


# ---------------------------------------------------------------------- files


def db_path(n: int, out: Path = OUT) -> Path:
    return out / f"a-{n}.db"


def ensure(n: int, *, reuse: bool, out: Path = OUT,
           texts: list[Text] | None = None) -> dict[str, Any]:  # fmt: skip
    """The archive of n articles: reused when asked and complete, else built.

    Returns the sidecar record: ``db``, ``now`` (ISO), ``build_s``, ``articles``.
    """
    db, meta = db_path(n, out), db_path(n, out).with_suffix(".json")
    if reuse and db.is_file() and meta.is_file():
        info: dict[str, Any] = json.loads(meta.read_text())
        return info | {"db": str(db), "reused": True}
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    meta.unlink(missing_ok=True)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    seconds = build(db, texts or load_texts(), n, now)
    info = {"articles": n, "now": now.isoformat(), "build_s": round(seconds, 1),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
    meta.write_text(json.dumps(info))  # written last: a killed build is not reused
    return info | {"db": str(db), "reused": False}


def iter_sizes(spec: str) -> Iterator[int]:
    return (int(s) for s in spec.split(","))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    print(json.dumps(ensure(args.size, reuse=args.reuse, out=args.out)), flush=True)


if __name__ == "__main__":
    main()
