"""Delivery claims: claim -> send -> mark done, so a digest is mailed once (#11.10).

The ``delivery_claims`` row is taken inside one ``BEGIN IMMEDIATE`` transaction,
so of two processes sending the same digest only one gets it.  The rule for
who may send lives in `monitor.mail.decide_claim`; this module stores what it
decides.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..models import DeliveryClaim
from ._base import StorageBase, from_db_time, to_db_time

# (open claim, already delivered) -> an action; "send" means take the claim.
ClaimDecider = Callable[[DeliveryClaim | None, bool], str]


class DeliveriesMixin(StorageBase):
    """SQL for ``delivery_claims`` (and the ``deliveries`` row that ends one)."""

    def claim_delivery(
        self, day: str, recipient: str, *, now: datetime, decide: ClaimDecider
    ) -> str:
        """Read the claim, ask ``decide``, take the claim when it says "send".

        Returns:
            What ``decide`` returned.
        """
        rcpt = recipient.lower()
        with self._tx() as db:
            row = db.execute(
                "SELECT claimed_at, attempts FROM delivery_claims"
                " WHERE day = ? AND recipient = ?",
                (day, rcpt),
            ).fetchone()
            claim = None
            if row is not None:
                at = from_db_time(row["claimed_at"])
                assert at is not None
                claim = DeliveryClaim(claimed_at=at, attempts=int(row["attempts"]))
            delivered = db.execute(
                "SELECT 1 FROM deliveries WHERE day = ? AND recipient = ?", (day, rcpt)
            ).fetchone()
            action = decide(claim, delivered is not None)
            if action == "send":
                db.execute(
                    "INSERT INTO delivery_claims (day, recipient, claimed_at, attempts)"
                    " VALUES (:day, :rcpt, :now, 1) ON CONFLICT(day, recipient)"
                    " DO UPDATE SET claimed_at = :now, attempts = delivery_claims.attempts + 1",
                    {"day": day, "rcpt": rcpt, "now": to_db_time(now)},
                )
        return action

    def complete_delivery(
        self, day: str, recipient: str, *, sent_at: datetime, message_id: str
    ) -> None:
        """Mark a claimed delivery done: record it and drop the claim, atomically."""
        rcpt = recipient.lower()
        with self._tx() as db:
            db.execute(
                "INSERT INTO deliveries (day, recipient, sent_at, message_id) "
                "VALUES (:day, :rcpt, :at, :mid) ON CONFLICT(day, recipient) "
                "DO UPDATE SET sent_at = :at, message_id = :mid",
                {
                    "day": day,
                    "rcpt": rcpt,
                    "at": to_db_time(sent_at),
                    "mid": message_id,
                },
            )
            db.execute(
                "DELETE FROM delivery_claims WHERE day = ? AND recipient = ?",
                (day, rcpt),
            )

    def release_delivery_claim(self, day: str, recipient: str) -> None:
        """Drop a claim whose send certainly failed (the server refused it)."""
        with self._tx() as db:
            db.execute(
                "DELETE FROM delivery_claims WHERE day = ? AND recipient = ?",
                (day, recipient.lower()),
            )

    def get_delivery_claim(self, day: str, recipient: str) -> DeliveryClaim | None:
        """The open claim for one delivery, if any (for tests and status)."""
        row = self._one(
            "SELECT claimed_at, attempts FROM delivery_claims"
            " WHERE day = ? AND recipient = ?",
            (day, recipient.lower()),
        )
        if row is None:
            return None
        at = from_db_time(row["claimed_at"])
        assert at is not None
        return DeliveryClaim(claimed_at=at, attempts=int(row["attempts"]))
