"""`monitor serve`: a local, read-only web workbench on Starlette (issue #15).

    /                     the latest day's digest        (digest.build_digest)
    /day/YYYY-MM-DD       one day's digest, live from the database
    /topic/ID, /country/ID  articles filed under a label
    /story/N              the timeline of a story's copies across outlets/languages
    /article/N            original and translation side by side, filing explanation
    /search?q=…           the search language (monitor/search); &format=csv|json
    /feeds                feed health                     (status.build_status)

Security: the database is opened read-only per request (SQLite ``mode=ro``;
PostgreSQL ``default_transaction_read_only``); every
template autoescapes; links are http(s) only; a strict CSP with no inline
script or style; a host other than loopback needs an HTTP basic credential.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import classify, digest, search, status
from ..config import Config, resolve_path
from ..digest._model import clean_text, safe_url
from ..exceptions import MonitorError, StorageError
from ..models import SearchFilters
from ..store import Storage, StorageType

HERE = Path(__file__).parent
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none';"
    " frame-ancestors 'none'; form-action 'self'"
)
PAGE_LIMIT = 100
DAY_CACHE = 32  # rendered day pages kept (each until the database changes)


class ServeRefusedError(MonitorError):
    """Refusing to serve beyond loopback without a credential."""


@dataclass(frozen=True, slots=True)
class Credential:
    """HTTP basic user and password."""

    user: str
    password: str


def credential_for(host: str, cfg: Config, env: Mapping[str, str]) -> Credential | None:
    """The credential a bind address needs (None on loopback).

    Raises:
        ServeRefusedError: a non-loopback host without ``serve.user`` and its password.
    """
    if host in LOOPBACK:
        return None
    user, var = cfg.serve.user, cfg.serve.password_env
    password = env.get(var, "") if var else ""
    if not user or not password:
        raise ServeRefusedError(
            f"refusing to serve on {host}: set serve.user and the password in"
            f" ${var or 'MONITOR_SERVE_PASSWORD'} (or bind 127.0.0.1)"
        )
    return Credential(user, password)


def create_app(
    cfg: Config, *, credential: Credential | None = None, day_cache: int = DAY_CACHE
) -> Starlette:
    """The workbench application for the configured database (`day_cache`: day
    pages kept rendered, each until the database changes; 0: none)."""
    web = _Web(cfg, day_cache)
    routes = [
        Route("/", web.home),
        Route("/day/{day}", web.day),
        Route("/topic/{label}", web.label),
        Route("/country/{label}", web.label),
        Route("/story/{story_id:int}", web.story),
        Route("/article/{article_id:int}", web.article),
        Route("/search", web.search),
        Route("/feeds", web.feeds),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [Middleware(_Headers, credential=credential)]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            web.close()

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


class _Headers(BaseHTTPMiddleware):
    """CSP and friends on every response; HTTP basic auth when configured."""

    def __init__(self, app: Any, credential: Credential | None) -> None:
        super().__init__(app)
        self.credential = credential

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if self.credential is not None and not _authorised(request, self.credential):
            response: Response = PlainTextResponse(
                "authentication required",
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="monitor"'},
            )
        else:
            response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response


def _authorised(request: Request, cred: Credential) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(user, cred.user) & hmac.compare_digest(
        password.encode(), cred.password.encode()
    )


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["safe_url"] = safe_url
    env.filters["clean"] = clean_text
    return env


class _Web:
    """Page handlers; each opens the database read-only for one request."""

    def __init__(self, cfg: Config, day_cache: int = DAY_CACHE) -> None:
        self.cfg = cfg
        self.db_path = resolve_path(cfg, cfg.store.path)
        self.rules = classify.compile_topics(cfg.topics) if cfg.topics else None
        self.env = _env()
        self.tz = ZoneInfo(cfg.digest.timezone)
        self._days = _PageCache(day_cache)
        self._watch = _ChangeWatch(lambda: self._open(any_thread=True))

    def _open(self, *, any_thread: bool = False) -> StorageType:
        """One read-only session per request: the SQLite file with ``mode=ro``, or a
        PostgreSQL session whose transactions are all read-only."""
        if self.cfg.store.url is not None:
            from ..store.pg import PgStorage  # psycopg only when it is used

            return PgStorage.open_read_only(self.cfg.store.url)
        return Storage.open_read_only(self.db_path, any_thread=any_thread)

    def close(self) -> None:
        """Close the page cache's long-lived session (at shutdown)."""
        self._watch.close()

    def _page(self, template: str, status_code: int = 200, **context: Any) -> Response:
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status_code)

    def _not_found(self, what: str) -> Response:
        return self._page("error.html", 404, title="Not found", message=what)

    def _label(self, facet: str, id_: str) -> str:
        return self.rules.label_of(facet, id_) if self.rules else id_

    def home(self, request: Request) -> Response:
        with closing(self._open()) as storage:
            latest = storage.get_latest_published()
        moment = latest or datetime.now(UTC)
        return self._day(moment.astimezone(self.tz).date())

    def day(self, request: Request) -> Response:
        try:
            day = date.fromisoformat(request.path_params["day"])
        except ValueError:
            return self._not_found("not a date (YYYY-MM-DD)")
        return self._day(day)

    def _day(self, day: date) -> Response:
        # The token is read before the page: a commit while it is built changes
        # the next token, so that page is never served as current.
        token = self._watch.token()
        html = self._days.get(day, token)
        if html is None:
            with closing(self._open()) as storage:
                html = self._day_html(storage, day)
            self._days.put(day, token, html)
        return HTMLResponse(html)

    def _day_html(self, storage: StorageType, day: date) -> str:
        rules = self.rules
        built = digest.build_digest(
            storage,
            day=day,
            cfg=self.cfg.digest,
            topic_order=rules.topic_order if rules else (),
            topic_names={c.id: c.label for c in rules.categories} if rules else {},
            now=datetime.now(UTC),
            sources=self.cfg.source_kinds(),
        )
        return self.env.get_template("day.html").render(
            title=built.period.label,
            digest=built,
            prev_day=(day - timedelta(days=1)).isoformat(),
            next_day=(day + timedelta(days=1)).isoformat(),
            rules=rules,
        )

    def label(self, request: Request) -> Response:
        facet = "topic" if request.url.path.startswith("/topic/") else "country"
        label = request.path_params["label"]
        with closing(self._open()) as storage:
            ids = storage.get_article_ids_for_label(facet, label)[:PAGE_LIMIT]
            articles = sorted(
                storage.get_articles(ids),
                key=lambda a: a.published or a.first_seen,
                reverse=True,
            )
        return self._page(
            "label.html",
            title=self._label(facet, label),
            facet=facet,
            articles=articles,
        )

    def story(self, request: Request) -> Response:
        story_id = request.path_params["story_id"]
        with closing(self._open()) as storage:
            found = storage.get_story(story_id)
            articles = storage.get_story_articles([story_id]) if found else []
        if found is None:
            return self._not_found(f"no story {story_id}")
        timeline = sorted(articles, key=lambda a: (a.published or a.first_seen, a.id))
        return self._page(
            "story.html",
            title=f"Story {story_id}",
            story=found,
            timeline=timeline,
            outlets=len({a.outlet for a in articles}),
            langs=sorted({a.lang or "?" for a in articles}),
        )

    def article(self, request: Request) -> Response:
        article_id = request.path_params["article_id"]
        with closing(self._open()) as storage:
            a = storage.get_article(article_id)
            filings = storage.get_filings(article_id) if a else None
            explanation = (
                classify.explain_stored_article(storage, self.rules, article_id)
                if a and self.rules
                else None
            )
        if a is None:
            return self._not_found(f"no article {article_id}")
        return self._page(
            "article.html",
            title=clean_text(a.title_en or a.title) or f"Article {a.id}",
            a=a,
            filings=filings.labels if filings else (),
            explanation=explanation,
            label_of=self._label,
        )

    def search(self, request: Request) -> Response:
        params = request.query_params
        query = params.get("q", "").strip()
        form = {k: params.get(k, "") for k in ("q", "since", "until", "feed", "topic",
                                               "country", "lang", "limit")}  # fmt: skip
        results, error = None, None
        if query:
            try:
                with closing(self._open()) as storage:
                    results = search.search_archive(
                        storage,
                        query,
                        rules=self.rules,
                        filters=self._filters(form),
                        limit=_limit(form["limit"]),
                    )
            except (search.SearchQueryError, ValueError) as e:
                error = str(e)
        fmt = params.get("format", "")
        if results is not None and fmt == "json":
            return Response(search.format_json(results), media_type="application/json")
        if results is not None and fmt == "csv":
            return Response(
                search.format_csv(results),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="search.csv"'},
            )
        return self._page(
            "search.html",
            status_code=400 if error else 200,
            title=f"Search: {query}" if query else "Search",
            form=form,
            results=results,
            error=error,
            export=request.url.query,
            mark=search.MARK,
        )

    def _filters(self, form: Mapping[str, str]) -> SearchFilters:
        def one(key: str) -> tuple[str, ...]:
            return (form[key],) if form[key] else ()

        return SearchFilters(
            since=self._day_start(form["since"]),
            until=self._day_start(form["until"], 1),
            feeds=one("feed"),
            topics=one("topic"),
            countries=one("country"),
            langs=one("lang"),
        )

    def _day_start(self, value: str, plus: int = 0) -> datetime | None:
        if not value:
            return None
        day = date.fromisoformat(value) + timedelta(days=plus)
        return digest.day_bounds(day, self.cfg.digest.timezone)[0]

    def feeds(self, request: Request) -> Response:
        with closing(self._open()) as storage:
            report = status.build_status(storage, self.cfg, datetime.now(UTC))
        return self._page("feeds.html", title="Feed health", report=report)


class _PageCache:
    """Rendered pages by key, each valid while the database's change token is
    the one it was built under (`StorageType.get_change_token`): a page is never
    served after the data under it changed.  Least recently used go first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pages: OrderedDict[object, tuple[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object, token: str) -> str | None:
        with self._lock:
            found = self._pages.get(key)
            if found is None or found[0] != token:
                return None
            self._pages.move_to_end(key)
            return found[1]

    def put(self, key: object, token: str, html: str) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._pages[key] = (token, html)
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)


class _ChangeWatch:
    """One long-lived read-only session for the page cache's change tokens
    (SQLite's counter is per connection, so every token must come from the same
    one); calls are serialised.  A session that fails is opened again once."""

    def __init__(self, open_store: Callable[[], StorageType]) -> None:
        self._open = open_store
        self._storage: StorageType | None = None
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            for attempt in (1, 2):
                if self._storage is None:
                    self._storage = self._open()
                try:
                    return self._storage.get_change_token()
                except StorageError:
                    self._storage.close()
                    self._storage = None
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            if self._storage is not None:
                self._storage.close()
                self._storage = None


def _limit(value: str) -> int:
    if not value:
        return 50
    n = int(value)
    if not 1 <= n <= 500:
        raise ValueError("limit must be 1..500")
    return n


__all__ = ["Credential", "ServeRefusedError", "create_app", "credential_for"]
