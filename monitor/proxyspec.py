"""Proxy values (issue #20): parsed and checked here, used by `monitor.fetch`.

    parse_proxy(text) -> ProxySpec | None        # a ``proxy`` setting
    EnvironmentProxies.proxy_for(url)            # HTTPS_PROXY & co., NO_PROXY
    Route                                        # direct or a proxy, and timeouts

Kept outside `monitor.fetch` so that `monitor.config` can validate them without
an import cycle.  `monitor.fetch._route` decides each request's `Route`;
`monitor.fetch._proxy` has the address rules.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

PROXY_SCHEMES = ("http", "socks5", "socks5h")
DEFAULT_PORTS = {"http": 8080, "socks5": 1080, "socks5h": 1080}


@dataclass(frozen=True, kw_only=True, slots=True)
class ProxySpec:
    """A validated proxy: no credentials inside (see `make_client`)."""

    scheme: str  # http | socks5 | socks5h
    host: str
    port: int

    @property
    def remote_dns(self) -> bool:
        """True when the proxy resolves target names (``socks5h``)."""
        return self.scheme == "socks5h"

    @property
    def label(self) -> str:
        """How logs, errors and status name the proxy: never with credentials."""
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def transport_url(self) -> str:
        """The URL httpcore dials (``socks5h`` is httpcore's ``socks5``: it always
        sends the host name to the proxy)."""
        scheme = "socks5" if self.scheme.startswith("socks") else self.scheme
        return f"{scheme}://{self.host}:{self.port}"


def parse_proxy(text: str) -> ProxySpec | None:
    """Validate a ``proxy`` setting.

    Args:
        text: ``""`` or ``"none"`` (direct), or ``scheme://host[:port]``.

    Returns:
        The spec, or None for a direct connection.

    Raises:
        ValueError: an unknown scheme, no host, a path, or credentials in the URL
            (the message never repeats the credentials).
    """
    if text.strip().lower() in {"", "none"}:
        return None
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError as e:
        raise ValueError(f"not a proxy URL ({e})") from e
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:
        raise ValueError(
            f"scheme {scheme or '(none)'!r} is not one of {', '.join(PROXY_SCHEMES)}"
            " (or 'none')"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "credentials do not belong in the config: set"
            " MONITOR_FETCH_PROXY_USERNAME and MONITOR_FETCH_PROXY_PASSWORD"
        )
    if not parts.hostname:
        raise ValueError("proxy URL has no host")
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise ValueError("proxy URL must be scheme://host:port only")
    return ProxySpec(
        scheme=scheme, host=parts.hostname, port=port or DEFAULT_PORTS[scheme]
    )


def split_credentials(text: str) -> tuple[str, tuple[str, str] | None]:
    """An environment proxy URL (``http://user:pw@host:3128``) and its credentials.

    Only for ``HTTPS_PROXY`` and friends, which come from the environment; a
    proxy in a config file never carries credentials (`parse_proxy` refuses).
    """
    parts = urlsplit(text.strip())
    if parts.username is None and parts.password is None:
        return text.strip(), None
    host = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    auth = (unquote(parts.username or ""), unquote(parts.password or ""))
    return bare, auth


@dataclass(frozen=True, kw_only=True, slots=True)
class EnvironmentProxies:
    """``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY`` (issue #20),
    read by `monitor.config` only when ``[fetch] use_environment_proxies``."""

    http: str = field(default="", repr=False)  # may carry user:password@
    https: str = field(default="", repr=False)
    all: str = field(default="", repr=False)
    no_proxy: str = ""

    def proxy_for(self, url: str) -> tuple[ProxySpec, tuple[str, str] | None] | None:
        """The proxy (and its credentials) for ``url``, or None: direct.

        ``https://`` URLs use HTTPS_PROXY, ``http://`` ones HTTP_PROXY, either
        falling back to ALL_PROXY; a host NO_PROXY matches goes direct
        (`bypasses_proxy`).  An unusable value is reported by the config.
        """
        parts = urlsplit(url)
        if bypasses_proxy(parts.hostname or "", parts.port, self.no_proxy):
            return None
        chosen = (self.https if parts.scheme == "https" else self.http) or self.all
        if not chosen:
            return None
        bare, auth = split_credentials(chosen)
        spec = parse_proxy(bare if "://" in bare else f"http://{bare}")
        return None if spec is None else (spec, auth)


def bypasses_proxy(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` sends ``host`` direct (the rules curl and httpx share).

    Entries are comma- or space-separated: ``*`` (everything); a domain
    (``example.org`` or ``.example.org``: the domain and every subdomain); an
    IP address; a network in CIDR form (``10.0.0.0/8``); any of them with
    ``:port`` to match that port only.  Case-insensitive; no other wildcards.
    """
    host = host.lower().rstrip(".").strip("[]")
    for raw in no_proxy.replace(",", " ").split():
        entry, want_port = _entry_port(raw.lower())
        if want_port is not None and want_port != port:
            continue
        if entry == "*" or _host_matches(host, entry):
            return True
    return False


def _entry_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):  # [::1]:8080
        addr, _, rest = entry[1:].partition("]")
        return addr, int(rest[1:]) if rest.startswith(":") and rest[
            1:
        ].isdigit() else None
    name, sep, port = entry.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        return name, int(port)
    return entry, None


def _host_matches(host: str, entry: str) -> bool:
    entry = entry.strip(".") if entry.startswith(".") else entry.rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host == entry or host.endswith("." + entry)
    try:
        return ip in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True, slots=True)
class Route:
    """How one request travels: direct or through one proxy, with its timeouts.

    Hashable: `monitor.fetch.ClientPool` keeps one client per route.
    ``auth`` is never shown (``repr=False``); `label` is what logs and
    `monitor status` print.
    """

    proxy: ProxySpec | None = None
    auth: tuple[str, str] | None = field(default=None, repr=False)
    timeout: float  # per connect/read, seconds
    total_timeout: float  # per URL, every hop and the body

    @property
    def label(self) -> str:
        """``direct`` or the proxy without credentials (``socks5h://127.0.0.1:9050``)."""
        return "direct" if self.proxy is None else self.proxy.label


def route_timeouts(
    proxy: ProxySpec | None, timeouts: tuple[float, float], slow: tuple[float, float]
) -> tuple[float, float]:
    """(timeout, total_timeout) for a route: at least ``slow`` through a
    remote-DNS (Tor) proxy, whose circuits take seconds to build."""
    if proxy is None or not proxy.remote_dns:
        return timeouts
    return max(timeouts[0], slow[0]), max(timeouts[1], slow[1])


def isolation_auth(feed_name: str, password: str) -> tuple[str, str]:
    """The SOCKS credentials that give a feed its own Tor circuit.

    Tor (``IsolateSOCKSAuth``, on by default) never shares a circuit between
    streams with different SOCKS usernames; the name is the feed's, so no two
    isolated feeds share an exit.  Tor ignores the password's value.
    """
    return f"monitor-{feed_name}", password or "monitor"
