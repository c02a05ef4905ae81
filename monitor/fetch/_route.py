"""Which way each request goes (issue #20): direct or through a proxy, per feed.

    feed_route(cfg, spec, url, env) -> Route   # pure: the rules below
    fetch.ClientPool(cfg).get(route)           # one client per distinct route

The rules, first match wins:

1. the feed's own ``proxy`` (``"none"`` is direct);
2. ``[fetch] proxy``;
3. with ``[fetch] use_environment_proxies``: ``HTTPS_PROXY`` / ``HTTP_PROXY`` /
   ``ALL_PROXY`` for the URL's scheme, unless ``NO_PROXY`` matches its host;
4. direct.

``MONITOR_FETCH_PROXY_USERNAME`` / ``_PASSWORD`` go to the ``[fetch] proxy``
only (a feed's other proxy never sees them); environment proxies carry their own
``user:password@``.  ``isolate = true`` replaces the username with one of the
feed's own, so Tor gives the feed a circuit of its own.  Politeness
(`HostLimiter`) keys on the target host whatever the route.
"""

from __future__ import annotations

from ..config import FetchConfig
from ..models import FeedSpec
from ..proxyspec import (
    EnvironmentProxies,
    ProxySpec,
    Route,
    isolation_auth,
    parse_proxy,
    route_timeouts,
)


def default_route(cfg: FetchConfig) -> Route:
    """The ``[fetch] proxy`` route (direct when none), with its credentials."""
    proxy = parse_proxy(cfg.proxy)
    return _route(cfg, proxy, _global_auth(cfg, proxy))


def feed_route(
    cfg: FetchConfig,
    spec: FeedSpec | None,
    url: str,
    env: EnvironmentProxies | None = None,
) -> Route:
    """How to fetch ``url`` for the feed ``spec`` (None: a URL of no feed).

    Args:
        cfg: the ``[fetch]`` section (validated: proxies parse).
        spec: the feed; its ``proxy`` and ``isolate`` settings apply.
        url: the URL to fetch (for the environment's per-scheme proxy and
            NO_PROXY).
        env: the environment proxies, when ``use_environment_proxies`` is on.
    """
    own = spec.proxy if spec is not None else None
    if own is not None:
        proxy = parse_proxy(own)
        auth = _global_auth(cfg, proxy)
    elif cfg.proxy.strip().lower() not in {"", "none"}:
        return _isolated(cfg, spec, default_route(cfg))
    elif env is not None and (found := env.proxy_for(url)) is not None:
        proxy, auth = found
    else:
        proxy, auth = None, None
    return _isolated(cfg, spec, _route(cfg, proxy, auth))


def _global_auth(cfg: FetchConfig, proxy: ProxySpec | None) -> tuple[str, str] | None:
    """The environment's credentials, for the ``[fetch] proxy`` and no other."""
    if proxy is None or not cfg.proxy_username:
        return None
    if proxy != parse_proxy(cfg.proxy):
        return None
    return (cfg.proxy_username, cfg.proxy_password)


def _route(
    cfg: FetchConfig, proxy: ProxySpec | None, auth: tuple[str, str] | None
) -> Route:
    timeout, total = route_timeouts(
        proxy,
        (cfg.timeout, cfg.total_timeout),
        (cfg.remote_dns_timeout, cfg.remote_dns_total_timeout),
    )
    return Route(proxy=proxy, auth=auth, timeout=timeout, total_timeout=total)


def _isolated(cfg: FetchConfig, spec: FeedSpec | None, route: Route) -> Route:
    if spec is None or not spec.isolate or route.proxy is None:
        return route
    if not route.proxy.scheme.startswith("socks"):
        return route  # refused by the config; never send a made-up login elsewhere
    password = route.auth[1] if route.auth else cfg.proxy_password
    return Route(
        proxy=route.proxy,
        auth=isolation_auth(spec.name, password),
        timeout=route.timeout,
        total_timeout=route.total_timeout,
    )
