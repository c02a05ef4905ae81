"""POST a JSON document to a webhook, with the feeds' address rules (issue #16).

The same SSRF guard as every GET (`check_url`: http(s) only, public addresses
unless ``allow_private``, the checked addresses pinned for the connection, the
peer re-checked), a wall-clock deadline, and no redirects: a webhook that
redirects is a misconfigured one.
"""

from __future__ import annotations

import time

import httpx

from ..exceptions import FetchError
from ._http import FetchStatusError
from ._safety import check_peer, check_url
from ._transport import guard, pin_addresses


def post_json(
    client: httpx.Client,
    url: str,
    body: bytes,
    *,
    allow_private: bool = False,
    timeout: float,
) -> int:
    """POST ``body`` (JSON) to ``url``; returns the 2xx status.

    Args:
        client: from `make_client` (redirects are not followed).
        url: the webhook.
        body: the encoded JSON document.
        allow_private: allow loopback/private addresses.
        timeout: seconds for the whole exchange.

    Raises:
        BlockedURLError: a scheme or address the rules refuse.
        FetchStatusError: the receiver answered a non-2xx status.
        FetchError: a network failure or timeout.
    """
    addresses = check_url(url, allow_private=allow_private)
    try:
        host = httpx.URL(url).raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError) as e:
        raise FetchError(f"invalid URL ({e})", resource=url) from e
    deadline = time.monotonic() + timeout
    headers = {"Content-Type": "application/json; charset=utf-8"}
    try:
        with (
            guard(url, deadline=deadline, allow_private=allow_private),
            pin_addresses(host, addresses),
            client.stream(
                "POST", url, content=body, headers=headers, timeout=timeout
            ) as resp,
        ):
            check_peer(resp, url, allow_private)
            resp.read()
    except (httpx.HTTPError, httpx.InvalidURL) as e:
        raise FetchError(
            f"network error ({type(e).__name__}): {e or 'no detail'}", resource=url
        ) from e
    if not 200 <= resp.status_code < 300:
        raise FetchStatusError(
            f"HTTP {resp.status_code} {resp.reason_phrase}".rstrip(),
            resource=url,
            status=resp.status_code,
        )
    return resp.status_code
