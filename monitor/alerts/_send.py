"""Send one alert to one target: mailto:, http(s):// webhook or atom:PATH.

Every failure becomes a `DeliveryError` naming the target; the caller records
it and goes on (a failed alert never fails the run).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from .. import fetch
from ..config import AlertsConfig, Config, MailConfig, resolve_path
from ..exceptions import BlockedURLError, DeliveryError, FetchError
from ..fetch import FetchStatusError
from ..mail import build_message, send_message, smtp_session
from ..models import AlertRecord
from ..xmlsafe import strip_xml_forbidden
from ._payload import atom_document, mail_bodies, subject

logger = logging.getLogger(__name__)

# Webhook answers worth trying again (the rest of 4xx will not change).
RETRY_STATUSES = frozenset({408, 425, 429})


class SentAlerts(Protocol):
    """What the Atom writer reads: the alerts already delivered."""

    def get_sent_alerts(
        self, since: datetime | None = None, *, watch: str | None = None
    ) -> list[AlertRecord]: ...


@dataclass(kw_only=True)
class Sender:
    """The channels, with what each needs injected (client, env, clock, sleep)."""

    cfg: Config
    client: httpx.Client
    env: Mapping[str, str] = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep

    def send(
        self,
        target: str,
        payload: str,
        *,
        allow_private: bool,
        store: SentAlerts,
        now: datetime,
    ) -> None:
        """Deliver one payload to one target.

        Raises:
            DeliveryError: it did not go out (the message names the target).
        """
        scheme, _, rest = target.partition(":")
        doc = json.loads(payload)
        if scheme.lower() == "mailto":
            send_mail(self.cfg.mail, self.env, rest, doc)
        elif scheme.lower() == "atom":
            write_atom(self.cfg, rest, target, doc, store=store, now=now)
        else:
            post_webhook(
                self.client,
                target,
                payload.encode("utf-8"),
                cfg=self.cfg.alerts,
                allow_private=allow_private,
                sleep=self.sleep,
            )


def send_mail(
    cfg: MailConfig, env: Mapping[str, str], address: str, doc: Mapping[str, Any]
) -> None:
    """One alert mail, through the ``[mail]`` SMTP settings."""
    text, html = mail_bodies(doc)
    msg = build_message(
        sender=cfg.sender,
        sender_name="monitor alerts",
        recipient=address,
        recipient_name="",
        subject=subject(doc),
        text=text,
        html=html,
        date=datetime.fromisoformat(str(doc["decided_at"])),
        headers={"X-Monitor-Watch": strip_xml_forbidden(str(doc.get("watch")))},
    )
    with smtp_session(cfg, env) as smtp:
        send_message(smtp, msg)


def post_webhook(
    client: httpx.Client,
    url: str,
    body: bytes,
    *,
    cfg: AlertsConfig,
    allow_private: bool,
    sleep: Callable[[float], None],
) -> None:
    """POST with ``cfg.webhook_attempts`` tries, back-off doubling between them.

    A refused address or a 4xx answer (but 408/425/429) is not retried.
    """
    delay = cfg.webhook_backoff
    for attempt in range(1, cfg.webhook_attempts + 1):
        try:
            fetch.post_json(
                client,
                url,
                body,
                allow_private=allow_private,
                timeout=cfg.webhook_timeout,
            )
            return
        except BlockedURLError as e:
            raise DeliveryError(f"refused: {e.message}", resource=url) from e
        except FetchError as e:
            final = attempt == cfg.webhook_attempts or _permanent(e)
            logger.info("webhook url=%s attempt=%d error=%s", url, attempt, e.message)
            if final:
                raise DeliveryError(
                    f"{e.message} (after {attempt} attempt(s))", resource=url
                ) from e
        sleep(delay)
        delay *= 2


def _permanent(e: FetchError) -> bool:
    if not isinstance(e, FetchStatusError):
        return False
    return 400 <= e.status < 500 and e.status not in RETRY_STATUSES


def write_atom(
    cfg: Config,
    path_text: str,
    target: str,
    doc: Mapping[str, Any],
    *,
    store: SentAlerts,
    now: datetime,
) -> None:
    """Rewrite the watch's Atom file with this alert first (atomic rename).

    The file is rebuilt from the alerts already sent to this target, so it is
    the same however often it is rewritten (a retry after kill -9 is harmless).
    """
    watch = str(doc.get("watch"))
    sent = [r for r in store.get_sent_alerts(watch=watch) if r.key.target == target]
    key = (doc.get("story", {}).get("id"), doc.get("level"))
    entries = [(now, doc)] + [
        (r.sent_at or r.created_at, json.loads(r.payload))
        for r in reversed(sent)
        if (r.key.story_id, r.key.level) != key
    ]
    text = atom_document(watch, entries[: cfg.alerts.atom_entries])
    path = resolve_path(cfg, Path(path_text))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, text)
    except OSError as e:
        raise DeliveryError(f"cannot write: {e.strerror or e}", resource=path) from e


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
