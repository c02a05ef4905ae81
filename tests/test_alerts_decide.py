"""The pure alert decisions (issue #16): levels, follow-ups, quiet hours, claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.alerts import (
    CLAIM_LEASE,
    Candidate,
    SendAction,
    Verdict,
    decide_alert,
    decide_alerts,
    decide_delivery,
    level_reached,
    levels,
    quiet_end,
)
from monitor.config import WatchConfig
from monitor.models import AlertKey, AlertRecord

ALMATY = ZoneInfo("Asia/Almaty")  # UTC+5 all year
NOON_LOCAL = datetime(2026, 3, 14, 7, 0, tzinfo=UTC)  # 12:00 in Almaty


def watch(**kw) -> WatchConfig:
    base = {"name": "w", "query": "митинг", "notify": ("atom:w.xml",)}
    return WatchConfig(**(base | kw))


def cand(w: WatchConfig, outlets: int, story: int = 1) -> Candidate:
    return Candidate(watch=w, story_id=story, outlets=outlets)


def test_levels_are_min_outlets_then_follow_ups_ascending():
    w = watch(min_outlets=3, follow_up=(25, 10))
    assert levels(w) == (3, 10, 25)
    assert level_reached(w, 2) is None
    assert level_reached(w, 3) == 3
    assert level_reached(w, 9) == 3
    assert level_reached(w, 12) == 10
    assert level_reached(w, 99) == 25


def test_first_alert_fires_once_when_the_story_reaches_min_outlets():
    w = watch(min_outlets=3, follow_up=(10,))
    assert decide_alert(cand(w, 2), None, now=NOON_LOCAL, tz=ALMATY) is None
    d = decide_alert(cand(w, 3), None, now=NOON_LOCAL, tz=ALMATY)
    assert d is not None
    assert (d.verdict, d.level, d.outlets) == (Verdict.FIRE, 3, 3)
    # recorded at level 3: nothing more until 10 outlets
    assert decide_alert(cand(w, 9), 3, now=NOON_LOCAL, tz=ALMATY) is None


def test_follow_up_when_the_story_crosses_the_next_level():
    w = watch(min_outlets=3, follow_up=(10,))
    d = decide_alert(cand(w, 10), 3, now=NOON_LOCAL, tz=ALMATY)
    assert d is not None
    assert (d.verdict, d.level) == (Verdict.FOLLOW_UP, 10)
    assert decide_alert(cand(w, 40), 10, now=NOON_LOCAL, tz=ALMATY) is None


def test_a_story_that_jumps_past_several_levels_gets_one_alert_at_the_highest():
    w = watch(min_outlets=2, follow_up=(5, 10))
    found = decide_alerts([cand(w, 12)], {}, now=NOON_LOCAL, tz=ALMATY)
    assert [(d.verdict, d.level) for d in found] == [(Verdict.FIRE, 10)]


def test_decide_alerts_keys_records_by_watch_and_story():
    a, b = watch(name="a"), watch(name="b")
    found = decide_alerts(
        [cand(b, 1, story=2), cand(a, 1, story=2), cand(a, 1, story=1)],
        {("a", 1): 1},
        now=NOON_LOCAL,
        tz=ALMATY,
    )
    assert [(d.watch, d.story_id) for d in found] == [("a", 2), ("b", 2)]


@pytest.mark.parametrize(
    ("utc_hour", "minute", "quiet"),
    [
        (16, 59, False),  # 21:59 local
        (17, 0, True),  # 22:00 local: starts
        (20, 30, True),  # 01:30 local, after midnight
        (1, 59, True),  # 06:59 local
        (2, 0, False),  # 07:00 local: ended
    ],
)
def test_quiet_hours_across_midnight(utc_hour, minute, quiet):
    now = datetime(2026, 3, 14, utc_hour, minute, tzinfo=UTC)
    end = quiet_end("22:00-07:00", now, ALMATY)
    assert (end is not None) == quiet
    if quiet:
        assert end is not None
        assert end.astimezone(ALMATY).hour == 7
        assert timedelta(0) < end - now <= timedelta(hours=9)


def test_quiet_hours_within_one_day():
    at = datetime(2026, 3, 14, 8, 0, tzinfo=UTC)  # 13:00 local
    assert quiet_end("12:30-14:00", at, ALMATY) == datetime(
        2026, 3, 14, 9, 0, tzinfo=UTC
    )
    assert quiet_end("14:00-15:00", at, ALMATY) is None
    assert quiet_end("", at, ALMATY) is None


def test_quiet_hours_defer_and_the_alert_fires_after_them():
    w = watch(quiet_hours="22:00-07:00")
    night = datetime(2026, 3, 14, 18, 0, tzinfo=UTC)  # 23:00 local
    d = decide_alert(cand(w, 1), None, now=night, tz=ALMATY)
    assert d is not None
    assert d.verdict == Verdict.DEFERRED
    assert d.until == datetime(2026, 3, 15, 2, 0, tzinfo=UTC)
    morning = d.until
    d2 = decide_alert(cand(w, 1), None, now=morning, tz=ALMATY)
    assert d2 is not None
    assert d2.verdict == Verdict.FIRE


KEY = AlertKey(watch="w", story_id=1, level=1, target="atom:w.xml")


def record(now: datetime, **kw) -> AlertRecord:
    return AlertRecord(key=KEY, created_at=now, **kw)


def test_decide_delivery_rule(now):
    def d(r):
        return decide_delivery(r, now=now, max_failures=3)

    assert d(None) == SendAction.SEND
    assert d(record(now, attempts=1, sent_at=now)) == SendAction.SENT
    fresh = now - CLAIM_LEASE + timedelta(seconds=1)
    assert d(record(now, attempts=1, claimed_at=fresh)) == SendAction.IN_PROGRESS
    stale = now - CLAIM_LEASE
    # killed once mid-send: sent again, once
    assert d(record(now, attempts=1, claimed_at=stale)) == SendAction.SEND
    # killed twice: never a third copy
    assert d(record(now, attempts=2, claimed_at=stale)) == SendAction.GAVE_UP
    # failures (receiver down) are retried on later runs up to max_failures
    assert d(record(now, attempts=2, failures=2)) == SendAction.SEND
    assert d(record(now, attempts=3, failures=3)) == SendAction.GAVE_UP
    # one crash among failures still allows the retry
    assert d(record(now, attempts=3, failures=2)) == SendAction.SEND


def test_burst_alert_once_per_story_for_watches_that_ask():
    from monitor.alerts import BURST_LEVEL, decide_burst

    w = watch(bursts=True)
    d = decide_burst(cand(w, 8), True, False, now=NOON_LOCAL, tz=ALMATY)
    assert d is not None
    assert (d.verdict, d.level) == (Verdict.BURST, BURST_LEVEL)
    assert decide_burst(cand(w, 8), True, True, now=NOON_LOCAL, tz=ALMATY) is None
    assert decide_burst(cand(w, 8), False, False, now=NOON_LOCAL, tz=ALMATY) is None
    plain = watch()
    assert decide_burst(cand(plain, 8), True, False, now=NOON_LOCAL, tz=ALMATY) is None
    night = datetime(2026, 3, 14, 18, 0, tzinfo=UTC)
    quiet = watch(bursts=True, quiet_hours="22:00-07:00")
    d = decide_burst(cand(quiet, 8), True, False, now=night, tz=ALMATY)
    assert d is not None
    assert d.verdict == Verdict.DEFERRED
