"""The ``proxy`` setting (issue #20): validated here, used by `monitor.fetch`.

Kept outside `monitor.fetch` so that `monitor.config` can validate it without an
import cycle.  See `monitor.fetch._proxy` for the address rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

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
