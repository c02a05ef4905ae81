"""Same-story similarity between two articles: TF-IDF cosine plus shared entities.

The comparison space depends on the pair (issue #5, cross-lingual clustering):

* same language: the original-language stems (best signal, no MT noise);
* different languages: the English side of both (``title_en``/``text_en`` of a
  translated article, the original text of an English one);
* no common language at all (an untranslated Kazakh article against an English
  one): shared numbers only, scaled down (see `NUMBERS_FULL`).

Document frequencies come from the articles the clusterer currently holds (the
time window), so words frequent in today's news weigh little.  An article's
weights are computed once, when it enters the window (`weigh`).

Conflicting headline specifics (different dates; in one language, names the
other article never mentions: `_specifics`) lower the score afterwards
(`penalise_conflicts`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ._features import StoryFeatures
from ._specifics import _mentions, dates_conflict, names_conflict, quotes_conflict

ENTITY_WEIGHT = 0.35  # share of the score given to shared named entities
NUMBER_PREFIX = "#"
NUMBERS_FULL = 3  # shared numbers needed for full weight without a common language
# A pair whose headlines each name someone/somewhere the other article never
# mentions reports different events: its score is multiplied by this (set a
# priori, not fitted: see docs/stories.md).  Different headline dates veto.
CONFLICT_FACTOR = 0.5


@dataclass(frozen=True, slots=True)
class Vectors:
    """The sparse term-count vectors of one article."""

    native: Mapping[str, int]
    english: Mapping[str, int] | None  # None: no English side
    numbers: frozenset[str]
    entities: frozenset[str]
    title_names: frozenset[str] = frozenset()
    title_dates: frozenset[str] = frozenset()
    title_quotes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class _Unit:
    """A TF-IDF vector with its norm."""

    weights: Mapping[str, float]
    norm: float


@dataclass(frozen=True, slots=True)
class Weighted:
    """An article's weighted vectors, ready for cosine comparisons."""

    lang: str
    native: _Unit
    english: _Unit | None
    numbers: frozenset[str]
    number_weights: _Unit
    entities: _Unit
    specifics: Vectors  # for `conflicting` (entity keys, headline names and dates)


def vectors_of(f: StoryFeatures) -> Vectors:
    """Build lookup-friendly vectors from stored features."""
    native = dict(f.terms)
    english: Mapping[str, int] | None = None
    if f.lang == "en":
        english = native
    elif f.terms_en:
        english = dict(f.terms_en)
    numbers = frozenset(t for t in native if t.startswith(NUMBER_PREFIX))
    return Vectors(
        native,
        english,
        numbers,
        frozenset(f.entities),
        frozenset(f.title_names),
        frozenset(f.title_dates),
        frozenset(f.title_quotes),
    )


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

    def snapshot(self, keys: Iterable[str]) -> FrequencySnapshot:
        """The counts of `keys` as they are now (see `FrequencySnapshot`)."""
        df = self._df
        return FrequencySnapshot(self.docs, {k: df[k] for k in keys})

    def add(self, v: Vectors) -> None:
        """Count one document in."""
        self.add_keys(self._keys(v))

    def add_keys(self, keys: set[str]) -> None:
        """Count one document in by its keys (what `add` counts for its vectors)."""
        self._df.update(keys)
        self.docs += 1

    def remove(self, v: Vectors) -> None:
        """Count one document out (it left the time window)."""
        for key in self._keys(v):
            left = self._df[key] - 1
            if left > 0:
                self._df[key] = left
            else:
                del self._df[key]  # keep memory bounded by the window
        self.docs -= 1

    @property
    def counts(self) -> Mapping[str, int]:
        """Documents per key (read-only use)."""
        return self._df

    def df(self, term: str) -> int:
        """Documents containing ``term``."""
        return self._df[term]

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency (never below 1)."""
        return math.log((1 + self.docs) / (1 + self._df[term])) + 1.0


@dataclass(frozen=True, slots=True)
class FrequencySnapshot:
    """The document count and the frequencies of one article's keys at the moment
    it entered the window.  `weigh` with it gives exactly the weights it gives
    with the live counts at that moment (the same numbers, the same float
    operations), so the window can keep this and weigh an article only when it
    is first compared: most never are (issue #19: loading a window weighed
    every article of it)."""

    docs: int
    counts: Mapping[str, int]


def _unit(
    counts: Mapping[str, int], dfs: DocumentFrequencies | FrequencySnapshot
) -> _Unit:
    # `DocumentFrequencies.idf` inlined (the same float operations, in the same
    # order): loading a window weighs every article of it (issue #19).
    docs, df, log = 1 + dfs.docs, dfs.counts, math.log
    weights = {
        t: (1.0 + log(n)) * (log(docs / (1 + df.get(t, 0))) + 1.0)
        for t, n in counts.items()
    }
    return _Unit(weights, math.sqrt(sum(w * w for w in weights.values())))


def weigh(
    f: StoryFeatures, v: Vectors, dfs: DocumentFrequencies | FrequencySnapshot
) -> Weighted:
    """TF-IDF weights of an article under the current document frequencies (or
    those of a snapshot holding every key of the article)."""
    native = _unit(v.native, dfs)
    english = None
    if v.english is not None:
        english = native if v.english is v.native else _unit(v.english, dfs)
    numbers = _unit({t: 1 for t in v.numbers}, dfs)
    entities = _unit({"@" + e: 1 for e in v.entities}, dfs)
    return Weighted(f.lang, native, english, v.numbers, numbers, entities, v)


def _cosine(a: _Unit, b: _Unit) -> float:
    wa, wb = (
        (a.weights, b.weights)
        if len(a.weights) <= len(b.weights)
        else (b.weights, a.weights)
    )
    dot = sum(w * wb[t] for t, w in wa.items() if t in wb)
    return dot / (a.norm * b.norm) if dot else 0.0


def text_similarity(a: Weighted, b: Weighted) -> float:
    """TF-IDF cosine in the best space the two articles share (0 when none)."""
    if a.lang == b.lang:
        return _cosine(a.native, b.native)
    if a.english is not None and b.english is not None:
        return _cosine(a.english, b.english)
    # No shared language: only numbers are comparable, and one shared year
    # proves little, so the cosine is scaled by shared numbers / NUMBERS_FULL.
    shared = len(a.numbers & b.numbers)
    if not shared:
        return 0.0
    scale = min(1.0, shared / NUMBERS_FULL)
    return _cosine(a.number_weights, b.number_weights) * scale


def conflicting(a: Vectors, b: Vectors, *, same_language: bool = True) -> bool:
    """The headlines name different dates, or each names (or quotes) what the
    other never mentions (`_specifics`): evidence of two different events.

    Names are compared only within one language: across scripts the entity
    keys are transliterations, close enough to add evidence (`ENTITY_WEIGHT`)
    but too loose to take it away ("Джонсон" and "Johnson" fold differently).
    """
    if dates_conflict(a.title_dates, b.title_dates):
        return True
    if not same_language:
        return False
    if names_conflict(a.title_names, a.entities, b.title_names, b.entities):
        return True
    return bool(a.title_quotes and b.title_quotes) and quotes_conflict(
        a.title_quotes, frozenset(a.native), b.title_quotes, frozenset(b.native)
    )


def weighted_similarity(a: Weighted, b: Weighted) -> float:
    """``(1 - ENTITY_WEIGHT) * text + ENTITY_WEIGHT * entities`` (text alone
    when neither article has entities), lowered by `penalise_conflicts`."""
    return penalise_conflicts(lexical_similarity(a, b), a, b)


def penalise_conflicts(score: float, a: Weighted, b: Weighted) -> float:
    """0 when the headlines name different dates; ``score * CONFLICT_FACTOR``
    when (same language) each headline names what the other article never
    mentions; else ``score``.  It only ever lowers a score, so a caller may
    skip it for scores already below its threshold."""
    if not score:
        return 0.0
    sa, sb = a.specifics, b.specifics
    if dates_conflict(sa.title_dates, sb.title_dates):
        return 0.0
    if conflicting(sa, sb, same_language=a.lang == b.lang):
        return score * CONFLICT_FACTOR
    return score


def lexical_similarity(a: Weighted, b: Weighted) -> float:
    """The similarity before conflicting specifics are taken into account."""
    text = text_similarity(a, b)
    if not a.entities.weights and not b.entities.weights:
        return text
    if not a.entities.weights or not b.entities.weights:
        return (1.0 - ENTITY_WEIGHT) * text
    ent = _cosine(a.entities, b.entities)
    return (1.0 - ENTITY_WEIGHT) * text + ENTITY_WEIGHT * ent


def story_similarity(
    a: StoryFeatures,
    b: StoryFeatures,
    va: Vectors,
    vb: Vectors,
    dfs: DocumentFrequencies,
) -> float:
    """How likely two articles report the same story, in [0, 1].

    Args:
        a: one article's features.
        b: the other's.
        va: ``vectors_of(a)``.
        vb: ``vectors_of(b)``.
        dfs: document frequencies of the window.

    Returns:
        ``(1 - ENTITY_WEIGHT) * text cosine + ENTITY_WEIGHT * entity cosine``.
    """
    return weighted_similarity(weigh(a, va, dfs), weigh(b, vb, dfs))


@dataclass(frozen=True, slots=True, kw_only=True)
class PairEvidence:
    """Why two articles were (or would be) joined or kept apart (`explain_pair`).

    Every term of the score is here, so ``monitor stories-explain`` can show
    it.  A future score component (e.g. an embedding cosine of the English
    sides) would be one more field and one more line, not a new mechanism.
    """

    space: str  # "ru"/"en"/…: the compared language; "numbers": no common one
    text: float  # TF-IDF cosine in that space
    entities: float | None  # entity-key cosine (None: neither side has entities)
    lexical: float  # the combination of the two, before conflicts
    shared_terms: tuple[str, ...]  # heaviest shared terms, for the reader
    shared_entities: tuple[str, ...]
    dates: tuple[tuple[str, ...], tuple[str, ...]]  # headline dates of a and b
    date_conflict: bool
    novel_names: tuple[tuple[str, ...], tuple[str, ...]]  # headline names the
    # other article never mentions (same language only)
    name_conflict: bool
    novel_quotes: tuple[tuple[str, ...], tuple[str, ...]]
    quote_conflict: bool
    score: float  # after conflicts: what the clusterer compares to the threshold


def _shared(a: _Unit, b: _Unit, n: int) -> tuple[str, ...]:
    common = [(a.weights[t] * b.weights[t], t) for t in a.weights if t in b.weights]
    return tuple(t for _, t in sorted(common, key=lambda wt: (-wt[0], wt[1]))[:n])


def _novel_names(a: Vectors, b: Vectors) -> tuple[str, ...]:
    seen = b.entities | b.title_names
    return tuple(sorted(k for k in a.title_names if not _mentions(k, seen)))


def _novel_quotes(a: Vectors, b: Vectors) -> tuple[str, ...]:
    terms = frozenset(b.native)
    return tuple(
        sorted(q for q in a.title_quotes if not any(t in terms for t in q.split()))
    )


def explain_pair(a: Weighted, b: Weighted, shown: int = 8) -> PairEvidence:
    """The terms of `weighted_similarity` for one pair, and the specifics behind
    its conflict rules.

    Args:
        a: one article's weighted vectors (`weigh`).
        b: the other's.
        shown: how many shared terms and entities to list.

    Returns:
        The evidence; ``evidence.score == weighted_similarity(a, b)``.
    """
    sa, sb = a.specifics, b.specifics
    same = a.lang == b.lang
    if same:
        space, shared = a.lang, _shared(a.native, b.native, shown)
    elif a.english is not None and b.english is not None:
        space, shared = "en", _shared(a.english, b.english, shown)
    else:
        space, shared = "numbers", tuple(sorted(a.numbers & b.numbers))[:shown]
    has_ent = bool(a.entities.weights) and bool(b.entities.weights)
    novel = (_novel_names(sa, sb), _novel_names(sb, sa)) if same else ((), ())
    quotes = (_novel_quotes(sa, sb), _novel_quotes(sb, sa)) if same else ((), ())
    return PairEvidence(
        space=space,
        text=text_similarity(a, b),
        entities=_cosine(a.entities, b.entities) if has_ent else None,
        lexical=lexical_similarity(a, b),
        shared_terms=shared,
        shared_entities=tuple(e[1:] for e in _shared(a.entities, b.entities, shown)),
        dates=(tuple(sorted(sa.title_dates)), tuple(sorted(sb.title_dates))),
        date_conflict=dates_conflict(sa.title_dates, sb.title_dates),
        novel_names=novel,
        name_conflict=same
        and names_conflict(sa.title_names, sa.entities, sb.title_names, sb.entities),
        novel_quotes=quotes,
        quote_conflict=same
        and quotes_conflict(
            sa.title_quotes,
            frozenset(sa.native),
            sb.title_quotes,
            frozenset(sb.native),
        ),
        score=weighted_similarity(a, b),
    )
