"""Storage methods for the digests domain (issue #6).

Read queries over articles, entries, feeds, filings and story members that the
digest needs, plus the ``digests`` and ``deliveries`` bookkeeping tables.
Every query orders its rows, so the same database always yields the same
digest (issue #6 "Determinism").
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from ..models import (  # DigestRecord, Sighting: re-exported
    Article,
    DigestRecord,
    Sighting,
    TopicMatch,
)
from ._articles import _ARTICLE_SELECT, _HEADS_SELECT, _article
from ._base import StorageBase, to_db_time


class DigestsMixin(StorageBase):
    """SQL for digests (tables: see _schema.SCHEMA)."""

    # ------------------------------------------------------------------ reads

    def get_articles_for_digest(
        self,
        start: datetime,
        end: datetime,
        *,
        by: str = "time",
        bodies: bool = True,
    ) -> list[Article]:
        """Articles that may belong to the window ``[start, end)``.

        Args:
            start: window start (aware).
            end: window end (aware, exclusive).
            by: ``"time"`` returns every article whose ``published`` *or*
                ``first_seen`` falls in the window (the caller applies the exact
                day rule); ``"first_seen"`` only those first seen in it.
            bodies: ``False`` leaves out the texts (``text``, ``text_en``,
                ``summary`` come back empty): a digest needs them only for the
                ledes of the stories it shows, and reads those by id.

        Returns:
            Articles ordered by id.
        """
        params = {"start": to_db_time(start), "end": to_db_time(end)}
        # One indexed range per arm (articles_first_seen, articles_published),
        # merged by id: an OR of the two ranges scans the archive (issue #19).
        ids = "SELECT id FROM articles WHERE first_seen >= :start AND first_seen < :end"
        if by == "time":
            ids += (
                " UNION SELECT id FROM articles"
                " WHERE published >= :start AND published < :end"
            )
        elif by != "first_seen":
            raise ValueError(f"unknown window rule {by!r}")
        select = _ARTICLE_SELECT if bodies else _HEADS_SELECT
        sql = f"{select} WHERE a.id IN ({ids}) ORDER BY a.id"
        return [_article(row) for row in self._query(sql, params)]

    def get_story_articles(self, story_ids: Iterable[int]) -> list[Article]:
        """Every member article of the given stories, ordered by id."""
        ids = sorted(set(story_ids))
        if not ids:
            return []
        # Membership is the truth (articles.story_id mirrors it); seeking
        # story_members by story keeps a story page off a full articles scan.
        marks = ",".join("?" * len(ids))
        sql = (
            f"{_ARTICLE_SELECT} WHERE a.id IN "
            f"(SELECT article_id FROM story_members WHERE story_id IN ({marks})) "
            "ORDER BY a.id"
        )
        return [_article(row) for row in self._query(sql, tuple(ids))]

    def get_filings_for_articles(
        self, article_ids: Iterable[int]
    ) -> dict[int, tuple[TopicMatch, ...]]:
        """Filings (topic and country) per article, ordered by facet then label."""
        out: dict[int, list[TopicMatch]] = {}
        for chunk in _chunks(sorted(set(article_ids))):
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                "SELECT article_id, facet, label, score, rule, terms, matched "
                f"FROM filings WHERE article_id IN ({marks}) "
                "ORDER BY article_id, facet, label",
                tuple(chunk),
            )
            for row in rows:
                out.setdefault(row["article_id"], []).append(_filing(row))
        return {k: tuple(v) for k, v in out.items()}

    def get_sightings_for_articles(
        self, article_ids: Iterable[int]
    ) -> dict[int, tuple[Sighting, ...]]:
        """Feed entries pointing at each article, ordered by feed name then link."""
        out: dict[int, list[Sighting]] = {}
        for chunk in _chunks(sorted(set(article_ids))):
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                "SELECT e.article_id, e.feed_name, e.link, f.outlet, f.country, f.lang "
                "FROM entries e JOIN feeds f ON f.name = e.feed_name "
                f"WHERE e.article_id IN ({marks}) "
                "ORDER BY e.article_id, e.feed_name, e.link",
                tuple(chunk),
            )
            for row in rows:
                out.setdefault(row["article_id"], []).append(
                    Sighting(
                        article_id=row["article_id"],
                        feed_name=row["feed_name"],
                        outlet=row["outlet"] or row["feed_name"],
                        country=row["country"] or "",
                        lang=row["lang"] or "",
                        link=row["link"],
                    )
                )
        return {k: tuple(v) for k, v in out.items()}

    # ------------------------------------------------------------------ digests

    def add_digest(
        self, day: str, *, generated_at: datetime, content_hash: str, path: str
    ) -> None:
        """Record (or replace) the digest written for ``day``."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO digests (day, generated_at, content_hash, path) "
                "VALUES (:day, :at, :hash, :path) ON CONFLICT(day) DO UPDATE SET "
                "generated_at = :at, content_hash = :hash, path = :path",
                {
                    "day": day,
                    "at": to_db_time(generated_at),
                    "hash": content_hash,
                    "path": path,
                },
            )

    def get_digests(self) -> list[DigestRecord]:
        """Every recorded digest, oldest key first."""
        rows = self._query(
            "SELECT day, generated_at, content_hash, path FROM digests ORDER BY day"
        )
        return [_digest_record(r) for r in rows]

    def get_last_digest(self, *, daily: bool | None = None) -> DigestRecord | None:
        """The most recently generated digest.

        Args:
            daily: True for calendar-day digests only, False for ``since:``
                digests only, None for either.
        """
        clause = ""
        if daily is not None:
            clause = (
                "WHERE day NOT LIKE 'since:%'" if daily else "WHERE day LIKE 'since:%'"
            )
        row = self._one(
            f"SELECT day, generated_at, content_hash, path FROM digests {clause} "
            "ORDER BY generated_at DESC, day DESC LIMIT 1"
        )
        return None if row is None else _digest_record(row)

    def get_daily_digest_times(self) -> dict[date, datetime]:
        """Every local day that has a daily digest, with when it was last generated.

        The scheduler (`schedule.digest_days_due`) decides from these which days
        are done; this only reads them.
        """
        rows = self._query(
            "SELECT day, generated_at FROM digests WHERE day NOT LIKE 'since:%' "
            "ORDER BY day"
        )
        return {date.fromisoformat(r["day"]): _aware(r["generated_at"]) for r in rows}

    def get_last_digest_day(self) -> str | None:
        """The latest calendar day (``YYYY-MM-DD``) that has a digest."""
        row = self._one("SELECT max(day) FROM digests WHERE day NOT LIKE 'since:%'")
        return None if row is None else row[0]

    # ------------------------------------------------------------------ deliveries

    def has_delivery(self, day: str, recipient: str) -> bool:
        """Whether the digest for ``day`` was already sent to ``recipient``."""
        row = self._one(
            "SELECT 1 FROM deliveries WHERE day = ? AND recipient = ?",
            (day, recipient.lower()),
        )
        return row is not None

    def add_delivery(
        self, day: str, recipient: str, *, sent_at: datetime, message_id: str
    ) -> None:
        """Record that the digest for ``day`` reached ``recipient`` (replaces)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO deliveries (day, recipient, sent_at, message_id) "
                "VALUES (:day, :rcpt, :at, :mid) ON CONFLICT(day, recipient) "
                "DO UPDATE SET sent_at = :at, message_id = :mid",
                {
                    "day": day,
                    "rcpt": recipient.lower(),
                    "at": to_db_time(sent_at),
                    "mid": message_id,
                },
            )

    def get_deliveries(self, day: str) -> list[tuple[str, datetime, str]]:
        """``(recipient, sent_at, message_id)`` for ``day``, by recipient."""
        rows = self._query(
            "SELECT recipient, sent_at, message_id FROM deliveries "
            "WHERE day = ? ORDER BY recipient",
            (day,),
        )
        return [(r["recipient"], _aware(r["sent_at"]), r["message_id"]) for r in rows]


# ---------------------------------------------------------------------- helpers


def _chunks(ids: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _aware(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _json_list(raw: str | None) -> tuple[str, ...]:
    try:
        value = json.loads(raw or "[]")
    except json.JSONDecodeError:
        return ()
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value)


def _filing(row: sqlite3.Row) -> TopicMatch:
    return TopicMatch(
        facet=row["facet"],
        label=row["label"],
        score=float(row["score"]),
        rule=row["rule"],
        terms=_json_list(row["terms"]),
        matched=_json_list(row["matched"]),
    )


def _digest_record(row: sqlite3.Row) -> DigestRecord:
    return DigestRecord(
        day=row["day"],
        generated_at=_aware(row["generated_at"]),
        content_hash=row["content_hash"],
        path=row["path"],
    )
