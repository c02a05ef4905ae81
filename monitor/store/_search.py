"""Storage methods for full-text search (issue #15): SQLite FTS5.

The index holds *pre-normalised* tokens (lemmas, stems, name keys: see
monitor/search/_index.py), so FTS5's own tokenizer only splits on spaces.
Keeping it in step with the archive:

* triggers on ``articles`` (monitor/store/_schema.py, search block) put an
  article into ``search_queue`` in the same transaction as the stage write that
  changed its title, text or translation, or deleted the row;
* the pipeline's ``index`` stage reads the queue, builds the tokens in Python
  and, in one transaction per batch, replaces the FTS rows and empties the
  queue entries it handled.

The FTS5 table is *contentless* (schema v11): it keeps the token lists and
positions, not a second copy of every token (that copy was a third of the file:
issue #19).  A contentless row can only be taken out with the very tokens it
was indexed with, so ``search_text`` keeps them, zlib-compressed (about 2.7×
smaller); the search pre-filter reads them from there too.  Every write of the
index goes through `_forget` and `_insert`, which keep the two in step inside
the caller's transaction.

A run killed at any point leaves either the old index row plus a queue entry,
or the new row without one: the next run finishes the job.  The PostgreSQL
backend implements the same methods with tsvector columns and GIN indexes
(monitor/store/pg/_search.py); the query arrives as a backend-neutral
`SearchNode` tree (monitor/models.py).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import zlib
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

logger = logging.getLogger(__name__)

ORIGINAL_COLUMNS = "{title body aliases}"
ENGLISH_COLUMNS = "{title_en body_en}"
ALL_COLUMNS = "{title body aliases title_en body_en}"
# bm25 column weights: title, body, title_en, body_en, aliases (titles count
# double, as in the topic rules' default title_weight).
BM25_WEIGHTS = "2.0, 1.0, 2.0, 1.0, 1.0"


class SearchMixin(StorageBase):
    """SQL for `search_fts` and `search_queue`."""

    # One row per indexed article (PostgreSQL: ``search_docs``); the queue is shared.
    _INDEX_TABLE = "search_text"

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
            _forget(db, handled)
            for chunk in _chunks(handled):
                marks = ",".join("?" * len(chunk))
                db.execute(
                    f"DELETE FROM search_queue WHERE article_id IN ({marks})", chunk
                )
            docs = list(docs)
            live = _existing(db, [d.article_id for d in docs])  # a merge may have won
            _insert(db, [d for d in docs if d.article_id in live])

    def reset_search_index(self) -> int:
        """Empty the index and queue every extracted article (``--reindex``).

        Returns:
            The number of articles queued.
        """
        with self._tx() as db:
            self._clear_index(db)
            db.execute("DELETE FROM search_queue")
            cur = db.execute(
                "INSERT INTO search_queue (article_id)"
                " SELECT id FROM articles WHERE extract_status = 'done'"
            )
            return int(cur.rowcount)

    def _clear_index(self, db: sqlite3.Connection) -> None:
        """Empty the index (``--reindex``); PostgreSQL: its ``search_docs``."""
        db.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
        db.execute("DELETE FROM search_text")

    def _drop_from_index(self, db: sqlite3.Connection, article_id: int) -> None:
        """Take the row of an article about to be deleted (a merge) out of the
        index, in the caller's transaction (PostgreSQL: the row cascades)."""
        _forget(db, (article_id,))

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
                "SELECT article_id, doc FROM search_text"
                f" WHERE article_id IN ({marks}) AND article_id NOT IN"
                " (SELECT article_id FROM search_queue)",
                chunk,
            )
            for r in rows:
                out[int(r[0])] = unpack_doc(int(r[0]), r[1])
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


# -------------------------------------------------------------- index rows

COLUMNS = ("title", "body", "title_en", "body_en", "aliases")  # search_fts's order
_CHUNK = 500  # ids per IN (...) list
_INSERT_FTS = (
    "INSERT INTO {table} (rowid, title, body, title_en, body_en, aliases)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_DELETE_FTS = (
    f"INSERT INTO search_fts (search_fts, rowid, {', '.join(COLUMNS)})"
    " VALUES ('delete', ?, ?, ?, ?, ?, ?)"
)


def pack_doc(doc: SearchDoc) -> bytes:
    """A doc's tokens as stored in ``search_text``: compressed JSON of `COLUMNS`."""
    values = [getattr(doc, c) for c in COLUMNS]
    return zlib.compress(json.dumps(values, ensure_ascii=False).encode(), 6)


def unpack_doc(article_id: int, blob: bytes) -> SearchDoc:
    """The `SearchDoc` that `pack_doc` stored."""
    values = json.loads(zlib.decompress(blob))
    return SearchDoc(article_id=article_id, **dict(zip(COLUMNS, values, strict=True)))


def _chunks(ids: Sequence[int]) -> Iterable[tuple[int, ...]]:
    for start in range(0, len(ids), _CHUNK):
        yield tuple(ids[start : start + _CHUNK])


def _existing(db: sqlite3.Connection, ids: Sequence[int]) -> set[int]:
    """Which of these articles exist."""
    out: set[int] = set()
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        rows = db.execute(f"SELECT id FROM articles WHERE id IN ({marks})", chunk)
        out.update(int(r[0]) for r in rows)
    return out


def _row(doc: SearchDoc) -> tuple[Any, ...]:
    return (doc.article_id, *(getattr(doc, c) for c in COLUMNS))


def _insert(db: sqlite3.Connection, docs: Sequence[SearchDoc]) -> None:
    """Index these docs (none of them may be indexed already)."""
    db.executemany(_INSERT_FTS.format(table="search_fts"), [_row(d) for d in docs])
    db.executemany(
        "INSERT INTO search_text (article_id, doc) VALUES (?, ?)",
        [(d.article_id, pack_doc(d)) for d in docs],
    )


def _forget(db: sqlite3.Connection, ids: Sequence[int]) -> list[SearchDoc]:
    """Take these articles out of the index; returns the docs they had."""
    gone: list[SearchDoc] = []
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            f"SELECT article_id, doc FROM search_text WHERE article_id IN ({marks})",
            chunk,
        ).fetchall()
        docs = [unpack_doc(int(r[0]), r[1]) for r in rows]
        db.executemany(_DELETE_FTS, [_row(d) for d in docs])
        db.execute(f"DELETE FROM search_text WHERE article_id IN ({marks})", chunk)
        gone += docs
    return gone


def blank_bodies(db: sqlite3.Connection, ids: Sequence[int]) -> None:
    """Keep only the headline and alias columns of these articles' rows (a
    prune): search still finds the headline, and no longer the body."""
    kept = [dataclasses.replace(d, body="", body_en="") for d in _forget(db, ids)]
    _insert(db, kept)


# ------------------------------------------------------------------ schema

_TOKENIZE = """tokenize = "unicode61 remove_diacritics 0 tokenchars '§~-'\""""
# Tokens are pre-normalised: split on spaces only, keep й/ё-free keys as they
# are, and keep the name-key (§), stem (~) and hyphen characters in tokens.
_FTS = f"""CREATE VIRTUAL TABLE {{name}} USING fts5(
        title, body, title_en, body_en, aliases, content = '',
        {_TOKENIZE}
    )"""
_TEXT = """CREATE TABLE search_text (
        article_id INTEGER PRIMARY KEY,
        doc        BLOB NOT NULL  -- pack_doc: the tokens search_fts holds for it
    )"""
# Articles whose index row is missing or stale (filled by the triggers below).
_QUEUE = "CREATE TABLE search_queue (article_id INTEGER PRIMARY KEY)"
_QUEUE_UPDATE = """CREATE TRIGGER search_queue_update AFTER UPDATE OF
        title, text, title_en, text_en, extract_status ON articles
    WHEN NEW.extract_status = 'done' AND (
        OLD.extract_status IS NOT 'done' OR NEW.title IS NOT OLD.title
        OR NEW.text IS NOT OLD.text OR NEW.title_en IS NOT OLD.title_en
        OR NEW.text_en IS NOT OLD.text_en)
    BEGIN
        INSERT OR IGNORE INTO search_queue (article_id) VALUES (NEW.id);
    END"""
# A deleted article's row needs its stored tokens to go, which SQL cannot
# unpack: the store takes it out first (`_drop_from_index`), and a row deleted
# by hand is queued, so the next index stage drops it.
_FORGET = """CREATE TRIGGER search_forget AFTER DELETE ON articles
    BEGIN
        INSERT OR IGNORE INTO search_queue (article_id) VALUES (OLD.id);
    END"""

# Statements of the search block of the schema (monitor/store/_schema.py).
SEARCH_DDL: tuple[str, ...] = (
    _FTS.format(name="search_fts"),
    _TEXT,
    _QUEUE,
    _QUEUE_UPDATE,
    _FORGET,
)

# The v4-v10 block, for `create_search_schema` (v3 -> v4): FTS5 with its own
# copy of the tokens, and a trigger that deleted the row from it.
_SEARCH_DDL_V4: tuple[str, ...] = (
    f"""CREATE VIRTUAL TABLE search_fts USING fts5(
        title, body, title_en, body_en, aliases,
        {_TOKENIZE}
    )""",
    _QUEUE,
    _QUEUE_UPDATE,
    """CREATE TRIGGER search_forget AFTER DELETE ON articles
    BEGIN
        DELETE FROM search_fts WHERE rowid = OLD.id;
        DELETE FROM search_queue WHERE article_id = OLD.id;
    END""",
)


def create_search_schema(db: sqlite3.Connection) -> None:
    """Migration v3 -> v4: add the index and queue every article already extracted."""
    for statement in _SEARCH_DDL_V4:
        db.execute(statement)
    db.execute(
        "INSERT INTO search_queue (article_id)"
        " SELECT id FROM articles WHERE extract_status = 'done'"
    )


COPY_BATCH = 2_000  # index rows per fetch while the migration copies tokens
_SHADOWS = ("data", "idx", "docsize", "config")  # FTS5's own tables, as it names them


def compact_search_index(db: sqlite3.Connection) -> None:
    """Migration v10 -> v11: the index becomes contentless (issue #19).

    Nothing is re-tokenised and nothing is queued.  ``search_text`` gets every
    row's tokens from the old table's copy, and the new table adopts the old
    token lists and positions as they are: a contentless and an ordinary FTS5
    table share one index format, so FTS5's own tables are copied.  FTS5's
    ``integrity-check`` and a row count then vouch for the result; should they
    not, the index is rebuilt from ``search_text`` instead (slower, same
    outcome).  Rows of articles that no longer exist are dropped on the way.
    Timing: docs/archive.md.
    """
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'search_text'").fetchone():
        return  # already contentless (a test's older file keeps the new index)
    total = int(db.execute("SELECT count(*) FROM search_fts").fetchone()[0])
    logging.getLogger("monitor.store.migrate").info(
        "migrating the search index to schema v11 (%d rows, once; about a minute"
        " per 100,000 articles: other commands wait for it)",
        total,
    )
    db.execute(_FTS.format(name="search_fts_v11"))
    db.execute(_TEXT)
    _keep_tokens(db)
    _adopt_index(db)
    db.execute("DROP TRIGGER search_forget")
    db.execute("DROP TABLE search_fts")
    db.execute("ALTER TABLE search_fts_v11 RENAME TO search_fts")
    db.execute(_FORGET)
    if not _index_sound(db):
        logger.warning("search index copy failed its check: rebuilding it")
        _rebuild_from_text(db)
    orphans = db.execute(
        "SELECT article_id FROM search_text WHERE article_id NOT IN"
        " (SELECT id FROM articles)"
    ).fetchall()
    _forget(db, [int(r[0]) for r in orphans])


def _keep_tokens(db: sqlite3.Connection) -> None:
    """``search_text`` from the old table's copy of every row's tokens."""
    rows = db.execute(f"SELECT rowid, {', '.join(COLUMNS)} FROM search_fts")
    while batch := rows.fetchmany(COPY_BATCH):
        db.executemany(
            "INSERT INTO search_text (article_id, doc) VALUES (?, ?)",
            [(int(r[0]), pack_doc(_doc(r))) for r in batch],
        )


def _doc(row: sqlite3.Row | tuple[Any, ...]) -> SearchDoc:
    values = {c: row[i + 1] or "" for i, c in enumerate(COLUMNS)}
    return SearchDoc(article_id=int(row[0]), **values)


def _adopt_index(db: sqlite3.Connection) -> None:
    """The old table's token lists, positions and sizes, into the new table."""
    for shadow in _SHADOWS:
        db.execute(f"DELETE FROM search_fts_v11_{shadow}")
        db.execute(
            f"INSERT INTO search_fts_v11_{shadow} SELECT * FROM search_fts_{shadow}"
        )


def _index_sound(db: sqlite3.Connection) -> bool:
    """FTS5's own check passes and the index holds a row per ``search_text`` row."""
    try:
        db.execute("INSERT INTO search_fts (search_fts) VALUES ('integrity-check')")
    except sqlite3.DatabaseError as e:
        logger.warning("search index check error=%s", e)
        return False
    sizes = db.execute("SELECT count(*) FROM search_fts_docsize").fetchone()[0]
    texts = db.execute("SELECT count(*) FROM search_text").fetchone()[0]
    return bool(sizes == texts)


def _rebuild_from_text(db: sqlite3.Connection) -> None:
    """Index every ``search_text`` row again (the migration's fallback)."""
    db.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
    rows = db.execute("SELECT article_id, doc FROM search_text")
    while batch := rows.fetchmany(COPY_BATCH):
        docs = [unpack_doc(int(r[0]), r[1]) for r in batch]
        db.executemany(_INSERT_FTS.format(table="search_fts"), [_row(d) for d in docs])


def _latest_sql() -> str:
    return "SELECT max(published) FROM articles WHERE extract_status = 'done'"
