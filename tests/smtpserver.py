"""A real SMTP server on 127.0.0.1 for tests (aiosmtpd): what it received, and logins."""

from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.smtp import AuthResult


@dataclass
class Inbox:
    """What the SMTP server received: (mail_from, rcpt_tos, raw bytes)."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server, session, envelope, address, rcpt_options
    ) -> str:
        if address in self.refuse:
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 OK"

    def authenticate(
        self, server, session, envelope, mechanism, auth_data
    ) -> AuthResult:
        user = auth_data.login.decode()
        password = auth_data.password.decode()
        self.logins.append((user, password))
        return AuthResult(success=(user, password) == ("digest-bot", "s3cret-pass"))

    def parsed(self, i: int) -> EmailMessage:
        msg = email.message_from_bytes(self.messages[i][2], policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    def by_rcpt(self, address: str) -> list[EmailMessage]:
        return [self.parsed(i) for i, m in enumerate(self.messages) if address in m[1]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
