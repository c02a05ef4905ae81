"""Pure scheduling decisions, with time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.config import PollConfig
from monitor.models import FeedState
from monitor.schedule import (
    feed_is_due,
    next_poll_after_failure,
    next_poll_after_success,
)

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CFG = PollConfig(min_interval=900, max_backoff=3600 * 24)


def state(**kw) -> FeedState:
    return FeedState(name="a", url="https://a.example/rss", **kw)


def test_never_polled_is_due():
    assert feed_is_due(None, NOW, CFG)
    assert feed_is_due(state(), NOW, CFG)


def test_interval():
    assert not feed_is_due(state(last_polled_at=NOW - timedelta(minutes=5)), NOW, CFG)
    assert feed_is_due(state(last_polled_at=NOW - timedelta(minutes=15)), NOW, CFG)


def test_retry_after_and_backoff_hold_a_feed_back():
    held = state(
        last_polled_at=NOW - timedelta(hours=2), next_poll_at=NOW + timedelta(hours=1)
    )
    assert not feed_is_due(held, NOW, CFG)
    assert feed_is_due(held, NOW + timedelta(hours=1), CFG)


def test_backoff_doubles_and_is_capped():
    delays = [next_poll_after_failure(n, NOW, None, CFG) - NOW for n in (1, 2, 3, 20)]
    assert delays[:3] == [
        timedelta(seconds=900),
        timedelta(seconds=1800),
        timedelta(seconds=3600),
    ]
    assert delays[3] == timedelta(days=1)


def test_retry_after_wins_when_later_but_is_capped():
    later = NOW + timedelta(hours=5)
    assert next_poll_after_failure(1, NOW, later, CFG) == later
    assert next_poll_after_failure(
        1, NOW, NOW + timedelta(days=30), CFG
    ) == NOW + timedelta(days=1)
    assert next_poll_after_success(NOW, later, CFG) == later
    assert next_poll_after_success(NOW, None, CFG) is None
