"""An httpx transport that enforces the per-fetch deadline and address policy.

httpx timeouts apply to each socket operation, so a server that trickles one
header byte every few seconds never trips them and can hold a worker for hours
(issue #7).  And `check_url` resolves the host before httpx resolves it again,
so a DNS answer that changes in between (rebinding) could point the request at
an internal address.  `fetch_url` therefore sets a `guard()` for its thread:

- every connect, read and write is clamped to the time left before the deadline
  and fails with a timeout once it has passed;
- unless private addresses are allowed, each new connection's peer address is
  checked before a single request byte is sent.

Outside a guard the transport behaves exactly like `httpx.HTTPTransport`.

And the name is resolved once: `check_url` returns the addresses it checked,
`pin_addresses` hands them to this transport, and a new connection to that
host dials those addresses, never a fresh DNS answer (issue #11.14).  The URL
keeps its host name, so the ``Host`` header and the TLS server name (SNI and
certificate check) are the name, not the address.
"""

from __future__ import annotations

import functools
import logging
import re
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpcore
import httpx

from ..exceptions import BlockedURLError
from ..proxyspec import ProxySpec
from ._safety import Resolver, check_stream_peer


@dataclass(frozen=True, slots=True)
class _Guard:
    url: str
    deadline: float  # time.monotonic()
    allow_private: bool
    resolve: Resolver | None = None


_guard: ContextVar[_Guard | None] = ContextVar("monitor_fetch_guard", default=None)
# host name -> the addresses `check_url` checked for it, for the current request
_pins: ContextVar[dict[str, tuple[str, ...]]] = ContextVar("monitor_fetch_pins")


@contextmanager
def pin_addresses(host: str, addresses: tuple[str, ...]) -> Iterator[None]:
    """Within the block, connections to ``host`` go to ``addresses`` only."""
    if not addresses:
        yield
        return
    pins = {**_pins.get({}), host.lower().rstrip("."): addresses}
    token = _pins.set(pins)
    try:
        yield
    finally:
        _pins.reset(token)


@contextmanager
def guard(
    url: str,
    *,
    deadline: float,
    allow_private: bool,
    resolve: Resolver | None = None,
) -> Iterator[None]:
    """Apply ``deadline`` (monotonic) and the address policy on this thread.

    ``resolve`` (a ``socket.getaddrinfo`` stand-in) is what `current_resolver`
    returns to the address check inside the block.
    """
    token = _guard.set(_Guard(url, deadline, allow_private, resolve))
    try:
        yield
    finally:
        _guard.reset(token)


def current_deadline() -> float:
    """The deadline set by `guard()` on this thread (infinity when none)."""
    g = _guard.get()
    return float("inf") if g is None else g.deadline


def current_resolver() -> Resolver | None:
    """The resolver set by `guard()` on this thread (None: the system's)."""
    g = _guard.get()
    return None if g is None else g.resolve


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    g = _guard.get()
    if g is None:
        return timeout
    remaining = g.deadline - time.monotonic()
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
    def __init__(self, trusted: tuple[str, int] | None = None) -> None:
        # the proxy's own address: trusted configuration, may be loopback (#20)
        self._trusted = trusted

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._dial(host, port, timeout, local_address, socket_options)
        if (host, port) == self._trusted:
            _last_proxy_stream.stream = stream  # httpcore leaks it on SOCKS errors
        g = _guard.get()
        if g is not None and not g.allow_private and (host, port) != self._trusted:
            try:
                check_stream_peer(stream, g.url, f"when dialling {host}:{port}")
            except BlockedURLError:
                stream.close()
                raise
        return _DeadlineStream(stream)

    def _dial(
        self,
        host: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.NetworkStream:
        """Connect to the pinned addresses of ``host`` in turn, else to ``host``."""
        targets = _pins.get({}).get(host.lower().rstrip("."), (host,))
        error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for target in targets:
            try:
                return super().connect_tcp(
                    target,
                    port,
                    _clamp(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                error = e
        assert error is not None
        raise error


class _RedactProxyAuth(logging.Filter):
    """httpcore's trace logs the SOCKS ``auth=(user, password)`` at DEBUG (#20)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "auth=" in message:
            record.msg = _AUTH_RE.sub("auth=<redacted>", message)
            record.args = ()
        return True


_AUTH_RE = re.compile(r"auth=.*", re.DOTALL)
for _name in ("httpcore.socks", "httpcore.proxy"):
    logging.getLogger(_name).addFilter(_RedactProxyAuth())


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """certifi roots, built once (loading them takes ~0.1 s); contexts are shareable."""
    return httpx.create_ssl_context(trust_env=False)


class DeadlineTransport(httpx.HTTPTransport):
    """`httpx.HTTPTransport` (HTTP/1.1) honouring `guard()`, direct or via a proxy.

    Through a proxy (issue #20) every connection goes to the proxy, whose address
    is trusted configuration and skips the peer check; the target's addresses are
    checked before the request (`check_url`) or, with remote DNS, by
    `check_remote_target`.  Credentials go to httpcore only, never to a message.
    """

    def __init__(
        self,
        *,
        limits: httpx.Limits | None = None,
        proxy: ProxySpec | None = None,
        proxy_auth: tuple[str, str] | None = None,
    ) -> None:
        limits = limits or httpx.Limits(
            max_connections=100, max_keepalive_connections=20
        )
        super().__init__(trust_env=False, limits=limits)
        # httpx builds its pool without a network_backend argument; replace it.
        if proxy is not None:
            self._pool = _proxy_pool(proxy, proxy_auth, limits)
            return
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except httpx.ProxyError:  # refused by the proxy: httpcore leaves it open
            _close_last_proxy_stream()
            raise
        except Exception as e:  # socksio's errors are not httpx's (#20)
            if type(e).__module__.startswith("socksio"):
                _close_last_proxy_stream()
                raise httpx.ProxyError(f"SOCKS proxy: {e}") from e
            raise


_last_proxy_stream = threading.local()


def _close_last_proxy_stream() -> None:
    stream = getattr(_last_proxy_stream, "stream", None)
    _last_proxy_stream.stream = None
    if stream is not None:
        stream.close()


def _proxy_pool(
    proxy: ProxySpec, auth: tuple[str, str] | None, limits: httpx.Limits
) -> httpcore.ConnectionPool:
    common = {
        "ssl_context": _ssl_context(),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
        "network_backend": _DeadlineBackend(trusted=(proxy.host, proxy.port)),
    }
    if proxy.scheme == "http":
        return httpcore.HTTPProxy(
            proxy_url=proxy.transport_url,
            proxy_auth=auth,
            **common,  # type: ignore[arg-type]
        )
    return httpcore.SOCKSProxy(
        proxy_url=proxy.transport_url,
        proxy_auth=auth,
        **common,  # type: ignore[arg-type]
    )
