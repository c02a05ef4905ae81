"""Proxies for blocked outlets (issue #20): parsing, credentials, SSRF rules.

A proxy URL comes from ``[fetch] proxy``; its user name and password only from
``MONITOR_FETCH_PROXY_USERNAME`` / ``MONITOR_FETCH_PROXY_PASSWORD`` (config refuses
them in TOML and in the URL), and no log or error line ever carries them: every
message names the proxy by `ProxySpec.label` (scheme, host and port).

Address checks through a proxy (docs/adding-a-feed.md, "Proxies"):

- ``http://`` and ``socks5://`` resolve the target here, so `check_url` still
  checks every resolved address before the request.  The proxy resolves the
  name again, so pinning (issue #11.14) cannot hold through it.
- ``socks5h://`` (Tor) resolves inside the proxy, so nothing here can see the
  address: `check_remote_target` refuses private and loopback IP literals and
  ``localhost`` / ``*.localhost``; a public name the proxy maps to a private
  address can no longer be caught.
- The proxy's own address is trusted configuration and may be loopback.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ..exceptions import BlockedURLError
from ._safety import _is_blocked


def check_remote_target(url: str) -> None:
    """The SSRF rule when the proxy resolves names (``socks5h``).

    Raises:
        BlockedURLError: ``localhost``, ``*.localhost``, or a non-public IP literal.
    """
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        raise BlockedURLError(f"host {host!r} is local", resource=url)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return
    if _is_blocked(ip):
        raise BlockedURLError(f"non-public address {ip} refused", resource=url)
