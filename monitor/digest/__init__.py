"""The daily digest (issue #6): build, write, mail.

    storage ──build_digest──▶ Digest ──write_digest──▶ YYYY/MM/day.{html,txt,md,json}
                                 │                      index.html, atom.xml
                                 └──send_digest──▶ SMTP (per-recipient topics,
                                                    never twice unless forced)

`build_digest` is deterministic: the same database and the same ``now`` give a
byte-identical digest in every format (``now`` only shows as "generated at").
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from ..config import Config, DigestConfig, resolve_path
from ..exceptions import DeliveryError
from ..mail import (
    ClaimAction,
    build_message,
    decide_claim,
    send_message,
    smtp_session,
)
from ..models import DeliveryClaim, DigestRecord
from ._archive import content_hash, read_archive, write_archive_files
from ._build import DigestSource, collect_digest, filter_digest
from ._model import (
    Digest,
    DigestPeriod,
    DigestStory,
    TopicSection,
    day_bounds,
    day_period,
    effective_time,
    local_day,
    since_period,
)
from ._render import render_html, render_json, render_markdown, render_text

__all__ = [
    "DeliveryResult",
    "Digest",
    "DigestPeriod",
    "DigestStory",
    "TopicSection",
    "build_digest",
    "content_hash",
    "day_bounds",
    "day_period",
    "effective_time",
    "filter_digest",
    "local_day",
    "read_archive",
    "render_html",
    "render_json",
    "render_markdown",
    "render_text",
    "send_digest",
    "since_period",
    "write_digest",
]

logger = logging.getLogger(__name__)

DEFAULT_SINCE = timedelta(hours=24)  # "since last digest" when there was none


class DigestStore(DigestSource, Protocol):
    """Storage methods used here beyond reading (implemented by `Storage`)."""

    def get_last_digest(self, *, daily: bool | None = None) -> DigestRecord | None: ...

    def add_digest(
        self, day: str, *, generated_at: datetime, content_hash: str, path: str
    ) -> None: ...

    def has_delivery(self, day: str, recipient: str) -> bool: ...

    def add_delivery(
        self, day: str, recipient: str, *, sent_at: datetime, message_id: str
    ) -> None: ...

    def claim_delivery(
        self,
        day: str,
        recipient: str,
        *,
        now: datetime,
        decide: Callable[[DeliveryClaim | None, bool], str],
    ) -> str: ...

    def complete_delivery(
        self, day: str, recipient: str, *, sent_at: datetime, message_id: str
    ) -> None: ...

    def release_delivery_claim(self, day: str, recipient: str) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryResult:
    """What happened for one recipient: ``sent``, ``skipped`` or ``failed``."""

    recipient: str
    status: str
    message_id: str | None = None
    error: str | None = None


def build_digest(
    storage: DigestStore,
    *,
    day: date | None = None,
    since: datetime | None = None,
    cfg: DigestConfig,
    topic_order: Sequence[str],
    now: datetime,
    topic_names: Mapping[str, str] | None = None,
    sources: Mapping[str, str] | None = None,
) -> Digest:
    """Build the digest of one local day, or of everything new since a moment.

    Args:
        storage: the `Storage`.
        day: the local calendar day (in ``cfg.timezone``) to cover.
        since: with ``day=None``: cover articles first seen in ``[since, now)``;
            when both are None, ``since`` is the last digest's generated-at time
            (or 24 hours ago when there is none).
        cfg: the digest section of the config.
        topic_order: topic ids in configured order.
        now: the current time; shown as "generated at" and ends "since" windows.
        topic_names: topic and country id -> name shown to readers (default: the id).
        sources: configured source name -> kind (feed, telegram, sitemap, page);
            feed health then covers only these and shows each one's kind.

    Returns:
        The digest, ready for `write_digest` and `send_digest`.
    """
    if day is not None:
        period = day_period(day, cfg.timezone)
    else:
        if since is None:
            last = storage.get_last_digest()
            since = last.generated_at if last else now - DEFAULT_SINCE
        period = since_period(since, now, cfg.timezone)
    return collect_digest(
        storage,
        period=period,
        cfg=cfg,
        topic_order=topic_order,
        generated_at=now,
        topic_names=topic_names,
        sources=sources,
    )


def write_digest(
    digest: Digest, cfg: Config, storage: DigestStore | None = None
) -> list[Path]:
    """Write the digest into the dated archive and refresh index.html/atom.xml.

    Args:
        digest: from `build_digest`.
        cfg: the whole config (``digest.output_dir`` resolves against it).
        storage: when given, the digest is recorded in the ``digests`` table.

    Returns:
        Every file written.
    """
    dc = cfg.digest
    root = resolve_path(cfg, dc.output_dir)
    paths = write_archive_files(
        digest,
        root,
        formats=dc.formats,
        title=dc.title,
        base_url=dc.base_url,
        atom_entries=dc.atom_entries,
    )
    if storage is not None:
        storage.add_digest(
            digest.period.key,
            generated_at=digest.generated_at,
            content_hash=content_hash(digest),
            path=str(paths[0]),
        )
    return paths


def send_digest(
    digest: Digest,
    cfg: Config,
    storage: DigestStore,
    *,
    env: Mapping[str, str],
    force: bool = False,
    now: datetime,
) -> list[DeliveryResult]:
    """Mail the digest to every configured recipient (their topics only).

    A recipient who already received this digest key is skipped unless
    ``force``.  Each mail is claimed in storage before it is sent and marked
    done after, so two processes sending at once mail it once; a sender killed
    in between leaves a claim that is retried once after `mail.CLAIM_LEASE`
    (at most two copies, see `mail.decide_claim`).  A failure for one
    recipient is recorded in the result and the others still get their mail;
    a connection failure fails them all.

    Args:
        digest: the full digest (filtered per recipient here).
        cfg: the whole config (``mail`` section).
        storage: records deliveries.
        env: environment holding the SMTP credentials.
        force: send again even if already delivered.
        now: delivery time to record.
    """
    mc = cfg.mail
    if not mc.enabled or not mc.recipients:
        return []
    key = digest.period.key
    due = [
        r for r in mc.recipients if force or not storage.has_delivery(key, r.address)
    ]
    results = [
        DeliveryResult(recipient=r.address, status="skipped", error="already sent")
        for r in mc.recipients
        if r not in due
    ]
    if not due:
        return results
    try:
        with smtp_session(mc, env) as smtp:
            for r in due:
                results.append(
                    _deliver(
                        smtp,
                        digest,
                        cfg,
                        storage,
                        r.address,
                        r.name,
                        r.topics,
                        now,
                        force,
                    )
                )
    except DeliveryError as e:
        # the results carry the error; the pipeline logs and records each once
        done = {res.recipient for res in results}
        results += [
            DeliveryResult(recipient=r.address, status="failed", error=str(e))
            for r in due
            if r.address not in done
        ]
    return sorted(results, key=lambda res: res.recipient)


def _deliver(
    smtp: smtplib.SMTP,
    digest: Digest,
    cfg: Config,
    storage: DigestStore,
    address: str,
    name: str,
    topics: Sequence[str],
    now: datetime,
    force: bool = False,
) -> DeliveryResult:
    """Claim -> send -> mark done (issue #11.10; the rule: `mail.decide_claim`)."""
    key = digest.period.key
    action = storage.claim_delivery(
        key,
        address,
        now=now,
        decide=lambda claim, delivered: decide_claim(
            claim, delivered=delivered, now=now, force=force
        ),
    )
    if action != ClaimAction.SEND:
        return _not_claimed(address, action)
    mine = filter_digest(digest, topics, top_n=cfg.digest.top_stories)
    try:
        msg = build_message(
            sender=cfg.mail.sender,
            sender_name=cfg.digest.title,
            recipient=address,
            recipient_name=name,
            subject=_subject(mine),
            text=render_text(mine),
            html=render_html(mine),
            date=now,
            headers={"X-Monitor-Digest": key},
        )
        message_id = send_message(smtp, msg)
    except DeliveryError as e:
        storage.release_delivery_claim(key, address)  # refused: nothing went out
        return DeliveryResult(recipient=address, status="failed", error=str(e))
    storage.complete_delivery(key, address, sent_at=now, message_id=message_id)
    return DeliveryResult(recipient=address, status="sent", message_id=message_id)


_NOT_CLAIMED = {
    ClaimAction.ALREADY_SENT: ("skipped", "already sent"),
    ClaimAction.IN_PROGRESS: ("skipped", "being sent by another process"),
    ClaimAction.GAVE_UP: (
        "failed",
        "an earlier send was interrupted twice; not retried (use --force)",
    ),
}


def _not_claimed(address: str, action: str) -> DeliveryResult:
    status, error = _NOT_CLAIMED[ClaimAction(action)]
    return DeliveryResult(recipient=address, status=status, error=error)


def _subject(digest: Digest) -> str:
    n = digest.stats.stories
    count = (
        "nothing new" if digest.is_empty else f"{n} {'story' if n == 1 else 'stories'}"
    )
    return f"{digest.title}: {digest.period.label} ({count})"
