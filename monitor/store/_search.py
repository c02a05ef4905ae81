"""Storage methods for full-text search (issue #15): SQLite FTS5.

The index holds *pre-normalised* tokens (lemmas, stems, name keys: see
monitor/search/_index.py), so FTS5's own tokenizer only splits on spaces.
Keeping it in step with the archive:

* triggers on ``articles`` (monitor/store/_schema.py, search block) put an
  article into ``search_queue`` in the same transaction as the stage write that
  changed its title, text or translation, and drop it from the index when the
  row is deleted (a merge);
* the pipeline's ``index`` stage reads the queue, builds the tokens in Python
  and, in one transaction per batch, replaces the FTS rows and empties the
  queue entries it handled.

A run killed at any point leaves either the old index row plus a queue entry,
or the new row without one: the next run finishes the job.  The PostgreSQL
backend implements the same methods with tsvector columns and GIN indexes
(monitor/store/pg/_search.py); the query arrives as a backend-neutral
`SearchNode` tree (monitor/models.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ..models import (
    SearchDoc,
    SearchFilters,
    SearchNear,
    SearchNode,
    SearchOr,
    SearchWord,
)
from ._base import StorageBase, from_db_time, to_db_time

ORIGINAL_COLUMNS = "{title body aliases}"
ENGLISH_COLUMNS = "{title_en body_en}"
ALL_COLUMNS = "{title body aliases title_en body_en}"
# bm25 column weights: title, body, title_en, body_en, aliases (titles count
# double, as in the topic rules' default title_weight).
BM25_WEIGHTS = "2.0, 1.0, 2.0, 1.0, 1.0"


class SearchMixin(StorageBase):
    """SQL for `search_fts` and `search_queue`."""

    # The table of index rows (PostgreSQL: ``search_docs``); the queue is shared.
    _INDEX_TABLE = "search_fts"

    def get_search_queue(self, limit: int) -> list[int]:
        """Ids of articles whose index entry is missing or stale, oldest first."""
        rows = self._query(
            "SELECT article_id FROM search_queue ORDER BY article_id LIMIT ?",
            (limit,),
        )
        return [int(r[0]) for r in rows]

    def save_search_docs(
        self, docs: Iterable[SearchDoc], handled: Sequence[int]
    ) -> None:
        """Replace the index rows of `handled` articles by `docs`, in one transaction.

        An id in `handled` without a doc (no longer extracted) is dropped from the
        index; every handled id leaves the queue.
        """
        with self._tx() as db:
            for start in range(0, len(handled), 500):
                chunk = tuple(handled[start : start + 500])
                marks = ",".join("?" * len(chunk))
                db.execute(f"DELETE FROM search_fts WHERE rowid IN ({marks})", chunk)
                db.execute(
                    f"DELETE FROM search_queue WHERE article_id IN ({marks})", chunk
                )
            db.executemany(
                "INSERT INTO search_fts (rowid, title, body, title_en, body_en,"
                " aliases) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (d.article_id, d.title, d.body, d.title_en, d.body_en, d.aliases)
                    for d in docs
                ],
            )

    def reset_search_index(self) -> int:
        """Empty the index and queue every extracted article (``--reindex``).

        Returns:
            The number of articles queued.
        """
        with self._tx() as db:
            db.execute(f"DELETE FROM {self._INDEX_TABLE}")
            db.execute("DELETE FROM search_queue")
            cur = db.execute(
                "INSERT INTO search_queue (article_id)"
                " SELECT id FROM articles WHERE extract_status = 'done'"
            )
            return int(cur.rowcount)

    def count_search_index(self) -> tuple[int, int]:
        """(articles indexed, articles waiting in the queue)."""
        indexed = self._one(f"SELECT count(*) FROM {self._INDEX_TABLE}")
        queued = self._one("SELECT count(*) FROM search_queue")
        return int(indexed[0]) if indexed else 0, int(queued[0]) if queued else 0

    def search_articles(
        self,
        node: SearchNode,
        filters: SearchFilters,
        *,
        limit: int,
        offset: int = 0,
    ) -> list[tuple[int, float]]:
        """Articles matching `node` in their original or their English view.

        Returns:
            (article id, bm25 score; lower is better) pairs, best first.
        """
        where, params = _filter_sql(filters)
        params.update(match=render_match(node), limit=limit, offset=offset)
        # Without filters the articles table is not joined: every index row has
        # its article (search_forget), and the join cost a lookup per match
        # (a third of a common name's query at 1M articles).
        join = "JOIN articles a ON a.id = search_fts.rowid" if where else ""
        rows = self._query(
            f"""
            SELECT search_fts.rowid, bm25(search_fts, {BM25_WEIGHTS}) AS score
            FROM search_fts {join}
            WHERE search_fts MATCH :match {where}
            ORDER BY score, search_fts.rowid LIMIT :limit OFFSET :offset
            """,
            params,
        )
        return [(int(r[0]), float(r[1])) for r in rows]

    def get_search_docs(self, article_ids: Iterable[int]) -> dict[int, SearchDoc]:
        """The current index rows of `article_ids` as stored (the search
        pre-filter): an article still in the queue has none (its row, if any,
        predates its text)."""
        ids = sorted(set(article_ids))
        out: dict[int, SearchDoc] = {}
        for start in range(0, len(ids), 500):
            chunk = tuple(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                "SELECT rowid, title, body, title_en, body_en, aliases"
                f" FROM search_fts WHERE rowid IN ({marks}) AND rowid NOT IN"
                " (SELECT article_id FROM search_queue)",
                chunk,
            )
            for r in rows:
                out[int(r[0])] = SearchDoc(
                    article_id=int(r[0]),
                    title=r[1] or "",
                    body=r[2] or "",
                    title_en=r[3] or "",
                    body_en=r[4] or "",
                    aliases=r[5] or "",
                )
        return out

    def get_latest_published(self) -> datetime | None:
        """The newest publication time of an extracted article (the web's "/")."""
        row = self._one(_latest_sql())
        return from_db_time(row[0]) if row is not None else None

    def get_story_outlets(self, story_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """Articles per outlet in each story: {story id: {outlet: count}}."""
        ids = sorted(set(story_ids))
        out: dict[int, dict[str, int]] = {}
        for start in range(0, len(ids), 500):
            chunk = tuple(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                "SELECT m.story_id, COALESCE(NULLIF(f.outlet, ''), f.name), count(*)"
                " FROM story_members m JOIN articles a ON a.id = m.article_id"
                " JOIN feeds f ON f.name = a.feed_name"
                f" WHERE m.story_id IN ({marks}) GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2",
                chunk,
            )
            for r in rows:
                out.setdefault(int(r[0]), {})[str(r[1])] = int(r[2])
        return out


def render_match(node: SearchNode) -> str:
    """The FTS5 MATCH expression: `node` in the original view OR the English one.

    A term or an OR of terms matches one view or the other exactly when it
    matches any column, so it is given once over all columns: FTS5 then reads
    each token's list once instead of twice (a common name's 20 spellings at 1M
    articles: about 45 % of the query).
    """
    inner = _render(node)
    if _words_only(node):
        return f"{ALL_COLUMNS} : ({inner})"
    return f"{ORIGINAL_COLUMNS} : ({inner}) OR {ENGLISH_COLUMNS} : ({inner})"


def _words_only(node: SearchNode) -> bool:
    if isinstance(node, SearchWord):
        return True
    return isinstance(node, SearchOr) and all(map(_words_only, node.children))


def _quote(word: SearchWord) -> str:
    text = '"' + word.token.replace('"', '""') + '"'
    return text + "*" if word.prefix else text


def _render(node: SearchNode) -> str:
    if isinstance(node, SearchWord):
        return _quote(node)
    if isinstance(node, SearchNear):
        words = " ".join(_quote(w) for w in node.words)
        return f"NEAR({words}, {node.distance})"
    if isinstance(node, SearchOr):
        return "(" + " OR ".join(_render(c) for c in node.children) + ")"
    out = "(" + " AND ".join(_render(c) for c in node.children) + ")"
    for excluded in node.excluded:
        out = f"({out} NOT {_render(excluded)})"
    return out


def _filter_sql(f: SearchFilters) -> tuple[str, dict[str, Any]]:
    parts: list[str] = []
    params: dict[str, Any] = {}
    if f.since is not None:
        parts.append("a.published >= :since")
        params["since"] = to_db_time(f.since)
    if f.until is not None:
        parts.append("a.published < :until")
        params["until"] = to_db_time(f.until)
    for column, values in (("a.feed_name", f.feeds), ("a.lang", f.langs)):
        if values:
            parts.append(f"{column} IN ({_marks(params, column, values)})")
    for facet, values in (("topic", f.topics), ("country", f.countries)):
        if values:
            marks = _marks(params, facet, values)
            parts.append(
                "EXISTS (SELECT 1 FROM filings fi WHERE fi.article_id = a.id"
                f" AND fi.facet = '{facet}' AND fi.label IN ({marks}))"
            )
    return "".join(f" AND {p}" for p in parts), params


def _marks(params: dict[str, Any], prefix: str, values: Sequence[str]) -> str:
    names = []
    for i, value in enumerate(values):
        name = f"{prefix.replace('.', '_')}_{i}"
        params[name] = value
        names.append(f":{name}")
    return ", ".join(names)


# Statements of the search block of the schema (monitor/store/_schema.py).
SEARCH_DDL: tuple[str, ...] = (
    # Tokens are pre-normalised: split on spaces only, keep й/ё-free keys as they
    # are, and keep the name-key (§), stem (~) and hyphen characters in tokens.
    """CREATE VIRTUAL TABLE search_fts USING fts5(
        title, body, title_en, body_en, aliases,
        tokenize = "unicode61 remove_diacritics 0 tokenchars '§~-'"
    )""",
    # Articles whose index row is missing or stale (filled by the triggers below).
    "CREATE TABLE search_queue (article_id INTEGER PRIMARY KEY)",
    """CREATE TRIGGER search_queue_update AFTER UPDATE OF
        title, text, title_en, text_en, extract_status ON articles
    WHEN NEW.extract_status = 'done' AND (
        OLD.extract_status IS NOT 'done' OR NEW.title IS NOT OLD.title
        OR NEW.text IS NOT OLD.text OR NEW.title_en IS NOT OLD.title_en
        OR NEW.text_en IS NOT OLD.text_en)
    BEGIN
        INSERT OR IGNORE INTO search_queue (article_id) VALUES (NEW.id);
    END""",
    """CREATE TRIGGER search_forget AFTER DELETE ON articles
    BEGIN
        DELETE FROM search_fts WHERE rowid = OLD.id;
        DELETE FROM search_queue WHERE article_id = OLD.id;
    END""",
)


def create_search_schema(db: sqlite3.Connection) -> None:
    """Migration: add the index and queue every article already extracted."""
    for statement in SEARCH_DDL:
        db.execute(statement)
    db.execute(
        "INSERT INTO search_queue (article_id)"
        " SELECT id FROM articles WHERE extract_status = 'done'"
    )


def _latest_sql() -> str:
    return "SELECT max(published) FROM articles WHERE extract_status = 'done'"
