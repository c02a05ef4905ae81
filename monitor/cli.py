"""The `monitor` command line: thin wrappers over library functions (STYLE.md 21-25).

Exit codes: 0 success (failed feeds and articles are data, not errors, unless
``--strict``); 1 a user or configuration error; 2 usage.  Under cron (stderr not a
TTY) nothing below WARNING is printed except the one-line run summary.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click

from . import status as status_mod
from .config import Config, load_config, resolve_path, resolve_recipient_topics
from .exceptions import ConfigError, LockedError, MonitorError, StorageError
from .lock import run_lock
from .log import setup_logging
from .pipeline import Pipeline, ProgressBar, open_storage, utc_now
from .store import Storage

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS})


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
    @click.option("--db", help="Database file (overrides store.path).")
    @click.option("-v", "--verbose", count=True, help="More output (-v, -vv, -vvv).")
    @click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
    @functools.wraps(func)
    def wrapper(
        config_dir: str | None, db: str | None, verbose: int, quiet: bool, **kwargs: Any
    ) -> Any:
        opts = Options(config_dir, db, verbose, quiet)
        setup_logging(verbose, quiet=quiet)
        try:
            return func(opts, **kwargs)
        except OSError as e:
            if e.errno not in DISK_ERRNOS:
                raise
            # disk full, quota, read-only file system: one clear line (issue #7)
            where = f" {e.filename}" if e.filename else ""
            raise click.ClickException(f"disk error{where}: {e.strerror}") from e
        except MonitorError as e:  # e.g. StorageError mid-run: a clear line, exit 1
            raise click.ClickException(str(e)) from e
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
            overrides={"store.path": opts.db},
            rule_validator=validate_topics,
        )
        rules = compile_topics(cfg.topics)  # compiled once: validation cached it
        headings = {t: rules.label_of("topic", t) for t in rules.topic_order}
        return resolve_recipient_topics(cfg, headings)
    except ConfigError as e:
        raise click.ClickException(str(e)) from e


def _tty_progress(stage: str, total: int) -> ProgressBar:
    if not sys.stderr.isatty() or total == 0:
        return ProgressBar()
    bar = click.progressbar(length=total, label=f"{stage:<9}", file=sys.stderr)
    bar.__enter__()
    return bar  # type: ignore[return-value]


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
    """Run every stage: poll, extract, translate, classify, stories, digest.

    Example:

        monitor run -q        # from cron: silent unless something is wrong
    """
    cfg = load(opts)
    with _locked(cfg), _storage(cfg) as storage:
        with _pipeline(cfg, storage) as pipeline:
            summary = pipeline.run(digest=not no_digest)
    click.echo(summary.line(), err=True)
    if strict and (
        summary.counts.get("feeds_error") or summary.counts.get("articles_failed")
    ):
        sys.exit(3)


@cli.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(opts: Options, as_json: bool) -> None:
    """Show feed health, articles per stage, the last run and recent failures.

    Example:

        monitor status --json | jq .feeds
    """
    cfg = load(opts)
    with _storage(cfg) as storage:
        report = status_mod.build_status(storage, cfg, utc_now())
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        click.echo(status_mod.format_status(report))


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
        click.echo(f"database ready: {storage.path}")


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
    click.echo(pipeline.summary.line(), err=True)


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
    click.echo(pipeline.summary.line(), err=True)


@cli.command("translate")
@common_options
@click.option("--limit", type=int, help="At most this many articles.")
def translate_cmd(opts: Options, limit: int | None) -> None:
    """Translate articles still waiting for a translation (a backlog catch-up).

    Example:

        monitor translate --limit 200
    """
    cfg = load(opts)
    with _locked(cfg), _storage(cfg) as storage, _pipeline(cfg, storage) as pipeline:
        pipeline.translate_articles(limit)
    click.echo(pipeline.summary.line(), err=True)


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
    click.echo(f"classified {n} articles", err=True)


@cli.command()
@common_options
@click.argument("article_id", type=int)
def explain(opts: Options, article_id: int) -> None:
    """Show why an article was filed where it was: rules, terms, matched words.

    Example:

        monitor explain 1234
    """
    from .classify import explain_stored_article

    cfg = load(opts)
    with _storage(cfg) as storage, _pipeline(cfg, storage) as pipeline:
        text = explain_stored_article(storage, pipeline.rules(), article_id)
    if text is None:
        raise click.ClickException(f"no article with id {article_id}")
    click.echo(text)


@cli.command("stories")
@common_options
@click.option(
    "--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Local day [yesterday]."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def stories_cmd(opts: Options, day: datetime | None, as_json: bool) -> None:
    """List a day's stories with their members (outlet, language, link).

    Example:

        monitor stories --date 2026-01-05
    """
    from . import digest, stories

    cfg = load(opts)
    tz = ZoneInfo(cfg.digest.timezone)
    local = day.date() if day else utc_now().astimezone(tz).date() - timedelta(days=1)
    start, end = digest.day_bounds(local, cfg.digest.timezone)
    with _storage(cfg) as storage:
        found = storage.get_stories_for_day(start, end)
    if as_json:
        rows = [dataclasses.asdict(s) for s in found]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(stories.format_stories(found, tz=tz), nl=False)


@cli.command("digest")
@common_options
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Local day to cover [yesterday].",
)
@click.option(
    "--since-last", is_flag=True, help="Everything new since the last digest."
)
@click.option("--send/--no-send", default=True, help="Mail it when mail is enabled.")
@click.option("--force", is_flag=True, help="Mail again even if already sent.")
def digest_cmd(
    opts: Options, day: datetime | None, since_last: bool, send: bool, force: bool
) -> None:
    """Write a digest in every configured format, update the archive, mail it.

    Example:

        monitor digest --date 2026-01-05 --no-send
    """
    if day and since_last:
        raise click.UsageError("--date and --since-last exclude each other")
    cfg = load(opts)
    tz = ZoneInfo(cfg.digest.timezone)
    local = (
        None
        if since_last
        else (
            day.date() if day else utc_now().astimezone(tz).date() - timedelta(days=1)
        )
    )
    with _storage(cfg) as storage, _pipeline(cfg, storage) as pipeline:
        paths = pipeline.write_digest(day=local, send=send, force=force)
    for path in paths:
        click.echo(str(path))
    for key, n in sorted(pipeline.summary.counts.items()):
        if key.startswith("mails_"):
            click.echo(f"{key.removeprefix('mails_')}: {n}", err=True)


@cli.group()
def models() -> None:
    """Install and list offline translation models (Argos packages)."""


@models.command("install")
@common_options
@click.argument("langs", nargs=-1)
@click.option(
    "--from",
    "from_path",
    type=click.Path(exists=True, path_type=Path),
    help="Install a .argosmodel file or package folder (air-gapped).",
)
@click.option("--index", "index_url", help="Package index URL [Argos index].")
def models_install(
    opts: Options, langs: tuple[str, ...], from_path: Path | None, index_url: str | None
) -> None:
    """Install a model: from the Argos package index (SRC DST), or --from a file.

    Only this command downloads anything, and only when given SRC DST.

    Example:

        monitor models install ru en
        monitor models install --from translate-ru_en-1_9.argosmodel
    """
    from . import translate

    if bool(from_path) == bool(langs) or (langs and len(langs) != 2):
        raise click.UsageError("give either SRC DST (e.g. 'ru en') or --from PATH")
    cfg = load(opts)
    models_dir = resolve_path(cfg, cfg.translate.models_dir)
    try:
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
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "code": p.code,
                        "from": p.from_code,
                        "to": p.to_code,
                        "version": p.version,
                        "path": str(p.path),
                    }
                    for p in pkgs
                ],
                indent=2,
            )
        )
        return
    if not pkgs:
        click.echo(
            f"no models installed in {models_dir}: "
            "run `monitor models install ru en` or `--from FILE`"
        )
    for p in pkgs:
        click.echo(f"{p.from_code}→{p.to_code}  {p.code} {p.version}  {p.path}")


@cli.group()
def feeds() -> None:
    """List and check the configured feeds."""


@feeds.command("list")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def feeds_list(opts: Options, as_json: bool) -> None:
    """List configured feeds with their health.

    Example:

        monitor feeds list --json
    """
    cfg = load(opts)
    with _storage(cfg) as storage:
        rows = status_mod.feed_rows(storage, cfg, utc_now())
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['name']:<24} {row['lang']:<3} {row['country']:<5} "
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
    with fetch.make_client(cfg.fetch) as client:
        for spec in cfg.feeds:
            if names and spec.name not in names:
                continue
            ok, line = check_feed(cfg, client, spec, utc_now())
            failed += not ok
            click.echo(f"{'ok ' if ok else 'ERR'} {spec.name}: {line}")
    if failed:
        sys.exit(1)


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
    """Hold the run lock; a second concurrent writer exits 0 with a message."""
    db_path = resolve_path(cfg, cfg.store.path)
    path = resolve_path(cfg, cfg.store.lock_path or Path(f"{db_path}.lock"))
    try:
        with run_lock(path, utc_now()):
            yield
    except LockedError as e:
        click.echo(f"monitor: skipped, {e.message}", err=True)
        sys.exit(0)


def _pipeline(cfg: Config, storage: Storage) -> Pipeline:
    from . import fetch

    return Pipeline(
        cfg=cfg,
        storage=storage,
        client=fetch.make_client(cfg.fetch),
        progress=_tty_progress,
        env=os.environ,
    )


@contextmanager
def _storage(cfg: Config) -> Iterator[Storage]:
    """Open storage; a database failure becomes one line and exit 1."""
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
