"""Story clustering: same-story quality on labelled pairs, duplicate precision, speed.

Usage::

    .venv/bin/python bench/stories.py [--sizes 1000,10000] [--skip-speed] [--experiments]

1. **Same story** on ../shared/corpus/stories/tgcontest-same-story-pairs
   (ru and en, OK = same story): precision/recall/F1 of
   ``story_similarity >= stories.story_threshold`` per language, plus the curve
   over thresholds.  Document frequencies come from the texts of the same file
   (what the clusterer sees: the articles of its window).
2. **Near-duplicates**: every pair of distinct real articles in the corpus
   (tgcontest pairs and categories, tengrinews, BBC) is checked with the same
   MinHash-LSH index the clusterer uses; every flagged pair is a false
   positive unless its texts really are copies (BBC is known to hold a few).
   Edited copies (word substitutions, a dropped and an added sentence) measure
   recall.  Precision = flagged copies / all flagged.
3. **Speed**: a synthetic stream built from corpus texts: articles arrive at a
   constant rate (250/day), 30 % are edited copies of a recent article from
   another outlet, 5 % exact re-posts by the same outlet.  Clustering time for
   each size, per 1,000 articles, the growth ratio, and the ratio against a
   brute-force all-pairs baseline timed in the same run.  Quality of the
   stream (copies found, false merges) is printed too.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
PAIRS = CORPUS / "stories" / "tgcontest-same-story-pairs"

import numpy as np  # noqa: E402
from datasketch import MinHashLSH  # noqa: E402

from monitor.config import StoriesConfig  # noqa: E402
from monitor.stories import (  # noqa: E402
    Assignment,
    Relation,
    StoryCandidate,
    StoryClusterer,
    StoryFeatures,
    compute_features,
    story_similarity,
    vectors_of,
)
from monitor.stories._features import minhash_of  # noqa: E402
from monitor.stories._similarity import (  # noqa: E402
    DocumentFrequencies,
    Weighted,
    conflicting,
    weigh,
    weighted_similarity,
)
from monitor.stories._text import (  # noqa: E402
    _sentences,
    content_terms,
    normalise_words,
    words_of,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
THRESHOLDS = [round(0.05 * i, 2) for i in range(2, 13)]
csv.field_size_limit(10**8)


@dataclass(frozen=True)
class Doc:
    lang: str
    title: str
    text: str
    source: str


# ------------------------------------------------------------------ loading


def _tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def load_pairs(lang: str) -> list[tuple[Doc, Doc, bool]]:
    pairs = []
    for r in _tsv(PAIRS / f"{lang}_pairs.tsv"):
        a = Doc(
            lang, r["INPUT:first_title"], r["INPUT:first_text"], r["INPUT:first_url"]
        )
        b = Doc(
            lang, r["INPUT:second_title"], r["INPUT:second_text"], r["INPUT:second_url"]
        )
        pairs.append((a, b, r["GOLDEN:quality"] == "OK"))
    return pairs


def load_corpus_docs() -> list[Doc]:
    """Distinct real articles (deduplicated by URL or path)."""
    docs: dict[str, Doc] = {}
    for lang in ("ru", "en"):
        for a, b, _ in load_pairs(lang):
            docs.setdefault(a.source, a)
            docs.setdefault(b.source, b)
    cat = CORPUS / "topics" / "tgcontest-toloka-categories"
    for path in sorted(cat.glob("*.tsv")):
        lang = path.name[:2]
        for r in _tsv(path):
            docs.setdefault(
                r["INPUT:url"],
                Doc(lang, r["INPUT:title"], r["INPUT:text"], r["INPUT:url"]),
            )
    tengri = CORPUS / "topics" / "tengrinews-kz-2024" / "tengrinews_articles.jsonl"
    for line in tengri.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        row = json.loads(line)
        docs.setdefault(
            row["page_url"], Doc("ru", row["title"], row["content"], row["page_url"])
        )
    for path in sorted((CORPUS / "topics" / "bbc-news-5class").glob("*/*.txt")):
        title, _, body = path.read_text(encoding="latin-1").partition("\n")
        docs.setdefault(str(path), Doc("en", title.strip(), body.strip(), str(path)))
    return [d for d in docs.values() if len(d.text) > 200]


def features(
    doc: Doc,
    article_id: int,
    cfg: StoriesConfig,
    *,
    outlet: str = "x",
    time: datetime = T0,
    teaser: bool = False,
) -> StoryFeatures:
    cand = StoryCandidate(
        article_id=article_id,
        outlet=outlet,
        lang=doc.lang,
        time=time,
        title=doc.title,
        text=doc.text,
        is_teaser=teaser,
    )
    return compute_features(cand, cfg)


# ------------------------------------------------------------------ 1. same story


def prf(
    scores: list[tuple[float, bool]], threshold: float
) -> tuple[float, float, float]:
    tp = sum(1 for s, ok in scores if s >= threshold and ok)
    fp = sum(1 for s, ok in scores if s >= threshold and not ok)
    fn = sum(1 for s, ok in scores if s < threshold and ok)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def pair_scores(
    lang: str, cfg: StoriesConfig
) -> tuple[list[tuple[float, bool]], list[tuple[float, bool]]]:
    """(story similarity, label) and (MinHash Jaccard, label) for every pair."""
    pairs = load_pairs(lang)
    feats: dict[str, StoryFeatures] = {}
    for a, b, _ in pairs:
        for d in (a, b):
            if d.source not in feats:
                feats[d.source] = features(d, len(feats), cfg)
    dfs = DocumentFrequencies()
    vecs = {k: vectors_of(f) for k, f in feats.items()}
    for v in vecs.values():
        dfs.add(v)
    story, near = [], []
    for a, b, ok in pairs:
        fa, fb = feats[a.source], feats[b.source]
        story.append(
            (story_similarity(fa, fb, vecs[a.source], vecs[b.source], dfs), ok)
        )
        near.append((float(minhash_of(fa, cfg).jaccard(minhash_of(fb, cfg))), ok))
    return story, near


def print_pr_curve(scores: list[tuple[float, bool]]) -> None:
    """Precision/recall at every threshold of `THRESHOLDS`."""
    cells = []
    for t in THRESHOLDS:
        p, r, _ = prf(scores, t)
        cells.append(f"{t:.2f}:{p:.2f}/{r:.2f}")
    print(f"   P/R by threshold {'  '.join(cells)}")


def pair_halves(lang: str) -> list[int]:
    """0 or 1 per pair: pairs sharing a first article fall in the same half
    (alternating by first appearance), so a half never sees the other's texts
    as a pair's anchor.  Any new weight is chosen on half 0 and checked on 1."""
    pairs = load_pairs(lang)
    firsts = list(dict.fromkeys(a.source for a, _, _ in pairs))
    return [firsts.index(a.source) % 2 for a, _, _ in pairs]


def conflict_counts(lang: str, cfg: StoriesConfig) -> tuple[int, int]:
    """(same-story pairs, different-story pairs) whose headline specifics
    conflict: the first is the harm of the negative evidence, the second its use."""
    ok_n = bad_n = 0
    for a, b, ok in load_pairs(lang):
        fa, fb = features(a, 0, cfg), features(b, 1, cfg)
        if conflicting(vectors_of(fa), vectors_of(fb)):
            ok_n += ok
            bad_n += not ok
    return ok_n, bad_n


def bench_same_story(cfg: StoriesConfig) -> None:
    print(f"== same story (tgcontest pairs), story_threshold={cfg.story_threshold}")
    pooled: list[tuple[float, bool]] = []
    for lang in ("ru", "en"):
        story, near = pair_scores(lang, cfg)
        pooled += story
        n_ok = sum(ok for _, ok in story)
        p, r, f = prf(story, cfg.story_threshold)
        print(f"{lang}: {len(story)} pairs ({n_ok} OK)  P={p:.2f} R={r:.2f} F1={f:.2f}")
        curve = "  ".join(f"{t:.2f}:{prf(story, t)[2]:.2f}" for t in THRESHOLDS)
        print(f"   F1 by threshold  {curve}")
        print_pr_curve(story)
        halves = pair_halves(lang)
        for half in (0, 1):
            part = [sc for sc, h in zip(story, halves, strict=True) if h == half]
            p, r, f = prf(part, cfg.story_threshold)
            print(
                f"   half {half}: {len(part)} pairs ({sum(ok for _, ok in part)} OK)"
                f"  P={p:.2f} R={r:.2f} F1={f:.2f}"
            )
        ok_c, bad_c = conflict_counts(lang, cfg)
        print(
            f"   headline specifics conflict: {bad_c} different-story pairs,"
            f" {ok_c} same-story pairs"
        )
        flagged = [(s, ok) for s, ok in near if s >= cfg.near_duplicate_threshold]
        good = sum(ok for _, ok in flagged)
        print(
            f"   near-duplicate (Jaccard >= {cfg.near_duplicate_threshold}): "
            f"{len(flagged)} pairs flagged, {good} are same-story"
        )
    p, r, f = prf(pooled, cfg.story_threshold)
    print(f"ru+en pooled: P={p:.2f} R={r:.2f} F1={f:.2f}")


# ------------------------------------------------------------------ 1b. cross-lingual

WMT = CORPUS / "parallel" / "wmt20-newstest-ru-en"
CHUNK = 5  # consecutive sentences per pseudo-article


def wmt_chunks() -> list[tuple[Doc, Doc]]:
    """Parallel (ru, en) pseudo-articles of CHUNK consecutive newstest sentences."""
    ru = (WMT / "newstest2020.ru-en.ru").read_text(encoding="utf-8").split("\n")
    en = (WMT / "newstest2020.ru-en.en").read_text(encoding="utf-8").split("\n")
    chunks = []
    for i in range(0, min(len(ru), len(en)) - CHUNK + 1, CHUNK):
        r, e = ru[i : i + CHUNK], en[i : i + CHUNK]
        chunks.append(
            (
                Doc("ru", r[0], " ".join(r[1:]), f"ru{i}"),
                Doc("en", e[0], " ".join(e[1:]), f"en{i}"),
            )
        )
    return chunks


def cross_lingual_scores(cfg: StoriesConfig, mode: str) -> list[tuple[float, bool]]:
    """(similarity, same story) of each ru chunk vs its en original and 3 distant
    ones; ``mode`` is "untranslated ru" or "ru + reference translation"."""
    chunks = wmt_chunks()
    rng = random.Random(7)
    feats_en = [features(e, 10_000 + i, cfg) for i, (_, e) in enumerate(chunks)]
    feats_ru = []
    for i, (r, e) in enumerate(chunks):
        en = {"title_en": e.title, "text_en": e.text} if "reference" in mode else {}
        cand = StoryCandidate(
            article_id=i,
            outlet="x",
            lang="ru",
            time=T0,
            title=r.title,
            text=r.text,
            **en,
        )
        feats_ru.append(compute_features(cand, cfg))
    dfs = DocumentFrequencies()
    vecs = {f.article_id: vectors_of(f) for f in feats_ru + feats_en}
    for v in vecs.values():
        dfs.add(v)
    scores = []
    for i, fr in enumerate(feats_ru):
        others = [j for j in range(len(chunks)) if abs(j - i) > 3]
        for j, ok in [(i, True)] + [(j, False) for j in rng.sample(others, 3)]:
            fe = feats_en[j]
            sim = story_similarity(
                fr, fe, vecs[fr.article_id], vecs[fe.article_id], dfs
            )
            scores.append((sim, ok))
    return scores


def bench_cross_lingual(cfg: StoriesConfig) -> None:
    """ru chunk vs its English original (same) and vs 3 distant ones (different)."""
    print(
        f"\n== cross-lingual: {len(wmt_chunks())} parallel ru/en pseudo-articles of "
        f"{CHUNK} newstest2020 sentences; each ru vs its en (same) and 3 distant en"
    )
    for mode in ("untranslated ru", "ru + reference translation"):
        scores = cross_lingual_scores(cfg, mode)
        p, r, f = prf(scores, cfg.story_threshold)
        curve = "  ".join(f"{t:.2f}:{prf(scores, t)[2]:.2f}" for t in THRESHOLDS)
        print(f"{mode}: P={p:.2f} R={r:.2f} F1={f:.2f}\n   F1 by threshold  {curve}")
        print_pr_curve(scores)


# ------------------------------------------------------------------ 2. near-duplicates


def edit_copy(doc: Doc, rng: random.Random, rate: float = 0.04) -> Doc:
    """A republished copy: ~4 % words substituted, last sentence dropped, one added."""
    words = doc.text.split()
    for i in rng.sample(range(len(words)), k=int(len(words) * rate)):
        words[i] = rng.choice(words)
    text = " ".join(words)
    sentences = text.split(". ")
    if len(sentences) > 3:
        sentences = sentences[:-1]
    extra = "Подробности уточняются" if doc.lang == "ru" else "More details to follow"
    return replace(
        doc, text=". ".join([extra, *sentences]), source=doc.source + "#copy"
    )


def bench_near(cfg: StoriesConfig) -> None:
    docs = load_corpus_docs()
    rng = random.Random(5)
    print(
        f"\n== near-duplicates over {len(docs)} distinct corpus articles "
        f"(threshold {cfg.near_duplicate_threshold}, num_perm {cfg.num_perm}, "
        f"shingles of {cfg.shingle_size} words)"
    )
    feats = [features(d, i, cfg) for i, d in enumerate(docs)]
    copies_of = rng.sample(range(len(docs)), k=200)
    copies = [
        features(edit_copy(docs[i], rng), len(docs) + n, cfg)
        for n, i in enumerate(copies_of)
    ]
    lsh = MinHashLSH(threshold=cfg.near_duplicate_threshold, num_perm=cfg.num_perm)
    for f in feats + copies:
        lsh.insert(f.article_id, minhash_of(f, cfg))
    truth = {(i, len(docs) + n) for n, i in enumerate(copies_of)}
    flagged = set()
    everything = feats + copies
    for f in everything:
        # The clusterer's own decision (LSH, Jaccard, figures) against one article.
        for other in lsh.query(minhash_of(f, cfg)):
            if other < f.article_id:
                pair = StoryClusterer(cfg, [(other, everything[other])])
                if pair.assign(replace(f, outlet="other")).relation == Relation.NEAR:
                    flagged.add((other, f.article_id))
    tp = len(flagged & truth)
    extra = sorted(flagged - truth)
    print(f"edited copies found: {tp}/{len(truth)} (recall {tp / len(truth):.3f})")
    print(
        f"flagged pairs: {len(flagged)}; not planted copies: {len(extra)} "
        f"-> precision >= {tp / max(1, len(flagged)):.3f} (lower bound: see below)"
    )
    all_docs = docs + [docs[i] for i in copies_of]
    for a, b in extra:
        print(f"   {all_docs[a].title[:50]!r} ~ {all_docs[b].title[:50]!r}")


# ------------------------------------------------------------------ 3. speed


def stream(
    docs: list[Doc], n: int, rng: random.Random, per_day: int = 250
) -> Iterator[tuple[StoryCandidate, int]]:
    """Yield (candidate, true story) in time order; copies share the true story."""
    step = timedelta(days=1) / per_day
    recent: list[tuple[StoryCandidate, int]] = []
    pool = docs[:]
    rng.shuffle(pool)
    for i in range(n):
        t = T0 + i * step
        roll = rng.random()
        if recent and roll < 0.35:
            base, story = rng.choice(recent[-200:])
            same_outlet = roll < 0.05
            doc = Doc("ru", base.title, base.text, "")
            if not same_outlet:
                doc = edit_copy(replace(doc, lang=base.lang), rng)
            cand = replace(
                base,
                article_id=i,
                time=t,
                text=doc.text,
                outlet=base.outlet if same_outlet else f"outlet{rng.randrange(40)}",
            )
        else:
            d = pool[i % len(pool)]
            cand = StoryCandidate(
                article_id=i,
                outlet=f"outlet{rng.randrange(40)}",
                lang=d.lang,
                time=t,
                title=d.title,
                text=d.text,
            )
            story = i
        recent.append((cand, story))
        yield cand, story


def bench_speed(cfg: StoriesConfig, sizes: list[int]) -> None:
    docs = load_corpus_docs()
    print(
        f"\n== speed: synthetic stream from {len(docs)} corpus texts, 250 articles/day, "
        f"window {cfg.window_hours:.0f} h"
    )
    per_k: dict[int, float] = {}
    for n in sizes:
        rng = random.Random(n)
        items = list(stream(docs, n, rng))
        t = time.perf_counter()
        feats = [compute_features(c, cfg) for c, _ in items]
        t_feat = time.perf_counter() - t
        clusterer = StoryClusterer(cfg)
        blocks: list[float] = []  # seconds per successive 1,000 articles
        out: list[Assignment] = []
        for start in range(0, n, 1000):
            t = time.perf_counter()
            out += [clusterer.assign(f) for f in feats[start : start + 1000]]
            blocks.append(time.perf_counter() - t)
        t_clu = sum(blocks)
        per_k[n] = t_clu / n * 1000
        truth = {c.article_id: s for c, s in items}
        check_quality(out, truth, n)
        print(
            f"n={n:>6}: features {t_feat:6.1f}s  clustering {t_clu:6.1f}s  "
            f"= {per_k[n]:.2f}s per 1,000 articles; last 1,000 took {blocks[-1]:.2f}s"
            f" (window holds {len(clusterer)})"
        )
    if len(sizes) > 1:
        a, b = sizes[0], sizes[-1]
        print(
            f"growth: time per article at {b} / at {a} = {per_k[b] / per_k[a]:.2f} "
            f"(1.0 = linear, {b / a:.0f} = quadratic); the first 1,000 fill the "
            f"window, so steady state is the 'last 1,000' figure"
        )
    baseline(cfg, docs, sizes[0], per_k[sizes[0]])


def check_quality(out: list[Assignment], truth: dict[int, int], n: int) -> None:
    """Copies found, and per relation the share of links that join true copies."""
    got = {a.article_id: a.story_id for a in out}
    copies = [i for i, s in truth.items() if s != i]
    found = sum(1 for i in copies if got[i] == got[truth[i]])
    wrong = sum(1 for i, s in truth.items() if s == i and got[i] != i)
    print(
        f"   copies grouped {found}/{len(copies)}; originals joined to another "
        f"corpus article {wrong}/{n - len(copies)} (the corpus holds same-story sets)"
    )
    for rel in (Relation.EXACT, Relation.NEAR, Relation.STORY):
        links = [a for a in out if a.relation == rel and a.matched_id is not None]
        good = sum(1 for a in links if truth[a.article_id] == truth[a.matched_id])
        share = good / len(links) if links else 1.0
        print(f"   {rel}: {len(links)} links, {good} join planted copies ({share:.3f})")


def baseline(cfg: StoriesConfig, docs: list[Doc], n: int, per_k: float) -> None:
    """Brute force: score every new article against every earlier one in the window."""
    items = [compute_features(c, cfg) for c, _ in stream(docs, n, random.Random(n))]
    dfs = DocumentFrequencies()
    window = timedelta(hours=cfg.window_hours)
    weighted: list[Weighted] = []
    t = time.perf_counter()
    for i, f in enumerate(items):
        v = vectors_of(f)
        dfs.add(v)
        weighted.append(weigh(f, v, dfs))
        for j in range(i):
            if f.time - items[j].time <= window:
                weighted_similarity(weighted[i], weighted[j])
    brute = (time.perf_counter() - t) / n * 1000
    print(
        f"baseline all-pairs scoring at n={n}: {brute:.2f}s per 1,000 articles; "
        f"clusterer/baseline = {per_k / brute:.2f}"
    )


# ------------------------------------------------------------------ 4. experiments (#17)

EVENT_LEAD = 40  # body words read for event terms
SCORER_FEATURES = ("lex", "ev", "title")


def _proper(word: str) -> bool:
    """The likeliest pymorphy3 reading of a word is a proper noun."""
    from monitor.classify._morph import _analyse_word, fold

    readings, _ = _analyse_word(fold(word))
    return bool(readings) and max(readings, key=lambda r: r.score).proper


def event_terms(doc: Doc) -> Counter[str]:
    """Stems of the title (three times) and lead without names and numbers:
    what happened, not who or where.  Names are capitalised words after a
    sentence's first, and first words whose likeliest parse is a proper noun
    (pymorphy3 grammemes Name/Surn/Geox/Orgn/...)."""
    counts: Counter[str] = Counter()
    parts = [doc.title, *_sentences(doc.text)]
    seen = 0
    for k, part in enumerate(parts):
        for i, word in enumerate(words_of(part)):
            if k and seen >= EVENT_LEAD:
                return counts
            seen += k > 0
            if word[0].isupper() and (i > 0 or _proper(word)):
                continue
            terms = [t for t in content_terms([word.lower()], doc.lang) if t[0] != "#"]
            counts.update(terms * (3 if k == 0 else 1))
    return counts


def _tfidf_cos(a: Counter[str], b: Counter[str], df: Counter[str], n: int) -> float:
    def unit(c: Counter[str]) -> dict[str, float]:
        return {
            t: (1 + math.log(k)) * (math.log((1 + n) / (1 + df[t])) + 1)
            for t, k in c.items()
        }

    wa, wb = unit(a), unit(b)
    dot = sum(w * wb[t] for t, w in wa.items() if t in wb)
    if not dot:
        return 0.0
    norm = math.sqrt(sum(w * w for w in wa.values()) * sum(w * w for w in wb.values()))
    return dot / norm


def pair_rows(lang: str, cfg: StoriesConfig) -> list[dict[str, float]]:
    """Per labelled pair: the lexical score (``lex``), the event-term cosine
    (``ev``), the title-only cosine (``title``), the label and the half."""
    pairs = load_pairs(lang)
    docs = {d.source: d for a, b, _ in pairs for d in (a, b)}
    events = {k: event_terms(d) for k, d in docs.items()}
    titles = {
        k: Counter(content_terms(normalise_words(d.title), lang))
        for k, d in docs.items()
    }
    df: Counter[str] = Counter()
    for c in (*events.values(), *titles.values()):
        df.update(set(c))
    story, _ = pair_scores(lang, cfg)
    rows = []
    for (a, b, ok), (lex, _), half in zip(pairs, story, pair_halves(lang), strict=True):
        rows.append(
            {
                "lex": lex,
                "ev": _tfidf_cos(events[a.source], events[b.source], df, len(docs)),
                "title": _tfidf_cos(titles[a.source], titles[b.source], df, len(docs)),
                "ok": float(ok),
                "half": float(half),
            }
        )
    return rows


def _logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> np.ndarray:
    """Weights (bias last) of an L2-regularised logistic regression."""
    x1 = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(x1.shape[1])
    for _ in range(5000):
        p = 1 / (1 + np.exp(-(x1 @ w)))
        w -= (x1.T @ (p - y) + l2 * np.r_[w[:-1], 0.0]) / len(y)
    return w


def _held_out(
    rows: list[dict[str, float]], accept, label: str, threshold: float
) -> None:
    """Print P/R/F1 on each half of ``accept(train_rows)`` fitted on the other."""
    cells = []
    for test in (0, 1):
        train = [r for r in rows if r["half"] != test]
        rule = accept(train)
        part = [r for r in rows if r["half"] == test]
        scored = [
            (1.0 if r["lex"] >= threshold and rule(r) else 0.0, r["ok"] > 0)
            for r in part
        ]
        p, r_, f = prf(scored, 0.5)
        cells.append(f"half {test}: P={p:.2f} R={r_:.2f} F1={f:.2f}")
    print(f"   {label:<44} " + "  ".join(cells))


@contextmanager
def lemmatised_terms() -> Iterator[None]:
    """Russian TF-IDF terms from pymorphy3 lemmas (monitor.classify._morph, with
    its token-length cap) instead of Snowball stems, for the duration."""
    from monitor.classify._morph import _analyse_word, _likely_lemmas
    from monitor.stories import _text

    stem = _text._stem

    def lemma(word: str, lang: str) -> str:
        readings, known = _analyse_word(word)
        if lang != "ru" or not known:
            return stem(word, lang)
        return min(_likely_lemmas(readings))

    _text._stem = lemma  # type: ignore[assignment]
    try:
        yield
    finally:
        _text._stem = stem


def bench_experiments(cfg: StoriesConfig) -> None:
    """What was tried for issue #17 and not kept: each choice is fitted on one
    half of the pairs and measured on the other (`pair_halves`)."""
    t = cfg.story_threshold
    print(f"\n== experiments (issue #17), held out by half, threshold {t}")
    for lang in ("ru", "en"):
        rows = pair_rows(lang, cfg)
        print(f"{lang}:")
        _held_out(rows, lambda _: lambda r: True, "current score (nothing fitted)", t)

        def gate(train: list[dict[str, float]]):
            def f1_of(floor: float) -> float:
                s = [(r["lex"] * min(1.0, r["ev"] / floor), r["ok"] > 0) for r in train]
                return prf(s, t)[2]

            floor = max((0.1, 0.15, 0.2, 0.25, 0.3), key=f1_of)
            return lambda r: r["lex"] * min(1.0, r["ev"] / floor) >= t

        _held_out(rows, gate, "event gate: lex x min(1, ev / floor), floor fitted", t)

        def scorer(train: list[dict[str, float]]):
            near = [r for r in train if r["lex"] >= 0.7 * t]
            x = np.array([[r[c] for c in SCORER_FEATURES] for r in near])
            w = _logistic(x, np.array([r["ok"] for r in near]))
            return lambda r: float(np.r_[[r[c] for c in SCORER_FEATURES], 1.0] @ w) >= 0

        _held_out(
            rows, scorer, f"2nd-stage logistic over {'/'.join(SCORER_FEATURES)}", t
        )
    with lemmatised_terms():
        for lang in ("ru",):
            story, _ = pair_scores(lang, cfg)
            halves = pair_halves(lang)
            cells = []
            for half in (0, 1):
                part = [sc for sc, h in zip(story, halves, strict=True) if h == half]
                p, r, f = prf(part, t)
                cells.append(f"half {half}: P={p:.2f} R={r:.2f} F1={f:.2f}")
            p, r, f = prf(story, t)
            print(
                f"{lang} with pymorphy3 lemmas in TF-IDF: P={p:.2f} R={r:.2f} F1={f:.2f}  "
                + "  ".join(cells)
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument(
        "--experiments",
        action="store_true",
        help="also run the held-out experiments of issue #17 (event terms, scorer)",
    )
    args = parser.parse_args()
    if not PAIRS.is_dir():
        print(f"../shared not found: {PAIRS}", file=sys.stderr)
        return 2
    cfg = StoriesConfig()
    bench_same_story(cfg)
    bench_cross_lingual(cfg)
    if args.experiments:
        bench_experiments(cfg)
    bench_near(cfg)
    if not args.skip_speed:
        bench_speed(cfg, [int(s) for s in args.sizes.split(",")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
