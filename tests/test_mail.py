"""Digest mail through a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.config import Config, DigestConfig, MailConfig, Recipient
from monitor.digest import Digest, build_digest, send_digest
from monitor.exceptions import DeliveryError
from monitor.mail import build_message, smtp_session
from monitor.store import StorageType
from tests.smtpserver import Inbox, free_port
from tests.test_digest_helpers import GENERATED_AT, TOPICS, sample_db

DAY = date(2026, 3, 13)
TITLE = "Обзор прессы Центральной Азии"


@pytest.fixture
def storage(storage: StorageType) -> StorageType:
    """The conftest store (SQLite, then PostgreSQL) holding `sample_db`."""
    sample_db(storage)
    return storage


@pytest.fixture
def digest(storage: StorageType) -> Digest:
    return build_digest(
        storage,
        day=DAY,
        cfg=DigestConfig(title=TITLE),
        topic_order=TOPICS,
        now=GENERATED_AT,
    )


ALL = Recipient(address="analyst@example.org", name="Аналитик Иванова")
ELECTIONS = Recipient(address="desk@example.org", name="", topics=("Elections",))


def config(tmp_path: Path, port: int, *recipients: Recipient, **kw: Any) -> Config:
    mail = MailConfig(
        enabled=True,
        host="127.0.0.1",
        port=port,
        security="none",
        sender="monitor@example.org",
        timeout=3.0,
        recipients=recipients,
        **kw,
    )
    return Config(config_dir=tmp_path, digest=DigestConfig(title=TITLE), mail=mail)


def send(digest: Digest, cfg: Config, storage: StorageType, **kw: Any):
    env = kw.pop("env", {})
    return send_digest(digest, cfg, storage, env=env, now=GENERATED_AT, **kw)


def test_mail_is_multipart_utf8_with_cyrillic_headers(
    smtp: tuple[Inbox, int], storage: StorageType, digest: Digest, tmp_path: Path
) -> None:
    inbox, port = smtp
    results = send(digest, config(tmp_path, port, ALL), storage)
    assert [(r.recipient, r.status) for r in results] == [
        ("analyst@example.org", "sent")
    ]
    raw = inbox.messages[0][2]
    head = raw.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # headers are 7-bit: RFC 2047 encoded
    assert b"=?utf-8?" in head
    msg = inbox.parsed(0)
    assert msg["Subject"] == f"{TITLE}: Friday 13 March 2026 (5 stories)"
    assert msg["To"].addresses[0].display_name == "Аналитик Иванова"
    assert msg["From"].addresses[0].addr_spec == "monitor@example.org"
    assert msg["Message-ID"] == results[0].message_id
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    text, html = (p.get_content() for p in parts)
    assert "В Алматы повысят тарифы на электроэнергию" in text
    assert "В Алматы повысят тарифы на электроэнергию" in html
    assert "&lt;script&gt;document.title" in html
    assert "<script>" not in html
    assert storage.has_delivery("2026-03-13", "analyst@example.org")


def test_subscriptions_filter_topics(
    smtp: tuple[Inbox, int], storage: StorageType, digest: Digest, tmp_path: Path
) -> None:
    inbox, port = smtp
    send(digest, config(tmp_path, port, ALL, ELECTIONS), storage)
    (full,) = inbox.by_rcpt("analyst@example.org")
    (desk,) = inbox.by_rcpt("desk@example.org")
    full_text = full.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    desk_text = desk.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Filed under: Energy and utilities" in full_text  # a top story
    assert "Also under: Elections" in full_text
    # each story once: the elections story most outlets carried is a top story
    assert "TOP STORIES (1)" in desk_text
    assert "ELECTIONS (1)" in desk_text
    assert "Energy and utilities" not in desk_text
    # the header counts what this mail contains (issue #12)
    assert "2 stories from 3 outlets, 2 articles." in desk_text
    assert "OTHER" not in desk_text
    assert "(2 stories)" in desk["Subject"]
    assert "FEED HEALTH" in desk_text


def test_never_sent_twice_unless_forced(
    smtp: tuple[Inbox, int], storage: StorageType, digest: Digest, tmp_path: Path
) -> None:
    inbox, port = smtp
    cfg = config(tmp_path, port, ALL, ELECTIONS)
    send(digest, cfg, storage)
    again = send(digest, cfg, storage)
    assert {r.status for r in again} == {"skipped"}
    assert len(inbox.messages) == 2
    # a digest rebuilt later for the same day is still the same day: skipped
    rebuilt = build_digest(
        storage,
        day=DAY,
        cfg=DigestConfig(title=TITLE),
        topic_order=TOPICS,
        now=GENERATED_AT + timedelta(hours=3),
    )
    assert {r.status for r in send(rebuilt, cfg, storage)} == {"skipped"}
    forced = send(digest, cfg, storage, force=True)
    assert {r.status for r in forced} == {"sent"}
    assert len(inbox.messages) == 4
    # a new recipient added later gets it once
    late = Recipient(address="late@example.org")
    cfg2 = config(tmp_path, port, ALL, ELECTIONS, late)
    assert [r.status for r in send(digest, cfg2, storage)] == [
        "skipped",
        "skipped",
        "sent",
    ]


def test_refused_recipient_does_not_stop_others(
    smtp: tuple[Inbox, int], storage: StorageType, digest: Digest, tmp_path: Path
) -> None:
    inbox, port = smtp
    inbox.refuse.add("desk@example.org")
    results = {
        r.recipient: r
        for r in send(digest, config(tmp_path, port, ALL, ELECTIONS), storage)
    }
    assert results["analyst@example.org"].status == "sent"
    assert results["desk@example.org"].status == "failed"
    assert "desk@example.org" in (results["desk@example.org"].error or "")
    assert not storage.has_delivery("2026-03-13", "desk@example.org")
    inbox.refuse.clear()
    retry = {
        r.recipient: r.status
        for r in send(digest, config(tmp_path, port, ALL, ELECTIONS), storage)
    }
    assert retry == {"analyst@example.org": "skipped", "desk@example.org": "sent"}


def test_credentials_come_from_the_environment(
    smtp: tuple[Inbox, int], storage: StorageType, digest: Digest, tmp_path: Path
) -> None:
    inbox, port = smtp
    cfg = config(tmp_path, port, ALL, username_env="T_USER", password_env="T_PASS")
    ok = send(
        digest, cfg, storage, env={"T_USER": "digest-bot", "T_PASS": "s3cret-pass"}
    )
    assert [r.status for r in ok] == ["sent"]
    assert inbox.logins == [("digest-bot", "s3cret-pass")]
    bad = send(
        digest,
        cfg,
        storage,
        env={"T_USER": "digest-bot", "T_PASS": "wrong"},
        force=True,
    )
    assert [r.status for r in bad] == ["failed"]
    assert "login" in (bad[0].error or "")
    assert "wrong" not in (bad[0].error or "")  # never echo the password
    assert len(inbox.messages) == 1


def test_half_credentials_are_an_error(tmp_path: Path) -> None:
    cfg = MailConfig(enabled=True, host="127.0.0.1", port=1, security="none")
    with (
        pytest.raises(DeliveryError, match="MONITOR_SMTP_PASSWORD"),
        smtp_session(cfg, {"MONITOR_SMTP_USER": "x"}),
    ):
        pass


def test_unreachable_server_fails_every_recipient(
    storage: StorageType, digest: Digest, tmp_path: Path
) -> None:
    results = send(digest, config(tmp_path, free_port(), ALL, ELECTIONS), storage)
    assert [r.status for r in results] == ["failed", "failed"]
    assert "cannot connect" in (results[0].error or "")
    assert not storage.has_delivery("2026-03-13", "analyst@example.org")


def test_disabled_mail_sends_nothing(
    storage: StorageType, digest: Digest, tmp_path: Path
) -> None:
    cfg = Config(config_dir=tmp_path, mail=MailConfig(enabled=False, recipients=(ALL,)))
    assert send(digest, cfg, storage) == []


def test_malformed_address_is_refused() -> None:
    with pytest.raises(DeliveryError, match="not an e-mail address"):
        build_message(
            sender="monitor@example.org",
            sender_name="m",
            recipient="a@b\r\nBcc: x@y",
            recipient_name="",
            subject="s",
            text="t",
            html="<p>h</p>",
            date=GENERATED_AT,
        )
