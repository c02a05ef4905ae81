"""Assemble a `Digest` from storage rows (issue #6 "Structure", issue #12).

Stories are the unit: the articles of the window are grouped by story id (an
article without one is a story of its own).  A story is filed under every topic
any of its articles was filed under, and is *shown once*: under its primary
topic (the highest score; ties go to the topic configured first), with the
others listed as "Also under".  The ``digest.top_stories`` stories with the
most outlets (then the most recent; at least two outlets) open the digest in
"Top stories" and are not repeated below.  Within a topic, stories rank by the number of distinct
outlets that carried them, then by recency, then by a stable key.  The
countries a story is about are ordered by weighted mentions (the country
filing's score), so the first is its primary country.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from ..config import DigestConfig
from ..models import (
    PAGE_HEALTH_WINDOW,
    Article,
    FeedState,
    PageHealth,
    Sighting,
    TopicMatch,
    TranslationStatus,
    stable_hash,
)
from ..urls import canonicalize_url
from ._model import (
    OTHER_LABEL,
    TOP_LABEL,
    CopyLink,
    Digest,
    DigestPeriod,
    DigestStats,
    DigestStory,
    FeedProblem,
    Filing,
    TopicSection,
    clean_text,
    effective_time,
    make_lede,
    safe_url,
)

logger = logging.getLogger(__name__)

TARGET_LANG = "en"
TOP_MIN_OUTLETS = 2  # a story one outlet carried is never a "top story"
MIN_LEDE_CHARS = 40  # a smaller digest.lede_max_chars would cut ledes to nothing
_TRANSLATED = (TranslationStatus.DONE, TranslationStatus.PARTIAL)


class DigestSource(Protocol):
    """The storage methods a digest reads (implemented by `Storage`)."""

    def get_articles_for_digest(
        self, start: datetime, end: datetime, *, by: str = "time", bodies: bool = True
    ) -> list[Article]: ...

    def get_articles(self, article_ids: Iterable[int]) -> list[Article]: ...

    def get_filings_for_articles(
        self, article_ids: Iterable[int]
    ) -> dict[int, tuple[TopicMatch, ...]]: ...

    def get_sightings_for_articles(
        self, article_ids: Iterable[int]
    ) -> dict[int, tuple[Sighting, ...]]: ...

    def get_feed_states(self) -> dict[str, FeedState]: ...

    def get_page_health(
        self, start: datetime, end: datetime
    ) -> dict[str, PageHealth]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class _Member:
    article: Article
    time: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class _Filing:
    label: str
    score: float
    rule: str
    terms: tuple[str, ...]


def collect_digest(
    source: DigestSource,
    *,
    period: DigestPeriod,
    cfg: DigestConfig,
    topic_order: Sequence[str],
    generated_at: datetime,
    topic_names: Mapping[str, str] | None = None,
    sources: Mapping[str, str] | None = None,
) -> Digest:
    """Read the window's articles, filings and feed health and build the digest.

    ``topic_order`` lists topic ids (as filed); ``topic_names`` maps them to the
    headings readers see (ids without a name are shown as they are).  ``sources``
    maps each configured source name to its kind: when given, feed health covers
    only those sources (a removed feed's stored state is not a problem) and each
    problem names its kind.
    """
    names = dict(topic_names or {})
    by = "time" if period.day is not None else "first_seen"
    members = _select(  # no bodies: only the shown stories' ledes need one
        source.get_articles_for_digest(period.start, period.end, by=by, bodies=False),
        period,
    )
    ids = [m.article.id for m in members]
    filings = source.get_filings_for_articles(ids)
    sightings = source.get_sightings_for_articles(ids)
    groups = _group(members)
    rank = {t: i for i, t in enumerate(topic_order)}
    ranked = [
        _ranked(key, group, filings, sightings, names, rank)
        for key, group in groups.items()
    ]
    order = tuple(names.get(t, t) for t in topic_order)
    arranged = arrange(
        ranked, order, top_n=cfg.top_stories, cap=cfg.max_stories_per_topic
    )
    bodies = {a.id: a for a in source.get_articles(_shown_ids(arranged))}
    top, sections, other_section = _in_full(
        arranged,
        lambda key: _story_filed(
            key, groups[key], filings, sightings, period, cfg, names, rank, bodies
        ),
    )
    health = _configured(source.get_feed_states(), sources)
    pages = source.get_page_health(period.end - PAGE_HEALTH_WINDOW, period.end)
    problems = _feed_problems(health, pages, period, cfg, sources or {})
    stats = _stats(members, groups, sightings, problems, feeds=len(health))
    logger.info(
        "digest built period=%s articles=%d stories=%d topics=%d",
        period.key,
        stats.articles,
        stats.stories,
        len(sections),
    )
    return Digest(
        title=cfg.title,
        period=period,
        generated_at=generated_at,
        sections=sections,
        other=other_section,
        feed_problems=problems,
        stats=stats,
        top=top,
        topic_order=order,
    )


_Arranged = tuple[TopicSection | None, tuple[TopicSection, ...], TopicSection | None]


def _shown_ids(arranged: _Arranged) -> list[int]:
    top, sections, other = arranged
    parts = (top, *sections, other)
    return [st.article_id for part in parts if part is not None for st in part.stories]


def _in_full(arranged: _Arranged, full: Callable[[str], DigestStory]) -> _Arranged:
    """The shown stories built in full (`_story_filed`): the stories a section's
    cap leaves out (most of a busy day) were only ranked (`_ranked`), never given
    a lede (a whole body cleaned and split), copy links (every sighting's URL
    canonicalised) or headlines."""

    def fill(section: TopicSection | None) -> TopicSection | None:
        if section is None:
            return None
        return replace(
            section, stories=tuple(full(s.story_key) for s in section.stories)
        )

    top, sections, other = arranged
    return fill(top), tuple(filter(None, map(fill, sections))), fill(other)


def _ranked(
    key: str,
    group: Sequence[_Member],
    filings: dict[int, tuple[TopicMatch, ...]],
    sightings: dict[int, tuple[Sighting, ...]],
    names: Mapping[str, str],
    rank: Mapping[str, int],
) -> DigestStory:
    """What `arrange` reads of a story: its topics and what ranks it (outlets,
    latest time, key), as `_story_filed` would give them."""
    ordered = _primary_first(_topic_scores(group, filings), rank)
    topic, others = _homes(ordered, names, rank) or ("", ())
    rep, outlets = group[0], _outlet_names(group, sightings)
    return DigestStory(
        story_key=key, headline="", original_headline=None, outlet="", country="",
        lang="", time=rep.time, last_time=max(m.time for m in group), local_time="",
        lede="", url=None, outlets=len(outlets), outlet_names=tuple(outlets),
        topic=topic, other_topics=others, article_id=rep.article.id,
    )  # fmt: skip


def _story_filed(
    key: str,
    group: Sequence[_Member],
    filings: dict[int, tuple[TopicMatch, ...]],
    sightings: dict[int, tuple[Sighting, ...]],
    period: DigestPeriod,
    cfg: DigestConfig,
    names: Mapping[str, str],
    rank: Mapping[str, int],
    bodies: Mapping[int, Article],
) -> DigestStory:
    """One story with its primary topic, other topics and countries (``bodies``:
    the representative's full row, for the lede)."""
    topics = _story_topics(group, filings)
    ordered = _primary_first(topics, rank)
    base = _story(key, group, sightings, period, cfg, bodies)
    about = _story_countries(group, filings, names)
    home = _homes(ordered, names, rank)
    if home is None:
        return replace(base, about=about)
    (topic, others), primary = home, ordered[0]
    return replace(
        base,
        about=about,
        topic=topic,
        rule=clean_text(primary.rule),
        terms=primary.terms,
        other_topics=others,
        filings=tuple(
            Filing(
                topic=names.get(f.label, f.label),
                score=f.score,
                rule=clean_text(f.rule),
                terms=f.terms,
            )
            for f in ordered
        ),
    )


def _rank(label: str, rank: Mapping[str, int]) -> tuple[int, str]:
    return (rank.get(label, len(rank)), label)


def _primary_first(
    topics: dict[str, _Filing], rank: Mapping[str, int]
) -> list[_Filing]:
    """Filings, best first: highest score, ties broken by configured order."""
    return sorted(topics.values(), key=lambda f: (-f.score, *_rank(f.label, rank)))


def arrange(
    stories: Sequence[DigestStory],
    topic_order: Sequence[str],
    *,
    top_n: int,
    cap: int,
    wanted: frozenset[str] | None = None,
) -> tuple[TopicSection | None, tuple[TopicSection, ...], TopicSection | None]:
    """Top stories, topic sections (configured order) and "Other", each story once.

    With ``wanted`` (casefolded headings of a recipient's topics), only stories
    filed under one of them are kept, each under the first wanted topic among
    its primary and other topics; "Other" is kept only when it is wanted.
    """
    kept = [s for s in stories if wanted is None or _wanted_home(s, wanted) is not None]
    ranked = sorted(kept, key=_story_rank)
    top = [s for s in ranked if s.outlets >= TOP_MIN_OUTLETS][: max(0, top_n)]
    shown = {s.story_key for s in top}
    filed: dict[str, list[DigestStory]] = {}
    other: list[DigestStory] = []
    for s in ranked:
        if s.story_key in shown:
            continue
        home = _wanted_home(s, wanted) if wanted is not None else s.topic
        (filed.setdefault(home, []) if home else other).append(s)
    known = [t for t in topic_order if t in filed]
    labels = known + sorted(t for t in filed if t not in topic_order)
    sections = tuple(_section(t, filed[t], cap) for t in labels)
    other_section = _section(OTHER_LABEL, other, cap) if other else None
    top_section = _section(TOP_LABEL, top, cap) if top else None
    return top_section, sections, other_section


def _wanted_home(s: DigestStory, wanted: frozenset[str]) -> str | None:
    """The first of the story's topics a recipient follows ("" for "Other")."""
    if not s.topics:
        return "" if OTHER_LABEL.casefold() in wanted else None
    return next((t for t in s.topics if t.casefold() in wanted), None)


def _story_rank(s: DigestStory) -> tuple[int, float, str]:
    return (-s.outlets, -s.last_time.timestamp(), s.story_key)


def filter_digest(digest: Digest, topics: Sequence[str], *, top_n: int = 5) -> Digest:
    """The digest restricted to ``topics`` (a recipient's subscription).

    An empty ``topics`` keeps everything.  "Other" is kept only when listed.
    Matching ignores case.  Feed health is always kept.  A story filed under a
    followed topic is kept (under the first followed one) even when its primary
    topic is another; the header counts what the filtered digest contains.
    """
    if not topics:
        return digest
    wanted = frozenset(t.casefold() for t in topics)
    every = [
        st
        for s in (
            *([digest.top] if digest.top else []),
            *digest.all_sections,
        )
        for st in s.stories
    ]
    cap = max((len(s.stories) + s.omitted for s in digest.all_sections), default=1)
    top, sections, other = arrange(
        every, digest.topic_order, top_n=top_n, cap=cap, wanted=wanted
    )
    parts = (*([top] if top else []), *sections, *([other] if other else []))
    kept = [st for s in parts for st in s.stories]
    outlets = {o for st in kept for o in st.outlet_names}
    stats = replace(
        digest.stats,
        stories=len(kept),
        articles=sum(len(st.article_ids) for st in kept),
        outlets=len(outlets),
        untranslated=sum(st.untranslated for st in kept),
    )
    return replace(
        digest,
        top=top,
        sections=sections,
        other=other,
        stats=stats,
        topics=tuple(sorted(topics)),
    )


# ---------------------------------------------------------------------- selection


def _select(articles: Iterable[Article], period: DigestPeriod) -> list[_Member]:
    out = []
    for a in articles:
        when = effective_time(a.published, a.first_seen)
        if period.day is None or period.start <= when < period.end:
            out.append(_Member(article=a, time=when))
    return out


def _group(members: Iterable[_Member]) -> dict[str, list[_Member]]:
    """Group by story; key each group by its URLs, not by database ids.

    Ids depend on the order rows were inserted (a crashed and resumed run may
    differ from an uninterrupted one); canonical URLs do not, so the digest is
    byte-identical either way (issue #7 "crash safety").
    """
    by_story: dict[str, list[_Member]] = {}
    for m in members:
        a = m.article
        key = f"s{a.story_id}" if a.story_id is not None else f"a{a.id}"
        by_story.setdefault(key, []).append(m)
    groups: dict[str, list[_Member]] = {}
    for group in by_story.values():
        group.sort(key=_rep_rank)
        first_url = min(m.article.canonical_url for m in group)
        groups[stable_hash(first_url)[:16]] = group
    return dict(sorted(groups.items()))


def _rep_rank(m: _Member) -> tuple[bool, bool, datetime, str]:
    """Representative first: full text, readable in English, earliest, by URL."""
    a = m.article
    return (a.is_teaser, _marker(a) is not None, m.time, a.canonical_url)


def _homes(
    ordered: Sequence[_Filing], names: Mapping[str, str], rank: Mapping[str, int]
) -> tuple[str, tuple[str, ...]] | None:
    """A story's primary topic heading and its other topics in configured order;
    None when it has none or its best filing is "Other"."""
    if not ordered or ordered[0].label.casefold() == OTHER_LABEL.casefold():
        return None
    others = sorted(ordered[1:], key=lambda f: _rank(f.label, rank))
    return (
        names.get(ordered[0].label, ordered[0].label),
        tuple(names.get(f.label, f.label) for f in others),
    )


def _topic_scores(
    group: Sequence[_Member], filings: dict[int, tuple[TopicMatch, ...]]
) -> dict[str, _Filing]:
    """`_story_topics` without rules and terms: each topic's best score is
    all that ranking and a story's home need."""
    best: dict[str, float] = {}
    for m in group:
        for f in filings.get(m.article.id, ()):
            if f.facet == "topic" and (f.label not in best or f.score > best[f.label]):
                best[f.label] = f.score
    return {t: _Filing(label=t, score=v, rule="", terms=()) for t, v in best.items()}


def _story_topics(
    group: Sequence[_Member], filings: dict[int, tuple[TopicMatch, ...]]
) -> dict[str, _Filing]:
    best: dict[str, _Filing] = {}
    for m in group:
        for f in filings.get(m.article.id, ()):
            if f.facet != "topic":
                continue
            old = best.get(f.label)
            terms = tuple(
                sorted({*(old.terms if old else ()), *map(clean_text, f.terms)})
            )
            if old is None or f.score > old.score:
                best[f.label] = _Filing(
                    label=f.label, score=f.score, rule=f.rule, terms=terms
                )
            else:
                best[f.label] = replace(old, terms=terms)
    return best


def _story_countries(
    group: Sequence[_Member],
    filings: dict[int, tuple[TopicMatch, ...]],
    names: Mapping[str, str],
) -> tuple[str, ...]:
    """Countries/regions the story's articles were filed under (the "country"
    facet), most weighted mentions first: the first is the primary country."""
    weight: dict[str, float] = {}
    for m in group:
        for f in filings.get(m.article.id, ()):
            if f.facet == "country":
                name = clean_text(names.get(f.label, f.label))
                weight[name] = weight.get(name, 0.0) + f.score
    return tuple(sorted(weight, key=lambda c: (-weight[c], c)))


def _section(label: str, stories: list[DigestStory], cap: int) -> TopicSection:
    ranked = sorted(stories, key=_story_rank)
    return TopicSection(
        label=label, stories=tuple(ranked[:cap]), omitted=max(0, len(ranked) - cap)
    )


# ---------------------------------------------------------------------- one story


def _story(
    key: str,
    group: Sequence[_Member],
    sightings: dict[int, tuple[Sighting, ...]],
    period: DigestPeriod,
    cfg: DigestConfig,
    bodies: Mapping[int, Article],
) -> DigestStory:
    rep = group[0]
    a = rep.article
    headline, original = _headlines(a)
    copies = _copies(group, sightings)
    outlets = _outlet_names(group, sightings)  # the copies' outlets and its own
    countries = sorted({c for c in (a.country, *(c.country for c in copies)) if c})
    return DigestStory(
        story_key=key,
        headline=headline or "(no headline)",
        original_headline=original,
        outlet=clean_text(a.outlet),
        country=clean_text(a.country),
        lang=clean_text(a.lang) or "?",
        time=rep.time,
        last_time=max(m.time for m in group),
        local_time=_local_time(rep.time, period),
        lede=_lede(bodies.get(a.id, a), cfg, headline),
        url=_link(a),
        also=copies,
        outlets=len(outlets),
        countries=tuple(countries),
        translation_marker=_marker(a),
        translated_by=_translated_by(a),
        is_teaser=a.is_teaser,
        article_id=a.id,
        story_id=a.story_id,
        article_ids=tuple(sorted(m.article.id for m in group)),
        untranslated=sum(1 for m in group if _marker(m.article) is not None),
        outlet_names=tuple(outlets),
    )


def _link(a: Article) -> str | None:
    """The stored canonical URL (no tracking parameters), else the feed link."""
    return safe_url(a.canonical_url) or safe_url(a.url)


def _readable_in_english(a: Article) -> bool:
    return (
        a.translation_status is TranslationStatus.NOT_NEEDED
        or (a.lang or "") == TARGET_LANG
    )


def _headlines(a: Article) -> tuple[str, str | None]:
    title = clean_text(a.title)
    if (
        a.translation_status in _TRANSLATED
        and a.title_en
        and not _readable_in_english(a)
    ):
        english = clean_text(a.title_en)
        return english, (title if title and title != english else None)
    return title, None


def _translated_by(a: Article) -> str | None:
    """The model that gave the article its English text (weights hash dropped)."""
    if _readable_in_english(a) or a.translation_status not in _TRANSLATED:
        return None
    model = clean_text((a.translation_engine or "").partition("@")[0])
    if not model:
        return None
    if a.translation_status is TranslationStatus.PARTIAL and not a.title_en:
        return f"tried {model}"  # its output was held back: say whose
    return f"translated by {model}"


def _marker(a: Article) -> str | None:
    if _readable_in_english(a) or a.translation_status is TranslationStatus.DONE:
        return None
    status = a.translation_status
    lang = clean_text(a.lang) or "?"
    if status is TranslationStatus.PARTIAL:
        return _partial_marker(clean_text(a.translation_note))
    if status is TranslationStatus.NO_MODEL:
        return (
            clean_text(a.translation_note)
            or f"untranslated (no {lang}→{TARGET_LANG} model)"
        )
    if status is TranslationStatus.FAILED:
        return "untranslated (translation failed)"
    return "untranslated (translation pending)"


_LEFT_RE = re.compile(r"(\d+) of (\d+) sentences? left untranslated(?: \((.+)\))?")


def _partial_marker(note: str) -> str:
    """ "partly translated (2 of 6 sentences in the original: output guards)", or
    "untranslated (...)" when no sentence was translated at all."""
    m = _LEFT_RE.fullmatch(note)
    if m is None:
        return f"partly translated ({note})" if note else "partly translated"
    left, total, why = int(m.group(1)), int(m.group(2)), m.group(3)
    reason = f": {why}" if why else ""
    if left >= total:
        n = "sentence" if total == 1 else f"all {total} sentences"
        return f"untranslated ({n} held back{reason})"
    return f"partly translated ({left} of {total} sentences in the original{reason})"


def _lede(a: Article, cfg: DigestConfig, headline: str) -> str:
    if (
        a.translation_status in _TRANSLATED
        and a.text_en
        and not _readable_in_english(a)
    ):
        text = a.text_en
    else:
        text = a.text or a.summary
    return make_lede(
        text, sentences=cfg.lede_sentences, max_chars=_lede_cap(cfg), skip=headline
    )


def _lede_cap(cfg: DigestConfig) -> int:
    return max(MIN_LEDE_CHARS, cfg.lede_max_chars)


def _outlet_names(
    group: Sequence[_Member], sightings: dict[int, tuple[Sighting, ...]]
) -> list[str]:
    """Every outlet that carried the story, sorted: the representative's and
    those of `_copies` (a copy is dropped only as a repeat of an outlet's link,
    so its outlet is counted already), without building a link."""
    raw = {m.article.outlet for m in group}
    raw.update(
        s.outlet
        for m in group
        for s in sightings.get(m.article.id, ())
        if s.feed_name != m.article.feed_name
    )
    return sorted({clean_text(name) for name in raw})


def _copies(
    group: Sequence[_Member], sightings: dict[int, tuple[Sighting, ...]]
) -> tuple[CopyLink, ...]:
    """Other outlets' copies, one per outlet with a count ("Vlast.kz (ru) ×2")."""
    rep = group[0].article
    candidates: list[CopyLink] = []
    for m in group:
        a = m.article
        if a.id != rep.id:
            candidates.append(
                CopyLink(
                    outlet=clean_text(a.outlet),
                    country=clean_text(a.country),
                    lang=clean_text(a.lang) or "?",
                    url=_link(a),
                    title=_headlines(a)[0],
                )
            )
        for s in sightings.get(a.id, ()):
            if s.feed_name != a.feed_name:
                candidates.append(
                    CopyLink(
                        outlet=clean_text(s.outlet),
                        country=clean_text(s.country),
                        lang=clean_text(s.lang) or "?",
                        url=_clean_link(s.link),
                    )
                )
    return _per_outlet(candidates, seen={(clean_text(rep.outlet), _link(rep))})


def _per_outlet(
    candidates: Sequence[CopyLink], seen: set[tuple[str, str | None]]
) -> tuple[CopyLink, ...]:
    by_outlet: dict[str, list[CopyLink]] = {}
    for c in sorted(candidates, key=lambda c: (c.lang, c.url or "")):
        if (c.outlet, c.url) not in seen:
            seen.add((c.outlet, c.url))
            by_outlet.setdefault(c.outlet, []).append(c)
    out = [replace(cs[0], copies=len(cs)) for cs in by_outlet.values()]
    return tuple(sorted(out, key=lambda c: (c.outlet.casefold(), c.lang, c.url or "")))


def _clean_link(link: str | None) -> str | None:
    url = safe_url(link)
    if url is None:
        return None
    try:
        return safe_url(canonicalize_url(url)) or url
    except ValueError:
        return url


def _local_time(moment: datetime, period: DigestPeriod) -> str:
    local = moment.astimezone(ZoneInfo(period.timezone))
    if period.day is not None and local.date() == period.day:
        return f"{local:%H:%M}"
    return f"{local.day} {local:%b %H:%M}"


# ---------------------------------------------------------------------- health


def _configured(
    states: Mapping[str, FeedState], sources: Mapping[str, str] | None
) -> list[FeedState]:
    """The stored feed states, limited to the configured sources when known."""
    if sources is None:
        return list(states.values())
    return [s for name, s in states.items() if name in sources]


def _feed_problems(
    feeds: Iterable[FeedState],
    pages: Mapping[str, PageHealth],
    period: DigestPeriod,
    cfg: DigestConfig,
    kinds: Mapping[str, str],
) -> tuple[FeedProblem, ...]:
    out = [
        _feed_problem(
            f, pages.get(f.name), period, cfg.silent_feed_hours, kinds.get(f.name)
        )
        for f in feeds
    ]
    order = {"failing": 0, "pages failing": 1, "silent": 2, "never polled": 3}
    found = [p for p in out if p is not None]
    return tuple(sorted(found, key=lambda p: (order.get(p.status, 9), p.name)))


def _feed_problem(
    f: FeedState,
    pages: PageHealth | None,
    period: DigestPeriod,
    silent_hours: float,
    kind: str | None,
) -> FeedProblem | None:
    status = f.health(period.end, silent_hours, pages)
    common = {
        "status": status,
        "name": clean_text(f.name),
        "outlet": clean_text(f.outlet),
        "country": clean_text(f.country),
        "kind": kind or "feed",
    }
    page_note = (
        f"; {pages.text} article pages in 24 h" if pages and pages.failed else ""
    )
    if status == "failing":
        detail = f"{f.failure_count} failed poll(s) in a row"
        if f.last_error:
            detail += f"; last error: {_error_text(f.last_error)}"
        return FeedProblem(detail=detail, since=_when(f.last_ok_at, period), **common)
    if status == "pages failing" and pages is not None:
        detail = f"{pages.text} article pages in 24 h"
        return FeedProblem(detail=detail, since="last 24 h", **common)
    if status == "never polled":
        return FeedProblem(detail="not polled yet", since="never", **common)
    if status == "silent":
        detail = f"no new items in the last {int(silent_hours)} hours{page_note}"
        return FeedProblem(
            detail=detail, since=_when(f.last_new_item_at, period), **common
        )
    return None


def _error_text(raw: str) -> str:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return clean_text(raw)[:300]
    if isinstance(value, dict) and "message" in value:
        kind = clean_text(str(value.get("type", "")))
        msg = clean_text(str(value["message"]))
        return f"{kind}: {msg}"[:300] if kind else msg[:300]
    return clean_text(raw)[:300]


def _when(moment: datetime | None, period: DigestPeriod) -> str:
    if moment is None:
        return "never"
    local = moment.astimezone(ZoneInfo(period.timezone))
    return f"{local:%Y-%m-%d %H:%M}"


def _stats(
    members: Sequence[_Member],
    groups: dict[str, list[_Member]],
    sightings: dict[int, tuple[Sighting, ...]],
    problems: Sequence[FeedProblem],
    *,
    feeds: int,
) -> DigestStats:
    outlets = {m.article.outlet for m in members}
    outlets |= {s.outlet for m in members for s in sightings.get(m.article.id, ())}
    return DigestStats(
        articles=len(members),
        stories=len(groups),
        outlets=len(outlets),
        untranslated=sum(1 for m in members if _marker(m.article) is not None),
        feeds=feeds,
        feeds_with_problems=len(problems),
    )
