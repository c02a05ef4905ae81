"""The pipeline: every stage of `monitor run`, in order, in one place.

    monitor run
      poll       feeds due ─fetch.fetch_many─▶ Page ─feeds.parse_feed─▶ FeedItem*
                 ─urls.canonicalize_url─▶ store.add_feed_items          (per feed: 1 tx)
      extract    store.get_articles_needing_extraction ─fetch.fetch_many─▶ Page
                 ─extract.extract_article─▶ Extracted ─▶ store.save_extraction
      translate  store.get_articles_needing_translation ─translate.Translator─▶
                 Translation ─▶ store.save_translation
      classify   store.get_articles_needing_classification ─classify.classify_article─▶
                 Topics ─▶ store.replace_filings
      stories    store.get_articles_needing_story ─stories.StoryClusterer─▶ Assignment
                 ─▶ store.add_story_member
      digest     when due: digest.build_digest ─▶ digest.write_digest ─▶ mail.send_digest

Rules (STYLE.md): this module has no SQL and no HTTP of its own.  Network calls run
in worker threads inside `fetch.fetch_many`; every write happens here, on the main
thread, one transaction per feed or per article, never across a network call.  Each
stage selects the rows that still need it, so a run killed at any point simply
continues on the next run.  Failures are data: they are recorded (per feed, per
article, and in the failures log that `monitor status` shows) and the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from . import extract, feeds, fetch, schedule, urls
from .config import Config, resolve_path
from .exceptions import BlockedURLError, FeedError, FetchError, MonitorError
from .models import FeedSpec, FeedState, Page, RunSummary, StageResult, stable_hash
from .store import Storage
from .store._feeds import PollOutcome

logger = logging.getLogger(__name__)

Progress = Callable[[str, int], "ProgressBar"]


class ProgressBar:
    """No-op progress: the CLI substitutes a real bar when stderr is a TTY."""

    def update(self, n: int = 1) -> None:
        """Advance by `n` items."""

    def close(self) -> None:
        """Finish the bar."""


def no_progress(stage: str, total: int) -> ProgressBar:
    return ProgressBar()


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(kw_only=True)
class Pipeline:
    """Everything a run needs, injected (reader's Reader: storage, parser, clock)."""

    cfg: Config
    storage: Storage
    client: httpx.Client
    now: Callable[[], datetime] = utc_now
    progress: Progress = no_progress
    summary: RunSummary = field(default_factory=RunSummary)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the HTTP client (and the translation model, once loaded)."""
        self.client.close()

    def run(self, *, digest: bool = True) -> RunSummary:
        """Run every stage once.  Returns the counts for the summary line."""
        run_id = self.storage.start_run(self.now())
        self.poll_feeds()
        self.extract_articles()
        if digest:
            pass  # later stages are wired in below as they land
        self.storage.finish_run(run_id, self.summary.counts, self.now())
        return self.summary

    # ------------------------------------------------------------------ poll

    def poll_feeds(self, names: tuple[str, ...] = ()) -> None:
        """Poll every enabled feed that is due (or the named ones, due or not)."""
        specs = {f.name: f for f in self.cfg.feeds if f.enabled}
        self.storage.sync_feeds(specs.values())
        states = self.storage.get_feed_states()
        now = self.now()
        due = [
            f
            for f in specs.values()
            if (f.name in names)
            or (
                not names
                and schedule.feed_is_due(states.get(f.name), now, self.cfg.poll)
            )
        ]
        requests = [self._feed_request(f, states.get(f.name)) for f in due]
        with self._bar("poll", len(requests)) as bar:
            for result in self._fetch_many(requests):
                spec = specs[str(result.key)]
                outcome = self._poll_one(spec, states.get(spec.name), result)
                self.storage.update_feed_polled(spec.name, outcome, self.now())
                bar.update()

    def _feed_request(
        self, spec: FeedSpec, state: FeedState | None
    ) -> fetch.FetchRequest:
        return fetch.FetchRequest(
            key=spec.name,
            url=spec.url,
            etag=state.etag if state else None,
            last_modified=state.last_modified if state else None,
            max_bytes=self.cfg.fetch.max_feed_bytes,
            allow_private=spec.allow_private or self.cfg.fetch.allow_private,
        )

    def _poll_one(
        self, spec: FeedSpec, state: FeedState | None, result: StageResult[Page]
    ) -> PollOutcome:
        page = result.value
        if isinstance(page, BaseException) or page is None:
            return self._poll_failed(spec, state, page)
        if page.not_modified:
            self.summary.add("feeds_not_modified")
            logger.info("polled feed=%s status=not_modified", spec.name)
            return PollOutcome(status="not_modified", next_poll_at=self._next_ok(page))
        body_hash = stable_hash(page.body.decode("latin-1"))
        if state is not None and state.content_hash == body_hash:
            # The server ignored our validators but sent the same bytes: nothing to do.
            self.summary.add("feeds_not_modified")
            logger.info("polled feed=%s status=unchanged", spec.name)
            return PollOutcome(
                status="unchanged",
                etag=page.etag,
                last_modified=page.last_modified,
                next_poll_at=self._next_ok(page),
            )
        try:
            parsed = feeds.parse_feed(
                page.body,
                feed_name=spec.name,
                base_url=page.final_url,
                content_type=page.content_type,
                fetched_at=page.fetched_at,
                lang_hint=spec.lang,
            )
        except FeedError as e:
            return self._poll_failed(spec, state, e)
        if parsed.warning:
            logger.warning(
                "feed=%s repaired a malformed feed: %s", spec.name, parsed.warning
            )
        items = [
            (item, urls.canonicalize_url(item.link))
            for item in parsed.items
            if item.link
        ]
        new = self.storage.add_feed_items(items, self.now())
        self.summary.add("feeds_ok")
        self.summary.add("articles_new", new)
        logger.info(
            "polled feed=%s status=ok items=%d new=%d", spec.name, len(items), new
        )
        return PollOutcome(
            status="ok",
            etag=page.etag,
            last_modified=page.last_modified,
            content_hash=body_hash,
            new_items=new,
            next_poll_at=self._next_ok(page),
        )

    def _next_ok(self, page: Page) -> datetime | None:
        return schedule.next_poll_after_success(
            self.now(), page.retry_after, self.cfg.poll
        )

    def _poll_failed(
        self, spec: FeedSpec, state: FeedState | None, error: BaseException | None
    ) -> PollOutcome:
        self.summary.add("feeds_error")
        message = str(error) if error is not None else "no response"
        logger.warning("polled feed=%s status=error error=%s", spec.name, message)
        self.storage.add_failure("poll", spec.name, message, self.now())
        failures = (state.failure_count if state else 0) + 1
        retry_after = getattr(error, "retry_after", None)
        next_at = schedule.next_poll_after_failure(
            failures, self.now(), retry_after, self.cfg.poll
        )
        return PollOutcome(status="error", error=message, next_poll_at=next_at)

    # ------------------------------------------------------------------ extract

    def extract_articles(self) -> None:
        """Fetch and extract every article still pending, up to the per-run cap."""
        pending = self.storage.get_articles_needing_extraction(
            self.cfg.fetch.max_articles_per_run
        )
        by_id = {str(article.id): (article, item) for article, item in pending}
        requests = [
            fetch.FetchRequest(
                key=key,
                url=article.url,
                max_bytes=self.cfg.fetch.max_page_bytes,
                allow_private=self._allow_private(article.feed_name),
            )
            for key, (article, _) in by_id.items()
        ]
        with self._bar("extract", len(requests)) as bar:
            for result in self._fetch_many(requests):
                article, item = by_id[str(result.key)]
                self._extract_one(article.id, item, result.value)
                bar.update()

    def _extract_one(self, article_id: int, item: object, page: object) -> None:
        from .models import FeedItem

        assert isinstance(item, FeedItem)
        if isinstance(page, BaseException):
            attempts = self.storage.record_article_error(
                article_id, "fetch", str(page), self.now()
            )
            self.storage.add_failure("fetch", item.link, str(page), self.now())
            logger.warning(
                "fetched url=%s status=error attempt=%d error=%s",
                item.link,
                attempts,
                page,
            )
            permanent = isinstance(page, BlockedURLError)
            if attempts < self.cfg.fetch.max_attempts and not permanent:
                return  # retried next run
            page = None  # give up on the page: the feed's own text is the fallback
        extracted = extract.extract_article(
            page if isinstance(page, Page) else None, item, self.cfg.extract
        )
        self.storage.save_extraction(article_id, extracted, self.now())
        self.summary.add("articles_extracted")
        logger.info(
            "extracted url=%s status=ok source=%s chars=%d teaser=%s",
            item.link,
            extracted.source,
            len(extracted.text),
            extracted.is_teaser,
        )

    def _allow_private(self, feed_name: str) -> bool:
        spec = next((f for f in self.cfg.feeds if f.name == feed_name), None)
        return self.cfg.fetch.allow_private or bool(spec and spec.allow_private)

    # ------------------------------------------------------------------ helpers

    def _fetch_many(
        self, requests: list[fetch.FetchRequest]
    ) -> Iterator[StageResult[Page]]:
        limiter = fetch.HostLimiter(
            self.cfg.fetch.per_host_concurrency, self.cfg.fetch.per_host_delay
        )
        return fetch.fetch_many(
            self.client,
            requests,
            limiter=limiter,
            workers=self.cfg.fetch.workers,
            total_timeout=self.cfg.fetch.total_timeout,
            max_redirects=self.cfg.fetch.max_redirects,
            now=self.now,
        )

    @contextmanager
    def _bar(self, stage: str, total: int) -> Iterator[ProgressBar]:
        bar = self.progress(stage, total)
        try:
            yield bar
        finally:
            bar.close()


def check_feed(
    cfg: Config, client: httpx.Client, spec: FeedSpec, now: datetime
) -> tuple[bool, str]:
    """Fetch and parse one feed without storing anything (`monitor feeds check`).

    Returns:
        (ok, one-line description of what was found or what failed).
    """
    try:
        page = fetch.fetch_url(
            client,
            spec.url,
            max_bytes=cfg.fetch.max_feed_bytes,
            allow_private=spec.allow_private or cfg.fetch.allow_private,
            total_timeout=cfg.fetch.total_timeout,
            max_redirects=cfg.fetch.max_redirects,
            now=lambda: now,
        )
        parsed = feeds.parse_feed(
            page.body,
            feed_name=spec.name,
            base_url=page.final_url,
            content_type=page.content_type,
            fetched_at=now,
            lang_hint=spec.lang,
        )
    except (FetchError, FeedError) as e:
        return False, str(e)
    dated = sum(1 for i in parsed.items if i.published)
    latest = max((i.published for i in parsed.items if i.published), default=None)
    warning = f"; repaired: {parsed.warning}" if parsed.warning else ""
    return True, (
        f"{len(parsed.items)} items ({dated} dated, newest {latest}), "
        f"title {parsed.title!r}{warning}"
    )


def open_storage(cfg: Config) -> Storage:
    """Open the configured database."""
    return Storage(resolve_path(cfg, cfg.store.path))


__all__ = ["FetchError", "MonitorError", "Pipeline", "open_storage"]
