"""SMTP delivery: build multipart/alternative UTF-8 messages and send them.

This module knows nothing about digests; `monitor.digest.send_digest` decides
what to send to whom.  Credentials come from the environment only: the config
names the variables (``mail.username_env`` / ``mail.password_env``), the
caller passes the environment in.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from enum import StrEnum

from .config import MailConfig
from .exceptions import DeliveryError
from .models import DeliveryClaim
from .xmlsafe import strip_xml_forbidden

logger = logging.getLogger(__name__)

# A claim older than this belongs to a sender that died between "sent" and
# "marked done"; one message never takes this long (mail.timeout is per step).
CLAIM_LEASE = timedelta(minutes=10)
# Attempts per (digest, recipient) that may end in a crash: at most twice.
MAX_SEND_ATTEMPTS = 2


class ClaimAction(StrEnum):
    """What a sender may do about one (digest key, recipient)."""

    SEND = "send"
    ALREADY_SENT = "already_sent"
    IN_PROGRESS = "in_progress"
    GAVE_UP = "gave_up"


def decide_claim(
    claim: DeliveryClaim | None,
    *,
    delivered: bool,
    now: datetime,
    force: bool = False,
    lease: timedelta = CLAIM_LEASE,
) -> ClaimAction:
    """Whether to send one delivery now (pure; storage applies it atomically).

    Delivery is claim -> send -> mark done (issue #11.10).  Two senders racing
    for the same claim cannot both win: storage runs this inside one write
    transaction.  A claim left by a crashed sender (older than ``lease``) is
    retried once: the mail may have gone out before the crash, so the reader
    gets it at most twice, never three times; after ``MAX_SEND_ATTEMPTS`` it
    is reported instead of retried.  We prefer "at most twice on a crash" to
    "at least once" with unbounded repeats, and to "at most once", which
    would silently drop a digest whenever a run dies mid-send.

    Args:
        claim: the open claim, if any.
        delivered: a delivery is already recorded as done.
        now: the current time.
        force: the user asked to send again (``--force``).
        lease: how long a claim protects an attempt in progress.
    """
    if claim is not None and now - claim.claimed_at < lease:
        return ClaimAction.IN_PROGRESS
    if delivered and not force:
        return ClaimAction.ALREADY_SENT
    if claim is not None and claim.attempts >= MAX_SEND_ATTEMPTS and not force:
        return ClaimAction.GAVE_UP
    return ClaimAction.SEND


def build_message(
    *,
    sender: str,
    sender_name: str,
    recipient: str,
    recipient_name: str,
    subject: str,
    text: str,
    html: str,
    date: datetime,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A multipart/alternative message: text/plain first, then text/html.

    Non-ASCII subjects and display names are RFC 2047 encoded, bodies are UTF-8
    (quoted-printable or base64, whichever the email package finds shorter).

    Characters XML 1.0 forbids (controls, U+FFFE/U+FFFF, lone surrogates) are
    dropped from the subject, names and bodies, as from every digest file
    (issue #11.12).

    Raises:
        DeliveryError: an address is malformed.
    """
    clean = strip_xml_forbidden
    subject, text, html = clean(subject), clean(text), clean(html)
    sender_name, recipient_name = clean(sender_name), clean(recipient_name)
    msg = EmailMessage(policy=SMTP)
    try:
        msg["From"] = _address(sender_name, sender)
        msg["To"] = _address(recipient_name, recipient)
    except (ValueError, IndexError) as e:
        raise DeliveryError(f"malformed address: {e}", resource=recipient) from e
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = make_msgid(idstring="digest", domain=_domain(sender))
    msg["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text, charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


def _address(name: str, address: str) -> Address:
    if "@" not in address or any(c in address for c in "\r\n<>,;"):
        raise ValueError(f"{address!r} is not an e-mail address")
    user, domain = address.rsplit("@", 1)
    return Address(display_name=name, username=user, domain=domain)


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1] or "localhost"


@contextmanager
def smtp_session(cfg: MailConfig, env: Mapping[str, str]) -> Iterator[smtplib.SMTP]:
    """An open, authenticated SMTP connection for a batch of messages.

    Raises:
        DeliveryError: connection, TLS or login failed, or only half of the
            credentials are set.
    """
    user = env.get(cfg.username_env) or ""
    password = env.get(cfg.password_env) or ""
    if bool(user) != bool(password):
        raise DeliveryError(
            f"set both {cfg.username_env} and {cfg.password_env}, or neither",
            resource=f"{cfg.host}:{cfg.port}",
        )
    try:
        smtp = _connect(cfg)
    except (OSError, smtplib.SMTPException) as e:
        raise DeliveryError(
            f"cannot connect: {e}", resource=f"{cfg.host}:{cfg.port}"
        ) from e
    try:
        if user:
            _login(smtp, user, password, f"{cfg.host}:{cfg.port}")
        yield smtp
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def _login(smtp: smtplib.SMTP, user: str, password: str, where: str) -> None:
    """Log in; the password never appears in an error message."""
    try:
        smtp.login(user, password)
    except smtplib.SMTPAuthenticationError as e:
        msg = f"login refused for {user}: {e.smtp_code}"
        raise DeliveryError(msg, resource=where) from e
    except UnicodeEncodeError as e:
        # smtplib sends AUTH data as ASCII only
        msg = "SMTP user name and password must be ASCII"
        raise DeliveryError(msg, resource=where) from e
    except (OSError, smtplib.SMTPException) as e:
        msg = f"login failed for {user}: {type(e).__name__}"
        raise DeliveryError(msg, resource=where) from e


def _connect(cfg: MailConfig) -> smtplib.SMTP:
    if cfg.security == "ssl":
        ctx = ssl.create_default_context()
        return smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout, context=ctx)
    smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
    if cfg.security == "starttls":
        smtp.starttls(context=ssl.create_default_context())
    return smtp


def send_message(smtp: smtplib.SMTP, msg: EmailMessage) -> str:
    """Send one message on an open session; returns its Message-ID.

    Raises:
        DeliveryError: the server refused the message or the recipient.
    """
    rcpt = str(msg["To"])
    try:
        refused = smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as e:
        raise DeliveryError(f"not sent: {e}", resource=rcpt) from e
    if refused:
        raise DeliveryError(f"refused: {refused}", resource=rcpt)
    logger.info("mail sent to=%s message_id=%s", rcpt, msg["Message-ID"])
    return str(msg["Message-ID"])
