"""Storage methods for feeds: configured list, HTTP validators and health."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from ..models import FeedSpec, FeedState, PollOutcome  # PollOutcome: re-export
from ._base import StorageBase, from_db_time, to_db_time


class FeedsMixin(StorageBase):
    """SQL for the `feeds` table."""

    def sync_feeds(self, specs: Iterable[FeedSpec]) -> None:
        """Insert configured feeds; a changed URL forgets the old validators."""
        with self._tx() as db:
            for spec in specs:
                db.execute(
                    """
                    INSERT INTO feeds (name, url, outlet, lang, country)
                    VALUES (:name, :url, :outlet, :lang, :country)
                    ON CONFLICT(name) DO UPDATE SET
                        etag = CASE WHEN feeds.url = excluded.url THEN feeds.etag END,
                        last_modified = CASE WHEN feeds.url = excluded.url
                                             THEN feeds.last_modified END,
                        content_hash = CASE WHEN feeds.url = excluded.url
                                            THEN feeds.content_hash END,
                        url = excluded.url, outlet = excluded.outlet,
                        lang = excluded.lang, country = excluded.country
                    """,
                    {
                        "name": spec.name,
                        "url": spec.url,
                        "outlet": spec.outlet,
                        "lang": spec.lang,
                        "country": spec.country,
                    },
                )

    def get_feed_states(self) -> dict[str, FeedState]:
        """Every known feed's state, by name."""
        rows = self._query("SELECT * FROM feeds ORDER BY name")
        return {row["name"]: _feed_state(row) for row in rows}

    def update_feed_polled(
        self, name: str, outcome: PollOutcome, now: datetime
    ) -> None:
        """Record the outcome of one poll (validators, health, backoff)."""
        ok = outcome.status != "error"
        with self._tx() as db:
            db.execute(
                """
                UPDATE feeds SET
                    last_polled_at = :now,
                    last_status = :status,
                    next_poll_at = :next_poll_at,
                    etag = CASE WHEN :ok = 1 AND :status != 'not_modified' THEN :etag ELSE etag END,
                    last_modified = CASE WHEN :ok = 1 AND :status != 'not_modified'
                                         THEN :last_modified ELSE last_modified END,
                    content_hash = COALESCE(:content_hash, content_hash),
                    last_ok_at = CASE WHEN :ok = 1 THEN :now ELSE last_ok_at END,
                    last_new_item_at = CASE WHEN :new_items > 0 THEN :now
                                            ELSE last_new_item_at END,
                    failure_count = CASE WHEN :ok = 1 THEN 0 ELSE failure_count + 1 END,
                    last_error = CASE WHEN :ok = 1 THEN NULL ELSE :error END,
                    served_url = CASE WHEN :ok = 1 THEN :served_url ELSE served_url END,
                    served_via = CASE WHEN :ok = 1 THEN :served_via ELSE served_via END,
                    primary_failed_at = CASE WHEN :ok = 1 THEN :primary_failed_at
                                             ELSE primary_failed_at END
                WHERE name = :name
                """,
                {
                    "name": name,
                    "now": to_db_time(now),
                    "status": outcome.status,
                    "ok": int(ok),  # booleans bound as ints (portable SQL)
                    "etag": outcome.etag,
                    "last_modified": outcome.last_modified,
                    "content_hash": outcome.content_hash,
                    "next_poll_at": to_db_time(outcome.next_poll_at),
                    "new_items": outcome.new_items,
                    "error": outcome.error,
                    "served_url": outcome.served_url,
                    "served_via": outcome.served_via,
                    "primary_failed_at": to_db_time(outcome.primary_failed_at),
                },
            )


def _feed_state(row: sqlite3.Row) -> FeedState:
    return FeedState(
        name=row["name"],
        url=row["url"],
        outlet=row["outlet"] or row["name"],
        country=row["country"],
        lang=row["lang"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        content_hash=row["content_hash"],
        next_poll_at=from_db_time(row["next_poll_at"]),
        last_polled_at=from_db_time(row["last_polled_at"]),
        last_ok_at=from_db_time(row["last_ok_at"]),
        last_new_item_at=from_db_time(row["last_new_item_at"]),
        last_status=row["last_status"],
        failure_count=row["failure_count"],
        last_error=row["last_error"],
        served_url=row["served_url"],
        served_via=row["served_via"],
        primary_failed_at=from_db_time(row["primary_failed_at"]),
    )
