"""Typed records passed between pipeline stages.

Every record is a frozen dataclass (STYLE.md 6).  Sequences are tuples.  Every
datetime is timezone-aware UTC (STYLE.md 9); naive values are normalised at the
boundary that produced them (feeds.py, extract.py), never here.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, Literal, TypeVar

T = TypeVar("T")


class TextSource(enum.StrEnum):
    """Where an article's stored text came from (issue #2: fallback chain)."""

    PAGE = "page"  # trafilatura on the fetched article page
    FEED_CONTENT = (
        "feed_content"  # the feed's full content (content:encoded, atom:content)
    )
    FEED_SUMMARY = "feed_summary"  # the feed's summary/description
    TITLE_ONLY = "title_only"  # nothing but a headline was available


class TranslationStatus(enum.StrEnum):
    """State of an article in the translation stage (issue #3)."""

    PENDING = "pending"  # needs translation; picked up when a model is available
    DONE = "done"  # title and every sentence translated
    PARTIAL = "partial"  # translated, but some sentences kept in the original (guards)
    NOT_NEEDED = "not_needed"  # already in the target language
    NO_MODEL = (
        "no_model"  # no model for this language pair (kk, uz, ky, tg, or no ru->en)
    )
    FAILED = "failed"  # the engine failed; retried on a later run


SourceKind = Literal["feed", "telegram", "sitemap", "page"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedSpec:
    """One `[[feed]]` entry of config/feeds.toml."""

    name: str
    url: str = ""  # required, except for kind = "telegram" with `channel`
    outlet: str
    lang: str
    country: str
    enabled: bool = True
    allow_private: bool = False  # intranet sources: allow private/loopback addresses
    topics_hint: tuple[str, ...] = ()
    # ---- source kinds (issue #14; docs/adding-a-feed.md, monitor/sources/)
    kind: SourceKind = "feed"
    channel: str = ""  # telegram: the channel name, instead of a t.me/s/ url
    interval: float | None = None  # seconds between polls (default poll.min_interval)
    fetch_pages: bool = True  # fetch and extract each item's page
    tags: tuple[str, ...] = ()  # free labels (OPML folders on import)
    media_only: Literal["caption", "skip"] = "caption"  # telegram media-only posts
    backfill_pages: int = 3  # telegram: older pages read on the first poll
    fetch_linked: bool = False  # telegram: fetch the article a link post points at
    max_age_days: float = 3.0  # sitemap: drop URLs older than this (0: keep all)
    max_urls_per_poll: int = 50  # sitemap/page: new URLs per poll, newest first
    # ---- reaching blocked outlets (issue #20; docs/adding-a-feed.md)
    proxy: str | None = None  # None: fetch.proxy; "none": direct; or a proxy URL
    isolate: bool = False  # its own Tor circuit (a SOCKS username of its own)
    urls: tuple[str, ...] = ()  # primary, then mirrors; `url` is urls[0]
    block_statuses: tuple[int, ...] = (451,)  # answers that mean "blocked here"
    block_markers: tuple[str, ...] = ()  # text of an ISP block page (title, phrase)


# Page failures count over this window in status, feeds list and the digest (#10.6).
PAGE_HEALTH_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True, kw_only=True)
class PageHealth:
    """A feed's article-page fetches in a time window (24 h for status and digest)."""

    attempted: int = 0
    failed: int = 0

    @property
    def all_failed(self) -> bool:
        """Pages were fetched and every one failed."""
        return self.attempted > 0 and self.failed >= self.attempted

    @property
    def text(self) -> str:
        """``pages failing: 112 of 112``."""
        return f"pages failing: {self.failed} of {self.attempted}"


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedState:
    """What storage remembers about a feed between runs (validators, health)."""

    name: str
    url: str
    outlet: str = ""
    country: str = ""
    lang: str = ""
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    next_poll_at: datetime | None = None  # Retry-After / backoff
    last_polled_at: datetime | None = None
    last_ok_at: datetime | None = None
    last_new_item_at: datetime | None = None
    last_status: str | None = None  # ok | not_modified | unchanged | error
    failure_count: int = 0
    last_error: str | None = None
    # which URL and route served the last successful poll (issue #20)
    served_url: str | None = None
    served_via: str | None = None  # "direct" or a proxy label (no credentials)
    primary_failed_at: datetime | None = None  # on a mirror since; None: primary

    def health(
        self, now: datetime, silent_hours: float, pages: PageHealth | None = None
    ) -> str:
        """``never polled``, ``failing``, ``pages failing`` (every article page
        fetched in the window failed, #10.6), ``silent`` (no new item for
        `silent_hours`) or ``ok``: the one rule `monitor status`, `feeds list`
        and the digest's health section share."""
        if self.last_polled_at is None:
            return "never polled"
        if self.last_status == "error":
            return "failing"
        if pages is not None and pages.all_failed:
            return "pages failing"
        quiet = self.last_new_item_at is None or (
            now - self.last_new_item_at > timedelta(hours=silent_hours)
        )
        return "silent" if quiet else "ok"


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """An HTTP response body as fetched (bytes first, parse second: STYLE.md 30)."""

    requested_url: str
    final_url: str
    status: int
    fetched_at: datetime
    body: bytes
    content_type: str | None = None
    charset: str | None = None  # declared in Content-Type, if any
    etag: str | None = None
    last_modified: str | None = None
    retry_after: datetime | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedItem:
    """One entry of a parsed feed."""

    feed_name: str
    entry_id: str
    link: str
    title: str
    published: datetime | None = None
    summary: str = ""
    content: str = ""  # full content when the feed carries it (HTML stripped)
    author: str | None = None
    lang: str | None = None  # what the feed claims
    # What else marks a new version (a sitemap's lastmod); "" leaves the hash as it was.
    revision: str = ""

    @property
    def hash(self) -> str:
        parts = (self.link, self.title, self.summary, self.content)
        return stable_hash(*parts, *((self.revision,) if self.revision else ()))


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedFeed:
    """The result of parsing one feed document."""

    title: str
    items: tuple[FeedItem, ...]
    warning: str | None = None  # feedparser bozo exception, if the feed was repaired
    skipped: tuple[str, ...] = ()  # entries left out as bad input, with the reason


@dataclass(frozen=True, slots=True, kw_only=True)
class Extracted:
    """Text and metadata of one article, after the extraction fallback chain."""

    text: str
    title: str
    author: str | None
    published: datetime | None
    lang: str | None  # detected, whatever the feed claims
    canonical_url: str
    source: TextSource
    is_teaser: bool = False  # a teaser, paywalled stub or summary: never "full text"


@dataclass(frozen=True, slots=True, kw_only=True)
class Translation:
    """An article's translation (issue #3)."""

    src: str
    dst: str
    title: str | None
    text: str | None
    engine: str
    status: TranslationStatus
    flagged: int = 0  # sentences kept in the original because guards rejected them
    note: str | None = None  # e.g. "untranslated (no kk→en model)"


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicMatch:
    """Why an article was filed under one label (issue #4: explanations)."""

    facet: str  # "topic" or "country"
    label: str
    score: float
    rule: str  # the rule (or alias entry) that fired
    terms: tuple[str, ...]  # rule terms that matched
    matched: tuple[str, ...]  # the words in the text that matched them


@dataclass(frozen=True, slots=True, kw_only=True)
class Topics:
    labels: tuple[TopicMatch, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Article:
    """An article as storage returns it."""

    id: int
    canonical_url: str
    url: str
    feed_name: str
    outlet: str
    country: str
    title: str
    text: str
    source: TextSource | None
    is_teaser: bool
    author: str | None
    published: datetime | None
    first_seen: datetime
    lang: str | None
    extract_status: str
    translation_status: TranslationStatus
    title_en: str | None = None
    text_en: str | None = None
    translation_note: str | None = None
    translation_engine: str | None = None  # model id, e.g. nllb:NAME@sha (#18)
    summary: str = ""
    story_id: int | None = None
    last_error: str | None = None
    pruned_at: datetime | None = None  # body and story features removed (#19)


@dataclass(frozen=True, slots=True, kw_only=True)
class PruneCandidate:
    """An unpruned article old enough to be looked at by `monitor prune` (#19).

    Storage returns the facts; `monitor.retention` decides.  ``text`` and
    ``translation_engine`` give the translation-cache keys of its sentences; the
    byte counts are what pruning would remove (stored lengths, an estimate).
    """

    article_id: int
    first_seen: datetime
    published: datetime | None
    extract_status: str
    translation_status: str
    classify_status: str
    story_status: str
    title: str
    text: str
    translation_engine: str | None
    body_bytes: int  # text + text_en + feed content
    feature_bytes: int  # the story_features blob, 0 when there is none


# ---------------------------------------------------------------- stories (issue #5)
class Relation(enum.StrEnum):
    """How an article joined its story (``story_members.relation``)."""

    SEED = "seed"  # first article: the story's id is this article's id
    EXACT = "exact"  # same outlet, same normalised title, within the window
    NEAR = "near"  # MinHash Jaccard of word shingles >= near_duplicate_threshold
    STORY = "story"  # same event: TF-IDF cosine + shared entities >= story_threshold


@dataclass(frozen=True, slots=True, kw_only=True)
class Assignment:
    """The clusterer's decision for one article.

    ``story_id`` is the id of the story's seed article, so ids are stable and
    known before anything is written; ``matched_id`` is the member that
    decided it (``None`` for a seed).
    """

    article_id: int
    story_id: int
    relation: Relation
    score: float
    time: datetime
    matched_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryMember:
    """One article of a story, with what the digest shows about it."""

    article_id: int
    outlet: str
    lang: str | None
    url: str
    title: str
    title_en: str | None
    published: datetime | None
    relation: Relation
    score: float
    is_teaser: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Story:
    """A group of articles reporting the same event (issue #5)."""

    id: int
    created_at: datetime
    representative_id: int | None
    first_published: datetime | None
    last_published: datetime | None
    members: tuple[StoryMember, ...]

    @property
    def representative(self) -> StoryMember | None:
        """The member chosen to stand for the story in the digest."""
        return next(
            (m for m in self.members if m.article_id == self.representative_id), None
        )

    @property
    def outlets(self) -> tuple[str, ...]:
        """Distinct outlets, in member order."""
        return tuple(dict.fromkeys(m.outlet for m in self.members))


@dataclass(frozen=True, slots=True)
class StageResult(Generic[T]):
    """Outcome of one stage for one key: a value, None (nothing to do), or an error."""

    key: object
    value: T | BaseException | None


@dataclass(slots=True)
class RunSummary:
    """Counts for the one-line summary at the end of a run (STYLE.md 25)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def line(self) -> str:
        c = self.counts
        return (
            f"feeds {c.get('feeds_ok', 0)} ok / {c.get('feeds_error', 0)} error / "
            f"{c.get('feeds_not_modified', 0)} not modified; "
            f"articles {c.get('articles_new', 0)} new, "
            f"{c.get('articles_extracted', 0)} extracted, "
            f"{c.get('articles_translated', 0)} translated, "
            f"{c.get('articles_classified', 0)} classified, "
            f"{c.get('articles_failed', 0)} failed; "
            f"stories {c.get('stories_new', 0)} new"
            + self._alerts_part()
            + (f"; pruned {c['articles_pruned']}" if c.get("articles_pruned") else "")
            + (
                f"; features dropped {c['features_dropped']}"
                if c.get("features_dropped")
                else ""
            )
        )

    def _alerts_part(self) -> str:
        """``; alerts 2 sent, 1 failed`` when the run sent or tried any (#16)."""
        sent, failed = (
            self.counts.get("alerts_sent", 0),
            self.counts.get("alerts_failed", 0),
        )
        if not (sent or failed):
            return ""
        return f"; alerts {sent} sent" + (f", {failed} failed" if failed else "")


def stable_hash(*parts: str | None) -> str:
    """A short content hash over the given parts (None and "" hash alike)."""
    h = hashlib.sha256()
    for part in parts:
        h.update((part or "").encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryClaim:
    """A mail delivery taken by a sender and not yet marked done (issue #11.10).

    Attributes:
        claimed_at: when the latest attempt started.
        attempts: attempts started so far (a crash leaves the claim behind).
    """

    claimed_at: datetime
    attempts: int


# --------------------------------------------------------------------------- search
# Records of the search contract (issue #15): monitor.search compiles a query into
# this backend-neutral tree of index tokens; a storage backend renders it (SQLite:
# an FTS5 MATCH expression; a PostgreSQL backend: a tsquery).


@dataclass(frozen=True, slots=True)
class SearchWord:
    """One index token (a lemma, stem or name key); ``prefix``: any token it starts."""

    token: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class SearchNear:
    """All `words` within `distance` tokens of each other, in one column.

    That is what the SQLite index runs (FTS5 ``NEAR``: a word is a group of
    tokens there, so `distance` is widened).  A backend that keeps one position
    per word (PostgreSQL) uses the query's own shape instead: ``split == 0`` is
    a phrase (the words in this order, next to each other); otherwise
    ``words[:split]`` NEAR/``apart`` ``words[split:]`` (docs/search.md).
    """

    words: tuple[SearchWord, ...]
    distance: int
    split: int = 0
    apart: int = 0


@dataclass(frozen=True, slots=True)
class SearchAnd:
    """Every child, and none of `excluded`."""

    children: tuple[SearchNode, ...]
    excluded: tuple[SearchNode, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchOr:
    children: tuple[SearchNode, ...]


SearchNode = SearchWord | SearchNear | SearchAnd | SearchOr


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchFilters:
    """Restrictions applied with the match: all given ones must hold."""

    since: datetime | None = None  # published >= since
    until: datetime | None = None  # published < until
    feeds: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchDoc:
    """One article as the index holds it: space-separated words per column, the
    tokens of one word joined by ``+`` (a separator for FTS5 too; PostgreSQL
    gives them one position)."""

    article_id: int
    title: str
    body: str
    title_en: str
    body_en: str
    aliases: str  # Latin spellings of the original's Cyrillic names


# ------------------------------------------------------------ storage records (#13)
# What the storage contract (monitor/store/contract.py) takes and returns beyond
# the stage records above.  They lived in the SQLite modules; those re-export them.


@dataclass(frozen=True, slots=True, kw_only=True)
class PollOutcome:
    """What one poll of one feed changed."""

    status: str  # ok | not_modified | unchanged | error
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    error: str | None = None
    next_poll_at: datetime | None = None
    new_items: int = 0
    # kept only when status is not "error" (issue #20)
    served_url: str | None = None
    served_via: str | None = None
    primary_failed_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TranslationTask:
    """An article that needs the translation stage."""

    article_id: int
    title: str
    text: str
    lang: str | None
    status: TranslationStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """One entry of the failures log, as `monitor status` shows it."""

    at: datetime
    stage: str
    resource: str
    error: str
    count: int = 1  # the same stage, resource and error recorded this many times


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """One `monitor run` as recorded (summary: the run's counts)."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    summary: dict[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class Sighting:
    """One feed entry that pointed at an article (a copy carried by another feed)."""

    article_id: int
    feed_name: str
    outlet: str
    country: str
    lang: str
    link: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestRecord:
    """A digest that was written: its key (local day or ``since:<iso>``) and file."""

    day: str
    generated_at: datetime
    content_hash: str
    path: str


# --------------------------------------------------------------------------- alerts
# Records of the alerts contract (issue #16; monitor/alerts, docs/alerts.md).


@dataclass(frozen=True, slots=True)
class AlertKey:
    """One delivery of one alert: a watch, a story, the outlet level reached, and
    the notify target it goes to."""

    watch: str
    story_id: int
    level: int
    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRecord:
    """What storage remembers about one delivery (claim -> send -> mark).

    Attributes:
        key: watch, story, level and target.
        created_at: when the alert was first claimed.
        claimed_at: set while a send is under way; None once it ended.
        attempts: sends started (a kill -9 leaves ``claimed_at`` behind).
        failures: sends that ended in a known failure.
        sent_at: when it was delivered (None: not yet).
        last_error: the last failure, one line.
        payload: the JSON document that is (re)sent.
    """

    key: AlertKey
    created_at: datetime
    claimed_at: datetime | None = None
    attempts: int = 0
    failures: int = 0
    sent_at: datetime | None = None
    last_error: str | None = None
    payload: str = "{}"
