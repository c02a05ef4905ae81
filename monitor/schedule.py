"""Pure scheduling decisions: is a feed due, how long to back off.  Time is passed in."""

from __future__ import annotations

from datetime import datetime, timedelta

from .config import PollConfig
from .models import FeedState

# Back-off after the n-th consecutive failure: min_interval * 2**(n-1), capped.
_BACKOFF_BASE = 2


def feed_is_due(state: FeedState | None, now: datetime, cfg: PollConfig) -> bool:
    """A feed is due when never polled, or when its interval and any back-off passed."""
    if state is None or state.last_polled_at is None:
        return True
    if state.next_poll_at is not None and now < state.next_poll_at:
        return False
    return now - state.last_polled_at >= timedelta(seconds=cfg.min_interval) or (
        state.next_poll_at is not None and now >= state.next_poll_at
    )


def next_poll_after_failure(
    failure_count: int, now: datetime, retry_after: datetime | None, cfg: PollConfig
) -> datetime:
    """When to poll a failing feed again: exponential back-off, or the server's Retry-After.

    Args:
        failure_count: consecutive failures including this one (>= 1).
        now: the current time.
        retry_after: the server's Retry-After, if it sent one; honoured when later.
        cfg: polling settings.
    """
    exponent = max(0, min(failure_count - 1, 16))
    delay = min(cfg.min_interval * _BACKOFF_BASE**exponent, cfg.max_backoff)
    backoff = now + timedelta(seconds=delay)
    if retry_after is not None and retry_after > backoff:
        return min(retry_after, now + timedelta(seconds=cfg.max_backoff))
    return backoff


def next_poll_after_success(
    now: datetime, retry_after: datetime | None, cfg: PollConfig
) -> datetime | None:
    """A successful poll is next due after the interval; Retry-After can push it later."""
    if retry_after is not None and retry_after > now:
        return min(retry_after, now + timedelta(seconds=cfg.max_backoff))
    return None
