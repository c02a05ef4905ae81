"""Evaluate compiled rules on an article: pure functions, no I/O.

An article has up to two *views*: the original text (tagged with its language)
and the English translation.  ``ru`` queries run on a Russian original, ``en``
queries on the English original or the translation, ``any`` queries on both.
A rule scores on the view where it found most (never the sum of both, so a
translated article is not counted twice).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from ._model import (
    CAlt,
    CAnd,
    Category,
    CNear,
    CNode,
    CNot,
    COr,
    CPhrase,
    CTerm,
    Query,
    Rule,
)
from ._morph import Token, analyse
from ._rules import MAX_NEAR

BODY_OFFSET_GAP = MAX_NEAR + 2  # no phrase or NEAR spans title and body


@dataclass(frozen=True, slots=True)
class Hit:
    """A matched span [start, end] (token positions) and the rule term it matched."""

    start: int
    end: int
    term: str


@dataclass(slots=True)
class Doc:
    """One view of an article, tokenised and indexed by match key."""

    lang: str  # ru | en | other
    tokens: list[Token | None]
    index: dict[str, list[int]]
    title_end: int
    keyset: frozenset[str] = frozenset()
    # Results of entity/tag references, shared by many categories: id(node) -> hits.
    memo: dict[int, list[Hit] | None] = field(default_factory=dict)

    def surface(self, hit: Hit) -> str:
        words = [
            t.surface for t in self.tokens[hit.start : hit.end + 1] if t is not None
        ]
        return " ".join(words)


def build_doc(
    title: str,
    text: str,
    lang: str,
    *,
    extra_keys: Callable[[str], frozenset[str]] | None = None,
) -> Doc:
    """Tokenise and index a title and a body (positions: title first, then a gap).

    `extra_keys(surface)` adds keys to a word (search: the Latin spellings of a
    Cyrillic name); it is called once per distinct surface word.
    """
    head = _analysed(title, extra_keys)
    tokens: list[Token | None] = [
        *head,
        *([None] * BODY_OFFSET_GAP),
        *_analysed(text, extra_keys),
    ]
    index: dict[str, list[int]] = {}
    for pos, tok in enumerate(tokens):
        if tok is not None:
            for key in tok.keys:
                index.setdefault(key, []).append(pos)
    return Doc(
        lang=lang,
        tokens=tokens,
        index=index,
        title_end=len(head),
        keyset=frozenset(index),
    )


def _analysed(
    text: str, extra_keys: Callable[[str], frozenset[str]] | None
) -> list[Token]:
    tokens = analyse(text)
    if extra_keys is None:
        return tokens
    return [_extended(t, extra_keys) for t in tokens]


@lru_cache(maxsize=1 << 16)
def _extended(token: Token, extra_keys: Callable[[str], frozenset[str]]) -> Token:
    """`token` with `extra_keys(surface)` added (shared, like the token itself)."""
    extra = extra_keys(token.surface)
    return Token(token.surface, token.keys | extra, token.folded) if extra else token


# ---------------------------------------------------------------- evaluation


def evaluate(node: CNode, doc: Doc) -> list[Hit] | None:
    """Hits of `node` in `doc`: None when it does not match, [] when it matches
    without a position (``A AND NOT B`` contributes nothing for the NOT part)."""
    if isinstance(node, CTerm):
        return _term_hits(node, doc) or None
    if isinstance(node, CPhrase):
        return _phrase_hits(node, doc) or None
    if isinstance(node, CAlt):
        return _alt(node, doc)
    if isinstance(node, CAnd):
        return _and(node, doc)
    if isinstance(node, COr):
        found = [evaluate(c, doc) for c in node.children]
        if all(f is None for f in found):
            return None
        return [h for f in found if f for h in f]
    if isinstance(node, CNot):
        return [] if evaluate(node.child, doc) is None else None
    return _near(node, doc)


def _alt(node: CAlt, doc: Doc) -> list[Hit] | None:
    if node.anchor is not None and node.anchor.isdisjoint(doc.keyset):
        return None
    key = id(node)
    if key not in doc.memo:
        hits = [
            Hit(h.start, h.end, node.label)
            for a in node.alts
            for h in evaluate(a, doc) or ()
        ]
        doc.memo[key] = hits or None
    return doc.memo[key]


def _term_positions(term: CTerm, doc: Doc) -> list[int]:
    if term.prefix is not None:
        return [
            pos
            for pos, tok in enumerate(doc.tokens)
            if tok is not None and tok.folded.startswith(term.prefix)
        ]
    if term.keys.isdisjoint(doc.keyset):
        return []
    found: set[int] = set()
    for key in term.keys:
        found.update(doc.index.get(key, ()))
    return sorted(found)


def _term_hits(term: CTerm, doc: Doc) -> list[Hit]:
    return [Hit(p, p, term.label) for p in _term_positions(term, doc)]


def _word_at(term: CTerm, doc: Doc, pos: int) -> bool:
    tok = doc.tokens[pos] if pos < len(doc.tokens) else None
    if tok is None:
        return False
    if term.prefix is not None:
        return tok.folded.startswith(term.prefix)
    return not term.keys.isdisjoint(tok.keys)


def _phrase_hits(phrase: CPhrase, doc: Doc) -> list[Hit]:
    first, rest = phrase.words[0], phrase.words[1:]
    n = len(rest)
    return [
        Hit(p, p + n, phrase.label)
        for p in _term_positions(first, doc)
        if all(_word_at(w, doc, p + 1 + i) for i, w in enumerate(rest))
    ]


def _and(node: CAnd, doc: Doc) -> list[Hit] | None:
    hits: list[Hit] = []
    for child in node.children:
        found = evaluate(child, doc)
        if found is None:
            return None
        hits.extend(found)
    return hits


def _near(node: CNear, doc: Doc) -> list[Hit] | None:
    left, right = evaluate(node.left, doc), evaluate(node.right, doc)
    if not left or not right:
        return None
    out = _near_pairs(left, right, node.distance) | _near_pairs(
        right, left, node.distance
    )
    return sorted(out, key=lambda h: (h.start, h.end)) or None


def _near_pairs(first: list[Hit], second: list[Hit], distance: int) -> set[Hit]:
    """Hits of `first` with a hit of `second` starting within `distance` words after
    (or overlapping) them, plus those hits of `second`: O((n + m) log m)."""
    ordered = sorted(second, key=lambda h: h.start)
    starts = [h.start for h in ordered]
    out: set[Hit] = set()
    for a in first:
        # b qualifies when a.start - b.end - 1 <= d (handled by the mirror call)
        # or b.start - a.end - 1 <= d with b.start >= a.start.
        lo = bisect_left(starts, a.start)
        hi = bisect_right(starts, a.end + 1 + distance)
        if lo < hi:
            out.add(a)
            out.update(ordered[lo:hi])
    return out


# ---------------------------------------------------------------- scoring


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule that fired: where, its score and what it matched."""

    rule: str
    view: str
    score: float
    terms: tuple[str, ...]
    matched: tuple[str, ...]
    mentions: float = 0.0  # weight x occurrences, uncapped (title ones weighted)


@dataclass(frozen=True, slots=True)
class CategoryScore:
    """The full verdict on one category, for filing and for `monitor explain`."""

    category: Category
    score: float
    filed: bool
    fired: tuple[RuleHit, ...]
    vetoed_by: str | None = None

    @property
    def mentions(self) -> float:
        """Weighted occurrences of every fired rule, not capped by ``max_count``:
        how much the article is about this category (the primary country)."""
        return sum(h.mentions for h in self.fired)


def docs_for(query: Query, docs: list[Doc]) -> list[Doc]:
    """The views a query runs on."""
    if query.view == "any":
        return docs
    if query.view == "ru":
        return [d for d in docs if d.lang == "ru"]
    return [d for d in docs if d.lang == "en"]


def _runs_on(query: Query, doc: Doc) -> bool:
    return query.view == "any" or query.view == doc.lang


def _count(hits: list[Hit], doc: Doc, title_weight: float) -> float:
    spans = {(h.start, h.end) for h in hits}
    return sum(title_weight if s < doc.title_end else 1.0 for s, _ in spans)


def score_rule(rule: Rule, category: Category, docs: list[Doc]) -> RuleHit | None:
    """Score `rule` on its best view; None when it matches nowhere.

    On one view, the hits of all the rule's queries that run there add up
    (``any`` + ``en`` over the same English text: ``en='protest', any='rally'``
    counts like ``en='protest OR rally'``); a word two queries both found counts
    once.  Views do not add: a translated article is not counted twice.
    """
    best: tuple[float, Doc, list[Query], list[Hit]] | None = None
    for doc in docs:
        hits: list[Hit] = []
        queries: list[Query] = []
        for query in rule.queries:
            if _runs_on(query, doc):
                found = evaluate(query.node, doc)
                if found:
                    hits.extend(found)
                    queries.append(query)
        if hits:
            count = _count(hits, doc, category.title_weight)
            if best is None or count > best[0]:
                best = (count, doc, queries, hits)
    if best is None:
        return None
    count, doc, queries, hits = best
    views = "+".join(dict.fromkeys(q.view for q in queries))
    return RuleHit(
        rule=rule.name,
        view=f"{views}:{doc.lang}",
        score=rule.weight * min(count, category.max_count),
        terms=tuple(dict.fromkeys(h.term for h in hits)),
        matched=tuple(
            dict.fromkeys(doc.surface(h) for h in sorted(hits, key=lambda h: h.start))
        ),
        mentions=rule.weight * count,
    )


def _veto(category: Category, docs: list[Doc]) -> str | None:
    for query in category.excludes:
        for doc in docs_for(query, docs):
            hits = evaluate(query.node, doc)
            if hits is not None:
                words = ", ".join(dict.fromkeys(doc.surface(h) for h in hits))
                return f"exclude {query.view}: {query.source} ({words})"
    return None


def score_category(category: Category, docs: list[Doc]) -> CategoryScore:
    """Score every rule of `category` and decide whether the article is filed."""
    fired = tuple(
        h for r in category.rules if (h := score_rule(r, category, docs)) is not None
    )
    score = sum(h.score for h in fired)
    veto = _veto(category, docs) if fired else None
    filed = veto is None and score > 0 and score >= category.threshold
    return CategoryScore(
        category=category, score=score, filed=filed, fired=fired, vetoed_by=veto
    )
