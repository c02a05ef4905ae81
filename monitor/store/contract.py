"""The storage contract (issue #13): what every backend provides.

`StorageType` is composed of the narrow protocols each consumer declares
(``classify.FilingStore``, ``translate.TranslationCache``,
``digest.DigestStore``, ``search.SearchStore`` ...) plus the per-stage ones
below.  The pipeline, ``status`` and the CLI are typed against it, never
against a backend class; `monitor.store.Storage` (SQLite) and
`monitor.store.pg.PgStorage` (PostgreSQL) both satisfy it (checked by mypy in
monitor/store/__init__.py and monitor/store/pg/__init__.py).

Rules every backend follows (the model is reader's ``StorageType``):

* **Threads.** One instance is used by one thread at a time; the pipeline keeps
  every write on its main thread (STYLE.md 16).
* **Time.** Every datetime passed in or returned is aware UTC; ``now`` is always
  an argument, never read from a clock here.
* **Transactions.** Each write method is one transaction: all of it or none;
  inside ``with storage.write_batch():`` the writes share one transaction.
  Two processes writing at once are serialised (SQLite: ``BEGIN IMMEDIATE``;
  PostgreSQL: one advisory lock per write transaction), so a read-then-write
  method such as `claim_delivery` decides alone.
* **Errors.** A database that fails (locked, disk full, unreachable, read-only)
  raises `StorageError`.  A write to a row that does not exist raises
  `NotFoundError` (an item error: the run goes on).  A bug in the SQL (no such
  column, wrong binding count) is *not* wrapped: it keeps its own type and
  traceback.
* **Rules.** Decisions (entry-change cap, canonical merging, which stages start
  again) are made by pure functions in `monitor.entries` and `monitor.stages`;
  a backend stores what they decide.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Protocol

from ..alerts import AlertStore
from ..classify import ExplainStore, FilingStore
from ..digest import DigestStore
from ..models import (
    Article,
    Assignment,
    DeliveryClaim,
    DigestRecord,
    Extracted,
    Failure,
    FeedItem,
    FeedSpec,
    FeedState,
    PollOutcome,
    PruneCandidate,
    RunInfo,
    Story,
    Topics,
    Translation,
    TranslationStatus,
    TranslationTask,
)
from ..search import IndexStore, SearchStore
from ..translate import TranslationCache


class FeedStore(Protocol):
    """Poll stage: configured feeds, their validators and health."""

    def sync_feeds(self, specs: Iterable[FeedSpec]) -> None: ...

    def get_feed_states(self) -> dict[str, FeedState]: ...

    def update_feed_polled(
        self, name: str, outcome: PollOutcome, now: datetime
    ) -> None: ...


class ArticleStore(Protocol):
    """Poll and extract stages: articles, their sightings, per-stage failures."""

    def add_feed_items(
        self, items: Sequence[tuple[FeedItem, str]], now: datetime
    ) -> int: ...

    def get_articles_needing_extraction(
        self, limit: int, *, article_ids: Sequence[int] | None = None
    ) -> list[tuple[Article, FeedItem]]: ...

    def save_extraction(self, article_id: int, ex: Extracted, now: datetime) -> int: ...

    def record_article_error(
        self, article_id: int, stage: str, error: str, now: datetime
    ) -> int: ...

    def park_article(self, article_id: int, stage: str, now: datetime) -> None: ...

    def get_article(self, article_id: int) -> Article | None: ...

    def get_article_id_by_url(self, canonical_url: str) -> int | None: ...

    def get_articles(self, article_ids: Iterable[int]) -> list[Article]: ...

    def get_sightings(self, article_id: int) -> list[tuple[str, str]]: ...


class RunStore(Protocol):
    """Runs, the failures log, page-fetch health and the counts `status` shows."""

    def start_run(self, now: datetime) -> int: ...

    def finish_run(
        self, run_id: int, summary: dict[str, int], now: datetime
    ) -> None: ...

    def add_failure(
        self, stage: str, resource: str, error: str, now: datetime
    ) -> None: ...

    def get_recent_failures(self, limit: int = 20) -> list[Failure]: ...

    def add_page_fetch(self, feed_name: str, *, ok: bool, now: datetime) -> None: ...

    def get_last_run(self) -> RunInfo | None: ...

    def get_stage_counts(self) -> dict[str, dict[str, int]]: ...


class TranslationStore(TranslationCache, Protocol):
    """Translate stage: the sentence cache and the articles' translation columns."""

    def count_cached_translations(self, model: str | None = None) -> int: ...

    def prune_translation_cache(self, before: datetime, *, limit: int) -> int: ...

    def get_articles_for_translation(
        self, covered: Collection[str], limit: int, *, max_attempts: int | None = None
    ) -> list[TranslationTask]: ...

    def save_translation(
        self, article_id: int, translation: Translation, now: datetime
    ) -> None: ...

    def set_translation_status(
        self,
        article_id: int,
        status: TranslationStatus,
        note: str | None,
        now: datetime,
    ) -> None: ...


class TopicStore(FilingStore, ExplainStore, Protocol):
    """Classify stage: filings and their explanations."""

    def get_articles_to_classify(
        self, *, after_id: int = 0, limit: int = 500, pending_only: bool = True
    ) -> list[Article]: ...

    def get_filings_for(self, article_ids: Iterable[int]) -> dict[int, Topics]: ...

    def get_article_ids_for_label(self, facet: str, label: str) -> list[int]: ...

    def count_filings(self) -> dict[tuple[str, str], int]: ...


class StoryStore(Protocol):
    """Stories stage: assignments, stored features, stories for the digest."""

    def get_articles_needing_story(
        self, limit: int | None = None, *, wait_for_translation: bool = True
    ) -> list[Article]: ...

    def get_story_features(self, since: datetime) -> list[tuple[int, int, bytes]]: ...

    def add_story_members(
        self, items: Iterable[tuple[Assignment, bytes]], *, now: datetime
    ) -> int: ...

    def get_story(self, story_id: int) -> Story | None: ...

    def get_stories(self, story_ids: Iterable[int]) -> dict[int, Story]: ...

    def get_stories_for_day(self, start: datetime, end: datetime) -> list[Story]: ...

    def get_story_counts(self) -> dict[str, int]: ...

    def get_story_articles(self, story_ids: Iterable[int]) -> list[Article]: ...


class DigestArchive(DigestStore, Protocol):
    """Digest stage: beyond what a digest reads and sends (`DigestStore`)."""

    def get_digests(self) -> list[DigestRecord]: ...

    def get_daily_digest_times(self) -> dict[date, datetime]: ...

    def get_deliveries(self, day: str) -> list[tuple[str, datetime, str]]: ...

    def get_delivery_claim(self, day: str, recipient: str) -> DeliveryClaim | None: ...


class SearchIndex(SearchStore, IndexStore, Protocol):
    """Index stage and `monitor search` (SQLite FTS5; PostgreSQL tsvector/GIN)."""

    def count_search_index(self) -> tuple[int, int]: ...

    def get_latest_published(self) -> datetime | None: ...


class AlertArchive(AlertStore, Protocol):
    """Alerts (issue #16): beyond what `alerts.AlertStore` declares."""

    def get_filing_times(self, since: datetime) -> list[tuple[str, str, datetime]]: ...


class PruneStore(Protocol):
    """Retention (issue #19): `monitor prune` and the end of `monitor run`.

    The backend reads candidates in an index range and applies what
    `monitor.retention` decided; each `prune_articles` call is one transaction.
    """

    def get_prune_candidates(
        self,
        before: datetime,
        *,
        after: tuple[datetime, int] | None = None,
        limit: int = 500,
    ) -> list[PruneCandidate]: ...

    def count_prune_candidates(self, before: datetime) -> int: ...

    def count_pruned_articles(self) -> int: ...

    def prune_articles(
        self, article_ids: Sequence[int], cache_keys: Sequence[str], now: datetime
    ) -> tuple[int, int]: ...

    def count_cached_keys(self, cache_keys: Sequence[str]) -> int: ...

    def drop_story_features(self, before: datetime, *, limit: int) -> int: ...

    def count_story_features(self, before: datetime) -> tuple[int, int]: ...


class StorageType(
    AlertArchive,
    PruneStore,
    FeedStore,
    ArticleStore,
    RunStore,
    TranslationStore,
    TopicStore,
    StoryStore,
    DigestArchive,
    SearchIndex,
    Protocol,
):
    """Everything the pipeline, `status` and the CLI need from a backend."""

    @property
    def location(self) -> str:
        """Where the data lives, for humans: a file path or a URL without password."""
        ...

    def get_change_token(self) -> str:
        """A value that changes whenever any data changes (``monitor serve``'s
        page cache), compared between calls on the same storage: SQLite, the
        connection's ``PRAGMA data_version``; PostgreSQL, the current snapshot."""
        ...

    def write_batch(self) -> AbstractContextManager[None]:
        """Many write methods as one transaction (bulk loads such as the
        benches' synthetic archives); each method's rules are unchanged."""
        ...

    def close(self) -> None: ...


__all__ = [
    "AlertArchive",
    "ArticleStore",
    "DigestArchive",
    "FeedStore",
    "PruneStore",
    "RunStore",
    "SearchIndex",
    "StorageType",
    "StoryStore",
    "TopicStore",
    "TranslationStore",
]
