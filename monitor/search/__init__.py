"""Search the archive (issue #15): the topic rule language over a full-text index.

    monitor search QUERY
      compile_search   QUERY ─parse_query (the rules' parser)─▶ lemma keys + aliases
                       ─▶ SearchNode (backend-neutral)
      store            SearchNode ─search_articles (FTS5 MATCH, bm25)─▶ ids
      check, snippets  article views ─classify evaluator─▶ exact verdict, highlights
    monitor run
      index            store.get_search_queue ─build_search_doc─▶ SearchDoc
                       ─▶ store.save_search_docs                 (one tx per batch)

The storage contract is `SearchStore` (SQLite FTS5 in monitor/store/_search.py;
PostgreSQL tsvector/GIN over the same tokens in monitor/store/pg/_search.py).
See docs/search.md.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..classify import Doc
from ..classify._model import RuleSet
from ..models import Article, SearchDoc, SearchFilters, SearchNode, Topics
from ..termsafe import term_safe
from ._index import build_search_doc, is_english
from ._prefilter import Prefilter, make_prefilter, might_match
from ._query import CompiledSearch, SearchQueryError, compile_search, matches
from ._snippet import MARK, Snippet, build_view, make_snippet, view_hits

__all__ = [
    "MARK",
    "CompiledSearch",
    "SearchFilters",
    "SearchQueryError",
    "SearchResult",
    "SearchResults",
    "SearchStore",
    "compile_search",
    "format_csv",
    "format_json",
    "format_text",
    "index_pending",
    "reindex",
    "search_archive",
]

logger = logging.getLogger(__name__)

INDEX_BATCH = 200  # articles per index transaction
SNIPPET_SCAN_CHARS = 1500  # text analysed for a snippet when no re-check is needed
MAX_SCANNED = 2000  # candidates re-checked at most for one query (phrases, NEAR)
CHECK_CHUNK = 200  # candidates loaded and checked at a time
CSV_FIELDS = (
    "id",
    "title",
    "title_en",
    "url",
    "outlet",
    "lang",
    "published",
    "story_id",
    "topics",
    "countries",
    "snippet",
    "snippet_en",
    "score",
)


class SearchStore(Protocol):
    """The storage methods search and indexing use (monitor/store/_search.py)."""

    def search_articles(
        self, node: SearchNode, filters: SearchFilters, *, limit: int, offset: int = 0
    ) -> list[tuple[int, float]]: ...

    def get_articles(self, article_ids: Iterable[int]) -> list[Article]: ...

    def get_search_docs(self, article_ids: Iterable[int]) -> dict[int, SearchDoc]: ...

    def get_filings_for(self, article_ids: Iterable[int]) -> dict[int, Topics]: ...

    def get_story_outlets(
        self, story_ids: Iterable[int]
    ) -> dict[int, dict[str, int]]: ...


class IndexStore(Protocol):
    """The storage methods the index stage uses."""

    def get_search_queue(self, limit: int) -> list[int]: ...

    def get_articles(self, article_ids: Iterable[int]) -> list[Article]: ...

    def save_search_docs(
        self, docs: Iterable[SearchDoc], handled: Sequence[int]
    ) -> None: ...

    def reset_search_index(self) -> int: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    """One article found, with what the JSON output shows."""

    id: int
    title: str
    title_en: str | None
    url: str
    outlet: str
    lang: str | None
    published: datetime | None
    story_id: int | None
    topics: tuple[str, ...]
    countries: tuple[str, ...]
    snippet: Snippet
    snippet_en: Snippet | None
    score: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (highlights marked with ``**``)."""
        return {
            "id": self.id,
            "title": self.title,
            "title_en": self.title_en,
            "url": self.url,
            "outlet": self.outlet,
            "lang": self.lang,
            "published": self.published.isoformat() if self.published else None,
            "story_id": self.story_id,
            "topics": list(self.topics),
            "countries": list(self.countries),
            "snippet": self.snippet.marked(),
            "snippet_en": self.snippet_en.marked() if self.snippet_en else None,
            "score": round(-self.score, 4),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResults:
    """Results, best first, plus each story's articles per outlet."""

    query: str
    results: tuple[SearchResult, ...]
    story_outlets: dict[int, dict[str, int]] = field(default_factory=dict)

    def by_story(self) -> list[tuple[int | None, list[SearchResult]]]:
        """Results grouped by story, groups in the order of their best result."""
        groups: dict[int | str, list[SearchResult]] = {}
        for r in self.results:
            key: int | str = r.story_id if r.story_id is not None else f"a{r.id}"
            groups.setdefault(key, []).append(r)
        return [
            (key if isinstance(key, int) else None, rs) for key, rs in groups.items()
        ]


def search_archive(
    storage: SearchStore,
    query: str | CompiledSearch,
    *,
    rules: RuleSet | None = None,
    filters: SearchFilters | None = None,
    limit: int = 20,
) -> SearchResults:
    """Run one query against the index.

    Args:
        storage: the `Storage` (anything implementing `SearchStore`).
        query: the query text (or an already compiled one).
        rules: topic rules, for ``@entity``/``#tag`` references.
        filters: dates, feeds, topics, countries, languages.
        limit: results wanted.

    Raises:
        SearchQueryError: the query does not parse.
    """
    compiled = (
        query if isinstance(query, CompiledSearch) else compile_search(query, rules)
    )
    found: list[SearchResult] = []
    if compiled.node is not None and limit > 0:
        found = _collect(storage, compiled, filters or SearchFilters(), limit)
    outlets = storage.get_story_outlets(
        r.story_id for r in found if r.story_id is not None
    )
    return SearchResults(
        query=compiled.source, results=tuple(found), story_outlets=outlets
    )


def _collect(
    storage: SearchStore, compiled: CompiledSearch, filters: SearchFilters, limit: int
) -> list[SearchResult]:
    assert compiled.node is not None
    if not compiled.needs_check:
        rows = storage.search_articles(compiled.node, filters, limit=limit)
        return _results(storage, compiled, rows, limit, _Checker(compiled))
    # One ranked list of candidates (the index scores every match whatever the
    # LIMIT, so paging with OFFSET would pay that again per page), checked in
    # growing chunks: the pre-filter on the stored tokens, then the exact check.
    rows = storage.search_articles(compiled.node, filters, limit=MAX_SCANNED)
    checker = _Checker(compiled, make_prefilter(compiled.exact))
    found: list[SearchResult] = []
    start, chunk = 0, max(limit * 2, 20)
    while start < len(rows) and len(found) < limit:
        part = rows[start : start + chunk]
        found += _results(storage, compiled, part, limit - len(found), checker)
        start += chunk
        chunk = min(chunk * 2, CHECK_CHUNK)
    return found


@dataclass(slots=True)
class _Checker:
    """The checks of one query's candidates, remembering the texts it rejected:
    the verdict is a function of an article's texts (and, for the pre-filter,
    its stored tokens), so copies of a rejected text (a story's syndicated
    copies) are not analysed again."""

    compiled: CompiledSearch
    prefilter: Prefilter | None = None
    rejected: set[tuple[Any, ...]] = field(default_factory=set)

    def views(self, a: Article, doc: SearchDoc | None) -> list[Doc] | None:
        """The article's views when it matches (None: it does not)."""
        tokens = doc and (doc.title, doc.body, doc.title_en, doc.body_en, doc.aliases)
        key = (a.title, a.text, a.lang, a.title_en, a.text_en, tokens)
        if key in self.rejected:
            return None
        if self.prefilter is not None and doc is not None:
            if not might_match(self.prefilter, doc, a):
                self.rejected.add(key)
                return None
        views = _views(a, self.compiled.needs_check)
        if self.compiled.needs_check and not matches(self.compiled, views):
            self.rejected.add(key)
            return None
        return views


def _results(
    storage: SearchStore,
    compiled: CompiledSearch,
    rows: list[tuple[int, float]],
    limit: int,
    checker: _Checker,
) -> list[SearchResult]:
    """The first `limit` of `rows` that pass the checks, as results."""
    articles = {a.id: a for a in storage.get_articles(i for i, _ in rows)}
    docs = storage.get_search_docs(articles) if checker.prefilter else {}
    passed: list[tuple[Article, float, list[Doc]]] = []
    for article_id, score in rows:
        a = articles.get(article_id)
        views = a and checker.views(a, docs.get(article_id))
        if a and views:
            passed.append((a, score, views))
            if len(passed) == limit:
                break
    filings = storage.get_filings_for(a.id for a, _, _ in passed)
    return [
        _result(a, score, views, compiled, filings.get(a.id, Topics()))
        for a, score, views in passed
    ]


def _views(a: Article, whole: bool) -> list[Doc]:
    """The original view and the English one (if translated).  The index verdict
    is exact unless the query needs a check: then the whole text is analysed;
    otherwise only the start, for the snippet (speed)."""
    cut = None if whole else SNIPPET_SCAN_CHARS
    original = build_view(a.title, a.text[:cut], a.lang or "", aliases=True)
    if is_english(a.lang) or not (a.title_en or a.text_en):
        return [original]
    english = build_view(a.title_en or "", (a.text_en or "")[:cut], "en", aliases=False)
    return [original, english]


def _result(
    a: Article,
    score: float,
    views: list[Doc],
    compiled: CompiledSearch,
    filings: Topics,
) -> SearchResult:
    cut = None if compiled.needs_check else SNIPPET_SCAN_CHARS
    hits = view_hits(compiled.exact, views[0])
    snippet_en = None
    if len(views) > 1:
        hits_en = view_hits(compiled.exact, views[1])
        text_en = (a.text_en or "")[:cut]
        snippet_en = make_snippet(text_en, hits_en[1] if hits_en else set())
    return SearchResult(
        id=a.id,
        title=a.title,
        title_en=a.title_en,
        url=a.url,
        outlet=a.outlet or a.feed_name,
        lang=a.lang,
        published=a.published,
        story_id=a.story_id,
        topics=tuple(m.label for m in filings.labels if m.facet == "topic"),
        countries=tuple(m.label for m in filings.labels if m.facet == "country"),
        snippet=make_snippet(a.text[:cut], hits[1] if hits else set()),
        snippet_en=snippet_en,
        score=score,
    )


# ---------------------------------------------------------------- indexing


def index_pending(storage: IndexStore, *, batch_size: int = INDEX_BATCH) -> int:
    """Index every queued article, one transaction per batch (the ``index`` stage).

    Returns:
        The number of articles whose index entry was written or dropped.
    """
    done = 0
    while True:
        ids = storage.get_search_queue(batch_size)
        if not ids:
            return done
        docs = [
            build_search_doc(a)
            for a in storage.get_articles(ids)
            if a.extract_status == "done"
        ]
        storage.save_search_docs(docs, ids)
        done += len(ids)
        logger.info("indexed batch articles=%d total=%d", len(ids), done)


def reindex(storage: IndexStore) -> int:
    """Rebuild the whole index (``monitor search --reindex``)."""
    queued = storage.reset_search_index()
    logger.info("reindex queued=%d", queued)
    return index_pending(storage)


# ---------------------------------------------------------------- output


def neutralise(text: str) -> str:
    """One line safe for a terminal: `termsafe.term_safe`, whitespace folded."""
    return term_safe(" ".join(text.split()))


def format_text(results: SearchResults) -> str:
    """Human output: results grouped by story, each with its outlet counts."""
    if not results.results:
        return f"no results for {neutralise(results.query)}\n"
    lines: list[str] = []
    for story_id, members in results.by_story():
        lines.append(_story_line(story_id, members, results.story_outlets))
        for r in members:
            when = r.published.date().isoformat() if r.published else "undated"
            lines.append(f"  [{r.id}] {when} {r.outlet} ({r.lang or '?'}): {r.title}")
            if r.title_en and r.title_en != r.title:
                lines.append(f"      en: {r.title_en}")
            if r.snippet.segments:
                lines.append(f"      {r.snippet.marked()}")
            if r.snippet_en is not None and r.snippet_en.segments:
                lines.append(f"      en: {r.snippet_en.marked()}")
            lines.append(f"      {r.url}")
    return "\n".join(neutralise(line) for line in lines) + "\n"


def _story_line(
    story_id: int | None,
    members: list[SearchResult],
    outlets: dict[int, dict[str, int]],
) -> str:
    if story_id is None:
        return "- (no story yet)"
    counts = outlets.get(story_id, {})
    total = sum(counts.values())
    detail = ", ".join(f"{o} {n}" for o, n in counts.items())
    return (
        f"- story {story_id}: {len(members)} found; {total} articles in "
        f"{len(counts)} outlets ({detail})"
    )


def format_json(results: SearchResults) -> str:
    """``--json``: a list of results."""
    return json.dumps(
        [r.to_dict() for r in results.results], ensure_ascii=False, indent=2
    )


def format_csv(results: SearchResults) -> str:
    """``--csv``: one row per result; lists joined with ``;``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in results.results:
        row = r.to_dict()
        row["topics"] = ";".join(row["topics"])
        row["countries"] = ";".join(row["countries"])
        writer.writerow({k: _csv_cell(row[k]) for k in CSV_FIELDS})
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    """Cells a spreadsheet would run as a formula get a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
