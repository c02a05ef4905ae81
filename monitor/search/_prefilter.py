"""A cheap positional pre-filter for phrase and NEAR queries, on the index's tokens.

The index (FTS5 or tsvector) answers a phrase or NEAR query only roughly: a word
is a group of tokens there, so FTS5's NEAR is widened, and a query whose words
have many keys falls back to AND.  Every candidate is then re-checked exactly
(`classify.evaluate` on views built by `classify.build_doc`), which lemmatises
the whole article: about a millisecond each.  Before that, this module checks
the query on the article's *stored index tokens* (`SearchDoc`: words separated
by spaces, a word's keys by ``+``), found by one regular expression per column:
tens of microseconds, and it rejects most false candidates.

It is sound (it never rejects an article the exact check accepts): it runs the
rules' own evaluator on a *projection* of each view, a `Doc` holding only the
query's keys at the word positions where the tokens hold them, so every test the
evaluator makes on the query's keys gives the same answer, except where the
projection holds more:

* a key that is an alias (a Latin spelling of a Cyrillic name, only in the
  ``aliases`` column, which keeps no positions) is put on every capitalised
  Cyrillic word (those carry a ``§`` name key: exactly the words that get
  aliases), when the article's aliases hold it;
* ``NOT …`` parts are left out (more matches, never fewer);
* a query with a ``prefix*`` term, and an article whose title or text holds a
  URL (the index keeps its words, the evaluator drops them, so positions would
  shift), are not pre-filtered at all: they go straight to the exact check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from ..classify import (
    BODY_OFFSET_GAP,
    CAlt,
    CAnd,
    CNear,
    CNode,
    CNot,
    COr,
    CPhrase,
    CTerm,
    Doc,
    evaluate,
)
from ..classify._morph import _URL_RE, NAME_PREFIX, Token, tokenize
from ..models import Article, SearchDoc
from ._index import alias_keys, encode, is_english

_NAME_WORD = re.compile(rf"(?:^|(?<=[ +])){re.escape(NAME_PREFIX)}")


@dataclass(frozen=True, slots=True)
class Prefilter:
    """The part of a query the pre-filter checks, and its keys' pattern."""

    node: CNode
    raw: dict[str, frozenset[str]]  # index token -> the query keys it stands for
    pattern: re.Pattern[str]


def make_prefilter(exact: CNode) -> Prefilter | None:
    """The pre-filter of a compiled query (None: nothing it can check)."""
    node = _positive(exact)
    if node is None or not _positional(node):
        return None
    raw: dict[str, set[str]] = {}
    for key in _keys(node):
        token = encode(key)
        if token:
            raw.setdefault(token, set()).add(key)
    if not raw:
        return None
    words = "|".join(re.escape(t) for t in sorted(raw, key=len, reverse=True))
    pattern = re.compile(rf"(?:^|(?<=[ +]))(?:{words})(?=[ +]|$)")
    return Prefilter(node, {t: frozenset(k) for t, k in raw.items()}, pattern)


def might_match(pf: Prefilter, doc: SearchDoc, article: Article) -> bool:
    """False only when the exact check is sure to reject `article`."""
    translated = not is_english(article.lang) and bool(
        article.title_en or article.text_en
    )
    texts = [article.title, article.text]
    if translated:
        texts += [article.title_en or "", article.text_en or ""]
    if any(("/" in t or "www." in t) and _URL_RE.search(t) for t in texts):
        return True
    aliases = frozenset(doc.aliases.replace("+", " ").split())
    views = [
        _projection(pf, article.title, article.text, doc.title, doc.body, aliases),
    ]
    if translated:
        views.append(
            _projection(
                pf,
                article.title_en or "",
                article.text_en or "",
                doc.title_en,
                doc.body_en,
                None,
            )
        )
    return any(v is None or evaluate(pf.node, v) is not None for v in views)


# ---------------------------------------------------------------- the query part


def _positive(node: CNode) -> CNode | None:
    """`node` without its NOT parts (None: nothing left that must hold)."""
    if isinstance(node, CNot):
        return _positive(node.child.child) if isinstance(node.child, CNot) else None
    if isinstance(node, CAnd):
        kept = [c for c in map(_positive, node.children) if c is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else CAnd(tuple(kept))
    if isinstance(node, COr):
        children = [_positive(c) for c in node.children]
        return None if any(c is None for c in children) else COr(tuple(children))  # type: ignore[arg-type]
    if isinstance(node, CNear):
        left, right = _positive(node.left), _positive(node.right)
        if left is None or right is None:
            return None
        return CNear(left, right, node.distance)
    return node


def _positional(node: CNode) -> bool:
    """True when `node` holds a phrase or NEAR and no prefix term."""
    terms = list(_terms(node))
    if any(t.prefix is not None for t in terms):
        return False
    return _has_position(node)


def _has_position(node: CNode) -> bool:
    if isinstance(node, CPhrase | CNear):
        return True
    if isinstance(node, CAlt):
        return any(isinstance(a, CPhrase) for a in node.alts)
    if isinstance(node, CAnd | COr):
        return any(_has_position(c) for c in node.children)
    return False


def _terms(node: CNode) -> list[CTerm]:
    if isinstance(node, CTerm):
        return [node]
    if isinstance(node, CPhrase):
        return list(node.words)
    if isinstance(node, CAlt):
        return [t for a in node.alts for t in _terms(a)]
    if isinstance(node, CAnd | COr):
        return [t for c in node.children for t in _terms(c)]
    if isinstance(node, CNear):
        return [*_terms(node.left), *_terms(node.right)]
    return _terms(node.child)


def _keys(node: CNode) -> set[str]:
    return {k for t in _terms(node) for k in t.keys}


# ---------------------------------------------------------------- the projection


def _projection(
    pf: Prefilter,
    title: str,
    body: str,
    title_tokens: str,
    body_tokens: str,
    aliases: frozenset[str] | None,
) -> Doc | None:
    """The view as the evaluator would see it, restricted to the query's keys
    (None: the stored tokens do not fit the text; do not judge)."""
    title_words = _word_count(title_tokens)
    if title_words != _title_words(title):
        return None
    index: dict[str, set[int]] = {}
    body_start = title_words + BODY_OFFSET_GAP
    wanted = frozenset(t for t in pf.raw if t in aliases) if aliases else None
    for column, start, text in (
        (title_tokens, 0, title),
        (body_tokens, body_start, body),
    ):
        for pos, token in _occurrences(column, start, pf.raw):
            for key in pf.raw[token]:
                index.setdefault(key, set()).add(pos)
        if wanted:
            words = tokenize(text)
            if len(words) != _word_count(column):
                return None
            _add_aliases(column, start, words, pf, wanted, index)
    return _doc(index, title_words)


def _occurrences(
    column: str, start: int, tokens: Iterable[str]
) -> list[tuple[int, str]]:
    """(word position, token) of every whole-token occurrence of `tokens`."""
    hits: list[tuple[int, str]] = []
    n = len(column)
    for token in tokens:
        i = column.find(token)
        while i >= 0:
            end = i + len(token)
            if (i == 0 or column[i - 1] in " +") and (end == n or column[end] in " +"):
                hits.append((i, token))
            i = column.find(token, end)
    hits.sort()
    out: list[tuple[int, str]] = []
    pos, last = start, 0
    for offset, token in hits:
        pos += column.count(" ", last, offset)
        last = offset
        out.append((pos, token))
    return out


def _add_aliases(
    column: str,
    start: int,
    words: list[str],
    pf: Prefilter,
    wanted: frozenset[str],
    index: dict[str, set[int]],
) -> None:
    """Give each capitalised Cyrillic word (a ``§`` key) the query's alias keys
    it carries (`_index.alias_keys` of the word as written)."""
    pos, last = start, 0
    i = column.find(NAME_PREFIX)
    while i >= 0:
        pos += column.count(" ", last, i)
        last = i
        word = words[pos - start] if pos - start < len(words) else ""
        for token in wanted & _alias_tokens(word):
            for key in pf.raw[token]:
                index.setdefault(key, set()).add(pos)
        space = column.find(" ", i)
        i = -1 if space < 0 else column.find(NAME_PREFIX, space)


@lru_cache(maxsize=1 << 16)
def _alias_tokens(word: str) -> frozenset[str]:
    return frozenset(encode(k) for k in alias_keys(word))


def _doc(index: dict[str, set[int]], title_end: int) -> Doc:
    size = 1 + max((max(p) for p in index.values() if p), default=0)
    at: dict[int, set[str]] = {}
    for key, positions in index.items():
        for p in positions:
            at.setdefault(p, set()).add(key)
    tokens: list[Token | None] = [None] * size
    for p, keys in at.items():
        tokens[p] = Token("", frozenset(keys))
    return Doc(
        lang="",
        tokens=tokens,
        index={k: sorted(v) for k, v in index.items() if v},
        title_end=title_end,
        keyset=frozenset(k for k, v in index.items() if v),
    )


def _word_count(column: str) -> int:
    return column.count(" ") + 1 if column else 0


@lru_cache(maxsize=1 << 12)
def _title_words(title: str) -> int:
    return len(tokenize(title))
