"""Mirrors of blocked outlets (issue #20): which URL to try, and when to give up on one.

A feed may list ``urls = [primary, mirror, ...]``.  Every rule here is a pure
function of the feed, what storage remembers and the time passed in::

    candidate_urls(spec, state, now, retry_after) -> the order to try, this poll
    failover_reason(page or error, spec)          -> why to try the next, or None
    primary_failed_at(spec, state, tried, now)    -> what to remember after success
    primary_link(link, spec)                      -> a mirror's link, on the primary

The pipeline fetches the first candidate; on a network-level failure (no
answer, refused, timed out, TLS, a proxy that is down) or a block page (a
status in ``block_statuses``, 451 by default, or a ``block_markers`` text in a
200 answer) it fetches the next.  The URL that worked is stored, and stays
first until ``poll.retry_primary_after`` has passed since the primary last
failed: then the primary is tried first again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from .exceptions import FetchError
from .models import FeedSpec, FeedState, Page

MARKER_SCAN_BYTES = 65_536  # block pages are small: look at the start only


def feed_urls(spec: FeedSpec) -> tuple[str, ...]:
    """The feed's URLs, primary first (``urls``, or ``url`` alone)."""
    return spec.urls or (spec.url,)


def candidate_urls(
    spec: FeedSpec, state: FeedState | None, now: datetime, retry_after: float
) -> tuple[str, ...]:
    """The order to try this poll: the mirror that worked last first, unless
    the primary is due for another try (``retry_after`` seconds since it failed).
    """
    urls = feed_urls(spec)
    served = state.served_url if state is not None else None
    if served is None or served == urls[0] or served not in urls:
        return urls
    failed_at = state.primary_failed_at if state is not None else None
    if failed_at is None or now - failed_at >= timedelta(seconds=retry_after):
        return urls
    return (served, *(u for u in urls if u != served))


def failover_reason(value: Page | BaseException | None, spec: FeedSpec) -> str | None:
    """Why this answer means "try the next URL", or None when it stands.

    Network-level failures and block pages fail over; an ordinary HTTP error
    (404, 500...) does not: the outlet answered, and a mirror would not fix it.
    """
    if isinstance(value, Page):
        return block_marker_reason(value, spec)
    if not isinstance(value, FetchError):
        return None
    status = getattr(value, "status", None)
    if status is None:
        return value.message
    return value.message if status in spec.block_statuses else None


def block_marker_reason(page: Page, spec: FeedSpec) -> str | None:
    """``block page at URL (marker '...')`` when a 200 answer is an ISP block page."""
    if page.status in spec.block_statuses:
        return f"block page at {page.final_url} (HTTP {page.status})"
    if not spec.block_markers or page.not_modified:
        return None
    head = page.body[:MARKER_SCAN_BYTES].decode("utf-8", "replace").casefold()
    for marker in spec.block_markers:
        if marker.casefold() in head:
            return f"block page at {page.final_url} (marker {marker!r})"
    return None


def primary_failed_at(
    spec: FeedSpec,
    state: FeedState | None,
    tried: tuple[str, ...],
    now: datetime,
) -> datetime | None:
    """When the primary last failed, after a poll that succeeded at ``tried[-1]``.

    None once the primary serves again; ``now`` when it was tried (and failed)
    this poll; otherwise what was remembered (the mirror stayed first).
    """
    primary = feed_urls(spec)[0]
    if tried[-1] == primary:
        return None
    if primary in tried:
        return now
    return state.primary_failed_at if state is not None else now


def primary_link(link: str, spec: FeedSpec) -> str:
    """A link on a mirror's host, moved to the primary's host (and scheme).

    So the same article reached through a mirror has the primary's canonical
    URL: dedup and stories see one outlet.  Links elsewhere are returned as they
    are.
    """
    urls = feed_urls(spec)
    if len(urls) < 2 or not link:
        return link
    try:
        parts, primary = urlsplit(link), urlsplit(urls[0])
        mirror_hosts = {urlsplit(u).netloc.lower() for u in urls[1:]}
    except ValueError:
        return link
    if parts.netloc.lower() not in mirror_hosts - {primary.netloc.lower()}:
        return link
    return urlunsplit((primary.scheme, primary.netloc, *parts[2:]))
