"""The pipeline: every stage of `monitor run`, in order, in one place.

    monitor run
      poll       feeds due ─fetch.fetch_many─▶ Page ─feeds.parse_feed─▶ FeedItem*
                 ─urls.canonicalize_url─▶ store.add_feed_items          (per feed: 1 tx)
      extract    store.get_articles_needing_extraction ─fetch.fetch_many─▶ Page
                 ─extract.extract_article─▶ Extracted ─▶ store.save_extraction
      translate  store.get_articles_for_translation ─translate.make_translator─▶
                 Translation ─▶ store.save_translation            (titles first)
      classify   store.get_articles_to_classify ─classify.classify_article─▶
                 Topics ─▶ store.save_filings               (classify.reclassify_archive)
      index      store.get_search_queue ─search.build_search_doc─▶ store.save_search_docs
      stories    store.get_articles_needing_story ─stories.StoryClusterer─▶ Assignment
                 ─▶ store.add_story_members
      digest     when due: digest.build_digest ─▶ digest.write_digest ─▶ digest.send_digest

Rules (STYLE.md): this module has no SQL and no HTTP of its own.  Network calls run
in worker threads inside `fetch.fetch_many`; every write happens here, on the main
thread, one transaction per feed or per article, never across a network call.  Each
stage selects the rows that still need it, so a run killed at any point simply
continues on the next run.  Failures are data: they are recorded (per feed, per
article, and in the failures log that `monitor status` shows) and the run goes on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import httpx

from . import (
    classify,
    digest,
    extract,
    feeds,
    fetch,
    schedule,
    stories,
    translate,
    urls,
)
from .config import Config, resolve_path
from .exceptions import (
    BlockedURLError,
    FeedError,
    FetchError,
    TranslateError,
)
from .models import (
    FeedItem,
    FeedSpec,
    FeedState,
    Page,
    RunSummary,
    StageResult,
)
from .store import Storage
from .store._feeds import PollOutcome
from .store._translations import TranslationTask

logger = logging.getLogger(__name__)

TRANSLATE_BATCH = 32  # articles per translate call: sentences batch across them
STORY_BATCH = 200  # story assignments per transaction
# A page answering one of these will not come back: fall back to the feed's text at once.
GONE_STATUSES = frozenset({401, 403, 404, 410, 451})

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
    # Secrets (SMTP, LibreTranslate key) come from here; the CLI passes os.environ.
    env: Mapping[str, str] = field(default_factory=dict)
    summary: RunSummary = field(default_factory=RunSummary)
    _rules: classify.RuleSet | None = field(default=None, init=False, repr=False)
    _translator: translate.ArticleTranslator | None = field(
        default=None, init=False, repr=False
    )

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the HTTP client and the translation model, if loaded."""
        self.client.close()
        if self._translator is not None:
            self._translator.close()

    def run(self, *, digest: bool = True) -> RunSummary:
        """Run every stage once.  Returns the counts for the summary line."""
        run_id = self.storage.start_run(self.now())
        self.poll_feeds()
        self.extract_articles()
        self.translate_articles()
        self.classify_articles()
        self.index_articles()
        self.cluster_stories()
        if digest:
            self.write_digest_if_due()
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
            allow_private=_allows_private(self.cfg, spec),
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
        items = [(item, _item_key(item)) for item in parsed.items]
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
            failures, self.now(), retry_after, self.cfg.poll
        )
        return PollOutcome(status="error", error=message, next_poll_at=next_at)

    # ------------------------------------------------------------------ extract

    def extract_articles(self) -> None:
        """Fetch and extract every article still pending, up to the per-run cap."""
        pending = self.storage.get_articles_needing_extraction(
            self.cfg.fetch.max_articles_per_run
        )
        by_id = {
            str(a.id): (a, item) for a, item in pending if a.url.startswith("http")
        }
        for (
            article,
            item,
        ) in pending:  # no page to fetch: the feed's text is all there is
            if str(article.id) not in by_id:
                self._extract_one(article.id, item, None)
        private = {f.name: _allows_private(self.cfg, f) for f in self.cfg.feeds}
        requests = [
            fetch.FetchRequest(
                key=key,
                url=article.url,
                max_bytes=self.cfg.fetch.max_page_bytes,
                allow_private=private.get(
                    article.feed_name, self.cfg.fetch.allow_private
                ),
            )
            for key, (article, _) in by_id.items()
        ]
        with self._bar("extract", len(requests)) as bar:
            for result in self._fetch_many(requests):
                article, item = by_id[str(result.key)]
                self._extract_one(article.id, item, result.value)
                bar.update()

    def _extract_one(
        self, article_id: int, item: FeedItem, page: Page | BaseException | None
    ) -> None:
        if isinstance(page, BaseException):
            if not self._page_failed(article_id, item, page):
                return  # retried on the next run
            page = None  # give up on the page: the feed's own text is the fallback
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
        now = self.now()
        attempts = self.storage.record_article_error(
            article_id, "fetch", str(error), now
        )
        self.storage.add_failure("fetch", item.link, str(error), now)
        permanent = isinstance(error, BlockedURLError) or (
            isinstance(error, fetch.FetchStatusError) and error.status in GONE_STATUSES
        )
        give_up = permanent or attempts >= self.cfg.fetch.max_attempts
        if give_up:
            self.summary.add("articles_failed")
        logger.log(
            logging.WARNING if give_up else logging.INFO,
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
        translator = self.translator()
        target = self.cfg.translate.target
        covered = {src for src, dst in translator.pairs() if dst == target}
        cap = limit or self.cfg.translate.max_articles_per_run
        tasks = self.storage.get_articles_for_translation(covered, cap)
        with self._bar("translate", len(tasks)) as bar:
            for start in range(0, len(tasks), TRANSLATE_BATCH):
                batch = tasks[start : start + TRANSLATE_BATCH]
                if not self._translate_batch(translator, batch):
                    return
                bar.update(len(batch))

    def _translate_batch(
        self, translator: translate.ArticleTranslator, batch: list[TranslationTask]
    ) -> bool:
        texts = [
            translate.ArticleText(title=t.title, text=t.text, src=t.lang) for t in batch
        ]
        try:
            results = translator.translate_articles(texts)
        except TranslateError as e:
            logger.warning(
                "translate status=error engine=%s error=%s", translator.name, e
            )
            self.storage.add_failure("translate", translator.name, str(e), self.now())
            self.summary.add("translate_errors")
            return False
        for task, result in zip(batch, results, strict=True):
            self.storage.save_translation(task.article_id, result, self.now())
            self.summary.add(f"translation_{result.status.value}")
            if result.status.value in ("done", "partial"):
                self.summary.add("articles_translated")
        return True

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
        """File articles under topics and countries (only pending ones, or all)."""
        done = classify.reclassify_archive(
            self.storage, self.rules(), pending_only=not everything
        )
        self.summary.add("articles_classified", done)
        return done

    def rules(self) -> classify.RuleSet:
        """The compiled topic rules (validated at config load, compiled once)."""
        if self._rules is None:
            self._rules = classify.compile_topics(self.cfg.topics)
        return self._rules

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
        batch = [
            stories.compute_features(stories.candidate_from_article(a), cfg)
            for a in articles
        ]
        batch.sort(
            key=lambda f: (f.time, f.article_id)
        )  # the window assumes time order
        since = stories.window_start(batch, cfg, self.now())
        clusterer = stories.StoryClusterer(
            cfg, stories.load_known(self.storage.get_story_features(since))
        )
        for start in range(0, len(batch), STORY_BATCH):
            chunk = batch[start : start + STORY_BATCH]
            items = [(clusterer.assign(f), stories.features_to_bytes(f)) for f in chunk]
            new = self.storage.add_story_members(items, now=self.now())
            self.summary.add("stories_new", new)

    # ------------------------------------------------------------------ digest

    def write_digest_if_due(self) -> None:
        """Last step of `monitor run`: write (and mail) the digest once it is due."""
        last = self.storage.get_last_digest_day()
        day = digest.is_digest_due(
            self.now(), date.fromisoformat(last) if last else None, self.cfg.digest
        )
        if day is not None:
            self.write_digest(day=day)

    def write_digest(
        self, *, day: date | None = None, send: bool = True, force: bool = False
    ) -> list[Path]:
        """Build and write one digest (a local day, or everything new since the last).

        Returns:
            The files written.
        """
        now = self.now()
        built = digest.build_digest(
            self.storage,
            day=day,
            cfg=self.cfg.digest,
            topic_order=self.rules().topic_order,
            topic_names={c.id: c.label for c in self.rules().categories},
            now=now,
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


def _allows_private(cfg: Config, spec: FeedSpec) -> bool:
    """May this feed (and its articles) live on loopback/private addresses?"""
    return cfg.fetch.allow_private or spec.allow_private


def _item_key(item: FeedItem) -> str:
    """An article's identity: its canonical URL, or a URN for items with no link
    (their page cannot be fetched, so extraction falls back to the feed's text)."""
    if item.link:
        return urls.canonicalize_url(item.link)
    return f"urn:monitor:{item.feed_name}:{item.entry_id}"


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
            allow_private=_allows_private(cfg, spec),
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


__all__ = ["Pipeline", "check_feed", "open_storage"]
