"""Storage methods for retention (issue #19): `monitor prune`.

What is old enough and what may be pruned is decided in `monitor.retention`
(pure, time passed in); these methods read the candidates in an index range
and apply a decision.  `prune_articles` is one transaction per batch: an
article is either untouched or has lost its body, its story features and its
cached sentences *and* carries ``pruned_at`` (kill -9 safe).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from ..models import PruneCandidate
from ._base import StorageBase, from_db_time, to_db_time
from ._search import blank_bodies

_CHUNK = 500  # ids or keys per IN (...), well under SQLite's variable limit

_CANDIDATES = """
SELECT a.id, a.first_seen, a.published, a.extract_status, a.translation_status,
       a.classify_status, a.story_status, a.title, coalesce(a.text, '') AS text,
       a.translation_engine,
       coalesce(length(a.text), 0) + coalesce(length(a.text_en), 0)
           + length(a.feed_content) AS body_bytes,
       coalesce(length(f.features), 0) AS feature_bytes
FROM articles a LEFT JOIN story_features f ON f.article_id = a.id
WHERE a.pruned_at IS NULL AND a.first_seen < :before
  AND (a.first_seen, a.id) > (:after_seen, :after_id)
ORDER BY a.first_seen, a.id
LIMIT :limit
"""


class PruneMixin(StorageBase):
    """SQL for pruning (the ``articles_unpruned`` partial index)."""

    def get_prune_candidates(
        self,
        before: datetime,
        *,
        after: tuple[datetime, int] | None = None,
        limit: int = 500,
    ) -> list[PruneCandidate]:
        """Unpruned articles first seen before ``before``, oldest first.

        Args:
            before: the cutoff (`monitor.retention.prune_cutoff`).
            after: the ``(first_seen, id)`` of the last candidate of the previous
                page (keyset paging: each page is one index range).
            limit: at most this many.
        """
        seen, last_id = after if after is not None else (None, 0)
        rows = self._query(
            _CANDIDATES,
            {
                "before": to_db_time(before),
                "after_seen": to_db_time(seen) if seen is not None else "",
                "after_id": last_id,
                "limit": limit,
            },
        )
        return [_candidate(r) for r in rows]

    def count_prune_candidates(self, before: datetime) -> int:
        """How many unpruned articles were first seen before ``before``."""
        row = self._one(
            "SELECT count(*) FROM articles WHERE pruned_at IS NULL AND first_seen < ?",
            (to_db_time(before),),
        )
        return int(row[0]) if row else 0

    def count_pruned_articles(self) -> int:
        """How many articles have been pruned (``monitor status``, tests)."""
        row = self._one("SELECT count(*) FROM articles WHERE pruned_at IS NOT NULL")
        return int(row[0]) if row else 0

    def prune_articles(
        self, article_ids: Sequence[int], cache_keys: Sequence[str], now: datetime
    ) -> tuple[int, int]:
        """Prune these articles in one transaction: body, features, cache rows.

        The headline, link, English title, filings, sightings and story
        membership stay; the search index keeps the article under its headline.
        An article already pruned is left as it is.

        Args:
            article_ids: the articles `monitor.retention` chose.
            cache_keys: translation-cache keys of their sentences
                (`monitor.translate.article_cache_keys`).
            now: stored as ``pruned_at``.

        Returns:
            (articles pruned, cached sentences dropped).
        """
        at = to_db_time(now)
        pruned = dropped = 0
        with self._tx() as db:
            for start in range(0, len(article_ids), _CHUNK):
                chunk = tuple(article_ids[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                cur = db.execute(
                    "UPDATE articles SET text = NULL, text_en = NULL,"
                    " feed_content = '', pruned_at = ?, updated_at = ?"
                    f" WHERE id IN ({marks}) AND pruned_at IS NULL",
                    (at, at, *chunk),
                )
                pruned += int(cur.rowcount)
                db.execute(
                    f"DELETE FROM story_features WHERE article_id IN ({marks})", chunk
                )
                self._prune_search_rows(db, chunk)
            for start in range(0, len(cache_keys), _CHUNK):
                keys = tuple(cache_keys[start : start + _CHUNK])
                marks = ",".join("?" * len(keys))
                cur = db.execute(
                    f"DELETE FROM translation_cache WHERE key IN ({marks})", keys
                )
                dropped += int(cur.rowcount)
        return pruned, dropped

    def drop_story_features(self, before: datetime, *, limit: int) -> int:
        """Drop at most ``limit`` story features of articles whose story time is
        before ``before`` (``prune --features-only``), oldest first, in one
        transaction; bodies stay, so the features can be recomputed.

        Returns:
            How many were dropped.
        """
        with self._tx() as db:
            cur = db.execute(
                "DELETE FROM story_features WHERE article_id IN (SELECT article_id"
                " FROM story_features WHERE published < ? ORDER BY published LIMIT ?)",
                (to_db_time(before), limit),
            )
        return int(cur.rowcount)

    def count_story_features(self, before: datetime) -> tuple[int, int]:
        """(rows, bytes) of the story features whose story time is before ``before``."""
        row = self._one(
            "SELECT count(*), coalesce(sum(length(features)), 0) FROM story_features"
            " WHERE published < ?",
            (to_db_time(before),),
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def count_cached_keys(self, cache_keys: Sequence[str]) -> int:
        """How many of these translation-cache keys are stored (``--dry-run``)."""
        found = 0
        for start in range(0, len(cache_keys), _CHUNK):
            keys = tuple(cache_keys[start : start + _CHUNK])
            marks = ",".join("?" * len(keys))
            row = self._one(
                f"SELECT count(*) FROM translation_cache WHERE key IN ({marks})", keys
            )
            found += int(row[0]) if row else 0
        return found

    def _prune_search_rows(
        self, db: sqlite3.Connection, article_ids: tuple[int, ...]
    ) -> None:
        """Empty the body columns of the articles' search rows (the headline
        columns stay: search still finds them).  The update trigger has queued
        them too, so the index stage rebuilds the rows from what is left."""
        blank_bodies(db, article_ids)


def _candidate(row: sqlite3.Row) -> PruneCandidate:
    first_seen = from_db_time(row["first_seen"])
    assert first_seen is not None  # NOT NULL column
    return PruneCandidate(
        article_id=int(row["id"]),
        first_seen=first_seen,
        published=from_db_time(row["published"]),
        extract_status=row["extract_status"],
        translation_status=row["translation_status"],
        classify_status=row["classify_status"],
        story_status=row["story_status"],
        title=row["title"] or "",
        text=row["text"] or "",
        translation_engine=row["translation_engine"],
        body_bytes=int(row["body_bytes"]),
        feature_bytes=int(row["feature_bytes"]),
    )
