"""Storage methods for the stories domain (issue #5).

Tables: ``stories``, ``story_members``, ``story_features`` and the
``articles.story_id`` / ``articles.story_status`` columns (see _schema.SCHEMA).
A story's id is the id of its seed article (decided by `StoryClusterer`), so
ids are stable and known before anything is written.  Members are inserted
with ``ON CONFLICT DO NOTHING``: once assigned, an article never moves.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ..models import Article, Assignment, Relation, Story, StoryMember
from ._articles import _ARTICLE_SELECT, _article
from ._base import StorageBase, from_db_time, to_db_time

# The representative: the earliest full-text (non-teaser) member; ties go to
# the longer text, then the lower id.  A member whose features were pruned
# (#19) counts by its article's own times.  Deterministic, and a wire original
# usually beats its later rewrites (docs/stories.md "Representative").
_REFRESH_STORY = """
UPDATE stories SET
    representative_id = (
        SELECT m.article_id FROM story_members m
        JOIN articles a ON a.id = m.article_id
        LEFT JOIN story_features f ON f.article_id = m.article_id
        WHERE m.story_id = :story_id
        ORDER BY a.is_teaser, coalesce(f.published, a.first_seen),
                 length(coalesce(a.text, '')) DESC, a.id
        LIMIT 1),
    first_published = (
        SELECT min(coalesce(f.published, a.published, a.first_seen))
        FROM story_members m JOIN articles a ON a.id = m.article_id
        LEFT JOIN story_features f ON f.article_id = m.article_id
        WHERE m.story_id = :story_id),
    last_published = (
        SELECT max(coalesce(f.published, a.published, a.first_seen))
        FROM story_members m JOIN articles a ON a.id = m.article_id
        LEFT JOIN story_features f ON f.article_id = m.article_id
        WHERE m.story_id = :story_id)
WHERE id = :story_id
"""

_MEMBER_QUERY = """
SELECT m.story_id, m.article_id, m.relation, m.score,
       coalesce(fd.outlet, a.feed_name) AS outlet, a.lang, a.url, a.title,
       a.title_en, coalesce(f.published, a.published) AS published, a.is_teaser
FROM story_members m
JOIN articles a ON a.id = m.article_id
LEFT JOIN feeds fd ON fd.name = a.feed_name
LEFT JOIN story_features f ON f.article_id = m.article_id
WHERE m.story_id IN ({marks})
ORDER BY m.story_id, coalesce(f.published, a.first_seen), m.article_id
"""


IN_CHUNK = 500  # ids per IN list (see `get_stories`)


class StoriesMixin(StorageBase):
    """SQL for stories (tables: see _schema.SCHEMA)."""

    def get_articles_needing_story(
        self, limit: int | None = None, *, wait_for_translation: bool = True
    ) -> list[Article]:
        """Articles with text but no story yet, oldest first.

        Args:
            limit: at most this many (None: all).
            wait_for_translation: skip articles whose translation is still
                pending (pass False when translation is disabled).

        Returns:
            The articles, ordered by (published or first seen, id).
        """
        sql = (
            _ARTICLE_SELECT
            + """
            WHERE a.story_status = 'pending' AND a.extract_status = 'done'
              AND (:wait = 0 OR a.translation_status != 'pending')
            ORDER BY coalesce(a.published, a.first_seen), a.id
        """
        )
        params = {"wait": int(wait_for_translation)}
        if limit is not None:  # no LIMIT -1: not portable
            sql += " LIMIT :limit"
            params["limit"] = limit
        return [_article(r) for r in self._query(sql, params)]

    def get_story_features(self, since: datetime) -> list[tuple[int, int, bytes]]:
        """Stored features of assigned articles whose time is at or after ``since``.

        Returns:
            ``(article_id, story_id, features)`` rows, oldest first.
        """
        rows = self._query(
            """
            SELECT f.article_id, m.story_id, f.features FROM story_features f
            JOIN story_members m ON m.article_id = f.article_id
            WHERE f.published >= :since
            ORDER BY f.published, f.article_id
            """,
            {"since": to_db_time(since)},
        )
        return [(int(r[0]), int(r[1]), bytes(r[2])) for r in rows]

    def add_story_member(
        self, assignment: Assignment, features: bytes, *, now: datetime
    ) -> bool:
        """Record one assignment (see `add_story_members`)."""
        return self.add_story_members([(assignment, features)], now=now) == 1

    def add_story_members(
        self, items: Iterable[tuple[Assignment, bytes]], *, now: datetime
    ) -> int:
        """Record assignments in one transaction: story, member, features, article.

        A seed creates its story (id = the seed article's id).  An article that
        already has a member row keeps it (members never move).  The story's
        representative and first/last times are refreshed.

        Args:
            items: ``(assignment, serialised features)`` pairs.
            now: the run's clock, stored as ``created_at`` / ``added_at``.

        Returns:
            How many new stories were created.
        """
        created = 0
        with self._tx() as db:
            for assignment, blob in items:
                created += _write_assignment(db, assignment, blob, to_db_time(now))
        return created

    def get_story(self, story_id: int) -> Story | None:
        """One story with its members (outlet, language, URL, title), or None."""
        return self.get_stories([story_id]).get(story_id)

    def get_stories(self, story_ids: Iterable[int]) -> dict[int, Story]:
        """Several stories by id (the digest: group articles by ``story_id``).

        Asked in chunks of `IN_CHUNK` ids: one ``IN`` list of placeholders per
        chunk runs on both backends (no ``json_each``), and stays under
        SQLite's and PostgreSQL's limits on parameters whatever the number.
        """
        ids = sorted(set(story_ids))
        out: dict[int, Story] = {}
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start : start + IN_CHUNK]
            rows = self._query(
                f"SELECT * FROM stories WHERE id IN ({_marks(chunk)})", tuple(chunk)
            )
            members = self._members_of(chunk)
            for r in rows:
                out[int(r["id"])] = _story_from_row(r, members.get(int(r["id"]), ()))
        return out

    def get_stories_for_day(self, start: datetime, end: datetime) -> list[Story]:
        """Stories with at least one member whose time is in ``[start, end)``.

        Every member is returned, including those outside the day.

        Args:
            start: start of the (local) day, aware.
            end: end of the day, aware.

        Returns:
            Stories ordered by size (largest first), then id.
        """
        rows = self._query(
            """
            SELECT DISTINCT m.story_id FROM story_members m
            JOIN story_features f ON f.article_id = m.article_id
            WHERE f.published >= :start AND f.published < :end
            """,
            {"start": to_db_time(start), "end": to_db_time(end)},
        )
        stories = self.get_stories(int(r[0]) for r in rows)
        return sorted(stories.values(), key=lambda s: (-len(s.members), s.id))

    def get_story_counts(self) -> dict[str, int]:
        """Counts for `monitor status` (stories, multi-article stories, pending).

        From the counters the triggers keep (monitor/store/_counts.py), never a
        pass over the story tables.
        """
        rows = self._query(
            "SELECT stage, status, n FROM status_counts"
            " WHERE stage = 'story_tables' OR (stage = 'stories' AND status = 'pending')"
        )
        got = {(r["stage"], r["status"]): int(r["n"]) for r in rows}
        return {
            "stories": got.get(("story_tables", "stories"), 0),
            "multi_member_stories": got.get(("story_tables", "multi"), 0),
            "assigned_articles": got.get(("story_tables", "assigned"), 0),
            "pending_articles": got.get(("stories", "pending"), 0),
        }

    def _members_of(self, ids: Sequence[int]) -> dict[int, list[StoryMember]]:
        members: dict[int, list[StoryMember]] = {}
        sql = _MEMBER_QUERY.format(marks=_marks(ids))
        for r in self._query(sql, tuple(ids)):
            members.setdefault(int(r["story_id"]), []).append(_member_from_row(r))
        return members


def _marks(ids: Sequence[int]) -> str:
    """``?, ?, ...`` for an IN list (portable: no json_each)."""
    return ",".join("?" * len(ids))


def _write_assignment(
    db: sqlite3.Connection, a: Assignment, blob: bytes, now: str | None
) -> int:
    p: dict[str, Any] = {
        "article_id": a.article_id,
        "story_id": a.story_id,
        "relation": str(a.relation),
        "score": a.score,
        "time": to_db_time(a.time),
        "now": now,
        "features": blob,
    }
    created = 0
    if a.relation == Relation.SEED:
        cur = db.execute(
            "INSERT INTO stories (id, created_at) VALUES (:story_id, :now)"
            " ON CONFLICT(id) DO NOTHING",
            p,
        )
        created = cur.rowcount
    db.execute(
        "INSERT INTO story_features (article_id, published, features)"
        " VALUES (:article_id, :time, :features)"
        " ON CONFLICT(article_id) DO UPDATE SET published = excluded.published,"
        " features = excluded.features",
        p,
    )
    db.execute(
        "INSERT INTO story_members (article_id, story_id, relation, score, added_at)"
        " VALUES (:article_id, :story_id, :relation, :score, :now)"
        " ON CONFLICT(article_id) DO NOTHING",
        p,
    )
    db.execute(
        "UPDATE articles SET story_status = 'done', updated_at = :now, story_id ="
        " (SELECT story_id FROM story_members WHERE article_id = :article_id)"
        " WHERE id = :article_id",
        p,
    )
    story = db.execute(
        "SELECT story_id FROM story_members WHERE article_id = :article_id", p
    ).fetchone()[0]
    db.execute(_REFRESH_STORY, {"story_id": story})
    return created


def _story_from_row(r: sqlite3.Row, members: Sequence[StoryMember]) -> Story:
    return Story(
        id=int(r["id"]),
        created_at=_time(r["created_at"]),
        representative_id=r["representative_id"],
        first_published=from_db_time(r["first_published"]),
        last_published=from_db_time(r["last_published"]),
        members=tuple(members),
    )


def _member_from_row(r: sqlite3.Row) -> StoryMember:
    return StoryMember(
        article_id=int(r["article_id"]),
        outlet=r["outlet"],
        lang=r["lang"],
        url=r["url"],
        title=r["title"],
        title_en=r["title_en"],
        published=from_db_time(r["published"]),
        relation=Relation(r["relation"]),
        score=float(r["score"]),
        is_teaser=bool(r["is_teaser"]),
    )


def _time(value: str) -> datetime:
    parsed = from_db_time(value)
    if parsed is None:  # pragma: no cover - NOT NULL columns
        raise ValueError("missing time")
    return parsed
