"""Pure scheduling decisions, with time passed in: is a feed due, how long to back
off, which days' digests are due."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .config import DigestConfig, PollConfig
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


def digest_days_due(
    now: datetime, written: Mapping[date, datetime], cfg: DigestConfig
) -> list[date]:
    """The local days whose daily digest `monitor run` should write now, oldest first.

    The digest of a local day (in ``cfg.timezone``) is due once local time on
    the next day passes ``cfg.due_hour``.  A day counts as done when a daily
    digest of it was generated after the day had ended: that digest covers the
    whole day, whether the scheduler or a person wrote it.  A digest generated
    earlier (``monitor digest --date <today>``, or a day next week) covers part
    of its day or none of it, so it never suppresses the automatic one (#10.3).

    Missed days are caught up: the latest due day and up to
    ``cfg.catch_up_days`` days before it, each written if not done, but never a
    day before the first day that is done (a fresh database starts with the
    latest due day only, not with empty digests of days it never watched).
    ``catch_up_days = 0`` writes only the latest due day.

    Args:
        now: the current moment (aware).
        written: local day -> when its daily digest was last generated.
        cfg: the digest settings (``timezone``, ``due_hour``, ``catch_up_days``).

    Returns:
        The days to write, oldest first; empty when nothing is due.
    """
    zone = ZoneInfo(cfg.timezone)
    local = now.astimezone(zone)
    latest = local.date() - timedelta(days=1 if local.hour >= cfg.due_hour else 2)
    done = {day for day, at in written.items() if at >= _day_end(day, zone)}
    first = min(done | {latest})
    window = (latest - timedelta(days=n) for n in range(cfg.catch_up_days, -1, -1))
    return [day for day in window if day >= first and day not in done]


def _day_end(day: date, zone: ZoneInfo) -> datetime:
    """The moment a local day ends: the next local midnight, as an aware datetime."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
