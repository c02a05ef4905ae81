"""Which alerts fire now: pure functions, the clock passed in (STYLE.md 8).

A watch alerts once per story when the story reaches ``min_outlets`` distinct
outlets, and once more each time it crosses a ``follow_up`` level (3 -> 10).  A
story that jumps past several levels between two runs gets one alert, at the
highest level it reached.  In the watch's quiet hours nothing fires: the alert
is deferred, and fires on the first run after the quiet hours end (the story
is still within ``alerts.lookback_hours``).  A watch with ``bursts = true``
also alerts once when a matching story spreads fast (`_burst.story_burst`);
that alert is recorded at level `BURST_LEVEL` (0: no outlet level is below 1).

Delivery is claim -> send -> mark, one delivery per notify target
(`decide_delivery`): at least once, and at most twice when the sender is
killed between "sent" and "marked" (the same rule as digest mail, #11.10).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from ..config import WatchConfig, parse_quiet_hours
from ..models import AlertRecord

# A claim younger than this belongs to a send still under way: one send is at
# most webhook_attempts x webhook_timeout plus back-off, or one SMTP exchange.
CLAIM_LEASE = timedelta(minutes=10)
# Sends that may end in a crash (claimed, never marked): a kill -9 right after
# the receiver got it means it is re-sent once, never a third time.
MAX_CRASHED_SENDS = 2
BURST_LEVEL = 0  # the recorded level of a burst alert


class Verdict(enum.StrEnum):
    """What a watch does about one story now."""

    FIRE = "fire"  # first alert for this story
    FOLLOW_UP = "follow_up"  # the story crossed a further level
    BURST = "burst"  # the story spreads fast (bursts = true)
    DEFERRED = "deferred"  # would fire, but it is the watch's quiet hours


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """A story that matched a watch, with what the decision needs."""

    watch: WatchConfig
    story_id: int
    outlets: int  # distinct outlets carrying the story now


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertDecision:
    """One alert to send (or to defer)."""

    watch: str
    story_id: int
    level: int  # the outlet level reached (min_outlets or a follow_up value)
    outlets: int
    verdict: Verdict
    until: datetime | None = None  # DEFERRED: when the quiet hours end (UTC)


def levels(watch: WatchConfig) -> tuple[int, ...]:
    """The outlet counts that send an alert, ascending."""
    return tuple(sorted({watch.min_outlets, *watch.follow_up}))


def level_reached(watch: WatchConfig, outlets: int) -> int | None:
    """The highest level at or below ``outlets`` (None: below min_outlets)."""
    reached = [n for n in levels(watch) if n <= outlets]
    return reached[-1] if reached else None


def quiet_end(quiet_hours: str, now: datetime, tz: tzinfo) -> datetime | None:
    """When the quiet hours around ``now`` end (None: ``now`` is not quiet).

    Args:
        quiet_hours: ``"HH:MM-HH:MM"`` local time; may cross midnight.
        now: aware UTC time.
        tz: the watch's time zone.
    """
    span = parse_quiet_hours(quiet_hours)
    if span is None:
        return None
    start, end = span
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    quiet = start <= minute < end if start < end else minute >= start or minute < end
    if not quiet:
        return None
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    ends = midnight + timedelta(minutes=end)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(now.tzinfo)


def decide_alert(
    candidate: Candidate, recorded: int | None, *, now: datetime, tz: tzinfo
) -> AlertDecision | None:
    """The alert one watch sends about one story now, if any.

    Args:
        candidate: the watch, the story and its outlet count.
        recorded: the highest level already alerted (claimed or sent) for this
            watch and story; None if none.
        now: aware UTC time.
        tz: time zone of the quiet hours.
    """
    level = level_reached(candidate.watch, candidate.outlets)
    if level is None or (recorded is not None and level <= recorded):
        return None
    verdict = Verdict.FIRE if recorded is None else Verdict.FOLLOW_UP
    until = quiet_end(candidate.watch.quiet_hours, now, tz)
    if until is not None:
        verdict = Verdict.DEFERRED
    return AlertDecision(
        watch=candidate.watch.name,
        story_id=candidate.story_id,
        level=level,
        outlets=candidate.outlets,
        verdict=verdict,
        until=until,
    )


def decide_burst(
    candidate: Candidate, bursting: bool, already: bool, *, now: datetime, tz: tzinfo
) -> AlertDecision | None:
    """The burst alert of a ``bursts = true`` watch about one story, if any.

    Args:
        candidate: the watch, the story and its outlet count.
        bursting: the story is bursting now (`_burst.story_burst`).
        already: a burst alert was already recorded for this watch and story.
        now: aware UTC time.
        tz: time zone of the quiet hours.
    """
    if not (candidate.watch.bursts and bursting) or already:
        return None
    until = quiet_end(candidate.watch.quiet_hours, now, tz)
    return AlertDecision(
        watch=candidate.watch.name,
        story_id=candidate.story_id,
        level=BURST_LEVEL,
        outlets=candidate.outlets,
        verdict=Verdict.DEFERRED if until else Verdict.BURST,
        until=until,
    )


def decide_alerts(
    candidates: Iterable[Candidate],
    recorded: Mapping[tuple[str, int], int],
    *,
    now: datetime,
    tz: tzinfo,
) -> list[AlertDecision]:
    """Every alert due now, deferred ones included, by watch then story.

    Args:
        candidates: (watch, story) pairs that match.
        recorded: (watch name, story id) -> highest level already alerted.
        now: aware UTC time.
        tz: time zone of the quiet hours.
    """
    out = [
        d
        for c in candidates
        if (
            d := decide_alert(
                c, recorded.get((c.watch.name, c.story_id)), now=now, tz=tz
            )
        )
        is not None
    ]
    return sorted(out, key=lambda d: (d.watch, d.story_id))


class SendAction(enum.StrEnum):
    """What a sender may do about one delivery (one alert, one target)."""

    SEND = "send"
    SENT = "sent"  # already delivered
    IN_PROGRESS = "in_progress"  # another sender holds a fresh claim
    GAVE_UP = "gave_up"  # crashed twice, or failed max_failures times


def decide_delivery(
    record: AlertRecord | None,
    *,
    now: datetime,
    max_failures: int,
    lease: timedelta = CLAIM_LEASE,
) -> SendAction:
    """Whether to send one delivery now (pure; storage applies it atomically).

    Every send started either ends (marked sent, or marked failed) or crashed;
    ``attempts - failures`` of an unsent delivery counts the crashes.  A crash
    may have happened after the receiver got it, so it is retried once only.

    Args:
        record: what storage has for this delivery (None: never tried).
        now: aware UTC time.
        max_failures: failed sends (over runs) before giving up.
        lease: how long a claim protects a send under way.
    """
    if record is None:
        return SendAction.SEND
    if record.sent_at is not None:
        return SendAction.SENT
    if record.claimed_at is not None and now - record.claimed_at < lease:
        return SendAction.IN_PROGRESS
    if record.attempts - record.failures >= MAX_CRASHED_SENDS:
        return SendAction.GAVE_UP
    if record.failures >= max_failures:
        return SendAction.GAVE_UP
    return SendAction.SEND


def retry_due(record: AlertRecord, *, now: datetime, max_failures: int) -> bool:
    """An unsent delivery from an earlier run that should be tried again now."""
    action = decide_delivery(record, now=now, max_failures=max_failures)
    return record.sent_at is None and action == SendAction.SEND
