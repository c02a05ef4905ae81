"""Alerts between digests: watches on stories (issue #16; docs/alerts.md).

    after `monitor run`'s stories stage:
      store.get_story_ids_grown_since(now - lookback) ─▶ Story*, Article*, filings
      ─_decide.decide_alert─▶ is a level due? (cheap, before any text matching)
      ─_match.match_story─▶ StoryMatch (query / topic / country, matched words)
      ─_decide.decide_alerts─▶ AlertDecision (fire | follow_up | deferred)
      ─_payload.build_payload─▶ JSON document
      per notify target: store.claim_alert ─_send.Sender.send─▶ store.mark_alert_*
      then: unsent deliveries of earlier runs (failed, or killed mid-send) retried

`plan_alerts` decides and sends nothing (`monitor watch test`); `run_alerts`
sends.  The decisions are pure functions of the stored stories, the earlier
alert records and ``now`` (`monitor.alerts._decide`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

from ..config import Config
from ..exceptions import DeliveryError
from ..models import AlertKey, AlertRecord, Article, Story, Topics
from ._burst import (
    BurstThresholds,
    StoryBurst,
    VolumeBurst,
    story_bursts,
    thresholds_from,
    volume_bursts,
)
from ._decide import (
    BURST_LEVEL,
    CLAIM_LEASE,
    MAX_CRASHED_SENDS,
    AlertDecision,
    Candidate,
    SendAction,
    Verdict,
    decide_alert,
    decide_alerts,
    decide_burst,
    decide_delivery,
    level_reached,
    levels,
    quiet_end,
)
from ._match import (
    CompiledWatch,
    StoryMatch,
    ViewCache,
    compile_watches,
    match_story,
    validate_watches,
)
from ._payload import build_payload, encode, headline, story_line
from ._send import Sender

__all__ = [
    "BURST_LEVEL",
    "CLAIM_LEASE",
    "MAX_CRASHED_SENDS",
    "AlertDecision",
    "AlertStore",
    "BurstThresholds",
    "Candidate",
    "CompiledWatch",
    "DeliveryResult",
    "PlannedAlert",
    "SendAction",
    "Sender",
    "StoryBurst",
    "Verdict",
    "VolumeBurst",
    "compile_watches",
    "decide_alert",
    "decide_alerts",
    "decide_burst",
    "decide_delivery",
    "headline",
    "level_reached",
    "levels",
    "plan_alerts",
    "quiet_end",
    "run_alerts",
    "story_bursts",
    "story_line",
    "thresholds_from",
    "validate_watches",
    "volume_bursts",
]

logger = logging.getLogger(__name__)


class AlertStore(Protocol):
    """The storage methods alerts use (monitor/store/_alerts.py and friends)."""

    def get_story_ids_grown_since(self, since: datetime) -> list[int]: ...
    def get_stories(self, story_ids: Iterable[int]) -> dict[int, Story]: ...
    def get_articles(self, article_ids: Iterable[int]) -> list[Article]: ...
    def get_filings_for(self, article_ids: Iterable[int]) -> dict[int, Topics]: ...
    def get_alert_records(self, story_ids: Iterable[int]) -> list[AlertRecord]: ...
    def get_unsent_alerts(self) -> list[AlertRecord]: ...
    def get_sent_alerts(
        self, since: datetime | None = None, *, watch: str | None = None
    ) -> list[AlertRecord]: ...
    def claim_alert(
        self,
        key: AlertKey,
        *,
        payload: str,
        now: datetime,
        decide: Callable[[AlertRecord | None], bool],
    ) -> bool: ...
    def get_alert(self, key: AlertKey) -> AlertRecord | None: ...
    def mark_alert_sent(self, key: AlertKey, *, now: datetime) -> None: ...
    def mark_alert_failed(self, key: AlertKey, *, error: str) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedAlert:
    """A decision with the match behind it."""

    decision: AlertDecision
    match: StoryMatch


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryResult:
    """What happened to one delivery in this run."""

    key: AlertKey
    status: str  # sent | failed | skipped (in progress, given up, already sent)
    error: str = ""


def alerts_tz(cfg: Config) -> tzinfo:
    """The quiet hours' time zone: alerts.timezone, else digest.timezone."""
    return ZoneInfo(cfg.alerts.timezone or cfg.digest.timezone)


def plan_alerts(
    storage: AlertStore,
    cfg: Config,
    watches: Sequence[CompiledWatch],
    *,
    now: datetime,
) -> list[PlannedAlert]:
    """Every alert due now (deferred ones included); nothing is sent or stored."""
    if not watches:
        return []
    th = thresholds_from(cfg.alerts)
    ids = storage.get_story_ids_grown_since(
        now - timedelta(hours=cfg.alerts.lookback_hours)
    )
    need = min(
        min(w.cfg.min_outlets, th.min_outlets) if w.cfg.bursts else w.cfg.min_outlets
        for w in watches
    )
    stories = [s for s in storage.get_stories(ids).values() if len(s.outlets) >= need]
    records = storage.get_alert_records(s.id for s in stories)
    pre = _Decider(
        recorded=_recorded_levels(records),
        bursts={
            (r.key.watch, r.key.story_id) for r in records if r.key.level == BURST_LEVEL
        },
        bursting={b.story_id for b in story_bursts(stories, now=now, th=th)},
        now=now,
        tz=alerts_tz(cfg),
    )
    due = [(w, s) for s in stories for w in watches if pre.decide(w, s)]
    return _matched(storage, due, pre)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Decider:
    """The pure decisions for one run, with what they need about earlier alerts."""

    recorded: dict[tuple[str, int], int]  # highest outlet level alerted
    bursts: set[tuple[str, int]]  # burst alert already recorded
    bursting: set[int]  # stories bursting now
    now: datetime
    tz: tzinfo

    def decide(self, w: CompiledWatch, s: Story) -> list[AlertDecision]:
        c = Candidate(watch=w.cfg, story_id=s.id, outlets=len(s.outlets))
        key = (w.cfg.name, s.id)
        found = [
            decide_alert(c, self.recorded.get(key), now=self.now, tz=self.tz),
            decide_burst(
                c, s.id in self.bursting, key in self.bursts, now=self.now, tz=self.tz
            ),
        ]
        return [d for d in found if d is not None]


def _recorded_levels(records: Iterable[AlertRecord]) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for r in records:
        if r.key.level == BURST_LEVEL:
            continue
        k = (r.key.watch, r.key.story_id)
        out[k] = max(out.get(k, 0), r.key.level)
    return out


def _matched(
    storage: AlertStore,
    due: list[tuple[CompiledWatch, Story]],
    pre: _Decider,
) -> list[PlannedAlert]:
    member_ids = sorted({m.article_id for _, s in due for m in s.members})
    articles = {a.id: a for a in storage.get_articles(member_ids)}
    filings = storage.get_filings_for(member_ids)
    cache = ViewCache()
    planned = [
        PlannedAlert(decision=d, match=m)
        for w, s in due
        if (m := match_story(w, s, articles, filings, cache)) is not None
        for d in pre.decide(w, s)
    ]
    return sorted(
        planned, key=lambda p: (p.decision.watch, p.decision.story_id, p.decision.level)
    )


def run_alerts(
    storage: AlertStore,
    cfg: Config,
    watches: Sequence[CompiledWatch],
    sender: Sender,
    *,
    now: Callable[[], datetime],
) -> list[DeliveryResult]:
    """Send every alert due now, then retry earlier unsent ones.

    Never raises for a delivery that fails: it is a `DeliveryResult` with
    status "failed" (the pipeline records it where `monitor status` shows it).
    """
    private = {w.cfg.name: w.cfg.allow_private for w in watches}
    results: list[DeliveryResult] = []
    for planned in plan_alerts(storage, cfg, watches, now=now()):
        if planned.decision.verdict == Verdict.DEFERRED:
            continue
        payload = encode(build_payload(planned.match, planned.decision, now=now()))
        for target in planned.match.watch.cfg.notify:
            key = AlertKey(
                watch=planned.decision.watch,
                story_id=planned.decision.story_id,
                level=planned.decision.level,
                target=target,
            )
            results.append(_deliver(storage, cfg, sender, key, payload, private, now))
    done = {r.key for r in results}
    for record in storage.get_unsent_alerts():
        if record.key in done or record.key.watch not in private:
            continue  # sent just now, or its watch was removed / disabled
        action = decide_delivery(
            record, now=now(), max_failures=cfg.alerts.max_failures
        )
        if action == SendAction.SEND:
            results.append(
                _deliver(storage, cfg, sender, record.key, record.payload, private, now)
            )
    return results


def _deliver(
    storage: AlertStore,
    cfg: Config,
    sender: Sender,
    key: AlertKey,
    payload: str,
    private: dict[str, bool],
    now: Callable[[], datetime],
) -> DeliveryResult:
    """Claim -> send -> mark for one delivery."""
    at = now()

    def may_send(record: AlertRecord | None) -> bool:
        action = decide_delivery(record, now=at, max_failures=cfg.alerts.max_failures)
        return action == SendAction.SEND

    if not storage.claim_alert(key, payload=payload, now=at, decide=may_send):
        return DeliveryResult(key=key, status="skipped")
    record = storage.get_alert(key)
    body = record.payload if record is not None else payload
    try:
        sender.send(
            key.target,
            body,
            allow_private=private.get(key.watch, False),
            store=storage,
            now=now(),
        )
    except DeliveryError as e:
        storage.mark_alert_failed(key, error=str(e))
        return DeliveryResult(key=key, status="failed", error=str(e))
    storage.mark_alert_sent(key, now=now())
    logger.info(
        "alert sent watch=%s story=%d level=%d target=%s",
        key.watch,
        key.story_id,
        key.level,
        key.target,
    )
    return DeliveryResult(key=key, status="sent")


def records_json(records: Iterable[AlertRecord]) -> list[dict[str, object]]:
    """`monitor alerts --json`: one object per delivery."""
    out = []
    for r in records:
        doc = json.loads(r.payload)
        out.append(
            {
                "watch": r.key.watch,
                "story_id": r.key.story_id,
                "level": r.key.level,
                "target": r.key.target,
                "sent_at": r.sent_at.isoformat() if r.sent_at else None,
                "attempts": r.attempts,
                "title": headline(doc),
                "outlet_count": doc.get("outlet_count"),
                "kind": doc.get("kind"),
            }
        )
    return out
