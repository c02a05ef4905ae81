"""Copy an SQLite archive into an empty PostgreSQL store (`monitor migrate`, #13).

Every table of the PostgreSQL schema is copied row for row, in one PostgreSQL
transaction, in an order that satisfies the foreign keys (the one cycle,
``articles.story_id → stories``, is deferred to the commit).  Identity
sequences are moved past the copied ids, so new rows do not collide.  Then the
row count of every table is compared; any difference rolls the whole copy back.

The SQLite search index (``search_fts``, ``search_queue``) is not copied: the
PostgreSQL index is a different structure (tsvector), so every extracted article
is queued instead, in the same transaction, and the first run (or
``monitor search --reindex``) on PostgreSQL indexes the archive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...exceptions import StorageError
from .. import Storage

if TYPE_CHECKING:
    import sqlite3

    from . import PgStorage

# Parents before children; articles before stories (stories.representative_id),
# stories before their members; articles.story_id is the deferred one.
TABLES: tuple[str, ...] = (
    "feeds",
    "articles",
    "entries",
    "runs",
    "failures",
    "page_fetches",
    "translation_cache",
    "filings",
    "stories",
    "story_members",
    "story_features",
    "digests",
    "deliveries",
    "delivery_claims",
    "alerts",
)
IDENTITY_TABLES = ("articles", "runs", "failures", "page_fetches", "stories")
BATCH = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class TableCopy:
    """One table's rows in the source and, after the copy, in the target."""

    table: str
    source: int
    target: int


def copy_archive(
    source: Storage,
    target: PgStorage,
    *,
    progress: Callable[[str, int], None] | None = None,
) -> list[TableCopy]:
    """Copy every table of ``source`` into the empty ``target``, then verify.

    Args:
        source: the SQLite store to read (it is not changed).
        target: a PostgreSQL store with no articles, feeds or runs yet.
        progress: called with (table, rows copied) after each batch.

    Returns:
        The per-table counts, all equal.

    Raises:
        StorageError: the target already holds data, or a count differs after
            the copy (nothing is kept then).
    """
    _require_empty(target)
    with target._tx() as db:
        db.execute("SET CONSTRAINTS ALL DEFERRED")
        for table in TABLES:
            _copy_table(source, db, table, progress)
        for table in IDENTITY_TABLES:
            db.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table})) WHERE EXISTS (SELECT 1 FROM {table})"
            )
        counts = [
            TableCopy(
                table=table,
                source=_count(source._query(f"SELECT count(*) FROM {table}")),
                target=_count(db.execute(f"SELECT count(*) FROM {table}").fetchall()),
            )
            for table in TABLES
        ]
        wrong = [c for c in counts if c.source != c.target]
        if wrong:
            raise StorageError(
                "copy verification failed, nothing kept: "
                + ", ".join(f"{c.table} {c.source} → {c.target}" for c in wrong)
            )
        db.execute(
            "INSERT INTO search_queue (article_id)"
            " SELECT id FROM articles WHERE extract_status = 'done'"
        )
    return counts


def _require_empty(target: PgStorage) -> None:
    for table in ("feeds", "articles", "runs"):
        if _count(target._query(f"SELECT count(*) FROM {table}")):
            raise StorageError(
                f"{target.location} already holds data ({table} is not empty):"
                " migrate copies into a new, empty database only"
            )


def _copy_table(
    source: Storage,
    db: sqlite3.Connection,
    table: str,
    progress: Callable[[str, int], None] | None,
) -> None:
    """Stream one table across in batches (an archive need not fit in memory)."""
    probe = source._db.execute(f"SELECT * FROM {table} LIMIT 0")
    have = [d[0] for d in probe.description]
    want = {
        r[0]
        for r in db.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = ?",
            (table,),
        ).fetchall()
    }
    missing = [c for c in have if c not in want]
    if missing:  # a SQLite migration without its PostgreSQL twin: refuse, lose nothing
        raise StorageError(
            f"{table}: columns {', '.join(missing)} have no PostgreSQL column"
        )
    names = ", ".join(have)
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(have))})"
    cursor = source._db.execute(f"SELECT {names} FROM {table} ORDER BY rowid")
    while chunk := cursor.fetchmany(BATCH):
        db.executemany(sql, [tuple(r) for r in chunk])
        if progress is not None:
            progress(table, len(chunk))


def _count(rows: Sequence[Any]) -> int:
    return int(rows[0][0])
