"""An httpx transport whose socket reads and writes obey a per-fetch deadline.

httpx timeouts apply to each socket operation, so a server that trickles one
header byte every few seconds never trips them and can hold a worker for hours
(issue #7).  `fetch_url` sets a wall-clock deadline with `deadline()`; every
connect, read and write made by this transport on that thread is clamped to the
time left, and fails with a timeout once it has passed.  Without a deadline the
transport behaves exactly like `httpx.HTTPTransport`.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpcore
import httpx

_deadline: ContextVar[float | None] = ContextVar("monitor_fetch_deadline", default=None)


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Clamp this thread's network operations to ``time.monotonic() <= at``."""
    token = _deadline.set(at)
    try:
        yield
    finally:
        _deadline.reset(token)


def current_deadline() -> float:
    """The deadline set by `deadline()` on this thread (infinity when none)."""
    at = _deadline.get()
    return float("inf") if at is None else at


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    at = _deadline.get()
    if at is None:
        return timeout
    remaining = at - time.monotonic()
    if remaining <= 0:
        raise error("total timeout exceeded")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: object,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context,  # type: ignore[arg-type]
            server_hostname,
            _clamp(timeout, httpcore.ConnectTimeout),
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> object:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = super().connect_tcp(
            host,
            port,
            _clamp(timeout, httpcore.ConnectTimeout),
            local_address,
            socket_options,
        )
        return _DeadlineStream(stream)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """certifi roots, built once (loading them takes ~0.1 s); contexts are shareable."""
    return httpx.create_ssl_context(trust_env=False)


class DeadlineTransport(httpx.HTTPTransport):
    """`httpx.HTTPTransport` (no proxy, HTTP/1.1) honouring `deadline()`."""

    def __init__(self, *, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(
            max_connections=100, max_keepalive_connections=20
        )
        super().__init__(trust_env=False, limits=limits)
        # httpx builds its pool without a network_backend argument; replace it.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )
