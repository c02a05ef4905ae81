"""Politeness per host and a thread pool whose results come back to the caller."""

from __future__ import annotations

import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from ..config import FetchConfig
from ..exceptions import FetchError
from ..models import Page, StageResult
from ..proxyspec import Route
from ._http import fetch_url, make_client
from ._route import default_route


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchRequest:
    """One URL for `fetch_many`; ``key`` comes back in the `StageResult`."""

    key: object
    url: str
    max_bytes: int
    etag: str | None = None
    last_modified: str | None = None
    allow_private: bool = False
    route: Route | None = None  # None: the pool's default (``[fetch] proxy``)


class ClientPool:
    """One `httpx.Client` per `Route`, built on first use; thread-safe.

    Args:
        cfg: the ``[fetch]`` section (user agent, limits).
        default: the client for `default_route` (the run's injected client:
            tests pass one with ``httpx.MockTransport``); built when None.
    """

    def __init__(self, cfg: FetchConfig, default: httpx.Client | None = None) -> None:
        self._cfg = cfg
        self._lock = threading.Lock()
        self._clients: dict[Route, httpx.Client] = {}
        self._owned: list[httpx.Client] = []
        self.default = default_route(cfg)
        if default is not None:
            self._clients[self.default] = default

    def get(self, route: Route | None) -> httpx.Client:
        """The client for ``route`` (None: the default route)."""
        route = route or self.default
        with self._lock:
            client = self._clients.get(route)
            if client is None:
                client = make_client(self._cfg, route=route)
                self._clients[route] = client
                self._owned.append(client)
            return client

    def close(self) -> None:
        """Close the clients this pool built (not the injected default)."""
        with self._lock:
            for client in self._owned:
                client.close()
            self._owned.clear()
            self._clients = {
                r: c for r, c in self._clients.items() if r == self.default
            }


class HostLimiter:
    """Per-host politeness: at most N requests in flight and a delay between starts.

    Thread-safe.  Start times are reserved under the lock and slept outside it, so
    waiting for one host never blocks another.  Use as ``with limiter.slot(url):``.

    Args:
        per_host_concurrency: requests to one host in flight at once.
        per_host_delay: minimum seconds between request starts to one host.
        clock: monotonic seconds (injectable for tests).
        sleep: sleeps the given seconds (injectable for tests).
    """

    def __init__(
        self,
        per_host_concurrency: int,
        per_host_delay: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_host_concurrency < 1:
            raise ValueError("per_host_concurrency must be >= 1")
        self._limit = per_host_concurrency
        self._delay = max(per_host_delay, 0.0)
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._active: dict[str, int] = defaultdict(int)
        self._next_start: dict[str, float] = {}

    @contextmanager
    def slot(
        self, url: str, *, skip_wait: Callable[[], bool] = lambda: False
    ) -> Iterator[None]:
        """Wait for a free slot for the URL's host, then hold it for the block.

        ``skip_wait`` is asked once the slot is held: when it says True the
        politeness delay is not waited (the request will not reach the host).
        """
        host = host_key(url)
        with self._cond:
            while self._active[host] >= self._limit:
                self._cond.wait()
            self._active[host] += 1
            start = max(self._clock(), self._next_start.get(host, float("-inf")))
            self._next_start[host] = start + self._delay
        try:
            wait_for = start - self._clock()
            if wait_for > 0 and not skip_wait():
                self._sleep(wait_for)
            yield
        finally:
            with self._cond:
                self._active[host] -= 1
                self._cond.notify_all()


class UnresolvedHosts:
    """Hosts whose name did not resolve during one `fetch_many` call (#10.6).

    Later requests to such a host fail at once with the recorded error instead
    of resolving again after waiting out the per-host delay.  Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: dict[str, FetchError] = {}

    def error_for(self, url: str) -> FetchError | None:
        """The recorded failure for the URL's host, re-addressed to ``url``."""
        with self._lock:
            first = self._errors.get(host_key(url))
        if first is None:
            return None
        error = FetchError(first.message, resource=url)
        error.__cause__ = first
        return error

    def record(self, url: str, error: FetchError) -> None:
        """Remember ``error`` for the URL's host if it is a name-resolution failure."""
        if is_name_resolution_error(error):
            with self._lock:
                self._errors.setdefault(host_key(url), error)


def is_name_resolution_error(error: BaseException) -> bool:
    """Whether a socket.gaierror (the host name does not resolve) caused ``error``.

    Both paths surface it in the cause chain: `check_url`'s own lookup, and
    httpx's ``ConnectError`` from httpcore when private addresses are allowed.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, socket.gaierror):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def host_key(url: str) -> str:
    """The politeness key of a URL: its lower-cased host name."""
    try:
        return (urlsplit(url).hostname or url).lower()
    except ValueError:
        return url


def interleave_by_host(requests: Iterable[FetchRequest]) -> list[FetchRequest]:
    """Round-robin the requests over hosts so one slow host does not hog workers."""
    queues: dict[str, deque[FetchRequest]] = {}
    for req in requests:
        queues.setdefault(host_key(req.url), deque()).append(req)
    out: list[FetchRequest] = []
    while queues:
        for host in list(queues):
            out.append(queues[host].popleft())
            if not queues[host]:
                del queues[host]
    return out


def fetch_many(
    client: httpx.Client | ClientPool,
    requests: Iterable[FetchRequest],
    *,
    limiter: HostLimiter,
    workers: int,
    total_timeout: float,
    max_redirects: int,
    now: Callable[[], datetime],
) -> Generator[StageResult[Page], None, None]:
    """Fetch many URLs on a thread pool; yield results on the calling thread.

    Only the network calls run in worker threads (STYLE.md 16): the caller does
    every write as results arrive, in completion order.  Requests are interleaved
    by host first, and at most ``workers`` are in flight.  Once a host name fails
    to resolve, the call's later requests to that host fail at once with the same
    error, without waiting out the per-host delay (`UnresolvedHosts`).

    Args:
        client: shared client from `make_client` (httpx.Client is thread-safe),
            or a `ClientPool` that picks each request's client by its ``route``.
        requests: what to fetch.
        limiter: per-host politeness.
        workers: thread-pool size.
        total_timeout: per-URL wall clock (see `fetch_url`); a request's
            ``route`` brings its own.
        max_redirects: per-URL redirect cap.
        now: the run clock.

    Yields:
        ``StageResult(key, Page | FetchError)`` for every request.  Any other
        exception is a bug and propagates.
    """

    unresolved = UnresolvedHosts()

    def pick(route: Route | None) -> httpx.Client:
        return client.get(route) if isinstance(client, ClientPool) else client

    def one(req: FetchRequest) -> Page | FetchError:
        known = unresolved.error_for(req.url)
        if known is not None:
            return known
        with limiter.slot(
            req.url, skip_wait=lambda: unresolved.error_for(req.url) is not None
        ):
            known = unresolved.error_for(req.url)
            if known is not None:
                return known
            try:
                return fetch_url(
                    pick(req.route),
                    req.url,
                    max_bytes=req.max_bytes,
                    etag=req.etag,
                    last_modified=req.last_modified,
                    allow_private=req.allow_private,
                    total_timeout=req.route.total_timeout
                    if req.route
                    else total_timeout,
                    max_redirects=max_redirects,
                    now=now,
                )
            except FetchError as e:
                unresolved.record(req.url, e)
                return e

    todo = iter(interleave_by_host(requests))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
        running: dict[Future[Page | FetchError], FetchRequest] = {}
        try:
            while True:
                for req in todo:
                    running[pool.submit(one, req)] = req
                    if len(running) >= workers:
                        break
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield StageResult(running.pop(fut).key, fut.result())
        finally:
            for fut in running:
                fut.cancel()
