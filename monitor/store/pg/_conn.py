"""psycopg 3 under the storage mixins' portable SQL (issue #13).

The mixins in monitor/store/ write plain SQL with ``?`` and ``:name``
placeholders and read rows by name or position (sqlite3's paramstyles and
``sqlite3.Row``).  `PgConnection` runs that same SQL on PostgreSQL:

* placeholders become psycopg's ``%s`` / ``%(name)s`` (a literal ``%`` is
  doubled; nothing inside a quoted string is touched);
* booleans are bound as ints, as the portable-SQL rule says;
* rows are `PgRow`: indexable by position and by column name, with ``keys()``.

Errors: psycopg's operational errors (server gone, disk full, read-only
transaction, lock timeout) become `StorageError`, and `ConnectionLost` (a
`StorageError`) when they left the connection broken, which `PgStorage` answers
by reconnecting and calling the method again (`backoff_delays`); a value PostgreSQL refuses
(a NUL character, a number out of range) becomes a `ValueError` naming it, an
item error like sqlite's ``UnicodeEncodeError``; everything else, including
mistakes in the SQL (undefined column, wrong binding count), is re-raised as it
is, with its traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.rows import RowMaker

from ...exceptions import StorageError

Params = dict[str, Any] | tuple[Any, ...]

# A quoted string, or a placeholder, or a percent sign (psycopg's own escape).
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(?<!:):([A-Za-z_]\w*)|\?|%")


@lru_cache(maxsize=512)
def to_psycopg(sql: str) -> str:
    """``?`` / ``:name`` placeholders → ``%s`` / ``%(name)s``; ``%`` → ``%%``."""

    def replace(m: re.Match[str]) -> str:
        text = m.group(0)
        if text.startswith(("'", '"')):
            return text.replace("%", "%%")
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        return f"%({m.group(1)})s"

    return _TOKEN.sub(replace, sql)


def _bind(params: Params) -> Params:
    """Booleans as ints: the schema's flags are INTEGER columns on both backends."""
    if isinstance(params, dict):
        return {k: int(v) if isinstance(v, bool) else v for k, v in params.items()}
    return tuple(int(v) if isinstance(v, bool) else v for v in params)


class PgRow(Sequence[Any]):
    """A result row read by position or by column name (like ``sqlite3.Row``)."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: tuple[Any, ...], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)


def pg_row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[PgRow]:
    names = [c.name for c in cursor.description or ()]
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)  # the first column of a name wins, as in sqlite3

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(tuple(values), index)

    return make


class PgCursor:
    """The part of ``sqlite3.Cursor`` the mixins use."""

    def __init__(self, cursor: psycopg.Cursor[PgRow]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self) -> PgRow | None:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[PgRow]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[PgRow]:
        return iter(self.fetchall())


class ConnectionLost(StorageError):
    """The connection to the server broke (it restarted, a network cut): a
    statement on a fresh connection may well succeed."""


class PgConnection:
    """The part of ``sqlite3.Connection`` the mixins use, over one psycopg connection."""

    def __init__(self, conn: psycopg.Connection[PgRow]) -> None:
        self.conn = conn

    @property
    def lost(self) -> bool:
        """Whether the connection is gone (broken, or closed after a failure)."""
        return self.conn.broken or self.conn.closed

    def execute(self, sql: str, params: Params = ()) -> PgCursor:
        with translate_errors(self.conn):
            cursor = self.conn.cursor()
            cursor.execute(to_psycopg(sql), _bind(params))
            return PgCursor(cursor)

    def executemany(self, sql: str, seq: Iterable[Params]) -> PgCursor:
        with translate_errors(self.conn):
            cursor = self.conn.cursor()
            cursor.executemany(to_psycopg(sql), [_bind(p) for p in seq])
            return PgCursor(cursor)


@contextmanager
def translate_errors(conn: psycopg.Connection[Any] | None = None) -> Iterator[None]:
    """Map psycopg errors at the storage boundary (module docstring).

    Args:
        conn: the connection the block uses; an operational error that left it
            broken becomes `ConnectionLost`.
    """
    try:
        yield
    except psycopg.DataError as e:
        raise ValueError(f"value refused by PostgreSQL: {first_line(e)}") from e
    except psycopg.OperationalError as e:
        if conn is not None and (conn.broken or conn.closed):
            raise ConnectionLost(first_line(e)) from e
        raise StorageError(first_line(e)) from e
    except psycopg.IntegrityError as e:
        raise StorageError(first_line(e)) from e
    except psycopg.errors.ReadOnlySqlTransaction as e:
        raise StorageError(f"database is read-only ({first_line(e)})") from e
    # anything else is a bug in our SQL: it goes on as it is


def backoff_delays(
    budget: float, *, first: float = 0.25, cap: float = 4.0
) -> tuple[float, ...]:
    """Waits between reconnect attempts: doubling from ``first``, each at most
    ``cap``, adding up to ``budget`` seconds (the last one is cut to fit).

    >>> backoff_delays(10)
    (0.25, 0.5, 1.0, 2.0, 4.0, 2.25)
    """
    delays: list[float] = []
    delay, left = first, budget
    while left > 1e-9:
        step = min(delay, cap, left)
        delays.append(round(step, 3))
        left -= step
        delay *= 2
    return tuple(delays)


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def is_postgres_url(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database (``postgresql://`` / ``postgres://``)."""
    return urlsplit(url).scheme in {"postgresql", "postgres"}


def redact_url(url: str) -> str:
    """The URL without its password, for messages and `status`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))
