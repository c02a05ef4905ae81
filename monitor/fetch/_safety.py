"""URL safety: scheme and address checks against SSRF (issue #7)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..exceptions import BlockedURLError, FetchError

ALLOWED_SCHEMES = frozenset({"http", "https"})

Resolver = Callable[..., Sequence[tuple[Any, ...]]]


def check_url(
    url: str, *, allow_private: bool = False, resolve: Resolver | None = None
) -> tuple[str, ...]:
    """Refuse URLs we must not fetch (SSRF guard, issue #7).

    Only http and https are allowed.  Unless ``allow_private``, the host is
    resolved and every address must be public: loopback, private, link-local
    (cloud metadata at 169.254.169.254), multicast, reserved, unspecified and
    other non-global addresses are refused.

    Args:
        url: absolute URL.
        allow_private: skip the address check (intranet feeds, tests).
        resolve: a ``socket.getaddrinfo`` stand-in (default: the real one).

    Returns:
        The addresses that were checked, to connect to and nowhere else (issue
        #11.14: resolving again at connect time lets a rebinding DNS answer
        differently); empty with ``allow_private``, where nothing is checked.

    Raises:
        BlockedURLError: bad scheme, no host, or a refused address.
        FetchError: the host name cannot be resolved.
    """
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as e:
        raise BlockedURLError(f"invalid URL ({e})", resource=url) from e
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedURLError(
            f"scheme {scheme or '(none)'!r} is not allowed", resource=url
        )
    if not host:
        raise BlockedURLError("URL has no host", resource=url)
    if allow_private:
        return ()
    default_port = 443 if scheme == "https" else 80
    ips = _resolve(url, host, port or default_port, resolve or socket.getaddrinfo)
    for ip in ips:
        if _is_blocked(ip):
            raise BlockedURLError(
                f"host {host!r} resolves to non-public address {ip}", resource=url
            )
    return tuple(dict.fromkeys(str(ip) for ip in ips))


def _resolve(
    url: str, host: str, port: int, resolve: Resolver
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise FetchError(f"cannot resolve host {host!r} ({e})", resource=url) from e
    ips = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not ips:
        raise FetchError(f"host {host!r} has no address", resource=url)
    return ips


def _is_blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def check_peer(response: httpx.Response, url: str, allow_private: bool) -> None:
    """Re-check the address a response came from (for transports without a guard)."""
    stream = response.extensions.get("network_stream")
    if not allow_private and stream is not None:
        check_stream_peer(stream, url, f"for {response.url}")


def check_stream_peer(stream: Any, url: str, context: str) -> None:
    """Refuse a connected socket whose peer is not public (DNS rebinding, issue #7).

    Args:
        stream: an httpcore network stream (anything with ``get_extra_info``).
        url: the requested URL, for the error.
        context: appended to the message, e.g. the host that was dialled.

    Raises:
        BlockedURLError: the peer address is loopback, private, link-local...
    """
    peer = stream.get_extra_info("server_addr")
    if not peer:
        return
    ip = ipaddress.ip_address(str(peer[0]).split("%")[0])
    if _is_blocked(ip):
        raise BlockedURLError(
            f"connected to non-public address {ip} {context}", resource=url
        )
