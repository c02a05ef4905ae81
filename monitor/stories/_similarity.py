"""Same-story similarity between two articles: TF-IDF cosine plus shared entities.

The comparison space depends on the pair (issue #5, cross-lingual clustering):

* same language: the original-language stems (best signal, no MT noise);
* different languages: the English side of both (``title_en``/``text_en`` of a
  translated article, the original text of an English one);
* no common language at all (an untranslated Kazakh article against an English
  one): entities and numbers only.

Document frequencies come from the articles the clusterer currently holds (the
time window), so words frequent in today's news weigh little.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ._features import StoryFeatures

ENTITY_WEIGHT = 0.35  # share of the score given to shared named entities
NUMBER_PREFIX = "#"
NUMBERS_FULL = 3  # shared numbers needed for full weight without a common language


@dataclass(frozen=True, slots=True)
class Vectors:
    """The sparse term-count vectors of one article."""

    native: Mapping[str, int]
    english: Mapping[str, int] | None  # None: no English side
    numbers: frozenset[str]
    entities: frozenset[str]


def vectors_of(f: StoryFeatures) -> Vectors:
    """Build lookup-friendly vectors from stored features."""
    native = dict(f.terms)
    english: Mapping[str, int] | None = None
    if f.lang == "en":
        english = native
    elif f.terms_en:
        english = dict(f.terms_en)
    numbers = frozenset(t for t in native if t.startswith(NUMBER_PREFIX))
    return Vectors(native, english, numbers, frozenset(f.entities))


class DocumentFrequencies:
    """Counts of documents per term (terms, English terms and ``@entity`` keys)."""

    def __init__(self) -> None:
        self._df: Counter[str] = Counter()
        self.docs = 0

    @staticmethod
    def _keys(v: Vectors) -> set[str]:
        keys = set(v.native)
        if v.english is not None:
            keys.update(v.english)
        keys.update("@" + e for e in v.entities)
        return keys

    def add(self, v: Vectors) -> None:
        """Count one document in."""
        self._df.update(self._keys(v))
        self.docs += 1

    def remove(self, v: Vectors) -> None:
        """Count one document out (it left the time window)."""
        self._df.subtract(self._keys(v))
        self.docs -= 1

    def df(self, term: str) -> int:
        """Documents containing ``term``."""
        return self._df[term]

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency (never below 1)."""
        return math.log((1 + self.docs) / (1 + self._df[term])) + 1.0


def _weights(vec: Mapping[str, int], dfs: DocumentFrequencies) -> dict[str, float]:
    return {t: (1.0 + math.log(n)) * dfs.idf(t) for t, n in vec.items()}


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(w * b[t] for t, w in a.items() if t in b)
    if dot == 0.0:
        return 0.0
    na = math.sqrt(sum(w * w for w in a.values()))
    nb = math.sqrt(sum(w * w for w in b.values()))
    return dot / (na * nb)


def _set_cosine(a: Iterable[str], b: Iterable[str], dfs: DocumentFrequencies) -> float:
    wa = {t: dfs.idf("@" + t) for t in a}
    wb = {t: dfs.idf("@" + t) for t in b}
    return _cosine(wa, wb) if wa and wb else 0.0


def text_similarity(
    a: Vectors, b: Vectors, lang_a: str, lang_b: str, dfs: DocumentFrequencies
) -> float:
    """TF-IDF cosine in the best space the two articles share (0 when none)."""
    if lang_a == lang_b:
        return _cosine(_weights(a.native, dfs), _weights(b.native, dfs))
    if a.english is not None and b.english is not None:
        return _cosine(_weights(a.english, dfs), _weights(b.english, dfs))
    # No shared language: only numbers are comparable, and one shared year
    # proves little, so the cosine is scaled by shared numbers / NUMBERS_FULL.
    shared = len(a.numbers & b.numbers)
    if not shared:
        return 0.0
    nums_a = _weights({t: 1 for t in a.numbers}, dfs)
    nums_b = _weights({t: 1 for t in b.numbers}, dfs)
    return _cosine(nums_a, nums_b) * min(1.0, shared / NUMBERS_FULL)


def story_similarity(
    a: StoryFeatures,
    b: StoryFeatures,
    va: Vectors,
    vb: Vectors,
    dfs: DocumentFrequencies,
) -> float:
    """How likely two articles report the same story, in [0, 1].

    ``(1 - ENTITY_WEIGHT) * text cosine + ENTITY_WEIGHT * entity cosine``; when
    neither article has entities the text cosine alone.
    """
    text = text_similarity(va, vb, a.lang, b.lang, dfs)
    if not va.entities and not vb.entities:
        return text
    ent = _set_cosine(va.entities, vb.entities, dfs)
    return (1.0 - ENTITY_WEIGHT) * text + ENTITY_WEIGHT * ent
