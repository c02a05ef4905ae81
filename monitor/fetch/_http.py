"""One URL: the client, conditional GET and manually checked redirects."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import httpx

from ..config import FetchConfig
from ..exceptions import FetchError
from ..models import Page
from ..proxyspec import ProxySpec, Route
from ._body import read_body
from ._headers import parse_content_type, parse_retry_after, sendable_validator
from ._proxy import check_remote_target
from ._route import default_route
from ._safety import Resolver, check_peer, check_url
from ._transport import (
    DeadlineTransport,
    current_deadline,
    current_resolver,
    guard,
    pin_addresses,
)

logger = logging.getLogger(__name__)

ACCEPT_ENCODING = "gzip, deflate"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class FetchStatusError(FetchError):
    """The server answered with status >= 400 (or an unusable 3xx).

    Attributes:
        status: the HTTP status code.
        retry_after: when the server asked us to come back (``Retry-After`` on any
            error status, typically 429/503), as aware UTC; None if not sent.
    """

    def __init__(
        self,
        message: str,
        *,
        resource: object = None,
        status: int,
        retry_after: datetime | None = None,
    ) -> None:
        super().__init__(message, resource=resource)
        self.status = status
        self.retry_after = retry_after


class MonitorClient(httpx.Client):
    """An `httpx.Client` that knows the proxy it goes through (issue #20)."""

    proxy: ProxySpec | None = None


def make_client(
    cfg: FetchConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    route: Route | None = None,
) -> MonitorClient:
    """Build the one HTTP client the run shares (STYLE.md 29).

    Redirects are not followed automatically: `fetch_url` follows them itself so
    every hop is checked.  Proxy settings from the environment are ignored
    (``trust_env=False``) so that the peer-address check sees the real server.
    The default transport (`DeadlineTransport`) makes every socket operation obey
    `fetch_url`'s ``total_timeout``, so a server trickling bytes cannot stall us.

    Args:
        cfg: the ``[fetch]`` config section (timeout, user agent).
        transport: a transport to use instead (e.g. ``httpx.MockTransport`` in
            tests); ``total_timeout`` is then only checked between body chunks.
        route: the proxy, credentials and timeouts (default: ``[fetch] proxy``,
            see `monitor.fetch._route`).

    Returns:
        An `httpx.Client`; close it (or use it as a context manager) when done.
    """
    route = route or default_route(cfg)  # validated by config already
    if transport is None:
        transport = DeadlineTransport(proxy=route.proxy, proxy_auth=route.auth)
    client = MonitorClient(
        timeout=httpx.Timeout(route.timeout),
        headers={"User-Agent": cfg.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        follow_redirects=False,
        trust_env=False,
        transport=transport,
    )
    client.proxy = route.proxy
    return client


def fetch_url(
    client: httpx.Client,
    url: str,
    *,
    max_bytes: int,
    etag: str | None = None,
    last_modified: str | None = None,
    allow_private: bool = False,
    total_timeout: float,
    max_redirects: int,
    now: Callable[[], datetime],
    resolve: Resolver | None = None,
) -> Page:
    """GET one URL, following and checking redirects, and return its body.

    Args:
        client: from `make_client` (must not follow redirects itself).
        url: the URL to fetch.
        max_bytes: cap on the decoded body.
        etag: validator from the last fetch, sent as ``If-None-Match``.
        last_modified: validator sent as ``If-Modified-Since``.
        allow_private: allow loopback/private addresses (see `check_url`).
        total_timeout: wall-clock seconds for everything: every hop, headers and
            body.  Enforced on each socket operation (see `DeadlineTransport`).
        max_redirects: redirects to follow before giving up.
        now: the run clock, for ``fetched_at`` and ``Retry-After``.
        resolve: a ``socket.getaddrinfo`` stand-in for the address check (default:
            the system resolver).  Each hop's host is resolved once, by the
            check, and the connection goes to the checked addresses only.

    Returns:
        A `Page`; ``status == 304`` with an empty body when not modified, in which
        case ``etag``/``last_modified`` fall back to the validators we sent.

    Raises:
        BlockedURLError: the URL or a redirect target is refused.
        FetchStatusError: status >= 400 (carries ``status`` and ``retry_after``).
        FetchError: every other failure: network, timeout, size cap, broken
            encoding, redirect loop or too many redirects.
    """
    started = time.monotonic()
    etag = _validator("ETag", etag, url)  # a value stored before issue #11
    last_modified = _validator("Last-Modified", last_modified, url)
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with guard(
            url,
            deadline=started + total_timeout,
            allow_private=allow_private,
            resolve=resolve,
        ):
            page = _follow(
                client, url, headers, allow_private, max_bytes, max_redirects, now
            )
    except FetchError as e:
        logger.debug("fetch failed url=%s status=error error=%s", url, e.message)
        raise
    except _NETWORK_ERRORS as e:
        logger.debug("fetch failed url=%s status=error error=%r", url, e)
        message = _describe(e)
        proxy = getattr(client, "proxy", None)
        if proxy is not None:  # the label never carries credentials (#20)
            message += f" (via proxy {proxy.label})"
        if time.monotonic() - started >= total_timeout:
            message = (
                f"total timeout exceeded ({total_timeout:g} s, {type(e).__name__})"
            )
        raise FetchError(message, resource=url) from e
    return _with_validators(page, etag, last_modified)


def _follow(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    allow_private: bool,
    max_bytes: int,
    max_redirects: int,
    now: Callable[[], datetime],
) -> Page:
    """Request ``url`` and follow up to ``max_redirects`` redirects, checking each."""
    current, seen = url, {url}
    for _hop in range(max_redirects + 1):
        page_or_next = _fetch_hop(
            client, url, current, headers, allow_private, max_bytes, now
        )
        if isinstance(page_or_next, Page):
            return page_or_next
        if page_or_next in seen:
            raise FetchError(f"redirect loop at {page_or_next}", resource=url)
        current = page_or_next
        seen.add(current)
    raise FetchError(f"too many redirects (more than {max_redirects})", resource=url)


_NETWORK_ERRORS = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpx.StreamError,
    httpx.CookieConflict,
    OSError,
    UnicodeError,
)


def _describe(e: BaseException) -> str:
    if isinstance(e, httpx.TimeoutException):
        return f"timed out ({type(e).__name__}: {e or 'no detail'})"
    if isinstance(e, httpx.ConnectError):
        return f"connection failed: {e}"
    if isinstance(e, httpx.InvalidURL | UnicodeError):
        return f"invalid URL: {e}"
    return f"network error ({type(e).__name__}): {e or 'no detail'}"


def _fetch_hop(
    client: httpx.Client,
    url: str,
    current: str,
    headers: dict[str, str],
    allow_private: bool,
    max_bytes: int,
    now: Callable[[], datetime],
) -> Page | str:
    """One request; returns the Page, or the next URL to visit on a redirect."""
    proxy = getattr(client, "proxy", None)
    addresses = _check_hop(url, current, allow_private, proxy)
    timeout = _hop_timeout(client.timeout, url)
    host = httpx.URL(current).raw_host.decode("ascii")
    with (
        pin_addresses(host, addresses),
        client.stream("GET", current, headers=headers, timeout=timeout) as resp,
    ):
        if proxy is None:  # through a proxy the peer is the (trusted) proxy
            check_peer(resp, url, allow_private)
        status = resp.status_code
        if status in REDIRECT_STATUSES:
            return _next_location(resp, url, current)
        if status >= 300 and status != 304:  # errors, and 3xx we cannot follow
            retry = parse_retry_after(resp.headers.get("Retry-After"), now())
            raise FetchStatusError(
                f"HTTP {status} {resp.reason_phrase}".rstrip() + f" at {current}",
                resource=url,
                status=status,
                retry_after=retry,
            )
        body = (
            b""
            if status == 304
            else read_body(resp, url, max_bytes, current_deadline())
        )
        return _make_page(resp, url, current, body, now())


def _check_hop(
    url: str, current: str, allow_private: bool, proxy: ProxySpec | None
) -> tuple[str, ...]:
    """check_url, with errors about a redirect target charged to the requested URL.

    With a remote-DNS proxy the name is not resolved here: `check_remote_target`
    refuses what can still be seen (issue #20).

    Returns:
        The checked addresses of ``current``'s host (see `check_url`); empty
        through a proxy, which dials the target itself.
    """
    try:
        if proxy is not None and proxy.remote_dns:
            check_url(current, allow_private=True)  # scheme and host only
            if not allow_private:
                check_remote_target(current)
            return ()
        addresses = check_url(
            current, allow_private=allow_private, resolve=current_resolver()
        )
        return () if proxy is not None else addresses
    except FetchError as e:
        if current == url:
            raise
        raise type(e)(f"redirected to {current}: {e.message}", resource=url) from e


def _hop_timeout(base: httpx.Timeout, url: str) -> httpx.Timeout:
    remaining = current_deadline() - time.monotonic()
    if remaining == float("inf"):
        return base
    if remaining <= 0:
        raise FetchError("total timeout exceeded", resource=url)

    def clamp(v: float | None) -> float:
        return remaining if v is None else min(v, remaining)

    return httpx.Timeout(
        connect=clamp(base.connect),
        read=clamp(base.read),
        write=clamp(base.write),
        pool=clamp(base.pool),
    )


def _next_location(resp: httpx.Response, url: str, current: str) -> str:
    location = resp.headers.get("Location")
    if not location:
        raise FetchStatusError(
            f"redirect {resp.status_code} without Location at {current}",
            resource=url,
            status=resp.status_code,
        )
    target = str(httpx.URL(current).join(location.strip()))
    logger.debug("redirect url=%s from=%s to=%s", url, current, target)
    return target


def _make_page(
    resp: httpx.Response, url: str, final: str, body: bytes, fetched_at: datetime
) -> Page:
    content_type, charset = parse_content_type(resp.headers.get("Content-Type"))
    retry = resp.headers.get("Retry-After")
    logger.info(
        "fetched url=%s status=%s bytes=%d final_url=%s",
        url,
        "not_modified" if resp.status_code == 304 else "ok",
        len(body),
        final,
    )
    return Page(
        requested_url=url,
        final_url=final,
        status=resp.status_code,
        fetched_at=fetched_at,
        body=body,
        content_type=content_type,
        charset=charset,
        etag=_validator("ETag", resp.headers.get("ETag"), url),
        last_modified=_validator(
            "Last-Modified", resp.headers.get("Last-Modified"), url
        ),
        retry_after=parse_retry_after(retry, fetched_at) if retry else None,
    )


def _validator(name: str, value: str | None, url: str) -> str | None:
    """The validator if it can be sent back; else None, with a note in the log."""
    sendable = sendable_validator(value)
    if value is not None and sendable is None and value.strip():
        logger.info(
            "dropped validator url=%s header=%s value=%r: not ASCII, cannot be sent",
            url,
            name,
            value[:80],
        )
    return sendable


def _with_validators(page: Page, etag: str | None, last_modified: str | None) -> Page:
    if page.status != 304:
        return page
    return replace(
        page,
        etag=page.etag or etag,
        last_modified=page.last_modified or last_modified,
    )
