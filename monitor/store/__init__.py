"""Storage: the one class that owns the database and all SQL (STYLE.md 11).

`Storage` is assembled from per-domain mixins (reader's ``_storage/``).  The
pipeline depends only on the public methods below, never on sqlite3, so a
PostgreSQL implementation can provide the same methods and slot in (see
docs/design.md "Storage").
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..exceptions import StorageError
from ._alerts import AlertsMixin
from ._articles import ArticlesMixin
from ._base import StorageBase
from ._deliveries import DeliveriesMixin
from ._digests import DigestsMixin
from ._feeds import FeedsMixin
from ._prune import PruneMixin
from ._runs import RunsMixin
from ._schema import VERSION, enable_wal, optimize, setup_schema
from ._search import SearchMixin
from ._stories import StoriesMixin
from ._topics import TopicsMixin
from ._translations import TranslationsMixin

__all__ = ["VERSION", "Storage", "StorageType"]


class Storage(
    FeedsMixin,
    ArticlesMixin,
    RunsMixin,
    TranslationsMixin,
    TopicsMixin,
    StoriesMixin,
    DigestsMixin,
    DeliveriesMixin,
    SearchMixin,
    AlertsMixin,
    PruneMixin,
    StorageBase,
):
    """SQLite storage.  Use as a context manager, or call `close()`."""

    _writable = True  # False for `open_read_only`

    def __init__(self, path: Path | str, *, timeout: float = 30.0) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._setup_connection(timeout)
            setup_schema(self._db)
            self._file_id = _file_id(self.path)
        except sqlite3.Error as e:
            raise StorageError(f"cannot open database {self.path}: {e}") from e
        except OSError as e:
            raise StorageError(
                f"cannot create database folder for {self.path}: {e}"
            ) from e

    def _setup_connection(self, timeout: float) -> None:
        db = self._db
        if self.path != ":memory:":
            mode = enable_wal(db, timeout=timeout)
            if mode.lower() != "wal":
                raise StorageError(f"cannot enable WAL on {self.path} (got {mode})")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA busy_timeout = 30000")

    @classmethod
    def open_read_only(
        cls, path: Path | str, *, timeout: float = 30.0, any_thread: bool = False
    ) -> Storage:
        """Open an existing database read-only (``mode=ro``): for `monitor serve`.

        Nothing is created or migrated; a database at another schema version is
        refused (run any writing command once to migrate it).  `any_thread`: the
        connection may be used from any thread (the caller serialises the calls).
        """
        self = cls.__new__(cls)
        self.path = str(path)
        self._writable = False
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        try:
            self._file_id = _file_id(self.path)
            self._db = sqlite3.connect(
                uri,
                uri=True,
                timeout=timeout,
                isolation_level=None,
                check_same_thread=not any_thread,
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout = 30000")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as e:
            raise StorageError(f"cannot open database {self.path}: {e}") from e
        if version != VERSION:
            self._db.close()
            raise StorageError(
                f"database {self.path} is at schema v{version}, this monitor needs"
                f" v{VERSION}: run `monitor init-db` once"
            )
        return self

    @property
    def location(self) -> str:
        """The database file (the contract's `StorageType.location`)."""
        return self.path

    def get_change_token(self) -> str:
        """The file's identity and this connection's ``PRAGMA data_version``:
        it changes whenever another connection commits (SQLite's own counter;
        a file replaced under the path gives a token that never repeats).
        Compare only tokens of the same `Storage` (the counter is per
        connection): ``monitor serve`` keeps one open for its page cache."""
        version = self._one("PRAGMA data_version")
        try:
            st = os.stat(self.path)
        except OSError:
            return f"gone:{time.monotonic_ns()}"
        if (st.st_dev, st.st_ino) != self._file_id:
            return f"replaced:{time.monotonic_ns()}"
        return f"{st.st_dev}:{st.st_ino}:{version[0] if version else '-'}"

    def integrity_check(self) -> str:
        """Return SQLite's ``PRAGMA integrity_check`` verdict ("ok" when healthy)."""
        return str(self._query("PRAGMA integrity_check")[0][0])

    def close(self) -> None:
        """Refresh stale planner statistics (issue #19), then close."""
        if self._writable:
            self._writable = False  # a second close only closes
            optimize(self._db)
        self._db.close()

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if TYPE_CHECKING:  # mypy checks that the SQLite backend meets the contract
    from .contract import StorageType

    def _meets_contract(storage: Storage) -> StorageType:
        return storage


def __getattr__(name: str) -> object:
    """`StorageType` on first use: the contract imports every stage's protocol
    (and so the stages), which commands that only open the store do not need."""
    if name == "StorageType":
        from .contract import StorageType

        return StorageType
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _file_id(path: str) -> tuple[int, int] | None:
    """(device, inode) of the database file, taken as it is opened."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino
