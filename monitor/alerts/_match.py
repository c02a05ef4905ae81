"""Does a story match a watch?  Pure: stories, articles and filings passed in.

A watch's ``query`` is the topic rule language (docs/topics.md), compiled by
the search module's compiler (`search.compile_search`: the rules' own parser,
``@entity``/``#tag`` references, Latin spellings of Cyrillic names) and
evaluated by the rules' own evaluator on each member article's original and
English views.  ``topic`` and ``country`` are filings.  A story matches when
one of its articles satisfies every filter the watch sets.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..classify import Doc, RuleSet, compile_topics_lenient, evaluate
from ..config import WatchConfig
from ..models import Article, Story, Topics
from ..search._index import is_english
from ..search._query import CompiledSearch, SearchQueryError, compile_search
from ..search._snippet import build_view

MAX_TERMS = 20  # matched words kept per alert


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledWatch:
    """A watch ready to evaluate: its query compiled, topic/country as ids."""

    cfg: WatchConfig
    query: CompiledSearch | None = None
    topic: str = ""  # topic id
    country: str = ""  # country id


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryMatch:
    """A story a watch matched: the articles that did, and the words found."""

    watch: CompiledWatch
    story: Story
    article_ids: tuple[int, ...]
    terms: tuple[str, ...]


@dataclass(slots=True)
class ViewCache:
    """Each article's views, built once per run however many watches look."""

    docs: dict[int, list[Doc]] = field(default_factory=dict)

    def views(self, a: Article) -> list[Doc]:
        if a.id not in self.docs:
            views = [build_view(a.title, a.text, a.lang or "", aliases=True)]
            if not is_english(a.lang) and (a.title_en or a.text_en):
                views.append(
                    build_view(a.title_en or "", a.text_en or "", "en", aliases=False)
                )
            self.docs[a.id] = views
        return self.docs[a.id]


def validate_watches(
    watches: Sequence[WatchConfig], raw_topics: Mapping[str, Any]
) -> list[str]:
    """Every problem with the watches' queries, topics and countries.

    Pass to ``config.load_config(watch_validator=...)``: the errors are
    reported with every other configuration error.
    """
    return compile_watches(watches, compile_topics_lenient(raw_topics))[1]


def compile_watches(
    watches: Sequence[WatchConfig], rules: RuleSet
) -> tuple[tuple[CompiledWatch, ...], list[str]]:
    """Compile the enabled watches; returns them and every error found."""
    errors: list[str] = []
    out = []
    for w in watches:
        compiled = _compile_watch(w, rules, errors)
        if compiled is not None and w.enabled:
            out.append(compiled)
    return tuple(out), errors


def _compile_watch(
    w: WatchConfig, rules: RuleSet, errors: list[str]
) -> CompiledWatch | None:
    where = f"watch {w.name!r}"
    before = len(errors)
    query = None
    if w.query.strip():
        try:
            query = compile_search(w.query, rules)
        except SearchQueryError as e:
            errors.append(f"{where}.query: {e}")
    topic = _category(rules, "topic", w.topic, f"{where}.topic", errors)
    country = _category(rules, "country", w.country, f"{where}.country", errors)
    if len(errors) > before:
        return None
    return CompiledWatch(cfg=w, query=query, topic=topic, country=country)


def _category(
    rules: RuleSet, facet: str, name: str, where: str, errors: list[str]
) -> str:
    """A topic or country named by id or label -> its id ("" when not set)."""
    if not name.strip():
        return ""
    cats = [c for c in rules.categories if c.facet == facet]
    for c in cats:
        if name.casefold() in (c.id.casefold(), c.label.casefold()):
            return c.id
    choices = [c.id for c in cats] + [c.label for c in cats]
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    errors.append(f"{where}: unknown {facet} {name!r}{hint}")
    return ""


def match_story(
    watch: CompiledWatch,
    story: Story,
    articles: Mapping[int, Article],
    filings: Mapping[int, Topics],
    cache: ViewCache,
) -> StoryMatch | None:
    """The match of one watch on one story (None: no member article matches)."""
    ids: list[int] = []
    terms: dict[str, None] = {}
    for m in story.members:
        a = articles.get(m.article_id)
        if a is None or not _filed(watch, filings.get(a.id, Topics())):
            continue
        found = _query_terms(watch, a, cache)
        if found is None:
            continue
        ids.append(a.id)
        terms.update(dict.fromkeys(found))
    if not ids:
        return None
    return StoryMatch(
        watch=watch,
        story=story,
        article_ids=tuple(ids),
        terms=tuple(terms)[:MAX_TERMS],
    )


def _filed(watch: CompiledWatch, topics: Topics) -> bool:
    labels = {(m.facet, m.label) for m in topics.labels}
    if watch.topic and ("topic", watch.topic) not in labels:
        return False
    return not watch.country or ("country", watch.country) in labels


def _query_terms(
    watch: CompiledWatch, a: Article, cache: ViewCache
) -> list[str] | None:
    """The words the query found in the article ([] without a query; None: no match)."""
    if watch.query is None:
        return []
    found: list[str] | None = None
    for doc in cache.views(a):
        hits = evaluate(watch.query.exact, doc)
        if hits is not None:
            found = (found or []) + [doc.surface(h) for h in hits if h.end >= h.start]
    return found
