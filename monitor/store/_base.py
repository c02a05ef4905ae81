"""Connection handling shared by the storage mixins: the only place sqlite3 is used."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from ..dates import clamp_stored
from ..exceptions import NotFoundError, StorageError
from ..stages import STAGE_COLUMNS, stages_reset_by

# sqlite3.OperationalError also covers mistakes in our own SQL; those keep their
# type and traceback (issue #13: "no such column" is a bug, not a database failure).
_SQL_BUGS = (
    "no such column",
    "no such table",
    "no such function",
    "syntax error",
    "ambiguous column",
    'near "',
    "wrong number of arguments",
)


def to_db_time(value: datetime | None) -> str | None:
    """Store datetimes as ISO-8601 UTC text (STYLE.md 9)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime reached storage: {value!r}")
    return value.astimezone(UTC).isoformat(timespec="seconds")


def from_db_time(value: str | None) -> datetime | None:
    """Stored text → aware datetime; a year-1/9999 date from an old database is
    pulled into a range where arithmetic cannot overflow (issue #11)."""
    return None if value is None else clamp_stored(datetime.fromisoformat(value))


def reset_sql(event: str) -> str:
    """``SET`` assignments for `monitor.stages.stages_reset_by` (``""`` for none)."""
    return "".join(f", {STAGE_COLUMNS[s]} = 'pending'" for s in stages_reset_by(event))


def require_row(rowcount: int, what: str, key: object) -> None:
    """A write that touched no row named one that does not exist."""
    if rowcount == 0:
        raise NotFoundError(f"no such {what}", resource=key)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class StorageBase:
    """Owns the connection.  Mixins add domain methods on top of `_tx` / `_query`."""

    _db: sqlite3.Connection
    _in_batch = False

    @contextmanager
    def write_batch(self) -> Iterator[None]:
        """Run many write methods as one transaction (the contract's batched path).

        Inside the block every write method joins this transaction instead of
        committing its own: all of them or none (a kill -9 leaves none).  The
        methods and the rules they apply are unchanged; only the commits are
        shared.  Not reentrant.
        """
        if self._in_batch:
            raise RuntimeError("write_batch is not reentrant")
        with self._tx():
            self._in_batch = True
            try:
                yield
            finally:
                self._in_batch = False

    def _drop_from_index(self, db: sqlite3.Connection, article_id: int) -> None:
        """Hook: take an article about to be deleted out of the search index, in
        the caller's transaction (monitor/store/_search.py; PostgreSQL cascades)."""

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction: commit on success, roll back on any error."""
        if self._in_batch:  # joins the open `write_batch` transaction
            yield self._db
            return
        try:
            with self._db:
                # isolation_level=None is autocommit: without BEGIN every statement
                # would commit on its own and a failure would leave half a batch.
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
        except sqlite3.Error as e:
            if is_sql_bug(e):
                raise
            raise _wrap(e) from e

    def _query(
        self, sql: str, params: dict[str, Any] | tuple[Any, ...] = ()
    ) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as e:
            if is_sql_bug(e):
                raise
            raise _wrap(e) from e

    def _one(
        self, sql: str, params: dict[str, Any] | tuple[Any, ...] = ()
    ) -> sqlite3.Row | None:
        rows = self._query(sql, params)
        return rows[0] if rows else None


def is_sql_bug(e: sqlite3.Error) -> bool:
    """A mistake in our SQL or its bindings, as opposed to the database failing."""
    if isinstance(e, sqlite3.ProgrammingError | sqlite3.InterfaceError):
        return True
    if isinstance(e, sqlite3.IntegrityError):
        return False  # bad data (a foreign key, NOT NULL): the caller's item
    msg = str(e).lower()
    return isinstance(e, sqlite3.OperationalError) and msg.startswith(_SQL_BUGS)


def _wrap(e: sqlite3.Error) -> StorageError:
    msg = str(e)
    if "readonly" in msg or "read-only" in msg:
        msg = f"database is read-only ({msg})"
    elif "disk" in msg and "full" in msg:
        msg = f"disk full ({msg})"
    return StorageError(msg)
