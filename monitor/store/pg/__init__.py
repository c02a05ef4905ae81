"""PostgreSQL storage (issue #13): `PgStorage`, selected by ``[store] url``.

The same per-domain mixins as the SQLite `Storage` (their SQL is portable:
no ``json_each``, no ``LIMIT -1``, no ``lastrowid``, booleans bound as ints, no
rules in SQL), run over psycopg 3 through `PgConnection` (placeholders and row
access), on the PostgreSQL DDL of `._schema`.  What differs:

* transactions: each write method is one transaction that first takes one
  advisory lock (`WRITE_LOCK`), so writers are serialised exactly as SQLite's
  ``BEGIN IMMEDIATE`` serialises them (`claim_delivery` reads then writes);
  reads run outside transactions (autocommit);
* reconnecting: a method that fails because the connection broke (the server
  restarted, a network cut) is called again on a fresh connection, after waits
  that add up to ``reconnect_for`` seconds (`backoff_delays`); past that it is one
  `StorageError`.  This is safe because every public method is one transaction
  (or only reads): a broken transaction was rolled back by the server.  The one
  doubtful case, the connection breaking during COMMIT, is settled by asking the
  server for the transaction's fate (``pg_xact_status``): a write that did commit
  is not repeated;
* search: the same tokens in tsvector columns with GIN indexes, queried with a
  tsquery rendered from the same `SearchNode` (`._search`, docs/search.md);
* `open_read_only` (``monitor serve``): a session whose transactions are all
  read-only, at the current schema version or refused;
* there is no `integrity_check` (SQLite's ``PRAGMA integrity_check``; not part
  of the contract: PostgreSQL checks its own pages).
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

import psycopg

from ...exceptions import StorageError
from .._alerts import AlertsMixin
from .._articles import ArticlesMixin
from .._base import StorageBase
from .._deliveries import DeliveriesMixin
from .._digests import DigestsMixin
from .._feeds import FeedsMixin
from .._prune import PruneMixin
from .._runs import RunsMixin
from .._schema import APPLICATION_ID
from .._search import SearchMixin
from .._stories import StoriesMixin
from .._topics import TopicsMixin
from .._translations import TranslationsMixin
from ._conn import (
    ConnectionLost,
    PgConnection,
    PgRow,
    backoff_delays,
    first_line,
    is_postgres_url,
    pg_row_factory,
    redact_url,
    translate_errors,
)
from ._copy import TableCopy, copy_archive
from ._lock import pg_run_lock
from ._schema import (
    MIGRATIONS,
    SCHEMA_LOCK,
    SEARCH_DDL,
    VERSION,
    WRITE_LOCK,
    schema_statements,
)
from ._search import PgSearchMixin

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

logger = logging.getLogger(__name__)

# The methods that are not retried on a fresh connection (they end or inspect it).
# `write_batch`: a batch whose connection broke is lost as a whole (one error).
_NOT_RETRIED = frozenset({"close", "integrity_check", "write_batch"})

_F = TypeVar("_F", bound=Callable[..., Any])


class _PgBase(StorageBase):
    """Transactions and queries on one psycopg connection (autocommit between)."""

    _pg: PgConnection
    # The transaction being committed (its xid), while COMMIT is under way.
    _committing: str | None = None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self._in_batch:  # joins the open `write_batch` transaction
            yield cast("sqlite3.Connection", self._pg)
            return
        self._committing = None
        with translate_errors(self._pg.conn), self._pg.conn.transaction():
            row = self._pg.execute(
                "SELECT pg_advisory_xact_lock(?)::text, pg_current_xact_id()::text",
                (WRITE_LOCK,),
            ).fetchone()
            # The mixins are written against sqlite3's connection interface;
            # PgConnection provides the part of it they use (monitor/store/pg/_conn.py).
            yield cast("sqlite3.Connection", self._pg)
            self._committing = None if row is None else str(row[1])
        self._committing = None

    def _query(
        self, sql: str, params: dict[str, Any] | tuple[Any, ...] = ()
    ) -> list[sqlite3.Row]:
        rows: list[PgRow] = self._pg.execute(sql, params).fetchall()
        return cast("list[sqlite3.Row]", rows)


class _PgSearchMixin(PgSearchMixin, SearchMixin):
    """Search: tsvector/GIN (`._search`); the portable reads from `SearchMixin`."""


class _PgPruneMixin(PruneMixin):
    """Pruning, with the search rows' tsvectors cut to their titles."""

    def _prune_search_rows(
        self, db: sqlite3.Connection, article_ids: tuple[int, ...]
    ) -> None:
        """Keep only the title lexemes (weight A) of the articles' search rows,
        so the headline is still found and the body no longer is; the update
        trigger has queued them, and the index stage rebuilds them in full."""
        marks = ",".join("?" * len(article_ids))
        db.execute(
            "UPDATE search_docs SET original = ts_filter(original, '{a}'),"
            f" english = ts_filter(english, '{{a}}') WHERE article_id IN ({marks})",
            article_ids,
        )


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
    _PgPruneMixin,
    _PgBase,
):
    """PostgreSQL storage.  Use as a context manager, or call `close()`.

    One object per thread, like its connection (the retry state is per object).

    Args:
        url: the database (``postgresql://…``).
        connect_timeout: seconds for one connection attempt.
        reconnect_for: how long, in seconds, a method whose connection broke
            keeps trying on fresh ones (module docstring); 0 never retries.
    """

    def __init__(
        self, url: str, *, connect_timeout: float = 30.0, reconnect_for: float = 30.0
    ) -> None:
        self.url = url
        self._connect_timeout = max(1, int(connect_timeout))
        self._delays = backoff_delays(reconnect_for)
        self._reconnect_for = reconnect_for
        self._depth = 0  # calls under way: only the outermost one retries
        try:
            self._pg = PgConnection(self._connect())
        except psycopg.Error as e:
            raise StorageError(f"cannot open database {self.location}: {e}") from e
        try:
            self._setup_schema()
        except BaseException:
            self._pg.conn.close()
            raise

    def _connect(self) -> psycopg.Connection[PgRow]:
        return psycopg.connect(
            self.url,
            autocommit=True,
            row_factory=pg_row_factory,
            connect_timeout=self._connect_timeout,
            application_name="monitor",
        )

    def _call_reconnecting(
        self, method: Callable[..., Any], *args: Any, **kw: Any
    ) -> Any:
        """``method(self, …)``, again on a fresh connection while it fails
        because the connection broke, until the waits run out.

        Logging: each attempt at INFO; a recovered outage is one WARNING line
        (cron mails it), an unrecovered one is the `StorageError` alone.
        """
        delays = iter(self._delays)
        lost_at: float | None = None
        while True:
            try:
                if self._pg.lost:
                    self._reopen()
                result = method(self, *args, **kw)
            except ConnectionLost as e:
                self._refuse_a_committed_retry(e)
                lost_at = time.monotonic() if lost_at is None else lost_at
                delay = next(delays, None)
                if delay is None:
                    raise StorageError(
                        f"lost the connection to {self.location} and could not"
                        f" reconnect within {self._reconnect_for:g} s ({e})"
                    ) from e
                logger.info("database connection lost (%s); again in %.2g s", e, delay)
                time.sleep(delay)
            else:
                if lost_at is not None:
                    logger.warning(
                        "database connection lost and restored after %.1f s (%s)",
                        time.monotonic() - lost_at,
                        self.location,
                    )
                return result

    def _reopen(self) -> None:
        """A fresh connection in place of the broken one (`ConnectionLost` if not yet)."""
        self._pg.conn.close()
        try:
            self._pg = PgConnection(self._connect())
        except psycopg.OperationalError as e:
            raise ConnectionLost(f"cannot reconnect: {first_line(e)}") from e

    def _refuse_a_committed_retry(self, lost: ConnectionLost) -> None:
        """The connection broke during COMMIT: repeat the method only if the
        server says the transaction did not commit."""
        xid, self._committing = self._committing, None
        if xid is None:
            return  # it broke before COMMIT: the server rolled the transaction back
        try:
            self._reopen()
            row = self._pg.execute("SELECT pg_xact_status(?::xid8)", (xid,)).fetchone()
        except ConnectionLost:
            status = None
        else:
            status = None if row is None else row[0]
        if status != "aborted":
            raise StorageError(
                f"the connection to {self.location} broke while a write was"
                f" committing (transaction {status or 'outcome unknown'}); it is"
                f" not repeated ({lost})"
            ) from lost

    @classmethod
    def open_read_only(cls, url: str, *, connect_timeout: float = 30.0) -> PgStorage:
        """A session that cannot write (``default_transaction_read_only``), for
        `monitor serve`; nothing is created or migrated, and a database at
        another schema version is refused."""
        self = cls.__new__(cls)
        self.url = url
        self._connect_timeout = max(1, int(connect_timeout))
        self._delays = backoff_delays(0)  # a page that fails is simply reloaded
        self._reconnect_for = 0
        self._depth = 0
        try:
            conn = psycopg.connect(
                url,
                autocommit=True,
                row_factory=pg_row_factory,
                connect_timeout=max(1, int(connect_timeout)),
                application_name="monitor serve",
                options="-c default_transaction_read_only=on",
            )
        except psycopg.Error as e:
            raise StorageError(f"cannot open database {self.location}: {e}") from e
        self._pg = PgConnection(conn)
        try:
            with translate_errors():
                version = _schema_version(self._pg)
        except BaseException:
            conn.close()
            raise
        if version != VERSION:
            conn.close()
            raise StorageError(
                f"database {self.location} is at schema v{version}, this monitor"
                f" needs v{VERSION}: run `monitor init-db` once"
            )
        return self

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
                for statement in (*schema_statements(), *SEARCH_DDL):
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

    def get_change_token(self) -> str:
        """The server's current snapshot (``xmin:xmax:in-progress xids``): the
        end of any transaction that wrote (it has an xid) changes it (its xid
        leaves the in-progress list or xmax passes it), so two equal tokens
        mean nothing was committed in between.  (The WAL position would not
        do: a commit is logged before it becomes visible, so a page read in
        between would be cached as current.)"""
        return str(self._query("SELECT pg_current_snapshot()::text")[0][0])

    def close(self) -> None:
        self._pg.conn.close()

    def __enter__(self) -> PgStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reconnecting(method: _F) -> _F:
    """Wrap one public method in `PgStorage._call_reconnecting`."""

    @functools.wraps(method)
    def call(self: PgStorage, *args: Any, **kw: Any) -> Any:
        if self._depth or self._in_batch:  # another method retries, or a
            return method(self, *args, **kw)  # `write_batch` cannot be resumed
        self._depth += 1
        try:
            return self._call_reconnecting(method, *args, **kw)
        finally:
            self._depth -= 1

    return cast("_F", call)


def _wrap_public_methods(cls: type[PgStorage]) -> None:
    for name in dir(cls):
        value = inspect.getattr_static(cls, name)
        if name.startswith("_") or name in _NOT_RETRIED:
            continue
        if isinstance(value, types.FunctionType):
            setattr(cls, name, _reconnecting(value))


_wrap_public_methods(PgStorage)


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
    # (only then: the contract imports every stage's protocol, and so the stages)
    from ..contract import StorageType

    def _meets_contract(storage: PgStorage) -> StorageType:
        return storage
