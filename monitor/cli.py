"""The `monitor` command line: thin wrappers over library functions (STYLE.md 21-25).

Exit codes: 0 success (failed feeds and articles are data, not errors, unless
``--strict``, then 3); 1 a user or configuration error; 2 usage.  The cron contract
(issue #10): with ``-q`` nothing is printed unless something is wrong (warnings,
aggregated per feed or host); without it, one summary line ends each run.  A
progress bar is drawn only when stderr is a terminal and ``-q`` is not given.
Every human line passes through `termsafe.term_safe` (issue #11.13).
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import click

from . import status as status_mod
from .config import (
    Config,
    WatchConfig,
    load_config,
    resolve_path,
    resolve_recipient_topics,
)
from .exceptions import ConfigError, LockedError, MonitorError, StorageError
from .lock import run_lock
from .log import drawing, setup_logging
from .models import Article, RunSummary
from .runtime import ProgressBar, no_progress, open_storage, utc_now
from .store import Storage
from .termsafe import json_safe, term_safe

if TYPE_CHECKING:  # the stages load only for the commands that run them
    from .pipeline import Pipeline
    from .store import StorageType

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS})
QUIET = "monitor.quiet"  # click context meta: -q given (no bar, no summary)


@dataclass(frozen=True)
class Options:
    config_dir: str | None
    db: str | None
    verbose: int
    quiet: bool


def common_options(func: F) -> F:
    """--config, --db, -v and -q, declared once for every command."""

    @click.option(
        "--config",
        "config_dir",
        type=click.Path(file_okay=False),
        envvar="MONITOR_CONFIG",
        help="Folder holding monitor.toml [./config].",
    )
    @click.option(
        "--db", help="Database file (overrides store.path; relative to the cwd)."
    )
    @click.option("-v", "--verbose", count=True, help="More output (-v, -vv, -vvv).")
    @click.option(
        "-q", "--quiet", is_flag=True, help="Only warnings and errors (for cron)."
    )
    @functools.wraps(func)
    def wrapper(
        config_dir: str | None, db: str | None, verbose: int, quiet: bool, **kwargs: Any
    ) -> Any:
        opts = Options(config_dir, db, verbose, quiet)
        setup_logging(verbose, quiet=quiet)
        click.get_current_context().meta[QUIET] = quiet
        try:
            return func(opts, **kwargs)
        except OSError as e:
            if e.errno not in DISK_ERRNOS:
                raise
            # disk full, quota, read-only file system: one clear line (issue #7)
            where = f" {e.filename}" if e.filename else ""
            raise click.ClickException(f"disk error{where}: {e.strerror}") from e
        except MonitorError as e:  # e.g. StorageError mid-run: a clear line, exit 1
            raise click.ClickException(term_safe(str(e))) from e
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception:
            # A bug, not bad input: say so loudly, with the traceback (STYLE.md 24).
            logger.critical(
                "unexpected error in monitor %s", func.__name__, exc_info=True
            )
            raise

    return wrapper  # type: ignore[return-value]


def load(opts: Options) -> Config:
    """Load and validate the configuration, or exit 1 listing every problem."""
    from .classify import compile_topics, validate_topics

    try:
        cfg = load_config(
            opts.config_dir,
            overrides={"store.path": _from_cwd(opts.db)},
            rule_validator=validate_topics,
            watch_validator=_validate_watches,
        )
        rules = compile_topics(cfg.topics)  # compiled once: validation cached it
        headings = {t: rules.label_of("topic", t) for t in rules.topic_order}
        return resolve_recipient_topics(cfg, headings)
    except ConfigError as e:
        raise click.ClickException(str(e)) from e


def _validate_watches(
    watches: tuple[WatchConfig, ...], topics: Mapping[str, Any]
) -> list[str]:
    """`alerts.validate_watches`, imported only when there are watches (the
    alerts package brings the webhook and mail senders)."""
    from .alerts import validate_watches

    return validate_watches(watches, topics)


def _from_cwd(path: str | None) -> str | None:
    """A path given on the command line: relative to the current directory."""
    return None if path is None else str(Path(path).expanduser().absolute())


@contextmanager
def _tty_progress(stage: str, total: int) -> Iterator[ProgressBar]:
    """click's bar on a terminal (finished when the stage ends), else nothing."""
    if not sys.stderr.isatty() or total == 0:
        yield ProgressBar()
        return
    with (
        click.progressbar(length=total, label=f"{stage:<9}", file=sys.stderr) as bar,
        drawing(bar),
    ):
        yield _ClickBar(bar)


class _ClickBar(ProgressBar):
    """Adapts click's ``update(n_steps)`` to the pipeline's ``update(n=1)``."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def update(self, n: int = 1) -> None:
        self._bar.update(n)


def _quiet() -> bool:
    return bool(click.get_current_context().meta.get(QUIET))


def _summary(line: str) -> None:
    """The one-line summary on stderr; silence under -q (cron mails on output)."""
    if not _quiet():
        click.echo(line, err=True)


def _echo(text: str, **kwargs: Any) -> None:
    """Human output: escape sequences and bidi overrides neutralised."""
    click.echo(term_safe(text), **kwargs)


def _echo_json(value: Any, **kwargs: Any) -> None:
    """JSON output: still JSON, with the characters a terminal obeys escaped."""
    click.echo(json_safe(json.dumps(value, ensure_ascii=False, **kwargs)))


class _DayType(click.ParamType["date | str", Any]):
    """``YYYY-MM-DD``, ``today`` or ``yesterday`` (local, in digest.timezone)."""

    name = "DATE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> date | str:
        if isinstance(value, date) or value in ("today", "yesterday"):
            return value  # type: ignore[no-any-return]
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not YYYY-MM-DD, today or yesterday", param, ctx)


DAY = _DayType()


def _local_day(value: date | str | None, timezone: str) -> date:
    """The local day meant by a --date value (default: yesterday)."""
    if isinstance(value, date):
        return value
    today = utc_now().astimezone(ZoneInfo(timezone)).date()
    return today if value == "today" else today - timedelta(days=1)


@click.group()
@click.version_option(package_name="monitor")
def cli() -> None:
    """A multilingual press monitor for Central Asia and the post-Soviet region.

    Polls RSS/Atom feeds, extracts articles, translates Russian to English
    offline, files articles by topic, groups stories and writes a daily digest.
    """


@cli.command()
@common_options
@click.option("--no-digest", is_flag=True, help="Skip the digest step.")
@click.option("--strict", is_flag=True, help="Exit 3 when any feed or article failed.")
def run(opts: Options, no_digest: bool, strict: bool) -> None:
    """Run every stage: poll, extract, translate, classify, stories, alerts, digest.

    With [queue] enabled (PostgreSQL), the stages after the poll are queued for
    `monitor worker` instead (docs/scale-out.md).

    Example:

        monitor run -q        # from cron: silent unless something is wrong
    """
    cfg = load(opts)
    with _locked(cfg), _storage(cfg) as storage:
        with _pipeline(cfg, storage) as pipeline:
            if cfg.queue.enabled:
                summary = _run_queued(cfg, storage, pipeline, digest=not no_digest)
            else:
                summary = pipeline.run(digest=not no_digest)
    _summary(summary.line())
    if strict and (
        summary.counts.get("feeds_error") or summary.counts.get("articles_failed")
    ):
        sys.exit(3)


def _run_queued(
    cfg: Config, storage: StorageType, pipeline: Pipeline, *, digest: bool
) -> RunSummary:
    """`monitor run` with ``[queue] enabled``: every stage after the poll goes to
    the workers (index and alerts still run here, on what is done so far)."""
    from . import queue

    app = queue.make_app(cfg, _PipelineRunner(cfg))
    with app.open():
        queue.ensure_schema(app)

        def enqueue_extraction() -> None:
            pending = storage.get_articles_needing_extraction(
                cfg.fetch.max_articles_per_run
            )
            queue.enqueue_extraction(app, [a.id for a, _ in pending], pipeline.summary)

        def enqueue_digests() -> None:
            due = pipeline.digest_days_due()
            queued = queue.enqueue_digests(app, due)
            for key, n in (
                ("jobs_queued", queued),
                ("jobs_already_queued", len(due) - queued),
            ):
                if n:
                    pipeline.summary.add(key, n)

        queued: dict[str, Callable[[], object]] = {
            "extract": enqueue_extraction,
            "translate": lambda: queue.enqueue_sweeps(app, pipeline.summary),
            "classify": lambda: None,  # queued with translate, in pipeline order
            "stories": lambda: None,
            "digest": enqueue_digests,
        }
        return pipeline.run(digest=digest, queued=queued)


def _queue_status(cfg: Config) -> dict[str, object]:
    from . import queue

    app = queue.make_app(cfg, _PipelineRunner(cfg))
    with app.open():
        queue.ensure_schema(app)
        return queue.queue_status(app)


@dataclass(frozen=True)
class _PipelineRunner:
    """A worker's jobs: the pipeline's own stages, each on its own store and
    pipeline (a worker thread: no click context, no progress bar)."""

    cfg: Config

    @contextmanager
    def _pipeline(self) -> Iterator[Pipeline]:
        from . import fetch
        from .pipeline import Pipeline

        with (
            closing(open_storage(self.cfg)) as storage,
            Pipeline(
                cfg=self.cfg,
                storage=storage,
                client=fetch.make_client(self.cfg.fetch),
                env=os.environ,
            ) as pipeline,
        ):
            yield pipeline

    def extract(self, article_id: int) -> None:
        with self._pipeline() as pipeline:
            pipeline.extract_articles([article_id])

    def sweep(self, stage: str) -> None:
        with self._pipeline() as pipeline:
            sweeps: dict[str, Callable[[], object]] = {
                "translate": pipeline.translate_articles,
                "classify": pipeline.classify_articles,
                "stories": pipeline.cluster_stories,
            }
            sweeps[stage]()
        logger.info("stage=%s status=done %s", stage, pipeline.summary.line())

    def digest_days_due(self) -> list[date]:
        with self._pipeline() as pipeline:
            return pipeline.digest_days_due()

    def digest(self, day: date) -> bool:
        with self._pipeline() as pipeline:
            if day not in pipeline.digest_days_due():
                return False  # written already (by another job or a person)
            pipeline.write_digest(day=day)
            return True


# queue.STAGES, spelled here: the queue module (procrastinate) loads only when used.
_STAGES = ("extract", "translate", "classify", "stories", "digest")


@cli.command()
@common_options
@click.option(
    "--concurrency", default=1, show_default=True, help="Jobs run at the same time."
)
@click.option(
    "--stages",
    default=",".join(_STAGES),
    show_default=True,
    help="Comma-separated stages whose jobs this worker takes.",
)
@click.option("--once", is_flag=True, help="Exit when no job is left (scripts, tests).")
def worker(opts: Options, concurrency: int, stages: str, once: bool) -> None:
    """Process queued jobs (every stage after the poll) from the PostgreSQL store.

    Stages: extract, translate, classify, stories, digest.  Each job runs the
    same code as `monitor run` does for that stage.

    Needs [queue] enabled and [store] url.  Run one or more on any machine that
    reaches the database; `monitor run` queues the work (docs/scale-out.md).

    Example:

        MONITOR_STORE_URL=postgresql://monitor@db/monitor monitor worker
    """
    from . import queue

    chosen = [s.strip() for s in stages.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(_STAGES))
    if unknown or not chosen:
        raise click.BadParameter(
            f"{', '.join(unknown) or 'none'}: choose from {', '.join(_STAGES)}",
            param_hint="--stages",
        )
    cfg = load(opts)
    if not cfg.queue.enabled:
        raise click.UsageError("monitor worker needs [queue] enabled = true")
    app = queue.make_app(cfg, _PipelineRunner(cfg))
    with app.open():  # synchronous: the schema check
        queue.ensure_schema(app)
    queue.run_worker(app, stages=chosen, concurrency=concurrency, once=once)


@cli.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(opts: Options, as_json: bool) -> None:
    """Show feed health, articles per stage, the last run and recent failures.

    Example:

        monitor status --json | jq .feeds
    """
    cfg = load(opts)
    with _storage(cfg, must_exist=True) as storage:
        report = status_mod.build_status(storage, cfg, utc_now())
    if cfg.queue.enabled:
        report["queue"] = _queue_status(cfg)
    if as_json:
        _echo_json(report, indent=2, sort_keys=True)
    else:
        _echo(status_mod.format_status(report))


@cli.command()
@common_options
@click.option(
    "--to",
    "url",
    required=True,
    metavar="URL",
    help="An empty PostgreSQL database: postgresql://user@host/dbname.",
)
def migrate(opts: Options, url: str) -> None:
    """Copy the SQLite archive into an empty PostgreSQL database, then verify.

    Every table is copied in one transaction and its row count compared; any
    difference keeps nothing.  Nothing in the SQLite file changes.  Then set
    [store] url (or MONITOR_STORE_URL) to use the new store.

    Example:

        monitor migrate --to postgresql://monitor@db.internal/monitor
    """
    from .store.pg import PgStorage, copy_archive, is_postgres_url

    cfg = load(opts)
    if cfg.store.url is not None:
        raise click.UsageError("the source must be the SQLite file: unset store.url")
    if not is_postgres_url(url):
        raise click.UsageError(f"--to: not a PostgreSQL URL: {url.split('@')[-1]!r}")
    with _storage(cfg, must_exist=True) as source:
        assert isinstance(source, Storage)  # store.url is unset: the SQLite file
        try:
            with PgStorage(url) as target:
                counts = copy_archive(source, target)
        except MonitorError as e:
            raise click.ClickException(str(e)) from e
    if not _quiet():
        for c in counts:
            _echo(f"{c.table:<18} {c.source:>9} rows copied, {c.target} verified")


@cli.command("init-db")
@common_options
def init_db(opts: Options) -> None:
    """Create (or migrate) the database and register the configured feeds.

    Example:

        monitor init-db --db /srv/monitor/monitor.db
    """
    cfg = load(opts)
    with _storage(cfg) as storage:
        storage.sync_feeds(cfg.feeds)
        if not _quiet():
            _echo(f"database ready: {storage.location}")


@cli.command()
@common_options
@click.argument("names", nargs=-1)
def poll(opts: Options, names: tuple[str, ...]) -> None:
    """Poll feeds (all that are due, or the NAMES given) and store new items.

    Example:

        monitor poll tengrinews vlast
    """
    cfg = load(opts)
    _check_names(cfg, names)
    with _locked(cfg), _storage(cfg) as storage:
        with _pipeline(cfg, storage) as pipeline:
            pipeline.poll_feeds(names)
    _summary(pipeline.summary.line())


@cli.command("extract")
@common_options
def extract_cmd(opts: Options) -> None:
    """Fetch and extract every article still waiting for its page.

    Example:

        monitor extract -v
    """
    cfg = load(opts)
    with _locked(cfg), _storage(cfg) as storage:
        with _pipeline(cfg, storage) as pipeline:
            pipeline.extract_articles()
    _summary(pipeline.summary.line())


@cli.command("translate")
@common_options
@click.option("--limit", type=click.IntRange(min=1), help="At most this many articles.")
def translate_cmd(opts: Options, limit: int | None) -> None:
    """Translate articles still waiting for a translation (a backlog catch-up).

    Example:

        monitor translate --limit 200
    """
    cfg = load(opts)
    with _locked(cfg), _storage(cfg) as storage, _pipeline(cfg, storage) as pipeline:
        pipeline.translate_articles(limit)
    _summary(pipeline.summary.line())


@cli.command("classify")
@common_options
@click.option("--pending", is_flag=True, help="Only articles not yet filed.")
def classify_cmd(opts: Options, pending: bool) -> None:
    """Re-file the archive under topics and countries after the rules changed.

    Uses stored translations: nothing is fetched or translated again.

    Example:

        monitor classify
    """
    cfg = load(opts)
    with _locked(cfg), _storage(cfg) as storage, _pipeline(cfg, storage) as pipeline:
        n = pipeline.classify_articles(everything=not pending)
    _summary(f"classified {n} articles")


@cli.command()
@common_options
@click.argument("article")
def explain(opts: Options, article: str) -> None:
    """Show why an article was filed where it was: rules, terms, matched words.

    ARTICLE is an article id (as `monitor stories` shows) or the article's URL.

    \b
    Example:
        monitor explain 1234
        monitor explain https://kloop.kg/blog/2026/01/05/some-story/
    """
    from .classify import explain_stored_article

    cfg = load(opts)
    with _storage(cfg, must_exist=True) as storage, _pipeline(cfg, storage) as pipe:
        article_id = _article_id(storage, article)
        text = explain_stored_article(storage, pipe.rules(), article_id)
    if text is None:
        raise click.ClickException(f"no article with id {article_id}")
    _echo(text)


def _article_id(storage: StorageType, article: str) -> int:
    """An article id, given as a number or as the article's URL."""
    from .urls import canonicalize_url

    if article.isdecimal():
        return int(article)
    found = storage.get_article_id_by_url(canonicalize_url(article))
    if found is None:
        raise click.ClickException(f"no article with URL {term_safe(article)}")
    return found


@cli.command("stories")
@common_options
@click.option(
    "--date", "day", type=DAY, help="Local day: YYYY-MM-DD, today [yesterday]."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def stories_cmd(opts: Options, day: date | str | None, as_json: bool) -> None:
    """List a day's stories with their members (outlet, language, link).

    Example:

        monitor stories --date 2026-01-05
    """
    from . import digest, stories

    cfg = load(opts)
    tz = ZoneInfo(cfg.digest.timezone)
    local = _local_day(day, cfg.digest.timezone)
    start, end = digest.day_bounds(local, cfg.digest.timezone)
    with _storage(cfg, must_exist=True) as storage:
        found = stories.stories_for_day(storage, start, end)
    if as_json:
        _echo_json([dataclasses.asdict(s) for s in found], indent=2, default=str)
    else:
        _echo(stories.format_stories(found, tz=tz), nl=False)


@cli.command("stories-explain")
@common_options
@click.argument("first", type=int)
@click.argument("second", type=int)
def stories_explain_cmd(opts: Options, first: int, second: int) -> None:
    """Show why two articles are one story or kept apart (issue #17).

    Lists the similarity terms, shared terms and names, and conflicting
    headline dates, names and quoted names.

    Example:

        monitor stories-explain 1234 1240
    """
    from . import stories

    cfg = load(opts)
    with _storage(cfg) as storage:
        pair = [storage.get_article(i) for i in (first, second)]
        a, b = pair
        if a is None or b is None:
            missing = first if a is None else second
            raise click.ClickException(f"no article with id {missing}")
        _refuse_pruned(a, b)
        fa, fb = (
            stories.compute_features(stories.candidate_from_article(x), cfg.stories)
            for x in (a, b)
        )
        since = stories.window_start([fa, fb], cfg.stories, max(fa.time, fb.time))
        known = stories.load_known(storage.get_story_features(since))
    until = max(fa.time, fb.time) + timedelta(hours=cfg.stories.window_hours)
    window = [f for _, f in known if f.time <= until]
    stored = {f.article_id for f in window}
    if a.id not in stored or b.id not in stored:  # prune --features-only (#19)
        click.echo(
            "note: the stored story features of these days were dropped; term"
            " weights come from the features left around them, recomputed for"
            " the pair from its stored text",
            err=True,
        )
    evidence = stories.explain_articles(fa, fb, window)
    click.echo(
        stories.format_pair_evidence(
            evidence, titles=(a.title, b.title), threshold=cfg.stories.story_threshold
        ),
        nl=False,
    )


def _refuse_pruned(*articles: Article) -> None:
    """One line when an article's features cannot be recomputed (issue #19)."""
    for x in articles:
        if x.pruned_at is not None:
            raise click.ClickException(
                f"article {x.id} was pruned on {x.pruned_at.date().isoformat()}:"
                " its text is gone, so its story features cannot be recomputed"
                f" (it stays in story {x.story_id}; `monitor prune` in docs/archive.md)"
            )


@cli.command("digest")
@common_options
@click.option(
    "--date",
    "day",
    type=DAY,
    help="Local day to cover: YYYY-MM-DD, today [yesterday].",
)
@click.option(
    "--since-last", is_flag=True, help="Everything new since the last digest."
)
@click.option("--send/--no-send", default=True, help="Mail it when mail is enabled.")
@click.option("--force", is_flag=True, help="Mail again even if already sent.")
def digest_cmd(
    opts: Options, day: date | str | None, since_last: bool, send: bool, force: bool
) -> None:
    """Write a digest in every configured format, update the archive, mail it.

    Example:

        monitor digest --date 2026-01-05 --no-send
    """
    if day and since_last:
        raise click.UsageError("--date and --since-last exclude each other")
    cfg = load(opts)
    local = None if since_last else _local_day(day, cfg.digest.timezone)
    with _storage(cfg, must_exist=True) as storage, _pipeline(cfg, storage) as pipeline:
        paths = pipeline.write_digest(day=local, send=send, force=force)
    for path in [] if _quiet() else paths:  # -q: only warnings and errors
        _echo(str(path))
    counts = pipeline.summary.counts
    for key, n in sorted(counts.items()):
        if key.startswith("mails_") and key != "mails_failed":
            _summary(f"{key.removeprefix('mails_')}: {n}")
    if counts.get("mails_failed"):
        raise click.ClickException(
            f"digest written, but mailing it failed for {counts['mails_failed']} "
            "recipient(s) (see `monitor status`)"
        )


@cli.group()
def models() -> None:
    """Install, list and remove offline translation models (Argos packages,
    CTranslate2 folders of NLLB-200, M2M100 or OPUS-MT)."""


@models.command("install")
@common_options
@click.argument("langs", nargs=-1)
@click.option(
    "--from",
    "from_path",
    type=click.Path(exists=True, path_type=Path),
    help="A .argosmodel file, an Argos package folder, or a converted "
    "CTranslate2 model folder (air-gapped).",
)
@click.option("--index", "index_url", help="Package index URL [Argos index].")
@click.option("--name", help="Installed name of a CTranslate2 folder [its name].")
@click.option(
    "--src",
    "sources",
    help="CTranslate2 folder: languages it translates from, e.g. kk,uz "
    "(required for OPUS-MT; NLLB/M2M100: all it knows).",
)
@click.option("--dst", "targets", help="CTranslate2 folder: into [en].")
def models_install(
    opts: Options,
    langs: tuple[str, ...],
    from_path: Path | None,
    index_url: str | None,
    name: str | None,
    sources: str | None,
    targets: str | None,
) -> None:
    """Install a model: from the Argos package index (SRC DST), or --from a
    file or folder.

    Only this command downloads anything, and only when given SRC DST.

    \b
    Example:
        monitor models install ru en
        monitor models install --from translate-ru_en-1_9.argosmodel
        monitor models install --from nllb-200-distilled-600M-ct2
        monitor models install --from opus-mt-trk-en-ct2 --src kk,uz,ky,tk
    """
    from . import translate

    if bool(from_path) == bool(langs) or (langs and len(langs) != 2):
        raise click.UsageError("give either SRC DST (e.g. 'ru en') or --from PATH")
    cfg = load(opts)
    models_dir = resolve_path(cfg, cfg.translate.models_dir)
    try:
        if from_path and translate.is_ct2_dir(from_path):
            _install_ct2(from_path, models_dir, name, sources, targets)
            return
        if (
            from_path
            and from_path.is_dir()
            and not (from_path / "metadata.json").exists()
        ):
            raise click.ClickException(
                f"{from_path}: neither an Argos package nor a CTranslate2 model folder"
                " (no metadata.json, no model.bin)"
            )
        if from_path:
            pkg = translate.install_from_path(from_path, models_dir)
        else:
            pkg = translate.install_from_index(
                langs[0],
                langs[1],
                models_dir,
                index_url or translate.DEFAULT_INDEX_URL,
                timeout=cfg.translate.timeout,
            )
    except MonitorError as e:
        raise click.ClickException(str(e)) from e
    click.echo(
        f"installed {pkg.code} {pkg.version} ({pkg.from_code}→{pkg.to_code}) "
        f"in {pkg.path}"
    )


def _install_ct2(
    path: Path,
    models_dir: Path,
    name: str | None,
    sources: str | None,
    targets: str | None,
) -> None:
    from . import translate

    model = translate.install_ct2_from_dir(
        path,
        models_dir,
        name=name,
        sources=(sources or "").split(","),
        targets=(targets or "").split(","),
    )
    click.echo(
        f"installed {model.name} ({model.model_id}) for "
        f"{','.join(model.sources)}→{','.join(model.targets)} in {model.path}"
    )
    if model.family == "nllb":
        click.echo(
            "note: NLLB-200 weights are licensed CC-BY-NC 4.0 (non-commercial use)"
        )


@models.command("list")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def models_list(opts: Options, as_json: bool) -> None:
    """List installed models and the language pairs they cover.

    Example:

        monitor models list
    """
    from . import translate

    cfg = load(opts)
    models_dir = resolve_path(cfg, cfg.translate.models_dir)
    pkgs = translate.list_installed(models_dir)
    ct2 = translate.list_ct2_models(models_dir)
    if as_json:
        _echo_json(
            [
                {
                    "family": "argos",
                    "code": p.code,
                    "from": p.from_code,
                    "to": p.to_code,
                    "version": p.version,
                    "path": str(p.path),
                }
                for p in pkgs
            ]
            + [
                {
                    "family": m.family,
                    "name": m.name,
                    "model": m.model_id,
                    "from": list(m.sources),
                    "to": list(m.targets),
                    "path": str(m.path),
                }
                for m in ct2
            ],
            indent=2,
        )
        return
    if not pkgs and not ct2:
        _echo(
            f"no models installed in {models_dir}: "
            "run `monitor models install ru en` or `--from FILE`"
        )
    for p in pkgs:
        _echo(f"{p.from_code}→{p.to_code}  {p.code} {p.version}  {p.path}")
    for m in ct2:
        _echo(
            f"{','.join(m.sources)}→{','.join(m.targets)}  {m.name} ({m.family})"
            f"  {m.path}"
        )


@models.command("remove")
@common_options
@click.argument("what", nargs=-1, required=True)
def models_remove(opts: Options, what: tuple[str, ...]) -> None:
    """Remove the Argos package(s) for a pair (ru-en or ru en), or an installed
    CTranslate2 model by name.

    \b
    Example:
        monitor models remove ru-en
        monitor models remove nllb-200-distilled-600M
    """
    from . import translate

    cfg = load(opts)
    models_dir = resolve_path(cfg, cfg.translate.models_dir)
    # One word is a model name, unless it is a pair or a lone language code
    # ("ru": half a pair, a usage error below).
    if len(what) == 1 and not re.fullmatch(r"[a-z]{2,3}(-[a-z]{2,3})?", what[0]):
        model = translate.remove_ct2_model(models_dir, what[0])
        if model is None:
            raise click.ClickException(
                f"no model {what[0]!r} installed in {models_dir}"
            )
        _echo(f"removed {model.name} ({model.family}) {model.path}")
        return
    langs = what[0].split("-") if len(what) == 1 else list(what)
    if len(langs) != 2 or not all(langs):
        raise click.UsageError(
            "give a pair as SRC-DST or SRC DST (e.g. 'ru-en'), or a model name"
        )
    removed = translate.remove_installed(models_dir, langs[0], langs[1])
    if not removed:
        raise click.ClickException(
            f"no {langs[0]}→{langs[1]} model installed in {models_dir}"
        )
    for p in removed:
        _echo(f"removed {p.code} {p.version} ({p.from_code}→{p.to_code}) {p.path}")


@cli.group()
def feeds() -> None:
    """List, check, add, remove, import and export the configured sources."""


@feeds.command("list")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def feeds_list(opts: Options, as_json: bool) -> None:
    """List configured feeds with their health.

    Example:

        monitor feeds list --json
    """
    cfg = load(opts)
    with _storage(cfg, must_exist=True) as storage:
        rows = status_mod.feed_rows(storage, cfg, utc_now())
    if as_json:
        _echo_json(rows, indent=2)
        return
    for row in rows:
        _echo(
            f"{row['name']:<24} {row['kind']:<8} {row['lang']:<3} {row['country']:<5} "
            f"{row['health']:<13} {row['url']}"
        )


@feeds.command("check")
@common_options
@click.argument("names", nargs=-1)
def feeds_check(opts: Options, names: tuple[str, ...]) -> None:
    """Fetch and parse feeds once and report what was found; stores nothing.

    Example:

        monitor feeds check kloop
    """
    from .pipeline import check_feed

    cfg = load(opts)
    _check_names(cfg, names)
    from . import fetch

    failed = 0
    clients = fetch.ClientPool(cfg.fetch)  # each feed on its own route (#20)
    try:
        for spec in cfg.feeds:
            if names and spec.name not in names:
                continue
            ok, line = check_feed(cfg, clients, spec, utc_now())
            failed += not ok
            _echo(f"{'ok ' if ok else 'ERR'} {spec.name}: {line}")
    finally:
        clients.close()
    if failed:
        sys.exit(1)


# ------------------------------------------------------- feeds add/remove/import/export
# Issue #14: feeds.toml edited from the CLI (monitor.feedsfile keeps its comments).

SOURCE_KINDS = ("feed", "telegram", "sitemap", "page")


@feeds.command("add")
@common_options
@click.argument("url")
@click.option("--name", help="Feed name [from the title or host].")
@click.option("--outlet", help="Outlet name shown in the digest [the feed title].")
@click.option("--lang", help="Language the source claims [the page's <html lang>].")
@click.option("--country", default="intl", show_default=True, help="Country code.")
@click.option("--kind", type=click.Choice(SOURCE_KINDS), help="Skip discovery.")
@click.option("--allow-private", is_flag=True, help="Allow loopback/private hosts.")
@click.option("--no-check", is_flag=True, help="Do not fetch to verify.")
def feeds_add(opts: Options, url: str, **flags: Any) -> None:
    """Add a source: finds the feed a page advertises, verifies it, edits feeds.toml.

    A t.me URL becomes a telegram source, a sitemap URL a sitemap source.

    Example:

        monitor feeds add https://kloop.kg/ --lang ru --country KG
    """
    from .feedsfile import add_feeds, same_url, unique_name

    cfg = load(opts)
    dupe = next((f.name for f in cfg.feeds if same_url(f.url, url)), None)
    if dupe:
        raise click.ClickException(f"{url} is already configured as {dupe!r}")
    found = _discover(cfg, url, flags)
    lang = flags["lang"] or found.lang
    if not lang:
        raise click.ClickException(
            f"found {found.kind} {found.url}, but not its language: give --lang"
        )
    name = flags["name"] or unique_name(
        _default_name(found.url, found.title), (f.name for f in cfg.feeds)
    )
    table: dict[str, Any] = {
        "name": name,
        "url": found.url,
        "kind": None if found.kind == "feed" else found.kind,
        "outlet": flags["outlet"] or found.title or name,
        "lang": lang,
        "country": flags["country"],
        "allow_private": True if flags["allow_private"] else None,
    }
    add_feeds(resolve_path(cfg, cfg.feeds_file), [table])
    click.echo(f"added {name} ({found.kind}): {found.url}")


def _discover(cfg: Config, url: str, flags: dict[str, Any]) -> Any:
    from . import fetch
    from .sources.discover import (
        Discovered,
        discover_source,
        telegram_channel,
        verify_source,
    )

    kind, check = flags["kind"], not flags["no_check"]
    channel = telegram_channel(url) if kind == "telegram" else None
    forced = Discovered(
        kind=kind, url=f"https://t.me/s/{channel}" if channel else url, title=""
    )
    if kind and not check:
        return forced
    private = flags["allow_private"] or cfg.fetch.allow_private
    with fetch.make_client(cfg.fetch) as client:

        def get(u: str) -> Any:
            return fetch.fetch_url(
                client,
                u,
                max_bytes=cfg.fetch.max_feed_bytes,
                allow_private=private,
                total_timeout=cfg.fetch.total_timeout,
                max_redirects=cfg.fetch.max_redirects,
                now=utc_now,
            )

        if kind:
            return verify_source(forced, get)
        return discover_source(url, get, check=check)


def _default_name(url: str, title: str) -> str:
    from .feedsfile import name_for
    from .sources.discover import telegram_channel

    return telegram_channel(url) or name_for(url, title)


@feeds.command("remove")
@common_options
@click.argument("name")
def feeds_remove(opts: Options, name: str) -> None:
    """Remove a source from feeds.toml (its stored articles stay).

    Example:

        monitor feeds remove vlast
    """
    from .feedsfile import remove_feed

    cfg = load(opts)
    remove_feed(resolve_path(cfg, cfg.feeds_file), name)
    click.echo(f"removed {name}")


@feeds.command("import")
@common_options
@click.argument("opml_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--lang", default="ru", show_default=True, help="Language of the feeds.")
@click.option("--country", default="intl", show_default=True, help="Country code.")
@click.option("--allow-private", is_flag=True, help="Allow loopback/private hosts.")
def feeds_import(
    opts: Options, opml_file: str, lang: str, country: str, allow_private: bool
) -> None:
    """Import an OPML subscription list (Feedly, Inoreader...); folders become tags.

    Feeds already configured, or listed twice, are skipped and reported.

    Example:

        monitor feeds import subscriptions.opml --lang ru --country KZ
    """
    from .feedsfile import add_feeds, same_url, unique_name
    from .sources.discover import telegram_channel
    from .sources.opml import parse_opml

    cfg = load(opts)
    listing = parse_opml(Path(opml_file).read_bytes())
    known = [(f.name, f.url) for f in cfg.feeds]
    tables, skipped = [], []
    for feed in listing.feeds:
        dupe = next((n for n, u in known if same_url(u, feed.url)), None)
        if dupe is not None:
            skipped.append(f"{feed.url} (already configured as {dupe!r})")
            continue
        channel = telegram_channel(feed.url)
        name = unique_name(
            channel or _default_name(feed.url, feed.title), (n for n, _ in known)
        )
        known.append((name, feed.url))
        tables.append(
            {
                "name": name,
                "url": f"https://t.me/s/{channel}" if channel else feed.url,
                "kind": "telegram" if channel else None,
                "outlet": feed.title or name,
                "lang": lang,
                "country": country,
                "allow_private": True if allow_private else None,
                "tags": list(feed.tags),
            }
        )
    add_feeds(resolve_path(cfg, cfg.feeds_file), tables)
    if listing.warning:
        click.echo(f"note: the OPML file was malformed: {listing.warning}", err=True)
    click.echo(f"imported {len(tables)} feeds, skipped {len(skipped)} duplicates")
    for line in skipped:
        click.echo(f"  skipped {line}")


@feeds.command("export")
@common_options
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="File [stdout].")
def feeds_export(opts: Options, output: str | None) -> None:
    """Write the configured sources as an OPML 2.0 subscription list.

    Example:

        monitor feeds export --output monitor-feeds.opml
    """
    from .sources.opml import render_opml

    cfg = load(opts)
    data = render_opml(cfg.feeds, title="monitor feeds", now=utc_now())
    if output is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    Path(output).write_bytes(data)
    click.echo(f"wrote {len(cfg.feeds)} feeds to {output}", err=True)


@cli.command("search")
@common_options
@click.argument("query", required=False)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Published on/after.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Published on/before.")
@click.option("--feed", "feeds", multiple=True, help="Only this feed (repeatable).")
@click.option("--topic", "topics", multiple=True, help="Only this topic id.")
@click.option("--country", "countries", multiple=True, help="Only this country id.")
@click.option("--lang", "langs", multiple=True, help="Only this original language.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON list of results.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per result.")
@click.option("--reindex", is_flag=True, help="Rebuild the search index first.")
def search_cmd(
    opts: Options,
    query: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    as_json: bool,
    as_csv: bool,
    reindex: bool,
    **lists: tuple[str, ...],
) -> None:
    """Search the archive with the topic rule language (docs/search.md).

    Russian word forms, English stems and names across scripts match:
    Кулибаев finds Kulibayev.  Results are grouped by story.

    Example:

        monitor search 'Кулибаев AND (банк OR bank)' --since 2026-01-01 --json
    """
    from . import search

    if as_json and as_csv:
        raise click.UsageError("--json and --csv exclude each other")
    if not query and not reindex:
        raise click.UsageError("give a QUERY (or --reindex)")
    cfg = load(opts)
    if reindex:
        with _locked(cfg), _storage(cfg) as storage:
            n = search.reindex(storage)
        click.echo(f"indexed {n} articles", err=True)
    if not query:
        return
    filters = search.SearchFilters(
        since=_local_day_start(cfg, since, 0),
        until=_local_day_start(cfg, until, 1),
        **lists,
    )
    with _storage(cfg) as storage, _pipeline(cfg, storage) as pipeline:
        try:
            found = search.search_archive(
                storage, query, rules=pipeline.rules(), filters=filters, limit=limit
            )
        except search.SearchQueryError as e:
            raise click.UsageError(str(e)) from e
    fmt = search.format_json if as_json else search.format_csv if as_csv else None
    click.echo((fmt or search.format_text)(found), nl=fmt is not None)


@cli.command("serve")
@common_options
@click.option("--host", help="Address to bind [serve.host, 127.0.0.1].")
@click.option("--port", type=click.IntRange(0, 65535), help="Port [serve.port, 8040].")
def serve_cmd(opts: Options, host: str | None, port: int | None) -> None:
    """Serve the read-only web workbench: days, stories, articles, search, health.

    Any host but 127.0.0.1 needs serve.user and the password in the environment
    variable serve.password_env (HTTP basic).

    Example:

        monitor serve --port 8040     # then open http://127.0.0.1:8040/
    """
    import uvicorn

    from . import web

    cfg = load(opts)
    host = host or cfg.serve.host
    try:
        credential = web.credential_for(host, cfg, os.environ)
    except web.ServeRefusedError as e:
        raise click.ClickException(str(e)) from e
    with _storage(cfg):
        pass  # create or migrate the database once, so read-only opens find it
    app = web.create_app(cfg, credential=credential)
    click.echo(f"serving http://{host}:{port or cfg.serve.port}/", err=True)
    uvicorn.run(app, host=host, port=port or cfg.serve.port, log_level="warning")


def _local_day_start(cfg: Config, day: datetime | None, plus: int) -> datetime | None:
    """UTC start of a local day (plus `plus` days), for --since/--until."""
    from . import digest

    if day is None:
        return None
    return digest.day_bounds(day.date() + timedelta(days=plus), cfg.digest.timezone)[0]


def _check_names(cfg: Config, names: tuple[str, ...]) -> None:
    known = {f.name for f in cfg.feeds}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise click.UsageError(f"unknown feed(s): {', '.join(unknown)}")


@contextmanager
def _locked(cfg: Config) -> Iterator[None]:
    """Hold the run lock; a second concurrent writer exits 0 with a message.

    SQLite: an flock(2) file beside the database.  PostgreSQL: an advisory lock
    in the database itself, so it holds across machines (issue #13).
    """
    db_path = resolve_path(cfg, cfg.store.path)
    path = resolve_path(cfg, cfg.store.lock_path or Path(f"{db_path}.lock"))
    try:
        if cfg.store.url is not None:
            from .store.pg import pg_run_lock

            lock = pg_run_lock(cfg.store.url, utc_now())
        else:
            lock = run_lock(path, utc_now())
        with lock:
            yield
    except LockedError as e:
        click.echo(f"monitor: skipped, {e.message}", err=True)
        sys.exit(0)


def _pipeline(cfg: Config, storage: StorageType) -> Pipeline:
    from .pipeline import Pipeline

    return Pipeline(  # its HTTP client is made on first use
        cfg=cfg,
        storage=storage,
        progress=no_progress if _quiet() else _tty_progress,
        env=os.environ,
    )


@contextmanager
def _storage(cfg: Config, *, must_exist: bool = False) -> Iterator[StorageType]:
    """Open storage; a database failure becomes one line and exit 1.

    Read-only commands pass ``must_exist``: a missing database is refused, and
    nothing is created (a typo in --db must not look like a fresh install).
    """
    path = resolve_path(cfg, cfg.store.path)
    if must_exist and cfg.store.url is None and not path.exists():
        raise click.ClickException(
            f"no database at {path} (run `monitor init-db`, or check --db)"
        )
    try:
        storage = open_storage(cfg)
    except MonitorError as e:
        raise click.ClickException(str(e)) from e
    try:
        yield storage
    except StorageError as e:
        raise click.ClickException(f"database error: {e}") from e
    finally:
        storage.close()


from . import cli_alerts as _cli_alerts  # noqa: E402,F401  (registers its commands)
from . import cli_prune as _cli_prune  # noqa: E402,F401  (registers `monitor prune`)
