"""Storage methods for alerts (issue #16): the ``alerts`` deliveries table.

Delivery is claim -> send -> mark.  `claim_alert` reads the row and takes the
claim inside one ``BEGIN IMMEDIATE`` transaction, so of two senders only one
gets it; the rule for who may send is `monitor.alerts.decide_delivery`, passed
in.  This module stores what it decides.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from datetime import datetime

from ..models import AlertKey, AlertRecord
from ._base import StorageBase, from_db_time, to_db_time

_COLUMNS = (
    "watch, story_id, level, target, created_at, claimed_at, attempts, failures,"
    " sent_at, last_error, payload"
)
_KEY = "watch = :watch AND story_id = :story AND level = :level AND target = :target"


class AlertsMixin(StorageBase):
    """SQL for ``alerts`` (see _schema.ALERTS_DDL)."""

    def get_story_ids_grown_since(self, since: datetime) -> list[int]:
        """Stories that got a member at or after ``since`` (new or grown)."""
        rows = self._query(
            "SELECT DISTINCT story_id FROM story_members WHERE added_at >= :since"
            " ORDER BY story_id",
            {"since": to_db_time(since)},
        )
        return [int(r[0]) for r in rows]

    def get_filing_times(self, since: datetime) -> list[tuple[str, str, datetime]]:
        """(facet, label, article time) of every filing of an article whose time
        (published, else first seen) is at or after ``since``: volume bursts."""
        rows = self._query(
            "SELECT f.facet, f.label, coalesce(a.published, a.first_seen) AS t"
            " FROM filings f JOIN articles a ON a.id = f.article_id"
            " WHERE coalesce(a.published, a.first_seen) >= :since"
            " ORDER BY t, f.facet, f.label",
            {"since": to_db_time(since)},
        )
        out = []
        for r in rows:
            t = from_db_time(r["t"])
            assert t is not None  # first_seen is NOT NULL
            out.append((str(r["facet"]), str(r["label"]), t))
        return out

    def get_alert_records(self, story_ids: Iterable[int]) -> list[AlertRecord]:
        """Every delivery recorded for these stories, by watch, story, level."""
        ids = sorted(set(story_ids))
        out: list[AlertRecord] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                f"SELECT {_COLUMNS} FROM alerts WHERE story_id IN ({marks})"
                " ORDER BY watch, story_id, level, target",
                tuple(chunk),
            )
            out.extend(_record(r) for r in rows)
        return out

    def get_unsent_alerts(self) -> list[AlertRecord]:
        """Deliveries not marked sent (failed, crashed or under way), oldest first."""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM alerts WHERE sent_at IS NULL"
            " ORDER BY created_at, watch, story_id, level, target"
        )
        return [_record(r) for r in rows]

    def get_sent_alerts(
        self, since: datetime | None = None, *, watch: str | None = None
    ) -> list[AlertRecord]:
        """Delivered alerts, oldest first (``since``: sent at or after)."""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM alerts WHERE sent_at IS NOT NULL"
            # CAST: PostgreSQL cannot type a bare NULL parameter (portable SQL)
            " AND (CAST(:since AS TEXT) IS NULL OR sent_at >= :since)"
            " AND (CAST(:watch AS TEXT) IS NULL OR watch = :watch)"
            " ORDER BY sent_at, watch, story_id, level, target",
            {"since": to_db_time(since), "watch": watch},
        )
        return [_record(r) for r in rows]

    def claim_alert(
        self,
        key: AlertKey,
        *,
        payload: str,
        now: datetime,
        decide: Callable[[AlertRecord | None], bool],
    ) -> bool:
        """Read the delivery, ask ``decide``, take the claim when it says yes.

        A new delivery is created with ``payload``; a retried one keeps the
        payload it was first claimed with (the same document is re-sent).

        Returns:
            Whether the claim was taken (the caller sends, then marks).
        """
        params = _params(key) | {"now": to_db_time(now), "payload": payload}
        with self._tx() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM alerts WHERE {_KEY}", params)
            found = row.fetchone()
            if not decide(None if found is None else _record(found)):
                return False
            db.execute(
                "INSERT INTO alerts (watch, story_id, level, target, created_at,"
                " claimed_at, attempts, payload) VALUES (:watch, :story, :level,"
                " :target, :now, :now, 1, :payload)"
                " ON CONFLICT(watch, story_id, level, target) DO UPDATE SET"
                " claimed_at = :now, attempts = alerts.attempts + 1",
                params,
            )
        return True

    def get_alert(self, key: AlertKey) -> AlertRecord | None:
        """One delivery, or None."""
        row = self._one(f"SELECT {_COLUMNS} FROM alerts WHERE {_KEY}", _params(key))
        return None if row is None else _record(row)

    def mark_alert_sent(self, key: AlertKey, *, now: datetime) -> None:
        """The send succeeded: record it and drop the claim, in one transaction."""
        with self._tx() as db:
            db.execute(
                "UPDATE alerts SET sent_at = :now, claimed_at = NULL,"
                f" last_error = NULL WHERE {_KEY}",
                _params(key) | {"now": to_db_time(now)},
            )

    def mark_alert_failed(self, key: AlertKey, *, error: str) -> None:
        """The send failed for certain: count it, keep the error, drop the claim."""
        with self._tx() as db:
            db.execute(
                "UPDATE alerts SET failures = failures + 1, claimed_at = NULL,"
                f" last_error = :error WHERE {_KEY}",
                _params(key) | {"error": error},
            )


def _params(key: AlertKey) -> dict[str, object]:
    return {
        "watch": key.watch,
        "story": key.story_id,
        "level": key.level,
        "target": key.target,
    }


def _record(r: sqlite3.Row) -> AlertRecord:
    created = from_db_time(r["created_at"])
    assert created is not None  # NOT NULL
    return AlertRecord(
        key=AlertKey(
            watch=r["watch"],
            story_id=int(r["story_id"]),
            level=int(r["level"]),
            target=r["target"],
        ),
        created_at=created,
        claimed_at=from_db_time(r["claimed_at"]),
        attempts=int(r["attempts"]),
        failures=int(r["failures"]),
        sent_at=from_db_time(r["sent_at"]),
        last_error=r["last_error"],
        payload=r["payload"],
    )
