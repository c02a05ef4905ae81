"""HTTP GET with timeouts, conditional GET, size caps and address checks (issue #2, #7).

The fetcher returns bytes; parsing happens elsewhere (STYLE.md 30)::

    make_client(cfg) -> httpx.Client          # no automatic redirects
    fetch_url(client, url, ...) -> Page        # one URL, redirects checked hop by hop
    fetch_many(client, requests, ...)          # a thread pool, results on the caller
        -> Iterator[StageResult[Page]]
    feed_route(cfg, spec, url) -> Route        # direct or which proxy (issue #20)
    ClientPool(cfg).get(route) -> httpx.Client # one client per route

Hostile servers are expected.  Every redirect hop is re-validated (scheme and
resolved address, so ``169.254.169.254`` and ``file://`` are refused), the decoded
body is capped while it streams (a gzip bomb is cut off after ``max_bytes`` of
output, or sooner when its compression ratio is absurd), a body that never ends is
cut off by a wall-clock deadline, and every httpx/socket/zlib failure becomes a
`FetchError` naming the URL.  Status >= 400 raises `FetchStatusError`, which
carries the status and the parsed ``Retry-After`` (``retry_after``) so the poller
can schedule the next attempt; `Page.retry_after` is only set on a successful or
304 response that also sent the header.
"""

from __future__ import annotations

from ..proxyspec import Route
from ._body import CHUNK_SIZE, MAX_COMPRESSION_RATIO, RATIO_CHECK_AFTER
from ._headers import MAX_RETRY_AFTER, parse_content_type, parse_retry_after
from ._http import (
    ACCEPT_ENCODING,
    REDIRECT_STATUSES,
    FetchStatusError,
    fetch_url,
    make_client,
)
from ._many import (
    ClientPool,
    FetchRequest,
    HostLimiter,
    fetch_many,
    host_key,
    interleave_by_host,
)
from ._post import post_json
from ._route import default_route, feed_route
from ._safety import ALLOWED_SCHEMES, check_url

__all__ = [
    "ACCEPT_ENCODING",
    "ALLOWED_SCHEMES",
    "CHUNK_SIZE",
    "MAX_COMPRESSION_RATIO",
    "MAX_RETRY_AFTER",
    "RATIO_CHECK_AFTER",
    "REDIRECT_STATUSES",
    "ClientPool",
    "FetchRequest",
    "FetchStatusError",
    "HostLimiter",
    "Route",
    "check_url",
    "default_route",
    "feed_route",
    "fetch_many",
    "fetch_url",
    "host_key",
    "interleave_by_host",
    "make_client",
    "parse_content_type",
    "parse_retry_after",
    "post_json",
]
