"""File articles by topic and country with analyst-written rules (issue #4).

    topics.toml --compile_topics--> RuleSet
    article (title, text, lang [, title_en, text_en])
        --build views--> original (ru|en|other) + English translation
        --score every rule on its views--> per-category score, vetoes
        --threshold--> Topics(labels=(TopicMatch(facet, label, score, rule,
                                                 terms, matched), ...))

`classify_article` is pure: no clock, no I/O, no global state beyond the
lemmatisation caches.  The rule language is documented in docs/topics.md.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from ..exceptions import RuleError
from ..models import Article, TopicMatch, Topics
from ._cache import cache_dir, load_or_compile
from ._compile import QueryError, compile_query, compile_ruleset
from ._match import (
    BODY_OFFSET_GAP,
    CategoryScore,
    Doc,
    Hit,
    build_doc,
    evaluate,
    score_category,
)
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
    Entity,
    RuleSet,
)
from ._morph import is_cyrillic

__all__ = [
    "BODY_OFFSET_GAP",
    "CAlt",
    "CAnd",
    "CNear",
    "CNode",
    "CNot",
    "COr",
    "CPhrase",
    "CTerm",
    "Category",
    "CategoryScore",
    "Doc",
    "Entity",
    "Hit",
    "QueryError",
    "RuleSet",
    "TopicRulesError",
    "build_doc",
    "classify_article",
    "compile_query",
    "compile_topics",
    "compile_topics_lenient",
    "evaluate",
    "explain_article",
    "explain_stored_article",
    "format_match",
    "reclassify_archive",
    "score_article",
    "validate_topics",
]

logger = logging.getLogger(__name__)

MAX_MATCHED = 30  # matched words kept per filing
DEFAULT_BATCH = 500


class TopicRulesError(RuleError):
    """The topics file is invalid; `errors` lists every problem with its location."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = tuple(errors)
        super().__init__(
            f"{len(errors)} topic rule error(s):\n"
            + "\n".join(f"  - {e}" for e in errors)
        )


def _compile_once(raw: Mapping[str, Any]) -> tuple[RuleSet, list[str]]:
    """Compile a topics table once per process: start-up validation and the run
    share the result (lemmatising every rule term is the costly part)."""
    return _compile_json(
        json.dumps(raw, sort_keys=True, default=str, ensure_ascii=False)
    )


@functools.lru_cache(maxsize=4)
def _compile_json(raw_json: str) -> tuple[RuleSet, list[str]]:
    """Compiled once per process, and kept between processes (`._cache`)."""
    return load_or_compile(
        raw_json, lambda: compile_ruleset(json.loads(raw_json)), cache_dir()
    )


def validate_topics(raw: Mapping[str, Any]) -> list[str]:
    """Check a raw topics table; return every error (empty when valid).

    Pass this to ``config.load_config(rule_validator=...)`` so rule errors are
    reported together with configuration errors.
    """
    return _compile_once(raw)[1]


def compile_topics_lenient(raw: Mapping[str, Any]) -> RuleSet:
    """The rules that do compile, errors or not: for validating what refers to
    them (watches, issue #16) in the same pass as the rules themselves."""
    return _compile_once(raw)[0]


def compile_topics(raw: Mapping[str, Any]) -> RuleSet:
    """Compile a raw topics table (parsed TOML) into a `RuleSet`.

    Raises:
        TopicRulesError: listing every error, each with its location.
    """
    rules, errors = _compile_once(raw)
    if errors:
        raise TopicRulesError(errors)
    return rules


def _views(
    title: str, text: str, lang: str | None, title_en: str | None, text_en: str | None
) -> list[Doc]:
    base = (lang or "").split("-")[0].lower()
    if not base:
        base = "ru" if is_cyrillic(f"{title} {text}") else "en"
    docs = [build_doc(title, text, base if base in ("ru", "en") else "other")]
    if base != "en" and (title_en or text_en):
        docs.append(build_doc(title_en or "", text_en or "", "en"))
    return docs


def score_article(
    rules: RuleSet,
    *,
    title: str,
    text: str,
    lang: str | None,
    title_en: str | None = None,
    text_en: str | None = None,
) -> list[CategoryScore]:
    """Score every category (filed or not): the detail behind `classify_article`."""
    docs = _views(title, text, lang, title_en, text_en)
    return [score_category(c, docs) for c in rules.categories]


def classify_article(
    rules: RuleSet,
    *,
    title: str,
    text: str,
    lang: str | None,
    title_en: str | None = None,
    text_en: str | None = None,
) -> Topics:
    """File one article under zero or more topics and countries.

    Args:
        rules: compiled rules.
        title: original title.
        text: original body text.
        lang: language of the original ("ru", "en", "kk"...; None: guessed by script).
        title_en: English translation of the title, if any.
        text_en: English translation of the body, if any.

    Returns:
        One `TopicMatch` per filed category, topics first then countries, in the
        order of the rules file, each with the rules, terms and words that matched.
    """
    scores = score_article(
        rules, title=title, text=text, lang=lang, title_en=title_en, text_en=text_en
    )
    labels = [_to_match(s) for s in scores if s.filed]
    if rules.default_label and not any(m.facet == "topic" for m in labels):
        labels.insert(
            0,
            TopicMatch(
                facet="topic",
                label=rules.default_label,
                score=0.0,
                rule="(default: no topic matched)",
                terms=(),
                matched=(),
            ),
        )
    return Topics(labels=tuple(labels))


def _to_match(s: CategoryScore) -> TopicMatch:
    terms = tuple(dict.fromkeys(t for h in s.fired for t in h.terms))
    matched = tuple(dict.fromkeys(m for h in s.fired for m in h.matched))[:MAX_MATCHED]
    # A country's stored score is its weighted mention count, uncapped, so the
    # digest can tell the country an article is about from one it mentions.
    score = s.mentions if s.category.facet == "country" else s.score
    return TopicMatch(
        facet=s.category.facet,
        label=s.category.id,
        score=round(score, 3),
        rule=" + ".join(h.rule for h in s.fired),
        terms=terms,
        matched=matched,
    )


def format_match(m: TopicMatch, rules: RuleSet | None = None) -> str:
    """One line for the digest or the CLI.

    Example: ``Unrest and protests (4): митинг, протестующих  [rules: ...]``.
    """
    cat = rules.category(m.facet, m.label) if rules is not None else None
    label = cat.label if cat is not None else m.label
    words = ", ".join(m.matched) or "-"
    terms = ", ".join(m.terms)
    return f"{label} ({m.score:g}): {words}  [rules: {m.rule}; terms: {terms}]"


def explain_article(
    rules: RuleSet,
    *,
    article_id: int,
    title: str,
    text: str,
    lang: str | None,
    title_en: str | None = None,
    text_en: str | None = None,
    stored: Topics | None = None,
) -> str:
    """Text for ``monitor explain ARTICLE_ID``: stored filings, then a fresh run
    with every category that scored anything (filed, below threshold or vetoed)."""
    lines = [f"article {article_id}: {title}"]
    if stored is not None:
        lines.append("stored filings:" if stored.labels else "stored filings: none")
        lines += [f"  [{m.facet}] {format_match(m, rules)}" for m in stored.labels]
    scores = score_article(
        rules, title=title, text=text, lang=lang, title_en=title_en, text_en=text_en
    )
    lines.append("current rules:")
    shown = [s for s in scores if s.fired]
    if not shown:
        lines.append("  nothing matched")
    lines += [line for s in shown for line in _explain_score(s)]
    return "\n".join(lines)


def _explain_score(s: CategoryScore) -> list[str]:
    c = s.category
    verdict = "FILED" if s.filed else ("vetoed" if s.vetoed_by else "below threshold")
    head = f"  [{c.facet}] {c.label} ({c.id}): score {s.score:g}"
    out = [f"{head} / threshold {c.threshold:g} -> {verdict}"]
    for h in s.fired:
        terms, words = ", ".join(h.terms), ", ".join(h.matched[:MAX_MATCHED])
        out.append(
            f"      rule {h.rule!r} on {h.view}: +{h.score:g};"
            f" terms {terms}; words {words}"
        )
    if s.vetoed_by:
        out.append(f"      vetoed by {s.vetoed_by}")
    return out


class ArticleTextLike(Protocol):
    """What `reclassify_archive` needs from a stored article."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def lang(self) -> str | None: ...
    @property
    def title_en(self) -> str | None: ...
    @property
    def text_en(self) -> str | None: ...


class FilingStore(Protocol):
    """The storage methods `reclassify_archive` uses (monitor/store/_topics.py)."""

    def get_articles_to_classify(
        self,
        *,
        after_id: int = 0,
        limit: int = DEFAULT_BATCH,
        pending_only: bool = True,
    ) -> Sequence[ArticleTextLike]: ...

    def save_filings(self, filings: Iterable[tuple[int, Topics]]) -> None: ...


class ExplainStore(Protocol):
    """The storage methods `explain_stored_article` uses."""

    def get_article(self, article_id: int) -> Article | None: ...

    def get_filings(self, article_id: int) -> Topics: ...


def explain_stored_article(
    storage: ExplainStore, rules: RuleSet, article_id: int
) -> str | None:
    """`explain_article` for a stored article (None when there is no such article).

    This is all ``monitor explain ARTICLE_ID`` needs.
    """
    a = storage.get_article(article_id)
    if a is None:
        return None
    return explain_article(
        rules,
        article_id=a.id,
        title=a.title,
        text=a.text,
        lang=a.lang,
        title_en=a.title_en,
        text_en=a.text_en,
        stored=storage.get_filings(article_id),
    )


def reclassify_archive(
    storage: FilingStore,
    rules: RuleSet,
    *,
    pending_only: bool = False,
    batch_size: int = DEFAULT_BATCH,
) -> int:
    """Re-file stored articles (all, or only those pending) in batches.

    Uses the stored translation; never translates.  One transaction per batch.

    Returns:
        The number of articles filed.
    """
    after, done = 0, 0
    while True:
        batch = storage.get_articles_to_classify(
            after_id=after, limit=batch_size, pending_only=pending_only
        )
        if not batch:
            return done
        storage.save_filings((a.id, _classify_stored(rules, a)) for a in batch)
        done += len(batch)
        after = batch[-1].id
        logger.info(
            "classified batch articles=%d total=%d last_id=%d", len(batch), done, after
        )


def _classify_stored(rules: RuleSet, a: ArticleTextLike) -> Topics:
    return classify_article(
        rules,
        title=a.title,
        text=a.text,
        lang=a.lang,
        title_en=a.title_en,
        text_en=a.text_en,
    )
