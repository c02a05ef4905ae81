"""Compile a search query: the topic rule language, parsed by the rules' own parser.

    text ─classify.compile_query (the rules' parser and compiler)─▶
         compiled tree (lemma keys, @entities resolved)
         ─add_aliases─▶ Cyrillic names also carry their Latin spellings' stems
         ─to_search_node─▶ backend-neutral SearchNode (monitor/models.py)

Plain terms with AND/OR/NOT are exact in the index.  Phrases, NEAR/n and
``prefix*`` terms are widened for the index (a word is a group of tokens there)
and re-checked in Python with the rules' own evaluator (`needs_check`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..classify import (
    CAlt,
    CAnd,
    CNear,
    CNode,
    CNot,
    COr,
    CPhrase,
    CTerm,
    Doc,
    QueryError,
    RuleSet,
    compile_query,
    evaluate,
)
from ..exceptions import MonitorError
from ..models import SearchAnd, SearchNear, SearchNode, SearchOr, SearchWord
from ._index import MAX_GROUP, alias_keys, encode

MAX_COMBINATIONS = 32  # token sequences per phrase/NEAR before falling back to AND


class SearchQueryError(MonitorError):
    """A search query does not parse or names an unknown @entity / #tag."""


@dataclass(frozen=True, slots=True)
class CompiledSearch:
    """A query ready to run: the index query and the exact re-check."""

    source: str
    exact: CNode  # evaluated by classify.evaluate on candidate articles
    node: SearchNode | None  # None: cannot match anything
    needs_check: bool


def compile_search(source: str, rules: RuleSet | None = None) -> CompiledSearch:
    """Parse and compile one query.

    Args:
        source: e.g. ``Кулибаев AND (банк OR "Халык банк") NOT спорт``.
        rules: the topic rules, for ``@entity`` and ``#tag`` references.

    Raises:
        SearchQueryError: with the column of a syntax error, or the unknown name.
    """
    try:
        lowered = compile_query(source, rules.entities if rules is not None else ())
    except QueryError as e:
        raise SearchQueryError(f"bad query: {e}") from e
    exact = add_aliases(lowered)
    return CompiledSearch(
        source=source,
        exact=exact,
        node=to_search_node(exact),
        needs_check=_needs_check(exact),
    )


def add_aliases(node: CNode) -> CNode:
    """Give every Cyrillic name term the stems of its Latin spellings."""
    if isinstance(node, CTerm):
        if node.prefix is not None:
            return node
        return CTerm(node.label, node.keys | alias_keys(node.label))
    if isinstance(node, CPhrase):
        return CPhrase(node.label, tuple(_alias_term(w) for w in node.words))
    if isinstance(node, CAlt):
        return CAlt.build(
            node.label,
            tuple(
                _alias_term(a) if isinstance(a, CTerm) else _alias_phrase(a)
                for a in node.alts
            ),
        )
    if isinstance(node, CAnd):
        return CAnd(tuple(add_aliases(c) for c in node.children))
    if isinstance(node, COr):
        return COr(tuple(add_aliases(c) for c in node.children))
    if isinstance(node, CNot):
        return CNot(add_aliases(node.child))
    return CNear(add_aliases(node.left), add_aliases(node.right), node.distance)


def _alias_term(term: CTerm) -> CTerm:
    result = add_aliases(term)
    assert isinstance(result, CTerm)
    return result


def _alias_phrase(phrase: CPhrase) -> CPhrase:
    return CPhrase(phrase.label, tuple(_alias_term(w) for w in phrase.words))


def _needs_check(node: CNode) -> bool:
    if isinstance(node, CTerm):
        return node.prefix is not None
    if isinstance(node, CPhrase | CNear):
        return True
    if isinstance(node, CAlt):
        return any(_needs_check(a) for a in node.alts)
    if isinstance(node, CAnd | COr):
        return any(_needs_check(c) for c in node.children)
    return _needs_check(node.child)


def matches(compiled: CompiledSearch, docs: list[Doc]) -> bool:
    """The exact verdict: does the query match one of the article's views?"""
    return any(evaluate(compiled.exact, d) is not None for d in docs)


# ---------------------------------------------------------------- index query


def to_search_node(node: CNode) -> SearchNode | None:
    """The index query for a compiled node (None: matches nothing)."""
    if isinstance(node, CTerm):
        return _any(_words(node))
    if isinstance(node, CPhrase):
        return _near_or_and(node.words, 0, len(node.words))
    if isinstance(node, CAlt):
        return _or([to_search_node(a) for a in node.alts])
    if isinstance(node, COr):
        return _or([to_search_node(c) for c in node.children])
    if isinstance(node, CAnd):
        return _and(node)
    if isinstance(node, CNear):
        return _near(node)
    raise ValueError("NOT outside AND cannot be searched")  # parse_query forbids it


def _words(term: CTerm) -> list[SearchWord]:
    if term.prefix is not None:
        return [SearchWord(encode(term.prefix), prefix=True)]
    return [SearchWord(encode(k)) for k in sorted(term.keys)]


def _any(words: list[SearchWord]) -> SearchNode | None:
    if not words:
        return None
    return words[0] if len(words) == 1 else SearchOr(tuple(words))


def _or(children: list[SearchNode | None]) -> SearchNode | None:
    kept = tuple(dict.fromkeys(c for c in children if c is not None))
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else SearchOr(kept)


def _and(node: CAnd) -> SearchNode | None:
    positive: list[SearchNode] = []
    excluded: list[SearchNode] = []
    for child in node.children:
        if isinstance(child, CNot) and not isinstance(child.child, CNot):
            found = to_search_node(child.child)
            if found is not None:
                excluded.append(found)
            continue
        inner = child
        if isinstance(child, CNot) and isinstance(child.child, CNot):
            inner = child.child.child  # NOT NOT x is x
        found = to_search_node(inner)
        if found is None:
            return None
        positive.append(found)
    return SearchAnd(tuple(positive), tuple(excluded))


def _sequences(node: CNode) -> list[tuple[SearchWord, ...]] | None:
    """Every token sequence that can spell `node` (a term, phrase or OR of them)."""
    if isinstance(node, CTerm):
        return [(w,) for w in _words(node)]
    if isinstance(node, CPhrase):
        parts = [[w for w in _words(t)] for t in node.words]
        total = 1
        for p in parts:
            total *= len(p)
        if total > MAX_COMBINATIONS:
            return None
        return [tuple(c) for c in itertools.product(*parts)]
    if isinstance(node, CAlt | COr):
        out: list[tuple[SearchWord, ...]] = []
        for child in node.alts if isinstance(node, CAlt) else node.children:
            found = _sequences(child)
            if found is None:
                return None
            out.extend(found)
        return out
    return None


def _near_or_and(
    words: tuple[CTerm, ...], distance: int, span: int
) -> SearchNode | None:
    seqs = _sequences(CPhrase("", words))
    if seqs is None or any(w.prefix for s in seqs for w in s):
        return _fallback_and([to_search_node(w) for w in words])
    slack = (distance + span) * MAX_GROUP
    return _or([SearchNear(s, slack) for s in seqs]) if seqs else None


def _near(node: CNear) -> SearchNode | None:
    left, right = _sequences(node.left), _sequences(node.right)
    if left is None or right is None or len(left) * len(right) > MAX_COMBINATIONS:
        return _fallback_and([to_search_node(node.left), to_search_node(node.right)])
    span = max((len(a) + len(b) for a in left for b in right), default=2)
    slack = (node.distance + span) * MAX_GROUP
    return _or(
        [
            SearchNear(a + b, slack, split=len(a), apart=node.distance)
            for a in left
            for b in right
        ]
    )


def _fallback_and(children: list[SearchNode | None]) -> SearchNode | None:
    if any(c is None for c in children):
        return None
    return SearchAnd(tuple(c for c in children if c is not None))
