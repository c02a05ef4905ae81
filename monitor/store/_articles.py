"""Storage methods for articles and their sightings (`entries`)."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ..entries import (
    EntryAction,
    EntryDecision,
    KnownEntry,
    decide_entry,
    duplicate_sightings,
)
from ..models import (
    Article,
    Extracted,
    FeedItem,
    TextSource,
    TranslationStatus,
)
from ..stages import STAGE_COLUMNS, error_text, merge_target, next_attempt
from ..text import clean_text
from ._base import StorageBase, from_db_time, require_row, reset_sql, to_db_time

# An entry whose content keeps changing is re-processed at most this many times
# (reader's HASH_CHANGED_LIMIT): some feeds rewrite every item on every poll.
HASH_CHANGED_LIMIT = 3

# The status column of each stage that can park an article (see park_article).
_STAGE_COLUMNS = STAGE_COLUMNS

# The one Article projection (issue #13: get_article and the digest disagreed on
# lang).  ``lang`` is the detected language, else the feed item's, else the
# feed's configured one; ``story_id`` comes from the member row when there is one.
_ARTICLE_SELECT = """
    SELECT a.id, a.canonical_url, a.url, a.feed_name, a.title, a.summary, a.text,
        a.feed_content, a.feed_lang, a.source, a.is_teaser, a.author, a.published,
        a.first_seen, COALESCE(a.lang, a.feed_lang, NULLIF(f.lang, '')) AS lang,
        a.extract_status, a.translation_status, a.title_en, a.text_en,
        a.translation_note, a.translation_engine,
        COALESCE(sm.story_id, a.story_id) AS story_id,
        a.last_error, a.pruned_at, f.outlet AS outlet, f.country AS country
    FROM articles a JOIN feeds f ON f.name = a.feed_name
    LEFT JOIN story_members sm ON sm.article_id = a.id
"""


# The same columns without the texts (a digest's window: `get_articles_for_digest`).
_HEADS_SELECT = (
    _ARTICLE_SELECT.replace("a.summary, a.text,", "'' AS summary, '' AS text,")
    .replace("a.feed_content,", "NULL AS feed_content,")
    .replace("a.text_en,", "NULL AS text_en,")
)


class ArticlesMixin(StorageBase):
    """SQL for `articles` and `entries`; each stage's status lives on the article row."""

    def add_feed_items(
        self, items: Sequence[tuple[FeedItem, str]], now: datetime
    ) -> int:
        """Upsert one feed's items, each with its canonical URL, in one transaction.

        An article is keyed by canonical URL, a sighting by (feed, entry id): the same
        article reached from two feeds is stored once with two sightings.

        Returns:
            The number of new articles.
        """
        new = 0
        with self._tx() as db:
            for item, canonical in items:
                new += _upsert_item(db, _storable(item), canonical, to_db_time(now))
        return new

    def get_articles_needing_extraction(
        self, limit: int, *, article_ids: Sequence[int] | None = None
    ) -> list[tuple[Article, FeedItem]]:
        """Articles whose page still has to be fetched and extracted, oldest first.

        Args:
            limit: at most this many.
            article_ids: only these (a worker's job); None: any.
        """
        only = ""
        if article_ids is not None:
            only = f" AND a.id IN ({','.join('?' * len(article_ids)) or 'NULL'})"
        rows = self._query(
            _ARTICLE_SELECT
            + f" WHERE a.extract_status = 'pending'{only} ORDER BY a.id LIMIT ?",
            (*(article_ids or ()), limit),
        )
        return [(_article(r), _feed_item(r)) for r in rows]

    def save_extraction(self, article_id: int, ex: Extracted, now: datetime) -> int:
        """Store extracted text; downstream stages start again for this article.

        When the page's canonical URL is already another article's, the two are the
        same article: sightings move to the existing row and this one is dropped.

        Returns:
            The id of the article that now holds the text.

        Raises:
            NotFoundError: there is no article ``article_id``.
        """
        with self._tx() as db:
            target = merge_target(article_id, _holder(db, article_id, ex.canonical_url))
            if target is not None:
                _require_article(db, article_id)
                self._drop_from_index(db, article_id)
                _merge_into(db, article_id, target)
                return target
            cur = db.execute(
                f"""
                UPDATE articles SET
                    canonical_url = :canonical_url, title = :title, text = :text,
                    source = :source, is_teaser = :is_teaser, author = :author,
                    lang = :lang, published = COALESCE(published, :published),
                    extract_status = 'done', last_error = NULL{reset_sql("extract")},
                    pruned_at = NULL, updated_at = :now
                WHERE id = :id
                """,
                {
                    "id": article_id,
                    "canonical_url": ex.canonical_url,
                    "title": ex.title,
                    "text": ex.text,
                    "source": ex.source.value,
                    "is_teaser": int(ex.is_teaser),
                    "author": ex.author,
                    "lang": ex.lang,
                    "published": to_db_time(ex.published),
                    "now": to_db_time(now),
                },
            )
            require_row(cur.rowcount, "article", article_id)
        return article_id

    def record_article_error(
        self, article_id: int, stage: str, error: str, now: datetime
    ) -> int:
        """Count a failed attempt; the row stays pending for the next run.

        Attempts count per stage: the first failure in a new stage (the last
        error names another one) starts again from 1.

        Returns:
            The number of attempts so far in this stage.

        Raises:
            NotFoundError: there is no article ``article_id``.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT attempts, last_error FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
            require_row(0 if row is None else 1, "article", article_id)
            attempts = next_attempt(row["last_error"], stage, int(row["attempts"]))
            db.execute(
                "UPDATE articles SET attempts = ?, last_error = ?,"
                " updated_at = ? WHERE id = ?",
                (attempts, error_text(stage, error), to_db_time(now), article_id),
            )
            return attempts

    def park_article(self, article_id: int, stage: str, now: datetime) -> None:
        """Give up on an article in one stage (issue #11): its status becomes
        'failed', so the stage no longer selects it; `monitor status` counts it."""
        column = _STAGE_COLUMNS[stage]
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE articles SET {column} = 'failed', updated_at = ? WHERE id = ?",
                (to_db_time(now), article_id),
            )
            require_row(cur.rowcount, "article", article_id)

    def get_article(self, article_id: int) -> Article | None:
        row = self._one(_ARTICLE_SELECT + " WHERE a.id = ?", (article_id,))
        return None if row is None else _article(row)

    def get_article_id_by_url(self, canonical_url: str) -> int | None:
        """The id of the article with this canonical URL (`monitor explain URL`)."""
        row = self._one(
            "SELECT id FROM articles WHERE canonical_url = ?", (canonical_url,)
        )
        return None if row is None else int(row["id"])

    def get_articles(self, article_ids: Iterable[int]) -> list[Article]:
        ids = list(article_ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._query(
            _ARTICLE_SELECT + f" WHERE a.id IN ({marks}) ORDER BY a.id", tuple(ids)
        )
        return [_article(r) for r in rows]

    def get_sightings(self, article_id: int) -> list[tuple[str, str]]:
        """(feed name, link) of every feed entry that pointed at the article."""
        rows = self._query(
            "SELECT feed_name, link FROM entries WHERE article_id = ? ORDER BY first_seen,"
            " feed_name",
            (article_id,),
        )
        return [(r["feed_name"], r["link"]) for r in rows]


def _upsert_item(
    db: sqlite3.Connection, item: FeedItem, canonical: str, now: str | None
) -> int:
    decision = decide_entry(
        item.entry_id,
        item.hash,
        _known_entries(
            db,
            "e.feed_name = ? AND a.canonical_url = ?",
            (item.feed_name, canonical),
        ),
        next(
            iter(
                _known_entries(
                    db,
                    "e.feed_name = ? AND e.entry_id = ?",
                    (item.feed_name, item.entry_id),
                )
            ),
            None,
        ),
        change_limit=HASH_CHANGED_LIMIT,
    )
    if decision.action is not EntryAction.INSERT:
        _apply_entry_decision(db, item, decision, now)
        return 0
    cur = db.execute(
        """
        INSERT INTO articles (canonical_url, url, feed_name, title, summary, feed_content,
                              feed_lang, published, first_seen, author, updated_at)
        VALUES (:canonical, :url, :feed, :title, :summary, :content, :lang, :published,
                :now, :author, :now)
        ON CONFLICT(canonical_url) DO NOTHING
        """,
        {
            "canonical": canonical,
            "url": item.link or canonical,
            "feed": item.feed_name,
            "title": item.title,
            "summary": item.summary,
            "content": item.content,
            "lang": item.lang,
            "published": to_db_time(item.published),
            "now": now,
            "author": item.author,
        },
    )
    created = cur.rowcount == 1
    article_id = db.execute(
        "SELECT id FROM articles WHERE canonical_url = ?", (canonical,)
    ).fetchone()[0]
    db.execute(
        "INSERT INTO entries (feed_name, entry_id, article_id, link, title, published,"
        " hash, first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            item.feed_name,
            item.entry_id,
            article_id,
            item.link,
            item.title,
            to_db_time(item.published),
            item.hash,
            now,
        ),
    )
    return int(created)


def _known_entries(
    db: sqlite3.Connection, where: str, params: tuple[str, ...]
) -> list[KnownEntry]:
    rows = db.execute(
        "SELECT e.entry_id, e.article_id, e.hash, e.updated_count FROM entries e"
        f" JOIN articles a ON a.id = e.article_id WHERE {where}",
        params,
    ).fetchall()
    return [KnownEntry(**{k: r[k] for k in _KNOWN}) for r in rows]


_KNOWN = ("entry_id", "article_id", "hash", "updated_count")


def _apply_entry_decision(
    db: sqlite3.Connection, item: FeedItem, d: EntryDecision, now: str | None
) -> None:
    """Store what `decide_entry` decided for a known entry (issue #11.8)."""
    assert d.row is not None
    feed = item.feed_name
    for entry_id in d.prune:
        db.execute(
            "DELETE FROM entries WHERE feed_name = ? AND entry_id = ?", (feed, entry_id)
        )
    if d.rename:  # the feed issued a new guid for the same article
        db.execute(
            "UPDATE entries SET entry_id = ?, link = ? WHERE feed_name = ?"
            " AND entry_id = ?",
            (item.entry_id, item.link, feed, d.row.entry_id),
        )
    if d.action is EntryAction.UPDATE:
        _update_known_entry(db, item, d.row.article_id, now)


def _update_known_entry(
    db: sqlite3.Connection, item: FeedItem, article_id: int, now: str | None
) -> None:
    """A known entry changed (edited headline, fixed text): refresh, within a cap."""
    db.execute(
        "UPDATE entries SET hash = ?, title = ?, updated_count = updated_count + 1"
        " WHERE feed_name = ? AND entry_id = ?",
        (item.hash, item.title, item.feed_name, item.entry_id),
    )
    db.execute(
        f"""
        UPDATE articles SET title = :title, summary = :summary, feed_content = :content,
            attempts = 0, updated_at = :now{reset_sql("entry_changed")}
        WHERE id = :id AND feed_name = :feed
        """,
        {
            "title": item.title,
            "summary": item.summary,
            "content": item.content,
            "now": now,
            "id": article_id,
            "feed": item.feed_name,
        },
    )


def _holder(db: sqlite3.Connection, article_id: int, canonical: str) -> int | None:
    """Another article that already has this canonical URL, if any."""
    row = db.execute(
        "SELECT id FROM articles WHERE canonical_url = ? AND id != ?",
        (canonical, article_id),
    ).fetchone()
    return None if row is None else int(row[0])


def _require_article(db: sqlite3.Connection, article_id: int) -> None:
    row = db.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone()
    require_row(0 if row is None else 1, "article", article_id)


def _merge_into(db: sqlite3.Connection, duplicate: int, target: int) -> None:
    """Fold a row found to be a copy of `target` (same canonical URL after fetch)."""
    db.execute(
        "UPDATE entries SET article_id = ? WHERE article_id = ?", (target, duplicate)
    )
    rows = db.execute(
        "SELECT feed_name, entry_id, article_id, hash, updated_count FROM entries"
        " WHERE article_id = ?",
        (target,),
    ).fetchall()
    known = [(r["feed_name"], KnownEntry(**{k: r[k] for k in _KNOWN})) for r in rows]
    for feed, entry_id in duplicate_sightings(known):  # issue #11.8
        db.execute(
            "DELETE FROM entries WHERE feed_name = ? AND entry_id = ?", (feed, entry_id)
        )
    for table in ("filings", "story_members", "story_features"):
        db.execute(f"DELETE FROM {table} WHERE article_id = ?", (duplicate,))
    db.execute("DELETE FROM articles WHERE id = ?", (duplicate,))


_SOURCES = {s.value: s for s in TextSource}
_STATUSES = {s.value: s for s in TranslationStatus}


def _article(row: sqlite3.Row) -> Article:
    """A row of `_ARTICLE_SELECT` as an `Article` (every query uses this one)."""
    source, status = row["source"], row["translation_status"]
    return Article(
        id=row["id"],
        canonical_url=row["canonical_url"],
        url=row["url"],
        feed_name=row["feed_name"],
        outlet=row["outlet"] or row["feed_name"],
        country=row["country"] or "",
        title=row["title"] or "",
        text=row["text"] or "",
        source=_SOURCES.get(source),
        is_teaser=bool(row["is_teaser"]),
        author=row["author"],
        published=from_db_time(row["published"]),
        first_seen=from_db_time(row["first_seen"]),  # type: ignore[arg-type]
        lang=row["lang"],
        extract_status=row["extract_status"],
        translation_status=_STATUSES.get(status, TranslationStatus.PENDING),
        title_en=row["title_en"],
        text_en=row["text_en"],
        translation_note=row["translation_note"],
        translation_engine=row["translation_engine"],
        summary=row["summary"] or "",
        story_id=row["story_id"],
        last_error=row["last_error"],
        pruned_at=from_db_time(row["pruned_at"]),
    )


def _feed_item(row: sqlite3.Row) -> FeedItem:
    """Rebuild the feed's view of an article: the extraction fallback chain needs it."""
    return FeedItem(
        feed_name=row["feed_name"],
        entry_id="",
        link=row["url"],
        title=row["title"],
        published=from_db_time(row["published"]),
        summary=row["summary"],
        content=row["feed_content"],
        author=row["author"],
        lang=row["feed_lang"],
    )


def _storable(item: FeedItem) -> FeedItem:
    """Last line of defence (issue #11): sqlite refuses lone surrogates.

    Parsers already call `monitor.text.clean_text`; a source that forgot must
    not stop every run with ``UnicodeEncodeError``.
    """
    changes: dict[str, Any] = {
        f.name: clean_text(v)
        for f in dataclasses.fields(item)
        if isinstance(v := getattr(item, f.name), str) and clean_text(v) != v
    }
    return dataclasses.replace(item, **changes) if changes else item
