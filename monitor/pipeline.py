"""The pipeline: every stage of `monitor run`, in order, in one place.

    monitor run
      poll       feeds due ─fetch.fetch_many─▶ Page ─sources.parse_page─▶ FeedItem*
                 (each on its fetch.feed_route; the next mirror on a block or no
                 answer: mirrors.failover_reason; + the pages it points at:
                 sources.Parsed.follow, bounded)
                 ─mirrors.primary_link, urls.canonicalize_url─▶
                 store.add_feed_items                                   (per feed: 1 tx)
      extract    store.get_articles_needing_extraction ─fetch.fetch_many─▶ Page
                 (with [queue] enabled: one job per article for `monitor worker`,
                 which runs this same stage for it; translate, classify, stories
                 and digest become jobs too: monitor/queue.py)
                 ─extract.extract_article─▶ Extracted ─▶ store.save_extraction
      translate  store.get_articles_for_translation ─translate.make_translator─▶
                 Translation ─▶ store.save_translation            (titles first)
      classify   store.get_articles_to_classify ─classify.classify_article─▶
                 Topics ─▶ store.save_filings               (classify.reclassify_archive)
      index      store.get_search_queue ─search.build_search_doc─▶ store.save_search_docs
      stories    store.get_articles_needing_story ─stories.StoryClusterer─▶ Assignment
                 ─▶ store.add_story_members
      features   retention.features_keep_cutoff ─▶ store.drop_story_features
                 (older than window + [stories] keep_features_days; per batch: 1 tx;
                 FEATURE_DROP_PER_RUN a run)
      alerts     store stories grown lately ─alerts.plan_alerts─▶ AlertDecision
                 ─alerts.Sender─▶ mailto / webhook / atom   (claim → send → mark)
      digest     when due: digest.build_digest ─▶ digest.write_digest ─▶ digest.send_digest
      prune      with [store] keep_days: store.get_prune_candidates ─retention.is_prunable─▶
                 store.prune_articles            (per batch: 1 tx; PRUNE_PER_RUN a run)

Rules (STYLE.md): this module has no SQL and no HTTP of its own.  Network calls run
in worker threads inside `fetch.fetch_many`; every write happens here, on the main
thread, one transaction per feed or per article, never across a network call.  Each
stage selects the rows that still need it, so a run killed at any point simply
continues on the next run.  Failures are data: they are recorded (per feed, per
article, and in the failures log that `monitor status` shows) and the run goes on.

Every item is a boundary (issue #11; docs/reliability.md "Per-item isolation"):
an exception while one feed (fetch, parse, store), entry, article (extract,
translate, classify, stories) is handled is caught there, recorded on the item
(status, message, stage) and in the failures log, and the stage goes on with
the rest.  What counts as bad input is `ITEM_ERRORS`: our own `MonitorError`s
and what the parsers we wrap raise on hostile bytes (ValueError and
UnicodeError, OverflowError, RecursionError, lxml errors).  `FATAL_ERRORS`
(configuration and storage: disk full, corrupt database, run lock) stop the
run, and so does anything else: a TypeError, AttributeError, KeyError or
NameError is a bug in our code and keeps its traceback.  An article that keeps
failing in a stage is retried on later runs up to ``fetch.max_attempts`` times,
then parked (that stage's status becomes ``failed``; `monitor status` counts
it).  A batch that fails (one transaction, one model call) is retried item by
item, so one culprit cannot take its neighbours down with it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from lxml import etree

from . import (
    classify,
    extract,
    mirrors,
    retention,
    schedule,
    sources,
    translate,
    urls,
)
from .config import Config, PollConfig, resolve_path
from .exceptions import (
    BlockedURLError,
    ConfigError,
    FeedError,
    FetchError,
    LockedError,
    MonitorError,
    StorageError,
    TranslatorUnavailableError,
)
from .models import (
    Article,
    FeedItem,
    FeedSpec,
    FeedState,
    Page,
    PollOutcome,
    PruneCandidate,
    RunSummary,
    StageResult,
    Topics,
    TranslationStatus,
    TranslationTask,
)
from .runtime import Progress, ProgressBar, no_progress, open_storage, utc_now

if TYPE_CHECKING:  # the contract imports every stage's protocol: a warm run needs few
    import httpx

    from . import fetch
    from .store import StorageType

logger = logging.getLogger(__name__)

TRANSLATE_BATCH = 32  # articles per translate call: sentences batch across them
STORY_BATCH = 200  # story assignments per transaction
CACHE_PRUNE_BATCH = 20_000  # aged cache sentences dropped per run at most (#19)
CLASSIFY_BATCH = 500  # filings per transaction
PRUNE_BATCH = 200  # articles pruned per transaction (#19)
PRUNE_PER_RUN = 2_000  # articles `monitor run` prunes at most (the rest: next runs)
FEATURE_DROP_BATCH = 5_000  # story features dropped per transaction (#19)
FEATURE_DROP_PER_RUN = 50_000  # old story features `monitor run` drops at most
MESSAGE_CHARS = 500  # a recorded error message is cut to this (hostile input is long)

# The item boundary (module docstring).  These stop the run wherever they happen:
FATAL_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    StorageError,
    LockedError,
)
# These are bad input: recorded on the item, and the stage goes on.  A
# UnicodeError is a ValueError; lxml.etree.LxmlError covers XMLSyntaxError and
# the parser errors trafilatura and feedparser's lxml paths raise.
ITEM_ERRORS: tuple[type[Exception], ...] = (
    MonitorError,
    ValueError,
    OverflowError,
    RecursionError,
    etree.LxmlError,
)
# A page answering one of these will not come back: fall back to the feed's text at once.
GONE_STATUSES = frozenset({401, 403, 404, 410, 451})

_T = TypeVar("_T")


@dataclass(kw_only=True)
class Pipeline:
    """Everything a run needs, injected (reader's Reader: storage, parser, clock)."""

    cfg: Config
    storage: StorageType
    # None: one is made from ``cfg.fetch`` on first use (`http`); writing a digest
    # makes no request, so `monitor digest` loads no HTTP client at all.
    client: httpx.Client | None = None
    now: Callable[[], datetime] = utc_now
    progress: Progress = no_progress
    # Secrets (SMTP, LibreTranslate key) come from here; the CLI passes os.environ.
    env: Mapping[str, str] = field(default_factory=dict)
    summary: RunSummary = field(default_factory=RunSummary)
    _rules: classify.RuleSet | None = field(default=None, init=False, repr=False)
    _pages_given_up: Counter[str] = field(
        default_factory=Counter, init=False, repr=False
    )
    _translator: translate.ArticleTranslator | None = field(
        default=None, init=False, repr=False
    )

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the HTTP clients and the translation model, if loaded."""
        if "_clients" in self.__dict__:
            self._clients.close()
        if self.client is not None or "http" in self.__dict__:
            self.http.close()
        if self._translator is not None:
            self._translator.close()

    def run(
        self,
        *,
        digest: bool = True,
        queued: Mapping[str, Callable[[], object]] | None = None,
    ) -> RunSummary:
        """Run every stage once.  Returns the counts for the summary line.

        Args:
            digest: also write (and mail) the digest when it is due.
            queued: what to do in place of some stages (by name); with ``[queue]
                enabled`` the CLI passes ones that queue the work for `monitor
                worker` (monitor/queue.py).
        """
        stages: dict[str, Callable[[], object]] = {
            "poll": self.poll_feeds,
            "extract": self.extract_articles,
            "translate": self.translate_articles,
            "classify": self.classify_articles,
            "index": self.index_articles,
            "stories": self.cluster_stories,
            "features": self.drop_old_story_features,
            "alerts": self.send_alerts,
        }
        if digest:
            stages["digest"] = self.write_digest_if_due
        if self.cfg.store.keep_days:
            stages["prune"] = self.prune_old_articles
        run_id = self.storage.start_run(self.now())
        for name, stage in stages.items():
            self._run_stage(name, (queued or {}).get(name, stage))
        self.storage.finish_run(run_id, self.summary.counts, self.now())
        return self.summary

    def _run_stage(self, name: str, stage: Callable[[], object]) -> None:
        """Run one stage; bad input that escaped every item boundary inside it
        stops that stage only (recorded, logged with its traceback), not the run."""
        try:
            stage()
        except FATAL_ERRORS:
            raise
        except ITEM_ERRORS as e:
            message = _message(e)
            logger.error("stage=%s status=error error=%s", name, message, exc_info=e)
            self.storage.add_failure(name, "stage", message, self.now())
            self.summary.add("stage_errors")

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
                and schedule.feed_is_due(states.get(f.name), now, self._poll_cfg(f))
            )
        ]
        with self._bar("poll", len(due)) as bar:
            for spec, result, tried in self._fetch_feeds(due, states):
                state = states.get(spec.name)
                try:
                    outcome = self._poll_one(spec, state, result)
                except FATAL_ERRORS:
                    raise
                except ITEM_ERRORS as e:  # the feed is the boundary (issue #11)
                    outcome = self._poll_failed(spec, state, _ItemError("poll", e))
                if outcome.status != "error":
                    outcome = self._served(spec, state, tried, outcome)
                self.storage.update_feed_polled(spec.name, outcome, self.now())
                bar.update()

    def _fetch_feeds(
        self, due: list[FeedSpec], states: Mapping[str, FeedState]
    ) -> Iterator[tuple[FeedSpec, StageResult[Page], tuple[str, ...]]]:
        """Fetch each feed at its first candidate URL; on a block or no answer, at
        the next (issue #20), in rounds that share the pool's politeness.

        Yields:
            (feed, final result, the URLs tried in order).
        """
        now, retry = self.now(), self.cfg.poll.retry_primary_after
        plans = {
            f.name: mirrors.candidate_urls(f, states.get(f.name), now, retry)
            for f in due
        }
        by_name = {f.name: f for f in due}
        tried: dict[str, list[str]] = {f.name: [] for f in due}
        todo = due
        while todo:
            requests = [
                self._feed_request(
                    f, states.get(f.name), plans[f.name][len(tried[f.name])]
                )
                for f in todo
            ]
            todo = []
            for result in self._fetch_many(requests):
                spec = by_name[str(result.key)]
                plan, done = plans[spec.name], tried[spec.name]
                done.append(plan[len(done)])
                reason = mirrors.failover_reason(result.value, spec)
                if reason is not None and len(done) < len(plan):
                    self._failed_over(spec, done[-1], reason, plan[len(done)])
                    todo.append(spec)
                    continue
                if reason is not None and isinstance(result.value, Page):
                    blocked = FetchError(reason, resource=done[-1])
                    result = StageResult(result.key, blocked)
                yield spec, result, tuple(done)

    def _failed_over(self, spec: FeedSpec, url: str, reason: str, nxt: str) -> None:
        logger.info(
            "polled feed=%s url=%s status=failover error=%s next=%s",
            spec.name,
            url,
            reason,
            nxt,
        )
        self.storage.add_failure("poll", f"{spec.name} {url}", reason, self.now())

    def _served(
        self,
        spec: FeedSpec,
        state: FeedState | None,
        tried: tuple[str, ...],
        outcome: PollOutcome,
    ) -> PollOutcome:
        """Remember the URL and route that answered (`monitor status`; mirrors)."""
        return dataclasses.replace(
            outcome,
            served_url=tried[-1],
            served_via=self._route(spec, tried[-1]).label,
            primary_failed_at=mirrors.primary_failed_at(spec, state, tried, self.now()),
        )

    def _route(self, spec: FeedSpec | None, url: str) -> fetch.Route:
        """Direct or which proxy, for a feed's URL (fetch.feed_route's rules)."""
        from . import fetch

        return fetch.feed_route(self.cfg.fetch, spec, url, self.cfg.environment_proxies)

    @functools.cached_property
    def http(self) -> httpx.Client:
        """The shared client: the injected `client`, else one made from ``fetch``."""
        if self.client is not None:
            return self.client
        from . import fetch

        return fetch.make_client(self.cfg.fetch)

    @functools.cached_property
    def _clients(self) -> fetch.ClientPool:
        """One client per route; the shared one (`http`) serves the default one."""
        from . import fetch

        return fetch.ClientPool(self.cfg.fetch, default=self.http)

    def _poll_cfg(self, spec: FeedSpec) -> PollConfig:
        """Polling settings for one source: its own ``interval``, if it has one."""
        if spec.interval is None:
            return self.cfg.poll
        return dataclasses.replace(self.cfg.poll, min_interval=spec.interval)

    def _feed_request(
        self, spec: FeedSpec, state: FeedState | None, url: str
    ) -> fetch.FetchRequest:
        from . import fetch

        # validators belong to the URL that sent them (a mirror's mean nothing here)
        same = state is not None and url == (state.served_url or state.url)
        return fetch.FetchRequest(
            key=spec.name,
            url=url,
            etag=state.etag if state and same else None,
            last_modified=state.last_modified if state and same else None,
            max_bytes=self.cfg.fetch.max_feed_bytes,
            allow_private=_allows_private(self.cfg, spec),
            route=self._route(spec, url),
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
        body_hash = hashlib.sha256(page.body).hexdigest()[:32]
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
            parsed = self._parse_source(spec, state, page)
        except FeedError as e:
            return self._poll_failed(spec, state, e)
        except FATAL_ERRORS:
            raise
        except ITEM_ERRORS as e:  # hostile bytes the parser did not expect
            return self._poll_failed(spec, state, _ItemError("parse", e))
        if parsed.warning:
            logger.warning(
                "feed=%s repaired a malformed feed: %s", spec.name, parsed.warning
            )
            self.storage.add_failure("poll", spec.name, parsed.warning, self.now())
        for reason in parsed.skipped:  # the entry is the boundary (issue #11)
            self._record("parse", spec.name, FeedError(reason, resource=spec.name))
            self.summary.add("entries_failed")
        new, skipped = self._store_items(spec, parsed.items)
        skipped += len(parsed.skipped)
        self.summary.add("feeds_ok")
        self.summary.add("articles_new", new)
        logger.info(
            "polled feed=%s status=ok items=%d new=%d skipped=%d",
            spec.name,
            len(parsed.items),
            new,
            skipped,
        )
        return PollOutcome(
            status="ok",
            etag=page.etag,
            last_modified=page.last_modified,
            content_hash=body_hash,
            new_items=new,
            next_poll_at=self._next_ok(page),
        )

    def _parse_source(
        self, spec: FeedSpec, state: FeedState | None, page: Page
    ) -> sources.Parsed:
        """Parse a source's document with its kind's adapter, then fetch and parse
        the documents it points at (older pages, child sitemaps), bounded."""
        first = state is None or state.last_ok_at is None
        parsed = sources.parse_page(page, spec, depth=0, first_poll=first)
        items, follow = list(parsed.items), parsed.follow
        seen, fetched = {page.requested_url, page.final_url}, 0
        for depth in range(1, sources.MAX_DEPTH + 1):
            todo = [u for u in dict.fromkeys(follow) if u not in seen]
            todo = todo[: sources.MAX_FOLLOW - fetched]
            if not todo:
                break
            seen.update(todo)
            fetched += len(todo)
            follow = ()
            for sub in self._follow_up(spec, todo, depth, first):
                items.extend(sub.items)
                follow += sub.follow
        return sources.Parsed(
            title=parsed.title,
            items=sources.select_items(spec, items),
            warning=parsed.warning,
            skipped=parsed.skipped,
        )

    def _follow_up(
        self, spec: FeedSpec, urls_: list[str], depth: int, first: bool
    ) -> Iterator[sources.Parsed]:
        """Fetch and parse follow-up documents; a failed one is recorded and skipped."""
        from . import fetch

        requests = [
            fetch.FetchRequest(
                key=url,
                url=url,
                max_bytes=self.cfg.fetch.max_feed_bytes,
                allow_private=_allows_private(self.cfg, spec),
                route=self._route(spec, url),
            )
            for url in urls_
        ]
        for result in self._fetch_many(requests):
            page = result.value
            try:
                if isinstance(page, BaseException):
                    raise page
                if page is None or page.not_modified:
                    continue
                yield sources.parse_page(page, spec, depth=depth, first_poll=first)
            except (FetchError, FeedError) as e:
                logger.warning(
                    "polled feed=%s url=%s status=error error=%s",
                    spec.name,
                    result.key,
                    e,
                )
                self.storage.add_failure(
                    "poll", f"{spec.name} {result.key}", str(e), self.now()
                )

    def _store_items(
        self, spec: FeedSpec, items: tuple[FeedItem, ...] | list[FeedItem]
    ) -> tuple[int, int]:
        """Store one feed's items in one transaction; when one entry spoils it,
        store them one by one and record the culprits (the entry is the boundary).

        Returns:
            (new articles, entries skipped).
        """
        keyed: list[tuple[FeedItem, str]] = []
        skipped = 0
        for item in items:
            try:
                keyed.append((item, _item_key(item, spec)))
            except FATAL_ERRORS:
                raise
            except ITEM_ERRORS as e:
                self._entry_failed(spec, item, e)
                skipped += 1
        try:
            return self.storage.add_feed_items(keyed, self.now()), skipped
        except FATAL_ERRORS:
            raise
        except ITEM_ERRORS:
            pass  # the transaction rolled back: find the culprit below
        new = 0
        for pair in keyed:
            try:
                new += self.storage.add_feed_items([pair], self.now())
            except FATAL_ERRORS:
                raise
            except ITEM_ERRORS as e:
                self._entry_failed(spec, pair[0], e)
                skipped += 1
        return new, skipped

    def _entry_failed(self, spec: FeedSpec, item: FeedItem, error: Exception) -> None:
        resource = f"{spec.name} entry {item.entry_id or item.link}"
        self._record("store", resource, error)
        self.summary.add("entries_failed")

    def _next_ok(self, page: Page) -> datetime | None:
        return schedule.next_poll_after_success(
            self.now(), page.retry_after, self.cfg.poll
        )

    def _poll_failed(
        self, spec: FeedSpec, state: FeedState | None, error: BaseException | None
    ) -> PollOutcome:
        self.summary.add("feeds_error")
        message = _message(error) if error is not None else "no response"
        failures = (state.failure_count if state else 0) + 1
        # Cron mails on WARNING: say so when a feed starts failing and every tenth
        # failure after, not on every poll of a feed that has been dead for weeks.
        level = logging.WARNING if failures == 1 or failures % 10 == 0 else logging.INFO
        logger.log(
            level,
            "polled feed=%s status=error failures=%d error=%s",
            spec.name,
            failures,
            message,
        )
        self.storage.add_failure("poll", spec.name, message, self.now())
        retry_after = getattr(error, "retry_after", None)
        next_at = schedule.next_poll_after_failure(
            failures, self.now(), retry_after, self._poll_cfg(spec)
        )
        return PollOutcome(status="error", error=message, next_poll_at=next_at)

    # ------------------------------------------------------------------ extract

    def extract_articles(self, article_ids: Sequence[int] | None = None) -> None:
        """Fetch and extract every article still pending, up to the per-run cap
        (only ``article_ids`` when given: one job of `monitor worker`)."""
        from . import fetch

        pending = self.storage.get_articles_needing_extraction(
            self.cfg.fetch.max_articles_per_run, article_ids=article_ids
        )
        by_id = {
            str(a.id): (a, item)
            for a, item in pending
            if self._needs_page(a.feed_name, a.url)
        }
        for (
            article,
            item,
        ) in pending:  # no page to fetch: the feed's text is all there is
            if str(article.id) not in by_id:
                self._extract_guarded(article, item, None)
        private = {f.name: _allows_private(self.cfg, f) for f in self.cfg.feeds}
        requests = [
            fetch.FetchRequest(
                key=key,
                url=article.url,
                max_bytes=self.cfg.fetch.max_page_bytes,
                allow_private=private.get(
                    article.feed_name, self.cfg.fetch.allow_private
                ),
                route=self._route(self._specs.get(article.feed_name), article.url),
            )
            for key, (article, _) in by_id.items()
        ]
        with self._bar("extract", len(requests)) as bar:
            for result in self._fetch_many(requests):
                article, item = by_id[str(result.key)]
                self._extract_guarded(article, item, result.value)
                bar.update()
        self._warn_pages_given_up()

    def _warn_pages_given_up(self) -> None:
        """One WARNING per host whose pages fell back to feed text (cron mails it)."""
        for host, n in sorted(self._pages_given_up.items()):
            logger.warning(
                "pages failed host=%s count=%d fallback=feed text (see monitor status)",
                host,
                n,
            )
        self._pages_given_up.clear()

    def _needs_page(self, feed_name: str, url: str) -> bool:
        """The source's adapter decides whether an article's page is fetched."""
        spec = self._specs.get(feed_name)
        if spec is None:
            return url.startswith(("http://", "https://"))
        return sources.needs_page(spec, url)

    @functools.cached_property
    def _specs(self) -> dict[str, FeedSpec]:
        return {f.name: f for f in self.cfg.feeds}

    def _extract_guarded(
        self, article: Article, item: FeedItem, page: Page | BaseException | None
    ) -> None:
        """Extract one article; the article is the boundary (issue #11).

        A page that breaks extraction is dropped at once for the feed's own text;
        when even that fails, the failure counts towards parking the article.
        """
        try:
            self._extract_one(article.id, item, page)
            return
        except FATAL_ERRORS:
            raise
        except ITEM_ERRORS as e:
            error: Exception = e
        if isinstance(page, Page):
            self._record("extract", article.url, error)
            try:
                self._extract_one(article.id, item, None)
                return
            except FATAL_ERRORS:
                raise
            except ITEM_ERRORS as e:
                error = e
        self._article_failed("extract", article.id, article.url, error)

    def _extract_one(
        self, article_id: int, item: FeedItem, page: Page | BaseException | None
    ) -> None:
        if isinstance(page, BaseException):
            if not self._page_failed(article_id, item, page):
                return  # retried on the next run
            page = None  # give up on the page: the feed's own text is the fallback
        elif page is not None:
            self.storage.add_page_fetch(item.feed_name, ok=True, now=self.now())
        extracted = extract.extract_article(page, item, self.cfg.extract)
        self.storage.save_extraction(article_id, extracted, self.now())
        self.summary.add("articles_extracted")
        logger.info(
            "extracted url=%s status=ok source=%s chars=%d teaser=%s",
            item.link,
            extracted.source,
            len(extracted.text),
            extracted.is_teaser,
        )

    def _page_failed(
        self, article_id: int, item: FeedItem, error: BaseException
    ) -> bool:
        """Record a failed page fetch; True when it is time to give up on the page."""
        from . import fetch

        now = self.now()
        attempts = self.storage.record_article_error(
            article_id, "fetch", str(error), now
        )
        self.storage.add_page_fetch(item.feed_name, ok=False, now=now)
        # The link is the failure's resource already: record the message alone, so
        # `status` shows each failing URL once (#10.6).
        message = error.message if isinstance(error, FetchError) else str(error)
        self.storage.add_failure("fetch", item.link, message, now)
        permanent = isinstance(error, BlockedURLError) or (
            isinstance(error, fetch.FetchStatusError) and error.status in GONE_STATUSES
        )
        give_up = permanent or attempts >= self.cfg.fetch.max_attempts
        if give_up:
            self.summary.add("articles_failed")
            self._pages_given_up[urlsplit(item.link).hostname or item.feed_name] += 1
        logger.info(  # one WARNING per host at the end of the stage, not per page
            "fetched url=%s status=error attempt=%d fallback=%s error=%s",
            item.link,
            attempts,
            "feed text" if give_up else "retry next run",
            error,
        )
        return give_up

    # ------------------------------------------------------------------ translate

    def translate_articles(self, limit: int | None = None) -> None:
        """Translate extracted articles (titles first, then bodies), in batches.

        A model that fails to load is one recorded error: the articles stay pending
        and the other stages go on.
        """
        self._prune_translation_cache()
        translator = self.translator()
        target = self.cfg.translate.target
        covered = {src for src, dst in translator.pairs() if dst == target}
        cap = limit or self.cfg.translate.max_articles_per_run
        tasks = self.storage.get_articles_for_translation(
            covered, cap, max_attempts=self.cfg.fetch.max_attempts
        )
        with self._bar("translate", len(tasks)) as bar:
            for start in range(0, len(tasks), TRANSLATE_BATCH):
                batch = tasks[start : start + TRANSLATE_BATCH]
                if not self._translate_batch(translator, batch):
                    return
                bar.update(len(batch))

    def _prune_translation_cache(self) -> None:
        """Keep the sentence cache bounded by age (``translate.cache_days``)."""
        before = translate.cache_prune_before(self.now(), self.cfg.translate.cache_days)
        if before is None or not self.cfg.translate.cache:
            return
        dropped = self.storage.prune_translation_cache(before, limit=CACHE_PRUNE_BATCH)
        self.summary.add("cache_pruned", dropped)

    def _translate_batch(
        self, translator: translate.ArticleTranslator, batch: list[TranslationTask]
    ) -> bool:
        """Translate a batch; when it fails, retry it article by article so the
        failure stays with its culprit (issue #10.4).

        Returns:
            False when the translator itself is unavailable (model missing or
            failed to load, server unreachable): one recorded error, the articles
            stay pending and the stage stops.
        """
        texts = [
            translate.ArticleText(title=t.title, text=t.text, src=t.lang) for t in batch
        ]
        try:
            results = translator.translate_articles(texts)
        except TranslatorUnavailableError as e:
            logger.warning(
                "translate status=error engine=%s error=%s", translator.name, e
            )
            self.storage.add_failure("translate", translator.name, str(e), self.now())
            self.summary.add("translate_errors")
            return False
        except FATAL_ERRORS:
            raise
        except ITEM_ERRORS as e:
            if len(batch) == 1:
                self._translation_failed(batch[0], e)
                return True
            logger.info("translate batch failed: isolating articles=%d", len(batch))
            return all(self._translate_batch(translator, [t]) for t in batch)
        for task, result in zip(batch, results, strict=True):
            self.storage.save_translation(task.article_id, result, self.now())
            self.summary.add(f"translation_{result.status.value}")
            if result.status.value in ("done", "partial"):
                self.summary.add("articles_translated")
        return True

    def _translation_failed(self, task: TranslationTask, error: Exception) -> None:
        """Mark one article's translation FAILED: stories stop waiting for it,
        later runs retry it up to ``fetch.max_attempts`` times, then it is parked."""
        url = f"article {task.article_id}"
        self._article_failed("translate", task.article_id, url, error, park=False)
        self.storage.set_translation_status(
            task.article_id, TranslationStatus.FAILED, _message(error), self.now()
        )
        self.summary.add("translations_failed")

    def translator(self) -> translate.ArticleTranslator:
        """The configured translator, built once per run (the model loads lazily)."""
        if self._translator is None:
            cfg = self.cfg.translate
            self._translator = translate.make_translator(
                cfg,
                models_dir=resolve_path(self.cfg, cfg.models_dir),
                cache=self.storage,
                now=self.now,
                api_key=self.env.get(cfg.libretranslate_api_key_env),
            )
        return self._translator

    # ------------------------------------------------------------------ classify

    def classify_articles(self, *, everything: bool = False) -> int:
        """File articles under topics and countries (only pending ones, or all).

        Like `classify.reclassify_archive` (keyset batches, one transaction per
        batch), with the article as the boundary: one that fails is recorded and
        parked after ``fetch.max_attempts`` runs; the others are filed.
        """
        rules, after, done = self.rules(), 0, 0
        while batch := self.storage.get_articles_to_classify(
            after_id=after, limit=CLASSIFY_BATCH, pending_only=not everything
        ):
            filed: list[tuple[Article, Topics]] = []
            for a in batch:
                if a.pruned_at is not None:  # filings outlive the body (#19)
                    continue
                try:
                    filed.append((a, _classify_stored(rules, a)))
                except FATAL_ERRORS:
                    raise
                except ITEM_ERRORS as e:
                    self._article_failed("classify", a.id, a.url, e)
            done += self._save_each(
                "classify",
                filed,
                lambda chunk: self.storage.save_filings(
                    (a.id, topics) for a, topics in chunk
                ),
            )
            after = batch[-1].id
        self.summary.add("articles_classified", done)
        return done

    def rules(self) -> classify.RuleSet:
        """The compiled topic rules (validated at config load, compiled once)."""
        if self._rules is None:
            self._rules = classify.compile_topics(self.cfg.topics)
        return self._rules

    # ------------------------------------------------------------------ prune

    def prune_old_articles(self) -> retention.PruneReport | None:
        """The end of `monitor run`: prune what ``[store] keep_days`` says, at
        most `PRUNE_PER_RUN` articles (a first run on a big archive is bounded)."""
        before = retention.prune_cutoff(
            self.now(),
            keep_days=self.cfg.store.keep_days,
            older_than=None,
            timezone=self.cfg.digest.timezone,
            window_hours=self.cfg.stories.window_hours,
        )
        if before is None:
            return None
        return self.prune_archive(before, limit=PRUNE_PER_RUN)

    def prune_archive(
        self, before: datetime, *, dry_run: bool = False, limit: int | None = None
    ) -> retention.PruneReport:
        """Prune articles first seen before ``before`` (see `monitor.retention`).

        Candidates come in keyset pages; each page's chosen articles are pruned
        in one transaction (kill -9 leaves each article whole or pruned).

        Args:
            before: from `retention.prune_cutoff`.
            dry_run: count what would go; write nothing.
            limit: prune at most this many articles (None: all).
        """
        total = self.storage.count_prune_candidates(before)
        report, after = retention.PruneReport(), None
        wait = self.cfg.translate.backend != "none"  # as the story stage waits
        with self._bar("prune", total if limit is None else min(total, limit)) as bar:
            while limit is None or report.articles < limit:
                page = self.storage.get_prune_candidates(
                    before, after=after, limit=PRUNE_BATCH
                )
                if not page:
                    break
                after = (page[-1].first_seen, page[-1].article_id)
                chosen = [
                    c
                    for c in page
                    if retention.is_prunable(c, before, wait_for_translation=wait)
                ]
                if limit is not None:
                    chosen = chosen[: limit - report.articles]
                report += self._prune_batch(chosen, len(page) - len(chosen), dry_run)
                bar.update(len(page))
        if not dry_run:
            self.summary.add("articles_pruned", report.articles)
        logger.info("pruned status=ok %s", report.line(dry_run=dry_run))
        return report

    def drop_old_story_features(self) -> int:
        """After the stories stage of `monitor run`: drop the story features older
        than the window plus ``[stories] keep_features_days``, at most
        `FEATURE_DROP_PER_RUN` (a first run on a big archive is bounded; later
        runs catch up), one transaction per `FEATURE_DROP_BATCH`.  Silent when
        there is nothing to drop.

        Returns:
            How many were dropped.
        """
        cfg = self.cfg.stories
        before = retention.features_keep_cutoff(
            self.now(),
            window_hours=cfg.window_hours,
            keep_features_days=cfg.keep_features_days,
        )
        dropped = sum(self._drop_features(before, most=FEATURE_DROP_PER_RUN))
        if dropped:
            self.summary.add("features_dropped", dropped)
            logger.info("features dropped status=ok count=%d", dropped)
        return dropped

    def drop_story_features(
        self, before: datetime, *, dry_run: bool = False
    ) -> tuple[int, int]:
        """``monitor prune --features-only``: drop the story features of articles
        whose story time is before ``before`` (`retention.features_cutoff`),
        one transaction per `FEATURE_DROP_BATCH`; the bodies stay.

        Returns:
            (features dropped, or that would be; their bytes).
        """
        rows, size = self.storage.count_story_features(before)
        if dry_run:
            return rows, size
        dropped = 0
        with self._bar("features", rows) as bar:
            for n in self._drop_features(before):
                dropped += n
                bar.update(n)
        logger.info("features dropped status=ok count=%d bytes=%d", dropped, size)
        return dropped, size

    def _drop_features(
        self, before: datetime, *, most: int | None = None
    ) -> Iterator[int]:
        """Drop story features before ``before``, one transaction per
        `FEATURE_DROP_BATCH` (at most ``most`` in all); yields each batch's count."""
        left = most
        while left is None or left > 0:
            limit = (
                FEATURE_DROP_BATCH if left is None else min(FEATURE_DROP_BATCH, left)
            )
            n = self.storage.drop_story_features(before, limit=limit)
            if n:
                yield n
            if n < limit:
                return
            left = None if left is None else left - n

    def _prune_batch(
        self, chosen: list[PruneCandidate], skipped: int, dry_run: bool
    ) -> retention.PruneReport:
        max_chars = self.cfg.translate.max_sentence_chars
        keys = [
            k
            for c in chosen
            for k in translate.article_cache_keys(
                c.translation_engine, c.title, c.text, max_chars=max_chars
            )
        ]
        if dry_run:
            cached = self.storage.count_cached_keys(keys)
        else:
            ids = [c.article_id for c in chosen]
            _, cached = self.storage.prune_articles(ids, keys, self.now())
        return retention.report_of(chosen, skipped=skipped, cache_rows=cached)

    # ------------------------------------------------------------------ index

    def index_articles(self) -> int:
        """Bring the search index up to date (issue #15; see monitor/search)."""
        from . import search

        done = search.index_pending(self.storage)
        self.summary.add("articles_indexed", done)
        return done

    # ------------------------------------------------------------------ stories

    def cluster_stories(self) -> None:
        """Assign every new article to a story: an existing one, or a new one.

        Articles waiting for a translation wait for it too (unless translation is
        off), so cross-lingual matching sees the English text.
        """
        cfg = self.cfg.stories
        articles = self.storage.get_articles_needing_story(
            wait_for_translation=self.cfg.translate.backend != "none"
        )
        if not articles:
            return
        from . import stories  # numpy and the clusterer: only with articles to assign

        by_id = {a.id: a for a in articles}
        batch = []
        for a in articles:
            try:
                f = stories.compute_features(stories.candidate_from_article(a), cfg)
                # a time the window cannot hold fails here, not for the whole batch
                stories.window_start([f], cfg, self.now())
                batch.append(f)
            except FATAL_ERRORS:
                raise
            except ITEM_ERRORS as e:
                self._article_failed("stories", a.id, a.url, e)
        batch.sort(
            key=lambda f: (f.time, f.article_id)
        )  # the window assumes time order
        since = stories.window_start(batch, cfg, self.now())
        clusterer = stories.StoryClusterer(
            cfg, stories.load_known(self.storage.get_story_features(since))
        )
        for start in range(0, len(batch), STORY_BATCH):
            items = []
            for f in batch[start : start + STORY_BATCH]:
                try:
                    items.append((clusterer.assign(f), stories.features_to_bytes(f)))
                except FATAL_ERRORS:
                    raise
                except ITEM_ERRORS as e:
                    a = by_id[f.article_id]
                    self._article_failed("stories", a.id, a.url, e)
            self._save_each(
                "stories",
                items,
                lambda chunk: self.summary.add(
                    "stories_new", self.storage.add_story_members(chunk, now=self.now())
                ),
                article_of=lambda item: by_id[item[0].article_id],
            )

    # ------------------------------------------------------------------ alerts

    def send_alerts(self) -> None:
        """Send the alerts the watches raise on new and grown stories (#16).

        A delivery that fails is one warning and one line in the failures log
        (`monitor status`); it never fails the run, and is retried next run.
        """
        if not self.cfg.watches:
            return
        from . import alerts  # its matchers and senders: only with watches

        watches, _errors = alerts.compile_watches(self.cfg.watches, self.rules())
        if not watches:
            return
        sender = alerts.Sender(cfg=self.cfg, client=self.http, env=self.env)
        for r in alerts.run_alerts(
            self.storage, self.cfg, watches, sender, now=self.now
        ):
            self.summary.add(f"alerts_{r.status}")
            if r.status == "failed":
                self._record(
                    "alerts", f"{r.key.watch} -> {r.key.target}", _Msg(r.error)
                )

    # ------------------------------------------------------------------ digest

    def write_digest_if_due(self) -> None:
        """Last step of `monitor run`: write (and mail) every digest that is due,
        oldest first (missed days are caught up: `schedule.digest_days_due`)."""
        for day in self.digest_days_due():
            self.write_digest(day=day)

    def digest_days_due(self) -> list[date]:
        """The local days whose daily digest is due now and not yet written."""
        written = self.storage.get_daily_digest_times()
        return schedule.digest_days_due(self.now(), written, self.cfg.digest)

    def write_digest(
        self, *, day: date | None = None, send: bool = True, force: bool = False
    ) -> list[Path]:
        """Build and write one digest (a local day, or everything new since the last).

        Returns:
            The files written.
        """
        from . import digest  # the templates: only when a digest is written

        now = self.now()
        built = digest.build_digest(
            self.storage,
            day=day,
            cfg=self.cfg.digest,
            topic_order=self.rules().topic_order,
            topic_names={c.id: c.label for c in self.rules().categories},
            now=now,
            sources=self.cfg.source_kinds(),
        )
        paths = digest.write_digest(built, self.cfg, self.storage)
        self.summary.add("digests_written")
        logger.info("digest day=%s files=%d", day or "since-last", len(paths))
        if send and self.cfg.mail.enabled:
            for r in digest.send_digest(
                built, self.cfg, self.storage, env=self.env, force=force, now=now
            ):
                self.summary.add(f"mails_{r.status}")
                if r.status == "failed":
                    logger.warning("digest mail to=%s error=%s", r.recipient, r.error)
                    self.storage.add_failure("mail", r.recipient, str(r.error), now)
        return paths

    # ------------------------------------------------------------------ item boundary

    def _save_each(
        self,
        stage: str,
        items: list[_T],
        save: Callable[[list[_T]], object],
        article_of: Callable[[_T], Article] | None = None,
    ) -> int:
        """Save a batch in one transaction; when an item spoils it, save them one
        by one and record the culprits.

        Returns:
            The number of items saved.
        """
        if not items:
            return 0
        try:
            save(items)
            return len(items)
        except FATAL_ERRORS:
            raise
        except ITEM_ERRORS:
            pass  # rolled back: find the culprit
        saved = 0
        for item in items:
            try:
                save([item])
                saved += 1
            except FATAL_ERRORS:
                raise
            except ITEM_ERRORS as e:
                a = article_of(item) if article_of else item[0]  # type: ignore[index]
                self._article_failed(stage, a.id, a.url, e)
        return saved

    def _record(self, stage: str, resource: str, error: BaseException) -> str:
        """Log a failure and add it to the failures log; returns the message."""
        message = _message(error)
        resource = _safe(resource, 300)
        logger.warning(
            "%s resource=%s status=error error=%s",
            stage,
            resource,
            message,
            exc_info=error if logger.isEnabledFor(logging.DEBUG) else None,
        )
        self.storage.add_failure(stage, resource, message, self.now())
        return message

    def _article_failed(
        self,
        stage: str,
        article_id: int,
        url: str,
        error: BaseException,
        *,
        park: bool = True,
    ) -> None:
        """Record a failure on the article (attempts, last error, failures log);
        after ``fetch.max_attempts`` failures in this stage it is parked."""
        message = self._record(stage, url, error)
        now = self.now()
        attempts = self.storage.record_article_error(article_id, stage, message, now)
        self.summary.add("articles_failed")
        if park and attempts >= self.cfg.fetch.max_attempts:
            self.storage.park_article(article_id, stage, now)
            self.summary.add("articles_parked")
            logger.warning(
                "%s article=%d status=parked attempts=%d", stage, article_id, attempts
            )

    # ------------------------------------------------------------------ helpers

    def _fetch_many(
        self, requests: list[fetch.FetchRequest]
    ) -> Iterator[StageResult[Page]]:
        from . import fetch

        limiter = fetch.HostLimiter(
            self.cfg.fetch.per_host_concurrency, self.cfg.fetch.per_host_delay
        )
        return fetch.fetch_many(
            self._clients,
            requests,
            limiter=limiter,
            workers=self.cfg.fetch.workers,
            total_timeout=self.cfg.fetch.total_timeout,
            max_redirects=self.cfg.fetch.max_redirects,
            now=self.now,
        )

    @contextmanager
    def _bar(self, stage: str, total: int) -> Iterator[ProgressBar]:
        with self.progress(stage, total) as bar:
            yield bar


class _ItemError(MonitorError):
    """Bad input caught at a boundary, with the step it broke (``parse: ...``)."""

    def __init__(self, step: str, error: BaseException) -> None:
        super().__init__(f"{step} failed: {_message(error)}")


class _Msg(MonitorError):
    """A failure already described in one line (an alert delivery)."""


def _message(error: BaseException) -> str:
    """A failure's message as recorded: our errors as they are, others with their
    type; surrogates escaped (storage cannot hold them), cut to MESSAGE_CHARS."""
    text = (
        str(error)
        if isinstance(error, MonitorError)
        else (f"{type(error).__name__}: {error}")
    )
    return _safe(text, MESSAGE_CHARS)


def _safe(text: str, limit: int) -> str:
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _classify_stored(rules: classify.RuleSet, a: Article) -> Topics:
    return classify.classify_article(
        rules,
        title=a.title,
        text=a.text,
        lang=a.lang,
        title_en=a.title_en,
        text_en=a.text_en,
    )


def _allows_private(cfg: Config, spec: FeedSpec) -> bool:
    """May this feed (and its articles) live on loopback/private addresses?"""
    return cfg.fetch.allow_private or spec.allow_private


def _item_key(item: FeedItem, spec: FeedSpec) -> str:
    """An article's identity: its canonical URL (a mirror's link on the primary's
    host, issue #20), or a URN for items with no link (their page cannot be
    fetched, so extraction falls back to the feed's text)."""
    if item.link:
        return urls.canonicalize_url(mirrors.primary_link(item.link, spec))
    return f"urn:monitor:{item.feed_name}:{item.entry_id}"


def check_feed(
    cfg: Config,
    client: httpx.Client | fetch.ClientPool,
    spec: FeedSpec,
    now: datetime,
) -> tuple[bool, str]:
    """Fetch and parse one feed without storing anything (`monitor feeds check`).

    Each of the feed's URLs (primary, then mirrors) is tried in turn, on the
    feed's route, until one answers (issue #20).

    Returns:
        (ok, one-line description of what was found or what failed).
    """
    try:
        page, note = _check_fetch(cfg, client, spec, now)
        parsed = sources.parse_page(page, spec, depth=0, first_poll=False)
    except FeedError as e:
        return False, str(e) + _advertised(page)
    except FetchError as e:
        return False, str(e)
    except FATAL_ERRORS:
        raise
    except ITEM_ERRORS as e:  # hostile bytes the parser did not expect
        return False, _message(e)
    dated = sum(1 for i in parsed.items if i.published)
    latest = max((i.published for i in parsed.items if i.published), default=None)
    warning = f"; repaired: {parsed.warning}" if parsed.warning else ""
    if parsed.follow:
        warning += f"; points at {len(parsed.follow)} more documents"
    return True, (
        f"{len(parsed.items)} items ({dated} dated, newest {latest}), "
        f"title {parsed.title!r}{warning}{note}"
    )


def _check_fetch(
    cfg: Config,
    client: httpx.Client | fetch.ClientPool,
    spec: FeedSpec,
    now: datetime,
) -> tuple[Page, str]:
    """The first of the feed's URLs that answers, and a note naming the route."""
    from . import fetch

    candidates = mirrors.feed_urls(spec)
    for i, url in enumerate(candidates):
        route = fetch.feed_route(cfg.fetch, spec, url, cfg.environment_proxies)
        chosen = client.get(route) if isinstance(client, fetch.ClientPool) else client
        try:
            page = fetch.fetch_url(
                chosen,
                url,
                max_bytes=cfg.fetch.max_feed_bytes,
                allow_private=_allows_private(cfg, spec),
                total_timeout=route.total_timeout,
                max_redirects=cfg.fetch.max_redirects,
                now=lambda: now,
            )
            reason: str | None = mirrors.failover_reason(page, spec)
            error: FetchError = FetchError(reason or "", resource=url)
        except FetchError as e:
            reason, error = mirrors.failover_reason(e, spec), e
            if reason is None:
                raise
        if reason is None:
            via = "" if route.proxy is None else f" via {route.label}"
            at = f"; served by mirror {url}" if i else ""
            return page, f"{at}{via}"
        if i == len(candidates) - 1:
            raise error
    raise AssertionError("a feed has at least one URL")


def _advertised(page: Page) -> str:
    """For `feeds check` on an HTML page: the feeds that page advertises."""
    from .sources.discover import find_candidates

    found = find_candidates(page.body, page.final_url, page.charset).alternate
    if not found:
        return ""
    urls_ = ", ".join(u for u, _ in found[:3])
    return f"; the page advertises: {urls_} (monitor feeds add URL)"


__all__ = ["Pipeline", "check_feed", "open_storage"]  # open_storage: monitor.runtime
