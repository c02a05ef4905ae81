"""Incremental story clustering: assign each new article to a story or start one.

`StoryClusterer` is pure (no clock, no I/O).  It is seeded with the stored
features of the articles of the time window, then fed new articles in time
order.  For each it decides, in this order (issue #5):

1. **exact**: same outlet, same normalised title (at least `EXACT_MIN_WORDS`
   words), within the window, and the bodies are not clearly different;
2. **near**: MinHash-LSH over word shingles of the original text finds a copy
   with estimated Jaccard >= ``near_duplicate_threshold`` whose figures agree
   and whose headline specifics do not conflict (`_specifics`);
3. **story**: the best candidate from the term/entity inverted index scores
   >= ``story_threshold`` (see `_similarity.story_similarity`; conflicting
   headline dates or names lower the score);
4. otherwise the article **seeds** a new story whose id is the article's id.

Members are never moved: an article that joined a story stays there, and a
later article can only join.  Candidates come from LSH buckets and from an
inverted index restricted to the window, with postings capped, so the work
per article does not grow with the archive.
"""

from __future__ import annotations

import gc
import heapq
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import numpy as np

from ..config import StoriesConfig
from ._features import StoryFeatures
from ._similarity import (
    DocumentFrequencies,
    FrequencySnapshot,
    Vectors,
    Weighted,
    conflicting,
    lexical_similarity,
    penalise_conflicts,
    vectors_of,
    weigh,
)
from ._types import Assignment, Relation

logger = logging.getLogger(__name__)

EXACT_MIN_WORDS = 4  # shorter titles ("Погода", "Прогноз погоды") are not identities
EXACT_MIN_JACCARD = 0.2  # two full texts this different are different articles
MIN_FIGURES = 3  # numbers needed in both texts before figures are compared
FIGURES_AGREE = 0.5  # Jaccard of the number sets a near-duplicate must reach
MIN_SHINGLES = 8  # fewer shingles: too short for MinHash to mean anything
QUERY_TERMS = 16  # rarest-weighted terms of a new article looked up in the index
QUERY_ENTITIES = 12
MAX_CANDIDATES = 100  # scored per new article, by number of shared index keys
MIN_HITS = 2  # a candidate sharing one looked-up key only is not scored
MAX_POSTING_SHARE = 0.2  # keys in more of the window than this are not looked up


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a window is loaded (issue #19).

    Loading 9,000 articles allocates millions of small sets, dicts and tuples;
    the collector's passes over that growing heap took about 40 % of the load.
    Nothing loaded forms a cycle (reference counting frees it all), and what
    the collector finds afterwards is collected as soon as it is re-enabled.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class StoryClusterer:
    """Assign articles to stories, one at a time, against a time window.

    Args:
        config: the ``[stories]`` section.
        known: ``(story_id, features)`` of already assigned articles, typically
            the window before the oldest new article (`Storage.get_story_features`).
    """

    def __init__(
        self, config: StoriesConfig, known: Iterable[tuple[int, StoryFeatures]] = ()
    ) -> None:
        self.config = config
        self.window = timedelta(hours=config.window_hours)
        self._lsh = _Bands(config.near_duplicate_threshold, config.num_perm)
        self._features: dict[int, StoryFeatures] = {}
        self._vectors: dict[int, Vectors] = {}
        self._weighted: dict[int, Weighted | FrequencySnapshot] = {}
        self._hashes: dict[int, np.ndarray] = {}
        self._story_of: dict[int, int] = {}
        self._postings: dict[str, set[int]] = {}
        self._titles: dict[tuple[str, str], list[int]] = {}
        self._by_time: list[tuple[datetime, int]] = []
        self._dfs = DocumentFrequencies()
        with paused_gc():
            for story_id, features in sorted(
                known, key=lambda k: (k[1].time, k[1].article_id)
            ):
                self._add(features, story_id)

    def __len__(self) -> int:
        return len(self._features)

    def story_of(self, article_id: int) -> int | None:
        """The story an article in the window belongs to."""
        return self._story_of.get(article_id)

    # ------------------------------------------------------------------ public

    def assign(self, features: StoryFeatures) -> Assignment:
        """Decide the story of one new article and add it to the window.

        An article already known (e.g. re-run on the same input) keeps its story.

        Args:
            features: the new article (`compute_features`).

        Returns:
            The assignment; ``relation == "seed"`` means a new story.
        """
        known = self._story_of.get(features.article_id)
        if known is not None:
            return Assignment(
                article_id=features.article_id,
                story_id=known,
                relation=Relation.SEED
                if known == features.article_id
                else Relation.STORY,
                score=1.0,
                time=features.time,
            )
        self._evict(features.time - self.window)
        assignment = self._decide(features)
        self._add(features, assignment.story_id)
        logger.debug(
            "story article=%d story=%d relation=%s score=%.3f",
            assignment.article_id,
            assignment.story_id,
            assignment.relation,
            assignment.score,
        )
        return assignment

    def assign_all(self, batch: Iterable[StoryFeatures]) -> list[Assignment]:
        """Assign a batch in a deterministic order (time, then article id)."""
        ordered = sorted(batch, key=lambda f: (f.time, f.article_id))
        return [self.assign(f) for f in ordered]

    # ------------------------------------------------------------------ decisions

    def _decide(self, f: StoryFeatures) -> Assignment:
        for finder in (self._find_exact, self._find_near, self._find_story):
            found = finder(f)
            if found is not None:
                relation, score, other = found
                return Assignment(
                    article_id=f.article_id,
                    story_id=self._story_of[other],
                    relation=relation,
                    score=round(score, 4),
                    time=f.time,
                    matched_id=other,
                )
        return Assignment(
            article_id=f.article_id,
            story_id=f.article_id,
            relation=Relation.SEED,
            score=1.0,
            time=f.time,
        )

    def _in_window(self, f: StoryFeatures, other_id: int) -> bool:
        return abs(self._features[other_id].time - f.time) <= self.window

    def _find_exact(self, f: StoryFeatures) -> tuple[Relation, float, int] | None:
        if len(f.title_key.split()) < EXACT_MIN_WORDS:
            return None
        for other in self._titles.get((f.outlet, f.title_key), ()):
            if self._in_window(f, other) and not self._bodies_differ(f, other):
                return Relation.EXACT, 1.0, other
        return None

    def _bodies_differ(self, f: StoryFeatures, other_id: int) -> bool:
        o = self._features[other_id]
        if f.is_teaser or o.is_teaser or not (self._sketched(f) and self._sketched(o)):
            return False
        return self._jaccard(f, o) < EXACT_MIN_JACCARD

    def _jaccard(self, a: StoryFeatures, b: StoryFeatures) -> float:
        ha, hb = self._hashes_of(a), self._hashes_of(b)
        if ha.size != hb.size:  # stored under another num_perm: not comparable
            return 0.0
        return float(np.count_nonzero(ha == hb)) / max(1, ha.size)

    def _sketched(self, f: StoryFeatures) -> bool:
        """Long enough for MinHash, and sketched with this config's num_perm."""
        return (
            f.shingle_count >= MIN_SHINGLES
            and len(f.minhash) == 4 * self.config.num_perm
        )

    def _figures_agree(self, a: StoryFeatures, b: StoryFeatures) -> bool:
        """A copy keeps the figures; a recurring template (rates, weather) does not."""
        na = (
            self._vectors[a.article_id].numbers
            if a.article_id in self._vectors
            else (vectors_of(a).numbers)
        )
        nb = self._vectors[b.article_id].numbers
        if min(len(na), len(nb)) < MIN_FIGURES:
            return True
        return len(na & nb) / len(na | nb) >= FIGURES_AGREE

    def _specifics_conflict(self, a: StoryFeatures, b: StoryFeatures) -> bool:
        """A copy keeps the headline's dates and names; a template reused for
        another day or city (forecasts, protest round-ups) does not."""
        va = self._vectors.get(a.article_id) or vectors_of(a)
        return conflicting(va, self._vectors[b.article_id])

    def _hashes_of(self, f: StoryFeatures) -> np.ndarray:
        cached = self._hashes.get(f.article_id)
        if cached is not None:
            return cached
        return np.frombuffer(f.minhash, dtype="<u4")

    def _find_near(self, f: StoryFeatures) -> tuple[Relation, float, int] | None:
        if not self._sketched(f):
            return None
        best: tuple[float, datetime, int] | None = None
        for other in sorted(self._lsh.query(self._hashes_of(f))):
            o = self._features[other]
            if o.lang != f.lang or not self._in_window(f, other):
                continue
            j = self._jaccard(f, o)
            if (
                j >= self.config.near_duplicate_threshold
                and self._figures_agree(f, o)
                and not self._specifics_conflict(f, o)
            ):
                key = (-j, o.time, other)
                best = key if best is None or key < best else best
        return None if best is None else (Relation.NEAR, -best[0], best[2])

    def _find_story(self, f: StoryFeatures) -> tuple[Relation, float, int] | None:
        v = vectors_of(f)
        w = weigh(f, v, self._dfs)
        best: tuple[float, datetime, int] | None = None
        for other in self._candidates(v):
            if not self._in_window(f, other):
                continue
            o = self._features[other]
            o_w = self._weights(other)
            score = lexical_similarity(w, o_w)
            if score < self.config.story_threshold:
                continue  # conflicts only lower a score: skip the check
            score = penalise_conflicts(score, w, o_w)
            if score >= self.config.story_threshold:
                key = (-score, o.time, other)
                best = key if best is None or key < best else best
        return None if best is None else (Relation.STORY, -best[0], best[2])

    def _weights(self, article_id: int) -> Weighted:
        """A window article's weights, from the frequencies kept when it entered."""
        w = self._weighted[article_id]
        if isinstance(w, FrequencySnapshot):
            v = self._vectors[article_id]
            w = self._weighted[article_id] = weigh(self._features[article_id], v, w)
        return w

    # ------------------------------------------------------------------ index

    def _query_keys(self, v: Vectors) -> Iterator[str]:
        for vec in (v.native, v.english):
            if vec:
                ranked = sorted(vec, key=lambda t: (-self._dfs.idf(t) * vec[t], t))
                yield from ranked[:QUERY_TERMS]
        ents = sorted(v.entities, key=lambda e: (-self._dfs.idf("@" + e), e))
        yield from ("@" + e for e in ents[:QUERY_ENTITIES])

    def _candidates(self, v: Vectors) -> list[int]:
        cap = max(50, int(MAX_POSTING_SHARE * len(self._features)))
        hits: Counter[int] = Counter()
        for key in set(self._query_keys(v)):
            posting = self._postings.get(key, ())
            if 0 < len(posting) <= cap:
                hits.update(posting)
        ranked = sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))
        return [a for a, n in ranked[:MAX_CANDIDATES] if n >= MIN_HITS]

    @staticmethod
    def _index_keys(f: StoryFeatures) -> set[str]:
        keys = {t for t, _ in f.terms} | {t for t, _ in f.terms_en}
        keys.update("@" + e for e in f.entities)
        return keys

    def _add(self, f: StoryFeatures, story_id: int) -> None:
        if f.article_id in self._features:
            return
        self._features[f.article_id] = f
        self._story_of[f.article_id] = story_id
        v = self._vectors[f.article_id] = vectors_of(f)
        keys = self._index_keys(f)
        if f.lang != "en" or not f.terms_en:  # the same keys as the counts' own
            self._dfs.add_keys(keys)
        else:
            self._dfs.add(v)
        # Weights are fixed when the article enters the window (the outcome then
        # depends only on the order articles arrive in): the frequencies they
        # need are kept now, the weights computed on its first comparison.
        self._weighted[f.article_id] = self._dfs.snapshot(keys)
        self._hashes[f.article_id] = np.frombuffer(f.minhash, dtype="<u4")
        postings, article_id = self._postings, f.article_id
        for key in keys:
            posting = postings.get(key)
            if posting is None:
                postings[key] = {article_id}
            else:
                posting.add(article_id)
        self._titles.setdefault((f.outlet, f.title_key), []).append(f.article_id)
        if self._sketched(f):
            self._lsh.insert(f.article_id, self._hashes[f.article_id])
        heapq.heappush(self._by_time, (f.time, f.article_id))

    def _evict(self, before: datetime) -> None:
        while self._by_time and self._by_time[0][0] < before:
            _, article_id = heapq.heappop(self._by_time)
            self._remove(article_id)

    def _remove(self, article_id: int) -> None:
        f = self._features.pop(article_id)
        self._story_of.pop(article_id)
        self._dfs.remove(self._vectors.pop(article_id))
        del self._weighted[article_id], self._hashes[article_id]
        for key in self._index_keys(f):
            posting = self._postings[key]
            posting.discard(article_id)
            if not posting:
                del self._postings[key]
        titles = self._titles[(f.outlet, f.title_key)]
        titles.remove(article_id)
        if not titles:
            del self._titles[(f.outlet, f.title_key)]
        if self._sketched(f):
            self._lsh.remove(article_id, np.frombuffer(f.minhash, dtype="<u4"))


class _Bands:
    """MinHash-LSH buckets: datasketch's ``MinHashLSH`` banding (the same bands
    and rows for the threshold, so the same candidates), kept as one dict per
    band keyed by the band's raw values.  Inserting 9,000 articles into
    datasketch's index took a second, most of it per-call overhead (#19).
    """

    def __init__(self, threshold: float, num_perm: int) -> None:
        from datasketch import MinHashLSH  # heavy (scipy): loaded when clustering

        self.ranges: list[tuple[int, int]] = list(
            MinHashLSH(threshold=threshold, num_perm=num_perm).hashranges
        )
        self.tables: list[dict[bytes, set[int]]] = [{} for _ in self.ranges]

    def _keys(self, values: np.ndarray) -> list[bytes]:
        raw = values.tobytes()
        return [raw[4 * a : 4 * b] for a, b in self.ranges]

    def insert(self, key: int, values: np.ndarray) -> None:
        for band, table in zip(self._keys(values), self.tables, strict=True):
            table.setdefault(band, set()).add(key)

    def remove(self, key: int, values: np.ndarray) -> None:
        for band, table in zip(self._keys(values), self.tables, strict=True):
            bucket = table[band]
            bucket.discard(key)
            if not bucket:
                del table[band]

    def query(self, values: np.ndarray) -> set[int]:
        found: set[int] = set()
        for band, table in zip(self._keys(values), self.tables, strict=True):
            found.update(table.get(band, ()))
        return found
