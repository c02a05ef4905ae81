"""PostgreSQL storage (issue #13): `PgStorage`, selected by ``[store] url``.

The same per-domain mixins as the SQLite `Storage` (their SQL is portable:
no ``json_each``, no ``LIMIT -1``, no ``lastrowid``, booleans bound as ints, no
rules in SQL), run over psycopg 3 through `PgConnection` (placeholders and row
access), on the PostgreSQL DDL of `._schema`.  What differs:

* transactions: each write method is one transaction that first takes one
  advisory lock (`WRITE_LOCK`), so writers are serialised exactly as SQLite's
  ``BEGIN IMMEDIATE`` serialises them (`claim_delivery` reads then writes);
  reads run outside transactions (autocommit);
* search: there is no index here; `search_articles` refuses with one line, and
  the index stage finds an empty queue (docs/scale-out.md);
* there is no `integrity_check` (SQLite's ``PRAGMA integrity_check``; not part
  of the contract: PostgreSQL checks its own pages).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

import psycopg

from ...exceptions import StorageError
from ...models import SearchDoc, SearchFilters, SearchNode
from .._alerts import AlertsMixin
from .._articles import ArticlesMixin
from .._base import StorageBase
from .._deliveries import DeliveriesMixin
from .._digests import DigestsMixin
from .._feeds import FeedsMixin
from .._runs import RunsMixin
from .._schema import APPLICATION_ID
from .._search import SearchMixin
from .._stories import StoriesMixin
from .._topics import TopicsMixin
from .._translations import TranslationsMixin
from ..contract import StorageType
from ._conn import (
    PgConnection,
    PgRow,
    is_postgres_url,
    pg_row_factory,
    redact_url,
    translate_errors,
)
from ._copy import TableCopy, copy_archive
from ._lock import pg_run_lock
from ._schema import MIGRATIONS, SCHEMA_LOCK, VERSION, WRITE_LOCK, statements

if TYPE_CHECKING:
    import sqlite3

__all__ = [
    "VERSION",
    "PgStorage",
    "TableCopy",
    "copy_archive",
    "is_postgres_url",
    "pg_run_lock",
    "redact_url",
]

SEARCH_REFUSED = (
    "monitor search needs the SQLite store: the PostgreSQL store has no"
    " full-text index yet (docs/scale-out.md)"
)


class _PgBase(StorageBase):
    """Transactions and queries on one psycopg connection (autocommit between)."""

    _pg: PgConnection

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self._in_batch:  # joins the open `write_batch` transaction
            yield cast("sqlite3.Connection", self._pg)
            return
        with translate_errors(), self._pg.conn.transaction():
            self._pg.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))
            # The mixins are written against sqlite3's connection interface;
            # PgConnection provides the part of it they use (monitor/store/pg/_conn.py).
            yield cast("sqlite3.Connection", self._pg)

    def _query(
        self, sql: str, params: dict[str, Any] | tuple[Any, ...] = ()
    ) -> list[sqlite3.Row]:
        rows: list[PgRow] = self._pg.execute(sql, params).fetchall()
        return cast("list[sqlite3.Row]", rows)


class _PgSearchMixin(SearchMixin):
    """The search part of the contract, without an index (module docstring)."""

    def get_search_queue(self, limit: int) -> list[int]:
        """Always empty: nothing is queued for an index that does not exist."""
        return []

    def save_search_docs(
        self, docs: Iterable[SearchDoc], handled: Sequence[int]
    ) -> None:
        raise StorageError(SEARCH_REFUSED)

    def reset_search_index(self) -> int:
        raise StorageError(SEARCH_REFUSED)

    def count_search_index(self) -> tuple[int, int]:
        return 0, 0

    def search_articles(
        self, node: SearchNode, filters: SearchFilters, *, limit: int, offset: int = 0
    ) -> list[tuple[int, float]]:
        raise StorageError(SEARCH_REFUSED)


class PgStorage(
    AlertsMixin,
    FeedsMixin,
    ArticlesMixin,
    RunsMixin,
    TranslationsMixin,
    TopicsMixin,
    StoriesMixin,
    DigestsMixin,
    DeliveriesMixin,
    _PgSearchMixin,
    _PgBase,
):
    """PostgreSQL storage.  Use as a context manager, or call `close()`."""

    def __init__(self, url: str, *, connect_timeout: float = 30.0) -> None:
        self.url = url
        try:
            conn = psycopg.connect(
                url,
                autocommit=True,
                row_factory=pg_row_factory,
                connect_timeout=max(1, int(connect_timeout)),
                application_name="monitor",
            )
        except psycopg.Error as e:
            raise StorageError(f"cannot open database {self.location}: {e}") from e
        self._pg = PgConnection(conn)
        try:
            self._setup_schema()
        except BaseException:
            conn.close()
            raise

    @property
    def location(self) -> str:
        return redact_url(self.url)

    def _setup_schema(self) -> None:
        """Create the schema on an empty database; refuse foreign or newer ones.

        Two processes opening a new database at once: the advisory lock makes
        the second wait, then find the schema in place.
        """
        with self._tx() as db:
            db.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
            version = _schema_version(self._pg)
            if version is None:
                for statement in statements():
                    db.execute(statement)
                db.execute(
                    "INSERT INTO monitor_schema (version, application_id)"
                    " VALUES (?, ?)",
                    (VERSION, APPLICATION_ID),
                )
            elif version > VERSION:
                raise StorageError(
                    f"database schema v{version} is newer than this monitor"
                    f" (v{VERSION})"
                )
            else:
                for v in range(version, VERSION):
                    _migrate(db, v)

    def integrity_check(self) -> str:
        """ "ok": the server checks its own pages; the schema version was read."""
        return "ok"

    def close(self) -> None:
        self._pg.conn.close()

    def __enter__(self) -> PgStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _migrate(db: sqlite3.Connection, from_version: int) -> None:
    """One step, inside the transaction (and schema lock) `_setup_schema` holds."""
    migration = MIGRATIONS.get(from_version)
    if migration is None:
        raise StorageError(f"no migration from schema v{from_version}")
    for statement in migration():
        db.execute(statement)
    db.execute("UPDATE monitor_schema SET version = ?", (from_version + 1,))


def _schema_version(pg: PgConnection) -> int | None:
    """The stored schema version; None for an empty database."""
    has_table = pg.execute("SELECT to_regclass('public.monitor_schema')").fetchone()
    if has_table is None or has_table[0] is None:
        tables = pg.execute(
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = 'public'"
        ).fetchone()
        if tables is not None and tables[0]:
            raise StorageError("database exists but was not created by monitor")
        return None
    row = pg.execute("SELECT version, application_id FROM monitor_schema").fetchone()
    if row is None or int(row[1]) != APPLICATION_ID:
        raise StorageError("not a monitor database (monitor_schema is not ours)")
    return int(row[0])


if TYPE_CHECKING:  # mypy checks that the PostgreSQL backend meets the contract

    def _meets_contract(storage: PgStorage) -> StorageType:
        return storage
